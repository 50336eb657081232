# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the live at-least-once tests (docs/protocol.md §6) after lib.sh and
# netns.sh: netns.sh's three namespaces, with addresses, so that real kernels on both
# sides speak to aster-dataplane over unicast too:
#   exch  feed0 10.90.0.1 (+ 10.90.0.9, a stranger) == aster-in0 (in0, ip 10.90.0.2) dut
#   dut   aster-out0 (out0, src_ip 10.91.0.1, retransmit 31999) == sub0 10.91.0.1x  subs
# tests/tools/exchange_sim.py multicasts the A/B feed from feed0 and serves re-requests
# on 10.90.0.1:26400; aster asks from 10.90.0.2:26401. tests/tools/mold_client.py, one
# per subscriber in `subs`, reads its stream on 10.91.0.1x and asks aster for what it
# misses. Nobody has a static ARP entry: the kernels resolve aster's addresses, which
# only aster-dataplane answers (its veth ends carry no address).
SIM=(/usr/bin/python3 "$ROOT/tests/tools/exchange_sim.py")
CLIENT=(/usr/bin/python3 "$ROOT/tests/tools/mold_client.py")
CLIENT_PIDS=()

atl_bed() {
	netns_up
	ip -n "$NS_EXCH" addr add 10.90.0.1/24 dev feed0
	ip -n "$NS_EXCH" addr add 10.90.0.9/24 dev feed0
	ip -n "$NS_EXCH" route add 224.0.0.0/4 dev feed0
	ip -n "$NS_SUBS" addr add 10.91.0.10/24 dev sub0
	for ns in "$NS_EXCH" "$NS_SUBS"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
	done
	EXCH_MAC=$(ip netns exec "$NS_EXCH" cat /sys/class/net/feed0/address)
	SUB_MAC=$(ip netns exec "$NS_SUBS" cat /sys/class/net/sub0/address)
}

# atl_profile [KEY=VALUE...]: the test-bed profile (netns.sh) with in0's address, the
# history budget and the linger at shutdown; more top-level keys may be set.
atl_profile() {
	live_profile
	sed -i -e 's/^  - {name: in0, dev: "\(.*\)"}$/  - {name: in0, dev: "\1", ip: 10.90.0.2}/' \
		"$W/live.yaml"
	grep -q 'ip: 10.90.0.2}' "$W/live.yaml" || fail "cannot give in0 an address in the profile"
	local kv
	for kv in history_mb=64 linger_ms=1500 "$@"; do
		sed -i -e "/^${kv%%=*}:/d" "$W/live.yaml"
		echo "${kv%%=*}: ${kv#*=}" >>"$W/live.yaml"
	done
}

# atl_table IN OUT JSON: the feedgen table IN with two lines (the simulator's), recovery
# from the simulator, retransmission on out0 and every subscriber on 10.91.0.1x of sub0.
# JSON merges settings: {"recovery": {...}, "retransmit": {...}, "subs": {name: {...}}}.
atl_table() {
	/usr/bin/python3 - "$1" "$2" "$3" "$EXCH_MAC" "$SUB_MAC" >"$W/table.log" 2>&1 <<'PY' || fail "table: $(tail -n 1 "$W/table.log")"
import json, sys, yaml
src, dst, extra, exch_mac, sub_mac = sys.argv[1:]
x = json.loads(extra)
cfg = yaml.safe_load(open(src))
f = cfg["feeds"][0]
f["lines"] = [{"name": "A", "group": "233.54.12.111", "port": 26477},
              {"name": "B", "group": "233.49.196.111", "port": 26477}]
if x.get("recovery") is not False:
    rec = {"server": {"mac": exch_mac, "ip": "10.90.0.1", "port": 26400},
           "source": {"ip": "10.90.0.2", "port": 26401},
           "wait_us": 1000, "timeout_us": 20000, "tries": 5}
    rec.update(x.get("recovery", {}))
    f["recovery"] = rec
cfg["ports"][0]["src_ip"] = "10.91.0.1"
rt = {"port": 31999, "rate": 100000}
rt.update(x.get("retransmit", {}))
cfg["ports"][0]["retransmit"] = rt
for i, s in enumerate(cfg["subscribers"]):
    s["dst"] = {"mac": sub_mac, "ip": "10.91.0.%d" % (10 + i), "port": 31001 + i}
    s["heartbeat_ms"] = 100
    s.update(x.get("subs", {}).get(s["name"], {}))
with open(dst, "w") as out:
    yaml.safe_dump(cfg, out, default_flow_style=None, width=1 << 20)
for s in cfg["subscribers"]:
    print(s["name"], s["dst"]["ip"], s["dst"]["port"], s.get("max_payload", 1400))
PY
	local name ip port mp
	while read -r name ip port mp; do
		ip -n "$NS_SUBS" addr replace "$ip/24" dev sub0
	done <"$W/table.log"
	cp "$W/table.log" "$W/subs.txt"
}

# atl_expect FEED.pcap: each subscriber's expected number of messages from a lossless
# feed, computed by the independent router (aster_check.py), into $W/expect.txt
atl_expect() {
	/usr/bin/python3 - "$ROOT/tests/tools" "$W/routing.yaml" "$1" >"$W/expect.txt" 2>&1 <<'PY' || fail "expectation: $(tail -n 1 "$W/expect.txt")"
import sys
sys.path.insert(0, sys.argv[1])
import aster_check as ac
feeds, lines, _ports, subs = ac.load_config(sys.argv[2])
ac.read_inputs([sys.argv[3]], lines)
for f in feeds:
    ac.route(f)
for s in subs:
    print(s.name, len(s.blocks))
PY
}

# atl_expected NAME: a subscriber's expected number of messages (atl_expect)
atl_expected() {
	awk -v n="$1" '$1 == n { print $2 }' "$W/expect.txt"
}

# atl_clients [NAME=OPTIONS...]: one mold_client per subscriber of $W/subs.txt, writing
# $W/streams/NAME.pcap and $W/NAME.client.json; extra options per subscriber.
atl_clients() {
	local name ip port mp spec opts
	mkdir -p "$W/streams"
	while read -r name ip port mp; do
		opts=""
		for spec in "$@"; do
			[ "${spec%%=*}" = "$name" ] && opts=${spec#*=}
		done
		# shellcheck disable=SC2086 # opts are words
		ip netns exec "$NS_SUBS" "${CLIENT[@]}" --listen "$ip:$port" \
			--request-to 10.91.0.1:31999 --timeout-ms 30 --tries 40 --max-s 60 --max-payload "$mp" \
			--out "$W/streams/$name.pcap" --stats "$W/$name.client.json" \
			--ready "$W/$name.ready" $opts >"$W/$name.client.log" 2>&1 &
		CLIENT_PIDS+=($!)
	done <"$W/subs.txt"
	while read -r name ip port mp; do
		for _ in $(seq 100); do [ -f "$W/$name.ready" ] && break; sleep 0.05; done
		[ -f "$W/$name.ready" ] || fail "client $name did not start: $(tail -n 1 "$W/$name.client.log")"
	done <"$W/subs.txt"
}

atl_clients_wait() {
	local pid
	for pid in "${CLIENT_PIDS[@]}"; do
		wait "$pid" || fail "a mold_client exited $?: $(tail -q -n 1 "$W"/*.client.log | head -n 1)"
	done
	CLIENT_PIDS=()
}

# atl_sim NAME FEED.pcap [OPTIONS...]: the exchange, until it is done (feed, tail, linger)
atl_sim() {
	local name=$1 src=$2
	shift 2
	ip netns exec "$NS_EXCH" "${SIM[@]}" --source "$src" \
		--line A=233.54.12.111:26477 --line B=233.49.196.111:26477 --bind 10.90.0.1 \
		--server-port 26400 --canonical "$W/$name.canonical.pcap" \
		--delivered "$W/$name.delivered.pcap" --stats "$W/$name.sim.json" "$@" \
		>"$W/$name.sim.log" 2>&1 || fail "$name: exchange_sim: $(tail -n 1 "$W/$name.sim.log")"
}

# atl_status FILE: the dataplane's counters (the control socket's STATUS reply)
atl_status() {
	"${CTL[@]}" "$W/dp.sock" status --out "$1" >/dev/null || fail "status"
}

# atl_streams NAME EXPECTED.pcap: every subscriber's final stream (mold_client --out)
# holds exactly what the independent router derives from EXPECTED (aster_check.py).
atl_streams() {
	"${CHECK[@]}" --config "$W/routing.yaml" --feed "$2" --streams "$W/streams" \
		>"$W/$1.check" 2>&1 || fail "$1: $(grep -m1 -v '^OK' "$W/$1.check" || tail -n 1 "$W/$1.check")"
	echo "$1: $(tail -n 1 "$W/$1.check")"
}

# atl_neigh NS IP: the kernel of NS resolved IP by ARP (a dynamic entry, not PERMANENT)
atl_neigh() {
	local e
	e=$(ip -n "$1" neigh show "$2")
	case "$e" in
	*lladdr*PERMANENT* | "") fail "$1 has no ARP-resolved entry for $2: '$e'" ;;
	*lladdr*) echo "ARP: $2 resolved in ${1%-*}: $e" ;;
	*) fail "$1: $2 not resolved: '$e'" ;;
	esac
}
