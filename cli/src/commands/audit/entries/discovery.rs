//! What a discovery service's log entries say: evaluations, lookups and
//! directory changes. They hold counts and hashes, never an element or a
//! pseudonym.

use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use serde_json::json;

use super::view::{EntryView, by_officer, short_key};

fn refused(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" REFUSED {reason}")
    }
}

pub(super) fn evaluation(e: &pb::DiscoveryEvaluationEntry) -> EntryView {
    let what = if e.enrolment {
        "enrolment".to_owned()
    } else {
        format!(
            "{} consent {}",
            purpose_label(e.purpose),
            short_key(&e.consent_sha256)
        )
    };
    EntryView {
        kind: "discovery-evaluation",
        summary: format!(
            "{}{} evaluated {} for {what}{}",
            e.institution,
            by_officer(&e.officer),
            e.count,
            refused(&e.refused)
        ),
        json: json!({
            "institution": e.institution,
            "officer": e.officer,
            "enrolment": e.enrolment,
            "purpose": purpose_label(e.purpose),
            "consent_sha256": hex::encode(&e.consent_sha256),
            "count": e.count,
            "receipt_id": e.receipt_id,
            "refused": e.refused,
        }),
    }
}

pub(super) fn lookup(l: &pb::DiscoveryLookupEntry) -> EntryView {
    EntryView {
        kind: "discovery-lookup",
        summary: format!(
            "{}{} looked up holders with receipt {}: {} holders{}",
            l.institution,
            by_officer(&l.officer),
            l.receipt_id.get(..12).unwrap_or(&l.receipt_id),
            l.holders,
            refused(&l.refused)
        ),
        json: json!({
            "institution": l.institution,
            "officer": l.officer,
            "receipt_id": l.receipt_id,
            "consent_sha256": hex::encode(&l.consent_sha256),
            "holders": l.holders,
            "refused": l.refused,
        }),
    }
}

pub(super) fn directory(d: &pb::DiscoveryDirectoryEntry) -> EntryView {
    let flag = if d.over_portfolio {
        " OVER DECLARED PORTFOLIO"
    } else {
        ""
    };
    EntryView {
        kind: "discovery-directory",
        summary: format!(
            "{}{} registered {} withdrew {}: holds {} of declared {}{flag}",
            d.institution,
            by_officer(&d.officer),
            d.registered,
            d.withdrawn,
            d.held,
            d.declared_portfolio
        ),
        json: json!({
            "institution": d.institution,
            "officer": d.officer,
            "registered": d.registered,
            "withdrawn": d.withdrawn,
            "held": d.held,
            "declared_portfolio": d.declared_portfolio,
            "over_portfolio": d.over_portfolio,
        }),
    }
}
