/* jsonlog.c - conn records as JSON lines (Zeek's JSON conn log plus tt_ keys), via jansson. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

const char *cli_uncertain_name(uint32_t bit)
{
    switch (bit) {
    case TT_UNC_CAPTURE_LOSS:
        return "capture_loss";
    case TT_UNC_SNAPLEN:
        return "snaplen";
    case TT_UNC_CAPTURE_END:
        return "capture_end";
    case TT_UNC_MIDSTREAM:
        return "midstream";
    case TT_UNC_EVICTED:
        return "evicted";
    default:
        return NULL;
    }
}

/* How a line is made. jansson encodes every string value that needs
 * escaping; the keys are constants of this file, written with their quotes,
 * and the numbers are integers written in decimal, which is all jansson
 * would do with them. Building two jansson objects per record and dumping
 * them (the first version: ~70 allocations a record, and jansson's
 * per-character UTF-8 walk over every key and value) made `replay --json`
 * take 5.9 s on a capture of a million flows, against 0.2 s for the summary
 * alone; keeping the objects between records and only setting their values
 * still took 4.6 s; this way, 2.2 s. */

struct cli_jsonw {
    json_t *str; /* the string value being encoded */
    char *buf;   /* the line */
    size_t n, cap;
    bool bad; /* out of memory while making the line */
};

cli_jsonw *cli_jsonw_new(void)
{
    cli_jsonw *w = calloc(1, sizeof *w);
    if (w && !(w->str = json_string(""))) {
        free(w);
        return NULL;
    }
    return w;
}

void cli_jsonw_free(cli_jsonw *w)
{
    if (!w)
        return;
    json_decref(w->str);
    free(w->buf);
    free(w);
}

/* Room for n more bytes in the line; false (and bad) when out of memory. */
static bool room(cli_jsonw *w, size_t n)
{
    if (n <= w->cap - w->n)
        return true;
    size_t cap = w->cap ? w->cap : 512;
    while (cap - w->n < n)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b)
        return w->bad = true, false;
    w->buf = b;
    w->cap = cap;
    return true;
}

static void put(cli_jsonw *w, const char *s, size_t n)
{
    if (room(w, n)) {
        memcpy(w->buf + w->n, s, n);
        w->n += n;
    }
}

/* A constant of this file: a key with its quotes and separators. */
#define PUT_LIT(w, lit) put(w, lit, sizeof lit - 1)

static void put_u64(cli_jsonw *w, uint64_t v)
{
    char t[CLI_NUM_TEXT];
    put(w, t, cli_u64_text(v, t));
}

/* A count as a JSON integer (jansson's are signed 64-bit: saturated). */
static void put_count(cli_jsonw *w, uint64_t v)
{
    put_u64(w, v > INT64_MAX ? INT64_MAX : v);
}

/* ts and duration: six decimals, as in the conn.log (jansson prints reals
 * with %.17g, "1764280000.1234560013"). */
static void put_us(cli_jsonw *w, uint64_t us)
{
    char t[CLI_NUM_TEXT];
    put(w, t, cli_us_text(us, t));
}

/* jansson refuses bytes that are not UTF-8; such a name (from a packet,
 * say) is kept with those bytes replaced by '?'. */
static char *ascii_copy(const char *s)
{
    char *copy = strdup(s);
    if (copy) {
        for (char *p = copy; *p; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
    }
    return copy;
}

/* s as a JSON string. A string of printable ASCII without '"' or '\\' is
 * its own encoding between quotes (jansson escapes only those two, control
 * characters, and '/' and non-ASCII under flags not used here;
 * test_output.c checks every byte against it), and most strings here are
 * (uids, addresses, names): they are copied. jansson encodes the rest. */
static void put_str(cli_jsonw *w, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = 0;
    while (u[len] >= 0x20 && u[len] < 0x7f && u[len] != '"' && u[len] != '\\')
        len++;
    if (!s[len]) {
        if (room(w, len + 2)) {
            w->buf[w->n] = '"';
            memcpy(w->buf + w->n + 1, s, len);
            w->buf[w->n + 1 + len] = '"';
            w->n += len + 2;
        }
        return;
    }
    if (json_string_set(w->str, s) != 0) {
        char *copy = ascii_copy(s);
        if (!copy || json_string_set(w->str, copy) != 0)
            w->bad = true;
        free(copy);
        if (w->bad)
            return;
    }
    for (;;) {
        size_t n = json_dumpb(w->str, w->buf + w->n, w->cap - w->n, JSON_ENCODE_ANY);
        if (n == 0)
            return (void)(w->bad = true);
        if (n <= w->cap - w->n) {
            w->n += n;
            return;
        }
        if (!room(w, n))
            return;
    }
}

static void put_addr(cli_jsonw *w, const tt_conn *c, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (!cli_addr_text(c->ip_version, a, buf))
        w->bad = true;
    else
        put_str(w, buf);
}

/* Zeek's JSON conn log order: its keys, unset ones omitted, then tunneltap's. */
const char *cli_jsonw_format(cli_jsonw *w, const tt_conn *c, size_t *len)
{
    char uid[sizeof c->uid + 1], history[sizeof c->history + 1];
    memcpy(uid, c->uid, sizeof c->uid);
    uid[sizeof c->uid] = '\0';
    memcpy(history, c->history, sizeof c->history);
    history[sizeof c->history] = '\0';

    w->n = 0;
    w->bad = false;
    PUT_LIT(w, "{\"ts\":");
    put_us(w, c->ts_us);
    PUT_LIT(w, ",\"uid\":");
    put_str(w, uid);
    PUT_LIT(w, ",\"id.orig_h\":");
    put_addr(w, c, c->orig_h);
    PUT_LIT(w, ",\"id.orig_p\":");
    put_u64(w, c->orig_p);
    PUT_LIT(w, ",\"id.resp_h\":");
    put_addr(w, c, c->resp_h);
    PUT_LIT(w, ",\"id.resp_p\":");
    put_u64(w, c->resp_p);
    PUT_LIT(w, ",\"proto\":");
    put_str(w, cli_proto_name(c->proto));
    if (c->service) {
        PUT_LIT(w, ",\"service\":");
        put_str(w, c->service);
    }
    if (c->has_sizes) {
        PUT_LIT(w, ",\"duration\":");
        put_us(w, c->last_us > c->ts_us ? c->last_us - c->ts_us : 0);
        PUT_LIT(w, ",\"orig_bytes\":");
        put_count(w, c->orig_bytes);
        PUT_LIT(w, ",\"resp_bytes\":");
        put_count(w, c->resp_bytes);
    }
    if (c->conn_state) {
        PUT_LIT(w, ",\"conn_state\":");
        put_str(w, c->conn_state);
    }
    PUT_LIT(w, ",\"missed_bytes\":");
    put_count(w, c->missed_bytes);
    if (history[0]) {
        PUT_LIT(w, ",\"history\":");
        put_str(w, history);
    }
    PUT_LIT(w, ",\"orig_pkts\":");
    put_count(w, c->orig_pkts);
    PUT_LIT(w, ",\"orig_ip_bytes\":");
    put_count(w, c->orig_ip_bytes);
    PUT_LIT(w, ",\"resp_pkts\":");
    put_count(w, c->resp_pkts);
    PUT_LIT(w, ",\"resp_ip_bytes\":");
    put_count(w, c->resp_ip_bytes);
    PUT_LIT(w, ",\"tt_verdict\":");
    put_str(w, tt_verdict_name(c->verdict));
    const char *certainty = cli_certainty_name(c);
    if (certainty) {
        PUT_LIT(w, ",\"tt_certainty\":");
        put_str(w, certainty);
    }
    if (certainty && c->certainty == TT_UNCERTAIN) {
        PUT_LIT(w, ",\"tt_uncertain_why\":[");
        bool first = true;
        for (uint32_t bit = 1; bit; bit <<= 1) {
            const char *name = cli_uncertain_name(bit);
            if (!(c->uncertain_why & bit) || !name)
                continue;
            if (!first)
                PUT_LIT(w, ",");
            put_str(w, name);
            first = false;
        }
        PUT_LIT(w, "]");
    }
    if (c->l7) {
        PUT_LIT(w, ",\"l7\":");
        put_str(w, c->l7);
    }
    if (c->late_replies) {
        PUT_LIT(w, ",\"tt_late_replies\":");
        put_count(w, c->late_replies);
    }
    if (c->icmp_type || c->icmp_code) {
        PUT_LIT(w, ",\"tt_icmp_type\":");
        put_u64(w, c->icmp_type);
        PUT_LIT(w, ",\"tt_icmp_code\":");
        put_u64(w, c->icmp_code);
    }
    put(w, "}", 2); /* with a NUL, not counted */
    if (w->bad)
        return NULL;
    *len = w->n - 1;
    return w->buf;
}

int cli_jsonw_write(cli_jsonw *w, FILE *out, const tt_conn *c)
{
    size_t len;
    const char *line = cli_jsonw_format(w, c, &len);
    if (!line)
        return TT_ENOMEM;
    w->buf[len] = '\n';
    fwrite(line, 1, len + 1, out);
    return 0;
}

char *cli_jsonlog_format(const tt_conn *c)
{
    cli_jsonw *w = cli_jsonw_new();
    size_t len;
    const char *line = w ? cli_jsonw_format(w, c, &len) : NULL;
    char *copy = line ? strdup(line) : NULL;
    cli_jsonw_free(w);
    return copy;
}
