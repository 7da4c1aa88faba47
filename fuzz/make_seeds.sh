#!/usr/bin/env bash
# make_seeds.sh OUTDIR - seed corpora for the fuzz targets, made from captures/.
#
#   OUTDIR/decode      harness "decode" inputs: the first packets of each real
#                      capture, re-framed for every supported link type
#                      (RAW, IPV4, IPV6, NULL, LOOP, EN10MB, LINUX_SLL, LINUX_SLL2)
#   OUTDIR/decode_dpi  the same inputs (nDPI on)
#   OUTDIR/pcapfile    short pcap and pcapng files of every link type, and the
#                      hostile captures of tests/hostile/make_hostile.py
#   OUTDIR/control     request lines for the control socket
#
# Generated, never committed: a few hundred small files (python3 stdlib only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:?usage: make_seeds.sh OUTDIR}
mkdir -p "$out/decode" "$out/decode_dpi" "$out/pcapfile" "$out/control"

python3 - "$root/captures" "$out" <<'PY'
import glob, os, struct, sys

caps, out = sys.argv[1], sys.argv[2]

def read_pcap(path):
    """(linktype, [(ts_us, data, wirelen)]) of a classic little/big-endian pcap."""
    b = open(path, 'rb').read()
    magic = b[:4]
    e = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    link = struct.unpack(e + 'I', b[20:24])[0] & 0x0fffffff
    pkts, off = [], 24
    while off + 16 <= len(b):
        s, u, cl, wl = struct.unpack(e + 'IIII', b[off:off + 16])
        off += 16
        pkts.append((s * 1000000 + (u // 1000 if nano else u), b[off:off + cl], wl))
        off += cl
    return link, pkts

LINKS = ['RAW', 'IPV4', 'IPV6', 'NULL', 'LOOP', 'EN10MB', 'SLL', 'SLL2']
DLT = {'RAW': 101, 'IPV4': 228, 'IPV6': 229, 'NULL': 0, 'LOOP': 108, 'EN10MB': 1,
       'SLL': 113, 'SLL2': 276}

def frame(link, ip):
    """Wraps a raw IP packet in the link header of `link` (None: does not fit)."""
    v = ip[0] >> 4 if ip else 0
    et = 0x0800 if v == 4 else 0x86dd
    if link == 'RAW':
        return ip
    if link == 'IPV4':
        return ip if v == 4 else None
    if link == 'IPV6':
        return ip if v == 6 else None
    if link == 'NULL':
        return struct.pack('<I', 2 if v == 4 else 30) + ip
    if link == 'LOOP':
        return struct.pack('>I', 2 if v == 4 else 24) + ip
    if link == 'EN10MB':
        return b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01' + struct.pack('>H', et) + ip
    if link == 'SLL':
        return struct.pack('>HHH', 0, 1, 6) + b'\x02\x00\x00\x00\x00\x01\x00\x00' + \
            struct.pack('>H', et) + ip
    if link == 'SLL2':
        return struct.pack('>HHIHBB', et, 0, 3, 1, 0, 6) + b'\x02\x00\x00\x00\x00\x01\x00\x00' + ip

def dt_code(d):
    """Nearest clock-step code of the harness (fuzz/harness.c step_us)."""
    if d < 100000:
        return d // 1000
    if d < 100 * 1000000:
        return 100 + d // 1000000
    return min(254, 200 + d // 60000000)

def raw_packets(path):
    link, pkts = read_pcap(path)
    res = []
    for ts, data, wl in pkts:
        if link == 1:
            if len(data) < 14 or data[12:14] not in (b'\x08\x00', b'\x86\xdd'):
                continue
            data, wl = data[14:], wl - 14
        res.append((ts, data, wl))
    return res

def decode_seed(link, pkts, limit=4096, maxpkt=300):
    sel = LINKS.index(link)
    s = bytes([sel, 0])
    prev = None
    for ts, ip, wl in pkts:
        f = frame(link, ip)
        if f is None:
            continue
        cut = f[:maxpkt]
        extra = len(f) - len(cut)
        wire = min(0x7f, (extra + 15) // 16)
        rec = struct.pack('>HBB', len(cut), dt_code(0 if prev is None else ts - prev), wire) + cut
        if len(s) + len(rec) > limit:
            break
        s += rec
        prev = ts
    return s

def write_pcap(path, link, pkts, snap=262144):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, snap, link))
        for ts, data, wl in pkts:
            f.write(struct.pack('<IIII', ts // 1000000, ts % 1000000, len(data), wl) + data)

def pad4(b):
    return b + b'\0' * (-len(b) % 4)

def write_pcapng(path, link, pkts):
    def block(t, body):
        body = pad4(body)
        n = len(body) + 12
        return struct.pack('<II', t, n) + body + struct.pack('<I', n)
    with open(path, 'wb') as f:
        f.write(block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
        opts = struct.pack('<HHB', 9, 1, 6) + b'\0\0\0' + struct.pack('<HH', 0, 0)
        f.write(block(1, struct.pack('<HHI', link, 0, 262144) + opts))
        for ts, data, wl in pkts:
            f.write(block(6, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, len(data), wl) +
                          pad4(data)))

n = 0
for path in sorted(glob.glob(os.path.join(caps, '*.pcap'))):
    name = os.path.basename(path)[:-5]
    pkts = raw_packets(path)
    for link in LINKS:
        seed = decode_seed(link, pkts)
        if len(seed) <= 2:
            continue
        for d in ('decode', 'decode_dpi'):
            open(os.path.join(out, d, '%s-%s' % (name, link)), 'wb').write(seed)
        n += 1
    # capture files: the first 24 packets, framed for each link type, pcap and pcapng
    for link in LINKS:
        fr = [(ts, frame(link, ip), wl + (len(frame(link, ip) or b'') - len(ip)))
              for ts, ip, wl in pkts[:24]]
        fr = [p for p in fr if p[1] is not None]
        if not fr:
            continue
        write_pcap(os.path.join(out, 'pcapfile', '%s-%s.pcap' % (name, link)), DLT[link], fr)
        write_pcapng(os.path.join(out, 'pcapfile', '%s-%s.pcapng' % (name, link)), DLT[link], fr)

# one seed per decode option bit (checksums, short deadlines, loss, backwards)
base = decode_seed('RAW', raw_packets(os.path.join(caps, 'healthy-v4-raw.pcap')))
for opt in (1, 2, 4, 8, 15, 16, 31):
    s = bytes([0, opt]) + base[2:] + struct.pack('>HBB', 0xffff, 255, 3)
    for d in ('decode', 'decode_dpi'):
        open(os.path.join(out, d, 'opt%d' % opt), 'wb').write(s)

ctl = [b'status\n', b'mark upgrade\n', b'mark  filter v2 \r\n', b'status\nstatus\n',
       b'mark \xe2\x80\xae evil\n', b'mark \x1b[31mred\n', b'bogus\n', b'\n', b'mark\n',
       b'status extra\n', b'mark ' + b'x' * 100 + b'\n', b'mark caf\xc3\xa9\nstatus\n',
       b'x' * 600, b'mark a\nmark b\nmark c\n', b'status\r\n', b'mark \xff\xfe\n']
for i, c in enumerate(ctl):
    open(os.path.join(out, 'control', 'seed%02d' % i), 'wb').write(c)
print('make_seeds: %d decode seeds, %d capture files, %d control lines' %
      (n, len(os.listdir(os.path.join(out, 'pcapfile'))), len(ctl)))
PY

# Hostile captures make good capture-file seeds too.
if [ -f "$root/tests/hostile/make_hostile.py" ]; then
    python3 "$root/tests/hostile/make_hostile.py" "$root/captures/udp-synack-drop-v4-raw.pcap" \
        "$out/hostile.tmp" >/dev/null
    find "$out/hostile.tmp" -maxdepth 1 -type f -size -256k -exec cp {} "$out/pcapfile/" \;
    rm -rf "$out/hostile.tmp"
fi
