#!/bin/bash
# The dataplane's control socket against other local peers (docs/control.md, "Security
# model"), on net_null ports, with aster-control connected:
#  - the socket is 0600; a peer whose uid is not in --ctl-allow-uid is refused with one
#    ERROR; a second dataplane started on the same path refuses to start and leaves the
#    first one's socket alone, while a stale socket (nobody listening) is replaced;
#  - drift: a table put in force directly under the store's version number is seen by
#    its digest, and aster-control puts the store's table back;
#  - a peer that sends one byte and nothing more stalls nothing: the health segment is
#    still rewritten every 100 ms, another peer is answered, and it is closed after
#    CTL_STALL_MS (5 s);
#  - nine idle connections (the dataplane has 8 slots) do not lock aster-control out:
#    restarted behind them, it connects and puts a change in force;
#  - SIGTERM with such peers connected: the dataplane is gone within 3 s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

DP="$BUILD/dataplane/aster-dataplane"
CTL=(/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py")
ASTERCTL=("$BUILD/control/asterctl" --socket "$W/sock/asterctl.sock")
DP_PID="" DP2_PID="" PEERS=""
stop_all() {
	control_stop
	for p in $PEERS $DP2_PID $DP_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PEERS="" DP2_PID="" DP_PID=""
}
trap 'stop_all; rm -rf /var/run/dpdk/aster-dc*-$$; [ "${KEEP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"' EXIT

sed -e 's/^name:.*/name: dataplane-ctl-test/' -e 's/^max_subscribers:.*/max_subscribers: 8/' \
	-e 's#^  - {name: in0, dev: .*#  - {name: in0, dev: "net_null0,no-rx=1"}#' \
	-e 's#^  - {name: out0, dev: .*#  - {name: out0, dev: "net_null1"}#' \
	"$ROOT/pmd_config/net_af_packet.yaml" >"$W/profile.yaml"
grep -q 'net_null1' "$W/profile.yaml" || fail "cannot derive the net_null profile"

# dp_start SOCKET PREFIX [OPTIONS...]: a dataplane in the background (pid in $STARTED),
# its log in $W/PREFIX.log, until its socket answers HELLO or it exits.
dp_start() {
	local sock=$1 prefix=$2
	shift 2
	"$DP" --profile "$W/profile.yaml" --ctl-socket "$sock" --health-file "$W/$prefix.health" \
		--file-prefix "aster-$prefix-$$" "$@" >"$W/$prefix.log" 2>&1 &
	STARTED=$!
	for _ in $(seq 300); do
		kill -0 "$STARTED" 2>/dev/null || return 0
		grep -qF "control socket" "$W/$prefix.log" && return 0
		sleep 0.05
	done
	fail "$prefix: neither served nor exited: $(tail -n 2 "$W/$prefix.log")"
}
hello() { # hello SOCKET: the HELLO_REPLY as JSON
	timeout 5 "${CTL[@]}" "$1" hello
}
field() { # field EXPR: a field (python expression over r) of JSON on stdin
	/usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"
}

# A stale socket (bound, never listened on, not removed) is replaced.
/usr/bin/python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$W/dp.sock"
dp_start "$W/dp.sock" dc1
DP_PID=$STARTED
hello "$W/dp.sock" >"$W/hello0.json" || fail "no HELLO on a dataplane started over a stale socket: $(cat "$W/hello0.json" "$W/dc1.log")"
[ "$(stat -c %a "$W/dp.sock")" = 600 ] || fail "control socket mode $(stat -c %a "$W/dp.sock"), want 600"
[ "$(field 'r["limits"]' <"$W/hello0.json")" = "{'max_subscribers': 8, 'max_feeds': 64, 'output_ports': ['out0']}" ] ||
	fail "HELLO limits: $(cat "$W/hello0.json")"
echo "stale socket replaced; socket 0600; HELLO says $(field 'r["limits"]' <"$W/hello0.json")"

# A second dataplane on the same path: refused, the first one's socket untouched.
ino=$(stat -c %i "$W/dp.sock")
dp_start "$W/dp.sock" dc2
DP2_PID=$STARTED
for _ in $(seq 100); do kill -0 "$DP2_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DP2_PID" 2>/dev/null && fail "a second dataplane took over the running one's socket: $(tail -n 3 "$W/dc2.log")"
rc=0
wait "$DP2_PID" || rc=$?
DP2_PID=""
[ "$rc" != 0 ] && grep -qF "another process is listening there" "$W/dc2.log" ||
	fail "second dataplane: exit $rc: $(tail -n 2 "$W/dc2.log")"
[ "$(stat -c %i "$W/dp.sock")" = "$ino" ] && hello "$W/dp.sock" >/dev/null ||
	fail "the running dataplane's socket was replaced"
echo "second dataplane on the same socket: $(grep -F "another process" "$W/dc2.log" | tail -n 1)"

# A peer not in the allow-list (a dataplane that allows only uid 65534; we are root).
dp_start "$W/dp3.sock" dc3 --ctl-allow-uid 65534
DP2_PID=$STARTED
rc=0
hello "$W/dp3.sock" >"$W/refused.json" || rc=$?
[ "$rc" = 1 ] && [ "$(field 'r["error"]' <"$W/refused.json")" = -13 ] ||
	fail "uid 0 not in the allow-list: exit $rc: $(cat "$W/refused.json")"
grep -qF "refused: not in the allow-list" "$W/dc3.log" || fail "refusal not logged: $(tail -n 2 "$W/dc3.log")"
kill "$DP2_PID"
wait "$DP2_PID" || true
DP2_PID=""
echo "uid $(id -u) not in --ctl-allow-uid: $(field 'r["text"]' <"$W/refused.json")"

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
dataplane_socket: $W/dp.sock
health_file: $W/dc1.health
audit_log: $W/audit.log
http_port: $PORT
YAML
control_start "$W/settings.yaml"
status_field() {
	"${ASTERCTL[@]}" status -o json | field "$1"
}
gen feed --messages 10 --symbols 20 --subscribers 4 --seed 11
"${ASTERCTL[@]}" apply -f "$W/feed/routing.yaml" >"$W/apply1.out" 2>&1 || fail "apply: $(cat "$W/apply1.out")"
grep -qF "dataplane: version 1 in force" "$W/apply1.out" || fail "not in force: $(cat "$W/apply1.out")"

# Drift under the same number: the digest tells, aster-control puts its table back.
d1=$(hello "$W/dp.sock" | field 'r["table_digest"]')
[ "$d1" != 0 ] || fail "the dataplane says no digest for the table aster-control applied"
sed -e '/name: sub0004/,$d' "$W/feed/routing.yaml" >"$W/three.yaml"
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/three.yaml" >"$W/tamper.json" || fail "direct apply: $(cat "$W/tamper.json")"
grep -qF "4 subscribers; uid" "$W/dc1.log" && grep -qF "3 subscribers; uid" "$W/dc1.log" ||
	fail "the direct apply was not in force: $(grep -F "in force" "$W/dc1.log")"
for _ in $(seq 60); do
	grep -qF "dataplane at table version 1, store at 1: pushing" "$W/control.log" && break
	sleep 0.1
done
grep -qF "dataplane at table version 1, store at 1: pushing" "$W/control.log" ||
	fail "aster-control did not see another table under version 1: $(tail -n 3 "$W/control.log")"
for _ in $(seq 30); do
	[ "$(hello "$W/dp.sock" | field 'r["table_digest"]')" = "$d1" ] && break
	sleep 0.1
done
[ "$(hello "$W/dp.sock" | field 'r["table_digest"]')" = "$d1" ] ||
	fail "aster-control did not put its table back after drift under version 1: $(tail -n 3 "$W/control.log")"
echo "drift under version 1 (another table, digest $d1 no more) seen and healed by aster-control"

# peers SOCKET IDLE BYTE: IDLE connections that send nothing and BYTE that send one byte,
# held until killed; waits until they are connected.
peers() {
	/usr/bin/python3 - "$@" >"$W/peers.out" 2>&1 <<'PY' &
import socket, sys, time
path, idle, byte = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(idle + byte):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    if i >= idle:
        s.send(b"A")
    held.append(s)
    time.sleep(0.02)
print("connected", flush=True)
time.sleep(600)
PY
	PEERS="$PEERS $!"
	for _ in $(seq 100); do
		grep -q connected "$W/peers.out" && return 0
		sleep 0.05
	done
	fail "peers did not connect: $(cat "$W/peers.out")"
}
# The health segment's updated_ns, sampled every 100 ms for 1 s: distinct values seen.
health_turns() {
	/usr/bin/python3 - "$W/dc1.health" <<'PY'
import struct, sys, time
seen = set()
for _ in range(10):
    with open(sys.argv[1], "rb") as f:
        seen.add(struct.unpack_from("<Q", f.read(40), 32)[0])
    time.sleep(0.1)
print(len(seen))
PY
}

peers "$W/dp.sock" 0 1
t0=$SECONDS
turns=$(health_turns)
[ "$turns" -ge 5 ] || fail "one peer sent one byte: the health segment was rewritten $turns times in 1 s"
hello "$W/dp.sock" >/dev/null || fail "one peer sent one byte: HELLO of another peer not answered"
[ "$(status_field 'r["dataplane"]["connected"]')" = True ] || fail "aster-control lost the dataplane"
echo "one byte sent and nothing more: health rewritten $turns times in 1 s, other peers answered"
while [ $((SECONDS - t0)) -lt 8 ] && ! grep -qF "a request half received" "$W/dc1.log"; do sleep 0.2; done
grep -qF "a request half received for" "$W/dc1.log" || fail "the one-byte peer was never closed: $(tail -n 3 "$W/dc1.log")"
echo "then closed: $(grep -F "a request half received" "$W/dc1.log" | tail -n 1)"

# Nine idle connections, then aster-control (re)started behind them.
control_stop
peers "$W/dp.sock" 9 0
control_start "$W/settings.yaml"
"${ASTERCTL[@]}" apply -f "$W/three.yaml" >"$W/apply2.out" 2>&1 || fail "apply behind idle peers: $(cat "$W/apply2.out")"
grep -qF "dataplane: version 2 in force" "$W/apply2.out" || fail "behind 9 idle peers: $(cat "$W/apply2.out")"
echo "aster-control restarted behind 9 idle connections: version 2 in force"
"${CTL[@]}" "$W/dp.sock" status | field 'r["control_socket"]' >"$W/counters"
/usr/bin/python3 -c 'import ast,sys; c=ast.literal_eval(open(sys.argv[1]).read()); assert c["evicted"] >= 2 and c["timed_out"] >= 1, c' "$W/counters" ||
	fail "control_socket counters: $(cat "$W/counters")"
echo "control_socket: $(cat "$W/counters")"

# SIGTERM with a one-byte peer and idle ones connected.
peers "$W/dp.sock" 2 1
kill -TERM "$DP_PID"
for _ in $(seq 30); do kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DP_PID" 2>/dev/null && fail "SIGTERM with peers connected: the dataplane still runs after 3 s"
wait "$DP_PID" || fail "dataplane exit status $? after SIGTERM: $(tail -n 2 "$W/dc1.log")"
DP_PID=""
[ ! -e "$W/dp.sock" ] || fail "the dataplane left its socket behind"
echo "SIGTERM with peers connected: exited, socket removed"
echo "PASS $TEST_NAME"
