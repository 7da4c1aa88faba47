/* test_decode.c - link layers, IP, transport headers; truncation never invalid. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "analyze/decode.h"
#include "pkt.h"

static uint64_t ev[TT_EV_COUNT];

static tt__dec dec(int link, const uint8_t *b, size_t n, tt__pkt *p)
{
    return tt__decode(link, b, (uint32_t)n, (uint32_t)n, p, ev);
}

static void reset_events(void)
{
    memset(ev, 0, sizeof(ev));
}

TestSuite(decode, .init = reset_events);

Test(decode, raw_ipv4_tcp_syn_gives_ports_flags_and_seq)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p;
    tt__pkt d;
    t_tcp(&p, &f, false, 0x02, 1000, 0, NULL, 0);
    cr_assert_eq(dec(TT_LINK_RAW, p.b, p.len, &d), TT__DEC_OK);
    cr_assert_eq(d.ipver, 4);
    cr_assert_eq(d.proto, 6);
    cr_assert_eq(d.sport, 40000);
    cr_assert_eq(d.dport, 80);
    cr_assert_eq(d.seq, 1000);
    cr_assert_eq(d.tcp_flags, 0x02);
    cr_assert_eq(d.payload_len, 0);
    cr_assert(tt__checksum_ok(&d));
}

Test(decode, checksum_detects_a_flipped_byte)
{
    tflow f = t_flow6(1, 5353, 2, 53);
    tpkt p;
    tt__pkt d;
    t_udp(&p, &f, false, "hello", 5);
    cr_assert_eq(dec(TT_LINK_IPV6, p.b, p.len, &d), TT__DEC_OK);
    cr_assert(tt__checksum_ok(&d));
    p.b[p.len - 1] ^= 0x40;
    cr_assert_eq(dec(TT_LINK_IPV6, p.b, p.len, &d), TT__DEC_OK);
    cr_assert_not(tt__checksum_ok(&d));
}

Test(decode, null_link_accepts_both_byte_orders_and_all_ipv6_families)
{
    tflow f6 = t_flow6(1, 1000, 2, 53);
    tpkt p;
    uint8_t frame[2100];
    tt__pkt d;
    t_udp(&p, &f6, false, "x", 1);
    const uint32_t fams[] = {10, 24, 28, 30};
    for (size_t i = 0; i < 4; i++) {
        for (int be = 0; be < 2; be++) {
            uint32_t v = fams[i];
            if (be)
                t_put32(frame, v);
            else
                frame[0] = (uint8_t)v, frame[1] = frame[2] = frame[3] = 0;
            memcpy(frame + 4, p.b, p.len);
            cr_assert_eq(dec(TT_LINK_NULL, frame, p.len + 4, &d), TT__DEC_OK, "af %u be %d",
                         fams[i], be);
            cr_assert_eq(d.ipver, 6);
            cr_assert_eq(dec(TT_LINK_LOOP, frame, p.len + 4, &d), TT__DEC_OK);
        }
    }
    t_put32(frame, 7); /* unknown family */
    cr_assert_eq(dec(TT_LINK_NULL, frame, p.len + 4, &d), TT__DEC_SKIP);
    cr_assert_eq(ev[TT_EV_LINK_FAMILY_UNKNOWN], 1);
}

Test(decode, ethernet_with_vlan_and_qinq_tags)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tpkt p;
    uint8_t frame[2100];
    tt__pkt d;
    t_udp(&p, &f, false, "q", 1);
    memset(frame, 0xaa, 12);
    t_put16(frame + 12, 0x88a8);
    t_put16(frame + 14, 100);
    t_put16(frame + 16, 0x8100);
    t_put16(frame + 18, 200);
    t_put16(frame + 20, 0x0800);
    memcpy(frame + 22, p.b, p.len);
    cr_assert_eq(dec(TT_LINK_ETHERNET, frame, p.len + 22, &d), TT__DEC_OK);
    cr_assert_eq(d.dport, 53);
    /* ARP is not IP: skipped, counted */
    t_put16(frame + 12, 0x0806);
    cr_assert_eq(dec(TT_LINK_ETHERNET, frame, 60, &d), TT__DEC_SKIP);
    cr_assert_eq(ev[TT_EV_LINK_NOT_IP], 1);
    /* five stacked tags are refused */
    for (int i = 0; i < 5; i++)
        t_put16(frame + 12 + 4 * i, 0x8100);
    t_put16(frame + 32, 0x0800);
    memcpy(frame + 34, p.b, p.len);
    cr_assert_eq(dec(TT_LINK_ETHERNET, frame, p.len + 34, &d), TT__DEC_SKIP);
    cr_assert_eq(ev[TT_EV_LINK_VLAN_TOO_DEEP], 1);
}

Test(decode, linux_sll_and_sll2)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tpkt p;
    uint8_t frame[2100];
    tt__pkt d;
    t_udp(&p, &f, false, "q", 1);
    memset(frame, 0, 20);
    t_put16(frame + 14, 0x0800);
    memcpy(frame + 16, p.b, p.len);
    cr_assert_eq(dec(TT_LINK_SLL, frame, p.len + 16, &d), TT__DEC_OK);
    memset(frame, 0, 20);
    t_put16(frame, 0x0800);
    memcpy(frame + 20, p.b, p.len);
    cr_assert_eq(dec(TT_LINK_SLL2, frame, p.len + 20, &d), TT__DEC_OK);
    cr_assert_eq(d.sport, 1234);
}

Test(decode, version_nibble_disagreeing_with_link_is_invalid)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tpkt p;
    tt__pkt d;
    t_udp(&p, &f, false, "q", 1);
    cr_assert_eq(dec(TT_LINK_IPV6, p.b, p.len, &d), TT__DEC_INVALID);
    cr_assert_eq(ev[TT_EV_IP_VERSION_MISMATCH], 1);
}

Test(decode, later_ipv4_fragment_is_never_read_as_ports)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tpkt p;
    tt__pkt d;
    t_udp(&p, &f, false, "abcdefgh", 8);
    t_put16(p.b + 6, 185); /* offset 185*8, no MF */
    cr_assert_eq(dec(TT_LINK_RAW, p.b, p.len, &d), TT__DEC_SKIP);
    cr_assert_eq(ev[TT_EV_IPV4_FRAG_LATER], 1);
    /* first fragment: UDP length larger than this fragment is not malformed */
    t_udp(&p, &f, false, "abcdefgh", 8);
    t_put16(p.b + 6, 0x2000);
    t_put16(p.b + 20 + 4, 3000);
    cr_assert_eq(dec(TT_LINK_RAW, p.b, p.len, &d), TT__DEC_OK);
    cr_assert(d.frag_first);
    cr_assert_not(d.udp_len_bad);
}

Test(decode, udp_length_field_below_header_is_invalid_but_attributed)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tpkt p;
    tt__pkt d;
    t_udp(&p, &f, false, "abcdefgh", 8);
    t_put16(p.b + 24, 4);
    cr_assert_eq(dec(TT_LINK_RAW, p.b, p.len, &d), TT__DEC_OK);
    cr_assert(d.udp_len_bad);
    cr_assert_eq(ev[TT_EV_UDP_LEN_INVALID], 1);
    t_put16(p.b + 24, 500); /* above the IP payload */
    cr_assert_eq(dec(TT_LINK_RAW, p.b, p.len, &d), TT__DEC_OK);
    cr_assert(d.udp_len_bad);
}

/* An IPv6 packet with n extension headers of type `type` before UDP. */
static size_t v6_with_ext(uint8_t *b, int n, uint8_t type, uint8_t extlen)
{
    tflow f = t_flow6(1, 1000, 2, 53);
    tpkt p;
    t_udp(&p, &f, false, "z", 1);
    size_t ext = (size_t)(extlen + 1) * 8;
    memcpy(b, p.b, 40);
    size_t off = 40;
    uint8_t *prev_nh = b + 6;
    for (int i = 0; i < n; i++) {
        *prev_nh = type;
        memset(b + off, 0, ext);
        b[off + 1] = extlen;
        prev_nh = b + off;
        off += ext;
    }
    *prev_nh = 17;
    memcpy(b + off, p.b + 40, p.len - 40);
    off += p.len - 40;
    t_put16(b + 4, (uint16_t)(off - 40));
    return off;
}

Test(decode, ipv6_extension_chain_is_walked_and_bounded)
{
    uint8_t b[1500];
    tt__pkt d;
    size_t n = v6_with_ext(b, 3, 60, 0);
    cr_assert_eq(dec(TT_LINK_RAW, b, n, &d), TT__DEC_OK);
    cr_assert_eq(d.proto, 17);
    cr_assert_eq(d.dport, 53);
    n = v6_with_ext(b, 9, 0, 0); /* nine hop-by-hop headers: a loop in spirit */
    cr_assert_eq(dec(TT_LINK_RAW, b, n, &d), TT__DEC_INVALID);
    cr_assert_eq(ev[TT_EV_IPV6_EXT_TOO_MANY], 1);
    n = v6_with_ext(b, 1, 60, 20); /* extension longer than the packet says */
    t_put16(b + 4, 16);
    cr_assert_eq(tt__decode(TT_LINK_RAW, b, 56, 56, &d, ev), TT__DEC_INVALID);
}

Test(decode, icmp_error_quoting_a_cut_header_is_counted_not_matched)
{
    tflow f = t_flow4("192.0.2.1", 1234, "192.0.2.2", 53);
    tflow r = t_flow4("192.0.2.2", 0, "192.0.2.1", 0);
    tpkt req, err;
    tt__pkt d;
    t_udp(&req, &f, false, "query", 5);
    for (size_t q = 0; q <= 28; q++) {
        t_icmp(&err, &r, false, 3, 3, 0, req.b, q);
        cr_assert_eq(dec(TT_LINK_RAW, err.b, err.len, &d), TT__DEC_OK);
        cr_assert(d.icmp_error);
        cr_assert_eq(d.has_quote, q >= 24, "quote of %zu bytes", q);
        if (d.has_quote) {
            cr_assert_eq(d.quote.sport, 1234);
            cr_assert_eq(d.quote.dport, 53);
        }
    }
    cr_assert(ev[TT_EV_ICMP_ERROR_QUOTE_SHORT] > 0);
}

static void sweep(int link, const uint8_t *b, size_t n)
{
    tt__pkt d;
    for (size_t cap = 0; cap <= n; cap++) {
        tt__dec r = tt__decode(link, b, (uint32_t)cap, (uint32_t)n, &d, ev);
        cr_assert(r == TT__DEC_OK || r == TT__DEC_TRUNCATED || r == TT__DEC_SKIP,
                  "snaplen %zu of %zu gave %d", cap, n, r);
    }
}

Test(decode, every_snaplen_of_every_fixture_is_ok_or_truncated)
{
    tflow f4 = t_flow4("10.1.1.1", 5555, "10.2.2.2", 443);
    tflow f6 = t_flow6(9, 5555, 10, 443);
    tflow r4 = t_flow4("10.2.2.2", 0, "10.1.1.1", 0);
    tpkt p, q;
    uint8_t frame[2200];
    t_tcp(&p, &f4, false, 0x18, 1, 1, "GET / HTTP/1.1\r\n", 16);
    sweep(TT_LINK_RAW, p.b, p.len);
    t_tcp(&p, &f6, true, 0x12, 7, 2, NULL, 0);
    sweep(TT_LINK_IPV6, p.b, p.len);
    t_udp(&p, &f4, false, "dns?", 4);
    sweep(TT_LINK_IPV4, p.b, p.len);
    t_icmp(&q, &r4, false, 3, 3, 0, p.b, p.len);
    sweep(TT_LINK_RAW, q.b, q.len);
    memset(frame, 0, 18);
    t_put16(frame + 12, 0x8100);
    t_put16(frame + 16, 0x86dd);
    t_udp(&p, &f6, false, "v6", 2);
    memcpy(frame + 18, p.b, p.len);
    sweep(TT_LINK_ETHERNET, frame, p.len + 18);
    uint8_t b[1500];
    size_t n = v6_with_ext(b, 4, 60, 1);
    sweep(TT_LINK_RAW, b, n);
}
