/* gen_flood.c - a SYN flood from random sources with real flows merged in,
 * written as a pcap (for `tunneltap replay`) or submitted to an embedded
 * default tt_tap (to measure its memory). Used by bench/flood.sh.
 *
 *   gen_flood write OUT.pcap NSYN REAL.pcap   flood + REAL's packets, RAW pcap
 *   gen_flood embed NSYN REAL.pcap            the same stream into a default
 *                                             tt_tap; prints RSS growth
 *
 * REAL.pcap: a little-endian microsecond RAW pcap (the captures/ files named
 * -raw.pcap). The NSYN SYNs come from random sources in 100.64.0.0/10 and
 * random ports, to four targets in 198.18.0.0/15 (ports 80/443; anywhere in
 * that /15 with TT_FLOOD_RANDOM_DST=1), so they never share a tuple with the
 * real flows; they are spread evenly over 4 s (TT_FLOOD_SECONDS) starting a
 * quarter into REAL's span. Deterministic.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunneltap/tunneltap.h"

typedef struct real_pkt {
    uint64_t ts_us;
    uint32_t len, wire;
    uint8_t *data;
} real_pkt;

typedef struct real_cap {
    real_pkt *p;
    size_t n;
} real_cap;

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static int load_real(const char *path, real_cap *rc)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "gen_flood: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t gh[24];
    if (fread(gh, 1, 24, fp) != 24 || rd32(gh) != 0xa1b2c3d4u || rd32(gh + 20) != 101) {
        fprintf(stderr, "gen_flood: %s: want a little-endian microsecond RAW pcap\n", path);
        fclose(fp);
        return -1;
    }
    size_t cap = 0;
    uint8_t rh[16];
    while (fread(rh, 1, 16, fp) == 16) {
        uint32_t cl = rd32(rh + 8);
        if (cl > 262144)
            break;
        if (rc->n == cap) {
            cap = cap ? cap * 2 : 1024;
            real_pkt *np = realloc(rc->p, cap * sizeof *np);
            if (!np)
                break;
            rc->p = np;
        }
        real_pkt *p = &rc->p[rc->n];
        p->ts_us = (uint64_t)rd32(rh) * 1000000u + rd32(rh + 4);
        p->len = cl;
        p->wire = rd32(rh + 12);
        p->data = malloc(cl ? cl : 1);
        if (!p->data || fread(p->data, 1, cl, fp) != cl) {
            free(p->data);
            break;
        }
        rc->n++;
    }
    fclose(fp);
    if (rc->n == 0) {
        fprintf(stderr, "gen_flood: %s: no packets\n", path);
        return -1;
    }
    return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static bool random_dst;              /* TT_FLOOD_RANDOM_DST=1: every SYN to another target */
static uint64_t flood_us = 4000000u; /* TT_FLOOD_SECONDS: how long the flood lasts */

static uint64_t rng(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    return s;
}

/* A 40-byte IPv4 TCP SYN with valid checksums. */
static void make_syn(uint8_t *b)
{
    uint64_t r = rng();
    uint32_t src = 0x64400000u | (uint32_t)(r & 0x3fffff);  /* 100.64.0.0/10 */
    uint32_t dst = 0xc6120001u + (uint32_t)((r >> 22) & 3); /* 198.18.0.1-4 */
    if (random_dst)
        dst = 0xc6120000u | (uint32_t)((r >> 22) & 0x1ffff); /* all of 198.18.0.0/15 */
    uint16_t sport = (uint16_t)(1024 + ((r >> 24) % 64000));
    uint16_t dport = (r >> 40) & 1 ? 443 : 80;
    uint32_t seq = (uint32_t)rng();
    memset(b, 0, 40);
    b[0] = 0x45;
    b[3] = 40;
    b[6] = 0x40; /* DF */
    b[8] = 64;
    b[9] = 6;
    for (int i = 0; i < 4; i++) {
        b[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        b[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    uint16_t ic = csum_fold(sum16(b, 20, 0));
    b[10] = (uint8_t)(ic >> 8);
    b[11] = (uint8_t)ic;
    uint8_t *t = b + 20;
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++)
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    t[12] = 0x50;
    t[13] = 0x02; /* SYN */
    t[14] = 0xfa;
    t[15] = 0xf0; /* window 64240 */
    uint32_t s = sum16(b + 12, 8, 0) + 6 + 20;
    uint16_t tc = csum_fold(sum16(t, 20, s));
    t[16] = (uint8_t)(tc >> 8);
    t[17] = (uint8_t)tc;
}

/* Walks the merged stream: flood SYNs evenly over the real span, real
 * packets at their own times. emit() returns < 0 to stop. */
typedef int (*emit_fn)(void *ctx, uint64_t ts, const uint8_t *data, uint32_t len, uint32_t wire);

static int merge(const real_cap *rc, uint64_t nsyn, emit_fn emit, void *ctx)
{
    /* The flood starts a quarter into the real capture and lasts
     * flood_us: every SYN of it is still waiting for its answer (5 s) when
     * the last arrives, so the flow table overflows. */
    uint64_t r0 = rc->p[0].ts_us, r1 = rc->p[rc->n - 1].ts_us;
    uint64_t t0 = r0 + (r1 > r0 ? (r1 - r0) / 4 : 0);
    uint64_t span = flood_us ? flood_us : 1;
    size_t ri = 0;
    uint8_t syn[40];
    for (uint64_t i = 0; i < nsyn || ri < rc->n;) {
        uint64_t ts_syn = i < nsyn ? t0 + span * i / nsyn : UINT64_MAX;
        if (ri < rc->n && rc->p[ri].ts_us <= ts_syn) {
            const real_pkt *p = &rc->p[ri++];
            if (emit(ctx, p->ts_us, p->data, p->len, p->wire) < 0)
                return -1;
        } else {
            make_syn(syn);
            if (emit(ctx, ts_syn, syn, 40, 40) < 0)
                return -1;
            i++;
        }
    }
    return 0;
}

static int emit_pcap(void *ctx, uint64_t ts, const uint8_t *data, uint32_t len, uint32_t wire)
{
    FILE *out = ctx;
    uint8_t h[16];
    wr32(h, (uint32_t)(ts / 1000000u));
    wr32(h + 4, (uint32_t)(ts % 1000000u));
    wr32(h + 8, len);
    wr32(h + 12, wire);
    return fwrite(h, 1, 16, out) == 16 && fwrite(data, 1, len, out) == len ? 0 : -1;
}

/* ---- embed: RSS of a default tap taking the flood --------------------------- */

static long status_kb(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    if (fp)
        fclose(fp);
    return v;
}

typedef struct embed_ctx {
    tt_producer *prod;
    uint64_t submitted, retries, dropped;
    long peak_kb;
} embed_ctx;

static int emit_tap(void *ctx, uint64_t ts, const uint8_t *data, uint32_t len, uint32_t wire)
{
    embed_ctx *e = ctx;
    /* A host that must not lose copies would wait a little for room: do
     * the same, so every packet reaches the analyzer. */
    for (int tries = 0;; tries++) {
        int rc = tt_tap_submit_capture(e->prod, data, len, wire, TT_LINK_RAW, TT_DIR_UNKNOWN, ts);
        if (rc == 0)
            break;
        if (rc != TT_EFULL || tries > 100000) {
            e->dropped++;
            break;
        }
        e->retries++;
        struct timespec d = {0, 20000};
        nanosleep(&d, NULL);
    }
    if ((++e->submitted & 0xffff) == 0) {
        long kb = status_kb("VmRSS");
        if (kb > e->peak_kb)
            e->peak_kb = kb;
    }
    return 0;
}

static int embed(const real_cap *cap, uint64_t nsyn)
{
    long base_kb = status_kb("VmRSS");
    tt_tap_config cfg;
    tt_tap_config_init(&cfg); /* the embedded default: 16 MiB budget */
    cfg.live_clock = false;   /* packet time only: the flood is replayed faster than real time */
    tt_tap *tap;
    char err[TT_ERRBUF_SIZE] = "";
    int rc = tt_tap_open(&tap, &cfg, err);
    embed_ctx e = {0};
    if (rc == 0)
        rc = tt_tap_producer_open(tap, &e.prod);
    if (rc < 0) {
        fprintf(stderr, "gen_flood: tt_tap_open: %s (%s)\n", err, tt_strerror(rc));
        return 1;
    }
    long open_kb = status_kb("VmRSS");
    e.peak_kb = open_kb;
    merge(cap, nsyn, emit_tap, &e);
    tt_tap_finish(tap);
    tt_tap_stats st;
    tt_tap_get_stats(tap, &st);
    long hwm_kb = status_kb("VmHWM"); /* the true peak, sampled by the kernel */
    if (hwm_kb > e.peak_kb)
        e.peak_kb = hwm_kb;
    tt_tap_close(tap);
    printf("embed: baseline_rss_kb=%ld after_open_kb=%ld peak_rss_kb=%ld growth_kb=%ld "
           "budget_bytes=%zu memsize_bytes=%zu\n",
           base_kb, open_kb, e.peak_kb, e.peak_kb - base_kb, cfg.memory_budget,
           tt_tap_memsize(&cfg));
    printf("embed: submitted=%" PRIu64 " analysed=%" PRIu64 " lost=%" PRIu64
           " ring_full_waits=%" PRIu64 " flows_created=%" PRIu64 " flows_peak=%" PRIu64
           " evicted=%" PRIu64 " max_flows=%zu\n",
           e.submitted, st.analysed, e.dropped, e.retries, st.analyzer.flows_created,
           st.analyzer.flows_peak, st.analyzer.events[TT_EV_FLOW_EVICTED], cfg.analyzer.max_flows);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "write") == 0 && argc != 5) ||
        (strcmp(argv[1], "embed") == 0 && argc != 4)) {
        fprintf(stderr, "usage: gen_flood write OUT.pcap NSYN REAL.pcap\n"
                        "       gen_flood embed NSYN REAL.pcap\n");
        return 2;
    }
    bool write = strcmp(argv[1], "write") == 0;
    random_dst = getenv("TT_FLOOD_RANDOM_DST") && strcmp(getenv("TT_FLOOD_RANDOM_DST"), "1") == 0;
    if (getenv("TT_FLOOD_SECONDS"))
        flood_us = (uint64_t)(strtod(getenv("TT_FLOOD_SECONDS"), NULL) * 1e6);
    uint64_t nsyn = strtoull(argv[write ? 3 : 2], NULL, 10);
    real_cap rc = {0};
    if (load_real(argv[write ? 4 : 3], &rc) < 0)
        return 2;
    int status = 0;
    if (write) {
        FILE *out = fopen(argv[2], "wb");
        uint8_t gh[24] = {0};
        wr32(gh, 0xa1b2c3d4u);
        gh[4] = 2;
        gh[6] = 4;
        wr32(gh + 16, 262144);
        wr32(gh + 20, 101);
        if (!out || fwrite(gh, 1, 24, out) != 24 || merge(&rc, nsyn, emit_pcap, out) < 0 ||
            fclose(out) != 0) {
            fprintf(stderr, "gen_flood: cannot write %s: %s\n", argv[2], strerror(errno));
            status = 1;
        }
    } else {
        status = embed(&rc, nsyn);
    }
    for (size_t i = 0; i < rc.n; i++)
        free(rc.p[i].data);
    free(rc.p);
    return status;
}
