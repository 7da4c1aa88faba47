/* analyzer.h - the single-threaded dissector: decode, track flows, judge them.
 *
 * A tt_analyzer takes packets (any supported link type) in timestamp order,
 * keeps a bounded flow table, and reports one tt_conn record per connection
 * (Zeek's conn.log vocabulary plus tunneltap's finer verdicts). It never
 * prints, never exits and never allocates per packet; everything it needs is
 * allocated at open time through the configured allocator.
 */
#ifndef TUNNELTAP_ANALYZER_H
#define TUNNELTAP_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Link types: the pcap LINKTYPE_/DLT_ numbers, plus tunneltap's own for
 * packets whose family is given out of band (Network Extension). */
enum {
    TT_LINK_NULL = 0,       /* 4-byte host-order address family (BSD loopback, utun) */
    TT_LINK_ETHERNET = 1,   /* Ethernet II, with VLAN/QinQ tags */
    TT_LINK_RAW_DLT12 = 12, /* raw IP (DLT_RAW on most platforms) */
    TT_LINK_RAW_DLT14 = 14, /* raw IP (DLT_RAW on OpenBSD) */
    TT_LINK_RAW = 101,      /* raw IP (LINKTYPE_RAW), version from the first nibble */
    TT_LINK_LOOP = 108,     /* 4-byte big-endian address family (OpenBSD loop, utun fd) */
    TT_LINK_SLL = 113,      /* Linux cooked v1 */
    TT_LINK_IPV4 = 228,     /* raw IPv4 */
    TT_LINK_IPV6 = 229,     /* raw IPv6 */
    TT_LINK_SLL2 = 276,     /* Linux cooked v2 */
};

/* Returns true when tunneltap can decode this link type.
 * Thread-safety: any thread. */
TT_API bool tt_linktype_supported(int linktype);

/* Name of a link type ("EN10MB", "RAW", ...) or "unknown".
 * Thread-safety: any thread. */
TT_API const char *tt_linktype_name(int linktype);

/* Decoder events: named, counted, never fatal. XX(id, name, description). */
#define TT_EVENT_MAP(XX)                                                                           \
    XX(LINK_TRUNCATED, "link.truncated", "link-layer header cut by the snapshot length")           \
    XX(LINK_NOT_IP, "link.not_ip", "link-layer payload is not IPv4/IPv6 (ARP, LLDP, ...)")         \
    XX(LINK_VLAN_TOO_DEEP, "link.vlan_too_deep", "more than 4 stacked VLAN tags")                  \
    XX(LINK_FAMILY_UNKNOWN, "link.family_unknown", "NULL/LOOP address family not IPv4/IPv6")       \
    XX(IP_VERSION_MISMATCH, "ip.version_mismatch", "IP version nibble disagrees with link header") \
    XX(IPV4_TRUNCATED, "ipv4.truncated", "IPv4 header cut by the snapshot length")                 \
    XX(IPV4_HLEN_INVALID, "ipv4.hlen_invalid", "IPv4 header length below 20 bytes")                \
    XX(IPV4_LEN_INVALID, "ipv4.len_invalid", "IPv4 total length below its header length")          \
    XX(IPV4_FRAG_FIRST, "ipv4.frag_first", "first IPv4 fragment (feeds the flow)")                 \
    XX(IPV4_FRAG_LATER, "ipv4.frag_later", "later IPv4 fragment (counted, no ports)")              \
    XX(IPV6_TRUNCATED, "ipv6.truncated", "IPv6 header or extension header cut")                    \
    XX(IPV6_EXT_TOO_MANY, "ipv6.ext_too_many", "IPv6 extension chain longer than 8 headers")       \
    XX(IPV6_FRAG_FIRST, "ipv6.frag_first", "first IPv6 fragment (feeds the flow)")                 \
    XX(IPV6_FRAG_LATER, "ipv6.frag_later", "later IPv6 fragment (counted, no ports)")              \
    XX(IPV6_LEN_INVALID, "ipv6.len_invalid", "IPv6 payload length shorter than its headers")       \
    XX(TCP_TRUNCATED, "tcp.truncated", "TCP header cut by the snapshot length")                    \
    XX(TCP_HLEN_INVALID, "tcp.hlen_invalid", "TCP data offset below 5 or past the IP payload")     \
    XX(TCP_CHECKSUM_BAD, "tcp.checksum_bad", "TCP checksum wrong (packet ignored, history 'C')")   \
    XX(UDP_TRUNCATED, "udp.truncated", "UDP header cut by the snapshot length")                    \
    XX(UDP_LEN_INVALID, "udp.len_invalid", "UDP length field below 8 or above the IP payload")     \
    XX(UDP_LEN_SHORT, "udp.len_short", "UDP length field shorter than the IP payload (padding)")   \
    XX(UDP_CHECKSUM_BAD, "udp.checksum_bad", "UDP checksum wrong (packet ignored, history 'C')")   \
    XX(ICMP_TRUNCATED, "icmp.truncated", "ICMP header cut by the snapshot length")                 \
    XX(ICMP_INVALID, "icmp.invalid", "ICMP message shorter than its header")                       \
    XX(ICMP_ERROR_QUOTE_SHORT, "icmp.error_quote_short", "ICMP error quotes too little to match")  \
    XX(ICMP_ERROR_UNMATCHED, "icmp.error_unmatched", "ICMP error quoting no tracked flow")         \
    XX(ICMP_ERROR_MATCHED, "icmp.error_matched", "ICMP error matched to the flow it quotes")       \
    XX(IP_TUNNEL, "ip.tunnel", "IP-in-IP (4in4, 6in4, 4in6, 6in6) decapsulated")                   \
    XX(IP_TUNNEL_TOO_DEEP, "ip.tunnel_too_deep", "IP-in-IP nested deeper than 2 levels")           \
    XX(IP_OTHER_PROTO, "ip.other_proto", "IP protocol other than TCP/UDP/ICMP (tracked as OTH)")   \
    XX(FLOW_EVICTED, "flow.evicted", "flow table full: oldest idle flow evicted early")            \
    XX(FLOW_DPI_POOL_EMPTY, "flow.dpi_pool_empty", "no free nDPI state: flow not classified")

typedef enum tt_event {
#define TT_EV_ENUM_(id, name, desc) TT_EV_##id,
    TT_EVENT_MAP(TT_EV_ENUM_)
#undef TT_EV_ENUM_
        TT_EV_COUNT
} tt_event;

/* "ipv4.truncated" etc.; NULL for an out-of-range id. Thread-safety: any thread. */
TT_API const char *tt_event_name(tt_event ev);
TT_API const char *tt_event_description(tt_event ev);

/* tunneltap verdicts (docs/verdicts.md defines each exactly).
 * XX(id, name, is_failure). */
#define TT_VERDICT_MAP(XX)                                                                         \
    XX(PENDING, "pending", 0)                                                                      \
    XX(ESTABLISHED, "established", 0)                                                              \
    XX(CLOSED, "closed", 0)                                                                        \
    XX(RESET, "reset", 0)                                                                          \
    XX(MIDSTREAM, "midstream", 0)                                                                  \
    XX(SYN_UNANSWERED, "syn_unanswered", 1)                                                        \
    XX(SYN_REJECTED, "syn_rejected", 1)                                                            \
    XX(SYNACK_UNACKED, "synack_unacked", 1)                                                        \
    XX(ANSWERED, "answered", 0)                                                                    \
    XX(UNANSWERED, "unanswered", 1)                                                                \
    XX(ICMP_UNREACHABLE, "icmp_unreachable", 1)                                                    \
    XX(MALFORMED, "malformed", 1)                                                                  \
    XX(ONE_WAY, "one_way", 0)                                                                      \
    XX(REPLY_ONLY, "reply_only", 0)                                                                \
    XX(OTHER, "other", 0)

typedef enum tt_verdict {
#define TT_VERDICT_ENUM_(id, name, fail) TT_VERDICT_##id,
    TT_VERDICT_MAP(TT_VERDICT_ENUM_)
#undef TT_VERDICT_ENUM_
        TT_VERDICT_COUNT
} tt_verdict;

TT_API const char *tt_verdict_name(tt_verdict v);
TT_API bool tt_verdict_is_failure(tt_verdict v);

typedef enum tt_certainty {
    TT_CERTAINTY_NONE = 0, /* not a failure: nothing to be certain about */
    TT_CERTAIN = 1,        /* failure, and the capture is complete around it */
    TT_UNCERTAIN = 2,      /* failure, but the evidence may be a capture artifact */
} tt_certainty;

/* Why a failure is uncertain (bit mask in tt_conn.uncertain_why). */
enum {
    TT_UNC_CAPTURE_LOSS = 1u << 0, /* drops (libpcap, ring) in the flow's judging window */
    TT_UNC_SNAPLEN = 1u << 1,      /* headers cut by the snapshot length in that window */
    TT_UNC_CAPTURE_END = 1u << 2,  /* capture ended before the flow's deadline passed */
    TT_UNC_MIDSTREAM = 1u << 3,    /* capture began after the flow did */
    TT_UNC_EVICTED = 1u << 4,      /* flow evicted early because the table was full */
};

/* One connection, as reported when it ends (or when the analyzer finishes). */
typedef struct tt_conn {
    uint64_t ts_us;     /* first packet, microseconds since the epoch */
    uint64_t last_us;   /* last packet counted towards duration */
    char uid[20];       /* "C" + base62, unique within one analyzer */
    uint8_t ip_version; /* 4 or 6 */
    uint8_t proto;      /* 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, other */
    uint8_t orig_h[16]; /* IPv4 in the first 4 bytes */
    uint8_t resp_h[16];
    uint16_t orig_p, resp_p; /* ICMP: type and code/counterpart type (Zeek) */
    const char *service;     /* Zeek-style name ("dns", "ssl", ...) or NULL */
    const char *l7;          /* nDPI name ("TLS.Google") or NULL */
    bool has_sizes;          /* Zeek logs duration/bytes only when duration > 0 */
    uint64_t orig_bytes, resp_bytes, missed_bytes;
    const char *conn_state; /* "S0", "SF", "REJ", ... */
    char history[40];       /* Zeek history letters, "" when none */
    uint64_t orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes;
    tt_verdict verdict;
    tt_certainty certainty;
    uint32_t uncertain_why;       /* TT_UNC_* */
    uint32_t late_replies;        /* replies that came after the deadline had judged the flow */
    uint64_t judged_us;           /* when the verdict was first reached (0: never judged) */
    uint8_t icmp_type, icmp_code; /* last ICMP error matched to this flow (0/0: none) */
} tt_conn;

/* Called for every finished connection. The record is valid during the call. */
typedef void (*tt_conn_fn)(void *ctx, const tt_conn *conn);

/* Called when a flow is judged (deadline passed or evidence arrived) and again
 * when a later packet changes that verdict. old_verdict is TT_VERDICT_PENDING
 * the first time; old_certainty is the certainty that went with it. */
typedef void (*tt_judge_fn)(void *ctx, const tt_conn *conn, tt_verdict old_verdict,
                            tt_certainty old_certainty);

/* Log levels for the log callback. */
enum { TT_LOG_ERROR = 0, TT_LOG_WARN = 1, TT_LOG_INFO = 2, TT_LOG_DEBUG = 3 };
typedef void (*tt_log_fn)(void *ctx, int level, const char *msg);

/* Allocator used for everything the analyzer owns (nDPI's own allocations
 * go through nDPI's process-wide allocator, which tunneltap leaves alone). */
typedef struct tt_allocator {
    void *(*alloc)(void *ctx, size_t size); /* zeroed memory or NULL */
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} tt_allocator;

typedef struct tt_analyzer_config {
    size_t max_flows;      /* flow table size; when full the oldest idle flow is evicted */
    size_t max_dpi_flows;  /* flows being classified at once (each holds nDPI state) */
    bool enable_dpi;       /* classify with nDPI */
    bool dpi_first_name;   /* stop classifying a flow at nDPI's first name (default false):
                              less CPU; the name is now and then less precise */
    bool verify_checksums; /* drop bad-checksum packets like Zeek (default off = zeek -C) */
    uint32_t udp_reply_deadline_ms;   /* UDP request without reply -> unanswered */
    uint32_t dns_reply_deadline_ms;   /* the same for DNS (port 53 or nDPI DNS) */
    uint32_t tcp_attempt_deadline_ms; /* SYN without SYN-ACK/RST -> syn_unanswered */
    uint32_t tcp_ack_deadline_ms;     /* SYN-ACK without the originator's ACK */
    uint32_t icmp_reply_deadline_ms;  /* echo request without reply */
    uint32_t tcp_timeout_s;           /* inactivity, established TCP (Zeek: 300) */
    uint32_t tcp_setup_timeout_s;     /* inactivity before the handshake completes (60) */
    uint32_t udp_timeout_s;           /* inactivity, UDP (60) */
    uint32_t icmp_timeout_s;          /* inactivity, ICMP and other protocols (60) */
    uint32_t tcp_close_linger_ms;     /* state kept after FIN/RST (Zeek: 5 s) */
    size_t memory_budget;             /* 0: no cap; else open fails with TT_ENOMEM above it */
    bool prefault;                    /* touch the whole flow table at open (default true) */
    tt_allocator allocator;           /* alloc == NULL: calloc/free */
    tt_log_fn log;
    void *log_ctx;
    tt_conn_fn on_conn;
    void *conn_ctx;
    tt_judge_fn on_judge;
    void *judge_ctx;
} tt_analyzer_config;

/* Fills cfg with the documented defaults. Thread-safety: any thread. */
TT_API void tt_analyzer_config_init(tt_analyzer_config *cfg);

typedef struct tt_analyzer tt_analyzer;

/* Creates an analyzer. Returns 0 and sets *out, or a TT_E* code with a
 * message in errbuf (may be NULL); on error nothing is leaked.
 * Thread-safety: any thread (nDPI module creation is serialised internally). */
TT_API int tt_analyzer_open(tt_analyzer **out, const tt_analyzer_config *cfg, char *errbuf);

/* Bytes the analyzer would allocate for cfg (flow pools, nDPI module estimate).
 * Thread-safety: any thread. */
TT_API size_t tt_analyzer_memsize(const tt_analyzer_config *cfg);

/* Feeds one packet. ts_us must not go backwards (earlier ones are clamped
 * and counted). caplen bytes are at data; wirelen is the original length.
 * Returns 0, or TT_ELINKTYPE for a link type it cannot decode. Packet faults
 * are counted as events, never returned as errors.
 * Thread-safety: owner thread only. */
TT_API int tt_analyzer_packet(tt_analyzer *a, int linktype, uint64_t ts_us, const uint8_t *data,
                              uint32_t caplen, uint32_t wirelen);

/* Lets time pass without a packet (live capture idle): judges due flows and
 * expires idle ones. Thread-safety: owner thread only. */
TT_API void tt_analyzer_advance(tt_analyzer *a, uint64_t now_us);

/* Records that `count` packets were lost by the capture (libpcap or ring)
 * around now_us: failures judged in that window become uncertain.
 * Thread-safety: owner thread only. */
TT_API void tt_analyzer_note_loss(tt_analyzer *a, uint64_t now_us, uint64_t count);

/* End of input: judges every flow as of the last packet (flows whose deadline
 * had not passed get TT_UNC_CAPTURE_END) and reports them all through on_conn.
 * Thread-safety: owner thread only. */
TT_API void tt_analyzer_finish(tt_analyzer *a);

typedef struct tt_analyzer_stats {
    uint64_t packets, bytes; /* packets given to tt_analyzer_packet, wire bytes */
    uint64_t ip_packets;     /* decoded as IPv4/IPv6 */
    uint64_t flow_packets;   /* attributed to a flow */
    uint64_t loss_reported;  /* sum of tt_analyzer_note_loss counts */
    uint64_t ts_backwards;   /* timestamps clamped */
    uint64_t flows_created, flows_active, flows_reported;
    uint64_t flows_peak;
    uint64_t dpi_active, dpi_classified, dpi_given_up;
    uint64_t dpi_packets; /* packets given to nDPI */
    uint64_t late_replies;
    uint64_t by_verdict[TT_VERDICT_COUNT];           /* flows currently holding each verdict */
    uint64_t uncertain_by_verdict[TT_VERDICT_COUNT]; /* of those, uncertain failures */
    uint64_t events[TT_EV_COUNT];
    uint64_t first_us, last_us; /* timestamps of the first and last packet */
    size_t memory_bytes;        /* what the analyzer allocated (nDPI module estimated) */
    size_t flow_bytes;          /* bytes per tracked flow record */
} tt_analyzer_stats;

/* Thread-safety: owner thread only. */
TT_API void tt_analyzer_get_stats(const tt_analyzer *a, tt_analyzer_stats *out);

/* Frees everything. Flows not yet reported are dropped silently: call
 * tt_analyzer_finish first to get them. Thread-safety: owner thread only. */
TT_API void tt_analyzer_close(tt_analyzer *a);

/* Formats an address of a record ("192.0.2.1", "2001:db8::1"). */
TT_API void tt_conn_addr_str(const tt_conn *c, bool resp, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
