//! `credshare discovery`: the member's side of the discovery service
//! (enrol, withdraw, look up holders), the regulator's figures, and the
//! stage-2 key ceremony (keygen, share, combine). Raw borrower ids are
//! blinded in this process and never leave it.

pub mod ceremony;
pub mod client;
pub mod enrol;
pub mod lookup;
pub mod status;

use std::path::PathBuf;

use clap::Subcommand;

use crate::connection::ConnectionArgs;

#[derive(Debug, Subcommand)]
pub enum DiscoveryCommand {
    /// Compute the pseudonyms of a file's borrowers by blinded evaluation
    /// (proofs verified) and register them in the holder directory.
    Enrol(enrol::EnrolArgs),
    /// Withdraw the pseudonyms of a file's borrowers from the directory.
    Withdraw(enrol::WithdrawArgs),
    /// Which institutions hold a borrower (one evaluation bound to the
    /// consent hash, then one lookup with its receipt).
    Lookup(lookup::LookupArgs),
    /// The discovery service's figures per member (regulators).
    Status(status::StatusArgs),
    /// Generate a whole OPRF key (stage 1) into a new 0600 file.
    Keygen(ceremony::KeygenArgs),
    /// Split a whole key into the regulator's part and three custodian
    /// shares (stage 2, 2-of-3).
    Share(ceremony::ShareArgs),
    /// Recombine the regulator's part and two custodian shares into the
    /// whole key (recovery; checks it against the public key).
    Combine(ceremony::CombineArgs),
}

run_subcommands!(DiscoveryCommand: Enrol, Withdraw, Lookup, Status, Keygen, Share, Combine);

/// Where the discovery service is, and (stage 2) its custodians.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// The discovery service's listener (the regulator's), HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", env = "CREDSHARE_DISCOVERY_ADDR")]
    pub discovery: String,
    /// Stage 2: a custodian's discovery listener; give two. The discovery
    /// service then holds the regulator's part k_R.
    #[arg(long, value_name = "HOST:PORT")]
    pub custodian: Vec<String>,
    /// The service's published public key (hex): proofs must verify
    /// against it (required with --custodian).
    #[arg(long, value_name = "HEX", env = "CREDSHARE_DISCOVERY_PUBLIC_KEY")]
    pub public_key: Option<String>,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

/// A file of borrower ids: a CSV with a `borrower_id` column (record
/// files are) or one id a line.
#[derive(Debug, Clone, clap::Args)]
pub struct IdFileArgs {
    /// CSV with a `borrower_id` column, or a text file of one id a line.
    #[arg(long)]
    pub file: PathBuf,
}
