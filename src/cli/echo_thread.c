/* Thread model: a thread per stream client, or --workers threads sharing a datagram socket.
 * The main thread accepts and counts; threads report their end through an eventfd, so the
 * main thread never blocks on anything but poll(). Stopping sets a second eventfd that every
 * session polls, then waits for the last thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "echo.h"
#include "sockit/error.h"

#define THREAD_STACK (256 * 1024)

struct pool {
    struct echo_server *srv;
    int stop_efd;                 /* readable once the server stops: sessions end */
    int done_efd;                 /* each finished thread adds 1 */
    unsigned long live;           /* threads running; main thread only */
    bool stream;                  /* stream endpoint: accept clients; else datagram workers */
    _Atomic unsigned long served; /* datagrams answered (datagram workers) */
};

struct job {
    struct pool *pool;
    int fd;
    struct sockit_addr peer;
};

static void signal_efd(int efd)
{
    uint64_t one = 1;
    ssize_t n = write(efd, &one, sizeof(one));
    (void)n; /* an eventfd write of 1 cannot fail short of overflow */
}

static void *stream_thread(void *arg)
{
    struct job *job = arg;
    struct pool *pool = job->pool;

    echo_session(pool->srv->cfg, job->fd, &job->peer, pool->stop_efd);
    free(job);
    signal_efd(pool->done_efd); /* last: after this the main thread may exit */
    return NULL;
}

static void *dgram_thread(void *arg)
{
    struct pool *pool = arg;

    echo_dgram_serve(pool->srv->cfg, pool->srv->lfd, pool->stop_efd, &pool->served);
    signal_efd(pool->done_efd);
    return NULL;
}

static int spawn(struct pool *pool, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t tid;
    int err;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    err = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err == 0)
        pool->live++;
    return -err;
}

static void reap(struct pool *pool)
{
    uint64_t n;

    if (read(pool->done_efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        pool->live -= n;
}

static void accept_one(struct pool *pool)
{
    struct job *job = malloc(sizeof(*job));
    int err;

    if (!job)
        return;
    job->pool = pool;
    job->fd = echo_accept(pool->srv, &job->peer);
    if (job->fd >= 0 && pool->live >= pool->srv->cfg->max_clients)
        echo_reject(pool->srv, job->fd, &job->peer);
    if (job->fd < 0 || pool->live >= pool->srv->cfg->max_clients) {
        free(job);
        return;
    }
    err = spawn(pool, stream_thread, job);
    if (err) {
        echo_log_client(pool->srv->cfg, &job->peer, "pthread_create: %s: closed",
                        sockit_strerror(err));
        sockit_socket_close(job->fd, pool->srv->cfg->opts.trace);
        free(job);
    }
}

/* Poll the listener (while accepting), the signals and the done counter. Returns false once
 * the server should stop accepting for good. */
static bool main_round(struct pool *pool, unsigned long *accepted)
{
    const struct echo_config *cfg = pool->srv->cfg;
    bool accepting = pool->stream && (!cfg->clients || *accepted < cfg->clients);
    struct pollfd p[3] = {
        { .fd = pool->srv->sigfd, .events = POLLIN },
        { .fd = pool->done_efd, .events = POLLIN },
        { .fd = accepting ? pool->srv->lfd : -1, .events = POLLIN },
    };
    int signo;

    if (poll(p, 3, -1) < 0)
        return errno == EINTR;
    if ((p[0].revents & POLLIN) && echo_stop_signal(pool->srv->sigfd, &signo))
        return false;
    if (p[1].revents & POLLIN)
        reap(pool); /* first: a thread that ended frees its place for the client below */
    if (p[2].revents & POLLIN) {
        unsigned long before = pool->live;
        accept_one(pool);
        *accepted += pool->live > before;
    }
    return !cfg->clients || *accepted < cfg->clients || pool->live > 0;
}

static void drain(struct pool *pool)
{
    signal_efd(pool->stop_efd);
    while (pool->live > 0) {
        struct pollfd p = { .fd = pool->done_efd, .events = POLLIN };
        if (poll(&p, 1, -1) > 0)
            reap(pool);
    }
}

static int start_dgram_workers(struct pool *pool)
{
    for (unsigned long i = 0; i < pool->srv->cfg->workers; i++) {
        int err = spawn(pool, dgram_thread, pool);
        if (err)
            return cli_fail("pthread_create", NULL, err);
    }
    return CLI_OK;
}

int echo_run_thread(struct echo_server *srv)
{
    bool stream = sockit_endpoint_is_stream(&srv->cfg->ep);
    struct pool pool = { .srv = srv, .stream = stream };
    unsigned long accepted = 0;
    int rc = CLI_OK;

    pool.stop_efd = eventfd(0, EFD_CLOEXEC);
    pool.done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pool.stop_efd < 0 || pool.done_efd < 0)
        rc = cli_fail("eventfd", NULL, -errno);
    if (rc == CLI_OK && !stream)
        rc = start_dgram_workers(&pool);
    /* Datagram workers end on their own at --clients; the first one to end stops the rest. */
    while (rc == CLI_OK && main_round(&pool, &accepted) &&
           (stream || pool.live == srv->cfg->workers))
        ;
    drain(&pool);
    close(pool.stop_efd);
    close(pool.done_efd);
    return rc;
}
