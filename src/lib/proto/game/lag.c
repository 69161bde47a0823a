/* Update latency (sockit/game.h): each tick's arrival against the server's fixed schedule. */
#include <errno.h>
#include <stdlib.h>

#include "sockit/game.h"
#include "sockit/hist.h"

void sockit_game_lag_init(struct sockit_game_lag *l, uint16_t tick_rate, size_t max)
{
    *l = (struct sockit_game_lag){ .period_ns = 1000000000ull / (tick_rate ? tick_rate : 1),
                                   .max = max };
}

void sockit_game_lag_free(struct sockit_game_lag *l)
{
    free(l->offsets);
    l->offsets = NULL;
    l->n = l->cap = 0;
}

static int keep(struct sockit_game_lag *l, int64_t offset)
{
    if (l->n == l->max)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        int64_t *o = realloc(l->offsets, cap * sizeof(*o));
        if (!o)
            return -ENOMEM;
        l->offsets = o;
        l->cap = cap;
    }
    l->offsets[l->n++] = offset;
    return 0;
}

int sockit_game_lag_arrived(struct sockit_game_lag *l, uint32_t tick, uint64_t now)
{
    uint32_t from = l->newest ? l->newest + 1 : tick;

    if (l->newest && (int32_t)(tick - l->newest) <= 0)
        return 0;
    if (tick - from > 64 * 1024) /* a jump that big is a new session: start there */
        from = tick;
    l->newest = tick;
    for (uint32_t t = from; t != tick + 1; t++) {
        int err = keep(l, (int64_t)now - (int64_t)t * (int64_t)l->period_ns);
        if (err)
            return err;
    }
    return 0;
}

void sockit_game_lag_add_to(const struct sockit_game_lag *l, struct sockit_hist *h)
{
    int64_t min = INT64_MAX;

    for (size_t i = 0; i < l->n; i++)
        min = l->offsets[i] < min ? l->offsets[i] : min;
    for (size_t i = 0; i < l->n; i++)
        sockit_hist_add(h, (uint64_t)(l->offsets[i] - min) / 1000);
}
