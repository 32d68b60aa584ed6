//! Evaluation receipts: an assessment's evaluation returns a receipt id
//! bound to the member and the consent hash; one lookup may redeem it,
//! before it expires. Held in memory only: a restart invalidates every
//! receipt (fail closed; they live minutes). Used and expired receipts are
//! remembered until their expiry so a reuse is named as such.

use std::collections::HashMap;

/// Most receipts outstanding at once; past it the oldest expire first.
pub const MAX_OUTSTANDING: usize = 1_000_000;

/// Why a receipt was not accepted (the log's `refused` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptRefusal {
    Unknown,
    Used,
    Expired,
    OtherMember,
    OtherConsent,
}

impl ReceiptRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptRefusal::Unknown => "RECEIPT_UNKNOWN",
            ReceiptRefusal::Used => "RECEIPT_USED",
            ReceiptRefusal::Expired => "RECEIPT_EXPIRED",
            ReceiptRefusal::OtherMember => "RECEIPT_OTHER_MEMBER",
            ReceiptRefusal::OtherConsent => "RECEIPT_OTHER_CONSENT",
        }
    }

    /// What the caller is told.
    pub fn message(self) -> &'static str {
        match self {
            ReceiptRefusal::Unknown => {
                "unknown receipt: a lookup needs the receipt of an assessment evaluation (given a consent hash) made since the service started"
            }
            ReceiptRefusal::Used => "the receipt was used already: evaluate again for a new lookup",
            ReceiptRefusal::Expired => "the receipt has expired: evaluate again",
            ReceiptRefusal::OtherMember => "the receipt was issued to another institution",
            ReceiptRefusal::OtherConsent => "the receipt is bound to another consent hash",
        }
    }
}

#[derive(Debug, Clone)]
struct Receipt {
    institution: String,
    consent_sha256: [u8; 32],
    expires_ms: i64,
    used: bool,
}

/// The receipts issued and not yet expired.
#[derive(Debug, Default)]
pub struct ReceiptBook {
    receipts: HashMap<String, Receipt>,
}

impl ReceiptBook {
    /// Issues a receipt for `institution` bound to `consent_sha256`,
    /// valid until `expires_ms`; returns its id (128 random bits, hex).
    pub fn issue(
        &mut self,
        institution: &str,
        consent_sha256: [u8; 32],
        now_ms: i64,
        expires_ms: i64,
    ) -> String {
        self.purge(now_ms);
        if self.receipts.len() >= MAX_OUTSTANDING
            && let Some(oldest) = self
                .receipts
                .iter()
                .min_by_key(|(_, r)| r.expires_ms)
                .map(|(id, _)| id.clone())
        {
            self.receipts.remove(&oldest);
        }
        let id = random_id();
        self.receipts.insert(
            id.clone(),
            Receipt {
                institution: institution.to_owned(),
                consent_sha256,
                expires_ms,
                used: false,
            },
        );
        id
    }

    /// Redeems a receipt: it must exist, be unused and unexpired, and be
    /// bound to this institution and consent hash. Marks it used.
    pub fn redeem(
        &mut self,
        id: &str,
        institution: &str,
        consent_sha256: &[u8],
        now_ms: i64,
    ) -> Result<(), ReceiptRefusal> {
        let r = self.receipts.get_mut(id).ok_or(ReceiptRefusal::Unknown)?;
        if r.institution != institution {
            return Err(ReceiptRefusal::OtherMember);
        }
        if r.used {
            return Err(ReceiptRefusal::Used);
        }
        if now_ms >= r.expires_ms {
            return Err(ReceiptRefusal::Expired);
        }
        if r.consent_sha256.as_slice() != consent_sha256 {
            return Err(ReceiptRefusal::OtherConsent);
        }
        r.used = true;
        Ok(())
    }

    fn purge(&mut self, now_ms: i64) {
        // Keep expired ones a while longer, so a late reuse is named.
        self.receipts
            .retain(|_, r| r.expires_ms.saturating_add(GRACE_MS) > now_ms);
    }

    pub fn outstanding(&self) -> usize {
        self.receipts.len()
    }
}

/// How long an expired receipt is still recognised (to name the refusal).
const GRACE_MS: i64 = 3_600_000;

fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // A failing system RNG leaves zeros; ids then collide and lookups fail
    // closed (another member's receipt, or an unknown one).
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000_000;

    #[test]
    fn a_receipt_is_single_use_and_bound_to_member_and_consent() {
        let mut book = ReceiptBook::default();
        let id = book.issue("BANK-A", [1; 32], T, T + 1000);
        assert_eq!(
            book.redeem(&id, "BANK-B", &[1; 32], T),
            Err(ReceiptRefusal::OtherMember)
        );
        assert_eq!(
            book.redeem(&id, "BANK-A", &[2; 32], T),
            Err(ReceiptRefusal::OtherConsent)
        );
        assert_eq!(book.redeem(&id, "BANK-A", &[1; 32], T), Ok(()));
        assert_eq!(
            book.redeem(&id, "BANK-A", &[1; 32], T),
            Err(ReceiptRefusal::Used)
        );
        assert_eq!(
            book.redeem("nope", "BANK-A", &[1; 32], T),
            Err(ReceiptRefusal::Unknown)
        );
    }

    #[test]
    fn a_receipt_expires() {
        let mut book = ReceiptBook::default();
        let id = book.issue("BANK-A", [1; 32], T, T + 1000);
        assert_eq!(
            book.redeem(&id, "BANK-A", &[1; 32], T + 1000),
            Err(ReceiptRefusal::Expired)
        );
        // Forgotten once well past expiry.
        book.issue("BANK-A", [1; 32], T + 1000 + GRACE_MS, T + 2000 + GRACE_MS);
        assert_eq!(
            book.redeem(&id, "BANK-A", &[1; 32], T),
            Err(ReceiptRefusal::Unknown)
        );
    }
}
