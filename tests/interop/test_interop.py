"""An outside client of credshare: grpcio, grpcio-status, cryptography and
protobuf, with stubs generated from proto/ at test time, and none of
credshare's code. Everything here follows docs/protocol.md.

Run by tests/interop/run.sh, which builds a development consortium with the
real CLI, starts BANK-A and BANK-B as real `credshare-node` processes on
127.0.0.1, imports a sample into BANK-B, issues a consent at BANK-A and
writes the JSON file named by CREDSHARE_INTEROP_CONFIG (see run.sh). The
tests named test_vectors_* need only the stubs (CREDSHARE_INTEROP_STUBS or
the config) and docs/vectors/.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib
import json
import os
import secrets
import sys
import types
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verifiers as v  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TIMEOUT = 20.0
HOLDER = "BANK-B"
REQUESTER = "BANK-A"
REGULATOR = "REG-1"
DENIAL_TYPE_URL = "type.googleapis.com/credshare.v1.QueryDenial"
RECORD_TYPES = {
    "application/vnd.credshare.credit-summary.v1+protobuf": "CreditSummary",
    "application/vnd.credshare.visit-summary.v1+protobuf": "VisitSummary",
}
GRANT_TYPE = "application/vnd.credshare.consent-grant.v1+protobuf"


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


def _config_or_none() -> dict | None:
    path = os.environ.get("CREDSHARE_INTEROP_CONFIG")
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def cfg() -> dict:
    config = _config_or_none()
    assert config is not None, (
        "CREDSHARE_INTEROP_CONFIG is not set: run the suite with "
        "`bash tests/interop/run.sh`, which starts the nodes and writes it"
    )
    return config


@pytest.fixture(scope="session")
def pb() -> types.SimpleNamespace:
    """The generated credshare.v1 modules (grpc_tools.protoc output)."""
    config = _config_or_none()
    stubs = os.environ.get("CREDSHARE_INTEROP_STUBS") or (config or {}).get("stubs")
    assert stubs, "no generated stubs: set CREDSHARE_INTEROP_STUBS or run run.sh"
    if stubs not in sys.path:
        sys.path.insert(0, stubs)
    mods = {}
    for name in ("records", "consent", "log", "assessment", "peer", "admin", "audit", "witness"):
        mods[name] = importlib.import_module(f"credshare.v1.{name}_pb2")
    for name in ("peer", "admin", "audit"):
        mods[name + "_grpc"] = importlib.import_module(f"credshare.v1.{name}_pb2_grpc")
    return types.SimpleNamespace(**mods)


@pytest.fixture(scope="session")
def certs(cfg) -> v.CertCheck:
    pki = Path(cfg["pki"])
    ca = v.load_pem_cert(str(pki / "ca" / "ca.crt"))
    # The trust anchor is self-signed and a CA.
    ca.verify_directly_issued_by(ca)
    bc = ca.extensions.get_extension_for_class(v.x509.BasicConstraints).value
    assert bc.ca, "ca.crt is not a CA certificate"
    crls = []
    crl_path = pki / "ca" / "ca.crl"
    if crl_path.is_file():
        crls.append(v.load_crl(str(crl_path), ca))
    return v.CertCheck(ca=ca, crls=crls)


class Channels:
    """mTLS channels by (address, identity directory, role)."""

    def __init__(self, pki: Path):
        self.pki = pki
        self.open: dict[tuple[str, str, str], grpc.Channel] = {}

    def get(self, addr: str, who: str, role: str) -> grpc.Channel:
        key = (addr, who, role)
        if key not in self.open:
            d = self.pki / who
            creds = grpc.ssl_channel_credentials(
                root_certificates=(d / "ca.crt").read_bytes(),
                private_key=(d / f"{role}.key").read_bytes(),
                certificate_chain=(d / f"{role}.crt").read_bytes(),
            )
            # Node certificates carry DNS:localhost and IP:127.0.0.1, so the
            # address verifies as it is; no ssl_target_name_override.
            self.open[key] = grpc.secure_channel(addr, creds)
        return self.open[key]

    def close(self) -> None:
        for ch in self.open.values():
            ch.close()


@pytest.fixture(scope="session")
def channels(cfg):
    ch = Channels(Path(cfg["pki"]))
    yield ch
    ch.close()


@pytest.fixture(scope="session")
def secret(cfg) -> bytes:
    return Path(cfg["secret"]).read_bytes()


@pytest.fixture(scope="session")
def grant_doc(cfg) -> dict:
    with open(cfg["grant"]) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def grant_envelope(pb, grant_doc):
    """The SignedEnvelope of grant.json: DSSE JSON plus the certificate."""
    env = grant_doc["envelope"]
    cert = base64.b64decode(grant_doc["verification_material"]["certificate"])
    return pb.records.SignedEnvelope(
        payload=base64.b64decode(env["payload"]),
        payload_type=env["payloadType"],
        signatures=[
            pb.records.EnvelopeSignature(
                sig=base64.b64decode(s["sig"]), keyid=s["keyid"], certificate=cert
            )
            for s in env["signatures"]
        ],
    )


@pytest.fixture(scope="session")
def bkey(cfg, secret) -> bytes:
    return v.borrower_key(secret, cfg["borrower_id"])


@pytest.fixture(scope="session")
def other_bkey(cfg, secret) -> bytes:
    return v.borrower_key(secret, cfg["other_borrower_id"])


def peer_stub(pb, channels, cfg):
    """PeerService of BANK-B, called as BANK-A's node."""
    ch = channels.get(cfg["nodes"][HOLDER]["peer"], REQUESTER, "node")
    return pb.peer_grpc.PeerServiceStub(ch)


def audit_stub(pb, channels, cfg):
    """AuditService of BANK-B's peer listener, called as regulator REG-1."""
    ch = channels.get(cfg["nodes"][HOLDER]["peer"], REGULATOR, "regulator")
    return pb.audit_grpc.AuditServiceStub(ch)


def origin_of(institution: str) -> str:
    return f"credshare.example/{institution}/query-log"


def query(pb, channels, cfg, envelope, key, scope, purpose=None, nonce=None):
    nonce = nonce if nonce is not None else secrets.token_bytes(16)
    req = pb.peer.QueryBorrowerRequest(
        consent=envelope,
        borrower_key=key,
        purpose=purpose if purpose is not None else pb.consent.PURPOSE_LOAN_APPROVAL,
        scope=scope,
        request_nonce=nonce,
    )
    return peer_stub(pb, channels, cfg).QueryBorrower(req, timeout=TIMEOUT), nonce


def check(condition: bool, message: str) -> None:
    if not condition:
        raise v.VerificationError(message)


def verify_receipt(pb, certs, receipt, holder=HOLDER):
    """docs/protocol.md §8 (1)-(5). Returns (checkpoint, LogEntry)."""
    # (1) the signer certificate, as a signer of the holder
    key = certs.verify_signer(receipt.signer_certificate, holder)
    # (2) the checkpoint note with that key, and its origin
    cp = v.verify_checkpoint_note(receipt.checkpoint.signed_note, key, origin_of(holder))
    check(cp.origin == origin_of(holder), f"checkpoint origin {cp.origin!r}")
    # (3) the proof's coordinates
    proof = receipt.proof
    check(
        proof.leaf_index == receipt.leaf_index,
        f"proof.leaf_index {proof.leaf_index} != receipt.leaf_index {receipt.leaf_index}",
    )
    check(proof.tree_size == cp.size, f"proof.tree_size {proof.tree_size} != checkpoint size {cp.size}")
    check(receipt.leaf_index < cp.size, f"leaf index {receipt.leaf_index} >= tree size {cp.size}")
    check(len(proof.hashes) <= 64, f"{len(proof.hashes)} proof hashes")
    # (4) RFC 9162 inclusion of SHA-256(0x00 || entry) in the signed root
    v.verify_inclusion(
        v.leaf_hash(receipt.entry), receipt.leaf_index, cp.size, list(proof.hashes), cp.root
    )
    # (5) decode the entry
    entry = pb.log.LogEntry.FromString(receipt.entry)
    return cp, entry


# --------------------------------------------------------------------------
# 0. The grant from `credshare consent issue --out` and our borrower key
# --------------------------------------------------------------------------


def test_00_grant_json_verifies_and_borrower_key_matches(pb, certs, grant_doc, grant_envelope, bkey):
    sig = grant_envelope.signatures[0]
    v.verify_dsse(
        grant_envelope.payload,
        grant_envelope.payload_type,
        [(sig.sig, sig.keyid, sig.certificate)],
        [GRANT_TYPE],
        certs,
        REQUESTER,
    )
    grant = pb.consent.ConsentGrant.FromString(grant_envelope.payload)
    assert grant.consent_id == grant_doc["consent_id"]
    assert grant.grantee_institution == REQUESTER
    assert grant.borrower_key == bkey, (
        "HMAC-SHA256(secret, 'credshare/borrower/v1\\0' || kind || ':' || id) computed here "
        f"({bkey.hex()}) differs from the grant's borrower key ({grant.borrower_key.hex()})"
    )
    assert grant_doc["grant"]["borrower_key"] == bkey.hex()
    assert list(grant.purposes) == [pb.consent.PURPOSE_LOAN_APPROVAL]
    assert grant.scope == pb.consent.SCOPE_DETAIL


# --------------------------------------------------------------------------
# 1. Health over mTLS
# --------------------------------------------------------------------------


def test_01_health_serving_over_mtls(cfg, channels):
    for addr, who, role in [
        (cfg["nodes"][HOLDER]["peer"], REQUESTER, "node"),
        (cfg["nodes"][HOLDER]["peer"], REGULATOR, "regulator"),
        (cfg["nodes"][HOLDER]["admin"], HOLDER, "admin"),
    ]:
        stub = health_pb2_grpc.HealthStub(channels.get(addr, who, role))
        resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING, (
            f"health on {addr} as {role} {who}: {resp.status}"
        )


def test_01b_no_client_certificate_never_completes(cfg):
    """§1: a client without a certificate never completes the handshake."""
    pki = Path(cfg["pki"])
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca" / "ca.crt").read_bytes())
    with grpc.secure_channel(cfg["nodes"][HOLDER]["peer"], creds) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        with pytest.raises(grpc.RpcError) as ei:
            stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        # The handshake fails, so the channel never becomes ready.
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE, (
            f"no client certificate: {ei.value.code()} {ei.value.details()}"
        )
        print(f"without a client certificate: {ei.value.code()} {ei.value.details()}")


# --------------------------------------------------------------------------
# 2. AdminService.Status
# --------------------------------------------------------------------------


def test_02_admin_status(pb, cfg, channels):
    ch = channels.get(cfg["nodes"][HOLDER]["admin"], HOLDER, "admin")
    st = pb.admin_grpc.AdminServiceStub(ch).Status(pb.admin.StatusRequest(), timeout=TIMEOUT)
    assert st.institution_id == HOLDER
    assert st.record_count > 0, f"record_count {st.record_count} after the import"
    assert st.borrower_count > 0
    assert st.log_size > 0
    assert REQUESTER in st.peer_institutions, f"peers {list(st.peer_institutions)}"
    peers = {p.institution_id: p for p in st.peers}
    assert REQUESTER in peers and peers[REQUESTER].reachable, (
        f"BANK-B does not reach BANK-A: {peers.get(REQUESTER)}"
    )


def test_02b_callers_outside_their_role_are_refused(pb, cfg, channels):
    """§3: PERMISSION_DENIED before the method runs."""
    b = cfg["nodes"][HOLDER]
    cases = [
        ("AdminService.Status as BANK-A's admin", b["admin"], REQUESTER, "admin",
         lambda ch: pb.admin_grpc.AdminServiceStub(ch).Status(pb.admin.StatusRequest(), timeout=TIMEOUT)),
        ("AdminService.Status as REG-1", b["admin"], REGULATOR, "regulator",
         lambda ch: pb.admin_grpc.AdminServiceStub(ch).Status(pb.admin.StatusRequest(), timeout=TIMEOUT)),
        ("AuditService.GetCheckpoint as BANK-A's node", b["peer"], REQUESTER, "node",
         lambda ch: pb.audit_grpc.AuditServiceStub(ch).GetCheckpoint(pb.audit.GetCheckpointRequest(), timeout=TIMEOUT)),
    ]
    for what, addr, who, role, call in cases:
        with pytest.raises(grpc.RpcError) as ei:
            call(channels.get(addr, who, role))
        assert ei.value.code() == grpc.StatusCode.PERMISSION_DENIED, (
            f"{what}: {ei.value.code()} {ei.value.details()}"
        )


def test_02c_node_info_matches_signer(pb, cfg, channels, certs):
    """GetNodeInfo (any consortium identity): origin and signer certificate."""
    ch = channels.get(cfg["nodes"][HOLDER]["peer"], REGULATOR, "regulator")
    info = pb.peer_grpc.PeerServiceStub(ch).GetNodeInfo(pb.peer.GetNodeInfoRequest(), timeout=TIMEOUT)
    assert info.institution_id == HOLDER
    assert info.log_origin == origin_of(HOLDER)
    certs.verify_signer(info.signer_certificate, HOLDER)


# --------------------------------------------------------------------------
# 3. QueryBorrower with a `consent issue` grant; the receipt verified here
# --------------------------------------------------------------------------


def flip(data: bytes, at: int = -1) -> bytes:
    """`data` with one bit of the byte at `at` flipped."""
    b = bytearray(data)
    b[at] ^= 1
    return bytes(b)


def alter_root(note: str) -> str:
    """The note with another root hash (the signature left as it was)."""
    lines = note.split("\n")
    lines[2] = base64.b64encode(v.sha256(lines[2].encode())).decode()
    return "\n".join(lines)


def check_answer(pb, certs, resp, nonce, bkey, scope, consent_id):
    cp, entry = verify_receipt(pb, certs, resp.receipt)
    assert entry.WhichOneof("kind") == "peer_query", f"entry kind {entry.WhichOneof('kind')}"
    q = entry.peer_query
    assert q.requester_institution == REQUESTER
    assert q.borrower_key == bkey
    assert q.request_nonce == nonce, "the log entry does not echo our nonce"
    assert q.decision == pb.log.DECISION_ANSWERED, f"decision {q.decision}"
    assert q.scope == scope and q.purpose == pb.consent.PURPOSE_LOAN_APPROVAL
    assert q.consent_id == consent_id
    # Hash the bytes received, then decode them.
    assert q.response_sha256 == hashlib.sha256(resp.answer).digest(), (
        "response_sha256 in the logged entry != SHA-256(answer bytes received)"
    )
    answer = pb.peer.BorrowerAnswer.FromString(resp.answer)
    assert answer.institution_id == HOLDER
    assert answer.scope == scope
    assert answer.HasField("indicators")
    assert answer.indicators.facility_count > 0, "the borrower BANK-B holds has no facility"
    # The checkpoint's timestamp is recent (ms since the epoch).
    assert cp.timestamp_ms is not None
    now_ms = dt.datetime.now(dt.timezone.utc).timestamp() * 1000
    assert abs(now_ms - cp.timestamp_ms) < 10 * 60 * 1000, f"checkpoint Timestamp {cp.timestamp_ms}"
    return cp, entry, answer


def test_03_query_summary_and_verify_receipt(pb, cfg, channels, certs, grant_envelope, grant_doc, bkey):
    resp, nonce = query(pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_SUMMARY)
    _, _, answer = check_answer(
        pb, certs, resp, nonce, bkey, pb.consent.SCOPE_SUMMARY, grant_doc["consent_id"]
    )
    assert len(answer.records) == 0, "a SUMMARY answer carries indicators only"
    # The verification is not vacuous: altered receipts are refused.
    receipt = resp.receipt
    for what, mutate in [
        ("entry byte flipped", lambda r: setattr(r, "entry", flip(r.entry))),
        ("leaf index moved", lambda r: (setattr(r, "leaf_index", r.leaf_index ^ 1),
                                        setattr(r.proof, "leaf_index", r.proof.leaf_index ^ 1))),
        ("checkpoint root changed", lambda r: setattr(
            r.checkpoint, "signed_note", alter_root(r.checkpoint.signed_note))),
    ]:
        bad = type(receipt)()
        bad.CopyFrom(receipt)
        mutate(bad)
        with pytest.raises(v.VerificationError):
            verify_receipt(pb, certs, bad)
            raise AssertionError(f"a receipt with {what} verified")
    with pytest.raises(v.VerificationError):
        certs.verify_signer(receipt.signer_certificate, REQUESTER)


# --------------------------------------------------------------------------
# 4. DETAIL: every record's DSSE signature
# --------------------------------------------------------------------------


def test_04_query_detail_records_dsse(pb, cfg, channels, certs, grant_envelope, grant_doc, bkey):
    resp, nonce = query(pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_DETAIL)
    _, entry, answer = check_answer(
        pb, certs, resp, nonce, bkey, pb.consent.SCOPE_DETAIL, grant_doc["consent_id"]
    )
    assert answer.records, "a DETAIL answer carries the holder's signed records"
    kinds = {"CreditSummary": 0, "VisitSummary": 0}
    for i, env in enumerate(answer.records):
        try:
            v.verify_dsse(
                env.payload,
                env.payload_type,
                [(s.sig, s.keyid, s.certificate) for s in env.signatures],
                RECORD_TYPES,
                certs,
                HOLDER,
            )
        except v.VerificationError as e:
            raise AssertionError(f"record {i} ({env.payload_type}): {e}") from e
        kind = RECORD_TYPES[env.payload_type]
        record = getattr(pb.records, kind).FromString(env.payload)
        assert record.institution_id == HOLDER, f"record {i} institution {record.institution_id}"
        assert record.borrower_key == bkey, f"record {i} is another borrower's"
        kinds[kind] += 1
    assert kinds["CreditSummary"] == answer.indicators.facility_count, (
        f"{kinds['CreditSummary']} credit records but facility_count {answer.indicators.facility_count}"
    )
    assert kinds["VisitSummary"] == answer.indicators.visit_count, (
        f"{kinds['VisitSummary']} visit records but visit_count {answer.indicators.visit_count}"
    )
    assert entry.peer_query.disclosed_records >= len(answer.records)
    # Altered payload, or another originator, is refused.
    env = answer.records[0]
    sigs = [(s.sig, s.keyid, s.certificate) for s in env.signatures]
    with pytest.raises(v.VerificationError):
        v.verify_dsse(flip(env.payload), env.payload_type, sigs, RECORD_TYPES, certs, HOLDER)
    with pytest.raises(v.VerificationError):
        v.verify_dsse(env.payload, env.payload_type, sigs, RECORD_TYPES, certs, REQUESTER)


# --------------------------------------------------------------------------
# 5. Denials in the richer error model
# --------------------------------------------------------------------------


def check_denial(pb, certs, call: grpc.RpcError, reason_name: str, nonce: bytes, key: bytes):
    assert call.code() == grpc.StatusCode.PERMISSION_DENIED, f"{call.code()}: {call.details()}"
    assert call.details().startswith(reason_name + ":"), (
        f"status message {call.details()!r} does not start with {reason_name + ':'!r}"
    )
    status = rpc_status.from_call(call)
    assert status is not None, "no grpc-status-details-bin in the trailers"
    assert status.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert len(status.details) == 1, f"{len(status.details)} details"
    assert status.details[0].type_url == DENIAL_TYPE_URL, status.details[0].type_url
    denial = pb.peer.QueryDenial()
    assert status.details[0].Unpack(denial)
    want = pb.consent.DenialReason.Value("DENIAL_REASON_" + reason_name)
    assert denial.reason == want, (
        f"reason {pb.consent.DenialReason.Name(denial.reason)}, expected {reason_name}: {denial.message}"
    )
    metadata = list(call.initial_metadata() or ()) + list(call.trailing_metadata() or ())
    headers = [value for name, value in metadata if name == "credshare-denial-reason"]
    assert headers == [reason_name], f"credshare-denial-reason metadata {headers}"
    where = "initial" if any(n == "credshare-denial-reason" for n, _ in call.initial_metadata() or ()) else "trailing"
    print(f"denied {reason_name}: {call.details()!r}; header in {where} metadata")
    # The denial was logged: its receipt verifies like an answer's.
    assert denial.HasField("receipt"), "QueryDenial without a receipt"
    _, entry = verify_receipt(pb, certs, denial.receipt)
    q = entry.peer_query
    assert q.decision == pb.log.DECISION_DENIED
    assert q.denial_reason == want
    assert q.request_nonce == nonce
    assert q.borrower_key == key
    assert q.requester_institution == REQUESTER
    assert q.response_sha256 == b""
    return denial


def test_05_denial_wrong_borrower(pb, cfg, channels, certs, grant_envelope, other_bkey, bkey):
    assert other_bkey != bkey
    nonce = secrets.token_bytes(16)
    with pytest.raises(grpc.RpcError) as ei:
        query(pb, channels, cfg, grant_envelope, other_bkey, pb.consent.SCOPE_SUMMARY, nonce=nonce)
    check_denial(pb, certs, ei.value, "WRONG_BORROWER", nonce, other_bkey)


def test_05b_denial_purpose_not_granted(pb, cfg, channels, certs, grant_envelope, bkey):
    nonce = secrets.token_bytes(16)
    with pytest.raises(grpc.RpcError) as ei:
        query(
            pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_SUMMARY,
            purpose=pb.consent.PURPOSE_FINANCING_APPROVAL, nonce=nonce,
        )
    check_denial(pb, certs, ei.value, "PURPOSE_NOT_GRANTED", nonce, bkey)


def test_05c_denial_bad_signature(pb, cfg, channels, certs, grant_envelope, bkey):
    """A grant whose payload was altered after signing."""
    tampered = pb.records.SignedEnvelope()
    tampered.CopyFrom(grant_envelope)
    grant = pb.consent.ConsentGrant.FromString(tampered.payload)
    grant.not_after_ms += 86_400_000
    tampered.payload = grant.SerializeToString()
    nonce = secrets.token_bytes(16)
    with pytest.raises(grpc.RpcError) as ei:
        query(pb, channels, cfg, tampered, bkey, pb.consent.SCOPE_SUMMARY, nonce=nonce)
    check_denial(pb, certs, ei.value, "BAD_SIGNATURE", nonce, bkey)


def test_05d_malformed_request_invalid_and_not_logged(pb, cfg, channels, certs, grant_envelope, bkey):
    """§6: a malformed request is INVALID_ARGUMENT and is not logged."""
    stub = audit_stub(pb, channels, cfg)
    before = get_checkpoint(pb, stub, certs)
    for what, key, nonce in [
        ("a 31-byte borrower key", bkey[:31], secrets.token_bytes(16)),
        ("a 65-byte nonce", bkey, secrets.token_bytes(65)),
    ]:
        with pytest.raises(grpc.RpcError) as ei:
            query(pb, channels, cfg, grant_envelope, key, pb.consent.SCOPE_SUMMARY, nonce=nonce)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
            f"{what}: {ei.value.code()} {ei.value.details()}"
        )
    after = get_checkpoint(pb, stub, certs)
    assert after.size == before.size, f"malformed requests were logged: {before.size} -> {after.size}"


# --------------------------------------------------------------------------
# 6. Auditing as the regulator
# --------------------------------------------------------------------------


def get_checkpoint(pb, stub, certs, size=0):
    resp = stub.GetCheckpoint(pb.audit.GetCheckpointRequest(tree_size=size), timeout=TIMEOUT)
    key = certs.verify_signer(resp.signer_certificate, HOLDER)
    cp = v.verify_checkpoint_note(resp.checkpoint.signed_note, key, origin_of(HOLDER))
    assert cp.origin == origin_of(HOLDER)
    if size:
        assert cp.size == size, f"asked for the checkpoint at {size}, got {cp.size}"
    return cp


def get_entries(pb, stub, start, end):
    """Streams [start, end) in calls of at most 10,000 entries (§9)."""
    first, out = start, []
    while start < end:
        stop = min(end, start + 10_000)
        req = pb.audit.GetEntriesRequest(start=start, end=stop)
        for item in stub.GetEntries(req, timeout=60):
            want = first + len(out)
            assert item.index == want, f"GetEntries: index {item.index}, expected {want}"
            out.append(item.entry)
        assert first + len(out) == stop, f"GetEntries [{start}, {stop}) ended at {first + len(out)}"
        start = stop
    return out


def test_06_audit_entries_rebuild_signed_root(pb, cfg, channels, certs, grant_envelope, bkey):
    # At least one answered query in the log, whatever ran before.
    resp, _ = query(pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_SUMMARY)
    stub = audit_stub(pb, channels, cfg)
    cp = get_checkpoint(pb, stub, certs)
    assert cp.size > resp.receipt.leaf_index
    assert cp.size > 0
    entries = get_entries(pb, stub, 0, cp.size)
    assert len(entries) == cp.size, f"{len(entries)} entries streamed for a tree of {cp.size}"
    leaves = [v.leaf_hash(e) for e in entries]
    root = v.merkle_root_from_leaf_hashes(leaves)
    assert root == cp.root, (
        f"root rebuilt from {len(entries)} entries {root.hex()} != signed root {cp.root.hex()}"
    )
    assert v.merkle_root_recursive(leaves) == root
    assert entries[resp.receipt.leaf_index] == resp.receipt.entry, (
        f"entry {resp.receipt.leaf_index} streamed differs from the one in our receipt"
    )
    print(f"audited {cp.size} entries of BANK-B's log; root {root.hex()}")
    # Every entry decodes; our queries are there; no raw identifier anywhere.
    kinds: dict[str, int] = {}
    raw_id = cfg["borrower_id"].split(":", 1)[-1].encode()
    for i, e in enumerate(entries):
        kind = pb.log.LogEntry.FromString(e).WhichOneof("kind")
        kinds[kind] = kinds.get(kind, 0) + 1
        assert raw_id not in e, f"entry {i} carries the raw borrower id"
    assert kinds.get("record_batch", 0) > 0, f"entry kinds {kinds}"
    assert kinds.get("peer_query", 0) > 0, f"entry kinds {kinds}"
    # An entry out of place or altered changes the root.
    if len(leaves) > 1:
        swapped = leaves[:]
        swapped[0], swapped[1] = swapped[1], swapped[0]
        assert v.merkle_root_from_leaf_hashes(swapped) != cp.root


def test_06b_audit_consistency_between_checkpoints(pb, cfg, channels, certs, grant_envelope, bkey):
    stub = audit_stub(pb, channels, cfg)
    old = get_checkpoint(pb, stub, certs)
    # More log entries: another answered query.
    resp, _ = query(pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_SUMMARY)
    receipt_cp, _ = verify_receipt(pb, certs, resp.receipt)
    new = get_checkpoint(pb, stub, certs)
    assert new.size > old.size, f"log did not grow: {old.size} -> {new.size}"
    assert new.size >= receipt_cp.size
    # The old checkpoint, fetched again by its size, is the same.
    again = get_checkpoint(pb, stub, certs, old.size)
    assert again.root == old.root
    proof = stub.GetConsistencyProof(
        pb.audit.GetConsistencyProofRequest(old_size=old.size, new_size=new.size), timeout=TIMEOUT
    )
    assert (proof.old_size, proof.new_size) == (old.size, new.size)
    v.verify_consistency(old.size, new.size, old.root, new.root, list(proof.hashes))
    print(f"consistency {old.size} -> {new.size}: {len(proof.hashes)} hashes verified")
    # A tampered proof does not verify.
    if proof.hashes:
        bad = list(proof.hashes)
        bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
        with pytest.raises(v.VerificationError):
            v.verify_consistency(old.size, new.size, old.root, new.root, bad)
    # The receipt's checkpoint (a saved one) is consistent with the newest too.
    if receipt_cp.size < new.size:
        p2 = stub.GetConsistencyProof(
            pb.audit.GetConsistencyProofRequest(old_size=receipt_cp.size, new_size=new.size),
            timeout=TIMEOUT,
        )
        v.verify_consistency(receipt_cp.size, new.size, receipt_cp.root, new.root, list(p2.hashes))
    # And the receipt's leaf is included in the newest tree.
    inc = stub.GetInclusionProof(
        pb.audit.GetInclusionProofRequest(leaf_index=resp.receipt.leaf_index, tree_size=new.size),
        timeout=TIMEOUT,
    )
    assert (inc.leaf_index, inc.tree_size) == (resp.receipt.leaf_index, new.size)
    v.verify_inclusion(
        v.leaf_hash(resp.receipt.entry), inc.leaf_index, new.size, list(inc.hashes), new.root
    )


def test_06c_audit_range_errors(pb, cfg, channels, certs):
    """§9: beyond the newest checkpoint OUT_OF_RANGE; reversed INVALID_ARGUMENT."""
    stub = audit_stub(pb, channels, cfg)
    cp = get_checkpoint(pb, stub, certs)
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetConsistencyProof(
            pb.audit.GetConsistencyProofRequest(old_size=1, new_size=cp.size + 1000), timeout=TIMEOUT
        )
    assert ei.value.code() == grpc.StatusCode.OUT_OF_RANGE, f"{ei.value.code()}: {ei.value.details()}"
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetConsistencyProof(
            pb.audit.GetConsistencyProofRequest(old_size=cp.size, new_size=1), timeout=TIMEOUT
        )
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{ei.value.code()}: {ei.value.details()}"


# --------------------------------------------------------------------------
# 7. Witness cosignatures (§13)
# --------------------------------------------------------------------------


def test_07_receipt_cosigned_by_the_peer_witness(pb, cfg, channels, certs, grant_envelope, bkey):
    """BANK-A witnesses BANK-B's log: once it cosigned (within a few
    submission intervals), BANK-B's receipts carry the cosigned checkpoint,
    its cosignature verifies with BANK-A's signer certificate (C2SP
    cosignature/v1), and a consistency proof ties it to the receipt's
    checkpoint."""
    import time

    stub = audit_stub(pb, channels, cfg)
    deadline = time.monotonic() + 30
    while True:
        cosigned = stub.GetCosignedCheckpoint(pb.audit.GetCosignedCheckpointRequest(), timeout=TIMEOUT)
        if cosigned.witness_certificates or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert list(cosigned.witness_certificates), "BANK-B holds no cosigned checkpoint after 30 s"
    resp, _ = query(pb, channels, cfg, grant_envelope, bkey, pb.consent.SCOPE_SUMMARY)
    receipt = resp.receipt
    cp, _ = verify_receipt(pb, certs, receipt)
    assert receipt.HasField("cosigned_checkpoint"), "the receipt carries no cosigned checkpoint"
    note = receipt.cosigned_checkpoint.signed_note
    log_key = certs.verify_signer(receipt.signer_certificate, HOLDER)
    witnessed = v.verify_checkpoint_note(note, log_key, origin_of(HOLDER))
    assert len(receipt.witness_certificates) == 1
    witness_key = certs.verify_signer(receipt.witness_certificates[0], REQUESTER)
    name, timestamp = v.verify_cosignature(note, witness_key)
    assert name == f"credshare.example/{REQUESTER}/witness", name
    assert abs(dt.datetime.now(dt.timezone.utc).timestamp() - timestamp) < 600, timestamp
    proof = receipt.cosigned_consistency
    assert (proof.old_size, proof.new_size) == (witnessed.size, cp.size)
    v.verify_consistency(witnessed.size, cp.size, witnessed.root, cp.root, list(proof.hashes))
    # A cosignature over another body does not verify.
    altered = note.replace(f"\n{witnessed.size}\n", f"\n{witnessed.size + 1}\n", 1)
    with pytest.raises(v.VerificationError):
        v.verify_cosignature(altered, witness_key)


def test_07b_cosignature_known_answer():
    """The Rust code's known answer (node/src/audit/cosignature/tests.rs),
    recomputed here: Ed25519 seed 07 x 32, cosigner
    credshare.example/BANK-B/witness, time 1718000001."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    body = (
        "credshare.example/BANK-A/query-log\n42\n"
        + base64.b64encode(bytes(range(32))).decode()
        + "\nTimestamp: 1718000000000\n"
    )
    line = (
        "\u2014 credshare.example/BANK-B/witness nrnUEAAAAABmZpmBAVd6tSZ9FcY8T8+X0wZEPv8Nd5kNcKhZbvwF"
        "d0s+xKRBI8kqQ2/r4t2Tq69MEj2jEkO67vmJ6VJW0xuSR2ZRDQ==\n"
    )
    note = body + "\n" + line
    name, timestamp = v.verify_cosignature(note, key.public_key())
    assert (name, timestamp) == ("credshare.example/BANK-B/witness", 1718000001)


# --------------------------------------------------------------------------
# Vectors (docs/vectors/): the Rust code's outputs checked by this code
# --------------------------------------------------------------------------


def vector(name: str) -> dict:
    with open(REPO / "docs" / "vectors" / name) as f:
        return json.load(f)


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def test_vectors_proofs():
    p = vector("proofs.json")
    entries = [h(e) for e in p["entries_hex"]]
    leaves = [v.leaf_hash(e) for e in entries]
    roots = [h(r) for r in p["roots_by_size_hex"]]
    for n in range(1, len(entries) + 1):
        got = v.merkle_root_from_leaf_hashes(leaves[:n])
        assert got == roots[n - 1], f"root at size {n}: ours {got.hex()}, vector {roots[n - 1].hex()}"
        assert v.merkle_root_recursive(leaves[:n]) == got
    inc = p["inclusion"]
    idx, size = inc["leaf_index"], inc["tree_size"]
    assert v.leaf_hash(entries[idx]).hex() == inc["leaf_hash_hex"]
    proof = [h(x) for x in inc["hashes_hex"]]
    v.verify_inclusion(h(inc["leaf_hash_hex"]), idx, size, proof, roots[size - 1])
    assert v.inclusion_path(idx, leaves[:size]) == proof, "our PATH() differs from the vector's"
    con = p["consistency"]
    m, n = con["old_size"], con["new_size"]
    cproof = [h(x) for x in con["hashes_hex"]]
    v.verify_consistency(m, n, roots[m - 1], roots[n - 1], cproof)
    assert v.consistency_proof(m, leaves[:n]) == cproof, "our PROOF() differs from the vector's"
    # Wrong inputs fail.
    with pytest.raises(v.VerificationError):
        v.verify_inclusion(h(inc["leaf_hash_hex"]), idx + 1, size, proof, roots[size - 1])
    with pytest.raises(v.VerificationError):
        v.verify_consistency(m, n, roots[m - 2], roots[n - 1], cproof)


def test_vectors_merkle_self_consistency():
    """Our verifiers against our RFC 9162 proof generation, every index and
    size pair up to 33 leaves (and wrong roots fail)."""
    leaves = [v.leaf_hash(b"leaf %d" % i) for i in range(33)]
    for n in range(1, len(leaves) + 1):
        root = v.merkle_root_recursive(leaves[:n])
        assert v.merkle_root_from_leaf_hashes(leaves[:n]) == root
        for i in range(n):
            v.verify_inclusion(leaves[i], i, n, v.inclusion_path(i, leaves[:n]), root)
        for m in range(0, n + 1):
            old = v.merkle_root_recursive(leaves[:m])
            proof = v.consistency_proof(m, leaves[:n])
            v.verify_consistency(m, n, old, root, proof)
            if 0 < m < n:
                with pytest.raises(v.VerificationError):
                    v.verify_consistency(m, n, old, v.sha256(b"x"), proof)


def test_vectors_checkpoint():
    c = vector("checkpoint.json")
    pub = h(c["signer_public_key_hex"])
    assert v.note_key_id(c["key_name"], pub).hex() == c["key_id_hex"]
    key = ed25519.Ed25519PublicKey.from_public_bytes(pub)
    cp = v.verify_checkpoint_note(c["signed_note"], key, c["key_name"])
    assert cp.body.decode() == c["body"]
    assert cp.origin == c["origin"] and cp.size == c["tree_size"]
    assert base64.b64encode(cp.root).decode() == c["root_hash_base64"]
    # The vector log of proofs.json is the one this checkpoint signs.
    p = vector("proofs.json")
    assert cp.root.hex() == p["roots_by_size_hex"][cp.size - 1]
    with pytest.raises(v.VerificationError):
        v.verify_checkpoint_note(c["signed_note"].replace("\n7\n", "\n8\n"), key, c["key_name"])


@pytest.mark.parametrize("name,message", [("grant.json", "ConsentGrant"), ("record.json", "CreditSummary")])
def test_vectors_dsse(pb, name, message):
    d = vector(name)
    payload, ptype = h(d["payload_hex"]), d["payload_type"]
    assert v.pae(ptype, payload).hex() == d["pae_hex"]
    cert = base64.b64decode(d["certificate_base64"])
    assert hashlib.sha256(cert).hexdigest() == d["keyid"]
    assert hashlib.sha256(payload).hexdigest() == d["payload_sha256_hex"]
    key = ed25519.Ed25519PublicKey.from_public_bytes(h(d["signer_public_key_hex"]))
    key.verify(base64.b64decode(d["sig_base64"]), v.pae(ptype, payload))
    # The certificate carries that key.
    c = v.x509.load_der_x509_certificate(cert)
    raw = c.public_key().public_bytes(v.serialization.Encoding.Raw, v.serialization.PublicFormat.Raw)
    assert raw == h(d["signer_public_key_hex"])
    # Protobuf form decodes with our stubs, field by field, and re-encodes
    # to the same bytes.
    wire = base64.b64decode(d["envelope_protobuf_base64"])
    env = pb.records.SignedEnvelope.FromString(wire)
    assert env.payload == payload and env.payload_type == ptype
    assert len(env.signatures) == 1
    s = env.signatures[0]
    assert s.sig == base64.b64decode(d["sig_base64"]), "EnvelopeSignature.sig is not field 1"
    assert s.keyid == d["keyid"], "EnvelopeSignature.keyid is not field 2"
    assert s.certificate == cert
    assert env.SerializeToString() == wire
    getattr(pb.consent if message == "ConsentGrant" else pb.records, message).FromString(payload)
    # DSSE JSON form.
    j = d["dsse_json"]
    assert base64.b64decode(j["payload"]) == payload and j["payloadType"] == ptype
    assert j["signatures"] == [{"keyid": d["keyid"], "sig": d["sig_base64"]}]


def test_vectors_log_leaf(pb):
    d = vector("log-leaf.json")
    entry = h(d["entry_hex"])
    assert v.leaf_hash(entry).hex() == d["leaf_hash_hex"]
    e = pb.log.LogEntry.FromString(entry)
    assert e.WhichOneof("kind") == "peer_query"
    assert e.SerializeToString() == entry


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v", *sys.argv[1:]]))
