#!/bin/bash
# The bare-metal tooling (issue 5): scripts/doctor prints one PASS/WARN/FAIL line per check
# and a summary whose counts and exit status agree, also as JSON; scripts/hugepages shows,
# plans reservations per NUMA node (on a fake two-node sysfs) and persists idempotently;
# scripts/nic-bind lists NICs and refuses what it must with one line; install-services
# touches nothing in --dry-run and installs exactly once under --destdir; the systemd units
# carry the keys the deployment relies on. Nothing here changes the machine: every
# reservation, binding and installation is a --dry-run or goes under $W.
set -euo pipefail
NEED_REPLAY=0 # read by lib.sh: this test runs no replay
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

S=$ROOT/scripts
PY=/usr/bin/python3

# one_line_error OUT ERR RC WANT_RC WHAT: the command failed with WANT_RC and said why in
# exactly one line on stderr
one_line_error() {
	[ "$3" = "$4" ] || fail "$5: exit $3, want $4"
	[ "$(wc -l <"$2")" = 1 ] || fail "$5: want one line on stderr, got: $(head -c 300 "$2")"
	[ ! -s "$1" ] || fail "$5: unexpected stdout: $(head -c 200 "$1")"
}

# ---- doctor -------------------------------------------------------------------------
rc=0
"$S/doctor" >"$W/doctor.txt" 2>"$W/doctor.err" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "doctor: exit $rc: $(cat "$W/doctor.err")"
[ ! -s "$W/doctor.err" ] || fail "doctor wrote to stderr: $(head -n 2 "$W/doctor.err")"
"$PY" - "$W/doctor.txt" "$rc" <<'PY' || exit 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
rc = int(sys.argv[2])
def bad(msg):
    sys.exit("FAIL test_tooling: doctor: " + msg)
m = re.fullmatch(r"doctor: (\d+) pass, (\d+) warn, (\d+) fail", lines[-1]) if lines else None
if not m:
    bad("no summary line 'doctor: N pass, M warn, K fail' at the end")
checks = lines[:-1]
counts = {"PASS": 0, "WARN": 0, "FAIL": 0}
names = []
for l in checks:
    c = re.fullmatch(r"(PASS|WARN|FAIL) ([a-z0-9-]+): (\S.*?)(?: — fix: (\S.*))?", l)
    if not c:
        bad("line not 'PASS|WARN|FAIL check: finding [— fix: how]': " + l)
    if c.group(1) != "PASS" and not c.group(4):
        bad("%s without a fix: %s" % (c.group(1), l))
    counts[c.group(1)] += 1
    names.append(c.group(2))
if len(set(names)) != len(names):
    bad("a check printed more than one line: " + ", ".join(names))
want = {"hugepages", "hugepages-mount", "hugepages-numa", "iommu", "vfio", "isolated-cores",
        "cpu-governor", "thp", "irqbalance", "nic", "nic-numa", "memlock", "dpdk", "hyperscan",
        "cpu-flags"}
if not want <= set(names):
    bad("missing checks: " + ", ".join(sorted(want - set(names))))
got = tuple(int(x) for x in m.groups())
if got != (counts["PASS"], counts["WARN"], counts["FAIL"]):
    bad("summary %s does not match the lines %s" % (got, counts))
if rc != (1 if counts["FAIL"] else 0):
    bad("exit %d with %d FAIL lines" % (rc, counts["FAIL"]))
print("doctor: %d checks, %d pass, %d warn, %d fail, exit %d" % (len(checks), *got, rc))
PY

rc=0
"$S/doctor" --json >"$W/doctor.json" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "doctor --json: exit $rc"
"$PY" - "$W/doctor.json" "$W/doctor.txt" <<'PY' || exit 1
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read().splitlines()
checks, summary = objs[:-1], objs[-1]
if set(summary) != {"summary"}:
    sys.exit("FAIL test_tooling: doctor --json: last object is not the summary")
if [(o["status"], o["check"]) for o in checks] != [tuple(l.split(":")[0].split(" ", 1)) for l in text[:-1]]:
    sys.exit("FAIL test_tooling: doctor --json: checks differ from the text output")
for o in checks:
    if set(o) != {"status", "check", "finding", "fix"}:
        sys.exit("FAIL test_tooling: doctor --json: keys %s" % sorted(o))
print("doctor --json: %d objects parse, same checks" % len(objs))
PY

# A profile that cannot be read, and one pinning lcores to CPUs this machine lacks: FAIL
# lines and exit 1. A bad option: exit 2, one line.
rc=0
"$S/doctor" --profile "$W/absent.yaml" >"$W/d1" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q '^FAIL profile: cannot read' "$W/d1" || fail "doctor --profile absent: exit $rc, $(head -n 1 "$W/d1")"
sed -e 's/cpu: 1,/cpu: 1023,/' "$ROOT/pmd_config/net_pcap.yaml" >"$W/far.yaml"
rc=0
"$S/doctor" --profile "$W/far.yaml" >"$W/d2" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q '^FAIL profile-cpus: CPU 1023 ' "$W/d2" || fail "doctor with CPU 1023: exit $rc, $(grep profile-cpus "$W/d2")"
rc=0
"$S/doctor" --bogus >"$W/d3.out" 2>"$W/d3.err" || rc=$?
one_line_error "$W/d3.out" "$W/d3.err" "$rc" 2 "doctor --bogus"
echo "doctor: bad profile, missing CPUs and bad usage fail as they should"

# ---- hugepages ----------------------------------------------------------------------
snapshot() { cat /sys/kernel/mm/hugepages/*/nr_hugepages 2>/dev/null | tr '\n' ' '; grep -c hugetlbfs /proc/mounts || true; }
before=$(snapshot)
"$S/hugepages" show >"$W/hp.show" || fail "hugepages show: exit $?"
head -n 1 "$W/hp.show" | grep -q '^size *node *pages *free *used' || fail "hugepages show: no header: $(head -n 1 "$W/hp.show")"
grep -q '^default page size: ' "$W/hp.show" || fail "hugepages show: no default page size line"
"$S/hugepages" reserve --mem 64G --dry-run >"$W/hp.res" || fail "hugepages reserve --dry-run: exit $?"
grep -q '^would run: dpdk-hugepages.py --pagesize 2M --reserve 67108864K' "$W/hp.res" ||
	fail "hugepages reserve --mem 64G --dry-run planned: $(head -n 2 "$W/hp.res")"
"$S/hugepages" release --dry-run >/dev/null || fail "hugepages release --dry-run: exit $?"
[ "$(snapshot)" = "$before" ] || fail "a --dry-run changed the hugepages: $before -> $(snapshot)"

# Spreading over nodes, on a fake sysfs with two nodes: node 0 already holds 300 pages.
F=$W/sys
for n in 0 1; do
	for kb in 2048 1048576; do
		mkdir -p "$F/devices/system/node/node$n/hugepages/hugepages-${kb}kB" "$F/kernel/mm/hugepages/hugepages-${kb}kB"
		echo 0 >"$F/devices/system/node/node$n/hugepages/hugepages-${kb}kB/nr_hugepages"
	done
done
echo 0-1 >"$F/devices/system/node/has_memory"
echo 300 >"$F/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
: >"$W/mounts"
fake() { ASTER_SYSFS=$F ASTER_MOUNTS=$W/mounts "$S/hugepages" "$@"; }
fake reserve --mem 1G --dry-run >"$W/spread"
grep -q '^hugepages: node 0: 300 x 2M reserved (asked 256): kept' "$W/spread" || fail "spread: node 0 not kept: $(cat "$W/spread")"
grep -q '^would run: dpdk-hugepages.py --pagesize 2M --reserve 524288K --node 1$' "$W/spread" || fail "spread: node 1 not given 256 pages: $(cat "$W/spread")"
grep -q -- '--mount --directory /dev/hugepages' "$W/spread" || fail "spread: no mount planned"
fake reserve --size 1G --pages 3 --node 1 --dry-run >"$W/one"
[ "$(grep -c 'reserve' "$W/one")" = 1 ] && grep -q -- '--pagesize 1G --reserve 3145728K --node 1$' "$W/one" ||
	fail "--node 1 --size 1G: $(cat "$W/one")"
rc=0
fake reserve --node 7 --dry-run >"$W/n7.out" 2>"$W/n7.err" || rc=$?
one_line_error "$W/n7.out" "$W/n7.err" "$rc" 2 "hugepages --node 7"
rc=0
"$S/hugepages" reserve --size 3M --dry-run >"$W/s3.out" 2>"$W/s3.err" || rc=$?
one_line_error "$W/s3.out" "$W/s3.err" "$rc" 2 "hugepages --size 3M"
echo "hugepages: show, dry-run plans (spread over 2 fake nodes, one node, 1G) and bad usage as expected"

# persist: printed, dry-run, then applied twice under a fake root (second time: nothing).
"$S/hugepages" persist --pages 512 --dry-run >"$W/persist" || fail "persist --dry-run: exit $?"
grep -qx 'vm.nr_hugepages = 512' "$W/persist" && grep -qx 'nodev /dev/hugepages hugetlbfs pagesize=2M 0 0' "$W/persist" ||
	fail "persist --dry-run printed: $(cat "$W/persist")"
# 1G pages need the CPU's pdpe1gb flag (the running kernel need not offer them yet).
rc=0
"$S/hugepages" persist --size 1G --pages 4 --dry-run >"$W/persist1g" 2>"$W/persist1g.err" || rc=$?
if grep -qw pdpe1gb /proc/cpuinfo; then
	[ "$rc" = 0 ] || fail "persist --size 1G: exit $rc: $(cat "$W/persist1g.err")"
	grep -qx 'default_hugepagesz=1G hugepagesz=1G hugepages=4' "$W/persist1g" || fail "persist --size 1G: no kernel command line: $(cat "$W/persist1g")"
else
	one_line_error "$W/persist1g" "$W/persist1g.err" "$rc" 2 "persist --size 1G without pdpe1gb"
	grep -qF pdpe1gb "$W/persist1g.err" || fail "persist --size 1G: $(cat "$W/persist1g.err")"
fi
R=$W/root
mkdir -p "$R/etc"
printf 'UUID=1 / ext4 defaults 0 1\nnodev /dev/hugepages hugetlbfs defaults 0 0\n' >"$R/etc/fstab"
"$S/hugepages" persist --pages 512 --apply --dry-run --root "$R" >/dev/null
[ ! -e "$R/etc/sysctl.d" ] && [ "$(wc -l <"$R/etc/fstab")" = 2 ] || fail "persist --apply --dry-run wrote files"
"$S/hugepages" persist --pages 512 --group aster --apply --root "$R" >"$W/p1"
"$S/hugepages" persist --pages 512 --group aster --apply --root "$R" >"$W/p2"
grep -qx 'vm.nr_hugepages = 512' "$R/etc/sysctl.d/80-aster-hugepages.conf" || fail "persist --apply: no sysctl.d file"
[ "$(grep -c hugetlbfs "$R/etc/fstab")" = 1 ] && grep -qx 'nodev /dev/hugepages hugetlbfs pagesize=2M,gid=aster,mode=1770 0 0' "$R/etc/fstab" &&
	grep -q '^UUID=1 ' "$R/etc/fstab" || fail "persist --apply: fstab is now: $(cat "$R/etc/fstab")"
[ "$(grep -vc '^unchanged: ' "$W/p2")" = 0 ] || fail "persist --apply is not idempotent: $(cat "$W/p2")"
echo "hugepages persist: printed, dry-run writes nothing, --apply replaces the fstab line once and then changes nothing"

# ---- nic-bind -----------------------------------------------------------------------
"$S/nic-bind" status >"$W/nic.status" || fail "nic-bind status: exit $?"
head -n 1 "$W/nic.status" | grep -q '^PCI ' || fail "nic-bind status: no header"
for dev in 0000:7f:1f.7 nosuchnic0; do
	rc=0
	"$S/nic-bind" bind "$dev" --dry-run >"$W/nb.out" 2>"$W/nb.err" || rc=$?
	one_line_error "$W/nb.out" "$W/nb.err" "$rc" 1 "nic-bind bind $dev"
	grep -q "no .*$dev" "$W/nb.err" || fail "nic-bind bind $dev: $(cat "$W/nb.err")"
done
rc=0
"$S/nic-bind" unbind 0000:7f:1f.7 >"$W/nb.out" 2>"$W/nb.err" || rc=$?
one_line_error "$W/nb.out" "$W/nb.err" "$rc" 2 "nic-bind unbind without --driver"
# A PCI NIC that carries a route (the management interface) must be refused without
# --force. Only a --dry-run, and only where such a NIC exists.
routed=""
for d in /sys/class/net/*; do
	[[ "$(readlink -f "$d/device" 2>/dev/null)" == /sys/devices/pci* ]] || continue
	[ -n "$(ip -j route show dev "${d##*/}" 2>/dev/null | tr -d '[]')" ] && routed=${d##*/} && break
done
if [ -n "$routed" ]; then
	rc=0
	"$S/nic-bind" bind "$routed" --dry-run >"$W/nb.out" 2>"$W/nb.err" || rc=$?
	one_line_error "$W/nb.out" "$W/nb.err" "$rc" 1 "nic-bind bind $routed (routed)"
	grep -q "^nic-bind: refusing .*route" "$W/nb.err" || fail "nic-bind bind $routed: $(cat "$W/nb.err")"
	echo "nic-bind: refused routed $routed: $(cut -c1-80 "$W/nb.err")..."
else
	echo "nic-bind: no routed PCI NIC here, refusal not exercised"
fi
echo "nic-bind: status works, missing devices and bad usage fail with one line"

# ---- install-services ---------------------------------------------------------------
# everything a real install would touch outside $W, with its change time
installed_state() {
	stat -c '%n %Z' /etc/aster /etc/aster/* /etc/systemd/system/aster-* /etc/systemd/system/aster-*/* \
		/etc/udev/rules.d/60-aster-vfio.rules /usr/local/bin/aster* /usr/local/share/aster 2>/dev/null || true
	getent passwd aster || true
	getent group aster || true
}
before=$(installed_state)
"$S/install-services" --dry-run --prefix "$W/prefix" >"$W/inst.dry" 2>&1 || fail "install-services --dry-run: exit $?: $(tail -n 1 "$W/inst.dry")"
[ ! -e "$W/prefix" ] || fail "install-services --dry-run created $W/prefix"
[ "$(installed_state)" = "$before" ] || fail "install-services --dry-run changed: $(diff <(echo "$before") <(installed_state) | head -n 3 | tr '\n' ' ')"
for want in "/etc/systemd/system/aster-dataplane.service" "/etc/systemd/system/aster-control.service" \
	"$W/prefix/share/aster/scripts/doctor" "aster-dataplane.service.d/10-cpu.conf"; do
	grep -q "^would .*$want" "$W/inst.dry" || grep -q "^install-services: unchanged .*$want" "$W/inst.dry" ||
		fail "install-services --dry-run does not mention $want"
done
# A real install under --destdir, with stand-in binaries: then again, which changes nothing
# and keeps the operator's profile.
B=$W/fakebuild
mkdir -p "$B/dataplane" "$B/control"
for b in dataplane/aster-dataplane control/aster-control control/asterctl; do
	printf '#!/bin/sh\nexit 0\n' >"$B/$b"
	chmod +x "$B/$b"
done
D=$W/dest
"$S/install-services" --destdir "$D" --prefix /opt/aster --build "$B" >"$W/inst1" 2>&1 || fail "install-services --destdir: $(tail -n 1 "$W/inst1")"
for f in opt/aster/bin/aster-dataplane opt/aster/bin/aster-control opt/aster/bin/asterctl \
	opt/aster/share/aster/scripts/doctor opt/aster/share/aster/scripts/lib.sh etc/aster/pmd.yaml \
	etc/aster/control.yaml etc/systemd/system/aster-dataplane.service etc/systemd/system/aster-control.service \
	etc/systemd/system/aster-dataplane.service.d/10-cpu.conf; do
	[ -e "$D/$f" ] || fail "install-services --destdir: $f not installed"
done
grep -q '^ExecStart=/opt/aster/bin/aster-dataplane --profile /etc/aster/pmd.yaml ' "$D/etc/systemd/system/aster-dataplane.service" ||
	fail "installed dataplane unit: $(grep ExecStart "$D/etc/systemd/system/aster-dataplane.service")"
grep -qx 'CPUAffinity=0 1' "$D/etc/systemd/system/aster-dataplane.service.d/10-cpu.conf" || fail "CPUAffinity drop-in: $(cat "$D/etc/systemd/system/aster-dataplane.service.d/10-cpu.conf")"
"$D/opt/aster/share/aster/scripts/doctor" --profile "$D/etc/aster/pmd.yaml" >/dev/null || [ $? = 1 ] || fail "installed doctor does not run"
echo "# edited by the operator" >>"$D/etc/aster/pmd.yaml"
"$S/install-services" --destdir "$D" --prefix /opt/aster --build "$B" >"$W/inst2" 2>&1 || fail "install-services again: $(tail -n 1 "$W/inst2")"
! grep -q '^+ ' "$W/inst2" || fail "install-services is not idempotent: $(grep -m1 '^+ ' "$W/inst2")"
tail -n 1 "$D/etc/aster/pmd.yaml" | grep -q 'edited by the operator' || fail "install-services overwrote /etc/aster/pmd.yaml"
echo "install-services: dry-run changes nothing; --destdir installs $(grep -c '^+ ' "$W/inst1") items once, keeps edited settings"

# ---- systemd units ------------------------------------------------------------------
"$PY" - "$ROOT/scripts/systemd" <<'PY' || exit 1
import sys
def parse(path):
    units, sec = {}, None
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            sec = units.setdefault(line[1:-1], {})
            continue
        if sec is None or "=" not in line:
            sys.exit("FAIL test_tooling: %s:%d: not 'key=value' in a section" % (path, n))
        k, v = line.split("=", 1)
        sec.setdefault(k.strip(), []).append(v.strip())
    return units
def need(u, name, sec, key, want=None, contains=()):
    vals = u.get(sec, {}).get(key)
    if not vals:
        sys.exit("FAIL test_tooling: %s: [%s] %s= missing" % (name, sec, key))
    v = " ".join(vals)
    if want is not None and v != want:
        sys.exit("FAIL test_tooling: %s: %s=%s, want %s" % (name, key, v, want))
    for c in contains:
        if c not in v.split():
            sys.exit("FAIL test_tooling: %s: %s=%s lacks %s" % (name, key, v, c))
d = sys.argv[1]
dp = parse(d + "/aster-dataplane.service")
n = "aster-dataplane.service"
need(dp, n, "Service", "Type", "simple")
need(dp, n, "Service", "ExecStart", contains=("/usr/local/bin/aster-dataplane", "--profile", "/etc/aster/pmd.yaml",
     "--ctl-socket", "/run/aster/dataplane.sock", "--health-file", "/run/aster/dataplane.health"))
need(dp, n, "Service", "User", "aster")
need(dp, n, "Service", "Group", "aster")
need(dp, n, "Service", "RuntimeDirectory", "aster")
need(dp, n, "Service", "RuntimeDirectoryMode", "0750")
need(dp, n, "Service", "LimitMEMLOCK", "infinity")
need(dp, n, "Service", "AmbientCapabilities", contains=("CAP_IPC_LOCK", "CAP_NET_ADMIN", "CAP_NET_RAW"))
need(dp, n, "Service", "Restart", "on-failure")
need(dp, n, "Service", "RestartSec")
need(dp, n, "Unit", "StartLimitIntervalSec")
need(dp, n, "Unit", "StartLimitBurst")
need(dp, n, "Unit", "After", contains=("network-online.target",))
need(dp, n, "Install", "WantedBy", "multi-user.target")
for k in ("Requires", "BindsTo", "PartOf", "Requisite"):
    if any("aster-control" in v for v in dp["Unit"].get(k, [])):
        sys.exit("FAIL test_tooling: dataplane unit %s= aster-control" % k)
cp = parse(d + "/aster-control.service")
n = "aster-control.service"
need(cp, n, "Unit", "After", contains=("aster-dataplane.service",))
need(cp, n, "Unit", "Wants", contains=("aster-dataplane.service",))
for k in ("Requires", "BindsTo", "PartOf", "Requisite"):
    if any("aster-dataplane" in v for v in cp["Unit"].get(k, [])):
        sys.exit("FAIL test_tooling: control unit %s= aster-dataplane: a dataplane restart would stop control" % k)
need(cp, n, "Service", "Restart", "always")
need(cp, n, "Service", "StateDirectory", "aster")
need(cp, n, "Service", "User", "aster")
need(cp, n, "Service", "ExecStart", contains=("/usr/local/bin/aster-control", "--settings", "/etc/aster/control.yaml"))
# Both share /run/aster: neither may delete it when it stops.
for u, name in ((dp, "aster-dataplane"), (cp, "aster-control")):
    if u["Service"].get("RuntimeDirectory") and u["Service"].get("RuntimeDirectoryPreserve") != ["yes"]:
        sys.exit("FAIL test_tooling: %s: shared RuntimeDirectory without RuntimeDirectoryPreserve=yes" % name)
print("systemd units: required keys present, no hard dependency between the two")
PY
# aster-control's defaults name the files the dataplane's unit (and its own defaults,
# dataplane/main.c) use: an operator who sets neither gets two daemons that find each other.
printf 'db: %s\n' "$W/defaults.db" >"$W/defaults.yaml"
"$BUILD/control/aster-control" --settings "$W/defaults.yaml" --check >"$W/defaults.out" 2>&1 ||
	fail "aster-control --check: $(tail -n 1 "$W/defaults.out")"
"$PY" - "$W/defaults.out" "$ROOT/scripts/systemd/aster-dataplane.service" <<'PY' || exit 1
import re, sys
got = dict(re.findall(r"^  (health_file|dataplane_socket): (\S+)$", open(sys.argv[1]).read(), re.M))
unit = open(sys.argv[2]).read()
want = {"health_file": re.search(r"--health-file (\S+)", unit).group(1),
        "dataplane_socket": re.search(r"--ctl-socket (\S+)", unit).group(1)}
if got != want:
    sys.exit("FAIL test_tooling: aster-control defaults %s, the dataplane uses %s" % (got, want))
print("aster-control's default health_file and dataplane_socket are the dataplane's:", got)
PY
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$W/units"
	for u in aster-dataplane aster-control; do
		sed 's#^ExecStart=/usr/local/bin/[^ ]*#ExecStart=/bin/true#' "$ROOT/scripts/systemd/$u.service" >"$W/units/$u.service"
	done
	(cd "$W/units" && systemd-analyze verify aster-dataplane.service aster-control.service) >"$W/verify" 2>&1 ||
		fail "systemd-analyze verify: $(head -n 2 "$W/verify" | tr '\n' ' ')"
	echo "systemd-analyze verify: both units OK"
fi

# ---- shellcheck ---------------------------------------------------------------------
if command -v shellcheck >/dev/null 2>&1; then
	(cd "$ROOT" && shellcheck -x -S warning scripts/doctor scripts/hugepages scripts/nic-bind scripts/install-services) >"$W/sc" 2>&1 ||
		fail "shellcheck: $(grep -m1 -E '^In ' "$W/sc")"
	echo "shellcheck: clean"
fi
echo "PASS $TEST_NAME"
