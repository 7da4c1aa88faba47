/* regress.c - before/after comparison of verdict rates around markers, and
 * change-point search without them (docs/regression.md).
 *
 * Counters live in one-second buckets indexed by flow start time, so a flow
 * judged late (or revised by a late reply) lands in the second it started.
 * Rates are compared with a one-sided Fisher exact test; arrival rates of
 * new UDP flows (to see UDP vanish) with a conditional binomial test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/alloc.h"
#include "analyze/errbuf.h"
#include "analyze/judgment.h"
#include "tunneltap/regress.h"

#define US 1000000ull
#define MAX_MARKERS 256 /* as many as the tap queues (TT__MARK_MAX) */
#define MAX_ALERTS 256

static const char *const kind_names[] = {
#define XX(id, name) name,
    TT_ALERT_KIND_MAP(XX)
#undef XX
};

const char *tt_alert_kind_name(tt_alert_kind k)
{
    return (unsigned)k < TT_ALERT_KIND_COUNT ? kind_names[k] : "unknown";
}

/* Per-second counters; svc[] counts failing service classes for messages. */
typedef struct bucket {
    uint64_t sec; /* absolute second; 0 = empty */
    tt_timeline_bucket b;
    uint16_t fail_svc[6]; /* failures by class: other, DNS, QUIC, NTP, STUN, HTTP(S) */
    uint16_t udp_att[6], udp_unans[6], udp_unreach[6]; /* UDP by class */
} bucket;

/* Attempts/failures of a kind summed over [from, to) seconds. */
typedef struct sums {
    uint64_t att[TT_ALERT_KIND_COUNT], fail[TT_ALERT_KIND_COUNT];
    uint64_t udp_new, other_new, secs;
    uint32_t svc[6];
    uint32_t udp_att[6], udp_unans[6], udp_unreach[6];
} sums;

typedef struct marker {
    uint64_t ts_us;
    char label[TT_LABEL_MAX];
    bool raised[TT_ALERT_KIND_COUNT];
} marker;

typedef struct active {
    bool on;
    tt_alert alert; /* the alert that is open */
    double before_rate;
} active;

struct tt_regress {
    tt_regress_config cfg;
    tt_allocator al;
    tt_alert_fn on_alert;
    void *alert_ctx;
    bucket *b;
    uint32_t nb;
    bucket *hot; /* the bucket at() found last (flows judged in a row mostly began in one second) */
    uint64_t first_sec, last_sec; /* range with traffic */
    uint64_t last_eval_sec;
    marker markers[MAX_MARKERS];
    unsigned nmarkers;
    tt_alert alerts[MAX_ALERTS];
    unsigned nalerts;
    active open[TT_ALERT_KIND_COUNT];
    struct sums *pre; /* prefix sums for the change-point search */
    bool final;       /* the last evaluation: every flow has been judged */
    uint32_t npre;
};

void tt_regress_config_init(tt_regress_config *c)
{
    memset(c, 0, sizeof(*c));
    c->alpha = 0.001;
    c->alpha_unmarked = 1e-6;
    c->min_increase = 0.5;
    c->min_attempts = 8;
    c->max_span_s = 600;
    c->history_s = 3600;
    c->window_s = 120;
    c->recovery_s = 30;
    c->vanish_ratio = 0.1;
    c->settle_s = 6;
    c->detect_unmarked = true;
}

size_t tt_regress_memsize(const tt_regress_config *cfg)
{
    return sizeof(tt_regress) + (size_t)cfg->history_s * sizeof(bucket) +
           (2 * (size_t)cfg->window_s + 2) * sizeof(struct sums);
}

int tt_regress_open(tt_regress **out, const tt_regress_config *cfg, const tt_allocator *al,
                    tt_alert_fn on_alert, void *alert_ctx, char *errbuf)
{
    *out = NULL;
    if (cfg->history_s < 60 || cfg->history_s > 7 * 86400 || cfg->window_s < 5 ||
        cfg->window_s > 3600 || cfg->min_attempts < 1 || !(cfg->alpha > 0 && cfg->alpha < 1)) {
        tt__set_err(errbuf, "regression thresholds out of range");
        return TT_EINVAL;
    }
    tt_regress *r = tt__alloc(al, sizeof(*r));
    if (!r)
        goto nomem;
    r->npre = 2 * cfg->window_s + 2;
    r->b = tt__alloc(al, (size_t)cfg->history_s * sizeof(bucket));
    r->pre = tt__alloc(al, (size_t)r->npre * sizeof(struct sums));
    if (!r->b || !r->pre) {
        tt__free(al, r->b, (size_t)cfg->history_s * sizeof(bucket));
        tt__free(al, r->pre, (size_t)r->npre * sizeof(struct sums));
        tt__free(al, r, sizeof(*r));
        goto nomem;
    }
    r->cfg = *cfg;
    if (al)
        r->al = *al;
    r->nb = cfg->history_s;
    r->on_alert = on_alert;
    r->alert_ctx = alert_ctx;
    *out = r;
    return 0;
nomem:
    tt__set_err(errbuf, "cannot allocate %u s of regression history", cfg->history_s);
    return TT_ENOMEM;
}

void tt_regress_close(tt_regress *r)
{
    if (!r)
        return;
    tt_allocator al = r->al;
    tt__free(&al, r->b, (size_t)r->nb * sizeof(bucket));
    tt__free(&al, r->pre, (size_t)r->npre * sizeof(struct sums));
    tt__free(&al, r, sizeof(*r));
}

/* The bucket of absolute second `sec`, (re)initialised when stale; NULL when
 * the second is older than the history kept. */
static bucket *at(tt_regress *r, uint64_t sec, bool create)
{
    if (r->last_sec && sec + r->nb <= r->last_sec)
        return NULL;
    /* The last bucket again, without the division: still sec's, it is within
     * [first_sec, last_sec], so the range below would not change either. */
    if (r->hot && r->hot->sec == sec)
        return r->hot;
    bucket *b = &r->b[sec % r->nb];
    r->hot = b;
    if (b->sec != sec) {
        if (!create)
            return NULL;
        memset(b, 0, sizeof(*b));
        b->sec = sec;
        b->b.start_us = sec * US;
    }
    if (create) {
        if (!r->first_sec || sec < r->first_sec)
            r->first_sec = sec;
        if (sec > r->last_sec)
            r->last_sec = sec;
        if (r->first_sec + r->nb <= r->last_sec)
            r->first_sec = r->last_sec - r->nb + 1;
    }
    return b;
}

static int svc_class(const char *s)
{
    if (!s)
        return 0;
    switch (s[0]) { /* one comparison, not six: this runs for every judgment */
    case 'd':
        return !strcmp(s, "dns") ? 1 : 0;
    case 'q':
        return !strcmp(s, "quic") ? 2 : 0;
    case 'n':
        return !strcmp(s, "ntp") ? 3 : 0;
    case 's':
        return !strcmp(s, "stun") ? 4 : !strcmp(s, "ssl") ? 5 : 0;
    case 'h':
        return !strcmp(s, "http") ? 5 : 0;
    default:
        return 0;
    }
}

/* Adds (sign +1) or removes (-1) one verdict from a bucket. */
static void count(bucket *b, const tt__judgment *c, tt_verdict v, tt_certainty cert, int sign)
{
    tt_timeline_bucket *t = &b->b;
    uint32_t d = (uint32_t)sign; /* wraps for -1: unsigned arithmetic */
    uint16_t d16 = (uint16_t)d;
    if (cert == TT_UNCERTAIN) {
        t->uncertain += d;
        return;
    }
    int cls = svc_class(c->service);
    if (c->proto == 17) {
        switch (v) {
        case TT_VERDICT_ANSWERED:
            t->udp_judged += d, t->udp_answered += d;
            b->udp_att[cls] += d16;
            break;
        case TT_VERDICT_UNANSWERED:
            t->udp_judged += d, t->udp_unanswered += d;
            b->fail_svc[cls] += d16;
            b->udp_att[cls] += d16, b->udp_unans[cls] += d16;
            break;
        case TT_VERDICT_ICMP_UNREACHABLE:
            t->udp_judged += d, t->udp_unreachable += d;
            b->fail_svc[cls] += d16;
            b->udp_att[cls] += d16, b->udp_unreach[cls] += d16;
            break;
        default:
            break;
        }
    } else if (c->proto == 6) {
        switch (v) {
        case TT_VERDICT_ESTABLISHED:
        case TT_VERDICT_CLOSED:
        case TT_VERDICT_RESET:
            t->tcp_judged += d, t->tcp_completed += d;
            break;
        case TT_VERDICT_SYN_UNANSWERED:
            t->tcp_judged += d, t->tcp_syn_unanswered += d;
            b->fail_svc[cls] += (uint16_t)d;
            break;
        case TT_VERDICT_SYN_REJECTED:
            t->tcp_judged += d, t->tcp_syn_rejected += d;
            b->fail_svc[cls] += (uint16_t)d;
            break;
        case TT_VERDICT_SYNACK_UNACKED:
            t->tcp_judged += d, t->tcp_synack_unacked += d;
            b->fail_svc[cls] += (uint16_t)d;
            break;
        default:
            break;
        }
    }
}

void tt_regress_judge(tt_regress *r, const tt_conn *c, tt_verdict old, tt_certainty old_cert)
{
    tt__judgment j = {.ts_us = c->ts_us,
                      .orig_pkts = c->orig_pkts,
                      .service = c->service,
                      .proto = c->proto,
                      .verdict = c->verdict,
                      .certainty = c->certainty};
    tt__regress_judgment(r, &j, old, old_cert);
}

void tt__regress_judgment(tt_regress *r, const tt__judgment *c, tt_verdict old,
                          tt_certainty old_cert)
{
    uint64_t sec = c->ts_us / US;
    bucket *b = at(r, sec, old == TT_VERDICT_PENDING);
    if (!b)
        return;
    if (old == TT_VERDICT_PENDING) {
        b->b.flows_new++;
        if (c->proto == 17 && c->orig_pkts > 0)
            b->b.udp_new++;
    } else {
        count(b, c, old, old_cert, -1);
    }
    count(b, c, c->verdict, c->certainty, +1);
}

int tt_regress_mark(tt_regress *r, uint64_t ts_us, const char *label)
{
    if (r->nmarkers >= MAX_MARKERS)
        return TT_EAGAIN;
    /* keep markers sorted by time */
    unsigned i = r->nmarkers;
    while (i > 0 && r->markers[i - 1].ts_us > ts_us) {
        r->markers[i] = r->markers[i - 1];
        i--;
    }
    marker *m = &r->markers[i];
    memset(m, 0, sizeof(*m));
    m->ts_us = ts_us;
    size_t n = 0;
    for (; label && label[n] && n + 1 < sizeof(m->label); n++) {
        unsigned char ch = (unsigned char)label[n];
        m->label[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    m->label[n] = 0;
    r->nmarkers++;
    return 0;
}

/* ---- statistics --------------------------------------------------------- */

static double lchoose(double n, double k)
{
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/* One-sided Fisher exact test: probability of at least af failures after,
 * given the margins of [[bf, bn-bf], [af, an-af]]. */
static double fisher_greater(uint64_t bf, uint64_t bn, uint64_t af, uint64_t an)
{
    double N = (double)(bn + an), K = (double)(bf + af), n = (double)an;
    double p = 0;
    uint64_t hi = (uint64_t)fmin(K, n);
    double denom = lchoose(N, n);
    for (uint64_t x = af; x <= hi; x++) {
        double xd = (double)x;
        if (K - xd > N - n)
            continue;
        p += exp(lchoose(K, xd) + lchoose(N - K, n - xd) - denom);
    }
    return p > 1 ? 1 : p;
}

/* P(X <= k) for X ~ Binomial(n, q). */
static double binom_le(uint64_t k, uint64_t n, double q)
{
    if (q <= 0)
        return 1;
    if (q >= 1)
        return k >= n ? 1 : 0;
    double p = 0;
    for (uint64_t x = 0; x <= k && x <= n; x++)
        p += exp(lchoose((double)n, (double)x) + (double)x * log(q) + (double)(n - x) * log1p(-q));
    return p > 1 ? 1 : p;
}

/* s = x - y, field by field (prefix sums). */
static void sums_sub(sums *s, const sums *x, const sums *y)
{
    for (int k = 0; k < TT_ALERT_KIND_COUNT; k++) {
        s->att[k] = x->att[k] - y->att[k];
        s->fail[k] = x->fail[k] - y->fail[k];
    }
    s->udp_new = x->udp_new - y->udp_new;
    s->other_new = x->other_new - y->other_new;
    s->secs = x->secs - y->secs;
    for (int i = 0; i < 6; i++) {
        s->svc[i] = x->svc[i] - y->svc[i];
        s->udp_att[i] = x->udp_att[i] - y->udp_att[i];
        s->udp_unans[i] = x->udp_unans[i] - y->udp_unans[i];
        s->udp_unreach[i] = x->udp_unreach[i] - y->udp_unreach[i];
    }
}

/* Restricts the UDP kinds of s to one service class (DNS, QUIC, ...). */
static void sums_class(sums *s, int cls)
{
    s->att[TT_ALERT_UDP_UNANSWERED] = s->att[TT_ALERT_UDP_UNREACHABLE] = s->udp_att[cls];
    s->fail[TT_ALERT_UDP_UNANSWERED] = s->udp_unans[cls];
    s->fail[TT_ALERT_UDP_UNREACHABLE] = s->udp_unreach[cls];
    for (int i = 0; i < 6; i++)
        if (i != cls)
            s->svc[i] = 0;
}

static void add_bucket(sums *s, const bucket *b)
{
    const tt_timeline_bucket *t = &b->b;
    s->att[TT_ALERT_UDP_UNANSWERED] += t->udp_judged;
    s->fail[TT_ALERT_UDP_UNANSWERED] += t->udp_unanswered;
    s->att[TT_ALERT_UDP_UNREACHABLE] += t->udp_judged;
    s->fail[TT_ALERT_UDP_UNREACHABLE] += t->udp_unreachable;
    s->att[TT_ALERT_TCP_SYN_UNANSWERED] += t->tcp_judged;
    s->fail[TT_ALERT_TCP_SYN_UNANSWERED] += t->tcp_syn_unanswered;
    s->att[TT_ALERT_TCP_SYN_REJECTED] += t->tcp_judged;
    s->fail[TT_ALERT_TCP_SYN_REJECTED] += t->tcp_syn_rejected;
    s->att[TT_ALERT_TCP_SYNACK_UNACKED] += t->tcp_judged;
    s->fail[TT_ALERT_TCP_SYNACK_UNACKED] += t->tcp_synack_unacked;
    s->udp_new += t->udp_new;
    s->other_new += t->flows_new - t->udp_new;
    for (int i = 0; i < 6; i++) {
        s->svc[i] += b->fail_svc[i];
        s->udp_att[i] += b->udp_att[i];
        s->udp_unans[i] += b->udp_unans[i];
        s->udp_unreach[i] += b->udp_unreach[i];
    }
}

static void sum_range(const tt_regress *r, uint64_t from, uint64_t to, sums *s)
{
    memset(s, 0, sizeof(*s));
    if (from < r->first_sec)
        from = r->first_sec;
    if (to > r->last_sec + 1)
        to = r->last_sec + 1;
    if (to > from)
        s->secs = to - from;
    for (uint64_t sec = from; sec < to; sec++) {
        const bucket *b = &r->b[sec % r->nb];
        if (b->sec == sec)
            add_bucket(s, b);
    }
}

/* ---- alerts -------------------------------------------------------------- */

static void hhmmss(uint64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / US);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

static void services_text(const uint32_t svc[6], bool udp, char *buf, size_t len)
{
    static const char *const names[] = {"other", "DNS", "QUIC", "NTP", "STUN", "HTTP(S)"};
    buf[0] = 0;
    size_t n = 0;
    for (int i = 1; i < 6; i++) {
        if (!svc[i] || (udp && i == 5) || (!udp && i != 5))
            continue;
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "/" : "", names[i]);
    }
    if (svc[0] && n < len)
        snprintf(buf + n, len - n, "%s%s", n ? "/" : "", n ? "other" : (udp ? "UDP" : "TCP"));
}

static void since_text(const tt_alert *a, char *buf, size_t len)
{
    char hms[16];
    hhmmss(a->ts_us, hms, sizeof(hms));
    if (a->has_marker)
        snprintf(buf, len, "since \"%s\" (%s)", a->marker, hms);
    else
        snprintf(buf, len, "since about %s (no marker)", hms);
}

static void compose(tt_alert *a)
{
    char since[TT_LABEL_MAX + 48];
    since_text(a, since, sizeof(since));
    unsigned long long ba = a->before_attempts, bf = a->before_failures;
    unsigned long long aa = a->after_attempts, af = a->after_failures;
    const char *svc = a->services[0] ? a->services : "UDP";
    switch (a->kind) {
    case TT_ALERT_UDP_UNANSWERED:
        snprintf(a->message, sizeof(a->message),
                 "UDP broken %s: %llu of %llu %s flows answered, before %llu of %llu", since,
                 aa - af, aa, svc, ba - bf, ba);
        break;
    case TT_ALERT_UDP_UNREACHABLE:
        snprintf(a->message, sizeof(a->message),
                 "UDP rejected %s: %llu of %llu %s flows got ICMP unreachable, before %llu of %llu",
                 since, af, aa, svc, bf, ba);
        break;
    case TT_ALERT_UDP_VANISHED:
        snprintf(a->message, sizeof(a->message),
                 "UDP vanished %s: %llu new UDP flows in %.0f s, before %llu in %.0f s "
                 "(%.2f per second)",
                 since, aa, a->after_seconds, ba, a->before_seconds,
                 a->before_seconds > 0 ? (double)ba / a->before_seconds : 0.0);
        break;
    case TT_ALERT_TCP_SYN_UNANSWERED:
        snprintf(a->message, sizeof(a->message),
                 "TCP handshakes failing %s: %llu of %llu SYNs unanswered, before %llu of %llu",
                 since, af, aa, bf, ba);
        break;
    case TT_ALERT_TCP_SYN_REJECTED:
        snprintf(a->message, sizeof(a->message),
                 "TCP connections refused %s: %llu of %llu SYNs answered by RST or ICMP, before "
                 "%llu of %llu",
                 since, af, aa, bf, ba);
        break;
    case TT_ALERT_TCP_SYNACK_UNACKED:
        snprintf(a->message, sizeof(a->message),
                 "TCP handshakes incomplete %s: %llu of %llu SYN-ACKs never acknowledged, before "
                 "%llu of %llu",
                 since, af, aa, bf, ba);
        break;
    default:
        a->message[0] = 0;
    }
}

static void compose_recovery(tt_alert *a, const tt_alert *open)
{
    char hms[16];
    hhmmss(a->ts_us, hms, sizeof(hms));
    uint64_t s = a->took_us / US;
    char took[32];
    if (s >= 60)
        snprintf(took, sizeof(took), "%llu min %llu s", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(took, sizeof(took), "%llu s", (unsigned long long)s);
    char from[TT_LABEL_MAX + 16];
    if (open->has_marker)
        snprintf(from, sizeof(from), "\"%s\"", open->marker);
    else
        snprintf(from, sizeof(from), "the change");
    if (a->kind == TT_ALERT_UDP_VANISHED)
        snprintf(
            a->message, sizeof(a->message),
            "recovered: %s — UDP flows back since %s, %s after %s: %llu new UDP flows in %.0f s",
            tt_alert_kind_name(a->kind), hms, took, from, (unsigned long long)a->after_attempts,
            a->after_seconds);
    else
        snprintf(a->message, sizeof(a->message),
                 "recovered: %s — back to the before-level since %s, %s after %s: %llu of %llu "
                 "failed, before %llu of %llu",
                 tt_alert_kind_name(a->kind), hms, took, from,
                 (unsigned long long)a->after_failures, (unsigned long long)a->after_attempts,
                 (unsigned long long)a->before_failures, (unsigned long long)a->before_attempts);
}

static void emit(tt_regress *r, const tt_alert *a)
{
    if (r->nalerts < MAX_ALERTS)
        r->alerts[r->nalerts++] = *a;
    if (r->on_alert)
        r->on_alert(r->alert_ctx, a);
}

/* Is a failure rate of af in aa attempts after worse enough than bf in ba
 * before? Returns the p-value or 2. */
static double test_counts(const tt_regress_config *c, uint64_t ba, uint64_t bf, uint64_t aa,
                          uint64_t af, bool marked)
{
    if (aa < c->min_attempts || ba < (marked ? 1u : c->min_attempts))
        return 2;
    double rb = (double)bf / (double)ba, ra = (double)af / (double)aa;
    if (ra - rb < c->min_increase)
        return 2;
    return fisher_greater(bf, ba, af, aa);
}

/* Is the after-period worse enough, for kind k? Returns the p-value or 2. */
static double test_kind(const tt_regress *r, int k, const sums *b, const sums *a, bool marked)
{
    const tt_regress_config *c = &r->cfg;
    if (k == TT_ALERT_UDP_VANISHED) {
        if (!b->secs || !a->secs || a->other_new == 0)
            return 2;
        double rb = (double)b->udp_new / (double)b->secs;
        double expected = rb * (double)a->secs;
        if (b->udp_new < c->min_attempts || expected < c->min_attempts)
            return 2;
        if ((double)a->udp_new > c->vanish_ratio * expected)
            return 2;
        double q = (double)a->secs / (double)(a->secs + b->secs);
        return binom_le(a->udp_new, a->udp_new + b->udp_new, q);
    }
    return test_counts(c, b->att[k], b->fail[k], a->att[k], a->fail[k], marked);
}

static void fill_counts(tt_alert *al, int k, const sums *b, const sums *a)
{
    if (k == TT_ALERT_UDP_VANISHED) {
        al->before_attempts = b->udp_new;
        al->after_attempts = a->udp_new;
        al->before_failures = al->after_failures = 0;
    } else {
        al->before_attempts = b->att[k];
        al->before_failures = b->fail[k];
        al->after_attempts = a->att[k];
        al->after_failures = a->fail[k];
    }
    al->before_seconds = (double)b->secs;
    al->after_seconds = (double)a->secs;
    bool udp = k <= TT_ALERT_UDP_UNREACHABLE;
    services_text(a->svc, udp, al->services, sizeof(al->services));
}

static void raise_alert(tt_regress *r, int k, const sums *b, const sums *a, double p,
                        uint64_t ts_us, const marker *m, uint64_t now_us)
{
    tt_alert al;
    memset(&al, 0, sizeof(al));
    al.kind = (tt_alert_kind)k;
    al.ts_us = ts_us;
    al.raised_at_us = now_us;
    al.p_value = p;
    if (m) {
        al.has_marker = true;
        al.marker_us = m->ts_us;
        snprintf(al.marker, sizeof(al.marker), "%s", m->label);
    }
    fill_counts(&al, k, b, a);
    compose(&al);
    emit(r, &al);
    active *o = &r->open[k];
    o->on = true;
    o->alert = al;
    o->before_rate = k == TT_ALERT_UDP_VANISHED
                         ? (b->secs ? (double)b->udp_new / (double)b->secs : 0)
                         : (b->att[k] ? (double)b->fail[k] / (double)b->att[k] : 0);
}

/* An open alert recovers when the last recovery_s seconds (judged ones,
 * i.e. older than the deadline margin) are back near the before-level. */
static void check_recovery(tt_regress *r, uint64_t now_sec, uint64_t now_us)
{
    const tt_regress_config *c = &r->cfg;
    for (int k = 0; k < TT_ALERT_KIND_COUNT; k++) {
        active *o = &r->open[k];
        if (!o->on)
            continue;
        uint64_t to = now_sec > 6 ? now_sec - 6 : 0; /* leave time for deadlines */
        uint64_t from = to > c->recovery_s ? to - c->recovery_s : 0;
        if (from * US <= o->alert.ts_us)
            continue;
        sums s;
        sum_range(r, from, to, &s);
        bool back;
        if (k == TT_ALERT_UDP_VANISHED) {
            back = s.secs && (double)s.udp_new / (double)s.secs >= o->before_rate * 0.5 &&
                   s.udp_new >= c->min_attempts / 2 + 1;
        } else {
            double rate = s.att[k] ? (double)s.fail[k] / (double)s.att[k] : 1;
            back = s.att[k] >= c->min_attempts && rate <= o->before_rate + c->min_increase / 2;
        }
        if (!back)
            continue;
        /* When did it come back? The earliest second from which on the
         * failure rate (arrivals, for vanished UDP) stays near the
         * before-level: scan suffixes of the window. */
        uint64_t first = to;
        uint64_t sa = 0, sf = 0, sn = 0;
        for (uint64_t sec = to; sec-- > from;) {
            const bucket *b = &r->b[sec % r->nb];
            if (b->sec != sec)
                continue;
            sums one;
            memset(&one, 0, sizeof(one));
            add_bucket(&one, b);
            sa += one.att[k];
            sf += one.fail[k];
            sn += one.udp_new;
            bool ok = k == TT_ALERT_UDP_VANISHED
                          ? (double)sn / (double)(to - sec) >= o->before_rate * 0.5
                          : (sa > 0 && (double)sf / (double)sa <= o->before_rate + 0.1);
            if (ok && b->b.flows_new > 0)
                first = sec;
            else if (!ok)
                break;
        }
        if (first == to)
            first = from;
        tt_alert al;
        memset(&al, 0, sizeof(al));
        al.kind = (tt_alert_kind)k;
        al.recovery = true;
        al.has_marker = o->alert.has_marker;
        al.marker_us = o->alert.marker_us;
        memcpy(al.marker, o->alert.marker, sizeof(al.marker));
        al.ts_us = first * US;
        al.raised_at_us = now_us;
        al.took_us = al.ts_us > o->alert.ts_us ? al.ts_us - o->alert.ts_us : 0;
        al.before_attempts = o->alert.before_attempts;
        al.before_failures = o->alert.before_failures;
        al.before_seconds = o->alert.before_seconds;
        al.after_attempts = k == TT_ALERT_UDP_VANISHED ? s.udp_new : s.att[k];
        al.after_failures = k == TT_ALERT_UDP_VANISHED ? 0 : s.fail[k];
        al.after_seconds = (double)s.secs;
        al.p_value = 1;
        compose_recovery(&al, &o->alert);
        emit(r, &al);
        o->on = false;
    }
}

static void evaluate_markers(tt_regress *r, uint64_t now_sec, uint64_t now_us)
{
    const tt_regress_config *c = &r->cfg;
    for (unsigned i = 0; i < r->nmarkers; i++) {
        marker *m = &r->markers[i];
        uint64_t msec = m->ts_us / US;
        if (m->ts_us > now_us)
            break;
        uint64_t from = msec > c->max_span_s ? msec - c->max_span_s : 0;
        if (i > 0 && r->markers[i - 1].ts_us / US > from)
            from = r->markers[i - 1].ts_us / US;
        uint64_t to = i + 1 < r->nmarkers ? r->markers[i + 1].ts_us / US : now_sec + 1;
        if (to > now_sec + 1)
            to = now_sec + 1;
        sums b, a;
        sum_range(r, from, msec, &b);
        sum_range(r, msec, to, &a);
        if (b.secs == 0 && r->first_sec && from < r->first_sec)
            continue;
        for (int k = 0; k < TT_ALERT_KIND_COUNT; k++) {
            if (m->raised[k] || r->open[k].on)
                continue;
            sums bb = b, aa = a;
            if (k == TT_ALERT_UDP_VANISHED) {
                /* a flow is counted once judged: leave the newest seconds,
                 * whose flows may still wait for their deadline */
                uint64_t vto = r->final ? to : (to > c->settle_s ? to - c->settle_s : 0);
                if (vto > to)
                    vto = to;
                if (vto <= msec)
                    continue;
                sum_range(r, msec, vto, &aa);
            }
            double p = test_kind(r, k, &bb, &aa, true);
            if (p >= c->alpha && (k == TT_ALERT_UDP_UNANSWERED || k == TT_ALERT_UDP_UNREACHABLE)) {
                /* one service may break while the others still answer */
                for (int cls = 1; cls < 6 && p >= c->alpha; cls++) {
                    sums cb = b, ca = a;
                    sums_class(&cb, cls);
                    sums_class(&ca, cls);
                    double pc = test_kind(r, k, &cb, &ca, true);
                    if (pc < c->alpha) {
                        p = pc;
                        bb = cb;
                        aa = ca;
                    }
                }
            }
            if (p < c->alpha) {
                m->raised[k] = true;
                raise_alert(r, k, &bb, &aa, p, m->ts_us, m, now_us);
            }
        }
    }
}

/* Without a marker: for each kind, the split of the recent window that makes
 * the after-side most significantly worse. */
static void evaluate_unmarked(tt_regress *r, uint64_t now_sec, uint64_t now_us)
{
    const tt_regress_config *c = &r->cfg;
    uint64_t end = now_sec + 1;
    uint64_t start = end > 2 * (uint64_t)c->window_s ? end - 2 * (uint64_t)c->window_s : 0;
    if (start < r->first_sec)
        start = r->first_sec;
    if (end <= start + 4)
        return;
    /* do not search across a marker: those periods are judged by the marker */
    for (unsigned i = 0; i < r->nmarkers; i++) {
        uint64_t ms = r->markers[i].ts_us / US;
        if (ms <= end && ms > start)
            start = ms;
    }
    /* prefix sums: pre[i] covers [start, start + i) */
    sums *pre = r->pre;
    const uint64_t MAXW = r->npre;
    uint64_t n = end - start;
    if (n + 1 > MAXW) {
        start = end - (MAXW - 1);
        n = MAXW - 1;
    }
    memset(&pre[0], 0, sizeof(pre[0]));
    for (uint64_t i = 0; i < n; i++) {
        pre[i + 1] = pre[i];
        pre[i + 1].secs++;
        const bucket *b = &r->b[(start + i) % r->nb];
        if (b->sec == start + i)
            add_bucket(&pre[i + 1], b);
    }
    for (int k = 0; k < TT_ALERT_KIND_COUNT; k++) {
        if (r->open[k].on)
            continue;
        double best_p = 2;
        uint64_t best_split = 0;
        /* the after-side of a vanishing ends where its flows are all judged */
        uint64_t vend = r->final ? end : (end > start + c->settle_s ? end - c->settle_s : start);
        /* Only the fields the test reads, per split: building both sides'
         * whole sums for every split and kind was 4 % of the analysis of a
         * mixed capture. The winner's are built once, below. */
        for (uint64_t split = start + 2; split + 2 < end; split++) {
            const sums *p0 = &pre[0], *ps = &pre[split - start], *pn = &pre[n];
            double p;
            if (k == TT_ALERT_UDP_VANISHED) {
                /* the split must fall at the last arrival: none after it,
                 * in the seconds whose flows are all judged */
                if (vend <= split + 2)
                    continue;
                const sums *pv = &pre[vend - start];
                if (pv->udp_new - ps->udp_new != 0)
                    continue;
                sums b = {.udp_new = ps->udp_new - p0->udp_new, .secs = ps->secs - p0->secs};
                sums a = {.udp_new = 0,
                          .other_new = pv->other_new - ps->other_new,
                          .secs = pv->secs - ps->secs};
                p = test_kind(r, k, &b, &a, false);
            } else {
                p = test_counts(c, ps->att[k] - p0->att[k], ps->fail[k] - p0->fail[k],
                                pn->att[k] - ps->att[k], pn->fail[k] - ps->fail[k], false);
            }
            if (p < best_p) {
                best_p = p;
                best_split = split;
            }
        }
        if (best_p < c->alpha_unmarked) {
            sums bb, ab;
            sums_sub(&bb, &pre[best_split - start], &pre[0]);
            sums_sub(&ab, &pre[k == TT_ALERT_UDP_VANISHED ? vend - start : n],
                     &pre[best_split - start]);
            uint64_t ts = best_split * US;
            if (k == TT_ALERT_UDP_VANISHED) {
                /* the last second with a new UDP flow, plus one mean gap */
                uint64_t last = best_split;
                for (uint64_t sec = best_split; sec > start; sec--) {
                    const bucket *b = &r->b[(sec - 1) % r->nb];
                    if (b->sec == sec - 1 && b->b.udp_new) {
                        last = sec - 1;
                        break;
                    }
                }
                double gap = bb.udp_new ? (double)bb.secs / (double)bb.udp_new : 1;
                ts = last * US + (uint64_t)(fmin(gap, 5.0) * 0.5 * (double)US) + US / 2;
            }
            raise_alert(r, k, &bb, &ab, best_p, ts, NULL, now_us);
        }
    }
}

void tt_regress_evaluate(tt_regress *r, uint64_t now_us, bool final)
{
    uint64_t now_sec = now_us / US;
    if (!final && now_sec <= r->last_eval_sec)
        return;
    r->last_eval_sec = now_sec;
    r->final = final;
    if (!r->first_sec)
        return;
    evaluate_markers(r, now_sec, now_us);
    if (r->cfg.detect_unmarked)
        evaluate_unmarked(r, now_sec, now_us);
    check_recovery(r, now_sec, now_us);
}

unsigned tt_regress_alerts(const tt_regress *r, tt_alert *out, unsigned max)
{
    for (unsigned i = 0; i < r->nalerts && i < max; i++)
        out[i] = r->alerts[i];
    return r->nalerts;
}

unsigned tt_regress_timeline(const tt_regress *r, tt_timeline_bucket *out, unsigned max)
{
    if (!r->first_sec)
        return 0;
    unsigned n = (unsigned)(r->last_sec - r->first_sec + 1);
    unsigned i = 0;
    for (uint64_t sec = r->first_sec; sec <= r->last_sec && i < max; sec++, i++) {
        const bucket *b = &r->b[sec % r->nb];
        if (b->sec == sec) {
            out[i] = b->b;
        } else {
            memset(&out[i], 0, sizeof(out[i]));
            out[i].start_us = sec * US;
        }
    }
    return n;
}

static void period_of(const tt_regress *r, uint64_t from, uint64_t to, tt_period *p)
{
    memset(p, 0, sizeof(*p));
    p->from_us = from * US;
    p->to_us = to * US;
    for (uint64_t sec = from; sec < to; sec++) {
        const bucket *b = &r->b[sec % r->nb];
        if (b->sec != sec)
            continue;
        const tt_timeline_bucket *t = &b->b;
        p->flows_new += t->flows_new;
        p->udp_new += t->udp_new;
        p->udp_judged += t->udp_judged;
        p->udp_answered += t->udp_answered;
        p->udp_unanswered += t->udp_unanswered;
        p->udp_unreachable += t->udp_unreachable;
        p->tcp_judged += t->tcp_judged;
        p->tcp_completed += t->tcp_completed;
        p->tcp_syn_unanswered += t->tcp_syn_unanswered;
        p->tcp_syn_rejected += t->tcp_syn_rejected;
        p->tcp_synack_unacked += t->tcp_synack_unacked;
        p->uncertain += t->uncertain;
    }
}

unsigned tt_regress_compare(const tt_regress *r, unsigned i, tt_marker_info *mi, tt_period *before,
                            tt_period *after)
{
    if (i >= r->nmarkers || !before || !after)
        return r->nmarkers;
    const marker *m = &r->markers[i];
    uint64_t msec = m->ts_us / US;
    uint64_t from = msec > r->cfg.max_span_s ? msec - r->cfg.max_span_s : 0;
    if (i > 0 && r->markers[i - 1].ts_us / US > from)
        from = r->markers[i - 1].ts_us / US;
    if (from < r->first_sec)
        from = r->first_sec;
    uint64_t to = i + 1 < r->nmarkers ? r->markers[i + 1].ts_us / US : r->last_sec + 1;
    if (mi) {
        mi->ts_us = m->ts_us;
        memcpy(mi->label, m->label, sizeof(mi->label));
    }
    period_of(r, from, msec > from ? msec : from, before);
    period_of(r, msec, to > msec ? to : msec, after);
    return r->nmarkers;
}
