/* test_regress.c - before/after comparisons, unmarked change points, recovery. */
#include <criterion/criterion.h>
#include <string.h>

#include "tunneltap/regress.h"

#define SEC ((uint64_t)1000000)
#define T0 ((uint64_t)1764244800 * SEC)

static tt_alert got[64];
static unsigned ngot;

static void on_alert(void *ctx, const tt_alert *a)
{
    (void)ctx;
    if (ngot < 64)
        got[ngot++] = *a;
}

static tt_regress *R;

static void setup(void)
{
    tt_regress_config cfg;
    tt_regress_config_init(&cfg);
    ngot = 0;
    cr_assert_eq(tt_regress_open(&R, &cfg, NULL, on_alert, NULL, NULL), 0);
}

static void teardown(void)
{
    tt_regress_close(R);
}

/* One judged flow started at t (seconds after T0). */
static void flow(double t, uint8_t proto, const char *svc, tt_verdict v, tt_certainty cert)
{
    tt_conn c;
    memset(&c, 0, sizeof(c));
    c.ts_us = T0 + (uint64_t)(t * 1e6);
    c.proto = proto;
    c.service = svc;
    c.orig_pkts = 1;
    c.verdict = v;
    c.certainty = cert;
    tt_regress_judge(R, &c, TT_VERDICT_PENDING, TT_CERTAINTY_NONE);
}

static void udp_traffic(double from, double to, bool answered, const char *svc)
{
    for (double t = from; t < to; t += 0.5)
        flow(t, 17, svc, answered ? TT_VERDICT_ANSWERED : TT_VERDICT_UNANSWERED,
             answered ? TT_CERTAINTY_NONE : TT_CERTAIN);
}

static void tcp_traffic(double from, double to, tt_verdict v)
{
    for (double t = from; t < to; t += 0.5)
        flow(t, 6, "http", v, tt_verdict_is_failure(v) ? TT_CERTAIN : TT_CERTAINTY_NONE);
}

static void run_until(double t)
{
    for (double s = 0; s <= t; s += 1)
        tt_regress_evaluate(R, T0 + (uint64_t)(s * 1e6), false);
    tt_regress_evaluate(R, T0 + (uint64_t)(t * 1e6), true);
}

TestSuite(regress, .init = setup, .fini = teardown);

Test(regress, one_sided_fisher_gives_the_textbook_value)
{
    /* before 20 of 20 answered, after 0 of 8: p = 1 / C(28, 8) */
    tt_regress_mark(R, T0 + 10 * SEC, "filter 2.1");
    udp_traffic(0, 10, true, "dns");
    udp_traffic(10, 14, false, "dns");
    run_until(30);
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0].kind, TT_ALERT_UDP_UNANSWERED);
    cr_assert_eq(got[0].before_attempts, 20);
    cr_assert_eq(got[0].after_failures, 8);
    cr_assert_float_eq(got[0].p_value, 1.0 / 3108105.0, 1e-12);
    cr_assert_str_eq(got[0].marker, "filter 2.1");
    cr_assert_eq(got[0].ts_us, T0 + 10 * SEC);
    cr_assert(strstr(got[0].message, "UDP broken since \"filter 2.1\"") != NULL, "%s",
              got[0].message);
    cr_assert(strstr(got[0].message, "0 of 8 DNS flows answered, before 20 of 20") != NULL, "%s",
              got[0].message);
}

Test(regress, the_same_failure_rate_before_and_after_is_no_alert)
{
    tt_regress_mark(R, T0 + 30 * SEC, "no-op");
    for (int i = 0; i < 60; i++)
        flow(i, 17, "dns", i % 5 ? TT_VERDICT_ANSWERED : TT_VERDICT_UNANSWERED,
             i % 5 ? TT_CERTAINTY_NONE : TT_CERTAIN);
    run_until(70);
    cr_assert_eq(ngot, 0);
}

Test(regress, uncertain_failures_are_not_evidence)
{
    tt_regress_mark(R, T0 + 10 * SEC, "filter");
    udp_traffic(0, 10, true, "dns");
    for (double t = 10; t < 20; t += 0.5)
        flow(t, 17, "dns", TT_VERDICT_UNANSWERED, TT_UNCERTAIN);
    run_until(30);
    cr_assert_eq(ngot, 0);
}

Test(regress, one_broken_service_among_healthy_ones_is_found)
{
    tt_regress_mark(R, T0 + 20 * SEC, "filter");
    udp_traffic(0, 20, true, "dns");
    udp_traffic(0, 20, true, "quic");
    udp_traffic(20, 30, true, "dns");
    udp_traffic(20, 30, false, "quic");
    udp_traffic(20, 30, true, NULL);
    run_until(40);
    cr_assert_eq(ngot, 1);
    cr_assert(strstr(got[0].message, "QUIC") != NULL, "%s", got[0].message);
}

Test(regress, change_without_marker_is_dated_within_a_second)
{
    tcp_traffic(0, 40, TT_VERDICT_CLOSED);
    tcp_traffic(40, 60, TT_VERDICT_SYN_REJECTED);
    run_until(70);
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0].kind, TT_ALERT_TCP_SYN_REJECTED);
    cr_assert_not(got[0].has_marker);
    int64_t d = (int64_t)got[0].ts_us - (int64_t)(T0 + 40 * SEC);
    cr_assert(d >= -1000000 && d <= 1000000, "estimated %lld us off", (long long)d);
}

Test(regress, recovery_is_reported_with_the_time_it_took)
{
    tt_regress_mark(R, T0 + 20 * SEC, "filter 2.1");
    tcp_traffic(0, 20, TT_VERDICT_CLOSED);
    tcp_traffic(20, 80, TT_VERDICT_SYN_UNANSWERED);
    tcp_traffic(80, 160, TT_VERDICT_CLOSED);
    run_until(170);
    cr_assert_eq(ngot, 2);
    cr_assert_not(got[0].recovery);
    cr_assert(got[1].recovery);
    cr_assert_eq(got[1].kind, TT_ALERT_TCP_SYN_UNANSWERED);
    cr_assert(got[1].took_us >= 55 * SEC && got[1].took_us <= 65 * SEC, "took %llu s",
              (unsigned long long)(got[1].took_us / SEC));
}

Test(regress, udp_that_vanishes_while_tcp_goes_on)
{
    tt_regress_mark(R, T0 + 20 * SEC, "filter");
    udp_traffic(0, 20, true, "dns");
    tcp_traffic(0, 40, TT_VERDICT_CLOSED);
    run_until(40);
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0].kind, TT_ALERT_UDP_VANISHED);
    cr_assert_eq(got[0].after_attempts, 0);
}

Test(regress, idle_network_is_not_a_vanished_udp)
{
    tt_regress_mark(R, T0 + 20 * SEC, "filter");
    udp_traffic(0, 20, true, "dns");
    run_until(40);
    cr_assert_eq(ngot, 0);
}

Test(regress, labels_are_sanitised)
{
    tt_regress_mark(R, T0 + 10 * SEC, "a\x1b[2Jb\n");
    udp_traffic(0, 10, true, "dns");
    udp_traffic(10, 20, false, "dns");
    run_until(30);
    cr_assert_geq(ngot, 1);
    cr_assert_str_eq(got[0].marker, "a?[2Jb?");
}
