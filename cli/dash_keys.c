/* dash_keys.c - the dashboard's keys: quit, pause, sort, the filter and marker prompts, help.
 *
 * Keys are read without blocking (wide characters, so a label can be any
 * text); a prompt takes every key until Enter or Esc, and the host's loop
 * goes on meanwhile. A marker added with 'm' is stamped with the replay's
 * packet clock (the last packet read, else the last analysed), or with
 * "now" (0) in a live host.
 */
#define NCURSES_WIDECHAR 1

#include "cli/dash_int.h"

#if DASH_CURSES

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void start_prompt(cli_dashboard *d, int mode, const char *prefill)
{
    d->mode = mode;
    snprintf(d->input, sizeof d->input, "%s", prefill ? prefill : "");
    d->input_len = strlen(d->input);
    d->dirty = true;
}

static void add_marker(cli_dashboard *d)
{
    const char *label = d->input_len ? d->input : "manual marker";
    uint64_t ts = 0; /* live: now */
    if (d->o.replay) {
        tt_tap_stats st;
        tt_tap_get_stats(d->tap, &st);
        ts = d->pkt_clock_us > st.analyzer.last_us ? d->pkt_clock_us : st.analyzer.last_us;
        if (!ts) {
            dash_message(d, "no packet read yet: the marker needs the replay's packet time");
            return;
        }
    }
    int rc = tt_tap_mark(d->tap, label, ts);
    if (rc < 0) {
        dash_message(d, "marker not added: %s", tt_strerror(rc));
        return;
    }
    char hms[16] = "now";
    if (ts) {
        time_t t = (time_t)(ts / 1000000u);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    }
    dash_message(d, "marker \"%s\" added at %s%s", label, hms, ts ? " UTC (packet time)" : "");
    if (!d->paused)
        dash_refresh_view(d);
}

/* Appends the character c (UTF-8 encoded) to the prompt's input. */
static void input_add(cli_dashboard *d, wint_t c)
{
    char enc[4];
    size_t n;
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c > 0x10ffff)
        return;
    if (c < 0x80) {
        enc[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        enc[0] = (char)(0xc0 | (c >> 6));
        enc[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        enc[0] = (char)(0xe0 | (c >> 12));
        enc[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        enc[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        enc[0] = (char)(0xf0 | (c >> 18));
        enc[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        enc[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        enc[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    size_t max = d->mode == DASH_MODE_FILTER ? sizeof d->filter - 1 : sizeof d->input - 1;
    if (d->input_len + n > max)
        return;
    memcpy(d->input + d->input_len, enc, n);
    d->input_len += n;
    d->input[d->input_len] = '\0';
}

static void input_backspace(cli_dashboard *d)
{
    while (d->input_len) {
        unsigned char c = (unsigned char)d->input[--d->input_len];
        if ((c & 0xc0) != 0x80)
            break; /* the first byte of the character */
    }
    d->input[d->input_len] = '\0';
}

static void prompt_key(cli_dashboard *d, bool is_code, wint_t c)
{
    if ((!is_code && (c == '\r' || c == '\n')) || (is_code && c == KEY_ENTER)) {
        if (d->mode == DASH_MODE_MARK) {
            d->mode = DASH_MODE_NORMAL;
            add_marker(d);
        } else {
            d->mode = DASH_MODE_NORMAL;
            snprintf(d->filter, sizeof d->filter, "%s", d->input);
            d->rows_dirty = true;
            if (d->filter[0])
                dash_message(d, "filter: \"%s\" (host, port or service; '/' then Enter clears)",
                             d->filter);
            else
                dash_message(d, "filter cleared");
        }
    } else if (!is_code && c == 27) {
        d->mode = DASH_MODE_NORMAL;
        dash_message(d, "cancelled");
    } else if ((is_code && c == KEY_BACKSPACE) || (!is_code && (c == 127 || c == 8))) {
        input_backspace(d);
    } else if (!is_code && c == 21) { /* ^U */
        d->input_len = 0;
        d->input[0] = '\0';
    } else if (!is_code) {
        input_add(d, c);
    }
    d->dirty = true;
}

static void normal_key(cli_dashboard *d, wint_t c)
{
    switch (c) {
    case 'q':
    case 'Q':
        d->quit = true;
        break;
    case 'p':
    case 'P':
        d->paused = !d->paused;
        if (!d->paused)
            dash_refresh_view(d);
        dash_message(d, d->paused ? "paused: the figures are frozen, the analysis goes on"
                                  : "resumed");
        break;
    case 's':
    case 'S':
        d->sort = (d->sort + 1) % DASH_SORT_COUNT;
        d->rows_dirty = true;
        dash_message(d, "sorted by %s", dash_sort_name(d->sort));
        break;
    case '/':
        start_prompt(d, DASH_MODE_FILTER, d->filter);
        break;
    case 'm':
    case 'M':
        if (d->held)
            dash_message(d, "the replay has ended: markers can no longer be added");
        else
            start_prompt(d, DASH_MODE_MARK, "");
        break;
    case '?':
    case 'h':
    case 'H':
        d->mode = DASH_MODE_HELP;
        break;
    case 12: /* ^L */
        clearok(curscr, TRUE);
        break;
    default:
        break;
    }
    d->dirty = true;
}

void dash_read_keys(cli_dashboard *d)
{
    wint_t c;
    int r;
    while ((r = get_wch(&c)) != ERR) {
        bool is_code = r == KEY_CODE_YES;
        if (is_code && c == KEY_RESIZE) {
            d->dirty = true;
            continue;
        }
        if (d->mode == DASH_MODE_MARK || d->mode == DASH_MODE_FILTER)
            prompt_key(d, is_code, c);
        else if (d->mode == DASH_MODE_HELP) {
            d->mode = DASH_MODE_NORMAL;
            d->dirty = true;
        } else if (!is_code)
            normal_key(d, c);
        if (d->quit)
            return;
    }
}

#endif /* DASH_CURSES */
