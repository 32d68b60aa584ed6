//! domain (filled in below).

pub mod consent;
pub mod indicators;
pub mod assessment;
pub mod visits;
