//! Valid borrower identifiers for generated borrowers: a USCC or a RID
//! whose digits spell the borrower's number, so distinct numbers give
//! distinct identifiers.

use credshare_node::domain::borrower::{
    USCC_ALPHABET, org_code_check_char, rid_check_char, uscc_check_char, uscc_value,
};
use rand::Rng;
use rand::rngs::StdRng;
use time::Date;

/// Region codes (prefecture level) used for both identifier kinds.
const REGIONS: &[&str] = &[
    "110105", "110108", "120101", "130100", "210200", "310104", "310115", "320100", "320500",
    "330100", "330200", "340100", "350100", "350200", "360100", "370100", "370200", "410100",
    "420100", "430100", "440100", "440300", "441900", "450100", "500103", "510100", "530100",
    "610100", "620100", "650100",
];

/// A valid USCC whose symbols 11–16 spell `n` in base 31.
pub(crate) fn uscc(rng: &mut StdRng, n: u64) -> String {
    let head = match rng.random_range(0..100) {
        0..90 => "91",
        90..94 => "92",
        94..97 => "12",
        _ => "52",
    };
    let region = REGIONS[rng.random_range(0..REGIONS.len())];
    let mut code: Vec<char> = format!("{head}{region}MA").chars().collect();
    let mut rest = n;
    let mut digits = ['0'; 6];
    // Least significant first, so consecutive numbers differ up front.
    for slot in digits.iter_mut() {
        *slot = char::from(USCC_ALPHABET[(rest % 31) as usize]);
        rest /= 31;
    }
    code.extend(digits);
    let mut body = ['0'; 8];
    body.copy_from_slice(&code[8..16]);
    code.push(org_code_check_char(&body).unwrap_or('0'));
    let mut values = [0u32; 17];
    for (value, c) in values.iter_mut().zip(&code) {
        *value = uscc_value(*c).unwrap_or(0);
    }
    code.push(uscc_check_char(&values));
    code.into_iter().collect()
}

/// First and last birth dates of generated individuals.
const BIRTH_FIRST: Date = time::macros::date!(1955 - 01 - 01);
const BIRTH_DAYS: u64 = 17_896; // through 2003-12-31

/// A valid RID derived from `n`: region, birth date and sequence.
pub(crate) fn rid(n: u64) -> String {
    let regions = REGIONS.len() as u64;
    let region = REGIONS[(n % regions) as usize];
    let birth = BIRTH_FIRST + time::Duration::days(((n / regions) % BIRTH_DAYS) as i64);
    let sequence = (n / (regions * BIRTH_DAYS)) % 1000;
    let first17 = format!(
        "{region}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let mut digits = [0u32; 17];
    for (d, c) in digits.iter_mut().zip(first17.chars()) {
        *d = c.to_digit(10).unwrap_or(0);
    }
    format!("{first17}{}", rid_check_char(&digits))
}
