//! Configuration from the environment and log output, against the real
//! binary: a `CREDSHARE_*` variable that looks like a config key but is not
//! one stops the node with exit 2 naming it; logs written to a file carry no
//! ANSI colour codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use credshare_e2e::{Consortium, NodeProcess, NodeSpec, bin};

#[test]
fn unknown_config_variables_stop_the_node_and_logs_have_no_colour() {
    let c = Consortium::new().unwrap();
    let mut node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    node.stop().unwrap();
    let log = node.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );

    for (var, says) in [
        (
            "CREDSHARE_LISTEN_PEER",
            "did you mean CREDSHARE_LISTEN__PEER",
        ),
        (
            "CREDSHARE_LISTEN__PEERS",
            "unknown config key `listen.peers`",
        ),
        ("CREDSHARE_LISTN__PEER", "unknown config section `listn`"),
    ] {
        let out = Command::new(bin("credshare-node"))
            .arg("--config")
            .arg(&node.config)
            .env(var, "127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(stderr.contains(says), "{var}: {stderr}");
    }

    // The CLI's variables are not config keys: the node starts with them.
    let cli_vars = [
        ("CREDSHARE_CERTS", "/nowhere"),
        ("CREDSHARE_SECRET", "/nowhere"),
    ];
    let env: Vec<(String, String)> = cli_vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    node.spawn(&env).unwrap();
    node.stop().unwrap();
}
