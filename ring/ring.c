/* ring.c - lock-free SPSC ring of variable-length packet records.
 *
 * One producer, one consumer, one power-of-two byte buffer. Positions are
 * free-running uint32_t byte counters, masked on access; `head` is where the
 * consumer may read up to (published by the producer), `tail` the first byte
 * the consumer has not released. Each sits alone on its 128-byte block; each
 * side keeps a cached copy of the other's index and reads the real one only
 * when its copy says full (producer) or empty (consumer).
 *
 *  producer (reserve/commit/flush)                consumer (peek/release)
 *  -------------------------------                -----------------------
 *  reserve: room = cap - (pos - tail_cache)        peek: cursor == head_cache?
 *    short? tail_cache = load(tail) acq  P2 <--.     then head_cache = load(head) acq C1 <-.
 *  write payload, header, pad marker           |   read records in [cursor, head_cache)     |
 *  commit: committed = n+1 (relaxed)    P0     |                                            |
 *    (TT_RING_BATCH: publish only every        |                                            |
 *     batch_bytes, on flush, or if the         |                                            |
 *     consumer sleeps)                         |                                            |
 *  publish: store(head, pos) release    P1 ----|--------------------------------------------'
 *           light fence                 PW1    |   release: consumed = n+k (release)  C3 --> S1
 *           load(cw.sleeping) -> wake?  PW2    '------- store(tail, cursor) release   C2
 *                                                       light fence (lossless)        CW1
 *                                                       load(pw.sleeping) -> wake?    CW2
 *                                                         (when room >= the bytes it wants)
 *
 *  consumer sleep (tt_ring_wait_sc)              lossless producer sleep (reserve)
 *     seq = load(cw.seq) (acquire)       K2         seq = load(pw.seq) (acquire)       K2
 *     store(cw.sleeping, 1)              CS1        store(pw.sleeping, want)           PS1
 *     heavy fence                        CS2        heavy fence                        PS2
 *     re-check head (C1), kick, closed   CS3        re-check tail (P2), closed         PS3
 *       (closed: acquire K3, then head       (closed: acquire K3, then tail
 *        again before TT_ECLOSED)                again before TT_EFULL)
 *     futex_wait(cw.seq, seq)                       futex_wait(pw.seq, seq)
 *
 *  waker (producer, consumer, tt_ring_wake_consumer, tt_ring_close)
 *     store(kick, 1) relaxed, or store(closed, 1) release (partner K3)  K0
 *     store(sleeping, 0); fetch_add(seq) K1 (release; partner K2); futex_wake(seq)
 *
 *  tests/ring_wake.pml checks the sleep and wake-up edges with spin, every
 *  interleaving, under a store-buffer (x86-TSO) memory model.
 *
 *  stats (any thread): load(consumed) (acquire) S1 (partner C3), then the
 *     producer counters (committed acquire, the rest relaxed)  S2, then
 *     load(consumed) again  S3: unchanged, the two are one instant's values
 *
 * Data edges: P1 -> C1 hands the consumer everything the producer wrote
 * before publishing (payloads, headers, pad markers). C2 -> P2 is the reverse
 * licence: the consumer's reads of released records happen before the
 * producer's next writes into those bytes.
 *
 * Wake-up edges (Dekker): a sleeper stores `sleeping`, fences, re-reads the
 * index; the other side stores the index, fences, reads `sleeping`. With a
 * full fence on both sides, at least one sees the other's store: either the
 * sleeper sees the new record/room and does not sleep, or the other side sees
 * `sleeping` and wakes it. To keep commit cheap, the fence is asymmetric when
 * the kernel allows it: the sleeper's heavy fence is membarrier(PRIVATE_
 * EXPEDITED), which runs a full barrier on every CPU running this process,
 * so the per-commit light fence only needs to stop the compiler (the pattern
 * of membarrier(2) and liburcu). Without membarrier (or with
 * TT_RING_SYMMETRIC_FENCE) both fences are seq_cst thread fences.
 * Sleeping itself uses a futex on `seq`: the sleeper reads seq before
 * announcing, so a wake that lands between the announcement and futex_wait
 * changes seq and futex_wait returns at once. Without a futex
 * (ring/platform.h: Apple's platforms) word_wait and word_wake make the same
 * compare-and-sleep of a mutex and a condition variable (K4).
 */
#include "ring/platform.h"
#include "ring/ring_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if TT_HAVE_FUTEX || TT_HAVE_MEMBARRIER
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if TT_HAVE_FUTEX
#include <linux/futex.h>
#else
#include <pthread.h>
#endif
#if TT_HAVE_MEMBARRIER && defined(SYS_membarrier)
#include <linux/membarrier.h>
#define RING_MEMBARRIER 1
#else
#define RING_MEMBARRIER 0
#endif

_Static_assert(sizeof(tt_ring_rec) == 16, "record header is 16 bytes");
_Static_assert(sizeof(struct tt__ring_cfg) <= TT_RING_ALIGN, "cfg fits its block");
_Static_assert(sizeof(struct tt__ring_prod) <= TT_RING_ALIGN, "producer fits its block");
_Static_assert(sizeof(struct tt__ring_cons) <= TT_RING_ALIGN, "consumer fits its block");
_Static_assert(sizeof(struct tt_ring) % TT_RING_ALIGN == 0, "buffer starts aligned");

/* Iterations of cpu_relax() before a waiting side sleeps (tens of us). */
#define SPIN_LIMIT 2048u
/* A lossless producer spins much less (a microsecond or two): a full ring
 * means the consumer is the slower side, and spinning until it releases its
 * next burst burned a whole core in replay (70 % of the reader's time) for
 * nothing. It then sleeps until half the ring is free, or WAKE_ROOM_MAX
 * (see wait_for_room). */
#define PRODUCER_SPIN_LIMIT 64u
/* The most a sleeping lossless producer asks to have free before it is woken:
 * a quarter MiB is a few thousand records, so sleeps stay rare, and a larger
 * ring then keeps the rest as a lead that covers the producer's own stalls
 * (replay's reader waits ~150 us in each 1 MiB read() of its capture file)
 * instead of buying longer sleeps, during which the consumer's output piles
 * up unread (replay's record queue). */
#define WAKE_ROOM_MAX (256u * 1024u)

#define REC_HDR ((uint32_t)sizeof(tt_ring_rec))

/* TT_RING_BATCH publishes every min(capacity / 8, BATCH_BYTES) bytes: enough
 * records per head store that the consumer's polls stop pulling the head
 * line (and the lines still being written) away from the producer on every
 * record, small enough to bound the delay at high rates. */
#define BATCH_BYTES 8192u

static inline uint32_t rec_size(uint32_t len)
{
    /* len <= max_payload < 2^30: no overflow. 8-byte multiple keeps every
     * header and payload 8-byte aligned. */
    return (REC_HDR + len + 7u) & ~7u;
}

static inline tt_ring_rec *rec_at(tt_ring *r, uint32_t pos)
{
    return (tt_ring_rec *)(void *)(r->data + (pos & r->cfg.mask));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline void bump(_Atomic uint64_t *counter)
{
    /* Single writer (the side that owns the counter): load + store, no RMW.
     * Relaxed: readers only need some value the counter really had. */
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ---- fences and sleeping ------------------------------------------------ */

bool tt_ring_register_fences(void)
{
#if RING_MEMBARRIER
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return false;
    /* Per process and idempotent: once registered, registering again (every
     * ring after the first) returns at once. */
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

/* PW1 / CW1: the waking side's half of the Dekker pair (partners CS2 / PS2). */
static inline void light_fence(const tt_ring *r)
{
    if (r->cfg.membarrier)
        atomic_signal_fence(memory_order_seq_cst); /* compiler only; CS2/PS2 fence this CPU */
    else
        atomic_thread_fence(memory_order_seq_cst); /* orders the index store before the flag load */
}

/* CS2 / PS2: the sleeping side's half (partners PW1 / CW1). */
static void heavy_fence(const tt_ring *r)
{
    /* Orders this thread's `sleeping` store before its index re-check. */
    atomic_thread_fence(memory_order_seq_cst);
#if RING_MEMBARRIER
    if (r->cfg.membarrier)
        (void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#else
    (void)r;
#endif
}

#if TT_HAVE_FUTEX
/* Sleep while *word == expected, at most rel (NULL: forever). Spurious
 * returns are fine: every caller re-checks its condition. */
static void word_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *rel)
{
    (void)syscall(SYS_futex, (void *)word, FUTEX_WAIT_PRIVATE, expected, rel, NULL, 0);
}

static void word_wake(_Atomic uint32_t *word)
{
    (void)syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
#else
/* Without a futex (Apple's platforms; TT_PORTABLE builds): a mutex and
 * condition variable chosen by the word's address among PARK_SLOTS, shared
 * by every ring of the process. Only sleepers and their wakers take them; a
 * commit takes neither.
 *
 * K4, no lost wake-up: the waker bumps the word (K1) before it takes the
 * slot's lock to broadcast (word_wake), and the sleeper compares the word
 * under that lock before it waits. If the sleeper locks first, the waker's
 * lock waits until pthread_cond_wait has released it, and the broadcast
 * wakes the sleeper; if the waker locks first, the bump happens before the
 * sleeper's lock, which then sees it. Slots shared between words only add
 * spurious returns. */
#define PARK_SLOTS 16u

static struct park {
    pthread_mutex_t lock;
    pthread_cond_t cv;
} park[PARK_SLOTS];
static pthread_once_t park_once = PTHREAD_ONCE_INIT;

static void park_init(void)
{
    for (unsigned i = 0; i < PARK_SLOTS; i++) {
        pthread_mutex_init(&park[i].lock, NULL);
        pthread_cond_init(&park[i].cv, NULL);
    }
}

static struct park *park_of(const _Atomic uint32_t *word)
{
    (void)pthread_once(&park_once, park_init);
    uintptr_t a = (uintptr_t)word;
    return &park[(a >> 6 ^ a >> 12) % PARK_SLOTS];
}

/* Sleep while *word == expected, at most rel (NULL: forever). Spurious
 * returns are fine: every caller re-checks its condition, and a timed
 * caller its own CLOCK_MONOTONIC deadline (this wait's deadline is on
 * CLOCK_REALTIME, the only clock POSIX condition variables have on every
 * platform: a wall-clock step shortens or lengthens it). */
static void word_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *rel)
{
    struct park *pk = park_of(word);
    struct timespec until;
    if (rel) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += rel->tv_sec;
        until.tv_nsec += rel->tv_nsec;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&pk->lock);
    /* K4: relaxed, the lock orders it after the waker's bump (above). */
    if (atomic_load_explicit(word, memory_order_relaxed) == expected) {
        if (rel)
            (void)pthread_cond_timedwait(&pk->cv, &pk->lock, &until);
        else
            (void)pthread_cond_wait(&pk->cv, &pk->lock);
    }
    pthread_mutex_unlock(&pk->lock);
}

static void word_wake(_Atomic uint32_t *word)
{
    struct park *pk = park_of(word);
    pthread_mutex_lock(&pk->lock); /* K4, partner word_wait's compare */
    pthread_cond_broadcast(&pk->cv);
    pthread_mutex_unlock(&pk->lock);
}
#endif

/* K1: wake whoever sleeps on w. Any thread. */
static void wake(struct tt__ring_wake *w)
{
    /* Clearing `sleeping` spares the next commits a system call. It cannot
     * erase a later announcement: the sleeper loads seq (K2) before storing
     * sleeping (CS1/PS1), so either it saw our bump below (and this store
     * happened before its own) or futex_wait sees seq changed and returns. */
    atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
    /* K1: release, partner K2: publishes K0 (kick/closed) and the clear. */
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
    word_wake(&w->seq);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- geometry, init ----------------------------------------------------- */

static bool capacity_ok(size_t capacity)
{
    return capacity >= TT_RING_CAPACITY_MIN && capacity <= TT_RING_CAPACITY_MAX &&
           (capacity & (capacity - 1)) == 0;
}

size_t tt_ring_memsize(size_t capacity)
{
    if (!capacity_ok(capacity))
        return 0;
    return sizeof(struct tt_ring) + capacity;
}

int tt_ring_init(void *mem, size_t memsize, size_t capacity, unsigned flags)
{
    if (mem == NULL || !capacity_ok(capacity) || memsize < tt_ring_memsize(capacity) ||
        (uintptr_t)mem % TT_RING_ALIGN != 0 ||
        (flags & ~(unsigned)(TT_RING_LOSSLESS | TT_RING_SYMMETRIC_FENCE | TT_RING_BATCH |
                             TT_RING_NO_SPIN)) != 0)
        return TT_EINVAL;

    tt_ring *r = mem;
    memset(r, 0, sizeof *r); /* the buffer itself needs no clearing */
    r->cfg.capacity = (uint32_t)capacity;
    r->cfg.mask = (uint32_t)capacity - 1;
    r->cfg.max_payload = (uint32_t)capacity / 2 - REC_HDR;
    r->cfg.flags = flags;
    if (flags & TT_RING_BATCH)
        r->cfg.batch_bytes = capacity / 8 < BATCH_BYTES ? (uint32_t)capacity / 8 : BATCH_BYTES;
    r->cfg.membarrier = !(flags & TT_RING_SYMMETRIC_FENCE) && tt_ring_register_fences();

    /* No other thread sees the ring yet: plain initialisation. */
    atomic_init(&r->head.pos, 0);
    atomic_init(&r->p.committed, 0);
    atomic_init(&r->p.dropped_full, 0);
    atomic_init(&r->p.dropped_oversize, 0);
    atomic_init(&r->p.sleeps, 0);
    atomic_init(&r->p.consumer_wakes, 0);
    atomic_init(&r->tail.pos, 0);
    atomic_init(&r->c.consumed, 0);
    atomic_init(&r->c.sleeps, 0);
    struct tt__ring_wake *w[2] = {&r->cw, &r->pw};
    for (int i = 0; i < 2; i++) {
        atomic_init(&w[i]->seq, 0);
        atomic_init(&w[i]->sleeping, 0);
        atomic_init(&w[i]->kick, 0);
        atomic_init(&w[i]->closed, 0);
    }
    return 0;
}

static void *default_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size);
}

static void default_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static int fail(char *errbuf, int err, const char *msg)
{
    if (errbuf)
        snprintf(errbuf, TT_ERRBUF_SIZE, "%s", msg);
    return err;
}

int tt_ring_create(tt_ring **out, size_t capacity, unsigned flags, const tt_ring_allocator *alloc,
                   char errbuf[TT_ERRBUF_SIZE])
{
    if (out == NULL)
        return fail(errbuf, TT_EINVAL, "ring: out pointer is NULL");
    *out = NULL;
    tt_ring_allocator a = {default_alloc, default_free, NULL};
    if (alloc) {
        if (alloc->alloc == NULL || alloc->free == NULL)
            return fail(errbuf, TT_EINVAL, "ring: allocator lacks alloc or free");
        a = *alloc;
    }
    size_t size = tt_ring_memsize(capacity);
    if (size == 0)
        return fail(errbuf, TT_EINVAL, "ring: capacity must be a power of two in [64, 2^31]");

    /* The allocator promises no alignment: over-allocate and align inside. */
    size_t total = size + TT_RING_ALIGN - 1;
    void *base = a.alloc(a.ctx, total);
    if (base == NULL)
        return fail(errbuf, TT_ENOMEM, "ring: allocation failed");
    uintptr_t at = ((uintptr_t)base + TT_RING_ALIGN - 1) & ~(uintptr_t)(TT_RING_ALIGN - 1);
    tt_ring *r = (tt_ring *)(void *)at;
    int rc = tt_ring_init(r, size, capacity, flags);
    if (rc != 0) {
        a.free(a.ctx, base, total);
        return fail(errbuf, rc, "ring: unknown flag");
    }
    r->cfg.alloc_base = base;
    r->cfg.alloc_size = total;
    r->cfg.alloc = a;
    *out = r;
    return 0;
}

void tt_ring_destroy(tt_ring *r)
{
    if (r == NULL || r->cfg.alloc_base == NULL) /* NULL, or caller-owned memory */
        return;
    tt_ring_allocator a = r->cfg.alloc;
    a.free(a.ctx, r->cfg.alloc_base, r->cfg.alloc_size);
}

size_t tt_ring_capacity(const tt_ring *r)
{
    return r->cfg.capacity;
}

size_t tt_ring_max_payload(const tt_ring *r)
{
    return r->cfg.max_payload;
}

void tt__ring_set_pos(tt_ring *r, uint32_t pos)
{
    /* Owner thread, ring idle: relaxed is enough, the hand-off to the
     * threads that use the ring next orders it. */
    atomic_store_explicit(&r->head.pos, pos, memory_order_relaxed);
    atomic_store_explicit(&r->tail.pos, pos, memory_order_relaxed);
    r->p.tail_cache = pos;
    r->p.res_open = false;
    r->c.head_cache = pos;
    r->c.cursor = pos;
    r->c.peeked = 0;
    r->p.pos = pos;
    r->p.published = pos;
    r->c.released = pos;
}

/* ---- producer ----------------------------------------------------------- */

/* Free bytes as the producer sees them. Wrap: head and tail are free-running
 * uint32_t; head - tail is computed mod 2^32 and is the true fill even after
 * head has wrapped past 2^32 and tail not yet, because the fill never
 * exceeds capacity <= 2^31. */
static inline uint32_t room(const tt_ring *r, uint32_t head)
{
    return r->cfg.capacity - (head - r->p.tail_cache);
}

/* Make everything committed visible: P1, then the wake check. */
static void publish(tt_ring *r)
{
    struct tt__ring_prod *p = &r->p;
    /* P1: release, partner C1: payloads, headers and pad markers are written. */
    atomic_store_explicit(&r->head.pos, p->pos, memory_order_release);
    p->published = p->pos;
    light_fence(r); /* PW1, partner CS2 */
    /* PW2: relaxed, partner CS1; K1 inside wake() orders the rest. */
    if (atomic_load_explicit(&r->cw.sleeping, memory_order_relaxed)) {
        bump(&p->consumer_wakes);
        wake(&r->cw);
    }
}

/* The ring is closed (K3 seen): 0 if `need` bytes are free after all, else
 * TT_EFULL. The tail is read again: the one read before `closed` may predate
 * releases made before the close, which K3 (acquire, partner K0) makes
 * visible now. */
static int room_once_closed(tt_ring *r, uint32_t head, uint32_t need)
{
    r->p.tail_cache = atomic_load_explicit(&r->tail.pos, memory_order_acquire); /* P2 */
    return room(r, head) >= need ? 0 : TT_EFULL;
}

/* Lossless mode: wait until `need` bytes are free. Returns 0, or TT_EFULL
 * once the ring is closed with `need` bytes still not free. A sleeping
 * producer asks to be woken only once half the ring, at most WAKE_ROOM_MAX
 * (or `need`, if more), is free: waking at every release would cost a
 * system call on each side per burst the consumer releases, and what is
 * left queued keeps the consumer busy while the producer wakes. The
 * consumer always reaches that room: it releases everything it has read
 * before it waits for more. */
static int wait_for_room(tt_ring *r, uint32_t head, uint32_t need)
{
    if (r->p.pos != r->p.published)
        publish(r); /* the consumer cannot free room it cannot see */
    uint32_t want = r->cfg.capacity / 2 < WAKE_ROOM_MAX ? r->cfg.capacity / 2 : WAKE_ROOM_MAX;
    if (want < need)
        want = need;
    for (unsigned i = 0; i < PRODUCER_SPIN_LIMIT; i++) {
        cpu_relax();
        /* P2: acquire, partner C2. */
        r->p.tail_cache = atomic_load_explicit(&r->tail.pos, memory_order_acquire);
        if (room(r, head) >= need)
            return 0;
        /* K3: acquire, partner K0 (tt_ring_close). */
        if (atomic_load_explicit(&r->cw.closed, memory_order_acquire))
            return room_once_closed(r, head, need);
    }
    for (;;) {
        /* K2: acquire, partner K1. */
        uint32_t seq = atomic_load_explicit(&r->pw.seq, memory_order_acquire);
        /* PS1: announce, with the room wanted (nonzero: 0 < need <= want);
         * partner CW2 reads it after the consumer's tail store. One word, so
         * the consumer never sees the announcement without its size. */
        atomic_store_explicit(&r->pw.sleeping, want, memory_order_relaxed);
        heavy_fence(r); /* PS2, partner CW1 */
        /* PS3 = P2: acquire, partner C2. */
        r->p.tail_cache = atomic_load_explicit(&r->tail.pos, memory_order_acquire);
        /* Sleep unless `want` is free, even with `need` free: returning then
         * would fill the ring again within microseconds and announce again,
         * each time with a membarrier() that interrupts the consumer. The
         * records that fill it are the consumer's to release, and it wakes
         * us when it has released enough (or all). */
        uint32_t free_now = room(r, head);
        int done = free_now >= want ? 0 : 1;
        /* K3: acquire, partner K0. Closed: no more waiting, and no copy
         * called dropped before a second look at the room. */
        if (done != 0 && atomic_load_explicit(&r->cw.closed, memory_order_acquire))
            done = room_once_closed(r, head, need);
        if (done != 1) {
            atomic_store_explicit(&r->pw.sleeping, 0, memory_order_relaxed);
            return done;
        }
        bump(&r->p.sleeps);
        word_wait(&r->pw.seq, seq, NULL);
        atomic_store_explicit(&r->pw.sleeping, 0, memory_order_relaxed);
        /* Woken (or spuriously): room first, without announcing again and
         * its heavy fence; the loop announces before any further sleep. */
        r->p.tail_cache = atomic_load_explicit(&r->tail.pos, memory_order_acquire); /* P2 */
        if (room(r, head) >= need)
            return 0;
    }
}

/* Find room for a record of `len` bytes (already checked <= max_payload);
 * returns 0 and the position of its header, or TT_EFULL (counted). */
static inline int reserve(tt_ring *r, uint32_t len, uint32_t *at)
{
    struct tt__ring_prod *p = &r->p;
    uint32_t size = rec_size(len);
    uint32_t head = p->pos;
    uint32_t to_end = r->cfg.capacity - (head & r->cfg.mask);
    /* A record never straddles the end: if it does not fit before the end,
     * the rest of the buffer becomes padding and the record starts at 0. */
    uint32_t skip = size <= to_end ? 0 : to_end;
    uint32_t need = skip + size;

    if (room(r, head) < need) {
        /* P2: acquire, partner C2: the consumer is done with what it released. */
        p->tail_cache = atomic_load_explicit(&r->tail.pos, memory_order_acquire);
        if (room(r, head) < need) {
            if (!(r->cfg.flags & TT_RING_LOSSLESS) || wait_for_room(r, head, need) != 0) {
                if (p->pos != p->published)
                    publish(r); /* batch mode: let the consumer see all it can drain */
                bump(&p->dropped_full);
                return TT_EFULL;
            }
        }
    }
    *at = head + skip; /* wraps mod 2^32 like every position */
    return 0;
}

/* Write the header of the record at `at` (and the pad marker before it, if
 * it wrapped), count it, and publish per the batch rule. */
static inline void commit(tt_ring *r, uint32_t at, uint32_t len, uint32_t tag, uint64_t value)
{
    struct tt__ring_prod *p = &r->p;
    if (at != p->pos && at - p->pos >= REC_HDR)
        rec_at(r, p->pos)->len = TT__RING_PAD; /* less than a header left: skipped implicitly */
    tt_ring_rec *rec = rec_at(r, at);
    rec->len = len;
    rec->tag = tag;
    rec->value = value;
    /* P0: relaxed; P1 in publish() carries it to C1, and C3 -> S1 to snapshots. */
    atomic_store_explicit(&p->committed,
                          atomic_load_explicit(&p->committed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    p->pos = at + rec_size(len);
    /* Batch mode: publish once batch_bytes have gathered (0 otherwise: always),
     * or at once if the consumer sleeps. Unpublished records need no fence:
     * nothing orders them yet. PW2-early: relaxed; publish() re-checks after
     * PW1, so a sleeper is never missed for published records. */
    if (p->pos - p->published < r->cfg.batch_bytes &&
        !atomic_load_explicit(&r->cw.sleeping, memory_order_relaxed))
        return;
    publish(r);
}

int tt_ring_reserve_sp(tt_ring *r, size_t len, void **payload)
{
    struct tt__ring_prod *p = &r->p;
    p->res_open = false; /* an open reservation is abandoned */
    *payload = NULL;
    if (len > r->cfg.max_payload) {
        bump(&p->dropped_oversize);
        return TT_ETOOBIG;
    }
    int rc = reserve(r, (uint32_t)len, &p->res_pos);
    if (rc != 0)
        return rc;
    p->res_len = (uint32_t)len;
    p->res_open = true;
    *payload = rec_at(r, p->res_pos) + 1;
    return 0;
}

int tt_ring_commit_sp(tt_ring *r, size_t len, uint32_t tag, uint64_t value)
{
    struct tt__ring_prod *p = &r->p;
    if (!p->res_open)
        return TT_ESTATE;
    if (len > p->res_len)
        return TT_EINVAL;
    p->res_open = false;
    commit(r, p->res_pos, (uint32_t)len, tag, value);
    return 0;
}

void tt_ring_flush_sp(tt_ring *r)
{
    if (r->p.pos != r->p.published)
        publish(r);
}

int tt_ring_submit_sp(tt_ring *r, const void *pkt, size_t len, uint32_t tag, uint64_t value)
{
    struct tt__ring_prod *p = &r->p;
    p->res_open = false; /* as a reserve: an open reservation is abandoned */
    if (len > r->cfg.max_payload) {
        bump(&p->dropped_oversize);
        return TT_ETOOBIG;
    }
    uint32_t at;
    int rc = reserve(r, (uint32_t)len, &at);
    if (rc != 0)
        return rc;
    memcpy(rec_at(r, at) + 1, pkt, len);
    commit(r, at, (uint32_t)len, tag, value);
    return 0;
}

/* ---- consumer ----------------------------------------------------------- */

/* tt_ring_peek_burst_sc's prefetching: how far ahead of the record being
 * read it asks for lines, how far behind head the reading must be for it to
 * ask at all, and the line size it steps by. */
#define PREFETCH_AHEAD 2048u
#define PREFETCH_GAP 16384u
#define PREFETCH_LINE 64u

/* True when a record is committed past the cursor (refreshing head_cache). */
static inline bool cons_ready(tt_ring *r)
{
    if (r->c.cursor != r->c.head_cache)
        return true;
    /* C1: acquire, partner P1. */
    r->c.head_cache = atomic_load_explicit(&r->head.pos, memory_order_acquire);
    return r->c.cursor != r->c.head_cache;
}

unsigned tt_ring_peek_burst_sc(tt_ring *r, const tt_ring_rec **recs, unsigned max)
{
    struct tt__ring_cons *c = &r->c;
    uint32_t pos = c->cursor;
    uint32_t head = c->head_cache;
    uint32_t ahead = pos; /* next line to prefetch (below head - PREFETCH_GAP) */
    unsigned n = 0;
    while (n < max) {
        if (pos == head) {
            /* C1: acquire, partner P1: records up to head are complete. */
            head = atomic_load_explicit(&r->head.pos, memory_order_acquire);
            if (pos == head)
                break;
        }
        /* The records were written by the producer's core: each header read
         * below is a cache miss, and each depends on the one before (its
         * length gives the next), so read one by one the misses come one at
         * a time. Ask for the published lines up to PREFETCH_AHEAD bytes
         * ahead at once, but only while the reading is over PREFETCH_GAP
         * behind head. A consumer that close keeps up anyway, reading lines
         * the producer has just written, and prefetching there made
         * ring_bench's 64-byte stream three times slower (54 -> 17 Mpps,
         * even with the line holding head left out: the hardware
         * prefetcher, we think, follows the stream into the lines the
         * producer is writing). Positions below head are complete and stay
         * unchanged until we release them. */
        uint32_t avail = head - pos;
        uint32_t lead = avail > PREFETCH_GAP ? avail - PREFETCH_GAP : 0;
        if ((uint32_t)(ahead - pos) > PREFETCH_AHEAD + PREFETCH_LINE)
            ahead = pos; /* the reading passed it */
        while ((uint32_t)(ahead - pos) < PREFETCH_AHEAD && (uint32_t)(ahead - pos) < lead) {
            __builtin_prefetch(r->data + (ahead & r->cfg.mask), 0, 3);
            ahead = (ahead | (PREFETCH_LINE - 1u)) + 1u;
        }
        uint32_t to_end = r->cfg.capacity - (pos & r->cfg.mask);
        /* pos != head: a record follows, so the skip rules below match what
         * the producer did when it wrapped. */
        if (to_end < REC_HDR) {
            pos += to_end;
            continue;
        }
        const tt_ring_rec *rec = rec_at(r, pos);
        if (rec->len == TT__RING_PAD) {
            pos += to_end;
            continue;
        }
        recs[n++] = rec;
        pos += rec_size(rec->len);
    }
    c->head_cache = head;
    c->cursor = pos;
    c->peeked += n;
    return n;
}

void tt_ring_release_sc(tt_ring *r)
{
    struct tt__ring_cons *c = &r->c;
    /* Single consumer: only this thread writes tail. */
    if (c->cursor == c->released)
        return;
    if (c->peeked) {
        /* C3: release, partner S1: consumed never runs ahead of committed
         * in a snapshot (we counted them after C1 saw them committed). */
        atomic_store_explicit(&c->consumed,
                              atomic_load_explicit(&c->consumed, memory_order_relaxed) + c->peeked,
                              memory_order_release);
        c->peeked = 0;
    }
    /* C2: release, partner P2: our reads of the released records are done
     * before the producer's next writes into those bytes. */
    atomic_store_explicit(&r->tail.pos, c->cursor, memory_order_release);
    c->released = c->cursor;
    if (r->cfg.flags & TT_RING_LOSSLESS) {
        light_fence(r); /* CW1, partner PS2 */
        /* CW2: relaxed, partner PS1. */
        uint32_t want = atomic_load_explicit(&r->pw.sleeping, memory_order_relaxed);
        /* The room it waits for, from the head it published before sleeping
         * (head_cache may be far older: waking on it woke the producer for a
         * few records at a time). Relaxed: a stale head only over-estimates
         * the room, and an early wake is re-checked; once the consumer has
         * read all there is, the room is the whole ring. */
        if (want) {
            uint32_t head = atomic_load_explicit(&r->head.pos, memory_order_relaxed);
            if (r->cfg.capacity - (head - c->cursor) >= want)
                wake(&r->pw);
        }
    }
}

int tt_ring_wait_sc(tt_ring *r, int timeout_ms)
{
    struct tt__ring_wake *w = &r->cw;
    for (unsigned i = 0;; i++) {
        if (cons_ready(r))
            return 1;
        /* Plain load first: the RMW only when a kick is pending. */
        if (atomic_load_explicit(&w->kick, memory_order_relaxed) &&
            atomic_exchange_explicit(&w->kick, 0, memory_order_acquire))
            return 0;
        /* K3: acquire, partner K0; then the head again, as at CS3. */
        if (atomic_load_explicit(&w->closed, memory_order_acquire))
            return cons_ready(r) ? 1 : TT_ECLOSED;
        if (i >= SPIN_LIMIT || timeout_ms == 0 || (r->cfg.flags & TT_RING_NO_SPIN))
            break;
        cpu_relax();
    }
    if (timeout_ms == 0)
        return TT_ETIMEDOUT;

    uint64_t deadline = timeout_ms > 0 ? now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    for (;;) {
        /* K2: acquire, partner K1 (wake): after it, K0 stores are visible. */
        uint32_t seq = atomic_load_explicit(&w->seq, memory_order_acquire);
        /* CS1: announce; partner PW2 reads it after the producer's head store. */
        atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
        heavy_fence(r); /* CS2, partner PW1 */
        /* CS3: re-check with C1 inside cons_ready, and the K0 flags. */
        int rc = -1;
        if (cons_ready(r))
            rc = 1;
        else if (atomic_exchange_explicit(&w->kick, 0, memory_order_acquire))
            rc = 0;
        /* K3: acquire, partner K0. Closed, but a look at the head after it:
         * the head seen above may predate the last publish before the close
         * (tests/ring_wake.pml found a consumer that returned TT_ECLOSED
         * with the last record unread when the producer published and
         * closed between the two loads). */
        else if (atomic_load_explicit(&w->closed, memory_order_acquire))
            rc = cons_ready(r) ? 1 : TT_ECLOSED;

        struct timespec rel, *relp = NULL;
        if (rc == -1 && deadline) {
            uint64_t now = now_ns();
            if (now >= deadline) {
                rc = TT_ETIMEDOUT;
            } else {
                rel.tv_sec = (time_t)((deadline - now) / 1000000000u);
                rel.tv_nsec = (long)((deadline - now) % 1000000000u);
                relp = &rel;
            }
        }
        if (rc != -1) {
            atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
            return rc;
        }
        bump(&r->c.sleeps);
        word_wait(&w->seq, seq, relp);
        atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
    }
}

void tt_ring_wake_consumer(tt_ring *r)
{
    /* K0: published by K1 inside wake(). */
    atomic_store_explicit(&r->cw.kick, 1, memory_order_relaxed);
    wake(&r->cw);
}

void tt_ring_close(tt_ring *r)
{
    /* K0: release, partner K3 (the acquire loads of `closed`): what was
     * published or released before the close is seen by a side that sees
     * the ring closed. A sleeper also gets it through K1 -> K2 in wake(). */
    atomic_store_explicit(&r->cw.closed, 1, memory_order_release);
    wake(&r->cw);
    wake(&r->pw);
}

bool tt_ring_is_closed(const tt_ring *r)
{
    /* K3: acquire, partner K0 in tt_ring_close. */
    return atomic_load_explicit(&r->cw.closed, memory_order_acquire) != 0;
}

/* ---- stats -------------------------------------------------------------- */

void tt_ring_stats_get(const tt_ring *r, tt_ring_stats *st)
{
    uint64_t consumed, committed;
    uint32_t tail;
    for (unsigned tries = 0;; tries++) {
        /* S1: acquire, partner C3. The consumer counted these records after
         * it saw them committed (C1 <- P1 <- P0), so the producer counters
         * read below are at least as new: consumed <= committed. */
        consumed = atomic_load_explicit(&r->c.consumed, memory_order_acquire);
        /* Same reasoning for positions: tail first, then head. */
        tail = atomic_load_explicit(&r->tail.pos, memory_order_acquire);
        /* S2: acquire, so that S3 is not read before it. */
        committed = atomic_load_explicit(&r->p.committed, memory_order_acquire);
        /* S3: consumed unchanged since S1 means no release happened while
         * committed was read, so in_flight is what the ring held at one
         * instant (never more records than fit). A consumer releasing all
         * the time may keep changing it: after a few tries the cut stands,
         * which still keeps consumed <= committed and the identity. */
        if (atomic_load_explicit(&r->c.consumed, memory_order_acquire) == consumed || tries == 8)
            break;
    }
    uint64_t csleeps = atomic_load_explicit(&r->c.sleeps, memory_order_relaxed);
    uint64_t full = atomic_load_explicit(&r->p.dropped_full, memory_order_relaxed);
    uint64_t oversize = atomic_load_explicit(&r->p.dropped_oversize, memory_order_relaxed);
    uint64_t psleeps = atomic_load_explicit(&r->p.sleeps, memory_order_relaxed);
    uint64_t cwakes = atomic_load_explicit(&r->p.consumer_wakes, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head.pos, memory_order_relaxed);

    memset(st, 0, sizeof *st);
    st->committed = committed;
    st->consumed = consumed;
    st->dropped_full = full;
    st->dropped_oversize = oversize;
    st->submitted = committed + full + oversize;
    st->in_flight = committed - consumed;
    st->producer_sleeps = psleeps;
    st->consumer_sleeps = csleeps;
    st->consumer_wakes = cwakes;
    st->capacity = r->cfg.capacity;
    uint32_t used = head - tail; /* mod 2^32, see room() */
    st->used_bytes = used > r->cfg.capacity ? r->cfg.capacity : used;
}
