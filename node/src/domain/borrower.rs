//! Borrower identifiers and the keyed hash that replaces them past the edge
//! (docs/design.md §3, docs/domain.md#borrower-identifiers).
//!
//! A raw identifier is personal data. It is validated and hashed where it
//! enters (the CLI or an import) and never stored, logged or sent. Hence no
//! `Debug`, `Display` or error message of this module prints one whole:
//! errors name a position and a character, `Debug` prints the kind and "…".

use std::fmt;
use std::str::FromStr;

use time::{Date, Month};
use unicode_normalization::UnicodeNormalization;

use super::dates::latest_date_anywhere;
#[cfg(test)]
use super::field::quote_unless_identifying;

/// Length of both USCC and RID.
pub const ID_LEN: usize = 18;
/// The 31 symbols of a USCC, in value order (no I, O, S, V, Z).
pub const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// `3^(i-1) mod 31` for positions 1..17.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// GB 11714 organisation-code weights (USCC positions 9..16).
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
/// ISO 7064 MOD 11-2 weights for RID positions 1..17.
const RID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// RID check character indexed by the weighted sum mod 11.
const RID_CHECK: &[u8; 11] = b"10X98765432";

/// Why an identifier or a borrower key is invalid. Messages never contain
/// the whole identifier, so they are safe to log and to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} must be 18 characters, found {found}")]
    Length { kind: &'static str, found: usize },
    #[error("{kind}: position {position}: {found:?} is not {expected}")]
    Character {
        kind: &'static str,
        position: usize,
        found: char,
        expected: &'static str,
    },
    #[error("{kind}: check character should be {expected:?}, found {found:?}")]
    CheckCharacter {
        kind: &'static str,
        expected: char,
        found: char,
    },
    #[error("USCC: organisation code check (position 17) should be {expected:?}, found {found:?}")]
    OrgCodeCheck { expected: char, found: char },
    #[error("RID: birth date {digits} is not a real date")]
    BirthDateInvalid { digits: String },
    #[error("RID: birth date {digits} is before 1900")]
    BirthDateTooEarly { digits: String },
    #[error("RID: birth date {digits} is in the future")]
    BirthDateInFuture { digits: String },
    #[error("unknown identifier kind {0} (expected USCC: or RID:)")]
    UnknownKind(String),
    #[error("borrower key must be 32 bytes, found {0}")]
    KeyLength(usize),
    #[error("borrower key must be 64 hex characters")]
    KeyHex,
}

/// Trims and upper-cases, as both standards prescribe.
fn normalize(s: &str) -> String {
    s.trim().to_uppercase()
}

/// Checks emptiness and length (in characters) of a normalized identifier.
fn check_length(kind: &'static str, id: &str) -> Result<(), IdError> {
    match id.chars().count() {
        0 => Err(IdError::Empty { kind }),
        ID_LEN => Ok(()),
        found => Err(IdError::Length { kind, found }),
    }
}

/// Value of a USCC symbol (0..=30), or `None` outside the alphabet.
pub fn uscc_value(c: char) -> Option<u32> {
    let b = u8::try_from(c).ok()?;
    USCC_ALPHABET.iter().position(|&a| a == b).map(|v| v as u32)
}

/// The USCC check character for the first 17 symbol values.
pub fn uscc_check_char(values: &[u32; 17]) -> char {
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    char::from(USCC_ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// The GB 11714 check character of an 8-character organisation-code body
/// (digits and upper-case letters, A=10…Z=35); `None` for other characters.
pub fn org_code_check_char(body: &[char; 8]) -> Option<char> {
    let mut sum = 0;
    for (c, w) in body.iter().zip(ORG_CODE_WEIGHTS) {
        sum += c.to_digit(36)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10)?,
    })
}

/// The RID check character for the first 17 digits.
pub fn rid_check_char(digits: &[u32; 17]) -> char {
    let sum: u32 = digits.iter().zip(RID_WEIGHTS).map(|(d, w)| d * w).sum();
    char::from(RID_CHECK[(sum % 11) as usize])
}

/// A unified social credit code (GB 32100-2015), validated and normalized.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

impl Uscc {
    /// Parses a USCC: 18 symbols of [`USCC_ALPHABET`], the check character
    /// at position 18 and the organisation-code check at position 17.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let id = normalize(s);
        check_length("USCC", &id)?;
        let chars: Vec<char> = id.chars().collect();
        let mut values = [0u32; 17];
        for (i, &c) in chars.iter().enumerate() {
            let value = uscc_value(c).ok_or(IdError::Character {
                kind: "USCC",
                position: i + 1,
                found: c,
                expected: "a USCC character",
            })?;
            if let Some(slot) = values.get_mut(i) {
                *slot = value;
            }
        }
        check_character("USCC", chars[17], uscc_check_char(&values))?;
        let mut body = ['0'; 8];
        body.copy_from_slice(&chars[8..16]);
        let org_expected = org_code_check_char(&body).unwrap_or('?');
        if chars[16] != org_expected {
            return Err(IdError::OrgCodeCheck {
                expected: org_expected,
                found: chars[16],
            });
        }
        Ok(Self(id))
    }

    /// The normalized code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check character (the 18th) must be `expected`.
fn check_character(kind: &'static str, found: char, expected: char) -> Result<(), IdError> {
    if found == expected {
        Ok(())
    } else {
        Err(IdError::CheckCharacter {
            kind,
            expected,
            found,
        })
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Uscc(…)")
    }
}

/// A resident identity number (GB 11643-1999), validated and normalized.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Rid(String);

impl Rid {
    /// Parses a RID whose birth date must not be after the latest calendar
    /// date anywhere on Earth (see [`latest_date_anywhere`]).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::parse_at(s, latest_date_anywhere())
    }

    /// Parses a RID: 17 digits and a check digit or X (ISO 7064 MOD 11-2),
    /// with a real birth date between 1900-01-01 and `today`.
    pub fn parse_at(s: &str, today: Date) -> Result<Self, IdError> {
        let id = normalize(s);
        check_length("RID", &id)?;
        let chars: Vec<char> = id.chars().collect();
        let mut digits = [0u32; 17];
        for (i, &c) in chars.iter().enumerate() {
            let is_check = i == ID_LEN - 1;
            if !(c.is_ascii_digit() || (is_check && c == 'X')) {
                return Err(IdError::Character {
                    kind: "RID",
                    position: i + 1,
                    found: c,
                    expected: if is_check { "a digit or X" } else { "a digit" },
                });
            }
            if let (Some(slot), Some(d)) = (digits.get_mut(i), c.to_digit(10)) {
                *slot = d;
            }
        }
        check_birth_date(&id[6..14], today)?;
        check_character("RID", chars[17], rid_check_char(&digits))?;
        Ok(Self(id))
    }

    /// The normalized number (upper-case X).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rid(…)")
    }
}

/// Checks the 8 birth-date digits (YYYYMMDD, already known to be digits).
fn check_birth_date(digits: &str, today: Date) -> Result<(), IdError> {
    let number = |range: std::ops::Range<usize>| digits[range].parse::<u16>().unwrap_or(0);
    let invalid = || IdError::BirthDateInvalid {
        digits: digits.to_owned(),
    };
    let month = Month::try_from(number(4..6) as u8).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(i32::from(number(0..4)), month, number(6..8) as u8)
        .map_err(|_| invalid())?;
    if date.year() < 1900 {
        return Err(IdError::BirthDateTooEarly {
            digits: digits.to_owned(),
        });
    }
    if date > today {
        return Err(IdError::BirthDateInFuture {
            digits: digits.to_owned(),
        });
    }
    Ok(())
}

/// A borrower's raw identifier: a legal person's USCC or a natural person's
/// RID. Exists only at the edge, until [`BorrowerKey::derive`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum BorrowerId {
    Uscc(Uscc),
    Rid(Rid),
}

impl BorrowerId {
    /// Parses `USCC:<code>`, `RID:<number>` (prefix in any case) or a bare
    /// value: 18 digits, or 17 digits and X, is a RID; anything else a USCC.
    /// An all-digit USCC therefore needs its `USCC:` prefix.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::parse_at(s, latest_date_anywhere())
    }

    /// [`BorrowerId::parse`] with an explicit latest birth date for RIDs.
    pub fn parse_at(s: &str, today: Date) -> Result<Self, IdError> {
        let s = s.trim();
        if let Some((prefix, value)) = s.split_once(':') {
            return match prefix.trim().to_ascii_uppercase().as_str() {
                "USCC" => Uscc::parse(value).map(Self::Uscc),
                "RID" => Rid::parse_at(value, today).map(Self::Rid),
                // A long prefix could be the identifier itself: don't echo it.
                other if other.chars().count() <= 8 => {
                    Err(IdError::UnknownKind(format!("{other:?}")))
                }
                _ => Err(IdError::UnknownKind("prefix".into())),
            };
        }
        if looks_like_rid(s) {
            Rid::parse_at(s, today).map(Self::Rid)
        } else {
            Uscc::parse(s).map(Self::Uscc)
        }
    }

    /// `"USCC"` or `"RID"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Uscc(_) => "USCC",
            Self::Rid(_) => "RID",
        }
    }

    /// The normalized identifier. Personal data: hash it, don't print it.
    pub fn normalized(&self) -> &str {
        match self {
            Self::Uscc(id) => id.as_str(),
            Self::Rid(id) => id.as_str(),
        }
    }
}

/// 18 digits, or 17 digits and a final X (either case).
fn looks_like_rid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == ID_LEN
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17].eq_ignore_ascii_case(&b'X'))
}

impl FromStr for BorrowerId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for BorrowerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BorrowerId({}:…)", self.kind())
    }
}

/// True if `text` contains a valid USCC or RID anywhere (case-insensitive),
/// e.g. in a free-text conclusion. Cost: O(len × 18).
pub fn contains_identifier(text: &str, today: Date) -> bool {
    let upper: Vec<char> = undisguised(text).to_uppercase().chars().collect();
    upper.windows(ID_LEN).any(|window| {
        if !window.iter().all(|&c| uscc_value(c).is_some()) {
            return false;
        }
        let candidate: String = window.iter().collect();
        Uscc::parse(&candidate).is_ok() || Rid::parse_at(&candidate, today).is_ok()
    })
}

/// `text` as an identifier hidden in it would read: its NFKC form (full-width
/// forms, the way identifiers are typed on a CJK keyboard, circled and
/// superscript digits, compatibility ligatures and the like become plain
/// ASCII), with spaces, dashes and zero-width characters then removed.
pub fn undisguised(text: &str) -> String {
    text.nfkc().filter(|&c| !is_separator(c)).collect()
}

/// Characters that may be slipped between an identifier's characters
/// without changing how it reads: white space, dashes, zero-width and
/// invisible formatting characters (after NFKC).
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}'
                | '\u{2212}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{180E}'
        )
}

mod generation;
mod keys;
pub use generation::{GenerationMismatch, KeyGeneration};
pub use keys::{
    BORROWER_KEY_CONTEXT, BorrowerKey, ConsortiumSecret, GENERATED_SECRET_LEN, MAX_SECRET_LEN,
    MIN_SECRET_LEN, SecretError, generate_secret_file,
};

#[cfg(test)]
mod tests;
