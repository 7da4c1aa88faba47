/* tcp.c - Zeek-compatible TCP endpoint state machine, history and sizes.
 *
 * Follows Zeek's TCPSessionAdapter (init_endpoint, update_history,
 * update_last_seq, UpdateStateMachine and its Update*State helpers, IsReuse,
 * TCP_Endpoint::Size) and conn/main.zeek's conn_state(), so that conn_state
 * and history agree with Zeek flow by flow (REFERENCE §1). Content gaps are
 * approximated: bytes the peer acknowledges beyond the highest sequence seen.
 */
#include <string.h>

#include "analyze/flow.h"

enum {
    H_SYN = 0x1,
    H_FIN = 0x2,
    H_RST = 0x4,
    H_FIN_RST = 0x8,
    H_DATA = 0x10,
    H_ACK = 0x20,
    H_MULTI = 0x40,
};

#define F_SYN(p) (((p)->tcp_flags & TT__TH_SYN) != 0)
#define F_FIN(p) (((p)->tcp_flags & TT__TH_FIN) != 0)
#define F_RST(p) (((p)->tcp_flags & TT__TH_RST) != 0)
#define F_ACK(p) (((p)->tcp_flags & TT__TH_ACK) != 0)

static int32_t seq_delta(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b); /* serial-number arithmetic (RFC 1982) */
}

void tt__hist_add(tt__flow *f, char code, bool is_orig)
{
    if (!is_orig && code >= 'A' && code <= 'Z')
        code = (char)(code - 'A' + 'a');
    if (f->hist_len + 1u < sizeof(f->hist))
        f->hist[f->hist_len++] = code;
}

/* Zeek's CheckHistory: adds code the first time mask is seen; returns true
 * when it had been seen before. */
bool tt__hist_check(tt__flow *f, uint32_t mask, char code, bool is_orig)
{
    if (!is_orig)
        mask <<= 16;
    if ((f->hist_seen & mask) == 0) {
        f->hist_seen |= mask;
        tt__hist_add(f, code, is_orig);
        return false;
    }
    return true;
}

/* Zeek's ScaledHistoryEntry with base 10: letter at counts 1, 10, 100, ... */
void tt__hist_scaled(tt__flow *f, char code, uint32_t count, bool is_orig)
{
    uint32_t t = 1;
    while (t < count && t <= UINT32_MAX / 10)
        t *= 10;
    if (t == count)
        tt__hist_add(f, code, is_orig);
}

static void set_state(tt__ep *e, uint8_t s)
{
    e->prev_state = e->state;
    e->state = s;
}

static void init_endpoint(tt__ep *e, const tt__pkt *p, uint32_t last_seq)
{
    if (e->state == TT__TCP_INACTIVE && !e->seq_set) {
        if (F_SYN(p)) {
            e->start_seq = e->ack_seq = p->seq;
        } else {
            e->start_seq = e->ack_seq = p->seq - 1;
        }
        e->last_seq = last_seq;
        if (!F_SYN(p))
            e->last_seq = p->seq; /* first packet not marked as a retransmission */
        e->hist_syn = e->hist_fin = e->hist_rst = UINT32_MAX;
        e->seq_set = 1;
    } else if ((e->state == TT__TCP_SYN_SENT || e->state == TT__TCP_SYN_ACK_SENT) && F_SYN(p) &&
               p->seq != e->start_seq) {
        e->start_seq = e->ack_seq = p->seq; /* SYN_seq_jump */
        e->last_seq = last_seq;
    }
}

static void update_history(tt__flow *f, tt__ep *e, const tt__pkt *p, bool is_orig)
{
    uint32_t rel = p->seq - e->start_seq;
    int bits = F_SYN(p) + F_FIN(p) + F_RST(p);
    if (bits > 1) {
        if (F_FIN(p) && F_RST(p))
            tt__hist_check(f, H_FIN_RST, 'I', is_orig);
        else
            tt__hist_check(f, H_MULTI, 'Q', is_orig);
    } else if (bits == 1) {
        if (F_SYN(p)) {
            char code = F_ACK(p) ? 'H' : 'S';
            if (tt__hist_check(f, H_SYN, code, is_orig) && rel != e->hist_syn)
                tt__hist_add(f, code, is_orig);
            e->hist_syn = rel;
        }
        if (F_FIN(p)) {
            uint32_t fin = rel + p->payload_len;
            if (tt__hist_check(f, H_FIN, 'F', is_orig) && fin != e->hist_fin)
                tt__hist_add(f, 'F', is_orig);
            e->hist_fin = fin;
        }
        if (F_RST(p)) {
            if (tt__hist_check(f, H_RST, 'R', is_orig) && rel != e->hist_rst)
                tt__hist_add(f, 'R', is_orig);
            e->hist_rst = rel;
        }
    } else {
        if (p->payload_len)
            tt__hist_check(f, H_DATA, 'D', is_orig);
        else if (F_ACK(p))
            tt__hist_check(f, H_ACK, 'A', is_orig);
    }
}

/* Zeek's update_last_seq; counts retransmissions ('t'). */
static int32_t update_last_seq(tt__flow *f, tt__ep *e, const tt__pkt *p, uint32_t last,
                               bool is_orig)
{
    int32_t delta = seq_delta(last, e->last_seq);
    const int32_t too_large = 1048576;
    if ((F_SYN(p) || F_RST(p)) && (delta > too_large || delta < -too_large)) {
        /* untrusted jump */
    } else if (F_FIN(p) && e->last_seq == e->start_seq + 1) {
        e->last_seq = last;
    } else if (e->state == TT__TCP_RESET) {
        /* no sequence numbers trusted after a RST */
    } else if (delta > 0) {
        e->last_seq = last;
    } else if (p->payload_len > 0) {
        e->rxmt++;
        tt__hist_scaled(f, 'T', e->rxmt, is_orig);
    }
    return delta;
}

static void inactive_state(tt__flow *f, tt__ep *e, tt__ep *peer, const tt__pkt *p, bool is_orig)
{
    tt__ep *orig = &f->u.ep[0];
    if (F_SYN(p)) {
        if (is_orig) {
            set_state(e, F_ACK(p) ? TT__TCP_SYN_ACK_SENT : TT__TCP_SYN_SENT);
        } else {
            if (!F_ACK(p) && peer->state == TT__TCP_SYN_ACK_SENT && p->seq == e->start_seq) {
                /* SYN/SYN-ACK reversal: Zeek flips roles; rare, kept as is */
                set_state(peer, TT__TCP_ESTABLISHED);
            }
            if (peer->state == TT__TCP_SYN_SENT)
                set_state(peer, TT__TCP_ESTABLISHED);
            set_state(e, TT__TCP_ESTABLISHED);
        }
    }
    if (F_FIN(p))
        set_state(e, TT__TCP_CLOSED);
    if (F_RST(p)) {
        set_state(e, TT__TCP_RESET);
        if (!is_orig && (peer->state == TT__TCP_SYN_SENT || peer->state == TT__TCP_SYN_ACK_SENT))
            f->flags |= TT__F_REJECTED;
    }
    if (e->state == TT__TCP_INACTIVE) {
        if (!is_orig && p->payload_len == 0 && orig->state == TT__TCP_SYN_SENT) {
            /* an ACK to a SYN before the SYN-ACK does not make a partial connection */
        } else {
            set_state(e, TT__TCP_PARTIAL);
        }
    }
}

static void syn_sent_state(tt__ep *e, const tt__pkt *p)
{
    if (F_FIN(p))
        set_state(e, TT__TCP_CLOSED);
    if (F_RST(p))
        set_state(e, TT__TCP_RESET);
}

static void established_state(tt__ep *e, tt__ep *peer, const tt__pkt *p)
{
    if (F_SYN(p) && e->state == TT__TCP_PARTIAL && peer->state == TT__TCP_INACTIVE && !F_ACK(p))
        set_state(e, TT__TCP_SYN_SENT);
    if (F_FIN(p) && !F_RST(p)) {
        set_state(e, TT__TCP_CLOSED);
        if (peer->state == TT__TCP_RESET && peer->prev_state == TT__TCP_CLOSED)
            set_state(peer, TT__TCP_CLOSED); /* FIN then RST from the peer: a normal close */
    }
    if (F_RST(p))
        set_state(e, TT__TCP_RESET);
}

static void closed_state(tt__ep *e, tt__ep *peer, const tt__pkt *p)
{
    if (F_RST(p) && peer->state != TT__TCP_CLOSED)
        set_state(e, TT__TCP_RESET);
}

/* The peer acknowledged `ack`: bytes of e's beyond what e was seen to send
 * were lost by the capture (a content gap, 'g'). */
static void ack_received(tt__flow *f, tt__ep *e, const tt__pkt *p, bool e_is_orig)
{
    if (!e->seq_set || e->state == TT__TCP_INACTIVE || F_RST(p))
        return;
    uint32_t ack = p->ack;
    if (e->fin_seen && seq_delta(ack, e->last_seq) > 0)
        ack = e->last_seq;
    int32_t gap = seq_delta(ack, e->last_seq);
    if (gap > 0 && gap < (1 << 30)) {
        if (F_FIN(p) || p->tcp_flags & TT__TH_RST)
            return;
        e->missed += (uint32_t)gap;
        e->last_seq = ack;
        e->gaps++;
        tt__hist_scaled(f, 'G', e->gaps, e_is_orig);
    }
}

void tt__tcp_packet(tt_analyzer *a, tt__flow *f, const tt__pkt *p, bool is_orig)
{
    (void)a;
    tt__ep *e = &f->u.ep[is_orig ? 0 : 1];
    tt__ep *peer = &f->u.ep[is_orig ? 1 : 0];
    uint32_t seq_len = p->payload_len + (F_SYN(p) ? 1u : 0u) + (F_FIN(p) ? 1u : 0u);
    uint32_t last = p->seq + seq_len;

    init_endpoint(e, p, last);
    update_history(f, e, p, is_orig);
    if (F_FIN(p))
        e->fin_seen = 1;

    /* Window: zero windows are interesting unless they come with or after a
     * RST, or after the peer closed. */
    if (p->win == 0 && !F_SYN(p) && !F_RST(p) && peer->state != TT__TCP_CLOSED &&
        e->state != TT__TCP_RESET) {
        e->zwin++;
        tt__hist_scaled(f, 'W', e->zwin, is_orig);
    }

    if (F_ACK(p) && peer->seq_set && peer->state != TT__TCP_INACTIVE &&
        seq_delta(p->ack, peer->ack_seq) > 0 && !F_RST(p))
        peer->ack_seq = p->ack;

    update_last_seq(f, e, p, last, is_orig);

    switch (e->state) {
    case TT__TCP_INACTIVE:
        inactive_state(f, e, peer, p, is_orig);
        break;
    case TT__TCP_SYN_SENT:
    case TT__TCP_SYN_ACK_SENT:
        syn_sent_state(e, p);
        break;
    case TT__TCP_ESTABLISHED:
    case TT__TCP_PARTIAL:
        established_state(e, peer, p);
        break;
    case TT__TCP_CLOSED:
        closed_state(e, peer, p);
        break;
    default:
        break;
    }

    if (F_ACK(p))
        ack_received(f, peer, p, !is_orig);

    /* tunneltap's handshake evidence, finer than the endpoint states. */
    if (is_orig) {
        if ((f->flags & TT__F_SYNACK) && !F_SYN(p) && !(f->flags & TT__F_ORIG_ACKED) && F_ACK(p) &&
            !F_RST(p))
            f->flags |= TT__F_ORIG_ACKED;
    } else {
        if (F_SYN(p) && F_ACK(p)) {
            if (f->flags & TT__F_ORIG_ACKED && !(f->flags & TT__F_RESP_PROGRESS))
                f->flags |= TT__F_SYNACK_REPEAT;
            f->flags |= TT__F_SYNACK;
        } else if (!F_SYN(p) && (f->flags & TT__F_ORIG_ACKED)) {
            f->flags |= TT__F_RESP_PROGRESS;
        }
    }
}

bool tt__tcp_is_reuse(const tt__flow *f, const tt__pkt *p, bool is_orig)
{
    const tt__ep *orig = &f->u.ep[0], *resp = &f->u.ep[1];
    const tt__ep *conn_orig = orig;
    (void)is_orig;
    if (!F_SYN(p))
        return false;
    if (F_ACK(p)) {
        if (orig->state != TT__TCP_INACTIVE)
            return false;
        conn_orig = resp;
    }
    bool closed = (orig->state == TT__TCP_CLOSED || orig->state == TT__TCP_RESET) &&
                  (resp->state == TT__TCP_CLOSED || resp->state == TT__TCP_RESET ||
                   resp->state == TT__TCP_INACTIVE);
    if (!closed) {
        if (!conn_orig->seq_set || p->seq == conn_orig->start_seq)
            return false;
        if (!F_ACK(p) && conn_orig->state == TT__TCP_SYN_ACK_SENT &&
            resp->state == TT__TCP_INACTIVE && p->seq == resp->start_seq)
            return false;
    }
    return true;
}

static bool inactive(uint8_t s)
{
    return s == TT__TCP_INACTIVE || s == TT__TCP_PARTIAL;
}

/* Does the history match Zeek's RSTOS0 pattern /^?S[^HAFGIQ]*R.* / ? */
static bool rstos0_history(const tt__flow *f)
{
    const char *h = f->hist;
    size_t i = 0, n = f->hist_len;
    if (i < n && h[i] == '^')
        i++;
    if (i >= n || h[i] != 'S')
        return false;
    for (i++; i < n; i++) {
        if (h[i] == 'R')
            return true;
        if (strchr("HAFGIQ", h[i]))
            return false;
    }
    return false;
}

const char *tt__tcp_conn_state(const tt__flow *f)
{
    uint8_t os = f->u.ep[0].state, rs = f->u.ep[1].state;
    if (rs == TT__TCP_RESET) {
        if (os == TT__TCP_SYN_SENT || os == TT__TCP_SYN_ACK_SENT ||
            (os == TT__TCP_RESET && tt__tcp_size(f, 0) == 0 && tt__tcp_size(f, 1) == 0))
            return "REJ";
        if (inactive(os))
            return "RSTRH";
        return "RSTR";
    }
    if (os == TT__TCP_RESET) {
        if (inactive(rs))
            return rstos0_history(f) ? "RSTOS0" : "OTH";
        return "RSTO";
    }
    if (rs == TT__TCP_CLOSED && os == TT__TCP_CLOSED)
        return "SF";
    if (os == TT__TCP_CLOSED)
        return inactive(rs) ? "SH" : "S2";
    if (rs == TT__TCP_CLOSED)
        return inactive(os) ? "SHR" : "S3";
    if (os == TT__TCP_SYN_SENT && rs == TT__TCP_INACTIVE)
        return "S0";
    if (os == TT__TCP_ESTABLISHED && rs == TT__TCP_ESTABLISHED)
        return "S1";
    return "OTH";
}

uint64_t tt__tcp_size(const tt__flow *f, int side)
{
    const tt__ep *e = &f->u.ep[side], *peer = &f->u.ep[1 - side];
    if (!e->seq_set)
        return 0;
    if (e->prev_state == TT__TCP_SYN_SENT && e->state == TT__TCP_RESET &&
        peer->state == TT__TCP_INACTIVE &&
        !(e->ack_seq == e->start_seq || e->ack_seq == e->start_seq + 1))
        return 0; /* RST/ACK to an initial SYN with a bogus sequence number */
    uint32_t top = seq_delta(e->ack_seq, e->last_seq) > 0 ? e->ack_seq : e->last_seq;
    uint64_t size = (uint32_t)(top - e->start_seq);
    if (size != 0)
        size--;
    if (e->fin_seen && size != 0)
        size--;
    return size;
}
