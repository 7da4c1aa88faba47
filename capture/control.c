/* control.c - the control socket: owner-only Unix socket, peer check, mark/status lines.
 *
 * Served from the host's poll loop (no thread): tt_control_pollfds() lends
 * the host our descriptors, tt_control_dispatch() serves whatever poll()
 * found ready. Everything is non-blocking; a client that does not read its
 * reply (send would block) is closed rather than waited for, so a stuck
 * client can never stall the host that forwards packets.
 */
#include "analyze/errbuf.h"
#include "capture/control.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Markers listed in a status reply (the most recent ones). */
#define STATUS_MARKERS 16
/* Alerts listed in full in a status reply (the most recent ones): 32 of at
 * most ~700 bytes each stay far below TT_CONTROL_REPLY_MAX. */
#define STATUS_ALERTS 32
/* Connections accepted per dispatch call: a flood cannot monopolise the host. */
#define ACCEPT_BURST 16

typedef struct client {
    int fd; /* -1: free slot */
    size_t len;
    uint64_t last_ms; /* monotonic, last activity */
    char buf[TT_CONTROL_MSG_MAX];
} client;

struct tt_control {
    tt_control_config cfg;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char role[32];
    char *made_dir; /* parent directory created here (removed on close), or NULL */
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t opened_ms;
    client cl[TT_CONTROL_MAX_CLIENTS];
    tt_control_stats st;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- label sanitiser --------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

/* Valid sequences that still must not reach a terminal: C1 controls (CSI
 * U+009B starts an escape sequence on some terminals), line and paragraph
 * separators, and the bidirectional overrides that reorder what is shown. */
static bool utf8_unsafe(const unsigned char *s, size_t len)
{
    if (len == 2)
        return s[0] == 0xc2 && s[1] <= 0x9f;
    if (len == 3 && s[0] == 0xe2 && s[1] == 0x80)
        return s[2] >= 0xa8 && s[2] <= 0xae;
    if (len == 3 && s[0] == 0xe2 && s[1] == 0x81)
        return s[2] >= 0xa6 && s[2] <= 0xa9;
    return false;
}

/* Writes at most max bytes (plus NUL) of sanitised src into dst. */
static size_t sanitize(char *dst, size_t max, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < len && s[i] == ' ')
        i++;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = 1;
        bool bad;
        if (c < 0x80)
            bad = c < 0x20 || c == 0x7f;
        else {
            n = utf8_len(s + i, len - i);
            bad = n == 0 || utf8_unsafe(s + i, n);
            if (n == 0)
                n = 1; /* one invalid byte becomes one '?' */
        }
        size_t out = bad ? 1 : n;
        if (o + out > max)
            break; /* never cut a character in half */
        if (bad)
            dst[o] = '?';
        else
            memcpy(dst + o, s + i, n);
        o += out;
        i += n;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
    return o;
}

size_t tt_control_sanitize_label(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0)
        return 0;
    size_t max = cap - 1 < TT_MARK_LABEL_MAX - 1 ? cap - 1 : TT_MARK_LABEL_MAX - 1;
    return sanitize(dst, max, src ? src : "", src ? len : 0);
}

/* ---- JSON helpers (jansson stays in this file) --------------------------- */

static json_t *J(tt_control_json *o)
{
    return (json_t *)(void *)o;
}

void tt_control_json_u64(tt_control_json *o, const char *key, uint64_t v)
{
    if (o)
        json_object_set_new(J(o), key, json_integer((json_int_t)v));
}

void tt_control_json_bool(tt_control_json *o, const char *key, bool v)
{
    if (o)
        json_object_set_new(J(o), key, json_boolean(v));
}

void tt_control_json_real(tt_control_json *o, const char *key, double v)
{
    if (o)
        json_object_set_new(J(o), key, json_real(v));
}

void tt_control_json_str(tt_control_json *o, const char *key, const char *s)
{
    if (!o)
        return;
    char clean[256];
    sanitize(clean, sizeof clean - 1, s ? s : "", s ? strlen(s) : 0);
    json_object_set_new(J(o), key, json_string(clean));
}

tt_control_json *tt_control_json_object(tt_control_json *o, const char *key)
{
    if (!o)
        return NULL;
    json_t *child = json_object();
    if (!child || json_object_set_new(J(o), key, child) < 0)
        return NULL; /* set_new freed child */
    return (tt_control_json *)(void *)child;
}

tt_control_json *tt_control_json_append(tt_control_json *o, const char *key)
{
    if (!o)
        return NULL;
    json_t *arr = json_object_get(J(o), key);
    if (!json_is_array(arr)) {
        arr = json_array();
        if (!arr || json_object_set_new(J(o), key, arr) < 0)
            return NULL;
    }
    json_t *child = json_object();
    if (!child || json_array_append_new(arr, child) < 0)
        return NULL;
    return (tt_control_json *)(void *)child;
}

/* ---- status reply ------------------------------------------------------ */

static void add_verdicts(tt_control_json *o, const char *key, const uint64_t *counts)
{
    tt_control_json *v = tt_control_json_object(o, key);
    for (unsigned i = 0; i < TT_VERDICT_COUNT; i++)
        if (counts[i])
            tt_control_json_u64(v, tt_verdict_name((tt_verdict)i), counts[i]);
}

/* "alerts": the regression alerts raised so far (docs/regression.md):
 * count, regressions and recoveries among them, and the last few in full. */
static void add_alerts(tt_control *c, tt_control_json *o)
{
    tt_control_json *a = tt_control_json_object(o, "alerts");
    if (!a)
        return;
    unsigned n = tt_tap_alerts(c->cfg.tap, NULL, 0);
    tt_alert *v = n ? calloc(n, sizeof *v) : NULL;
    if (v)
        n = tt_tap_alerts(c->cfg.tap, v, n);
    else
        n = 0; /* out of memory: an empty list rather than no reply */
    unsigned regressions = 0;
    for (unsigned i = 0; i < n; i++)
        regressions += !v[i].recovery;
    tt_control_json_u64(a, "count", n);
    tt_control_json_u64(a, "regressions", regressions);
    tt_control_json_u64(a, "recoveries", n - regressions);
    json_t *list = json_array();
    if (list && json_object_set_new(J(a), "recent", list) == 0) {
        for (unsigned i = n > STATUS_ALERTS ? n - STATUS_ALERTS : 0; i < n; i++) {
            const tt_alert *x = &v[i];
            json_t *e = json_object();
            if (!e || json_array_append_new(list, e) < 0)
                break;
            tt_control_json *eo = (tt_control_json *)(void *)e;
            tt_control_json_str(eo, "kind", tt_alert_kind_name(x->kind));
            tt_control_json_bool(eo, "recovery", x->recovery);
            tt_control_json_real(eo, "ts", (double)x->ts_us / 1e6);
            tt_control_json_real(eo, "raised_at", (double)x->raised_at_us / 1e6);
            if (x->has_marker) {
                tt_control_json_str(eo, "marker", x->marker);
                tt_control_json_real(eo, "marker_ts", (double)x->marker_us / 1e6);
            } else {
                json_object_set_new(e, "marker", json_null());
            }
            /* Longer than a label: sanitised here with room for all of it. */
            char msg[sizeof x->message];
            sanitize(msg, sizeof msg - 1, x->message, strnlen(x->message, sizeof x->message));
            json_object_set_new(e, "message", json_string(msg));
        }
    }
    free(v);
}

/* One JSON line (malloc'd, newline included), or NULL when out of memory. */
static char *status_reply(tt_control *c)
{
    tt_tap_stats st;
    tt_tap_get_stats(c->cfg.tap, &st);
    json_t *root = json_object();
    if (!root)
        return NULL;
    tt_control_json *o = (tt_control_json *)(void *)root;
    tt_control_json_str(o, "tunneltap", c->role);
    tt_control_json_u64(o, "pid", (uint64_t)getpid());
    tt_control_json_u64(o, "uptime_s", (mono_ms() - c->opened_ms) / 1000u);
    tt_control_json_real(o, "now", (double)real_us() / 1e6);

    tt_control_json *p = tt_control_json_object(o, "packets");
    tt_control_json_u64(p, "submitted", st.submitted);
    tt_control_json_u64(p, "copied", st.copied);
    tt_control_json_u64(p, "analysed", st.analysed);
    tt_control_json_u64(p, "in_flight", st.in_flight);
    tt_control_json_u64(p, "analyzer_packets", st.analyzer.packets);
    tt_control_json_u64(p, "analyzer_bytes", st.analyzer.bytes);
    tt_control_json_u64(p, "ts_backwards", st.analyzer.ts_backwards);

    tt_control_json *d = tt_control_json_object(o, "drops");
    tt_control_json_u64(d, "ring_full", st.dropped_full);
    tt_control_json_u64(d, "oversize", st.dropped_oversize);
    tt_control_json_u64(d, "total", st.dropped_full + st.dropped_oversize);
    tt_control_json_u64(d, "loss_reported", st.analyzer.loss_reported);

    tt_control_json *r = tt_control_json_object(o, "ring");
    tt_control_json_u64(r, "producers", st.producers);
    tt_control_json_u64(r, "used_bytes", st.ring_used);
    tt_control_json_u64(r, "capacity_bytes", st.ring_capacity);
    tt_control_json_real(r, "fill",
                         st.ring_capacity ? (double)st.ring_used / (double)st.ring_capacity : 0);

    tt_control_json *f = tt_control_json_object(o, "flows");
    tt_control_json_u64(f, "active", st.analyzer.flows_active);
    tt_control_json_u64(f, "created", st.analyzer.flows_created);
    tt_control_json_u64(f, "reported", st.analyzer.flows_reported);
    tt_control_json_u64(f, "peak", st.analyzer.flows_peak);
    add_verdicts(f, "by_verdict", st.analyzer.by_verdict);
    add_verdicts(f, "uncertain_by_verdict", st.analyzer.uncertain_by_verdict);

    tt_control_json *dp = tt_control_json_object(o, "dpi");
    tt_control_json_u64(dp, "packets", st.analyzer.dpi_packets);
    tt_control_json_u64(dp, "classifying", st.analyzer.dpi_active);
    tt_control_json_u64(dp, "classified", st.analyzer.dpi_classified);
    tt_control_json_u64(dp, "given_up", st.analyzer.dpi_given_up);
    tt_control_json_u64(dp, "pool_empty", st.analyzer.events[TT_EV_FLOW_DPI_POOL_EMPTY]);

    tt_marker mk[TT_TAP_MAX_PRODUCERS * 16];
    unsigned cap = (unsigned)(sizeof mk / sizeof mk[0]);
    unsigned nm = tt_tap_markers(c->cfg.tap, mk, cap);
    tt_control_json *m = tt_control_json_object(o, "markers");
    tt_control_json_u64(m, "count", nm);
    json_t *list = json_array();
    if (list && m && json_object_set_new(J(m), "recent", list) == 0) {
        unsigned have = nm < cap ? nm : cap;
        for (unsigned i = have > STATUS_MARKERS ? have - STATUS_MARKERS : 0; i < have; i++) {
            json_t *e = json_object();
            if (!e || json_array_append_new(list, e) < 0)
                break;
            tt_control_json *eo = (tt_control_json *)(void *)e;
            tt_control_json_real(eo, "ts", (double)mk[i].ts_us / 1e6);
            tt_control_json_str(eo, "label", mk[i].label);
        }
    }

    add_alerts(c, o);

    if (c->cfg.status)
        c->cfg.status(c->cfg.status_ctx, o);

    tt_control_json *cs = tt_control_json_object(o, "control");
    tt_control_json_u64(cs, "accepted", c->st.accepted);
    tt_control_json_u64(cs, "refused_peer", c->st.refused_peer);
    tt_control_json_u64(cs, "requests", c->st.requests);

    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(16));
    json_decref(root);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* ---- connections ------------------------------------------------------- */

static void client_close(client *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->len = 0;
}

/* Sends the whole reply now or gives up on the client (it is not reading):
 * the host's loop never waits for a control client. */
static bool client_send(tt_control *c, client *k, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(k->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->st.reply_failed++;
            client_close(k);
            return false;
        }
        s += w;
        n -= (size_t)w;
    }
    return true;
}

__attribute__((format(printf, 3, 4))) static bool client_error(tt_control *c, client *k,
                                                               const char *fmt, ...)
{
    char line[TT_CONTROL_MSG_MAX];
    int n = snprintf(line, sizeof line, "error ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    c->st.errors++;
    return client_send(c, k, line, len);
}

static bool handle_mark(tt_control *c, client *k, const char *arg, size_t len)
{
    char label[TT_MARK_LABEL_MAX];
    /* Sanitised here, whatever tt_tap_mark does again: this is the edge
     * where untrusted bytes enter, and the label reaches terminals and logs. */
    if (tt_control_sanitize_label(label, sizeof label, arg, len) == 0)
        return client_error(c, k, "mark needs a label (mark <label>)");
    uint64_t ts = real_us();
    int rc = tt_tap_mark(c->cfg.tap, label, ts);
    if (rc < 0)
        return client_error(c, k, "cannot add the marker: %s", tt_strerror(rc));
    char line[64];
    int n = snprintf(line, sizeof line, "ok %llu.%06llu\n", (unsigned long long)(ts / 1000000u),
                     (unsigned long long)(ts % 1000000u));
    return client_send(c, k, line, (size_t)n);
}

/* Handles one request line (no newline). Returns false when k was closed. */
static bool handle_line(tt_control *c, client *k, char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    c->st.requests++;
    size_t w = 0;
    while (w < len && s[w] != ' ' && s[w] != '\t')
        w++;
    if (w == 4 && memcmp(s, "mark", 4) == 0)
        return handle_mark(c, k, s + w, len - w);
    bool rest_blank = true;
    for (size_t i = w; i < len; i++)
        rest_blank = rest_blank && (s[i] == ' ' || s[i] == '\t');
    if (w == 6 && memcmp(s, "status", 6) == 0 && rest_blank) {
        char *reply = status_reply(c);
        if (!reply)
            return client_error(c, k, "out of memory building the status");
        bool ok = client_send(c, k, reply, strlen(reply));
        free(reply);
        return ok;
    }
    if (w == 0)
        return client_error(c, k, "empty request (mark <label>, status)");
    char word[33];
    sanitize(word, sizeof word - 1, s, w);
    return client_error(c, k, "unknown request '%s' (mark <label>, status)", word);
}

static void client_read(tt_control *c, client *k, uint64_t now)
{
    for (;;) {
        ssize_t n = recv(k->fd, k->buf + k->len, sizeof k->buf - k->len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            client_close(k); /* peer closed, or an error: nothing to answer */
            return;
        }
        k->last_ms = now;
        k->len += (size_t)n;
        char *nl;
        while (k->fd >= 0 && (nl = memchr(k->buf, '\n', k->len)) != NULL) {
            size_t line = (size_t)(nl - k->buf);
            if (!handle_line(c, k, k->buf, line))
                return;
            k->len -= line + 1;
            memmove(k->buf, nl + 1, k->len);
        }
        if (k->fd < 0)
            return;
        if (k->len == sizeof k->buf) {
            c->st.oversize++;
            client_error(c, k, "request longer than %d bytes (newline included)",
                         TT_CONTROL_MSG_MAX);
            client_close(k);
            return;
        }
    }
}

/* Same effective uid as this process, or root: nobody else may mark or read. */
static bool peer_allowed(int fd, uid_t *uid)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof cr) {
        *uid = (uid_t)-1;
        return false;
    }
    *uid = cr.uid;
    return cr.uid == geteuid() || cr.uid == 0;
}

static void accept_new(tt_control *c, uint64_t now)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a connection that died before accept */
        client tmp = {.fd = fd};
        uid_t uid;
        if (!peer_allowed(fd, &uid)) {
            c->st.refused_peer++;
            client_error(c, &tmp,
                         "permission denied: uid %ld is neither this instance's owner (uid %ld) "
                         "nor root",
                         (long)(int)uid, (long)geteuid());
            client_close(&tmp);
            continue;
        }
        client *k = NULL;
        for (unsigned j = 0; j < TT_CONTROL_MAX_CLIENTS && !k; j++)
            if (c->cl[j].fd < 0)
                k = &c->cl[j];
        if (!k) {
            c->st.refused_busy++;
            client_error(c, &tmp, "busy: %d control connections are open already",
                         TT_CONTROL_MAX_CLIENTS);
            client_close(&tmp);
            continue;
        }
        c->st.accepted++;
        k->fd = fd;
        k->len = 0;
        k->last_ms = now;
    }
}

unsigned tt_control_pollfds(tt_control *c, struct pollfd *pfd, unsigned max)
{
    unsigned n = 0;
    if (n < max)
        pfd[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
    for (unsigned i = 0; i < TT_CONTROL_MAX_CLIENTS && n < max; i++)
        if (c->cl[i].fd >= 0)
            pfd[n++] = (struct pollfd){.fd = c->cl[i].fd, .events = POLLIN};
    return n;
}

void tt_control_dispatch(tt_control *c, const struct pollfd *pfd, unsigned n)
{
    uint64_t now = mono_ms();
    bool listen_ready = false;
    for (unsigned i = 0; i < n; i++) {
        if (!pfd[i].revents)
            continue;
        if (pfd[i].fd == c->fd) {
            listen_ready = true;
            continue;
        }
        for (unsigned j = 0; j < TT_CONTROL_MAX_CLIENTS; j++)
            if (c->cl[j].fd == pfd[i].fd) {
                client_read(c, &c->cl[j], now);
                break;
            }
    }
    for (unsigned j = 0; j < TT_CONTROL_MAX_CLIENTS; j++) {
        client *k = &c->cl[j];
        if (k->fd >= 0 && now - k->last_ms > TT_CONTROL_IDLE_MS) {
            c->st.idle_closed++;
            client_close(k);
        }
    }
    /* After the reads: a slot freed by a closing client is reusable now. */
    if (listen_ready)
        accept_new(c, now);
}

int tt_control_poll(tt_control *c, int timeout_ms)
{
    struct pollfd pfd[TT_CONTROL_MAX_FDS];
    unsigned n = tt_control_pollfds(c, pfd, TT_CONTROL_MAX_FDS);
    int rc = poll(pfd, n, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : TT_ESYS;
    tt_control_dispatch(c, pfd, n);
    return 0;
}

void tt_control_get_stats(const tt_control *c, tt_control_stats *out)
{
    *out = c->st;
}

/* ---- socket file ------------------------------------------------------- */

int tt_control_default_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    struct stat st;
    if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
        n = snprintf(buf, len, "%s/%s", xdg, TT_CONTROL_SOCKET_NAME);
    else if (geteuid() == 0)
        n = snprintf(buf, len, "/run/tunneltap/%s", TT_CONTROL_SOCKET_NAME);
    else
        n = snprintf(buf, len, "/tmp/tunneltap-%ld/%s", (long)geteuid(), TT_CONTROL_SOCKET_NAME);
    struct sockaddr_un sa;
    if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof sa.sun_path)
        return TT_EINVAL;
    return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa->sun_path)
        return TT_EINVAL;
    memcpy(sa->sun_path, path, n);
    return 0;
}

/* The parent directory: created 0700 when missing; otherwise it must be a
 * directory of ours or root's, not writable by others unless sticky. */
static int check_parent(tt_control *c, char *errbuf)
{
    char tmp[sizeof c->path];
    memcpy(tmp, c->path, sizeof tmp);
    const char *dir = dirname(tmp);
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno != ENOENT) {
            tt__set_err(errbuf, "control socket directory '%s': %s", dir, strerror(errno));
            return errno == EACCES ? TT_EPERM : TT_ESYS;
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            tt__set_err(errbuf, "cannot create the control socket directory '%s': %s", dir,
                        strerror(errno));
            return errno == EACCES ? TT_EPERM : TT_ESYS;
        }
        c->made_dir = strdup(dir);
        if (stat(dir, &st) < 0) {
            tt__set_err(errbuf, "control socket directory '%s': %s", dir, strerror(errno));
            return TT_ESYS;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        tt__set_err(errbuf, "'%s' (for the control socket) is not a directory", dir);
        return TT_EINVAL;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        tt__set_err(errbuf, "control socket directory '%s' belongs to uid %ld, not to us (uid %ld)",
                    dir, (long)st.st_uid, (long)geteuid());
        return TT_EPERM;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        tt__set_err(errbuf,
                    "control socket directory '%s' is writable by others (mode %04o): "
                    "choose a private directory",
                    dir, (unsigned)(st.st_mode & 07777));
        return TT_EPERM;
    }
    return 0;
}

/* A socket file at path: replaced when its owner is gone, kept when alive. */
static int clear_stale(const tt_control *c, char *errbuf)
{
    struct stat st;
    if (lstat(c->path, &st) < 0)
        return errno == ENOENT ? 0 : TT_ESYS;
    if (!S_ISSOCK(st.st_mode)) {
        tt__set_err(errbuf, "'%s' exists and is not a socket: not replacing it", c->path);
        return TT_EINVAL;
    }
    struct sockaddr_un sa;
    fill_addr(&sa, c->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tt__set_err(errbuf, "socket: %s", strerror(errno));
        return TT_ESYS;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0) {
        tt__set_err(errbuf, "another tunneltap listens at '%s' (choose another --control path)",
                    c->path);
        return TT_EAGAIN;
    }
    if (e != ECONNREFUSED) {
        tt__set_err(errbuf, "cannot check the existing socket '%s': %s", c->path, strerror(e));
        return e == EACCES ? TT_EPERM : TT_ESYS;
    }
    if (unlink(c->path) < 0 && errno != ENOENT) {
        tt__set_err(errbuf, "cannot remove the stale socket '%s': %s", c->path, strerror(errno));
        return errno == EACCES || errno == EPERM ? TT_EPERM : TT_ESYS;
    }
    return 0;
}

int tt_control_open(tt_control **out, const tt_control_config *cfg, char *errbuf)
{
    *out = NULL;
    struct sockaddr_un sa;
    if (!cfg->path || !cfg->tap || fill_addr(&sa, cfg->path) < 0) {
        tt__set_err(errbuf, "control socket path '%s' is empty or longer than %zu bytes",
                    cfg->path ? cfg->path : "", sizeof sa.sun_path - 1);
        return TT_EINVAL;
    }
    tt_control *c = calloc(1, sizeof *c);
    if (!c) {
        tt__set_err(errbuf, "out of memory");
        return TT_ENOMEM;
    }
    c->cfg = *cfg;
    c->fd = -1;
    for (unsigned i = 0; i < TT_CONTROL_MAX_CLIENTS; i++)
        c->cl[i].fd = -1;
    snprintf(c->path, sizeof c->path, "%s", cfg->path);
    snprintf(c->role, sizeof c->role, "%s", cfg->role ? cfg->role : "tunneltap");
    c->cfg.path = c->path;
    c->cfg.role = c->role;

    int rc = check_parent(c, errbuf);
    if (rc < 0)
        goto err;
    if ((rc = clear_stale(c, errbuf)) < 0)
        goto err;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        tt__set_err(errbuf, "socket: %s", strerror(errno));
        rc = TT_ESYS;
        goto err;
    }
    /* The file is born 0600: umask during bind (the window between bind and
     * a later chmod would otherwise let anyone connect). umask is process
     * wide: open the control socket while no other thread creates files. */
    mode_t old = umask(0177);
    int b = bind(c->fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    umask(old);
    if (b < 0) {
        tt__set_err(errbuf, "cannot create the control socket '%s': %s", c->path, strerror(e));
        rc = e == EACCES || e == EPERM ? TT_EPERM : e == EADDRINUSE ? TT_EAGAIN : TT_ESYS;
        goto err;
    }
    struct stat st;
    if (chmod(c->path, 0600) < 0 || stat(c->path, &st) < 0 || listen(c->fd, 16) < 0) {
        tt__set_err(errbuf, "cannot set up the control socket '%s': %s", c->path, strerror(errno));
        unlink(c->path);
        rc = TT_ESYS;
        goto err;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->opened_ms = mono_ms();
    *out = c;
    return 0;
err:
    if (c->fd >= 0)
        close(c->fd);
    if (c->made_dir)
        rmdir(c->made_dir);
    free(c->made_dir);
    free(c);
    return rc;
}

void tt_control_close(tt_control *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < TT_CONTROL_MAX_CLIENTS; i++)
        client_close(&c->cl[i]);
    if (c->fd >= 0) {
        struct stat st;
        /* Only our own file: a successor may have replaced a file it
         * thought stale (it was not: but never remove someone else's). */
        if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
            unlink(c->path);
        close(c->fd);
    }
    if (c->made_dir)
        rmdir(c->made_dir); /* only succeeds when empty */
    free(c->made_dir);
    free(c);
}

/* ---- client ------------------------------------------------------------ */

int tt_control_request(const char *path, const char *line, char *reply, size_t cap, int timeout_ms,
                       char *errbuf)
{
    if (cap)
        reply[0] = '\0';
    size_t n = line ? strlen(line) : 0;
    if (n == 0 || n + 1 > TT_CONTROL_MSG_MAX || memchr(line, '\n', n)) {
        tt__set_err(errbuf, "a request is one line of 1 to %d bytes", TT_CONTROL_MSG_MAX - 1);
        return TT_EINVAL;
    }
    struct sockaddr_un sa;
    if (!path || fill_addr(&sa, path) < 0) {
        tt__set_err(errbuf, "control socket path '%s' is empty or longer than %zu bytes",
                    path ? path : "", sizeof sa.sun_path - 1);
        return TT_EINVAL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tt__set_err(errbuf, "socket: %s", strerror(errno));
        return TT_ESYS;
    }
    int rc = 0;
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
            tt__set_err(errbuf, "no running tunneltap at %s", path);
            rc = TT_ENOENT;
        } else if (e == EACCES || e == EPERM) {
            tt__set_err(errbuf,
                        "permission denied connecting to %s (the socket is owner-only: run as "
                        "its owner or root)",
                        path);
            rc = TT_EPERM;
        } else {
            tt__set_err(errbuf, "cannot connect to %s: %s", path, strerror(e));
            rc = TT_ESYS;
        }
        goto out;
    }
    char req[TT_CONTROL_MSG_MAX];
    memcpy(req, line, n);
    req[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            /* A refused peer is closed at once: its error line may be waiting. */
            break;
        }
        off += (size_t)w;
    }
    if (!(buf = malloc(TT_CONTROL_REPLY_MAX))) {
        tt__set_err(errbuf, "out of memory");
        rc = TT_ENOMEM;
        goto out;
    }
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            tt__set_err(errbuf, "no reply from %s within %d ms", path, timeout_ms);
            rc = TT_ETIMEDOUT;
            goto out;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(timeout_ms - spent));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue; /* the deadline check above ends it */
        ssize_t r = recv(fd, buf + got, TT_CONTROL_REPLY_MAX - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* closed (or reset) by the server */
        got += (size_t)r;
        if (memchr(buf, '\n', got) || got == TT_CONTROL_REPLY_MAX - 1)
            break;
    }
    char *nl = memchr(buf, '\n', got);
    size_t len = nl ? (size_t)(nl - buf) : got;
    if (cap) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(reply, buf, k);
        reply[k] = '\0';
    }
    if (len == 0) {
        tt__set_err(errbuf, "%s closed the connection without a reply", path);
        rc = TT_EPROTO;
    } else if (len >= 5 && memcmp(buf, "error", 5) == 0) {
        char msg[TT_ERRBUF_SIZE];
        sanitize(msg, sizeof msg - 1, buf, len);
        tt__set_err(errbuf, "%s", msg);
        rc = strstr(msg, "permission denied") ? TT_EPERM : TT_EPROTO;
    } else if (!nl) {
        tt__set_err(errbuf, "reply from %s cut short or longer than %d bytes", path,
                    TT_CONTROL_REPLY_MAX - 1);
        rc = TT_EPROTO;
    }
out:
    free(buf);
    close(fd);
    return rc;
}
