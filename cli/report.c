/* report.c - writes the self-contained HTML report: an SVG timeline and the tables behind it.
 *
 * The page is plain HTML with inline CSS and inline SVG: no script, no
 * external resource, so it renders offline and survives being mailed. All
 * text from the data (labels, messages, services, titles) goes through
 * put_esc(). The chart has two panels sharing the time axis:
 *
 *     legend, marker labels, alert labels
 *     +---------------------------------------------+  answer rates, 0..100 %
 *     | UDP answered / judged, TCP completed / judged|  (gaps: nothing judged)
 *     +---------------------------------------------+
 *     +---------------------------------------------+  new flows per second
 *     | all new flows (area), new UDP flows (line)   |  (zeros are real here)
 *     +---------------------------------------------+
 *     time axis (UTC)
 *
 * Markers are the only <line> elements of the chart (one each); grid, ticks
 * and alert rules are <path>s. Every bin has a transparent hover rectangle
 * whose <title> gives its numbers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/report.h"

#define US UINT64_C(1000000)

/* ---- output helpers ---------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void pf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
}

/* Writes at most max characters of s (0: all) HTML-escaped; a cut string
 * ends with an ellipsis. Control characters (invalid in XML) become '?'. */
static void put_esc_max(FILE *f, const char *s, size_t max)
{
    size_t chars = 0;
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0u) != 0x80u && max && ++chars > max) {
            fputs("\xE2\x80\xA6", f); /* … */
            return;
        }
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p, f);
        }
    }
}

static void put_esc(FILE *f, const char *s)
{
    put_esc_max(f, s, 0);
}

/* Characters of a UTF-8 string (for label widths). */
static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0u) != 0x80u;
    return n;
}

/* style 0: "2025-11-27 12:03:05.123"; 1: "12:03:05"; 2: "12:03"; 3: "11-27 12:03" */
static void fmt_time(uint64_t us, int style, char *buf, size_t len)
{
    time_t t = (time_t)(us / US);
    struct tm tm;
    size_t n = 0;
    if (gmtime_r(&t, &tm)) {
        switch (style) {
        case 0:
            n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
            break;
        case 1:
            n = strftime(buf, len, "%H:%M:%S", &tm);
            break;
        case 2:
            n = strftime(buf, len, "%H:%M", &tm);
            break;
        default:
            n = strftime(buf, len, "%m-%d %H:%M", &tm);
            break;
        }
    }
    if (!n) {
        snprintf(buf, len, "?");
        return;
    }
    if (style == 0)
        snprintf(buf + n, len - n, ".%03u", (unsigned)(us % US / 1000u));
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ---- timeline bins ----------------------------------------------------- */

/* Counters of one bin (or one period), summed over seconds. */
typedef struct sums {
    uint64_t flows_new, udp_new, udp_judged, udp_answered, udp_unanswered, udp_unreachable;
    uint64_t tcp_judged, tcp_completed, tcp_syn_unanswered, tcp_syn_rejected, tcp_synack_unacked;
    uint64_t uncertain;
} sums;

static void sums_add(sums *s, const tt_timeline_bucket *b)
{
    s->flows_new += b->flows_new;
    s->udp_new += b->udp_new;
    s->udp_judged += b->udp_judged;
    s->udp_answered += b->udp_answered;
    s->udp_unanswered += b->udp_unanswered;
    s->udp_unreachable += b->udp_unreachable;
    s->tcp_judged += b->tcp_judged;
    s->tcp_completed += b->tcp_completed;
    s->tcp_syn_unanswered += b->tcp_syn_unanswered;
    s->tcp_syn_rejected += b->tcp_syn_rejected;
    s->tcp_synack_unacked += b->tcp_synack_unacked;
    s->uncertain += b->uncertain;
}

typedef struct bin {
    uint64_t from, to; /* the part of the bin the timeline covers */
    sums s;
} bin;

typedef struct chart {
    uint64_t t0, t1;  /* timeline coverage: first second .. end of the last */
    uint64_t d0, d1;  /* x domain (coverage, widened for nearby markers/alerts) */
    uint32_t width_s; /* bin width */
    bin *bins;
    size_t nbins;
    double max_rate;                                  /* new flows/s, highest bin */
    int mlane_y, alane_y, p1_top, p2_top, axis_y, vh; /* set by layout() */
} chart;

static void layout(chart *c, const cli_report_input *in);

/* Bin widths that read well on a time axis. */
static const uint32_t nice_s[] = {1,   2,   5,    10,   15,   30,    60,    120,   300,
                                  600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};

static int chart_build(chart *c, const cli_report_input *in)
{
    memset(c, 0, sizeof *c);
    if (!in->timeline || !in->nbuckets)
        return 0;
    c->t0 = UINT64_MAX;
    for (unsigned i = 0; i < in->nbuckets; i++) {
        uint64_t s = in->timeline[i].start_us / US * US;
        c->t0 = s < c->t0 ? s : c->t0;
        c->t1 = s + US > c->t1 ? s + US : c->t1;
    }
    uint64_t span = (c->t1 - c->t0) / US;
    c->width_s = 0;
    for (size_t i = 0; i < sizeof nice_s / sizeof nice_s[0] && !c->width_s; i++) {
        if ((span + nice_s[i] - 1) / nice_s[i] <= CLI_REPORT_MAX_BINS)
            c->width_s = nice_s[i];
    }
    if (!c->width_s)
        c->width_s =
            (uint32_t)((span + CLI_REPORT_MAX_BINS - 1) / CLI_REPORT_MAX_BINS / 86400 + 1) * 86400u;
    uint64_t w = (uint64_t)c->width_s * US, b0 = c->t0 / w * w;
    c->nbins = (size_t)((c->t1 - 1 - b0) / w + 1);
    c->bins = calloc(c->nbins, sizeof *c->bins);
    if (!c->bins)
        return TT_ENOMEM;
    for (size_t i = 0; i < c->nbins; i++) {
        uint64_t from = b0 + i * w, to = from + w;
        c->bins[i].from = from > c->t0 ? from : c->t0;
        c->bins[i].to = to < c->t1 ? to : c->t1;
    }
    for (unsigned i = 0; i < in->nbuckets; i++)
        sums_add(&c->bins[(in->timeline[i].start_us - b0) / w].s, &in->timeline[i]);
    for (size_t i = 0; i < c->nbins; i++) {
        double secs = (double)(c->bins[i].to - c->bins[i].from) / US;
        double r = (double)c->bins[i].s.flows_new / secs;
        c->max_rate = r > c->max_rate ? r : c->max_rate;
    }

    /* Markers and alerts near the timeline widen the domain; far ones would
     * squash it and are only listed in the tables. */
    c->d0 = c->t0;
    c->d1 = c->t1;
    uint64_t slack = (c->t1 - c->t0) / 2 + 10 * US;
    for (unsigned i = 0; i < in->nmarkers + in->nalerts; i++) {
        uint64_t t = i < in->nmarkers ? in->markers[i].ts_us : in->alerts[i - in->nmarkers].ts_us;
        if (t + slack >= c->t0 && t <= c->t1 + slack) {
            c->d0 = t < c->d0 ? t / US * US : c->d0;
            c->d1 = t + US > c->d1 ? (t / US + 1) * US : c->d1;
        }
    }
    if (c->d1 - c->d0 < 10 * US)
        c->d1 = c->d0 + 10 * US;
    layout(c, in);
    return 0;
}

static bool in_domain(const chart *c, uint64_t t)
{
    return c->nbins && t >= c->d0 && t <= c->d1;
}

/* ---- the SVG ----------------------------------------------------------- */

/* Geometry (viewBox units; the SVG scales to the page width). The label
 * lanes above the plot take only the room their labels need (layout()). */
enum {
    VW = 1000,
    PL = 64,  /* left of the plot */
    PR = 976, /* right of the plot */
    LANE_H = 15,
    MLANES = 3, /* marker label lanes, at most */
    ALANES = 2, /* alert label lanes, at most */
    P1_H = 230,
    P2_H = 150,
};

#define C_UDP "#0b62a4"
#define C_TCP "#d55e00"
#define C_ALL "#9a9a9a"
#define C_MARK "#222"
#define C_BAD "#c1121f"
#define C_GOOD "#1a7f37"

/* y of a rate (0..1) in the upper panel; 0 % and 100 % sit inside the
 * frame so that a series there stays visible. */
static double y_rate(const chart *c, double r)
{
    enum { PAD = 8 };
    return c->p1_top + PAD + (1 - r) * (P1_H - 2 * PAD);
}

static double xof(const chart *c, uint64_t t)
{
    double f = (double)((int64_t)(t - c->d0)) / (double)(c->d1 - c->d0);
    return PL + f * (PR - PL);
}

/* Label lanes: a label goes into the first lane where it does not overlap. */
typedef struct lanes {
    double end[MLANES];
    int n;
} lanes;

static int lane_for(lanes *l, double x0, double x1)
{
    for (int i = 0; i < l->n; i++) {
        if (x0 > l->end[i] + 6) {
            l->end[i] = x1;
            return i;
        }
    }
    int i = l->n - 1; /* every lane taken: the last one, overlapping */
    l->end[i] = x1 > l->end[i] ? x1 : l->end[i];
    return i;
}

/* A label of n characters at x: to the right of x, or to its left near the
 * right edge. Sets the extent and returns the text-anchor. */
static const char *label_place(double x, size_t n, double *x0, double *x1)
{
    double w = 6.6 * (double)n + 4;
    if (x + 4 + w > VW - 4) {
        *x0 = x - 4 - w;
        *x1 = x;
        return "end";
    }
    *x0 = x;
    *x1 = x + 4 + w;
    return "start";
}

/* Time ticks: the smallest step giving at most 10 ticks. */
static uint64_t tick_step(const chart *c)
{
    static const uint32_t steps[] = {1,     2,     5,     10,    15,     30,    60,
                                     120,   300,   600,   900,   1800,   3600,  7200,
                                     10800, 21600, 43200, 86400, 172800, 604800};
    uint64_t span = (c->d1 - c->d0) / US;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (span / steps[i] <= 10)
            return steps[i];
    }
    return (span / 10 / 86400 + 1) * 86400;
}

/* A nice upper bound and step (1, 2, 5 x 10^k) for 0..max in about 4 steps. */
static void nice_axis(double max, double *top, double *step)
{
    if (max <= 0)
        max = 1;
    double raw = max / 4, mag = pow(10, floor(log10(raw)));
    double m = raw / mag;
    *step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * mag;
    *top = ceil(max / *step) * *step;
}

/* Share of a bin's judged flows that went well, or -1 when it judged none. */
static double bin_rate(const bin *b, bool udp)
{
    uint64_t judged = udp ? b->s.udp_judged : b->s.tcp_judged;
    if (!judged)
        return -1;
    return pct(udp ? b->s.udp_answered : b->s.tcp_completed, judged) / 100.0;
}

/* One rate series as steps (a bin is a level from its start to its end, so a
 * break shows at the bin edge where it happened), with gaps where a bin judged
 * nothing. A lone bin among gaps also gets a dot so that it stays visible. */
static void rate_series(FILE *f, const chart *c, bool udp, const char *colour)
{
    pf(f,
       "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" "
       "stroke-linejoin=\"round\" d=\"",
       colour, udp ? "3.6" : "1.8");
    bool pen = false;
    for (size_t i = 0; i < c->nbins; i++) {
        double r = bin_rate(&c->bins[i], udp);
        if (r < 0) {
            pen = false;
            continue;
        }
        double y = y_rate(c, r);
        if (pen)
            pf(f, "V%.1f", y); /* riser from the previous bin's level */
        else
            pf(f, "M%.1f %.1f", xof(c, c->bins[i].from), y);
        pf(f, "H%.1f", xof(c, c->bins[i].to));
        pen = true;
    }
    fputs("\"/>\n", f);
    for (size_t i = 0; i < c->nbins; i++) {
        double r = bin_rate(&c->bins[i], udp);
        bool prev = i > 0 && bin_rate(&c->bins[i - 1], udp) >= 0;
        bool next = i + 1 < c->nbins && bin_rate(&c->bins[i + 1], udp) >= 0;
        if (r < 0 || prev || next)
            continue;
        pf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>\n",
           xof(c, (c->bins[i].from + c->bins[i].to) / 2), y_rate(c, r), udp ? "3.8" : "2.6",
           colour);
    }
}

/* New flows per second, as steps: all (grey area) or UDP (line). Zeros are real. */
static void arrival_series(FILE *f, const chart *c, bool udp_only, double top)
{
    if (udp_only)
        pf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", C_UDP);
    else
        pf(f, "<path fill=\"#dcdcdc\" stroke=\"%s\" stroke-width=\"1\" d=\"", C_ALL);
    double base = c->p2_top + P2_H;
    for (size_t i = 0; i < c->nbins; i++) {
        const bin *b = &c->bins[i];
        double secs = (double)(b->to - b->from) / US;
        double v = (double)(udp_only ? b->s.udp_new : b->s.flows_new) / secs;
        double y = base - v / top * P2_H;
        if (i == 0)
            pf(f, "M%.1f %.1f", xof(c, b->from), udp_only ? y : base);
        pf(f, "V%.1fH%.1f", y, xof(c, b->to));
    }
    if (!udp_only)
        pf(f, "V%.1fZ", base);
    fputs("\"/>\n", f);
}

static void legend_item(FILE *f, double *x, const char *swatch, const char *text)
{
    pf(f, "<g transform=\"translate(%.0f,18)\">%s<text x=\"26\" y=\"4\">%s</text></g>\n", *x,
       swatch, text);
    *x += 34 + 6.6 * (double)strlen(text) + 14;
}

static void svg_legend(FILE *f)
{
    double x = PL;
    legend_item(f, &x, "<path d=\"M0 0h20\" stroke=\"" C_UDP "\" stroke-width=\"2.5\"/>",
                "UDP answered");
    legend_item(f, &x, "<path d=\"M0 0h20\" stroke=\"" C_TCP "\" stroke-width=\"2.5\"/>",
                "TCP handshakes completed");
    legend_item(f, &x,
                "<rect x=\"0\" y=\"-6\" width=\"20\" height=\"12\" fill=\"#dcdcdc\" stroke=\"" C_ALL
                "\"/>",
                "new flows/s");
    legend_item(f, &x, "<path d=\"M0 0h20\" stroke=\"" C_UDP "\" stroke-width=\"2\"/>",
                "new UDP flows/s");
    legend_item(f, &x,
                "<path d=\"M10 -8v16\" stroke=\"" C_MARK "\" stroke-width=\"1.6\" "
                "stroke-dasharray=\"4 2\"/>",
                "marker");
    legend_item(f, &x, "<path d=\"M4 -5h12l-6 10z\" fill=\"" C_BAD "\"/>", "regression");
    legend_item(f, &x, "<path d=\"M4 5h12l-6 -10z\" fill=\"" C_GOOD "\"/>", "recovery");
}

static void svg_axes(FILE *f, const chart *c, double top2, double step2)
{
    /* horizontal grid and y labels */
    fputs("<path class=\"grid\" d=\"", f);
    for (int p = 0; p <= 4; p++)
        pf(f, "M%d %.1fH%d", PL, y_rate(c, p / 4.0), PR);
    for (double v = 0; v <= top2 + step2 / 2; v += step2)
        pf(f, "M%d %.1fH%d", PL, c->p2_top + P2_H - v / top2 * P2_H, PR);
    fputs("\"/>\n", f);
    for (int p = 0; p <= 4; p++)
        pf(f, "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">%d %%</text>\n", PL - 6,
           y_rate(c, p / 4.0) + 4, p * 25);
    for (double v = 0; v <= top2 + step2 / 2; v += step2)
        pf(f, "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">%g</text>\n", PL - 6,
           c->p2_top + P2_H - v / top2 * P2_H + 4, v);

    /* time ticks through both panels, labels below */
    uint64_t step = tick_step(c) * US;
    bool days = c->d1 - c->d0 > 86400u * US;
    int style = days ? 3 : step % (60 * US) == 0 ? 2 : 1;
    fputs("<path class=\"vgrid\" d=\"", f);
    for (uint64_t t = (c->d0 + step - 1) / step * step; t <= c->d1; t += step)
        pf(f, "M%.1f %dV%dM%.1f %dV%d", xof(c, t), c->p1_top, c->p1_top + P1_H, xof(c, t),
           c->p2_top, c->axis_y + 5);
    fputs("\"/>\n", f);
    for (uint64_t t = (c->d0 + step - 1) / step * step; t <= c->d1; t += step) {
        char buf[32];
        fmt_time(t, style, buf, sizeof buf);
        double x = xof(c, t); /* near an edge the label is aligned to stay on the page */
        pf(f, "<text class=\"xlab\" x=\"%.1f\" y=\"%d\"%s>%s</text>\n", x, c->axis_y + 19,
           x > VW - 40 ? " style=\"text-anchor:end\""
           : x < 40    ? " style=\"text-anchor:start\""
                       : "",
           buf);
    }
    char day0[32], day1[32];
    fmt_time(c->d0, 0, day0, sizeof day0);
    fmt_time(c->d1, 0, day1, sizeof day1);
    day0[10] = day1[10] = '\0';
    pf(f, "<text class=\"axt\" x=\"%d\" y=\"%d\">time (UTC), %s%s%s</text>\n", (PL + PR) / 2,
       c->axis_y + 42, day0, strcmp(day0, day1) ? " \xE2\x80\x93 " : "",
       strcmp(day0, day1) ? day1 : "");
    pf(f,
       "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n"
       "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
       PL, c->p1_top, PR - PL, P1_H, PL, c->p2_top, PR - PL, P2_H);
    pf(f,
       "<text class=\"ptitle\" x=\"%d\" y=\"%d\">Answered UDP and completed TCP handshakes, "
       "%% of judged flows (per %" PRIu32 " s, by flow start; gaps: nothing judged)</text>\n",
       PL, c->p1_top - 6, c->width_s);
    pf(f,
       "<text class=\"ptitle\" x=\"%d\" y=\"%d\">New flows per second (per %" PRIu32 " s)</text>\n",
       PL, c->p2_top - 6, c->width_s);
}

/* Transparent column per bin whose tooltip gives the bin's numbers. */
static void svg_hover(FILE *f, const chart *c)
{
    for (size_t i = 0; i < c->nbins; i++) {
        const bin *b = &c->bins[i];
        const sums *s = &b->s;
        char t0[32], t1[32];
        fmt_time(b->from, 1, t0, sizeof t0);
        fmt_time(b->to, 1, t1, sizeof t1);
        double x0 = xof(c, b->from), x1 = xof(c, b->to);
        pf(f,
           "<rect class=\"hover\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"><title>%s"
           "\xE2\x80\x93%s UTC\nUDP answered %" PRIu64 " of %" PRIu64 "\nTCP completed %" PRIu64
           " of %" PRIu64 "\nnew flows %" PRIu64 " (UDP %" PRIu64 ")\nuncertain failures %" PRIu64
           "</title></rect>\n",
           x0, c->p1_top, x1 - x0 > 0.5 ? x1 - x0 : 0.5, c->axis_y - c->p1_top, t0, t1,
           s->udp_answered, s->udp_judged, s->tcp_completed, s->tcp_judged, s->flows_new,
           s->udp_new, s->uncertain);
    }
}

/* Draws the markers (f NULL: only places their labels); returns the lanes used. */
static int svg_markers(FILE *f, const chart *c, const cli_report_input *in)
{
    int used = 0;
    lanes l = {.n = MLANES};
    for (int i = 0; i < MLANES; i++)
        l.end[i] = -1e9;
    for (unsigned i = 0; i < in->nmarkers; i++) {
        const tt_marker *m = &in->markers[i];
        if (!in_domain(c, m->ts_us))
            continue;
        double x = xof(c, m->ts_us), x0, x1;
        size_t n = u8len(m->label) < 32 ? u8len(m->label) : 32;
        const char *anchor = label_place(x, n, &x0, &x1);
        int lane = lane_for(&l, x0, x1);
        int y = c->mlane_y + lane * LANE_H;
        used = lane + 1 > used ? lane + 1 : used;
        if (!f)
            continue;
        char t[32];
        fmt_time(m->ts_us, 0, t, sizeof t);
        pf(f,
           "<line class=\"marker\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"><title>marker "
           "\xE2\x80\x9C",
           x, y - 10, x, c->axis_y);
        put_esc(f, m->label);
        pf(f, "\xE2\x80\x9D at %s UTC</title></line>\n", t);
        pf(f, "<text class=\"mlab\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">",
           x + (*anchor == 's' ? 4 : -4), y, anchor);
        put_esc_max(f, m->label, 32);
        fputs("</text>\n", f);
    }
    return used;
}

/* Draws the alerts (f NULL: only places their labels); returns the lanes used. */
static int svg_alerts(FILE *f, const chart *c, const cli_report_input *in)
{
    int used = 0;
    lanes l = {.n = ALANES};
    for (int i = 0; i < ALANES; i++)
        l.end[i] = -1e9;
    for (unsigned i = 0; i < in->nalerts; i++) {
        const tt_alert *a = &in->alerts[i];
        if (!in_domain(c, a->ts_us))
            continue;
        const char *kind = tt_alert_kind_name(a->kind);
        char text[64];
        snprintf(text, sizeof text, "%s%s", kind ? kind : "alert", a->recovery ? " recovered" : "");
        double x = xof(c, a->ts_us), x0, x1;
        const char *anchor = label_place(x + 6, strlen(text), &x0, &x1);
        int lane = lane_for(&l, x0 - 8, x1), y = c->alane_y + lane * LANE_H;
        used = lane + 1 > used ? lane + 1 : used;
        if (!f)
            continue;
        const char *col = a->recovery ? C_GOOD : C_BAD;
        pf(f, "<g class=\"alert\"><title>");
        put_esc(f, a->message);
        pf(f,
           "</title><path d=\"M%.1f %dV%d\" stroke=\"%s\" stroke-width=\"1.2\" "
           "stroke-dasharray=\"2 3\" fill=\"none\"/>",
           x, y + 2, c->axis_y, col);
        if (a->recovery)
            pf(f, "<path d=\"M%.1f %dl6 0l-6 -10l-6 10z\" fill=\"%s\"/>", x, y + 1, col);
        else
            pf(f, "<path d=\"M%.1f %dl6 -10l-12 0z\" fill=\"%s\"/>", x, y + 1, col);
        pf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" fill=\"%s\">%s</text></g>\n",
           *anchor == 's' ? x + 8 : x - 8, y, anchor, col, text);
    }
    return used;
}

/* Vertical layout: the legend, as many label lanes as the labels need, the
 * two panels, the time axis. */
static void layout(chart *c, const cli_report_input *in)
{
    enum { LEGEND_BOTTOM = 30, FIRST_BASELINE = 12, TITLE_ROOM = 20, PANEL_GAP = 36 };
    c->mlane_y = c->alane_y = LEGEND_BOTTOM + FIRST_BASELINE;
    int ml = svg_markers(NULL, c, in);
    c->alane_y = LEGEND_BOTTOM + ml * LANE_H + FIRST_BASELINE;
    int al = svg_alerts(NULL, c, in);
    c->p1_top = LEGEND_BOTTOM + (ml + al) * LANE_H + TITLE_ROOM;
    c->p2_top = c->p1_top + P1_H + PANEL_GAP;
    c->axis_y = c->p2_top + P2_H;
    c->vh = c->axis_y + 50;
}

static void write_svg(FILE *f, const chart *c, const cli_report_input *in)
{
    double top2, step2;
    nice_axis(c->max_rate * 1.15, &top2, &step2); /* headroom above the highest bin */
    pf(f,
       "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
       "aria-label=\"timeline of answer rates and new flows\">\n",
       VW, c->vh);
    svg_legend(f);
    svg_axes(f, c, top2, step2);
    arrival_series(f, c, false, top2);
    arrival_series(f, c, true, top2);
    /* UDP wide underneath, TCP narrower on top: both stay visible where they coincide */
    rate_series(f, c, true, C_UDP);
    rate_series(f, c, false, C_TCP);
    svg_alerts(f, c, in);
    svg_markers(f, c, in);
    svg_hover(f, c);
    fputs("</svg>\n", f);
}

/* ---- before/after periods ---------------------------------------------- */

/* A point the page compares before and after: a marker, or the estimated
 * start of a regression that no marker explains. */
typedef struct change {
    uint64_t ts;
    const char *label; /* marker label, or NULL */
    const tt_alert *alert;
} change;

static int change_cmp(const void *pa, const void *pb)
{
    const change *a = pa, *b = pb;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* Sums of the timeline seconds in [from, to); *secs: seconds of it the timeline covers. */
static sums period(const cli_report_input *in, const chart *c, uint64_t from, uint64_t to,
                   double *secs)
{
    sums s = {0};
    for (unsigned i = 0; i < in->nbuckets; i++) {
        uint64_t t = in->timeline[i].start_us;
        if (t >= from && t < to)
            sums_add(&s, &in->timeline[i]);
    }
    uint64_t a = from > c->t0 ? from : c->t0, b = to < c->t1 ? to : c->t1;
    *secs = b > a ? (double)(b - a) / US : 0;
    return s;
}

static void td_ratio(FILE *f, uint64_t part, uint64_t whole, bool bad)
{
    if (!whole)
        pf(f, "<td class=\"num none\">none judged</td>");
    else
        pf(f, "<td class=\"num%s\">%" PRIu64 " of %" PRIu64 " (%.0f %%)</td>", bad ? " bad" : "",
           part, whole, pct(part, whole));
}

/* A row comparing a rate (higher is better) before and after. */
static void row_rate(FILE *f, const char *what, uint64_t bp, uint64_t bw, uint64_t ap, uint64_t aw)
{
    bool bad = bw && aw >= 3 && pct(bp, bw) - pct(ap, aw) >= 20;
    pf(f, "<tr><th>%s</th>", what);
    td_ratio(f, bp, bw, false);
    td_ratio(f, ap, aw, bad);
    fputs("</tr>\n", f);
}

/* A row comparing a failure count (share of judged; lower is better). */
static void row_fail(FILE *f, const char *what, uint64_t bn, uint64_t bw, uint64_t an, uint64_t aw)
{
    bool bad = an >= 3 && pct(an, aw) - pct(bn, bw) >= 20;
    pf(f,
       "<tr><th>%s</th><td class=\"num\">%" PRIu64 "</td><td class=\"num%s\">%" PRIu64
       "</td></tr>\n",
       what, bn, bad ? " bad" : "", an);
}

static void row_arrivals(FILE *f, const char *what, uint64_t bn, double bs, uint64_t an, double as,
                         bool watch)
{
    double b = bs > 0 ? (double)bn / bs : 0, a = as > 0 ? (double)an / as : 0;
    bool bad = watch && bs > 0 && as > 0 && b >= 0.2 && a < 0.1 * b;
    pf(f, "<tr><th>%s</th><td class=\"num\">%.2f</td><td class=\"num%s\">%.2f</td></tr>\n", what, b,
       bad ? " bad" : "", a);
}

static void flow_cell(FILE *f, const tt_conn *r)
{
    char o[64], d[64];
    tt_conn_addr_str(r, false, o, sizeof o);
    tt_conn_addr_str(r, true, d, sizeof d);
    bool icmp = r->proto == 1 || r->proto == 58;
    pf(f, "<td>%s ", cli_proto_name(r->proto));
    put_esc(f, o);
    if (!icmp)
        pf(f, ":%u", (unsigned)r->orig_p);
    fputs(" \xE2\x86\x92 ", f);
    put_esc(f, d);
    if (icmp)
        pf(f, " type %u", (unsigned)r->orig_p);
    else
        pf(f, ":%u", (unsigned)r->resp_p);
    fputs("</td>", f);
}

/* The first few failed flows in [from, to): where to start in the conn log
 * and the evidence pcapng (same uids). */
static void first_failures(FILE *f, const cli_connbuf *rb, uint64_t from, uint64_t to)
{
    if (!rb || !rb->n)
        return;
    size_t lo = 0, hi = rb->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rb->v[mid].ts_us < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    int shown = 0;
    for (size_t i = lo; i < rb->n && rb->v[i].ts_us < to && shown < 5; i++) {
        const tt_conn *r = &rb->v[i];
        if (!tt_verdict_is_failure(r->verdict))
            continue;
        if (!shown++)
            fputs("<p class=\"sub\">First failed flows after it:</p>\n<div class=\"wrap\"><table>"
                  "<tr><th>start (UTC)</th><th>uid</th><th>flow</th><th>service</th>"
                  "<th>verdict</th><th>certainty</th><th>history</th></tr>\n",
                  f);
        char t[40];
        fmt_time(r->ts_us, 0, t, sizeof t);
        pf(f, "<tr><td>%s</td><td class=\"mono\">", t);
        put_esc(f, r->uid);
        fputs("</td>", f);
        flow_cell(f, r);
        fputs("<td>", f);
        put_esc(f, r->service ? r->service : "-");
        pf(f, "</td><td class=\"fail\">%s</td><td>%s</td><td class=\"mono\">",
           tt_verdict_name(r->verdict), cli_certainty_name(r) ? cli_certainty_name(r) : "-");
        put_esc(f, r->history[0] ? r->history : "-");
        fputs("</td></tr>\n", f);
    }
    if (shown)
        fputs("</table></div>\n", f);
}

static int write_periods(FILE *f, const chart *c, const cli_report_input *in)
{
    size_t n = 0;
    change *ch = malloc(((size_t)in->nmarkers + in->nalerts + 1) * sizeof *ch);
    if (!ch)
        return TT_ENOMEM;
    for (unsigned i = 0; i < in->nmarkers; i++)
        ch[n++] = (change){in->markers[i].ts_us, in->markers[i].label, NULL};
    for (unsigned i = 0; i < in->nalerts; i++) {
        const tt_alert *a = &in->alerts[i];
        bool known = a->recovery || a->has_marker;
        for (size_t k = 0; k < n && !known; k++)
            known = (ch[k].ts > a->ts_us ? ch[k].ts - a->ts_us : a->ts_us - ch[k].ts) < US;
        if (!known)
            ch[n++] = (change){a->ts_us, NULL, a};
    }
    qsort(ch, n, sizeof *ch, change_cmp);
    tt_regress_config rc; /* the detector's before-period limit */
    tt_regress_config_init(&rc);

    fputs("<section><h2>Before and after</h2>\n", f);
    if (!n || !c->nbins)
        fputs(
            "<p class=\"none\">No marker and no regression without one: nothing to compare.</p>\n",
            f);
    for (size_t i = 0; i < n && c->nbins; i++) {
        char t[40];
        fmt_time(ch[i].ts, 0, t, sizeof t);
        if (ch[i].label) {
            fputs("<h3>Marker \xE2\x80\x9C", f);
            put_esc(f, ch[i].label);
            pf(f, "\xE2\x80\x9D at %s UTC</h3>\n", t);
        } else {
            pf(f, "<h3>Change found without a marker (%s) at %s UTC</h3>\n",
               tt_alert_kind_name(ch[i].alert->kind), t);
        }
        /* As the detector splits (docs/regression.md): at the second that
         * holds the change, which counts as after; before back to the
         * previous change, at most max_span_s. */
        uint64_t at = ch[i].ts / US * US, span = (uint64_t)rc.max_span_s * US;
        uint64_t b0 = at > span ? at - span : 0, a1 = i + 1 < n ? ch[i + 1].ts / US * US : c->t1;
        if (i && ch[i - 1].ts / US * US > b0)
            b0 = ch[i - 1].ts / US * US;
        double bs, as;
        sums b = period(in, c, b0, at, &bs), a = period(in, c, at, a1 > at ? a1 : at, &as);
        char f0[32], f1[32], f2[32];
        fmt_time(b0 > c->t0 ? b0 : c->t0, 1, f0, sizeof f0);
        fmt_time(at, 1, f1, sizeof f1);
        fmt_time(a1 < c->t1 ? a1 : c->t1, 1, f2, sizeof f2);
        pf(f,
           "<div class=\"wrap\"><table "
           "class=\"ba\"><tr><th></th><th>before</th><th>after</th></tr>\n"
           "<tr><th>period (UTC)</th><td class=\"num\">%s \xE2\x80\x93 %s (%.0f s)</td>"
           "<td class=\"num\">%s \xE2\x80\x93 %s (%.0f s)</td></tr>\n",
           f0, f1, bs, f1, f2, as);
        row_rate(f, "UDP answered", b.udp_answered, b.udp_judged, a.udp_answered, a.udp_judged);
        row_rate(f, "TCP handshakes completed", b.tcp_completed, b.tcp_judged, a.tcp_completed,
                 a.tcp_judged);
        row_fail(f, "UDP unanswered", b.udp_unanswered, b.udp_judged, a.udp_unanswered,
                 a.udp_judged);
        row_fail(f, "UDP ICMP unreachable", b.udp_unreachable, b.udp_judged, a.udp_unreachable,
                 a.udp_judged);
        row_fail(f, "TCP syn_unanswered", b.tcp_syn_unanswered, b.tcp_judged, a.tcp_syn_unanswered,
                 a.tcp_judged);
        row_fail(f, "TCP syn_rejected", b.tcp_syn_rejected, b.tcp_judged, a.tcp_syn_rejected,
                 a.tcp_judged);
        row_fail(f, "TCP synack_unacked", b.tcp_synack_unacked, b.tcp_judged, a.tcp_synack_unacked,
                 a.tcp_judged);
        pf(f,
           "<tr><th>uncertain failures</th><td class=\"num\">%" PRIu64
           "</td><td class=\"num\">%" PRIu64 "</td></tr>\n",
           b.uncertain, a.uncertain);
        row_arrivals(f, "new flows per second", b.flows_new, bs, a.flows_new, as, false);
        row_arrivals(f, "new UDP flows per second", b.udp_new, bs, a.udp_new, as, true);
        fputs("</table></div>\n", f);
        first_failures(f, in->records, ch[i].ts, a1);
    }
    fputs("</section>\n", f);
    free(ch);
    return 0;
}

/* ---- tables ------------------------------------------------------------ */

static void side_cell(FILE *f, const tt_alert *a, bool after)
{
    uint64_t att = after ? a->after_attempts : a->before_attempts;
    uint64_t fail = after ? a->after_failures : a->before_failures;
    double secs = after ? a->after_seconds : a->before_seconds;
    if (a->kind == TT_ALERT_UDP_VANISHED)
        pf(f, "<td class=\"num\">%" PRIu64 " flows in %.0f s (%.2f/s)</td>", att, secs,
           secs > 0 ? (double)att / secs : 0.0);
    else
        pf(f, "<td class=\"num\">%" PRIu64 " of %" PRIu64 " failed (%.0f %%) in %.0f s</td>", fail,
           att, pct(fail, att), secs);
}

static void write_alerts(FILE *f, const cli_report_input *in)
{
    fputs("<section><h2>Alerts</h2>\n", f);
    if (!in->nalerts) {
        fputs("<p class=\"none\">No regression alert.</p></section>\n", f);
        return;
    }
    fputs("<div class=\"wrap\"><table><tr><th>kind</th><th>began (UTC)</th><th>raised at</th>"
          "<th>marker</th><th>before</th><th>after</th><th>p-value</th><th>message</th></tr>\n",
          f);
    for (unsigned i = 0; i < in->nalerts; i++) {
        const tt_alert *a = &in->alerts[i];
        char t[40], r[40];
        fmt_time(a->ts_us, 0, t, sizeof t);
        fmt_time(a->raised_at_us, 0, r, sizeof r);
        const char *kind = tt_alert_kind_name(a->kind);
        pf(f, "<tr class=\"%s\"><td>%s%s</td><td>%s</td><td>%s</td><td>",
           a->recovery ? "rec" : "reg", kind ? kind : "?",
           a->recovery ? " <strong>recovered</strong>" : "", t, r);
        if (a->has_marker)
            put_esc(f, a->marker);
        else
            fputs("<i>none (estimated change)</i>", f);
        fputs("</td>", f);
        side_cell(f, a, false);
        side_cell(f, a, true);
        pf(f, "<td class=\"num\">%.2g</td><td>", a->p_value);
        put_esc(f, a->message);
        if (a->recovery && a->took_us)
            pf(f, " <span class=\"sub\">(back after %.0f s)</span>", (double)a->took_us / US);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div></section>\n", f);
}

static void write_markers(FILE *f, const cli_report_input *in)
{
    fputs("<section><h2>Markers</h2>\n", f);
    if (!in->nmarkers) {
        fputs("<p class=\"none\">No marker was given (<code>--mark WHEN=LABEL</code>).</p>"
              "</section>\n",
              f);
        return;
    }
    fputs("<div class=\"wrap\"><table><tr><th>#</th><th>time (UTC)</th><th>label</th>"
          "<th>alerts</th></tr>\n",
          f);
    for (unsigned i = 0; i < in->nmarkers; i++) {
        const tt_marker *m = &in->markers[i];
        unsigned na = 0;
        for (unsigned k = 0; k < in->nalerts; k++)
            na += in->alerts[k].has_marker && in->alerts[k].marker_us == m->ts_us &&
                  !in->alerts[k].recovery;
        char t[40];
        fmt_time(m->ts_us, 0, t, sizeof t);
        pf(f, "<tr><td class=\"num\">%u</td><td>%s</td><td>", i + 1, t);
        put_esc(f, m->label);
        pf(f, "</td><td class=\"num%s\">%u</td></tr>\n", na ? " bad" : "", na);
    }
    fputs("</table></div></section>\n", f);
}

static const char *const class_names[CLI_P_COUNT] = {"TCP", "UDP", "ICMP", "other"};

static void write_verdicts(FILE *f, const cli_summary *s)
{
    fputs("<section><h2>Verdicts by protocol</h2>\n", f);
    if (!s || !s->flows) {
        fputs("<p class=\"none\">No flows.</p></section>\n", f);
        return;
    }
    bool col[TT_VERDICT_COUNT] = {false};
    for (int pc = 0; pc < CLI_P_COUNT; pc++)
        for (unsigned v = 0; v < TT_VERDICT_COUNT; v++)
            col[v] |= s->count[pc][v] != 0;
    fputs("<div class=\"wrap\"><table><tr><th>protocol</th><th>flows</th>", f);
    for (unsigned v = 0; v < TT_VERDICT_COUNT; v++)
        if (col[v])
            pf(f, "<th%s>%s</th>", tt_verdict_is_failure((tt_verdict)v) ? " class=\"fail\"" : "",
               tt_verdict_name((tt_verdict)v));
    fputs("</tr>\n", f);
    for (int pc = 0; pc < CLI_P_COUNT; pc++) {
        if (!s->by_proto[pc])
            continue;
        pf(f, "<tr><th>%s</th><td class=\"num\">%" PRIu64 "</td>", class_names[pc],
           s->by_proto[pc]);
        for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
            if (!col[v])
                continue;
            uint64_t n = s->count[pc][v], u = s->uncertain[pc][v];
            bool bad = tt_verdict_is_failure((tt_verdict)v) && n > u;
            pf(f, "<td class=\"num%s\">", bad ? " bad" : "");
            if (n)
                pf(f, "%" PRIu64, n);
            if (u)
                pf(f, " <span class=\"sub\">(%" PRIu64 " uncertain)</span>", u);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div></section>\n", f);
}

static int write_destinations(FILE *f, cli_summary *s)
{
    fputs("<section><h2>Top failing destinations</h2>\n", f);
    cli_dest_row *rows = NULL;
    size_t n = 0;
    if (s && cli_summary_failing(s, true, CLI_REPORT_TOP_DESTINATIONS, &rows, &n) < 0)
        return TT_ENOMEM;
    if (!n) {
        fputs("<p class=\"none\">No destination had a failed flow.</p></section>\n", f);
        return 0;
    }
    size_t shown = n < CLI_REPORT_TOP_DESTINATIONS ? n : CLI_REPORT_TOP_DESTINATIONS;
    fputs(
        "<div class=\"wrap\"><table><tr><th>destination</th><th>protocol/port</th><th>service</th>"
        "<th>failed (certain)</th><th>uncertain</th><th>flows</th><th>by verdict</th></tr>\n",
        f);
    for (size_t i = 0; i < shown; i++) {
        const cli_dest *d = &rows[i].d;
        char addr[INET6_ADDRSTRLEN];
        cli_dest_row_who(&rows[i], addr, sizeof addr);
        pf(f, "<tr><td class=\"mono\">%s</td><td>%s/", addr, cli_proto_name(d->proto));
        if (rows[i].ports)
            pf(f, "* (%zu ports)</td><td>-", rows[i].ports);
        else {
            pf(f, "%u</td><td>", (unsigned)d->port);
            put_esc(f, d->service ? d->service : "-");
        }
        pf(f,
           "</td><td class=\"num%s\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
           "</td><td class=\"num\">%" PRIu64 "</td><td>",
           d->failed ? " bad" : "", d->failed, d->uncertain, d->flows);
        const char *sep = "";
        for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
            if (d->by_verdict[v]) {
                pf(f, "%s%s %" PRIu32, sep, tt_verdict_name((tt_verdict)v), d->by_verdict[v]);
                sep = ", ";
            }
        }
        fputs(*sep ? "</td></tr>\n" : "-</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
    if (n > shown)
        pf(f, "<p class=\"sub\">\xE2\x80\xA6 and %zu more destinations with failures.</p>\n",
           n - shown);
    if (s->oom)
        pf(f,
           "<p class=\"sub\">Out of memory, or more than %u ports past the %u "
           "destinations grouped: the list is incomplete.</p>\n",
           CLI_SUMMARY_MAX_OVER, CLI_SUMMARY_MAX_DESTS);
    else if (s->full)
        pf(f,
           "<p class=\"sub\">More than %u destinations: those past them are counted "
           "by port and service alone (rows &ldquo;N+ hosts&rdquo;).</p>\n",
           CLI_SUMMARY_MAX_DESTS);
    fputs("</section>\n", f);
    free(rows);
    return 0;
}

/* ---- the page ---------------------------------------------------------- */

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:#1b1b1b;background:#fff;margin:0 auto;max-width:1180px;padding:16px 24px}\n"
    "h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid "
    "#ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}\n"
    ".verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0}\n"
    ".v-broken{background:#fde2e1;color:#7a0010;border-left:6px solid #c1121f}\n"
    ".v-ok{background:#e3f4e8;color:#0f5323;border-left:6px solid #1a7f37}\n"
    ".v-unsure{background:#fff4d6;color:#5c4300;border-left:6px solid #b58100}\n"
    ".meta,.sub{color:#555;font-size:13px}.none{color:#666;font-style:italic}\n"
    "svg.chart{width:100%;height:auto;display:block;font:12px system-ui,'DejaVu Sans',"
    "sans-serif;background:#fff}\n"
    "svg .grid{stroke:#e6e6e6;stroke-width:1;fill:none}svg .vgrid{stroke:#efefef;fill:none}\n"
    "svg .frame{fill:none;stroke:#888;stroke-width:1}\n"
    "svg .ylab{text-anchor:end;fill:#444}svg .xlab{text-anchor:middle;fill:#444}\n"
    "svg .axt{text-anchor:middle;fill:#333;font-weight:600}\n"
    "svg .ptitle{fill:#222;font-weight:600}svg .mlab{fill:#111;font-weight:600}\n"
    "svg .ptitle,svg .mlab,svg .alert text{paint-order:stroke;stroke:#fff;stroke-width:4px;"
    "stroke-linejoin:round}\n"
    "svg line.marker{stroke:#222;stroke-width:1.6;stroke-dasharray:6 3}\n"
    "svg .alert text{font-weight:600}\n"
    "svg .hover{fill:#000;fill-opacity:0}svg .hover:hover{fill-opacity:.07}\n"
    "table{border-collapse:collapse;font-size:13.5px;margin:4px 0}\n"
    "th,td{border:1px solid #d6d6d6;padding:4px 8px;text-align:left;vertical-align:top}\n"
    "tr>th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}\n"
    ".bad{background:#fde2e1;color:#7a0010;font-weight:600}.fail{color:#a4000f}\n"
    "tr.rec td:first-child{color:#0f5323}tr.reg td:first-child{color:#7a0010;font-weight:600}\n"
    ".mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace}.wrap{overflow-x:auto}\n"
    "code{background:#f3f3f3;padding:0 3px}\n";

static void write_head(FILE *f, const cli_report_input *in, const chart *c)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>tunneltap report: ",
          f);
    put_esc(f, in->title ? in->title : "capture");
    pf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>tunneltap report: ", css);
    put_esc(f, in->title ? in->title : "capture");
    fputs("</h1>\n", f);

    cli_summary *s = in->summary;
    char text[512];
    const char *judgement = in->judgement;
    cli_judgement j = CLI_JUDGE_EMPTY;
    if (s)
        j = cli_summary_judge(s, text, sizeof text);
    if (!judgement)
        judgement = s ? text : NULL;
    if (judgement) {
        const char *cls = j == CLI_JUDGE_BROKEN         ? "v-broken"
                          : j == CLI_JUDGE_INCONCLUSIVE ? "v-unsure"
                          : j == CLI_JUDGE_OK           ? "v-ok"
                                                        : "";
        pf(f, "<p class=\"verdict %s\">", cls);
        put_esc(f, judgement);
        fputs("</p>\n", f);
    }
    fputs("<p class=\"meta\">", f);
    if (s) {
        pf(f, "%" PRIu64 " flows", s->flows);
        for (int pc = 0; pc < CLI_P_COUNT; pc++)
            if (s->by_proto[pc])
                pf(f, " \xC2\xB7 %s %" PRIu64, class_names[pc], s->by_proto[pc]);
        fputs(" \xE2\x80\x94 ", f);
    }
    if (c->nbins) {
        char a[40], b[40];
        fmt_time(c->t0, 0, a, sizeof a);
        fmt_time(c->t1, 0, b, sizeof b);
        pf(f, "timeline %s \xE2\x80\x93 %s UTC \xE2\x80\x94 ", a, b);
    }
    pf(f,
       "%u marker%s, %u alert%s. All times UTC; flows are counted by the second they started "
       "in.</p>\n",
       in->nmarkers, in->nmarkers == 1 ? "" : "s", in->nalerts, in->nalerts == 1 ? "" : "s");
}

static void write_page(FILE *f, const cli_report_input *in, const chart *c, int *rc)
{
    write_head(f, in, c);
    fputs("<section><h2>Timeline</h2>\n", f);
    if (c->nbins) {
        write_svg(f, c, in);
        unsigned outside = 0;
        for (unsigned i = 0; i < in->nmarkers; i++)
            outside += !in_domain(c, in->markers[i].ts_us);
        for (unsigned i = 0; i < in->nalerts; i++)
            outside += !in_domain(c, in->alerts[i].ts_us);
        pf(f,
           "<p class=\"sub\">Upper panel: of the flows that started in each %" PRIu32
           " s bin and were judged with certainty, the share of UDP requests that got an answer "
           "(blue) and of TCP handshakes that completed (orange); a gap means nothing was judged "
           "there, not a failure. Lower panel: new flows per second (grey) and new UDP flows per "
           "second (blue). Dashed black lines are markers; red \xE2\x96\xBC where a regression "
           "began, green \xE2\x96\xB2 where it recovered. Hover over the chart for a bin's "
           "numbers.",
           c->width_s);
        if (outside)
            pf(f, " %u marker%s or alert%s lie too far from the timeline to be drawn (see below).",
               outside, outside == 1 ? "" : "s", outside == 1 ? "" : "s");
        fputs("</p>\n", f);
    } else {
        fputs("<p class=\"none\">No timeline: no flow started in this capture.</p>\n", f);
    }
    fputs("</section>\n", f);
    write_alerts(f, in);
    write_markers(f, in);
    if (*rc == 0)
        *rc = write_periods(f, c, in);
    write_verdicts(f, in->summary);
    if (*rc == 0)
        *rc = write_destinations(f, in->summary);
    fputs("<p class=\"meta\">Written by tunneltap. docs/evidence-and-report.md tells how to read "
          "this page.</p>\n</body>\n</html>\n",
          f);
}

int cli_report_write(const char *path, const cli_report_input *in, char *err)
{
    if (!path || !*path || !in) {
        if (err)
            snprintf(err, TT_ERRBUF_SIZE, "report: no output path");
        return TT_EINVAL;
    }
    chart c;
    if (chart_build(&c, in) < 0) {
        if (err)
            snprintf(err, TT_ERRBUF_SIZE, "%s: out of memory building the chart", path);
        return TT_ENOMEM;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        if (err)
            snprintf(err, TT_ERRBUF_SIZE, "%s: %s", path, strerror(e));
        free(c.bins);
        return e == EACCES || e == EPERM ? TT_EPERM : e == ENOENT ? TT_ENOENT : TT_EIO;
    }
    int rc = 0;
    write_page(f, in, &c, &rc);
    free(c.bins);
    bool bad = ferror(f) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (rc < 0) {
        if (err)
            snprintf(err, TT_ERRBUF_SIZE, "%s: out of memory writing the report", path);
        return rc;
    }
    if (bad) {
        if (err)
            snprintf(err, TT_ERRBUF_SIZE, "%s: %s", path, strerror(e ? e : EIO));
        return TT_EIO;
    }
    return 0;
}
