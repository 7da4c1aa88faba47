/* live.h - live capture from a network interface through libpcap.
 *
 * A small handle over pcap_create()/pcap_activate() for the capture host:
 * immediate mode (each packet is handed out as it arrives, no buffering
 * delay), non-blocking, a descriptor to poll(), and the kernel's drop
 * counters turned into "new drops since last asked" so a host can report
 * them to the analyzer as capture loss.
 *
 *     tt_live *l;
 *     char err[TT_ERRBUF_SIZE];
 *     if (tt_live_open(&l, "eth0", 0, 0, "udp or tcp", err) < 0) -> print err
 *     poll tt_live_fd(l) for POLLIN, then tt_live_dispatch(l, 256, fn, ctx, err)
 *     once a second: tt_live_new_drops(l, &n) -> tt_tap_note_loss(tap, now, n)
 *     tt_live_close(l);
 */
#ifndef TT_CAPTURE_LIVE_H
#define TT_CAPTURE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "tunneltap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default and limits of the snapshot length (bytes kept of each packet). */
#define TT_LIVE_SNAPLEN_DEFAULT 262144
#define TT_LIVE_SNAPLEN_MIN 96
/* The kernel's buffer for captured packets (libpcap's 'buffer size', tcpdump
 * -B): what the capture thread may fall behind by before the kernel drops.
 * libpcap's own default, 2 MiB, holds ~1 300 full-size frames: 11 ms at
 * 120 000 packets a second (docs/bridge.md, "Running a live capture": the
 * drops measured at 2M to 32M, and what it costs in memory). */
#define TT_LIVE_BUFFER_DEFAULT ((size_t)32 << 20)
#define TT_LIVE_BUFFER_MIN ((size_t)256 << 10)
#define TT_LIVE_BUFFER_MAX ((size_t)1 << 30)

typedef struct tt_live tt_live;

/* One captured packet: caplen bytes at data (valid during the call only),
 * len bytes on the wire, ts_us microseconds since the epoch. */
typedef void (*tt_live_fn)(void *ctx, const uint8_t *data, uint32_t caplen, uint32_t len,
                           uint64_t ts_us);

/* Opens interface `iface` for capture with snapshot length `snaplen`
 * (0: TT_LIVE_SNAPLEN_DEFAULT; else TT_LIVE_SNAPLEN_MIN..262144), a kernel
 * buffer of `buffer` bytes (0: TT_LIVE_BUFFER_DEFAULT; else
 * TT_LIVE_BUFFER_MIN..TT_LIVE_BUFFER_MAX) and an optional BPF filter (NULL
 * or "": none). Checks that the analyzer decodes
 * the interface's link type. Returns 0 and sets *out, or
 *   TT_ENOENT    no such interface,
 *   TT_EPERM     not allowed to capture (CAP_NET_RAW needed),
 *   TT_EINVAL    bad snapshot length, buffer size or filter, or the interface is not up,
 *   TT_ELINKTYPE a link type the analyzer cannot decode (errbuf lists those it can),
 *   TT_ENOMEM    out of memory,
 *   TT_EIO       any other libpcap failure,
 * with a message naming the interface in errbuf (may be NULL). On error
 * nothing is leaked and *out is NULL. A libpcap warning (e.g. promiscuous
 * mode not supported) does not fail the call: tt_live_warning() has it.
 * Thread-safety: any thread. */
int tt_live_open(tt_live **out, const char *iface, int snaplen, size_t buffer, const char *bpf,
                 char *errbuf);

/* Descriptor to poll() for POLLIN before tt_live_dispatch().
 * Thread-safety: owner thread only. */
int tt_live_fd(const tt_live *l);

/* Hands up to `max` waiting packets (max <= 0: all waiting) to fn and
 * returns how many, 0 when none is waiting (never blocks). Returns TT_EIO
 * with libpcap's reason in errbuf (may be NULL) when the capture broke (the
 * interface went away or down): the handle is then useless but must still
 * be closed. Thread-safety: owner thread only. */
int tt_live_dispatch(tt_live *l, int max, tt_live_fn fn, void *ctx, char *errbuf);

/* Packets the kernel dropped for this capture (buffer full, ps_drop) or the
 * interface dropped (ps_ifdrop) since the previous call (or the open), with
 * libpcap's 32-bit counters unwrapped. Returns 0 and sets *count, or TT_EIO
 * when libpcap cannot say (count 0). Thread-safety: owner thread only. */
int tt_live_new_drops(tt_live *l, uint64_t *count);

/* Totals since the open: packets delivered to the callback, kernel drops
 * reported by tt_live_new_drops. Thread-safety: owner thread only. */
uint64_t tt_live_packets(const tt_live *l);
uint64_t tt_live_drops(const tt_live *l);

/* DLT value of the interface, as tt_tap_submit()/tt_analyzer_packet() take
 * it, and libpcap's name of it ("EN10MB", "RAW", ...).
 * Thread-safety: owner thread only. */
int tt_live_linktype(const tt_live *l);
const char *tt_live_linktype_name(const tt_live *l);

/* The interface name; libpcap's activation warning or NULL.
 * Thread-safety: owner thread only. */
const char *tt_live_iface(const tt_live *l);
const char *tt_live_warning(const tt_live *l);

/* Closes the capture. NULL is accepted. Thread-safety: owner thread only. */
void tt_live_close(tt_live *l);

#ifdef __cplusplus
}
#endif
#endif
