/* evidence.h - `--evidence PATH`: the packets behind the failures, as a pcapng file.
 *
 * After a replay, cli_evidence_write() reads the capture a second time and
 * keeps the packets of every flagged flow (a failure verdict, certain or
 * uncertain) and every packet within ±around_marker_s of each marker. Each
 * kept packet carries a comment naming its flow and verdict:
 *
 *     tunneltap: C3x... syn_unanswered certain S0 S tcp 10.77.1.2:40000 -> 10.77.2.2:80
 *     tunneltap: around marker "filter 2.1"
 *
 * the first packet at or after each marker also carries
 *
 *     tunneltap: MARKER "filter 2.1" at 2025-11-27T12:03:05.123456Z
 *
 * and the section header's comment lists the markers and the alerts. Open it
 * in Wireshark and filter on `frame.comment contains "syn_unanswered"`.
 * docs/evidence-and-report.md tells how to read it.
 */
#ifndef TT_CLI_EVIDENCE_H
#define TT_CLI_EVIDENCE_H

#include <stdint.h>

#include "cli/cli.h"
#include "tunneltap/tunneltap.h"

/* Default for cli_evidence_input.around_marker_s. */
#define CLI_EVIDENCE_AROUND_MARKER_S 5u

/* A packet belongs to a record when record ts <= packet ts <= last_us + this. */
#define CLI_EVIDENCE_TAIL_US 5000000u

typedef struct cli_evidence_input {
    const char *capture_path;   /* the capture that was replayed (re-read here) */
    const char *bpf;            /* the replay's filter or NULL */
    const cli_connbuf *records; /* every connection (sorted by ts, uid) */
    const tt_marker *markers;
    unsigned nmarkers;
    const tt_alert *alerts;
    unsigned nalerts;
    uint32_t around_marker_s; /* also keep every packet within ±N s of each marker (default 5;
                               * 0: only packets at a marker's exact time) */
} cli_evidence_input;

/* Writes PATH; returns 0 or a TT_E* code with a message in err
 * (TT_ERRBUF_SIZE, may be NULL); fills *written (may be NULL) with the
 * packets written. Errors: TT_EINVAL (no capture path, or "-": stdin cannot
 * be read twice), the codes of tt_pcapfile_open() and tt_pcapfile_next() for
 * the capture (a damaged capture still leaves every packet read before the
 * damage in PATH), TT_ENOMEM, TT_EIO / TT_EPERM / TT_ENOENT writing PATH.
 * Memory: about 80 bytes per record at peak for the index, freed on return.
 * Thread-safety: any thread (touches only its arguments). */
int cli_evidence_write(const char *path, const cli_evidence_input *in, uint64_t *written,
                       char *err);

#endif
