//! `credshare assess --discovery`: find the borrower's holders before the
//! node asks anyone (docs/design.md §9). One blinded evaluation bound to the
//! consent's hash (the service returns a single-use receipt), then one
//! lookup presenting that receipt; the node then queries only the holders.
//! The borrower id is blinded in this process and never leaves it.

use anyhow::{Context, anyhow, bail};
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use credshare_node::signing::sha256;
use credshare_proto::v1 as pb;

use crate::commands::discovery::ServiceArgs;
use crate::commands::discovery::client::{Services, Use};
use crate::connection::{AdminClient, ConnectionArgs};
use credshare_node::domain::BorrowerKey;

/// Where to look holders up (none: ask every member, as before).
#[derive(Debug, Clone, clap::Args)]
pub struct DiscoveryArgs {
    /// Ask only the borrower's holders: look them up at this discovery
    /// service (HOST:PORT) first, with one evaluation bound to the consent
    /// and one lookup. Not for post-loan management (no consent to bind).
    /// Only this flag turns it on (`CREDSHARE_DISCOVERY_ADDR`, which the
    /// `discovery` commands read, does not).
    #[arg(long, value_name = "HOST:PORT")]
    pub discovery: Option<String>,
    /// With `--discovery`: the service's published public key (hex); its
    /// proof must verify against it.
    #[arg(long, value_name = "HEX", env = "CREDSHARE_DISCOVERY_PUBLIC_KEY")]
    pub discovery_public_key: Option<String>,
}

/// What a lookup found: the receipt it redeemed and the holders.
#[derive(Debug, Clone)]
pub struct Found {
    pub receipt_id: String,
    pub holders: Vec<String>,
}

impl DiscoveryArgs {
    /// The holders of `id` for an assessment under `consent_sha256`, or
    /// `None` without `--discovery`.
    pub async fn find(
        &self,
        conn: &ConnectionArgs,
        id: &str,
        purpose: Purpose,
        consent_sha256: [u8; 32],
    ) -> anyhow::Result<Option<Found>> {
        let Some(addr) = &self.discovery else {
            return Ok(None);
        };
        let id = BorrowerId::parse(id).context("--id")?;
        let mut services = Services::connect(&ServiceArgs {
            discovery: addr.clone(),
            custodian: Vec::new(),
            public_key: self.discovery_public_key.clone(),
            conn: conn.clone(),
        })
        .await?;
        let usage = Use::Assessment {
            purpose,
            consent_sha256,
        };
        let evaluated = services.pseudonyms(&[id], usage).await?;
        let pseudonym = evaluated.pseudonyms.first().map(|p| p.0.to_vec());
        let pseudonym = pseudonym.ok_or_else(|| anyhow!("the service evaluated no element"))?;
        let holders = lookup(
            &mut services,
            pseudonym,
            &evaluated.receipt_id,
            consent_sha256,
        )
        .await?;
        Ok(Some(Found {
            receipt_id: evaluated.receipt_id,
            holders,
        }))
    }
}

/// The human line saying whom the assessment asked.
pub fn describe(found: Option<&Found>) -> String {
    match found {
        None => "asked: every member".to_owned(),
        Some(f) if f.holders.is_empty() => format!(
            "asked: holders only (discovery receipt {}): no holder found",
            f.receipt_id
        ),
        Some(f) => format!(
            "asked: holders only (discovery receipt {}): {}",
            f.receipt_id,
            f.holders.join(", ")
        ),
    }
}

/// One lookup presenting `receipt_id`: the holders, sorted. A used,
/// expired, unknown or mismatched receipt is the service's
/// `FAILED_PRECONDITION` naming it (`RECEIPT_USED`, …).
pub async fn lookup(
    services: &mut Services,
    pseudonym: Vec<u8>,
    receipt_id: &str,
    consent_sha256: [u8; 32],
) -> anyhow::Result<Vec<String>> {
    let found = services
        .discovery
        .lookup(pb::LookupHoldersRequest {
            pseudonym,
            receipt_id: receipt_id.to_owned(),
            consent_sha256: consent_sha256.to_vec(),
        })
        .await
        .context("discovery service: Lookup (no institution was queried)")?
        .into_inner();
    Ok(found.holders)
}

/// SHA-256 of the signed grant payload of `consent_id`, one of this
/// institution's active consents for the borrower: what the discovery
/// evaluation is bound to.
pub async fn consent_sha256(
    client: &mut AdminClient,
    key: &BorrowerKey,
    consent_id: &str,
) -> anyhow::Result<[u8; 32]> {
    let active = active_consents(client, key).await?;
    let Some(grant) = active
        .iter()
        .find(|c| c.consent_id == consent_id)
        .and_then(|c| c.grant.as_ref())
    else {
        bail!(
            "consent {consent_id} is not an active consent of this institution for the borrower; nothing was looked up"
        );
    };
    sha256(&grant.payload)
        .try_into()
        .map_err(|_| anyhow!("SHA-256 is 32 bytes"))
}

/// This institution's active consents for the borrower.
pub async fn active_consents(
    client: &mut AdminClient,
    key: &BorrowerKey,
) -> anyhow::Result<Vec<pb::ConsentSummary>> {
    let listed = client
        .list_consents(pb::ListConsentsRequest {
            borrower_key: key.as_bytes().to_vec(),
            include_inactive: false,
        })
        .await?
        .into_inner();
    Ok(listed
        .consents
        .into_iter()
        .filter(|c| c.state == pb::ConsentState::Active as i32)
        .collect())
}
