/* The WebSocket echo (sockit echo ws://...): the library's WebSocket server layer
 * (sockit/ws_server.h) on the loop model; each whole message goes back with its opcode, a
 * close is answered with the same code. This file says what the log shows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "sockit/error.h"

#define ECHO_WS_MAX_QUEUE (1u << 20) /* a client's unsent output before close 1008 */

struct echo_ws {
    const struct echo_config *cfg;
    bool listening;
};

struct echo_ws_client {
    const struct echo_config *cfg;
    unsigned long long in, out; /* messages */
};

static void *on_open(struct sockit_ws *ws, const struct sockit_ws_open_info *info, void *ud)
{
    const struct echo_config *cfg = ((struct echo_ws *)ud)->cfg;
    struct echo_ws_client *c = calloc(1, sizeof(*c));

    if (!c) {
        echo_log_client(cfg, info->peer, "out of memory: closed");
        sockit_ws_close(ws, SOCKIT_WS_CLOSE_TRY_AGAIN, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    echo_log_client(cfg, info->peer, "WebSocket open, path %.*s%s%s", (int)info->path.len,
                    info->path.p, info->extensions ? ", " : "",
                    info->extensions ? info->extensions : "");
    return c;
}

static void on_message(struct sockit_ws *ws, enum sockit_ws_opcode op, const uint8_t *data,
                       size_t len, void *cud)
{
    struct echo_ws_client *c = cud;

    if (!c)
        return;
    c->in++;
    if (c->cfg->show)
        echo_show(c->cfg, data, len);
    if (c->cfg->reply) {
        data = (const uint8_t *)c->cfg->reply;
        len = c->cfg->reply_len;
        op = SOCKIT_WS_TEXT;
    }
    if (sockit_ws_send(ws, op, data, len) == 0)
        c->out++;
}

static void on_close(struct sockit_ws *ws, int code, int err, void *cud)
{
    struct echo_ws_client *c = cud;

    if (!c)
        return;
    struct sockit_addr peer;

    sockit_ws_peer(ws, &peer);
    if (err == -ECANCELED)
        echo_log_client(c->cfg, &peer, "closed: server stopping (%llu messages in, %llu out)",
                        c->in, c->out);
    else if (err)
        echo_log_client(c->cfg, &peer, "closed with %d: %s (%llu messages in, %llu out)", code,
                        sockit_strerror(err), c->in, c->out);
    else
        echo_log_client(c->cfg, &peer, "closed with %d (%llu messages in, %llu out)", code, c->in,
                        c->out);
    free(c);
}

static void on_listening(struct sockit_server *srv, void *ud)
{
    struct echo_ws *e = sockit_ws_server_user_data(ud);

    e->listening = true;
    echo_say_started(e->cfg, srv);
}

static void on_reject(struct sockit_server *srv, int err, const struct sockit_addr *peer, void *ud)
{
    (void)srv;
    echo_log_reject(((struct echo_ws *)sockit_ws_server_user_data(ud))->cfg, err, peer);
}

int echo_run_ws(const struct echo_config *cfg)
{
    struct echo_ws e = { .cfg = cfg };
    struct sockit_ws_server_options wo = {
        .path = strcmp(cfg->ws_path, "/") ? cfg->ws_path : NULL,
        .idle_ms = cfg->idle_ms,
        .deflate = cfg->deflate,
        .max_queue = ECHO_WS_MAX_QUEUE,
        .on_open = on_open,
        .on_message = on_message,
        .on_close = on_close,
        .ud = &e,
    };
    struct sockit_server_options so = echo_server_options(cfg);
    struct sockit_ws_server *ws;
    struct sockit_server_handler h;
    struct sockit_server *srv;

    /* The WebSocket layer closes an idle client itself, with close 1001; the server layer's
     * timer, a little later, closes one that never finished its upgrade. */
    so.idle_ms = cfg->idle_ms ? cfg->idle_ms + 5000 : 0;
    so.full_reply = sockit_ws_busy_reply; /* a client over --max-clients reads why */
    so.full_reply_len = strlen(sockit_ws_busy_reply);
    /* A client's output bound holds what max_queue lets wait plus the echo of the largest
     * message: at the stream's default (8 MiB) a message over 8 MiB could not be echoed, and
     * its sender was closed as too slow (1008). */
    so.limits.stream.max_output = ECHO_WS_MAX_QUEUE + SOCKIT_WS_MAX_MESSAGE + SOCKIT_WS_MAX_HEADER;
    int err = sockit_ws_server_new(&ws, &wo);
    if (err)
        return cli_fail("start WebSocket server", cfg->ep_text, err);
    sockit_ws_server_handler(ws, &h);
    h.on_listening = on_listening;
    h.on_reject = on_reject;
    err = sockit_server_new(&srv, &so, &h, ws);
    if (err) {
        sockit_ws_server_free(ws);
        return cli_fail("start event loop", sockit_backend_name(cfg->loop.backend), err);
    }
    err = sockit_server_run(srv);
    int rc = err ? cli_fail(e.listening ? "event loop" : "listen", cfg->ep_text, err) : CLI_OK;
    sockit_server_free(srv);
    sockit_ws_server_free(ws);
    return rc;
}
