#!/bin/bash
# Heartbeats and end-of-session packets carry the next sequence number (a gap only a
# heartbeat announces is counted), and two session changes each start a new stream
# with cleared locate bindings (docs/protocol.md §3.3, §3.4).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen hb_sessions --messages 200000 --symbols 1000 --subscribers 32 --heartbeats=10 --sessions 2 \
	--loss-a 0.02 --loss-b 0.02 --rechunk --seed 41
replay_and_check hb_sessions
gen hb_single --lines 1 --messages 50000 --symbols 500 --subscribers 16 --heartbeats=5 \
	--loss-a 0.02 --seed 42
replay_and_check hb_single
echo "PASS $TEST_NAME"
