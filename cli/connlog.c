/* connlog.c - Zeek-format conn.log writer and the log outputs. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

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

/* A conn.log line is built here and written with one fwrite: the line
 * costs one stdio lock instead of one per character (fputc) and per number
 * (fprintf), which made writing 1 M records take longer than analysing them.
 * A line longer than the buffer (escaped names can be) goes out in pieces. */
typedef struct line {
    FILE *out;
    size_t n;
    char b[1024];
} line;

static void line_flush(line *l)
{
    fwrite(l->b, 1, l->n, l->out);
    l->n = 0;
}

static void put_mem(line *l, const char *s, size_t n)
{
    if (n > sizeof l->b - l->n) {
        line_flush(l);
        if (n > sizeof l->b) {
            fwrite(s, 1, n, l->out);
            return;
        }
    }
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

static void put_c(line *l, char c)
{
    if (l->n == sizeof l->b)
        line_flush(l);
    l->b[l->n++] = c;
}

static void put_s(line *l, const char *s)
{
    put_mem(l, s, strlen(s));
}

size_t cli_u64_text(uint64_t v, char *buf)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char t[20];
    size_t i = sizeof t;
    for (; v >= 100; v /= 100) { /* two digits a division */
        i -= 2;
        memcpy(t + i, pairs + 2 * (v % 100), 2);
    }
    if (v >= 10) {
        i -= 2;
        memcpy(t + i, pairs + 2 * v, 2);
    } else {
        t[--i] = (char)('0' + v);
    }
    memcpy(buf, t + i, sizeof t - i);
    return sizeof t - i;
}

size_t cli_us_text(uint64_t us, char *buf)
{
    size_t n = cli_u64_text(us / 1000000u, buf);
    uint64_t f = us % 1000000u;
    buf[n] = '.';
    for (size_t i = 6; i >= 1; i--, f /= 10)
        buf[n + i] = (char)('0' + f % 10);
    return n + 7;
}

/* Room for a number's text in the line, which it is written into. */
static char *num_room(line *l)
{
    if (sizeof l->b - l->n < CLI_NUM_TEXT)
        line_flush(l);
    return l->b + l->n;
}

static void put_u64(line *l, uint64_t v)
{
    l->n += cli_u64_text(v, num_room(l));
}

/* A string field as Zeek's ASCII writer prints it: unset "-", empty
 * "(empty)", a value that would read as unset escaped, and bytes that could
 * break a line or a column (controls, the separator, non-ASCII) and the
 * backslash as \xNN. */
static void put_str(line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        put_c(l, '-');
        return;
    }
    if (!*s) {
        put_s(l, "(empty)");
        return;
    }
    if (s[0] == '-' && !s[1]) {
        put_s(l, "\\x2d");
        return;
    }
    /* runs of bytes that stay as they are, copied at once */
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        const unsigned char *q = p;
        while (*q >= 0x20 && *q < 0x7f && *q != '\\')
            q++;
        put_mem(l, (const char *)p, (size_t)(q - p));
        if (!*q)
            return;
        char e[4] = {'\\', 'x', hex[*q >> 4], hex[*q & 15]};
        put_mem(l, e, sizeof e);
        p = q + 1;
    }
}

static void put_us(line *l, uint64_t us)
{
    l->n += cli_us_text(us, num_room(l));
}

size_t cli_addr_text(uint8_t ip_version, const uint8_t *a, char *buf)
{
    if (ip_version == 6)
        return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN) ? strlen(buf) : 0;
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (i)
            buf[n++] = '.';
        if (a[i] >= 100)
            buf[n++] = (char)('0' + a[i] / 100);
        if (a[i] >= 10)
            buf[n++] = (char)('0' + a[i] / 10 % 10);
        buf[n++] = (char)('0' + a[i] % 10);
    }
    buf[n] = '\0';
    return n;
}

static void put_addr(line *l, const tt_conn *c, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    size_t n = cli_addr_text(c->ip_version, a, buf);
    if (n)
        put_mem(l, buf, n);
    else
        put_c(l, '-');
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

    line l = {.out = out};
    put_us(&l, c->ts_us);
    put_c(&l, '\t');
    put_str(&l, uid);
    put_c(&l, '\t');
    put_addr(&l, c, c->orig_h);
    put_c(&l, '\t');
    put_u64(&l, c->orig_p);
    put_c(&l, '\t');
    put_addr(&l, c, c->resp_h);
    put_c(&l, '\t');
    put_u64(&l, c->resp_p);
    put_c(&l, '\t');
    put_s(&l, cli_proto_name(c->proto));
    put_c(&l, '\t');
    put_str(&l, c->service);
    put_c(&l, '\t');
    if (c->has_sizes) {
        put_us(&l, c->last_us > c->ts_us ? c->last_us - c->ts_us : 0);
        put_c(&l, '\t');
        put_u64(&l, c->orig_bytes);
        put_c(&l, '\t');
        put_u64(&l, c->resp_bytes);
        put_c(&l, '\t');
    } else {
        put_s(&l, "-\t-\t-\t");
    }
    put_str(&l, c->conn_state);
    put_s(&l, "\t-\t-\t"); /* local_orig, local_resp unset */
    put_u64(&l, c->missed_bytes);
    put_c(&l, '\t');
    put_str(&l, history[0] ? history : NULL);
    const uint64_t counts[] = {c->orig_pkts, c->orig_ip_bytes, c->resp_pkts, c->resp_ip_bytes};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        put_c(&l, '\t');
        put_u64(&l, counts[i]);
    }
    put_s(&l, "\t-\t"); /* tunnel_parents unset */
    put_str(&l, tt_verdict_name(c->verdict));
    put_c(&l, '\t');
    put_str(&l, cli_certainty_name(c));
    put_c(&l, '\n');
    line_flush(&l);
}

/* Buffers for the first outputs a process opens: 256 KiB instead of the
 * file system's block (4 KiB), one write(2) per ~1 700 conn.log lines
 * instead of per 27. A million-flow JSON log took 86 000 calls, and
 * `replay --json` 1.08 s instead of 0.91 s (9 alternating runs). Static, so
 * that a stream closed anywhere leaves nothing to free; pages are resident
 * only once used. Later outputs keep stdio's own buffer. */
#define OUT_BUFS 4
#define OUT_BUF_BYTES (256u << 10)
static char out_bufs[OUT_BUFS][OUT_BUF_BYTES];
static atomic_uint out_bufs_used;

FILE *cli_output_open(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    unsigned i;
    if (f && (i = atomic_fetch_add(&out_bufs_used, 1)) < OUT_BUFS)
        setvbuf(f, out_bufs[i], _IOFBF, OUT_BUF_BYTES);
    return f;
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

typedef struct json_job {
    const cli_connbuf *buf;
    FILE *out;
    int rc, err;
} json_job;

static void *write_json(void *arg)
{
    json_job *j = arg;
    cli_jsonw *w = cli_jsonw_new();
    cli_connbuf_iter it;
    if (!w || cli_connbuf_iter_open(&it, j->buf) < 0) {
        cli_jsonw_free(w);
        j->rc = TT_ENOMEM;
        return NULL;
    }
    const tt_conn *c;
    while ((c = cli_connbuf_iter_next(&it)) && cli_jsonw_write(w, j->out, c) == 0)
        ;
    j->rc = c ? TT_ENOMEM : it.err ? TT_EIO : 0;
    j->err = it.err;
    cli_connbuf_iter_close(&it);
    cli_jsonw_free(w);
    return NULL;
}

/* With both logs asked for, the JSON lines are written on a thread of their
 * own while this one writes the conn.log: the records are only read (each
 * writer merges the runs with its own iterator), and each log has its own
 * stream. */
int cli_logs_write(const cli_connbuf *buf, FILE *conn, FILE *json, time_t opened)
{
    json_job job = {buf, json, 0, 0};
    pthread_t tid;
    bool apart = conn && json && pthread_create(&tid, NULL, write_json, &job) == 0;
    int rc = 0, err = 0;
    if (conn) {
        cli_connbuf_iter it;
        const tt_conn *c;
        cli_connlog_header(conn, opened);
        if ((rc = cli_connbuf_iter_open(&it, buf)) == 0) {
            while ((c = cli_connbuf_iter_next(&it)))
                cli_connlog_write(conn, c);
            if ((err = it.err) != 0)
                rc = TT_EIO;
            cli_connbuf_iter_close(&it);
        }
        cli_connlog_footer(conn, time(NULL));
    }
    if (apart)
        pthread_join(tid, NULL);
    else if (json)
        write_json(&job);
    if (!rc) {
        rc = job.rc;
        err = job.err;
    }
    errno = err;
    return rc;
}

/* ---- logs written as connections finish (--stream-logs) ---------------- */

int cli_logstream_open(cli_logstream *s, FILE *conn, FILE *json, time_t opened)
{
    *s = (cli_logstream){.conn = conn, .json = json};
    if (json && !(s->jw = cli_jsonw_new()))
        return TT_ENOMEM;
    if (conn)
        cli_connlog_header(conn, opened);
    return 0;
}

void cli_logstream_add(cli_logstream *s, const tt_conn *c)
{
    if (s->conn)
        cli_connlog_write(s->conn, c);
    if (s->json && !s->oom && cli_jsonw_write(s->jw, s->json, c) < 0)
        s->oom = true;
}

int cli_logstream_close(cli_logstream *s)
{
    if (s->conn)
        cli_connlog_footer(s->conn, time(NULL));
    cli_jsonw_free(s->jw);
    s->jw = NULL;
    return s->oom ? TT_ENOMEM : 0;
}

int cli_logs_finish(const char *cmd, cli_logstream *ls, cli_connbuf *buf, FILE *conn, FILE *json,
                    time_t opened)
{
    bool lost = cli_connbuf_sort(buf) < 0;
    if (lost)
        fprintf(stderr,
                "tunneltap: %s: out of memory taking back the %zu connection records of a run "
                "that could not be spilled: the logs lack them\n",
                cmd, buf->lost);
    if (buf->spill_errno)
        fprintf(stderr,
                "tunneltap: %s: warning: cannot spill connection records to a file in %s (%s): "
                "%zu kept in memory\n",
                cmd, buf->spill_dir ? buf->spill_dir : "?", strerror(buf->spill_errno), buf->n);
    int rc = ls ? cli_logstream_close(ls) : cli_logs_write(buf, conn, json, opened);
    if (rc == TT_EIO)
        fprintf(stderr,
                "tunneltap: %s: cannot read back the connection records spilled to %s: %s: the "
                "logs stop there\n",
                cmd, buf->spill_dir, strerror(errno));
    else if (rc < 0)
        fprintf(stderr, "tunneltap: %s: out of memory writing JSON\n", cmd);
    return rc < 0 || lost ? -1 : 0;
}
