/* One bench worker: an epoll loop over its share of the connections. Each connection keeps up
 * to DEPTH messages in flight and stamps each with its send time (with --rate: its intended
 * send time, so a stalled server shows up as latency instead of hiding it: no coordinated
 * omission). A reply is SIZE bytes back on a stream, or one datagram. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "sockit/clock.h"
#include "sockit/socket.h"

#define RX_BUF     (256 * 1024)
#define BULK_QUEUE 4 /* bulk: writes of SIZE kept queued per connection */

struct bconn {
    int fd;             /* -1 when closed */
    bool armed_out;     /* EPOLLOUT registered */
    bool rx_done;       /* send mode: the sink ended its side; stop reading */
    bool connect_sent;  /* connect mode: request written */
    unsigned inflight;  /* messages sent and not yet answered */
    unsigned head;      /* oldest stamp */
    size_t out_pending; /* bytes still to write */
    size_t rx;          /* bytes of the current reply received so far */
    int64_t next_send;  /* --rate: intended time of the next message */
    int64_t *stamps;    /* DEPTH send times, a ring */
};

struct engine {
    struct bench_worker *w;
    const struct bench_config *cfg;
    int epfd;
    bool stream;
    unsigned depth;
    struct bconn *conns;
    unsigned long open; /* connections still usable */
    char *msg;          /* a source of payload bytes (depth * size, or one bulk write) */
    size_t msg_len;
    char *rx;
    unsigned long long issued; /* messages (bulk: bytes) started, against the quota */
    int64_t interval_ns;       /* --rate: per-connection gap between messages */
    int64_t now;
};

static void note_error(struct engine *e, const char *op, int err)
{
    struct bench_result *r = &e->w->result;
    if (r->first_error == 0) {
        r->first_error = err;
        r->first_error_op = op;
    }
    atomic_fetch_add_explicit(&e->w->live->errors, 1, memory_order_relaxed);
}

static void close_conn(struct engine *e, struct bconn *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->inflight = 0;
    c->out_pending = 0;
    c->rx = 0;
    e->open--;
}

static void fail_conn(struct engine *e, struct bconn *c, const char *op, int err)
{
    if (err == 0 || err == -ECONNRESET) { /* end of stream or reset: the server let go */
        e->w->result.closed_by_server++;
        note_error(e, "recv", -ECONNRESET);
    } else {
        e->w->result.io_errors++;
        note_error(e, op, err);
    }
    close_conn(e, c);
}

static int arm(struct engine *e, struct bconn *c, bool out, int op)
{
    struct epoll_event ev = { .events = (c->rx_done ? 0u : EPOLLIN) | (out ? EPOLLOUT : 0u),
                              .data.ptr = c };
    c->armed_out = out;
    return epoll_ctl(e->epfd, op, c->fd, &ev);
}

static int open_conn(struct engine *e, struct bconn *c)
{
    struct sockit_sockopts o = { .flags = SOCKIT_NONBLOCK | SOCKIT_NODELAY, .timeout_ms = 5000 };
    int fd = sockit_socket_connect_addr(&e->cfg->addr, sockit_endpoint_socktype(&e->cfg->ep), &o);

    if (fd < 0) {
        e->w->result.connect_errors++;
        note_error(e, "connect", fd);
        return fd;
    }
    c->fd = fd;
    c->connect_sent = false;
    e->open++;
    if (arm(e, c, false, EPOLL_CTL_ADD) < 0) {
        close_conn(e, c);
        return -errno;
    }
    return 0;
}

static bool quota_left(const struct engine *e, unsigned long long n)
{
    return e->w->quota == 0 || e->issued + n <= e->w->quota;
}

/* Queue as many new messages as depth, quota and --rate allow. */
static void fill(struct engine *e, struct bconn *c)
{
    const struct bench_config *cfg = e->cfg;

    if (cfg->mode == BENCH_BULK || cfg->mode == BENCH_SEND) {
        while (c->out_pending < BULK_QUEUE * cfg->size && quota_left(e, cfg->size)) {
            c->out_pending += cfg->size;
            e->issued += cfg->size;
        }
        return;
    }
    while (c->inflight < e->depth && quota_left(e, 1)) {
        int64_t stamp = e->now;
        if (e->interval_ns) {
            if (c->next_send > e->now)
                break;
            stamp = c->next_send;
            c->next_send += e->interval_ns;
        }
        c->stamps[(c->head + c->inflight) % e->depth] = stamp;
        c->inflight++;
        c->out_pending += cfg->size;
        e->issued++;
    }
}

/* Send mode: what the kernel took is the measure (it waits in socket buffers of a few MiB
 * at most, so over a long run the figure is the delivered rate). */
static void count_sent(struct engine *e, size_t n)
{
    struct bench_result *r = &e->w->result;
    unsigned long long before = r->bytes / e->cfg->size;

    r->bytes += n;
    atomic_fetch_add_explicit(&e->w->live->bytes, n, memory_order_relaxed);
    unsigned long long whole = r->bytes / e->cfg->size - before;
    r->messages += whole;
    atomic_fetch_add_explicit(&e->w->live->messages, whole, memory_order_relaxed);
}

static void flush_stream(struct engine *e, struct bconn *c)
{
    while (c->out_pending > 0) {
        size_t n = c->out_pending < e->msg_len ? c->out_pending : e->msg_len;
        ssize_t w = sockit_send_all(c->fd, e->msg, n, NULL);
        if (w < 0 && w != -EAGAIN) {
            fail_conn(e, c, "send", (int)w);
            return;
        }
        if (w > 0) {
            c->out_pending -= (size_t)w;
            if (e->cfg->mode == BENCH_SEND)
                count_sent(e, (size_t)w);
        }
        if (w < (ssize_t)n) { /* the socket is full: EPOLLOUT brings us back */
            if (!c->armed_out)
                arm(e, c, true, EPOLL_CTL_MOD);
            return;
        }
    }
    if (c->armed_out)
        arm(e, c, false, EPOLL_CTL_MOD);
}

/* A datagram socket sends each queued message as its own datagram. */
static void flush_dgram(struct engine *e, struct bconn *c)
{
    while (c->out_pending >= e->cfg->size) {
        ssize_t w = sockit_dgram_send(c->fd, e->msg, e->cfg->size, NULL, NULL);
        if (w == -EAGAIN)
            return; /* the kernel dropped nothing: retry on the next round */
        if (w < 0) {
            fail_conn(e, c, "send", (int)w);
            return;
        }
        c->out_pending -= e->cfg->size;
    }
}

/* Queue and send until the socket is full, nothing more may be sent, or (streaming modes) a
 * fair share was written this round, in which case EPOLLOUT brings us back. */
static void pump(struct engine *e, struct bconn *c)
{
    for (int i = 0; i < 16; i++) {
        if (c->fd < 0)
            return;
        fill(e, c);
        if (!e->stream) {
            flush_dgram(e, c);
            return;
        }
        size_t queued = c->out_pending;
        flush_stream(e, c);
        if (c->fd < 0 || c->out_pending > 0 || queued == 0)
            return; /* the socket is full (EPOLLOUT is armed), or nothing was due */
    }
    if (!c->armed_out)
        arm(e, c, true, EPOLL_CTL_MOD);
}

static void complete(struct engine *e, struct bconn *c, unsigned long long n)
{
    struct bench_result *r = &e->w->result;

    for (unsigned long long i = 0; i < n && c->inflight > 0; i++) {
        int64_t lat = e->now - c->stamps[c->head];
        sockit_hist_add(&r->latency, lat > 0 ? (uint64_t)lat : 0);
        c->head = (c->head + 1) % e->depth;
        c->inflight--;
    }
    r->messages += n;
    atomic_fetch_add_explicit(&e->w->live->messages, n, memory_order_relaxed);
}

/* Bytes arrived on a stream: count whole replies. */
static void on_stream_bytes(struct engine *e, struct bconn *c, size_t n)
{
    const struct bench_config *cfg = e->cfg;
    struct bench_result *r = &e->w->result;

    if (cfg->mode == BENCH_SEND)
        return; /* one-way: whatever comes back is read and dropped */
    r->bytes += n;
    atomic_fetch_add_explicit(&e->w->live->bytes, n, memory_order_relaxed);
    c->rx += n;
    if (cfg->mode == BENCH_BULK) {
        unsigned long long whole = c->rx / cfg->size;
        c->rx %= cfg->size;
        r->messages += whole;
        atomic_fetch_add_explicit(&e->w->live->messages, whole, memory_order_relaxed);
        return;
    }
    unsigned long long whole = c->rx / cfg->size;
    c->rx %= cfg->size;
    complete(e, c, whole);
}

static void read_stream(struct engine *e, struct bconn *c)
{
    for (int round = 0; round < 4; round++) {
        ssize_t n = recv(c->fd, e->rx, RX_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n == 0 && e->cfg->mode == BENCH_SEND) {
            c->rx_done = true; /* a sink may end its side; we only send */
            arm(e, c, c->armed_out, EPOLL_CTL_MOD);
            return;
        }
        if (n <= 0) {
            fail_conn(e, c, "recv", n == 0 ? 0 : -errno);
            return;
        }
        on_stream_bytes(e, c, (size_t)n);
        if ((size_t)n < RX_BUF)
            return;
    }
}

static void read_dgram(struct engine *e, struct bconn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, e->rx, RX_BUF, MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            fail_conn(e, c, "recv", -errno);
            return;
        }
        e->w->result.bytes += (unsigned long long)n;
        atomic_fetch_add_explicit(&e->w->live->bytes, (unsigned long long)n, memory_order_relaxed);
        complete(e, c, 1);
    }
}

/* Connect mode: connect, send one message, read its echo, close, record, start again. The
 * slot's connection is closed and reopened within this call, so `open` only drops for good
 * when the quota or the time is used up, or the server stops answering. */
static void connect_step(struct engine *e, struct bconn *c)
{
    if (c->fd >= 0 && c->inflight == 0)
        close_conn(e, c); /* the exchange is done: a new connection per message */
    if (c->fd >= 0 || !quota_left(e, 1) || (e->w->end_ns && e->now >= e->w->end_ns))
        return;
    c->head = 0;
    e->now = sockit_clock_ns();
    int64_t started = e->now;
    if (open_conn(e, c) < 0)
        return;
    c->stamps[0] = started;
    c->inflight = 1;
    c->out_pending = e->cfg->size;
    e->issued++;
    flush_stream(e, c);
}

static void on_event(struct engine *e, struct bconn *c, uint32_t events)
{
    if (c->fd < 0)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (e->stream)
            read_stream(e, c);
        else
            read_dgram(e, c);
    }
    if (e->cfg->mode == BENCH_CONNECT) {
        if (c->fd >= 0 && (events & EPOLLOUT))
            flush_stream(e, c);
        connect_step(e, c);
        return;
    }
    pump(e, c);
}

/* Datagrams that got no reply within the timeout are lost: free their slots. */
static void expire_dgrams(struct engine *e)
{
    int64_t limit = (int64_t)e->cfg->timeout_ms * 1000000;

    for (unsigned long i = 0; i < e->w->nconns; i++) {
        struct bconn *c = &e->conns[i];
        while (c->fd >= 0 && c->inflight > 0 && e->now - c->stamps[c->head] > limit) {
            c->head = (c->head + 1) % e->depth;
            c->inflight--;
            e->w->result.lost++;
            atomic_fetch_add_explicit(&e->w->live->errors, 1, memory_order_relaxed);
        }
        pump(e, c);
    }
}

static bool finished(const struct engine *e)
{
    if (e->open == 0 || atomic_load_explicit(&e->w->live->stop, memory_order_relaxed))
        return true;
    if (e->w->end_ns && e->now >= e->w->end_ns)
        return true;
    if (e->cfg->mode == BENCH_BULK && e->w->quota)
        return e->w->result.bytes >= e->w->quota; /* every byte echoed back */
    if (!e->w->quota || e->issued < e->w->quota)
        return false;
    for (unsigned long i = 0; i < e->w->nconns; i++) {
        if (e->conns[i].fd >= 0 && (e->conns[i].inflight > 0 || e->conns[i].out_pending > 0))
            return false;
    }
    return true;
}

static int setup(struct engine *e, struct bench_worker *w)
{
    const struct bench_config *cfg = w->cfg;

    e->w = w;
    e->cfg = cfg;
    e->stream = sockit_endpoint_is_stream(&cfg->ep);
    e->depth = cfg->mode == BENCH_PIPELINE ? (unsigned)cfg->depth : 1;
    e->msg_len =
        (cfg->mode == BENCH_BULK || cfg->mode == BENCH_SEND) ? cfg->size : cfg->size * e->depth;
    e->msg = malloc(e->msg_len ? e->msg_len : 1);
    e->rx = malloc(RX_BUF);
    e->conns = calloc(w->nconns, sizeof(*e->conns));
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!e->msg || !e->rx || !e->conns || e->epfd < 0)
        return -ENOMEM;
    memset(e->msg, 'x', e->msg_len);
    if (cfg->rate > 0)
        e->interval_ns = (int64_t)(1e9 * (double)cfg->connections / cfg->rate);
    for (unsigned long i = 0; i < w->nconns; i++) {
        e->conns[i].fd = -1;
        e->conns[i].stamps = calloc(e->depth, sizeof(int64_t));
        if (!e->conns[i].stamps)
            return -ENOMEM;
    }
    return 0;
}

static void start_conns(struct engine *e)
{
    e->now = sockit_clock_ns();
    for (unsigned long i = 0; i < e->w->nconns; i++) {
        struct bconn *c = &e->conns[i];
        /* Spread the intended send times so --rate does not start with a burst. */
        c->next_send = e->now + (e->interval_ns * (int64_t)(e->w->first_conn + i)) /
                                    (int64_t)e->cfg->connections;
        if (e->cfg->mode == BENCH_CONNECT)
            connect_step(e, c);
        else if (open_conn(e, c) == 0) {
            pump(e, c);
        }
    }
}

static void teardown(struct engine *e)
{
    for (unsigned long i = 0; e->conns && i < e->w->nconns; i++) {
        close_conn(e, &e->conns[i]);
        free(e->conns[i].stamps);
    }
    if (e->epfd >= 0)
        close(e->epfd);
    free(e->conns);
    free(e->msg);
    free(e->rx);
}

void *bench_epoll_worker_run(void *arg)
{
    struct bench_worker *w = arg;
    struct engine e = { .epfd = -1 };
    struct epoll_event evs[256];
    int err = setup(&e, w);

    if (err) {
        note_error(&e, "setup", err);
        teardown(&e);
        return NULL;
    }
    start_conns(&e);
    int timeout = e.interval_ns ? 1 : e.stream ? 100 : 10;
    int64_t next_expire = e.now;
    while (!finished(&e)) {
        int n = epoll_wait(e.epfd, evs, 256, timeout);
        e.now = sockit_clock_ns();
        for (int i = 0; i < n; i++)
            on_event(&e, evs[i].data.ptr, evs[i].events);
        if (e.interval_ns || (!e.stream && e.now >= next_expire)) {
            next_expire = e.now + 10000000;
            if (e.stream)
                for (unsigned long i = 0; i < w->nconns; i++)
                    pump(&e, &e.conns[i]);
            else
                expire_dgrams(&e);
        }
    }
    teardown(&e);
    return NULL;
}
