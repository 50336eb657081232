#!/bin/bash
# The independent checker itself (tests/tools/aster_check.py): it must accept an output
# written by hand for a small feed and reject each of a set of deliberate mistakes.
# Needs no dataplane.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"

/usr/bin/python3 "$ROOT/tests/integration/checker_selftest.py" "$W" >"$W/selftest.log" 2>&1 ||
	fail "$(grep -m1 FAIL "$W/selftest.log" || tail -n 1 "$W/selftest.log")"
tail -n 1 "$W/selftest.log"
echo "PASS $TEST_NAME"
