//! A hostile peer or a failing disk cannot take a node down: real nodes,
//! raw sockets, a file system that fills.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use credshare_e2e::credit_fixture as credit;
use credshare_e2e::{
    AdminClient, Consortium, NodeProcess, NodeSpec, admin_client, channel, status,
};
use credshare_node::signing::{CONSENT_REVOCATION_TYPE, Signer};
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;
use prost::Message;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const ADMIN_SERVICE: &str = "credshare.v1.AdminService";

async fn put(admin: &mut AdminClient, facility: &str) -> Result<(), tonic::Status> {
    put_as(admin, "BANK-A", facility).await
}

async fn put_as(
    admin: &mut AdminClient,
    institution: &str,
    facility: &str,
) -> Result<(), tonic::Status> {
    let record = pb::RecordInput {
        record: Some(pb::record_input::Record::Credit(credit(
            institution,
            facility,
        ))),
    };
    admin
        .put_record(pb::PutRecordRequest {
            record: Some(record),
        })
        .await
        .map(|_| ())
}

async fn health(material: &TlsMaterial, addr: std::net::SocketAddr, service: &str) -> i32 {
    let channel = credshare_e2e::channel(material, addr).await.unwrap();
    let request = HealthCheckRequest {
        service: service.into(),
    };
    HealthClient::new(channel)
        .check(request)
        .await
        .unwrap()
        .into_inner()
        .status
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size_mb: u64) -> Option<Self> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?
            .status
            .success();
        ok.then(|| Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
}

async fn wait_for_health(material: &TlsMaterial, node: &NodeProcess, want: ServingStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(material, node.admin_addr, ADMIN_SERVICE).await != want as i32 {
        assert!(Instant::now() < deadline, "health never became {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_turns_health_not_serving_and_heals_when_space_is_freed() {
    let c = Consortium::new().unwrap();
    let mount_point = c.root().join("tmpfs");
    let Some(fs) = Tmpfs::mount(&mount_point, 64) else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs CAP_SYS_ADMIN); disk-full test not run"
        );
        return;
    };
    let mut spec = NodeSpec::new("BANK-A");
    spec.env = vec![
        (
            "CREDSHARE_DATA_DIR".into(),
            fs.0.join("data").display().to_string(),
        ),
        ("CREDSHARE_STORAGE__MIN_FREE_MB".into(), "16".into()),
    ];
    let mut a = NodeProcess::start(&c, &spec).unwrap();
    let tls = c.tls("BANK-A", "admin").unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    wait_for_health(&tls, &a, ServingStatus::Serving).await;
    put(&mut admin, "F-1").await.unwrap();

    // The disk fills: writes are refused, reads and Status still work.
    let filler = fs.0.join("filler");
    fill(&filler);
    let err = put(&mut admin, "F-2").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    wait_for_health(&tls, &a, ServingStatus::NotServing).await;
    let full = status(&mut admin).await.unwrap();
    assert_eq!(full.record_count, 1);
    assert!(full.storage_fault.contains("disk space low"), "{full:?}");

    // Space freed: serving again without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    wait_for_health(&tls, &a, ServingStatus::Serving).await;
    eprintln!(
        "FIGURE: serving again {} ms after space was freed",
        freed.elapsed().as_millis()
    );
    put(&mut admin, "F-3").await.unwrap();
    assert_eq!(status(&mut admin).await.unwrap().storage_fault, "");

    // Every acknowledged row survives a restart.
    a.stop().unwrap();
    a.restart().unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    assert_eq!(status(&mut admin).await.unwrap().record_count, 2);
    a.stop().unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn revocation(signer: &Signer, id: &str, reason_bytes: usize) -> pb::SignedEnvelope {
    let revocation = pb::ConsentRevocation {
        consent_id: id.into(),
        grantee_institution: "BANK-A".into(),
        grant_sha256: vec![1; 32],
        grant_not_after_ms: now_ms() + 3_600_000,
        revoked_at_ms: now_ms(),
        reason: "x".repeat(reason_bytes),
    };
    signer.sign_envelope(CONSENT_REVOCATION_TYPE, revocation.encode_to_vec())
}

async fn log_size(admin: &mut AdminClient) -> u64 {
    status(admin).await.unwrap().log_size
}

/// Entries appended since `start`, once the log stops growing (the
/// aggregate of refusals comes within the 1 s interval set here).
async fn new_entries(c: &Consortium, node: &NodeProcess, start: u64) -> Vec<pb::LogEntry> {
    let admin_tls = c.tls(&node.institution, "admin").unwrap();
    let mut admin = admin_client(&admin_tls, node.admin_addr).await.unwrap();
    let mut size = log_size(&mut admin).await;
    loop {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let now = log_size(&mut admin).await;
        if now == size {
            break;
        }
        size = now;
    }
    let mut audit = pb::audit_service_client::AuditServiceClient::new(
        channel(&admin_tls, node.admin_addr).await.unwrap(),
    );
    let mut stream = audit
        .get_entries(pb::GetEntriesRequest { start, end: size })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.message().await.unwrap() {
        out.push(pb::LogEntry::decode(item.entry.as_slice()).unwrap());
    }
    out
}

/// (aggregate entries, refused queries, refused revocations, other
/// entries but the signer key's)
fn tally(entries: &[pb::LogEntry]) -> (u64, u64, u64, u64) {
    let mut t = (0, 0, 0, 0);
    for e in entries {
        match &e.kind {
            Some(pb::log_entry::Kind::RateLimited(r)) => {
                t.0 += 1;
                t.1 += r.refused_queries;
                t.2 += r.refused_revocations;
            }
            // Logged with the node's first write.
            Some(pb::log_entry::Kind::SignerKey(_)) => {}
            _ => t.3 += 1,
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_floods_are_bounded_and_large_revocations_refused() {
    let c = Consortium::new().unwrap();
    let mut spec = NodeSpec::new("BANK-B");
    spec.env = vec![
        (
            "CREDSHARE_POLICY__REVOCATION_RATE_LIMIT_PER_MINUTE".into(),
            "20".into(),
        ),
        (
            "CREDSHARE_LIMITS__REFUSED_LOG_INTERVAL_SECONDS".into(),
            "1".into(),
        ),
    ];
    let b = NodeProcess::start(&c, &spec).unwrap();
    let mut admin = admin_client(&c.tls("BANK-B", "admin").unwrap(), b.admin_addr)
        .await
        .unwrap();
    let dir = c.certs("BANK-A");
    let signer = Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap();
    let node_tls = c.tls("BANK-A", "node").unwrap();
    let mut peer = pb::peer_service_client::PeerServiceClient::new(
        channel(&node_tls, b.peer_addr).await.unwrap(),
    );
    let before = log_size(&mut admin).await;

    // A 264 KB revocation (once stored as a sled blob) is refused outright.
    let big = revocation(&signer, "BIG", 264_000);
    let err = peer
        .notify_revocation(pb::NotifyRevocationRequest {
            revocation: Some(big),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // A flood of 500: 20 accepted (the bucket), the rest refused unlogged.
    let (mut accepted, mut limited) = (0, 0);
    let started = Instant::now();
    for i in 0..500 {
        let request = pb::NotifyRevocationRequest {
            revocation: Some(revocation(&signer, &format!("R-{i}"), 10)),
        };
        match peer.notify_revocation(request).await {
            Ok(_) => accepted += 1,
            Err(e) if e.code() == tonic::Code::ResourceExhausted => limited += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let flood_s = started.elapsed().as_secs();
    assert!((20..=22).contains(&accepted), "{accepted} accepted");
    assert_eq!(accepted + limited, 500);
    // One entry per accepted revocation, one aggregate per interval.
    let entries = new_entries(&c, &b, before).await;
    let (aggregates, _, refused, others) = tally(&entries);
    assert_eq!(refused, limited);
    assert_eq!(others, accepted);
    assert!(
        aggregates <= flood_s + 2,
        "{aggregates} aggregates in {flood_s} s"
    );
    eprintln!(
        "FIGURE: revocation flood of 500 in {flood_s} s: log grew by {} entries ({accepted} accepted + {aggregates} aggregates)",
        entries.len()
    );
    // The store still works.
    put_as(&mut admin, "BANK-B", "F-1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_flood_costs_one_aggregated_log_entry() {
    let c = Consortium::new().unwrap();
    let mut spec = NodeSpec::new("BANK-B");
    spec.env = vec![
        (
            "CREDSHARE_POLICY__RATE_LIMIT_PER_MINUTE".into(),
            "10".into(),
        ),
        (
            "CREDSHARE_LIMITS__REFUSED_LOG_INTERVAL_SECONDS".into(),
            "1".into(),
        ),
    ];
    let b = NodeProcess::start(&c, &spec).unwrap();
    let mut admin = admin_client(&c.tls("BANK-B", "admin").unwrap(), b.admin_addr)
        .await
        .unwrap();
    let node_tls = c.tls("BANK-A", "node").unwrap();
    let mut peer = pb::peer_service_client::PeerServiceClient::new(
        channel(&node_tls, b.peer_addr).await.unwrap(),
    );
    let before = log_size(&mut admin).await;
    let ask = pb::QueryBorrowerRequest {
        consent: Some(pb::SignedEnvelope::default()),
        borrower_key: vec![5; 32],
        purpose: pb::Purpose::LoanApproval as i32,
        scope: pb::Scope::Summary as i32,
        request_nonce: vec![],
        ..Default::default()
    };
    let mut limited = 0u64;
    let started = Instant::now();
    for _ in 0..2000 {
        match peer.query_borrower(ask.clone()).await {
            Err(e) if e.code() == tonic::Code::ResourceExhausted => limited += 1,
            Err(e) => assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}"),
            Ok(_) => panic!("a query without consent was answered"),
        }
    }
    assert!(limited >= 1985, "{limited} limited");
    let flood_s = started.elapsed().as_secs();
    let denied = 2000 - limited;
    let entries = new_entries(&c, &b, before).await;
    let (aggregates, refused, _, others) = tally(&entries);
    assert_eq!(refused, limited);
    assert_eq!(others, denied);
    assert!(
        aggregates <= flood_s + 2,
        "{aggregates} aggregates in {flood_s} s"
    );
    let bytes: usize = entries.iter().map(|e| e.encoded_len()).sum();
    eprintln!(
        "FIGURE: query flood of 2000 in {flood_s} s (limit 10/min): log grew by {} entries, {bytes} bytes ({denied} denials + {aggregates} aggregates of {limited} refusals)",
        entries.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_neither_block_handshakes_nor_flood_the_log() {
    let c = Consortium::new().unwrap();
    let b = NodeProcess::start(&c, &NodeSpec::new("BANK-B")).unwrap();
    // 500 idle TCP connections from another loopback address: past its
    // per-address cap they are refused, the rest wait for a first byte
    // without holding a handshake slot.
    let mut idle = Vec::new();
    for _ in 0..500 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        if let Ok(s) = socket.connect(b.peer_addr).await {
            idle.push(s);
        }
    }
    assert!(idle.len() >= 400, "{} connected", idle.len());
    let started = Instant::now();
    let tls = c.tls("BANK-B", "admin").unwrap();
    let mut admin = admin_client(&tls, b.admin_addr).await.unwrap();
    status(&mut admin).await.unwrap();
    let node_tls = c.tls("BANK-A", "node").unwrap();
    let mut peer = pb::peer_service_client::PeerServiceClient::new(
        channel(&node_tls, b.peer_addr).await.unwrap(),
    );
    peer.get_node_info(pb::GetNodeInfoRequest {}).await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "legitimate calls took {took:?}"
    );
    eprintln!(
        "FIGURE: with {} idle connections open, an mTLS call completed in {} ms",
        idle.len(),
        took.as_millis()
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let warnings = b.log().lines().filter(|l| l.contains("WARN")).count();
    assert!(
        warnings <= 2,
        "{warnings} WARN lines for 500 probes:\n{}",
        b.log()
    );
}

async fn reflect(material: &TlsMaterial, addr: std::net::SocketAddr) -> tonic::Code {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_request};
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut client = ServerReflectionClient::new(channel(material, addr).await.unwrap());
    match client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
    {
        Ok(mut stream) => match stream.get_mut().message().await {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        },
        Err(e) => e.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_is_for_admins_and_regulators_only() {
    let c = Consortium::new().unwrap();
    let b = NodeProcess::start(&c, &NodeSpec::new("BANK-B")).unwrap();
    let node = c.tls("BANK-A", "node").unwrap();
    assert_eq!(
        reflect(&node, b.peer_addr).await,
        tonic::Code::PermissionDenied
    );
    let regulator = c.tls("REG-1", "regulator").unwrap();
    assert_eq!(reflect(&regulator, b.peer_addr).await, tonic::Code::Ok);
    let admin = c.tls("BANK-B", "admin").unwrap();
    assert_eq!(reflect(&admin, b.admin_addr).await, tonic::Code::Ok);
}

/// Copies the regular files of `from` into `to`, but `skip`.
fn copy_files(from: &Path, to: &Path, skip: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == skip {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_files(&entry.path(), &to.join(&name), skip);
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_lost_its_tail_refuses_to_start_naming_both_sizes() {
    let c = Consortium::new().unwrap();
    let mut a = NodeProcess::start(&c, &NodeSpec::new("BANK-A")).unwrap();
    let tls = c.tls("BANK-A", "admin").unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    put(&mut admin, "F-1").await.unwrap();
    a.stop().unwrap();
    let old = c.root().join("old-store");
    copy_files(&a.data_dir, &old, "high-water");

    a.restart().unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    for i in 2..6 {
        put(&mut admin, &format!("F-{i}")).await.unwrap();
    }
    let acknowledged = log_size(&mut admin).await;
    a.stop().unwrap();

    // The store's files go back in time; the high-water file does not.
    let high_water = std::fs::read(a.data_dir.join("high-water")).unwrap();
    std::fs::remove_dir_all(&a.data_dir).unwrap();
    copy_files(&old, &a.data_dir, "high-water");
    std::fs::write(a.data_dir.join("high-water"), high_water).unwrap();
    let out = Command::new(credshare_e2e::bin("credshare-node"))
        .arg("--config")
        .arg(&a.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("but {acknowledged} were acknowledged"))
            && stderr.contains("holds 2 entries"),
        "{stderr}"
    );
    assert!(stderr.contains("Restore the data directory"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_request_is_an_invalid_argument() {
    let c = Consortium::new().unwrap();
    let b = NodeProcess::start(&c, &NodeSpec::new("BANK-B")).unwrap();
    let tls = c.tls("BANK-B", "admin").unwrap();
    let mut grpc = tonic::client::Grpc::new(channel(&tls, b.admin_addr).await.unwrap());
    grpc.ready().await.unwrap();
    // A string field where PutRecord expects a message: its bytes (tag 15,
    // wire type 7) do not decode as a RecordInput.
    let garbage = HealthCheckRequest {
        service: "\u{7f}\u{7f}\u{7f}".into(),
    };
    let codec: tonic_prost::ProstCodec<HealthCheckRequest, pb::PutRecordResponse> =
        tonic_prost::ProstCodec::default();
    let path = http::uri::PathAndQuery::from_static("/credshare.v1.AdminService/PutRecord");
    let err = grpc
        .unary(tonic::Request::new(garbage), path, codec)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let mut admin = admin_client(&tls, b.admin_addr).await.unwrap();
    assert_eq!(status(&mut admin).await.unwrap().record_count, 0);
}
