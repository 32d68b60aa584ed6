//! Helpers of the witnessing tests (`tests/witness.rs`,
//! `tests/witness_faults.rs`): federations that submit every 100 ms,
//! imports, statuses, and what a regulator reads.

use std::time::Duration;

use credshare_node::audit::Checkpoint;
use credshare_proto::v1 as pb;
use prost::Message;

use crate::{Consortium, NodeProcess, admin_client, status, text};

/// Witness submissions every 100 ms instead of every second.
pub const FAST: &[(&str, &str)] = &[("CREDSHARE_WITNESS__SUBMIT_INTERVAL_MS", "100")];

pub fn import(c: &Consortium, node: &NodeProcess, borrowers: u64, seed: u64) {
    let dir = c
        .sample_a(&format!("s-{}-{seed}", node.institution), borrowers, seed)
        .expect("witness test fixture");
    let credit = dir.join("credit.csv");
    let out = c
        .admin_cli(node)
        .env("CREDSHARE_CERTS", c.certs(&node.institution))
        .args([
            "records",
            "import",
            credit.to_str().expect("witness test fixture"),
            "--kind",
            "credit",
        ])
        .output()
        .expect("witness test fixture");
    assert!(out.status.success(), "{}", text(&out));
}

pub async fn node_status(c: &Consortium, node: &NodeProcess) -> pb::StatusResponse {
    let tls = c
        .tls(&node.institution, "admin")
        .expect("witness test fixture");
    status(
        &mut admin_client(&tls, node.admin_addr)
            .await
            .expect("witness test fixture"),
    )
    .await
    .expect("witness test fixture")
}

/// Waits until every witness of `node` cosigned its log at its size;
/// returns that size.
pub async fn wait_cosigned(c: &Consortium, node: &NodeProcess, witnesses: usize) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let s = node_status(c, node).await;
        let done = s.witnesses.len() == witnesses
            && s.witnesses
                .iter()
                .all(|w| w.state == "COSIGNED" && w.cosigned_size == s.log_size);
        if done {
            return s.log_size;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "witnesses did not cosign {}'s log: {:?}",
            node.institution,
            s.witnesses
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest `WitnessEvidenceEntry` in `node`'s log, as a regulator reads it.
pub async fn evidence_entry(c: &Consortium, node: &NodeProcess) -> pb::WitnessEvidenceEntry {
    let tls = c.tls("REG-1", "regulator").expect("witness test fixture");
    let channel = crate::channel(&tls, node.peer_addr)
        .await
        .expect("witness test fixture");
    let mut audit = pb::audit_service_client::AuditServiceClient::new(channel);
    // Entries up to the newest durable checkpoint (what GetEntries serves).
    let newest = newest_checkpoint(c, node)
        .await
        .checkpoint
        .expect("witness test fixture");
    let size = Checkpoint::parse_unverified(&newest.signed_note)
        .expect("witness test fixture")
        .size;
    let mut stream = audit
        .get_entries(pb::GetEntriesRequest {
            start: 0,
            end: size,
        })
        .await
        .expect("witness test fixture")
        .into_inner();
    let mut found = None;
    while let Some(item) = stream.message().await.expect("witness test fixture") {
        let entry = pb::LogEntry::decode(item.entry.as_slice()).expect("witness test fixture");
        if let Some(pb::log_entry::Kind::WitnessEvidence(w)) = entry.kind {
            found = Some(w);
        }
    }
    found.expect("a witness-evidence entry")
}

/// `GetCheckpoint` of `node`'s newest checkpoint, as the regulator.
pub async fn newest_checkpoint(c: &Consortium, node: &NodeProcess) -> pb::GetCheckpointResponse {
    let tls = c.tls("REG-1", "regulator").expect("witness test fixture");
    let channel = crate::channel(&tls, node.peer_addr)
        .await
        .expect("witness test fixture");
    pb::audit_service_client::AuditServiceClient::new(channel)
        .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
        .await
        .expect("witness test fixture")
        .into_inner()
}

/// `AddCheckpoint` of `request` to `witness` as `who`'s `role`
/// certificate, expecting a refusal: the status.
pub async fn refused_submission(
    c: &Consortium,
    who: &str,
    role: &str,
    witness: &NodeProcess,
    request: pb::AddCheckpointRequest,
) -> tonic::Status {
    let tls = c.tls(who, role).expect("witness test fixture");
    let channel = crate::channel(&tls, witness.peer_addr)
        .await
        .expect("witness test fixture");
    pb::witness_service_client::WitnessServiceClient::new(channel)
        .add_checkpoint(request)
        .await
        .expect_err("the witness must refuse this submission")
}
