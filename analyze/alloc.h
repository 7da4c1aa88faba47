/* alloc.h - the configured allocator, or calloc/free when none is set. */
#ifndef TT_ANALYZE_ALLOC_H
#define TT_ANALYZE_ALLOC_H

#include <stdlib.h>

#include "tunneltap/analyzer.h"

/* Zeroed memory of n bytes, or NULL. al may be NULL. */
static inline void *tt__alloc(const tt_allocator *al, size_t n)
{
    return al && al->alloc ? al->alloc(al->ctx, n) : calloc(1, n);
}

/* Frees what tt__alloc returned (n: the size asked for). NULL p is fine. */
static inline void tt__free(const tt_allocator *al, void *p, size_t n)
{
    if (!p)
        return;
    if (al && al->free)
        al->free(al->ctx, p, n);
    else
        free(p);
}

#endif
