/* test_dash_agg.c - the dashboard's destination and service rows (cli/dash_agg.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli/dash_int.h"

/* One judged flow to 10.0.0.<host>:<port> over proto, first judged as v. */
static void judge(dash_agg *g, uint8_t host, uint8_t proto, uint16_t port, tt_verdict v,
                  tt_certainty cert, const char *service)
{
    tt_conn c;
    memset(&c, 0, sizeof c);
    c.ip_version = 4;
    c.proto = proto;
    c.orig_h[0] = 192, c.orig_h[1] = 168, c.orig_h[3] = 2;
    c.resp_h[0] = 10, c.resp_h[3] = host;
    c.orig_p = 40000;
    c.resp_p = port;
    c.service = service;
    c.verdict = v;
    c.certainty = cert;
    dash_agg_judge(g, &c, TT_VERDICT_PENDING, TT_CERTAINTY_NONE);
}

typedef struct rows {
    dash_snap snap;
    dash_row *dest, *svc;
    size_t ndest, dest_cap, nsvc, svc_cap;
} rows;

static void build(dash_agg *g, rows *r, const char *filter)
{
    int rc = dash_agg_snapshot(g, &r->snap); /* 1: nothing judged since, the copy kept */
    cr_assert(rc == 0 || rc == 1, "snapshot: %d", rc);
    cr_assert_eq(dash_rows_build(&r->snap, filter, DASH_SORT_FAILURES, &r->dest, &r->ndest,
                                 &r->dest_cap, &r->svc, &r->nsvc, &r->svc_cap),
                 0);
}

static void rows_free(rows *r)
{
    dash_snap_free(&r->snap);
    free(r->dest);
    free(r->svc);
}

static const dash_row *find(const rows *r, const char *name, const char *where)
{
    for (size_t i = 0; i < r->ndest; i++)
        if (strcmp(r->dest[i].name, name) == 0 && strcmp(r->dest[i].where, where) == 0)
            return &r->dest[i];
    return NULL;
}

/* A scanned host: 40 ports unanswered, 2 answered, and 3 more hosts with a
 * port each. The host's TCP ports are one row counting all 42 flows; its UDP
 * port and the other hosts keep their rows; services still count per port. */
Test(dash_rows, a_hosts_many_failing_ports_share_one_row)
{
    dash_agg g;
    cr_assert_eq(dash_agg_init(&g, 0), 0);
    for (uint16_t p = 1000; p < 1040; p++)
        judge(&g, 5, 6, p, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN, NULL);
    judge(&g, 5, 6, 1040, TT_VERDICT_SYN_REJECTED, TT_CERTAIN, NULL);
    judge(&g, 5, 6, 1040, TT_VERDICT_SYN_UNANSWERED, TT_UNCERTAIN, NULL);
    judge(&g, 5, 6, 80, TT_VERDICT_ESTABLISHED, TT_CERTAINTY_NONE, "http");
    judge(&g, 5, 6, 443, TT_VERDICT_CLOSED, TT_CERTAINTY_NONE, "ssl");
    judge(&g, 5, 17, 53, TT_VERDICT_UNANSWERED, TT_CERTAIN, "dns");
    for (uint8_t h = 6; h < 9; h++)
        judge(&g, h, 6, 80, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN, "http");
    rows r = {0};
    build(&g, &r, "");
    cr_assert_eq(r.ndest, 5, "the scanned host's TCP row, its UDP row, 3 hosts: %zu rows", r.ndest);
    const dash_row *s = find(&r, "10.0.0.5", "tcp/*");
    cr_assert_not_null(s);
    cr_assert_eq(s->ports, 41);
    cr_assert_eq(s->port, 0);
    cr_assert_null(s->service);
    cr_assert_eq(s->flows, 44);
    cr_assert_eq(s->failed, 41);
    cr_assert_eq(s->uncertain, 1);
    cr_assert_eq(s->by_verdict[TT_VERDICT_SYN_UNANSWERED], 41);
    cr_assert_eq(s->worst, TT_VERDICT_SYN_UNANSWERED);
    cr_assert_eq(&r.dest[0], s, "most failures first");
    const dash_row *u = find(&r, "10.0.0.5", "udp/53");
    cr_assert_not_null(u);
    cr_assert_eq(u->ports, 0);
    cr_assert_eq(u->failed, 1);
    for (uint8_t h = 6; h < 9; h++) {
        char name[16];
        snprintf(name, sizeof name, "10.0.0.%u", h);
        const dash_row *o = find(&r, name, "tcp/80");
        cr_assert_not_null(o, "%s tcp/80", name);
        cr_assert_eq(o->ports, 0);
        cr_assert_eq(o->failed, 1);
    }
    /* Services are counted from the ports: the 41 unnamed ones by port. */
    uint64_t http = 0, ports = 0;
    for (size_t i = 0; i < r.nsvc; i++) {
        if (strcmp(r.svc[i].name, "http") == 0)
            http = r.svc[i].flows;
        else if (strncmp(r.svc[i].name, "tcp/10", 6) == 0)
            ports++;
    }
    cr_assert_eq(http, 4);
    cr_assert_eq(ports, 41);
    rows_free(&r);
    dash_agg_free(&g);
}

/* Five failing ports are not a scan (the summary's rule): five rows. Ports
 * that fail only uncertainly do not count towards the five. */
Test(dash_rows, five_failing_ports_keep_their_rows)
{
    dash_agg g;
    cr_assert_eq(dash_agg_init(&g, 0), 0);
    for (uint16_t p = 1; p <= 5; p++)
        judge(&g, 5, 6, p, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN, NULL);
    for (uint16_t p = 6; p <= 9; p++)
        judge(&g, 5, 6, p, TT_VERDICT_SYN_UNANSWERED, TT_UNCERTAIN, NULL);
    rows r = {0};
    build(&g, &r, "");
    cr_assert_eq(r.ndest, 9);
    for (size_t i = 0; i < r.ndest; i++)
        cr_assert_eq(r.dest[i].ports, 0, "row %zu (%s %s) rolled up", i, r.dest[i].name,
                     r.dest[i].where);
    /* One more certain failure makes six: one row. */
    judge(&g, 5, 6, 10, TT_VERDICT_SYN_REJECTED, TT_CERTAIN, NULL);
    build(&g, &r, "");
    cr_assert_eq(r.ndest, 1);
    cr_assert_str_eq(r.dest[0].where, "tcp/*");
    cr_assert_eq(r.dest[0].ports, 6);
    cr_assert_eq(r.dest[0].flows, 10);
    cr_assert_eq(r.dest[0].failed, 6);
    cr_assert_eq(r.dest[0].uncertain, 4);
    rows_free(&r);
    dash_agg_free(&g);
}

/* The filter applies to the ports before they are rolled up: "1001" keeps
 * the one port, "10.0.0.5" all of them (one row). */
Test(dash_rows, the_filter_picks_ports_before_they_are_rolled_up)
{
    dash_agg g;
    cr_assert_eq(dash_agg_init(&g, 0), 0);
    for (uint16_t p = 1000; p < 1010; p++)
        judge(&g, 5, 6, p, TT_VERDICT_SYN_UNANSWERED, TT_CERTAIN, NULL);
    rows r = {0};
    build(&g, &r, "1001");
    cr_assert_eq(r.ndest, 1);
    cr_assert_str_eq(r.dest[0].where, "tcp/1001");
    cr_assert_eq(r.dest[0].ports, 0);
    build(&g, &r, "10.0.0.5");
    cr_assert_eq(r.ndest, 1);
    cr_assert_str_eq(r.dest[0].where, "tcp/*");
    cr_assert_eq(r.dest[0].ports, 10);
    rows_free(&r);
    dash_agg_free(&g);
}
