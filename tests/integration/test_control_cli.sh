#!/bin/bash
# aster-control and asterctl without a dataplane (issue 3): apply prints the diff and is
# idempotent; imperative edits; errors name what is wrong and leave the table alone;
# limits; the table survives kill -9 (SQLite); SO_PEERCRED allow-lists with read-only
# callers refused changes; the audit log; health "down" with its reason, over asterctl
# and over HTTP.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"

CONTROL="$BUILD/control/aster-control"
ASTERCTL="$BUILD/control/asterctl"
[ -x "$CONTROL" ] || fail "$CONTROL not built"
[ -x "$ASTERCTL" ] || fail "$ASTERCTL not built"
SOCK="$W/sock/asterctl.sock"
CPID=""

stop_control() {
	if [ -n "$CPID" ]; then
		kill "$CPID" 2>/dev/null || true
		wait "$CPID" 2>/dev/null || true
		CPID=""
	fi
}
trap 'stop_control; chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"' EXIT

# A free TCP port on loopback for the HTTP endpoint.
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
socket_group: nogroup
dataplane_socket: $W/dataplane.sock
health_file: $W/health
audit_log: $W/audit.log
http_port: $PORT
read_uids: [nobody]
max_subscribers: 6
max_patterns_per_subscriber: 16
max_pattern_length: 40
YAML

start_control() {
	"$CONTROL" --settings "$W/settings.yaml" >>"$W/control.log" 2>&1 &
	CPID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && "$ASTERCTL" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$CPID" 2>/dev/null || fail "aster-control exited: $(tail -n 1 "$W/control.log")"
		sleep 0.05
	done
	fail "aster-control did not start listening on $SOCK"
}

# run NAME ARGS...: asterctl with stdout in $W/NAME.out, stderr in $W/NAME.err; sets RC.
run() {
	local name=$1
	shift
	RC=0
	"$ASTERCTL" --socket "$SOCK" "$@" >"$W/$name.out" 2>"$W/$name.err" || RC=$?
}
ok() {
	run "$@"
	[ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$W/$1.err")"
}
# refused NAME EXPECTED-TEXT ARGS...: must exit non-zero with one line on stderr holding the text.
refused() {
	local name=$1 text=$2
	shift 2
	run "$name" "$@"
	[ "$RC" != 0 ] || fail "$name: accepted: $(cat "$W/$name.out")"
	[ "$(wc -l <"$W/$name.err")" = 1 ] || fail "$name: error not one line: $(cat "$W/$name.err")"
	grep -qF -- "$text" "$W/$name.err" || fail "$name: error lacks '$text': $(cat "$W/$name.err")"
	echo "$name: refused: $(cat "$W/$name.err")"
}
has() {
	grep -qF -- "$2" "$W/$1.out" || fail "$1: output lacks '$2': $(cat "$W/$1.out")"
}
version() {
	"$ASTERCTL" --socket "$SOCK" status -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}

gen feed --messages 2000 --symbols 50 --subscribers 4 --seed 5
Y="$W/feed/routing.yaml"
start_control

# The socket directory: 0750, the service group's (issue 3 §7).
[ "$(stat -c '%a %G' "$W/sock")" = "750 nogroup" ] ||
	fail "socket dir is $(stat -c '%a %G' "$W/sock"), want 750 nogroup"

# apply: the diff, then idempotence.
ok apply1 apply -f "$Y"
has apply1 "+ feed itch"
has apply1 "+ subscriber sub0001"
has apply1 "+ subscriber sub0004"
has apply1 "table version 0 -> 1"
has apply1 "dataplane unreachable: will sync on reconnect"
ok apply2 apply -f "$Y"
has apply2 "no changes"
[ "$(version)" = 1 ] || fail "version after applying the same file twice: $(version)"

# A dry run of an edited file: diff only, nothing stored.
sed -e '/name: sub0004/,$d' "$Y" >"$W/three.yaml"
ok dry apply -f "$W/three.yaml" --dry-run
has dry "- subscriber sub0004"
has dry "dry run"
[ "$(version)" = 1 ] || fail "dry run changed the version"
ok three apply -f "$W/three.yaml"
has three "- subscriber sub0004"
has three "table version 1 -> 2"
ok back apply -f "$Y"
has back "+ subscriber sub0004"
has back "table version 2 -> 3"

# Imperative edits.
ok add add-subscriber s5 --feed itch --port out0 --dst-mac 02:00:00:00:00:55 \
	--dst-ip 10.1.5.5 --dst-port 31555 --session S5 --symbols '^AAPL$,^M[A-Z]{1,3}$' \
	--types AFE --max-payload 900
has add "+ subscriber s5"
has add "table version 3 -> 4"
ok addp add-pattern s5 '^GOOG$'
has addp 'pattern "^GOOG$"'
ok rmp remove-pattern s5 '^AAPL$'
has rmp 'pattern "^AAPL$"'
ok get get subscribers -o json
/usr/bin/python3 - "$W/get.out" <<'PY' || fail "get subscribers -o json: s5 not as added"
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["subscribers"]}["s5"]
assert r["version"] == 6, r["version"]
assert s["symbols"] == ["^M[A-Z]{1,3}$", "^GOOG$"], s["symbols"]
assert s["types"] == "AEF" and s["max_payload"] == 900 and s["session"] == "S5", s
assert s["dst"] == {"mac": "02:00:00:00:00:55", "ip": "10.1.5.5", "port": 31555}, s["dst"]
PY
ok table get subscribers
has table "s5"
ok feeds get feeds
has feeds "A=233.54.12.111:26477"

# Errors: one line naming what is wrong; the table unchanged.
V=$(version)
refused badpat 'subscriber "s5": pattern "^(AAPL"' add-pattern s5 '^(AAPL'
sed -e '/name: sub0002/,/symbols:/ s/symbols: \[/symbols: ["^(BAD", /' "$Y" >"$W/badpat.yaml"
grep -qF '"^(BAD"' "$W/badpat.yaml" || fail "could not plant an invalid pattern"
refused badfile 'subscriber "sub0002": pattern "^(BAD"' apply -f "$W/badpat.yaml"
grep -qF 'badpat.yaml:' "$W/badfile.err" || fail "badfile: no file:line in $(cat "$W/badfile.err")"
refused ghost 'subscriber "ghost": no such subscriber' remove-subscriber ghost
refused ghostp 'subscriber "ghost": no such subscriber' add-pattern ghost '^X'
refused nofeed 'unknown feed "nofeed"' add-subscriber s9 --feed nofeed --port out0 \
	--dst-mac 02:00:00:00:00:09 --dst-ip 10.1.9.9 --dst-port 31999 --session S9 --symbols '^X'
refused usage 'unknown command' frobnicate
[ "$(version)" = "$V" ] || fail "a refused change moved the version from $V to $(version)"

# Limits (settings: 6 subscribers, 16 patterns each, 40 bytes a pattern).
refused longpat 'max_pattern_length' add-pattern s5 "^$(printf 'A%.0s' $(seq 45))\$"
refused manypat 'max_patterns_per_subscriber' add-subscriber s6 --feed itch --port out0 \
	--dst-mac 02:00:00:00:00:66 --dst-ip 10.1.6.6 --dst-port 31666 --session S6 \
	--symbols "$(seq -s, -f '^A%g' 17)"
ok six add-subscriber s6 --feed itch --port out0 --dst-mac 02:00:00:00:00:66 \
	--dst-ip 10.1.6.6 --dst-port 31666 --session S6 --symbols '^B'
refused seven 'max_subscribers' add-subscriber s7 --feed itch --port out0 \
	--dst-mac 02:00:00:00:00:77 --dst-ip 10.1.7.7 --dst-port 31777 --session S7 --symbols '^C'
ok rm6 remove-subscriber s6
has rm6 "- subscriber s6"

# kill -9 and restart: same table, same version (SQLite, one transaction per change).
ok before get subscribers -o json
V=$(version)
{
	kill -9 "$CPID"
	wait "$CPID" || true
} 2>/dev/null # bash reports the SIGKILL, which is the point here
CPID=""
start_control
ok after get subscribers -o json
cmp -s "$W/before.out" "$W/after.out" || fail "table differs after kill -9 and restart"
[ "$(version)" = "$V" ] || fail "version $V before kill -9, $(version) after"
ok again apply -f "$Y"
has again "- subscriber s5"
echo "kill -9 and restart: table and version $V intact"

# Security (issue 3 §7). $W is 0700: let others traverse it (not list it) for this part.
chmod o+x "$W"
as() { # as USER GROUP NAME ARGS...
	local user=$1 group=$2 name=$3
	shift 3
	RC=0
	setpriv --reuid="$user" --regid="$group" --clear-groups \
		"$ASTERCTL" --socket "$SOCK" "$@" >"$W/$name.out" 2>"$W/$name.err" || RC=$?
}
V=$(version)
# Outside the service group: the directory keeps the caller out.
as daemon daemon dir_daemon get feeds
[ "$RC" != 0 ] && grep -qF "Permission denied" "$W/dir_daemon.err" ||
	fail "uid daemon outside the group reached the socket: $(cat "$W/dir_daemon.out" "$W/dir_daemon.err")"
# In the group but on no allow-list: SO_PEERCRED refuses.
as daemon nogroup acl_daemon get feeds
[ "$RC" != 0 ] && grep -qF "permission denied: uid 1 " "$W/acl_daemon.err" ||
	fail "uid daemon not refused: $(cat "$W/acl_daemon.out" "$W/acl_daemon.err")"
echo "acl_daemon: refused: $(cat "$W/acl_daemon.err")"
# Read-only: get works, changes are refused.
as nobody nogroup ro_get get subscribers
[ "$RC" = 0 ] && grep -q sub0001 "$W/ro_get.out" || fail "read-only uid cannot get: $(cat "$W/ro_get.err")"
as nobody nogroup ro_add add-pattern sub0001 '^ZZZ$'
[ "$RC" != 0 ] && grep -qF "may not change the table" "$W/ro_add.err" ||
	fail "read-only uid changed the table: $(cat "$W/ro_add.out" "$W/ro_add.err")"
echo "ro_add: refused: $(cat "$W/ro_add.err")"
as nobody nogroup ro_apply apply -f "$Y"
[ "$RC" != 0 ] || fail "read-only uid could apply"
[ "$(version)" = "$V" ] || fail "refused callers moved the version"
chmod o-x "$W"

# Audit log: every change, refused ones too (time, uid, pid, command, before/after).
/usr/bin/python3 - "$W/audit.log" <<'PY' || fail "audit log: $(tail -n 3 "$W/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
keys = {"time", "uid", "gid", "pid", "command", "result", "before", "after"}
assert all(keys <= set(l) for l in lines), lines[0]
cmds = [(l["command"], l["result"]) for l in lines]
def find(prefix, result):
    return [l for l in lines if l["command"].startswith(prefix) and l["result"].startswith(result)]
assert find("apply -f", "ok")[0]["before"] == 0 and find("apply -f", "ok")[0]["after"] == 1
assert find("apply -f", "no changes"), cmds
assert find("add-subscriber s5", "ok") and find("remove-pattern s5 ^AAPL$", "ok"), cmds
assert find("add-pattern s5 ^(AAPL", "error:"), cmds
assert find("add-subscriber s7", "error: limit"), cmds
denied = find("add-pattern sub0001 ^ZZZ$", "denied")
assert denied and denied[0]["uid"] == 65534 and denied[0]["before"] == denied[0]["after"], cmds
ok = [l for l in lines if l["result"] == "ok"]
# one version each; after the kill -9 numbering resumes above the reserved block, so a
# number a lost commit may have used is never given again (docs/control.md, "Durability")
assert all(b["before"] == a["after"] for a, b in zip(ok, ok[1:])), ok
jumps = [l for l in ok if l["after"] != l["before"] + 1]
assert all(l["after"] > l["before"] for l in ok), ok
assert len(jumps) == 1 and jumps[0]["before"] == 8 and jumps[0]["after"] > 9, jumps
assert all(l["pid"] > 0 for l in lines)
print("audit: %d lines" % len(lines))
PY

# Health: no dataplane -> down, with the reason; exit 2.
run health health
[ "$RC" = 2 ] || fail "asterctl health exit $RC without a dataplane, want 2"
has health "down"
has health "dataplane unreachable"
echo "health: $(head -n 2 "$W/health.out" | tr '\n' ' ')"

# HTTP: /health 503 with the reason, /metrics Prometheus text, /status JSON, read-only.
code=$(curl -s -o "$W/http_health" -w '%{http_code}' "http://127.0.0.1:$PORT/health")
[ "$code" = 503 ] || fail "GET /health: $code, want 503"
grep -qF "dataplane unreachable" "$W/http_health" || fail "GET /health: no reason"
code=$(curl -s -o "$W/metrics" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
[ "$code" = 200 ] || fail "GET /metrics: $code"
grep -qx "# TYPE aster_health_state gauge" "$W/metrics" || fail "/metrics: no TYPE line"
grep -qx "aster_health_state 2" "$W/metrics" || fail "/metrics: health state not 2"
grep -qx "aster_table_version $(version)" "$W/metrics" || fail "/metrics: wrong table version"
/usr/bin/python3 - "$W/metrics" <<'PY' || fail "/metrics is not Prometheus text"
import re, sys
sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$')
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
PY
code=$(curl -s -o "$W/status.json" -w '%{http_code}' "http://127.0.0.1:$PORT/status")
[ "$code" = 200 ] && /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/status.json" ||
	fail "GET /status: $code, not JSON"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$PORT/health")
[ "$code" = 405 ] || fail "POST /health: $code, want 405"

# aster-control gone: asterctl says so in one line, non-zero.
stop_control
run gone get feeds
[ "$RC" != 0 ] && grep -qF "cannot reach aster-control" "$W/gone.err" || fail "no error without aster-control"
run gone_health health
[ "$RC" = 3 ] || fail "asterctl health without aster-control: exit $RC, want 3"
echo "PASS $TEST_NAME"
