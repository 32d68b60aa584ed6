//! `credshare`: admin, officer and regulator commands, PKI tooling.
//!
//! Minimal entry point wiring `credshare pki …`; the lead merges this into
//! the full command set.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

mod pki;

/// credshare command-line tool.
#[derive(Debug, Parser)]
#[command(name = "credshare", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Consortium PKI: CA, certificates, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pki(command) => pki::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
