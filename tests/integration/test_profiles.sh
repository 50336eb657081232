#!/bin/bash
# The same feed through every lcore layout and ring size: RX and TX on separate lcores
# (net_pcap.yaml), on one lcore (net_pcap-shared.yaml), and with a 64-entry ring and
# 64-deep bursts so the RX lcore constantly finds the ring full and must hold the input
# back (replay is lossless, docs/protocol.md §5). Every output must be exact, nothing dropped, and
# every mbuf back in its pool. net_null.yaml discards the output: same counters. Live
# profiles that do not fit the machine are refused in one line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

gen feed --messages 100000 --symbols 1000 --subscribers 48 --rechunk --dup 0.002 --seed 41

# replay_profile NAME PROFILE: replay + independent check with that profile, then the
# lossless and no-leak properties from stats.json
replay_profile() {
	local name=$1 profile=$2

	NO_TSHARK=1 replay_check feed "$name" --profile "$profile"
	/usr/bin/python3 - "$W/$name.out/stats.json" "$name" <<'PY' || exit 1
import json, sys
st = json.load(open(sys.argv[1]))
for pool, v in st["mempools"].items():
    if v["idle_in_use"] != v["final_in_use"]:
        sys.exit(f"FAIL {sys.argv[2]}: {pool} mempool {v['final_in_use']} in use after replay, {v['idle_in_use']} before")
for r in ("ring_full", "tx_full", "no_mbuf"):
    if st["drops"][r]:
        sys.exit(f"FAIL {sys.argv[2]}: drops.{r} = {st['drops'][r]} in a lossless replay")
PY
}

replay_profile split "$ROOT/pmd_config/net_pcap.yaml"
replay_profile shared "$ROOT/pmd_config/net_pcap-shared.yaml"

# A tiny ring: the RX lcore meets a full ring all the time.
sed -e 's/^ring_size:.*/ring_size: 64/' -e 's/^burst:.*/burst: 64/' \
	-e 's/^name:.*/name: tiny-ring/' "$ROOT/pmd_config/net_pcap-shared.yaml" >"$W/tiny.yaml"
grep -q '^ring_size: 64' "$W/tiny.yaml" || fail "could not derive the tiny-ring profile"
replay_profile tiny "$W/tiny.yaml"
sed -e 's/^ring_size:.*/ring_size: 64/' -e 's/^burst:.*/burst: 64/' \
	-e 's/^name:.*/name: tiny-ring-split/' "$ROOT/pmd_config/net_pcap.yaml" >"$W/tiny-split.yaml"
replay_profile tiny_split "$W/tiny-split.yaml"

# net_null: nothing written, the same counters as the net_pcap run.
"${REPLAY[@]}" --config "$W/feed/routing.yaml" --feed "$W/feed/a.pcap" --feed "$W/feed/b.pcap" \
	--out "$W/null.out" --profile "$ROOT/pmd_config/net_null.yaml" >"$W/null.log" 2>&1 ||
	fail "null: replay exit $?: $(tail -n 1 "$W/null.log")"
[ ! -e "$W/null.out/out0.pcap" ] || fail "null: net_null profile wrote out0.pcap"
/usr/bin/python3 - "$W/split.out/stats.json" "$W/null.out/stats.json" <<'PY' || exit 1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for key in ("feeds", "subscribers", "drops"):
    if a[key] != b[key]:
        sys.exit(f"FAIL null: stats.json {key} differ from the net_pcap run")
PY
# A profile that does not fit the machine stops the live dataplane with one line naming
# the profile and what is missing, before any port starts: a CPU this process may not
# use (exit 2), an interface that does not exist, a PCI device that is not there.
live_refused() { # NAME WANT-RC WANT-TEXT PROFILE
	local rc=0
	"$BUILD/dataplane/aster-dataplane" --profile "$4" --ctl-socket "$W/$1.sock" \
		--health-file "$W/$1.health" --file-prefix "aster-prof-$1-$$" --huge off \
		>"$W/$1.out" 2>"$W/$1.err" || rc=$?
	rm -rf "/var/run/dpdk/aster-prof-$1-$$"
	[ "$rc" = "$2" ] || fail "$1: exit $rc, want $2: $(tail -n 1 "$W/$1.err")"
	tail -n 1 "$W/$1.err" | grep -qF -- "$3" || fail "$1: last line: $(tail -n 1 "$W/$1.err")"
	grep -q "Usage:" "$W/$1.err" && fail "$1: EAL usage text instead of one line"
	echo "$1: $(tail -n 1 "$W/$1.err")"
}
ncpu=$(nproc --all)
sed -e "s/^main_cpu:.*/main_cpu: $ncpu/" "$ROOT/pmd_config/net_af_packet.yaml" >"$W/cpu.yaml"
live_refused cpu 2 "main_cpu $ncpu is not available here" "$W/cpu.yaml"
sed -e 's/iface=aster-in0/iface=aster-nosuch0/' "$ROOT/pmd_config/net_af_packet.yaml" >"$W/iface.yaml"
live_refused iface 1 "port in0: interface aster-nosuch0 does not exist" "$W/iface.yaml"
sed -e 's/dev: "net_af_packet0,iface=aster-in0,qpairs=1"/dev: "0000:7f:1f.7"/' \
	"$ROOT/pmd_config/net_af_packet.yaml" >"$W/pci.yaml"
grep -q '0000:7f:1f.7' "$W/pci.yaml" || fail "could not derive the PCI profile"
live_refused pci 1 "no PCI device 0000:7f:1f.7 on this machine" "$W/pci.yaml"
echo "PASS $TEST_NAME"
