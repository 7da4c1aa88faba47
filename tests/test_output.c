/* test_output.c - conn.log, JSON lines and summary writers, from synthetic tt_conn records. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/cli.h"

/* ---- helpers ----------------------------------------------------------- */

static tt_conn make_conn(uint8_t proto, const char *orig, uint16_t orig_p, const char *resp,
                         uint16_t resp_p, tt_verdict v, tt_certainty cert)
{
    tt_conn c;
    memset(&c, 0, sizeof c);
    c.ts_us = 1764280000123456u;
    c.last_us = c.ts_us;
    strcpy(c.uid, "CAbCdEfGhIjKlMn01");
    c.proto = proto;
    c.ip_version = strchr(orig, ':') ? 6 : 4;
    int af = c.ip_version == 6 ? AF_INET6 : AF_INET;
    cr_assert_eq(inet_pton(af, orig, c.orig_h), 1);
    cr_assert_eq(inet_pton(af, resp, c.resp_h), 1);
    c.orig_p = orig_p;
    c.resp_p = resp_p;
    c.conn_state = "S0";
    c.verdict = v;
    c.certainty = cert;
    return c;
}

static tt_conn udp_conn(tt_verdict v, tt_certainty cert)
{
    return make_conn(17, "10.0.0.1", 40000, "10.77.2.2", 53, v, cert);
}

/* Runs the writer into a string (free() it). */
#define CAPTURE(buf, stmt)                                                                         \
    do {                                                                                           \
        size_t cap_len_;                                                                           \
        FILE *out = open_memstream(&(buf), &cap_len_);                                             \
        cr_assert_not_null(out);                                                                   \
        stmt;                                                                                      \
        fclose(out);                                                                               \
    } while (0)

/* Splits one conn.log line (no trailing newline) on tabs. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n < max)
            fields[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    char *nl = strchr(fields[n < max ? n - 1 : max - 1], '\n');
    if (nl)
        *nl = '\0';
    return n;
}

static char *connlog_line(const tt_conn *c)
{
    char *buf = NULL;
    CAPTURE(buf, cli_connlog_write(out, c));
    return buf;
}

static json_t *json_of(const tt_conn *c)
{
    char *line = cli_jsonlog_format(c);
    cr_assert_not_null(line);
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    cr_assert_not_null(o, "not JSON (%s): %s", err.text, line);
    free(line);
    return o;
}

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

/* ---- conn.log ---------------------------------------------------------- */

Test(connlog, header_is_zeeks_text_with_two_extra_columns, .init = utc)
{
    char *buf = NULL;
    CAPTURE(buf, cli_connlog_header(out, (time_t)1764280980));
    cr_assert_str_eq(
        buf, "#separator \\x09\n"
             "#set_separator\t,\n"
             "#empty_field\t(empty)\n"
             "#unset_field\t-\n"
             "#path\tconn\n"
             "#open\t2025-11-27-22-03-00\n"
             "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"
             "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\t"
             "history\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\t"
             "tt_verdict\ttt_certainty\n"
             "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
             "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\t"
             "string\n");
    free(buf);
}

Test(connlog, footer_is_the_close_stamp, .init = utc)
{
    char *buf = NULL;
    CAPTURE(buf, cli_connlog_footer(out, (time_t)1764280981));
    cr_assert_str_eq(buf, "#close\t2025-11-27-22-03-01\n");
    free(buf);
}

Test(connlog, fields_and_types_lines_have_23_columns)
{
    char *buf = NULL;
    CAPTURE(buf, cli_connlog_header(out, 0));
    char *fields[40];
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "#fields\t", 8) == 0 || strncmp(line, "#types\t", 7) == 0) {
            char copy[1024];
            snprintf(copy, sizeof copy, "%s", line);
            cr_assert_eq(split_tabs(copy, fields, 40), CLI_CONNLOG_FIELDS + 1, "%s", line);
        }
    }
    free(buf);
}

Test(connlog, record_has_23_fields_and_zeek_number_formats)
{
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.has_sizes = true;
    c.last_us = c.ts_us + 1500001;
    c.orig_bytes = 37;
    c.resp_bytes = 53;
    c.service = "dns";
    c.conn_state = "SF";
    strcpy(c.history, "Dd");
    c.orig_pkts = 1;
    c.orig_ip_bytes = 65;
    c.resp_pkts = 1;
    c.resp_ip_bytes = 81;
    char *line = connlog_line(&c);
    char *f[40];
    cr_assert_eq(split_tabs(line, f, 40), CLI_CONNLOG_FIELDS);
    cr_assert_str_eq(f[0], "1764280000.123456");
    cr_assert_str_eq(f[1], "CAbCdEfGhIjKlMn01");
    cr_assert_str_eq(f[2], "10.0.0.1");
    cr_assert_str_eq(f[3], "40000");
    cr_assert_str_eq(f[4], "10.77.2.2");
    cr_assert_str_eq(f[5], "53");
    cr_assert_str_eq(f[6], "udp");
    cr_assert_str_eq(f[7], "dns");
    cr_assert_str_eq(f[8], "1.500001");
    cr_assert_str_eq(f[9], "37");
    cr_assert_str_eq(f[10], "53");
    cr_assert_str_eq(f[11], "SF");
    cr_assert_str_eq(f[15], "Dd");
    cr_assert_str_eq(f[16], "1");
    cr_assert_str_eq(f[17], "65");
    cr_assert_str_eq(f[18], "1");
    cr_assert_str_eq(f[19], "81");
    cr_assert_str_eq(f[21], "answered");
    cr_assert_str_eq(f[22], "-");
    free(line);
}

Test(connlog, unset_fields_are_dashes)
{
    tt_conn c = udp_conn(TT_VERDICT_UNANSWERED, TT_CERTAIN);
    c.ts_us = 1764280000000001u;
    c.has_sizes = false; /* Zeek: no duration/bytes unless duration > 0 */
    c.orig_bytes = 99;   /* must not leak out */
    c.service = NULL;
    c.history[0] = '\0';
    char *line = connlog_line(&c);
    char *f[40];
    cr_assert_eq(split_tabs(line, f, 40), CLI_CONNLOG_FIELDS);
    cr_assert_str_eq(f[0], "1764280000.000001");
    cr_assert_str_eq(f[7], "-");  /* service */
    cr_assert_str_eq(f[8], "-");  /* duration */
    cr_assert_str_eq(f[9], "-");  /* orig_bytes */
    cr_assert_str_eq(f[10], "-"); /* resp_bytes */
    cr_assert_str_eq(f[12], "-"); /* local_orig */
    cr_assert_str_eq(f[13], "-"); /* local_resp */
    cr_assert_str_eq(f[14], "0"); /* missed_bytes is always set */
    cr_assert_str_eq(f[15], "-"); /* history */
    cr_assert_str_eq(f[20], "-"); /* tunnel_parents */
    cr_assert_str_eq(f[21], "unanswered");
    cr_assert_str_eq(f[22], "certain");
    free(line);
}

Test(connlog, certainty_is_written_only_for_failures)
{
    tt_conn c = udp_conn(TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    char *line = connlog_line(&c);
    char *f[40];
    split_tabs(line, f, 40);
    cr_assert_str_eq(f[22], "uncertain");
    free(line);

    c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAIN); /* inconsistent input: still "-" */
    line = connlog_line(&c);
    split_tabs(line, f, 40);
    cr_assert_str_eq(f[22], "-");
    free(line);
}

Test(connlog, ipv6_addresses_are_compressed_and_icmpv6_is_icmp)
{
    tt_conn c = make_conn(58, "2001:db8:0:0:0:0:0:1", 128, "fe80:0:0:0:0:0:0:a", 129,
                          TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    char *line = connlog_line(&c);
    char *f[40];
    cr_assert_eq(split_tabs(line, f, 40), CLI_CONNLOG_FIELDS);
    cr_assert_str_eq(f[2], "2001:db8::1");
    cr_assert_str_eq(f[4], "fe80::a");
    cr_assert_str_eq(f[6], "icmp");
    free(line);
}

Test(connlog, odd_characters_cannot_break_columns)
{
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.service = "a\tb\\c\n\xc3\xa9";
    char *line = connlog_line(&c);
    char *f[40];
    cr_assert_eq(split_tabs(line, f, 40), CLI_CONNLOG_FIELDS);
    cr_assert_str_eq(f[7], "a\\x09b\\x5cc\\x0a\\xc3\\xa9");
    free(line);

    c.service = "-"; /* would read as unset */
    line = connlog_line(&c);
    split_tabs(line, f, 40);
    cr_assert_str_eq(f[7], "\\x2d");
    free(line);

    c.service = "";
    line = connlog_line(&c);
    split_tabs(line, f, 40);
    cr_assert_str_eq(f[7], "(empty)");
    free(line);
}

Test(connlog, a_line_longer_than_the_writers_buffer_is_written_whole)
{
    /* 300 bytes that each take four in the log: 1 200, past the 1 KiB line
     * buffer, which goes out in pieces */
    char name[301];
    memset(name, '\t', 300);
    name[300] = '\0';
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.service = name;
    c.l7 = NULL;
    char *line = connlog_line(&c);
    char *f[40];
    cr_assert_eq(split_tabs(line, f, 40), CLI_CONNLOG_FIELDS);
    cr_assert_eq(strlen(f[7]), 1200);
    for (size_t i = 0; i < 300; i++)
        cr_assert(strncmp(f[7] + 4 * i, "\\x09", 4) == 0, "at %zu: %.8s", i, f[7] + 4 * i);
    cr_assert_str_eq(f[21], "answered");
    free(line);
}

Test(connlog, ipv4_text_is_inet_ntops)
{
    /* cli_addr_text writes IPv4 itself: every octet value in every position */
    for (unsigned v = 0; v < 256; v++) {
        uint8_t a[16] = {0};
        for (unsigned pos = 0; pos < 4; pos++) {
            a[0] = a[1] = a[2] = a[3] = (uint8_t)(255 - v);
            a[pos] = (uint8_t)v;
            char mine[INET6_ADDRSTRLEN], theirs[INET6_ADDRSTRLEN];
            size_t n = cli_addr_text(4, a, mine);
            cr_assert_not_null(inet_ntop(AF_INET, a, theirs, sizeof theirs));
            cr_assert_str_eq(mine, theirs);
            cr_assert_eq(n, strlen(theirs));
        }
    }
}

Test(connlog, numbers_are_printfs_digits)
{
    /* cli_u64_text writes two digits a division: every power of ten and its
     * neighbours, the largest value, and a spread in between */
    uint64_t v[64 + 64];
    size_t n = 0;
    for (uint64_t p = 1; n < 60; p *= 10) {
        v[n++] = p - 1;
        v[n++] = p;
        v[n++] = p + 1;
        if (p > UINT64_MAX / 10)
            break;
    }
    v[n++] = UINT64_MAX;
    for (uint64_t x = 12345; n < sizeof v / sizeof v[0]; x = x * 6364136223846793005u + 1)
        v[n++] = x >> (x % 64);
    for (size_t i = 0; i < n; i++) {
        char mine[CLI_NUM_TEXT + 1], theirs[32];
        size_t len = cli_u64_text(v[i], mine);
        mine[len] = '\0';
        snprintf(theirs, sizeof theirs, "%" PRIu64, v[i]);
        cr_assert_str_eq(mine, theirs);
        len = cli_us_text(v[i], mine);
        mine[len] = '\0';
        snprintf(theirs, sizeof theirs, "%" PRIu64 ".%06" PRIu64, v[i] / 1000000u, v[i] % 1000000u);
        cr_assert_str_eq(mine, theirs);
    }
}

Test(connlog, other_ip_protocols_are_unknown_transport)
{
    tt_conn c = make_conn(47, "10.0.0.1", 0, "10.0.0.2", 0, TT_VERDICT_OTHER, TT_CERTAINTY_NONE);
    char *line = connlog_line(&c);
    char *f[40];
    split_tabs(line, f, 40);
    cr_assert_str_eq(f[6], "unknown_transport");
    free(line);
}

/* ---- record buffer ----------------------------------------------------- */

Test(connbuf, sorts_by_ts_then_uid_and_owns_its_strings)
{
    cli_connbuf b = {0};
    char service[8] = "dns";
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.service = service;
    c.ts_us = 30;
    strcpy(c.uid, "Cb");
    cr_assert_eq(cli_connbuf_add(&b, &c), 0);
    c.ts_us = 10;
    strcpy(c.uid, "Cz");
    cr_assert_eq(cli_connbuf_add(&b, &c), 0);
    c.ts_us = 30;
    strcpy(c.uid, "Ca");
    cr_assert_eq(cli_connbuf_add(&b, &c), 0);
    strcpy(service, "xxx"); /* the analyzer's buffer changes after the callback */
    cli_connbuf_sort(&b);
    cr_assert_eq(b.n, 3);
    cr_assert_str_eq(b.v[0].uid, "Cz");
    cr_assert_str_eq(b.v[1].uid, "Ca");
    cr_assert_str_eq(b.v[2].uid, "Cb");
    cr_assert_str_eq(b.v[0].service, "dns");
    cr_assert_eq(b.v[0].service, b.v[2].service, "one copy per distinct string");
    cli_connbuf_free(&b);
}

static int ref_by_ts_uid(const void *pa, const void *pb)
{
    const tt_conn *a = pa, *b = pb;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    return strncmp(a->uid, b->uid, sizeof a->uid);
}

/* The sort moves each record once along its permutation's cycles: every
 * record ends where sorting the records themselves puts it, whole (all its
 * bytes), for orders with many ties, reversed, shuffled and already sorted. */
Test(connbuf, many_records_end_where_a_sort_of_the_records_puts_them)
{
    uint64_t x = 88172645463325252u; /* xorshift: a fixed shuffle */
    for (int order = 0; order < 4; order++) {
        cli_connbuf b = {0};
        size_t n = 5000;
        for (size_t i = 0; i < n; i++) {
            tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c.ts_us = order == 0   ? x % 97       /* many ties: uid decides */
                      : order == 1 ? n - i        /* reversed */
                      : order == 2 ? x % 1000000u /* shuffled */
                                   : i / 3;       /* already sorted */
            snprintf(c.uid, sizeof c.uid, "C%06zu", order == 3 ? i : (size_t)(x % 999983u));
            c.orig_pkts = i; /* the record's own mark, to check it moved whole */
            c.orig_bytes = i * 7;
            cr_assert_eq(cli_connbuf_add(&b, &c), 0);
        }
        tt_conn *ref = malloc(n * sizeof *ref);
        cr_assert_not_null(ref);
        memcpy(ref, b.v, n * sizeof *ref);
        qsort(ref, n, sizeof *ref, ref_by_ts_uid);
        cli_connbuf_sort(&b);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(b.v[i].ts_us, ref[i].ts_us, "order %d, record %zu", order, i);
            cr_assert_eq(strncmp(b.v[i].uid, ref[i].uid, sizeof ref[i].uid), 0, "order %d", order);
            cr_assert_eq(b.v[i].orig_bytes, b.v[i].orig_pkts * 7, "order %d, record %zu torn",
                         order, i);
        }
        free(ref);
        cli_connbuf_free(&b);
    }
}

/* Both logs of b as cli_logs_write writes them, #close line cut (its time
 * is the writer's clock); returns cli_logs_write's result. */
static int logs_text(const cli_connbuf *b, char **conn, char **json)
{
    size_t nc, nj;
    FILE *fc = open_memstream(conn, &nc), *fj = open_memstream(json, &nj);
    cr_assert(fc && fj);
    int rc = cli_logs_write(b, fc, fj, 1764244985);
    fclose(fc);
    fclose(fj);
    char *close = strstr(*conn, "#close");
    if (close)
        *close = '\0';
    return rc;
}

/* Records i0..i1-1 of n with unique uids, ts with ties, strings varied
 * (some NULL), in a shuffled order. */
/* Record i of n in a shuffled order. */
static tt_conn shuffled_conn(size_t n, size_t i)
{
    static const char *names[] = {"dns", "ssl", NULL, "http", "quic,ssl"};
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    size_t k = (i * 7919u) % n; /* 7919 is prime: a permutation of 0..n-1 */
    c.ts_us = 1764244985000000u + (k * 31u) % 997u;
    snprintf(c.uid, sizeof c.uid, "C%07u", (unsigned)(k % 10000000u));
    c.service = names[k % 5];
    c.l7 = names[(k / 5) % 5];
    c.orig_pkts = k;
    return c;
}

static void add_some(cli_connbuf *b, size_t n, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; i++) {
        tt_conn c = shuffled_conn(n, i);
        cr_assert_eq(cli_connbuf_add(b, &c), 0);
    }
}

static void add_shuffled(cli_connbuf *b, size_t n)
{
    add_some(b, n, 0, n);
}

/* Past its budget the buffer writes sorted runs to an unnamed file and the
 * writers merge them with what is in memory: both logs byte for byte those
 * of the records kept in memory, whatever the run size (one record, a
 * prime, an exact divisor, one short of all, all), written here or by a
 * thread in the background, with no file left in the directory. */
static void spilled_runs_merge(bool background)
{
    size_t n = 5000;
    cli_connbuf ref = {0};
    add_shuffled(&ref, n);
    cli_connbuf_sort(&ref);
    char *want_conn, *want_json;
    cr_assert_eq(logs_text(&ref, &want_conn, &want_json), 0);
    cr_assert_eq(ref.nruns, 0);

    char dir[] = "/tmp/tt-spill-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);
    size_t runs[] = {1, 7, 625, 4999, 5000, 6000};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        cli_connbuf b = {0};
        cli_connbuf_spill(&b, runs[r] * sizeof(tt_conn) * (background ? 2 : 1), background);
        add_shuffled(&b, n);
        cr_assert_eq(cli_connbuf_count(&b), n);
        cr_assert_eq(cli_connbuf_sort(&b), 0);
        cr_assert_eq(b.spill_errno, 0, "%zu: %s", runs[r], strerror(b.spill_errno));
        cr_assert_eq(b.nruns, n / runs[r], "run of %zu", runs[r]);
        cr_assert_eq(b.n, n % runs[r], "run of %zu", runs[r]);
        cr_assert_eq(cli_connbuf_count(&b), n);
        char *conn, *json;
        cr_assert_eq(logs_text(&b, &conn, &json), 0, "run of %zu", runs[r]);
        cr_assert_str_eq(conn, want_conn, "run of %zu", runs[r]);
        cr_assert_str_eq(json, want_json, "run of %zu", runs[r]);
        free(conn);
        free(json);
        cli_connbuf_free(&b);
    }
    cr_assert_eq(rmdir(dir), 0, "the spill file is unnamed: the directory is empty");
    unsetenv("TMPDIR");
    free(want_conn);
    free(want_json);
    cli_connbuf_free(&ref);
}

Test(connbuf, spilled_runs_merge_into_the_logs_kept_in_memory)
{
    spilled_runs_merge(false);
}

Test(connbuf, runs_spilled_in_the_background_merge_into_the_same_logs)
{
    spilled_runs_merge(true);
}

/* Both logs of b byte for byte those of ref; frees both. */
static void same_logs_then_free(cli_connbuf *ref, cli_connbuf *b)
{
    char *wc, *wj, *c, *j;
    cr_assert_eq(logs_text(ref, &wc, &wj), 0);
    cr_assert_eq(logs_text(b, &c, &j), 0);
    cr_assert_str_eq(c, wc);
    cr_assert_str_eq(j, wj);
    free(wc), free(wj), free(c), free(j);
    cli_connbuf_free(ref);
    cli_connbuf_free(b);
}

/* No file can be made there: spilling stops, says why, and the records stay
 * in memory, all of them written. */
Test(connbuf, a_spill_that_cannot_be_written_keeps_the_records_in_memory)
{
    size_t n = 1000;
    cli_connbuf ref = {0}, b = {0};
    add_shuffled(&ref, n);
    cli_connbuf_sort(&ref);
    setenv("TMPDIR", "/nonexistent-tunneltap-dir", 1);
    cli_connbuf_spill(&b, 10 * sizeof(tt_conn), false);
    unsetenv("TMPDIR");
    add_shuffled(&b, n);
    cr_assert_eq(b.spill_errno, ENOENT);
    cr_assert_str_eq(b.spill_dir, "/nonexistent-tunneltap-dir");
    cr_assert_eq(b.nruns, 0);
    cr_assert_eq(b.n, n);
    cli_connbuf_sort(&b);
    same_logs_then_free(&ref, &b);
}

/* Runs of 100 spilled in the background: the first (of records 0..149 of
 * n) written, 50 records in memory; then the file's descriptor is made
 * read-only, so the next runs cannot be written (EBADF). Returns the
 * descriptor to put back with refused_restore; *ro the read-only one. */
static int spill_then_refuse(cli_connbuf *b, size_t n, int *ro)
{
    cli_connbuf_spill(b, 2 * 100 * sizeof(tt_conn), true);
    add_some(b, n, 0, 150);
    cr_assert_eq(cli_connbuf_sort(b), 0);
    cr_assert_eq(b->nruns, 1);
    int saved = dup(b->fd);
    *ro = open("/dev/null", O_RDONLY);
    cr_assert(saved >= 0 && *ro >= 0);
    cr_assert_geq(dup2(*ro, b->fd), 0);
    return saved;
}

static void refused_restore(cli_connbuf *b, int saved, int ro)
{
    cr_assert_geq(dup2(saved, b->fd), 0);
    close(saved);
    close(ro);
}

/* A run the background writer cannot write (here the file's descriptor made
 * read-only under it: EBADF) comes back into memory when the writer is
 * waited for, and spilling stops: the logs are those of all the records,
 * the run written before included. */
Test(connbuf, a_background_run_that_cannot_be_written_comes_back_into_memory)
{
    size_t n = 350;
    cli_connbuf ref = {0}, b = {0};
    add_shuffled(&ref, n);
    cli_connbuf_sort(&ref);
    int ro, saved = spill_then_refuse(&b, n, &ro);
    add_some(&b, n, 150, n); /* a second run fails, the third finds it failed */
    cr_assert_eq(cli_connbuf_sort(&b), 0);
    cr_assert_eq(b.spill_errno, EBADF);
    cr_assert_eq(b.nruns, 1);
    cr_assert_eq(b.n, n - 100);
    cr_assert_eq(cli_connbuf_count(&b), n);
    refused_restore(&b, saved, ro);
    same_logs_then_free(&ref, &b);
}

/* This binary links with -Wl,--wrap=realloc (tests/cli.cmake): the writers'
 * reallocs come here, and one of exactly fail_realloc_size bytes fails. */
static size_t fail_realloc_size;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    if (fail_realloc_size && n == fail_realloc_size)
        return NULL;
    return __real_realloc(p, n);
}

/* Both failures at once: a run the file refuses, and no memory to take it
 * back. Its records are counted as lost, the add says out of memory, and the
 * logs hold the others, whole. */
Test(connbuf, a_background_run_neither_written_nor_taken_back_is_counted_lost)
{
    size_t n = 350;
    cli_connbuf ref = {0}, b = {0};
    add_some(&ref, n, 0, 100);
    add_some(&ref, n, 200, 300);
    cli_connbuf_sort(&ref);
    int ro, saved = spill_then_refuse(&b, n, &ro);
    add_some(&b, n, 150, 299); /* records 100..199: a run the thread cannot write */
    /* taking it back, beside the 100 records since, fails */
    fail_realloc_size = 200 * sizeof(tt_conn);
    tt_conn last = shuffled_conn(n, 299);
    cr_assert_eq(cli_connbuf_add(&b, &last), TT_ENOMEM);
    fail_realloc_size = 0;
    cr_assert_eq(b.lost, 100);
    cr_assert_eq(b.spill_errno, EBADF);
    cr_assert_eq(cli_connbuf_count(&b), 200);
    refused_restore(&b, saved, ro);
    cr_assert_eq(cli_connbuf_sort(&b), 0);
    same_logs_then_free(&ref, &b);
}

/* Waits (5 s at most) until the spill file holds `runs` runs of `run`
 * records: the background writer of the last of them is done. */
static void wait_for_runs_written(const cli_connbuf *b, size_t runs, size_t run)
{
    off_t want = (off_t)(runs * run * sizeof(tt_conn));
    struct stat st;
    for (int i = 0; i < 5000 && (fstat(b->fd, &st) != 0 || st.st_size < want); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    cr_assert(fstat(b->fd, &st) == 0 && st.st_size >= want, "run %zu not written in 5 s", runs);
}

/* The time, in ms, of the cli_connbuf_add calls that fill runs 3 to 6 of
 * 30 000 shuffled records (the first two runs grow the arrays, in place and
 * in the background alike: not measured), the calls that hand a run over to
 * be sorted and written, added up; pause_ms between runs. In the background,
 * each hand-over also waits first until the previous run is in the file, so
 * that a machine too busy to write it during the pause does not make the
 * hand-over wait for the writer: what is measured is the hand-over alone. */
static double handover_ms(bool background, double pause_ms)
{
    size_t run = 30000, n = 6 * run;
    cli_connbuf b = {0};
    cli_connbuf_spill(&b, run * sizeof(tt_conn) * (background ? 2 : 1), background);
    add_some(&b, n, 0, 2 * run);
    double total = 0;
    for (size_t i = 2 * run; i < n; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        add_some(&b, n, i, i + 1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((i + 1) % run)
            continue;
        total += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* records come at a host's pace, not a loop's */
        long ns = (long)(pause_ms * 1e6);
        nanosleep(&(struct timespec){ns / 1000000000, ns % 1000000000}, NULL);
        if (background)
            wait_for_runs_written(&b, (i + 1) / run, run);
    }
    cr_assert_eq(cli_connbuf_sort(&b), 0);
    cr_assert_eq(b.nruns, 6);
    cli_connbuf_free(&b);
    return total;
}

/* What the background is for: the thread that adds records (a live host's
 * analysis thread) does not stop to sort and write a run. Written in place,
 * the add that fills a run of 30 000 shuffled records (7 MiB) takes as long
 * as their sort and write; in the background it takes a thread's start. (A
 * host that fills the next run before the writer is done waits for it: the
 * test pauses after each run, as records arriving at a host's pace would —
 * 60 ms, or three times what a run took in place when the machine is so
 * busy that this is more — and then waits until the run is in the file, so
 * that it measures the hand-over and not that wait. Without the second wait
 * the check failed once with two test programs running at once: 12.68 ms
 * for the four hand-overs against 41.94 in place.) */
Test(connbuf, adding_does_not_wait_for_a_run_written_in_the_background)
{
    double in_place = handover_ms(false, 60), background = 1e9;
    double pause = in_place / 4 * 3 > 60 ? in_place / 4 * 3 : 60;
    for (int i = 0; i < 3; i++) { /* best of three: the machine's hiccups */
        double ms = handover_ms(true, pause);
        if (ms < background)
            background = ms;
    }
    cr_log_info("4 runs handed over in %.2f ms in the background, %.2f in place", background,
                in_place);
    cr_assert_lt(background, in_place / 4,
                 "4 runs handed over in %.2f ms in the background, %.2f in place", background,
                 in_place);
}

/* A file that lost its records (here cut to nothing) is an error the
 * writers return, not a short log passed off as whole. */
Test(connbuf, spilled_records_that_cannot_be_read_back_are_an_error)
{
    cli_connbuf b = {0};
    cli_connbuf_spill(&b, 100 * sizeof(tt_conn), false);
    add_shuffled(&b, 1000);
    cr_assert_eq(b.nruns, 10);
    cr_assert_eq(ftruncate(b.fd, 0), 0);
    cli_connbuf_sort(&b);
    char *c, *j;
    cr_assert_eq(logs_text(&b, &c, &j), TT_EIO);
    cr_assert_eq(errno, EIO);
    cr_assert_eq(strstr(c, "\tC0"), NULL, "no record written");
    free(c), free(j);
    cli_connbuf_free(&b);
}

/* ---- JSON -------------------------------------------------------------- */

Test(jsonlog, keys_are_zeeks_dotted_names_and_unset_ones_are_omitted)
{
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    json_t *o = json_of(&c);
    cr_assert(json_is_real(json_object_get(o, "ts")));
    cr_assert_str_eq(json_string_value(json_object_get(o, "uid")), "CAbCdEfGhIjKlMn01");
    cr_assert_str_eq(json_string_value(json_object_get(o, "id.orig_h")), "10.0.0.1");
    cr_assert_eq(json_integer_value(json_object_get(o, "id.orig_p")), 40000);
    cr_assert_str_eq(json_string_value(json_object_get(o, "id.resp_h")), "10.77.2.2");
    cr_assert_eq(json_integer_value(json_object_get(o, "id.resp_p")), 53);
    cr_assert_str_eq(json_string_value(json_object_get(o, "proto")), "udp");
    cr_assert_str_eq(json_string_value(json_object_get(o, "conn_state")), "S0");
    cr_assert_str_eq(json_string_value(json_object_get(o, "tt_verdict")), "answered");
    cr_assert(json_is_integer(json_object_get(o, "missed_bytes")));
    const char *absent[] = {"service",    "duration",     "orig_bytes",       "resp_bytes",
                            "local_orig", "local_resp",   "history",          "tunnel_parents",
                            "l7",         "tt_certainty", "tt_uncertain_why", "tt_late_replies",
                            "id"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        cr_assert_null(json_object_get(o, absent[i]), "%s should be omitted", absent[i]);
    json_decref(o);
}

Test(jsonlog, ts_and_duration_keep_six_decimals_without_float_noise)
{
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.has_sizes = true;
    c.last_us = c.ts_us + 300000; /* 0.3 s: %.17g would print 0.29999999999999999 */
    char *line = cli_jsonlog_format(&c);
    cr_assert(strncmp(line, "{\"ts\":1764280000.123456,\"uid\":", 30) == 0, "%s", line);
    cr_assert_not_null(strstr(line, ",\"duration\":0.300000,"), "%s", line);
    json_t *o = json_loads(line, 0, NULL);
    cr_assert_not_null(o);
    cr_assert_float_eq(json_real_value(json_object_get(o, "ts")), 1764280000.123456, 1e-7);
    cr_assert_eq(json_integer_value(json_object_get(o, "orig_bytes")), 0);
    json_decref(o);
    free(line);
}

Test(jsonlog, failures_carry_certainty_and_reasons)
{
    tt_conn c = udp_conn(TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    c.uncertain_why = TT_UNC_CAPTURE_LOSS | TT_UNC_CAPTURE_END;
    c.late_replies = 2;
    c.l7 = "DNS.Google";
    json_t *o = json_of(&c);
    cr_assert_str_eq(json_string_value(json_object_get(o, "tt_certainty")), "uncertain");
    json_t *why = json_object_get(o, "tt_uncertain_why");
    cr_assert(json_is_array(why));
    cr_assert_eq(json_array_size(why), 2);
    cr_assert_str_eq(json_string_value(json_array_get(why, 0)), "capture_loss");
    cr_assert_str_eq(json_string_value(json_array_get(why, 1)), "capture_end");
    cr_assert_str_eq(json_string_value(json_object_get(o, "l7")), "DNS.Google");
    cr_assert_eq(json_integer_value(json_object_get(o, "tt_late_replies")), 2);
    json_decref(o);

    c = udp_conn(TT_VERDICT_UNANSWERED, TT_CERTAIN);
    o = json_of(&c);
    cr_assert_str_eq(json_string_value(json_object_get(o, "tt_certainty")), "certain");
    cr_assert_null(json_object_get(o, "tt_uncertain_why"));
    json_decref(o);
}

Test(jsonlog, odd_characters_are_escaped_by_jansson)
{
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    c.service = "we\"ird\\na\tme";
    c.has_sizes = true;
    strcpy(c.history, "Dd");
    json_t *o = json_of(&c);
    cr_assert_str_eq(json_string_value(json_object_get(o, "service")), "we\"ird\\na\tme");
    cr_assert_str_eq(json_string_value(json_object_get(o, "history")), "Dd");
    json_decref(o);

    c.service = "caf\xe9"; /* Latin-1, not UTF-8: kept, with the byte replaced */
    o = json_of(&c);
    cr_assert_str_eq(json_string_value(json_object_get(o, "service")), "caf?");
    json_decref(o);
}

/* The writer copies strings jansson would leave as they are and has jansson
 * encode the rest: every byte value, alone and between letters, gives the
 * encoding jansson gives the same text (or, not being UTF-8, the text with
 * the byte replaced by '?'). */
Test(jsonlog, every_byte_is_encoded_as_jansson_encodes_it)
{
    cli_jsonw *w = cli_jsonw_new();
    cr_assert_not_null(w);
    for (unsigned b = 1; b < 256; b++) {
        char forms[2][4] = {{(char)b, 0}, {'a', (char)b, 'z', 0}};
        for (int k = 0; k < 2; k++) {
            tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
            c.service = forms[k];
            json_t *v = json_string(forms[k]);
            if (!v) {
                char copy[4];
                strcpy(copy, forms[k]);
                for (char *p = copy; *p; p++)
                    if ((unsigned char)*p >= 0x80)
                        *p = '?';
                v = json_string(copy);
            }
            cr_assert_not_null(v);
            char *enc = json_dumps(v, JSON_ENCODE_ANY);
            char want[64];
            snprintf(want, sizeof want, ",\"service\":%s,", enc);
            size_t len;
            const char *line = cli_jsonw_format(w, &c, &len);
            cr_assert_not_null(line);
            cr_assert_not_null(strstr(line, want), "byte 0x%02x: want %s in %s", b, want, line);
            cr_assert_eq(strlen(line), len);
            free(enc);
            json_decref(v);
        }
    }
    cli_jsonw_free(w);
}

/* One writer for many records of every shape gives each record the line a
 * writer of its own gives it (its buffer is reused from line to line, long
 * after short and short after long). */
Test(jsonlog, one_writer_writes_each_record_as_alone)
{
    static char longname[2000];
    memset(longname, 'x', sizeof longname - 1);
    cli_jsonw *w = cli_jsonw_new();
    cr_assert_not_null(w);
    for (unsigned m = 0; m < 512; m++) {
        tt_conn c = udp_conn(m & 1 ? TT_VERDICT_UNANSWERED : TT_VERDICT_ANSWERED,
                             m & 2 ? TT_UNCERTAIN : TT_CERTAIN);
        c.service = m & 4 ? (m & 64 ? longname : "dns") : NULL;
        c.has_sizes = m & 8;
        c.last_us = c.ts_us + m * 1000u;
        c.orig_bytes = m * 3u;
        c.conn_state = m & 16 ? "SF" : NULL;
        strcpy(c.history, m & 32 ? "Dd" : "");
        c.uncertain_why = m & 128 ? TT_UNC_EVICTED | TT_UNC_SNAPLEN : TT_UNC_CAPTURE_END;
        c.l7 = m & 256 ? "DNS.Google" : NULL;
        c.late_replies = m % 3;
        c.icmp_type = (uint8_t)(m % 5 == 0 ? 3 : 0);
        c.icmp_code = (uint8_t)(m % 7 == 0 ? 10 : 0);
        c.orig_pkts = UINT64_MAX - m; /* saturates at INT64_MAX */
        char *alone = cli_jsonlog_format(&c);
        size_t len;
        const char *line = cli_jsonw_format(w, &c, &len);
        cr_assert_not_null(alone);
        cr_assert_not_null(line);
        cr_assert_str_eq(line, alone, "record %u", m);
        cr_assert_eq(len, strlen(alone));
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o, "record %u is not JSON: %s", m, line);
        cr_assert_eq(json_integer_value(json_object_get(o, "orig_pkts")), INT64_MAX);
        cr_assert_eq(json_object_get(o, "service") != NULL, (m & 4) != 0);
        cr_assert_eq(json_object_get(o, "duration") != NULL, (m & 8) != 0);
        json_decref(o);
        free(alone);
    }
    cli_jsonw_free(w);
}

Test(jsonlog, keys_follow_zeeks_order)
{
    tt_conn c = udp_conn(TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    c.service = "dns";
    c.has_sizes = true;
    c.last_us = c.ts_us + 2;
    c.orig_bytes = 40;
    strcpy(c.history, "D");
    c.orig_pkts = 1;
    c.orig_ip_bytes = 68;
    c.uncertain_why = TT_UNC_CAPTURE_END;
    c.l7 = "DNS";
    c.late_replies = 1;
    c.icmp_type = 3;
    c.icmp_code = 3;
    char *line = cli_jsonlog_format(&c);
    cr_assert_str_eq(line,
                     "{\"ts\":1764280000.123456,\"uid\":\"CAbCdEfGhIjKlMn01\","
                     "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40000,\"id.resp_h\":\"10.77.2.2\","
                     "\"id.resp_p\":53,\"proto\":\"udp\",\"service\":\"dns\","
                     "\"duration\":0.000002,\"orig_bytes\":40,\"resp_bytes\":0,"
                     "\"conn_state\":\"S0\",\"missed_bytes\":0,\"history\":\"D\","
                     "\"orig_pkts\":1,\"orig_ip_bytes\":68,\"resp_pkts\":0,\"resp_ip_bytes\":0,"
                     "\"tt_verdict\":\"unanswered\",\"tt_certainty\":\"uncertain\","
                     "\"tt_uncertain_why\":[\"capture_end\"],\"l7\":\"DNS\","
                     "\"tt_late_replies\":1,\"tt_icmp_type\":3,\"tt_icmp_code\":3}");
    free(line);
}

Test(jsonlog, ipv6_addresses_are_compressed)
{
    tt_conn c = make_conn(6, "2001:db8:0:0:1:0:0:1", 51000, "2606:4700:4700:0:0:0:0:1111", 443,
                          TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN);
    json_t *o = json_of(&c);
    cr_assert_str_eq(json_string_value(json_object_get(o, "id.orig_h")), "2001:db8::1:0:0:1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "id.resp_h")), "2606:4700:4700::1111");
    cr_assert_str_eq(json_string_value(json_object_get(o, "proto")), "tcp");
    json_decref(o);
}

/* ---- summary ----------------------------------------------------------- */

static char *summary_text(cli_summary *s)
{
    cli_summary_source src = {.command = "tunneltap replay",
                              .name = "x.pcap",
                              .linktype = "RAW",
                              .records = 10,
                              .matched = 10};
    tt_analyzer_stats st;
    memset(&st, 0, sizeof st);
    st.events[TT_EV_IPV4_FRAG_LATER] = 2;
    char *buf = NULL;
    CAPTURE(buf, cli_summary_print(s, &src, &st, out));
    return buf;
}

Test(summary, no_failures_is_ok)
{
    cli_summary s;
    cli_summary_init(&s);
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    cli_summary_add(&s, &c);
    c = make_conn(6, "10.0.0.1", 40001, "10.0.0.2", 443, TT_VERDICT_CLOSED, TT_CERTAINTY_NONE);
    cli_summary_add(&s, &c);
    char line[256];
    cr_assert_eq(cli_summary_judge(&s, line, sizeof line), CLI_JUDGE_OK);
    cr_assert_str_eq(line, "OK — no failed handshakes or unanswered UDP");
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "verdict: OK — no failed handshakes or unanswered UDP\n"), "%s",
                       text);
    cr_assert_null(strstr(text, "failing destinations"), "%s", text);
    free(text);
    cli_summary_free(&s);
}

Test(summary, certain_failures_are_broken_and_uncertain_ones_stay_apart)
{
    cli_summary s;
    cli_summary_init(&s);
    tt_conn c;
    for (int i = 0; i < 35; i++) {
        c = udp_conn(i < 17 ? TT_VERDICT_UNANSWERED : TT_VERDICT_ANSWERED,
                     i < 17 ? TT_CERTAIN : TT_CERTAINTY_NONE);
        c.service = "dns";
        cli_summary_add(&s, &c);
    }
    c = udp_conn(TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    c.service = "dns";
    c.uncertain_why = TT_UNC_CAPTURE_END;
    cli_summary_add(&s, &c);
    for (int i = 0; i < 4; i++) {
        c = make_conn(6, "10.0.0.1", (uint16_t)(40000 + i), "10.77.2.2", 80,
                      i < 3 ? TT_VERDICT_SYN_UNANSWERED : TT_VERDICT_ESTABLISHED,
                      i < 3 ? TT_CERTAIN : TT_CERTAINTY_NONE);
        cli_summary_add(&s, &c);
    }
    char line[512];
    cr_assert_eq(cli_summary_judge(&s, line, sizeof line), CLI_JUDGE_BROKEN);
    cr_assert_str_eq(line, "BROKEN — 3 of 4 TCP handshakes never completed and 17 of 36 UDP "
                           "flows got no reply. 1 more may be capture artifacts.");
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "flows: 40 (TCP 4, UDP 36, ICMP 0)\n"), "%s", text);
    cr_assert_not_null(strstr(text, "unanswered 18 (1 uncertain)"), "%s", text);
    cr_assert_not_null(strstr(text, "failing destinations:\n"
                                    "  10.77.2.2  udp/53 dns  unanswered 17 of 36 (+1 uncertain)\n"
                                    "  10.77.2.2  tcp/80 -    syn_unanswered 3 of 4\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "uncertain failures (not counted as breakage): 1 — capture "
                                    "end 1\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "decoder events: ipv4.frag_later 2\n"), "%s", text);
    free(text);
    cli_summary_free(&s);
}

Test(summary, only_uncertain_failures_are_inconclusive)
{
    cli_summary s;
    cli_summary_init(&s);
    tt_conn c = udp_conn(TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    c.uncertain_why = TT_UNC_CAPTURE_END;
    cli_summary_add(&s, &c);
    c = make_conn(6, "10.0.0.1", 40000, "10.0.0.9", 443, TT_VERDICT_SYN_UNANSWERED, TT_UNCERTAIN);
    c.uncertain_why = TT_UNC_CAPTURE_LOSS | TT_UNC_CAPTURE_END;
    cli_summary_add(&s, &c);
    char line[256];
    cr_assert_eq(cli_summary_judge(&s, line, sizeof line), CLI_JUDGE_INCONCLUSIVE);
    cr_assert_str_eq(line, "inconclusive — 2 failures may be capture artifacts (capture loss 1, "
                           "capture end 2); none is certain");
    char *text = summary_text(&s);
    cr_assert_null(strstr(text, "failing destinations"), "uncertain is not breakage: %s", text);
    free(text);
    cli_summary_free(&s);
}

Test(summary, no_flows_is_nothing_to_judge)
{
    cli_summary s;
    cli_summary_init(&s);
    char line[256];
    cr_assert_eq(cli_summary_judge(&s, line, sizeof line), CLI_JUDGE_EMPTY);
    cli_summary_free(&s);
}

Test(summary, many_failing_ports_of_one_host_share_a_line)
{
    cli_summary s;
    cli_summary_init(&s);
    for (uint16_t port = 1; port <= 8; port++) {
        tt_conn c = make_conn(6, "10.0.0.1", 40000, "192.0.2.7", port, TT_VERDICT_SYN_UNANSWERED,
                              TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    tt_conn ok =
        make_conn(6, "10.0.0.1", 40000, "192.0.2.7", 22, TT_VERDICT_CLOSED, TT_CERTAINTY_NONE);
    cli_summary_add(&s, &ok);
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "  192.0.2.7  tcp/* (8 ports)  syn_unanswered 8 of 9\n"), "%s",
                       text);
    free(text);
    cli_summary_free(&s);
}

static void add_to(cli_summary *s, uint8_t proto, const char *host, uint16_t port,
                   const char *service, tt_verdict v)
{
    bool fail = tt_verdict_is_failure(v);
    tt_conn c = make_conn(proto, strchr(host, ':') ? "2001:db8:1::1" : "10.0.0.1", 40000, host,
                          port, v, fail ? TT_CERTAIN : TT_CERTAINTY_NONE);
    c.service = service;
    cli_summary_add(s, &c);
}

/* A service failing everywhere (a filter dropping QUIC) is one row for all
 * its hosts, counting every flow to that port and service. */
Test(summary, many_failing_hosts_of_one_port_share_a_line)
{
    cli_summary s;
    cli_summary_init(&s);
    char addr[32];
    for (int h = 1; h <= 8; h++) {
        snprintf(addr, sizeof addr, "198.51.100.%d", h);
        add_to(&s, 17, addr, 443, "quic", TT_VERDICT_UNANSWERED);
    }
    add_to(&s, 17, "198.51.100.9", 443, "quic", TT_VERDICT_ANSWERED);
    add_to(&s, 17, "198.51.100.1", 443, NULL, TT_VERDICT_UNANSWERED); /* another service */
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "  8 hosts       udp/443 quic  unanswered 8 of 9\n"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "  198.51.100.1  udp/443 -     unanswered 1 of 1\n"), "%s",
                       text);
    free(text);
    cli_summary_free(&s);
}

/* A group rolled up with its host is not counted again with its port; five
 * failing hosts on a port stay five rows. */
Test(summary, host_and_port_rows_never_share_a_group)
{
    cli_summary s;
    cli_summary_init(&s);
    for (uint16_t port = 440; port <= 446; port++) /* 192.0.2.7: 7 ports, 443 among them */
        add_to(&s, 6, "192.0.2.7", port, NULL, TT_VERDICT_SYN_UNANSWERED);
    char addr[32];
    for (int h = 1; h <= 5; h++) {
        snprintf(addr, sizeof addr, "203.0.113.%d", h);
        add_to(&s, 6, addr, 443, NULL, TT_VERDICT_SYN_UNANSWERED);
    }
    for (int h = 1; h <= 3; h++) { /* 2001:db8::1..3, and 203.0.113.1..3 again, on udp/53 */
        snprintf(addr, sizeof addr, "2001:db8::%d", h);
        add_to(&s, 17, addr, 53, "dns", TT_VERDICT_UNANSWERED);
        snprintf(addr, sizeof addr, "203.0.113.%d", h);
        add_to(&s, 17, addr, 53, "dns", TT_VERDICT_UNANSWERED);
    }
    cli_dest_row *rows;
    size_t n;
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 1 + 5 + 1, "the host, five tcp/443 rows, one udp/53 row: %zu", n);
    size_t by_host = 0, by_port = 0, single = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].ports) {
            by_host++;
            cr_assert_eq(rows[i].ports, 7);
            cr_assert_eq(rows[i].d.failed, 7);
        } else if (rows[i].hosts) {
            by_port++;
            cr_assert_eq(rows[i].hosts, 6, "IPv4 and IPv6 hosts together");
            cr_assert_eq(rows[i].d.port, 53);
            cr_assert_eq(rows[i].d.proto, 17);
            cr_assert_str_eq(rows[i].d.service, "dns");
            cr_assert_eq(rows[i].d.by_verdict[TT_VERDICT_UNANSWERED], 6);
        } else {
            single++;
            cr_assert_eq(rows[i].d.port, 443);
            cr_assert_eq(rows[i].d.failed, 1);
        }
    }
    cr_assert_eq(by_host, 1);
    cr_assert_eq(by_port, 1);
    cr_assert_eq(single, 5);
    free(rows);
    cli_summary_free(&s);
}

/* One address failing on several ports of two protocols is two hosts, a row
 * each; so are IPv6 hosts, whichever hash their address gets. The ports are
 * added alternating between the protocols, so that an order by address and
 * port alone would mix the two hosts' groups. */
Test(summary, one_address_failing_on_two_protocols_is_two_hosts)
{
    cli_summary s;
    cli_summary_init(&s);
    char addr[40];
    for (uint16_t port = 1; port <= 7; port++) {
        add_to(&s, 6, "192.0.2.7", port, NULL, TT_VERDICT_SYN_UNANSWERED);
        if (port <= 6)
            add_to(&s, 17, "192.0.2.7", port, NULL, TT_VERDICT_UNANSWERED);
        for (int h = 1; h <= 40; h++) { /* 40 IPv6 hosts failing on 6 ports, two on 14 */
            snprintf(addr, sizeof addr, "2001:db8::%x", h);
            add_to(&s, 6, addr, port, NULL,
                   port <= 6 || h <= 2 ? TT_VERDICT_SYN_REJECTED : TT_VERDICT_ESTABLISHED);
            if (h <= 2)
                add_to(&s, 6, addr, (uint16_t)(port + 100), NULL, TT_VERDICT_SYN_REJECTED);
        }
    }
    add_to(&s, 17, "192.0.2.8", 9, NULL, TT_VERDICT_UNANSWERED);
    cli_dest_row *rows;
    size_t n;
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 2 + 40 + 1, "a row for each host and protocol, and 192.0.2.8's: %zu", n);
    size_t v4 = 0, v6 = 0, single = 0;
    for (size_t i = 0; i < n; i++) {
        const cli_dest *d = &rows[i].d;
        if (!rows[i].ports) {
            single++;
            cr_assert_eq(d->port, 9);
            cr_assert_eq(d->failed, 1);
        } else if (d->ip_version == 4) {
            v4++;
            cr_assert_eq(d->port, 0);
            cr_assert_eq(rows[i].ports, d->proto == 6 ? 7u : 6u, "%u: %zu ports", d->proto,
                         rows[i].ports);
            cr_assert_eq(d->failed, d->proto == 6 ? 7u : 6u);
            cr_assert_eq(d->flows, d->failed);
        } else {
            v6++;
            cr_assert_eq(d->proto, 6);
            inet_ntop(AF_INET6, d->addr, addr, sizeof addr);
            bool first_two = !strcmp(addr, "2001:db8::1") || !strcmp(addr, "2001:db8::2");
            cr_assert_eq(rows[i].ports, first_two ? 14u : 6u, "%s: %zu ports", addr, rows[i].ports);
            cr_assert_eq(d->failed, first_two ? 14u : 6u, "%s", addr);
            cr_assert_eq(d->flows, first_two ? 14u : 7u, "%s: every flow to the host", addr);
        }
    }
    cr_assert_eq(v4, 2);
    cr_assert_eq(v6, 40);
    cr_assert_eq(single, 1);
    free(rows);
    cli_summary_free(&s);
}

/* A scan at scale: 3 000 hosts, each failing on 7 ports with one working,
 * grows the groups well past their first size; then, with the groups full,
 * a flow to a known group is still counted and a new group is left out and
 * said so. */
Test(summary, a_scan_of_many_hosts_rolls_each_up_and_the_groups_stay_bounded)
{
    cli_summary s;
    cli_summary_init(&s);
    char addr[32];
    for (int h = 0; h < 3000; h++) {
        snprintf(addr, sizeof addr, "10.%d.%d.1", 100 + h / 250, h % 250);
        for (uint16_t port = 1; port <= 8; port++) {
            tt_conn c = make_conn(6, "10.0.0.1", 40000, addr, port,
                                  port <= 7 ? TT_VERDICT_SYN_UNANSWERED : TT_VERDICT_CLOSED,
                                  port <= 7 ? TT_CERTAIN : TT_CERTAINTY_NONE);
            cli_summary_add(&s, &c);
        }
    }
    /* a sixth of the hosts get a second failing flow on port 3 */
    for (int h = 0; h < 3000; h += 6) {
        snprintf(addr, sizeof addr, "10.%d.%d.1", 100 + h / 250, h % 250);
        tt_conn c = make_conn(6, "10.0.0.1", 40001, addr, 3, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    /* the last records wait in the look-ahead queue until a flush */
    cr_assert_gt(s.ahead_n, 0);
    cli_summary_flush(&s);
    cr_assert_eq(s.ahead_n, 0);
    cr_assert_eq(s.dest_used, 24000);
    cr_assert_not(s.oom);
    cli_dest_row *rows;
    size_t n;
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 3000, "one row per host: %zu", n);
    /* the first 600 chosen without ranking all: the same rows as ranking all */
    cli_dest_row *top;
    size_t ntop;
    cr_assert_eq(cli_summary_failing(&s, false, 600, &top, &ntop), 0);
    cr_assert_eq(ntop, 3000);
    for (size_t i = 0; i < 600; i++) {
        cr_assert_eq(memcmp(top[i].d.addr, rows[i].d.addr, 16), 0, "row %zu", i);
        cr_assert_eq(top[i].d.failed, rows[i].d.failed);
        cr_assert_eq(top[i].d.flows, rows[i].d.flows);
        cr_assert_eq(top[i].ports, rows[i].ports);
    }
    free(top);
    for (size_t i = 0; i < n; i++) {
        bool twice = i < 500; /* ranked first: 8 failures */
        cr_assert_eq(rows[i].ports, 7);
        cr_assert_eq(rows[i].d.port, 0);
        cr_assert_eq(rows[i].d.failed, twice ? 8u : 7u, "row %zu", i);
        cr_assert_eq(rows[i].d.flows, twice ? 9u : 8u, "row %zu", i);
        cr_assert_eq(rows[i].d.by_verdict[TT_VERDICT_SYN_UNANSWERED], twice ? 8u : 7u);
    }
    /* ties rank by address: 10.100.0.1 (host 0) first */
    char first[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, rows[0].d.addr, first, sizeof first);
    cr_assert_str_eq(first, "10.100.0.1");
    free(rows);

    /* fill the groups up to their bound, then one more group and one more flow to a known one */
    for (unsigned i = 0, fill = CLI_SUMMARY_MAX_DESTS - (unsigned)s.dest_used; i < fill; i++) {
        snprintf(addr, sizeof addr, "172.16.%u.%u", i / 250, i % 250 + 1);
        tt_conn c =
            make_conn(17, "10.0.0.1", 40000, addr, 53, TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
        cli_summary_add(&s, &c);
    }
    cli_summary_flush(&s);
    cr_assert_eq(s.dest_used, CLI_SUMMARY_MAX_DESTS);
    cr_assert_not(s.oom);
    tt_conn c =
        make_conn(6, "10.0.0.1", 40002, "10.100.0.1", 3, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN);
    cli_summary_add(&s, &c);
    cli_summary_flush(&s);
    cr_assert_not(s.oom, "a known group is found when the groups are full");
    c = make_conn(17, "10.0.0.1", 40000, "198.51.100.1", 53, TT_VERDICT_UNANSWERED, TT_CERTAIN);
    cli_summary_add(&s, &c);
    cli_summary_flush(&s);
    cr_assert(s.full, "a new group past the bound is not kept, and that is recorded");
    cr_assert_not(s.oom, "its record is counted by port");
    cr_assert_eq(s.dest_used, CLI_SUMMARY_MAX_DESTS);
    cr_assert_eq(s.over_used, 1);
    cr_assert_eq(cli_summary_failing(&s, false, 1, &rows, &n), 0);
    cr_assert_eq(n, 3001, "the hosts' rows and udp/53's");
    cr_assert_eq(rows[0].d.failed, 9u, "10.100.0.1 has its third port-3 failure");
    free(rows);
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "  10.100.0.1   tcp/* (7 ports)  syn_unanswered 9 of 10\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "  ... and 2991 more destinations with failures\n"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "note: more than 65536 destinations: those past them are "
                                    "counted by port and service alone"),
                       "%s", text);
    free(text);
    cli_summary_free(&s);
}

/* Past the groups' bound a scan's records are counted by port: its row
 * counts every flow (the hosts known by address are a floor, "N+"); a port
 * seen only past the bound gets a row of its own; hosts known by address
 * on a port with failures past the bound join that row even when they are
 * few; flows past the bound that did not fail are counted in their port's
 * row without making its host count a floor; more than five ports of one
 * protocol that failed only past the bound, and little, share one row.
 * Past CLI_SUMMARY_MAX_OVER ports too, the list says it is incomplete. */
Test(summary, hosts_past_the_bound_are_counted_by_port)
{
    cli_summary s;
    cli_summary_init(&s);
    char addr[32];
    /* three hosts known by address failing on udp/5353 and six on udp/123,
     * then a scan of tcp/443 past the bound (one flow in ten answered) */
    for (unsigned i = 0; i < 9; i++) {
        snprintf(addr, sizeof addr, "172.17.0.%u", i + 1);
        tt_conn c = make_conn(17, "192.0.2.1", 40000, addr, i < 3 ? 5353 : 123,
                              TT_VERDICT_UNANSWERED, TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    unsigned total = CLI_SUMMARY_MAX_DESTS + 5000;
    for (unsigned i = 0; i < total; i++) {
        snprintf(addr, sizeof addr, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
        bool ok = i % 10 == 0;
        tt_conn c = make_conn(6, "192.0.2.1", 40000, addr, 443,
                              ok ? TT_VERDICT_CLOSED : TT_VERDICT_SYN_UNANSWERED,
                              ok ? TT_CERTAINTY_NONE : TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    /* past the bound: two more hosts failing on udp/5353, two answered on udp/123 */
    for (unsigned i = 0; i < 4; i++) {
        snprintf(addr, sizeof addr, "172.16.0.%u", i + 1);
        tt_conn c = make_conn(17, "192.0.2.1", 40000, addr, i < 2 ? 5353 : 123,
                              i < 2 ? TT_VERDICT_UNANSWERED : TT_VERDICT_ANSWERED,
                              i < 2 ? TT_CERTAIN : TT_CERTAINTY_NONE);
        cli_summary_add(&s, &c);
    }
    cli_summary_flush(&s);
    cr_assert(s.full);
    cr_assert_not(s.oom);
    cr_assert_eq(s.over_used, 3);
    cli_dest_row *rows;
    size_t n;
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 3, "one row per port: %zu", n);
    /* tcp/443: 65 527 hosts kept (the bound less the nine UDP ones), 58 974
     * of them failing (all but every tenth); 70 536 flows, 63 482 failed */
    cr_assert(rows[0].more_hosts);
    cr_assert_eq(rows[0].d.port, 443);
    cr_assert_eq(rows[0].d.flows, total, "every flow, kept or not");
    cr_assert_eq(rows[0].d.failed, total - (total + 9) / 10);
    cr_assert_eq(rows[0].d.by_verdict[TT_VERDICT_SYN_UNANSWERED], total - (total + 9) / 10);
    cr_assert_eq(rows[0].hosts, 58974, "failing hosts among those kept: %zu", rows[0].hosts);
    /* udp/123 (ranked second: six failures): six hosts failing, the two past
     * the bound answered: their flows are counted, the host count stays exact */
    cr_assert_not(rows[1].more_hosts);
    cr_assert_eq(rows[1].d.port, 123);
    cr_assert_eq(rows[1].d.flows, 8);
    cr_assert_eq(rows[1].d.failed, 6);
    cr_assert_eq(rows[1].hosts, 6);
    /* udp/5353: three hosts known, two past the bound: one row of five */
    cr_assert(rows[2].more_hosts);
    cr_assert_eq(rows[2].d.port, 5353);
    cr_assert_eq(rows[2].d.flows, 5);
    cr_assert_eq(rows[2].d.failed, 5);
    cr_assert_eq(rows[2].hosts, 3);
    char who[64];
    cli_dest_row_who(&rows[0], who, sizeof who);
    cr_assert_str_eq(who, "58974+ hosts");
    cli_dest_row_who(&rows[1], who, sizeof who);
    cr_assert_str_eq(who, "6 hosts");
    cli_dest_row_who(&rows[2], who, sizeof who);
    cr_assert_str_eq(who, "3+ hosts");
    free(rows);
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "  58974+ hosts  tcp/443  -  syn_unanswered 63482 of 70536\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "  6 hosts       udp/123  -  unanswered 6 of 8\n"), "%s", text);
    cr_assert_not_null(strstr(text, "  3+ hosts      udp/5353 -  unanswered 5 of 5\n"), "%s", text);
    free(text);

    /* a port that failed only past the bound, once: a row of its own, of
     * no host known */
    for (unsigned i = 0; i < 3; i++) {
        tt_conn c = make_conn(17, "192.0.2.1", 40000, "172.16.1.1", (uint16_t)(20000 + i),
                              TT_VERDICT_UNANSWERED, TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 6, "443, 123, 5353 and three new ports: %zu", n);
    size_t at = n;
    for (size_t i = 0; i < n; i++)
        if (rows[i].d.port == 20000)
            at = i;
    cr_assert_lt(at, n);
    cr_assert_eq(rows[at].hosts, 0);
    cr_assert(rows[at].more_hosts);
    cr_assert_eq(rows[at].d.failed, 1);
    cli_dest_row_who(&rows[at], who, sizeof who);
    cr_assert_str_eq(who, "1+ hosts");
    free(rows);
    /* more than five such ports of one protocol (a host's ports scanned once
     * the groups were full) share a row; past CLI_SUMMARY_MAX_OVER keys a new
     * port is counted nowhere, and the note says so */
    for (unsigned i = 0; i < CLI_SUMMARY_MAX_OVER; i++) {
        tt_conn c = make_conn(17, "192.0.2.1", 40000, "172.16.1.1", (uint16_t)(10000 + i),
                              TT_VERDICT_UNANSWERED, TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    cli_summary_flush(&s);
    cr_assert_eq(s.over_used, CLI_SUMMARY_MAX_OVER);
    cr_assert(s.oom);
    cr_assert_eq(cli_summary_failing(&s, false, SIZE_MAX, &rows, &n), 0);
    cr_assert_eq(n, 4, "443, 123, 5353 and udp/*: %zu", n);
    cr_assert_eq(rows[1].ports, CLI_SUMMARY_MAX_OVER - 3, "every key but 443, 123 and 5353");
    cr_assert_eq(rows[1].d.proto, 17);
    cr_assert_eq(rows[1].d.failed, CLI_SUMMARY_MAX_OVER - 3, "ranked second");
    cr_assert_eq(rows[1].d.flows, CLI_SUMMARY_MAX_OVER - 3);
    cli_dest_row_who(&rows[1], who, sizeof who);
    cr_assert_str_eq(who, "1+ hosts");
    free(rows);
    text = summary_text(&s);
    cr_assert_not_null(
        strstr(text, "  1+ hosts      udp/*    (4093 ports)  unanswered 4093 of 4093\n"), "%s",
        text);
    cr_assert_not_null(strstr(text, "note: out of memory, or more than 4096 ports past the "
                                    "summary's 65536 destinations: the list of failing "
                                    "destinations is incomplete"),
                       "%s", text);
    free(text);
    cli_summary_free(&s);
}

Test(summary, top_list_stops_at_ten_groups)
{
    cli_summary s;
    cli_summary_init(&s);
    char addr[32];
    for (int h = 0; h < 13; h++) { /* each host on a port of its own: no row rolls up */
        snprintf(addr, sizeof addr, "192.0.2.%d", h + 1);
        tt_conn c = make_conn(17, "10.0.0.1", 40000, addr, (uint16_t)(5000 + h),
                              TT_VERDICT_UNANSWERED, TT_CERTAIN);
        cli_summary_add(&s, &c);
    }
    char *text = summary_text(&s);
    cr_assert_not_null(strstr(text, "  ... and 3 more destinations with failures\n"), "%s", text);
    free(text);
    cli_summary_free(&s);
}

Test(summary, many_bad_checksums_suggest_no_checksums)
{
    cli_summary s;
    cli_summary_init(&s);
    tt_conn c = udp_conn(TT_VERDICT_ANSWERED, TT_CERTAINTY_NONE);
    cli_summary_add(&s, &c);
    cli_summary_source src = {.command = "tunneltap replay", .name = "x.pcap", .linktype = "RAW"};
    tt_analyzer_stats st;
    memset(&st, 0, sizeof st);
    st.ip_packets = 100;
    st.events[TT_EV_UDP_CHECKSUM_BAD] = 2; /* 2 %, and nothing failed: no note */
    char *buf = NULL;
    CAPTURE(buf, cli_summary_print(&s, &src, &st, out));
    cr_assert_null(strstr(buf, "--no-checksums"), "%s", buf);
    free(buf);

    st.events[TT_EV_TCP_CHECKSUM_BAD] = 8; /* 10 % */
    CAPTURE(buf, cli_summary_print(&s, &src, &st, out));
    cr_assert_not_null(strstr(buf, "note: 10 of 100 IP packets had bad TCP/UDP checksums"), "%s",
                       buf);
    free(buf);
    cli_summary_free(&s);
}
