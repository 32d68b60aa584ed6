//! What many end-to-end tests start from: a consent issued, a live facility
//! imported, through the CLI as an officer would.

use credshare_node::signing::{CONSENT_GRANT_TYPE, Signer};
use credshare_proto::v1 as pb;
use prost::Message;

use crate::{CREDIT_HEADER, Consortium, NodeProcess, cli_json, cli_ok_json, day, now_ms};

/// `node`'s consent for loan approval of `borrower`: its id.
pub fn loan_consent(c: &Consortium, node: &NodeProcess, borrower: &str) -> String {
    let letter = c.root().join("letter.txt");
    std::fs::write(&letter, "written authorization").expect("writing the evidence file");
    let until = day(90);
    let args = [
        "consent",
        "issue",
        "--id",
        borrower,
        "--purpose",
        "loan-approval",
        "--scope",
        "summary",
        "--until",
        &until,
        "--evidence",
        letter.to_str().expect("a UTF-8 temporary path"),
    ];
    let issued = cli_ok_json(c, node, &args);
    issued["consent_id"]
        .as_str()
        .expect("consent issue --json names the consent")
        .to_owned()
}

/// Imports one live facility (`F-LIVE`, opened 100 days ago, maturing in
/// 300, reported today) of `borrower` at `node`, so that `node` may ask its
/// peers for post-loan management (reason 01).
pub fn import_live_facility(c: &Consortium, node: &NodeProcess, borrower: &str) {
    let file = c.root().join(format!("{}-credit.csv", node.institution));
    let row = format!(
        "{borrower},F-LIVE,1,WORKING_CAPITAL,CNY,100000000,50000000,{},{},CREDIT,NORMAL,0,0,0,ACTIVE,{}",
        day(-100),
        day(300),
        day(0)
    );
    std::fs::write(&file, format!("{CREDIT_HEADER}\n{row}\n")).expect("writing the CSV");
    let path = file.to_str().expect("a UTF-8 temporary path");
    let args = ["records", "import", path, "--kind", "credit"];
    let (code, stdout, stderr) = cli_json(c, node, &args);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
}

/// A SUMMARY loan-approval grant of `borrower_key` to `grantee`, valid for
/// the hour, signed with the grantee's signer key (generation 1): built
/// by hand, for tests that speak to a peer listener directly.
pub fn signed_loan_grant(
    c: &Consortium,
    grantee: &str,
    consent_id: &str,
    borrower_key: Vec<u8>,
) -> pb::SignedEnvelope {
    let dir = c.certs(grantee);
    let signer = Signer::load(&dir.join("signer.crt"), &dir.join("signer.key"))
        .expect("the grantee's signer");
    let now = now_ms();
    let grant = pb::ConsentGrant {
        consent_id: consent_id.into(),
        borrower_key,
        grantee_institution: grantee.into(),
        purposes: vec![pb::Purpose::LoanApproval as i32],
        scope: pb::Scope::Summary as i32,
        not_before_ms: now - 60_000,
        not_after_ms: now + 3_600_000,
        authorization_sha256: vec![7; 32],
        issued_at_ms: now - 60_000,
        ..Default::default()
    };
    signer.sign_envelope(CONSENT_GRANT_TYPE, grant.encode_to_vec())
}

/// A `PeerService` client of `node`'s peer listener with `who`'s node
/// certificate.
pub async fn peer_client(
    c: &Consortium,
    who: &str,
    node: &NodeProcess,
) -> pb::peer_service_client::PeerServiceClient<tonic::transport::Channel> {
    let tls = c.tls(who, "node").expect("the node's TLS identity");
    let channel = crate::channel(&tls, node.peer_addr)
        .await
        .expect("connecting to the peer listener");
    pb::peer_service_client::PeerServiceClient::new(channel)
}
