/* test_pcapng_writer.c - the pcapng writer and the --evidence file it carries.
 *
 * Every file written here is checked three ways: a strict block walker in
 * this file (draft-ietf-opsawg-pcapng: lengths, trailers, padding, option
 * lists), libpcap (pcap_open_offline reads pcapng: bytes, times, link type)
 * and, when installed, tshark/capinfos (the comments as Wireshark shows them).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/pcapfile.h"
#include "cli/cli.h"
#include "cli/evidence.h"
#include "cli/pcapng_writer.h"
#include "tunneltap/analyzer.h"

/* ---- a strict pcapng reader for the checks ----------------------------- */

#define MAXC 4

typedef struct rpkt {
    uint32_t ifid, caplen, len;
    uint64_t ts;
    const uint8_t *data;
    char *comment[MAXC];
    unsigned ncomment;
} rpkt;

typedef struct rfile {
    uint8_t *buf;
    size_t size;
    char *shb_comment, *userappl;
    unsigned nif;
    uint16_t linktype[8];
    uint32_t snaplen[8];
    int tsresol[8];
    rpkt *pkt;
    size_t npkt;
} rfile;

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static char *dupn(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Walks the options in [p, end): every option padded, the list closed by
 * opt_endofopt exactly at end. Calls back for each (code, value). */
static void walk_options(const uint8_t *p, const uint8_t *end,
                         void (*fn)(void *, uint16_t, const uint8_t *, uint16_t), void *ctx)
{
    if (p == end)
        return; /* no options at all: allowed */
    for (;;) {
        cr_assert_geq(end - p, 4, "option header past the block");
        uint16_t code = rd16(p), len = rd16(p + 2);
        p += 4;
        if (code == 0) {
            cr_assert_eq(len, 0, "opt_endofopt with a value");
            cr_assert_eq(p, end, "data after opt_endofopt");
            return;
        }
        size_t padded = ((size_t)len + 3) & ~(size_t)3;
        cr_assert_leq(padded, (size_t)(end - p), "option value past the block");
        for (size_t i = len; i < padded; i++)
            cr_assert_eq(p[i], 0, "option padding not zero");
        fn(ctx, code, p, len);
        p += padded;
    }
}

static void shb_opt(void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    rfile *f = ctx;
    if (code == 1)
        f->shb_comment = dupn(v, len);
    else if (code == 4)
        f->userappl = dupn(v, len);
}

static void idb_opt(void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    rfile *f = ctx;
    if (code == 9) {
        cr_assert_eq(len, 1);
        f->tsresol[f->nif] = v[0];
    }
}

static void epb_opt(void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    rpkt *k = ctx;
    if (code == 1 && k->ncomment < MAXC)
        k->comment[k->ncomment++] = dupn(v, len);
}

static void rfile_load(rfile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    cr_assert(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->size = (size_t)sz;
    f->buf = malloc(f->size + 1);
    cr_assert(f->buf);
    cr_assert_eq(fread(f->buf, 1, f->size, fp), f->size);
    fclose(fp);

    size_t cap = 0;
    const uint8_t *p = f->buf, *end = f->buf + f->size;
    bool first = true;
    while (p < end) {
        cr_assert_geq(end - p, 12, "block header cut");
        uint32_t type = rd32(p), total = rd32(p + 4);
        cr_assert_geq(total, 12);
        cr_assert_eq(total % 4, 0, "block length %u not a multiple of 4", total);
        cr_assert_leq(total, (size_t)(end - p), "block past the end of the file");
        cr_assert_eq(rd32(p + total - 4), total, "trailing block length differs");
        const uint8_t *bend = p + total - 4;
        if (first) {
            cr_assert_eq(type, 0x0A0D0D0Au, "first block is not a SHB");
            cr_assert_eq(rd32(p + 8), 0x1A2B3C4Du, "byte-order magic");
            cr_assert_eq(rd16(p + 12), 1);
            cr_assert_eq(rd16(p + 14), 0);
            walk_options(p + 24, bend, shb_opt, f);
            first = false;
        } else if (type == 1) {
            cr_assert_lt(f->nif, 8u);
            f->linktype[f->nif] = rd16(p + 8);
            cr_assert_eq(rd16(p + 10), 0, "IDB reserved field");
            f->snaplen[f->nif] = rd32(p + 12);
            f->tsresol[f->nif] = -1;
            walk_options(p + 16, bend, idb_opt, f);
            f->nif++;
        } else if (type == 6) {
            if (f->npkt == cap) {
                cap = cap ? cap * 2 : 64;
                f->pkt = realloc(f->pkt, cap * sizeof *f->pkt);
                cr_assert(f->pkt);
            }
            rpkt *k = &f->pkt[f->npkt++];
            memset(k, 0, sizeof *k);
            k->ifid = rd32(p + 8);
            cr_assert_lt(k->ifid, f->nif, "packet of an undescribed interface");
            k->ts = (uint64_t)rd32(p + 12) << 32 | rd32(p + 16);
            k->caplen = rd32(p + 20);
            k->len = rd32(p + 24);
            k->data = p + 28;
            size_t padded = ((size_t)k->caplen + 3) & ~(size_t)3;
            cr_assert_leq(padded, (size_t)(bend - (p + 28)), "packet data past the block");
            for (size_t i = k->caplen; i < padded; i++)
                cr_assert_eq(k->data[i], 0, "packet padding not zero");
            walk_options(p + 28 + padded, bend, epb_opt, k);
        } else {
            cr_assert_fail("unexpected block type 0x%08x", type);
        }
        p += total;
    }
    cr_assert_not(first, "empty file");
}

static void rfile_free(rfile *f)
{
    for (size_t i = 0; i < f->npkt; i++) {
        for (unsigned c = 0; c < f->pkt[i].ncomment; c++)
            free(f->pkt[i].comment[c]);
    }
    free(f->pkt);
    free(f->shb_comment);
    free(f->userappl);
    free(f->buf);
}

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/tt-pcapng-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Runs a shell command, returns its whole stdout (malloc'd). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    cr_assert(out);
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert(out);
        }
    }
    out[n] = '\0';
    pclose(p);
    return out;
}

/* ---- the writer -------------------------------------------------------- */

TestSuite(pcapng_writer, .init = make_tmpdir, .fini = remove_tmpdir);

/* Raw IPv4 frames of several lengths (odd ones to exercise padding). */
static const uint32_t sizes[] = {20, 1, 2, 3, 0, 61, 1500};
#define NSIZES (sizeof sizes / sizeof sizes[0])
static const char *const comments[NSIZES] = {
    "a", "ab", "abc", "abcd", "", "tunneltap: C1 syn_unanswered certain S0 S", NULL};

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7u + seed);
}

static void write_sample(const char *path)
{
    char err[TT_ERRBUF_SIZE];
    cli_pcapng_writer *w;
    cr_assert_eq(
        cli_pcapng_open(&w, path, "section comment\nline 2 \xC3\xA9", "tunneltap test", err), 0,
        "%s", err);
    uint32_t ifid = 99;
    cr_assert_eq(cli_pcapng_add_interface(w, 101, 65535, "raw0", &ifid), 0);
    cr_assert_eq(ifid, 0u);
    uint8_t buf[1500];
    for (uint32_t i = 0; i < NSIZES; i++) {
        fill(buf, sizes[i], i);
        const char *c[2] = {comments[i], i == 1 ? "second comment" : NULL};
        cr_assert_eq(cli_pcapng_write_packet(w, ifid, 1764244985123456u + i * 1000001u,
                                             sizes[i] ? buf : NULL, sizes[i], sizes[i] + i, c, 2),
                     0);
    }
    cr_assert_eq(cli_pcapng_packets(w), NSIZES);
    cr_assert_eq(cli_pcapng_close(w, err), 0, "%s", err);
}

Test(pcapng_writer, blocks_follow_the_spec)
{
    char path[128];
    tmp_path(path, sizeof path, "sample.pcapng");
    write_sample(path);
    rfile f;
    rfile_load(&f, path);
    cr_assert_str_eq(f.shb_comment, "section comment\nline 2 \xC3\xA9");
    cr_assert_str_eq(f.userappl, "tunneltap test");
    cr_assert_eq(f.nif, 1u);
    cr_assert_eq(f.linktype[0], 101);
    cr_assert_eq(f.snaplen[0], 65535u);
    cr_assert_eq(f.tsresol[0], 6);
    cr_assert_eq(f.npkt, NSIZES);
    for (size_t i = 0; i < NSIZES; i++) {
        const rpkt *k = &f.pkt[i];
        cr_assert_eq(k->caplen, sizes[i]);
        cr_assert_eq(k->len, sizes[i] + i);
        cr_assert_eq(k->ts, 1764244985123456u + i * 1000001u);
        uint8_t want[1500];
        fill(want, sizes[i], (uint32_t)i);
        cr_assert_eq(memcmp(k->data, want, sizes[i]), 0);
        unsigned nc = (comments[i] && *comments[i] ? 1u : 0u) + (i == 1 ? 1u : 0u);
        cr_assert_eq(k->ncomment, nc, "packet %zu: %u comments", i, k->ncomment);
        if (nc)
            cr_assert_str_eq(k->comment[0], comments[i]);
        if (i == 1)
            cr_assert_str_eq(k->comment[1], "second comment");
    }
    rfile_free(&f);
}

Test(pcapng_writer, libpcap_reads_bytes_times_and_link_type)
{
    char path[128], perr[PCAP_ERRBUF_SIZE];
    tmp_path(path, sizeof path, "sample.pcapng");
    write_sample(path);
    pcap_t *p = pcap_open_offline(path, perr);
    cr_assert(p, "%s", perr);
    cr_assert_eq(pcap_datalink(p), DLT_RAW); /* libpcap maps LINKTYPE_RAW (101) to DLT_RAW */
    struct pcap_pkthdr *h;
    const u_char *data;
    size_t i = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        cr_assert_lt(i, NSIZES);
        cr_assert_eq(h->caplen, sizes[i]);
        cr_assert_eq(h->len, sizes[i] + i);
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        cr_assert_eq(ts, 1764244985123456u + i * 1000001u);
        uint8_t want[1500];
        fill(want, sizes[i], (uint32_t)i);
        cr_assert_eq(memcmp(data, want, sizes[i]), 0);
        i++;
    }
    cr_assert_eq(rc, PCAP_ERROR_BREAK, "%s", pcap_geterr(p));
    cr_assert_eq(i, NSIZES);
    pcap_close(p);
}

Test(pcapng_writer, a_64k_packet_round_trips)
{
    char path[128], err[TT_ERRBUF_SIZE], perr[PCAP_ERRBUF_SIZE];
    tmp_path(path, sizeof path, "big.pcapng");
    const uint32_t n = 65536 + 3;
    uint8_t *buf = malloc(n);
    cr_assert(buf);
    fill(buf, n, 5);
    cli_pcapng_writer *w;
    uint32_t ifid;
    cr_assert_eq(cli_pcapng_open(&w, path, NULL, NULL, err), 0, "%s", err);
    cr_assert_eq(cli_pcapng_add_interface(w, 1, 0, NULL, &ifid), 0);
    const char *c[] = {"big"};
    cr_assert_eq(cli_pcapng_write_packet(w, ifid, 1000000, buf, n, n, c, 1), 0);
    cr_assert_eq(cli_pcapng_close(w, err), 0, "%s", err);

    rfile f;
    rfile_load(&f, path);
    cr_assert_null(f.shb_comment);
    cr_assert_eq(f.npkt, 1u);
    cr_assert_eq(f.pkt[0].caplen, n);
    cr_assert_eq(memcmp(f.pkt[0].data, buf, n), 0);
    cr_assert_str_eq(f.pkt[0].comment[0], "big");
    rfile_free(&f);

    pcap_t *p = pcap_open_offline(path, perr);
    cr_assert(p, "%s", perr);
    struct pcap_pkthdr *h;
    const u_char *data;
    cr_assert_eq(pcap_next_ex(p, &h, &data), 1, "%s", pcap_geterr(p));
    cr_assert_eq(h->caplen, n);
    cr_assert_eq(memcmp(data, buf, n), 0);
    pcap_close(p);
    free(buf);
}

Test(pcapng_writer, a_comment_over_64k_is_cut_on_a_utf8_boundary)
{
    char path[128], err[TT_ERRBUF_SIZE];
    tmp_path(path, sizeof path, "long.pcapng");
    size_t n = 70001; /* 'x' then "é" repeated: the cut lands inside a character */
    char *s = malloc(n + 1);
    cr_assert(s);
    s[0] = 'x';
    for (size_t i = 1; i + 1 < n; i += 2) {
        s[i] = (char)0xC3;
        s[i + 1] = (char)0xA9;
    }
    s[n] = '\0';
    cli_pcapng_writer *w;
    uint32_t ifid;
    cr_assert_eq(cli_pcapng_open(&w, path, s, NULL, err), 0, "%s", err);
    cr_assert_eq(cli_pcapng_add_interface(w, 101, 0, NULL, &ifid), 0);
    const char *c[] = {s};
    uint8_t ip[20] = {0x45};
    cr_assert_eq(cli_pcapng_write_packet(w, ifid, 1, ip, sizeof ip, sizeof ip, c, 1), 0);
    cr_assert_eq(cli_pcapng_close(w, err), 0, "%s", err);
    rfile f;
    rfile_load(&f, path);
    size_t got = strlen(f.pkt[0].comment[0]);
    cr_assert_leq(got, CLI_PCAPNG_OPT_MAX);
    cr_assert_geq(got, CLI_PCAPNG_OPT_MAX - 1);
    cr_assert_eq(got % 2, 1, "cut inside a UTF-8 character");
    cr_assert_eq(strncmp(f.pkt[0].comment[0], s, got), 0);
    cr_assert_eq(strlen(f.shb_comment), got);
    rfile_free(&f);
    free(s);
}

Test(pcapng_writer, tshark_and_capinfos_show_the_comments)
{
    if (!have("tshark") || !have("capinfos"))
        cr_skip_test("tshark/capinfos not installed");
    char path[128], cmd[512];
    tmp_path(path, sizeof path, "sample.pcapng");
    write_sample(path);
    /* frame.comment: Wireshark 3.6 and later (pkt_comment before). Several
     * comments of one packet come out separated by commas. */
    snprintf(cmd, sizeof cmd,
             "tshark -r '%s' -T fields -e frame.number -e frame.len -e frame.comment 2>&1", path);
    char *out = run(cmd);
    cr_assert(strstr(out, "1\t20\ta\n"), "%s", out);
    cr_assert(strstr(out, "2\t2\tab,second comment\n"), "%s", out);
    cr_assert(strstr(out, "3\t4\tabc\n"), "%s", out);
    cr_assert(strstr(out, "5\t4\t\n"), "%s", out); /* empty packet, no comment */
    cr_assert(strstr(out, "6\t66\ttunneltap: C1 syn_unanswered certain S0 S\n"), "%s", out);
    cr_assert(strstr(out, "7\t1506\t\n"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "capinfos -k '%s' 2>&1", path);
    out = run(cmd);
    cr_assert(strstr(out, "section comment"), "%s", out);
    free(out);
}

Test(pcapng_writer, errors_are_reported)
{
    char err[TT_ERRBUF_SIZE] = "";
    cli_pcapng_writer *w;
    cr_assert_eq(cli_pcapng_open(&w, "/nonexistent-dir/x.pcapng", NULL, NULL, err), TT_ENOENT);
    cr_assert(strstr(err, "/nonexistent-dir/x.pcapng"), "%s", err);
    cr_assert_null(w);
    if (access("/dev/full", W_OK) != 0)
        return;
    cr_assert_eq(cli_pcapng_open(&w, "/dev/full", "x", NULL, err), 0, "%s", err);
    uint32_t ifid;
    cr_assert_eq(cli_pcapng_add_interface(w, 101, 0, NULL, &ifid), 0);
    cr_assert_eq(cli_pcapng_add_interface(w, 70000, 0, NULL, &ifid), TT_EINVAL);
    uint8_t pkt[100] = {0};
    cr_assert_eq(cli_pcapng_write_packet(w, 7, 0, pkt, 10, 10, NULL, 0), TT_EINVAL);
    /* stdio buffers: the failure shows at the latest when the file is closed */
    for (int i = 0; i < 200; i++)
        cli_pcapng_write_packet(w, ifid, 0, pkt, sizeof pkt, sizeof pkt, NULL, 0);
    cr_assert_eq(cli_pcapng_close(w, err), TT_EIO);
    cr_assert(strstr(err, "No space"), "%s", err);
}

/* ---- a synthetic capture for the evidence ------------------------------ */

/* Twenty seconds of a client talking to a server, with three failures from
 * the tenth second on (the marker): DNS unanswered, TCP SYNs unanswered
 * (each sent twice), UDP to a closed port answered by ICMP port
 * unreachable from a router. Fifteen more seconds of answered DNS let every
 * deadline pass, so all failures are certain. */
#define T0 UINT64_C(1764244800000000) /* 2025-11-27 12:00:00 UTC */
#define SEC UINT64_C(1000000)
#define MARK_US (T0 + 10 * SEC)
#define NFAIL 10 /* of each kind */

/* Packets are collected, then written in time order. */
typedef struct gpkt {
    uint64_t ts;
    size_t len, seq;
    uint8_t data[160];
} gpkt;

typedef struct gen {
    bool eth;
    int ipver;
    uint16_t ipid;
    gpkt *pkt;
    size_t n, cap;
} gen;

enum { CLIENT = 1, SERVER = 2, CLOSED = 3, ROUTER = 254 };

static void addr(const gen *g, int host, uint8_t *a)
{
    if (g->ipver == 4) {
        const uint8_t v4[4] = {10, 0, 0, (uint8_t)host};
        memcpy(a, v4, 4);
    } else {
        memset(a, 0, 16);
        a[0] = 0xfd;
        a[15] = (uint8_t)host;
    }
}

/* An IP header for proto and l4len bytes after it, at h; returns its length. */
static size_t ip_header(gen *g, uint8_t *h, int src, int dst, uint8_t proto, size_t l4len)
{
    if (g->ipver == 4) {
        size_t tot = 20 + l4len;
        memset(h, 0, 20);
        h[0] = 0x45;
        h[2] = (uint8_t)(tot >> 8);
        h[3] = (uint8_t)tot;
        h[4] = (uint8_t)(g->ipid >> 8);
        h[5] = (uint8_t)g->ipid++;
        h[8] = 64;
        h[9] = proto;
        addr(g, src, h + 12);
        addr(g, dst, h + 16);
        uint32_t sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += (uint32_t)(h[i] << 8 | h[i + 1]);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        h[10] = (uint8_t)(~sum >> 8);
        h[11] = (uint8_t)~sum;
        return 20;
    }
    memset(h, 0, 40);
    h[0] = 0x60;
    h[4] = (uint8_t)(l4len >> 8);
    h[5] = (uint8_t)l4len;
    h[6] = proto;
    h[7] = 64;
    addr(g, src, h + 8);
    addr(g, dst, h + 24);
    return 40;
}

static void emit(gen *g, uint64_t ts, int src, int dst, uint8_t proto, const uint8_t *l4,
                 size_t l4len)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->pkt = realloc(g->pkt, g->cap * sizeof *g->pkt);
        cr_assert(g->pkt);
    }
    gpkt *k = &g->pkt[g->n];
    uint8_t *pkt = k->data;
    size_t off = 0;
    if (g->eth) {
        static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
        memcpy(pkt, macs, 12);
        pkt[12] = g->ipver == 4 ? 0x08 : 0x86;
        pkt[13] = g->ipver == 4 ? 0x00 : 0xDD;
        off = 14;
    }
    off += ip_header(g, pkt + off, src, dst, proto, l4len);
    cr_assert_leq(off + l4len, sizeof k->data);
    memcpy(pkt + off, l4, l4len);
    k->len = off + l4len;
    k->ts = ts;
    k->seq = g->n++;
}

static int gpkt_cmp(const void *pa, const void *pb)
{
    const gpkt *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void gen_write(gen *g, const char *path)
{
    pcap_t *p = pcap_open_dead_with_tstamp_precision(g->eth ? DLT_EN10MB : DLT_RAW, 65535,
                                                     PCAP_TSTAMP_PRECISION_MICRO);
    cr_assert(p);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    cr_assert(d, "%s", pcap_geterr(p));
    qsort(g->pkt, g->n, sizeof *g->pkt, gpkt_cmp);
    for (size_t i = 0; i < g->n; i++) {
        struct pcap_pkthdr h = {.caplen = (bpf_u_int32)g->pkt[i].len,
                                .len = (bpf_u_int32)g->pkt[i].len};
        h.ts.tv_sec = (time_t)(g->pkt[i].ts / SEC);
        h.ts.tv_usec = (suseconds_t)(g->pkt[i].ts % SEC);
        pcap_dump((u_char *)d, &h, g->pkt[i].data);
    }
    pcap_dump_close(d);
    pcap_close(p);
    free(g->pkt);
}

static size_t udp_hdr(uint8_t *u, uint16_t sport, uint16_t dport, size_t payload)
{
    memset(u, 0, 8 + payload);
    u[0] = (uint8_t)(sport >> 8);
    u[1] = (uint8_t)sport;
    u[2] = (uint8_t)(dport >> 8);
    u[3] = (uint8_t)dport;
    u[4] = (uint8_t)((8 + payload) >> 8);
    u[5] = (uint8_t)(8 + payload);
    memset(u + 8, 'q', payload);
    return 8 + payload;
}

static void udp(gen *g, uint64_t ts, int src, uint16_t sport, int dst, uint16_t dport)
{
    uint8_t u[40];
    emit(g, ts, src, dst, 17, u, udp_hdr(u, sport, dport, 20));
}

static void tcp(gen *g, uint64_t ts, int src, uint16_t sport, int dst, uint16_t dport,
                uint8_t flags, uint32_t seq, uint32_t ack)
{
    uint8_t t[20] = {0};
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = 5 << 4;
    t[13] = flags;
    t[14] = t[15] = 0xff;
    emit(g, ts, src, dst, 6, t, sizeof t);
}

/* ICMP / ICMPv6 port unreachable from the router, quoting a UDP datagram. */
static void port_unreachable(gen *g, uint64_t ts, int src, uint16_t sport, int dst, uint16_t dport)
{
    uint8_t m[8 + 40 + 28];
    memset(m, 0, 8);
    m[0] = g->ipver == 4 ? 3 : 1;
    m[1] = g->ipver == 4 ? 3 : 4;
    uint8_t u[28];
    size_t ul = udp_hdr(u, sport, dport, 20);
    uint16_t saved = g->ipid;
    size_t hl = ip_header(g, m + 8, src, dst, 17, ul);
    g->ipid = saved;
    memcpy(m + 8 + hl, u, 8); /* the quote: IP header and 8 bytes of UDP */
    emit(g, ts, ROUTER, src, g->ipver == 4 ? 1 : 58, m, 8 + hl + 8);
}

/* Writes the scenario to path. */
static void make_capture(const char *path, bool eth, int ipver)
{
    gen g = {.eth = eth, .ipver = ipver, .ipid = 1};
    for (unsigned i = 0; i < 20; i++) {
        uint64_t t = T0 + i * SEC;
        bool fail = i >= 20 - NFAIL;
        udp(&g, t, CLIENT, (uint16_t)(20000 + i), SERVER, 53);
        if (!fail)
            udp(&g, t + 10000, SERVER, 53, CLIENT, (uint16_t)(20000 + i));
        if (fail) {
            udp(&g, t + 250000, CLIENT, (uint16_t)(30000 + i), CLOSED, 7777);
            port_unreachable(&g, t + 251000, CLIENT, (uint16_t)(30000 + i), CLOSED, 7777);
        } else {
            udp(&g, t + 250000, CLIENT, (uint16_t)(30000 + i), SERVER, 7777);
            udp(&g, t + 251000, SERVER, 7777, CLIENT, (uint16_t)(30000 + i));
        }
        uint16_t sp = (uint16_t)(40000 + i);
        uint32_t seq = 1000u * i;
        tcp(&g, t + 500000, CLIENT, sp, SERVER, 80, 0x02, seq, 0);
        if (fail) {
            tcp(&g, t + 1500000, CLIENT, sp, SERVER, 80, 0x02, seq, 0); /* retransmitted */
        } else {
            tcp(&g, t + 501000, SERVER, 80, CLIENT, sp, 0x12, 77u * i, seq + 1);
            tcp(&g, t + 502000, CLIENT, sp, SERVER, 80, 0x10, seq + 1, 77u * i + 1);
            tcp(&g, t + 503000, CLIENT, sp, SERVER, 80, 0x11, seq + 1, 77u * i + 1);
            tcp(&g, t + 504000, SERVER, 80, CLIENT, sp, 0x11, 77u * i + 1, seq + 2);
            tcp(&g, t + 505000, CLIENT, sp, SERVER, 80, 0x10, seq + 2, 77u * i + 2);
        }
    }
    for (unsigned i = 20; i < 35; i++) {
        uint64_t t = T0 + i * SEC;
        udp(&g, t, CLIENT, (uint16_t)(20000 + i), SERVER, 53);
        udp(&g, t + 10000, SERVER, 53, CLIENT, (uint16_t)(20000 + i));
    }
    gen_write(&g, path);
}

/* ---- the evidence file ------------------------------------------------- */

TestSuite(evidence, .init = make_tmpdir, .fini = remove_tmpdir);

static void keep_conn(void *ctx, const tt_conn *c)
{
    cr_assert_eq(cli_connbuf_add(ctx, c), 0);
}

/* Runs the analyzer over a capture into buf (sorted), as replay does. */
static void analyse(const char *capture, const char *bpf, cli_connbuf *buf)
{
    char err[TT_ERRBUF_SIZE];
    tt_analyzer_config cfg;
    tt_analyzer_config_init(&cfg);
    cfg.on_conn = keep_conn;
    cfg.conn_ctx = buf;
    tt_analyzer *a;
    cr_assert_eq(tt_analyzer_open(&a, &cfg, err), 0, "%s", err);
    tt_pcapfile *f;
    cr_assert_eq(tt_pcapfile_open(&f, capture, bpf, err), 0, "%s", err);
    tt_pcapfile_pkt p;
    int rc;
    while ((rc = tt_pcapfile_next(f, &p, err)) == 1)
        tt_analyzer_packet(a, tt_pcapfile_linktype(f), p.ts_us, p.data, p.caplen, p.len);
    cr_assert_eq(rc, 0, "%s", err);
    tt_analyzer_finish(a);
    tt_analyzer_close(a);
    tt_pcapfile_close(f);
    cli_connbuf_sort(buf);
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool near_us(uint64_t ts, uint64_t mark)
{
    return ts + 5 * SEC >= mark && ts <= mark + 5 * SEC;
}

/* Writes the evidence of capture with a marker at mark_us and checks it:
 * every packet of every failed flow (the records' packet counts, plus the
 * ICMP errors quoting them), every packet within ±5 s of the marker, one
 * MARKER comment on the first packet at or after it. Returns the ICMP
 * errors written for the flows they quote. */
static uint64_t check_evidence(const char *capture, uint64_t mark_us)
{
    char out[128], err[TT_ERRBUF_SIZE];
    snprintf(out, sizeof out, "%s/evidence.pcapng", tmpdir);
    cli_connbuf buf = {0};
    analyse(capture, NULL, &buf);
    tt_marker m = {.ts_us = mark_us};
    snprintf(m.label, sizeof m.label, "filter 2.1 <&\"test\">");

    uint64_t want_flow_pkts = 0;
    size_t flagged = 0;
    for (size_t i = 0; i < buf.n; i++) {
        if (tt_verdict_is_failure(buf.v[i].verdict)) {
            want_flow_pkts += buf.v[i].orig_pkts + buf.v[i].resp_pkts;
            flagged++;
        }
    }
    cr_assert_gt(flagged, 0u);

    tt_alert al = {.kind = TT_ALERT_UDP_UNANSWERED, .ts_us = m.ts_us};
    snprintf(al.message, sizeof al.message, "UDP broken since \"%s\"", m.label);
    cli_evidence_input in = {.capture_path = capture,
                             .records = &buf,
                             .markers = &m,
                             .nmarkers = 1,
                             .alerts = &al,
                             .nalerts = 1,
                             .around_marker_s = 5};
    uint64_t written = 0;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), 0, "%s", err);

    uint64_t want_near = 0;
    tt_pcapfile *f;
    cr_assert_eq(tt_pcapfile_open(&f, capture, NULL, err), 0, "%s", err);
    tt_pcapfile_pkt p;
    while (tt_pcapfile_next(f, &p, err) == 1)
        want_near += near_us(p.ts_us, m.ts_us);
    int linktype = tt_pcapfile_linktype(f);
    tt_pcapfile_close(f);

    rfile r;
    rfile_load(&r, out);
    cr_assert_eq(r.npkt, written);
    cr_assert_eq(r.linktype[0], linktype == DLT_RAW ? 101 : linktype); /* LINKTYPE_, not DLT_ */
    cr_assert(strstr(r.shb_comment, "flagged flows: "), "%s", r.shb_comment);
    cr_assert(strstr(r.shb_comment, "\"filter 2.1 <&\"test\">\""), "%s", r.shb_comment);
    cr_assert(strstr(r.shb_comment, "udp_unanswered: UDP broken since"), "%s", r.shb_comment);

    uint64_t flow_pkts = 0, quoting = 0, near = 0, marks = 0, prev_ts = 0;
    for (size_t i = 0; i < r.npkt; i++) {
        const rpkt *k = &r.pkt[i];
        cr_assert_geq(k->ts, prev_ts, "packets out of order");
        prev_ts = k->ts;
        cr_assert_geq(k->ncomment, 1u);
        for (unsigned c = 0; c < k->ncomment; c++) {
            const char *s = k->comment[c];
            cr_assert(starts(s, "tunneltap: "), "%s", s);
            if (starts(s, "tunneltap: MARKER ")) {
                marks++;
                cr_assert_geq(k->ts, m.ts_us);
                cr_assert(i == 0 || r.pkt[i - 1].ts < m.ts_us, "marker not on the first packet");
                cr_assert(strstr(s, "Z"), "%s", s);
                continue;
            }
            near += near_us(k->ts, m.ts_us);
            if (starts(s, "tunneltap: around marker "))
                continue;
            flow_pkts++;
            quoting += strstr(s, "quoting this flow") != NULL;
            cr_assert(strstr(s, " unanswered ") || strstr(s, " icmp_unreachable ") ||
                          strstr(s, " syn_"),
                      "%s", s);
            cr_assert(strstr(s, "certain"), "%s", s);
        }
    }
    cr_assert_eq(marks, r.npkt && r.pkt[r.npkt - 1].ts >= m.ts_us ? 1u : 0u);
    cr_assert_eq(flow_pkts - quoting, want_flow_pkts,
                 "%" PRIu64 " packets of failed flows, want %" PRIu64, flow_pkts - quoting,
                 want_flow_pkts);
    cr_assert_eq(near, want_near, "%" PRIu64 " packets near the marker, want %" PRIu64, near,
                 want_near);
    rfile_free(&r);

    if (have("tshark")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "tshark -r '%s' -Y 'frame.comment contains \"certain \"' -T fields "
                 "-e frame.number 2>/dev/null | wc -l",
                 out);
        char *o = run(cmd);
        cr_assert_eq(strtoull(o, NULL, 10), flow_pkts, "tshark: %s", o);
        free(o);
    }
    cli_connbuf_free(&buf);
    return quoting;
}

Test(evidence, keeps_every_packet_of_failed_flows_and_around_the_marker)
{
    char capture[128];
    snprintf(capture, sizeof capture, "%s/lab.pcap", tmpdir);
    make_capture(capture, false, 4);
    cr_assert_eq(check_evidence(capture, MARK_US), NFAIL);
}

Test(evidence, works_on_the_lab_captures)
{
    static const char *const names[] = {"udp-drop-v4-raw", "reject-v6-eth",
                                        "udp-synack-drop-v4-eth"};
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char capture[512], marker[512], line[256];
        snprintf(capture, sizeof capture, "%s/%s.pcap", TT_CAPTURES_DIR, names[i]);
        snprintf(marker, sizeof marker, "%s/%.*s.marker", TT_CAPTURES_DIR,
                 (int)(strrchr(names[i], '-') - names[i]), names[i]);
        FILE *f = fopen(marker, "r");
        if (access(capture, R_OK) != 0 || !f) {
            if (f)
                fclose(f);
            cr_log_info("%s not there (being re-recorded?): skipped", capture);
            continue;
        }
        cr_assert(fgets(line, sizeof line, f));
        fclose(f);
        unsigned long long s, us;
        cr_assert_eq(sscanf(line, "%llu.%6llu", &s, &us), 2);
        check_evidence(capture, (uint64_t)s * SEC + us);
        checked++;
    }
    if (!checked)
        cr_skip_test("no lab capture in " TT_CAPTURES_DIR);
}

Test(evidence, icmp_errors_go_with_the_flow_they_quote)
{
    char capture[128], out[128], err[TT_ERRBUF_SIZE];
    snprintf(capture, sizeof capture, "%s/v6.pcap", tmpdir);
    snprintf(out, sizeof out, "%s/v6.pcapng", tmpdir);
    make_capture(capture, true, 6);
    cli_connbuf buf = {0};
    analyse(capture, NULL, &buf);
    size_t unreach = 0, syn = 0, dns = 0;
    for (size_t i = 0; i < buf.n; i++) {
        unreach += buf.v[i].verdict == TT_VERDICT_ICMP_UNREACHABLE;
        syn += buf.v[i].verdict == TT_VERDICT_SYN_UNANSWERED;
        dns += buf.v[i].verdict == TT_VERDICT_UNANSWERED;
    }
    cr_assert_eq(unreach, NFAIL);
    cr_assert_eq(syn, NFAIL);
    cr_assert_eq(dns, NFAIL);

    cli_evidence_input in = {.capture_path = capture, .records = &buf, .around_marker_s = 5};
    uint64_t written;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), 0, "%s", err);
    /* each failure: DNS 1 packet, SYN 2, closed port 1 + the ICMP error */
    cr_assert_eq(written, 5u * NFAIL);
    rfile r;
    rfile_load(&r, out);
    cr_assert_eq(r.linktype[0], 1);
    size_t quoting = 0;
    for (size_t i = 0; i < r.npkt; i++) {
        const char *s = r.pkt[i].comment[0];
        cr_assert(strstr(s, " certain "), "%s", s);
        if (strstr(s, "quoting this flow")) {
            quoting++;
            cr_assert(strstr(s, " icmp_unreachable "), "%s", s);
            cr_assert(strstr(s, " udp [fd00::1]:300"), "%s", s);
            cr_assert(strstr(s, "(ICMP type 1 code 4 quoting this flow)"), "%s", s);
            cr_assert(i > 0 && strstr(r.pkt[i - 1].comment[0], " icmp_unreachable "),
                      "the error follows its request");
        }
    }
    cr_assert_eq(quoting, NFAIL);
    rfile_free(&r);
    cli_connbuf_free(&buf);
}

Test(evidence, the_filter_applies_and_nothing_flagged_gives_an_empty_file)
{
    char capture[128], out[128], err[TT_ERRBUF_SIZE];
    snprintf(capture, sizeof capture, "%s/lab.pcap", tmpdir);
    snprintf(out, sizeof out, "%s/filtered.pcapng", tmpdir);
    make_capture(capture, false, 4);

    cli_connbuf buf = {0};
    analyse(capture, "tcp", &buf);
    cli_evidence_input in = {.capture_path = capture, .bpf = "tcp", .records = &buf};
    uint64_t written = 0;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), 0, "%s", err);
    cr_assert_eq(written, 2u * NFAIL); /* the SYNs and their retransmissions */
    cli_connbuf_free(&buf);

    cli_connbuf none = {0};
    analyse(capture, "icmp", &none); /* the ICMP errors alone: no failure */
    in = (cli_evidence_input){.capture_path = capture, .bpf = "icmp", .records = &none};
    written = 1;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), 0, "%s", err);
    cr_assert_eq(written, 0u);
    rfile r;
    rfile_load(&r, out);
    cr_assert_eq(r.npkt, 0u);
    cr_assert_eq(r.nif, 1u);
    cr_assert(strstr(r.shb_comment, "(filter: icmp)"), "%s", r.shb_comment);
    cr_assert(strstr(r.shb_comment, "flagged flows: 0 of "), "%s", r.shb_comment);
    rfile_free(&r);
    cli_connbuf_free(&none);
}

Test(evidence, a_marker_before_the_capture_goes_on_the_first_packet)
{
    char capture[128], out[128], err[TT_ERRBUF_SIZE];
    snprintf(capture, sizeof capture, "%s/lab.pcap", tmpdir);
    snprintf(out, sizeof out, "%s/early.pcapng", tmpdir);
    make_capture(capture, false, 4);
    cli_connbuf buf = {0};
    analyse(capture, NULL, &buf);
    tt_marker m[2] = {{.ts_us = T0 - 3600 * SEC, .label = "an hour before"},
                      {.ts_us = MARK_US, .label = "filter 2.1"}};
    cli_evidence_input in = {.capture_path = capture,
                             .records = &buf,
                             .markers = m,
                             .nmarkers = 2,
                             .around_marker_s = 0};
    uint64_t written;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), 0, "%s", err);
    cr_assert_eq(written, 5u * NFAIL); /* no window: only the failures */
    rfile r;
    rfile_load(&r, out);
    /* the first failure is at the second marker: both markers, then the flow */
    cr_assert_eq(r.pkt[0].ncomment, 3u);
    cr_assert_str_eq(r.pkt[0].comment[0],
                     "tunneltap: MARKER \"an hour before\" at 2025-11-27T11:00:00.000000Z");
    cr_assert_str_eq(r.pkt[0].comment[1],
                     "tunneltap: MARKER \"filter 2.1\" at 2025-11-27T12:00:10.000000Z");
    cr_assert(strstr(r.pkt[0].comment[2], " unanswered certain "), "%s", r.pkt[0].comment[2]);
    size_t marks = 0;
    for (size_t i = 0; i < r.npkt; i++)
        for (unsigned c = 0; c < r.pkt[i].ncomment; c++)
            marks += starts(r.pkt[i].comment[c], "tunneltap: MARKER ");
    cr_assert_eq(marks, 2u);
    rfile_free(&r);
    cli_connbuf_free(&buf);
}

Test(evidence, stdin_and_missing_captures_are_refused)
{
    char out[128], err[TT_ERRBUF_SIZE] = "";
    snprintf(out, sizeof out, "%s/x.pcapng", tmpdir);
    cli_connbuf buf = {0};
    cli_evidence_input in = {.capture_path = "-", .records = &buf};
    uint64_t written;
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), TT_EINVAL);
    cr_assert(strstr(err, "stdin"), "%s", err);
    in.capture_path = "/nonexistent.pcap";
    cr_assert_eq(cli_evidence_write(out, &in, &written, err), TT_ENOENT);
}
