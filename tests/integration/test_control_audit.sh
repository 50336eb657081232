#!/bin/bash
# The audit log fails closed (docs/control.md "Audit log format"): a change is recorded
# ("pending", synced) before it is stored, and refused, with nothing stored, when the log
# cannot take the line (here /dev/full); a command longer than a line's field, written
# in multibyte UTF-8, is recorded cut on a character boundary instead of being lost.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

ASTERCTL=("$BUILD/control/asterctl" --socket "$W/sock/asterctl.sock")
trap 'control_stop; rm -rf "$W"' EXIT

with_audit_log() { # with_audit_log AUDIT_LOG: aster-control writing its audit there
	cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
dataplane_socket: $W/dp.sock
health_file: $W/dp.health
audit_log: $1
http_port: 0
max_pattern_length: 4096
YAML
	control_start "$W/settings.yaml"
}
version() {
	"${ASTERCTL[@]}" status -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}

gen feed --messages 100 --symbols 20 --subscribers 3 --seed 11

# An audit log that takes nothing: the change is refused and nothing is stored.
with_audit_log /dev/full
rc=0
"${ASTERCTL[@]}" apply -f "$W/feed/routing.yaml" >"$W/full.out" 2>"$W/full.err" || rc=$?
[ "$rc" = 1 ] || fail "apply with the audit log full: exit $rc: $(cat "$W/full.out" "$W/full.err")"
[ "$(wc -l <"$W/full.err")" = 1 ] && grep -qF "cannot record the change in the audit log (No space left on device): nothing changed" "$W/full.err" ||
	fail "apply with the audit log full: $(cat "$W/full.err")"
[ "$(version)" = 0 ] || fail "the table moved to version $(version) with no audit record"
echo "audit log full: $(cat "$W/full.err")"
control_stop

# A working log: each change is "pending" then "ok"; a 600-byte pattern of two-byte
# characters is recorded, cut on a character boundary.
with_audit_log "$W/audit.log"
"${ASTERCTL[@]}" apply -f "$W/feed/routing.yaml" >"$W/apply.out" 2>&1 || fail "apply: $(cat "$W/apply.out")"
pat="^$(printf 'é%.0s' $(seq 300))\$"
"${ASTERCTL[@]}" add-pattern sub0001 "$pat" >"$W/long.out" 2>&1 || fail "add-pattern: $(cat "$W/long.out")"
[ "$(version)" = 2 ] || fail "version $(version) after two changes"
/usr/bin/python3 - "$W/audit.log" <<'PY' || exit 1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
def fail(msg):
    sys.exit("FAIL test_control_audit: %s: %s" % (msg, [(l["command"][:30], l["result"]) for l in lines]))
results = [(l["command"].split()[0], l["result"], l["before"], l["after"]) for l in lines]
if results != [("apply", "pending", 0, 0), ("apply", "ok", 0, 1),
               ("add-pattern", "pending", 1, 1), ("add-pattern", "ok", 1, 2)]:
    fail("want pending then ok for each change")
c = lines[3]["command"]
if not c.startswith("add-pattern sub0001 ^ééé") or not c.endswith("é...") or len(c.encode()) > 511:
    fail("long command recorded as %r (%d bytes)" % (c, len(c.encode())))
print("audit: pending before ok for each change; a %d-byte command kept as %d bytes ending %r"
      % (len("add-pattern sub0001 ^$".encode()) + 600, len(c.encode()), c[-6:]))
PY
echo "PASS $TEST_NAME"
