//! One node's log for the cross-check: downloaded page by page, its root
//! recomputed and checked against the node's signed checkpoint (as `audit
//! verify` does, but streaming: O(log n) hashes held, not every leaf), and
//! reduced while it streams to what matching needs — the queries it sent
//! and received, keyed by nonce, the holder checkpoints it recorded, its
//! witness evidence entries and its signer certificates; and for `audit
//! report --discovery`, the receipt ids of targeted queries received and a
//! discovery service's lookups.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, bail};
use credshare_node::audit::{Checkpoint, Hash, RightEdge};
use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use crate::commands::audit::base64_root;
use crate::commands::audit::session::{AuditSession, FetchedCheckpoint};
use crate::commands::audit::verify::{check_signing_key, for_each_log_entry, tally::LogTally};
use crate::output::Output;

/// What either party logged of one query: who asked whom about which
/// borrower and why, and where the entry stands in the log it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedQuery {
    pub requester: String,
    pub holder: String,
    /// The entry's leaf index in the logging party's log.
    pub index: u64,
    pub time_ms: i64,
    pub borrower: Vec<u8>,
    pub purpose: i32,
    pub scope: i32,
    pub nonce: Vec<u8>,
    /// Targeted assessment: the discovery receipt id (empty: fan-out).
    pub discovery_receipt_id: String,
}

/// A query as its requester logged it (`OutgoingQueryEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub query: LoggedQuery,
    pub outcome: String,
    /// The holder's receipt as recorded: the leaf it named, and the signed
    /// checkpoint (size, root) it was proved in, when the note parses.
    pub receipt: Option<RecordedReceipt>,
}

/// The receipt part of an outgoing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedReceipt {
    pub leaf: u64,
    pub checkpoint: Option<(u64, Hash)>,
}

/// A query as its holder logged it (`PeerQueryEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub query: LoggedQuery,
    pub decision: i32,
}

/// A holder checkpoint that a requester recorded from a receipt (one per
/// distinct holder, size and root; the first entry that recorded it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedCheckpoint {
    pub holder: String,
    pub checkpoint: Checkpoint,
    pub note: String,
    pub signer_key_id: String,
    pub recorded_by: String,
    pub recorded_at: u64,
}

/// What matching needs of one node's verified log.
pub(crate) struct LogView {
    pub node: String,
    pub institution: String,
    /// The newest checkpoint, its signature verified from the CA, whose
    /// root the downloaded entries were checked against.
    pub newest: FetchedCheckpoint,
    pub first_time_ms: Option<i64>,
    pub last_time_ms: Option<i64>,
    /// The newest outgoing entry without a nonce (logged before nonces were
    /// recorded): queries received before it cannot be matched.
    pub legacy_until_ms: Option<i64>,
    /// Declared losses (a restore from a backup): from the backup's time
    /// to the restore's, outgoing entries may be gone.
    pub lost_windows: Vec<(i64, i64)>,
    pub sent: Vec<Sent>,
    /// Queries received, by (requester, nonce).
    pub received: HashMap<(String, Vec<u8>), Received>,
    /// Entries that cannot be matched: no nonce, or a nonce seen before.
    pub unmatchable: u64,
    pub recorded: HashMap<(String, u64, Hash), RecordedCheckpoint>,
    pub witness: Vec<(u64, pb::WitnessEvidenceEntry)>,
    /// Signer certificates (DER) by key id, from `SignerKeyEntry`s.
    pub signer_certificates: HashMap<String, Vec<u8>>,
    pub tally: LogTally,
    /// (requester, discovery receipt id) of every targeted query received,
    /// nonce or not (`audit report --discovery`).
    pub receipts_received: HashSet<(String, String)>,
    /// A discovery service's lookups: (leaf index, time, entry).
    pub lookups: Vec<(u64, i64, pb::DiscoveryLookupEntry)>,
}

/// Position of `institution`'s log among the audited ones.
pub(crate) fn position(logs: &[LogView], institution: &str) -> Option<usize> {
    logs.iter().position(|l| l.institution == institution)
}

/// Downloads and verifies the whole log of the session's node.
pub(crate) async fn download(session: &mut AuditSession, out: &Output) -> anyhow::Result<LogView> {
    let newest = session.checkpoint(0).await?;
    let size = newest.signed.checkpoint.size;
    let mut view = LogView::new(session.node(), newest);
    if !out.is_json() {
        eprintln!(
            "downloading the log of {} at {} ({size} entries)",
            view.institution, view.node
        );
    }
    let mut edge = RightEdge::empty();
    for_each_log_entry(session, size, out, |index, entry, leaf| {
        edge.append(leaf);
        view.take(index, entry);
    })
    .await
    .with_context(|| format!("downloading the log of {}", view.institution))?;
    let signed = &view.newest.signed.checkpoint;
    if edge.root() != signed.root {
        bail!(
            "the log of {} at {} does not hash to its signed checkpoint of size {} (root {}): run `credshare audit verify` against it to name the entry that differs",
            view.institution,
            view.node,
            signed.size,
            base64_root(&signed.root)
        );
    }
    check_signing_key(&view.newest, &view.tally)
        .with_context(|| format!("the log of {}", view.institution))?;
    Ok(view)
}

/// The [`LoggedQuery`] of entry `index` at `time_ms`, a `PeerQueryEntry`
/// or an `OutgoingQueryEntry` `q`: both carry the borrower key, purpose,
/// scope, nonce and discovery receipt id under the same names (moved out of
/// `q`).
macro_rules! logged_query {
    ($q:ident, $requester:expr, $holder:expr, $index:expr, $time_ms:expr) => {
        LoggedQuery {
            requester: $requester,
            holder: $holder,
            index: $index,
            time_ms: $time_ms,
            borrower: $q.borrower_key,
            purpose: $q.purpose,
            scope: $q.scope,
            nonce: $q.request_nonce,
            discovery_receipt_id: $q.discovery_receipt_id,
        }
    };
}

impl LogView {
    pub(crate) fn new(node: &str, newest: FetchedCheckpoint) -> Self {
        let institution = newest.signed.signer.to_string();
        let mut signer_certificates = HashMap::new();
        signer_certificates.insert(
            newest.signed.signer_key_id.clone(),
            newest.signer_certificate.clone(),
        );
        LogView {
            node: node.to_owned(),
            institution,
            newest,
            first_time_ms: None,
            last_time_ms: None,
            legacy_until_ms: None,
            lost_windows: Vec::new(),
            sent: Vec::new(),
            received: HashMap::new(),
            unmatchable: 0,
            recorded: HashMap::new(),
            witness: Vec::new(),
            signer_certificates,
            tally: LogTally::default(),
            receipts_received: HashSet::new(),
            lookups: Vec::new(),
        }
    }

    /// Takes what matching needs from entry `index`.
    pub(crate) fn take(&mut self, index: u64, entry: pb::LogEntry) {
        self.tally.count(index, &entry);
        let time_ms = entry.time_ms;
        self.first_time_ms.get_or_insert(time_ms);
        self.last_time_ms = Some(time_ms);
        match entry.kind {
            Some(Kind::PeerQuery(q)) => {
                if !q.discovery_receipt_id.is_empty() {
                    let key = (
                        q.requester_institution.clone(),
                        q.discovery_receipt_id.clone(),
                    );
                    self.receipts_received.insert(key);
                }
                self.take_received(index, time_ms, q)
            }
            Some(Kind::DiscoveryLookup(l)) => self.lookups.push((index, time_ms, l)),
            Some(Kind::OutgoingQuery(q)) => self.take_sent(index, time_ms, q),
            Some(Kind::WitnessEvidence(w)) => self.witness.push((index, w)),
            Some(Kind::SignerKey(k)) => {
                self.signer_certificates.insert(k.key_id, k.certificate);
            }
            Some(Kind::Epoch(e)) => self.lost_windows.push((e.backup_taken_ms, time_ms)),
            _ => {}
        }
    }

    fn take_received(&mut self, index: u64, time_ms: i64, q: pb::PeerQueryEntry) {
        let key = (q.requester_institution.clone(), q.request_nonce.clone());
        if q.request_nonce.is_empty() || self.received.contains_key(&key) {
            self.unmatchable += 1;
            return;
        }
        let received = Received {
            query: logged_query!(
                q,
                q.requester_institution,
                self.institution.clone(),
                index,
                time_ms
            ),
            decision: q.decision,
        };
        self.received.insert(key, received);
    }

    fn take_sent(&mut self, index: u64, time_ms: i64, q: pb::OutgoingQueryEntry) {
        if q.request_nonce.is_empty() {
            self.unmatchable += 1;
            self.legacy_until_ms = Some(time_ms);
            return;
        }
        let receipt = q.peer_leaf_index.map(|leaf| RecordedReceipt {
            leaf,
            checkpoint: self.record_checkpoint(index, &q),
        });
        self.sent.push(Sent {
            query: logged_query!(
                q,
                self.institution.clone(),
                q.peer_institution,
                index,
                time_ms
            ),
            outcome: q.outcome,
            receipt,
        });
    }

    /// Keeps the holder checkpoint an outgoing entry recorded (once per
    /// distinct checkpoint); its (size, root), or `None` when there is no
    /// note that parses.
    fn record_checkpoint(&mut self, index: u64, q: &pb::OutgoingQueryEntry) -> Option<(u64, Hash)> {
        let checkpoint = Checkpoint::parse_unverified(&q.peer_checkpoint).ok()?;
        let key = (q.peer_institution.clone(), checkpoint.size, checkpoint.root);
        let at = (checkpoint.size, checkpoint.root);
        self.recorded
            .entry(key)
            .or_insert_with(|| RecordedCheckpoint {
                holder: q.peer_institution.clone(),
                checkpoint,
                note: q.peer_checkpoint.clone(),
                signer_key_id: q.peer_signer_key_id.clone(),
                recorded_by: self.institution.clone(),
                recorded_at: index,
            });
        Some(at)
    }

    /// Whether this log, as a requester's, must hold an outgoing entry for
    /// a query its holder logged at `time_ms`: the log covers that time
    /// (from its first entry to its newest less `settle_ms`, the time a
    /// requester may take to log a query it sent), after its entries
    /// without nonces, outside any declared loss.
    pub(crate) fn covers(&self, time_ms: i64, settle_ms: i64) -> bool {
        let (Some(first), Some(last)) = (self.first_time_ms, self.last_time_ms) else {
            return false;
        };
        let newest = self
            .newest
            .signed
            .checkpoint
            .timestamp_ms
            .map_or(last, |t| t.max(last));
        time_ms >= first
            && time_ms <= newest.saturating_sub(settle_ms)
            && self.legacy_until_ms.is_none_or(|l| time_ms > l)
            && !self
                .lost_windows
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&time_ms))
    }
}
