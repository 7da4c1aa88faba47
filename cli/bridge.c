/* bridge.c - `tunneltap bridge`: forwards between two TUN devices and taps a copy of each packet.
 *
 * One thread, one ppoll() loop over both TUN descriptors and the control
 * socket. A packet read from one device is written, unchanged, to the other
 * first, and only then copied into the tap: the original never waits for
 * the copy, and the copy (a memcpy into a lock-free ring, dropped and
 * counted when the ring is full) never waits for the analyzer. Its
 * timestamp is taken right after the read, so it is the time the packet
 * crossed the bridge. Every packet read is copied, whether or not the other
 * device accepted it: the copy records what the sending side emitted, the
 * refused write is counted apart (per device and errno).
 *
 * The first --tun is the device side (packets read there are outbound), the
 * second the tunnel side (inbound), as for a tunnel provider.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "capture/tun.h"
#include "cli/dashboard.h"
#include "cli/live.h"

#define CMD "bridge"
/* Packets forwarded from one device before the loop looks at the other. */
#define BURST 64

/* Write errors the bridge tells apart; the rest are "other". */
enum { WE_EIO, WE_ENOBUFS, WE_EAGAIN, WE_ENOMEM, WE_EINVAL, WE_OTHER, WE_COUNT };
static const char *const we_names[WE_COUNT] = {"EIO",    "ENOBUFS", "EAGAIN",
                                               "ENOMEM", "EINVAL",  "other"};
static const char *const we_hints[WE_COUNT] = {"the device is down",         "no buffer space",
                                               "the device's queue is full", "out of kernel memory",
                                               "not an IP packet",           "unexpected"};

typedef struct bdev {
    char name[TT_TUN_NAMESIZE];
    int fd;
    int dir; /* direction of packets read from this device */
    tt_producer *prod;
    /* main thread only: the loop and the status callback both run there */
    uint64_t rx_packets, rx_bytes; /* read from this device */
    uint64_t tx_packets, tx_bytes; /* written to this device */
    uint64_t werr[WE_COUNT];       /* writes to this device refused */
    uint64_t read_errors;
    uint64_t copies_dropped, copies_oversize; /* of packets read here */
    bool warned[WE_COUNT];
} bdev;

typedef struct bridge_opts {
    const char *tun[2];
    bool stall;
    size_t ring_bytes;
    cli_live_opts live; /* the options capture has too */
} bridge_opts;

typedef struct bridge {
    bridge_opts o;
    cli_dashboard *dash;
    bdev dev[2];
    tt_tap *tap;
    tt_control *ctl;
    char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char fatal[TT_ERRBUF_SIZE]; /* why the loop stopped early, or "" */
    uint8_t buf[TT_TUN_MAX_PACKET + 1];
} bridge;

/* ---- usage and options ------------------------------------------------- */

void cli_bridge_usage(FILE *out)
{
    fputs("usage: tunneltap bridge --tun NAME --tun NAME [options]\n"
          "\n"
          "Creates two TUN devices and forwards every packet read from one to the\n"
          "other, unchanged. A copy of each packet goes to the analyzer, which follows\n"
          "the connections and, when the bridge stops, says which ones failed. Packets\n"
          "read from the first device are outbound (the device side), from the second\n"
          "inbound (the tunnel side). The devices exist once \"ready\" is printed on\n"
          "stderr: move them where they belong (ip link set NAME netns NS), address\n"
          "them, bring them up. They disappear when the bridge exits.\n"
          "\n"
          "options:\n"
          "  --tun NAME          a TUN device to create (give it twice; '%d' in NAME lets\n"
          "                      the kernel number it)\n",
          out);
    fputs(CLI_LIVE_HELP_OUTPUTS, out);
    fputs("  --ring-bytes N      copy ring per direction, a power of two, k/M suffixes\n"
          "                      (default 1M)\n",
          out);
    fputs(CLI_LIVE_HELP_ANALYSIS, out);
    fputs("  --stall-analyzer    test switch: analyse nothing while forwarding, so copies are\n"
          "                      dropped once the ring is full; forwarding is unaffected\n",
          out);
    fputs(CLI_LIVE_HELP_END, out);
    fputs("\n"
          "Regression alerts (docs/regression.md) are raised while the bridge runs: each\n"
          "one is said on stderr, written to --alerts at once, and listed by 'tunneltap\n"
          "status'; the summary ends with each marker's before/after table and the alerts.\n"
          "\n"
          "Writes a device refuses (EIO while it is down, ENOBUFS, EAGAIN) are counted\n"
          "per device and shown by 'tunneltap status' and the summary; they never stop\n"
          "the bridge.\n"
          "\n"
          "exit status: 0 stopped by SIGINT/SIGTERM or --duration; 1 a device failed\n"
          "while forwarding (e.g. deleted), or an output could not be written; 2 usage\n"
          "error, or the devices, the analyzer or the control socket could not be set up;\n"
          "3 with --fail-on-regression when a regression alert fired (and nothing failed).\n",
          out);
}

enum {
    OPT_TUN = CLI_LIVE_OPT_HOST,
    OPT_RING_BYTES,
    OPT_STALL,
};

/* Returns -1 to go on, or the exit status (help, usage error). */
static int parse_options(int argc, char **argv, bridge_opts *o, cli_live_outputs *out)
{
    static const struct option opts[] = {
        {"tun", required_argument, NULL, OPT_TUN},
        {"ring-bytes", required_argument, NULL, OPT_RING_BYTES},
        {"stall-analyzer", no_argument, NULL, OPT_STALL},
        CLI_LIVE_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned ntun = 0;
    opterr = 0;
    optind = 1;
    int c;
    char err[TT_ERRBUF_SIZE];
    while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        int taken = cli_live_option(c, optarg, &o->live, out, err, sizeof err);
        if (taken < 0)
            return cli_usage_error(CMD, "%s", err);
        if (taken)
            continue;
        switch (c) {
        case OPT_TUN:
            if (ntun == 2)
                return cli_usage_error(CMD,
                                       "--tun given more than twice (a bridge joins two devices)");
            o->tun[ntun++] = optarg;
            break;
        case OPT_RING_BYTES:
            if (!cli_live_parse_bytes(optarg, &o->ring_bytes) ||
                (o->ring_bytes & (o->ring_bytes - 1)) || o->ring_bytes < 4096)
                return cli_usage_error(CMD,
                                       "--ring-bytes wants a power of two from 4096 to 2G (e.g. "
                                       "64k, 1M), not '%s'",
                                       optarg);
            break;
        case OPT_STALL:
            o->stall = true;
            break;
        case 'h':
            cli_bridge_usage(stdout);
            return CLI_LIVE_EXIT_OK;
        case ':':
            return cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt && optopt < 256)
                return cli_usage_error(CMD, "unknown option '-%c'", optopt);
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (ntun != 2)
        return cli_usage_error(CMD, "two TUN devices needed (--tun NAME --tun NAME), %u given",
                               ntun);
    if (strcmp(o->tun[0], o->tun[1]) == 0 && !strchr(o->tun[0], '%'))
        return cli_usage_error(CMD, "the two --tun names are the same ('%s')", o->tun[0]);
    const char *bad = cli_live_options_check(&o->live, out);
    if (bad)
        return cli_usage_error(CMD, "%s", bad);
    return -1;
}

/* ---- forwarding -------------------------------------------------------- */

static int write_error_class(int e)
{
    switch (e) {
    case EIO:
        return WE_EIO;
    case ENOBUFS:
        return WE_ENOBUFS;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return WE_EAGAIN;
    case ENOMEM:
        return WE_ENOMEM;
    case EINVAL:
        return WE_EINVAL;
    default:
        return WE_OTHER;
    }
}

static void count_write_error(bdev *to, int e)
{
    int k = write_error_class(e);
    to->werr[k]++;
    if (!to->warned[k]) {
        /* Once per device and kind: the counters carry the rest. */
        to->warned[k] = true;
        fprintf(stderr,
                "tunneltap: " CMD ": writes to %s fail with %s (%s: %s); counting them, "
                "forwarding goes on\n",
                to->name, k == WE_OTHER ? "an unexpected error" : we_names[k], we_hints[k],
                strerror(e));
    }
}

/* Forwards up to BURST packets read from dev[from]. Returns false when the
 * device is gone (fatal, message in b->fatal). */
static bool forward(bridge *b, unsigned from)
{
    bdev *src = &b->dev[from], *dst = &b->dev[1 - from];
    for (unsigned i = 0; i < BURST; i++) {
        ssize_t n = read(src->fd, b->buf, sizeof b->buf);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return true;
            if (e == EBADFD || e == ENXIO || e == ENODEV) {
                snprintf(b->fatal, sizeof b->fatal, "device %s was removed (read: %s)", src->name,
                         strerror(e));
                return false;
            }
            src->read_errors++;
            return true;
        }
        if (n == 0)
            return true;
        uint64_t ts = cli_live_real_us();
        src->rx_packets++;
        src->rx_bytes += (uint64_t)n;
        /* The original first: nothing the tap does can delay it. */
        ssize_t w;
        do
            w = write(dst->fd, b->buf, (size_t)n);
        while (w < 0 && errno == EINTR);
        if (w == n) {
            dst->tx_packets++;
            dst->tx_bytes += (uint64_t)n;
        } else {
            count_write_error(dst, w < 0 ? errno : EIO);
        }
        /* Then the copy: never blocks (the tap is lossy), TT_EFULL when the
         * ring is full - counted by the tap, and here per device. */
        int rc = tt_tap_submit(src->prod, b->buf, (size_t)n, TT_LINK_RAW, src->dir, ts);
        if (rc == TT_EFULL)
            src->copies_dropped++;
        else if (rc == TT_ETOOBIG)
            src->copies_oversize++;
    }
    return true;
}

/* POLLERR/POLLHUP/POLLNVAL without POLLIN: find out whether the device died.
 * Any error but "nothing to read" is fatal here: poll would report it again
 * at once, and the loop would spin. */
static bool check_device(bridge *b, unsigned i)
{
    bdev *d = &b->dev[i];
    uint64_t before = d->read_errors;
    if (!forward(b, i))
        return false; /* removed: forward() said so */
    if (d->read_errors == before)
        return true; /* a packet or nothing after all */
    snprintf(b->fatal, sizeof b->fatal, "device %s failed (poll reports an error, read: %s)",
             d->name, strerror(errno));
    return false;
}

/* ---- status ------------------------------------------------------------ */

static uint64_t write_errors(const bdev *d)
{
    uint64_t n = 0;
    for (int k = 0; k < WE_COUNT; k++)
        n += d->werr[k];
    return n;
}

static void status_extra(void *ctx, tt_control_json *o)
{
    const bridge *b = ctx;
    tt_control_json *br = tt_control_json_object(o, "bridge");
    tt_control_json_bool(br, "stall_analyzer", b->o.stall);
    uint64_t total = 0;
    for (unsigned i = 0; i < 2; i++) {
        const bdev *d = &b->dev[i];
        tt_control_json *j = tt_control_json_append(br, "devices");
        tt_control_json_str(j, "name", d->name);
        tt_control_json_str(j, "reads_are", d->dir == TT_DIR_OUTBOUND ? "outbound" : "inbound");
        tt_control_json_u64(j, "read_packets", d->rx_packets);
        tt_control_json_u64(j, "read_bytes", d->rx_bytes);
        tt_control_json_u64(j, "read_errors", d->read_errors);
        tt_control_json_u64(j, "written_packets", d->tx_packets);
        tt_control_json_u64(j, "written_bytes", d->tx_bytes);
        tt_control_json_u64(j, "copies_dropped", d->copies_dropped + d->copies_oversize);
        tt_control_json *we = tt_control_json_object(j, "write_errors");
        uint64_t n = write_errors(d);
        tt_control_json_u64(we, "total", n);
        for (int k = 0; k < WE_COUNT; k++)
            if (d->werr[k])
                tt_control_json_u64(we, we_names[k], d->werr[k]);
        total += n;
    }
    tt_control_json_u64(o, "write_errors", total);
}

/* ---- summary ----------------------------------------------------------- */

static void print_direction(FILE *out, const bdev *from, const bdev *to)
{
    char rb[32];
    cli_live_bytes_str(from->rx_bytes, rb, sizeof rb);
    fprintf(out, "bridge: %s -> %s (%s): %" PRIu64 " packet%s (%s) read, %" PRIu64 " written",
            from->name, to->name, from->dir == TT_DIR_OUTBOUND ? "outbound" : "inbound",
            from->rx_packets, from->rx_packets == 1 ? "" : "s", rb, to->tx_packets);
    uint64_t n = write_errors(to);
    if (n) {
        fprintf(out, "; %" PRIu64 " write%s refused by %s:", n, n == 1 ? "" : "s", to->name);
        const char *sep = " ";
        for (int k = 0; k < WE_COUNT; k++)
            if (to->werr[k]) {
                fprintf(out, "%s%s %" PRIu64, sep, we_names[k], to->werr[k]);
                sep = ", ";
            }
    }
    if (from->read_errors)
        fprintf(out, "; %" PRIu64 " read errors", from->read_errors);
    fputc('\n', out);
}

static void print_copies(FILE *out, const char *what, const tt_tap_stats *s)
{
    fprintf(out,
            "%s: %" PRIu64 " submitted, %" PRIu64 " analysed, %" PRIu64
            " dropped (ring full), %" PRIu64 " too big for the ring",
            what, s->submitted, s->analysed, s->dropped_full, s->dropped_oversize);
    if (s->in_flight)
        fprintf(out, ", %" PRIu64 " queued", s->in_flight);
    fputc('\n', out);
}

static void print_summary(const bridge *b, cli_live_sink *k, const tt_tap_stats *running,
                          const tt_tap_stats *final, FILE *out)
{
    print_direction(out, &b->dev[0], &b->dev[1]);
    print_direction(out, &b->dev[1], &b->dev[0]);
    if (b->o.stall) {
        print_copies(out, "copies while forwarding (--stall-analyzer: none analysed)", running);
        fprintf(out, "copies at exit: the %" PRIu64 " still queued were analysed\n",
                final->analysed - running->analysed);
    } else {
        print_copies(out, "copies", final);
    }
    char name[2 * TT_TUN_NAMESIZE + 8];
    snprintf(name, sizeof name, "%s <-> %s", b->dev[0].name, b->dev[1].name);
    cli_summary_source src = {
        .command = "tunneltap bridge",
        .name = name,
        .linktype = "RAW",
        .records = b->dev[0].rx_packets + b->dev[1].rx_packets,
        .matched = b->dev[0].rx_packets + b->dev[1].rx_packets,
        .stopped = b->fatal[0] ? b->fatal : NULL,
    };
    cli_summary_print(&k->sum, &src, &final->analyzer, out);
}

/* ---- the subcommand ---------------------------------------------------- */

static int run_loop(bridge *b, cli_live_outputs *out, const sigset_t *wait_mask)
{
    uint64_t start = cli_live_mono_ms();
    uint64_t stop_at =
        b->o.live.duration > 0 ? start + (uint64_t)(b->o.live.duration * 1000.0 + 0.5) : 0;
    struct pollfd pfd[3 + TT_CONTROL_MAX_FDS];
    while (!cli_live_stop_signal) {
        uint64_t now = cli_live_mono_ms();
        if (stop_at && now >= stop_at)
            break;
        cli_live_outputs_tick(out, now);
        uint64_t wait = 1000; /* the control socket expires idle clients on wake-ups */
        if (stop_at && stop_at - now < wait)
            wait = stop_at - now;
        if (b->dash && cli_dashboard_tick(b->dash) == CLI_DASH_QUIT)
            break;
        int dt = b->dash ? cli_dashboard_timeout_ms(b->dash) : -1;
        if (dt >= 0 && (uint64_t)dt < wait)
            wait = (uint64_t)dt;
        for (unsigned i = 0; i < 2; i++)
            pfd[i] = (struct pollfd){.fd = b->dev[i].fd, .events = POLLIN};
        unsigned nctl = b->ctl ? tt_control_pollfds(b->ctl, pfd + 2, TT_CONTROL_MAX_FDS) : 0;
        int kfd = b->dash ? cli_dashboard_fd(b->dash) : -1;
        unsigned nfd = 2 + nctl;
        if (kfd >= 0)
            pfd[nfd++] = (struct pollfd){.fd = kfd, .events = POLLIN};
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        int n = ppoll(pfd, nfd, &ts, wait_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a stop signal: the loop condition sees it */
            snprintf(b->fatal, sizeof b->fatal, "poll: %s", strerror(errno));
            return CLI_LIVE_EXIT_RUNTIME;
        }
        for (unsigned i = 0; i < 2; i++) {
            short r = pfd[i].revents;
            if ((r & POLLIN) && !forward(b, i))
                return CLI_LIVE_EXIT_RUNTIME;
            if ((r & (POLLERR | POLLHUP | POLLNVAL)) && !(r & POLLIN) && !check_device(b, i))
                return CLI_LIVE_EXIT_RUNTIME;
        }
        if (b->ctl)
            tt_control_dispatch(b->ctl, pfd + 2, nctl);
    }
    return CLI_LIVE_EXIT_OK;
}

int cli_bridge_main(int argc, char **argv)
{
    bridge *b = calloc(1, sizeof *b);
    if (!b) {
        fprintf(stderr, "tunneltap: " CMD ": out of memory\n");
        return CLI_LIVE_EXIT_RUNTIME;
    }
    cli_live_outputs out = {.cmd = CMD};
    int status = parse_options(argc, argv, &b->o, &out);
    if (status >= 0) {
        free(b);
        return status;
    }
    b->dev[0].fd = b->dev[1].fd = -1;
    b->dev[0].dir = TT_DIR_OUTBOUND;
    b->dev[1].dir = TT_DIR_INBOUND;
    cli_live_sink sink;
    cli_live_sink_init(&sink, out.sorted && (out.conn_path || out.json_path));
    char err[TT_ERRBUF_SIZE] = "";
    sigset_t wait_mask;
    status = CLI_LIVE_EXIT_SETUP;

    /* Signals first: every thread started below inherits the blocked mask,
     * so SIGINT/SIGTERM reach this thread's ppoll() only. */
    if (cli_live_signals(&wait_mask) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": cannot set up signals: %s\n", strerror(errno));
        goto out;
    }
    if (!b->o.live.no_control &&
        cli_live_control_path(CMD, b->o.live.control, b->ctl_path, sizeof b->ctl_path) < 0)
        goto out;
    if (cli_live_outputs_open(&out) < 0)
        goto out;

    if (b->o.live.dashboard) {
        cli_dashboard_opts dopt = {.title = "bridge"};
        if (cli_dashboard_new(&b->dash, &dopt, err) < 0) {
            fprintf(stderr, "tunneltap: " CMD ": --dashboard: %s\n", err);
            status = CLI_LIVE_EXIT_SETUP;
            goto out;
        }
    }
    tt_tap_config cfg;
    cli_live_tap_config(&cfg, CMD, &b->o.live, &sink, &out, b->dash);
    cfg.max_producers = 2;
    if (b->o.ring_bytes)
        cfg.ring_bytes = b->o.ring_bytes;
    cfg.own_thread = !b->o.stall;
    int rc = tt_tap_open(&b->tap, &cfg, err);
    if (rc < 0) {
        fprintf(stderr, "tunneltap: " CMD ": cannot start the analyzer: %s\n",
                err[0] ? err : tt_strerror(rc));
        goto out;
    }
    if (cli_live_marks_place(CMD, b->tap, &b->o.live.marks) < 0)
        goto out;
    for (unsigned i = 0; i < 2; i++) {
        if ((rc = tt_tap_producer_open(b->tap, &b->dev[i].prod)) < 0) {
            fprintf(stderr, "tunneltap: " CMD ": cannot open a copy ring: %s\n", tt_strerror(rc));
            goto out;
        }
    }
    for (unsigned i = 0; i < 2; i++) {
        if ((rc = tt_tun_open(&b->dev[i].fd, b->o.tun[i], b->dev[i].name, err)) < 0) {
            fprintf(stderr, "tunneltap: " CMD ": %s\n", err);
            goto out;
        }
    }
    if (!b->o.live.no_control &&
        cli_live_control_open(CMD, b->ctl_path, b->tap, status_extra, b, &b->ctl) < 0)
        goto out;
    fprintf(stderr,
            "tunneltap: " CMD ": created TUN devices %s (device side: reads are outbound) and %s "
            "(tunnel side: reads are inbound)\n",
            b->dev[0].name, b->dev[1].name);
    if (b->ctl)
        fprintf(stderr, "tunneltap: " CMD ": control socket %s\n", b->ctl_path);
    if (b->o.stall)
        fprintf(stderr, "tunneltap: " CMD ": --stall-analyzer: nothing is analysed while "
                        "forwarding; copies are dropped once the ring is full\n");
    fprintf(stderr, "tunneltap: " CMD ": ready\n");
    fflush(stderr);
    if (b->dash && cli_dashboard_attach(b->dash, b->tap, err) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": --dashboard: %s\n", err);
        status = CLI_LIVE_EXIT_SETUP;
        goto out;
    }

    status = run_loop(b, &out, &wait_mask);
    cli_dashboard_close(b->dash); /* the terminal is restored before anything is printed */
    if (b->fatal[0])
        fprintf(stderr, "tunneltap: " CMD ": %s: stopping\n", b->fatal);

    /* Devices go first: the namespaces lose their links at once, and no
     * packet is read after the counters are summed up. */
    for (unsigned i = 0; i < 2; i++) {
        tt_tun_close(b->dev[i].fd);
        b->dev[i].fd = -1;
    }
    tt_control_close(b->ctl);
    b->ctl = NULL;

    tt_tap_stats running, final;
    tt_tap_get_stats(b->tap, &running);
    tt_tap_finish(b->tap);
    tt_tap_get_stats(b->tap, &final);
    if (cli_live_outputs_finish(&out, &sink) < 0)
        status = CLI_LIVE_EXIT_RUNTIME;
    if (!b->o.live.quiet) {
        FILE *s = cli_live_summary_stream(&out);
        print_summary(b, &sink, &running, &final, s);
        cli_live_print_alerts(b->tap, s);
        fflush(s);
    }
    if (status == CLI_LIVE_EXIT_OK && b->o.live.fail_on_regression &&
        cli_live_regressions(&out) > 0)
        status = CLI_LIVE_EXIT_REGRESSION;

out:
    for (unsigned i = 0; i < 2; i++)
        tt_tun_close(b->dev[i].fd);
    tt_control_close(b->ctl);
    cli_dashboard_close(b->dash);
    if (b->tap)
        tt_tap_close(b->tap); /* first: its thread may still raise an alert */
    cli_dashboard_free(b->dash);
    cli_live_outputs_abort(&out);
    cli_live_sink_free(&sink);
    free(b);
    return status;
}
