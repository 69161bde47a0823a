/* The article's server: accept one client, serve it to the end, then take the next. While
 * one client is served, others wait in the listen backlog (3 by default). */
#include <poll.h>
#include <signal.h>

#include "echo.h"

static int serve_streams(struct echo_server *srv)
{
    const struct echo_config *cfg = srv->cfg;
    unsigned long served = 0;
    int signo;

    while (!cfg->clients || served < cfg->clients) {
        struct sockit_addr peer;
        int w = echo_wait(srv->lfd, POLLIN, srv->sigfd, -1);
        if (w < 0)
            return cli_fail("poll", cfg->ep_text, w);
        if (w == WAIT_STOP && echo_stop_signal(srv->sigfd, &signo))
            break;
        if (w != WAIT_READY)
            continue;
        int fd = echo_accept(srv, &peer);
        if (fd < 0)
            continue;
        served++;
        if (echo_session(cfg, fd, &peer, srv->sigfd) == ECHO_STOP)
            break;
    }
    return CLI_OK;
}

int echo_run_iterative(struct echo_server *srv)
{
    _Atomic unsigned long served = 0;

    if (sockit_endpoint_is_stream(&srv->cfg->ep))
        return serve_streams(srv);
    return echo_dgram_serve(srv->cfg, srv->lfd, srv->sigfd, &served);
}
