//! The enrolment phase: every lending member — the three real nodes'
//! institutions and the simulated ones alike — computes the pseudonyms of
//! its portfolio by blinded evaluation at the real service, over mTLS with
//! its own node certificate, in batches of up to 10,000 (proofs verified),
//! and registers them. Bytes are protobuf message sizes plus the 5-byte
//! gRPC frame of each message (TLS and HTTP/2 overhead not counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use credshare_node::discovery::oprf::{BlindBatch, MAX_ELEMENTS_PER_CALL, Pseudonym};
use credshare_node::domain::borrower::BorrowerId;
use credshare_proto::v1 as pb;
use futures::StreamExt;
use prost::Message;

use super::population::Population;
use super::setup::World;
use crate::commands::discovery::client::DiscoveryClient;
use crate::connection::Resolved;
use crate::output::Output;

/// gRPC's length-prefixed message frame.
const FRAME: u64 = 5;

/// Bytes of one message on the wire (protobuf plus frame).
pub(super) fn wire<M: Message>(m: &M) -> u64 {
    m.encoded_len() as u64 + FRAME
}

/// What the enrolment phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Enrolment {
    pub members: usize,
    pub elements: u64,
    pub seconds: f64,
    pub bytes: u64,
    /// CPU time of the service process during the phase.
    pub service_cpu_seconds: f64,
}

/// A discovery client of `institution` (its node certificate).
pub(super) async fn client(world: &World, institution: &str) -> anyhow::Result<DiscoveryClient> {
    let addr = &world.service_addr;
    let channel = Resolved::from_certs_dir(&world.certs(institution), "node", addr)
        .channel(addr)
        .await?;
    Ok(DiscoveryClient::new(channel).max_decoding_message_size(16 * 1024 * 1024))
}

/// One evaluation of `ids` (blinded and finalized off the async threads):
/// the pseudonyms, the response, and the bytes both ways.
pub(super) async fn evaluate(
    client: &mut DiscoveryClient,
    ids: Vec<BorrowerId>,
    mut request: pb::EvaluateRequest,
) -> anyhow::Result<(Vec<Pseudonym>, pb::EvaluateResponse, u64)> {
    let batch = tokio::task::spawn_blocking(move || BlindBatch::borrowers(&ids)).await?;
    request.blinded_elements = batch.blinded.clone();
    let sent = wire(&request);
    let response = client
        .evaluate(request)
        .await
        .context("discovery service: Evaluate")?
        .into_inner();
    let bytes = sent + wire(&response);
    let (pseudonyms, response) = tokio::task::spawn_blocking(move || {
        let r = &response;
        let pseudonyms = batch.finalize(&r.evaluated_elements, &r.proof, &r.public_key);
        (pseudonyms, response)
    })
    .await?;
    Ok((pseudonyms?, response, bytes))
}

/// Enrols every lending member's portfolio, `concurrency` members at a time.
pub(super) async fn enrol_all(
    world: &World,
    population: &Population,
    concurrency: usize,
    out: &Output,
) -> anyhow::Result<Enrolment> {
    let total = population.relationships();
    let bar = out.progress(
        indicatif::ProgressBar::new(total),
        "  enrolment {bar:30} {pos}/{len} pseudonyms  {per_sec}  eta {eta}",
    );
    let bytes = AtomicU64::new(0);
    let pid = world.service.pid();
    let cpu_before = super::cpu_seconds(pid);
    let started = Instant::now();
    let ranks: Vec<usize> = (0..population.members.len())
        .filter(|r| !population.portfolios[*r].is_empty())
        .collect();
    let members = ranks.len();
    let mut runs = futures::stream::iter(ranks)
        .map(|rank| enrol_member(world, population, rank, &bytes, &bar))
        .buffer_unordered(concurrency.max(1));
    while let Some(done) = runs.next().await {
        done?;
    }
    bar.finish_and_clear();
    Ok(Enrolment {
        members,
        elements: total,
        seconds: started.elapsed().as_secs_f64(),
        bytes: bytes.load(Ordering::Relaxed),
        service_cpu_seconds: super::cpu_seconds(pid) - cpu_before,
    })
}

/// One member: connect, evaluate and register its portfolio batch by batch.
async fn enrol_member(
    world: &World,
    population: &Population,
    rank: usize,
    bytes: &AtomicU64,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let member = &population.members[rank];
    let mut client = client(world, member).await?;
    for chunk in population.portfolios[rank].chunks(MAX_ELEMENTS_PER_CALL) {
        let ids = chunk
            .iter()
            .map(|n| BorrowerId::parse(&population.borrowers[*n as usize]))
            .collect::<Result<Vec<_>, _>>()?;
        let request = pb::EvaluateRequest {
            enrolment: true,
            ..Default::default()
        };
        let (pseudonyms, _, evaluated) = evaluate(&mut client, ids, request)
            .await
            .with_context(|| format!("enrolling {member}"))?;
        let register = pb::RegisterPseudonymsRequest {
            pseudonyms: pseudonyms.iter().map(|p| p.0.to_vec()).collect(),
        };
        let sent = wire(&register);
        let answer = client
            .register(register)
            .await
            .with_context(|| format!("registering {member}'s pseudonyms"))?
            .into_inner();
        bytes.fetch_add(evaluated + sent + wire(&answer), Ordering::Relaxed);
        bar.inc(chunk.len() as u64);
    }
    Ok(())
}
