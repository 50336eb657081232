#!/bin/bash
# scripts/replay refuses bad inputs (docs/protocol.md §5): non-zero exit with exactly one line on
# stderr, exit 2 for an invalid configuration (docs/protocol.md §4), and nothing written to --out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen ok --lines 1 --messages 2000 --symbols 50 --subscribers 4 --seed 61
G="$W/ok"

# expect_refusal WHAT WANT_RC EXPECTED_WORD REPLAY-ARGS...: WANT_RC "any" = any non-zero
expect_refusal() {
	local what=$1 want=$2 word=$3 out="$W/out-$1" rc=0 lines
	shift 3
	"${REPLAY[@]}" "$@" --out "$out" >"$W/$what.stdout" 2>"$W/$what.stderr" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: replay exited 0"
	[ "$want" = any ] || [ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want"
	lines=$(grep -c . "$W/$what.stderr" || true)
	[ "$lines" -eq 1 ] || fail "$what: $lines lines on stderr, expected 1: $(head -c 200 "$W/$what.stderr" | tr '\n' '|')"
	[ -z "$word" ] || grep -qF -- "$word" "$W/$what.stderr" ||
		fail "$what: stderr does not mention '$word': $(cat "$W/$what.stderr")"
	if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
		fail "$what: wrote $(ls "$out" | tr '\n' ' ')"
	fi
}

expect_refusal missing_pcap any "$W/none.pcap" --config "$G/routing.yaml" --feed "$W/none.pcap"

# a valid pcap whose link type is raw IPv4 (101), not Ethernet
/usr/bin/python3 - "$G/a.pcap" "$W/raw.pcap" <<'PY'
import os, sys
sys.path.insert(0, os.environ["ROOT_TOOLS"])
import pcapio
cap = pcapio.read(sys.argv[1])
pcapio.write(sys.argv[2], [(t, f[14:]) for t, f in cap.frames], linktype=pcapio.LINKTYPE_RAW)
PY
expect_refusal raw_ip any "raw.pcap" --config "$G/routing.yaml" --feed "$W/raw.pcap"

# not a pcap at all, a truncated pcap header, and a directory
head -c 4096 /dev/urandom >"$W/junk.pcap"
expect_refusal junk any "junk.pcap" --config "$G/routing.yaml" --feed "$W/junk.pcap"
head -c 10 "$G/a.pcap" >"$W/short.pcap"
expect_refusal short any "short.pcap" --config "$G/routing.yaml" --feed "$W/short.pcap"
mkdir "$W/dir.pcap"
expect_refusal directory any "dir.pcap" --config "$G/routing.yaml" --feed "$W/dir.pcap"
if [ "$(id -u)" -ne 0 ]; then # root reads any file whatever its mode
	cp "$G/a.pcap" "$W/noperm.pcap"
	chmod 000 "$W/noperm.pcap"
	expect_refusal unreadable any "noperm.pcap" --config "$G/routing.yaml" --feed "$W/noperm.pcap"
fi

# invalid configurations: exit 2, the message names the problem (docs/protocol.md §4, §3.5)
sed '0,/symbols: \[.*\]/s//symbols: ["^(AAPL"]/' "$G/routing.yaml" >"$W/badpat.yaml"
grep -qF '"^(AAPL"' "$W/badpat.yaml" || fail "could not write the bad-pattern config"
expect_refusal bad_pattern 2 "^(AAPL" --config "$W/badpat.yaml" --feed "$G/a.pcap"
grep -qF "sub0001" "$W/bad_pattern.stderr" ||
	fail "bad_pattern: stderr does not name the subscriber: $(cat "$W/bad_pattern.stderr")"
sed 's/^    session: SUB0000002$/    session: SUB0000002\n    colour: blue/' "$G/routing.yaml" >"$W/badkey.yaml"
expect_refusal unknown_key 2 "colour" --config "$W/badkey.yaml" --feed "$G/a.pcap"
expect_refusal missing_config any "" --config "$W/none.yaml" --feed "$G/a.pcap"

# bad arguments
expect_refusal no_feed_arg any "" --config "$G/routing.yaml"

# --help: exit 0, and both modes with their options
"$BUILD/dataplane/aster-dataplane" --help >"$W/help.out" 2>&1 || fail "--help exited $?"
for word in "(live)" "(replay)" --profile --ctl-socket --health-file --config --feed --out \
	--stall-timeout --linger --huge --file-prefix --verbose SIGTERM; do
	grep -qF -- "$word" "$W/help.out" || fail "--help does not mention $word: $(cat "$W/help.out")"
done
echo "PASS $TEST_NAME"
