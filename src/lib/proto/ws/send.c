/* What a WebSocket server sends (sockit/ws_server.h): messages as one gather write of header
 * and payload (compressed first where permessage-deflate was agreed), broadcast frames built
 * once and queued by reference, the close handshake, the bound on a client's unsent output,
 * and plain HTTP answers on the upgrade port. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "server_internal.h"
#include "sockit/loop.h"
#include "sockit/shared.h"

#define MAX_QUEUE_DEFAULT (1u << 20)

int sockit__ws_write_frame(struct sockit_ws *ws, enum sockit_ws_opcode op, const void *data,
                           size_t len, bool compressed)
{
    uint8_t head[SOCKIT_WS_MAX_HEADER];
    struct iovec iov[2] = {
        { head, sockit_ws_frame_header(head, op, true, compressed, len, NULL) },
        { (void *)data, len },
    };

    return ws->io->writev(ws->io->ctx, iov, len ? 2 : 1);
}

size_t sockit_ws_queued(const struct sockit_ws *ws)
{
    return ws->conn ? sockit_stream_pending(sockit_conn_stream(ws->conn)) : 0;
}

/* Close a client that does not read what it is sent, so it holds nothing back: 1008. */
static void drop_slow(struct sockit_ws *ws)
{
    atomic_fetch_add(&ws->srv->dropped_slow, 1);
    ws->err = -ENOBUFS;
    ws->code = SOCKIT_WS_CLOSE_POLICY;
    sockit__ws_send_close(ws, SOCKIT_WS_CLOSE_POLICY, "too slow: output queue full", true);
}

bool sockit__ws_room(struct sockit_ws *ws, size_t len)
{
    size_t max = ws->srv->o.max_queue ? ws->srv->o.max_queue : MAX_QUEUE_DEFAULT;

    (void)len; /* one message may always follow what is queued: a 1 MiB echo passes 1 MiB */
    if (sockit_ws_queued(ws) <= max)
        return true;
    drop_slow(ws);
    return false;
}

/* A write the stream refused: past its own bound (a slow client too), or closing. */
static int refused(struct sockit_ws *ws, int rc)
{
    if (rc == -ENOBUFS)
        drop_slow(ws);
    return rc;
}

static void count_out(struct sockit_ws *ws, size_t len)
{
    atomic_fetch_add(&ws->srv->messages_out, 1);
    atomic_fetch_add(&ws->srv->bytes_out, len);
}

/* Whether a message of OP and LEN bytes goes compressed: permessage-deflate agreed, a data
 * message, not under deflate_min. */
static bool goes_compressed(const struct sockit_ws *ws, enum sockit_ws_opcode op, size_t len)
{
    return ws->z && (op == SOCKIT_WS_TEXT || op == SOCKIT_WS_BINARY) &&
           len >= ws->srv->o.deflate_min;
}

/* Compress and queue one message. A compressor that failed is out of step with the client's
 * inflater: the connection is closed with 1011. */
static int write_compressed(struct sockit_ws *ws, enum sockit_ws_opcode op, const void *data,
                            size_t len)
{
    struct sockit_buf *z = &ws->z->out;
    int rc = sockit_ws_deflate_message(ws->z->ctx, data, len, z);

    if (rc < 0) {
        ws->err = rc;
        ws->code = SOCKIT_WS_CLOSE_INTERNAL;
        sockit__ws_send_close(ws, SOCKIT_WS_CLOSE_INTERNAL, "compression failed", true);
        return rc;
    }
    rc = sockit__ws_write_frame(ws, op, z->data + z->head, sockit_buf_len(z), true);
    sockit_buf_consume(z, sockit_buf_len(z));
    if (z->cap > SOCKIT_WS_MSG_KEEP)
        sockit_buf_free(z);
    return rc;
}

int sockit_ws_send(struct sockit_ws *ws, enum sockit_ws_opcode op, const void *data, size_t len)
{
    if (ws->state != WS_OPEN)
        return -EPIPE;
    if (!sockit__ws_room(ws, len))
        return -ENOBUFS;
    int rc = goes_compressed(ws, op, len) ? write_compressed(ws, op, data, len)
                                          : sockit__ws_write_frame(ws, op, data, len, false);
    if (rc < 0)
        return refused(ws, rc);
    count_out(ws, len);
    return 0;
}

int sockit_ws_frame_new(enum sockit_ws_opcode op, const void *data, size_t len,
                        struct sockit_shared **out)
{
    uint8_t head[SOCKIT_WS_MAX_HEADER];
    size_t hl = sockit_ws_frame_header(head, op, true, false, len, NULL);
    int rc = sockit_shared_new(hl + len, out);

    if (rc < 0)
        return rc;
    uint8_t *p = sockit_shared_data(*out);
    memcpy(p, head, hl);
    if (len)
        memcpy(p + hl, data, len);
    return 0;
}

/* The payload length of a whole unmasked frame made by sockit_ws_frame_new. */
static size_t frame_payload(struct sockit_shared *frame)
{
    const uint8_t *p = sockit_shared_data(frame);
    size_t len = sockit_shared_len(frame);
    size_t hl = (p[1] & 0x7f) < 126 ? 2 : (p[1] & 0x7f) == 126 ? 4 : 10;

    return len - hl;
}

int sockit_ws_send_frame(struct sockit_ws *ws, struct sockit_shared *frame)
{
    size_t len = sockit_shared_len(frame);

    if (ws->state != WS_OPEN)
        return -EPIPE;
    if (!sockit__ws_room(ws, len))
        return -ENOBUFS;
    int rc = ws->io->write_shared(ws->io->ctx, frame, 0, len);
    if (rc < 0)
        return refused(ws, rc);
    count_out(ws, frame_payload(frame));
    return 0;
}

void sockit__ws_send_close(struct sockit_ws *ws, uint16_t code, const char *reason, bool after_peer)
{
    uint8_t payload[SOCKIT_WS_MAX_CONTROL];
    size_t len = code ? sockit_ws_close_payload(payload, code, reason ? reason : "",
                                                reason ? strlen(reason) : 0)
                      : 0;

    sockit__ws_write_frame(ws, SOCKIT_WS_CLOSE, payload, len, false); /* past the bound: dropped */
    if (after_peer) {
        sockit__ws_done(ws);
        return;
    }
    ws->state = WS_CLOSING;
    ws->since = sockit_loop_now(ws->loop);
    sockit__ws_arm(ws);
}

void sockit_ws_close(struct sockit_ws *ws, uint16_t code, const char *reason)
{
    if (ws->state != WS_OPEN)
        return;
    if (!sockit_ws_close_code_valid(code))
        code = SOCKIT_WS_CLOSE_NORMAL;
    ws->code = code;
    sockit__ws_send_close(ws, code, reason, false);
}

void sockit_ws_peer(const struct sockit_ws *ws, struct sockit_addr *out)
{
    if (ws->peer_long) {
        *out = *ws->peer_long;
        return;
    }
    memset(out, 0, sizeof(*out));
    out->len = ws->peer_len;
    memcpy(&out->u, &ws->peer, ws->peer_len);
}

/* ---- plain HTTP on the upgrade port ------------------------------------------------------- */

const char sockit_ws_busy_reply[] = "HTTP/1.1 503 Service Unavailable\r\nServer: sockit\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Length: 24\r\nRetry-After: 1\r\n"
                                    "Connection: close\r\n\r\n503 Service Unavailable\n";

static struct sockit_http_str str(const char *s)
{
    return (struct sockit_http_str){ s, strlen(s) };
}

void sockit__ws_http_answer(struct sockit_ws *ws, const struct sockit_http_request *r, int status,
                            const char *type, const void *body, size_t len, const char *field,
                            const char *value)
{
    char buf[1024];
    struct sockit_http_head h;

    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_status(&h, r->minor, status);
    sockit_http_head_field(&h, "Server", str("sockit"));
    if (!r->keep_alive)
        sockit_http_head_field(&h, "Connection", str("close"));
    else if (r->minor == 0)
        sockit_http_head_field(&h, "Connection", str("keep-alive"));
    if (field)
        sockit_http_head_field(&h, field, str(value));
    sockit_http_head_field(&h, "Content-Type", str(type));
    sockit_http_head_field_u64(&h, "Content-Length", len);
    long n = sockit_http_head_end(&h);
    bool head_only = r->method == SOCKIT_HTTP_HEAD;
    struct iovec iov[2] = { { buf, n > 0 ? (size_t)n : 0 }, { (void *)body, len } };
    if (n > 0)
        ws->io->writev(ws->io->ctx, iov, head_only || !len ? 1 : 2);
    if (n < 0 || !r->keep_alive)
        sockit__ws_done(ws);
}

void sockit_ws_http_respond(struct sockit_ws_http *http, int status, const char *type,
                            const void *body, size_t len)
{
    sockit__ws_http_answer(http->conn_, http->req, status, type, body, len, NULL, NULL);
}
