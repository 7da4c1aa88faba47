/* alerts.h - marker specs (--mark WHEN=LABEL) and alert output (--alerts). */
#ifndef TT_CLI_ALERTS_H
#define TT_CLI_ALERTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tunneltap/regress.h"
#include "tunneltap/tunneltap.h"

typedef struct cli_mark_spec {
    bool relative;  /* +SECONDS from the capture's first packet */
    uint64_t ts_us; /* absolute instant, or the offset when relative */
    char label[TT_LABEL_MAX];
} cli_mark_spec;

/* Parses "WHEN=LABEL": WHEN is epoch seconds with fraction (1764244985.5),
 * ISO 8601 (2025-11-27T12:03:05.25Z, a +HH:MM offset, or no zone = UTC), or
 * +SECONDS. Returns 0, or -1 with a message in err (256 bytes). */
int cli_mark_parse(const char *arg, cli_mark_spec *out, char *err);

/* One alert as a JSON object line (ts, raised_at, kind, marker, before,
 * after, p_value, message, ...). Returns 0 or TT_ENOMEM. */
int cli_alert_write_json(FILE *out, const tt_alert *a);

/* The before/after table of one marker, in plain words. */
void cli_print_comparison(FILE *out, const tt_marker_info *m, const tt_period *before,
                          const tt_period *after);

/* The end-of-run words of every command: each marker's before/after table,
 * then the n alerts given ("alerts: none (...)" when n is 0; alerts NULL with
 * n > 0: the caller could not allocate the copies, and says how many). */
void cli_print_outcome(FILE *out, tt_tap *tap, const tt_alert *alerts, unsigned n);

/* "2025-11-27T12:03:05.123456Z" */
void cli_iso_time(uint64_t us, char *buf, size_t len);

#endif
