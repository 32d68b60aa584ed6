//! Consented peer queries between real nodes: every denial reason, receipts,
//! revocation delivery across a restart, and receipts that survive `kill -9`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use credshare_e2e::now_ms;
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, channel, start_federation_with};
use credshare_node::audit::receipt::{
    proof_hashes, verify_checkpoint_consistency, verify_receipt, verify_signed_checkpoint,
};
use credshare_node::audit::{leaf_hash, verify_inclusion};
use credshare_node::pki::InstitutionId;
use credshare_node::signing::{
    CONSENT_GRANT_TYPE, CONSENT_REVOCATION_TYPE, SignatureVerifier, Signer,
};
use credshare_proto::v1 as pb;
use prost::Message;

type PeerClient = pb::peer_service_client::PeerServiceClient<tonic::transport::Channel>;
type AdminClient = pb::admin_service_client::AdminServiceClient<tonic::transport::Channel>;

fn signer(c: &Consortium, bank: &str) -> Signer {
    let dir = c.certs(bank);
    Signer::load(&dir.join("signer.crt"), &dir.join("signer.key")).unwrap()
}

fn verifier(c: &Consortium) -> SignatureVerifier {
    let tls = c.tls("BANK-A", "admin").unwrap();
    SignatureVerifier::new(tls.ca_certs.clone(), tls.crls.clone()).unwrap()
}

fn grant(
    grantee: &str,
    borrower: &[u8],
    purposes: &[pb::Purpose],
    scope: pb::Scope,
    from: i64,
    until: i64,
) -> pb::ConsentGrant {
    pb::ConsentGrant {
        consent_id: format!("{grantee}-TEST-{from}-{until}-{}", purposes.len()),
        borrower_key: borrower.to_vec(),
        key_generation: 0,
        grantee_institution: grantee.into(),
        purposes: purposes.iter().map(|p| *p as i32).collect(),
        scope: scope as i32,
        not_before_ms: from,
        not_after_ms: until,
        authorization_sha256: vec![7; 32],
        issued_at_ms: from,
    }
}

fn query(
    env: &pb::SignedEnvelope,
    borrower: &[u8],
    purpose: pb::Purpose,
    scope: pb::Scope,
) -> pb::QueryBorrowerRequest {
    pb::QueryBorrowerRequest {
        consent: Some(env.clone()),
        borrower_key: borrower.to_vec(),
        purpose: purpose as i32,
        scope: scope as i32,
        request_nonce: vec![1, 2, 3, 4],
        ..Default::default()
    }
}

async fn peer_client(c: &Consortium, as_bank: &str, node: &NodeProcess) -> PeerClient {
    PeerClient::new(
        channel(&c.tls(as_bank, "node").unwrap(), node.peer_addr)
            .await
            .unwrap(),
    )
}

async fn admin_client(c: &Consortium, node: &NodeProcess) -> AdminClient {
    AdminClient::new(
        channel(&c.tls(&node.institution, "admin").unwrap(), node.admin_addr)
            .await
            .unwrap(),
    )
}

/// Stores one credit summary for `borrower` at `node`.
async fn put_credit(
    c: &Consortium,
    node: &NodeProcess,
    borrower: &[u8],
    facility: &str,
    overdue_days: u32,
) {
    let (class, status, overdue) = if overdue_days > 90 {
        (
            pb::RiskClass::Substandard,
            pb::AccountStatus::Overdue,
            1_000,
        )
    } else {
        (pb::RiskClass::Normal, pb::AccountStatus::Active, 0)
    };
    let credit = pb::CreditSummary {
        facility_id: facility.into(),
        version: 1,
        institution_id: node.institution.clone(),
        borrower_key: borrower.to_vec(),
        key_generation: 0,
        facility_type: pb::FacilityType::WorkingCapital as i32,
        currency: "CNY".into(),
        contract_amount: 1_000_000,
        outstanding_balance: 500_000,
        open_date: "2024-01-10".into(),
        maturity_date: "2027-01-10".into(),
        guarantee_type: pb::GuaranteeType::Mortgage as i32,
        risk_class: class as i32,
        overdue_principal: overdue,
        overdue_total: overdue,
        overdue_days,
        account_status: status as i32,
        as_of_date: "2026-01-31".into(),
    };
    admin_client(c, node)
        .await
        .put_record(pb::PutRecordRequest {
            record: Some(pb::RecordInput {
                record: Some(pb::record_input::Record::Credit(credit)),
            }),
        })
        .await
        .unwrap();
}

/// Checks a receipt from `holder`; returns the logged peer-query entry.
fn check_receipt(c: &Consortium, receipt: &pb::Receipt, holder: &str) -> pb::PeerQueryEntry {
    let v = verify_receipt(
        receipt,
        &verifier(c),
        &InstitutionId::parse(holder).unwrap(),
        None,
        SystemTime::now(),
    )
    .unwrap();
    match v.entry.kind {
        Some(pb::log_entry::Kind::PeerQuery(q)) => q,
        other => panic!("receipt entry is {other:?}"),
    }
}

fn denial(status: &tonic::Status) -> pb::QueryDenial {
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    credshare_node::federation::denial::from_status(status)
        .expect("google.rpc.Status with Any(QueryDenial) in the status details")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_verifiable_receipts_and_every_denial_reason_is_logged() {
    let c = Consortium::new().unwrap();
    // A signer of BANK-A certified by a foreign CA.
    let foreign = c.issue_from_foreign_ca("signer", "BANK-A").unwrap();
    let evil = Signer::load(&foreign.join("signer.crt"), &foreign.join("signer.key")).unwrap();

    let mut spec = NodeSpec::new("BANK-B");
    spec.env = vec![
        ("CREDSHARE_POLICY__CLOCK_SKEW_SECONDS".into(), "0".into()),
        (
            "CREDSHARE_POLICY__ALLOWED_PURPOSES".into(),
            r#"["POST_LOAN_MANAGEMENT", "LOAN_APPROVAL"]"#.into(),
        ),
    ];
    let b = NodeProcess::start(&c, &spec).unwrap();
    let borrower = [0x42u8; 32];
    put_credit(&c, &b, &borrower, "F-1", 120).await;
    put_credit(&c, &b, &borrower, "F-2", 0).await;

    let a_signer = signer(&c, "BANK-A");
    let now = now_ms();
    let hour = 3_600_000;
    let sign = |g: &pb::ConsentGrant| a_signer.sign_envelope(CONSENT_GRANT_TYPE, g.encode_to_vec());
    let approval = pb::Purpose::LoanApproval;
    let good = grant(
        "BANK-A",
        &borrower,
        &[approval],
        pb::Scope::Detail,
        now - hour,
        now + hour,
    );
    let mut a = peer_client(&c, "BANK-A", &b).await;

    // Answers at both scopes, with receipts that verify from the CA alone.
    for scope in [pb::Scope::Summary, pb::Scope::Detail] {
        let response = a
            .query_borrower(query(&sign(&good), &borrower, approval, scope))
            .await
            .unwrap()
            .into_inner();
        let receipt = response.receipt.unwrap();
        let entry = check_receipt(&c, &receipt, "BANK-B");
        assert_eq!(entry.decision, pb::Decision::Answered as i32);
        assert_eq!(entry.requester_institution, "BANK-A");
        assert_eq!(entry.request_nonce, vec![1, 2, 3, 4]);
        // The receipt covers the exact answer bytes received.
        let hash = ring::digest::digest(&ring::digest::SHA256, &response.answer);
        assert_eq!(entry.response_sha256, hash.as_ref());
        let answer = pb::BorrowerAnswer::decode(response.answer.as_slice()).unwrap();
        let ind = answer.indicators.unwrap();
        assert_eq!(ind.facility_count, 2);
        assert_eq!(ind.max_overdue_days, 120);
        if scope == pb::Scope::Detail {
            assert_eq!(answer.records.len(), 2);
            for env in &answer.records {
                verifier(&c)
                    .verify(
                        env,
                        credshare_node::signing::CREDIT_SUMMARY_TYPE,
                        Some(&InstitutionId::parse("BANK-B").unwrap()),
                        SystemTime::now(),
                    )
                    .unwrap();
            }
        } else {
            assert!(answer.records.is_empty(), "SUMMARY discloses no records");
        }
    }

    // A record written after an answer shows in the next answer (no stale cache).
    put_credit(&c, &b, &borrower, "F-3", 0).await;
    let response = a
        .query_borrower(query(&sign(&good), &borrower, approval, pb::Scope::Summary))
        .await
        .unwrap()
        .into_inner();
    let answer = pb::BorrowerAnswer::decode(response.answer.as_slice()).unwrap();
    assert_eq!(answer.indicators.unwrap().facility_count, 3);

    let mut flipped = sign(&good);
    flipped.payload[3] ^= 1;
    let revoked = grant(
        "BANK-A",
        &borrower,
        &[approval],
        pb::Scope::Detail,
        now - hour,
        now + 2 * hour,
    );
    let revocation = pb::ConsentRevocation {
        consent_id: revoked.consent_id.clone(),
        grantee_institution: "BANK-A".into(),
        grant_sha256: vec![0; 32],
        grant_not_after_ms: revoked.not_after_ms,
        revoked_at_ms: now,
        reason: "test".into(),
    };
    let delivered = a
        .notify_revocation(pb::NotifyRevocationRequest {
            revocation: Some(
                a_signer.sign_envelope(CONSENT_REVOCATION_TYPE, revocation.encode_to_vec()),
            ),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(delivered.newly_recorded);

    use pb::DenialReason as R;
    let cases: Vec<(R, pb::SignedEnvelope, Vec<u8>, pb::Purpose, pb::Scope)> = vec![
        (
            R::Expired,
            sign(&grant(
                "BANK-A",
                &borrower,
                &[approval],
                pb::Scope::Detail,
                now - 2 * hour,
                now - hour,
            )),
            borrower.to_vec(),
            approval,
            pb::Scope::Summary,
        ),
        (
            R::NotYetValid,
            sign(&grant(
                "BANK-A",
                &borrower,
                &[approval],
                pb::Scope::Detail,
                now + hour,
                now + 2 * hour,
            )),
            borrower.to_vec(),
            approval,
            pb::Scope::Summary,
        ),
        (
            R::WrongBorrower,
            sign(&good),
            vec![0x43; 32],
            approval,
            pb::Scope::Summary,
        ),
        (
            R::PurposeNotGranted,
            sign(&good),
            borrower.to_vec(),
            pb::Purpose::FinancingApproval,
            pb::Scope::Summary,
        ),
        (
            R::ScopeExceeded,
            sign(&grant(
                "BANK-A",
                &borrower,
                &[approval],
                pb::Scope::Summary,
                now - hour,
                now + hour,
            )),
            borrower.to_vec(),
            approval,
            pb::Scope::Detail,
        ),
        (
            R::Revoked,
            sign(&revoked),
            borrower.to_vec(),
            approval,
            pb::Scope::Summary,
        ),
        (
            R::BadSignature,
            flipped,
            borrower.to_vec(),
            approval,
            pb::Scope::Summary,
        ),
        (
            R::UntrustedSigner,
            evil.sign_envelope(CONSENT_GRANT_TYPE, good.encode_to_vec()),
            borrower.to_vec(),
            approval,
            pb::Scope::Summary,
        ),
        (
            R::Policy,
            sign(&grant(
                "BANK-A",
                &borrower,
                &[pb::Purpose::GuaranteeQualificationReview],
                pb::Scope::Detail,
                now - hour,
                now + hour,
            )),
            borrower.to_vec(),
            pb::Purpose::GuaranteeQualificationReview,
            pb::Scope::Summary,
        ),
    ];
    for (reason, env, key, purpose, scope) in cases {
        let status = a
            .query_borrower(query(&env, &key, purpose, scope))
            .await
            .unwrap_err();
        let d = denial(&status);
        assert_eq!(d.reason, reason as i32, "{reason:?}: {}", d.message);
        // The header carries the reason's short name, as documented.
        assert_eq!(
            status.metadata().get("credshare-denial-reason").unwrap(),
            reason.as_str_name().trim_start_matches("DENIAL_REASON_")
        );
        let entry = check_receipt(&c, d.receipt.as_ref().unwrap(), "BANK-B");
        assert_eq!(entry.decision, pb::Decision::Denied as i32);
        assert_eq!(entry.denial_reason, reason as i32);
        assert!(entry.response_sha256.is_empty());
    }

    // BANK-A's grant presented by BANK-C.
    let mut c_client = peer_client(&c, "BANK-C", &b).await;
    let status = c_client
        .query_borrower(query(&sign(&good), &borrower, approval, pb::Scope::Summary))
        .await
        .unwrap_err();
    assert_eq!(denial(&status).reason, R::WrongGrantee as i32);

    // The data subject's view: every query, answered or denied, is in the history.
    let history = admin_client(&c, &b)
        .await
        .query_history(pb::QueryHistoryRequest {
            borrower_key: borrower.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let decisions: Vec<&str> = history.items.iter().map(|i| i.decision.as_str()).collect();
    assert_eq!(decisions.iter().filter(|d| **d == "ANSWERED").count(), 3);
    for expected in [
        "DENIED:EXPIRED",
        "DENIED:REVOKED",
        "DENIED:WRONG_GRANTEE",
        "DENIED:POLICY",
        "DENIED:BAD_SIGNATURE",
    ] {
        assert!(
            decisions.contains(&expected),
            "{expected} missing from {decisions:?}"
        );
    }
    // Malformed requests are refused before anything else.
    let status = a
        .query_borrower(query(
            &sign(&good),
            &[1, 2, 3],
            approval,
            pb::Scope::Summary,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_pushed_while_a_holder_is_down_arrives_after_it_restarts() {
    let c = Consortium::new().unwrap();
    let mut nodes =
        start_federation_with(&c, &[("CREDSHARE_LIMITS__OUTBOX_RETRY_MS", "200")]).unwrap();
    let borrower = [0x11u8; 32];
    let mut a_admin = admin_client(&c, &nodes[0]).await;
    let issued = a_admin
        .issue_consent(pb::IssueConsentRequest {
            borrower_key: borrower.to_vec(),
            key_generation: 0,
            purposes: vec![pb::Purpose::LoanApproval as i32],
            scope: pb::Scope::Summary as i32,
            not_before_ms: 0,
            not_after_ms: now_ms() + 86_400_000,
            authorization_sha256: vec![9; 32],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(nodes[2].stop().unwrap().success());
    let revoked = a_admin
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: issued.consent_id.clone(),
            reason: "withdrawn".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.delivered_to, vec!["BANK-B".to_string()]);
    assert_eq!(revoked.pending, vec!["BANK-C".to_string()]);

    nodes[2].restart().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = a_admin
            .list_consents(pb::ListConsentsRequest {
                borrower_key: vec![],
                include_inactive: true,
            })
            .await
            .unwrap()
            .into_inner();
        let c0 = &list.consents[0];
        assert_eq!(c0.state, pb::ConsentState::Revoked as i32);
        if c0.revocation_pending.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revocation still pending for {:?}",
            c0.revocation_pending
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // BANK-C now refuses the grant as revoked.
    let mut a_peer = peer_client(&c, "BANK-A", &nodes[2]).await;
    let status = a_peer
        .query_borrower(query(
            issued.grant.as_ref().unwrap(),
            &borrower,
            pb::Purpose::LoanApproval,
            pb::Scope::Summary,
        ))
        .await
        .unwrap_err();
    assert_eq!(denial(&status).reason, pb::DenialReason::Revoked as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_survive_kill_9_of_the_holder_under_load() {
    let c = Consortium::new().unwrap();
    let mut b = NodeProcess::start(&c, &NodeSpec::new("BANK-B")).unwrap();
    let borrower = [0x77u8; 32];
    put_credit(&c, &b, &borrower, "F-9", 0).await;
    let now = now_ms();
    let env = signer(&c, "BANK-A").sign_envelope(
        CONSENT_GRANT_TYPE,
        grant(
            "BANK-A",
            &borrower,
            &[pb::Purpose::LoanApproval],
            pb::Scope::Summary,
            now - 1000,
            now + 3_600_000,
        )
        .encode_to_vec(),
    );
    let mut workers = Vec::new();
    for _ in 0..8 {
        let client = peer_client(&c, "BANK-A", &b).await;
        let env = env.clone();
        workers.push(tokio::spawn(async move {
            let mut client = client;
            let mut receipts = Vec::new();
            loop {
                match client
                    .query_borrower(query(
                        &env,
                        &borrower,
                        pb::Purpose::LoanApproval,
                        pb::Scope::Summary,
                    ))
                    .await
                {
                    Ok(r) => receipts.push(r.into_inner().receipt.unwrap()),
                    Err(_) => return receipts,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.kill9();
    let mut receipts = Vec::new();
    for w in workers {
        receipts.extend(w.await.unwrap());
    }
    assert!(
        receipts.len() > 50,
        "only {} answers before the kill",
        receipts.len()
    );

    b.restart().unwrap();
    let reg = c.tls("REG-1", "regulator").unwrap();
    let mut audit = pb::audit_service_client::AuditServiceClient::new(
        channel(&reg, b.peer_addr).await.unwrap(),
    );
    let latest = audit
        .get_checkpoint(pb::GetCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner();
    let v = verifier(&c);
    let holder = InstitutionId::parse("BANK-B").unwrap();
    let new = verify_signed_checkpoint(
        &latest.checkpoint.unwrap().signed_note,
        &latest.signer_certificate,
        &v,
        Some(&holder),
        None,
        SystemTime::now(),
    )
    .unwrap();
    for receipt in &receipts {
        let old = verify_receipt(receipt, &v, &holder, None, SystemTime::now()).unwrap();
        // Inclusion at its index in today's tree.
        let proof = audit
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf_index: old.leaf_index,
                tree_size: new.checkpoint.size,
            })
            .await
            .unwrap()
            .into_inner();
        verify_inclusion(
            &leaf_hash(&receipt.entry),
            old.leaf_index,
            new.checkpoint.size,
            &proof_hashes(&proof.hashes).unwrap(),
            &new.checkpoint.root,
        )
        .unwrap();
        // Consistency from the receipt's checkpoint to today's.
        let consistency = audit
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: old.tree_size,
                new_size: new.checkpoint.size,
            })
            .await
            .unwrap()
            .into_inner();
        let old_cp = credshare_node::audit::Checkpoint::parse_unverified(
            &receipt.checkpoint.as_ref().unwrap().signed_note,
        )
        .unwrap();
        verify_checkpoint_consistency(
            &old_cp,
            &new.checkpoint,
            &proof_hashes(&consistency.hashes).unwrap(),
        )
        .unwrap();
    }
}
