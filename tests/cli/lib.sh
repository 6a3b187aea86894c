# Helpers shared by the shell tests in tests/cli/ (sourced). The test sets
# `work` (its temporary directory) and `failures=0` before sourcing.

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect CODE DESCRIPTION -- COMMAND...: runs it, checks the exit code; its
# stdout and stderr are left in $work/out and $work/err.
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
# Checks the last command's stdout/stderr contains a string.
has_out() { grep -qF -- "$1" "$work/out" || fail "stdout lacks \"$1\": $(head -c 400 "$work/out")"; }
has_err() { grep -qF -- "$1" "$work/err" || fail "stderr lacks \"$1\": $(head -c 400 "$work/err")"; }

# A base port P with P+1..P+9 and P+101..P+104 free on 127.0.0.1 (the API and
# peer ports of a four-validator net, and a few more), found at random.
free_base() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 60000, 200)
    ports = [base + i for i in range(1, 10)] + [base + 100 + i for i in range(1, 5)]
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
