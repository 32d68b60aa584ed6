//! Short code names for the protocol's enums, and ISO 4217 currency codes.
//!
//! Files, tables and JSON speak `WORKING_CAPITAL`; the wire speaks
//! `FacilityType::WorkingCapital` (i32 `1`). The short name is the enum's
//! protobuf name without its prefix (`FACILITY_TYPE_`), so it can't drift
//! from the `.proto` files.

use std::borrow::Cow;

use credshare_proto::v1 as pb;

use super::field::{FieldError, quote_unless_identifying};

/// A protobuf enum with short code names. Implemented for every enum of
/// `credshare.v1` by the macro below.
pub trait CodeEnum: Copy + Eq + 'static {
    /// Prefix of every protobuf value name, e.g. `"FACILITY_TYPE_"`.
    const PREFIX: &'static str;
    /// The protobuf value name, e.g. `"FACILITY_TYPE_WORKING_CAPITAL"`.
    fn proto_name(self) -> &'static str;
    /// The value for a wire number, if known.
    fn from_i32(value: i32) -> Option<Self>;
    /// The wire number.
    fn to_i32(self) -> i32;
}

/// Largest wire number probed when listing values; every credshare enum is
/// dense and far smaller.
const MAX_PROBED_VALUE: i32 = 64;

macro_rules! code_enums {
    ($($ty:ident => $prefix:literal),* $(,)?) => {$(
        impl CodeEnum for pb::$ty {
            const PREFIX: &'static str = $prefix;
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
            fn from_i32(value: i32) -> Option<Self> {
                pb::$ty::try_from(value).ok()
            }
            fn to_i32(self) -> i32 {
                self as i32
            }
        }
    )*};
}

code_enums! {
    RiskClass => "RISK_CLASS_",
    FacilityType => "FACILITY_TYPE_",
    GuaranteeType => "GUARANTEE_TYPE_",
    AccountStatus => "ACCOUNT_STATUS_",
    VisitType => "VISIT_TYPE_",
    VisitChannel => "VISIT_CHANNEL_",
    FundUsage => "FUND_USAGE_",
    OperationsStatus => "OPERATIONS_STATUS_",
    ProjectProgress => "PROJECT_PROGRESS_",
    CollateralStatus => "COLLATERAL_STATUS_",
    GuarantorStatus => "GUARANTOR_STATUS_",
    WarningSignal => "WARNING_SIGNAL_",
    ActionTaken => "ACTION_TAKEN_",
    Purpose => "PURPOSE_",
    Scope => "SCOPE_",
    DenialReason => "DENIAL_REASON_",
    Decision => "DECISION_",
    ConsentAction => "CONSENT_ACTION_",
    PeerStatus => "PEER_STATUS_",
    AssessmentLevel => "ASSESSMENT_LEVEL_",
    WriteOutcome => "WRITE_OUTCOME_",
    ConsentState => "CONSENT_STATE_",
    OversightPattern => "OVERSIGHT_PATTERN_",
    AnnotationType => "ANNOTATION_TYPE_",
    DisputeStatus => "DISPUTE_STATUS_",
}

/// The short code name: `code_name(pb::FacilityType::WorkingCapital)` is
/// `"WORKING_CAPITAL"`; the zero value is `"UNSPECIFIED"`.
pub fn code_name<E: CodeEnum>(value: E) -> &'static str {
    let name = value.proto_name();
    name.strip_prefix(E::PREFIX).unwrap_or(name)
}

/// Every value except the zero (`UNSPECIFIED`) one, in wire order.
pub fn known_values<E: CodeEnum>() -> impl Iterator<Item = E> {
    (1..=MAX_PROBED_VALUE).filter_map(E::from_i32)
}

/// The short names a user may type, in wire order.
pub fn allowed_codes<E: CodeEnum>() -> Vec<&'static str> {
    known_values::<E>().map(code_name).collect()
}

/// Parses a short code name (or the full protobuf name), ignoring case and
/// surrounding space. `UNSPECIFIED` is refused. The error lists the allowed
/// values and names `field`.
pub fn parse_code<E: CodeEnum>(field: &'static str, s: &str) -> Result<E, FieldError> {
    let wanted = s.trim().to_ascii_uppercase();
    let short = wanted.strip_prefix(E::PREFIX).unwrap_or(&wanted);
    if let Some(value) = known_values::<E>().find(|&v| code_name(v) == short) {
        return Ok(value);
    }
    let reason = if wanted.is_empty() {
        "is empty".to_owned()
    } else {
        format!("unknown value {}", quote_unless_identifying(s.trim()))
    };
    Err(FieldError::new(
        field,
        format!("{reason}; allowed: {}", allowed_codes::<E>().join(", ")),
    ))
}

/// Checks an enum field of a message: set (not zero) and a known value.
pub fn enum_field<E: CodeEnum>(field: &'static str, raw: i32) -> Result<E, FieldError> {
    match E::from_i32(raw) {
        Some(value) if raw != 0 => Ok(value),
        Some(_) => Err(FieldError::new(field, "is not set")),
        None => Err(FieldError::new(field, format!("unknown value {raw}"))),
    }
}

/// The short name of a raw enum field for display: `"NORMAL"`,
/// `"UNSPECIFIED"`, or `"UNKNOWN(42)"`.
pub fn code_label<E: CodeEnum>(raw: i32) -> Cow<'static, str> {
    match E::from_i32(raw) {
        Some(value) => Cow::Borrowed(code_name(value)),
        None => Cow::Owned(format!("UNKNOWN({raw})")),
    }
}

/// True if `code` is an active ISO 4217 alphabetic code usable for a
/// credit facility (upper-case, exact).
pub fn is_iso_4217(code: &str) -> bool {
    ISO_4217_CODES.binary_search(&code).is_ok()
}

/// Digits after the decimal point of an ISO 4217 currency's minor unit: an
/// amount of 12345 in minor units is 123.45 CNY, 12345 JPY, 12.345 KWD.
/// Units without a minor unit (precious metals, SDR, funds codes marked
/// N.A.) count as 0.
pub fn minor_unit_digits(code: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XOF", "XPD", "XPF", "XPT",
        "XSU", "XUA",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    if ZERO.contains(&code) {
        0
    } else if THREE.contains(&code) {
        3
    } else if FOUR.contains(&code) {
        4
    } else {
        2
    }
}

/// Active ISO 4217 alphabetic codes (2025), sorted. Testing and "no
/// currency" codes (XTS, XXX) and withdrawn codes are left out; fund codes,
/// SDR and precious metals stay, since facilities are written in them.
pub const ISO_4217_CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD",
    "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn short_names_strip_the_prefix() {
        assert_eq!(
            code_name(pb::FacilityType::WorkingCapital),
            "WORKING_CAPITAL"
        );
        assert_eq!(code_name(pb::RiskClass::SpecialMention), "SPECIAL_MENTION");
        assert_eq!(code_name(pb::RiskClass::Unspecified), "UNSPECIFIED");
        assert_eq!(code_name(pb::WarningSignal::MgmtEvent), "MGMT_EVENT");
    }

    #[test]
    fn parse_accepts_short_full_and_any_case() {
        let ok = |s| parse_code::<pb::FacilityType>("facility_type", s);
        assert_eq!(ok("WORKING_CAPITAL"), Ok(pb::FacilityType::WorkingCapital));
        assert_eq!(ok(" revolving_line "), Ok(pb::FacilityType::RevolvingLine));
        assert_eq!(ok("FACILITY_TYPE_PROJECT"), Ok(pb::FacilityType::Project));
    }

    #[test]
    fn parse_refuses_unknown_empty_and_unspecified_listing_values() {
        for bad in ["WORKING", "", "UNSPECIFIED", "FACILITY_TYPE_UNSPECIFIED"] {
            let err = parse_code::<pb::FacilityType>("facility_type", bad).unwrap_err();
            assert_eq!(err.field, "facility_type");
            assert!(
                err.reason.contains("allowed: WORKING_CAPITAL, FIXED_ASSET"),
                "{err}"
            );
            assert!(err.reason.ends_with("REVOLVING_LINE"), "{err}");
        }
    }

    #[test]
    fn parse_error_does_not_echo_identifier_like_values() {
        let err = parse_code::<pb::RiskClass>("risk_class", "91350100M000100Y43").unwrap_err();
        assert!(!err.to_string().contains("91350100M000100Y43"), "{err}");
    }

    #[test]
    fn round_trip_for_every_value_of_every_record_enum() {
        fn round_trip<E: CodeEnum + std::fmt::Debug>() {
            let values: Vec<E> = known_values::<E>().collect();
            assert!(!values.is_empty());
            for v in values {
                assert_eq!(parse_code::<E>("f", code_name(v)), Ok(v));
            }
        }
        round_trip::<pb::RiskClass>();
        round_trip::<pb::FacilityType>();
        round_trip::<pb::GuaranteeType>();
        round_trip::<pb::AccountStatus>();
        round_trip::<pb::VisitType>();
        round_trip::<pb::VisitChannel>();
        round_trip::<pb::FundUsage>();
        round_trip::<pb::OperationsStatus>();
        round_trip::<pb::ProjectProgress>();
        round_trip::<pb::CollateralStatus>();
        round_trip::<pb::GuarantorStatus>();
        round_trip::<pb::WarningSignal>();
        round_trip::<pb::ActionTaken>();
        assert_eq!(allowed_codes::<pb::WarningSignal>().len(), 14);
    }

    #[test]
    fn enum_fields_must_be_set_and_known() {
        assert_eq!(
            enum_field::<pb::RiskClass>("risk_class", 1),
            Ok(pb::RiskClass::Normal)
        );
        assert_eq!(
            enum_field::<pb::RiskClass>("risk_class", 0)
                .unwrap_err()
                .reason,
            "is not set"
        );
        let err = enum_field::<pb::RiskClass>("risk_class", 42).unwrap_err();
        assert_eq!(err.to_string(), "risk_class: unknown value 42");
    }

    #[test]
    fn labels_for_display() {
        assert_eq!(code_label::<pb::RiskClass>(5), "LOSS");
        assert_eq!(code_label::<pb::RiskClass>(0), "UNSPECIFIED");
        assert_eq!(code_label::<pb::RiskClass>(9), "UNKNOWN(9)");
    }

    #[test]
    fn currency_list_is_sorted_unique_and_well_formed() {
        assert!(ISO_4217_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ISO_4217_CODES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        for ok in ["CNY", "USD", "EUR", "HKD", "JPY"] {
            assert!(is_iso_4217(ok), "{ok}");
        }
        for bad in ["cny", "RMB", "XXX", "XTS", "HRK", "CN", ""] {
            assert!(!is_iso_4217(bad), "{bad}");
        }
    }
}
