/* connlog.c - Zeek-format conn.log writer, the record buffer it sorts, and the log outputs. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ---- string table ------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static int strtab_grow(cli_strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    char **slot = calloc(cap, sizeof *slot);
    if (!slot)
        return TT_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = (size_t)hash_str(t->slot[i]) & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return 0;
}

const char *cli_strtab_intern(cli_strtab *t, const char *s)
{
    if (!s)
        return NULL;
    /* Keep the load at or below one half so probes stay short. */
    if ((t->used + 1) * 2 > t->cap && strtab_grow(t) < 0)
        return NULL;
    size_t j = (size_t)hash_str(s) & (t->cap - 1);
    for (; t->slot[j]; j = (j + 1) & (t->cap - 1)) {
        if (strcmp(t->slot[j], s) == 0)
            return t->slot[j];
    }
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    t->slot[j] = copy;
    t->used++;
    return copy;
}

void cli_strtab_free(cli_strtab *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slot[i]);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- record buffer ----------------------------------------------------- */

int cli_connbuf_add(cli_connbuf *b, const tt_conn *c)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        tt_conn *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return TT_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    tt_conn copy = *c;
    copy.service = cli_strtab_intern(&b->strings, c->service);
    copy.l7 = cli_strtab_intern(&b->strings, c->l7);
    copy.conn_state = cli_strtab_intern(&b->strings, c->conn_state);
    if ((c->service && !copy.service) || (c->l7 && !copy.l7) || (c->conn_state && !copy.conn_state))
        return TT_ENOMEM;
    b->v[b->n++] = copy;
    return 0;
}

static int by_ts_uid(const void *pa, const void *pb)
{
    const tt_conn *a = pa, *b = pb;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    return strncmp(a->uid, b->uid, sizeof a->uid); /* uid may fill its array */
}

void cli_connbuf_sort(cli_connbuf *b)
{
    if (b->n > 1)
        qsort(b->v, b->n, sizeof *b->v, by_ts_uid);
}

void cli_connbuf_free(cli_connbuf *b)
{
    free(b->v);
    cli_strtab_free(&b->strings);
    memset(b, 0, sizeof *b);
}

/* ---- conn.log ---------------------------------------------------------- */

/* Zeek's conn.log columns and types, then tunneltap's two. */
static const struct {
    const char *name, *type;
} columns[CLI_CONNLOG_FIELDS] = {
    {"ts", "time"},           {"uid", "string"},          {"id.orig_h", "addr"},
    {"id.orig_p", "port"},    {"id.resp_h", "addr"},      {"id.resp_p", "port"},
    {"proto", "enum"},        {"service", "string"},      {"duration", "interval"},
    {"orig_bytes", "count"},  {"resp_bytes", "count"},    {"conn_state", "string"},
    {"local_orig", "bool"},   {"local_resp", "bool"},     {"missed_bytes", "count"},
    {"history", "string"},    {"orig_pkts", "count"},     {"orig_ip_bytes", "count"},
    {"resp_pkts", "count"},   {"resp_ip_bytes", "count"}, {"tunnel_parents", "set[string]"},
    {"tt_verdict", "string"}, {"tt_certainty", "string"},
};

static void put_stamp(FILE *out, const char *tag, time_t t)
{
    struct tm tm;
    char buf[32] = "-";
    if (localtime_r(&t, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%d-%H-%M-%S", &tm);
    fprintf(out, "#%s\t%s\n", tag, buf);
}

void cli_connlog_header(FILE *out, time_t open_time)
{
    fputs("#separator \\x09\n"
          "#set_separator\t,\n"
          "#empty_field\t(empty)\n"
          "#unset_field\t-\n"
          "#path\tconn\n",
          out);
    put_stamp(out, "open", open_time);
    fputs("#fields", out);
    for (size_t i = 0; i < CLI_CONNLOG_FIELDS; i++)
        fprintf(out, "\t%s", columns[i].name);
    fputs("\n#types", out);
    for (size_t i = 0; i < CLI_CONNLOG_FIELDS; i++)
        fprintf(out, "\t%s", columns[i].type);
    fputc('\n', out);
}

void cli_connlog_footer(FILE *out, time_t close_time)
{
    put_stamp(out, "close", close_time);
}

/* A string field as Zeek's ASCII writer prints it: unset "-", empty
 * "(empty)", a value that would read as unset escaped, and bytes that could
 * break a line or a column (controls, the separator, non-ASCII) and the
 * backslash as \xNN. */
static void put_str(FILE *out, const char *s)
{
    if (!s) {
        fputc('-', out);
        return;
    }
    if (!*s) {
        fputs("(empty)", out);
        return;
    }
    if (strcmp(s, "-") == 0) {
        fputs("\\x2d", out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\')
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

/* Seconds with six decimals, from microseconds, without going through a double. */
static void put_us(FILE *out, uint64_t us)
{
    fprintf(out, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
}

static void put_addr(FILE *out, const tt_conn *c, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->ip_version == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf))
        strcpy(buf, "-");
    fputs(buf, out);
}

const char *cli_proto_name(uint8_t proto)
{
    switch (proto) {
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 1:
    case 58:
        return "icmp"; /* Zeek logs ICMPv6 as icmp too */
    default:
        return "unknown_transport";
    }
}

const char *cli_certainty_name(const tt_conn *c)
{
    if (!tt_verdict_is_failure(c->verdict))
        return NULL;
    switch (c->certainty) {
    case TT_CERTAIN:
        return "certain";
    case TT_UNCERTAIN:
        return "uncertain";
    default:
        return NULL;
    }
}

void cli_connlog_write(FILE *out, const tt_conn *c)
{
    /* uid and history may fill their arrays without a terminator */
    char uid[sizeof c->uid + 1], history[sizeof c->history + 1];
    memcpy(uid, c->uid, sizeof c->uid);
    uid[sizeof c->uid] = '\0';
    memcpy(history, c->history, sizeof c->history);
    history[sizeof c->history] = '\0';

    put_us(out, c->ts_us);
    fputc('\t', out);
    put_str(out, uid);
    fputc('\t', out);
    put_addr(out, c, c->orig_h);
    fprintf(out, "\t%u\t", (unsigned)c->orig_p);
    put_addr(out, c, c->resp_h);
    fprintf(out, "\t%u\t%s\t", (unsigned)c->resp_p, cli_proto_name(c->proto));
    put_str(out, c->service);
    fputc('\t', out);
    if (c->has_sizes) {
        put_us(out, c->last_us > c->ts_us ? c->last_us - c->ts_us : 0);
        fprintf(out, "\t%" PRIu64 "\t%" PRIu64 "\t", c->orig_bytes, c->resp_bytes);
    } else {
        fputs("-\t-\t-\t", out);
    }
    put_str(out, c->conn_state);
    fprintf(out, "\t-\t-\t%" PRIu64 "\t", c->missed_bytes); /* local_orig, local_resp unset */
    put_str(out, history[0] ? history : NULL);
    fprintf(out, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t-\t", c->orig_pkts,
            c->orig_ip_bytes, c->resp_pkts, c->resp_ip_bytes); /* tunnel_parents unset */
    put_str(out, tt_verdict_name(c->verdict));
    fputc('\t', out);
    put_str(out, cli_certainty_name(c));
    fputc('\n', out);
}

FILE *cli_output_open(const char *path)
{
    return strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
}

int cli_output_close(FILE *out)
{
    if (!out)
        return 0;
    errno = 0;
    bool ok = !ferror(out);
    ok = (out == stdout ? fflush(out) : fclose(out)) == 0 && ok;
    return ok ? 0 : errno ? errno : EIO;
}

int cli_logs_write(const cli_connbuf *buf, FILE *conn, FILE *json, time_t opened)
{
    if (conn) {
        cli_connlog_header(conn, opened);
        for (size_t i = 0; i < buf->n; i++)
            cli_connlog_write(conn, &buf->v[i]);
        cli_connlog_footer(conn, time(NULL));
    }
    if (json) {
        for (size_t i = 0; i < buf->n; i++) {
            if (cli_jsonlog_write(json, &buf->v[i]) < 0)
                return TT_ENOMEM;
        }
    }
    return 0;
}
