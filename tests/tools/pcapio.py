# SPDX-License-Identifier: BSD-3-Clause
"""Tiny classic-pcap reader and writer for the test tools (no dependencies).

Only what aster's tests need: the classic libpcap format in either byte order, with
microsecond or nanosecond timestamps. pcapng is refused with a clear error.
"""

import struct

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}


class PcapError(Exception):
    pass


class Pcap:
    """A whole capture in memory: `frames` is a list of (ts_ns, bytes)."""

    def __init__(self, linktype, nanosecond, frames):
        self.linktype = linktype
        self.nanosecond = nanosecond
        self.frames = frames


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise PcapError("%s: too short for a pcap header" % path)
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        raise PcapError("%s: pcapng is not supported, write classic pcap" % path)
    if magic not in _MAGICS:
        raise PcapError("%s: not a pcap file (magic %s)" % (path, magic.hex()))
    endian, ns = _MAGICS[magic]
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    frac = 1 if ns else 1000
    frames = []
    off, n = 24, len(data)
    while off < n:
        if off + 16 > n:
            raise PcapError("%s: truncated record header at byte %d" % (path, off))
        sec, sub, incl, _orig = rec.unpack_from(data, off)
        off += 16
        if off + incl > n:
            raise PcapError("%s: truncated record at byte %d" % (path, off))
        frames.append((sec * 1000000000 + sub * frac, data[off:off + incl]))
        off += incl
    return Pcap(linktype, ns, frames)


def write(path, frames, linktype=LINKTYPE_ETHERNET, nanosecond=False):
    """frames: iterable of (ts_ns, bytes)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D if nanosecond else 0xA1B2C3D4, 2, 4,
                            0, 0, 65535, linktype))
        for ts, fr in frames:
            sub = ts % 1000000000
            if not nanosecond:
                sub //= 1000
            f.write(struct.pack("<IIII", ts // 1000000000, sub, len(fr), len(fr)))
            f.write(fr)
