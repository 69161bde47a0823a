/* Internals of the WebSocket server layer (sockit/ws_server.h), shared by its files. */
#ifndef SOCKIT_WS_SERVER_INTERNAL_H
#define SOCKIT_WS_SERVER_INTERNAL_H

#include <stdatomic.h>

#include "sockit/engine.h"
#include "sockit/ws_server.h"

struct sockit_ws_server {
    struct sockit_ws_server_options o;
    struct sockit_ws *dead; /* the state of a client that could not get its own (no memory) */
    atomic_uint_fast64_t handshakes, refused, messages_in, messages_out, bytes_in, bytes_out,
        dropped_slow;
};

enum ws_state {
    WS_HTTP,    /* reading the upgrade request (or plain requests) */
    WS_OPEN,    /* messages both ways */
    WS_CLOSING, /* our close frame is queued: waiting for the peer's */
    WS_DONE,    /* nothing more in or out: closing once the output is sent */
};

/* One client, from its first byte to its close. */
struct sockit_ws {
    struct sockit_ws_server *srv;
    struct sockit_conn *conn;
    struct sockit_loop *loop;
    unsigned thread;
    const struct sockit_io *io; /* the conn's; known from the first input on */
    /* The peer's address: inline when it fits (IPv4, IPv6, an unnamed unix client), else a
     * copy on the heap; an idle connection should not carry a 128-byte sockaddr_storage. */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    socklen_t peer_len;
    struct sockit_addr *peer_long;
    void *cud;
    enum ws_state state;
    bool opened;      /* on_open ran: on_close is owed */
    bool pinged;      /* a ping is out since the last input */
    int code, err;    /* for on_close */
    uint64_t since;   /* HTTP: the first byte of the request; CLOSING: our close */
    uint64_t last_in; /* loop time of the last input */
    struct sockit_ws_parser parser;
    uint8_t *msg; /* the message being reassembled */
    size_t msg_len, msg_cap;
    enum sockit_ws_opcode msg_op;
    struct ws_z *z; /* permessage-deflate, when agreed; NULL otherwise */
};

/* permessage-deflate state of one connection, allocated only when the extension is agreed:
 * the contexts, a compressed message's pieces on their way to the inflater (unmasked there;
 * held during the message only), the UTF-8 state of an inflated text, a message compressed on
 * its way out. */
struct ws_z {
    struct sockit_ws_deflate *ctx;
    uint8_t *in;
    uint32_t utf8;
    struct sockit_buf out;
};

#define SOCKIT_WS_ZIN_CAP  16384 /* a compressed piece, at most */
#define SOCKIT_WS_MSG_KEEP 4096  /* a buffer up to this size is kept for the next message */

/* Queue a frame of OP with the LEN bytes at DATA (one writev: header and payload), RSV1 set
 * when COMPRESSED. Returns as sockit_ws_send, without the queue check. */
int sockit__ws_write_frame(struct sockit_ws *ws, enum sockit_ws_opcode op, const void *data,
                           size_t len, bool compressed);

/* Whether WS may queue LEN more bytes; if not, close it with 1008 and count it. */
bool sockit__ws_room(struct sockit_ws *ws, size_t len);

/* Queue a close frame with CODE (0: none) and REASON (may be NULL), then enter CLOSING and
 * wait close_timeout for the peer's close; or, with AFTER_PEER (the peer's close came first, or
 * an error allows no answer), close once the output is sent. */
void sockit__ws_send_close(struct sockit_ws *ws, uint16_t code, const char *reason,
                           bool after_peer);

/* Nothing more in or out: close once the output is sent. */
void sockit__ws_done(struct sockit_ws *ws);

/* Arm the connection's one deadline for its state (handshake, idle ping, close wait). */
void sockit__ws_arm(struct sockit_ws *ws);

/* Answer a plain HTTP request of the upgrade port: STATUS with TYPE/BODY. KEEP: keep the
 * connection open for the next request. Extra head line FIELD/VALUE may be NULL. */
void sockit__ws_http_answer(struct sockit_ws *ws, const struct sockit_http_request *r, int status,
                            const char *type, const void *body, size_t len, const char *field,
                            const char *value);

#endif
