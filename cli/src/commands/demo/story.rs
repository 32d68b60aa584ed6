//! Steps 3 and 4 of the demo: each node's status and peer reachability,
//! then sample data generated and imported into each node.

use anyhow::bail;
use credshare_node::domain::borrower::ConsortiumSecret;
use credshare_node::pki::InstitutionId;

use super::{Demo, DemoArgs, sample_dir, step};
use crate::commands::status::{fetch_status, render_status};
use crate::federation::NodeProcess;
use crate::import::import_file;
use crate::output::Output;
use crate::rows::{ImportContext, RecordKind};

/// Steps 3–8e; the nodes are stopped by the caller whatever happens.
pub(super) async fn run(demo: &Demo, args: &DemoArgs) -> anyhow::Result<()> {
    step("3. each node's status, and whether it reaches its peers over mTLS");
    for n in &demo.nodes {
        let s = fetch_status(demo.admin(n).await?).await?;
        println!("── {} ──", n.institution);
        print!("{}", render_status(&s));
        if s.peers.iter().any(|p| !p.reachable) {
            bail!("{} cannot reach all of its peers", n.institution);
        }
    }
    step(&format!(
        "4. sample data ({} borrowers per bank, seed {}) imported into each node",
        args.borrowers, args.seed
    ));
    for n in &demo.nodes {
        import_sample(demo, n, args).await?;
    }
    super::consent::run(demo).await?;
    super::regulator::run(demo).await
}

/// Writes one bank's sample and imports both files into its node.
async fn import_sample(demo: &Demo, n: &NodeProcess, args: &DemoArgs) -> anyhow::Result<()> {
    let institution = InstitutionId::parse(&n.institution)?;
    let out = sample_dir(&demo.root, &n.institution);
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
        let secret = ConsortiumSecret::from_file(&demo.secret)?;
        let context = ImportContext::new(institution.clone(), secret);
        let client = demo.admin(n).await?;
        let t = import_file(client, file, kind, context, &Output::default()).await?;
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
    let s = fetch_status(demo.admin(n).await?).await?;
    println!(
        "   store: {} record versions, query log {} entries, {} MiB on disk",
        s.record_count,
        s.log_size,
        s.store_bytes / (1024 * 1024)
    );
    Ok(())
}
