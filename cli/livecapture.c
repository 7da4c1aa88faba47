/* livecapture.c - `tunneltap capture`: live libpcap capture into the tap, kernel drops as loss.
 *
 * One thread, one ppoll() loop over the capture descriptor and the control
 * socket; the tap's own thread analyses. Once a second the kernel's drop
 * counters (ps_drop + ps_ifdrop) are read and every new drop is reported
 * with tt_tap_note_loss, so a failure judged around it is called uncertain
 * instead of a broken network.
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

#include "capture/live.h"
#include "cli/dashboard.h"
#include "cli/live.h"

#define CMD "capture"
/* Packets handed over per dispatch before the loop looks at the control socket. */
#define BURST 256

typedef struct capture_opts {
    const char *iface, *bpf;
    int snaplen;
    size_t buffer;      /* the kernel's buffer (0: TT_LIVE_BUFFER_DEFAULT) */
    cli_live_opts live; /* the options bridge has too */
} capture_opts;

typedef struct capture {
    capture_opts o;
    cli_dashboard *dash;
    tt_live *live;
    tt_tap *tap;
    tt_producer *prod;
    tt_control *ctl;
    char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char fatal[TT_ERRBUF_SIZE];
    int linktype;
    uint64_t copies_dropped, copies_oversize, cut; /* cut: caplen < len */
} capture;

void cli_capture_usage(FILE *out)
{
    fputs("usage: tunneltap capture -i IFACE [options]\n"
          "\n"
          "Captures live traffic on IFACE with libpcap, follows every connection and,\n"
          "when it stops, says which ones failed. Packets the kernel drops are counted\n"
          "as capture loss: failures around them are reported as uncertain.\n"
          "\n"
          "options:\n"
          "  -i, --interface IFACE  interface to capture on (link types: RAW, EN10MB,\n"
          "                      LINUX_SLL/SLL2 for 'any', NULL, LOOP, IPV4/IPV6)\n"
          "  --bpf EXPR          capture only packets matching this tcpdump filter\n"
          "  --snaplen N         bytes kept of each packet (default 262144, at least 96)\n"
          "  --buffer-size SIZE  the kernel's buffer for captured packets, k/M suffixes\n"
          "                      (default 32M, 256k to 1024M; libpcap's own is 2M):\n"
          "                      how far the capture may fall behind before the kernel\n"
          "                      drops packets\n",
          out);
    fputs(CLI_LIVE_HELP_OUTPUTS CLI_LIVE_HELP_ANALYSIS CLI_LIVE_HELP_END, out);
    fputs("\n"
          "Regression alerts (docs/regression.md) are raised while the capture runs: each\n"
          "one is said on stderr, written to --alerts at once, and listed by 'tunneltap\n"
          "status'; the summary ends with each marker's before/after table and the alerts.\n"
          "\n"
          "exit status: 0 stopped by SIGINT/SIGTERM or --duration; 1 the capture broke\n"
          "while running (interface gone), or an output could not be written; 2 usage\n"
          "error, or the interface, the analyzer or the control socket could not be set up;\n"
          "3 with --fail-on-regression when a regression alert fired (and nothing failed).\n",
          out);
}

enum {
    OPT_BPF = CLI_LIVE_OPT_HOST,
    OPT_SNAPLEN,
    OPT_BUFFER,
};

static int parse_options(int argc, char **argv, capture_opts *o, cli_live_outputs *out)
{
    static const struct option opts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"bpf", required_argument, NULL, OPT_BPF},
        {"snaplen", required_argument, NULL, OPT_SNAPLEN},
        {"buffer-size", required_argument, NULL, OPT_BUFFER},
        CLI_LIVE_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    char err[TT_ERRBUF_SIZE];
    while ((c = getopt_long(argc, argv, ":hqi:", opts, NULL)) != -1) {
        int taken = cli_live_option(c, optarg, &o->live, out, err, sizeof err);
        if (taken < 0)
            return cli_usage_error(CMD, "%s", err);
        if (taken)
            continue;
        switch (c) {
        case 'i':
            o->iface = optarg;
            break;
        case OPT_BPF:
            o->bpf = optarg;
            break;
        case OPT_SNAPLEN: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || v < TT_LIVE_SNAPLEN_MIN ||
                v > TT_LIVE_SNAPLEN_DEFAULT)
                return cli_usage_error(CMD, "--snaplen wants a byte count from %d to %d, not '%s'",
                                       TT_LIVE_SNAPLEN_MIN, TT_LIVE_SNAPLEN_DEFAULT, optarg);
            o->snaplen = (int)v;
            break;
        }
        case OPT_BUFFER:
            if (!cli_live_parse_bytes(optarg, &o->buffer) || o->buffer < TT_LIVE_BUFFER_MIN ||
                o->buffer > TT_LIVE_BUFFER_MAX)
                return cli_usage_error(CMD, "--buffer-size wants 256k to 1024M, not '%s'", optarg);
            break;
        case 'h':
            cli_capture_usage(stdout);
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
    if (!o->iface)
        return cli_usage_error(CMD, "no interface given (-i IFACE)");
    const char *bad = cli_live_options_check(&o->live, out);
    if (bad)
        return cli_usage_error(CMD, "%s", bad);
    return -1;
}

/* ---- capture loop ------------------------------------------------------ */

static void on_packet(void *ctx, const uint8_t *data, uint32_t caplen, uint32_t len, uint64_t ts_us)
{
    capture *k = ctx;
    if (caplen < len)
        k->cut++; /* the tap keeps caplen bytes; see docs/bridge.md on --snaplen */
    int rc = tt_tap_submit(k->prod, data, caplen, k->linktype, TT_DIR_UNKNOWN, ts_us);
    if (rc == TT_EFULL)
        k->copies_dropped++;
    else if (rc == TT_ETOOBIG)
        k->copies_oversize++;
}

/* Reports the kernel's new drops since the last check (they happened in the
 * second before: the tap stamps the loss with the time of this check, and
 * the analyzer's loss window reaches a second around it). */
static void report_drops(capture *k)
{
    uint64_t n;
    if (tt_live_new_drops(k->live, &n) == 0 && n)
        tt_tap_note_loss(k->tap, cli_live_real_us(), n);
}

static int run_loop(capture *k, cli_live_outputs *out, const sigset_t *wait_mask)
{
    uint64_t start = cli_live_mono_ms(), next_stats = start + 1000;
    uint64_t stop_at =
        k->o.live.duration > 0 ? start + (uint64_t)(k->o.live.duration * 1000.0 + 0.5) : 0;
    struct pollfd pfd[2 + TT_CONTROL_MAX_FDS];
    int status = CLI_LIVE_EXIT_OK;
    while (!cli_live_stop_signal) {
        uint64_t now = cli_live_mono_ms();
        if (stop_at && now >= stop_at)
            break;
        cli_live_outputs_tick(out, now);
        if (now >= next_stats) {
            report_drops(k);
            next_stats = now + 1000;
        }
        uint64_t wait = next_stats - now;
        if (stop_at && stop_at - now < wait)
            wait = stop_at - now;
        if (k->dash && cli_dashboard_tick(k->dash) == CLI_DASH_QUIT)
            break;
        int dt = k->dash ? cli_dashboard_timeout_ms(k->dash) : -1;
        if (dt >= 0 && (uint64_t)dt < wait)
            wait = (uint64_t)dt;
        pfd[0] = (struct pollfd){.fd = tt_live_fd(k->live), .events = POLLIN};
        unsigned nctl = k->ctl ? tt_control_pollfds(k->ctl, pfd + 1, TT_CONTROL_MAX_FDS) : 0;
        int kfd = k->dash ? cli_dashboard_fd(k->dash) : -1;
        unsigned nfd = 1 + nctl;
        if (kfd >= 0)
            pfd[nfd++] = (struct pollfd){.fd = kfd, .events = POLLIN};
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        int n = ppoll(pfd, nfd, &ts, wait_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(k->fatal, sizeof k->fatal, "poll: %s", strerror(errno));
            status = CLI_LIVE_EXIT_RUNTIME;
            break;
        }
        if (pfd[0].revents) {
            char err[TT_ERRBUF_SIZE];
            if (tt_live_dispatch(k->live, BURST, on_packet, k, err) < 0) {
                snprintf(k->fatal, sizeof k->fatal, "%s", err);
                status = CLI_LIVE_EXIT_RUNTIME;
                break;
            }
        }
        if (k->ctl)
            tt_control_dispatch(k->ctl, pfd + 1, nctl);
    }
    /* What is still queued in the kernel is part of the run. */
    if (status == CLI_LIVE_EXIT_OK) {
        char err[TT_ERRBUF_SIZE];
        tt_live_dispatch(k->live, -1, on_packet, k, err);
    }
    report_drops(k);
    return status;
}

/* ---- status and summary ------------------------------------------------ */

static void status_extra(void *ctx, tt_control_json *o)
{
    const capture *k = ctx;
    tt_control_json *c = tt_control_json_object(o, "capture");
    tt_control_json_str(c, "interface", tt_live_iface(k->live));
    tt_control_json_str(c, "linktype", tt_live_linktype_name(k->live));
    tt_control_json_u64(c, "packets", tt_live_packets(k->live));
    tt_control_json_u64(c, "kernel_drops", tt_live_drops(k->live));
    tt_control_json_u64(c, "cut_by_snaplen", k->cut);
    if (k->o.bpf && *k->o.bpf)
        tt_control_json_str(c, "bpf", k->o.bpf);
}

static void print_summary(const capture *k, cli_live_sink *sink, const tt_tap_stats *st, FILE *out)
{
    fprintf(out,
            "capture: %s: %" PRIu64 " packets captured, %" PRIu64
            " dropped by the kernel; copies: %" PRIu64 " analysed, %" PRIu64
            " dropped (ring full), %" PRIu64 " too big for the ring\n",
            tt_live_iface(k->live), tt_live_packets(k->live), tt_live_drops(k->live), st->analysed,
            st->dropped_full, st->dropped_oversize);
    if (k->cut)
        fprintf(out,
                "note: %" PRIu64 " packets were longer than --snaplen %d and were analysed "
                "cut short\n",
                k->cut, k->o.snaplen ? k->o.snaplen : TT_LIVE_SNAPLEN_DEFAULT);
    cli_summary_source src = {
        .command = "tunneltap capture",
        .name = tt_live_iface(k->live),
        .linktype = tt_live_linktype_name(k->live),
        .records = tt_live_packets(k->live),
        .matched = tt_live_packets(k->live),
        .bpf = k->o.bpf && *k->o.bpf ? k->o.bpf : NULL,
        .stopped = k->fatal[0] ? k->fatal : NULL,
    };
    cli_summary_print(&sink->sum, &src, &st->analyzer, out);
}

/* ---- the subcommand ---------------------------------------------------- */

int cli_capture_main(int argc, char **argv)
{
    capture *k = calloc(1, sizeof *k);
    if (!k) {
        fprintf(stderr, "tunneltap: " CMD ": out of memory\n");
        return CLI_LIVE_EXIT_RUNTIME;
    }
    cli_live_outputs out = {.cmd = CMD};
    int status = parse_options(argc, argv, &k->o, &out);
    if (status >= 0) {
        free(k);
        return status;
    }
    cli_live_sink sink;
    cli_live_sink_init(&sink, out.sorted && (out.conn_path || out.json_path));
    char err[TT_ERRBUF_SIZE] = "";
    sigset_t wait_mask;
    status = CLI_LIVE_EXIT_SETUP;

    if (cli_live_signals(&wait_mask) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": cannot set up signals: %s\n", strerror(errno));
        goto out;
    }
    if (!k->o.live.no_control &&
        cli_live_control_path(CMD, k->o.live.control, k->ctl_path, sizeof k->ctl_path) < 0)
        goto out;
    int rc = tt_live_open(&k->live, k->o.iface, k->o.snaplen, k->o.buffer, k->o.bpf, err);
    if (rc < 0) {
        fprintf(stderr, "tunneltap: " CMD ": %s\n", err);
        goto out;
    }
    if (tt_live_warning(k->live))
        fprintf(stderr, "tunneltap: " CMD ": warning: %s\n", tt_live_warning(k->live));
    k->linktype = tt_live_linktype(k->live);
    if (cli_live_outputs_open(&out) < 0)
        goto out;

    if (k->o.live.dashboard) {
        cli_dashboard_opts dopt = {.title = "capture"};
        if (cli_dashboard_new(&k->dash, &dopt, err) < 0) {
            fprintf(stderr, "tunneltap: " CMD ": --dashboard: %s\n", err);
            status = CLI_LIVE_EXIT_SETUP;
            goto out;
        }
    }
    tt_tap_config cfg;
    cli_live_tap_config(&cfg, CMD, &k->o.live, &sink, &out, k->dash);
    cfg.max_producers = 1;
    if ((rc = tt_tap_open(&k->tap, &cfg, err)) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": cannot start the analyzer: %s\n",
                err[0] ? err : tt_strerror(rc));
        goto out;
    }
    if (cli_live_marks_place(CMD, k->tap, &k->o.live.marks) < 0)
        goto out;
    if ((rc = tt_tap_producer_open(k->tap, &k->prod)) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": cannot open a copy ring: %s\n", tt_strerror(rc));
        goto out;
    }
    if (!k->o.live.no_control) {
        if (cli_live_control_open(CMD, k->ctl_path, k->tap, status_extra, k, &k->ctl) < 0)
            goto out;
        fprintf(stderr, "tunneltap: " CMD ": control socket %s\n", k->ctl_path);
    }
    fprintf(stderr, "tunneltap: " CMD ": listening on %s (%s)%s%s%s\n", k->o.iface,
            tt_live_linktype_name(k->live), k->o.bpf ? ", filter '" : "", k->o.bpf ? k->o.bpf : "",
            k->o.bpf ? "'" : "");
    fflush(stderr);
    if (k->dash && cli_dashboard_attach(k->dash, k->tap, err) < 0) {
        fprintf(stderr, "tunneltap: " CMD ": --dashboard: %s\n", err);
        status = CLI_LIVE_EXIT_SETUP;
        goto out;
    }

    status = run_loop(k, &out, &wait_mask);
    cli_dashboard_close(k->dash); /* the terminal is restored before anything is printed */
    if (k->fatal[0])
        fprintf(stderr, "tunneltap: " CMD ": %s: stopping\n", k->fatal);
    tt_control_close(k->ctl);
    k->ctl = NULL;

    tt_tap_finish(k->tap);
    tt_tap_stats st;
    tt_tap_get_stats(k->tap, &st);
    if (cli_live_outputs_finish(&out, &sink) < 0)
        status = CLI_LIVE_EXIT_RUNTIME;
    if (!k->o.live.quiet) {
        FILE *s = cli_live_summary_stream(&out);
        print_summary(k, &sink, &st, s);
        cli_live_print_alerts(k->tap, s);
        fflush(s);
    }
    if (status == CLI_LIVE_EXIT_OK && k->o.live.fail_on_regression &&
        cli_live_regressions(&out) > 0)
        status = CLI_LIVE_EXIT_REGRESSION;

out:
    tt_control_close(k->ctl);
    cli_dashboard_close(k->dash);
    if (k->tap)
        tt_tap_close(k->tap); /* first: its thread may still raise an alert */
    cli_dashboard_free(k->dash);
    cli_live_outputs_abort(&out);
    tt_live_close(k->live);
    cli_live_sink_free(&sink);
    free(k);
    return status;
}
