#!/usr/bin/env bash
# tests/interop/run.sh: checks provledger receipts, checkpoints and a
# consistency proof with software no one on the team wrote — Go's
# golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, from Debian's
# packages (golang-go, golang-golang-x-mod-dev), built offline.
#
# Starts a 4-validator localnet in a temporary directory on free ports,
# anchors seven files, saves two checkpoints, and runs verify_receipt.go on the
# receipts (must pass) and on tampered copies (each must fail, for the
# expected reason). The network is stopped on any exit.
#
# Opt-in (not part of tools/run-tests). Environment: PROV_BUILD_DIR (as for
# tools/build), PROV_INTEROP_BASE_PORT (first base port to try, default 7900),
# PROV_INTEROP_KEEP=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PROV_BUILD_DIR:-$root/build}
export PROV_BUILD_DIR=$build

PROV_INTEROP=1 "$root/tools/install-deps"

tmp=$(mktemp -d /tmp/prov-interop.XXXXXX)
ln="$tmp/ln"
cleanup() {
  local rc=$?
  if [[ -f "$ln/localnet.env" ]]; then
    "$root/tools/localnet" stop --dir "$ln" >/dev/null 2>&1 || true
  fi
  if [[ "${PROV_INTEROP_KEEP:-0}" == 1 || $rc != 0 ]]; then
    echo "interop: files kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the verifier offline from Debian's packaged sources (GOPATH mode).
verifier="$tmp/verify_receipt"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/gocache" GOFLAGS='' GOPROXY=off \
  go build -o "$verifier" "$root/tests/interop/verify_receipt.go"
echo "interop: $(go version); golang.org/x/mod $(dpkg-query -W -f='${Version}' golang-golang-x-mod-dev) (Debian golang-golang-x-mod-dev)"

# A base port P whose API ports P+1..P+4 and peer ports P+101..P+104 are free.
base_port=$(python3 - "${PROV_INTEROP_BASE_PORT:-7900}" <<'PY'
import socket, sys
start = int(sys.argv[1])
for p in range(start, min(start + 2000, 64900), 10):
    ok = True
    for port in [p + i for i in range(1, 5)] + [p + 100 + i for i in range(1, 5)]:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(p)
        sys.exit(0)
sys.exit("no free base port")
PY
)

"$root/tools/localnet" start --dir "$ln" --base-port "$base_port" >/dev/null
echo "interop: localnet of 4 validators on 127.0.0.1, base port $base_port"
provctl() { PROV_HOME="$ln" "$build/tools/provctl" "$@"; }

provctl --json genesis validate "$ln/genesis.json" >"$tmp/vkeys.json"
cd "$tmp"
# Seven entries: checkpoint 1 after three, checkpoint 2 after seven, so the
# paths and the 3 → 7 consistency proof are more than trivial.
for i in 1 2 3 4 5 6 7; do
  echo "interop file $i" >"f$i.txt"
  provctl anchor "f$i.txt" --dataset "demo/interop-$i" >/dev/null
  if [[ $i == 3 ]]; then provctl checkpoint --save cp1.note >/dev/null; fi
done
provctl checkpoint --save cp2.note >/dev/null
from=$(sed -n 2p cp1.note)
to=$(sed -n 2p cp2.note)
provctl tx get-signed "/v1/proofs/consistency?from=$from&to=$to" >consistency.json
# Entry 2's receipt served against the current checkpoint (GET /v1/receipts/2).
provctl tx get-signed /v1/receipts/2 |
  python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["receipt"])' >r2.tlog-proof

verify() { "$verifier" -genesis "$ln/genesis.json" "$@"; }

echo
echo "== must verify =="
for i in 1 2 3 4 5 6 7; do
  verify -receipt "f$i.txt.tlog-proof" | grep '^receipt'
done
verify -receipt r2.tlog-proof -vkeys vkeys.json \
  -checkpoint cp1.note -checkpoint2 cp2.note -consistency consistency.json

# Tampered copies. Each must fail (exit 1) with the expected message.
python3 - r2.tlog-proof cp1.note cp2.note consistency.json <<'PY'
import base64, json, sys
receipt, cp1, cp2, cons = (open(p, "rb").read() for p in sys.argv[1:5])
head, note = receipt.split(b"\n\n", 1)
lines = head.split(b"\n")

def flip_b64(line, byte=0):
    raw = bytearray(base64.b64decode(line))
    raw[byte] ^= 0x01
    return base64.b64encode(bytes(raw))

def write(name, data):
    open(name, "wb").write(data)

# 1. a byte of the inclusion path
assert len(lines) > 3, "receipt r2 has no path hashes"
l = list(lines); l[4] = flip_b64(l[4], 7)  # the second path hash
write("t-path.tlog-proof", b"\n".join(l) + b"\n\n" + note)
# 2. a byte of the entry bytes (extra)
l = list(lines); l[1] = b"extra " + flip_b64(l[1][6:], 20)
write("t-entry.tlog-proof", b"\n".join(l) + b"\n\n" + note)
# 3. a byte of the checkpoint root (signed text changes)
text, sigs = note.split(b"\n\n", 1)
t = text.split(b"\n"); t[2] = flip_b64(t[2], 0)
write("t-root.tlog-proof", head + b"\n\n" + b"\n".join(t) + b"\n\n" + sigs)
# 4. the index
l = list(lines); l[2] = b"index " + str(int(l[2][6:]) ^ 1).encode()
write("t-index.tlog-proof", b"\n".join(l) + b"\n\n" + note)
# 5. signature lines dropped below the quorum (q - 1 kept)
sig_lines = [s for s in sigs.split(b"\n") if s]
q = 2 * 4 // 3 + 1
write("t-sigs.tlog-proof", head + b"\n\n" + text + b"\n\n" + b"\n".join(sig_lines[: q - 1]) + b"\n")
# 6. a forged signature (one byte of a signature, not its key ID)
bad = sig_lines[0].rsplit(b" ", 1)
forged = bad[0] + b" " + flip_b64(bad[1], 10)
write("t-forged.tlog-proof", head + b"\n\n" + text + b"\n\n" + b"\n".join([forged] + sig_lines[1:]) + b"\n")
# 7. a byte of the consistency proof
c = json.loads(cons)
p = bytearray(bytes.fromhex(c["path"][0])); p[0] ^= 1; c["path"][0] = p.hex()
write("t-consistency.json", json.dumps(c).encode())
PY

must_fail() {  # must_fail WHAT EXPECTED-MESSAGE ARGS...
  local what=$1 want=$2 rc=0
  shift 2
  verify "$@" >/dev/null 2>"$tmp/err" || rc=$?
  if [[ $rc != 1 ]] || ! grep -qF -- "$want" "$tmp/err"; then
    echo "interop: tampered $what was not rejected as expected (exit $rc): $(cat "$tmp/err")" >&2
    exit 1
  fi
  echo "rejected $what: $(cat "$tmp/err")"
}

echo
echo "== must fail =="
must_fail "path hash" "tlog.CheckRecord: invalid transparency proof" -receipt t-path.tlog-proof
must_fail "entry bytes" "tlog.CheckRecord: invalid transparency proof" -receipt t-entry.tlog-proof
must_fail "checkpoint root" "note.Open: invalid signature" -receipt t-root.tlog-proof
must_fail "index" "tlog.CheckRecord" -receipt t-index.tlog-proof
must_fail "signatures below quorum" "verified validator signatures, needs 3 of 4" -receipt t-sigs.tlog-proof
must_fail "signature bytes" "note.Open: invalid signature" -receipt t-forged.tlog-proof
must_fail "consistency path" "tlog.CheckTree: invalid transparency proof" -receipt r2.tlog-proof \
  -checkpoint cp1.note -checkpoint2 cp2.note -consistency t-consistency.json
must_fail "checkpoints swapped (shrinking log)" "the log shrank" -receipt r2.tlog-proof \
  -checkpoint cp2.note -checkpoint2 cp1.note -consistency consistency.json
echo
echo "interop: OK — receipts, checkpoints and consistency verified by golang.org/x/mod/sumdb/{note,tlog}; 8 tampered inputs rejected"
