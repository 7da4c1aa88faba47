/* live.h - the live subcommands (bridge, capture, mark, status) and what they share.
 *
 *   bridge.c       `tunneltap bridge`: forwards between two TUN devices, taps the copies
 *   livecapture.c  `tunneltap capture`: live libpcap capture into the tap
 *   ctl.c          `tunneltap mark|status` (control socket clients), and the
 *                  plumbing the two hosts share: signals, control socket,
 *                  connection sink, outputs, alerts and --mark, option values
 *
 * The entry points take argv[0] = the subcommand name and return the
 * process exit status.
 */
#ifndef TT_CLI_LIVE_H
#define TT_CLI_LIVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "capture/control.h"
#include "cli/alerts.h"
#include "cli/cli.h"
#include "cli/dashboard.h"
#include "tunneltap/tunneltap.h"

/* ---- subcommands ------------------------------------------------------- */

int cli_bridge_main(int argc, char **argv);
void cli_bridge_usage(FILE *out);
int cli_capture_main(int argc, char **argv);
void cli_capture_usage(FILE *out);
int cli_mark_main(int argc, char **argv);
void cli_mark_usage(FILE *out);
int cli_status_main(int argc, char **argv);
void cli_status_usage(FILE *out);

/* Exit statuses of the live hosts (bridge, capture). */
enum {
    CLI_LIVE_EXIT_OK = 0,
    CLI_LIVE_EXIT_RUNTIME = 1,
    CLI_LIVE_EXIT_SETUP = 2,
    CLI_LIVE_EXIT_REGRESSION = 3 /* --fail-on-regression and a regression alert fired */
};

/* ---- shared by the hosts (ctl.c) ---------------------------------------- */

/* Set (to the signal number) by the SIGINT/SIGTERM handler; nothing else
 * happens in the handler. */
extern volatile sig_atomic_t cli_live_stop_signal;

/* Installs the SIGINT/SIGTERM handler, ignores SIGPIPE and blocks SIGINT and
 * SIGTERM in the calling thread (and so in every thread it starts later,
 * the tap's included); *wait_mask is the mask to hand ppoll(), which
 * unblocks them only while it waits: a signal can never slip in between
 * checking the flag and going to sleep. Returns 0 or -1 (errno set). */
int cli_live_signals(sigset_t *wait_mask);

/* CLOCK_REALTIME / CLOCK_MONOTONIC in microseconds / milliseconds. */
uint64_t cli_live_real_us(void);
uint64_t cli_live_mono_ms(void);

/* The socket path: opt when given, else tt_control_default_path(). Returns
 * 0, or -1 after printing why (prefix: "tunneltap: CMD: "). */
int cli_live_control_path(const char *cmd, const char *opt, char *buf, size_t len);

/* Receives every finished connection (on the tap's analysis thread). */
typedef struct cli_live_sink {
    cli_summary sum;
    cli_connbuf buf;
    bool keep; /* records are kept for --conn-log / --json --sorted-logs */
    bool oom;
    cli_logstream *ls; /* unless --sorted-logs: records written as they come instead */
} cli_live_sink;

void cli_live_sink_init(cli_live_sink *k, bool keep);
void cli_live_sink_free(cli_live_sink *k);
void cli_live_on_conn(void *ctx, const tt_conn *c);
/* Log callback: ctx is the command name ("bridge"); warnings and errors go to stderr. */
void cli_live_on_log(void *ctx, int level, const char *msg);

/* The --conn-log / --json / --alerts outputs: opened before anything else
 * starts (so a bad path costs nothing). The logs are written as connections
 * finish, flushed once a second by cli_live_outputs_tick (with
 * --sorted-logs, kept and written sorted after tt_tap_finish); the alerts as
 * they are raised (cli_live_on_alert). */
typedef struct cli_live_outputs {
    const char *cmd;
    const char *conn_path, *json_path, *alerts_path;
    FILE *conn, *json, *alerts;
    bool sorted, stream;    /* --sorted-logs; --stream-logs (the default) */
    cli_logstream ls;       /* the logs, unless sorted */
    uint64_t next_flush_ms; /* cli_live_outputs_tick's, CLOCK_MONOTONIC */
    time_t opened;
    bool quiet; /* no "ALERT ..." line on stderr as alerts are raised */
    /* Written by cli_live_on_alert under a lock of ctl.c: */
    uint64_t alerts_seen, regressions, alerts_written;
    int alerts_errno; /* the first write error on --alerts, or 0 */
} cli_live_outputs;

/* Returns 0, or -1 after printing why. */
int cli_live_outputs_open(cli_live_outputs *o);
/* Writes the sorted records and closes the outputs (the alerts file too:
 * every alert raised up to tt_tap_finish is in it). Returns 0, or -1 after
 * printing why (out of memory, write error). */
int cli_live_outputs_finish(cli_live_outputs *o, cli_live_sink *k);
/* The host's loop calls this on every wake-up (at least once a second):
 * unless --sorted-logs, the records written so far reach the files once a
 * second, the last ones before a quiet spell too. Thread-safety: the loop's
 * thread, while the analysis thread writes records. */
void cli_live_outputs_tick(cli_live_outputs *o, uint64_t now_ms);
/* Closes whatever is open without writing (error paths). */
void cli_live_outputs_abort(cli_live_outputs *o);
/* Where the summary goes: stderr when a log or the alerts go to stdout. */
FILE *cli_live_summary_stream(const cli_live_outputs *o);
/* "--conn-log and --alerts cannot both write to stdout", or NULL when the
 * output paths do not clash (checked while parsing options). */
const char *cli_live_outputs_clash(const cli_live_outputs *o);

/* ---- regression alerts on the live hosts (ctl.c) ------------------------ */

/* tt_tap_config.on_alert, alert_ctx = the host's cli_live_outputs: runs on
 * the analysis thread (and in tt_tap_finish). Counts the alert, writes it
 * to --alerts as one JSON line (flushed at once), and says it on stderr
 * unless quiet. */
void cli_live_on_alert(void *ctx, const tt_alert *a);

/* Regression (not recovery) alerts raised so far. Thread-safety: any thread. */
uint64_t cli_live_regressions(cli_live_outputs *o);

#define CLI_LIVE_MAX_MARKS 64

/* --mark WHEN=LABEL given at start: absolute instants only. */
typedef struct cli_live_marks {
    cli_mark_spec v[CLI_LIVE_MAX_MARKS];
    unsigned n;
} cli_live_marks;

/* Adds one --mark. WHEN is epoch seconds or ISO 8601; +SECONDS (from a
 * capture's first packet) is refused: a live run has no first packet to
 * count from when it starts. The label is sanitised like a control-socket
 * label. Returns 0, or -1 with a message in err (256 bytes). */
int cli_live_marks_add(cli_live_marks *m, const char *arg, char *err);
/* Hands the markers to the tap, one stderr line each. Returns 0, or -1
 * after printing why (the tap's marker list is full). */
int cli_live_marks_place(const char *cmd, tt_tap *tap, const cli_live_marks *m);

/* The end of the summary, as replay prints it: cli_print_outcome for every
 * alert the tap holds. */
void cli_live_print_alerts(tt_tap *tap, FILE *out);

/* ---- the options bridge and capture share (ctl.c) ----------------------- */

typedef struct cli_live_opts {
    const char *control; /* --control PATH */
    bool no_control, quiet, no_dpi, dpi_first_name;
    bool dashboard;          /* --dashboard: draw the analysis in the terminal */
    bool fail_on_regression; /* --fail-on-regression */
    double duration;         /* --duration, 0: until a signal */
    uint32_t udp_ms, syn_ms; /* 0: the analyzer's default */
    cli_live_marks marks;    /* --mark */
} cli_live_opts;

/* getopt_long values of the shared options; a host numbers its own from
 * CLI_LIVE_OPT_HOST. */
enum {
    CLI_LIVE_OPT_CONN_LOG = 256,
    CLI_LIVE_OPT_JSON,
    CLI_LIVE_OPT_CONTROL,
    CLI_LIVE_OPT_NO_CONTROL,
    CLI_LIVE_OPT_DURATION,
    CLI_LIVE_OPT_DASHBOARD,
    CLI_LIVE_OPT_NO_DPI,
    CLI_LIVE_OPT_DPI_FIRST_NAME,
    CLI_LIVE_OPT_UDP_DEADLINE,
    CLI_LIVE_OPT_SYN_DEADLINE,
    CLI_LIVE_OPT_MARK,
    CLI_LIVE_OPT_ALERTS,
    CLI_LIVE_OPT_FAIL_ON_REGRESSION,
    CLI_LIVE_OPT_STREAM_LOGS,
    CLI_LIVE_OPT_SORTED_LOGS,
    CLI_LIVE_OPT_HOST
};

/* The shared entries of a host's `struct option` table ('q' for --quiet). */
#define CLI_LIVE_LONG_OPTIONS                                                                      \
    {"conn-log", required_argument, NULL, CLI_LIVE_OPT_CONN_LOG},                                  \
        {"json", required_argument, NULL, CLI_LIVE_OPT_JSON},                                      \
        {"stream-logs", no_argument, NULL, CLI_LIVE_OPT_STREAM_LOGS},                              \
        {"sorted-logs", no_argument, NULL, CLI_LIVE_OPT_SORTED_LOGS},                              \
        {"control", required_argument, NULL, CLI_LIVE_OPT_CONTROL},                                \
        {"no-control", no_argument, NULL, CLI_LIVE_OPT_NO_CONTROL},                                \
        {"duration", required_argument, NULL, CLI_LIVE_OPT_DURATION},                              \
        {"dashboard", no_argument, NULL, CLI_LIVE_OPT_DASHBOARD},                                  \
        {"no-dpi", no_argument, NULL, CLI_LIVE_OPT_NO_DPI},                                        \
        {"dpi-first-name", no_argument, NULL, CLI_LIVE_OPT_DPI_FIRST_NAME},                        \
        {"udp-deadline", required_argument, NULL, CLI_LIVE_OPT_UDP_DEADLINE},                      \
        {"syn-deadline", required_argument, NULL, CLI_LIVE_OPT_SYN_DEADLINE},                      \
        {"mark", required_argument, NULL, CLI_LIVE_OPT_MARK},                                      \
        {"alerts", required_argument, NULL, CLI_LIVE_OPT_ALERTS},                                  \
        {"fail-on-regression", no_argument, NULL, CLI_LIVE_OPT_FAIL_ON_REGRESSION},                \
    {                                                                                              \
        "quiet", no_argument, NULL, 'q'                                                            \
    }

/* The --help lines of the shared options, in three runs a host's own
 * options go between (bridge: --ring-bytes, --stall-analyzer). */
#define CLI_LIVE_HELP_OUTPUTS                                                                      \
    "  --conn-log PATH     write a Zeek conn.log, a line as each connection finishes\n"            \
    "                      (Zeek's order; flushed once a second; '-': stdout)\n"                   \
    "  --json PATH         write one JSON object per connection, likewise ('-': stdout)\n"         \
    "  --sorted-logs       keep the records and write the logs sorted by ts at exit\n"             \
    "                      instead (past 64M of them, in a file in $TMPDIR or /tmp)\n"             \
    "  --mark WHEN=LABEL   a marker (filter upgrade) at WHEN: epoch seconds\n"                     \
    "                      (1764244985.5) or ISO 8601 (2025-11-27T12:03:05Z);\n"                   \
    "                      repeatable. While running: 'tunneltap mark LABEL'\n"                    \
    "  --alerts PATH       write regression alerts as JSON lines as they are raised\n"             \
    "                      ('-': stdout)\n"                                                        \
    "  --fail-on-regression  exit 3 when a regression alert fired\n"                               \
    "  --control PATH      control socket for 'tunneltap mark|status' (default:\n"                 \
    "                      $XDG_RUNTIME_DIR/tunneltap.sock, /run/tunneltap/tunneltap.sock\n"       \
    "                      for root, else /tmp/tunneltap-UID/tunneltap.sock)\n"                    \
    "  --no-control        no control socket\n"
#define CLI_LIVE_HELP_ANALYSIS                                                                     \
    "  --duration SEC      stop after SEC seconds (default: at SIGINT or SIGTERM)\n"               \
    "  --udp-deadline SEC  a UDP or DNS request unanswered after SEC fails (default 5)\n"          \
    "  --syn-deadline SEC  a SYN unanswered after SEC fails (default 5)\n"                         \
    "  --no-dpi            do not identify applications with nDPI\n"                               \
    "  --dpi-first-name    keep nDPI's first name for a flow: less CPU, a name now and\n"          \
    "                      then less precise (docs/embedding.md)\n"
#define CLI_LIVE_HELP_END                                                                          \
    "  --quiet             no summary, and no ALERT lines on stderr\n"                             \
    "  --dashboard         live dashboard in the terminal (q quits, m marks)\n"                    \
    "  -h, --help          this help\n"

/* Takes option c (getopt_long's value) when it is a shared one. Returns 1
 * when taken, 0 when c is the host's own, -1 with the usage error in err. */
int cli_live_option(int c, const char *arg, cli_live_opts *o, cli_live_outputs *out, char *err,
                    size_t len);
/* The checks once every option is read (contradictions, two outputs on
 * stdout); sets out->quiet. Returns NULL or the usage error. */
const char *cli_live_options_check(const cli_live_opts *o, cli_live_outputs *out);

/* The tap configuration both live hosts start from: tt_tap_config_init's
 * defaults for a Linux host (no memory budget, own analysis thread, live
 * clock) with the shared options applied and the sink, log, alerts and
 * dashboard (NULL: none) wired. The host sets its producers and rings. */
void cli_live_tap_config(tt_tap_config *cfg, const char *cmd, const cli_live_opts *o,
                         cli_live_sink *sink, cli_live_outputs *out, cli_dashboard *dash);

/* Opens the control socket at path for a running host (role = cmd), its
 * `status` extended by fn(ctx). Returns 0, or -1 after printing why. */
int cli_live_control_open(const char *cmd, const char *path, tt_tap *tap, tt_control_status_fn fn,
                          void *ctx, tt_control **out);

/* Option values: seconds (> 0, at most a day), and a byte count with an
 * optional k/K or m/M suffix (powers of 1024). Return false when invalid. */
bool cli_live_parse_seconds(const char *s, double *sec);
bool cli_live_parse_bytes(const char *s, size_t *n);

/* "1.2 kB", "3.4 MB": a short byte count for summaries. */
void cli_live_bytes_str(uint64_t n, char *buf, size_t len);

#endif
