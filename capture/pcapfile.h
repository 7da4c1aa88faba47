/* pcapfile.h - reads a pcap or pcapng capture file (or stdin) through libpcap.
 *
 * A small handle over pcap_fopen_offline(): it checks the link type against
 * what the analyzer decodes, applies an optional BPF filter, hands out
 * packets without allocating, and tells a damaged file (error mid-way) apart
 * from its clean end, so that a caller can still report everything read
 * before the fault. A handle is used by one thread at a time (as a pcap_t
 * must be): its stream is read without stdio's lock.
 *
 *     tt_pcapfile *f;
 *     char err[TT_ERRBUF_SIZE];
 *     if (tt_pcapfile_open(&f, "x.pcap", "udp", err) < 0) -> print err
 *     tt_pcapfile_pkt p;
 *     while ((rc = tt_pcapfile_next(f, &p, err)) == 1) feed(p);
 *     or, 64 records per call into libpcap, feed being a tt_pcapfile_fn:
 *     while ((rc = tt_pcapfile_each(f, 64, feed, ctx, err)) == 1) ;
 *     rc == 0: end of file; rc < 0: damaged, err says where and why
 *     tt_pcapfile_close(f);
 */
#ifndef TT_CAPTURE_PCAPFILE_H
#define TT_CAPTURE_PCAPFILE_H

#include <stdint.h>

#include "tunneltap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_pcapfile tt_pcapfile;

/* One packet. data points into libpcap's buffer: valid until the next call
 * to tt_pcapfile_next() or tt_pcapfile_close(). */
typedef struct tt_pcapfile_pkt {
    uint64_t ts_us;      /* microseconds since the epoch (negative times clamp to 0) */
    const uint8_t *data; /* caplen bytes */
    uint32_t caplen;     /* bytes captured */
    uint32_t len;        /* bytes on the wire */
    uint64_t number;     /* 1-based record number in the file (Wireshark's frame number) */
} tt_pcapfile_pkt;

/* Opens path ("-" reads stdin) as a pcap or pcapng file with microsecond
 * timestamps, checks that the analyzer decodes its link type and compiles
 * bpf (NULL or "" for none). Returns 0 and sets *out, or
 *   TT_ENOENT    the file does not exist,
 *   TT_EPERM     permission denied,
 *   TT_EINVAL    a directory, or a bad filter expression,
 *   TT_EFORMAT   not a capture file, or its header is cut,
 *   TT_ELINKTYPE a link type the analyzer cannot decode,
 *   TT_EIO       any other read error,
 *   TT_ENOMEM    out of memory;
 * with a message naming the file in errbuf (may be NULL). On error nothing
 * is leaked and *out is NULL.
 * Thread-safety: any thread. */
int tt_pcapfile_open(tt_pcapfile **out, const char *path, const char *bpf, char *errbuf);

/* Reads the next packet that passes the filter. Returns 1 and fills *pkt, 0
 * at the end of the file, TT_EFORMAT when the file is damaged (record cut,
 * bad record length, a pcapng interface of another link type, read error),
 * or TT_EIO when the file shrank while it was being read or its pages could
 * not be read from the device (with glibc a regular file is read through
 * its mapping, where either would otherwise end the process with SIGBUS),
 * with a message in errbuf naming the file, the record number and the
 * reason. After a negative return every later call returns it again.
 * Thread-safety: owner thread only. */
int tt_pcapfile_next(tt_pcapfile *f, tt_pcapfile_pkt *pkt, char *errbuf);

/* Called by tt_pcapfile_each() with each packet that passes the filter;
 * pkt->data is valid during the call only. Return 0 to go on, nonzero to
 * stop after this packet. */
typedef int (*tt_pcapfile_fn)(void *ctx, const tt_pcapfile_pkt *pkt);

/* Reads up to max records (1 if max is 0) and calls fn with each that passes
 * the filter, in one call into libpcap: a reading loop pays libpcap's
 * per-call cost once per batch instead of once a packet. Returns 1 when it
 * read a record (fn may have been called fewer times, or not at all), 0 at
 * the end of the file, or a negative code as tt_pcapfile_next() does, after
 * fn had every packet before the damage. Reads may mix tt_pcapfile_next()
 * and tt_pcapfile_each(). Thread-safety: owner thread only. */
int tt_pcapfile_each(tt_pcapfile *f, unsigned max, tt_pcapfile_fn fn, void *ctx, char *errbuf);

/* DLT_ value of the file, as tt_analyzer_packet() takes it. Thread-safety: owner thread only. */
int tt_pcapfile_linktype(const tt_pcapfile *f);

/* libpcap's name of that link type ("RAW", "EN10MB", ...). Thread-safety: owner thread only. */
const char *tt_pcapfile_linktype_name(const tt_pcapfile *f);

/* The name used in messages: the path, or "stdin". Thread-safety: owner thread only. */
const char *tt_pcapfile_name(const tt_pcapfile *f);

/* Snapshot length from the file header. Thread-safety: owner thread only. */
int tt_pcapfile_snaplen(const tt_pcapfile *f);

/* Records read so far (whether or not they passed the filter), and of those
 * the ones that passed. Thread-safety: owner thread only. */
uint64_t tt_pcapfile_records(const tt_pcapfile *f);
uint64_t tt_pcapfile_matched(const tt_pcapfile *f);

/* Progress: bytes consumed so far and the file size; *size is 0 when it is
 * unknown (a pipe), *done 0 when the position cannot be read.
 * Thread-safety: owner thread only. */
void tt_pcapfile_progress(const tt_pcapfile *f, uint64_t *done, uint64_t *size);

/* Closes the file (stdin stays open). NULL is accepted. Thread-safety: owner thread only. */
void tt_pcapfile_close(tt_pcapfile *f);

#ifdef __cplusplus
}
#endif
#endif
