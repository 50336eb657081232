#!/usr/bin/python3
"""Check a live run whose routing table changed while traffic flowed (issue #3).

    live_check.py --versions DIR --feed a.pcap [--feed b.pcap] --out-pcap out.pcap
                  --status status.json [--drops]

DIR holds v<N>.yaml for every table version that was applied (N = the version number the
dataplane was given). status.json is the dataplane's STATUS reply after the run (its
"table_log" says from which feed sequence on each version routed). Every message of the
feed (union of the lines, docs/protocol.md §3.3) is routed by the version in force at its sequence,
with the locate bindings carried across versions; each subscriber's captured stream must
be exactly what those versions give it: contiguous sequence numbers from 1, the message
blocks in feed order, nothing extra, nothing missing, and no drop counted anywhere.
With --drops (a run that provokes ring_full and tx_full), a subscriber's stream may lack
messages, and what it lacks must be what its `dropped` counter says.
"""
import argparse
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aster_check as ac  # noqa: E402  (the independent reader's parsers)
import json  # noqa: E402


def union_blocks(feed):
    """(seq, block) of every message received on any line, in sequence order."""
    out = []
    for session, (_first, start, pkts, _hb) in sorted(feed.sessions.items(),
                                                      key=lambda kv: kv[1][0]):
        pkts.sort(key=lambda t: t[0])
        nxt = start
        for seq, n, p in pkts:
            if seq + n <= nxt:
                continue
            nxt = max(nxt, seq)
            off = ac.MOLD_HDR
            for i in range(n):
                e = off + 2 + ((p[off] << 8) | p[off + 1])
                if seq + i >= nxt:
                    out.append((session, seq + i, p[off:e]))
                off = e
            nxt = seq + n
    return out


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", required=True)
    ap.add_argument("--feed", action="append", required=True)
    ap.add_argument("--out-pcap", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--drops", action="store_true",
                    help="messages may be dropped on the way out (ring_full, tx_full): "
                         "each subscriber's captured messages must be its expected ones "
                         "in order with some left out, and captured + the subscriber's "
                         "dropped counter must equal what the tables routed to it")
    ap.add_argument("--uncaptured-port", action="append", default=[],
                    help="with --drops: an output port not captured; its subscribers' "
                         "`messages` counter (what was framed) must be what was routed to "
                         "them, their `dropped` at most that")
    a = ap.parse_args(argv)

    versions = {}
    for path in glob.glob(os.path.join(a.versions, "v*.yaml")):
        n = int(re.match(r"v(\d+)\.yaml$", os.path.basename(path)).group(1))
        versions[n] = ac.load_config(path)
    if not versions:
        sys.exit("live_check: no v<N>.yaml in %s" % a.versions)
    with open(a.status) as f:
        st = json.load(f)

    # the feeds and lines are the same in every version of this test
    feeds, lines, _ports, _subs = versions[min(versions)]
    total = ac.read_inputs(a.feed, lines)
    fails = []
    expect = {}  # (mac, ip, port) -> [name, session, max_payload, [blocks]]
    for feed in feeds:
        log = sorted((e["seq"], e["table_version"]) for e in st["table_log"][feed.name])
        if not log:
            fails.append("feed %s: empty table_log" % feed.name)
            continue
        got = st["feeds"][feed.name]
        if got.get("hold_timeout") or got.get("late"):
            fails.append("feed %s: %d holds timed out, %d messages came late and were "
                         "dropped (a line fell more than hold_us behind the other)"
                         % (feed.name, got.get("hold_timeout", 0), got.get("late", 0)))
        if got["packets"] != feed.packets:
            fails.append("feed %s: the dataplane saw %d of the %d feed frames sent "
                         "(lost before it)" % (feed.name, got["packets"], feed.packets))
        bind = {}
        li = 0
        cache = {}
        for session, seq, b in union_blocks(feed):
            while li + 1 < len(log) and log[li + 1][0] <= seq:
                li += 1
            if seq < log[0][0]:
                fails.append("feed %s: sequence %d delivered before the first table_log "
                             "entry %d" % (feed.name, seq, log[0][0]))
                break
            ver = log[li][1]
            if ver not in versions:
                fails.append("table version %d routed but no v%d.yaml" % (ver, ver))
                break
            vsubs = [s for s in versions[ver][3] if s.feed.name == feed.name]
            if len(b) < 5:
                continue
            t = b[2]
            loc = (b[3] << 8) | b[4]
            if loc == 0:
                sym = None
            elif ac.ITCH_STOCK[t]:
                so = ac.ITCH_STOCK[t]
                sym = b[2 + so:10 + so].rstrip(b" ")
                bind[loc] = sym
            else:
                sym = bind.get(loc)
                if sym is None:
                    continue
            key = (ver, sym, t)
            dest = cache.get(key)
            if dest is None:
                dest = [s for s in vsubs
                        if (s.types is None or t in s.types) and
                        (sym is None or any(r.search(sym.decode("latin-1")) for r in s.regexes))]
                cache[key] = dest
            for s in dest:
                e = expect.setdefault((s.mac, s.ip, s.dport),
                                      [s.name, s.session, s.max_payload, [], s.port])
                e[3].append(b)

    # the capture: group by destination, check sequence continuity and content
    cap = ac.pcapio.read(a.out_pcap)
    got = {}
    for i, (_ts, fr) in enumerate(cap.frames):
        if len(fr) < 42 or fr[12:14] != b"\x08\x00" or fr[23] != 17:
            continue  # the kernel's own frames on the capture interface (IPv6 ND, ...)
        ihl = (fr[14] & 15) * 4
        u = fr[14 + ihl:]
        dst = (fr[0:6], int.from_bytes(fr[30:34], "big"), (u[2] << 8) | u[3])
        p = u[8:(u[4] << 8 | u[5])]
        if not ac.csum_ok(fr[14:14 + ihl]):
            fails.append("frame %d: bad IPv4 checksum" % (i + 1))
        g = got.setdefault(dst, [1, []])
        seq = int.from_bytes(p[10:18], "big")
        cnt = (p[18] << 8) | p[19]
        if cnt == 0:
            continue
        if seq != g[0] and not a.drops:
            fails.append("%s: sequence %d, expected %d" % (expect.get(dst, ["?"])[0], seq, g[0]))
        g[0] = seq + cnt
        g[1].extend(ac.split_blocks(p[20:]))
        e = expect.get(dst)
        if e is not None and (p[:10] != e[1] or len(p) > e[2]):
            fails.append("%s: session %r or payload %d > %d" % (e[0], p[:10], len(p), e[2]))
    accounted = []
    for dst, (name, _sess, _mp, blocks, port) in expect.items():
        g = got.get(dst, [1, []])[1]
        if a.drops and port in a.uncaptured_port:
            # not captured: the dataplane's own account. `messages` counts what was
            # framed for the subscriber, `dropped` what of it (or before framing) did
            # not leave; framed + dropped before framing must be what was routed to it
            framed = st["subscribers"].get(name, {}).get("messages", 0)
            dropped = st["subscribers"].get(name, {}).get("dropped", 0)
            if framed != len(blocks) or dropped > framed:
                fails.append("%s (%s): %d framed, %d dropped, %d routed to it"
                             % (name, port, framed, dropped, len(blocks)))
            accounted.append("%s (uncaptured) %d-%d sent of %d" % (name, framed, dropped,
                                                                   len(blocks)))
        elif a.drops:
            # in order, some left out: every captured message is the next expected one
            # that was not dropped
            i = 0
            for n, m in enumerate(g):
                while i < len(blocks) and blocks[i] != m:
                    i += 1
                if i == len(blocks):
                    fails.append("%s: captured message %d is not among those routed to it "
                                 "(or out of order)" % (name, n + 1))
                    break
                i += 1
            dropped = st["subscribers"].get(name, {}).get("dropped", 0)
            if len(g) + dropped != len(blocks):
                fails.append("%s: %d delivered + %d dropped != %d routed to it"
                             % (name, len(g), dropped, len(blocks)))
            accounted.append("%s %d+%d=%d" % (name, len(g), dropped, len(blocks)))
        elif g != blocks:
            n = next((i for i, (x, y) in enumerate(zip(g, blocks)) if x != y),
                     min(len(g), len(blocks)))
            fails.append("%s: %d messages captured, %d expected; first difference at "
                         "message %d" % (name, len(g), len(blocks), n + 1))
    for dst in got:
        if dst not in expect and got[dst][1]:
            fails.append("frames to %s:%d which no table version routes to"
                         % (".".join(str(x) for x in dst[1].to_bytes(4, "big")), dst[2]))
    for reason in ("no_mbuf", "too_large") + (() if a.drops else ("ring_full", "tx_full")):
        if st["drops"].get(reason):
            fails.append("drops.%s = %d" % (reason, st["drops"][reason]))
    for name, s in st["subscribers"].items():
        if s["dropped"] and not a.drops:
            fails.append("subscriber %s dropped %d" % (name, s["dropped"]))
    if fails:
        for f in fails[:10]:
            print("FAIL: " + f)
        return 1
    n_msgs = sum(len(e[3]) for e in expect.values())
    changes = sum(len(st["table_log"][f.name]) for f in feeds)
    print("OK: %d input frames; %d table versions routed traffic; %d subscriber streams, "
          "%d messages, each routed by the table in force" % (total, changes, len(expect), n_msgs))
    if a.drops:
        print("delivered+dropped=routed per subscriber: " + ", ".join(accounted))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
