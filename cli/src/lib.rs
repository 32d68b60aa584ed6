//! `credshare`: admin, officer and regulator commands, PKI tooling, demo and
//! benchmarks — as a library, so the thin binary (`main.rs`) and the
//! end-to-end fixtures share one code path. Exit codes are documented in
//! [`output`].
//!
//! * [`cli`] — the clap command tree and its dispatch; [`main`] runs it.
//! * [`commands`] — one file per command: its clap arguments and what it
//!   does (groups such as `consent`, `audit`, `bench`, `node`, `pki` are
//!   folders).
//! * [`connection`] — the one way to reach a node: flags, `CREDSHARE_*`
//!   variables or a profile, resolved to mTLS clients, the consortium secret
//!   and locally hashed borrower keys.
//! * [`dates`] — the one format of dates and times for people, in the
//!   business time zone (`CREDSHARE_BUSINESS_TIME_ZONE`).
//! * [`output`] — the one output path: human tables or `--json` (errors
//!   too), and the documented exit codes.
//! * [`federation`] — starting real node processes on this machine: used by
//!   `credshare demo`, `credshare bench` and the end-to-end tests.
//! * [`import`] — the streaming import engine behind `records import`,
//!   the demo and the import benchmark.
//! * [`rows`] — reading record files (CSV, JSON Lines), hashing borrower ids
//!   at the edge.
//! * [`records_view`] — records as an officer reads them (`borrower show`,
//!   `assess --scope detail`), human tables and JSON.
//! * [`sample`] — deterministic realistic sample record files.
//! * [`pki`] — the consortium PKI operations: CA, CRL, certificates.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod connection;
pub mod dates;
pub mod federation;
pub mod import;
pub mod output;
pub mod pki;
pub mod records_view;
pub mod rows;
pub mod sample;

pub use cli::main;
