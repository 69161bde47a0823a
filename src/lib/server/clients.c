/* The server's clients: admission against max_clients and max_served (shared atomic counts,
 * so the caps hold over all threads), a client over the cap accepted and closed at once, the
 * client's stream or engine opened with callbacks that keep the server's books (idle time,
 * counts) around the caller's, and one lazily re-armed idle timer per client. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_internal.h"
#include "sockit/error.h"

struct sockit__client {
    struct sockit__server_thread *t;
    struct sockit__client *prev, *next; /* T's clients */
    struct sockit_stream *s;
    struct sockit_conn *conn; /* engine mode */
    void *ud;                 /* the caller's: from on_open */
    uint64_t last_input;      /* loop clock of the last bytes received (idle_ms) */
    const uint64_t *now;      /* the loop's clock, read where it is kept (per message) */
    void (*on_data)(struct sockit_stream *, const void *, size_t, void *); /* the caller's */
    struct sockit_timer idle; /* fires at most once per idle_ms, checks last_input */
    bool idled_out;
};

/* Add one to *N unless that would pass MAX (0: no limit). */
static bool take(_Atomic uint64_t *n, uint64_t max)
{
    uint64_t v = atomic_load(n);

    do {
        if (max && v >= max)
            return false;
    } while (!atomic_compare_exchange_weak(n, &v, v + 1));
    return true;
}

static void count_reject(struct sockit_server *srv, int err)
{
    if (err == -SOCKIT_EFULL)
        atomic_fetch_add(&srv->rejected, 1);
    else if (err == -EMFILE || err == -ENFILE)
        atomic_fetch_add(&srv->shed, 1);
}

static void tell_reject(struct sockit_server *srv, int err, const struct sockit_addr *peer)
{
    if (srv->h.on_reject)
        srv->h.on_reject(srv, err, peer, srv->ud);
}

/* A place for a new client under max_clients, then one of max_served: 0, -SOCKIT_EFULL, or
 * -ECANCELED once max_served clients have been taken on. LIVE is taken first, so that a
 * client past max_served never makes another look over the cap (-ECANCELED is final). */
static int admit(struct sockit_server *srv)
{
    if (!take(&srv->live, srv->o.max_clients))
        return -SOCKIT_EFULL;
    if (!take(&srv->accepted, srv->o.max_served)) {
        atomic_fetch_sub(&srv->live, 1);
        return -ECANCELED;
    }
    return 0;
}

/* A client is gone: the books, and the end of the server once max_served have gone. */
static void client_done(struct sockit_server *srv)
{
    uint64_t finished = atomic_fetch_add(&srv->finished, 1) + 1;

    atomic_fetch_sub(&srv->live, 1);
    if (srv->o.max_served && finished >= srv->o.max_served)
        sockit__server_stop_all(srv);
}

/* Stop C's timer and free it; the error its owner is told (an idle close is -SOCKIT_EIDLE). */
static int client_free(struct sockit__client *c, int err)
{
    struct sockit__server_thread *t = c->t;

    if (c->prev)
        c->prev->next = c->next;
    else
        t->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (t->draining && !t->clients)
        sockit_loop_stop(t->loop); /* the last one has finished */
    sockit_timer_stop(c->t->loop, &c->idle);
    err = c->idled_out ? -SOCKIT_EIDLE : err;
    free(c);
    return err;
}

/* ---- stream mode: the caller's stream callbacks, with the server's books around them ---- */

static void stream_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct sockit__client *c = ud;

    c->last_input = *c->now; /* no timer work per message */
    c->on_data(s, data, len, c->ud);
}

static void stream_drain(struct sockit_stream *s, void *ud)
{
    struct sockit__client *c = ud;
    const struct sockit_stream_ops *ops = c->t->srv->h.stream;

    if (ops->on_drain)
        ops->on_drain(s, c->ud);
}

static void stream_close(struct sockit_stream *s, int err, void *ud)
{
    struct sockit__client *c = ud;
    struct sockit_server *srv = c->t->srv;
    void *cud = c->ud;

    err = client_free(c, err);
    srv->h.stream->on_close(s, err, cud);
    client_done(srv);
}

static const struct sockit_stream_ops stream_ops = {
    .on_data = stream_data,
    .on_drain = stream_drain,
    .on_close = stream_close,
};

/* ---- engine mode: the caller's engine, with the server's books around it ---------------- */

static long engine_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                         const struct sockit_io *io)
{
    struct sockit__client *c = eng;

    c->last_input = now;
    return c->t->srv->h.engine->input(c->ud, data, len, seen, now, io);
}

static int engine_input_end(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit__client *c = eng;
    const struct sockit_engine_ops *ops = c->t->srv->h.engine;

    if (ops->input_end)
        return ops->input_end(c->ud, now, io);
    io->finish(io->ctx); /* none: close once the output is sent, as sockit_conn does */
    return 0;
}

static int engine_start(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit__client *c = eng;
    const struct sockit_engine_ops *ops = c->t->srv->h.engine;

    return ops->start ? ops->start(c->ud, now, io) : 0;
}

static int engine_timeout(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit__client *c = eng;
    const struct sockit_engine_ops *ops = c->t->srv->h.engine;

    return ops->timeout ? ops->timeout(c->ud, now, io) : 0;
}

static void engine_closed(void *eng, int err)
{
    struct sockit__client *c = eng;
    struct sockit_server *srv = c->t->srv;
    void *cud = c->ud;

    err = client_free(c, err);
    srv->h.engine->closed(cud, err);
    client_done(srv);
}

static const struct sockit_engine_ops engine_ops = {
    .input = engine_input,
    .input_end = engine_input_end,
    .timeout = engine_timeout,
    .closed = engine_closed,
    .start = engine_start,
};

/* ---- idle timeout ------------------------------------------------------------------------ */

/* One timer per client, re-armed lazily: input only records the time; when the timer fires
 * it closes the client, or sleeps again for what is left. A client that stops reading is
 * paused by backpressure, sends nothing more, and idles out too. */
static void on_idle(struct sockit_loop *loop, struct sockit_timer *timer, void *data)
{
    struct sockit__client *c = data;
    uint64_t limit = c->t->srv->o.idle_ms * 1000000u;
    uint64_t quiet = sockit_loop_now(loop) - c->last_input;

    if (quiet < limit) {
        sockit_timer_start(loop, timer, limit - quiet, 0);
        return;
    }
    c->idled_out = true;
    atomic_fetch_add(&c->t->srv->idled, 1);
    sockit_stream_close(c->s); /* the conn's stream too: closed() follows */
}

/* ---- accepting ----------------------------------------------------------------------------- */

static bool any_limit(const struct sockit_conn_limits *l)
{
    return l->max_input || l->stream.low_water || l->stream.high_water || l->stream.max_output;
}

/* Set C up for thread T and open its stream, or conn in engine mode, on FD (closed on
 * failure). Returns 0 or -errno. */
static int client_open(struct sockit__client *c, struct sockit__server_thread *t, int fd)
{
    struct sockit_server *srv = t->srv;
    const struct sockit_conn_limits *l = any_limit(&srv->o.limits) ? &srv->o.limits : NULL;
    int err;

    *c = (struct sockit__client){ .t = t,
                                  .ud = srv->ud,
                                  .last_input = sockit_loop_now(t->loop),
                                  .now = sockit_loop_clock(t->loop),
                                  .on_data = srv->h.stream ? srv->h.stream->on_data : NULL };
    sockit_timer_init(&c->idle, on_idle, c);
    if (srv->h.stream)
        return sockit_stream_open(t->loop, fd, &stream_ops, c, l ? &l->stream : NULL, &c->s);
    err = sockit_conn_open(t->loop, fd, &engine_ops, c, l, &c->conn);
    if (!err)
        c->s = sockit_conn_stream(c->conn);
    return err;
}

/* Serve the client on FD: open it, start its idle timer, ask the caller for its data. */
static void client_start(struct sockit__server_thread *t, int fd, const struct sockit_addr *peer)
{
    struct sockit_server *srv = t->srv;
    struct sockit__client *c = malloc(sizeof(*c));
    int err = c ? client_open(c, t, fd) : -ENOMEM;

    if (err) {
        if (!c)
            close(fd); /* client_open closes it itself */
        free(c);
        atomic_fetch_sub(&srv->live, 1); /* its places go to the next client */
        atomic_fetch_sub(&srv->accepted, 1);
        tell_reject(srv, err, peer);
        return;
    }
    c->prev = NULL;
    c->next = t->clients;
    if (t->clients)
        t->clients->prev = c;
    t->clients = c;
    if (srv->o.idle_ms)
        sockit_timer_start(t->loop, &c->idle, srv->o.idle_ms * 1000000u, 0);
    if (srv->h.on_open) {
        struct sockit_server_client info = { srv, t->loop, t->index, c->s, c->conn, peer };
        c->ud = srv->h.on_open(&info, srv->ud);
    }
}

/* Tell a client over the cap why, best effort: what it sent is read first (a close with
 * unread input resets the connection, and the answer with it), then one non-blocking send. */
static void reply_full(struct sockit_server *srv, int fd)
{
    char scratch[4096];

    for (int i = 0; i < 16 && recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0; i++)
        ;
    if (send(fd, srv->o.full_reply, srv->o.full_reply_len, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
}

void sockit__server_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer,
                           void *ud)
{
    struct sockit__server_thread *t = ud;
    int err = admit(t->srv);

    if (err == 0) {
        client_start(t, fd, peer);
        return;
    }
    count_reject(t->srv, err);
    if (err == -SOCKIT_EFULL && t->srv->o.full_reply)
        reply_full(t->srv, fd);
    close(fd);             /* told at once, not left waiting in the backlog */
    if (err == -ECANCELED) /* max_served taken on: the last clients are being served */
        sockit_listener_pause(l);
    else
        tell_reject(t->srv, err, peer);
}

void sockit__server_accept_error(struct sockit_listener *l, int err, void *ud)
{
    struct sockit_server *srv = ((struct sockit__server_thread *)ud)->srv;

    (void)l;
    count_reject(srv, err);
    tell_reject(srv, err, NULL);
}

/* ---- draining ----------------------------------------------------------------------------- */

static void on_drain_end(struct sockit_loop *loop, struct sockit_timer *timer, void *data)
{
    (void)timer;
    (void)data;
    sockit_loop_stop(loop); /* the clients left are closed with the loop */
}

bool sockit__server_drain(struct sockit__server_thread *t)
{
    if (!t->clients)
        return false;
    if (t->listener)
        sockit_listener_pause(t->listener);
    sockit_timer_init(&t->drain_end, on_drain_end, t);
    sockit_timer_start(t->loop, &t->drain_end, t->srv->o.drain_ms * 1000000u, 0);
    for (struct sockit__client *c = t->clients, *next; c; c = next) {
        next = c->next; /* a client with nothing to send may go at once */
        sockit_stream_close_after_flush(c->s);
    }
    return true;
}
