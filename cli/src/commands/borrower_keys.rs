//! The one place a raw borrower id becomes a borrower key (docs/design.md
//! §3), for the generation the node serves ([`KeySource`]):
//!
//! * generation 1: HMAC-SHA256 under the consortium secret, here;
//! * generation 2+: the OPRF pseudonym, by blinded evaluation at the key
//!   service (a discovery service; stage 2: the regulator and two
//!   custodians), every proof verified against the pinned public key. The
//!   service sees only blinded elements; the evaluations count against the
//!   member's enrolment budget.
//!
//! Every command that takes `--id` goes through [`BorrowerArgs`]; imports
//! key a whole file with [`KeyDeriver::keys`].

use anyhow::{Context, anyhow, bail};
use credshare_node::discovery::oprf::MAX_ELEMENTS_PER_CALL;
use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret, KeyGeneration};

use crate::commands::discovery::ServiceArgs;
use crate::commands::discovery::client::{Services, Use};
use crate::connection::{AdminClient, ConnectionArgs, KeySource};

/// A borrower at your node: its raw id (turned into a key here) and the
/// connection options.
#[derive(Debug, Clone, clap::Args)]
pub struct BorrowerArgs {
    /// Borrower id (keyed locally), e.g. USCC:91350100M000100Y43 or
    /// RID:11010519491231002X.
    #[arg(long)]
    pub id: String,
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

impl BorrowerArgs {
    /// Connects to your node's admin listener and derives the id's key.
    pub async fn connect(&self) -> anyhow::Result<(AdminClient, BorrowerKey)> {
        let resolved = self.conn.resolve()?;
        let client = resolved.admin_client().await?;
        Ok((client, borrower_key(&self.conn, &self.id).await?))
    }

    /// The key generation the keys are of, as the wire carries it (0 = 1).
    pub fn wire_generation(&self) -> anyhow::Result<u32> {
        Ok(self.conn.resolve()?.keys.generation.to_wire())
    }
}

/// The key of one raw id (`--id`), for the generation `conn` names.
pub async fn borrower_key(conn: &ConnectionArgs, id: &str) -> anyhow::Result<BorrowerKey> {
    let id = BorrowerId::parse(id).context("--id")?;
    KeyDeriver::connect(conn).await?.key(&id).await
}

/// Derives borrower keys of one generation.
#[derive(Debug)]
pub enum KeyDeriver {
    /// Generation 1.
    Hmac(ConsortiumSecret),
    /// Generation 2+: blinded evaluation at the key service.
    Oprf {
        generation: KeyGeneration,
        services: Box<Services>,
    },
}

impl KeyDeriver {
    /// The deriver `conn` names: the consortium secret for generation 1;
    /// for 2+ a connection to the key service (its public key is required).
    pub async fn connect(conn: &ConnectionArgs) -> anyhow::Result<Self> {
        let resolved = conn.resolve()?;
        let KeySource {
            generation,
            service,
            public_key,
            custodians,
        } = resolved.keys.clone();
        if !generation.is_oprf() {
            return Ok(Self::Hmac(resolved.secret()?));
        }
        let (Some(discovery), Some(public_key)) = (service, public_key) else {
            bail!(
                "borrower key generation {generation} is computed by the key service: pass --key-service HOST:PORT and --key-service-public-key HEX (or CREDSHARE_KEY_SERVICE, CREDSHARE_KEY_SERVICE_PUBLIC_KEY, or the profile's key_service, key_service_public_key)"
            );
        };
        let args = ServiceArgs {
            discovery,
            custodian: custodians,
            public_key: Some(public_key),
            conn: conn.clone(),
        };
        let services = Box::new(Services::connect(&args).await?);
        Ok(Self::Oprf {
            generation,
            services,
        })
    }

    /// The generation of the keys this deriver makes.
    pub fn generation(&self) -> KeyGeneration {
        match self {
            Self::Hmac(_) => KeyGeneration::HMAC,
            Self::Oprf { generation, .. } => *generation,
        }
    }

    /// The key of one id.
    pub async fn key(&mut self, id: &BorrowerId) -> anyhow::Result<BorrowerKey> {
        let keys = self.keys(std::slice::from_ref(id), &|_| ()).await?;
        keys.into_iter()
            .next()
            .ok_or_else(|| anyhow!("the key service evaluated no element"))
    }

    /// The keys of `ids`, in order: evaluated in calls of at most
    /// [`MAX_ELEMENTS_PER_CALL`] for an OPRF generation; `done(n)` after
    /// each call. A refusal over budget stops with what was keyed so far.
    pub async fn keys(
        &mut self,
        ids: &[BorrowerId],
        done: &dyn Fn(usize),
    ) -> anyhow::Result<Vec<BorrowerKey>> {
        let services = match self {
            Self::Hmac(secret) => {
                done(ids.len());
                return Ok(ids
                    .iter()
                    .map(|id| BorrowerKey::derive(secret, id))
                    .collect());
            }
            Self::Oprf { services, .. } => services,
        };
        let mut keys = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ELEMENTS_PER_CALL) {
            let evaluated = services
                .pseudonyms(chunk, Use::Enrolment)
                .await
                .map_err(|e| refused(e, keys.len(), ids.len()))?;
            for p in evaluated.pseudonyms {
                keys.push(BorrowerKey::from_slice(&p.0)?);
            }
            done(chunk.len());
        }
        Ok(keys)
    }
}

/// A failed evaluation, saying how far keying got; an exhausted budget is
/// named as such.
fn refused(e: anyhow::Error, keyed: usize, total: usize) -> anyhow::Error {
    let status = e.chain().find_map(|c| c.downcast_ref::<tonic::Status>());
    match status {
        Some(s) if s.code() == tonic::Code::ResourceExhausted => anyhow!(
            "the key service refused to evaluate more borrower keys: this institution's enrolment budget is exhausted ({}); {keyed} of {total} ids were keyed, nothing was sent to the node",
            s.message()
        ),
        _ => e.context(format!(
            "borrower keys by blinded evaluation: {keyed} of {total} ids keyed, nothing was sent to the node"
        )),
    }
}
