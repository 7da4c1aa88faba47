/* ring.h - lock-free SPSC ring of variable-length packet records.
 *
 * One producer copies packets into one contiguous, power-of-two byte buffer;
 * one consumer reads them in bursts and releases them all at once. Nothing
 * on the producer path blocks or allocates (unless the ring was made
 * TT_RING_LOSSLESS, for offline replay); a packet that finds no room is
 * dropped and counted, a packet the ring can never hold is refused and
 * counted, and the counters always add up:
 *
 *     submitted = consumed + dropped_full + dropped_oversize + in_flight
 *
 * Names carry the contract: `_sp` = producer thread only (single producer),
 * `_sc` = consumer thread only (single consumer), no suffix = any thread,
 * except init/create/destroy (owner thread, while no other thread uses the
 * ring). docs/ring.md has the design, the ordering diagram and the wake-up
 * protocol.
 */
#ifndef TUNNELTAP_RING_H
#define TUNNELTAP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Alignment required of caller-owned ring memory (two 64-byte lines, the
 * cache-line size of Apple silicon and the pair prefetched on x86). */
#define TT_RING_ALIGN 128
/* Capacity limits, in bytes; the capacity must be a power of two. */
#define TT_RING_CAPACITY_MIN 64u
#define TT_RING_CAPACITY_MAX 0x80000000u

/* Flags for tt_ring_init() / tt_ring_create(). */
enum {
    /* The producer waits for room instead of dropping: for offline replay,
     * where every packet must arrive. It spins a microsecond or two, then
     * sleeps until half the ring, at most 256 KiB (or the record, if
     * larger), is free; the consumer gets there by releasing what it has
     * read. */
    TT_RING_LOSSLESS = 1u << 0,
    /* Pay an ordinary full fence on every commit/release instead of a
     * membarrier() system call each time a side goes to sleep (chosen
     * automatically where membarrier is unavailable). Use it when IPIs to
     * the process's other threads are unwelcome. */
    TT_RING_SYMMETRIC_FENCE = 1u << 1,
    /* Publish committed records in batches (every min(capacity / 8, 8 KiB)
     * bytes, at tt_ring_flush_sp(), when the consumer sleeps, and before a
     * lossless wait) instead of one by one: fewer cross-core transfers,
     * higher throughput. The producer must call tt_ring_flush_sp() whenever
     * it runs out of packets for a while (end of a capture batch). */
    TT_RING_BATCH = 1u << 2,
    /* tt_ring_wait_sc sleeps at once on an empty ring instead of spinning
     * (2 048 pauses, tens of microseconds) for a record first: for a
     * consumer that naps between batches anyway, where the spin only burns
     * CPU at low rates (a lossy tap: 7.4 % of a core at 1 000 copies a
     * second with the spin, 1.9 % without). */
    TT_RING_NO_SPIN = 1u << 3,
};

typedef struct tt_ring tt_ring;

/* Record header as it lies in the ring; the payload follows it and starts
 * 8-byte aligned. Records are 8-byte multiples and never straddle the end of
 * the buffer. */
typedef struct tt_ring_rec {
    uint32_t len;   /* payload bytes */
    uint32_t tag;   /* caller's (tunneltap: link type and direction) */
    uint64_t value; /* caller's (tunneltap: timestamp) */
} tt_ring_rec;

/* Payload of a record returned by tt_ring_peek_burst_sc(). */
static inline const void *tt_ring_rec_data(const tt_ring_rec *rec)
{
    return rec + 1;
}

/* Optional allocator for tt_ring_create(); alloc must return zeroed memory
 * (or NULL), free receives the size that was allocated. */
typedef struct tt_ring_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} tt_ring_allocator;

/* Counter snapshot (see tt_ring_stats_get for what "consistent" means).
 *   submitted        = committed + dropped_full + dropped_oversize: every
 *                      packet offered (a submit call, or a reserve that
 *                      failed or was committed; an abandoned reservation was
 *                      never offered);
 *   committed        records committed by the producer (TT_RING_BATCH: some
 *                    possibly not yet published);
 *   consumed         records released by the consumer;
 *   dropped_full     offers refused for lack of room (lossy mode; lossless
 *                    mode only once tt_ring_close() ended a wait);
 *   dropped_oversize offers refused because len > tt_ring_max_payload();
 *   in_flight        = committed - consumed: in the ring, whether unpublished,
 *                    published or peeked. */
typedef struct tt_ring_stats {
    uint64_t submitted;
    uint64_t committed;
    uint64_t consumed;
    uint64_t dropped_full;
    uint64_t dropped_oversize;
    uint64_t in_flight;
    uint64_t producer_sleeps; /* lossless waits that went to sleep */
    uint64_t consumer_sleeps; /* tt_ring_wait_sc calls that went to sleep */
    uint64_t consumer_wakes;  /* wake-ups the producer issued to a sleeping consumer */
    size_t capacity;          /* bytes */
    size_t used_bytes;        /* approximate fill (records + padding), for dashboards */
} tt_ring_stats;

/* Bytes of caller memory a ring of `capacity` bytes needs (header + buffer),
 * or 0 when capacity is not a power of two within the limits above.
 * Thread-safety: any thread. */
TT_API size_t tt_ring_memsize(size_t capacity);

/* Lay out an empty ring in caller-owned `mem` (TT_RING_ALIGN-aligned,
 * memsize >= tt_ring_memsize(capacity)); afterwards `(tt_ring *)mem` is the
 * ring. Needs no teardown: when no thread uses it any more, free the memory.
 * Returns 0, or TT_EINVAL (bad capacity, short or misaligned memory, unknown
 * flag); on error `mem` is untouched.
 * Thread-safety: owner thread only (before sharing the ring). */
TT_API int tt_ring_init(void *mem, size_t memsize, size_t capacity, unsigned flags);

/* Allocate (through `alloc`, or calloc/free when NULL) and initialise a ring.
 * Returns 0 and sets *out, or TT_EINVAL / TT_ENOMEM with *out = NULL and a
 * message in errbuf (may be NULL).
 * Thread-safety: owner thread only. */
TT_API int tt_ring_create(tt_ring **out, size_t capacity, unsigned flags,
                          const tt_ring_allocator *alloc, char errbuf[TT_ERRBUF_SIZE]);

/* Register the process for the asymmetric fence rings use (Linux
 * membarrier, PRIVATE_EXPEDITED; docs/ring.md), as every ring does when it
 * is made. Registering is once per process and costs microseconds while the
 * process has a single thread, but Linux makes a multi-threaded process's
 * registration wait for an RCU grace period: 11-18 ms measured on a 2-vCPU
 * KVM guest. Call it before starting threads where start-up time counts
 * (tt_tap_open does, before its analysis thread). Returns true when the
 * fence is available (rings without TT_RING_SYMMETRIC_FENCE will use it).
 * Thread-safety: any thread. */
TT_API bool tt_ring_register_fences(void);

/* Free a ring made by tt_ring_create() (NULL is a no-op). Both sides must
 * have stopped using it. Never fails.
 * Thread-safety: owner thread only. */
TT_API void tt_ring_destroy(tt_ring *ring);

/* Capacity in bytes. Thread-safety: any thread. */
TT_API size_t tt_ring_capacity(const tt_ring *ring);

/* Largest payload the ring accepts: capacity / 2 - sizeof(tt_ring_rec), so a
 * record always fits once the ring drains, wherever the wrap point is.
 * Thread-safety: any thread. */
TT_API size_t tt_ring_max_payload(const tt_ring *ring);

/* Reserve room for a record of `len` payload bytes and point *payload at it
 * (8-byte aligned, writable until commit). A later reserve without a commit
 * abandons the reservation (nothing published, nothing counted).
 * Returns 0; TT_ETOOBIG if len > tt_ring_max_payload() (counted in
 * dropped_oversize); TT_EFULL if there is no room (lossy mode: returns at
 * once, counted in dropped_full; lossless mode: only after tt_ring_close()).
 * On error *payload = NULL. Lossless mode waits here; lossy mode never blocks.
 * Thread-safety: producer only. */
TT_API int tt_ring_reserve_sp(tt_ring *ring, size_t len, void **payload);

/* Commit the reserved record with its header fields; `len` may shrink the
 * reservation (e.g. to the bytes recvmsg() actually wrote). The record is
 * visible to the consumer at once (in TT_RING_BATCH mode: see there).
 * Returns 0; TT_ESTATE if no reservation is open; TT_EINVAL if len exceeds
 * the reserved length (nothing published, the reservation stays open).
 * Thread-safety: producer only. */
TT_API int tt_ring_commit_sp(tt_ring *ring, size_t len, uint32_t tag, uint64_t value);

/* Make every committed record visible to the consumer now (TT_RING_BATCH;
 * a no-op otherwise, where commit already did). Never fails.
 * Thread-safety: producer only. */
TT_API void tt_ring_flush_sp(tt_ring *ring);

/* Copy one packet in: reserve + memcpy + commit. Same returns as
 * tt_ring_reserve_sp (0, TT_ETOOBIG, TT_EFULL); the packet is never truncated.
 * Thread-safety: producer only. */
TT_API int tt_ring_submit_sp(tt_ring *ring, const void *pkt, size_t len, uint32_t tag,
                             uint64_t value);

/* Peek up to `max` records after those already peeked; recs[i] stay valid
 * and unchanged until tt_ring_release_sc(). Returns how many were stored
 * (0 when nothing new is published). Never blocks, never fails.
 * Thread-safety: consumer only. */
TT_API unsigned tt_ring_peek_burst_sc(tt_ring *ring, const tt_ring_rec **recs, unsigned max);

/* Release every record peeked so far: finish reading them first, their
 * memory goes back to the producer. Counts them in `consumed`. Never fails.
 * Thread-safety: consumer only. */
TT_API void tt_ring_release_sc(tt_ring *ring);

/* Wait until a record is ready to peek: spin briefly, then sleep.
 * timeout_ms < 0 waits forever, 0 only checks.
 * Returns 1 when a record is ready; 0 when woken by tt_ring_wake_consumer()
 * with nothing to read; TT_ETIMEDOUT; TT_ECLOSED once the ring is closed
 * and everything published has been peeked.
 * Thread-safety: consumer only. */
TT_API int tt_ring_wait_sc(tt_ring *ring, int timeout_ms);

/* Make the consumer's current tt_ring_wait_sc(), or its next one if none is
 * running, return (0 unless records are ready). Never lost, never fails.
 * Thread-safety: any thread. */
TT_API void tt_ring_wake_consumer(tt_ring *ring);

/* Shut the ring down: waits on both sides return (TT_ECLOSED once drained on
 * the consumer side; TT_EFULL, counted as dropped_full, for a lossless
 * producer that finds no room). Committing and consuming keep working, so
 * the consumer can drain (a TT_RING_BATCH producer flushes before closing).
 * Idempotent, never fails.
 * Thread-safety: any thread. */
TT_API void tt_ring_close(tt_ring *ring);

/* True once tt_ring_close() was called. Thread-safety: any thread. */
TT_API bool tt_ring_is_closed(const tt_ring *ring);

/* Snapshot the counters. Each side owns its counters, so the snapshot is a
 * consistent cut, not a frozen instant: every value is one the counter really
 * had, consumed <= committed, and the identity above holds exactly. The
 * consumer's count is read again after the producer's and the read retried
 * (a few times) when it moved, so in_flight is normally the count of one
 * instant, never more records than the ring holds. Called
 * from the producer (consumer), the producer's (consumer's) counters are
 * exact; with both sides idle, all are. Never fails.
 * Thread-safety: any thread. */
TT_API void tt_ring_stats_get(const tt_ring *ring, tt_ring_stats *out);

#ifdef __cplusplus
}
#endif
#endif
