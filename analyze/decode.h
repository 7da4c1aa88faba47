/* decode.h - link layer, IPv4/IPv6, TCP/UDP/ICMP decoding into a tt__pkt. */
#ifndef TT_ANALYZE_DECODE_H
#define TT_ANALYZE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "tunneltap/analyzer.h"

/* Outcome of decoding one packet. Truncated (cut by the snapshot length) and
 * invalid (the packet contradicts itself) are different: only the second can
 * be the network's fault. */
typedef enum tt__dec {
    TT__DEC_OK = 0,        /* IP + L4 header decoded: feed the flow */
    TT__DEC_TRUNCATED = 1, /* headers cut by the capture: counted, not a network fault */
    TT__DEC_INVALID = 2,   /* headers contradict themselves */
    TT__DEC_SKIP = 3,      /* nothing to track: not IP, later fragment */
} tt__dec;

/* Quoted packet inside an ICMP error (RFC 792 / RFC 4443). */
typedef struct tt__quote {
    uint8_t ipver, proto;
    const uint8_t *src, *dst;
    uint16_t sport, dport; /* ICMP: type/ counterpart as for the flow key */
    uint32_t tcp_seq;
} tt__quote;

typedef struct tt__pkt {
    uint64_t ts_us;
    const uint8_t *l3;        /* IP header */
    uint32_t l3_cap;          /* captured bytes from l3 (clipped to the IP length) */
    uint32_t ip_len;          /* IP total length per its header (v6: 40 + payload length) */
    uint8_t ipver;            /* 4 or 6 */
    uint8_t proto;            /* transport protocol after extension headers */
    bool frag_first;          /* first fragment of a fragmented datagram */
    uint8_t tunnel_depth;     /* IP-in-IP levels removed */
    bool l4_cut;              /* transport header options or payload cut by snaplen */
    const uint8_t *src, *dst; /* 4 or 16 bytes inside the packet */
    uint16_t sport, dport;
    uint32_t l4_off;      /* transport header offset from l3 */
    uint32_t l4_len;      /* transport bytes per the IP header (header + payload) */
    uint32_t payload_len; /* transport payload bytes per the headers */
    /* TCP */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    uint16_t win;
    /* UDP */
    bool udp_len_bad; /* length field < 8 or > IP payload (not a first fragment) */
    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    bool icmp_error; /* destination unreachable, time exceeded, ... */
    bool has_quote;  /* quote decoded far enough to name a flow */
    tt__quote quote;
} tt__pkt;

enum {
    TT__TH_FIN = 0x01,
    TT__TH_SYN = 0x02,
    TT__TH_RST = 0x04,
    TT__TH_PUSH = 0x08,
    TT__TH_ACK = 0x10,
    TT__TH_URG = 0x20,
};

/* Decodes one captured frame of `linktype`. Counts events in `events`
 * (TT_EV_COUNT entries). The packet must outlive pkt's pointers. */
tt__dec tt__decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                   tt__pkt *pkt, uint64_t *events);

/* Verifies the transport checksum of a fully captured, unfragmented packet.
 * Returns true when it is right, or when it cannot be checked (cut, fragment,
 * IPv4 UDP checksum 0). */
bool tt__checksum_ok(const tt__pkt *pkt);

#endif
