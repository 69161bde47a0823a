/* Snapshots (sockit/game.h): a view of entities, delta-encoded against a baseline the client
 * acknowledged, bit-packed; and the state hash both sides compute over it. */
#include <errno.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/game.h"

#define ID_BITS    10
#define COUNT_BITS 8 /* 0..128 */
#define SMALL_BITS 7 /* a position delta of -64..63 */

uint32_t sockit_game_view_hash(const struct sockit_game_view *v)
{
    uint32_t h = 2166136261u;
    uint8_t b[12];

    for (int i = 0; i < 4; i++)
        h = (h ^ (uint8_t)(v->tick >> (8 * i))) * 16777619u;
    for (uint16_t i = 0; i < v->n; i++) {
        const struct sockit_game_entity *e = &v->e[i];
        uint16_t f[5] = { e->id, e->x, e->y, (uint16_t)e->vx, (uint16_t)e->vy };
        for (int k = 0; k < 5; k++) {
            b[2 * k] = (uint8_t)(f[k] >> 8);
            b[2 * k + 1] = (uint8_t)f[k];
        }
        b[10] = e->hp;
        b[11] = e->flags;
        for (int k = 0; k < 12; k++)
            h = (h ^ b[k]) * 16777619u;
    }
    return h;
}

/* The entity with ID in BASE, found by walking its sorted ids from *AT. */
static const struct sockit_game_entity *in_base(const struct sockit_game_view *base, uint16_t id,
                                                uint16_t *at)
{
    if (!base)
        return NULL;
    while (*at < base->n && base->e[*at].id < id)
        (*at)++;
    return *at < base->n && base->e[*at].id == id ? &base->e[*at] : NULL;
}

static void put_position(struct sockit_bitw *w, uint16_t now, uint16_t was)
{
    int d = (int16_t)(uint16_t)(now - was);

    if (d >= -64 && d <= 63) {
        sockit_bitw_put(w, 1, 1);
        sockit_bitw_put(w, (uint32_t)d & 0x7f, SMALL_BITS);
    } else {
        sockit_bitw_put(w, 0, 1);
        sockit_bitw_put(w, now, 16);
    }
}

static void put_field(struct sockit_bitw *w, uint32_t now, uint32_t was, unsigned bits)
{
    sockit_bitw_put(w, now != was, 1);
    if (now != was)
        sockit_bitw_put(w, now, bits);
}

static void put_entity(struct sockit_bitw *w, const struct sockit_game_entity *e,
                       const struct sockit_game_entity *b)
{
    if (!b) { /* new: every field */
        sockit_bitw_put(w, e->x, 16);
        sockit_bitw_put(w, e->y, 16);
        sockit_bitw_put(w, (uint16_t)e->vx, 16);
        sockit_bitw_put(w, (uint16_t)e->vy, 16);
        sockit_bitw_put(w, e->hp, 8);
        sockit_bitw_put(w, e->flags, 8);
        return;
    }
    bool changed = memcmp(e, b, sizeof(*e)) != 0;
    sockit_bitw_put(w, changed, 1);
    if (!changed)
        return;
    put_position(w, e->x, b->x);
    put_position(w, e->y, b->y);
    put_field(w, (uint16_t)e->vx, (uint16_t)b->vx, 16);
    put_field(w, (uint16_t)e->vy, (uint16_t)b->vy, 16);
    put_field(w, e->hp, b->hp, 8);
    put_field(w, e->flags, b->flags, 8);
}

static bool view_ok(const struct sockit_game_view *v)
{
    if (!v || v->n > SOCKIT_GAME_MAX_VIEW)
        return false;
    for (uint16_t i = 0; i < v->n; i++)
        if (v->e[i].id > SOCKIT_GAME_MAX_ENTITY || (i && v->e[i].id <= v->e[i - 1].id))
            return false;
    return true;
}

int sockit_game_snapshot_write(struct sockit_bitw *w, const struct sockit_game_view *cur,
                               const struct sockit_game_view *base)
{
    uint16_t at = 0;
    int prev = -1;

    if (!view_ok(cur) || (base && !view_ok(base)))
        return -SOCKIT_EGAME_RANGE;
    sockit_bitw_put(w, cur->n, COUNT_BITS);
    for (uint16_t i = 0; i < cur->n; i++) {
        const struct sockit_game_entity *e = &cur->e[i];
        if (e->id == prev + 1) {
            sockit_bitw_put(w, 1, 1);
        } else {
            sockit_bitw_put(w, 0, 1);
            sockit_bitw_put(w, e->id, ID_BITS);
        }
        prev = e->id;
        put_entity(w, e, in_base(base, e->id, &at));
    }
    return w->overflow ? -ENOSPC : 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

static uint16_t get_position(struct sockit_bitr *r, uint16_t was)
{
    if (sockit_bitr_get(r, 1))
        return (uint16_t)(was + sockit_bitr_get_signed(r, SMALL_BITS));
    return (uint16_t)sockit_bitr_get(r, 16);
}

static uint32_t get_field(struct sockit_bitr *r, uint32_t was, unsigned bits)
{
    return sockit_bitr_get(r, 1) ? sockit_bitr_get(r, bits) : was;
}

static void get_entity(struct sockit_bitr *r, struct sockit_game_entity *e,
                       const struct sockit_game_entity *b)
{
    if (!b) {
        e->x = (uint16_t)sockit_bitr_get(r, 16);
        e->y = (uint16_t)sockit_bitr_get(r, 16);
        e->vx = (int16_t)sockit_bitr_get(r, 16);
        e->vy = (int16_t)sockit_bitr_get(r, 16);
        e->hp = (uint8_t)sockit_bitr_get(r, 8);
        e->flags = (uint8_t)sockit_bitr_get(r, 8);
        return;
    }
    uint16_t id = e->id;
    *e = *b;
    e->id = id;
    if (!sockit_bitr_get(r, 1))
        return;
    e->x = get_position(r, b->x);
    e->y = get_position(r, b->y);
    e->vx = (int16_t)get_field(r, (uint16_t)b->vx, 16);
    e->vy = (int16_t)get_field(r, (uint16_t)b->vy, 16);
    e->hp = (uint8_t)get_field(r, b->hp, 8);
    e->flags = (uint8_t)get_field(r, b->flags, 8);
}

int sockit_game_snapshot_read(const uint8_t *body, size_t len, uint32_t tick,
                              const struct sockit_game_view *base, struct sockit_game_view *out)
{
    struct sockit_bitr r;
    uint16_t at = 0;
    int prev = -1;

    sockit_bitr_init(&r, body, len);
    out->tick = tick;
    out->n = (uint16_t)sockit_bitr_get(&r, COUNT_BITS);
    if (out->n > SOCKIT_GAME_MAX_VIEW)
        return -SOCKIT_EGAME_RANGE;
    for (uint16_t i = 0; i < out->n && !r.overflow; i++) {
        int id = sockit_bitr_get(&r, 1) ? prev + 1 : (int)sockit_bitr_get(&r, ID_BITS);
        if (id <= prev || id > SOCKIT_GAME_MAX_ENTITY)
            return -SOCKIT_EGAME_RANGE;
        out->e[i].id = (uint16_t)id;
        prev = id;
        get_entity(&r, &out->e[i], in_base(base, (uint16_t)id, &at));
    }
    if (r.overflow)
        return -SOCKIT_EGAME_SHORT;
    if (len * 8 - r.bits >= 8)
        return -SOCKIT_EGAME_LONG; /* more than the last byte's padding */
    while (r.bits < len * 8)
        if (sockit_bitr_get(&r, 1))
            return -SOCKIT_EGAME_LONG; /* padding that is not zeros */
    return 0;
}
