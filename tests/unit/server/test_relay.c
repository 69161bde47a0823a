/* Unit tests for relays (sockit/relay.h), on every backend (backends.h): bulk both ways with
 * distinct patterns checked byte for byte, half-close each way, a slow side that stops the
 * other from being read with bounded memory, a reset that closes the other side, an outbound
 * side made with sockit_stream_connect, plain fds (pipes and regular files) and a datagram
 * side. The peers are the test's own non-blocking fds, driven from the same loop by watchers,
 * so each run is single-threaded; a deadline timer turns a hang into a failure. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "../loop/backends.h"
#include "sockit/relay.h"
#include "sockit/socket.h"

/* ---------------------------------------------------------------- peers */

/* The test's end of one side: writes OUT (then ends its output if asked), reads into IN. */
struct peer {
    struct sockit_loop *loop;
    int rfd, wfd; /* the same fd for a socket; -1 once closed */
    const unsigned char *out;
    size_t out_len, sent;
    bool end_when_sent; /* shutdown(SHUT_WR), or close a pipe, after the last byte */
    bool reading;       /* false: a peer that does not read (a slow side) */
    unsigned char *in;
    size_t in_len, in_cap;
    bool eof;
    int err; /* -errno of a failed read or write */
};

static void peer_ready(struct sockit_loop *loop, int fd, unsigned events, void *data);

static void peer_watch(struct peer *p, int fd, unsigned events)
{
    if (fd >= 0)
        cr_assert_eq(sockit_loop_watch(p->loop, fd, events, peer_ready, p), 0, "watch %d", fd);
}

static void peer_update(struct peer *p)
{
    unsigned rd = p->reading && !p->eof ? SOCKIT_EV_READ : 0;
    unsigned wr = p->sent < p->out_len ? SOCKIT_EV_WRITE : 0;

    if (p->rfd == p->wfd) {
        peer_watch(p, p->rfd, rd | wr);
        return;
    }
    peer_watch(p, p->rfd, rd);
    peer_watch(p, p->wfd, wr);
}

static void peer_read(struct peer *p)
{
    for (;;) {
        if (p->in_cap - p->in_len < 65536) {
            p->in_cap = p->in_cap ? p->in_cap * 2 : 1 << 20;
            p->in = realloc(p->in, p->in_cap);
            cr_assert_not_null(p->in);
        }
        ssize_t n = read(p->rfd, p->in + p->in_len, 65536);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            p->err = n < 0 ? -errno : 0;
            p->eof = true;
            return;
        }
        p->in_len += (size_t)n;
    }
}

static void peer_end_output(struct peer *p)
{
    if (p->rfd == p->wfd) {
        shutdown(p->wfd, SHUT_WR);
        return;
    }
    sockit_loop_unwatch(p->loop, p->wfd);
    close(p->wfd);
    p->wfd = -1;
}

static void peer_write(struct peer *p)
{
    while (p->sent < p->out_len) {
        ssize_t n = write(p->wfd, p->out + p->sent, p->out_len - p->sent);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            p->err = -errno;
            p->out_len = p->sent;
            return;
        }
        p->sent += (size_t)n;
    }
    if (p->end_when_sent && p->wfd >= 0)
        peer_end_output(p);
}

static void peer_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct peer *p = data;

    (void)loop;
    if (fd == p->rfd && (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR)) && p->reading)
        peer_read(p);
    if (fd == p->wfd && (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR)))
        peer_write(p);
    peer_update(p);
}

/* Start peer P on fds RFD/WFD, sending the LEN bytes at OUT, then ending its output if END. */
static void peer_start(struct peer *p, struct sockit_loop *loop, int rfd, int wfd,
                       const unsigned char *out, size_t len, bool end)
{
    *p = (struct peer){ .loop = loop,
                        .rfd = rfd,
                        .wfd = wfd,
                        .out = out,
                        .out_len = len,
                        .end_when_sent = end,
                        .reading = true };
    cr_assert_eq(fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK), 0);
    cr_assert_eq(fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK), 0);
    if (len == 0 && p->end_when_sent)
        peer_end_output(p);
    peer_update(p);
}

static void peer_stop(struct peer *p)
{
    if (p->rfd >= 0) {
        sockit_loop_unwatch(p->loop, p->rfd);
        close(p->rfd);
    }
    if (p->wfd >= 0 && p->wfd != p->rfd) {
        sockit_loop_unwatch(p->loop, p->wfd);
        close(p->wfd);
    }
    free(p->in);
}

/* ---------------------------------------------------------------- the test context */

struct ctx {
    struct sockit_loop *loop;
    struct peer a, b; /* the test's ends of relay sides A and B */
    struct sockit_relay *relay;
    bool closed;
    struct sockit_relay_end end;
    bool (*done)(struct ctx *c); /* checked every millisecond: stop the loop when true */
    void (*tick)(struct ctx *c); /* may be NULL: called every millisecond */
    struct sockit_timer ticker, deadline;
    uint64_t started;
};

static void on_relay_close(struct sockit_relay *r, const struct sockit_relay_end *end, void *ud)
{
    struct ctx *c = ud;

    (void)r;
    cr_assert(!c->closed, "on_close ran twice");
    c->closed = true;
    c->end = *end;
    c->relay = NULL;
}

static const struct sockit_relay_ops relay_ops = { .on_close = on_relay_close };

static void on_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct ctx *c = data;

    (void)t;
    if (c->tick)
        c->tick(c);
    if (c->done(c))
        sockit_loop_stop(loop);
}

static void on_deadline(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct ctx *c = data;

    (void)loop;
    (void)t;
    cr_assert_fail(
        "deadline: relay closed %d; A sent %zu/%zu got %zu eof %d; B sent %zu/%zu got %zu "
        "eof %d",
        c->closed, c->a.sent, c->a.out_len, c->a.in_len, c->a.eof, c->b.sent, c->b.out_len,
        c->b.in_len, c->b.eof);
    sockit_loop_stop(loop);
}

static void ctx_init(struct ctx *c, bool (*done)(struct ctx *c))
{
    signal(SIGPIPE, SIG_IGN);
    *c = (struct ctx){ .loop = new_loop(), .done = done };
    c->a.rfd = c->a.wfd = c->b.rfd = c->b.wfd = -1;
    sockit_timer_init(&c->ticker, on_tick, c);
    sockit_timer_init(&c->deadline, on_deadline, c);
    cr_assert_eq(sockit_timer_start(c->loop, &c->ticker, MS, MS), 0);
    cr_assert_eq(sockit_timer_start(c->loop, &c->deadline, 8000 * MS, 0), 0);
    c->started = mono_ns();
}

static void ctx_run(struct ctx *c)
{
    run_ok(c->loop);
    sockit_timer_stop(c->loop, &c->ticker);
    sockit_timer_stop(c->loop, &c->deadline);
}

static void ctx_free(struct ctx *c)
{
    if (c->relay)
        sockit_relay_close(c->relay);
    peer_stop(&c->a);
    peer_stop(&c->b);
    sockit_loop_free(c->loop);
}

/* ---------------------------------------------------------------- sides */

static void no_data(struct sockit_stream *s, const void *d, size_t n, void *ud)
{
    (void)s, (void)d, (void)ud;
    cr_assert_fail("the stream's first callbacks got %zu bytes after the relay took it", n);
}

static void no_close(struct sockit_stream *s, int err, void *ud)
{
    (void)s, (void)ud;
    cr_assert_fail("the stream's first on_close ran (%d) after the relay took it", err);
}

static const struct sockit_stream_ops first_ops = { .on_data = no_data, .on_close = no_close };

/* A stream on FD, as a program would open it before handing it to a relay. */
static struct sockit_relay_side stream_side(struct sockit_loop *loop, int fd)
{
    struct sockit_relay_side d = { .kind = SOCKIT_RELAY_STREAM };

    cr_assert_eq(sockit_stream_open(loop, fd, &first_ops, NULL, NULL, &d.stream), 0);
    return d;
}

/* A connected TCP pair over loopback: fd[0] for the relay, fd[1] for the peer. */
static void tcp_pair(int fd[2])
{
    char text[64];
    struct sockit_endpoint ep;
    struct sockit_sockopts o = { .flags = SOCKIT_REUSEADDR };

    snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", h_free_port());
    cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
    int l = sockit_socket_listen(&ep, &o, NULL);
    cr_assert_geq(l, 0, "listen %s: %s", text, sockit_strerror(l));
    fd[1] = sockit_socket_connect(&ep, &o, NULL);
    cr_assert_geq(fd[1], 0, "connect %s: %s", text, sockit_strerror(fd[1]));
    fd[0] = sockit_socket_accept(l, &o, NULL);
    cr_assert_geq(fd[0], 0, "accept: %s", sockit_strerror(fd[0]));
    close(l);
}

static void small_buffers(int fd, int size)
{
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len ? len : 1);

    cr_assert_not_null(p);
    h_fill(p, len, seed);
    return p;
}

static void open_relay(struct ctx *c, const struct sockit_relay_side *a,
                       const struct sockit_relay_side *b)
{
    int rc = sockit_relay_open(c->loop, a, b, &relay_ops, c, NULL, &c->relay);

    cr_assert_eq(rc, 0, "sockit_relay_open: %s", sockit_strerror(rc));
}

/* The context (ending when DONE says so) and a relay between two streams, each over a unix
 * pair or (TCP_A, TCP_B) loopback TCP; the test's ends are PA[1] and PB[1]. */
static void stream_relay(struct ctx *c, bool (*done)(struct ctx *c), bool tcp_a, bool tcp_b,
                         int pa[2], int pb[2])
{
    ctx_init(c, done);
    if (tcp_a)
        tcp_pair(pa);
    else
        pair(pa);
    if (tcp_b)
        tcp_pair(pb);
    else
        pair(pb);
    struct sockit_relay_side a = stream_side(c->loop, pa[0]), b = stream_side(c->loop, pb[0]);
    open_relay(c, &a, &b);
}

/* ---------------------------------------------------------------- checks */

static bool closed_and_both_eof(struct ctx *c)
{
    return c->closed && c->a.eof && c->b.eof;
}

static bool closed_only(struct ctx *c)
{
    return c->closed;
}

/* What peer P received must be exactly WANT. */
static void expect_bytes(const struct peer *p, const char *who, const unsigned char *want,
                         size_t len)
{
    cr_assert_eq(p->in_len, len, "%s received %zu bytes, expected %zu", who, p->in_len, len);
    for (size_t i = 0; i < len; i++)
        if (p->in[i] != want[i])
            cr_assert_fail("%s: byte %zu is %u, expected %u", who, i, p->in[i], want[i]);
}

static void expect_clean_end(const struct ctx *c, size_t a_to_b, size_t b_to_a)
{
    cr_assert(c->closed, "the relay did not end");
    cr_assert_eq(c->end.err, 0, "the relay ended with %d (%s) on side %d (%s)", c->end.err,
                 sockit_strerror(c->end.err), c->end.side, c->end.op);
    cr_assert_eq(c->end.side, -1);
    cr_assert_eq(c->end.stats.a_to_b, a_to_b, "a_to_b %llu, expected %zu",
                 (unsigned long long)c->end.stats.a_to_b, a_to_b);
    cr_assert_eq(c->end.stats.b_to_a, b_to_a, "b_to_a %llu, expected %zu",
                 (unsigned long long)c->end.stats.b_to_a, b_to_a);
}

/* ---------------------------------------------------------------- bulk and half-close */

#define BULK_A (3u << 20)           /* A's peer sends 3 MiB ... */
#define BULK_B ((2u << 20) + 12345) /* ... while B's sends a bit over 2 MiB */

/* A (unix pair) and B (TCP) both send at once and end; each peer must receive exactly the
 * other's pattern, then the end of stream; the relay ends cleanly. */
LOOP_TEST(relay_moves_bulk_both_ways_exactly)
{
    struct ctx c;
    int ua[2], tb[2];
    unsigned char *pa = pattern(BULK_A, 1), *pb = pattern(BULK_B, 2);

    stream_relay(&c, closed_and_both_eof, false, true, ua, tb);
    peer_start(&c.a, c.loop, ua[1], ua[1], pa, BULK_A, true);
    peer_start(&c.b, c.loop, tb[1], tb[1], pb, BULK_B, true);
    ctx_run(&c);
    expect_clean_end(&c, BULK_A, BULK_B);
    expect_bytes(&c.b, "B's peer", pa, BULK_A);
    expect_bytes(&c.a, "A's peer", pb, BULK_B);
    cr_assert(c.a.err == 0 && c.b.err == 0, "peer errors %d %d", c.a.err, c.b.err);
    ctx_free(&c);
    free(pa);
    free(pb);
}

/* Half-close: the peer of FIRST sends a question and ends; the other peer must see both, yet
 * its answer, sent after that end, must still reach FIRST's peer; then the relay ends. */
struct half_close {
    struct ctx c;
    struct peer *asker, *answerer;
    bool answered;
};

static void answer_after_eof(struct ctx *c)
{
    struct half_close *h = (struct half_close *)c;
    static const unsigned char answer[] = "answer after your end";

    if (h->answered || !h->answerer->eof)
        return;
    cr_assert(!c->closed, "the relay ended at the first half-close");
    h->answered = true;
    h->answerer->out = answer;
    h->answerer->out_len = sizeof(answer);
    h->answerer->end_when_sent = true;
    peer_write(h->answerer);
    peer_update(h->answerer);
}

static void half_close(int first)
{
    static const unsigned char question[] = "question";
    struct half_close h = { 0 };
    int ua[2], ub[2];

    stream_relay(&h.c, closed_and_both_eof, false, false, ua, ub);
    h.c.tick = answer_after_eof;
    h.asker = first == SOCKIT_RELAY_A ? &h.c.a : &h.c.b;
    h.answerer = first == SOCKIT_RELAY_A ? &h.c.b : &h.c.a;
    for (int i = 0; i < 2; i++) {
        struct peer *p = i == SOCKIT_RELAY_A ? &h.c.a : &h.c.b;
        int fd = i == SOCKIT_RELAY_A ? ua[1] : ub[1];
        peer_start(p, h.c.loop, fd, fd, i == first ? question : NULL,
                   i == first ? sizeof(question) : 0, i == first);
    }
    ctx_run(&h.c);
    expect_bytes(h.answerer, "the answering peer", question, sizeof(question));
    expect_bytes(h.asker, "the asking peer", (const unsigned char *)"answer after your end",
                 sizeof("answer after your end"));
    ctx_free(&h.c);
}

LOOP_TEST(relay_passes_half_close_from_a)
{
    half_close(SOCKIT_RELAY_A);
}

LOOP_TEST(relay_passes_half_close_from_b)
{
    half_close(SOCKIT_RELAY_B);
}

/* ---------------------------------------------------------------- flow control */

/* B's peer does not read. Once B is full the relay must stop reading A (A's peer finds its
 * socket full and the byte count stands still) and hold at most B's high watermark plus one
 * read; when B's peer reads again, every byte arrives in order. B is a stream or a pipe. */
#define SLOW_TOTAL (8u << 20)
#define SLOW_BOUND (64u * 1024 + 256u * 1024) /* high watermark + one read chunk */

struct slow {
    struct ctx c;
    size_t max_buffered;
    uint64_t moved_then;
    int ticks;
};

static void slow_tick(struct ctx *c)
{
    struct slow *s = (struct slow *)c;
    struct sockit_relay_stats st;

    if (!c->relay || c->b.reading)
        return;
    sockit_relay_stats(c->relay, &st);
    s->max_buffered = st.buffered > s->max_buffered ? st.buffered : s->max_buffered;
    s->ticks++;
    if (s->ticks == 300)
        s->moved_then = st.a_to_b;
    if (s->ticks < 500)
        return;
    cr_assert_eq(st.a_to_b, s->moved_then, "A was still read while B was full: %llu then %llu",
                 (unsigned long long)s->moved_then, (unsigned long long)st.a_to_b);
    cr_assert_lt(c->a.sent, SLOW_TOTAL, "A's peer could send everything into a full relay");
    cr_assert_leq(s->max_buffered, SLOW_BOUND, "the relay held %zu bytes", s->max_buffered);
    c->b.reading = true; /* now drain it */
    peer_update(&c->b);
}

static bool slow_done(struct ctx *c)
{
    return c->closed && c->a.eof && c->b.in_len == SLOW_TOTAL;
}

enum slow_kind { SLOW_STREAM, SLOW_SOCKET, SLOW_PIPES };

static void slow_side(enum slow_kind kind)
{
    bool pipes = kind == SLOW_PIPES;
    struct slow s = { 0 };
    int ua[2], ub[2], pin[2], pout[2];
    unsigned char *pa = pattern(SLOW_TOTAL, 3);
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_FDS };

    ctx_init(&s.c, slow_done);
    s.c.tick = slow_tick;
    pair(ua);
    small_buffers(ua[1], 16384);
    if (pipes) {
        cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
        b.in_fd = pin[0];
        b.out_fd = pout[1];
    } else {
        pair(ub);
        small_buffers(ub[1], 16384);
        if (kind == SLOW_STREAM)
            b = stream_side(s.c.loop, ub[0]);
        else
            b = (struct sockit_relay_side){ .kind = SOCKIT_RELAY_SOCKET, .fd = ub[0] };
    }
    struct sockit_relay_side a = stream_side(s.c.loop, ua[0]);
    open_relay(&s.c, &a, &b);
    peer_start(&s.c.a, s.c.loop, ua[1], ua[1], pa, SLOW_TOTAL, true);
    peer_start(&s.c.b, s.c.loop, pipes ? pout[0] : ub[1], pipes ? pin[1] : ub[1], NULL, 0, true);
    s.c.b.reading = false;
    peer_update(&s.c.b);
    ctx_run(&s.c);
    expect_clean_end(&s.c, SLOW_TOTAL, 0);
    expect_bytes(&s.c.b, "B's peer", pa, SLOW_TOTAL);
    ctx_free(&s.c);
    if (pipes) {
        close(pin[0]);
        close(pout[1]);
    }
    free(pa);
}

LOOP_TEST(relay_slow_stream_stops_the_other_side_with_bounded_memory)
{
    slow_side(SLOW_STREAM);
}

LOOP_TEST(relay_slow_socket_stops_the_other_side_with_bounded_memory)
{
    slow_side(SLOW_SOCKET);
}

LOOP_TEST(relay_slow_pipe_stops_the_other_side_with_bounded_memory)
{
    slow_side(SLOW_PIPES);
}

/* ---------------------------------------------------------------- errors and close */

struct reset {
    struct ctx c;
    bool reset_done;
};

/* Once B's peer has the bytes, A's peer resets its connection (SO_LINGER 0, close). */
static void reset_a(struct ctx *c)
{
    struct reset *r = (struct reset *)c;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    if (r->reset_done || c->b.in_len < 5)
        return;
    r->reset_done = true;
    cr_assert_eq(setsockopt(c->a.rfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    sockit_loop_unwatch(c->loop, c->a.rfd);
    close(c->a.rfd);
    c->a.rfd = c->a.wfd = -1;
}

static bool closed_and_b_eof(struct ctx *c)
{
    return c->closed && c->b.eof;
}

LOOP_TEST(relay_reset_on_one_side_closes_the_other)
{
    struct reset r = { 0 };
    int ta[2], ub[2];

    stream_relay(&r.c, closed_and_b_eof, true, false, ta, ub);
    r.c.tick = reset_a;
    peer_start(&r.c.a, r.c.loop, ta[1], ta[1], (const unsigned char *)"hello", 5, false);
    peer_start(&r.c.b, r.c.loop, ub[1], ub[1], NULL, 0, false);
    ctx_run(&r.c);
    cr_assert_eq(r.c.end.err, -ECONNRESET, "the relay ended with %d (%s)", r.c.end.err,
                 sockit_strerror(r.c.end.err));
    cr_assert_eq(r.c.end.side, SOCKIT_RELAY_A);
    cr_assert_str_eq(r.c.end.op, "stream");
    cr_assert_eq(r.c.b.in_len, 5, "B's peer got %zu bytes before the end", r.c.b.in_len);
    ctx_free(&r.c);
}

LOOP_TEST(relay_close_cancels_and_closes_both_sides)
{
    struct ctx c;
    int ua[2], ub[2];

    stream_relay(&c, closed_and_both_eof, false, false, ua, ub);
    peer_start(&c.a, c.loop, ua[1], ua[1], NULL, 0, false);
    peer_start(&c.b, c.loop, ub[1], ub[1], NULL, 0, false);
    sockit_relay_close(c.relay);
    sockit_relay_close(c.relay); /* idempotent */
    cr_assert(!c.closed, "on_close must come from a deferred call");
    ctx_run(&c);
    cr_assert_eq(c.end.err, -ECANCELED);
    cr_assert_eq(c.end.side, -1);
    ctx_free(&c);
}

static int closes_seen;

static void count_close(struct sockit_stream *s, int err, void *ud)
{
    (void)s, (void)err, (void)ud;
    closes_seen++;
}

LOOP_TEST(relay_open_refuses_invalid_sides_and_closes_what_it_was_given)
{
    static const struct sockit_stream_ops counting = { .on_data = no_data,
                                                       .on_close = count_close };
    struct sockit_loop *loop = new_loop();
    struct sockit_relay *r = NULL;
    struct sockit_relay_side none = { .kind = SOCKIT_RELAY_STREAM };
    struct sockit_relay_side bad_fds = { .kind = SOCKIT_RELAY_FDS, .in_fd = -2, .out_fd = 1 };
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_STREAM };
    int p[2], ub[2];

    cr_assert_eq(sockit_relay_open(loop, &none, &bad_fds, &relay_ops, NULL, NULL, &r), -EINVAL);
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pair(ub);
    cr_assert_eq(sockit_stream_open(loop, ub[0], &counting, NULL, NULL, &b.stream), 0);
    struct sockit_relay_side pipe_as_socket = { .kind = SOCKIT_RELAY_SOCKET, .fd = p[0] };
    int rc = sockit_relay_open(loop, &pipe_as_socket, &b, &relay_ops, NULL, NULL, &r);
    cr_assert_eq(rc, -ENOTSOCK, "a pipe as a socket: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_eq(fcntl(p[0], F_GETFD), -1, "the relay must close the fd it was given");
    run_ok(loop);
    cr_assert_eq(closes_seen, 1, "the stream must be closed through its own callbacks");
    close(p[1]);
    close(ub[1]);
    sockit_loop_free(loop);
}

/* ---------------------------------------------------------------- outbound connects */

struct outbound {
    struct ctx c;
    int lfd;
    const unsigned char *reply;
    size_t reply_len;
};

static void on_accept_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct outbound *o = data;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    (void)events;
    cr_assert_geq(cfd, 0, "accept: %s", strerror(errno));
    sockit_loop_unwatch(loop, fd);
    peer_start(&o->c.b, loop, cfd, cfd, o->reply, o->reply_len, true);
}

/* Side B is a stream made with sockit_stream_connect and handed over before it is up: A's
 * bytes wait for the connection, then both directions flow and end. */
LOOP_TEST(relay_outbound_side_made_with_stream_connect)
{
    struct outbound o = { 0 };
    char text[64];
    struct sockit_endpoint ep;
    struct sockit_addr addr;
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_STREAM };
    int ua[2];
    unsigned char *pa = pattern(1u << 20, 4), *pb = pattern(1500000, 5);

    ctx_init(&o.c, closed_and_both_eof);
    snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", h_free_port());
    cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
    cr_assert_eq(sockit_endpoint_resolve(&ep, 0, &addr, 1), 1);
    o.lfd = sockit_socket_listen(&ep, &(struct sockit_sockopts){ .flags = SOCKIT_REUSEADDR }, NULL);
    cr_assert_geq(o.lfd, 0);
    o.reply = pb;
    o.reply_len = 1500000;
    cr_assert_eq(sockit_loop_watch(o.c.loop, o.lfd, SOCKIT_EV_READ, on_accept_ready, &o), 0);
    cr_assert_eq(sockit_stream_connect(o.c.loop, &addr, 2000, &first_ops, NULL, NULL, &b.stream),
                 0);
    pair(ua);
    struct sockit_relay_side a = stream_side(o.c.loop, ua[0]);
    open_relay(&o.c, &a, &b);
    peer_start(&o.c.a, o.c.loop, ua[1], ua[1], pa, 1u << 20, true);
    ctx_run(&o.c);
    expect_clean_end(&o.c, 1u << 20, 1500000);
    expect_bytes(&o.c.b, "the server", pa, 1u << 20);
    expect_bytes(&o.c.a, "A's peer", pb, 1500000);
    close(o.lfd);
    ctx_free(&o.c);
    free(pa);
    free(pb);
}

/* A connect that is refused ends the relay with that error, naming side B. */
LOOP_TEST(relay_refused_connect_ends_it_and_closes_the_other_side)
{
    struct ctx c;
    char text[64];
    struct sockit_endpoint ep;
    struct sockit_addr addr;
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_STREAM };
    int ua[2];

    ctx_init(&c, closed_and_both_eof);
    snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", h_free_port());
    cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
    cr_assert_eq(sockit_endpoint_resolve(&ep, 0, &addr, 1), 1);
    cr_assert_eq(sockit_stream_connect(c.loop, &addr, 2000, &first_ops, NULL, NULL, &b.stream), 0);
    pair(ua);
    struct sockit_relay_side a = stream_side(c.loop, ua[0]);
    open_relay(&c, &a, &b);
    peer_start(&c.a, c.loop, ua[1], ua[1], (const unsigned char *)"lost", 4, false);
    c.b.eof = true; /* no peer on B */
    ctx_run(&c);
    cr_assert_eq(c.end.err, -ECONNREFUSED, "ended with %d (%s)", c.end.err,
                 sockit_strerror(c.end.err));
    cr_assert_eq(c.end.side, SOCKIT_RELAY_B);
    ctx_free(&c);
}

/* ---------------------------------------------------------------- plain fds */

static bool closed_a_eof_b_has(struct ctx *c, size_t want)
{
    return c->closed && c->a.eof && c->b.in_len >= want;
}

#define PIPE_A (2u << 20)
#define PIPE_B ((1u << 20) + 777)

static bool pipes_done(struct ctx *c)
{
    return closed_a_eof_b_has(c, PIPE_A);
}

/* A stream and a pair of pipes (as stdin/stdout): bulk both ways, each end passed on (the
 * pipe's end of file half-closes the stream), and the output pipe is left open. */
LOOP_TEST(relay_joins_a_stream_and_a_pair_of_pipes)
{
    struct ctx c;
    int ua[2], pin[2], pout[2];
    unsigned char *pa = pattern(PIPE_A, 6), *pb = pattern(PIPE_B, 7);

    ctx_init(&c, pipes_done);
    pair(ua);
    cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
    struct sockit_relay_side a = stream_side(c.loop, ua[0]);
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_FDS, .in_fd = pin[0], .out_fd = pout[1] };
    open_relay(&c, &a, &b);
    peer_start(&c.a, c.loop, ua[1], ua[1], pa, PIPE_A, true);
    peer_start(&c.b, c.loop, pout[0], pin[1], pb, PIPE_B, true);
    ctx_run(&c);
    expect_clean_end(&c, PIPE_A, PIPE_B);
    expect_bytes(&c.b, "the output pipe", pa, PIPE_A);
    expect_bytes(&c.a, "A's peer", pb, PIPE_B);
    cr_assert_neq(fcntl(pout[1], F_GETFD), -1, "the relay must leave the caller's fds open");
    close(pin[0]);
    close(pout[1]);
    ctx_free(&c);
    free(pa);
    free(pb);
}

static int temp_file(const void *data, size_t len)
{
    int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    cr_assert_geq(fd, 0, "O_TMPFILE: %s", strerror(errno));
    cr_assert_eq(h_write_all(fd, data, len), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Regular files, which the loop cannot watch, are read and written directly. */
LOOP_TEST(relay_reads_and_writes_regular_files)
{
    struct ctx c;
    int ua[2];
    unsigned char *pa = pattern(700000, 8), *pf = pattern(1u << 20, 9);
    int in = temp_file(pf, 1u << 20), out = temp_file(NULL, 0);

    ctx_init(&c, closed_and_both_eof);
    pair(ua);
    struct sockit_relay_side a = stream_side(c.loop, ua[0]);
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_FDS, .in_fd = in, .out_fd = out };
    open_relay(&c, &a, &b);
    peer_start(&c.a, c.loop, ua[1], ua[1], pa, 700000, true);
    c.b.eof = true; /* the output file is read back below */
    ctx_run(&c);
    expect_clean_end(&c, 700000, 1u << 20);
    expect_bytes(&c.a, "A's peer", pf, 1u << 20);
    cr_assert_eq(lseek(out, 0, SEEK_END), 700000, "the output file's size");
    unsigned char *back = malloc(700000);
    cr_assert_eq(pread(out, back, 700000, 0), 700000);
    cr_assert_eq(memcmp(back, pa, 700000), 0, "the output file must hold A's bytes");
    free(back);
    close(in);
    close(out);
    ctx_free(&c);
    free(pa);
    free(pf);
}

/* ---------------------------------------------------------------- datagram sides */

struct dgram_case {
    struct ctx c;
    int dfd;  /* the test's datagram socket */
    int step; /* what has been checked so far */
    struct sockit_addr peer_seen;
    int peers;
    char got[64];
    size_t got_len;
};

static void on_relay_peer(struct sockit_relay *r, int side, const struct sockit_addr *peer,
                          void *ud)
{
    struct dgram_case *d = ud;

    (void)r;
    cr_assert_eq(side, SOCKIT_RELAY_A);
    d->peer_seen = *peer;
    d->peers++;
}

static const struct sockit_relay_ops dgram_relay_ops = { .on_close = on_relay_close,
                                                         .on_peer = on_relay_peer };

/* Datagrams reach the pipe whole and in order; each chunk of the pipe leaves as one datagram,
 * held back until the side has a peer; the pipe's end starts the linger, then the relay
 * ends. */
static void dgram_tick(struct ctx *c)
{
    struct dgram_case *d = (struct dgram_case *)c;
    ssize_t n;

    if (d->step == 0) {
        cr_assert_eq(d->peers == 0 && c->closed == false, true);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(send(d->dfd, (const char *[]){ "one", "two", "three" }[i],
                              strlen((const char *[]){ "one", "two", "three" }[i]), 0),
                         (ssize_t)strlen((const char *[]){ "one", "two", "three" }[i]));
        d->step = 1;
    } else if (d->step == 1 && c->b.in_len == strlen("onetwothree")) {
        n = recv(d->dfd, d->got, sizeof(d->got), MSG_DONTWAIT);
        cr_assert_eq(n, 5, "the pipe's bytes as one datagram: %zd", n);
        d->got_len = (size_t)n;
        peer_end_output(&c->b); /* end of the pipe: linger, then the end */
        d->step = 2;
    }
}

static void dgram_side(bool adopt)
{
    struct dgram_case d = { 0 };
    int pin[2], pout[2], sv[2];
    struct sockit_relay_side a = { .kind = SOCKIT_RELAY_SOCKET, .linger_ms = 50 };

    ctx_init(&d.c, closed_only);
    d.c.tick = dgram_tick;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    if (adopt) { /* an unconnected socket: the relay learns its peer from the first datagram */
        char text[64];
        struct sockit_endpoint ep;
        close(sv[0]);
        close(sv[1]);
        snprintf(text, sizeof(text), "udp://127.0.0.1:%d", h_free_port());
        cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
        sv[0] = sockit_socket_listen(&ep, &(struct sockit_sockopts){ 0 }, NULL);
        sv[1] = sockit_socket_connect(&ep, &(struct sockit_sockopts){ 0 }, NULL);
        cr_assert(sv[0] >= 0 && sv[1] >= 0);
    }
    d.dfd = sv[1];
    a.fd = sv[0];
    cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
    struct sockit_relay_side b = { .kind = SOCKIT_RELAY_FDS, .in_fd = pin[0], .out_fd = pout[1] };
    int rc = sockit_relay_open(d.c.loop, &a, &b, &dgram_relay_ops, &d, NULL, &d.c.relay);
    cr_assert_eq(rc, 0, "%s", sockit_strerror(rc));
    peer_start(&d.c.b, d.c.loop, pout[0], pin[1], (const unsigned char *)"early", 5, false);
    ctx_run(&d.c);
    expect_clean_end(&d.c, strlen("onetwothree"), 5);
    cr_assert_eq(memcmp(d.c.b.in, "onetwothree", 11), 0, "the pipe got '%.*s'", (int)d.c.b.in_len,
                 (const char *)d.c.b.in);
    cr_assert_eq(memcmp(d.got, "early", 5), 0);
    cr_assert_eq(d.peers, adopt ? 1 : 0, "on_peer ran %d times", d.peers);
    close(sv[1]);
    close(pin[0]);
    close(pout[1]);
    ctx_free(&d.c);
}

LOOP_TEST(relay_datagram_side_keeps_message_bounds)
{
    dgram_side(false);
}

LOOP_TEST(relay_datagram_side_adopts_its_first_sender)
{
    dgram_side(true);
}

/* ---------------------------------------------------------------- hubs */

/* A hub (the test's peers: the centre's in c.a, the members' in m[]): the context ends when
 * DONE says so (c.done), and the hub's callbacks are counted. */
struct hub_test {
    struct ctx c;
    struct sockit_hub *hub;
    struct peer m[2];
    int leaves, leave_err[2];
    bool hub_closed;
    int close_err;
    size_t max_pending, centre_sent_then;
    int ticks;
};

static void hub_leave(struct sockit_hub *h, void *member_ud, int err, void *ud)
{
    struct hub_test *t = ud;

    (void)h;
    cr_assert_lt(t->leaves, 2, "on_leave ran more than once per member");
    t->leave_err[(intptr_t)member_ud] = err;
    t->leaves++;
}

static void hub_closed(struct sockit_hub *h, int err, void *ud)
{
    struct hub_test *t = ud;

    (void)h;
    cr_assert(!t->hub_closed, "on_close ran twice");
    cr_assert_eq(t->leaves, 2, "on_close before every member had left");
    t->hub_closed = true;
    t->close_err = err;
    t->hub = NULL;
}

static const struct sockit_hub_ops hub_test_ops = { .on_leave = hub_leave, .on_close = hub_closed };

/* The hub's centre and two members, each over a unix pair whose other end is a peer: the
 * centre's peer sends CENTRE_OUT (then ends), member i's peer sends M_OUT[i] (no end). */
static void hub_start(struct hub_test *t, bool (*done)(struct ctx *c), const unsigned char *out,
                      size_t len, const unsigned char *m_out[2], const size_t m_len[2])
{
    int cp[2], mp[2][2];

    ctx_init(&t->c, done);
    pair(cp);
    small_buffers(cp[1], 16384);
    cr_assert_eq(sockit_hub_open(t->c.loop, cp[0], &hub_test_ops, t, NULL, &t->hub), 0);
    peer_start(&t->c.a, t->c.loop, cp[1], cp[1], out, len, true);
    for (int i = 0; i < 2; i++) {
        pair(mp[i]);
        small_buffers(mp[i][1], 16384);
        cr_assert_eq(sockit_hub_add(t->hub, mp[i][0], (void *)(intptr_t)i), 0);
        peer_start(&t->m[i], t->c.loop, mp[i][1], mp[i][1], m_out[i], m_len[i], false);
    }
    cr_assert_eq(sockit_hub_members(t->hub), 2);
}

static bool hub_gone(struct ctx *c)
{
    return ((struct hub_test *)c)->hub_closed;
}

/* Close the hub and run until its on_close (the closes are deferred calls). */
static void hub_finish(struct hub_test *t)
{
    if (t->hub)
        sockit_hub_close(t->hub);
    t->c.done = hub_gone;
    t->c.tick = NULL;
    cr_assert_eq(sockit_timer_start(t->c.loop, &t->c.ticker, MS, MS), 0);
    cr_assert_eq(sockit_timer_start(t->c.loop, &t->c.deadline, 8000 * MS, 0), 0);
    ctx_run(&t->c);
    for (int i = 0; i < 2; i++)
        peer_stop(&t->m[i]);
    ctx_free(&t->c);
}

static bool hub_all_delivered(struct ctx *c)
{
    struct hub_test *t = (struct hub_test *)c;

    return t->m[0].eof && t->m[1].eof && c->a.in_len == 300000 + 200000;
}

/* The centre's bytes reach every member, then its end (a half-close); the members' bytes
 * reach the centre, each read whole; closing the hub closes all with -ECANCELED. */
LOOP_TEST(hub_broadcasts_the_centre_and_gathers_the_members)
{
    struct hub_test t = { 0 };
    unsigned char *x = pattern(1 << 20, 5), *m0 = pattern(300000, 6), *m1 = pattern(200000, 7);
    const unsigned char *m_out[2] = { m0, m1 };
    const size_t m_len[2] = { 300000, 200000 };

    for (size_t i = 0; i < m_len[0]; i++) /* even bytes from member 0, odd from member 1 */
        m0[i] &= 0xfe;
    for (size_t i = 0; i < m_len[1]; i++)
        m1[i] |= 1;
    hub_start(&t, hub_all_delivered, x, 1 << 20, m_out, m_len);
    ctx_run(&t.c);
    for (int i = 0; i < 2; i++)
        expect_bytes(&t.m[i], i ? "member 1" : "member 0", x, 1 << 20);
    /* Each member's bytes arrive in its own order; reads of the two may interleave. */
    size_t got[2] = { 0, 0 };
    for (size_t off = 0; off < t.c.a.in_len;) {
        int i = t.c.a.in[off] & 1;
        cr_assert(got[i] < m_len[i] && t.c.a.in[off] == m_out[i][got[i]],
                  "byte %zu at the centre is from neither member in order", off);
        got[i]++;
        off++;
    }
    hub_finish(&t);
    cr_assert_eq(t.leave_err[0], -ECANCELED);
    cr_assert_eq(t.leave_err[1], -ECANCELED);
    cr_assert_eq(t.close_err, -ECANCELED);
    free(x);
    free(m0);
    free(m1);
}

static void hub_slow_tick(struct ctx *c)
{
    struct hub_test *t = (struct hub_test *)c;

    if (t->m[1].reading)
        return;
    if (++t->ticks == 300)
        t->centre_sent_then = c->a.sent;
    if (t->ticks < 500)
        return;
    cr_assert_eq(c->a.sent, t->centre_sent_then,
                 "the centre was still read while a member was "
                 "full: %zu then %zu bytes",
                 t->centre_sent_then, c->a.sent);
    cr_assert_lt(c->a.sent, SLOW_TOTAL, "the centre could send everything to a full member");
    t->m[1].reading = true; /* now drain it */
    peer_update(&t->m[1]);
}

static bool hub_slow_done(struct ctx *c)
{
    struct hub_test *t = (struct hub_test *)c;

    return t->m[0].eof && t->m[1].eof;
}

/* A member that does not read holds the centre back (the others wait with it), so the hub
 * holds a bounded amount; once it reads, all of it reaches both. */
LOOP_TEST(hub_slow_member_holds_the_centre_back)
{
    struct hub_test t = { 0 };
    unsigned char *x = pattern(SLOW_TOTAL, 8);
    const unsigned char *m_out[2] = { NULL, NULL };
    const size_t m_len[2] = { 0, 0 };

    hub_start(&t, hub_slow_done, x, SLOW_TOTAL, m_out, m_len);
    t.c.tick = hub_slow_tick;
    t.m[1].reading = false;
    peer_update(&t.m[1]);
    ctx_run(&t.c);
    expect_bytes(&t.m[0], "member 0", x, SLOW_TOTAL);
    expect_bytes(&t.m[1], "member 1", x, SLOW_TOTAL);
    hub_finish(&t);
    free(x);
}

/* A member that ends its output leaves (on_leave 0) and the others stay; the centre's end
 * closes the hub once the members are gone. */
static bool hub_one_left(struct ctx *c)
{
    return ((struct hub_test *)c)->leaves == 1;
}

LOOP_TEST(hub_member_that_ends_leaves_alone)
{
    struct hub_test t = { 0 };
    const unsigned char *m_out[2] = { (const unsigned char *)"bye", NULL };
    const size_t m_len[2] = { 3, 0 };

    hub_start(&t, hub_one_left, NULL, 0, m_out, m_len);
    t.m[0].end_when_sent = true;
    peer_update(&t.m[0]);
    peer_write(&t.m[0]);
    ctx_run(&t.c);
    cr_assert_eq(t.leave_err[0], 0, "the member that ended left with %d", t.leave_err[0]);
    cr_assert_not_null(t.hub);
    cr_assert_eq(sockit_hub_members(t.hub), 1);
    hub_finish(&t);
    cr_assert_eq(t.leave_err[1], -ECANCELED);
}

/* The centre is read only while there is a member: what it sent before any joined reaches
 * the first member, followed by its end. */
static bool hub_first_has_it(struct ctx *c)
{
    struct hub_test *t = (struct hub_test *)c;

    return t->m[0].eof && t->m[0].in_len == 5;
}

static void hub_join_late(struct ctx *c)
{
    struct hub_test *t = (struct hub_test *)c;
    int mp[2];

    if (++t->ticks != 50) /* 50 ms with no member: the centre is not read */
        return;
    pair(mp);
    cr_assert_eq(sockit_hub_add(t->hub, mp[0], (void *)(intptr_t)0), 0);
    peer_start(&t->m[0], c->loop, mp[1], mp[1], NULL, 0, false);
}

LOOP_TEST(hub_without_members_does_not_read_the_centre)
{
    struct hub_test t = { .m = { { .rfd = -1, .wfd = -1 }, { .rfd = -1, .wfd = -1 } } };
    int cp[2];

    ctx_init(&t.c, hub_first_has_it);
    t.c.tick = hub_join_late;
    pair(cp);
    cr_assert_eq(sockit_hub_open(t.c.loop, cp[0], &hub_test_ops, &t, NULL, &t.hub), 0);
    peer_start(&t.c.a, t.c.loop, cp[1], cp[1], (const unsigned char *)"early", 5, true);
    ctx_run(&t.c);
    cr_assert_eq(memcmp(t.m[0].in, "early", 5), 0, "the first member got '%.*s'",
                 (int)t.m[0].in_len, (const char *)t.m[0].in);
    t.leaves = 1; /* as if member 1 had left */
    hub_finish(&t);
    cr_assert_eq(t.leave_err[0], -ECANCELED);
}
