/* dash_agg.c - the dashboard's verdict aggregates: per protocol and per destination.
 *
 * The judge hook runs on the analysis thread; the host thread copies the
 * aggregates under the same mutex (dash_agg_snapshot) and builds its rows
 * outside it. A flow is counted once, when first judged (old verdict
 * PENDING); a re-judge moves it from its old verdict and certainty to the
 * new ones. The destination key (resp_h, proto, port) never changes during
 * a flow's life, so the move always lands in the group the flow was counted
 * in; its service can change (nDPI classifies late), so the service is an
 * attribute of the group (the first one seen), not part of the key.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/dash_int.h"

#define DEFAULT_MAX_GROUPS 4096
#define FIRST_CAP 256

int dash_agg_init(dash_agg *g, size_t max_groups)
{
    memset(g, 0, sizeof *g);
    g->max = max_groups ? max_groups : DEFAULT_MAX_GROUPS;
    g->slot = calloc(FIRST_CAP, sizeof *g->slot);
    if (!g->slot)
        return TT_ENOMEM;
    g->cap = FIRST_CAP;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g->slot);
        g->slot = NULL;
        return TT_ENOMEM;
    }
    return 0;
}

void dash_agg_free(dash_agg *g)
{
    if (!g->slot)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g->slot);
    g->slot = NULL;
    cli_strtab_free(&g->strings);
}

static uint64_t group_hash(uint8_t proto, uint16_t port, const uint8_t *addr, size_t alen)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    h = (h ^ proto) * 0x100000001b3ull;
    h = (h ^ (uint8_t)(port >> 8)) * 0x100000001b3ull;
    h = (h ^ (uint8_t)port) * 0x100000001b3ull;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ addr[i]) * 0x100000001b3ull;
    return h;
}

static bool same_key(const dash_group *e, uint8_t ipv, uint8_t proto, uint16_t port,
                     const uint8_t *addr)
{
    return e->ip_version == ipv && e->proto == proto && e->port == port &&
           memcmp(e->addr, addr, 16) == 0;
}

/* Doubles the table. Returns false (table unchanged) when out of memory. */
static bool grow(dash_agg *g)
{
    size_t ncap = g->cap * 2;
    dash_group *n = calloc(ncap, sizeof *n);
    if (!n)
        return false;
    for (size_t i = 0; i < g->cap; i++) {
        const dash_group *e = &g->slot[i];
        if (!e->used)
            continue;
        size_t alen = e->ip_version == 4 ? 4 : 16;
        size_t j = (size_t)group_hash(e->proto, e->port, e->addr, alen) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = *e;
    }
    free(g->slot);
    g->slot = n;
    g->cap = ncap;
    return true;
}

/* The group of c, created when new; the protocol's "other" bucket when the
 * table is at max_groups (or memory ran out). Called under the lock. */
static dash_group *group_of(dash_agg *g, const tt_conn *c, int pc)
{
    uint8_t addr[16] = {0};
    size_t alen = c->ip_version == 4 ? 4 : 16;
    memcpy(addr, c->resp_h, alen);
    uint16_t port = (pc == CLI_P_ICMP) ? c->orig_p : c->resp_p;
    size_t j = (size_t)group_hash(c->proto, port, addr, alen) & (g->cap - 1);
    while (g->slot[j].used) {
        if (same_key(&g->slot[j], c->ip_version, c->proto, port, addr))
            return &g->slot[j];
        j = (j + 1) & (g->cap - 1);
    }
    if (g->used >= g->max)
        return &g->other[pc];
    if ((g->used + 1) * 2 > g->cap) {
        if (!grow(g))
            return &g->other[pc];
        return group_of(g, c, pc); /* find the free slot in the new table */
    }
    dash_group *e = &g->slot[j];
    e->used = true;
    e->ip_version = c->ip_version;
    e->proto = c->proto;
    e->port = port;
    memcpy(e->addr, addr, 16);
    g->used++;
    return e;
}

static void dec64(uint64_t *v)
{
    if (*v)
        (*v)--;
}

void dash_agg_judge(dash_agg *g, const tt_conn *c, tt_verdict old, tt_certainty old_cert)
{
    int pc = cli_proto_class(c->proto);
    tt_verdict v = c->verdict < TT_VERDICT_COUNT ? c->verdict : TT_VERDICT_OTHER;
    bool first = old == TT_VERDICT_PENDING;
    if (old >= TT_VERDICT_COUNT)
        old = TT_VERDICT_OTHER;
    const char *svc = c->service ? c->service : c->l7;

    pthread_mutex_lock(&g->lock);
    g->changes++;
    dash_group *e = group_of(g, c, pc);
    if (first) {
        g->judged++;
        e->flows++;
    } else {
        dec64(&g->count[pc][old]);
        if (old_cert == TT_UNCERTAIN)
            dec64(&g->uncertain[pc][old]);
        if (e->by_verdict[old])
            e->by_verdict[old]--;
        if (tt_verdict_is_failure(old))
            dec64(old_cert == TT_UNCERTAIN ? &e->uncertain : &e->failed);
    }
    g->count[pc][v]++;
    e->by_verdict[v]++;
    if (c->certainty == TT_UNCERTAIN)
        g->uncertain[pc][v]++;
    if (tt_verdict_is_failure(v))
        (*(c->certainty == TT_UNCERTAIN ? &e->uncertain : &e->failed))++;
    if (!e->service && svc && !e->other)
        e->service = cli_strtab_intern(&g->strings, svc); /* NULL when out of memory */
    pthread_mutex_unlock(&g->lock);
}

/* ---- snapshots (host thread) ------------------------------------------- */

int dash_agg_snapshot(dash_agg *g, dash_snap *s)
{
    pthread_mutex_lock(&g->lock);
    if (s->groups && s->changes == g->changes) {
        pthread_mutex_unlock(&g->lock);
        return 1; /* nothing judged since the last copy */
    }
    size_t need = g->used + CLI_P_COUNT;
    if (need > s->cap) {
        size_t ncap = s->cap ? s->cap : 64;
        while (ncap < need)
            ncap *= 2;
        /* Allocating under the lock stalls the judge hook once per growth only. */
        dash_group *n = realloc(s->groups, ncap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&g->lock);
            return TT_ENOMEM;
        }
        s->groups = n;
        s->cap = ncap;
    }
    memcpy(s->count, g->count, sizeof s->count);
    memcpy(s->uncertain, g->uncertain, sizeof s->uncertain);
    s->judged = g->judged;
    s->changes = g->changes;
    size_t n = 0;
    for (size_t i = 0; i < g->cap; i++)
        if (g->slot[i].used)
            s->groups[n++] = g->slot[i];
    s->overflow = false;
    for (int p = 0; p < CLI_P_COUNT; p++) {
        if (g->other[p].flows) {
            s->groups[n] = g->other[p];
            s->groups[n].other = true;
            s->groups[n].proto = p == CLI_P_TCP ? 6 : p == CLI_P_UDP ? 17 : p == CLI_P_ICMP ? 1 : 0;
            n++;
            s->overflow = true;
        }
    }
    s->ngroups = n;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

void dash_snap_free(dash_snap *s)
{
    free(s->groups);
    memset(s, 0, sizeof *s);
}

/* ---- rows -------------------------------------------------------------- */

void dash_where(uint8_t proto, uint16_t port, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%u", cli_proto_name(proto), (unsigned)port);
}

static bool icontains(const char *hay, const char *needle)
{
    if (!*needle)
        return true;
    for (; *hay; hay++) {
        size_t i = 0;
        while (needle[i] && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (!needle[i])
            return true;
    }
    return false;
}

static void set_worst(dash_row *r)
{
    uint64_t best = 0;
    r->worst = TT_VERDICT_PENDING;
    for (int v = 0; v < TT_VERDICT_COUNT; v++)
        if (tt_verdict_is_failure((tt_verdict)v) && r->by_verdict[v] > best) {
            best = r->by_verdict[v];
            r->worst = (tt_verdict)v;
        }
}

static void fill_row(dash_row *r, const dash_group *e)
{
    memset(r, 0, sizeof *r);
    r->ip_version = e->ip_version;
    r->proto = e->proto;
    r->port = e->port;
    r->other = e->other;
    memcpy(r->addr, e->addr, 16);
    r->service = e->service;
    r->flows = e->flows;
    r->failed = e->failed;
    r->uncertain = e->uncertain;
    for (int v = 0; v < TT_VERDICT_COUNT; v++)
        r->by_verdict[v] = e->by_verdict[v];
    if (e->other) {
        snprintf(r->name, sizeof r->name, "(other destinations)");
        snprintf(r->where, sizeof r->where, "%s", cli_proto_name(e->proto));
    } else {
        inet_ntop(e->ip_version == 4 ? AF_INET : AF_INET6, e->addr, r->name, sizeof r->name);
        dash_where(e->proto, e->port, r->where, sizeof r->where);
    }
    set_worst(r);
}

static bool row_matches(const dash_row *r, const char *filter)
{
    if (!*filter)
        return true;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)r->port);
    return icontains(r->name, filter) || icontains(r->where, filter) ||
           (!r->other && strcmp(port, filter) == 0) ||
           (r->service && icontains(r->service, filter));
}

/* The service label of a destination: its service, else proto/port. */
static const char *svc_label(const dash_row *r)
{
    if (r->other)
        return r->service ? r->service : "(other)";
    return r->service ? r->service : r->where;
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
    return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_name_dest(const dash_row *a, const dash_row *b)
{
    if (a->other != b->other)
        return a->other ? 1 : -1;
    if (a->ip_version != b->ip_version)
        return a->ip_version < b->ip_version ? -1 : 1;
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    return a->port < b->port ? -1 : a->port > b->port ? 1 : 0;
}

static int g_sort; /* qsort has no context argument; only the host thread sorts */

static int cmp_rows(const dash_row *a, const dash_row *b, bool dest)
{
    int c = 0;
    switch (g_sort) {
    case DASH_SORT_FAILURES:
        if ((c = cmp_u64_desc(a->failed, b->failed)) ||
            (c = cmp_u64_desc(a->uncertain, b->uncertain)) ||
            (c = cmp_u64_desc(a->flows, b->flows)))
            return c;
        break;
    case DASH_SORT_FLOWS:
        if ((c = cmp_u64_desc(a->flows, b->flows)) || (c = cmp_u64_desc(a->failed, b->failed)))
            return c;
        break;
    default:
        break;
    }
    return dest ? cmp_name_dest(a, b) : strcmp(a->name, b->name);
}

static int cmp_dest(const void *x, const void *y)
{
    return cmp_rows(x, y, true);
}

static int cmp_svc(const void *x, const void *y)
{
    return cmp_rows(x, y, false);
}

static int cmp_label(const void *x, const void *y)
{
    return strcmp(svc_label(x), svc_label(y));
}

static int cmp_host_port(const void *x, const void *y)
{
    return cmp_name_dest(x, y);
}

static bool same_host(const dash_row *a, const dash_row *b)
{
    return !a->other && !b->other && a->ip_version == b->ip_version && a->proto == b->proto &&
           memcmp(a->addr, b->addr, 16) == 0;
}

/* Rolls each host's ports of one protocol into one row where more than
 * CLI_ROLLUP_PORTS of them have certain failures (the rows sorted by host
 * first). Returns the number of rows left, in place. */
static size_t roll_up_hosts(dash_row *rows, size_t n)
{
    qsort(rows, n, sizeof *rows, cmp_host_port);
    size_t out = 0;
    for (size_t i = 0, j; i < n; i = j) {
        uint32_t failing = 0;
        for (j = i; j < n && (j == i || same_host(&rows[i], &rows[j])); j++)
            failing += rows[j].failed > 0;
        if (failing <= CLI_ROLLUP_PORTS) {
            memmove(&rows[out], &rows[i], (j - i) * sizeof *rows); /* out <= i */
            out += j - i;
            continue;
        }
        dash_row r = rows[i];
        r.port = 0;
        r.ports = failing;
        r.service = NULL;
        snprintf(r.where, sizeof r.where, "%s/*", cli_proto_name(r.proto));
        for (size_t m = i + 1; m < j; m++) {
            r.flows += rows[m].flows;
            r.failed += rows[m].failed;
            r.uncertain += rows[m].uncertain;
            for (int v = 0; v < TT_VERDICT_COUNT; v++)
                r.by_verdict[v] += rows[m].by_verdict[v];
        }
        set_worst(&r);
        rows[out++] = r;
    }
    return out;
}

static bool reserve(dash_row **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    dash_row *n = realloc(*v, ncap * sizeof *n);
    if (!n)
        return false;
    *v = n;
    *cap = ncap;
    return true;
}

int dash_rows_build(const dash_snap *s, const char *filter, int sort, dash_row **dest,
                    size_t *ndest, size_t *dest_cap, dash_row **svc, size_t *nsvc, size_t *svc_cap)
{
    if (!reserve(dest, dest_cap, s->ngroups + 1) || !reserve(svc, svc_cap, s->ngroups + 1))
        return TT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < s->ngroups; i++) {
        fill_row(&(*dest)[n], &s->groups[i]);
        if (row_matches(&(*dest)[n], filter))
            n++;
    }
    *ndest = n;

    /* Services: the filtered destinations grouped by their service label. */
    qsort(*dest, n, sizeof **dest, cmp_label);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const dash_row *r = &(*dest)[i];
        const char *label = svc_label(r);
        if (m && strcmp((*svc)[m - 1].name, label) == 0) {
            dash_row *t = &(*svc)[m - 1];
            t->flows += r->flows;
            t->failed += r->failed;
            t->uncertain += r->uncertain;
            continue;
        }
        dash_row *t = &(*svc)[m++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", label);
        t->flows = r->flows;
        t->failed = r->failed;
        t->uncertain = r->uncertain;
        t->worst = TT_VERDICT_PENDING;
    }
    *nsvc = m;
    *ndest = roll_up_hosts(*dest, n);
    n = *ndest;

    g_sort = sort;
    qsort(*dest, n, sizeof **dest, cmp_dest);
    qsort(*svc, m, sizeof **svc, cmp_svc);
    return 0;
}
