//! The `credshare` binary's usage errors. (Also makes `cargo test
//! --workspace` build the binary the end-to-end tests run.)

use std::process::Command;

#[test]
fn status_without_certificates_names_the_missing_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_credshare"))
        .arg("status")
        .env("HOME", "/nonexistent")
        .env_remove("CREDSHARE_CERTS")
        .env_remove("CREDSHARE_PROFILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cert"));
}
