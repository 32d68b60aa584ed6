//! Pseudonymous borrower keys end to end (docs/design.md §3, §9): a real
//! discovery service (DISC-1) and two banks serving borrower key
//! generation 2, as real processes, with no consortium secret anywhere.
//! The CLI keys every id by blinded evaluation at the service: records
//! import, consent issue, `borrower show` and an assessment across the two
//! banks work, and the key is exactly the borrower's OPRF pseudonym (so a
//! targeted assessment finds the holders that enrolled the same files). A
//! generation-1 record, consent and peer query sent to a generation-2 node
//! are refused naming both generations and change nothing (the denied
//! query is logged); an import over the enrolment budget stops before any
//! row is sent. No raw id is in any data directory or log. With the
//! stage-2 threshold key the CLI's keys are the whole key's pseudonyms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::process::Command;

use credshare_cli::commands::discovery::client::Use;
use credshare_cli::federation;
use credshare_e2e::discovery::{discovery_ok, service_certs, services, start_service};
use credshare_e2e::privacy::find_ids_in;
use credshare_e2e::{CREDIT_HEADER, Consortium, NodeProcess, day, regulator_audit, text};
use credshare_node::discovery::keyfile::KeyFile;
use credshare_node::discovery::oprf::{OprfKey, borrower_input, pseudonym_of};
use credshare_node::domain::borrower::BorrowerId;
use credshare_proto::v1 as pb;
use serde_json::Value;

/// Held by BANK-A and BANK-B.
const X: &str = "USCC:91350100M000100Y43";
/// Held by BANK-A only.
const Y: &str = "RID:110105198001010016";
/// Held by BANK-B only.
const Z: &str = "RID:440301197506150038";

/// The CLI as `node`'s admin, keying ids at the key service (generation
/// 2), with no consortium secret.
fn gen2_cli(c: &Consortium, node: &NodeProcess, service: &str, public_key: &str) -> Command {
    let mut cmd = c.admin_cli(node);
    cmd.env_remove("CREDSHARE_SECRET")
        .env("CREDSHARE_KEY_GENERATION", "2")
        .env("CREDSHARE_KEY_SERVICE", service)
        .env("CREDSHARE_KEY_SERVICE_PUBLIC_KEY", public_key)
        .arg("--json");
    cmd
}

fn run(mut cmd: Command, args: &[&str]) -> (Option<i32>, String, String) {
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok_json(cmd: Command, args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(cmd, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout} {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A credit file of one live facility per borrower.
fn credit_file(c: &Consortium, name: &str, borrowers: &[&str]) -> std::path::PathBuf {
    let rows: Vec<String> = borrowers
        .iter()
        .enumerate()
        .map(|(i, b)| {
            format!(
                "{b},F-{i},1,WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,NORMAL,0,0,0,ACTIVE,{}",
                day(-100),
                day(300),
                day(0)
            )
        })
        .collect();
    let file = c.root().join(format!("{name}.csv"));
    std::fs::write(&file, format!("{CREDIT_HEADER}\n{}\n", rows.join("\n"))).unwrap();
    file
}

/// The import's summary line (JSON Lines output).
fn import_summary(stdout: &str) -> Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {stdout}"))
}

fn consent_args<'a>(letter: &'a str, until: &'a str, id: &'a str) -> Vec<&'a str> {
    vec![
        "consent",
        "issue",
        "--id",
        id,
        "--purpose",
        "loan-approval",
        "--scope",
        "summary",
        "--until",
        until,
        "--evidence",
        letter,
    ]
}

async fn record_count(c: &Consortium, node: &NodeProcess) -> (u64, u64, u32) {
    let tls = c.tls(&node.institution, "admin").unwrap();
    let mut admin = credshare_e2e::admin_client(&tls, node.admin_addr)
        .await
        .unwrap();
    let s = credshare_e2e::status(&mut admin).await.unwrap();
    (s.record_count, s.consent_count, s.borrower_key_generation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_two_banks_key_borrowers_by_blinded_evaluation_without_a_secret() {
    let c = Consortium::new().unwrap();
    service_certs(&c, "DISC-1");
    let key = c.root().join("oprf.key");
    let keygen = discovery_ok(&c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let pk = keygen["public_key"].as_str().unwrap().to_owned();
    let portfolios = ("PORTFOLIOS", "{BANK-A = 5, BANK-B = 5}");
    let (disc, addr) = start_service(&c, "DISC-1", &key, &[portfolios]);
    let env = [(
        "CREDSHARE_BORROWER_KEYS__GENERATION".to_owned(),
        "2".to_owned(),
    )];
    let nodes = federation::start_federation(&c, &["BANK-A", "BANK-B"], &env).unwrap();
    let (a, b) = (&nodes[0], &nodes[1]);
    for node in [a, b] {
        let config = std::fs::read_to_string(&node.config).unwrap();
        assert!(!config.contains("consortium_secret"), "{config}");
        assert!(config.contains("generation = 2"), "{config}");
    }
    let cli = |node: &NodeProcess| gen2_cli(&c, node, &addr, &pk);

    // Imports: every id keyed by blinded evaluation, then imported.
    for (node, ids) in [(a, [X, Y]), (b, [X, Z])] {
        let file = credit_file(&c, &node.institution, &ids);
        let (code, stdout, stderr) = run(
            cli(node),
            &[
                "records",
                "import",
                file.to_str().unwrap(),
                "--kind",
                "credit",
            ],
        );
        assert_eq!(code, Some(0), "{stdout} {stderr}");
        assert_eq!(import_summary(&stdout)["totals"]["stored"], 2, "{stdout}");
    }
    assert_eq!(record_count(&c, a).await, (2, 0, 2));
    let status = ok_json(cli(a), &["status"]);
    assert_eq!(status["borrower_key_generation"], 2, "{status:#}");

    // The key is exactly the borrower's OPRF pseudonym.
    let shown = ok_json(cli(a), &["borrower", "show", "--id", X]);
    assert_eq!(shown["credit"].as_array().unwrap().len(), 1, "{shown:#}");
    let mut disc_client = services(&c, "BANK-A", &addr).await;
    let x = BorrowerId::parse(X).unwrap();
    let pseudonym = disc_client.pseudonyms(&[x], Use::Enrolment).await.unwrap();
    assert_eq!(
        shown["borrower_key"].as_str().unwrap(),
        hex::encode(pseudonym.pseudonyms[0].0)
    );

    // A consent, then an assessment across the two banks.
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "written authorization").unwrap();
    let (letter, until) = (letter.to_str().unwrap().to_owned(), day(90));
    let issued = ok_json(cli(a), &consent_args(&letter, &until, X));
    assert!(
        issued["consent_id"]
            .as_str()
            .unwrap()
            .starts_with("BANK-A-")
    );
    let assessed = ok_json(cli(a), &["assess", "--id", X, "--purpose", "loan-approval"]);
    let peers = assessed["peers"].as_array().unwrap();
    let answered: Vec<&str> = peers
        .iter()
        .filter(|p| p["status"] == "ANSWERED")
        .map(|p| p["institution"].as_str().unwrap())
        .collect();
    assert_eq!(answered, ["BANK-A", "BANK-B"], "{assessed:#}");
    assert_eq!(assessed["lender_count"], 2, "{assessed:#}");

    // Targeted: the imported keys are the directory's pseudonyms, so
    // enrolling the same files finds exactly the holders.
    for node in [a, b] {
        let file = c.root().join(format!("{}.csv", node.institution));
        let args = [
            "enrol",
            "--discovery",
            &addr,
            "--file",
            file.to_str().unwrap(),
        ];
        let enrolled = discovery_ok(&c, &node.institution, &args);
        assert_eq!(enrolled["registered"], 2, "{enrolled}");
    }
    let args = [
        "assess",
        "--id",
        X,
        "--purpose",
        "loan-approval",
        "--discovery",
        &addr,
        "--discovery-public-key",
        &pk,
    ];
    let targeted = ok_json(cli(a), &args);
    assert_eq!(
        targeted["discovery_holders"],
        serde_json::json!(["BANK-A", "BANK-B"]),
        "{targeted:#}"
    );
    assert_eq!(targeted["lender_count"], 2, "{targeted:#}");

    generation_one_is_refused(&c, a, b).await;

    // Over the enrolment budget (portfolio 5 x factor 2; 4 used): the
    // import stops before any row is sent.
    let before = record_count(&c, b).await;
    let many = credshare_e2e::discovery::sample(&c, "BANK-B", 20);
    let (code, stdout, stderr) = run(
        cli(b),
        &[
            "records",
            "import",
            many.to_str().unwrap(),
            "--kind",
            "credit",
        ],
    );
    assert_ne!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stderr.contains("enrolment budget is exhausted")
            && stderr.contains("0 of 20 ids were keyed"),
        "{stdout} {stderr}"
    );
    assert_eq!(record_count(&c, b).await, before);

    // No raw id anywhere: banks' and the service's data and logs.
    let ids: HashSet<String> = [X, Y, Z]
        .iter()
        .map(|i| i.split_once(':').unwrap().1.to_owned())
        .collect();
    for node in [a, b, &disc] {
        let leaks = find_ids_in(&node.data_dir, &ids);
        assert!(leaks.is_empty(), "raw ids on disk: {leaks:?}");
        let leaks = find_ids_in(node.log_file.parent().unwrap(), &ids);
        assert!(leaks.is_empty(), "raw ids in logs: {leaks:?}");
    }
}

/// A generation-1 record, consent and peer query at a generation-2 node:
/// refused naming both generations; nothing is stored; the query's
/// denial is logged.
async fn generation_one_is_refused(c: &Consortium, a: &NodeProcess, b: &NodeProcess) {
    const REFUSAL: &str = "borrower key generation 1 was sent; this node serves generation 2";
    let before = record_count(c, a).await;
    let file = credit_file(c, "gen1", &[Y]);
    let rejects = c.root().join("rejects.csv");
    let mut gen1 = c.admin_cli(a);
    gen1.arg("--json");
    let args = [
        "records",
        "import",
        file.to_str().unwrap(),
        "--kind",
        "credit",
        "--reject-file",
        rejects.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = run(gen1, &args);
    assert_eq!(code, Some(3), "{stdout} {stderr}");
    assert_eq!(import_summary(&stdout)["totals"]["rejected"], 1, "{stdout}");
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        rejected.contains(&format!("1,key_generation,{REFUSAL}")),
        "{rejected}"
    );

    let letter = c.root().join("letter.txt");
    let until = day(90);
    let args = consent_args(letter.to_str().unwrap(), &until, Y);
    let out = c.admin_cli(a).args(&args).output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(REFUSAL), "{}", text(&out));
    assert_eq!(record_count(c, a).await, before, "nothing changed");

    // A generation-1 peer (key_generation 0) asking BANK-B.
    let mut peer = credshare_e2e::peer_client(c, "BANK-A", b).await;
    let denied = peer
        .query_borrower(pb::QueryBorrowerRequest {
            borrower_key: vec![7; 32],
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let denial = credshare_node::federation::denial::from_status(&denied).unwrap();
    assert_eq!(denial.reason, pb::DenialReason::KeyGeneration as i32);
    assert!(denial.message.contains(REFUSAL), "{}", denial.message);
    // A generation-2 query carrying a generation-1 grant.
    let grant = credshare_e2e::signed_loan_grant(c, "BANK-A", "BANK-A-GEN1", vec![7; 32]);
    let denied = peer
        .query_borrower(pb::QueryBorrowerRequest {
            consent: Some(grant),
            borrower_key: vec![7; 32],
            purpose: pb::Purpose::LoanApproval as i32,
            scope: pb::Scope::Summary as i32,
            key_generation: 2,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let denial = credshare_node::federation::denial::from_status(&denied).unwrap();
    assert_eq!(denial.reason, pb::DenialReason::KeyGeneration as i32);
    assert!(
        denial
            .message
            .contains(&format!("its consent grant: {REFUSAL}")),
        "{}",
        denial.message
    );

    let out = regulator_audit(c, b, &["--json", "entries"]);
    let logged: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "peer-query")
        .filter(|e| e["decision"] == "DENIED" && e["denial_reason"] == "KEY_GENERATION")
        .map(|e| e["consent_id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(logged, ["", "BANK-A-GEN1"], "{}", text(&out));
}

/// Stage 2: a generation-2 bank keys its borrowers with the regulator's
/// part and two custodians' shares (combined in the CLI): the keys are
/// the whole key's pseudonyms, so nothing is re-imported when the
/// service moves from stage 1 to stage 2.
#[test]
fn threshold_parts_give_the_whole_keys_pseudonyms() {
    let c = Consortium::new().unwrap();
    for inst in ["DISC-1", "CUST-1", "CUST-3"] {
        service_certs(&c, inst);
    }
    let key = c.root().join("oprf.key");
    let keygen = discovery_ok(&c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let pk = keygen["public_key"].as_str().unwrap().to_owned();
    let shares = c.root().join("shares");
    let (key_s, shares_s) = (key.to_str().unwrap(), shares.to_str().unwrap());
    discovery_ok(&c, "", &["share", "--key", key_s, "--out-dir", shares_s]);
    let portfolios = ("PORTFOLIOS", "{BANK-A = 5}");
    let (_disc, addr) = start_service(&c, "DISC-1", &shares.join("regulator.key"), &[portfolios]);
    let (_c1, addr1) = start_service(&c, "CUST-1", &shares.join("custodian-1.key"), &[portfolios]);
    let (_c3, addr3) = start_service(&c, "CUST-3", &shares.join("custodian-3.key"), &[portfolios]);
    let env = [(
        "CREDSHARE_BORROWER_KEYS__GENERATION".to_owned(),
        "2".to_owned(),
    )];
    let nodes = federation::start_federation(&c, &["BANK-A"], &env).unwrap();
    let a = &nodes[0];
    let cli = || {
        let mut cmd = gen2_cli(&c, a, &addr, &pk);
        cmd.env("CREDSHARE_KEY_CUSTODIANS", format!("{addr1},{addr3}"));
        cmd
    };
    let file = credit_file(&c, "BANK-A", &[X, Y]);
    let (code, stdout, stderr) = run(
        cli(),
        &[
            "records",
            "import",
            file.to_str().unwrap(),
            "--kind",
            "credit",
        ],
    );
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert_eq!(import_summary(&stdout)["totals"]["stored"], 2, "{stdout}");

    let shown = ok_json(cli(), &["borrower", "show", "--id", Y]);
    assert_eq!(shown["credit"].as_array().unwrap().len(), 1, "{shown:#}");
    let whole = KeyFile::read(&key).unwrap();
    let output = OprfKey::from_scalar(&whole.scalar)
        .unwrap()
        .output(&borrower_input(&BorrowerId::parse(Y).unwrap()))
        .unwrap();
    assert_eq!(
        shown["borrower_key"].as_str().unwrap(),
        hex::encode(pseudonym_of(&output).0)
    );
}
