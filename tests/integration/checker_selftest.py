#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Self-test of tests/tools/aster_check.py on a feed and an output written by hand.

Eleven messages on two lines (a loss on A filled by B, a gap on both lines, a malformed
copy, an ARP frame, an unbound locate, a type filter, a small max_payload), the
replay output docs/protocol.md §3 requires written out message by message, and stats.json with the
counts worked out by hand. The checker must accept it, and must reject each of a set
of deliberate mistakes. Usage: checker_selftest.py WORKDIR
"""

import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "tools")
sys.path.insert(0, TOOLS)
import pcapio  # noqa: E402

W = sys.argv[1]

CONFIG = """\
feeds:
  - name: itch
    protocol: moldudp64-itch50
    lines:
      - {name: A, group: 233.54.12.111, port: 26477}
      - {name: B, group: 233.49.196.111, port: 26477}
ports:
  - name: out0
subscribers:
  - name: alpha
    feed: itch
    port: out0
    dst: {mac: "02:00:00:00:01:01", ip: 10.1.1.1, port: 31001}
    session: ALPHA00001
    symbols: ["^AAPL$"]
  - name: beta
    feed: itch
    port: out0
    dst: {mac: "02:00:00:00:01:02", ip: 10.1.1.2, port: 31002}
    session: BETA
    symbols: ["^M"]
    types: "SAI"
    max_payload: 128
"""


def hdr(t, loc, ts):
    return struct.pack(">cHH", t, loc, 0) + ts.to_bytes(6, "big")


def stock(s):
    return s.encode().ljust(8)


# the ten messages, sequence numbers 1..10 (docs/protocol.md §2 layouts)
M = {
    1: hdr(b"S", 0, 1) + b"O",
    2: hdr(b"R", 1, 2) + stock("AAPL") + b"QN" + struct.pack(">I", 100) + b"NCZ PN 1N" +
    struct.pack(">I", 0) + b"N",
    3: hdr(b"R", 2, 3) + stock("MSFT") + b"QN" + struct.pack(">I", 100) + b"NCZ PN 1N" +
    struct.pack(">I", 0) + b"N",
    4: hdr(b"A", 1, 4) + struct.pack(">QcI", 1, b"B", 100) + stock("AAPL") +
    struct.pack(">I", 1850000),
    5: hdr(b"A", 2, 5) + struct.pack(">QcI", 2, b"S", 200) + stock("MSFT") +
    struct.pack(">I", 3700000),
    6: hdr(b"D", 1, 6) + struct.pack(">Q", 1),
    7: hdr(b"X", 2, 7) + struct.pack(">QI", 2, 100),
    8: hdr(b"A", 2, 8) + struct.pack(">QcI", 3, b"B", 300) + stock("MSFT") +
    struct.pack(">I", 3690000),
    9: hdr(b"D", 2, 9) + struct.pack(">Q", 3),
    10: hdr(b"E", 3, 10) + struct.pack(">QIQ", 9, 100, 1),  # locate 3: never bound
    11: hdr(b"I", 2, 11) + struct.pack(">QQc", 5000, 300, b"B") + stock("MSFT") +
    struct.pack(">III", 3700000, 3700000, 3700000) + b"OL",
}
assert [len(M[i]) for i in range(1, 12)] == [12, 39, 39, 36, 36, 19, 23, 36, 19, 31, 50]


def mold(session, seq, msgs):
    return (session.encode().ljust(10) + struct.pack(">QH", seq, len(msgs)) +
            b"".join(struct.pack(">H", len(m)) + m for m in msgs))


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(dmac, dip, dport, payload, bad_ip_csum=False):
    udp = struct.pack(">HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                               bytes((10, 0, 0, 1)), bytes(dip)))
    ip[10:12] = struct.pack(">H", csum(bytes(ip)) ^ (1 if bad_ip_csum else 0))
    return bytes(dmac) + b"\x02\x00\x00\x00\x00\x0a\x08\x00" + bytes(ip) + udp


A_DST = (b"\x01\x00\x5e\x36\x0c\x6f", (233, 54, 12, 111), 26477)
B_DST = (b"\x01\x00\x5e\x31\xc4\x6f", (233, 49, 196, 111), 26477)
P1 = mold("TEST000001", 1, [M[1], M[2], M[3]])
P2 = mold("TEST000001", 4, [M[4], M[5]])
P4 = mold("TEST000001", 8, [M[8], M[9], M[10], M[11]])
bad = bytearray(P4)
bad[21] += 1  # first block one byte longer: runs past the payload
ARP = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x0a\x08\x06" + bytes(46)

# line A loses P2 and P3, line B loses P3 ([6, 7] is a gap) and sends a malformed copy
pcapio.write(os.path.join(W, "a.pcap"), [(1000, frame(*A_DST, P1)), (2000, ARP),
                                        (4000, frame(*A_DST, P4))])
pcapio.write(os.path.join(W, "b.pcap"), [(1003, frame(*B_DST, P1)), (2003, frame(*B_DST, P2)),
                                        (4002, frame(*B_DST, bytes(bad))),
                                        (4003, frame(*B_DST, P4))], nanosecond=True)
with open(os.path.join(W, "routing.yaml"), "w") as f:
    f.write(CONFIG)

ALPHA = (b"\x02\x00\x00\x00\x01\x01", (10, 1, 1, 1), 31001)
BETA = (b"\x02\x00\x00\x00\x01\x02", (10, 1, 1, 2), 31002)
# alpha (^AAPL$, all types): S (locate 0), R AAPL, A AAPL; D AAPL (6) was in the gap.
# beta (^M, types S, A and I, 128 bytes): S, A MSFT (5), A MSFT (8), I MSFT (11): 162
# bytes in one packet, too many for 128; any cut into packets of at most 128 is right.
GOOD_OUT = [frame(*ALPHA, mold("ALPHA00001", 1, [M[1], M[2], M[4]])),
            frame(*BETA, mold("BETA", 1, [M[1], M[5]])),
            frame(*BETA, mold("BETA", 3, [])),  # a heartbeat: allowed, not a message
            frame(*BETA, mold("BETA", 3, [M[8], M[11]]))]
GOOD_STATS = {
    "feeds": {"itch": {"packets": 6, "messages": 9, "duplicates": 7, "gaps": 1,
                       "gap_messages": 2, "malformed": 1}},
    "subscribers": {"alpha": {"messages": 3, "packets": 1, "dropped": 0},
                    "beta": {"messages": 4, "packets": 3, "dropped": 0}},
    # R MSFT and D MSFT reach no subscriber; E with locate 3 is unbound
    "drops": {"not_ipv4": 1, "no_feed": 0, "malformed": 1, "unbound_locate": 1,
              "no_subscriber": 2, "late": 0},
}


def run(name, frames, stats, want_ok):
    out = os.path.join(W, "out-" + name)
    os.makedirs(out)
    pcapio.write(os.path.join(out, "out0.pcap"), [(i, f) for i, f in enumerate(frames)])
    with open(os.path.join(out, "stats.json"), "w") as f:
        json.dump(stats, f)
    r = subprocess.run(["/usr/bin/python3", os.path.join(TOOLS, "aster_check.py"),
                        "--config", os.path.join(W, "routing.yaml"),
                        "--feed", os.path.join(W, "a.pcap"), "--feed", os.path.join(W, "b.pcap"),
                        "--out", out, "--tshark"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = (r.stdout.splitlines() or [""])[0]
    if (r.returncode == 0) != want_ok:
        print("FAIL checker_selftest: %s: checker exit %d, expected %s: %s"
              % (name, r.returncode, "0" if want_ok else "1", first))
        sys.exit(1)
    return first


def stats_with(*changes):
    """GOOD_STATS with (path..., value) tuples applied."""
    s = json.loads(json.dumps(GOOD_STATS))
    for ch in changes:
        d = s
        for k in ch[:-2]:
            d = d[k]
        d[ch[-2]] = ch[-1]
    return s


print(run("good", GOOD_OUT, GOOD_STATS, True))
g = GOOD_OUT
BETA_MSGS = ("subscribers", "beta", "messages")
BETA_PKTS = ("subscribers", "beta", "packets")
# name: (output frames, stats.json, what the first FAIL line must mention)
mistakes = {
    "missing_frame": (g[:3], stats_with(BETA_MSGS + (2,), BETA_PKTS + (2,)),
                      "beta: got 2 messages, expected 4"),
    "wrong_order": ([g[0], g[3], g[2], g[1]], GOOD_STATS, "beta: sequence 3, expected 1"),
    "extra_message": ([frame(*ALPHA, mold("ALPHA00001", 1, [M[1], M[2], M[4], M[6]]))] +
                      g[1:], stats_with(("subscribers", "alpha", "messages", 4)),
                      "alpha: got 4 messages, expected 3"),
    "filtered_type": ([frame(*BETA, mold("BETA", 1, [M[1], M[3], M[5]])),
                       frame(*BETA, mold("BETA", 4, [M[8], M[11]])), g[0]],
                      stats_with(BETA_MSGS + (5,), BETA_PKTS + (2,)),
                      "beta: message 2 is 39 bytes (type 'R'), expected 36 (type 'A')"),
    "seq_from_0": ([frame(*ALPHA, mold("ALPHA00001", 0, [M[1], M[2], M[4]]))] + g[1:],
                   GOOD_STATS, "alpha: sequence 0, expected 1"),
    "wrong_session": ([frame(*ALPHA, mold("ALPHA00002", 1, [M[1], M[2], M[4]]))] + g[1:],
                      GOOD_STATS, "alpha: session b'ALPHA00002'"),
    "over_max_payload": (g[:1] + [frame(*BETA, mold("BETA", 1, [M[1], M[5], M[8], M[11]]))],
                         stats_with(BETA_PKTS + (1,)), "beta: UDP payload 162 > max_payload"),
    "bad_ip_checksum": ([frame(*ALPHA, mold("ALPHA00001", 1, [M[1], M[2], M[4]]), True)] +
                        g[1:], GOOD_STATS, "bad IPv4 header checksum"),
    "gaps": (g, stats_with(("feeds", "itch", "gaps", 2)), "feeds.itch.gaps"),
    "gap_messages": (g, stats_with(("feeds", "itch", "gap_messages", 0)),
                     "feeds.itch.gap_messages"),
    "duplicates": (g, stats_with(("feeds", "itch", "duplicates", 6)), "feeds.itch.duplicates"),
    "packets": (g, stats_with(("feeds", "itch", "packets", 7)), "feeds.itch.packets"),
    "messages": (g, stats_with(("feeds", "itch", "messages", 11)), "feeds.itch.messages"),
    "malformed": (g, stats_with(("feeds", "itch", "malformed", 0)), "feeds.itch.malformed"),
    "sub_dropped": (g, stats_with(("subscribers", "alpha", "dropped", 1)), "alpha.dropped"),
    "unbound": (g, stats_with(("drops", "unbound_locate", 0)), "drops.unbound_locate"),
    "no_subscriber": (g, stats_with(("drops", "no_subscriber", 3)), "drops.no_subscriber"),
    "non_feed_sum": (g, stats_with(("drops", "no_feed", 1)), "not_ipv4+no_feed (sum)"),
    "late": (g, stats_with(("drops", "late", 1)), "drops.late"),
}
for name, (frames, stats, why) in mistakes.items():
    first = run(name, frames, stats, False)
    if why not in first:
        print("FAIL checker_selftest: %s: rejected for another reason: %s" % (name, first))
        sys.exit(1)


def run_streams(name, per_sub, want_ok, why=""):
    """--streams: DIR/<subscriber>.pcap as a subscriber client wrote what it holds (any
    destination address); the input is the lossless stream, here line B with P3 too."""
    d = os.path.join(W, "streams-" + name)
    os.makedirs(d)
    for sub, frames in per_sub.items():
        pcapio.write(os.path.join(d, sub + ".pcap"), [(i, f) for i, f in enumerate(frames)])
    r = subprocess.run(["/usr/bin/python3", os.path.join(TOOLS, "aster_check.py"),
                        "--config", os.path.join(W, "routing.yaml"),
                        "--feed", os.path.join(W, "canonical.pcap"), "--streams", d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = (r.stdout.splitlines() or [""])[0]
    if (r.returncode == 0) != want_ok or why not in first:
        print("FAIL checker_selftest: streams %s: checker exit %d: %s" % (name, r.returncode,
                                                                          first))
        sys.exit(1)


# the lossless stream: every message once (the gap [6, 7] filled)
P3 = mold("TEST000001", 6, [M[6], M[7]])
pcapio.write(os.path.join(W, "canonical.pcap"),
             [(t, frame(*A_DST, p)) for t, p in ((1, P1), (2, P2), (3, P3), (4, P4))])
ANY = (b"\x02\x00\x00\x00\x00\x09", (10, 9, 9, 9), 5)  # a client's own addressing
A_ALL = frame(*ANY, mold("ALPHA00001", 1, [M[1], M[2], M[4], M[6]]))
B_ALL = [frame(*ANY, mold("BETA", 1, [M[1], M[5]])), frame(*ANY, mold("BETA", 3, [M[8], M[11]]))]
run_streams("good", {"alpha": [A_ALL], "beta": B_ALL}, True)
run_streams("missing_file", {"alpha": [A_ALL]}, False, "beta: no stream file")
run_streams("missing_message", {"alpha": [frame(*ANY, mold("ALPHA00001", 1, [M[1], M[2], M[4]]))],
                                "beta": B_ALL}, False, "alpha: got 3 messages, expected 4")
run_streams("hole", {"alpha": [A_ALL], "beta": B_ALL[1:]}, False, "beta: sequence 3, expected 1")
print("checker_selftest: the checker accepts the hand-written output and rejects %d mistakes;"
      " --streams accepts a complete stream and rejects 3 mistakes" % len(mistakes))
