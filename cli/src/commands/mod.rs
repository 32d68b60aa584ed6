//! One module per command group.

pub mod audit;
pub mod bench;
pub mod demo;
pub mod node;
pub mod records;
pub mod status;
