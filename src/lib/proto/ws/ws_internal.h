/* Internals shared by the WebSocket files (sockit/ws.h). */
#ifndef SOCKIT_WS_INTERNAL_H
#define SOCKIT_WS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/ws.h"

/* DST[0, LEN) = SRC[0, LEN) XOR KEY, the key's cycle starting at byte OFFSET. DST may be SRC
 * (in place), but the two may not overlap otherwise. */
void sockit__ws_unmask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                            uint64_t offset);

/* The length of the longest prefix of DATA[0, LEN) that is whole, valid UTF-8. */
size_t sockit__ws_utf8_prefix(const uint8_t *data, size_t len);

/* The server's Sec-WebSocket-Extensions among FIELDS[0, N), checked against the client's
 * permessage-deflate OFFER: 1 and *AGREED if it agreed, 0 if it sent no extension, or
 * -SOCKIT_EWS_HANDSHAKE (sockit_ws_response_check_deflate). */
int sockit__ws_deflate_answer(const struct sockit_http_field *fields, size_t n,
                              const struct sockit_ws_deflate_options *offer,
                              struct sockit_ws_deflate_params *agreed);

#endif
