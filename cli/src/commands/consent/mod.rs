//! `credshare consent issue | revoke | list`: consents this institution holds
//! from its borrowers, signed by the node as the grantee's attestation.
//! Also the purpose and scope values `assess` takes.

mod issue;
mod list;
mod revoke;

use anyhow::anyhow;
use credshare_node::domain::Purpose;
use credshare_proto::v1 as pb;

pub use issue::IssueArgs;
pub use list::ListArgs;
pub use revoke::{RevokeArgs, none_if_empty};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConsentCommand {
    /// Record a borrower's written authorization as a signed consent grant.
    Issue(IssueArgs),
    /// Revoke a consent and push the revocation to every peer.
    Revoke(RevokeArgs),
    /// Consents this institution issued.
    List(ListArgs),
}

run_subcommands!(ConsentCommand: Issue, Revoke, List);

/// A query reason as typed on the command line (Regulation art. 18–20): the
/// CLI name (`post-loan`, `loan-approval`, …, or the older
/// `post-loan-management`), the upper-case name, or the two-digit code
/// (`--purpose 24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurposeArg(pub Purpose);

impl PurposeArg {
    pub fn proto(self) -> pb::Purpose {
        self.0.to_wire()
    }
}

impl std::str::FromStr for PurposeArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::parse(s).map(PurposeArg).ok_or_else(|| {
            let allowed: Vec<String> = Purpose::ALL
                .iter()
                .map(|p| format!("{} ({:02})", p.cli_name(), p.code()))
                .collect();
            format!("not a query reason; allowed: {}", allowed.join(", "))
        })
    }
}

/// How much a holder discloses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Derived indicators only.
    Summary,
    /// Signed records.
    Detail,
}

impl ScopeArg {
    pub fn proto(self) -> pb::Scope {
        match self {
            ScopeArg::Summary => pb::Scope::Summary,
            ScopeArg::Detail => pb::Scope::Detail,
        }
    }
}

/// Milliseconds of the end of `date` in the business time zone
/// ([`crate::dates`]): a consent "until" a day is valid through that day.
pub fn end_of_day_ms(date: &str) -> anyhow::Result<i64> {
    let d = credshare_node::domain::dates::parse_date("until", date)
        .map_err(|e| anyhow!("--until: {}", e.reason))?;
    let civil = jiff::civil::Date::new(
        i16::try_from(d.year()).map_err(|_| anyhow!("--until: year out of range"))?,
        i8::try_from(u8::from(d.month())).map_err(|_| anyhow!("--until: bad month"))?,
        i8::try_from(d.day()).map_err(|_| anyhow!("--until: bad day"))?,
    )
    .map_err(|e| anyhow!("--until: {e}"))?;
    crate::dates::zone()
        .end_of_day_ms(civil)
        .map_err(|e| anyhow!("--until: {e}"))
}
