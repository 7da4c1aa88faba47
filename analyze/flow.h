/* flow.h - per-flow state and the analyzer's internal structure. */
#ifndef TT_ANALYZE_FLOW_H
#define TT_ANALYZE_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "analyze/decode.h"
#include "analyze/dpi.h"
#include "analyze/judgment.h"
#include "tunneltap/analyzer.h"

#define TT__NIL UINT32_MAX

/* Zeek's TCP endpoint states (REFERENCE §1). */
enum {
    TT__TCP_INACTIVE = 0,
    TT__TCP_SYN_SENT,
    TT__TCP_SYN_ACK_SENT,
    TT__TCP_PARTIAL,
    TT__TCP_ESTABLISHED,
    TT__TCP_CLOSED,
    TT__TCP_RESET,
};

/* Expiry lists: each ordered by last activity, each with one timeout. */
enum { TT__LC_TCP_SETUP, TT__LC_TCP_EST, TT__LC_LINGER, TT__LC_UDP, TT__LC_ICMP, TT__LC_N };

/* Judge queues: each FIFO in deadline order (one deadline per queue). */
enum {
    TT__JQ_NONE,
    TT__JQ_TCP_ATTEMPT,
    TT__JQ_TCP_ACK,
    TT__JQ_UDP,
    TT__JQ_DNS,
    TT__JQ_ICMP,
    TT__JQ_N
};

/* Flow flags. */
enum {
    TT__F_SYN_FIRST = 1u << 0,         /* originator's first packet was a pure SYN */
    TT__F_SYNACK = 1u << 1,            /* responder sent SYN-ACK */
    TT__F_ORIG_ACKED = 1u << 2,        /* originator sent a non-SYN packet after the SYN-ACK */
    TT__F_RESP_PROGRESS = 1u << 3,     /* responder sent a non-SYN packet after that */
    TT__F_SYNACK_REPEAT = 1u << 4,     /* responder re-sent SYN-ACK after the originator's ACK */
    TT__F_REJECTED = 1u << 5,          /* responder RST while the originator was in SYN_SENT */
    TT__F_ICMP_UNREACH = 1u << 6,      /* an ICMP unreachable quoted this flow */
    TT__F_MALFORMED = 1u << 7,         /* a datagram of this flow contradicted itself */
    TT__F_TRUNC = 1u << 8,             /* a packet of this flow was cut by the snaplen */
    TT__F_MULTICAST = 1u << 9,         /* responder is multicast/broadcast */
    TT__F_JUDGED = 1u << 10,           /* verdict reached (deadline or evidence) */
    TT__F_DPI_DONE = 1u << 11,         /* classification finished */
    TT__F_ONE_WAY_KEY = 1u << 12,      /* ICMP one-way message: directional key */
    TT__F_ICMP_ERR = 1u << 13,         /* an ICMP error (not unreachable) quoted this flow */
    TT__F_SYNACK_AFTER_ACK = 1u << 14, /* internal: ack seen, watch for SYN-ACK repeats */
    TT__F_GUESSED = 1u << 15,          /* guess[] holds the port guess (analyzer.c: build_conn) */
};

typedef struct tt__ep {
    uint32_t start_seq, last_seq, ack_seq; /* Zeek's TCP_Endpoint sequence space */
    uint32_t hist_syn, hist_fin, hist_rst; /* last seq that added s/f/r to history */
    uint32_t rxmt;                         /* retransmissions ('t') */
    uint32_t missed;                       /* bytes acked but never seen ('g') */
    uint16_t zwin, badsum, gaps;           /* 'w', 'c', 'g' counters */
    uint8_t state, prev_state;
    uint8_t fin_seen, seq_set;
} tt__ep;

typedef struct tt__flow {
    uint8_t addr[2][16]; /* [0] originator, [1] responder */
    uint16_t port[2];
    uint8_t proto, ipver;
    uint8_t lclass, jclass;
    uint8_t verdict, certainty;
    uint8_t dpi_pkts, hist_len;
    uint8_t icmp_type, icmp_code;
    uint16_t flags;
    uint16_t unc_why;
    uint16_t late;
    uint16_t dpi_proto[2];
    uint32_t hnext;        /* hash chain */
    uint32_t lprev, lnext; /* expiry list */
    uint32_t jprev, jnext; /* judge queue */
    uint32_t dpi_slot;
    uint32_t serial;
    uint32_t pkts[2];
    uint32_t hist_seen; /* Zeek's history bit mask */
    uint64_t first_us, last_us;
    uint64_t judge_at_us; /* deadline of the judge queue entry */
    uint64_t judged_us;
    uint64_t ip_bytes[2];
    char hist[20];
    uint16_t guess[2]; /* nDPI's guess from the ports, once (in what was padding) */
    union {
        tt__ep ep[2]; /* TCP */
        struct {
            uint64_t bytes[2];  /* UDP/ICMP payload bytes */
            uint32_t badsum[2]; /* datagrams with a bad checksum ('C') */
        } d;
    } u;
} tt__flow;

/* docs/PERFORMANCE.md: at most 256 bytes per tracked flow. */
_Static_assert(sizeof(tt__flow) <= 256, "tt__flow grew past 256 bytes");

typedef struct tt__list {
    uint32_t head, tail;
    uint32_t n; /* flows on the list */
} tt__list;

/* A coalesced interval in which the capture lost or cut packets. */
typedef struct tt__damage {
    uint64_t from_us, to_us;
    uint16_t why; /* TT_UNC_CAPTURE_LOSS / TT_UNC_SNAPLEN */
} tt__damage;

#define TT__DAMAGE_SLOTS 256

struct tt_analyzer {
    tt_analyzer_config cfg;
    tt_allocator al;
    tt__flow *flows;
    uint32_t *buckets;
    uint32_t nbuckets, max_flows;
    uint32_t bused; /* buckets in use: a power of two <= nbuckets (analyzer.c: grow_buckets) */
    uint32_t free_head, nactive;
    uint32_t next_unused; /* flows [next_unused, max_flows) were never used */
    int last_link;        /* link type last checked by tt_analyzer_packet (0: DLT_NULL) */
    tt__list lists[TT__LC_N];
    uint64_t timeouts_us[TT__LC_N];
    tt__list jq[TT__JQ_N];
    uint64_t deadlines_us[TT__JQ_N];
    tt__dpi *dpi;
    uint32_t *dpi_owner;           /* per nDPI slot: the flow holding it */
    uint32_t *dpi_prev, *dpi_next; /* per nDPI slot: least recently fed first */
    tt__list dpi_lru;
    uint64_t now_us;
    uint64_t next_due_us; /* no list head is due before this (analyzer.c: lower_due) */
    uint64_t serial;
    uint64_t uid_seed;
    bool started, finished;
    tt__damage damage[TT__DAMAGE_SLOTS];
    uint32_t ndamage, damage_next;
    tt_analyzer_stats st;
    size_t mem_bytes;
    char namebuf[64];            /* the l7 name of the record being built */
    tt__judgment_fn judgment_fn; /* see judgment.h; used when cfg.on_judge is NULL */
    void *judgment_ctx;
    tt__brief_fn brief_fn; /* see judgment.h; used when cfg.on_conn is NULL */
    void *brief_ctx;
};

/* TCP state machine and history (tcp.c). */
void tt__tcp_packet(tt_analyzer *a, tt__flow *f, const tt__pkt *p, bool is_orig);
/* Zeek's IsReuse(): does this SYN start a new connection on the tuple? */
bool tt__tcp_is_reuse(const tt__flow *f, const tt__pkt *p, bool is_orig);
/* Zeek's conn_state() for TCP. */
const char *tt__tcp_conn_state(const tt__flow *f);
/* Zeek's TCP_Endpoint::Size(). */
uint64_t tt__tcp_size(const tt__flow *f, int side);

/* History helpers shared by TCP/UDP. */
bool tt__hist_check(tt__flow *f, uint32_t mask, char code, bool is_orig);
void tt__hist_add(tt__flow *f, char code, bool is_orig);
void tt__hist_scaled(tt__flow *f, char code, uint32_t count, bool is_orig);

/* Verdicts (verdict.c). now_us: time of judging; final: end of input. */
tt_verdict tt__verdict(const tt_analyzer *a, const tt__flow *f, uint64_t now_us, bool final);
/* The conn record of f. A TCP/UDP flow nDPI did not name must carry its port
 * guess (TT__F_GUESSED, f->guess): build_conn in analyzer.c makes it first. */
void tt__fill_conn(tt_analyzer *a, const tt__flow *f, tt_conn *c);
/* The conn record's service alone (tt__fill_conn's c->service), same contract. */
const char *tt__flow_service(tt_analyzer *a, const tt__flow *f);
/* The brief record of f (judgment.h): tt__fill_conn's fields of the same
 * names, same contract. */
void tt__fill_brief(tt_analyzer *a, const tt__flow *f, tt__brief *b);
bool tt__likely_server_port(uint8_t proto, uint16_t port);
bool tt__port_one_way(uint16_t port);

#endif
