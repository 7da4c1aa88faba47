/* judgment.h - the slices of a flow its internal readers take instead of a tt_conn. */
#ifndef TT_ANALYZE_JUDGMENT_H
#define TT_ANALYZE_JUDGMENT_H

#include <stdint.h>

#include "tunneltap/analyzer.h"
#include "tunneltap/regress.h"
#include "tunneltap/tunneltap.h"

/* A judgment without the rest of its conn record: no uid, names, sizes or
 * history. The tap's regression detector is called at every judgment (every
 * flow, at its deadline); building a whole tt_conn there cost as much as the
 * conn record at release, for six fields. Fields mean what tt_conn's do. */
typedef struct tt__judgment {
    uint64_t ts_us;
    uint64_t orig_pkts;
    const char *service; /* tt_conn.service: one per protocol, kept until the analyzer closes */
    uint8_t proto;
    tt_verdict verdict;
    tt_certainty certainty;
} tt__judgment;

typedef void (*tt__judgment_fn)(void *ctx, const tt__judgment *j, tt_verdict old_verdict,
                                tt_certainty old_certainty);

/* Called at every judgment in place of the analyzer's on_judge when that is
 * NULL (the tap sets it when its user asked for no judge hook). */
void tt__analyzer_set_judgment_hook(tt_analyzer *a, tt__judgment_fn fn, void *ctx);

/* A finished flow without the rest of its conn record: what a summary of
 * failing destinations reads (replay's, cli/summary.c). No uid, l7 name,
 * sizes, history or conn_state: building those for a reader of none of them
 * was a fifth of a SYN scan's replay (0.29 against 0.24 s). Fields mean what
 * tt_conn's do, and are equal to them for the same flow. */
typedef struct tt__brief {
    uint8_t ip_version, proto;
    uint16_t orig_p, resp_p;
    uint8_t resp_h[16];
    const char *service; /* tt_conn.service: one per protocol, kept until the analyzer closes */
    tt_verdict verdict;
    tt_certainty certainty;
    uint32_t uncertain_why;
    uint32_t late_replies;
} tt__brief;

typedef void (*tt__brief_fn)(void *ctx, const tt__brief *b);

/* Called for every finished flow in place of on_conn when that is NULL. */
void tt__analyzer_set_brief_hook(tt_analyzer *a, tt__brief_fn fn, void *ctx);

/* The same on a tap's analyzer (tap.c): only before its first producer
 * opens (TT_ESTATE after), so the analysis thread sees it set. */
int tt__tap_set_brief_hook(tt_tap *t, tt__brief_fn fn, void *ctx);

/* tt_regress_judge for a judgment (regress.c). */
void tt__regress_judgment(tt_regress *r, const tt__judgment *j, tt_verdict old_verdict,
                          tt_certainty old_certainty);

#endif
