/* platform.h - what the embeddable library (ring/, analyze/) takes from the OS past C11 and POSIX.
 *
 * Decided here and nowhere else. Each TT_HAVE_* is 1 or 0; the code keeps a
 * fallback for every 0, the one Apple's platforms get. TT_PORTABLE (`make
 * test-portable`) turns them all off on Linux, so that those fallbacks are
 * built with -Werror and run by the test suite here (docs/embedding.md,
 * "Platforms").
 */
#ifndef TT_PLATFORM_H
#define TT_PLATFORM_H

#include <limits.h> /* the C library's own macros (__GLIBC__) */

/* futex(2) and membarrier(2): the rings sleep on their wake-up word with the
 * first and fence with the second (ring/ring.c). Fallbacks: a POSIX mutex and
 * condition variable per wake-up word's hash; seq_cst fences on both sides.
 * A kernel without membarrier fails the call and the rings take the fallback
 * at run time; TT_NO_MEMBARRIER leaves the call out, for a sandbox that
 * would kill the process for it instead (a seccomp filter). */
#if defined(__linux__) && !defined(TT_PORTABLE)
#define TT_HAVE_FUTEX 1
#else
#define TT_HAVE_FUTEX 0
#endif
#if defined(__linux__) && !defined(TT_PORTABLE) && !defined(TT_NO_MEMBARRIER)
#define TT_HAVE_MEMBARRIER 1
#else
#define TT_HAVE_MEMBARRIER 0
#endif

/* pthread_condattr_setclock(): a timed wait on CLOCK_MONOTONIC (the tap's
 * idle wait). Apple has none; the fallback waits on CLOCK_REALTIME. */
#if !defined(__APPLE__) && !defined(TT_PORTABLE)
#define TT_HAVE_CONDATTR_SETCLOCK 1
#else
#define TT_HAVE_CONDATTR_SETCLOCK 0
#endif

/* glibc's mallinfo2() (2.33 and later, in <malloc.h>, which Apple does not
 * have): the heap nDPI's module takes, measured for the analyzer's
 * memory_bytes. Fallback: the module's fixed estimate (analyze/dpi.h). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) &&          \
    !defined(TT_PORTABLE)
#define TT_HAVE_MALLINFO2 1
#else
#define TT_HAVE_MALLINFO2 0
#endif

#endif
