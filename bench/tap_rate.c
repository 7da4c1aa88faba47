/* tap_rate.c - a lossy tap's analysis-thread CPU at a fixed packet rate (bench/tap_rate.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pkt.h"
#include "tunneltap/tunneltap.h"

static uint64_t clock_us(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: tap_rate PACKETS_PER_SECOND [SECONDS]\n");
        return 2;
    }
    unsigned pps = (unsigned)atoi(argv[1]);
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.analyzer.enable_dpi = false;
    tt_tap *t;
    tt_producer *p;
    char err[TT_ERRBUF_SIZE] = "";
    if (tt_tap_open(&t, &cfg, err) < 0 || tt_tap_producer_open(t, &p) < 0) {
        fprintf(stderr, "tap_rate: cannot open a tap: %s\n", err);
        return 1;
    }
    uint64_t w0 = clock_us(CLOCK_MONOTONIC), c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID),
             m0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    unsigned n = (unsigned)(pps * secs);
    double gap = 1e6 / pps;
    for (unsigned i = 0; i < n; i++) {
        tflow f = t_flow4("10.0.0.1", (uint16_t)(1000 + i % 50), "10.0.0.2", 53);
        tpkt pk;
        t_udp(&pk, &f, i & 1, "abcdefgh", 8);
        (void)tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, 0,
                            1700000000000000ull + (uint64_t)(i * gap));
        uint64_t due = w0 + (uint64_t)((i + 1) * gap);
        while (clock_us(CLOCK_MONOTONIC) < due) {
            if (due - clock_us(CLOCK_MONOTONIC) > 200) { /* sleep most of a long gap */
                struct timespec s = {0, 100000};
                nanosleep(&s, NULL);
            }
        }
    }
    uint64_t wall = clock_us(CLOCK_MONOTONIC) - w0, mine = clock_us(CLOCK_THREAD_CPUTIME_ID) - m0,
             all = clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
    tt_tap_stats st;
    tt_tap_get_stats(t, &st);
    uint64_t theirs = all > mine ? all - mine : 0;
    printf("%7u pps: analysis thread %5.1f %% of a core (%.2f us a copy), %llu of %u dropped\n",
           pps, 100.0 * (double)theirs / (double)wall, (double)theirs / n,
           (unsigned long long)st.dropped_full, n);
    tt_tap_finish(t);
    tt_tap_close(t);
    return 0;
}
