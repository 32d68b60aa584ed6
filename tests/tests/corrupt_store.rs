//! A corrupt store stops the node with an error that names the data
//! directory and what to do, never with a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credshare_e2e::offline::copy_dir;
use std::path::Path;
use std::process::Command;

use credshare_e2e::credit_fixture as credit;
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, admin_client};
use credshare_proto::v1 as pb;

/// Every regular file below `dir`, with its size.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(files(&entry.path()));
        } else {
            out.push((entry.path(), meta.len()));
        }
    }
    out.sort();
    out
}

/// Overwrites `len` bytes of `file` at `offset` with `byte`.
fn smear(file: &Path, offset: u64, len: usize, byte: u8) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&vec![byte; len]).unwrap();
    f.sync_all().unwrap();
}

/// Runs the node on `config`: its exit status and stderr, stopping it with
/// SIGTERM once it serves.
fn run_node(config: &Path, stderr_file: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(credshare_e2e::bin("credshare-node"))
        .arg("--config")
        .arg(config)
        .env("CREDSHARE_LISTEN__METRICS", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(stderr_file).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let serving = std::fs::read_to_string(stderr_file)
            .unwrap()
            .contains("credshare node serving");
        if serving || started.elapsed() > std::time::Duration::from_secs(60) {
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    (status, std::fs::read_to_string(stderr_file).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_store_bytes_stop_the_node_with_a_message_not_a_panic() {
    let c = Consortium::new().unwrap();
    let mut a = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let tls = c.tls("BANK-A", "admin").unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    // Enough records that sled's log spans several segments: a byte
    // flipped in the later ones trips sled itself (with compact values,
    // format 3, 300 records stayed within two segments).
    for i in 0..1500 {
        let record = pb::RecordInput {
            record: Some(pb::record_input::Record::Credit(credit(
                "BANK-A",
                &format!("F-{i}"),
            ))),
        };
        admin
            .put_record(pb::PutRecordRequest {
                record: Some(record),
            })
            .await
            .unwrap();
    }
    a.stop().unwrap();
    let pristine = c.root().join("pristine");
    copy_dir(&a.data_dir, &pristine);

    // One byte changed at 24 places of sled's log, and 32 bytes smeared in
    // its other files (the format marker, sled's `conf`).
    let mut damage = Vec::new();
    for (file, size) in files(&pristine) {
        let name = file.strip_prefix(&pristine).unwrap().to_owned();
        if name.starts_with("high-water") {
            continue;
        }
        if name == Path::new("db") {
            damage.extend((0..24).map(|i| (name.clone(), size * i / 24, 1, (i % 7) as u8 * 37)));
        } else {
            damage.push((name.clone(), size / 2, 32.min(size as usize), 0xff));
        }
    }
    let (mut refused, mut sled_failures) = (0, 0);
    for (name, at, len, byte) in damage {
        std::fs::remove_dir_all(&a.data_dir).unwrap();
        copy_dir(&pristine, &a.data_dir);
        smear(&a.data_dir.join(&name), at, len, byte);
        let (status, stderr) = run_node(&a.config, &c.root().join("stderr"));
        let last = stderr.lines().last().unwrap_or("");
        eprintln!("{} at {at}: {status:?}: {last}", name.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        if status.success() {
            continue;
        }
        refused += 1;
        assert!(last.starts_with("credshare-node: "), "{stderr}");
        if last.contains("cannot be read") {
            assert_eq!(status.code(), Some(1), "{last}");
            assert!(
                last.contains(&a.data_dir.display().to_string())
                    && last.contains("credshare-node restore --from BACKUP"),
                "{last}"
            );
        }
        if last.contains("sled failed while reading it") {
            sled_failures += 1;
        }
    }
    eprintln!("{refused} damaged stores refused, {sled_failures} of them by a failure inside sled");
    assert!(refused > 0 && sled_failures > 0);
}
