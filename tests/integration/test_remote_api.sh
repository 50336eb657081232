#!/bin/bash
# The HTTPS API with mutual TLS and asterctl --server (issue 12), certificates made here
# with certtool (tests/integration/certs.sh):
# - no client certificate, one of another CA, an expired one: refused at the handshake,
#   and aster-control logs who and why; a certificate of the CA that no role names: 403;
# - asterctl --server runs the CLI scenario of test_control_cli.sh (cli_scenario.sh) with
#   the same output, errors and exit statuses as on the local socket, its server and
#   certificate from its config file; a bad config file is one line FILE:LINE: key;
# - the read role (desk-bob) reads; its changes get 403 and are audited as denied with
#   its identity and address;
# - bad input to every endpoint gets a one-line JSON 4xx and leaves the table alone
#   (tests/tools/api_bad_input.py); the plain HTTP listener stays read-only;
# - the write role (ops-alice): a change is in force in a live dataplane (net_null ports)
#   when asterctl --server returns, and audited with the identity and the address;
# - /metrics passes promtool (Prometheus's parser and linter).
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/certs.sh"
. "$(dirname "$0")/control.sh"

ASTERCTL="$BUILD/control/asterctl"
DP_PID=""
PREFIX="aster-remote-$$"
stop_dataplane() {
	if [ -n "$DP_PID" ]; then
		kill "$DP_PID" 2>/dev/null || true
		wait "$DP_PID" 2>/dev/null || true
		DP_PID=""
	fi
	rm -rf "/var/run/dpdk/$PREFIX"
}
trap 'control_stop; stop_dataplane; [ "${KEEP:-0}" = 1 ] && echo "kept $W" || { chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"; }' EXIT

make_certs "$W/certs"
C="$W/certs"
PORT=$(free_port)
HTTPS=$(free_port)
URL="https://127.0.0.1:$HTTPS"
{
	control_settings "$PORT"
	cat <<YAML
max_subscribers: 6
max_patterns_per_subscriber: 16
max_pattern_length: 40
https_max_body: 65536
YAML
	https_settings "$C" "$HTTPS"
} >"$W/settings.yaml"

remote() { # remote CERT-NAME: asterctl --server with that client certificate
	echo "$ASTERCTL" --server "$URL" --cert "$C/$1.pem" --key "$C/$1.key" --cacert "$C/ca.pem"
}
read -r -a ALICE <<<"$(remote ops-alice)"
read -r -a BOB <<<"$(remote desk-bob)"
CONTROL_READY=("${ALICE[@]}" status)
control_start

# The handshake: refused without a certificate of tls_client_ca valid now.
handshake() { # handshake NAME WHY [CURL-OPTIONS...]: curl must get no HTTP answer at all
	local name=$1 why=$2 rc=0 code
	shift 2
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$C/ca.pem" "$@" "$URL/api/v1/status") || rc=$?
	[ "$rc" != 0 ] && [ "$code" = 000 ] || fail "$name: not refused at the handshake (curl $rc, HTTP $code)"
	for _ in $(seq 50); do
		grep -F "refused at the handshake: " "$W/control.log" | grep -qF "$why" && break
		sleep 0.1
	done
	grep -F "refused at the handshake: " "$W/control.log" | grep -qF "$why" ||
		fail "$name: aster-control did not log '$why': $(tail -n 2 "$W/control.log")"
	echo "$name: refused at the handshake (curl exit $rc): $(grep -F "refused at the handshake: " "$W/control.log" | grep -F "$why" | tail -n 1)"
}
handshake no-certificate "no client certificate"
handshake other-ca "The certificate issuer is unknown" --cert "$C/other-alice.pem" --key "$C/other-alice.key"
handshake expired "expired" --cert "$C/expired.pem" --key "$C/expired.key"
code=$(curl -s -o "$W/eve.json" -w '%{http_code}' --cacert "$C/ca.pem" --cert "$C/eve.pem" \
	--key "$C/eve.key" "$URL/api/v1/status")
[ "$code" = 403 ] && grep -qF '"eve\" is not in read_certs or write_certs' "$W/eve.json" ||
	fail "eve (no role): HTTP $code: $(cat "$W/eve.json")"
echo "eve (no role): 403: $(cat "$W/eve.json")"

# asterctl's config file (docs/console.md, "asterctl --server"): a path relative to the
# file, one under ~/, one absolute; read from --config, $ASTERCTL_CONFIG and
# ~/.config/aster/asterctl.conf; options win over it. A bad one: one line FILE:LINE: key,
# exit 2.
mkdir -p "$W/desk/.config/aster" "$W/desk/tls"
cp "$C/ops-alice.pem" "$W/desk/.config/aster/alice.pem"
cp "$C/ops-alice.key" "$W/desk/tls/alice.key"
printf '# ops-alice on her desk\nserver: %s\ncert: alice.pem\nkey: ~/tls/alice.key\ncacert: %s\n' \
	"$URL" "$C/ca.pem" >"$W/desk/.config/aster/asterctl.conf"
conf_bad() { # conf_bad NAME 'EXPECTED ERROR' < config text
	local rc=0
	cat >"$W/$1.conf"
	HOME="$W/desk" "$ASTERCTL" --config "$W/$1.conf" status >/dev/null 2>"$W/$1.err" || rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l <"$W/$1.err")" = 1 ] && grep -qxF "asterctl: $W/$1.conf:$2" "$W/$1.err" ||
		fail "config $1: exit $rc: $(cat "$W/$1.err") (want $W/$1.conf:$2)"
	echo "config $1: exit 2: $(cat "$W/$1.err")"
}
printf 'server: %s\ncert: alice.pem\nkey: k\nkeey: x\n' "$URL" |
	conf_bad unknown-key '4: keey: unknown key (expected one of: server, cert, key, cacert, socket)'
printf 'server: http://127.0.0.1:%s\ncert: a\nkey: b\n' "$HTTPS" |
	conf_bad not-https "1: server: \"http://127.0.0.1:$HTTPS\" is not https://HOST:PORT"
printf 'server: %s\ncert: %s\nkey: nokey.pem\n' "$URL" "$C/ops-alice.pem" |
	conf_bad no-key-file "3: key: cannot read \"$W/nokey.pem\": No such file or directory"
printf 'server: %s\ncert: %s\n' "$URL" "$C/ops-alice.pem" |
	conf_bad no-key '1: server: needs cert and key (a client certificate)'
printf 'server: %s\nsocket: /run/x.sock\n' "$URL" | conf_bad both '2: socket: excludes server (one or the other)'
printf 'server: [a\n' | conf_bad syntax "2: syntax error: did not find expected ',' or ']'"
RC=0
ASTERCTL_CONFIG="$W/absent.conf" "$ASTERCTL" status >/dev/null 2>"$W/absent.err" || RC=$?
[ "$RC" = 2 ] && grep -qxF "asterctl: $W/absent.conf: cannot read: No such file or directory" "$W/absent.err" ||
	fail "\$ASTERCTL_CONFIG naming no file: exit $RC: $(cat "$W/absent.err")"
HOME="$W/desk" "$ASTERCTL" status -o json >"$W/conf_home.json" 2>&1 ||
	fail "asterctl with ~/.config/aster/asterctl.conf: $(cat "$W/conf_home.json")"
printf 'server: %s\ncert: %s\nkey: %s\ncacert: %s\n' "$URL" "$C/ops-alice.pem" "$C/ops-alice.key" \
	"$C/ca.pem" >"$W/env.conf"
env HOME=/nonexistent ASTERCTL_CONFIG="$W/env.conf" "$ASTERCTL" get feeds >"$W/conf_env.out" 2>&1 ||
	fail "asterctl with \$ASTERCTL_CONFIG: $(cat "$W/conf_env.out")"
echo "config: ~/.config/aster/asterctl.conf and \$ASTERCTL_CONFIG drive the remote API"

# The CLI scenario of test_control_cli.sh, through the HTTPS API, with the config file.
ACTL=(env HOME="$W/desk" "$ASTERCTL" --config "$W/desk/.config/aster/asterctl.conf")
. "$(dirname "$0")/cli_scenario.sh"
gen feed --messages 2000 --symbols 50 --subscribers 4 --seed 5
cli_scenario "$W/feed/routing.yaml"

# The read role: reads as the write role does, changes refused and audited as denied.
V=$(version)
"${ALICE[@]}" get subscribers >"$W/alice_get.out"
"${BOB[@]}" get subscribers >"$W/bob_get.out" 2>&1 || fail "desk-bob cannot read: $(cat "$W/bob_get.out")"
cmp -s "$W/alice_get.out" "$W/bob_get.out" || fail "desk-bob reads another table than ops-alice"
RC=0
"${BOB[@]}" add-pattern sub0001 '^ZZZ$' >"$W/bob_add.out" 2>"$W/bob_add.err" || RC=$?
[ "$RC" = 1 ] && [ "$(wc -l <"$W/bob_add.err")" = 1 ] &&
	grep -qF 'permission denied: "desk-bob" may not change the table (add-pattern); not in write_certs' "$W/bob_add.err" ||
	fail "desk-bob changed the table: exit $RC: $(cat "$W/bob_add.out" "$W/bob_add.err")"
code=$(curl -s -o "$W/bob_post.json" -w '%{http_code}' --cacert "$C/ca.pem" --cert "$C/desk-bob.pem" \
	--key "$C/desk-bob.key" -H 'Content-Type: application/json' \
	--data '{"subscriber": "sub0001", "pattern": "^YYY$"}' "$URL/api/v1/add-pattern")
[ "$code" = 403 ] && grep -qF '"kind":"denied"' "$W/bob_post.json" ||
	fail "desk-bob POST add-pattern: HTTP $code: $(cat "$W/bob_post.json")"
[ "$(version)" = "$V" ] || fail "the read role moved the version from $V to $(version)"
echo "desk-bob (read): reads; changes refused: $(cat "$W/bob_add.err")"
# Options win over the config file: ops-alice's file with desk-bob's certificate is bob.
RC=0
HOME="$W/desk" "$ASTERCTL" --cert "$C/desk-bob.pem" --key "$C/desk-bob.key" add-pattern sub0001 '^ZZZ$' \
	>/dev/null 2>"$W/bob_conf.err" || RC=$?
[ "$RC" = 1 ] && grep -qF '"desk-bob" may not change the table' "$W/bob_conf.err" ||
	fail "--cert over the config file: exit $RC: $(cat "$W/bob_conf.err")"

# Bad input to every endpoint: 4xx, one line, the table unchanged. The YAML error must
# read as asterctl on the appliance prints it.
sed -e 's/^\( *\)session: SUB0000002$/\1sesion: SUB0000002/' "$W/feed/routing.yaml" >"$W/typo.yaml"
grep -q 'sesion:' "$W/typo.yaml" || fail "could not plant a YAML error"
RC=0
"$ASTERCTL" --socket "$W/sock/asterctl.sock" apply -f "$W/typo.yaml" >/dev/null 2>"$W/typo.err" || RC=$?
[ "$RC" = 1 ] && grep -q 'typo.yaml:[0-9]*: ' "$W/typo.err" || fail "local apply of typo.yaml: exit $RC: $(cat "$W/typo.err")"
"${ALICE[@]}" get subscribers -o json >"$W/before.json"
/usr/bin/python3 "$ROOT/tests/tools/api_bad_input.py" --url "$URL" --cacert "$C/ca.pem" \
	--cert "$C/ops-alice.pem" --key "$C/ops-alice.key" --max-body 65536 --bad-yaml "$W/typo.yaml" \
	--bad-yaml-error "$(sed 's/^asterctl: //' "$W/typo.err")" --plain "http://127.0.0.1:$PORT" \
	>"$W/bad_input.log" 2>&1 || fail "$(tail -n 1 "$W/bad_input.log")"
cat "$W/bad_input.log"
"${ALICE[@]}" get subscribers -o json >"$W/after.json"
cmp -s "$W/before.json" "$W/after.json" || fail "bad input changed the table"
[ "$(version)" = "$V" ] || fail "bad input moved the version from $V to $(version)"

# The audit log: changes over HTTPS carry the certificate's identity and the address.
/usr/bin/python3 - "$W/audit.log" <<'PY' || fail "audit log: $(tail -n 3 "$W/audit.log")"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
remote = [l for l in lines if "identity" in l]
assert remote and all("uid" not in l and re.fullmatch(r"127\.0\.0\.1:\d+", l["address"]) for l in remote), remote[:2]
def find(who, prefix, result):
    return [l for l in remote if l["identity"] == who and l["command"].startswith(prefix)
            and l["result"].startswith(result)]
assert find("ops-alice", "apply -f", "ok")[0]["after"] == 1, remote[:3]
assert find("ops-alice", "add-subscriber s5", "ok"), remote
assert find("ops-alice", "add-subscriber s7", "error: limit"), remote
denied = find("desk-bob", "add-pattern sub0001", "denied")
assert len(denied) == 3 and all(d["before"] == d["after"] for d in denied), denied
assert not [l for l in remote if l["identity"] not in ("ops-alice", "desk-bob")], remote
print("audit: %d changes over HTTPS, each with identity and address; desk-bob denied 3 times" % len(remote))
PY
cli_health_down

# A live dataplane (net_null ports): a change by the write role is in force when
# asterctl --server returns.
sed -e 's|^  - {name: in0, dev: .*|  - {name: in0, dev: "net_null0,no-rx=1"}|' \
	-e 's|^  - {name: out0, dev: .*|  - {name: out0, dev: "net_null1"}|' \
	"$ROOT/pmd_config/net_af_packet.yaml" >"$W/profile.yaml"
"$BUILD/dataplane/aster-dataplane" --profile "$W/profile.yaml" --ctl-socket "$W/dp.sock" \
	--health-file "$W/dp.health" --file-prefix "$PREFIX" >"$W/dataplane.log" 2>&1 &
DP_PID=$!
for _ in $(seq 200); do
	"${BOB[@]}" status -o json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["dataplane"].get("table_version") == r["version"] else 1)' && break
	kill -0 "$DP_PID" 2>/dev/null || fail "dataplane exited: $(tail -n 1 "$W/dataplane.log")"
	sleep 0.1
done
V=$(version)
"${ALICE[@]}" add-pattern sub0001 '^LIVE$' >"$W/live.out" 2>&1 || fail "live add-pattern: $(cat "$W/live.out")"
grep -qF "dataplane: version $((V + 1)) in force" "$W/live.out" || fail "not in force: $(cat "$W/live.out")"
"${BOB[@]}" status -o json >"$W/live_status.json"
/usr/bin/python3 - "$W/live_status.json" "$W/audit.log" "$((V + 1))" <<'PY' || fail "live change: $(cat "$W/live_status.json")"
import json, sys
st, v = json.load(open(sys.argv[1])), int(sys.argv[3])
assert st["version"] == v and st["dataplane"]["connected"] and st["dataplane"]["table_version"] == v, st
last = json.loads(open(sys.argv[2]).readlines()[-1])
assert last["identity"] == "ops-alice" and last["command"] == "add-pattern sub0001 ^LIVE$", last
assert last["result"] == "ok" and last["after"] == v, last
print("live: %s; audited: %s" % (open(sys.argv[1]).read().count("\n") and "dataplane at version %d" % v, json.dumps(last)))
PY
echo "live: $(tail -n 1 "$W/live.out")"

# /metrics: Prometheus's own parser and linter, dataplane connected.
sleep 0.3
curl -sf "http://127.0.0.1:$PORT/metrics" >"$W/metrics" || fail "GET /metrics"
grep -q '^aster_dataplane_connected 1$' "$W/metrics" || fail "/metrics: dataplane not connected"
promtool check metrics <"$W/metrics" >"$W/promtool.out" 2>&1 ||
	fail "/metrics: promtool check metrics: $(head -n 3 "$W/promtool.out" | tr '\n' ' ')"
echo "/metrics: promtool check metrics passes ($(grep -vc '^#' "$W/metrics") samples)"

stop_dataplane
cli_control_gone
echo "PASS $TEST_NAME"
