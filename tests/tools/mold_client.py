#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A MoldUDP64 subscriber that re-requests what it misses, the way real clients do.

    mold_client.py --listen IP:PORT [--join GROUP --iface IP] --request-to IP:PORT
                   [--drop P] [--drop-from SEQ] [--ignore-heartbeats] [--seed S]
                   [--timeout-ms 50] [--tries 20]
                   [--idle-s 2] [--max-s 60] [--start 1] [--flood N]
                   --out STREAM.pcap [--stats OUT.json] [--out-mac MAC] [--max-payload 1400]
                   [--ready FILE]

Reads its stream from an ordinary UDP socket bound to --listen (joining multicast --join
on the interface with address --iface when given) and keeps every message once, in
sequence order. On purpose it drops a share --drop of the packets it receives on the
stream (data and heartbeats alike, chosen at random with --seed) and every data packet
whose sequence is --drop-from or more (the tail of the stream: only heartbeats and
re-requests can recover it). --ignore-heartbeats drops every heartbeat (count 0) too, so
that only an end-of-session packet reveals a lost tail.

Recovery, paced like a reference MoldUDP64 client: a gap is seen when a packet starts
beyond the next expected sequence, or a heartbeat or end-of-session packet (count 0 /
0xFFFF) announces a later one. The client then sends ONE request (session, first
missing sequence, count up to the next held message, at most 0xFFFE) from its own
request socket to --request-to and reads the answers on that socket. An answer that
covers only part of the request (a partial answer) is followed at once by a request for
the rest; an unanswered request is sent again after --timeout-ms; after --tries requests
without progress the range is given up (kept as a hole and counted). The next gap is
asked for once the current one is done. Later packets are kept meanwhile. Answers go
through the same bookkeeping as the stream (duplicates ignored).

It stops at an end-of-session packet once everything before it is held, after --idle-s
without any packet while nothing is missing, or after --max-s in any case. --flood N
additionally sends N requests per second for the whole span received so far (a
subscriber asking far beyond any rate limit); their answers count as answers.

--out writes what it finally holds as a classic pcap: its stream renumbered as received
(session and sequence numbers as the sender numbered them, from --start), packed into
Ethernet / IPv4 / UDP frames to --listen of at most --max-payload bytes of UDP payload, so
that aster_check.py --streams compares it message by message. --stats writes the
counters as JSON. Shares no code with aster's C tree.
"""

import argparse
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
COUNT_MAX = 0xFFFE


def fail(msg):
    sys.stderr.write("mold_client: %s\n" % msg)
    sys.exit(2)


def addr(s, what):
    try:
        host, port = s.rsplit(":", 1)
        socket.inet_aton(host)
        return host, int(port)
    except (ValueError, OSError):
        fail("%s: %r is not IP:PORT" % (what, s))


def parse(p):
    """(session, seq, count, [blocks]) of a valid MoldUDP64 packet, or None."""
    if len(p) < MOLD_HDR:
        return None
    seq, cnt = struct.unpack(">QH", p[10:20])
    if cnt == 0 or cnt == END_OF_SESSION:
        return (p[:10], seq, cnt, []) if len(p) == MOLD_HDR else None
    off, res = MOLD_HDR, []
    for _ in range(cnt):
        if off + 2 > len(p):
            return None
        e = off + 2 + ((p[off] << 8) | p[off + 1])
        if e > len(p):
            return None
        res.append(p[off:e])
        off = e
    return (p[:10], seq, cnt, res) if off == len(p) else None


class Client:
    def __init__(self, a):
        self.a = a
        self.session = None
        self.expected = a.start       # next sequence to hold
        self.msgs = []                # blocks held, from a.start, contiguous (holes: None)
        self.buf = {}                 # seq -> block, beyond expected
        self.known = a.start          # after the highest sequence seen or announced
        self.eos = None               # sequence an end-of-session packet announced
        self.req = None               # [first, end, sent_at, tries] of the request out
        self.last_rx = time.monotonic()
        self.st = {"packets": 0, "dropped_on_purpose": 0, "malformed": 0,
                   "other_session": 0, "heartbeats": 0, "duplicates": 0, "gaps": 0,
                   "requests": 0, "resends": 0, "rests": 0, "answers": 0,
                   "recovered": 0, "given_up": 0, "given_up_messages": 0,
                   "flood_requests": 0}

    def take(self, seq, blks, from_answer):
        """Messages of one packet into the stream; returns how many were new."""
        new = 0
        for i, b in enumerate(blks):
            s = seq + i
            if s < self.expected or s in self.buf:
                self.st["duplicates"] += 1
                continue
            self.buf[s] = b
            new += 1
        while self.expected in self.buf:
            self.msgs.append(self.buf.pop(self.expected))
            self.expected += 1
        if from_answer:
            self.st["recovered"] += new
        return new

    def on_packet(self, p, from_answer):
        m = parse(p)
        if m is None:
            self.st["malformed"] += 1
            return
        session, seq, cnt, blks = m
        if self.session is None:
            self.session = session
        if session != self.session:
            self.st["other_session"] += 1
            return
        if cnt == 0 or cnt == END_OF_SESSION:
            self.st["heartbeats"] += 1
            if cnt == END_OF_SESSION:
                self.eos = seq
            self.known = max(self.known, seq)
            return
        self.known = max(self.known, seq + cnt)
        if from_answer:
            self.st["answers"] += 1
        self.take(seq, blks, from_answer)

    def gap_end(self):
        """End of the missing range that starts at expected."""
        nxt = min((s for s in self.buf if s > self.expected), default=self.known)
        return min(nxt, self.known)

    def send(self, sock, first, count):
        sock.sendto(self.session + struct.pack(">QH", first, count), self.a.request_to)
        self.st["requests"] += 1

    def recover(self, sock, now):
        """One request out at a time: ask, ask the rest, ask again, or give up."""
        if self.session is None:
            return
        r = self.req
        if r is not None:
            first, end, sent, tries = r
            if self.expected >= end:
                self.req = r = None          # done
            elif self.expected > first:      # partial answer: ask the rest now
                self.req = [self.expected, end, now, 1]
                self.send(sock, self.expected, min(end - self.expected, COUNT_MAX))
                self.st["rests"] += 1
                return
            elif now - sent >= self.a.timeout_ms / 1000.0:
                if tries >= self.a.tries:
                    # given up: a hole in what is held
                    hole = end - self.expected
                    self.st["given_up"] += 1
                    self.st["given_up_messages"] += hole
                    self.msgs.extend([None] * hole)
                    self.expected = end
                    while self.expected in self.buf:
                        self.msgs.append(self.buf.pop(self.expected))
                        self.expected += 1
                    self.req = None
                else:
                    r[2], r[3] = now, tries + 1
                    self.send(sock, first, min(end - first, COUNT_MAX))
                    self.st["resends"] += 1
                return
            else:
                return
        if self.expected < self.known:
            end = self.gap_end()
            end = min(end, self.expected + COUNT_MAX)
            self.st["gaps"] += 1
            self.req = [self.expected, end, now, 1]
            self.send(sock, self.expected, end - self.expected)

    def done(self, now):
        if self.eos is not None and self.expected >= self.eos and self.req is None:
            return True
        if now - self.last_rx >= self.a.idle_s and self.expected >= self.known:
            return True
        return False


def ipv4_csum(h):
    s = sum(struct.unpack(">10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def write_stream(path, c, a):
    """What is held, as frames of at most max_payload bytes of UDP payload."""
    dst_ip, dport = a.listen
    mac = bytes(int(x, 16) for x in a.out_mac.split(":"))
    frames, i, seq = [], 0, a.start
    session = c.session or b" " * 10
    while i < len(c.msgs):
        if c.msgs[i] is None:       # a hole stays a hole: sequence numbers jump
            i += 1
            seq += 1
            continue
        part, size = [], MOLD_HDR
        while i < len(c.msgs) and c.msgs[i] is not None and \
                size + len(c.msgs[i]) <= a.max_payload:
            part.append(c.msgs[i])
            size += len(c.msgs[i])
            i += 1
        if not part:                # a message larger than max_payload alone
            part.append(c.msgs[i])
            i += 1
        p = session + struct.pack(">QH", seq, len(part)) + b"".join(part)
        seq += len(part)
        ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(p), 0, 0, 64, 17, 0,
                                   socket.inet_aton("10.255.255.254"),
                                   socket.inet_aton(dst_ip)))
        ip[10:12] = struct.pack(">H", ipv4_csum(bytes(ip)))
        udp = struct.pack(">HHHH", 31999, dport, 8 + len(p), 0)
        frames.append((1700000000 * 10**9 + len(frames) * 1000,
                       mac + bytes.fromhex("020000000f01") + b"\x08\x00" + bytes(ip) + udp + p))
    pcapio.write(a.out, frames)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--join")
    ap.add_argument("--iface", default="0.0.0.0")
    ap.add_argument("--request-to", required=True)
    ap.add_argument("--drop", type=float, default=0.0)
    ap.add_argument("--drop-from", type=int, default=0)
    ap.add_argument("--ignore-heartbeats", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout-ms", type=float, default=50)
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--idle-s", type=float, default=2.0)
    ap.add_argument("--max-s", type=float, default=60.0)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--flood", type=float, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--out-mac", default="02:00:00:00:00:00")
    ap.add_argument("--max-payload", type=int, default=1400)
    ap.add_argument("--stats")
    ap.add_argument("--ready")
    a = ap.parse_args(argv)
    a.listen = addr(a.listen, "--listen")
    a.request_to = addr(a.request_to, "--request-to")

    stream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    stream.bind(("0.0.0.0" if a.join else a.listen[0], a.listen[1]))
    if a.join:
        stream.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                          socket.inet_aton(a.join) + socket.inet_aton(a.iface))
    reqs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reqs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    reqs.bind((a.iface if a.join else a.listen[0], 0))
    stream.setblocking(False)
    reqs.setblocking(False)
    if a.ready:
        open(a.ready, "w").close()

    c = Client(a)
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    t_flood = t0
    while True:
        r, _w, _x = select.select([stream, reqs], [], [], 0.005)
        now = time.monotonic()
        for s in r:
            for _ in range(512):
                try:
                    p = s.recv(65536)
                except BlockingIOError:
                    break
                c.last_rx = now
                if s is stream:
                    c.st["packets"] += 1
                    m = p[10:20] if len(p) >= MOLD_HDR else b""
                    seq, cnt = struct.unpack(">QH", m) if m else (0, 0)
                    data = cnt not in (0, END_OF_SESSION)
                    if rng.random() < a.drop or (a.drop_from and data and
                                                 seq + cnt > a.drop_from) or \
                            (a.ignore_heartbeats and m and cnt == 0):
                        c.st["dropped_on_purpose"] += 1
                        continue
                    c.on_packet(p, False)
                else:
                    c.on_packet(p, True)
        c.recover(reqs, now)
        if a.flood and c.session is not None and c.expected > a.start + 1:
            while t_flood < now:
                t_flood += 1.0 / a.flood
                reqs.sendto(c.session + struct.pack(">QH", a.start, min(
                    c.expected - a.start, COUNT_MAX)), a.request_to)
                c.st["flood_requests"] += 1
        if c.done(now) or now - t0 > a.max_s:
            break
    c.st["messages"] = sum(1 for m in c.msgs if m is not None)
    c.st["next"] = c.expected
    c.st["end_of_session"] = c.eos
    c.st["session"] = (c.session or b"").decode("latin-1")
    c.st["complete"] = c.req is None and c.expected >= c.known and c.st["given_up"] == 0
    write_stream(a.out, c, a)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(c.st, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
