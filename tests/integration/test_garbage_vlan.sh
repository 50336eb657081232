#!/bin/bash
# Frames that are not feed packets (docs/protocol.md §3.1: non-IPv4, non-UDP, wrong port or group,
# IPv4 fragments, truncated, two 802.1Q tags) and malformed MoldUDP64 copies (docs/protocol.md §3.2)
# mixed into both lines, half the frames carrying an 802.1Q tag, some IPv4 options.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen garbage --messages 200000 --symbols 2000 --subscribers 32 --garbage 0.05 --vlan \
	--ip-options 0.05 --rechunk --seed 31
replay_and_check garbage
echo "PASS $TEST_NAME"
