//! domain (filled in below).

pub mod consent;
pub mod indicators;
