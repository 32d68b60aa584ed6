//! What one log entry says, for people (a one-line summary) and machines
//! (its JSON form). Borrower keys appear only hashed, and even then as a
//! short hex prefix.

use credshare_node::domain::borrower::KeyGeneration;
use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;
use serde_json::json;

pub(crate) use super::view::{EntryView, by_officer, short_key};

/// The first 16 characters of a hex key id.
fn short_hex(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// What an entry says, for people and machines.
pub(crate) fn describe_entry(entry: &pb::LogEntry) -> EntryView {
    match &entry.kind {
        Some(Kind::PeerQuery(q)) => peer_query(q),
        Some(Kind::OutgoingQuery(q)) => outgoing_query(q),
        Some(Kind::Consent(c)) => consent(c),
        Some(Kind::RecordBatch(b)) => record_batch(b),
        Some(Kind::OversightFlag(f)) => oversight_flag(f.flag.as_ref()),
        Some(Kind::Annotation(a)) => annotation(a),
        Some(Kind::BorrowerReport(r)) => borrower_report(r),
        Some(Kind::RetentionSweep(sweep)) => retention_sweep(sweep),
        Some(Kind::Epoch(e)) => epoch(e),
        Some(Kind::RateLimited(r)) => rate_limited(r),
        Some(Kind::WitnessEvidence(w)) => witness_evidence(w),
        Some(Kind::DiscoveryEvaluation(e)) => super::discovery::evaluation(e),
        Some(Kind::DiscoveryLookup(l)) => super::discovery::lookup(l),
        Some(Kind::DiscoveryDirectory(d)) => super::discovery::directory(d),
        Some(Kind::SignerKey(k)) => signer_key(k),
        Some(Kind::Admin(a)) => admin(a),
        None => EntryView {
            kind: "empty",
            summary: "entry of an unknown kind".into(),
            json: json!({}),
        },
    }
}

fn record_batch(b: &pb::RecordBatchEntry) -> EntryView {
    EntryView {
        kind: "record-batch",
        summary: format!(
            "{}{} stored {} unchanged {} digest {}",
            b.actor,
            by_officer(&b.officer),
            b.stored,
            b.unchanged,
            short_key(&b.records_digest)
        ),
        json: json!({
            "actor": b.actor,
            "officer": b.officer,
            "stored": b.stored,
            "unchanged": b.unchanged,
            "records_digest": short_key(&b.records_digest),
        }),
    }
}

fn borrower_report(r: &pb::BorrowerReportEntry) -> EntryView {
    EntryView {
        kind: "borrower-report",
        summary: format!(
            "report of borrower {} as of {}: {} records, {} queries{}",
            short_key(&r.borrower_key),
            r.as_of_date,
            r.records,
            r.queries,
            by_officer(&r.officer)
        ),
        json: json!({
            "borrower": short_key(&r.borrower_key),
            "as_of_date": r.as_of_date,
            "records": r.records,
            "queries": r.queries,
            "officer": r.officer,
        }),
    }
}

fn retention_sweep(s: &pb::RetentionSweepEntry) -> EntryView {
    EntryView {
        kind: "retention-sweep",
        summary: format!(
            "as of {} expired {} held {}{}{}",
            s.as_of_date,
            s.expired_versions,
            s.held_versions,
            if s.scheduled { " (scheduled)" } else { "" },
            by_officer(&s.officer)
        ),
        json: json!({
            "as_of_date": s.as_of_date,
            "expired_versions": s.expired_versions,
            "held_versions": s.held_versions,
            "removed_sha256": s.removed_sha256.iter().map(hex::encode).collect::<Vec<_>>(),
            "scheduled": s.scheduled,
            "officer": s.officer,
        }),
    }
}

fn annotation(a: &pb::AnnotationEntry) -> EntryView {
    let kind = code_label::<pb::AnnotationType>(a.annotation_type);
    let status = code_label::<pb::DisputeStatus>(a.dispute_status);
    EntryView {
        kind: "annotation",
        summary: format!(
            "{kind} {} record {} borrower {} dispute {} {status}{}",
            a.annotation_id,
            a.record_id,
            short_key(&a.borrower_key),
            a.dispute_id,
            by_officer(&a.officer)
        ),
        json: json!({
            "annotation_id": a.annotation_id,
            "type": kind,
            "record_id": a.record_id,
            "borrower": short_key(&a.borrower_key),
            "dispute_id": a.dispute_id,
            "dispute_status": status,
            "officer": a.officer,
            "envelope_sha256": short_key(&a.envelope_sha256),
        }),
    }
}

fn oversight_flag(flag: Option<&pb::OversightFlag>) -> EntryView {
    let f = flag.cloned().unwrap_or_default();
    let pattern = code_label::<pb::OversightPattern>(f.pattern);
    let purpose = purpose_label(f.purpose);
    EntryView {
        kind: "oversight-flag",
        summary: format!(
            "{pattern} by {} purpose {purpose}: {} in {} days (threshold {})",
            f.requester_institution, f.count, f.window_days, f.threshold
        ),
        json: json!({
            "requester": f.requester_institution,
            "pattern": pattern,
            "purpose": purpose,
            "count": f.count,
            "threshold": f.threshold,
            "window_days": f.window_days,
        }),
    }
}

fn peer_query(q: &pb::PeerQueryEntry) -> EntryView {
    let decision = code_label::<pb::Decision>(q.decision);
    let purpose = purpose_label(q.purpose);
    let scope = code_label::<pb::Scope>(q.scope);
    let reason = code_label::<pb::DenialReason>(q.denial_reason);
    let mut summary = format!(
        "from {}{} {decision} borrower {} purpose {purpose} scope {scope} consent {}",
        q.requester_institution,
        by_officer(&q.requester_officer),
        short_key(&q.borrower_key),
        q.consent_id
    );
    if q.decision == pb::Decision::Denied as i32 {
        summary.push_str(&format!(" reason {reason}"));
    } else {
        summary.push_str(&format!(" disclosed {}", q.disclosed_records));
    }
    summary.push_str(&discovery_note(&q.discovery_receipt_id));
    EntryView {
        kind: "peer-query",
        summary,
        json: json!({
            "requester": q.requester_institution,
            "requester_officer": q.requester_officer,
            "decision": decision,
            "denial_reason": reason,
            "borrower": short_key(&q.borrower_key),
            "purpose": purpose,
            "scope": scope,
            "consent_id": q.consent_id,
            "disclosed_records": q.disclosed_records,
            "relationship_sha256": hex::encode(&q.relationship_sha256),
            "response_sha256": short_key(&q.response_sha256),
            "request_nonce": hex::encode(&q.request_nonce),
            "discovery_receipt_id": q.discovery_receipt_id,
            "key_generation": KeyGeneration::from_wire(q.key_generation).get(),
        }),
    }
}

fn outgoing_query(q: &pb::OutgoingQueryEntry) -> EntryView {
    let purpose = purpose_label(q.purpose);
    let scope = code_label::<pb::Scope>(q.scope);
    let mut summary = format!(
        "to {} {}{} borrower {} purpose {purpose} scope {scope} consent {}",
        q.peer_institution,
        q.outcome,
        by_officer(&q.officer),
        short_key(&q.borrower_key),
        q.consent_id
    );
    match q.peer_leaf_index {
        Some(leaf) => summary.push_str(&format!(
            " receipt: leaf {leaf} of {} root {} (signed checkpoint {})",
            q.peer_tree_size,
            short_key(&q.peer_root_hash),
            if q.peer_checkpoint.is_empty() {
                "not recorded"
            } else {
                "recorded"
            }
        )),
        None => summary.push_str(" no receipt"),
    }
    if !q.request_nonce.is_empty() {
        summary.push_str(&format!(" nonce {}", hex::encode(&q.request_nonce)));
    }
    summary.push_str(&discovery_note(&q.discovery_receipt_id));
    EntryView {
        kind: "outgoing-query",
        summary,
        json: json!({
            "peer": q.peer_institution,
            "outcome": q.outcome,
            "officer": q.officer,
            "borrower": short_key(&q.borrower_key),
            "purpose": purpose,
            "scope": scope,
            "consent_id": q.consent_id,
            "receipt": q.peer_leaf_index.is_some(),
            "peer_leaf_index": q.peer_leaf_index,
            "peer_tree_size": q.peer_tree_size,
            "peer_root_hash": short_key(&q.peer_root_hash),
            "peer_checkpoint": q.peer_checkpoint,
            "peer_signer_key_id": q.peer_signer_key_id,
            "request_nonce": hex::encode(&q.request_nonce),
            "discovery_receipt_id": q.discovery_receipt_id,
            "key_generation": KeyGeneration::from_wire(q.key_generation).get(),
        }),
    }
}

/// " discovery receipt <id>" for a targeted query; empty for a fan-out.
fn discovery_note(receipt_id: &str) -> String {
    if receipt_id.is_empty() {
        String::new()
    } else {
        format!(" discovery receipt {receipt_id}")
    }
}

fn consent(c: &pb::ConsentEntry) -> EntryView {
    let action = code_label::<pb::ConsentAction>(c.action);
    let mut summary = format!(
        "{action} consent {} borrower {} grantee {}",
        c.consent_id,
        short_key(&c.borrower_key),
        c.grantee_institution
    );
    if !c.from_institution.is_empty() {
        summary.push_str(&format!(" from {}", c.from_institution));
    }
    summary.push_str(&by_officer(&c.officer));
    EntryView {
        kind: "consent",
        summary,
        json: json!({
            "action": action,
            "consent_id": c.consent_id,
            "borrower": short_key(&c.borrower_key),
            "grantee": c.grantee_institution,
            "from": c.from_institution,
            "officer": c.officer,
            "envelope_sha256": short_key(&c.envelope_sha256),
            "key_generation": KeyGeneration::from_wire(c.key_generation).get(),
        }),
    }
}

fn epoch(e: &pb::LogEpochEntry) -> EntryView {
    EntryView {
        kind: "epoch",
        summary: format!("EPOCH {} begins: {}", e.epoch, e.statement),
        json: json!({
            "epoch": e.epoch,
            "restored_size": e.restored_size,
            "backup_taken_ms": e.backup_taken_ms,
            "statement": e.statement,
        }),
    }
}

fn rate_limited(r: &pb::RateLimitedEntry) -> EntryView {
    EntryView {
        kind: "rate-limited",
        summary: format!(
            "{} refused {} queries {} revocations over {} s",
            r.institution,
            r.refused_queries,
            r.refused_revocations,
            (r.window_end_ms - r.window_start_ms).max(0) / 1000
        ),
        json: json!({
            "institution": r.institution,
            "refused_queries": r.refused_queries,
            "refused_revocations": r.refused_revocations,
            "window_start_ms": r.window_start_ms,
            "window_end_ms": r.window_end_ms,
        }),
    }
}

fn signer_key(k: &pb::SignerKeyEntry) -> EntryView {
    EntryView {
        kind: "signer-key",
        summary: if k.previous_key_id.is_empty() {
            format!("signer key {} in use", short_hex(&k.key_id))
        } else {
            format!(
                "signer key {} replaces {}",
                short_hex(&k.key_id),
                short_hex(&k.previous_key_id)
            )
        },
        json: json!({
            "key_id": k.key_id,
            "previous_key_id": k.previous_key_id,
            "note_key_id": hex::encode(&k.note_key_id),
        }),
    }
}

fn admin(a: &pb::AdminMutationEntry) -> EntryView {
    EntryView {
        kind: "admin",
        summary: format!(
            "{}{} {} borrower {} {}",
            a.actor,
            by_officer(&a.officer),
            a.action,
            short_key(&a.borrower_key),
            a.detail
        ),
        json: json!({
            "actor": a.actor,
            "officer": a.officer,
            "action": a.action,
            "borrower": short_key(&a.borrower_key),
            "detail": a.detail,
        }),
    }
}

fn witness_evidence(w: &pb::WitnessEvidenceEntry) -> EntryView {
    EntryView {
        kind: "witness-evidence",
        summary: format!(
            "witnessed {} ({}): conflicting checkpoint offered: {}",
            w.institution, w.origin, w.conflict
        ),
        json: json!({
            "institution": w.institution,
            "origin": w.origin,
            "conflict": w.conflict,
            "held_checkpoint": w.held_checkpoint,
            "offered_checkpoint": w.offered_checkpoint,
        }),
    }
}
