/* judgment.h - the slice of a judged flow the regression detector reads (internal). */
#ifndef TT_ANALYZE_JUDGMENT_H
#define TT_ANALYZE_JUDGMENT_H

#include <stdint.h>

#include "tunneltap/analyzer.h"
#include "tunneltap/regress.h"

/* A judgment without the rest of its conn record: no uid, names, sizes or
 * history. The tap's regression detector is called at every judgment (every
 * flow, at its deadline); building a whole tt_conn there cost as much as the
 * conn record at release, for six fields. Fields mean what tt_conn's do. */
typedef struct tt__judgment {
    uint64_t ts_us;
    uint64_t orig_pkts;
    const char *service; /* tt_conn.service: valid during the call */
    uint8_t proto;
    tt_verdict verdict;
    tt_certainty certainty;
} tt__judgment;

typedef void (*tt__judgment_fn)(void *ctx, const tt__judgment *j, tt_verdict old_verdict,
                                tt_certainty old_certainty);

/* Called at every judgment in place of the analyzer's on_judge when that is
 * NULL (the tap sets it when its user asked for no judge hook). */
void tt__analyzer_set_judgment_hook(tt_analyzer *a, tt__judgment_fn fn, void *ctx);

/* tt_regress_judge for a judgment (regress.c). */
void tt__regress_judgment(tt_regress *r, const tt__judgment *j, tt_verdict old_verdict,
                          tt_certainty old_certainty);

#endif
