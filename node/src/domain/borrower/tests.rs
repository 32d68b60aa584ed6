//! Tests of identifier parsing, borrower keys and the consortium secret.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use time::macros::date;

use super::*;

const USCC: &str = "91350100M000100Y43";
const RID: &str = "11010519491231002X";
const TODAY: Date = date!(2026 - 01 - 15);

/// A USCC whose position-18 check is right for any first 17 symbols.
fn with_uscc_check(first17: &str) -> String {
    let mut values = [0u32; 17];
    for (slot, c) in values.iter_mut().zip(first17.chars()) {
        *slot = uscc_value(c).unwrap();
    }
    format!("{first17}{}", uscc_check_char(&values))
}

/// A RID whose check character is right for any first 17 digits.
fn with_rid_check(first17: &str) -> String {
    let mut digits = [0u32; 17];
    for (slot, c) in digits.iter_mut().zip(first17.chars()) {
        *slot = c.to_digit(10).unwrap();
    }
    format!("{first17}{}", rid_check_char(&digits))
}

#[test]
fn domain_examples_are_valid() {
    assert_eq!(Uscc::parse(USCC).unwrap().as_str(), USCC);
    assert_eq!(Rid::parse_at(RID, TODAY).unwrap().as_str(), RID);
    assert_eq!(with_uscc_check(&USCC[..17]), USCC);
    assert_eq!(with_rid_check(&RID[..17]), RID);
}

#[test]
fn identifiers_are_trimmed_and_upper_cased() {
    let uscc = Uscc::parse("  91350100m000100y43\n").unwrap();
    assert_eq!(uscc.as_str(), USCC);
    let rid = Rid::parse_at(" 11010519491231002x ", TODAY).unwrap();
    assert_eq!(rid.as_str(), RID);
}

#[test]
fn uscc_errors_name_position_and_character() {
    let err = Uscc::parse("91350100O000100Y43").unwrap_err();
    assert_eq!(
        err.to_string(),
        "USCC: position 9: 'O' is not a USCC character"
    );
    let err = Uscc::parse("91350100M000100Y44").unwrap_err();
    assert_eq!(
        err.to_string(),
        "USCC: check character should be '3', found '4'"
    );
    assert_eq!(
        Uscc::parse("").unwrap_err(),
        IdError::Empty { kind: "USCC" }
    );
    let err = Uscc::parse("91350100M000100Y4").unwrap_err();
    assert_eq!(err.to_string(), "USCC must be 18 characters, found 17");
}

#[test]
fn uscc_organisation_code_check_is_enforced() {
    // Position 18 is right, but position 17 breaks the GB 11714 check.
    let bad = with_uscc_check("91350100M000100Y5");
    let err = Uscc::parse(&bad).unwrap_err();
    assert_eq!(
        err,
        IdError::OrgCodeCheck {
            expected: '4',
            found: '5'
        }
    );
    // Check value 10 is written X, 11 is written 0.
    assert_eq!(
        org_code_check_char(&['0', '0', '0', '0', '0', '0', '0', '1']),
        Some('9')
    );
    let x = ['0', '0', '0', '0', '0', '0', '0', '5'];
    assert_eq!(org_code_check_char(&x), Some('1'));
    assert_eq!(org_code_check_char(&['0'; 8]), Some('0'));
    assert_eq!(
        org_code_check_char(&['0', '0', '0', '0', '0', '0', '0', '6']),
        Some('X')
    );
}

#[test]
fn rid_checksum_and_characters() {
    let err = Rid::parse_at("110105194912310021", TODAY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RID: check character should be 'X', found '1'"
    );
    let err = Rid::parse_at("11010519491231A02X", TODAY).unwrap_err();
    assert_eq!(err.to_string(), "RID: position 15: 'A' is not a digit");
    let err = Rid::parse_at("11010519491231002Y", TODAY).unwrap_err();
    assert_eq!(err.to_string(), "RID: position 18: 'Y' is not a digit or X");
    let err = Rid::parse_at("1101051949123100", TODAY).unwrap_err();
    assert_eq!(err.to_string(), "RID must be 18 characters, found 16");
}

#[test]
fn rid_birth_date_must_be_real_and_not_in_the_future() {
    let err = Rid::parse_at(&with_rid_check("11010519491331002"), TODAY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RID: birth date 19491331 is not a real date"
    );
    let err = Rid::parse_at(&with_rid_check("11010520230229002"), TODAY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RID: birth date 20230229 is not a real date"
    );
    assert!(Rid::parse_at(&with_rid_check("11010520240229002"), TODAY).is_ok());
    let err = Rid::parse_at(&with_rid_check("11010520260116002"), TODAY).unwrap_err();
    assert_eq!(err.to_string(), "RID: birth date 20260116 is in the future");
    assert!(Rid::parse_at(&with_rid_check("11010520260115002"), TODAY).is_ok());
    let err = Rid::parse_at(&with_rid_check("11010518991231002"), TODAY).unwrap_err();
    assert!(matches!(err, IdError::BirthDateTooEarly { .. }));
}

#[test]
fn borrower_id_prefixes_and_bare_detection() {
    let id = BorrowerId::parse_at("USCC:91350100M000100Y43", TODAY).unwrap();
    assert_eq!((id.kind(), id.normalized()), ("USCC", USCC));
    let id = BorrowerId::parse_at("rid: 11010519491231002x", TODAY).unwrap();
    assert_eq!((id.kind(), id.normalized()), ("RID", RID));
    assert_eq!(BorrowerId::parse_at(USCC, TODAY).unwrap().kind(), "USCC");
    assert_eq!(BorrowerId::parse_at(RID, TODAY).unwrap().kind(), "RID");
    assert_eq!(BorrowerId::parse(RID).unwrap().kind(), "RID");
    let id: BorrowerId = "USCC:91350100M000100Y43".parse().unwrap();
    assert_eq!(id.kind(), "USCC");
    // A bad bare RID is reported as a RID, not as a strange USCC.
    let err = BorrowerId::parse_at("110105194912310021", TODAY).unwrap_err();
    assert!(err.to_string().starts_with("RID"), "{err}");
    let err = BorrowerId::parse_at("TAX:123", TODAY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown identifier kind \"TAX\" (expected USCC: or RID:)"
    );
}

#[test]
fn debug_never_prints_the_identifier() {
    let uscc = BorrowerId::parse_at(USCC, TODAY).unwrap();
    let rid = BorrowerId::parse_at(RID, TODAY).unwrap();
    assert_eq!(format!("{uscc:?}"), "BorrowerId(USCC:…)");
    assert_eq!(format!("{rid:?}"), "BorrowerId(RID:…)");
    let BorrowerId::Uscc(inner) = &uscc else {
        panic!()
    };
    assert_eq!(format!("{inner:?}"), "Uscc(…)");
    let BorrowerId::Rid(inner) = &rid else {
        panic!()
    };
    assert_eq!(format!("{inner:?}"), "Rid(…)");
}

#[test]
fn errors_never_contain_the_identifier() {
    let mut inputs = vec![
        "USCC:11010519491231002X".to_owned(),
        "RID:91350100M000100Y43".to_owned(),
        format!("{USCC}:x"),
        format!("{RID}:{RID}"),
        format!("{USCC}0"),
        format!("{RID}0"),
    ];
    // Every single-character corruption of both examples.
    for valid in [USCC, RID] {
        for i in 0..valid.len() {
            for c in ['0', '7', 'X', 'O', 'a', '-'] {
                let mut s = valid.to_owned();
                s.replace_range(i..=i, &c.to_string());
                inputs.push(s);
            }
        }
    }
    for input in &inputs {
        let Err(err) = BorrowerId::parse_at(input, TODAY) else {
            continue;
        };
        let shown = format!("{err} {err:?}").to_uppercase();
        for part in input.split(':').filter(|p| p.len() >= 12) {
            assert!(!shown.contains(&part.trim().to_uppercase()), "{shown}");
        }
    }
}

#[test]
fn finds_identifiers_inside_text() {
    assert!(contains_identifier(&format!("called {USCC} today"), TODAY));
    assert!(contains_identifier(
        &format!("证件号{}，已核实", RID.to_lowercase()),
        TODAY
    ));
    assert!(contains_identifier(&format!("ref{RID}9"), TODAY));
    assert!(!contains_identifier(
        "Sales down 30% in 2025Q3; requested statements.",
        TODAY
    ));
    assert!(!contains_identifier("91350100M000100Y44", TODAY));
    assert!(!contains_identifier("", TODAY));
}

#[test]
fn quoting_withholds_identifier_like_values() {
    assert_eq!(quote_unless_identifying("NORMALL"), "\"NORMALL\"");
    assert_eq!(
        quote_unless_identifying(USCC),
        "a value of 18 characters (not shown)"
    );
    assert!(!quote_unless_identifying(&format!("x {RID} y")).contains(RID));
}

fn secret(byte: u8) -> ConsortiumSecret {
    ConsortiumSecret::from_bytes(&[byte; 32]).unwrap()
}

#[test]
fn borrower_key_matches_a_known_answer() {
    let secret = ConsortiumSecret::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    let uscc = BorrowerId::parse_at(USCC, TODAY).unwrap();
    let rid = BorrowerId::parse_at(RID, TODAY).unwrap();
    // Computed independently: HMAC-SHA256(key, "credshare/borrower/v1\0USCC:…").
    assert_eq!(
        BorrowerKey::derive(&secret, &uscc).to_string(),
        "7287b8172da9237ffad77384cf6ab92c4b9a280aaaac4fea012096bb1a591818"
    );
    assert_eq!(
        BorrowerKey::derive(&secret, &rid).to_string(),
        "cb3ab78d4cebd1342c049040cf1aaf59c57b8890ca24abad9068ed6fdddc50cd"
    );
}

#[test]
fn borrower_key_is_deterministic_and_differs_by_kind_and_secret() {
    let id = BorrowerId::parse_at(" rid:11010519491231002x", TODAY).unwrap();
    let same = BorrowerId::parse_at(RID, TODAY).unwrap();
    assert_eq!(
        BorrowerKey::derive(&secret(1), &id),
        BorrowerKey::derive(&secret(1), &same)
    );
    assert_ne!(
        BorrowerKey::derive(&secret(1), &id),
        BorrowerKey::derive(&secret(2), &id)
    );
    let as_uscc = BorrowerId::Uscc(Uscc(RID.to_owned()));
    assert_ne!(
        BorrowerKey::derive(&secret(1), &id),
        BorrowerKey::derive(&secret(1), &as_uscc)
    );
}

#[test]
fn borrower_key_bytes_hex_and_short_form() {
    let key = BorrowerKey::derive(&secret(7), &BorrowerId::parse_at(USCC, TODAY).unwrap());
    assert_eq!(BorrowerKey::from_slice(key.as_bytes()), Ok(key));
    assert_eq!(
        BorrowerKey::from_slice(&[0; 31]),
        Err(IdError::KeyLength(31))
    );
    assert_eq!(
        BorrowerKey::from_slice(&[0; 33]),
        Err(IdError::KeyLength(33))
    );
    let hex = key.to_string();
    assert_eq!(hex.len(), 64);
    assert_eq!(hex.parse::<BorrowerKey>(), Ok(key));
    assert_eq!(BorrowerKey::from_hex(&hex[..62]), Err(IdError::KeyHex));
    assert_eq!(key.short(), hex[..8]);
    assert_eq!(format!("{key:?}"), format!("BorrowerKey({hex})"));
}

#[test]
fn secrets_must_be_long_enough_and_are_never_printed() {
    assert!(matches!(
        ConsortiumSecret::from_bytes(&[1; 31]),
        Err(SecretError::TooShort { len: 31, .. })
    ));
    assert!(matches!(
        ConsortiumSecret::from_bytes(&vec![1; MAX_SECRET_LEN + 1]),
        Err(SecretError::TooLong { .. })
    ));
    let shown = format!(
        "{:?}",
        ConsortiumSecret::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap()
    );
    assert_eq!(shown, "ConsortiumSecret(…)");
}

#[test]
fn generated_secret_file_is_private_new_and_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consortium.secret");
    generate_secret_file(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), GENERATED_SECRET_LEN as u64);
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        generate_secret_file(&path),
        Err(SecretError::Create { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "must not overwrite");
    let loaded = ConsortiumSecret::from_file(&path).unwrap();
    let again = ConsortiumSecret::from_bytes(&before).unwrap();
    let id = BorrowerId::parse_at(USCC, TODAY).unwrap();
    assert_eq!(
        BorrowerKey::derive(&loaded, &id),
        BorrowerKey::derive(&again, &id)
    );
}

#[test]
fn short_secret_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short");
    std::fs::write(&path, [9u8; 16]).unwrap();
    let err = ConsortiumSecret::from_file(&path).unwrap_err();
    assert!(
        err.to_string().contains("holds 16 bytes; at least 32"),
        "{err}"
    );
    assert!(matches!(
        ConsortiumSecret::from_file(&dir.path().join("missing")),
        Err(SecretError::Read { .. })
    ));
}

#[test]
fn endless_secret_files_are_refused_without_reading_them_whole() {
    let err = ConsortiumSecret::from_file(Path::new("/dev/zero")).unwrap_err();
    assert!(matches!(err, SecretError::TooLong { .. }), "{err}");
}

#[test]
fn nfkc_only_forms_of_identifiers_are_found() {
    // Superscript and mathematical bold digits, circled capitals.
    let uscc = "⁹¹³⁵⁰¹⁰⁰Ⓜ𝟎𝟎𝟎𝟏𝟎𝟎Ⓨ⁴³";
    // Circled numbers of one and two digits, a Roman numeral ten.
    let rid = "⑪⓪①⓪⑤⑲④⑨⑫㉛⓪⓪②Ⅹ";
    assert_eq!(undisguised(uscc), USCC);
    assert_eq!(undisguised(rid), RID);
    for disguised in [uscc, rid] {
        assert!(
            contains_identifier(&format!("see {disguised}, checked"), TODAY),
            "{disguised}"
        );
    }
    // NFKC first, then the separators it leaves: a no-break space, a
    // full-width hyphen-minus (NFKC: '-'), a word joiner, a soft hyphen.
    let spaced = "⁹¹³⁵\u{00A0}⁰¹⁰⁰－Ⓜ𝟎𝟎\u{2060}𝟎𝟏𝟎𝟎\u{00AD}Ⓨ⁴³";
    assert!(contains_identifier(spaced, TODAY), "{spaced}");
    // Compatibility ligatures read as their letters.
    assert_eq!(undisguised("ﬁle ﬂow ①Ａ"), "fileflow1A");
    // A wrong check character stays no identifier in any form.
    assert!(!contains_identifier("⁹¹³⁵⁰¹⁰⁰Ⓜ𝟎𝟎𝟎𝟏𝟎𝟎Ⓨ⁴⁴", TODAY));
    assert!(!contains_identifier("①②③④⑤ ⑥⑦⑧⑨", TODAY));
}
