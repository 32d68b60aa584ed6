//! The member's discovery client: blinded batch evaluation (stage 1 at one
//! service; stage 2 at the regulator and two custodians, combined), proof
//! verification, registration and lookup. Used by `credshare discovery`
//! and the end-to-end tests.

use anyhow::{Context, anyhow, bail};
use credshare_node::discovery::oprf::{BlindBatch, MAX_ELEMENTS_PER_CALL, Pseudonym};
use credshare_node::discovery::threshold::PartialEvaluation;
use credshare_node::domain::borrower::BorrowerId;
use credshare_node::domain::purpose::Purpose;
use credshare_proto::v1 as pb;
use tonic::transport::Channel;

use super::ServiceArgs;

pub type DiscoveryClient = pb::discovery_service_client::DiscoveryServiceClient<Channel>;

/// Connections to the service (and, in stage 2, two custodians).
#[derive(Debug, Clone)]
pub struct Services {
    pub discovery: DiscoveryClient,
    pub custodians: Vec<DiscoveryClient>,
    /// The pinned public key, if given.
    pub public_key: Option<Vec<u8>>,
}

/// What an evaluation is for.
#[derive(Debug, Clone, Copy)]
pub enum Use {
    Enrolment,
    Assessment {
        purpose: Purpose,
        consent_sha256: [u8; 32],
    },
}

/// Pseudonyms of one batch, and the receipt of an assessment evaluation.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub pseudonyms: Vec<Pseudonym>,
    pub receipt_id: String,
}

impl Services {
    /// Connects with the member's certificate (`--certs`).
    pub async fn connect(args: &ServiceArgs) -> anyhow::Result<Self> {
        let resolved = args.conn.resolve()?;
        let public_key = args
            .public_key
            .as_deref()
            .map(|h| hex::decode(h.trim()).context("--public-key is not hex"))
            .transpose()?;
        if !args.custodian.is_empty() && (args.custodian.len() != 2 || public_key.is_none()) {
            bail!("stage 2 needs exactly two --custodian addresses and --public-key");
        }
        let client =
            |c: Channel| DiscoveryClient::new(c).max_decoding_message_size(16 * 1024 * 1024);
        let discovery = client(resolved.channel(&args.discovery).await?);
        let mut custodians = Vec::new();
        for addr in &args.custodian {
            custodians.push(client(resolved.channel(addr).await?));
        }
        Ok(Self {
            discovery,
            custodians,
            public_key,
        })
    }

    /// Pseudonyms of `ids` (at most [`MAX_ELEMENTS_PER_CALL`]): blinded
    /// here, evaluated remotely, every proof verified, unblinded here.
    pub async fn pseudonyms(
        &mut self,
        ids: &[BorrowerId],
        usage: Use,
    ) -> anyhow::Result<Evaluated> {
        if ids.is_empty() || ids.len() > MAX_ELEMENTS_PER_CALL {
            bail!(
                "a batch holds 1..={MAX_ELEMENTS_PER_CALL} ids, got {}",
                ids.len()
            );
        }
        let batch = BlindBatch::borrowers(ids);
        let request = evaluate_request(&batch, usage);
        let main = self
            .discovery
            .evaluate(request.clone())
            .await
            .context("discovery service: Evaluate")?
            .into_inner();
        let receipt_id = main.receipt_id.clone();
        let pseudonyms = if self.custodians.is_empty() {
            if let Some(pinned) = &self.public_key
                && pinned != &main.public_key
            {
                bail!(
                    "the discovery service evaluated under public key {}, not the pinned {}",
                    hex::encode(&main.public_key),
                    hex::encode(pinned)
                );
            }
            batch.finalize(&main.evaluated_elements, &main.proof, &main.public_key)?
        } else {
            self.combine(&batch, request, main).await?
        };
        Ok(Evaluated {
            pseudonyms,
            receipt_id,
        })
    }

    async fn combine(
        &mut self,
        batch: &BlindBatch,
        request: pb::EvaluateRequest,
        main: pb::EvaluateResponse,
    ) -> anyhow::Result<Vec<Pseudonym>> {
        if main.key_part != "regulator" {
            bail!(
                "stage 2: the discovery service holds the {:?} key, not the regulator's part",
                main.key_part
            );
        }
        let mut parts = Vec::new();
        for (n, client) in self.custodians.iter_mut().enumerate() {
            let r = client
                .evaluate(request.clone())
                .await
                .with_context(|| format!("custodian {}: Evaluate", n + 1))?
                .into_inner();
            let index = u8::try_from(r.custodian_index)
                .ok()
                .filter(|i| r.key_part == "custodian" && (1..=3).contains(i))
                .ok_or_else(|| {
                    anyhow!(
                        "custodian {} does not hold a share (key part {:?})",
                        n + 1,
                        r.key_part
                    )
                })?;
            parts.push(partial(r, Some(index)));
        }
        let regulator = partial(main, None);
        let pk = self
            .public_key
            .clone()
            .ok_or_else(|| anyhow!("--public-key is required in stage 2"))?;
        Ok(batch.finalize_threshold(&regulator, [&parts[0], &parts[1]], &pk)?)
    }
}

fn partial(r: pb::EvaluateResponse, custodian: Option<u8>) -> PartialEvaluation {
    PartialEvaluation {
        custodian,
        evaluated: r.evaluated_elements,
        proof: r.proof,
        public_key: r.public_key,
    }
}

fn evaluate_request(batch: &BlindBatch, usage: Use) -> pb::EvaluateRequest {
    let mut request = pb::EvaluateRequest {
        blinded_elements: batch.blinded.clone(),
        ..Default::default()
    };
    match usage {
        Use::Enrolment => request.enrolment = true,
        Use::Assessment {
            purpose,
            consent_sha256,
        } => {
            request.purpose = purpose.to_wire() as i32;
            request.consent_sha256 = consent_sha256.to_vec();
        }
    }
    request
}
