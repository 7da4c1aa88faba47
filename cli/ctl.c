/* ctl.c - `tunneltap mark|status`, and the plumbing the live hosts share. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/live.h"

#define REQUEST_TIMEOUT_MS 5000

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* ---- signals and clocks ------------------------------------------------ */

volatile sig_atomic_t cli_live_stop_signal = 0;

static void on_stop_signal(int sig)
{
    cli_live_stop_signal = sig; /* async-signal-safe: a flag, nothing more */
}

int cli_live_signals(sigset_t *wait_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    int rc = pthread_sigmask(SIG_BLOCK, &block, wait_mask);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    sigdelset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGTERM);
    return 0;
}

uint64_t cli_live_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t cli_live_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- control path, sink, outputs ---------------------------------------- */

int cli_live_control_path(const char *cmd, const char *opt, char *buf, size_t len)
{
    if (opt) {
        int n = snprintf(buf, len, "%s", opt);
        if (n <= 0 || (size_t)n >= len ||
            (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            fprintf(stderr,
                    "tunneltap: %s: --control path '%s' is empty or too long (at most %zu "
                    "bytes)\n",
                    cmd, opt, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -1;
        }
        return 0;
    }
    if (tt_control_default_path(buf, len) < 0) {
        fprintf(stderr,
                "tunneltap: %s: the default control socket path is too long: use --control "
                "PATH\n",
                cmd);
        return -1;
    }
    return 0;
}

void cli_live_sink_init(cli_live_sink *k, bool keep)
{
    memset(k, 0, sizeof *k);
    cli_summary_init(&k->sum);
    k->keep = keep;
    /* --sorted-logs: a long run's records go to a file past 64 MiB, each run
     * written by a thread of its own: the records come from the analysis
     * thread, which must not stop to sort and write 32 MiB while copies
     * keep coming into a lossy ring. */
    if (keep)
        cli_connbuf_spill(&k->buf, CLI_SORT_BUFFER_DEFAULT, true);
}

void cli_live_sink_free(cli_live_sink *k)
{
    cli_summary_free(&k->sum);
    cli_connbuf_free(&k->buf);
}

void cli_live_on_conn(void *ctx, const tt_conn *c)
{
    cli_live_sink *k = ctx;
    cli_summary_add(&k->sum, c);
    if (k->ls)
        cli_logstream_add(k->ls, c);
    else if (k->keep && !k->oom && cli_connbuf_add(&k->buf, c) < 0)
        k->oom = true;
}

void cli_live_on_log(void *ctx, int level, const char *msg)
{
    if (level <= TT_LOG_WARN)
        fprintf(stderr, "tunneltap: %s: %s: %s\n", (const char *)ctx,
                level == TT_LOG_ERROR ? "error" : "warning", msg);
}

/* Orders the --alerts lines (analysis thread, tt_tap_finish's caller) with
 * the close at exit. One host per process: one lock. */
static pthread_mutex_t alerts_lock = PTHREAD_MUTEX_INITIALIZER;

/* Two outputs naming the same file (stdout is checked while parsing). */
static bool same_file(const char *a, const char *b)
{
    return a && b && strcmp(a, "-") != 0 && strcmp(a, b) == 0;
}

int cli_live_outputs_open(cli_live_outputs *o)
{
    o->opened = time(NULL);
    const char *names[3] = {"--conn-log", "--json", "--alerts"};
    const char *paths[3] = {o->conn_path, o->json_path, o->alerts_path};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (same_file(paths[i], paths[j])) {
                fprintf(stderr, "tunneltap: %s: %s and %s name the same file '%s'\n", o->cmd,
                        names[i], names[j], paths[i]);
                return -1;
            }
    FILE **files[3] = {&o->conn, &o->json, &o->alerts};
    for (int i = 0; i < 3; i++) {
        if (paths[i] && !(*files[i] = cli_output_open(paths[i]))) {
            fprintf(stderr, "tunneltap: %s: cannot write '%s': %s\n", o->cmd, paths[i],
                    strerror(errno));
            cli_live_outputs_abort(o);
            return -1;
        }
    }
    if (!o->sorted && (o->conn || o->json)) {
        if (cli_logstream_open(&o->ls, o->conn, o->json, o->opened) < 0) {
            fprintf(stderr, "tunneltap: %s: out of memory\n", o->cmd);
            cli_live_outputs_abort(o);
            return -1;
        }
    }
    return 0;
}

void cli_live_outputs_tick(cli_live_outputs *o, uint64_t now_ms)
{
    if (o->sorted || now_ms < o->next_flush_ms)
        return;
    o->next_flush_ms = now_ms + 1000;
    /* The analysis thread writes the records (cli_live_on_conn) while this
     * thread flushes: stdio locks each stream for either call. */
    if (o->conn)
        fflush(o->conn);
    if (o->json)
        fflush(o->json);
}

const char *cli_live_outputs_clash(const cli_live_outputs *o)
{
    bool conn = o->conn_path && strcmp(o->conn_path, "-") == 0;
    bool json = o->json_path && strcmp(o->json_path, "-") == 0;
    bool alerts = o->alerts_path && strcmp(o->alerts_path, "-") == 0;
    if (conn && json)
        return "--conn-log and --json cannot both write to stdout";
    if (conn && alerts)
        return "--conn-log and --alerts cannot both write to stdout";
    if (json && alerts)
        return "--json and --alerts cannot both write to stdout";
    return NULL;
}

int cli_live_outputs_finish(cli_live_outputs *o, cli_live_sink *k)
{
    int rc = 0;
    if (k->oom && (o->conn || o->json)) {
        if (k->buf.lost)
            fprintf(stderr,
                    "tunneltap: %s: out of memory keeping connection records: the logs hold "
                    "%zu, with a gap of %zu (a run the spill file refused, %s, that memory "
                    "could not take back), and none after the last\n",
                    o->cmd, cli_connbuf_count(&k->buf), k->buf.lost, strerror(k->buf.spill_errno));
        else
            fprintf(stderr,
                    "tunneltap: %s: out of memory keeping connection records: the logs hold "
                    "the first %zu\n",
                    o->cmd, cli_connbuf_count(&k->buf));
        rc = -1;
    }
    cli_logstream *ls = k->ls;
    k->ls = NULL; /* tt_tap_finish has returned: no record comes any more */
    if (cli_logs_finish(o->cmd, ls, &k->buf, o->conn, o->json, o->opened) < 0)
        rc = -1;
    int e;
    if ((e = cli_output_close(o->conn)) != 0) {
        fprintf(stderr, "tunneltap: %s: cannot write '%s': %s\n", o->cmd, o->conn_path,
                strerror(e));
        rc = -1;
    }
    if ((e = cli_output_close(o->json)) != 0) {
        fprintf(stderr, "tunneltap: %s: cannot write '%s': %s\n", o->cmd, o->json_path,
                strerror(e));
        rc = -1;
    }
    o->conn = o->json = NULL;
    /* The alerts were written as they were raised; tt_tap_finish (before
     * this) raised the last ones. Closing under the lock: no line is cut. */
    pthread_mutex_lock(&alerts_lock);
    FILE *af = o->alerts;
    o->alerts = NULL;
    int werr = o->alerts_errno;
    pthread_mutex_unlock(&alerts_lock);
    if ((e = cli_output_close(af)) != 0 && !werr)
        werr = e;
    if (werr) {
        fprintf(stderr, "tunneltap: %s: cannot write '%s': %s\n", o->cmd, o->alerts_path,
                strerror(werr));
        rc = -1;
    }
    return rc;
}

void cli_live_outputs_abort(cli_live_outputs *o)
{
    cli_jsonw_free(o->ls.jw); /* what cli_live_outputs_finish did not close */
    o->ls.jw = NULL;
    if (o->conn && o->conn != stdout)
        fclose(o->conn);
    if (o->json && o->json != stdout)
        fclose(o->json);
    o->conn = o->json = NULL;
    pthread_mutex_lock(&alerts_lock);
    if (o->alerts && o->alerts != stdout)
        fclose(o->alerts);
    o->alerts = NULL;
    pthread_mutex_unlock(&alerts_lock);
}

FILE *cli_live_summary_stream(const cli_live_outputs *o)
{
    bool on_stdout = (o->conn_path && strcmp(o->conn_path, "-") == 0) ||
                     (o->json_path && strcmp(o->json_path, "-") == 0) ||
                     (o->alerts_path && strcmp(o->alerts_path, "-") == 0);
    return on_stdout ? stderr : stdout;
}

/* ---- regression alerts --------------------------------------------------- */

void cli_live_on_alert(void *ctx, const tt_alert *a)
{
    cli_live_outputs *o = ctx;
    pthread_mutex_lock(&alerts_lock);
    o->alerts_seen++;
    if (!a->recovery)
        o->regressions++;
    if (o->alerts && !o->alerts_errno) {
        errno = 0;
        int rc = cli_alert_write_json(o->alerts, a);
        if (rc == 0 && fflush(o->alerts) == 0 && !ferror(o->alerts)) {
            o->alerts_written++;
        } else {
            o->alerts_errno = rc == TT_ENOMEM ? ENOMEM : errno ? errno : EIO;
            /* Once: the host goes on, and exits 1 at the end. */
            fprintf(stderr, "tunneltap: %s: cannot write '%s': %s; no more alerts go there\n",
                    o->cmd, o->alerts_path, strerror(o->alerts_errno));
        }
    }
    if (!o->quiet)
        fprintf(stderr, "tunneltap: %s: %s %s: %s\n", o->cmd, a->recovery ? "recovery" : "ALERT",
                tt_alert_kind_name(a->kind), a->message);
    pthread_mutex_unlock(&alerts_lock);
}

uint64_t cli_live_regressions(cli_live_outputs *o)
{
    pthread_mutex_lock(&alerts_lock);
    uint64_t n = o->regressions;
    pthread_mutex_unlock(&alerts_lock);
    return n;
}

int cli_live_marks_add(cli_live_marks *m, const char *arg, char *err)
{
    if (m->n >= CLI_LIVE_MAX_MARKS) {
        snprintf(err, 256, "at most %d --mark options", CLI_LIVE_MAX_MARKS);
        return -1;
    }
    cli_mark_spec *s = &m->v[m->n];
    if (cli_mark_parse(arg, s, err) < 0) {
        if (strstr(err, "ISO 8601 or +SECONDS")) /* +SECONDS is no choice here */
            snprintf(err, 256,
                     "--mark '%.40s': WHEN must be epoch seconds (1764244985.5) or ISO 8601 "
                     "(2025-11-27T12:03:05Z)",
                     arg);
        return -1;
    }
    if (s->relative) {
        snprintf(err, 256,
                 "--mark '%.40s': +SECONDS counts from a capture's first packet (replay only); "
                 "give an absolute time (epoch seconds or ISO 8601), or mark while running "
                 "with 'tunneltap mark LABEL'",
                 arg);
        return -1;
    }
    const char *eq = strchr(arg, '=');
    char label[TT_MARK_LABEL_MAX];
    if (tt_control_sanitize_label(label, sizeof label, eq + 1, strlen(eq + 1)) == 0) {
        snprintf(err, 256, "--mark '%.40s': the label is empty", arg);
        return -1;
    }
    snprintf(s->label, sizeof s->label, "%s", label);
    m->n++;
    return 0;
}

int cli_live_marks_place(const char *cmd, tt_tap *tap, const cli_live_marks *m)
{
    uint64_t now = cli_live_real_us();
    for (unsigned i = 0; i < m->n; i++) {
        const cli_mark_spec *s = &m->v[i];
        int rc = tt_tap_mark(tap, s->label, s->ts_us ? s->ts_us : 1);
        if (rc < 0) {
            fprintf(stderr, "tunneltap: %s: cannot add the marker '%s': %s\n", cmd, s->label,
                    tt_strerror(rc));
            return -1;
        }
        char iso[40];
        cli_iso_time(s->ts_us, iso, sizeof iso);
        if (s->ts_us < now)
            fprintf(stderr,
                    "tunneltap: %s: marker '%s' at %s: %.0f s before the start, so nothing "
                    "before it is seen and it can raise no alert\n",
                    cmd, s->label, iso, (double)(now - s->ts_us) / 1e6);
        else
            fprintf(stderr, "tunneltap: %s: marker '%s' at %s (in %.0f s)\n", cmd, s->label, iso,
                    (double)(s->ts_us - now) / 1e6);
    }
    return 0;
}

void cli_live_print_alerts(tt_tap *tap, FILE *out)
{
    unsigned n = tt_tap_alerts(tap, NULL, 0);
    tt_alert *v = n ? calloc(n, sizeof *v) : NULL;
    if (v) {
        /* the count can only grow, and only n were copied */
        unsigned now = tt_tap_alerts(tap, v, n);
        n = now < n ? now : n;
    }
    cli_print_outcome(out, tap, v, n);
    free(v);
}

int cli_live_option(int c, const char *arg, cli_live_opts *o, cli_live_outputs *out, char *err,
                    size_t len)
{
    switch (c) {
    case CLI_LIVE_OPT_CONN_LOG:
        out->conn_path = arg;
        return 1;
    case CLI_LIVE_OPT_JSON:
        out->json_path = arg;
        return 1;
    case CLI_LIVE_OPT_STREAM_LOGS: /* the default, named */
        out->stream = true;
        return 1;
    case CLI_LIVE_OPT_SORTED_LOGS:
        out->sorted = true;
        return 1;
    case CLI_LIVE_OPT_ALERTS:
        out->alerts_path = arg;
        return 1;
    case CLI_LIVE_OPT_CONTROL:
        o->control = arg;
        return 1;
    case CLI_LIVE_OPT_NO_CONTROL:
        o->no_control = true;
        return 1;
    case CLI_LIVE_OPT_DASHBOARD:
        o->dashboard = true;
        return 1;
    case CLI_LIVE_OPT_NO_DPI:
        o->no_dpi = true;
        return 1;
    case CLI_LIVE_OPT_DPI_FIRST_NAME:
        o->dpi_first_name = true;
        return 1;
    case CLI_LIVE_OPT_FAIL_ON_REGRESSION:
        o->fail_on_regression = true;
        return 1;
    case 'q':
        o->quiet = true;
        return 1;
    case CLI_LIVE_OPT_DURATION:
        if (!cli_live_parse_seconds(arg, &o->duration)) {
            snprintf(err, len, "--duration wants seconds above 0 (at most 86400), not '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_LIVE_OPT_UDP_DEADLINE:
    case CLI_LIVE_OPT_SYN_DEADLINE: {
        bool udp = c == CLI_LIVE_OPT_UDP_DEADLINE;
        if (!cli_parse_ms(arg, udp ? &o->udp_ms : &o->syn_ms)) {
            snprintf(err, len, "%s wants seconds above 0 (e.g. 2.5), not '%s'",
                     udp ? "--udp-deadline" : "--syn-deadline", arg);
            return -1;
        }
        return 1;
    }
    case CLI_LIVE_OPT_MARK: {
        char merr[256];
        if (cli_live_marks_add(&o->marks, arg, merr) < 0) {
            snprintf(err, len, "%s", merr);
            return -1;
        }
        return 1;
    }
    default:
        return 0;
    }
}

const char *cli_live_options_check(const cli_live_opts *o, cli_live_outputs *out)
{
    if (o->control && o->no_control)
        return "--control and --no-control contradict each other";
    if (o->no_dpi && o->dpi_first_name)
        return "--no-dpi and --dpi-first-name contradict each other";
    if (out->stream && out->sorted)
        return "--stream-logs and --sorted-logs contradict each other";
    const char *clash = cli_live_outputs_clash(out);
    if (clash)
        return clash;
    out->quiet = o->quiet;
    return NULL;
}

void cli_live_tap_config(tt_tap_config *cfg, const char *cmd, const cli_live_opts *o,
                         cli_live_sink *sink, cli_live_outputs *out, cli_dashboard *dash)
{
    tt_tap_config_init(cfg);
    cfg->memory_budget = 0; /* a Linux host: the ring size is the user's call */
    cfg->own_thread = true;
    cfg->live_clock = true;
    cfg->analyzer.enable_dpi = !o->no_dpi;
    cfg->analyzer.dpi_first_name = o->dpi_first_name;
    if (o->udp_ms)
        cfg->analyzer.udp_reply_deadline_ms = cfg->analyzer.dns_reply_deadline_ms = o->udp_ms;
    if (o->syn_ms)
        cfg->analyzer.tcp_attempt_deadline_ms = o->syn_ms;
    cfg->analyzer.on_conn = cli_live_on_conn;
    cfg->analyzer.conn_ctx = sink;
    if (!out->sorted && (out->conn || out->json))
        sink->ls = &out->ls; /* written as they come, not kept */
    cfg->analyzer.log = cli_live_on_log;
    cfg->analyzer.log_ctx = (void *)cmd;
    cfg->analyzer.on_judge = dash ? cli_dashboard_on_judge : NULL;
    cfg->analyzer.judge_ctx = dash;
    cfg->on_alert = cli_live_on_alert; /* --alerts, stderr, the exit status */
    cfg->alert_ctx = out;
}

int cli_live_control_open(const char *cmd, const char *path, tt_tap *tap, tt_control_status_fn fn,
                          void *ctx, tt_control **out)
{
    tt_control_config cc = {
        .path = path,
        .tap = tap,
        .role = cmd,
        .status = fn,
        .status_ctx = ctx,
    };
    char err[TT_ERRBUF_SIZE] = "";
    if (tt_control_open(out, &cc, err) < 0) {
        fprintf(stderr, "tunneltap: %s: %s (or use --no-control)\n", cmd, err);
        return -1;
    }
    return 0;
}

bool cli_live_parse_seconds(const char *s, double *sec)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 86400)
        return false;
    *sec = v;
    return true;
}

bool cli_parse_ms(const char *s, uint32_t *ms)
{
    double sec;
    if (!cli_live_parse_seconds(s, &sec))
        return false;
    *ms = (uint32_t)(sec * 1000.0 + 0.5);
    if (*ms == 0)
        *ms = 1;
    return true;
}

bool cli_live_parse_bytes(const char *s, size_t *n)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    if (*end || v == 0 || v > (1ull << 31) / mul)
        return false;
    *n = (size_t)(v * mul);
    return true;
}

void cli_live_bytes_str(uint64_t n, char *buf, size_t len)
{
    if (n < 1000)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else if (n < 1000000)
        snprintf(buf, len, "%.1f kB", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(buf, len, "%.1f MB", (double)n / 1e6);
    else
        snprintf(buf, len, "%.2f GB", (double)n / 1e9);
}

/* ---- the clients: mark, status ---------------------------------------- */

void cli_mark_usage(FILE *out)
{
    fputs("usage: tunneltap mark LABEL... [--control PATH]\n"
          "\n"
          "Adds a marker (a filter upgrade, a configuration push) to a running\n"
          "`tunneltap bridge` or `tunneltap capture`, stamped with the current time.\n"
          "Several words are joined with spaces. The label is cleaned before it is\n"
          "sent: control characters become '?', at most 63 bytes are kept.\n"
          "\n"
          "options:\n"
          "  --control PATH  the instance's control socket (default: as the instance's,\n"
          "                  $XDG_RUNTIME_DIR/tunneltap.sock, /run/tunneltap/tunneltap.sock\n"
          "                  for root, else /tmp/tunneltap-UID/tunneltap.sock)\n"
          "  -h, --help      this help\n"
          "\n"
          "exit status: 0 marked; 1 refused (permission, a full marker list, no reply);\n"
          "2 usage error, or no tunneltap listens at the socket.\n",
          out);
}

void cli_status_usage(FILE *out)
{
    fputs("usage: tunneltap status [--control PATH] [--pretty]\n"
          "\n"
          "Prints the state of a running `tunneltap bridge` or `tunneltap capture` as\n"
          "one JSON object: packets, copies dropped, flows by verdict, ring fill,\n"
          "markers, uptime, and the host's own counters (the bridge's write errors,\n"
          "the capture's kernel drops). docs/bridge.md lists the keys.\n"
          "\n"
          "options:\n"
          "  --control PATH  the instance's control socket (default: see 'tunneltap mark --help')\n"
          "  --pretty        indent the JSON\n"
          "  -h, --help      this help\n"
          "\n"
          "exit status: 0 printed; 1 refused or no reply; 2 usage error, or no tunneltap\n"
          "listens at the socket.\n",
          out);
}

enum { OPT_CONTROL = 256, OPT_PRETTY };

/* Sends one request; on failure prints why and returns the exit status. */
static int request(const char *cmd, const char *path, const char *line, char *reply, size_t cap)
{
    char err[TT_ERRBUF_SIZE] = "";
    int rc = tt_control_request(path, line, reply, cap, REQUEST_TIMEOUT_MS, err);
    if (rc == 0)
        return EXIT_DONE;
    fprintf(stderr, "tunneltap: %s: %s\n", cmd, err[0] ? err : tt_strerror(rc));
    return rc == TT_ENOENT || rc == TT_EINVAL ? EXIT_USAGE : EXIT_FAILED;
}

int cli_mark_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"control", required_argument, NULL, OPT_CONTROL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *control = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONTROL:
            control = optarg;
            break;
        case 'h':
            cli_mark_usage(stdout);
            return EXIT_DONE;
        case ':':
            return cli_usage_error("mark", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("mark", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("mark", "no label given");
    char joined[TT_CONTROL_MSG_MAX] = "";
    size_t used = 0;
    for (int i = optind; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (used + n + 2 > sizeof joined)
            n = sizeof joined - used - 2;
        if (used)
            joined[used++] = ' ';
        memcpy(joined + used, argv[i], n);
        used += n;
        joined[used] = '\0';
    }
    char label[TT_MARK_LABEL_MAX];
    size_t len = tt_control_sanitize_label(label, sizeof label, joined, used);
    if (len == 0)
        return cli_usage_error("mark", "the label is empty");
    if (used > TT_MARK_LABEL_MAX - 1)
        fprintf(stderr, "tunneltap: mark: label longer than %d bytes: cut to '%s'\n",
                TT_MARK_LABEL_MAX - 1, label);
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (cli_live_control_path("mark", control, path, sizeof path) < 0)
        return EXIT_USAGE;
    char line[TT_CONTROL_MSG_MAX], reply[256];
    snprintf(line, sizeof line, "mark %s", label);
    int st = request("mark", path, line, reply, sizeof reply);
    if (st != EXIT_DONE)
        return st;
    /* "ok <epoch>.<usec>" */
    double ts = 0;
    if (strncmp(reply, "ok ", 3) != 0 || (ts = strtod(reply + 3, NULL)) <= 0) {
        fprintf(stderr, "tunneltap: mark: unexpected reply from %s: %.80s\n", path, reply);
        return EXIT_FAILED;
    }
    time_t secs = (time_t)ts;
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&secs, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    const char *frac = strchr(reply + 3, '.');
    printf("marked '%s' at %s%.7sZ (%s)\n", label, when, frac ? frac : "", reply + 3);
    return EXIT_DONE;
}

int cli_status_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"control", required_argument, NULL, OPT_CONTROL},
        {"pretty", no_argument, NULL, OPT_PRETTY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *control = NULL;
    bool pretty = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONTROL:
            control = optarg;
            break;
        case OPT_PRETTY:
            pretty = true;
            break;
        case 'h':
            cli_status_usage(stdout);
            return EXIT_DONE;
        case ':':
            return cli_usage_error("status", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("status", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (cli_live_control_path("status", control, path, sizeof path) < 0)
        return EXIT_USAGE;
    char *reply = malloc(TT_CONTROL_REPLY_MAX);
    if (!reply) {
        fprintf(stderr, "tunneltap: status: out of memory\n");
        return EXIT_FAILED;
    }
    int st = request("status", path, "status", reply, TT_CONTROL_REPLY_MAX);
    if (st == EXIT_DONE) {
        json_error_t je;
        json_t *j = json_loads(reply, 0, &je);
        if (!j) {
            fprintf(stderr, "tunneltap: status: %s sent a reply that is not JSON: %s\n", path,
                    je.text);
            st = EXIT_FAILED;
        } else {
            char *text = pretty ? json_dumps(j, JSON_INDENT(2)) : NULL;
            puts(text ? text : reply);
            free(text);
            json_decref(j);
        }
    }
    free(reply);
    if (fflush(stdout) != 0)
        st = EXIT_FAILED;
    return st;
}
