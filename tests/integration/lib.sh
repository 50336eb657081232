# SPDX-License-Identifier: BSD-3-Clause
# Shared setup of the integration tests (sourced, not run): paths, a private work
# directory removed on exit, and helpers that fail with one line saying why.
#
# Each test_*.sh gets the build directory as $1. ASTER_REPLAY may name another replay
# command (to try the tests on a stand-in); the default is scripts/replay (docs/protocol.md §5).

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

# replay_check FEED RUN [REPLAY OPTIONS...]: replays $W/FEED's captures (a.pcap, and
# b.pcap if present) through the real dataplane into $W/RUN.out with the extra replay
# options given, then checks the result independently (tshark too unless NO_TSHARK=1).
replay_check() {
	local feed=$1 run=$2 d="$W/$1" out="$W/$2.out"
	local feeds=(--feed "$d/a.pcap") tshark=(--tshark)

	shift 2
	[ -f "$d/b.pcap" ] && feeds+=(--feed "$d/b.pcap")
	[ "${NO_TSHARK:-0}" = 1 ] && tshark=()
	"${REPLAY[@]}" --config "$d/routing.yaml" "${feeds[@]}" --out "$out" "$@" \
		>"$W/$run.replay" 2>&1 ||
		fail "$run: replay exit $?: $(tail -n 1 "$W/$run.replay")"
	[ -f "$out/stats.json" ] || fail "$run: replay wrote no stats.json"
	"${CHECK[@]}" --config "$d/routing.yaml" "${feeds[@]}" --out "$out" "${tshark[@]}" \
		>"$W/$run.check" 2>&1 ||
		fail "$run: $(grep -m1 -v '^OK' "$W/$run.check" || tail -n 1 "$W/$run.check")"
	echo "$run: $(tail -n 1 "$W/$run.check")"
}

# replay_and_check NAME: replay_check of feed NAME with the default profile.
replay_and_check() {
	replay_check "$1" "$1"
	[ -f "$W/$1.out/out0.pcap" ] || fail "$1: replay wrote no out0.pcap"
}

# replay_linger PREFIX: replay $W/feed (a.pcap, b.pcap) into $W/out with --linger and
# DPDK file prefix PREFIX, in the background ($LINGER_PID), until stats.json is written:
# the dataplane then serves telemetry until SIGTERM. Stopped on exit.
replay_linger() {
	"${REPLAY[@]}" --config "$W/feed/routing.yaml" --feed "$W/feed/a.pcap" \
		--feed "$W/feed/b.pcap" --out "$W/out" --file-prefix "$1" --linger \
		>"$W/replay.log" 2>&1 &
	LINGER_PID=$!
	trap 'kill -TERM "$LINGER_PID" 2>/dev/null || true; chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"' EXIT
	for _ in $(seq 300); do
		[ -f "$W/out/stats.json" ] && return 0
		kill -0 "$LINGER_PID" 2>/dev/null || fail "replay exited early: $(tail -n 1 "$W/replay.log")"
		sleep 0.1
	done
	fail "no stats.json after 30 s"
}

# telemetry PREFIX OUT COMMAND...: ask the running DPDK process with file prefix PREFIX
# (dpdk-telemetry.py) and write its replies as one JSON object, command -> reply, to OUT.
telemetry() {
	local prefix=$1 out=$2
	shift 2
	printf '%s\n' "$@" | timeout 20 dpdk-telemetry.py -f "$prefix" >"$out.raw" 2>&1 ||
		fail "dpdk-telemetry.py: $(tail -n 1 "$out.raw")"
	/usr/bin/python3 - "$out.raw" >"$out" <<'PY' || fail "dpdk-telemetry.py output: $(tail -n 1 "$out.raw")"
import json, sys
replies = {}
for line in open(sys.argv[1]):
    line = line.strip().lstrip("-> ").strip()
    if line.startswith("{"):
        replies.update(json.loads(line))
json.dump(replies, sys.stdout)
PY
}
