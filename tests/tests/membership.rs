//! Signed consortium membership (docs/operations.md#members): a bank added
//! through a new manifest handed to one node is queried by every member
//! without a restart; a removed member is refused at once; older manifests
//! are never adopted; an expired manifest stops peer queries, with a clear
//! status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use credshare_e2e::{Consortium, NodeProcess, NodeSpec, channel, credshare, free_port};
use credshare_e2e::{eventually, now_ms};
use credshare_proto::v1 as pb;

type PeerClient = pb::peer_service_client::PeerServiceClient<tonic::transport::Channel>;
type AdminClient = pb::admin_service_client::AdminServiceClient<tonic::transport::Channel>;

const CONSORTIUM: &str = "TEST-CONSORTIUM";

/// The operator's certificate, a draft and the signing of versions.
struct Operator {
    dir: PathBuf,
    draft: PathBuf,
}

impl Operator {
    fn new(c: &Consortium) -> Self {
        let dir = c.root().join("operator");
        credshare_e2e::issue(&c.ca_dir(), "operator", "CONSORTIUM-OP", &dir, &[]).unwrap();
        let draft = c.root().join("manifest.json");
        credshare(&[
            "consortium",
            "manifest",
            "init",
            "--consortium",
            CONSORTIUM,
            "--out",
            draft.to_str().unwrap(),
        ])
        .unwrap();
        Self { dir, draft }
    }

    fn add(&self, bank: &str, port: u16) {
        let address = format!("127.0.0.1:{port}");
        let draft = self.draft.to_str().unwrap();
        let args = ["consortium", "manifest", "add", "--manifest", draft];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--institution", bank, "--address", &address]);
        credshare(&args).unwrap();
    }

    fn add_regulator(&self) {
        let draft = self.draft.to_str().unwrap();
        credshare(&[
            "consortium",
            "manifest",
            "add",
            "--manifest",
            draft,
            "--institution",
            "REG-1",
            "--role",
            "regulator",
        ])
        .unwrap();
    }

    fn remove(&self, bank: &str) {
        let draft = self.draft.to_str().unwrap();
        credshare(&[
            "consortium",
            "manifest",
            "remove",
            "--manifest",
            draft,
            "--institution",
            bank,
        ])
        .unwrap();
    }

    /// Signs the draft into `out`; `expires` YYYY-MM-DD overrides validity.
    fn sign(&self, out: &Path, expires: Option<&str>) -> String {
        let (draft, op, out) = (
            self.draft.to_str().unwrap(),
            self.dir.to_str().unwrap(),
            out.to_str().unwrap(),
        );
        let mut args = vec![
            "consortium",
            "manifest",
            "sign",
            "--manifest",
            draft,
            "--operator",
            op,
            "--out",
            out,
        ];
        if let Some(day) = expires {
            args.extend(["--expires", day]);
        }
        credshare(&args).unwrap()
    }
}

/// Starts `bank` on `port` with its own copy of `manifest` and no static peers.
fn start(
    c: &Consortium,
    bank: &str,
    port: u16,
    manifest: &Path,
    extra: &[(&str, &str)],
) -> NodeProcess {
    let own = c.root().join(format!("{bank}.manifest"));
    std::fs::copy(manifest, &own).unwrap();
    let mut env = vec![
        (
            "CREDSHARE_MEMBERSHIP__MANIFEST_FILE".to_owned(),
            own.display().to_string(),
        ),
        (
            "CREDSHARE_MEMBERSHIP__CONSORTIUM".to_owned(),
            CONSORTIUM.to_owned(),
        ),
        (
            "CREDSHARE_MEMBERSHIP__POLL_SECONDS".to_owned(),
            "1".to_owned(),
        ),
        (
            "CREDSHARE_TLS__RELOAD_INTERVAL_SECONDS".to_owned(),
            "1".to_owned(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let spec = NodeSpec {
        institution: bank.into(),
        peer_port: port,
        peers: Vec::new(),
        env,
    };
    NodeProcess::start(c, &spec).unwrap()
}

/// Hands `manifest` to `node` (its configured file; picked up on reload).
fn hand_to(c: &Consortium, node: &NodeProcess, manifest: &Path) {
    let own = c.root().join(format!("{}.manifest", node.institution));
    let tmp = own.with_extension("tmp");
    std::fs::copy(manifest, &tmp).unwrap();
    std::fs::rename(&tmp, &own).unwrap();
}

async fn status(c: &Consortium, node: &NodeProcess) -> pb::StatusResponse {
    let tls = c.tls(&node.institution, "admin").unwrap();
    let mut admin = AdminClient::new(channel(&tls, node.admin_addr).await.unwrap());
    admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// A query by `as_bank` (its own signed grant) at `holder`: the status code.
async fn query_code(c: &Consortium, as_bank: &str, holder: &NodeProcess) -> tonic::Code {
    let dir = c.certs(as_bank);
    let signer =
        credshare_node::signing::Signer::load(&dir.join("signer.crt"), &dir.join("signer.key"))
            .unwrap();
    let grant = pb::ConsentGrant {
        consent_id: format!("{as_bank}-M-{}", now_ms()),
        borrower_key: vec![0x51; 32],
        key_generation: 0,
        grantee_institution: as_bank.into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: now_ms() - 1_000,
        not_after_ms: now_ms() + 86_400_000,
        authorization_sha256: vec![7; 32],
        issued_at_ms: now_ms(),
    };
    let envelope = signer.sign_envelope(
        credshare_node::signing::CONSENT_GRANT_TYPE,
        prost::Message::encode_to_vec(&grant),
    );
    let tls = c.tls(as_bank, "node").unwrap();
    let Ok(ch) = channel(&tls, holder.peer_addr).await else {
        return tonic::Code::Unavailable;
    };
    let result = PeerClient::new(ch)
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(envelope),
            borrower_key: vec![0x51; 32],
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            request_nonce: vec![1],
            ..Default::default()
        })
        .await;
    match result {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

fn peer_names(status: &pb::StatusResponse) -> Vec<String> {
    let mut names: Vec<String> = status
        .peers
        .iter()
        .map(|p| p.institution_id.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_and_leave_through_a_manifest_handed_to_one_node() {
    let c = Consortium::new().unwrap();
    let op = Operator::new(&c);
    let (pa, pb_, pc) = (free_port(), free_port(), free_port());
    op.add("BANK-A", pa);
    op.add("BANK-B", pb_);
    op.add_regulator();
    let v1 = c.root().join("v1.manifest");
    assert!(op.sign(&v1, None).contains("signed version 1"));
    op.add("BANK-C", pc);
    let v2 = c.root().join("v2.manifest");
    op.sign(&v2, None);

    let a = start(&c, "BANK-A", pa, &v1, &[]);
    let b = start(&c, "BANK-B", pb_, &v1, &[]);
    let cn = start(&c, "BANK-C", pc, &v2, &[]);
    assert_eq!(status(&c, &a).await.membership_version, 1);
    assert_eq!(peer_names(&status(&c, &b).await), ["BANK-A"]);
    // BANK-C is not in version 1: BANK-A refuses it.
    assert_eq!(
        query_code(&c, "BANK-C", &a).await,
        tonic::Code::PermissionDenied
    );
    assert_eq!(query_code(&c, "BANK-B", &a).await, tonic::Code::Ok);

    // Version 2 handed to BANK-A only: BANK-B learns it from A, and both
    // now peer with and answer BANK-C, with no restart.
    hand_to(&c, &a, &v2);
    eventually(
        Duration::from_secs(15),
        "BANK-B adopts version 2 from BANK-A",
        || {
            let (c, b) = (&c, &b);
            async move { status(c, b).await.membership_version == 2 }
        },
    )
    .await;
    assert_eq!(peer_names(&status(&c, &b).await), ["BANK-A", "BANK-C"]);
    assert_eq!(peer_names(&status(&c, &a).await), ["BANK-B", "BANK-C"]);
    assert_eq!(query_code(&c, "BANK-C", &a).await, tonic::Code::Ok);
    assert_eq!(query_code(&c, "BANK-C", &b).await, tonic::Code::Ok);

    // BANK-C removed (version 3, handed to BANK-B): refused everywhere at
    // once, before any CRL.
    op.remove("BANK-C");
    let v3 = c.root().join("v3.manifest");
    op.sign(&v3, None);
    hand_to(&c, &b, &v3);
    eventually(Duration::from_secs(15), "BANK-A adopts version 3", || {
        let (c, a) = (&c, &a);
        async move { status(c, a).await.membership_version == 3 }
    })
    .await;
    assert_eq!(
        query_code(&c, "BANK-C", &a).await,
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        query_code(&c, "BANK-C", &b).await,
        tonic::Code::PermissionDenied
    );
    assert_eq!(peer_names(&status(&c, &a).await), ["BANK-B"]);

    // An older manifest is never adopted again.
    hand_to(&c, &a, &v2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status(&c, &a).await.membership_version, 3);
    assert_eq!(
        query_code(&c, "BANK-C", &a).await,
        tonic::Code::PermissionDenied
    );

    // Kept across a restart: the adopted version, not the file's.
    let mut a = a;
    a.stop().unwrap();
    a.restart().unwrap();
    assert_eq!(status(&c, &a).await.membership_version, 3);
    drop(cn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_manifest_stops_peer_queries_with_a_clear_status() {
    let c = Consortium::new().unwrap();
    let op = Operator::new(&c);
    let (pa, pb_) = (free_port(), free_port());
    op.add("BANK-A", pa);
    op.add("BANK-B", pb_);
    let expired = c.root().join("expired.manifest");
    op.sign(&expired, Some("2025-01-01"));
    let a = start(
        &c,
        "BANK-A",
        pa,
        &expired,
        &[("CREDSHARE_MEMBERSHIP__GRACE_HOURS", "0")],
    );
    assert_eq!(
        query_code(&c, "BANK-B", &a).await,
        tonic::Code::FailedPrecondition
    );
    let s = status(&c, &a).await;
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("peer queries are stopped")),
        "{:?}",
        s.warnings
    );

    // A current manifest, installed while it runs, resumes them.
    let current = c.root().join("current.manifest");
    op.sign(&current, None);
    hand_to(&c, &a, &current);
    eventually(Duration::from_secs(15), "queries resume", || {
        let (c, a) = (&c, &a);
        async move { query_code(c, "BANK-B", a).await == tonic::Code::Ok }
    })
    .await;
}
