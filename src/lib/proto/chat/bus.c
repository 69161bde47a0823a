/* Rooms shared through Redis pub/sub (sockit_chat_redis_attach in sockit/chat.h). Each chat
 * process has a node id and two links: one subscribed to the channel of each room it has
 * members in, one that publishes. A publication is "NODE KIND JSON": 16 hex digits of the
 * node that said it, 'm' (a message, kept in the history) or 'n' (a join/leave notice), and
 * the JSON object its members got; a node drops its own (no echo) and delivers the rest to
 * its members. Redis sends each publication once to each subscribed connection, and the
 * publications of one connection in order: so every member gets every message once, and one
 * node's messages in the order it said them.
 *
 * What a newcomer on any node must see lives in Redis too: the room's presence, a sorted set
 * of nicknames scored by when they expire (each node refreshes its members' every few
 * seconds, so a node that dies leaves no ghosts past PRESENCE_TTL_MS), and its history, a
 * list capped at the chat's history length. A join asks Redis first whether the nickname is
 * taken on another node. Without an up link the node decides alone, from what it holds. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "chat_internal.h"
#include "redis_link.h"

#define CHANNEL_PREFIX    "sockit:chat:"
#define NODE_LEN          16
#define PRESENCE_TTL_MS   10000 /* a member not refreshed this long is gone */
#define PRESENCE_EVERY_MS 3000  /* how often a node refreshes its members */
#define KEY_MAX           (sizeof(CHANNEL_PREFIX) + SOCKIT_CHAT_ROOM_MAX + 16)

struct chat_bus {
    struct sockit_chat *chat;
    struct sockit_chat_redis where;
    char password[256];
    char node[NODE_LEN + 1];
    struct redis_link pub, sub;
    struct sockit_timer refresh;
};

/* A join on its way through Redis (chat_bus_join). */
struct join_req {
    struct chat_bus *bus;
    struct chat_member *m; /* NULL once the member is gone */
    char **users;          /* the room's presence, read */
    size_t nusers;
    bool have_users;
};

/* ---- subscribing ------------------------------------------------------------------------- */

/* Whether P (LEN bytes) is one JSON object with a string "type", as the chat writes them. */
static bool typed_object(const char *p, size_t len)
{
    json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j) && json_is_string(json_object_get(j, "type"));

    json_decref(j);
    return ok;
}

/* Whether P (LEN bytes) is a publication of a node: 16 hex digits, 'm' or 'n', then one JSON
 * object with a string "type", no longer than a message this chat could have sent. Redis is
 * shared infrastructure: what reaches browsers from it is checked like what comes from them. */
static bool relay_valid(const struct chat_bus *bus, const char *p, size_t len)
{
    size_t max_text = bus->chat->o.max_text ? bus->chat->o.max_text : 4096;

    if (len > NODE_LEN + 1 + 6 * max_text + 512 || (p[NODE_LEN] != 'm' && p[NODE_LEN] != 'n'))
        return false;
    for (int i = 0; i < NODE_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return typed_object(p + NODE_LEN + 1, len - NODE_LEN - 1);
}

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
    if (channel->len <= strlen(CHANNEL_PREFIX) || payload->len < NODE_LEN + 2 ||
        memcmp(payload->str, bus->node, NODE_LEN) == 0) /* our own: no echo */
        return;
    struct chat_room *room = chat_room_lookup(bus->chat, channel->str + strlen(CHANNEL_PREFIX));
    if (!room)
        return;
    if (!relay_valid(bus, payload->str, payload->len)) {
        chat_log(bus->chat, "redis: %s: a publication that is not ours, dropped (%zu bytes)",
                 room->name, payload->len);
        return;
    }
    char kind = payload->str[NODE_LEN];
    atomic_fetch_add(&bus->chat->relayed_in, 1);
    chat_deliver_remote(bus->chat, room, kind, payload->str + NODE_LEN + 1,
                        payload->len - NODE_LEN - 1);
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

/* ---- presence and history ----------------------------------------------------------------- */

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void key_of(const struct chat_room *room, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s:%s", CHANNEL_PREFIX, room->name, what);
}

static void free_req(struct join_req *req)
{
    for (size_t i = 0; i < req->nusers; i++)
        free(req->users[i]);
    free(req->users);
    free(req);
}

/* The end of a join: to the chat, unless the member has gone. */
static void finish(struct join_req *req, bool taken, const struct chat_remote_view *v)
{
    struct chat_member *m = req->m;

    if (m) {
        m->join_req = NULL;
        chat_join_done(req->bus->chat, m, taken, v);
    }
    free_req(req);
}

static bool is_array(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY;
}

/* LRANGE history: the last step; the welcome can be written. */
static void on_history(redisAsyncContext *ac, void *r, void *privdata)
{
    struct join_req *req = privdata;
    const redisReply *reply = r;
    struct chat_remote_view v = { .have_users = req->have_users,
                                  .users = (const char *const *)req->users,
                                  .nusers = req->nusers };
    const char *hist[1000];
    size_t hist_len[1000];

    (void)ac;
    if (is_array(reply)) {
        v.have_history = true;
        for (size_t i = 0; i < reply->elements && v.nhistory < 1000; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING && /* Redis is shared: checked */
                typed_object(reply->element[i]->str, reply->element[i]->len)) {
                hist[v.nhistory] = reply->element[i]->str;
                hist_len[v.nhistory++] = reply->element[i]->len;
            }
        v.history = hist;
        v.history_len = hist_len;
    }
    finish(req, false, &v);
}

/* ZRANGEBYSCORE presence: who is in the room on every node. */
static void on_users(redisAsyncContext *ac, void *r, void *privdata)
{
    struct join_req *req = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (!is_array(reply) || !(req->users = calloc(reply->elements + 1, sizeof(char *))))
        return;
    req->have_users = true;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING &&
            (req->users[req->nusers] = strdup(reply->element[i]->str)))
            req->nusers++;
}

/* ZADD NX: 1 when the nickname was free on every node (and is now this member's), 0 when a
 * member of another node holds it (expired entries were removed just before). */
static void on_added(redisAsyncContext *ac, void *r, void *privdata)
{
    struct join_req *req = privdata;
    const redisReply *reply = r;
    char presence[KEY_MAX], history[KEY_MAX], now[24], last[24];

    (void)ac;
    if (!req->m || !reply || reply->type != REDIS_REPLY_INTEGER) { /* gone, or no Redis */
        finish(req, false, NULL);
        return;
    }
    if (reply->integer == 0) {
        finish(req, true, NULL);
        return;
    }
    struct chat_member *m = req->m;
    size_t cap = m->chat->o.history ? m->chat->o.history : 50;
    key_of(m->room, "presence", presence, sizeof(presence));
    key_of(m->room, "history", history, sizeof(history));
    snprintf(now, sizeof(now), "%llu", (unsigned long long)wall_ms());
    snprintf(last, sizeof(last), "-%zu", cap);
    const char *range[] = { "ZRANGEBYSCORE", presence, now, "+inf" };
    const char *lrange[] = { "LRANGE", history, last, "-1" };
    /* one connection answers in order: the last callback has the whole view */
    if (redis_link_command(&req->bus->pub, on_users, req, 4, range, NULL) < 0 ||
        redis_link_command(&req->bus->pub, on_history, req, 4, lrange, NULL) < 0)
        finish(req, false, NULL); /* down since: both fail, neither callback comes */
}

int chat_bus_join(struct sockit_chat *chat, struct chat_member *m)
{
    struct chat_bus *bus = chat->bus;
    char presence[KEY_MAX], now[24], expires[24];

    if (!bus || !bus->pub.up)
        return -ENOTCONN;
    struct join_req *req = calloc(1, sizeof(*req));
    if (!req)
        return -ENOMEM;
    req->bus = bus;
    req->m = m;
    key_of(m->room, "presence", presence, sizeof(presence));
    snprintf(now, sizeof(now), "(%llu", (unsigned long long)wall_ms());
    snprintf(expires, sizeof(expires), "%llu", (unsigned long long)wall_ms() + PRESENCE_TTL_MS);
    const char *trim[] = { "ZREMRANGEBYSCORE", presence, "-inf", now };
    const char *add[] = { "ZADD", presence, "NX", expires, m->nick };
    if (redis_link_command(&bus->pub, NULL, NULL, 4, trim, NULL) < 0 ||
        redis_link_command(&bus->pub, on_added, req, 5, add, NULL) < 0) {
        free(req);
        return -ENOTCONN;
    }
    m->join_req = req;
    return 0;
}

void chat_bus_cancel_join(struct chat_member *m)
{
    struct join_req *req = m->join_req;

    if (req)
        req->m = NULL; /* its callbacks still come, and free it */
    m->join_req = NULL;
}

void chat_bus_leave(struct sockit_chat *chat, struct chat_member *m)
{
    char presence[KEY_MAX];

    if (!chat->bus)
        return;
    key_of(m->room, "presence", presence, sizeof(presence));
    const char *argv[] = { "ZREM", presence, m->nick };
    redis_link_command(&chat->bus->pub, NULL, NULL, 3, argv, NULL);
}

/* Every few seconds: this node's joined members are still here; the expired are dropped. */
static void refresh_room(struct sockit_chat *chat, struct chat_room *room, void *ud)
{
    struct chat_bus *bus = ud;
    char presence[KEY_MAX], expires[24], now[24];
    const char **argv = malloc((2 + 2 * room->n) * sizeof(*argv));
    int argc = 2;

    (void)chat;
    if (!argv)
        return;
    key_of(room, "presence", presence, sizeof(presence));
    snprintf(expires, sizeof(expires), "%llu", (unsigned long long)wall_ms() + PRESENCE_TTL_MS);
    snprintf(now, sizeof(now), "(%llu", (unsigned long long)wall_ms());
    argv[0] = "ZADD";
    argv[1] = presence;
    for (size_t i = 0; i < room->n; i++)
        if (room->members[i]->joined) {
            argv[argc++] = expires;
            argv[argc++] = room->members[i]->nick;
        }
    if (argc > 2)
        redis_link_command(&bus->pub, NULL, NULL, argc, argv, NULL);
    free(argv);
    const char *trim[] = { "ZREMRANGEBYSCORE", presence, "-inf", now };
    redis_link_command(&bus->pub, NULL, NULL, 4, trim, NULL);
}

static void on_refresh(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct chat_bus *bus = data;

    (void)loop, (void)t;
    if (bus->pub.up)
        chat_room_each(bus->chat, refresh_room, bus);
}

/* A message into the room's history in Redis, capped at the chat's history length. */
static void remember(struct chat_bus *bus, struct chat_room *room, const char *json, size_t len)
{
    char history[KEY_MAX], first[24];
    size_t cap = bus->chat->o.history ? bus->chat->o.history : 50;

    key_of(room, "history", history, sizeof(history));
    snprintf(first, sizeof(first), "-%zu", cap);
    const char *push[] = { "RPUSH", history, json };
    const size_t push_len[] = { 5, strlen(history), len };
    const char *trim[] = { "LTRIM", history, first, "-1" };
    redis_link_command(&bus->pub, NULL, NULL, 3, push, push_len);
    redis_link_command(&bus->pub, NULL, NULL, 4, trim, NULL);
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
    if (kind == 'm')
        remember(bus, room, json, len);
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
        chat_log(bus->chat, "redis: %s link up; %zu rooms subscribed", l->name, bus->chat->nrooms);
    } else {
        chat_log(bus->chat, "redis: %s link up", l->name);
    }
    both_up(bus);
}

static void on_down(struct redis_link *l, const char *why, void *ud)
{
    struct chat_bus *bus = ud;

    chat_log(bus->chat, "redis: %s link lost (%s): serving this node's members only, retrying",
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
    sockit_timer_init(&bus->refresh, on_refresh, bus);
    sockit_timer_start(loop, &bus->refresh, PRESENCE_EVERY_MS * 1000000ull,
                       PRESENCE_EVERY_MS * 1000000ull);
    chat->bus = bus;
    return 0;
}

void chat_bus_free(struct chat_bus *bus)
{
    if (!bus)
        return;
    sockit_timer_stop(bus->pub.loop, &bus->refresh);
    redis_link_stop(&bus->pub);
    redis_link_stop(&bus->sub);
    free(bus);
}
