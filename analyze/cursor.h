/* cursor.h - bounds-checked reads over captured bytes (sticky `bad` flag).
 *
 * Every packet read in tunneltap goes through a cursor: a read past the end
 * sets `bad` and returns 0 instead of touching memory, so a decoder can read a
 * whole header and check `bad` once. Lengths are size_t; comparisons are
 * `len <= (size_t)(end - p)`, never `p + len`.
 */
#ifndef TT_ANALYZE_CURSOR_H
#define TT_ANALYZE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tt__cursor {
    const uint8_t *base; /* first byte of the region */
    const uint8_t *p;    /* next byte to read */
    const uint8_t *end;  /* one past the last captured byte */
    bool bad;            /* a read went past `end` */
} tt__cursor;

static inline void tt__cur_init(tt__cursor *c, const uint8_t *data, size_t len)
{
    c->base = data;
    c->p = data;
    c->end = data + len;
    c->bad = false;
}

static inline size_t tt__cur_left(const tt__cursor *c)
{
    return (size_t)(c->end - c->p);
}

static inline size_t tt__cur_off(const tt__cursor *c)
{
    return (size_t)(c->p - c->base);
}

/* True when len more bytes are available (does not set bad). */
static inline bool tt__cur_has(const tt__cursor *c, size_t len)
{
    return len <= tt__cur_left(c);
}

static inline bool tt__cur_skip(tt__cursor *c, size_t len)
{
    if (c->bad || len > tt__cur_left(c)) {
        c->bad = true;
        return false;
    }
    c->p += len;
    return true;
}

static inline uint8_t tt__cur_u8(tt__cursor *c)
{
    if (c->bad || tt__cur_left(c) < 1) {
        c->bad = true;
        return 0;
    }
    return *c->p++;
}

static inline uint16_t tt__cur_be16(tt__cursor *c)
{
    if (c->bad || tt__cur_left(c) < 2) {
        c->bad = true;
        return 0;
    }
    uint16_t v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
    c->p += 2;
    return v;
}

static inline uint32_t tt__cur_be32(tt__cursor *c)
{
    if (c->bad || tt__cur_left(c) < 4) {
        c->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 |
                 (uint32_t)c->p[3];
    c->p += 4;
    return v;
}

/* Reads a 32-bit value in little-endian order (NULL link type on LE hosts). */
static inline uint32_t tt__cur_le32(tt__cursor *c)
{
    if (c->bad || tt__cur_left(c) < 4) {
        c->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 |
                 (uint32_t)c->p[0];
    c->p += 4;
    return v;
}

/* Returns a pointer to len bytes and advances, or NULL (and bad) if short. */
static inline const uint8_t *tt__cur_take(tt__cursor *c, size_t len)
{
    if (c->bad || len > tt__cur_left(c)) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *r = c->p;
    c->p += len;
    return r;
}

/* Big-endian reads at a fixed offset of a region already checked to hold it. */
static inline uint16_t tt__be16_at(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t tt__be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#endif
