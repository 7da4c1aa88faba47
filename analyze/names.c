/* names.c - names for link types, decoder events and verdicts. */
#include <stddef.h>

#include "tunneltap/analyzer.h"

bool tt_linktype_supported(int linktype)
{
    switch (linktype) {
    case TT_LINK_NULL:
    case TT_LINK_ETHERNET:
    case TT_LINK_RAW_DLT12:
    case TT_LINK_RAW_DLT14:
    case TT_LINK_RAW:
    case TT_LINK_LOOP:
    case TT_LINK_SLL:
    case TT_LINK_IPV4:
    case TT_LINK_IPV6:
    case TT_LINK_SLL2:
        return true;
    default:
        return false;
    }
}

const char *tt_linktype_name(int linktype)
{
    switch (linktype) {
    case TT_LINK_NULL:
        return "NULL";
    case TT_LINK_ETHERNET:
        return "EN10MB";
    case TT_LINK_RAW_DLT12:
    case TT_LINK_RAW_DLT14:
    case TT_LINK_RAW:
        return "RAW";
    case TT_LINK_LOOP:
        return "LOOP";
    case TT_LINK_SLL:
        return "LINUX_SLL";
    case TT_LINK_IPV4:
        return "IPV4";
    case TT_LINK_IPV6:
        return "IPV6";
    case TT_LINK_SLL2:
        return "LINUX_SLL2";
    default:
        return "unknown";
    }
}

static const char *const event_names[] = {
#define XX(id, name, desc) name,
    TT_EVENT_MAP(XX)
#undef XX
};
static const char *const event_descs[] = {
#define XX(id, name, desc) desc,
    TT_EVENT_MAP(XX)
#undef XX
};

const char *tt_event_name(tt_event ev)
{
    return (unsigned)ev < TT_EV_COUNT ? event_names[ev] : NULL;
}

const char *tt_event_description(tt_event ev)
{
    return (unsigned)ev < TT_EV_COUNT ? event_descs[ev] : NULL;
}

static const char *const verdict_names[] = {
#define XX(id, name, fail) name,
    TT_VERDICT_MAP(XX)
#undef XX
};
static const bool verdict_fail[] = {
#define XX(id, name, fail) fail,
    TT_VERDICT_MAP(XX)
#undef XX
};

const char *tt_verdict_name(tt_verdict v)
{
    return (unsigned)v < TT_VERDICT_COUNT ? verdict_names[v] : "invalid";
}

bool tt_verdict_is_failure(tt_verdict v)
{
    return (unsigned)v < TT_VERDICT_COUNT && verdict_fail[v];
}
