#!/usr/bin/env python3
"""eth2raw.py - convert an Ethernet pcap (link type 1) to a raw-IP pcap
(LINKTYPE_RAW, 101): what a TUN device (IFF_TUN|IFF_NO_PI) would have seen.

    eth2raw.py IN.pcap OUT.pcap

- Classic pcap only (either byte order, microsecond or nanosecond magic; the
  output keeps the input's byte order and time resolution).
- 802.1Q / 802.1ad tags are skipped; IPv4 (0x0800) and IPv6 (0x86dd) frames
  are kept without their Ethernet header; everything else (ARP, ...) is
  dropped.  Ethernet padding beyond the IP datagram's own length is trimmed.
- Prints one summary line: frames read, written, dropped (non-IP), trimmed.
Python 3 standard library only.
"""
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": ">",  # big-endian, microseconds
    b"\x4d\x3c\xb2\xa1": "<",  # little-endian, nanoseconds
    b"\xa1\xb2\x3c\x4d": ">",  # big-endian, nanoseconds
}


def ip_payload(frame):
    """Return (link header length, IP datagram) of an Ethernet frame, or None."""
    off = 12
    while True:
        if len(frame) < off + 2:
            return None
        etype = struct.unpack_from(">H", frame, off)[0]
        if etype in (0x8100, 0x88A8, 0x9100):  # VLAN / QinQ tag
            off += 4
            continue
        break
    hdr = off + 2
    data = frame[hdr:]
    if etype == 0x0800 and len(data) >= 20 and data[0] >> 4 == 4:
        total = struct.unpack_from(">H", data, 2)[0]
        if 20 <= total < len(data):
            data = data[:total]
        return hdr, data
    if etype == 0x86DD and len(data) >= 40 and data[0] >> 4 == 6:
        total = 40 + struct.unpack_from(">H", data, 4)[0]
        if total < len(data):
            data = data[:total]
        return hdr, data
    return None


def convert(src, dst):
    with open(src, "rb") as f:
        buf = f.read()
    if len(buf) < 24 or buf[:4] not in MAGICS:
        raise SystemExit(f"{src}: not a classic pcap file (pcapng is not supported)")
    e = MAGICS[buf[:4]]
    vmaj, vmin, tz, sigfigs, snaplen, linktype = struct.unpack_from(e + "HHiIII", buf, 4)
    if linktype & 0xFFFF != LINKTYPE_ETHERNET:
        raise SystemExit(f"{src}: link type {linktype}, expected Ethernet (1)")
    out = [buf[:4] + struct.pack(e + "HHiIII", vmaj, vmin, tz, sigfigs, snaplen, LINKTYPE_RAW)]
    off = 24
    nread = nwritten = ndropped = ntrimmed = 0
    while off + 16 <= len(buf):
        ts_sec, ts_frac, incl, orig = struct.unpack_from(e + "IIII", buf, off)
        off += 16
        frame = buf[off:off + incl]
        off += incl
        if len(frame) < incl:
            raise SystemExit(f"{src}: truncated packet record {nread + 1}")
        nread += 1
        r = ip_payload(frame)
        if r is None:
            ndropped += 1
            continue
        hdr, data = r
        if hdr + len(data) < len(frame):
            ntrimmed += 1  # Ethernet padding removed
        # a snaplen-cut frame keeps its original length minus the link header
        new_orig = len(data) if incl == orig else orig - hdr
        out.append(struct.pack(e + "IIII", ts_sec, ts_frac, len(data), new_orig) + data)
        nwritten += 1
    if off != len(buf):
        raise SystemExit(f"{src}: {len(buf) - off} trailing bytes")
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    print(f"eth2raw: {src}: read {nread}, wrote {nwritten}, dropped {ndropped} non-IP, "
          f"trimmed {ntrimmed}")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    convert(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
