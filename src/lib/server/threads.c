/* The server's threads: each one's socket (the first opens the server's; the others bind the
 * same port with SO_REUSEPORT, or share a unix socket), its listener or dgram, and its life:
 * run the loop, then close everything on it from that same thread, so that every client
 * callback runs on its own thread to the end. A unix socket file is removed at the end only
 * if it is still the one the server created. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "server_internal.h"

static uint16_t port_of(const struct sockit_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return 0;
}

/* Note which file the unix socket was bound to: only that one is removed at the end. */
static void remember_file(struct sockit_server *srv)
{
    sockit_socket_file_id(&srv->o.endpoint, &srv->file);
}

/* Remove the socket file unless someone else's file has taken its name meanwhile. */
static void remove_file(struct sockit_server *srv)
{
    sockit_socket_unlink_same(&srv->o.endpoint, &srv->file, srv->o.sockopts.trace);
    srv->file.valid = false;
}

/* Thread I's socket: the first binds the endpoint; the others bind the port it got (port 0
 * asks the kernel for one), or share the unix socket. Returns the fd or a negative code. */
static int thread_socket(struct sockit_server *srv, unsigned i)
{
    struct sockit_endpoint ep = srv->o.endpoint;
    int fd;

    if (i == 0) {
        fd = sockit_socket_listen(&ep, &srv->o.sockopts, &srv->info.local);
        if (fd >= 0)
            remember_file(srv);
        return fd;
    }
    if (sockit_endpoint_is_unix(&ep)) {
        fd = fcntl(srv->threads[0].fd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    ep.port = port_of(&srv->info.local);
    return sockit_socket_listen(&ep, &srv->o.sockopts, NULL);
}

/* Hand T's socket to a listener (streams) or a dgram (datagrams), which owns it from then. */
static int thread_serve(struct sockit__server_thread *t)
{
    struct sockit_server *srv = t->srv;
    int fd = t->fd, err;

    if (sockit_endpoint_is_stream(&srv->o.endpoint)) {
        err = sockit_listener_open(t->loop, fd, sockit__server_accept, sockit__server_accept_error,
                                   t, &t->listener);
        if (!err)
            t->fd = -1;
        return err;
    }
    t->fd = -1; /* the dgram owns it, or has closed it */
    return sockit_dgram_open(t->loop, fd, srv->h.dgram, srv->ud, &srv->o.dgram, &t->dgram);
}

static void on_stop_signal(struct sockit_loop *loop, int signo, void *data)
{
    (void)loop;
    (void)signo;
    sockit__server_stop_all(data);
}

static int watch_signals(struct sockit_server *srv)
{
    struct sockit_loop *loop = srv->threads[0].loop;
    int err = sockit_loop_signal(loop, SIGINT, on_stop_signal, srv);

    return err ? err : sockit_loop_signal(loop, SIGTERM, on_stop_signal, srv);
}

int sockit__server_open_sockets(struct sockit_server *srv)
{
    int err = 0;

    for (unsigned i = 0; i < srv->nthreads && !err; i++) {
        int fd = thread_socket(srv, i);
        if (fd < 0)
            err = fd;
        else
            srv->threads[i].fd = fd;
    }
    for (unsigned i = 0; i < srv->nthreads && !err; i++)
        err = thread_serve(&srv->threads[i]);
    if (!err && srv->o.handle_signals)
        err = watch_signals(srv);
    return err;
}

/* Free T's loop, from now on out of reach of stops: that closes the clients still connected
 * (their on_close: -ECANCELED) and the listener; a dgram is closed first, so the answers it
 * holds still go out. */
static void thread_close(struct sockit__server_thread *t)
{
    pthread_mutex_lock(&t->srv->lock);
    t->closing = true;
    pthread_mutex_unlock(&t->srv->lock);
    if (t->dgram)
        sockit_dgram_close(t->dgram);
    sockit_loop_free(t->loop);
    pthread_mutex_lock(&t->srv->lock);
    t->loop = NULL;
    t->dgram = NULL;
    t->listener = NULL;
    pthread_mutex_unlock(&t->srv->lock);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* Finish the clients' answers (drain_ms), out of reach of the other threads' stops. */
static void drain(struct sockit__server_thread *t)
{
    if (sockit__server_drain(t)) {
        sockit_loop_run(t->loop);
        sockit_timer_stop(t->loop, &t->drain_end);
    }
}

static void *thread_main(void *arg)
{
    struct sockit__server_thread *t = arg;
    struct sockit_server *srv = t->srv;

    if (srv->h.on_thread_start)
        srv->h.on_thread_start(srv, t->index, t->loop, srv->ud);
    t->rc = sockit_loop_run(t->loop);
    bool drains = !t->rc && t->srv->o.drain_ms;
    if (drains) { /* first, so that the stop below passes this thread by */
        pthread_mutex_lock(&t->srv->lock);
        t->draining = true;
        pthread_mutex_unlock(&t->srv->lock);
    }
    sockit__server_stop_all(t->srv); /* one thread stopping (or failing) stops them all */
    if (drains)
        drain(t);
    if (srv->h.on_thread_stop)
        srv->h.on_thread_stop(srv, t->index, t->loop, srv->ud);
    thread_close(t);
    return NULL;
}

void sockit__server_run_here(struct sockit__server_thread *t)
{
    thread_main(t);
}

int sockit__server_start_threads(struct sockit_server *srv, unsigned first)
{
    for (unsigned i = first; i < srv->nthreads; i++) {
        struct sockit__server_thread *t = &srv->threads[i];
        int err = pthread_create(&t->tid, NULL, thread_main, t);
        if (err)
            return -err;
        t->running = true;
    }
    return 0;
}

int sockit__server_join_threads(struct sockit_server *srv)
{
    int rc = 0;

    for (unsigned i = 0; i < srv->nthreads; i++) {
        struct sockit__server_thread *t = &srv->threads[i];
        if (t->running)
            pthread_join(t->tid, NULL);
        else if (t->loop)
            thread_close(t); /* never ran: its loop is freed here */
        t->running = false;
        rc = rc ? rc : t->rc;
    }
    remove_file(srv);
    return rc;
}
