/* Loop model: the library's server (sockit/server.h) runs the event-loop threads (one by
 * default) on the endpoint; this file says what a client gets, its echo, and what the log
 * shows. Clients are loop streams: the loop reads, we write the echo back, and a client whose
 * echo is not being read stops being read (the stream's watermarks), so it costs bounded
 * memory and never holds up the others. Datagram endpoints are a loop dgram per thread:
 * batches in, the round's answers out in one sendmmsg. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "echo.h"
#include "sockit/error.h"
#include "sockit/server.h"

struct echo_loop {
    const struct echo_config *cfg;
    struct sockit_server *srv;
    _Atomic unsigned long served; /* datagrams answered, for --clients */
    bool listening;               /* the sockets opened: a failure after is the loop's */
};

struct echo_client {
    const struct echo_config *cfg;
    struct sockit_addr peer;
    unsigned long long in, out;
};

static void *on_open(const struct sockit_server_client *c, void *ud)
{
    const struct echo_config *cfg = ((struct echo_loop *)ud)->cfg;
    struct echo_client *ec = malloc(sizeof(*ec));

    if (!ec) {
        echo_log_client(cfg, c->peer, "out of memory: closed");
        sockit_stream_close(c->stream);
        return NULL;
    }
    *ec = (struct echo_client){ .cfg = cfg, .peer = *c->peer };
    echo_log_client(cfg, c->peer, "connected");
    return ec;
}

static void on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct echo_client *ec = ud;
    const void *out;
    size_t out_len;

    if (len == 0) { /* the client is done sending: finish the echo, then close */
        sockit_stream_close_after_flush(s);
        return;
    }
    ec->in += len;
    echo_answer(ec->cfg, data, len, &out, &out_len);
    if (sockit_stream_write(s, out, out_len) == 0)
        ec->out += out_len;
}

static void on_close(struct sockit_stream *s, int err, void *ud)
{
    struct echo_client *ec = ud;
    const struct echo_config *cfg;

    (void)s;
    if (!ec) /* out of memory at on_open, logged there */
        return;
    cfg = ec->cfg;
    if (err == -SOCKIT_EIDLE)
        echo_log_client(cfg, &ec->peer, "idle for %lu ms: closed (%llu bytes in, %llu out)",
                        cfg->idle_ms, ec->in, ec->out);
    else if (err == -ECANCELED) /* the server stops */
        echo_log_client(cfg, &ec->peer, "closed: server stopping (%llu bytes in, %llu out)", ec->in,
                        ec->out);
    else if (err)
        echo_log_client(cfg, &ec->peer, "%s (%llu bytes in, %llu out)", sockit_strerror(err),
                        ec->in, ec->out);
    else
        echo_log_client(cfg, &ec->peer, "closed (%llu bytes in, %llu out)", ec->in, ec->out);
    free(ec);
}

static const struct sockit_stream_ops client_ops = { .on_data = on_data, .on_close = on_close };

static void on_reject(struct sockit_server *srv, int err, const struct sockit_addr *peer, void *ud)
{
    (void)srv;
    echo_log_reject(((struct echo_loop *)ud)->cfg, err, peer);
}

static int send_on_dgram(void *ctx, const void *buf, size_t len, const struct sockit_addr *to)
{
    return sockit_dgram_write(ctx, buf, len, to);
}

static void on_dgrams(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                      void *ud)
{
    struct echo_loop *el = ud;
    const struct echo_config *cfg = el->cfg;

    for (size_t i = 0; i < n; i++) {
        if (echo_dgram_reply(cfg, &msgs[i], send_on_dgram, d) != 1)
            continue;
        if (cfg->clients && atomic_fetch_add(&el->served, 1) + 1 >= cfg->clients) {
            sockit_dgram_pause(d); /* answer no more; the answers given still leave */
            sockit_server_stop(el->srv);
            return;
        }
    }
}

/* An ICMP error (a client gone) or an answer the kernel refused: logged, never fatal. */
static void on_dgram_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer,
                           void *ud)
{
    const struct echo_config *cfg = ((struct echo_loop *)ud)->cfg;

    (void)d;
    if (peer)
        echo_log_client(cfg, peer, "%s", sockit_strerror(err));
    else
        echo_log(cfg, "datagram socket: %s", sockit_strerror(err));
}

static const struct sockit_dgram_ops dgram_ops = { .on_recv = on_dgrams,
                                                   .on_error = on_dgram_error };

static void on_listening(struct sockit_server *srv, void *ud);

static const struct sockit_server_handler stream_handler = {
    .on_open = on_open,
    .stream = &client_ops,
    .on_reject = on_reject,
    .on_listening = on_listening,
};
static const struct sockit_server_handler dgram_handler = { .dgram = &dgram_ops,
                                                            .on_listening = on_listening };

struct sockit_server_options echo_server_options(const struct echo_config *cfg)
{
    struct sockit_server_options o = {
        .endpoint = cfg->ep,
        .sockopts = cfg->opts,
        .threads = (unsigned)cfg->threads,
        .loop = cfg->loop,
        .max_clients = cfg->max_clients,
        .idle_ms = cfg->idle_ms,
        .max_served = cfg->clients,
        .handle_signals = true,
        .dgram = { .trace = cfg->opts.trace },
    };

    if (sockit_endpoint_is_unix(&cfg->ep))
        o.dgram.max_size = ECHO_DGRAM_BUF; /* UDP datagrams all fit the default; unix ones
                                              may be larger */
    return o;
}

void echo_say_started(const struct echo_config *cfg, struct sockit_server *srv)
{
    struct sockit_server_info info;

    sockit_server_info(srv, &info);
    echo_log_listening(cfg, &info.local);
    if (info.refused_err)
        echo_log(cfg, "%s unavailable (%s): using %s", info.refused,
                 sockit_strerror(info.refused_err), info.backend);
    echo_log(cfg, "event loop: %s backend, %u thread%s", info.backend, info.threads,
             info.threads == 1 ? "" : "s");
}

static void on_listening(struct sockit_server *srv, void *ud)
{
    struct echo_loop *el = ud;

    el->listening = true;
    echo_say_started(el->cfg, srv);
}

/* Serve on this thread until the server stops (announced once listening). Returns CLI_OK or
 * CLI_FAIL (printed). */
static int serve(const struct echo_config *cfg, struct sockit_server *srv, bool *listening)
{
    int err = sockit_server_run(srv);

    if (err && !*listening)
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "listen" : "bind", cfg->ep_text, err);
    return err ? cli_fail("event loop", NULL, err) : CLI_OK;
}

int echo_run_loop(const struct echo_config *cfg)
{
    struct echo_loop el = { .cfg = cfg };
    struct sockit_server_options o = echo_server_options(cfg);
    const struct sockit_server_handler *h =
        sockit_endpoint_is_stream(&cfg->ep) ? &stream_handler : &dgram_handler;
    int err = sockit_server_new(&el.srv, &o, h, &el);

    if (err)
        return cli_fail("start event loop", sockit_backend_name(cfg->loop.backend), err);
    int rc = serve(cfg, el.srv, &el.listening);
    sockit_server_free(el.srv);
    return rc;
}
