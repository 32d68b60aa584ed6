//! The retention sweep (docs/domain.md "Retention"): deletes the bodies of
//! negative record versions 5 years after the bad behaviour ended
//! ([`crate::domain::retention`]); keys and content hashes stay, so the log
//! still verifies and re-sending a version does not restore it. Borrowers
//! under a legal hold (`retention.legal_holds`) are frozen: stored, never
//! swept, never served. Runs on demand, at start-up and daily; a scheduled
//! run logs only when something expired.

use std::collections::HashMap;
use std::time::Duration;

use credshare_proto::v1 as pb;
use prost::Message;
use time::Date;

use super::{Actor, Node};
use crate::blocking;
use crate::domain::dates::{iso_date, now_ms};
use crate::domain::{BorrowerKey, retention};
use crate::error::NodeError;
use crate::signing::{CREDIT_SUMMARY_TYPE, VISIT_SUMMARY_TYPE};
use crate::storage::{
    CommitRequest, LogAppend, RecordExpiry, RecordHistory, RecordKind, StorageError,
};

/// Content hashes listed per log entry, at most.
const MAX_HASHES_PER_ENTRY: usize = 1000;
/// How often the scheduled sweep runs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// What a sweep found.
#[derive(Debug, Default)]
struct SweepPlan {
    expiries: Vec<RecordExpiry>,
    records: u64,
    held: u64,
}

impl Node {
    /// Sweeps (or, `dry_run`, plans) as of `as_of` (default today).
    pub async fn retention_sweep(
        &self,
        as_of: Option<Date>,
        dry_run: bool,
        actor: &Actor,
        scheduled: bool,
    ) -> Result<pb::RetentionSweepResponse, NodeError> {
        let as_of = as_of.unwrap_or_else(|| self.config.business_time_zone.today());
        let store = self.store.clone();
        let holds = self.legal_holds();
        let started = std::time::Instant::now();
        let plan = blocking::run(move || -> Result<SweepPlan, StorageError> {
            let mut plan = SweepPlan::default();
            store.for_each_borrower_history(|histories| {
                plan.add_borrower(histories, &holds, as_of);
            })?;
            Ok(plan)
        })
        .await?;
        tracing::info!(
            expired = plan.expiries.len(),
            held = plan.held,
            seconds = started.elapsed().as_secs_f64(),
            scheduled,
            dry_run,
            "retention sweep read every record"
        );
        let mut response = pb::RetentionSweepResponse {
            expired_versions: plan.expiries.len() as u64,
            expired_records: plan.records,
            held_versions: plan.held,
            removed_sha256: plan
                .expiries
                .iter()
                .map(|e| e.content_sha256.clone())
                .collect(),
            log_entries: 0,
        };
        if dry_run || (scheduled && plan.expiries.is_empty()) {
            return Ok(response);
        }
        let log = sweep_entries(&plan, as_of, actor, scheduled);
        response.log_entries = log.len() as u32;
        let borrowers: Vec<BorrowerKey> = plan.expiries.iter().map(|e| e.borrower_key).collect();
        self.committer
            .commit(CommitRequest {
                log,
                expiries: plan.expiries,
                ..Default::default()
            })
            .await?;
        self.indicators.invalidate(borrowers.iter());
        tracing::info!(
            expired = response.expired_versions,
            held = response.held_versions,
            scheduled,
            "retention sweep"
        );
        Ok(response)
    }

    /// Whether `borrower` is under a legal hold (frozen: never served).
    pub fn on_legal_hold(&self, borrower: &BorrowerKey) -> bool {
        self.legal_holds().iter().any(|h| h == borrower)
    }

    fn legal_holds(&self) -> Vec<BorrowerKey> {
        self.config
            .retention
            .legal_holds
            .iter()
            .filter_map(|h| BorrowerKey::from_slice(&hex::decode(h).ok()?).ok())
            .collect()
    }

    /// Sweeps at start and then daily until `stop` turns true.
    pub fn spawn_retention(
        self: &std::sync::Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                let actor = Actor {
                    identity: "retention-schedule".into(),
                    officer: String::new(),
                };
                if let Err(e) = node.retention_sweep(None, false, &actor, true).await {
                    tracing::error!(error = %e, "scheduled retention sweep failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
                    _ = stop.changed() => return,
                }
            }
        });
    }
}

/// Decodes `payload` and files it under its borrower and facility (a
/// payload that does not decode is left out).
fn by_facility<T: Message + Default>(
    map: &mut HashMap<(BorrowerKey, String), Vec<T>>,
    borrower: BorrowerKey,
    payload: &[u8],
    facility: impl Fn(&T) -> &String,
) {
    if let Ok(record) = T::decode(payload) {
        let key = (borrower, facility(&record).clone());
        map.entry(key).or_default().push(record);
    }
}

impl SweepPlan {
    /// Decides every expired version of one borrower's records (`histories`
    /// holds all of them: the rules compare a record with the borrower's
    /// other records of the same facility, never with other borrowers').
    fn add_borrower(&mut self, histories: Vec<RecordHistory>, holds: &[BorrowerKey], as_of: Date) {
        let mut credits: HashMap<(BorrowerKey, String), Vec<pb::CreditSummary>> = HashMap::new();
        let mut visits: HashMap<(BorrowerKey, String), Vec<pb::VisitSummary>> = HashMap::new();
        for h in &histories {
            for (_, r) in &h.versions {
                let Some(env) = &r.envelope else { continue };
                match env.payload_type.as_str() {
                    CREDIT_SUMMARY_TYPE => {
                        by_facility(&mut credits, h.borrower_key, &env.payload, |c| {
                            &c.facility_id
                        });
                    }
                    VISIT_SUMMARY_TYPE => {
                        by_facility(&mut visits, h.borrower_key, &env.payload, |v| {
                            &v.facility_id
                        });
                    }
                    _ => {}
                }
            }
        }
        for h in histories {
            let expired = expired_versions(&h, &credits, &visits, as_of);
            if expired.is_empty() {
                continue;
            }
            if holds.contains(&h.borrower_key) {
                self.held += expired.len() as u64;
                continue;
            }
            self.records += 1;
            self.expiries
                .extend(expired.into_iter().map(|(version, r)| RecordExpiry {
                    borrower_key: h.borrower_key,
                    kind: h.kind,
                    record_id: h.record_id.clone(),
                    version,
                    content_sha256: r.content_sha256.clone(),
                    stored_at_ms: r.stored_at_ms,
                }));
        }
    }
}

/// The versions of one record (with bodies) that have expired.
fn expired_versions<'a>(
    h: &'a RecordHistory,
    credits: &HashMap<(BorrowerKey, String), Vec<pb::CreditSummary>>,
    visits: &HashMap<(BorrowerKey, String), Vec<pb::VisitSummary>>,
    as_of: Date,
) -> Vec<(u64, &'a pb::StoredRecord)> {
    let live: Vec<&(u64, pb::StoredRecord)> = h
        .versions
        .iter()
        .filter(|(_, r)| r.envelope.is_some())
        .collect();
    match h.kind {
        RecordKind::Credit => {
            let facility = credits.get(&(h.borrower_key, h.record_id.clone()));
            let Some(facility) = facility else {
                return Vec::new();
            };
            retention::expired_credit_versions(facility, as_of)
                .into_iter()
                .filter_map(|i| live.get(i).map(|(v, r)| (*v, r)))
                .collect()
        }
        RecordKind::Visit => live
            .into_iter()
            .filter(|(_, r)| {
                let Some(v) = r
                    .envelope
                    .as_ref()
                    .and_then(|e| pb::VisitSummary::decode(e.payload.as_slice()).ok())
                else {
                    return false;
                };
                let key = (h.borrower_key, v.facility_id.clone());
                let facility = credits.get(&key).map_or(&[][..], Vec::as_slice);
                let others = visits.get(&key).map_or(&[][..], Vec::as_slice);
                retention::visit_expired(&v, facility, others, as_of)
            })
            .map(|(v, r)| (*v, r))
            .collect(),
    }
}

/// The sweep's log entries: counts and removed hashes, at most
/// [`MAX_HASHES_PER_ENTRY`] per entry (one entry when nothing expired).
fn sweep_entries(plan: &SweepPlan, as_of: Date, actor: &Actor, scheduled: bool) -> Vec<LogAppend> {
    let hashes: Vec<Vec<u8>> = plan
        .expiries
        .iter()
        .map(|e| e.content_sha256.clone())
        .collect();
    let mut chunks: Vec<&[Vec<u8>]> = hashes.chunks(MAX_HASHES_PER_ENTRY).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let now = now_ms();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| LogAppend {
            entry: pb::LogEntry {
                time_ms: now,
                kind: Some(pb::log_entry::Kind::RetentionSweep(
                    pb::RetentionSweepEntry {
                        as_of_date: iso_date(as_of),
                        expired_versions: chunk.len() as u32,
                        held_versions: if i == 0 { plan.held as u32 } else { 0 },
                        removed_sha256: chunk.to_vec(),
                        scheduled,
                        officer: actor.officer.clone(),
                    },
                )),
            },
            query_index: None,
        })
        .collect()
}
