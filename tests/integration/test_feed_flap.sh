#!/bin/bash
# A feed removed and added back every 100 ms under lossy A/B traffic (docs/architecture.md,
# "Table changes"): aster-dataplane live on af_packet in a network namespace, 15 % loss
# on each line and line B 20 ms late, so that the arbiter holds packets most of the
# time, while the feed is taken out of the table and put back 30 times. A removed feed's
# state must not be freed while the RX lcore's housekeeping may still walk it: under the
# sanitizers (scripts/test runs this test on the ASan build too, where a feed's state is
# on the C heap) a use after free is a report that fails the test. The messages a feed
# held when it was removed are counted (drops.feed_removed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

gen feed --messages 30000 --symbols 100 --subscribers 3 --loss-a 0.15 --loss-b 0.15 \
	--max-msgs-per-packet 3 --seed 93
# line B 20 ms behind A: every packet A lost keeps the ones after it held until B's copy
editcap -t 0.02 "$W/feed/b.pcap" "$W/b-late.pcap" >/dev/null
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/b-late.pcap"
# with.yaml: the feed and its subscribers, and a second feed nobody sends; without.yaml:
# the second feed only, so the table is never empty
/usr/bin/python3 - "$W" <<'PY'
import sys, yaml
w = sys.argv[1]
cfg = yaml.safe_load(open(f"{w}/feed/routing.yaml"))
quiet = {"name": "quiet", "protocol": "moldudp64-itch50",
         "lines": [{"name": "A", "group": "233.1.1.1", "port": 20001},
                   {"name": "B", "group": "233.1.1.2", "port": 20001}]}
cfg["feeds"].append(quiet)
yaml.safe_dump(cfg, open(f"{w}/with.yaml", "w"), default_flow_style=None)
yaml.safe_dump({"feeds": [quiet], "ports": cfg["ports"], "subscribers": []},
               open(f"{w}/without.yaml", "w"), default_flow_style=None)
PY

netns_up
dataplane_start
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/with.yaml" >"$W/apply1.json" || fail "apply: $(cat "$W/apply1.json")"
send_feed 3000 "$W/ab.pcap" &
SEND=$!
/usr/bin/python3 - "$ROOT/tests/tools" "$W" <<'PY' || fail "flapping the feed failed"
import sys, time
sys.path.insert(0, sys.argv[1])
from ctl_client import Conn
w = sys.argv[2]
c = Conn(f"{w}/dp.sock")
assert "error" not in c.hello()
texts = [open(f"{w}/without.yaml").read(), open(f"{w}/with.yaml").read()]
for v in range(2, 62):
    r = c.apply(v, texts[v % 2])
    if r["status"] != 0:
        sys.exit(f"apply {v}: {r}")
    time.sleep(0.1)
print("feed removed and added back 30 times")
PY
wait "$SEND" || fail "tcpreplay"
"${CTL[@]}" "$W/dp.sock" status --out "$W/status.json" || fail "status after the flaps"
/usr/bin/python3 - "$W/status.json" <<'PY' || fail "counters after the flaps"
import json, sys
st = json.load(open(sys.argv[1]))
removed = st["drops"].get("feed_removed")
if not removed:
    sys.exit("FAIL: no message counted as discarded with a removed feed (drops: %s)" % st["drops"])
print("drops.feed_removed = %d (messages held by the feed when it was removed)" % removed)
PY
kill -0 "$DP_PID" || fail "the dataplane died: $(tail -n 3 "$W/dataplane.log")"
echo "PASS $TEST_NAME"
