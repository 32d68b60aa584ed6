//! The JSON forms of records: decoded fields with code names, and a
//! verified record with its verification and its envelope in DSSE JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credshare_node::domain::codes::code_label;
use credshare_proto::v1 as pb;
use serde_json::{Value, json};

/// A credit summary, codes by name, amounts in minor units.
pub fn credit_json(c: &pb::CreditSummary) -> Value {
    json!({
        "facility_id": c.facility_id, "version": c.version, "institution": c.institution_id,
        "facility_type": code_label::<pb::FacilityType>(c.facility_type), "currency": c.currency,
        "contract_amount": c.contract_amount, "outstanding_balance": c.outstanding_balance,
        "open_date": c.open_date, "maturity_date": c.maturity_date,
        "guarantee_type": code_label::<pb::GuaranteeType>(c.guarantee_type),
        "risk_class": code_label::<pb::RiskClass>(c.risk_class),
        "overdue_principal": c.overdue_principal, "overdue_total": c.overdue_total, "overdue_days": c.overdue_days,
        "account_status": code_label::<pb::AccountStatus>(c.account_status), "as_of_date": c.as_of_date,
    })
}

/// A visit summary, codes by name.
pub fn visit_json(v: &pb::VisitSummary) -> Value {
    json!({
        "visit_id": v.visit_id, "version": v.version, "institution": v.institution_id, "facility_id": v.facility_id,
        "visit_date": v.visit_date, "visit_type": code_label::<pb::VisitType>(v.visit_type),
        "channel": code_label::<pb::VisitChannel>(v.channel), "fund_usage": code_label::<pb::FundUsage>(v.fund_usage),
        "operations": code_label::<pb::OperationsStatus>(v.operations),
        "project_progress": code_label::<pb::ProjectProgress>(v.project_progress),
        "collateral": code_label::<pb::CollateralStatus>(v.collateral),
        "guarantor": code_label::<pb::GuarantorStatus>(v.guarantor),
        "warning_signals": v.warning_signals.iter().map(|s| code_label::<pb::WarningSignal>(*s)).collect::<Vec<_>>(),
        "proposed_risk_class": code_label::<pb::RiskClass>(v.proposed_risk_class),
        "action_taken": code_label::<pb::ActionTaken>(v.action_taken), "conclusion": v.conclusion,
    })
}

/// A record of a DETAIL answer: `kind`, the decoded `record`, its
/// `verification` and the `envelope` as received, in DSSE JSON.
pub fn verified_json(r: &pb::VerifiedRecord) -> Value {
    let (kind, record) = match &r.record {
        Some(pb::verified_record::Record::Credit(c)) => ("credit", credit_json(c)),
        Some(pb::verified_record::Record::Visit(v)) => ("visit", visit_json(v)),
        None => ("unknown", Value::Null),
    };
    json!({
        "kind": kind,
        "record": record,
        "verification": {
            "status": "VERIFIED",
            "signer_institution": r.signer_institution,
            "signer_key_id": r.signer_key_id,
        },
        "envelope": r.envelope.as_ref().map(dsse_json),
    })
}

/// An envelope in DSSE's JSON form (base64 payload and signatures), with
/// credshare's certificate and signing time per signature.
pub fn dsse_json(env: &pb::SignedEnvelope) -> Value {
    json!({
        "payloadType": env.payload_type,
        "payload": STANDARD.encode(&env.payload),
        "signatures": env.signatures.iter().map(|s| json!({
            "keyid": s.keyid,
            "sig": STANDARD.encode(&s.sig),
            "certificate": STANDARD.encode(&s.certificate),
            "signed_at_ms": s.signed_at_ms,
        })).collect::<Vec<_>>(),
    })
}
