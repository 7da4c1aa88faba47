/* tsan_tap.c - tap stress without Criterion (which cannot run under TSan):
 * two producer threads against the library's own analysis thread, then
 * against a host-driven drain, then a trickle that makes the analysis
 * thread sleep on its ring; checks the accounting identity exactly. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkt.h"
#include "plain_check.h"
#include "tunneltap/tunneltap.h"

enum { N = 30000 };

typedef struct arg {
    tt_tap *tap;
    int id;
} arg;

static void *produce(void *v)
{
    arg *a = v;
    tt_producer *p;
    CHECK(tt_tap_producer_open(a->tap, &p) == 0);
    for (int i = 0; i < N; i++) {
        tflow f = t_flow4("10.9.0.1", (uint16_t)(1024 + i % 30000), "10.9.0.2", 7777);
        tpkt pk;
        t_udp(&pk, &f, a->id == 1, "payload!", 8);
        int rc = tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, a->id + 1,
                               1700000000000000ull + (uint64_t)i * 100);
        CHECK(rc == 0 || rc == TT_EFULL);
    }
    return NULL;
}

static void run(bool own_thread)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = own_thread;
    cfg.ring_bytes = 1u << 15;
    cfg.analyzer.max_flows = 40000;
    cfg.memory_budget = 0;
    tt_tap *t;
    CHECK(tt_tap_open(&t, &cfg, NULL) == 0);
    pthread_t th[2];
    arg a[2] = {{t, 0}, {t, 1}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, produce, &a[i]);
    if (!own_thread) {
        tt_tap_stats st;
        do {
            tt_tap_drain(t, 128);
            tt_tap_get_stats(t, &st);
        } while (st.submitted < 2 * N);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    tt_tap_finish(t);
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    CHECK(st.submitted == 2 * N);
    CHECK(st.in_flight == 0);
    CHECK(st.submitted == st.analysed + st.dropped_full + st.dropped_oversize);
    CHECK(st.analyzer.packets == st.analysed);
    printf("%s: submitted %llu analysed %llu dropped %llu\n", own_thread ? "own thread" : "drain",
           (unsigned long long)st.submitted, (unsigned long long)st.analysed,
           (unsigned long long)st.dropped_full);
    tt_tap_close(t);
}

/* One copy every 2 ms: between copies the tap's thread naps, then sleeps on
 * the ring, and each copy's producer wakes it, so the rings' sleep and
 * wake-up path runs under the sanitizer (a futex here, the condition
 * variables of ring/platform.h's fallback in make test-portable). */
static void trickle(void)
{
    enum { COPIES = 150 };
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.analyzer.enable_dpi = false;
    tt_tap *t;
    CHECK(tt_tap_open(&t, &cfg, NULL) == 0);
    tt_producer *p;
    CHECK(tt_tap_producer_open(t, &p) == 0);
    for (int i = 0; i < COPIES; i++) {
        tflow f = t_flow4("10.9.0.1", (uint16_t)(1024 + i), "10.9.0.2", 53);
        tpkt pk;
        t_udp(&pk, &f, false, "payload!", 8);
        CHECK(tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND,
                            1700000000000000ull + (uint64_t)i * 2000) == 0);
        struct timespec gap = {0, 2 * 1000 * 1000};
        nanosleep(&gap, NULL);
    }
    tt_tap_finish(t);
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    CHECK(st.submitted == COPIES && st.analysed == COPIES && st.dropped_full == 0);
    printf("trickle: submitted %llu analysed %llu\n", (unsigned long long)st.submitted,
           (unsigned long long)st.analysed);
    tt_tap_close(t);
}

int main(void)
{
    run(true);
    run(false);
    trickle();
    printf("1 passed, 0 failed\n");
    return 0;
}
