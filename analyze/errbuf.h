/* errbuf.h - formatting a caller's error buffer (TT_ERRBUF_SIZE bytes). */
#ifndef TT_ANALYZE_ERRBUF_H
#define TT_ANALYZE_ERRBUF_H

/* Formats the message into errbuf, cut to TT_ERRBUF_SIZE bytes; does
 * nothing when errbuf is NULL (a caller that wants no message). */
__attribute__((format(printf, 2, 3))) void tt__set_err(char *errbuf, const char *fmt, ...);

#endif
