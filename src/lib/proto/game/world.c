/* The world (sockit/game.h): entities by id, integer steps, and each player's view. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/game.h"
#include "sockit/rand.h"

#define SPEED_DIV 8  /* a player's velocity: move (-127..127) / 8, in 1/16 units a tick */
#define NPC_SPEED 24 /* an NPC's speed at most, 1/16 units a tick */

static uint32_t next_rand(struct sockit_game_world *w)
{
    return (uint32_t)(sockit_rand_next(&w->rng) >> 32);
}

#define CELL_SHIFT 12 /* a cell is 4096 1/16-units a side: 65536 / SOCKIT_GAME_GRID */

static unsigned cell_of(const struct sockit_game_entity *e)
{
    return (unsigned)(e->y >> CELL_SHIFT) * SOCKIT_GAME_GRID + (unsigned)(e->x >> CELL_SHIFT);
}

/* Rebuild the index of who is where (a counting sort of the ids by cell). */
static void index_world(struct sockit_game_world *w)
{
    uint16_t count[SOCKIT_GAME_GRID * SOCKIT_GAME_GRID] = { 0 };

    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++)
        if (w->used[id])
            count[cell_of(&w->e[id])]++;
    w->cell_start[0] = 0;
    for (unsigned c = 0; c < SOCKIT_GAME_GRID * SOCKIT_GAME_GRID; c++) {
        w->cell_start[c + 1] = (uint16_t)(w->cell_start[c] + count[c]);
        count[c] = w->cell_start[c];
    }
    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++)
        if (w->used[id])
            w->cell_ids[count[cell_of(&w->e[id])]++] = (uint16_t)id;
}

static int free_id(const struct sockit_game_world *w)
{
    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++)
        if (!w->used[id])
            return id;
    return -1;
}

static int spawn(struct sockit_game_world *w, bool player)
{
    int id = free_id(w);

    if (id < 0)
        return -SOCKIT_EGAME_FULL;
    struct sockit_game_entity *e = &w->e[id];
    *e = (struct sockit_game_entity){
        .id = (uint16_t)id, .x = (uint16_t)next_rand(w), .y = (uint16_t)next_rand(w), .hp = 100
    };
    if (!player) {
        e->vx = (int16_t)((int)(next_rand(w) % (2 * NPC_SPEED + 1)) - NPC_SPEED);
        e->vy = (int16_t)((int)(next_rand(w) % (2 * NPC_SPEED + 1)) - NPC_SPEED);
    }
    w->used[id] = true;
    w->player[id] = player;
    w->input[id] = (struct sockit_game_input){ 0 };
    w->count++;
    index_world(w);
    return id;
}

void sockit_game_world_init(struct sockit_game_world *w, uint16_t npcs, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->tick = 1;
    w->rng = seed;
    for (uint16_t i = 0; i < npcs && spawn(w, false) >= 0; i++)
        ;
    index_world(w);
}

int sockit_game_world_add_player(struct sockit_game_world *w)
{
    return spawn(w, true);
}

void sockit_game_world_remove(struct sockit_game_world *w, uint16_t id)
{
    if (id > SOCKIT_GAME_MAX_ENTITY || !w->used[id])
        return;
    w->used[id] = w->player[id] = false;
    w->count--;
    index_world(w);
}

void sockit_game_world_input(struct sockit_game_world *w, uint16_t id,
                             const struct sockit_game_input *in)
{
    if (id <= SOCKIT_GAME_MAX_ENTITY && w->used[id] && w->player[id])
        w->input[id] = *in;
}

/* Move P by V within 0..SOCKIT_GAME_WORLD_SIZE; a wall reverses V. */
static void move(uint16_t *p, int16_t *v)
{
    int32_t x = (int32_t)*p + *v;

    if (x < 0 || x > SOCKIT_GAME_WORLD_SIZE) {
        x = x < 0 ? -x : 2 * SOCKIT_GAME_WORLD_SIZE - x;
        *v = (int16_t) - *v;
    }
    *p = (uint16_t)x;
}

void sockit_game_world_step(struct sockit_game_world *w)
{
    w->tick++;
    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++) {
        if (!w->used[id])
            continue;
        struct sockit_game_entity *e = &w->e[id];
        if (w->player[id]) {
            e->vx = (int16_t)(w->input[id].move_x / SPEED_DIV);
            e->vy = (int16_t)(w->input[id].move_y / SPEED_DIV);
            e->flags = w->input[id].buttons;
        }
        move(&e->x, &e->vx);
        move(&e->y, &e->vy);
    }
    index_world(w);
}

struct near {
    uint64_t d2;
    uint16_t id;
};

/* Nearer first; at one distance, the smaller id: a total order, so the view is the same on
 * any machine. */
static bool nearer(const struct near *x, const struct near *y)
{
    return x->d2 != y->d2 ? x->d2 < y->d2 : x->id < y->id;
}

/* Move the K nearest of the N in A to its front, in any order (quickselect: linear on average,
 * where sorting all N for each of N players would not keep a 1000-player tick). */
static void select_nearest(struct near *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* the K-th lies in [lo, hi) */

    while (hi - lo > 1) {
        struct near pivot = a[lo + (hi - lo) / 2], t;
        size_t i = lo, j = hi - 1;
        while (i <= j) { /* Hoare: [lo, i) <= pivot, (j, hi) >= pivot */
            while (nearer(&a[i], &pivot))
                i++;
            while (nearer(&pivot, &a[j]))
                j--;
            if (i <= j) {
                t = a[i], a[i] = a[j], a[j] = t;
                i++;
                if (j-- == 0)
                    break;
            }
        }
        if (k <= j)
            hi = j + 1;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* The entities of the cells in ring R around cell (CX, CY) (those R cells away in x or y,
 * within the world) into NEAR, by their distance from ME (ID itself at 0). Returns how many. */
static size_t scan_ring(const struct sockit_game_world *w, uint16_t id,
                        const struct sockit_game_entity *me, int cx, int cy, int r,
                        struct near *near)
{
    size_t n = 0;

    for (int y = cy - r; y <= cy + r; y++) {
        if (y < 0 || y >= SOCKIT_GAME_GRID)
            continue;
        bool edge = y == cy - r || y == cy + r;
        for (int x = cx - r; x <= cx + r; x += edge || r == 0 ? 1 : 2 * r) {
            if (x < 0 || x >= SOCKIT_GAME_GRID)
                continue;
            unsigned c = (unsigned)y * SOCKIT_GAME_GRID + (unsigned)x;
            for (unsigned k = w->cell_start[c]; k < w->cell_start[c + 1]; k++) {
                uint16_t other = w->cell_ids[k];
                int64_t dx = (int64_t)w->e[other].x - me->x, dy = (int64_t)w->e[other].y - me->y;
                /* itself at 0, everyone else at 1 or more: it is always in its own view */
                near[n++] =
                    (struct near){ other == id ? 0 : (uint64_t)(dx * dx + dy * dy) + 1, other };
            }
        }
    }
    return n;
}

/* How near any entity outside the cells within R of (CX, CY) can be to ME, squared: the
 * distance to the block's nearest edge inside the world; UINT64_MAX when the block is all. */
static uint64_t outside_d2(const struct sockit_game_entity *me, int cx, int cy, int r)
{
    int64_t cell = 1 << CELL_SHIFT, d = INT64_MAX;

    if (cx - r > 0)
        d = me->x - (cx - r) * cell;
    if (cx + r < SOCKIT_GAME_GRID - 1 && (cx + r + 1) * cell - me->x < d)
        d = (cx + r + 1) * cell - me->x;
    if (cy - r > 0 && me->y - (cy - r) * cell < d)
        d = me->y - (cy - r) * cell;
    if (cy + r < SOCKIT_GAME_GRID - 1 && (cy + r + 1) * cell - me->y < d)
        d = (cy + r + 1) * cell - me->y;
    return d == INT64_MAX ? UINT64_MAX : (uint64_t)(d * d);
}

void sockit_game_world_view(const struct sockit_game_world *w, uint16_t id, uint16_t max,
                            struct sockit_game_view *out)
{
    struct near near[SOCKIT_GAME_MAX_ENTITY + 1]; /* 16 KiB on the stack */
    size_t n = 0;
    const struct sockit_game_entity *me = &w->e[id <= SOCKIT_GAME_MAX_ENTITY ? id : 0];
    int cx = me->x >> CELL_SHIFT, cy = me->y >> CELL_SHIFT;

    if (max > SOCKIT_GAME_MAX_VIEW)
        max = SOCKIT_GAME_MAX_VIEW;
    /* Rings of cells outward until the MAX nearest so far are all nearer than anything
     * outside the rings can be (so the result is the whole world's MAX nearest). */
    bool selected = false; /* the MAX nearest of NEAR[0..n) are at its front */
    for (int r = 0; r < SOCKIT_GAME_GRID && max > 0; r++) {
        size_t found = scan_ring(w, id, me, cx, cy, r, near + n);
        n += found;
        selected = selected && !found;
        uint64_t limit = outside_d2(me, cx, cy, r);
        if (limit == UINT64_MAX)
            break;
        if (n < max)
            continue;
        if (!selected)
            select_nearest(near, n, max);
        selected = true;
        uint64_t kth = 0;
        for (size_t i = 0; i < max; i++)
            kth = near[i].d2 > kth ? near[i].d2 : kth;
        if (kth <= limit) /* kth is d2 + 1: strictly nearer than the limit */
            break;
    }
    if (n > max && !selected)
        select_nearest(near, n, max);
    out->tick = w->tick;
    out->n = (uint16_t)(n < max ? n : max);
    for (uint16_t i = 0; i < out->n; i++) { /* in id order: an insertion sort of a few */
        uint16_t k = i;
        for (; k > 0 && out->e[k - 1].id > near[i].id; k--)
            out->e[k] = out->e[k - 1];
        out->e[k] = w->e[near[i].id];
    }
}
