/* cli.h - the pieces of the tunneltap command that subcommands share.
 *
 * These live in the executable, not in libtunneltap, so they carry a cli_
 * prefix instead of tt_ (public library API) or tt__ (library internals).
 *
 *   record buffer (connbuf.c)  keeps tt_conn records for sorted output
 *   conn.log writer (connlog.c) Zeek's TSV conn.log plus tt_verdict, tt_certainty
 *   JSON writer (jsonlog.c)     Zeek's JSON conn log plus tunneltap's keys
 *   summary (summary.c)         counts records, names failing destinations, judges
 *   handoff (handoff.c)         records counted into a summary (and kept) on another thread
 *   replay (replay.c)           the `tunneltap replay` subcommand
 */
#ifndef TT_CLI_CLI_H
#define TT_CLI_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "tunneltap/analyzer.h"

/* ---- string table: one copy of each distinct string ------------------- */

/* The analyzer's strings (service, l7, conn_state) are valid only during
 * the callback; records kept longer point into one of these instead. */
typedef struct cli_strtab {
    char **slot; /* open addressing, NULL = empty */
    size_t cap, used;
} cli_strtab;

/* Returns the table's copy of s (s itself when NULL), or NULL when out of memory. */
const char *cli_strtab_intern(cli_strtab *t, const char *s);
void cli_strtab_free(cli_strtab *t);

/* ---- record buffer ----------------------------------------------------- */

/* Every record of a run, for output sorted by ts then uid (memory grows with
 * the number of flows: sizeof(tt_conn), 240 B, per flow), unless spilling is
 * on: then each time spill_at records are held they are sorted and written
 * to an unnamed temporary file as one run, and reading the records merges
 * the runs and what is still in memory. Zero-initialise (no spilling). */
typedef struct cli_connbuf {
    tt_conn *v; /* the records in memory (since the last run) */
    size_t n, cap;
    cli_strtab strings;
    size_t spill_at; /* records per run; 0: all kept in memory */
    char *spill_dir; /* where the file goes ($TMPDIR, else /tmp) */
    int fd;          /* the file (when spill_at), -1 until the first run */
    int spill_errno; /* why spilling stopped (the records stayed in memory), or 0 */
    size_t *runs;    /* records in each run, in file order */
    size_t nruns, runs_cap, spilled;
    /* Background spilling: a full array is sorted and written by a thread
     * of its own (`writer`) while records go on into the other one. */
    bool background;
    bool writing; /* the writer runs: wv, wn and woff are its until joined */
    pthread_t writer;
    tt_conn *wv;     /* the run being written, or the spare array between runs */
    size_t wn, wcap; /* its records and room */
    off_t woff;      /* where in the file it goes */
    int werr;        /* the writer's result: 0 or an errno value */
    size_t lost;     /* records of a run neither written nor taken back (out of memory) */
} cli_connbuf;

/* The memory the sorted logs' records may take before they are spilled
 * (replay --sort-buffer; capture and bridge --sorted-logs). */
#define CLI_SORT_BUFFER_DEFAULT ((size_t)64 << 20)
/* Turns spilling on: runs of as many records as fit in `bytes`, in an
 * unnamed file in $TMPDIR (else /tmp). Call before the first add. With
 * `background`, each run is sorted and written by a thread of its own
 * while the caller adds the next records to a second array (each array
 * half of `bytes`, so the two stay within it): cli_connbuf_add then waits
 * only when a whole run fills before the previous one is written, instead
 * of sorting and writing every run itself — the analysis thread of a live
 * host, which must not stop while copies keep coming. */
void cli_connbuf_spill(cli_connbuf *b, size_t bytes, bool background);
/* Copies c (and its strings). Returns 0 or TT_ENOMEM (buffer unchanged, or
 * a background run that failed could not come back: its records are lost).
 * A run that cannot be written (no temporary file, disk full) sets
 * spill_errno and stops spilling: the records stay in memory instead (a
 * background run's come back to memory when its writer is waited for). */
int cli_connbuf_add(cli_connbuf *b, const tt_conn *c);
/* Records added, in memory and spilled. */
size_t cli_connbuf_count(const cli_connbuf *b);
/* Waits for a run being written in the background, then sorts the records
 * in memory by ts_us, then uid (runs are sorted already): call once all are
 * added, before reading them. Returns 0, or TT_ENOMEM when the records of a
 * background run that failed could not come back into memory (lost). */
int cli_connbuf_sort(cli_connbuf *b);
void cli_connbuf_free(cli_connbuf *b);

/* Reads a sorted buffer's records in order (several readers may read one
 * buffer at once, each with its own iterator; nothing may be added then). */
typedef struct cli_connbuf_iter {
    const cli_connbuf *b;
    size_t i;            /* no runs: the next record of b->v */
    struct cli_run *run; /* runs: one per run, the records in memory last */
    uint32_t *heap;      /* runs not at their end, smallest record first */
    size_t nheap;
    int64_t last; /* the run of the record returned last, or -1 */
    int err;      /* errno: a run could not be read back */
} cli_connbuf_iter;
/* Returns 0, or TT_ENOMEM (nothing to close then). */
int cli_connbuf_iter_open(cli_connbuf_iter *it, const cli_connbuf *b);
/* The next record (valid until the next call), or NULL at the end or when a
 * run cannot be read (err set). */
const tt_conn *cli_connbuf_iter_next(cli_connbuf_iter *it);
void cli_connbuf_iter_close(cli_connbuf_iter *it);

/* ---- Zeek conn.log (TSV) ----------------------------------------------- */

/* Columns: Zeek's conn.log order, then tt_verdict and tt_certainty. */
#define CLI_CONNLOG_FIELDS 23

/* Writes the #separator ... #types header; open_time goes into #open
 * (local time, like Zeek). */
void cli_connlog_header(FILE *out, time_t open_time);
/* Writes one record as a line. */
void cli_connlog_write(FILE *out, const tt_conn *c);
/* Writes the #close line. */
void cli_connlog_footer(FILE *out, time_t close_time);

/* An output named on the command line: "-" is stdout, else the file is
 * created (or truncated). NULL with errno set when it cannot be. */
FILE *cli_output_open(const char *path);
/* Closes out (stdout is only flushed). Returns 0, or an errno value when
 * anything written to it was lost (EIO when the stream kept no better one). */
int cli_output_close(FILE *out);
/* The exit status of a command once its standard output is flushed: when
 * anything written there was lost (a full disk, a closed pipe with SIGPIPE
 * ignored), says so on stderr ("tunneltap: CMD: cannot write standard
 * output: ...") and turns a 0 status into 1. */
int cli_stdout_status(const char *cmd, int status);
/* fflush(out), remembering for cli_stdout_status why standard output failed
 * (stdio keeps only that it did). */
void cli_flush(FILE *out);
/* Writes buf's records (sorted: in order, merged from its runs) to the
 * --conn-log (with its header and footer; opened: the #open time) and
 * --json outputs, either NULL; with both, the JSON lines on a second thread
 * at the same time. Returns 0; TT_ENOMEM when a JSON record could not be
 * built (the JSON log stops there); TT_EIO when the spilled records could not
 * be read back (errno set; the logs stop there). */
int cli_logs_write(const cli_connbuf *buf, FILE *conn, FILE *json, time_t opened);

/* Numbers as the logs write them, into buf (CLI_NUM_TEXT bytes, no NUL),
 * without printf; each returns the length. cli_u64_text: decimal digits, as
 * %" PRIu64 " prints them. cli_us_text: microseconds as seconds with exactly
 * six decimals ("12.000300"), not through a double. */
#define CLI_NUM_TEXT 28
size_t cli_u64_text(uint64_t v, char *buf);
size_t cli_us_text(uint64_t us, char *buf);
/* An address as text into buf (INET6_ADDRSTRLEN bytes): IPv4 dotted decimal,
 * written here (glibc's inet_ntop formats it with sprintf, a fifth of the
 * conn.log writer's time), IPv6 by inet_ntop (zero runs compressed). Returns
 * the length, 0 when inet_ntop fails. */
size_t cli_addr_text(uint8_t ip_version, const uint8_t *a, char *buf);
/* The logs written as connections finish (--stream-logs), in the order they
 * finish, as Zeek writes them, instead of kept and sorted by ts at the end:
 * memory stays flat however many connections a run sees. */
typedef struct cli_logstream {
    FILE *conn, *json; /* either NULL */
    struct cli_jsonw *jw;
    bool oom; /* a JSON record could not be built: the JSON log stopped there */
} cli_logstream;
/* Writes the conn.log header (opened: the #open time). 0 or TT_ENOMEM. */
int cli_logstream_open(cli_logstream *s, FILE *conn, FILE *json, time_t opened);
/* Writes c to each log. */
void cli_logstream_add(cli_logstream *s, const tt_conn *c);
/* Writes the #close line and frees what open made (the streams stay open).
 * Returns 0, or TT_ENOMEM when a JSON record could not be built. */
int cli_logstream_close(cli_logstream *s);
/* The end of command cmd's logs: buf is sorted (its records may serve more
 * than the logs); then the streamed logs (ls) get their #close line, or
 * buf's records are written (cli_logs_write), after a warning on stderr
 * when spilling stopped. Returns 0, or -1 after saying on stderr why the
 * logs are short (out of memory, spilled records unreadable). The streams
 * stay open. */
int cli_logs_finish(const char *cmd, cli_logstream *ls, cli_connbuf *buf, FILE *conn, FILE *json,
                    time_t opened);

/* "tcp", "udp", "icmp" (ICMPv6 too, as in Zeek) or "unknown_transport". */
const char *cli_proto_name(uint8_t proto);
/* "certain" / "uncertain" for a failure, NULL (unset) otherwise. */
const char *cli_certainty_name(const tt_conn *c);

/* ---- JSON lines -------------------------------------------------------- */

/* A JSON lines writer: keeps the jansson objects of each shape of record
 * between records (jsonlog.c says why). NULL when out of memory. */
typedef struct cli_jsonw cli_jsonw;
cli_jsonw *cli_jsonw_new(void);
void cli_jsonw_free(cli_jsonw *w);
/* One record as a JSON object without newline, in w's buffer (valid until
 * the next call on w), its length in *len; NULL when out of memory. Keys as
 * Zeek's JSON logs, unset fields omitted. */
const char *cli_jsonw_format(cli_jsonw *w, const tt_conn *c, size_t *len);
/* Writes cli_jsonw_format(w, c) and a newline. Returns 0 or TT_ENOMEM. */
int cli_jsonw_write(cli_jsonw *w, FILE *out, const tt_conn *c);
/* cli_jsonw_format with a writer of its own, malloc'd (free() it), or NULL. */
char *cli_jsonlog_format(const tt_conn *c);

/* Name of one TT_UNC_* bit ("capture_loss", ...), or NULL. */
const char *cli_uncertain_name(uint32_t bit);

/* ---- summary ----------------------------------------------------------- */

/* Protocol classes the summary counts apart. */
enum { CLI_P_TCP, CLI_P_UDP, CLI_P_ICMP, CLI_P_OTHER, CLI_P_COUNT };
/* The class of a transport protocol number (ICMP: 1 and 58). */
int cli_proto_class(uint8_t proto);

/* One failing-destination group: (resp_h, proto, port, service). ICMP
 * groups use the originator's type as their port ("icmp/8"). */
typedef struct cli_dest {
    uint8_t ip_version, proto;
    uint16_t port;
    uint8_t addr[16];
    const char *service;                   /* interned, or NULL */
    uint64_t flows;                        /* all flows of the group */
    uint64_t failed;                       /* certain failures */
    uint64_t uncertain;                    /* uncertain failures */
    uint32_t by_verdict[TT_VERDICT_COUNT]; /* certain failures by verdict */
} cli_dest;

/* A row of the failing-destinations lists (summary, report): one group; or
 * every group of one host and protocol when more than 5 of its ports failed (a
 * scan, a dead server), with port 0, no service and the counts of every flow
 * to that host and protocol; or, of the groups not in such a row, every group
 * of one protocol, port and service when more than 5 hosts failed on it (a
 * service broken everywhere, a sweep), with no address (version 0) and the
 * counts of every flow to that port and service — with those of the groups
 * past the summary's bound (more_hosts), whose failures always get such a row,
 * except that more than 5 ports of one protocol that failed only past the
 * bound, at most 5 times each, share one row of that protocol (port 0, no
 * service, ports counted, more_hosts). */
typedef struct cli_dest_row {
    cli_dest d;
    size_t ports;    /* 0: not by host; else the failing ports rolled into this row */
    size_t hosts;    /* 0: not by port; else the failing hosts rolled into this row */
    bool more_hosts; /* by port, with failures of hosts past the bound: hosts is a floor */
} cli_dest_row;

/* Destination groups kept at most (136 bytes each with their index slots). */
#define CLI_SUMMARY_MAX_DESTS 65536u
/* Past that bound, the records of new groups are still counted, by
 * protocol, port and service, under at most this many keys. */
#define CLI_SUMMARY_MAX_OVER 4096u
/* Above this many failing ports on one host and protocol (a scan, a host
 * that is down), the summary, the report and the dashboard show them as one
 * row (the protocol with a star for the port). */
#define CLI_ROLLUP_PORTS 5

/* A record counted but not yet added to its group (summary.c: count_record). */
typedef struct cli_summary_pending {
    uint8_t addr[16]; /* its group's key, as in cli_dest */
    const char *service;
    uint16_t port;
    uint8_t ip_version, proto;
    uint64_t hash;
    uint8_t verdict;
    bool fail, unsure;
} cli_summary_pending;

#define CLI_SUMMARY_AHEAD 8
#define CLI_SUMMARY_SERVICES 16 /* brief records' service strings remembered by address */

typedef struct cli_summary {
    uint64_t flows;
    uint64_t by_proto[CLI_P_COUNT];
    uint64_t count[CLI_P_COUNT][TT_VERDICT_COUNT];     /* every record by verdict */
    uint64_t uncertain[CLI_P_COUNT][TT_VERDICT_COUNT]; /* of those, uncertain failures */
    uint64_t failed, uncertain_total;                  /* certain / uncertain failures */
    uint64_t unc_why[8];                               /* by TT_UNC_* bit number */
    uint64_t late_replies;
    cli_dest *dest; /* CLI_SUMMARY_MAX_DESTS groups, dense, in order of first record */
    size_t dest_used;
    uint64_t *slot;  /* open addressing: hash high bits << 32 | group index + 1; 0 empty */
    size_t slot_cap; /* a power of two, at least twice dest_used */
    cli_strtab strings;
    bool full;           /* the groups reached their bound: later groups' records are in over */
    bool oom;            /* a record was counted in no group (out of memory, over full) */
    cli_dest *over;      /* records past the bound by (proto, port, service) */
    uint32_t *over_slot; /* their index: open addressing, key index + 1; 0 empty */
    size_t over_used;    /* keys, at most CLI_SUMMARY_MAX_OVER */
    size_t over_last;    /* the key found last */
    cli_summary_pending ahead[CLI_SUMMARY_AHEAD]; /* a ring: ahead_n from ahead_at */
    unsigned ahead_at, ahead_n;
    struct {
        const char *from, *copy; /* a brief record's service -> its copy in strings */
    } service[CLI_SUMMARY_SERVICES];
} cli_summary;

/* What the summary says about where the records came from. */
typedef struct cli_summary_source {
    const char *command;  /* "tunneltap replay" */
    const char *name;     /* file name */
    const char *linktype; /* "RAW" */
    uint64_t records;     /* records read */
    uint64_t matched;     /* of those, given to the analyzer (the filter's) */
    const char *bpf;      /* NULL: no filter */
    const char *stopped;  /* NULL, or why reading stopped early */
} cli_summary_source;

typedef enum cli_judgement {
    CLI_JUDGE_EMPTY,        /* no flows */
    CLI_JUDGE_OK,           /* no failure */
    CLI_JUDGE_INCONCLUSIVE, /* only uncertain failures */
    CLI_JUDGE_BROKEN,       /* at least one certain failure */
} cli_judgement;

void cli_summary_init(cli_summary *s);
/* Counts one record. Its group is found a few records later, its index slot
 * fetched meanwhile: call cli_summary_flush before reading the summary. */
void cli_summary_add(cli_summary *s, const tt_conn *c);
/* The same from the analyzer's brief record (analyze/judgment.h), which
 * replay takes instead of whole conn records when only the summary reads them.
 * Its service string must stay unchanged at its address while s is used
 * (the analyzer's do, until it closes). */
struct tt__brief;
void cli_summary_add_brief(cli_summary *s, const struct tt__brief *b);
/* Adds the records still queued to their groups (cli_summary_failing and
 * cli_summary_print do it first). */
void cli_summary_flush(cli_summary *s);
/* The verdict line's judgement and its text (without "verdict: "). */
cli_judgement cli_summary_judge(const cli_summary *s, char *buf, size_t len);
/* The failing destinations of s, ranked: most certain failures first, then
 * uncertain ones, then flows. A group is listed when it has a certain
 * failure or, with with_uncertain, an uncertain one; the groups of a host
 * failing on many ports, or of a port and service failing on many hosts,
 * share a row (cli_dest_row). *n is how many rows
 * there are; *rows holds the best-ranked min(*n, top) of them, in order.
 * *rows is malloc'd (the caller frees it; NULL when *n or top is 0).
 * Returns 0 or TT_ENOMEM. */
int cli_summary_failing(cli_summary *s, bool with_uncertain, size_t top, cli_dest_row **rows,
                        size_t *n);
/* Who a row is about: its address, "N hosts" (by port), or "N+ hosts" (with
 * failing hosts past the groups' bound: N the failing hosts kept, at least 1). */
void cli_dest_row_who(const cli_dest_row *r, char *buf, size_t len);
/* Writes the whole summary; st may be NULL (no capture line). */
void cli_summary_print(cli_summary *s, const cli_summary_source *src, const tt_analyzer_stats *st,
                       FILE *out);
void cli_summary_free(cli_summary *s);

/* ---- handoff: the summary counted on another thread ------------------- */

/* A bounded queue of records: the analysis thread pushes (never waiting:
 * when the queue is full it counts the queued records itself), another
 * thread polls and counts them into the summary, in order. */
typedef struct cli_handoff cli_handoff;

/* Brief records; holds cap (rounded up to a power of two). Returns 0 or
 * TT_ENOMEM. */
int cli_handoff_new(cli_handoff **out, cli_summary *sum, uint32_t cap);
/* A tt__brief_fn (ctx: the handoff). One producer thread at a time. */
void cli_handoff_push(void *ctx, const struct tt__brief *b);
/* Conn records instead, each given to on_rec(ctx, record) by the thread
 * that counts the queue (its l7 text travels in the queue: the record is
 * valid during the call). */
int cli_handoff_new_conns(cli_handoff **out, uint32_t cap, tt_conn_fn on_rec, void *ctx);
/* A tt_conn_fn (ctx: a conn handoff). One producer thread at a time. */
void cli_handoff_push_conn(void *ctx, const tt_conn *c);
/* Counts what is queued unless another thread is counting; never waits. */
void cli_handoff_poll(cli_handoff *h);
/* Counts everything queued (waits for a counting push to finish): call after
 * the producer's last push and before reading the summary. */
void cli_handoff_drain(cli_handoff *h);
/* Pushes that found the queue full and counted it themselves. */
uint64_t cli_handoff_self_counted(const cli_handoff *h);
void cli_handoff_free(cli_handoff *h);

/* ---- subcommands ------------------------------------------------------- */

/* Every subcommand's usage error: "tunneltap: CMD: <message>" and a pointer
 * to CMD --help on stderr. Returns 2, the usage-error exit status of all. */
__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...);

/* A deadline option: seconds above 0 and at most a day (cli_live_parse_seconds)
 * as whole milliseconds, at least 1. Returns false when invalid. */
bool cli_parse_ms(const char *s, uint32_t *ms);

/* argv[0] is "replay". Returns the process exit status. */
int cli_replay_main(int argc, char **argv);
void cli_replay_usage(FILE *out);

#endif
