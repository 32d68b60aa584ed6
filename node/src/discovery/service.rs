//! [`Discovery`]: the discovery service's state (key, budgets, receipts,
//! directory counts) and its use cases, each logged in the node's log
//! before it answers. Errors are [`NodeError`]s, mapped to gRPC codes in
//! `grpc/status.rs`: INVALID_ARGUMENT for malformed input (nothing logged),
//! RESOURCE_EXHAUSTED over budget and FAILED_PRECONDITION for a receipt
//! that does not fit (both logged). Directory changes are in [`directory`],
//! the regulator's figures and the start-up replay in [`figures`].

mod directory;
mod figures;

pub use directory::DirectoryChange;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::budget::{Budgets, Spender};
use super::keyfile::{KeyFile, KeyPart};
use super::oprf::{MAX_ELEMENTS_PER_CALL, OprfKey, PSEUDONYM_BYTES, decode_point};
use super::receipts::ReceiptBook;
use crate::blocking;
use crate::config::DiscoveryConfig;
use crate::domain::dates::now_ms;
use crate::domain::purpose::Purpose;
use crate::error::NodeError;
use crate::service::Node;
use crate::storage::{CommitRequest, DirectoryWrite, LogAppend};

/// The caller of a discovery call.
#[derive(Debug, Clone)]
pub struct Member {
    pub institution: String,
    /// Empty for a certificate that names no officer.
    pub officer: String,
}

/// An evaluation request, converted.
#[derive(Debug)]
pub struct EvaluateInput {
    pub blinded: Vec<Vec<u8>>,
    /// `None`: enrolment.
    pub purpose: Option<Purpose>,
    pub consent_sha256: Option<[u8; 32]>,
}

/// The service's state; shares the node's store and writer.
pub struct Discovery {
    pub config: DiscoveryConfig,
    node: Arc<Node>,
    key: Arc<OprfKey>,
    part: KeyPart,
    custodian_index: u8,
    budgets: Mutex<Budgets>,
    receipts: Mutex<ReceiptBook>,
    /// Pseudonyms held per member; changed only under `directory_gate`.
    held: Mutex<BTreeMap<String, u64>>,
    /// One directory change at a time: "already registered" stays true.
    directory_gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Discovery {
    /// Reads the key file, counts the directory and replays the current
    /// budget window from the log (newest entries back to the window's
    /// start). Blocking: call on the blocking pool.
    pub fn open(node: Arc<Node>, config: DiscoveryConfig) -> Result<Self, String> {
        let file = KeyFile::read(&config.key_file)
            .map_err(|e| format!("config key `discovery.key_file`: {e}"))?;
        let key = OprfKey::from_scalar(&file.scalar).map_err(|e| e.to_string())?;
        let held = node.store.holdings().map_err(|e| e.to_string())?;
        let budgets = figures::replay_window(&node, &config).map_err(|e| e.to_string())?;
        tracing::info!(
            part = file.part.as_str(),
            public_key = %hex::encode(key.public_key()),
            members = held.len(),
            "discovery service: OPRF key loaded"
        );
        Ok(Self {
            config,
            node,
            key: Arc::new(key),
            part: file.part,
            custodian_index: file.index,
            budgets: Mutex::new(budgets),
            receipts: Mutex::new(ReceiptBook::default()),
            held: Mutex::new(held),
            directory_gate: tokio::sync::Mutex::new(()),
        })
    }

    /// Counts a call (and its `n` elements) in the metrics.
    fn count(&self, method: &str, who: &Member, outcome: &str, n: u64) {
        let labels = crate::metrics::DiscoveryLabels {
            method: method.into(),
            member: who.institution.clone(),
            outcome: outcome.into(),
        };
        let metrics = &self.node.metrics;
        metrics.discovery_calls.get_or_create(&labels).inc();
        metrics.discovery_elements.get_or_create(&labels).inc_by(n);
    }

    /// Logs one entry; returns its leaf index.
    async fn log(&self, kind: Kind, directory: Vec<DirectoryWrite>) -> Result<u64, NodeError> {
        let reply = self
            .node
            .committer
            .commit(CommitRequest {
                log: vec![LogAppend {
                    entry: pb::LogEntry {
                        time_ms: now_ms(),
                        kind: Some(kind),
                    },
                    query_index: None,
                }],
                directory,
                ..Default::default()
            })
            .await?;
        reply
            .leaves
            .first()
            .copied()
            .ok_or_else(|| NodeError::internal("commit returned no leaf"))
    }

    /// Evaluates a batch within the caller's budgets; an assessment's
    /// evaluation returns a receipt bound to its consent hash.
    pub async fn evaluate(
        &self,
        who: &Member,
        input: EvaluateInput,
    ) -> Result<pb::EvaluateResponse, NodeError> {
        // Decoding 10,000 points takes a while: off the async workers.
        let blinded = input.blinded;
        let blinded = blocking::run(move || check_elements(&blinded).map(|()| blinded)).await?;
        let n = blinded.len();
        let spender = Spender {
            institution: who.institution.clone(),
            officer: who.officer.clone(),
            purpose: input.purpose,
        };
        let mut entry = pb::DiscoveryEvaluationEntry {
            institution: who.institution.clone(),
            officer: who.officer.clone(),
            enrolment: input.purpose.is_none(),
            purpose: input.purpose.map_or(0, |p| p.to_wire() as i32),
            consent_sha256: input.consent_sha256.map(|c| c.to_vec()).unwrap_or_default(),
            count: n as u32,
            ..Default::default()
        };
        let now = now_ms();
        let spent = lock(&self.budgets).spend(&self.config, &spender, n as u64, now);
        if let Err(exceeded) = spent {
            return Err(self.refuse(who, entry, exceeded).await);
        }
        let key = self.key.clone();
        let evaluation = blocking::run(move || {
            Ok::<_, NodeError>(
                key.evaluate(&blinded)
                    .map_err(|e| NodeError::invalid("blinded_elements", e.to_string())),
            )
        })
        .await??;
        let mut response = pb::EvaluateResponse {
            evaluated_elements: evaluation.elements,
            proof: evaluation.proof,
            public_key: self.key.public_key().to_vec(),
            key_part: self.part.as_str().into(),
            custodian_index: u32::from(self.custodian_index),
            ..Default::default()
        };
        if let Some(consent) = input.consent_sha256 {
            let expires = now + (self.config.receipt_ttl_seconds * 1000) as i64;
            let id = lock(&self.receipts).issue(&who.institution, consent, now, expires);
            entry.receipt_id = id.clone();
            response.receipt_id = id;
            response.receipt_expires_ms = expires;
        }
        response.log_index = self
            .log(Kind::DiscoveryEvaluation(entry), Vec::new())
            .await?;
        self.count("Evaluate", who, "ok", n as u64);
        Ok(response)
    }

    /// Logs an over-budget evaluation and builds its error.
    async fn refuse(
        &self,
        who: &Member,
        mut entry: pb::DiscoveryEvaluationEntry,
        exceeded: super::budget::Exceeded,
    ) -> NodeError {
        entry.refused = exceeded.as_str().into();
        let n = entry.count;
        self.count("Evaluate", who, exceeded.as_str(), u64::from(n));
        if let Err(e) = self.log(Kind::DiscoveryEvaluation(entry), Vec::new()).await {
            return e;
        }
        tracing::warn!(member = %who.institution, officer = %who.officer, budget = exceeded.as_str(), count = n, "evaluation refused: over budget");
        NodeError::RateLimited(format!(
            "{}: {n} evaluations exceed the {} budget of this window (docs/operations.md, Discovery service)",
            who.institution,
            exceeded.as_str()
        ))
    }

    /// Who holds `pseudonym`, redeeming the caller's receipt.
    pub async fn lookup(
        &self,
        who: &Member,
        pseudonym: &[u8],
        receipt_id: &str,
        consent_sha256: &[u8],
    ) -> Result<pb::LookupHoldersResponse, NodeError> {
        let pseudonym: [u8; 32] = pseudonym.try_into().map_err(|_| {
            NodeError::invalid("pseudonym", format!("must be {PSEUDONYM_BYTES} bytes"))
        })?;
        if consent_sha256.len() != 32 {
            return Err(NodeError::invalid(
                "consent_sha256",
                "must be 32 bytes (a SHA-256)",
            ));
        }
        if receipt_id.is_empty() || receipt_id.len() > 64 {
            return Err(NodeError::invalid(
                "receipt_id",
                "required, at most 64 characters",
            ));
        }
        let now = now_ms();
        let redeemed =
            lock(&self.receipts).redeem(receipt_id, &who.institution, consent_sha256, now);
        lock(&self.budgets).count_lookup(&self.config, &who.institution, now);
        let mut entry = pb::DiscoveryLookupEntry {
            institution: who.institution.clone(),
            officer: who.officer.clone(),
            receipt_id: receipt_id.into(),
            consent_sha256: consent_sha256.to_vec(),
            ..Default::default()
        };
        if let Err(refusal) = redeemed {
            self.count("Lookup", who, refusal.as_str(), 1);
            entry.refused = refusal.as_str().into();
            self.log(Kind::DiscoveryLookup(entry), Vec::new()).await?;
            tracing::warn!(member = %who.institution, refused = refusal.as_str(), "lookup refused");
            return Err(NodeError::FailedPrecondition(format!(
                "{}: {}",
                refusal.as_str(),
                refusal.message()
            )));
        }
        let store = self.node.store.clone();
        let holders = blocking::run(move || store.holders(&pseudonym)).await?;
        entry.holders = holders.len() as u32;
        let log_index = self.log(Kind::DiscoveryLookup(entry), Vec::new()).await?;
        self.count("Lookup", who, "ok", 1);
        Ok(pb::LookupHoldersResponse { holders, log_index })
    }
}

/// Refuses a batch of `field` that is empty or longer than
/// [`MAX_ELEMENTS_PER_CALL`].
fn check_batch_len(field: &str, len: usize) -> Result<(), NodeError> {
    if len == 0 || len > MAX_ELEMENTS_PER_CALL {
        return Err(NodeError::invalid(
            field,
            format!("between 1 and {MAX_ELEMENTS_PER_CALL} per call, got {len}"),
        ));
    }
    Ok(())
}

fn check_elements(blinded: &[Vec<u8>]) -> Result<(), NodeError> {
    check_batch_len("blinded_elements", blinded.len())?;
    for (i, b) in blinded.iter().enumerate() {
        decode_point(b, i).map_err(|e| NodeError::invalid("blinded_elements", e.to_string()))?;
    }
    Ok(())
}
