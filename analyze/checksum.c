/* checksum.c - Internet checksum (RFC 1071) of TCP/UDP/ICMP with pseudo-header. */
#include <string.h>

#include "analyze/decode.h"

/* One's-complement sum of len bytes, folded to 16 bits at the end. */
static uint64_t sum_bytes(const uint8_t *p, size_t len, uint64_t acc)
{
    while (len >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        acc += (uint64_t)a + b;
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;
        memcpy(&w, p, 1);
        acc += w;
    }
    return acc;
}

static uint16_t fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* Host-order-independent: sums are taken in memory order, so the pseudo
 * header's numeric fields are stored big-endian before summing. */
bool tt__checksum_ok(const tt__pkt *pkt)
{
    if (pkt->frag_first || pkt->l4_cut || pkt->l4_len < 4)
        return true;
    if (pkt->l4_off + pkt->l4_len > pkt->l3_cap)
        return true;
    const uint8_t *l4 = pkt->l3 + pkt->l4_off;
    uint32_t len = pkt->l4_len;
    uint64_t acc = 0;
    if (pkt->proto == 17) {
        uint16_t ulen = (uint16_t)(pkt->payload_len + 8);
        if (pkt->udp_len_bad)
            return true;
        if (pkt->ipver == 4 && l4[6] == 0 && l4[7] == 0)
            return true; /* no checksum */
        len = ulen;
    }
    if (pkt->proto != 1) {
        uint8_t ph[8];
        size_t alen = pkt->ipver == 4 ? 4 : 16;
        acc = sum_bytes(pkt->src, alen, acc);
        acc = sum_bytes(pkt->dst, alen, acc);
        ph[0] = (uint8_t)(len >> 24);
        ph[1] = (uint8_t)(len >> 16);
        ph[2] = (uint8_t)(len >> 8);
        ph[3] = (uint8_t)len;
        ph[4] = ph[5] = ph[6] = 0;
        ph[7] = pkt->proto;
        acc = sum_bytes(ph, 8, acc);
    }
    acc = sum_bytes(l4, len, acc);
    return fold(acc) == 0xffff;
}
