//! The node calls several demo steps make: a consent of BANK-A's for the
//! borrower, and an assessment.

use credshare_node::domain::borrower::BorrowerKey;
use credshare_proto::v1 as pb;

use super::Demo;
use crate::commands::consent::end_of_day_ms;
use crate::connection::AdminClient;

/// The reason of the consented queries of the demo.
pub(super) const LOAN_APPROVAL: pb::Purpose = pb::Purpose::LoanApproval;

/// Step 5: BANK-A records the borrower's authorization letter as a consent.
pub(super) async fn issue_consent(
    demo: &Demo,
    admin: &mut AdminClient,
    key: &BorrowerKey,
) -> anyhow::Result<String> {
    let evidence = demo.root.join("authorization-letter.txt");
    std::fs::write(
        &evidence,
        "Borrower authorizes BANK-A to query its credit information for loan approval.",
    )?;
    let until = time::OffsetDateTime::now_utc().date() + time::Duration::days(90);
    let document = std::fs::read(&evidence)?;
    let issued = admin
        .issue_consent(pb::IssueConsentRequest {
            borrower_key: key.as_bytes().to_vec(),
            purposes: vec![LOAN_APPROVAL as i32],
            scope: pb::Scope::Detail as i32,
            not_before_ms: 0,
            key_generation: 0,
            not_after_ms: end_of_day_ms(&until.to_string())?,
            authorization_sha256: ring::digest::digest(&ring::digest::SHA256, &document)
                .as_ref()
                .to_vec(),
        })
        .await?
        .into_inner();
    Ok(issued.consent_id)
}

pub(super) async fn assess(
    admin: &mut AdminClient,
    key: &BorrowerKey,
    consent_id: &str,
    purpose: pb::Purpose,
    scope: pb::Scope,
) -> anyhow::Result<pb::Assessment> {
    let request = pb::AssessRequest {
        borrower_key: key.as_bytes().to_vec(),
        consent_id: consent_id.to_owned(),
        purpose: purpose as i32,
        scope: scope as i32,
        deadline_ms: 0,
        ..Default::default()
    };
    Ok(admin.assess(request).await?.into_inner())
}
