/* tunneltap.h - the embedding API: a copy-through tap for tunnel providers.
 *
 * A host (a NEPacketTunnelProvider, an Android VpnService, tunneltap's own
 * Linux bridge) calls tt_tap_submit() with every packet it forwards. The call
 * copies the packet into a lock-free ring and returns at once: the original is
 * never held, never changed, never delayed; when the ring is full the copy is
 * dropped and counted. The copies are analysed on a thread the library starts,
 * or by the host calling tt_tap_drain(). See docs/embedding.md.
 *
 * Errors: negative TT_E* codes (tunneltap/error.h). No global state: several
 * taps can live in one process. The library never prints and never exits.
 */
#ifndef TUNNELTAP_TUNNELTAP_H
#define TUNNELTAP_TUNNELTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/analyzer.h"
#include "tunneltap/error.h"
#include "tunneltap/regress.h"
#include "tunneltap/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tunneltap's version ("0.1.0"), and the version of the nDPI library it was
 * linked with, as nDPI reports it ("4.2.0"): for logs and bug reports.
 * Static strings. Thread-safety: any thread. */
TT_API const char *tt_version(void);
TT_API const char *tt_ndpi_version(void);

/* Link type for packets whose address family is given out of band, as
 * NEPacket objects and NEPacketTunnelFlow.readPackets deliver them:
 * TT_LINK_AF(AF_INET) or TT_LINK_AF(AF_INET6) (any platform's value). */
#define TT_LINK_AF(af) (0x10000 | (int)(af))

/* Direction of a packet relative to the device. */
enum {
    TT_DIR_UNKNOWN = 0,
    TT_DIR_OUTBOUND = 1, /* from the device's apps into the tunnel */
    TT_DIR_INBOUND = 2,  /* from the tunnel back to the device */
};

#define TT_TAP_MAX_PRODUCERS 16
#define TT_MARK_LABEL_MAX 64

typedef struct tt_tap tt_tap;
typedef struct tt_producer tt_producer;

typedef struct tt_tap_config {
    tt_analyzer_config analyzer; /* flows, deadlines, allocator, log and conn callbacks */
    size_t ring_bytes;           /* per producer, a power of two (default 512 KiB) */
    unsigned max_producers;      /* producer handles (default 4, at most 16) */
    size_t memory_budget;        /* whole tap incl. nDPI (default 16 MiB; 0: no cap) */
    bool lossless;               /* producers wait for room instead of dropping (replay) */
    bool own_thread;             /* true: analysis on a library thread; false: tt_tap_drain */
    bool live_clock;             /* advance deadlines with the wall clock when idle (live) */
    bool enable_regress;         /* regression detection (default true) */
    tt_regress_config regress;   /* its thresholds (docs/regression.md) */
    tt_alert_fn on_alert;        /* called on the analysis thread for every alert */
    void *alert_ctx;
} tt_tap_config;

/* Fills cfg with defaults that fit 16 MiB in all (docs/embedding.md).
 * Thread-safety: any thread. */
TT_API void tt_tap_config_init(tt_tap_config *cfg);

/* Bytes the tap would need for cfg at most (analyzer, nDPI, every ring).
 * Thread-safety: any thread. */
TT_API size_t tt_tap_memsize(const tt_tap_config *cfg);

/* Opens a tap (and starts its analysis thread when cfg->own_thread).
 * Returns 0, or TT_EINVAL / TT_ENOMEM (over the budget) / TT_ENDPI / TT_ESYS
 * with a message in errbuf (may be NULL); nothing is leaked on error.
 * Thread-safety: any thread. */
TT_API int tt_tap_open(tt_tap **out, const tt_tap_config *cfg, char *errbuf);

/* Gets a producer handle: one per host thread that submits. Each is backed
 * by its own ring. Returns 0 or TT_ENOMEM / TT_EAGAIN (max_producers reached).
 * Thread-safety: any thread. */
TT_API int tt_tap_producer_open(tt_tap *tap, tt_producer **out);

/* Copies one packet into the producer's ring. Never blocks (unless the tap is
 * lossless), never allocates, never keeps a pointer to pkt.
 * link: a TT_LINK_* type or TT_LINK_AF(family); ts_us: capture time in
 * microseconds since the epoch (0: now). Returns 0 when copied, TT_EFULL when
 * the copy was dropped (ring full: counted), TT_ETOOBIG when the packet is
 * larger than the ring accepts (counted), TT_EINVAL for an unknown link type,
 * TT_ECLOSED after tt_tap_close began.
 * Thread-safety: producer only (one thread per producer handle at a time). */
TT_API int tt_tap_submit(tt_producer *p, const void *pkt, size_t len, int link, int dir,
                         uint64_t ts_us);

/* The same for a captured frame cut to caplen bytes of wirelen on the wire
 * (a libpcap snapshot length): the analyzer knows the headers may be cut.
 * Thread-safety: producer only. */
TT_API int tt_tap_submit_capture(tt_producer *p, const void *pkt, size_t caplen, size_t wirelen,
                                 int link, int dir, uint64_t ts_us);

/* Analyses up to `budget` queued copies (0: all that are queued) on the
 * calling thread. Returns the number analysed, or TT_ESTATE when the tap
 * runs its own thread. Thread-safety: consumer only (one thread at a time). */
TT_API int tt_tap_drain(tt_tap *tap, unsigned budget);

/* Records a marker (a filter upgrade, a config push) at ts_us (0: now).
 * The label is copied (at most TT_MARK_LABEL_MAX-1 bytes; control characters
 * replaced). Returns 0 or TT_EAGAIN when the marker queue is full.
 * Thread-safety: any thread. */
TT_API int tt_tap_mark(tt_tap *tap, const char *label, uint64_t ts_us);

typedef struct tt_marker {
    uint64_t ts_us;
    char label[TT_MARK_LABEL_MAX];
} tt_marker;

typedef struct tt_tap_stats {
    uint64_t submitted;              /* tt_tap_submit calls */
    uint64_t copied;                 /* copies that entered a ring */
    uint64_t dropped_full;           /* copies dropped: ring full */
    uint64_t dropped_oversize;       /* copies refused: larger than the ring takes */
    uint64_t analysed;               /* copies the analyzer has processed */
    uint64_t in_flight;              /* copies waiting in rings */
    size_t ring_used, ring_capacity; /* summed over producers */
    unsigned producers;
    unsigned markers;
    tt_analyzer_stats analyzer; /* as of the last analysed batch */
} tt_tap_stats;

/* Snapshot of the counters. submitted = analysed + dropped_full +
 * dropped_oversize + in_flight holds for every snapshot taken while no
 * submit runs. Thread-safety: any thread. */
TT_API void tt_tap_get_stats(tt_tap *tap, tt_tap_stats *out);

/* Copies up to max markers recorded so far; returns how many exist.
 * Thread-safety: any thread. */
TT_API unsigned tt_tap_markers(tt_tap *tap, tt_marker *out, unsigned max);

/* Copies up to max alerts raised so far (oldest first); returns how many
 * exist, which may be more than max (ask with NULL, 0 for the count).
 * Thread-safety: any thread. */
TT_API unsigned tt_tap_alerts(tt_tap *tap, tt_alert *out, unsigned max);

/* Copies up to max seconds of the timeline (oldest first), from the first
 * second with traffic to the last; returns how many seconds that spans, which
 * may be more than max (ask with NULL, 0 for the count).
 * Thread-safety: any thread (takes the consumer lock briefly). */
TT_API unsigned tt_tap_timeline(tt_tap *tap, tt_timeline_bucket *out, unsigned max);

/* Before/after totals for marker i (see tt_regress_compare); returns the
 * number of markers the detector holds. Thread-safety: any thread. */
TT_API unsigned tt_tap_compare(tt_tap *tap, unsigned i, tt_marker_info *marker, tt_period *before,
                               tt_period *after);

/* Reports capture loss (e.g. libpcap kernel drops) at ts_us (0: now):
 * failures judged around it become uncertain. Thread-safety: any thread. */
TT_API void tt_tap_note_loss(tt_tap *tap, uint64_t ts_us, uint64_t count);

/* End of input: analyses everything queued, then judges and reports every
 * flow (tt_analyzer_finish). Submits after this return TT_ECLOSED.
 * Thread-safety: any thread except a producer's. */
TT_API int tt_tap_finish(tt_tap *tap);

/* Stops the analysis thread, frees every producer, ring and flow. Call after
 * every producer stopped submitting. Flows not finished are not reported
 * (call tt_tap_finish first). Thread-safety: any thread, once. */
TT_API void tt_tap_close(tt_tap *tap);

#ifdef __cplusplus
}
#endif
#endif
