/* dashboard.h - the live terminal dashboard (ncurses) that replay, bridge and capture can show.
 *
 * The dashboard is driven by the host's own loop and is never in the packet
 * path: it reads snapshots (tt_tap_get_stats, tt_tap_timeline, tt_tap_alerts,
 * tt_tap_markers) and its own per-destination aggregates, fed by the
 * analyzer's judge hook. The host's lifecycle:
 *
 *     cli_dashboard *d;
 *     if (cli_dashboard_new(&d, &opts, err) < 0)      // no terminal: refuse, exit 2
 *         ...;
 *     cfg.analyzer.on_judge = cli_dashboard_on_judge;  // before tt_tap_open
 *     cfg.analyzer.judge_ctx = d;
 *     tt_tap_open(&tap, &cfg, err);
 *     cli_dashboard_attach(d, tap, err);               // takes over the screen
 *     while (...) {                                    // the host's loop
 *         ...
 *         if (cli_dashboard_tick(d) == CLI_DASH_QUIT)  // often: cheap when nothing is due
 *             break;
 *     }
 *     tt_tap_finish(tap);
 *     cli_dashboard_hold(d, "end of capture");         // replay only: until 'q'
 *     cli_dashboard_close(d);                          // terminal restored; print after this
 *     ... write outputs, print the summary ...
 *     tt_tap_close(tap);
 *     cli_dashboard_free(d);                           // after the tap: no more judge calls
 *
 * While attached, the dashboard owns stdout and the keyboard; stderr, when it
 * is the terminal, is held in a temporary file and written out by
 * cli_dashboard_close (so warnings never draw over the panels). docs/dashboard.md
 * describes the panels and keys.
 *
 * Thread-safety: cli_dashboard_on_judge runs on the analysis thread (any
 * thread); every other call belongs to the host thread that attached.
 */
#ifndef TT_CLI_DASHBOARD_H
#define TT_CLI_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/tunneltap.h"

typedef struct cli_dashboard cli_dashboard;

typedef struct cli_dashboard_opts {
    const char *title;   /* header text, e.g. "replay capture.pcap" (copied; NULL: none) */
    bool replay;         /* packet time is the clock: rates per capture second, markers
                          * ('m') placed at the replay's current packet time */
    unsigned refresh_hz; /* redraws per second, 1..4 (0: 2) */
    size_t max_groups;   /* destinations tracked (0: 4096); later ones count as "(other)" */
    bool ascii;          /* ASCII sparklines even in a UTF-8 locale */
    bool no_color;       /* monochrome even on a colour terminal */
} cli_dashboard_opts;

enum { CLI_DASH_CONTINUE = 0, CLI_DASH_QUIT = 1 };

/* Creates the dashboard's aggregator and checks the terminal without
 * touching it. Fails (TT_EINVAL, with a message in err) when stdin or stdout
 * is not a terminal, TERM is unset, "dumb" or has no usable terminfo entry,
 * or this build has no ncursesw; TT_ENOMEM when out of memory. err holds
 * TT_ERRBUF_SIZE bytes. */
int cli_dashboard_new(cli_dashboard **out, const cli_dashboard_opts *o, char *err);

/* The judge hook: set as cfg.analyzer.on_judge with judge_ctx = the
 * dashboard (or call it from the host's own hook). Aggregates verdicts per
 * protocol and per destination (resp_h, proto, port; its service) under a
 * mutex. Thread-safety: any thread (the analysis thread). */
void cli_dashboard_on_judge(void *ctx, const tt_conn *c, tt_verdict old, tt_certainty old_cert);

/* Takes over the terminal (alternate screen, keys without echo) and draws
 * the first frame. Installs SIGINT/SIGTERM/SIGHUP handlers that make
 * cli_dashboard_tick return CLI_DASH_QUIT, but only where the host left
 * the default disposition (bridge and capture keep their own). Returns 0,
 * or TT_EINVAL / TT_ESTATE (already attached) with a message in err. */
int cli_dashboard_attach(cli_dashboard *d, tt_tap *tap, char *err);

/* cli_dashboard_new + cli_dashboard_attach for a tap that is already open;
 * the services and destinations panels then stay empty unless the host
 * forwards its judge calls to cli_dashboard_on_judge. */
int cli_dashboard_open(cli_dashboard **out, tt_tap *tap, const cli_dashboard_opts *o, char *err);

/* Reads pending keys (never blocks) and redraws when due (refresh_hz).
 * Cheap when nothing is due: call it from every loop iteration or packet.
 * Returns CLI_DASH_QUIT after 'q' or a stop signal, else CLI_DASH_CONTINUE
 * (also when not attached). */
int cli_dashboard_tick(cli_dashboard *d);

/* Milliseconds until the dashboard wants the next tick (redraw due), for a
 * host's poll timeout; -1 when not attached. */
int cli_dashboard_timeout_ms(const cli_dashboard *d);

/* The descriptor keys arrive on (add it to the host's poll set, POLLIN),
 * or -1 when not attached. */
int cli_dashboard_fd(const cli_dashboard *d);

/* Tells the dashboard the host's current packet time (a replay's last read
 * packet): markers added with 'm' are placed there. */
void cli_dashboard_clock(cli_dashboard *d, uint64_t ts_us);

/* Shows a one-line message in the footer for a few seconds. */
void cli_dashboard_message(cli_dashboard *d, const char *msg);

/* After a replay reached the end of its file: shows the final figures with
 * status_line in the footer and waits for 'q' (or a stop signal); the other
 * keys keep working, except 'm'. Returns at once when not attached. */
void cli_dashboard_hold(cli_dashboard *d, const char *status_line);

/* Restores the terminal (endwin), the signal handlers and stderr (writing
 * out what was held). Idempotent; also runs at exit(). The aggregator stays
 * valid: judge calls may still arrive until the tap is closed. */
void cli_dashboard_close(cli_dashboard *d);

/* Closes (if needed) and frees. Call after tt_tap_close. NULL is fine. */
void cli_dashboard_free(cli_dashboard *d);

/* ---- replay pacing (--speed) ------------------------------------------ */

/* speed: capture seconds replayed per wall-clock second; 0: as fast as possible. */
typedef struct cli_pace {
    double speed;
    bool started;
    uint64_t ts0_us;   /* first packet's time */
    uint64_t wall0_ns; /* monotonic clock when it was read */
} cli_pace;

/* Parses --speed: "max" (0) or a factor above 0 up to 1e6 ("10", "0.5"). */
bool cli_pace_parse(const char *s, double *speed);
void cli_pace_init(cli_pace *p, double speed);

/* Waits until a packet stamped ts_us is due, ticking d (may be NULL) while
 * it waits and giving d the packet clock. Returns CLI_DASH_QUIT as soon as
 * the user quits, else CLI_DASH_CONTINUE. Timestamps going backwards are
 * not waited for. */
int cli_pace_wait(cli_pace *p, uint64_t ts_us, cli_dashboard *d);

#endif
