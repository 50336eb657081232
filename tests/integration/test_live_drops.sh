#!/bin/bash
# The live drop paths, provoked (docs/protocol.md §3.6; docs/architecture.md): aster-
# dataplane live in a network namespace with a 64-entry RX->TX ring and two output
# ports served by one TX lcore: out0 on af_packet (captured at the far end) and out1 a
# net_ring port nobody reads. The feed is sent in two halves at 8000 frames/s:
#  1. with the TX lcore's thread moved onto the RX lcore's CPU at SCHED_IDLE, so it
#     runs only for a slice now and then while the RX lcore polls: the ring fills,
#     `ring_full`;
#  2. with the TX lcore back on its CPU at normal priority: out1's queue (1024 frames)
#     fills and TX bursts come back short, `tx_full`.
# Both reasons must be counted, per subscriber too (each one's `dropped` is the sum of
# its `dropped_<reason>`, and each reason summed over the subscribers is the dataplane's
# drops.<reason>; out1's subscribers are refused by its TX queue), and for every
# subscriber the messages delivered plus
# its `dropped` counter must equal what the table routed to it (tests/tools/
# live_check.py --drops, an independent model of the router): on out0 the messages
# captured at the far end, in feed order; on out1 its `messages` counter. Nothing is
# lost without a counter.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

gen feed --messages 30000 --symbols 200 --subscribers 6 --lines 1 --max-msgs-per-packet 2 \
	--seed 97
mkdir -p "$W/versions"
cp "$W/feed/routing.yaml" "$W/versions/v1.yaml"
live_profile
# (af_packet bypasses the interface's queue unless told not to)
sed -i -e 's/^ring_size:.*/ring_size: 64/' -e 's/^burst:.*/burst: 64/' \
	-e 's/iface=aster-out0,qpairs=1"}/iface=aster-out0,qpairs=1"}\n  - {name: out1, dev: "net_ring0"}/' \
	"$W/live.yaml"
grep -q '^ring_size: 64' "$W/live.yaml" &&
	grep -q 'net_ring0' "$W/live.yaml" || fail "cannot derive the profile in $W/live.yaml"
# every other subscriber on out1
/usr/bin/python3 - "$W/versions/v1.yaml" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cfg["ports"].append({"name": "out1"})
for s in cfg["subscribers"][1::2]:
    s["port"] = "out1"
yaml.safe_dump(cfg, open(sys.argv[1], "w"), default_flow_style=None)
PY

netns_up
dataplane_start
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/versions/v1.yaml" >"$W/apply1.json" || fail "apply: $(cat "$W/apply1.json")"
capture_start "$W/out.pcap"
# the feed's two halves, as two pcaps
/usr/bin/python3 - "$W/feed/a.pcap" "$W/half1.pcap" "$W/half2.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
head, recs, off = data[:24], [], 24
while off + 16 <= len(data):
    n = struct.unpack_from("<I" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">I", data, off + 8)[0]
    recs.append(data[off:off + 16 + n])
    off += 16 + n
half = len(recs) // 2
for path, part in ((sys.argv[2], recs[:half]), (sys.argv[3], recs[half:])):
    open(path, "wb").write(head + b"".join(part))
PY
# the TX lcore (lcore 2 in the profile) and the RX lcore's CPU (lcore 1)
TX_TID=$(ps -T -p "$DP_PID" -o spid=,comm= | awk '$2 == "rte-worker-2" {print $1}')
[ -n "$TX_TID" ] || fail "no thread rte-worker-2 in the dataplane: $(ps -T -p "$DP_PID" -o comm= | tr '\n' ' ')"
RX_CPU=$(sed -n 's/.*{id: 1, cpu: \([0-9]*\), roles: \[rx\]}.*/\1/p' "$W/live.yaml")
TX_CPU=$(sed -n 's/.*{id: 2, cpu: \([0-9]*\), roles: \[tx\]}.*/\1/p' "$W/live.yaml")
[ -n "$RX_CPU" ] && [ -n "$TX_CPU" ] || fail "cannot read the lcores' CPUs from $W/live.yaml"
send() {
	ip netns exec "$NS_EXCH" tcpreplay -q -i feed0 --pps 8000 "$1" >>"$W/tcpreplay.log" 2>&1 ||
		fail "tcpreplay: $(tail -n 1 "$W/tcpreplay.log")"
}
taskset -p -c "$RX_CPU" "$TX_TID" >/dev/null && chrt --idle -p 0 "$TX_TID" ||
	fail "cannot starve the TX lcore's thread $TX_TID"
send "$W/half1.pcap"
chrt --other -p 0 "$TX_TID" && taskset -p -c "$TX_CPU" "$TX_TID" >/dev/null ||
	fail "cannot restore the TX lcore's thread $TX_TID"
send "$W/half2.pcap"
# until the slowed queue has drained: the dataplane's sent count stops moving
prev=-1
for _ in $(seq 100); do
	"${CTL[@]}" "$W/dp.sock" status --out "$W/status.json" || fail "status"
	now=$(/usr/bin/python3 -c 'import json,sys; print(sum(s["packets"] for s in json.load(open(sys.argv[1]))["subscribers"].values()))' "$W/status.json")
	[ "$now" = "$prev" ] && break
	prev=$now
	sleep 0.5
done
sleep 1
capture_stop
/usr/bin/python3 - "$W/status.json" <<'PY' || fail "drops not provoked"
import json, sys
st = json.load(open(sys.argv[1]))
d, subs = st["drops"], st["subscribers"]
print("drops: ring_full %d, tx_full %d" % (d.get("ring_full", 0), d.get("tx_full", 0)))
if not d.get("ring_full") or not d.get("tx_full"):
    sys.exit("FAIL: want both ring_full and tx_full counted: %s" % d)
reasons = ("ring_full", "tx_full", "too_large", "no_mbuf")
for name, s in subs.items():
    if s["dropped"] != sum(s["dropped_" + r] for r in reasons):
        sys.exit("FAIL: %s dropped %d, by reason %s" % (name, s["dropped"],
                 {r: s["dropped_" + r] for r in reasons}))
for r in reasons:
    if sum(s["dropped_" + r] for s in subs.values()) != d.get(r, 0):
        sys.exit("FAIL: drops.%s %d, per subscriber %s" % (r, d.get(r, 0),
                 {n: s["dropped_" + r] for n, s in subs.items()}))
out1 = sorted(subs)[1::2]
if not all(subs[n]["dropped_tx_full"] > 0 for n in out1):
    sys.exit("FAIL: out1's subscribers %s not refused by its TX queue: %s"
             % (out1, {n: subs[n]["dropped_tx_full"] for n in out1}))
print("per subscriber: " + ", ".join("%s ring_full %d tx_full %d" % (n, s["dropped_ring_full"],
      s["dropped_tx_full"]) for n, s in sorted(subs.items())))
PY
/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/versions" --feed "$W/feed/a.pcap" \
	--out-pcap "$W/out.pcap" --status "$W/status.json" --drops --uncaptured-port out1 \
	>"$W/check.log" 2>&1 ||
	fail "$(head -n 4 "$W/check.log" | tr '\n' ' ')"
cat "$W/check.log"
echo "PASS $TEST_NAME"
