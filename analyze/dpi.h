/* dpi.h - tunneltap's view of application classification (nDPI behind it). */
#ifndef TT_ANALYZE_DPI_H
#define TT_ANALYZE_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunneltap/analyzer.h"

#define TT__DPI_NONE UINT32_MAX

/* Measured cost of Debian nDPI 4.2's detection module: sizing before it is
 * built (tt_analyzer_memsize), and its share of *mem_bytes where the heap
 * cannot be measured (ring/platform.h, TT_HAVE_MALLINFO2). */
#define TT__NDPI_MODULE_ESTIMATE (6u * 1024u * 1024u)

typedef struct tt__dpi tt__dpi;

/* Opens a classifier with room for max_flows flows being classified at once.
 * *mem_bytes receives what it allocated (module measured where the heap
 * can be, else TT__NDPI_MODULE_ESTIMATE; pool exact). */
int tt__dpi_open(tt__dpi **out, uint32_t max_flows, const tt_allocator *al, char *errbuf,
                 size_t *mem_bytes);
void tt__dpi_close(tt__dpi *d);

/* Bytes of per-flow classifier state (the nDPI flow struct). */
size_t tt__dpi_flow_bytes(void);

/* Takes a free per-flow state, or TT__DPI_NONE when all are in use. */
uint32_t tt__dpi_begin(tt__dpi *d);

/* Where a flow's classification stands after a packet. */
typedef enum tt__dpi_state {
    TT__DPI_UNNAMED = 0, /* no name yet */
    TT__DPI_NAMED = 1,   /* named; nDPI could still refine it (HTTP response, TLS certificate) */
    TT__DPI_DONE = 2,    /* named, and nDPI has nothing more to learn */
} tt__dpi_state;

/* Feeds one packet (from the IP header) of the flow. proto[0]/[1] receive the
 * master/app protocol ids known so far. The caller calls tt__dpi_end when it
 * stops feeding (at TT__DPI_DONE, or at TT__DPI_NAMED if it wants no more). */
tt__dpi_state tt__dpi_feed(tt__dpi *d, uint32_t slot, const uint8_t *l3, uint32_t len,
                           uint64_t ts_ms, uint16_t proto[2]);

/* Finishes classification (guessing from ports when still unknown when
 * guess is set) and frees the per-flow state. */
void tt__dpi_end(tt__dpi *d, uint32_t slot, bool guess, uint16_t proto[2]);

/* Guesses the protocol from the transport and ports alone (flows nDPI never
 * saw, e.g. SYNs that got no answer). Answers are remembered per
 * (proto, sport, dport) until nDPI next names a flow BitTorrent. */
void tt__dpi_guess_ports(tt__dpi *d, uint8_t proto, uint16_t sport, uint16_t dport,
                         uint16_t out[2]);

/* "TLS.Google", "DNS", ...; NULL for unknown. buf holds the result. */
const char *tt__dpi_name(tt__dpi *d, const uint16_t proto[2], char *buf, size_t len);

/* Zeek-style service name ("dns", "ssl", "http", ...) or NULL: one string per
 * protocol, valid until tt__dpi_close. */
const char *tt__dpi_service(const tt__dpi *d, const uint16_t proto[2]);

/* True for protocols that send without expecting a reply (syslog, NetFlow, RTP, ...). */
bool tt__dpi_one_way(const uint16_t proto[2]);

/* True when the flow is DNS (its own reply deadline). */
bool tt__dpi_is_dns(const uint16_t proto[2]);

#endif
