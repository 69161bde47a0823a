/* sockit/ws_server.h — WebSocket connections on the server layer: each client starts as an
 * HTTP/1.1 request on the HTTP parser (sockit/http.h), is upgraded after the checks of
 * sockit/ws.h, then exchanges whole messages with the program through a few callbacks:
 *
 *     struct sockit_ws_server *ws;
 *     struct sockit_server_handler h;
 *     sockit_ws_server_new(&ws, &(struct sockit_ws_server_options){ .on_message = echo });
 *     sockit_ws_server_handler(ws, &h);
 *     sockit_server_new(&srv, &server_options, &h, ws);   (UD must be WS)
 *     sockit_server_run(srv);
 *
 * The layer answers pings, runs the close handshake (answering a close with the same code,
 * waiting close_timeout for the peer's after its own), refuses every framing error with its
 * close code, reassembles fragmented messages up to max_message, checks UTF-8, compresses
 * and inflates messages where permessage-deflate was agreed (deflate), keeps a
 * handshake deadline and an idle ping, and closes a client whose unsent output passes
 * max_queue (close 1008) rather than let it hold the others back. A request that is not an
 * upgrade goes to on_http (a page, a 404) or is answered 426. All callbacks of a connection
 * run on its loop's thread; a struct sockit_ws is valid from on_open until on_close returns. */
#ifndef SOCKIT_WS_SERVER_H
#define SOCKIT_WS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/http.h"
#include "sockit/ws.h"

struct sockit_server_handler;
struct sockit_shared;
struct sockit_ws_server;
struct sockit_ws; /* one upgraded connection */

/* What on_open learns of a new connection. Strings are valid during the call only. */
struct sockit_ws_open_info {
    const struct sockit_addr *peer;
    unsigned thread;               /* the server thread (loop) it runs on */
    struct sockit_http_str path;   /* the request's path, still percent-encoded */
    struct sockit_http_str query;  /* after '?', len 0 if none */
    struct sockit_http_str origin; /* len 0 if absent */
    const char *protocol;          /* the subprotocol chosen, or NULL */
    const char *extensions;        /* the Sec-WebSocket-Extensions answered (permessage-deflate
                                      and its parameters), or NULL */
};

/* A plain HTTP request on the WebSocket port (no upgrade), for on_http to answer. */
struct sockit_ws_http {
    const struct sockit_http_request *req;
    const struct sockit_addr *peer;
    struct sockit_ws *conn_; /* the layer's: not for the program */
};

struct sockit_ws_server_options {
    const char *path;              /* upgrade only requests for this path (the query aside);
                                      others get 404. NULL: any path */
    const char *const *protocols;  /* subprotocols spoken, NULL-terminated; NULL: none */
    const char *const *origins;    /* Origin values allowed (exact, ASCII case-insensitive),
                                      NULL-terminated; NULL: any. A request with another
                                      Origin is refused 403; one without Origin passes. */
    uint64_t max_message;          /* payload bytes of one message; 0: SOCKIT_WS_MAX_MESSAGE */
    size_t max_queue;              /* unsent output a client may hold before it is closed
                                      with 1008; 0: 1 MiB. A message is sent while less is
                                      queued, so the server's limits.stream.max_output (8 MiB
                                      by default) must hold max_queue plus the largest
                                      message sent, or sending that closes the client too */
    uint64_t handshake_timeout_ms; /* the upgrade request whole within; 0: 10 s */
    uint64_t ping_ms;              /* ping a client silent this long; 0: never */
    uint64_t idle_ms;              /* close (1001) a client silent this long, pings answered
                                      or not; 0: never */
    uint64_t close_timeout_ms;     /* after our close frame, wait this long for the peer's;
                                      0: 5 s */
    bool deflate;                  /* agree to permessage-deflate (RFC 7692) when a client
                                      offers it: its messages are inflated (max_message bounds
                                      the wire bytes and the inflated message both), ours
                                      compressed. Costs zlib memory per connection while
                                      context takeover lasts (sockit_ws_deflate_new) */
    struct sockit_ws_deflate_options deflate_options; /* what the server asks for: context
                                                         takeover, the window */
    size_t deflate_min; /* send messages under this many bytes uncompressed (a
                           few bytes grow when compressed); 0: compress all */

    /* A connection is open (the 101 is queued). Return its data (CUD of the calls below);
     * the connection may be sent to or closed at once. NULL callback: CUD is NULL. */
    void *(*on_open)(struct sockit_ws *ws, const struct sockit_ws_open_info *info, void *ud);
    /* A whole message: TEXT (valid UTF-8) or BINARY. DATA is valid during the call. */
    void (*on_message)(struct sockit_ws *ws, enum sockit_ws_opcode op, const uint8_t *data,
                       size_t len, void *cud);
    /* The connection is gone. CODE: the close code the peer sent (NO_STATUS if its close had
     * none), or the one we sent for an error (1002, 1007, 1008, 1009...), or ABNORMAL (1006)
     * when it dropped without a close; ERR: 0 after a clean close handshake, else why
     * (-SOCKIT_EWS_*, -SOCKIT_EIDLE, -ETIMEDOUT, -ECONNRESET...). */
    void (*on_close)(struct sockit_ws *ws, int code, int err, void *cud);
    /* A request without an upgrade: answer it with sockit_ws_http_respond. NULL: every such
     * request is answered 426 Upgrade Required. */
    void (*on_http)(struct sockit_ws_http *http, void *ud);
    void *ud;
};

/* Check the options and make the server. Returns 0 and *OUT, or -EINVAL, -ENOMEM. */
int sockit_ws_server_new(struct sockit_ws_server **out, const struct sockit_ws_server_options *o);

/* Fill H (engine mode) to serve WebSocket clients; the server layer's UD must be WS. */
void sockit_ws_server_handler(struct sockit_ws_server *ws, struct sockit_server_handler *h);

/* The UD of the options WS was made with (for the server layer's hooks, whose UD is WS). */
void *sockit_ws_server_user_data(const struct sockit_ws_server *ws);

/* Counters since new, over all threads. Any thread. */
struct sockit_ws_server_stats {
    uint64_t handshakes; /* connections upgraded */
    uint64_t refused;    /* upgrade requests refused (400, 403, 426) */
    uint64_t messages_in, messages_out;
    uint64_t bytes_in, bytes_out; /* message payload bytes */
    uint64_t dropped_slow;        /* clients closed for passing max_queue */
};
void sockit_ws_server_stats(const struct sockit_ws_server *ws, struct sockit_ws_server_stats *out);

/* Free WS once no server uses it. NULL is a no-op. */
void sockit_ws_server_free(struct sockit_ws_server *ws);

/* Answer a plain request HTTP with STATUS, TYPE and BODY (LEN bytes, copied; HEAD gets the
 * head only), keeping the connection alive if the request allows. Once per on_http call. */
void sockit_ws_http_respond(struct sockit_ws_http *http, int status, const char *type,
                            const void *body, size_t len);

/* ---- on an open connection (its loop's thread only) ---------------------------------------- */

/* Send one message (TEXT must be valid UTF-8: not checked here), compressed if the connection
 * agreed to permessage-deflate and it has deflate_min bytes or more. Returns 0, -EPIPE once
 * the connection is closing, or -ENOBUFS when it passed max_queue: it is then being closed
 * with 1008 (on_close follows); -ENOMEM if it could not be compressed (closed with 1011). */
int sockit_ws_send(struct sockit_ws *ws, enum sockit_ws_opcode op, const void *data, size_t len);

/* A whole server frame (header and payload: no mask) for one message, built once in a shared
 * buffer for sockit_ws_send_frame to many connections. Never compressed: a compressed frame
 * depends on each connection's compression context, and an uncompressed message is valid on
 * a permessage-deflate connection without touching that context. Returns 0 and *OUT with one
 * reference, or -ENOMEM. */
int sockit_ws_frame_new(enum sockit_ws_opcode op, const void *data, size_t len,
                        struct sockit_shared **out);

/* Queue a frame made by sockit_ws_frame_new without copying it (the connection takes its own
 * reference). Returns as sockit_ws_send. */
int sockit_ws_send_frame(struct sockit_ws *ws, struct sockit_shared *frame);

/* Start the close handshake with CODE (sockit_ws_close_code_valid) and REASON (UTF-8, cut to
 * 123 bytes; may be NULL). Nothing more is sent; messages that arrive meanwhile are dropped. */
void sockit_ws_close(struct sockit_ws *ws, uint16_t code, const char *reason);

/* Unsent output bytes of WS (what max_queue bounds). */
size_t sockit_ws_queued(const struct sockit_ws *ws);

/* The connection's peer address, into *OUT. */
void sockit_ws_peer(const struct sockit_ws *ws, struct sockit_addr *out);

/* An HTTP 503 answer (Retry-After: 1, Connection: close) for the server layer's full_reply:
 * what a client turned away at max_clients reads instead of a bare close. NUL-terminated. */
extern const char sockit_ws_busy_reply[];

/* ---- ws:// URLs --------------------------------------------------------------------------- */

#define SOCKIT_WS_PATH_MAX 1024

/* Parse "ws://HOST[:PORT][/PATH[?QUERY]]" (HOST as in a tcp:// endpoint, IPv6 in brackets;
 * PORT 80 when left out; PATH "/" when left out) into a tcp endpoint *EP and the request
 * target in PATH (NUL-terminated, visible ASCII, at most SOCKIT_WS_PATH_MAX bytes). Returns 0,
 * or -SOCKIT_ESCHEME (not ws://; wss:// is refused the same way: no TLS here),
 * -SOCKIT_EWS_URL for a bad path or a fragment, or the endpoint parser's code for the authority. */
int sockit_ws_url_parse(const char *text, struct sockit_endpoint *ep, char *path, size_t path_cap);

#ifdef __cplusplus
}
#endif

#endif
