//! Tests of record-file reading: formats, columns, row errors, hashing.
#![allow(clippy::unwrap_used)]

use time::macros::date;

use super::*;
use credshare_node::domain::borrower::{BorrowerKey, KeyGeneration};

const USCC: &str = "91350100M000100Y43";
const RID: &str = "11010519491231002X";

fn ctx() -> ImportContext {
    ImportContext {
        institution: InstitutionId::parse("BANK-A").unwrap(),
        keys: RowKeys::Hmac(ConsortiumSecret::from_bytes(&[5; 32]).unwrap()),
        today: date!(2026 - 01 - 15),
    }
}

fn key_of(id: &str) -> Vec<u8> {
    let id = BorrowerId::parse(id).unwrap();
    ctx().keys.key(&id).unwrap().as_bytes().to_vec()
}

const CREDIT_HEADER: &str = "borrower_id,facility_id,version,facility_type,currency,contract_amount,outstanding_balance,open_date,maturity_date,guarantee_type,risk_class,overdue_principal,overdue_total,overdue_days,account_status,as_of_date";

fn credit_line(id: &str, facility: &str, risk: &str, overdue_days: u32) -> String {
    let (principal, total, status) = if overdue_days > 0 {
        (1_000, 1_500, "OVERDUE")
    } else {
        (0, 0, "ACTIVE")
    };
    format!(
        "{id},{facility},1,WORKING_CAPITAL,CNY,500000000,320000000,2024-03-01,2027-03-01,MORTGAGE,{risk},{principal},{total},{overdue_days},{status},2026-01-15"
    )
}

fn read(format: FileFormat, kind: RecordKind, text: &str) -> Vec<Result<ParsedRow, RowError>> {
    RecordReader::from_reader(text.as_bytes(), format, kind, ctx())
        .unwrap()
        .collect()
}

/// Reads credit CSV rows under the standard header.
fn read_credit_csv(lines: &[String]) -> Vec<Result<ParsedRow, RowError>> {
    let text = [&[CREDIT_HEADER.to_owned()], lines].concat().join("\n");
    read(FileFormat::Csv, RecordKind::Credit, &text)
}

fn open_err(format: FileFormat, kind: RecordKind, text: &str) -> RowsError {
    match RecordReader::from_reader(text.as_bytes(), format, kind, ctx()) {
        Ok(_) => panic!("header should be refused"),
        Err(e) => e,
    }
}

fn credit_of(row: &ParsedRow) -> &pb::CreditSummary {
    match &row.record.record {
        Some(pb::record_input::Record::Credit(c)) => c,
        other => panic!("not a credit record: {other:?}"),
    }
}

fn visit_of(row: &ParsedRow) -> &pb::VisitSummary {
    match &row.record.record {
        Some(pb::record_input::Record::Visit(v)) => v,
        other => panic!("not a visit record: {other:?}"),
    }
}

#[test]
fn csv_credit_rows_are_hashed_stamped_and_numbered() {
    let rows = read_credit_csv(&[
        credit_line(&format!("USCC:{USCC}"), "LN-1", "NORMAL", 0),
        credit_line(&format!("rid:{}", RID.to_lowercase()), "LN-2", "normal", 0),
    ]);
    assert_eq!(rows.len(), 2);
    let first = rows[0].as_ref().unwrap();
    let second = rows[1].as_ref().unwrap();
    assert_eq!((first.row, second.row), (1, 2));
    let credit = credit_of(first);
    assert_eq!(credit.institution_id, "BANK-A");
    assert_eq!(credit.borrower_key, key_of(USCC));
    assert_eq!(credit.risk_class, pb::RiskClass::Normal as i32);
    assert_eq!(credit.contract_amount, 500_000_000);
    assert_eq!(
        credit_of(second).borrower_key,
        key_of(&format!("RID:{RID}"))
    );
    let import: pb::ImportRow = second.clone().into();
    assert_eq!(import.row_number, 2);
}

#[test]
fn row_errors_name_row_and_field_and_reading_goes_on() {
    let rows = read_credit_csv(&[
        credit_line(USCC, "LN-1", "NORMAL", 0),
        credit_line(USCC, "LN-2", "BEST", 0),
        credit_line(USCC, "LN-3", "NORMAL", 95),
        credit_line(RID, "LN-4", "SUBSTANDARD", 95),
    ]);
    assert!(rows[0].is_ok());
    let err = rows[1].as_ref().unwrap_err();
    assert_eq!((err.row, err.field.as_str()), (2, "risk_class"));
    assert!(
        err.reason.contains("allowed: NORMAL, SPECIAL_MENTION"),
        "{err}"
    );
    let err = rows[2].as_ref().unwrap_err();
    assert_eq!((err.row, err.field.as_str()), (3, "risk_class"));
    assert!(
        err.to_string()
            .starts_with("row 3: risk_class: risk class NORMAL is better")
    );
    assert_eq!(rows[3].as_ref().unwrap().row, 4);
}

#[test]
fn bad_identifiers_are_reported_without_the_identifier() {
    let bad_uscc = "91350100M000100Y44";
    let bad_rid = "110105194912310021";
    let rows = read_credit_csv(&[
        credit_line(bad_uscc, "LN-1", "NORMAL", 0),
        credit_line(&format!("RID:{bad_rid}"), "LN-2", "NORMAL", 0),
        credit_line("", "LN-3", "NORMAL", 0),
    ]);
    for (row, raw) in rows.iter().zip([bad_uscc, bad_rid, "-"]) {
        let err = row.as_ref().unwrap_err();
        assert_eq!(err.field, "borrower_id");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(raw), "{shown}");
    }
    assert_eq!(rows[2].as_ref().unwrap_err().reason, "is empty");
}

#[test]
fn nothing_a_reader_yields_contains_a_raw_identifier() {
    for row in read_credit_csv(&[
        credit_line(USCC, "LN-1", "NORMAL", 0),
        credit_line(RID, "LN-2", "LOSS", 400),
        credit_line(USCC, "LN-3", "91350100M000100Y43", 0),
        credit_line(RID, "LN-4", "NORMAL", 0).replace("500000000", RID),
    ]) {
        let shown = format!("{row:?}");
        assert!(!shown.contains(USCC) && !shown.contains(RID), "{shown}");
    }
}

#[test]
fn amounts_must_be_integers_in_minor_units() {
    let line = credit_line(USCC, "LN-1", "NORMAL", 0).replace("500000000", "\"5,000,000.00\"");
    let rows = read(
        FileFormat::Csv,
        RecordKind::Credit,
        &format!("{CREDIT_HEADER}\n{line}"),
    );
    let err = rows[0].as_ref().unwrap_err();
    assert_eq!(err.field, "contract_amount");
    assert!(err.reason.contains("minor units"), "{err}");
}

#[test]
fn csv_headers_unknown_missing_and_duplicate_columns() {
    let err = open_err(
        FileFormat::Csv,
        RecordKind::Credit,
        &format!("{CREDIT_HEADER},branch\n"),
    );
    assert!(
        err.to_string().starts_with("unknown columns: \"branch\""),
        "{err}"
    );
    let without = CREDIT_HEADER.replace(",currency", "");
    let err = open_err(FileFormat::Csv, RecordKind::Credit, &without);
    assert_eq!(err.to_string(), "missing columns: currency");
    let err = open_err(
        FileFormat::Csv,
        RecordKind::Credit,
        &format!("{CREDIT_HEADER},version"),
    );
    assert_eq!(err.to_string(), "column \"version\" appears twice");
    let err = open_err(FileFormat::Csv, RecordKind::Credit, "");
    assert!(matches!(err, RowsError::MissingColumns(_)), "{err}");
    // Visits may leave out the optional columns.
    let visit_header = VISIT_COLUMNS
        .iter()
        .filter(|c| !OPTIONAL_COLUMNS.contains(c))
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        RecordReader::from_reader(
            visit_header.as_bytes(),
            FileFormat::Csv,
            RecordKind::Visit,
            ctx()
        )
        .is_ok()
    );
}

#[test]
fn a_file_without_header_row_does_not_leak_the_identifier() {
    let text = credit_line(USCC, "LN-1", "NORMAL", 0);
    let err = open_err(FileFormat::Csv, RecordKind::Credit, &text);
    assert!(err.to_string().starts_with("unknown columns"), "{err}");
    assert!(!err.to_string().contains(USCC), "{err}");
}

#[test]
fn csv_structural_errors_are_row_errors() {
    let text = format!(
        "{CREDIT_HEADER}\n{USCC},LN-1,1\n{}",
        credit_line(USCC, "LN-2", "NORMAL", 0)
    );
    let rows = read(FileFormat::Csv, RecordKind::Credit, &text);
    let err = rows[0].as_ref().unwrap_err();
    assert_eq!((err.row, err.field.as_str()), (1, ""));
    assert_eq!(err.to_string(), "row 1: has 3 fields; the header has 16");
    assert_eq!(rows[1].as_ref().unwrap().row, 2);
    // GBK-encoded text (Excel's default in China) is not UTF-8.
    let mut bytes = format!("{CREDIT_HEADER}\n").into_bytes();
    bytes.extend(
        credit_line(USCC, "LN-1", "NORMAL", 0)
            .replace("LN-1", "LN-\u{1}")
            .into_bytes(),
    );
    let position = bytes.iter().rposition(|&b| b == 1).unwrap();
    bytes.splice(position..=position, [0xB4, 0xFB]);
    let rows: Vec<_> =
        RecordReader::from_reader(&bytes[..], FileFormat::Csv, RecordKind::Credit, ctx())
            .unwrap()
            .collect();
    let err = rows[0].as_ref().unwrap_err();
    assert!(
        err.reason.contains("facility_id is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn csv_bom_and_spaces_are_tolerated() {
    let text = format!(
        "\u{feff}{}\n{}",
        CREDIT_HEADER.replace(',', " , "),
        credit_line(USCC, "LN-1", "NORMAL", 0).replace(',', ", ")
    );
    let rows = read(FileFormat::Csv, RecordKind::Credit, &text);
    assert!(rows[0].is_ok(), "{:?}", rows[0]);
}

fn visit_json(extra: &str) -> String {
    format!(
        r#"{{"borrower_id":"USCC:{USCC}","visit_id":"V-1","version":1,"facility_id":"LN-1","visit_date":"2026-01-10","visit_type":"FOCUSED","channel":"ONSITE","fund_usage":"AS_AGREED","operations":"DECLINING","project_progress":"NOT_APPLICABLE","collateral":"INTACT","guarantor":"NORMAL","proposed_risk_class":"SPECIAL_MENTION","action_taken":"ESCALATED"{extra}}}"#
    )
}

#[test]
fn jsonl_visits_with_signal_arrays_strings_and_blank_lines() {
    let text = [
        visit_json(
            r#","warning_signals":["FIN_DETERIORATION","LITIGATION"],"conclusion":"销售下降""#,
        ),
        String::new(),
        visit_json(r#","warning_signals":"FUND_DIVERSION; ARREARS_OTHERS","conclusion":null"#),
        visit_json(""),
    ]
    .join("\n");
    let rows = read(FileFormat::Jsonl, RecordKind::Visit, &text);
    assert_eq!(rows.len(), 3);
    let first = rows[0].as_ref().unwrap();
    let visit = visit_of(first);
    assert_eq!(visit.warning_signals, [1, 6]);
    assert_eq!(visit.conclusion, "销售下降");
    assert_eq!(visit.borrower_key, key_of(USCC));
    let third = rows[1].as_ref().unwrap();
    assert_eq!(third.row, 3, "blank lines count as lines");
    assert_eq!(visit_of(third).warning_signals, [2, 3]);
    assert!(
        visit_of(rows[2].as_ref().unwrap())
            .warning_signals
            .is_empty()
    );
}

#[test]
fn csv_visits_split_signals() {
    let header = VISIT_COLUMNS.join(",");
    let line = format!(
        "RID:{RID},V-9,2,LN-1,2026-01-10,ROUTINE,PHONE,AS_AGREED,NORMAL,ON_TRACK,INTACT,NORMAL,INDUSTRY_POLICY;;RATING_DOWNGRADE,NORMAL,NONE,\"Sector under policy review, monitoring.\""
    );
    let rows = read(
        FileFormat::Csv,
        RecordKind::Visit,
        &format!("{header}\n{line}"),
    );
    let visit = visit_of(rows[0].as_ref().unwrap());
    assert_eq!(visit.warning_signals, [14, 13]);
    assert_eq!(visit.version, 2);
    let dup = line.replace(";;RATING_DOWNGRADE", ";INDUSTRY_POLICY");
    let rows = read(
        FileFormat::Csv,
        RecordKind::Visit,
        &format!("{header}\n{dup}"),
    );
    assert_eq!(rows[0].as_ref().unwrap_err().field, "warning_signals");
}

#[test]
fn jsonl_row_errors() {
    let cases = [
        (
            visit_json(r#","branch":"X""#),
            "",
            "unknown columns: \"branch\"",
        ),
        (
            visit_json("").replace(r#""channel":"ONSITE","#, ""),
            "channel",
            "is missing",
        ),
        (
            visit_json(r#","warning_signals":[1]"#),
            "warning_signals",
            "must be a list of signal codes",
        ),
        (
            visit_json("").replace(r#""version":1"#, r#""version":true"#),
            "version",
            "must be a string or a number",
        ),
        (
            visit_json("").replace(r#""version":1"#, r#""version":1.5"#),
            "version",
            "\"1.5\" is not a whole number",
        ),
        ("{\"borrower_id\": ".to_owned(), "", "is not valid JSON"),
        ("[1,2]".to_owned(), "", "is not a JSON object"),
        (
            visit_json(r#","conclusion":"see 91350100M000100Y43""#),
            "conclusion",
            "must not contain identifiers",
        ),
    ];
    for (line, field, reason) in cases {
        let rows = read(FileFormat::Jsonl, RecordKind::Visit, &line);
        let err = rows[0].as_ref().unwrap_err();
        assert_eq!((err.row, err.field.as_str()), (1, field), "{err}");
        assert!(err.reason.starts_with(reason), "{err}");
    }
}

#[test]
fn jsonl_over_long_lines_are_skipped() {
    let long = format!(
        "{{\"conclusion\":\"{}\"}}",
        "x".repeat(source::MAX_LINE_BYTES)
    );
    let text = format!("{long}\n{}\n", visit_json(""));
    let rows = read(FileFormat::Jsonl, RecordKind::Visit, &text);
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0]
            .as_ref()
            .unwrap_err()
            .reason
            .starts_with("is longer than")
    );
    assert_eq!(rows[1].as_ref().unwrap().row, 2);
}

#[test]
fn formats_follow_the_extension_and_files_open() {
    assert_eq!(
        FileFormat::from_path(Path::new("a/credit.CSV")).unwrap(),
        FileFormat::Csv
    );
    assert_eq!(
        FileFormat::from_path(Path::new("v.ndjson")).unwrap(),
        FileFormat::Jsonl
    );
    assert!(FileFormat::from_path(Path::new("credit.xlsx")).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("visits.jsonl");
    std::fs::write(&path, visit_json("")).unwrap();
    let rows: Vec<_> = RecordReader::open(&path, RecordKind::Visit, ctx())
        .unwrap()
        .collect();
    assert!(rows[0].is_ok());
    assert!(matches!(
        RecordReader::open(&dir.path().join("none.csv"), RecordKind::Visit, ctx()),
        Err(RowsError::Open { .. })
    ));
}

#[test]
fn a_huge_csv_field_is_refused_naming_its_row() {
    let header = "facility_id,version\n";
    let mut text = String::from(header);
    text.push_str("F-1,1\n");
    text.push_str("F-2,");
    text.push_str(&"9".repeat(3 * super::source::MAX_LINE_BYTES));
    text.push('\n');
    let reader = std::io::Cursor::new(text.into_bytes());
    let mut source = super::source::Source::csv(reader, &["facility_id", "version"]).unwrap();
    assert!(source.next_row().unwrap().is_ok());
    let err = source.next_row().unwrap().err().unwrap();
    assert_eq!(err.row, 2);
    assert!(err.reason.contains("longer than"), "{}", err.reason);
    assert!(source.next_row().is_none(), "reading stops");
}

#[test]
fn evaluated_keys_stamp_their_generation_and_an_id_without_one_is_rejected() {
    let x = BorrowerId::parse(&format!("USCC:{USCC}")).unwrap();
    let keys = RowKeys::Evaluated {
        generation: KeyGeneration::FIRST_OPRF,
        keys: [(
            x.normalized().to_owned(),
            BorrowerKey::from_slice(&[1; 32]).unwrap(),
        )]
        .into(),
    };
    let ctx = ImportContext { keys, ..ctx() };
    let text = [
        CREDIT_HEADER.to_owned(),
        credit_line(&format!("USCC:{USCC}"), "LN-1", "NORMAL", 0),
        credit_line(&format!("RID:{RID}"), "LN-2", "NORMAL", 0),
    ]
    .join("\n");
    let rows: Vec<_> =
        RecordReader::from_reader(text.as_bytes(), FileFormat::Csv, RecordKind::Credit, ctx)
            .unwrap()
            .collect();
    let credit = credit_of(rows[0].as_ref().unwrap());
    assert_eq!(
        (credit.borrower_key.as_slice(), credit.key_generation),
        ([1u8; 32].as_slice(), 2)
    );
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.reason.as_str()),
        ("borrower_id", "no key was evaluated for this id")
    );
    // Generation 1 is written as 0: the record's bytes are those from
    // before generations existed.
    let rows = read_credit_csv(&[credit_line(&format!("USCC:{USCC}"), "LN-1", "NORMAL", 0)]);
    assert_eq!(credit_of(rows[0].as_ref().unwrap()).key_generation, 0);
}

#[test]
fn distinct_ids_lists_each_valid_id_once_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credit.csv");
    let text = [
        CREDIT_HEADER.to_owned(),
        credit_line(&format!("RID:{RID}"), "LN-1", "NORMAL", 0),
        credit_line(&format!("USCC:{USCC}"), "LN-2", "NORMAL", 0),
        credit_line(
            &format!("uscc:{}", USCC.to_lowercase()),
            "LN-3",
            "NORMAL",
            0,
        ),
        credit_line("USCC:91350100M000100Y44", "LN-4", "NORMAL", 0),
    ]
    .join("\n");
    std::fs::write(&path, text).unwrap();
    let ids = distinct_ids(&path, RecordKind::Credit).unwrap();
    let normalized: Vec<&str> = ids.iter().map(|i| i.normalized()).collect();
    assert_eq!(normalized, [RID, USCC]);
}
