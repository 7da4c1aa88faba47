/* test_pcapfile.c - the capture-file reader: tt_pcapfile_each against tt_pcapfile_next. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/pcapfile.h"

#define NPKTS 10

static char dir[] = "/tmp/tt_pcapfile_XXXXXX";
static char path[sizeof dir + 16];

/* A new raw-IP capture `name` in a new directory (path, dir), open for
 * writing; *p is its pcap_t, closed after the dumper. */
static pcap_dumper_t *new_capture(const char *name, pcap_t **p)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *p = pcap_open_dead(DLT_RAW, 65535);
    cr_assert_not_null(*p);
    pcap_dumper_t *d = pcap_dump_open(*p, path);
    cr_assert_not_null(d, "%s", pcap_geterr(*p));
    return d;
}

/* A raw-IP capture of NPKTS IPv4/UDP packets, the i-th (from 1) sent at
 * second 1000 + i to port 1000 when i is even, 2000 when odd, and i + 28
 * bytes long (its last bytes all i). */
static void write_capture(void)
{
    pcap_t *p;
    pcap_dumper_t *d = new_capture("t.pcap", &p);
    for (unsigned i = 1; i <= NPKTS; i++) {
        unsigned char pkt[64];
        size_t len = 28 + i;
        memset(pkt, (int)i, sizeof pkt);
        unsigned char ip[20] = {
            0x45, 0, 0, (unsigned char)len, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
        memcpy(pkt, ip, sizeof ip);
        unsigned dport = i % 2 ? 2000 : 1000;
        unsigned char udp[8] = {0x30,
                                0x39,
                                (unsigned char)(dport >> 8),
                                (unsigned char)dport,
                                0,
                                (unsigned char)(len - 20),
                                0,
                                0};
        memcpy(pkt + 20, udp, sizeof udp);
        struct pcap_pkthdr h = {.ts = {.tv_sec = (time_t)(1000 + i), .tv_usec = (suseconds_t)i},
                                .caplen = (bpf_u_int32)len,
                                .len = (bpf_u_int32)len};
        pcap_dump((u_char *)d, &h, pkt);
    }
    pcap_dump_close(d);
    pcap_close(p);
}

static void remove_capture(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(pcapfile, .init = write_capture, .fini = remove_capture);

typedef struct seen {
    unsigned n;
    uint64_t number[NPKTS], ts_us[NPKTS];
    uint32_t caplen[NPKTS], len[NPKTS];
    unsigned char last[NPKTS];
    unsigned stop_at; /* stop after the packet with this number; 0: never */
} seen;

static void note(seen *s, const tt_pcapfile_pkt *p)
{
    cr_assert_lt(s->n, NPKTS);
    s->number[s->n] = p->number;
    s->ts_us[s->n] = p->ts_us;
    s->caplen[s->n] = p->caplen;
    s->len[s->n] = p->len;
    s->last[s->n] = p->data[p->caplen - 1];
    s->n++;
}

static int on_pkt(void *ctx, const tt_pcapfile_pkt *p)
{
    seen *s = ctx;
    note(s, p);
    return s->stop_at && p->number == s->stop_at;
}

static tt_pcapfile *open_capture(const char *bpf)
{
    tt_pcapfile *f = NULL;
    char err[TT_ERRBUF_SIZE] = "";
    cr_assert_eq(tt_pcapfile_open(&f, path, bpf, err), 0, "%s", err);
    return f;
}

/* Every packet through tt_pcapfile_next, then through tt_pcapfile_each in
 * batches of `batch`: the same packets, records and matches. */
static void compare(const char *bpf, unsigned batch, unsigned want)
{
    char err[TT_ERRBUF_SIZE] = "";
    seen a = {0}, b = {0};
    tt_pcapfile *f = open_capture(bpf);
    tt_pcapfile_pkt p;
    int rc;
    while ((rc = tt_pcapfile_next(f, &p, err)) == 1)
        note(&a, &p);
    cr_assert_eq(rc, 0, "%s", err);
    uint64_t records = tt_pcapfile_records(f), matched = tt_pcapfile_matched(f);
    tt_pcapfile_close(f);

    f = open_capture(bpf);
    unsigned calls = 0;
    while ((rc = tt_pcapfile_each(f, batch, on_pkt, &b, err)) == 1)
        calls++;
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_eq(calls, (NPKTS + batch - 1) / batch, "%u calls of %u records", calls, batch);
    cr_expect_eq(tt_pcapfile_records(f), records);
    cr_expect_eq(tt_pcapfile_matched(f), matched);
    cr_expect_eq(tt_pcapfile_each(f, batch, on_pkt, &b, err), 0, "end of file again");
    tt_pcapfile_close(f);

    cr_assert_eq(a.n, want);
    cr_assert_eq(b.n, a.n);
    for (unsigned i = 0; i < a.n; i++) {
        cr_expect_eq(b.number[i], a.number[i]);
        cr_expect_eq(b.ts_us[i], a.ts_us[i]);
        cr_expect_eq(b.caplen[i], a.caplen[i]);
        cr_expect_eq(b.len[i], a.len[i]);
        cr_expect_eq(b.last[i], a.last[i]);
        cr_expect_eq(a.ts_us[i], (1000 + a.number[i]) * 1000000u + a.number[i]);
        cr_expect_eq(a.last[i], (unsigned char)a.number[i]);
    }
}

Test(pcapfile, each_hands_out_what_next_does)
{
    compare(NULL, 3, NPKTS);
    compare(NULL, 64, NPKTS);
    /* Filtered: a batch counts records read, matching or not. */
    compare("udp dst port 1000", 4, NPKTS / 2);
}

Test(pcapfile, a_stop_ends_the_batch_after_its_packet_and_reading_resumes_there)
{
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    seen s = {.stop_at = 4};
    cr_assert_eq(tt_pcapfile_each(f, 64, on_pkt, &s, err), 1, "%s", err);
    cr_expect_eq(s.n, 4);
    cr_expect_eq(tt_pcapfile_records(f), 4, "records read past the stop");
    /* libpcap's break flag is cleared: the next read is packet 5, not an end. */
    tt_pcapfile_pkt p;
    cr_assert_eq(tt_pcapfile_next(f, &p, err), 1, "%s", err);
    cr_expect_eq(p.number, 5);
    s.stop_at = 7;
    cr_assert_eq(tt_pcapfile_each(f, 64, on_pkt, &s, err), 1, "%s", err);
    cr_expect_eq(s.n, 6);
    s.stop_at = 0;
    cr_assert_eq(tt_pcapfile_each(f, 64, on_pkt, &s, err), 1, "%s", err);
    cr_expect_eq(tt_pcapfile_each(f, 64, on_pkt, &s, err), 0, "%s", err);
    cr_assert_eq(s.n, NPKTS - 1); /* all but packet 5, which next() took */
    for (unsigned i = 0; i < s.n; i++)
        cr_expect_eq(s.number[i], i < 4 ? i + 1 : i + 2);
    tt_pcapfile_close(f);
}

Test(pcapfile, damage_ends_each_after_every_packet_before_it)
{
    /* Cut the file in the middle of record 7: 24-byte file header, then a
     * 16-byte header and 28 + i bytes for each record. */
    long cut = 24;
    for (unsigned i = 1; i <= 6; i++)
        cut += 16 + 28 + (long)i;
    cr_assert_eq(truncate(path, cut + 16 + 10), 0);
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    seen s = {0};
    int rc;
    while ((rc = tt_pcapfile_each(f, 4, on_pkt, &s, err)) == 1)
        ;
    cr_expect_eq(rc, TT_EFORMAT, "%d", rc);
    cr_expect_eq(s.n, 6, "%u packets before the damage", s.n);
    cr_expect(strstr(err, "cannot read packet 7") != NULL, "%s", err);
    err[0] = '\0';
    cr_expect_eq(tt_pcapfile_each(f, 4, on_pkt, &s, err), TT_EFORMAT);
    cr_expect(strstr(err, "cannot read packet 7") != NULL, "again: %s", err);
    tt_pcapfile_close(f);
}

/* ---- reading through the file's mapping (glibc, capture/pcapfile.c) ---- */

#define BIG_PKTS 40000u
#define BIG_LEN 1000u
#define BIG_REC (16u + BIG_LEN)

/* BIG_PKTS records of BIG_LEN bytes, record i (from 1) filled with i & 0xff:
 * 24 + 40 000 * 1 016 bytes, 39 MiB. */
static void write_big(void)
{
    pcap_t *p;
    pcap_dumper_t *d = new_capture("big.pcap", &p);
    unsigned char pkt[BIG_LEN];
    for (unsigned i = 1; i <= BIG_PKTS; i++) {
        memset(pkt, (int)(i & 0xff), sizeof pkt);
        struct pcap_pkthdr h = {
            .ts = {.tv_sec = (time_t)(1000 + i)}, .caplen = BIG_LEN, .len = BIG_LEN};
        pcap_dump((u_char *)d, &h, pkt);
    }
    pcap_dump_close(d);
    pcap_close(p);
}

TestSuite(pcapfile_map, .init = write_big, .fini = remove_capture);

typedef struct bigseen {
    unsigned n;
    unsigned bad; /* records whose bytes are not all their number's low byte */
    long rss0_kb, rss_max_kb;
} bigseen;

static long rss_kb(void)
{
    FILE *s = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (s && fgets(line, sizeof line, s))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (s)
        fclose(s);
    return kb;
}

static int on_big(void *ctx, const tt_pcapfile_pkt *p)
{
    bigseen *s = ctx;
    s->n++;
    if (p->caplen != BIG_LEN || p->number != s->n || p->data[0] != (s->n & 0xff) ||
        p->data[BIG_LEN - 1] != (s->n & 0xff))
        s->bad++;
    if (s->n % 1000 == 0) {
        long kb = rss_kb();
        if (kb > s->rss_max_kb)
            s->rss_max_kb = kb;
    }
    return 0;
}

Test(pcapfile_map, resident_memory_stays_bounded_while_a_large_file_is_read)
{
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    bigseen s = {.rss0_kb = rss_kb()};
    s.rss_max_kb = s.rss0_kb;
    int rc;
    while ((rc = tt_pcapfile_each(f, 64, on_big, &s, err)) == 1)
        ;
    cr_expect_eq(rc, 0, "%d: %s", rc, err);
    cr_expect_eq(s.n, BIG_PKTS);
    cr_expect_eq(s.bad, 0, "%u records read wrong", s.bad);
    /* Pages kept mapped would add the file's 39 MiB; released behind the
     * reading point, at most a step (1 MiB) and what the kernel maps ahead. */
    cr_expect_lt(s.rss_max_kb - s.rss0_kb, 8 * 1024, "resident memory grew %ld KiB reading 39 MiB",
                 s.rss_max_kb - s.rss0_kb);
    tt_pcapfile_close(f);
}

/* Cut to nothing while read: a read error (TT_EIO) that says so, at the
 * first record not already in memory. A mapped file (64-bit glibc) has none
 * left: its pages went with it. Read through read(2) (32-bit glibc maps
 * files only up to 1 MiB), what the stdio buffer held before the cut still
 * comes out whole: at most the buffer's 256 KiB. */
Test(pcapfile_map, a_file_cut_to_nothing_while_read_is_a_read_error)
{
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    tt_pcapfile_pkt p;
    for (unsigned i = 1; i <= 500; i++)
        cr_assert_eq(tt_pcapfile_next(f, &p, err), 1, "packet %u: %s", i, err);
    cr_assert_eq(truncate(path, 0), 0);
    unsigned after = 0;
    int rc;
    while ((rc = tt_pcapfile_next(f, &p, err)) == 1) {
        after++;
        unsigned char want_byte = (unsigned char)((500 + after) & 0xff);
        cr_expect(p.caplen == BIG_LEN && p.data[0] == want_byte && p.data[BIG_LEN - 1] == want_byte,
                  "record %u, after the cut, is not whole", 500 + after);
    }
    cr_expect_eq(rc, TT_EIO, "%d: %s", rc, err);
    if (sizeof(void *) > 4)
        cr_expect_eq(after, 0, "%u records after the cut of a mapped file", after);
    else
        cr_expect_leq(after, (256u << 10) / BIG_REC + 1, "%u records after the cut", after);
    char want[160];
    snprintf(want, sizeof want, "cannot read packet %u: the file shrank from %u to 0 bytes",
             501 + after, 24u + BIG_PKTS * BIG_REC);
    cr_expect(strstr(err, want) != NULL, "%s", err);
    err[0] = '\0';
    bigseen s = {0};
    cr_expect_eq(tt_pcapfile_each(f, 64, on_big, &s, err), TT_EIO, "again");
    cr_expect(strstr(err, want) != NULL, "again: %s", err);
    cr_expect_eq(s.n, 0);
    cr_expect_eq(tt_pcapfile_records(f), 500 + after);
    tt_pcapfile_close(f);
}

Test(pcapfile_map, a_file_cut_while_read_hands_out_every_whole_record_before_the_cut)
{
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    bigseen s = {0};
    cr_assert_eq(tt_pcapfile_each(f, 10, on_big, &s, err), 1, "%s", err);
    /* Cut at 1 MiB, a page boundary: the records wholly before it are read,
     * the one across it is not. */
    const unsigned cut = 1u << 20, whole = (cut - 24u) / BIG_REC;
    cr_assert_eq(truncate(path, cut), 0);
    int rc;
    while ((rc = tt_pcapfile_each(f, 64, on_big, &s, err)) == 1)
        ;
    cr_expect_eq(rc, TT_EIO, "%d: %s", rc, err);
    cr_expect_eq(s.n, whole, "%u records read, %u before the cut", s.n, whole);
    cr_expect_eq(s.bad, 0);
    char want[64];
    snprintf(want, sizeof want, "cannot read packet %u: the file shrank", whole + 1);
    cr_expect(strstr(err, want) != NULL, "%s", err);
    tt_pcapfile_close(f);
}

Test(pcapfile_map, a_file_that_grows_while_read_is_read_to_its_new_end)
{
    char err[TT_ERRBUF_SIZE] = "";
    tt_pcapfile *f = open_capture(NULL);
    bigseen s = {.rss0_kb = rss_kb()};
    s.rss_max_kb = s.rss0_kb;
    cr_assert_eq(tt_pcapfile_each(f, 500, on_big, &s, err), 1, "%s", err);
    /* Append 20 000 records as a capture being written would, copied from
     * records 65.. so that record 40 000 + j holds byte (40 000 + j) & 0xff
     * as on_big expects (40 000 = 64 mod 256). */
    const unsigned more = 20000;
    FILE *in = fopen(path, "rb"), *out = fopen(path, "ab");
    cr_assert(in && out);
    cr_assert_eq(fseek(in, 24 + 64L * BIG_REC, SEEK_SET), 0);
    static unsigned char rec[BIG_REC];
    for (unsigned i = 0; i < more; i++) {
        cr_assert_eq(fread(rec, 1, sizeof rec, in), sizeof rec);
        cr_assert_eq(fwrite(rec, 1, sizeof rec, out), sizeof rec);
    }
    fclose(in);
    cr_assert_eq(fclose(out), 0);
    int rc;
    while ((rc = tt_pcapfile_each(f, 64, on_big, &s, err)) == 1)
        ;
    cr_expect_eq(rc, 0, "%d: %s", rc, err);
    cr_expect_eq(s.n, BIG_PKTS + more);
    cr_expect_eq(s.bad, 0, "%u records read wrong", s.bad);
    cr_expect_lt(s.rss_max_kb - s.rss0_kb, 8 * 1024, "resident memory grew %ld KiB reading 58 MiB",
                 s.rss_max_kb - s.rss0_kb);
    tt_pcapfile_close(f);
}
