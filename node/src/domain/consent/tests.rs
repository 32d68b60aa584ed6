use super::*;

const NOW: i64 = 1_780_000_000_000;
const HOUR: i64 = 3_600_000;
const SKEW_MS: i64 = 300_000;

fn inst(s: &str) -> InstitutionId {
    InstitutionId::parse(s).unwrap()
}

fn grant() -> pb::ConsentGrant {
    pb::ConsentGrant {
        consent_id: "BANK-A-1-00".into(),
        borrower_key: vec![7; 32],
        key_generation: 0,
        grantee_institution: "BANK-A".into(),
        purposes: vec![pb::Purpose::PostLoanManagement as i32],
        scope: pb::Scope::Detail as i32,
        not_before_ms: NOW - HOUR,
        not_after_ms: NOW + 30 * MS_PER_DAY,
        authorization_sha256: vec![1; 32],
        issued_at_ms: NOW - HOUR,
    }
}

struct Query {
    requester: InstitutionId,
    borrower_key: Vec<u8>,
    purpose: Option<Purpose>,
    scope: Option<Scope>,
    now_ms: i64,
}

impl Query {
    fn new() -> Self {
        Self {
            requester: inst("BANK-A"),
            borrower_key: vec![7; 32],
            purpose: Some(Purpose::PostLoanManagement),
            scope: Some(Scope::Summary),
            now_ms: NOW,
        }
    }

    fn ctx(&self) -> QueryContext<'_> {
        QueryContext {
            requester: &self.requester,
            borrower_key: &self.borrower_key,
            purpose: self.purpose,
            scope: self.scope,
            now_ms: self.now_ms,
        }
    }
}

fn decide_with(
    grant: &pb::ConsentGrant,
    query: &Query,
    revoked: bool,
    policy: &HolderPolicy,
) -> Result<(), pb::DenialReason> {
    decide(grant, &inst("BANK-A"), &query.ctx(), revoked, policy).map_err(|d| {
        // No message may leak the borrower key (its bytes in any form).
        assert!(!d.message.contains("0707"), "{}", d.message);
        d.reason
    })
}

/// The denial of `query` under `grant` signed by `signer` (default policy).
fn denial(grant: &pb::ConsentGrant, signer: &str, query: &Query) -> Denial {
    decide(
        grant,
        &inst(signer),
        &query.ctx(),
        false,
        &HolderPolicy::default(),
    )
    .unwrap_err()
}

fn reason(grant: &pb::ConsentGrant, query: &Query) -> Result<(), pb::DenialReason> {
    decide_with(grant, query, false, &HolderPolicy::default())
}

#[test]
fn a_matching_grant_is_accepted() {
    assert_eq!(reason(&grant(), &Query::new()), Ok(()));
    let mut q = Query::new();
    q.scope = Some(Scope::Detail);
    assert_eq!(reason(&grant(), &q), Ok(()));
}

#[test]
fn a_grant_signed_by_another_institution_is_untrusted() {
    let g = grant();
    let q = Query::new();
    let denial = denial(&g, "BANK-B", &q);
    assert_eq!(denial.reason, pb::DenialReason::UntrustedSigner);
    assert!(denial.message.contains("BANK-B"), "{}", denial.message);
}

#[test]
fn a_grant_for_another_grantee_is_refused() {
    let mut q = Query::new();
    q.requester = inst("BANK-C");
    assert_eq!(reason(&grant(), &q), Err(pb::DenialReason::WrongGrantee));
}

#[test]
fn signer_check_comes_before_grantee_check() {
    let mut q = Query::new();
    q.requester = inst("BANK-C");
    let denial = denial(&grant(), "BANK-C", &q);
    assert_eq!(denial.reason, pb::DenialReason::UntrustedSigner);
}

#[test]
fn a_grant_for_another_borrower_is_refused_without_naming_keys() {
    let mut q = Query::new();
    q.borrower_key = vec![8; 32];
    let denial = denial(&grant(), "BANK-A", &q);
    assert_eq!(denial.reason, pb::DenialReason::WrongBorrower);
    assert!(!denial.message.contains("0808") && !denial.message.contains("0707"));
}

#[test]
fn an_ungranted_or_unspecified_purpose_is_refused() {
    let mut q = Query::new();
    q.purpose = Some(Purpose::LoanApproval);
    assert_eq!(
        reason(&grant(), &q),
        Err(pb::DenialReason::PurposeNotGranted)
    );
    q.purpose = None;
    let mut g = grant();
    g.purposes.push(pb::Purpose::Unspecified as i32);
    assert_eq!(reason(&g, &q), Err(pb::DenialReason::PurposeNotGranted));
}

#[test]
fn a_scope_beyond_the_grant_is_refused() {
    let mut g = grant();
    g.scope = pb::Scope::Summary as i32;
    let mut q = Query::new();
    assert_eq!(reason(&g, &q), Ok(()));
    q.scope = Some(Scope::Detail);
    assert_eq!(reason(&g, &q), Err(pb::DenialReason::ScopeExceeded));
    q.scope = None;
    assert_eq!(reason(&g, &q), Err(pb::DenialReason::ScopeExceeded));
    g.scope = 99;
    q.scope = Some(Scope::Summary);
    assert_eq!(reason(&g, &q), Err(pb::DenialReason::ScopeExceeded));
}

#[test]
fn not_before_allows_exactly_the_clock_skew() {
    let mut g = grant();
    g.not_before_ms = NOW + SKEW_MS;
    assert_eq!(reason(&g, &Query::new()), Ok(()));
    g.not_before_ms = NOW + SKEW_MS + 1;
    assert_eq!(
        reason(&g, &Query::new()),
        Err(pb::DenialReason::NotYetValid)
    );
}

#[test]
fn not_after_allows_exactly_the_clock_skew() {
    let mut g = grant();
    g.not_before_ms = NOW - 10 * MS_PER_DAY;
    g.not_after_ms = NOW - SKEW_MS;
    assert_eq!(reason(&g, &Query::new()), Ok(()));
    g.not_after_ms = NOW - SKEW_MS - 1;
    assert_eq!(reason(&g, &Query::new()), Err(pb::DenialReason::Expired));
}

#[test]
fn zero_skew_is_strict_and_extreme_times_do_not_overflow() {
    let policy = HolderPolicy {
        clock_skew_seconds: 0,
        ..HolderPolicy::default()
    };
    let mut g = grant();
    g.not_before_ms = NOW + 1;
    assert_eq!(
        decide_with(&g, &Query::new(), false, &policy),
        Err(pb::DenialReason::NotYetValid)
    );
    g.not_before_ms = i64::MIN;
    g.not_after_ms = i64::MAX;
    // Valid in time, but far longer than policy allows.
    assert_eq!(
        decide_with(&g, &Query::new(), false, &policy),
        Err(pb::DenialReason::Policy)
    );
}

#[test]
fn a_revoked_grant_is_refused_after_the_window_checks() {
    assert_eq!(
        decide_with(&grant(), &Query::new(), true, &HolderPolicy::default()),
        Err(pb::DenialReason::Revoked)
    );
    let mut g = grant();
    g.not_after_ms = NOW - HOUR;
    g.not_before_ms = NOW - 2 * HOUR;
    assert_eq!(
        decide_with(&g, &Query::new(), true, &HolderPolicy::default()),
        Err(pb::DenialReason::Expired)
    );
}

#[test]
fn policy_allowed_institutions_apply_when_listed() {
    let mut policy = HolderPolicy {
        allowed_institutions: vec![inst("BANK-B")],
        ..HolderPolicy::default()
    };
    assert_eq!(
        decide_with(&grant(), &Query::new(), false, &policy),
        Err(pb::DenialReason::Policy)
    );
    policy.allowed_institutions.push(inst("BANK-A"));
    assert_eq!(decide_with(&grant(), &Query::new(), false, &policy), Ok(()));
}

#[test]
fn policy_allowed_purposes_apply() {
    let mut g = grant();
    g.purposes.push(pb::Purpose::LoanApproval as i32);
    let mut q = Query::new();
    q.purpose = Some(Purpose::LoanApproval);
    let policy = HolderPolicy {
        allowed_purposes: vec!["POST_LOAN_MANAGEMENT".into(), "not a purpose".into()],
        ..HolderPolicy::default()
    };
    assert_eq!(
        decide_with(&g, &q, false, &policy),
        Err(pb::DenialReason::Policy)
    );
    q.purpose = Some(Purpose::PostLoanManagement);
    assert_eq!(decide_with(&g, &q, false, &policy), Ok(()));
}

#[test]
fn policy_max_scope_applies() {
    let policy = HolderPolicy {
        max_scope: Scope::Summary,
        ..HolderPolicy::default()
    };
    let mut q = Query::new();
    assert_eq!(decide_with(&grant(), &q, false, &policy), Ok(()));
    q.scope = Some(Scope::Detail);
    let denial = decide(&grant(), &inst("BANK-A"), &q.ctx(), false, &policy).unwrap_err();
    assert_eq!(denial.reason, pb::DenialReason::Policy);
    assert!(denial.message.contains("scope"), "{}", denial.message);
}

#[test]
fn policy_max_validity_applies_to_the_granted_window() {
    let policy = HolderPolicy {
        max_validity_days: 30,
        ..HolderPolicy::default()
    };
    let mut g = grant();
    g.not_before_ms = NOW - HOUR;
    g.not_after_ms = g.not_before_ms + 30 * MS_PER_DAY;
    assert_eq!(decide_with(&g, &Query::new(), false, &policy), Ok(()));
    g.not_after_ms += 1;
    assert_eq!(
        decide_with(&g, &Query::new(), false, &policy),
        Err(pb::DenialReason::Policy)
    );
}

#[test]
fn an_inverted_window_is_refused() {
    let mut g = grant();
    g.not_before_ms = NOW + 1000;
    g.not_after_ms = NOW - 1000;
    // Within skew on both sides, so only the policy check catches it.
    assert_eq!(reason(&g, &Query::new()), Err(pb::DenialReason::Policy));
}

fn field_of(g: &pb::ConsentGrant) -> Result<(), &'static str> {
    validate_new_grant(g, NOW, &HolderPolicy::default()).map_err(|e| e.field)
}

#[test]
fn a_well_formed_new_grant_validates() {
    assert_eq!(field_of(&grant()), Ok(()));
}

#[test]
fn new_grant_field_errors_name_the_field() {
    let mut g = grant();
    g.borrower_key = vec![1; 31];
    assert_eq!(field_of(&g), Err("borrower_key"));

    let mut g = grant();
    g.authorization_sha256 = vec![];
    assert_eq!(field_of(&g), Err("authorization_sha256"));

    let mut g = grant();
    g.scope = pb::Scope::Unspecified as i32;
    assert_eq!(field_of(&g), Err("scope"));
    g.scope = 42;
    assert_eq!(field_of(&g), Err("scope"));
}

#[test]
fn new_grant_purposes_must_be_known_distinct_and_present() {
    let cases: [Vec<i32>; 4] = [
        vec![],
        vec![pb::Purpose::Unspecified as i32],
        vec![17],
        vec![1, 2, 1],
    ];
    for purposes in cases {
        let mut g = grant();
        g.purposes = purposes.clone();
        assert_eq!(field_of(&g), Err("purposes"), "{purposes:?}");
    }
    let mut g = grant();
    g.purposes = vec![1, 2, 3];
    assert_eq!(field_of(&g), Ok(()));
}

#[test]
fn new_grant_window_is_ordered_bounded_and_in_the_future() {
    let mut g = grant();
    g.not_after_ms = g.not_before_ms;
    assert_eq!(field_of(&g), Err("not_after_ms"));

    let mut g = grant();
    g.not_after_ms = g.not_before_ms + 366 * MS_PER_DAY;
    assert_eq!(field_of(&g), Ok(()));
    g.not_after_ms += 1;
    assert_eq!(field_of(&g), Err("not_after_ms"));

    let mut g = grant();
    g.not_before_ms = NOW - 2 * HOUR;
    g.not_after_ms = NOW;
    assert_eq!(field_of(&g), Err("not_after_ms"));
}

#[test]
fn consent_state_follows_the_window_and_revocation() {
    let g = grant();
    assert_eq!(consent_state(&g, false, NOW), pb::ConsentState::Active);
    assert_eq!(consent_state(&g, true, NOW), pb::ConsentState::Revoked);
    assert_eq!(
        consent_state(&g, false, g.not_before_ms - 1),
        pb::ConsentState::NotYetValid
    );
    assert_eq!(
        consent_state(&g, false, g.not_after_ms + 1),
        pb::ConsentState::Expired
    );
}

#[test]
fn consent_ids_carry_institution_time_and_randomness() {
    let id = new_consent_id(
        &inst("BANK-A"),
        36 * 36 + 35,
        [0xAB, 0, 1, 2, 3, 4, 5, 0xFF],
    );
    assert_eq!(id, "BANK-A-10Z-AB000102030405FF");
    assert_eq!(
        new_consent_id(&inst("B2"), -5, [0; 8]),
        "B2-0-0000000000000000"
    );
    let later = new_consent_id(&inst("BANK-A"), NOW, [0; 8]);
    assert!(later.starts_with("BANK-A-") && later.len() == "BANK-A-".len() + 8 + 1 + 16);
}
