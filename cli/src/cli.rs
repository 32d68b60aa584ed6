//! The command line: the clap tree of every `credshare` command (help text
//! from the doc comments), and the dispatch of a parsed command to its file
//! under [`commands`](crate::commands). [`main`] parses, starts the runtime
//! and turns the outcome into an exit code through [`Output`].

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::commands::{
    assess, audit, bench, borrower_show, consent, consortium, consortium_secret, demo, discovery,
    dispute, history, node, node_info, pki, records_import, report, retention, sample, status,
    visits_due,
};
use crate::output::Output;

/// credshare: federated credit-information sharing.
#[derive(Debug, Parser)]
#[command(name = "credshare", version, propagate_version = true)]
pub struct Cli {
    /// Machine-readable JSON output instead of tables (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a three-bank consortium on this machine and walk through it.
    Demo(demo::DemoArgs),
    /// Benchmarks against real nodes on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Your node's status and whether it reaches each peer over mTLS.
    Status(status::StatusArgs),
    /// Identity of any node, through its peer listener.
    NodeInfo(node_info::NodeInfoArgs),
    /// Consortium PKI: CA, certificates, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// The consortium operator's signed membership manifest.
    #[command(subcommand)]
    Consortium(consortium::ConsortiumCommand),
    /// The consortium secret that keys borrower hashes.
    #[command(subcommand)]
    ConsortiumSecret(consortium_secret::SecretCommand),
    /// Write realistic sample credit.csv and visits.csv for one institution.
    Sample(sample::SampleArgs),
    /// Signed borrower records.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// One borrower's records at your node.
    #[command(subcommand)]
    Borrower(BorrowerCommand),
    /// Borrower consents held by your institution.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Verified cross-institution assessment of a borrower, with warning signals.
    Assess(assess::AssessArgs),
    /// Who asked your node about a borrower, when and why (from the query log).
    History(history::HistoryArgs),
    /// Disputes of your institution's records (异议).
    #[command(subcommand)]
    Dispute(dispute::DisputeCommand),
    /// Add a provider explanation or a borrower statement to a record.
    Annotate(dispute::AnnotateArgs),
    /// The borrower's own report: records, annotations, disputes and every
    /// query about them in two years (HTML or JSON file).
    Report(report::ReportArgs),
    /// Retention of negative information (5 years after it ended).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Post-loan visits.
    #[command(subcommand)]
    Visits(VisitsCommand),
    /// Node set-up and running.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Regulator's audit of a node's query log, verified from the CA alone.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The discovery service: enrol pseudonyms, look up holders, its
    /// figures, and the OPRF key ceremony.
    #[command(subcommand)]
    Discovery(discovery::DiscoveryCommand),
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Validate, hash and import a CSV or JSON Lines file of credit or visit summaries.
    Import(records_import::ImportArgs),
}

#[derive(Debug, Subcommand)]
pub enum BorrowerCommand {
    /// Current records of one borrower (the id is hashed locally).
    Show(borrower_show::ShowArgs),
}

#[derive(Debug, Subcommand)]
pub enum VisitsCommand {
    /// Facilities due or overdue a visit, by the configured schedule.
    Due(visits_due::DueArgs),
}

/// Parses the command line, runs the command, and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let out = Output::new(cli.json);
    if let Err(e) = crate::dates::init() {
        return out.error(&e.into());
    }
    credshare_node::install_crypto_provider();
    // The node builds its own runtime: dispatched before one exists here.
    if let Command::Node(node::NodeCommand::Run(args)) = &cli.command {
        return args.run();
    }
    let result = tokio::runtime::Runtime::new()
        .context("cannot start runtime")
        .and_then(|runtime| runtime.block_on(cli.command.run(&out)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => out.error(&e),
    }
}

/// Help and version go to stdout (exit 0); a usage error exits 2, as JSON
/// when `--json` was among the arguments.
fn usage_error(e: clap::Error) -> ExitCode {
    let json = std::env::args_os().any(|a| a == "--json");
    if e.use_stderr() && json {
        return Output::new(true).usage_error(&e.to_string());
    }
    e.exit()
}

impl Command {
    /// Runs the command, printing through `out`.
    pub async fn run(self, out: &Output) -> anyhow::Result<()> {
        match self {
            Command::Demo(args) => args.run(out).await,
            Command::Bench(command) => command.run(out).await,
            Command::Status(args) => args.run(out).await,
            Command::NodeInfo(args) => args.run(out).await,
            Command::Pki(command) => command.run(out),
            Command::Consortium(command) => command.run(out),
            Command::ConsortiumSecret(command) => command.run(out),
            Command::Sample(args) => args.run(out),
            Command::Records(RecordsCommand::Import(args)) => args.run(out).await,
            Command::Borrower(BorrowerCommand::Show(args)) => args.run(out).await,
            Command::Consent(command) => command.run(out).await,
            Command::Assess(args) => args.run(out).await,
            Command::History(args) => args.run(out).await,
            Command::Dispute(command) => command.run(out).await,
            Command::Annotate(args) => args.run(out).await,
            Command::Retention(command) => command.run(out).await,
            Command::Report(args) => args.run(out).await,
            Command::Visits(VisitsCommand::Due(args)) => args.run(out).await,
            Command::Node(command) => command.run(out),
            Command::Audit(command) => command.run(out).await,
            Command::Discovery(command) => command.run(out).await,
        }
    }
}
