//! What many end-to-end tests start from: a consent issued, a live facility
//! imported, through the CLI as an officer would.

use crate::{CREDIT_HEADER, Consortium, NodeProcess, cli_json, cli_ok_json, day};

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
