#!/bin/bash
# Replay validates the at-least-once keys and acts on none of them (docs/protocol.md §5,
# §6): the same captures replayed with a table carrying every §6 key (recovery, a
# retransmitting port, history, heartbeats) give byte-identical output pcaps and the same
# statistics as without them, and the independent checker, reading the §6 table, agrees.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 20000 --symbols 300 --subscribers 8 --loss-a 0.02 --loss-b 0.02 \
	--heartbeats=20 --seed 61
/usr/bin/python3 - "$W/feed/routing.yaml" "$W/plain.yaml" "$W/alo.yaml" <<'PY' || fail "could not write the tables"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
for p in cfg["ports"]:
    p["src_ip"] = "10.1.0.254"  # not a §6 key: both tables have it
yaml.safe_dump(cfg, open(sys.argv[2], "w"), default_flow_style=None, width=1 << 20)
cfg["feeds"][0]["recovery"] = {
    "server": {"mac": "02:00:00:00:ee:01", "ip": "10.0.0.5", "port": 26400},
    "source": {"ip": "10.0.0.2", "port": 26401},
    "wait_us": 200, "timeout_us": 1000, "tries": 1}
for p in cfg["ports"]:
    p["retransmit"] = {"port": 31999, "rate": 10}
for i, s in enumerate(cfg["subscribers"]):
    s["history"] = [0, 1, 1000000][i % 3]
    s["heartbeat_ms"] = [0, 1][i % 2]
yaml.safe_dump(cfg, open(sys.argv[3], "w"), default_flow_style=None, width=1 << 20)
PY
cp "$W/plain.yaml" "$W/feed/routing.yaml"
NO_TSHARK=1 replay_check feed plain
cp "$W/alo.yaml" "$W/feed/routing.yaml"
replay_check feed alo
# the frames byte for byte (the record times are when TX wrote them), and the counters
/usr/bin/python3 - "$W/plain.out" "$W/alo.out" <<'PY' || fail "output differs with the §6 keys"
import json, os, sys
sys.path.insert(0, os.environ["ROOT_TOOLS"])
import pcapio
a, b = sys.argv[1:]
fa = [f for _t, f in pcapio.read(a + "/out0.pcap").frames]
fb = [f for _t, f in pcapio.read(b + "/out0.pcap").frames]
if fa != fb:
    sys.exit("out0.pcap: %d frames, %d with the §6 keys; first difference at frame %d" % (
        len(fa), len(fb), next((i for i, (x, y) in enumerate(zip(fa, fb)) if x != y),
                              min(len(fa), len(fb))) + 1))
sa, sb = (json.load(open(d + "/stats.json")) for d in (a, b))
for k in ("feeds", "subscribers", "drops"):
    if sa[k] != sb[k]:
        sys.exit("stats.json %s differs: %r / %r" % (k, sa[k], sb[k]))
PY

# and a §6 key in a bad form is refused like any other (exit 2, one line)
sed -i 's/tries: 1/tries: 0/' "$W/feed/routing.yaml"
set +e
"${REPLAY[@]}" --config "$W/feed/routing.yaml" --feed "$W/feed/a.pcap" --out "$W/bad.out" \
	>"$W/bad.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad tries: exit $rc, expected 2"
grep -q "routing.yaml:[0-9]*: tries: 0 is out of range 1..100" "$W/bad.log" ||
	fail "bad tries: $(tail -n 1 "$W/bad.log")"
echo "PASS $TEST_NAME"
