//! The README's quick start runs as written: its `sh` code blocks (from
//! "## Manual quick start" up to the next `## ` heading) are extracted from
//! README.md itself, so they cannot drift, and run with bash in an empty
//! directory against real nodes. `cargo run … -p PKG --` is mapped to the
//! already-built binary of PKG. The README's ports are fixed, so a lock
//! file serializes runs (also across worktrees on one machine). The nodes
//! it starts are stopped with SIGTERM and must exit 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use credshare_e2e::bin;

const SECTION: &str = "## Manual quick start";
const DONE: &str = "README-QUICK-START-DONE";

/// The `sh` blocks of the quick-start section, in order.
fn quick_start_blocks(readme: &str) -> Vec<String> {
    let start = readme
        .find(SECTION)
        .expect("README has a manual quick start");
    let rest = &readme[start + SECTION.len()..];
    let section = rest.find("\n## ").map_or(rest, |end| &rest[..end]);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// `cargo run [flags] -p PKG --` becomes the path of PKG's binary.
fn map_cargo_run(script: &str, binary: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(at) = rest.find("cargo run") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let p = tail
            .find(" -p ")
            .expect("cargo run names its package with -p");
        let after = &tail[p + 4..];
        let name_end = after.find(' ').expect("package name then --");
        let package = &after[..name_end];
        let dashes = after[name_end..]
            .find("--")
            .expect("cargo run … -p PKG -- ARGS");
        out.push_str(&binary(package));
        rest = &after[name_end + dashes + 2..];
    }
    out.push_str(rest);
    out
}

fn package_binary(package: &str) -> String {
    let name = match package {
        "credshare-cli" => "credshare",
        other => other,
    };
    bin(name).display().to_string()
}

/// The whole script: strict mode, aliases, the lock, the README's blocks,
/// then every node stopped with SIGTERM and its exit status checked.
fn script(blocks: &[String], lock: &Path) -> String {
    let body = map_cargo_run(&blocks.join("\n"), package_binary);
    format!(
        r#"set -euo pipefail
shopt -s expand_aliases
exec 9>"{lock}"
flock 9
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
{body}
pids="$(jobs -p)"
kill -TERM $pids
for pid in $pids; do
  if ! wait "$pid"; then echo "node $pid did not exit 0 on SIGTERM" >&2; exit 97; fi
done
echo {DONE}
"#,
        lock = lock.display()
    )
}

#[test]
fn cargo_run_is_mapped_to_the_built_binary() {
    let script = "alias credshare='cargo run -q --release -p credshare-cli --'\n\
                  cargo run --release -p credshare-node -- --config a.toml &\n";
    let mapped = map_cargo_run(script, |p| format!("/bin/{p}"));
    assert_eq!(
        mapped,
        "alias credshare='/bin/credshare-cli'\n/bin/credshare-node --config a.toml &\n"
    );
}

#[test]
fn the_readme_quick_start_runs_as_written() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let blocks = quick_start_blocks(&readme);
    assert!(blocks.len() >= 3, "quick-start blocks: {blocks:?}");
    let dir = tempfile::tempdir().unwrap();
    let lock = std::env::temp_dir().join("credshare-readme-quick-start.lock");
    let out = Command::new("bash")
        .arg("-c")
        .arg(script(&blocks, &lock))
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env_remove("CREDSHARE_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(DONE),
        "README quick start failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // DETAIL shows both institutions' verified records.
    assert!(stdout.contains("== BANK-A: "), "{stdout}");
    assert!(stdout.contains("== BANK-B: "), "{stdout}");
    assert!(stdout.contains("consent used: BANK-A-"), "{stdout}");
    // The shared borrower's raw id stays in the operator's own file.
    let shared = std::fs::read_to_string(dir.path().join("sample-a/shared-borrowers.txt")).unwrap();
    let id = shared.lines().next().unwrap();
    assert!(
        !stdout.contains(id) && !stderr.contains(id),
        "raw id printed"
    );
}
