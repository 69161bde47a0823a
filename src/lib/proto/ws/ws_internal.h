/* Internals shared by the WebSocket files (sockit/ws.h). */
#ifndef SOCKIT_WS_INTERNAL_H
#define SOCKIT_WS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* DST[0, LEN) = SRC[0, LEN) XOR KEY, the key's cycle starting at byte OFFSET. DST may be SRC
 * (in place), but the two may not overlap otherwise. */
void sockit__ws_unmask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                            uint64_t offset);

/* The length of the longest prefix of DATA[0, LEN) that is whole, valid UTF-8. */
size_t sockit__ws_utf8_prefix(const uint8_t *data, size_t len);

#endif
