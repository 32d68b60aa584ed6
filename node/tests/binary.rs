//! The `credshare-node` binary's argument handling. (Also makes
//! `cargo test --workspace` build the binary the end-to-end tests run.)

use std::process::Command;

#[test]
fn missing_config_file_is_a_config_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_credshare-node"))
        .args(["--config", "/nonexistent/credshare-node.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/credshare-node.toml"));
}
