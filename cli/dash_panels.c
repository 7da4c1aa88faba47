/* dash_panels.c - the dashboard's layout and panels, drawn with ncursesw from a snapshot.
 *
 * Every panel is a rectangle: a title row, then content rows, drawn with
 * the pen of dash_text.c.
 *
 * Layout: at 120 columns or more, traffic / verdicts / timeline / alerts on
 * the left and services / destinations on the right; below that, stacked,
 * with services and destinations side by side. Every panel keeps at least
 * its title row down to 60x16.
 */
#define NCURSES_WIDECHAR 1

#include "cli/dash_int.h"

#if DASH_CURSES

#include <curses.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* ---- layout ------------------------------------------------------------ */

typedef struct layout {
    bool too_small;
    rect traffic, verdicts, timeline, services, dest, alerts;
} layout;

#define MIN_ROWS 16
#define MIN_COLS 60
#define WIDE_COLS 120

static rect mk(int y, int x, int h, int w)
{
    rect r = {y, x, h > 0 ? h : 0, w > 0 ? w : 0};
    return r;
}

static void compute_layout(int rows, int cols, layout *L)
{
    memset(L, 0, sizeof *L);
    if (rows < MIN_ROWS || cols < MIN_COLS) {
        L->too_small = true;
        return;
    }
    int top = 1, avail = rows - 2; /* header and footer rows */
    if (cols >= WIDE_COLS && rows >= 24) {
        int rw = cols / 2 - 4; /* destinations want room for IPv6 hosts */
        rw = rw < 48 ? 48 : rw > 90 ? 90 : rw;
        int lw = cols - rw - 1;
        L->traffic = mk(top, 0, 4, lw);
        L->verdicts = mk(top + 4, 0, 4, lw);
        L->timeline = mk(top + 8, 0, 4, lw);
        L->alerts = mk(top + 12, 0, avail - 12, lw);
        int sh = avail / 2;
        L->services = mk(top, lw + 1, sh, rw);
        L->dest = mk(top + sh, lw + 1, avail - sh, rw);
    } else {
        L->traffic = mk(top, 0, 4, cols);
        L->verdicts = mk(top + 4, 0, 4, cols);
        L->timeline = mk(top + 8, 0, 4, cols);
        int rest = avail - 12, lh = rest / 2;
        int sw = cols * 3 / 7; /* 34 of 80 */
        L->services = mk(top + 12, 0, lh, sw);
        L->dest = mk(top + 12, sw + 1, lh, cols - sw - 1);
        L->alerts = mk(top + 12 + lh, 0, rest - lh, cols);
    }
}

/* ---- sparklines -------------------------------------------------------- */

/* The newest `w` bins of a rate ring, right-aligned. Returns the newest value. */
static double draw_rate_spark(const cli_dashboard *d, pen *p, const dash_rate *r, bool bytes)
{
    int w = p->end - p->x;
    if (w <= 0 || r->n == 0)
        return 0;
    unsigned shown_n = r->n < (unsigned)w ? r->n : (unsigned)w;
    double max = 0;
    for (unsigned i = 0; i < shown_n; i++) {
        unsigned k = (r->head + DASH_RATE_N - 1 - i) % DASH_RATE_N;
        double v = bytes ? r->by[k] : r->pk[k];
        if (v > max)
            max = v;
    }
    int x0 = p->x + w - (int)shown_n;
    dash_style(d, ST_GOOD);
    for (unsigned i = 0; i < shown_n; i++) {
        unsigned k = (r->head + DASH_RATE_N - shown_n + i) % DASH_RATE_N;
        double v = bytes ? r->by[k] : r->pk[k];
        if (v <= 0 || max <= 0)
            continue;
        int level = (int)(v / max * 8.0 + 0.999) - 1;
        dash_put_char(d, p->y, x0 + (int)i, dash_block(d, level));
    }
    p->x = p->end;
    unsigned newest = (r->head + DASH_RATE_N - 1) % DASH_RATE_N;
    return bytes ? r->by[newest] : r->pk[newest];
}

/* ---- panels ------------------------------------------------------------ */

static void draw_traffic(const cli_dashboard *d, rect r)
{
    const dash_view *v = &d->v;
    const tt_analyzer_stats *a = &v->st.analyzer;
    char pk[24], by[24], fl[24], act[24], note[160];
    dash_fmt_count(a->packets, pk, sizeof pk);
    dash_fmt_bytes(a->bytes, by, sizeof by);
    dash_fmt_count(a->flows_created, fl, sizeof fl);
    dash_fmt_count(a->flows_active, act, sizeof act);
    snprintf(note, sizeof note, "%s packets, %s, %s flows (%s active)", pk, by, fl, act);
    dash_title(d, r, "Traffic", note);
    for (int row = 0; row < 2 && row + 1 < r.h; row++) {
        pen p = dash_pen_at(d, r.y + 1 + row, r.x, r.w);
        dash_pen_put(&p, ST_NORMAL, row ? " bytes/s   " : " packets/s ");
        pen ps = dash_pen_at(d, p.y, r.x + 20, r.w - 20);
        double now = draw_rate_spark(d, &ps, &v->rate, row == 1);
        char val[24];
        dash_fmt_rate(now, val, sizeof val);
        dash_pen_right(&p, ST_BOLD, 8, val);
    }
    if (r.h < 4)
        return;
    const tt_tap_stats *s = &v->st;
    uint64_t drops = s->dropped_full + s->dropped_oversize, loss = a->loss_reported;
    double fill = s->ring_capacity ? 100.0 * (double)s->ring_used / (double)s->ring_capacity : 0;
    char inf[24], dr[24], lo[24];
    dash_fmt_count(s->in_flight, inf, sizeof inf);
    dash_fmt_count(drops, dr, sizeof dr);
    dash_fmt_count(loss, lo, sizeof lo);
    pen p = dash_pen_at(d, r.y + 3, r.x, r.w);
    dash_pen_put(&p, ST_NORMAL, " ring ");
    dash_pen_printf(&p, fill >= 90 ? ST_BAD : fill >= 50 ? ST_WARN : ST_NORMAL, "%.1f%%", fill);
    dash_pen_printf(&p, ST_NORMAL, "  in flight %s  copies dropped ", inf);
    dash_pen_put(&p, drops ? ST_BAD : ST_NORMAL, dr);
    dash_pen_put(&p, ST_NORMAL, "  capture drops ");
    dash_pen_put(&p, loss ? ST_BAD : ST_NORMAL, lo);
    if (drops || loss) {
        dash_pen_put(&p, ST_NORMAL, "  ");
        dash_pen_put(&p, ST_BANNER, " EVIDENCE INCOMPLETE: failures near drops are uncertain ");
    }
}

static const int proto_rows[3] = {CLI_P_TCP, CLI_P_UDP, CLI_P_ICMP};
static const char *const proto_labels[3] = {" TCP ", " UDP ", " ICMP"};

static void draw_verdicts(const cli_dashboard *d, rect r)
{
    const dash_snap *s = &d->v.snap;
    uint64_t other = 0;
    for (int v = 0; v < TT_VERDICT_COUNT; v++)
        other += s->count[CLI_P_OTHER][v];
    char note[160];
    int n = snprintf(note, sizeof note, "%" PRIu64 " judged, %" PRIu64 " pending", s->judged,
                     d->v.st.analyzer.by_verdict[TT_VERDICT_PENDING]);
    if (other && n > 0 && (size_t)n < sizeof note)
        snprintf(note + n, sizeof note - (size_t)n, ", %" PRIu64 " other protocols", other);
    dash_title(d, r, "Flows by verdict", note);
    for (int i = 0; i < 3 && i + 1 < r.h; i++) {
        int pc = proto_rows[i];
        uint64_t total = 0;
        for (int v = 0; v < TT_VERDICT_COUNT; v++)
            total += s->count[pc][v];
        pen p = dash_pen_at(d, r.y + 1 + i, r.x, r.w);
        dash_pen_put(&p, ST_BOLD, proto_labels[i]);
        char t[24];
        dash_fmt_count(total, t, sizeof t);
        dash_pen_right(&p, ST_NORMAL, 7, t);
        if (!total) {
            dash_pen_put(&p, ST_DIM, "  -");
            continue;
        }
        for (int v = 1; v < TT_VERDICT_COUNT; v++) {
            uint64_t c = s->count[pc][v];
            if (!c)
                continue;
            bool fail = tt_verdict_is_failure((tt_verdict)v);
            dash_pen_printf(&p, fail ? ST_BAD : ST_GOOD, "  %s %" PRIu64,
                            tt_verdict_name((tt_verdict)v), c);
            if (s->uncertain[pc][v])
                dash_pen_printf(&p, ST_WARN, " (%" PRIu64 " uncertain)", s->uncertain[pc][v]);
        }
    }
}

/* Column of an instant on the timeline; -1 when outside. */
static int tl_col(uint64_t us, uint64_t t0, unsigned k, int ncols)
{
    uint64_t sec = us / 1000000u;
    if (sec < t0)
        return -1;
    uint64_t col = (sec - t0) / k;
    return col < (uint64_t)ncols ? (int)col : -1;
}

static void draw_timeline(const cli_dashboard *d, rect r)
{
    const dash_view *v = &d->v;
    int label_w = 15, value_w = 6;
    int W = r.w - label_w - value_w;
    if (W < 1)
        W = 1;
    uint64_t t0 = v->ntl ? v->tl[0].start_us / 1000000u : 0;
    uint64_t tend = v->ntl ? v->tl[v->ntl - 1].start_us / 1000000u : 0;
    if (v->ntl && v->clock_us / 1000000u > tend && v->clock_us / 1000000u - tend < 3600)
        tend = v->clock_us / 1000000u; /* up to now: the newest seconds have no verdicts yet */
    uint64_t span = v->ntl ? tend - t0 + 1 : 0;
    unsigned k = span > (uint64_t)W ? (unsigned)((span + (uint64_t)W - 1) / (uint64_t)W) : 1;
    int ncols = (int)((span + k - 1) / k);

    char note[200];
    const tt_marker *last = v->nmarks ? &v->marks[v->nmarks - 1] : NULL;
    int n = snprintf(note, sizeof note, "answer rates by flow start, 1 col = %u s", k);
    if (n > 0 && (size_t)n < sizeof note)
        snprintf(note + n, sizeof note - (size_t)n, ", %u marker%s", v->nmarks,
                 v->nmarks == 1 ? "" : "s");
    dash_title(d, r, "Timeline", note);
    if (r.h < 2)
        return;

    /* markers row: a glyph at each marker's second, the newest one's label */
    pen p = dash_pen_at(d, r.y + 1, r.x, r.w);
    dash_pen_put(&p, ST_DIM, " markers");
    int x0 = r.x + label_w, last_col = -1;
    for (unsigned i = 0; i < v->nalerts; i++) {
        const tt_alert *a = &v->alerts[i];
        int c = a->has_marker || a->recovery ? -1 : tl_col(a->ts_us, t0, k, ncols);
        if (c >= 0 && c < W) {
            dash_style(d, ST_BAD);
            dash_put_char(d, p.y, x0 + c,
                          d->utf8 ? 0x25c6 : '*'); /* change found without a marker */
        }
    }
    for (unsigned i = 0; i < v->nmarks; i++) {
        int c = tl_col(v->marks[i].ts_us, t0, k, ncols);
        if (c >= 0 && c < W) {
            dash_style(d, ST_MARK);
            dash_put_char(d, p.y, x0 + c, d->utf8 ? 0x25bc : 'v');
            if (&v->marks[i] == last)
                last_col = c;
        }
    }
    if (last) {
        char lab[TT_MARK_LABEL_MAX + 16], hms[16];
        dash_fmt_hms(last->ts_us, hms, sizeof hms);
        snprintf(lab, sizeof lab, "%s %s", hms, last->label);
        int lw = dash_text_width(d, lab, strlen(lab));
        int room_right = W - (last_col + 2);
        if (lw > room_right && lw > last_col - 1) { /* the label alone, then */
            snprintf(lab, sizeof lab, "%s", last->label);
            lw = dash_text_width(d, lab, strlen(lab));
        }
        pen lp;
        if (last_col >= 0 && room_right >= lw)
            lp = dash_pen_at(d, p.y, x0 + last_col + 2, room_right);
        else if (last_col >= 0 && last_col - 1 >= lw)
            lp = dash_pen_at(d, p.y, x0 + last_col - 1 - lw, lw);
        else if (last_col >= 0 && room_right >= last_col - 1)
            lp = dash_pen_at(d, p.y, x0 + last_col + 2, room_right);
        else if (last_col >= 0)
            lp = dash_pen_at(d, p.y, x0, last_col - 1);
        else
            lp = dash_pen_at(d, p.y, x0, W); /* outside the timeline: the label alone */
        dash_pen_put(&lp, ST_MARK, lab);
    }

    for (int row = 0; row < 2 && row + 2 < r.h; row++) {
        pen q = dash_pen_at(d, r.y + 2 + row, r.x, r.w);
        dash_pen_put(&q, ST_NORMAL, row ? " TCP completed" : " UDP answered");
        double lastrate = -1;
        for (int c = 0; c < ncols && c < W; c++) {
            uint64_t ok = 0, judged = 0;
            for (unsigned s = 0; s < k; s++) {
                uint64_t idx = (uint64_t)c * k + s;
                if (idx >= v->ntl)
                    break;
                const tt_timeline_bucket *b = &v->tl[idx];
                ok += row ? b->tcp_completed : b->udp_answered;
                judged += row ? b->tcp_judged : b->udp_judged;
            }
            if (!judged)
                continue;
            double rate = (double)ok / (double)judged;
            lastrate = rate;
            dash_style(d, rate >= 0.9 ? ST_GOOD : rate >= 0.5 ? ST_WARN : ST_BAD);
            dash_put_char(d, q.y, x0 + c, dash_block(d, (int)(rate * 7.0 + 0.5)));
        }
        if (lastrate >= 0) {
            pen vp = dash_pen_at(d, q.y, r.x + r.w - value_w, value_w);
            char val[16];
            snprintf(val, sizeof val, "%.0f%%", lastrate * 100.0);
            dash_pen_right(&vp,
                           lastrate >= 0.9   ? ST_GOOD
                           : lastrate >= 0.5 ? ST_WARN
                                             : ST_BAD,
                           value_w, val);
        }
    }
}

static void draw_filter_note(const cli_dashboard *d, char *note, size_t len, const char *what)
{
    int n = snprintf(note, len, "%s%ssort: %s", what ? what : "", what ? ", " : "",
                     dash_sort_name(d->sort));
    if (d->filter[0] && n > 0 && (size_t)n < len)
        snprintf(note + n, len - (size_t)n, ", filter: %s", d->filter);
}

static void empty_line(const cli_dashboard *d, rect r, int row, bool any)
{
    pen p = dash_pen_at(d, r.y + row, r.x, r.w);
    dash_pen_put(&p, ST_DIM,
                 !any           ? " no judged flows yet"
                 : d->filter[0] ? " nothing matches the filter ('/' then Enter clears it)"
                                : " none");
}

static void draw_services(const cli_dashboard *d, rect r)
{
    const dash_view *v = &d->v;
    char note[160];
    draw_filter_note(d, note, sizeof note, NULL);
    dash_title(d, r, "Services", note);
    if (r.h < 2)
        return;
    int cw = r.w >= 44 ? 7 : 6; /* counts; unc. and rate one less */
    int nw = r.w - 4 * cw + 1;
    if (nw < 6)
        nw = 6;
    pen h = dash_pen_at(d, r.y + 1, r.x, r.w);
    dash_pen_put(&h, ST_DIM, " service");
    dash_pen_tab(&h, r.x, nw);
    dash_pen_right(&h, ST_DIM, cw, "flows");
    dash_pen_right(&h, ST_DIM, cw, cw > 6 ? "failed" : "fail");
    dash_pen_right(&h, ST_DIM, cw - 1, "unc.");
    dash_pen_right(&h, ST_DIM, cw - 1, "rate");
    int rows = r.h - 2;
    if (v->nsvc == 0 && rows > 0)
        empty_line(d, r, 2, v->snap.judged > 0);
    for (int i = 0; i < rows && (size_t)i < v->nsvc; i++) {
        const dash_row *s = &v->svc[i];
        pen p = dash_pen_at(d, r.y + 2 + i, r.x, r.w);
        if (i == rows - 1 && v->nsvc > (size_t)rows) {
            dash_pen_printf(&p, ST_DIM, " ... %zu more", v->nsvc - (size_t)i);
            break;
        }
        pen np = dash_pen_at(d, p.y, r.x + 1, nw - 2);
        dash_pen_put(&np, ST_NORMAL, s->name);
        p.x = r.x + nw;
        char a[24], b[24], c[24], e[16];
        dash_fmt_count(s->flows, a, sizeof a);
        dash_fmt_count(s->failed, b, sizeof b);
        dash_fmt_count(s->uncertain, c, sizeof c);
        double rate = s->flows ? 100.0 * (double)s->failed / (double)s->flows : 0;
        snprintf(e, sizeof e, "%.0f%%", rate);
        dash_pen_right(&p, ST_NORMAL, cw, a);
        dash_pen_right(&p, s->failed ? ST_BAD : ST_NORMAL, cw, b);
        if (s->uncertain) {
            char cc[28];
            snprintf(cc, sizeof cc, "+%s", c);
            dash_pen_right(&p, ST_WARN, cw - 1, cc);
        } else {
            dash_pen_right(&p, ST_DIM, cw - 1, "-");
        }
        dash_pen_right(&p, rate >= 50 ? ST_BAD : rate >= 10 ? ST_WARN : ST_GOOD, cw - 1, e);
    }
}

static void draw_dest(const cli_dashboard *d, rect r)
{
    const dash_view *v = &d->v;
    char note[160];
    draw_filter_note(d, note, sizeof note, NULL);
    dash_title(d, r, "Destinations", note);
    if (r.h < 2)
        return;
    bool worst = r.w >= 64, service = r.w >= 56;
    int sw = service ? 10 : 0; /* the service column, with its gap */
    int fixed = sw + 12 + 6 + (worst ? 16 : 0) + 1;
    int dw = r.w - fixed;
    if (dw < 12)
        dw = 12;
    pen h = dash_pen_at(d, r.y + 1, r.x, r.w);
    dash_pen_put(&h, ST_DIM, " destination");
    if (service) {
        dash_pen_tab(&h, r.x, dw + 1);
        dash_pen_put(&h, ST_DIM, "service");
    }
    dash_pen_tab(&h, r.x, dw + 1 + sw);
    dash_pen_right(&h, ST_DIM, 12, "failed/flows");
    dash_pen_right(&h, ST_DIM, 6, "unc.");
    if (worst)
        dash_pen_put(&h, ST_DIM, "  mostly");
    int rows = r.h - 2;
    if (v->ndest == 0 && rows > 0)
        empty_line(d, r, 2, v->snap.judged > 0);
    for (int i = 0; i < rows && (size_t)i < v->ndest; i++) {
        const dash_row *e = &v->dest[i];
        pen p = dash_pen_at(d, r.y + 2 + i, r.x, r.w);
        if (i == rows - 1 && v->ndest > (size_t)rows) {
            dash_pen_printf(&p, ST_DIM, " ... %zu more", v->ndest - (size_t)i);
            break;
        }
        /* the host is cut before the proto/port is */
        int ww = dash_text_width(d, e->where, strlen(e->where));
        pen hp = dash_pen_at(d, p.y, r.x + 1, dw - ww - 2);
        dash_pen_put(&hp, e->failed ? ST_BOLD : ST_NORMAL, e->name);
        pen wp = dash_pen_at(d, p.y, hp.x + 1, ww);
        dash_pen_put(&wp, ST_NORMAL, e->where);
        if (service && e->ports) {
            /* a host's ports in one row: how many, in the column and its gap */
            pen sp = dash_pen_at(d, p.y, r.x + dw + 1, sw);
            char ports[24];
            if (e->ports < 10000)
                snprintf(ports, sizeof ports, "%u ports", (unsigned)e->ports);
            else
                snprintf(ports, sizeof ports, "%uk ports", (unsigned)(e->ports / 1000));
            dash_pen_put(&sp, ST_DIM, ports);
        } else if (service) {
            pen sp = dash_pen_at(d, p.y, r.x + dw + 1, sw - 1);
            dash_pen_put(&sp, ST_DIM, e->service ? e->service : "-");
        }
        p.x = r.x + dw + 1 + sw;
        char a[24], b[24], fo[52];
        dash_fmt_count(e->failed, a, sizeof a);
        dash_fmt_count(e->flows, b, sizeof b);
        snprintf(fo, sizeof fo, "%s/%s", a, b);
        dash_pen_right(&p, e->failed ? ST_BAD : ST_NORMAL, 12, fo);
        if (e->uncertain) {
            char c[24], cc[28];
            dash_fmt_count(e->uncertain, c, sizeof c);
            snprintf(cc, sizeof cc, "+%s", c);
            dash_pen_right(&p, ST_WARN, 6, cc);
        } else {
            dash_pen_right(&p, ST_DIM, 6, "-");
        }
        if (worst && e->worst != TT_VERDICT_PENDING) {
            dash_pen_put(&p, ST_NORMAL, "  ");
            dash_pen_put(&p, e->failed ? ST_BAD : ST_WARN, tt_verdict_name(e->worst));
        }
    }
}

static void draw_alerts(const cli_dashboard *d, rect r)
{
    const dash_view *v = &d->v;
    unsigned reg = 0, rec = 0;
    for (unsigned i = 0; i < v->nalerts; i++)
        v->alerts[i].recovery ? rec++ : reg++;
    char note[160];
    if (v->nalerts)
        snprintf(note, sizeof note, "%u regression%s, %u recover%s, newest first", reg,
                 reg == 1 ? "" : "s", rec, rec == 1 ? "y" : "ies");
    else
        snprintf(note, sizeof note, "%s",
                 v->nmarks ? "none: no regression after any marker so far"
                           : "none (add a marker with 'm' at a filter upgrade)");
    dash_title(d, r, "Alerts", note);
    int y = r.y + 1, left = r.h - 1;
    for (unsigned i = v->nalerts; i-- > 0 && left > 0;) {
        const tt_alert *a = &v->alerts[i];
        char hms[16];
        dash_fmt_hms(a->raised_at_us ? a->raised_at_us : a->ts_us, hms, sizeof hms);
        pen p = dash_pen_at(d, y, r.x, r.w);
        dash_pen_printf(&p, ST_DIM, " %s ", hms);
        int used = dash_wrapped(d, y, r.x + 10, r.w - 10, left, a->recovery ? ST_GOOD : ST_BAD,
                                a->message[0] ? a->message : tt_alert_kind_name(a->kind));
        if (used < 1)
            used = 1;
        y += used;
        left -= used;
    }
}

/* ---- header, footer, help ---------------------------------------------- */

static void draw_header(const cli_dashboard *d, int cols)
{
    pen p = dash_pen_at(d, 0, 0, cols);
    dash_pen_fill(&p, ST_BAR, ' ');
    char right[96], hms[16] = "--:--:--";
    if (d->v.clock_us)
        dash_fmt_hms(d->v.clock_us, hms, sizeof hms);
    snprintf(right, sizeof right, "%s UTC%s ", hms, d->o.replay ? " (packet time)" : "");
    int rw = dash_text_width(d, right, strlen(right));
    const char *badge_text = d->paused ? " PAUSED " : d->held ? " END OF FILE " : "";
    int badge = (int)strlen(badge_text);
    p = dash_pen_at(d, 0, 0, cols - rw - badge - 1);
    dash_pen_put(&p, ST_BAR, " tunneltap ");
    dash_pen_put(&p, ST_BAR, d->title);
    pen q = dash_pen_at(d, 0, cols - rw - badge - 1, rw + badge + 1);
    dash_pen_put(&q, ST_BANNER, badge_text);
    dash_pen_put(&q, ST_BAR, " ");
    dash_pen_put(&q, ST_BAR, right);
}

static void draw_footer(const cli_dashboard *d, int rows, int cols)
{
    int y = rows - 1;
    pen p = dash_pen_at(d, y, 0, cols);
    if (d->mode == DASH_MODE_MARK || d->mode == DASH_MODE_FILTER) {
        dash_pen_put(&p, ST_BOLD, d->mode == DASH_MODE_MARK ? " marker label: " : " filter: ");
        dash_pen_put(&p, ST_NORMAL, d->input);
        int cx = p.x;
        pen hint = dash_pen_at(d, y, p.x + 2, cols - p.x - 2);
        dash_pen_put(&hint, ST_DIM,
                     d->mode == DASH_MODE_MARK
                         ? "(Enter adds the marker, Esc cancels)"
                         : "(host, port or service; empty: all; Esc cancels)");
        move(y, cx < cols ? cx : cols - 1);
        return;
    }
    if (d->held && d->hold_status[0]) {
        dash_pen_put(&p, ST_BANNER, " ");
        dash_pen_put(&p, ST_BANNER, d->hold_status);
        dash_pen_put(&p, ST_BANNER, " ");
        dash_pen_put(&p, ST_NORMAL, " ");
    }
    if (d->msg[0]) {
        dash_pen_put(&p, ST_WARN, " ");
        dash_pen_put(&p, ST_WARN, d->msg);
        return;
    }
    dash_pen_put(&p, ST_BOLD, " q");
    dash_pen_put(&p, ST_NORMAL, " quit ");
    if (!d->held) {
        dash_pen_put(&p, ST_BOLD, " m");
        dash_pen_put(&p, ST_NORMAL, " marker ");
    }
    dash_pen_put(&p, ST_BOLD, " p");
    dash_pen_put(&p, ST_NORMAL, d->paused ? " resume " : " pause ");
    dash_pen_put(&p, ST_BOLD, " s");
    dash_pen_printf(&p, ST_NORMAL, " sort (%s) ", dash_sort_name(d->sort));
    dash_pen_put(&p, ST_BOLD, " /");
    dash_pen_put(&p, ST_NORMAL, " filter ");
    dash_pen_put(&p, ST_BOLD, " ?");
    dash_pen_put(&p, ST_NORMAL, " help");
    if (dash_stderr_pending(d))
        dash_pen_put(&p, ST_WARN, "   messages on stderr: shown at exit");
}

static void draw_help(const cli_dashboard *d, int rows, int cols)
{
    static const char *const lines[] = {
        "tunneltap dashboard: keys",
        "",
        "q      quit (the command then finishes and writes its outputs)",
        "m      add a marker (filter upgrade): type a label, Enter",
        "p      pause / resume the view (the analysis goes on)",
        "s      sort services and destinations: failures, flows, name",
        "/      filter by host, port or service (empty: everything)",
        "?      this help     Ctrl-L  redraw the screen",
        "",
        "Timeline: answer rates by flow start; green >= 90 %, yellow",
        ">= 50 %, red below. \xe2\x96\xbc a marker, \xe2\x97\x86 a change found without one.",
        "uncertain: a failure that may be a capture artifact (drops,",
        "snapshot length, capture end): not counted as broken.",
        "",
        "any key closes this help",
    };
    int n = (int)(sizeof lines / sizeof lines[0]);
    int w = cols - 4 < 66 ? cols - 4 : 66, h = n + 2;
    if (h > rows - 2)
        h = rows - 2;
    int y0 = (rows - h) / 2, x0 = (cols - w) / 2;
    for (int i = 0; i < h; i++) {
        pen p = dash_pen_at(d, y0 + i, x0, w);
        dash_pen_fill(&p, ST_BAR, ' ');
        if (i >= 1 && i - 1 < n && i < h - 1) {
            pen q = dash_pen_at(d, y0 + i, x0 + 2, w - 4);
            dash_pen_put(&q, i == 1 ? ST_BANNER : ST_BAR, lines[i - 1]);
        }
    }
}

void dash_draw(cli_dashboard *d)
{
    int rows = LINES, cols = COLS;
    erase();
    layout L;
    compute_layout(rows, cols, &L);
    if (L.too_small) {
        char m[128];
        snprintf(m, sizeof m, "terminal %dx%d is too small: the dashboard needs %dx%d (q quits)",
                 cols, rows, MIN_COLS, MIN_ROWS);
        dash_wrapped(d, rows / 2 > 0 ? rows / 2 - 1 : 0, 1, cols - 2, rows, ST_BOLD, m);
    } else {
        draw_header(d, cols);
        draw_traffic(d, L.traffic);
        draw_verdicts(d, L.verdicts);
        draw_timeline(d, L.timeline);
        draw_services(d, L.services);
        draw_dest(d, L.dest);
        draw_alerts(d, L.alerts);
        if (d->mode == DASH_MODE_HELP)
            draw_help(d, rows, cols);
    }
    bool prompt = d->mode == DASH_MODE_MARK || d->mode == DASH_MODE_FILTER;
    draw_footer(d, rows, cols);
    dash_style(d, ST_NORMAL);
    curs_set(prompt ? 1 : 0);
    refresh();
}

#else /* !DASH_CURSES */

void dash_draw(cli_dashboard *d)
{
    (void)d;
}

#endif
