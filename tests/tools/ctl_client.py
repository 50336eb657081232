#!/usr/bin/python3
"""Talk to a live aster-dataplane over its control socket (common/ctl_proto.h), written
independently of the C code from the wire format's description.

    ctl_client.py SOCKET hello
    ctl_client.py SOCKET apply VERSION ROUTING.yaml [--dry-run]
    ctl_client.py SOCKET status [--out FILE]
    ctl_client.py SOCKET delta BASE VERSION OPS.json [--dry-run]
    ctl_client.py SOCKET raw-version N        (send a HELLO claiming protocol N)

OPS.json is a list of operations, each {"kind": "pattern+" | "pattern-" | "sub+" |
"sub-" | "sub~", "sub": NAME, "pos": N, "pattern": P, "text": MAPPING} (docs/control.md).

Prints one JSON object per reply; exit 0 when the dataplane accepted the request.
"""
import json
import socket
import struct
import sys

MAGIC = 0x52545341
PROTO = 3
HELLO, HELLO_REPLY, APPLY, APPLY_REPLY, STATUS, STATUS_REPLY, ERROR, DELTA = range(1, 9)
KINDS = {"sub+": 1, "sub-": 2, "sub~": 3, "pattern+": 4, "pattern-": 5}
HDR = struct.Struct("<IHHII")


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(path)
        self.seq = 0

    def send(self, mtype, payload, version=PROTO):
        self.seq += 1
        try:
            self.s.sendall(HDR.pack(MAGIC, version, mtype, self.seq, len(payload)) + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read anything: its ERROR is still there to read
        return self.seq

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("dataplane closed the connection")
            buf += chunk
        return buf

    def recv(self, want_seq):
        magic, version, mtype, seq, n = HDR.unpack(self.recv_exact(HDR.size))
        if magic != MAGIC:
            raise ValueError("bad magic %#x" % magic)
        # an ERROR may come before any request was read (a peer refused at accept: seq 0)
        if seq != want_seq and not (mtype == ERROR and seq == 0):
            raise ValueError("reply seq %d, request %d" % (seq, want_seq))
        return mtype, self.recv_exact(n)

    def hello(self, proto=PROTO):
        seq = self.send(HELLO, struct.pack("<II32s", proto, 0, b"ctl_client.py"), proto)
        mtype, p = self.recv(seq)
        if mtype == ERROR:
            status, tl = struct.unpack_from("<iI", p)
            return {"error": status, "text": p[8:8 + tl].decode()}
        pv, pid, boot, tver, started, digest, tl, _ = struct.unpack_from("<IIQQQQII", p)
        limits = json.loads(p[48:48 + tl]) if tl else None
        return {"proto_version": pv, "pid": pid, "boot_id": boot, "table_version": tver,
                "started_ns": started, "table_digest": digest, "limits": limits}

    def apply(self, version, text, dry_run=False):
        body = text.encode()
        seq = self.send(APPLY, struct.pack("<QII", version, 1 if dry_run else 0, len(body)) + body)
        mtype, p = self.recv(seq)
        if mtype == ERROR:
            status, tl = struct.unpack_from("<iI", p)
            return {"status": status, "error": p[8:8 + tl].decode()}
        status, tl, tver, build_ns, publish_ns = struct.unpack_from("<iIQQQ", p)
        return {"status": status, "table_version": tver, "build_ns": build_ns,
                "publish_ns": publish_ns, "error": p[32:32 + tl].decode()}

    def delta(self, base, version, ops, dry_run=False):
        rec = b""
        for op in ops:
            sub = op["sub"].encode()
            pat = op.get("pattern", "").encode()
            text = op.get("text", "").encode()
            rec += struct.pack("<IIIII", KINDS[op["kind"]], op.get("pos", 0), len(sub),
                               len(pat), len(text)) + sub + pat + text
        # table_digest 0: not said (this client does not render the table it makes)
        seq = self.send(DELTA, struct.pack("<QQQIIII", base, version, 0, 1 if dry_run else 0,
                                           len(ops), len(rec), 0) + rec)
        mtype, p = self.recv(seq)
        if mtype == ERROR:
            status, tl = struct.unpack_from("<iI", p)
            return {"status": status, "error": p[8:8 + tl].decode()}
        status, tl, tver, build_ns, publish_ns = struct.unpack_from("<iIQQQ", p)
        return {"status": status, "table_version": tver, "build_ns": build_ns,
                "publish_ns": publish_ns, "error": p[32:32 + tl].decode()}

    def status(self):
        seq = self.send(STATUS, b"")
        mtype, p = self.recv(seq)
        tver, boot, tl, _, digest = struct.unpack_from("<QQIIQ", p)
        return json.loads(p[32:32 + tl])


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    c = Conn(argv[0])
    cmd = argv[1]
    if cmd == "raw-version":
        r = c.hello(int(argv[2]))
        print(json.dumps(r))
        return 0 if "error" not in r else 1
    h = c.hello()
    if "error" in h:
        print(json.dumps(h))
        return 1
    if cmd == "hello":
        print(json.dumps(h))
        return 0
    if cmd == "apply":
        with open(argv[3]) as f:
            r = c.apply(int(argv[2]), f.read(), "--dry-run" in argv)
        print(json.dumps(r))
        return 0 if r["status"] == 0 else 1
    if cmd == "delta":
        with open(argv[4]) as f:
            r = c.delta(int(argv[2]), int(argv[3]), json.load(f), "--dry-run" in argv)
        print(json.dumps(r))
        return 0 if r["status"] == 0 else 1
    if cmd == "status":
        st = c.status()
        if "--out" in argv:
            with open(argv[argv.index("--out") + 1], "w") as f:
                json.dump(st, f)
        else:
            print(json.dumps(st))
        return 0
    sys.exit("ctl_client.py: unknown command %r" % cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
