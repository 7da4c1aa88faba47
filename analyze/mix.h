/* mix.h - splitmix64's finalizer, the one integer hash of the code base. */
#ifndef TT_ANALYZE_MIX_H
#define TT_ANALYZE_MIX_H

#include <stdint.h>

/* Every input bit reaches every output bit; a bijection (0 maps to 0). */
static inline uint64_t tt__mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif
