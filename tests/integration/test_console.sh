#!/bin/bash
# The operator's console in a real browser, on a live appliance (issue 12): the dataplane
# in live mode on af_packet in network namespaces with an A/B feed sent by tcpreplay, and
# aster-control serving the console. One subscriber sits on an output port whose link goes
# down once the dataplane has opened it (net_pcap on a veth: the kernel refuses every
# frame, so every frame for it is dropped and counted), so it is the troubled one the
# console must single out. The table is applied and changed over
# the HTTPS API with a client certificate, so the history names that identity.
#
# tests/tools/console_check.py drives headless Chromium through every page and compares
# the DOM with the /status document of the same sample, checks that values move without a
# reload, that the latency page shows the dataplane's own figures, and that the browser
# logged no error; it saves a screenshot of each page in the test log directory
# ($ASTER_TEST_LOG_DIR/console, set by scripts/test; else kept in $W with KEEP=1).
# Then /metrics of the live appliance goes through promtool and is compared with /status.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/certs.sh"
. "$(dirname "$0")/control.sh"

trap 'rc=$?; control_stop; netns_down "$rc"' EXIT

make_certs "$W/certs"
PORT=$(free_port)
HTTPS=$(free_port)
{
	control_settings "$PORT"
	https_settings "$W/certs" "$HTTPS"
} >"$W/settings.yaml"
ALICE=("$BUILD/control/asterctl" --server "https://127.0.0.1:$HTTPS" --cert "$W/certs/ops-alice.pem"
	--key "$W/certs/ops-alice.key" --cacert "$W/certs/ca.pem")
CONTROL_READY=("${ALICE[@]}" status)

# ~30 s of feed at 600 frames/s, both lines (the browser's checks run while it flows);
# small packets so that counters move often.
gen feed --messages 22000 --symbols 200 --subscribers 5 --loss-a 0.01 --loss-b 0.01 \
	--rechunk --max-msgs-per-packet 3 --seed 91
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/feed/b.pcap"
# The troubled subscriber: on out1 (below), every symbol, in small frames.
/usr/bin/python3 - "$W/feed/routing.yaml" "$W/routing.yaml" <<'PY' || fail "cannot write the routing file"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cfg["ports"].append({"name": "out1"})
cfg["subscribers"].append({"name": "slow01", "feed": "itch", "port": "out1",
                           "dst": {"mac": "02:00:00:00:0e:01", "ip": "10.1.14.1", "port": 39001},
                           "session": "SLOW000001", "symbols": ["^[A-Z]"], "max_payload": 128})
# No heartbeats (docs/protocol.md §6.1): once the feed stops, no frame moves the latency
# figures, which the latency page must then show exactly.
for s in cfg["subscribers"]:
    s["heartbeat_ms"] = 0
yaml.safe_dump(cfg, open(sys.argv[2], "w"), default_flow_style=None, width=1 << 20)
PY

netns_up
live_profile
ip -n "$NS_DUT" link add slow0 type veth peer name slow1 && ip -n "$NS_DUT" link set slow0 up ||
	fail "cannot add the veth slow0"
sed -i 's|^  - {name: out0, dev: "net_af_packet1,iface=aster-out0,qpairs=1"}$|&\n  - {name: out1, dev: "net_pcap1,iface=slow0"}|' "$W/live.yaml"
grep -q 'name: out1, dev: "net_pcap1,iface=slow0"' "$W/live.yaml" || fail "cannot add the slow port to $W/live.yaml"
dataplane_start
# Down once open: every frame sent on it is refused (ENETDOWN), so dropped and counted.
ip -n "$NS_DUT" link set slow0 down
control_start
"${ALICE[@]}" apply -f "$W/routing.yaml" >"$W/apply.out" 2>&1 || fail "apply over HTTPS: $(cat "$W/apply.out")"
grep -qF "dataplane: version 1 in force" "$W/apply.out" || fail "apply not in force: $(cat "$W/apply.out")"
"${ALICE[@]}" add-pattern sub0001 '^ZZZZ$' >"$W/addp.out" 2>&1 || fail "add-pattern over HTTPS: $(cat "$W/addp.out")"
grep -qF "dataplane: version 2 in force" "$W/addp.out" || fail "add-pattern not in force: $(cat "$W/addp.out")"

shots="${ASTER_TEST_LOG_DIR:-$W}/console"
send_feed 600 "$W/ab.pcap" &
sender=$!
/usr/bin/python3 "$ROOT/tests/tools/console_check.py" --url "http://127.0.0.1:$PORT" --out "$shots" \
	--trouble slow01 --by "ops-alice from 127.0.0.1:" --diff '+ subscriber sub0001 pattern "^ZZZZ$"' \
	>"$W/console.log" 2>&1 || {
	cat "$W/console.log"
	fail "$(grep -m1 FAIL "$W/console.log" || tail -n 1 "$W/console.log")"
}
cat "$W/console.log"
wait "$sender" || fail "tcpreplay failed: $(tail -n 1 "$W/tcpreplay.log")"

# /metrics of the live appliance: Prometheus's own parser and linter, and the figures of
# the sample it was rendered from.
for _ in $(seq 20); do
	curl -sf "http://127.0.0.1:$PORT/status" >"$W/status.json"
	curl -sf "http://127.0.0.1:$PORT/metrics" >"$W/metrics"
	curl -sf "http://127.0.0.1:$PORT/status" >"$W/status2.json"
	cmp -s "$W/status.json" "$W/status2.json" && break
done
promtool check metrics <"$W/metrics" >"$W/promtool.out" 2>&1 ||
	fail "/metrics: promtool check metrics: $(head -n 3 "$W/promtool.out" | tr '\n' ' ')"
/usr/bin/python3 - "$W/metrics" "$W/status.json" <<'PY' || fail "/metrics disagrees with /status"
import json, re, sys
metrics, st = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
def metric(name, label):
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(label)), metrics, re.M)
    assert m, "no %s{%s}" % (name, label)
    return int(m.group(1))
n = 0
for f, c in st["feeds"].items():
    assert metric("aster_feed_messages_total", 'feed="%s"' % f) == c["messages"], f
    n += 1
    for l, lc in c["lines"].items():
        for k in ("packets", "won", "lost"):
            assert metric("aster_line_%s_total" % k, 'feed="%s",line="%s"' % (f, l)) == lc[k], (f, l, k)
            n += 1
for s, c in st["subscribers"].items():
    assert metric("aster_subscriber_messages_total", 'subscriber="%s"' % s) == c["messages"], s
    assert metric("aster_subscriber_dropped_total", 'subscriber="%s"' % s) == c["dropped"], s
    n += 2
assert st["subscribers"]["slow01"]["dropped"] > 0, st["subscribers"]["slow01"]
assert re.search(r'^aster_latency_seconds_count [1-9]', metrics, re.M), "no latency histogram"
print("/metrics: promtool check metrics passes; %d series as /status says (slow01 dropped %d)"
      % (n, st["subscribers"]["slow01"]["dropped"]))
PY
# The Grafana dashboard asks only for series this /metrics has.
/usr/bin/python3 - "$ROOT/docs/grafana/aster.json" "$W/metrics" <<'PY' || fail "docs/grafana/aster.json"
import json, re, sys
dash, metrics = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
have = set(re.findall(r"^([a-z_]+)(?:\{| )", metrics, re.M))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += [a["expr"] for a in dash["annotations"]["list"]]
names = {n for e in exprs for n in re.findall(r"\baster_[a-z_]+", e)}
missing = sorted(names - have)
assert not missing, "series not in /metrics: %s" % missing
# the console's panels: per line, upstream recovery, retransmissions, drops by reason
want = {"aster_line_won_total", "aster_line_lost_total", "aster_feed_recovered_total",
        "aster_feed_recovery_open_ranges", "aster_subscriber_retransmit_messages_total",
        "aster_subscriber_dropped_tx_full_total"}
assert want <= names, "no panel queries %s" % sorted(want - names)
print("grafana: %d panels, %d queries over %d series, all in /metrics" % (len(dash["panels"]), len(exprs), len(names)))
PY
echo "PASS $TEST_NAME"
