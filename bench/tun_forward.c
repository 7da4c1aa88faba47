/* tun_forward.c - reference TUN-to-TUN forwarder with no tap (bench/bridge_iperf.sh).
 *
 * The baseline for `tunneltap bridge`: the same devices (IFF_TUN | IFF_NO_PI,
 * non-blocking, never persistent), the same single-thread ppoll() loop over
 * both descriptors, the same burst of 64 packets per readable device, the
 * same 64 KiB buffer, the same per-packet CLOCK_REALTIME timestamp and
 * counters - and then no copy: nothing is submitted anywhere. The difference
 * between the two is what the tap costs the forwarding thread.
 *
 *   tun_forward A B        creates A and B, prints "ready" on stderr, forwards
 *                          until SIGINT/SIGTERM, then prints per direction:
 *   forward: A -> B: N packets (BYTES bytes) read, M written, E write errors
 *
 * Build: cc -O2 -o tun_forward tun_forward.c   (needs CAP_NET_ADMIN to run)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define BURST 64
#define MAX_PACKET 65535u

typedef struct dev {
    char name[IFNAMSIZ];
    int fd;
    uint64_t rx_packets, rx_bytes, tx_packets, werr, read_errors;
} dev;

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint8_t buf[MAX_PACKET + 1];
static volatile uint64_t ts_sink; /* keeps the timestamp the bridge takes */

static int tun_open(dev *d, const char *name)
{
    if (if_nametoindex(name)) {
        fprintf(stderr, "tun_forward: a device named '%s' already exists\n", name);
        return -1;
    }
    int f = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        perror("tun_forward: /dev/net/tun");
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(f, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tun_forward: TUNSETIFF %s: %s\n", name, strerror(errno));
        close(f);
        return -1;
    }
    snprintf(d->name, sizeof d->name, "%s", ifr.ifr_name);
    d->fd = f;
    return 0;
}

static int forward(dev *src, dev *dst)
{
    for (unsigned i = 0; i < BURST; i++) {
        ssize_t n = read(src->fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EBADFD || errno == ENXIO || errno == ENODEV)
                return -1;
            src->read_errors++;
            return 0;
        }
        if (n == 0)
            return 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts_sink = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        src->rx_packets++;
        src->rx_bytes += (uint64_t)n;
        ssize_t w;
        do
            w = write(dst->fd, buf, (size_t)n);
        while (w < 0 && errno == EINTR);
        if (w == n)
            dst->tx_packets++;
        else
            dst->werr++;
        /* tunneltap bridge would call tt_tap_submit() here */
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tun_forward DEV_A DEV_B\n");
        return 2;
    }
    dev d[2] = {{.fd = -1}, {.fd = -1}};
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (tun_open(&d[0], argv[1]) < 0 || tun_open(&d[1], argv[2]) < 0)
        return 2;
    fprintf(stderr, "tun_forward: created TUN devices %s and %s\ntun_forward: ready\n", d[0].name,
            d[1].name);
    int rc = 0;
    struct pollfd pfd[2];
    while (!stop) {
        for (unsigned i = 0; i < 2; i++)
            pfd[i] = (struct pollfd){.fd = d[i].fd, .events = POLLIN};
        struct timespec to = {1, 0};
        int n = ppoll(pfd, 2, &to, &wait_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("tun_forward: ppoll");
            rc = 1;
            break;
        }
        for (unsigned i = 0; i < 2; i++)
            if ((pfd[i].revents & POLLIN) && forward(&d[i], &d[1 - i]) < 0) {
                fprintf(stderr, "tun_forward: device %s was removed\n", d[i].name);
                rc = 1;
                stop = 1;
            }
    }
    for (unsigned i = 0; i < 2; i++)
        close(d[i].fd);
    for (unsigned i = 0; i < 2; i++)
        printf("forward: %s -> %s: %" PRIu64 " packets (%" PRIu64 " bytes) read, %" PRIu64
               " written, %" PRIu64 " write errors\n",
               d[i].name, d[1 - i].name, d[i].rx_packets, d[i].rx_bytes, d[1 - i].tx_packets,
               d[1 - i].werr);
    return rc;
}
