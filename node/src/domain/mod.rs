//! The domain: borrower identifiers and keys, records and their rules, code
//! names of the protocol's enums. No tonic, no sled: everything here is plain
//! data and pure functions, so every rule is unit-tested in isolation.
//!
//! * [`borrower`] — USCC and RID parsing, the consortium secret, and the
//!   HMAC borrower key that replaces raw identifiers past the edge.
//! * [`records`] — validation of credit and visit summaries (DOMAIN.md).
//! * [`codes`] — short code names ↔ protocol enums, ISO 4217 currencies.
//! * [`consent`] — the holder's decision on a consented peer query.
//! * [`indicators`] — derived indicators (SUMMARY scope answers).
//! * [`assessment`] — the cross-institution merge and its warning level.
//! * [`visits`] — the post-loan visit schedule.

pub mod assessment;
pub mod borrower;
pub mod codes;
pub mod consent;
pub mod indicators;
pub mod records;
pub mod visits;

pub use borrower::{BorrowerId, BorrowerKey, ConsortiumSecret, IdError, Rid, SecretError, Uscc};
pub use codes::{CodeEnum, code_name, parse_code};
pub use records::{FieldError, validate_credit, validate_visit};
