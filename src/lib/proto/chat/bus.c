/* Rooms shared through Redis pub/sub (sockit_chat_redis_attach in sockit/chat.h). Each chat
 * process has a node id and two links: one subscribed to the channel of each room it has
 * members in, one that publishes. A publication is "NODE KIND JSON": 16 hex digits of the
 * node that said it, 'm' (a message, kept in the history) or 'n' (a join/leave notice), and
 * the JSON object its members got; a node drops its own (no echo) and delivers the rest to
 * its members. Redis sends each publication once to each subscribed connection, and the
 * publications of one connection in order: so every member gets every message once, and one
 * node's messages in the order it said them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "chat_internal.h"
#include "redis_link.h"

#define CHANNEL_PREFIX "sockit:chat:"
#define NODE_LEN       16

struct chat_bus {
    struct sockit_chat *chat;
    struct sockit_chat_redis where;
    char password[256];
    char node[NODE_LEN + 1];
    struct redis_link pub, sub;
};

static void say_log(struct sockit_chat *chat, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say_log(struct sockit_chat *chat, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!chat->o.on_log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    chat->o.on_log(line, chat->o.ud);
}

/* ---- subscribing ------------------------------------------------------------------------- */

/* A publication (or a subscribe confirmation) on the subscriber link. */
static void on_pubsub(redisAsyncContext *ac, void *r, void *privdata)
{
    struct chat_bus *bus = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, "message") != 0)
        return;
    const redisReply *channel = reply->element[1], *payload = reply->element[2];
    size_t plen = payload->len;
    if (channel->len <= strlen(CHANNEL_PREFIX) || plen < NODE_LEN + 2 ||
        memcmp(payload->str, bus->node, NODE_LEN) == 0) /* our own: no echo */
        return;
    struct chat_room *room = chat_room_lookup(bus->chat, channel->str + strlen(CHANNEL_PREFIX));
    char kind = payload->str[NODE_LEN];
    if (!room || (kind != 'm' && kind != 'n'))
        return;
    atomic_fetch_add(&bus->chat->relayed_in, 1);
    chat_deliver_remote(bus->chat, room, kind, payload->str + NODE_LEN + 1, plen - NODE_LEN - 1);
}

static void channel_of(const struct chat_room *room, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", CHANNEL_PREFIX, room->name);
}

static void subscribe(struct chat_bus *bus, struct chat_room *room, const char *verb)
{
    char channel[sizeof(CHANNEL_PREFIX) + SOCKIT_CHAT_ROOM_MAX + 1];
    const char *argv[] = { verb, channel };

    channel_of(room, channel, sizeof(channel));
    redis_link_command(&bus->sub, strcmp(verb, "SUBSCRIBE") == 0 ? on_pubsub : NULL, bus, 2, argv,
                       NULL);
}

void chat_bus_room_opened(struct sockit_chat *chat, struct chat_room *room)
{
    if (chat->bus)
        subscribe(chat->bus, room, "SUBSCRIBE");
}

void chat_bus_room_closed(struct sockit_chat *chat, struct chat_room *room)
{
    if (chat->bus)
        subscribe(chat->bus, room, "UNSUBSCRIBE");
}

static void resubscribe(struct sockit_chat *chat, struct chat_room *room, void *ud)
{
    (void)chat;
    subscribe(ud, room, "SUBSCRIBE");
}

/* ---- publishing -------------------------------------------------------------------------- */

bool chat_bus_publish(struct sockit_chat *chat, struct chat_room *room, char kind, const char *json,
                      size_t len)
{
    struct chat_bus *bus = chat->bus;
    char channel[sizeof(CHANNEL_PREFIX) + SOCKIT_CHAT_ROOM_MAX + 1];

    if (!bus)
        return true;
    char *payload = malloc(NODE_LEN + 1 + len);
    if (!payload)
        return false;
    memcpy(payload, bus->node, NODE_LEN);
    payload[NODE_LEN] = kind;
    memcpy(payload + NODE_LEN + 1, json, len);
    channel_of(room, channel, sizeof(channel));
    const char *argv[] = { "PUBLISH", channel, payload };
    const size_t argvlen[] = { 7, strlen(channel), NODE_LEN + 1 + len };
    int rc = redis_link_command(&bus->pub, NULL, NULL, 3, argv, argvlen);
    free(payload); /* hiredis formatted its own copy */
    if (rc < 0)
        return false;
    atomic_fetch_add(&chat->relayed_out, 1);
    return true;
}

/* ---- the links coming and going ---------------------------------------------------------- */

static void both_up(struct chat_bus *bus)
{
    atomic_store(&bus->chat->redis_up, bus->pub.up && bus->sub.up);
}

static void on_up(struct redis_link *l, void *ud)
{
    struct chat_bus *bus = ud;

    if (l == &bus->sub) {
        chat_room_each(bus->chat, resubscribe, bus);
        say_log(bus->chat, "redis: %s link up; %zu rooms subscribed", l->name, bus->chat->nrooms);
    } else {
        say_log(bus->chat, "redis: %s link up", l->name);
    }
    both_up(bus);
}

static void on_down(struct redis_link *l, const char *why, void *ud)
{
    struct chat_bus *bus = ud;

    say_log(bus->chat, "redis: %s link lost (%s): serving this node's members only, retrying",
            l->name, why);
    both_up(bus);
}

int sockit_chat_redis_attach(struct sockit_chat *chat, struct sockit_loop *loop,
                             const struct sockit_chat_redis *r)
{
    struct chat_bus *bus = calloc(1, sizeof(*bus));
    uint64_t id;

    if (!bus)
        return -ENOMEM;
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
        id = (uint64_t)(uintptr_t)bus ^ (uint64_t)getpid();
    snprintf(bus->node, sizeof(bus->node), "%016llx", (unsigned long long)id);
    bus->chat = chat;
    bus->where = *r;
    if (r->password) {
        snprintf(bus->password, sizeof(bus->password), "%s", r->password);
        bus->where.password = bus->password;
    }
    struct redis_link *links[2] = { &bus->pub, &bus->sub };
    const char *names[2] = { "publish", "subscribe" };
    for (int i = 0; i < 2; i++) {
        *links[i] = (struct redis_link){ .loop = loop,
                                         .where = &bus->where,
                                         .name = names[i],
                                         .on_up = on_up,
                                         .on_down = on_down,
                                         .ud = bus };
        redis_link_start(links[i]);
    }
    chat->bus = bus;
    return 0;
}

void chat_bus_free(struct chat_bus *bus)
{
    if (!bus)
        return;
    redis_link_stop(&bus->pub);
    redis_link_stop(&bus->sub);
    free(bus);
}
