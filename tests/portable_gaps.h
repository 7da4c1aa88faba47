/* portable_gaps.h - POSIX calls Apple's platforms lack, made errors in a TT_PORTABLE build.
 *
 * `make test-portable` forces this header into every source of analyze/ and
 * ring/ (-include), which also build there with _DEFAULT_SOURCE instead of
 * _GNU_SOURCE (BSD and POSIX interfaces, no GNU extensions: near what Apple's
 * headers offer by default). A use of a name below then fails the build.
 * tests/test_portable_includes.sh checks the headers those sources include.
 */
#ifndef TT_PORTABLE_GAPS_H
#define TT_PORTABLE_GAPS_H

/* Declared before the poison, which applies only to what follows. */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Not in macOS or iOS: the monotonic clock of a condition variable, POSIX
 * barriers, spin locks and timers, timed locks and semaphore waits, unnamed
 * semaphores, clock_nanosleep, file advice. */
#pragma GCC poison pthread_condattr_setclock pthread_condattr_getclock
#pragma GCC poison pthread_barrier_init pthread_barrier_wait pthread_barrier_destroy
#pragma GCC poison pthread_spin_init pthread_spin_lock pthread_spin_trylock pthread_spin_unlock
#pragma GCC poison pthread_mutex_timedlock pthread_rwlock_timedrdlock pthread_rwlock_timedwrlock
#pragma GCC poison sem_init sem_timedwait timer_create timer_settime timer_delete
#pragma GCC poison clock_nanosleep sigtimedwait sigwaitinfo posix_fadvise posix_fallocate
/* Deprecated there (syscall) or glibc's own (mallinfo). */
#pragma GCC poison syscall mallinfo mallinfo2

#endif
