/* summary.c - counts conn records and says in a few lines whether the network worked. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/cursor.h"
#include "analyze/judgment.h"
#include "analyze/mix.h"
#include "cli/cli.h"

#define TOP_DESTINATIONS 10

int cli_proto_class(uint8_t proto)
{
    switch (proto) {
    case 6:
        return CLI_P_TCP;
    case 17:
        return CLI_P_UDP;
    case 1:
    case 58:
        return CLI_P_ICMP;
    default:
        return CLI_P_OTHER;
    }
}

static const char *const class_names[CLI_P_COUNT] = {"TCP", "UDP", "ICMP", "other"};

void cli_summary_init(cli_summary *s)
{
    memset(s, 0, sizeof *s);
}

void cli_summary_free(cli_summary *s)
{
    free(s->dest);
    free(s->slot);
    free(s->over);
    free(s->over_slot);
    cli_strtab_free(&s->strings);
    memset(s, 0, sizeof *s);
}

/* ---- destination groups ------------------------------------------------ */

/* By words, not bytes: this runs for every conn record (a byte-wise FNV was
 * 5 % of a SYN scan's analysis). The address is zero-padded past its length.
 * Three independent products, then one finalizer (three chained finalizers
 * were 3 % of the SYN scan's samples). */
static uint64_t key_hash(const uint8_t addr[16], uint8_t ip_version, uint8_t proto, uint16_t port,
                         const char *service)
{
    uint64_t w0, w1;
    memcpy(&w0, addr, 8);
    memcpy(&w1, addr + 8, 8);
    uint64_t small = (uint64_t)ip_version << 24 | (uint64_t)proto << 16 | port;
    /* service is interned: its pointer identifies it */
    return tt__mix64(w0 * 0x9e3779b97f4a7c15ull ^ w1 * 0xc2b2ae3d27d4eb4full ^
                     (small ^ (uint64_t)(uintptr_t)service) * 0x165667b19e3779f9ull);
}

static uint64_t dest_hash(const cli_dest *d)
{
    return key_hash(d->addr, d->ip_version, d->proto, d->port, d->service);
}

static bool dest_is(const cli_dest *d, const cli_summary_pending *p)
{
    return d->ip_version == p->ip_version && d->proto == p->proto && d->port == p->port &&
           d->service == p->service && memcmp(d->addr, p->addr, 16) == 0;
}

/* The groups are allocated at their bound at once (7.5 MiB of address
 * space), their pages touched only as groups are appended: they never move.
 * Their index grows with them, at most half full: 8 bytes a slot, so a probe
 * that misses (most records of a scan, once the groups are full) touches no
 * group, but hashed, so it touches its pages at random: at its bound from
 * the start, it made every capture with a few hundred groups pay its 1 MiB. */
static int dest_grow(cli_summary *s)
{
    if (!s->dest) {
        s->dest = malloc(CLI_SUMMARY_MAX_DESTS * sizeof *s->dest);
        if (!s->dest)
            return TT_ENOMEM;
    }
    size_t cap = s->slot_cap ? s->slot_cap * 2 : 256;
    uint64_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return TT_ENOMEM;
    for (size_t i = 0; i < s->dest_used; i++) {
        uint64_t h = dest_hash(&s->dest[i]);
        size_t j = (size_t)h & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = (h >> 32) << 32 | (i + 1);
    }
    free(s->slot);
    s->slot = slot;
    s->slot_cap = cap;
    return 0;
}

/* The group of record p, inserted (with p counted) when new; NULL when out
 * of memory (oom set) or past the bound (full set). */
static cli_dest *dest_find(cli_summary *s, const cli_summary_pending *p, bool *fresh)
{
    *fresh = false;
    if (s->dest_used < CLI_SUMMARY_MAX_DESTS && (s->dest_used + 1) * 2 > s->slot_cap &&
        dest_grow(s) < 0) {
        s->oom = true;
        return NULL;
    }
    uint64_t tag = (p->hash >> 32) << 32;
    size_t j = (size_t)p->hash & (s->slot_cap - 1);
    for (; s->slot[j]; j = (j + 1) & (s->slot_cap - 1)) {
        if ((s->slot[j] & ~0xffffffffull) != tag)
            continue;
        cli_dest *d = &s->dest[(uint32_t)s->slot[j] - 1];
        if (dest_is(d, p))
            return d;
    }
    /* Bounded: a flood to a million targets must not grow the summary
     * without end; such records are counted by port alone (over_find). */
    if (s->dest_used >= CLI_SUMMARY_MAX_DESTS) {
        s->full = true;
        return NULL;
    }
    cli_dest *d = &s->dest[s->dest_used];
    memset(d, 0, sizeof *d);
    d->ip_version = p->ip_version;
    d->proto = p->proto;
    d->port = p->port;
    d->service = p->service;
    memcpy(d->addr, p->addr, 16);
    d->flows = 1;
    s->slot[j] = tag | (s->dest_used + 1);
    *fresh = true;
    s->dest_used++;
    return d;
}

static bool same_port(const cli_dest *a, const cli_dest *b)
{
    return a->proto == b->proto && a->port == b->port && a->service == b->service;
}

static uint64_t port_hash(const cli_dest *d)
{
    return tt__mix64(((uint64_t)d->proto << 16 | d->port) * 0x9e3779b97f4a7c15ull ^
                     (uint64_t)(uintptr_t)d->service);
}

#define OVER_SLOTS (2 * CLI_SUMMARY_MAX_OVER) /* the over index: at most half full */

/* The slot of d's (proto, port, service) in the over index: its key's, or empty. */
static uint32_t *over_slot(const cli_summary *s, const cli_dest *d)
{
    size_t j = (size_t)port_hash(d) & (OVER_SLOTS - 1);
    while (s->over_slot[j] && !same_port(&s->over[s->over_slot[j] - 1], d))
        j = (j + 1) & (OVER_SLOTS - 1);
    return &s->over_slot[j];
}

/* The by-port count of a record whose group is past the bound (a scan's
 * millionth host): the rows of its port stay whole, though they cannot name
 * the host. NULL when out of memory or a new key past CLI_SUMMARY_MAX_OVER.
 * The keys and their index are allocated at their bound when first needed
 * (their pages touched as keys come: a scan has one). */
static cli_dest *over_find(cli_summary *s, const cli_summary_pending *p)
{
    /* a scan's records mostly share their key: the last one is tried first */
    if (s->over_used) {
        cli_dest *last = &s->over[s->over_last];
        if (last->proto == p->proto && last->port == p->port && last->service == p->service)
            return last;
    }
    if (!s->over_slot) {
        s->over = calloc(CLI_SUMMARY_MAX_OVER, sizeof *s->over);
        s->over_slot = calloc(OVER_SLOTS, sizeof *s->over_slot);
        if (!s->over || !s->over_slot) {
            free(s->over);
            free(s->over_slot);
            s->over = NULL;
            s->over_slot = NULL;
            return NULL;
        }
    }
    cli_dest key = {.proto = p->proto, .port = p->port, .service = p->service};
    uint32_t *slot = over_slot(s, &key);
    if (!*slot) {
        if (s->over_used >= CLI_SUMMARY_MAX_OVER)
            return NULL;
        s->over[s->over_used] = key;
        *slot = (uint32_t)++s->over_used;
    }
    s->over_last = *slot - 1;
    return &s->over[s->over_last];
}

/* The record's share of its group's counts, or of its port's past the
 * groups' bound. */
static void dest_count(cli_summary *s, const cli_summary_pending *p)
{
    bool fresh = false;
    cli_dest *d = dest_find(s, p, &fresh);
    if (!d && s->full) {
        d = over_find(s, p);
        if (!d)
            s->oom = true;
    }
    if (!d)
        return;
    if (!fresh)
        d->flows++; /* a new group starts with this record counted (flows = 1) */
    if (p->unsure)
        d->uncertain++;
    else if (p->fail) {
        d->failed++;
        d->by_verdict[p->verdict]++;
    }
}

/* Counts the oldest record of the look-ahead queue into its group. */
static void count_oldest(cli_summary *s)
{
    dest_count(s, &s->ahead[s->ahead_at]);
    s->ahead_at = (s->ahead_at + 1) % CLI_SUMMARY_AHEAD;
    s->ahead_n--;
}

/* Counts record c, whose service is already the summary's copy. */
static void count_record(cli_summary *s, const tt__brief *c, const char *service)
{
    int pc = cli_proto_class(c->proto);
    unsigned v = (unsigned)c->verdict < TT_VERDICT_COUNT ? (unsigned)c->verdict : TT_VERDICT_OTHER;
    bool fail = tt_verdict_is_failure((tt_verdict)v);
    bool unsure = fail && c->certainty == TT_UNCERTAIN;

    s->flows++;
    s->by_proto[pc]++;
    s->count[pc][v]++;
    s->late_replies += c->late_replies;
    if (unsure) {
        s->uncertain[pc][v]++;
        s->uncertain_total++;
        for (unsigned b = 0; b < 8; b++) {
            if (c->uncertain_why & (1u << b))
                s->unc_why[b]++;
        }
    } else if (fail) {
        s->failed++;
    }
    if (c->service && !service) {
        s->oom = true;
        return;
    }
    /* The group is looked up CLI_SUMMARY_AHEAD records later, its index slot
     * prefetched now: on a scan every record's slot is a cache miss into an
     * index of up to 1 MiB, which was 11 % of the analysis thread's time
     * (perf record, SYN scan 1 M). The groups come out the same: records are
     * added in order, and every reader of the groups flushes first. */
    if (s->ahead_n == CLI_SUMMARY_AHEAD)
        count_oldest(s);
    cli_summary_pending *p = &s->ahead[(s->ahead_at + s->ahead_n++) % CLI_SUMMARY_AHEAD];
    p->ip_version = c->ip_version;
    p->proto = c->proto;
    memcpy(p->addr, c->resp_h, 16);
    if (c->ip_version != 6)
        memset(p->addr + 4, 0, 12);
    p->port = pc == CLI_P_ICMP ? c->orig_p : c->resp_p;
    p->service = service;
    p->hash = key_hash(p->addr, p->ip_version, p->proto, p->port, p->service);
    p->verdict = (uint8_t)v;
    p->fail = fail;
    p->unsure = unsure;
    if (s->slot_cap)
        __builtin_prefetch(&s->slot[(size_t)p->hash & (s->slot_cap - 1)]);
}

void cli_summary_add(cli_summary *s, const tt_conn *c)
{
    tt__brief b = {.ip_version = c->ip_version,
                   .proto = c->proto,
                   .orig_p = c->orig_p,
                   .resp_p = c->resp_p,
                   .service = c->service,
                   .verdict = c->verdict,
                   .certainty = c->certainty,
                   .uncertain_why = c->uncertain_why,
                   .late_replies = c->late_replies};
    memcpy(b.resp_h, c->resp_h, 16);
    count_record(s, &b, cli_strtab_intern(&s->strings, c->service));
}

/* A brief record's service string stays where it is while the analyzer
 * lives (one per protocol), so its copy is found by address: a strcmp and a
 * string hash per record were 4 % of a SYN scan's analysis thread. */
static const char *brief_service(cli_summary *s, const char *service)
{
    if (!service)
        return NULL;
    unsigned i = (unsigned)(((uint64_t)(uintptr_t)service * 0x9e3779b97f4a7c15ull) >> 60);
    if (s->service[i].from != service) {
        const char *copy = cli_strtab_intern(&s->strings, service);
        if (!copy)
            return NULL;
        s->service[i].from = service;
        s->service[i].copy = copy;
    }
    return s->service[i].copy;
}

void cli_summary_add_brief(cli_summary *s, const tt__brief *b)
{
    count_record(s, b, brief_service(s, b->service));
}

void cli_summary_flush(cli_summary *s)
{
    while (s->ahead_n)
        count_oldest(s);
}

/* ---- judgement --------------------------------------------------------- */

typedef struct textbuf {
    char *p;
    size_t len, used;
} textbuf;

__attribute__((format(printf, 2, 3))) static void tb_add(textbuf *t, const char *fmt, ...)
{
    if (t->used >= t->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->used += (size_t)n < t->len - t->used ? (size_t)n : t->len - t->used - 1;
}

/* Certain failures of one verdict in one protocol class. */
static uint64_t certain(const cli_summary *s, int pc, tt_verdict v)
{
    return s->count[pc][v] - s->uncertain[pc][v];
}

/* "capture end 3, capture loss 1" */
static void add_reasons(textbuf *t, const cli_summary *s)
{
    bool first = true;
    for (unsigned b = 0; b < 8; b++) {
        const char *name = cli_uncertain_name(1u << b);
        if (!s->unc_why[b] || !name)
            continue;
        tb_add(t, "%s", first ? "" : ", ");
        for (const char *p = name; *p; p++)
            tb_add(t, "%c", *p == '_' ? ' ' : *p);
        tb_add(t, " %" PRIu64, s->unc_why[b]);
        first = false;
    }
}

cli_judgement cli_summary_judge(const cli_summary *s, char *buf, size_t len)
{
    textbuf t = {buf, len, 0};
    if (len)
        buf[0] = '\0';
    if (s->flows == 0) {
        tb_add(&t, "nothing to judge — no flows");
        return CLI_JUDGE_EMPTY;
    }
    if (s->failed == 0 && s->uncertain_total == 0) {
        tb_add(&t, "OK — no failed handshakes or unanswered UDP");
        return CLI_JUDGE_OK;
    }
    if (s->failed == 0) {
        tb_add(&t, "inconclusive — %" PRIu64 " %s (", s->uncertain_total,
               s->uncertain_total == 1 ? "failure may be a capture artifact"
                                       : "failures may be capture artifacts");
        add_reasons(&t, s);
        tb_add(&t, "); none is certain");
        return CLI_JUDGE_INCONCLUSIVE;
    }

    /* One clause per kind of certain failure, in the order an engineer
     * checks them: handshakes, refusals, unanswered datagrams, ICMP errors. */
    char clause[8][160];
    size_t n = 0;
    uint64_t tcp = s->by_proto[CLI_P_TCP];
    uint64_t hs = certain(s, CLI_P_TCP, TT_VERDICT_SYN_UNANSWERED) +
                  certain(s, CLI_P_TCP, TT_VERDICT_SYNACK_UNACKED);
    if (hs)
        snprintf(clause[n++], sizeof clause[0],
                 "%" PRIu64 " of %" PRIu64 " TCP handshakes never completed", hs, tcp);
    uint64_t rej = certain(s, CLI_P_TCP, TT_VERDICT_SYN_REJECTED);
    if (rej)
        snprintf(clause[n++], sizeof clause[0],
                 "%" PRIu64 " of %" PRIu64 " TCP connections were refused", rej, tcp);
    for (int pc = CLI_P_UDP; pc < CLI_P_COUNT; pc++) {
        uint64_t un = certain(s, pc, TT_VERDICT_UNANSWERED);
        if (un)
            snprintf(clause[n++], sizeof clause[0],
                     "%" PRIu64 " of %" PRIu64 " %s flows got no reply", un, s->by_proto[pc],
                     class_names[pc]);
    }
    uint64_t unreach = 0, malformed = 0, other = 0;
    for (int pc = 0; pc < CLI_P_COUNT; pc++) {
        unreach += certain(s, pc, TT_VERDICT_ICMP_UNREACHABLE);
        malformed += certain(s, pc, TT_VERDICT_MALFORMED);
        for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
            if (!tt_verdict_is_failure((tt_verdict)v) || v == TT_VERDICT_ICMP_UNREACHABLE ||
                v == TT_VERDICT_MALFORMED)
                continue;
            bool told = (pc == CLI_P_TCP &&
                         (v == TT_VERDICT_SYN_UNANSWERED || v == TT_VERDICT_SYNACK_UNACKED ||
                          v == TT_VERDICT_SYN_REJECTED)) ||
                        (pc != CLI_P_TCP && v == TT_VERDICT_UNANSWERED);
            if (!told)
                other += certain(s, pc, (tt_verdict)v);
        }
    }
    if (unreach)
        snprintf(clause[n++], sizeof clause[0], "%" PRIu64 " flow%s got ICMP unreachable", unreach,
                 unreach == 1 ? "" : "s");
    if (malformed)
        snprintf(clause[n++], sizeof clause[0], "%" PRIu64 " flow%s carried malformed packets",
                 malformed, malformed == 1 ? "" : "s");
    if (other)
        snprintf(clause[n++], sizeof clause[0], "%" PRIu64 " other flow%s failed", other,
                 other == 1 ? "" : "s");

    tb_add(&t, "BROKEN — ");
    for (size_t i = 0; i < n; i++)
        tb_add(&t, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", clause[i]);
    tb_add(&t, ".");
    if (s->uncertain_total)
        tb_add(&t, " %" PRIu64 " more may be capture artifacts.", s->uncertain_total);
    return CLI_JUDGE_BROKEN;
}

/* ---- printing ---------------------------------------------------------- */

static void print_duration(FILE *out, uint64_t us)
{
    uint64_t s = us / 1000000u;
    if (s < 60)
        fprintf(out, "%" PRIu64 ".%" PRIu64 " s", s, (us % 1000000u) / 100000u);
    else if (s < 3600)
        fprintf(out, "%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
    else if (s < 2 * 86400)
        fprintf(out, "%" PRIu64 " h %" PRIu64 " min", s / 3600, (s % 3600) / 60);
    else
        fprintf(out, "%" PRIu64 " days", s / 86400);
}

static void print_span(FILE *out, uint64_t first_us, uint64_t last_us)
{
    time_t a = (time_t)(first_us / 1000000u), b = (time_t)(last_us / 1000000u);
    struct tm ta, tb;
    char sa[32], sb[32];
    if (!gmtime_r(&a, &ta) || !gmtime_r(&b, &tb))
        return;
    strftime(sa, sizeof sa, "%Y-%m-%d %H:%M:%S", &ta);
    bool same_day = ta.tm_year == tb.tm_year && ta.tm_yday == tb.tm_yday;
    strftime(sb, sizeof sb, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tb);
    fprintf(out, ", %s → %s UTC", sa, sb);
}

/* "TCP   established 12  closed 10  syn_unanswered 16 (2 uncertain)" */
static void print_class(FILE *out, const cli_summary *s, int pc)
{
    /* Failures a reader expects to see for this protocol, even at 0. */
    static const tt_verdict always[CLI_P_COUNT][3] = {
        [CLI_P_TCP] = {TT_VERDICT_SYN_UNANSWERED, TT_VERDICT_SYN_REJECTED,
                       TT_VERDICT_SYNACK_UNACKED},
        [CLI_P_UDP] = {TT_VERDICT_UNANSWERED, TT_VERDICT_ICMP_UNREACHABLE, TT_VERDICT_UNANSWERED},
        [CLI_P_ICMP] = {TT_VERDICT_UNANSWERED, TT_VERDICT_UNANSWERED, TT_VERDICT_UNANSWERED},
        [CLI_P_OTHER] = {TT_VERDICT_UNANSWERED, TT_VERDICT_UNANSWERED, TT_VERDICT_UNANSWERED},
    };
    if (!s->by_proto[pc])
        return;
    fprintf(out, "  %-5s", class_names[pc]);
    const char *sep = " ";
    for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
        bool show = s->count[pc][v] != 0;
        for (size_t i = 0; i < 3 && !show && pc != CLI_P_OTHER; i++)
            show = always[pc][i] == (tt_verdict)v;
        if (!show)
            continue;
        fprintf(out, "%s%s %" PRIu64, sep, tt_verdict_name((tt_verdict)v), s->count[pc][v]);
        if (s->uncertain[pc][v])
            fprintf(out, " (%" PRIu64 " uncertain)", s->uncertain[pc][v]);
        sep = "  ";
    }
    fputc('\n', out);
}

/* Above this many failing hosts on one protocol, port and service (a service
 * broken everywhere: QUIC dropped by a filter, a sweep of a subnet), they
 * share a row. */
#define ROLLUP_HOSTS 5

/* Addresses as two big-endian words: the byte order memcmp gives, without
 * the call (the sorts below compare up to a million pairs). */
static int cmp_addr(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    if (a0 != b0)
        return __builtin_bswap64(a0) < __builtin_bswap64(b0) ? -1 : 1;
    memcpy(&a1, a + 8, 8);
    memcpy(&b1, b + 8, 8);
    if (a1 != b1)
        return __builtin_bswap64(a1) < __builtin_bswap64(b1) ? -1 : 1;
    return 0;
}

static int same_host(const cli_dest *a, const cli_dest *b)
{
    if (a->ip_version != b->ip_version)
        return a->ip_version < b->ip_version ? -1 : 1;
    int c = cmp_addr(a->addr, b->addr);
    if (c)
        return c;
    return a->proto == b->proto ? 0 : a->proto < b->proto ? -1 : 1;
}

static int by_host(const void *pa, const void *pb)
{
    const cli_dest *a = *(const cli_dest *const *)pa, *b = *(const cli_dest *const *)pb;
    int c = same_host(a, b);
    return c ? c : a->port == b->port ? 0 : a->port < b->port ? -1 : 1;
}

static int dest_rank(const void *pa, const void *pb)
{
    const cli_dest_row *ra = pa, *rb = pb;
    const cli_dest *a = &ra->d, *b = &rb->d;
    if (a->failed != b->failed)
        return a->failed > b->failed ? -1 : 1;
    if (a->uncertain != b->uncertain)
        return a->uncertain > b->uncertain ? -1 : 1;
    if (a->flows != b->flows)
        return a->flows > b->flows ? -1 : 1;
    int c = same_host(a, b);
    if (c)
        return c;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    return strcmp(a->service ? a->service : "", b->service ? b->service : "");
}

/* Max-heap by rank (the worst-ranked row at 0) of the n rows from 0. */
static void sift_down(cli_dest_row *rows, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && dest_rank(&rows[l], &rows[m]) > 0)
            m = l;
        if (r < n && dest_rank(&rows[r], &rows[m]) > 0)
            m = r;
        if (m == i)
            return;
        cli_dest_row t = rows[i];
        rows[i] = rows[m];
        rows[m] = t;
        i = m;
    }
}

static bool failing(const cli_dest *d, bool with_uncertain)
{
    return d->failed || (with_uncertain && d->uncertain);
}

/* The rows listed: the best `top` of those offered (a max-heap by rank, the
 * worst kept at 0, once full), and how many were offered. */
typedef struct ranked {
    cli_dest_row *rows;
    size_t kept, top, total;
} ranked;

static void offer(ranked *k, const cli_dest_row *r)
{
    k->total++;
    if (k->kept < k->top) {
        k->rows[k->kept++] = *r;
        if (k->kept == k->top) {
            for (size_t i = k->top / 2; i-- > 0;)
                sift_down(k->rows, k->top, i);
        }
    } else if (k->top && dest_rank(r, &k->rows[0]) < 0) {
        k->rows[0] = *r;
        sift_down(k->rows, k->top, 0);
    }
}

/* Adds the counts of group d to row r. */
static void roll_into(cli_dest_row *r, const cli_dest *d)
{
    r->d.flows += d->flows;
    r->d.failed += d->failed;
    r->d.uncertain += d->uncertain;
    for (unsigned v = 0; v < TT_VERDICT_COUNT; v++)
        r->d.by_verdict[v] += d->by_verdict[v];
}

/* A rolled-up row keyed like d, its counts zero. */
static cli_dest_row rollup_of(const cli_dest *d)
{
    cli_dest_row r = {.d = *d};
    r.d.flows = r.d.failed = r.d.uncertain = 0;
    memset(r.d.by_verdict, 0, sizeof r.d.by_verdict);
    return r;
}

/* The port pass's runs: the groups of one (protocol, port, service), found
 * by hash (callgrind, the list of a 100 000-host scan's 65 536 groups: 32.9 M
 * instructions without a port pass, 58 M with a second sort, 36.4 M with
 * this); their table grows from a few runs, as there are mostly few. */
typedef struct port_run {
    const cli_dest *key;  /* its first group */
    size_t hosts;         /* its failing groups: one per host */
    const cli_dest *over; /* its records past the groups' bound, or NULL */
    bool rolled;          /* one row: more than ROLLUP_HOSTS hosts failing, or over failing */
    bool stray;           /* failing only past the bound, and little: see offer_by_port */
    size_t row;           /* that row */
} port_run;

typedef struct port_runs {
    port_run *run;
    uint32_t *slot; /* run index + 1; 0: empty */
    size_t n, cap;  /* runs used; slots (a power of two, at most half full) */
} port_runs;

/* The slot of d's key: holding its run, or empty. */
static uint32_t *port_slot(const port_runs *r, const cli_dest *d)
{
    size_t j = (size_t)port_hash(d) & (r->cap - 1);
    while (r->slot[j] && !same_port(r->run[r->slot[j] - 1].key, d))
        j = (j + 1) & (r->cap - 1);
    return &r->slot[j];
}

/* The run of d's key (new when absent), or NULL when out of memory. */
static port_run *port_run_of(port_runs *r, const cli_dest *d)
{
    if ((r->n + 1) * 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        uint32_t *slot = calloc(cap, sizeof *slot);
        port_run *run = realloc(r->run, cap / 2 * sizeof *run);
        if (run)
            r->run = run;
        if (!slot || !run) {
            free(slot);
            return NULL;
        }
        free(r->slot);
        r->slot = slot;
        r->cap = cap;
        for (size_t i = 0; i < r->n; i++)
            *port_slot(r, r->run[i].key) = (uint32_t)(i + 1);
    }
    uint32_t *slot = port_slot(r, d);
    if (!*slot) {
        r->run[r->n] = (port_run){.key = d};
        *slot = (uint32_t)++r->n;
    }
    return &r->run[*slot - 1];
}

/* The groups left by the host pass (rest of them, rest_fails failing): each
 * (protocol, port, service) failing on more than ROLLUP_HOSTS hosts gives
 * one row counting every group of it, the others their failing groups. The
 * records past the groups' bound (s->over) join the row of their key, which
 * they make whenever they hold a failure: their hosts are not known apart.
 * Keys that failed only there and at most ROLLUP_HOSTS times (a host's
 * ports scanned once the groups were full), when more than CLI_ROLLUP_PORTS of
 * one protocol, share one row of that protocol: its ports counted, at least
 * one host. */
static int offer_by_port(ranked *k, const cli_dest **rest, size_t n, size_t rest_fails,
                         const cli_summary *s, bool with_uncertain)
{
    if (rest_fails <= ROLLUP_HOSTS && !s->over_used) { /* no run can roll up: no grouping */
        for (size_t i = 0; i < n; i++) {
            if (failing(rest[i], with_uncertain))
                offer(k, &(cli_dest_row){.d = *rest[i]});
        }
        return 0;
    }
    port_runs r = {0};
    cli_dest_row *rolled = NULL;
    size_t nrolled = 0;
    int rc = TT_ENOMEM;
    /* Neighbours (sorted by host) mostly share their key: the last run found
     * is tried first (the scan's list: 43.1 M instructions with a lookup per
     * group and pass, 36.4 M with this). */
    port_run *run = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!run || !same_port(run->key, rest[i]))
            run = port_run_of(&r, rest[i]);
        if (!run)
            goto out;
        run->hosts += failing(rest[i], with_uncertain);
    }
    for (size_t i = 0; i < s->over_used; i++) {
        run = port_run_of(&r, &s->over[i]);
        if (!run)
            goto out;
        run->over = &s->over[i];
    }
    size_t strays[256] = {0}, stray_row[256];
    for (size_t i = 0; i < r.n; i++) {
        port_run *u = &r.run[i];
        u->stray = u->over && !u->hosts && failing(u->over, with_uncertain) &&
                   u->over->failed + (with_uncertain ? u->over->uncertain : 0) <= ROLLUP_HOSTS;
        strays[u->key->proto] += u->stray;
    }
    for (size_t i = 0; i < r.n; i++) {
        port_run *u = &r.run[i];
        u->stray = u->stray && strays[u->key->proto] > CLI_ROLLUP_PORTS; /* grouped, then */
        u->rolled = u->hosts > ROLLUP_HOSTS || (u->over && failing(u->over, with_uncertain));
        nrolled += u->rolled && !u->stray;
    }
    for (unsigned p = 0; p < 256; p++)
        nrolled += strays[p] > CLI_ROLLUP_PORTS;
    rolled = malloc(nrolled * sizeof *rolled + 1); /* + 1: never malloc(0) */
    if (!rolled)
        goto out;
    nrolled = 0;
    for (unsigned p = 0; p < 256; p++) {
        if (strays[p] <= CLI_ROLLUP_PORTS)
            continue;
        stray_row[p] = nrolled;
        rolled[nrolled++] =
            (cli_dest_row){.d.proto = (uint8_t)p, .ports = strays[p], .more_hosts = true};
    }
    for (size_t i = 0; i < r.n; i++) {
        port_run *u = &r.run[i];
        if (u->stray) {
            u->row = stray_row[u->key->proto];
            roll_into(&rolled[u->row], u->over);
            continue;
        }
        if (!u->rolled)
            continue;
        u->row = nrolled;
        cli_dest_row *row = &rolled[nrolled++];
        *row = rollup_of(u->key);
        row->hosts = u->hosts;
        row->d.ip_version = 0;
        memset(row->d.addr, 0, sizeof row->d.addr);
        if (u->over) {
            /* failing hosts past the bound: how many is not known */
            row->more_hosts = failing(u->over, with_uncertain);
            roll_into(row, u->over);
        }
    }
    run = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!run || !same_port(run->key, rest[i]))
            run = &r.run[*port_slot(&r, rest[i]) - 1]; /* every key has its run */
        if (run->rolled)
            roll_into(&rolled[run->row], rest[i]);
        else if (failing(rest[i], with_uncertain))
            offer(k, &(cli_dest_row){.d = *rest[i]});
    }
    for (size_t i = 0; i < nrolled; i++)
        offer(k, &rolled[i]);
    rc = 0;
out:
    free(rolled);
    free(r.run);
    free(r.slot);
    return rc;
}

_Static_assert(CLI_SUMMARY_MAX_DESTS <= 65536u, "a group's index is 16 bits of the sort word");

/* 32 bits that an IPv4 host's groups share: its address; an IPv6 one's, a
 * hash of its address. The protocol is not in it. */
static uint32_t host_key(const cli_dest *d)
{
    if (d->ip_version == 4)
        return tt__be32_at(d->addr);
    uint64_t a0, a1;
    memcpy(&a0, d->addr, 8);
    memcpy(&a1, d->addr + 8, 8);
    return (uint32_t)(tt__mix64(a0 ^ tt__mix64(a1 ^ d->ip_version)) >> 32);
}

/* The groups in the order of the host pass: each host's (version, address,
 * protocol) groups together, by port; the hosts in no order that matters.
 * The sort runs on 64-bit words, not on the groups: a word is the group's
 * host key, port and index, sorted by radix, the bytes that never differ
 * skipped. The groups of one key's run are then sorted by the groups
 * themselves when the run holds more than one host (one address with two
 * protocols; two IPv6 addresses of one hash). A scan's 65 536 groups
 * (callgrind, the first 100 000 packets of synscan-eth): qsort of the groups
 * 22.7 M instructions, this 6.6 M; the whole list 32.0 M, now 15.6 M. NULL
 * when out of memory. */
static const cli_dest **by_host_order(const cli_summary *s)
{
    size_t n = s->dest_used;
    uint64_t *w = malloc(n * sizeof *w), *tmp = malloc(n * sizeof *tmp);
    if (!w || !tmp) {
        free(w);
        free(tmp);
        return NULL;
    }
    size_t count[6][256] = {{0}}; /* bytes 2..7 of the words; bytes 0..1 are the index */
    for (size_t i = 0; i < n; i++) {
        const cli_dest *d = &s->dest[i];
        w[i] = (uint64_t)host_key(d) << 32 | (uint64_t)d->port << 16 | i;
        for (unsigned b = 0; b < 6; b++)
            count[b][w[i] >> (16 + 8 * b) & 0xff]++;
    }
    for (unsigned b = 0; b < 6; b++) {
        unsigned shift = 16 + 8 * b;
        if (count[b][w[0] >> shift & 0xff] == n)
            continue; /* every word has this byte: nothing to order */
        size_t at = 0;
        for (unsigned v = 0; v < 256; v++) {
            size_t c = count[b][v];
            count[b][v] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[b][w[i] >> shift & 0xff]++] = w[i];
        uint64_t *t = w;
        w = tmp;
        tmp = t;
    }
    free(tmp);
    /* after tmp is freed: two arrays at most at once, as qsort's buffer and all were */
    const cli_dest **all = malloc(n * sizeof *all);
    if (!all) {
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = &s->dest[w[i] & 0xffff];
    for (size_t i = 0, j; i < n; i = j) {
        bool one = true; /* one host in the key's run */
        for (j = i + 1; j < n && w[j] >> 32 == w[i] >> 32; j++)
            one = one && same_host(all[i], all[j]) == 0;
        if (!one)
            qsort(all + i, j - i, sizeof *all, by_host);
    }
    free(w);
    return all;
}

/* Every group in by_host_order; each host and protocol's run whose
 * failing groups are more than CLI_ROLLUP_PORTS gives one row counting every
 * group of the run. The groups of the other runs go to offer_by_port. A
 * group is in one row at most. Linear after the sort, so a scan of many
 * hosts costs no pass over all groups per host. */
int cli_summary_failing(cli_summary *s, bool with_uncertain, size_t top, cli_dest_row **rows_out,
                        size_t *n_out)
{
    cli_summary_flush(s);
    *rows_out = NULL;
    *n_out = 0;
    size_t n = 0; /* rows at most: a failing group, or a failing key past the bound, each */
    for (size_t i = 0; i < s->dest_used; i++)
        n += failing(&s->dest[i], with_uncertain);
    for (size_t i = 0; i < s->over_used; i++)
        n += failing(&s->over[i], with_uncertain);
    if (!n)
        return 0;
    /* Only the rows listed are kept: all of them were 8 MiB for a scan's
     * 65 536 groups, of which the summary prints 10. */
    ranked k = {.top = n < top ? n : top};
    const cli_dest **all = s->dest_used ? by_host_order(s) : NULL;
    k.rows = k.top ? malloc(k.top * sizeof *k.rows) : NULL;
    if ((s->dest_used && !all) || (k.top && !k.rows)) {
        free(all);
        free(k.rows);
        return TT_ENOMEM;
    }
    size_t rest = 0, rest_fails = 0; /* groups left for the port pass, at the front of all */
    for (size_t i = 0, j; i < s->dest_used; i = j) {
        size_t fails = 0, ports = 0;
        const cli_dest *prev = NULL;
        for (j = i; j < s->dest_used && same_host(all[i], all[j]) == 0; j++) {
            if (!failing(all[j], with_uncertain))
                continue;
            fails++;
            ports += !prev || prev->port != all[j]->port; /* one port, several services */
            prev = all[j];
        }
        if (fails <= CLI_ROLLUP_PORTS) {
            for (size_t m = i; m < j; m++)
                all[rest++] = all[m]; /* rest <= m: nothing unread is overwritten */
            rest_fails += fails;
            continue;
        }
        cli_dest_row r = rollup_of(all[i]);
        r.ports = ports;
        r.d.port = 0;
        r.d.service = NULL;
        for (size_t m = i; m < j; m++)
            roll_into(&r, all[m]);
        offer(&k, &r);
    }
    int rc = offer_by_port(&k, all, rest, rest_fails, s, with_uncertain);
    free(all);
    if (rc < 0) {
        free(k.rows);
        return rc;
    }
    if (k.kept)
        qsort(k.rows, k.kept, sizeof *k.rows, dest_rank);
    *rows_out = k.rows;
    *n_out = k.total;
    return 0;
}

void cli_dest_row_who(const cli_dest_row *r, char *buf, size_t len)
{
    if (r->more_hosts) /* at least one host past the bound, whatever the count kept */
        snprintf(buf, len, "%zu+ hosts", r->hosts ? r->hosts : 1);
    else if (r->hosts)
        snprintf(buf, len, "%zu hosts", r->hosts);
    else if (!inet_ntop(r->d.ip_version == 6 ? AF_INET6 : AF_INET, r->d.addr, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

static void print_destinations(FILE *out, cli_summary *s)
{
    cli_dest_row *rows;
    size_t n;
    if (cli_summary_failing(s, false, TOP_DESTINATIONS, &rows, &n) < 0) {
        fprintf(out, "failing destinations: out of memory listing them\n");
        return;
    }
    if (!n)
        return;
    size_t shown = n < TOP_DESTINATIONS ? n : TOP_DESTINATIONS;

    char addr[TOP_DESTINATIONS][INET6_ADDRSTRLEN], where[TOP_DESTINATIONS][32];
    char what[TOP_DESTINATIONS][48];
    int wa = 0, ww = 0, ws = 0;
    for (size_t i = 0; i < shown; i++) {
        const cli_dest *d = &rows[i].d;
        cli_dest_row_who(&rows[i], addr[i], sizeof addr[i]);
        if (rows[i].ports) {
            snprintf(where[i], sizeof where[i], "%s/*", cli_proto_name(d->proto));
            snprintf(what[i], sizeof what[i], "(%zu ports)", rows[i].ports);
        } else {
            snprintf(where[i], sizeof where[i], "%s/%u", cli_proto_name(d->proto),
                     (unsigned)d->port);
            snprintf(what[i], sizeof what[i], "%s", d->service ? d->service : "-");
        }
        int la = (int)strlen(addr[i]), lw = (int)strlen(where[i]), ls = (int)strlen(what[i]);
        wa = la > wa ? la : wa;
        ww = lw > ww ? lw : ww;
        ws = ls > ws ? ls : ws;
    }
    fprintf(out, "failing destinations:\n");
    for (size_t i = 0; i < shown; i++) {
        const cli_dest *d = &rows[i].d;
        fprintf(out, "  %-*s  %-*s %-*s ", wa, addr[i], ww, where[i], ws, what[i]);
        const char *sep = " ";
        for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
            if (!d->by_verdict[v])
                continue;
            fprintf(out, "%s%s %" PRIu32, sep, tt_verdict_name((tt_verdict)v), d->by_verdict[v]);
            sep = ", ";
        }
        fprintf(out, " of %" PRIu64, d->flows);
        if (d->uncertain)
            fprintf(out, " (+%" PRIu64 " uncertain)", d->uncertain);
        fputc('\n', out);
    }
    if (n > shown)
        fprintf(out, "  ... and %zu more destination%s with failures\n", n - shown,
                n - shown == 1 ? "" : "s");
    free(rows);
}

static void print_capture(FILE *out, const tt_analyzer_stats *st)
{
    fprintf(out, "capture: %" PRIu64 " packet%s lost", st->loss_reported,
            st->loss_reported == 1 ? "" : "s");
    if (st->ts_backwards)
        fprintf(out, ", %" PRIu64 " timestamp%s went backwards", st->ts_backwards,
                st->ts_backwards == 1 ? "" : "s");
    fputs("; decoder events:", out);
    bool any = false;
    for (unsigned e = 0; e < TT_EV_COUNT; e++) {
        if (!st->events[e])
            continue;
        fprintf(out, "%s %s %" PRIu64, any ? "," : "", tt_event_name((tt_event)e), st->events[e]);
        any = true;
    }
    fputs(any ? "\n" : " none\n", out);
}

void cli_summary_print(cli_summary *s, const cli_summary_source *src, const tt_analyzer_stats *st,
                       FILE *out)
{
    cli_summary_flush(s);
    fprintf(out, "%s: %s (%s, %" PRIu64 " packet%s", src->command, src->name, src->linktype,
            src->records, src->records == 1 ? "" : "s");
    if (src->bpf)
        fprintf(out, ", %" PRIu64 " matching '%s'", src->matched, src->bpf);
    if (st && st->packets) {
        fputs(", ", out);
        print_duration(out, st->last_us > st->first_us ? st->last_us - st->first_us : 0);
        print_span(out, st->first_us, st->last_us);
    }
    fputs(")\n", out);
    if (src->stopped)
        fprintf(out, "incomplete: %s\n", src->stopped);

    fprintf(out, "flows: %" PRIu64, s->flows);
    if (s->flows) {
        fputs(" (", out);
        bool first = true;
        for (int pc = 0; pc < CLI_P_COUNT; pc++) {
            if (!s->by_proto[pc] && pc == CLI_P_OTHER)
                continue;
            fprintf(out, "%s%s %" PRIu64, first ? "" : ", ", class_names[pc], s->by_proto[pc]);
            first = false;
        }
        fputc(')', out);
    }
    fputc('\n', out);
    for (int pc = 0; pc < CLI_P_COUNT; pc++)
        print_class(out, s, pc);

    print_destinations(out, s);
    if (s->uncertain_total) {
        char why[256];
        textbuf t = {why, sizeof why, 0};
        why[0] = '\0';
        add_reasons(&t, s);
        fprintf(out, "uncertain failures (not counted as breakage): %" PRIu64 " — %s\n",
                s->uncertain_total, why);
    }
    if (s->late_replies)
        fprintf(out,
                "late replies: %" PRIu64 " came after their flow was judged (the deadline "
                "may be too short for this network)\n",
                s->late_replies);
    if (s->oom)
        fprintf(out,
                "note: out of memory, or more than %u ports past the summary's %u "
                "destinations: the list of failing destinations is incomplete\n",
                CLI_SUMMARY_MAX_OVER, CLI_SUMMARY_MAX_DESTS);
    else if (s->full)
        fprintf(out,
                "note: more than %u destinations: those past them are counted by port and "
                "service alone (rows \"N+ hosts\")\n",
                CLI_SUMMARY_MAX_DESTS);
    if (st) {
        print_capture(out, st);
        /* Zeek warns about this too: offloaded or rewritten captures carry
         * wrong checksums, and ignoring those packets fakes failures. */
        uint64_t bad = st->events[TT_EV_TCP_CHECKSUM_BAD] + st->events[TT_EV_UDP_CHECKSUM_BAD];
        if (bad && (bad * 20 >= st->ip_packets || s->failed))
            fprintf(
                out,
                "note: %" PRIu64 " of %" PRIu64 " IP packets had bad TCP/UDP checksums and "
                "were ignored (checksum offload, or an edited capture?): drop --verify-checksums\n",
                bad, st->ip_packets);
    }

    char verdict[512];
    cli_summary_judge(s, verdict, sizeof verdict);
    fprintf(out, "verdict: %s\n", verdict);
}
