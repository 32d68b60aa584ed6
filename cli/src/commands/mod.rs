//! One module per command group.

pub mod assess;
pub mod audit;
pub mod bench;
pub mod bench_query;
pub mod consent;
pub mod demo;
pub mod node;
pub mod records;
pub mod status;
