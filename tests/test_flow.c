/* test_flow.c - flow tracking, Zeek conn_state/history and tunneltap verdicts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "pkt.h"
#include "tunneltap/analyzer.h"

#define SEC ((uint64_t)1000000)
#define T0 ((uint64_t)1700000000 * SEC)

typedef struct rec {
    tt_conn c[4096];
    size_t n;
} rec;

static rec *R;
static tt_analyzer *A;

static void on_conn(void *ctx, const tt_conn *c)
{
    rec *r = ctx;
    if (r->n < 4096)
        r->c[r->n++] = *c;
}

static void open_with(tt_analyzer_config *cfg)
{
    R = calloc(1, sizeof(*R));
    cfg->on_conn = on_conn;
    cfg->conn_ctx = R;
    char eb[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_analyzer_open(&A, cfg, eb), 0, "%s", eb);
}

/* The suite's configuration: the defaults in a small table. */
static void suite_config(tt_analyzer_config *cfg)
{
    tt_analyzer_config_init(cfg);
    cfg->max_flows = 1024;
    cfg->max_dpi_flows = 64;
}

static void setup(void)
{
    tt_analyzer_config cfg;
    suite_config(&cfg);
    open_with(&cfg);
}

static void teardown(void)
{
    tt_analyzer_close(A);
    free(R);
    A = NULL;
    R = NULL;
}

/* Replaces the suite's analyzer by one of max_flows flows without nDPI. */
static void reopen_without_dpi(size_t max_flows)
{
    teardown();
    tt_analyzer_config cfg;
    tt_analyzer_config_init(&cfg);
    cfg.max_flows = max_flows;
    cfg.enable_dpi = false;
    open_with(&cfg);
}

static void feed(const tpkt *p, uint64_t t)
{
    cr_assert_eq(tt_analyzer_packet(A, TT_LINK_RAW, t, p->b, (uint32_t)p->len, (uint32_t)p->len),
                 0);
}

static const tt_conn *only(void)
{
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 1, "expected one connection, got %zu", R->n);
    return &R->c[0];
}

TestSuite(flow, .init = setup, .fini = teardown);

Test(flow, unanswered_syn_is_s0_and_syn_unanswered_after_the_deadline)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p, other;
    tflow g = t_flow4("10.0.0.1", 5000, "10.0.0.3", 53);
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
    feed(&p, T0);
    feed(&p, T0 + 1 * SEC); /* retransmission, same ISN */
    t_udp(&other, &g, false, "q", 1);
    feed(&other, T0 + 9 * SEC); /* time passes beyond the deadline */
    t_udp(&other, &g, true, "a", 1);
    feed(&other, T0 + 9 * SEC + 1000);
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2);
    const tt_conn *c = &R->c[0];
    cr_assert_str_eq(c->conn_state, "S0");
    cr_assert_str_eq(c->history, "S");
    cr_assert_eq(c->orig_pkts, 2);
    cr_assert_eq(c->verdict, TT_VERDICT_SYN_UNANSWERED);
    cr_assert_eq(c->certainty, TT_CERTAIN);
    cr_assert_eq(c->judged_us, T0 + 5 * SEC);
}

Test(flow, syn_retried_after_the_attempt_deadline_starts_a_new_connection)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p;
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
    feed(&p, T0);
    feed(&p, T0 + 1 * SEC);
    feed(&p, T0 + 3 * SEC);
    feed(&p, T0 + 7 * SEC); /* Linux backoff: Zeek's attempt timer ended the first */
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2);
    cr_assert_eq(R->c[0].orig_pkts, 3);
    cr_assert_eq(R->c[1].orig_pkts, 1);
    cr_assert_eq(R->c[1].certainty, TT_UNCERTAIN, "capture ended before its deadline");
    cr_assert(R->c[1].uncertain_why & TT_UNC_CAPTURE_END);
}

Test(flow, rst_to_syn_is_rej_and_syn_rejected)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 81);
    tpkt p;
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
    feed(&p, T0);
    t_tcp(&p, &f, true, 0x14, 0, 101, NULL, 0);
    feed(&p, T0 + 300);
    const tt_conn *c = only();
    cr_assert_str_eq(c->conn_state, "REJ");
    cr_assert_str_eq(c->history, "Sr");
    cr_assert_eq(c->verdict, TT_VERDICT_SYN_REJECTED);
    cr_assert_eq(c->certainty, TT_CERTAIN);
}

Test(flow, synack_never_acked_is_s1_sh_and_synack_unacked)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p;
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
    feed(&p, T0);
    t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0);
    feed(&p, T0 + 300);
    feed(&p, T0 + SEC); /* retransmitted SYN-ACK */
    const tt_conn *c = only();
    cr_assert_str_eq(c->conn_state, "S1");
    cr_assert_str_eq(c->history, "Sh");
    cr_assert_eq(c->verdict, TT_VERDICT_SYNACK_UNACKED);
}

Test(flow, final_ack_lost_downstream_shows_as_repeated_synack)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p;
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
    feed(&p, T0);
    t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0);
    feed(&p, T0 + 300);
    t_tcp(&p, &f, false, 0x10, 101, 901, NULL, 0);
    feed(&p, T0 + 400);
    t_tcp(&p, &f, false, 0x18, 101, 901, "GET /", 5);
    feed(&p, T0 + 500);
    t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0);
    feed(&p, T0 + SEC); /* the server never got the ACK */
    feed(&p, T0 + 3 * SEC);
    const tt_conn *c = only();
    cr_assert_eq(c->verdict, TT_VERDICT_SYNACK_UNACKED);
}

Test(flow, full_handshake_and_fin_exchange_is_sf_and_closed)
{
    tflow f = t_flow6(1, 40000, 2, 443);
    tpkt p;
    uint64_t t = T0;
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x10, 101, 901, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x18, 101, 901, "hello", 5), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x18, 901, 106, "world!", 6), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x11, 106, 907, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x11, 907, 107, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x10, 107, 908, NULL, 0), feed(&p, t += 100);
    const tt_conn *c = only();
    cr_assert_str_eq(c->conn_state, "SF");
    cr_assert_str_eq(c->history, "ShADdFf");
    cr_assert_eq(c->orig_bytes, 5);
    cr_assert_eq(c->resp_bytes, 6);
    cr_assert_eq(c->verdict, TT_VERDICT_CLOSED);
    cr_assert_eq(c->ip_version, 6);
}

Test(flow, midstream_reply_from_server_port_flips_roles)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 443);
    tpkt p;
    t_tcp(&p, &f, true, 0x18, 5000, 700, "data", 4);
    feed(&p, T0);
    const tt_conn *c = only();
    cr_assert_str_eq(c->history, "^d");
    cr_assert_eq(c->orig_p, 40000);
    cr_assert_eq(c->resp_p, 443);
    cr_assert_eq(c->verdict, TT_VERDICT_MIDSTREAM);
    cr_assert_eq(c->certainty, TT_CERTAINTY_NONE);
}

Test(flow, udp_request_and_reply_is_sf_and_answered)
{
    tflow f = t_flow4("10.0.0.1", 33333, "10.0.0.53", 53);
    tpkt p;
    t_udp(&p, &f, false, "query", 5), feed(&p, T0);
    t_udp(&p, &f, true, "answer!", 7), feed(&p, T0 + 2000);
    const tt_conn *c = only();
    cr_assert_str_eq(c->conn_state, "SF");
    cr_assert_str_eq(c->history, "Dd");
    cr_assert_eq(c->orig_bytes, 5);
    cr_assert_eq(c->resp_bytes, 7);
    cr_assert_eq(c->orig_ip_bytes, 33);
    cr_assert_eq(c->verdict, TT_VERDICT_ANSWERED);
}

Test(flow, late_reply_turns_unanswered_into_answered_and_is_counted)
{
    tflow f = t_flow4("10.0.0.1", 33333, "10.0.0.9", 7777);
    tflow g = t_flow4("10.0.0.1", 2222, "10.0.0.8", 7777);
    tpkt p;
    t_udp(&p, &f, false, "ping", 4), feed(&p, T0);
    t_udp(&p, &g, false, "tick", 4), feed(&p, T0 + 6 * SEC);
    tt_analyzer_stats st;
    tt_analyzer_get_stats(A, &st);
    cr_assert_eq(st.by_verdict[TT_VERDICT_UNANSWERED], 1);
    t_udp(&p, &f, true, "pong", 4), feed(&p, T0 + 7 * SEC);
    tt_analyzer_get_stats(A, &st);
    cr_assert_eq(st.by_verdict[TT_VERDICT_UNANSWERED], 0);
    cr_assert_eq(st.late_replies, 1);
    tt_analyzer_finish(A);
    const tt_conn *c = R->c[0].orig_p == 33333 ? &R->c[0] : &R->c[1];
    cr_assert_eq(c->verdict, TT_VERDICT_ANSWERED);
    cr_assert_eq(c->late_replies, 1);
}

Test(flow, icmp_port_unreachable_quoting_the_request_is_icmp_unreachable)
{
    tflow f = t_flow4("10.0.0.1", 33333, "10.0.0.53", 53);
    tflow r = t_flow4("10.0.0.53", 0, "10.0.0.1", 0);
    tpkt q, e;
    t_udp(&q, &f, false, "query", 5), feed(&q, T0);
    t_icmp(&e, &r, false, 3, 3, 0, q.b, q.len), feed(&e, T0 + 100);
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2, "the ICMP message is a connection of its own, as in Zeek");
    const tt_conn *u = R->c[0].proto == 17 ? &R->c[0] : &R->c[1];
    const tt_conn *i = R->c[0].proto == 17 ? &R->c[1] : &R->c[0];
    cr_assert_eq(u->verdict, TT_VERDICT_ICMP_UNREACHABLE);
    cr_assert_eq(u->certainty, TT_CERTAIN);
    cr_assert_eq(u->icmp_type, 3);
    cr_assert_str_eq(u->conn_state, "S0");
    cr_assert_eq(i->orig_p, 3);
    cr_assert_eq(i->resp_p, 3);
    cr_assert_str_eq(i->conn_state, "OTH");
}

Test(flow, multicast_and_syslog_are_one_way_not_unanswered)
{
    tflow m = t_flow4("10.0.0.1", 5353, "224.0.0.251", 5353);
    tflow s = t_flow4("10.0.0.1", 40000, "10.0.0.5", 514);
    tpkt p;
    t_udp(&p, &m, false, "mdns", 4), feed(&p, T0);
    t_udp(&p, &s, false, "<13>hello", 9), feed(&p, T0 + 1);
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2);
    cr_assert_eq(R->c[0].verdict, TT_VERDICT_ONE_WAY);
    cr_assert_eq(R->c[1].verdict, TT_VERDICT_ONE_WAY);
}

Test(flow, capture_loss_in_the_window_makes_a_failure_uncertain)
{
    tflow f = t_flow4("10.0.0.1", 33333, "10.0.0.9", 7777);
    tflow g = t_flow4("10.0.0.1", 2222, "10.0.0.8", 7777);
    tpkt p;
    t_udp(&p, &f, false, "ping", 4), feed(&p, T0);
    tt_analyzer_note_loss(A, T0 + 2 * SEC, 3);
    t_udp(&p, &g, false, "tick", 4), feed(&p, T0 + 20 * SEC);
    t_udp(&p, &g, true, "tock", 4), feed(&p, T0 + 20 * SEC + 5);
    tt_analyzer_finish(A);
    cr_assert_eq(R->c[0].verdict, TT_VERDICT_UNANSWERED);
    cr_assert_eq(R->c[0].certainty, TT_UNCERTAIN);
    cr_assert(R->c[0].uncertain_why & TT_UNC_CAPTURE_LOSS);
}

Test(flow, icmp_echo_answered_and_unanswered)
{
    tflow a = t_flow4("10.0.0.1", 0, "10.0.0.2", 0);
    tflow b = t_flow4("10.0.0.1", 0, "10.0.0.3", 0);
    tpkt p;
    t_icmp(&p, &a, false, 8, 0, 0x10001, "abcd", 4), feed(&p, T0);
    t_icmp(&p, &a, true, 0, 0, 0x10001, "abcd", 4), feed(&p, T0 + 10);
    t_icmp(&p, &b, false, 8, 0, 0x20001, "abcd", 4), feed(&p, T0 + 20);
    t_icmp(&p, &a, false, 8, 0, 0x10002, "abcd", 4), feed(&p, T0 + 10 * SEC);
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2);
    for (size_t i = 0; i < R->n; i++) {
        const tt_conn *c = &R->c[i];
        cr_assert_eq(c->orig_p, 8);
        cr_assert_eq(c->resp_p, 0);
        if (c->resp_h[3] == 2)
            cr_assert_eq(c->verdict, TT_VERDICT_ANSWERED);
        else
            cr_assert_eq(c->verdict, TT_VERDICT_UNANSWERED);
    }
}

Test(flow, full_table_evicts_the_oldest_and_reports_everything)
{
    reopen_without_dpi(16);
    tpkt p;
    for (int i = 0; i < 100; i++) {
        tflow f = t_flow4("10.0.0.1", (uint16_t)(10000 + i), "10.0.0.2", 80);
        t_tcp(&p, &f, false, 0x02, 1, 0, NULL, 0);
        feed(&p, T0 + (uint64_t)i * 1000);
    }
    tt_analyzer_stats st;
    tt_analyzer_get_stats(A, &st);
    cr_assert_eq(st.events[TT_EV_FLOW_EVICTED], 84);
    cr_assert_eq(st.flows_active, 16);
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 100);
    cr_assert_eq(R->c[0].orig_p, 10000, "the oldest went first");
    cr_assert_eq(R->c[0].certainty, TT_UNCERTAIN);
    cr_assert(R->c[0].uncertain_why & TT_UNC_EVICTED);
}

Test(flow, unsupported_link_type_is_refused)
{
    uint8_t b[64] = {0};
    cr_assert_eq(tt_analyzer_packet(A, 9, T0, b, sizeof(b), sizeof(b)), TT_ELINKTYPE);
}

/* A snaplen that cuts headers never yields a certain failure. */
Test(flow, truncated_exchange_never_gives_a_certain_failure)
{
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tflow u = t_flow6(1, 30000, 2, 53);
    for (uint32_t snap = 1; snap <= 70; snap++) {
        teardown();
        setup();
        tpkt p;
        t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0);
        tt_analyzer_packet(A, TT_LINK_RAW, T0, p.b, snap < p.len ? snap : (uint32_t)p.len,
                           (uint32_t)p.len);
        t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0);
        tt_analyzer_packet(A, TT_LINK_RAW, T0 + 10, p.b, snap < p.len ? snap : (uint32_t)p.len,
                           (uint32_t)p.len);
        t_tcp(&p, &f, false, 0x10, 101, 901, NULL, 0);
        tt_analyzer_packet(A, TT_LINK_RAW, T0 + 20, p.b, snap < p.len ? snap : (uint32_t)p.len,
                           (uint32_t)p.len);
        t_udp(&p, &u, false, "query", 5);
        tt_analyzer_packet(A, TT_LINK_RAW, T0 + 30, p.b, snap < p.len ? snap : (uint32_t)p.len,
                           (uint32_t)p.len);
        t_udp(&p, &u, true, "answer", 6);
        tt_analyzer_packet(A, TT_LINK_RAW, T0 + 40, p.b, snap < p.len ? snap : (uint32_t)p.len,
                           (uint32_t)p.len);
        tt_analyzer_finish(A);
        for (size_t i = 0; i < R->n; i++)
            cr_assert_not(tt_verdict_is_failure(R->c[i].verdict) && R->c[i].certainty == TT_CERTAIN,
                          "snaplen %u: %s is a certain failure", snap,
                          tt_verdict_name(R->c[i].verdict));
    }
}

/* Allocator failing on the N-th allocation, for every N along open. */
typedef struct failing {
    int left;
    size_t live;
} failing;

static void *fail_alloc(void *ctx, size_t n)
{
    failing *f = ctx;
    if (f->left-- <= 0)
        return NULL;
    f->live++;
    return calloc(1, n);
}

static void fail_free(void *ctx, void *p, size_t n)
{
    failing *f = ctx;
    (void)n;
    f->live--;
    free(p);
}

Test(flow, every_failed_allocation_during_open_is_enomem_without_leak)
{
    int ok_at = -1;
    for (int n = 0; n < 20 && ok_at < 0; n++) {
        failing fa = {n, 0};
        tt_analyzer_config cfg;
        tt_analyzer_config_init(&cfg);
        cfg.max_flows = 64;
        cfg.max_dpi_flows = 8;
        cfg.allocator.alloc = fail_alloc;
        cfg.allocator.free = fail_free;
        cfg.allocator.ctx = &fa;
        tt_analyzer *a = NULL;
        int rc = tt_analyzer_open(&a, &cfg, NULL);
        if (rc == 0) {
            ok_at = n;
            tt_analyzer_close(a);
        } else {
            cr_assert_eq(rc, TT_ENOMEM, "allocation %d: %s", n, tt_err_name(rc));
            cr_assert_null(a);
        }
        cr_assert_eq(fa.live, 0, "allocation %d leaked %zu blocks", n, fa.live);
    }
    cr_assert(ok_at > 0, "open eventually succeeds");
}

Test(flow, memory_budget_below_the_configuration_is_refused)
{
    tt_analyzer_config cfg;
    tt_analyzer_config_init(&cfg);
    cfg.memory_budget = 1024 * 1024;
    tt_analyzer *a = NULL;
    char eb[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_analyzer_open(&a, &cfg, eb), TT_ENOMEM);
    cr_assert(strstr(eb, "budget") != NULL);
    tt_analyzer_config_init(&cfg);
    cr_assert(tt_analyzer_memsize(&cfg) <= 16u * 1024 * 1024, "default fits 16 MiB: %zu",
              tt_analyzer_memsize(&cfg));
}

Test(flow, syn_flood_evicts_handshakes_not_the_connections_that_work)
{
    reopen_without_dpi(64);
    tflow dns = t_flow4("10.0.0.1", 33333, "10.0.0.53", 53);
    tpkt p;
    t_udp(&p, &dns, false, "query", 5), feed(&p, T0);
    for (int i = 0; i < 1000; i++) {
        tflow f = t_flow4("198.51.100.7", (uint16_t)(1024 + i), "10.0.0.1", 22);
        t_tcp(&p, &f, false, 0x02, (uint32_t)i, 0, NULL, 0);
        feed(&p, T0 + 1000 + (uint64_t)i);
    }
    t_udp(&p, &dns, true, "answer", 6), feed(&p, T0 + 5000);
    tt_analyzer_finish(A);
    tt_analyzer_stats st;
    tt_analyzer_get_stats(A, &st);
    cr_assert_gt(st.events[TT_EV_FLOW_EVICTED], 900);
    bool found = false;
    for (size_t i = 0; i < R->n; i++)
        if (R->c[i].proto == 17) {
            found = true;
            cr_assert_eq(R->c[i].verdict, TT_VERDICT_ANSWERED);
            cr_assert_eq(R->c[i].resp_pkts, 1);
        }
    cr_assert(found);
}

/* The hash buckets in use start small and double as flows come (linear
 * hashing: each chain splits by one more bit of the hash). 2 000 IPv4 and
 * IPv6 flows, all open at once, take the buckets through several doublings;
 * every reply must still find its request's flow (a lost flow would be
 * created again: more flows, unanswered requests). Then all expire, and the
 * same tuples come again: the released flows must have left their chains. */
Test(flow, flows_are_found_while_the_hash_buckets_double_and_after_they_expire)
{
    reopen_without_dpi(8192);
    enum { N = 2000 };
    tpkt p;
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = T0 + (uint64_t)round * 3600 * SEC;
        for (int reply = 0; reply < 2; reply++) {
            for (int i = 0; i < N; i++) {
                tflow f = i % 2 ? t_flow6((uint8_t)(i % 251 + 1), (uint16_t)(20000 + i), 0x53, 53)
                                : t_flow4("10.0.0.1", (uint16_t)(20000 + i), "10.0.0.53", 53);
                t_udp(&p, &f, reply, reply ? "a" : "q", 1);
                feed(&p, t0 + (uint64_t)(reply * N + i));
            }
        }
        tt_analyzer_stats st;
        tt_analyzer_get_stats(A, &st);
        cr_assert_eq(st.flows_created, (uint64_t)(round + 1) * N, "round %d", round);
        cr_assert_eq(st.flows_active, N, "round %d: the first round's flows expired", round);
        cr_assert_eq(st.events[TT_EV_FLOW_EVICTED], 0);
    }
    tt_analyzer_finish(A);
    cr_assert_eq(R->n, 2 * N);
    for (size_t i = 0; i < R->n; i++) {
        cr_assert_eq(R->c[i].verdict, TT_VERDICT_ANSWERED, "record %zu", i);
        cr_assert_eq(R->c[i].orig_pkts, 1, "record %zu", i);
        cr_assert_eq(R->c[i].resp_pkts, 1, "record %zu", i);
    }
}

/* An HTTP request and its response, one packet each, fed to the suite's
 * analyzer (or its replacement); returns what nDPI was given. */
static uint64_t http_exchange(void)
{
    static const char req[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                              "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                               "Content-Length: 0\r\n\r\n";
    tflow f = t_flow4("10.0.0.1", 40000, "10.0.0.2", 80);
    tpkt p;
    uint64_t t = T0;
    uint32_t rq = (uint32_t)(sizeof req - 1), rs = (uint32_t)(sizeof resp - 1);
    t_tcp(&p, &f, false, 0x02, 100, 0, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x12, 900, 101, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x10, 101, 901, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x18, 101, 901, req, rq), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x10, 901, 101 + rq, NULL, 0), feed(&p, t += 100);
    t_tcp(&p, &f, true, 0x18, 901, 101 + rq, resp, rs), feed(&p, t += 100);
    t_tcp(&p, &f, false, 0x10, 101 + rq, 901 + rs, NULL, 0), feed(&p, t += 100);
    tt_analyzer_stats st;
    tt_analyzer_get_stats(A, &st);
    return st.dpi_packets;
}

Test(flow, nDPI_sees_an_http_response_unless_told_to_keep_the_first_name)
{
    /* By default nDPI reads the response too (its extra dissection: the
     * status code); with dpi_first_name the request's name is kept and the
     * response never reaches nDPI. The name is the same either way. */
    cr_assert_eq(http_exchange(), 2, "request and response classified");
    const tt_conn *c = only();
    cr_assert_str_eq(c->service, "http");
    cr_assert_str_eq(c->l7, "HTTP");

    teardown();
    tt_analyzer_config cfg;
    suite_config(&cfg);
    cr_assert(!cfg.dpi_first_name, "off by default");
    cfg.dpi_first_name = true;
    open_with(&cfg);
    cr_assert_eq(http_exchange(), 1, "the request alone");
    c = only();
    cr_assert_str_eq(c->service, "http");
    cr_assert_str_eq(c->l7, "HTTP");
    tt_analyzer_stats st;
    tt_analyzer_get_stats(A, &st);
    cr_assert_eq(st.dpi_classified, 1);
    cr_assert_eq(st.dpi_given_up, 0);
}
