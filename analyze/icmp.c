/* icmp.c - ICMP (RFC 792) and ICMPv6 (RFC 4443, RFC 4861) type facts. */
#include "analyze/icmp.h"

uint16_t tt__icmp_counterpart(uint8_t proto, uint8_t type, uint8_t code, bool *one_way)
{
    *one_way = false;
    if (proto == 1) {
        switch (type) {
        case 8:
            return 0; /* echo */
        case 0:
            return 8;
        case 13:
            return 14; /* timestamp */
        case 14:
            return 13;
        case 15:
            return 16; /* information */
        case 16:
            return 15;
        case 10:
            return 9; /* router solicitation / advertisement */
        case 9:
            return 10;
        case 17:
            return 18; /* address mask */
        case 18:
            return 17;
        default:
            break;
        }
    } else {
        switch (type) {
        case 128:
            return 129; /* echo */
        case 129:
            return 128;
        case 133:
            return 134; /* router solicitation / advertisement */
        case 134:
            return 133;
        case 135:
            return 136; /* neighbor solicitation / advertisement */
        case 136:
            return 135;
        case 130:
            return 131; /* multicast listener query / report */
        case 131:
            return 130;
        case 139:
            return 140; /* node information */
        case 140:
            return 139;
        case 144:
            return 145; /* home agent address discovery */
        case 145:
            return 144;
        default:
            break;
        }
    }
    *one_way = true;
    return code;
}

bool tt__icmp_is_error(uint8_t proto, uint8_t type)
{
    if (proto == 1)
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    return type >= 1 && type <= 4;
}

bool tt__icmp_is_unreach(uint8_t proto, uint8_t type)
{
    return proto == 1 ? type == 3 : type == 1;
}

bool tt__icmp_is_echo_request(uint8_t proto, uint8_t type)
{
    return proto == 1 ? type == 8 : type == 128;
}
