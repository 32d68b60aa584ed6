//! `credshare pki crl`: re-sign the CRL with a fresh next-update time.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::output::Output;
use crate::pki::refresh_crl;

#[derive(Debug, clap::Args)]
pub struct CrlArgs {
    /// The CA directory made by `init-ca`.
    #[arg(long = "ca", value_name = "DIR")]
    pub ca_dir: PathBuf,
    /// Next update at UTC midnight of this day instead of in 14 days. A day
    /// already past makes a stale CRL (for drills: nodes warn, then refuse
    /// new connections after `tls.crl_grace_hours`).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub next_update: Option<String>,
}

impl CrlArgs {
    pub fn run(&self, out: &Output) -> anyhow::Result<()> {
        let next_update = self.next_update.as_deref().map(parse_day).transpose()?;
        let number = refresh_crl(&self.ca_dir, next_update)?;
        let stale = next_update.is_some_and(|t| t <= OffsetDateTime::now_utc());
        out.print(&json!({"crl_number": number, "stale": stale}), || {
            let mut text = format!("issued CRL number {number}\n");
            if stale {
                text.push_str(
                    "warning: its next update is already past: nodes will treat it as stale\n",
                );
            }
            text
        });
        Ok(())
    }
}

fn parse_day(s: &str) -> anyhow::Result<OffsetDateTime> {
    let date = Date::parse(s, format_description!("[year]-[month]-[day]"))
        .with_context(|| format!("--next-update {s:?}: expected YYYY-MM-DD"))?;
    Ok(date.midnight().assume_utc())
}
