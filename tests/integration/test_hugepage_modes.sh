#!/bin/bash
# The replay works with and without hugepages (SPEC §5): --huge off always runs with
# --no-huge and the profile's memory_mb; --huge auto takes hugepages when enough are
# free and mounted. Both outputs are exact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 50000 --symbols 800 --subscribers 16 --seed 61
for mode in off auto; do
	"${REPLAY[@]}" --config "$W/feed/routing.yaml" --feed "$W/feed/a.pcap" \
		--feed "$W/feed/b.pcap" --out "$W/$mode" --huge "$mode" >"$W/$mode.log" 2>&1 ||
		fail "--huge $mode: exit $?: $(tail -n 1 "$W/$mode.log")"
	"${CHECK[@]}" --config "$W/feed/routing.yaml" --feed "$W/feed/a.pcap" \
		--feed "$W/feed/b.pcap" --out "$W/$mode" >"$W/$mode.check" 2>&1 ||
		fail "--huge $mode: $(grep -m1 -v '^OK' "$W/$mode.check")"
	used=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["replay"]["hugepages"])' "$W/$mode/stats.json")
	echo "--huge $mode: hugepages used: $used; $(tail -n 1 "$W/$mode.check")"
	[ "$mode" != off ] || [ "$used" = False ] || fail "--huge off still used hugepages"
done
echo "PASS $TEST_NAME"
