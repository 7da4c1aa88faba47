/* dash_text.c - the dashboard's drawing primitives: styles, a clipping pen, numbers, wrapping.
 *
 * Text goes through a "pen" that knows its row's right edge: it never
 * wraps, it cuts with an ellipsis, and it turns control characters into
 * '?'. In a locale that is not UTF-8 the block characters and the few
 * non-ASCII characters of the alert messages have ASCII stand-ins.
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

void dash_style(const cli_dashboard *d, int st)
{
    attr_t a = A_NORMAL;
    short pair = 0;
    if (d->color) {
        switch (st) {
        case ST_BAD:
            a = A_BOLD, pair = DASH_PAIR_BAD;
            break;
        case ST_GOOD:
            pair = DASH_PAIR_GOOD;
            break;
        case ST_WARN:
            pair = DASH_PAIR_WARN;
            break;
        case ST_TITLE:
            a = A_BOLD, pair = DASH_PAIR_TITLE;
            break;
        case ST_BANNER:
            a = A_BOLD, pair = DASH_PAIR_BANNER;
            break;
        case ST_MARK:
            a = A_BOLD, pair = DASH_PAIR_MARK;
            break;
        case ST_DIM:
            pair = DASH_PAIR_DIM;
            break;
        case ST_BOLD:
            a = A_BOLD;
            break;
        case ST_BAR:
            a = A_REVERSE;
            break;
        default:
            break;
        }
    } else {
        switch (st) {
        case ST_BAD:
        case ST_WARN:
        case ST_TITLE:
        case ST_MARK:
        case ST_BOLD:
            a = A_BOLD;
            break;
        case ST_BANNER:
            a = A_REVERSE | A_BOLD;
            break;
        case ST_BAR:
            a = A_REVERSE;
            break;
        default:
            break;
        }
    }
    attr_set(a, pair, NULL);
}

/* ---- text -------------------------------------------------------------- */

/* Decodes one UTF-8 character (U+FFFD for a bad sequence) and advances. */
static uint32_t utf8_next(const char **sp, const char *end)
{
    const unsigned char *s = (const unsigned char *)*sp;
    const unsigned char *e = (const unsigned char *)end;
    uint32_t c = s[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4
                                    : 0;
    if (n == 0 || n > (size_t)(e - s)) {
        *sp += 1;
        return 0xfffd;
    }
    if (n > 1) {
        c &= 0x3fu >> (n - 1);
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                *sp += 1;
                return 0xfffd;
            }
            c = (c << 6) | (s[i] & 0x3fu);
        }
    }
    *sp += n;
    return c;
}

/* The character as drawn, and its width in columns (0: skip it). */
static uint32_t shown(const cli_dashboard *d, uint32_t c, int *w)
{
    *w = 1;
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return '?';
    if (c < 0x80)
        return c;
    if (d->utf8) {
        int cw = wcwidth((wchar_t)c);
        if (cw < 0)
            return '?';
        *w = cw;
        return c;
    }
    switch (c) {
    case 0x2014: /* em dash */
    case 0x2013:
    case 0x2500:
        return '-';
    case 0x2192:
        return '>';
    case 0x2026:
        return '~';
    case 0x25bc:
        return 'v';
    case 0x00b7:
        return '.';
    default:
        return '?';
    }
}

int dash_text_width(const cli_dashboard *d, const char *s, size_t n)
{
    const char *end = s + n;
    int w = 0;
    while (s < end) {
        int cw;
        shown(d, utf8_next(&s, end), &cw);
        w += cw;
    }
    return w;
}

pen dash_pen_at(const cli_dashboard *d, int y, int x, int w)
{
    pen p = {d, y, x, x + (w > 0 ? w : 0), false};
    return p;
}

void dash_put_char(const cli_dashboard *d, int y, int x, uint32_t c)
{
    if (c < 0x80) {
        mvaddch(y, x, (chtype)c);
    } else {
        wchar_t wc = (wchar_t)c;
        (void)d;
        mvaddnwstr(y, x, &wc, 1);
    }
}

void dash_pen_putn(pen *p, int st, const char *s, size_t n)
{
    const char *end = s + n;
    dash_style(p->d, st);
    while (s < end && !p->cut) {
        int w;
        uint32_t c = shown(p->d, utf8_next(&s, end), &w);
        if (w == 0)
            continue;
        if (p->x + w > p->end) {
            if (p->end > 0)
                dash_put_char(p->d, p->y, p->end - 1, p->d->utf8 ? 0x2026 : '~');
            p->cut = true;
            break;
        }
        dash_put_char(p->d, p->y, p->x, c);
        p->x += w;
    }
}

void dash_pen_put(pen *p, int st, const char *s)
{
    dash_pen_putn(p, st, s, strlen(s));
}

void dash_pen_printf(pen *p, int st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dash_pen_put(p, st, buf);
}

/* Fills the rest of the row with c (a rule or spaces). */
void dash_pen_fill(pen *p, int st, uint32_t c)
{
    dash_style(p->d, st);
    for (; p->x < p->end; p->x++)
        dash_put_char(p->d, p->y, p->x, c);
}

/* Moves to column x (relative to the row's start), padding with spaces. */
void dash_pen_tab(pen *p, int x0, int col)
{
    dash_style(p->d, ST_NORMAL);
    while (p->x < x0 + col && p->x < p->end)
        dash_put_char(p->d, p->y, p->x++, ' ');
}

/* Draws s right-aligned in a field of width w starting at the pen. */
void dash_pen_right(pen *p, int st, int w, const char *s)
{
    int tw = dash_text_width(p->d, s, strlen(s));
    int x0 = p->x;
    dash_pen_tab(p, x0, w - tw > 0 ? w - tw : 0);
    dash_pen_put(p, st, s);
}

/* ---- numbers and times ------------------------------------------------- */

void dash_fmt_count(uint64_t v, char *buf, size_t len)
{
    if (v < 100000)
        snprintf(buf, len, "%" PRIu64, v);
    else if (v < 999950)
        snprintf(buf, len, "%.1fk", (double)v / 1e3);
    else if (v < 999950000ull)
        snprintf(buf, len, "%.1fM", (double)v / 1e6);
    else
        snprintf(buf, len, "%.1fG", (double)v / 1e9);
}

void dash_fmt_rate(double v, char *buf, size_t len)
{
    if (v < 1000)
        snprintf(buf, len, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, len, "%.1fM", v / 1e6);
    else
        snprintf(buf, len, "%.1fG", v / 1e9);
}

void dash_fmt_bytes(uint64_t v, char *buf, size_t len)
{
    if (v < 1000)
        snprintf(buf, len, "%" PRIu64 " B", v);
    else if (v < 1000000)
        snprintf(buf, len, "%.1f kB", (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(buf, len, "%.1f MB", (double)v / 1e6);
    else
        snprintf(buf, len, "%.1f GB", (double)v / 1e9);
}

void dash_fmt_hms(uint64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

/* Title row: the name, a note, a rule to the right edge. */
void dash_title(const cli_dashboard *d, rect r, const char *name, const char *note)
{
    if (r.h < 1)
        return;
    pen p = dash_pen_at(d, r.y, r.x, r.w);
    dash_pen_put(&p, ST_TITLE, name);
    if (note && *note) {
        dash_pen_put(&p, ST_DIM, " ");
        dash_pen_put(&p, ST_DIM, note);
    }
    dash_pen_put(&p, ST_DIM, " ");
    dash_pen_fill(&p, ST_DIM, d->utf8 ? 0x2500 : '-');
}

uint32_t dash_block(const cli_dashboard *d, int level)
{
    static const char ascii[] = "_.-~=+*#";
    if (level < 0)
        level = 0;
    if (level > 7)
        level = 7;
    return d->utf8 ? 0x2581u + (uint32_t)level : (uint32_t)ascii[level];
}

/* Draws s word-wrapped in rows [y, y + maxrows) of width w; returns rows used. */
int dash_wrapped(const cli_dashboard *d, int y, int x, int w, int maxrows, int st, const char *s)
{
    int row = 0;
    const char *end = s + strlen(s);
    while (s < end && row < maxrows) {
        while (s < end && *s == ' ')
            s++;
        const char *ls = s, *le = s;
        int lw = 0;
        while (s < end) {
            const char *ws = s;
            while (s < end && *s != ' ')
                s++;
            int ww = dash_text_width(d, ws, (size_t)(s - ws));
            int need = (le > ls ? 1 : 0) + ww;
            if (lw + need > w && le > ls) {
                s = ws;
                break;
            }
            lw += need;
            le = s;
            while (s < end && *s == ' ')
                s++;
            if (lw >= w)
                break;
        }
        pen p = dash_pen_at(d, y + row, x, w);
        dash_pen_putn(&p, st, ls, (size_t)(le - ls));
        row++;
        if (row == maxrows && s < end && !p.cut && p.x > x) {
            dash_style(d, st);
            dash_put_char(d, y + row - 1, p.x < x + w ? p.x : x + w - 1, d->utf8 ? 0x2026 : '~');
        }
    }
    return row;
}

#endif /* DASH_CURSES */
