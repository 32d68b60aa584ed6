//! The `credshare` binary: everything lives in the `credshare_cli` library.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    credshare_cli::main()
}
