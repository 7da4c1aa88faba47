/* wake_latency.c - how long a thread asleep on a futex takes to run once woken, on this machine.
 *
 * The ring's waits end in a futex wake-up (ring/ring.c); on a VM the thread
 * woken may wait for its vCPU, or for the waker's. This measures that
 * directly: a thread sleeps on a futex word, the main thread idles for
 * IDLE_US, stamps the clock, bumps the word and wakes it, then spins until
 * the sleeper has stamped the time it ran. Percentiles of N wake-ups.
 *
 *   cc -O2 -pthread bench/wake_latency.c -o bench/out/wake_latency
 *   bench/out/wake_latency [N [IDLE_US]]      (defaults 200 and 1000)
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 100000
#define GIVE_UP_NS 1000000000ull /* a wake-up that takes a second is reported as a second */

static _Atomic uint32_t word;
static _Atomic uint64_t ran_ns; /* when the sleeper last ran after a wake-up; 0: not yet */

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t w = atomic_load(&word);
        if (w == UINT32_MAX)
            return NULL;
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, w, NULL, NULL, 0);
        atomic_store(&ran_ns, now_ns());
    }
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    int idle_us = argc > 2 ? atoi(argv[2]) : 1000;
    if (n < 10 || n > MAX_N || idle_us < 0) {
        fprintf(stderr, "usage: wake_latency [N (10..%d) [IDLE_US]]\n", MAX_N);
        return 2;
    }
    static uint64_t lat[MAX_N];
    pthread_t th;
    if (pthread_create(&th, NULL, sleeper, NULL) != 0) {
        fprintf(stderr, "wake_latency: cannot start the sleeping thread\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        usleep((useconds_t)idle_us); /* the sleeper is asleep by now, its vCPU maybe idle */
        atomic_store(&ran_ns, 0);
        uint64_t t0 = now_ns();
        atomic_fetch_add(&word, 1);
        syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        uint64_t ran;
        while (!(ran = atomic_load(&ran_ns)) && now_ns() - t0 < GIVE_UP_NS)
            ;
        lat[i] = ran ? ran - t0 : GIVE_UP_NS;
    }
    atomic_store(&word, UINT32_MAX);
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof lat[0], by_value);
    printf("idle %d us, %d wake-ups: wake to run, us: p10 %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max "
           "%.1f\n",
           idle_us, n, lat[n / 10] / 1e3, lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3,
           lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3);
    return 0;
}
