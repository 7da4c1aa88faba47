/* regress.h - filter-upgrade regression detection: markers, before/after
 * comparison, alerts, recovery, change-point estimation without a marker.
 *
 * The detector consumes verdicts (tt_judge_fn) and markers, keeps per-second
 * counters by flow start time, and compares the period before each marker
 * with the period after it using one-sided exact tests (Fisher's for rates,
 * a conditional binomial test for flow arrival rates). docs/regression.md
 * defines every alert and default. It runs on the analyzer's thread.
 */
#ifndef TUNNELTAP_REGRESS_H
#define TUNNELTAP_REGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/analyzer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_ALERT_KIND_MAP(XX)                                                                      \
    XX(UDP_UNANSWERED, "udp_unanswered")                                                           \
    XX(UDP_VANISHED, "udp_vanished")                                                               \
    XX(UDP_UNREACHABLE, "udp_unreachable")                                                         \
    XX(TCP_SYN_UNANSWERED, "tcp_syn_unanswered")                                                   \
    XX(TCP_SYN_REJECTED, "tcp_syn_rejected")                                                       \
    XX(TCP_SYNACK_UNACKED, "tcp_synack_unacked")

typedef enum tt_alert_kind {
#define TT_ALERT_ENUM_(id, name) TT_ALERT_##id,
    TT_ALERT_KIND_MAP(TT_ALERT_ENUM_)
#undef TT_ALERT_ENUM_
        TT_ALERT_KIND_COUNT
} tt_alert_kind;

/* "udp_unanswered", ...; Thread-safety: any thread. */
TT_API const char *tt_alert_kind_name(tt_alert_kind k);

#define TT_LABEL_MAX 64

typedef struct tt_marker_info {
    uint64_t ts_us;
    char label[TT_LABEL_MAX];
} tt_marker_info;

typedef struct tt_alert {
    tt_alert_kind kind;
    bool recovery;   /* the rates returned to the before-level */
    bool has_marker; /* false: change found without a marker */
    char marker[TT_LABEL_MAX];
    uint64_t marker_us;    /* the marker's instant (has_marker) */
    uint64_t ts_us;        /* when the regression began (marker or estimated change);
                            * for a recovery: when the rates were back */
    uint64_t raised_at_us; /* when the evidence sufficed (packet time) */
    uint64_t before_attempts, before_failures; /* vanished: flows, 0 */
    uint64_t after_attempts, after_failures;
    double before_seconds, after_seconds; /* lengths of the compared periods */
    double p_value;                       /* one-sided exact test */
    uint64_t took_us;                     /* recovery: from ts of the alert it closes to recovery */
    char services[48];                    /* "DNS/QUIC", "HTTP", ... seen among the failures */
    char message[320];                    /* the alert in plain words */
} tt_alert;

typedef void (*tt_alert_fn)(void *ctx, const tt_alert *alert);

typedef struct tt_regress_config {
    double alpha;          /* significance with a marker (default 0.001) */
    double alpha_unmarked; /* without a marker (default 1e-6) */
    double min_increase;   /* failure rate must rise by at least this (0.5) */
    uint32_t min_attempts; /* judged attempts needed after the change (8) */
    uint32_t max_span_s;   /* before-period at most this long (600) */
    uint32_t history_s;    /* seconds of per-second counters kept (3600) */
    uint32_t window_s;     /* without a marker: each side of a split (120) */
    uint32_t recovery_s;   /* recent period judged for recovery (30) */
    double vanish_ratio;   /* UDP arrivals below this share of before: vanished (0.1) */
    uint32_t settle_s;     /* newest seconds not yet fully judged (deadline + 1: 6) */
    bool detect_unmarked;  /* look for changes without markers (true) */
} tt_regress_config;

/* Fills the documented defaults. Thread-safety: any thread. */
TT_API void tt_regress_config_init(tt_regress_config *cfg);

/* One second of the timeline, by flow start time. */
typedef struct tt_timeline_bucket {
    uint64_t start_us;
    uint32_t flows_new;  /* connections that started */
    uint32_t udp_new;    /* UDP connections that started */
    uint32_t udp_judged; /* certain UDP verdicts expecting a reply */
    uint32_t udp_answered, udp_unanswered, udp_unreachable;
    uint32_t tcp_judged; /* certain TCP handshake verdicts */
    uint32_t tcp_completed, tcp_syn_unanswered, tcp_syn_rejected, tcp_synack_unacked;
    uint32_t uncertain; /* failures that may be capture artifacts */
} tt_timeline_bucket;

/* Totals of a period (sums of timeline buckets). */
typedef struct tt_period {
    uint64_t from_us, to_us;
    uint64_t flows_new, udp_new;
    uint64_t udp_judged, udp_answered, udp_unanswered, udp_unreachable;
    uint64_t tcp_judged, tcp_completed, tcp_syn_unanswered, tcp_syn_rejected, tcp_synack_unacked;
    uint64_t uncertain;
} tt_period;

typedef struct tt_regress tt_regress;

/* Creates a detector (allocates history_s buckets and the marker table
 * through al; NULL al: calloc/free). Thread-safety: any thread. */
TT_API int tt_regress_open(tt_regress **out, const tt_regress_config *cfg, const tt_allocator *al,
                           tt_alert_fn on_alert, void *alert_ctx, char *errbuf);
TT_API void tt_regress_close(tt_regress *r);

/* Bytes tt_regress_open allocates for cfg. Thread-safety: any thread. */
TT_API size_t tt_regress_memsize(const tt_regress_config *cfg);

/* Feeds a verdict (use as, or from, a tt_judge_fn). Thread-safety: owner thread only. */
TT_API void tt_regress_judge(tt_regress *r, const tt_conn *c, tt_verdict old_verdict,
                             tt_certainty old_certainty);

/* Registers a marker (label copied, control characters replaced).
 * Thread-safety: owner thread only. */
TT_API int tt_regress_mark(tt_regress *r, uint64_t ts_us, const char *label);

/* Evaluates comparisons as of packet time now_us; raises alerts through
 * on_alert. Cheap to call often (it works at most once per second of packet
 * time unless final). final: end of input. Thread-safety: owner thread only. */
TT_API void tt_regress_evaluate(tt_regress *r, uint64_t now_us, bool final);

/* Copies up to max alerts raised so far (oldest first); returns the count.
 * Thread-safety: owner thread only. */
TT_API unsigned tt_regress_alerts(const tt_regress *r, tt_alert *out, unsigned max);

/* Copies up to max buckets of the timeline (oldest first), from the first
 * second with traffic to the last; returns how many exist.
 * Thread-safety: owner thread only. */
TT_API unsigned tt_regress_timeline(const tt_regress *r, tt_timeline_bucket *out, unsigned max);

/* The periods compared for marker i (in time order): before = [previous
 * marker or marker - max_span_s, marker), after = [marker, next marker or the
 * last second seen). Returns the number of markers (nothing is filled when
 * i is out of range or before/after is NULL). Thread-safety: owner thread only. */
TT_API unsigned tt_regress_compare(const tt_regress *r, unsigned i, tt_marker_info *marker,
                                   tt_period *before, tt_period *after);

#ifdef __cplusplus
}
#endif
#endif
