//! Borrower key generations (docs/design.md §3): which derivation made a
//! borrower key. Generation 1 is the HMAC under the consortium secret;
//! generation 2 and later are the discovery service's OPRF pseudonym (the
//! 32-byte pseudonym is the key). A node serves exactly one generation:
//! a record, grant or peer query of another is refused, naming both.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A borrower key generation: 1 = HMAC, 2+ = OPRF pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct KeyGeneration(u32);

/// A key of one generation where another is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "borrower key generation {sent} was sent; this node serves generation {served} ({})",
    KeyGeneration(*served).describe()
)]
pub struct GenerationMismatch {
    /// The generation the record, grant or query carried (0 on the wire = 1).
    pub sent: u32,
    /// The generation this node serves.
    pub served: u32,
}

impl KeyGeneration {
    /// Generation 1: the HMAC under the consortium secret.
    pub const HMAC: Self = Self(1);
    /// The first OPRF generation.
    pub const FIRST_OPRF: Self = Self(2);

    /// The generation a wire field names: 0 (an older sender) means 1.
    pub fn from_wire(value: u32) -> Self {
        Self(value.max(1))
    }

    /// The wire value: 0 for generation 1, so records, grants and log
    /// entries of generation 1 keep the exact bytes they had before
    /// generations existed (their content hashes do not change).
    pub fn to_wire(self) -> u32 {
        if self == Self::HMAC { 0 } else { self.0 }
    }

    /// The generation number (≥ 1).
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether keys of this generation are OPRF pseudonyms (no consortium
    /// secret is involved).
    pub fn is_oprf(self) -> bool {
        self.0 >= 2
    }

    /// Accepts a key sent with wire generation `sent` when it is this one.
    pub fn check(self, sent: u32) -> Result<(), GenerationMismatch> {
        if Self::from_wire(sent) == self {
            Ok(())
        } else {
            Err(GenerationMismatch {
                sent: Self::from_wire(sent).0,
                served: self.0,
            })
        }
    }

    fn describe(self) -> &'static str {
        if self.is_oprf() {
            "OPRF pseudonyms"
        } else {
            "HMAC under the consortium secret"
        }
    }
}

impl Default for KeyGeneration {
    fn default() -> Self {
        Self::HMAC
    }
}

impl TryFrom<u32> for KeyGeneration {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        if value == 0 {
            return Err("must be at least 1 (1 = HMAC, 2+ = OPRF pseudonyms)".into());
        }
        Ok(Self(value))
    }
}

impl From<KeyGeneration> for u32 {
    fn from(g: KeyGeneration) -> u32 {
        g.0
    }
}

impl fmt::Display for KeyGeneration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_on_the_wire_is_generation_one_and_one_is_written_as_zero() {
        assert_eq!(KeyGeneration::from_wire(0), KeyGeneration::HMAC);
        assert_eq!(KeyGeneration::from_wire(1), KeyGeneration::HMAC);
        assert_eq!(KeyGeneration::HMAC.to_wire(), 0);
        assert_eq!(KeyGeneration::FIRST_OPRF.to_wire(), 2);
        assert!(!KeyGeneration::HMAC.is_oprf());
        assert!(KeyGeneration::from_wire(3).is_oprf());
    }

    #[test]
    fn another_generation_is_refused_naming_both() {
        let served = KeyGeneration::FIRST_OPRF;
        assert_eq!(served.check(2), Ok(()));
        let e = served.check(0).unwrap_err();
        assert_eq!(e, GenerationMismatch { sent: 1, served: 2 });
        assert_eq!(
            e.to_string(),
            "borrower key generation 1 was sent; this node serves generation 2 (OPRF pseudonyms)"
        );
        assert_eq!(KeyGeneration::HMAC.check(1), Ok(()));
        assert_eq!(
            KeyGeneration::HMAC.check(3).unwrap_err().to_string(),
            "borrower key generation 3 was sent; this node serves generation 1 (HMAC under the consortium secret)"
        );
    }

    #[test]
    fn config_value_zero_is_refused() {
        assert!(KeyGeneration::try_from(0).is_err());
        assert_eq!(KeyGeneration::try_from(2), Ok(KeyGeneration::FIRST_OPRF));
    }
}
