//! Step 8e of the demo: the regulator REG-1 holds the three query logs
//! against each other (`credshare audit cross-check`).

use super::{Demo, step};
use crate::commands::audit::cross_check::cross_check;
use crate::connection::Resolved;
use crate::output::Output;

/// Cross-checks every node's log as REG-1 and shows the result; findings
/// fail the demo (exit code 3), as they would a regulator's run.
pub(super) async fn run(demo: &Demo) -> anyhow::Result<()> {
    step(
        "8e. the regulator REG-1 cross-checks the three query logs: each query in the requester's log and the holder's, with the same nonce, and each holder checkpoint a requester recorded from a receipt fits the holder's log",
    );
    let nodes: Vec<String> = demo.nodes.iter().map(|n| n.peer_addr.to_string()).collect();
    let mut regulator = Resolved::from_certs_dir(&demo.pki.join("REG-1"), "regulator", &nodes[0]);
    regulator.crl = vec![demo.pki.join("ca").join("ca.crl")];
    // The demo's queries are all answered and logged: judge every one.
    let report = cross_check(&regulator, &nodes, 0, &Output::default()).await?;
    for line in report.render().lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("   {line}");
        }
    }
    report.outcome()
}
