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

/* A raw-IP capture of NPKTS IPv4/UDP packets, the i-th (from 1) sent at
 * second 1000 + i to port 1000 when i is even, 2000 when odd, and i + 28
 * bytes long (its last bytes all i). */
static void write_capture(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.pcap", dir);
    pcap_t *p = pcap_open_dead(DLT_RAW, 65535);
    cr_assert_not_null(p);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    cr_assert_not_null(d, "%s", pcap_geterr(p));
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
        struct pcap_pkthdr h = {.ts = {.tv_sec = 1000 + i, .tv_usec = (suseconds_t)i},
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
