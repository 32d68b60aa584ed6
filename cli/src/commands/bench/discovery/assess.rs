//! The assessment phase: `assessments` targeted assessments by the real
//! nodes' institutions in turn, `concurrency` at a time, each of a borrower
//! drawn uniformly: a consent signed by the requester, one evaluation bound
//! to its hash, one lookup with the receipt, then a `QueryBorrower` with
//! the receipt id to every holder that is a real node (concurrently) —
//! a holder that is the requester answers from its own data, a simulated
//! holder is counted (its bytes are the real holders' mean; it adds no
//! latency). Afterwards, the answer a non-holder gives under today's
//! fan-out is measured on a real node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::signing::{Signer, sha256};
use credshare_proto::v1 as pb;
use futures::StreamExt;
use prost::Message;
use rand::{Rng, SeedableRng};

use super::enrol::{client, evaluate, wire};
use super::population::{Population, REAL};
use super::setup::World;
use crate::commands::discovery::client::DiscoveryClient;
use crate::connection::{PeerClient, Resolved};
use crate::output::Output;

/// One real node's institution as a requester: its discovery client, its
/// signer, and peer clients to the other real nodes.
#[derive(Clone)]
struct Requester {
    institution: String,
    discovery: DiscoveryClient,
    signer: Arc<Signer>,
    peers: Vec<(String, PeerClient)>,
}

/// What the assessment phase measured.
#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Assessed {
    pub assessments: u64,
    pub seconds: f64,
    /// Per-assessment latency (evaluation, lookup, real holders' queries), µs, sorted.
    #[serde(skip)]
    pub latencies_us: Vec<u64>,
    /// Evaluation and lookup bytes, both ways.
    pub discovery_bytes: u64,
    /// Queries sent to real holders, and their bytes both ways.
    pub real_queries: u64,
    pub real_query_bytes: u64,
    /// Holders that are simulated members (queries not sent).
    pub simulated_queries: u64,
    /// Holders that were the requester itself (answered from own data).
    pub own_holdings: u64,
    /// Assessments whose lookup found no holder.
    pub no_holder: u64,
    /// Service CPU time during the phase.
    pub service_cpu_seconds: f64,
}

/// Runs the phase.
pub(super) async fn assess_all(
    world: &World,
    population: &Population,
    assessments: u64,
    concurrency: usize,
    out: &Output,
) -> anyhow::Result<Assessed> {
    let requesters = requesters(world).await?;
    let secret = world.secret()?;
    let bar = out.progress(
        indicatif::ProgressBar::new(assessments),
        "  assessments {bar:30} {pos}/{len}  {per_sec}  eta {eta}",
    );
    let totals = Totals::default();
    let pid = world.service.pid();
    let cpu_before = super::cpu_seconds(pid);
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(assessments);
    let plan: Vec<(u64, usize)> = (0..assessments)
        .map(|i| (i, rng.random_range(0..population.borrowers.len())))
        .collect();
    let mut runs = futures::stream::iter(plan)
        .map(|(i, n)| {
            let requester = requesters[i as usize % requesters.len()].clone();
            let id = population.borrowers[n].as_str();
            assess_one(requester, id, &secret, i, &totals)
        })
        .buffer_unordered(concurrency.max(1));
    let mut latencies_us = Vec::with_capacity(assessments as usize);
    while let Some(done) = runs.next().await {
        latencies_us.push(done?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    latencies_us.sort_unstable();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(Assessed {
        assessments,
        seconds: started.elapsed().as_secs_f64(),
        latencies_us,
        discovery_bytes: load(&totals.discovery_bytes),
        real_queries: load(&totals.real_queries),
        real_query_bytes: load(&totals.real_query_bytes),
        simulated_queries: load(&totals.simulated_queries),
        own_holdings: load(&totals.own_holdings),
        no_holder: load(&totals.no_holder),
        service_cpu_seconds: super::cpu_seconds(pid) - cpu_before,
    })
}

#[derive(Default)]
struct Totals {
    discovery_bytes: AtomicU64,
    real_queries: AtomicU64,
    real_query_bytes: AtomicU64,
    simulated_queries: AtomicU64,
    own_holdings: AtomicU64,
    no_holder: AtomicU64,
}

/// Each real node's institution, connected as a requester.
async fn requesters(world: &World) -> anyhow::Result<Vec<Requester>> {
    let mut all = Vec::new();
    for institution in REAL {
        let certs = world.certs(institution);
        let signer = Signer::load(&certs.join("signer.crt"), &certs.join("signer.key"))?;
        let mut peers = Vec::new();
        for node in world
            .holders
            .iter()
            .filter(|n| n.institution != institution)
        {
            let addr = node.peer_addr.to_string();
            let client = Resolved::from_certs_dir(&certs, "node", &addr)
                .peer_client(&addr)
                .await?;
            peers.push((node.institution.clone(), client));
        }
        all.push(Requester {
            institution: institution.to_owned(),
            discovery: client(world, institution).await?,
            signer: Arc::new(signer),
            peers,
        });
    }
    Ok(all)
}

/// One targeted assessment of borrower `id`: its latency in µs.
async fn assess_one(
    mut r: Requester,
    id: &str,
    secret: &ConsortiumSecret,
    i: u64,
    totals: &Totals,
) -> anyhow::Result<u64> {
    let borrower = BorrowerId::parse(id)?;
    let key = BorrowerKey::derive(secret, &borrower);
    let consent = consent(&r, &key, i);
    let consent_sha256 = sha256(&consent.payload);
    let t = Instant::now();
    let request = pb::EvaluateRequest {
        purpose: pb::Purpose::LoanApproval as i32,
        consent_sha256: consent_sha256.clone(),
        ..Default::default()
    };
    let (pseudonyms, evaluated, mut bytes) = evaluate(&mut r.discovery, vec![borrower], request)
        .await
        .context("assessment evaluation")?;
    let lookup = pb::LookupHoldersRequest {
        pseudonym: pseudonyms[0].0.to_vec(),
        receipt_id: evaluated.receipt_id.clone(),
        consent_sha256,
    };
    bytes += wire(&lookup);
    let found = r
        .discovery
        .lookup(lookup)
        .await
        .context("lookup")?
        .into_inner();
    bytes += wire(&found);
    totals.discovery_bytes.fetch_add(bytes, Ordering::Relaxed);
    if found.holders.is_empty() {
        totals.no_holder.fetch_add(1, Ordering::Relaxed);
    }
    let query = pb::QueryBorrowerRequest {
        consent: Some(consent),
        borrower_key: key.as_bytes().to_vec(),
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        request_nonce: i.to_be_bytes().to_vec(),
        requester_officer: String::new(),
        relationship: None,
        discovery_receipt_id: evaluated.receipt_id,
        // Generation 1 (the HMAC) is written as 0 on the wire.
        key_generation: 0,
    };
    query_holders(&r, &found.holders, query, totals).await?;
    Ok(t.elapsed().as_micros() as u64)
}

/// Queries the holders that are real nodes (concurrently) and counts the
/// others: the requester itself, simulated members.
async fn query_holders(
    r: &Requester,
    holders: &[String],
    query: pb::QueryBorrowerRequest,
    totals: &Totals,
) -> anyhow::Result<()> {
    let mut asked = Vec::new();
    for holder in holders {
        if *holder == r.institution {
            totals.own_holdings.fetch_add(1, Ordering::Relaxed);
        } else if let Some((_, peer)) = r.peers.iter().find(|(inst, _)| inst == holder) {
            asked.push(ask(peer.clone(), query.clone()));
        } else {
            totals.simulated_queries.fetch_add(1, Ordering::Relaxed);
        }
    }
    for answer in futures::future::join_all(asked).await {
        let bytes = answer?;
        totals.real_query_bytes.fetch_add(bytes, Ordering::Relaxed);
        totals.real_queries.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// A `QueryBorrower` to a holder discovery named: its bytes both ways.
/// The holder must answer with the borrower's facility (else discovery
/// and the records disagree, and the run stops).
async fn ask(peer: PeerClient, query: pb::QueryBorrowerRequest) -> anyhow::Result<u64> {
    let (bytes, answer) = ask_for(peer, query).await?;
    let facilities = answer.indicators.map_or(0, |i| i.facility_count);
    if facilities == 0 {
        anyhow::bail!(
            "{} was named a holder by discovery but holds no facility of the borrower",
            answer.institution_id
        );
    }
    Ok(bytes)
}

/// A `QueryBorrower`: its bytes both ways, and the decoded answer.
async fn ask_for(
    mut peer: PeerClient,
    query: pb::QueryBorrowerRequest,
) -> anyhow::Result<(u64, pb::BorrowerAnswer)> {
    let sent = wire(&query);
    let response = peer.query_borrower(query).await.context("QueryBorrower")?;
    let answer = pb::BorrowerAnswer::decode(response.get_ref().answer.as_slice())?;
    Ok((sent + wire(response.get_ref()), answer))
}

/// The requester's signed consent for loan approval of `key`.
fn consent(r: &Requester, key: &BorrowerKey, i: u64) -> pb::SignedEnvelope {
    let id = format!("{}-BENCH-{i}", r.institution);
    super::super::loan_consent(&r.signer, &r.institution, id, key)
}

/// Today's fan-out, measured: the mean bytes (both ways) of a query to a
/// real node about `samples` borrowers it does not hold, as every
/// non-holder would answer one. BANK-A asks BANK-B.
pub(super) async fn non_holder_bytes(
    world: &World,
    population: &Population,
    samples: usize,
) -> anyhow::Result<f64> {
    let requesters = requesters(world).await?;
    let r = &requesters[0];
    let secret = world.secret()?;
    let held_by_b = |n: &usize| population.lenders[*n].contains(&1);
    let picks: Vec<usize> = (0..population.borrowers.len())
        .filter(|n| !held_by_b(n))
        .take(samples.max(1))
        .collect();
    let mut total = 0;
    for (k, n) in picks.iter().enumerate() {
        let key = BorrowerKey::derive(&secret, &BorrowerId::parse(&population.borrowers[*n])?);
        let query = pb::QueryBorrowerRequest {
            consent: Some(consent(r, &key, u64::MAX - k as u64)),
            borrower_key: key.as_bytes().to_vec(),
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: (u64::MAX - k as u64).to_be_bytes().to_vec(),
            ..Default::default()
        };
        let (bytes, answer) = ask_for(r.peers[0].1.clone(), query).await?;
        if answer.indicators.is_some_and(|i| i.facility_count > 0) {
            anyhow::bail!("BANK-B answered with a facility of a borrower it does not hold");
        }
        total += bytes;
    }
    Ok(total as f64 / picks.len().max(1) as f64)
}
