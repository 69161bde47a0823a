/* Anchor: a broadcast chat on libwebsockets (Debian's libwebsockets-dev), one service thread,
 * written the usual lws way: a room keeps a list of shared messages, each member a cursor into
 * it (its queue), and a member writes one message per LWS_CALLBACK_SERVER_WRITEABLE, asking
 * for the next callback while it has more. It speaks sockit's chat protocol
 * (docs/chat-protocol.md) so that bench/chat_load drives it like sockit chat: rooms by URL
 * path, join with a unique nickname (welcome with the users and the last 50 messages, a join
 * notice to the room), say (one message to every member, the sender included), a leave
 * notice when a member goes; client messages parsed with jansson. No rate limit and no bound
 * on a member's queue.
 * Usage: chat_lws PORT   (on 127.0.0.1) */
#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HISTORY  50
#define MAX_TEXT 4096
#define MAX_MSG  (MAX_TEXT * 6 + 256)
#define NICK_MAX 32
#define ROOM_MAX 64
#define BUCKETS  1024

/* A message to send: shared by the members of a room (pending: how many have still to
 * send it; seq: its place in the room), or one member's own (a welcome, an error; seq: the
 * room's last shared message then, which goes first if the member has it to send). */
struct msg {
    struct msg *next;
    unsigned pending;
    unsigned long long seq;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes for lws's frame header, then the payload */
};

struct member;

struct room {
    struct room *next; /* in its hash bucket */
    char name[ROOM_MAX + 1];
    unsigned sessions;       /* connections to this room, joined or not */
    struct member *members;  /* joined ones, doubly linked */
    unsigned nmembers;       /* joined */
    struct msg *head, *tail; /* shared messages some member has still to send */
    unsigned long long seq;  /* of the last shared message */
    char *history[HISTORY];  /* JSON "message" objects, a ring */
    size_t history_len[HISTORY], hist_head, hist_count;
};

/* lws's per-session data: one connection. */
struct member {
    struct lws *wsi;
    struct room *room;
    struct member *prev, *next; /* in room->members once joined */
    bool joined;
    char nick[NICK_MAX + 1];
    struct msg *cursor;         /* the next shared message to send, or NULL */
    struct msg *own, *own_tail; /* this member's own messages, sent first */
    unsigned char *rx;          /* a message arriving in pieces */
    size_t rx_len, rx_cap;
};

static struct room *rooms[BUCKETS];
static volatile sig_atomic_t interrupted;

/* ---- JSON out ---------------------------------------------------------------------------- */

struct out {
    char *p;
    size_t len, cap;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 256;
        if (!(o->p = realloc(o->p, o->cap)))
            abort();
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_lit(struct out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

/* S as a JSON string: quotes, backslashes and control characters escaped. */
static void out_str(struct out *o, const char *s, size_t n)
{
    size_t run = 0;

    out_raw(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[8];
        out_raw(o, s + run, i - run);
        snprintf(esc, sizeof(esc), c == '"' || c == '\\' ? "\\%c" : "\\u%04x", c);
        out_lit(o, esc);
        run = i + 1;
    }
    out_raw(o, s + run, n - run);
    out_raw(o, "\"", 1);
}

static void out_time(struct out *o)
{
    struct timespec t;
    char s[32];

    clock_gettime(CLOCK_REALTIME, &t);
    snprintf(s, sizeof(s), "%llu",
             (unsigned long long)t.tv_sec * 1000 + (unsigned long long)t.tv_nsec / 1000000);
    out_lit(o, s);
}

static struct msg *msg_new(const char *p, size_t len)
{
    struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);

    if (!m)
        abort();
    m->next = NULL;
    m->pending = 0;
    m->len = len;
    memcpy(m->buf + LWS_PRE, p, len);
    return m;
}

/* ---- rooms ------------------------------------------------------------------------------- */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % BUCKETS;
}

static struct room *room_get(const char *name)
{
    struct room **b = &rooms[hash(name)], *r;

    for (r = *b; r; r = r->next)
        if (!strcmp(r->name, name))
            return r;
    if (!(r = calloc(1, sizeof(*r))))
        abort();
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->next = *b;
    *b = r;
    return r;
}

static void room_put(struct room *r)
{
    if (--r->sessions)
        return;
    for (struct room **p = &rooms[hash(r->name)]; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    for (size_t i = 0; i < r->hist_count; i++)
        free(r->history[(r->hist_head + i) % HISTORY]);
    free(r);
}

/* "/" then up to 63 of letters, digits and . _ - / */
static bool room_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > ROOM_MAX || s[0] != '/')
        return false;
    return strspn(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") ==
           n - 1;
}

static void remember(struct room *r, const char *json, size_t len)
{
    size_t slot = (r->hist_head + r->hist_count) % HISTORY;
    char *copy = malloc(len);

    if (!copy)
        abort();
    memcpy(copy, json, len);
    if (r->hist_count == HISTORY) {
        free(r->history[r->hist_head]);
        r->hist_head = (r->hist_head + 1) % HISTORY;
    } else {
        r->hist_count++;
    }
    r->history[slot] = copy;
    r->history_len[slot] = len;
}

/* Free the shared messages at the head of R that every member has sent. */
static void room_trim(struct room *r)
{
    while (r->head && r->head->pending == 0) {
        struct msg *m = r->head;
        r->head = m->next;
        free(m);
    }
    if (!r->head)
        r->tail = NULL;
}

/* ---- sending ----------------------------------------------------------------------------- */

static bool has_output(const struct member *mb)
{
    return mb->own || mb->cursor;
}

/* Queue JSON to every joined member of R, as one shared message. */
static void broadcast(struct room *r, const struct out *json)
{
    if (!r->nmembers)
        return;
    struct msg *m = msg_new(json->p, json->len);
    m->pending = r->nmembers;
    m->seq = ++r->seq;
    if (r->tail)
        r->tail->next = m;
    else
        r->head = m;
    r->tail = m;
    for (struct member *mb = r->members; mb; mb = mb->next) {
        bool idle = !has_output(mb); /* else a writeable callback is asked for already */
        if (!mb->cursor)
            mb->cursor = m; /* a member with a cursor reaches M down the list */
        if (idle)
            lws_callback_on_writable(mb->wsi);
    }
}

static void send_own(struct member *mb, const struct out *json)
{
    struct msg *m = msg_new(json->p, json->len);
    bool idle = !has_output(mb);

    m->seq = mb->room->seq;
    if (mb->own_tail)
        mb->own_tail->next = m;
    else
        mb->own = m;
    mb->own_tail = m;
    if (idle)
        lws_callback_on_writable(mb->wsi);
}

static void send_error(struct member *mb, const char *code, const char *text)
{
    struct out o = { 0 };

    out_lit(&o, "{\"type\":\"error\",\"error\":\"");
    out_lit(&o, code);
    out_lit(&o, "\",\"text\":");
    out_str(&o, text, strlen(text));
    out_lit(&o, "}");
    send_own(mb, &o);
    free(o.p);
}

/* The next message for MB: its own first, unless shared ones queued before it wait. */
static struct msg *next_out(const struct member *mb)
{
    unsigned long long done = mb->cursor ? mb->cursor->seq - 1 : mb->room->seq;

    return mb->own && mb->own->seq <= done ? mb->own : mb->cursor;
}

/* One message per writeable callback (lws's rule). */
static int on_writeable(struct member *mb)
{
    struct msg *m = next_out(mb);

    if (!m)
        return 0;
    if (lws_write(mb->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
        return -1;
    if (m == mb->own) {
        if (!(mb->own = m->next))
            mb->own_tail = NULL;
        free(m);
    } else {
        mb->cursor = m->next;
        m->pending--;
        room_trim(mb->room);
    }
    if (has_output(mb))
        lws_callback_on_writable(mb->wsi);
    return 0;
}

/* ---- the protocol ------------------------------------------------------------------------ */

/* {"type":"join"|"leave","nick":N,"time":T} to the room. */
static void notice(struct member *mb, const char *type)
{
    struct out o = { 0 };

    out_lit(&o, "{\"type\":\"");
    out_lit(&o, type);
    out_lit(&o, "\",\"nick\":");
    out_str(&o, mb->nick, strlen(mb->nick));
    out_lit(&o, ",\"time\":");
    out_time(&o);
    out_lit(&o, "}");
    broadcast(mb->room, &o);
    free(o.p);
}

static void welcome(struct member *mb)
{
    struct room *r = mb->room;
    struct out o = { 0 };

    out_lit(&o, "{\"type\":\"welcome\",\"room\":");
    out_str(&o, r->name, strlen(r->name));
    out_lit(&o, ",\"nick\":");
    out_str(&o, mb->nick, strlen(mb->nick));
    out_lit(&o, ",\"users\":[");
    for (struct member *m = r->members; m; m = m->next) {
        out_str(&o, m->nick, strlen(m->nick));
        out_lit(&o, m->next ? "," : "");
    }
    out_lit(&o, "],\"history\":[");
    for (size_t i = 0; i < r->hist_count; i++) {
        size_t slot = (r->hist_head + i) % HISTORY;
        out_raw(&o, r->history[slot], r->history_len[slot]);
        out_lit(&o, i + 1 < r->hist_count ? "," : "");
    }
    out_lit(&o, "]}");
    send_own(mb, &o);
    free(o.p);
}

/* 1 to 32 bytes (valid UTF-8: jansson checked), no control characters, no space at either
 * end. */
static bool nick_valid(const char *s, size_t n)
{
    if (n < 1 || n > NICK_MAX || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
            return false;
    }
    return true;
}

static bool nick_taken(const struct room *r, const char *nick)
{
    for (const struct member *m = r->members; m; m = m->next)
        if (!strcmp(m->nick, nick))
            return true;
    return false;
}

static void join(struct member *mb, const char *nick, size_t n)
{
    struct room *r = mb->room;

    if (mb->joined)
        return send_error(mb, "joined", "you have joined already");
    if (!nick_valid(nick, n))
        return send_error(mb, "bad-nick", "a nickname is 1 to 32 bytes, no control characters");
    if (nick_taken(r, nick))
        return send_error(mb, "nick-taken", "this nickname is taken in this room");
    memcpy(mb->nick, nick, n + 1);
    mb->joined = true;
    mb->next = r->members; /* newest first, like a stack: users order is not specified */
    if (r->members)
        r->members->prev = mb;
    r->members = mb;
    r->nmembers++;
    welcome(mb);
    notice(mb, "join");
}

static void say(struct member *mb, const char *text, size_t n)
{
    struct out o = { 0 };

    if (!mb->joined)
        return send_error(mb, "not-joined", "join first");
    if (n < 1 || n > MAX_TEXT)
        return send_error(mb, "bad-text", "a message is 1 to 4096 bytes");
    out_lit(&o, "{\"type\":\"message\",\"nick\":");
    out_str(&o, mb->nick, strlen(mb->nick));
    out_lit(&o, ",\"text\":");
    out_str(&o, text, n);
    out_lit(&o, ",\"time\":");
    out_time(&o);
    out_lit(&o, "}");
    remember(mb->room, o.p, o.len);
    broadcast(mb->room, &o);
    free(o.p);
}

/* A client message: an object of exactly two keys, "type" and its one string field. */
static void on_message(struct member *mb, const void *p, size_t len)
{
    json_t *root = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *nick = json_object_get(root, "nick"), *text = json_object_get(root, "text");

    if (!json_is_object(root) || json_object_size(root) != 2 || !type)
        send_error(mb, "bad-message", "not a join or say message");
    else if (!strcmp(type, "join") && json_is_string(nick))
        join(mb, json_string_value(nick), json_string_length(nick));
    else if (!strcmp(type, "say") && json_is_string(text))
        say(mb, json_string_value(text), json_string_length(text));
    else
        send_error(mb, "bad-message", "not a join or say message");
    json_decref(root);
}

/* A piece of a message: whole ones are handled in place, others gathered first. */
static int on_receive(struct member *mb, const void *in, size_t len)
{
    bool last = lws_is_final_fragment(mb->wsi) && !lws_remaining_packet_payload(mb->wsi);

    if (lws_frame_is_binary(mb->wsi)) {
        lws_close_reason(mb->wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, NULL, 0);
        return -1;
    }
    if (last && !mb->rx_len) {
        on_message(mb, in, len);
        return 0;
    }
    if (mb->rx_len + len > MAX_MSG) {
        lws_close_reason(mb->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (mb->rx_len + len > mb->rx_cap) {
        mb->rx_cap = (mb->rx_len + len) * 2;
        if (!(mb->rx = realloc(mb->rx, mb->rx_cap)))
            abort();
    }
    memcpy(mb->rx + mb->rx_len, in, len);
    mb->rx_len += len;
    if (last) {
        on_message(mb, mb->rx, mb->rx_len);
        mb->rx_len = 0;
    }
    return 0;
}

static int on_established(struct member *mb, struct lws *wsi)
{
    char uri[ROOM_MAX + 2];

    mb->wsi = wsi;
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || !room_name_valid(uri)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
        return -1;
    }
    mb->room = room_get(uri);
    mb->room->sessions++;
    return 0;
}

/* The connection is gone: out of the room, its share of the room's queue released. */
static void on_closed(struct member *mb)
{
    struct room *r = mb->room;

    if (!r)
        return;
    if (mb->joined) {
        for (struct msg *m = mb->cursor; m; m = m->next)
            m->pending--;
        room_trim(r);
        if (mb->prev)
            mb->prev->next = mb->next;
        else
            r->members = mb->next;
        if (mb->next)
            mb->next->prev = mb->prev;
        r->nmembers--;
        notice(mb, "leave");
    }
    while (mb->own) {
        struct msg *m = mb->own;
        mb->own = m->next;
        free(m);
    }
    free(mb->rx);
    room_put(r);
}

static int callback_chat(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct member *mb = user;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: return on_established(mb, wsi);
    case LWS_CALLBACK_RECEIVE: return on_receive(mb, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(mb);
    case LWS_CALLBACK_CLOSED: on_closed(mb); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    { "sockit-chat", callback_chat, sizeof(struct member), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    struct lws_context *ctx;
    int port = argc == 2 ? atoi(argv[1]) : 0;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: chat_lws PORT\n");
        return 2;
    }
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.count_threads = 1;
    if (!(ctx = lws_create_context(&info))) {
        fprintf(stderr, "chat_lws: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "chat_lws: listening on 127.0.0.1:%d\n", port);
    while (!interrupted && lws_service(ctx, 0) >= 0)
        ;
    lws_context_destroy(ctx);
    return 0;
}
