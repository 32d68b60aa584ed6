//! Key formats of the one tree (see the table in `storage/mod.rs`).

/// Records: `R` ‖ borrower key ‖ kind ‖ record id ‖ 0x00 ‖ version BE.
pub const RECORD: u8 = b'R';
/// Log entries: `L` ‖ index BE.
pub const LOG_ENTRY: u8 = b'L';
/// Complete-subtree hashes: `H` ‖ level ‖ index BE.
pub const HASH: u8 = b'H';
/// Checkpoints: `C` ‖ tree size BE.
pub const CHECKPOINT: u8 = b'C';
/// Peer-query index: `Q` ‖ borrower key ‖ leaf index BE.
pub const QUERY_INDEX: u8 = b'Q';
/// Signer certificates of compact values: `K` ‖ certificate ref (8).
pub const CERTIFICATE: u8 = b'K';

pub fn record_prefix(borrower_key: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(RECORD);
    k.extend_from_slice(borrower_key);
    k
}

/// Prefix of every version of one record.
pub fn record_versions_prefix(borrower_key: &[u8; 32], kind: u8, record_id: &str) -> Vec<u8> {
    let mut k = record_prefix(borrower_key);
    k.push(kind);
    k.extend_from_slice(record_id.as_bytes());
    k.push(0);
    k
}

pub fn record_key(borrower_key: &[u8; 32], kind: u8, record_id: &str, version: u64) -> Vec<u8> {
    let mut k = record_versions_prefix(borrower_key, kind, record_id);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub fn indexed(prefix: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn hash_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = HASH;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn query_index_key(borrower_key: &[u8; 32], leaf: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(41);
    k.push(QUERY_INDEX);
    k.extend_from_slice(borrower_key);
    k.extend_from_slice(&leaf.to_be_bytes());
    k
}

/// Annotations: `N` ‖ borrower key ‖ annotation id.
pub const ANNOTATION: u8 = b'N';

/// Consent grants issued by this node: `G` ‖ consent id.
pub const GRANT: u8 = b'G';
/// Revocations (issued or received): `V` ‖ grantee ‖ 0x00 ‖ consent id.
pub const REVOCATION: u8 = b'V';
/// Revocation outbox: `O` ‖ peer ‖ 0x00 ‖ consent id.
pub const OUTBOX: u8 = b'O';
/// Peer logs this node witnesses: `W` ‖ institution.
pub const WITNESSED: u8 = b'W';

pub fn named(prefix: u8, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(prefix);
    k.extend_from_slice(name.as_bytes());
    k
}

/// `prefix` ‖ a ‖ 0x00 ‖ b.
pub fn pair(prefix: u8, a: &str, b: &str) -> Vec<u8> {
    let mut k = named(prefix, a);
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}
