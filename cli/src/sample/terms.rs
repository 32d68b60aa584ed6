//! The contract terms of a generated facility: type, term, currency and
//! amount, and security. Plausible rather than calibrated: CNY amounts
//! spread over three orders of magnitude, trade finance more often in USD.

use credshare_proto::v1 as pb;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use super::pick;

pub(super) fn facility_type(rng: &mut StdRng, individual: bool) -> pb::FacilityType {
    use pb::FacilityType as F;
    if individual {
        pick(
            rng,
            &[
                (F::WorkingCapital, 60),
                (F::RevolvingLine, 25),
                (F::Overdraft, 15),
            ],
        )
    } else {
        pick(
            rng,
            &[
                (F::WorkingCapital, 40),
                (F::FixedAsset, 12),
                (F::Project, 6),
                (F::TradeFinance, 10),
                (F::Discount, 5),
                (F::Acceptance, 8),
                (F::LetterOfCredit, 4),
                (F::Guarantee, 4),
                (F::Overdraft, 3),
                (F::RevolvingLine, 8),
            ],
        )
    }
}

pub(super) fn term_months(rng: &mut StdRng, kind: pb::FacilityType) -> u32 {
    use pb::FacilityType as F;
    let terms: &[u32] = match kind {
        F::FixedAsset => &[36, 60, 84, 120],
        F::Project => &[60, 96, 120, 180],
        F::TradeFinance | F::LetterOfCredit => &[3, 6],
        F::Discount | F::Acceptance => &[6],
        F::Guarantee => &[12, 24, 36],
        F::RevolvingLine => &[12, 24, 36],
        _ => &[6, 12, 12, 12, 24, 36],
    };
    terms.choose(rng).copied().unwrap_or(12)
}

/// Currency and contract amount in minor units: log-uniform in yuan,
/// mostly CNY, trade finance more often in USD.
pub(super) fn amount(
    rng: &mut StdRng,
    individual: bool,
    kind: pb::FacilityType,
) -> (&'static str, i64) {
    let (low, high, step) = if individual {
        (5e4_f64, 3e6_f64, 1e3)
    } else {
        (3e5, 3e8, 1e4)
    };
    let yuan = (rng.random_range(low.ln()..high.ln())).exp();
    let foreign = matches!(
        kind,
        pb::FacilityType::TradeFinance | pb::FacilityType::LetterOfCredit
    );
    let usd_weight = if foreign { 40 } else { 4 };
    let (currency, per_yuan) = pick(
        rng,
        &[
            (("CNY", 1.0), 100 - usd_weight - 2),
            (("USD", 1.0 / 7.1), usd_weight),
            (("EUR", 1.0 / 7.8), 1),
            (("HKD", 1.0 / 0.91), 1),
        ],
    );
    let units = ((yuan * per_yuan / step).round() * step).max(step);
    (currency, (units * 100.0) as i64)
}

pub(super) fn guarantee(rng: &mut StdRng, individual: bool) -> pb::GuaranteeType {
    use pb::GuaranteeType as G;
    if individual {
        pick(
            rng,
            &[(G::Credit, 40), (G::Guaranteed, 20), (G::Mortgage, 40)],
        )
    } else {
        pick(
            rng,
            &[
                (G::Credit, 20),
                (G::Guaranteed, 30),
                (G::Mortgage, 30),
                (G::Pledge, 10),
                (G::Combined, 10),
            ],
        )
    }
}
