/* sockit/chat.h — a WebSocket chat on the server layer (sockit/ws_server.h): rooms by URL path,
 * nicknames unique per room, join and leave notices, the last messages for a newcomer, a
 * per-client rate limit and message-size limit, and backpressure (a client that does not
 * read what the room sends is closed with 1008, the room goes on). Each message is built once
 * as a whole frame in a shared buffer and queued by reference on every member's stream.
 *
 *     struct sockit_chat *chat;
 *     struct sockit_server_handler h;
 *     sockit_chat_new(&chat, &(struct sockit_chat_options){ .page = html, .page_len = n });
 *     void *ud = sockit_chat_handler(chat, &h);
 *     sockit_server_new(&srv, &server_options, &h, ud);   (one thread)
 *     sockit_server_run(srv);
 *
 * The wire format (JSON text messages) is docs/chat-protocol.md. Rooms live on one loop
 * thread: a chat server runs with threads = 1 (sockit_chat_handler's server must). */
#ifndef SOCKIT_CHAT_H
#define SOCKIT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/endpoint.h"
#include "sockit/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockit_chat;
struct sockit_server_handler;

#define SOCKIT_CHAT_NICK_MAX 32 /* bytes of a nickname */
#define SOCKIT_CHAT_ROOM_MAX 64 /* bytes of a room name (the URL path) */

struct sockit_chat_options {
    size_t history;             /* messages a newcomer gets; 0: 50 (at most 1000) */
    size_t max_text;            /* bytes of a message's text; 0: 4096 */
    unsigned rate;              /* messages per second a client may send; 0: 10 (burst: 2x) */
    size_t max_queue;           /* unsent bytes a client may hold before it is closed (1008);
                                   0: 256 KiB */
    uint64_t ping_ms;           /* ping a silent client; 0: 30 s */
    uint64_t idle_ms;           /* close a silent client (1001); 0: 120 s */
    const char *const *origins; /* Origins allowed (sockit_ws_server_options); NULL: any */
    const void *page;           /* the HTML page served for GET of any room path; NULL: 404 */
    size_t page_len;
    /* Called for each line of the server's log (joins, leaves, drops), on the loop thread.
     * May be NULL. */
    void (*on_log)(const char *line, void *ud);
    void *ud;
};

/* Make a chat. Returns 0 and *OUT, or -EINVAL for options out of range, -ENOMEM. */
int sockit_chat_new(struct sockit_chat **out, const struct sockit_chat_options *o);

/* Fill H (engine mode) to serve CHAT on a server with one thread. Returns the UD to make
 * that server with; hooks added to H (on_listening, on_reject) get it back, and
 * sockit_chat_of turns it into CHAT. */
void *sockit_chat_handler(struct sockit_chat *chat, struct sockit_server_handler *h);

/* The chat whose handler returned UD. */
struct sockit_chat *sockit_chat_of(void *ud);

/* The UD of the options CHAT was made with. */
void *sockit_chat_user_data(const struct sockit_chat *chat);

/* Counters since new. Any thread (atomic reads). */
struct sockit_chat_stats {
    uint64_t clients;      /* connected now (upgraded) */
    uint64_t rooms;        /* rooms with a member now */
    uint64_t joined;       /* joins since start */
    uint64_t messages;     /* messages accepted and broadcast */
    uint64_t deliveries;   /* message frames queued to members */
    uint64_t refused;      /* messages refused: rate limit, size, malformed, before join */
    uint64_t dropped_slow; /* clients closed for not reading (1008) */
    uint64_t relayed_out;  /* messages and notices published to other processes (Redis) */
    uint64_t relayed_in;   /* ... received from them and delivered here */
    uint64_t not_relayed;  /* messages said while the link was down: this process's only */
    uint64_t redis_up;     /* 1 while the Redis link is up (0 without Redis) */
};
void sockit_chat_stats(const struct sockit_chat *chat, struct sockit_chat_stats *out);

/* ---- rooms shared through Redis ---------------------------------------------------------- */

/* Where rooms are shared: a Redis server, by TCP or a unix socket, and its database. */
struct sockit_chat_redis {
    struct sockit_endpoint ep; /* tcp:// HOST and PORT, or a unix: path */
    unsigned db;
    const char *password; /* AUTH, or NULL; the caller's (e.g. from an environment variable) */
};

/* Parse redis://HOST[:PORT][/DB] (port 6379 by default; [v6] in brackets) or
 * unix:/PATH[?db=DB] into *OUT (password NULL). Returns 0, or -EINVAL with *WHY. */
int sockit_chat_redis_parse(const char *url, struct sockit_chat_redis *out, const char **why);

/* Check R once, blocking for at most TIMEOUT_MS each step: connect, AUTH (when a password is
 * set), SELECT, PING. Returns 0, or a negative code with what failed in WHY (CAP bytes), e.g.
 * "Connection refused" or "WRONGPASS invalid username-password pair". */
int sockit_chat_redis_check(const struct sockit_chat_redis *r, int timeout_ms, char *why,
                            size_t cap);

/* Share CHAT's rooms with every other chat process using R: from now on, on LOOP (the chat's
 * one loop thread; call on it, e.g. from the server's on_listening with one thread), each room
 * with members here is subscribed to, each message and join/leave notice is published once,
 * and what other processes publish reaches this process's members once (its own messages are
 * not echoed). A lost link is retried with back-off (100 ms to 5 s) and the rooms subscribed
 * again; meanwhile the chat serves its own members, and a message said here is answered with
 * the error "not-relayed". R is copied (the password too). Returns 0 or -ENOMEM. */
int sockit_chat_redis_attach(struct sockit_chat *chat, struct sockit_loop *loop,
                             const struct sockit_chat_redis *r);

/* Close the Redis links (on the loop's thread, before the loop is freed: e.g. once
 * sockit_server_run has returned, before sockit_server_free). No-op without them. */
void sockit_chat_redis_detach(struct sockit_chat *chat);

/* Free CHAT once its server is freed (and its Redis links detached). NULL is a no-op. */
void sockit_chat_free(struct sockit_chat *chat);

#ifdef __cplusplus
}
#endif

#endif
