#!/bin/bash
# DPDK telemetry of a running dataplane: a replay kept up with --linger answers
# dpdk-telemetry.py's /aster/ commands with the same counters it wrote to stats.json,
# and SIGTERM to scripts/replay stops it and removes its runtime directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 20000 --symbols 300 --subscribers 6 --garbage 0.02 --seed 51
prefix="aster-teltest-$$"
replay_linger "$prefix"
pid=$LINGER_PID

telemetry "$prefix" "$W/tel.json" /aster/feeds /aster/feed,itch /aster/subscriber,sub0001 \
	/aster/drops /aster/lcores
/usr/bin/python3 - "$W/tel.json" "$W/out/stats.json" <<'PY' || exit 1
import json, sys
replies = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
def want(cond, what):
    if not cond:
        sys.exit(f"FAIL test_telemetry: {what}; telemetry said {replies}")
want(replies.get("/aster/feeds") == ["itch"], "/aster/feeds")
feed = replies.get("/aster/feed", {})
for k, v in st["feeds"]["itch"].items():
    if k == "lines":  # telemetry nests one level: each line is line_<name>
        want(len(v) == 2 and all(c["won"] > 0 for c in v.values()), f"stats.json lines {v}")
        for l, c in v.items():
            want(feed.get("line_" + l) == c, f"/aster/feed,itch line_{l}, stats.json {c}")
        continue
    want(feed.get(k) == v, f"/aster/feed,itch {k} = {feed.get(k)}, stats.json {v}")
want(replies.get("/aster/subscriber") == st["subscribers"]["sub0001"], "/aster/subscriber,sub0001")
want(replies.get("/aster/drops") == st["drops"], "/aster/drops")
want(any(k.startswith("rx") and v > 0 for k, v in replies.get("/aster/lcores", {}).items()),
     "/aster/lcores heartbeat")
PY

kill -TERM "$pid"
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "replay still running 10 s after SIGTERM"
pgrep -f -- "--file-prefix $prefix" >/dev/null && fail "aster-dataplane still running after SIGTERM"
[ ! -e "/var/run/dpdk/$prefix" ] || fail "/var/run/dpdk/$prefix left behind"
echo "PASS $TEST_NAME"
