#!/bin/bash
# At-least-once delivery live (docs/protocol.md §6), real kernels and sockets in network
# namespaces (atleast.sh): an exchange multicasting an A/B feed with 3 % independent loss
# per line and 0.5 % on both and answering re-requests (tests/tools/exchange_sim.py),
# aster-dataplane recovering upstream and serving retransmissions, one MoldUDP64 client
# per subscriber (tests/tools/mold_client.py):
#   sub0001  drops nothing;
#   sub0002  drops 2 % of what it receives and the tail of its stream (heartbeats show it);
#   sub0003  the same, but ignores heartbeats: only the end-of-session packets of the
#            shutdown linger show its tail, so its requests are answered in the linger;
#   sub0004  asks far beyond its retransmit rate (--flood): limited and counted;
#   sub0005  history 0: serves nothing; sub0006 history 50: its oldest are gone.
# Checked:
#  - no gap declared; every subscriber's final stream is exactly what the independent
#    router (tests/tools/aster_check.py --streams) expects from the exchange's lossless
#    stream, message by message (§6.4); the clients that drop nothing saw no gap;
#  - answers from a stranger's address, of another session and for sequences nobody
#    asked for are dropped and counted (never delivered: the streams above);
#  - requests from the wrong address, for an unknown session, short, long, count 0,
#    count 0xFFFF, sequence 0 get no answer and are counted each under its reason;
#    requests for messages older than the history, or to a history 0, are counted as
#    unavailable; a valid request is answered with the messages as first sent;
#  - the exchange's and the subscribers' kernels resolved aster's addresses by ARP;
#  - at shutdown every stream ends with an end-of-session packet at its next sequence;
#  - a profile whose history_mb the table's histories do not fit is refused at start-up.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/atleast.sh"

gen feed --lines 1 --loss-a 0 --dup 0 --messages 30000 --symbols 200 --subscribers 6 --seed 71
atl_bed
atl_profile
atl_table "$W/feed/routing.yaml" "$W/routing.yaml" \
	'{"retransmit": {"rate": 20000}, "subs": {"sub0005": {"history": 0}, "sub0006": {"history": 50}}}'
atl_expect "$W/feed/a.pcap"
for s in sub0002 sub0003 sub0006; do
	[ "$(atl_expected $s)" -gt 500 ] || fail "$s is expected $(atl_expected $s) messages: too few to prove anything"
done
tail2=$(($(atl_expected sub0002) - 4))
tail3=$(($(atl_expected sub0003) - 4))
# a history budget this table does not fit: refused at start-up, one line saying how much
sed -e 's/^history_mb: .*/history_mb: 1/' "$W/live.yaml" >"$W/small.yaml"
if ip netns exec "$NS_DUT" timeout 30 "$BUILD/dataplane/aster-dataplane" --profile "$W/small.yaml" \
	--ctl-socket "$W/small.sock" --health-file "$W/small.health" --file-prefix "aster-small-$$" \
	--config "$W/routing.yaml" >"$W/small.log" 2>&1; then
	fail "a table needing more history than history_mb was accepted"
fi
rm -rf "/var/run/dpdk/aster-small-$$"
grep -Eq 'routing.yaml: history: the table needs [0-9]+ MiB of history \([0-9]+ subscribers\), more than the 1 MiB the profile allows$' \
	"$W/small.log" || fail "no one-line refusal of the history budget: $(tail -n 1 "$W/small.log")"
dataplane_start --config "$W/routing.yaml"
grep -q 'subscriber "sub0005": history 0: retransmission requests are not served' \
	"$W/dataplane.log" || fail "no word that sub0005 keeps no history: $(tail -n 1 "$W/dataplane.log")"
atl_clients "sub0002=--drop 0.02 --drop-from $tail2 --seed 12" \
	"sub0003=--drop 0.02 --drop-from $tail3 --ignore-heartbeats --seed 13" \
	"sub0004=--flood 400"
atl_sim lossy "$W/feed/a.pcap" --loss A=0.03 --loss B=0.03 --loss-both 0.005 --seed 3 \
	--pps 4000 --heartbeat-ms 50 --tail-s 0.3 --linger-s 0.3
atl_status "$W/before.json"

# Answers nobody asked for, written on the exchange's wire: from a stranger's address,
# of another session, and for sequences far beyond anything announced.
AMAC=$(ip -n "$NS_EXCH" neigh show 10.90.0.2 | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
[ -n "$AMAC" ] || fail "the exchange's kernel never resolved 10.90.0.2"
ip netns exec "$NS_EXCH" /usr/bin/python3 - "$AMAC" "$EXCH_MAC" "$W/lossy.sim.json" <<'PY' || fail "could not send the spoofed answers"
import json, socket, struct, sys
amac, xmac, simstats = sys.argv[1:]
session = json.load(open(simstats))["session"].encode("latin-1")
def csum(h):
    s = sum(struct.unpack(">10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF
def frame(src, sport, payload):
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 7, 0x4000, 64, 17, 0,
                               socket.inet_aton(src), socket.inet_aton("10.90.0.2")))
    ip[10:12] = struct.pack(">H", csum(bytes(ip)))
    udp = struct.pack(">HHHH", sport, 26401, 8 + len(payload), 0)
    return (bytes.fromhex(amac.replace(":", "")) + bytes.fromhex(xmac.replace(":", "")) +
            b"\x08\x00" + bytes(ip) + udp + payload)
msg = b"\x00\x13D" + b"\x00" * 18           # a 19-byte ITCH D message
def answer(sess, seq):
    return sess + struct.pack(">QH", seq, 1) + msg
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("feed0", 0))
s.send(frame("10.90.0.9", 26400, answer(session, 2)))          # answer_foreign
s.send(frame("10.90.0.1", 26400, answer(b"OTHERSESS ", 2)))     # answer_session
s.send(frame("10.90.0.1", 26400, answer(session, 1 << 40)))     # answer_unrequested
PY

# Requests aster must not answer, and one it must, from the subscribers' side.
ip netns exec "$NS_SUBS" /usr/bin/python3 - "$W/routing.yaml" >"$W/probe.log" 2>&1 <<'PY' || fail "requests: $(tail -n 1 "$W/probe.log")"
import select, socket, struct, sys, time, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
sub = {s["name"]: s for s in cfg["subscribers"]}
def sess(name):
    return sub[name]["session"].ljust(10).encode()
def sock(name):
    so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    so.bind((sub[name]["dst"]["ip"], 0))
    return so
to = ("10.91.0.1", 31999)
quiet = []
def ask(name, payload):
    so = sock(name)
    so.sendto(payload, to)
    quiet.append(so)
ask("sub0001", sess("sub0002") + struct.pack(">QH", 1, 3))   # wrong source
ask("sub0001", b"NOBODY    " + struct.pack(">QH", 1, 3))     # unknown session
ask("sub0001", sess("sub0001") + struct.pack(">QH", 1, 3)[:-1])          # short
ask("sub0001", sess("sub0001") + struct.pack(">QH", 1, 3) + b"\x00")     # long
ask("sub0001", sess("sub0001") + struct.pack(">QH", 1, 0))   # count 0
ask("sub0001", sess("sub0001") + struct.pack(">QH", 1, 0xFFFF))          # count 0xFFFF
ask("sub0001", sess("sub0001") + struct.pack(">QH", 0, 3))   # sequence 0
ask("sub0006", sess("sub0006") + struct.pack(">QH", 1, 10))  # older than its history
ask("sub0005", sess("sub0005") + struct.pack(">QH", 1, 5))   # history 0
good = sock("sub0001")
good.sendto(sess("sub0001") + struct.pack(">QH", 2, 3), to)
r, _, _ = select.select([good], [], [], 5.0)
if not r:
    sys.exit("no answer to a valid request")
p = good.recv(65536)
seq, cnt = struct.unpack(">QH", p[10:20])
if p[:10] != sess("sub0001") or seq != 2 or cnt != 3:
    sys.exit("answer %r seq %d count %d, expected sub0001's 2..4" % (p[:10], seq, cnt))
t_end = time.monotonic() + 0.5
while time.monotonic() < t_end:
    r, _, _ = select.select(quiet, [], [], t_end - time.monotonic())
    if r:
        sys.exit("a request that must not be answered was: %r" % r[0].recv(65536)[:20])
print("valid request answered (seq 2, 3 messages); 9 others got no answer in 0.5 s")
PY
cat "$W/probe.log"
atl_neigh "$NS_EXCH" 10.90.0.2
atl_neigh "$NS_SUBS" 10.91.0.1
atl_status "$W/after.json"

# Shutdown: every stream ends with end-of-session packets; sub0003's tail is asked for
# and answered during the linger. The clients stop once they hold everything before it.
dataplane_stop
atl_clients_wait
atl_streams lossy "$W/lossy.canonical.pcap"

/usr/bin/python3 - "$W/before.json" "$W/after.json" "$W/lossy.sim.json" "$W" "$W/expect.txt" >"$W/counters.check" 2>&1 <<'PY' || fail "$(tail -n 1 "$W/counters.check")"
import json, os, sys
before, after, sim = (json.load(open(p)) for p in sys.argv[1:4])
w = sys.argv[4]
expect = dict(l.split() for l in open(sys.argv[5]))
feed = after["feeds"]["itch"]
out0b, out0 = before["ports"]["out0"], after["ports"]["out0"]
in0b, in0 = before["ports"]["in0"], after["ports"]["in0"]
subs, subsb = after["subscribers"], before["subscribers"]
def d(a, b, k):
    return a[k] - b[k]
fails = []
def want(what, got, exp):
    if got != exp:
        fails.append("%s = %r, expected %r" % (what, got, exp))
# upstream: everything lost on both lines was recovered
want("feed gaps", feed["gaps"], 0)
want("feed gap_messages", feed["gap_messages"], 0)
want("feed recovery_gaps", feed["recovery_gaps"], 0)
if sim["lost_all"] < 3 or feed["recovered"] < sim["lost_all_messages"]:
    fails.append("recovered %d messages, the exchange lost %d (in %d packets) on every line"
                 % (feed["recovered"], sim["lost_all_messages"], sim["lost_all"]))
if feed["recovery_requests"] < sim["lost_all_ranges"]:
    fails.append("%d requests for %d missing ranges" % (feed["recovery_requests"],
                                                         sim["lost_all_ranges"]))
want("requests the exchange received", sim["server"]["requests"], feed["recovery_requests"])
# spoofed answers: one each, never delivered
want("answer_foreign", d(feed, before["feeds"]["itch"], "answer_foreign"), 1)
want("answer_session", d(feed, before["feeds"]["itch"], "answer_session"), 1)
want("answer_unrequested", d(feed, before["feeds"]["itch"], "answer_unrequested"), 1)
# requests that serve nobody, each under its reason
for k in ("request_wrong_source", "request_unknown_session", "request_short", "request_long",
          "request_count_zero", "request_count_end", "request_seq_zero"):
    want("out0 " + k, d(out0, out0b, k), 1)
want("sub0006 retransmit_unavailable", d(subs["sub0006"], subsb["sub0006"],
                                         "retransmit_unavailable"), 10)
want("sub0005 retransmit_unavailable", d(subs["sub0005"], subsb["sub0005"],
                                         "retransmit_unavailable"), 5)
want("sub0001 retransmit_messages", subs["sub0001"]["retransmit_messages"], 3)
want("sub0001 retransmit_requests", subs["sub0001"]["retransmit_requests"], 1)
# ARP answered on both sides
if out0["arp_replies"] < 1 or in0["arp_replies"] < 1:
    fails.append("ARP replies: out0 %d, in0 %d" % (out0["arp_replies"], in0["arp_replies"]))
# the flood was limited and counted; the others' streams were not touched by it
if subs["sub0004"]["retransmit_rate_limited"] == 0:
    fails.append("sub0004 asked far beyond its rate, nothing was rate limited")
cl = {n: json.load(open(os.path.join(w, n + ".client.json"))) for n in expect}
for n, c in cl.items():
    if not c["complete"] or c["messages"] != int(expect[n]):
        fails.append("%s: %d of %s messages, complete %s" % (n, c["messages"], expect[n],
                                                            c["complete"]))
    if c["end_of_session"] != c["next"]:
        fails.append("%s: end of session at %r, its stream ends at %d" % (
            n, c["end_of_session"], c["next"]))
for n in ("sub0001", "sub0004", "sub0005", "sub0006"):
    want(n + " gaps seen by its client", cl[n]["gaps"], 0)
for n in ("sub0002", "sub0003"):
    if cl[n]["recovered"] == 0 or cl[n]["dropped_on_purpose"] == 0:
        fails.append("%s: dropped %d, recovered %d" % (n, cl[n]["dropped_on_purpose"],
                                                       cl[n]["recovered"]))
for f in fails[:10]:
    print("FAIL: " + f)
lat = after["latency"]
print("upstream: exchange lost %d packets (%d messages, %d ranges) on every line; aster sent "
      "%d requests, recovered %d messages, no gap; spoofed answers counted 1/1/1" % (
          sim["lost_all"], sim["lost_all_messages"], sim["lost_all_ranges"],
          feed["recovery_requests"], feed["recovered"]))
print("downstream: %s" % ", ".join("%s dropped %d, %d gaps, %d requests, %d recovered" % (
    n, cl[n]["dropped_on_purpose"], cl[n]["gaps"], cl[n]["requests"], cl[n]["recovered"])
    for n in sorted(cl)))
print("flood: sub0004 sent %d requests, %d messages retransmitted, %d rate limited, %d cut; "
      "live latency p50 %d ns, p99 %d ns" % (
          cl["sub0004"]["flood_requests"], subs["sub0004"]["retransmit_messages"],
          subs["sub0004"]["retransmit_rate_limited"], subs["sub0004"]["retransmit_cut"],
          lat["p50_ns"], lat["p99_ns"]))
sys.exit(1 if fails else 0)
PY
cat "$W/counters.check"
echo "PASS $TEST_NAME"
