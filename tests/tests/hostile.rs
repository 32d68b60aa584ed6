//! A hostile peer or a failing disk cannot take a node down: real nodes,
//! raw sockets, a file system that fills.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use credshare_e2e::{AdminClient, Consortium, NodeProcess, NodeSpec, admin_client, status};
use credshare_node::tls::TlsMaterial;
use credshare_proto::v1 as pb;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const ADMIN_SERVICE: &str = "credshare.v1.AdminService";

fn credit(facility: &str) -> pb::CreditSummary {
    pb::CreditSummary {
        facility_id: facility.into(),
        version: 1,
        institution_id: "BANK-A".into(),
        borrower_key: vec![5; 32],
        facility_type: pb::FacilityType::WorkingCapital as i32,
        currency: "CNY".into(),
        contract_amount: 1_000,
        outstanding_balance: 500,
        open_date: "2024-01-10".into(),
        maturity_date: "2027-01-10".into(),
        guarantee_type: pb::GuaranteeType::Credit as i32,
        risk_class: pb::RiskClass::Normal as i32,
        as_of_date: "2026-01-31".into(),
        account_status: pb::AccountStatus::Active as i32,
        ..Default::default()
    }
}

async fn put(admin: &mut AdminClient, facility: &str) -> Result<(), tonic::Status> {
    let record = pb::RecordInput {
        record: Some(pb::record_input::Record::Credit(credit(facility))),
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
    assert_eq!(status(&mut admin).await.unwrap().record_count, 1);

    // Space freed: serving again without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    wait_for_health(&tls, &a, ServingStatus::Serving).await;
    eprintln!(
        "FIGURE: serving again {} ms after space was freed",
        freed.elapsed().as_millis()
    );
    put(&mut admin, "F-3").await.unwrap();

    // Every acknowledged row survives a restart.
    a.stop().unwrap();
    a.restart().unwrap();
    let mut admin = admin_client(&tls, a.admin_addr).await.unwrap();
    assert_eq!(status(&mut admin).await.unwrap().record_count, 2);
    a.stop().unwrap();
}
