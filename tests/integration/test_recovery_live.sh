#!/bin/bash
# Upstream recovery when the exchange's re-request server does not simply answer
# (docs/protocol.md §6.3), live in network namespaces (atleast.sh):
#  1. a server that never answers: each range missing on both lines is asked `tries`
#     times, `timeout_us` apart, then declared a gap, and delivery goes on: the counters
#     say exactly that (requests = tries x ranges, gaps = ranges given up, gap messages =
#     the messages the exchange lost on every line), and every subscriber ends with
#     exactly what the lines carried (aster_check.py --streams over the exchange's
#     --delivered stream), without a gap in its own stream;
#  2. partial answers (at most 300 bytes), at most 40 answers a second and one at once,
#     each 2 ms late: recovery completes through repeated requests (rests and resends),
#     no gap.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/atleast.sh"

gen feed --lines 1 --loss-a 0 --dup 0 --messages 12000 --symbols 200 --subscribers 2 --seed 73
atl_bed
atl_profile hold_packets=1024

# run NAME RECOVERY-JSON [SIM OPTIONS...]: a dataplane, the clients and the exchange
run() {
	local name=$1 rec=$2
	shift 2
	atl_table "$W/feed/routing.yaml" "$W/routing.yaml" "{\"recovery\": $rec}"
	rm -rf "$W/streams"
	dataplane_start --config "$W/routing.yaml"
	atl_clients
	atl_sim "$name" "$W/feed/a.pcap" --heartbeat-ms 50 --tail-s 0.3 "$@"
	atl_status "$W/$name.status.json"
	dataplane_stop
	atl_clients_wait
}

run silent '{"wait_us": 1000, "timeout_us": 5000, "tries": 3}' --no-answer --linger-s 0.1 \
	--loss A=0.03 --loss B=0.03 --loss-both 0.01 --seed 5 --pps 2000
atl_streams silent "$W/silent.delivered.pcap"
/usr/bin/python3 - "$W/silent.status.json" "$W/silent.sim.json" "$W" >"$W/silent.counters" 2>&1 <<'PY' || fail "silent: $(tail -n 1 "$W/silent.counters")"
import glob, json, sys
st, sim = (json.load(open(p)) for p in sys.argv[1:3])
f = st["feeds"]["itch"]
ranges, msgs = sim["lost_all_ranges"], sim["lost_all_messages"]
fails = []
if ranges < 2:
    fails.append("the exchange lost only %d ranges on every line: too few to prove anything" % ranges)
for k, exp in (("recovery_gaps", ranges), ("gaps", ranges), ("recovery_gap_messages", msgs),
               ("gap_messages", msgs), ("recovery_requests", 3 * ranges), ("recovered", 0)):
    if f[k] != exp:
        fails.append("feed %s = %d, expected %d" % (k, f[k], exp))
if sim["server"]["ignored_no_answer"] != f["recovery_requests"]:
    fails.append("the exchange ignored %d requests, aster counted %d sent" % (
        sim["server"]["ignored_no_answer"], f["recovery_requests"]))
for p in glob.glob(sys.argv[3] + "/sub*.client.json"):
    c = json.load(open(p))
    if c["gaps"] or not c["complete"]:
        fails.append("%s: %d gaps in aster's stream, complete %s" % (p, c["gaps"], c["complete"]))
for x in fails:
    print("FAIL: " + x)
print("silent server: %d ranges (%d messages) lost on every line, %d requests, all declared "
      "gaps after 3 tries; delivery went on" % (ranges, msgs, f["recovery_requests"]))
sys.exit(1 if fails else 0)
PY
cat "$W/silent.counters"

run limited '{"wait_us": 1000, "timeout_us": 20000, "tries": 50}' --max-answer-bytes 300 \
	--answer-rate 40 --answer-burst 1 --answer-delay-us 2000 --linger-s 1.0 \
	--loss A=0.05 --loss B=0.05 --loss-both 0.01 --seed 6 --pps 500
atl_streams limited "$W/limited.canonical.pcap"
/usr/bin/python3 - "$W/limited.status.json" "$W/limited.sim.json" >"$W/limited.counters" 2>&1 <<'PY' || fail "limited: $(tail -n 1 "$W/limited.counters")"
import json, sys
st, sim = (json.load(open(p)) for p in sys.argv[1:3])
f, srv = st["feeds"]["itch"], sim["server"]
fails = []
if f["gaps"] or f["recovery_gaps"]:
    fails.append("gaps %d, recovery_gaps %d" % (f["gaps"], f["recovery_gaps"]))
if f["recovered"] < sim["lost_all_messages"] or sim["lost_all"] < 2:
    fails.append("recovered %d of %d messages lost on every line" % (f["recovered"],
                                                                    sim["lost_all_messages"]))
if srv["partial_answers"] == 0 or srv["ignored_rate"] == 0:
    fails.append("partial answers %d, rate-limited requests %d: the case was not exercised" % (
        srv["partial_answers"], srv["ignored_rate"]))
if f["recovery_requests"] <= sim["lost_all_ranges"] or f["recovery_resends"] == 0:
    fails.append("%d requests (%d resends) for %d ranges" % (
        f["recovery_requests"], f["recovery_resends"], sim["lost_all_ranges"]))
for x in fails:
    print("FAIL: " + x)
print("partial, rate-limited, late answers: %d ranges, %d requests (%d resends), %d partial "
      "answers, %d requests ignored by the exchange's rate; recovered %d messages, no gap" % (
          sim["lost_all_ranges"], f["recovery_requests"], f["recovery_resends"],
          srv["partial_answers"], srv["ignored_rate"], f["recovered"]))
sys.exit(1 if fails else 0)
PY
cat "$W/limited.counters"
echo "PASS $TEST_NAME"
