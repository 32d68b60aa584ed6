#!/usr/bin/env bash
# The outside-client interoperability suite (tests/interop/README.md).
#
#   cargo build --workspace && bash tests/interop/run.sh [pytest options]
#
# Creates (or reuses) a virtual environment with tests/interop/requirements.txt,
# generates Python stubs from proto/credshare/v1/*.proto, builds a development
# consortium with the real CLI, starts BANK-A and BANK-B as real credshare-node
# processes on 127.0.0.1 (each peering with the other), imports a small sample
# into BANK-B, issues a consent at BANK-A (`consent issue --out grant.json`),
# then runs tests/interop/test_interop.py. The nodes are always stopped.
#
# Environment: CREDSHARE_BIN_DIR (default target/debug), INTEROP_VENV
# (default target/interop-venv), PYTHON (default python3), INTEROP_KEEP=1
# keeps the work directory (PKI, configs, node logs) for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN_DIR="${CREDSHARE_BIN_DIR:-$ROOT/target/debug}"
VENV="${INTEROP_VENV:-$ROOT/target/interop-venv}"
PYTHON="${PYTHON:-python3}"
CLI="$BIN_DIR/credshare"
NODE="$BIN_DIR/credshare-node"
START=$SECONDS

say() { echo "[interop $((SECONDS - START))s] $*"; }

for b in "$CLI" "$NODE"; do
  if [[ ! -x $b ]]; then
    echo "interop: $b is missing: run \`cargo build --workspace\` first (or set CREDSHARE_BIN_DIR)" >&2
    exit 1
  fi
done

# Nothing from the caller's environment may configure the CLI or the nodes.
while read -r var; do
  [[ $var == CREDSHARE_BIN_DIR ]] || unset "$var"
done < <(compgen -e | grep '^CREDSHARE_' || true)
export PYTHONDONTWRITEBYTECODE=1

# --- Python environment -----------------------------------------------------
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  say "creating virtual environment $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
say "pip install -r tests/interop/requirements.txt"
"$PY" -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt

# --- Work directory and cleanup ---------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/credshare-interop.XXXXXX")"
declare -A PID=()

stop_nodes() {
  local name pid i
  for name in "${!PID[@]}"; do
    kill -TERM "${PID[$name]}" 2>/dev/null || true
  done
  for name in "${!PID[@]}"; do
    pid=${PID[$name]}
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "interop: $name did not stop within 15 s of SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    if [[ $status -ne 0 ]]; then
      echo "interop: $name exited with status $status after SIGTERM (expected 0)" >&2
    fi
    unset "PID[$name]"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_nodes
  if [[ $rc -ne 0 ]]; then
    local log
    for log in "$WORK"/*/node.log; do
      [[ -f $log ]] || continue
      echo "----- last lines of $log" >&2
      tail -n 40 "$log" >&2
    done
  fi
  if [[ ${INTEROP_KEEP:-0} == 1 ]]; then
    echo "interop: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Stubs from proto/ --------------------------------------------------------
STUBS="$WORK/stubs"
mkdir -p "$STUBS"
say "generating Python stubs from proto/credshare/v1/*.proto"
"$PY" -m grpc_tools.protoc -I proto --python_out="$STUBS" --grpc_python_out="$STUBS" \
  proto/credshare/v1/*.proto

# --- Consortium: PKI and secret from the real CLI ---------------------------
PKI="$WORK/pki"
SECRET="$PKI/consortium.secret"
say "credshare pki dev-consortium; consortium-secret generate"
"$CLI" pki dev-consortium --dir "$PKI" >/dev/null
"$CLI" consortium-secret generate --out "$SECRET" >/dev/null

# --- Two nodes on 127.0.0.1 -------------------------------------------------
# Peer ports must be known before either node starts (each names the other);
# admin listeners take any free port and are read back from the ready files.
read -r PORT_A PORT_B < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
')

start_node() {
  local id=$1 dir=$2 port=$3 peer=$4
  mkdir -p "$WORK/$dir"
  "$CLI" node init --institution "$id" --certs "$PKI/$id" --data "$WORK/$dir/data" \
    --secret "$SECRET" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
    --peer "$peer" --ready-file "$WORK/$dir/ready.json" --out "$WORK/$dir/node.toml" >/dev/null
  "$NODE" --config "$WORK/$dir/node.toml" >"$WORK/$dir/node.log" 2>&1 &
  PID[$id]=$!
}

wait_ready() {
  local id=$1 dir=$2 i
  for ((i = 0; i < 600; i++)); do
    [[ -f $WORK/$dir/ready.json ]] && return 0
    if ! kill -0 "${PID[$id]}" 2>/dev/null; then
      echo "interop: $id exited before serving" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "interop: $id not ready after 60 s" >&2
  return 1
}

say "starting BANK-A (peer 127.0.0.1:$PORT_A) and BANK-B (peer 127.0.0.1:$PORT_B)"
start_node BANK-A a "$PORT_A" "BANK-B=127.0.0.1:$PORT_B"
start_node BANK-B b "$PORT_B" "BANK-A=127.0.0.1:$PORT_A"
wait_ready BANK-A a
wait_ready BANK-B b
ready() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/$1/ready.json" "$2"; }
A_ADMIN="$(ready a admin)"
B_ADMIN="$(ready b admin)"
B_PEER="$(ready b peer)"
A_PEER="$(ready a peer)"
say "serving: BANK-A peer $A_PEER admin $A_ADMIN; BANK-B peer $B_PEER admin $B_ADMIN"

# --- Data at BANK-B, a consent at BANK-A ------------------------------------
SAMPLE="$WORK/sample-b"
say "credshare sample --institution BANK-B; records import (credit, then visits)"
"$CLI" sample --institution BANK-B --borrowers 40 --out "$SAMPLE" >/dev/null
# Small calls, so the log holds a few dozen record batches before the queries.
for kind in credit visit; do
  file="$SAMPLE/credit.csv"
  [[ $kind == visit ]] && file="$SAMPLE/visits.csv"
  "$CLI" records import "$file" --kind "$kind" --rows-per-call 16 \
    --reject-file "$WORK/rejects-$kind.csv" \
    --node "$B_ADMIN" --certs "$PKI/BANK-B" --secret "$SECRET" >/dev/null
done

BORROWER="$(sed -n 2p "$SAMPLE/credit.csv" | cut -d, -f1)"
OTHER="$(awk -F, -v b="$BORROWER" 'NR > 1 && $1 != b { print $1; exit }' "$SAMPLE/credit.csv")"
echo "signed authorization letter (interop suite)" >"$WORK/letter.txt"
UNTIL="$(date -u -d '+180 days' +%F)"
say "credshare consent issue at BANK-A for $BORROWER (loan-approval, detail, until $UNTIL)"
"$CLI" consent issue --id "$BORROWER" --purpose loan-approval --scope detail \
  --until "$UNTIL" --evidence "$WORK/letter.txt" --out "$WORK/grant.json" \
  --node "$A_ADMIN" --certs "$PKI/BANK-A" --secret "$SECRET" >/dev/null

export CREDSHARE_INTEROP_CONFIG="$WORK/interop.json"
export CREDSHARE_INTEROP_STUBS="$STUBS"
WORK="$WORK" STUBS="$STUBS" PKI="$PKI" SECRET="$SECRET" SAMPLE="$SAMPLE" \
  BORROWER="$BORROWER" OTHER="$OTHER" A_PEER="$A_PEER" A_ADMIN="$A_ADMIN" \
  B_PEER="$B_PEER" B_ADMIN="$B_ADMIN" "$PY" -c '
import json, os
e = os.environ
json.dump({
    "stubs": e["STUBS"], "pki": e["PKI"], "secret": e["SECRET"],
    "sample_dir": e["SAMPLE"], "grant": e["WORK"] + "/grant.json",
    "borrower_id": e["BORROWER"], "other_borrower_id": e["OTHER"],
    "nodes": {
        "BANK-A": {"peer": e["A_PEER"], "admin": e["A_ADMIN"]},
        "BANK-B": {"peer": e["B_PEER"], "admin": e["B_ADMIN"]},
    },
}, open(e["WORK"] + "/interop.json", "w"), indent=2)
'

# --- The suite ----------------------------------------------------------------
say "python tests/interop/test_interop.py"
timeout 600 "$PY" tests/interop/test_interop.py -p no:cacheprovider "$@"
