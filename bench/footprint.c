/* footprint.c - measures what an embedded default tap costs in memory.
 *
 * Opens a tap with tt_tap_config_init() defaults, feeds a capture through
 * tt_tap_submit() as a tunnel host would, and reports the configured size
 * (tt_tap_memsize), the analyzer's own accounting, the bytes per flow and
 * the process's resident memory at each stage (VmRSS/VmHWM from
 * /proc/self/status, heap from mallinfo2).
 *
 *   footprint FILE.pcap
 *
 * Every one of the default max_producers (4) producers is opened and the
 * packets are dealt round-robin over them, so that every ring is touched:
 * the worst case of the default configuration.
 *
 * Two defaults are changed, neither touches memory: lossless (a file is
 * read faster than the analyzer runs; a host's packets come at line rate
 * and the default drops copies when the ring is full) and live_clock off
 * (the capture's own timestamps drive the deadlines, not the wall clock).
 * Output: key=value lines, read by bench/run.sh.
 */
#include <malloc.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tunneltap/tunneltap.h"

/* Reads a "Name:   1234 kB" line of /proc/self/status; -1 when absent. */
static long status_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static size_t heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static void stage(const char *name)
{
    printf("%s_rss_kb=%ld\n%s_hwm_kb=%ld\n%s_heap_kb=%zu\n", name, status_kb("VmRSS"), name,
           status_kb("VmHWM"), name, heap_bytes() / 1024);
}

static int map_dlt(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
        return TT_LINK_ETHERNET;
    case DLT_RAW:
        return TT_LINK_RAW_DLT12;
    default:
        return tt_linktype_supported(dlt) ? dlt : -1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: footprint FILE.pcap\n");
        return 2;
    }
    stage("start");

    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    printf("default_memsize_bytes=%zu\n", tt_tap_memsize(&cfg));
    printf("default_budget_bytes=%zu\n", cfg.memory_budget);
    printf("default_max_flows=%zu\ndefault_max_dpi_flows=%zu\n", cfg.analyzer.max_flows,
           cfg.analyzer.max_dpi_flows);
    printf("default_ring_bytes=%zu\ndefault_max_producers=%u\n", cfg.ring_bytes, cfg.max_producers);
    printf("analyzer_memsize_bytes=%zu\n", tt_analyzer_memsize(&cfg.analyzer));
    cfg.lossless = true;
    cfg.live_clock = false;

    char err[TT_ERRBUF_SIZE] = "";
    tt_tap *tap;
    int rc = tt_tap_open(&tap, &cfg, err);
    if (rc < 0) {
        fprintf(stderr, "footprint: tt_tap_open: %s\n", err[0] ? err : tt_strerror(rc));
        return 1;
    }
    tt_producer *prod[TT_TAP_MAX_PRODUCERS];
    unsigned nprod = cfg.max_producers;
    for (unsigned i = 0; i < nprod; i++)
        if ((rc = tt_tap_producer_open(tap, &prod[i])) < 0) {
            fprintf(stderr, "footprint: tt_tap_producer_open: %s\n", tt_strerror(rc));
            return 1;
        }
    printf("producers=%u\n", nprod);
    stage("open");
    tt_tap_stats st;
    tt_tap_get_stats(tap, &st);
    printf("analyzer_memory_bytes=%zu\nflow_bytes=%zu\n", st.analyzer.memory_bytes,
           st.analyzer.flow_bytes);

    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(argv[1], perr);
    if (!pc) {
        fprintf(stderr, "footprint: %s\n", perr);
        return 1;
    }
    int link = map_dlt(pcap_datalink(pc));
    if (link < 0) {
        fprintf(stderr, "footprint: unsupported link type %d\n", pcap_datalink(pc));
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long n = 0, refused = 0;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (tt_tap_submit(prod[n % nprod], d, h->caplen, link, TT_DIR_UNKNOWN, ts ? ts : 1) < 0)
            refused++;
        n++;
    }
    pcap_close(pc);
    tt_tap_finish(tap);
    tt_tap_get_stats(tap, &st);
    stage("fed");
    printf("packets=%llu\nrefused=%llu\nflows=%llu\nflows_peak=%llu\nts_backwards=%llu\n", n,
           refused, (unsigned long long)st.analyzer.flows_created,
           (unsigned long long)st.analyzer.flows_peak,
           (unsigned long long)st.analyzer.ts_backwards);
    printf("dpi_classified=%llu\ndpi_given_up=%llu\ndpi_pool_empty=%llu\nevicted=%llu\n",
           (unsigned long long)st.analyzer.dpi_classified,
           (unsigned long long)st.analyzer.dpi_given_up,
           (unsigned long long)st.analyzer.events[TT_EV_FLOW_DPI_POOL_EMPTY],
           (unsigned long long)st.analyzer.events[TT_EV_FLOW_EVICTED]);
    tt_tap_close(tap);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_kb=%ld\n", ru.ru_maxrss);
    return 0;
}
