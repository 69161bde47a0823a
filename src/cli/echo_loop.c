/* Loop model: one thread, one epoll loop, every socket non-blocking. A client's unsent echo
 * waits in its buffer (at most ECHO_CHUNK bytes, plus --reply) and while it waits we stop
 * reading from that client: backpressure, so a client that never reads costs a bounded
 * amount of memory and never holds up the others. */
#include <errno.h>
#include <stdlib.h>

#include "echo.h"
#include "sockit/buf.h"
#include "sockit/error.h"
#include "sockit/loop.h"

struct loop_server {
    struct echo_server *srv;
    struct sockit_loop *loop;
    unsigned long live;          /* clients connected */
    unsigned long accepted;      /* clients accepted so far (for --clients) */
    bool listening;              /* the listener is watched */
    struct loop_client *clients; /* all connected clients, to close them at exit */
    _Atomic unsigned long served;
    char *dgram_buf;
};

struct loop_client {
    struct loop_server *ls;
    int fd;
    struct sockit_addr peer;
    struct sockit_buf out; /* answer bytes not yet sent */
    unsigned long long in, sent;
    bool eof; /* the client half-closed: close once the output is flushed */
    struct loop_client *prev, *next;
};

static bool may_accept(const struct loop_server *ls)
{
    const struct echo_config *cfg = ls->srv->cfg;
    return (!cfg->clients || ls->accepted < cfg->clients) && ls->live < cfg->max_clients;
}

static void on_listener(struct sockit_loop *loop, int fd, unsigned events, void *data);

/* Watch the listener exactly when we may accept; stop the loop when all is done. */
static void update_listener(struct loop_server *ls)
{
    const struct echo_config *cfg = ls->srv->cfg;
    bool want = may_accept(ls);

    if (want != ls->listening) {
        if (want)
            sockit_loop_watch(ls->loop, ls->srv->lfd, SOCKIT_EV_READ, on_listener, ls);
        else
            sockit_loop_unwatch(ls->loop, ls->srv->lfd);
        ls->listening = want;
    }
    if (cfg->clients && ls->accepted >= cfg->clients && ls->live == 0)
        sockit_loop_stop(ls->loop);
}

static void close_client(struct loop_client *c, const char *why, int err)
{
    struct loop_server *ls = c->ls;
    const struct echo_config *cfg = ls->srv->cfg;

    if (err)
        echo_log_client(cfg, &c->peer, "%s: %s (%llu bytes in, %llu out)", why,
                        sockit_strerror(err), c->in, c->sent);
    else
        echo_log_client(cfg, &c->peer, "%s (%llu bytes in, %llu out)", why, c->in, c->sent);
    sockit_loop_unwatch(ls->loop, c->fd);
    sockit_socket_close(c->fd, cfg->opts.trace);
    sockit_buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        ls->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    ls->live--;
    update_listener(ls);
}

static void on_client(struct sockit_loop *loop, int fd, unsigned events, void *data);

/* Watch for writability while output waits (and stop reading: backpressure), else for
 * input. An idle client holds no buffer memory at all. */
static void rearm(struct loop_client *c)
{
    if (sockit_buf_len(&c->out) > 0) {
        sockit_loop_watch(c->ls->loop, c->fd, SOCKIT_EV_WRITE, on_client, c);
        return;
    }
    sockit_buf_free(&c->out);
    if (c->eof)
        close_client(c, "closed", 0);
    else
        sockit_loop_watch(c->ls->loop, c->fd, SOCKIT_EV_READ, on_client, c);
}

static void flush_client(struct loop_client *c)
{
    const struct sockit_trace *trace = c->ls->srv->cfg->opts.trace;
    ssize_t n = sockit_buf_send(&c->out, c->fd, trace);

    if (n < 0 && n != -EAGAIN) {
        close_client(c, "send", (int)n);
        return;
    }
    c->sent += n > 0 ? (unsigned long long)n : 0;
    rearm(c);
}

/* Send the answer straight from the read buffer; only what the socket does not take now is
 * copied into the client's output buffer. */
static void answer(struct loop_client *c, const char *out, size_t len)
{
    ssize_t n = sockit_send_all(c->fd, out, len, c->ls->srv->cfg->opts.trace);

    if (n < 0 && n != -EAGAIN) {
        close_client(c, "send", (int)n);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    c->sent += done;
    if (done < len && sockit_buf_append(&c->out, out + done, len - done) < 0) {
        close_client(c, "buffer", -ENOMEM);
        return;
    }
    rearm(c);
}

static void read_client(struct loop_client *c)
{
    const struct echo_config *cfg = c->ls->srv->cfg;
    char buf[ECHO_CHUNK];
    const void *out;
    size_t out_len;
    ssize_t n = sockit_recv(c->fd, buf, sizeof(buf), cfg->opts.trace);

    if (n == -EAGAIN)
        return;
    if (n < 0) {
        close_client(c, "recv", (int)n);
        return;
    }
    if (n == 0) {
        c->eof = true;
        rearm(c);
        return;
    }
    c->in += (unsigned long long)n;
    echo_answer(cfg, buf, (size_t)n, &out, &out_len);
    answer(c, out, out_len);
}

static void on_client(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct loop_client *c = data;

    (void)loop;
    (void)fd;
    if (sockit_buf_len(&c->out) > 0 && (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR)))
        flush_client(c);
    else if (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR))
        read_client(c);
}

static void add_client(struct loop_server *ls, int fd, const struct sockit_addr *peer)
{
    const struct echo_config *cfg = ls->srv->cfg;
    struct loop_client *c = calloc(1, sizeof(*c));

    if (!c || sockit_loop_watch(ls->loop, fd, SOCKIT_EV_READ, on_client, c) < 0) {
        echo_log_client(cfg, peer, "out of memory: closed");
        sockit_socket_close(fd, cfg->opts.trace);
        free(c);
        return;
    }
    c->ls = ls;
    c->fd = fd;
    c->peer = *peer;
    sockit_buf_init(&c->out, ECHO_CHUNK > cfg->reply_len ? ECHO_CHUNK : cfg->reply_len);
    c->next = ls->clients;
    if (c->next)
        c->next->prev = c;
    ls->clients = c;
    ls->live++;
    ls->accepted++;
    echo_log_client(cfg, peer, "connected");
}

static void on_listener(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct loop_server *ls = data;

    (void)loop;
    (void)fd;
    (void)events;
    /* Accept what is pending, but a bounded number per round so clients get served too. */
    for (int i = 0; i < 64 && may_accept(ls); i++) {
        struct sockit_addr peer;
        int cfd = echo_accept(ls->srv, &peer);
        if (cfd < 0)
            break;
        add_client(ls, cfd, &peer);
    }
    update_listener(ls);
}

static void on_dgram(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct loop_server *ls = data;
    const struct echo_config *cfg = ls->srv->cfg;

    (void)events;
    for (int i = 0; i < 64; i++) {
        int r = echo_dgram_one(cfg, fd, ls->dgram_buf);
        if (r == -EAGAIN)
            return;
        if (r < 0) {
            cli_fail("recvfrom", cfg->ep_text, r);
            sockit_loop_stop(loop);
            return;
        }
        ls->served += (unsigned long)r;
        if (cfg->clients && ls->served >= cfg->clients) {
            sockit_loop_stop(loop);
            return;
        }
    }
}

static void on_signal(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    int signo;

    (void)events;
    (void)data;
    if (echo_stop_signal(fd, &signo))
        sockit_loop_stop(loop);
}

static int setup(struct loop_server *ls)
{
    struct echo_server *srv = ls->srv;
    int err = sockit_loop_new(&ls->loop);

    if (err)
        return cli_fail("epoll_create", NULL, err);
    err = sockit_loop_watch(ls->loop, srv->sigfd, SOCKIT_EV_READ, on_signal, ls);
    if (!err && sockit_endpoint_is_stream(&srv->cfg->ep)) {
        update_listener(ls);
        return CLI_OK;
    }
    ls->dgram_buf = malloc(ECHO_DGRAM_BUF);
    if (!err && !ls->dgram_buf)
        err = -ENOMEM;
    if (!err)
        err = sockit_loop_watch(ls->loop, srv->lfd, SOCKIT_EV_READ, on_dgram, ls);
    return err ? cli_fail("epoll_ctl", NULL, err) : CLI_OK;
}

int echo_run_loop(struct echo_server *srv)
{
    struct loop_server ls = { .srv = srv };
    int rc = setup(&ls);

    if (rc == CLI_OK) {
        int err = sockit_loop_run(ls.loop);
        if (err)
            rc = cli_fail("epoll_wait", NULL, err);
    }
    ls.srv = srv;
    while (ls.clients)
        close_client(ls.clients, "closed: server stopping", 0);
    free(ls.dgram_buf);
    sockit_loop_free(ls.loop);
    return rc;
}
