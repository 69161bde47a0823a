/* The game client (sockit/game.h): the handshake with retries, inputs repeated until the
 * server acknowledges them, snapshots decoded against the views kept by tick and checked
 * against the server's hash, and timeouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sockit/error.h"
#include "sockit/game.h"

#define NS_PER_MS  1000000ull
#define VIEW_RING  32  /* views kept by tick, as baselines: the server's snapshot ring */
#define INPUT_RING 256 /* by sequence number: the newest input tick each INPUT carried */

struct sockit_game_client {
    struct sockit_game_client_options o;
    enum sockit_game_client_state state;
    uint64_t salt;
    uint32_t time; /* the challenge's */
    uint8_t cookie[SOCKIT_GAME_COOKIE_LEN];
    uint32_t token;
    uint16_t index, entity, tick_rate;
    uint64_t started_ns, last_sent_ns, last_recv_ns;
    struct sockit_game_window win;
    uint32_t input_tick;                                     /* of the newest input */
    uint32_t acked_tick;                                     /* the newest input the server has */
    struct sockit_game_input inputs[SOCKIT_GAME_MAX_INPUTS]; /* by tick */
    uint32_t carried[INPUT_RING];                            /* by seq: the INPUT's newest tick */
    struct sockit_game_view views[VIEW_RING];                /* by tick */
    struct sockit_game_view scratch;
    const struct sockit_game_view *view; /* the newest, in VIEWS */
    struct sockit_game_client_stats st;
};

static const struct sockit_game_view no_view;

int sockit_game_client_new(struct sockit_game_client **out,
                           const struct sockit_game_client_options *o)
{
    struct sockit_game_client *c = calloc(1, sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->o = o ? *o : (struct sockit_game_client_options){ 0 };
    if (!c->o.timeout_ms)
        c->o.timeout_ms = 2000;
    if (!c->o.retry_ms)
        c->o.retry_ms = 100;
    c->salt = c->o.seed;
    if (!c->salt && getrandom(&c->salt, sizeof(c->salt), 0) != (ssize_t)sizeof(c->salt)) {
        int err = errno ? -errno : -EIO;
        free(c);
        return err;
    }
    c->view = &no_view;
    sockit_game_window_init(&c->win);
    *out = c;
    return 0;
}

void sockit_game_client_free(struct sockit_game_client *c)
{
    free(c);
}

static bool ended(const struct sockit_game_client *c)
{
    return c->state >= SOCKIT_GAME_CLIENT_DENIED;
}

static size_t put(const struct sockit_game_packet *p, uint8_t *buf, size_t cap)
{
    int n = sockit_game_write(p, buf, cap);

    return n > 0 ? (size_t)n : 0;
}

/* CONNECT or RESPONSE, each retry_ms. */
static size_t handshake(struct sockit_game_client *c, uint64_t now, uint8_t *buf, size_t cap)
{
    if (c->last_sent_ns && now - c->last_sent_ns < c->o.retry_ms * NS_PER_MS)
        return 0;
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT, .salt = c->salt };
    if (c->state == SOCKIT_GAME_CLIENT_RESPONDING) {
        p.type = SOCKIT_GAME_RESPONSE;
        p.time = c->time;
        p.cookie = c->cookie;
    }
    c->last_sent_ns = now;
    return put(&p, buf, cap);
}

/* An INPUT with IN as the next tick and every input the server has not acknowledged (at most
 * SOCKIT_GAME_MAX_INPUTS), newest first; or a KEEPALIVE. */
static size_t play(struct sockit_game_client *c, uint64_t now, const struct sockit_game_input *in,
                   uint8_t *buf, size_t cap)
{
    struct sockit_game_packet p = { .type = SOCKIT_GAME_KEEPALIVE, .token = c->token };

    if (in) {
        c->input_tick++;
        c->inputs[c->input_tick % SOCKIT_GAME_MAX_INPUTS] = *in;
        uint32_t unacked = c->input_tick - c->acked_tick;
        p.type = SOCKIT_GAME_INPUT;
        p.tick = c->input_tick;
        p.ninputs = (uint8_t)(unacked < SOCKIT_GAME_MAX_INPUTS ? unacked : SOCKIT_GAME_MAX_INPUTS);
        for (uint8_t k = 0; k < p.ninputs; k++)
            p.inputs[k] = c->inputs[(c->input_tick - k) % SOCKIT_GAME_MAX_INPUTS];
        c->st.inputs_sent++;
        c->st.input_ticks += p.ninputs;
    }
    sockit_game_window_send(&c->win, now, &p.acks);
    c->carried[p.acks.seq % INPUT_RING] = in ? c->input_tick : 0;
    c->last_sent_ns = now;
    return put(&p, buf, cap);
}

size_t sockit_game_client_update(struct sockit_game_client *c, uint64_t now,
                                 const struct sockit_game_input *in, uint8_t *buf, size_t cap)
{
    if (ended(c))
        return 0;
    if (!c->started_ns)
        c->started_ns = c->last_recv_ns = now;
    if (now - c->last_recv_ns > c->o.timeout_ms * NS_PER_MS) {
        c->state = SOCKIT_GAME_CLIENT_TIMED_OUT;
        return 0;
    }
    if (c->state != SOCKIT_GAME_CLIENT_CONNECTED)
        return handshake(c, now, buf, cap);
    return play(c, now, in, buf, cap);
}

/* Our INPUT SEQ reached the server: so did every input up to the tick it carried. */
static void input_acked(uint16_t seq, void *ud)
{
    struct sockit_game_client *c = ud;
    uint32_t t = c->carried[seq % INPUT_RING];

    if (t && (int32_t)(t - c->acked_tick) > 0)
        c->acked_tick = t;
}

/* The view of TICK if still held, else NULL. */
static const struct sockit_game_view *held(const struct sockit_game_client *c, uint32_t tick)
{
    const struct sockit_game_view *v = &c->views[tick % VIEW_RING];

    return v->tick == tick ? v : NULL;
}

static enum sockit_game_client_event snapshot(struct sockit_game_client *c, uint64_t now,
                                              const struct sockit_game_packet *p)
{
    const struct sockit_game_view *base = NULL;

    if (p->baseline && !(base = held(c, p->baseline))) {
        c->st.no_baseline++; /* not acknowledged either: the server moves on without it */
        return SOCKIT_GAME_EV_NONE;
    }
    if (sockit_game_snapshot_read(p->body, p->body_len, p->tick, base, &c->scratch) < 0) {
        c->st.dropped++;
        return SOCKIT_GAME_EV_NONE;
    }
    if (sockit_game_view_hash(&c->scratch) != p->hash) {
        c->st.mismatches++;
        return SOCKIT_GAME_EV_NONE;
    }
    if (!sockit_game_window_recv(&c->win, now, &p->acks, input_acked, c)) {
        c->st.dropped++; /* a duplicate */
        return SOCKIT_GAME_EV_NONE;
    }
    c->last_recv_ns = now;
    c->st.snapshots++;
    struct sockit_game_view *slot = &c->views[p->tick % VIEW_RING];
    if (slot->tick && (int32_t)(p->tick - slot->tick) < 0) {
        c->st.stale++;
        return SOCKIT_GAME_EV_NONE;
    }
    memcpy(slot, &c->scratch, sizeof(*slot));
    if (c->view->tick && (int32_t)(p->tick - c->view->tick) <= 0) {
        c->st.stale++; /* kept as a baseline, but the view is newer */
        return SOCKIT_GAME_EV_NONE;
    }
    c->view = slot;
    return SOCKIT_GAME_EV_SNAPSHOT;
}

/* Handshake replies: only to this attempt (its salt), in the state that expects them. */
static enum sockit_game_client_event reply(struct sockit_game_client *c, uint64_t now,
                                           const struct sockit_game_packet *p)
{
    if (p->salt != c->salt) {
        c->st.dropped++;
        return SOCKIT_GAME_EV_NONE;
    }
    if (p->type == SOCKIT_GAME_CHALLENGE && c->state == SOCKIT_GAME_CLIENT_CONNECTING) {
        c->state = SOCKIT_GAME_CLIENT_RESPONDING;
        c->time = p->time;
        memcpy(c->cookie, p->cookie, sizeof(c->cookie));
        c->last_sent_ns = 0; /* respond at the next update */
        c->last_recv_ns = now;
        return SOCKIT_GAME_EV_CHALLENGED;
    }
    if (p->type == SOCKIT_GAME_ACCEPT && c->state == SOCKIT_GAME_CLIENT_RESPONDING) {
        c->state = SOCKIT_GAME_CLIENT_CONNECTED;
        c->token = p->token;
        c->index = p->client_index;
        c->entity = p->entity;
        c->tick_rate = p->tick_rate;
        c->last_recv_ns = now;
        return SOCKIT_GAME_EV_ACCEPTED;
    }
    if (p->type == SOCKIT_GAME_DENY && c->state != SOCKIT_GAME_CLIENT_CONNECTED) {
        c->state = SOCKIT_GAME_CLIENT_DENIED;
        c->st.deny_reason = p->deny_reason;
        return SOCKIT_GAME_EV_DENIED;
    }
    return SOCKIT_GAME_EV_NONE; /* a repeat */
}

enum sockit_game_client_event sockit_game_client_receive(struct sockit_game_client *c, uint64_t now,
                                                         const uint8_t *data, size_t len)
{
    struct sockit_game_packet p;
    int type = sockit_game_read(data, len, &p);

    if (ended(c))
        return SOCKIT_GAME_EV_NONE;
    if (type < 0) {
        c->st.dropped++;
        return SOCKIT_GAME_EV_NONE;
    }
    if (type <= SOCKIT_GAME_DENY)
        return reply(c, now, &p);
    if (c->state != SOCKIT_GAME_CLIENT_CONNECTED || p.token != c->token ||
        type == SOCKIT_GAME_INPUT) {
        c->st.dropped++;
        return SOCKIT_GAME_EV_NONE;
    }
    switch (type) {
    case SOCKIT_GAME_SNAPSHOT: return snapshot(c, now, &p);
    case SOCKIT_GAME_DISCONNECT:
        c->state = SOCKIT_GAME_CLIENT_DISCONNECTED;
        return SOCKIT_GAME_EV_DISCONNECTED;
    default: /* KEEPALIVE */
        if (sockit_game_window_recv(&c->win, now, &p.acks, input_acked, c))
            c->last_recv_ns = now;
        return SOCKIT_GAME_EV_NONE;
    }
}

size_t sockit_game_client_disconnect(struct sockit_game_client *c, uint8_t *buf, size_t cap)
{
    struct sockit_game_packet p = { .type = SOCKIT_GAME_DISCONNECT, .token = c->token };
    bool connected = c->state == SOCKIT_GAME_CLIENT_CONNECTED;

    if (!ended(c))
        c->state = SOCKIT_GAME_CLIENT_CLOSED;
    return connected ? put(&p, buf, cap) : 0;
}

enum sockit_game_client_state sockit_game_client_state(const struct sockit_game_client *c)
{
    return c->state;
}

const struct sockit_game_view *sockit_game_client_view(const struct sockit_game_client *c)
{
    return c->view;
}

const struct sockit_game_window *sockit_game_client_window(const struct sockit_game_client *c)
{
    return &c->win;
}

uint16_t sockit_game_client_index(const struct sockit_game_client *c)
{
    return c->index;
}

uint16_t sockit_game_client_entity(const struct sockit_game_client *c)
{
    return c->entity;
}

uint16_t sockit_game_client_tick_rate(const struct sockit_game_client *c)
{
    return c->tick_rate;
}

void sockit_game_client_stats(const struct sockit_game_client *c,
                              struct sockit_game_client_stats *out)
{
    *out = c->st;
}
