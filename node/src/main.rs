//! `credshare-node --config node.toml`: runs one credshare node.
fn main() {}
