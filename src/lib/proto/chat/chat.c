/* The chat (sockit/chat.h) on the WebSocket server layer: a client connects to a room (its
 * URL path), joins with a nickname, then what it says goes to everyone in the room, built
 * once as a frame and queued by reference. Refusals (bad JSON, an unknown type, a taken
 * nickname, a message too long or too fast) are answered with an "error" message and cost
 * nothing else; binary frames are closed with 1003, a client that does not read with 1008. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_internal.h"
#include "sockit/clock.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/shared.h"

#define NS 1000000000ull

void chat_log(struct sockit_chat *chat, const char *fmt, ...)
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

static uint64_t wall_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- sending ------------------------------------------------------------------------------ */

static void send_json(struct chat_member *m, struct chat_json *j)
{
    if (!j->err)
        sockit_ws_send(m->ws, SOCKIT_WS_TEXT, j->p, j->len);
    chat_json_free(j);
}

static void send_error(struct chat_member *m, const char *code, const char *text)
{
    struct chat_json j = { 0 };

    chat_json_lit(&j, "{\"type\":\"error\",\"error\":");
    chat_json_str(&j, code, strlen(code));
    chat_json_lit(&j, ",\"text\":");
    chat_json_str(&j, text, strlen(text));
    chat_json_lit(&j, "}");
    send_json(m, &j);
}

static void notice(struct sockit_chat *chat, struct chat_member *m, const char *type);

/* Members the last broadcast dropped for not reading leave the room now, not when their
 * connection is finally gone (their close frame waits behind what they did not read). */
static void leave_dropped(struct sockit_chat *chat, struct chat_room *room)
{
    for (size_t i = 0; i < room->n; i++) {
        struct chat_member *m = room->members[i];
        if (m->dropped && m->joined) {
            m->joined = false;
            notice(chat, m, "leave");
            chat_bus_leave(chat, m);
        }
    }
}

/* Queue JSON, as one frame built once, to every joined member of ROOM. */
static void broadcast(struct sockit_chat *chat, struct chat_room *room, const struct chat_json *j)
{
    struct sockit_shared *frame;
    uint64_t n = 0;
    bool dropped = false;

    if (j->err || sockit_ws_frame_new(SOCKIT_WS_TEXT, j->p, j->len, &frame) < 0)
        return;
    for (size_t i = 0; i < room->n; i++) {
        struct chat_member *m = room->members[i];
        if (!m->joined)
            continue;
        int rc = sockit_ws_send_frame(m->ws, frame);
        if (rc == 0) {
            n++;
        } else if (rc == -ENOBUFS) {
            m->dropped = dropped = true;
            atomic_fetch_add(&chat->dropped_slow, 1);
            chat_log(chat, "%s %s: not reading, output queue full: closed (1008)", room->name,
                     m->nick);
        }
    }
    sockit_shared_unref(frame);
    atomic_fetch_add(&chat->deliveries, n);
    if (dropped)
        leave_dropped(chat, room);
}

/* {"type":"join"|"leave","nick":N,"time":T} to the room. */
static void notice(struct sockit_chat *chat, struct chat_member *m, const char *type)
{
    struct chat_json j = { 0 };

    chat_json_lit(&j, "{\"type\":\"");
    chat_json_lit(&j, type);
    chat_json_lit(&j, "\",\"nick\":");
    chat_json_str(&j, m->nick, strlen(m->nick));
    chat_json_lit(&j, ",\"time\":");
    chat_json_u64(&j, wall_ms());
    chat_json_lit(&j, "}");
    broadcast(chat, m->room, &j);
    if (!j.err)
        chat_bus_publish(chat, m->room, 'n', j.p, j.len);
    chat_json_free(&j);
}

/* {"type":"welcome","room":R,"nick":N,"users":[...],"history":[...]} to a newcomer: who is
 * there and the last messages, from Redis when V has them, else from this process. */
static void welcome(struct sockit_chat *chat, struct chat_member *m,
                    const struct chat_remote_view *v)
{
    struct chat_room *room = m->room;
    struct chat_json j = { 0 };
    size_t cap = chat->o.history ? chat->o.history : 50;
    bool first = true;

    chat_json_lit(&j, "{\"type\":\"welcome\",\"room\":");
    chat_json_str(&j, room->name, strlen(room->name));
    chat_json_lit(&j, ",\"nick\":");
    chat_json_str(&j, m->nick, strlen(m->nick));
    chat_json_lit(&j, ",\"users\":[");
    if (v && v->have_users) {
        for (size_t i = 0; i < v->nusers; i++, first = false) {
            chat_json_lit(&j, first ? "" : ",");
            chat_json_str(&j, v->users[i], strlen(v->users[i]));
        }
    } else {
        for (size_t i = 0; i < room->n; i++) {
            if (!room->members[i]->joined)
                continue;
            chat_json_lit(&j, first ? "" : ",");
            chat_json_str(&j, room->members[i]->nick, strlen(room->members[i]->nick));
            first = false;
        }
    }
    chat_json_lit(&j, "],\"history\":[");
    if (v && v->have_history) {
        for (size_t k = 0; k < v->nhistory; k++) {
            chat_json_lit(&j, k ? "," : "");
            chat_json_raw(&j, v->history[k], v->history_len[k]);
        }
    } else {
        for (size_t k = 0; k < room->count; k++) {
            size_t slot = (room->head + k) % cap;
            chat_json_lit(&j, k ? "," : "");
            chat_json_raw(&j, room->history[slot], room->history_len[slot]);
        }
    }
    chat_json_lit(&j, "]}");
    send_json(m, &j);
}

/* ---- what clients send ---------------------------------------------------------------------- */

static void join(struct sockit_chat *chat, struct chat_member *m, const struct chat_msg *msg)
{
    if (m->joined) {
        send_error(m, "joined", "already joined: one nickname per connection");
        return;
    }
    if (strlen(msg->value) != msg->len || !chat_nick_valid(msg->value, msg->len)) {
        send_error(m, "bad-nick",
                   "a nickname is 1 to 32 bytes, no control characters, no space at either end");
        return;
    }
    if (m->join_req)
        return; /* a join already on its way */
    if (chat_room_find(m->room, msg->value)) {
        send_error(m, "nick-taken", "that nickname is taken in this room");
        return;
    }
    memcpy(m->nick, msg->value, msg->len + 1);
    if (chat_bus_join(chat, m) < 0) /* no Redis: this process alone decides */
        chat_join_done(chat, m, false, NULL);
}

void chat_join_done(struct sockit_chat *chat, struct chat_member *m, bool taken,
                    const struct chat_remote_view *v)
{
    if (taken) {
        m->nick[0] = '\0';
        send_error(m, "nick-taken", "that nickname is taken in this room");
        return;
    }
    m->joined = true;
    atomic_fetch_add(&chat->joined, 1);
    welcome(chat, m, v);
    notice(chat, m, "join");
    chat_log(chat, "%s %s: joined", m->room->name, m->nick);
}

/* Token bucket: RATE per second, a burst of twice that. */
static bool within_rate(struct sockit_chat *chat, struct chat_member *m, uint64_t now)
{
    double rate = chat->o.rate ? chat->o.rate : 10;

    m->tokens += (double)(now - m->refilled_ns) / (double)NS * rate;
    if (m->tokens > 2 * rate)
        m->tokens = 2 * rate;
    m->refilled_ns = now;
    if (m->tokens < 1)
        return false;
    m->tokens -= 1;
    return true;
}

/* Why a member's message is refused: the error's code and its text (docs/chat-protocol.md). */
enum refusal { SAID_OK, NOT_JOINED, BAD_TEXT, RATE_LIMITED };

static const struct {
    const char *code, *text;
} refusals[] = {
    [NOT_JOINED] = { "not-joined", "join with a nickname first" },
    [BAD_TEXT] = { "bad-text", "a message is 1 to max-text bytes" },
    [RATE_LIMITED] = { "rate-limited", "too many messages: this one was dropped" },
};

static enum refusal refusal_of(struct sockit_chat *chat, struct chat_member *m,
                               const struct chat_msg *msg, uint64_t now)
{
    size_t max = chat->o.max_text ? chat->o.max_text : 4096;

    if (!m->joined)
        return NOT_JOINED;
    if (msg->len == 0 || msg->len > max)
        return BAD_TEXT;
    if (!within_rate(chat, m, now))
        return RATE_LIMITED;
    return SAID_OK;
}

static void say(struct sockit_chat *chat, struct chat_member *m, const struct chat_msg *msg)
{
    uint64_t now = sockit_clock_ns();
    enum refusal why = refusal_of(chat, m, msg, now);

    if (why != SAID_OK) {
        atomic_fetch_add(&chat->refused, 1);
        if (why == RATE_LIMITED) {
            if (now - m->warned_ns < NS)
                return; /* one warning a second is enough */
            m->warned_ns = now;
        }
        send_error(m, refusals[why].code, refusals[why].text);
        return;
    }
    struct chat_json j = { 0 };
    chat_json_lit(&j, "{\"type\":\"message\",\"nick\":");
    chat_json_str(&j, m->nick, strlen(m->nick));
    chat_json_lit(&j, ",\"text\":");
    chat_json_str(&j, msg->value, msg->len);
    chat_json_lit(&j, ",\"time\":");
    chat_json_u64(&j, wall_ms());
    chat_json_lit(&j, "}");
    if (!j.err) {
        atomic_fetch_add(&chat->messages, 1);
        broadcast(chat, m->room, &j);
        chat_room_remember(chat, m->room, j.p, j.len);
        if (!chat_bus_publish(chat, m->room, 'm', j.p, j.len)) {
            atomic_fetch_add(&chat->not_relayed, 1);
            send_error(m, "not-relayed",
                       "the link to the other chat servers is down: this message reached this "
                       "server's members only");
        }
    }
    chat_json_free(&j);
}

void chat_deliver_remote(struct sockit_chat *chat, struct chat_room *room, char kind,
                         const char *json, size_t len)
{
    const struct chat_json j = { .p = (char *)json, .len = len };

    broadcast(chat, room, &j);
    if (kind == 'm')
        chat_room_remember(chat, room, json, len);
}

/* ---- the WebSocket callbacks ------------------------------------------------------------------
 */

static void *on_open(struct sockit_ws *ws, const struct sockit_ws_open_info *info, void *ud)
{
    struct sockit_chat *chat = ud;
    char name[SOCKIT_CHAT_ROOM_MAX + 1];

    if (!chat_room_name_valid(info->path.p, info->path.len)) {
        sockit_ws_close(ws, SOCKIT_WS_CLOSE_POLICY, "bad room name");
        return NULL;
    }
    memcpy(name, info->path.p, info->path.len);
    name[info->path.len] = '\0';
    struct chat_member *m = calloc(1, sizeof(*m));
    struct chat_room *room = m ? chat_room_get(chat, name) : NULL;
    if (!room || chat_room_add(room, m) < 0) {
        if (room && room->n == 0)
            chat_room_free(chat, room);
        free(m);
        sockit_ws_close(ws, SOCKIT_WS_CLOSE_TRY_AGAIN, "server full");
        return NULL;
    }
    m->chat = chat;
    m->ws = ws;
    m->refilled_ns = sockit_clock_ns();
    m->tokens = 2.0 * (chat->o.rate ? chat->o.rate : 10);
    atomic_fetch_add(&chat->clients, 1);
    return m;
}

static void on_message(struct sockit_ws *ws, enum sockit_ws_opcode op, const uint8_t *data,
                       size_t len, void *cud)
{
    struct chat_member *m = cud;
    struct chat_msg msg = { 0 };
    const char *why;

    if (!m)
        return;
    if (op != SOCKIT_WS_TEXT) {
        sockit_ws_close(ws, SOCKIT_WS_CLOSE_UNSUPPORTED, "text messages only");
        return;
    }
    if (chat_msg_parse(data, len, &msg, &why) < 0) {
        atomic_fetch_add(&m->chat->refused, 1);
        send_error(m, "bad-message", why);
        return;
    }
    if (msg.type == CHAT_JOIN)
        join(m->chat, m, &msg);
    else
        say(m->chat, m, &msg);
    chat_msg_free(&msg);
}

static void on_close(struct sockit_ws *ws, int code, int err, void *cud)
{
    struct chat_member *m = cud;

    (void)ws;
    if (!m)
        return;
    struct sockit_chat *chat = m->chat;
    chat_bus_cancel_join(m);
    if (m->joined) {
        m->joined = false; /* not a recipient of its own leave */
        notice(chat, m, "leave");
        chat_bus_leave(chat, m);
    }
    if (m->nick[0])
        chat_log(chat, "%s %s: left (%d%s%s)", m->room->name, m->nick, code, err ? ": " : "",
                 err ? sockit_strerror(err) : "");
    chat_room_remove(chat, m);
    atomic_fetch_sub(&chat->clients, 1);
    free(m);
}

/* GET of a room's path: the page, whose script joins that room. */
static void on_http(struct sockit_ws_http *http, void *ud)
{
    struct sockit_chat *chat = ud;
    const struct sockit_http_request *r = http->req;

    if (chat->o.page && chat_room_name_valid(r->path.p, r->path.len))
        sockit_ws_http_respond(http, 200, "text/html; charset=utf-8", chat->o.page,
                               chat->o.page_len);
    else
        sockit_ws_http_respond(http, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

/* ---- the chat ------------------------------------------------------------------------------- */

int sockit_chat_new(struct sockit_chat **out, const struct sockit_chat_options *o)
{
    if (o->history > 1000 || o->max_text > (1u << 20) || o->rate > 100000)
        return -EINVAL;
    struct sockit_chat *chat = calloc(1, sizeof(*chat));
    if (!chat)
        return -ENOMEM;
    chat->o = *o;
    size_t max_text = o->max_text ? o->max_text : 4096;
    struct sockit_ws_server_options wo = {
        .origins = o->origins,
        /* a say message: the text, escaped at worst 6 to 1 by the client, and its JSON */
        .max_message = max_text * 6 + 256,
        .max_queue = o->max_queue ? o->max_queue : 256 * 1024,
        .ping_ms = o->ping_ms ? o->ping_ms : 30000,
        .idle_ms = o->idle_ms ? o->idle_ms : 120000,
        .on_open = on_open,
        .on_message = on_message,
        .on_close = on_close,
        .on_http = on_http,
        .ud = chat,
    };
    int rc = sockit_ws_server_new(&chat->ws, &wo);
    if (rc < 0) {
        free(chat);
        return rc;
    }
    *out = chat;
    return 0;
}

void *sockit_chat_handler(struct sockit_chat *chat, struct sockit_server_handler *h)
{
    sockit_ws_server_handler(chat->ws, h);
    return chat->ws;
}

struct sockit_chat *sockit_chat_of(void *ud)
{
    return sockit_ws_server_user_data(ud);
}

void *sockit_chat_user_data(const struct sockit_chat *chat)
{
    return chat->o.ud;
}

void sockit_chat_stats(const struct sockit_chat *chat, struct sockit_chat_stats *out)
{
    struct sockit_chat *c = (struct sockit_chat *)chat;

    *out = (struct sockit_chat_stats){
        .clients = atomic_load(&c->clients),
        .rooms = atomic_load(&c->rooms),
        .joined = atomic_load(&c->joined),
        .messages = atomic_load(&c->messages),
        .deliveries = atomic_load(&c->deliveries),
        .refused = atomic_load(&c->refused),
        .dropped_slow = atomic_load(&c->dropped_slow),
        .relayed_out = atomic_load(&c->relayed_out),
        .relayed_in = atomic_load(&c->relayed_in),
        .not_relayed = atomic_load(&c->not_relayed),
        .redis_up = atomic_load(&c->redis_up),
    };
}

void sockit_chat_redis_detach(struct sockit_chat *chat)
{
    chat_bus_free(chat->bus);
    chat->bus = NULL;
    atomic_store(&chat->redis_up, 0);
}

void sockit_chat_free(struct sockit_chat *chat)
{
    if (!chat)
        return;
    sockit_ws_server_free(chat->ws);
    free(chat);
}
