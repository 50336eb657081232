#!/bin/bash
# The live drop paths, provoked (docs/protocol.md §3.6; docs/architecture.md): aster-
# dataplane live in a network namespace with a 64-entry RX->TX ring and two output
# ports served by one TX lcore: out0 on af_packet behind a rate-limited queue (tbf, 20 s
# deep: the kernel holds the frames, af_packet's TX waits for room, so the TX lcore is
# slow and the ring fills: `ring_full`), and out1 a net_ring port nobody reads (its
# queue fills and TX bursts come back short: `tx_full`). The feed is sent at 8000 frames/s.
# Both reasons must be counted, and for every subscriber the messages delivered plus
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
	-e 's/iface=aster-out0,qpairs=1"}/iface=aster-out0,qpairs=1,qdisc_bypass=0"}\n  - {name: out1, dev: "net_ring0"}/' \
	"$W/live.yaml"
grep -q '^ring_size: 64' "$W/live.yaml" && grep -q 'qdisc_bypass=0' "$W/live.yaml" &&
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
# what passes the interface is never dropped by the kernel (a deep queue), only slowed
ip netns exec "$NS_DUT" tc qdisc add dev aster-out0 root tbf rate 4mbit burst 10kb latency 20s ||
	fail "tc tbf on aster-out0"
dataplane_start
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/versions/v1.yaml" >"$W/apply1.json" || fail "apply: $(cat "$W/apply1.json")"
capture_start "$W/out.pcap"
ip netns exec "$NS_EXCH" tcpreplay -q -i feed0 --pps 8000 "$W/feed/a.pcap" >"$W/tcpreplay.log" 2>&1 ||
	fail "tcpreplay: $(tail -n 1 "$W/tcpreplay.log")"
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
d = json.load(open(sys.argv[1]))["drops"]
print("drops: ring_full %d, tx_full %d" % (d.get("ring_full", 0), d.get("tx_full", 0)))
if not d.get("ring_full") or not d.get("tx_full"):
    sys.exit("FAIL: want both ring_full and tx_full counted: %s" % d)
PY
/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/versions" --feed "$W/feed/a.pcap" \
	--out-pcap "$W/out.pcap" --status "$W/status.json" --drops --uncaptured-port out1 \
	>"$W/check.log" 2>&1 ||
	fail "$(head -n 4 "$W/check.log" | tr '\n' ' ')"
cat "$W/check.log"
echo "PASS $TEST_NAME"
