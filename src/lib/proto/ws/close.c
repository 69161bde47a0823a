/* Close frames' payloads (RFC 6455 sections 5.5.1 and 7.4): which codes may be sent, and a
 * payload whose reason is cut where UTF-8 allows. */
#include <string.h>

#include "sockit/ws.h"
#include "ws_internal.h"

/* 1004 is reserved, 1005 and 1006 are never sent, 1015 (TLS failure) neither; 1012-1014 are
 * IANA's (restart, try again, bad gateway); 3000-4999 belong to libraries and applications. */
bool sockit_ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

size_t sockit_ws_close_payload(uint8_t out[SOCKIT_WS_MAX_CONTROL], uint16_t code,
                               const char *reason, size_t reason_len)
{
    size_t n = reason_len < SOCKIT_WS_MAX_CONTROL - 2 ? reason_len : SOCKIT_WS_MAX_CONTROL - 2;

    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    n = sockit__ws_utf8_prefix((const uint8_t *)reason, n);
    if (n)
        memcpy(out + 2, reason, n);
    return 2 + n;
}
