/* The game packets (sockit/game.h): a strict reader and a writer, big-endian fields. */
#include <errno.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/game.h"

/* ---- a byte cursor -------------------------------------------------------------------------- */

struct cur {
    const uint8_t *p;
    size_t len, at;
    bool short_;
};

static uint64_t get(struct cur *c, int n)
{
    uint64_t v = 0;

    if (c->at + (size_t)n > c->len) {
        c->short_ = true;
        c->at = c->len;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v = (v << 8) | c->p[c->at++];
    return v;
}

static const uint8_t *take(struct cur *c, size_t n)
{
    const uint8_t *p = c->p + c->at;

    if (c->at + n > c->len) {
        c->short_ = true;
        c->at = c->len;
        return NULL;
    }
    c->at += n;
    return p;
}

struct out {
    uint8_t *p;
    size_t cap, len;
    bool full;
};

static void put(struct out *o, uint64_t v, int n)
{
    if (o->len + (size_t)n > o->cap) {
        o->full = true;
        return;
    }
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        o->p[o->len + (size_t)i] = (uint8_t)v;
    o->len += (size_t)n;
}

static void put_bytes(struct out *o, const void *data, size_t n)
{
    if (o->len + n > o->cap) {
        o->full = true;
        return;
    }
    if (n)
        memcpy(o->p + o->len, data, n);
    o->len += n;
}

/* ---- reading -------------------------------------------------------------------------------- */

static void read_acks(struct cur *c, struct sockit_game_acks *a)
{
    a->seq = (uint16_t)get(c, 2);
    a->ack = (uint16_t)get(c, 2);
    a->ack_bits = (uint32_t)get(c, 4);
}

/* The rest of a request: zeros, and the whole at least SOCKIT_GAME_REQUEST_MIN bytes. */
static int padding(struct cur *c)
{
    if (c->len < SOCKIT_GAME_REQUEST_MIN)
        return -SOCKIT_EGAME_SHORT;
    for (; c->at < c->len; c->at++)
        if (c->p[c->at])
            return -SOCKIT_EGAME_LONG;
    return 0;
}

static int read_inputs(struct cur *c, struct sockit_game_packet *out)
{
    out->tick = (uint32_t)get(c, 4);
    out->ninputs = (uint8_t)get(c, 1);
    if (!c->short_ && (out->ninputs == 0 || out->ninputs > SOCKIT_GAME_MAX_INPUTS))
        return -SOCKIT_EGAME_RANGE;
    for (unsigned i = 0; i < out->ninputs && !c->short_; i++) {
        out->inputs[i].move_x = (int8_t)get(c, 1);
        out->inputs[i].move_y = (int8_t)get(c, 1);
        out->inputs[i].buttons = (uint8_t)get(c, 1);
        if (out->inputs[i].move_x == -128 || out->inputs[i].move_y == -128)
            return -SOCKIT_EGAME_RANGE;
    }
    return 0;
}

static int read_body(struct cur *c, struct sockit_game_packet *p)
{
    int rc = 0;
    uint32_t back;

    switch (p->type) {
    case SOCKIT_GAME_CONNECT:
        p->salt = get(c, 8);
        return c->short_ ? -SOCKIT_EGAME_SHORT : padding(c);
    case SOCKIT_GAME_CHALLENGE:
    case SOCKIT_GAME_RESPONSE:
        p->salt = get(c, 8);
        p->time = (uint32_t)get(c, 4);
        p->cookie = take(c, SOCKIT_GAME_COOKIE_LEN);
        if (p->type == SOCKIT_GAME_RESPONSE && !c->short_)
            return padding(c);
        break;
    case SOCKIT_GAME_ACCEPT:
        p->salt = get(c, 8);
        p->token = (uint32_t)get(c, 4);
        p->client_index = (uint16_t)get(c, 2);
        p->entity = (uint16_t)get(c, 2);
        p->tick_rate = (uint16_t)get(c, 2);
        if (!c->short_ &&
            (p->tick_rate == 0 || p->tick_rate > 1000 || p->entity > SOCKIT_GAME_MAX_ENTITY))
            return -SOCKIT_EGAME_RANGE;
        break;
    case SOCKIT_GAME_DENY:
        p->salt = get(c, 8);
        p->deny_reason = (uint8_t)get(c, 1);
        break;
    case SOCKIT_GAME_INPUT:
        p->token = (uint32_t)get(c, 4);
        read_acks(c, &p->acks);
        rc = read_inputs(c, p);
        break;
    case SOCKIT_GAME_SNAPSHOT:
        p->token = (uint32_t)get(c, 4);
        read_acks(c, &p->acks);
        p->tick = (uint32_t)get(c, 4);
        back = (uint32_t)get(c, 1); /* the baseline, as ticks back from this one; 0: none */
        p->baseline = back ? p->tick - back : 0;
        p->hash = (uint32_t)get(c, 4);
        if (!c->short_ && back && back >= p->tick) /* before tick 1 */
            return -SOCKIT_EGAME_RANGE;
        p->body = c->p + c->at;
        p->body_len = c->len - c->at;
        c->at = c->len;
        break;
    case SOCKIT_GAME_KEEPALIVE:
        p->token = (uint32_t)get(c, 4);
        read_acks(c, &p->acks);
        break;
    case SOCKIT_GAME_DISCONNECT: p->token = (uint32_t)get(c, 4); break;
    default: return -SOCKIT_EGAME_TYPE;
    }
    if (rc < 0)
        return rc;
    if (c->short_)
        return -SOCKIT_EGAME_SHORT;
    return c->at == c->len ? 0 : -SOCKIT_EGAME_LONG;
}

int sockit_game_read(const uint8_t *data, size_t len, struct sockit_game_packet *out)
{
    struct cur c = { data, len, 0, false };
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > SOCKIT_GAME_MAX_PACKET)
        return -SOCKIT_EGAME_LONG;
    if (len < SOCKIT_GAME_HEADER)
        return -SOCKIT_EGAME_SHORT;
    if (get(&c, 4) != SOCKIT_GAME_PROTOCOL_ID)
        return -SOCKIT_EGAME_PROTOCOL;
    if (get(&c, 1) != SOCKIT_GAME_VERSION)
        return -SOCKIT_EGAME_VERSION;
    out->type = (enum sockit_game_type)get(&c, 1);
    if ((rc = read_body(&c, out)) < 0)
        return rc;
    return (int)out->type;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void write_acks(struct out *o, const struct sockit_game_acks *a)
{
    put(o, a->seq, 2);
    put(o, a->ack, 2);
    put(o, a->ack_bits, 4);
}

static int write_body(struct out *o, const struct sockit_game_packet *p)
{
    static const uint8_t zero[SOCKIT_GAME_COOKIE_LEN];

    switch (p->type) {
    case SOCKIT_GAME_CONNECT: put(o, p->salt, 8); break;
    case SOCKIT_GAME_CHALLENGE:
    case SOCKIT_GAME_RESPONSE:
        put(o, p->salt, 8);
        put(o, p->time, 4);
        put_bytes(o, p->cookie ? p->cookie : zero, SOCKIT_GAME_COOKIE_LEN);
        break;
    case SOCKIT_GAME_ACCEPT:
        put(o, p->salt, 8);
        put(o, p->token, 4);
        put(o, p->client_index, 2);
        put(o, p->entity, 2);
        put(o, p->tick_rate, 2);
        break;
    case SOCKIT_GAME_DENY:
        put(o, p->salt, 8);
        put(o, p->deny_reason, 1);
        break;
    case SOCKIT_GAME_INPUT:
        if (p->ninputs == 0 || p->ninputs > SOCKIT_GAME_MAX_INPUTS)
            return -SOCKIT_EGAME_RANGE;
        put(o, p->token, 4);
        write_acks(o, &p->acks);
        put(o, p->tick, 4);
        put(o, p->ninputs, 1);
        for (unsigned i = 0; i < p->ninputs; i++) {
            put(o, (uint8_t)p->inputs[i].move_x, 1);
            put(o, (uint8_t)p->inputs[i].move_y, 1);
            put(o, p->inputs[i].buttons, 1);
        }
        break;
    case SOCKIT_GAME_SNAPSHOT:
        put(o, p->token, 4);
        write_acks(o, &p->acks);
        if (p->baseline && (p->baseline >= p->tick || p->tick - p->baseline > 255))
            return -SOCKIT_EGAME_RANGE;
        put(o, p->tick, 4);
        put(o, p->baseline ? p->tick - p->baseline : 0, 1);
        put(o, p->hash, 4);
        put_bytes(o, p->body, p->body_len);
        break;
    case SOCKIT_GAME_KEEPALIVE:
        put(o, p->token, 4);
        write_acks(o, &p->acks);
        break;
    case SOCKIT_GAME_DISCONNECT: put(o, p->token, 4); break;
    default: return -SOCKIT_EGAME_TYPE;
    }
    return 0;
}

int sockit_game_write(const struct sockit_game_packet *p, uint8_t *buf, size_t cap)
{
    struct out o = { buf, cap < SOCKIT_GAME_MAX_PACKET ? cap : SOCKIT_GAME_MAX_PACKET, 0, false };
    int rc;

    put(&o, SOCKIT_GAME_PROTOCOL_ID, 4);
    put(&o, SOCKIT_GAME_VERSION, 1);
    put(&o, (uint8_t)p->type, 1);
    if ((rc = write_body(&o, p)) < 0)
        return rc;
    if (p->type == SOCKIT_GAME_CONNECT || p->type == SOCKIT_GAME_RESPONSE)
        while (!o.full && o.len < SOCKIT_GAME_REQUEST_MIN)
            put(&o, 0, 1);
    if (o.full)
        return cap >= SOCKIT_GAME_MAX_PACKET ? -SOCKIT_EGAME_RANGE : -ENOSPC;
    return (int)o.len;
}
