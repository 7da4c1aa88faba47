/* control.h - the control socket of a running tunneltap (bridge, capture).
 *
 * A Unix stream socket, owner-only (file 0600, a parent directory created
 * here is 0700), served from the host's own poll loop: no thread, no
 * blocking call. Every connection's peer is checked with SO_PEERCRED: only
 * the same effective uid or root is served; anyone else gets one error line
 * and is closed. The protocol is one request line, one reply line:
 *
 *     mark <label>   ->  ok <epoch>.<usec>          (the marker's time)
 *     status         ->  {"tunneltap":"bridge",...}  (one JSON object)
 *     anything else  ->  error <reason>
 *
 * A request is at most TT_CONTROL_MSG_MAX bytes including its newline; a
 * longer one gets "error ..." and the connection is closed. Labels are
 * sanitised before they reach the tap (tt_control_sanitize_label). A client
 * may send several requests on one connection; an idle connection is closed
 * after TT_CONTROL_IDLE_MS. docs/bridge.md describes the protocol for users.
 *
 * Host side:
 *     tt_control_config cc = {.path = p, .tap = tap, .role = "bridge"};
 *     tt_control *ctl;
 *     if (tt_control_open(&ctl, &cc, err) < 0) -> print err
 *     loop: n = tt_control_pollfds(ctl, pfd + k, TT_CONTROL_MAX_FDS);
 *           poll(pfd, k + n, ...); tt_control_dispatch(ctl, pfd + k, n);
 *     tt_control_close(ctl);            (removes the socket file)
 * Client side: tt_control_request(path, "status", reply, sizeof reply, 5000, err).
 */
#ifndef TT_CAPTURE_CONTROL_H
#define TT_CAPTURE_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/tunneltap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_CONTROL_MSG_MAX 512   /* request line, newline included */
#define TT_CONTROL_MAX_CLIENTS 8 /* connections served at once */
#define TT_CONTROL_MAX_FDS (1 + TT_CONTROL_MAX_CLIENTS)
#define TT_CONTROL_IDLE_MS 10000   /* a connection silent this long is closed */
#define TT_CONTROL_REPLY_MAX 65536 /* longest reply a client accepts */
#define TT_CONTROL_SOCKET_NAME "tunneltap.sock"

/* A JSON object under construction (a status reply); hosts add their own
 * counters through the setters below without seeing the JSON library. Every
 * setter accepts NULL (an object that could not be allocated) and does nothing.
 * Thread-safety: the thread building the reply (the status callback's). */
typedef struct tt_control_json tt_control_json;

void tt_control_json_u64(tt_control_json *o, const char *key, uint64_t v);
void tt_control_json_bool(tt_control_json *o, const char *key, bool v);
/* Written with 16 significant digits: an epoch time keeps its microseconds. */
void tt_control_json_real(tt_control_json *o, const char *key, double v);
/* The string is sanitised like a label (valid UTF-8, no control characters). */
void tt_control_json_str(tt_control_json *o, const char *key, const char *s);
/* A new object stored under key (replacing any), or NULL when out of memory. */
tt_control_json *tt_control_json_object(tt_control_json *o, const char *key);
/* A new object appended to the array under key (created when missing). */
tt_control_json *tt_control_json_append(tt_control_json *o, const char *key);

/* Called while a status reply is built, on the thread that runs
 * tt_control_dispatch (the host's loop): host counters kept by that thread
 * need no lock. */
typedef void (*tt_control_status_fn)(void *ctx, tt_control_json *status);

typedef struct tt_control_config {
    const char *path;            /* socket path (tt_control_default_path) */
    tt_tap *tap;                 /* marks go here, status reads its counters */
    const char *role;            /* "bridge", "capture": the reply's "tunneltap" key */
    tt_control_status_fn status; /* optional: adds the host's own counters */
    void *status_ctx;
} tt_control_config;

typedef struct tt_control tt_control;

/* The default socket path: $XDG_RUNTIME_DIR/tunneltap.sock when that
 * variable names an absolute directory, else /run/tunneltap/tunneltap.sock
 * for root, else /tmp/tunneltap-<uid>/tunneltap.sock. Returns 0, or
 * TT_EINVAL when it does not fit in len bytes or in a sockaddr_un.
 * Thread-safety: any thread (reads the environment). */
int tt_control_default_path(char *buf, size_t len);

/* Creates the socket at cfg->path and listens. A missing parent directory is
 * created with mode 0700 (one level); an existing parent must be a directory,
 * and one that is writable by others must be sticky (like /tmp). The socket
 * file is created 0600. A socket file left by a dead instance is replaced; a
 * live one is not. Returns 0 and sets *out, or
 *   TT_EINVAL  path empty or too long for a Unix socket, or not a socket file,
 *   TT_EAGAIN  another instance listens at path,
 *   TT_EPERM   a parent directory or socket we may not use,
 *   TT_ENOMEM, TT_ESYS (errno in errbuf),
 * with a message naming the path in errbuf (may be NULL).
 * Thread-safety: any thread; the handle is then owner thread only. */
int tt_control_open(tt_control **out, const tt_control_config *cfg, char *errbuf);

/* Fills up to max pollfd entries (TT_CONTROL_MAX_FDS is always enough) with
 * the listening socket and the open connections, events POLLIN; returns how
 * many. Thread-safety: owner thread only. */
unsigned tt_control_pollfds(tt_control *c, struct pollfd *pfd, unsigned max);

/* Serves the entries tt_control_pollfds filled, after poll() set their
 * revents: accepts, checks peers, reads requests, replies, closes idle or
 * misbehaving connections. Call it after every poll() (also on timeout) so
 * idle connections expire. Never blocks. Thread-safety: owner thread only. */
void tt_control_dispatch(tt_control *c, const struct pollfd *pfd, unsigned n);

/* Convenience loop body for a host without a poll loop of its own (tests,
 * a helper thread): polls the control descriptors up to timeout_ms and
 * serves them. Returns 0 or TT_ESYS (poll failed; EINTR is 0).
 * Thread-safety: owner thread only. */
int tt_control_poll(tt_control *c, int timeout_ms);

/* Counters for status and tests. Thread-safety: owner thread only. */
typedef struct tt_control_stats {
    uint64_t accepted, refused_peer, refused_busy, requests, errors, oversize, idle_closed,
        reply_failed;
} tt_control_stats;
void tt_control_get_stats(const tt_control *c, tt_control_stats *out);

/* Closes every connection and the socket, and removes the socket file if it
 * is still the one created here. NULL is accepted. Thread-safety: owner thread only. */
void tt_control_close(tt_control *c);

/* Client: connects to path, sends `line` (a newline is added), waits up to
 * timeout_ms for one reply line and copies it without its newline into
 * reply (cap bytes, NUL-terminated; a longer reply is cut). Returns 0 for
 * any reply but an error line, or
 *   TT_ENOENT    nothing listens at path (no file, or a dead instance's file),
 *   TT_EPERM     not allowed to connect, or refused by the peer check
 *                (reply holds the server's error line when it sent one),
 *   TT_EPROTO    the server answered "error ..." (in reply) or nonsense,
 *   TT_EINVAL    line empty, too long or containing a newline; path too long,
 *   TT_ETIMEDOUT no reply within timeout_ms,
 *   TT_ESYS      any other failure,
 * with a message in errbuf (may be NULL). Thread-safety: any thread. */
int tt_control_request(const char *path, const char *line, char *reply, size_t cap, int timeout_ms,
                       char *errbuf);

/* Copies len bytes of src into dst (cap bytes, always NUL-terminated) so
 * that they are safe on a terminal and in logs: at most
 * TT_MARK_LABEL_MAX - 1 bytes, cut at a character boundary; ASCII control
 * characters (escape included), DEL, C1 controls (U+0080..U+009F), the
 * line/paragraph separators and bidirectional overrides (U+2028, U+2029,
 * U+202A..U+202E, U+2066..U+2069) and bytes that are not valid UTF-8 each
 * become '?'; leading and trailing spaces go.
 * Returns the length written. Thread-safety: any thread. */
size_t tt_control_sanitize_label(char *dst, size_t cap, const char *src, size_t len);

#ifdef __cplusplus
}
#endif
#endif
