//! One module per command group.

pub mod node;
pub mod status;
pub mod records;
