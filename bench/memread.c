/* memread.c - the physical floor under reading a capture: every byte copied once, nothing else.
 *
 *   memread FILE
 *
 * Reads FILE whole with read(2) through one 512 KiB buffer (the size of
 * replay's ring): the kernel copies each byte from the page cache once, the
 * least any reader of the file does, with no parsing at all. bench/run.sh
 * runs it beside tcpdump and replay as the tool "memread", in the same
 * rounds, so the table shows how far each tool is from the memory bandwidth
 * the machine gives at that moment, and whether that bandwidth moved when
 * the others slowed down (in docs/PERFORMANCE.md's run G it did not). Prints
 * the bytes read, the seconds the reading took and the rate to stdout; exit
 * 1 on an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_BYTES (512u << 10)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: memread FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "memread: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    unsigned char *buf = aligned_alloc(4096, BUF_BYTES);
    if (!buf) {
        fprintf(stderr, "memread: out of memory\n");
        return 1;
    }
    double t0 = now();
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, BUF_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "memread: %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
    }
    double dt = now() - t0;
    printf("%llu bytes in %.6f s: %.2f GB/s\n", (unsigned long long)total, dt,
           dt > 0 ? (double)total / dt / 1e9 : 0.0);
    free(buf);
    close(fd);
    return 0;
}
