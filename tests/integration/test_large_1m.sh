#!/bin/bash
# The reference load: 1 000 000 messages, 8 000 symbols, 64 subscribers, two lines with
# the default losses and duplicates, line B re-chunked, heartbeats and a little garbage.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen large --messages 1000000 --symbols 8000 --subscribers 64 --rechunk --heartbeats \
	--garbage 0.001 --seed 51
replay_and_check large
echo "PASS $TEST_NAME"
