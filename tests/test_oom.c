/* test_oom.c - allocation failure at every step of opening an analyzer and a
 * tap, and no allocation at all on the packet path.
 *
 * A counting allocator fails the N-th allocation, for N = 1, 2, ... until
 * the open succeeds (libuv's OOM test): each failure must return TT_ENOMEM
 * with every block given back (checked here, and by LeakSanitizer in the
 * ASan build), never crash. Once open, a real capture is replayed through
 * tt_analyzer_packet and the allocator must see no call at all.
 * nDPI allocates through its own process-wide allocator, which tunneltap
 * leaves alone: those allocations are not counted here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/pcapfile.h"
#include "tunneltap/tunneltap.h"

typedef struct fail_alloc {
    unsigned calls;   /* allocations attempted */
    unsigned fail_at; /* 1-based call that fails (0: never) */
    size_t live_blocks, live_bytes;
    bool size_mismatch;
} fail_alloc;

#define HDR 16

static void *fa_alloc(void *ctx, size_t size)
{
    fail_alloc *fa = ctx;
    fa->calls++;
    if (fa->fail_at && fa->calls == fa->fail_at)
        return NULL;
    unsigned char *p = calloc(1, size + HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    fa->live_blocks++;
    fa->live_bytes += size;
    return p + HDR;
}

static void fa_free(void *ctx, void *ptr, size_t size)
{
    fail_alloc *fa = ctx;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t had;
    memcpy(&had, p, sizeof had);
    if (had != size)
        fa->size_mismatch = true;
    fa->live_blocks--;
    fa->live_bytes -= had;
    free(p);
}

static tt_allocator allocator(fail_alloc *fa)
{
    return (tt_allocator){fa_alloc, fa_free, fa};
}

/* Replays path through tt_analyzer_packet; returns the packets fed. */
static uint64_t replay(tt_analyzer *an, const char *path)
{
    tt_pcapfile *f;
    char err[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_pcapfile_open(&f, path, NULL, err), 0, "%s", err);
    tt_pcapfile_pkt p;
    uint64_t n = 0;
    int rc;
    while ((rc = tt_pcapfile_next(f, &p, err)) == 1) {
        cr_assert_eq(
            tt_analyzer_packet(an, tt_pcapfile_linktype(f), p.ts_us, p.data, p.caplen, p.len), 0);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", err);
    tt_pcapfile_close(f);
    return n;
}

static uint64_t conns;
static void count_conn(void *ctx, const tt_conn *c)
{
    (void)ctx;
    (void)c;
    conns++;
}

/* Opens an analyzer failing at every allocation in turn; returns how many
 * allocations a successful open made. */
static unsigned analyzer_oom_sweep(bool dpi, const char *capture)
{
    for (unsigned n = 1;; n++) {
        cr_assert_lt(n, 1000, "tt_analyzer_open never succeeded");
        fail_alloc fa = {.fail_at = n};
        tt_analyzer_config cfg;
        tt_analyzer_config_init(&cfg);
        cfg.enable_dpi = dpi;
        cfg.max_flows = 1024;
        cfg.max_dpi_flows = 64;
        cfg.allocator = allocator(&fa);
        cfg.on_conn = count_conn;
        tt_analyzer *an = (tt_analyzer *)(uintptr_t)1;
        char err[TT_ERRBUF_SIZE] = "";
        int rc = tt_analyzer_open(&an, &cfg, err);
        if (rc < 0) {
            cr_assert_eq(rc, TT_ENOMEM, "allocation %u failed: got %s", n, tt_err_name(rc));
            cr_assert_null(an, "allocation %u failed: *out not NULL", n);
            cr_assert_neq(err[0], 0, "allocation %u failed: no message", n);
            cr_assert_eq(fa.live_blocks, 0, "allocation %u failed: %zu blocks leaked", n,
                         fa.live_blocks);
            cr_assert_not(fa.size_mismatch);
            continue;
        }
        /* Open: no later allocation may fail, and none may happen. */
        unsigned at_open = fa.calls;
        fa.fail_at = 0;
        conns = 0;
        uint64_t pkts = replay(an, capture);
        cr_assert_gt(pkts, 100);
        cr_assert_eq(fa.calls, at_open, "%u allocations while analysing %llu packets",
                     fa.calls - at_open, (unsigned long long)pkts);
        tt_analyzer_finish(an);
        cr_assert_eq(fa.calls, at_open, "tt_analyzer_finish allocated");
        cr_assert_gt(conns, 10);
        tt_analyzer_close(an);
        cr_assert_eq(fa.live_blocks, 0, "%zu blocks not freed by tt_analyzer_close",
                     fa.live_blocks);
        cr_assert_eq(fa.live_bytes, 0);
        cr_assert_not(fa.size_mismatch, "a block freed with another size than allocated");
        return at_open;
    }
}

Test(oom, analyzer_open_fails_cleanly_at_every_allocation_without_dpi)
{
    unsigned n = analyzer_oom_sweep(false, TT_CAPTURES_DIR "/healthy-v4-raw.pcap");
    cr_assert_geq(n, 3);
}

Test(oom, analyzer_open_fails_cleanly_at_every_allocation_with_dpi)
{
    unsigned n = analyzer_oom_sweep(true, TT_CAPTURES_DIR "/reject-v6-eth.pcap");
    cr_assert_geq(n, 5);
}

Test(oom, analyzer_allocates_nothing_per_packet_on_every_capture)
{
    static const char *caps[] = {"udp-synack-drop-v4-eth.pcap", "udp-drop-v6-raw.pcap",
                                 "final-ack-drop-v4-raw.pcap", "noisy-healthy-v4-eth.pcap"};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", TT_CAPTURES_DIR, caps[i]);
        fail_alloc fa = {0};
        tt_analyzer_config cfg;
        tt_analyzer_config_init(&cfg);
        cfg.max_flows = 16; /* evictions on the packet path too */
        cfg.max_dpi_flows = 4;
        cfg.allocator = allocator(&fa);
        tt_analyzer *an;
        cr_assert_eq(tt_analyzer_open(&an, &cfg, NULL), 0);
        unsigned at_open = fa.calls;
        replay(an, path);
        tt_analyzer_finish(an);
        tt_analyzer_stats st;
        tt_analyzer_get_stats(an, &st);
        cr_assert_eq(fa.calls, at_open, "%s: %u allocations after open", caps[i],
                     fa.calls - at_open);
        tt_analyzer_close(an);
        cr_assert_eq(fa.live_blocks, 0);
    }
}

/* tt_tap_open then tt_tap_producer_open, failing at every allocation. */
static void tap_oom_sweep(bool own_thread)
{
    unsigned opened = 0;
    for (unsigned n = 1;; n++) {
        cr_assert_lt(n, 1000, "tt_tap_open never succeeded");
        fail_alloc fa = {.fail_at = n};
        tt_tap_config cfg;
        tt_tap_config_init(&cfg);
        cfg.own_thread = own_thread;
        cfg.live_clock = false;
        cfg.analyzer.allocator = allocator(&fa);
        tt_tap *tap = (tt_tap *)(uintptr_t)1;
        char err[TT_ERRBUF_SIZE] = "";
        int rc = tt_tap_open(&tap, &cfg, err);
        if (rc < 0) {
            cr_assert_eq(rc, TT_ENOMEM, "allocation %u failed: tt_tap_open gave %s", n,
                         tt_err_name(rc));
            cr_assert_null(tap);
            cr_assert_neq(err[0], 0, "allocation %u failed: no message", n);
            cr_assert_eq(fa.live_blocks, 0, "allocation %u failed: %zu blocks leaked", n,
                         fa.live_blocks);
            continue;
        }
        tt_producer *p = (tt_producer *)(uintptr_t)1;
        rc = tt_tap_producer_open(tap, &p);
        if (rc < 0) {
            cr_assert_eq(rc, TT_ENOMEM, "allocation %u failed: producer_open gave %s", n,
                         tt_err_name(rc));
            cr_assert_null(p);
            /* the tap stays usable: the next producer opens */
            fa.fail_at = 0;
            cr_assert_eq(tt_tap_producer_open(tap, &p), 0);
            opened++;
        } else {
            fa.fail_at = 0;
        }
        /* a packet goes through without allocating */
        static const uint8_t syn[40] = {
            0x45, 0,    0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10,   0,    0,    1,    10, 0, 0, 2,
            0x9c, 0x40, 0, 80, 0, 0, 0,    1, 0,  0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0,  0, 0, 0};
        unsigned before = fa.calls;
        cr_assert_eq(tt_tap_submit(p, syn, sizeof syn, TT_LINK_RAW, TT_DIR_OUTBOUND, 1000000), 0);
        if (!own_thread)
            cr_assert_eq(tt_tap_drain(tap, 0), 1);
        tt_tap_finish(tap);
        cr_assert_eq(fa.calls, before, "the packet path allocated");
        tt_tap_stats st;
        tt_tap_get_stats(tap, &st);
        cr_assert_eq(st.analysed, 1);
        tt_tap_close(tap);
        cr_assert_eq(fa.live_blocks, 0, "%zu blocks not freed by tt_tap_close", fa.live_blocks);
        cr_assert_not(fa.size_mismatch, "a block freed with another size than allocated");
        if (rc == 0) {
            /* every allocation of open + producer_open has been failed once */
            cr_assert_geq(opened, 1, "producer_open never hit an allocation failure");
            return;
        }
    }
}

Test(oom, tap_and_producer_open_fail_cleanly_at_every_allocation)
{
    tap_oom_sweep(false);
}

Test(oom, tap_with_its_own_thread_fails_cleanly_at_every_allocation)
{
    tap_oom_sweep(true);
}

Test(oom, memory_budget_below_the_configuration_is_enomem_before_any_allocation)
{
    fail_alloc fa = {0};
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.analyzer.allocator = allocator(&fa);
    cfg.memory_budget = tt_tap_memsize(&cfg) - 1;
    tt_tap *tap;
    char err[TT_ERRBUF_SIZE] = "";
    cr_assert_eq(tt_tap_open(&tap, &cfg, err), TT_ENOMEM);
    cr_assert_eq(fa.calls, 0);
    cr_assert(strstr(err, "memory budget") != NULL, "%s", err);
    tt_analyzer_config ac;
    tt_analyzer_config_init(&ac);
    ac.allocator = allocator(&fa);
    ac.memory_budget = tt_analyzer_memsize(&ac) - 1;
    tt_analyzer *an;
    cr_assert_eq(tt_analyzer_open(&an, &ac, err), TT_ENOMEM);
    cr_assert_eq(fa.calls, 0);
}
