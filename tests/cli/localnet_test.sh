#!/usr/bin/env bash
# tools/localnet as a new user drives it (issue 4's "done when"): start a
# four-validator net, anchor with PROV_HOME=DIR, SIGKILL a node and anchor
# again (provctl fails over when the node is the first URL), `start` restarts
# only the node that is down and it catches up, the shape of an existing DIR is
# refused rather than silently ignored, and `stop` leaves no process behind.
#
# usage: localnet_test.sh BUILD_DIR
# Ports: PROV_TEST_BASE_PORT if set, else a free block found at random.
set -uo pipefail
build=$(realpath "${1:?usage: localnet_test.sh BUILD_DIR}")
root=$(cd "$(dirname "$0")/../.." && pwd)
localnet=$root/tools/localnet
provctl=$build/tools/provctl
export PROV_BUILD_DIR=$build
work=$(mktemp -d /tmp/localnet-test.XXXXXX)
dir=$work/net
failures=0

cleanup() {
  "$localnet" stop --dir "$dir" >/dev/null 2>&1
  if ((failures == 0)); then rm -rf "$work"; else echo "kept $work for inspection" >&2; fi
}
trap cleanup EXIT

# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
base=${PROV_TEST_BASE_PORT:-$(free_base)}
height_of() {  # node $1's committed height, or nothing if it does not answer
  python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$((base + $1))/v1/status',timeout=1))['height'])" 2>/dev/null
}
pid_of() { cat "$dir/node$1/provd.pid"; }

expect 0 "localnet start" -- "$localnet" start --dir "$dir" --base-port "$base"
has_out "4 validators are committing blocks"
has_out "PROV_HOME=$dir"
expect 0 "localnet status" -- "$localnet" status --dir "$dir"
[[ $(grep -c ': running' "$work/out") == 4 ]] || fail "status does not show 4 nodes up: $(cat "$work/out")"
for i in 1 2 3 4; do
  [[ -f "$dir/node$i/provd.log" && -f "$dir/node$i/provd.conf" && -d "$dir/node$i/data" ]] || fail "node$i files missing"
done

cd "$work" || exit 1
echo hello >hello.txt
PROV_HOME=$dir expect 0 "anchor on the fresh net" -- "$provctl" anchor hello.txt --dataset demo/hello
[[ -s hello.txt.tlog-proof ]] || fail "anchor wrote no hello.txt.tlog-proof"
PROV_HOME=$dir expect 0 "verify the receipt" -- "$provctl" verify hello.txt

# Node 1 is the home's first URL: with it down, provctl must fail over.
old1=$(pid_of 1)
others=("$(pid_of 2)" "$(pid_of 3)" "$(pid_of 4)")
expect 0 "localnet kill 1" -- "$localnet" kill 1 --dir "$dir"
kill -0 "$old1" 2>/dev/null && fail "node 1 (pid $old1) still runs after kill"
echo again >again.txt
PROV_HOME=$dir expect 0 "anchor with node 1 down (fails over)" -- "$provctl" anchor again.txt --dataset demo/again
expect 0 "localnet status with node 1 down" -- "$localnet" status --dir "$dir"
has_out "node 1: down"

expect 0 "localnet start restarts only node 1" -- "$localnet" start --dir "$dir"
has_out "started node 1"
grep -q "started node [234]" "$work/out" && fail "start restarted a node that was up: $(cat "$work/out")"
[[ "$(pid_of 2) $(pid_of 3) $(pid_of 4)" == "${others[*]}" ]] || fail "the running nodes' pids changed"
# reaches WHAT SECONDS PROBE ARG TARGET: polls `PROBE ARG` (prints a number,
# or nothing) until it prints TARGET or more; a failure after SECONDS.
reaches() {
  local what=$1 seconds=$2 probe=$3 arg=$4 target=$5 got
  local deadline=$((SECONDS + seconds))
  until got=$("$probe" "$arg") && [[ -n "$got" && -n "$target" && "$got" -ge "$target" ]]; do
    ((SECONDS < deadline)) || { fail "$what: ${got:-nothing}, not ${target:-?}, after $seconds s"; return; }
    sleep 0.2
  done
}
checkpoint_size() {  # the tree size of node $1's served checkpoint, or nothing
  python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$((base + $1))/v1/checkpoint',timeout=1).read().decode().split(chr(10))[1])" 2>/dev/null
}
# Node 1 catches up to the height node 2 has now, and serves a cosigned
# checkpoint as large as node 2's (its kept one at once, then newer ones).
reaches "node 1's height" 60 height_of 1 "$(height_of 2)"
reaches "node 1's checkpoint size" 30 checkpoint_size 1 "$(checkpoint_size 2)"
PROV_HOME=$dir expect 0 "verify the anchor made while node 1 was down" -- "$provctl" verify again.txt

# An existing DIR keeps its shape.
expect 2 "start with another --validators" -- "$localnet" start --dir "$dir" --validators 5
has_err "shape a new directory only"

pids=("$(pid_of 1)" "${others[@]}")
expect 0 "localnet stop" -- "$localnet" stop --dir "$dir"
has_out "stopped 4 node(s)"
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && fail "pid $p still runs after stop"; done
expect 0 "localnet status after stop" -- "$localnet" status --dir "$dir"
[[ $(grep -c ': down' "$work/out") == 4 ]] || fail "status after stop: $(cat "$work/out")"

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "localnet test: all passed"
