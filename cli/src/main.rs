//! `credshare`: admin, officer and regulator commands, PKI tooling, demo and
//! benchmarks. Exit codes are documented in [`output`].
#![forbid(unsafe_code)]

mod client;
mod commands;
mod output;
mod pki;
mod rows;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use client::ConnectionArgs;

/// credshare: federated credit-information sharing.
#[derive(Debug, Parser)]
#[command(name = "credshare", version, propagate_version = true)]
struct Cli {
    /// Machine-readable JSON output instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a three-bank consortium on this machine and walk through it.
    Demo(commands::demo::DemoArgs),
    /// Benchmarks against real nodes on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Your node's status and whether it reaches each peer over mTLS.
    Status {
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Identity of any node, through its peer listener.
    NodeInfo {
        /// Peer listener address, host:port.
        #[arg(long)]
        peer: String,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Consortium PKI: CA, certificates, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// The consortium secret that keys borrower hashes.
    #[command(subcommand)]
    ConsortiumSecret(SecretCommand),
    /// Write realistic sample credit.csv and visits.csv for one institution.
    Sample {
        /// Institution the sample is for.
        #[arg(long)]
        institution: String,
        /// Number of borrowers.
        #[arg(long, default_value_t = 1000)]
        borrowers: u64,
        /// Seed; the same seed gives the same files, and institutions sampled
        /// with the same seed share a known part of their borrowers.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Signed borrower records.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// One borrower's records at your node.
    #[command(subcommand)]
    Borrower(BorrowerCommand),
    /// Borrower consents held by your institution.
    #[command(subcommand)]
    Consent(commands::consent::ConsentCommand),
    /// Verified cross-institution assessment of a borrower, with warning signals.
    Assess(commands::assess::AssessArgs),
    /// Who asked your node about a borrower, when and why (from the query log).
    History(commands::assess::HistoryArgs),
    /// Post-loan visits.
    #[command(subcommand)]
    Visits(VisitsCommand),
    /// Node set-up and running.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Regulator's audit of a node's query log, verified from the CA alone.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// End-to-end import throughput (durable acks) beside a raw sled baseline.
    Import(commands::bench::ImportBenchArgs),
    /// Audited QueryBorrower throughput and latency beside health checks.
    Query(commands::bench_query::QueryBenchArgs),
}

#[derive(Debug, Subcommand)]
enum VisitsCommand {
    /// Facilities due or overdue a visit, by the configured schedule.
    Due(commands::assess::DueArgs),
}

#[derive(Debug, Subcommand)]
enum RecordsCommand {
    /// Validate, hash and import a CSV or JSON Lines file of credit or visit summaries.
    Import(commands::records::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum BorrowerCommand {
    /// Current records of one borrower (the id is hashed locally).
    Show(commands::records::ShowArgs),
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Generate 32 random bytes into a new file (mode 0600). Treat it as
    /// sensitive: with it, hashed borrower keys can be recomputed.
    Generate {
        /// File to create; never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Write a working node configuration.
    Init(Box<commands::node::InitArgs>),
    /// Run a node in this process (same as `credshare-node --config FILE`).
    Run {
        /// Node configuration file.
        #[arg(long, env = "CREDSHARE_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    credshare_node::install_crypto_provider();
    if let Command::Node(NodeCommand::Run { config }) = &cli.command {
        return credshare_node::process::run_node(config);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credshare: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credshare: {}", render_error(&e));
            output::exit_code(&e)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { json, command } = cli;
    match command {
        Command::Status { conn } => commands::status::status(&conn, json).await?,
        Command::NodeInfo { peer, conn } => commands::status::node_info(&conn, &peer, json).await?,
        Command::Node(NodeCommand::Init(args)) => commands::node::init(&args)?,
        Command::Pki(command) => pki::run(command)?,
        Command::Demo(args) => commands::demo::demo(&args).await?,
        Command::Consent(command) => commands::consent::run(command, json).await?,
        Command::Assess(args) => commands::assess::assess(&args, json).await?,
        Command::History(args) => commands::assess::history(&args, json).await?,
        Command::Visits(VisitsCommand::Due(args)) => commands::assess::due(&args, json).await?,
        Command::Bench(BenchCommand::Import(args)) => commands::bench::import(&args).await?,
        Command::Bench(BenchCommand::Query(args)) => commands::bench_query::query(&args).await?,
        Command::Records(RecordsCommand::Import(args)) => {
            commands::records::import(&args, json).await?
        }
        Command::Borrower(BorrowerCommand::Show(args)) => {
            commands::records::show(&args, json).await?
        }
        Command::ConsortiumSecret(SecretCommand::Generate { out }) => {
            credshare_node::domain::borrower::generate_secret_file(&out)?;
            println!("wrote {} (32 random bytes, mode 0600)", out.display());
        }
        Command::Sample {
            institution,
            borrowers,
            seed,
            out,
        } => {
            let institution = credshare_node::pki::InstitutionId::parse(&institution)?;
            let summary = sample::write_sample(&institution, borrowers, seed, &out)?;
            if json {
                output::print_json(&serde_json::to_value(&summary)?);
            } else {
                println!(
                    "{}: {} borrowers ({} shared with other institutions of seed {seed}, {} individuals), {} facilities, {} visits\n  {}\n  {}",
                    institution,
                    summary.borrowers,
                    summary.shared_borrowers,
                    summary.individuals,
                    summary.facilities,
                    summary.visits,
                    summary.credit_file.display(),
                    summary.visits_file.display()
                );
            }
        }
        Command::Audit(command) => commands::audit::run(&command, json).await?,
        // Dispatched in main() before any runtime exists (the node builds its own).
        Command::Node(NodeCommand::Run { .. }) => {
            anyhow::bail!("node run is dispatched before the runtime starts")
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_error(e: &anyhow::Error) -> String {
    // Context first, then the cause; a gRPC status as code and message only.
    e.chain()
        .map(|cause| match cause.downcast_ref::<tonic::Status>() {
            Some(status) => output::describe(status),
            None => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}
