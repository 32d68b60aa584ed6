//! What a peer query is for and how much it may see (docs/design.md §4):
//! the domain's [`Purpose`] and [`Scope`], converted from and to the wire
//! enums at the edge.

use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};

/// Why an institution asks about a borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    PostLoanManagement,
    CreditApproval,
    GuaranteeReview,
}

impl Purpose {
    /// Every purpose, in wire order.
    pub const ALL: [Purpose; 3] = [
        Purpose::PostLoanManagement,
        Purpose::CreditApproval,
        Purpose::GuaranteeReview,
    ];

    /// The wire value.
    pub fn to_wire(self) -> pb::Purpose {
        match self {
            Purpose::PostLoanManagement => pb::Purpose::PostLoanManagement,
            Purpose::CreditApproval => pb::Purpose::CreditApproval,
            Purpose::GuaranteeReview => pb::Purpose::GuaranteeReview,
        }
    }

    /// The purpose of a raw wire value; `None` for UNSPECIFIED or unknown.
    pub fn from_wire(value: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.to_wire() as i32 == value)
    }

    /// The name without its enum prefix, e.g. `POST_LOAN_MANAGEMENT`.
    pub fn name(self) -> &'static str {
        let name = self.to_wire().as_str_name();
        name.strip_prefix("PURPOSE_").unwrap_or(name)
    }

    /// Parses a purpose name as written in the policy config:
    /// `POST_LOAN_MANAGEMENT` or `PURPOSE_POST_LOAN_MANAGEMENT`, any case,
    /// surrounding blanks ignored. `UNSPECIFIED` is not a purpose.
    pub fn parse(s: &str) -> Option<Self> {
        let upper = s.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("PURPOSE_").unwrap_or(&upper);
        Self::ALL.into_iter().find(|p| p.name() == bare)
    }
}

/// The name of an optional purpose, `UNSPECIFIED` for none.
pub fn purpose_name(purpose: Option<Purpose>) -> &'static str {
    purpose.map_or("UNSPECIFIED", Purpose::name)
}

/// How much a holder discloses: derived indicators, or the signed records
/// too. Ordered: `Summary < Detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Scope {
    Summary,
    Detail,
}

impl Scope {
    /// The wire value.
    pub fn to_wire(self) -> pb::Scope {
        match self {
            Scope::Summary => pb::Scope::Summary,
            Scope::Detail => pb::Scope::Detail,
        }
    }

    /// The scope of a raw wire value; `None` for UNSPECIFIED or unknown.
    pub fn from_wire(value: i32) -> Option<Self> {
        match pb::Scope::try_from(value) {
            Ok(pb::Scope::Summary) => Some(Scope::Summary),
            Ok(pb::Scope::Detail) => Some(Scope::Detail),
            Ok(pb::Scope::Unspecified) | Err(_) => None,
        }
    }
}

/// The name of an optional scope (`SUMMARY`, `DETAIL`, `UNSPECIFIED`).
pub fn scope_name(scope: Option<Scope>) -> &'static str {
    match scope {
        Some(Scope::Summary) => "SUMMARY",
        Some(Scope::Detail) => "DETAIL",
        None => "UNSPECIFIED",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_parse_any_spelling() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::from_wire(p.to_wire() as i32), Some(p));
            assert_eq!(Purpose::parse(&format!(" purpose_{} ", p.name())), Some(p));
        }
        assert_eq!(Purpose::from_wire(0), None);
        assert_eq!(Purpose::parse("UNSPECIFIED"), None);
        assert_eq!(Purpose::parse("PURPOSE_UNSPECIFIED"), None);
    }

    #[test]
    fn scopes_are_ordered_and_round_trip() {
        assert!(Scope::Summary < Scope::Detail);
        for s in [Scope::Summary, Scope::Detail] {
            assert_eq!(Scope::from_wire(s.to_wire() as i32), Some(s));
        }
        assert_eq!(Scope::from_wire(0), None);
        assert_eq!(scope_name(None), "UNSPECIFIED");
    }
}
