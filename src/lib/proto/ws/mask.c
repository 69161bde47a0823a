/* Masking (RFC 6455 section 5.3): XOR with a 4-byte key, eight bytes at a time. */
#include <string.h>

#include "sockit/ws.h"
#include "ws_internal.h"

void sockit__ws_unmask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                            uint64_t offset)
{
    uint8_t k[8];
    uint64_t k8;
    size_t i = 0;

    for (unsigned j = 0; j < 8; j++)
        k[j] = key[(offset + j) & 3];
    memcpy(&k8, k, 8);
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++) /* i & 3 is still the key's phase: i counts from a multiple of 8 */
        dst[i] = src[i] ^ k[i & 7];
}

void sockit_ws_mask(uint8_t *data, size_t len, const uint8_t key[4], uint64_t offset)
{
    sockit__ws_unmask_copy(data, data, len, key, offset);
}
