/* harness.c - the fuzz harnesses (see harness.h): decoder + flow tracker,
 * capture-file ingestion, control socket. Shared by the libFuzzer targets
 * and tests/test_fuzz_regress.c, so a saved crash replays through exactly
 * the code that found it.
 */
#include "fuzz/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "analyze/decode.h"
#include "capture/control.h"
#include "capture/pcapfile.h"
#include "tunneltap/tunneltap.h"

/* ---- invariant checks ---------------------------------------------------- */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_failed(#cond, __FILE__, __LINE__);                                               \
    } while (0)

__attribute__((noreturn)) static void check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz harness: invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}

/* ---- a checking allocator ----------------------------------------------- */

/* Counts live blocks, checks that free() gets the size alloc() was asked
 * for, and refuses (aborts on) any allocation once `frozen` is set: the
 * analyzer allocates only in tt_analyzer_open. */
typedef struct fz_alloc {
    size_t live_blocks, live_bytes, total;
    bool frozen;
} fz_alloc;

#define HDR 16 /* keeps the caller's block 16-byte aligned */

static void *fz_alloc_fn(void *ctx, size_t size)
{
    fz_alloc *fa = ctx;
    CHECK(!fa->frozen); /* an allocation on the packet path */
    /* Absurd sizes refused; a 32-bit size_t cannot ask for this much. */
#if SIZE_MAX > 0xffffffffu
    if (size > ((size_t)1 << 40))
        return NULL;
#endif
    unsigned char *p = calloc(1, size + HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    fa->live_blocks++;
    fa->live_bytes += size;
    fa->total++;
    return p + HDR;
}

static void fz_free_fn(void *ctx, void *ptr, size_t size)
{
    fz_alloc *fa = ctx;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t had;
    memcpy(&had, p, sizeof had);
    CHECK(had == size); /* freed with the size it was allocated with */
    CHECK(fa->live_blocks > 0);
    fa->live_blocks--;
    fa->live_bytes -= size;
    free(p);
}

/* ---- records ------------------------------------------------------------- */

typedef struct fz_ctx {
    uint64_t conns;
    const tt_analyzer *an;
} fz_ctx;

static void check_conn(const tt_conn *c)
{
    CHECK(c->ip_version == 4 || c->ip_version == 6);
    CHECK((unsigned)c->verdict < TT_VERDICT_COUNT);
    CHECK(c->verdict != TT_VERDICT_PENDING); /* reported flows are judged */
    CHECK(c->certainty == TT_CERTAINTY_NONE || c->certainty == TT_CERTAIN ||
          c->certainty == TT_UNCERTAIN);
    CHECK((c->certainty != TT_CERTAINTY_NONE) == tt_verdict_is_failure(c->verdict));
    CHECK(memchr(c->history, 0, sizeof c->history) != NULL);
    CHECK(memchr(c->uid, 0, sizeof c->uid) != NULL && c->uid[0] == 'C' && strlen(c->uid) == 18);
    CHECK(c->conn_state != NULL && c->conn_state[0] != 0);
    CHECK(c->last_us >= c->ts_us);
    if (c->l7)
        CHECK(strlen(c->l7) < 64);
    if (c->service)
        CHECK(strlen(c->service) < 64);
    char a[64];
    tt_conn_addr_str(c, false, a, sizeof a);
    tt_conn_addr_str(c, true, a, sizeof a);
}

static void on_conn(void *ctx, const tt_conn *c)
{
    fz_ctx *k = ctx;
    check_conn(c);
    k->conns++;
}

static void on_judge(void *ctx, const tt_conn *c, tt_verdict old, tt_certainty oc)
{
    (void)ctx;
    CHECK((unsigned)old < TT_VERDICT_COUNT);
    CHECK((unsigned)oc <= TT_UNCERTAIN);
    CHECK((unsigned)c->verdict < TT_VERDICT_COUNT && c->verdict != TT_VERDICT_PENDING);
}

static void check_stats(const tt_analyzer *an, const tt_analyzer_config *cfg, uint64_t conns)
{
    tt_analyzer_stats st;
    tt_analyzer_get_stats(an, &st);
    CHECK(st.flows_active <= cfg->max_flows);
    CHECK(st.flows_peak <= cfg->max_flows);
    CHECK(st.flows_created == st.flows_reported + st.flows_active);
    CHECK(st.flows_reported == conns);
    CHECK(st.dpi_active <= cfg->max_dpi_flows);
    uint64_t sum = 0;
    for (unsigned v = 0; v < TT_VERDICT_COUNT; v++) {
        CHECK(st.uncertain_by_verdict[v] <= st.by_verdict[v]);
        sum += st.by_verdict[v];
    }
    CHECK(sum == st.flows_created);
    CHECK(st.ip_packets <= st.packets);
    CHECK(st.flow_packets <= st.ip_packets);
    CHECK(st.dpi_packets <= st.flow_packets);
    CHECK(cfg->enable_dpi || st.dpi_packets == 0);
}

/* ---- decoder: pure checks on one frame ------------------------------------ */

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t caplen)
{
    return p >= data && n <= caplen && (size_t)(p - data) <= caplen - n;
}

static void check_decode(int link, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    uint64_t ev[TT_EV_COUNT] = {0};
    tt__pkt p;
    tt__dec r = tt__decode(link, data, caplen, wirelen, &p, ev);
    CHECK(r == TT__DEC_OK || r == TT__DEC_TRUNCATED || r == TT__DEC_INVALID || r == TT__DEC_SKIP);
    if (r != TT__DEC_OK)
        return;
    CHECK(p.ipver == 4 || p.ipver == 6);
    size_t alen = p.ipver == 4 ? 4 : 16;
    CHECK(inside(p.l3, p.l3_cap, data, caplen));
    CHECK(inside(p.src, alen, data, caplen) && inside(p.dst, alen, data, caplen));
    CHECK(p.l3_cap <= p.ip_len);
    CHECK(p.l4_off <= p.ip_len);
    CHECK(p.l4_len == p.ip_len - p.l4_off);
    if (p.has_quote) {
        size_t qlen = p.quote.ipver == 4 ? 4 : 16;
        CHECK(p.quote.ipver == 4 || p.quote.ipver == 6);
        CHECK(inside(p.quote.src, qlen, data, caplen) && inside(p.quote.dst, qlen, data, caplen));
    }
    (void)tt__checksum_ok(&p); /* reads the payload: must stay in bounds */

    /* A snapshot length never makes a packet invalid (STYLE: truncation
     * sweeps): every prefix of a frame that decodes decodes as OK or
     * TRUNCATED, and when OK, names the same flow. */
    uint32_t step = caplen <= 256 ? 1 : caplen / 128;
    for (uint32_t cut = 0; cut < caplen; cut += step) {
        tt__pkt q;
        tt__dec rq = tt__decode(link, data, cut, wirelen, &q, ev);
        CHECK(rq == TT__DEC_OK || rq == TT__DEC_TRUNCATED);
        if (rq != TT__DEC_OK)
            continue;
        CHECK(q.ipver == p.ipver && q.proto == p.proto);
        CHECK(memcmp(q.src, p.src, alen) == 0 && memcmp(q.dst, p.dst, alen) == 0);
        CHECK(q.sport == p.sport && q.dport == p.dport);
        CHECK(q.ip_len == p.ip_len && q.l4_len == p.l4_len);
        CHECK(q.payload_len == p.payload_len && q.tcp_flags == p.tcp_flags);
        CHECK(q.icmp_type == p.icmp_type && q.icmp_error == p.icmp_error);
    }
}

/* ---- harness (a): decoder + flow tracker ---------------------------------- */

static const int fz_links[8] = {TT_LINK_RAW,  TT_LINK_IPV4,     TT_LINK_IPV6, TT_LINK_NULL,
                                TT_LINK_LOOP, TT_LINK_ETHERNET, TT_LINK_SLL,  TT_LINK_SLL2};

/* Clock step of a record: small steps most of the time, some that pass
 * every deadline and timeout, rare huge jumps (and, optionally, steps back). */
static uint64_t step_us(uint8_t dt)
{
    if (dt < 100)
        return (uint64_t)dt * 1000u; /* 0..99 ms */
    if (dt < 200)
        return (uint64_t)(dt - 100) * 1000000u; /* 0..99 s */
    if (dt < 255)
        return (uint64_t)(dt - 200) * 60000000u; /* 0..54 min */
    return 1000000000000ull;                     /* 11.6 days */
}

int tt_fuzz_decode(const uint8_t *data, size_t size, bool dpi)
{
    if (size < 2)
        return 0;
    int link = fz_links[data[0] % 8];
    uint8_t opt = data[1];
    data += 2;
    size -= 2;

    fz_alloc fa = {0};
    fz_ctx k = {0};
    tt_analyzer_config cfg;
    tt_analyzer_config_init(&cfg);
    cfg.max_flows = 16;
    cfg.max_dpi_flows = 4;
    cfg.enable_dpi = dpi;
    cfg.dpi_first_name = (opt & 0x20) != 0;
    cfg.verify_checksums = (opt & 1) != 0;
    if (opt & 2) {
        /* short deadlines and timeouts: expiry and judging run often */
        cfg.udp_reply_deadline_ms = cfg.dns_reply_deadline_ms = 20;
        cfg.tcp_attempt_deadline_ms = cfg.tcp_ack_deadline_ms = 30;
        cfg.icmp_reply_deadline_ms = 10;
        cfg.tcp_timeout_s = 2;
        cfg.tcp_setup_timeout_s = cfg.udp_timeout_s = cfg.icmp_timeout_s = 1;
        cfg.tcp_close_linger_ms = 5;
    }
    bool loss = (opt & 4) != 0, backwards = (opt & 8) != 0;
    cfg.allocator = (tt_allocator){fz_alloc_fn, fz_free_fn, &fa};
    cfg.on_conn = on_conn;
    cfg.conn_ctx = &k;
    cfg.on_judge = on_judge;
    tt_analyzer *an;
    char err[TT_ERRBUF_SIZE];
    CHECK(tt_analyzer_open(&an, &cfg, err) == 0);
    fa.frozen = true; /* from here on, nothing may be allocated */

    /* opt 0x10: start next to the end of time, so deadlines and timeouts
     * computed as ts + delay wrap around */
    uint64_t ts = (opt & 0x10) ? UINT64_MAX - 30000000u : 1700000000ull * 1000000u;
    while (size >= 4) {
        size_t len = (size_t)data[0] << 8 | data[1];
        uint8_t dt = data[2], wire = data[3];
        data += 4;
        size -= 4;
        if (backwards && dt == 255)
            ts -= 1000000u; /* counted and clamped by the analyzer */
        else
            ts += step_us(dt);
        if (len == 0xffff) {
            tt_analyzer_advance(an, ts);
            if (loss)
                tt_analyzer_note_loss(an, ts, wire);
            check_stats(an, &cfg, k.conns);
            continue;
        }
        uint32_t caplen = (uint32_t)(len < size ? len : size);
        /* wire < 0x80: the frame was cut (wire*16 more bytes on the wire);
         * otherwise a wire length from the byte itself, possibly < caplen
         * (damaged capture files say such things). */
        uint32_t wirelen = wire < 0x80 ? caplen + (uint32_t)wire * 16u : (uint32_t)(wire & 0x7f);
        /* Copy to a buffer of exactly caplen bytes: ASan sees any overread. */
        uint8_t *pkt = malloc(caplen ? caplen : 1);
        CHECK(pkt != NULL);
        memcpy(pkt, data, caplen);
        check_decode(link, pkt, caplen, wirelen);
        CHECK(tt_analyzer_packet(an, link, ts, pkt, caplen, wirelen) == 0);
        free(pkt);
        check_stats(an, &cfg, k.conns);
        data += caplen;
        size -= caplen;
    }
    tt_analyzer_finish(an);
    check_stats(an, &cfg, k.conns);
    tt_analyzer_stats st;
    tt_analyzer_get_stats(an, &st);
    CHECK(st.flows_active == 0);
    fa.frozen = false;
    tt_analyzer_close(an);
    CHECK(fa.live_blocks == 0 && fa.live_bytes == 0);
    return 0;
}

/* ---- harness (b): capture files ------------------------------------------- */

/* The reading loop's state: what each packet is checked against. */
typedef struct fz_read {
    tt_pcapfile *f;
    tt_analyzer *an;
    int link;
    bool bpf;
    size_t size;
    uint64_t n;
} fz_read;

/* One packet read (a tt_pcapfile_fn): checked, then analysed. */
static int fz_read_one(void *ctx, const tt_pcapfile_pkt *p)
{
    fz_read *r = ctx;
    r->n++;
    CHECK(tt_pcapfile_matched(r->f) == r->n && tt_pcapfile_records(r->f) >= r->n);
    CHECK(p->number == tt_pcapfile_records(r->f));
    CHECK(r->bpf || p->number == r->n);
    CHECK(p->caplen <= (1u << 24));
    CHECK(p->data != NULL || p->caplen == 0);
    if (p->caplen) {
        /* touch the first and last byte: libpcap's buffer holds caplen */
        volatile uint8_t b = p->data[0];
        b = (uint8_t)(b ^ p->data[p->caplen - 1]);
        (void)b;
    }
    CHECK(tt_analyzer_packet(r->an, r->link, p->ts_us, p->data, p->caplen, p->len) == 0);
    uint64_t done, total;
    tt_pcapfile_progress(r->f, &done, &total);
    CHECK(total == r->size);
    CHECK(done <= total);
    return 0;
}

int tt_fuzz_pcapfile(const uint8_t *data, size_t size)
{
    int fd = memfd_create("tt-fuzz-capture", MFD_CLOEXEC);
    CHECK(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        CHECK(w > 0);
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = (tt_pcapfile *)(uintptr_t)1;
    /* odd sizes also run a filter (pcap_offline_filter in the reader) */
    const char *bpf = (size & 1) ? "ip or ip6" : NULL;
    int rc = tt_pcapfile_open(&f, path, bpf, err);
    if (rc < 0) {
        CHECK(f == NULL);
        CHECK(err[0] != 0 && memchr(err, 0, sizeof err) != NULL);
        CHECK(rc == TT_EFORMAT || rc == TT_ELINKTYPE || rc == TT_EIO || rc == TT_ENOMEM ||
              (bpf && rc == TT_EINVAL)); /* a link type libpcap cannot filter */
        close(fd);
        return 0;
    }
    int link = tt_pcapfile_linktype(f);
    CHECK(tt_linktype_supported(link));
    CHECK(tt_pcapfile_linktype_name(f) != NULL);

    fz_alloc fa = {0};
    fz_ctx k = {0};
    tt_analyzer_config cfg;
    tt_analyzer_config_init(&cfg);
    cfg.max_flows = 16;
    cfg.enable_dpi = false;
    cfg.allocator = (tt_allocator){fz_alloc_fn, fz_free_fn, &fa};
    cfg.on_conn = on_conn;
    cfg.conn_ctx = &k;
    tt_analyzer *an;
    CHECK(tt_analyzer_open(&an, &cfg, err) == 0);
    fa.frozen = true;

    fz_read r = {.f = f, .an = an, .link = link, .bpf = bpf != NULL, .size = size};
    if (size & 2) {
        /* sizes with bit 1 set read in batches (tt_pcapfile_each) of 1 to 7 */
        unsigned batch = (unsigned)(size % 7) + 1;
        while ((rc = tt_pcapfile_each(f, batch, fz_read_one, &r, err)) == 1)
            ;
    } else {
        tt_pcapfile_pkt p;
        while ((rc = tt_pcapfile_next(f, &p, err)) == 1)
            fz_read_one(&r, &p);
    }
    if (rc < 0) {
        CHECK(rc == TT_EFORMAT);
        CHECK(strstr(err, path) != NULL); /* names the file */
        char again[TT_ERRBUF_SIZE] = "";
        tt_pcapfile_pkt p;
        CHECK(tt_pcapfile_next(f, &p, again) == rc); /* sticky */
        CHECK(strcmp(again, err) == 0);
    } else {
        CHECK(rc == 0);
    }
    tt_analyzer_finish(an);
    check_stats(an, &cfg, k.conns);
    fa.frozen = false;
    tt_analyzer_close(an);
    CHECK(fa.live_blocks == 0);
    tt_pcapfile_close(f);
    close(fd);
    return 0;
}

/* ---- harness (c): control socket ------------------------------------------ */

/* Well-formed UTF-8 with nothing a terminal would act on (the sanitiser's promise). */
static bool utf8_safe(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (c < 0xc2 || c > 0xf4 || i + need > n)
            return false;
        uint32_t cp = c & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
        for (size_t j = 1; j < need; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
            return false;
        i += need;
    }
    return true;
}

static void check_sanitizer(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {0, 1, 2, 5, 17, TT_MARK_LABEL_MAX, 300};
    char dst[301];
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t cap = caps[i];
        memset(dst, 'X', sizeof dst);
        size_t n = tt_control_sanitize_label(dst, cap, (const char *)data, size);
        if (cap == 0) {
            CHECK(n == 0 && dst[0] == 'X');
            continue;
        }
        CHECK(n < cap && n <= TT_MARK_LABEL_MAX - 1);
        CHECK(dst[n] == 0 && strlen(dst) == n);
        CHECK(utf8_safe((const unsigned char *)dst, n));
        CHECK(n == 0 || (dst[0] != ' ' && dst[n - 1] != ' '));
        for (size_t j = cap; j < sizeof dst; j++)
            CHECK(dst[j] == 'X'); /* nothing written past cap */
    }
}

static char fz_dir[64];

static void fz_dir_cleanup(void)
{
    if (fz_dir[0])
        rmdir(fz_dir);
}

/* Checks one reply line (without its newline). */
static void check_reply(const char *line, size_t n)
{
    if (n >= 3 && memcmp(line, "ok ", 3) == 0) {
        CHECK(n < 40);
        return;
    }
    if (n >= 6 && memcmp(line, "error ", 6) == 0) {
        CHECK(n < TT_CONTROL_MSG_MAX);
        CHECK(utf8_safe((const unsigned char *)line, n));
        return;
    }
    CHECK(n > 0 && line[0] == '{');
    json_error_t je;
    json_t *j = json_loadb(line, n, 0, &je);
    CHECK(j != NULL && json_is_object(j));
    json_decref(j);
}

int tt_fuzz_control(const uint8_t *data, size_t size)
{
    check_sanitizer(data, size);

    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "/tmp/tt-fuzz-ctl.XXXXXX");
        if (!mkdtemp(fz_dir)) {
            fz_dir[0] = 0;
            return -1;
        }
        atexit(fz_dir_cleanup);
    }
    char path[100]; /* fits sockaddr_un.sun_path (108) */
    snprintf(path, sizeof path, "%s/%s", fz_dir, TT_CONTROL_SOCKET_NAME);

    tt_tap_config tc;
    tt_tap_config_init(&tc);
    tc.own_thread = false;
    tc.live_clock = false;
    tc.max_producers = 1;
    tc.ring_bytes = 4096;
    tc.analyzer.max_flows = 16;
    tc.analyzer.enable_dpi = false;
    tc.memory_budget = 0;
    tt_tap *tap;
    char err[TT_ERRBUF_SIZE];
    CHECK(tt_tap_open(&tap, &tc, err) == 0);
    tt_control_config cc = {.path = path, .tap = tap, .role = "fuzz"};
    tt_control *ctl;
    if (tt_control_open(&ctl, &cc, err) < 0) {
        fprintf(stderr, "fuzz control: %s\n", err);
        tt_tap_close(tap);
        return -1;
    }

    int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(cfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    CHECK(connect(cfd, (struct sockaddr *)&sa, sizeof sa) == 0);

    /* Send everything (serving the server in between), half-close, then
     * read replies until the server closes the connection. */
    static char rbuf[1 << 20];
    size_t rlen = 0, sent = 0;
    bool shut = false, eof = false;
    for (int iter = 0; iter < 100000 && !eof; iter++) {
        if (sent < size) {
            ssize_t w = send(cfd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                sent = size; /* server closed us (oversize request): stop sending */
        } else if (!shut) {
            shutdown(cfd, SHUT_WR);
            shut = true;
        }
        CHECK(tt_control_poll(ctl, 0) == 0);
        for (;;) {
            if (rlen == sizeof rbuf)
                rlen = 0; /* keep only the tail: lines are checked as they come */
            ssize_t r = recv(cfd, rbuf + rlen, sizeof rbuf - rlen, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                eof = true;
                break;
            }
            if (r < 0)
                break;
            rlen += (size_t)r;
            char *nl;
            while ((nl = memchr(rbuf, '\n', rlen)) != NULL) {
                size_t n = (size_t)(nl - rbuf);
                check_reply(rbuf, n);
                rlen -= n + 1;
                memmove(rbuf, nl + 1, rlen);
            }
        }
    }
    CHECK(eof);       /* the server always ends a half-closed connection */
    CHECK(rlen == 0); /* every reply ends with a newline */
    close(cfd);

    tt_marker mk[300];
    unsigned nm = tt_tap_markers(tap, mk, 300);
    for (unsigned i = 0; i < nm && i < 300; i++) {
        size_t n = strnlen(mk[i].label, sizeof mk[i].label);
        CHECK(n > 0 && n < sizeof mk[i].label);
        CHECK(utf8_safe((const unsigned char *)mk[i].label, n));
    }
    tt_control_stats cs;
    tt_control_get_stats(ctl, &cs);
    CHECK(cs.accepted == 1 && cs.refused_peer == 0);
    tt_control_close(ctl);
    struct stat st;
    CHECK(stat(path, &st) < 0 && errno == ENOENT); /* socket file removed */
    tt_tap_close(tap);
    return 0;
}

/* ---- replay of saved inputs ---------------------------------------------- */

int tt_fuzz_replay_file(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (!buf)
        return -1;
    int rc = -1;
    if (strncmp(base, "decode_dpi-", 11) == 0)
        rc = tt_fuzz_decode(buf, n, true);
    else if (strncmp(base, "decode-", 7) == 0)
        rc = tt_fuzz_decode(buf, n, false);
    else if (strncmp(base, "pcapfile-", 9) == 0)
        rc = tt_fuzz_pcapfile(buf, n);
    else if (strncmp(base, "control-", 8) == 0)
        rc = tt_fuzz_control(buf, n);
    free(buf);
    return rc;
}
