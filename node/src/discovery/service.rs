//! [`Discovery`]: the discovery service's state (key, budgets, receipts,
//! directory counts) and its use cases, each logged in the node's log
//! before it answers. Errors are [`NodeError`]s, mapped to gRPC codes in
//! `grpc/status.rs`: INVALID_ARGUMENT for malformed input (nothing logged),
//! RESOURCE_EXHAUSTED over budget and FAILED_PRECONDITION for a receipt
//! that does not fit (both logged).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::budget::{Budgets, Spender, window_start_ms};
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
        let budgets = replay_window(&node, &config).map_err(|e| e.to_string())?;
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
        check_elements(&input.blinded)?;
        let n = input.blinded.len();
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
            entry.refused = exceeded.as_str().into();
            self.log(Kind::DiscoveryEvaluation(entry), Vec::new())
                .await?;
            tracing::warn!(member = %who.institution, officer = %who.officer, budget = exceeded.as_str(), count = n, "evaluation refused: over budget");
            return Err(NodeError::RateLimited(format!(
                "{}: {n} evaluations exceed the {} budget of this window (docs/operations.md, Discovery service)",
                who.institution,
                exceeded.as_str()
            )));
        }
        let key = self.key.clone();
        let blinded = input.blinded;
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
        Ok(response)
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
        Ok(pb::LookupHoldersResponse { holders, log_index })
    }

    /// Registers (or with `withdraw`, withdraws) the caller's pseudonyms.
    pub async fn change_directory(
        &self,
        who: &Member,
        pseudonyms: &[Vec<u8>],
        withdraw: bool,
    ) -> Result<DirectoryChange, NodeError> {
        let unique = check_pseudonyms(pseudonyms)?;
        let _gate = self.directory_gate.lock().await;
        let store = self.node.store.clone();
        let inst = who.institution.clone();
        let (writes, unchanged) = blocking::run(move || {
            let mut writes = Vec::new();
            let mut unchanged = 0u32;
            for p in unique {
                let holds = store.holds(&inst, &p)?;
                match (withdraw, holds) {
                    (false, false) => writes.push(DirectoryWrite::Register {
                        pseudonym: p,
                        institution: inst.clone(),
                    }),
                    (true, true) => writes.push(DirectoryWrite::Withdraw {
                        pseudonym: p,
                        institution: inst.clone(),
                    }),
                    _ => unchanged += 1,
                }
            }
            Ok::<_, crate::storage::StorageError>((writes, unchanged))
        })
        .await?;
        let before = lock(&self.held).get(&who.institution).copied().unwrap_or(0);
        let changed = writes.len() as u64;
        let held = if withdraw {
            before.saturating_sub(changed)
        } else {
            before + changed
        };
        let portfolio = self.config.portfolio(&who.institution);
        let over = held > portfolio;
        let entry = pb::DiscoveryDirectoryEntry {
            institution: who.institution.clone(),
            officer: who.officer.clone(),
            registered: if withdraw { 0 } else { changed as u32 },
            withdrawn: if withdraw { changed as u32 } else { 0 },
            held,
            declared_portfolio: portfolio,
            over_portfolio: over,
        };
        let log_index = self.log(Kind::DiscoveryDirectory(entry), writes).await?;
        lock(&self.held).insert(who.institution.clone(), held);
        if over {
            tracing::warn!(member = %who.institution, held, declared_portfolio = portfolio, "member holds more pseudonyms than its declared portfolio: flagged");
        }
        Ok(DirectoryChange {
            changed: changed as u32,
            unchanged,
            held,
            portfolio,
            over,
            log_index,
        })
    }

    /// Figures per member for the regulator.
    pub async fn status(&self) -> Result<pb::DiscoveryStatusResponse, NodeError> {
        let store = self.node.store.clone();
        let (pseudonyms, log_size) = blocking::run(move || {
            Ok::<_, crate::storage::StorageError>((store.pseudonym_count()?, store.log_size()?))
        })
        .await?;
        let held = lock(&self.held).clone();
        let now = now_ms();
        let mut budgets = lock(&self.budgets);
        let mut names: BTreeSet<String> = self.config.portfolios.keys().cloned().collect();
        names.extend(held.keys().cloned());
        names.extend(budgets.members());
        let members = names
            .into_iter()
            .map(|inst| {
                let used = budgets.member_use(&self.config, &inst, now);
                let portfolio = self.config.portfolio(&inst);
                let registered = held.get(&inst).copied().unwrap_or(0);
                pb::DiscoveryMemberFigures {
                    declared_portfolio: portfolio,
                    registered,
                    over_portfolio: registered > portfolio,
                    enrolment_evaluated: used.enrolment,
                    enrolment_budget: portfolio.saturating_mul(self.config.enrolment_factor),
                    assessment_evaluated: used.assessment,
                    assessment_budget: self.config.member_budget,
                    refused: used.refused,
                    lookups: used.lookups,
                    institution_id: inst,
                }
            })
            .collect();
        Ok(pb::DiscoveryStatusResponse {
            public_key: self.key.public_key().to_vec(),
            log_size,
            pseudonyms,
            members,
            window_seconds: self.config.window_seconds,
        })
    }
}

/// The outcome of a register or withdraw call.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryChange {
    pub changed: u32,
    pub unchanged: u32,
    pub held: u64,
    pub portfolio: u64,
    pub over: bool,
    pub log_index: u64,
}

fn check_elements(blinded: &[Vec<u8>]) -> Result<(), NodeError> {
    if blinded.is_empty() || blinded.len() > MAX_ELEMENTS_PER_CALL {
        return Err(NodeError::invalid(
            "blinded_elements",
            format!(
                "between 1 and {MAX_ELEMENTS_PER_CALL} per call, got {}",
                blinded.len()
            ),
        ));
    }
    for (i, b) in blinded.iter().enumerate() {
        decode_point(b, i).map_err(|e| NodeError::invalid("blinded_elements", e.to_string()))?;
    }
    Ok(())
}

fn check_pseudonyms(pseudonyms: &[Vec<u8>]) -> Result<BTreeSet<[u8; 32]>, NodeError> {
    if pseudonyms.is_empty() || pseudonyms.len() > MAX_ELEMENTS_PER_CALL {
        return Err(NodeError::invalid(
            "pseudonyms",
            format!(
                "between 1 and {MAX_ELEMENTS_PER_CALL} per call, got {}",
                pseudonyms.len()
            ),
        ));
    }
    pseudonyms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.as_slice().try_into().map_err(|_| {
                NodeError::invalid(
                    "pseudonyms",
                    format!("pseudonym {i} is not {PSEUDONYM_BYTES} bytes"),
                )
            })
        })
        .collect()
}

/// The current window's budget counts, replayed from the log's newest
/// entries back to the window's start.
fn replay_window(
    node: &Node,
    config: &DiscoveryConfig,
) -> Result<Budgets, crate::storage::StorageError> {
    use prost::Message;
    let mut budgets = Budgets::default();
    let now = now_ms();
    let start = window_start_ms(config, now);
    let mut index = node.store.log_size()?;
    while index > 0 {
        index -= 1;
        let Some(bytes) = node.store.log_entry(index)? else {
            break;
        };
        let Ok(entry) = pb::LogEntry::decode(bytes.as_slice()) else {
            continue;
        };
        if entry.time_ms < start {
            break;
        }
        match entry.kind {
            Some(Kind::DiscoveryEvaluation(e)) => {
                let who = Spender {
                    purpose: if e.enrolment {
                        None
                    } else {
                        Purpose::from_wire(e.purpose)
                    },
                    institution: e.institution,
                    officer: e.officer,
                };
                budgets.record(config, &who, u64::from(e.count), !e.refused.is_empty(), now);
            }
            Some(Kind::DiscoveryLookup(e)) => budgets.count_lookup(config, &e.institution, now),
            _ => {}
        }
    }
    Ok(budgets)
}
