/* test_report.c - the HTML report: self-contained, escaped, well-formed, one line per marker.
 *
 * The input is synthetic: ten minutes of per-second timeline in which UDP
 * stops being answered at a marker, a second marker, an alert and its
 * recovery, and a few records behind the summary. Labels and messages carry
 * markup to prove that everything from the data is escaped. The page's
 * structure is checked with Python's html.parser when python3 is installed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/report.h"

#define T0 1764244800000000u /* 2025-11-27 12:00:00 UTC */
#define SEC 1000000u

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/tt-report-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(report, .init = make_tmpdir, .fini = remove_tmpdir);

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A synthetic run: its buffers live as long as the test. */
typedef struct fixture {
    tt_timeline_bucket tl[600];
    tt_marker mk[2];
    tt_alert al[2];
    cli_summary sum;
    cli_connbuf recs;
    cli_report_input in;
    char judgement[512];
} fixture;

/* A record to 10.77.2.<host>. */
static void add_conn_to(fixture *x, uint8_t host, uint64_t ts, uint8_t proto, uint16_t port,
                        const char *service, tt_verdict v, tt_certainty cert, unsigned n)
{
    tt_conn c = {0};
    c.ts_us = ts;
    c.last_us = ts + 1000;
    snprintf(c.uid, sizeof c.uid, "Ctest%u", n);
    c.ip_version = 4;
    c.proto = proto;
    memcpy(c.orig_h, "\x0a\x4d\x01\x02", 4);
    memcpy(c.resp_h, "\x0a\x4d\x02", 3);
    c.resp_h[3] = host;
    c.orig_p = (uint16_t)(40000 + n);
    c.resp_p = port;
    c.service = service;
    c.conn_state = v == TT_VERDICT_ANSWERED ? "SF" : "S0";
    strcpy(c.history, "D");
    c.verdict = v;
    c.certainty = cert;
    cr_assert_eq(cli_connbuf_add(&x->recs, &c), 0);
    cli_summary_add(&x->sum, &c);
}

static void add_conn(fixture *x, uint64_t ts, uint8_t proto, uint16_t port, const char *service,
                     tt_verdict v, tt_certainty cert, unsigned n)
{
    add_conn_to(x, 2, ts, proto, port, service, v, cert, n);
}

static void fixture_init(fixture *x)
{
    memset(x, 0, sizeof *x);
    for (unsigned i = 0; i < 600; i++) {
        tt_timeline_bucket *b = &x->tl[i];
        b->start_us = T0 + (uint64_t)i * SEC;
        b->flows_new = 6;
        b->udp_new = i >= 300 && i < 460 ? 1 : 3;
        b->udp_judged = 3;
        b->udp_answered = i >= 300 && i < 460 ? 0 : 3;
        b->udp_unanswered = 3 - b->udp_answered;
        if (i >= 100 && i < 130)
            b->udp_judged = b->udp_answered = b->udp_unanswered = 0; /* a gap */
        b->tcp_judged = 2;
        b->tcp_completed = 2;
        b->uncertain = i >= 590;
    }
    x->mk[0] = (tt_marker){.ts_us = T0 + 300 * SEC};
    snprintf(x->mk[0].label, sizeof x->mk[0].label, "filter 2.1 <script>alert(1)</script>");
    x->mk[1] = (tt_marker){.ts_us = T0 + 450 * SEC};
    snprintf(x->mk[1].label, sizeof x->mk[1].label, "rollback & 'quotes' \"x\"");

    tt_alert *a = &x->al[0];
    a->kind = TT_ALERT_UDP_UNANSWERED;
    a->has_marker = true;
    snprintf(a->marker, sizeof a->marker, "%s", x->mk[0].label);
    a->marker_us = a->ts_us = x->mk[0].ts_us;
    a->raised_at_us = a->ts_us + 12 * SEC;
    a->before_attempts = 52;
    a->after_attempts = 37;
    a->after_failures = 37;
    a->before_seconds = 300;
    a->after_seconds = 12;
    a->p_value = 1.2e-12;
    snprintf(a->message, sizeof a->message,
             "UDP broken since \"%s\" (12:05:00): 0 of 37 DNS/QUIC flows answered, before 52 of 52",
             x->mk[0].label);
    x->al[1] = *a;
    x->al[1].recovery = true;
    x->al[1].ts_us = T0 + 460 * SEC;
    x->al[1].took_us = 160 * SEC;
    snprintf(x->al[1].message, sizeof x->al[1].message, "UDP answered again <b>");

    cli_summary_init(&x->sum);
    unsigned n = 0;
    for (unsigned i = 0; i < 20; i++) {
        bool broken = i >= 10;
        add_conn(x, T0 + (uint64_t)i * 30 * SEC, 17, 53, "dns<b>",
                 broken ? TT_VERDICT_UNANSWERED : TT_VERDICT_ANSWERED,
                 broken ? TT_CERTAIN : TT_CERTAINTY_NONE, n++);
        add_conn(x, T0 + (uint64_t)i * 30 * SEC + 1, 6, 443, "ssl", TT_VERDICT_CLOSED,
                 TT_CERTAINTY_NONE, n++);
    }
    cli_connbuf_sort(&x->recs);
    cli_summary_judge(&x->sum, x->judgement, sizeof x->judgement);
    x->in = (cli_report_input){.title = "lab <capture>.pcap",
                               .summary = &x->sum,
                               .records = &x->recs,
                               .timeline = x->tl,
                               .nbuckets = 600,
                               .markers = x->mk,
                               .nmarkers = 2,
                               .alerts = x->al,
                               .nalerts = 2,
                               .judgement = x->judgement};
}

static void fixture_free(fixture *x)
{
    cli_summary_free(&x->sum);
    cli_connbuf_free(&x->recs);
}

static char *write_report(const cli_report_input *in, const char *name)
{
    char path[128], err[TT_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    cr_assert_eq(cli_report_write(path, in, err), 0, "%s", err);
    return slurp(path);
}

/* Python's html.parser: every non-void element closed in order, nothing
 * left open; inside <svg> every element closed (XML rules). Prints the
 * number of <line> elements. */
static const char checker[] =
    "import sys, html.parser\n"
    "VOID = {'meta','br','img','hr','input','link','col','area','base','wbr','source'}\n"
    "class P(html.parser.HTMLParser):\n"
    "    def __init__(s):\n"
    "        super().__init__(); s.stack = []; s.lines = 0; s.errors = []\n"
    "    def handle_starttag(s, tag, attrs):\n"
    "        if tag == 'line': s.lines += 1\n"
    "        if tag not in VOID: s.stack.append(tag)\n"
    "    def handle_startendtag(s, tag, attrs):\n"
    "        if tag == 'line': s.lines += 1\n"
    "        if 'svg' not in s.stack and tag not in VOID: s.errors.append('self-closed ' + tag)\n"
    "    def handle_endtag(s, tag):\n"
    "        if not s.stack or s.stack[-1] != tag:\n"
    "            s.errors.append('unbalanced </%s> in %s' % (tag, s.stack[-3:]))\n"
    "        else: s.stack.pop()\n"
    "p = P(); p.feed(open(sys.argv[1], encoding='utf-8').read()); p.close()\n"
    "if p.stack: p.errors.append('left open: %s' % p.stack)\n"
    "print('lines=%d' % p.lines)\n"
    "for e in p.errors[:5]: print(e)\n"
    "sys.exit(1 if p.errors else 0)\n";

static void check_structure(const char *name, unsigned want_lines)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0)
        return;
    char script[128], cmd[512], out[1024] = "";
    snprintf(script, sizeof script, "%s/check.py", tmpdir);
    FILE *f = fopen(script, "w");
    cr_assert(f);
    fputs(checker, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s/%s' 2>&1", script, tmpdir, name);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    cr_assert_eq(st, 0, "structure: %s", out);
    char want[32];
    snprintf(want, sizeof want, "lines=%u\n", want_lines);
    cr_assert(strstr(out, want), "%s", out);
}

Test(report, page_is_well_formed_with_one_line_per_marker)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    char *html = write_report(&x->in, "r.html");
    const char *keep = getenv("TT_REPORT_KEEP"); /* a copy to look at in a browser */
    if (keep)
        cr_assert_eq(cli_report_write(keep, &x->in, NULL), 0);
    cr_assert_eq(count(html, "<line"), 2u, "one <line per marker");
    cr_assert_eq(count(html, "<svg"), 1u);
    cr_assert_eq(count(html, "</svg>"), 1u);
    check_structure("r.html", 2);
    free(html);
    fixture_free(x);
    free(x);
}

Test(report, data_strings_are_escaped)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    char *html = write_report(&x->in, "r.html");
    cr_assert_null(strcasestr(html, "<script"), "unescaped <script>");
    cr_assert_null(strstr(html, "<b>"), "unescaped <b> from a message or service");
    cr_assert(strstr(html, "filter 2.1 &lt;script&gt;alert(1)&lt;/script&gt;"));
    cr_assert(strstr(html, "rollback &amp; &#39;quotes&#39; &quot;x&quot;"));
    cr_assert(strstr(html, "UDP broken since &quot;filter 2.1 &lt;script&gt;"), "alert message");
    cr_assert(strstr(html, "dns&lt;b&gt;"), "service");
    cr_assert(strstr(html, "lab &lt;capture&gt;.pcap"), "title");
    free(html);
    fixture_free(x);
    free(x);
}

Test(report, page_is_self_contained)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    char *html = write_report(&x->in, "r.html");
    cr_assert_null(strstr(html, "http://"));
    cr_assert_null(strstr(html, "https://"));
    cr_assert_null(strcasestr(html, "<link"));
    cr_assert_null(strcasestr(html, "src="));
    cr_assert_null(strcasestr(html, "url("));
    cr_assert_null(strcasestr(html, "@import"));
    free(html);
    fixture_free(x);
    free(x);
}

Test(report, tables_show_alerts_periods_verdicts_and_destinations)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    char *html = write_report(&x->in, "r.html");
    cr_assert(strstr(html, "udp_unanswered"));
    cr_assert(strstr(html, "recovered"));
    cr_assert(strstr(html, "1.2e-12"));
    cr_assert(strstr(html, "37 of 37 failed (100 %)"), "alert after-side");
    /* Before the first marker: 270 judged seconds x 3 (a 30 s gap), all answered;
     * after it, until the second: 150 s x 3, none answered. */
    cr_assert(strstr(html, "810 of 810 (100 %)"), "before the first marker");
    cr_assert(strstr(html, "<td class=\"num bad\">0 of 450 (0 %)</td>"), "after the first marker");
    cr_assert(strstr(html, "First failed flows after it"));
    cr_assert(strstr(html, "Ctest"));
    cr_assert(strstr(html, "Verdicts by protocol"));
    cr_assert(strstr(html, "10.77.2.2"), "failing destination");
    cr_assert(strstr(html, "BROKEN"), "judgement");
    free(html);
    fixture_free(x);
    free(x);
}

/* The summary and the report list the same failing destinations: a host
 * failing on more than five ports is one row counting every flow to it. */
Test(report, failing_destinations_agree_with_the_summary)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    unsigned n = 1000;
    for (uint16_t port = 8000; port < 8008; port++) /* 8 ports unanswered, 2 flows each */
        for (int k = 0; k < 2; k++)
            add_conn(x, T0 + 10 * SEC, 6, port, NULL, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN, n++);
    for (uint16_t port = 9000; port < 9003; port++) /* 3 ports of the same host that work */
        add_conn(x, T0 + 10 * SEC, 6, port, NULL, TT_VERDICT_CLOSED, TT_CERTAINTY_NONE, n++);
    /* a group with only an uncertain failure: the report lists it, the summary does not */
    add_conn(x, T0 + 10 * SEC, 17, 5353, NULL, TT_VERDICT_UNANSWERED, TT_UNCERTAIN, n++);

    cli_dest_row *rows;
    size_t nrows;
    cr_assert_eq(cli_summary_failing(&x->sum, true, 10, &rows, &nrows), 0);
    cr_assert_eq(nrows, 3, "%zu rows", nrows); /* tcp (rolled up), udp/53, udp/5353 */
    cr_assert_eq(rows[0].ports, 8);
    cr_assert_eq(rows[0].d.failed, 16);
    cr_assert_eq(rows[0].d.flows, 16 + 3 + 20, "every tcp flow to the host (the fixture's 20 ssl)");
    cr_assert_eq(rows[0].d.by_verdict[TT_VERDICT_SYN_UNANSWERED], 16);
    cr_assert_eq(rows[1].d.port, 53);
    cr_assert_eq(rows[2].d.port, 5353);
    cr_assert_eq(rows[2].d.failed, 0);
    cr_assert_eq(rows[2].d.uncertain, 1);
    free(rows);
    cr_assert_eq(cli_summary_failing(&x->sum, false, 10, &rows, &nrows), 0);
    cr_assert_eq(nrows, 2, "%zu rows without uncertain-only groups", nrows);
    free(rows);

    char path[128];
    snprintf(path, sizeof path, "%s/summary.txt", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    cli_summary_source src = {.command = "tunneltap replay", .name = "t.pcap", .linktype = "RAW"};
    cli_summary_print(&x->sum, &src, NULL, f);
    fclose(f);
    char *text = slurp(path);
    cr_assert(strstr(text, "tcp/*") && strstr(text, "(8 ports)"), "%s", text);
    cr_assert(strstr(text, "syn_unanswered 16 of 39"), "%s", text);
    cr_assert(!strstr(text, "5353"), "%s", text);
    char *html = write_report(&x->in, "r.html");
    cr_assert(strstr(html, "tcp/* (8 ports)"));
    cr_assert(strstr(html, "<td class=\"num bad\">16</td><td class=\"num\">0</td><td "
                           "class=\"num\">39</td><td>syn_unanswered 16</td>"),
              "the report's row counts every flow to the host, as the summary does");
    cr_assert(strstr(html, "udp/5353"));
    free(text);
    free(html);
    fixture_free(x);
    free(x);
}

/* More than five hosts failing on one port and service are one row, as in
 * the summary. */
Test(report, hosts_failing_on_one_port_share_a_row)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    unsigned n = 1000;
    for (uint8_t host = 10; host < 17; host++)
        add_conn_to(x, host, T0 + 10 * SEC, 17, 443, "quic", TT_VERDICT_UNANSWERED, TT_CERTAIN,
                    n++);
    char *html = write_report(&x->in, "r.html");
    cr_assert(strstr(html, "<td class=\"mono\">7 hosts</td><td>udp/443</td><td>quic</td><td "
                           "class=\"num bad\">7</td><td class=\"num\">0</td><td "
                           "class=\"num\">7</td><td>unanswered 7</td>"),
              "one row for the seven hosts");
    cr_assert(!strstr(html, "10.77.2.10"), "no row of its own for a host rolled up");
    free(html);
    fixture_free(x);
    free(x);
}

/* Past the summary's 65 536 destinations, the hosts of a port are one row
 * "N+ hosts" counting every flow, and the list says why. */
Test(report, hosts_past_the_summarys_bound_share_their_ports_row)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    cli_summary_flush(&x->sum);
    size_t before = x->sum.dest_used, extra = 10;
    for (size_t i = 0; i < CLI_SUMMARY_MAX_DESTS + extra; i++) {
        tt_conn c = {.ts_us = T0, .last_us = T0, .ip_version = 4, .proto = 17, .resp_p = 443};
        memcpy(c.orig_h, "\x0a\x4d\x01\x02", 4);
        c.resp_h[0] = 100;
        c.resp_h[1] = (uint8_t)(i >> 16);
        c.resp_h[2] = (uint8_t)(i >> 8);
        c.resp_h[3] = (uint8_t)i;
        c.service = "quic";
        c.conn_state = "S0";
        c.verdict = TT_VERDICT_UNANSWERED;
        c.certainty = TT_CERTAIN;
        cli_summary_add(&x->sum, &c);
    }
    char *html = write_report(&x->in, "r.html");
    size_t flows = CLI_SUMMARY_MAX_DESTS + extra;
    char row[256];
    snprintf(row, sizeof row,
             "<td class=\"mono\">%zu+ hosts</td><td>udp/443</td><td>quic</td><td "
             "class=\"num bad\">%zu</td><td class=\"num\">0</td><td class=\"num\">%zu</td><td>"
             "unanswered %zu</td>",
             CLI_SUMMARY_MAX_DESTS - before, flows, flows, flows);
    cr_assert(strstr(html, row), "no row %s", row);
    cr_assert(strstr(html, "More than 65536 destinations: those past them are counted by "
                           "port and service alone"));
    free(html);
    fixture_free(x);
    free(x);
}

/* The d="..." of the UDP answer-rate series. */
static char *udp_series(const char *html)
{
    const char *p = strstr(html, "class=\"series\" fill=\"none\" stroke=\"#0b62a4\"");
    cr_assert(p);
    p = strstr(p, " d=\"");
    cr_assert(p);
    p += 4;
    const char *e = strchr(p, '"');
    return strndup(p, (size_t)(e - p));
}

Test(report, no_data_is_a_gap_not_a_zero)
{
    fixture *x = malloc(sizeof *x);
    cr_assert(x);
    fixture_init(x);
    char *html = write_report(&x->in, "r.html");
    char *d = udp_series(html);
    cr_assert_eq(count(d, "M"), 2u, "the 30 s without judged UDP splits the line: %s", d);
    free(d);
    free(html);
    fixture_free(x);
    free(x);
}

Test(report, long_captures_are_binned)
{
    enum { N = 20000 };
    tt_timeline_bucket *tl = calloc(N, sizeof *tl);
    cr_assert(tl);
    for (unsigned i = 0; i < N; i++) {
        tl[i].start_us = T0 + (uint64_t)i * SEC;
        tl[i].flows_new = tl[i].udp_new = tl[i].udp_judged = tl[i].udp_answered = 1;
    }
    cli_report_input in = {.title = "long", .timeline = tl, .nbuckets = N};
    char *html = write_report(&in, "long.html");
    size_t bins = count(html, "class=\"hover\"");
    cr_assert_leq(bins, (size_t)CLI_REPORT_MAX_BINS);
    cr_assert_geq(bins, (size_t)CLI_REPORT_MAX_BINS / 3);
    check_structure("long.html", 0);
    free(html);
    free(tl);
}

Test(report, empty_input_still_gives_a_page)
{
    cli_report_input in = {0};
    char *html = write_report(&in, "empty.html");
    cr_assert(strstr(html, "No timeline"));
    cr_assert(strstr(html, "No regression alert"));
    cr_assert_null(strstr(html, "<svg"));
    check_structure("empty.html", 0);
    free(html);
}

Test(report, unwritable_path_is_an_error)
{
    char err[TT_ERRBUF_SIZE] = "";
    cli_report_input in = {0};
    cr_assert_eq(cli_report_write("/nonexistent-dir/r.html", &in, err), TT_ENOENT);
    cr_assert(strstr(err, "/nonexistent-dir/r.html"), "%s", err);
}
