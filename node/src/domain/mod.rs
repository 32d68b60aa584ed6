//! The domain: borrower identifiers, records and their rules, consent,
//! indicators, assessment and the visit schedule. No tonic, no sled: plain
//! data and pure functions, so every rule is unit-tested in isolation.
//! The rules are stated in `docs/domain.md`.
//!
//! From the bottom up (each module uses only those above it):
//!
//! * [`field`] — [`FieldError`]: which field, and why.
//! * [`dates`] — ISO dates, UTC milliseconds and the clocks.
//! * [`borrower`] — USCC and RID parsing, the consortium secret, the
//!   [`BorrowerKey`] that replaces raw identifiers past the edge (HMAC in
//!   generation 1, OPRF pseudonym in 2+) and its key generation.
//! * [`codes`] — short code names ↔ protocol enums, ISO 4217 currencies.
//! * [`records`] — validation of credit and visit summaries.
//! * [`purpose`] — [`Purpose`] and [`Scope`] of a peer query.
//! * [`disputes`] — dispute marks, the 20-day answer, indicators without
//!   disputed records.
//! * [`oversight`] — query patterns a holder flags (probing, approval
//!   without lending).
//! * [`retention`] — when negative information expires (5 years after the
//!   bad behaviour ended).
//! * [`relationship`] — the post-loan rule: a reason-01 query's proof that
//!   the requester lends to the borrower.
//! * [`policy`] — the holder's own rules ([`HolderPolicy`]).
//! * [`consent`] — the holder's decision on a consented peer query.
//! * [`indicators`] — derived indicators (SUMMARY scope answers).
//! * [`assessment`] — the cross-institution merge and its warning level.
//! * [`visits`] — the post-loan visit schedule ([`VisitSchedule`]).

pub mod assessment;
pub mod borrower;
pub mod codes;
pub mod consent;
pub mod dates;
pub mod disputes;
pub mod field;
pub mod indicators;
pub mod oversight;
pub mod policy;
pub mod purpose;
pub mod records;
pub mod relationship;
pub mod retention;
pub mod visits;

pub use borrower::{BorrowerId, BorrowerKey, ConsortiumSecret, IdError, Rid, SecretError, Uscc};
pub use codes::{CodeEnum, code_name, parse_code};
pub use field::FieldError;
pub use policy::HolderPolicy;
pub use purpose::{Purpose, Scope};
pub use records::{validate_credit, validate_visit};
pub use visits::VisitSchedule;
