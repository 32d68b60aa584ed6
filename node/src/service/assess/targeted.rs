//! Which peers an assessment asks. Without discovery, every peer; with it
//! (docs/design.md §9), only the holders the requester's lookup named,
//! every other peer being listed as not a holder. A named holder this node
//! does not know is refused before any query leaves.

use crate::domain::assessment::Contribution;
use crate::domain::assessment::targeted::{self, Targeting};
use crate::error::NodeError;
use crate::federation::Peer;
use crate::service::Node;

impl Node {
    /// The peers to ask, and the contributions of the peers not asked.
    pub(super) fn peers_to_ask(
        &self,
        targeting: Option<&Targeting>,
    ) -> Result<(Vec<Peer>, Vec<Contribution>), NodeError> {
        let peers = self.federation.peers();
        let Some(t) = targeting else {
            return Ok((peers.to_vec(), Vec::new()));
        };
        let own = self.institution().as_str();
        if let Some(unknown) = t
            .holders
            .iter()
            .find(|h| h.as_str() != own && !peers.iter().any(|p| p.institution.as_str() == *h))
        {
            return Err(NodeError::invalid(
                "discovery_holders",
                format!(
                    "{unknown} is not a member this node knows (no peer of that institution); no query was sent"
                ),
            ));
        }
        let (asked, skipped): (Vec<Peer>, Vec<Peer>) = peers
            .iter()
            .cloned()
            .partition(|p| t.holders.contains(p.institution.as_str()));
        let not_holders = skipped
            .into_iter()
            .map(|p| targeted::not_holder(p.institution.to_string()))
            .collect();
        Ok((asked, not_holders))
    }
}
