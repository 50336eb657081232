#!/bin/bash
# In-appliance latency as live counters (docs/performance.md): every frame the TX
# lcores send is counted once in the RX-burst-to-TX-burst histogram, stats.json's
# "latency" holds its count and ordered percentiles, and DPDK telemetry's
# /aster/latency serves the same values from the running dataplane.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 20000 --symbols 300 --subscribers 6 --seed 61
prefix="aster-lattest-$$"
replay_linger "$prefix"
pid=$LINGER_PID

telemetry "$prefix" "$W/tel.json" /aster/latency
/usr/bin/python3 - "$W/tel.json" "$W/out/stats.json" <<'PY' || exit 1
import json, sys
replies = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
def want(cond, what):
    if not cond:
        sys.exit(f"FAIL test_latency: {what}")
lat = st.get("latency")
want(isinstance(lat, dict), f"stats.json has no latency object: {sorted(st)}")
keys = ["count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]
want(all(isinstance(lat.get(k), int) for k in keys), f"stats.json latency keys: {lat}")
sent = sum(v.get("packets", 0) for k, v in st["lcores"].items() if k.startswith("tx"))
frames = sum(v["packets"] for v in st["subscribers"].values())
want(sent == frames and sent > 0, f"TX lcores sent {sent} frames, subscribers got {frames}")
want(lat["count"] == sent, f"latency count {lat['count']} != frames sent {sent}")
want(0 < lat["p50_ns"] <= lat["p90_ns"] <= lat["p99_ns"] <= lat["p999_ns"] <= lat["max_ns"],
     f"percentiles out of order: {lat}")
want(lat["mean_ns"] <= lat["max_ns"], f"mean above max: {lat}")
want(replies.get("/aster/latency") == lat,
     f"/aster/latency {replies.get('/aster/latency')} != stats.json {lat}")
PY

kill -TERM "$pid"
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "replay still running 10 s after SIGTERM"
[ ! -e "/var/run/dpdk/$prefix" ] || fail "/var/run/dpdk/$prefix left behind"
echo "PASS $TEST_NAME"
