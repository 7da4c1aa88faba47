/* verdict.c - tunneltap verdicts (docs/verdicts.md) and conn records. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "analyze/flow.h"
#include "analyze/icmp.h"
#include "analyze/mix.h"

/* Zeek's likely_server_ports (the ports its analyzers register), used to
 * decide the originator when the first packet is not a pure SYN. */
bool tt__likely_server_port(uint8_t proto, uint16_t port)
{
    static const uint16_t tcp[] = {21,   22,   23,   25,   53,   80,   81,   88,   110,  111,  135,
                                   139,  143,  389,  443,  445,  465,  502,  563,  585,  587,  614,
                                   631,  636,  750,  853,  989,  990,  992,  993,  995,  1080, 1433,
                                   1883, 2811, 3128, 3268, 3306, 3389, 5060, 5222, 5223, 5269, 5432,
                                   6379, 6666, 6667, 6668, 6669, 8000, 8080, 8443, 8888, 20000};
    static const uint16_t udp[] = {53,   67,   68,   69,   88,   123,  137,  138,  161,  162,
                                   443,  500,  514,  547,  750,  1812, 1813, 2123, 2152, 3478,
                                   3544, 4500, 4789, 5060, 5072, 5353, 5355, 6081, 19302};
    const uint16_t *t = proto == 6 ? tcp : udp;
    size_t n = proto == 6 ? sizeof(tcp) / sizeof(tcp[0]) : sizeof(udp) / sizeof(udp[0]);
    if (proto != 6 && proto != 17)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] == port)
            return true;
    return false;
}

/* UDP services that send without expecting an answer, when nDPI cannot say. */
bool tt__port_one_way(uint16_t port)
{
    switch (port) {
    case 162:  /* SNMP trap */
    case 514:  /* syslog */
    case 2055: /* NetFlow */
    case 4739: /* IPFIX */
    case 6343: /* sFlow */
    case 9995:
    case 9996:
        return true;
    default:
        return false;
    }
}

static tt_verdict tcp_verdict(const tt__flow *f, bool due)
{
    uint16_t fl = f->flags;
    if (!(fl & TT__F_SYN_FIRST))
        return TT_VERDICT_MIDSTREAM;
    if ((fl & TT__F_REJECTED) || ((fl & TT__F_ICMP_UNREACH) && !(fl & TT__F_SYNACK)))
        return TT_VERDICT_SYN_REJECTED;
    if (!(fl & TT__F_SYNACK))
        return due ? TT_VERDICT_SYN_UNANSWERED : TT_VERDICT_PENDING;
    bool lost_ack = (fl & TT__F_SYNACK_REPEAT) && !(fl & TT__F_RESP_PROGRESS);
    if (!(fl & TT__F_ORIG_ACKED) || lost_ack)
        return due ? TT_VERDICT_SYNACK_UNACKED : TT_VERDICT_PENDING;
    if (!(fl & TT__F_RESP_PROGRESS) && !due)
        return TT_VERDICT_PENDING;
    uint8_t os = f->u.ep[0].state, rs = f->u.ep[1].state;
    if (os == TT__TCP_RESET || rs == TT__TCP_RESET)
        return TT_VERDICT_RESET;
    if (os == TT__TCP_CLOSED && rs == TT__TCP_CLOSED)
        return TT_VERDICT_CLOSED;
    return TT_VERDICT_ESTABLISHED;
}

tt_verdict tt__verdict(const tt_analyzer *a, const tt__flow *f, uint64_t now_us, bool final)
{
    bool due = final || (f->flags & TT__F_JUDGED) || (f->judge_at_us && now_us >= f->judge_at_us);
    (void)a;
    switch (f->proto) {
    case 6:
        return tcp_verdict(f, due);
    case 17:
        if (f->flags & TT__F_MALFORMED)
            return TT_VERDICT_MALFORMED;
        if (f->pkts[0] == 0)
            return TT_VERDICT_REPLY_ONLY;
        if (f->flags & TT__F_MULTICAST)
            return TT_VERDICT_ONE_WAY;
        if (f->pkts[1] > 0)
            return TT_VERDICT_ANSWERED;
        if (f->flags & TT__F_ICMP_UNREACH)
            return TT_VERDICT_ICMP_UNREACHABLE;
        if (tt__dpi_one_way(f->dpi_proto) || tt__port_one_way(f->port[1]) ||
            (f->port[0] == 67 && f->port[1] == 68) || (f->port[0] == 547 && f->port[1] == 546))
            return TT_VERDICT_ONE_WAY;
        return due ? TT_VERDICT_UNANSWERED : TT_VERDICT_PENDING;
    case 1:
    case 58:
        if (f->flags & TT__F_ONE_WAY_KEY)
            return TT_VERDICT_OTHER;
        if (tt__icmp_is_echo_request(f->proto, (uint8_t)f->port[0])) {
            if (f->pkts[0] == 0)
                return TT_VERDICT_REPLY_ONLY;
            if (f->flags & TT__F_MULTICAST)
                return TT_VERDICT_ONE_WAY;
            if (f->pkts[1] > 0)
                return TT_VERDICT_ANSWERED;
            if (f->flags & TT__F_ICMP_UNREACH)
                return TT_VERDICT_ICMP_UNREACHABLE;
            return due ? TT_VERDICT_UNANSWERED : TT_VERDICT_PENDING;
        }
        if (tt__icmp_is_echo_request(f->proto, (uint8_t)f->port[1])) {
            /* The first packet seen was a reply: the requester is the
             * responder of this Zeek connection. */
            if (f->pkts[1] == 0)
                return TT_VERDICT_REPLY_ONLY;
            return f->pkts[0] > 0 ? TT_VERDICT_ANSWERED : TT_VERDICT_OTHER;
        }
        return TT_VERDICT_OTHER;
    default:
        return TT_VERDICT_OTHER;
    }
}

static const char *udp_conn_state(const tt__flow *f)
{
    bool o = f->pkts[0] > 0, r = f->pkts[1] > 0;
    if (o)
        return r ? "SF" : "S0";
    return r ? "SHR" : "OTH";
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Writes the n lowest base-62 digits of v, least significant first, two per
 * division (v % 3844 holds the next two digits). */
static void base62_digits(char *out, uint64_t v, int n)
{
    for (; n >= 2; n -= 2, out += 2) {
        unsigned r = (unsigned)(v % 3844);
        v /= 3844;
        out[0] = b62[r % 62];
        out[1] = b62[r / 62];
    }
    if (n)
        out[0] = b62[v % 62];
}

/* splitmix64 (state advanced by its golden step, then finalized): the uid's
 * digits from the analyzer's seed and the flow's serial. */
static uint64_t mix64(uint64_t x)
{
    return tt__mix64(x + 0x9e3779b97f4a7c15ull);
}

/* The nDPI protocol pair that names f: what nDPI found, else the port guess
 * (build_conn in analyzer.c makes it before calling here); NULL for none. */
static const uint16_t *name_ids(const tt_analyzer *a, const tt__flow *f)
{
    if (!a->dpi)
        return NULL;
    if (f->dpi_proto[0] || f->dpi_proto[1])
        return f->dpi_proto;
    if ((f->proto == 6 || f->proto == 17) && (f->guess[0] || f->guess[1]))
        return f->guess;
    return NULL;
}

const char *tt__flow_service(tt_analyzer *a, const tt__flow *f)
{
    const uint16_t *ids = name_ids(a, f);
    return ids ? tt__dpi_service(a->dpi, ids) : NULL;
}

/* Why a failure may be a capture artifact: the reasons only when uncertain. */
static uint32_t uncertain_why(const tt__flow *f)
{
    return f->certainty == TT_UNCERTAIN ? f->unc_why : 0;
}

void tt__fill_conn(tt_analyzer *a, const tt__flow *f, tt_conn *c)
{
    memset(c, 0, sizeof(*c));
    c->ts_us = f->first_us;
    c->last_us = f->last_us;
    uint64_t h1 = mix64(a->uid_seed ^ f->serial), h2 = mix64(h1 ^ 0x5bd1e995u);
    c->uid[0] = 'C';
    base62_digits(c->uid + 1, h1, 9);
    base62_digits(c->uid + 10, h2, 8);
    c->uid[18] = 0;
    c->ip_version = f->ipver;
    c->proto = f->proto;
    memcpy(c->orig_h, f->addr[0], 16);
    memcpy(c->resp_h, f->addr[1], 16);
    c->orig_p = f->port[0];
    c->resp_p = f->port[1];
    const uint16_t *ids = name_ids(a, f);
    if (ids) {
        c->l7 = tt__dpi_name(a->dpi, ids, a->namebuf, sizeof(a->namebuf));
        c->service = tt__dpi_service(a->dpi, ids);
    }
    c->has_sizes = f->last_us > f->first_us;
    if (f->proto == 6) {
        c->orig_bytes = tt__tcp_size(f, 0);
        c->resp_bytes = tt__tcp_size(f, 1);
        c->missed_bytes = (uint64_t)f->u.ep[0].missed + f->u.ep[1].missed;
        c->conn_state = tt__tcp_conn_state(f);
    } else {
        c->orig_bytes = f->u.d.bytes[0];
        c->resp_bytes = f->u.d.bytes[1];
        c->conn_state = f->proto == 17 ? udp_conn_state(f) : "OTH";
    }
    memcpy(c->history, f->hist, f->hist_len);
    c->history[f->hist_len] = 0;
    c->orig_pkts = f->pkts[0];
    c->resp_pkts = f->pkts[1];
    c->orig_ip_bytes = f->ip_bytes[0];
    c->resp_ip_bytes = f->ip_bytes[1];
    c->verdict = (tt_verdict)f->verdict;
    c->certainty = (tt_certainty)f->certainty;
    c->uncertain_why = uncertain_why(f);
    c->late_replies = f->late;
    c->judged_us = f->judged_us;
    c->icmp_type = f->icmp_type;
    c->icmp_code = f->icmp_code;
}

void tt_conn_addr_str(const tt_conn *c, bool resp, char *buf, size_t len)
{
    const uint8_t *a = resp ? c->resp_h : c->orig_h;
    if (len == 0)
        return;
    if (!inet_ntop(c->ip_version == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
        buf[0] = 0;
}

void tt__fill_brief(tt_analyzer *a, const tt__flow *f, tt__brief *b)
{
    memset(b, 0, sizeof(*b));
    b->ip_version = f->ipver;
    b->proto = f->proto;
    b->orig_p = f->port[0];
    b->resp_p = f->port[1];
    memcpy(b->resp_h, f->addr[1], 16);
    b->service = tt__flow_service(a, f);
    b->verdict = (tt_verdict)f->verdict;
    b->certainty = (tt_certainty)f->certainty;
    b->uncertain_why = uncertain_why(f);
    b->late_replies = f->late;
}
