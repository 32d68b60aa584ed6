//! One file per command: its clap arguments (doc comments are the help)
//! and its `run`, printing through [`Output`](crate::output::Output).
//! Command groups with several subcommands are folders.

/// `impl $group { pub async fn run(&self, out) }` for a group of
/// subcommands whose arguments each have an async `run(&self, out)`.
macro_rules! run_subcommands {
    ($group:ident: $($subcommand:ident),+ $(,)?) => {
        impl $group {
            /// Runs the chosen subcommand, printing through `out`.
            pub async fn run(&self, out: &$crate::output::Output) -> anyhow::Result<()> {
                match self {
                    $($group::$subcommand(args) => args.run(out).await,)+
                }
            }
        }
    };
}

pub mod assess;
pub mod audit;
pub mod bench;
pub mod borrower_keys;
pub mod borrower_show;
pub mod consent;
pub mod consortium;
pub mod consortium_secret;
pub mod demo;
pub mod discovery;
pub mod dispute;
pub mod history;
pub mod node;
pub mod node_info;
pub mod pki;
pub mod records_import;
pub mod report;
pub mod retention;
pub mod sample;
pub mod status;
pub mod visits_due;
