/* pcapfile.c - capture-file ingestion (pcap, pcapng, stdin) through libpcap. */
#include "analyze/errbuf.h"
#include "capture/pcapfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <stdio_ext.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__GLIBC__) && defined(__linux__)
/* Regular files are read through glibc's mapping of them (fopen mode "m"). */
#define TT_PCAPFILE_MAP 1
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#endif

#include <pcap/pcap.h>

#include "tunneltap/analyzer.h"

struct tt_pcapfile {
    pcap_t *p;
    char *name; /* path as given, or "stdin" */
    struct bpf_program prog;
    bool has_prog;
    int linktype;
    uint64_t size;    /* 0: unknown (pipe) */
    uint64_t records; /* records read, filtered or not */
    uint64_t matched; /* records that passed the filter */
    int err;          /* sticky: 0 or the error a read returned */
    bool broke;       /* pcap_breakloop() called: libpcap's flag is still set */
    char errmsg[TT_ERRBUF_SIZE];
    char *iobuf; /* stdio buffer of the file: freed after the file is closed */
#ifdef TT_PCAPFILE_MAP
    const char *map; /* glibc's mapping of the whole file, or NULL (see map_check) */
    size_t map_len;
    size_t released; /* bytes from map given back to the kernel (release_behind) */
#endif
};

/* Is the file (descriptor fd) now smaller than the `orig` bytes it had while
 * being read? Then the message says so, and the record that could not be
 * read: the file was cut or rewritten by another program, whether the
 * stream was reading a mapping (a fault) or through read(2) (a record cut
 * short: glibc maps files only up to 1 MiB on 32-bit systems). */
static bool shrank(tt_pcapfile *f, int fd, uint64_t orig)
{
    struct stat st;
    if (orig == 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size >= orig)
        return false;
    snprintf(f->errmsg, sizeof f->errmsg,
             "%s: cannot read packet %llu: the file shrank from %llu to %lld bytes while it "
             "was being read (cut or rewritten by another program)",
             f->name, (unsigned long long)(f->records + 1), (unsigned long long)orig,
             (long long)st.st_size);
    return true;
}

#ifdef TT_PCAPFILE_MAP
/* Reading a regular file, glibc's stdio maps it whole (fopen mode "m") and
 * fread() copies each record straight from the page cache into libpcap's
 * buffer: one copy fewer than read(2) into a stdio buffer first, 5-9 % of a
 * long-flow replay (docs/PERFORMANCE-history.md, thirteenth round). Two things come
 * with a mapping:
 * - Pages read stay mapped, so resident memory would grow to the file's
 *   size. Every RELEASE_STEP read, release_behind() drops the pages behind
 *   the reading point (MADV_DONTNEED: the page cache keeps them, only this
 *   process's mapping lets go; reading them again would fault them back in).
 *   Smaller steps cost more than they save (256 KiB: +6 %; each madvise
 *   also interrupts the other thread's vCPU to flush its TLB).
 * - A file cut short by another program while it is read would end the
 *   process with SIGBUS at the first page past its new end. Reads are made
 *   under a guard (guarded_dispatch) that turns that signal into a read
 *   error naming the file, as a file that was already short gives. An I/O
 *   error on the file's pages raises SIGBUS too, and is reported the same
 *   way. A host that later installs a SIGBUS handler of its own replaces
 *   the guard's.
 * The mapping is glibc's own: its place is read from the FILE's public
 * buffer fields, and used only while they describe one page-aligned span
 * of at least the file's size (looks_mapped). */
#define RELEASE_STEP (1u << 20)

/* The read running under a guard on this thread, if any, and its stream:
 * the stream's buffer fields are the mapping, wherever glibc has moved it
 * (it remaps a file that grew during the read before copying from it). */
typedef struct map_guard {
    sigjmp_buf jb;
    FILE *fp;
} map_guard;
static _Thread_local map_guard *volatile tls_guard;
static struct sigaction old_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    map_guard *g = tls_guard;
    const char *a = si ? (const char *)si->si_addr : NULL;
    if (g && a >= g->fp->_IO_buf_base && a < g->fp->_IO_buf_end) {
        tls_guard = NULL;
        siglongjmp(g->jb, 1);
    }
    /* Not a mapped capture's: what the disposition before ours would do. */
    if ((old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_sigaction) {
        old_bus.sa_sigaction(sig, si, uc);
    } else if (!(old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_handler != SIG_DFL &&
               old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
    } else {
        /* The default (a fault cannot be ignored): the access runs again on
         * return and the signal ends the process as it would have. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        (void)sigaction(SIGBUS, &dfl, NULL);
    }
}

static void install_sigbus(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    /* SA_NODEFER: the guard leaves the handler by siglongjmp without
     * restoring a signal mask (sigsetjmp(jb, 0): no system call per read),
     * so SIGBUS must not be blocked while the handler runs. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGBUS, &sa, &old_bus);
}

/* Does the stream's buffer span look like glibc's mapping of a file of at
 * least `size` bytes? A page-aligned start and the whole file. In read(2)
 * mode glibc's buffer is st_blksize bytes (4 KiB), so it can pass only for a
 * file that small, and then release_behind() never reaches RELEASE_STEP:
 * nothing but a mapping is ever given back. */
static bool looks_mapped(const char *base, const char *end, uint64_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    return base && page > 0 && ((uintptr_t)base & (uintptr_t)(page - 1)) == 0 && end > base &&
           (uint64_t)(end - base) >= size;
}

/* After libpcap read the file header: is the stream reading glibc's mapping
 * of the file (at least the size fstat gave; more if it grew since)?
 * Otherwise (mmap refused, say) it reads through a buffer of st_blksize
 * bytes, and f->map stays NULL. */
static void map_check(tt_pcapfile *f, FILE *fp)
{
    const char *base = fp->_IO_buf_base, *end = fp->_IO_buf_end;
    if (!looks_mapped(base, end, f->size))
        return;
    if (pthread_once(&bus_once, install_sigbus) != 0)
        return;
    f->map = base;
    f->map_len = (size_t)(end - base);
}

/* Gives back the pages behind the reading point, RELEASE_STEP at a time. */
static void release_behind(tt_pcapfile *f)
{
    FILE *fp = pcap_file(f->p);
    const char *rp = fp->_IO_read_ptr, *base = fp->_IO_buf_base, *end = fp->_IO_buf_end;
    if (base != f->map || end != f->map + f->map_len) {
        /* At the end of its mapping glibc looks at the file again: one that
         * grew is remapped (mremap, perhaps elsewhere; the pages given back
         * stay given back), so follow it. One that shrank is trimmed, and a
         * failed remap goes back to read(2): stop there. */
        if (!looks_mapped(base, end, f->map_len)) {
            f->map = NULL;
            return;
        }
        f->map = base;
        f->map_len = (size_t)(end - base);
    }
    if (rp < f->map || rp > f->map + f->map_len)
        return;
    size_t done = (size_t)(rp - f->map) & ~(size_t)(sysconf(_SC_PAGESIZE) - 1);
    if (done < f->released + RELEASE_STEP)
        return;
    (void)madvise((void *)(uintptr_t)(f->map + f->released), done - f->released, MADV_DONTNEED);
    f->released = done;
}

/* A fault inside the mapping: the file shrank under the reading (the usual
 * cause), or the kernel could not bring a page of it in (an I/O error on
 * the device). A sticky read error either way, as a file that was cut
 * before it was opened gives; the stream is not read again. */
static int map_fault(tt_pcapfile *f, char *errbuf)
{
    FILE *fp = pcap_file(f->p);
    /* The size read: the span checked, or glibc's larger one if it remapped
     * a file that grew during the read that faulted. */
    uint64_t orig = f->map_len;
    if (looks_mapped(fp->_IO_buf_base, fp->_IO_buf_end, orig))
        orig = (uint64_t)(fp->_IO_buf_end - fp->_IO_buf_base);
    if (!shrank(f, fileno(fp), orig))
        snprintf(f->errmsg, sizeof f->errmsg,
                 "%s: cannot read packet %llu: the system could not read the file's data "
                 "(an I/O error on the device)",
                 f->name, (unsigned long long)(f->records + 1));
    f->err = TT_EIO;
    f->map = NULL;
    tt__set_err(errbuf, "%s", f->errmsg);
    return f->err;
}
#endif

/* pcap_dispatch(), under the guard when the file is mapped. Returns
 * libpcap's status, or the read error of a fault in the mapping. */
static int guarded_dispatch(tt_pcapfile *f, int cnt, pcap_handler cb, u_char *user, char *errbuf)
{
#ifdef TT_PCAPFILE_MAP
    if (f->map) {
        map_guard g;
        g.fp = pcap_file(f->p);
        map_guard *prev = tls_guard; /* a callback's own read of another file nests */
        if (sigsetjmp(g.jb, 0) != 0) {
            tls_guard = prev;
            return map_fault(f, errbuf);
        }
        tls_guard = &g;
        int rc = pcap_dispatch(f->p, cnt, cb, user);
        tls_guard = prev;
        release_behind(f);
        return rc;
    }
#endif
    (void)errbuf;
    return pcap_dispatch(f->p, cnt, cb, user);
}

/* The file's stdio buffer, for what is not read through a mapping (pipes,
 * stdin, other C libraries): 256 KiB, four read(2)s a MiB. Replay ran as fast
 * with 64 KiB to 1 MiB (with the 2 MiB ring it then had); 1 MiB
 * cost 0.8 MiB more resident memory (docs/PERFORMANCE-history.md, eleventh round). */
#define READ_BUFFER (256u << 10)

static int errno_to_tt(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return TT_ENOENT;
    case EACCES:
    case EPERM:
        return TT_EPERM;
    case EISDIR:
        return TT_EINVAL;
    case ENOMEM:
        return TT_ENOMEM;
    default:
        return TT_EIO;
    }
}

/* "RAW, IPV4, ..." for the link types the analyzer decodes, in the order a
 * tunnel user meets them. DLT numbers, as pcap_datalink() reports them. */
static void supported_list(char *buf, size_t len)
{
    static const int candidates[] = {TT_LINK_RAW_DLT12, TT_LINK_IPV4, TT_LINK_IPV6,
                                     TT_LINK_NULL,      TT_LINK_LOOP, TT_LINK_ETHERNET,
                                     TT_LINK_SLL,       TT_LINK_SLL2};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        int dlt = candidates[i];
        if (!tt_linktype_supported(dlt))
            continue;
        const char *name = pcap_datalink_val_to_name(dlt);
        int n = snprintf(buf + used, len - used, "%s%s%s", used ? ", " : "",
                         name ? name : tt_linktype_name(dlt),
                         dlt == TT_LINK_ETHERNET ? " with VLANs" : "");
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

int tt_pcapfile_open(tt_pcapfile **out, const char *path, const char *bpf, char *errbuf)
{
    if (!out || !path) {
        tt__set_err(errbuf, "tt_pcapfile_open: no output handle or path");
        return TT_EINVAL;
    }
    *out = NULL;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *fp = NULL;
    int rc;
    tt_pcapfile *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(is_stdin ? "stdin" : path))) {
        tt__set_err(errbuf, "cannot open '%s': out of memory", path);
        rc = TT_ENOMEM;
        goto err;
    }

    if (is_stdin && isatty(STDIN_FILENO)) {
        tt__set_err(errbuf, "cannot read a capture from stdin: it is a terminal (pipe a file in)");
        rc = TT_EINVAL;
        goto err;
    }
#ifdef TT_PCAPFILE_MAP
    fp = is_stdin ? stdin : fopen(path, "rbm");
#else
    fp = is_stdin ? stdin : fopen(path, "rb");
#endif
    if (!fp) {
        int e = errno;
        tt__set_err(errbuf, "cannot open '%s': %s", path, strerror(e));
        rc = errno_to_tt(e);
        goto err;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            tt__set_err(errbuf, "cannot open '%s': %s", path, strerror(EISDIR));
            rc = TT_EINVAL;
            goto err;
        }
        if (S_ISREG(st.st_mode)) {
            f->size = (uint64_t)st.st_size;
            if (st.st_size == 0) {
                tt__set_err(errbuf, "%s: empty file (not a pcap or pcapng capture)", f->name);
                rc = TT_EFORMAT;
                goto err;
            }
        }
    }

    /* stdio's default buffer is st_blksize (4 KiB): one read(2) every ~25
     * packets. A larger one makes reading a capture a few syscalls per MiB.
     * Not for a regular file read through its mapping: setvbuf() would turn
     * the mapping off. */
    bool want_map = false;
#ifdef TT_PCAPFILE_MAP
    /* glibc maps a file only up to 1 MiB where pointers are 32 bits
     * (libio/fileops.c, decide_maybe_mmap); larger ones get read(2) and
     * the buffer below, not stdio's 4 KiB. */
    want_map = !is_stdin && f->size > 0 && (sizeof(void *) > 4 || f->size < (1u << 20));
#endif
    if (!is_stdin && !want_map && (f->iobuf = malloc(READ_BUFFER)) != NULL)
        (void)setvbuf(fp, f->iobuf, _IOFBF, READ_BUFFER);
#ifdef FSETLOCKING_BYCALLER
    /* libpcap reads each record with two fread()s, and once a process has a
     * second thread (replay's analysis thread) glibc locks the stream for
     * each: four atomic operations a packet that a single-threaded reader
     * such as tcpdump never pays. A tt_pcapfile is used by one thread at a
     * time (as a pcap_t must be), so the stream needs no lock of its own. */
    if (!is_stdin)
        (void)__fsetlocking(fp, FSETLOCKING_BYCALLER);
#endif

    char pe[PCAP_ERRBUF_SIZE] = "";
    f->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, pe);
    if (!f->p) {
        /* On failure libpcap leaves fp open: it is still ours to close. */
        if (strstr(pe, "file header bytes, only got 0")) {
            tt__set_err(errbuf, "%s: empty input (not a pcap or pcapng capture)", f->name);
            rc = TT_EFORMAT;
        } else if (strstr(pe, "unknown file format")) {
            tt__set_err(errbuf, "%s: not a pcap or pcapng capture (unknown file format)", f->name);
            rc = TT_EFORMAT;
        } else if (strncmp(pe, "error reading", 13) == 0) {
            tt__set_err(errbuf, "%s: %s", f->name, pe);
            rc = TT_EIO;
        } else {
            tt__set_err(errbuf, "%s: %s", f->name, pe);
            rc = TT_EFORMAT;
        }
        goto err;
    }
    fp = NULL; /* pcap_close() closes it from now on (stdin excepted) */
#ifdef TT_PCAPFILE_MAP
    if (want_map)
        map_check(f, pcap_file(f->p));
#endif

    f->linktype = pcap_datalink(f->p);
    if (!tt_linktype_supported(f->linktype)) {
        const char *lname = pcap_datalink_val_to_name(f->linktype);
        char list[160];
        supported_list(list, sizeof list);
        tt__set_err(errbuf, "%s: link type %s (%d) is not supported (supported: %s)", f->name,
                    lname ? lname : "unknown", f->linktype, list);
        rc = TT_ELINKTYPE;
        goto err;
    }

    if (bpf && *bpf) {
        if (pcap_compile(f->p, &f->prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            const char *why = pcap_geterr(f->p);
            if (strstr(why, "unknown data link type")) /* e.g. 14, DLT_RAW of OpenBSD */
                tt__set_err(errbuf,
                            "%s: cannot filter link type %d: libpcap's filter compiler "
                            "does not know it (%s)",
                            f->name, f->linktype, why);
            else
                tt__set_err(errbuf, "bad filter expression '%s': %s", bpf, why);
            rc = TT_EINVAL;
            goto err;
        }
        f->has_prog = true;
    }
    *out = f;
    return 0;

err:
    if (fp && fp != stdin)
        fclose(fp);
    tt_pcapfile_close(f);
    return rc;
}

/* The record's time as microseconds since the epoch. A pcap record's
 * seconds field is unsigned 32-bit, but libpcap 1.10 sign-extends it: times
 * from 2038-01-19 to 2106 arrive negative. Read those back as unsigned;
 * anything more negative (a pcapng if_tsoffset) clamps to 0. */
static uint64_t record_us(const struct pcap_pkthdr *h)
{
    uint64_t sec = h->ts.tv_sec >= 0           ? (uint64_t)h->ts.tv_sec
                   : h->ts.tv_sec >= INT32_MIN ? (uint64_t)(uint32_t)h->ts.tv_sec
                                               : 0;
    uint64_t usec = h->ts.tv_usec < 0 || sec == 0 ? 0 : (uint64_t)h->ts.tv_usec;
    return sec * 1000000u + usec;
}

/* Counts a record read; true when it passes the filter, with *pkt filled.
 * The filter runs here rather than through pcap_setfilter() so that records
 * counts every record of the file: a damage message then names the frame
 * number Wireshark shows. */
static bool take(tt_pcapfile *f, const struct pcap_pkthdr *h, const u_char *data,
                 tt_pcapfile_pkt *pkt)
{
    f->records++;
    if (f->has_prog && pcap_offline_filter(&f->prog, h, data) == 0)
        return false;
    f->matched++;
    pkt->ts_us = record_us(h);
    pkt->data = data;
    pkt->caplen = h->caplen;
    pkt->len = h->len;
    pkt->number = f->records;
    return true;
}

/* A read that libpcap ended with status rc (< 0, not a clean end): the
 * sticky error, with the message naming the file and the record. */
static int read_failed(tt_pcapfile *f, int rc, char *errbuf)
{
    /* PCAP_ERROR: a record cut short, a length libpcap refuses, a read
     * error, or (pcapng) an interface whose link type differs from the
     * first one's, which libpcap 1.10 cannot hand out in one stream. */
    const char *why = rc == PCAP_ERROR ? pcap_geterr(f->p) : "unexpected libpcap status";
    const char *hint = "";
    unsigned type;
    if (sscanf(why, "an interface has a type %u different", &type) == 1) {
        /* libpcap 1.10.3 compares a later interface's LINKTYPE_ number
         * with the first one's DLT_ number, so a second interface of
         * LINKTYPE_RAW (101, DLT_RAW 12 on Linux) is refused although
         * its link type is the same: say so rather than repeat that. */
        if ((int)type == f->linktype || (type == 101 && f->linktype == TT_LINK_RAW_DLT12)) {
            why = "a second interface of the same link type, which this libpcap "
                  "refuses in a pcapng file";
            hint = " (convert it first: editcap -F pcap IN OUT)";
        } else {
            hint = " (interfaces with different link types in one pcapng file: "
                   "split it per interface first)";
        }
    }
    FILE *fp = pcap_file(f->p);
    if (fp && shrank(f, fileno(fp), f->size)) {
        f->err = TT_EIO; /* as a fault in a mapping of the file gives */
    } else {
        snprintf(f->errmsg, sizeof f->errmsg, "%s: cannot read packet %llu: %s%s", f->name,
                 (unsigned long long)(f->records + 1), why, hint);
        f->err = TT_EFORMAT;
    }
    tt__set_err(errbuf, "%s", f->errmsg);
    return f->err;
}

static void ignore_record(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    (void)user;
    (void)h;
    (void)data;
}

/* Before a read: the sticky error, or libpcap's break flag left set by a
 * callback that asked tt_pcapfile_each to stop. That flag would end the next
 * read at once as if the file had ended; a dispatch that finds it set clears
 * it and returns PCAP_ERROR_BREAK without reading a record. */
static int before_read(tt_pcapfile *f, char *errbuf)
{
    if (f->err) {
        tt__set_err(errbuf, "%s", f->errmsg);
        return f->err;
    }
    if (f->broke) {
        f->broke = false;
        int rc = guarded_dispatch(f, 1, ignore_record, NULL, errbuf);
        if (f->err)
            return rc; /* a fault in the mapping */
    }
    return 0;
}

typedef struct each_ctx {
    tt_pcapfile *f;
    tt_pcapfile_fn fn;
    void *ctx;
} each_ctx;

static void each_record(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    each_ctx *e = (each_ctx *)(void *)user;
    tt_pcapfile_pkt pkt;
    if (take(e->f, h, data, &pkt) && e->fn(e->ctx, &pkt) != 0) {
        e->f->broke = true;
        pcap_breakloop(e->f->p); /* libpcap returns after this record */
    }
}

int tt_pcapfile_each(tt_pcapfile *f, unsigned max, tt_pcapfile_fn fn, void *ctx, char *errbuf)
{
    int rc = before_read(f, errbuf);
    if (rc < 0)
        return rc;
    each_ctx e = {.f = f, .fn = fn, .ctx = ctx};
    uint64_t before = f->records;
    rc = guarded_dispatch(f, max ? (int)(max < INT32_MAX ? max : INT32_MAX) : 1, each_record,
                          (u_char *)(void *)&e, errbuf);
    if (f->err)
        return f->err; /* a fault in the mapping: after the packets read before */
    if (rc >= 0 || rc == PCAP_ERROR_BREAK)
        return f->records > before ? 1 : 0; /* 0: a clean end of file */
    return read_failed(f, rc, errbuf);
}

/* tt_pcapfile_next's callback: keeps the one packet a read of one record
 * handed out. */
typedef struct one_ctx {
    tt_pcapfile_pkt *pkt;
    bool got;
} one_ctx;

static int take_one(void *ctx, const tt_pcapfile_pkt *pkt)
{
    one_ctx *o = ctx;
    *o->pkt = *pkt;
    o->got = true;
    return 0; /* a read of one record ends after it anyway: no break to clear */
}

int tt_pcapfile_next(tt_pcapfile *f, tt_pcapfile_pkt *pkt, char *errbuf)
{
    one_ctx o = {.pkt = pkt};
    int rc;
    while ((rc = tt_pcapfile_each(f, 1, take_one, &o, errbuf)) == 1)
        if (o.got)
            return 1; /* else the record did not pass the filter */
    return rc;
}

int tt_pcapfile_linktype(const tt_pcapfile *f)
{
    return f->linktype;
}

const char *tt_pcapfile_linktype_name(const tt_pcapfile *f)
{
    const char *name = pcap_datalink_val_to_name(f->linktype);
    return name ? name : tt_linktype_name(f->linktype);
}

const char *tt_pcapfile_name(const tt_pcapfile *f)
{
    return f->name;
}

int tt_pcapfile_snaplen(const tt_pcapfile *f)
{
    return pcap_snapshot(f->p);
}

uint64_t tt_pcapfile_records(const tt_pcapfile *f)
{
    return f->records;
}

uint64_t tt_pcapfile_matched(const tt_pcapfile *f)
{
    return f->matched;
}

void tt_pcapfile_progress(const tt_pcapfile *f, uint64_t *done, uint64_t *size)
{
    long pos = ftell(pcap_file(f->p));
    *done = pos < 0 ? 0 : (uint64_t)pos;
    *size = f->size;
}

void tt_pcapfile_close(tt_pcapfile *f)
{
    if (!f)
        return;
    if (f->has_prog)
        pcap_freecode(&f->prog);
    if (f->p)
        pcap_close(f->p);
    free(f->iobuf);
    free(f->name);
    free(f);
}
