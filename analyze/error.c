/* error.c - messages and names for the TT_ERRNO_MAP table, error buffers, the version. */
#include <stdarg.h>
#include <stdio.h>

#include "analyze/errbuf.h"
#include "tunneltap/error.h"
#include "tunneltap/tunneltap.h"

const char *tt_strerror(int err)
{
    switch (err) {
    case TT_OK:
        return "success";
#define XX(name, msg)                                                                              \
    case TT_E##name:                                                                               \
        return msg;
        TT_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *tt_err_name(int err)
{
    switch (err) {
    case TT_OK:
        return "TT_OK";
#define XX(name, msg)                                                                              \
    case TT_E##name:                                                                               \
        return "TT_E" #name;
        TT_ERRNO_MAP(XX)
#undef XX
    default:
        return "TT_E?";
    }
}

void tt__set_err(char *errbuf, const char *fmt, ...)
{
    if (!errbuf)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, TT_ERRBUF_SIZE, fmt, ap);
    va_end(ap);
}

const char *tt_version(void)
{
    return TT_VERSION;
}
