//! How the rows of a record file get their borrower keys: hashed row by
//! row with the consortium secret (generation 1), or looked up in a table
//! of keys evaluated beforehand in batches (generation 2+, blinded
//! evaluation: [`distinct_ids`] lists what to evaluate).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use credshare_node::domain::borrower::{BorrowerId, BorrowerKey, ConsortiumSecret, KeyGeneration};

use super::source::Source;
use super::{FileFormat, RecordKind, RowsError};

/// The borrower keys of an import.
#[derive(Debug, Clone)]
pub enum RowKeys {
    /// Generation 1: HMAC under the consortium secret, per row.
    Hmac(ConsortiumSecret),
    /// Generation 2+: keys evaluated before the import, by normalized id.
    Evaluated {
        generation: KeyGeneration,
        keys: HashMap<String, BorrowerKey>,
    },
    /// Generation 2+ in a dry run: nothing is evaluated (the key service
    /// is not asked), every row gets the all-zero key and is only validated.
    DryRun(KeyGeneration),
}

impl RowKeys {
    /// The key of `id`; `None` if an evaluated table lacks it.
    pub fn key(&self, id: &BorrowerId) -> Option<BorrowerKey> {
        match self {
            RowKeys::Hmac(secret) => Some(BorrowerKey::derive(secret, id)),
            RowKeys::Evaluated { keys, .. } => keys.get(id.normalized()).copied(),
            RowKeys::DryRun(_) => BorrowerKey::from_slice(&[0; BorrowerKey::LEN]).ok(),
        }
    }

    /// The generation of these keys.
    pub fn generation(&self) -> KeyGeneration {
        match self {
            RowKeys::Hmac(_) => KeyGeneration::HMAC,
            RowKeys::Evaluated { generation, .. } | RowKeys::DryRun(generation) => *generation,
        }
    }
}

/// The distinct valid borrower ids of a record file, in first-seen order.
/// Rows whose id is missing or invalid are skipped here: the import
/// itself rejects them with the reason. The ids stay in this process.
pub fn distinct_ids(path: &Path, kind: RecordKind) -> Result<Vec<BorrowerId>, RowsError> {
    let today = super::business_zone().today();
    let format = FileFormat::from_path(path)?;
    let file = File::open(path).map_err(|source| RowsError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut source = match format {
        FileFormat::Csv => Source::csv(file, kind.columns())?,
        FileFormat::Jsonl => Source::jsonl(BufReader::new(file), kind.columns()),
    };
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    while let Some(row) = source.next_row() {
        let Ok((_, cells)) = row else { continue };
        let Ok(raw) = cells.text("borrower_id") else {
            continue;
        };
        if let Ok(id) = BorrowerId::parse_at(raw, today)
            && seen.insert(id.normalized().to_owned())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
