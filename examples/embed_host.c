/* embed_host.c - an example tunnel host embedding tunneltap.
 *
 * Two "packet-flow" threads submit DNS queries and answers (as a
 * NEPacketTunnelProvider's readPackets completions would), the host marks a
 * filter upgrade half-way, after which answers stop coming. The library's
 * own thread analyses; at the end the host prints what the tap saw.
 * Build: cc embed_host.c $(pkg-config --cflags --libs tunneltap)
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tunneltap/tunneltap.h"

#define SEC ((uint64_t)1000000)
static const uint64_t T0 = 1764230400ull * SEC; /* 2025-11-27 08:00:00 UTC */

/* Builds a minimal IPv4/UDP datagram between 10.0.0.2:port and 10.0.0.1:53. */
static size_t dns_packet(uint8_t *b, uint16_t port, int answer)
{
    memset(b, 0, 40);
    b[0] = 0x45;
    b[3] = 40;
    b[8] = 64;
    b[9] = 17;
    uint8_t client[4] = {10, 0, 0, 2}, server[4] = {10, 0, 0, 1};
    memcpy(b + 12, answer ? server : client, 4);
    memcpy(b + 16, answer ? client : server, 4);
    uint16_t sp = answer ? 53 : port, dp = answer ? port : 53;
    b[20] = (uint8_t)(sp >> 8), b[21] = (uint8_t)sp;
    b[22] = (uint8_t)(dp >> 8), b[23] = (uint8_t)dp;
    b[25] = 20; /* UDP length: 8 + 12 bytes of DNS header */
    return 40;
}

typedef struct worker {
    tt_tap *tap;
    int inbound; /* 0: queries (outbound flow), 1: answers (inbound flow) */
    int dropped;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    tt_producer *p;
    if (tt_tap_producer_open(w->tap, &p) != 0)
        return NULL;
    uint8_t pkt[64];
    for (int i = 0; i < 200; i++) {
        uint64_t ts = T0 + (uint64_t)i * SEC / 10 + (w->inbound ? 20000u : 0u);
        if (w->inbound && i >= 100)
            break; /* after the upgrade, no answers come back */
        size_t n = dns_packet(pkt, (uint16_t)(20000 + i), w->inbound);
        int rc = tt_tap_submit(p, pkt, n, TT_LINK_AF(AF_INET),
                               w->inbound ? TT_DIR_INBOUND : TT_DIR_OUTBOUND, ts);
        if (rc == TT_EFULL)
            w->dropped++; /* the original would still be forwarded */
    }
    return NULL;
}

int main(void)
{
    tt_tap_config cfg;
    tt_tap_config_init(&cfg);
    cfg.lossless = 1; /* an example: keep every copy */
    char err[TT_ERRBUF_SIZE];
    tt_tap *tap;
    int rc = tt_tap_open(&tap, &cfg, err);
    if (rc < 0) {
        fprintf(stderr, "tt_tap_open: %s (%s)\n", err, tt_strerror(rc));
        return 1;
    }
    worker q = {tap, 0, 0}, a = {tap, 1, 0};
    pthread_t tq, ta;
    pthread_create(&tq, NULL, run, &q);
    pthread_create(&ta, NULL, run, &a);
    tt_tap_mark(tap, "filter 2.1", T0 + 10 * SEC);
    pthread_join(tq, NULL);
    pthread_join(ta, NULL);
    tt_tap_finish(tap);
    tt_tap_stats st;
    tt_tap_get_stats(tap, &st);
    printf("submitted %llu analysed %llu dropped %llu markers %u\n",
           (unsigned long long)st.submitted, (unsigned long long)st.analysed,
           (unsigned long long)(st.dropped_full + st.dropped_oversize), st.markers);
    printf("udp answered %llu unanswered %llu\n",
           (unsigned long long)st.analyzer.by_verdict[TT_VERDICT_ANSWERED],
           (unsigned long long)st.analyzer.by_verdict[TT_VERDICT_UNANSWERED]);
    tt_tap_close(tap);
    return st.analyzer.by_verdict[TT_VERDICT_ANSWERED] == 100 &&
                   st.analyzer.by_verdict[TT_VERDICT_UNANSWERED] == 100
               ? 0
               : 1;
}
