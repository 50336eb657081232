#!/bin/bash
# The console's feeds page while a feed recovers from its exchange's re-request server
# (docs/console.md, "Feeds"; docs/protocol.md §6.3), in a real browser: the exchange
# (tests/tools/exchange_sim.py, atleast.sh's test bed) multicasts an A/B feed whose line
# B is down (every packet lost) and whose line A loses 4 %, and answers re-requests 150 ms
# late, so ranges stay open a while; aster-control serves the console.
# tests/tools/console_check.py --recovery --down B reads the feeds page twice, 2 s apart,
# with no reload: the recovery summary (state, open ranges, held packets, recovered,
# requests, ...), the counters and the lines equal the /status document of the sample the
# page shows, the messages recovered rose in between, and line B, which carried nothing,
# is flagged "never wins". The page's screenshot is saved in the test log directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/atleast.sh"
. "$(dirname "$0")/certs.sh" # free_port
. "$(dirname "$0")/control.sh"

trap 'rc=$?; control_stop; netns_down "$rc"' EXIT

# ~18 s of feed at 250 packets/s: the browser's checks run while it flows.
gen feed --lines 1 --loss-a 0 --dup 0 --messages 9000 --max-msgs-per-packet 3 --symbols 200 \
	--subscribers 3 --seed 75
atl_bed
atl_profile hold_packets=1024
atl_table "$W/feed/routing.yaml" "$W/routing.yaml" \
	'{"recovery": {"wait_us": 1000, "timeout_us": 400000, "tries": 5}}'
PORT=$(free_port)
control_settings "$PORT" >"$W/settings.yaml"
dataplane_start
control_start
"$BUILD/control/asterctl" --socket "$W/sock/asterctl.sock" apply -f "$W/routing.yaml" \
	>"$W/apply.out" 2>&1 || fail "apply: $(cat "$W/apply.out")"
grep -qF "dataplane: version 1 in force" "$W/apply.out" || fail "apply not in force: $(cat "$W/apply.out")"

atl_sim recovering "$W/feed/a.pcap" --loss A=0.04 --loss B=1 --seed 9 \
	--pps 250 --answer-delay-us 150000 --heartbeat-ms 50 --tail-s 0.3 --linger-s 0.5 &
sim=$!
shots="${ASTER_TEST_LOG_DIR:-$W}/console"
/usr/bin/python3 "$ROOT/tests/tools/console_check.py" --url "http://127.0.0.1:$PORT" --out "$shots" \
	--recovery --down B >"$W/console.log" 2>&1 || {
	cat "$W/console.log"
	kill "$sim" 2>/dev/null || true
	fail "$(grep -m1 FAIL "$W/console.log" || tail -n 1 "$W/console.log")"
}
cat "$W/console.log"
wait "$sim" || fail "exchange_sim: $(tail -n 1 "$W/recovering.sim.log")"
echo "PASS $TEST_NAME"
