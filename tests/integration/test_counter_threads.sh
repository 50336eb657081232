#!/bin/bash
# Counters written by a polling lcore and read by other threads (common/counter.h): the
# arbiter's counters bumped on one thread while another reads them, under
# ThreadSanitizer (tests/unit/race_counter.c). Any data race it reports fails the test.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"

RACE="$BUILD/tests/unit/race_counter"
[ -x "$RACE" ] || fail "$RACE not built (it is not in a sanitizer tree)"
TSAN_OPTIONS="halt_on_error=1 exitcode=66 log_path=$W/tsan" "$RACE" >"$W/race.out" 2>&1 ||
	fail "exit $?: $(cat "$W/race.out" "$W"/tsan* 2>/dev/null | grep -m1 -E 'WARNING|SUMMARY|messages' || tail -n 1 "$W/race.out")"
if ls "$W"/tsan* >/dev/null 2>&1; then
	fail "ThreadSanitizer: $(grep -h -m1 SUMMARY "$W"/tsan*)"
fi
echo "$(cat "$W/race.out"), no data race"
echo "PASS $TEST_NAME"
