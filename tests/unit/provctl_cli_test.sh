#!/usr/bin/env bash
# provctl end to end at the shell: localnet generation, file modes, genesis
# editing and validation, keygen refusal to overwrite, and exit codes
# (0 ok, 1 failed, 2 usage). Usage: provctl_cli_test.sh PATH/TO/provctl
set -uo pipefail
provctl=${1:?usage: $0 PATH/TO/provctl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect CODE CMD...: runs CMD (output to $tmp/out, $tmp/err) and checks its exit code.
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [[ $got == "$want" ]] || fail "exit $got (want $want): $* -- $(cat "$tmp/err")"
}
mode_of() { stat -c %a "$1"; }
check_mode() { [[ -e $1 && $(mode_of "$1") == "$2" ]] || fail "$1: mode $(mode_of "$1" 2>/dev/null) (want $2)"; }

# localnet: every file there with the right modes, and a valid genesis.
ln="$tmp/ln"
expect 0 "$provctl" genesis localnet --validators 4 --out "$ln" --base-port 7300
for i in 1 2 3 4; do check_mode "$ln/node$i/node.key" 600; done
check_mode "$ln/client.key" 600
check_mode "$ln/agency.secret" 600
[[ $(stat -c %s "$ln/agency.secret") == 32 ]] || fail "agency.secret is not 32 bytes"
[[ -s $ln/genesis.json ]] || fail "genesis.json missing"
grep -q '^node = http://127.0.0.1:7301$' "$ln/provctl.conf" || fail "provctl.conf lacks node 1 at base+1"
grep -q '^node = http://127.0.0.1:7304$' "$ln/provctl.conf" || fail "provctl.conf lacks node 4"
grep -q '"address": "127.0.0.1:7404"' "$ln/genesis.json" || fail "validator-4 peer address is not base+100+4"
expect 0 "$provctl" genesis validate "$ln/genesis.json"
grep -q 'validators: *4 (quorum 3)' "$tmp/out" || fail "validate output: $(cat "$tmp/out")"
expect 0 "$provctl" genesis validate "$ln/genesis.json" --json
grep -q '"ok": true' "$tmp/out" || fail "validate --json output: $(cat "$tmp/out")"
# A second run refuses to overwrite; --force replaces the keys.
before=$(cat "$ln/node1/node.key")
expect 1 "$provctl" genesis localnet --validators 4 --out "$ln" --base-port 7300
[[ $(cat "$ln/node1/node.key") == "$before" ]] || fail "refused localnet still changed node1/node.key"
expect 0 "$provctl" genesis localnet --validators 4 --out "$ln" --base-port 7300 --force
[[ $(cat "$ln/node1/node.key") != "$before" ]] || fail "--force did not replace node1/node.key"
check_mode "$ln/node1/node.key" 600

# The localnet dir is a provctl home for the demo agency.
expect 0 "$provctl" --home "$ln" home show --json
grep -q '"nodes": \["http://127.0.0.1:7301", ' "$tmp/out" || fail "home show --json: $(cat "$tmp/out")"
PROV_HOME="$ln" expect 0 "$provctl" home show
expect 1 env -u PROV_HOME "$provctl" home show
cp -r "$ln" "$tmp/ln2"
echo 'colour = blue' >>"$tmp/ln2/provctl.conf"
expect 1 "$provctl" --home "$tmp/ln2" home show
grep -q 'unknown key "colour"' "$tmp/err" || fail "home show unknown key: $(cat "$tmp/err")"
sed -i '/^colour/d' "$tmp/ln2/provctl.conf"
echo 'node = https://127.0.0.1:7399' >>"$tmp/ln2/provctl.conf"
expect 1 "$provctl" --home "$tmp/ln2" home show  # provctl speaks plain HTTP only
grep -q 'must start with http://' "$tmp/err" || fail "home show https node: $(cat "$tmp/err")"
sed -i '/^node = https/d' "$tmp/ln2/provctl.conf"
echo 'colour = blue' >>"$tmp/ln2/provctl.conf"
cp "$ln/node1/node.key" "$tmp/ln2/client.key"
sed -i '/^colour/d' "$tmp/ln2/provctl.conf"
expect 1 "$provctl" --home "$tmp/ln2" home show  # a validator key is not the demo agency's key

# keygen: writes 0600, refuses to overwrite, --force overwrites.
expect 0 "$provctl" keygen --out "$tmp/a.key" --name alice --json
grep -q '"vkey": "alice+' "$tmp/out" || fail "keygen --json lacks the vkey: $(cat "$tmp/out")"
check_mode "$tmp/a.key" 600
expect 1 "$provctl" keygen --out "$tmp/a.key" --name alice
grep -q 'already exists' "$tmp/err" || fail "keygen overwrite message: $(cat "$tmp/err")"
expect 0 "$provctl" keygen --out "$tmp/a.key" --name alice --force
# Sealed key: the passphrase file must be private.
printf 'correct horse\n' >"$tmp/pass" && chmod 600 "$tmp/pass"
expect 0 "$provctl" keygen --out "$tmp/s.key" --passphrase-file "$tmp/pass" --kdf interactive
grep -q '^sealed argon2id13 ' "$tmp/s.key" || fail "sealed key file has no sealed line"
chmod 644 "$tmp/pass"
expect 1 "$provctl" keygen --out "$tmp/s2.key" --passphrase-file "$tmp/pass" --kdf interactive

# Operator flow: init, add-*, validate.
g="$tmp/g.json"
expect 0 "$provctl" genesis init --chain-id test-1 --out "$g"
expect 1 "$provctl" genesis validate "$g"  # no validators yet
pub=$(sed -n 's/^public //p' "$tmp/a.key")
expect 0 "$provctl" genesis add-validator --genesis "$g" --name validator-1 --pub-key "$pub" --address n1:7101
expect 1 "$provctl" genesis add-validator --genesis "$g" --name validator-2 --pub-key "$pub" --address n2:7101
expect 0 "$provctl" genesis add-observer --genesis "$g" --name mirror-1 --key-file "$ln/node1/node.key" --address m:1
expect 0 "$provctl" genesis add-agency --genesis "$g" --id stats --namespace stats --roles writer,auditor \
  --key "pipeline:$(sed -n 's/^public //p' "$ln/client.key")"
expect 0 "$provctl" genesis validate "$g"

# Usage errors exit 2; bad input files exit 1.
expect 2 "$provctl"
expect 2 "$provctl" no-such-verb
expect 2 "$provctl" genesis
expect 2 "$provctl" keygen --bogus
expect 2 "$provctl" keygen --name 'bad+name'
expect 2 "$provctl" genesis localnet --validators 0 --out "$tmp/x"
expect 2 "$provctl" genesis localnet --out "$tmp/x" --base-port 70000
expect 2 "$provctl" genesis init --chain-id 'Bad Id' --out "$tmp/x.json"
expect 2 "$provctl" genesis add-validator --genesis "$g" --name v --pub-key not-base64 --address a:1
expect 2 "$provctl" genesis add-agency --genesis "$g" --id x --namespace x --roles root --key "$pub"
expect 1 "$provctl" genesis validate "$tmp/missing.json"
printf '{"version": 1, "surprise": true}' >"$tmp/unknown.json"
expect 1 "$provctl" genesis validate "$tmp/unknown.json"
head -c 3000 /dev/urandom >"$tmp/garbage.json"
expect 1 "$provctl" genesis validate "$tmp/garbage.json"
expect 0 "$provctl" genesis localnet --help
grep -q 'Example' "$tmp/out" || fail "localnet --help has no example"

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "provctl CLI: all checks passed"
