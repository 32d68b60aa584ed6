#!/usr/bin/env bash
# Makes a development consortium PKI under certs/dev/ (git-ignored):
#   certs/dev/ca/                 ca.key, ca.crt, ca.crl, ca-state.json
#   certs/dev/BANK-{A,B,C}/       node, admin, signer .crt/.key + ca.crt
#   certs/dev/REG-1/              regulator.crt/.key + ca.crt
# CA, node, admin and regulator keys are ECDSA P-256 (every TLS stack, gRPC
# C-core/grpcio included); signer keys are Ed25519. Every key is a PKCS#8 v1
# PEM "PRIVATE KEY". Extra arguments go to `credshare pki dev-consortium`,
# e.g. `--key-type ed25519` (only where every member's TLS stack has Ed25519).
# For development and tests only: the CA key sits next to everything else.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

out="certs/dev"
if [[ -e "$out/ca/ca.key" ]]; then
    echo "error: $out already holds a CA; remove $out to start over" >&2
    exit 1
fi

cargo run -q -p credshare-cli -- pki dev-consortium --dir "$out" "$@"

echo "inspect one with: cargo run -q -p credshare-cli -- pki show $out/BANK-A/node.crt"
echo "check a key with: openssl pkey -in $out/BANK-A/node.key -noout -text"
find "$out" -name '*.crt' ! -name ca.crt | sort
