//! The discovery service end to end: a real `credshare-node` with
//! `[discovery]` (the regulator's, institution DISC-1), real bank
//! certificates, the real `credshare discovery` CLI. Two banks enrol their
//! borrowers by blinded evaluation; lookups return exactly the holders;
//! budgets refuse with RESOURCE_EXHAUSTED (logged, and still after a
//! restart); receipts are single use and bound to a consent hash;
//! withdrawn pseudonyms are not returned, and only the holder can withdraw
//! its own; registering beyond the declared portfolio is flagged; the
//! discovery log verifies with `credshare audit verify`; no raw identifier
//! reaches the service's data directory or log. Stage 2 is in
//! `discovery_threshold.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use credshare_cli::commands::discovery::client::Use;
use credshare_e2e::discovery::*;
use credshare_e2e::{Consortium, NodeProcess, bin, text};
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use credshare_proto::v1 as pb;

fn loan(consent: [u8; 32]) -> Use {
    Use::Assessment {
        purpose: Purpose::LoanApproval,
        consent_sha256: consent,
    }
}

/// Every file under `dir`, concatenated (lossy UTF-8) with raw bytes.
fn all_bytes(dir: &Path, into: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_bytes(&path, into);
        } else {
            into.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
}

/// The world of the main test: the service, the banks' borrowers.
struct World {
    c: Consortium,
    disc: NodeProcess,
    addr: String,
    ids_a: BTreeSet<String>,
    ids_b: BTreeSet<String>,
    /// Held by both banks; by BANK-B only.
    shared: String,
    only_b: String,
}

fn card() -> Use {
    Use::Assessment {
        purpose: Purpose::CreditCardApproval,
        consent_sha256: [9; 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_are_found_only_through_budgeted_logged_receipts() {
    let mut w = enrol_two_banks();
    receipts_are_single_use_and_bound(&w).await;
    bad_input_and_budgets_are_refused(&w).await;
    withdrawals_and_figures(&w);
    restart_keeps_directory_and_budgets(&mut w).await;
    log_verifies_and_holds_no_identifier(&mut w);
}

/// Two banks enrol; BANK-B beyond its declared portfolio; lookups return
/// exactly the holders.
fn enrol_two_banks() -> World {
    let consortium = Consortium::new().unwrap();
    let c = &consortium;
    service_certs(c, "DISC-1");
    let key = c.root().join("oprf.key");
    discovery_ok(c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let (disc, addr) = start_service(
        c,
        "DISC-1",
        &key,
        &[
            ("PORTFOLIOS", "{BANK-A = 1000, BANK-B = 10}"),
            ("ENROLMENT_FACTOR", "10"),
            ("PURPOSE_BUDGETS", "{credit-card-approval = 1}"),
        ],
    );

    // Two banks enrol; BANK-B registers more than its declared 10.
    let (file_a, file_b) = (sample(c, "BANK-A", 30), sample(c, "BANK-B", 30));
    let (ids_a, ids_b) = (ids(&file_a), ids(&file_b));
    let a = enrol(c, "BANK-A", "enrol", &addr, &file_a);
    assert_eq!(a["registered"], ids_a.len() as u64, "{a}");
    assert_eq!(a["over_portfolio"], false);
    let b = enrol(c, "BANK-B", "enrol", &addr, &file_b);
    assert_eq!(b["over_portfolio"], true, "{b}");
    let again = enrol(c, "BANK-A", "enrol", &addr, &file_a);
    assert_eq!(
        (again["registered"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(ids_a.len() as u64))
    );

    // Lookups return exactly the holders.
    let shared = ids_a
        .intersection(&ids_b)
        .next()
        .expect("a shared borrower")
        .clone();
    let only_a = ids_a.difference(&ids_b).next().unwrap().clone();
    let only_b = ids_b.difference(&ids_a).next().unwrap().clone();
    assert_eq!(holders(c, &addr, &shared, &[]), ["BANK-A", "BANK-B"]);
    assert_eq!(holders(c, &addr, &only_a, &[]), ["BANK-A"]);
    assert_eq!(
        holders(c, &addr, "USCC:91350100M000100Y43", &[]),
        Vec::<String>::new()
    );
    World {
        c: consortium,
        disc,
        addr,
        ids_a,
        ids_b,
        shared,
        only_b,
    }
}

async fn receipts_are_single_use_and_bound(w: &World) {
    let (c, addr, shared) = (&w.c, w.addr.as_str(), &w.shared);
    // Receipts: single use, bound to the member and the consent hash.
    let mut bank_a = services(c, "BANK-A", addr).await;
    let id = BorrowerId::parse(shared).unwrap();
    let ev = bank_a
        .pseudonyms(std::slice::from_ref(&id), loan([7; 32]))
        .await
        .unwrap();
    let lookup = |receipt: &str, consent: [u8; 32]| pb::LookupHoldersRequest {
        pseudonym: ev.pseudonyms[0].0.to_vec(),
        receipt_id: receipt.into(),
        consent_sha256: consent.to_vec(),
    };
    let other_consent = bank_a
        .discovery
        .lookup(lookup(&ev.receipt_id, [8; 32]))
        .await
        .unwrap_err();
    assert_eq!(
        other_consent.code(),
        tonic::Code::FailedPrecondition,
        "{other_consent:?}"
    );
    assert!(other_consent.message().contains("RECEIPT_OTHER_CONSENT"));
    let mut bank_b = services(c, "BANK-B", addr).await;
    let stolen = bank_b
        .discovery
        .lookup(lookup(&ev.receipt_id, [7; 32]))
        .await
        .unwrap_err();
    assert!(
        stolen.message().contains("RECEIPT_OTHER_MEMBER"),
        "{stolen:?}"
    );
    let found = bank_a
        .discovery
        .lookup(lookup(&ev.receipt_id, [7; 32]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.holders, ["BANK-A", "BANK-B"]);
    let reused = bank_a
        .discovery
        .lookup(lookup(&ev.receipt_id, [7; 32]))
        .await
        .unwrap_err();
    assert!(reused.message().contains("RECEIPT_USED"), "{reused:?}");
    let unknown = bank_a
        .discovery
        .lookup(lookup("00112233", [7; 32]))
        .await
        .unwrap_err();
    assert!(unknown.message().contains("RECEIPT_UNKNOWN"), "{unknown:?}");
    // An enrolment evaluation gives no receipt: nothing to look up with.
    let enrol = bank_a
        .pseudonyms(std::slice::from_ref(&id), Use::Enrolment)
        .await
        .unwrap();
    assert!(enrol.receipt_id.is_empty());
    let unbound = bank_a
        .discovery
        .lookup(lookup("", [7; 32]))
        .await
        .unwrap_err();
    assert_eq!(unbound.code(), tonic::Code::InvalidArgument);
}

async fn bad_input_and_budgets_are_refused(w: &World) {
    let (c, addr) = (&w.c, w.addr.as_str());
    let mut bank_a = services(c, "BANK-A", addr).await;
    let id = BorrowerId::parse(&w.shared).unwrap();
    // Invalid group elements and sizes: INVALID_ARGUMENT, nothing spent.
    for bad in [
        vec![vec![0u8; 32]],
        vec![vec![1u8; 31]],
        vec![vec![0xffu8; 32]],
        Vec::new(),
    ] {
        let req = pb::EvaluateRequest {
            blinded_elements: bad,
            enrolment: true,
            ..Default::default()
        };
        let e = bank_a.discovery.evaluate(req).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    }
    let over = pb::EvaluateRequest {
        blinded_elements: vec![ev_elem(); 10_001],
        enrolment: true,
        ..Default::default()
    };
    let e = bank_a.discovery.evaluate(over).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("10000"), "{e:?}");

    // Budgets: the second credit-card evaluation is refused and logged.
    let card = card();
    bank_a
        .pseudonyms(std::slice::from_ref(&id), card)
        .await
        .unwrap();
    let refused = bank_a
        .pseudonyms(std::slice::from_ref(&id), card)
        .await
        .unwrap_err();
    let status = refused
        .downcast_ref::<tonic::Status>()
        .expect("a gRPC status");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("PURPOSE_BUDGET"));
}

fn withdrawals_and_figures(w: &World) {
    let (c, addr) = (&w.c, w.addr.as_str());
    let metrics_addr = w.disc.metrics_addr.expect("metrics listener");
    let (shared, only_b) = (&w.shared, &w.only_b);
    // Withdrawal: only the holder's own; withdrawn ones are not returned.
    let one = c.root().join("one.txt");
    std::fs::write(&one, format!("{only_b}\n")).unwrap();
    let w = enrol(c, "BANK-A", "withdraw", addr, &one);
    assert_eq!(
        (w["withdrawn"].as_u64(), w["unchanged"].as_u64()),
        (Some(0), Some(1)),
        "{w}"
    );
    std::fs::write(&one, format!("{shared}\n")).unwrap();
    let w = enrol(c, "BANK-B", "withdraw", addr, &one);
    assert_eq!(w["withdrawn"].as_u64(), Some(1), "{w}");
    assert_eq!(holders(c, addr, shared, &[]), ["BANK-A"]);
    assert_eq!(holders(c, addr, only_b, &[]), ["BANK-B"]);

    // The regulator's figures: the flag and the refusal.
    let s = discovery_ok(c, "REG-1", &["status", "--discovery", addr]);
    let member = |m: &str| {
        s["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["institution"] == m)
            .unwrap()
            .clone()
    };
    assert_eq!(member("BANK-B")["over_portfolio"], true, "{s}");
    assert_eq!(member("BANK-A")["over_portfolio"], false);
    assert!(member("BANK-A")["refused"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(
        member("BANK-A")["flags"],
        serde_json::json!(["OVER_BUDGET"]),
        "{s}"
    );
    // BANK-B enrolled 30 + 1 withdrawal of its budget of 100: not near it.
    assert_eq!(
        member("BANK-B")["flags"],
        serde_json::json!(["OVER_PORTFOLIO"]),
        "{s}"
    );
    let metrics = credshare_e2e::http_get(metrics_addr, "/metrics").1;
    assert!(
        metrics.contains(r#"credshare_discovery_calls_total{method="Evaluate",member="BANK-A",outcome="PURPOSE_BUDGET"} 1"#),
        "{metrics}"
    );
    let (code, _, err) = discovery(c, "BANK-A", &["status", "--discovery", addr]);
    assert_eq!(code, Some(4), "a member may not read the figures: {err}");
}

async fn restart_keeps_directory_and_budgets(w: &mut World) {
    let disc = &mut w.disc;
    disc.stop().unwrap();
    disc.restart().unwrap();
    let (c, addr) = (&w.c, w.addr.as_str());
    assert_eq!(holders(c, addr, &w.shared, &[]), ["BANK-A"]);
    let mut bank_a = services(c, "BANK-A", addr).await;
    let id = BorrowerId::parse(&w.shared).unwrap();
    let refused = bank_a
        .pseudonyms(std::slice::from_ref(&id), card())
        .await
        .unwrap_err();
    assert_eq!(
        refused.downcast_ref::<tonic::Status>().unwrap().code(),
        tonic::Code::ResourceExhausted
    );
}

fn log_verifies_and_holds_no_identifier(w: &mut World) {
    let (c, addr, disc) = (&w.c, w.addr.as_str(), &mut w.disc);
    // The discovery log verifies, on the discovery listener too, and names the refusals.
    for node in [addr.to_owned(), disc.peer_addr.to_string()] {
        let out = Command::new(bin("credshare"))
            .args(["audit", "verify", "--node", &node, "--certs"])
            .arg(c.certs("REG-1"))
            .arg("--crl")
            .arg(c.ca_dir().join("ca.crl"))
            .env("HOME", c.root())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("discovery"),
            "{}",
            text(&out)
        );
    }
    let out = Command::new(bin("credshare"))
        .args(["--json", "audit", "entries", "--node", addr, "--certs"])
        .arg(c.certs("REG-1"))
        .env("HOME", c.root())
        .output()
        .unwrap();
    let entries = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        entries.contains("PURPOSE_BUDGET") && entries.contains("RECEIPT_USED"),
        "{}",
        text(&out)
    );
    assert!(
        entries.contains("\"over_portfolio\": true") || entries.contains("\"over_portfolio\":true")
    );

    // No raw identifier in the service's data directory or its log.
    disc.stop().unwrap();
    let mut bytes = Vec::new();
    all_bytes(&disc.data_dir, &mut bytes);
    bytes.extend(std::fs::read(&disc.log_file).unwrap());
    let hay = String::from_utf8_lossy(&bytes);
    for id in w.ids_a.iter().chain(&w.ids_b) {
        assert!(
            !hay.contains(id.as_str()),
            "a raw borrower id reached the discovery service's files"
        );
    }
}

fn ev_elem() -> Vec<u8> {
    credshare_node::discovery::oprf::BlindBatch::inputs(vec![b"x".to_vec()]).blinded[0].clone()
}
