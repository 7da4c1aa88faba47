/* test_ring.c - behaviour of the SPSC packet ring, single-threaded and under stress. */
#include <pthread.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring/ring_internal.h"
#include "tunneltap/ring.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TT_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define TT_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TT_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TT_TEST_TSAN)
#define TT_TEST_SANITIZED 1
#endif
#if defined(TT_TEST_SANITIZED)
#define STRESS_RECORDS 300000u /* a few seconds under TSan */
#elif !defined(__OPTIMIZE__)
#define STRESS_RECORDS 1000000u /* -O0 */
#else
#define STRESS_RECORDS 4000000u
#endif

#if defined(TT_TEST_TSAN) && !defined(TT_RING_TEST_FORCE_CRITERION)
/* Criterion cannot run under ThreadSanitizer here: its runner places an
 * "inheritable arena" at one of 10 random addresses in [2^45, 3 * 2^45), a
 * range TSan reserves almost entirely for its shadow, so ~4 runs in 5 abort
 * with "Could not initialize inheritable arena" (or crash) before any test.
 * Under TSan these same tests run on this minimal stand-in instead: each
 * test in a forked child, a timeout, "N passed, N failed" at the end. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    void (*init)(void);
    int timeout;
    struct shim_test *next;
};
static struct shim_test *shim_tests;
static int shim_failures;

static void shim_register(struct shim_test *t)
{
    struct shim_test **at = &shim_tests; /* keep definition order */
    while (*at)
        at = &(*at)->next;
    *at = t;
}

__attribute__((format(printf, 5, 6))) static void shim_check(bool ok, bool fatal, const char *what,
                                                             int line, const char *fmt, ...)
{
    if (ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[----] test_ring.c:%d: Assertion failed: %s\n[----]  ", line, what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    shim_failures++;
    if (fatal)
        exit(1);
}

#define Test(S, N, ...)                                                                            \
    static void S##_##N##_impl(void);                                                              \
    static struct shim_test S##_##N##_test = {                                                     \
        .suite = #S, .name = #N, .fn = S##_##N##_impl, __VA_ARGS__};                               \
    __attribute__((constructor)) static void S##_##N##_reg(void)                                   \
    {                                                                                              \
        shim_register(&S##_##N##_test);                                                            \
    }                                                                                              \
    static void S##_##N##_impl(void)

#define cr_assert(c, ...) shim_check((c), true, #c, __LINE__, " " __VA_ARGS__)
#define cr_expect(c, ...) shim_check((c), false, #c, __LINE__, " " __VA_ARGS__)
#define cr_assert_fail(...) shim_check(false, true, "fail", __LINE__, " " __VA_ARGS__)
#define cr_assert_not(c, ...) cr_assert(!(c), __VA_ARGS__)
#define cr_expect_not(c, ...) cr_expect(!(c), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_expect_eq(a, b, ...) cr_expect((a) == (b), __VA_ARGS__)
#define cr_expect_neq(a, b, ...) cr_expect((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr_expect((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_expect_leq(a, b, ...) cr_expect((a) <= (b), __VA_ARGS__)
#define cr_expect_gt(a, b, ...) cr_expect((a) > (b), __VA_ARGS__)
#define cr_expect_geq(a, b, ...) cr_expect((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_expect_null(p, ...) cr_expect((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, "[----] " __VA_ARGS__), fputc('\n', stderr))

int main(void)
{
    int passed = 0, failed = 0;
    for (struct shim_test *t = shim_tests; t; t = t->next) {
        fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
        pid_t pid = fork();
        if (pid == 0) {
            if (t->init)
                t->init();
            t->fn();
            exit(shim_failures ? 1 : 0); /* exit(), not _exit(): TSan reports set 66 */
        }
        int status = -1, waited_ms = 0, limit_ms = (t->timeout ? t->timeout : 300) * 1000;
        while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
            if (waited_ms >= limit_ms) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                fprintf(stderr, "[----] timed out after %d s\n", limit_ms / 1000);
                break;
            }
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
            waited_ms += 10;
        }
        bool ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        fprintf(stderr, "[%s] %s::%s\n", ok ? "PASS" : "FAIL", t->suite, t->name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
#else
#include <criterion/criterion.h>
#endif

/* ---- helpers ------------------------------------------------------------ */

/* The codes the ring returns (tt_err_name lives in the analyzer library). */
static const char *rc_name(int rc)
{
    switch (rc) {
    case 0:
        return "0";
    case TT_EINVAL:
        return "TT_EINVAL";
    case TT_ENOMEM:
        return "TT_ENOMEM";
    case TT_ETOOBIG:
        return "TT_ETOOBIG";
    case TT_EFULL:
        return "TT_EFULL";
    case TT_ESTATE:
        return "TT_ESTATE";
    case TT_ECLOSED:
        return "TT_ECLOSED";
    case TT_ETIMEDOUT:
        return "TT_ETIMEDOUT";
    default:
        return "unexpected";
    }
}

static tt_ring *new_ring(size_t capacity, unsigned flags)
{
    tt_ring *r = NULL;
    char err[TT_ERRBUF_SIZE] = "";
    int rc = tt_ring_create(&r, capacity, flags, NULL, err);
    cr_assert_eq(rc, 0, "tt_ring_create: %s (%s)", rc_name(rc), err);
    cr_assert_not_null(r);
    return r;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Record `seq`'s content: first 8 bytes are seq itself, the rest a window of
 * a random pattern chosen by seq, so a stale or torn record shows. */
#define PATTERN_SIZE 8192u
#define PATTERN_MAX_LEN 2048u
static unsigned char pattern[PATTERN_SIZE + PATTERN_MAX_LEN];

static void pattern_init(void)
{
    for (size_t i = 0; i < sizeof pattern; i += 8) {
        uint64_t v = mix64(i);
        memcpy(pattern + i, &v, 8);
    }
}

static const unsigned char *pattern_for(uint64_t seq)
{
    return pattern + (mix64(seq ^ 0x5555) % PATTERN_SIZE);
}

static void fill_record(void *dst, uint64_t seq, size_t len)
{
    memcpy(dst, pattern_for(seq), len);
    memcpy(dst, &seq, len < 8 ? len : 8);
}

static bool record_ok(const void *src, uint64_t seq, size_t len)
{
    size_t head = len < 8 ? len : 8;
    return memcmp(src, &seq, head) == 0 &&
           memcmp((const unsigned char *)src + head, pattern_for(seq) + head, len - head) == 0;
}

/* Lengths with an IMIX-like spread, 0..1500. */
static size_t len_for(uint64_t seq)
{
    uint64_t h = mix64(seq);
    switch (h % 12) {
    case 0:
        return (size_t)(576 + (h >> 8) % 925); /* 576..1500 */
    case 1:
    case 2:
    case 3:
    case 4:
        return (size_t)(128 + (h >> 8) % 449); /* 128..576 */
    default:
        return (size_t)((h >> 8) % 129); /* 0..128 */
    }
}

static size_t rec_size_for_test(size_t len)
{
    return (sizeof(tt_ring_rec) + len + 7) & ~(size_t)7;
}

static void check_identity(const tt_ring *r, const char *where)
{
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_assert_eq(st.submitted, st.consumed + st.dropped_full + st.dropped_oversize + st.in_flight,
                 "%s: submitted %llu != consumed %llu + full %llu + oversize %llu + in flight %llu",
                 where, (unsigned long long)st.submitted, (unsigned long long)st.consumed,
                 (unsigned long long)st.dropped_full, (unsigned long long)st.dropped_oversize,
                 (unsigned long long)st.in_flight);
}

/* ---- construction ------------------------------------------------------- */

Test(ring, memsize_is_zero_for_capacities_that_are_not_powers_of_two_in_range)
{
    cr_expect_eq(tt_ring_memsize(0), 0);
    cr_expect_eq(tt_ring_memsize(32), 0);
    cr_expect_eq(tt_ring_memsize(1000), 0);
    cr_expect_eq(tt_ring_memsize((size_t)TT_RING_CAPACITY_MAX * 2), 0);
    cr_expect_gt(tt_ring_memsize(64), 64);
    cr_expect_gt(tt_ring_memsize(TT_RING_CAPACITY_MAX), TT_RING_CAPACITY_MAX);
}

Test(ring, init_refuses_misaligned_short_or_flagged_memory_and_leaves_it_untouched)
{
    size_t need = tt_ring_memsize(4096);
    unsigned char *mem = aligned_alloc(TT_RING_ALIGN, need + TT_RING_ALIGN);
    cr_assert_not_null(mem);
    memset(mem, 0xab, need + TT_RING_ALIGN);
    cr_expect_eq(tt_ring_init(mem + 8, need, 4096, 0), TT_EINVAL);
    cr_expect_eq(tt_ring_init(mem, need - 1, 4096, 0), TT_EINVAL);
    cr_expect_eq(tt_ring_init(mem, need, 4000, 0), TT_EINVAL);
    cr_expect_eq(tt_ring_init(mem, need, 4096, 1u << 7), TT_EINVAL);
    cr_expect_eq(tt_ring_init(NULL, need, 4096, 0), TT_EINVAL);
    for (size_t i = 0; i < need + TT_RING_ALIGN; i++)
        cr_assert_eq(mem[i], 0xab, "byte %zu touched by a failed init", i);
    free(mem);
}

Test(ring, caller_owned_memory_is_a_working_ring)
{
    static alignas(TT_RING_ALIGN) unsigned char mem[sizeof(struct tt_ring) + 1024];
    cr_assert_eq(tt_ring_memsize(1024), sizeof mem);
    cr_assert_eq(tt_ring_init(mem, sizeof mem, 1024, 0), 0);
    tt_ring *r = (tt_ring *)(void *)mem;
    cr_expect_eq(tt_ring_capacity(r), 1024);
    cr_expect_eq(tt_ring_max_payload(r), 512 - sizeof(tt_ring_rec));
    cr_assert_eq(tt_ring_submit_sp(r, "hello", 5, 7, 42), 0);
    const tt_ring_rec *rec;
    cr_assert_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
    cr_expect_eq(rec->len, 5);
    cr_expect_eq(memcmp(tt_ring_rec_data(rec), "hello", 5), 0);
    /* Every byte the ring touches lies inside the caller's memory. */
    cr_expect((const unsigned char *)rec >= mem &&
              (const unsigned char *)tt_ring_rec_data(rec) + 5 <= mem + sizeof mem);
    tt_ring_release_sc(r);
    tt_ring_destroy(r); /* caller-owned: a no-op */
    check_identity(r, "caller-owned");
}

struct counting_alloc {
    int allocs, frees;
    void *ptr;
    size_t size;
    bool fail;
};

static void *count_alloc(void *ctx, size_t size)
{
    struct counting_alloc *a = ctx;
    if (a->fail)
        return NULL;
    a->allocs++;
    a->size = size;
    a->ptr = calloc(1, size);
    return a->ptr;
}

static void count_free(void *ctx, void *ptr, size_t size)
{
    struct counting_alloc *a = ctx;
    cr_expect_eq(ptr, a->ptr, "freed a pointer that was not allocated");
    cr_expect_eq(size, a->size, "freed with a different size");
    a->frees++;
    free(ptr);
}

Test(ring, create_allocates_once_through_the_given_allocator_and_destroy_frees_it)
{
    struct counting_alloc ca = {0};
    tt_ring_allocator al = {count_alloc, count_free, &ca};
    tt_ring *r = NULL;
    cr_assert_eq(tt_ring_create(&r, 1 << 16, TT_RING_LOSSLESS, &al, NULL), 0);
    cr_expect_eq((uintptr_t)r % TT_RING_ALIGN, 0, "ring not aligned");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tt_ring_submit_sp(r, &i, sizeof i, 0, 0), 0);
    cr_expect_eq(ca.allocs, 1, "producer path allocated");
    tt_ring_destroy(r);
    cr_expect_eq(ca.frees, 1);
}

Test(ring, create_reports_allocation_failure_and_bad_arguments)
{
    struct counting_alloc ca = {.fail = true};
    tt_ring_allocator al = {count_alloc, count_free, &ca};
    tt_ring *r = (tt_ring *)(void *)&ca; /* any non-NULL value: create must clear it */
    char err[TT_ERRBUF_SIZE] = "";
    cr_expect_eq(tt_ring_create(&r, 4096, 0, &al, err), TT_ENOMEM);
    cr_expect_null(r);
    cr_expect_neq(err[0], '\0');
    cr_expect_eq(tt_ring_create(&r, 4095, 0, NULL, err), TT_EINVAL);
    cr_expect_eq(tt_ring_create(&r, 4096, 0x80, NULL, NULL), TT_EINVAL);
    cr_expect_null(r);
    tt_ring_allocator half = {count_alloc, NULL, &ca};
    cr_expect_eq(tt_ring_create(&r, 4096, 0, &half, NULL), TT_EINVAL);
}

Test(ring, producer_and_consumer_state_live_128_bytes_apart)
{
    cr_expect_geq(offsetof(struct tt_ring, c) - offsetof(struct tt_ring, p), 128);
    cr_expect_geq(offsetof(struct tt_ring, tail) - offsetof(struct tt_ring, head), 128);
    cr_expect_eq(offsetof(struct tt_ring, head) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, tail) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, p) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, c) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, cw) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, pw) % 128, 0);
    cr_expect_eq(offsetof(struct tt_ring, data) % 128, 0);
}

/* ---- single-threaded behaviour ------------------------------------------ */

Test(ring, empty_ring_peeks_zero_records_and_wait_times_out)
{
    tt_ring *r = new_ring(4096, 0);
    const tt_ring_rec *recs[8];
    cr_expect_eq(tt_ring_peek_burst_sc(r, recs, 8), 0);
    tt_ring_release_sc(r); /* nothing peeked: no-op */
    cr_expect_eq(tt_ring_wait_sc(r, 0), TT_ETIMEDOUT);
    uint64_t t0 = now_ns();
    cr_expect_eq(tt_ring_wait_sc(r, 30), TT_ETIMEDOUT);
    cr_expect_geq(now_ns() - t0, 29000000u, "timed out early");
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.submitted, 0);
    cr_expect_eq(st.used_bytes, 0);
    tt_ring_destroy(r);
}

Test(ring, records_keep_length_tag_value_and_an_8_byte_aligned_payload)
{
    tt_ring *r = new_ring(4096, 0);
    for (uint32_t i = 0; i < 20; i++)
        cr_assert_eq(tt_ring_submit_sp(r, pattern, i, 1000 + i, 0x1122334455667788u + i), 0);
    const tt_ring_rec *recs[32];
    cr_assert_eq(tt_ring_peek_burst_sc(r, recs, 32), 20);
    for (uint32_t i = 0; i < 20; i++) {
        cr_expect_eq(recs[i]->len, i);
        cr_expect_eq(recs[i]->tag, 1000 + i);
        cr_expect_eq(recs[i]->value, 0x1122334455667788u + i);
        cr_expect_eq((uintptr_t)tt_ring_rec_data(recs[i]) % 8, 0);
        cr_expect_eq(memcmp(tt_ring_rec_data(recs[i]), pattern, i), 0);
    }
    tt_ring_release_sc(r);
    tt_ring_destroy(r);
}

Test(ring, record_larger_than_ring_is_refused_and_counted)
{
    tt_ring *r = new_ring(4096, 0);
    size_t max = tt_ring_max_payload(r);
    void *p = (void *)1;
    cr_expect_eq(tt_ring_reserve_sp(r, max + 1, &p), TT_ETOOBIG);
    cr_expect_null(p);
    cr_expect_eq(tt_ring_submit_sp(r, pattern, max + 1, 0, 0), TT_ETOOBIG);
    cr_expect_eq(tt_ring_submit_sp(r, pattern, SIZE_MAX, 0, 0), TT_ETOOBIG);
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.dropped_oversize, 3);
    cr_expect_eq(st.submitted, 3);
    cr_expect_eq(st.used_bytes, 0, "an oversize record wrote something");
    const tt_ring_rec *rec;
    cr_expect_eq(tt_ring_peek_burst_sc(r, &rec, 1), 0);
    /* The largest accepted payload is delivered whole, never truncated. */
    cr_assert_eq(tt_ring_submit_sp(r, pattern, max, 9, 0), 0);
    cr_assert_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
    cr_expect_eq(rec->len, max);
    cr_expect_eq(memcmp(tt_ring_rec_data(rec), pattern, max), 0);
    tt_ring_release_sc(r);
    check_identity(r, "oversize");
    tt_ring_destroy(r);
}

Test(ring, largest_record_fits_a_drained_ring_wherever_the_wrap_point_is)
{
    tt_ring *r = new_ring(1024, 0);
    size_t max = tt_ring_max_payload(r);
    for (uint32_t off = 0; off < 1024; off += 8) {
        tt__ring_set_pos(r, off);
        cr_assert_eq(tt_ring_submit_sp(r, pattern, max, off, 0), 0, "offset %u", off);
        const tt_ring_rec *rec;
        cr_assert_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
        cr_assert_eq(rec->tag, off);
        tt_ring_release_sc(r);
    }
    tt_ring_destroy(r);
}

Test(ring, full_ring_drops_the_copy_counts_it_and_returns_at_once)
{
    tt_ring *r = new_ring(4096, 0);
    uint64_t ok = 0, full = 0;
    while (tt_ring_submit_sp(r, pattern, 100, 0, 0) == 0)
        ok++;
    full++;
    cr_expect_eq(ok, 4096 / rec_size_for_test(100));
    uint64_t t0 = now_ns();
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(tt_ring_submit_sp(r, pattern, 100, 0, 0), TT_EFULL);
        full++;
    }
    cr_expect_lt(now_ns() - t0, 50000000u, "1000 refused submits took over 50 ms");
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.dropped_full, full);
    cr_expect_eq(st.committed, ok);
    cr_expect_eq(st.in_flight, ok);
    cr_expect_eq(st.used_bytes, 4096 - 4096 % rec_size_for_test(100));
    check_identity(r, "full");
    /* Room comes back as soon as the consumer releases. */
    const tt_ring_rec *rec;
    cr_assert_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
    tt_ring_release_sc(r);
    cr_expect_eq(tt_ring_submit_sp(r, pattern, 100, 0, 0), 0);
    check_identity(r, "after release");
    tt_ring_destroy(r);
}

/* Consumes everything in r, checking each record lies wholly inside the
 * buffer and matches the pattern of its tag. Returns records consumed. */
static unsigned drain_checked(tt_ring *r, unsigned burst)
{
    const tt_ring_rec *recs[64];
    const unsigned char *lo = r->data, *hi = r->data + tt_ring_capacity(r);
    unsigned total = 0, n;
    while ((n = tt_ring_peek_burst_sc(r, recs, burst)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            const unsigned char *start = (const unsigned char *)recs[i];
            const unsigned char *end =
                (const unsigned char *)tt_ring_rec_data(recs[i]) + recs[i]->len;
            cr_assert(start >= lo && end <= hi, "record %u straddles the end of the buffer",
                      recs[i]->tag);
            cr_assert(record_ok(tt_ring_rec_data(recs[i]), recs[i]->tag, recs[i]->len),
                      "record %u corrupted", recs[i]->tag);
        }
        total += n;
        tt_ring_release_sc(r);
    }
    return total;
}

Test(ring, records_never_straddle_the_end_over_many_wraps, .init = pattern_init)
{
    tt_ring *r = new_ring(8192, 0);
    uint32_t seq = 0, got = 0;
    uint64_t bytes = 0;
    /* Fill to a random depth, drain in random bursts: ~400 laps of the buffer. */
    for (int round = 0; round < 2000; round++) {
        unsigned k = 1 + (unsigned)(mix64((uint64_t)round) % 12);
        for (unsigned j = 0; j < k; j++, seq++) {
            size_t len = len_for(seq) % 1500;
            void *dst;
            int rc = tt_ring_reserve_sp(r, len, &dst);
            if (rc == TT_EFULL) {
                got += drain_checked(r, 1 + (unsigned)(seq % 64));
                rc = tt_ring_reserve_sp(r, len, &dst);
            }
            cr_assert_eq(rc, 0, "%s", rc_name(rc));
            fill_record(dst, seq, len);
            cr_assert_eq(tt_ring_commit_sp(r, len, seq, 0), 0);
            bytes += rec_size_for_test(len);
        }
        if (round % 3 == 0)
            got += drain_checked(r, 1 + (unsigned)(round % 64));
    }
    got += drain_checked(r, 64);
    cr_expect_eq(got, seq);
    cr_expect_gt(bytes / 8192, 300, "only %llu laps", (unsigned long long)(bytes / 8192));
    check_identity(r, "wraps");
    tt_ring_destroy(r);
}

Test(ring, positions_wrap_past_2_to_the_32_without_loss, .init = pattern_init)
{
    tt_ring *r = new_ring(4096, 0);
    tt__ring_set_pos(r, (UINT32_MAX - 3000) & ~7u); /* positions are 8-byte multiples */
    uint32_t got = 0, full = 0;
    for (uint32_t seq = 0; seq < 2000; seq++) {
        size_t len = len_for(seq) % 700;
        void *dst;
        int rc = tt_ring_reserve_sp(r, len, &dst);
        if (rc == TT_EFULL) {
            tt_ring_stats st;
            tt_ring_stats_get(r, &st);
            cr_assert_leq(st.used_bytes, 4096, "fill miscomputed across the wrap");
            full++;
            got += drain_checked(r, 7);
            rc = tt_ring_reserve_sp(r, len, &dst);
        }
        cr_assert_eq(rc, 0, "seq %u: %s", seq, rc_name(rc));
        fill_record(dst, seq, len);
        cr_assert_eq(tt_ring_commit_sp(r, len, seq, 0), 0);
    }
    got += drain_checked(r, 64);
    cr_expect_eq(got, 2000);
    cr_expect_lt(atomic_load(&r->head.pos), 1u << 20, "positions did not wrap");
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.committed, 2000);
    cr_expect_eq(st.dropped_full, full);
    cr_expect_eq(st.used_bytes, 0);
    tt_ring_destroy(r);
}

Test(ring, producer_writes_straight_into_the_slot_and_may_commit_less)
{
    tt_ring *r = new_ring(4096, 0);
    void *dst;
    cr_assert_eq(tt_ring_reserve_sp(r, 1500, &dst), 0);
    cr_expect_eq((uintptr_t)dst % 8, 0);
    cr_expect((unsigned char *)dst >= r->data && (unsigned char *)dst + 1500 <= r->data + 4096);
    memcpy(dst, "short", 5);
    cr_expect_eq(tt_ring_commit_sp(r, 1501, 0, 0), TT_EINVAL, "commit beyond reservation");
    cr_assert_eq(tt_ring_commit_sp(r, 5, 3, 4), 0);
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.used_bytes, rec_size_for_test(5), "shrunk commit kept the reserved size");
    const tt_ring_rec *rec;
    cr_assert_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
    cr_expect_eq(rec->len, 5);
    cr_expect_eq(memcmp(tt_ring_rec_data(rec), "short", 5), 0);
    tt_ring_release_sc(r);
    tt_ring_destroy(r);
}

Test(ring, commit_without_reservation_is_a_state_error)
{
    tt_ring *r = new_ring(4096, 0);
    cr_expect_eq(tt_ring_commit_sp(r, 0, 0, 0), TT_ESTATE);
    void *dst;
    cr_assert_eq(tt_ring_reserve_sp(r, 10, &dst), 0);
    cr_assert_eq(tt_ring_commit_sp(r, 10, 0, 0), 0);
    cr_expect_eq(tt_ring_commit_sp(r, 10, 0, 0), TT_ESTATE, "committed twice");
    tt_ring_destroy(r);
}

Test(ring, a_second_reserve_abandons_the_first_uncounted)
{
    tt_ring *r = new_ring(4096, 0);
    void *a, *b;
    cr_assert_eq(tt_ring_reserve_sp(r, 100, &a), 0);
    cr_assert_eq(tt_ring_reserve_sp(r, 8, &b), 0);
    cr_expect_eq(a, b, "abandoned space not reused");
    memcpy(b, "abcdefgh", 8);
    cr_assert_eq(tt_ring_commit_sp(r, 8, 0, 0), 0);
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.submitted, 1);
    cr_expect_eq(st.committed, 1);
    tt_ring_destroy(r);
}

Test(ring, peeks_continue_until_one_release_frees_them_all)
{
    tt_ring *r = new_ring(4096, 0);
    for (uint32_t i = 0; i < 10; i++)
        cr_assert_eq(tt_ring_submit_sp(r, pattern, 8, i, 0), 0);
    const tt_ring_rec *a[4], *b[16];
    cr_assert_eq(tt_ring_peek_burst_sc(r, a, 4), 4);
    cr_assert_eq(tt_ring_peek_burst_sc(r, b, 16), 6);
    cr_expect_eq(b[0]->tag, 4);
    cr_expect_eq(a[3]->tag, 3, "first burst changed before release");
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.consumed, 0);
    cr_expect_eq(st.in_flight, 10, "peeked records are still in flight");
    tt_ring_release_sc(r);
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.consumed, 10);
    cr_expect_eq(st.in_flight, 0);
    cr_expect_eq(st.used_bytes, 0);
    tt_ring_destroy(r);
}

Test(ring, accounting_identity_holds_after_every_operation, .init = pattern_init)
{
    tt_ring *r = new_ring(2048, 0);
    uint64_t m_sub = 0, m_full = 0, m_big = 0, m_cons = 0, m_peeked = 0, m_inring = 0;
    for (uint64_t step = 0; step < 20000; step++) {
        uint64_t h = mix64(step * 31);
        if (h % 3 != 0) {
            size_t len = (size_t)((h >> 8) % 1100); /* max payload is 1008: some oversize */
            int rc = tt_ring_submit_sp(r, pattern, len, 0, 0);
            m_sub++;
            if (rc == 0)
                m_inring++;
            else if (rc == TT_EFULL)
                m_full++;
            else if (rc == TT_ETOOBIG)
                m_big++;
            else
                cr_assert_fail("unexpected %s", rc_name(rc));
            cr_assert_eq(rc == TT_ETOOBIG, len > tt_ring_max_payload(r));
        } else if (h % 2) {
            const tt_ring_rec *recs[8];
            m_peeked += tt_ring_peek_burst_sc(r, recs, (unsigned)((h >> 8) % 8));
        } else {
            tt_ring_release_sc(r);
            m_cons += m_peeked;
            m_inring -= m_peeked;
            m_peeked = 0;
        }
        tt_ring_stats st;
        tt_ring_stats_get(r, &st);
        cr_assert_eq(st.submitted, m_sub);
        cr_assert_eq(st.dropped_full, m_full);
        cr_assert_eq(st.dropped_oversize, m_big);
        cr_assert_eq(st.consumed, m_cons);
        cr_assert_eq(st.in_flight, m_inring, "step %llu", (unsigned long long)step);
        cr_assert_eq(st.submitted,
                     st.consumed + st.dropped_full + st.dropped_oversize + st.in_flight);
    }
    cr_expect_gt(m_full, 100);
    cr_expect_gt(m_big, 100);
    tt_ring_destroy(r);
}

Test(ring, batched_commits_are_published_on_flush_or_after_a_batch)
{
    tt_ring *r = new_ring(1u << 16, TT_RING_BATCH); /* batch: 8 KiB */
    const tt_ring_rec *recs[64];
    cr_assert_eq(tt_ring_submit_sp(r, pattern, 100, 1, 0), 0);
    cr_expect_eq(tt_ring_peek_burst_sc(r, recs, 64), 0, "published before the batch filled");
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.in_flight, 1, "unpublished records are in flight");
    tt_ring_flush_sp(r);
    cr_assert_eq(tt_ring_peek_burst_sc(r, recs, 64), 1);
    tt_ring_release_sc(r);
    /* 8 KiB of 120-byte records publishes on its own. */
    unsigned n = 0;
    while (tt_ring_peek_burst_sc(r, recs, 64) == 0 && n < 100) {
        cr_assert_eq(tt_ring_submit_sp(r, pattern, 104, 2, 0), 0);
        n++;
    }
    cr_expect_eq(n, 8192 / 120 + 1, "published after %u records", n);
    tt_ring_release_sc(r);
    tt_ring_flush_sp(r);
    tt_ring_flush_sp(r); /* nothing new: no-op */
    while (tt_ring_peek_burst_sc(r, recs, 64) > 0)
        tt_ring_release_sc(r);
    check_identity(r, "batch");
    tt_ring_destroy(r);
}

/* ---- waiting and waking ------------------------------------------------- */

struct waiter {
    tt_ring *r;
    int timeout_ms;
    _Atomic int rc;
    _Atomic bool done;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->rc, tt_ring_wait_sc(w->r, w->timeout_ms));
    atomic_store(&w->done, true);
    return NULL;
}

static bool wait_done(struct waiter *w, unsigned ms)
{
    for (unsigned i = 0; i < ms && !atomic_load(&w->done); i++)
        sleep_ms(1);
    return atomic_load(&w->done);
}

Test(ring, sleeping_consumer_is_woken_by_a_commit)
{
    /* With TT_RING_BATCH too: a commit to a sleeping consumer publishes at once. */
    unsigned flag_sets[4] = {0, TT_RING_SYMMETRIC_FENCE, TT_RING_BATCH, TT_RING_NO_SPIN};
    for (int f = 0; f < 4; f++) {
        tt_ring *r = new_ring(4096, flag_sets[f]);
        struct waiter w = {.r = r, .timeout_ms = -1};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
        sleep_ms(50);
        cr_expect_not(atomic_load(&w.done), "wait returned on an empty ring");
        tt_ring_stats st;
        tt_ring_stats_get(r, &st);
        cr_expect_geq(st.consumer_sleeps, 1, "consumer never slept");
        cr_assert_eq(tt_ring_submit_sp(r, "x", 1, 0, 0), 0);
        cr_assert(wait_done(&w, 5000), "commit did not wake the consumer");
        cr_expect_eq(atomic_load(&w.rc), 1);
        pthread_join(t, NULL);
        tt_ring_stats_get(r, &st);
        cr_expect_geq(st.consumer_wakes, 1);
        tt_ring_destroy(r);
    }
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* TT_RING_NO_SPIN: a wait on an empty ring sleeps at once. Forty 1-ms
 * waits on each kind of ring, taken in turn so that both see the machine in
 * the same state: a spinning wait costs its thread 2 048 pauses and then the
 * system call a no-spin wait costs alone. On a slow host the system call
 * costs about as much as the pauses (789 against 1 527 us of CPU once), so
 * the bound is a fifth less, not half: a no-spin ring that spun would cost
 * the same as the other. */
Test(ring, a_no_spin_ring_sleeps_at_once_on_an_empty_ring)
{
    unsigned flags[2] = {0, TT_RING_NO_SPIN};
    tt_ring *r[2] = {new_ring(4096, flags[0]), new_ring(4096, flags[1])};
    uint64_t cpu[2] = {0, 0};
    for (int i = 0; i < 40; i++) {
        for (int k = 0; k < 2; k++) {
            uint64_t t0 = thread_cpu_ns();
            cr_expect_eq(tt_ring_wait_sc(r[k], 1), TT_ETIMEDOUT);
            cpu[k] += thread_cpu_ns() - t0;
        }
    }
    for (int k = 0; k < 2; k++) {
        tt_ring_stats st;
        tt_ring_stats_get(r[k], &st);
        cr_expect_geq(st.consumer_sleeps, 40, "flags %u: every wait slept", flags[k]);
        tt_ring_destroy(r[k]);
    }
    cr_log_info("40 waits: %llu ns of CPU spinning first, %llu ns not", (unsigned long long)cpu[0],
                (unsigned long long)cpu[1]);
    cr_expect_lt(cpu[1] * 5, cpu[0] * 4, "no-spin waits cost %llu ns of CPU, spinning ones %llu",
                 (unsigned long long)cpu[1], (unsigned long long)cpu[0]);
}

Test(ring, wake_consumer_is_never_lost)
{
    tt_ring *r = new_ring(4096, 0);
    /* Before the wait: the next wait returns at once. */
    tt_ring_wake_consumer(r);
    cr_expect_eq(tt_ring_wait_sc(r, -1), 0);
    cr_expect_eq(tt_ring_wait_sc(r, 0), TT_ETIMEDOUT, "one wake counted twice");
    /* During the wait, from another thread. */
    struct waiter w = {.r = r, .timeout_ms = -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    sleep_ms(30);
    tt_ring_wake_consumer(r);
    cr_assert(wait_done(&w, 5000), "wake lost");
    cr_expect_eq(atomic_load(&w.rc), 0);
    pthread_join(t, NULL);
    tt_ring_destroy(r);
}

Test(ring, close_ends_the_consumer_wait_once_drained)
{
    tt_ring *r = new_ring(4096, 0);
    struct waiter w = {.r = r, .timeout_ms = -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    sleep_ms(30);
    tt_ring_close(r);
    cr_assert(wait_done(&w, 5000), "close did not wake the consumer");
    cr_expect_eq(atomic_load(&w.rc), TT_ECLOSED);
    pthread_join(t, NULL);
    cr_expect(tt_ring_is_closed(r));
    /* Records committed after close are still delivered before TT_ECLOSED. */
    cr_assert_eq(tt_ring_submit_sp(r, "x", 1, 0, 0), 0);
    cr_expect_eq(tt_ring_wait_sc(r, -1), 1);
    const tt_ring_rec *rec;
    cr_expect_eq(tt_ring_peek_burst_sc(r, &rec, 1), 1);
    tt_ring_release_sc(r);
    cr_expect_eq(tt_ring_wait_sc(r, -1), TT_ECLOSED);
    tt_ring_destroy(r);
}

struct blocked_producer {
    tt_ring *r;
    size_t len;
    _Atomic int rc;
    _Atomic bool done;
};

static void *submit_thread(void *arg)
{
    struct blocked_producer *b = arg;
    atomic_store(&b->rc, tt_ring_submit_sp(b->r, pattern, b->len, 77, 0));
    atomic_store(&b->done, true);
    return NULL;
}

static bool submit_done(struct blocked_producer *b, unsigned ms)
{
    for (unsigned i = 0; i < ms && !atomic_load(&b->done); i++)
        sleep_ms(1);
    return atomic_load(&b->done);
}

/* Fills a lossless ring of `cap` bytes with `len`-byte records, blocks a
 * producer on one more, releases one record at a time and checks that the
 * producer is woken once at least `wake_min` bytes are free, and (when
 * wake_max is nonzero) before more than `wake_max` are. */
static void check_lossless_wait(size_t cap, size_t len, unsigned flags, size_t wake_min,
                                size_t wake_max)
{
    tt_ring *r = new_ring(cap, flags);
    unsigned n = 0;
    tt_ring_stats st;
    do {
        cr_assert_eq(tt_ring_submit_sp(r, pattern, len, n++, 0), 0);
        tt_ring_stats_get(r, &st);
    } while (st.used_bytes + rec_size_for_test(len) <= cap);
    struct blocked_producer b = {.r = r, .len = len};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, submit_thread, &b), 0);
    sleep_ms(50);
    cr_expect_not(atomic_load(&b.done), "lossless producer did not wait");
    tt_ring_stats_get(r, &st);
    cr_expect_geq(st.producer_sleeps, 1, "producer never slept");
    cr_expect_eq(st.dropped_full, 0);
    /* One record is not enough room to wake it. */
    const tt_ring_rec *recs[64];
    cr_assert_eq(tt_ring_peek_burst_sc(r, recs, 1), 1);
    tt_ring_release_sc(r);
    sleep_ms(50);
    cr_expect_not(atomic_load(&b.done), "woken with one record's room (ring of %zu)", cap);
    unsigned got = 1;
    while (!atomic_load(&b.done) && got < n) {
        cr_assert_eq(tt_ring_peek_burst_sc(r, recs, 1), 1);
        tt_ring_release_sc(r);
        got++;
        sleep_ms(2);
    }
    cr_assert(submit_done(&b, 5000), "release did not wake the producer");
    size_t free_at_wake = cap - (size_t)(n - got) * rec_size_for_test(len);
    cr_expect_geq(free_at_wake, wake_min, "ring of %zu woken with %zu bytes free, wanted %zu", cap,
                  free_at_wake, wake_min);
    if (wake_max)
        cr_expect_leq(free_at_wake, wake_max, "ring of %zu woken only with %zu bytes free", cap,
                      free_at_wake);
    cr_expect_eq(atomic_load(&b.rc), 0);
    pthread_join(t, NULL);
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.dropped_full, 0);
    cr_expect_eq(st.committed, n + 1);
    tt_ring_destroy(r);
}

Test(ring, lossless_producer_blocks_until_the_consumer_frees_room)
{
    /* A small ring: woken once half of it is free. */
    unsigned flag_sets[2] = {TT_RING_LOSSLESS, TT_RING_LOSSLESS | TT_RING_SYMMETRIC_FENCE};
    for (int f = 0; f < 2; f++)
        check_lossless_wait(4096, 200, flag_sets[f], 2048, 0);
}

Test(ring, lossless_producer_of_a_large_ring_wakes_at_a_quarter_mib)
{
    /* 1 MiB: woken once 256 KiB are free, well before half of it is (the
     * rest stays queued as the producer's lead). */
    check_lossless_wait(1u << 20, 8192, TT_RING_LOSSLESS, 256u << 10, (512u << 10) - 1);
}

Test(ring, close_ends_a_lossless_producer_wait_with_a_counted_drop)
{
    tt_ring *r = new_ring(1024, TT_RING_LOSSLESS);
    while (1) {
        tt_ring_stats st;
        tt_ring_stats_get(r, &st);
        if (st.used_bytes + rec_size_for_test(100) > 1024)
            break;
        cr_assert_eq(tt_ring_submit_sp(r, pattern, 100, 0, 0), 0);
    }
    struct blocked_producer b = {.r = r, .len = 100};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, submit_thread, &b), 0);
    sleep_ms(30);
    cr_expect_not(atomic_load(&b.done));
    tt_ring_close(r);
    cr_assert(submit_done(&b, 5000), "close did not wake the producer");
    cr_expect_eq(atomic_load(&b.rc), TT_EFULL);
    pthread_join(t, NULL);
    tt_ring_stats st;
    tt_ring_stats_get(r, &st);
    cr_expect_eq(st.dropped_full, 1);
    check_identity(r, "closed lossless");
    tt_ring_destroy(r);
}

/* ---- two-thread stress -------------------------------------------------- */

struct stress {
    tt_ring *r;
    uint64_t records; /* sequence numbers offered */
    bool lossless;
    /* producer's own tallies */
    uint64_t p_ok, p_full, p_big;
    /* consumer's own tallies */
    uint64_t c_got, c_bytes;
    _Atomic bool stop_observer;
    uint64_t snapshots;
    char error[256]; /* first failure, reported by the main thread */
    _Atomic int failed;
};

__attribute__((format(printf, 2, 3))) static void stress_fail(struct stress *s, const char *fmt,
                                                              ...)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&s->failed, &zero, 1)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->error, sizeof s->error, fmt, ap);
        va_end(ap);
    }
}

#define U(x) ((unsigned long long)(x))

/* Oversize every 997th record: refused, and the stream goes on. */
static size_t stress_len(const struct stress *s, uint64_t seq)
{
    if (seq % 997 == 996)
        return tt_ring_max_payload(s->r) + 1 + (size_t)(seq % 50);
    return len_for(seq);
}

static void *stress_producer(void *arg)
{
    struct stress *s = arg;
    for (uint64_t seq = 0; seq < s->records && !atomic_load(&s->failed); seq++) {
        size_t len = stress_len(s, seq);
        void *dst;
        int rc = tt_ring_reserve_sp(s->r, len, &dst);
        if (rc == 0) {
            fill_record(dst, seq, len);
            rc = tt_ring_commit_sp(s->r, len, (uint32_t)seq, seq * 3 + 1);
            s->p_ok++;
        } else if (rc == TT_EFULL) {
            s->p_full++;
        } else if (rc == TT_ETOOBIG) {
            s->p_big++;
        } else {
            stress_fail(s, "producer: %s at seq %llu", rc_name(rc), U(seq));
        }
        if ((seq & 0xffff) == 0) {
            /* From the producer, the producer's counters are exact. */
            tt_ring_stats st;
            tt_ring_stats_get(s->r, &st);
            if (st.committed != s->p_ok || st.dropped_full != s->p_full ||
                st.dropped_oversize != s->p_big)
                stress_fail(s, "producer snapshot %llu != own %llu", U(st.submitted), U(seq + 1));
        }
        if (seq % 200000 == 100000) {
            tt_ring_flush_sp(s->r); /* out of packets for a while: flush (TT_RING_BATCH) */
            sleep_ms(2);            /* let the consumer go to sleep: exercise the wake path */
        }
    }
    tt_ring_flush_sp(s->r);
    tt_ring_close(s->r);
    return NULL;
}

static void *stress_consumer(void *arg)
{
    struct stress *s = arg;
    const tt_ring_rec *recs[32];
    uint64_t expect = 0; /* lowest sequence number the next record may carry */
    for (;;) {
        unsigned n = tt_ring_peek_burst_sc(s->r, recs, 32);
        if (n == 0) {
            int rc = tt_ring_wait_sc(s->r, -1);
            if (rc == TT_ECLOSED)
                break;
            if (rc < 0)
                stress_fail(s, "consumer: wait returned %s", rc_name(rc));
            continue;
        }
        for (unsigned i = 0; i < n; i++) {
            const tt_ring_rec *rec = recs[i];
            /* tag is the low 32 bits of seq; value = 3 seq + 1 carries all of it */
            uint64_t seq = (rec->value - 1) / 3;
            if ((uint32_t)seq != rec->tag || seq < expect)
                stress_fail(s, "consumer: out of order seq %llu, expected >= %llu", U(seq),
                            U(expect));
            if (s->lossless && seq != expect && !(expect % 997 == 996 && seq == expect + 1))
                stress_fail(s, "lossless: got seq %llu, expected %llu", U(seq), U(expect));
            if (rec->len != stress_len(s, seq) || !record_ok(tt_ring_rec_data(rec), seq, rec->len))
                stress_fail(s, "consumer: record %llu corrupted (len %llu)", U(seq), U(rec->len));
            expect = seq + 1;
            s->c_bytes += rec->len;
        }
        s->c_got += n;
        tt_ring_release_sc(s->r);
        if ((s->c_got & 0x3fff) < n) {
            tt_ring_stats st;
            tt_ring_stats_get(s->r, &st);
            if (st.consumed != s->c_got)
                stress_fail(s, "consumer snapshot consumed %llu != own %llu", U(st.consumed),
                            U(s->c_got));
        }
        if (s->lossless && s->c_got % 150000 < n)
            sleep_ms(2); /* let the producer go to sleep */
    }
    return NULL;
}

/* Third thread: snapshots while both sides run must always add up. */
static void *stress_observer(void *arg)
{
    struct stress *s = arg;
    tt_ring_stats prev = {0};
    uint64_t max_in_flight = tt_ring_capacity(s->r) / sizeof(tt_ring_rec);
    while (!atomic_load(&s->stop_observer)) {
        tt_ring_stats st;
        tt_ring_stats_get(s->r, &st);
        s->snapshots++;
        if (st.submitted != st.consumed + st.dropped_full + st.dropped_oversize + st.in_flight)
            stress_fail(s, "observer: identity broken, submitted %llu consumed %llu",
                        U(st.submitted), U(st.consumed));
        if (st.consumed > st.committed || st.in_flight > max_in_flight)
            stress_fail(s, "observer: consumed %llu ahead of committed %llu", U(st.consumed),
                        U(st.committed));
        if (st.committed < prev.committed || st.consumed < prev.consumed ||
            st.dropped_full < prev.dropped_full || st.dropped_oversize < prev.dropped_oversize)
            stress_fail(s, "observer: counter went backwards (%llu < %llu)", U(st.committed),
                        U(prev.committed));
        if (st.used_bytes > st.capacity)
            stress_fail(s, "observer: used %llu > capacity %llu", U(st.used_bytes), U(st.capacity));
        prev = st;
        sleep_ms(1);
    }
    return NULL;
}

static void run_stress(size_t capacity, unsigned flags, uint64_t records)
{
    pattern_init();
    struct stress s = {.r = new_ring(capacity, flags),
                       .records = records,
                       .lossless = (flags & TT_RING_LOSSLESS) != 0};
    pthread_t tp, tc, to;
    cr_assert_eq(pthread_create(&tc, NULL, stress_consumer, &s), 0);
    cr_assert_eq(pthread_create(&to, NULL, stress_observer, &s), 0);
    cr_assert_eq(pthread_create(&tp, NULL, stress_producer, &s), 0);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    atomic_store(&s.stop_observer, true);
    pthread_join(to, NULL);
    cr_assert_eq(atomic_load(&s.failed), 0, "%s", s.error);

    tt_ring_stats st;
    tt_ring_stats_get(s.r, &st);
    cr_log_info("%s: %llu offered, %llu delivered (%llu MB), %llu full, %llu oversize, "
                "%llu consumer sleeps, %llu producer sleeps, %llu snapshots",
                s.lossless ? "lossless" : "lossy", (unsigned long long)records,
                (unsigned long long)st.consumed, (unsigned long long)(s.c_bytes >> 20),
                (unsigned long long)st.dropped_full, (unsigned long long)st.dropped_oversize,
                (unsigned long long)st.consumer_sleeps, (unsigned long long)st.producer_sleeps,
                (unsigned long long)s.snapshots);
    /* Final accounting is exact and agrees with both sides' own tallies. */
    cr_expect_eq(st.submitted, records);
    cr_expect_eq(st.committed, s.p_ok);
    cr_expect_eq(st.consumed, s.c_got);
    cr_expect_eq(st.consumed, s.p_ok, "records lost in the ring");
    cr_expect_eq(st.dropped_full, s.p_full);
    cr_expect_eq(st.dropped_oversize, s.p_big);
    cr_expect_eq(st.dropped_oversize, records / 997);
    cr_expect_eq(st.in_flight, 0);
    cr_expect_eq(st.used_bytes, 0);
    if (s.lossless)
        cr_expect_eq(st.dropped_full, 0, "lossless ring dropped %llu",
                     (unsigned long long)st.dropped_full);
    tt_ring_destroy(s.r);
}

Test(ring, two_threads_move_millions_of_records_intact_and_the_books_balance, .timeout = 120)
{
    run_stress(1u << 15, 0, STRESS_RECORDS);
}

Test(ring, lossless_two_thread_stress_drops_nothing, .timeout = 120)
{
    run_stress(1u << 15, TT_RING_LOSSLESS, STRESS_RECORDS / 2);
}

Test(ring, lossless_stress_with_symmetric_fences_drops_nothing, .timeout = 120)
{
    run_stress(1u << 12, TT_RING_LOSSLESS | TT_RING_SYMMETRIC_FENCE, STRESS_RECORDS / 4);
}

Test(ring, batched_publication_stress_moves_records_intact, .timeout = 120)
{
    run_stress(1u << 15, TT_RING_BATCH, STRESS_RECORDS / 2);
}

Test(ring, batched_lossless_stress_drops_nothing, .timeout = 120)
{
    run_stress(1u << 14, TT_RING_BATCH | TT_RING_LOSSLESS, STRESS_RECORDS / 4);
}
