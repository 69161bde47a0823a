/* One bench worker on the loop library (sockit/loop.h): its own loop, on the backend asked
 * for, drives its share of the connections as loop streams (TCP connects on the loop, unix
 * ones blocking then opened, as a full unix backlog is waited for) or loop dgrams. Each
 * connection keeps up to DEPTH messages in flight and stamps each with its send time (with
 * --rate: its intended send time, so a stalled server shows as latency instead of hiding
 * it: no coordinated omission). A reply is SIZE bytes back on a stream, or one datagram.
 * Reverse bulk only reads what the server sends.
 * Timers end the run, pace --rate and expire lost datagrams. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_internal.h"
#include "sockit/clock.h"
#include "sockit/dgram.h"
#include "sockit/loop.h"
#include "sockit/shared.h"
#include "sockit/socket.h"

#define BULK_QUEUE     4            /* bulk, send: writes of SIZE kept queued per connection */
#define WRITES_A_TURN  16           /* bulk, send: then let the other connections run */
#define TICK_RATE_NS   1000000ull   /* --rate: every connection looks at its schedule each ms */
#define TICK_DGRAM_NS  10000000ull  /* datagrams: replies older than the timeout are lost */
#define TICK_STREAM_NS 100000000ull /* streams: at most this long between timeout checks */

struct bconn {
    struct sockit__bench_engine *e;
    struct sockit_stream *s;  /* stream endpoints: NULL when closed */
    struct sockit_dgram *d;   /* datagram endpoints */
    bool up;                  /* connected */
    bool failed;              /* closed by us after an error already counted */
    unsigned inflight;        /* messages sent and not yet answered */
    unsigned head;            /* oldest stamp */
    size_t rx;                /* bytes of the current reply received so far */
    uint64_t written, sent;   /* send mode: bytes queued, bytes the kernel took (counted) */
    int64_t next_send;        /* --rate: intended time of the next message */
    int64_t *stamps;          /* DEPTH send times, a ring */
    struct sockit_defer more; /* bulk, send: another turn of writes */
};

struct sockit__bench_engine {
    struct sockit__bench_worker *w;
    const struct sockit_bench_config *cfg;
    struct sockit_loop *loop;
    bool stream, streaming; /* a stream endpoint; bulk or send mode */
    bool ending;            /* tearing down: closes are ours, not errors */
    unsigned depth;
    struct bconn *conns;
    unsigned long open;          /* connections open or connecting */
    uint64_t issued;             /* messages (bulk, send: bytes) started, against the quota */
    uint64_t waiting;            /* messages in flight over all connections */
    const char *msg;             /* DEPTH messages of payload (the bench's) */
    struct sockit_shared *chunk; /* bulk, send: one write, queued by reference (no copy) */
    int64_t interval_ns;         /* --rate: per-connection gap between messages */
    struct sockit_stream_limits limits; /* bulk, send: BULK_QUEUE writes before full */
    struct sockit_timer tick, end;
    struct sockit_defer begin; /* connections start from the running loop (its clock) */
    uint64_t progress_bytes;   /* bulk, send: the byte count at PROGRESS_NS ... */
    int64_t progress_ns;       /* ... when it last moved */
};

static void pump(struct bconn *c);
static void connect_step(struct bconn *c);
static void check_done(struct sockit__bench_engine *e);
static void quota_check(struct sockit__bench_engine *e);

static int64_t now(const struct sockit__bench_engine *e)
{
    return (int64_t)sockit_loop_now(e->loop);
}

static void note_error(struct sockit__bench_engine *e, const char *op, int err)
{
    struct sockit_bench_result *r = &e->w->result;

    if (r->first_error == 0) {
        r->first_error = err;
        r->first_error_op = op;
    }
    atomic_fetch_add_explicit(&e->w->live->errors, 1, memory_order_relaxed);
}

static void add_messages(struct sockit__bench_engine *e, uint64_t n)
{
    e->w->result.messages += n;
    atomic_fetch_add_explicit(&e->w->live->messages, n, memory_order_relaxed);
}

static void add_bytes(struct sockit__bench_engine *e, uint64_t n)
{
    e->w->result.bytes += n;
    atomic_fetch_add_explicit(&e->w->live->bytes, n, memory_order_relaxed);
}

/* ---- connections ------------------------------------------------------------------------- */

static void close_conn(struct bconn *c)
{
    if (c->s)
        sockit_stream_close(c->s);
    else if (c->d)
        sockit_dgram_close(c->d);
}

/* The messages of C that will get no answer, because the run or the connection ended: each
 * counts in the histogram with the time it waited so far, as wrk2 does, so a server that stops
 * answering shows as latency instead of vanishing from the figures. */
static void give_up(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    int64_t t = now(e);

    for (; c->inflight > 0; c->inflight--) {
        int64_t lat = t - c->stamps[c->head];
        sockit_hist_add(&e->w->result.latency, lat > 0 ? (uint64_t)lat : 0);
        c->head = (c->head + 1) % e->depth;
        e->waiting--;
        e->w->result.unanswered++;
    }
}

/* An error on C, counted now; the connection closes (its on_close only does the books). A
 * server that ends the stream or resets it let the connection go. */
static void fail_conn(struct bconn *c, const char *op, int err)
{
    struct sockit__bench_engine *e = c->e;

    if (c->failed || e->ending)
        return;
    c->failed = true;
    if (!c->up) {
        e->w->result.connect_errors++;
        note_error(e, "connect", err);
    } else if (err == 0 || err == -ECONNRESET || err == -EPIPE) {
        e->w->result.closed_by_server++;
        note_error(e, "recv", -ECONNRESET);
    } else if (err == -ETIMEDOUT) {
        e->w->result.timeouts++;
        note_error(e, op, err);
    } else {
        e->w->result.io_errors++;
        note_error(e, op, err);
    }
    give_up(c);
    close_conn(c);
}

/* Send mode: what the kernel took is the measure (it waits in socket buffers of a few MiB at
 * most, so over a long run the figure is the delivered rate). */
static void count_sent(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    uint64_t sent = c->written - (c->s ? sockit_stream_pending(c->s) : 0);
    uint64_t before = e->w->result.bytes / e->cfg->size;

    add_bytes(e, sent - c->sent);
    c->sent = sent;
    add_messages(e, e->w->result.bytes / e->cfg->size - before);
}

static void forget_conn(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;

    give_up(c);
    c->rx = 0;
    c->up = false;
    e->open--;
}

static void on_stream_close(struct sockit_stream *s, int err, void *ud)
{
    struct bconn *c = ud;
    struct sockit__bench_engine *e = c->e;

    (void)s;
    if (e->cfg->mode == SOCKIT_BENCH_SEND)
        count_sent(c);
    if (err && err != -ECANCELED)
        fail_conn(c, "recv", err);
    c->s = NULL;
    forget_conn(c);
    if (e->cfg->mode == SOCKIT_BENCH_CONNECT && !c->failed)
        connect_step(c); /* the exchange is done: a new connection per message */
    check_done(e);
}

static void on_dgram_close(struct sockit_dgram *d, int err, void *ud)
{
    struct bconn *c = ud;

    (void)d;
    (void)err;
    c->d = NULL;
    forget_conn(c);
    check_done(c->e);
}

/* ---- sending ----------------------------------------------------------------------------- */

static bool quota_left(const struct sockit__bench_engine *e, uint64_t n)
{
    return e->w->quota == 0 || e->issued + n <= e->w->quota;
}

/* Start as many new messages as depth, quota and --rate allow; returns how many. */
static unsigned fill(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    unsigned n = 0;

    while (c->inflight < e->depth && quota_left(e, 1)) {
        int64_t stamp = now(e);
        if (e->interval_ns) {
            if (c->next_send > stamp)
                break;
            stamp = c->next_send;
            c->next_send += e->interval_ns;
        }
        c->stamps[(c->head + c->inflight) % e->depth] = stamp;
        c->inflight++;
        e->issued++;
        n++;
    }
    e->waiting += n;
    return n;
}

static void more_deferred(struct sockit_loop *loop, void *data)
{
    (void)loop;
    pump(data);
}

/* Bulk and send: keep BULK_QUEUE writes queued (the stream's high watermark), by reference
 * to one shared buffer. A full stream calls on_drain when it wants more. */
static void pump_streaming(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    size_t size = e->cfg->size;
    int i;

    if (e->cfg->reverse)
        return; /* the server sends; we only read */
    for (i = 0; i < WRITES_A_TURN && c->s && !sockit_stream_full(c->s) && quota_left(e, size);
         i++) {
        int err = sockit_stream_write_shared(c->s, e->chunk, 0, size);
        if (err) {
            fail_conn(c, "send", err);
            return;
        }
        e->issued += size;
        c->written += size;
    }
    if (c->s && e->cfg->mode == SOCKIT_BENCH_SEND) {
        count_sent(c);
        if (!quota_left(e, size) || (e->w->quota && e->issued == e->w->quota))
            sockit_stream_close_after_flush(c->s); /* all sent: the end tells the sink */
    }
    if (i == WRITES_A_TURN && c->s && !sockit_stream_full(c->s))
        sockit_loop_defer(e->loop, &c->more, more_deferred, c);
}

static void pump(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    unsigned n;
    int err = 0;

    if (!c->up || c->failed || e->ending)
        return;
    if (e->streaming) {
        pump_streaming(c);
        return;
    }
    if ((n = fill(c)) == 0)
        return;
    if (c->s) {
        err = sockit_stream_write(c->s, e->msg, n * e->cfg->size);
    } else {
        for (unsigned i = 0; i < n && !err; i++)
            err = sockit_dgram_write(c->d, e->msg, e->cfg->size, NULL);
        if (err == -ENOBUFS)
            err = 0; /* the socket's queue is full: these datagrams are dropped, counted lost */
    }
    if (err)
        fail_conn(c, "send", err);
}

/* ---- receiving --------------------------------------------------------------------------- */

static void complete(struct bconn *c, uint64_t n)
{
    struct sockit__bench_engine *e = c->e;
    struct sockit_hist *h = &e->w->result.latency;
    int64_t t = now(e);

    for (uint64_t i = 0; i < n && c->inflight > 0; i++) {
        int64_t lat = t - c->stamps[c->head];
        sockit_hist_add(h, lat > 0 ? (uint64_t)lat : 0);
        c->head = (c->head + 1) % e->depth;
        c->inflight--;
        e->waiting--;
    }
    add_messages(e, n);
}

static void on_stream_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct bconn *c = ud;
    struct sockit__bench_engine *e = c->e;
    uint64_t whole;

    (void)s;
    (void)data;
    if (e->cfg->mode == SOCKIT_BENCH_SEND)
        return; /* one-way: whatever comes back (or its end) is dropped */
    if (len == 0) {
        if (e->cfg->reverse) /* the sender is done: a normal end */
            sockit_stream_close(c->s);
        else
            fail_conn(c, "recv", 0);
        return;
    }
    add_bytes(e, len);
    c->rx += len;
    whole = c->rx / e->cfg->size;
    c->rx %= e->cfg->size;
    if (e->cfg->mode == SOCKIT_BENCH_BULK) {
        add_messages(e, whole);
        quota_check(e);
        return;
    }
    complete(c, whole);
    if (e->cfg->mode == SOCKIT_BENCH_CONNECT && c->inflight == 0)
        sockit_stream_close(c->s); /* on_close starts the next connection */
    else
        pump(c);
    quota_check(e);
}

static void on_stream_drain(struct sockit_stream *s, void *ud)
{
    (void)s;
    pump(ud);
}

static void on_connect(struct sockit_stream *s, void *ud)
{
    struct bconn *c = ud;

    (void)s;
    c->up = true;
    pump(c);
}

static const struct sockit_stream_ops stream_ops = {
    .on_data = on_stream_data,
    .on_drain = on_stream_drain,
    .on_close = on_stream_close,
    .on_connect = on_connect,
};

static void on_dgram_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                          void *ud)
{
    struct bconn *c = ud;

    (void)d;
    for (size_t i = 0; i < n; i++)
        add_bytes(c->e, msgs[i].full_len);
    complete(c, n);
    pump(c);
    quota_check(c->e);
}

static void on_dgram_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer,
                           void *ud)
{
    (void)d;
    (void)peer;
    if (err == -ENOBUFS)
        return; /* local congestion dropped one datagram: its reply times out, counted lost */
    fail_conn(ud, "recv", err);
}

static const struct sockit_dgram_ops dgram_ops = {
    .on_recv = on_dgram_recv,
    .on_error = on_dgram_error,
    .on_close = on_dgram_close,
};

/* ---- opening ----------------------------------------------------------------------------- */

/* How long a connect may take: the timeout, but never past the end of the run. */
static unsigned connect_ms(const struct sockit__bench_engine *e)
{
    int64_t ms = (int64_t)e->cfg->timeout_ms;
    int64_t left = e->w->end_ns ? (e->w->end_ns - (int64_t)sockit_clock_ns()) / 1000000 + 1 : ms;

    return (unsigned)(left < 1 ? 1 : left < ms ? left : ms);
}

/* A blocking connect (unix: a full backlog is waited for, as the kernel does) then a stream or
 * dgram on the loop. Returns 0 or -errno. */
static int open_blocking(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    struct sockit_sockopts o = { .flags = SOCKIT_NONBLOCK | SOCKIT_NODELAY,
                                 .timeout_ms = connect_ms(e) };
    struct sockit_dgram_opts dopts = { .max_size = e->cfg->size ? e->cfg->size : 1,
                                       .batch = e->depth < 31 ? e->depth + 1 : 32,
                                       .queue_max = e->depth };
    int fd =
        sockit_socket_connect_addr(&e->cfg->addr, sockit_endpoint_socktype(&e->cfg->endpoint), &o);

    if (fd < 0)
        return fd;
    if (e->cfg->endpoint.transport == SOCKIT_UNIX_DGRAM)
        sockit__bench_fit_sndbuf(fd, e->cfg->size); /* sockit_bench_max_size told the limit */
    if (!e->stream)
        return sockit_dgram_open(e->loop, fd, &dgram_ops, c, &dopts, &c->d);
    return sockit_stream_open(e->loop, fd, &stream_ops, c, &e->limits, &c->s);
}

/* Open connection C: TCP connects on the loop (on_connect follows), the rest block here. */
static int open_conn(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    bool tcp = e->stream && e->cfg->endpoint.transport == SOCKIT_TCP;
    int err = tcp ? sockit_stream_connect(e->loop, &e->cfg->addr, connect_ms(e), &stream_ops, c,
                                          &e->limits, &c->s)
                  : open_blocking(c);

    c->failed = false;
    if (err) {
        e->w->result.connect_errors++;
        note_error(e, "connect", err);
        return err;
    }
    e->open++;
    c->up = !tcp;
    if (c->s) /* keep reading the echo while our output is full, or both sides wait */
        sockit_stream_set_backpressure(c->s, false);
    return 0;
}

static bool time_left(const struct sockit__bench_engine *e)
{
    return !e->w->end_ns || now(e) < e->w->end_ns;
}

/* Connect mode: a new connection carries one message: connect, send, read the echo, close. */
static void connect_step(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;

    if (e->ending || !quota_left(e, 1) || !time_left(e))
        return;
    c->head = 0;
    int64_t started = (int64_t)sockit_clock_ns();
    if (open_conn(c) < 0)
        return;
    c->stamps[0] = started;
    c->inflight = 1;
    e->waiting++;
    e->issued++;
    if (sockit_stream_write(c->s, e->msg, e->cfg->size) < 0)
        fail_conn(c, "send", -EPIPE);
}

/* ---- the run ----------------------------------------------------------------------------- */

static bool finished(const struct sockit__bench_engine *e)
{
    if (e->open == 0)
        return true;
    if (e->cfg->mode == SOCKIT_BENCH_BULK && e->w->quota)
        return e->w->result.bytes >= e->w->quota; /* every byte echoed back */
    if (e->streaming || !e->w->quota)
        return false; /* send mode ends when its streams close after the flush */
    return e->issued >= e->w->quota && e->waiting == 0;
}

static void check_done(struct sockit__bench_engine *e)
{
    if (!e->ending && finished(e))
        sockit_loop_stop(e->loop);
}

/* After replies: only a count can have been reached (closes and timers check the rest). */
static void quota_check(struct sockit__bench_engine *e)
{
    if (e->w->quota)
        check_done(e);
}

/* Datagrams that got no reply within the timeout are lost: free their slots. A stream whose
 * oldest message waited longer is closed: the server is stuck (or far too slow to measure). */
static void expire(struct bconn *c)
{
    struct sockit__bench_engine *e = c->e;
    int64_t limit = (int64_t)e->cfg->timeout_ms * 1000000;

    if (c->s && c->inflight > 0 && now(e) - c->stamps[c->head] > limit)
        fail_conn(c, "reply", -ETIMEDOUT);
    while (c->d && c->inflight > 0 && now(e) - c->stamps[c->head] > limit) {
        c->head = (c->head + 1) % e->depth;
        c->inflight--;
        e->waiting--;
        e->w->result.lost++;
        atomic_fetch_add_explicit(&e->w->live->errors, 1, memory_order_relaxed);
    }
}

/* Bulk and send: no byte echoed (or taken by the sink) for the timeout while bytes are
 * outstanding closes every connection of the worker. */
static void expire_streaming(struct sockit__bench_engine *e)
{
    uint64_t bytes = e->w->result.bytes;

    for (unsigned long i = 0; e->cfg->mode == SOCKIT_BENCH_SEND && i < e->w->nconns; i++) {
        if (e->conns[i].s)
            count_sent(&e->conns[i]);
    }
    if (bytes != e->progress_bytes || (!e->cfg->reverse && e->issued == bytes)) {
        e->progress_bytes = e->w->result.bytes;
        e->progress_ns = now(e);
        return;
    }
    if (now(e) - e->progress_ns <= (int64_t)e->cfg->timeout_ms * 1000000)
        return;
    for (unsigned long i = 0; i < e->w->nconns; i++) {
        if (e->conns[i].s && e->conns[i].up)
            fail_conn(&e->conns[i], "reply", -ETIMEDOUT);
    }
}

static void on_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sockit__bench_engine *e = data;

    (void)loop;
    (void)t;
    if (e->streaming)
        expire_streaming(e);
    /* Only --rate's schedule and lost datagrams free room for a message; a pump at any other
     * time could write to a connect-mode stream closing between its messages. */
    for (unsigned long i = 0; i < e->w->nconns; i++) {
        expire(&e->conns[i]);
        if (e->interval_ns || !e->stream)
            pump(&e->conns[i]);
    }
    check_done(e);
}

static void on_end(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)t;
    (void)data;
    sockit_loop_stop(loop);
}

/* The tick: --rate's schedule each ms; else the timeout checks, an eighth of the timeout
 * apart (datagrams: at most 10 ms, streams: 100 ms). */
static uint64_t tick_ns(const struct sockit__bench_engine *e)
{
    uint64_t t = (uint64_t)e->cfg->timeout_ms * 1000000 / 8;
    uint64_t most = e->stream ? TICK_STREAM_NS : TICK_DGRAM_NS;

    if (e->interval_ns)
        return TICK_RATE_NS;
    return t < TICK_RATE_NS ? TICK_RATE_NS : t > most ? most : t;
}

static int start_timers(struct sockit__bench_engine *e)
{
    uint64_t tick = tick_ns(e);
    int64_t t = (int64_t)sockit_clock_ns(); /* the loop's clock is from before the run */
    int err;

    sockit_timer_init(&e->tick, on_tick, e);
    sockit_timer_init(&e->end, on_end, e);
    err = sockit_timer_start(e->loop, &e->tick, tick, tick);
    if (!err && e->w->end_ns)
        err = sockit_timer_start(e->loop, &e->end,
                                 (uint64_t)(e->w->end_ns > t ? e->w->end_ns - t : 0), 0);
    return err;
}

/* Open every connection, from the first round of the loop, so that the loop's clock (send
 * stamps, the --rate schedule) is the run's. */
static void start_conns(struct sockit_loop *loop, void *data)
{
    struct sockit__bench_engine *e = data;

    (void)loop;
    e->progress_ns = now(e);
    for (unsigned long i = 0; i < e->w->nconns; i++) {
        struct bconn *c = &e->conns[i];
        /* Spread the intended send times so --rate does not start with a burst. */
        c->next_send = now(e) + (e->interval_ns * (int64_t)(e->w->first_conn + i)) /
                                    (int64_t)e->cfg->connections;
        if (e->cfg->mode == SOCKIT_BENCH_CONNECT)
            connect_step(c);
        else if (open_conn(c) == 0)
            pump(c);
    }
    check_done(e);
}

/* The output bounds of every stream of E. */
static struct sockit_stream_limits stream_limits(const struct sockit__bench_engine *e)
{
    size_t size = e->cfg->size;

    if (e->streaming) /* the queue counts what is in flight too (io_uring): keep it deep */
        return (struct sockit_stream_limits){ .low_water = size * (BULK_QUEUE / 2),
                                              .high_water = size * BULK_QUEUE - 1,
                                              .max_output = size * (BULK_QUEUE + 2) };
    /* Room for every message in flight, which a big one needs. */
    return (struct sockit_stream_limits){ .low_water = 16 * 1024,
                                          .high_water = 64 * 1024,
                                          .max_output = (8u << 20) + e->depth * size };
}

int sockit__bench_worker_init(struct sockit__bench_worker *w)
{
    const struct sockit_bench_config *cfg = w->cfg;
    struct sockit_loop_options lo = { .backend = cfg->backend };
    struct sockit__bench_engine *e = calloc(1, sizeof(*e));
    int err;

    /* One bulk stream measured 10-15 % slower on io_uring than on epoll, ping-pong 10 % faster
     * (docs/benchmarks.md): unless told, streaming modes take epoll. */
    if (lo.backend == SOCKIT_BACKEND_AUTO &&
        (cfg->mode == SOCKIT_BENCH_BULK || cfg->mode == SOCKIT_BENCH_SEND))
        lo.backend = SOCKIT_BACKEND_EPOLL;
    if (!e)
        return -ENOMEM;
    w->engine = e;
    *e = (struct sockit__bench_engine){ .w = w,
                                        .cfg = cfg,
                                        .stream = sockit_endpoint_is_stream(&cfg->endpoint),
                                        .msg = w->msg,
                                        .chunk = w->chunk };
    e->streaming = cfg->mode == SOCKIT_BENCH_BULK || cfg->mode == SOCKIT_BENCH_SEND;
    e->depth = cfg->mode == SOCKIT_BENCH_PIPELINE ? (unsigned)cfg->depth : 1;
    if ((err = sockit_loop_new(&e->loop, &lo)) < 0)
        return err;
    if (!(e->conns = calloc(w->nconns, sizeof(*e->conns))))
        return -ENOMEM;
    if (cfg->rate > 0)
        e->interval_ns = (int64_t)(1e9 * (double)cfg->connections / cfg->rate);
    e->limits = stream_limits(e);
    for (unsigned long i = 0; i < w->nconns; i++) {
        e->conns[i].e = e;
        if (!(e->conns[i].stamps = calloc(e->depth, sizeof(int64_t))))
            return -ENOMEM;
    }
    return 0;
}

/* Close what is open and free the loop (which runs the last on_close calls). */
static void teardown(struct sockit__bench_engine *e)
{
    e->ending = true;
    for (unsigned long i = 0; e->conns && i < e->w->nconns; i++) {
        if (e->cfg->mode == SOCKIT_BENCH_SEND && e->conns[i].s)
            count_sent(&e->conns[i]);
        give_up(&e->conns[i]);
        close_conn(&e->conns[i]);
    }
    if (e->loop) {
        sockit_timer_stop(e->loop, &e->tick);
        sockit_timer_stop(e->loop, &e->end);
        pthread_mutex_lock(e->w->lock); /* keep sockit_bench_stop off a loop being freed */
        sockit_loop_free(e->loop);
        e->loop = NULL;
        pthread_mutex_unlock(e->w->lock);
    }
}

void sockit__bench_worker_stop(struct sockit__bench_worker *w)
{
    pthread_mutex_lock(w->lock);
    if (w->engine && w->engine->loop)
        sockit_loop_stop(w->engine->loop);
    pthread_mutex_unlock(w->lock);
}

void sockit__bench_worker_free(struct sockit__bench_worker *w)
{
    struct sockit__bench_engine *e = w->engine;

    if (!e)
        return;
    if (e->loop)
        sockit_loop_free(e->loop);
    for (unsigned long i = 0; e->conns && i < w->nconns; i++)
        free(e->conns[i].stamps);
    free(e->conns);
    free(e);
    w->engine = NULL;
}

void *sockit__bench_worker_run(void *arg)
{
    struct sockit__bench_worker *w = arg;
    struct sockit__bench_engine *e = w->engine;
    int err = start_timers(e);

    if (err) {
        note_error(e, "timer", err);
        teardown(e);
        return NULL;
    }
    sockit_loop_defer(e->loop, &e->begin, start_conns, e);
    err = sockit_loop_run(e->loop);
    if (err < 0)
        note_error(e, "loop", err);
    teardown(e);
    return NULL;
}
