//! The query log's integrity check, in two parts so that start-up does not
//! grow with the log:
//!
//! * [`Store::open_log`], before the node serves: the newest signed
//!   checkpoint's signature, the stored tree's root at its size, and the
//!   entries of the newest batch (those after the previous checkpoint)
//!   re-hashed into it. O(newest batch + log n) reads. The high-water
//!   check (`high_water.rs`) follows it in the writer's start-up.
//! * [`spawn_full_check`], once the node serves: every entry up to that
//!   size re-hashed on a thread of its own ([`Store::replay`]), with
//!   progress in the tracing log and in the `credshare_log_verify_*`
//!   metrics. A mismatch sets the permanent store fault
//!   [`StoreFault::LogTampered`](super::StoreFault::LogTampered) naming the
//!   entry: writes are refused, `/readyz` answers 503 with the reason and
//!   gRPC health turns `NOT_SERVING`.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::keys;
use super::log::{tampered, verify_newest};
use super::{StorageError, Store, be_u64};
use crate::audit::{self, Hash, RightEdge};
use crate::metrics::LogVerifyGauges;

/// How often the background check logs its progress.
pub const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(5);

impl Store {
    /// The start-up check of the log's newest part (see the module doc).
    /// Returns the right edge to append from and the certificate that
    /// signed the newest checkpoint. Entries before the previous
    /// checkpoint are left to [`spawn_full_check`].
    pub fn open_log(&self, origin: &str) -> Result<(RightEdge, Option<Vec<u8>>), StorageError> {
        let size = self.log_size()?;
        let Some(latest) = self.checkpoint(None)? else {
            return match size {
                0 => Ok((RightEdge::empty(), None)),
                n => Err(tampered(0, &format!("{n} entries but no checkpoint"))),
            };
        };
        let cp = verify_newest(&latest, origin, size)?;
        if cp.size != size {
            return Err(tampered(
                cp.size.min(size),
                &format!(
                    "newest checkpoint says size {} but the log holds {size} entries",
                    cp.size
                ),
            ));
        }
        let from = self.previous_checkpoint(size)?;
        let base = self.checked_base(from)?;
        let edge = self.replay(base, size, &mut |_| true)?;
        if edge.size() != size || edge.root() != cp.root {
            return Err(tampered(
                from,
                &format!(
                    "entries {from}..{size} do not hash to the root of the newest checkpoint (size {size})"
                ),
            ));
        }
        Ok((edge, Some(latest.signer_certificate)))
    }

    /// Size of the newest checkpoint below `size`, or 0.
    fn previous_checkpoint(&self, size: u64) -> Result<u64, StorageError> {
        let range = keys::indexed(keys::CHECKPOINT, 0)..keys::indexed(keys::CHECKPOINT, size);
        match self.tree.range(range).keys().next_back() {
            Some(key) => be_u64(&key?[1..]),
            None => Ok(0),
        }
    }

    /// The right edge at `from` from the stored hashes, checked against
    /// the checkpoint signed at `from` (none at 0).
    fn checked_base(&self, from: u64) -> Result<RightEdge, StorageError> {
        let base = RightEdge::load(self, from).ok();
        let signed = self.checkpoint_roots(from, from).next().transpose()?;
        match (base, signed) {
            (Some(base), None) if from == 0 => Ok(base),
            (Some(base), Some((_, root))) if base.root() == root => Ok(base),
            _ => {
                let good = self.last_matching_checkpoint(from)?;
                Err(tampered(
                    good,
                    &format!(
                        "the stored tree does not hash to the root signed at tree size {from} (entries {good}..{from})"
                    ),
                ))
            }
        }
    }

    /// The size of the newest checkpoint below `below` whose signed root
    /// the stored tree still has, or 0: the first entry that can be bad.
    /// Failure path only: O(checkpoints × log n).
    fn last_matching_checkpoint(&self, below: u64) -> Result<u64, StorageError> {
        for item in self.checkpoint_roots(0, below.saturating_sub(1)).rev() {
            let (size, root) = item?;
            if audit::root_at(self, size).ok() == Some(root) {
                return Ok(size);
            }
        }
        Ok(0)
    }
}

/// The background re-verification of the whole log up to `size`.
#[derive(Debug)]
pub struct FullCheck {
    pub store: Store,
    /// The size and root verified at start-up.
    pub size: u64,
    pub root: Hash,
    pub gauges: LogVerifyGauges,
    /// Turns true at shutdown: the check stops where it is.
    pub stop: watch::Receiver<bool>,
}

/// How a background check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullCheckOutcome {
    Verified,
    Stopped { at: u64 },
    Failed { index: u64, reason: String },
}

/// Starts [`FullCheck::run`] on a thread of its own.
pub fn spawn_full_check(check: FullCheck) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("credshare-log-verify".into())
        .spawn(move || {
            check.run();
        })
}

impl FullCheck {
    /// Re-hashes entries `0..size`; a failure sets the store fault.
    pub fn run(self) -> FullCheckOutcome {
        let g = &self.gauges;
        g.target_entries.set(clamp(self.size));
        g.state.set(0);
        tracing::info!(
            log_size = self.size,
            "background check of the whole query log started"
        );
        let started = Instant::now();
        let mut last_log = started;
        let outcome = self.replay(&mut last_log, started);
        let seconds = started.elapsed().as_secs_f64();
        g.seconds.set(seconds);
        match &outcome {
            FullCheckOutcome::Verified => {
                g.checked_entries.set(clamp(self.size));
                g.state.set(1);
                tracing::info!(
                    log_size = self.size,
                    seconds,
                    "background check of the whole query log passed"
                );
            }
            FullCheckOutcome::Stopped { at } => {
                g.state.set(2);
                tracing::info!(checked = at, "background log check stopped at shutdown");
            }
            FullCheckOutcome::Failed { index, reason } => {
                g.state.set(-1);
                self.store.health().log_tampered(*index, reason.clone());
                tracing::error!(
                    index,
                    reason = %reason,
                    "query log fails verification: writes refused, not ready"
                );
            }
        }
        outcome
    }

    fn replay(&self, last_log: &mut Instant, started: Instant) -> FullCheckOutcome {
        let total = self.size.max(1) as f64;
        let mut reached = 0;
        let result = self
            .store
            .replay(RightEdge::empty(), self.size, &mut |done| {
                reached = done;
                self.gauges.checked_entries.set(clamp(done));
                if last_log.elapsed() >= PROGRESS_LOG_INTERVAL {
                    *last_log = Instant::now();
                    tracing::info!(
                        checked = done,
                        total = self.size,
                        percent = format!("{:.1}", done as f64 * 100.0 / total),
                        seconds = started.elapsed().as_secs(),
                        "background log check progress"
                    );
                }
                !*self.stop.borrow()
            });
        match result {
            Ok(edge) if edge.size() < self.size && *self.stop.borrow() => {
                FullCheckOutcome::Stopped { at: reached }
            }
            Ok(edge) if edge.size() < self.size => FullCheckOutcome::Failed {
                index: edge.size(),
                reason: "entry is missing (the log ends early)".into(),
            },
            Ok(edge) if edge.root() != self.root => FullCheckOutcome::Failed {
                index: 0,
                reason: format!(
                    "the log rebuilds to another root at size {} than the one verified at start-up",
                    self.size
                ),
            },
            Ok(_) => FullCheckOutcome::Verified,
            Err(StorageError::Tampered { index, reason }) => {
                FullCheckOutcome::Failed { index, reason }
            }
            Err(e) => FullCheckOutcome::Failed {
                index: reached,
                reason: format!("the store could not be read past entry {reached}: {e}"),
            },
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
