//! Matching the two logs of every query: the requester's outgoing entry
//! and the holder's incoming entry, by nonce (and requester), then by
//! borrower key, purpose, scope, discovery receipt id, decision and the
//! receipt's leaf. Pure: the logs are already downloaded and verified
//! ([`super::collect`]).

use std::collections::{HashMap, HashSet};

use credshare_proto::v1 as pb;

use super::collect::{LogView, Received, Sent};

/// What a finding says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum FindingKind {
    /// The requester holds a verified receipt for a query; the holder's log
    /// has no entry with its nonce.
    HolderDidNotLog,
    /// The holder logged a query from a requester whose log covers that
    /// time; the requester's log has no entry with its nonce.
    RequesterDidNotLog,
    /// Both logged the query, but the two entries say different things.
    EntriesDisagree,
    /// A checkpoint the holder signed (recorded by a requester) does not
    /// fit the holder's log as served now: a split view or a rewrite.
    HolderCheckpointConflict,
    /// A witness logged two conflicting checkpoints of a log.
    WitnessEvidence,
}

/// One finding, before and after its evidence is gathered.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub kind: FindingKind,
    pub requester: String,
    pub holder: String,
    pub nonce: Vec<u8>,
    /// The requester's entry, when there is one.
    pub sent: Option<Sent>,
    /// The holder's entry, when there is one.
    pub received: Option<Received>,
    pub detail: String,
    /// The signed evidence ([`super::evidence`]), by stable field name.
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

/// Counts of what matched and what could not be judged.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct MatchCounts {
    /// Queries found in both logs, saying the same.
    pub matched: u64,
    /// Sent without a receipt and not in the holder's log (the holder may
    /// never have seen them: timed out, unreachable).
    pub unanswered: u64,
    /// Queries whose other party's log was not part of the cross-check.
    pub other_log_not_audited: u64,
    /// Queries received at a time the requester's log does not cover.
    pub not_covered: u64,
    /// Entries without a nonce (or with a repeated one).
    pub unmatchable: u64,
}

/// Matches every log's entries against the others'.
pub(crate) fn match_logs(views: &[LogView], settle_ms: i64) -> (Vec<Finding>, MatchCounts) {
    let by_institution: HashMap<&str, &LogView> =
        views.iter().map(|v| (v.institution.as_str(), v)).collect();
    let mut counts = MatchCounts {
        unmatchable: views.iter().map(|v| v.unmatchable).sum(),
        ..MatchCounts::default()
    };
    let mut findings = Vec::new();
    // (holder, requester, nonce) of every holder entry a requester matched.
    let mut seen: HashSet<(&str, &str, &[u8])> = HashSet::new();
    for sent in views.iter().flat_map(|v| &v.sent) {
        let Some(holder) = by_institution.get(sent.holder.as_str()) else {
            counts.other_log_not_audited += 1;
            continue;
        };
        let key = (sent.requester.clone(), sent.nonce.clone());
        match holder.received.get(&key) {
            Some(received) => {
                seen.insert((&received.holder, &received.requester, &received.nonce));
                match disagreement(sent, received) {
                    Some(detail) => findings.push(both(sent, received, detail)),
                    None => counts.matched += 1,
                }
            }
            None if sent.receipt.is_some() => findings.push(holder_did_not_log(sent)),
            None => counts.unanswered += 1,
        }
    }
    for received in views.iter().flat_map(|v| v.received.values()) {
        if seen.contains(&(
            received.holder.as_str(),
            received.requester.as_str(),
            received.nonce.as_slice(),
        )) {
            continue;
        }
        match by_institution.get(received.requester.as_str()) {
            None => counts.other_log_not_audited += 1,
            Some(requester) if !requester.covers(received.time_ms, settle_ms) => {
                counts.not_covered += 1;
            }
            Some(_) => findings.push(requester_did_not_log(received)),
        }
    }
    findings.sort_by(|a, b| {
        (a.kind, &a.requester, &a.holder, &a.nonce).cmp(&(
            b.kind,
            &b.requester,
            &b.holder,
            &b.nonce,
        ))
    });
    (findings, counts)
}

/// What differs between the two entries of one query, if anything.
fn disagreement(sent: &Sent, received: &Received) -> Option<String> {
    let mut differs = Vec::new();
    if sent.borrower != received.borrower {
        differs.push("borrower key".to_string());
    }
    if sent.purpose != received.purpose {
        differs.push("purpose".into());
    }
    if sent.scope != received.scope {
        differs.push("scope".into());
    }
    if sent.discovery_receipt_id != received.discovery_receipt_id {
        let shown = |id: &str| {
            if id.is_empty() {
                "none".to_owned()
            } else {
                id.to_owned()
            }
        };
        differs.push(format!(
            "discovery receipt (requester logged {}, holder {})",
            shown(&sent.discovery_receipt_id),
            shown(&received.discovery_receipt_id)
        ));
    }
    let holder_decision = if received.decision == pb::Decision::Answered as i32 {
        "ANSWERED"
    } else {
        "DENIED"
    };
    let outcome_decision = match sent.outcome.as_str() {
        "ANSWERED" => Some("ANSWERED"),
        o if o.starts_with("DENIED") => Some("DENIED"),
        _ => None,
    };
    if outcome_decision.is_some_and(|d| d != holder_decision) {
        differs.push(format!(
            "decision (requester logged {}, holder {holder_decision})",
            sent.outcome
        ));
    }
    if let Some(receipt) = &sent.receipt
        && receipt.leaf != received.index
    {
        differs.push(format!(
            "leaf (the receipt names leaf {}, the holder's entry is at {})",
            receipt.leaf, received.index
        ));
    }
    (!differs.is_empty()).then(|| format!("the entries differ in {}", differs.join(", ")))
}

fn both(sent: &Sent, received: &Received, detail: String) -> Finding {
    Finding {
        kind: FindingKind::EntriesDisagree,
        requester: sent.requester.clone(),
        holder: sent.holder.clone(),
        nonce: sent.nonce.clone(),
        sent: Some(sent.clone()),
        received: Some(received.clone()),
        detail,
        evidence: serde_json::Map::new(),
    }
}

fn holder_did_not_log(sent: &Sent) -> Finding {
    let leaf = sent.receipt.as_ref().map_or(0, |r| r.leaf);
    Finding {
        kind: FindingKind::HolderDidNotLog,
        requester: sent.requester.clone(),
        holder: sent.holder.clone(),
        nonce: sent.nonce.clone(),
        sent: Some(sent.clone()),
        received: None,
        detail: format!(
            "{} holds {}'s receipt ({}) naming leaf {leaf}; {}'s log has no entry with this nonce",
            sent.requester, sent.holder, sent.outcome, sent.holder
        ),
        evidence: serde_json::Map::new(),
    }
}

fn requester_did_not_log(received: &Received) -> Finding {
    let decision = if received.decision == pb::Decision::Answered as i32 {
        "answered"
    } else {
        "denied"
    };
    Finding {
        kind: FindingKind::RequesterDidNotLog,
        requester: received.requester.clone(),
        holder: received.holder.clone(),
        nonce: received.nonce.clone(),
        sent: None,
        received: Some(received.clone()),
        detail: format!(
            "{} {decision} {}'s query at its leaf {}; {}'s log, which covers that time, has no entry with this nonce",
            received.holder, received.requester, received.index, received.requester
        ),
        evidence: serde_json::Map::new(),
    }
}
