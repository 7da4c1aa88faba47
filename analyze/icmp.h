/* icmp.h - ICMP/ICMPv6 type facts: request/reply counterparts, error types. */
#ifndef TT_ANALYZE_ICMP_H
#define TT_ANALYZE_ICMP_H

#include <stdbool.h>
#include <stdint.h>

/* Zeek's ICMP4_counterpart/ICMP6_counterpart: the type of the answer to a
 * two-way message (echo 8<->0, ...), else the code with *one_way set. The
 * result is the flow key's responder "port". */
uint16_t tt__icmp_counterpart(uint8_t proto, uint8_t type, uint8_t code, bool *one_way);

/* Error messages that quote the offending packet (RFC 792, RFC 4443). */
bool tt__icmp_is_error(uint8_t proto, uint8_t type);

/* Destination unreachable (any code, incl. administratively prohibited). */
bool tt__icmp_is_unreach(uint8_t proto, uint8_t type);

/* Echo request (ICMP 8, ICMPv6 128). */
bool tt__icmp_is_echo_request(uint8_t proto, uint8_t type);

#endif
