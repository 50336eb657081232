#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Independent checker of an aster replay (docs/protocol.md §3, §5).

    aster_check.py --config routing.yaml --feed a.pcap [--feed b.pcap] --out DIR [--tshark]
    aster_check.py --config routing.yaml --feed canonical.pcap --streams DIR

Reads the input captures itself, computes what docs/protocol.md §3 says every subscriber must
receive, and compares it with DIR/<port>.pcap and DIR/stats.json. Shares no code with
the C tree on purpose: a bug copied into both would otherwise pass. See docs/feedgen.md.

With --streams (live tests, docs/protocol.md §6.4) the input is an exchange's lossless
stream (tests/tools/exchange_sim.py --canonical) and DIR/<subscriber>.pcap is what each
subscriber finally holds (tests/tools/mold_client.py --out): every subscriber must have
its file, and each file must pass the same per-frame checks and hold exactly the
expected messages, whatever addresses its frames carry; there is no stats.json.

Exit status: 0 and one "OK: ..." line, 1 and the first differences (one per line),
2 for usage or unreadable inputs.
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapio  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover - the system python has python3-yaml
    sys.stderr.write("aster_check: needs python3-yaml (run with /usr/bin/python3)\n")
    sys.exit(2)

# docs/protocol.md §2: ITCH 5.0 message lengths and stock field offsets.
ITCH = {
    "S": (12, 0), "R": (39, 11), "H": (25, 11), "Y": (20, 11), "L": (26, 15),
    "V": (35, 0), "W": (12, 0), "K": (28, 11), "J": (35, 11), "h": (21, 11),
    "A": (36, 24), "F": (40, 24), "E": (31, 0), "C": (36, 0), "X": (23, 0),
    "D": (19, 0), "U": (35, 0), "P": (44, 24), "Q": (40, 19), "B": (19, 0),
    "I": (50, 28), "N": (20, 11), "O": (48, 11),
}
ITCH_LEN = [0] * 256
ITCH_STOCK = [0] * 256
for _t, (_l, _s) in ITCH.items():
    ITCH_LEN[ord(_t)] = _l
    ITCH_STOCK[ord(_t)] = _s

MOLD_HDR = 20
HEARTBEAT = 0
END_OF_SESSION = 0xFFFF
MAX_DIFFS = 8

# Packet-level drop reasons of dataplane/stats.h for frames that belong to no feed line;
# their sum must equal the input frames that are not feed packets (docs/protocol.md §3.1, §3.7).
NON_FEED_REASONS = ("runt", "not_ipv4", "vlan_stacked", "ip_header", "ip_fragment",
                    "not_udp", "udp_length", "no_feed")
# Reasons that a lossless replay (docs/protocol.md §5) must never count.
ZERO_REASONS = ("late", "too_large", "no_mbuf", "ring_full", "tx_full", "multi_segment",
                "foreign_feed")


class Fail(Exception):
    pass


class Diffs:
    def __init__(self):
        self.lines = []
        self.total = 0

    def add(self, msg):
        self.total += 1
        if len(self.lines) < MAX_DIFFS:
            self.lines.append(msg)

    def eq(self, what, got, want):
        if got != want:
            self.add("%s: got %r, expected %r" % (what, got, want))


# ---------------------------------------------------------------- configuration

def ip4(s, where):
    parts = str(s).split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise Fail("%s: bad IPv4 address %r" % (where, s))
    v = 0
    for p in parts:
        v = (v << 8) | int(p)
    return v


def mac(s, where):
    parts = str(s).split(":")
    if len(parts) != 6:
        raise Fail("%s: bad MAC address %r" % (where, s))
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise Fail("%s: bad MAC address %r" % (where, s))


class Sub:
    __slots__ = ("idx", "name", "feed", "port", "mac", "ip", "dport", "session",
                 "regexes", "types", "max_payload", "history", "heartbeat_ms", "blocks")


class Feed:
    __slots__ = ("idx", "name", "recovery", "subs", "packets", "malformed", "valid_msgs",
                 "sessions", "unique", "gaps", "gap_messages", "unbound",
                 "no_subscriber", "short")

    def __init__(self, idx, name):
        self.idx = idx
        self.name = name
        self.recovery = None  # docs/protocol.md §6.3, live only: (server (mac, ip, port), source (ip, port))
        self.subs = []
        self.packets = 0
        self.malformed = 0
        self.valid_msgs = 0
        # session bytes -> [first_key, start_seq, data packets [(seq, n, payload)], hb_max]
        self.sessions = {}
        self.unique = self.gaps = self.gap_messages = 0
        self.unbound = self.no_subscriber = self.short = 0


def load_config(path):
    try:
        with open(path) as f:
            doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as e:
        raise Fail("%s: %s" % (path, e))
    feeds, lines, subs = [], {}, []
    for i, fd in enumerate(doc.get("feeds") or []):
        feed = Feed(i, fd["name"])
        feeds.append(feed)
        for ln in fd["lines"]:
            lines[(ip4(ln["group"], path), int(ln["port"]))] = feed
        rec = fd.get("recovery")
        if rec is not None:
            # docs/protocol.md §6: live only. Replay acts on none of it, so answers addressed to the
            # source are not a line here: such frames in a replay input are no_feed.
            sv, so = rec["server"], rec["source"]
            feed.recovery = ((mac(sv["mac"], path), ip4(sv["ip"], path), int(sv["port"])),
                             (ip4(so["ip"], path), int(so["port"])))
    by_name = {f.name: f for f in feeds}
    ports = [p["name"] for p in doc.get("ports") or []]
    for i, sd in enumerate(doc.get("subscribers") or []):
        s = Sub()
        s.idx = i
        s.name = sd["name"]
        s.feed = by_name[sd["feed"]]
        s.port = sd["port"]
        if s.port not in ports:
            raise Fail("%s: subscriber %s: unknown port %r" % (path, s.name, s.port))
        d = sd["dst"]
        s.mac = mac(d["mac"], path)
        s.ip = ip4(d["ip"], path)
        s.dport = int(d["port"])
        s.session = str(sd["session"]).encode("ascii").ljust(10, b" ")
        # Python's re agrees with Hyperscan on the subset the generator writes (docs/protocol.md §3.5)
        s.regexes = [re.compile(str(p)) for p in sd["symbols"]]
        t = sd.get("types")
        s.types = None if t is None else set(str(t).encode("latin-1"))
        s.max_payload = int(sd.get("max_payload", 1400))
        # docs/protocol.md §6.1-6.2, live only; the defaults of docs/configuration.md
        s.history = int(sd.get("history", 100000))
        s.heartbeat_ms = int(sd.get("heartbeat_ms", 1000))
        s.blocks = []
        s.feed.subs.append(s)
        subs.append(s)
    return feeds, lines, ports, subs


# ---------------------------------------------------------------- frames

def parse_l2l4(fr):
    """docs/protocol.md §3.1: (dst_ip, dst_port, udp_payload) of an Ethernet [802.1Q] IPv4 UDP
    frame that is not a fragment, or None for any other frame."""
    n = len(fr)
    if n < 14:
        return None
    et = (fr[12] << 8) | fr[13]
    off = 14
    if et == 0x8100:
        if n < 18:
            return None
        et = (fr[16] << 8) | fr[17]
        off = 18
    if et != 0x0800 or n < off + 20:
        return None
    vihl = fr[off]
    ihl = (vihl & 15) * 4
    if vihl >> 4 != 4 or ihl < 20:
        return None
    tot = (fr[off + 2] << 8) | fr[off + 3]
    if tot < ihl + 8 or off + tot > n:
        return None
    if ((fr[off + 6] << 8) | fr[off + 7]) & 0x3FFF:  # MF or a fragment offset
        return None
    if fr[off + 9] != 17:
        return None
    u = off + ihl
    ulen = (fr[u + 4] << 8) | fr[u + 5]
    if ulen != tot - ihl:
        return None
    dst = int.from_bytes(fr[off + 16:off + 20], "big")
    return dst, (fr[u + 2] << 8) | fr[u + 3], fr[u + 8:off + tot]


def mold_valid(p):
    """docs/protocol.md §3.2: (count, n_msgs) of a valid MoldUDP64 packet, or None."""
    n = len(p)
    if n < MOLD_HDR:
        return None
    cnt = (p[18] << 8) | p[19]
    if cnt == HEARTBEAT or cnt == END_OF_SESSION:
        return (cnt, 0) if n == MOLD_HDR else None
    off = MOLD_HDR
    for _ in range(cnt):
        if off + 2 > n:
            return None
        ml = (p[off] << 8) | p[off + 1]
        end = off + 2 + ml
        if end > n:
            return None
        if ml:
            k = ITCH_LEN[p[off + 2]]
            if k and k != ml:
                return None
        off = end
    if off != n:
        return None
    return cnt, cnt


def csum_ok(data):
    """Internet checksum over data that includes its checksum field: folds to 0xFFFF."""
    if len(data) & 1:
        data += b"\0"
    s = sum(memoryview(data).cast("H"))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


# ---------------------------------------------------------------- expectation

def read_inputs(paths, lines):
    """Classify every input frame; collect valid packets per feed and session."""
    total_frames = 0
    for fi, path in enumerate(paths):
        try:
            cap = pcapio.read(path)
        except (OSError, pcapio.PcapError) as e:
            raise Fail("%s" % e)
        if cap.linktype != pcapio.LINKTYPE_ETHERNET:
            raise Fail("%s: link type %d is not Ethernet" % (path, cap.linktype))
        for ri, (ts, fr) in enumerate(cap.frames):
            total_frames += 1
            l4 = parse_l2l4(fr)
            if l4 is None:
                continue
            feed = lines.get((l4[0], l4[1]))
            if feed is None:
                continue
            feed.packets += 1
            p = l4[2]
            v = mold_valid(p)
            if v is None:
                feed.malformed += 1
                continue
            cnt, nmsg = v
            session = p[:10]
            seq = int.from_bytes(p[10:18], "big")
            key = (ts, fi, ri)
            st = feed.sessions.get(session)
            if st is None:
                st = feed.sessions[session] = [key, seq, [], 0]
            elif key < st[0]:
                st[0], st[1] = key, seq
            if nmsg:
                feed.valid_msgs += nmsg
                st[2].append((seq, nmsg, p))
            elif seq > st[3]:
                st[3] = seq
    return total_frames


def expected_stream(feed):
    """docs/protocol.md §3.3: per session (in order of first appearance) the union over all lines,
    in sequence order from the first packet's sequence; yields message blocks (u16
    length + bytes). Counts gaps as maximal never-received ranges."""
    for session, (_first, start, pkts, hb_max) in sorted(feed.sessions.items(),
                                                         key=lambda kv: kv[1][0]):
        pkts.sort(key=lambda t: t[0])
        nxt = start
        blocks = []
        for seq, n, p in pkts:
            end = seq + n
            if end <= nxt:
                continue
            if seq > nxt:
                feed.gaps += 1
                feed.gap_messages += seq - nxt
                nxt = seq
            skip = nxt - seq
            off = MOLD_HDR
            for i in range(n):
                e = off + 2 + ((p[off] << 8) | p[off + 1])
                if i >= skip:
                    blocks.append(p[off:e])
                off = e
            nxt = end
        if hb_max > nxt:  # a heartbeat / end of session announced more (docs/protocol.md §3.3)
            feed.gaps += 1
            feed.gap_messages += hb_max - nxt
        feed.unique += len(blocks)
        yield session, blocks


def route(feed):
    """docs/protocol.md §3.4-3.5: locate bindings, locate 0, type filters and pattern matching."""
    subs = feed.subs
    sym_subs = {}     # symbol -> subscribers whose patterns match
    route_cache = {}  # (symbol or None for locate 0, type) -> subscribers
    for _session, blocks in expected_stream(feed):
        bind = {}  # a new session clears the locate bindings
        for b in blocks:
            if len(b) < 5:
                feed.short += 1
                continue
            t = b[2]
            loc = (b[3] << 8) | b[4]
            if loc == 0:
                sym = None
            else:
                so = ITCH_STOCK[t]
                if so:
                    sym = b[2 + so:10 + so].rstrip(b" ")
                    bind[loc] = sym
                else:
                    sym = bind.get(loc)
                    if sym is None:
                        feed.unbound += 1
                        continue
            key = (sym, t)
            dest = route_cache.get(key)
            if dest is None:
                if sym is None:
                    cand = subs
                else:
                    cand = sym_subs.get(sym)
                    if cand is None:
                        s = sym.decode("latin-1")
                        cand = [x for x in subs if any(r.search(s) for r in x.regexes)]
                        sym_subs[sym] = cand
                dest = [x for x in cand if x.types is None or t in x.types]
                route_cache[key] = dest
            if not dest:
                feed.no_subscriber += 1
                continue
            for x in dest:
                x.blocks.append(b)


# ---------------------------------------------------------------- output

class OutSub:
    __slots__ = ("sub", "next", "packets", "messages", "parts")

    def __init__(self, sub):
        self.sub = sub
        self.next = 1
        self.packets = 0
        self.messages = 0
        self.parts = []


def check_port(path, port_subs, diffs, single=False):
    """docs/protocol.md §3.6: every frame of DIR/<port>.pcap, grouped by subscriber; with
    `single`, every frame belongs to the one subscriber given, whatever its destination."""
    try:
        cap = pcapio.read(path)
    except (OSError, pcapio.PcapError) as e:
        diffs.add(str(e))
        return {}
    if cap.linktype != pcapio.LINKTYPE_ETHERNET:
        diffs.add("%s: link type %d is not Ethernet" % (path, cap.linktype))
        return {}
    by_dst = {(s.mac, s.ip, s.dport): OutSub(s) for s in port_subs}
    name = os.path.basename(path)
    for i, (_ts, fr) in enumerate(cap.frames):
        where = "%s frame %d" % (name, i + 1)
        n = len(fr)
        if n < 14 + 20 + 8 or fr[12:14] != b"\x08\x00":
            diffs.add("%s: not Ethernet II / IPv4" % where)
            continue
        ip = fr[14:]
        ihl = (ip[0] & 15) * 4
        tot = (ip[2] << 8) | ip[3]
        if ip[0] >> 4 != 4 or ihl < 20 or tot > len(ip) or tot < ihl + 8:
            diffs.add("%s: bad IPv4 header (version/IHL/total length %d of %d)"
                      % (where, tot, len(ip)))
            continue
        if tot != len(ip) and n > 60:
            diffs.add("%s: %d bytes after the IPv4 total length" % (where, len(ip) - tot))
        if not csum_ok(ip[:ihl]):
            diffs.add("%s: bad IPv4 header checksum" % where)
        if ((ip[6] << 8) | ip[7]) & 0x3FFF or ip[9] != 17:
            diffs.add("%s: IPv4 fragment or not UDP" % where)
            continue
        u = ip[ihl:tot]
        ulen = (u[4] << 8) | u[5]
        if ulen != len(u):
            diffs.add("%s: UDP length %d, IPv4 payload %d" % (where, ulen, len(u)))
            continue
        if (u[6] or u[7]) and not csum_ok(ip[12:20] + bytes((0, 17)) + u[4:6] + u):
            diffs.add("%s: bad UDP checksum" % where)
        dst = (fr[0:6], int.from_bytes(ip[16:20], "big"), (u[2] << 8) | u[3])
        o = by_dst.get(dst) if not single else next(iter(by_dst.values()))
        if o is None:
            diffs.add("%s: destination %s %d.%d.%d.%d:%d is no subscriber of this port"
                      % (where, dst[0].hex(":"), *ip[16:20], dst[2]))
            continue
        s = o.sub
        p = u[8:]
        o.packets += 1
        if len(p) > s.max_payload:
            diffs.add("%s: %s: UDP payload %d > max_payload %d"
                      % (where, s.name, len(p), s.max_payload))
        v = mold_valid(p)
        if v is None:
            diffs.add("%s: %s: invalid MoldUDP64 packet" % (where, s.name))
            continue
        if p[:10] != s.session:
            diffs.add("%s: %s: session %r, expected %r" % (where, s.name, p[:10], s.session))
        seq = int.from_bytes(p[10:18], "big")
        if seq != o.next:
            diffs.add("%s: %s: sequence %d, expected %d" % (where, s.name, seq, o.next))
        cnt, nmsg = v
        if cnt == END_OF_SESSION:
            diffs.add("%s: %s: end-of-session packet in the output" % (where, s.name))
        if nmsg:
            o.next = seq + nmsg
            o.messages += nmsg
            o.parts.append(p[MOLD_HDR:])
    return {o.sub.name: o for o in by_dst.values()}


def split_blocks(blob):
    out, off = [], 0
    while off + 2 <= len(blob):
        e = off + 2 + ((blob[off] << 8) | blob[off + 1])
        out.append(blob[off:e])
        off = e
    return out


def compare_sub(o, diffs):
    s = o.sub
    got = b"".join(o.parts)
    want = b"".join(s.blocks)
    if got == want:
        return
    g = split_blocks(got)
    for i, (a, b) in enumerate(zip(g, s.blocks)):
        if a != b:
            j = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]),
                     min(len(a), len(b)))
            if j < 2:
                diffs.add("%s: message %d is %d bytes (type %r), expected %d (type %r)"
                          % (s.name, i + 1, len(a) - 2, chr(a[2]) if len(a) > 2 else "",
                             len(b) - 2, chr(b[2])))
                return
            lo = max(2, j - 4)
            diffs.add("%s: message %d (expected type %r, %d bytes) differs at byte %d: "
                      "got %s, expected %s" % (s.name, i + 1, chr(b[2]), len(b) - 2, j - 2,
                                               a[lo:j + 8].hex(), b[lo:j + 8].hex()))
            return
    diffs.add("%s: got %d messages, expected %d (the first %d agree)"
              % (s.name, len(g), len(s.blocks), min(len(g), len(s.blocks))))


# ---------------------------------------------------------------- stats.json

def check_stats(path, feeds, subs, outs, non_feed_frames, diffs):
    try:
        with open(path) as f:
            st = json.load(f)
    except (OSError, ValueError) as e:
        diffs.add("%s: %s" % (path, e))
        return
    sf = st.get("feeds", {})
    for feed in feeds:
        x = sf.get(feed.name)
        if x is None:
            diffs.add("stats.json: feed %s missing" % feed.name)
            continue
        w = "stats.json feeds.%s." % feed.name
        diffs.eq(w + "packets", x.get("packets"), feed.packets)
        diffs.eq(w + "messages", x.get("messages"), feed.unique)
        diffs.eq(w + "gaps", x.get("gaps"), feed.gaps)
        diffs.eq(w + "gap_messages", x.get("gap_messages"), feed.gap_messages)
        diffs.eq(w + "malformed", x.get("malformed"), feed.malformed)
        dup = feed.valid_msgs - feed.unique
        if len(feed.sessions) <= 1:
            diffs.eq(w + "duplicates", x.get("duplicates"), dup)
        elif not isinstance(x.get("duplicates"), int) or not 0 <= x["duplicates"] <= dup:
            # packets of a finished session still arriving on a slower line are dropped
            # as stale_session packets, not counted as duplicate messages
            diffs.add("%sduplicates: got %r, expected at most %d"
                      % (w, x.get("duplicates"), dup))
    ss = st.get("subscribers", {})
    for s in subs:
        x = ss.get(s.name)
        if x is None:
            diffs.add("stats.json: subscriber %s missing" % s.name)
            continue
        o = outs.get(s.name)
        w = "stats.json subscribers.%s." % s.name
        diffs.eq(w + "messages", x.get("messages"), o.messages if o else 0)
        diffs.eq(w + "packets", x.get("packets"), o.packets if o else 0)
        diffs.eq(w + "dropped", x.get("dropped"), 0)
    drops = st.get("drops")
    if not isinstance(drops, dict):
        diffs.add("stats.json: no drops object")
        return
    present = [r for r in NON_FEED_REASONS if r in drops]
    if present:
        diffs.eq("stats.json drops %s (sum)" % "+".join(present),
                 sum(drops[r] for r in present), non_feed_frames)
    for r in ZERO_REASONS:
        if r in drops:
            diffs.eq("stats.json drops.%s" % r, drops[r], 0)
    checks = (("malformed", sum(f.malformed for f in feeds)),
              ("unbound_locate", sum(f.unbound for f in feeds)),
              ("no_subscriber", sum(f.no_subscriber for f in feeds)),
              ("short_message", sum(f.short for f in feeds)))
    for r, want in checks:
        if r in drops:
            diffs.eq("stats.json drops.%s" % r, drops[r], want)


# ---------------------------------------------------------------- tshark

def run_tshark(path, port_subs, diffs):
    if not port_subs:
        return
    lo = min(s.dport for s in port_subs)
    hi = max(s.dport for s in port_subs)
    rng = "%d-%d" % (lo, hi) if hi > lo else "%d" % lo
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==%s,moldudp64" % rng, "-Y",
           "_ws.malformed || moldudp64.msglen.invalid || moldudp64.count.invalid",
           "-T", "fields", "-e", "frame.number"]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        diffs.add("tshark: %s" % e)
        return
    if r.returncode != 0:
        err = [ln for ln in r.stderr.splitlines() if "Running as user" not in ln]
        diffs.add("tshark exit %d on %s: %s" % (r.returncode, path, " ".join(err)[:200]))
        return
    bad = r.stdout.split()
    if bad:
        diffs.add("tshark: %d malformed frames in %s, first frame %s"
                  % (len(bad), os.path.basename(path), bad[0]))


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--feed", action="append", required=True)
    out = ap.add_mutually_exclusive_group(required=True)
    out.add_argument("--out")
    out.add_argument("--streams")
    ap.add_argument("--tshark", action="store_true")
    a = ap.parse_args(argv)

    try:
        feeds, lines, ports, subs = load_config(a.config)
        total = read_inputs(a.feed, lines)
    except Fail as e:
        print("aster_check: %s" % e, file=sys.stderr)
        return 2
    except (KeyError, TypeError, re.error) as e:
        print("aster_check: %s: unusable configuration: %r" % (a.config, e), file=sys.stderr)
        return 2

    for feed in feeds:
        route(feed)
    feed_frames = sum(f.packets for f in feeds)

    diffs = Diffs()
    outs = {}
    if a.streams:
        for s in subs:
            path = os.path.join(a.streams, s.name + ".pcap")
            if not os.path.exists(path):
                diffs.add("%s: no stream file %s" % (s.name, path))
                continue
            outs.update(check_port(path, [s], diffs, single=True))
        for s in subs:
            if s.name in outs:
                compare_sub(outs[s.name], diffs)
        return report(diffs, feeds, subs, outs, total, a)
    for port in ports:
        port_subs = [s for s in subs if s.port == port]
        path = os.path.join(a.out, port + ".pcap")
        outs.update(check_port(path, port_subs, diffs))
        if a.tshark and os.path.exists(path):
            run_tshark(path, port_subs, diffs)
    # feed-level counters first: they tell more than the first differing message
    check_stats(os.path.join(a.out, "stats.json"), feeds, subs, outs, total - feed_frames,
                diffs)
    for s in subs:
        if s.name in outs:
            compare_sub(outs[s.name], diffs)
    return report(diffs, feeds, subs, outs, total, a)


def report(diffs, feeds, subs, outs, total, a):
    if diffs.total:
        for ln in diffs.lines:
            print("FAIL: " + ln)
        if diffs.total > len(diffs.lines):
            print("FAIL: ... and %d more differences" % (diffs.total - len(diffs.lines)))
        return 1
    out_msgs = sum(o.messages for o in outs.values())
    out_pkts = sum(o.packets for o in outs.values())
    print("OK: %d input frames, %s; %d subscribers, %d messages in %d packets%s"
          % (total, ", ".join("feed %s: %d packets %d sessions %d messages %d gaps "
                              "(%d missing) %d malformed %d duplicates"
                              % (f.name, f.packets, len(f.sessions), f.unique, f.gaps,
                                 f.gap_messages, f.malformed, f.valid_msgs - f.unique)
                              for f in feeds),
             len(subs), out_msgs, out_pkts, ", tshark clean" if a.tshark and a.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
