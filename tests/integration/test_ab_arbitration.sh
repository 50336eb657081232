#!/bin/bash
# A/B line arbitration (docs/protocol.md §3.3): independent losses on both lines (the other line fills
# in; losses on both are gaps), duplicates on each line, and line B cut into different
# packet boundaries so packets partly overlap what was already delivered.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen same_cut --messages 200000 --symbols 2000 --subscribers 32 --loss-a 0.02 --loss-b 0.02 \
	--dup 0.01 --seed 21
replay_and_check same_cut
gen rechunk --messages 200000 --symbols 2000 --subscribers 32 --loss-a 0.03 --loss-b 0.02 \
	--dup 0.01 --rechunk --seed 22
replay_and_check rechunk
echo "PASS $TEST_NAME"
