/* The thread model: a thread per stream client, or WORKERS threads sharing a datagram
 * socket. The calling thread accepts and counts; each thread reports its end through an
 * eventfd, so the calling thread only ever blocks in poll(). Stopping sets a second eventfd,
 * the stop fd every session and worker is given, and waits for the last thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "classic_internal.h"
#include "sockit/error.h"

struct pool {
    struct sockit__classic *cs;
    int stop_efd;       /* readable once the server stops: sessions and workers end */
    int done_efd;       /* each thread that ends adds 1 */
    unsigned long live; /* threads running; the calling thread's count */
};

struct job {
    struct pool *pool;
    struct sockit_classic_client c;
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

    pool->cs->h->session(&job->c, pool->cs->ud);
    free(job);
    signal_efd(pool->done_efd); /* last: after this the calling thread may return */
    return NULL;
}

static void *dgram_thread(void *arg)
{
    struct pool *pool = arg;

    sockit__classic_dgram_worker(pool->cs, pool->stop_efd);
    signal_efd(pool->done_efd);
    return NULL;
}

/* Start FN(ARG) on a detached thread. 0 or -errno. */
static int spawn(struct pool *pool, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t tid;
    int err;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_attr_setstacksize(&attr, pool->cs->o.stack_size);
    if (err == 0)
        err = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err == 0)
        pool->live++;
    return -err;
}

/* Count the threads that have ended (non-blocking). */
static void reap(struct pool *pool)
{
    uint64_t n;

    if (read(pool->done_efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        pool->live -= n;
}

/* Accept a client and start its thread, or close it at once if max_clients are served. */
static void admit(struct pool *pool)
{
    struct sockit__classic *cs = pool->cs;
    struct sockit_addr peer;
    int fd = sockit__classic_accept(cs, &peer);

    if (fd < 0)
        return;
    if (pool->live >= cs->o.max_clients)
        reap(pool); /* a thread may have ended since the poll */
    if (pool->live >= cs->o.max_clients) {
        sockit__classic_reject(cs, fd, -SOCKIT_EFULL, &peer);
        return;
    }
    struct job *job = malloc(sizeof(*job));
    int err = job ? 0 : -ENOMEM;
    if (job) {
        job->pool = pool;
        job->c =
            (struct sockit_classic_client){ .fd = fd, .peer = peer, .stop_fd = pool->stop_efd };
        err = spawn(pool, stream_thread, job);
    }
    if (err) {
        free(job);
        sockit__classic_reject(cs, fd, err, &peer);
        return;
    }
    cs->accepted++;
}

/* Poll the stop fd, the done count and (while accepting) the listener. Returns false once
 * the server should stop: stopped, failed, or max_served clients came and went. */
static bool main_round(struct pool *pool, int *rc)
{
    struct sockit__classic *cs = pool->cs;
    bool accepting = cs->stream && sockit__classic_accepting(cs);
    struct pollfd p[3] = {
        { .fd = cs->stop_fd, .events = POLLIN },
        { .fd = pool->done_efd, .events = POLLIN },
        { .fd = accepting ? cs->fd : -1, .events = POLLIN },
    };

    if (poll(p, 3, -1) < 0) {
        *rc = errno == EINTR ? 0 : -errno;
        return *rc == 0;
    }
    if (p[0].revents)
        return false;
    if (p[1].revents & POLLIN)
        reap(pool); /* first: a thread that ended frees its place for the client below */
    if (p[2].revents & POLLIN)
        admit(pool);
    return cs->stream ? sockit__classic_accepting(cs) || pool->live > 0
                      : pool->live == cs->o.workers; /* the first worker to end ends all */
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

/* WORKERS threads on the datagram socket; fails only if not even one could be started. */
static int start_dgram_workers(struct pool *pool)
{
    for (unsigned i = 0; i < pool->cs->o.workers; i++) {
        int err = spawn(pool, dgram_thread, pool);
        if (err)
            return pool->live ? 0 : err;
    }
    return 0;
}

int sockit__classic_run_thread(struct sockit__classic *cs)
{
    struct pool pool = { .cs = cs };
    int rc = 0;

    pool.stop_efd = eventfd(0, EFD_CLOEXEC);
    pool.done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pool.stop_efd < 0 || pool.done_efd < 0)
        rc = -errno;
    if (rc == 0 && !cs->stream)
        rc = start_dgram_workers(&pool);
    if (rc == 0 && !cs->stream && pool.live < cs->o.workers)
        cs->o.workers = (unsigned)pool.live; /* serve with those that started */
    while (rc == 0 && main_round(&pool, &rc))
        ;
    if (pool.live > 0)
        drain(&pool);
    if (pool.stop_efd >= 0)
        close(pool.stop_efd);
    if (pool.done_efd >= 0)
        close(pool.done_efd);
    return rc;
}
