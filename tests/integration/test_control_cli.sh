#!/bin/bash
# aster-control and asterctl without a dataplane (issue 3): apply prints the diff and is
# idempotent; imperative edits; errors name what is wrong and leave the table alone;
# limits; the table survives kill -9 (SQLite); SO_PEERCRED allow-lists with read-only
# callers refused changes; the audit log; health "down" with its reason, over asterctl
# and over HTTP.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

CONTROL="$BUILD/control/aster-control"
ASTERCTL="$BUILD/control/asterctl"
[ -x "$CONTROL" ] || fail "$CONTROL not built"
[ -x "$ASTERCTL" ] || fail "$ASTERCTL not built"
SOCK="$W/sock/asterctl.sock"
CONTROL_READY=("$ASTERCTL" --socket "$SOCK" status)
trap 'control_stop; chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"' EXIT

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

ACTL=("$ASTERCTL" --socket "$SOCK")
. "$(dirname "$0")/cli_scenario.sh"

gen feed --messages 2000 --symbols 50 --subscribers 4 --seed 5
Y="$W/feed/routing.yaml"
control_start

# The socket directory: 0750, the service group's (issue 3 §7).
[ "$(stat -c '%a %G' "$W/sock")" = "750 nogroup" ] ||
	fail "socket dir is $(stat -c '%a %G' "$W/sock"), want 750 nogroup"

cli_scenario "$Y"

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

cli_health_down

# HTTP: /health 503 with the reason, /metrics Prometheus text, /status JSON, read-only.
code=$(curl -s -o "$W/http_health" -w '%{http_code}' "http://127.0.0.1:$PORT/health")
[ "$code" = 503 ] || fail "GET /health: $code, want 503"
grep -qF "dataplane unreachable" "$W/http_health" || fail "GET /health: no reason"
code=$(curl -s -o "$W/metrics" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
[ "$code" = 200 ] || fail "GET /metrics: $code"
grep -qx "# TYPE aster_health_state gauge" "$W/metrics" || fail "/metrics: no TYPE line"
grep -qx "aster_health_state 2" "$W/metrics" || fail "/metrics: health state not 2"
grep -qx "aster_table_version $(version)" "$W/metrics" || fail "/metrics: wrong table version"
# The exposition format checked by Prometheus's own parser and linter.
promtool check metrics <"$W/metrics" >"$W/promtool.out" 2>&1 ||
	fail "/metrics: promtool check metrics: $(head -n 3 "$W/promtool.out" | tr '\n' ' ')"
code=$(curl -s -o "$W/status.json" -w '%{http_code}' "http://127.0.0.1:$PORT/status")
[ "$code" = 200 ] && /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/status.json" ||
	fail "GET /status: $code, not JSON"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$PORT/health")
[ "$code" = 405 ] || fail "POST /health: $code, want 405"

cli_control_gone
echo "PASS $TEST_NAME"
