/* The server's door (sockit/game.h): stateless challenges, slots only for valid cookies,
 * sessions recognised by address and token, silent clients expired. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sockit/error.h"
#include "sockit/game.h"
#include "sockit/rand.h"

#include "game_internal.h"

#define NS_PER_S 1000000000ull

static uint32_t next_token(struct sockit_game_server *s)
{
    uint32_t t = (uint32_t)sockit_rand_next(&s->rng);

    return t ? t : 1; /* 0 is no session */
}

int sockit_game_server_new(struct sockit_game_server **out,
                           const struct sockit_game_server_options *o)
{
    struct sockit_game_server_options d = o ? *o : (struct sockit_game_server_options){ 0 };
    struct sockit_game_server *s;

    if (!d.max_clients)
        d.max_clients = 64;
    if (!d.tick_rate)
        d.tick_rate = 30;
    if (!d.timeout_ms)
        d.timeout_ms = 2000;
    if (!d.view)
        d.view = 32;
    if (d.max_clients > 1000 || d.tick_rate > 1000 || d.view > SOCKIT_GAME_MAX_VIEW ||
        d.npcs + d.max_clients > SOCKIT_GAME_MAX_ENTITY + 1)
        return -EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->o = d;
    s->o.secret = NULL;
    s->slots = calloc(d.max_clients, sizeof(*s->slots));
    s->clients = calloc(d.max_clients, sizeof(*s->clients));
    s->pool = calloc((size_t)d.max_clients * GAME_SNAP_RING * d.view, sizeof(*s->pool));
    for (s->by_addr_size = 4; s->by_addr_size < 2u * d.max_clients; s->by_addr_size *= 2)
        ;
    s->by_addr = calloc(s->by_addr_size, sizeof(*s->by_addr));
    if (!s->slots || !s->clients || !s->pool || !s->by_addr) {
        sockit_game_server_free(s);
        return -ENOMEM;
    }
    for (size_t i = 0; i < d.max_clients; i++)
        for (size_t k = 0; k < GAME_SNAP_RING; k++)
            s->clients[i].sent[k].e = s->pool + (i * GAME_SNAP_RING + k) * d.view;
    s->rng = d.seed;
    sockit_game_world_init(&s->world, d.npcs, d.seed);
    if (o && o->secret) {
        memcpy(s->secret, o->secret, sizeof(s->secret));
    } else if (getrandom(s->secret, sizeof(s->secret), 0) != (ssize_t)sizeof(s->secret)) {
        int err = errno ? -errno : -EIO;
        sockit_game_server_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void sockit_game_server_free(struct sockit_game_server *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s->clients);
    free(s->pool);
    free(s->by_addr);
    free(s);
}

/* ---- slots by address: a hash table with linear probing ---------------------------------- */

static size_t addr_hash(const struct sockit_game_server *s, const struct sockit_addr *a)
{
    const uint8_t *p = (const uint8_t *)&a->u;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < a->len && i < sizeof(a->u); i++)
        h = (h ^ p[i]) * 16777619u;
    return h & (s->by_addr_size - 1);
}

static struct sockit_game_slot *slot_of(struct sockit_game_server *s,
                                        const struct sockit_addr *from)
{
    for (size_t k = addr_hash(s, from);; k = (k + 1) & (s->by_addr_size - 1)) {
        uint16_t v = s->by_addr[k];
        if (!v)
            return NULL;
        if (sockit_addr_equal(&s->slots[v - 1].addr, from))
            return &s->slots[v - 1];
    }
}

static void index_slot(struct sockit_game_server *s, uint16_t i)
{
    size_t k = addr_hash(s, &s->slots[i].addr);

    while (s->by_addr[k])
        k = (k + 1) & (s->by_addr_size - 1);
    s->by_addr[k] = (uint16_t)(i + 1);
}

/* Take slot I out of the table, moving back the entries that probed past it. */
static void unindex_slot(struct sockit_game_server *s, uint16_t i)
{
    size_t mask = s->by_addr_size - 1, k = addr_hash(s, &s->slots[i].addr);

    while (s->by_addr[k] != i + 1)
        k = (k + 1) & mask;
    s->by_addr[k] = 0;
    for (size_t j = (k + 1) & mask; s->by_addr[j]; j = (j + 1) & mask) {
        size_t home = addr_hash(s, &s->slots[s->by_addr[j] - 1].addr);
        /* J's entry may move to the hole at K when its home is not within (K, J] */
        if (((j - home) & mask) >= ((j - k) & mask)) {
            s->by_addr[k] = s->by_addr[j];
            s->by_addr[j] = 0;
            k = j;
        }
    }
}

/* Write P into REPLY, but never more bytes than the LEN that caused it. */
static size_t answer(struct sockit_game_server *s, const struct sockit_game_packet *p, size_t len,
                     uint8_t *reply, size_t cap)
{
    int n = sockit_game_write(p, reply, cap);

    if (n <= 0 || (size_t)n > len)
        return 0;
    s->st.bytes_out_handshake += (size_t)n;
    return (size_t)n;
}

static size_t challenge(struct sockit_game_server *s, uint64_t now, const struct sockit_addr *from,
                        const struct sockit_game_packet *in, size_t len, uint8_t *reply, size_t cap)
{
    uint8_t cookie[SOCKIT_GAME_COOKIE_LEN];
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CHALLENGE,
                                    .salt = in->salt,
                                    .time = (uint32_t)(now / NS_PER_S),
                                    .cookie = cookie };

    if (sockit_game_cookie(s->secret, from, in->salt, p.time, cookie) < 0)
        return 0;
    s->st.challenges++;
    return answer(s, &p, len, reply, cap);
}

static void tell(struct sockit_game_server *s, enum sockit_game_event_type type, uint16_t i,
                 uint64_t silent_ns)
{
    struct sockit_game_event ev = { .type = type,
                                    .index = i,
                                    .entity = s->slots[i].entity,
                                    .addr = &s->slots[i].addr,
                                    .silent_ns = silent_ns };

    if (s->o.on_event)
        s->o.on_event(&ev, s->o.ud);
}

/* A free slot for FROM with SALT and a new token, or NULL when full. */
static struct sockit_game_slot *take_slot(struct sockit_game_server *s,
                                          const struct sockit_addr *from, uint64_t salt)
{
    for (uint16_t i = 0; i < s->o.max_clients; i++)
        if (!s->slots[i].used) {
            s->slots[i] = (struct sockit_game_slot){
                .used = true, .addr = *from, .salt = salt, .token = next_token(s)
            };
            if (game_client_join(s, i) < 0) { /* the world is full */
                s->slots[i].used = false;
                return NULL;
            }
            index_slot(s, i);
            s->st.clients++;
            tell(s, SOCKIT_GAME_JOINED, i, 0);
            return &s->slots[i];
        }
    return NULL;
}

/* Free slot I, counting why in *COUNTER. */
static void free_slot(struct sockit_game_server *s, uint16_t i, uint64_t *counter)
{
    unindex_slot(s, i);
    game_client_leave(s, i);
    s->slots[i].used = false;
    s->st.clients--;
    if (counter)
        (*counter)++;
}

/* A response: a slot for a cookie that is this source's, or the slot it already has. */
static size_t accept_response(struct sockit_game_server *s, uint64_t now,
                              const struct sockit_addr *from, const struct sockit_game_packet *in,
                              size_t len, uint8_t *reply, size_t cap)
{
    struct sockit_game_packet p = { .type = SOCKIT_GAME_ACCEPT,
                                    .salt = in->salt,
                                    .tick_rate = s->o.tick_rate };
    struct sockit_game_slot *slot = slot_of(s, from);

    if (!sockit_game_cookie_valid(s->secret, from, in->salt, in->time, in->cookie,
                                  (uint32_t)(now / NS_PER_S), SOCKIT_GAME_COOKIE_AGE)) {
        s->st.bad_cookie++;
        return 0;
    }
    if (slot && slot->salt != in->salt) { /* a new attempt from the same place replaces it */
        tell(s, SOCKIT_GAME_LEFT, (uint16_t)(slot - s->slots), 0);
        free_slot(s, (uint16_t)(slot - s->slots), NULL);
        slot = NULL;
    }
    if (!slot)
        slot = take_slot(s, from, in->salt);
    if (!slot) {
        s->st.denied_full++;
        p.type = SOCKIT_GAME_DENY;
        p.deny_reason = SOCKIT_GAME_DENY_FULL;
        return answer(s, &p, len, reply, cap);
    }
    slot->last_recv_ns = now;
    p.token = slot->token;
    p.client_index = (uint16_t)(slot - s->slots);
    p.entity = slot->entity;
    s->st.accepts++;
    return answer(s, &p, len, reply, cap);
}

/* A session packet: only from a slot's address with its token. */
static void session(struct sockit_game_server *s, uint64_t now, const struct sockit_addr *from,
                    const struct sockit_game_packet *in)
{
    struct sockit_game_slot *slot = slot_of(s, from);

    if (!slot || slot->token != in->token) {
        s->st.unknown_source++;
        return;
    }
    slot->last_recv_ns = now;
    if (in->type == SOCKIT_GAME_DISCONNECT) {
        tell(s, SOCKIT_GAME_LEFT, (uint16_t)(slot - s->slots), 0);
        free_slot(s, (uint16_t)(slot - s->slots), &s->st.disconnects);
    } else
        game_client_packet(s, (uint16_t)(slot - s->slots), now, in);
}

size_t sockit_game_server_receive(struct sockit_game_server *s, uint64_t now,
                                  const struct sockit_addr *from, const uint8_t *data, size_t len,
                                  uint8_t *reply, size_t cap)
{
    struct sockit_game_packet in;
    int type = sockit_game_read(data, len, &in);

    if (type == -SOCKIT_EGAME_VERSION && len >= SOCKIT_GAME_REQUEST_MIN) {
        struct sockit_game_packet p = { .type = SOCKIT_GAME_DENY,
                                        .deny_reason = SOCKIT_GAME_DENY_VERSION };
        s->st.denied_version++; /* a padded request of another version hears why */
        s->st.bytes_in += len;
        return answer(s, &p, len, reply, cap);
    }
    if (type < 0) {
        s->st.malformed++;
        return 0;
    }
    switch (type) {
    case SOCKIT_GAME_CONNECT:
        s->st.bytes_in += len;
        return challenge(s, now, from, &in, len, reply, cap);
    case SOCKIT_GAME_RESPONSE:
        s->st.bytes_in += len;
        return accept_response(s, now, from, &in, len, reply, cap);
    case SOCKIT_GAME_INPUT:
    case SOCKIT_GAME_KEEPALIVE:
    case SOCKIT_GAME_DISCONNECT: session(s, now, from, &in); return 0;
    default: s->st.malformed++; return 0; /* a server's packet sent to the server */
    }
}

size_t sockit_game_server_expire(struct sockit_game_server *s, uint64_t now)
{
    size_t n = 0;
    uint64_t limit = (uint64_t)s->o.timeout_ms * 1000000ull;

    for (uint16_t i = 0; i < s->o.max_clients; i++)
        if (s->slots[i].used && now > s->slots[i].last_recv_ns &&
            now - s->slots[i].last_recv_ns > limit) { /* (a clock read before the last packet) */
            tell(s, SOCKIT_GAME_TIMED_OUT, i, now - s->slots[i].last_recv_ns);
            free_slot(s, i, &s->st.timeouts);
            n++;
        }
    return n;
}

const struct sockit_game_slot *sockit_game_server_slot(const struct sockit_game_server *s,
                                                       uint16_t i)
{
    return i < s->o.max_clients && s->slots[i].used ? &s->slots[i] : NULL;
}

void sockit_game_server_stats(const struct sockit_game_server *s,
                              struct sockit_game_server_stats *out)
{
    *out = s->st;
}

const struct sockit_game_world *sockit_game_server_world(const struct sockit_game_server *s)
{
    return &s->world;
}

void sockit_game_server_shutdown(struct sockit_game_server *s, sockit_game_send_fn *send, void *ud)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];

    for (uint16_t i = 0; i < s->o.max_clients; i++) {
        if (!s->slots[i].used)
            continue;
        struct sockit_game_packet p = { .type = SOCKIT_GAME_DISCONNECT,
                                        .token = s->slots[i].token };
        int n = sockit_game_write(&p, buf, sizeof(buf));
        for (int k = 0; k < 3 && n > 0; k++)
            send(&s->slots[i].addr, buf, (size_t)n, ud);
        free_slot(s, i, &s->st.disconnects);
    }
}
