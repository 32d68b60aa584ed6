//! Steps 5–8 of the demo: a signed consent, audited queries at both scopes
//! with verified receipts (cosigned by the holders' witnesses), revocation pushed to every peer, the denial that
//! follows, a post-loan query without consent, and the holder's query log
//! for the borrower (then [`super::dispute`]).

use anyhow::Context;
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret};
use credshare_node::domain::codes::code_label;
use credshare_node::domain::purpose::purpose_label;
use credshare_proto::v1 as pb;

use super::calls::{LOAN_APPROVAL, assess, issue_consent};
use super::{Demo, sample_dir, step};
use crate::commands::assess::render_assessment;
use crate::commands::consent::none_if_empty;
use crate::connection::AdminClient;

pub(super) async fn run(demo: &Demo) -> anyhow::Result<()> {
    let a = &demo.nodes[0];
    let raw_id = shared_borrower(demo)?;
    let key = BorrowerKey::derive(
        &ConsortiumSecret::from_file(&demo.secret)?,
        &BorrowerId::parse(&raw_id)?,
    );
    step(&format!(
        "5. {} records a borrower's written authorization as a signed consent (borrower key {}, hashed locally)",
        a.institution,
        key.short()
    ));
    let mut admin = demo.admin(a).await?;
    let consent_id = issue_consent(demo, &mut admin, &key).await?;
    println!(
        "   consent {consent_id} (DETAIL, 02 LOAN_APPROVAL, 90 days), signed by {}'s signer key",
        a.institution
    );
    wait_witnessed(demo).await?;
    for (n, scope) in [(6, pb::Scope::Summary), (7, pb::Scope::Detail)] {
        step(&format!(
            "{n}. {} assesses the borrower at {} scope: every peer logs the query durably, then answers with a receipt that {} verifies",
            a.institution,
            scope.as_str_name().trim_start_matches("SCOPE_"),
            a.institution
        ));
        let assessment = assess(&mut admin, &key, &consent_id, LOAN_APPROVAL, scope).await?;
        print!("{}", render_assessment(&assessment));
        if scope == pb::Scope::Summary {
            show_cosigned_receipt(&a.institution, &assessment);
        }
    }
    step(&format!(
        "8. {} revokes the consent; the revocation is pushed to every peer, and it refuses to send the revoked consent again",
        a.institution
    ));
    revoke_and_ask_again(&mut admin, &key, &consent_id).await?;
    step(&format!(
        "8b. {} asks again for post-loan management (reason 01): no consent, but its own signed credit record of the borrower proves it lends to them",
        a.institution
    ));
    match assess(
        &mut admin,
        &key,
        "",
        pb::Purpose::PostLoanManagement,
        pb::Scope::Summary,
    )
    .await
    {
        Ok(assessment) => print!("{}", render_assessment(&assessment)),
        Err(e) => println!("   refused before asking anyone: {e:#}"),
    }
    show_history(demo, &key).await?;
    super::dispute::run(demo, &raw_id, &key).await
}

/// Waits (at most 10 s) until every node's log is cosigned by all its
/// witnesses, so the receipts of step 6 carry cosignatures.
async fn wait_witnessed(demo: &Demo) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    for node in &demo.nodes {
        let mut admin = demo.admin(node).await?;
        loop {
            let status = admin.status(pb::StatusRequest {}).await?.into_inner();
            let done = !status.witnesses.is_empty()
                && status.witnesses.iter().all(|w| w.state == "COSIGNED");
            if done || started.elapsed() > std::time::Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Step 6b: one peer's receipt, with the checkpoint its witnesses cosigned.
fn show_cosigned_receipt(requester: &str, assessment: &pb::Assessment) {
    let Some((peer, receipt)) = assessment.peers.iter().find_map(|p| {
        let r = p.receipt.as_ref()?;
        r.cosigned_checkpoint.as_ref().map(|_| (p, r))
    }) else {
        return;
    };
    let note = receipt
        .cosigned_checkpoint
        .as_ref()
        .map(|c| c.signed_note.as_str())
        .unwrap_or_default();
    let size = receipt.proof.as_ref().map_or(0, |p| p.tree_size);
    println!(
        "   {}'s receipt (leaf {} of {size}) carries the newest checkpoint its witnesses cosigned, C2SP cosignature/v1 lines after its own signature, tied to the receipt's checkpoint by a consistency proof; {} verified them: {}",
        peer.institution_id, receipt.leaf_index, requester, peer.detail
    );
    for line in note.lines() {
        println!("     {line}");
    }
}

/// Step 8: revocation, then the same query is denied by every peer.
async fn revoke_and_ask_again(
    admin: &mut AdminClient,
    key: &BorrowerKey,
    consent_id: &str,
) -> anyhow::Result<()> {
    let revoked = admin
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent_id.to_owned(),
            reason: "borrower withdrew consent".into(),
        })
        .await?
        .into_inner();
    println!(
        "   delivered to: {}; pending: {}",
        revoked.delivered_to.join(", "),
        none_if_empty(&revoked.pending)
    );
    // The requesting node knows the consent is revoked: nothing is sent.
    match assess(admin, key, consent_id, LOAN_APPROVAL, pb::Scope::Summary).await {
        Err(e) => {
            let why = e
                .downcast_ref::<tonic::Status>()
                .map_or_else(|| format!("{e:#}"), |s| s.message().to_owned());
            println!("   asked again: refused by BANK-A's own node: {why}");
        }
        Ok(_) => anyhow::bail!("a revoked consent was used for an assessment"),
    }
    println!(
        "   every peer that acknowledged the revocation would deny the grant as REVOKED; \
         peers that join later or come back from a backup are told again"
    );
    Ok(())
}

/// BANK-B's query log for the borrower: what the borrower may ask to see.
async fn show_history(demo: &Demo, key: &BorrowerKey) -> anyhow::Result<()> {
    let b = &demo.nodes[1];
    let history = demo
        .admin(b)
        .await?
        .query_history(pb::QueryHistoryRequest {
            borrower_key: key.as_bytes().to_vec(),
            ..Default::default()
        })
        .await?
        .into_inner();
    println!(
        "   {}'s query log for this borrower (what the borrower may ask to see):",
        b.institution
    );
    for i in &history.items {
        println!(
            "     leaf {:>5}  {} ({})  {}  {}  {}",
            i.leaf_index,
            i.requester_institution,
            i.officer,
            purpose_label(i.purpose),
            code_label::<pb::Scope>(i.scope),
            i.decision
        );
    }
    Ok(())
}

/// A borrower of both BANK-A's and BANK-B's samples with a facility at
/// BANK-A more than 90 days overdue, the first in BANK-A's file: the
/// sample makes its first shared borrower so on purpose (DOUBTFUL, funds
/// diverted), so the assessment is RED. Failing that, the shared borrower
/// most overdue at BANK-A.
fn shared_borrower(demo: &Demo) -> anyhow::Result<String> {
    let b: std::collections::HashSet<String> = credit_rows(demo, "BANK-B")?
        .into_iter()
        .map(|r| r.0)
        .collect();
    let shared: Vec<(String, String, u32)> = credit_rows(demo, "BANK-A")?
        .into_iter()
        .filter(|(id, status, _)| b.contains(id) && status != "SETTLED")
        .collect();
    shared
        .iter()
        .find(|r| r.2 > 90)
        .or_else(|| shared.iter().max_by_key(|r| r.2))
        .map(|r| r.0.clone())
        .context("the sample banks share no borrower")
}

/// (borrower id, account status, overdue days) of a bank's sample credit rows.
fn credit_rows(demo: &Demo, bank: &str) -> anyhow::Result<Vec<(String, String, u32)>> {
    let path = sample_dir(&demo.root, bank).join(crate::sample::CREDIT_FILE);
    let mut r = csv::Reader::from_path(path)?;
    let h = r.headers()?.clone();
    let col = |name: &str| h.iter().position(|c| c == name).context("sample column");
    let (status, overdue) = (col("account_status")?, col("overdue_days")?);
    r.records()
        .map(|x| {
            let x = x?;
            Ok((
                x[0].to_string(),
                x[status].to_string(),
                x[overdue].parse().unwrap_or(0),
            ))
        })
        .collect()
}
