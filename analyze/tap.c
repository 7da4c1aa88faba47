/* tap.c - the copy-through tap: producer rings in, one analyzer out.
 *
 * Producers (host threads) each own an SPSC ring; the single consumer (the
 * tap's thread, or the host through tt_tap_drain) peeks a burst from every
 * ring, merges the bursts in timestamp order, feeds the analyzer, and
 * releases. Drops are producer-side counters in the rings; the consumer turns
 * each new drop into tt_analyzer_note_loss so no verdict rests on a lost copy.
 *
 * Cross-thread state and its ordering:
 *   nprod      producers array is filled under prod_lock, then nprod is
 *              stored with release (P1); the consumer loads it with acquire
 *              (C1) before touching prod[i] (synchronises with P1).
 *   last_drop  relaxed: a hint for the loss timestamp; the count itself comes
 *              from the ring's counters.
 *   closing    store release in finish/close (S1), load acquire in submit and
 *              the thread loop (pairs with S1).
 *   stats      the consumer publishes analyzer stats under stats_lock.
 *   markers    appended under mark_lock; the consumer drains them under it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "analyze/alloc.h"
#include "analyze/errbuf.h"
#include "analyze/judgment.h"
#include "ring/platform.h"
#include "tunneltap/tunneltap.h"

/* The clock of the idle wait for a first producer: CLOCK_MONOTONIC where a
 * condition variable can take it, else CLOCK_REALTIME (a wall-clock step
 * then lengthens or shortens a wait that a producer's opening ends anyway). */
#if TT_HAVE_CONDATTR_SETCLOCK
#define IDLE_CLOCK CLOCK_MONOTONIC
#else
#define IDLE_CLOCK CLOCK_REALTIME
#endif

#define TT__MARK_MAX 256
#define BURST 64
/* A lossy tap's thread that drained its rings naps before looking again
 * (see thread_main): 200 us while a nap gathers 16 copies or more (a bridge
 * at full speed: longer naps lost more copies when the scheduler was late),
 * doubled up to 1 ms while it gathers fewer or none (then no more than 16
 * copies a millisecond were coming, and a jump to 2 Gbit/s during a nap
 * fills half a 512-KiB ring); a 1-ms nap that finds nothing is followed by
 * a sleep on the futex. */
#define NAP_MIN_US 200u
#define NAP_MAX_US 1000u
#define NAP_FEW (BURST / 4)

struct tt_producer {
    tt_tap *tap;
    tt_ring *ring;
    _Atomic uint64_t last_drop_us;
};

/* Records peeked from one ring and not yet analysed (consumer only). */
typedef struct pending {
    const tt_ring_rec *recs[2 * BURST];
    unsigned n, pos;
} pending;

struct tt_tap {
    tt_tap_config cfg;
    tt_allocator al;
    tt_analyzer *an;
    pthread_mutex_t prod_lock;
    tt_producer *prod[TT_TAP_MAX_PRODUCERS];
    _Atomic unsigned nprod;
    /* Read by every submit: kept off the lines the consumer writes (the
     * pending copies, consume_lock), where each of its passes would take the
     * line from the producers' cores. */
    _Atomic bool closing;
    _Atomic bool finished;
    char apart[64];
    uint64_t seen_drops[TT_TAP_MAX_PRODUCERS]; /* consumer only */
    pending pend[TT_TAP_MAX_PRODUCERS];        /* consumer only */
    bool flushing;                             /* consumer only: finishing, no frontier */
    bool thread_started;
    pthread_t thread;
    pthread_mutex_t consume_lock; /* one consumer at a time (thread, drain, finish) */
    pthread_mutex_t stats_lock;
    tt_analyzer_stats an_stats;
    uint64_t analysed;
    pthread_mutex_t mark_lock; /* marks, pending loss, alert copies */
    /* The analysis thread waits here while no producer exists (no ring to
     * sleep on); tt_tap_producer_open, finish and close wake it. */
    pthread_mutex_t idle_lock;
    pthread_cond_t idle_cv; /* on IDLE_CLOCK */
    tt_marker marks[TT__MARK_MAX];
    unsigned nmarks;
    unsigned marks_applied; /* consumer only: marks handed to the detector */
    uint64_t loss_pending, loss_ts;
    tt_alert *alerts; /* copies for tt_tap_alerts, under mark_lock */
    unsigned nalerts;
    tt_regress *reg;
    uint64_t last_ts;
};

#define TT__ALERT_COPIES 128

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void tt_tap_config_init(tt_tap_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    tt_analyzer_config_init(&cfg->analyzer);
    cfg->ring_bytes = 1u << 19;
    cfg->max_producers = 4;
    cfg->memory_budget = 16u << 20;
    cfg->own_thread = true;
    cfg->live_clock = true;
    cfg->enable_regress = true;
    tt_regress_config_init(&cfg->regress);
}

size_t tt_tap_memsize(const tt_tap_config *cfg)
{
    return sizeof(tt_tap) + tt_analyzer_memsize(&cfg->analyzer) +
           (cfg->enable_regress ? tt_regress_memsize(&cfg->regress) : 0) +
           TT__ALERT_COPIES * sizeof(tt_alert) +
           cfg->max_producers * (tt_ring_memsize(cfg->ring_bytes) + sizeof(tt_producer));
}

/* Record tag: bits 0-15 link type, 16-23 direction, bit 31 set when the
 * payload starts with a 4-byte wire length (a frame cut by a snaplen). */
#define TAG_WIRELEN 0x80000000u

/* Feeds one record to the analyzer. */
static void analyse(tt_tap *t, const tt_ring_rec *r)
{
    int link = (int)(r->tag & 0xffffu);
    const uint8_t *data = (const uint8_t *)tt_ring_rec_data(r);
    uint32_t len = r->len, wire = r->len;
    if ((r->tag & TAG_WIRELEN) && len >= 4) {
        memcpy(&wire, data, 4);
        data += 4;
        len -= 4;
    }
    if (r->value > t->last_ts) {
        /* Regression checks run once per second of packet time, before the
         * packet that moves the clock on: alerts carry the time they became
         * true, however the copies were batched. */
        if (t->reg && r->value / 1000000u != t->last_ts / 1000000u) {
            tt_analyzer_advance(t->an, r->value);
            tt_regress_evaluate(t->reg, r->value, false);
        }
        t->last_ts = r->value;
    }
    tt_analyzer_packet(t->an, link, r->value, data, len, wire);
}

/* Consumer side: hands new markers and reported losses to the detector
 * and the analyzer (both single-threaded). */
static void apply_markers(tt_tap *t)
{
    uint64_t loss = 0, loss_ts = 0;
    pthread_mutex_lock(&t->mark_lock);
    for (; t->marks_applied < t->nmarks; t->marks_applied++)
        if (t->reg)
            tt_regress_mark(t->reg, t->marks[t->marks_applied].ts_us,
                            t->marks[t->marks_applied].label);
    loss = t->loss_pending;
    loss_ts = t->loss_ts;
    t->loss_pending = 0;
    pthread_mutex_unlock(&t->mark_lock);
    if (loss)
        tt_analyzer_note_loss(t->an, loss_ts, loss);
}

/* Judgments reach the regression detector as a tt__judgment when the user
 * set no judge hook (no tt_conn built), as the user's tt_conn otherwise. */
static void on_judgment(void *ctx, const tt__judgment *j, tt_verdict old, tt_certainty old_cert)
{
    tt_tap *t = ctx;
    tt__regress_judgment(t->reg, j, old, old_cert);
}

static void on_judge(void *ctx, const tt_conn *c, tt_verdict old, tt_certainty old_cert)
{
    tt_tap *t = ctx;
    if (t->reg)
        tt_regress_judge(t->reg, c, old, old_cert);
    t->cfg.analyzer.on_judge(t->cfg.analyzer.judge_ctx, c, old, old_cert);
}

static void on_alert(void *ctx, const tt_alert *a)
{
    tt_tap *t = ctx;
    pthread_mutex_lock(&t->mark_lock);
    if (t->nalerts < TT__ALERT_COPIES)
        t->alerts[t->nalerts++] = *a;
    pthread_mutex_unlock(&t->mark_lock);
    if (t->cfg.on_alert)
        t->cfg.on_alert(t->cfg.alert_ctx, a);
}

static void evaluate(tt_tap *t, uint64_t now, bool final)
{
    if (t->reg && now)
        tt_regress_evaluate(t->reg, now, final);
}

/* One consumer pass: peek every ring, merge by timestamp up to the frontier,
 * analyse, release the rings whose peeked records are all analysed.
 *
 * The frontier: any ring may hold more records beyond its peeked ones, one
 * whose burst came back full and one whose burst did not (its producer may
 * have submitted more after the peek, while the next rings were peeked), so
 * nothing later than those can be analysed yet without risking a reply
 * before its request (a bulk direction's burst covers less time than the
 * ACK direction's; one host thread dealing copies over several rings reaches
 * each ring after the peek of the one before). Records past the frontier
 * stay peeked (valid until release) and are merged on the next pass. The
 * ring with the lowest frontier has all its records analysed, so every pass
 * progresses. A ring found empty is looked at again after the others (see
 * below): a copy it receives afterwards is later than every copy peeked as
 * long as the producers stamp copies in the order they submit them
 * (docs/embedding.md, "Order across producers"). Returns the number of
 * records analysed; *more (when not NULL) says whether more were already
 * waiting: a ring's burst came back full, or copies past the frontier hold
 * their ring's space. */
static unsigned consume_once(tt_tap *t, unsigned budget, bool *more)
{
    /* C1: acquire pairs with P1 in tt_tap_producer_open: prod[i] is complete. */
    unsigned np = atomic_load_explicit(&t->nprod, memory_order_acquire);
    unsigned total = 0, want = budget && budget < BURST ? budget : BURST;
    bool backlog = false;
    apply_markers(t);
    for (unsigned i = 0; i < np; i++) {
        pending *q = &t->pend[i];
        if (q->pos > 0 && q->pos < q->n) {
            memmove(q->recs, q->recs + q->pos, (q->n - q->pos) * sizeof(q->recs[0]));
            q->n -= q->pos;
            q->pos = 0;
        }
        if (q->n < BURST) {
            unsigned got = tt_ring_peek_burst_sc(t->prod[i]->ring, q->recs + q->n, want);
            backlog |= got == want;
            q->n += got;
        } else {
            backlog = true;
        }
        /* New drops on this ring: the analyzer must not trust that window. */
        tt_ring_stats rs;
        tt_ring_stats_get(t->prod[i]->ring, &rs);
        uint64_t drops = rs.dropped_full + rs.dropped_oversize;
        if (drops > t->seen_drops[i]) {
            uint64_t at = atomic_load_explicit(&t->prod[i]->last_drop_us, memory_order_relaxed);
            tt_analyzer_note_loss(t->an, at ? at : t->last_ts, drops - t->seen_drops[i]);
            t->seen_drops[i] = drops;
        }
    }
    /* A ring found empty may have received, while the later rings were
     * peeked, a copy older than theirs. Look at the empty ones again, after
     * the others, until one look finds nothing new in any of them: every
     * ring still empty was then last looked at after every ring whose
     * copies set the frontier, so what it receives next was submitted, and
     * (producers stamping in the order they submit) stamped, after them.
     * Each look that finds something leaves one ring fewer to look at. */
    for (bool found = true; found;) {
        found = false;
        for (unsigned i = 0; i < np; i++) {
            pending *q = &t->pend[i];
            if (q->n > 0)
                continue;
            unsigned got = tt_ring_peek_burst_sc(t->prod[i]->ring, q->recs, want);
            if (got) {
                q->n = got;
                backlog |= got == want;
                found = true;
            }
        }
    }
    /* A ring's frontier is the latest timestamp among its peeked records
     * (not the last one: a capture's clock may step back, and a ring is read
     * in order whatever its timestamps say). Every record of the ring with
     * the lowest frontier is at or below it, so that ring is drained. */
    uint64_t frontier = UINT64_MAX;
    for (unsigned i = 0; i < np; i++) {
        const pending *q = &t->pend[i];
        if (q->n == q->pos)
            continue;
        uint64_t top = 0;
        for (unsigned j = q->pos; j < q->n; j++)
            if (q->recs[j]->value > top)
                top = q->recs[j]->value;
        if (top < frontier)
            frontier = top;
    }
    if (t->flushing)
        frontier = UINT64_MAX; /* end of input: nothing more will come */
    for (;;) {
        int best = -1;
        uint64_t best_ts = 0;
        for (unsigned i = 0; i < np; i++) {
            const pending *q = &t->pend[i];
            if (q->pos < q->n && q->recs[q->pos]->value <= frontier &&
                (best < 0 || q->recs[q->pos]->value < best_ts)) {
                best = (int)i;
                best_ts = q->recs[q->pos]->value;
            }
        }
        if (best < 0)
            break;
        pending *q = &t->pend[best];
        analyse(t, q->recs[q->pos++]);
        total++;
    }
    /* Reading of a ring's peeked records is finished only when all are
     * analysed: releasing returns their space to the producer. */
    for (unsigned i = 0; i < np; i++) {
        pending *q = &t->pend[i];
        if (q->n > 0 && q->pos == q->n) {
            tt_ring_release_sc(t->prod[i]->ring);
            q->n = q->pos = 0;
        }
        backlog |= q->n > 0;
    }
    if (more)
        *more = backlog;
    if (total) {
        evaluate(t, t->last_ts, false);
        pthread_mutex_lock(&t->stats_lock);
        t->analysed += total;
        tt_analyzer_get_stats(t->an, &t->an_stats);
        pthread_mutex_unlock(&t->stats_lock);
    }
    return total;
}

static void idle_tick(tt_tap *t)
{
    apply_markers(t);
    if (t->cfg.live_clock) {
        /* Idle: let deadlines pass with the wall clock, one second behind it
         * so a copy still on its way (stamped just before now) is not older
         * than the analyzer's clock when it arrives. */
        uint64_t now = now_us() - 1000000u;
        if (now <= t->last_ts)
            return;
        tt_analyzer_advance(t->an, now);
        evaluate(t, now, false);
        pthread_mutex_lock(&t->stats_lock);
        tt_analyzer_get_stats(t->an, &t->an_stats);
        pthread_mutex_unlock(&t->stats_lock);
    }
}

/* W2: after storing nprod or closing, wakes a thread waiting for a ring
 * (partner W1 in thread_main). */
static void wake_idle(tt_tap *t)
{
    pthread_mutex_lock(&t->idle_lock);
    pthread_cond_broadcast(&t->idle_cv);
    pthread_mutex_unlock(&t->idle_lock);
}

/* The nap after nap_us, twice as long up to NAP_MAX_US. */
static unsigned longer_nap(unsigned nap_us)
{
    return nap_us * 2 < NAP_MAX_US ? nap_us * 2 : NAP_MAX_US;
}

static void nap(unsigned us)
{
    struct timespec ts = {0, (long)us * 1000L};
    nanosleep(&ts, NULL);
}

static void *thread_main(void *arg)
{
    tt_tap *t = arg;
    unsigned nap_us = NAP_MIN_US, batch = 0;
    for (;;) {
        pthread_mutex_lock(&t->consume_lock);
        unsigned got = 0;
        bool more = false;
        if (!atomic_load_explicit(&t->finished, memory_order_acquire))
            got = consume_once(t, 0, &more);
        pthread_mutex_unlock(&t->consume_lock);
        batch += got;
        if (got >= BURST || more)
            continue; /* more are waiting: a full burst, or copies past the frontier */
        if (batch && !t->cfg.lossless) {
            /* The rings are drained. Waiting for the next copy in
             * tt_ring_wait_sc spins first, and a copy arriving every few
             * microseconds (a bridge at 1.6 Gbit/s) kept this thread
             * spinning: 65 % of a core taken from the producers and the
             * traffic's own programs on a 2-core machine (perf: a quarter of
             * all samples in the spin). A nap lets a batch gather instead,
             * with no spin and no wake-up for the producers to pay. Lossless
             * producers (replay) wait for room: no nap for them. */
            nap_us = batch >= NAP_FEW ? NAP_MIN_US : longer_nap(nap_us);
            batch = 0;
            nap(nap_us);
            continue;
        }
        batch = 0;
        if (got)
            continue;
        if (atomic_load_explicit(&t->closing, memory_order_acquire))
            break;
        unsigned np = atomic_load_explicit(&t->nprod, memory_order_acquire);
        if (np && !t->cfg.lossless && nap_us < NAP_MAX_US) {
            /* A nap found nothing, the copies came fast until now: traffic
             * pauses (TCP's bursts) more often than it stops. Nap on, twice
             * as long each time, before sleeping on the futex, whose wake-up
             * the next copy's producer would pay (a bridge's forwarding
             * thread: 4.90 -> 5.15 us a packet when this thread went
             * straight to the futex). */
            nap_us = longer_nap(nap_us);
            nap(nap_us);
            continue;
        }
        if (np == 0) {
            /* No ring yet. W1: nprod and closing are read under idle_lock,
             * partner W2 (wake_idle): a producer opened or a close begun
             * after this check broadcasts only once we wait. Without the
             * wake-up a replay would lose this whole period at its start. */
            struct timespec until;
            clock_gettime(IDLE_CLOCK, &until);
            until.tv_nsec += 20 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_mutex_lock(&t->idle_lock);
            if (atomic_load_explicit(&t->nprod, memory_order_acquire) == 0 &&
                !atomic_load_explicit(&t->closing, memory_order_acquire))
                (void)pthread_cond_timedwait(&t->idle_cv, &t->idle_lock, &until);
            pthread_mutex_unlock(&t->idle_lock);
        } else {
            /* Sleep on the first ring (woken by its producer); other rings are
             * polled at this period. */
            if (tt_ring_wait_sc(t->prod[0]->ring, 50) != TT_ETIMEDOUT)
                continue; /* something arrived: analyse it before moving the clock */
        }
        pthread_mutex_lock(&t->consume_lock);
        if (!atomic_load_explicit(&t->finished, memory_order_acquire))
            idle_tick(t);
        pthread_mutex_unlock(&t->consume_lock);
    }
    return NULL;
}

int tt_tap_open(tt_tap **out, const tt_tap_config *cfg, char *errbuf)
{
    *out = NULL;
    if (cfg->max_producers == 0 || cfg->max_producers > TT_TAP_MAX_PRODUCERS) {
        tt__set_err(errbuf, "max_producers must be 1..16");
        return TT_EINVAL;
    }
    if (cfg->ring_bytes < TT_RING_CAPACITY_MIN || (cfg->ring_bytes & (cfg->ring_bytes - 1))) {
        tt__set_err(errbuf, "ring_bytes must be a power of two >= 64");
        return TT_EINVAL;
    }
    if (cfg->memory_budget && tt_tap_memsize(cfg) > cfg->memory_budget) {
        tt__set_err(errbuf, "configuration needs %zu bytes, over the %zu-byte memory budget",
                    tt_tap_memsize(cfg), cfg->memory_budget);
        return TT_ENOMEM;
    }
    tt_allocator al = cfg->analyzer.allocator;
    tt_tap *t = tt__alloc(&al, sizeof(*t));
    if (!t) {
        tt__set_err(errbuf, "cannot allocate the tap");
        return TT_ENOMEM;
    }
    t->cfg = *cfg;
    t->al = al;
    tt_analyzer_config acfg = cfg->analyzer;
    acfg.memory_budget = 0; /* checked above for the whole tap */
    acfg.on_judge = cfg->analyzer.on_judge ? on_judge : NULL;
    acfg.judge_ctx = t;
    int rc = 0;
    t->alerts = tt__alloc(&al, TT__ALERT_COPIES * sizeof(tt_alert));
    if (!t->alerts) {
        tt__set_err(errbuf, "cannot allocate the alert table");
        rc = TT_ENOMEM;
    }
    if (rc == 0 && cfg->enable_regress)
        rc = tt_regress_open(&t->reg, &cfg->regress, &al, on_alert, t, errbuf);
    if (rc == 0)
        rc = tt_analyzer_open(&t->an, &acfg, errbuf);
    if (rc == 0 && t->reg && !acfg.on_judge)
        tt__analyzer_set_judgment_hook(t->an, on_judgment, t);
    if (rc < 0) {
        tt_regress_close(t->reg);
        tt__free(&al, t->alerts, TT__ALERT_COPIES * sizeof(tt_alert));
        tt__free(&al, t, sizeof(*t));
        return rc;
    }
    pthread_mutex_init(&t->prod_lock, NULL);
    pthread_mutex_init(&t->consume_lock, NULL);
    pthread_mutex_init(&t->stats_lock, NULL);
    pthread_mutex_init(&t->mark_lock, NULL);
    pthread_mutex_init(&t->idle_lock, NULL);
#if TT_HAVE_CONDATTR_SETCLOCK
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, IDLE_CLOCK);
    pthread_cond_init(&t->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
#else
    pthread_cond_init(&t->idle_cv, NULL);
#endif
    tt_analyzer_get_stats(t->an, &t->an_stats);
    /* The rings register the process for their fence when the producers
     * open them; done here, before the analysis thread exists, the kernel
     * needs no RCU grace period for it (11-18 ms otherwise, on every
     * replay: tt_ring_register_fences). */
    (void)tt_ring_register_fences();
    if (cfg->own_thread) {
        if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
            tt__set_err(errbuf, "cannot start the analysis thread");
            tt_tap_close(t);
            return TT_ESYS;
        }
        t->thread_started = true;
    }
    *out = t;
    return 0;
}

static void *ring_alloc(void *ctx, size_t n)
{
    const tt_allocator *al = ctx;
    return tt__alloc(al, n);
}

static void ring_free(void *ctx, void *p, size_t n)
{
    const tt_allocator *al = ctx;
    tt__free(al, p, n);
}

int tt__tap_set_brief_hook(tt_tap *t, tt__brief_fn fn, void *ctx)
{
    /* consume_lock: the analysis thread touches the analyzer only under it. */
    pthread_mutex_lock(&t->consume_lock);
    int rc = TT_ESTATE;
    if (atomic_load_explicit(&t->nprod, memory_order_acquire) == 0) {
        tt__analyzer_set_brief_hook(t->an, fn, ctx);
        rc = 0;
    }
    pthread_mutex_unlock(&t->consume_lock);
    return rc;
}

int tt_tap_producer_open(tt_tap *t, tt_producer **out)
{
    *out = NULL;
    pthread_mutex_lock(&t->prod_lock);
    unsigned np = atomic_load_explicit(&t->nprod, memory_order_relaxed); /* written under lock */
    if (np >= t->cfg.max_producers) {
        pthread_mutex_unlock(&t->prod_lock);
        return TT_EAGAIN;
    }
    tt_producer *p = tt__alloc(&t->al, sizeof(*p));
    if (!p) {
        pthread_mutex_unlock(&t->prod_lock);
        return TT_ENOMEM;
    }
    p->tap = t;
    tt_ring_allocator ra = {ring_alloc, ring_free, &t->al};
    /* A lossy tap's thread naps between batches (thread_main): its waits
     * need no spin. */
    int rc = tt_ring_create(&p->ring, t->cfg.ring_bytes,
                            t->cfg.lossless ? TT_RING_LOSSLESS : TT_RING_NO_SPIN, &ra, NULL);
    if (rc < 0) {
        tt__free(&t->al, p, sizeof(*p));
        pthread_mutex_unlock(&t->prod_lock);
        return rc;
    }
    t->prod[np] = p;
    /* P1: release publishes prod[np] to the consumer's C1. */
    atomic_store_explicit(&t->nprod, np + 1, memory_order_release);
    pthread_mutex_unlock(&t->prod_lock);
    if (np == 0)
        wake_idle(t);
    *out = p;
    return 0;
}

static int map_link(int link)
{
    if (link & 0x10000) {
        int af = link & 0xffff;
        if (af == AF_INET)
            return TT_LINK_IPV4;
        if (af == 10 || af == 24 || af == 28 || af == 30)
            return TT_LINK_IPV6;
        return -1;
    }
    return tt_linktype_supported(link) ? link : -1;
}

int tt_tap_submit(tt_producer *p, const void *pkt, size_t len, int link, int dir, uint64_t ts_us)
{
    return tt_tap_submit_capture(p, pkt, len, len, link, dir, ts_us);
}

int tt_tap_submit_capture(tt_producer *p, const void *pkt, size_t len, size_t wirelen, int link,
                          int dir, uint64_t ts_us)
{
    /* acquire pairs with S1: no copy enters a ring after finish/close began */
    if (atomic_load_explicit(&p->tap->closing, memory_order_acquire) ||
        atomic_load_explicit(&p->tap->finished, memory_order_acquire))
        return TT_ECLOSED;
    int l = map_link(link);
    if (l < 0)
        return TT_EINVAL;
    if (ts_us == 0)
        ts_us = now_us();
    uint32_t tag = (uint32_t)l | ((uint32_t)dir & 0xffu) << 16;
    int rc;
    if (wirelen > len && wirelen <= UINT32_MAX) {
        void *slot;
        rc = tt_ring_reserve_sp(p->ring, len + 4, &slot);
        if (rc == 0) {
            uint32_t w = (uint32_t)wirelen;
            memcpy(slot, &w, 4);
            memcpy((uint8_t *)slot + 4, pkt, len);
            rc = tt_ring_commit_sp(p->ring, len + 4, tag | TAG_WIRELEN, ts_us);
        }
    } else {
        rc = tt_ring_submit_sp(p->ring, pkt, len, tag, ts_us);
    }
    if (rc == TT_EFULL || rc == TT_ETOOBIG)
        atomic_store_explicit(&p->last_drop_us, ts_us, memory_order_relaxed);
    return rc;
}

int tt_tap_drain(tt_tap *t, unsigned budget)
{
    if (t->cfg.own_thread)
        return TT_ESTATE;
    pthread_mutex_lock(&t->consume_lock);
    unsigned total = 0;
    if (!atomic_load_explicit(&t->finished, memory_order_acquire)) {
        for (;;) {
            unsigned got = consume_once(t, budget ? budget - total : 0, NULL);
            total += got;
            if (!got || (budget && total >= budget))
                break;
        }
        if (!total)
            idle_tick(t);
    }
    pthread_mutex_unlock(&t->consume_lock);
    return (int)total;
}

int tt_tap_mark(tt_tap *t, const char *label, uint64_t ts_us)
{
    pthread_mutex_lock(&t->mark_lock);
    if (t->nmarks >= TT__MARK_MAX) {
        pthread_mutex_unlock(&t->mark_lock);
        return TT_EAGAIN;
    }
    tt_marker *m = &t->marks[t->nmarks];
    m->ts_us = ts_us ? ts_us : now_us();
    size_t i = 0;
    for (; label && label[i] && i + 1 < sizeof(m->label); i++) {
        unsigned char c = (unsigned char)label[i];
        m->label[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    m->label[i] = 0;
    t->nmarks++;
    pthread_mutex_unlock(&t->mark_lock);
    /* The detector belongs to the consumer: hand the marker over now only if
     * no consumer is running (never wait for one: a host's forwarding thread
     * may be the caller); otherwise the consumer's next pass applies it. */
    if (pthread_mutex_trylock(&t->consume_lock) == 0) {
        apply_markers(t);
        pthread_mutex_unlock(&t->consume_lock);
    }
    return 0;
}

unsigned tt_tap_markers(tt_tap *t, tt_marker *out, unsigned max)
{
    pthread_mutex_lock(&t->mark_lock);
    unsigned n = t->nmarks;
    for (unsigned i = 0; i < n && i < max; i++)
        out[i] = t->marks[i];
    pthread_mutex_unlock(&t->mark_lock);
    return n;
}

void tt_tap_get_stats(tt_tap *t, tt_tap_stats *out)
{
    memset(out, 0, sizeof(*out));
    unsigned np = atomic_load_explicit(&t->nprod, memory_order_acquire); /* pairs with P1 */
    for (unsigned i = 0; i < np; i++) {
        tt_ring_stats rs;
        tt_ring_stats_get(t->prod[i]->ring, &rs);
        out->submitted += rs.submitted;
        out->copied += rs.committed;
        out->dropped_full += rs.dropped_full;
        out->dropped_oversize += rs.dropped_oversize;
        out->in_flight += rs.in_flight;
        out->analysed += rs.consumed;
        out->ring_used += rs.used_bytes;
        out->ring_capacity += rs.capacity;
    }
    out->producers = np;
    pthread_mutex_lock(&t->stats_lock);
    out->analyzer = t->an_stats;
    pthread_mutex_unlock(&t->stats_lock);
    pthread_mutex_lock(&t->mark_lock);
    out->markers = t->nmarks;
    pthread_mutex_unlock(&t->mark_lock);
}

int tt_tap_finish(tt_tap *t)
{
    if (atomic_load_explicit(&t->finished, memory_order_acquire))
        return 0;
    if (t->thread_started) {
        /* The analysis thread drains every ring and exits (it is the rings'
         * only consumer until then); this thread finishes the work. S1:
         * release pairs with the acquire in submit and the thread loop. */
        atomic_store_explicit(&t->closing, true, memory_order_release);
        unsigned np = atomic_load_explicit(&t->nprod, memory_order_acquire);
        for (unsigned i = 0; i < np; i++)
            tt_ring_wake_consumer(t->prod[i]->ring);
        wake_idle(t);
        pthread_join(t->thread, NULL);
        t->thread_started = false;
    }
    pthread_mutex_lock(&t->consume_lock);
    t->flushing = true;
    while (consume_once(t, 0, NULL) > 0) {
    }
    apply_markers(t);
    /* S1: release pairs with the acquire in submit and the thread loop. */
    atomic_store_explicit(&t->finished, true, memory_order_release);
    tt_analyzer_finish(t->an);
    evaluate(t, t->last_ts, true);
    pthread_mutex_lock(&t->stats_lock);
    tt_analyzer_get_stats(t->an, &t->an_stats);
    pthread_mutex_unlock(&t->stats_lock);
    pthread_mutex_unlock(&t->consume_lock);
    return 0;
}

void tt_tap_close(tt_tap *t)
{
    if (!t)
        return;
    atomic_store_explicit(&t->closing, true, memory_order_release); /* S1 */
    unsigned np = atomic_load_explicit(&t->nprod, memory_order_acquire);
    for (unsigned i = 0; i < np; i++)
        tt_ring_wake_consumer(t->prod[i]->ring);
    if (t->thread_started) {
        wake_idle(t);
        pthread_join(t->thread, NULL);
    }
    for (unsigned i = 0; i < np; i++) {
        tt_ring_destroy(t->prod[i]->ring);
        tt__free(&t->al, t->prod[i], sizeof(*t->prod[i]));
    }
    tt_analyzer_close(t->an);
    tt_regress_close(t->reg);
    tt__free(&t->al, t->alerts, TT__ALERT_COPIES * sizeof(tt_alert));
    pthread_mutex_destroy(&t->prod_lock);
    pthread_mutex_destroy(&t->consume_lock);
    pthread_mutex_destroy(&t->stats_lock);
    pthread_mutex_destroy(&t->mark_lock);
    pthread_mutex_destroy(&t->idle_lock);
    pthread_cond_destroy(&t->idle_cv);
    tt_allocator al = t->al;
    tt__free(&al, t, sizeof(*t));
}

unsigned tt_tap_alerts(tt_tap *t, tt_alert *out, unsigned max)
{
    pthread_mutex_lock(&t->mark_lock);
    unsigned n = t->nalerts;
    for (unsigned i = 0; i < n && i < max; i++)
        out[i] = t->alerts[i];
    pthread_mutex_unlock(&t->mark_lock);
    return n;
}

unsigned tt_tap_timeline(tt_tap *t, tt_timeline_bucket *out, unsigned max)
{
    if (!t->reg)
        return 0;
    pthread_mutex_lock(&t->consume_lock);
    unsigned n = tt_regress_timeline(t->reg, out, max);
    pthread_mutex_unlock(&t->consume_lock);
    return n;
}

void tt_tap_note_loss(tt_tap *t, uint64_t ts_us, uint64_t count)
{
    pthread_mutex_lock(&t->mark_lock);
    t->loss_pending += count;
    t->loss_ts = ts_us ? ts_us : now_us();
    pthread_mutex_unlock(&t->mark_lock);
}

unsigned tt_tap_compare(tt_tap *t, unsigned i, tt_marker_info *m, tt_period *before,
                        tt_period *after)
{
    if (!t->reg)
        return 0;
    pthread_mutex_lock(&t->consume_lock);
    unsigned n = tt_regress_compare(t->reg, i, m, before, after);
    pthread_mutex_unlock(&t->consume_lock);
    return n;
}
