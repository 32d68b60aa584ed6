//! What a peer query is for and how much it may see (docs/design.md §4):
//! the domain's [`Purpose`] and [`Scope`], converted from and to the wire
//! enums at the edge.

use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};

/// Why an institution asks about a borrower: the query reasons of the
/// national credit report, each with its two-digit code (docs/domain.md,
/// "Query reasons").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// `01` 贷后管理 — needs no consent, only a lending relationship.
    PostLoanManagement,
    /// `02` 贷款审批.
    LoanApproval,
    /// `03` 信用卡审批.
    CreditCardApproval,
    /// `08` 担保资格审查.
    GuaranteeQualificationReview,
    /// `20` 保前审查.
    PreGuaranteeReview,
    /// `21` 保后管理.
    PostGuaranteeManagement,
    /// `22` 法人代表/高管资信审查.
    ExecutiveCreditReview,
    /// `23` 客户准入资格审查.
    CustomerAdmissionReview,
    /// `24` 融资审批.
    FinancingApproval,
    /// `25` 资信审查.
    CreditStandingReview,
    /// `26` 额度审批.
    CreditLineApproval,
}

/// Names accepted for compatibility with the three purposes before the
/// national reason codes: `CREDIT_APPROVAL` was wire value 2.
const LEGACY_NAMES: [(&str, Purpose); 1] = [("CREDIT_APPROVAL", Purpose::LoanApproval)];

impl Purpose {
    /// Every purpose, in code order.
    pub const ALL: [Purpose; 11] = [
        Purpose::PostLoanManagement,
        Purpose::LoanApproval,
        Purpose::CreditCardApproval,
        Purpose::GuaranteeQualificationReview,
        Purpose::PreGuaranteeReview,
        Purpose::PostGuaranteeManagement,
        Purpose::ExecutiveCreditReview,
        Purpose::CustomerAdmissionReview,
        Purpose::FinancingApproval,
        Purpose::CreditStandingReview,
        Purpose::CreditLineApproval,
    ];

    /// The wire value; its number is the reason code.
    pub fn to_wire(self) -> pb::Purpose {
        match self {
            Purpose::PostLoanManagement => pb::Purpose::PostLoanManagement,
            Purpose::LoanApproval => pb::Purpose::LoanApproval,
            Purpose::CreditCardApproval => pb::Purpose::CreditCardApproval,
            Purpose::GuaranteeQualificationReview => pb::Purpose::GuaranteeQualificationReview,
            Purpose::PreGuaranteeReview => pb::Purpose::PreGuaranteeReview,
            Purpose::PostGuaranteeManagement => pb::Purpose::PostGuaranteeManagement,
            Purpose::ExecutiveCreditReview => pb::Purpose::ExecutiveCreditReview,
            Purpose::CustomerAdmissionReview => pb::Purpose::CustomerAdmissionReview,
            Purpose::FinancingApproval => pb::Purpose::FinancingApproval,
            Purpose::CreditStandingReview => pb::Purpose::CreditStandingReview,
            Purpose::CreditLineApproval => pb::Purpose::CreditLineApproval,
        }
    }

    /// The purpose of a raw wire value; `None` for UNSPECIFIED or unknown.
    pub fn from_wire(value: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.to_wire() as i32 == value)
    }

    /// The national report's reason code, e.g. `1` for post-loan management.
    pub fn code(self) -> u8 {
        // Every wire number is a reason code below 100.
        self.to_wire() as i32 as u8
    }

    /// The name without its enum prefix, e.g. `POST_LOAN_MANAGEMENT`.
    pub fn name(self) -> &'static str {
        let name = self.to_wire().as_str_name();
        name.strip_prefix("PURPOSE_").unwrap_or(name)
    }

    /// The CLI spelling, e.g. `post-loan` or `loan-approval`.
    pub fn cli_name(self) -> String {
        match self {
            Purpose::PostLoanManagement => "post-loan".to_owned(),
            other => other.name().to_ascii_lowercase().replace('_', "-"),
        }
    }

    /// How logs, history and listings show it: `01 POST_LOAN_MANAGEMENT`.
    pub fn label(self) -> String {
        format!("{:02} {}", self.code(), self.name())
    }

    /// Whether it reviews a new application (02, 03, 24, 26): such queries
    /// are expected to be followed by lending.
    pub fn is_approval(self) -> bool {
        matches!(
            self,
            Purpose::LoanApproval
                | Purpose::CreditCardApproval
                | Purpose::FinancingApproval
                | Purpose::CreditLineApproval
        )
    }

    /// Parses a purpose as a user writes it in config or on the command
    /// line: the name (`POST_LOAN_MANAGEMENT`, `PURPOSE_…`), the CLI name
    /// (`post-loan`, `loan-approval`, `post-loan-management`), or the code
    /// (`1`, `01`, `24`); any case, surrounding blanks ignored. The legacy
    /// name `CREDIT_APPROVAL` means loan approval. `UNSPECIFIED` and `0`
    /// are not purposes.
    pub fn parse(s: &str) -> Option<Self> {
        let trimmed = s.trim();
        if !trimmed.is_empty() && trimmed.len() <= 2 && trimmed.bytes().all(|b| b.is_ascii_digit())
        {
            return trimmed.parse::<i32>().ok().and_then(Self::from_wire);
        }
        let upper = trimmed.to_ascii_uppercase().replace('-', "_");
        let bare = upper.strip_prefix("PURPOSE_").unwrap_or(&upper);
        if bare == "POST_LOAN" {
            return Some(Purpose::PostLoanManagement);
        }
        Self::ALL
            .into_iter()
            .find(|p| p.name() == bare)
            .or_else(|| {
                LEGACY_NAMES
                    .iter()
                    .find(|(n, _)| *n == bare)
                    .map(|(_, p)| *p)
            })
    }
}

/// The name of an optional purpose, `UNSPECIFIED` for none.
pub fn purpose_name(purpose: Option<Purpose>) -> &'static str {
    purpose.map_or("UNSPECIFIED", Purpose::name)
}

/// The label of a raw wire value: `01 POST_LOAN_MANAGEMENT`, `00
/// UNSPECIFIED`, or `UNKNOWN(42)`.
pub fn purpose_label(raw: i32) -> String {
    match Purpose::from_wire(raw) {
        Some(p) => p.label(),
        None if raw == 0 => "00 UNSPECIFIED".to_owned(),
        None => format!("UNKNOWN({raw})"),
    }
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
            assert_eq!(Purpose::parse(&p.cli_name()), Some(p));
            assert_eq!(Purpose::parse(&p.code().to_string()), Some(p));
            assert_eq!(Purpose::parse(&format!("{:02}", p.code())), Some(p));
        }
        assert_eq!(Purpose::from_wire(0), None);
        assert_eq!(Purpose::parse("UNSPECIFIED"), None);
        assert_eq!(Purpose::parse("PURPOSE_UNSPECIFIED"), None);
        assert_eq!(Purpose::parse("0"), None);
        assert_eq!(Purpose::parse("4"), None);
        assert_eq!(Purpose::parse("100"), None);
    }

    #[test]
    fn codes_are_the_national_reason_codes() {
        let codes: Vec<u8> = Purpose::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes, [1, 2, 3, 8, 20, 21, 22, 23, 24, 25, 26]);
        assert_eq!(Purpose::CreditCardApproval.code(), 3);
        assert_eq!(Purpose::FinancingApproval.code(), 24);
        assert_eq!(
            Purpose::PostLoanManagement.label(),
            "01 POST_LOAN_MANAGEMENT"
        );
        assert_eq!(purpose_label(24), "24 FINANCING_APPROVAL");
        assert_eq!(purpose_label(0), "00 UNSPECIFIED");
        assert_eq!(purpose_label(4), "UNKNOWN(4)");
    }

    #[test]
    fn purposes_parse_from_config_names_and_old_spellings() {
        use Purpose::{GuaranteeQualificationReview, LoanApproval, PostLoanManagement};
        let cases = [
            ("POST_LOAN_MANAGEMENT", Some(PostLoanManagement)),
            (" credit_approval ", Some(LoanApproval)),
            (
                "PURPOSE_GUARANTEE_QUALIFICATION_REVIEW",
                Some(GuaranteeQualificationReview),
            ),
            ("UNSPECIFIED", None),
            ("MARKETING", None),
            ("", None),
            // Old spellings.
            ("post-loan-management", Some(PostLoanManagement)),
            ("post-loan", Some(PostLoanManagement)),
            ("CREDIT_APPROVAL", Some(LoanApproval)),
            ("GUARANTEE_REVIEW", None),
        ];
        for (name, expected) in cases {
            assert_eq!(Purpose::parse(name), expected, "{name:?}");
        }
        assert_eq!(PostLoanManagement.name(), "POST_LOAN_MANAGEMENT");
        let approvals: Vec<u8> = Purpose::ALL
            .iter()
            .filter(|p| p.is_approval())
            .map(|p| p.code())
            .collect();
        assert_eq!(approvals, [2, 3, 24, 26]);
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
