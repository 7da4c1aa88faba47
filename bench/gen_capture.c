/* gen_capture.c - builds large benchmark captures from the project's recordings.
 *
 * The recordings in captures/ are real namespace traffic (HTTP, DNS, UDP
 * echo, ping, rejects, drops, ICMP errors), about 500 packets and 120 flows
 * each. This program replays many copies of them into one pcap file, each
 * copy with its own addresses (so each copy's flows are new flows) and
 * shifted in time (so copies overlap as a busy network's connections do).
 * Nothing is random: the same arguments always give the same bytes.
 *
 *   gen_capture [-l eth|raw] [-s SCALE] [-d CAPTURES_DIR] -o OUT MODE
 *
 * MODE
 *   mixed    copies of the 10 recordings (Ethernet and raw-IP pairs) plus
 *            long keep-alive HTTP flows: at scale 1 about 1 M packets and
 *            100 k flows, of which 2 000 flows of ~300 packets
 *   synscan  every packet a SYN opening a new flow (the recording's first
 *            SYN, each with a new source): 1 M packets, 1 M flows
 *   long     1 000 keep-alive HTTP flows of ~1 000 packets each
 * SCALE multiplies the number of copies and the time span (rates and the
 * number of flows alive at once stay the same), so 0.25, 0.5, 1 and 2 show
 * whether cost grows linearly.
 *
 * Addresses: copy c maps the lab's 10.77.X.Y (X 1..2, Y 1..3) to
 * 10.(c>>13).(c>>5).(c<<3|code(X,Y)) (2 M copies at most) and fd77:X::Y,
 * fe80::IID to the same address with c XORed into bytes 4..7; multicast is
 * left alone. ICMP errors get their quoted header rewritten too. Checksums
 * that were valid before a rewrite are recomputed, so the output checks
 * clean under `tunneltap replay --verify-checksums`.
 * The long flows repeat the request/response exchange of the first HTTP
 * connection in healthy-v4 with sequence and acknowledgement numbers moved
 * on by the bytes sent, as HTTP keep-alive does.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define US 1000000ull
#define MS 1000ull

/* One packet of a template: its bytes and its time from the template's start. */
typedef struct tpkt {
    uint64_t t_us;
    uint32_t caplen, wirelen;
    uint8_t *data;
} tpkt;

typedef struct tmpl {
    const char *name;
    tpkt *p;
    size_t n, cap;
} tmpl;

/* One scheduled copy of a template. */
typedef struct inst {
    uint64_t start_us;
    uint32_t id; /* address rewrite index: unique per copy */
    uint32_t tmpl;
    uint32_t pos; /* next packet */
} inst;

static const char *recordings[] = {
    "final-ack-drop-v4", "healthy-v4",  "noisy-healthy-v4",   "reject-v4",          "reject-v6",
    "udp-drop-v4",       "udp-drop-v6", "udp-synack-drop-v4", "udp-synack-drop-v6", "udp-vanish-v4",
};
#define NREC (sizeof recordings / sizeof recordings[0])

static int link_eth = 1; /* 1: Ethernet, 0: raw IP */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gen_capture: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die("%s", "out of memory");
    return p;
}

static void tmpl_add(tmpl *t, uint64_t t_us, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->p = realloc(t->p, t->cap * sizeof(tpkt));
        if (!t->p)
            die("%s", "out of memory");
    }
    tpkt *p = &t->p[t->n++];
    p->t_us = t_us;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->data = xcalloc(1, caplen);
    memcpy(p->data, data, caplen);
}

/* Reads a recording; returns the absolute time of its first packet. */
static uint64_t load(tmpl *t, const char *dir, const char *name)
{
    char path[4096], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s-%s.pcap", dir, name, link_eth ? "eth" : "raw");
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        die("%s", err);
    int dlt = pcap_datalink(pc);
    if ((link_eth && dlt != DLT_EN10MB) || (!link_eth && dlt != DLT_RAW && dlt != 101))
        die("%s: unexpected link type", path);
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t t0 = 0;
    int rc;
    t->name = name;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * US + (uint64_t)h->ts.tv_usec;
        if (t->n == 0)
            t0 = ts;
        tmpl_add(t, ts - t0, d, h->caplen, h->len);
    }
    if (rc == PCAP_ERROR)
        die("%s", pcap_geterr(pc));
    pcap_close(pc);
    return t0;
}

/* ---- packet fields ------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Decoded view of one IP packet (outer or quoted). */
typedef struct ipv {
    uint8_t *ip;   /* IP header */
    size_t cap;    /* bytes captured from ip */
    int ver;       /* 4 or 6 */
    uint8_t proto; /* transport */
    size_t l4;     /* offset of the transport header from ip */
    size_t l4len;  /* transport length per the IP header */
    bool frag;     /* not the whole datagram (fragment): no transport checksum */
} ipv;

/* Parses an IP header at ip (cap bytes). Returns false when it is not IP or is cut. */
static bool parse_ip(uint8_t *ip, size_t cap, ipv *v)
{
    memset(v, 0, sizeof *v);
    v->ip = ip;
    v->cap = cap;
    if (cap < 1)
        return false;
    v->ver = ip[0] >> 4;
    if (v->ver == 4) {
        if (cap < 20)
            return false;
        size_t hl = (size_t)(ip[0] & 15) * 4;
        size_t tot = rd16(ip + 2);
        if (hl < 20 || hl > cap || tot < hl)
            return false;
        v->proto = ip[9];
        v->l4 = hl;
        v->l4len = tot - hl;
        v->frag = (rd16(ip + 6) & 0x3fff) != 0;
        return true;
    }
    if (v->ver == 6) {
        if (cap < 40)
            return false;
        size_t off = 40, plen = rd16(ip + 4);
        uint8_t nh = ip[6];
        for (int i = 0; i < 8; i++) {
            if (nh == 0 || nh == 43 || nh == 60) {
                if (off + 2 > cap)
                    return false;
                size_t el = ((size_t)ip[off + 1] + 1) * 8;
                nh = ip[off];
                off += el;
            } else if (nh == 44) {
                v->frag = true;
                if (off + 8 > cap)
                    return false;
                nh = ip[off];
                off += 8;
            } else {
                break;
            }
        }
        if (off > 40 + plen || off > cap)
            return false;
        v->proto = nh;
        v->l4 = off;
        v->l4len = 40 + plen - off;
        return true;
    }
    return false;
}

static uint32_t sum_bytes(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Offset of the transport checksum field, or 0 when this transport has none we keep. */
static size_t csum_field(uint8_t proto)
{
    switch (proto) {
    case 6:
        return 16;
    case 17:
        return 6;
    case 1:
    case 58:
        return 2;
    default:
        return 0;
    }
}

/* Sum of the transport segment with its pseudo-header (none for ICMPv4). */
static uint32_t l4_sum(const ipv *v)
{
    uint32_t s = 0;
    if (v->proto != 1) {
        if (v->ver == 4) {
            s = sum_bytes(s, v->ip + 12, 8);
        } else {
            s = sum_bytes(s, v->ip + 8, 32);
        }
        s += v->proto;
        s += (uint32_t)(v->l4len & 0xffff) + (uint32_t)(v->l4len >> 16);
    }
    return sum_bytes(s, v->ip + v->l4, v->l4len);
}

/* True when the whole transport segment is captured and checksummed. */
static bool l4_complete(const ipv *v)
{
    size_t f = csum_field(v->proto);
    return f && !v->frag && v->l4 + v->l4len <= v->cap && v->l4len >= f + 2 &&
           !(v->proto == 17 && rd16(v->ip + v->l4 + 6) == 0 && v->ver == 4);
}

static bool l4_valid(const ipv *v)
{
    return l4_complete(v) && fold(l4_sum(v)) == 0xffff;
}

static void l4_fix(const ipv *v)
{
    uint8_t *c = v->ip + v->l4 + csum_field(v->proto);
    wr16(c, 0);
    uint16_t x = (uint16_t)~fold(l4_sum(v));
    if (v->proto == 17 && x == 0)
        x = 0xffff;
    wr16(c, x);
}

static bool ip4_valid(const ipv *v)
{
    return v->ver == 4 && fold(sum_bytes(0, v->ip, v->l4)) == 0xffff;
}

static void ip4_fix(const ipv *v)
{
    wr16(v->ip + 10, 0);
    wr16(v->ip + 10, (uint16_t)~fold(sum_bytes(0, v->ip, v->l4)));
}

/* ---- address rewriting -------------------------------------------------- */

static void map_addr(uint8_t *a, int ver, uint32_t id)
{
    if (ver == 4) {
        /* the lab uses 10.77.{1,2}.{1,2,3}: six hosts, a 3-bit code; 21 bits of id */
        if (a[0] == 10 && a[1] == 77 && a[2] >= 1 && a[2] <= 2 && a[3] >= 1 && a[3] <= 3) {
            uint32_t code = (uint32_t)(a[2] - 1) * 3 + (uint32_t)(a[3] - 1);
            a[1] = (uint8_t)(id >> 13);
            a[2] = (uint8_t)(id >> 5);
            a[3] = (uint8_t)((id & 31) << 3 | code); /* at most 253: never broadcast */
        }
        return;
    }
    if (a[0] == 0xff || (a[0] == 0 && a[1] == 0))
        return; /* multicast, unspecified: shared by every copy */
    wr32(a + 4, rd32(a + 4) ^ id);
}

/* Rewrites the quoted header in an ICMP error; its checksums are updated
 * incrementally (RFC 1624) since the quote is cut. */
static void map_quote(uint8_t *q, size_t cap, uint32_t id)
{
    ipv v;
    if (!parse_ip(q, cap, &v))
        return;
    size_t alen = v.ver == 4 ? 4 : 16, aoff = v.ver == 4 ? 12 : 8;
    uint32_t before = sum_bytes(0, q + aoff, 2 * alen);
    bool hv = v.ver == 4 && ip4_valid(&v);
    map_addr(q + aoff, v.ver, id);
    map_addr(q + aoff + alen, v.ver, id);
    uint32_t after = sum_bytes(0, q + aoff, 2 * alen);
    if (hv)
        ip4_fix(&v);
    size_t f = csum_field(v.proto);
    if ((v.proto == 6 || v.proto == 17 || v.proto == 58) && v.l4 + f + 2 <= cap) {
        uint8_t *c = q + v.l4 + f;
        uint16_t old = rd16(c);
        if (v.proto == 17 && old == 0)
            return;
        /* HC' = ~(~HC + ~m + m') */
        uint32_t s = (uint16_t)~old;
        s += (uint16_t)~fold(before);
        s += fold(after);
        wr16(c, (uint16_t)~fold(s));
    }
}

static bool icmp_error(const ipv *v, const uint8_t *l4)
{
    if (v->proto == 1)
        return l4[0] == 3 || l4[0] == 4 || l4[0] == 5 || l4[0] == 11 || l4[0] == 12;
    if (v->proto == 58)
        return l4[0] < 128;
    return false;
}

/* Locates the IP header of a frame; NULL for non-IP frames (ARP, ...). */
static uint8_t *l3_of(uint8_t *frame, size_t cap, size_t *l3cap)
{
    if (!link_eth) {
        *l3cap = cap;
        return frame;
    }
    size_t off = 12;
    if (cap < 14)
        return NULL;
    uint16_t et = rd16(frame + off);
    while ((et == 0x8100 || et == 0x88a8) && off + 6 <= cap) {
        off += 4;
        et = rd16(frame + off);
    }
    if (et != 0x0800 && et != 0x86dd)
        return NULL;
    off += 2;
    *l3cap = cap - off;
    return frame + off;
}

/* Gives a copy of a frame the addresses of copy `id`. */
static void rewrite(uint8_t *frame, size_t cap, uint32_t id)
{
    size_t l3cap;
    uint8_t *ip = l3_of(frame, cap, &l3cap);
    ipv v;
    if (!ip || !parse_ip(ip, l3cap, &v))
        return;
    bool hv = ip4_valid(&v), tv = l4_valid(&v);
    size_t alen = v.ver == 4 ? 4 : 16, aoff = v.ver == 4 ? 12 : 8;
    map_addr(ip + aoff, v.ver, id);
    map_addr(ip + aoff + alen, v.ver, id);
    uint8_t *l4 = ip + v.l4;
    size_t hdr = 8; /* ICMP and ICMPv6 errors: the quote follows 8 bytes */
    if (v.l4 + hdr < l3cap && !v.frag && icmp_error(&v, l4))
        map_quote(l4 + hdr, l3cap - v.l4 - hdr, id);
    if (hv)
        ip4_fix(&v);
    if (tv)
        l4_fix(&v);
}

/* ---- long keep-alive flows ---------------------------------------------- */

typedef struct tcpv {
    ipv v;
    uint8_t *tcp;
    size_t payload;
    uint8_t flags;
    bool ok;
} tcpv;

static tcpv tcp_of(const tpkt *p)
{
    tcpv t;
    memset(&t, 0, sizeof t);
    size_t l3cap;
    uint8_t *ip = l3_of(p->data, p->caplen, &l3cap);
    if (!ip || !parse_ip(ip, l3cap, &t.v) || t.v.proto != 6 || t.v.l4 + 20 > l3cap)
        return t;
    t.tcp = ip + t.v.l4;
    size_t doff = (size_t)(t.tcp[12] >> 4) * 4;
    if (doff < 20 || doff > t.v.l4len)
        return t;
    t.payload = t.v.l4len - doff;
    t.flags = t.tcp[13];
    t.ok = true;
    return t;
}

static bool same_conn(const tcpv *a, const tcpv *b, bool *same_dir)
{
    size_t alen = a->v.ver == 4 ? 4 : 16, aoff = a->v.ver == 4 ? 12 : 8;
    if (a->v.ver != b->v.ver)
        return false;
    const uint8_t *as = a->v.ip + aoff, *ad = as + alen, *bs = b->v.ip + aoff, *bd = bs + alen;
    uint16_t asp = rd16(a->tcp), adp = rd16(a->tcp + 2), bsp = rd16(b->tcp), bdp = rd16(b->tcp + 2);
    if (!memcmp(as, bs, alen) && !memcmp(ad, bd, alen) && asp == bsp && adp == bdp) {
        *same_dir = true;
        return true;
    }
    if (!memcmp(as, bd, alen) && !memcmp(ad, bs, alen) && asp == bdp && adp == bsp) {
        *same_dir = false;
        return true;
    }
    return false;
}

/* Appends a copy of p to t at time t_us with seq/ack moved by dseq/dack. */
static void add_shifted(tmpl *t, const tpkt *p, uint64_t t_us, uint32_t dseq, uint32_t dack)
{
    tmpl_add(t, t_us, p->data, p->caplen, p->wirelen);
    tpkt *q = &t->p[t->n - 1];
    tcpv c = tcp_of(q);
    bool tv = l4_valid(&c.v);
    wr32(c.tcp + 4, rd32(c.tcp + 4) + dseq);
    if (c.flags & 0x10)
        wr32(c.tcp + 8, rd32(c.tcp + 8) + dack);
    if (tv)
        l4_fix(&c.v);
}

/* Builds a keep-alive flow of about `pkts` packets from the first complete
 * HTTP connection of the healthy-v4 recording; exchanges every gap_us. */
static void build_long(tmpl *out, const tmpl *src, size_t pkts, uint64_t gap_us)
{
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < src->n && first == SIZE_MAX; i++) {
        tcpv t = tcp_of(&src->p[i]);
        if (t.ok && (t.flags & 0x12) == 0x02)
            first = i;
    }
    if (first == SIZE_MAX)
        die("%s: no SYN to build long flows from", src->name);
    tcpv syn = tcp_of(&src->p[first]);
    size_t idx[64], n = 0;
    bool dir[64];
    for (size_t i = first; i < src->n && n < 64; i++) {
        tcpv t = tcp_of(&src->p[i]);
        bool sd;
        if (t.ok && same_conn(&syn, &t, &sd)) {
            idx[n] = i;
            dir[n++] = sd;
        }
    }
    /* handshake [0, hs), exchange [hs, td), teardown [td, n) */
    size_t hs = n, td = n;
    for (size_t k = 0; k < n; k++) {
        tcpv t = tcp_of(&src->p[idx[k]]);
        if (hs == n && t.payload)
            hs = k;
        if (td == n && (t.flags & 0x05))
            td = k;
    }
    if (hs >= td || td >= n)
        die("%s: first TCP connection has no exchange to repeat", src->name);
    uint32_t cbytes = 0, sbytes = 0;
    for (size_t k = hs; k < td; k++) {
        tcpv t = tcp_of(&src->p[idx[k]]);
        if (dir[k])
            cbytes += (uint32_t)t.payload;
        else
            sbytes += (uint32_t)t.payload;
    }
    size_t per = td - hs, fixed = n - per;
    size_t reps = pkts > fixed + per ? (pkts - fixed) / per : 1;
    uint64_t base = src->p[idx[0]].t_us, xs = src->p[idx[hs]].t_us;
    uint64_t xlen = src->p[idx[td - 1]].t_us - xs, period = xlen + gap_us;
    out->name = "keep-alive";
    for (size_t k = 0; k < hs; k++)
        add_shifted(out, &src->p[idx[k]], src->p[idx[k]].t_us - base, 0, 0);
    for (size_t r = 0; r < reps; r++)
        for (size_t k = hs; k < td; k++) {
            uint32_t dc = (uint32_t)r * cbytes, ds = (uint32_t)r * sbytes;
            add_shifted(out, &src->p[idx[k]], src->p[idx[k]].t_us - base + r * period,
                        dir[k] ? dc : ds, dir[k] ? ds : dc);
        }
    uint32_t dc = (uint32_t)(reps - 1) * cbytes, ds = (uint32_t)(reps - 1) * sbytes;
    for (size_t k = td; k < n; k++)
        add_shifted(out, &src->p[idx[k]], src->p[idx[k]].t_us - base + (reps - 1) * period,
                    dir[k] ? dc : ds, dir[k] ? ds : dc);
}

/* A one-packet template: the recording's first pure SYN. */
static void build_syn(tmpl *out, const tmpl *src)
{
    for (size_t i = 0; i < src->n; i++) {
        tcpv t = tcp_of(&src->p[i]);
        if (t.ok && (t.flags & 0x12) == 0x02) {
            out->name = "syn";
            tmpl_add(out, 0, src->p[i].data, src->p[i].caplen, src->p[i].wirelen);
            return;
        }
    }
    die("%s: no SYN", src->name);
}

/* ---- scheduling: merge every copy's packets in time order ---------------- */

typedef struct sched {
    inst *in;       /* every copy, by start time */
    size_t n, next; /* copies; first not yet started */
    size_t *heap;   /* started copies with packets left, by next packet time */
    size_t nheap;
    tmpl *t;
} sched;

static uint64_t next_ts(const sched *s, size_t i)
{
    const inst *c = &s->in[i];
    return c->start_us + s->t[c->tmpl].p[c->pos].t_us;
}

static bool before(const sched *s, size_t a, size_t b)
{
    uint64_t ta = next_ts(s, a), tb = next_ts(s, b);
    return ta < tb || (ta == tb && a < b);
}

static void heap_push(sched *s, size_t i)
{
    size_t k = s->nheap++;
    s->heap[k] = i;
    while (k && before(s, s->heap[k], s->heap[(k - 1) / 2])) {
        size_t p = (k - 1) / 2, x = s->heap[k];
        s->heap[k] = s->heap[p];
        s->heap[p] = x;
        k = p;
    }
}

static void heap_down(sched *s)
{
    size_t k = 0;
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, m = k;
        if (l < s->nheap && before(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->nheap && before(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == k)
            return;
        size_t x = s->heap[k];
        s->heap[k] = s->heap[m];
        s->heap[m] = x;
        k = m;
    }
}

static int cmp_start(const void *a, const void *b)
{
    const inst *x = a, *y = b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void usage(void)
{
    fputs(
        "usage: gen_capture [-l eth|raw] [-s SCALE] [-d CAPTURES_DIR] -o OUT mixed|synscan|long\n",
        stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = "captures", *outp = NULL;
    double scale = 1.0;
    int c;
    while ((c = getopt(argc, argv, "l:s:d:o:")) != -1) {
        switch (c) {
        case 'l':
            if (!strcmp(optarg, "eth"))
                link_eth = 1;
            else if (!strcmp(optarg, "raw"))
                link_eth = 0;
            else
                usage();
            break;
        case 's':
            scale = strtod(optarg, NULL);
            if (!(scale > 0 && scale <= 64))
                usage();
            break;
        case 'd':
            dir = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        default:
            usage();
        }
    }
    if (!outp || optind + 1 != argc)
        usage();
    const char *mode = argv[optind];

    /* templates: 0..NREC-1 the recordings, NREC the long flow, NREC+1 the SYN */
    tmpl t[NREC + 2];
    memset(t, 0, sizeof t);
    uint64_t t0 = 0; /* every copy's time is shifted from healthy-v4's start */
    for (size_t i = 0; i < NREC; i++) {
        uint64_t first = load(&t[i], dir, recordings[i]);
        if (i == 1)
            t0 = first;
    }

    size_t nrec_copies = 0, nlong = 0, nsyn = 0, long_pkts = 0;
    uint64_t rec_stride = 0, long_stride = 0, syn_stride = 0, gap = 20 * MS;
    if (!strcmp(mode, "mixed")) {
        nrec_copies = (size_t)(800 * scale + 0.5); /* 80 copies of each recording */
        rec_stride = 1250 * MS;                    /* ~60 copies alive at once */
        nlong = (size_t)(2000 * scale + 0.5);
        long_pkts = 300;
        gap = 50 * MS;
        long_stride = rec_stride * nrec_copies / (nlong ? nlong : 1);
    } else if (!strcmp(mode, "synscan")) {
        nsyn = (size_t)(1000000 * scale + 0.5);
        syn_stride = 500; /* 2 000 SYNs a second: ~10 000 flows awaiting their 5 s deadline */
    } else if (!strcmp(mode, "long")) {
        nlong = (size_t)(1000 * scale + 0.5);
        long_pkts = 1000;
        gap = 20 * MS;
        long_stride = 10 * MS; /* ~1 000 flows alive at once */
    } else {
        usage();
    }
    if (nlong)
        build_long(&t[NREC], &t[1], long_pkts, gap);
    if (nsyn)
        build_syn(&t[NREC + 1], &t[1]);

    size_t ninst = nrec_copies + nlong + nsyn;
    if (ninst > (1u << 21))
        die("%s", "too many copies for the address plan");
    sched s = {xcalloc(ninst, sizeof(inst)), ninst, 0, xcalloc(ninst, sizeof(size_t)), 0, t};
    size_t k = 0;
    for (size_t i = 0; i < nrec_copies; i++, k++)
        s.in[k] = (inst){t0 + i * rec_stride, (uint32_t)k, (uint32_t)(i % NREC), 0};
    for (size_t i = 0; i < nlong; i++, k++)
        s.in[k] = (inst){t0 + 300 * MS + i * long_stride, (uint32_t)k, NREC, 0};
    for (size_t i = 0; i < nsyn; i++, k++)
        s.in[k] = (inst){t0 + i * syn_stride, (uint32_t)k, NREC + 1, 0};
    qsort(s.in, ninst, sizeof(inst), cmp_start);

    pcap_t *dead = pcap_open_dead(link_eth ? DLT_EN10MB : DLT_RAW, 262144);
    pcap_dumper_t *dump = dead ? pcap_dump_open(dead, outp) : NULL;
    if (!dump)
        die("cannot write %s", outp);
    uint8_t buf[65536 + 64];
    uint64_t npkts = 0, nbytes = 0, last = 0;
    for (;;) {
        /* next packet: from a running copy, or the first of the next copy */
        bool take_new = s.next < s.n &&
                        (s.nheap == 0 || s.in[s.next].start_us + t[s.in[s.next].tmpl].p[0].t_us <
                                             next_ts(&s, s.heap[0]));
        size_t i;
        if (take_new) {
            i = s.next++;
        } else if (s.nheap) {
            i = s.heap[0];
        } else {
            break;
        }
        inst *cp = &s.in[i];
        const tpkt *p = &t[cp->tmpl].p[cp->pos];
        uint64_t ts = cp->start_us + p->t_us;
        if (ts < last)
            ts = last; /* never happens with sorted starts; kept for safety */
        last = ts;
        memcpy(buf, p->data, p->caplen);
        rewrite(buf, p->caplen, cp->id);
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(ts / US);
        h.ts.tv_usec = (suseconds_t)(ts % US);
        h.caplen = p->caplen;
        h.len = p->wirelen;
        pcap_dump((u_char *)dump, &h, buf);
        npkts++;
        nbytes += p->caplen;
        cp->pos++;
        bool more = cp->pos < t[cp->tmpl].n;
        if (take_new) {
            if (more)
                heap_push(&s, i);
        } else if (more) {
            heap_down(&s);
        } else {
            s.heap[0] = s.heap[--s.nheap];
            heap_down(&s);
        }
    }
    if (pcap_dump_flush(dump) != 0)
        die("cannot write %s", outp);
    pcap_dump_close(dump);
    pcap_close(dead);
    fprintf(stderr,
            "gen_capture: %s %s x%.2f: %" PRIu64 " packets, %" PRIu64
            " bytes; %zu recording copies, %zu long flows of %zu packets, %zu SYNs; %.0f s\n",
            mode, link_eth ? "eth" : "raw", scale, npkts, nbytes, nrec_copies, nlong,
            nlong ? t[NREC].n : 0, nsyn, (double)(last - t0) / 1e6);
    return 0;
}
