//! What an officer records on a visit, consistent field by field: the
//! warning signals come from the borrower's story up to the facility's
//! severity, and every other field follows from them — funds DIVERTED
//! exactly when FUND_DIVERSION is recorded, operations HALTED exactly with
//! STOP_PRODUCTION, collateral other than INTACT exactly with
//! COLLATERAL_RISK, a guarantor other than NORMAL exactly with
//! GUARANTOR_RISK — and the conclusion is written from the fields, so it
//! never says more than they do (and never holds an identifier).

use credshare_proto::v1 as pb;

use pb::WarningSignal as S;

/// How bad things look: 0 fine, 1 special mention, 2 substandard,
/// 3 doubtful or loss.
pub(super) type Severity = usize;

/// The severity of a facility of `class`.
pub(super) fn severity(class: pb::RiskClass) -> Severity {
    match class {
        pb::RiskClass::SpecialMention => 1,
        pb::RiskClass::Substandard => 2,
        pb::RiskClass::Doubtful | pb::RiskClass::Loss => 3,
        _ => 0,
    }
}

/// What the facility is and how its officer writes, fixed per facility
/// so that consecutive visits agree.
#[derive(Debug, Clone, Copy)]
pub(super) struct Traits {
    pub collateral: bool,
    pub guarantor: bool,
    pub project: bool,
    /// Conclusions in Chinese rather than English.
    pub chinese: bool,
    /// Serious trouble half-stops production (else sales decline).
    pub semi_halted: bool,
    /// Collateral at risk is disputed (else it lost value).
    pub disputed: bool,
    /// A guarantor at risk is in litigation (else weakened).
    pub guarantor_sued: bool,
}

/// The findings fields of one visit.
#[derive(Debug, Clone)]
pub(super) struct Findings {
    pub fund_usage: pb::FundUsage,
    pub operations: pb::OperationsStatus,
    pub progress: pb::ProjectProgress,
    pub collateral: pb::CollateralStatus,
    pub guarantor: pb::GuarantorStatus,
    pub signals: Vec<pb::WarningSignal>,
}

impl Findings {
    /// The fields that go with `signals` at `severity`, seen through
    /// `channel` (a call cannot verify how funds were used).
    pub(super) fn new(
        severity: Severity,
        signals: Vec<pb::WarningSignal>,
        channel: pb::VisitChannel,
        traits: Traits,
    ) -> Self {
        use pb::{CollateralStatus as C, FundUsage as U, GuarantorStatus as G};
        use pb::{OperationsStatus as O, ProjectProgress as P};
        let has = |s: S| signals.contains(&s);
        let remote = matches!(
            channel,
            pb::VisitChannel::Phone | pb::VisitChannel::SelfService
        );
        let fund_usage = if has(S::FundDiversion) {
            U::Diverted
        } else if remote || has(S::NonCooperation) {
            U::Unverified
        } else if has(S::AccountAnomaly) {
            U::PartialDeviation
        } else {
            U::AsAgreed
        };
        let operations = match severity {
            _ if has(S::StopProduction) => O::Halted,
            2.. if traits.semi_halted => O::SemiHalted,
            1.. => O::Declining,
            _ => O::Normal,
        };
        let progress = match operations {
            _ if !traits.project => P::NotApplicable,
            O::Halted | O::SemiHalted => P::Stalled,
            O::Declining => P::Delayed,
            _ => P::OnTrack,
        };
        let collateral = match severity {
            _ if !has(S::CollateralRisk) => C::Intact,
            3.. if has(S::Litigation) => C::Seized,
            _ if traits.disputed => C::Disputed,
            _ => C::Depreciated,
        };
        let guarantor = match severity {
            _ if !has(S::GuarantorRisk) => G::Normal,
            3.. => G::Insolvent,
            _ if traits.guarantor_sued => G::Litigation,
            _ => G::Weakened,
        };
        Findings {
            fund_usage,
            operations,
            progress,
            collateral,
            guarantor,
            signals,
        }
    }
}

/// English and Chinese versions of a phrase.
type Phrase = (&'static str, &'static str);

fn operations_phrase(o: pb::OperationsStatus) -> Phrase {
    use pb::OperationsStatus as O;
    match o {
        O::Declining => ("Sales and cash flow declining", "销售和现金流下滑"),
        O::SemiHalted => ("Production partly suspended", "开工不足"),
        O::Halted => ("Production halted", "企业已停产"),
        _ => ("Operations normal", "经营正常"),
    }
}

fn fund_phrase(u: pb::FundUsage) -> Phrase {
    use pb::FundUsage as U;
    match u {
        U::PartialDeviation => (
            "part of the funds used outside the agreed purpose",
            "部分资金偏离约定用途",
        ),
        U::Diverted => (
            "loan funds diverted from the agreed purpose",
            "贷款资金被挪用",
        ),
        U::Unverified => ("fund usage not verified", "资金用途未核实"),
        _ => ("funds used as agreed", "资金按约定用途使用"),
    }
}

/// A note for each signal the two opening clauses do not already say.
fn signal_note(signal: pb::WarningSignal, f: &Findings) -> Option<Phrase> {
    use pb::{CollateralStatus as C, GuarantorStatus as G};
    Some(match signal {
        S::FinDeterioration => ("Financial statements weaker.", "财务指标恶化。"),
        S::ArrearsOthers => ("Arrears with other lenders.", "在他行出现欠款。"),
        S::UnpaidTaxWages => ("Taxes and wages in arrears.", "拖欠税款和工资。"),
        S::Litigation => ("Lawsuits pending against the borrower.", "借款人涉及诉讼。"),
        S::MgmtEvent => ("Key manager has left.", "主要管理人员变动。"),
        S::OwnershipChange => ("Ownership has changed.", "股权发生变更。"),
        S::AccountAnomaly => (
            "Account flows do not match the business.",
            "账户资金流向与经营不符。",
        ),
        S::NonCooperation => ("Borrower slow to provide documents.", "借款人配合度下降。"),
        S::RatingDowngrade => ("Internal rating downgraded.", "内部评级下调。"),
        S::IndustryPolicy => ("Industry policy tightened.", "行业政策收紧。"),
        S::CollateralRisk => match f.collateral {
            C::Seized => ("Collateral seized by court order.", "抵押物被法院查封。"),
            C::Disputed => ("Collateral ownership disputed.", "抵押物权属存在争议。"),
            C::Lost => ("Collateral lost.", "抵押物灭失。"),
            _ => ("Collateral value has fallen.", "抵押物价值下降。"),
        },
        S::GuarantorRisk => match f.guarantor {
            G::Insolvent => ("Guarantor unable to pay.", "担保人无力代偿。"),
            G::Litigation => ("Guarantor in litigation.", "担保人涉诉。"),
            _ => ("Guarantor's finances weakened.", "担保人财务状况恶化。"),
        },
        // Said by the opening clauses (funds diverted, production halted).
        S::FundDiversion | S::StopProduction | S::Unspecified => return None,
    })
}

fn progress_note(p: pb::ProjectProgress) -> Option<Phrase> {
    use pb::ProjectProgress as P;
    match p {
        P::OnTrack => Some(("Project on schedule.", "项目按计划推进。")),
        P::Delayed => Some(("Project behind schedule.", "项目进度滞后。")),
        P::Stalled => Some(("Project stalled.", "项目停滞。")),
        _ => None,
    }
}

fn action_note(a: pb::ActionTaken, severity: Severity) -> Phrase {
    use pb::ActionTaken as A;
    match a {
        A::Escalated => ("Escalated to risk management.", "已上报风险管理部门。"),
        A::ExtraCollateral => ("Additional security requested.", "已要求追加担保。"),
        A::EarlyRecall => ("Early recall started.", "已启动提前收贷。"),
        A::Restructure => ("Loan restructured.", "已办理贷款重组。"),
        _ if severity > 0 => ("Monitoring continues.", "继续跟踪监测。"),
        _ => ("No anomalies found.", "未发现异常。"),
    }
}

/// The conclusion: operations and fund usage, a note per other signal,
/// project progress, then what was done. Written only from the fields.
pub(super) fn conclusion(
    f: &Findings,
    action: pb::ActionTaken,
    severity: Severity,
    chinese: bool,
) -> String {
    let lang = |p: Phrase| if chinese { p.1 } else { p.0 };
    let (ops, funds) = (
        lang(operations_phrase(f.operations)),
        lang(fund_phrase(f.fund_usage)),
    );
    let mut text = if chinese {
        format!("{ops}，{funds}。")
    } else {
        format!("{ops}; {funds}.")
    };
    let notes = (f.signals.iter())
        .filter_map(|s| signal_note(*s, f))
        .chain(progress_note(f.progress))
        .chain([action_note(action, severity)]);
    for note in notes {
        if !chinese {
            text.push(' ');
        }
        text.push_str(lang(note));
    }
    text
}
