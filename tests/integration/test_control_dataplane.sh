#!/bin/bash
# The store and the dataplane agree (docs/control.md "Change flow"), against a live
# aster-dataplane on net_null ports:
#  - a table the dataplane cannot take is refused, with one line, and never stored:
#    against the limits its HELLO said (an output port its profile lacks, more
#    subscribers than its max_subscribers), or by its dry run (eight new subscribers
#    while four are in force need twelve slots of eight); `apply --dry-run` too;
#  - a table over the 64 MiB one control message carries is refused, never stored, and
#    the link stays up (no connect, push, drop loop);
#  - while the dataplane compiles a table (seconds of Hyperscan), aster-control goes on
#    answering: `asterctl status` returns before the `apply` does;
#  - while aster-control's loop is busy (parsing 30 000 new regexes), HTTP /health says
#    its sample is stale (503) instead of repeating the last one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

DP="$BUILD/dataplane/aster-dataplane"
ASTERCTL=("$BUILD/control/asterctl" --socket "$W/sock/asterctl.sock")
DP_PID="" APID=""
stop_all() {
	control_stop
	for p in $APID $DP_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	APID="" DP_PID=""
}
trap 'stop_all; rm -rf "$W"; rm -rf "/var/run/dpdk/aster-cd-$$"' EXIT

# A live dataplane with no NIC: net_null ports, at most 8 subscribers.
sed -e 's/^name:.*/name: control-dataplane-test/' -e 's/^max_subscribers:.*/max_subscribers: 8/' \
	-e 's#^  - {name: in0, dev: .*#  - {name: in0, dev: "net_null0,no-rx=1"}#' \
	-e 's#^  - {name: out0, dev: .*#  - {name: out0, dev: "net_null1"}#' \
	"$ROOT/pmd_config/net_af_packet.yaml" >"$W/profile.yaml"
grep -q 'net_null1' "$W/profile.yaml" || fail "cannot derive the net_null profile"
"$DP" --profile "$W/profile.yaml" --ctl-socket "$W/dp.sock" --health-file "$W/dp.health" \
	--file-prefix "aster-cd-$$" >"$W/dataplane.log" 2>&1 &
DP_PID=$!
for _ in $(seq 200); do
	[ -S "$W/dp.sock" ] && break
	kill -0 "$DP_PID" 2>/dev/null || fail "dataplane exited: $(tail -n 1 "$W/dataplane.log")"
	sleep 0.1
done
[ -S "$W/dp.sock" ] || fail "the dataplane's control socket did not appear"

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
dataplane_socket: $W/dp.sock
health_file: $W/dp.health
audit_log: $W/audit.log
http_port: $PORT
max_patterns_per_subscriber: 2999
max_pattern_length: 4096
dataplane_timeout_ms: 120000
YAML
control_start "$W/settings.yaml"
status_field() {
	"${ASTERCTL[@]}" status -o json | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"
}
for _ in $(seq 100); do
	[ "$(status_field 'r["dataplane"]["connected"]' 2>/dev/null)" = True ] && break
	kill -0 "$CPID" 2>/dev/null || fail "aster-control exited: $(tail -n 1 "$W/control.log")"
	sleep 0.1
done
[ "$(status_field 'r["dataplane"]["connected"]')" = True ] || fail "aster-control did not reach the dataplane"

# refused NAME TEXT ARGS...: asterctl exits 1 with one line on stderr holding TEXT
refused() {
	local name=$1 text=$2 rc=0
	shift 2
	"${ASTERCTL[@]}" "$@" >"$W/$name.out" 2>"$W/$name.err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: exit $rc: $(cat "$W/$name.out" "$W/$name.err")"
	[ "$(wc -l <"$W/$name.err")" = 1 ] && grep -qF -- "$text" "$W/$name.err" ||
		fail "$name: $(cat "$W/$name.err")"
	echo "$name: $(cat "$W/$name.err")"
}
in_force() { # in_force VERSION: store and dataplane both at VERSION
	[ "$(status_field 'r["version"], r["dataplane"]["connected"], r["dataplane"].get("table_version")')" = "$1 True $1" ] ||
		fail "want store and dataplane at version $1: $(status_field 'r["version"], r["dataplane"]')"
}

gen feed --messages 100 --symbols 50 --subscribers 4 --seed 21
"${ASTERCTL[@]}" apply -f "$W/feed/routing.yaml" >"$W/apply1.out" 2>&1 || fail "apply: $(cat "$W/apply1.out")"
grep -qF "dataplane: version 1 in force" "$W/apply1.out" || fail "not in force: $(cat "$W/apply1.out")"

/usr/bin/python3 - "$W" <<'PY'
import copy, sys, yaml
w = sys.argv[1]
base = yaml.safe_load(open(f"{w}/feed/routing.yaml"))
def dump(name, cfg):
    with open(f"{w}/{name}", "w") as f:
        yaml.safe_dump(cfg, f, default_flow_style=None, width=1 << 20)
# an output port the dataplane's profile does not have
c = copy.deepcopy(base)
c["ports"].append({"name": "out9"})
c["subscribers"][0]["port"] = "out9"
dump("port.yaml", c)
# more subscribers (9) than the profile's max_subscribers (8)
c = copy.deepcopy(base)
for i in range(5):
    s = copy.deepcopy(c["subscribers"][0])
    s["name"], s["session"] = "extra%d" % i, "EXTRA%d" % i
    s["dst"]["port"] += 100 + i
    c["subscribers"].append(s)
dump("nine.yaml", c)
# eight subscribers, none of those in force: within max_subscribers, but the slots of
# the four in force are only freed after the swap (the dry run says so)
c = copy.deepcopy(base)
c["subscribers"] = []
for i in range(8):
    s = copy.deepcopy(base["subscribers"][0])
    s["name"], s["session"] = "fresh%d" % i, "FRESH%d" % i
    s["dst"]["port"] += 300 + i
    c["subscribers"].append(s)
dump("fresh.yaml", c)
# 6000 distinct regexes on 4 subscribers: seconds of Hyperscan in the dataplane
c = copy.deepcopy(base)
for k, s in enumerate(c["subscribers"]):
    s["symbols"] = ["^[A-C]R%d%04d[0-9]?$" % (k, i) for i in range(1500)]
dump("regex.yaml", c)
# 10 subscribers of 3000 new regexes each (seconds of hs_expression_info): aster-control parses them, then refuses the
# table (settings: at most 2999 patterns a subscriber)
c = copy.deepcopy(base)
c["subscribers"] = []
for k in range(10):
    s = copy.deepcopy(base["subscribers"][0])
    s["name"], s["session"] = "slow%d" % k, "SLOW%d" % k
    s["dst"]["port"] += 200 + k
    s["symbols"] = ["^[D-F]S%d%04d[0-9]?$" % (k, i) for i in range(3000)]
    c["subscribers"].append(s)
dump("slow.yaml", c)
# 3 subscribers x 2900 patterns of 2000 tabs: 17 MB of YAML, whose canonical form
# (each tab written \x09) is 70 MB, over the 64 MiB of one control message
pat = '"^' + "\t" * 2000 + '"'
with open(f"{w}/huge.yaml", "w") as f:
    f.write(open(f"{w}/feed/routing.yaml").read().split("subscribers:")[0])
    f.write("subscribers:\n")
    for k in range(3):
        f.write("  - {name: huge%d, feed: itch, port: out0, session: H%d, "
                "dst: {mac: \"02:00:00:00:00:0%d\", ip: 10.9.9.%d, port: 3900%d}, symbols: [%s]}\n"
                % (k, k, k + 1, k + 1, k, ", ".join([pat] * 2900)))
PY

refused port 'port "out9" is not an output port of the dataplane (it has out0)' apply -f "$W/port.yaml"
in_force 1
refused port_dry 'port "out9" is not an output port' apply -f "$W/port.yaml" --dry-run
in_force 1
refused nine "9 subscribers, the dataplane takes at most 8" apply -f "$W/nine.yaml"
in_force 1
refused fresh "no free subscriber slot" apply -f "$W/fresh.yaml"
grep -qF "nothing stored" "$W/fresh.err" || fail "fresh: $(cat "$W/fresh.err")"
in_force 1
refused fresh_dry "no free subscriber slot" apply -f "$W/fresh.yaml" --dry-run
in_force 1
refused huge "over the" apply -f "$W/huge.yaml"
grep -qF "one control message to the dataplane carries" "$W/huge.err" || fail "huge: $(cat "$W/huge.err")"
in_force 1
grep -c "dataplane connected" "$W/control.log" >"$W/connects"
/usr/bin/python3 - "$W/audit.log" <<'PY' || exit 1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
errs = [l for l in lines if l["result"].startswith("error: dataplane refused")]
lims = [l for l in lines if "not an output port of the dataplane" in l["result"] or
        "the dataplane takes at most" in l["result"]]
if len(errs) != 1 or len(lims) != 2 or any(l["before"] != l["after"] for l in errs + lims):
    sys.exit("FAIL test_control_dataplane: audit: %s" % [(l["command"], l["result"][:60]) for l in lines])
print("audit: %d changes refused against the dataplane's limits, %d by its dry run, recorded, nothing stored" % (len(lims), len(errs)))
PY

# The dataplane compiles for seconds: aster-control answers meanwhile.
"${ASTERCTL[@]}" apply -f "$W/regex.yaml" >"$W/regex.out" 2>&1 &
APID=$!
answered=0
while kill -0 "$APID" 2>/dev/null; do
	sleep 0.2
	if "${ASTERCTL[@]}" status >"$W/during.out" 2>&1 && kill -0 "$APID" 2>/dev/null; then
		answered=1
		break
	fi
done
[ "$answered" = 1 ] || fail "status never answered while the apply ran: the loop waited for the dataplane ($(tail -n 1 "$W/regex.out"))"
echo "asterctl status answered while the dataplane compiled 6000 regexes for the apply"
wait "$APID" || fail "apply of 6000 regexes: $(cat "$W/regex.out")"
APID=""
grep -qF "dataplane: version 2 in force" "$W/regex.out" || fail "regex table not in force: $(cat "$W/regex.out")"

# aster-control's loop busy in its own parse: /health says so.
curl -s -o "$W/health0" -w '%{http_code}' "http://127.0.0.1:$PORT/health" >"$W/code0"
"${ASTERCTL[@]}" apply -f "$W/slow.yaml" >"$W/slow.out" 2>&1 &
APID=$!
stale=0
while kill -0 "$APID" 2>/dev/null; do
	code=$(curl -s -m 5 -o "$W/health1" -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)
	if [ "$code" = 503 ] && grep -qF '"stale:' "$W/health1"; then
		stale=1
		break
	fi
	sleep 0.05
done
wait "$APID" 2>/dev/null || true
APID=""
[ "$stale" = 1 ] || fail "GET /health never said stale while aster-control parsed 30 000 regexes (before: $(cat "$W/code0"), last: $(head -c 200 "$W/health1"))"
echo "GET /health while the loop was busy: 503, $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reasons"][0])' "$W/health1")"
sleep 0.5
code=$(curl -s -o "$W/health2" -w '%{http_code}' "http://127.0.0.1:$PORT/health")
grep -qF '"stale:' "$W/health2" && fail "GET /health still stale once the loop is free: $(cat "$W/health2")"
echo "GET /health once free again: $code"
in_force 2
[ "$(grep -c "dataplane connected" "$W/control.log")" = "$(cat "$W/connects")" ] ||
	fail "the dataplane link was dropped and reconnected: $(grep "dataplane" "$W/control.log" | tail -n 3)"
echo "PASS $TEST_NAME"
