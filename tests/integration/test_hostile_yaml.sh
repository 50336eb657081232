#!/bin/bash
# Hostile YAML (docs/configuration.md, "Limits on a file"): a routing table, a PMD profile
# and aster-control's settings built to exhaust memory or time (aliases that stand for
# hundreds of millions of patterns, nesting millions deep, tens of millions of list
# items, a 2 GiB file, a quarter of a million feed lines) are each refused with one
# line naming the limit, by the real binaries, within 1 GiB of address space and 20 s.
# aster-control refuses the alias bomb applied through asterctl and keeps serving.
# Each refusal's time and peak memory (/usr/bin/time) is printed.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

DP="$BUILD/dataplane/aster-dataplane"
CONTROL="$BUILD/control/aster-control"
ASTERCTL="$BUILD/control/asterctl"
PROFILE="$ROOT/pmd_config/net_pcap.yaml"
MEM_KB=1048576
trap 'control_stop; rm -rf "$W"' EXIT

/usr/bin/python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
feed = ("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
        "      - {name: A, group: 233.54.12.111, port: 26477}\n"
        "ports:\n  - name: out0\n")
def sub(i, symbols):
    return ("  - {name: s%d, feed: itch, port: out0, session: S%d, dst: {mac: \"02:00:00:00:00:01\", "
            "ip: 10.0.0.1, port: 1}, symbols: %s}\n" % (i, i, symbols))
def write(name, text):
    with open(f"{w}/{name}", "w") as f:
        f.write(text)
# 10 000 patterns under one anchor, aliased by 65 535 more subscribers: 655 million
# patterns for a loader that walks them.
write("alias_bomb.yaml", feed + "subscribers:\n" + sub(0, "&p [" + ", ".join(['"^A$"'] * 10000) + "]")
      + "".join(sub(i, "*p") for i in range(1, 65536)))
# Ten million nested lists; thirty million items of one flow list (60 MB).
write("deep.yaml", "feeds: " + "[" * 10_000_000 + "\n")
write("wide.yaml", "feeds: [" + "x," * 30_000_000 + "x]\n")
# 30 000 feeds of 8 lines: a quarter of a million group:port pairs to tell apart.
with open(f"{w}/many_lines.yaml", "w") as f:
    f.write("feeds:\n")
    for i in range(30000):
        f.write("  - name: f%d\n    protocol: moldudp64-itch50\n    lines:\n" % i)
        for l in range(8):
            f.write("      - {name: L%d, group: 239.%d.%d.%d, port: %d}\n"
                    % (l, i >> 16, (i >> 8) & 255, i & 255, 1000 + l))
# Under the 1 MiB a profile or settings file may have, still deep or wide.
write("profile_deep.yaml", "name: x\nlcores: " + "[" * 1_000_000 + "\n")
write("profile_wide.yaml", "name: x\nlcores: [" + "1," * 500_000 + "1]\n")
write("settings_deep.yaml", "read_uids: " + "[" * 1_000_000 + "\n")
write("routing_ok.yaml", feed + "subscribers:\n" + sub(0, '["^A$"]'))
PY
# 2 GiB, sparse: no disk used, but a loader that reads it all needs 2 GiB of memory.
for f in huge.yaml profile_huge.yaml settings_huge.yaml; do truncate -s 2G "$W/$f"; done

# refused NAME TEXT COMMAND...: within MEM_KB of address space and 20 s, the command exits
# non-zero (not killed) with exactly one line on stderr holding TEXT.
refused() {
	local name=$1 text=$2 rc=0
	shift 2
	(
		ulimit -v "$MEM_KB"
		exec timeout 20 /usr/bin/time -f "%e s, %M KB" -o "$W/$name.time" "$@"
	) >"$W/$name.out" 2>"$W/$name.err" || rc=$?
	[ "$rc" != 0 ] || fail "$name: accepted"
	[ "$rc" != 124 ] || fail "$name: still running after 20 s"
	[ "$rc" -lt 128 ] || fail "$name: killed by signal $((rc - 128)): $(tail -n 1 "$W/$name.err")"
	[ "$(wc -l <"$W/$name.err")" = 1 ] || fail "$name: not one line: $(head -c 300 "$W/$name.err")"
	grep -qF -- "$text" "$W/$name.err" || fail "$name: error lacks '$text': $(cat "$W/$name.err")"
	printf '%-20s %-16s %s\n' "$name" "$(tail -n 1 "$W/$name.time")" "$(cat "$W/$name.err")"
}

route() { refused "$1" "$2" "$DP" --profile "$PROFILE" --config "$W/$3" --feed "$W/none.pcap" --out "$W/out"; }
route alias_bomb "alias_bomb.yaml:218: document: more than 2097152 nodes" alias_bomb.yaml
route deep "deep.yaml:1: document: nested deeper than 16 levels" deep.yaml
route wide "wide.yaml:1: document: a list of more than 1048576 entries" wide.yaml
route huge "huge.yaml: document: 2147483648 bytes, more than the 67108864 allowed" huge.yaml
route many_lines "many_lines.yaml:1: feeds: too many items (30000, at most 1024)" many_lines.yaml

profile() { refused "$1" "$2" "$DP" --profile "$W/$3" --config "$W/routing_ok.yaml" --feed "$W/none.pcap" --out "$W/out"; }
profile profile_deep "profile_deep.yaml:2: document: nested deeper than 32 levels" profile_deep.yaml
profile profile_wide "profile_wide.yaml:2: document: a list of more than 4096 entries" profile_wide.yaml
profile profile_huge "profile_huge.yaml: document: 2147483648 bytes, more than the 1048576 allowed" profile_huge.yaml

settings() { refused "$1" "$2" "$CONTROL" --settings "$W/$3" --check; }
settings settings_deep "settings_deep.yaml:1: document: nested deeper than 32 levels" settings_deep.yaml
settings settings_huge "settings_huge.yaml: document: 2147483648 bytes, more than the 1048576 allowed" settings_huge.yaml

# Through aster-control: the alias bomb applied with asterctl is refused, the daemon
# (held to the same address space) goes on serving, the table does not move.
cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
dataplane_socket: $W/dp.sock
health_file: $W/dp.health
audit_log: $W/audit.log
http_port: 0
max_subscribers: 4096
YAML
CONTROL_MEM_KB=$MEM_KB control_start "$W/settings.yaml"
refused asterctl_bomb "alias_bomb.yaml:218: document: more than 2097152 nodes" \
	"$ASTERCTL" --socket "$W/sock/asterctl.sock" apply -f "$W/alias_bomb.yaml"
"$ASTERCTL" --socket "$W/sock/asterctl.sock" status -o json >"$W/status.json" ||
	fail "aster-control stopped answering after the alias bomb: $(tail -n 1 "$W/control.log")"
grep -qF '"version":0' "$W/status.json" || grep -qF '"version": 0' "$W/status.json" ||
	fail "the table moved: $(cat "$W/status.json")"
echo "aster-control after the alias bomb: answering, table version 0, peak $(grep VmHWM /proc/$CPID/status | tr -s ' ')"
echo "PASS $TEST_NAME"
