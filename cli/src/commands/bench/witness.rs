//! `credshare bench query --witnesses`: the witness side's capacity. BANK-A
//! and BANK-C (BANK-B's peers) resubmit, as fast as BANK-B answers, the
//! checkpoint of their log BANK-B already cosigned: each submission is the
//! whole witness path (signature and certificate check, the per-log lock, a
//! durable write through the group commit, a cosignature), so the rate is
//! what BANK-B sustains for two logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use credshare_proto::v1 as pb;

use super::BenchNode;
use super::phase::{Phase, finish_phase};
use crate::connection::Resolved;

/// Submissions to BANK-B by its peers for `duration`, `concurrency`
/// calls in flight split over the peers' logs.
pub(super) async fn submissions_phase(
    bench: &BenchNode,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let mut submissions = Vec::new();
    for peer in &bench.peers {
        submissions.push(cosigned_submission(bench, &peer.institution).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (client, request) = submissions[w % submissions.len()].clone();
            let stop = stop.clone();
            tokio::spawn(async move { submit_until(client, request, stop).await })
        })
        .collect();
    Ok(finish_phase(workers, stop, started, duration).await)
}

type WitnessClient = pb::witness_service_client::WitnessServiceClient<tonic::transport::Channel>;

/// A client of BANK-B's witness service as `institution`'s node and the
/// submission of `institution`'s newest checkpoint, once BANK-B holds it.
async fn cosigned_submission(
    bench: &BenchNode,
    institution: &str,
) -> anyhow::Result<(WitnessClient, pb::AddCheckpointRequest)> {
    let peer = bench
        .peers
        .iter()
        .find(|p| p.institution == institution)
        .context("peer")?;
    let holder = bench.node.peer_addr.to_string();
    let dir = bench.ws.pki.join(institution);
    let channel = Resolved::from_certs_dir(&dir, "node", &holder)
        .channel(&holder)
        .await?;
    let mut client = WitnessClient::new(channel);
    let own = peer.peer_addr.to_string();
    let mut audit = Resolved::from_certs_dir(&dir, "admin", &own)
        .audit_client(&own)
        .await?;
    let started = Instant::now();
    loop {
        let newest = audit
            .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
            .await?
            .into_inner();
        let held = client
            .get_witnessed_checkpoint(pb::GetWitnessedCheckpointRequest {})
            .await?
            .into_inner();
        let note = newest.checkpoint.map(|c| c.signed_note).unwrap_or_default();
        if held.size > 0 && held.checkpoint.starts_with(&note) {
            let request = pb::AddCheckpointRequest {
                old_size: held.size,
                checkpoint: note,
                signer_certificate: newest.signer_certificate,
                ..Default::default()
            };
            return Ok((client, request));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("BANK-B did not cosign {institution}'s log within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (accepted, failed, latencies in µs).
async fn submit_until(
    mut client: WitnessClient,
    request: pb::AddCheckpointRequest,
    stop: Arc<AtomicBool>,
) -> (u64, u64, Vec<u64>) {
    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        match client.add_checkpoint(request.clone()).await {
            Ok(_) => {
                ok += 1;
                lat.push(t.elapsed().as_micros() as u64);
            }
            Err(_) => errors += 1,
        }
    }
    (ok, errors, lat)
}

/// The witness figures, after the query table.
pub(super) fn report(phase: &Phase, status: &pb::StatusResponse) {
    println!(
        "  {:<28} {:>10.0} {:>10.2} {:>10.2} {:>8}",
        "AddCheckpoint (2 logs)",
        phase.rate(),
        phase.pct(0.5),
        phase.pct(0.99),
        phase.errors
    );
    for w in &status.witnesses {
        println!(
            "  witness {:<20} {} at size {} (of {})",
            w.institution_id, w.state, w.cosigned_size, status.log_size
        );
    }
}
