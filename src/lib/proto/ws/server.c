/* The WebSocket server's engine (sockit/ws_server.h): per connection, read the upgrade
 * request on the HTTP parser and answer it (101, or the refusal's status), then parse frames:
 * reassemble messages straight into one buffer (unmasked there by the parser: one copy),
 * answer pings and the close handshake, and refuse a framing error with its close code. One
 * deadline per connection covers the handshake, the idle ping and the close wait. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"
#include "sockit/error.h"
#include "sockit/server.h"

#define MS 1000000ull

static uint64_t opt_or(uint64_t v, uint64_t dflt)
{
    return v ? v : dflt;
}

/* ---- deadlines -------------------------------------------------------------------------- */

/* The next moment something must happen without input: the handshake's end, the close
 * wait's end, or the idle ping / idle close. 0: none. */
static uint64_t next_deadline(const struct sockit_ws *ws)
{
    const struct sockit_ws_server_options *o = &ws->srv->o;

    switch (ws->state) {
    case WS_HTTP: return ws->since ? ws->since + opt_or(o->handshake_timeout_ms, 10000) * MS : 0;
    case WS_CLOSING: return ws->since + opt_or(o->close_timeout_ms, 5000) * MS;
    case WS_OPEN: break;
    case WS_DONE: return 0;
    }
    uint64_t t = 0;
    if (o->ping_ms && !ws->pinged)
        t = ws->last_in + o->ping_ms * MS;
    if (o->idle_ms && (!t || ws->last_in + o->idle_ms * MS < t))
        t = ws->last_in + o->idle_ms * MS;
    return t;
}

void sockit__ws_arm(struct sockit_ws *ws)
{
    ws->io->deadline(ws->io->ctx, next_deadline(ws));
}

void sockit__ws_done(struct sockit_ws *ws)
{
    if (ws->state == WS_DONE)
        return;
    ws->state = WS_DONE;
    /* The last output goes before the close; the conn's lingering close also bounds a peer
     * that reads nothing (the slow client just dropped): it is closed regardless after
     * SOCKIT_CONN_LINGER_MS, and no more input reaches this engine. */
    ws->io->deadline(ws->io->ctx, 0);
    ws->io->finish(ws->io->ctx);
}

/* ---- the handshake ------------------------------------------------------------------------ */

static bool origin_allowed(const struct sockit_ws_server_options *o, struct sockit_http_str origin)
{
    if (!o->origins || !origin.len)
        return true;
    for (const char *const *p = o->origins; *p; p++) {
        if (sockit_http_str_eq(origin, *p))
            return true;
    }
    return false;
}

static bool path_is(struct sockit_http_str path, const char *want)
{
    return path.len == strlen(want) && memcmp(path.p, want, path.len) == 0;
}

/* Refuse an upgrade with CODE's status and close once that is sent. */
static void refuse(struct sockit_ws *ws, const struct sockit_http_request *req, int code)
{
    int status = sockit_ws_error_status(code);
    struct sockit_http_request r = *req;

    r.keep_alive = false; /* the answer says the connection ends: Connection: close */
    atomic_fetch_add(&ws->srv->refused, 1);
    sockit__ws_http_answer(ws, &r, status, "text/plain; charset=utf-8", sockit_strerror(code),
                           strlen(sockit_strerror(code)),
                           status == 426 ? "Sec-WebSocket-Version" : NULL, "13");
    sockit__ws_done(ws);
}

/* permessage-deflate, if the server allows it and the client offers it acceptably: the
 * state in WS->z, the answer in EXT. No memory: answered without. */
static void agree_deflate(struct sockit_ws *ws, const struct sockit_http_request *r, char *ext)
{
    const struct sockit_ws_server_options *o = &ws->srv->o;
    struct sockit_ws_deflate_params p;
    struct ws_z *z;

    if (!o->deflate || sockit_ws_deflate_negotiate(r, &o->deflate_options, &p, ext) != 1 ||
        !(z = calloc(1, sizeof(*z))))
        return;
    if (sockit_ws_deflate_new(&z->ctx, &p, true) < 0) {
        free(z);
        return;
    }
    sockit_buf_init(&z->out, SIZE_MAX);
    ws->z = z;
}

static void free_deflate(struct ws_z *z)
{
    if (!z)
        return;
    free(z->in);
    sockit_buf_free(&z->out);
    sockit_ws_deflate_free(z->ctx);
    free(z);
}

/* Queue the 101 for HS (and the extension agreed, in EXT). Returns whether it was queued. */
static bool switched(struct sockit_ws *ws, const struct sockit_http_request *r,
                     const struct sockit_ws_handshake *hs, char *ext)
{
    char buf[1024];
    struct sockit_http_head h;

    agree_deflate(ws, r, ext);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_ws_handshake_response(&h, hs);
    if (ws->z)
        sockit_http_head_field(&h, "Sec-WebSocket-Extensions",
                               (struct sockit_http_str){ ext, strlen(ext) });
    long n = sockit_http_head_end(&h);
    struct iovec iov = { buf, n > 0 ? (size_t)n : 0 };
    return n > 0 && ws->io->writev(ws->io->ctx, &iov, 1) >= 0;
}

static void upgrade(struct sockit_ws *ws, const struct sockit_http_request *r, uint64_t now)
{
    const struct sockit_ws_server_options *o = &ws->srv->o;
    struct sockit_ws_handshake hs;
    int rc = sockit_ws_handshake_check(r, o->protocols, &hs);

    if (rc == 0 && !origin_allowed(o, hs.origin))
        rc = -SOCKIT_EWS_ORIGIN;
    if (rc == 0 && o->path && !path_is(r->path, o->path)) {
        atomic_fetch_add(&ws->srv->refused, 1);
        sockit__ws_http_answer(ws, r, 404, "text/plain; charset=utf-8", "no such path\n", 13, NULL,
                               NULL);
        return;
    }
    if (rc < 0) {
        refuse(ws, r, rc);
        return;
    }
    char ext[SOCKIT_WS_DEFLATE_VALUE_MAX];
    if (!switched(ws, r, &hs, ext)) {
        sockit__ws_done(ws);
        return;
    }
    atomic_fetch_add(&ws->srv->handshakes, 1);
    sockit_ws_parser_init(&ws->parser,
                          &(struct sockit_ws_parser_options){ .server = true,
                                                              .allow_rsv1 = ws->z != NULL,
                                                              .max_message = o->max_message });
    ws->state = WS_OPEN;
    ws->last_in = now;
    ws->opened = true;
    struct sockit_addr peer;
    sockit_ws_peer(ws, &peer);
    struct sockit_ws_open_info info = { &peer,     ws->thread,  r->path,           r->query,
                                        hs.origin, hs.protocol, ws->z ? ext : NULL };
    if (o->on_open)
        ws->cud = o->on_open(ws, &info, o->ud);
    if (ws->state == WS_OPEN)
        sockit__ws_arm(ws);
}

/* A request that is not an upgrade: on_http answers it, or 426. A body is not read: the
 * answer closes the connection. */
static void plain(struct sockit_ws *ws, const struct sockit_http_request *r)
{
    const struct sockit_ws_server_options *o = &ws->srv->o;
    bool body = r->body != SOCKIT_HTTP_BODY_NONE &&
                !(r->body == SOCKIT_HTTP_BODY_LENGTH && r->content_length == 0);
    struct sockit_http_request req = *r;

    if (body)
        req.keep_alive = false;
    if (req.method != SOCKIT_HTTP_GET && req.method != SOCKIT_HTTP_HEAD) {
        sockit__ws_http_answer(ws, &req, req.method == SOCKIT_HTTP_OTHER ? 501 : 405,
                               "text/plain; charset=utf-8", "GET or HEAD only\n", 17, "Allow",
                               "GET, HEAD");
    } else if (o->on_http) {
        struct sockit_addr peer;
        sockit_ws_peer(ws, &peer);
        struct sockit_ws_http http = { &req, &peer, ws };
        o->on_http(&http, o->ud);
    } else {
        sockit__ws_http_answer(ws, &req, 426, "text/plain; charset=utf-8",
                               "this port speaks WebSocket\n", 27, "Upgrade", "websocket");
    }
    if (!req.keep_alive)
        sockit__ws_done(ws);
}

static long input_http(struct sockit_ws *ws, const uint8_t *data, size_t len, size_t seen,
                       uint64_t now)
{
    struct sockit_http_request r;
    long n = sockit_http_parse_request((const char *)data, len, seen, &r);

    if (n < 0) {
        struct sockit_http_request none = { .minor = 1 };
        sockit__ws_http_answer(ws, &none, sockit_http_error_status((int)n),
                               "text/plain; charset=utf-8", sockit_strerror((int)n),
                               strlen(sockit_strerror((int)n)), NULL, NULL);
        sockit__ws_done(ws);
        return (long)len;
    }
    if (n == 0) {
        if (!ws->since) {
            ws->since = now;
            sockit__ws_arm(ws);
        }
        return 0;
    }
    ws->since = 0;
    if (sockit_ws_is_upgrade(&r))
        upgrade(ws, &r, now);
    else
        plain(ws, &r);
    if (ws->state == WS_HTTP) { /* kept alive: the next request has the same time */
        ws->since = now;
        sockit__ws_arm(ws);
    }
    return n;
}

/* ---- frames ------------------------------------------------------------------------------- */

/* A framing error: send its close code, then close without waiting for an answer. After
 * our own close frame nothing more may be sent (RFC 6455 section 5.5.1): just close. */
static void fail(struct sockit_ws *ws, int err)
{
    int code = sockit_ws_error_close_code(err);

    ws->err = err;
    if (ws->state == WS_CLOSING) {
        sockit__ws_done(ws);
        return;
    }
    ws->code = code;
    sockit__ws_send_close(ws, (uint16_t)code, NULL, true);
}

/* Make room in the message buffer for the current frame's payload (the parser checked the
 * message's size against max_message at the frame's header). */
static int msg_room(struct sockit_ws *ws, uint64_t need)
{
    if (ws->msg_cap - ws->msg_len >= need)
        return 0;
    size_t cap = ws->msg_cap ? ws->msg_cap : 256;
    while (cap - ws->msg_len < need)
        cap *= 2;
    uint8_t *p = realloc(ws->msg, cap);
    if (!p)
        return -ENOMEM;
    ws->msg = p;
    ws->msg_cap = cap;
    return 0;
}

static void deliver(struct sockit_ws *ws)
{
    struct sockit_ws_server *s = ws->srv;

    atomic_fetch_add(&s->messages_in, 1);
    atomic_fetch_add(&s->bytes_in, ws->msg_len);
    if (ws->state == WS_OPEN && s->o.on_message)
        s->o.on_message(ws, ws->msg_op, ws->msg, ws->msg_len, ws->cud);
    /* An idle connection holds no message buffer (the chat's bar is 2 KB a connection): a
     * malloc per message costs far less than the message's system calls. */
    ws->msg_len = 0;
    free(ws->msg);
    ws->msg = NULL;
    ws->msg_cap = 0;
}

/* A compressed piece inflated onto the message; an inflated text is checked as it grows. */
static int inflate_piece(struct sockit_ws *ws, const struct sockit_ws_event *ev)
{
    struct sockit_buf b = {
        .data = ws->msg, .tail = ws->msg_len, .cap = ws->msg_cap, .limit = ws->parser.o.max_message
    };
    size_t before = ws->msg_len;
    int err = sockit_ws_inflate(ws->z->ctx, ev->payload, ev->len, ev->last, &b);

    ws->msg = b.data;
    ws->msg_len = b.tail;
    ws->msg_cap = b.cap;
    if (err)
        return err;
    if (ws->msg_op != SOCKIT_WS_TEXT)
        return 0;
    if (sockit_ws_utf8(&ws->z->utf8, ws->msg + before, ws->msg_len - before) < 0 ||
        (ev->last && ws->z->utf8 != SOCKIT_WS_UTF8_ACCEPT))
        return -SOCKIT_EWS_UTF8;
    return 0;
}

/* A piece of a data message: onto the message (inflated if compressed); whole, delivered. */
static void data_piece(struct sockit_ws *ws, const struct sockit_ws_event *ev)
{
    int err;

    if (ev->first) {
        ws->msg_op = ev->opcode;
        if (ws->z)
            ws->z->utf8 = SOCKIT_WS_UTF8_ACCEPT;
    }
    if (ev->compressed) {
        if ((err = inflate_piece(ws, ev)) < 0) {
            fail(ws, err);
            return;
        }
    } else {
        if (ev->len && ev->payload != ws->msg + ws->msg_len)
            memmove(ws->msg + ws->msg_len, ev->payload, ev->len);
        ws->msg_len += ev->len;
    }
    if (ev->last && ws->z) {
        free(ws->z->in); /* held for a compressed message only */
        ws->z->in = NULL;
    }
    if (ev->last) {
        deliver(ws);
    }
}

static void on_event(struct sockit_ws *ws, const struct sockit_ws_event *ev)
{
    switch (ev->kind) {
    case SOCKIT_WS_EV_NONE: break;
    case SOCKIT_WS_EV_DATA: data_piece(ws, ev); break;
    case SOCKIT_WS_EV_PING:
        if (ws->state == WS_OPEN && sockit__ws_room(ws, ev->len))
            sockit__ws_write_frame(ws, SOCKIT_WS_PONG, ev->payload, ev->len, false);
        break;
    case SOCKIT_WS_EV_PONG: break;
    case SOCKIT_WS_EV_CLOSE:
        ws->code = ev->close_code;
        if (ws->state == WS_CLOSING) { /* the answer to ours: the handshake is complete */
            sockit__ws_done(ws);
        } else {
            char reason[SOCKIT_WS_MAX_CONTROL + 1];
            memcpy(reason, ev->reason, ev->reason_len);
            reason[ev->reason_len] = '\0';
            sockit__ws_send_close(
                ws, ev->close_code == SOCKIT_WS_CLOSE_NO_STATUS ? 0 : ev->close_code, reason, true);
        }
        break;
    }
}

/* The parser's output for what comes next: the message buffer while a data frame's payload
 * is under way, else a control buffer on the stack (a control frame, or a data frame's
 * header): a control frame is taken whole and acted on in this call, so no connection keeps
 * 125 bytes for the pings it may one day get. */
static long input_frames(struct sockit_ws *ws, const uint8_t *data, size_t len, uint64_t now)
{
    struct sockit_ws_parser *p = &ws->parser;
    struct sockit_ws_event ev;
    uint8_t ctrl[SOCKIT_WS_MAX_CONTROL];
    uint8_t *out = ctrl;
    size_t cap = sizeof(ctrl);

    ws->last_in = now;
    ws->pinged = false;
    if (p->left > 0 && p->msg_compressed) { /* a piece for the inflater, not the message */
        if (!ws->z->in && !(ws->z->in = malloc(SOCKIT_WS_ZIN_CAP))) {
            fail(ws, -ENOMEM);
            return (long)len;
        }
        out = ws->z->in;
        cap = SOCKIT_WS_ZIN_CAP;
    } else if (p->left > 0) {
        uint64_t piece = p->left < len ? p->left : len;
        if (msg_room(ws, piece < SOCKIT_WS_MAX_CONTROL ? SOCKIT_WS_MAX_CONTROL : piece) < 0) {
            fail(ws, -ENOMEM);
            return (long)len;
        }
        out = ws->msg + ws->msg_len;
        cap = ws->msg_cap - ws->msg_len;
    }
    long n = sockit_ws_parse(p, data, len, out, cap, &ev);
    if (n < 0) {
        fail(ws, (int)n);
        return (long)len;
    }
    if (n > 0 && (ev.kind != SOCKIT_WS_EV_DATA || ev.len == 0 || out != ctrl || ev.compressed ||
                  msg_room(ws, ev.len) == 0))
        on_event(ws, &ev);
    else if (n > 0)
        fail(ws, -ENOMEM);
    return n;
}

/* ---- the engine --------------------------------------------------------------------------- */

static long engine_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                         const struct sockit_io *io)
{
    struct sockit_ws *ws = eng;
    long n = (long)len;

    ws->io = io;
    switch (ws->state) {
    case WS_HTTP: n = input_http(ws, data, len, seen, now); break;
    case WS_OPEN:
    case WS_CLOSING: n = input_frames(ws, data, len, now); break;
    case WS_DONE: break; /* after the end: ignored */
    }
    if (ws->state == WS_OPEN && n > 0)
        sockit__ws_arm(ws);
    return n;
}

/* A new connection: its upgrade request must be whole within handshake_timeout from now,
 * whether it sends a first byte or not. */
static int engine_start(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit_ws *ws = eng;

    ws->io = io;
    if (ws->state == WS_HTTP) {
        ws->since = now;
        sockit__ws_arm(ws);
    }
    return 0;
}

static int engine_timeout(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit_ws *ws = eng;
    const struct sockit_ws_server_options *o = &ws->srv->o;

    ws->io = io;
    switch (ws->state) {
    case WS_HTTP: /* the request did not come whole in time */
        if (ws->since) {
            struct sockit_http_request none = { .minor = 1 };
            sockit__ws_http_answer(ws, &none, 408, "text/plain; charset=utf-8", "request timeout\n",
                                   16, NULL, NULL);
            sockit__ws_done(ws);
        }
        return 0;
    case WS_CLOSING: /* no answer to our close */
        if (!ws->err)
            ws->err = -ETIMEDOUT;
        sockit__ws_done(ws);
        return 0;
    case WS_DONE: return 0; /* the conn's linger ends it */
    case WS_OPEN: break;
    }
    if (o->idle_ms && now >= ws->last_in + o->idle_ms * MS) {
        ws->err = -SOCKIT_EIDLE;
        ws->code = SOCKIT_WS_CLOSE_GOING_AWAY;
        sockit__ws_send_close(ws, SOCKIT_WS_CLOSE_GOING_AWAY, "idle", false);
        return 0;
    }
    if (o->ping_ms && !ws->pinged && now >= ws->last_in + o->ping_ms * MS) {
        ws->pinged = true;
        if (sockit__ws_room(ws, 0))
            sockit__ws_write_frame(ws, SOCKIT_WS_PING, NULL, 0, false);
    }
    if (ws->state == WS_OPEN)
        sockit__ws_arm(ws);
    return 0;
}

/* The client ended its side without a close frame (or after it): nothing more to read. */
static int engine_input_end(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit_ws *ws = eng;

    (void)now;
    ws->io = io;
    if (ws->state == WS_OPEN || ws->state == WS_CLOSING) {
        if (!ws->err) /* no close frame came: not a clean close (CLOSING keeps our code) */
            ws->err = -ECONNRESET;
        if (ws->state == WS_OPEN)
            ws->code = SOCKIT_WS_CLOSE_ABNORMAL;
    }
    io->finish(io->ctx);
    return 0;
}

static void engine_closed(void *eng, int err)
{
    struct sockit_ws *ws = eng;
    const struct sockit_ws_server_options *o = &ws->srv->o;

    if (ws == ws->srv->dead)
        return;
    if (ws->opened && o->on_close) {
        int code = ws->code ? ws->code : SOCKIT_WS_CLOSE_ABNORMAL;
        int why = ws->err ? ws->err : (ws->code ? 0 : (err ? err : -ECONNRESET));
        o->on_close(ws, code, why, ws->cud);
    }
    free(ws->msg);
    free_deflate(ws->z);
    free(ws->peer_long);
    free(ws);
}

static const struct sockit_engine_ops ws_engine = {
    .start = engine_start,
    .input = engine_input,
    .input_end = engine_input_end,
    .closed = engine_closed,
    .timeout = engine_timeout,
};

/* Keep PEER: inline when it fits, else a heap copy. */
static int keep_peer(struct sockit_ws *ws, const struct sockit_addr *peer)
{
    if (peer->len <= sizeof(ws->peer)) {
        memcpy(&ws->peer, &peer->u, peer->len);
        ws->peer_len = peer->len;
        return 0;
    }
    if (!(ws->peer_long = malloc(sizeof(*ws->peer_long))))
        return -ENOMEM;
    *ws->peer_long = *peer;
    return 0;
}

static void *on_open(const struct sockit_server_client *client, void *ud)
{
    struct sockit_ws_server *s = ud;
    struct sockit_ws *ws = calloc(1, sizeof(*ws));

    if (!ws) { /* closed at once, with the shared state that ignores everything */
        sockit_conn_close(client->conn);
        return s->dead;
    }
    ws->srv = s;
    ws->conn = client->conn;
    ws->loop = client->loop;
    ws->thread = client->thread;
    if (keep_peer(ws, client->peer) < 0) {
        free(ws);
        sockit_conn_close(client->conn);
        return s->dead;
    }
    return ws;
}

/* ---- the server --------------------------------------------------------------------------- */

void sockit_ws_server_handler(struct sockit_ws_server *ws, struct sockit_server_handler *h)
{
    (void)ws;
    *h = (struct sockit_server_handler){ .on_open = on_open, .engine = &ws_engine };
}

int sockit_ws_server_new(struct sockit_ws_server **out, const struct sockit_ws_server_options *o)
{
    if (o->max_message > (1ull << 40))
        return -EINVAL;
    struct sockit_ws_server *s = calloc(1, sizeof(*s));
    struct sockit_ws *dead = calloc(1, sizeof(*dead));
    if (!s || !dead) {
        free(s);
        free(dead);
        return -ENOMEM;
    }
    s->o = *o;
    s->dead = dead;
    dead->srv = s;
    dead->state = WS_DONE;
    *out = s;
    return 0;
}

void *sockit_ws_server_user_data(const struct sockit_ws_server *ws)
{
    return ws->o.ud;
}

void sockit_ws_server_stats(const struct sockit_ws_server *ws, struct sockit_ws_server_stats *out)
{
    struct sockit_ws_server *s = (struct sockit_ws_server *)ws;

    *out = (struct sockit_ws_server_stats){
        .handshakes = atomic_load(&s->handshakes),
        .refused = atomic_load(&s->refused),
        .messages_in = atomic_load(&s->messages_in),
        .messages_out = atomic_load(&s->messages_out),
        .bytes_in = atomic_load(&s->bytes_in),
        .bytes_out = atomic_load(&s->bytes_out),
        .dropped_slow = atomic_load(&s->dropped_slow),
    };
}

void sockit_ws_server_free(struct sockit_ws_server *ws)
{
    if (ws)
        free(ws->dead);
    free(ws);
}
