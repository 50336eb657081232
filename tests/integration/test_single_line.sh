#!/bin/bash
# One feed line (docs/protocol.md §3.3 without arbitration): a clean capture, then one with losses
# (gaps never filled, counted) and duplicates.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen clean --lines 1 --messages 50000 --symbols 500 --subscribers 16 --loss-a 0 --dup 0 --seed 11
replay_and_check clean
gen lossy --lines 1 --messages 50000 --symbols 500 --subscribers 16 --loss-a 0.01 --dup 0.01 \
	--nanosecond --seed 12
replay_and_check lossy
echo "PASS $TEST_NAME"
