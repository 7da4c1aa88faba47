/* evidence.c - re-reads a capture and keeps the packets of flagged flows and around markers.
 *
 * Two passes over the data, both linear:
 *
 *  1. index: every record gets a canonical key (protocol, the lower endpoint,
 *     the higher endpoint: direction does not matter). Record numbers are
 *     sorted by (key, ts) and a hash table maps each key that has at least
 *     one failure to its run in that order. Without markers, runs of keys
 *     without a failure are left out: none of their packets can be evidence.
 *  2. packets: the capture is read again with the replay's filter; each
 *     packet is decoded (tt__decode, as the analyzer does), its key looked
 *     up, and within the run the latest record with ts <= packet time <=
 *     last_us + 5 s is its flow (a binary search, then a few steps back for
 *     overlapping reuse of a tuple). An ICMP error counts for the flow it
 *     quotes. Packets of failed flows and packets near a marker are written
 *     to a pcapng file with a comment each (cli/pcapng_writer.c).
 *
 * Packet times are clamped to never go backwards, as the analyzer clamps
 * them, so that a packet is matched with the time its record was built from.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "analyze/errbuf.h"
#include "analyze/decode.h"
#include "capture/pcapfile.h"
#include "cli/evidence.h"
#include "cli/pcapng_writer.h"

#define NONE UINT32_MAX

/* Records before the latest candidate that are still tried (a tuple reused
 * while its previous flow lingers). */
#define MAX_STEP_BACK 8

/* shb_userappl */
#define USERAPPL "tunneltap replay --evidence"

/* Marker comments on one packet (one opt_comment each); more markers at
 * once share one "and N more" comment (the SHB comment lists them all). */
#define MARKS_PER_PACKET 16
#define MARK_COMMENT_LEN 192 /* "tunneltap: MARKER \"<63 bytes>\" at <27>" fits */

/* ---- index ------------------------------------------------------------- */

/* A flow key independent of direction: endpoint a sorts before endpoint b. */
typedef struct ekey {
    uint8_t ipver, proto;
    uint16_t pa, pb;
    uint8_t a[16], b[16];
} ekey;

typedef struct slot {
    uint32_t start, count; /* run in ord; count 0: empty slot */
    uint64_t hash;
} slot;

typedef struct eindex {
    const tt_conn *rec;
    ekey *keys;    /* per record */
    uint32_t *ord; /* record numbers by (hash, key, ts) */
    slot *tab;
    size_t cap; /* power of two */
} eindex;

static void make_key(ekey *k, uint8_t ipver, uint8_t proto, const uint8_t *src, uint16_t sport,
                     const uint8_t *dst, uint16_t dport)
{
    size_t alen = ipver == 6 ? 16 : 4;
    memset(k, 0, sizeof *k);
    k->ipver = ipver;
    k->proto = proto;
    int c = memcmp(src, dst, alen);
    bool swap = c > 0 || (c == 0 && sport > dport);
    memcpy(k->a, swap ? dst : src, alen);
    memcpy(k->b, swap ? src : dst, alen);
    k->pa = swap ? dport : sport;
    k->pb = swap ? sport : dport;
}

static uint64_t key_hash(const ekey *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603u; /* FNV-1a; make_key zeroes the padding */
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h ^ (h >> 29);
}

/* Sort order of ord: hash, key, then start time and record number. qsort
 * has no context argument, so the entries compared carry what they need. */
typedef struct sortent {
    uint64_t hash;
    const ekey *key;
    uint64_t ts;
    uint32_t idx;
} sortent;

static int sortent_cmp(const void *pa, const void *pb)
{
    const sortent *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    int c = memcmp(a->key, b->key, sizeof *a->key);
    if (c)
        return c;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool same_key(const sortent *a, const sortent *b)
{
    return a->hash == b->hash && memcmp(a->key, b->key, sizeof *a->key) == 0;
}

static void index_free(eindex *x)
{
    free(x->keys);
    free(x->ord);
    free(x->tab);
    memset(x, 0, sizeof *x);
}

static bool flagged(const tt_conn *c)
{
    return tt_verdict_is_failure(c->verdict);
}

/* Builds the index over n records; all: every key, else only the keys with
 * a failure. Returns 0 or TT_ENOMEM. */
static int index_build(eindex *x, const tt_conn *rec, size_t n, bool all)
{
    memset(x, 0, sizeof *x);
    x->rec = rec;
    if (n == 0)
        return 0;
    if (n >= NONE)
        return TT_ENOMEM; /* record numbers are 32-bit */
    x->keys = malloc(n * sizeof *x->keys);
    x->ord = malloc(n * sizeof *x->ord);
    sortent *se = malloc(n * sizeof *se);
    if (!x->keys || !x->ord || !se)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const tt_conn *c = &rec[i];
        make_key(&x->keys[i], c->ip_version, c->proto, c->orig_h, c->orig_p, c->resp_h, c->resp_p);
        se[i] = (sortent){key_hash(&x->keys[i]), &x->keys[i], c->ts_us, (uint32_t)i};
    }
    qsort(se, n, sizeof *se, sortent_cmp);

    /* Runs (one per key) with at least one failure go into the table. */
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        x->ord[i] = se[i].idx;
        runs += i == 0 || !same_key(&se[i], &se[i - 1]);
    }
    x->cap = 16;
    while (x->cap < runs * 2)
        x->cap *= 2;
    x->tab = calloc(x->cap, sizeof *x->tab);
    if (!x->tab)
        goto oom;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        bool fail = flagged(&rec[x->ord[i]]);
        while (j < n && same_key(&se[j], &se[i]))
            fail |= flagged(&rec[x->ord[j++]]);
        if (fail || all) {
            size_t s = (size_t)se[i].hash & (x->cap - 1);
            while (x->tab[s].count)
                s = (s + 1) & (x->cap - 1);
            x->tab[s] = (slot){(uint32_t)i, (uint32_t)(j - i), se[i].hash};
        }
        i = j;
    }
    free(se);
    return 0;
oom:
    free(se);
    index_free(x);
    return TT_ENOMEM;
}

/* The record a packet of key k at time ts belongs to, or NONE (no record,
 * or a key left out of the index). */
static uint32_t index_find(const eindex *x, const ekey *k, uint64_t ts)
{
    if (!x->tab)
        return NONE;
    uint64_t h = key_hash(k);
    const slot *sl = NULL;
    for (size_t s = (size_t)h & (x->cap - 1); x->tab[s].count; s = (s + 1) & (x->cap - 1)) {
        const slot *t = &x->tab[s];
        if (t->hash == h && memcmp(&x->keys[x->ord[t->start]], k, sizeof *k) == 0) {
            sl = t;
            break;
        }
    }
    if (!sl)
        return NONE;
    /* Last record of the run that started at or before ts. */
    const uint32_t *run = x->ord + sl->start;
    size_t lo = 0, hi = sl->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->rec[run[mid]].ts_us <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo, steps = 0; i > 0 && steps < MAX_STEP_BACK; i--, steps++) {
        const tt_conn *c = &x->rec[run[i - 1]];
        if (ts <= c->last_us + CLI_EVIDENCE_TAIL_US)
            return run[i - 1];
    }
    return NONE;
}

/* ---- text -------------------------------------------------------------- */

/* "2025-11-27T12:03:05.123456Z" */
static void iso_time(uint64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    char day[32];
    if (!gmtime_r(&t, &tm) || !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, len, "@%" PRIu64 "us", us);
        return;
    }
    snprintf(buf, len, "%s.%06uZ", day, (unsigned)(us % 1000000u));
}

/* "10.0.0.1:53" or "[2001:db8::1]:53" */
static void endpoint(const tt_conn *c, bool resp, char *buf, size_t len)
{
    char a[64];
    tt_conn_addr_str(c, resp, a, sizeof a);
    unsigned port = resp ? c->resp_p : c->orig_p;
    if (c->ip_version == 6)
        snprintf(buf, len, "[%s]:%u", a, port);
    else
        snprintf(buf, len, "%s:%u", a, port);
}

/* "C3x... syn_unanswered certain S0 S tcp 10.77.1.2:40000 -> 10.77.2.2:80 service=http" */
static void flow_text(const tt_conn *c, char *buf, size_t len)
{
    char o[80], r[80];
    int n;
    const char *cert = cli_certainty_name(c);
    if (c->proto == 1 || c->proto == 58) {
        tt_conn_addr_str(c, false, o, sizeof o);
        tt_conn_addr_str(c, true, r, sizeof r);
        n = snprintf(buf, len, "%s %s %s %s %s icmp type %u %s -> %s", c->uid,
                     tt_verdict_name(c->verdict), cert ? cert : "-",
                     c->conn_state ? c->conn_state : "-", c->history[0] ? c->history : "-",
                     (unsigned)c->orig_p, o, r);
    } else {
        endpoint(c, false, o, sizeof o);
        endpoint(c, true, r, sizeof r);
        n = snprintf(buf, len, "%s %s %s %s %s %s %s -> %s", c->uid, tt_verdict_name(c->verdict),
                     cert ? cert : "-", c->conn_state ? c->conn_state : "-",
                     c->history[0] ? c->history : "-", cli_proto_name(c->proto), o, r);
    }
    size_t used = n > 0 ? (size_t)n : 0;
    if (c->service && used < len)
        used += (size_t)snprintf(buf + used, len - used, " service=%s", c->service);
    if (c->certainty == TT_UNCERTAIN && c->uncertain_why && used < len) {
        const char *sep = " why=";
        for (uint32_t bit = 1; bit && used < len; bit <<= 1) {
            const char *name = cli_uncertain_name(bit);
            if (!(c->uncertain_why & bit) || !name)
                continue;
            used += (size_t)snprintf(buf + used, len - used, "%s%s", sep, name);
            sep = ",";
        }
    }
}

/* Growing text for the section header's comment. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The section header's comment: what was kept, the markers, the alerts. */
static void shb_text(sbuf *b, const cli_evidence_input *in, const tt_marker *const *mk,
                     size_t nflagged)
{
    char t[40];
    sb_add(b,
           "tunneltap evidence: packets of the flows judged failed (certain or uncertain) and "
           "every packet within \xC2\xB1%" PRIu32 " s of a marker, from %s",
           in->around_marker_s, base_name(in->capture_path));
    if (in->bpf && *in->bpf)
        sb_add(b, " (filter: %s)", in->bpf);
    sb_add(b, "\nflagged flows: %zu of %zu\n", nflagged, in->records ? in->records->n : 0);
    sb_add(b, "markers: %u\n", in->nmarkers);
    for (unsigned i = 0; i < in->nmarkers; i++) {
        iso_time(mk[i]->ts_us, t, sizeof t);
        sb_add(b, "  %s \"%s\"\n", t, mk[i]->label);
    }
    sb_add(b, "alerts: %u\n", in->nalerts);
    for (unsigned i = 0; i < in->nalerts; i++) {
        const tt_alert *a = &in->alerts[i];
        iso_time(a->ts_us, t, sizeof t);
        sb_add(b, "  %s %s%s: %s\n", t, tt_alert_kind_name(a->kind),
               a->recovery ? " (recovery)" : "", a->message);
    }
}

/* ---- markers ----------------------------------------------------------- */

static int marker_cmp(const void *pa, const void *pb)
{
    const tt_marker *a = *(const tt_marker *const *)pa, *b = *(const tt_marker *const *)pb;
    return a->ts_us < b->ts_us ? -1 : a->ts_us > b->ts_us;
}

/* The marker nearest to ts among those within win_us of it, or NULL. */
static const tt_marker *near_marker(const tt_marker *const *mk, size_t n, uint64_t ts,
                                    uint64_t win_us)
{
    size_t lo = 0, hi = n; /* first marker at or after ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mk[mid]->ts_us < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    const tt_marker *best = NULL;
    uint64_t dist = 0;
    if (lo < n && mk[lo]->ts_us - ts <= win_us) {
        best = mk[lo];
        dist = mk[lo]->ts_us - ts;
    }
    if (lo > 0 && ts - mk[lo - 1]->ts_us <= win_us && (!best || ts - mk[lo - 1]->ts_us <= dist))
        best = mk[lo - 1];
    return best;
}

/* ---- the pass over the capture ----------------------------------------- */

/* The LINKTYPE_ value a file carries for libpcap's DLT_ value. They are the
 * same number for every link type tunneltap decodes except raw IP, whose
 * DLT_RAW differs between platforms (12, 14) while LINKTYPE_RAW is 101. */
static int file_linktype(int dlt)
{
    return dlt == DLT_RAW || dlt == 12 || dlt == 14 ? 101 : dlt;
}

int cli_evidence_write(const char *path, const cli_evidence_input *in, uint64_t *written, char *err)
{
    if (written)
        *written = 0;
    if (!path || !in || !in->capture_path || !*in->capture_path) {
        tt__set_err(err, "evidence: no capture to read");
        return TT_EINVAL;
    }
    if (strcmp(in->capture_path, "-") == 0) {
        tt__set_err(err, "evidence: the capture came from stdin and cannot be read a second time; "
                         "replay a file to get --evidence");
        return TT_EINVAL;
    }
    const tt_conn *rec = in->records ? in->records->v : NULL;
    size_t nrec = in->records ? in->records->n : 0;
    size_t nflagged = 0;
    for (size_t i = 0; i < nrec; i++)
        nflagged += flagged(&rec[i]);

    int rc = 0;
    eindex x;
    tt_pcapfile *f = NULL;
    cli_pcapng_writer *w = NULL;
    sbuf shb = {0};
    char *markc = NULL;
    const tt_marker **mk = NULL;
    size_t nmk = in->markers ? in->nmarkers : 0;

    memset(&x, 0, sizeof x);
    if (nmk) {
        mk = malloc(nmk * sizeof *mk);
        markc = malloc((MARKS_PER_PACKET + 1) * MARK_COMMENT_LEN);
        if (!mk || !markc)
            goto oom;
        for (size_t i = 0; i < nmk; i++)
            mk[i] = &in->markers[i];
        qsort(mk, nmk, sizeof *mk, marker_cmp);
    }
    /* With markers every key is indexed: packets near a marker name their flow too. */
    if ((nflagged || nmk) && (rc = index_build(&x, rec, nrec, nmk > 0)) < 0)
        goto oom;

    rc = tt_pcapfile_open(&f, in->capture_path, in->bpf, err);
    if (rc < 0)
        goto out;
    cli_evidence_input shown = *in;
    shown.nmarkers = (unsigned)nmk;
    shown.nalerts = in->alerts ? in->nalerts : 0;
    shb_text(&shb, &shown, mk, nflagged);
    if (shb.oom)
        goto oom;
    rc = cli_pcapng_open(&w, path, shb.p, USERAPPL, err);
    if (rc < 0)
        goto out;
    int snap = tt_pcapfile_snaplen(f);
    uint32_t ifid;
    rc =
        cli_pcapng_add_interface(w, file_linktype(tt_pcapfile_linktype(f)),
                                 snap > 0 ? (uint32_t)snap : 0, base_name(in->capture_path), &ifid);
    if (rc < 0)
        goto write_failed;

    int linktype = tt_pcapfile_linktype(f);
    uint64_t win_us = (uint64_t)in->around_marker_s * 1000000u;
    uint64_t now = 0;
    size_t next_mark = 0; /* first marker not yet announced on a packet */
    uint64_t events[TT_EV_COUNT];
    tt_pcapfile_pkt pkt;
    int more = 0;
    while ((nflagged || nmk) && (more = tt_pcapfile_next(f, &pkt, err)) == 1) {
        now = pkt.ts_us > now ? pkt.ts_us : now; /* as the analyzer clamps */
        const tt_marker *near = nmk ? near_marker(mk, nmk, now, win_us) : NULL;
        uint32_t hit = NONE, own = NONE;
        bool via_quote = false;
        uint8_t icmp_type = 0, icmp_code = 0;
        tt__pkt p;
        if (x.tab && (nflagged || near) &&
            tt__decode(linktype, pkt.data, pkt.caplen, pkt.len, &p, events) == TT__DEC_OK) {
            ekey k;
            if (p.icmp_error && p.has_quote) {
                make_key(&k, p.quote.ipver, p.quote.proto, p.quote.src, p.quote.sport, p.quote.dst,
                         p.quote.dport);
                hit = index_find(&x, &k, now);
                via_quote = hit != NONE && flagged(&rec[hit]);
                icmp_type = p.icmp_type;
                icmp_code = p.icmp_code;
            }
            make_key(&k, p.ipver, p.proto, p.src, p.sport, p.dst, p.dport);
            own = index_find(&x, &k, now);
            if (!via_quote)
                hit = own;
        }
        bool fail = hit != NONE && flagged(&rec[hit]);
        if (!fail && !near)
            continue;

        const char *com[MARKS_PER_PACKET + 2] = {NULL};
        size_t ncom = 0;
        char flow[512], around[640];
        for (size_t extra = 0; next_mark < nmk && mk[next_mark]->ts_us <= now; next_mark++) {
            char *c = markc + ncom * MARK_COMMENT_LEN, t[40];
            if (ncom == MARKS_PER_PACKET) {
                snprintf(c, MARK_COMMENT_LEN,
                         "tunneltap: and %zu more markers (the section comment lists them)",
                         ++extra);
                com[MARKS_PER_PACKET] = c;
                continue;
            }
            iso_time(mk[next_mark]->ts_us, t, sizeof t);
            snprintf(c, MARK_COMMENT_LEN, "tunneltap: MARKER \"%s\" at %s", mk[next_mark]->label,
                     t);
            com[ncom++] = c;
        }
        if (com[MARKS_PER_PACKET])
            ncom++;
        if (fail) {
            size_t n = (size_t)snprintf(flow, sizeof flow, "tunneltap: ");
            flow_text(&rec[hit], flow + n, sizeof flow - n);
            if (via_quote) {
                n = strlen(flow);
                snprintf(flow + n, sizeof flow - n, " (ICMP type %u code %u quoting this flow)",
                         (unsigned)icmp_type, (unsigned)icmp_code);
            }
            com[ncom++] = flow;
        } else {
            int n = snprintf(around, sizeof around, "tunneltap: around marker \"%s\"", near->label);
            if (own != NONE && n > 0 && (size_t)n < sizeof around) {
                snprintf(around + n, sizeof around - (size_t)n, "; flow ");
                flow_text(&rec[own], around + strlen(around), sizeof around - strlen(around));
            }
            com[ncom++] = around;
        }
        /* libpcap never hands out more than the snapshot length; should a
         * reader ever do, the IDB's snaplen still holds */
        uint32_t cap = snap > 0 && pkt.caplen > (uint32_t)snap ? (uint32_t)snap : pkt.caplen;
        rc = cli_pcapng_write_packet(w, ifid, pkt.ts_us, pkt.data, cap, pkt.len, com, ncom);
        if (rc < 0)
            goto write_failed;
    }
    if (more < 0) {
        rc = more; /* damaged capture: err names it; what was read is written */
        if (written)
            *written = cli_pcapng_packets(w);
        cli_pcapng_close(w, NULL);
        w = NULL;
        goto out;
    }
    if (written)
        *written = cli_pcapng_packets(w);
    rc = cli_pcapng_close(w, err);
    w = NULL;
    goto out;

write_failed:
    if (rc == TT_EIO) {
        if (written)
            *written = cli_pcapng_packets(w);
        rc = cli_pcapng_close(w, err);
        rc = rc < 0 ? rc : TT_EIO;
        w = NULL;
    } else {
        tt__set_err(err, "%s: %s", path, "cannot write this packet or link type to pcapng");
    }
    goto out;
oom:
    rc = TT_ENOMEM;
    tt__set_err(err, "%s: %s", path, "out of memory building the evidence");
out:
    if (w) {
        if (written)
            *written = cli_pcapng_packets(w);
        cli_pcapng_close(w, NULL);
    }
    tt_pcapfile_close(f);
    index_free(&x);
    free(shb.p);
    free(markc);
    free(mk);
    return rc;
}
