/* alerts.c - --mark parsing and --alerts JSON lines (through jansson). */
#include "cli/alerts.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunneltap/error.h"

#define US 1000000ull

static int fail(char *err, const char *msg, const char *arg)
{
    snprintf(err, 256, "--mark '%s': %s", arg, msg);
    return -1;
}

/* Parses "[.fraction]" into microseconds; advances *p. */
static uint64_t fraction_us(const char **p)
{
    uint64_t us = 0, scale = 100000;
    if (**p != '.')
        return 0;
    (*p)++;
    while (isdigit((unsigned char)**p)) {
        us += (uint64_t)(**p - '0') * scale;
        scale /= 10;
        (*p)++;
    }
    return us;
}

static bool parse_iso(const char *s, uint64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!p)
        return false;
    uint64_t us = fraction_us(&p);
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    int64_t off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
            p += 6;
        else if (sscanf(p + 1, "%2d%2d", &hh, &mm) == 2)
            p += 5;
        else
            return false;
        off = sign * (hh * 3600 + mm * 60);
    }
    if (*p)
        return false;
    *out = (uint64_t)((int64_t)t - off) * US + us;
    return true;
}

int cli_mark_parse(const char *arg, cli_mark_spec *out, char *err)
{
    memset(out, 0, sizeof(*out));
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return fail(err, "expected WHEN=LABEL", arg);
    if (!eq[1])
        return fail(err, "the label is empty", arg);
    size_t wl = (size_t)(eq - arg);
    char when[64];
    if (wl >= sizeof(when))
        return fail(err, "WHEN is too long", arg);
    memcpy(when, arg, wl);
    when[wl] = 0;
    size_t i = 0;
    for (const char *l = eq + 1; *l && i + 1 < sizeof(out->label); l++, i++) {
        unsigned char c = (unsigned char)*l;
        out->label[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out->label[i] = 0;
    char *end;
    if (when[0] == '+') {
        errno = 0;
        double v = strtod(when + 1, &end);
        if (errno || *end || v < 0 || v > 1e9 || end == when + 1)
            return fail(err, "+SECONDS wants a number of seconds from the capture start", arg);
        out->relative = true;
        out->ts_us = (uint64_t)(v * (double)US + 0.5);
        return 0;
    }
    if (strchr(when, '-') || strchr(when, 'T') || strchr(when, ':')) {
        if (!parse_iso(when, &out->ts_us))
            return fail(err,
                        "WHEN is not ISO 8601 (e.g. 2025-11-27T12:03:05.25Z or "
                        "2025-11-27T13:03:05+01:00)",
                        arg);
        return 0;
    }
    const char *p = when;
    errno = 0;
    unsigned long long secs = strtoull(p, &end, 10);
    if (errno || end == p)
        return fail(err, "WHEN must be epoch seconds, ISO 8601 or +SECONDS", arg);
    p = end;
    uint64_t us = fraction_us(&p);
    if (*p)
        return fail(err, "WHEN must be epoch seconds, ISO 8601 or +SECONDS", arg);
    out->ts_us = (uint64_t)secs * US + us;
    return 0;
}

void cli_iso_time(uint64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / US);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06lluZ", base, (unsigned long long)(us % US));
}

/* A p-value to 6 significant digits. The statistic is no more precise than
 * that, and its last digits come from libm's lgamma and exp, which differ
 * between platforms: one alert's p_value was 6.400921732729503e-7 on
 * x86-64 and 6.400921732729549e-7 on arm64, same capture, same code. */
static double p_rounded(double p)
{
    char b[32];
    snprintf(b, sizeof b, "%.6g", p);
    return strtod(b, NULL);
}

static json_t *period(uint64_t attempts, uint64_t failures, double seconds, bool vanish)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (vanish) {
        json_object_set_new(o, "udp_flows", json_integer((json_int_t)attempts));
    } else {
        json_object_set_new(o, "attempts", json_integer((json_int_t)attempts));
        json_object_set_new(o, "failures", json_integer((json_int_t)failures));
    }
    json_object_set_new(o, "seconds", json_real(seconds));
    return o;
}

int cli_alert_write_json(FILE *out, const tt_alert *a)
{
    json_t *o = json_object();
    if (!o)
        return TT_ENOMEM;
    bool vanish = a->kind == TT_ALERT_UDP_VANISHED;
    char iso[40];
    json_object_set_new(o, "ts", json_real((double)a->ts_us / 1e6));
    cli_iso_time(a->ts_us, iso, sizeof(iso));
    json_object_set_new(o, "ts_iso", json_string(iso));
    json_object_set_new(o, "raised_at", json_real((double)a->raised_at_us / 1e6));
    json_object_set_new(o, "kind", json_string(tt_alert_kind_name(a->kind)));
    json_object_set_new(o, "recovery", json_boolean(a->recovery));
    json_t *m = a->has_marker ? json_string(a->marker) : json_null();
    json_object_set_new(o, "marker", m ? m : json_string("(label is not UTF-8)"));
    if (a->has_marker)
        json_object_set_new(o, "marker_ts", json_real((double)a->marker_us / 1e6));
    json_object_set_new(o, "before",
                        period(a->before_attempts, a->before_failures, a->before_seconds, vanish));
    json_object_set_new(o, "after",
                        period(a->after_attempts, a->after_failures, a->after_seconds, vanish));
    json_object_set_new(o, "p_value", json_real(p_rounded(a->p_value)));
    if (a->services[0])
        json_object_set_new(o, "services", json_string(a->services));
    if (a->recovery)
        json_object_set_new(o, "took", json_real((double)a->took_us / 1e6));
    json_t *msg = json_string(a->message);
    json_object_set_new(o, "message", msg ? msg : json_string("(message is not UTF-8)"));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(o);
    if (!s)
        return TT_ENOMEM;
    fprintf(out, "%s\n", s);
    free(s);
    return 0;
}

static void row(FILE *out, const char *what, uint64_t bn, uint64_t bd, uint64_t an, uint64_t ad)
{
    char b[32], a[32];
    if (bd)
        snprintf(b, sizeof(b), "%llu of %llu", (unsigned long long)bn, (unsigned long long)bd);
    else
        snprintf(b, sizeof(b), "-");
    if (ad)
        snprintf(a, sizeof(a), "%llu of %llu", (unsigned long long)an, (unsigned long long)ad);
    else
        snprintf(a, sizeof(a), "-");
    fprintf(out, "  %-24s %-14s -> %s\n", what, b, a);
}

void cli_print_comparison(FILE *out, const tt_marker_info *m, const tt_period *b,
                          const tt_period *a)
{
    char iso[40];
    cli_iso_time(m->ts_us, iso, sizeof(iso));
    double bs = (double)(b->to_us - b->from_us) / 1e6, as = (double)(a->to_us - a->from_us) / 1e6;
    fprintf(out, "marker \"%s\" at %s: before (%.0f s) -> after (%.0f s)\n", m->label, iso, bs, as);
    row(out, "UDP answered", b->udp_answered, b->udp_judged, a->udp_answered, a->udp_judged);
    if (b->udp_unreachable || a->udp_unreachable)
        row(out, "UDP ICMP unreachable", b->udp_unreachable, b->udp_judged, a->udp_unreachable,
            a->udp_judged);
    row(out, "TCP handshakes completed", b->tcp_completed, b->tcp_judged, a->tcp_completed,
        a->tcp_judged);
    if (b->tcp_syn_unanswered || a->tcp_syn_unanswered)
        row(out, "  SYN unanswered", b->tcp_syn_unanswered, b->tcp_judged, a->tcp_syn_unanswered,
            a->tcp_judged);
    if (b->tcp_syn_rejected || a->tcp_syn_rejected)
        row(out, "  SYN rejected", b->tcp_syn_rejected, b->tcp_judged, a->tcp_syn_rejected,
            a->tcp_judged);
    if (b->tcp_synack_unacked || a->tcp_synack_unacked)
        row(out, "  SYN-ACK never ACKed", b->tcp_synack_unacked, b->tcp_judged,
            a->tcp_synack_unacked, a->tcp_judged);
    fprintf(out, "  %-24s %-14.2f -> %.2f\n", "new UDP flows per second",
            bs > 0 ? (double)b->udp_new / bs : 0.0, as > 0 ? (double)a->udp_new / as : 0.0);
    if (b->uncertain || a->uncertain)
        fprintf(out, "  %-24s %-14llu -> %llu (not counted above)\n", "uncertain failures",
                (unsigned long long)b->uncertain, (unsigned long long)a->uncertain);
}

void cli_print_outcome(FILE *out, tt_tap *tap, const tt_alert *alerts, unsigned n)
{
    unsigned nmk = tt_tap_compare(tap, 0, NULL, NULL, NULL);
    for (unsigned i = 0; i < nmk; i++) {
        tt_marker_info mi;
        tt_period b, a;
        tt_tap_compare(tap, i, &mi, &b, &a);
        cli_print_comparison(out, &mi, &b, &a);
    }
    if (n == 0)
        fprintf(out, "alerts: none%s\n",
                nmk ? " (no regression after any marker)" : " (no change detected)");
    else if (!alerts)
        fprintf(out, "alerts: %u (out of memory listing them)\n", n);
    for (unsigned i = 0; alerts && i < n; i++)
        fprintf(out, "%s %s: %s\n", alerts[i].recovery ? "recovery" : "ALERT",
                tt_alert_kind_name(alerts[i].kind), alerts[i].message);
}
