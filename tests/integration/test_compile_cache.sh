#!/bin/bash
# The compile cache and a restart in the middle of a background recompile (issue 14):
# aster-dataplane live on af_packet with --compile-cache, a table with a few hundred
# regexes applied, then a DELTA adding a regex (compiled alone, its shard recompiled in
# the background) and the dataplane killed with SIGKILL while that recompile runs. Three
# cache files are then damaged — one truncated, one with a byte flipped, one replaced by
# the file of another expression set — and the dataplane started again on the same
# cache: it must ignore and count exactly those three (one line each), compile their
# shards, load the rest, and route the table in force message by message (the
# independent checker). Before that, six bad deltas are refused in one line each with
# nothing of them applied, and a run of five deltas takes the table to v7, which the
# feed is checked against; a fresh dataplane given v7 whole must route it the same. The
# peer is tests/tools/ctl_client.py, as aster-control would be.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

gen feed --messages 20000 --symbols 300 --subscribers 6 --loss-a 0.01 --loss-b 0.01 --seed 14
mergecap -F pcap -w "$W/ab.pcap" "$W/feed/a.pcap" "$W/feed/b.pcap"
mkdir -p "$W/versions" "$W/cache" "$W/other"
# v1: the generated table with 400 distinct regexes spread over its subscribers (every
# shard holds some), v2: one more; other.yaml: a table of other regexes (its cache files
# are the "foreign" ones)
/usr/bin/python3 - "$W" <<'PY' || fail "tables"
import json, sys, yaml
w = sys.argv[1]
cfg = yaml.safe_load(open(f"{w}/feed/routing.yaml"))
subs = cfg["subscribers"]
for i in range(400):
    a, b, c = chr(65 + i % 26), chr(65 + i // 26 % 26), i % 10
    subs[i % len(subs)]["symbols"].append(f"^{a}[{b}-Z]{{1,2}}[0-{c}]?$")
yaml.safe_dump(cfg, open(f"{w}/versions/v1.yaml", "w"), default_flow_style=None, width=1 << 20)
subs[1]["symbols"].append("^[QX][A-Z]{2}$")
yaml.safe_dump(cfg, open(f"{w}/versions/v2.yaml", "w"), default_flow_style=None, width=1 << 20)
json.dump([{"kind": "pattern+", "sub": subs[1]["name"], "pattern": "^[QX][A-Z]{2}$"}],
          open(f"{w}/delta.json", "w"))
# bad deltas against v2: none may change anything
def sub_text(n=77, **kw):
    new = dict(subs[0], name=f"zz{n}", session=f"ZZ000000{n}", symbols=["^ZZZ$"],
               dst={"mac": f"02:00:00:00:00:{n}", "ip": f"10.1.0.{n}", "port": 31000 + n},
               **kw)
    return yaml.safe_dump(new, default_flow_style=None, width=1 << 20)
bad = {
    "sub": [{"kind": "pattern+", "sub": "nosuch", "pattern": "^ABC$"}],
    "feed": [{"kind": "sub+", "sub": "zz77", "pos": len(subs), "text": sub_text(feed="nofeed")}],
    "regex": [{"kind": "pattern+", "sub": subs[1]["name"], "pattern": "^(A"}],
    "limit": [{"kind": "sub+", "sub": "zz77", "pos": len(subs), "text": sub_text()},
              {"kind": "sub+", "sub": "zz79", "pos": len(subs) + 1, "text": sub_text(79)}],
    "mixed": [{"kind": "pattern+", "sub": subs[0]["name"], "pattern": "^[A-Z]"},
              {"kind": "pattern+", "sub": "nosuch", "pattern": "^ABC$"}],
    "stale": [{"kind": "pattern+", "sub": subs[0]["name"], "pattern": "^[A-Z]"}],
}
for name, ops in bad.items():
    json.dump(ops, open(f"{w}/bad_{name}.json", "w"))
# a run of deltas from v2 to v7, and each version's table, for the checker
import copy, os
os.makedirs(f"{w}/run")
t = copy.deepcopy(cfg)
yaml.safe_dump(t, open(f"{w}/run/v2.yaml", "w"), default_flow_style=None, width=1 << 20)
new_sub = dict(subs[0], name="zz8", session="ZZ00000008", symbols=["^A", "^[E-G][A-Z]$"],
               dst={"mac": "02:00:00:00:00:78", "ip": "10.1.0.78", "port": 31078})
run = [
    [{"kind": "pattern+", "sub": subs[2]["name"], "pattern": "^[B-D][A-Z]{2}$"}],
    [{"kind": "pattern-", "sub": subs[3]["name"], "pos": 0, "pattern": subs[3]["symbols"][0]}],
    [{"kind": "sub-", "sub": subs[5]["name"]}],
    [{"kind": "sub+", "sub": "zz8", "pos": len(subs) - 1,
      "text": yaml.safe_dump(new_sub, default_flow_style=None, width=1 << 20)}],
    [{"kind": "pattern+", "sub": subs[4]["name"], "pattern": "^Q"},
     {"kind": "pattern-", "sub": subs[2]["name"], "pos": len(subs[2]["symbols"]),
      "pattern": "^[B-D][A-Z]{2}$"}],
]
for v, ops in enumerate(run, 3):
    ts = {s["name"]: s for s in t["subscribers"]}
    for op in ops:
        if op["kind"] == "pattern+":
            ts[op["sub"]]["symbols"].append(op["pattern"])
        elif op["kind"] == "pattern-":
            assert ts[op["sub"]]["symbols"].pop(op["pos"]) == op["pattern"]
        elif op["kind"] == "sub-":
            t["subscribers"].remove(ts[op["sub"]])
        else:
            t["subscribers"].insert(op["pos"], yaml.safe_load(op["text"]))
    json.dump(ops, open(f"{w}/run/d{v}.json", "w"))
    yaml.safe_dump(t, open(f"{w}/run/v{v}.yaml", "w"), default_flow_style=None, width=1 << 20)
for s in subs:
    s["symbols"] = [p.replace("$", "X?$") if "[" in p else p for p in s["symbols"]]
yaml.safe_dump(cfg, open(f"{w}/other.yaml", "w"), default_flow_style=None, width=1 << 20)
PY

status() { "${CTL[@]}" "$W/dp.sock" status --out "$W/$1.json" >/dev/null || fail "status $1"; }
field() { /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$W/$1.json" "$2"; }

netns_up
# a profile taking one subscriber more than the table has: two more is a limit exceeded
live_profile
sed -i 's/^max_subscribers:.*/max_subscribers: 7/' "$W/live.yaml"
grep -q '^max_subscribers: 7$' "$W/live.yaml" || fail "cannot set max_subscribers"
# the other expression set's files, in a cache of their own
dataplane_start --compile-cache "$W/other"
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/other.yaml" >/dev/null || fail "apply other"
dataplane_stop
dataplane_start --compile-cache "$W/cache"
"${CTL[@]}" "$W/dp.sock" apply 1 "$W/versions/v1.yaml" >/dev/null || fail "apply v1"
status s1
[ "$(field s1 'r["compile_cache"]["stores"]')" -ge 16 ] || fail "v1 did not fill the cache: $(field s1 'r["compile_cache"]')"

# The DELTA, then SIGKILL while its shard recompiles in the background.
"${CTL[@]}" "$W/dp.sock" delta 1 2 "$W/delta.json" >"$W/delta.out" || fail "delta: $(cat "$W/delta.out")"
status s2
pending=$(field s2 'r["compile_cache"]["recompiles_pending"]')
kill -KILL "$DP_PID"
wait "$DP_PID" 2>/dev/null || true
DP_PID=""
rm -f "$W/dp.sock"
echo "killed with $pending background recompile(s) pending"

# Damage three files of the cache: truncated, a byte flipped, another set's file.
/usr/bin/python3 - "$W/cache" "$W/other" <<'PY' || fail "damaging the cache"
import glob, os, sys
files = sorted(glob.glob(f"{sys.argv[1]}/*.hsdb"))
other = sorted(glob.glob(f"{sys.argv[2]}/*.hsdb"))
assert len(files) >= 3 and other, (files, other)
os.truncate(files[0], os.path.getsize(files[0]) // 2)
with open(files[1], "r+b") as f:
    f.seek(os.path.getsize(files[1]) - 77)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x20]))
os.replace(other[0], files[2])
PY

# Back, and pushed the table in force (v2) as aster-control would.
dataplane_start --compile-cache "$W/cache"
"${CTL[@]}" "$W/dp.sock" apply 2 "$W/versions/v2.yaml" >/dev/null || fail "apply v2 after the restart"
status s3
[ "$(field s3 'r["compile_cache"]["hits"]')" -ge 10 ] || fail "the restart did not load its shards: $(field s3 'r["compile_cache"]')"

# Bad deltas (issue 14, "Bad input"): an unknown subscriber, an unknown feed, an invalid
# regex, a subscriber over max_subscribers, a valid operation beside an unknown
# subscriber, a change made from another version: each refused with one line naming
# what, v2 still in force, and nothing of it applied (the deltas below start from v2).
for b in sub:nosuch feed:nofeed regex:'^(A' limit:max_subscribers mixed:nosuch stale:'in force'; do
	name=${b%%:*} want=${b#*:} base=2
	[ "$name" = stale ] && base=1
	rc=0
	"${CTL[@]}" "$W/dp.sock" delta "$base" 3 "$W/bad_$name.json" >"$W/bad.out" || rc=$?
	[ "$rc" = 1 ] || fail "delta ($name) not refused: $(cat "$W/bad.out")"
	/usr/bin/python3 - "$W/bad.out" "$want" <<'PY' || fail "delta ($name): $(cat "$W/bad.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] < 0 and r["table_version"] == 2, r
assert sys.argv[2] in r["error"] and "\n" not in r["error"].strip(), r["error"]
PY
	echo "refused ($name): $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$W/bad.out")"
done

# A run of deltas (a regex added, a pattern removed, a subscriber leaving, one joining, a
# prefix added beside a regex removed), then the feed: routed by v7, exactly.
for v in 3 4 5 6 7; do
	"${CTL[@]}" "$W/dp.sock" delta $((v - 1)) "$v" "$W/run/d$v.json" >"$W/delta.out" ||
		fail "delta to v$v: $(cat "$W/delta.out")"
done
routed_check() { # OUT: the feed sent, the capture checked against the run's tables
	capture_start "$W/$1.pcap"
	send_feed 2000 "$W/ab.pcap"
	sleep 1
	"${CTL[@]}" "$W/dp.sock" status --out "$W/$1.json" >/dev/null || fail "status"
	capture_stop
	/usr/bin/python3 "$ROOT/tests/tools/live_check.py" --versions "$W/run" \
		--feed "$W/feed/a.pcap" --feed "$W/feed/b.pcap" --out-pcap "$W/$1.pcap" \
		--status "$W/$1.json" >"$W/$1.log" 2>&1 || fail "$1: $(head -n 3 "$W/$1.log" | tr '\n' ' ')"
	cat "$W/$1.log"
}
routed_check out

# v1 again: between the two tables every shard of v1 was read, so each damaged file
# was found bad exactly once, said in one line, and replaced by a good one.
"${CTL[@]}" "$W/dp.sock" apply 8 "$W/versions/v1.yaml" >/dev/null || fail "apply v1 as v8"
status s4
bad=$(field s4 'r["compile_cache"]["bad"]')
[ "$bad" = 3 ] || fail "compile cache: $bad bad files counted, want 3: $(field s4 'r["compile_cache"]')"
n_lines=$(grep -c "compile cache: .*; ignored, compiling instead" "$W/dataplane.log" || true)
[ "$n_lines" = 3 ] || fail "$n_lines log lines for the bad files, want 3: $(grep "compile cache" "$W/dataplane.log")"
grep "compile cache" "$W/dataplane.log"

# A fresh dataplane given v7 whole routes the feed exactly as the one that reached v7 by
# deltas: each stream, checked exactly (sequence numbers from 1, every block), is the same.
dataplane_stop
dataplane_start --compile-cache "$W/cache"
"${CTL[@]}" "$W/dp.sock" apply 7 "$W/run/v7.yaml" >/dev/null || fail "apply v7 whole"
routed_check fresh
echo "PASS $TEST_NAME"
