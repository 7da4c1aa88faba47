/* analyzer.c - the dissector's main loop: decode, find the flow, update its
 * state, judge it when its deadline passes, report it when it ends.
 *
 * Everything is allocated in tt_analyzer_open: a pool of max_flows flows, a
 * hash of flow indices, the nDPI module and its per-flow pool. The packet
 * path allocates nothing and makes no system call. Time comes only from
 * packet timestamps (and tt_analyzer_advance), never from the clock, so a
 * replay gives the same answer as the live run it recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/alloc.h"
#include "analyze/errbuf.h"
#include "analyze/flow.h"
#include "analyze/icmp.h"
#include "analyze/mix.h"

#define US 1000000ull
#define MS 1000ull

enum { DPI_MAX_TCP_PKTS = 80, DPI_MAX_UDP_PKTS = 24 };

/* When every nDPI slot is taken, a flow that has sent nothing for this long
 * gives its slot up (classified from what nDPI saw, or guessed) to a new
 * flow. Without it, flows nDPI cannot name (a UDP request never answered,
 * an unknown port) hold their slot until they expire, 60 s for UDP, and a
 * busy network's later flows go unclassified. */
#define DPI_IDLE_US (2 * US)

void tt_analyzer_config_init(tt_analyzer_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_flows = 16384;
    cfg->max_dpi_flows = 1024;
    cfg->enable_dpi = true;
    cfg->dpi_first_name = false;
    cfg->verify_checksums = false;
    cfg->udp_reply_deadline_ms = 5000;
    cfg->dns_reply_deadline_ms = 5000;
    cfg->tcp_attempt_deadline_ms = 5000;
    cfg->tcp_ack_deadline_ms = 5000;
    cfg->icmp_reply_deadline_ms = 5000;
    cfg->tcp_timeout_s = 300;
    cfg->tcp_setup_timeout_s = 60;
    cfg->udp_timeout_s = 60;
    cfg->icmp_timeout_s = 60;
    cfg->tcp_close_linger_ms = 5000;
    cfg->prefault = true;
}

/* Buckets in use at open; grow_buckets doubles them as flows come. */
#define BUCKETS_MIN 1024u

static uint32_t pow2_at_least(size_t n)
{
    uint32_t v = 1;
    while (v < n && v < (1u << 30))
        v <<= 1;
    return v;
}

size_t tt_analyzer_memsize(const tt_analyzer_config *cfg)
{
    size_t n = sizeof(tt_analyzer);
    n += cfg->max_flows * sizeof(tt__flow);
    n += (size_t)pow2_at_least(cfg->max_flows) * sizeof(uint32_t);
    if (cfg->enable_dpi)
        n += TT__NDPI_MODULE_ESTIMATE + cfg->max_dpi_flows * (tt__dpi_flow_bytes() + 4 + 12);
    return n;
}

static void logf_(tt_analyzer *a, int level, const char *msg)
{
    if (a->cfg.log)
        a->cfg.log(a->cfg.log_ctx, level, msg);
}

int tt_analyzer_open(tt_analyzer **out, const tt_analyzer_config *cfg_in, char *errbuf)
{
    tt_analyzer_config cfg = *cfg_in;
    tt_allocator al = cfg.allocator;
    *out = NULL;
    if (cfg.max_flows < 16 || cfg.max_flows > (1u << 28)) {
        tt__set_err(errbuf, "max_flows %zu out of range (16 .. 2^28)", cfg.max_flows);
        return TT_EINVAL;
    }
    if (cfg.memory_budget && tt_analyzer_memsize(&cfg) > cfg.memory_budget) {
        tt__set_err(errbuf, "configuration needs %zu bytes, over the %zu-byte memory budget",
                    tt_analyzer_memsize(&cfg), cfg.memory_budget);
        return TT_ENOMEM;
    }
    tt_analyzer *a = tt__alloc(&al, sizeof(*a));
    if (!a) {
        tt__set_err(errbuf, "cannot allocate the analyzer");
        return TT_ENOMEM;
    }
    a->cfg = cfg;
    a->al = al;
    a->max_flows = (uint32_t)cfg.max_flows;
    a->nbuckets = pow2_at_least(cfg.max_flows);
    a->flows = tt__alloc(&al, cfg.max_flows * sizeof(tt__flow));
    a->buckets = tt__alloc(&al, (size_t)a->nbuckets * sizeof(uint32_t));
    if (!a->flows || !a->buckets) {
        tt__set_err(errbuf, "cannot allocate a table of %zu flows", cfg.max_flows);
        tt_analyzer_close(a);
        return TT_ENOMEM;
    }
    a->mem_bytes =
        sizeof(*a) + cfg.max_flows * sizeof(tt__flow) + (size_t)a->nbuckets * sizeof(uint32_t);
    /* Only the buckets in use are cleared: the rest are set as the range
     * doubles (grow_buckets), so a small capture touches a small array. */
    a->bused = a->nbuckets < BUCKETS_MIN ? a->nbuckets : BUCKETS_MIN;
    memset(a->buckets, 0xff, (size_t)(cfg.prefault ? a->nbuckets : a->bused) * sizeof(uint32_t));
    /* Flows never used come from a bump index; released ones from a free
     * list. With prefault every page is touched now, so the packet path
     * never takes a page fault and the footprint is known from the start;
     * without it (a command-line replay) pages are touched as flows come. */
    a->free_head = TT__NIL;
    a->next_unused = 0;
    if (cfg.prefault)
        memset(a->flows, 0, cfg.max_flows * sizeof(tt__flow));
    for (int i = 0; i < TT__LC_N; i++)
        a->lists[i].head = a->lists[i].tail = TT__NIL;
    for (int i = 0; i < TT__JQ_N; i++)
        a->jq[i].head = a->jq[i].tail = TT__NIL;
    a->timeouts_us[TT__LC_TCP_SETUP] = (uint64_t)cfg.tcp_setup_timeout_s * US;
    a->timeouts_us[TT__LC_TCP_EST] = (uint64_t)cfg.tcp_timeout_s * US;
    a->timeouts_us[TT__LC_LINGER] = (uint64_t)cfg.tcp_close_linger_ms * MS;
    a->timeouts_us[TT__LC_UDP] = (uint64_t)cfg.udp_timeout_s * US;
    a->timeouts_us[TT__LC_ICMP] = (uint64_t)cfg.icmp_timeout_s * US;
    a->deadlines_us[TT__JQ_TCP_ATTEMPT] = (uint64_t)cfg.tcp_attempt_deadline_ms * MS;
    a->deadlines_us[TT__JQ_TCP_ACK] = (uint64_t)cfg.tcp_ack_deadline_ms * MS;
    a->deadlines_us[TT__JQ_UDP] = (uint64_t)cfg.udp_reply_deadline_ms * MS;
    a->deadlines_us[TT__JQ_DNS] = (uint64_t)cfg.dns_reply_deadline_ms * MS;
    a->deadlines_us[TT__JQ_ICMP] = (uint64_t)cfg.icmp_reply_deadline_ms * MS;
    a->uid_seed = 0x74756e6e656c74ull; /* deterministic uids: replays are comparable */
    if (cfg.enable_dpi) {
        size_t dpi_mem = 0;
        int rc = tt__dpi_open(&a->dpi, (uint32_t)cfg.max_dpi_flows, &al, errbuf, &dpi_mem);
        if (rc < 0) {
            tt_analyzer_close(a);
            return rc;
        }
        a->mem_bytes += dpi_mem;
        size_t nslots = cfg.max_dpi_flows ? cfg.max_dpi_flows : 1;
        a->dpi_owner = tt__alloc(&al, nslots * sizeof(uint32_t));
        a->dpi_prev = tt__alloc(&al, nslots * sizeof(uint32_t));
        a->dpi_next = tt__alloc(&al, nslots * sizeof(uint32_t));
        if (!a->dpi_owner || !a->dpi_prev || !a->dpi_next) {
            tt__set_err(errbuf, "cannot allocate %zu nDPI slot links", nslots);
            tt_analyzer_close(a);
            return TT_ENOMEM;
        }
        a->mem_bytes += 3 * nslots * sizeof(uint32_t);
    }
    a->dpi_lru.head = a->dpi_lru.tail = TT__NIL;
    a->st.memory_bytes = a->mem_bytes;
    a->st.flow_bytes = sizeof(tt__flow);
    *out = a;
    return 0;
}

void tt_analyzer_close(tt_analyzer *a)
{
    if (!a)
        return;
    tt__dpi_close(a->dpi);
    size_t nslots = a->cfg.max_dpi_flows ? a->cfg.max_dpi_flows : 1;
    tt__free(&a->al, a->dpi_owner, nslots * sizeof(uint32_t));
    tt__free(&a->al, a->dpi_prev, nslots * sizeof(uint32_t));
    tt__free(&a->al, a->dpi_next, nslots * sizeof(uint32_t));
    tt__free(&a->al, a->flows, a->cfg.max_flows * sizeof(tt__flow));
    tt__free(&a->al, a->buckets, (size_t)a->nbuckets * sizeof(uint32_t));
    tt_allocator al = a->al;
    tt__free(&al, a, sizeof(*a));
}

/* ---- lists ------------------------------------------------------------ */

/* When a flow at the head of its list falls due: its judge deadline, or the
 * end of its inactivity timeout. */
static uint64_t due_of(const tt_analyzer *a, const tt__flow *f, bool judge)
{
    return judge ? f->judge_at_us : f->last_us + a->timeouts_us[f->lclass];
}

/* Keeps next_due_us at or below every list head's due time, so that
 * tt_analyzer_advance can return at once while nothing is due. Only a new
 * head can lower the minimum: the first flow of an empty list, or the flow
 * after an unlinked head (expiry lists are not strictly ordered: a closed
 * connection keeps its last_us when it moves to the linger list). */
static void lower_due(tt_analyzer *a, uint64_t due)
{
    if (due < a->next_due_us)
        a->next_due_us = due;
}

static void list_unlink(tt_analyzer *a, tt__list *l, uint32_t idx, bool judge)
{
    tt__flow *f = &a->flows[idx];
    l->n--;
    uint32_t prev = judge ? f->jprev : f->lprev, next = judge ? f->jnext : f->lnext;
    if (prev != TT__NIL) {
        if (judge)
            a->flows[prev].jnext = next;
        else
            a->flows[prev].lnext = next;
    } else {
        l->head = next;
        if (next != TT__NIL)
            lower_due(a, due_of(a, &a->flows[next], judge));
    }
    if (next != TT__NIL) {
        if (judge)
            a->flows[next].jprev = prev;
        else
            a->flows[next].lprev = prev;
    } else {
        l->tail = prev;
    }
}

static void list_append(tt_analyzer *a, tt__list *l, uint32_t idx, bool judge)
{
    tt__flow *f = &a->flows[idx];
    l->n++;
    if (judge) {
        f->jprev = l->tail;
        f->jnext = TT__NIL;
    } else {
        f->lprev = l->tail;
        f->lnext = TT__NIL;
    }
    if (l->tail != TT__NIL) {
        if (judge)
            a->flows[l->tail].jnext = idx;
        else
            a->flows[l->tail].lnext = idx;
    } else {
        l->head = idx;
        lower_due(a, due_of(a, f, judge));
    }
    l->tail = idx;
}

/* nDPI slots in the order their flows were last fed (head: longest ago). */
static void slot_unlink(tt_analyzer *a, uint32_t s)
{
    uint32_t prev = a->dpi_prev[s], next = a->dpi_next[s];
    if (prev != TT__NIL)
        a->dpi_next[prev] = next;
    else
        a->dpi_lru.head = next;
    if (next != TT__NIL)
        a->dpi_prev[next] = prev;
    else
        a->dpi_lru.tail = prev;
}

static void slot_append(tt_analyzer *a, uint32_t s)
{
    a->dpi_prev[s] = a->dpi_lru.tail;
    a->dpi_next[s] = TT__NIL;
    if (a->dpi_lru.tail != TT__NIL)
        a->dpi_next[a->dpi_lru.tail] = s;
    else
        a->dpi_lru.head = s;
    a->dpi_lru.tail = s;
}

/* Ends a flow's classification and returns its slot to the pool. */
static void dpi_release(tt_analyzer *a, tt__flow *f, bool guess)
{
    slot_unlink(a, f->dpi_slot);
    tt__dpi_end(a->dpi, f->dpi_slot, guess, f->dpi_proto);
    f->dpi_slot = TT__NIL;
    a->st.dpi_active--;
}

/* Moves a flow to the tail of expiry list lc (it was just active). */
static void touch(tt_analyzer *a, uint32_t idx, uint8_t lc)
{
    tt__flow *f = &a->flows[idx];
    if (f->lclass == lc && a->lists[lc].tail == idx)
        return;
    list_unlink(a, &a->lists[f->lclass], idx, false);
    f->lclass = lc;
    list_append(a, &a->lists[lc], idx, false);
}

static void judge_queue(tt_analyzer *a, uint32_t idx, uint8_t jq, uint64_t from_us)
{
    tt__flow *f = &a->flows[idx];
    if (f->jclass != TT__JQ_NONE)
        list_unlink(a, &a->jq[f->jclass], idx, true);
    f->jclass = jq;
    f->judge_at_us = from_us + a->deadlines_us[jq];
    list_append(a, &a->jq[jq], idx, true);
}

static void judge_dequeue(tt_analyzer *a, uint32_t idx)
{
    tt__flow *f = &a->flows[idx];
    if (f->jclass != TT__JQ_NONE) {
        list_unlink(a, &a->jq[f->jclass], idx, true);
        f->jclass = TT__JQ_NONE;
    }
}

/* ---- damage log: when the capture itself lost or cut packets ------------ */

static void note_damage(tt_analyzer *a, uint64_t ts, uint16_t why)
{
    if (a->ndamage) {
        uint32_t last = (a->damage_next + TT__DAMAGE_SLOTS - 1) % TT__DAMAGE_SLOTS;
        tt__damage *d = &a->damage[last];
        if (d->why == why && ts >= d->from_us && ts <= d->to_us + US) {
            if (ts > d->to_us)
                d->to_us = ts;
            return;
        }
    }
    tt__damage *d = &a->damage[a->damage_next];
    d->from_us = d->to_us = ts;
    d->why = why;
    a->damage_next = (a->damage_next + 1) % TT__DAMAGE_SLOTS;
    if (a->ndamage < TT__DAMAGE_SLOTS)
        a->ndamage++;
}

static uint16_t damage_between(const tt_analyzer *a, uint64_t from, uint64_t to)
{
    uint16_t why = 0;
    for (uint32_t i = 0; i < a->ndamage; i++) {
        const tt__damage *d = &a->damage[i];
        if (d->to_us >= from && d->from_us <= to)
            why |= d->why;
    }
    return why;
}

void tt_analyzer_note_loss(tt_analyzer *a, uint64_t now_us, uint64_t count)
{
    if (!count)
        return;
    a->st.loss_reported += count;
    note_damage(a, now_us, TT_UNC_CAPTURE_LOSS);
}

/* ---- judging ----------------------------------------------------------- */

/* A flow nDPI could not name is guessed from its ports: the same answer
 * every time, and it cost more than the rest of the record (nDPI looks the
 * addresses up too, though it is given none). Guess once per flow. */
static void guess_once(tt_analyzer *a, tt__flow *f)
{
    if (a->dpi && !(f->flags & TT__F_GUESSED) && !f->dpi_proto[0] && !f->dpi_proto[1] &&
        (f->proto == 6 || f->proto == 17)) {
        tt__dpi_guess_ports(a->dpi, f->proto, f->port[0], f->port[1], f->guess);
        f->flags |= TT__F_GUESSED;
    }
}

static void build_conn(tt_analyzer *a, tt__flow *f, tt_conn *c)
{
    guess_once(a, f);
    tt__fill_conn(a, f, c);
}

static void build_brief(tt_analyzer *a, tt__flow *f, tt__brief *b)
{
    guess_once(a, f);
    tt__fill_brief(a, f, b);
}

void tt__analyzer_set_judgment_hook(tt_analyzer *a, tt__judgment_fn fn, void *ctx)
{
    a->judgment_fn = fn;
    a->judgment_ctx = ctx;
}

void tt__analyzer_set_brief_hook(tt_analyzer *a, tt__brief_fn fn, void *ctx)
{
    a->brief_fn = fn;
    a->brief_ctx = ctx;
}

/* Computes the flow's verdict as of now and records any change. */
static void judge(tt_analyzer *a, uint32_t idx, uint64_t now, bool final)
{
    tt__flow *f = &a->flows[idx];
    tt_verdict old = (tt_verdict)f->verdict;
    tt_verdict v = tt__verdict(a, f, now, final);
    if (v == TT_VERDICT_PENDING)
        return;
    bool first = !(f->flags & TT__F_JUDGED);
    if (!first && v == old)
        return;
    uint8_t old_cert = f->certainty;
    if (first) {
        f->flags |= TT__F_JUDGED;
        /* A deadline judged late (at the next packet) happened at the deadline. */
        f->judged_us = (f->judge_at_us && f->judge_at_us < now) ? f->judge_at_us : now;
        judge_dequeue(a, idx);
    } else if (tt_verdict_is_failure(old) && !tt_verdict_is_failure(v)) {
        f->late++;
        a->st.late_replies++;
    }
    if (tt_verdict_is_failure(v)) {
        uint16_t why = f->unc_why & (TT_UNC_EVICTED | TT_UNC_MIDSTREAM);
        if (f->flags & TT__F_TRUNC)
            why |= TT_UNC_SNAPLEN;
        uint64_t until = f->judge_at_us > now ? f->judge_at_us : now;
        why |= damage_between(a, f->first_us, until);
        if (final && a->finished && f->judge_at_us > a->now_us)
            why |= TT_UNC_CAPTURE_END;
        f->unc_why = why;
        f->certainty = why ? TT_UNCERTAIN : TT_CERTAIN;
    } else {
        f->certainty = TT_CERTAINTY_NONE;
    }
    a->st.by_verdict[old]--;
    if (old_cert == TT_UNCERTAIN)
        a->st.uncertain_by_verdict[old]--;
    f->verdict = (uint8_t)v;
    a->st.by_verdict[v]++;
    if (f->certainty == TT_UNCERTAIN)
        a->st.uncertain_by_verdict[v]++;
    tt_verdict was = first ? TT_VERDICT_PENDING : old;
    tt_certainty was_cert = first ? TT_CERTAINTY_NONE : (tt_certainty)old_cert;
    if (a->cfg.on_judge) {
        tt_conn c;
        build_conn(a, f, &c);
        a->cfg.on_judge(a->cfg.judge_ctx, &c, was, was_cert);
    } else if (a->judgment_fn) {
        guess_once(a, f);
        tt__judgment j = {.ts_us = f->first_us,
                          .orig_pkts = f->pkts[0],
                          .service = tt__flow_service(a, f),
                          .proto = f->proto,
                          .verdict = (tt_verdict)f->verdict,
                          .certainty = (tt_certainty)f->certainty};
        a->judgment_fn(a->judgment_ctx, &j, was, was_cert);
    }
}

/* ---- flow table -------------------------------------------------------- */

/* One endpoint's hash: the address read as words (memcpy: no alignment
 * assumption), the port folded in, mixed once per 64 bits. */
static uint64_t side_hash(const uint8_t *addr, uint16_t port, size_t alen)
{
    if (alen == 4) {
        uint32_t w;
        memcpy(&w, addr, 4);
        return tt__mix64((uint64_t)w << 16 ^ port);
    }
    uint64_t w0, w1;
    memcpy(&w0, addr, 8);
    memcpy(&w1, addr + 8, 8);
    return tt__mix64(w0 ^ tt__mix64(w1 ^ port));
}

static uint32_t hash_key(const uint8_t *a1, uint16_t p1, const uint8_t *a2, uint16_t p2,
                         uint8_t proto, size_t alen, bool directional)
{
    /* Symmetric unless directional: combine each side's hash commutatively. */
    uint64_t h1 = side_hash(a1, p1, alen), h2 = side_hash(a2, p2, alen);
    uint64_t h = directional ? h1 * 31 + h2 : h1 + h2;
    h ^= proto;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* Addresses compared as words (memcpy: no alignment assumption), without a
 * call into memcmp for 4 or 16 bytes: the lookup's inner loop. */
static inline bool addr_eq(const uint8_t *x, const uint8_t *y, size_t alen)
{
    if (alen == 4) {
        uint32_t a, b;
        memcpy(&a, x, 4);
        memcpy(&b, y, 4);
        return a == b;
    }
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, x, 8);
    memcpy(&a1, x + 8, 8);
    memcpy(&b0, y, 8);
    memcpy(&b1, y + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Finds the flow of (src,sp)->(dst,dp); *is_orig says which side sent it. */
static uint32_t lookup(tt_analyzer *a, uint32_t h, uint8_t ver, uint8_t proto, const uint8_t *src,
                       uint16_t sp, const uint8_t *dst, uint16_t dp, bool directional,
                       bool *is_orig)
{
    size_t alen = ver == 4 ? 4 : 16;
    for (uint32_t i = a->buckets[h & (a->bused - 1)]; i != TT__NIL; i = a->flows[i].hnext) {
        tt__flow *f = &a->flows[i];
        if (f->proto != proto || f->ipver != ver)
            continue;
        if (((f->flags & TT__F_ONE_WAY_KEY) != 0) != directional)
            continue;
        if (f->port[0] == sp && f->port[1] == dp && addr_eq(f->addr[0], src, alen) &&
            addr_eq(f->addr[1], dst, alen)) {
            *is_orig = true;
            return i;
        }
        if (!directional && f->port[0] == dp && f->port[1] == sp &&
            addr_eq(f->addr[0], dst, alen) && addr_eq(f->addr[1], src, alen)) {
            *is_orig = false;
            return i;
        }
    }
    return TT__NIL;
}

static uint32_t flow_hash(const tt__flow *f)
{
    return hash_key(f->addr[0], f->port[0], f->addr[1], f->port[1], f->proto,
                    f->ipver == 4 ? 4 : 16, (f->flags & TT__F_ONE_WAY_KEY) != 0);
}

/* Doubles the buckets in use (linear hashing): each chain splits between
 * its bucket b and b + old by the next bit of its flows' hashes, keeping
 * its order. create keeps the buckets in use over four times the active
 * flows (up to nbuckets), so a lookup of a new flow (every packet of a
 * scan) mostly finds an empty chain in an array that fits the cache, not a
 * miss into one sized for max_flows (1 MiB for replay's 2^18: the bucket
 * load was 11 % of a SYN scan's samples). The range never shrinks; one
 * doubling walks the active flows once (a few ms at 2^16 flows). */
static void grow_buckets(tt_analyzer *a)
{
    uint32_t old = a->bused;
    for (uint32_t b = 0; b < old; b++) {
        uint32_t lo = TT__NIL, hi = TT__NIL, *lo_end = &lo, *hi_end = &hi;
        for (uint32_t i = a->buckets[b]; i != TT__NIL; i = a->flows[i].hnext) {
            uint32_t **end = flow_hash(&a->flows[i]) & old ? &hi_end : &lo_end;
            **end = i;
            *end = &a->flows[i].hnext;
        }
        *lo_end = *hi_end = TT__NIL;
        a->buckets[b] = lo;
        a->buckets[b + old] = hi;
    }
    a->bused = old * 2;
}

/* Reports a flow (final verdict, on_conn) and returns it to the pool.
 * judged: the caller has just judged it, with nothing seen since, so its
 * final verdict is the one it holds (a judged flow is due either way in
 * tt__verdict) and judging it again would only compute it twice. */
static void release(tt_analyzer *a, uint32_t idx, uint64_t now, bool judged)
{
    tt__flow *f = &a->flows[idx];
    if (f->dpi_slot != TT__NIL) {
        dpi_release(a, f, true);
        a->st.dpi_given_up++;
    }
    if (!judged || !(f->flags & TT__F_JUDGED))
        judge(a, idx, now, true);
    if (a->cfg.on_conn) {
        tt_conn c;
        build_conn(a, f, &c);
        a->cfg.on_conn(a->cfg.conn_ctx, &c);
    } else if (a->brief_fn) {
        tt__brief b;
        build_brief(a, f, &b);
        a->brief_fn(a->brief_ctx, &b);
    }
    a->st.flows_reported++;
    judge_dequeue(a, idx);
    list_unlink(a, &a->lists[f->lclass], idx, false);
    uint32_t *pp = &a->buckets[flow_hash(f) & (a->bused - 1)];
    while (*pp != idx && *pp != TT__NIL)
        pp = &a->flows[*pp].hnext;
    if (*pp == idx)
        *pp = f->hnext;
    f->hnext = a->free_head;
    a->free_head = idx;
    a->nactive--;
    a->st.flows_active = a->nactive;
}

static bool is_multicast(uint8_t ver, const uint8_t *addr)
{
    if (ver == 4)
        return (addr[0] & 0xf0) == 0xe0 || addr[3] == 255;
    return addr[0] == 0xff;
}

/* Evicts a flow because the table is full: when flows still in a TCP
 * handshake hold over half the table (a SYN flood or a scan), the least
 * recently active of those, so the connections that work stay; else the
 * least recently active flow of all. */
static void evict_one(tt_analyzer *a, uint64_t now)
{
    uint32_t victim = a->lists[TT__LC_TCP_SETUP].head;
    uint64_t oldest = UINT64_MAX;
    if (victim != TT__NIL && a->lists[TT__LC_TCP_SETUP].n > a->max_flows / 2) {
        a->flows[victim].unc_why |= TT_UNC_EVICTED;
        a->st.events[TT_EV_FLOW_EVICTED]++;
        release(a, victim, now, false);
        return;
    }
    victim = TT__NIL;
    for (int l = 0; l < TT__LC_N; l++) {
        uint32_t h = a->lists[l].head;
        if (h != TT__NIL && a->flows[h].last_us < oldest) {
            oldest = a->flows[h].last_us;
            victim = h;
        }
    }
    if (victim == TT__NIL)
        return;
    a->flows[victim].unc_why |= TT_UNC_EVICTED;
    a->st.events[TT_EV_FLOW_EVICTED]++;
    release(a, victim, now, false);
}

/* A flow for packet p, whose key hashes to h (hash_key: the lookup's). */
static uint32_t create(tt_analyzer *a, const tt__pkt *p, uint32_t h, bool flip, bool directional,
                       uint64_t now)
{
    if (a->free_head == TT__NIL && a->next_unused >= a->max_flows)
        evict_one(a, now);
    uint32_t idx = a->free_head;
    if (idx != TT__NIL) {
        a->free_head = a->flows[idx].hnext;
    } else if (a->next_unused < a->max_flows) {
        idx = a->next_unused++;
    } else {
        return TT__NIL;
    }
    tt__flow *f = &a->flows[idx];
    memset(f, 0, sizeof(*f));
    size_t alen = p->ipver == 4 ? 4 : 16;
    memcpy(f->addr[flip ? 1 : 0], p->src, alen);
    memcpy(f->addr[flip ? 0 : 1], p->dst, alen);
    f->port[flip ? 1 : 0] = p->sport;
    f->port[flip ? 0 : 1] = p->dport;
    f->proto = p->proto;
    f->ipver = p->ipver;
    f->first_us = f->last_us = now;
    f->serial = (uint32_t)++a->serial;
    f->dpi_slot = TT__NIL;
    f->jclass = TT__JQ_NONE;
    f->jprev = f->jnext = TT__NIL;
    if (directional)
        f->flags |= TT__F_ONE_WAY_KEY;
    if (is_multicast(p->ipver, f->addr[1]))
        f->flags |= TT__F_MULTICAST;
    if (flip)
        tt__hist_add(f, '^', true);
    if (a->nactive >= a->bused / 4 && a->bused < a->nbuckets)
        grow_buckets(a);
    /* At the chain's end: flows mostly leave oldest first, and release then
     * finds the flow at the chain's start instead of walking (a cache miss
     * per flow) past the newer ones. The walk here is over lines lookup has
     * just read. h is flow_hash(f): the key is symmetric unless directional,
     * and a directional (ICMP) flow is never flipped. */
    uint32_t *end = &a->buckets[h & (a->bused - 1)];
    while (*end != TT__NIL)
        end = &a->flows[*end].hnext;
    *end = idx;
    f->hnext = TT__NIL;
    f->lclass = p->proto == 6 ? TT__LC_TCP_SETUP : p->proto == 17 ? TT__LC_UDP : TT__LC_ICMP;
    list_append(a, &a->lists[f->lclass], idx, false);
    a->nactive++;
    a->st.flows_created++;
    a->st.flows_active = a->nactive;
    if (a->nactive > a->st.flows_peak)
        a->st.flows_peak = a->nactive;
    a->st.by_verdict[TT_VERDICT_PENDING]++;
    if (!a->dpi || (p->proto != 6 && p->proto != 17))
        f->flags |= TT__F_DPI_DONE;
    return idx;
}

/* Zeek's role guess for a connection whose first packet is not a pure SYN. */
static bool should_flip(const tt__pkt *p)
{
    if (p->proto == 6) {
        bool syn = p->tcp_flags & TT__TH_SYN, ack = p->tcp_flags & TT__TH_ACK;
        if (syn && !ack)
            return false;
        if (!tt__likely_server_port(6, p->sport))
            return false;
        if (tt__likely_server_port(6, p->dport))
            return !syn && p->sport < p->dport;
        return true;
    }
    if (p->proto == 17)
        return tt__likely_server_port(17, p->sport) && !tt__likely_server_port(17, p->dport);
    return false;
}

/* ---- time -------------------------------------------------------------- */

void tt_analyzer_advance(tt_analyzer *a, uint64_t now)
{
    if (now < a->now_us)
        return;
    a->now_us = now;
    if (now < a->next_due_us)
        return; /* no list head is due (see lower_due): the common case, per packet */
    /* The next due time is taken from each head as its loop leaves it. A
     * judge queue's head may still go later in this call (a flow released by
     * the expiry loops leaves its queue), but the queue is in deadline order
     * (one deadline a queue, from a clock that never goes back), so the head
     * after it is due no sooner: the bound stays at or below every head's due
     * time, as lower_due requires. Nothing is appended here. */
    uint64_t due = UINT64_MAX;
    /* Deadlines first: a flow is judged before it can expire. */
    for (int q = 1; q < TT__JQ_N; q++) {
        uint32_t idx;
        while ((idx = a->jq[q].head) != TT__NIL) {
            tt__flow *f = &a->flows[idx];
            if (f->judge_at_us > now) {
                due = f->judge_at_us < due ? f->judge_at_us : due;
                break;
            }
            judge_dequeue(a, idx);
            judge(a, idx, now, false);
            /* Zeek's attempt timer: an unanswered SYN's connection ends here,
             * and a later SYN on the tuple starts a new one. */
            if (q == TT__JQ_TCP_ATTEMPT &&
                (f->u.ep[0].state == TT__TCP_SYN_SENT ||
                 f->u.ep[0].state == TT__TCP_SYN_ACK_SENT) &&
                f->u.ep[1].state == TT__TCP_INACTIVE)
                release(a, idx, f->judge_at_us, true);
        }
    }
    for (int l = 0; l < TT__LC_N; l++) {
        uint32_t idx;
        while ((idx = a->lists[l].head) != TT__NIL) {
            uint64_t end = a->flows[idx].last_us + a->timeouts_us[l];
            if (end > now) {
                due = end < due ? end : due;
                break;
            }
            release(a, idx, now, false);
        }
    }
    a->next_due_us = due;
}

/* ---- packets ----------------------------------------------------------- */

/* An ICMP error quoting a packet of a tracked flow: evidence for that flow. */
static void icmp_error_evidence(tt_analyzer *a, const tt__pkt *p, uint64_t now)
{
    const tt__quote *q = &p->quote;
    bool one_way = false, is_orig;
    if (q->proto == 1 || q->proto == 58) {
        bool ow;
        tt__icmp_counterpart(q->proto, (uint8_t)q->sport, 0, &ow);
        one_way = ow;
    }
    size_t alen = q->ipver == 4 ? 4 : 16;
    uint32_t h = hash_key(q->src, q->sport, q->dst, q->dport, q->proto, alen, one_way);
    uint32_t idx =
        lookup(a, h, q->ipver, q->proto, q->src, q->sport, q->dst, q->dport, one_way, &is_orig);
    if (idx == TT__NIL) {
        a->st.events[TT_EV_ICMP_ERROR_UNMATCHED]++;
        return;
    }
    a->st.events[TT_EV_ICMP_ERROR_MATCHED]++;
    tt__flow *f = &a->flows[idx];
    if (!is_orig)
        return; /* the error quotes the responder's packet: not our request */
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    if (tt__icmp_is_unreach(p->proto, p->icmp_type))
        f->flags |= TT__F_ICMP_UNREACH;
    else
        f->flags |= TT__F_ICMP_ERR;
    judge(a, idx, now, false);
}

static void dpi_feed(tt_analyzer *a, tt__flow *f, const tt__pkt *p)
{
    if (f->dpi_slot == TT__NIL) {
        /* nDPI learns nothing from empty TCP segments: a flow takes nDPI
         * state at its first payload, so SYN floods and scans cost none. */
        if (p->proto == 6 && p->payload_len == 0)
            return;
        f->dpi_slot = tt__dpi_begin(a->dpi);
        uint32_t lru = a->dpi_lru.head;
        if (f->dpi_slot == TT__NIL && lru != TT__NIL &&
            a->flows[a->dpi_owner[lru]].last_us + DPI_IDLE_US <= p->ts_us) {
            /* every slot taken: the flow fed longest ago has gone quiet */
            tt__flow *idle = &a->flows[a->dpi_owner[lru]];
            dpi_release(a, idle, true);
            idle->flags |= TT__F_DPI_DONE;
            a->st.dpi_given_up++;
            f->dpi_slot = tt__dpi_begin(a->dpi);
        }
        if (f->dpi_slot == TT__NIL) {
            a->st.events[TT_EV_FLOW_DPI_POOL_EMPTY]++;
            f->flags |= TT__F_DPI_DONE;
            return;
        }
        a->st.dpi_active++;
        a->dpi_owner[f->dpi_slot] = (uint32_t)(f - a->flows);
    } else {
        slot_unlink(a, f->dpi_slot);
    }
    slot_append(a, f->dpi_slot);
    f->dpi_pkts++;
    /* Nor after it: an empty segment (a pure ACK, mostly) moves no nDPI state
     * once the flow's sequence numbers are set from its first payload, so it
     * only counts towards the budget, as ndpiReader counts it. */
    bool done = false;
    if (p->proto != 6 || p->payload_len != 0) {
        tt__dpi_state s =
            tt__dpi_feed(a->dpi, f->dpi_slot, p->l3, p->l3_cap, p->ts_us / 1000, f->dpi_proto);
        a->st.dpi_packets++;
        /* dpi_first_name: the name nDPI gives first is kept; what its extra
         * dissection would refine (now and then the name too) is not waited
         * for (docs/embedding.md). */
        done = s == TT__DPI_DONE || (s == TT__DPI_NAMED && a->cfg.dpi_first_name);
    }
    unsigned budget = f->proto == 6 ? DPI_MAX_TCP_PKTS : DPI_MAX_UDP_PKTS;
    if (done || f->dpi_pkts >= budget) {
        dpi_release(a, f, !done);
        f->flags |= TT__F_DPI_DONE;
        if (done)
            a->st.dpi_classified++;
        else
            a->st.dpi_given_up++;
    }
}

static void track(tt_analyzer *a, tt__pkt *p, uint64_t now, bool bad_checksum)
{
    bool directional = false, is_orig = true;
    if (p->proto == 1 || p->proto == 58) {
        bool ow;
        tt__icmp_counterpart(p->proto, p->icmp_type, p->icmp_code, &ow);
        directional = ow;
    }
    size_t alen = p->ipver == 4 ? 4 : 16;
    uint32_t h = hash_key(p->src, p->sport, p->dst, p->dport, p->proto, alen, directional);
    uint32_t idx =
        lookup(a, h, p->ipver, p->proto, p->src, p->sport, p->dst, p->dport, directional, &is_orig);
    if (idx != TT__NIL && p->proto == 6 && !bad_checksum &&
        tt__tcp_is_reuse(&a->flows[idx], p, is_orig)) {
        release(a, idx, now, false);
        idx = TT__NIL;
    }
    if (idx == TT__NIL) {
        bool flip = should_flip(p);
        idx = create(a, p, h, flip, directional, now);
        if (idx == TT__NIL)
            return;
        is_orig = !flip;
    }
    tt__flow *f = &a->flows[idx];
    int side = is_orig ? 0 : 1;
    a->st.flow_packets++;

    if (bad_checksum) {
        /* Zeek ignores the packet but notes it in history ('C'/'c'). */
        if (p->proto == 6) {
            tt__ep *e = &f->u.ep[side];
            e->badsum++;
            tt__hist_scaled(f, 'C', e->badsum, is_orig);
        } else {
            tt__hist_scaled(f, 'C', ++f->u.d.badsum[side], is_orig);
        }
        return;
    }
    /* A cut payload is normal (small snaplen); a cut ICMP quote is not. */
    if (p->l4_cut && (p->proto == 1 || p->proto == 58) && p->icmp_error && !p->has_quote)
        f->flags |= TT__F_TRUNC;

    f->pkts[side]++;
    uint32_t ipb = p->ip_len;
    if (p->frag_first && p->proto == 17 && !p->udp_len_bad)
        ipb = p->l4_off + p->payload_len + 8; /* the whole datagram, as reassembled */
    f->ip_bytes[side] += ipb;

    bool closed_before = false, unchanged = false;
    uint8_t lc = f->lclass;
    if (p->proto == 6) {
        tt__ep *o = &f->u.ep[0];
        closed_before = lc == TT__LC_LINGER;
        if (f->pkts[0] + f->pkts[1] == 1 && is_orig && (p->tcp_flags & TT__TH_SYN) &&
            !(p->tcp_flags & TT__TH_ACK))
            f->flags |= TT__F_SYN_FIRST;
        uint16_t before = f->flags;
        uint8_t os_before = o->state, rs_before = f->u.ep[1].state;
        bool was_inactive = o->state == TT__TCP_INACTIVE;
        tt__tcp_packet(a, f, p, is_orig);
        if (was_inactive && is_orig && (f->flags & TT__F_SYN_FIRST) && o->state == TT__TCP_SYN_SENT)
            judge_queue(a, idx, TT__JQ_TCP_ATTEMPT, now);
        if (!(before & TT__F_SYNACK) && (f->flags & TT__F_SYNACK) && (f->flags & TT__F_SYN_FIRST))
            judge_queue(a, idx, TT__JQ_TCP_ACK, now);
        tt__ep *r = &f->u.ep[1];
        bool both_closed = o->state == TT__TCP_CLOSED && r->state == TT__TCP_CLOSED;
        bool reset = o->state == TT__TCP_RESET || r->state == TT__TCP_RESET;
        if (both_closed || reset)
            lc = TT__LC_LINGER;
        else if ((o->state == TT__TCP_ESTABLISHED || o->state == TT__TCP_CLOSED ||
                  o->state == TT__TCP_PARTIAL) &&
                 r->state != TT__TCP_INACTIVE)
            lc = TT__LC_TCP_EST;
        /* Zeek stops extending a connection's duration once both sides closed. */
        if (!closed_before || !both_closed)
            f->last_us = now;
        /* A judged TCP verdict reads only the flags and the two endpoint
         * states (tcp_verdict in verdict.c): when none moved, it stands. */
        unchanged = (f->flags & TT__F_JUDGED) && f->flags == before && o->state == os_before &&
                    r->state == rs_before;
    } else {
        f->last_us = now;
        if (p->proto == 17) {
            if (p->udp_len_bad)
                f->flags |= TT__F_MALFORMED;
            f->u.d.bytes[side] += p->payload_len;
            /* Zeek marks every datagram, empty ones too (HIST_*_DATA_PKT). */
            tt__hist_check(f, 0x10u, 'D', is_orig);
            if (is_orig && f->pkts[0] == 1) {
                bool dns = p->dport == 53 || p->dport == 5353 || tt__dpi_is_dns(f->dpi_proto);
                judge_queue(a, idx, dns ? TT__JQ_DNS : TT__JQ_UDP, now);
            }
        } else {
            f->u.d.bytes[side] += p->payload_len;
            if (is_orig && f->pkts[0] == 1 && !directional &&
                tt__icmp_is_echo_request(p->proto, p->icmp_type))
                judge_queue(a, idx, TT__JQ_ICMP, now);
        }
    }
    if (lc != f->lclass || a->lists[lc].tail != idx) {
        /* touch uses last activity for expiry; linger counts from the close */
        touch(a, idx, lc);
    }
    if (!(f->flags & TT__F_DPI_DONE))
        dpi_feed(a, f, p);
    if (!unchanged)
        judge(a, idx, now, false);
}

int tt_analyzer_packet(tt_analyzer *a, int linktype, uint64_t ts_us, const uint8_t *data,
                       uint32_t caplen, uint32_t wirelen)
{
    if (linktype != a->last_link) {
        if (!tt_linktype_supported(linktype))
            return TT_ELINKTYPE;
        a->last_link = linktype; /* a capture has one link type: checked once */
    }
    a->st.packets++;
    a->st.bytes += wirelen;
    if (!a->started) {
        a->started = true;
        a->st.first_us = ts_us;
        a->now_us = ts_us;
    }
    if (ts_us < a->now_us) {
        a->st.ts_backwards++;
        ts_us = a->now_us;
    }
    a->st.last_us = ts_us;
    tt_analyzer_advance(a, ts_us);

    tt__pkt p;
    tt__dec r = tt__decode(linktype, data, caplen, wirelen, &p, a->st.events);
    if (r == TT__DEC_TRUNCATED) {
        note_damage(a, ts_us, TT_UNC_SNAPLEN);
        return 0;
    }
    if (r != TT__DEC_OK)
        return 0;
    p.ts_us = ts_us;
    a->st.ip_packets++;
    if (p.icmp_error && p.has_quote)
        icmp_error_evidence(a, &p, ts_us);
    bool bad = false;
    if (a->cfg.verify_checksums && !tt__checksum_ok(&p)) {
        bad = true;
        a->st.events[p.proto == 6 ? TT_EV_TCP_CHECKSUM_BAD : TT_EV_UDP_CHECKSUM_BAD] +=
            (p.proto == 6 || p.proto == 17) ? 1 : 0;
    }
    track(a, &p, ts_us, bad);
    return 0;
}

void tt_analyzer_finish(tt_analyzer *a)
{
    if (a->finished)
        return;
    a->finished = true;
    for (int l = 0; l < TT__LC_N; l++) {
        uint32_t idx;
        while ((idx = a->lists[l].head) != TT__NIL)
            release(a, idx, a->now_us, false);
    }
    logf_(a, TT_LOG_DEBUG, "analyzer finished");
}

void tt_analyzer_get_stats(const tt_analyzer *a, tt_analyzer_stats *out)
{
    *out = a->st;
}
