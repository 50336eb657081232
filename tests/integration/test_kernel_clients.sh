#!/bin/bash
# Real kernel clients (issue #5 §7): the exchange namespace replays an A/B feed with
# tcpreplay over veth into aster-dataplane (live, net_af_packet), and the subscribers
# namespace receives every subscriber's stream on ordinary Linux UDP sockets - no DPDK
# on the receiving side. Each stream must start at sequence 1, be contiguous, carry
# the subscriber's session, fit its max_payload, and hold exactly the messages an
# independent reader (tests/tools/aster_check.py) derives from the input pcaps.
#
# Multicast membership (issue #5 §2) is checked on the wire in the exchange namespace:
# an IGMPv2 report (TTL 1, Router Alert) for every feed group when the dataplane
# starts, its repeat a second later, another in answer to an IGMP query sent from the
# exchange side, and a leave per group when it stops; then the same with IGMPv3 records
# in a short second run. The dataplane log must show the resolved multicast and
# steering settings of its RX port, the "joined but silent" warning for each line
# before the feed starts and "receiving again" once it flows. Last, net_tap: what its
# auto settings resolve to, and a leave when a table drops a line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

gen feed --messages 20000 --symbols 200 --subscribers 6 --loss-a 0.01 --loss-b 0.01 \
	--seed 29
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/feed/b.pcap"

netns_up
SUB_MAC=$(ip netns exec "$NS_SUBS" cat /sys/class/net/sub0/address)
ip netns exec "$NS_SUBS" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.sub0.rp_filter=0

# Kernel delivery: frames to sub0's own MAC and to addresses assigned to sub0, from a
# source on its subnet (a 0.0.0.0 source is a martian the kernel drops).
/usr/bin/python3 - "$W/feed/routing.yaml" "$W/routing.yaml" "$SUB_MAC" >"$W/rewrite.log" 2>&1 <<'PY' || fail "routing rewrite: $(tail -n 1 "$W/rewrite.log")"
import sys, yaml
src, dst, mac = sys.argv[1:]
cfg = yaml.safe_load(open(src))
for p in cfg["ports"]:
    p["src_ip"] = "10.77.0.1"
for i, s in enumerate(cfg["subscribers"]):
    s["dst"]["mac"] = mac
    s["dst"]["ip"] = "10.77.0.%d" % (10 + i)
with open(dst, "w") as f:
    yaml.safe_dump(cfg, f, default_flow_style=None, width=1 << 20)
for s in cfg["subscribers"]:
    print(s["dst"]["ip"])
PY
while read -r ip; do
	ip -n "$NS_SUBS" addr add "$ip/24" dev sub0
done <"$W/rewrite.log"

# The test-bed profile: silence is reported after 1 s, so the warning shows before the
# feed starts (the dataplane joins at once; tcpreplay waits for the warning).
live_profile
sed -i -e 's/^  silence_warn_s:.*/  silence_warn_s: 1/' "$W/live.yaml"
grep -q '^  silence_warn_s: 1$' "$W/live.yaml" || fail "cannot derive the test-bed profile"

# send_query: an IGMPv2 general query from the exchange side (RFC 2236 §2: to 224.0.0.1,
# TTL 1, Router Alert), written out byte by byte on a packet socket. IGMPv3 hosts answer
# a v2 query too (RFC 3376 §7.2.1 puts a v3 host in v2 compatibility mode; aster keeps
# its configured version, which v3 queriers accept).
send_query() {
	ip netns exec "$NS_EXCH" /usr/bin/python3 - <<'PY' || fail "could not send the IGMP query"
import socket
def csum(b):
    s = sum((b[i] << 8) + (b[i + 1] if i + 1 < len(b) else 0) for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s & 0xffff).to_bytes(2, "big")
igmp = bytearray(b"\x11\x64\x00\x00\x00\x00\x00\x00")
igmp[2:4] = csum(igmp)
ip = bytearray(b"\x46\xc0\x00\x20\x00\x00\x40\x00\x01\x02\x00\x00" + bytes([10, 77, 9, 1]) +
               bytes([224, 0, 0, 1]) + b"\x94\x04\x00\x00")
ip[10:12] = csum(ip)
eth = bytes.fromhex("01005e000001") + bytes.fromhex("020000000901") + b"\x08\x00"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("feed0", 0))
s.send(eth + bytes(ip) + bytes(igmp))
PY
}

# wait_answered: the STATUS reply shows at least one query answered
wait_answered() {
	for _ in $(seq 100); do
		"${CTL[@]}" "$W/dp.sock" status --out "$W/status.json" >/dev/null || fail "status"
		/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["igmp"]["answers"] >= 1 else 1)' "$W/status.json" && return 0
		sleep 0.1
	done
	fail "the IGMP query was not answered: $(grep -o '"igmp": {[^}]*}' "$W/status.json")"
}

exch_capture_start "$W/igmp.pcap" igmp
dataplane_start --config "$W/routing.yaml"

# The subscribers: one UDP socket per subscriber, checked against the expectation.
ip netns exec "$NS_SUBS" /usr/bin/python3 - "$ROOT/tests/tools" "$W/routing.yaml" \
	"$W/feed/a.pcap" "$W/feed/b.pcap" "$W/clients.ready" >"$W/clients.log" 2>&1 <<'PY' &
import os, select, socket, sys
sys.path.insert(0, sys.argv[1])
import aster_check as ac

cfg, pa, pb, ready = sys.argv[2:]
feeds, lines, _ports, subs = ac.load_config(cfg)
ac.read_inputs([pa, pb], lines)
for f in feeds:
    ac.route(f)  # fills each subscriber's expected message blocks (docs/protocol.md §3.3-3.5)
socks = {}
for s in subs:
    so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    so.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    so.bind((socket.inet_ntoa(s.ip.to_bytes(4, "big")), s.dport))
    socks[so.fileno()] = (so, s, {"next": 1, "blocks": [], "packets": 0})
open(ready, "w").close()
want = sum(len(s.blocks) for s in subs)
got = 0
fails = []
# Waits for traffic, never asserts a time: stops when every expected message came, or
# after 20 s with no datagram at all (then the comparison below says what is missing).
while got < want:
    r, _, _ = select.select(list(socks), [], [], 20.0)
    if not r:
        break
    for fd in r:
        so, s, st = socks[fd]
        p = so.recv(65536)
        st["packets"] += 1
        if len(p) < 20:
            fails.append("%s: %d-byte datagram" % (s.name, len(p)))
            continue
        if p[:10] != s.session:
            fails.append("%s: session %r" % (s.name, p[:10]))
        if len(p) > s.max_payload:
            fails.append("%s: payload %d > max_payload %d" % (s.name, len(p), s.max_payload))
        seq = int.from_bytes(p[10:18], "big")
        cnt = (p[18] << 8) | p[19]
        if cnt == 0:
            continue  # heartbeat
        if seq != st["next"]:
            fails.append("%s: sequence %d, expected %d" % (s.name, seq, st["next"]))
        st["next"] = seq + cnt
        blocks = ac.split_blocks(p[20:])
        if len(blocks) != cnt:
            fails.append("%s: count %d but %d blocks" % (s.name, cnt, len(blocks)))
        st["blocks"].extend(blocks)
        got += len(blocks)
for so, s, st in socks.values():
    if st["blocks"] != s.blocks:
        n = next((i for i, (x, y) in enumerate(zip(st["blocks"], s.blocks)) if x != y),
                 min(len(st["blocks"]), len(s.blocks)))
        fails.append("%s: %d messages received, %d expected; first difference at message %d"
                     % (s.name, len(st["blocks"]), len(s.blocks), n + 1))
    print("%s: %d messages in %d datagrams on %s:%d" % (
        s.name, len(st["blocks"]), st["packets"],
        socket.inet_ntoa(s.ip.to_bytes(4, "big")), s.dport))
if want == 0 or any(not s.blocks for s in subs):
    fails.append("the expectation gives a subscriber nothing: the test would prove little")
for f in fails[:10]:
    print("FAIL: " + f)
sys.exit(1 if fails else 0)
PY
clients=$!
for _ in $(seq 300); do
	[ -f "$W/clients.ready" ] && break
	kill -0 "$clients" 2>/dev/null || fail "clients: $(tail -n 1 "$W/clients.log")"
	sleep 0.1
done
[ -f "$W/clients.ready" ] || fail "the UDP clients did not start"

for _ in $(seq 100); do
	[ "$(grep -c 'joined but silent' "$W/dataplane.log")" -ge 2 ] && break
	sleep 0.1
done
for line in A B; do
	grep -q "feed itch line $line group [0-9.]*: joined but silent for [0-9]* s" \
		"$W/dataplane.log" || fail "no silence warning for line $line: $(tail -n 1 "$W/dataplane.log")"
done

send_feed 500 "$W/ab.pcap"

send_query

wait "$clients" || fail "$(grep -m1 FAIL "$W/clients.log" || tail -n 1 "$W/clients.log")"

# The query was counted by the RX lcore (drops.igmp) and answered by the control thread.
wait_answered
/usr/bin/python3 - "$W/status.json" >"$W/status.check" 2>&1 <<'PY' || fail "$(tail -n 1 "$W/status.check")"
import json, sys
st = json.load(open(sys.argv[1]))
g = st["igmp"]
if g["queries"] < 1 or g["answers"] < 1:
    sys.exit("IGMP query not seen or not answered: %r" % g)
if st["drops"].get("igmp", 0) < 1:
    sys.exit("drops.igmp = %r: the query was not counted by name" % st["drops"].get("igmp"))
if g["tx_failed"]:
    sys.exit("%d IGMP frames not sent" % g["tx_failed"])
for r in ("ring_full", "tx_full", "no_mbuf", "too_large"):
    if st["drops"].get(r):
        sys.exit("drops.%s = %d" % (r, st["drops"][r]))
print("igmp: %(reports)d reports, %(queries)d queries, %(answers)d answers" % g)
PY
dataplane_stop
capture_wait "$W/igmp.pcap" "igmp.type == 0x17" "$(grep -c 'group: ' "$W/routing.yaml")"
exch_capture_stop

for line in A B; do
	grep -q "feed itch line $line group [0-9.]*: receiving again" "$W/dataplane.log" ||
		fail "line $line: no \"receiving again\" after the feed started"
done
grep -q "port in0 (net_af_packet, port [0-9]*): rx queue 0, multicast = [a-z_ ]*.*steering = " \
	"$W/dataplane.log" || fail "no effective-settings line for port in0"

# On the wire: v2 reports (TTL 1, Router Alert) for each group - at start and in answer
# to the query - and a leave per group at shutdown.
tshark -r "$W/igmp.pcap" -T fields -e igmp.type -e igmp.maddr -e ip.ttl -e ip.opt.type \
	-e ip.src >"$W/igmp.txt" 2>"$W/igmp.err" || fail "tshark: $(tail -n 1 "$W/igmp.err")"
/usr/bin/python3 - "$W/igmp.txt" "$W/routing.yaml" >"$W/igmp.check" 2>&1 <<'PY' || fail "$(tail -n 1 "$W/igmp.check")"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[2]))
groups = {ln["group"] for f in cfg["feeds"] for ln in f["lines"]}
reports, leaves = {}, {}
for row in open(sys.argv[1]):
    t, g, ttl, opt, src = (row.rstrip("\n").split("\t") + [""] * 5)[:5]
    if src == "10.77.9.1":
        continue  # our own query
    if ttl != "1" or "148" not in opt.split(","):
        sys.exit("IGMP frame without TTL 1 and Router Alert: %r" % row)
    if t == "0x16":
        reports[g] = reports.get(g, 0) + 1
    elif t == "0x17":
        leaves[g] = leaves.get(g, 0) + 1
for g in sorted(groups):
    if reports.get(g, 0) < 3:
        sys.exit("group %s: %d membership reports seen (join, its repeat and the query "
                 "answer expected)" % (g, reports.get(g, 0)))
    if leaves.get(g, 0) < 1:
        sys.exit("group %s: no leave at shutdown" % g)
print("IGMP on the wire: reports %s, leaves %s" % (reports, leaves))
PY
# IGMPv3, a short second run without a feed: one report holding a record per group -
# CHANGE_TO_EXCLUDE (4) when joining, MODE_IS_EXCLUDE (2) answering the query,
# CHANGE_TO_INCLUDE (3) leaving - to 224.0.0.22.
sed -i -e 's/^  version: v2$/  version: v3/' "$W/live.yaml"
grep -q '^  version: v3$' "$W/live.yaml" || fail "cannot switch the test-bed profile to IGMPv3"
exch_capture_start "$W/igmp3.pcap" igmp
dataplane_start --config "$W/routing.yaml"
for _ in $(seq 100); do
	[ "$(grep -c 'joined (IGMP v3)' "$W/dataplane.log")" -ge 2 ] && break
	sleep 0.1
done
send_query
wait_answered
dataplane_stop
capture_wait "$W/igmp3.pcap" "igmp.record_type == 3" 1
exch_capture_stop
tshark -r "$W/igmp3.pcap" -Y "igmp.type == 0x22" -T fields -e ip.dst -e igmp.record_type \
	-e igmp.maddr >"$W/igmp3.txt" 2>"$W/igmp3.err" || fail "tshark: $(tail -n 1 "$W/igmp3.err")"
/usr/bin/python3 - "$W/igmp3.txt" "$W/routing.yaml" >"$W/igmp3.check" 2>&1 <<'PY' || fail "$(tail -n 1 "$W/igmp3.check")"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[2]))
groups = {ln["group"] for f in cfg["feeds"] for ln in f["lines"]}
seen = {}
for row in open(sys.argv[1]):
    dst, types, maddrs = row.rstrip("\n").split("\t")
    if dst != "224.0.0.22":
        sys.exit("IGMPv3 report to %s, not 224.0.0.22" % dst)
    for t, g in zip(types.split(","), maddrs.split(",")):
        seen.setdefault(int(t, 0), set()).add(g)
for t, what in ((4, "join"), (2, "query answer"), (3, "leave")):
    if seen.get(t, set()) != groups:
        sys.exit("IGMPv3 %s records (type %d) for %s, expected %s"
                 % (what, t, sorted(seen.get(t, [])), sorted(groups)))
print("IGMPv3 on the wire: join, answer and leave records for %s" % ", ".join(sorted(groups)))
PY

# net_tap (pmd_config/tap.yaml) in the subscribers namespace, where its TAP interfaces
# do not clash with the veth ends: it takes a multicast list (auto resolves to
# mc_addr_list) but no rte_flow rule without the kernel's TC flower and multiq (auto
# resolves to none, with the PMD's reason). A table that removes line B makes the
# control thread leave B's group: the leave leaves through the TAP into the kernel,
# where tshark sees it; A's group stays joined.
sed -e 's/^name:.*/name: tap-testbed/' "$ROOT/pmd_config/tap.yaml" >"$W/tap.yaml"
/usr/bin/python3 - "$W/routing.yaml" "$W/tap-v2.yaml" >"$W/tap-groups.txt" 2>&1 <<'PY' || fail "tap table: $(tail -n 1 "$W/tap-groups.txt")"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
lines = cfg["feeds"][0]["lines"]
print(lines[0]["group"], lines[-1]["group"])  # kept, removed in version 2
del lines[-1]
with open(sys.argv[2], "w") as f:
    yaml.safe_dump(cfg, f, default_flow_style=None, width=1 << 20)
PY
read -r kept_group gone_group <"$W/tap-groups.txt"
ip netns exec "$NS_SUBS" "$BUILD/dataplane/aster-dataplane" --profile "$W/tap.yaml" \
	--config "$W/routing.yaml" --ctl-socket "$W/dp.sock" --health-file "$W/dp.health" \
	--file-prefix "aster-live-$$" >>"$W/tap.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do
	[ "$(grep -c ' joined (IGMP v2)' "$W/tap.log")" -ge 2 ] && break
	kill -0 "$DP_PID" 2>/dev/null || fail "tap dataplane exited: $(tail -n 1 "$W/tap.log")"
	sleep 0.1
done
[ -S "$W/dp.sock" ] || fail "tap dataplane: no control socket: $(tail -n 1 "$W/tap.log")"
ip netns exec "$NS_SUBS" tshark -q -F pcap -i aster-in0 -f igmp -w "$W/tap-igmp.pcap" \
	>"$W/tshark-tap.log" 2>&1 &
CAP_PID=$!
for _ in $(seq 100); do
	grep -q "Capturing on" "$W/tshark-tap.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "Capturing on" "$W/tshark-tap.log" || fail "tshark on the TAP did not start"
"${CTL[@]}" "$W/dp.sock" apply 2 "$W/tap-v2.yaml" >/dev/null || fail "apply the one-line table"
for _ in $(seq 100); do
	grep -q "group $gone_group left" "$W/tap.log" && break
	sleep 0.1
done
grep -q "group $gone_group left" "$W/tap.log" || fail "net_tap: no \"group $gone_group left\" after the table change"
capture_wait "$W/tap-igmp.pcap" "igmp.type == 0x17" 1
capture_stop
dataplane_stop
grep -q "port in0 (net_tap, port [0-9]*): rx queue 0, multicast = mc_addr_list (auto), steering = none (auto: rte_flow refused: " "$W/tap.log" ||
	fail "net_tap: unexpected resolution: $(grep 'port in0' "$W/tap.log" | tail -n 1)"
tshark -r "$W/tap-igmp.pcap" -T fields -e igmp.type -e igmp.maddr >"$W/tap-igmp.txt" 2>/dev/null ||
	fail "tshark could not read the TAP capture"
grep -q "^0x17	$gone_group$" "$W/tap-igmp.txt" || fail "net_tap: no IGMP leave for $gone_group on the wire"
! grep -q "^0x17	$kept_group$" "$W/tap-igmp.txt" || fail "net_tap: $kept_group left too"
echo "net_tap: leave for $gone_group on a table change, $kept_group kept"
grep "port in0" "$W/tap.log" | sed 's/^/dataplane (tap): /'

cat "$W/clients.log" "$W/status.check" "$W/igmp.check" "$W/igmp3.check"
grep "port in0" "$W/dataplane.log" | sed 's/^/dataplane: /'
echo "PASS $TEST_NAME"
