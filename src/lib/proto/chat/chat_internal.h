/* Internals of the chat (sockit/chat.h), shared by its files: rooms and their members, the
 * history ring, and the JSON both ways. Everything here runs on the chat's one loop thread,
 * except the stats counters (atomic). */
#ifndef SOCKIT_CHAT_INTERNAL_H
#define SOCKIT_CHAT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/chat.h"
#include "sockit/ws_server.h"

#define CHAT_BUCKETS   256 /* rooms hash table */
#define CHAT_MAX_ROOMS 10000

struct chat_room;

/* One connected client. */
struct chat_member {
    struct sockit_chat *chat;
    struct sockit_ws *ws;
    struct chat_room *room;
    size_t index; /* in room->members */
    bool joined;
    bool dropped;   /* closed for not reading: gone from the room at once */
    void *join_req; /* a join waiting for Redis (bus.c): the nickname is held meanwhile */
    char nick[SOCKIT_CHAT_NICK_MAX + 1];
    double tokens;        /* rate limit: messages it may send now */
    uint64_t refilled_ns; /* when tokens were last topped up */
    uint64_t warned_ns;   /* the last "rate-limited" error sent */
};

struct chat_room {
    char name[SOCKIT_CHAT_ROOM_MAX + 1];
    struct chat_room *next; /* in its hash bucket */
    struct chat_member **members;
    size_t n, cap;
    char **history; /* ring of JSON "message" objects, oldest at head */
    size_t *history_len;
    size_t head, count;
};

struct chat_bus;

struct sockit_chat {
    struct sockit_chat_options o;
    struct sockit_ws_server *ws;
    struct chat_room *buckets[CHAT_BUCKETS];
    size_t nrooms;
    struct chat_bus *bus; /* rooms shared through Redis (bus.c), or NULL */
    atomic_uint_fast64_t clients, rooms, joined, messages, deliveries, refused, dropped_slow;
    atomic_uint_fast64_t relayed_out, relayed_in, not_relayed, redis_up;
};

/* A line for the chat's log (its on_log option), printf-style; nothing without one. */
void chat_log(struct sockit_chat *chat, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- rooms (room.c) ---- */

/* The room named NAME, made if it does not exist yet. NULL: out of memory, or too many. */
struct chat_room *chat_room_get(struct sockit_chat *chat, const char *name);

/* Add M to ROOM / take it out (a room left empty is freed with its history). 0 or -ENOMEM. */
int chat_room_add(struct chat_room *room, struct chat_member *m);
void chat_room_remove(struct sockit_chat *chat, struct chat_member *m);

/* Free ROOM (empty) and its history. */
void chat_room_free(struct sockit_chat *chat, struct chat_room *room);

/* The room named NAME if it exists, else NULL. */
struct chat_room *chat_room_lookup(struct sockit_chat *chat, const char *name);

/* Every room, for F(CHAT, ROOM, UD). */
void chat_room_each(struct sockit_chat *chat,
                    void (*f)(struct sockit_chat *chat, struct chat_room *room, void *ud),
                    void *ud);

/* The member of ROOM with NICK, joined or joining, or NULL. */
struct chat_member *chat_room_find(const struct chat_room *room, const char *nick);

/* Keep the JSON message object JSON (LEN bytes, copied) as the newest of ROOM's history. */
void chat_room_remember(struct sockit_chat *chat, struct chat_room *room, const char *json,
                        size_t len);

/* ---- what other processes said (chat.c), and saying it to them (bus.c) ---- */

/* A message (KIND 'm': kept in the history) or a join/leave notice ('n') that another
 * process published for ROOM: to every joined member here. */
void chat_deliver_remote(struct sockit_chat *chat, struct chat_room *room, char kind,
                         const char *json, size_t len);

/* The room opened here (its first member) / closed (its last left): subscribe / unsubscribe. */
void chat_bus_room_opened(struct sockit_chat *chat, struct chat_room *room);
void chat_bus_room_closed(struct sockit_chat *chat, struct chat_room *room);

/* What Redis knows of a room for a newcomer: the members of every node, and the history.
 * A field's HAVE false: Redis did not say (link down): use this process's own. */
struct chat_remote_view {
    bool have_users, have_history;
    const char *const *users;
    size_t nusers;
    const char *const *history;
    const size_t *history_len;
    size_t nhistory;
};

/* Join M (its nickname set and free here) through Redis: is the nickname taken on another
 * node; if not, M joins the room's presence and the room's members and history are read.
 * Returns 0 when under way (chat_join_done follows, unless the member is gone first), or
 * -ENOTCONN without an up link (join locally). */
int chat_bus_join(struct sockit_chat *chat, struct chat_member *m);

/* M is going away: forget its pending join (no chat_join_done for it). */
void chat_bus_cancel_join(struct chat_member *m);

/* M (joined) left: out of the room's presence. */
void chat_bus_leave(struct sockit_chat *chat, struct chat_member *m);

/* The end of chat_bus_join: TAKEN (by a member of another node), or V for the welcome. */
void chat_join_done(struct sockit_chat *chat, struct chat_member *m, bool taken,
                    const struct chat_remote_view *v);

/* Publish JSON (KIND as above) for ROOM to the other processes (a message, also kept in the
 * room's history in Redis). True when it was handed to
 * an up link (or there is no bus); false when the link is down. */
bool chat_bus_publish(struct sockit_chat *chat, struct chat_room *room, char kind, const char *json,
                      size_t len);

void chat_bus_free(struct chat_bus *bus);

/* ---- JSON (json.c) ---- */

/* A growing output buffer; a failed append sets err and later appends do nothing. */
struct chat_json {
    char *p;
    size_t len, cap;
    int err;
};

void chat_json_raw(struct chat_json *j, const char *s, size_t len);
void chat_json_lit(struct chat_json *j, const char *s);             /* NUL-terminated, as is */
void chat_json_str(struct chat_json *j, const char *s, size_t len); /* quoted, escaped */
void chat_json_u64(struct chat_json *j, uint64_t v);
void chat_json_free(struct chat_json *j);

/* A client's message, parsed: TYPE and the one field that type has (nick or text), both
 * NUL-terminated copies owned by the caller (free with chat_msg_free). */
struct chat_msg {
    enum { CHAT_JOIN, CHAT_SAY } type;
    char *value;
    size_t len;
};

/* Parse DATA[0, LEN) (a text message: valid UTF-8) as a client message. Returns 0, or -1 with
 * a reason for the client in *WHY ("not a JSON object", "unknown type", ...). */
int chat_msg_parse(const uint8_t *data, size_t len, struct chat_msg *msg, const char **why);
void chat_msg_free(struct chat_msg *msg);

/* Whether NICK (LEN bytes of valid UTF-8) is a nickname: 1 to SOCKIT_CHAT_NICK_MAX bytes,
 * no control characters, no space at either end. */
bool chat_nick_valid(const char *nick, size_t len);

/* Whether PATH is a room name: "/" then up to 63 of [A-Za-z0-9._-/]. */
bool chat_room_name_valid(const char *path, size_t len);

#endif
