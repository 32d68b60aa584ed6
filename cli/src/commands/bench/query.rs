//! `credshare bench query`: audited `QueryBorrower` throughput and latency
//! against a real node holding sample borrowers, beside `grpc.health.v1`
//! Check over the same mTLS connections in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::Signer;
use credshare_proto::v1 as pb;
use tonic::transport::Channel;

use super::phase::{Phase, finish_phase};
use super::{BenchNode, cpu_seconds, rss_kib};
use crate::commands::status::fetch_status;
use crate::connection::Resolved;
use crate::import::import_file;
use crate::output::Output;
use crate::rows::RecordKind;

/// Options of `credshare bench query`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryBenchArgs {
    /// Keep the work directory (PKI, node config, store, node log) here.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Sample borrowers the holder node stores.
    #[arg(long, default_value_t = 100_000)]
    pub borrowers: u64,
    /// mTLS connections shared by the workers.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Start BANK-A and BANK-C beside BANK-B as its peers, and so its
    /// witnesses. `on`: BANK-B's receipts carry their cosignatures, and a
    /// third phase measures the witness submissions per second BANK-B
    /// handles; `off`: the same three nodes with `witness.submit = false`
    /// (the baseline: no submissions, no cosignatures).
    #[arg(long, value_enum)]
    pub witnesses: Option<Witnessing>,
}

/// `--witnesses`: three nodes, witnessing on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Witnessing {
    On,
    Off,
}

impl QueryBenchArgs {
    /// `credshare bench query`.
    pub async fn run(&self) -> anyhow::Result<()> {
        println!(
            "preparing: dev consortium, BANK-B holding {} sample borrowers (credit and visits)",
            self.borrowers
        );
        let peers: &[&str] = match self.witnesses {
            Some(_) => &["BANK-A", "BANK-C"],
            None => &[],
        };
        let submit = self.witnesses != Some(Witnessing::Off);
        let mut bench = BenchNode::start_with_peers(self.dir.as_deref(), "BANK-B", peers, submit)?;
        let (credit, _) = load_holder(&bench, self.borrowers, &Output::new(true)).await?;
        // BANK-A asks: one signed grant per borrower for a working set of borrowers.
        let requests = Arc::new(grant_requests(&bench, &credit, 1000)?);
        let channels = connect_as_bank_a(&bench, self.connections).await?;
        let duration = Duration::from_secs(self.duration.max(1));
        println!(
            "measuring: concurrency {}, {} connections, {} s per phase",
            self.concurrency,
            channels.len(),
            duration.as_secs()
        );
        let c = self.concurrency;
        let health = run_phase(&channels, c, duration, requests.clone(), false).await;
        let before = fetch_status(bench.admin().await?).await?;
        let cpu_before = cpu_seconds(bench.node.pid());
        let audited = run_phase(&channels, c, duration, requests, true).await;
        let node_cpu = cpu_seconds(bench.node.pid())
            .zip(cpu_before)
            .map(|(a, b)| a - b);
        let after = fetch_status(bench.admin().await?).await?;
        let rss = rss_kib(bench.node.pid());
        let witness = if self.witnesses == Some(Witnessing::On) {
            Some(super::witness::submissions_phase(&bench, c, duration).await?)
        } else {
            None
        };
        bench.node.stop()?;
        for peer in &mut bench.peers {
            peer.stop()?;
        }
        self.report(&health, &audited, (&before, &after), rss, node_cpu);
        if let Some(phase) = witness {
            super::witness::report(&phase, &after);
        }
        Ok(())
    }

    fn report(
        &self,
        health: &Phase,
        audited: &Phase,
        (before, after): (&pb::StatusResponse, &pb::StatusResponse),
        rss: Option<u64>,
        node_cpu: Option<f64>,
    ) {
        let entries = after.log_size - before.log_size;
        let batches = (after.commit_batches - before.commit_batches).max(1);
        println!(
            "\ncredshare bench query (C={}, {} s per phase, SUMMARY scope, durable log before every answer)",
            self.concurrency,
            self.duration.max(1)
        );
        println!(
            "  {:<28} {:>10} {:>10} {:>10} {:>8}",
            "", "req/s", "p50 ms", "p99 ms", "errors"
        );
        for (name, p) in [
            ("grpc.health.v1 Check", health),
            ("QueryBorrower (audited)", audited),
        ] {
            println!(
                "  {:<28} {:>10.0} {:>10.2} {:>10.2} {:>8}",
                name,
                p.rate(),
                p.pct(0.5),
                p.pct(0.99),
                p.errors
            );
        }
        println!(
            "  audited / health throughput  {:.2}",
            audited.rate() / health.rate().max(1e-9)
        );
        println!(
            "  node CPU per audited query   {}",
            node_cpu
                .map(|c| format!("{:.0} µs", c * 1e6 / audited.ok.max(1) as f64))
                .unwrap_or_else(|| "n/a".into())
        );
        println!(
            "  log entries/s                {:.0}",
            entries as f64 / audited.seconds
        );
        println!(
            "  mean group-commit batch      {:.1} entries ({} batches, one fsync + one signed checkpoint each)",
            entries as f64 / batches as f64,
            batches
        );
        println!(
            "  node RSS (peak)              {} KiB",
            rss.map(|r| r.to_string()).unwrap_or_else(|| "n/a".into())
        );
    }
}

/// mTLS connections to the holder's peer listener with BANK-A's node
/// certificate.
pub(super) async fn connect_as_bank_a(
    bench: &BenchNode,
    connections: usize,
) -> anyhow::Result<Vec<Channel>> {
    let peer_addr = bench.node.peer_addr.to_string();
    let bank_a = Resolved::from_certs_dir(&bench.ws.pki.join("BANK-A"), "node", &peer_addr);
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        channels.push(bank_a.channel(&peer_addr).await?);
    }
    Ok(channels)
}

/// Rows imported and the seconds it took, over every file of a sample.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(super) struct Imported {
    pub(super) rows: u64,
    pub(super) seconds: f64,
}

/// Writes the holder's sample and imports it (a progress spinner unless
/// `out` is JSON); returns the credit file and what was imported.
pub(super) async fn load_holder(
    bench: &BenchNode,
    borrowers: u64,
    out: &Output,
) -> anyhow::Result<(std::path::PathBuf, Imported)> {
    let holder = InstitutionId::parse(&bench.node.institution)?;
    let dir = bench.ws.root.join("sample");
    let sample = crate::sample::write_sample(&holder, borrowers, 5, &dir)?;
    let mut imported = Imported::default();
    for (file, kind) in [
        (&sample.credit_file, RecordKind::Credit),
        (&sample.visits_file, RecordKind::Visit),
    ] {
        let context = bench.import_context(&holder)?;
        let t = import_file(bench.admin().await?, file, kind, context, out).await?;
        imported.rows += t.rows;
        imported.seconds += t.seconds;
        if !out.is_json() {
            println!(
                "  imported {} rows ({:.0} rows/s)",
                t.rows, t.rows_per_second
            );
        }
    }
    Ok((sample.credit_file, imported))
}

/// Requests for `n` distinct borrowers of the holder, each with its grant.
pub(super) fn grant_requests(
    bench: &BenchNode,
    credit: &std::path::Path,
    n: usize,
) -> anyhow::Result<Vec<pb::QueryBorrowerRequest>> {
    let secret = ConsortiumSecret::from_file(&bench.ws.secret)?;
    let bank_a = bench.ws.pki.join("BANK-A");
    let signer = Signer::load(&bank_a.join("signer.crt"), &bank_a.join("signer.key"))?;
    let mut reader = csv::Reader::from_path(credit)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for row in reader.records() {
        let raw = row?[0].to_string();
        if !seen.insert(raw.clone()) {
            continue;
        }
        let key = BorrowerKey::derive(&secret, &BorrowerId::parse(&raw)?);
        out.push(pb::QueryBorrowerRequest {
            consent: Some(super::loan_consent(
                &signer,
                "BANK-A",
                format!("BANK-A-BENCH-{}", out.len()),
                &key,
            )),
            borrower_key: key.as_bytes().to_vec(),
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: Vec::new(),
            requester_officer: crate::pki::DEV_OFFICER.into(),
            relationship: None,
            discovery_receipt_id: String::new(),
            key_generation: 0,
        });
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

pub(super) async fn run_phase(
    channels: &[Channel],
    concurrency: usize,
    duration: Duration,
    requests: Arc<Vec<pb::QueryBorrowerRequest>>,
    audited: bool,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    let concurrency = concurrency.max(1);
    for w in 0..concurrency {
        let worker = Worker {
            channel: channels[w % channels.len()].clone(),
            stop: stop.clone(),
            requests: requests.clone(),
            first: w,
            step: concurrency,
            audited,
        };
        workers.push(tokio::spawn(worker.run()));
    }
    finish_phase(workers, stop, started, duration).await
}

/// One client loop of a phase: requests `first`, `first + step`, … until
/// told to stop.
struct Worker {
    channel: Channel,
    stop: Arc<AtomicBool>,
    requests: Arc<Vec<pb::QueryBorrowerRequest>>,
    first: usize,
    step: usize,
    audited: bool,
}

impl Worker {
    /// (answered, failed, latencies in µs).
    async fn run(self) -> (u64, u64, Vec<u64>) {
        let mut peer = pb::peer_service_client::PeerServiceClient::new(self.channel.clone());
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel);
        let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
        let mut i = self.first;
        while !self.stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let result = if self.audited {
                let mut req = self.requests[i % self.requests.len()].clone();
                req.request_nonce = (i as u64).to_be_bytes().to_vec();
                peer.query_borrower(req).await.map(|_| ())
            } else {
                health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|_| ())
            };
            match result {
                Ok(()) => {
                    ok += 1;
                    lat.push(t.elapsed().as_micros() as u64);
                }
                Err(_) => errors += 1,
            }
            i += self.step;
        }
        (ok, errors, lat)
    }
}
