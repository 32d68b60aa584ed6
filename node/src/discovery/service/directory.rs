//! Registering and withdrawing pseudonyms in the holder directory: one
//! change at a time, each logged with the member's count after it and
//! flagged when that exceeds the declared portfolio.

use std::collections::BTreeSet;

use credshare_proto::v1 as pb;
use pb::log_entry::Kind;

use super::{Discovery, Member, check_batch_len, lock};
use crate::blocking;
use crate::discovery::oprf::PSEUDONYM_BYTES;
use crate::error::NodeError;
use crate::storage::{DirectoryWrite, StorageError, Store};

impl Discovery {
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
        let (writes, unchanged) =
            blocking::run(move || decide(&store, &inst, unique, withdraw)).await?;
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
        let method = if withdraw { "Withdraw" } else { "Register" };
        self.count(method, who, "ok", changed);
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

fn check_pseudonyms(pseudonyms: &[Vec<u8>]) -> Result<BTreeSet<[u8; 32]>, NodeError> {
    check_batch_len("pseudonyms", pseudonyms.len())?;
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

/// The writes a change needs (pseudonyms not yet / still held by
/// `institution`) and how many are unchanged.
fn decide(
    store: &Store,
    institution: &str,
    unique: BTreeSet<[u8; 32]>,
    withdraw: bool,
) -> Result<(Vec<DirectoryWrite>, u32), StorageError> {
    let mut writes = Vec::new();
    let mut unchanged = 0u32;
    for pseudonym in unique {
        let institution = institution.to_owned();
        match (withdraw, store.holds(&institution, &pseudonym)?) {
            (false, false) => writes.push(DirectoryWrite::Register {
                pseudonym,
                institution,
            }),
            (true, true) => writes.push(DirectoryWrite::Withdraw {
                pseudonym,
                institution,
            }),
            _ => unchanged += 1,
        }
    }
    Ok((writes, unchanged))
}
