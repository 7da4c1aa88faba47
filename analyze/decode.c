/* decode.c - link-layer, IP (RFC 791, RFC 8200), TCP (RFC 9293), UDP (RFC 768)
 * and ICMP (RFC 792, RFC 4443) decoding, every read bounds-checked.
 *
 * Length checks run in a fixed order (after Suricata): captured >= header,
 * header field >= minimum, header field <= what the outer header allows.
 * A header cut by the snapshot length is TRUNCATED; a header that contradicts
 * itself is INVALID; both are counted as named events, neither crashes.
 */
#include "analyze/decode.h"

#include <string.h>

#include "analyze/cursor.h"
#include "analyze/icmp.h"

#define EV(id) (events[TT_EV_##id]++)

enum {
    ETH_IPV4 = 0x0800,
    ETH_IPV6 = 0x86dd,
    ETH_VLAN = 0x8100,
    ETH_QINQ = 0x88a8,
    ETH_QINQ_OLD = 0x9100,
    ETH_PPPOE_SESSION = 0x8864
};
enum { MAX_VLAN_TAGS = 4, MAX_IPV6_EXT = 8 };

/* Address family values seen in NULL/LOOP headers (REFERENCE §3). */
static int family_to_version(uint32_t af)
{
    switch (af) {
    case 2:
        return 4;
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD */
    case 30: /* Darwin */
        return 6;
    default:
        return 0;
    }
}

static int ethertype_to_version(uint16_t et)
{
    return et == ETH_IPV4 ? 4 : et == ETH_IPV6 ? 6 : 0;
}

/* Skips VLAN/QinQ tags; returns the inner ethertype (cursor after it). */
static uint16_t skip_vlans(tt__cursor *c, uint16_t et, uint64_t *events)
{
    int tags = 0;
    while (et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD) {
        if (++tags > MAX_VLAN_TAGS) {
            EV(LINK_VLAN_TOO_DEEP);
            return 0;
        }
        tt__cur_skip(c, 2); /* TCI */
        et = tt__cur_be16(c);
        if (c->bad)
            return 0;
    }
    return et;
}

/* Strips the link header. Returns the expected IP version (4/6), 0 for "take
 * it from the version nibble", -1 for a frame that is not IP, -2 for a link
 * header cut by the snapshot length (events counted). */
static int strip_link(int linktype, tt__cursor *c, uint64_t *events)
{
    uint16_t et;
    uint32_t af;
    int v;

    switch (linktype) {
    case TT_LINK_RAW:
    case TT_LINK_RAW_DLT12:
    case TT_LINK_RAW_DLT14:
        return 0;
    case TT_LINK_IPV4:
        return 4;
    case TT_LINK_IPV6:
        return 6;
    case TT_LINK_NULL:
    case TT_LINK_LOOP:
        /* 4-byte address family: host order for NULL, network order for LOOP,
         * but captures from the other endianness exist: a family is < 256, so
         * the byte order whose value is small is the right one. */
        if (!tt__cur_has(c, 4)) {
            EV(LINK_TRUNCATED);
            return -2;
        }
        af = tt__be32_at(c->p);
        if (af > 0xffff)
            af = tt__cur_le32(c);
        else
            tt__cur_skip(c, 4);
        v = family_to_version(af);
        if (v == 0) {
            EV(LINK_FAMILY_UNKNOWN);
            return -1;
        }
        return v;
    case TT_LINK_ETHERNET:
        if (!tt__cur_skip(c, 12)) {
            EV(LINK_TRUNCATED);
            return -2;
        }
        et = skip_vlans(c, tt__cur_be16(c), events);
        break;
    case TT_LINK_SLL: /* pkttype, hatype, halen, addr[8], protocol */
        if (!tt__cur_skip(c, 14)) {
            EV(LINK_TRUNCATED);
            return -2;
        }
        et = skip_vlans(c, tt__cur_be16(c), events);
        break;
    case TT_LINK_SLL2: /* protocol, reserved, ifindex, hatype, pkttype, halen, addr[8] */
        et = tt__cur_be16(c);
        if (!tt__cur_skip(c, 18)) {
            EV(LINK_TRUNCATED);
            return -2;
        }
        et = skip_vlans(c, et, events);
        break;
    default:
        return -1;
    }
    if (et == ETH_PPPOE_SESSION) {
        /* RFC 2516 session header (6 bytes), then the PPP protocol number. */
        tt__cur_skip(c, 6);
        uint16_t ppp = tt__cur_be16(c);
        et = ppp == 0x0021 ? ETH_IPV4 : ppp == 0x0057 ? ETH_IPV6 : 0xffff;
    }
    if (c->bad) {
        EV(LINK_TRUNCATED);
        return -2;
    }
    v = ethertype_to_version(et);
    if (v == 0) {
        if (et != 0)
            EV(LINK_NOT_IP);
        return -1;
    }
    return v;
}

static bool is_ipv6_ext(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135 || nh == 139 ||
           nh == 140 || nh == 253 || nh == 254;
}

/* Walks an IPv6 extension chain (at most MAX_IPV6_EXT headers) starting at
 * cursor c (positioned after the fixed header). `avail` is the number of
 * payload bytes the IPv6 header allows. On return *nh is the transport
 * protocol. *frag_off / *frag_more describe a Fragment header if any.
 * Returns OK, TRUNCATED or INVALID (with the event counted when events). */
static tt__dec walk_ipv6_ext(tt__cursor *c, size_t avail, uint8_t *nh, uint32_t *frag_off,
                             bool *frag_more, bool *has_frag, uint64_t *events, bool quoted)
{
    const uint8_t *start = c->p;
    int n = 0;
    *frag_off = 0;
    *frag_more = false;
    *has_frag = false;
    while (is_ipv6_ext(*nh)) {
        size_t hl;
        if (++n > MAX_IPV6_EXT) {
            if (events && !quoted)
                EV(IPV6_EXT_TOO_MANY);
            return TT__DEC_INVALID;
        }
        if (!tt__cur_has(c, 8)) {
            if (events && !quoted)
                EV(IPV6_TRUNCATED);
            return TT__DEC_TRUNCATED;
        }
        uint8_t next = c->p[0];
        if (*nh == 44) {
            hl = 8;
            uint16_t fo = tt__be16_at(c->p + 2);
            *frag_off = (uint32_t)(fo & 0xfff8u);
            *frag_more = (fo & 1u) != 0;
            *has_frag = true;
        } else if (*nh == 51) {
            hl = ((size_t)c->p[1] + 2) * 4; /* AH: RFC 4302 */
        } else {
            hl = ((size_t)c->p[1] + 1) * 8;
        }
        if (hl > avail - (size_t)(c->p - start)) {
            if (events && !quoted)
                EV(IPV6_LEN_INVALID);
            return TT__DEC_INVALID;
        }
        if (!tt__cur_skip(c, hl)) {
            if (events && !quoted)
                EV(IPV6_TRUNCATED);
            return TT__DEC_TRUNCATED;
        }
        *nh = next;
        if (*has_frag && *frag_off != 0)
            break; /* later fragment: what follows is not a header */
    }
    return TT__DEC_OK;
}

/* Decodes the packet quoted by an ICMP error far enough to name its flow. */
static void decode_quote(tt__cursor *c, uint8_t outer_proto, tt__pkt *pkt, uint64_t *events)
{
    tt__quote *q = &pkt->quote;
    size_t left = tt__cur_left(c);
    if (left < 1) {
        EV(ICMP_ERROR_QUOTE_SHORT);
        return;
    }
    uint8_t ver = (uint8_t)(c->p[0] >> 4);
    uint8_t nh;
    if (ver == 4 && outer_proto == 1) {
        if (left < 20) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
        size_t ihl = (size_t)(c->p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > left) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
        if ((tt__be16_at(c->p + 6) & 0x1fffu) != 0) {
            EV(ICMP_ERROR_QUOTE_SHORT); /* quotes a later fragment: no ports */
            return;
        }
        nh = c->p[9];
        q->src = c->p + 12;
        q->dst = c->p + 16;
        q->ipver = 4;
        tt__cur_skip(c, ihl);
    } else if (ver == 6 && outer_proto == 58) {
        if (left < 40) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
        nh = c->p[6];
        q->src = c->p + 8;
        q->dst = c->p + 24;
        q->ipver = 6;
        tt__cur_skip(c, 40);
        uint32_t fo;
        bool more, hasf;
        if (walk_ipv6_ext(c, tt__cur_left(c), &nh, &fo, &more, &hasf, NULL, true) != TT__DEC_OK ||
            fo != 0) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
    } else {
        EV(ICMP_ERROR_QUOTE_SHORT);
        return;
    }
    q->proto = nh;
    if (nh == 6 || nh == 17) {
        if (!tt__cur_has(c, 4)) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
        q->sport = tt__be16_at(c->p);
        q->dport = tt__be16_at(c->p + 2);
        q->tcp_seq = (nh == 6 && tt__cur_has(c, 8)) ? tt__be32_at(c->p + 4) : 0;
    } else if (nh == 1 || nh == 58) {
        if (!tt__cur_has(c, 2)) {
            EV(ICMP_ERROR_QUOTE_SHORT);
            return;
        }
        bool one_way;
        q->sport = c->p[0];
        q->dport = tt__icmp_counterpart(nh, c->p[0], c->p[1], &one_way);
    } else {
        q->sport = q->dport = 0;
    }
    pkt->has_quote = true;
}

static tt__dec decode_ipv4(tt__cursor *c, uint32_t wire_left, tt__pkt *pkt, uint64_t *events);
static tt__dec decode_ipv6(tt__cursor *c, uint32_t wire_left, tt__pkt *pkt, uint64_t *events);

static tt__dec decode_l4(tt__cursor *c, tt__pkt *pkt, uint64_t *events)
{
    size_t l4_len = pkt->l4_len; /* transport bytes the IP header allows */
    switch (pkt->proto) {
    case 6: {
        if (!tt__cur_has(c, 20)) {
            EV(TCP_TRUNCATED);
            return TT__DEC_TRUNCATED;
        }
        const uint8_t *h = c->p;
        size_t off = (size_t)(h[12] >> 4) * 4;
        if (off < 20 || off > l4_len) {
            EV(TCP_HLEN_INVALID);
            return TT__DEC_INVALID;
        }
        pkt->sport = tt__be16_at(h);
        pkt->dport = tt__be16_at(h + 2);
        pkt->seq = tt__be32_at(h + 4);
        pkt->ack = tt__be32_at(h + 8);
        pkt->tcp_flags = h[13];
        pkt->win = tt__be16_at(h + 14);
        pkt->payload_len = (uint32_t)(l4_len - off);
        pkt->l4_cut = !tt__cur_has(c, l4_len);
        return TT__DEC_OK;
    }
    case 17: {
        if (!tt__cur_has(c, 8)) {
            EV(UDP_TRUNCATED);
            return TT__DEC_TRUNCATED;
        }
        const uint8_t *h = c->p;
        size_t ulen = tt__be16_at(h + 4);
        pkt->sport = tt__be16_at(h);
        pkt->dport = tt__be16_at(h + 2);
        if (ulen < 8 || (ulen > l4_len && !pkt->frag_first)) {
            /* The ports are readable, so the flow is known: the datagram is
             * tracked and judged malformed rather than dropped unseen. */
            EV(UDP_LEN_INVALID);
            pkt->udp_len_bad = true;
            pkt->payload_len = (uint32_t)(l4_len - 8);
        } else {
            if (ulen < l4_len)
                EV(UDP_LEN_SHORT);
            pkt->payload_len = (uint32_t)(ulen - 8);
        }
        pkt->l4_cut = !tt__cur_has(c, l4_len);
        return TT__DEC_OK;
    }
    case 1:
    case 58: {
        if (!tt__cur_has(c, 4)) {
            if (l4_len < 4) {
                EV(ICMP_INVALID);
                return TT__DEC_INVALID;
            }
            EV(ICMP_TRUNCATED);
            return TT__DEC_TRUNCATED;
        }
        if (l4_len < 8 && !pkt->frag_first) {
            EV(ICMP_INVALID);
            return TT__DEC_INVALID;
        }
        pkt->icmp_type = c->p[0];
        pkt->icmp_code = c->p[1];
        bool one_way;
        pkt->sport = pkt->icmp_type;
        pkt->dport = tt__icmp_counterpart(pkt->proto, pkt->icmp_type, pkt->icmp_code, &one_way);
        pkt->payload_len = (uint32_t)(l4_len >= 8 ? l4_len - 8 : 0);
        pkt->l4_cut = !tt__cur_has(c, l4_len);
        pkt->icmp_error = tt__icmp_is_error(pkt->proto, pkt->icmp_type);
        if (pkt->icmp_error) {
            tt__cursor q = *c;
            if (tt__cur_skip(&q, 8)) {
                if (tt__cur_left(&q) > l4_len - 8)
                    q.end = q.p + (l4_len - 8);
                decode_quote(&q, pkt->proto, pkt, events);
            } else {
                EV(ICMP_ERROR_QUOTE_SHORT);
            }
        }
        return TT__DEC_OK;
    }
    case 4:
    case 41:
        /* IP-in-IP: the inner packet is the flow (as Zeek decapsulates it). */
        if (pkt->tunnel_depth >= 2) {
            EV(IP_TUNNEL_TOO_DEEP);
        } else if (l4_len >= 20 && !tt__cur_has(c, 1)) {
            /* the inner header was cut: the flow is unknown, not "proto 41" */
            if (pkt->proto == 4)
                EV(IPV4_TRUNCATED);
            else
                EV(IPV6_TRUNCATED);
            return TT__DEC_TRUNCATED;
        } else if (tt__cur_has(c, 1) && (c->p[0] >> 4) == (pkt->proto == 4 ? 4 : 6)) {
            tt__cursor in;
            uint8_t depth = (uint8_t)(pkt->tunnel_depth + 1);
            uint32_t wire = (uint32_t)l4_len;
            tt__cur_init(&in, c->p, tt__cur_left(c));
            EV(IP_TUNNEL);
            memset(pkt, 0, sizeof(*pkt));
            pkt->tunnel_depth = depth;
            return (in.p[0] >> 4) == 4 ? decode_ipv4(&in, wire, pkt, events)
                                       : decode_ipv6(&in, wire, pkt, events);
        }
        /* fall through */
    default:
        EV(IP_OTHER_PROTO);
        pkt->sport = pkt->dport = 0;
        pkt->payload_len = (uint32_t)l4_len;
        return TT__DEC_OK;
    }
}

static tt__dec decode_ipv4(tt__cursor *c, uint32_t wire_left, tt__pkt *pkt, uint64_t *events)
{
    size_t cap = tt__cur_left(c);
    if (cap < 20) {
        EV(IPV4_TRUNCATED);
        return TT__DEC_TRUNCATED;
    }
    const uint8_t *h = c->p;
    size_t ihl = (size_t)(h[0] & 0x0f) * 4;
    size_t tot = tt__be16_at(h + 2);
    if (ihl < 20) {
        EV(IPV4_HLEN_INVALID);
        return TT__DEC_INVALID;
    }
    if (tot == 0 && wire_left > ihl)
        tot = wire_left; /* TSO/GSO capture on the sender: length left as 0 */
    if (tot < ihl) {
        EV(IPV4_LEN_INVALID);
        return TT__DEC_INVALID;
    }
    if (ihl > cap) {
        EV(IPV4_TRUNCATED);
        return TT__DEC_TRUNCATED;
    }
    pkt->ipver = 4;
    pkt->proto = h[9];
    pkt->src = h + 12;
    pkt->dst = h + 16;
    pkt->ip_len = (uint32_t)tot;
    pkt->l3 = h;
    pkt->l3_cap = (uint32_t)(cap < tot ? cap : tot);
    uint16_t frag = tt__be16_at(h + 6);
    uint32_t foff = (uint32_t)(frag & 0x1fffu) * 8;
    bool more = (frag & 0x2000u) != 0;
    if (foff != 0) {
        EV(IPV4_FRAG_LATER);
        return TT__DEC_SKIP;
    }
    if (more) {
        EV(IPV4_FRAG_FIRST);
        pkt->frag_first = true;
    }
    /* Ethernet pads short frames: read no further than the IP length. */
    c->end = c->p + pkt->l3_cap;
    tt__cur_skip(c, ihl);
    pkt->l4_off = (uint32_t)ihl;
    pkt->l4_len = (uint32_t)(tot - ihl);
    return decode_l4(c, pkt, events);
}

static tt__dec decode_ipv6(tt__cursor *c, uint32_t wire_left, tt__pkt *pkt, uint64_t *events)
{
    size_t cap = tt__cur_left(c);
    if (cap < 40) {
        EV(IPV6_TRUNCATED);
        return TT__DEC_TRUNCATED;
    }
    const uint8_t *h = c->p;
    size_t plen = tt__be16_at(h + 4);
    if (plen == 0 && wire_left > 40)
        plen = wire_left - 40; /* jumbogram or GSO capture */
    size_t tot = 40 + plen;
    pkt->ipver = 6;
    pkt->src = h + 8;
    pkt->dst = h + 24;
    pkt->ip_len = (uint32_t)tot;
    pkt->l3 = h;
    pkt->l3_cap = (uint32_t)(cap < tot ? cap : tot);
    c->end = c->p + pkt->l3_cap;
    tt__cur_skip(c, 40);
    uint8_t nh = h[6];
    uint32_t foff;
    bool more, hasf;
    tt__dec r = walk_ipv6_ext(c, plen, &nh, &foff, &more, &hasf, events, false);
    if (r != TT__DEC_OK)
        return r;
    pkt->proto = nh;
    if (hasf && foff != 0) {
        EV(IPV6_FRAG_LATER);
        return TT__DEC_SKIP;
    }
    if (hasf && more) {
        EV(IPV6_FRAG_FIRST);
        pkt->frag_first = true;
    }
    if (nh == 59) /* no next header */
        return TT__DEC_SKIP;
    pkt->l4_off = (uint32_t)(c->p - h);
    pkt->l4_len = (uint32_t)(tot - pkt->l4_off);
    return decode_l4(c, pkt, events);
}

tt__dec tt__decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                   tt__pkt *pkt, uint64_t *events)
{
    tt__cursor c;
    memset(pkt, 0, sizeof(*pkt));
    tt__cur_init(&c, data, caplen);
    int want = strip_link(linktype, &c, events);
    if (want == -2)
        return TT__DEC_TRUNCATED;
    if (want < 0)
        return TT__DEC_SKIP;
    if (!tt__cur_has(&c, 1)) {
        EV(LINK_TRUNCATED);
        return TT__DEC_TRUNCATED;
    }
    size_t link_len = tt__cur_off(&c);
    uint32_t wire_left = wirelen > link_len ? (uint32_t)(wirelen - link_len) : 0;
    int ver = c.p[0] >> 4;
    if (want != 0 && ver != want) {
        EV(IP_VERSION_MISMATCH);
        return TT__DEC_INVALID;
    }
    if (ver == 4)
        return decode_ipv4(&c, wire_left, pkt, events);
    if (ver == 6)
        return decode_ipv6(&c, wire_left, pkt, events);
    EV(IP_VERSION_MISMATCH);
    return TT__DEC_INVALID;
}
