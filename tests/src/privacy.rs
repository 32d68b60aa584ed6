//! The privacy scan of the end-to-end tests: no raw borrower id (the 18
//! characters after its kind) in any file below a directory — data
//! directories, node logs. Fixtures panic on failure: it is the test's
//! failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;

/// Every raw borrower id (the first CSV column, without its kind prefix).
pub fn raw_ids(csv: &Path) -> HashSet<String> {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let id = &r[0];
            id.split_once(':').map_or(id, |(_, v)| v).to_string()
        })
        .collect()
}

/// Finds any id of `ids` (18 characters of [0-9A-Z]) in the files below `dir`.
pub fn find_ids_in(dir: &Path, ids: &HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            // Only runs of id characters can hold an id: check their windows.
            let mut run_start = 0;
            for i in 0..=bytes.len() {
                let in_run =
                    i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i].is_ascii_uppercase());
                if in_run {
                    continue;
                }
                if i - run_start >= 18 {
                    for w in bytes[run_start..i].windows(18) {
                        let s = std::str::from_utf8(w).unwrap();
                        if ids.contains(s) {
                            found.push(format!("{}: {s}", path.display()));
                        }
                    }
                }
                run_start = i + 1;
            }
        }
    }
    found
}
