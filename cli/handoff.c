/* handoff.c - records from the analysis thread, counted (and kept) on another thread.
 *
 * replay's two threads did not share the work evenly: on a SYN scan the
 * analysis thread had two thirds of the samples and the reader, which waits
 * for the analysis, one third. Counting the summary (a quarter of the
 * analysis thread's samples there) moves to the reader this way: the analysis thread
 * appends each record to a bounded queue; whoever holds the queue's lock
 * counts what is queued, in order. The reader takes the lock when it polls
 * (tries only: it never waits); the analysis thread takes it only when the
 * queue is full, counting the queued records itself, so it never waits for
 * the reader either (the reader may be asleep waiting for ring room, which
 * only the analysis thread can make).
 *
 * A run with logs queues whole conn records instead, each given to the
 * host's record function (replay's counts, keeps and streams it) by whoever
 * holds the lock: keeping and counting them were nearly a quarter of the
 * analysis thread's instructions on a SYN scan with --conn-log (callgrind:
 * 80 of 340 M on 100 000 packets).
 *
 * Memory ordering, by pairs:
 *   reserve/commit (the one producer)     count_queued (lock holder)
 *     rec[head] = *b
 *     store(head, h + 1)   H1 (release) -->  load(head)  H2 (acquire): rec[] written
 *     load(tail)  T2 (acquire) <---------   store(tail, t)  T1 (release): rec[] read
 * What the records are counted into (the summary; the record function's
 * logs and buffer) is only touched under the lock, which orders it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/judgment.h"
#include "cli/cli.h"

/* A conn record in the queue: l7 points into the analyzer's buffer only
 * during on_conn, so its text travels in the slot (the buffer is as big). */
typedef struct conn_slot {
    tt_conn c;
    bool has_l7;
    char l7[64];
} conn_slot;

struct cli_handoff {
    /* Set at creation, then only read by both sides: a line of its own, so
     * that it stays in both cores' caches (beside tail and the lock, which
     * the counting side writes at every poll, the producer's read of mask
     * for each record was a cache miss: half of cli_handoff_push's samples
     * on a SYN scan). */
    _Alignas(64) uint32_t mask;
    size_t rec_size;
    unsigned char *rec;
    void (*count)(cli_handoff *h, void *rec);
    cli_summary *sum;  /* brief records: counted here */
    tt_conn_fn on_rec; /* conn records: given to on_rec(rec_ctx, ...) */
    void *rec_ctx;
    /* The producer's line: head, and the tail it last saw (its own copy). */
    _Alignas(64) _Atomic uint32_t head;
    uint32_t tail_seen;
    uint64_t self_counted;
    /* The counting side's line: tail is written only under lock. */
    _Alignas(64) _Atomic uint32_t tail;
    pthread_mutex_t lock;
};

static void count_brief(cli_handoff *h, void *rec)
{
    cli_summary_add_brief(h->sum, rec);
}

static void count_conn(cli_handoff *h, void *rec)
{
    conn_slot *s = rec;
    s->c.l7 = s->has_l7 ? s->l7 : NULL;
    h->on_rec(h->rec_ctx, &s->c);
}

static int handoff_new(cli_handoff **out, uint32_t cap, size_t rec_size,
                       void (*count)(cli_handoff *, void *))
{
    *out = NULL;
    uint32_t n = 2;
    while (n < cap && n < (1u << 30))
        n <<= 1;
    cli_handoff *h = aligned_alloc(64, sizeof *h);
    if (!h)
        return TT_ENOMEM;
    *h = (cli_handoff){.mask = n - 1, .rec_size = rec_size, .count = count};
    atomic_init(&h->head, 0);
    atomic_init(&h->tail, 0);
    /* Its pages are touched as records pass: a short capture pays for few. */
    h->rec = malloc((size_t)n * rec_size);
    if (!h->rec || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h->rec);
        free(h);
        return TT_ENOMEM;
    }
    *out = h;
    return 0;
}

int cli_handoff_new(cli_handoff **out, cli_summary *sum, uint32_t cap)
{
    int rc = handoff_new(out, cap, sizeof(tt__brief), count_brief);
    if (rc == 0)
        (*out)->sum = sum;
    return rc;
}

int cli_handoff_new_conns(cli_handoff **out, uint32_t cap, tt_conn_fn on_rec, void *ctx)
{
    int rc = handoff_new(out, cap, sizeof(conn_slot), count_conn);
    if (rc == 0) {
        (*out)->on_rec = on_rec;
        (*out)->rec_ctx = ctx;
    }
    return rc;
}

void cli_handoff_free(cli_handoff *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h->rec);
    free(h);
}

/* Counts every queued record. Caller holds h->lock. */
static void count_queued(cli_handoff *h)
{
    uint32_t t =
        atomic_load_explicit(&h->tail, memory_order_relaxed); /* only lock holders write it */
    uint32_t head = atomic_load_explicit(&h->head, memory_order_acquire); /* H2; partner H1 */
    for (; t != head; t++)
        h->count(h, h->rec + (size_t)(t & h->mask) * h->rec_size);
    atomic_store_explicit(&h->tail, t, memory_order_release); /* T1; partner T2 */
}

/* The slot the next record goes in; cli_handoff's commit publishes it. */
static void *reserve(cli_handoff *h)
{
    uint32_t head = atomic_load_explicit(&h->head, memory_order_relaxed); /* its own */
    if (head - h->tail_seen > h->mask) {
        h->tail_seen = atomic_load_explicit(&h->tail, memory_order_acquire); /* T2; partner T1 */
        if (head - h->tail_seen > h->mask) {
            /* Full: count the queue here rather than wait for the reader. */
            pthread_mutex_lock(&h->lock);
            count_queued(h);
            pthread_mutex_unlock(&h->lock);
            h->tail_seen = head;
            h->self_counted++;
        }
    }
    return h->rec + (size_t)(head & h->mask) * h->rec_size;
}

static void commit(cli_handoff *h)
{
    uint32_t head = atomic_load_explicit(&h->head, memory_order_relaxed); /* its own */
    atomic_store_explicit(&h->head, head + 1, memory_order_release);      /* H1; partner H2 */
}

void cli_handoff_push(void *ctx, const tt__brief *b)
{
    cli_handoff *h = ctx;
    memcpy(reserve(h), b, sizeof *b);
    commit(h);
}

void cli_handoff_push_conn(void *ctx, const tt_conn *c)
{
    cli_handoff *h = ctx;
    conn_slot *s = reserve(h);
    s->c = *c;
    s->has_l7 = c->l7 != NULL;
    if (c->l7) {
        size_t n = strnlen(c->l7, sizeof s->l7 - 1);
        memcpy(s->l7, c->l7, n);
        s->l7[n] = '\0';
    }
    commit(h);
}

void cli_handoff_poll(cli_handoff *h)
{
    /* A stale tail only makes this poll try the lock for nothing. */
    if (atomic_load_explicit(&h->head, memory_order_relaxed) ==
        atomic_load_explicit(&h->tail, memory_order_relaxed))
        return;
    if (pthread_mutex_trylock(&h->lock) != 0)
        return;
    count_queued(h);
    pthread_mutex_unlock(&h->lock);
}

void cli_handoff_drain(cli_handoff *h)
{
    pthread_mutex_lock(&h->lock);
    count_queued(h);
    pthread_mutex_unlock(&h->lock);
}

uint64_t cli_handoff_self_counted(const cli_handoff *h)
{
    return h->self_counted;
}
