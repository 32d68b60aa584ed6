//! What a node's operator (or a dishonest node with its own signing key)
//! can do to a stopped node's data directory: copy it, rebuild the log's
//! hashes after editing entries, and sign a new head with the node's own
//! signer key. Tests use it to forge histories the node, its witnesses and
//! auditors must catch.

use std::path::Path;

use credshare_node::audit::{Checkpoint, RightEdge, leaf_hash};
use credshare_node::signing::Signer;
use credshare_proto::v1 as pb;
use prost::Message;

/// Copies every file under `from` into `to` (a node's data directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Rewrites every complete-subtree hash (`H` keys) from the log entries
/// (`L` keys) as they now stand; returns the tree's right edge.
pub fn rehash(tree: &sled::Tree) -> RightEdge {
    let mut edge = RightEdge::empty();
    for item in tree.scan_prefix([b'L']) {
        let (_, bytes) = item.unwrap();
        for (level, index, hash) in edge.append(leaf_hash(&bytes)) {
            let mut key = vec![b'H', level];
            key.extend_from_slice(&index.to_be_bytes());
            tree.insert(key, &hash[..]).unwrap();
        }
    }
    edge
}

/// Signs the tree's head with the node's own signer key (from `certs`),
/// dated now, and stores it as the checkpoint at `edge`'s size.
pub fn sign_head(tree: &sled::Tree, certs: &Path, origin: &str, edge: &RightEdge) {
    let signer = Signer::load(&certs.join("signer.crt"), &certs.join("signer.key")).unwrap();
    let checkpoint = Checkpoint {
        origin: origin.into(),
        size: edge.size(),
        root: edge.root(),
        // A careful forger dates the note now, inside its certificate's life.
        timestamp_ms: Some(crate::now_ms()),
        extensions: Vec::new(),
    };
    let stored = pb::GetCheckpointResponse {
        checkpoint: Some(pb::Checkpoint {
            signed_note: checkpoint.sign(origin, signer.key_pair()),
        }),
        signer_certificate: signer.certificate_der().to_vec(),
    };
    let mut key = vec![b'C'];
    key.extend_from_slice(&edge.size().to_be_bytes());
    tree.insert(key, stored.encode_to_vec()).unwrap();
}
