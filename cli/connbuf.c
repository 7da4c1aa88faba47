/* connbuf.c - the records kept for sorted logs: their strings interned once,
 * sorted by ts then uid, and past a budget spilled to a temporary file in
 * sorted runs that are merged back as the logs are written. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static int spill_run(cli_connbuf *b);
static void sort_records(tt_conn *v, size_t n);

/* ---- string table ------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static int strtab_grow(cli_strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    char **slot = calloc(cap, sizeof *slot);
    if (!slot)
        return TT_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = (size_t)hash_str(t->slot[i]) & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return 0;
}

const char *cli_strtab_intern(cli_strtab *t, const char *s)
{
    if (!s)
        return NULL;
    /* Keep the load at or below one half so probes stay short. */
    if ((t->used + 1) * 2 > t->cap && strtab_grow(t) < 0)
        return NULL;
    size_t j = (size_t)hash_str(s) & (t->cap - 1);
    for (; t->slot[j]; j = (j + 1) & (t->cap - 1)) {
        if (strcmp(t->slot[j], s) == 0)
            return t->slot[j];
    }
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    t->slot[j] = copy;
    t->used++;
    return copy;
}

void cli_strtab_free(cli_strtab *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slot[i]);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- spilling: sorted runs in a temporary file ------------------------ */

void cli_connbuf_spill(cli_connbuf *b, size_t bytes, bool background)
{
    const char *dir = getenv("TMPDIR");
    size_t per_run = background ? bytes / 2 : bytes; /* two arrays in the background */
    b->spill_at = per_run / sizeof *b->v ? per_run / sizeof *b->v : 1;
    b->background = background;
    b->fd = -1;
    if (!(b->spill_dir = strdup(dir && *dir ? dir : "/tmp")))
        b->spill_errno = ENOMEM;
}

/* An unnamed file in dir: gone when closed, whatever way the process ends. */
static int spill_open(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd; /* a file system without O_TMPFILE says one of these */
#endif
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tunneltap-records.XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int named = mkostemp(path, O_CLOEXEC);
    if (named >= 0)
        unlink(path);
    return named;
}

#define WRITE_CHUNK ((size_t)1 << 20)

/* Sorts v and writes it at off, a MiB at a time: 0, or the errno value of
 * the failure (what was written then lies past the runs and is never read).
 * One 32 MiB pwrite made a live capture on the same machine lose 28 000-64 000
 * packets in the kernel instead of 7 000-9 000 (bench/live_spill.sh: a SYN
 * scan at 120 000 packets a second), with the writing thread at SCHED_IDLE
 * or not. */
static int write_run(int fd, tt_conn *v, size_t n, off_t off)
{
    sort_records(v, n);
    const char *p = (const char *)v;
    size_t len = n * sizeof *v;
    while (len) {
        ssize_t w = pwrite(fd, p, len < WRITE_CHUNK ? len : WRITE_CHUNK, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

/* The writer thread: touches only wv, wn, woff, fd (set before it started,
 * left alone until it is joined) and werr (read after the join). */
static void *writer_main(void *arg)
{
    cli_connbuf *b = arg;
    b->werr = write_run(b->fd, b->wv, b->wn, b->woff);
    return NULL;
}

/* n records are in the file as its next run. */
static void run_written(cli_connbuf *b, size_t n)
{
    b->runs[b->nruns++] = n;
    b->spilled += n;
}

/* Exchanges the array being filled and the other one (the run being
 * written, or the spare). */
static void swap_arrays(cli_connbuf *b)
{
    tt_conn *v = b->v;
    size_t n = b->n, cap = b->cap;
    b->v = b->wv, b->n = b->wn, b->cap = b->wcap;
    b->wv = v, b->wn = n, b->wcap = cap;
}

/* Waits for the run being written in the background and takes its result:
 * a run in the file, or, when it could not be written, its records back
 * into memory and spilling stopped. Returns 0 or TT_ENOMEM (the records
 * could not come back: they are lost to the logs, counted in b->lost). */
static int settle(cli_connbuf *b)
{
    if (!b->writing)
        return 0;
    pthread_join(b->writer, NULL);
    b->writing = false;
    if (!b->werr) {
        run_written(b, b->wn);
        b->wn = 0; /* wv: the spare array for the next run */
        return 0;
    }
    b->spill_errno = b->werr;
    if (b->n + b->wn > b->cap) {
        tt_conn *v = realloc(b->v, (b->n + b->wn) * sizeof *v);
        if (!v) {
            b->lost += b->wn;
            b->wn = 0;
            return TT_ENOMEM;
        }
        b->v = v;
        b->cap = b->n + b->wn;
    }
    memcpy(b->v + b->n, b->wv, b->wn * sizeof *b->v);
    b->n += b->wn;
    b->wn = 0;
    return 0;
}

/* Sorts the records in memory and appends them to the file as one run (in
 * the background: hands the array to a writer thread and goes on with the
 * spare one). On any failure spilling stops (spill_errno says why) and the
 * records stay in memory: the array grows again, as without a budget, and
 * nothing is lost. */
static int spill_run(cli_connbuf *b)
{
    if (settle(b) < 0)
        return TT_ENOMEM;
    if (b->spill_errno)
        return 0; /* the previous run failed: its records are back, b->n grew */
    if (b->fd < 0 && (b->fd = spill_open(b->spill_dir)) < 0) {
        b->spill_errno = errno;
        return 0;
    }
    if (b->nruns == b->runs_cap) {
        size_t cap = b->runs_cap ? b->runs_cap * 2 : 16;
        size_t *runs = realloc(b->runs, cap * sizeof *runs);
        if (!runs) {
            b->spill_errno = ENOMEM;
            return 0;
        }
        b->runs = runs;
        b->runs_cap = cap;
    }
    off_t off = (off_t)(b->spilled * sizeof *b->v);
    if (b->background) {
        /* The full array to the writer; the spare (empty, NULL before the
         * first run: cli_connbuf_add allocates) to be filled. */
        swap_arrays(b);
        b->woff = off;
        if (pthread_create(&b->writer, NULL, writer_main, b) == 0) {
            b->writing = true;
            return 0;
        }
        swap_arrays(b); /* no thread: write it here */
    }
    int err = write_run(b->fd, b->v, b->n, off);
    if (err) {
        b->spill_errno = err;
        return 0;
    }
    run_written(b, b->n);
    b->n = 0;
    return 0;
}

/* ---- record buffer ----------------------------------------------------- */

size_t cli_connbuf_count(const cli_connbuf *b)
{
    return b->spilled + b->n + (b->writing ? b->wn : 0);
}

int cli_connbuf_add(cli_connbuf *b, const tt_conn *c)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        if (b->spill_at && !b->spill_errno && cap > b->spill_at)
            cap = b->spill_at; /* the array never grows past a run */
        if (cap <= b->n)
            cap = b->n * 2;
        tt_conn *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return TT_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    tt_conn copy = *c;
    copy.service = cli_strtab_intern(&b->strings, c->service);
    copy.l7 = cli_strtab_intern(&b->strings, c->l7);
    copy.conn_state = cli_strtab_intern(&b->strings, c->conn_state);
    if ((c->service && !copy.service) || (c->l7 && !copy.l7) || (c->conn_state && !copy.conn_state))
        return TT_ENOMEM;
    b->v[b->n++] = copy;
    if (b->spill_at && !b->spill_errno && b->n >= b->spill_at)
        return spill_run(b);
    return 0;
}

static int by_ts_uid(const void *pa, const void *pb)
{
    const tt_conn *a = pa, *b = pb;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    return strncmp(a->uid, b->uid, sizeof a->uid); /* uid may fill its array */
}

/* What the sort moves: 16 bytes, not a 240-byte record. */
typedef struct sort_key {
    uint64_t ts_us;
    const tt_conn *c;
} sort_key;

static int key_by_ts_uid(const void *pa, const void *pb)
{
    const sort_key *a = pa, *b = pb;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    return by_ts_uid(a->c, b->c);
}

/* Records already in order are left as they are: a SYN scan's million come
 * out of the analyzer in order (each released at its SYN's deadline), and
 * sorting them took 0.08-0.11 s against 0.012 s for the check. Otherwise
 * the keys are sorted (a record's ts beside a pointer to it: 16 bytes, not
 * a 240-byte record to move and compare through), and each record is then
 * moved once to its place, following the permutation's cycles. */
int cli_connbuf_sort(cli_connbuf *b)
{
    int rc = settle(b);
    sort_records(b->v, b->n);
    return rc;
}

static void sort_records(tt_conn *v, size_t n)
{
    size_t i = 1;
    while (i < n && by_ts_uid(&v[i - 1], &v[i]) <= 0)
        i++;
    if (i >= n)
        return;
    sort_key *k = malloc(n * sizeof *k);
    size_t *from = malloc(n * sizeof *from); /* from[j]: the record that goes to j */
    if (!k || !from) {
        free(k);
        free(from);
        qsort(v, n, sizeof *v, by_ts_uid); /* slower; sorts in place if it must */
        return;
    }
    for (i = 0; i < n; i++)
        k[i] = (sort_key){v[i].ts_us, &v[i]};
    qsort(k, n, sizeof *k, key_by_ts_uid);
    for (i = 0; i < n; i++)
        from[i] = (size_t)(k[i].c - v);
    free(k);
    for (i = 0; i < n; i++) {
        if (from[i] == i)
            continue;
        tt_conn held = v[i];
        size_t j = i;
        while (from[j] != i) {
            size_t src = from[j];
            v[j] = v[src];
            from[j] = j;
            j = src;
        }
        v[j] = held;
        from[j] = j;
    }
    free(from);
}

void cli_connbuf_free(cli_connbuf *b)
{
    if (b->writing)
        pthread_join(b->writer, NULL);
    free(b->wv);
    free(b->v);
    cli_strtab_free(&b->strings);
    free(b->runs);
    free(b->spill_dir);
    if (b->spill_at && b->fd >= 0)
        close(b->fd);
    memset(b, 0, sizeof *b);
}

/* ---- reading the records in order ------------------------------------- */

#define RUN_READ 256 /* records read from a spilled run at a time: 60 KiB */

typedef struct cli_run {
    const tt_conn *cur; /* the run's smallest record not yet returned */
    tt_conn *buf;       /* a file run's records read so far (RUN_READ), or NULL */
    size_t pos, have;   /* cur = buf[pos] (or the array's), of have */
    size_t left;        /* records of the run still in the file */
    off_t next;         /* where they start */
} cli_run;

static bool run_before(const cli_run *a, const cli_run *b)
{
    return by_ts_uid(a->cur, b->cur) < 0;
}

static void heap_down(cli_connbuf_iter *it, size_t i)
{
    cli_run *r = it->run;
    uint32_t *h = it->heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < it->nheap && run_before(&r[h[l]], &r[h[m]]))
            m = l;
        if (l + 1 < it->nheap && run_before(&r[h[l + 1]], &r[h[m]]))
            m = l + 1;
        if (m == i)
            return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Moves r to its next record: false at its end or when the file cannot be
 * read (it->err). */
static bool run_advance(cli_connbuf_iter *it, cli_run *r)
{
    if (++r->pos < r->have) {
        r->cur = r->buf ? &r->buf[r->pos] : r->cur + 1;
        return true;
    }
    if (!r->buf || !r->left)
        return false;
    size_t want = r->left < RUN_READ ? r->left : RUN_READ;
    char *p = (char *)r->buf;
    size_t len = want * sizeof *r->buf;
    while (len) {
        ssize_t got = pread(it->b->fd, p, len, r->next);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            it->err = got < 0 ? errno : EIO; /* the file is shorter than its runs */
            return false;
        }
        p += got;
        len -= (size_t)got;
        r->next += got;
    }
    r->left -= want;
    r->have = want;
    r->pos = 0;
    r->cur = r->buf;
    return true;
}

int cli_connbuf_iter_open(cli_connbuf_iter *it, const cli_connbuf *b)
{
    *it = (cli_connbuf_iter){.b = b, .last = -1};
    if (!b->nruns)
        return 0; /* the array alone, in order */
    size_t n = b->nruns + 1;
    it->run = calloc(n, sizeof *it->run);
    it->heap = malloc(n * sizeof *it->heap);
    if (!it->run || !it->heap) {
        cli_connbuf_iter_close(it);
        return TT_ENOMEM;
    }
    off_t off = 0;
    for (size_t i = 0; i < b->nruns; i++) {
        cli_run *r = &it->run[i];
        if (!(r->buf = malloc(RUN_READ * sizeof *r->buf))) {
            cli_connbuf_iter_close(it);
            return TT_ENOMEM;
        }
        r->left = b->runs[i];
        r->next = off;
        off += (off_t)(b->runs[i] * sizeof *b->v);
        /* pos 0 of have 0: run_advance reads the first block */
    }
    it->run[b->nruns] = (cli_run){.cur = b->v, .have = b->n}; /* the records in memory */
    for (size_t i = 0; i < n; i++) {
        cli_run *r = &it->run[i];
        if (r->buf ? run_advance(it, r) : r->have > 0)
            it->heap[it->nheap++] = (uint32_t)i;
        else if (it->err)
            return 0; /* cli_connbuf_iter_next returns NULL, err says why */
    }
    for (size_t i = it->nheap / 2; i-- > 0;)
        heap_down(it, i);
    return 0;
}

const tt_conn *cli_connbuf_iter_next(cli_connbuf_iter *it)
{
    const cli_connbuf *b = it->b;
    if (!it->run)
        return it->i < b->n ? &b->v[it->i++] : NULL;
    if (it->err)
        return NULL;
    if (it->last >= 0) { /* the record returned last is done with: its run moves on */
        if (!run_advance(it, &it->run[it->last])) {
            if (it->err)
                return NULL;
            it->heap[0] = it->heap[--it->nheap];
        }
        heap_down(it, 0);
    }
    if (!it->nheap)
        return NULL;
    it->last = (int64_t)it->heap[0];
    return it->run[it->heap[0]].cur;
}

void cli_connbuf_iter_close(cli_connbuf_iter *it)
{
    if (it->run)
        for (size_t i = 0; it->b && i < it->b->nruns; i++)
            free(it->run[i].buf);
    free(it->run);
    free(it->heap);
    it->run = NULL;
    it->heap = NULL;
}
