/* error.h - the one table of tunneltap error codes (negative returns). */
#ifndef TUNNELTAP_ERROR_H
#define TUNNELTAP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TT_BUILDING_LIBRARY) && defined(__GNUC__)
#define TT_API __attribute__((visibility("default")))
#else
#define TT_API
#endif

/* Size of the caller-provided error buffer taken by constructors. */
#define TT_ERRBUF_SIZE 256

/* Every failing tunneltap call returns one of these, negated.
 * XX(name, message): TT_E<name> = -<n>. */
#define TT_ERRNO_MAP(XX)                                                                           \
    XX(INVAL, "invalid argument")                                                                  \
    XX(NOMEM, "out of memory or over the memory budget")                                           \
    XX(IO, "input/output error")                                                                   \
    XX(LINKTYPE, "unsupported link type")                                                          \
    XX(FORMAT, "malformed capture file")                                                           \
    XX(TOOBIG, "packet larger than the ring accepts")                                              \
    XX(FULL, "ring full, copy dropped")                                                            \
    XX(AGAIN, "resource temporarily unavailable")                                                  \
    XX(CLOSED, "handle already closed or stopping")                                                \
    XX(STATE, "call not valid in the current state")                                               \
    XX(NDPI, "nDPI initialisation failed")                                                         \
    XX(PERM, "permission denied")                                                                  \
    XX(NOENT, "no such file, device or instance")                                                  \
    XX(SYS, "system call failed (see errbuf or log for errno)")                                    \
    XX(PROTO, "malformed control message")                                                         \
    XX(TIMEDOUT, "timed out")

typedef enum tt_errno {
    TT_OK = 0,
#define TT_ERR_INDEX_(name, msg) TT_EINDEX_##name,
    TT_EINDEX_FIRST_ = 0,
    TT_ERRNO_MAP(TT_ERR_INDEX_)
#undef TT_ERR_INDEX_
} tt_errno_index;

#define TT_ERR_DEF_(name, msg) TT_E##name = -TT_EINDEX_##name,
enum { TT_ERRNO_MAP(TT_ERR_DEF_) };
#undef TT_ERR_DEF_

/* Human-readable message for a TT_E* code ("unknown error" otherwise).
 * Thread-safety: any thread. */
TT_API const char *tt_strerror(int err);

/* Name of a TT_E* code, e.g. "TT_ENOMEM".
 * Thread-safety: any thread. */
TT_API const char *tt_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
