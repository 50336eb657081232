#!/bin/bash
# The control plane driving a live dataplane (issue 3): aster-dataplane in live mode on
# af_packet in a network namespace, an A/B feed sent with tcpreplay, while asterctl makes
# 120 changes through aster-control (apply -f of edited files and imperative add/remove
# of subscribers and patterns, mixed). Half-way through, aster-control is killed with
# SIGKILL and restarted while the feed flows: forwarding must not stop and the table must
# come back intact. An invalid pattern is refused with the subscriber and pattern named,
# and neither the store nor the dataplane moves.
#
# Afterwards every subscriber's captured stream is checked message by message against
# the table version in force for that message (the dataplane's table_log, the versions'
# YAML as aster-control stored them), with no gap in any subscriber's sequence numbers
# and no drop counted. Then the dataplane is restarted: aster-control must push the table
# again by itself, and a second run of the feed must come out exactly as that table says.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/control.sh"

ASTERCTL=("$BUILD/control/asterctl" --socket "$W/sock/asterctl.sock")
CONTROL_READY=("${ASTERCTL[@]}" status)
trap 'rc=$?; control_stop; netns_down "$rc"' EXIT

# A free TCP port on loopback for the HTTP endpoint.
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
control_settings "$PORT" >"$W/settings.yaml"

# status_field EXPR: a field of `asterctl status -o json` (python expression over r)
status_field() {
	"${ASTERCTL[@]}" status -o json | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"
}

# wait_in_sync: the dataplane connected and running the store's version
wait_in_sync() {
	local want
	want=$(status_field 'r["version"]')
	for _ in $(seq 200); do
		[ "$(status_field 'r["dataplane"].get("table_version", -1) if r["dataplane"]["connected"] else -1')" = "$want" ] &&
			return 0
		sleep 0.05
	done
	fail "dataplane not at store version $want: $(status_field 'r["dataplane"]')"
}

# Small packets (at most 3 messages) so that the feed lasts ~40 s at 500 frames/s and
# all 120 changes land while it flows.
gen feed --messages 24000 --symbols 400 --subscribers 12 --loss-a 0.01 --loss-b 0.01 \
	--rechunk --max-msgs-per-packet 3 --seed 73
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/feed/b.pcap"

netns_up
# A deeper kernel ring on the feed side (af_packet framecnt, default 512) rides out the
# moments this busy 2-CPU machine does not schedule the RX lcore.
live_profile 200000 # every message is checked: no hold may time out (netns.sh)
sed -i 's/iface=aster-in0,qpairs=1"/iface=aster-in0,qpairs=1,framecnt=8192"/' "$W/live.yaml"
grep -q 'framecnt=8192' "$W/live.yaml" || fail "cannot deepen the af_packet ring in $W/live.yaml"
dataplane_start
control_start "$W/settings.yaml"
"${ASTERCTL[@]}" apply -f "$W/feed/routing.yaml" >"$W/apply1.out" 2>&1 || fail "apply: $(cat "$W/apply1.out")"
grep -qF "dataplane: version 1 in force" "$W/apply1.out" || fail "first apply not in force: $(cat "$W/apply1.out")"
# DPDK telemetry: the dataplane's own view of its health.
telemetry "aster-live-$$" "$W/tel.json" /aster/health
/usr/bin/python3 - "$W/tel.json" <<'PY' || fail "/aster/health: $(cat "$W/tel.json")"
import json, sys
h = json.load(open(sys.argv[1]))["/aster/health"]
assert h["state"] in ("healthy", "degraded") and h["table_version"] == 1, h
assert any(k.startswith("rx") and v > 0 for k, v in h["lcores"].items()), h
assert isinstance(h["reasons"], list), h
print("telemetry /aster/health:", json.dumps(h))
PY
# A peer of the previous protocol version (2: another table digest) is refused with
# EPROTONOSUPPORT and a line saying both versions; the dataplane and aster-control's
# connection carry on.
rc=0
/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" raw-version 2 >"$W/v1.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && /usr/bin/python3 -c 'import errno,json,sys; r=json.load(open(sys.argv[1])); assert r["error"] == -errno.EPROTONOSUPPORT and r["text"] == "protocol version 2 not supported, this dataplane speaks 3", r' "$W/v1.out" ||
	fail "HELLO of protocol version 2: exit $rc: $(cat "$W/v1.out")"
[ "$(status_field 'r["dataplane"]["connected"]')" = True ] || fail "aster-control lost the dataplane after a bad HELLO"
echo "protocol version 2 refused: $(cat "$W/v1.out")"
capture_start "$W/out.pcap"

# The change driver (tests/tools/live_drive.py): each step one change, by apply -f or by
# the imperative command, one version each (the next number, but after aster-control was
# killed: docs/control.md, "Durability"), in force in the dataplane when asterctl
# returns. The versions made are listed in made.txt.

drive() { # drive FIRST LAST SEED
	/usr/bin/python3 "$ROOT/tests/tools/live_drive.py" "$W" "$1" "$2" "$3" "${ASTERCTL[@]}" >>"$W/drive.log" 2>&1 ||
		fail "changes $1..$2: $(tail -n 1 "$W/drive.log")"
}

send_feed 500 "$W/ab.pcap" &
sender=$!
drive 2 30 5

# An invalid pattern: refused, named, nothing moves (store and dataplane).
rc=0
"${ASTERCTL[@]}" add-pattern sub0001 '^(AAPL' >"$W/bad.out" 2>"$W/bad.err" || rc=$?
[ "$rc" != 0 ] && grep -qF 'subscriber "sub0001": pattern "^(AAPL"' "$W/bad.err" ||
	fail "invalid pattern not refused as it should be: exit $rc: $(cat "$W/bad.err")"
[ "$(status_field 'r["version"], r["dataplane"]["table_version"]')" = "30 30" ] ||
	fail "invalid pattern moved the table: $(status_field 'r["version"], r["dataplane"]')"
echo "invalid pattern: $(cat "$W/bad.err")"

# kill -9 aster-control while the feed flows; the dataplane keeps forwarding (checked
# below: no message missing) and the restarted daemon has the same table.
rx_before=$(/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" status |
	/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(f["messages"] for f in r["feeds"].values()))')
{
	kill -9 "$CPID"
	wait "$CPID" || true
} 2>/dev/null
CPID=""
sleep 0.5
rx_during=$(/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" status |
	/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(f["messages"] for f in r["feeds"].values()))')
[ "$rx_during" -gt "$rx_before" ] || fail "forwarding stopped with aster-control down ($rx_before -> $rx_during messages)"
control_start "$W/settings.yaml"
[ "$(status_field 'r["version"]')" = 30 ] || fail "version after kill -9: $(status_field 'r["version"]'), want 30"
wait_in_sync
echo "aster-control killed (-9) and restarted mid-traffic: dataplane went on ($rx_before -> $rx_during messages), table version 30 intact"
drive 31 121 6
V=$(status_field 'r["version"]')

wait "$sender" || fail "tcpreplay failed: $(tail -n 1 "$W/tcpreplay.log")"
sleep 1
/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" status --out "$W/status.json" >/dev/null ||
	fail "dataplane status"
capture_stop

# The same counters through aster-control: asterctl stats (the dataplane's STATUS) and
# HTTP /metrics (the health segment, sampled every 200 ms), with the dataplane connected.
"${ASTERCTL[@]}" stats -o json >"$W/stats.out" 2>&1 || fail "asterctl stats: $(cat "$W/stats.out")"
sleep 0.5 # one health sample after the last frame
curl -sf "http://127.0.0.1:$PORT/metrics" >"$W/metrics" || fail "GET /metrics failed"
/usr/bin/python3 - "$W/stats.out" "$W/status.json" "$W/metrics" "$V" <<'PY' || fail "asterctl stats / metrics disagree with the dataplane"
import json, re, sys
stats = json.load(open(sys.argv[1]))
dp = json.load(open(sys.argv[2]))
metrics = open(sys.argv[3]).read()
assert stats["source"] == "dataplane", stats["source"]
feed = dp["feeds"]["itch"]
assert stats["stats"]["feeds"]["itch"]["messages"] == feed["messages"], (stats["stats"]["feeds"], feed)
def metric(name, label):
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(label)), metrics, re.M)
    assert m, "no %s{%s} in /metrics" % (name, label)
    return int(m.group(1))
assert re.search(r"^aster_dataplane_connected 1$", metrics, re.M), "dataplane not connected in /metrics"
assert re.search(r"^aster_table_version %s$" % sys.argv[4], metrics, re.M), "table version in /metrics"
assert metric("aster_feed_messages_total", 'feed="itch"') == feed["messages"]
assert metric("aster_feed_gaps_total", 'feed="itch"') == feed["gaps"]
for name, sub in dp["subscribers"].items():
    assert metric("aster_subscriber_messages_total", 'subscriber="%s"' % name) == sub["messages"], name
    assert metric("aster_subscriber_dropped_total", 'subscriber="%s"' % name) == 0, name
print("asterctl stats and /metrics: %d messages on feed itch, %d subscribers, as the dataplane counts"
      % (feed["messages"], len(dp["subscribers"])))
PY

# The versions as aster-control rebuilds them from its journal (the console's history,
# GET /api/v1/history/N), for the checker; the store holds each change as the rows it
# changed, not the table (docs/control.md, "The store").
mkdir -p "$W/versions"
/usr/bin/python3 - "$W/control.db" "$W/versions" "$W/made.txt" "$PORT" <<'PY' || fail "cannot read the versions from the store"
import json, sqlite3, sys, urllib.request
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT version, kind, diff FROM versions ORDER BY version").fetchall()
made = [1] + [int(l) for l in open(sys.argv[3])]
assert [v for v, _, _ in rows] == made, ([v for v, _, _ in rows][-5:], made[-5:])
journal = sum(1 for _, kind, _ in rows if kind == "changes")
assert journal >= len(rows) // 2, (f"only {journal} of {len(rows)} versions stored as changes",
                                   [d for _, kind, d in rows if kind != "changes"][:6])
for v, _, _ in rows:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[4]}/api/v1/history/{v}") as r:
        open(f"{sys.argv[2]}/v{v}.yaml", "w").write(json.load(r)["yaml"])
print(f"{len(rows)} versions rebuilt from the store, {journal} of them journal entries")
PY
# Every version rebuilt is the table that change made (the driver's model of it), before
# and after aster-control's kill -9: compared field by field, the model saying only what
# it sets.
/usr/bin/python3 - "$W/versions" "$W/applied" "$W/made.txt" <<'PY' || fail "a version rebuilt from the store is not the table applied"
import ipaddress, json, sys, yaml
def norm_sub(s, model):
    out = {"name": s["name"], "feed": s["feed"], "port": s["port"],
           "mac": s["dst"]["mac"].lower(), "ip": str(ipaddress.ip_address(s["dst"]["ip"])),
           "dport": int(s["dst"]["port"]), "session": str(s["session"]).rstrip(" "),
           "symbols": [str(x) for x in s["symbols"]],
           "types": "".join(sorted(set(str(s["types"])))) if "types" in s else None}
    return out
for v in [int(l) for l in open(sys.argv[3])]:
    got = yaml.safe_load(open(f"{sys.argv[1]}/v{v}.yaml"))
    want = json.load(open(f"{sys.argv[2]}/v{v}.json"))
    g = [norm_sub(s, False) for s in got["subscribers"]]
    m = [norm_sub(s, True) for s in want["subscribers"]]
    assert g == m, f"version {v}: rebuilt {g}\napplied {m}"
    assert [f["name"] for f in got["feeds"]] == [f["name"] for f in want["feeds"]], v
    assert [p["name"] for p in got["ports"]] == [p["name"] for p in want["ports"]], v
print("every version rebuilt from the store is the table applied")
PY
/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/versions" \
	--feed "$W/feed/a.pcap" --feed "$W/feed/b.pcap" --out-pcap "$W/out.pcap" \
	--status "$W/status.json" >"$W/check.log" 2>&1 || fail "$(head -n 3 "$W/check.log" | tr '\n' ' ')"
cat "$W/drive.log" "$W/check.log"
n_audit=$(grep -c '"result":"ok"' "$W/audit.log")
[ "$n_audit" = 121 ] || fail "audit log has $n_audit successful changes, want 121"
# The changes went to the dataplane as DELTAs (docs/control.md, "Change flow"), and the
# digest of what they made is the digest of that table sent whole (compared below).
n_delta=$(grep -c "changes to" "$W/dataplane.log" || true)
[ "$n_delta" -ge 60 ] || fail "only $n_delta of 121 changes reached the dataplane as deltas"
digest_of() { /usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" hello |
	/usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["table_version"], h["table_digest"])'; }
digest_delta=$(digest_of)

# Dataplane restart: down while it is gone, then the table pushed again unasked.
dataplane_stop
for _ in $(seq 60); do
	rc=0
	"${ASTERCTL[@]}" health >"$W/health.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && break
	sleep 0.1
done
[ "$rc" = 2 ] && grep -qF "dataplane unreachable" "$W/health.out" ||
	fail "health with the dataplane stopped: exit $rc: $(cat "$W/health.out")"
dataplane_start
wait_in_sync
grep -qF "table version $V in force" "$W/dataplane.log" || fail "the restarted dataplane did not log version $V in force"
[ "$(digest_of)" = "$digest_delta" ] ||
	fail "table $V sent whole has digest $(digest_of), after the deltas it had $digest_delta"
capture_start "$W/out2.pcap"
send_feed 1500 "$W/ab.pcap"
sleep 1
/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py" "$W/dp.sock" status --out "$W/status2.json" >/dev/null ||
	fail "dataplane status after restart"
capture_stop
/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/versions" \
	--feed "$W/feed/a.pcap" --feed "$W/feed/b.pcap" --out-pcap "$W/out2.pcap" \
	--status "$W/status2.json" >"$W/check2.log" 2>&1 || fail "after dataplane restart: $(head -n 3 "$W/check2.log" | tr '\n' ' ')"
/usr/bin/python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["table_log"]; assert {e["table_version"] for f in l.values() for e in f} == {int(sys.argv[2])}, l' \
	"$W/status2.json" "$V" || fail "after restart traffic was not routed by version $V alone"
echo "dataplane restarted: table version $V re-pushed whole by aster-control, same digest as after $n_delta deltas ($digest_delta); $(tail -n 1 "$W/check2.log")"
echo "PASS $TEST_NAME"
