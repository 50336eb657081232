# Sourced by the live tests after lib.sh: a three-namespace test bed.
#   exch  --feed0 == aster-in0-- dut --aster-out0 == sub0--  subs
# aster-dataplane runs in `dut` on pmd_config/net_af_packet.yaml (aster-in0 in,
# aster-out0 out); tcpreplay sends the feed from `exch`; the subscriber side captures
# or receives in `subs`. Namespace names carry the test's pid; everything is removed on
# exit, the dataplane stopped first.
NS_EXCH="aster-exch-$$"
NS_DUT="aster-dut-$$"
NS_SUBS="aster-subs-$$"
DP_PID=""
CAP_PID=""
EXCH_CAP_PID=""

# netns_down [STATUS]: stop and remove everything, then exit with the test's own status
# (given, or the status the trap was entered with: cleanup must not change it).
netns_down() {
	local rc=${1:-$?}
	set +e
	[ -n "$CAP_PID" ] && kill -INT "$CAP_PID" 2>/dev/null
	[ -n "$EXCH_CAP_PID" ] && kill -INT "$EXCH_CAP_PID" 2>/dev/null
	[ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null
	for _ in $(seq 50); do
		{ [ -z "$DP_PID" ] || ! kill -0 "$DP_PID" 2>/dev/null; } && break
		sleep 0.1
	done
	[ -n "$DP_PID" ] && kill -KILL "$DP_PID" 2>/dev/null
	for ns in "$NS_EXCH" "$NS_DUT" "$NS_SUBS"; do
		ip netns del "$ns" 2>/dev/null
	done
	chmod -R u+rwX "$W" 2>/dev/null
	rm -rf "/var/run/dpdk/aster-live-$$"
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap netns_down EXIT

netns_up() {
	for ns in "$NS_EXCH" "$NS_DUT" "$NS_SUBS"; do
		ip netns add "$ns" || fail "ip netns add $ns (needs root)"
		ip -n "$ns" link set lo up
	done
	ip link add feed0 netns "$NS_EXCH" type veth peer name aster-in0 netns "$NS_DUT"
	ip link add aster-out0 netns "$NS_DUT" type veth peer name sub0 netns "$NS_SUBS"
	ip -n "$NS_EXCH" link set feed0 up
	ip -n "$NS_DUT" link set aster-in0 up
	ip -n "$NS_DUT" link set aster-out0 up
	ip -n "$NS_SUBS" link set sub0 up
	# no IPv6 chatter (router solicitations) on the test links
	for ns in "$NS_EXCH" "$NS_DUT" "$NS_SUBS"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
}

# The test bed's lines are paced by tcpreplay on a busy 2-CPU machine: line B's copy
# (re-chunked) can trail line A's next packets by milliseconds, far more than on a real
# A/B pair. Give the arbiter a patient hold so that skew is not mistaken for loss.
# live_profile [HOLD_US]: 50 ms by default. Tests that check every message that reached
# a line (tests/tools/live_check.py) pass 200 ms: tcpreplay itself is sometimes
# preempted for longer than 50 ms between the two copies on a loaded machine (seen:
# one hold timed out, two messages late). Their few double losses then hold at most
# 0.2 s x the frame rate, well inside hold_packets.
# A test stops its dataplane without waiting for the end-of-session linger
# (docs/protocol.md §6.1) unless it asks for one (atleast.sh).
live_profile() {
	local hold=${1:-50000}
	sed -e "s/^hold_us:.*/hold_us: $hold/" -e 's/^name:.*/name: net_af_packet-testbed/' \
		"$ROOT/pmd_config/net_af_packet.yaml" >"$W/live.yaml"
	grep -q "^hold_us: $hold\$" "$W/live.yaml" || fail "cannot derive the test-bed profile"
	echo "linger_ms: 0" >>"$W/live.yaml"
}

# dataplane_start [--config FILE]: aster-dataplane in dut, live, control socket $W/dp.sock
dataplane_start() {
	[ -f "$W/live.yaml" ] || live_profile
	ip netns exec "$NS_DUT" "$BUILD/dataplane/aster-dataplane" \
		--profile "$W/live.yaml" --ctl-socket "$W/dp.sock" \
		--health-file "$W/dp.health" --file-prefix "aster-live-$$" "$@" \
		>>"$W/dataplane.log" 2>&1 &
	DP_PID=$!
	for _ in $(seq 100); do
		[ -S "$W/dp.sock" ] && return 0
		kill -0 "$DP_PID" 2>/dev/null || fail "dataplane exited: $(tail -n 1 "$W/dataplane.log")"
		sleep 0.1
	done
	fail "dataplane control socket did not appear"
}

dataplane_stop() {
	kill -TERM "$DP_PID"
	wait "$DP_PID" 2>/dev/null
	DP_PID=""
	rm -f "$W/dp.sock"
}

# capture_start FILE: classic pcap of everything reaching the subscribers' side
capture_start() {
	ip netns exec "$NS_SUBS" tshark -q -F pcap -i sub0 -w "$1" >"$W/tshark.log" 2>&1 &
	CAP_PID=$!
	for _ in $(seq 100); do
		grep -q "Capturing on" "$W/tshark.log" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "tshark capture did not start: $(tail -n 1 "$W/tshark.log")"
}

capture_stop() {
	kill -INT "$CAP_PID"
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=""
}

# send_feed PPS FILE: tcpreplay from the exchange side at a fixed packet rate
send_feed() {
	ip netns exec "$NS_EXCH" tcpreplay -q -i feed0 --pps "$1" "$2" >"$W/tcpreplay.log" 2>&1 ||
		fail "tcpreplay: $(tail -n 1 "$W/tcpreplay.log")"
}

# exch_capture_start FILE FILTER: classic pcap of what the dataplane sends back to the
# exchange side (its IGMP membership reports), with a capture filter
exch_capture_start() {
	ip netns exec "$NS_EXCH" tshark -q -F pcap -i feed0 -f "$2" -w "$1" >"$W/tshark-exch.log" 2>&1 &
	EXCH_CAP_PID=$!
	for _ in $(seq 100); do
		grep -q "Capturing on" "$W/tshark-exch.log" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "tshark capture in the exchange namespace did not start: $(tail -n 1 "$W/tshark-exch.log")"
}

# capture_wait FILE DISPLAY-FILTER COUNT: wait (5 s at most) until a running capture's
# FILE holds COUNT frames matching the filter. The last frames before a capture stops (a
# dataplane's IGMP leaves as it stops or changes table) can sit in libpcap's current
# block until the block's timeout; interrupting the capture would lose them.
capture_wait() {
	for _ in $(seq 50); do
		[ "$(tshark -r "$1" -Y "$2" 2>/dev/null | wc -l)" -ge "$3" ] && return 0
		sleep 0.1
	done
}

exch_capture_stop() {
	kill -INT "$EXCH_CAP_PID"
	wait "$EXCH_CAP_PID" 2>/dev/null
	EXCH_CAP_PID=""
}

CTL=(/usr/bin/python3 "$ROOT/tests/tools/ctl_client.py")
