/* live.c - live capture through libpcap: create, configure, activate, poll, count drops. */
#include "analyze/errbuf.h"
#include "capture/live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "tunneltap/analyzer.h"

struct tt_live {
    pcap_t *p;
    char *iface;
    int linktype;
    int fd;
    uint32_t last_drop, last_ifdrop; /* libpcap's 32-bit counters at the last call */
    uint64_t packets, drops;
    char *warning; /* activation warning, or NULL */
    /* dispatch context (libpcap's callback has one user pointer) */
    tt_live_fn fn;
    void *ctx;
};

/* "RAW, EN10MB with VLANs, ..." for the link types the analyzer decodes. */
static void supported_list(char *buf, size_t len)
{
    static const int candidates[] = {TT_LINK_RAW_DLT12, TT_LINK_IPV4, TT_LINK_IPV6,
                                     TT_LINK_NULL,      TT_LINK_LOOP, TT_LINK_ETHERNET,
                                     TT_LINK_SLL,       TT_LINK_SLL2};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!tt_linktype_supported(candidates[i]))
            continue;
        const char *name = pcap_datalink_val_to_name(candidates[i]);
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         name ? name : tt_linktype_name(candidates[i]));
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

/* Maps pcap_activate()'s failure to a TT_E* code and a message. */
static int activate_error(const tt_live *l, int rc, char *errbuf)
{
    const char *why = pcap_geterr(l->p);
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        tt__set_err(errbuf, "no such interface '%s' in this network namespace", l->iface);
        return TT_ENOENT;
    case PCAP_ERROR_PERM_DENIED:
        tt__set_err(errbuf, "not allowed to capture on '%s': %s (CAP_NET_RAW needed)", l->iface,
                    why);
        return TT_EPERM;
    case PCAP_ERROR_IFACE_NOT_UP:
        tt__set_err(errbuf, "interface '%s' is not up", l->iface);
        return TT_EINVAL;
    default:
        tt__set_err(errbuf, "cannot capture on '%s': %s", l->iface,
                    why && *why ? why : pcap_statustostr(rc));
        return TT_EIO;
    }
}

int tt_live_open(tt_live **out, const char *iface, int snaplen, size_t buffer, const char *bpf,
                 char *errbuf)
{
    *out = NULL;
    if (!iface || !*iface) {
        tt__set_err(errbuf, "no interface given");
        return TT_EINVAL;
    }
    if (snaplen == 0)
        snaplen = TT_LIVE_SNAPLEN_DEFAULT;
    if (snaplen < TT_LIVE_SNAPLEN_MIN || snaplen > TT_LIVE_SNAPLEN_DEFAULT) {
        tt__set_err(errbuf, "snapshot length %d outside %d..%d", snaplen, TT_LIVE_SNAPLEN_MIN,
                    TT_LIVE_SNAPLEN_DEFAULT);
        return TT_EINVAL;
    }
    if (buffer == 0)
        buffer = TT_LIVE_BUFFER_DEFAULT;
    if (buffer < TT_LIVE_BUFFER_MIN || buffer > TT_LIVE_BUFFER_MAX) {
        tt__set_err(errbuf, "buffer size %zu outside %zu..%zu", buffer, TT_LIVE_BUFFER_MIN,
                    TT_LIVE_BUFFER_MAX);
        return TT_EINVAL;
    }
    int rc;
    struct bpf_program prog;
    bool has_prog = false;
    char pe[PCAP_ERRBUF_SIZE] = "";
    tt_live *l = calloc(1, sizeof *l);
    if (!l || !(l->iface = strdup(iface))) {
        tt__set_err(errbuf, "cannot capture on '%s': out of memory", iface);
        rc = TT_ENOMEM;
        goto err;
    }
    l->p = pcap_create(iface, pe);
    if (!l->p) {
        tt__set_err(errbuf, "cannot capture on '%s': %s", iface, pe);
        rc = TT_EIO;
        goto err;
    }
    /* Configure, then activate (libpcap's order). Immediate mode: a packet is
     * delivered as soon as it arrives, so live verdicts are not delayed by a
     * half-empty kernel buffer; the timeout then only bounds wake-ups. */
    if (pcap_set_snaplen(l->p, snaplen) != 0 || pcap_set_immediate_mode(l->p, 1) != 0 ||
        pcap_set_timeout(l->p, 100) != 0 || pcap_set_buffer_size(l->p, (int)buffer) != 0 ||
        pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_MICRO) != 0) {
        tt__set_err(errbuf, "cannot configure the capture on '%s': %s", iface, pcap_geterr(l->p));
        rc = TT_EIO;
        goto err;
    }
    rc = pcap_activate(l->p);
    if (rc < 0) {
        rc = activate_error(l, rc, errbuf);
        goto err;
    }
    if (rc > 0) {
        const char *w = pcap_geterr(l->p);
        size_t n = strlen(iface) + strlen(w) + strlen(pcap_statustostr(rc)) + 8;
        if ((l->warning = malloc(n)) != NULL)
            snprintf(l->warning, n, "%s: %s%s%s", iface, pcap_statustostr(rc), *w ? ": " : "", w);
    }
    l->linktype = pcap_datalink(l->p);
    if (!tt_linktype_supported(l->linktype)) {
        const char *lname = pcap_datalink_val_to_name(l->linktype);
        char list[160];
        supported_list(list, sizeof list);
        tt__set_err(errbuf,
                    "interface '%s' has link type %s (%d), which tunneltap cannot decode "
                    "(supported: %s)",
                    iface, lname ? lname : "unknown", l->linktype, list);
        rc = TT_ELINKTYPE;
        goto err;
    }
    if (bpf && *bpf) {
        if (pcap_compile(l->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            tt__set_err(errbuf, "bad filter expression '%s': %s", bpf, pcap_geterr(l->p));
            rc = TT_EINVAL;
            goto err;
        }
        has_prog = true;
        if (pcap_setfilter(l->p, &prog) < 0) {
            tt__set_err(errbuf, "cannot install filter '%s' on '%s': %s", bpf, iface,
                        pcap_geterr(l->p));
            rc = TT_EIO;
            goto err;
        }
        pcap_freecode(&prog);
        has_prog = false;
    }
    if (pcap_setnonblock(l->p, 1, pe) < 0 || (l->fd = pcap_get_selectable_fd(l->p)) < 0) {
        tt__set_err(errbuf, "cannot poll the capture on '%s': %s", iface,
                    *pe ? pe : "no selectable descriptor");
        rc = TT_EIO;
        goto err;
    }
    /* Drops counted before this point belong to nobody: start from them. */
    struct pcap_stat ps;
    if (pcap_stats(l->p, &ps) == 0) {
        l->last_drop = ps.ps_drop;
        l->last_ifdrop = ps.ps_ifdrop;
    }
    *out = l;
    return 0;

err:
    if (has_prog)
        pcap_freecode(&prog);
    tt_live_close(l);
    return rc;
}

int tt_live_fd(const tt_live *l)
{
    return l->fd;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    tt_live *l = (tt_live *)(void *)user;
    uint64_t sec = h->ts.tv_sec < 0 ? 0 : (uint64_t)h->ts.tv_sec;
    uint64_t usec = h->ts.tv_sec < 0 || h->ts.tv_usec < 0 ? 0 : (uint64_t)h->ts.tv_usec;
    l->packets++;
    l->fn(l->ctx, data, h->caplen, h->len, sec * 1000000u + usec);
}

int tt_live_dispatch(tt_live *l, int max, tt_live_fn fn, void *ctx, char *errbuf)
{
    l->fn = fn;
    l->ctx = ctx;
    int n = pcap_dispatch(l->p, max > 0 ? max : -1, on_packet, (u_char *)(void *)l);
    if (n >= 0)
        return n;
    if (n == PCAP_ERROR_BREAK)
        return 0;
    tt__set_err(errbuf, "capture on '%s' stopped: %s", l->iface, pcap_geterr(l->p));
    return TT_EIO;
}

int tt_live_new_drops(tt_live *l, uint64_t *count)
{
    *count = 0;
    struct pcap_stat ps;
    if (pcap_stats(l->p, &ps) != 0)
        return TT_EIO;
    /* Unsigned 32-bit differences: correct across one wrap of libpcap's
     * u_int counters between two calls (one call a second cannot miss one). */
    uint32_t d = (uint32_t)ps.ps_drop - l->last_drop;
    uint32_t di = (uint32_t)ps.ps_ifdrop - l->last_ifdrop;
    l->last_drop = ps.ps_drop;
    l->last_ifdrop = ps.ps_ifdrop;
    *count = (uint64_t)d + di;
    l->drops += *count;
    return 0;
}

uint64_t tt_live_packets(const tt_live *l)
{
    return l->packets;
}

uint64_t tt_live_drops(const tt_live *l)
{
    return l->drops;
}

int tt_live_linktype(const tt_live *l)
{
    return l->linktype;
}

const char *tt_live_linktype_name(const tt_live *l)
{
    const char *name = pcap_datalink_val_to_name(l->linktype);
    return name ? name : tt_linktype_name(l->linktype);
}

const char *tt_live_iface(const tt_live *l)
{
    return l->iface;
}

const char *tt_live_warning(const tt_live *l)
{
    return l->warning;
}

void tt_live_close(tt_live *l)
{
    if (!l)
        return;
    if (l->p)
        pcap_close(l->p);
    free(l->warning);
    free(l->iface);
    free(l);
}
