//! Rebuilding the counts from the log while the node serves.
//!
//! The node serves before the counts are rebuilt: [`Rebuild`] reads the log
//! on a background task while [`Tracker`] leaves every live query to it (the
//! query is in the log; the rebuild reads it). Entries below `live_from`
//! (the log's size when the node started) are taken in as the old
//! start-up rebuild did: counted, flags restored, nothing evaluated.
//! Entries from `live_from` on were decided while the rebuild ran: each is
//! counted and evaluated at its own time, as the live path would have,
//! and the flags they raise are handed back to be logged. When the rebuild
//! has read every entry the log holds (its last part under the tracker's
//! lock), the tracker counts live again from the next index; a query
//! logged below it was read by the rebuild and is not counted twice.

use super::{Flag, Oversight, OversightConfig, QueryEvent};

/// One log entry as the rebuild takes it in.
#[derive(Debug, Clone)]
pub enum Logged {
    /// A peer query logged at `time_ms`; `event` is `None` for an unknown
    /// reason (it is still evaluated at, as the live path does).
    Query {
        time_ms: i64,
        event: Option<QueryEvent>,
    },
    /// A flag logged when raised.
    Flag(Flag),
    /// Anything else.
    Other,
}

/// Why a rebuild cannot take an entry in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("oversight rebuild: expected log entry {expected}, read {found}")]
pub struct OutOfOrder {
    pub expected: u64,
    pub found: u64,
}

/// Counts being rebuilt from the log, entry by entry from index 0.
#[derive(Debug)]
pub struct Rebuild {
    oversight: Oversight,
    next: u64,
    live_from: u64,
    raised: Vec<Flag>,
}

impl Rebuild {
    /// A rebuild whose entries from `live_from` on were decided live.
    pub fn new(config: OversightConfig, live_from: u64) -> Self {
        Self {
            oversight: Oversight::new(config),
            next: 0,
            live_from,
            raised: Vec::new(),
        }
    }

    /// The index of the next entry to take in.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Takes in the entry at `index`, which must be [`Rebuild::next`].
    pub fn take(&mut self, index: u64, entry: Logged) -> Result<(), OutOfOrder> {
        if index != self.next {
            return Err(OutOfOrder {
                expected: self.next,
                found: index,
            });
        }
        self.next += 1;
        match entry {
            Logged::Query { time_ms, event } => {
                if let Some(event) = &event {
                    self.oversight.observe(event);
                }
                if index >= self.live_from {
                    let raised = self.oversight.evaluate(time_ms);
                    self.raised.extend(raised);
                }
            }
            Logged::Flag(flag) => self.oversight.restore(flag),
            Logged::Other => {}
        }
        Ok(())
    }
}

/// What the node counts with.
#[derive(Debug)]
pub enum Tracker {
    /// The rebuild is reading the log: `read` of `size` entries so far;
    /// entries from `live_from` on were decided live.
    Rebuilding {
        live_from: u64,
        read: u64,
        size: u64,
    },
    /// The rebuild could not finish; flags are not evaluated.
    Failed(String),
    /// Counting live; queries logged below `from` were read by the rebuild.
    Live {
        oversight: Box<Oversight>,
        from: u64,
    },
}

impl Tracker {
    /// A tracker waiting for a rebuild of a log of `size` entries (the
    /// queries logged from `size` on are decided live).
    pub fn rebuilding(size: u64) -> Self {
        Tracker::Rebuilding {
            live_from: size,
            read: 0,
            size,
        }
    }

    /// Where the live queries begin, while rebuilding.
    pub fn live_from(&self) -> Option<u64> {
        match self {
            Tracker::Rebuilding { live_from, .. } => Some(*live_from),
            _ => None,
        }
    }

    /// Counts the query logged at `index` and decided at `now_ms`; returns
    /// the flags it raises (to be logged). Nothing while rebuilding or for
    /// a query the rebuild read.
    pub fn live(&mut self, index: u64, event: Option<&QueryEvent>, now_ms: i64) -> Vec<Flag> {
        match self {
            Tracker::Live { oversight, from } if index >= *from => {
                if let Some(event) = event {
                    oversight.observe(event);
                }
                oversight.evaluate(now_ms)
            }
            _ => Vec::new(),
        }
    }

    /// Records the rebuild's progress.
    pub fn progress(&mut self, read: u64, size: u64) {
        if let Tracker::Rebuilding {
            read: r, size: s, ..
        } = self
        {
            (*r, *s) = (read, size);
        }
    }

    /// Ends the rebuild: counts live from its next index on, and returns
    /// the flags raised by the entries decided while it ran (to be logged).
    pub fn complete(&mut self, rebuild: Rebuild) -> Vec<Flag> {
        *self = Tracker::Live {
            oversight: Box::new(rebuild.oversight),
            from: rebuild.next,
        };
        rebuild.raised
    }

    /// The flags in force, `None` until the counts are rebuilt.
    pub fn flags(&self) -> Option<Vec<Flag>> {
        match self {
            Tracker::Live { oversight, .. } => Some(oversight.flags()),
            _ => None,
        }
    }

    /// What an operator should know while the counts are not live.
    pub fn warning(&self) -> Option<String> {
        match self {
            Tracker::Rebuilding { read, size, .. } => Some(format!(
                "oversight counts rebuilding from the query log ({read} of {size} entries read); flags are evaluated once done"
            )),
            Tracker::Failed(reason) => Some(format!(
                "oversight counts could not be rebuilt, flags are not evaluated: {reason}"
            )),
            Tracker::Live { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
