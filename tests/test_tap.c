/* test_tap.c - the embedding API: producers, drain, drops, markers, accounting. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkt.h"
#include "analyze/judgment.h"
#include "tunneltap/tunneltap.h"

#define SEC ((uint64_t)1000000)
#define T0 ((uint64_t)1700000000 * SEC)

static void check_identity(tt_tap *t)
{
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.submitted, st.analysed + st.dropped_full + st.dropped_oversize + st.in_flight,
                 "submitted %llu != analysed %llu + dropped %llu + %llu + in flight %llu",
                 (unsigned long long)st.submitted, (unsigned long long)st.analysed,
                 (unsigned long long)st.dropped_full, (unsigned long long)st.dropped_oversize,
                 (unsigned long long)st.in_flight);
}

typedef struct prod_arg {
    tt_tap *tap;
    int id;
    int n;
    int full;
    _Atomic int *running;
} prod_arg;

static void *producer(void *v)
{
    prod_arg *a = v;
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(a->tap, &p), 0);
    for (int i = 0; i < a->n; i++) {
        tflow f = t_flow4("10.0.0.1", (uint16_t)(1000 + i % 5000), "10.0.0.2", 53);
        tpkt pk;
        t_udp(&pk, &f, a->id == 1, "abcdefgh", 8);
        int rc =
            tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, a->id ? TT_DIR_INBOUND : TT_DIR_OUTBOUND,
                          T0 + (uint64_t)i * 1000 + (uint64_t)a->id);
        cr_assert(rc == 0 || rc == TT_EFULL, "submit: %s", tt_err_name(rc));
        if (rc == TT_EFULL)
            a->full++;
    }
    atomic_fetch_sub(a->running, 1);
    return NULL;
}

Test(tap, two_producers_and_a_host_driven_drain_account_for_every_copy)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.ring_bytes = 1u << 16;
    cfg.analyzer.max_flows = 20000;
    cfg.memory_budget = 0;
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    _Atomic int running = 2;
    prod_arg a0 = {t, 0, 20000, 0, &running}, a1 = {t, 1, 20000, 0, &running};
    pthread_t th0, th1;
    pthread_create(&th0, NULL, producer, &a0);
    pthread_create(&th1, NULL, producer, &a1);
    while (atomic_load(&running) > 0) {
        cr_assert(tt_tap_drain(t, 256) >= 0);
    }
    pthread_join(th0, NULL);
    pthread_join(th1, NULL);
    check_identity(t);
    while (tt_tap_drain(t, 0) > 0) {
    }
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.submitted, 40000);
    cr_assert_eq(st.in_flight, 0);
    cr_assert_eq(st.dropped_full, (uint64_t)(a0.full + a1.full));
    cr_assert_eq(st.analysed + st.dropped_full, 40000);
    cr_assert_eq(st.analyzer.packets, st.analysed);
    check_identity(t);
    tt_tap_finish(t);
    tt_tap_close(t);
}

Test(tap, host_that_never_drains_gets_immediate_returns_and_counted_drops)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.ring_bytes = 4096;
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(t, &p), 0);
    tflow f = t_flow4("10.0.0.1", 1000, "10.0.0.2", 53);
    tpkt pk;
    t_udp(&pk, &f, false, "x", 1);
    int dropped = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 100000; i++)
        if (tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, T0 + (uint64_t)i) ==
            TT_EFULL)
            dropped++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_assert(secs < 5.0, "100k submits took %.2f s", secs);
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_gt(dropped, 99000);
    cr_assert_eq(st.dropped_full, (uint64_t)dropped);
    cr_assert_eq(st.analysed, 0);
    cr_assert_eq(st.submitted, 100000);
    check_identity(t);
    /* the drops reach the analyzer as capture loss: nothing judged on them is certain */
    tt_tap_drain(t, 0);
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.analyzer.loss_reported, (uint64_t)dropped);
    tt_tap_close(t);
}

Test(tap, own_thread_analyses_and_markers_are_kept_sanitised)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.lossless = true;
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(t, &p), 0);
    for (int i = 0; i < 1000; i++) {
        tflow f = t_flow6(1, (uint16_t)(2000 + i), 2, 443);
        tpkt pk;
        t_tcp(&pk, &f, false, 0x02, 1, 0, NULL, 0);
        cr_assert_eq(tt_tap_submit(p, pk.b, pk.len, TT_LINK_AF(AF_INET6), 0, T0 + (uint64_t)i), 0);
    }
    cr_assert_eq(tt_tap_mark(t, "filter\x1b[31m 2.1\n", T0 + 500), 0);
    tt_tap_finish(t);
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.analysed, 1000);
    cr_assert_eq(st.analyzer.by_verdict[TT_VERDICT_SYN_UNANSWERED], 1000);
    tt_marker m[4];
    cr_assert_eq(tt_tap_markers(t, m, 4), 1);
    cr_assert_str_eq(m[0].label, "filter?[31m 2.1?");
    cr_assert_eq(tt_tap_submit(p, "x", 1, TT_LINK_RAW, 0, 0), TT_ECLOSED);
    tt_tap_close(t);
}

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

/* A tap of the default configuration (its own thread, lossy) without nDPI,
 * and one producer. */
static tt_tap *open_lossy_tap(tt_producer **p)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.analyzer.enable_dpi = false;
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    cr_assert_eq(tt_tap_producer_open(t, p), 0);
    return t;
}

/* Copies into a lossy tap with its own thread at `gap_us` apart for 0.4 s;
 * returns the CPU time its analysis thread used (the process's CPU time less
 * this producing thread's: no other thread runs), wall time in *wall. */
static uint64_t trickle(unsigned gap_us, uint64_t *wall)
{
    tt_producer *p;
    tt_tap *t = open_lossy_tap(&p);
    uint64_t w0 = clock_us(CLOCK_MONOTONIC), c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID),
             m0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    unsigned n = 400000 / gap_us;
    for (unsigned i = 0; i < n; i++) {
        tflow f = t_flow4("10.0.0.1", (uint16_t)(1000 + i % 50), "10.0.0.2", 53);
        tpkt pk;
        t_udp(&pk, &f, i & 1, "abcdefgh", 8);
        int rc = tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, 0, T0 + (uint64_t)i * gap_us);
        cr_assert(rc == 0 || rc == TT_EFULL, "submit: %s", tt_err_name(rc));
        uint64_t due = w0 + (uint64_t)(i + 1) * gap_us;
        while (clock_us(CLOCK_MONOTONIC) < due) {
            if (due - clock_us(CLOCK_MONOTONIC) > 200) { /* sleep most of a long gap */
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
    }
    *wall = clock_us(CLOCK_MONOTONIC) - w0;
    uint64_t mine = clock_us(CLOCK_THREAD_CPUTIME_ID) - m0;
    uint64_t all = clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
    tt_tap_finish(t);
    check_identity(t);
    tt_tap_close(t);
    uint64_t theirs = all > mine ? all - mine : 0;
    cr_log_info("a copy every %u us: %u copies in %llu us; analysis thread %llu us of CPU", gap_us,
                n, (unsigned long long)*wall, (unsigned long long)theirs);
    return theirs;
}

/* A copy every 10 us, as a bridge at 1.8 Gbit/s makes them: the thread
 * takes them in batches between naps. Before, it spun for the next copy and
 * used most of a core (97 % here, 65 % on that bridge); it must stay under
 * half the wall time (a few % in a release build). */
Test(tap, a_lossy_taps_thread_takes_a_trickle_in_batches_instead_of_spinning)
{
    uint64_t wall, cpu = trickle(10, &wall);
    cr_assert_lt(cpu, wall / 2, "the analysis thread used %llu us of CPU in %llu us",
                 (unsigned long long)cpu, (unsigned long long)wall);
}

/* A copy every millisecond, a phone's quiet traffic: the thread sleeps
 * through the gaps without spinning first (TT_RING_NO_SPIN) and naps longer
 * while few copies come. It spent 7 % of a core here with a fixed nap and
 * the spin, 6 % with the spin alone; now under 2 % (release). */
Test(tap, a_lossy_taps_thread_costs_little_at_a_thousand_copies_a_second)
{
    uint64_t wall, cpu = trickle(1000, &wall);
    cr_assert_lt(cpu, wall / 25, "the analysis thread used %llu us of CPU in %llu us",
                 (unsigned long long)cpu, (unsigned long long)wall);
}

/* Context switches (voluntary and not) of every thread of this process but
 * the calling one, from /proc: how often they woke up. */
static uint64_t other_threads_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    long me = (long)gettid();
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == me)
            continue;
        char path[320], line[128]; /* d_name: up to 255 bytes */
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread has gone */
        while (fgets(line, sizeof line, f)) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                n += v;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* A tap with a producer open and no traffic, as on a phone at rest: its
 * thread wakes for its idle tick (every 50 ms: the regression detector's
 * clock) and sleeps between, on the first ring's wake-up word. Where there
 * is no futex (Apple's platforms; make test-portable) the rings used to poll
 * that word every 100 us: 5 243 wake-ups a second here, with nothing to do. */
Test(tap, an_idle_taps_thread_sleeps_between_its_ticks)
{
    tt_producer *p;
    tt_tap *t = open_lossy_tap(&p);
    struct timespec settle = {0, 100 * 1000 * 1000}, second = {1, 0};
    nanosleep(&settle, NULL);
    uint64_t s0 = other_threads_switches();
    nanosleep(&second, NULL);
    uint64_t woke = other_threads_switches() - s0;
    tt_tap_finish(t);
    tt_tap_close(t);
    cr_log_info("an idle tap's thread woke %llu times in a second", (unsigned long long)woke);
    cr_assert_lt(woke, 100, "an idle tap's thread woke %llu times in a second",
                 (unsigned long long)woke);
}

/* Milliseconds a fresh single-threaded process (a forked child) takes to
 * open a tap with its own thread and a first producer. */
static double open_ms(void)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        tt_tap_config cfg;
        tt_tap_config_init(&cfg);
        cfg.analyzer.enable_dpi = false;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        tt_tap *t;
        tt_producer *p;
        int ok = tt_tap_open(&t, &cfg, NULL) == 0 && tt_tap_producer_open(t, &p) == 0;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms =
            ok ? (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6 : -1.0;
        _exit(write(fds[1], &ms, sizeof ms) == (ssize_t)sizeof ms ? 0 : 1);
    }
    close(fds[1]);
    double ms = -1.0;
    cr_assert_eq(read(fds[0], &ms, sizeof ms), (ssize_t)sizeof ms);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(ms >= 0, "the child could not open a tap");
    return ms;
}

/* The rings' asymmetric fence needs the process registered (membarrier);
 * Linux makes a multi-threaded process's registration wait for an RCU grace
 * period — 11-18 ms on the 2-vCPU machine, which every replay paid when the
 * first producer's ring registered after the analysis thread had started.
 * tt_tap_open registers before starting it: microseconds. Best of three. */
Test(tap, opening_registers_the_fence_before_the_thread_starts)
{
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        double ms = open_ms();
        if (ms < best)
            best = ms;
    }
    cr_assert_lt(best, 5.0, "opening a tap and a producer took %.2f ms", best);
}

Test(tap, default_configuration_fits_16_mib_and_budget_is_enforced)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cr_assert_leq(tt_tap_memsize(&cfg), 16u << 20, "default needs %zu", tt_tap_memsize(&cfg));
    cfg.ring_bytes = 8u << 20;
    tt_tap *t;
    char eb[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_tap_open(&t, &cfg, eb), TT_ENOMEM);
    cr_assert(strstr(eb, "budget"));
}

Test(tap, copies_from_two_rings_are_analysed_in_timestamp_order)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.memory_budget = 0;
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    tt_producer *bulk, *acks;
    cr_assert_eq(tt_tap_producer_open(t, &bulk), 0);
    cr_assert_eq(tt_tap_producer_open(t, &acks), 0);
    tflow f = t_flow4("10.0.0.1", 4000, "10.0.0.2", 5000);
    tpkt pk;
    /* a busy direction (every 10 us) and a quiet one (every 100 us): a burst
     * of each covers a very different stretch of time */
    t_udp(&pk, &f, false, "data", 4);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(
            tt_tap_submit(bulk, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, T0 + (uint64_t)i * 10),
            0);
    t_udp(&pk, &f, true, "ack", 3);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tt_tap_submit(acks, pk.b, pk.len, TT_LINK_RAW, TT_DIR_INBOUND,
                                   T0 + (uint64_t)i * 100 + 5),
                     0);
    while (tt_tap_drain(t, 0) > 0) {
    }
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.analysed, 1100);
    cr_assert_eq(st.analyzer.ts_backwards, 0, "%llu copies analysed out of order",
                 (unsigned long long)st.analyzer.ts_backwards);
    tt_tap_close(t);
}

/* One host thread dealing copies in time order over four rings while the
 * tap's thread analyses them: each ring is peeked while the host is already
 * filling the next, so a ring whose burst came back short, or came back
 * empty, may receive a copy earlier than the later rings' peeked ones. The
 * frontier covers every ring with records, not only those whose burst came
 * back full, and empty rings are looked at again after the others: with
 * full rings only, this test saw 1 330-1 387 copies out of order (20 runs
 * of 20 failed; the race needs the two threads on two CPUs at once: pinned
 * to one, the old merge passed 10 of 10), and a 1 M-packet capture dealt
 * this way 790-990 and up to 6 flows too many (bench/footprint.c); without
 * the second look at empty rings, 1 run in 300 failed. */
Test(tap, copies_dealt_over_four_rings_by_one_thread_are_analysed_in_order)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.lossless = true;
    cfg.live_clock = false;
    cfg.memory_budget = 0;
    cfg.ring_bytes = 1u << 16; /* small rings: the host waits on them often */
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    tt_producer *p[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(tt_tap_producer_open(t, &p[i]), 0);
    enum { FLOWS = 64, COPIES = 200000 };
    tpkt req[FLOWS], rep[FLOWS];
    for (int i = 0; i < FLOWS; i++) {
        tflow f = t_flow4("10.0.0.1", (uint16_t)(2000 + i), "10.0.0.2", 7);
        t_udp(&req[i], &f, false, "ping", 4);
        t_udp(&rep[i], &f, true, "pong", 4);
    }
    for (int n = 0; n < COPIES; n++) {
        /* each flow: its request, then its reply one copy later */
        int fl = (n / 2) % FLOWS;
        const tpkt *k = n % 2 ? &rep[fl] : &req[fl];
        cr_assert_eq(tt_tap_submit(p[n % 4], k->b, k->len, TT_LINK_RAW, TT_DIR_UNKNOWN,
                                   T0 + (uint64_t)n * 10),
                     0);
    }
    tt_tap_finish(t);
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    cr_assert_eq(st.analysed, COPIES);
    cr_assert_eq(st.analyzer.ts_backwards, 0, "%llu copies analysed out of order",
                 (unsigned long long)st.analyzer.ts_backwards);
    cr_assert_eq(st.analyzer.flows_created, FLOWS, "%llu flows",
                 (unsigned long long)st.analyzer.flows_created);
    tt_tap_close(t);
}

/* One minute of answered DNS and completed handshakes, a marker, one minute
 * of unanswered DNS and unanswered SYNs: the regression detector's view. */
typedef struct upgrade_view {
    tt_timeline_bucket tl[4096];
    unsigned ntl;
    tt_alert al[8];
    unsigned nal;
    unsigned user_judgments;
} upgrade_view;

static void count_judgment(void *ctx, const tt_conn *c, tt_verdict old, tt_certainty oc)
{
    (void)old;
    (void)oc;
    cr_assert_eq(c->uid[0], 'C');
    ((upgrade_view *)ctx)->user_judgments++;
}

static void upgrade_run(upgrade_view *v, bool user_hook)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.memory_budget = 0;
    cfg.live_clock = false; /* packet time only: the capture is from 2023 */
    if (user_hook) {
        cfg.analyzer.on_judge = count_judgment;
        cfg.analyzer.judge_ctx = v;
    }
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(t, &p), 0);
    tpkt pk;
    for (unsigned s = 0; s < 120; s++) {
        uint64_t ts = T0 + (uint64_t)s * SEC;
        bool after = s >= 60;
        for (unsigned k = 0; k < 2; k++) {
            tflow d = t_flow4("10.0.0.1", (uint16_t)(20000 + s * 2 + k), "10.0.0.53", 53);
            t_udp(&pk, &d, false, "query", 5);
            cr_assert_eq(tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, ts + k), 0);
            if (!after) {
                t_udp(&pk, &d, true, "answer", 6);
                cr_assert_eq(
                    tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_INBOUND, ts + 1000 + k), 0);
            }
        }
        tflow w = t_flow4("10.0.0.1", (uint16_t)(40000 + s), "10.0.0.80", 80);
        t_tcp(&pk, &w, false, 0x02, 1, 0, NULL, 0);
        cr_assert_eq(tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, ts + 10), 0);
        if (!after) {
            t_tcp(&pk, &w, true, 0x12, 100, 2, NULL, 0);
            cr_assert_eq(tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_INBOUND, ts + 2000), 0);
            t_tcp(&pk, &w, false, 0x10, 2, 101, NULL, 0);
            cr_assert_eq(tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, ts + 3000),
                         0);
        }
        if (s == 59)
            cr_assert_eq(tt_tap_mark(t, "filter 2.1", ts + SEC / 2), 0);
        while (tt_tap_drain(t, 0) > 0) {
        }
    }
    cr_assert_eq(tt_tap_finish(t), 0);
    v->ntl = tt_tap_timeline(t, v->tl, 4096);
    cr_assert_leq(v->ntl, 4096, "the timeline spans %u s", v->ntl);
    v->nal = tt_tap_alerts(t, v->al, 8);
    cr_assert_leq(v->nal, 8, "%u alerts", v->nal);
    tt_tap_close(t);
}

#define COUNT(f)                                                                                   \
    {                                                                                              \
        offsetof(tt_timeline_bucket, f), #f                                                        \
    }
static const struct {
    size_t off;
    const char *name;
} bucket_counts[] = {
    COUNT(flows_new),          COUNT(udp_new),
    COUNT(udp_judged),         COUNT(udp_answered),
    COUNT(udp_unanswered),     COUNT(udp_unreachable),
    COUNT(tcp_judged),         COUNT(tcp_completed),
    COUNT(tcp_syn_unanswered), COUNT(tcp_syn_rejected),
    COUNT(tcp_synack_unacked), COUNT(uncertain),
};

/* The tap hands judgments to its regression detector without building a
 * conn record when its user set no judge hook; with one, from the user's
 * record. Both paths must count the same. */
Test(tap, regression_counts_are_the_same_with_and_without_a_user_judge_hook)
{
    static upgrade_view lite, full;
    upgrade_run(&lite, false);
    upgrade_run(&full, true);
    cr_assert_eq(lite.user_judgments, 0);
    cr_assert_geq(full.user_judgments, 360, "user hook called %u times", full.user_judgments);
    cr_assert_eq(lite.ntl, full.ntl);
    cr_assert_gt(lite.ntl, 100);
    uint64_t udp_answered = 0, udp_unanswered = 0, syn_unanswered = 0, completed = 0, unsure = 0;
    for (unsigned i = 0; i < lite.ntl; i++) {
        const tt_timeline_bucket *a = &lite.tl[i], *b = &full.tl[i];
        cr_assert_eq(a->start_us, b->start_us);
        for (size_t k = 0; k < sizeof(bucket_counts) / sizeof(bucket_counts[0]); k++) {
            uint32_t x, y;
            memcpy(&x, (const char *)a + bucket_counts[k].off, sizeof x);
            memcpy(&y, (const char *)b + bucket_counts[k].off, sizeof y);
            cr_assert_eq(x, y, "bucket %u %s: %u without a user hook, %u with", i,
                         bucket_counts[k].name, x, y);
        }
        udp_answered += a->udp_answered;
        udp_unanswered += a->udp_unanswered;
        syn_unanswered += a->tcp_syn_unanswered;
        completed += a->tcp_completed;
        unsure += a->uncertain;
    }
    cr_assert_eq(udp_answered, 120, "answered %llu unanswered %llu completed %llu syn %llu",
                 (unsigned long long)udp_answered, (unsigned long long)udp_unanswered,
                 (unsigned long long)completed, (unsigned long long)syn_unanswered);
    /* the last 5 s of failures could not have been answered before the end
     * (5 s deadlines): uncertain, 2 DNS + 1 SYN a second */
    cr_assert_eq(udp_unanswered, 110);
    cr_assert_eq(completed, 60);
    cr_assert_eq(syn_unanswered, 55);
    cr_assert_eq(unsure, 15);
    cr_assert_eq(lite.nal, full.nal);
    cr_assert_geq(lite.nal, 2, "%u alerts", lite.nal);
    bool dns = false;
    for (unsigned i = 0; i < lite.nal; i++) {
        cr_assert_eq(lite.al[i].kind, full.al[i].kind);
        cr_assert_str_eq(lite.al[i].message, full.al[i].message);
        cr_assert_str_eq(lite.al[i].services, full.al[i].services);
        dns |= strstr(lite.al[i].services, "DNS") != NULL;
    }
    cr_assert(dns, "the UDP alert names DNS from the flows' service");
}

/* ---- brief records (analyze/judgment.h) -------------------------------- */

typedef struct brief_view {
    tt__brief b[64];
    tt_conn c[64];
    char service[64][32]; /* the record's strings live only during the call */
    bool has_service[64];
    unsigned n;
} brief_view;

/* The record's service, copied while it is valid; the next record's slot. */
static void keep_service(brief_view *v, const char *service)
{
    v->has_service[v->n] = service != NULL;
    if (service)
        snprintf(v->service[v->n], sizeof v->service[0], "%s", service);
    v->n++;
}

static void keep_brief(void *ctx, const tt__brief *b)
{
    brief_view *v = ctx;
    cr_assert_lt(v->n, 64);
    v->b[v->n] = *b;
    keep_service(v, b->service);
}

static void keep_conn(void *ctx, const tt_conn *c)
{
    brief_view *v = ctx;
    cr_assert_lt(v->n, 64);
    v->c[v->n] = *c;
    keep_service(v, c->service);
}

static void submit(tt_producer *p, const tpkt *k, uint64_t ts)
{
    cr_assert_eq(tt_tap_submit(p, k->b, k->len, TT_LINK_RAW, TT_DIR_UNKNOWN, ts), 0);
}

/* Every kind of ending: answered and unanswered DNS (IPv4 and IPv6), UDP to
 * a port nDPI names only by guess, an ICMP port unreachable, a handshake
 * that completes, one refused, one unanswered, pings, a loss report that
 * makes a failure uncertain, a late reply, and flows still waiting at the
 * end. */
static void brief_run(brief_view *v, bool brief)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.memory_budget = 0;
    cfg.live_clock = false;
    /* no regression detector: its judgments would name each flow's service
     * (the port guess) before the record does, and hide a record that
     * forgets to */
    cfg.enable_regress = false;
    if (!brief) {
        cfg.analyzer.on_conn = keep_conn;
        cfg.analyzer.conn_ctx = v;
    }
    tt_tap *t;
    cr_assert_eq(tt_tap_open(&t, &cfg, NULL), 0);
    if (brief)
        cr_assert_eq(tt__tap_set_brief_hook(t, keep_brief, v), 0);
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(t, &p), 0);
    if (brief)
        cr_assert_eq(tt__tap_set_brief_hook(t, keep_brief, v), TT_ESTATE,
                     "too late once a producer can submit");
    tpkt k, q;
    uint64_t ts = T0;
    tflow dns = t_flow4("10.0.0.1", 33333, "10.0.0.53", 53);
    t_udp(&k, &dns, false, "query", 5), submit(p, &k, ts);
    t_udp(&k, &dns, true, "answer!", 7), submit(p, &k, ts + 5);
    tflow dns6 = t_flow6(1, 33334, 0x53, 53);
    t_udp(&k, &dns6, false, "query", 5), submit(p, &k, ts + 10);
    tflow snmp = t_flow4("10.0.0.1", 33335, "10.0.0.9", 161);
    t_udp(&q, &snmp, false, "get", 3), submit(p, &q, ts + 20);
    tflow back = t_flow4("10.0.0.9", 0, "10.0.0.1", 0);
    t_icmp(&k, &back, false, 3, 3, 0, q.b, q.len), submit(p, &k, ts + 30);
    tflow web = t_flow4("10.0.0.1", 40000, "10.0.0.80", 443);
    t_tcp(&k, &web, false, 0x02, 1, 0, NULL, 0), submit(p, &k, ts + 40);
    t_tcp(&k, &web, true, 0x12, 100, 2, NULL, 0), submit(p, &k, ts + 50);
    t_tcp(&k, &web, false, 0x10, 2, 101, NULL, 0), submit(p, &k, ts + 60);
    tflow shut = t_flow4("10.0.0.1", 40001, "10.0.0.81", 22);
    t_tcp(&k, &shut, false, 0x02, 1, 0, NULL, 0), submit(p, &k, ts + 70);
    t_tcp(&k, &shut, true, 0x14, 0, 2, NULL, 0), submit(p, &k, ts + 80);
    tflow lost = t_flow4("10.0.0.1", 40002, "10.0.0.82", 80);
    t_tcp(&k, &lost, false, 0x02, 1, 0, NULL, 0), submit(p, &k, ts + 90);
    tflow ping = t_flow4("10.0.0.1", 7, "10.0.0.2", 0);
    t_icmp(&k, &ping, false, 8, 0, 0x10001, "abcd", 4), submit(p, &k, ts + 100);
    t_icmp(&k, &ping, true, 0, 0, 0x10001, "abcd", 4), submit(p, &k, ts + 200);
    while (tt_tap_drain(t, 0) > 0) {
    }
    tt_tap_note_loss(t, ts + 95, 3); /* the unanswered SYN's window lost packets */
    /* a minute later: the first flows are judged and expire */
    tflow late = t_flow4("10.0.0.1", 33336, "10.0.0.53", 53);
    t_udp(&k, &late, false, "query", 5), submit(p, &k, ts + 600 * SEC);
    tflow syn = t_flow4("10.0.0.1", 40003, "10.0.0.83", 8080);
    t_tcp(&k, &syn, false, 0x02, 1, 0, NULL, 0), submit(p, &k, ts + 600 * SEC + 1);
    /* the answer after the 5 s deadline: unanswered, then a late reply */
    t_udp(&k, &late, true, "answer!", 7), submit(p, &k, ts + 610 * SEC);
    tflow syn2 = t_flow4("10.0.0.1", 40004, "10.0.0.84", 8081);
    t_tcp(&k, &syn2, false, 0x02, 1, 0, NULL, 0), submit(p, &k, ts + 610 * SEC + 1);
    cr_assert_eq(tt_tap_finish(t), 0); /* the last two end with the capture */
    tt_tap_close(t);
}

/* replay's summary takes brief records when it is their only reader: each
 * must say what the flow's conn record says, in the same order. */
Test(tap, brief_records_say_what_the_conn_records_say)
{
    static brief_view b, c;
    brief_run(&b, true);
    brief_run(&c, false);
    cr_assert_eq(b.n, c.n);
    cr_assert_eq(b.n, 11, "%u records", b.n);
    unsigned uncertain = 0, failures = 0, named = 0, late = 0;
    for (unsigned i = 0; i < b.n; i++) {
        const tt__brief *x = &b.b[i];
        const tt_conn *y = &c.c[i];
        cr_assert_eq(x->ip_version, y->ip_version, "record %u", i);
        cr_assert_eq(x->proto, y->proto, "record %u", i);
        cr_assert_eq(x->orig_p, y->orig_p, "record %u", i);
        cr_assert_eq(x->resp_p, y->resp_p, "record %u", i);
        cr_assert_eq(memcmp(x->resp_h, y->resp_h, 16), 0, "record %u", i);
        cr_assert_eq(b.has_service[i], c.has_service[i], "record %u", i);
        if (b.has_service[i])
            cr_assert_str_eq(b.service[i], c.service[i], "record %u", i);
        cr_assert_eq(x->verdict, y->verdict, "record %u", i);
        cr_assert_eq(x->certainty, y->certainty, "record %u", i);
        cr_assert_eq(x->uncertain_why, y->uncertain_why, "record %u", i);
        cr_assert_eq(x->late_replies, y->late_replies, "record %u", i);
        uncertain += x->certainty == TT_UNCERTAIN;
        failures += tt_verdict_is_failure(x->verdict);
        named += b.has_service[i];
        late += x->late_replies;
    }
    /* the run has what the comparison is about */
    cr_assert_eq(uncertain, 3, "uncertain: %u", uncertain); /* two by the loss, one by the end */
    cr_assert_geq(failures, 5, "failures: %u", failures);
    cr_assert_geq(named, 3, "named: %u", named);
    cr_assert_eq(late, 1);
}
