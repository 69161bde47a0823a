/* The bit packer (sockit/game.h): values of 1..32 bits, most significant bit first. */
#include <string.h>

#include "sockit/game.h"

void sockit_bitw_init(struct sockit_bitw *w, uint8_t *buf, size_t cap)
{
    *w = (struct sockit_bitw){ .p = buf, .cap = cap };
}

/* Whole runs of bits into each byte, a byte zeroed as it is begun (so nothing needs clearing
 * first and the last byte's unused bits are zeros). */
void sockit_bitw_put(struct sockit_bitw *w, uint32_t value, unsigned nbits)
{
    if (nbits == 0 || nbits > 32 || w->overflow)
        return;
    if (w->bits + nbits > w->cap * 8) {
        w->overflow = true;
        return;
    }
    if (nbits < 32)
        value &= (1u << nbits) - 1;
    if (nbits <= 8 - (w->bits & 7)) { /* the common case: it fits the byte begun */
        unsigned room = 8 - (unsigned)(w->bits & 7);
        if (room == 8)
            w->p[w->bits >> 3] = 0;
        w->p[w->bits >> 3] |= (uint8_t)(value << (room - nbits));
        w->bits += nbits;
        return;
    }
    while (nbits) {
        unsigned room = 8 - (unsigned)(w->bits & 7), take = nbits < room ? nbits : room;
        uint32_t chunk = (value >> (nbits - take)) & ((1u << take) - 1);
        if (room == 8)
            w->p[w->bits >> 3] = 0;
        w->p[w->bits >> 3] |= (uint8_t)(chunk << (room - take));
        w->bits += take;
        nbits -= take;
    }
}

size_t sockit_bitw_bytes(const struct sockit_bitw *w)
{
    return (w->bits + 7) / 8;
}

void sockit_bitr_init(struct sockit_bitr *r, const uint8_t *buf, size_t len)
{
    *r = (struct sockit_bitr){ .p = buf, .len = len };
}

uint32_t sockit_bitr_get(struct sockit_bitr *r, unsigned nbits)
{
    uint32_t v = 0;

    if (nbits == 0 || nbits > 32 || r->overflow)
        return 0;
    if (r->bits + nbits > r->len * 8) {
        r->overflow = true;
        return 0;
    }
    while (nbits) {
        unsigned room = 8 - (unsigned)(r->bits & 7), take = nbits < room ? nbits : room;
        uint32_t chunk = (uint32_t)(r->p[r->bits >> 3] >> (room - take)) & ((1u << take) - 1);
        v = (v << take) | chunk; /* take <= 8 */
        r->bits += take;
        nbits -= take;
    }
    return v;
}

int32_t sockit_bitr_get_signed(struct sockit_bitr *r, unsigned nbits)
{
    uint32_t v = sockit_bitr_get(r, nbits);

    if (nbits < 32 && (v >> (nbits - 1)) & 1)
        v |= ~0u << nbits; /* sign-extend */
    return (int32_t)v;
}
