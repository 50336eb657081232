# SPDX-License-Identifier: BSD-3-Clause
# Shared setup of the integration tests (sourced, not run): paths, a private work
# directory removed on exit, and helpers that fail with one line saying why.
#
# Each test_*.sh gets the build directory as $1. ASTER_REPLAY may name another replay
# command (to try the tests on a stand-in); the default is scripts/replay (SPEC §5).

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$1" && pwd)
export ASTER_BUILD="$BUILD" # scripts/replay runs $ASTER_BUILD/dataplane/aster-dataplane
FEEDGEN="$BUILD/tests/tools/aster-feedgen"
CHECK=(/usr/bin/python3 "$ROOT/tests/tools/aster_check.py")
export ROOT_TOOLS="$ROOT/tests/tools"
read -r -a REPLAY <<<"${ASTER_REPLAY:-$ROOT/scripts/replay}"
TEST_NAME=$(basename "$0" .sh)

W=$(mktemp -d "${TMPDIR:-/tmp}/aster-${TEST_NAME}.XXXXXX")
trap 'chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"' EXIT

fail() {
	echo "FAIL $TEST_NAME: $*"
	exit 1
}

[ -x "$FEEDGEN" ] || fail "$FEEDGEN not built"
[ "${NEED_REPLAY:-1}" = 0 ] || [ -x "${REPLAY[0]}" ] || fail "${REPLAY[0]} not found"

# gen NAME FEEDGEN-OPTIONS...: writes $W/NAME/{a,b}.pcap and routing.yaml
gen() {
	local name=$1
	shift
	"$FEEDGEN" --out-dir "$W/$name" "$@" >"$W/$name.feedgen" 2>&1 ||
		fail "aster-feedgen $*: $(tail -n 1 "$W/$name.feedgen")"
}

# replay_and_check NAME: replays $W/NAME's captures (a.pcap, and b.pcap if present)
# through the real dataplane, then checks the result independently (and with tshark).
replay_and_check() {
	local name=$1 d="$W/$1" out="$W/$1.out"
	local feeds=(--feed "$d/a.pcap")

	[ -f "$d/b.pcap" ] && feeds+=(--feed "$d/b.pcap")
	"${REPLAY[@]}" --config "$d/routing.yaml" "${feeds[@]}" --out "$out" \
		>"$W/$name.replay" 2>&1 ||
		fail "$name: replay exit $?: $(tail -n 1 "$W/$name.replay")"
	[ -f "$out/out0.pcap" ] || fail "$name: replay wrote no out0.pcap"
	[ -f "$out/stats.json" ] || fail "$name: replay wrote no stats.json"
	"${CHECK[@]}" --config "$d/routing.yaml" "${feeds[@]}" --out "$out" --tshark \
		>"$W/$name.check" 2>&1 ||
		fail "$name: $(grep -m1 -v '^OK' "$W/$name.check" || tail -n 1 "$W/$name.check")"
	echo "$name: $(tail -n 1 "$W/$name.check")"
}
