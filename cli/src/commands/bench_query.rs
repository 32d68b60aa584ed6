//! `credshare bench query`: audited `QueryBorrower` throughput and latency
//! against a real node holding sample borrowers, beside `grpc.health.v1`
//! Check over the same mTLS connections in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::{CONSENT_GRANT_TYPE, Signer};
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;
use prost::Message;
use tonic::transport::Channel;

use crate::commands::demo;
use crate::commands::records::{self, ROWS_PER_CALL};
use crate::rows::{ImportContext, RecordKind, RecordReader};

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
}

/// Figures of one phase.
struct Phase {
    ok: u64,
    errors: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// `credshare bench query`.
pub async fn query(args: &QueryBenchArgs) -> anyhow::Result<()> {
    println!(
        "preparing: dev consortium, BANK-B holding {} sample borrowers (credit and visits)",
        args.borrowers
    );
    let ws = crate::commands::bench::BenchWorkspace::create(args.dir.as_deref())?;
    let (root, pki, secret_path) = (ws.root.as_path(), &ws.pki, &ws.secret);
    let holder = InstitutionId::parse("BANK-B")?;
    let sample = crate::sample::write_sample(&holder, args.borrowers, 5, &root.join("sample"))?;
    let mut nodes = demo::start_nodes_for(root, pki, secret_path, &["BANK-B"]).await?;
    let node = &nodes[0];
    for (file, kind) in [
        (&sample.credit_file, RecordKind::Credit),
        (&sample.visits_file, RecordKind::Visit),
    ] {
        let ctx = ImportContext::new(holder.clone(), ConsortiumSecret::from_file(secret_path)?);
        let client = pb::admin_service_client::AdminServiceClient::new(demo::channel(node).await?);
        let mut rejects = records::Rejects::open(None, true)?;
        rejects.quiet = true;
        let t = records::run_import(
            RecordReader::open(file, kind, ctx)?,
            Some(client),
            ROWS_PER_CALL,
            &mut rejects,
            true,
        )
        .await?;
        println!(
            "  imported {} rows ({:.0} rows/s)",
            t.rows, t.rows_per_second
        );
    }

    // BANK-A asks: one signed grant per borrower for a working set of borrowers.
    let requests = Arc::new(grant_requests(&sample.credit_file, secret_path, pki, 1000)?);
    let tls = TlsMaterial::load(
        &pki.join("ca/ca.crt"),
        &[],
        &pki.join("BANK-A/node.crt"),
        &pki.join("BANK-A/node.key"),
    )?;
    let peer_addr = node_peer_addr(root)?;
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(
            credshare_node::tls::connect_channel(
                tls.client_config()?,
                &peer_addr,
                None,
                None,
                Duration::from_secs(5),
            )
            .await?,
        );
    }
    let duration = Duration::from_secs(args.duration.max(1));
    println!(
        "measuring: concurrency {}, {} connections, {} s per phase",
        args.concurrency,
        channels.len(),
        duration.as_secs()
    );

    let health = run_phase(
        &channels,
        args.concurrency,
        duration,
        requests.clone(),
        false,
    )
    .await;
    let before = demo_status(node).await?;
    let audited = run_phase(&channels, args.concurrency, duration, requests, true).await;
    let after = demo_status(node).await?;
    let rss = crate::commands::bench::rss_kib(node.child.id());
    for n in &mut nodes {
        demo::stop(&mut n.child)?;
    }

    let entries = after.log_size - before.log_size;
    let batches = (after.commit_batches - before.commit_batches).max(1);
    println!(
        "\ncredshare bench query (C={}, {} s per phase, SUMMARY scope, durable log before every answer)",
        args.concurrency,
        duration.as_secs()
    );
    println!(
        "  {:<28} {:>10} {:>10} {:>10} {:>8}",
        "", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, p) in [
        ("grpc.health.v1 Check", &health),
        ("QueryBorrower (audited)", &audited),
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
    Ok(())
}

async fn demo_status(node: &demo::RunningNode) -> anyhow::Result<pb::StatusResponse> {
    crate::commands::status::fetch_status(demo::channel(node).await?).await
}

fn node_peer_addr(root: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(root.join("node-BANK-B/ready.json"))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(v["peer"].as_str().unwrap_or_default().to_owned())
}

/// Requests for `n` distinct borrowers of the holder, each with its grant.
fn grant_requests(
    credit: &std::path::Path,
    secret: &std::path::Path,
    pki: &std::path::Path,
    n: usize,
) -> anyhow::Result<Vec<pb::QueryBorrowerRequest>> {
    let secret = ConsortiumSecret::from_file(secret)?;
    let signer = Signer::load(
        &pki.join("BANK-A/signer.crt"),
        &pki.join("BANK-A/signer.key"),
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut reader = csv::Reader::from_path(credit)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for row in reader.records() {
        let raw = row?[0].to_string();
        if !seen.insert(raw.clone()) {
            continue;
        }
        let key = BorrowerKey::derive(&secret, &BorrowerId::parse(&raw)?);
        let grant = pb::ConsentGrant {
            consent_id: format!("BANK-A-BENCH-{}", out.len()),
            borrower_key: key.as_bytes().to_vec(),
            grantee_institution: "BANK-A".into(),
            purposes: vec![pb::Purpose::PostLoanManagement as i32],
            scope: pb::Scope::Summary as i32,
            not_before_ms: now - 60_000,
            not_after_ms: now + 86_400_000,
            authorization_sha256: vec![1; 32],
            issued_at_ms: now,
        };
        out.push(pb::QueryBorrowerRequest {
            consent: Some(signer.sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec())),
            borrower_key: key.as_bytes().to_vec(),
            purpose: pb::Purpose::PostLoanManagement as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: Vec::new(),
        });
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

async fn run_phase(
    channels: &[Channel],
    concurrency: usize,
    duration: Duration,
    requests: Arc<Vec<pb::QueryBorrowerRequest>>,
    audited: bool,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency.max(1) {
        let channel = channels[w % channels.len()].clone();
        let (stop, requests) = (stop.clone(), requests.clone());
        workers.push(tokio::spawn(async move {
            let mut peer = pb::peer_service_client::PeerServiceClient::new(channel.clone());
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let result = if audited {
                    let mut req = requests[i % requests.len()].clone();
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
                i += concurrency;
            }
            (ok, errors, lat)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut phase = Phase {
        ok: 0,
        errors: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
    };
    for w in workers {
        if let Ok((ok, errors, lat)) = w.await {
            phase.ok += ok;
            phase.errors += errors;
            phase.latencies_us.extend(lat);
        }
    }
    phase.seconds = started.elapsed().as_secs_f64();
    phase.latencies_us.sort_unstable();
    phase
}
