/* ring_internal.h - layout of tt_ring, shared by ring.c and its tests.
 *
 * Seven 128-byte-aligned blocks, then the buffer. Each block is written by
 * one side only (or by nobody after init). The index a side publishes (head,
 * tail) sits alone in its block: the other side polls it, and every poll
 * takes the line away from its owner, so nothing the owner reads per packet
 * may live there.
 */
#ifndef TT_RING_INTERNAL_H
#define TT_RING_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tunneltap/ring.h"

/* Pad marker in tt_ring_rec.len: the rest of the buffer up to its end is
 * unused; the next record starts at offset 0. */
#define TT__RING_PAD UINT32_MAX

/* Read-only after init: geometry and how this ring fences. */
struct tt__ring_cfg {
    uint32_t capacity;    /* bytes, power of two, <= 2^31 */
    uint32_t mask;        /* capacity - 1 */
    uint32_t max_payload; /* capacity / 2 - sizeof(tt_ring_rec) */
    unsigned flags;       /* TT_RING_* */
    uint32_t batch_bytes; /* TT_RING_BATCH: publish after this many bytes; else 0 */
    bool membarrier;      /* sleepers pay membarrier(), wakers a compiler fence */
    void *alloc_base;     /* tt_ring_create: what to free (NULL: caller-owned) */
    size_t alloc_size;
    tt_ring_allocator alloc;
};

/* Published positions, one per block: the other side polls these, so they
 * share their line with nothing their owner reads on its hot path. */
struct tt__ring_index {
    _Atomic uint32_t pos;
};

/* Producer-private (tt_ring_stats_get also reads the counters). */
struct tt__ring_prod {
    uint32_t pos;        /* next write position; published as head at commit */
    uint32_t published;  /* last value stored to head */
    uint32_t tail_cache; /* last tail seen: refreshed only when it looks full */
    uint32_t res_pos;    /* open reservation: position of its header */
    uint32_t res_len;    /*   and its payload length */
    bool res_open;
    _Atomic uint64_t committed;
    _Atomic uint64_t dropped_full;
    _Atomic uint64_t dropped_oversize;
    _Atomic uint64_t sleeps;         /* lossless waits that slept */
    _Atomic uint64_t consumer_wakes; /* wake-ups sent to a sleeping consumer */
};

/* Consumer-private (tt_ring_stats_get also reads the counters). */
struct tt__ring_cons {
    uint32_t head_cache; /* last head seen: refreshed only when it looks empty */
    uint32_t cursor;     /* position after the last peeked record */
    uint32_t released;   /* last value stored to tail */
    uint32_t peeked;     /* records peeked since the last release */
    _Atomic uint64_t consumed;
    _Atomic uint64_t sleeps;
};

/* One side's sleep/wake state; written only around a sleep, so the other
 * side's per-operation load of `sleeping` hits its own cache. */
struct tt__ring_wake {
    _Atomic uint32_t seq;      /* futex word: bumped by every wake */
    _Atomic uint32_t sleeping; /* nonzero: this side announced it may sleep (a
                                  lossless producer: the room it waits for) */
    _Atomic uint32_t kick;     /* consumer only: tt_ring_wake_consumer pending */
    _Atomic uint32_t closed;   /* consumer block only: tt_ring_close was called */
};

struct tt_ring {
    alignas(TT_RING_ALIGN) struct tt__ring_cfg cfg;
    alignas(TT_RING_ALIGN) struct tt__ring_index head; /* producer writes, consumer polls */
    alignas(TT_RING_ALIGN) struct tt__ring_prod p;
    alignas(TT_RING_ALIGN) struct tt__ring_index tail; /* consumer writes, producer polls */
    alignas(TT_RING_ALIGN) struct tt__ring_cons c;
    alignas(TT_RING_ALIGN) struct tt__ring_wake cw; /* consumer sleeps here */
    alignas(TT_RING_ALIGN) struct tt__ring_wake pw; /* lossless producer sleeps here */
    alignas(TT_RING_ALIGN) unsigned char data[];
};

/* Test hook: move an empty, idle ring's positions to `pos`, a multiple of 8
 * (e.g. just below 2^32, to exercise the index wrap).
 * Thread-safety: owner thread only. */
void tt__ring_set_pos(tt_ring *ring, uint32_t pos);

#endif
