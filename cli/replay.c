/* replay.c - `tunneltap replay`: analyse a capture file, write logs, say what failed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/judgment.h"
#include "capture/pcapfile.h"
#include "cli/alerts.h"
#include "cli/cli.h"
#include "cli/evidence.h"
#include "cli/live.h"
#include "cli/report.h"
#include "cli/dashboard.h"
#include "tunneltap/tunneltap.h"

/* Files below this size replay too fast for a progress bar to help. */
#define PROGRESS_MIN_BYTES (20u * 1000u * 1000u)

/* A command-line replay is not bound by the embedded 16 MiB budget: a
 * table of 2^18 flows (64 MiB) keeps eviction for real floods only. */
#define REPLAY_MAX_FLOWS 262144u
#define REPLAY_MAX_DPI_FLOWS 8192u
/* Records queued for this thread (brief ones for the summary, 48 B each;
 * conn records when logs, evidence or a report keep them, 312 B), and how
 * many packets the reader submits between counting them. The queue holds
 * what the analysis makes while the reader sleeps for room in its ring:
 * until 256 KiB are free (ring.c's WAKE_ROOM_MAX; half a smaller ring),
 * 16 B + the packet each, 2 700 Ethernet SYNs,
 * 3 300 raw ones, 6 500 at most (a bare IPv4 header). With 4 096 brief
 * records the raw-IP SYN scan found it full 24-72 times a run (6 runs),
 * with 8 192 once or twice. */
#define REPLAY_HANDOFF 8192u
#define REPLAY_POLL 64u

enum { EXIT_ANALYSED = 0, EXIT_RUNTIME = 1, EXIT_INPUT = 2, EXIT_REGRESSION = 3 };

#define MAX_MARKS 64

typedef struct replay_opts {
    const char *file;
    const char *conn_log, *json, *bpf;
    bool stream_logs;   /* --stream-logs: the logs written as connections finish */
    size_t sort_buffer; /* --sort-buffer: bytes of records before they are spilled */
    bool verify_checksums, no_dpi, dpi_first_name, quiet;
    int progress;            /* -1 never, 0 auto, 1 on any size */
    size_t max_flows;        /* 0: default */
    uint32_t udp_ms, syn_ms; /* 0: default */
    cli_mark_spec marks[MAX_MARKS];
    unsigned nmarks;
    const char *alerts;
    const char *evidence, *report;
    bool fail_on_regression;
    bool dashboard; /* --dashboard: the live terminal dashboard (cli/dashboard.h) */
    double speed;   /* --speed: capture seconds per second; 0: as fast as possible */
} replay_opts;

/* Takes every finished connection, on whichever thread counts the handoff
 * queue (one at a time, under its lock). */
typedef struct replay_sink {
    cli_summary *sum;
    cli_connbuf *buf;  /* kept for the sorted logs, evidence and report; or NULL */
    cli_logstream *ls; /* --stream-logs; or NULL */
    bool oom;          /* a record could not be kept */
} replay_sink;

static void on_record(void *ctx, const tt_conn *c)
{
    replay_sink *k = ctx;
    cli_summary_add(k->sum, c);
    if (k->buf && !k->oom && cli_connbuf_add(k->buf, c) < 0)
        k->oom = true;
    if (k->ls)
        cli_logstream_add(k->ls, c);
}

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= TT_LOG_WARN)
        fprintf(stderr, "tunneltap: replay: %s: %s\n", level == TT_LOG_ERROR ? "error" : "warning",
                msg);
}

/* ---- usage ------------------------------------------------------------- */

static void print_seconds(FILE *out, uint32_t ms)
{
    if (ms % 1000 == 0)
        fprintf(out, "%" PRIu32 " s", ms / 1000);
    else
        fprintf(out, "%" PRIu32 ".%03" PRIu32 " s", ms / 1000, ms % 1000);
}

void cli_replay_usage(FILE *out)
{
    tt_analyzer_config d;
    tt_analyzer_config_init(&d);
    fputs("usage: tunneltap replay FILE [options]\n"
          "\n"
          "Reads a pcap or pcapng capture (FILE '-' reads stdin), follows every\n"
          "connection and says which ones failed: a summary on stdout, and on request\n"
          "a Zeek-style conn.log and JSON lines.\n"
          "\n"
          "options:\n"
          "  --conn-log PATH     write a Zeek conn.log, sorted by ts ('-': stdout)\n"
          "  --json PATH         write one JSON object per connection ('-': stdout)\n"
          "  --stream-logs       write the logs as connections finish (Zeek's order),\n"
          "                      not sorted by ts at the end: memory stays flat\n"
          "  --sort-buffer SIZE  memory for the records the sorted logs wait for (k/M\n"
          "                      suffixes; default 64M): past it they go to a file in\n"
          "                      $TMPDIR (else /tmp) in sorted runs, merged at the end\n"
          "  --bpf EXPR          analyse only packets matching this tcpdump filter\n"
          "  --verify-checksums  ignore packets with bad checksums, as Zeek does without -C\n",
          out);
    fprintf(out, "  --max-flows N       flows tracked at once (default %u)\n", REPLAY_MAX_FLOWS);
    fputs("  --udp-deadline SEC  a UDP or DNS request unanswered after SEC fails (default ", out);
    print_seconds(out, d.udp_reply_deadline_ms);
    if (d.dns_reply_deadline_ms != d.udp_reply_deadline_ms) {
        fputs(", DNS ", out);
        print_seconds(out, d.dns_reply_deadline_ms);
    }
    fputs(")\n  --syn-deadline SEC  a SYN unanswered after SEC fails (default ", out);
    print_seconds(out, d.tcp_attempt_deadline_ms);
    fputs(")\n"
          "  --no-dpi            do not identify applications with nDPI\n"
          "  --dpi-first-name    keep nDPI's first name for a flow: less CPU, a name now and\n"
          "                      then less precise (docs/embedding.md)\n"
          "  --quiet             no summary (and with no log, report or evidence asked for,\n"
          "                      no conn records are built either)\n"
          "  --progress          progress bar on a terminal, whatever the file size\n"
          "  --no-progress       no progress bar (default: on a terminal, files over 20 MB)\n"
          "  --mark WHEN=LABEL   a marker (filter upgrade) at WHEN: epoch seconds (1764244985.5),\n"
          "                      ISO 8601 (2025-11-27T12:03:05Z) or +SECONDS from the first\n"
          "                      packet; repeatable\n"
          "  --alerts PATH       write regression alerts as JSON lines ('-': stdout)\n"
          "  --fail-on-regression  exit 3 when a regression alert fired\n"
          "  --evidence PATH     write a pcapng of the failed flows and the seconds around\n"
          "                      each marker, every packet commented with its verdict\n"
          "  --report PATH       write a self-contained HTML report with the timeline\n"
          "  --dashboard         live dashboard in the terminal while replaying; at the end\n"
          "                      it stays until 'q' (q earlier stops reading; keys: ?)\n"
          "  --speed N|max       replay N seconds of capture per second (default: max)\n"
          "  -h, --help          this help\n"
          "\n"
          "exit status: 0 analysed (whatever the verdict); 1 out of memory or an output\n"
          "could not be written; 2 usage or input error, or a capture damaged mid-way\n"
          "(everything read before the damage is still reported); 3 with\n"
          "--fail-on-regression when a regression alert fired.\n",
          out);
}

/* ---- options ----------------------------------------------------------- */

static bool parse_count(const char *s, size_t *n)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v == 0 || v > 1000000000ull)
        return false;
    *n = (size_t)v;
    return true;
}

enum {
    OPT_CONN_LOG = 256,
    OPT_JSON,
    OPT_STREAM_LOGS,
    OPT_SORT_BUFFER,
    OPT_BPF,
    OPT_NO_CHECKSUMS,
    OPT_MAX_FLOWS,
    OPT_UDP_DEADLINE,
    OPT_SYN_DEADLINE,
    OPT_NO_DPI,
    OPT_DPI_FIRST_NAME,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_MARK,
    OPT_ALERTS,
    OPT_FAIL_ON_REGRESSION,
    OPT_EVIDENCE,
    OPT_REPORT,
    OPT_DASHBOARD,
    OPT_SPEED,
};

static const struct option long_options[] = {
    {"conn-log", required_argument, NULL, OPT_CONN_LOG},
    {"json", required_argument, NULL, OPT_JSON},
    {"stream-logs", no_argument, NULL, OPT_STREAM_LOGS},
    {"sort-buffer", required_argument, NULL, OPT_SORT_BUFFER},
    {"bpf", required_argument, NULL, OPT_BPF},
    {"verify-checksums", no_argument, NULL, OPT_NO_CHECKSUMS},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"udp-deadline", required_argument, NULL, OPT_UDP_DEADLINE},
    {"syn-deadline", required_argument, NULL, OPT_SYN_DEADLINE},
    {"no-dpi", no_argument, NULL, OPT_NO_DPI},
    {"dpi-first-name", no_argument, NULL, OPT_DPI_FIRST_NAME},
    {"quiet", no_argument, NULL, 'q'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"mark", required_argument, NULL, OPT_MARK},
    {"alerts", required_argument, NULL, OPT_ALERTS},
    {"fail-on-regression", no_argument, NULL, OPT_FAIL_ON_REGRESSION},
    {"evidence", required_argument, NULL, OPT_EVIDENCE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"dashboard", no_argument, NULL, OPT_DASHBOARD},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status (help, usage error). */
static int parse_options(int argc, char **argv, replay_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sort_buffer = CLI_SORT_BUFFER_DEFAULT;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":hq", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_CONN_LOG:
            o->conn_log = optarg;
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_STREAM_LOGS:
            o->stream_logs = true;
            break;
        case OPT_SORT_BUFFER:
            if (!cli_live_parse_bytes(optarg, &o->sort_buffer) || o->sort_buffer < 16384)
                return cli_usage_error(
                    "replay", "--sort-buffer wants a size from 16k to 2048M (e.g. 256M), not '%s'",
                    optarg);
            break;
        case OPT_BPF:
            o->bpf = optarg;
            break;
        case OPT_NO_CHECKSUMS:
            o->verify_checksums = true;
            break;
        case OPT_MAX_FLOWS:
            if (!parse_count(optarg, &o->max_flows))
                return cli_usage_error("replay",
                                       "--max-flows wants a whole number from 1 to 1000000000, not "
                                       "'%s'",
                                       optarg);
            break;
        case OPT_UDP_DEADLINE:
            if (!cli_parse_ms(optarg, &o->udp_ms))
                return cli_usage_error(
                    "replay", "--udp-deadline wants seconds above 0 (e.g. 2.5), not '%s'", optarg);
            break;
        case OPT_SYN_DEADLINE:
            if (!cli_parse_ms(optarg, &o->syn_ms))
                return cli_usage_error(
                    "replay", "--syn-deadline wants seconds above 0 (e.g. 3), not '%s'", optarg);
            break;
        case OPT_DPI_FIRST_NAME:
            o->dpi_first_name = true;
            break;
        case OPT_NO_DPI:
            o->no_dpi = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case OPT_PROGRESS:
            o->progress = 1;
            break;
        case OPT_NO_PROGRESS:
            o->progress = -1;
            break;
        case OPT_MARK: {
            char merr[256];
            if (o->nmarks >= MAX_MARKS)
                return cli_usage_error("replay", "at most %d --mark options", MAX_MARKS);
            if (cli_mark_parse(optarg, &o->marks[o->nmarks], merr) < 0)
                return cli_usage_error("replay", "%s", merr);
            o->nmarks++;
            break;
        }
        case OPT_ALERTS:
            o->alerts = optarg;
            break;
        case OPT_FAIL_ON_REGRESSION:
            o->fail_on_regression = true;
            break;
        case OPT_EVIDENCE:
            o->evidence = optarg;
            break;
        case OPT_REPORT:
            o->report = optarg;
            break;
        case OPT_DASHBOARD:
            o->dashboard = true;
            o->progress = -1; /* the dashboard shows the progress */
            break;
        case OPT_SPEED:
            if (!cli_pace_parse(optarg, &o->speed))
                return cli_usage_error(
                    "replay",
                    "--speed wants a factor above 0 (e.g. 10, 0.5) or 'max', not "
                    "'%s'",
                    optarg);
            break;
        case 'h':
            cli_replay_usage(stdout);
            return EXIT_ANALYSED;
        case ':':
            return cli_usage_error("replay", "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt && optopt < 256)
                return cli_usage_error("replay", "unknown option '-%c'", optopt);
            return cli_usage_error("replay", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("replay", "no capture file given (FILE, or '-' for stdin)");
    o->file = argv[optind++];
    if (optind < argc)
        return cli_usage_error("replay", "unexpected argument '%s' (one capture file at a time)",
                               argv[optind]);
    if (o->no_dpi && o->dpi_first_name)
        return cli_usage_error("replay", "--no-dpi and --dpi-first-name contradict each other");
    if (o->conn_log && o->json && strcmp(o->conn_log, "-") == 0 && strcmp(o->json, "-") == 0)
        return cli_usage_error("replay", "--conn-log and --json cannot both write to stdout");
    if (o->conn_log && o->json && strcmp(o->conn_log, "-") != 0 &&
        strcmp(o->conn_log, o->json) == 0)
        return cli_usage_error("replay", "--conn-log and --json name the same file '%s'", o->json);
    if (o->dashboard &&
        ((o->conn_log && strcmp(o->conn_log, "-") == 0) || (o->json && strcmp(o->json, "-") == 0) ||
         (o->alerts && strcmp(o->alerts, "-") == 0)))
        return cli_usage_error("replay",
                               "--dashboard draws on stdout: write --conn-log, --json and --alerts "
                               "to files");
    return -1;
}

/* ---- progress bar ------------------------------------------------------ */

typedef struct progress {
    bool on;
    double t0, next; /* monotonic seconds */
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_start(progress *pg, const replay_opts *o, const tt_pcapfile *f)
{
    uint64_t done, size;
    tt_pcapfile_progress(f, &done, &size);
    pg->on = o->progress >= 0 && isatty(STDERR_FILENO) &&
             (o->progress == 1 || size > PROGRESS_MIN_BYTES);
    pg->t0 = now_s();
    pg->next = pg->t0 + 0.2;
}

static void progress_tick(progress *pg, const tt_pcapfile *f, uint64_t packets)
{
    double t = now_s();
    if (t < pg->next)
        return;
    pg->next = t + 0.2;
    uint64_t done, size;
    tt_pcapfile_progress(f, &done, &size);
    double rate = (double)packets / (t - pg->t0 > 1e-3 ? t - pg->t0 : 1e-3);
    char speed[32];
    if (rate >= 1e6)
        snprintf(speed, sizeof speed, "%.2f Mpkt/s", rate / 1e6);
    else
        snprintf(speed, sizeof speed, "%.0f kpkt/s", rate / 1e3);
    if (size) {
        unsigned pct = done >= size ? 100 : (unsigned)(done * 100 / size);
        char bar[31];
        memset(bar, '-', 30);
        memset(bar, '#', pct * 30 / 100);
        bar[30] = '\0';
        fprintf(stderr, "\r  [%s] %3u%%  %.1f/%.1f MB  %s ", bar, pct, (double)done / 1e6,
                (double)size / 1e6, speed);
    } else {
        /* a pipe: no size, and no position either */
        fprintf(stderr, "\r  %" PRIu64 " packets  %s ", packets, speed);
    }
    fflush(stderr);
}

static void progress_end(progress *pg)
{
    if (pg->on)
        fputs("\r\033[K", stderr);
    pg->on = false;
}

/* ---- outputs ----------------------------------------------------------- */

/* ---- the subcommand ---------------------------------------------------- */

/* The reading loop's state, for feed_packet. */
typedef struct feed_ctx {
    const replay_opts *o;
    tt_pcapfile *f;
    tt_tap *tap;
    tt_producer *prod;
    cli_dashboard *dash;
    cli_handoff *handoff;
    cli_pace *pace;
    progress *pg;
    int linktype;
    bool marks_placed, user_quit, stop;
    uint64_t fed;
    char *stopped; /* why reading stopped early, for the summary */
    size_t stopped_len;
} feed_ctx;

/* One packet of the capture into the tap (tt_pcapfile_fn). Nonzero stops
 * the reading: the user quit, or the tap refused the copy. */
static int feed_packet(void *ctx, const tt_pcapfile_pkt *pkt)
{
    feed_ctx *c = ctx;
    const replay_opts *o = c->o;
    if (!c->marks_placed) {
        /* +SECONDS markers count from the first packet */
        for (unsigned i = 0; i < o->nmarks; i++)
            if (o->marks[i].relative)
                tt_tap_mark(c->tap, o->marks[i].label, pkt->ts_us + o->marks[i].ts_us);
        c->marks_placed = true;
    }
    if ((o->speed > 0 || c->dash) && cli_pace_wait(c->pace, pkt->ts_us, c->dash) == CLI_DASH_QUIT) {
        c->user_quit = c->stop = true; /* 'q' or ^C: stop reading, report what was read */
        return 1;
    }
    int rc = tt_tap_submit_capture(c->prod, pkt->data, pkt->caplen, pkt->len, c->linktype,
                                   TT_DIR_UNKNOWN, pkt->ts_us ? pkt->ts_us : 1);
    if (rc < 0) {
        snprintf(c->stopped, c->stopped_len, "%s: packet %" PRIu64 ": %s", tt_pcapfile_name(c->f),
                 pkt->number, tt_strerror(rc));
        c->stop = true;
        return 1;
    }
    c->fed++;
    if (c->handoff && (c->fed & (REPLAY_POLL - 1)) == 0)
        cli_handoff_poll(c->handoff);
    if (c->pg->on && (c->fed & 1023) == 0)
        progress_tick(c->pg, c->f, c->fed);
    return 0;
}

int cli_replay_main(int argc, char **argv)
{
    replay_opts o;
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;

    char err[TT_ERRBUF_SIZE] = "";
    /* The dashboard's aggregator exists before the tap: its judge hook goes
     * into the analyzer's config. Without a terminal it refuses here. */
    cli_dashboard *dash = NULL;
    bool user_quit = false;
    if (o.dashboard) {
        char title[160];
        if (o.speed > 0)
            snprintf(title, sizeof title, "replay %s, speed %gx", o.file, o.speed);
        else
            snprintf(title, sizeof title, "replay %s", o.file);
        cli_dashboard_opts dopt = {.title = title, .replay = true};
        if (cli_dashboard_new(&dash, &dopt, err) < 0) {
            fprintf(stderr, "tunneltap: replay: --dashboard: %s\n", err);
            return EXIT_INPUT;
        }
    }
    tt_pcapfile *f = NULL;
    int rc = tt_pcapfile_open(&f, o.file, o.bpf, err);
    if (rc < 0) {
        fprintf(stderr, "tunneltap: replay: %s\n", err);
        cli_dashboard_free(dash);
        return rc == TT_ENOMEM ? EXIT_RUNTIME : EXIT_INPUT;
    }

    FILE *conn = NULL, *json = NULL;
    tt_tap *tap = NULL;
    tt_producer *prod = NULL;
    cli_summary sum;
    cli_connbuf buf = {0};
    cli_summary_init(&sum);
    bool logs = o.conn_log || o.json;
    bool keep = o.conn_log || o.json || o.evidence || o.report; /* conn records */
    cli_logstream ls = {0};
    replay_sink sink = {
        .sum = &sum,
        .buf = (logs && !o.stream_logs) || o.evidence || o.report ? &buf : NULL,
        .ls = logs && o.stream_logs ? &ls : NULL,
    };
    /* Evidence and the report read the records by index: all in memory. */
    if (logs && !o.stream_logs && !o.evidence && !o.report)
        /* Written in place: a replay's analysis may wait for a run (its
         * ring is lossless), and both cores are busy already — in the
         * background, runs half as long and a third thread made the SYN
         * scan's logs 12 % slower (bench/logs.sh, 7 rounds). */
        cli_connbuf_spill(&buf, o.sort_buffer, false);
    cli_handoff *handoff = NULL;
    char stopped[TT_ERRBUF_SIZE] = "";
    time_t opened = time(NULL);
    status = EXIT_ANALYSED;

    if (o.conn_log && !(conn = cli_output_open(o.conn_log))) {
        fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.conn_log, strerror(errno));
        status = EXIT_INPUT;
        goto out;
    }
    if (o.json && !(json = cli_output_open(o.json))) {
        fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.json, strerror(errno));
        status = EXIT_INPUT;
        goto out;
    }

    /* Replay runs on the same path as the live hosts: a lossless tap whose
     * own thread analyses while this one reads the file. */
    tt_tap_config tcfg;
    tt_tap_config_init(&tcfg);
    tcfg.lossless = true;
    tcfg.own_thread = true;
    tcfg.live_clock = false;
    tcfg.max_producers = 1;
    /* The ring between the reader and the analysis: the default 512 KiB.
     * From the eleventh to the thirteenth round replay's was 2 MiB, a lead
     * that covered the reader's stalls in each 1 MiB read() of the file
     * (~150 us): at 512 KiB the analysis ran dry 130-165 times a run on the
     * long flows and long-eth took 113 instead of 87 ms. A regular file is
     * now read through its mapping (capture/pcapfile.c), with no such
     * stalls, and 512 KiB, 1 MiB and 2 MiB give the same times (long-raw
     * 90.1 / 91.2 / 89.8 ms, 15 alternating runs; long-eth, synscan-eth,
     * mixed-eth level too) and the same CPU, for 1.5 MiB less resident
     * memory: docs/PERFORMANCE-history.md, thirteenth round. Through a pipe
     * (replay -) replay is pipe-bound at every size. */
    tcfg.memory_budget = 0; /* a command-line replay is bounded by max_flows, not 16 MiB */
    tt_analyzer_config cfg = tcfg.analyzer;
    cfg.verify_checksums = o.verify_checksums;
    cfg.enable_dpi = !o.no_dpi;
    cfg.dpi_first_name = o.dpi_first_name;
    cfg.max_flows = REPLAY_MAX_FLOWS;
    cfg.max_dpi_flows = REPLAY_MAX_DPI_FLOWS;
    /* A replay's table is sized for the worst capture; untouched, its pages
     * cost nothing, so resident memory follows the flows actually seen. */
    cfg.prefault = false;
    if (o.max_flows) {
        cfg.max_flows = o.max_flows;
        if (cfg.max_dpi_flows > cfg.max_flows)
            cfg.max_dpi_flows = cfg.max_flows;
    }
    if (o.udp_ms)
        cfg.udp_reply_deadline_ms = cfg.dns_reply_deadline_ms = o.udp_ms;
    if (o.syn_ms)
        cfg.tcp_attempt_deadline_ms = o.syn_ms;
    /* Conn records feed the summary (printed unless -q) and the logs,
     * evidence and report: with -q and none of those nobody reads them, and
     * the analyzer builds none (a fifth of a SYN scan's analysis). When only
     * the summary reads them it takes the analyzer's brief record (no uid,
     * names, sizes or history: on a SYN scan building whole records was a
     * fifth of replay's wall time, 0.31 against 0.25 s). Either kind is
     * counted (and conn records kept) on this thread, which reads ahead and
     * waits for the analysis anyway (cli/handoff.c). */
    bool brief = !o.quiet && !keep;
    if (sink.ls)
        rc = cli_logstream_open(&ls, conn, json, opened);
    if (rc == 0 && keep)
        rc = cli_handoff_new_conns(&handoff, REPLAY_HANDOFF, on_record, &sink);
    else if (rc == 0 && brief)
        rc = cli_handoff_new(&handoff, &sum, REPLAY_HANDOFF);
    if (rc < 0) {
        fprintf(stderr, "tunneltap: replay: out of memory\n");
        status = EXIT_RUNTIME;
        goto out;
    }
    cfg.on_conn = keep ? cli_handoff_push_conn : NULL;
    cfg.conn_ctx = handoff;
    cfg.log = on_log;
    cfg.on_judge = dash ? cli_dashboard_on_judge : NULL;
    cfg.judge_ctx = dash;
    err[0] = '\0';
    tcfg.analyzer = cfg;
    rc = tt_tap_open(&tap, &tcfg, err);
    if (rc == 0 && brief)
        rc = tt__tap_set_brief_hook(tap, cli_handoff_push, handoff);
    if (rc == 0)
        rc = tt_tap_producer_open(tap, &prod);
    if (rc < 0) {
        fprintf(stderr, "tunneltap: replay: cannot start the analyzer: %s\n",
                err[0] ? err : tt_strerror(rc));
        status = rc == TT_EINVAL ? EXIT_INPUT : EXIT_RUNTIME;
        goto out;
    }

    for (unsigned i = 0; i < o.nmarks; i++)
        if (!o.marks[i].relative)
            tt_tap_mark(tap, o.marks[i].label, o.marks[i].ts_us ? o.marks[i].ts_us : 1);
    if (dash && cli_dashboard_attach(dash, tap, err) < 0) {
        fprintf(stderr, "tunneltap: replay: --dashboard: %s\n", err);
        status = EXIT_INPUT;
        goto out;
    }
    cli_pace pace;
    cli_pace_init(&pace, o.speed);

    progress pg;
    progress_start(&pg, &o, f);
    feed_ctx fc = {.o = &o,
                   .f = f,
                   .tap = tap,
                   .prod = prod,
                   .dash = dash,
                   .handoff = handoff,
                   .pace = &pace,
                   .pg = &pg,
                   .linktype = tt_pcapfile_linktype(f),
                   .stopped = stopped,
                   .stopped_len = sizeof stopped};
    while ((rc = tt_pcapfile_each(f, REPLAY_POLL, feed_packet, &fc, err)) == 1 && !fc.stop)
        ;
    user_quit = fc.user_quit;
    progress_end(&pg);
    if (rc < 0 && !stopped[0] && !user_quit)
        snprintf(stopped, sizeof stopped, "%s", err);

    tt_tap_finish(tap);
    if (handoff)
        cli_handoff_drain(handoff); /* the records of flows that finish made */
    if (dash && !user_quit) {
        char line[TT_ERRBUF_SIZE + 96];
        snprintf(line, sizeof line, "%s: %" PRIu64 " packets%s%s; q quits and prints the summary",
                 stopped[0] ? "stopped" : "end of file", tt_pcapfile_records(f),
                 stopped[0] ? ": " : "", stopped);
        cli_dashboard_hold(dash, line);
    }
    cli_dashboard_close(dash); /* the terminal is the summary's again */
    tt_tap_stats tst;
    tt_tap_get_stats(tap, &tst);
    tt_analyzer_stats st = tst.analyzer;

    if (sink.oom) {
        fprintf(stderr,
                "tunneltap: replay: out of memory keeping %zu connection records for "
                "the logs\n",
                cli_connbuf_count(&buf));
        status = EXIT_RUNTIME;
        goto out;
    }
    if (cli_logs_finish("replay", sink.ls, &buf, conn, json, opened) < 0)
        status = EXIT_RUNTIME;
    int e;
    if ((e = cli_output_close(conn)) != 0) {
        fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.conn_log, strerror(e));
        status = EXIT_RUNTIME;
    }
    if ((e = cli_output_close(json)) != 0) {
        fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.json, strerror(e));
        status = EXIT_RUNTIME;
    }
    conn = json = NULL;

    if (!o.quiet) {
        bool logs_on_stdout =
            (o.conn_log && strcmp(o.conn_log, "-") == 0) || (o.json && strcmp(o.json, "-") == 0);
        cli_summary_source src = {
            .command = "tunneltap replay",
            .name = tt_pcapfile_name(f),
            .linktype = tt_pcapfile_linktype_name(f),
            .records = tt_pcapfile_records(f),
            .matched = tt_pcapfile_matched(f),
            .bpf = o.bpf && *o.bpf ? o.bpf : NULL,
            .stopped = stopped[0]  ? stopped
                       : user_quit ? "reading stopped by the user (dashboard 'q' or ^C)"
                                   : NULL,
        };
        FILE *out = logs_on_stdout ? stderr : stdout;
        cli_summary_print(&sum, &src, &st, out);
        cli_flush(out);
    }
    static tt_alert alerts[128];
    unsigned nalerts = tt_tap_alerts(tap, alerts, 128);
    if (nalerts > 128)
        nalerts = 128;
    unsigned regressions = 0;
    for (unsigned i = 0; i < nalerts; i++)
        regressions += !alerts[i].recovery;
    if (!o.quiet) {
        bool logs_on_stdout = (o.conn_log && strcmp(o.conn_log, "-") == 0) ||
                              (o.json && strcmp(o.json, "-") == 0) ||
                              (o.alerts && strcmp(o.alerts, "-") == 0);
        FILE *out = logs_on_stdout ? stderr : stdout;
        cli_print_outcome(out, tap, alerts, nalerts);
        cli_flush(out);
    }
    if (o.evidence || o.report) {
        static tt_marker mk[64];
        unsigned nmk = tt_tap_markers(tap, mk, 64);
        if (nmk > 64)
            nmk = 64;
        char eerr[TT_ERRBUF_SIZE] = "";
        if (o.evidence) {
            cli_evidence_input ei = {
                .capture_path = o.file,
                .bpf = o.bpf && *o.bpf ? o.bpf : NULL,
                .records = &buf,
                .markers = mk,
                .nmarkers = nmk,
                .alerts = alerts,
                .nalerts = nalerts,
                .around_marker_s = CLI_EVIDENCE_AROUND_MARKER_S,
            };
            uint64_t written = 0;
            if (cli_evidence_write(o.evidence, &ei, &written, eerr) < 0) {
                fprintf(stderr, "tunneltap: replay: evidence: %s\n", eerr);
                status = EXIT_RUNTIME;
            } else if (!o.quiet) {
                fprintf(stderr, "evidence: %" PRIu64 " packets written to %s\n", written,
                        o.evidence);
            }
        }
        if (o.report) {
            unsigned nb = tt_tap_timeline(tap, NULL, 0);
            tt_timeline_bucket *tl = nb ? calloc(nb, sizeof(*tl)) : NULL;
            if (tl)
                nb = tt_tap_timeline(tap, tl, nb);
            else
                nb = 0;
            char judgement[512];
            cli_summary_judge(&sum, judgement, sizeof(judgement));
            cli_report_input ri = {
                .title = o.file,
                .summary = &sum,
                .records = &buf,
                .timeline = tl,
                .nbuckets = nb,
                .markers = mk,
                .nmarkers = nmk,
                .alerts = alerts,
                .nalerts = nalerts,
                .judgement = judgement,
            };
            if (cli_report_write(o.report, &ri, eerr) < 0) {
                fprintf(stderr, "tunneltap: replay: report: %s\n", eerr);
                status = EXIT_RUNTIME;
            } else if (!o.quiet) {
                fprintf(stderr, "report: written to %s\n", o.report);
            }
            free(tl);
        }
    }
    if (o.alerts) {
        FILE *af = cli_output_open(o.alerts);
        if (!af) {
            fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.alerts,
                    strerror(errno));
            status = EXIT_RUNTIME;
        } else {
            for (unsigned i = 0; i < nalerts; i++)
                if (cli_alert_write_json(af, &alerts[i]) < 0)
                    status = EXIT_RUNTIME;
            int e2 = cli_output_close(af);
            if (e2) {
                fprintf(stderr, "tunneltap: replay: cannot write '%s': %s\n", o.alerts,
                        strerror(e2));
                status = EXIT_RUNTIME;
            }
        }
    }
    if (stopped[0]) {
        fprintf(stderr,
                "tunneltap: replay: %s\ntunneltap: replay: the results cover the %" PRIu64
                " packet%s read before that point\n",
                stopped, tt_pcapfile_records(f), tt_pcapfile_records(f) == 1 ? "" : "s");
        status = EXIT_INPUT;
    }

    if (status == EXIT_ANALYSED && o.fail_on_regression && regressions > 0)
        status = EXIT_REGRESSION;

out:
    if (conn && conn != stdout)
        fclose(conn);
    if (json && json != stdout)
        fclose(json);
    cli_dashboard_close(dash);
#ifndef TT_FREE_AT_EXIT
    /* Every output is written and closed, and the analysis thread is idle
     * (finished): the process ends here. Freeing what is left — nDPI's
     * tables above all, ~22 M instructions, 5-7 ms, on every replay — would
     * only give the kernel back what exit returns at once. Sanitizer builds
     * free it (TT_FREE_AT_EXIT), so their checks still cover the teardown. */
    if (tap)
        exit(cli_stdout_status("replay", status));
#endif
    tt_tap_close(tap);
    cli_dashboard_free(dash);
    tt_pcapfile_close(f);
    cli_handoff_free(handoff);
    cli_jsonw_free(ls.jw); /* on the paths that did not close the stream */
    cli_connbuf_free(&buf);
    cli_summary_free(&sum);
    return status;
}
