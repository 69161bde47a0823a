/* The server's public calls (sockit/server.h): options and handler checked and copied, one
 * loop per thread created, then start, stop, wait and free; counters and info. The threads
 * and their sockets are in threads.c, the clients in clients.c. */
#include <errno.h>
#include <stdlib.h>

#include "server_internal.h"

/* The handler fits the endpoint: exactly one client mode for streams, a dgram for datagrams. */
static int check_handler(const struct sockit_endpoint *ep, const struct sockit_server_handler *h)
{
    if (!h)
        return -EINVAL;
    if (!sockit_endpoint_is_stream(ep))
        return h->dgram && h->dgram->on_recv && !h->stream && !h->engine ? 0 : -EINVAL;
    if (h->dgram || !h->stream == !h->engine)
        return -EINVAL;
    if (h->stream && (!h->stream->on_data || !h->stream->on_close))
        return -EINVAL;
    if (h->engine && (!h->engine->input || !h->engine->closed))
        return -EINVAL;
    return 0;
}

/* OPTS with the defaults filled in, or -EINVAL. */
static int resolve_options(const struct sockit_server_options *opts,
                           struct sockit_server_options *o)
{
    if (!opts)
        return -EINVAL;
    *o = *opts;
    if (o->threads == 0)
        o->threads = 1;
    if (o->threads > SOCKIT_SERVER_MAX_THREADS || o->endpoint.transport < SOCKIT_TCP ||
        o->endpoint.transport > SOCKIT_UNIX_DGRAM)
        return -EINVAL;
    o->sockopts.flags |= SOCKIT_NONBLOCK;
    if (o->threads > 1 && !sockit_endpoint_is_unix(&o->endpoint))
        o->sockopts.flags |= SOCKIT_REUSEPORT; /* every thread binds the port */
    return 0;
}

static int create_loops(struct sockit_server *srv)
{
    srv->threads = calloc(srv->o.threads, sizeof(*srv->threads));
    if (!srv->threads)
        return -ENOMEM;
    for (unsigned i = 0; i < srv->o.threads; i++) {
        struct sockit__server_thread *t = &srv->threads[i];
        *t = (struct sockit__server_thread){ .srv = srv, .index = i, .fd = -1 };
        int err = sockit_loop_new(&t->loop, &srv->o.loop);
        if (err)
            return err;
        srv->nthreads = i + 1;
    }
    srv->info.threads = srv->nthreads;
    srv->info.backend = sockit_loop_backend_name(srv->threads[0].loop);
    srv->info.refused_err = sockit_loop_fallback(srv->threads[0].loop, &srv->info.refused);
    return 0;
}

int sockit_server_new(struct sockit_server **out, const struct sockit_server_options *opts,
                      const struct sockit_server_handler *h, void *ud)
{
    struct sockit_server *srv = calloc(1, sizeof(*srv));
    int err;

    if (!srv)
        return -ENOMEM;
    srv->ud = ud;
    pthread_mutex_init(&srv->lock, NULL);
    err = resolve_options(opts, &srv->o);
    if (!err)
        err = check_handler(&srv->o.endpoint, h);
    if (!err) {
        srv->h = *h;
        err = create_loops(srv);
    }
    if (err) {
        sockit_server_free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

/* Open the sockets and start threads FIRST .. threads - 1. On failure nothing is left open
 * or running. */
static int launch(struct sockit_server *srv, unsigned first)
{
    int err;

    if (srv->started)
        return -EALREADY;
    srv->started = true;
    err = sockit__server_open_sockets(srv);
    if (!err)
        err = sockit__server_start_threads(srv, first);
    if (err) {
        sockit__server_stop_all(srv);
        sockit__server_join_threads(srv);
        srv->joined = true;
    }
    return err;
}

int sockit_server_start(struct sockit_server *srv)
{
    return launch(srv, 0);
}

int sockit_server_run(struct sockit_server *srv)
{
    int err = launch(srv, 1);

    if (err)
        return err;
    if (srv->h.on_listening)
        srv->h.on_listening(srv, srv->ud);
    sockit__server_run_here(&srv->threads[0]); /* until the server stops */
    srv->joined = true;
    return sockit__server_join_threads(srv);
}

void sockit__server_stop_all(struct sockit_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    for (unsigned i = 0; i < srv->nthreads; i++)
        if (!srv->threads[i].closing && !srv->threads[i].draining && srv->threads[i].loop)
            sockit_loop_stop(srv->threads[i].loop);
    pthread_mutex_unlock(&srv->lock);
}

void sockit_server_stop(struct sockit_server *srv)
{
    sockit__server_stop_all(srv);
}

int sockit_server_wait(struct sockit_server *srv)
{
    if (!srv->started || srv->joined)
        return -EINVAL;
    srv->joined = true;
    return sockit__server_join_threads(srv);
}

void sockit_server_free(struct sockit_server *srv)
{
    if (!srv)
        return;
    if (srv->started && !srv->joined)
        sockit_server_stop(srv);
    srv->joined = true;
    sockit__server_join_threads(srv); /* frees the loops of threads that never ran */
    pthread_mutex_destroy(&srv->lock);
    free(srv->threads);
    free(srv);
}

void sockit_server_stats(const struct sockit_server *srv, struct sockit_server_stats *out)
{
    *out = (struct sockit_server_stats){
        .accepted = atomic_load(&srv->accepted),
        .live = atomic_load(&srv->live),
        .rejected = atomic_load(&srv->rejected),
        .shed = atomic_load(&srv->shed),
        .idled_out = atomic_load(&srv->idled),
    };
}

void sockit_server_info(const struct sockit_server *srv, struct sockit_server_info *out)
{
    *out = srv->info;
}
