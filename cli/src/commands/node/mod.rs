//! `credshare node init | run`: node set-up and running.

pub mod init;
mod run;

use crate::output::Output;

pub use init::{InitArgs, build_config, write_config};
pub use run::RunArgs;

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Write a working node configuration.
    Init(Box<InitArgs>),
    /// Run a node in this process (same as `credshare-node --config FILE`).
    Run(RunArgs),
}

impl NodeCommand {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        match self {
            NodeCommand::Init(args) => args.run(out),
            // Dispatched in `cli::main` before any runtime exists (the node builds its own).
            NodeCommand::Run(_) => {
                anyhow::bail!("node run is dispatched before the runtime starts")
            }
        }
    }
}
