//! `credshare demo`: a three-bank consortium on this machine, end to end.
//!
//! Makes a development PKI and consortium secret, writes node configs,
//! starts three real node processes (`credshare node run`) on 127.0.0.1,
//! shows each node's status and that every node reaches the others over
//! mTLS, generates and imports sample data for each bank, then stops the
//! nodes cleanly with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::pki::InstitutionId;
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;

use crate::commands::{node, records, status};
use crate::rows::{ImportContext, RecordKind, RecordReader};

const BANKS: [&str; 3] = ["BANK-A", "BANK-B", "BANK-C"];

/// Options of `credshare demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Work directory (kept); default: a temporary directory, removed at the end.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Borrowers per bank in the sample data.
    #[arg(long, default_value_t = 20_000)]
    pub borrowers: u64,
    /// Sample seed (banks share 30% of their borrowers).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

pub struct RunningNode {
    pub institution: String,
    pub child: Child,
    admin: String,
    tls: TlsMaterial,
    work: PathBuf,
}

/// `credshare demo`.
pub async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let temp;
    let root: PathBuf = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            std::path::absolute(d)?
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    step(&format!(
        "1. development consortium PKI in {}",
        root.display()
    ));
    let pki_dir = root.join("pki");
    if !pki_dir.join("ca/ca.crt").exists() {
        crate::pki::dev_consortium(&pki_dir)?;
    }
    let secret = pki_dir.join("consortium.secret");
    if !secret.exists() {
        credshare_node::domain::borrower::generate_secret_file(&secret)?;
    }
    println!(
        "   CA, node/admin/signer certificates for {}, regulator REG-1, consortium secret",
        BANKS.join(", ")
    );

    step("2. starting three nodes on 127.0.0.1 (mTLS, CRLs, sled stores)");
    let mut nodes = start_nodes(&root, &pki_dir, &secret).await?;
    let result = run_story(&mut nodes, &root, &secret, args).await;
    step("9. stopping the nodes (SIGTERM: drain, flush, exit)");
    for n in &mut nodes {
        let code = stop(&mut n.child)?;
        println!("   {} stopped ({code})", n.institution);
    }
    result?;
    println!("\ndemo finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn run_story(
    nodes: &mut [RunningNode],
    root: &Path,
    secret: &Path,
    args: &DemoArgs,
) -> anyhow::Result<()> {
    step("3. each node's status, and whether it reaches its peers over mTLS");
    for n in nodes.iter() {
        let channel = channel(n).await?;
        let s = status::fetch_status(channel).await?;
        println!("── {} ──", n.institution);
        print!("{}", status::render_status(&s));
        if s.peers.iter().any(|p| !p.reachable) {
            bail!("{} cannot reach all of its peers", n.institution);
        }
    }
    step(&format!(
        "4. sample data ({} borrowers per bank, seed {}) imported into each node",
        args.borrowers, args.seed
    ));
    for n in nodes.iter() {
        let institution = InstitutionId::parse(&n.institution)?;
        let out = root.join(format!("sample-{}", n.institution));
        let summary = crate::sample::write_sample(&institution, args.borrowers, args.seed, &out)?;
        println!(
            "── {}: {} borrowers ({} shared), {} facilities, {} visits",
            n.institution,
            summary.borrowers,
            summary.shared_borrowers,
            summary.facilities,
            summary.visits
        );
        for (file, kind) in [
            (&summary.credit_file, RecordKind::Credit),
            (&summary.visits_file, RecordKind::Visit),
        ] {
            let ctx = ImportContext::new(institution.clone(), ConsortiumSecret::from_file(secret)?);
            let reader = RecordReader::open(file, kind, ctx)?;
            let client = pb::admin_service_client::AdminServiceClient::new(channel(n).await?);
            let mut rejects = records::Rejects::open(None, false)?;
            let t = records::run_import(
                reader,
                Some(client),
                records::ROWS_PER_CALL,
                &mut rejects,
                false,
            )
            .await?;
            println!(
                "   {:<11} {} rows: {} stored, {} unchanged, {} rejected, {:.0} rows/s",
                file.file_name().and_then(|f| f.to_str()).unwrap_or(""),
                t.rows,
                t.stored,
                t.unchanged,
                t.rejected,
                t.rows_per_second
            );
        }
        let s = status::fetch_status(channel(n).await?).await?;
        println!(
            "   store: {} record versions, query log {} entries, {} MiB on disk",
            s.record_count,
            s.log_size,
            s.store_bytes / (1024 * 1024)
        );
        let _ = &n.work;
    }
    consent_story(nodes, root, secret).await
}

/// Steps 5–8: consent, audited queries at both scopes, revocation, denial.
async fn consent_story(nodes: &[RunningNode], root: &Path, secret: &Path) -> anyhow::Result<()> {
    let a = &nodes[0];
    let raw_id = shared_borrower(root)?;
    let key = BorrowerKey::derive(
        &ConsortiumSecret::from_file(secret)?,
        &BorrowerId::parse(&raw_id)?,
    );
    step(&format!(
        "5. {} records a borrower's written authorization as a signed consent (borrower key {}, hashed locally)",
        a.institution,
        key.short()
    ));
    let evidence = root.join("authorization-letter.txt");
    std::fs::write(
        &evidence,
        "Borrower authorizes BANK-A to query its credit information for post-loan management.",
    )?;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel(a).await?);
    let not_after_ms = crate::commands::consent::end_of_day_ms(
        &(time::OffsetDateTime::now_utc().date() + time::Duration::days(90)).to_string(),
    )?;
    let issued = admin
        .issue_consent(pb::IssueConsentRequest {
            borrower_key: key.as_bytes().to_vec(),
            purposes: vec![pb::Purpose::PostLoanManagement as i32],
            scope: pb::Scope::Detail as i32,
            not_before_ms: 0,
            not_after_ms,
            authorization_sha256: ring::digest::digest(
                &ring::digest::SHA256,
                &std::fs::read(&evidence)?,
            )
            .as_ref()
            .to_vec(),
        })
        .await?
        .into_inner();
    println!(
        "   consent {} (DETAIL, POST_LOAN_MANAGEMENT, 90 days), signed by {}'s signer key",
        issued.consent_id, a.institution
    );
    for (n, scope) in [(6, pb::Scope::Summary), (7, pb::Scope::Detail)] {
        step(&format!(
            "{n}. {} assesses the borrower at {} scope: every peer logs the query durably, then answers with a receipt that {} verifies",
            a.institution,
            scope.as_str_name().trim_start_matches("SCOPE_"),
            a.institution
        ));
        let assessment = admin
            .assess(pb::AssessRequest {
                borrower_key: key.as_bytes().to_vec(),
                consent_id: issued.consent_id.clone(),
                purpose: pb::Purpose::PostLoanManagement as i32,
                scope: scope as i32,
                deadline_ms: 0,
            })
            .await?
            .into_inner();
        print!(
            "{}",
            crate::commands::assess::render_assessment(&assessment)
        );
    }
    step(&format!(
        "8. {} revokes the consent; the revocation is pushed to every peer, and the next query is denied",
        a.institution
    ));
    let revoked = admin
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: issued.consent_id.clone(),
            reason: "borrower withdrew consent".into(),
        })
        .await?
        .into_inner();
    println!(
        "   delivered to: {}; pending: {}",
        revoked.delivered_to.join(", "),
        if revoked.pending.is_empty() {
            "none".into()
        } else {
            revoked.pending.join(", ")
        }
    );
    let denied = admin
        .assess(pb::AssessRequest {
            borrower_key: key.as_bytes().to_vec(),
            consent_id: issued.consent_id.clone(),
            purpose: pb::Purpose::PostLoanManagement as i32,
            scope: pb::Scope::Summary as i32,
            deadline_ms: 0,
        })
        .await?
        .into_inner();
    for p in denied.peers.iter().filter(|p| !p.local) {
        println!(
            "   {}: {} ({}) — {}",
            p.institution_id,
            credshare_node::domain::codes::code_label::<pb::PeerStatus>(p.status),
            credshare_node::domain::codes::code_label::<pb::DenialReason>(p.denial_reason),
            p.detail
        );
    }
    let b = &nodes[1];
    let mut b_admin = pb::admin_service_client::AdminServiceClient::new(channel(b).await?);
    let history = b_admin
        .query_history(pb::QueryHistoryRequest {
            borrower_key: key.as_bytes().to_vec(),
        })
        .await?
        .into_inner();
    println!(
        "   {}'s query log for this borrower (what the borrower may ask to see):",
        b.institution
    );
    for i in &history.items {
        println!(
            "     leaf {:>5}  {}  {}  {}",
            i.leaf_index,
            i.requester_institution,
            credshare_node::domain::codes::code_label::<pb::Scope>(i.scope),
            i.decision
        );
    }
    Ok(())
}

/// A borrower of both BANK-A's and BANK-B's samples, preferring the one whose
/// open facility at BANK-A is most overdue (so the assessment has something
/// to say).
fn shared_borrower(root: &Path) -> anyhow::Result<String> {
    let rows = |bank: &str| -> anyhow::Result<Vec<(String, String, u32)>> {
        let mut r = csv::Reader::from_path(
            root.join(format!("sample-{bank}"))
                .join(crate::sample::CREDIT_FILE),
        )?;
        let h = r.headers()?.clone();
        let col = |name: &str| h.iter().position(|c| c == name).context("sample column");
        let (status, overdue) = (col("account_status")?, col("overdue_days")?);
        r.records()
            .map(|x| {
                let x = x?;
                Ok((
                    x[0].to_string(),
                    x[status].to_string(),
                    x[overdue].parse().unwrap_or(0),
                ))
            })
            .collect()
    };
    let b: std::collections::HashSet<String> = rows("BANK-B")?.into_iter().map(|r| r.0).collect();
    rows("BANK-A")?
        .into_iter()
        .filter(|(id, status, _)| b.contains(id) && status != "SETTLED")
        .max_by_key(|r| r.2)
        .map(|r| r.0)
        .context("the sample banks share no borrower")
}

async fn start_nodes(root: &Path, pki: &Path, secret: &Path) -> anyhow::Result<Vec<RunningNode>> {
    start_nodes_for(root, pki, secret, &BANKS).await
}

/// Starts one node process per bank, each configured with the others as peers.
pub async fn start_nodes_for(
    root: &Path,
    pki: &Path,
    secret: &Path,
    banks: &[&str],
) -> anyhow::Result<Vec<RunningNode>> {
    let exe = std::env::current_exe().context("locating the credshare binary")?;
    let ports: Vec<u16> = banks
        .iter()
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    let mut nodes = Vec::new();
    for (i, bank) in banks.iter().enumerate() {
        let work = root.join(format!("node-{bank}"));
        std::fs::create_dir_all(&work)?;
        let ready = work.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let init = node::InitArgs {
            institution: bank.to_string(),
            certs: pki.join(bank),
            data: work.join("data"),
            listen: format!("127.0.0.1:{}", ports[i]).parse()?,
            admin_listen: "127.0.0.1:0".parse()?,
            secret: Some(secret.to_path_buf()),
            crl: Vec::new(),
            peers: banks
                .iter()
                .zip(&ports)
                .filter(|(b, _)| *b != bank)
                .map(|(b, p)| format!("{b}=127.0.0.1:{p}"))
                .collect(),
            ready_file: Some(ready.clone()),
            out: work.join("node.toml"),
        };
        node::write_config(&node::build_config(&init)?, &init.out)?;
        let log = std::fs::File::create(work.join("node.log"))?;
        let child = Command::new(&exe)
            .args(["node", "run", "--config"])
            .arg(&init.out)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let admin = wait_ready(&ready, &work)?;
        let tls = TlsMaterial::load(
            &pki.join("ca/ca.crt"),
            &[],
            &pki.join(bank).join("admin.crt"),
            &pki.join(bank).join("admin.key"),
        )?;
        println!(
            "   {bank}: peer listener 127.0.0.1:{}, admin listener {admin}, log {}",
            ports[i],
            work.join("node.log").display()
        );
        nodes.push(RunningNode {
            institution: bank.to_string(),
            child,
            admin,
            tls,
            work,
        });
    }
    Ok(nodes)
}

fn wait_ready(ready: &Path, work: &Path) -> anyhow::Result<String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = std::fs::read_to_string(ready) {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            return Ok(v["admin"].as_str().unwrap_or_default().to_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "node did not become ready; see {}",
        work.join("node.log").display()
    )
}

pub async fn channel(n: &RunningNode) -> anyhow::Result<tonic::transport::Channel> {
    Ok(credshare_node::tls::connect_channel(
        n.tls.client_config()?,
        &n.admin,
        None,
        None,
        Duration::from_secs(5),
    )
    .await?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn stop(child: &mut Child) -> anyhow::Result<String> {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.to_string());
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill()?;
            return Ok("killed after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn step(title: &str) {
    println!("\n{title}");
}
