/* tsan_handoff.c - records counted (and kept) through the handoff queue equal the same records
 * added directly. A plain program, not Criterion (which cannot run under TSan): ctest -L tsan runs
 * it too. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>

#include "analyze/judgment.h"
#include "cli/cli.h"

/* A failed check prints itself (and the group it was about, -1 for none) and exits 1. */
#define CHECK_AT(c, group)                                                                         \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed (group %ld): %s\n", __FILE__, __LINE__,           \
                    (long)(group), #c);                                                            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define CHECK(c) CHECK_AT(c, -1)
#define EQ(a, b) CHECK((a) == (b))
#define GEQ(a, b, i) CHECK_AT((a) == (b), i)

/* Two copies of "dns" at different addresses: the summary must count them
 * as one service (it finds copies by address, then interns by content). */
static const char dns_a[] = "dns", dns_b[] = "dns";
static const char *const services[] = {dns_a, "ssl", NULL, dns_b, "http"};

/* Record i of a deterministic mix: every protocol class, IPv4 and IPv6,
 * repeating destinations (so groups gather several records), every verdict,
 * both certainties, uncertain reasons and late replies. */
static tt__brief record(uint32_t i, uint32_t ndest)
{
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    uint32_t dest = (uint32_t)(x % ndest);
    static const uint8_t protos[] = {6, 17, 1, 58, 132};
    tt__brief b;
    memset(&b, 0, sizeof b);
    b.proto = protos[dest % 5];
    b.ip_version = (b.proto == 58 || dest % 7 == 0) ? 6 : 4;
    b.resp_h[0] = 10;
    b.resp_h[1] = (uint8_t)(dest >> 8);
    b.resp_h[2] = (uint8_t)dest;
    if (b.ip_version == 6)
        b.resp_h[15] = 1;
    b.orig_p = (uint16_t)(40000 + i % 1000);
    b.resp_p = (uint16_t)(dest % 3 == 0 ? 53 : 443);
    b.service = services[(dest + (x >> 40)) % 5]; /* dns_a and dns_b both reach each destination */
    b.verdict = (tt_verdict)((x >> 8) % TT_VERDICT_COUNT);
    b.certainty = (x >> 16) % 4 == 0 ? TT_UNCERTAIN : TT_CERTAIN;
    b.uncertain_why = (uint32_t)((x >> 20) & 0xff);
    b.late_replies = (uint32_t)((x >> 28) % 3 == 0);
    return b;
}

/* The same record as the conn record replay's log path gives the summary. */
static tt_conn as_conn(const tt__brief *b)
{
    tt_conn c;
    memset(&c, 0, sizeof c);
    c.ip_version = b->ip_version;
    c.proto = b->proto;
    c.orig_p = b->orig_p;
    c.resp_p = b->resp_p;
    memcpy(c.resp_h, b->resp_h, 16);
    c.service = b->service;
    c.verdict = b->verdict;
    c.certainty = b->certainty;
    c.uncertain_why = b->uncertain_why;
    c.late_replies = b->late_replies;
    return c;
}

/* Reference: the n records added as conn records, in order. */
static void direct(cli_summary *s, uint32_t n, uint32_t ndest)
{
    cli_summary_init(s);
    for (uint32_t i = 0; i < n; i++) {
        tt__brief b = record(i, ndest);
        tt_conn c = as_conn(&b);
        cli_summary_add(s, &c);
    }
    cli_summary_flush(s);
}

/* Every count and every group, in group order (the order of first records). */
static void assert_same_summary(cli_summary *got, cli_summary *want)
{
    cli_summary_flush(got);
    EQ(got->flows, want->flows);
    EQ(memcmp(got->by_proto, want->by_proto, sizeof got->by_proto), 0);
    EQ(memcmp(got->count, want->count, sizeof got->count), 0);
    EQ(memcmp(got->uncertain, want->uncertain, sizeof got->uncertain), 0);
    EQ(got->failed, want->failed);
    EQ(got->uncertain_total, want->uncertain_total);
    EQ(memcmp(got->unc_why, want->unc_why, sizeof got->unc_why), 0);
    EQ(got->late_replies, want->late_replies);
    EQ(got->oom, want->oom);
    EQ(got->dest_used, want->dest_used);
    for (size_t i = 0; i < got->dest_used; i++) {
        const cli_dest *g = &got->dest[i], *w = &want->dest[i];
        GEQ(g->ip_version, w->ip_version, i);
        GEQ(g->proto, w->proto, i);
        GEQ(g->port, w->port, i);
        GEQ(memcmp(g->addr, w->addr, 16), 0, i);
        GEQ(!g->service, !w->service, i);
        if (g->service)
            CHECK_AT(strcmp(g->service, w->service) == 0, i);
        GEQ(g->flows, w->flows, i);
        GEQ(g->failed, w->failed, i);
        GEQ(g->uncertain, w->uncertain, i);
        GEQ(memcmp(g->by_verdict, w->by_verdict, sizeof g->by_verdict), 0, i);
    }
}

static void a_full_queue_is_counted_by_the_pusher_in_order(void)
{
    cli_summary s, want;
    cli_summary_init(&s);
    direct(&want, 100, 40);
    cli_handoff *h;
    EQ(cli_handoff_new(&h, &s, 16), 0);
    for (uint32_t i = 0; i < 100; i++) {
        tt__brief b = record(i, 40);
        cli_handoff_push(h, &b);
    }
    /* Nobody polled: the pushes that found 16 queued (the 17th, 33rd, ...,
     * 97th) counted the queue themselves; the last 4 wait for the drain. */
    EQ(cli_handoff_self_counted(h), 6);
    EQ(s.flows, 96);
    cli_handoff_drain(h);
    EQ(s.flows, 100);
    assert_same_summary(&s, &want);
    cli_handoff_free(h);
    cli_summary_free(&s);
    cli_summary_free(&want);
}

static void polls_count_what_is_queued_and_an_empty_poll_counts_nothing(void)
{
    cli_summary s, want;
    cli_summary_init(&s);
    direct(&want, 1000, 300);
    cli_handoff *h;
    EQ(cli_handoff_new(&h, &s, 64), 0);
    cli_handoff_poll(h);
    EQ(s.flows, 0);
    for (uint32_t i = 0; i < 1000; i++) {
        tt__brief b = record(i, 300);
        cli_handoff_push(h, &b);
        if (i % 50 == 49) {
            cli_handoff_poll(h);
            EQ(s.flows, i + 1);
        }
    }
    EQ(cli_handoff_self_counted(h), 0);
    cli_handoff_drain(h);
    assert_same_summary(&s, &want);
    cli_handoff_free(h);
    cli_summary_free(&s);
    cli_summary_free(&want);
}

/* ---- two threads (also run under ThreadSanitizer: ctest -L tsan) -------- */

#define THREADED_RECORDS 200000u
#define THREADED_DESTS 5000u

typedef struct producer_arg {
    cli_handoff *h;
    atomic_bool done;
} producer_arg;

static void *produce(void *p)
{
    producer_arg *a = p;
    for (uint32_t i = 0; i < THREADED_RECORDS; i++) {
        tt__brief b = record(i, THREADED_DESTS);
        cli_handoff_push(a->h, &b);
    }
    atomic_store(&a->done, true);
    return NULL;
}

static void records_pushed_on_one_thread_and_polled_on_another_count_in_order(void)
{
    cli_summary s, want;
    cli_summary_init(&s);
    direct(&want, THREADED_RECORDS, THREADED_DESTS);
    producer_arg a = {.done = false};
    /* small enough that the producer also counts for itself now and then */
    EQ(cli_handoff_new(&a.h, &s, 256), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, produce, &a), 0);
    while (!atomic_load(&a.done))
        cli_handoff_poll(a.h);
    EQ(pthread_join(t, NULL), 0);
    cli_handoff_drain(a.h);
    assert_same_summary(&s, &want);
    cli_handoff_free(a.h);
    cli_summary_free(&s);
    cli_summary_free(&want);
}

/* Conn records: the summary counts them and the buffer keeps them, in
 * order, l7 included although the producer's buffer for it (like the
 * analyzer's) is overwritten as soon as each push returns. */
static char namebuf[64]; /* the producer's only */

static const char *l7_of(uint32_t i)
{
    return i % 3 == 0 ? NULL : i % 3 == 1 ? "DNS.Google" : "TLS";
}

static void *produce_conns(void *p)
{
    producer_arg *a = p;
    for (uint32_t i = 0; i < THREADED_RECORDS; i++) {
        tt__brief b = record(i, THREADED_DESTS);
        tt_conn c = as_conn(&b);
        c.ts_us = i;
        snprintf(c.uid, sizeof c.uid, "C%u", i);
        if (l7_of(i)) {
            strcpy(namebuf, l7_of(i));
            c.l7 = namebuf;
        }
        cli_handoff_push_conn(a->h, &c);
        memset(namebuf, 'x', sizeof namebuf - 1);
    }
    atomic_store(&a->done, true);
    return NULL;
}

/* What replay's record function does with them. */
typedef struct keeper {
    cli_summary *sum;
    cli_connbuf *buf;
    bool oom;
} keeper;

static void keep(void *ctx, const tt_conn *c)
{
    keeper *k = ctx;
    cli_summary_add(k->sum, c);
    if (cli_connbuf_add(k->buf, c) < 0)
        k->oom = true;
}

static void conn_records_pushed_on_one_thread_are_counted_and_kept_on_another(void)
{
    cli_summary s, want;
    cli_connbuf buf = {0};
    cli_summary_init(&s);
    direct(&want, THREADED_RECORDS, THREADED_DESTS);
    producer_arg a = {.done = false};
    keeper k = {&s, &buf, false};
    EQ(cli_handoff_new_conns(&a.h, 256, keep, &k), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, produce_conns, &a), 0);
    while (!atomic_load(&a.done))
        cli_handoff_poll(a.h);
    EQ(pthread_join(t, NULL), 0);
    cli_handoff_drain(a.h);
    CHECK(!k.oom);
    assert_same_summary(&s, &want);
    EQ(buf.n, THREADED_RECORDS);
    for (uint32_t i = 0; i < THREADED_RECORDS; i++) {
        char uid[20];
        snprintf(uid, sizeof uid, "C%u", i);
        GEQ(buf.v[i].ts_us, i, i);
        CHECK_AT(strcmp(buf.v[i].uid, uid) == 0, i);
        GEQ(!buf.v[i].l7, !l7_of(i), i);
        if (l7_of(i))
            CHECK_AT(strcmp(buf.v[i].l7, l7_of(i)) == 0, i);
    }
    cli_handoff_free(a.h);
    cli_connbuf_free(&buf);
    cli_summary_free(&s);
    cli_summary_free(&want);
}

int main(void)
{
    a_full_queue_is_counted_by_the_pusher_in_order();
    polls_count_what_is_queued_and_an_empty_poll_counts_nothing();
    records_pushed_on_one_thread_and_polled_on_another_count_in_order();
    conn_records_pushed_on_one_thread_are_counted_and_kept_on_another();
    puts("tsan_handoff: all passed");
    return 0;
}
