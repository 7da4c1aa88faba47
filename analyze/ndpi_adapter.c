/* ndpi_adapter.c - every nDPI call in tunneltap (REFERENCE §2), nowhere else.
 *
 * Written against Debian's nDPI 4.2; the calls that changed in later releases
 * are switched on NDPI_MAJOR/NDPI_MINOR here so newer versions build too.
 * Per-flow nDPI state lives in a pool allocated once; a flow holds a slot only
 * while nDPI still learns something, then the slot's internal allocations are
 * released and the slot reused.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/alloc.h"
#include "analyze/errbuf.h"
#include "ndpi_api.h"
#include "ring/platform.h"

#include "analyze/dpi.h"
#include "tunneltap/tunneltap.h" /* tt_ndpi_version */

#if NDPI_MAJOR > 4 || (NDPI_MAJOR == 4 && NDPI_MINOR >= 10)
#define TT_NDPI_GLOBAL_CTX 1
#endif
#if NDPI_MAJOR > 4 || (NDPI_MAJOR == 4 && NDPI_MINOR >= 6)
#define TT_NDPI_INPUT_INFO 1
#endif

/* Names already built by ndpi_protocol2name (a snprintf each time), by
 * master/app pair: a record is built once or twice per flow, from a few
 * dozen distinct pairs. Direct-mapped; key 0 (unknown/unknown) is never named. */
#define NAME_CACHE 16

/* Port guesses by (proto, sport, dport), direct-mapped. nDPI 4.2's guess for
 * a flow given no addresses reads its static port and address tables and one
 * mutable thing: its BitTorrent cache, which grows only when a flow is named
 * BitTorrent (ndpi_add_connection_as_bittorrent). The cache is emptied then,
 * so every answer is the one nDPI would give at that moment. */
#define GUESS_CACHE 256

struct tt__dpi {
    struct ndpi_detection_module_struct *mod;
    struct {
        uint32_t key;
        char name[64];
    } names[NAME_CACHE];
    struct {
        uint64_t key; /* 1 << 40 | proto << 32 | sport << 16 | dport; 0: empty */
        uint16_t out[2];
    } guesses[GUESS_CACHE];
    /* Every protocol's service name, built once at open: lookups are an
     * index, and the pointers stay valid while the module lives. */
    const char **service; /* nservices entries, then the lower-cased names */
    size_t service_bytes;
    uint32_t nservices;
    uint8_t *pool;      /* max_flows * flow_size bytes */
    uint32_t *free_idx; /* stack of free slots */
    uint32_t nfree, max_flows;
    size_t flow_size;
    tt_allocator al;
};

/* ndpi_init_detection_module is not safe to call concurrently. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

size_t tt__dpi_flow_bytes(void)
{
    return ndpi_detection_get_sizeof_ndpi_flow_struct();
}

/* Heap bytes in use, to measure what building the nDPI module costs; 0
 * where the heap cannot be measured (the module's estimate stands in). */
#if TT_HAVE_MALLINFO2
#include <malloc.h>
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#else
static size_t heap_in_use(void)
{
    return 0;
}
#endif

static int build_services(tt__dpi *d);

const char *tt_ndpi_version(void)
{
    return ndpi_revision();
}

int tt__dpi_open(tt__dpi **out, uint32_t max_flows, const tt_allocator *al, char *errbuf,
                 size_t *mem_bytes)
{
    tt__dpi *d = tt__alloc(al, sizeof(*d));
    *out = NULL;
    if (!d) {
        tt__set_err(errbuf, "cannot allocate the classifier");
        return TT_ENOMEM;
    }
    d->al = *al;
    d->max_flows = max_flows;
    d->flow_size = tt__dpi_flow_bytes();
    if (max_flows) {
        d->pool = tt__alloc(al, (size_t)max_flows * d->flow_size);
        d->free_idx = tt__alloc(al, (size_t)max_flows * sizeof(uint32_t));
        if (!d->pool || !d->free_idx) {
            tt__set_err(errbuf, "cannot allocate %u nDPI flow states", max_flows);
            tt__dpi_close(d);
            return TT_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < max_flows; i++)
        d->free_idx[i] = max_flows - 1 - i;
    d->nfree = max_flows;

    pthread_mutex_lock(&init_lock);
    size_t before = heap_in_use();
#ifdef TT_NDPI_GLOBAL_CTX
    d->mod = ndpi_init_detection_module(NULL);
#else
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
#endif
    if (d->mod) {
#if NDPI_MAJOR < 5
        NDPI_PROTOCOL_BITMASK all;
        NDPI_BITMASK_SET_ALL(all);
        ndpi_set_protocol_detection_bitmask2(d->mod, &all);
#endif
        ndpi_finalize_initialization(d->mod);
    }
    size_t after = heap_in_use();
    size_t module = after > before ? after - before : 0;
    if (!TT_HAVE_MALLINFO2)
        module = TT__NDPI_MODULE_ESTIMATE;
    pthread_mutex_unlock(&init_lock);
    if (!d->mod) {
        tt__set_err(errbuf, "ndpi_init_detection_module failed");
        tt__dpi_close(d);
        return TT_ENDPI;
    }
    if (build_services(d) < 0) {
        tt__set_err(errbuf, "cannot allocate the service names");
        tt__dpi_close(d);
        return TT_ENOMEM;
    }
    if (mem_bytes)
        *mem_bytes = module + (size_t)max_flows * d->flow_size +
                     (size_t)max_flows * sizeof(uint32_t) + sizeof(*d) + d->service_bytes;
    *out = d;
    return 0;
}

void tt__dpi_close(tt__dpi *d)
{
    if (!d)
        return;
    if (d->pool && d->free_idx) {
        /* Release whatever slots are still in use. */
        uint8_t *used = calloc(d->max_flows ? d->max_flows : 1, 1);
        if (used) {
            for (uint32_t i = 0; i < d->nfree; i++)
                used[d->free_idx[i]] = 1;
            for (uint32_t i = 0; i < d->max_flows; i++)
                if (!used[i])
                    ndpi_free_flow_data(
                        (struct ndpi_flow_struct *)(void *)(d->pool + i * d->flow_size));
            free(used);
        }
    }
    if (d->mod)
        ndpi_exit_detection_module(d->mod);
    tt__free(&d->al, d->pool, (size_t)d->max_flows * d->flow_size);
    tt__free(&d->al, d->free_idx, (size_t)d->max_flows * sizeof(uint32_t));
    tt__free(&d->al, d->service, d->service_bytes);
    tt_allocator al = d->al;
    tt__free(&al, d, sizeof(*d));
}

static struct ndpi_flow_struct *slot_flow(const tt__dpi *d, uint32_t slot)
{
    return (struct ndpi_flow_struct *)(void *)(d->pool + (size_t)slot * d->flow_size);
}

uint32_t tt__dpi_begin(tt__dpi *d)
{
    if (!d || d->nfree == 0)
        return TT__DPI_NONE;
    uint32_t slot = d->free_idx[--d->nfree];
    memset(slot_flow(d, slot), 0, d->flow_size);
    return slot;
}

static void forget_guesses_if_bittorrent(tt__dpi *d, const uint16_t proto[2])
{
    if (proto[0] == NDPI_PROTOCOL_BITTORRENT || proto[1] == NDPI_PROTOCOL_BITTORRENT)
        memset(d->guesses, 0, sizeof(d->guesses));
}

tt__dpi_state tt__dpi_feed(tt__dpi *d, uint32_t slot, const uint8_t *l3, uint32_t len,
                           uint64_t ts_ms, uint16_t proto[2])
{
    struct ndpi_flow_struct *f = slot_flow(d, slot);
    if (len > 0xffff)
        len = 0xffff;
#ifdef TT_NDPI_INPUT_INFO
    ndpi_protocol p =
        ndpi_detection_process_packet(d->mod, f, l3, (unsigned short)len, ts_ms, NULL);
#else
    ndpi_protocol p = ndpi_detection_process_packet(d->mod, f, l3, (unsigned short)len, ts_ms);
#endif
    proto[0] = p.master_protocol;
    proto[1] = p.app_protocol;
    forget_guesses_if_bittorrent(d, proto);
    if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
        return TT__DPI_UNNAMED;
    return ndpi_extra_dissection_possible(d->mod, f) ? TT__DPI_NAMED : TT__DPI_DONE;
}

void tt__dpi_end(tt__dpi *d, uint32_t slot, bool guess, uint16_t proto[2])
{
    struct ndpi_flow_struct *f = slot_flow(d, slot);
    if (guess && proto[1] == NDPI_PROTOCOL_UNKNOWN) {
#if NDPI_MAJOR > 4 || (NDPI_MAJOR == 4 && NDPI_MINOR >= 10)
        ndpi_protocol p = ndpi_detection_giveup(d->mod, f, NULL);
#else
        uint8_t guessed = 0;
        ndpi_protocol p = ndpi_detection_giveup(d->mod, f, 1, &guessed);
#endif
        proto[0] = p.master_protocol;
        proto[1] = p.app_protocol;
        forget_guesses_if_bittorrent(d, proto);
    }
    ndpi_free_flow_data(f);
    d->free_idx[d->nfree++] = slot;
}

void tt__dpi_guess_ports(tt__dpi *d, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t out[2])
{
    uint64_t key = 1ull << 40 | (uint64_t)proto << 32 | (uint64_t)sport << 16 | dport;
    unsigned i = (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 56); /* 256 slots */
    if (d->guesses[i].key == key) {
        out[0] = d->guesses[i].out[0];
        out[1] = d->guesses[i].out[1];
        return;
    }
#if NDPI_MAJOR > 4 || (NDPI_MAJOR == 4 && NDPI_MINOR >= 10)
    ndpi_protocol p = ndpi_guess_undetected_protocol(d->mod, NULL, proto);
    (void)sport;
    (void)dport;
#else
    ndpi_protocol p = ndpi_guess_undetected_protocol(d->mod, NULL, proto, 0, sport, 0, dport);
#endif
    out[0] = p.master_protocol;
    out[1] = p.app_protocol;
    d->guesses[i].key = key;
    d->guesses[i].out[0] = out[0];
    d->guesses[i].out[1] = out[1];
}

const char *tt__dpi_name(tt__dpi *d, const uint16_t proto[2], char *buf, size_t len)
{
    if (proto[1] == NDPI_PROTOCOL_UNKNOWN && proto[0] == NDPI_PROTOCOL_UNKNOWN)
        return NULL;
    uint32_t key = (uint32_t)proto[0] << 16 | proto[1];
    unsigned i = (key * 2654435761u) >> 28; /* 16 slots */
    if (d->names[i].key != key) {
        ndpi_protocol p;
        memset(&p, 0, sizeof(p));
        p.master_protocol = proto[0];
        p.app_protocol = proto[1];
        ndpi_protocol2name(d->mod, p, d->names[i].name, (u_int)sizeof(d->names[i].name));
        d->names[i].key = key;
    }
    if (len == 0)
        return NULL;
    size_t n = strnlen(d->names[i].name, sizeof(d->names[i].name));
    if (n >= len)
        n = len - 1;
    memcpy(buf, d->names[i].name, n);
    buf[n] = 0;
    return buf;
}

/* nDPI protocol -> the name Zeek's conn.log `service` column would use;
 * NULL for the others. A switch, not a table scan: this runs for every
 * conn record and every judgment. */
static const char *zeek_service(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_DNS:
    case NDPI_PROTOCOL_MDNS:
    case NDPI_PROTOCOL_LLMNR:
        return "dns";
    case NDPI_PROTOCOL_HTTP:
        return "http";
    case NDPI_PROTOCOL_TLS:
        return "ssl";
    case NDPI_PROTOCOL_DTLS:
        return "dtls";
    case NDPI_PROTOCOL_QUIC:
        return "quic";
    case NDPI_PROTOCOL_SSH:
        return "ssh";
    case NDPI_PROTOCOL_NTP:
        return "ntp";
    case NDPI_PROTOCOL_DHCP:
        return "dhcp";
    case NDPI_PROTOCOL_FTP_CONTROL:
        return "ftp";
    case NDPI_PROTOCOL_MAIL_SMTP:
        return "smtp";
    case NDPI_PROTOCOL_MAIL_IMAP:
        return "imap";
    case NDPI_PROTOCOL_MAIL_POP:
        return "pop3";
    case NDPI_PROTOCOL_SNMP:
        return "snmp";
    case NDPI_PROTOCOL_SIP:
        return "sip";
    case NDPI_PROTOCOL_RDP:
        return "rdp";
    case NDPI_PROTOCOL_MYSQL:
        return "mysql";
    case NDPI_PROTOCOL_SYSLOG:
        return "syslog";
    case NDPI_PROTOCOL_RADIUS:
        return "radius";
    case NDPI_PROTOCOL_KERBEROS:
        return "krb";
    case NDPI_PROTOCOL_SMBV23:
        return "smb";
    case NDPI_PROTOCOL_STUN:
        return "stun";
    case NDPI_PROTOCOL_OPENVPN:
        return "openvpn";
    case NDPI_PROTOCOL_WIREGUARD:
        return "wireguard";
    default:
        return NULL;
    }
}

/* Name of protocol id for the service column: Zeek's where it has one,
 * else nDPI's in lower case (at most SERVICE_MAX-1 bytes). */
#define SERVICE_MAX 64

static size_t service_len(const tt__dpi *d, uint16_t id)
{
    if (zeek_service(id))
        return 0;
    const char *n = ndpi_get_proto_name(d->mod, id);
    return n ? strnlen(n, SERVICE_MAX - 1) + 1 : 0;
}

/* One allocation: the pointer table, then the names it points into. */
static int build_services(tt__dpi *d)
{
    uint32_t n = ndpi_get_num_supported_protocols(d->mod);
    if (n == 0)
        n = 1;
    size_t text = 0;
    for (uint32_t id = 0; id < n; id++)
        text += service_len(d, (uint16_t)id);
    d->service_bytes = (size_t)n * sizeof(*d->service) + text;
    d->service = tt__alloc(&d->al, d->service_bytes);
    if (!d->service)
        return TT_ENOMEM;
    d->nservices = n;
    char *at = (char *)(d->service + n);
    for (uint32_t id = 0; id < n; id++) {
        const char *zeek = zeek_service((uint16_t)id);
        size_t len = service_len(d, (uint16_t)id);
        d->service[id] = zeek ? zeek : len ? at : NULL;
        if (zeek || !len)
            continue;
        const char *name = ndpi_get_proto_name(d->mod, (uint16_t)id);
        for (size_t i = 0; i + 1 < len; i++)
            at[i] = (char)tolower((unsigned char)name[i]);
        at[len - 1] = 0;
        at += len;
    }
    return 0;
}

const char *tt__dpi_service(const tt__dpi *d, const uint16_t proto[2])
{
    uint16_t id = proto[0] != NDPI_PROTOCOL_UNKNOWN ? proto[0] : proto[1];
    if (id == NDPI_PROTOCOL_UNKNOWN)
        return NULL;
    /* nDPI names an id it does not know "Unknown" */
    return d->service[id < d->nservices ? id : NDPI_PROTOCOL_UNKNOWN];
}

static bool id_one_way(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_SYSLOG:
    case NDPI_PROTOCOL_NETFLOW:
    case NDPI_PROTOCOL_SFLOW:
    case NDPI_PROTOCOL_RTP:
    case NDPI_PROTOCOL_RTCP:
    case NDPI_PROTOCOL_MDNS:
    case NDPI_PROTOCOL_SSDP:
    case NDPI_PROTOCOL_LLMNR:
    case NDPI_PROTOCOL_NETBIOS:
    case NDPI_PROTOCOL_DROPBOX:
    case NDPI_PROTOCOL_UBNTAC2:
    case NDPI_PROTOCOL_WSD:
    case NDPI_PROTOCOL_BJNP:
    case NDPI_PROTOCOL_CAPWAP:
        return true;
    default:
        return false;
    }
}

bool tt__dpi_one_way(const uint16_t proto[2])
{
    return id_one_way(proto[0]) || id_one_way(proto[1]);
}

bool tt__dpi_is_dns(const uint16_t proto[2])
{
    return proto[0] == NDPI_PROTOCOL_DNS || proto[1] == NDPI_PROTOCOL_DNS;
}
