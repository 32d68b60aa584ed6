#!/bin/sh
# One-shot set-up for the compose federation (deploy/compose.yaml), run by the
# `pki` service as root inside the credshare image. Idempotent: everything
# that already exists is kept, so `docker compose up` can be run again.
#
#   /ca   (volume `ca`, mounted ONLY here)   the development CA: ca.key, ca.crt,
#                                             ca.crl, ca-state.json
#   /pki  (volume `pki`, read-only in nodes) consortium.secret, crl/ca.crl,
#                                             BANK-{A,B,C}/{node,admin,signer}.{crt,key},
#                                             ca.crt, node.toml; REG-1/regulator.*
#
# Node certificates name the compose service (bank-a, ...) so peers can verify
# each other by service DNS name, plus localhost/127.0.0.1 for the admin port
# published on the host. DEVELOPMENT ONLY: a real consortium's CA is offline.
set -eu
umask 077

BANKS="BANK-A BANK-B BANK-C"
REGULATOR="REG-1"
CA=/ca
PKI=/pki
NODE_UID=10001
NODE_GID=10001

lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }

if [ ! -f "$CA/ca.key" ]; then
    credshare pki init-ca --dir "$CA" --name "credshare compose development CA"
else
    # CRLs are valid for 7 days: re-sign on every start-up.
    credshare pki crl --ca "$CA"
fi
mkdir -p "$PKI/crl"
cp "$CA/ca.crl" "$PKI/crl/ca.crl"

if [ ! -f "$PKI/consortium.secret" ]; then
    credshare consortium-secret generate --out "$PKI/consortium.secret"
fi

issue() { # role institution outdir [extra args...]
    role=$1 inst=$2 out=$3
    shift 3
    if [ -f "$out/$role.crt" ]; then
        echo "keeping $out/$role.crt"
    else
        credshare pki issue --ca "$CA" --role "$role" --institution "$inst" "$@" --out "$out"
    fi
}

for bank in $BANKS; do
    host=$(lower "$bank")
    dir="$PKI/$bank"
    issue node   "$bank" "$dir" --dns "$host" --dns localhost --ip 127.0.0.1
    issue admin  "$bank" "$dir" --officer OFFICER-1
    issue signer "$bank" "$dir"

    if [ -f "$dir/node.toml" ]; then
        echo "keeping $dir/node.toml"
        continue
    fi
    set --
    for other in $BANKS; do
        [ "$other" = "$bank" ] && continue
        set -- "$@" --peer "$other=$(lower "$other"):7443"
    done
    credshare node init \
        --institution "$bank" \
        --certs "$dir" \
        --data /var/lib/credshare \
        --listen 0.0.0.0:7443 \
        --admin-listen 0.0.0.0:7444 \
        --metrics-listen 0.0.0.0:9464 \
        --log-origin "credshare.compose.example/$bank/query-log" \
        --secret "$PKI/consortium.secret" \
        --crl "$PKI/crl/ca.crl" \
        "$@" \
        --out "$dir/node.toml"
done

issue regulator "$REGULATOR" "$PKI/$REGULATOR"

# Nodes run as uid 10001 and read their keys from this volume. Keys stay 0600.
chown -R "$NODE_UID:$NODE_GID" "$PKI"
chmod 0755 "$PKI" "$PKI/crl"
chmod 0644 "$PKI/crl/ca.crl"
echo "pki ready"
