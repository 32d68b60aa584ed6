//! Which parts of the log an audit request may ask for.
//!
//! Auditors only ever see the log up to its newest *durable* checkpoint, and
//! proofs are only served against tree sizes that have a signed checkpoint:
//! a proof against an unsigned root proves nothing to someone holding only
//! the CA certificate. These rules are pure arithmetic on sizes; the gRPC
//! service applies them before reading anything.

use std::ops::Range;

/// Most entries one `GetEntries` call may ask for.
pub const MAX_ENTRIES_PER_CALL: u64 = 10_000;

/// Why an audit request's indexes or sizes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogBoundsError {
    /// Nothing has been logged yet, so nothing is signed.
    #[error("the query log is empty: no checkpoint has been signed yet")]
    EmptyLog,
    /// No checkpoint was signed at this tree size.
    #[error(
        "no signed checkpoint at tree size {size} (latest is {latest}): proofs are served only at tree sizes a checkpoint was signed for — each group commit signs one at its size; use the size of a checkpoint you hold (a receipt's, or GetCheckpoint's), or 0 for the latest"
    )]
    NoCheckpoint { size: u64, latest: u64 },
    /// A tree size beyond the newest durable checkpoint.
    #[error("tree size {size} is beyond the log's latest checkpoint, size {latest}")]
    BeyondLog { size: u64, latest: u64 },
    /// An entry index at or beyond the log size.
    #[error("{what} {index} is beyond the log's latest checkpoint, size {latest}")]
    IndexBeyondLog {
        what: &'static str,
        index: u64,
        latest: u64,
    },
    /// A leaf that is not inside the tree it should be proved in.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    LeafOutOfRange { index: u64, size: u64 },
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder { old_size: u64, new_size: u64 },
    /// A range whose start lies after its end.
    #[error("start {start} is after end {end}")]
    StartAfterEnd { start: u64, end: u64 },
    /// A range longer than one call may stream.
    #[error("entries [{start}, {end}) are {count}; at most {max} may be asked for in one call")]
    TooManyEntries {
        start: u64,
        end: u64,
        count: u64,
        max: u64,
    },
}

/// The checkpoint size `GetCheckpoint` asks for: `0` means the latest.
///
/// `latest` is the size of the newest durable checkpoint (0 when none).
/// The caller still has to find a stored checkpoint at the returned size.
pub fn checkpoint_size(requested: u64, latest: u64) -> Result<u64, LogBoundsError> {
    requested_size(requested, latest, |size, latest| {
        LogBoundsError::NoCheckpoint { size, latest }
    })
}

/// The tree size a proof is asked against: `0` means the latest; sizes
/// beyond the latest checkpoint are out of range.
pub fn proof_tree_size(requested: u64, latest: u64) -> Result<u64, LogBoundsError> {
    requested_size(requested, latest, |size, latest| {
        LogBoundsError::BeyondLog { size, latest }
    })
}

/// `requested`, or `latest` for 0; `beyond(size, latest)` past the latest.
fn requested_size(
    requested: u64,
    latest: u64,
    beyond: fn(u64, u64) -> LogBoundsError,
) -> Result<u64, LogBoundsError> {
    match (requested, latest) {
        (0, 0) => Err(LogBoundsError::EmptyLog),
        (0, latest) => Ok(latest),
        (size, latest) if size > latest => Err(beyond(size, latest)),
        (size, _) => Ok(size),
    }
}

/// Checks that `leaf_index` lies inside the tree of `tree_size` leaves.
pub fn check_leaf(leaf_index: u64, tree_size: u64) -> Result<(), LogBoundsError> {
    if leaf_index < tree_size {
        Ok(())
    } else {
        Err(LogBoundsError::LeafOutOfRange {
            index: leaf_index,
            size: tree_size,
        })
    }
}

/// Resolves the sizes of a consistency proof request: `new_size` 0 means
/// the latest; `old_size` 0 (the empty tree) is allowed and trivially
/// consistent.
pub fn consistency_sizes(
    old_size: u64,
    new_size: u64,
    latest: u64,
) -> Result<(u64, u64), LogBoundsError> {
    let new_size = proof_tree_size(new_size, latest)?;
    if old_size > latest {
        return Err(LogBoundsError::BeyondLog {
            size: old_size,
            latest,
        });
    }
    if old_size > new_size {
        return Err(LogBoundsError::SizeOrder { old_size, new_size });
    }
    Ok((old_size, new_size))
}

/// The entries `[start, end)` a `GetEntries` call streams: `end` 0 means the
/// latest checkpoint's size. Empty when `start == end`.
pub fn entry_range(start: u64, end: u64, latest: u64) -> Result<Range<u64>, LogBoundsError> {
    let end = if end == 0 { latest } else { end };
    if start > latest {
        return Err(LogBoundsError::IndexBeyondLog {
            what: "start",
            index: start,
            latest,
        });
    }
    if end > latest {
        return Err(LogBoundsError::IndexBeyondLog {
            what: "end",
            index: end,
            latest,
        });
    }
    if start > end {
        return Err(LogBoundsError::StartAfterEnd { start, end });
    }
    let count = end - start;
    if count > MAX_ENTRIES_PER_CALL {
        return Err(LogBoundsError::TooManyEntries {
            start,
            end,
            count,
            max: MAX_ENTRIES_PER_CALL,
        });
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_zero_is_latest_and_beyond_is_not_found() {
        assert_eq!(checkpoint_size(0, 0), Err(LogBoundsError::EmptyLog));
        assert_eq!(checkpoint_size(0, 7), Ok(7));
        assert_eq!(checkpoint_size(3, 7), Ok(3));
        assert_eq!(checkpoint_size(7, 7), Ok(7));
        assert_eq!(
            checkpoint_size(8, 7),
            Err(LogBoundsError::NoCheckpoint { size: 8, latest: 7 })
        );
    }

    #[test]
    fn proof_sizes_and_leaves() {
        assert_eq!(proof_tree_size(0, 0), Err(LogBoundsError::EmptyLog));
        assert_eq!(proof_tree_size(0, 5), Ok(5));
        assert_eq!(
            proof_tree_size(6, 5),
            Err(LogBoundsError::BeyondLog { size: 6, latest: 5 })
        );
        assert_eq!(check_leaf(4, 5), Ok(()));
        assert_eq!(
            check_leaf(5, 5),
            Err(LogBoundsError::LeafOutOfRange { index: 5, size: 5 })
        );
    }

    #[test]
    fn consistency_sizes_are_ordered_and_inside_the_log() {
        assert_eq!(consistency_sizes(0, 0, 9), Ok((0, 9)));
        assert_eq!(consistency_sizes(4, 0, 9), Ok((4, 9)));
        assert_eq!(consistency_sizes(4, 4, 9), Ok((4, 4)));
        assert_eq!(
            consistency_sizes(5, 4, 9),
            Err(LogBoundsError::SizeOrder {
                old_size: 5,
                new_size: 4
            })
        );
        assert_eq!(
            consistency_sizes(10, 0, 9),
            Err(LogBoundsError::BeyondLog {
                size: 10,
                latest: 9
            })
        );
        assert_eq!(
            consistency_sizes(1, 10, 9),
            Err(LogBoundsError::BeyondLog {
                size: 10,
                latest: 9
            })
        );
        assert_eq!(consistency_sizes(0, 0, 0), Err(LogBoundsError::EmptyLog));
    }

    #[test]
    fn entry_ranges() {
        assert_eq!(entry_range(0, 0, 0), Ok(0..0));
        assert_eq!(entry_range(0, 0, 12), Ok(0..12));
        assert_eq!(entry_range(3, 5, 12), Ok(3..5));
        assert_eq!(entry_range(12, 0, 12), Ok(12..12));
        assert!(matches!(
            entry_range(13, 0, 12),
            Err(LogBoundsError::IndexBeyondLog { what: "start", .. })
        ));
        assert!(matches!(
            entry_range(0, 13, 12),
            Err(LogBoundsError::IndexBeyondLog { what: "end", .. })
        ));
        assert_eq!(
            entry_range(5, 3, 12),
            Err(LogBoundsError::StartAfterEnd { start: 5, end: 3 })
        );
        let big = 3 * MAX_ENTRIES_PER_CALL;
        assert_eq!(
            entry_range(1, MAX_ENTRIES_PER_CALL + 1, big),
            Ok(1..MAX_ENTRIES_PER_CALL + 1)
        );
        let err = entry_range(0, MAX_ENTRIES_PER_CALL + 1, big).unwrap_err();
        assert!(err.to_string().contains("at most 10000"), "{err}");
    }
}
