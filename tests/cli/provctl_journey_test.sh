#!/usr/bin/env bash
# The auditor's and pipeline's journey with provctl against a real 4-validator
# network (issue 5): anchor, verify, access, history, lineage (text, dot,
# PROV-JSON), batch anchoring with per-record proofs, checkpoints and
# consistency, a full audit, receipt verification with the network stopped,
# and every negative case: tampered receipts, a wrong genesis, too few or
# forged signatures, a wrong file, a shrinking log, and nodes lying in
# proofs (tests/cli/lying_node.py).
#
# usage: provctl_journey_test.sh PROVCTL PROVD
# Ports: PROV_TEST_BASE_PORT if set, else a free block found at random.
set -uo pipefail
provctl=$(realpath "${1:?usage: provctl_journey_test.sh PROVCTL PROVD}")
provd=$(realpath "${2:?usage: provctl_journey_test.sh PROVCTL PROVD}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/provctl-journey.XXXXXX)
pids=()
failures=0

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if ((failures == 0)); then rm -rf "$work"; else echo "kept $work for inspection" >&2; fi
}
trap cleanup EXIT

# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
base=${PROV_TEST_BASE_PORT:-$(free_base)}
net=$work/net
"$provctl" genesis localnet --validators 4 --out "$net" --base-port "$base" >/dev/null || { fail "genesis"; exit 1; }
start_nodes() {
  for i in 1 2 3 4; do
    local node=$net/node$i
    cat >"$node/provd.conf" <<EOF
genesis = ../genesis.json
node_key = node.key
data_dir = data
p2p_listen = 127.0.0.1:$((base + 100 + i))
api_listen = 127.0.0.1:$((base + i))
EOF
    (cd "$node" && exec "$provd" --config provd.conf >>provd.log 2>&1) &
    pids+=($!)
    node_pids[$i]=$!
  done
}
declare -a node_pids
start_nodes
export PROV_HOME=$net
# Wait (bounded) until a node commits.
deadline=$((SECONDS + 60))
until python3 -c "import json,sys,urllib.request; sys.exit(0 if int(json.load(urllib.request.urlopen('http://127.0.0.1:$((base + 1))/v1/status',timeout=1))['height'])>=1 else 1)" 2>/dev/null; do
  ((SECONDS < deadline)) || { fail "network did not commit within 60 s"; tail "$net"/node1/provd.log >&2; exit 1; }
  kill -0 "${node_pids[1]}" 2>/dev/null || { fail "node 1 exited"; tail "$net"/node1/provd.log >&2; exit 1; }
  sleep 0.2
done
cd "$work" || exit 1

echo "== anchor, verify, access"
printf 'id,amount\n1,20\n' >sales.csv
printf 'model weights\n' >model.bin
expect 0 "anchor sales" -- "$provctl" anchor sales.csv --dataset demo/sales --meta source=erp
expect 0 "anchor model derived from sales" -- "$provctl" anchor model.bin --dataset demo/model --derived-from demo/sales@1
expect 0 "checkpoint --save old" -- "$provctl" checkpoint --save old.note
has_out "verified against the genesis"
expect 0 "verify sales.csv" -- "$provctl" verify sales.csv
has_out "anchored:  demo/sales@1"; has_out "by:        agency demo, key demo/client"; has_out "completeness is NOT yet proven"
expect 0 "verify --json" -- "$provctl" --json verify model.bin
has_out '"verified": true'
printf 'never anchored\n' >other.txt
expect 1 "verify an unanchored file" -- "$provctl" verify other.txt
has_err "no anchor of other.txt"
expect 0 "access with a subject" -- "$provctl" access --dataset demo/sales@1 --action export --purpose "quarterly statistics" \
  --legal-basis "Statistics Act 5" --subject citizen-4711 --receipt access.tlog-proof
has_out "keyed hash"
if grep -rq "citizen-4711" "$net"/node*/data 2>/dev/null || grep -q "citizen-4711" access.tlog-proof; then
  fail "the raw subject id reached the ledger"
else
  echo "ok: the raw subject id is nowhere on the nodes"
fi
expect 0 "access --json" -- "$provctl" --json access --dataset demo/sales --action read --purpose audit --subject citizen-4711
python3 - "$net/agency.secret" "$work/out" <<'PY' || fail "subject_hash is not keyed BLAKE2b-256 of the subject under agency.secret"
import hashlib, json, sys
want = hashlib.blake2b(b"citizen-4711", key=open(sys.argv[1], "rb").read(), digest_size=32).hexdigest()
assert json.load(open(sys.argv[2]))["entry"]["subject_hash"] == want
print("ok: subject_hash = BLAKE2b-256(key = agency.secret, subject), as any BLAKE2b computes it")
PY
expect 2 "access with an unknown action" -- "$provctl" access --dataset demo/sales --action steal --purpose x

echo "== history and lineage"
expect 0 "history" -- "$provctl" history demo/sales
has_out "export of demo/sales@1"; has_out "completeness is NOT yet proven"
expect 0 "lineage upstream" -- "$provctl" lineage demo/model@1 --direction upstream --depth 3
has_out "demo/model@1 <- demo/sales@1"
expect 0 "lineage dot" -- "$provctl" lineage demo/sales --direction downstream --format dot
has_out "digraph lineage"
expect 0 "lineage prov-json" -- "$provctl" lineage demo/model@1 --direction both --format prov-json
cp "$work/out" lineage.prov.json
python3 - lineage.prov.json <<'PY' || fail "PROV-JSON structure"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("prefix", "entity", "activity", "agent", "wasDerivedFrom", "used", "wasAttributedTo", "wasGeneratedBy"):
    assert k in d, k
assert "ds:demo/model@1" in d["entity"] and "ds:demo/sales@1" in d["entity"]
wdf = list(d["wasDerivedFrom"].values())[0]
assert wdf["prov:generatedEntity"] == "ds:demo/model@1" and wdf["prov:usedEntity"] == "ds:demo/sales@1"
print("ok: PROV-JSON has entity, activity, agent, wasDerivedFrom, used, wasAttributedTo")
PY
expect 2 "lineage bad direction" -- "$provctl" lineage demo/sales --direction sideways
expect 1 "lineage of an unknown dataset" -- "$provctl" lineage demo/nope

echo "== batch"
mkdir -p recs
for i in 1 2 3; do echo "record $i" >recs/r$i.txt; done
{
  echo '{"path": "recs/r1.txt", "id": "r1"}'
  echo '{"path": "recs/r2.txt", "id": "r2"}'
  echo "{\"digest\": \"$(sha256sum recs/r3.txt | cut -c1-64)\", \"id\": \"r3\", \"dataset\": \"demo/records\"}"
} >batch.ndjson
expect 0 "anchor --batch" -- "$provctl" anchor --batch batch.ndjson --dataset demo/records
has_out "3 records"
expect 0 "batch record proof with its file" -- "$provctl" receipt verify batch.ndjson.proofs/r3.batch-proof --file recs/r3.txt
has_out "is record 2 of 3"
expect 1 "batch record proof with another file" -- "$provctl" receipt verify batch.ndjson.proofs/r3.batch-proof --file recs/r1.txt
sed 's/^index 2$/index 1/' batch.ndjson.proofs/r3.batch-proof >bad-index.batch-proof
expect 1 "batch record proof with a wrong index" -- "$provctl" receipt verify bad-index.batch-proof
echo '{"path": "recs/r1.txt", "colour": "red"}' >bad.ndjson
expect 1 "batch with an unknown key" -- "$provctl" anchor --batch bad.ndjson --dataset demo/records
has_err 'unexpected key "colour"'

echo "== checkpoints and audit"
expect 0 "checkpoint --save new" -- "$provctl" checkpoint --save new.note
expect 0 "consistency old new" -- "$provctl" consistency old.note new.note
has_out "the log only grew"
expect 1 "consistency new old (shrinking log)" -- "$provctl" consistency new.note old.note
has_err "the log shrank"
expect 0 "audit" -- "$provctl" audit
has_out ": OK"
expect 0 "audit --json range" -- "$provctl" --json audit --from 2 --to 3
has_out '"verified": true'

echo "== nodes that lie"
lie_port=$((base + 9))
for mode in consistency digest lineage receipt behind; do
  python3 "$here/lying_node.py" "$lie_port" "$((base + 1))" "$mode" &
  liar=$!
  pids+=($liar)
  mkdir -p "liar-$mode"
  cp "$net/genesis.json" "$net/client.key" "liar-$mode/"
  printf 'genesis = genesis.json\nkey = client.key\nagency = demo\nnode = http://127.0.0.1:%s\n' "$lie_port" \
    >"liar-$mode/provctl.conf"
  deadline=$((SECONDS + 10))
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $lie_port), 1)" 2>/dev/null; do
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  case $mode in
    consistency) expect 1 "lying consistency proof" -- "$provctl" --home "liar-$mode" consistency old.note new.note
                 has_err "not proven a prefix" ;;
    digest) expect 1 "lying digest lookup" -- "$provctl" --home "liar-$mode" verify model.bin
            has_err "but it is not" ;;
    lineage) expect 1 "lying lineage edge" -- "$provctl" --home "liar-$mode" lineage demo/model@1 --direction upstream
             has_err "its verified anchor does not say so" ;;
    receipt) expect 1 "lying receipt" -- "$provctl" --home "liar-$mode" verify model.bin
             has_err "does not verify" ;;
    behind) # Alone, its answer stands (not "no node reachable"); with a node after it, provctl fails over.
            expect 1 "only a node without a checkpoint" -- "$provctl" --home "liar-$mode" verify model.bin
            has_err "no_checkpoint"
            printf 'node = http://127.0.0.1:%s\n' "$((base + 2))" >>"liar-$mode/provctl.conf"
            expect 0 "fail-over from a node without a checkpoint" -- "$provctl" --home "liar-$mode" verify model.bin ;;
  esac
  kill "$liar"; wait "$liar" 2>/dev/null
done

echo "== offline, with the network stopped"
for p in "${node_pids[@]}"; do kill "$p"; done
for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null; done
expect 3 "checkpoint with no node" -- "$provctl" checkpoint
expect 0 "receipt verify offline" -- "$provctl" receipt verify sales.csv.tlog-proof --file sales.csv
has_out "by:        agency demo, key demo/client"; has_out "signed by"
expect 0 "receipt verify --genesis --json" -- "$provctl" --json receipt verify model.bin.tlog-proof --genesis "$net/genesis.json"
expect 0 "access receipt offline" -- "$provctl" receipt verify access.tlog-proof
expect 1 "receipt verify with the wrong file" -- "$provctl" receipt verify sales.csv.tlog-proof --file model.bin
has_err "not the anchored content"
python3 - model.bin.tlog-proof <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
def write(name, ls): open(name, "w").write("\n".join(ls))
def flip(b64, i):
    raw = bytearray(base64.b64decode(b64)); raw[i] ^= 1; return base64.b64encode(bytes(raw)).decode()
extra = lines[1][len("extra "):]
raw = base64.b64decode(extra)
write("t-extra-tail.tlog-proof", [lines[0], "extra " + flip(extra, len(raw) - 1)] + lines[2:])
# A byte inside the anchored digest: still a canonical entry, another leaf.
write("t-extra-digest.tlog-proof", [lines[0], "extra " + flip(extra, raw.index(b"demo/model") + 14)] + lines[2:])
write("t-path.tlog-proof", lines[:3] + [flip(lines[3], 0)] + lines[4:])
blank = lines.index("", 3)
write("t-root.tlog-proof", lines[:blank + 3] + [flip(lines[blank + 3], 0)] + lines[blank + 4:])
sig = [i for i, l in enumerate(lines) if l.startswith("\u2014")]
write("t-few.tlog-proof", [l for i, l in enumerate(lines) if i not in sig[2:]])
name, s = lines[sig[0]].rsplit(" ", 1)
write("t-forged.tlog-proof", lines[:sig[0]] + [name + " " + flip(s, 20)] + lines[sig[0] + 1:])
PY
for t in extra-tail extra-digest path root few forged; do
  expect 1 "tampered receipt: $t" -- "$provctl" receipt verify "t-$t.tlog-proof"
  has_err "does not verify"
done
has_err "invalid signature"
expect 1 "too few signatures names the counts" -- "$provctl" receipt verify t-few.tlog-proof
has_err "needs 3 of 4"
"$provctl" genesis localnet --validators 4 --out other --base-port "$base" >/dev/null
expect 1 "receipt verify against another network's genesis" -- "$provctl" receipt verify sales.csv.tlog-proof --genesis other/genesis.json
has_err "from another network"
expect 2 "receipt verify usage" -- "$provctl" receipt verify
expect 1 "receipt verify of a missing file" -- "$provctl" receipt verify nope.tlog-proof

if ((failures)); then
  echo "provctl journey: $failures check(s) failed" >&2
  exit 1
fi
echo "provctl journey: all checks passed"
