"""Independent verifiers for credshare's signed and hashed structures.

Written from docs/protocol.md and the RFCs alone (no credshare code):

* RFC 6962 / RFC 9162 Merkle tree hashes, inclusion proofs (RFC 9162
  §2.1.3.2) and consistency proofs (RFC 9162 §2.1.4.2);
* C2SP signed notes carrying C2SP tlog checkpoints, Ed25519 key ids;
* C2SP tlog-cosignature cosignature/v1 lines (witness cosignatures);
* DSSE envelopes (PAE, key id = SHA-256 of the signer certificate DER);
* consortium certificates (chain to the CA, validity, CRL, SAN URI role).

Only `cryptography` and the standard library are used here. Every check
raises `VerificationError` with a message that says what disagreed.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

EKU_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
BORROWER_KEY_CONTEXT = b"credshare/borrower/v1\x00"


class VerificationError(AssertionError):
    """A signed or hashed structure did not verify."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --------------------------------------------------------------------------
# Borrower keys (docs/design.md §3)
# --------------------------------------------------------------------------


def _looks_like_rid(value: str) -> bool:
    return (
        len(value) == 18
        and value[:17].isascii()
        and value[:17].isdigit()
        and (value[17].isdigit() or value[17] in "xX")
    )


def borrower_key(secret: bytes, borrower_id: str) -> bytes:
    """HMAC-SHA256(secret, "credshare/borrower/v1\\0" || kind || ":" || id).

    `borrower_id` is `USCC:<18>` / `RID:<18>` or a bare value (18 digits,
    or 17 digits and X, is a RID; anything else a USCC). The normalized id
    is trimmed and upper-cased. Checksums are not validated here.
    """
    value = borrower_id.strip()
    if ":" in value:
        kind, value = value.split(":", 1)
        kind = kind.strip().upper()
        if kind not in ("USCC", "RID"):
            raise ValueError(f"unknown borrower id kind {kind!r}")
    else:
        kind = "RID" if _looks_like_rid(value) else "USCC"
    normalized = value.strip().upper()
    message = BORROWER_KEY_CONTEXT + kind.encode() + b":" + normalized.encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


# --------------------------------------------------------------------------
# RFC 6962 / RFC 9162 Merkle trees
# --------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def merkle_root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1 over leaf hashes, without recursion.

    Folding a stack of perfect subtrees (as a log appends) gives the same
    root as the recursive definition's split at the largest power of two.
    """
    if not leaves:
        return sha256(b"")
    # stack of (height, hash) of perfect subtrees, left to right
    stack: list[tuple[int, bytes]] = []
    for leaf in leaves:
        height, h = 0, leaf
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            h = node_hash(left, h)
            height += 1
        stack.append((height, h))
    # Merge the remaining (strictly decreasing) subtrees right to left.
    _, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = node_hash(left, root)
    return root


def merkle_root_recursive(leaves: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it; a cross-check of the above."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(
        merkle_root_recursive(leaves[:k]), merkle_root_recursive(leaves[k:])
    )


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: `leaf` (a leaf hash) is at `index` in the tree of
    `size` leaves whose root is `root`."""
    if index >= size:
        raise VerificationError(f"inclusion: leaf index {index} >= tree size {size}")
    for i, p in enumerate(proof):
        if len(p) != 32:
            raise VerificationError(f"inclusion: proof hash {i} has {len(p)} bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion: proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(
            f"inclusion: proof of {len(proof)} hashes is too short for index {index} of {size}"
        )
    if r != root:
        raise VerificationError(
            f"inclusion: computed root {r.hex()} != expected root {root.hex()} "
            f"(index {index}, size {size})"
        )


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `new_size` leaves (root `new_root`)
    extends the tree of `old_size` leaves (root `old_root`)."""
    if old_size > new_size:
        raise VerificationError(f"consistency: old size {old_size} > new size {new_size}")
    for i, p in enumerate(proof):
        if len(p) != 32:
            raise VerificationError(f"consistency: proof hash {i} has {len(p)} bytes")
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency: equal sizes need an empty proof")
        if old_root != new_root:
            raise VerificationError("consistency: equal sizes but different roots")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("consistency: from the empty tree needs an empty proof")
        return
    if not proof:
        raise VerificationError("consistency: empty proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency: proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency: proof is too short")
    if fr != old_root:
        raise VerificationError(
            f"consistency: computed old root {fr.hex()} != {old_root.hex()} ({old_size} -> {new_size})"
        )
    if sr != new_root:
        raise VerificationError(
            f"consistency: computed new root {sr.hex()} != {new_root.hex()} ({old_size} -> {new_size})"
        )


# --------------------------------------------------------------------------
# C2SP signed notes and tlog checkpoints
# --------------------------------------------------------------------------

NOTE_SIG_PREFIX = "\u2014 "  # em dash, space


def note_key_id(key_name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key id of an Ed25519 key: SHA-256(name || 0x0A ||
    0x01 || public key)[:4]."""
    return sha256(key_name.encode() + b"\n" + b"\x01" + public_key)[:4]


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: list[str]
    body: bytes
    note: str
    key_name: str = ""
    key_id: bytes = b""
    signature: bytes = b""
    timestamp_ms: int | None = None
    # every signature line: (key name, key id, signature)
    signatures: list[tuple[str, bytes, bytes]] = field(default_factory=list)


def parse_checkpoint_note(note: str) -> Checkpoint:
    """Splits a C2SP signed note into its checkpoint body and signature
    lines, and parses the body (origin, size, base64 root, extensions)."""
    if not note.endswith("\n"):
        raise VerificationError("note: does not end with a newline")
    sep = note.find("\n\n")
    if sep < 0:
        raise VerificationError("note: no blank line between body and signatures")
    body = note[: sep + 1]
    sig_text = note[sep + 2 :]
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError(f"checkpoint: body has {len(lines)} lines, at least 3 needed")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise VerificationError("checkpoint: empty origin")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise VerificationError(f"checkpoint: tree size {size_text!r} is not a decimal")
    try:
        root = base64.b64decode(root_text, validate=True)
    except Exception as e:  # noqa: BLE001
        raise VerificationError(f"checkpoint: root {root_text!r} is not base64: {e}") from e
    if len(root) != 32:
        raise VerificationError(f"checkpoint: root hash has {len(root)} bytes")
    cp = Checkpoint(
        origin=origin,
        size=int(size_text),
        root=root,
        extensions=extensions,
        body=body.encode(),
        note=note,
    )
    for ext in extensions:
        if ext.startswith("Timestamp: "):
            cp.timestamp_ms = int(ext[len("Timestamp: ") :])
    cp_sigs = [s for s in sig_text.split("\n") if s]
    if not cp_sigs:
        raise VerificationError("note: no signature lines")
    parsed = []
    for line in cp_sigs:
        if not line.startswith(NOTE_SIG_PREFIX):
            raise VerificationError(f"note: signature line {line!r} does not start with an em dash")
        rest = line[len(NOTE_SIG_PREFIX) :]
        name, _, b64 = rest.rpartition(" ")
        raw = base64.b64decode(b64, validate=True)
        if len(raw) < 5:
            raise VerificationError(f"note: signature of {name!r} too short")
        parsed.append((name, raw[:4], raw[4:]))
    cp.key_name, cp.key_id, cp.signature = parsed[0]
    cp.signatures = parsed
    return cp


def verify_checkpoint_note(
    note: str, public_key: ed25519.Ed25519PublicKey, key_name: str
) -> Checkpoint:
    """Parses the note and verifies the signature of `key_name` with
    `public_key` (key id must match; Ed25519 over the body bytes)."""
    cp = parse_checkpoint_note(note)
    raw_pub = public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    want_id = note_key_id(key_name, raw_pub)
    for name, key_id, sig in cp.signatures:
        if name == key_name and key_id == want_id:
            if len(sig) != 64:
                raise VerificationError(f"note: Ed25519 signature has {len(sig)} bytes")
            try:
                public_key.verify(sig, cp.body)
            except InvalidSignature as e:
                raise VerificationError(
                    f"note: Ed25519 signature of {key_name!r} does not verify over the body"
                ) from e
            cp.key_name, cp.key_id, cp.signature = name, key_id, sig
            return cp
    seen = [(n, k.hex()) for n, k, _ in cp.signatures]
    raise VerificationError(
        f"note: no signature by {key_name!r} with key id {want_id.hex()}; signatures: {seen}"
    )


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """C2SP tlog-cosignature key id of an Ed25519 cosigner (cosignature/v1):
    SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    return sha256(name.encode() + b"\n" + b"\x04" + public_key)[:4]


def verify_cosignature(note: str, public_key: ed25519.Ed25519PublicKey) -> tuple[str, int]:
    """Finds the cosignature/v1 line of `public_key` on a signed checkpoint
    note and verifies it (C2SP tlog-cosignature): the signature is
    key id (4) || timestamp (u64 big-endian, POSIX seconds) || Ed25519 (64)
    over "cosignature/v1\ntime <timestamp>\n" + the whole note body.
    Returns (cosigner name, timestamp)."""
    cp = parse_checkpoint_note(note)
    raw_pub = public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    found = [
        (name, sig)
        for name, key_id, sig in cp.signatures
        if key_id == cosigner_key_id(name, raw_pub)
    ]
    if len(found) != 1:
        raise VerificationError(f"cosignature: {len(found)} lines of this key, expected 1")
    name, sig = found[0]
    if len(sig) != 8 + 64:
        raise VerificationError(f"cosignature: {len(sig)} bytes after the key id, expected 72")
    timestamp = int.from_bytes(sig[:8], "big")
    message = b"cosignature/v1\n" + f"time {timestamp}\n".encode() + cp.body
    try:
        public_key.verify(sig[8:], message)
    except InvalidSignature as e:
        raise VerificationError(f"cosignature of {name!r} does not verify") from e
    return name, timestamp


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


def load_pem_cert(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def san_uris(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.UniformResourceIdentifier)


@dataclass
class CertCheck:
    ca: x509.Certificate
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)

    def verify_signer(
        self,
        der: bytes,
        institution: str,
        now: _dt.datetime | None = None,
    ) -> ed25519.Ed25519PublicKey:
        """A signer certificate (docs/protocol.md §4 step 3): directly issued
        by the CA (signature, issuer), within validity, not on a CRL, one SAN
        URI `urn:credshare:signer:<institution>`, digitalSignature +
        nonRepudiation, EKU documentSigning only, Ed25519 key. Returns the
        key."""
        if not der:
            raise VerificationError("signer certificate missing")
        cert = x509.load_der_x509_certificate(der)
        self.verify_chain(cert, now)
        uris = san_uris(cert)
        want = f"urn:credshare:signer:{institution}"
        if uris != [want]:
            raise VerificationError(f"signer certificate SAN URIs {uris}, expected [{want!r}]")
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature and ku.content_commitment):
            raise VerificationError(
                "signer certificate lacks digitalSignature + nonRepudiation key usage"
            )
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ekus = list(eku)
        if ekus != [EKU_DOCUMENT_SIGNING]:
            raise VerificationError(
                f"signer certificate EKUs {[o.dotted_string for o in ekus]}, expected documentSigning only"
            )
        key = cert.public_key()
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise VerificationError(f"signer key is {type(key).__name__}, expected Ed25519")
        return key

    def verify_chain(self, cert: x509.Certificate, now: _dt.datetime | None = None) -> None:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        try:
            cert.verify_directly_issued_by(self.ca)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise VerificationError(
                f"certificate {cert.subject.rfc4514_string()} is not issued by the CA: {e!r}"
            ) from e
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            raise VerificationError(
                f"certificate {cert.subject.rfc4514_string()} not valid now "
                f"({cert.not_valid_before_utc} .. {cert.not_valid_after_utc})"
            )
        for crl in self.crls:
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                raise VerificationError(
                    f"certificate serial {cert.serial_number:x} is revoked"
                )


def load_crl(path: str, ca: x509.Certificate) -> x509.CertificateRevocationList:
    with open(path, "rb") as f:
        data = f.read()
    crl = (
        x509.load_pem_x509_crl(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_crl(data)
    )
    if not crl.is_signature_valid(ca.public_key()):
        raise VerificationError(f"CRL {path} is not signed by the CA")
    return crl


# --------------------------------------------------------------------------
# DSSE
# --------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify_dsse(
    payload: bytes,
    payload_type: str,
    signatures: Iterable[tuple[bytes, str, bytes]],
    expected_types: Iterable[str],
    certs: CertCheck,
    originator: str,
) -> None:
    """docs/protocol.md §4, in its order. `signatures` holds (sig, keyid,
    certificate DER) triples."""
    sigs = list(signatures)
    if len(payload) > 256 * 1024:
        raise VerificationError(f"dsse: payload of {len(payload)} bytes")
    if payload_type not in set(expected_types):
        raise VerificationError(f"dsse: payload type {payload_type!r} not expected")
    if len(sigs) != 1:
        raise VerificationError(f"dsse: {len(sigs)} signatures, exactly one expected")
    sig, keyid, cert_der = sigs[0]
    if not cert_der:
        raise VerificationError("dsse: certificate missing")
    if len(sig) != 64:
        raise VerificationError(f"dsse: signature of {len(sig)} bytes")
    fingerprint = hashlib.sha256(cert_der).hexdigest()
    if keyid != fingerprint:
        raise VerificationError(f"dsse: keyid {keyid} != SHA-256(certificate) {fingerprint}")
    key = certs.verify_signer(cert_der, originator)
    try:
        key.verify(sig, pae(payload_type, payload))
    except InvalidSignature as e:
        raise VerificationError("dsse: Ed25519 signature does not verify over the PAE") from e


# --------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.3.1, §2.1.4.1): only to self-test the
# verifiers above on every (index, size) and (old, new) of small trees.
# --------------------------------------------------------------------------


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_path(index, leaves[:k]) + [merkle_root_recursive(leaves[k:])]
    return inclusion_path(index - k, leaves[k:]) + [merkle_root_recursive(leaves[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [merkle_root_recursive(d)]
        k = _split(n)
        if m <= k:
            return subproof(m, d[:k], b) + [merkle_root_recursive(d[k:])]
        return subproof(m - k, d[k:], False) + [merkle_root_recursive(d[:k])]

    if m == 0 or m == len(leaves):
        return []
    return subproof(m, leaves, True)
