/* The classic models (iterative, fork, thread): the library runs them (sockit/classic.h) on
 * the socket echo_open opened; this file says what a client gets (echo_session, or one
 * datagram answered) and what the log shows of the clients turned away. */
#include "echo.h"
#include "sockit/classic.h"
#include "sockit/error.h"

static void session(const struct sockit_classic_client *c, void *ud)
{
    echo_session(ud, c->fd, &c->peer, c->stop_fd);
}

static int dgram(int fd, void *buf, size_t size, void *ud)
{
    (void)size; /* ECHO_DGRAM_BUF: the options ask for it */
    return echo_dgram_one(ud, fd, buf);
}

static void on_reject(int err, const struct sockit_addr *peer, void *ud)
{
    echo_log_reject(ud, err, peer);
}

static const struct sockit_classic_handler handler = {
    .session = session,
    .dgram = dgram,
    .on_reject = on_reject,
};

static enum sockit_classic_model classic_model(enum echo_model model)
{
    return model == ECHO_FORK     ? SOCKIT_CLASSIC_FORK
           : model == ECHO_THREAD ? SOCKIT_CLASSIC_THREAD
                                  : SOCKIT_CLASSIC_ITERATIVE;
}

int echo_run_classic(struct echo_server *srv)
{
    const struct echo_config *cfg = srv->cfg;
    struct sockit_classic_options o = {
        .model = classic_model(cfg->model),
        .max_clients = cfg->max_clients,
        .max_served = cfg->clients,
        .workers = (unsigned)cfg->workers,
        .dgram_buf = ECHO_DGRAM_BUF,
        .sockopts = cfg->opts,
    };
    int err = sockit_classic_run(srv->lfd, srv->sigfd, &o, &handler, (void *)cfg, NULL);

    if (err)
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "serve" : "recvfrom", cfg->ep_text,
                        err);
    return CLI_OK;
}
