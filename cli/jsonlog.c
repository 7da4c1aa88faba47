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

/* A JSON string for s. jansson refuses bytes that are not UTF-8; such a
 * name (from a packet, say) is kept with those bytes replaced by '?'. */
static json_t *jstr(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    v = json_string(copy);
    free(copy);
    return v;
}

static json_t *jcount(uint64_t n)
{
    return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

static json_t *jaddr(const tt_conn *c, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->ip_version == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf))
        return NULL;
    return json_string(buf);
}

/* Adds key -> v; v NULL (out of memory) makes the whole record fail. */
static int put(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

/* The keys Zeek writes before "duration". */
static json_t *head_object(const tt_conn *c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char uid[sizeof c->uid + 1];
    memcpy(uid, c->uid, sizeof c->uid);
    uid[sizeof c->uid] = '\0';
    int bad = put(o, "uid", jstr(uid));
    bad |= put(o, "id.orig_h", jaddr(c, c->orig_h));
    bad |= put(o, "id.orig_p", json_integer(c->orig_p));
    bad |= put(o, "id.resp_h", jaddr(c, c->resp_h));
    bad |= put(o, "id.resp_p", json_integer(c->resp_p));
    bad |= put(o, "proto", json_string(cli_proto_name(c->proto)));
    if (c->service)
        bad |= put(o, "service", jstr(c->service));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The keys after "duration", then tunneltap's own. */
static json_t *tail_object(const tt_conn *c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    if (c->has_sizes) {
        bad |= put(o, "orig_bytes", jcount(c->orig_bytes));
        bad |= put(o, "resp_bytes", jcount(c->resp_bytes));
    }
    if (c->conn_state)
        bad |= put(o, "conn_state", jstr(c->conn_state));
    bad |= put(o, "missed_bytes", jcount(c->missed_bytes));
    char history[sizeof c->history + 1];
    memcpy(history, c->history, sizeof c->history);
    history[sizeof c->history] = '\0';
    if (history[0])
        bad |= put(o, "history", jstr(history));
    bad |= put(o, "orig_pkts", jcount(c->orig_pkts));
    bad |= put(o, "orig_ip_bytes", jcount(c->orig_ip_bytes));
    bad |= put(o, "resp_pkts", jcount(c->resp_pkts));
    bad |= put(o, "resp_ip_bytes", jcount(c->resp_ip_bytes));
    bad |= put(o, "tt_verdict", json_string(tt_verdict_name(c->verdict)));
    const char *certainty = cli_certainty_name(c);
    if (certainty)
        bad |= put(o, "tt_certainty", json_string(certainty));
    if (certainty && c->certainty == TT_UNCERTAIN) {
        json_t *why = json_array();
        for (uint32_t bit = 1; bit && why; bit <<= 1) {
            const char *name = cli_uncertain_name(bit);
            if ((c->uncertain_why & bit) && name && json_array_append_new(why, json_string(name)))
                bad = -1;
        }
        bad |= put(o, "tt_uncertain_why", why);
    }
    if (c->l7)
        bad |= put(o, "l7", jstr(c->l7));
    if (c->late_replies)
        bad |= put(o, "tt_late_replies", jcount(c->late_replies));
    if (c->icmp_type || c->icmp_code) {
        bad |= put(o, "tt_icmp_type", json_integer(c->icmp_type));
        bad |= put(o, "tt_icmp_code", json_integer(c->icmp_code));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* jansson prints reals with %.17g ("1764280000.1234560013"), so ts and
 * duration are written here with exactly six decimals, as in the conn.log,
 * and the members around them are serialised by jansson in two objects
 * whose braces are dropped: every key and string still goes through it. */
char *cli_jsonlog_format(const tt_conn *c)
{
    char *line = NULL, *head_s = NULL, *tail_s = NULL;
    json_t *head = head_object(c);
    json_t *tail = tail_object(c);
    if (!head || !tail)
        goto out;
    head_s = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    tail_s = json_dumps(tail, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!head_s || !tail_s)
        goto out;
    /* Both objects have members, so each dump is "{...}" with at least one. */
    size_t hl = strlen(head_s), tl = strlen(tail_s);
    char dur[48] = "";
    if (c->has_sizes) {
        uint64_t d = c->last_us > c->ts_us ? c->last_us - c->ts_us : 0;
        snprintf(dur, sizeof dur, ",\"duration\":%" PRIu64 ".%06" PRIu64, d / 1000000u,
                 d % 1000000u);
    }
    char ts[48];
    snprintf(ts, sizeof ts, "{\"ts\":%" PRIu64 ".%06" PRIu64 ",", c->ts_us / 1000000u,
             c->ts_us % 1000000u);
    size_t len = strlen(ts) + (hl - 2) + strlen(dur) + 1 + (tl - 2) + 2;
    line = malloc(len);
    if (!line)
        goto out;
    snprintf(line, len, "%s%.*s%s,%.*s}", ts, (int)(hl - 2), head_s + 1, dur, (int)(tl - 2),
             tail_s + 1);
out:
    free(head_s);
    free(tail_s);
    json_decref(head);
    json_decref(tail);
    return line;
}

int cli_jsonlog_write(FILE *out, const tt_conn *c)
{
    char *line = cli_jsonlog_format(c);
    if (!line)
        return TT_ENOMEM;
    fputs(line, out);
    fputc('\n', out);
    free(line);
    return 0;
}
