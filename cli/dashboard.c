/* dashboard.c - the live dashboard: terminal lifecycle, keys, snapshots, replay pacing.
 *
 * The terminal is process-wide state, so this file keeps a little of it in
 * statics: the one attached dashboard (for the atexit hook and the signal
 * handler), the saved termios and the escape sequences that put the
 * terminal back if a second stop signal arrives before the host got round
 * to cli_dashboard_close (the handler may only do async-signal-safe things:
 * tcsetattr and write).
 */
#define NCURSES_WIDECHAR 1

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "analyze/errbuf.h"
#include "cli/dash_int.h"

#if DASH_CURSES
#include <curses.h>
#include <termcap.h>
#endif

#define KEYS_EVERY_MS 30    /* keys are read at most this often */
#define SAMPLE_EVERY_MS 100 /* packet/byte counters sampled for the rate bins */
#define MESSAGE_MS 6000     /* how long a footer message stays */

uint64_t dash_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- construction and the judge hook ----------------------------------- */

int cli_dashboard_new(cli_dashboard **out, const cli_dashboard_opts *o, char *err)
{
    *out = NULL;
#if !DASH_CURSES
    (void)o;
    tt__set_err(err, "this tunneltap was built without ncursesw: --dashboard is not available");
    return TT_EINVAL;
#else
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        tt__set_err(err,
                    "the dashboard needs a terminal: %s not a terminal (run it in a "
                    "terminal, or drop --dashboard and read the summary)",
                    !isatty(STDIN_FILENO) && !isatty(STDOUT_FILENO) ? "stdin and stdout are"
                    : !isatty(STDIN_FILENO)                         ? "stdin is"
                                                                    : "stdout is");
        return TT_EINVAL;
    }
    const char *term = getenv("TERM");
    if (!term || !*term || strcmp(term, "dumb") == 0) {
        tt__set_err(err, "the dashboard needs a terminal it can draw on, and TERM is %s%s%s",
                    term && *term ? "'" : "", term && *term ? term : "not set",
                    term && *term ? "'" : "");
        return TT_EINVAL;
    }
    /* tgetent reads the terminfo entry without sending anything (newterm
     * would switch the screen already). */
    char tbuf[4096];
    int te = tgetent(tbuf, term);
    if (te != 1) {
        tt__set_err(err, "the dashboard cannot draw on terminal type '%s': %s", term,
                    te == 0 ? "no terminfo entry for it" : "no terminfo database found");
        return TT_EINVAL;
    }
    char cap[512], *area = cap;
    if (!tgetstr("cm", &area)) {
        tt__set_err(err,
                    "the dashboard cannot draw on terminal type '%s': it cannot move the "
                    "cursor",
                    term);
        return TT_EINVAL;
    }
    cli_dashboard *d = calloc(1, sizeof *d);
    if (!d) {
        tt__set_err(err, "out of memory");
        return TT_ENOMEM;
    }
    if (o)
        d->o = *o;
    if (d->o.refresh_hz == 0)
        d->o.refresh_hz = 2;
    if (d->o.refresh_hz > 4)
        d->o.refresh_hz = 4;
    snprintf(d->title, sizeof d->title, "%s", d->o.title ? d->o.title : "");
    d->o.title = d->title;
    d->saved_stderr = -1;
    d->interval_ms = 1000u / d->o.refresh_hz;
    if (dash_agg_init(&d->agg, d->o.max_groups) < 0) {
        free(d);
        tt__set_err(err, "out of memory");
        return TT_ENOMEM;
    }
    *out = d;
    return 0;
#endif
}

void cli_dashboard_on_judge(void *ctx, const tt_conn *c, tt_verdict old, tt_certainty old_cert)
{
    cli_dashboard *d = ctx;
    if (d)
        dash_agg_judge(&d->agg, c, old, old_cert);
}

void cli_dashboard_clock(cli_dashboard *d, uint64_t ts_us)
{
    if (d && ts_us > d->pkt_clock_us)
        d->pkt_clock_us = ts_us;
}

void cli_dashboard_message(cli_dashboard *d, const char *msg)
{
    if (!d)
        return;
    snprintf(d->msg, sizeof d->msg, "%s", msg ? msg : "");
    d->msg_until_ms = dash_mono_ms() + MESSAGE_MS;
    d->dirty = true;
}

static void view_free(dash_view *v)
{
    dash_snap_free(&v->snap);
    free(v->tl);
    free(v->alerts);
    free(v->marks);
    free(v->dest);
    free(v->svc);
    memset(v, 0, sizeof *v);
}

#if DASH_CURSES

static uint64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void dash_message(cli_dashboard *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    d->msg_until_ms = dash_mono_ms() + MESSAGE_MS;
    d->dirty = true;
}

/* ---- snapshots --------------------------------------------------------- */

/* Closes the rate bins up to the second of t_us (the counters' growth since
 * the open bin spread evenly over the seconds that passed). */
static void rate_sample(dash_rate *r, uint64_t t_us, uint64_t pk, uint64_t by)
{
    uint64_t sec = t_us / 1000000u;
    if (!r->started) {
        r->started = true;
        r->sec = sec;
        r->base_pk = pk;
        r->base_by = by;
        return;
    }
    if (sec <= r->sec)
        return;
    uint64_t gap = sec - r->sec;
    double dp = (double)(pk - r->base_pk) / (double)gap;
    double db = (double)(by - r->base_by) / (double)gap;
    unsigned k = gap > DASH_RATE_N ? DASH_RATE_N : (unsigned)gap;
    for (unsigned i = 0; i < k; i++) {
        r->pk[r->head] = dp;
        r->by[r->head] = db;
        r->head = (r->head + 1) % DASH_RATE_N;
        if (r->n < DASH_RATE_N)
            r->n++;
    }
    r->sec = sec;
    r->base_pk = pk;
    r->base_by = by;
}

/* Samples the counters; end: the replay is over, its last second complete. */
static void sample(cli_dashboard *d, bool end)
{
    tt_tap_stats st;
    tt_tap_get_stats(d->tap, &st);
    const tt_analyzer_stats *a = &st.analyzer;
    if (d->o.replay) {
        if (!a->last_us)
            return;
        if (!d->rate.started) {
            /* every packet so far belongs to the capture's first seconds */
            d->rate.started = true;
            d->rate.sec = a->first_us / 1000000u;
        }
        rate_sample(&d->rate, a->last_us + (end ? 1000000u : 0u), a->packets, a->bytes);
    } else {
        rate_sample(&d->rate, real_us(), a->packets, a->bytes);
    }
}

/* Returns buf grown to hold n items of size sz (with room to spare), or
 * NULL when out of memory (buf and *cap unchanged). */
static void *fit(void *buf, unsigned *cap, unsigned n, size_t sz)
{
    if (n <= *cap && buf)
        return buf;
    unsigned ncap = n + n / 4 + 16;
    void *p = realloc(buf, (size_t)ncap * sz);
    if (p)
        *cap = ncap;
    return p;
}

static void rebuild_rows(cli_dashboard *d)
{
    dash_view *v = &d->v;
    if (dash_rows_build(&v->snap, d->filter, d->sort, &v->dest, &v->ndest, &v->dest_cap, &v->svc,
                        &v->nsvc, &v->svc_cap) < 0) {
        v->ndest = v->nsvc = 0;
        dash_message(d, "out of memory: the services and destinations panels are empty");
    }
    d->rows_dirty = false;
}

/* Takes a fresh copy of everything the panels show. */
void dash_refresh_view(cli_dashboard *d)
{
    dash_view *v = &d->v;
    tt_tap_get_stats(d->tap, &v->st);
    v->clock_us = d->o.replay ? v->st.analyzer.last_us : real_us();
    int changed = dash_agg_snapshot(&d->agg, &v->snap);
    if (changed < 0)
        dash_message(d, "out of memory copying the destinations");
    else if (changed == 0)
        d->rows_dirty = true;

    /* The getters copy the oldest first: ask for the count, then all. */
    unsigned n = tt_tap_timeline(d->tap, NULL, 0);
    void *p = fit(v->tl, &v->tl_cap, n, sizeof *v->tl);
    if (p) {
        v->tl = p;
        n = tt_tap_timeline(d->tap, v->tl, v->tl_cap);
    }
    v->ntl = n < v->tl_cap ? n : v->tl_cap;
    n = tt_tap_alerts(d->tap, NULL, 0);
    if ((p = fit(v->alerts, &v->alerts_cap, n, sizeof *v->alerts))) {
        v->alerts = p;
        n = tt_tap_alerts(d->tap, v->alerts, v->alerts_cap);
    }
    v->nalerts = n < v->alerts_cap ? n : v->alerts_cap;
    n = tt_tap_markers(d->tap, NULL, 0);
    if ((p = fit(v->marks, &v->marks_cap, n, sizeof *v->marks))) {
        v->marks = p;
        n = tt_tap_markers(d->tap, v->marks, v->marks_cap);
    }
    v->nmarks = n < v->marks_cap ? n : v->marks_cap;

    v->rate = d->rate;
    v->valid = true;
    if (d->rows_dirty)
        rebuild_rows(d);
}

/* ---- process-wide terminal state ------------------------------------- */

static cli_dashboard *g_active;
static volatile sig_atomic_t g_signal;
static struct termios g_saved_tio;
static bool g_have_tio;
static char g_reset_seq[256];
static size_t g_reset_len;
static const int g_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction g_old_act[3];
static bool g_installed[3];

static void on_stop_signal(int sig)
{
    if (!g_signal) {
        g_signal = sig; /* the host's loop sees it through cli_dashboard_tick */
        return;
    }
    /* A second one: the host is stuck. Put the terminal back and go. */
    if (g_have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tio);
    if (g_reset_len) {
        ssize_t w = write(STDOUT_FILENO, g_reset_seq, g_reset_len);
        (void)w;
    }
    _exit(128 + sig);
}

static void install_signals(void)
{
    g_signal = 0;
    for (int i = 0; i < 3; i++) {
        struct sigaction cur;
        g_installed[i] = false;
        if (sigaction(g_sigs[i], NULL, &cur) != 0 || cur.sa_handler != SIG_DFL ||
            (cur.sa_flags & SA_SIGINFO))
            continue; /* the host handles it (bridge, capture) */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sa.sa_flags = SA_RESTART; /* a ^C must not turn a file read into an I/O error */
        sigemptyset(&sa.sa_mask);
        if (sigaction(g_sigs[i], &sa, &g_old_act[i]) == 0)
            g_installed[i] = true;
    }
}

static void restore_signals(void)
{
    for (int i = 0; i < 3; i++)
        if (g_installed[i]) {
            sigaction(g_sigs[i], &g_old_act[i], NULL);
            g_installed[i] = false;
        }
}

static void add_reset(const char *capname)
{
    char *s = tigetstr(capname);
    if (!s || s == (char *)-1)
        return;
    size_t n = strlen(s);
    if (g_reset_len + n < sizeof g_reset_seq) {
        memcpy(g_reset_seq + g_reset_len, s, n);
        g_reset_len += n;
    }
}

static void at_exit(void)
{
    if (g_active)
        cli_dashboard_close(g_active);
}

/* While attached, stderr (when it is the terminal) goes to a temporary
 * file: a warning would otherwise be drawn over the panels. */
static void hold_stderr(cli_dashboard *d)
{
    if (!isatty(STDERR_FILENO))
        return;
    FILE *tmp = tmpfile();
    if (!tmp)
        return;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDERR_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        fclose(tmp);
        return;
    }
    d->saved_stderr = saved;
    d->held_stderr = tmp;
}

static void release_stderr(cli_dashboard *d)
{
    if (d->saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(d->saved_stderr, STDERR_FILENO);
    close(d->saved_stderr);
    d->saved_stderr = -1;
    FILE *tmp = d->held_stderr;
    d->held_stderr = NULL;
    if (fseek(tmp, 0, SEEK_SET) == 0) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, tmp)) > 0)
            fwrite(buf, 1, n, stderr);
        fflush(stderr);
    }
    fclose(tmp);
}

static bool held_stderr_pending(const cli_dashboard *d)
{
    if (!d->held_stderr)
        return false;
    fflush(stderr);
    struct stat sb; /* the writes come through descriptor 2, not this FILE */
    return fstat(fileno((FILE *)d->held_stderr), &sb) == 0 && sb.st_size > 0;
}

int cli_dashboard_attach(cli_dashboard *d, tt_tap *tap, char *err)
{
    if (d->attached) {
        tt__set_err(err, "the dashboard is already attached");
        return TT_ESTATE;
    }
    if (g_active) {
        tt__set_err(err, "another dashboard owns the terminal");
        return TT_ESTATE;
    }
    d->tap = tap;
    const char *ctype = setlocale(LC_CTYPE, NULL);
    snprintf(d->saved_ctype, sizeof d->saved_ctype, "%s", ctype ? ctype : "C");
    setlocale(LC_CTYPE, "");
    d->utf8 = !d->o.ascii && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

    g_have_tio = tcgetattr(STDIN_FILENO, &g_saved_tio) == 0;
    install_signals(); /* before newterm: ncurses then leaves SIGINT/SIGTERM to us */
    fflush(stdout);
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        restore_signals();
        setlocale(LC_CTYPE, d->saved_ctype);
        const char *term = getenv("TERM");
        tt__set_err(err, "cannot start the dashboard on terminal type '%s'", term ? term : "?");
        return TT_EINVAL;
    }
    set_term(scr);
    d->screen = scr;
    g_reset_len = 0;
    add_reset("rmcup");
    add_reset("cnorm");
    add_reset("sgr0");
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    d->color = !d->o.no_color && has_colors();
    if (d->color) {
        start_color();
        short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;
        init_pair(DASH_PAIR_BAD, COLOR_RED, bg);
        init_pair(DASH_PAIR_GOOD, COLOR_GREEN, bg);
        init_pair(DASH_PAIR_WARN, COLOR_YELLOW, bg);
        init_pair(DASH_PAIR_TITLE, COLOR_CYAN, bg);
        init_pair(DASH_PAIR_BANNER, COLOR_WHITE, COLOR_RED);
        init_pair(DASH_PAIR_MARK, COLOR_MAGENTA, bg);
        init_pair(DASH_PAIR_DIM, COLOR_BLUE, bg);
    }
    hold_stderr(d);
    d->attached = true;
    g_active = d;
    static bool registered;
    if (!registered)
        registered = atexit(at_exit) == 0;

    uint64_t now = dash_mono_ms();
    d->next_keys_ms = now;
    d->next_sample_ms = now;
    d->next_draw_ms = now + d->interval_ms;
    sample(d, false);
    dash_refresh_view(d);
    dash_draw(d);
    return 0;
}

void cli_dashboard_close(cli_dashboard *d)
{
    if (!d || !d->attached)
        return;
    d->attached = false;
    endwin();
    delscreen((SCREEN *)d->screen);
    d->screen = NULL;
    restore_signals();
    release_stderr(d);
    setlocale(LC_CTYPE, d->saved_ctype);
    g_active = NULL;
    fflush(stdout);
}

int cli_dashboard_fd(const cli_dashboard *d)
{
    return d && d->attached ? STDIN_FILENO : -1;
}

/* ---- the host's calls -------------------------------------------------- */

static void draw_now(cli_dashboard *d)
{
    if (d->rows_dirty)
        rebuild_rows(d);
    if (d->msg[0] && dash_mono_ms() >= d->msg_until_ms)
        d->msg[0] = '\0';
    dash_draw(d);
    d->dirty = false;
}

int cli_dashboard_tick(cli_dashboard *d)
{
    if (!d || !d->attached)
        return CLI_DASH_CONTINUE;
    if (g_signal)
        d->quit = true;
    if (d->quit)
        return CLI_DASH_QUIT;
    uint64_t now = dash_mono_ms();
    if (now < d->next_keys_ms && now < d->next_sample_ms && now < d->next_draw_ms && !d->dirty)
        return CLI_DASH_CONTINUE;
    if (now >= d->next_keys_ms) {
        d->next_keys_ms = now + KEYS_EVERY_MS;
        dash_read_keys(d);
        if (d->quit)
            return CLI_DASH_QUIT;
    }
    if (now >= d->next_sample_ms) {
        d->next_sample_ms = now + SAMPLE_EVERY_MS;
        sample(d, false);
    }
    if (now >= d->next_draw_ms) {
        d->next_draw_ms = now + d->interval_ms;
        if (!d->paused)
            dash_refresh_view(d);
        d->dirty = true;
    }
    if (d->dirty)
        draw_now(d);
    return CLI_DASH_CONTINUE;
}

int cli_dashboard_timeout_ms(const cli_dashboard *d)
{
    if (!d || !d->attached)
        return -1;
    uint64_t now = dash_mono_ms();
    uint64_t next = d->next_draw_ms < d->next_sample_ms ? d->next_draw_ms : d->next_sample_ms;
    return next <= now ? 0 : (int)(next - now);
}

void cli_dashboard_hold(cli_dashboard *d, const char *status_line)
{
    if (!d || !d->attached)
        return;
    d->held = true;
    d->paused = false;
    if (d->mode == DASH_MODE_MARK) {
        d->mode = DASH_MODE_NORMAL;
        dash_message(d, "the replay ended before the marker was confirmed: not added");
    }
    snprintf(d->hold_status, sizeof d->hold_status, "%s", status_line ? status_line : "");
    sample(d, d->o.replay);
    dash_refresh_view(d);
    draw_now(d);
    while (!d->quit && !g_signal) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(&p, 1, (int)d->interval_ms);
        if (n < 0 && errno != EINTR)
            break;
        dash_read_keys(d);
        if (d->msg[0] && dash_mono_ms() >= d->msg_until_ms)
            d->dirty = true;
        if (d->dirty)
            draw_now(d);
    }
}

#else /* !DASH_CURSES */

int cli_dashboard_attach(cli_dashboard *d, tt_tap *tap, char *err)
{
    (void)d;
    (void)tap;
    tt__set_err(err, "this tunneltap was built without ncursesw");
    return TT_EINVAL;
}

void cli_dashboard_close(cli_dashboard *d)
{
    (void)d;
}

int cli_dashboard_fd(const cli_dashboard *d)
{
    (void)d;
    return -1;
}

int cli_dashboard_tick(cli_dashboard *d)
{
    (void)d;
    return CLI_DASH_CONTINUE;
}

int cli_dashboard_timeout_ms(const cli_dashboard *d)
{
    (void)d;
    return -1;
}

void cli_dashboard_hold(cli_dashboard *d, const char *status_line)
{
    (void)d;
    (void)status_line;
}

static bool held_stderr_pending(const cli_dashboard *d)
{
    (void)d;
    return false;
}

#endif

bool dash_stderr_pending(const cli_dashboard *d)
{
    return held_stderr_pending(d);
}

const char *dash_sort_name(int sort)
{
    static const char *const names[DASH_SORT_COUNT] = {"failures", "flows", "name"};
    return sort >= 0 && sort < DASH_SORT_COUNT ? names[sort] : "?";
}

int cli_dashboard_open(cli_dashboard **out, tt_tap *tap, const cli_dashboard_opts *o, char *err)
{
    int rc = cli_dashboard_new(out, o, err);
    if (rc < 0)
        return rc;
    if ((rc = cli_dashboard_attach(*out, tap, err)) < 0) {
        cli_dashboard_free(*out);
        *out = NULL;
    }
    return rc;
}

void cli_dashboard_free(cli_dashboard *d)
{
    if (!d)
        return;
    cli_dashboard_close(d);
    dash_agg_free(&d->agg);
    view_free(&d->v);
    free(d);
}

/* ---- replay pacing ----------------------------------------------------- */

bool cli_pace_parse(const char *s, double *speed)
{
    if (strcmp(s, "max") == 0) {
        *speed = 0;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 1e6)
        return false;
    *speed = v;
    return true;
}

void cli_pace_init(cli_pace *p, double speed)
{
    memset(p, 0, sizeof *p);
    p->speed = speed;
}

int cli_pace_wait(cli_pace *p, uint64_t ts_us, cli_dashboard *d)
{
    cli_dashboard_clock(d, ts_us);
    if (p->speed > 0) {
        if (!p->started) {
            p->started = true;
            p->ts0_us = ts_us;
            p->wall0_ns = mono_ns();
        } else if (ts_us > p->ts0_us) {
            double after = (double)(ts_us - p->ts0_us) * 1000.0 / p->speed; /* ns */
            uint64_t due = p->wall0_ns + (after < 1e18 ? (uint64_t)after : (uint64_t)1e18);
            uint64_t now;
            while ((now = mono_ns()) < due) {
                uint64_t left = due - now;
                if (left > 20000000u)
                    left = 20000000u; /* tick the dashboard at least every 20 ms */
                struct timespec ts = {0, (long)left};
                nanosleep(&ts, NULL);
                if (d && cli_dashboard_tick(d) == CLI_DASH_QUIT)
                    return CLI_DASH_QUIT;
            }
        }
    }
    return d ? cli_dashboard_tick(d) : CLI_DASH_CONTINUE;
}
