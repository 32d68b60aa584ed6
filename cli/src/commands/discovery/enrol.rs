//! `credshare discovery enrol` and `withdraw`: the pseudonyms of a file's
//! borrowers, in batches of up to 10,000 (blinded here, evaluated as
//! enrolment within the member's portfolio budget, proofs verified), then
//! registered in (or withdrawn from) the holder directory.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use credshare_node::discovery::oprf::MAX_ELEMENTS_PER_CALL;
use credshare_node::domain::borrower::BorrowerId;
use credshare_proto::v1 as pb;
use serde_json::json;

use super::client::{Services, Use};
use super::{IdFileArgs, ServiceArgs};
use crate::output::{Output, fields};

/// Options of `credshare discovery enrol`.
#[derive(Debug, Clone, clap::Args)]
pub struct EnrolArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub file: IdFileArgs,
}

/// Options of `credshare discovery withdraw`.
#[derive(Debug, Clone, clap::Args)]
pub struct WithdrawArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub file: IdFileArgs,
}

/// Totals of an enrolment or withdrawal.
#[derive(Debug, Default, serde::Serialize)]
struct Totals {
    borrowers: u64,
    changed: u64,
    unchanged: u64,
    held: u64,
    declared_portfolio: u64,
    over_portfolio: bool,
}

impl EnrolArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        run(&self.service, &self.file.file, false, out).await
    }
}

impl WithdrawArgs {
    pub async fn run(&self, out: &Output) -> anyhow::Result<()> {
        run(&self.service, &self.file.file, true, out).await
    }
}

async fn run(
    service: &ServiceArgs,
    file: &Path,
    withdraw: bool,
    out: &Output,
) -> anyhow::Result<()> {
    let ids = read_ids(file)?;
    let mut services = Services::connect(service).await?;
    let bar = progress(out, ids.len() as u64);
    let mut totals = Totals {
        borrowers: ids.len() as u64,
        ..Default::default()
    };
    for chunk in ids.chunks(MAX_ELEMENTS_PER_CALL) {
        let evaluated = services.pseudonyms(chunk, Use::Enrolment).await?;
        let pseudonyms: Vec<Vec<u8>> = evaluated.pseudonyms.iter().map(|p| p.0.to_vec()).collect();
        if withdraw {
            let r = services
                .discovery
                .withdraw(pb::WithdrawPseudonymsRequest { pseudonyms })
                .await
                .context("discovery service: Withdraw")?
                .into_inner();
            totals.changed += u64::from(r.withdrawn);
            totals.unchanged += u64::from(r.not_held);
            totals.held = r.held;
        } else {
            let r = services
                .discovery
                .register(pb::RegisterPseudonymsRequest { pseudonyms })
                .await
                .context("discovery service: Register")?
                .into_inner();
            totals.changed += u64::from(r.registered);
            totals.unchanged += u64::from(r.unchanged);
            totals.held = r.held;
            totals.declared_portfolio = r.declared_portfolio;
            totals.over_portfolio = r.over_portfolio;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    print_totals(out, &totals, withdraw);
    Ok(())
}

fn print_totals(out: &Output, totals: &Totals, withdraw: bool) {
    let verb = if withdraw { "withdrawn" } else { "registered" };
    out.print(&json!({ "borrowers": totals.borrowers, verb: totals.changed, "unchanged": totals.unchanged, "held": totals.held, "declared_portfolio": totals.declared_portfolio, "over_portfolio": totals.over_portfolio }), || {
        let mut pairs = vec![
            ("borrowers", totals.borrowers.to_string()),
            (verb, totals.changed.to_string()),
            ("unchanged", totals.unchanged.to_string()),
            ("held now", totals.held.to_string()),
        ];
        if !withdraw {
            pairs.push(("declared portfolio", totals.declared_portfolio.to_string()));
        }
        if totals.over_portfolio {
            pairs.push(("FLAGGED", "more pseudonyms registered than the declared portfolio".into()));
        }
        fields(&pairs)
    });
}

/// Distinct borrower ids of a CSV with a `borrower_id` column, or of a
/// file of one id a line. An invalid id stops with its line number (the
/// id itself is not printed).
pub fn read_ids(path: &Path) -> anyhow::Result<Vec<BorrowerId>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let first = lines.clone().next().map(|(_, l)| l).unwrap_or_default();
    let column = first.split(',').position(|h| h.trim() == "borrower_id");
    if column.is_some() {
        lines.next();
    }
    let mut ids = BTreeSet::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let raw = match column {
            Some(c) => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(line.as_bytes());
                let record = reader.records().next().transpose()?.unwrap_or_default();
                record.get(c).unwrap_or_default().to_owned()
            }
            None => line.to_owned(),
        };
        let id = BorrowerId::parse(raw.trim())
            .with_context(|| format!("{} line {}: not a borrower id", path.display(), n + 1))?;
        ids.insert(id.normalized().to_owned());
    }
    if ids.is_empty() {
        bail!("{}: no borrower ids", path.display());
    }
    ids.iter().map(|s| Ok(BorrowerId::parse(s)?)).collect()
}

fn progress(out: &Output, len: u64) -> indicatif::ProgressBar {
    let bar = out.progress(
        indicatif::ProgressBar::new(len),
        "{bar:30} {pos}/{len} borrowers evaluated and registered  {per_sec}  {elapsed}",
    );
    if !out.is_json() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}
