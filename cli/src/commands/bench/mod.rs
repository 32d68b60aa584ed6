//! `credshare bench import | query | scale | discovery`: benchmarks against real node processes
//! on this machine (started through [`crate::federation`]), each beside a
//! baseline measured in the same run. Figures are for people: they print as
//! text whatever `--json` says.

mod discovery;
mod import;
mod phase;
mod query;
mod scale;
mod scale_census;
mod scale_log;
mod witness;

use std::path::Path;

use credshare_node::domain::borrower::ConsortiumSecret;
use credshare_node::pki::InstitutionId;

use crate::connection::{AdminClient, Resolved};
use crate::federation::{NodeProcess, NodeProgram, Workspace, start_federation};
use crate::output::Output;
use crate::rows::ImportContext;

pub use discovery::DiscoveryBenchArgs;
pub use import::ImportBenchArgs;
pub use query::QueryBenchArgs;
pub use scale::ScaleBenchArgs;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// End-to-end import throughput (durable acks) beside a raw sled baseline.
    Import(ImportBenchArgs),
    /// Audited QueryBorrower throughput and latency beside health checks.
    Query(QueryBenchArgs),
    /// Disk, memory, import, query and start-up figures at N borrowers,
    /// beside a reference size measured in the same run.
    Scale(ScaleBenchArgs),
    /// Targeted assessment at national scale: a real discovery service and
    /// three real holder nodes, the other members simulated; latency,
    /// bytes, service CPU and log growth beside today's fan-out to all.
    Discovery(DiscoveryBenchArgs),
}

impl BenchCommand {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        match self {
            BenchCommand::Import(args) => args.run().await,
            BenchCommand::Query(args) => args.run().await,
            BenchCommand::Scale(args) => args.run(out).await,
            BenchCommand::Discovery(args) => args.run(out).await,
        }
    }
}

/// One node of a fresh dev consortium, started in a work directory, and
/// the peers started beside it (its witnesses), if any.
struct BenchNode {
    node: NodeProcess,
    ws: Workspace,
    peers: Vec<NodeProcess>,
}

impl BenchNode {
    /// A fresh consortium in `dir` (kept) or a temporary directory, and a
    /// node of `institution` running `credshare node run`.
    fn start(dir: Option<&Path>, institution: &str) -> anyhow::Result<Self> {
        Self::start_with_peers(dir, institution, &[], true)
    }

    /// [`Self::start`], plus `peers` as the node's peers (and witnesses);
    /// `submit` false runs every node with `witness.submit = false`.
    fn start_with_peers(
        dir: Option<&Path>,
        institution: &str,
        peers: &[&str],
        submit: bool,
    ) -> anyhow::Result<Self> {
        let ws = Workspace::create(dir)?;
        let site = ws.site(NodeProgram::this_cli()?);
        // The bench measures throughput, not the rate limit.
        let mut unlimited = vec![(
            "CREDSHARE_POLICY__RATE_LIMIT_PER_MINUTE".to_owned(),
            "1000000000".to_owned(),
        )];
        if !submit {
            unlimited.push(("CREDSHARE_WITNESS__SUBMIT".to_owned(), "false".to_owned()));
        }
        let names: Vec<&str> = std::iter::once(institution)
            .chain(peers.iter().copied())
            .collect();
        let mut nodes = start_federation(&site, &names, &unlimited)?;
        if nodes.is_empty() {
            anyhow::bail!("no node started");
        }
        let node = nodes.remove(0);
        Ok(Self {
            node,
            ws,
            peers: nodes,
        })
    }

    /// An admin client of the node's own institution.
    async fn admin(&self) -> anyhow::Result<AdminClient> {
        let certs = self.ws.pki.join(&self.node.institution);
        let addr = self.node.admin_addr.to_string();
        Resolved::from_certs_dir(&certs, "admin", &addr)
            .admin_client()
            .await
    }

    /// What rows of `institution` are imported with.
    fn import_context(&self, institution: &InstitutionId) -> anyhow::Result<ImportContext> {
        let secret = ConsortiumSecret::from_file(&self.ws.secret)?;
        Ok(ImportContext::new(institution.clone(), secret))
    }
}

/// Peak resident set of a process, from /proc (Linux).
fn rss_kib(pid: Option<u32>) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

/// CPU seconds (user + system) process `pid` has used so far, from
/// `/proc/<pid>/stat` (Linux; its clock ticks are USER_HZ, 100 per second
/// on every Linux platform). Unlike wall time, this does not grow when other
/// work shares the machine.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// A consent for loan approval of `key` at SUMMARY scope, valid from a
/// minute ago for a day, signed by `signer` for `grantee` (benches only: no
/// authorization evidence behind it).
fn loan_consent(
    signer: &credshare_node::signing::Signer,
    grantee: &str,
    consent_id: String,
    key: &credshare_node::domain::BorrowerKey,
) -> credshare_proto::v1::SignedEnvelope {
    use credshare_proto::v1 as pb;
    use prost::Message;
    let now = credshare_node::domain::dates::now_ms();
    let grant = pb::ConsentGrant {
        consent_id,
        borrower_key: key.as_bytes().to_vec(),
        grantee_institution: grantee.into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: now - 60_000,
        not_after_ms: now + 86_400_000,
        authorization_sha256: vec![1; 32],
        issued_at_ms: now,
        // Generation 1 (the HMAC) is written as 0 on the wire.
        key_generation: 0,
    };
    signer.sign_envelope(
        credshare_node::signing::CONSENT_GRANT_TYPE,
        grant.encode_to_vec(),
    )
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), Linux only.
fn proc_status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The `p` quantile (0–1) of sorted `values`, or 0 when there are none.
fn quantile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}
