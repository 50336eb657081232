#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A MoldUDP64 exchange for tests: an A/B multicast feed with loss, and a re-request server.

    exchange_sim.py --source FEED.pcap --line A=GROUP:PORT [--line B=GROUP:PORT]
                    --bind IP [--server-port 26400] [--loss A=0.03 --loss B=0.03]
                    [--loss-both 0.005] [--pps 20000] [--seed 1]
                    [--max-answer-bytes 1400] [--answer-rate N] [--answer-burst N]
                    [--answer-delay-us N]
                    [--no-answer] [--heartbeat-ms 100] [--tail-s 1.0] [--end-of-session]
                    [--canonical OUT.pcap] [--delivered OUT.pcap] [--stats OUT.json]
                    [--lost-log OUT.txt] [--ready FILE]

The feed is the MoldUDP64 data packets of FEED.pcap (e.g. aster-feedgen --lines 1 with no
loss), in order, sent as they are: every packet on every line, each line losing packets
independently with its --loss probability, and --loss-both more lost on all lines at once
(the packet exists, nobody receives it). Packets go out over ordinary UDP multicast
sockets from --bind, --pps packets per second. After the last packet each line sends a
heartbeat (count 0, the next sequence number) every --heartbeat-ms for --tail-s seconds,
so a receiver can see loss at the tail, then one end-of-session packet (count 0xFFFF)
when --end-of-session is given. Heartbeats and end of session are never lost. The
server keeps answering for --linger-s seconds after that.

The re-request server listens on --bind:--server-port and answers the way reference
MoldUDP64 servers do: a request is exactly 20 bytes (session, first sequence, count);
shorter ones, sequence 0, count 0, another session are ignored; the answer is one
ordinary downstream packet unicast to the request's source address, holding the stored
messages from the requested sequence on, stopping at the count, at the end of the store,
or before the payload would pass --max-answer-bytes, so it may hold fewer than asked (a
partial answer); nothing is sent when there is nothing to send. Options make it harder:
--answer-rate answers at most N requests per second, at most --answer-burst (default
N) at once (the rest are ignored, as exchanges limit re-requests), --answer-delay-us
holds each answer back, --no-answer never answers.
Only what was actually sent on some line (lost or not) is in the store, so a request for
a sequence not yet sent is answered with nothing.

--canonical writes the lossless stream (every data packet once, line A's addressing,
Ethernet frames) as a classic pcap: what aster_check.py routes to compute what every
subscriber must end up with. --delivered writes the same for the packets at least one
line carried: what a receiver holds when nothing lost on every line is recovered. The
stats count the packets lost on every line (`lost_all`), their messages and the runs of
consecutive ones (`lost_all_ranges`: the ranges a receiver finds missing). --stats
writes what happened as JSON. --lost-log writes one line per packet lost on every line:
its sequence, its count, when it would have been sent and when the next packet was
(CLOCK_REALTIME seconds), for benchmarks that time recovery against captures. --ready
is created once the server socket is bound. Shares no code with aster's C tree.
"""

import argparse
import heapq
import json
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapio  # noqa: E402

MOLD_HDR = 20
END_OF_SESSION = 0xFFFF


def fail(msg):
    sys.stderr.write("exchange_sim: %s\n" % msg)
    sys.exit(2)


def addr(s, what):
    try:
        host, port = s.rsplit(":", 1)
        socket.inet_aton(host)
        return host, int(port)
    except (ValueError, OSError):
        fail("%s: %r is not IP:PORT" % (what, s))


def read_source(path):
    """The MoldUDP64 data packets of a pcap, in order: [(session, seq, count, payload)]."""
    try:
        cap = pcapio.read(path)
    except (OSError, pcapio.PcapError) as e:
        fail(str(e))
    out = []
    for _ts, fr in cap.frames:
        off = 14
        if fr[12:14] == b"\x81\x00":
            off = 18
        if len(fr) < off + 28 or fr[off - 2:off] != b"\x08\x00" or fr[off + 9] != 17:
            continue
        ihl = (fr[off] & 15) * 4
        u = off + ihl
        ulen = (fr[u + 4] << 8) | fr[u + 5]
        p = bytes(fr[u + 8:u + ulen])
        if len(p) < MOLD_HDR:
            continue
        seq, cnt = struct.unpack(">QH", p[10:20])
        if cnt == 0 or cnt == END_OF_SESSION:
            continue
        out.append((p[:10], seq, cnt, p))
    if not out:
        fail("%s: no MoldUDP64 data packets" % path)
    return out


def blocks(p, cnt):
    """The message blocks (u16 length + message) of a packet."""
    off, res = MOLD_HDR, []
    for _ in range(cnt):
        e = off + 2 + ((p[off] << 8) | p[off + 1])
        res.append(p[off:e])
        off = e
    return res


def ipv4_csum(h):
    s = sum(struct.unpack(">10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src_ip, dst_ip, sport, dport, payload):
    """Ethernet II / IPv4 / UDP to a multicast group (its MAC), UDP checksum 0."""
    dst = socket.inet_aton(dst_ip)
    mac = bytes((0x01, 0x00, 0x5E, dst[1] & 0x7F, dst[2], dst[3]))
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0x4000, 1, 17,
                               0, socket.inet_aton(src_ip), dst))
    ip[10:12] = struct.pack(">H", ipv4_csum(bytes(ip)))
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0)
    return mac + bytes.fromhex("020000000e01") + b"\x08\x00" + bytes(ip) + udp + payload


class Server:
    def __init__(self, a, sock, session):
        self.a = a
        self.sock = sock
        self.session = session
        self.store = {}          # seq -> block
        self.pending = []        # (due, n, answer, addr)
        self.n = 0
        self.depth = float(a.answer_burst or a.answer_rate)
        self.tokens = self.depth
        self.last = time.monotonic()
        self.st = {"requests": 0, "ignored_malformed": 0, "ignored_session": 0,
                   "ignored_rate": 0, "ignored_no_answer": 0, "nothing_to_send": 0,
                   "answers": 0, "answer_messages": 0, "partial_answers": 0}

    def add(self, seq, blks):
        for i, b in enumerate(blks):
            self.store[seq + i] = b

    def answer_for(self, seq, count):
        out, size = [], MOLD_HDR
        s = seq
        while len(out) < count and s in self.store:
            b = self.store[s]
            if size + len(b) > self.a.max_answer_bytes and out:
                break
            out.append(b)
            size += len(b)
            s += 1
        return out

    def on_request(self, data, peer, now):
        st = self.st
        st["requests"] += 1
        if len(data) != 20:
            st["ignored_malformed"] += 1
            return
        seq, count = struct.unpack(">QH", data[10:20])
        if seq < 1 or count == 0 or count == END_OF_SESSION:
            st["ignored_malformed"] += 1
            return
        if data[:10] != self.session:
            st["ignored_session"] += 1
            return
        if self.a.no_answer:
            st["ignored_no_answer"] += 1
            return
        if self.a.answer_rate:
            self.tokens = min(self.depth, self.tokens + (now - self.last) * self.a.answer_rate)
            self.last = now
            if self.tokens < 1:
                st["ignored_rate"] += 1
                return
            self.tokens -= 1
        blks = self.answer_for(seq, count)
        if not blks:
            st["nothing_to_send"] += 1
            return
        if len(blks) < count:
            st["partial_answers"] += 1
        pkt = self.session + struct.pack(">QH", seq, len(blks)) + b"".join(blks)
        self.n += 1
        heapq.heappush(self.pending, (now + self.a.answer_delay_us / 1e6, self.n, pkt, peer))
        st["answers"] += 1
        st["answer_messages"] += len(blks)

    def flush(self, now):
        while self.pending and self.pending[0][0] <= now:
            _due, _n, pkt, peer = heapq.heappop(self.pending)
            try:
                self.sock.sendto(pkt, peer)
            except OSError:
                pass

    def poll(self, timeout):
        now = time.monotonic()
        if self.pending:
            timeout = max(0.0, min(timeout, self.pending[0][0] - now))
        r, _w, _x = select.select([self.sock], [], [], timeout)
        now = time.monotonic()
        if r:
            for _ in range(256):
                try:
                    data, peer = self.sock.recvfrom(65536)
                except BlockingIOError:
                    break
                self.on_request(data, peer, now)
        self.flush(time.monotonic())


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--line", action="append", required=True, help="NAME=GROUP:PORT")
    ap.add_argument("--bind", required=True)
    ap.add_argument("--server-port", type=int, default=26400)
    ap.add_argument("--feed-port", type=int, default=0, help="UDP source port of the feed")
    ap.add_argument("--loss", action="append", default=[], help="NAME=P")
    ap.add_argument("--loss-both", type=float, default=0.0)
    ap.add_argument("--pps", type=float, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-answer-bytes", type=int, default=1400)
    ap.add_argument("--answer-rate", type=float, default=0)
    ap.add_argument("--answer-burst", type=float, default=0)
    ap.add_argument("--answer-delay-us", type=float, default=0)
    ap.add_argument("--no-answer", action="store_true")
    ap.add_argument("--heartbeat-ms", type=float, default=100)
    ap.add_argument("--tail-s", type=float, default=1.0)
    ap.add_argument("--end-of-session", action="store_true")
    ap.add_argument("--linger-s", type=float, default=1.0,
                    help="keep answering requests this long after the feed ended")
    ap.add_argument("--start-delay-s", type=float, default=0.0)
    ap.add_argument("--canonical")
    ap.add_argument("--delivered")
    ap.add_argument("--lost-log")
    ap.add_argument("--stats")
    ap.add_argument("--ready")
    a = ap.parse_args(argv)

    lines = []
    for spec in a.line:
        name, _, ga = spec.partition("=")
        lines.append((name, addr(ga, "--line")))
    loss = {name: 0.0 for name, _ in lines}
    for spec in a.loss:
        name, _, p = spec.partition("=")
        if name not in loss:
            fail("--loss %s: no such line" % name)
        loss[name] = float(p)
    pkts = read_source(a.source)
    session = pkts[0][0]
    rng = random.Random(a.seed)

    if a.canonical:
        g, port = lines[0][1]
        pcapio.write(a.canonical, [(1700000000 * 10**9 + i * 1000,
                                    frame(a.bind, g, a.feed_port or port, port, p))
                                   for i, (_s, _q, _c, p) in enumerate(pkts)])

    feed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    feed.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    feed.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.bind))
    feed.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    feed.bind((a.bind, a.feed_port))
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((a.bind, a.server_port))
    srv.setblocking(False)
    server = Server(a, srv, session)
    if a.ready:
        open(a.ready, "w").close()
    st = {"session": session.decode("latin-1"), "packets": len(pkts),
          "messages": sum(c for _s, _q, c, _p in pkts), "lost_both": 0, "lost_all": 0,
          "lost_all_messages": 0, "lost_all_ranges": 0, "lines": {}}
    carried = []
    prev_lost = False
    lost_log = []   # [seq, count, t_skip, t_next]
    for name, _ in lines:
        st["lines"][name] = {"sent": 0, "lost": 0}

    t_end = time.monotonic() + a.start_delay_s
    while time.monotonic() < t_end:
        server.poll(t_end - time.monotonic())
    gap = 1.0 / a.pps
    t_next = time.monotonic()
    for sess, seq, cnt, p in pkts:
        if sess != session:
            fail("%s: more than one session; one stream at a time" % a.source)
        server.add(seq, blocks(p, cnt))
        both = rng.random() < a.loss_both
        st["lost_both"] += both
        sent = 0
        for name, ga in lines:
            if both or rng.random() < loss[name]:
                st["lines"][name]["lost"] += 1
                continue
            feed.sendto(p, ga)
            st["lines"][name]["sent"] += 1
            sent += 1
        k = len(lost_log)
        while sent and k > 0 and lost_log[k - 1][3] is None:
            lost_log[k - 1][3] = time.time()   # the packet after a hole left now
            k -= 1
        if sent:
            carried.append(p)
        else:
            lost_log.append([seq, cnt, time.time(), None])
            st["lost_all"] += 1
            st["lost_all_messages"] += cnt
            st["lost_all_ranges"] += not prev_lost
        prev_lost = not sent
        t_next += gap
        while True:
            left = t_next - time.monotonic()
            server.poll(max(0.0, left) if left > 0 else 0)
            if left <= 0:
                break
    nxt = pkts[-1][1] + pkts[-1][2]
    hb = session + struct.pack(">QH", nxt, 0)
    t_stop = time.monotonic() + a.tail_s
    while True:
        for _name, ga in lines:
            feed.sendto(hb, ga)
        now = time.monotonic()
        if now >= t_stop:
            break
        t_hb = min(t_stop, now + a.heartbeat_ms / 1000.0)
        while time.monotonic() < t_hb:
            server.poll(t_hb - time.monotonic())
    if a.end_of_session:
        for _name, ga in lines:
            feed.sendto(session + struct.pack(">QH", nxt, END_OF_SESSION), ga)
    t_stop = time.monotonic() + a.linger_s
    while time.monotonic() < t_stop:
        server.poll(t_stop - time.monotonic())
    # answers still scheduled go out before the server closes
    while server.pending:
        server.poll(0.01)
    st["server"] = server.st
    if a.lost_log:
        with open(a.lost_log, "w") as f:
            for q, c, t0, t1 in lost_log:
                f.write("%d %d %.6f %s\n" % (q, c, t0, "%.6f" % t1 if t1 else "-"))
    if a.delivered:
        g, port = lines[0][1]
        pcapio.write(a.delivered, [(1700000000 * 10**9 + i * 1000,
                                    frame(a.bind, g, a.feed_port or port, port, p))
                                   for i, p in enumerate(carried)])
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(st, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
