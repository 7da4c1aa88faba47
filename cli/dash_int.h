/* dash_int.h - the dashboard's internals shared by its files (not for other commands).
 *
 *   dash_agg.c     the judge-hook aggregator (analysis thread, under a mutex)
 *                  and the rows the panels show (host thread)
 *   dash_panels.c  layout and the panels (ncurses)
 *   dash_text.c    drawing primitives: styles, a clipping pen, numbers
 *   dash_keys.c    keys, the prompts, markers
 *   dashboard.c    lifecycle, terminal, keys, snapshots, pacing
 */
#ifndef TT_CLI_DASH_INT_H
#define TT_CLI_DASH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/dashboard.h"
#include "tunneltap/tunneltap.h"

/* ncursesw is optional in CMakeLists.txt: the build defines TT_HAVE_NCURSES
 * (0 or 1) when it knows; otherwise the headers decide. Without it the
 * dashboard refuses to start (cli_dashboard_new says why). */
#if defined(TT_HAVE_NCURSES)
#define DASH_CURSES TT_HAVE_NCURSES
#elif defined(__has_include)
#if __has_include(<curses.h>) && __has_include(<termcap.h>)
#define DASH_CURSES 1
#endif
#endif
#ifndef DASH_CURSES
#define DASH_CURSES 0
#endif

/* ---- aggregator (dash_agg.c) ------------------------------------------- */

/* One destination: (resp_h, proto, port); ICMP uses the originator's type
 * as its port, as the summary does. other: the bucket (one per protocol
 * class) for destinations beyond max_groups. */
typedef struct dash_group {
    bool used, other;
    uint8_t ip_version, proto;
    uint16_t port;
    uint8_t addr[16];
    const char *service;        /* interned: first service (else l7) seen, NULL: none */
    uint64_t flows;             /* flows judged at least once */
    uint64_t failed, uncertain; /* flows now holding a certain / uncertain failure */
    uint32_t by_verdict[TT_VERDICT_COUNT];
} dash_group;

typedef struct dash_agg {
    pthread_mutex_t lock;
    dash_group *slot; /* open addressing, cap a power of two */
    size_t cap, used, max;
    dash_group other[CLI_P_COUNT];
    uint64_t count[CLI_P_COUNT][TT_VERDICT_COUNT];     /* flows now holding each verdict */
    uint64_t uncertain[CLI_P_COUNT][TT_VERDICT_COUNT]; /* of those, uncertain failures */
    uint64_t judged;                                   /* flows judged at least once */
    cli_strtab strings;
    uint64_t changes; /* bumped by every judge: the host re-sorts only when it moved */
} dash_agg;

int dash_agg_init(dash_agg *g, size_t max_groups);
void dash_agg_free(dash_agg *g);
void dash_agg_judge(dash_agg *g, const tt_conn *c, tt_verdict old, tt_certainty old_cert);

/* What the panels show: a row of the services or destinations panel. */
typedef struct dash_row {
    char name[48];  /* host, or service label */
    char where[16]; /* "tcp/80"; for a host's ports in one row, "tcp/" and a star */
    const char *service;
    uint8_t ip_version, proto;
    uint16_t port;  /* 0 when ports > 0 */
    uint32_t ports; /* 0: one port; else the failing ports rolled into this row */
    uint8_t addr[16];
    bool other;
    uint64_t flows, failed, uncertain;
    uint64_t by_verdict[TT_VERDICT_COUNT]; /* flows now holding each verdict */
    tt_verdict worst;                      /* the most frequent failure verdict; PENDING: none */
} dash_row;

enum { DASH_SORT_FAILURES, DASH_SORT_FLOWS, DASH_SORT_NAME, DASH_SORT_COUNT };

/* A copy of the aggregates taken under the lock (host thread). */
typedef struct dash_snap {
    uint64_t count[CLI_P_COUNT][TT_VERDICT_COUNT];
    uint64_t uncertain[CLI_P_COUNT][TT_VERDICT_COUNT];
    uint64_t judged, changes;
    dash_group *groups;
    size_t ngroups, cap;
    bool overflow; /* some destinations only in the "(other)" buckets */
} dash_snap;

/* Returns 0, 1 when nothing changed since s was taken (s kept as it is),
 * or TT_ENOMEM (the previous snapshot is kept). */
int dash_agg_snapshot(dash_agg *g, dash_snap *s);
void dash_snap_free(dash_snap *s);

/* Builds the destination and service rows from s: filtered (substring of
 * host, proto/port, port or service; case-insensitive; "" keeps all), then
 * sorted. Services count the filtered destinations; of those, a host's
 * ports of one protocol share one destination row ("tcp/" and a star, counting every
 * flow to that host and protocol) when more than CLI_ROLLUP_PORTS of them
 * have certain failures. The arrays grow as needed; returns 0 or
 * TT_ENOMEM. */
int dash_rows_build(const dash_snap *s, const char *filter, int sort, dash_row **dest,
                    size_t *ndest, size_t *dest_cap, dash_row **svc, size_t *nsvc, size_t *svc_cap);

/* "tcp/80", "icmp/8", "udp/7777". */
void dash_where(uint8_t proto, uint16_t port, char *buf, size_t len);

/* ---- the dashboard ----------------------------------------------------- */

#define DASH_RATE_N 512 /* seconds of packet/byte rates kept */

/* Packets and bytes per second, in 1-second bins of the dashboard's clock. */
typedef struct dash_rate {
    bool started;
    uint64_t sec;              /* the open bin */
    uint64_t base_pk, base_by; /* counters when it opened */
    double pk[DASH_RATE_N], by[DASH_RATE_N];
    unsigned head, n; /* ring of closed bins: newest at head - 1 */
} dash_rate;

/* The figures on screen: frozen while paused. */
typedef struct dash_view {
    bool valid;
    tt_tap_stats st;
    uint64_t clock_us; /* wall clock (live) or packet time (replay) of the snapshot */
    dash_snap snap;
    tt_timeline_bucket *tl;
    unsigned ntl, tl_cap;
    tt_alert *alerts;
    unsigned nalerts, alerts_cap;
    tt_marker *marks;
    unsigned nmarks, marks_cap;
    dash_rate rate;
    dash_row *dest, *svc;
    size_t ndest, dest_cap, nsvc, svc_cap;
} dash_view;

enum { DASH_MODE_NORMAL, DASH_MODE_MARK, DASH_MODE_FILTER, DASH_MODE_HELP };

struct cli_dashboard {
    cli_dashboard_opts o;
    char title[128];
    dash_agg agg;
    tt_tap *tap;

    /* terminal */
    bool attached;
    void *screen; /* SCREEN * */
    bool utf8, color;
    int saved_stderr;  /* -1: stderr not redirected */
    void *held_stderr; /* FILE * holding stderr while attached */
    char saved_ctype[64];

    /* timing (monotonic ms) */
    uint64_t interval_ms, next_draw_ms, next_sample_ms, next_keys_ms;
    uint64_t pkt_clock_us; /* cli_dashboard_clock */

    dash_rate rate; /* sampled continuously; copied into the view */
    dash_view v;

    bool paused, held, quit, dirty, rows_dirty;
    int sort;
    char filter[64];
    int mode, prev_mode;
    char input[TT_MARK_LABEL_MAX];
    size_t input_len;
    char msg[200];
    uint64_t msg_until_ms;
    char hold_status[200];
};

/* Colour pairs (dashboard.c sets them up when the terminal has colours). */
enum {
    DASH_PAIR_BAD = 1,
    DASH_PAIR_GOOD,
    DASH_PAIR_WARN,
    DASH_PAIR_TITLE,
    DASH_PAIR_BANNER,
    DASH_PAIR_MARK,
    DASH_PAIR_DIM
};

/* ---- drawing primitives (dash_text.c) --------------------------------- */

enum { ST_NORMAL, ST_BAD, ST_GOOD, ST_WARN, ST_TITLE, ST_BANNER, ST_MARK, ST_DIM, ST_BOLD, ST_BAR };

typedef struct rect {
    int y, x, h, w;
} rect;

/* A cursor on one row that never writes past `end` (exclusive). */
typedef struct pen {
    const cli_dashboard *d;
    int y, x, end;
    bool cut;
} pen;

void dash_style(const cli_dashboard *d, int st);
int dash_text_width(const cli_dashboard *d, const char *s, size_t n);
pen dash_pen_at(const cli_dashboard *d, int y, int x, int w);
void dash_put_char(const cli_dashboard *d, int y, int x, uint32_t c);
void dash_pen_putn(pen *p, int st, const char *s, size_t n);
void dash_pen_put(pen *p, int st, const char *s);
void dash_pen_printf(pen *p, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void dash_pen_fill(pen *p, int st, uint32_t c); /* the rest of the row */
void dash_pen_tab(pen *p, int x0, int col);     /* to column col of a row starting at x0 */
void dash_pen_right(pen *p, int st, int w, const char *s); /* right-aligned in w columns */
void dash_fmt_count(uint64_t v, char *buf, size_t len);    /* 12345, 123.4k, 1.2M */
void dash_fmt_rate(double v, char *buf, size_t len);
void dash_fmt_bytes(uint64_t v, char *buf, size_t len); /* 27.1 kB */
void dash_fmt_hms(uint64_t us, char *buf, size_t len);  /* HH:MM:SS UTC */
void dash_title(const cli_dashboard *d, rect r, const char *name, const char *note);
uint32_t dash_block(const cli_dashboard *d, int level); /* sparkline glyph, level 0..7 */
int dash_wrapped(const cli_dashboard *d, int y, int x, int w, int maxrows, int st, const char *s);

/* dash_panels.c: draws the whole screen from d->v (and the input line). */
void dash_draw(cli_dashboard *d);

/* dashboard.c */
uint64_t dash_mono_ms(void);
/* Shows a footer message for a few seconds. */
void dash_message(cli_dashboard *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes a fresh snapshot of everything the panels show (into d->v). */
void dash_refresh_view(cli_dashboard *d);

/* dash_keys.c: reads and handles every pending key (never blocks). */
void dash_read_keys(cli_dashboard *d);
const char *dash_sort_name(int sort);
bool dash_stderr_pending(const cli_dashboard *d); /* stderr output held until close */

#endif
