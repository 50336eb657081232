#!/bin/bash
# The replay works with and without hugepages (docs/protocol.md §5): --huge off always runs with
# --no-huge and the profile's memory_mb; --huge auto takes hugepages when enough are
# free and mounted. Both outputs are exact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 50000 --symbols 800 --subscribers 16 --seed 61
for mode in off auto; do
	NO_TSHARK=1 replay_check feed "$mode" --huge "$mode"
	used=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["replay"]["hugepages"])' "$W/$mode.out/stats.json")
	echo "--huge $mode: hugepages used: $used"
	[ "$mode" != off ] || [ "$used" = False ] || fail "--huge off still used hugepages"
done
echo "PASS $TEST_NAME"
