#!/bin/bash
# aster-control's event loop against hostile peers on the real asterctl socket (Python
# clients, docs/control.md "Security model"):
#  - a connection that sends nothing, or one byte at a time and never a whole request,
#    is closed after client_idle_ms;
#  - a client that floods requests whose replies it never reads gets no more requests
#    served past SERVER_OUT_HIGH of queued replies and is cut off; aster-control's memory
#    stays bounded and another client is answered meanwhile;
#  - with all 64 slots taken, the one refused is told "too many clients" in one line;
#  - a caller who may not write cannot send more than a small request;
#  - permission lookups are cached (the group database is opened once, not per request)
#    and refused requests cost no fdatasync each: counted with strace; every refusal is
#    still in the audit log, one by one or counted in a "repeated" line.
set -euo pipefail
NEED_REPLAY=0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"

ASTERCTL="$BUILD/control/asterctl"
SOCK="$W/sock/asterctl.sock"
SPID=""
stop_all() {
	[ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true
	[ -z "$SPID" ] || wait "$SPID" 2>/dev/null || true
	SPID=""
	control_stop
}
trap 'stop_all; chmod -R u+rwX "$W" 2>/dev/null; rm -rf "$W"' EXIT
command -v strace >/dev/null || fail "strace not installed (scripts/bootstrap)"

cat >"$W/settings.yaml" <<YAML
db: $W/control.db
socket_dir: $W/sock
socket_group: nogroup
dataplane_socket: $W/dp.sock
health_file: $W/dp.health
audit_log: $W/audit.log
http_port: 0
client_idle_ms: 1000
read_groups: [adm]
write_groups: [adm]
max_subscribers: 4096
YAML
control_start "$W/settings.yaml"
# A table whose `get subscribers` reply is ~100 KB: a few unread replies pass 1 MiB.
gen feed --messages 100 --symbols 400 --subscribers 300 --seed 3
"$ASTERCTL" --socket "$SOCK" apply -f "$W/feed/routing.yaml" >"$W/apply.out" 2>&1 ||
	fail "apply: $(tail -n 1 "$W/apply.out")"

cat >"$W/peers.py" <<'PY'
import json, os, socket, subprocess, sys, threading, time
sock, ctl, cpid, case = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def fail(msg):
    sys.exit("FAIL test_control_hostile: %s: %s" % (case, msg))

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    return s

def closed_within(s, seconds):
    """Read and drop whatever comes until EOF; the time EOF came, or None."""
    s.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if s.recv(1 << 20) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None

def rss_kb(field):
    for line in open("/proc/%d/status" % cpid):
        if line.startswith(field):
            return int(line.split()[1])

def status_answers():
    r = subprocess.run([ctl, "--socket", sock, "status", "-o", "json"], capture_output=True,
                       text=True, timeout=10)
    return r.returncode == 0 and json.loads(r.stdout)["version"] == 1

if case == "idle":
    t = closed_within(conn(), 8)
    if t is None:
        fail("an idle connection is still open after 8 s (client_idle_ms 1000)")
    print("idle connection closed after %.1f s" % t)
elif case == "trickle":
    s, t0, sent = conn(), time.monotonic(), 0
    try:
        while time.monotonic() - t0 < 8:
            s.send(b'{"cmd": "status"   '[sent % 19:sent % 19 + 1])
            sent += 1
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        print("trickling client (one byte every 100 ms, no newline) cut off after %.1f s, %d bytes"
              % (time.monotonic() - t0, sent))
    else:
        fail("a client trickling bytes without a newline still connected after 8 s")
elif case == "flood":
    line = b'{"cmd": "get", "what": "subscribers"}\n'
    s = conn()
    s.setblocking(False)
    hwm0, sent, t0 = rss_kb("VmHWM"), 0, time.monotonic()
    while time.monotonic() - t0 < 2:
        try:
            sent += s.send(line * 64)
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break
    # While it stalls with its replies unread, the loop serves others.
    if not status_answers():
        fail("asterctl status not answered while a client floods without reading")
    t = closed_within(s, 10)
    if t is None:
        fail("a client that never reads its replies is still connected 10 s later")
    hwm = rss_kb("VmHWM")
    if hwm - hwm0 > 64 * 1024:
        fail("aster-control grew from %d to %d KB for one client that never reads" % (hwm0, hwm))
    print("flooding client: %d requests sent in 2 s, replies unread; cut off %.1f s later; "
          "aster-control peak %d -> %d KB; status answered meanwhile" % (sent // len(line), t, hwm0, hwm))
elif case == "slots":
    held = [conn() for _ in range(64)]
    time.sleep(0.2)
    extra = conn()
    extra.settimeout(5)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = extra.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError) as e:
        fail("the 65th connection got no reply: %r" % e)
    if data.count(b"\n") != 1:
        fail("the 65th connection got %r, want one line" % data)
    r = json.loads(data)
    if r.get("ok") is not False or "too many clients" not in r.get("error", ""):
        fail("the 65th connection was told %r" % r)
    for s in held:
        if closed_within(s, 8) is None:
            fail("a held idle connection was not closed")
    if not status_answers():
        fail("not answered once the idle connections were closed")
    print("65th connection told: %s" % r["error"])
elif case == "reader_line":
    # run as a caller on no allow-list: a request past 64 KiB is not read in full
    s = conn()
    try:
        s.sendall(b'{"cmd": "status", "pad": "' + b"x" * 100000 + b'"}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(5)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if b"request longer than 65536 bytes" not in data:
        fail("a 100 KB request of a caller who may not write got %r" % data[:200])
    print("100 KB request of a caller on no allow-list:", json.loads(data.splitlines()[0])["error"])
elif case == "denied":
    # run as a caller on no allow-list: 300 refused changes and 300 refused reads
    s = conn()
    f = s.makefile("rb")
    for i in range(300):
        for req in ({"cmd": "add-pattern", "subscriber": "sub0001", "pattern": "^D%d$" % i},
                    {"cmd": "get", "what": "feeds"}):
            s.sendall((json.dumps(req) + "\n").encode())
            r = json.loads(f.readline())
            if r.get("ok") is not False or "permission denied" not in r["error"]:
                fail("request %r: %r" % (req, r))
    print("600 requests refused on one connection")
PY

peer() { # peer CASE: the Python peer as root
	/usr/bin/python3 "$W/peers.py" "$SOCK" "$ASTERCTL" "$CPID" "$1" || exit 1
}
# as_daemon CASE: as uid daemon in group nogroup (reaches the socket, on no allow-list)
as_daemon() {
	setpriv --reuid=daemon --regid=nogroup --clear-groups \
		/usr/bin/python3 "$W/peers.py" "$SOCK" "$ASTERCTL" "$CPID" "$1" || exit 1
}

peer idle
peer trickle
peer flood
peer slots
chmod o+x "$W" # let uid daemon reach $W/sock (not list $W)
as_daemon reader_line

# Permission lookups and refusals under strace: the group database and fdatasync.
strace -f -p "$CPID" -e trace=openat,fdatasync -o "$W/strace.out" 2>"$W/strace.err" &
SPID=$!
for _ in $(seq 50); do
	grep -q 'attached' "$W/strace.err" 2>/dev/null && break
	sleep 0.1
done
sleep 0.3
as_daemon denied
sleep 1.5 # one audit_flush period
kill "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
SPID=""
chmod o-x "$W"
group_opens=$(grep -c '"/etc/group"' "$W/strace.out" || true)
syncs=$(grep -c 'fdatasync(' "$W/strace.out" || true)
[ "$group_opens" -le 2 ] || fail "the group database was opened $group_opens times for 600 requests of one caller"
[ "$syncs" -le 5 ] || fail "$syncs fdatasync calls for 600 refused requests"
/usr/bin/python3 - "$W/audit.log" <<'PY' || exit 1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
mine = [l for l in lines if l.get("uid") == 1]
n = sum(l.get("repeated", 1) for l in mine)
if n != 600 or not all(l["result"].startswith(("denied", "refused")) for l in mine):
    sys.exit("FAIL test_control_hostile: audit: %d refusals of uid 1 recorded, want 600" % n)
print("audit: 600 refusals of uid 1 in %d lines (%d summarised)"
      % (len(mine), sum(l.get("repeated", 0) for l in mine)))
PY
echo "600 refused requests of one caller: /etc/group opened $group_opens times, $syncs fdatasync calls"
"$ASTERCTL" --socket "$SOCK" status >/dev/null || fail "aster-control stopped answering"
kill -0 "$CPID" || fail "aster-control died: $(tail -n 2 "$W/control.log")"
echo "PASS $TEST_NAME"
