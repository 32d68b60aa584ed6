//! Steps 8c–8d of the demo: BANK-B marks one of its records of the borrower
//! as disputed and BANK-A sees the mark at its next query; then BANK-B
//! writes the borrower's own report as one printable HTML page.

use credshare_node::domain::borrower::BorrowerKey;
use credshare_node::signing::CREDIT_SUMMARY_TYPE;
use credshare_proto::v1 as pb;
use prost::Message;

use super::calls::{assess, issue_consent};
use super::{Demo, step};
use crate::commands::assess::render_assessment;
use crate::commands::report::render_html;

pub(super) async fn run(demo: &Demo, raw_id: &str, key: &BorrowerKey) -> anyhow::Result<()> {
    let (a, b) = (&demo.nodes[0], &demo.nodes[1]);
    step(&format!(
        "8c. {} marks one of its records of the borrower as disputed (answer due in 20 days); {} sees the mark at its next query",
        b.institution, a.institution
    ));
    let mut b_admin = demo.admin(b).await?;
    let records = b_admin
        .get_borrower(pb::GetBorrowerRequest {
            borrower_key: key.as_bytes().to_vec(),
        })
        .await?
        .into_inner()
        .records;
    let Some(facility) = records
        .iter()
        .filter_map(|r| r.envelope.as_ref())
        .filter(|e| e.payload_type == CREDIT_SUMMARY_TYPE)
        .find_map(|e| pb::CreditSummary::decode(e.payload.as_slice()).ok())
    else {
        println!("   {} holds no facility of this borrower", b.institution);
        return Ok(());
    };
    let opened = b_admin
        .open_dispute(pb::OpenDisputeRequest {
            borrower_key: key.as_bytes().to_vec(),
            record_id: facility.facility_id.clone(),
            reason: "borrower says the overdue amount was repaid".into(),
            statement: "The borrower states the arrears were repaid on time.".into(),
            as_of_date: String::new(),
        })
        .await?
        .into_inner();
    println!(
        "   dispute {} on facility {}, signed by {}'s signer key, with the borrower's statement",
        opened.dispute_id, facility.facility_id, b.institution
    );
    let mut a_admin = demo.admin(a).await?;
    let consent_id = issue_consent(demo, &mut a_admin, key).await?;
    let assessment = assess(
        &mut a_admin,
        key,
        &consent_id,
        pb::Purpose::LoanApproval,
        pb::Scope::Summary,
    )
    .await?;
    print!("{}", render_assessment(&assessment));
    write_report(demo, &mut b_admin, raw_id, key).await
}

/// Step 8d: BANK-B's report of the borrower, as an HTML file.
async fn write_report(
    demo: &Demo,
    b_admin: &mut crate::connection::AdminClient,
    raw_id: &str,
    key: &BorrowerKey,
) -> anyhow::Result<()> {
    let b = &demo.nodes[1];
    step(&format!(
        "8d. {} writes the borrower's own report: records, annotations, disputes and every query in two years (one printable HTML page)",
        b.institution
    ));
    let report = b_admin
        .borrower_report(pb::BorrowerReportRequest {
            borrower_key: key.as_bytes().to_vec(),
            as_of_date: String::new(),
        })
        .await?
        .into_inner();
    let path = demo.root.join("borrower-report.html");
    std::fs::write(
        &path,
        render_html(raw_id, &hex::encode(key.as_bytes()), &report),
    )?;
    println!(
        "   {} ({} records, {} queries); the raw id is only in this file",
        path.display(),
        report.records.len(),
        report.queries.len()
    );
    Ok(())
}
