#!/bin/bash
# Live routing changes without loss (issue #3): aster-dataplane in live mode on
# af_packet in a network namespace, an A/B feed sent with tcpreplay, while 120 routing
# tables (pattern adds and removes, type-filter edits, subscribers added and removed)
# are applied over the control socket. Afterwards every subscriber's captured stream is
# checked message by message against the table version in force for that message
# (the dataplane's table_log), with no gap in any subscriber's sequence numbers and no
# drop counted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

gen feed --messages 60000 --symbols 400 --subscribers 12 --loss-a 0.01 --loss-b 0.01 \
	--rechunk --seed 71
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/feed/b.pcap"
mkdir -p "$W/versions"
cp "$W/feed/routing.yaml" "$W/versions/v1.yaml"

netns_up
live_profile 200000 # every message is checked: no hold may time out (netns.sh)
dataplane_start
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/versions/v1.yaml" >/dev/null || fail "apply v1"
capture_start "$W/out.pcap"

# 119 more versions, derived one from the other, applied while the feed flows
/usr/bin/python3 - "$W/versions" 120 >"$W/make_versions.log" 2>&1 <<'PY' || fail "version generation: $(tail -n 1 "$W/make_versions.log")"
import random, sys, yaml
d, n = sys.argv[1], int(sys.argv[2])
random.seed(5)
cfg = yaml.safe_load(open(f"{d}/v1.yaml"))
syms = ["^A", "^B", "^C", "^M", "^S", "^[D-F]", "^(AB|CD)", "X$", "^Q", "^Z", "O"]
extra = 0
for v in range(2, n + 1):
    subs = cfg["subscribers"]
    op = random.choice(["addpat", "addpat", "delpat", "types", "addsub", "delsub"])
    s = random.choice(subs)
    if op == "addpat":
        p = random.choice(syms)
        if p not in s["symbols"]:
            s["symbols"].append(p)
    elif op == "delpat" and len(s["symbols"]) > 1:
        s["symbols"].pop(random.randrange(len(s["symbols"])))
    elif op == "types":
        if "types" in s:
            del s["types"]
        else:
            s["types"] = random.choice(["AFD", "AFECXDUPQ", "RAF", "SAF"])
    elif op == "addsub":
        extra += 1
        subs.append({"name": f"live{extra:03d}", "feed": "itch", "port": "out0",
                     "dst": {"mac": f"02:00:00:00:9{extra // 256:01x}:{extra % 256:02x}",
                             "ip": f"10.9.{extra // 256}.{extra % 256}", "port": 40000 + extra},
                     "session": f"LIVE{extra:06d}", "symbols": [random.choice(syms)]})
    elif op == "delsub" and len(subs) > 4:
        subs.pop(random.randrange(len(subs)))
    with open(f"{d}/v{v}.yaml", "w") as f:
        yaml.safe_dump(cfg, f, default_flow_style=None, width=1 << 20)
PY

send_feed 1200 "$W/ab.pcap" &
sender=$!
/usr/bin/python3 - "$ROOT/tests/tools" "$W/dp.sock" "$W/versions" 120 >"$W/apply.log" 2>&1 <<'PY' || fail "apply: $(tail -n 1 "$W/apply.log")"
import sys, time
sys.path.insert(0, sys.argv[1])
import ctl_client
c = ctl_client.Conn(sys.argv[2])
c.hello()
worst = 0
for v in range(2, int(sys.argv[4]) + 1):
    r = c.apply(v, open(f"{sys.argv[3]}/v{v}.yaml").read())
    if r["status"] != 0:
        sys.exit(f"version {v} refused: {r['error']}")
    worst = max(worst, r["build_ns"] + r["publish_ns"])
    time.sleep(0.02)
print(f"applied {int(sys.argv[4]) - 1} versions, slowest build+publish {worst / 1e6:.2f} ms")
PY
wait "$sender" || fail "tcpreplay failed: $(tail -n 1 "$W/tcpreplay.log")"
sleep 1
"${CTL[@]}" "$W/dp.sock" status --out "$W/status.json" || fail "status"
capture_stop
/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/versions" \
	--feed "$W/feed/a.pcap" --feed "$W/feed/b.pcap" --out-pcap "$W/out.pcap" \
	--status "$W/status.json" >"$W/check.log" 2>&1 || fail "$(head -n 3 "$W/check.log" | tr '\n' ' ')"
cat "$W/apply.log" "$W/check.log"
echo "PASS $TEST_NAME"
