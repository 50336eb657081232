#!/bin/bash
# The at-least-once test peers proven against each other, without aster
# (docs/protocol.md §6.3, §6.4): tests/tools/exchange_sim.py multicasts an A/B feed with
# loss over a veth pair between two network namespaces and serves re-requests;
# tests/tools/mold_client.py, in the other namespace on an ordinary UDP socket, joins line
# A, drops some of what it receives on purpose, and re-requests what it misses. Its final
# stream must be the simulator's lossless stream, message by message:
#   1. 3 % loss on each line, 0.5 % on both, 2 % dropped by the client, the tail of the
#      stream dropped too (only heartbeats show it): complete, nothing given up;
#   2. partial (300-byte) answers, at most 60 answers per second, 2 ms answer delay:
#      complete through repeated requests, rests and resends;
#   3. a server that never answers: every missing range is given up after the client's
#      tries, and the holes are exactly what never reached it.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"

NS_X="aster-px-$$"
NS_S="aster-ps-$$"
cleanup() {
	local rc=$?
	set +e
	ip netns del "$NS_X" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	chmod -R u+rwX "$W" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap cleanup EXIT
ip netns add "$NS_X" || fail "ip netns add (needs root)"
ip netns add "$NS_S"
ip link add xch0 netns "$NS_X" type veth peer name sub0 netns "$NS_S"
for ns in "$NS_X" "$NS_S"; do
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
done
ip -n "$NS_X" addr add 10.90.0.1/24 dev xch0
ip -n "$NS_S" addr add 10.90.0.2/24 dev sub0
ip -n "$NS_X" link set xch0 up
ip -n "$NS_S" link set sub0 up
ip -n "$NS_X" route add 224.0.0.0/4 dev xch0
ip netns exec "$NS_S" sysctl -qw net.ipv4.conf.sub0.rp_filter=0

gen feed --lines 1 --loss-a 0 --dup 0 --messages 12000 --symbols 200 --subscribers 2 --seed 71
SIM=(/usr/bin/python3 "$ROOT/tests/tools/exchange_sim.py" --source "$W/feed/a.pcap"
	--line A=233.54.12.111:26477 --line B=233.49.196.111:26477 --bind 10.90.0.1
	--server-port 26400 --pps 8000 --heartbeat-ms 50 --tail-s 0.5 --end-of-session)
CLIENT=(/usr/bin/python3 "$ROOT/tests/tools/mold_client.py" --listen 233.54.12.111:26477
	--join 233.54.12.111 --iface 10.90.0.2 --request-to 10.90.0.1:26400 --max-s 40)

# run NAME [SIM OPTIONS] -- [CLIENT OPTIONS]: one exchange, one subscriber
run() {
	local name=$1 sim=() cl=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sim+=("$1"); shift; done
	shift
	cl=("$@")
	rm -f "$W/$name.ready"
	ip netns exec "$NS_S" "${CLIENT[@]}" "${cl[@]}" --out "$W/$name.pcap" \
		--stats "$W/$name.client.json" --ready "$W/$name.ready" >"$W/$name.client.log" 2>&1 &
	local cpid=$!
	for _ in $(seq 100); do [ -f "$W/$name.ready" ] && break; sleep 0.05; done
	[ -f "$W/$name.ready" ] || fail "$name: client did not start: $(tail -n 1 "$W/$name.client.log")"
	ip netns exec "$NS_X" "${SIM[@]}" "${sim[@]}" --canonical "$W/canonical.pcap" \
		--stats "$W/$name.sim.json" >"$W/$name.sim.log" 2>&1 ||
		fail "$name: exchange_sim: $(tail -n 1 "$W/$name.sim.log")"
	wait "$cpid" || fail "$name: mold_client exit $?: $(tail -n 1 "$W/$name.client.log")"
}

# compare NAME MODE: the client's stream against the canonical one; MODE complete (every
# message, nothing given up) or holes (what is missing was given up, nothing else differs)
compare() {
	/usr/bin/python3 - "$W/canonical.pcap" "$W/$1.pcap" "$W/$1.client.json" "$W/$1.sim.json" "$2" <<'PY' || fail "$1: $(tail -n 1 "$W/$1.compare")"
import json, os, struct, sys
sys.path.insert(0, os.environ["ROOT_TOOLS"])
import pcapio
canon, got, cstats, sstats, mode = sys.argv[1:]
def msgs(path):
    out = {}
    session = None
    for _t, fr in pcapio.read(path).frames:
        p = fr[42:]
        session = p[:10]
        seq, cnt = struct.unpack(">QH", p[10:20])
        off = 20
        for i in range(cnt):
            e = off + 2 + ((p[off] << 8) | p[off + 1])
            out[seq + i] = p[off:e]
            off = e
    return session, out
cs, want = msgs(canon)
gs, have = msgs(got)
c = json.load(open(cstats))
s = json.load(open(sstats))
if gs != cs:
    sys.exit("session %r, expected %r" % (gs, cs))
wrong = [q for q in have if want.get(q) != have[q]]
if wrong:
    sys.exit("%d messages differ from the exchange's, first at sequence %d" % (len(wrong), min(wrong)))
missing = sorted(set(want) - set(have))
if mode == "complete":
    if missing or c["given_up"]:
        sys.exit("%d of %d messages missing (first %s), %d ranges given up" % (
            len(missing), len(want), missing[:1], c["given_up"]))
else:
    if not missing or len(missing) != c["given_up_messages"]:
        sys.exit("%d missing, the client gave up %d" % (len(missing), c["given_up_messages"]))
print("%s: %d messages, client %s, exchange %s" % (sys.argv[2], len(have),
      {k: c[k] for k in ("dropped_on_purpose", "gaps", "requests", "rests", "resends",
                         "answers", "recovered", "given_up")},
      {k: s["server"][k] for k in ("requests", "answers", "partial_answers", "ignored_rate",
                                   "ignored_no_answer")}))
PY
	cat "$W/$1.compare" 2>/dev/null || true
}

run lossy --loss A=0.03 --loss B=0.03 --loss-both 0.005 --seed 3 --linger-s 0.3 -- --drop 0.02 --seed 4 \
	--drop-from 11900 --timeout-ms 40
compare lossy complete >"$W/lossy.compare" 2>&1 || fail "lossy: $(tail -n 1 "$W/lossy.compare")"
cat "$W/lossy.compare"

run limited --loss A=0.05 --seed 5 --max-answer-bytes 300 --answer-rate 60 --linger-s 4 \
	--answer-delay-us 2000 -- --drop 0.02 --seed 6 --timeout-ms 30 --tries 50
compare limited complete >"$W/limited.compare" 2>&1 || fail "limited: $(tail -n 1 "$W/limited.compare")"
cat "$W/limited.compare"
/usr/bin/python3 - "$W/limited.client.json" "$W/limited.sim.json" <<'PY' || fail "limited: partial answers and the rate limit were not exercised"
import json, sys
c, s = (json.load(open(p)) for p in sys.argv[1:])
assert c["rests"] > 0 and s["server"]["partial_answers"] > 0 and s["server"]["ignored_rate"] > 0
assert c["resends"] > 0
PY

run silent --loss A=0.03 --seed 7 --no-answer --linger-s 0.3 -- --seed 8 --timeout-ms 10 --tries 3
compare silent holes >"$W/silent.compare" 2>&1 || fail "silent: $(tail -n 1 "$W/silent.compare")"
cat "$W/silent.compare"
echo "PASS $TEST_NAME"
