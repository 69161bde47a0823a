/* Test support for the stream unit tests: see stream_peer.h. */
#include "stream_peer.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"

/* ---------------------------------------------------------------- transports */

void set_bufs(int fd, int size)
{
    if (size <= 0)
        return;
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
}

void set_nonblock(int fd)
{
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

int tcp_listener(bool v6, int backlog, struct sockit_addr *a)
{
    int l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(l, 0, "socket: %s", strerror(errno));
    *a = (struct sockit_addr){ 0 };
    if (v6) {
        a->u.in6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_addr = in6addr_loopback };
        a->len = sizeof a->u.in6;
    } else {
        a->u.in = (struct sockaddr_in){ .sin_family = AF_INET,
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        a->len = sizeof a->u.in;
    }
    cr_assert_eq(bind(l, &a->u.sa, a->len), 0, "bind: %s", strerror(errno));
    if (backlog >= 0)
        cr_assert_eq(listen(l, backlog), 0, "listen: %s", strerror(errno));
    cr_assert_eq(getsockname(l, &a->u.sa, &a->len), 0);
    return l;
}

void connect_pair(enum transport tr, int fd[2], int bufs)
{
    if (tr == UNIX_PAIR) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0, "socketpair: %s",
                     strerror(errno));
        set_bufs(fd[0], bufs);
        set_bufs(fd[1], bufs);
    } else {
        struct sockit_addr a;
        int l = tcp_listener(false, -1, &a);
        set_bufs(l, bufs); /* inherited by the accepted socket */
        cr_assert_eq(listen(l, 1), 0);
        fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd[1], 0);
        set_bufs(fd[1], bufs);
        cr_assert_eq(connect(fd[1], &a.u.sa, a.len), 0, "connect: %s", strerror(errno));
        fd[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(fd[0], 0, "accept: %s", strerror(errno));
        close(l);
    }
    set_nonblock(fd[1]);
}

size_t inq(int fd)
{
    int n = 0;
    cr_assert_eq(ioctl(fd, SIOCINQ, &n), 0, "SIOCINQ: %s", strerror(errno));
    return (size_t)n;
}

size_t outq(int fd)
{
    int n = 0;
    cr_assert_eq(ioctl(fd, SIOCOUTQ, &n), 0, "SIOCOUTQ: %s", strerror(errno));
    return (size_t)n;
}

unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    h_fill(p, len, seed);
    return p;
}

/* ---------------------------------------------------------------- byte accounting */

void bytes_add(struct bytes *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

void expect_bytes(const struct bytes *got, const unsigned char *want, size_t len, const char *what)
{
    cr_assert_eq(got->n, len, "%s: %zu bytes, expected %zu", what, got->n, len);
    for (size_t i = 0; i < len; i++)
        if (got->p[i] != want[i])
            cr_assert_fail("%s: first difference at byte %zu of %zu", what, i, len);
}

/* ---------------------------------------------------------------- the stream's callbacks */

static void sx_on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct sx *x = ud;
    cr_assert_eq(s, x->s, "on_data for another stream");
    if (x->eof_calls)
        x->data_after_eof = true;
    if (x->connect_calls == 0)
        x->data_before_connect++;
    if (len == 0) {
        x->eof_calls++;
        x->eof_while_stopped += x->stopped;
        if (x->on_eof)
            x->on_eof(x);
        return;
    }
    cr_assert_not_null(data);
    x->data_calls++;
    x->data_while_stopped += x->stopped;
    bytes_add(&x->in, data, len);
    if (x->after_data)
        x->after_data(x);
}

static void sx_on_drain(struct sockit_stream *s, void *ud)
{
    struct sx *x = ud;
    cr_assert_eq(s, x->s);
    x->drain_calls++;
    x->pending_at_drain = sockit_stream_pending(s);
    x->data_calls_at_drain = x->data_calls;
    if (x->on_drain_hook)
        x->on_drain_hook(x);
}

void sx_on_close(struct sockit_stream *s, int err, void *ud)
{
    struct sx *x = ud;
    cr_assert_eq(s, x->s, "on_close for a stream already closed, or another one");
    x->close_calls++;
    x->close_err = err;
    x->closed_at = sockit_loop_now(x->loop);
    x->s = NULL;
    sockit_timer_stop(x->loop, &x->deadline);
}

static void sx_on_connect(struct sockit_stream *s, void *ud)
{
    struct sx *x = ud;
    cr_assert_eq(s, x->s, "on_connect for another stream");
    x->connect_calls++;
    if (x->on_connect_hook)
        x->on_connect_hook(x);
}

const struct sockit_stream_ops sx_ops = { .on_data = sx_on_data,
                                          .on_drain = sx_on_drain,
                                          .on_close = sx_on_close,
                                          .on_connect = sx_on_connect };

/* ---------------------------------------------------------------- the peer */

static void peer_update(struct sx *x);

static void peer_write(struct sx *x, int fd)
{
    while (x->out_off < x->nout) {
        ssize_t n = send(fd, x->out + x->out_off, x->nout - x->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            x->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            x->peer_err = -errno;
        break;
    }
    if (x->out_off == x->nout && x->peer_shut_after)
        shutdown(fd, SHUT_WR);
}

bool peer_drain(struct sx *x, int fd)
{
    static char buf[65536];
    bool got = false;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            bytes_add(&x->pin, buf, (size_t)n);
            got = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            x->peer_eof = true;
            x->peer_reading = false;
        } else if (errno != EAGAIN) {
            x->peer_err = -errno;
            x->peer_reading = false;
        }
        return got;
    }
}

static void peer_io(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct sx *x = data;
    (void)loop;
    if ((events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR)) && x->out_off < x->nout)
        peer_write(x, fd);
    if ((events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR)) && x->peer_reading) {
        if (peer_drain(x, fd) && x->after_peer_read)
            x->after_peer_read(x);
        if (x->peer_eof && x->on_peer_eof) {
            sx_hook *h = x->on_peer_eof;
            x->on_peer_eof = NULL;
            h(x);
        }
    }
    peer_update(x);
}

/* Watch the peer for what it still has to do; unwatch it when it is done. */
static void peer_update(struct sx *x)
{
    unsigned ev =
        (x->peer_reading ? SOCKIT_EV_READ : 0u) | (x->out_off < x->nout ? SOCKIT_EV_WRITE : 0u);
    if (x->peer_err || x->fd[1] < 0)
        ev = 0;
    if (ev) {
        int rc = sockit_loop_watch(x->loop, x->fd[1], ev, peer_io, x);
        cr_assert_eq(rc, 0, "watch peer: %d (%s)", rc, sockit_strerror(rc));
        x->peer_watched = true;
    } else if (x->peer_watched) {
        sockit_loop_unwatch(x->loop, x->fd[1]);
        x->peer_watched = false;
    }
}

void peer_send(struct sx *x, const void *data, size_t len, bool shut)
{
    x->out = data;
    x->nout = len;
    x->out_off = 0;
    x->peer_shut_after = shut;
    peer_update(x);
}

void peer_read(struct sx *x)
{
    x->peer_reading = true;
    peer_update(x);
}

/* ---------------------------------------------------------------- open, run, close */

void on_deadline(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    (void)t;
    x->timed_out = true;
    sockit_loop_stop(loop);
}

void sx_open_on(struct sx *x, struct sockit_loop *loop, enum transport tr, int bufs,
                const struct sockit_stream_limits *limits)
{
    *x = (struct sx){ .tr = tr, .loop = loop };
    connect_pair(tr, x->fd, bufs);
    int rc = sockit_stream_open(x->loop, x->fd[0], &sx_ops, x, limits, &x->s);
    cr_assert_eq(rc, 0, "sockit_stream_open: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_not_null(x->s);
    cr_assert_eq(sockit_stream_fd(x->s), x->fd[0]);
    cr_assert_eq(sockit_stream_pending(x->s), 0);
    x->connect_calls = 1; /* an opened stream is connected: on_data may come at once */
    sockit_timer_init(&x->deadline, on_deadline, x);
    cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
}

static void stop_loop(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)t;
    (void)data;
    sockit_loop_stop(loop);
}

void run_briefly(struct sx *x, int ms)
{
    struct sockit_timer t;
    bool deadline = sockit_timer_active(&x->deadline);
    sockit_timer_stop(x->loop, &x->deadline);
    sockit_timer_init(&t, stop_loop, NULL);
    cr_assert_eq(sockit_timer_start(x->loop, &t, (uint64_t)ms * MS, 0), 0);
    run_ok(x->loop);
    sockit_timer_stop(x->loop, &t);
    if (deadline && x->s)
        cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
}

void sx_run(struct sx *x, const char *waiting_for)
{
    if (!sockit_timer_active(&x->deadline))
        cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
    run_ok(x->loop);
    cr_assert_not(x->timed_out,
                  "timed out after 3 s waiting for %s (stream in %zu B, %d data calls, %d EOF, "
                  "%d drain, %d close (err %d); peer read %zu B, sent %zu of %zu, eof %d, err %d)",
                  waiting_for, x->in.n, x->data_calls, x->eof_calls, x->drain_calls, x->close_calls,
                  x->close_err, x->pin.n, x->out_off, x->nout, x->peer_eof, x->peer_err);
}

void sx_free(struct sx *x)
{
    if (x->fd[1] >= 0)
        close(x->fd[1]);
    free(x->in.p);
    free(x->pin.p);
}

void sx_close(struct sx *x)
{
    sockit_loop_free(x->loop); /* closes the stream if the test left it open */
    sx_free(x);
}

/* ---------------------------------------------------------------- hooks shared by tests */

void close_stream(struct sx *x)
{
    if (x->s)
        sockit_stream_close(x->s);
}

void close_stream_after_flush(struct sx *x)
{
    if (x->s)
        sockit_stream_close_after_flush(x->s);
}
