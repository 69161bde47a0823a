/* The server's tick (sockit/game.h): each client's inputs queued and applied one tick at a
 * time, the world stepped, and each client's view sent as a delta against the newest snapshot
 * it acknowledged. */
#include <errno.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/game.h"

#include "game_internal.h"

#define SNAPSHOT_FIELDS 27 /* header 6, token 4, acks 8, tick 4, back 1, hash 4 */
#define QUEUE_KEEP      2  /* inputs a client may run ahead before the extra are applied at once */

int game_client_join(struct sockit_game_server *s, uint16_t i)
{
    struct game_client *c = &s->clients[i];
    int id = sockit_game_world_add_player(&s->world);

    if (id < 0)
        return id;
    s->slots[i].entity = (uint16_t)id;
    sockit_game_window_init(&s->slots[i].window);
    for (size_t k = 0; k < GAME_SNAP_RING; k++)
        c->sent[k].live = false;
    c->base = -1;
    c->input_tick = 0;
    c->queued = 0;
    return 0;
}

void game_client_leave(struct sockit_game_server *s, uint16_t i)
{
    sockit_game_world_remove(&s->world, s->slots[i].entity);
}

/* Queue the inputs of IN newer than any received (oldest first), dropping the oldest queued
 * when the queue is full. */
static void queue_inputs(struct sockit_game_server *s, struct game_client *c,
                         const struct sockit_game_packet *in)
{
    for (int k = in->ninputs - 1; k >= 0; k--) { /* inputs[0] is the newest, for in->tick */
        uint32_t t = in->tick - (uint32_t)k;
        if (c->input_tick && (int32_t)(t - c->input_tick) <= 0) {
            s->st.inputs_late++;
            continue;
        }
        if (c->queued == GAME_INPUT_QUEUE) {
            memmove(c->queue, c->queue + 1, sizeof(c->queue[0]) * (GAME_INPUT_QUEUE - 1));
            c->queued--;
        }
        c->queue[c->queued++] = in->inputs[k];
        c->input_tick = t;
    }
}

/* Our snapshot SEQ was acknowledged: the newest such is the client's baseline. */
static void snapshot_acked(uint16_t seq, void *ud)
{
    struct game_client *c = ud;
    int k = seq % GAME_SNAP_RING;

    if (!c->sent[k].live || c->sent[k].seq != seq)
        return;
    if (c->base < 0 || (int32_t)(c->sent[k].tick - c->sent[c->base].tick) > 0)
        c->base = k;
}

void game_client_packet(struct sockit_game_server *s, uint16_t i, uint64_t now,
                        const struct sockit_game_packet *in)
{
    struct game_client *c = &s->clients[i];

    if (!sockit_game_window_recv(&s->slots[i].window, now, &in->acks, snapshot_acked, c))
        return; /* a duplicate, or too old to matter */
    if (in->type == SOCKIT_GAME_INPUT) {
        s->st.inputs++;
        queue_inputs(s, c, in);
    }
}

/* Move one tick of each client's queued input into the world (all the extra at once when a
 * client ran more than QUEUE_KEEP ahead, so its input is never late by more than that). */
static void apply_inputs(struct sockit_game_server *s)
{
    for (uint16_t i = 0; i < s->o.max_clients; i++) {
        struct game_client *c = &s->clients[i];
        if (!s->slots[i].used || !c->queued)
            continue;
        size_t take = c->queued > QUEUE_KEEP + 1 ? c->queued - QUEUE_KEEP : 1;
        sockit_game_world_input(&s->world, s->slots[i].entity, &c->queue[take - 1]);
        memmove(c->queue, c->queue + take, sizeof(c->queue[0]) * (c->queued - take));
        c->queued = (uint8_t)(c->queued - take);
        s->st.inputs_applied += take;
    }
}

/* The baseline of client C as a view into s->base, or NULL for none. */
static const struct sockit_game_view *baseline(struct sockit_game_server *s,
                                               const struct game_client *c)
{
    if (c->base < 0)
        return NULL;
    const struct game_sent *b = &c->sent[c->base];
    s->base.tick = b->tick;
    s->base.n = b->n;
    memcpy(s->base.e, b->e, sizeof(b->e[0]) * b->n);
    return &s->base;
}

/* Encode slot I's view into BODY (CAP bytes): fewer entities until it fits. Returns the body's
 * length; s->cur holds the view encoded. */
static size_t encode_view(struct sockit_game_server *s, uint16_t i,
                          const struct sockit_game_view *base, uint8_t *body, size_t cap)
{
    uint16_t max = s->o.view;

    for (;;) {
        struct sockit_bitw w;
        sockit_game_world_view(&s->world, s->slots[i].entity, max, &s->cur);
        sockit_bitw_init(&w, body, cap);
        if (sockit_game_snapshot_write(&w, &s->cur, base) == 0)
            return sockit_bitw_bytes(&w);
        max = (uint16_t)(s->cur.n * 3 / 4); /* only a view too big fails */
    }
}

/* Write slot I's snapshot and SEND it; remember it as a possible baseline. */
static void send_snapshot(struct sockit_game_server *s, uint16_t i, uint64_t now,
                          sockit_game_send_fn *send, void *ud)
{
    struct sockit_game_slot *slot = &s->slots[i];
    struct game_client *c = &s->clients[i];
    uint8_t body[SOCKIT_GAME_MAX_PACKET - SNAPSHOT_FIELDS], pkt[SOCKIT_GAME_MAX_PACKET];
    const struct sockit_game_view *base = baseline(s, c);
    struct sockit_game_packet p = { .type = SOCKIT_GAME_SNAPSHOT,
                                    .token = slot->token,
                                    .tick = s->world.tick,
                                    .baseline = base ? base->tick : 0,
                                    .body = body };

    p.body_len = encode_view(s, i, base, body, sizeof(body));
    p.hash = sockit_game_view_hash(&s->cur);
    sockit_game_window_send(&slot->window, now, &p.acks);
    int n = sockit_game_write(&p, pkt, sizeof(pkt));
    if (n <= 0)
        return; /* cannot happen: the body was sized for the packet */
    int k = p.acks.seq % GAME_SNAP_RING;
    struct game_sent *e = &c->sent[k];
    if (c->base == k)
        c->base = -1; /* overwritten: older than 32 snapshots, the client may not hold it */
    e->live = true;
    e->seq = p.acks.seq;
    e->tick = s->cur.tick;
    e->n = s->cur.n;
    memcpy(e->e, s->cur.e, sizeof(e->e[0]) * s->cur.n);
    s->st.snapshots++;
    s->st.full_snapshots += !base;
    s->st.snapshot_bytes += (size_t)n;
    send(&slot->addr, pkt, (size_t)n, ud);
}

size_t sockit_game_server_tick(struct sockit_game_server *s, uint64_t now,
                               sockit_game_send_fn *send, void *ud)
{
    size_t sent = 0;

    sockit_game_server_expire(s, now);
    apply_inputs(s);
    sockit_game_world_step(&s->world);
    s->st.ticks++;
    for (uint16_t i = 0; i < s->o.max_clients; i++)
        if (s->slots[i].used) {
            send_snapshot(s, i, now, send, ud);
            sent++;
        }
    return sent;
}
