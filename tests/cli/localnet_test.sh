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

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect CODE DESCRIPTION -- COMMAND...: runs it, checks the exit code.
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got != "$want" ]]; then
    fail "$what: exit $got, want $want"
    sed 's/^/    stdout: /' "$work/out" >&2
    sed 's/^/    stderr: /' "$work/err" >&2
  else
    echo "ok: $what (exit $got)"
  fi
}
has_out() { grep -qF -- "$1" "$work/out" || fail "stdout lacks \"$1\": $(head -c 400 "$work/out")"; }
has_err() { grep -qF -- "$1" "$work/err" || fail "stderr lacks \"$1\": $(head -c 400 "$work/err")"; }

free_base() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 60000, 200)
    ports = [base + i for i in range(1, 5)] + [base + 100 + i for i in range(1, 5)]
    socks = []
    try:
        for p in ports:
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}
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
# Node 1 catches up to the height node 2 has now (bounded wait, polled).
target=$(height_of 2)
deadline=$((SECONDS + 60))
until h=$(height_of 1) && [[ -n "$h" && -n "$target" && "$h" -ge "$target" ]]; do
  ((SECONDS < deadline)) || { fail "node 1 at height ${h:-?} did not reach $target within 60 s"; break; }
  sleep 0.2
done
# With nothing new to commit, node 1 still comes to serve a cosigned
# checkpoint of that head: the others hand it their signatures on link-up.
checkpoint_size() {  # the tree size of node $1's served checkpoint, or nothing
  python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$((base + $1))/v1/checkpoint',timeout=1).read().decode().split(chr(10))[1])" 2>/dev/null
}
want=$(checkpoint_size 2)
deadline=$((SECONDS + 30))
until c=$(checkpoint_size 1) && [[ -n "$c" && -n "$want" && "$c" -ge "$want" ]]; do
  ((SECONDS < deadline)) || { fail "node 1 serves no checkpoint of size ${want:-?} within 30 s (has ${c:-none})"; break; }
  sleep 0.2
done
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
