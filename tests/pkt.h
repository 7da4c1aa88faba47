/* pkt.h - builds IPv4/IPv6 TCP/UDP/ICMP test packets with valid checksums. */
#ifndef TT_TESTS_PKT_H
#define TT_TESTS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct tpkt {
    uint8_t b[2048];
    size_t len;
} tpkt;

typedef struct tflow {
    int ver; /* 4 or 6 */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
} tflow;

static inline void t_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void t_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t t_sum(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)(p[n - 1] << 8);
    return acc;
}

static inline uint16_t t_fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

/* Writes the IP header for an L4 segment of l4len bytes already at b+hl. */
static inline size_t t_ip(tpkt *p, const tflow *f, bool reverse, uint8_t proto, size_t l4len)
{
    const uint8_t *s = reverse ? f->dst : f->src, *d = reverse ? f->src : f->dst;
    uint8_t *h = p->b;
    if (f->ver == 4) {
        memset(h, 0, 20);
        h[0] = 0x45;
        t_put16(h + 2, (uint16_t)(20 + l4len));
        h[8] = 64;
        h[9] = proto;
        memcpy(h + 12, s, 4);
        memcpy(h + 16, d, 4);
        t_put16(h + 10, t_fold(t_sum(h, 20, 0)));
        return 20;
    }
    memset(h, 0, 40);
    h[0] = 0x60;
    t_put16(h + 4, (uint16_t)l4len);
    h[6] = proto;
    h[7] = 64;
    memcpy(h + 8, s, 16);
    memcpy(h + 24, d, 16);
    return 40;
}

static inline uint16_t t_l4sum(const tflow *f, bool reverse, uint8_t proto, const uint8_t *l4,
                               size_t len)
{
    const uint8_t *s = reverse ? f->dst : f->src, *d = reverse ? f->src : f->dst;
    size_t al = f->ver == 4 ? 4 : 16;
    uint32_t acc = 0;
    if (!(f->ver == 4 && proto == 1)) {
        acc = t_sum(s, al, acc);
        acc = t_sum(d, al, acc);
        acc += proto;
        acc += (uint32_t)len;
    }
    return t_fold(t_sum(l4, len, acc));
}

/* TCP segment; flags as in the TCP header byte 13. */
static inline void t_tcp(tpkt *p, const tflow *f, bool reverse, uint8_t flags, uint32_t seq,
                         uint32_t ack, const void *data, size_t dlen)
{
    size_t hl = f->ver == 4 ? 20 : 40;
    uint8_t *t = p->b + hl;
    memset(t, 0, 20);
    t_put16(t, reverse ? f->dport : f->sport);
    t_put16(t + 2, reverse ? f->sport : f->dport);
    t_put32(t + 4, seq);
    t_put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    t_put16(t + 14, 65535);
    if (dlen)
        memcpy(t + 20, data, dlen);
    t_ip(p, f, reverse, 6, 20 + dlen);
    t_put16(t + 16, t_l4sum(f, reverse, 6, t, 20 + dlen));
    p->len = hl + 20 + dlen;
}

static inline void t_udp(tpkt *p, const tflow *f, bool reverse, const void *data, size_t dlen)
{
    size_t hl = f->ver == 4 ? 20 : 40;
    uint8_t *u = p->b + hl;
    t_put16(u, reverse ? f->dport : f->sport);
    t_put16(u + 2, reverse ? f->sport : f->dport);
    t_put16(u + 4, (uint16_t)(8 + dlen));
    u[6] = u[7] = 0;
    if (dlen)
        memcpy(u + 8, data, dlen);
    t_ip(p, f, reverse, 17, 8 + dlen);
    uint16_t c = t_l4sum(f, reverse, 17, u, 8 + dlen);
    t_put16(u + 6, c ? c : 0xffff);
    p->len = hl + 8 + dlen;
}

/* ICMP/ICMPv6 message: type, code, 4 bytes rest, then body. */
static inline void t_icmp(tpkt *p, const tflow *f, bool reverse, uint8_t type, uint8_t code,
                          uint32_t rest, const void *body, size_t blen)
{
    size_t hl = f->ver == 4 ? 20 : 40;
    uint8_t proto = f->ver == 4 ? 1 : 58;
    uint8_t *m = p->b + hl;
    m[0] = type;
    m[1] = code;
    m[2] = m[3] = 0;
    t_put32(m + 4, rest);
    if (blen)
        memcpy(m + 8, body, blen);
    t_ip(p, f, reverse, proto, 8 + blen);
    t_put16(m + 2, t_l4sum(f, reverse, proto, m, 8 + blen));
    p->len = hl + 8 + blen;
}

static inline tflow t_flow4(const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
    tflow f;
    memset(&f, 0, sizeof(f));
    f.ver = 4;
    unsigned a, b, c, d;
    sscanf(src, "%u.%u.%u.%u", &a, &b, &c, &d);
    f.src[0] = (uint8_t)a, f.src[1] = (uint8_t)b, f.src[2] = (uint8_t)c, f.src[3] = (uint8_t)d;
    sscanf(dst, "%u.%u.%u.%u", &a, &b, &c, &d);
    f.dst[0] = (uint8_t)a, f.dst[1] = (uint8_t)b, f.dst[2] = (uint8_t)c, f.dst[3] = (uint8_t)d;
    f.sport = sp;
    f.dport = dp;
    return f;
}

static inline tflow t_flow6(uint8_t src_last, uint16_t sp, uint8_t dst_last, uint16_t dp)
{
    tflow f;
    memset(&f, 0, sizeof(f));
    f.ver = 6;
    f.src[0] = f.dst[0] = 0x20;
    f.src[1] = f.dst[1] = 0x01;
    f.src[2] = f.dst[2] = 0x0d;
    f.src[3] = f.dst[3] = 0xb8;
    f.src[15] = src_last;
    f.dst[15] = dst_last;
    f.sport = sp;
    f.dport = dp;
    return f;
}

#endif
