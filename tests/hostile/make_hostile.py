#!/usr/bin/env python3
"""make_hostile.py SRC.pcap OUTDIR - damaged and hostile captures for tests/test_hostile.sh.

Reads one real classic-pcap capture and writes, into OUTDIR, one file per case
(the case table with expected outcomes lives in tests/test_hostile.sh). For
every case damaged mid-file it also writes NAME.prefix.pcap: a clean pcap
holding exactly the records before the damage, so the test can check that
tunneltap reports the same flows for the damaged file as for that prefix.
Python 3 standard library only; deterministic (fixed seeds).
"""
import os
import random
import struct
import sys


def read_pcap(path):
    b = open(path, 'rb').read()
    if b[:4] != b'\xd4\xc3\xb2\xa1':
        sys.exit('make_hostile: %s: want a little-endian microsecond pcap' % path)
    _, _, _, _, _, snap, link = struct.unpack('<IHHiIII', b[:24])
    pkts, off = [], 24
    while off + 16 <= len(b):
        s, u, cl, wl = struct.unpack('<IIII', b[off:off + 16])
        pkts.append([s, u, b[off + 16:off + 16 + cl], wl])
        off += 16 + cl
    return snap, link, pkts


def ghdr(link, snap=262144, magic=0xa1b2c3d4, major=2, minor=4, e='<'):
    return struct.pack(e + 'IHHiIII', magic, major, minor, 0, 0, snap, link)


def rec(s, u, data, wl=None, cl=None, e='<'):
    return struct.pack(e + 'IIII', s & 0xffffffff, u & 0xffffffff,
                       len(data) if cl is None else cl,
                       len(data) if wl is None else wl) + data


def pcap(link, pkts, **kw):
    return ghdr(link, **kw) + b''.join(rec(*p) for p in pkts)


# ---- pcapng ---------------------------------------------------------------

def pad4(b):
    return b + b'\0' * (-len(b) % 4)


def block(t, body, e='<', total=None, trailer=None):
    body = pad4(body)
    n = len(body) + 12
    return struct.pack(e + 'II', t, n if total is None else total) + body + \
        struct.pack(e + 'I', n if trailer is None else trailer)


def shb(e='<', bom=0x1A2B3C4D, major=1):
    return block(0x0A0D0D0A, struct.pack(e + 'IHHq', bom, major, 0, -1), e)


def idb(link, e='<', tsresol=6, tsoffset=None):
    opts = struct.pack(e + 'HHB', 9, 1, tsresol) + b'\0\0\0'
    if tsoffset is not None:
        opts += struct.pack(e + 'HHq', 14, 8, tsoffset)
    opts += struct.pack(e + 'HH', 0, 0)
    return block(1, struct.pack(e + 'HHI', link, 0, 262144) + opts, e)


def epb(p, iface=0, e='<', ts_us=None, cl=None, **kw):
    s, u, data, wl = p
    ts = s * 1000000 + u if ts_us is None else ts_us
    body = struct.pack(e + 'IIIII', iface, ts >> 32, ts & 0xffffffff,
                       len(data) if cl is None else cl, wl) + pad4(data)
    return block(6, body, e, **kw)


def spb(p, e='<'):
    return block(3, struct.pack(e + 'I', p[3]) + pad4(p[2]), e)


def pcapng(link, pkts, e='<'):
    return shb(e) + idb(link, e) + b''.join(epb(p, e=e) for p in pkts)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    snap, link, P = read_pcap(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    k = len(P) // 2  # damage lands after this many good records
    rnd = random.Random(7)

    def put(name, data, prefix=None):
        open(os.path.join(out, name), 'wb').write(data)
        if prefix is not None:
            open(os.path.join(out, name + '.prefix.pcap'), 'wb').write(pcap(link, P[:prefix]))

    good = pcap(link, P)
    put('good.pcap', good)

    # -- classic pcap: headers ------------------------------------------------
    put('empty.pcap', b'')
    put('bad_magic.pcap', b'\x00\x01\x02\x03' + good[4:])
    put('text_file.pcap', b'this is not a capture file\n' * 4)
    put('short_global_header.pcap', good[:10])
    put('global_header_only.pcap', good[:24])
    put('version_unknown.pcap', ghdr(link, major=3) + good[24:])
    put('snaplen_zero.pcap', ghdr(link, snap=0) + good[24:])
    put('snaplen_huge.pcap', ghdr(link, snap=0xffffffff) + good[24:])
    put('unknown_linktype.pcap', ghdr(147) + good[24:])
    put('linktype14.pcap', ghdr(14) + good[24:])  # DLT_RAW of OpenBSD: decoded, not filterable
    put('linktype_high_bits.pcap', ghdr(link | 0x0fff0000) + good[24:])

    # -- classic pcap: records cut or lying about their length ---------------
    head = pcap(link, P[:k])
    nxt = rec(*P[k])
    put('truncated_record_header.pcap', head + nxt[:9], prefix=k)
    put('truncated_record_data.pcap', head + nxt[:16 + len(P[k][2]) // 2], prefix=k)
    put('trailing_garbage.pcap', good + b'\x01\x02\x03\x04\x05\x06\x07', prefix=len(P))
    put('caplen_huge.pcap', head + rec(P[k][0], P[k][1], P[k][2], cl=0x7fffffff) +
        b''.join(rec(*p) for p in P[k + 1:]), prefix=k)
    put('caplen_over_max.pcap', head + rec(P[k][0], P[k][1], b'\0' * 64, cl=262145) +
        b'\0' * 4096, prefix=k)
    put('caplen_zero_length_huge.pcap', head + rec(P[k][0], P[k][1], b'', cl=0xffffffff), prefix=k)
    small = ghdr(link, snap=64) + b''.join(rec(*p) for p in P)
    put('caplen_over_snaplen.pcap', small)
    put('caplen_over_wirelen.pcap', pcap(link, [[s, u, d, max(1, len(d) // 2)] for s, u, d, w in P]))
    put('wirelen_huge.pcap', pcap(link, [[s, u, d, 0xffffffff] for s, u, d, w in P]))
    zl = []
    for i, p in enumerate(P):
        zl.append(p)
        if i % 5 == 0:
            zl.append([p[0], p[1], b'', 0])
            zl.append([p[0], p[1], b'', 60])
    put('zero_length_records.pcap', pcap(link, zl))
    put('only_zero_length_records.pcap', pcap(link, [[p[0], p[1], b'', 0] for p in P[:50]]))

    # -- classic pcap: timestamps --------------------------------------------
    bw = [list(p) for p in P]
    for i in range(k, min(k + 20, len(bw))):
        bw[i][0] -= 3600  # an hour back, then forward again
    put('backwards_timestamps.pcap', pcap(link, bw))
    # seconds >= 2^31 (2038..2106): libpcap sign-extends them to negative times
    span = P[-1][0] - P[0][0]
    put('negative_timestamps.pcap', pcap(link, [[0xfffffffe - span + (p[0] - P[0][0]), p[1], p[2],
                                                 p[3]] for p in P]))
    put('future_timestamps.pcap', pcap(link, [[0x7fffff00 + (p[0] - P[0][0]), p[1], p[2], p[3]]
                                             for p in P]))
    put('usec_overflow.pcap', pcap(link, [[p[0], 0xffffffff - i, p[2], p[3]]
                                         for i, p in enumerate(P)]))
    put('all_timestamps_zero.pcap', pcap(link, [[0, 0, p[2], p[3]] for p in P]))

    # -- classic pcap: other encodings of the same packets -------------------
    put('big_endian.pcap', ghdr(link, e='>') + b''.join(rec(*p, e='>') for p in P))
    put('nanosecond.pcap', ghdr(link, magic=0xa1b23c4d) +
        b''.join(rec(p[0], p[1] * 1000, p[2], p[3]) for p in P))

    # -- garbage behind a supported link type ---------------------------------
    def garbage(n, lo=0, hi=1500):
        return [[P[0][0] + i // 10, (i % 10) * 1000, bytes(rnd.getrandbits(8) for _ in range(m)), m]
                for i, m in ((i, rnd.randint(lo, hi)) for i in range(n))]
    put('garbage_raw.pcap', pcap(101, garbage(300)))
    put('garbage_en10mb.pcap', pcap(1, garbage(300)))
    put('garbage_sll2.pcap', pcap(276, garbage(300)))
    put('garbage_null_short.pcap', pcap(0, garbage(300, 0, 24)))
    # valid IPv4 version nibble, everything else random: reaches the deeper decoders
    ip4 = [[s, u, bytes([0x45]) + d[1:], w] for s, u, d, w in garbage(300, 20, 200)]
    put('garbage_ipv4_headers.pcap', pcap(228, ip4))

    # -- pcapng ---------------------------------------------------------------
    ng_head = shb() + idb(link) + b''.join(epb(p) for p in P[:k])
    ng_tail = b''.join(epb(p) for p in P[k:])
    put('pcapng_good.pcapng', pcapng(link, P))
    put('pcapng_big_endian.pcapng', pcapng(link, P, e='>'))
    bad = epb(P[k])
    put('pcapng_blocklen_not_mult4.pcapng',
        ng_head + bad[:4] + struct.pack('<I', len(bad) + 2) + bad[8:] + ng_tail, prefix=k)
    put('pcapng_blocklen_lt12.pcapng', ng_head + bad[:4] + struct.pack('<I', 8) + bad[8:] + ng_tail,
        prefix=k)
    put('pcapng_blocklen_past_eof.pcapng', ng_head + bad[:4] + struct.pack('<I', 1 << 20) + bad[8:],
        prefix=k)
    put('pcapng_blocklen_huge.pcapng',
        ng_head + bad[:4] + struct.pack('<I', 0x7ffffffc) + bad[8:] + ng_tail, prefix=k)
    put('pcapng_truncated_mid_block.pcapng', ng_head + bad[:len(bad) // 2], prefix=k)
    put('pcapng_trailer_mismatch.pcapng', ng_head + epb(P[k], trailer=4) +
        b''.join(epb(p) for p in P[k + 1:]), prefix=k)
    unk = block(0x00000BAD, b'unknown block, skip me') + block(0x40000BAD, b'\x01' * 33) + \
        block(0x80000001, struct.pack('<I', 32473) + b'custom')
    put('pcapng_unknown_blocks.pcapng', shb() + unk + idb(link) +
        b''.join(unk + epb(p) if i % 7 == 0 else epb(p) for i, p in enumerate(P)))
    nrb = block(4, struct.pack('<HH', 1, 8) + bytes([10, 77, 1, 2]) + b'h.x\0' +
                struct.pack('<HH', 0, 0))
    isb = block(5, struct.pack('<IIIHH', 0, 0, 0, 0, 0))
    dsb = block(0xA, struct.pack('<II', 0x544c534b, 4) + b'keys')
    put('pcapng_nrb_isb_dsb.pcapng', shb() + idb(link) + nrb +
        b''.join(epb(p) + (isb if i % 50 == 0 else b'') for i, p in enumerate(P)) + dsb + isb)
    put('pcapng_second_idb_other_link.pcapng',
        ng_head + idb(1) + b''.join(epb(p, iface=1) for p in P[k:]), prefix=k)
    put('pcapng_second_idb_same_link.pcapng',
        ng_head + idb(link) + b''.join(epb(p, iface=1) for p in P[k:]), prefix=k)
    put('pcapng_epb_undefined_iface.pcapng', ng_head + epb(P[k], iface=7) + ng_tail, prefix=k)
    put('pcapng_bad_byte_order_magic.pcapng', shb(bom=0x12345678) + idb(link) + ng_tail)
    put('pcapng_version_2.pcapng', shb(major=2) + idb(link) + ng_tail)
    put('pcapng_no_idb.pcapng', shb() + b''.join(epb(p) for p in P))
    put('pcapng_shb_only.pcapng', shb())
    put('pcapng_epb_caplen_over_block.pcapng', ng_head + epb(P[k], cl=60000) + ng_tail, prefix=k)
    put('pcapng_simple_packet_blocks.pcapng', shb() + idb(link) + b''.join(spb(p) for p in P))
    put('pcapng_future_timestamps.pcapng', shb() + idb(link) +
        b''.join(epb(p, ts_us=(1 << 63) + i) for i, p in enumerate(P)))
    put('pcapng_tsresol_extreme.pcapng', shb() + idb(link, tsresol=0x80 | 63) +
        b''.join(epb(p) for p in P))
    every = b''.join(epb(p) for p in P)
    put('pcapng_tsoffset_huge.pcapng', shb() + idb(link, tsoffset=1 << 62) + every)
    put('pcapng_tsoffset_negative.pcapng', shb() + idb(link, tsoffset=-(1 << 40)) + every)
    put('pcapng_new_section_same_link.pcapng', ng_head + shb() + idb(link) + ng_tail, prefix=k)
    put('pcapng_new_section_other_link.pcapng', ng_head + shb() + idb(1) +
        b''.join(epb(p) for p in P[k:]), prefix=k)
    put('pcapng_unknown_linktype.pcapng', shb() + idb(147) + ng_tail)

    # the source's own packets, for stream cases cut by the test script
    put('stream_source.pcap', good)
    # record number where mid-file damage lands, for the script's messages
    open(os.path.join(out, 'DAMAGE_AT'), 'w').write('%d\n' % (k + 1))
    open(os.path.join(out, 'RECORDS'), 'w').write('%d\n' % len(P))


if __name__ == '__main__':
    main()
