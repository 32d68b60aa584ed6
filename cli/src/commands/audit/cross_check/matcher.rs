//! Matching the two logs of every query: the requester's outgoing entry
//! and the holder's incoming entry, by nonce (and requester), then by
//! borrower key, purpose, scope, discovery receipt id, decision and the
//! receipt's leaf. Pure: the logs are already downloaded and verified
//! ([`super::collect`]).

use std::collections::{HashMap, HashSet};

use credshare_proto::v1 as pb;

use super::collect::{LogView, LoggedQuery, Received, Sent};

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
        let Some(holder) = by_institution.get(sent.query.holder.as_str()) else {
            counts.other_log_not_audited += 1;
            continue;
        };
        let key = (sent.query.requester.clone(), sent.query.nonce.clone());
        match holder.received.get(&key) {
            Some(received) => {
                let q = &received.query;
                seen.insert((&q.holder, &q.requester, &q.nonce));
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
        let q = &received.query;
        if seen.contains(&(q.holder.as_str(), q.requester.as_str(), q.nonce.as_slice())) {
            continue;
        }
        match by_institution.get(q.requester.as_str()) {
            None => counts.other_log_not_audited += 1,
            Some(requester) if !requester.covers(q.time_ms, settle_ms) => {
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
    // The requester's and the holder's account of the query.
    let (r, h) = (&sent.query, &received.query);
    let mut differs = Vec::new();
    if r.borrower != h.borrower {
        differs.push("borrower key".to_string());
    }
    if r.purpose != h.purpose {
        differs.push("purpose".into());
    }
    if r.scope != h.scope {
        differs.push("scope".into());
    }
    if r.discovery_receipt_id != h.discovery_receipt_id {
        let shown = |id: &str| {
            if id.is_empty() {
                "none".to_owned()
            } else {
                id.to_owned()
            }
        };
        differs.push(format!(
            "discovery receipt (requester logged {}, holder {})",
            shown(&r.discovery_receipt_id),
            shown(&h.discovery_receipt_id)
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
        && receipt.leaf != h.index
    {
        differs.push(format!(
            "leaf (the receipt names leaf {}, the holder's entry is at {})",
            receipt.leaf, h.index
        ));
    }
    (!differs.is_empty()).then(|| format!("the entries differ in {}", differs.join(", ")))
}

fn both(sent: &Sent, received: &Received, detail: String) -> Finding {
    let kind = FindingKind::EntriesDisagree;
    Finding::of_query(kind, &sent.query, Some(sent), Some(received), detail)
}

fn holder_did_not_log(sent: &Sent) -> Finding {
    let leaf = sent.receipt.as_ref().map_or(0, |r| r.leaf);
    let q = &sent.query;
    let detail = format!(
        "{} holds {}'s receipt ({}) naming leaf {leaf}; {}'s log has no entry with this nonce",
        q.requester, q.holder, sent.outcome, q.holder
    );
    Finding::of_query(FindingKind::HolderDidNotLog, q, Some(sent), None, detail)
}

fn requester_did_not_log(received: &Received) -> Finding {
    let decision = if received.decision == pb::Decision::Answered as i32 {
        "answered"
    } else {
        "denied"
    };
    let q = &received.query;
    let detail = format!(
        "{} {decision} {}'s query at its leaf {}; {}'s log, which covers that time, has no entry with this nonce",
        q.holder, q.requester, q.index, q.requester
    );
    let kind = FindingKind::RequesterDidNotLog;
    Finding::of_query(kind, q, None, Some(received), detail)
}

impl Finding {
    /// A finding about one query, named by its parties and nonce, with the
    /// entries of it that were found; no evidence gathered yet.
    fn of_query(
        kind: FindingKind,
        query: &LoggedQuery,
        sent: Option<&Sent>,
        received: Option<&Received>,
        detail: String,
    ) -> Self {
        Finding {
            kind,
            requester: query.requester.clone(),
            holder: query.holder.clone(),
            nonce: query.nonce.clone(),
            sent: sent.cloned(),
            received: received.cloned(),
            detail,
            evidence: serde_json::Map::new(),
        }
    }
}
