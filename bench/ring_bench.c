/* ring_bench.c - throughput and submit cost of tt_ring against memcpy, ck_ring
 * and a mutex+condvar queue (not a test; bench/ring.sh runs it).
 *
 * Two threads pinned to CPUs 0 (producer) and 1 (consumer). Lossless runs move
 * packets of 64, 512, 1500 B and an IMIX-like 7:4:1 mix of 64/576/1500 B for
 * a fixed time; the consumer reads each packet (the first 64 bytes with
 * --touch=head, every byte with --touch=all). Paced runs submit at 1 and
 * 5 Mpps into a lossy ring and time each submit with the TSC. Every figure is
 * the median of --reps runs.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunneltap/ring.h"

#ifdef TT_BENCH_HAVE_CK
#include <ck_ring.h>
#endif
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* ---- options, clocks, helpers ------------------------------------------ */

static struct {
    int reps;
    unsigned ms;
    size_t cap;
    bool touch_all;
    bool quick;
    int only_profile; /* -1: all */
    int only_kind;    /* -1: all */
    bool verbose;
    size_t paced_cap;
} opt = {5, 300, 256u << 10, false, false, -1, -1, false, 4u << 20};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void relax(void)
{
#if defined(__x86_64__)
    _mm_pause();
#endif
}

/* Cycle counter for timing one call; tick_ns converts. */
static double tick_ns = 1.0;
static inline uint64_t tick_start(void)
{
#if defined(__x86_64__)
    _mm_lfence();
    return __rdtsc();
#else
    return now_ns();
#endif
}
static inline uint64_t tick_end(void)
{
#if defined(__x86_64__)
    unsigned aux;
    uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return now_ns();
#endif
}

static void calibrate_ticks(void)
{
#if defined(__x86_64__)
    uint64_t n0 = now_ns(), t0 = __rdtsc();
    while (now_ns() - n0 < 100000000u)
        ;
    tick_ns = (double)(now_ns() - n0) / (double)(__rdtsc() - t0);
#endif
}

static void pin(size_t cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
        fprintf(stderr, "ring_bench: cannot pin to CPU %zu\n", cpu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median of num[i] / den[i] (pairs from the same rep); scratch has n slots. */
static double ratio(const double *num, const double *den, double *scratch, int n)
{
    for (int i = 0; i < n; i++)
        scratch[i] = den[i] > 0 ? num[i] / den[i] : 0;
    return median(scratch, n);
}

/* ---- packet profiles ---------------------------------------------------- */

struct profile {
    const char *name;
    unsigned n;
    uint16_t lens[12];
};

static const struct profile profiles[] = {
    {"64 B", 1, {64}},
    {"512 B", 1, {512}},
    {"1500 B", 1, {1500}},
    /* 7:4:1 of 64/576/1500, interleaved; mean 353 B */
    {"IMIX 7:4:1", 12, {64, 576, 64, 64, 1500, 64, 576, 64, 64, 576, 64, 576}},
};
#define NPROFILES (sizeof profiles / sizeof profiles[0])

#define SRC_SLOTS 8
static _Alignas(64) unsigned char src[SRC_SLOTS][2048];

static inline uint64_t touch(const unsigned char *p, size_t len)
{
    uint64_t s = 0, w;
    size_t n = opt.touch_all ? len : (len < 64 ? len : 64);
    size_t o = 0;
    for (; o + 8 <= n; o += 8) {
        memcpy(&w, p + o, 8);
        s += w;
    }
    for (; o < n; o++)
        s += p[o];
    return s;
}

static volatile uint64_t g_sink;
/* ---- one lossless producer/consumer run --------------------------------- */

enum kind { K_TT, K_TT_BATCH, K_CK, K_MUTEX, K_COUNT };
static const char *kind_name[] = {"tt_ring", "tt_ring batched", "ck_ring", "mutex+cv"};

#define SLOT_SIZE 2048u

struct mq { /* classic bounded buffer: lock per packet, batched consumer */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    uint64_t head, tail;
    unsigned nslots;
    bool cons_waiting, prod_waiting, closed;
    unsigned char *slots; /* [nslots][SLOT_SIZE], length in the first 4 bytes */
};

struct run {
    enum kind kind;
    const struct profile *prof;
    tt_ring *tt;
#ifdef TT_BENCH_HAVE_CK
    ck_ring_t ck_data, ck_free;
    ck_ring_buffer_t *ckb_data, *ckb_free;
#endif
    struct mq mq;
    unsigned char *slots;
    _Atomic int ready;
    _Atomic int go;
    _Atomic int stop; /* ck: producer finished */
    uint64_t produced, consumed, bytes, sink;
    uint64_t t_start, t_end;
};

static void *producer(void *arg)
{
    struct run *r = arg;
    pin(0);
    const struct profile *pf = r->prof;
    atomic_fetch_add(&r->ready, 1);
    while (!atomic_load_explicit(&r->go, memory_order_acquire))
        relax();
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)opt.ms * 1000000u, i = 0;
    r->t_start = t0;
    for (;; i++) {
        if ((i & 1023) == 0 && now_ns() >= end)
            break;
        size_t len = pf->lens[i % pf->n];
        const unsigned char *pkt = src[i & (SRC_SLOTS - 1)];
        switch (r->kind) {
        case K_TT:
        case K_TT_BATCH:
            if (tt_ring_submit_sp(r->tt, pkt, len, 1, i) != 0)
                abort();
            break;
#ifdef TT_BENCH_HAVE_CK
        case K_CK: {
            void *slot;
            while (!ck_ring_dequeue_spsc(&r->ck_free, r->ckb_free, &slot))
                relax();
            uint32_t l32 = (uint32_t)len;
            memcpy(slot, &l32, 4);
            memcpy((unsigned char *)slot + 16, pkt, len);
            while (!ck_ring_enqueue_spsc(&r->ck_data, r->ckb_data, slot))
                relax();
            break;
        }
#endif
        case K_MUTEX: {
            struct mq *q = &r->mq;
            pthread_mutex_lock(&q->mu);
            while (q->head - q->tail == q->nslots) {
                q->prod_waiting = true;
                pthread_cond_wait(&q->not_full, &q->mu);
                q->prod_waiting = false;
            }
            unsigned char *slot = q->slots + (q->head % q->nslots) * SLOT_SIZE;
            uint32_t l32 = (uint32_t)len;
            memcpy(slot, &l32, 4);
            memcpy(slot + 16, pkt, len);
            q->head++;
            if (q->cons_waiting)
                pthread_cond_signal(&q->not_empty);
            pthread_mutex_unlock(&q->mu);
            break;
        }
        default:
            abort();
        }
    }
    r->produced = i;
    switch (r->kind) {
    case K_TT:
    case K_TT_BATCH:
        tt_ring_flush_sp(r->tt);
        tt_ring_close(r->tt);
        break;
    case K_CK:
        atomic_store_explicit(&r->stop, 1, memory_order_release);
        break;
    case K_MUTEX:
        pthread_mutex_lock(&r->mq.mu);
        r->mq.closed = true;
        pthread_cond_signal(&r->mq.not_empty);
        pthread_mutex_unlock(&r->mq.mu);
        break;
    default:
        abort();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    pin(1);
    uint64_t n = 0, bytes = 0, sink = 0;
    atomic_fetch_add(&r->ready, 1);
    while (!atomic_load_explicit(&r->go, memory_order_acquire))
        relax();
    switch (r->kind) {
    case K_TT:
    case K_TT_BATCH: {
        const tt_ring_rec *recs[64];
        for (;;) {
            unsigned k = tt_ring_peek_burst_sc(r->tt, recs, 64);
            if (k == 0) {
                if (tt_ring_wait_sc(r->tt, -1) == TT_ECLOSED)
                    break;
                continue;
            }
            for (unsigned j = 0; j < k; j++) {
                sink += touch(tt_ring_rec_data(recs[j]), recs[j]->len);
                bytes += recs[j]->len;
            }
            n += k;
            tt_ring_release_sc(r->tt);
        }
        break;
    }
#ifdef TT_BENCH_HAVE_CK
    case K_CK:
        for (;;) {
            void *slot;
            if (!ck_ring_dequeue_spsc(&r->ck_data, r->ckb_data, &slot)) {
                /* stop is stored after the last enqueue: once seen, one more
                 * empty dequeue means the stream is over. */
                bool stopping = atomic_load_explicit(&r->stop, memory_order_acquire);
                if (!ck_ring_dequeue_spsc(&r->ck_data, r->ckb_data, &slot)) {
                    if (stopping)
                        break;
                    relax();
                    continue;
                }
            }
            uint32_t len;
            memcpy(&len, slot, 4);
            sink += touch((const unsigned char *)slot + 16, len);
            bytes += len;
            n++;
            while (!ck_ring_enqueue_spsc(&r->ck_free, r->ckb_free, slot))
                relax();
        }
        break;
#endif
    case K_MUTEX: {
        struct mq *q = &r->mq;
        for (;;) {
            pthread_mutex_lock(&q->mu);
            while (q->head == q->tail && !q->closed) {
                q->cons_waiting = true;
                pthread_cond_wait(&q->not_empty, &q->mu);
                q->cons_waiting = false;
            }
            uint64_t from = q->tail, to = q->head;
            bool closed = q->closed;
            pthread_mutex_unlock(&q->mu);
            if (from == to && closed)
                break;
            for (uint64_t s = from; s != to; s++) {
                const unsigned char *slot = q->slots + (s % q->nslots) * SLOT_SIZE;
                uint32_t len;
                memcpy(&len, slot, 4);
                sink += touch(slot + 16, len);
                bytes += len;
            }
            n += to - from;
            pthread_mutex_lock(&q->mu);
            q->tail = to;
            if (q->prod_waiting)
                pthread_cond_signal(&q->not_full);
            pthread_mutex_unlock(&q->mu);
        }
        break;
    }
    default:
        abort();
    }
    r->t_end = now_ns();
    r->consumed = n;
    r->bytes = bytes;
    r->sink = sink;
    return NULL;
}

/* Returns Mpps; *gbps gets payload GB/s. */
static double run_once(enum kind kind, const struct profile *pf, double *gbps)
{
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->kind = kind;
    r->prof = pf;
    unsigned nslots = (unsigned)(opt.cap / SLOT_SIZE); /* same bytes as the tt_ring */
    if (kind == K_TT || kind == K_TT_BATCH) {
        char err[TT_ERRBUF_SIZE];
        unsigned flags = TT_RING_LOSSLESS | (kind == K_TT_BATCH ? TT_RING_BATCH : 0u);
        if (tt_ring_create(&r->tt, opt.cap, flags, NULL, err) != 0) {
            fprintf(stderr, "ring_bench: %s\n", err);
            exit(1);
        }
    } else {
        r->slots = aligned_alloc(64, (size_t)nslots * SLOT_SIZE);
        if (!r->slots)
            abort();
        memset(r->slots, 0, (size_t)nslots * SLOT_SIZE);
    }
#ifdef TT_BENCH_HAVE_CK
    if (kind == K_CK) {
        unsigned size = 2 * nslots; /* holds size - 1 entries: never full */
        r->ckb_data = calloc(size, sizeof *r->ckb_data);
        r->ckb_free = calloc(size, sizeof *r->ckb_free);
        if (!r->ckb_data || !r->ckb_free)
            abort();
        ck_ring_init(&r->ck_data, size);
        ck_ring_init(&r->ck_free, size);
        for (unsigned s = 0; s < nslots; s++)
            ck_ring_enqueue_spsc(&r->ck_free, r->ckb_free, r->slots + (size_t)s * SLOT_SIZE);
    }
#endif
    if (kind == K_MUTEX) {
        pthread_mutex_init(&r->mq.mu, NULL);
        pthread_cond_init(&r->mq.not_empty, NULL);
        pthread_cond_init(&r->mq.not_full, NULL);
        r->mq.nslots = nslots;
        r->mq.slots = r->slots;
    }
    pthread_t tp, tc;
    pthread_create(&tc, NULL, consumer, r);
    pthread_create(&tp, NULL, producer, r);
    while (atomic_load(&r->ready) < 2)
        relax();
    atomic_store_explicit(&r->go, 1, memory_order_release);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    if (r->consumed != r->produced) {
        fprintf(stderr, "ring_bench: %s lost packets (%llu of %llu)\n", kind_name[kind],
                (unsigned long long)r->consumed, (unsigned long long)r->produced);
        exit(1);
    }
    double secs = (double)(r->t_end - r->t_start) / 1e9;
    double mpps = (double)r->consumed / secs / 1e6;
    *gbps = (double)r->bytes / secs / 1e9;
    if (r->tt && opt.verbose) {
        tt_ring_stats st;
        tt_ring_stats_get(r->tt, &st);
        fprintf(stderr, "  %s %s %.1f Mpps: psleeps %llu csleeps %llu wakes %llu\n",
                kind_name[kind], pf->name, mpps, (unsigned long long)st.producer_sleeps,
                (unsigned long long)st.consumer_sleeps, (unsigned long long)st.consumer_wakes);
    }
    if (r->tt)
        tt_ring_destroy(r->tt);
#ifdef TT_BENCH_HAVE_CK
    free(r->ckb_data);
    free(r->ckb_free);
#endif
    if (kind == K_MUTEX) {
        pthread_mutex_destroy(&r->mq.mu);
        pthread_cond_destroy(&r->mq.not_empty);
        pthread_cond_destroy(&r->mq.not_full);
    }
    free(r->slots);
    free(r);
    return mpps;
}

/* ---- memcpy baseline ---------------------------------------------------- */

/* One core copies packets into a ring-sized buffer laid out like the ring
 * (16-byte header + payload, 8-byte aligned, wrapping). Returns GB/s of
 * payload; *ns_per gets ns per packet. */
static double memcpy_once(const struct profile *pf, double *ns_per)
{
    pin(0);
    unsigned char *dst = aligned_alloc(TT_RING_ALIGN, opt.cap);
    if (!dst)
        abort();
    memset(dst, 0, opt.cap);
    size_t pos = 0;
    uint64_t bytes = 0, i = 0, t0 = now_ns(), end = t0 + (uint64_t)opt.ms * 1000000u, t1;
    for (;; i++) {
        if ((i & 1023) == 0 && (t1 = now_ns()) >= end)
            break;
        size_t len = pf->lens[i % pf->n], rec = (16 + len + 7) & ~(size_t)7;
        if (pos + rec > opt.cap)
            pos = 0;
        uint64_t hdr[2] = {len, i};
        memcpy(dst + pos, hdr, 16);
        memcpy(dst + pos + 16, src[i & (SRC_SLOTS - 1)], len);
        pos += rec;
        bytes += len;
    }
    g_sink = dst[pos / 2];
    free(dst);
    *ns_per = (double)(t1 - t0) / (double)i;
    return (double)bytes / ((double)(t1 - t0) / 1e9) / 1e9;
}

/* ---- paced submit cost -------------------------------------------------- */

struct paced {
    tt_ring *r;
    _Atomic int ready;
    _Atomic int go;
    uint64_t sink;
};

static void *paced_consumer(void *arg)
{
    struct paced *p = arg;
    pin(1);
    atomic_fetch_add(&p->ready, 1);
    const tt_ring_rec *recs[64];
    uint64_t sink = 0;
    for (;;) {
        unsigned k = tt_ring_peek_burst_sc(p->r, recs, 64);
        if (k == 0) {
            if (tt_ring_wait_sc(p->r, -1) == TT_ECLOSED)
                break;
            continue;
        }
        for (unsigned j = 0; j < k; j++)
            sink += touch(tt_ring_rec_data(recs[j]), recs[j]->len);
        tt_ring_release_sc(p->r);
    }
    p->sink = sink;
    return NULL;
}

struct paced_result {
    double submit_ns, memcpy_ns;
    uint64_t drops, sent, consumer_sleeps, wakes;
};

/* Paced at `mpps` for opt.ms: mean ns inside tt_ring_submit_sp (lossy ring,
 * consumer keeping up and sleeping when idle), and mean ns of the same
 * memcpy into a private ring-shaped buffer at the same pace. */
static struct paced_result paced_once(const struct profile *pf, double mpps)
{
    struct paced_result res = {0};
    struct paced *p = calloc(1, sizeof *p);
    if (!p || tt_ring_create(&p->r, opt.paced_cap, 0, NULL, NULL) != 0)
        abort();
    pthread_t tc;
    pthread_create(&tc, NULL, paced_consumer, p);
    while (atomic_load(&p->ready) < 1)
        relax();
    pin(0);
    double period = 1e3 / mpps / tick_ns; /* ticks between packets */
    uint64_t n = (uint64_t)(mpps * 1e6 * opt.ms / 1e3);

    /* Cost of the timing itself, subtracted below. */
    uint64_t ovh = UINT64_MAX;
    for (int k = 0; k < 1000; k++) {
        uint64_t a = tick_start(), b = tick_end();
        ovh = b - a < ovh ? b - a : ovh;
    }

    uint64_t sum = 0, drops = 0;
    double next = (double)tick_start();
    for (uint64_t i = 0; i < n; i++) {
        while ((double)tick_start() < next)
            relax();
        next += period;
        size_t len = pf->lens[i % pf->n];
        uint64_t a = tick_start();
        int rc = tt_ring_submit_sp(p->r, src[i & (SRC_SLOTS - 1)], len, 1, i);
        uint64_t b = tick_end();
        sum += b - a - ovh;
        drops += rc != 0;
    }
    tt_ring_stats st;
    tt_ring_stats_get(p->r, &st);
    tt_ring_close(p->r);
    pthread_join(tc, NULL);
    res.submit_ns = (double)sum * tick_ns / (double)n;
    res.drops = drops;
    res.sent = n;
    res.consumer_sleeps = st.consumer_sleeps;
    res.wakes = st.consumer_wakes;
    tt_ring_destroy(p->r);
    free(p);

    /* Baseline: the same copies at the same pace, no ring, no consumer. */
    unsigned char *dst = aligned_alloc(TT_RING_ALIGN, opt.paced_cap);
    if (!dst)
        abort();
    memset(dst, 0, opt.paced_cap);
    size_t pos = 0;
    sum = 0;
    next = (double)tick_start();
    for (uint64_t i = 0; i < n; i++) {
        while ((double)tick_start() < next)
            relax();
        next += period;
        size_t len = pf->lens[i % pf->n], rec = (16 + len + 7) & ~(size_t)7;
        uint64_t a = tick_start();
        if (pos + rec > opt.paced_cap)
            pos = 0;
        memcpy(dst + pos + 16, src[i & (SRC_SLOTS - 1)], len);
        pos += rec;
        uint64_t b = tick_end();
        sum += b - a - ovh;
    }
    g_sink = dst[pos / 2];
    free(dst);
    res.memcpy_ns = (double)sum * tick_ns / (double)n;
    return res;
}

/* ---- software cost on one core ------------------------------------------ */

/* One thread submits 64 packets, then peeks, reads and releases them: the
 * ring's own instructions with no cross-core traffic. ns per packet and side. */
static void same_thread_once(const struct profile *pf, unsigned flags, double *prod_ns,
                             double *cons_ns)
{
    pin(0);
    tt_ring *r;
    if (tt_ring_create(&r, opt.cap, flags, NULL, NULL) != 0)
        abort();
    const tt_ring_rec *recs[64];
    uint64_t n = 0, tp = 0, tc = 0, sink = 0, end = now_ns() + (uint64_t)opt.ms * 1000000u;
    while (now_ns() < end) {
        uint64_t a = now_ns();
        for (unsigned j = 0; j < 64; j++, n++)
            if (tt_ring_submit_sp(r, src[n & (SRC_SLOTS - 1)], pf->lens[n % pf->n], 1, n) != 0)
                abort();
        tt_ring_flush_sp(r);
        uint64_t b = now_ns();
        unsigned k = tt_ring_peek_burst_sc(r, recs, 64);
        for (unsigned j = 0; j < k; j++)
            sink += touch(tt_ring_rec_data(recs[j]), recs[j]->len);
        tt_ring_release_sc(r);
        tp += b - a;
        tc += now_ns() - b;
    }
    g_sink = sink;
    tt_ring_destroy(r);
    *prod_ns = (double)tp / (double)n;
    *cons_ns = (double)tc / (double)n;
}

/* ---- host jitter -------------------------------------------------------- */

struct jitter {
    size_t cpu;
    double max_ms;
    unsigned over_1ms;
};

/* Longest time each CPU went without running us during 500 ms of polling
 * the clock: a vCPU descheduled by the host shows up here, and explains
 * drops no ring can avoid. */
static void *jitter_probe(void *arg)
{
    struct jitter *j = arg;
    pin(j->cpu);
    uint64_t t0 = now_ns(), prev = t0, max = 0;
    while (prev - t0 < 500000000u) {
        uint64_t t = now_ns();
        if (t - prev > max)
            max = t - prev;
        j->over_1ms += t - prev > 1000000u;
        prev = t;
    }
    j->max_ms = (double)max / 1e6;
    return NULL;
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: ring_bench [--reps N] [--ms MS] [--cap BYTES] [--touch head|all] "
                    "[--quick]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            opt.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
            opt.ms = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cap") && i + 1 < argc)
            opt.cap = (size_t)strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--touch") && i + 1 < argc)
            opt.touch_all = !strcmp(argv[++i], "all");
        else if (!strcmp(argv[i], "--quick"))
            opt.quick = true;
        else if (!strcmp(argv[i], "--paced-cap") && i + 1 < argc)
            opt.paced_cap = (size_t)strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--verbose"))
            opt.verbose = true;
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc)
            opt.only_profile = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            opt.only_kind = atoi(argv[++i]);
        else
            usage();
    }
    if (opt.reps < 1 || opt.reps > 100 || tt_ring_memsize(opt.cap) == 0 ||
        tt_ring_memsize(opt.paced_cap) == 0)
        usage();
    for (int s = 0; s < SRC_SLOTS; s++)
        for (int b = 0; b < 2048; b++)
            src[s][b] = (unsigned char)(s * 31 + b * 7);
    calibrate_ticks();

#ifndef TT_BENCH_HAVE_CK
    fprintf(stderr, "ring_bench: built without Concurrency Kit, skipping ck_ring\n");
#endif
    struct jitter jit[2] = {{.cpu = 0}, {.cpu = 1}};
    pthread_t jt[2];
    for (int c = 0; c < 2; c++)
        pthread_create(&jt[c], NULL, jitter_probe, &jit[c]);
    for (int c = 0; c < 2; c++)
        pthread_join(jt[c], NULL);
    printf("host jitter (500 ms polling each CPU): CPU0 max gap %.1f ms, %u gaps > 1 ms; "
           "CPU1 max gap %.1f ms, %u gaps > 1 ms\n",
           jit[0].max_ms, jit[0].over_1ms, jit[1].max_ms, jit[1].over_1ms);
    if (!opt.quick) {
        printf("one core, no cross-core traffic (producer: submit; consumer: peek + read + "
               "release), ns per packet, medians\n\n| profile | memcpy ns | producer ns | "
               "consumer ns | batched producer ns |\n|---|---|---|---|---|\n");
        double *a = calloc((size_t)opt.reps, sizeof(double));
        double *b = calloc((size_t)opt.reps, sizeof(double));
        double *c = calloc((size_t)opt.reps, sizeof(double));
        double *d = calloc((size_t)opt.reps, sizeof(double));
        if (!a || !b || !c || !d)
            abort();
        for (size_t p = 0; p < NPROFILES; p++) {
            double unused;
            for (int rep = 0; rep < opt.reps; rep++) {
                memcpy_once(&profiles[p], &a[rep]);
                same_thread_once(&profiles[p], 0, &b[rep], &c[rep]);
                same_thread_once(&profiles[p], TT_RING_BATCH, &d[rep], &unused);
            }
            printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", profiles[p].name, median(a, opt.reps),
                   median(b, opt.reps), median(c, opt.reps), median(d, opt.reps));
        }
        printf("\n");
        free(a);
        free(b);
        free(c);
        free(d);
    }
    printf("ring_bench: capacity %zu B, %d reps x %u ms, consumer reads %s, medians "
           "(ratios: median of per-rep ratios)\n\n",
           opt.cap, opt.reps, opt.ms, opt.touch_all ? "every byte" : "the first 64 B");
    printf("| profile | memcpy GB/s | tt_ring Mpps | tt_ring batched Mpps | batched GB/s | "
           "batched / memcpy | ck_ring Mpps | mutex+cv Mpps | tt / ck | batched / ck | "
           "tt / mutex |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    int R = opt.reps;
    double *mem = calloc((size_t)R, sizeof(double)), *tmp = calloc((size_t)R, sizeof(double));
    double *mpps[K_COUNT], *gb[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) {
        mpps[k] = calloc((size_t)R, sizeof(double));
        gb[k] = calloc((size_t)R, sizeof(double));
        if (!mpps[k] || !gb[k])
            abort();
    }
    if (!mem || !tmp)
        abort();
    for (size_t p = 0; p < NPROFILES; p++) {
        const struct profile *pf = &profiles[p];
        if (opt.only_profile >= 0 && (size_t)opt.only_profile != p)
            continue;
        /* Rep-major: every kind runs once per rep, so slow spells of a noisy
         * host hit all of them alike and per-rep ratios stay meaningful. */
        for (int rep = 0; rep < R; rep++) {
            double ns;
            mem[rep] = memcpy_once(pf, &ns);
            for (int kind = 0; kind < K_COUNT; kind++) {
                mpps[kind][rep] = gb[kind][rep] = 0;
#ifndef TT_BENCH_HAVE_CK
                if (kind == K_CK)
                    continue;
#endif
                if (opt.only_kind >= 0 && opt.only_kind != kind)
                    continue;
                mpps[kind][rep] = run_once((enum kind)kind, pf, &gb[kind][rep]);
            }
        }
        double r_bm = ratio(gb[K_TT_BATCH], mem, tmp, R);
        double r_tc = ratio(mpps[K_TT], mpps[K_CK], tmp, R);
        double r_bc = ratio(mpps[K_TT_BATCH], mpps[K_CK], tmp, R);
        double r_tm = ratio(mpps[K_TT], mpps[K_MUTEX], tmp, R);
        printf(
            "| %s | %.1f | %.1f | %.1f | %.2f | %.0f %% | %.1f | %.1f | %.2fx | %.2fx | %.1fx |\n",
            pf->name, median(mem, R), median(mpps[K_TT], R), median(mpps[K_TT_BATCH], R),
            median(gb[K_TT_BATCH], R), 100 * r_bm, median(mpps[K_CK], R), median(mpps[K_MUTEX], R),
            r_tc, r_bc, r_tm);
        fflush(stdout);
    }
    double *v = tmp, *g = mem;
    if (!opt.quick) {
        printf("\npaced submit into a lossy %zu-byte ring (consumer keeps up, sleeps when idle); "
               "ns per call, medians; drops summed over the reps\n\n",
               opt.paced_cap);
        printf("| profile | rate | submit ns | memcpy ns | submit - memcpy | drops | "
               "consumer sleeps | wakes |\n|---|---|---|---|---|---|---|---|\n");
        const double rates[] = {1.0, 5.0};
        const struct profile *pp[] = {&profiles[0], &profiles[3], &profiles[2]};
        for (size_t q = 0; q < sizeof pp / sizeof pp[0]; q++) {
            for (size_t k = 0; k < 2; k++) {
                struct paced_result res = {0};
                uint64_t drops = 0, sleeps = 0, wakes = 0;
                for (int rep = 0; rep < opt.reps; rep++) {
                    res = paced_once(pp[q], rates[k]);
                    v[rep] = res.submit_ns;
                    g[rep] = res.memcpy_ns;
                    drops += res.drops;
                    sleeps += res.consumer_sleeps;
                    wakes += res.wakes;
                }
                double s = median(v, opt.reps), m = median(g, opt.reps);
                printf("| %s | %.0f Mpps | %.1f | %.1f | %+.1f | %llu | %llu | %llu |\n",
                       pp[q]->name, rates[k], s, m, s - m, (unsigned long long)drops,
                       (unsigned long long)sleeps, (unsigned long long)wakes);
                fflush(stdout);
            }
        }
    }
    for (int k = 0; k < K_COUNT; k++) {
        free(mpps[k]);
        free(gb[k]);
    }
    free(mem);
    free(tmp);
    return 0;
}
