/* test_control.c - the control socket: server and client in one process.
 *
 * A server thread runs tt_control_poll() over a tap that nothing analyses
 * unless the test drains it; the test thread is the client. The
 * peer-credential test forks a child that becomes `nobody` (root only).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/control.h"
#include "tests/pkt.h"

#define NOBODY 65534
#define T0 UINT64_C(1764230400000000) /* 2025-11-27 08:00:00 UTC, microseconds */

typedef struct server {
    char dir[64];   /* mkdtemp'd, 0700 */
    char sub[96];   /* dir/run: created by tt_control_open */
    char path[128]; /* sub/tunneltap.sock */
    tt_tap *tap;
    tt_control *ctl;
    pthread_t thread;
    atomic_bool stop;
    tt_control_stats stats; /* after server_stop */
} server;

static void host_status(void *ctx, tt_control_json *o)
{
    (void)ctx;
    tt_control_json *h = tt_control_json_object(o, "host");
    tt_control_json_u64(h, "write_errors", 7);
    tt_control_json_str(h, "device", "tt\x1b[0m0");
}

static void *serve(void *arg)
{
    server *s = arg;
    while (!atomic_load(&s->stop))
        cr_assert_eq(tt_control_poll(s->ctl, 20), 0);
    return NULL;
}

/* A server on a tap of its own (one producer, analysed when the test
 * drains it), with nDPI when dpi. */
static void server_start_with(server *s, bool dpi)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/tt-control.XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->sub, sizeof s->sub, "%s/run", s->dir);
    snprintf(s->path, sizeof s->path, "%s/%s", s->sub, TT_CONTROL_SOCKET_NAME);
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false; /* the test drains when it wants flows */
    cfg.live_clock = false;
    cfg.max_producers = 1;
    cfg.ring_bytes = 1u << 16;
    cfg.analyzer.enable_dpi = dpi;
    char err[TT_ERRBUF_SIZE] = "";
    cr_assert_eq(tt_tap_open(&s->tap, &cfg, err), 0, "tap: %s", err);
    tt_control_config cc = {.path = s->path, .tap = s->tap, .role = "test", .status = host_status};
    int rc = tt_control_open(&s->ctl, &cc, err);
    cr_assert_eq(rc, 0, "control: %s (%s)", err, tt_err_name(rc));
    atomic_store(&s->stop, false);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_start(server *s)
{
    server_start_with(s, false);
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    tt_control_get_stats(s->ctl, &s->stats);
    tt_control_close(s->ctl);
    tt_tap_close(s->tap);
    struct stat st;
    cr_expect_neq(stat(s->path, &st), 0, "the socket file outlived the server");
    rmdir(s->sub); /* already gone when the server made it */
    cr_expect_eq(rmdir(s->dir), 0, "rmdir %s: %s", s->dir, strerror(errno));
}

/* A raw client: connects and sends n bytes as they are. Returns the fd. */
static int raw_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
    return fd;
}

static void raw_send(int fd, const void *buf, size_t n)
{
    cr_assert_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until the peer closes or 2 s pass; returns the bytes read. */
static size_t raw_read_all(int fd, char *buf, size_t cap)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return got;
}

static bool valid_utf8_without_controls(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (!n)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
            return false; /* C1 control */
        if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae)
            return false; /* separators, bidi overrides */
        p += n;
    }
    return true;
}

Test(control, mark_round_trip_returns_the_marker_time)
{
    server s;
    server_start(&s);
    char reply[128], err[TT_ERRBUF_SIZE] = "";
    int rc =
        tt_control_request(s.path, "mark filter 2.1 installed", reply, sizeof reply, 2000, err);
    cr_assert_eq(rc, 0, "%s", err);
    unsigned long long sec = 0, usec = 0;
    int used = 0;
    cr_assert_eq(sscanf(reply, "ok %llu.%6llu%n", &sec, &usec, &used), 2, "reply '%s'", reply);
    cr_assert_eq((size_t)used, strlen(reply), "reply '%s' has more than ok <epoch.usec>", reply);
    cr_assert_eq(strlen(strchr(reply, '.') + 1), 6, "six digits of microseconds: '%s'", reply);
    tt_marker m[4];
    cr_assert_eq(tt_tap_markers(s.tap, m, 4), 1);
    cr_assert_str_eq(m[0].label, "filter 2.1 installed");
    cr_assert_eq(m[0].ts_us, sec * 1000000ull + usec);
    server_stop(&s);
    cr_assert_eq(s.stats.requests, 1);
}

Test(control, status_is_one_json_object_with_the_counters)
{
    server s;
    server_start_with(&s, true);
    tt_producer *p;
    cr_assert_eq(tt_tap_producer_open(s.tap, &p), 0);
    tflow f = t_flow4("10.0.0.2", 40000, "10.0.0.1", 53);
    tpkt pk;
    for (int i = 0; i < 3; i++) {
        t_udp(&pk, &f, i == 2, "query", 5);
        /* the reply stamped before the second query: one copy out of order */
        uint64_t ts = T0 + (i == 1 ? 2u : i == 2 ? 1u : 0u);
        int rc = tt_tap_submit(p, pk.b, pk.len, TT_LINK_RAW, TT_DIR_OUTBOUND, ts);
        cr_assert_eq(rc, 0);
    }
    cr_assert_eq(tt_tap_drain(s.tap, 0), 3);
    char err[TT_ERRBUF_SIZE] = "";
    cr_assert_eq(tt_control_request(s.path, "mark before", NULL, 0, 2000, err), 0, "%s", err);

    char *reply = malloc(TT_CONTROL_REPLY_MAX);
    cr_assert_not_null(reply);
    int rc = tt_control_request(s.path, "status", reply, TT_CONTROL_REPLY_MAX, 2000, err);
    cr_assert_eq(rc, 0, "%s", err);
    json_error_t je;
    json_t *j = json_loads(reply, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, reply);
    cr_assert(json_is_object(j));
    cr_assert_str_eq(json_string_value(json_object_get(j, "tunneltap")), "test");
    cr_assert(json_is_integer(json_object_get(j, "uptime_s")));
    json_t *pk_ = json_object_get(j, "packets");
    cr_assert_eq(json_integer_value(json_object_get(pk_, "submitted")), 3);
    cr_assert_eq(json_integer_value(json_object_get(pk_, "analysed")), 3);
    cr_assert_eq(json_integer_value(json_object_get(pk_, "ts_backwards")), 1);
    json_t *drops = json_object_get(j, "drops");
    cr_assert_eq(json_integer_value(json_object_get(drops, "total")), 0);
    json_t *ring = json_object_get(j, "ring");
    cr_assert_eq(json_integer_value(json_object_get(ring, "capacity_bytes")), 1 << 16);
    cr_assert(json_is_real(json_object_get(ring, "fill")));
    json_t *flows = json_object_get(j, "flows");
    cr_assert_eq(json_integer_value(json_object_get(flows, "created")), 1);
    cr_assert(json_is_object(json_object_get(flows, "by_verdict")), "%s", reply);
    /* nDPI read the three datagrams ("query" is no protocol it knows), and
     * the flow still holds its classification slot */
    json_t *dpi = json_object_get(j, "dpi");
    cr_assert_eq(json_integer_value(json_object_get(dpi, "packets")), 3, "%s", reply);
    cr_assert_eq(json_integer_value(json_object_get(dpi, "classifying")), 1, "%s", reply);
    cr_assert_eq(json_integer_value(json_object_get(dpi, "classified")), 0, "%s", reply);
    cr_assert(json_is_integer(json_object_get(dpi, "given_up")), "%s", reply);
    cr_assert_eq(json_integer_value(json_object_get(dpi, "pool_empty")), 0, "%s", reply);
    json_t *marks = json_object_get(j, "markers");
    cr_assert_eq(json_integer_value(json_object_get(marks, "count")), 1);
    json_t *m0 = json_array_get(json_object_get(marks, "recent"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m0, "label")), "before");
    cr_assert(json_real_value(json_object_get(m0, "ts")) > 1.7e9);
    json_t *host = json_object_get(j, "host");
    cr_assert_eq(json_integer_value(json_object_get(host, "write_errors")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(host, "device")), "tt?[0m0");
    json_decref(j);
    free(reply);
    server_stop(&s);
}

Test(control, oversize_request_is_refused_and_the_connection_closed)
{
    server s;
    server_start(&s);
    /* Exactly the limit (511 bytes + newline) is a request, if an unknown one. */
    char line[TT_CONTROL_MSG_MAX + 100], buf[1024];
    memset(line, 'a', sizeof line);
    line[TT_CONTROL_MSG_MAX - 1] = '\n';
    int fd = raw_connect(s.path);
    raw_send(fd, line, TT_CONTROL_MSG_MAX);
    shutdown(fd, SHUT_WR);
    raw_read_all(fd, buf, sizeof buf);
    close(fd);
    cr_assert(strncmp(buf, "error unknown request", 21) == 0, "got '%s'", buf);

    /* One byte more, no newline in sight: refused, then closed. */
    memset(line, 'a', sizeof line);
    fd = raw_connect(s.path);
    raw_send(fd, line, TT_CONTROL_MSG_MAX + 88);
    size_t n = raw_read_all(fd, buf, sizeof buf); /* returns at EOF: the server closed */
    close(fd);
    cr_assert_gt(n, 0);
    cr_assert(strstr(buf, "error request longer than 512 bytes") == buf, "got '%s'", buf);
    cr_assert_eq(strchr(buf, '\n'), buf + n - 1, "one line, then EOF: '%s'", buf);

    /* The client library refuses to send one. */
    char err[TT_ERRBUF_SIZE];
    line[TT_CONTROL_MSG_MAX] = '\0';
    cr_assert_eq(tt_control_request(s.path, line, NULL, 0, 1000, err), TT_EINVAL);
    server_stop(&s);
    cr_assert_eq(s.stats.oversize, 1);
}

Test(control, label_with_escape_sequences_is_sanitised)
{
    server s;
    server_start(&s);
    /* CSI clear screen, an OSC title with BEL, a C1 CSI (U+009B), a
     * right-to-left override (U+202E), a stray 0xff, DEL and a NUL. */
    static const char evil[] = "mark \x1b[2J\x1b]0;pwned\x07 ok \xc2\x9b"
                               "31m \xe2\x80\xae"
                               "evil\xff\x7f|\0|";
    int fd = raw_connect(s.path);
    raw_send(fd, evil, sizeof evil - 1);
    raw_send(fd, "\n", 1);
    shutdown(fd, SHUT_WR);
    char buf[256];
    raw_read_all(fd, buf, sizeof buf);
    close(fd);
    cr_assert(strncmp(buf, "ok ", 3) == 0, "got '%s'", buf);
    tt_marker m[2];
    cr_assert_eq(tt_tap_markers(s.tap, m, 2), 1);
    cr_assert(valid_utf8_without_controls(m[0].label), "label '%s'", m[0].label);
    cr_assert_str_eq(m[0].label, "?[2J?]0;pwned? ok ?31m ?evil??|?|");
    server_stop(&s);
}

Test(control, sanitiser_cuts_long_labels_at_a_character_boundary)
{
    char src[200], dst[TT_MARK_LABEL_MAX];
    size_t n = 0;
    for (int i = 0; i < 40; i++) { /* 40 x U+00E9, 80 bytes */
        src[n++] = '\xc3';
        src[n++] = '\xa9';
    }
    size_t len = tt_control_sanitize_label(dst, sizeof dst, src, n);
    cr_assert_eq(len, 62, "31 whole characters, not 63 bytes with half a one");
    cr_assert(valid_utf8_without_controls(dst));
    memset(src, 'x', 100);
    cr_assert_eq(tt_control_sanitize_label(dst, sizeof dst, src, 100), TT_MARK_LABEL_MAX - 1);
    cr_assert_eq(tt_control_sanitize_label(dst, 8, "  padded  ", 10), 6);
    cr_assert_str_eq(dst, "padded");
    cr_assert_eq(tt_control_sanitize_label(dst, sizeof dst, "\xf0\x9f\x93\x8c pin", 8), 8);
    cr_assert_str_eq(dst, "\xf0\x9f\x93\x8c pin", "four-byte characters pass");
    cr_assert_eq(tt_control_sanitize_label(dst, sizeof dst, "\xe0\x80\xaf", 3), 3);
    cr_assert_str_eq(dst, "???", "an overlong encoding is not UTF-8");
}

Test(control, socket_file_is_owner_only)
{
    server s;
    server_start(&s);
    struct stat st;
    cr_assert_eq(stat(s.path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0600, "socket mode %04o", (unsigned)(st.st_mode & 07777));
    cr_assert_eq(st.st_uid, geteuid());
    cr_assert_eq(stat(s.sub, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0700, "created directory mode %04o",
                 (unsigned)(st.st_mode & 07777));
    server_stop(&s);
}

Test(control, no_listener_or_stale_socket_means_no_instance)
{
    char dir[] = "/tmp/tt-control.XXXXXX", path[64], err[TT_ERRBUF_SIZE], reply[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gone.sock", dir);
    cr_assert_eq(tt_control_request(path, "status", reply, sizeof reply, 1000, err), TT_ENOENT);
    cr_assert(strstr(err, "no running tunneltap at ") != NULL, "%s", err);

    /* A socket file whose owner died: ECONNREFUSED, still "no instance". */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    cr_assert_eq(tt_control_request(path, "status", reply, sizeof reply, 1000, err), TT_ENOENT);

    /* A new instance replaces the stale file; a second one is refused. */
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.own_thread = false;
    cfg.max_producers = 1;
    cfg.ring_bytes = 4096;
    cfg.analyzer.enable_dpi = false;
    tt_tap *tap;
    cr_assert_eq(tt_tap_open(&tap, &cfg, err), 0);
    tt_control_config cc = {.path = path, .tap = tap, .role = "test"};
    tt_control *a, *b;
    cr_assert_eq(tt_control_open(&a, &cc, err), 0, "%s", err);
    cr_assert_eq(tt_control_open(&b, &cc, err), TT_EAGAIN);
    cr_assert(strstr(err, "another tunneltap listens") != NULL, "%s", err);
    tt_control_close(a);
    tt_tap_close(tap);
    cr_assert_eq(rmdir(dir), 0, "rmdir: %s", strerror(errno));
}

Test(control, unknown_request_is_a_protocol_error)
{
    server s;
    server_start(&s);
    char reply[256], err[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_control_request(s.path, "reboot \x1b[1m", reply, sizeof reply, 2000, err),
                 TT_EPROTO);
    cr_assert_str_eq(reply, "error unknown request 'reboot' (mark <label>, status)");
    cr_assert_eq(tt_control_request(s.path, "mark    ", reply, sizeof reply, 2000, err), TT_EPROTO);
    cr_assert(strstr(reply, "mark needs a label") != NULL, "%s", reply);
    server_stop(&s);
}

/* Child: becomes nobody, asks for the status, exits 0 when refused as
 * expected (want_peer_refusal: by the server's SO_PEERCRED check; else by
 * the file mode, at connect). */
static int child_as_nobody(const char *path, bool want_peer_refusal)
{
    if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
        return 10;
    char reply[256] = "", err[TT_ERRBUF_SIZE] = "";
    int rc = tt_control_request(path, "status", reply, sizeof reply, 2000, err);
    if (rc != TT_EPERM) {
        fprintf(stderr, "child: got %s (%s), reply '%s'\n", tt_err_name(rc), err, reply);
        return 11;
    }
    bool by_peer = strncmp(reply, "error permission denied: uid 65534", 34) == 0;
    bool by_mode = reply[0] == '\0' && strstr(err, "permission denied connecting") != NULL;
    if (want_peer_refusal ? !by_peer : !by_mode) {
        fprintf(stderr, "child: refused the wrong way: err '%s', reply '%s'\n", err, reply);
        return 12;
    }
    return 0;
}

static int run_child(const char *path, bool want_peer_refusal)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(child_as_nobody(path, want_peer_refusal));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

Test(control, other_users_are_refused_by_file_mode_and_peer_credentials)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (to become uid %d)", NOBODY);
    server s;
    server_start(&s);
    /* First barrier: the 0600 file (and 0700 directories) keep nobody out. */
    cr_assert_eq(chmod(s.dir, 0711), 0);
    cr_assert_eq(run_child(s.path, false), 0);
    /* Second barrier: open the file to everyone; the peer check still refuses. */
    cr_assert_eq(chmod(s.sub, 0711), 0);
    cr_assert_eq(chmod(s.path, 0666), 0);
    cr_assert_eq(run_child(s.path, true), 0);
    /* The owner is still served. */
    char reply[128], err[TT_ERRBUF_SIZE];
    cr_assert_eq(tt_control_request(s.path, "mark after", reply, sizeof reply, 2000, err), 0, "%s",
                 err);
    server_stop(&s);
    cr_assert_eq(s.stats.refused_peer, 1);
}
