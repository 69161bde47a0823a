/* Loop model: event-loop threads (one by default), each with its own loop and its own
 * listening socket on the same port (SO_REUSEPORT; unix sockets share one). Clients are loop
 * streams: the loop reads, we write the echo back, and a client whose echo is not being read
 * stops being read (the stream's watermarks), so it costs bounded memory and never holds up
 * the others. Datagram endpoints are a loop dgram: batches in, the round's answers out in
 * one sendmmsg. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "echo.h"
#include "sockit/dgram.h"
#include "sockit/error.h"
#include "sockit/loop.h"

struct loop_shared {
    struct echo_server *srv;
    struct loop_thread *threads;
    unsigned long nthreads;
    _Atomic unsigned long accepted, finished; /* for --clients, over all threads */
    _Atomic unsigned long served;             /* datagrams answered */
    _Atomic bool stopping;                    /* tearing down: no more cross-thread stops */
};

struct loop_thread {
    struct loop_shared *shared;
    struct sockit_loop *loop;
    struct sockit_listener *listener;
    struct sockit_dgram *dgram;
    int fd;             /* this thread's socket until the listener or dgram owns it */
    unsigned long live; /* clients connected to this thread */
    unsigned long max;  /* this thread's share of --max-clients */
    pthread_t tid;
    int rc;
};

struct loop_client {
    struct loop_thread *t;
    struct sockit_stream *s;
    struct sockit_addr peer;
    unsigned long long in, out;
    uint64_t last_input;      /* loop clock of the last bytes received (--idle-timeout) */
    struct sockit_timer idle; /* fires at most once per --idle-timeout, checks last_input */
    bool idled_out;
};

static void stop_all(struct loop_shared *sh)
{
    if (atomic_load(&sh->stopping))
        return;
    for (unsigned long i = 0; i < sh->nthreads; i++)
        if (sh->threads[i].loop)
            sockit_loop_stop(sh->threads[i].loop);
}

static void on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct loop_client *c = ud;
    const struct echo_config *cfg = c->t->shared->srv->cfg;
    const void *out;
    size_t out_len;

    if (len == 0) { /* the client is done sending: finish the echo, then close */
        sockit_stream_close_after_flush(s);
        return;
    }
    c->in += len;
    c->last_input = sockit_loop_now(c->t->loop); /* no timer work per message */
    echo_answer(cfg, data, len, &out, &out_len);
    if (sockit_stream_write(s, out, out_len) == 0)
        c->out += out_len;
}

static void on_close(struct sockit_stream *s, int err, void *ud)
{
    struct loop_client *c = ud;
    struct loop_thread *t = c->t;
    struct loop_shared *sh = t->shared;
    const struct echo_config *cfg = sh->srv->cfg;

    (void)s;
    sockit_timer_stop(t->loop, &c->idle);
    if (c->idled_out)
        echo_log_client(cfg, &c->peer, "idle for %lu ms: closed (%llu bytes in, %llu out)",
                        cfg->idle_ms, c->in, c->out);
    else if (err == -ECANCELED) /* the loop is being freed: the server stops */
        echo_log_client(cfg, &c->peer, "closed: server stopping (%llu bytes in, %llu out)", c->in,
                        c->out);
    else if (err)
        echo_log_client(cfg, &c->peer, "%s (%llu bytes in, %llu out)", sockit_strerror(err), c->in,
                        c->out);
    else
        echo_log_client(cfg, &c->peer, "closed (%llu bytes in, %llu out)", c->in, c->out);
    free(c);
    if (t->live-- == t->max && t->listener)
        sockit_listener_resume(t->listener);
    if (cfg->clients && atomic_fetch_add(&sh->finished, 1) + 1 == cfg->clients)
        stop_all(sh);
}

static const struct sockit_stream_ops client_ops = { .on_data = on_data, .on_close = on_close };

/* --idle-timeout: one timer per client, re-armed lazily. Input only records the time; when
 * the timer fires it closes the client, or sleeps again for what is left. A client that stops
 * reading is paused by backpressure, sends nothing more, and idles out too. */
static void on_idle(struct sockit_loop *loop, struct sockit_timer *timer, void *data)
{
    struct loop_client *c = data;
    uint64_t limit = (uint64_t)c->t->shared->srv->cfg->idle_ms * 1000000u;
    uint64_t quiet = sockit_loop_now(loop) - c->last_input;

    if (quiet >= limit) {
        c->idled_out = true;
        sockit_stream_close(c->s);
        return;
    }
    sockit_timer_start(loop, timer, limit - quiet, 0);
}

static void on_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer, void *ud)
{
    struct loop_thread *t = ud;
    const struct echo_config *cfg = t->shared->srv->cfg;
    struct loop_client *c;
    struct sockit_stream *s;

    if (cfg->clients && atomic_fetch_add(&t->shared->accepted, 1) >= cfg->clients) {
        close(fd); /* over --clients: the last ones are being served */
        sockit_listener_pause(l);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c || sockit_stream_open(t->loop, fd, &client_ops, c, NULL, &s) < 0) {
        echo_log_client(cfg, peer, "out of memory: closed");
        if (!c)
            close(fd);
        free(c);
        return;
    }
    *c = (struct loop_client){
        .t = t, .s = s, .peer = *peer, .last_input = sockit_loop_now(t->loop)
    };
    sockit_timer_init(&c->idle, on_idle, c);
    if (cfg->idle_ms)
        sockit_timer_start(t->loop, &c->idle, (uint64_t)cfg->idle_ms * 1000000u, 0);
    echo_log_client(cfg, peer, "connected");
    if (++t->live == t->max)
        sockit_listener_pause(l);
}

static void on_accept_error(struct sockit_listener *l, int err, void *ud)
{
    struct loop_thread *t = ud;

    (void)l;
    echo_log(t->shared->srv->cfg, "accept: %s: closing a waiting client", sockit_strerror(err));
}

static int send_on_dgram(void *ctx, const void *buf, size_t len, const struct sockit_addr *to)
{
    return sockit_dgram_write(ctx, buf, len, to);
}

static void on_dgrams(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                      void *ud)
{
    struct loop_thread *t = ud;
    const struct echo_config *cfg = t->shared->srv->cfg;

    for (size_t i = 0; i < n; i++) {
        if (echo_dgram_reply(cfg, &msgs[i], send_on_dgram, d) != 1)
            continue;
        if (cfg->clients && atomic_fetch_add(&t->shared->served, 1) + 1 >= cfg->clients) {
            sockit_dgram_pause(d); /* answer no more; the answers given still leave */
            stop_all(t->shared);
            return;
        }
    }
}

/* An ICMP error (a client gone) or an answer the kernel refused: logged, never fatal. */
static void on_dgram_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer,
                           void *ud)
{
    const struct echo_config *cfg = ((struct loop_thread *)ud)->shared->srv->cfg;

    (void)d;
    if (peer)
        echo_log_client(cfg, peer, "%s", sockit_strerror(err));
    else
        echo_log(cfg, "datagram socket: %s", sockit_strerror(err));
}

static const struct sockit_dgram_ops dgram_ops = { .on_recv = on_dgrams,
                                                   .on_error = on_dgram_error };

/* UDP datagrams all fit the default slot; unix ones may be larger. */
static int open_dgram(struct loop_thread *t)
{
    const struct echo_config *cfg = t->shared->srv->cfg;
    struct sockit_dgram_opts o = { .trace = cfg->opts.trace };
    int fd = t->fd;

    if (sockit_endpoint_is_unix(&cfg->ep))
        o.max_size = ECHO_DGRAM_BUF;
    t->fd = -1; /* the dgram owns it now, or has closed it */
    return sockit_dgram_open(t->loop, fd, &dgram_ops, t, &o, &t->dgram);
}

static void on_signal(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    int signo;

    (void)loop;
    (void)events;
    if (echo_stop_signal(fd, &signo))
        stop_all(data);
}

/* Thread 0 uses the server's socket; the others open their own on the same port
 * (SO_REUSEPORT: the kernel spreads clients) or, for unix sockets, share it. Each loop owns
 * (and closes) its copy. */
static int thread_socket(struct loop_thread *t, unsigned long i)
{
    struct echo_server *srv = t->shared->srv;

    if (i == 0 || sockit_endpoint_is_unix(&srv->cfg->ep)) {
        int fd = fcntl(srv->lfd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    return sockit_socket_listen(&srv->cfg->ep, &srv->cfg->opts, NULL);
}

static int thread_setup(struct loop_thread *t, unsigned long i)
{
    struct echo_server *srv = t->shared->srv;
    const struct echo_config *cfg = srv->cfg;
    int err = sockit_loop_new(&t->loop, &cfg->loop);

    if (err)
        return cli_fail("start event loop", sockit_backend_name(cfg->loop.backend), err);
    t->fd = thread_socket(t, i);
    if (t->fd < 0)
        return cli_fail("listen", cfg->ep_text, t->fd);
    if (i == 0 &&
        (err = sockit_loop_watch(t->loop, srv->sigfd, SOCKIT_EV_READ, on_signal, t->shared)) < 0)
        return cli_fail("watch signals", NULL, err);
    if (sockit_endpoint_is_stream(&cfg->ep)) {
        err = sockit_listener_open(t->loop, t->fd, on_accept, on_accept_error, t, &t->listener);
        if (!err)
            t->fd = -1; /* the listener owns it now */
    } else {
        err = open_dgram(t);
    }
    return err ? cli_fail("event loop", cfg->ep_text, err) : CLI_OK;
}

static void *thread_main(void *arg)
{
    struct loop_thread *t = arg;
    int err = sockit_loop_run(t->loop);

    if (err)
        t->rc = cli_fail("event loop", NULL, err);
    stop_all(t->shared); /* one thread failing stops the server */
    return NULL;
}

/* Freeing the loop closes every client still connected; their on_close (-ECANCELED) logs
 * and frees them. The dgram is closed first (sending the answers still queued); the loop's
 * free finishes it. */
static void thread_teardown(struct loop_thread *t)
{
    if (t->dgram)
        sockit_dgram_close(t->dgram);
    sockit_loop_free(t->loop);
    t->loop = NULL;
    if (t->fd >= 0)
        close(t->fd);
}

static void say_backend(const struct echo_config *cfg, const struct loop_thread *t, unsigned long n)
{
    const char *refused;
    int err = sockit_loop_fallback(t->loop, &refused);

    if (err)
        echo_log(cfg, "%s unavailable (%s): using %s", refused, sockit_strerror(err),
                 sockit_loop_backend_name(t->loop));
    echo_log(cfg, "event loop: %s backend, %lu thread%s", sockit_loop_backend_name(t->loop), n,
             n == 1 ? "" : "s");
}

int echo_run_loop(struct echo_server *srv)
{
    const struct echo_config *cfg = srv->cfg;
    struct loop_shared sh = { .srv = srv, .nthreads = cfg->threads };
    unsigned long started = 1;
    int rc = CLI_OK;

    sh.threads = calloc(cfg->threads, sizeof(*sh.threads));
    if (!sh.threads)
        return cli_fail("calloc", NULL, -ENOMEM);
    for (unsigned long i = 0; i < cfg->threads && rc == CLI_OK; i++) {
        struct loop_thread *t = &sh.threads[i];
        *t = (struct loop_thread){ .shared = &sh, .fd = -1 };
        t->max = cfg->max_clients / cfg->threads ? cfg->max_clients / cfg->threads : 1;
        rc = thread_setup(t, i);
    }
    if (rc == CLI_OK) {
        say_backend(cfg, &sh.threads[0], cfg->threads);
        for (; started < cfg->threads; started++)
            if (pthread_create(&sh.threads[started].tid, NULL, thread_main, &sh.threads[started]))
                break;
        thread_main(&sh.threads[0]);
        for (unsigned long i = 1; i < started; i++)
            pthread_join(sh.threads[i].tid, NULL);
    }
    atomic_store(&sh.stopping, true);
    for (unsigned long i = 0; i < cfg->threads; i++) {
        thread_teardown(&sh.threads[i]);
        rc = rc != CLI_OK ? rc : sh.threads[i].rc;
    }
    free(sh.threads);
    return rc;
}
