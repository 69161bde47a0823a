/* The bit packer (sockit/game.h): values of 1..32 bits, most significant bit first. */
#include <string.h>

#include "sockit/game.h"

void sockit_bitw_init(struct sockit_bitw *w, uint8_t *buf, size_t cap)
{
    *w = (struct sockit_bitw){ .p = buf, .cap = cap };
    if (cap)
        memset(buf, 0, cap);
}

void sockit_bitw_put(struct sockit_bitw *w, uint32_t value, unsigned nbits)
{
    if (nbits == 0 || nbits > 32 || w->overflow)
        return;
    if (w->bits + nbits > w->cap * 8) {
        w->overflow = true;
        return;
    }
    for (unsigned i = nbits; i-- > 0; w->bits++)
        if ((value >> i) & 1)
            w->p[w->bits >> 3] |= (uint8_t)(0x80u >> (w->bits & 7));
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
    for (unsigned i = 0; i < nbits; i++, r->bits++)
        v = (v << 1) | ((r->p[r->bits >> 3] >> (7 - (r->bits & 7))) & 1u);
    return v;
}

int32_t sockit_bitr_get_signed(struct sockit_bitr *r, unsigned nbits)
{
    uint32_t v = sockit_bitr_get(r, nbits);

    if (nbits < 32 && (v >> (nbits - 1)) & 1)
        v |= ~0u << nbits; /* sign-extend */
    return (int32_t)v;
}
