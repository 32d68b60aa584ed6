//! The store's format version against the real binary: a store of the
//! previous format (no marker) is backed up and upgraded at start-up, with
//! its log intact; a store of a newer format is refused with exit 2 and a
//! message naming both versions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use credshare_e2e::{Consortium, NodeProcess, NodeSpec, admin_client, bin, status};
use credshare_node::storage::format::{BACKUPS, CURRENT, MARKER, read_marker, write_marker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_format_is_upgraded_and_a_newer_one_refused() {
    let c = Consortium::new().unwrap();
    let mut node = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let admin = c.tls("BANK-A", "admin").unwrap();
    let before = status(&mut admin_client(&admin, node.admin_addr).await.unwrap())
        .await
        .unwrap();
    node.stop().unwrap();
    assert_eq!(read_marker(&node.data_dir).unwrap(), Some(CURRENT));

    // The previous format: today's store without the marker.
    std::fs::remove_file(node.data_dir.join(MARKER)).unwrap();
    node.restart().unwrap();
    let after = status(&mut admin_client(&admin, node.admin_addr).await.unwrap())
        .await
        .unwrap();
    assert!(after.log_size >= before.log_size);
    assert!(node.log().contains("store upgraded"), "{}", node.log());
    node.stop().unwrap();
    assert_eq!(read_marker(&node.data_dir).unwrap(), Some(CURRENT));
    let backups = std::fs::read_dir(node.data_dir.join(BACKUPS))
        .unwrap()
        .count();
    assert_eq!(backups, 1);

    // A newer format stops the node: exit 2, both versions named.
    write_marker(&node.data_dir, CURRENT + 1).unwrap();
    let out = Command::new(bin("credshare-node"))
        .arg("--config")
        .arg(&node.config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("is format {}", CURRENT + 1)),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("(format {CURRENT})")), "{stderr}");
}
