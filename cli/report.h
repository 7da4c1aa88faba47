/* report.h - `--report PATH`: one self-contained HTML page that shows the break.
 *
 * The page has an inline SVG timeline (UDP answer rate and TCP handshake
 * completion above, new flows per second below, markers as labelled
 * vertical lines, alerts where the regression began and where it recovered)
 * and the tables behind it: alerts, markers, before/after each marker,
 * verdicts per protocol, top failing destinations. No script, no external
 * file, font or style: it opens offline and can be mailed as it is. Every
 * string taken from the data is HTML-escaped. docs/evidence-and-report.md
 * tells how to read it.
 */
#ifndef TT_CLI_REPORT_H
#define TT_CLI_REPORT_H

#include "cli/cli.h"
#include "tunneltap/tunneltap.h"

/* At most this many points per series: longer captures are binned wider. */
#define CLI_REPORT_MAX_BINS 300

/* Failing destinations listed. */
#define CLI_REPORT_TOP_DESTINATIONS 20

typedef struct cli_report_input {
    const char *title;    /* e.g. capture file name */
    cli_summary *summary; /* counts by verdict, failing destinations (read: flushed) */
    const cli_connbuf *records;
    const tt_timeline_bucket *timeline;
    unsigned nbuckets; /* per second, oldest first */
    const tt_marker *markers;
    unsigned nmarkers;
    const tt_alert *alerts;
    unsigned nalerts;
    const char *judgement; /* the summary's one-line verdict text */
} cli_report_input;

/* Writes the page to path (truncating it). Any pointer of in may be NULL
 * (with its count 0): that part of the page says there is nothing to show.
 * Returns 0, or TT_ENOMEM, or TT_EIO / TT_EPERM / TT_ENOENT (cannot create
 * or write path) with a message naming the file in err (TT_ERRBUF_SIZE, may
 * be NULL); a partly written file stays behind on a write error.
 * Thread-safety: any thread (touches only its arguments). */
int cli_report_write(const char *path, const cli_report_input *in, char *err);

#endif
