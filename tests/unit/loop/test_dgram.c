/* Unit tests for datagrams on the loop (sockit/dgram.h): batches with the right peers, sends to
 * several peers in one sendmmsg, truncation, ICMP errors reported and never fatal, pause and
 * resume, the send-queue bounds, a full socket, close from a callback, and a dgram closed or
 * still open finished by sockit_loop_free. Most run over UDP on 127.0.0.1 and ::1 and over
 * unix-dgram (DGRAM_TEST), each on every backend (backends.h). Peers are the test's own sockets,
 * driven from the same loop by watchers; a deadline timer turns a hang into a failure. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../../src/lib/loop/uring_internal.h" /* sockit__uring_dgram_refuse_next */
#include "../../support/harness.h"
#include "backends.h"
#include "sockit/dgram.h"

/* ---------------------------------------------------------------- transports */

enum transport { UDP4, UDP6, UNIX_DGRAM };

/* Datagram tests run on every backend variant and on one more: io_uring moving datagrams with
 * its own requests (SOCKIT_URING_DATAGRAMS_NATIVE; the default is recvmmsg/sendmmsg). */
#define DGRAM_BACKENDS(X, arg)                                                                     \
    LOOP_BACKENDS(X, arg)                                                                          \
    X(uring_native, SOCKIT_BACKEND_URING, arg)

/* LOOP_TEST over DGRAM_BACKENDS. */
#define DGRAM_LOOP_TEST(name)                                                                      \
    static void name##_body(enum sockit_backend backend);                                          \
    DGRAM_BACKENDS(LOOP_TEST_ONE_, name)                                                           \
    static void name##_body(enum sockit_backend backend __attribute__((unused)))

/* One DGRAM_LOOP_TEST per transport, each calling name##_impl(TR). */
#define ON_TRANSPORT_(name, suffix, tr)                                                            \
    DGRAM_LOOP_TEST(name##_##suffix)                                                               \
    {                                                                                              \
        name##_impl(tr);                                                                           \
    }

/* DGRAM_TEST(name) { ... TR ... }: the body runs as name_udp4, name_udp6 and name_unix. */
#define DGRAM_TEST(name)                                                                           \
    static void name##_impl(enum transport tr);                                                    \
    ON_TRANSPORT_(name, udp4, UDP4)                                                                \
    ON_TRANSPORT_(name, udp6, UDP6)                                                                \
    ON_TRANSPORT_(name, unix, UNIX_DGRAM)                                                          \
    static void name##_impl(enum transport tr)

/* NATIVE_TEST(name) { ... }: on io_uring moving datagrams with its own requests only. */
#define NATIVE_TEST(name)                                                                          \
    static void name##_body(enum sockit_backend backend);                                          \
    LOOP_TEST_ONE_(uring_native, SOCKIT_BACKEND_URING, name)                                       \
    static void name##_body(enum sockit_backend backend __attribute__((unused)))

/* UDP_TEST(name): the same over UDP only (name_udp4, name_udp6). */
#define UDP_TEST(name)                                                                             \
    static void name##_impl(enum transport tr);                                                    \
    ON_TRANSPORT_(name, udp4, UDP4)                                                                \
    ON_TRANSPORT_(name, udp6, UDP6)                                                                \
    static void name##_impl(enum transport tr)

static int family_of(enum transport tr)
{
    return tr == UDP4 ? AF_INET : tr == UDP6 ? AF_INET6 : AF_UNIX;
}

/* A non-blocking datagram socket bound to loopback port 0, or autobound to an abstract unix
 * name; its address in *OUT. */
static int bound(enum transport tr, struct sockit_addr *out)
{
    struct sockit_addr a = { 0 };
    int fd = socket(family_of(tr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    a.u.sa.sa_family = (sa_family_t)family_of(tr);
    a.len = sizeof(sa_family_t); /* unix: autobind */
    if (tr == UDP4) {
        a.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.len = sizeof(a.u.in);
    } else if (tr == UDP6) {
        a.u.in6.sin6_addr = in6addr_loopback;
        a.len = sizeof(a.u.in6);
    }
    cr_assert_eq(bind(fd, &a.u.sa, a.len), 0, "bind: %s", strerror(errno));
    out->len = sizeof(out->u);
    cr_assert_eq(getsockname(fd, &out->u.sa, &out->len), 0);
    return fd;
}

/* An address nobody listens on (bound a moment ago, then closed). */
static void dead_address(enum transport tr, struct sockit_addr *out)
{
    close(bound(tr, out));
}

static bool same_addr(const struct sockit_addr *a, const struct sockit_addr *b)
{
    return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}

static const char *addr_str(const struct sockit_addr *a)
{
    static char buf[4][SOCKIT_ADDR_STRLEN];
    static int i;
    char *s = buf[i++ % 4];
    if (sockit_addr_format(a, s, SOCKIT_ADDR_STRLEN) < 0)
        snprintf(s, SOCKIT_ADDR_STRLEN, "(len %u)", (unsigned)a->len);
    return s;
}

/* Receive one datagram on non-blocking FD, waiting up to 2 s. Returns its length or -errno. */
static ssize_t peer_read(int fd, void *buf, size_t cap, struct sockit_addr *from)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    struct sockit_addr tmp;

    from = from ? from : &tmp;
    from->len = sizeof(from->u);
    if (poll(&p, 1, 2000) != 1)
        return -ETIMEDOUT;
    ssize_t n = recvfrom(fd, buf, cap, 0, &from->u.sa, &from->len);
    return n < 0 ? -errno : n;
}

static void peer_send(int fd, const void *data, size_t len, const struct sockit_addr *to)
{
    ssize_t n = sendto(fd, data, len, 0, to ? &to->u.sa : NULL, to ? to->len : 0);
    cr_assert_eq(n, (ssize_t)len, "peer sendto: %s", strerror(errno));
}

/* ---------------------------------------------------------------- the test context */

#define NPEERS 3

struct dx;
typedef void dx_hook(struct dx *x);

struct seen_error {
    int err;
    struct sockit_addr peer; /* len 0: none given */
};

struct dx {
    struct sockit_loop *loop;
    struct sockit_dgram *d; /* NULL once on_close ran */
    enum transport tr;
    int fd;                  /* the dgram's socket */
    struct sockit_addr addr; /* its address */
    int peer[NPEERS];
    struct sockit_addr peer_addr[NPEERS];
    /* what the callbacks saw */
    size_t received, batches, max_batch;
    size_t nseen, want; /* record(): how many it recorded; stop the loop at WANT */
    size_t to_read;     /* reader_ready(): stop the loop when the peers have read this many */
    int close_calls, close_err;
    bool in_callback, close_in_callback;
    struct seen_error errors[64];
    int nerrors;
    /* what the test does at these points (may be NULL) */
    void (*on_msg)(struct dx *x, const struct sockit_dgram_msg *m);
    dx_hook *after_batch, *after_error;
    struct sockit_timer deadline;
    bool timed_out;
    void *test;
};

static void dx_on_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                       void *ud)
{
    struct dx *x = ud;

    cr_assert_eq(d, x->d, "on_recv for a dgram closed, or another one");
    cr_assert_gt(n, 0, "on_recv with no datagram");
    x->batches++;
    x->max_batch = n > x->max_batch ? n : x->max_batch;
    x->in_callback = true;
    for (size_t i = 0; i < n; i++) {
        cr_assert_leq(msgs[i].len, msgs[i].full_len);
        cr_assert_eq(msgs[i].truncated, msgs[i].len < msgs[i].full_len);
        x->received++;
        if (x->on_msg)
            x->on_msg(x, &msgs[i]);
    }
    x->in_callback = false;
    if (x->after_batch)
        x->after_batch(x);
}

static void dx_on_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud)
{
    struct dx *x = ud;

    cr_assert_eq(d, x->d, "on_error for a dgram closed, or another one");
    cr_assert_lt(err, 0);
    cr_assert_lt(x->nerrors, 64, "too many errors");
    x->errors[x->nerrors].err = err;
    x->errors[x->nerrors].peer.len = 0;
    if (peer)
        x->errors[x->nerrors].peer = *peer;
    x->nerrors++;
    x->in_callback = true;
    if (x->after_error)
        x->after_error(x);
    x->in_callback = false;
}

static void dx_on_close(struct sockit_dgram *d, int err, void *ud)
{
    struct dx *x = ud;

    cr_assert_eq(d, x->d, "on_close for a dgram already closed, or another one");
    x->close_calls++;
    x->close_err = err;
    x->close_in_callback = x->in_callback;
    x->d = NULL;
}

static const struct sockit_dgram_ops dx_ops = { dx_on_recv, dx_on_error, dx_on_close };

static void on_deadline(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct dx *x = data;
    (void)t;
    x->timed_out = true;
    sockit_loop_stop(loop);
}

/* Called on the new loop before the dgram opens, when set. */
static void (*before_open)(struct sockit_loop *loop);

/* A loop and a dgram on FD (transport TR) with OPTS (NULL: defaults); NPEERS peer sockets,
 * bound but not connected. */
static void dx_start(struct dx *x, enum transport tr, int fd, const struct sockit_dgram_opts *opts)
{
    *x = (struct dx){ .tr = tr, .fd = fd, .addr.len = sizeof(x->addr.u) };
    x->loop = new_loop();
    if (before_open)
        before_open(x->loop);
    cr_assert_eq(getsockname(fd, &x->addr.u.sa, &x->addr.len), 0);
    int rc = sockit_dgram_open(x->loop, fd, &dx_ops, x, opts, &x->d);
    cr_assert_eq(rc, 0, "sockit_dgram_open: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_eq(sockit_dgram_fd(x->d), fd);
    for (int i = 0; i < NPEERS; i++)
        x->peer[i] = bound(tr, &x->peer_addr[i]);
    sockit_timer_init(&x->deadline, on_deadline, x);
    cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
}

/* The same on a new socket bound to loopback (or autobound). */
static void dx_open(struct dx *x, enum transport tr, const struct sockit_dgram_opts *opts)
{
    struct sockit_addr a;
    dx_start(x, tr, bound(tr, &a), opts);
}

static void dx_run(struct dx *x, const char *waiting_for)
{
    run_ok(x->loop);
    cr_assert(!x->timed_out, "timed out waiting for %s", waiting_for);
}

/* Run the loop for about MS milliseconds: the deadline, brought forward, ends the run. */
static void run_briefly(struct dx *x, int ms)
{
    cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, (uint64_t)ms * MS, 0), 0);
    run_ok(x->loop);
    x->timed_out = false;
    cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
}

static void dx_close(struct dx *x)
{
    if (x->d)
        sockit_dgram_close(x->d);
    sockit_timer_stop(x->loop, &x->deadline);
    sockit_loop_free(x->loop);
    cr_assert_eq(x->close_calls, 1, "on_close should run exactly once");
    for (int i = 0; i < NPEERS; i++)
        close(x->peer[i]);
}

static struct sockit_dgram_stats stats_of(const struct dx *x)
{
    struct sockit_dgram_stats st;
    sockit_dgram_stats(x->d, &st);
    return st;
}

/* ---------------------------------------------------------------- receiving */

#define PER_PEER 40

/* Each peer, connected to the dgram, sends PER_PEER numbered datagrams as fast as its socket
 * takes them (a full unix receiver makes the peer wait, as a connected peer may). */
struct sender {
    struct dx *x;
    int i, sent;
};

static void sender_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct sender *s = data;
    char msg[32];

    (void)events;
    while (s->sent < PER_PEER) {
        int len = snprintf(msg, sizeof(msg), "peer %d #%d", s->i, s->sent);
        if (send(fd, msg, (size_t)len, 0) < 0) {
            cr_assert_eq(errno, EAGAIN, "peer %d send: %s", s->i, strerror(errno));
            return;
        }
        s->sent++;
    }
    sockit_loop_unwatch(loop, fd);
}

static void check_numbered(struct dx *x, const struct sockit_dgram_msg *m)
{
    int *next = x->test, p, seq, end = 0;
    char text[64];

    cr_assert_lt(m->len, sizeof(text));
    memcpy(text, m->data, m->len);
    text[m->len] = '\0';
    cr_assert_eq(sscanf(text, "peer %d #%d%n", &p, &seq, &end), 2, "datagram '%s'", text);
    cr_assert(end == (int)m->len && p >= 0 && p < NPEERS, "datagram '%s'", text);
    cr_assert(same_addr(&m->peer, &x->peer_addr[p]), "'%s' came from %s, not peer %d at %s", text,
              addr_str(&m->peer), p, addr_str(&x->peer_addr[p]));
    cr_assert_eq(seq, next[p], "peer %d: datagram %d arrived when %d was due", p, seq, next[p]);
    cr_assert(!m->truncated && m->full_len == m->len);
    next[p]++;
    if (x->received == NPEERS * PER_PEER)
        sockit_loop_stop(x->loop);
}

DGRAM_TEST(receives_batches_with_their_peers)
{
    struct dx x;
    struct sender s[NPEERS];
    int next[NPEERS] = { 0 };

    dx_open(&x, tr, NULL);
    x.test = next;
    x.on_msg = check_numbered;
    for (int i = 0; i < NPEERS; i++) {
        s[i] = (struct sender){ .x = &x, .i = i };
        cr_assert_eq(connect(x.peer[i], &x.addr.u.sa, x.addr.len), 0);
        cr_assert_eq(sockit_loop_watch(x.loop, x.peer[i], SOCKIT_EV_WRITE, sender_ready, &s[i]), 0);
    }
    dx_run(&x, "every datagram");
    cr_expect_eq(x.received, NPEERS * PER_PEER);
    cr_expect_gt(x.max_batch, 1, "datagrams that wait together arrive in one batch");
    cr_expect_lt(x.batches, x.received);
    cr_expect_eq(stats_of(&x).received, NPEERS * PER_PEER);
    cr_expect_eq(x.nerrors, 0);
    dx_close(&x);
}

/* What on_recv saw of one datagram. */
struct seen_msg {
    size_t len, full;
    bool trunc;
    unsigned char head[100];
    struct sockit_addr peer;
};

/* on_msg: x->test is an array of struct seen_msg, filled in arrival order. */
static void record(struct dx *x, const struct sockit_dgram_msg *m)
{
    struct seen_msg *s = (struct seen_msg *)x->test + x->nseen++;

    s->len = m->len;
    s->full = m->full_len;
    s->trunc = m->truncated;
    s->peer = m->peer;
    memcpy(s->head, m->data, m->len < sizeof(s->head) ? m->len : sizeof(s->head));
    if (x->nseen == x->want)
        sockit_loop_stop(x->loop);
}

/* A datagram over max_size is delivered truncated and flagged, between two that are not; an
 * empty datagram is a datagram too. */
DGRAM_TEST(truncation_is_flagged_and_the_rest_delivered)
{
    struct dx x;
    struct sockit_dgram_opts o = { .max_size = 100 };
    unsigned char big[300];
    struct seen_msg got[4];

    dx_open(&x, tr, &o);
    h_fill(big, sizeof(big), 7);
    peer_send(x.peer[0], "before", 6, &x.addr);
    peer_send(x.peer[0], big, sizeof(big), &x.addr);
    peer_send(x.peer[0], "", 0, &x.addr);
    peer_send(x.peer[0], "after", 5, &x.addr);
    x.test = got;
    x.on_msg = record;
    x.want = 4;
    dx_run(&x, "four datagrams");
    cr_assert_eq(x.received, 4);
    cr_expect(got[0].len == 6 && !got[0].trunc && memcmp(got[0].head, "before", 6) == 0);
    cr_expect(got[1].trunc, "the 300-byte datagram is flagged truncated");
    cr_expect_eq(got[1].len, 100);
    cr_expect_eq(got[1].full, 300, "full_len is the datagram's real size");
    cr_expect_eq(memcmp(got[1].head, big, 100), 0, "the first 100 bytes are delivered");
    cr_expect(got[2].len == 0 && got[2].full == 0 && !got[2].trunc, "the empty datagram");
    cr_expect(got[3].len == 5 && !got[3].trunc && memcmp(got[3].head, "after", 5) == 0);
    for (int i = 0; i < 4; i++)
        cr_expect(same_addr(&got[i].peer, &x.peer_addr[0]), "datagram %d from %s", i,
                  addr_str(&got[i].peer));
    cr_expect_eq(stats_of(&x).truncated, 1);
    dx_close(&x);
}

/* ---------------------------------------------------------------- sending */

/* Count the trace lines that start with PREFIX, or with ALT (when not NULL). */
struct trace_count {
    const char *prefix, *alt;
    int n;
};

static bool starts_with(const char *text, const char *prefix)
{
    return prefix && strncmp(text, prefix, strlen(prefix)) == 0;
}

static void count_line(void *ctx, const char *text)
{
    struct trace_count *c = ctx;
    c->n += starts_with(text, c->prefix) || starts_with(text, c->alt);
}

/* Each peer reads what arrives (watched for reading) and checks it came from the dgram. */
struct reader {
    struct dx *x;
    int i;
    size_t got;
    char last[64];
};

static void reader_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct reader *r = data;
    struct sockit_addr from = { .len = sizeof(from.u) };
    char buf[64];
    ssize_t n;

    (void)events;
    while ((n = recvfrom(fd, buf, sizeof(buf) - 1, 0, &from.u.sa, &from.len)) >= 0) {
        cr_assert(same_addr(&from, &r->x->addr), "peer %d: a datagram from %s", r->i,
                  addr_str(&from));
        buf[n] = '\0';
        snprintf(r->last, sizeof(r->last), "%s", buf);
        r->got++;
        if (--r->x->to_read == 0)
            sockit_loop_stop(loop);
        from.len = sizeof(from.u);
    }
    cr_assert_eq(errno, EAGAIN, "peer %d recvfrom: %s", r->i, strerror(errno));
}

static void watch_readers(struct dx *x, struct reader r[NPEERS], size_t total)
{
    x->to_read = total;
    for (int i = 0; i < NPEERS; i++) {
        r[i] = (struct reader){ .x = x, .i = i };
        cr_assert_eq(sockit_loop_watch(x->loop, x->peer[i], SOCKIT_EV_READ, reader_ready, &r[i]),
                     0);
    }
}

/* Writes to three peers in one round leave in one sendmmsg (io_uring: one chain of send
 * requests), each to its own peer, in order. */
DGRAM_TEST(writes_of_a_round_go_to_several_peers_in_one_sendmmsg)
{
    struct trace_count sends = { "sendmmsg(", "io_uring sendmsg(", 0 };
    struct sockit_trace trace = { count_line, &sends };
    struct sockit_dgram_opts o = { .trace = &trace };
    struct reader r[NPEERS];
    struct dx x;
    char msg[32];

    dx_open(&x, tr, &o);
    watch_readers(&x, r, 5 * NPEERS);
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < NPEERS; i++) {
            int len = snprintf(msg, sizeof(msg), "to %d #%d", i, k);
            cr_assert_eq(sockit_dgram_write(x.d, msg, (size_t)len, &x.peer_addr[i]), 0);
        }
    cr_expect_eq(stats_of(&x).queued, 5 * NPEERS, "writes are queued until the round ends");
    dx_run(&x, "every peer's datagrams");
    for (int i = 0; i < NPEERS; i++) {
        snprintf(msg, sizeof(msg), "to %d #4", i);
        cr_expect_eq(r[i].got, 5, "peer %d got %zu datagrams", i, r[i].got);
        cr_expect_str_eq(r[i].last, msg, "peer %d: the last datagram last", i);
    }
    cr_expect_eq(sends.n, 1, "one send call for the round's %d datagrams, not %d", 5 * NPEERS,
                 sends.n);
    struct sockit_dgram_stats st = stats_of(&x);
    cr_expect(st.sent == 5 * NPEERS && st.queued == 0 && st.queued_bytes == 0 && st.dropped == 0);
    dx_close(&x);
}

/* writev takes an array: data and peers are copied, so the caller's memory may go at once. */
DGRAM_TEST(writev_copies_and_sends_in_order)
{
    struct reader r[NPEERS];
    struct sockit_dgram_msg *m = calloc(NPEERS, sizeof(*m));
    char *text = strdup("abc");
    struct dx x;

    dx_open(&x, tr, NULL);
    watch_readers(&x, r, NPEERS);
    for (int i = 0; i < NPEERS; i++)
        m[i] = (struct sockit_dgram_msg){ .data = text + i, .len = 1, .peer = x.peer_addr[i] };
    cr_assert_eq(sockit_dgram_writev(x.d, m, NPEERS), NPEERS);
    cr_assert_eq(sockit_dgram_writev(x.d, m, 0), 0);
    free(m);
    free(text);
    dx_run(&x, "the datagrams");
    cr_expect_str_eq(r[0].last, "a");
    cr_expect_str_eq(r[1].last, "b");
    cr_expect_str_eq(r[2].last, "c");
    dx_close(&x);
}

/* The family's largest payload is checked before anything is queued. */
UDP_TEST(oversize_datagram_is_refused_at_once)
{
    struct dx x;
    size_t max = tr == UDP4 ? SOCKIT_UDP4_MAX : SOCKIT_UDP6_MAX;
    char *big = calloc(1, max + 1);
    struct sockit_dgram_msg m[2] = { { .data = big, .len = 1, .peer = { 0 } },
                                     { .data = big, .len = max + 1, .peer = { 0 } } };

    dx_open(&x, tr, NULL);
    m[0].peer = m[1].peer = x.peer_addr[0];
    cr_expect_eq(sockit_dgram_write(x.d, big, max + 1, &x.peer_addr[0]), -SOCKIT_EDGRAMSIZE);
    cr_expect_eq(sockit_dgram_writev(x.d, m, 2), -SOCKIT_EDGRAMSIZE);
    cr_expect_eq(stats_of(&x).queued, 0, "nothing is queued when one datagram is too large");
    cr_expect_eq(sockit_dgram_write(x.d, big, max, &x.peer_addr[0]), 0);
    free(big);
    ssize_t n;
    char *buf = malloc(max + 1);
    run_briefly(&x, 20);
    n = peer_read(x.peer[0], buf, max + 1, NULL);
    cr_expect_eq(n, (ssize_t)max, "the largest payload is sent: %zd", n);
    free(buf);
    dx_close(&x);
}

/* ---------------------------------------------------------------- errors */

static void stop_after_error(struct dx *x)
{
    sockit_loop_stop(x->loop);
}

static void expect_refused(const struct dx *x, int i, const struct sockit_addr *dead)
{
    cr_assert_gt(x->nerrors, i, "error %d was not reported", i);
    cr_expect_eq(x->errors[i].err, -ECONNREFUSED, "error %d: %s", i,
                 sockit_strerror(x->errors[i].err));
    cr_expect(same_addr(&x->errors[i].peer, dead), "error %d names %s, not the dead %s", i,
              addr_str(&x->errors[i].peer), addr_str(dead));
}

/* After the error, a live peer is still served both ways. */
static void expect_still_working(struct dx *x)
{
    struct sockit_addr from;
    struct seen_msg got[1];
    char buf[16];

    x->after_error = NULL;
    x->test = got;
    x->on_msg = record;
    x->nseen = 0;
    x->want = 1;
    peer_send(x->peer[1], "ping", 4, &x->addr);
    dx_run(x, "a datagram after the error");
    cr_expect_eq(got[0].len, 4);
    cr_assert_eq(sockit_dgram_write(x->d, "pong", 4, &x->peer_addr[1]), 0);
    run_briefly(x, 20);
    cr_expect_eq(peer_read(x->peer[1], buf, sizeof(buf), &from), 4, "the reply after the error");
    cr_expect(same_addr(&from, &x->addr));
}

/* Sending to a closed port (UDP: ICMP port unreachable, read from the error queue; unix: the
 * kernel refuses at once) is reported with the address, and the dgram goes on. */
DGRAM_TEST(unreachable_peer_is_reported_and_not_fatal)
{
    struct sockit_addr dead;
    struct dx x;

    dx_open(&x, tr, NULL);
    dead_address(tr, &dead);
    x.after_error = stop_after_error;
    cr_assert_eq(sockit_dgram_write(x.d, "hello?", 6, &dead), 0);
    dx_run(&x, "the error");
    cr_assert_eq(x.nerrors, 1, "one error for one datagram, got %d", x.nerrors);
    expect_refused(&x, 0, &dead);
    expect_still_working(&x);
    cr_expect_eq(x.nerrors, 1);
    cr_expect_eq(stats_of(&x).errors, 1);
    dx_close(&x);
}

/* On UDP the ICMP error of the first datagram fails the kernel's next send, whatever its
 * peer: the dgram reads the error, reports it once, and sends the next datagrams anyway. One
 * datagram per sendmmsg, so that the pending error meets the first datagram of a call (in
 * the middle of a call, the kernel swallows it and the error queue reports it later). */
DGRAM_TEST(an_unreachable_peer_costs_no_other_datagram)
{
    struct sockit_dgram_opts o = { .batch = 1 };
    struct sockit_addr dead, from;
    struct dx x;
    char buf[16];

    dx_open(&x, tr, &o);
    dead_address(tr, &dead);
    cr_assert_eq(sockit_dgram_write(x.d, "lost", 4, &dead), 0);
    cr_assert_eq(sockit_dgram_write(x.d, "kept", 4, &x.peer_addr[0]), 0);
    cr_assert_eq(sockit_dgram_write(x.d, "kept2", 5, &x.peer_addr[0]), 0);
    run_briefly(&x, 30);
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), &from), 4, "the live peer's datagram");
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), &from), 5, "and the next one");
    cr_assert_eq(x.nerrors, 1, "one error, got %d", x.nerrors);
    expect_refused(&x, 0, &dead);
    cr_expect_eq(stats_of(&x).sent, tr == UNIX_DGRAM ? 2 : 3);
    dx_close(&x);
}

/* A connected UDP socket whose peer is gone reports the error (with the peer), keeps
 * receiving, and reaches the peer once it is back on the same port. */
UDP_TEST(connected_socket_survives_port_unreachable)
{
    struct sockit_addr dead, from;
    struct dx x;
    char buf[16];
    int back;

    dead_address(tr, &dead);
    int fd = socket(family_of(tr), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(fd, &dead.u.sa, dead.len), 0);
    dx_start(&x, tr, fd, NULL);
    x.after_error = stop_after_error;
    cr_assert_eq(sockit_dgram_write(x.d, "anyone?", 7, NULL), 0);
    dx_run(&x, "port unreachable");
    cr_assert_eq(x.nerrors, 1);
    expect_refused(&x, 0, &dead);
    back = socket(family_of(tr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_eq(bind(back, &dead.u.sa, dead.len), 0, "rebind %s: %s", addr_str(&dead),
                 strerror(errno));
    cr_assert_eq(sockit_dgram_write(x.d, "back?", 5, NULL), 0);
    run_briefly(&x, 20);
    cr_expect_eq(peer_read(back, buf, sizeof(buf), &from), 5, "the peer is reached again");
    cr_expect(same_addr(&from, &x.addr));
    struct seen_msg got[1];
    x.test = got;
    x.on_msg = record;
    x.nseen = 0;
    x.want = 1;
    peer_send(back, "yes", 3, &x.addr);
    dx_run(&x, "the peer's answer");
    cr_expect_eq(got[0].len, 3);
    close(back);
    dx_close(&x);
}

/* ---------------------------------------------------------------- pause and resume */

/* Paused, nothing is delivered (the datagrams wait in the socket) but output still leaves;
 * resumed, everything that waited arrives. */
DGRAM_TEST(paused_dgram_receives_nothing_until_resumed)
{
    struct seen_msg got[3];
    struct dx x;
    char buf[16];

    dx_open(&x, tr, NULL);
    sockit_dgram_pause(x.d);
    sockit_dgram_pause(x.d);
    for (int i = 0; i < 3; i++)
        peer_send(x.peer[i], "wait", 4, &x.addr);
    cr_assert_eq(sockit_dgram_write(x.d, "out", 3, &x.peer_addr[0]), 0);
    run_briefly(&x, 30);
    cr_expect_eq(x.received, 0, "a paused dgram delivered %zu datagrams", x.received);
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), NULL), 3, "output leaves while paused");
    x.test = got;
    x.on_msg = record;
    x.want = 3;
    sockit_dgram_resume(x.d);
    sockit_dgram_resume(x.d);
    dx_run(&x, "the datagrams that waited");
    cr_expect_eq(x.received, 3);
    dx_close(&x);
}

static void pause_now(struct dx *x)
{
    sockit_dgram_pause(x->d);
}

/* Paused from on_recv, the dgram delivers no further batch; resumed, it goes on. */
DGRAM_TEST(pause_from_on_recv_holds_the_next_batch)
{
    struct sockit_dgram_opts o = { .batch = 1 };
    struct seen_msg got[3];
    struct dx x;

    dx_open(&x, tr, &o);
    for (int i = 0; i < 3; i++)
        peer_send(x.peer[0], "one", 3, &x.addr);
    x.after_batch = pause_now;
    run_briefly(&x, 30);
    cr_expect_eq(x.batches, 1, "batches delivered after pause: %zu", x.batches);
    x.after_batch = NULL;
    x.test = got;
    x.on_msg = record;
    x.want = 2;
    sockit_dgram_resume(x.d);
    dx_run(&x, "the rest after resume");
    cr_expect_eq(x.received, 3);
    dx_close(&x);
}

/* ---------------------------------------------------------------- the send queue */

/* Over queue_max datagrams or queue_bytes bytes, a write is refused with -ENOBUFS and the
 * datagram counted as dropped; writev queues what fits and says how many. */
DGRAM_TEST(send_queue_is_bounded)
{
    struct sockit_dgram_opts o = { .queue_max = 4, .queue_bytes = 1000 };
    struct sockit_dgram_msg m[6];
    static char kb[600];
    struct reader r[NPEERS];
    struct dx x;

    dx_open(&x, tr, &o);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(sockit_dgram_write(x.d, "q", 1, &x.peer_addr[0]), 0, "write %d", i);
    cr_expect_eq(sockit_dgram_write(x.d, "q", 1, &x.peer_addr[0]), -ENOBUFS);
    for (int i = 0; i < 6; i++)
        m[i] = (struct sockit_dgram_msg){ .data = "v", .len = 1, .peer = x.peer_addr[1] };
    cr_expect_eq(sockit_dgram_writev(x.d, m, 6), -ENOBUFS, "not even the first fits");
    struct sockit_dgram_stats st = stats_of(&x);
    cr_expect(st.queued == 4 && st.queued_bytes == 4 && st.dropped == 7,
              "queued %zu (%zu B), "
              "dropped %llu",
              st.queued, st.queued_bytes, (unsigned long long)st.dropped);
    watch_readers(&x, r, 4);
    dx_run(&x, "the queued datagrams");
    cr_expect_eq(r[0].got, 4);
    cr_expect_eq(sockit_dgram_writev(x.d, m, 6), 4, "writev queues what fits");
    cr_expect_eq(stats_of(&x).dropped, 9);
    watch_readers(&x, r, 4);
    dx_run(&x, "the writev");
    cr_expect_eq(r[1].got, 4);
    cr_expect_eq(sockit_dgram_write(x.d, kb, sizeof(kb), &x.peer_addr[2]), 0);
    cr_expect_eq(sockit_dgram_write(x.d, kb, sizeof(kb), &x.peer_addr[2]), -ENOBUFS,
                 "queue_bytes bounds the bytes");
    dx_close(&x);
}

/* A connected unix receiver that does not read fills up (EAGAIN): the rest waits in the queue
 * and leaves, in order, as the receiver reads. Nothing is dropped. */
DGRAM_LOOP_TEST(full_socket_queues_until_it_drains)
{
    struct sockit_addr ra;
    struct dx x;
    char buf[16];
    /* not a socketpair: the receiver's queue limit applies only to a receiver that is not
     * connected back to the sender */
    int rfd = bound(UNIX_DGRAM, &ra), fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    cr_assert_eq(connect(fd, &ra.u.sa, ra.len), 0, "connect: %s", strerror(errno));
    dx_start(&x, UNIX_DGRAM, fd, NULL);
    for (int i = 0; i < 30; i++) {
        int len = snprintf(buf, sizeof(buf), "#%d", i);
        cr_assert_eq(sockit_dgram_write(x.d, buf, (size_t)len, NULL), 0);
    }
    run_briefly(&x, 20);
    struct sockit_dgram_stats st = stats_of(&x);
    cr_expect(st.sent > 0 && st.sent < 30 && st.queued == 30 - st.sent,
              "a full receiver: sent %llu, queued %zu", (unsigned long long)st.sent, st.queued);
    for (int i = 0; i < 30; i++) {
        char want[16];
        int len = snprintf(want, sizeof(want), "#%d", i);
        while (recv(rfd, buf, sizeof(buf), 0) < 0) {
            cr_assert_eq(errno, EAGAIN);
            run_briefly(&x, 2); /* the dgram sends more as the receiver makes room */
        }
        cr_assert_eq(memcmp(buf, want, (size_t)len), 0, "datagram %d out of order", i);
    }
    st = stats_of(&x);
    cr_expect(st.sent == 30 && st.queued == 0 && st.dropped == 0 && x.nerrors == 0);
    close(rfd);
    dx_close(&x);
}

static void stop_when_queue_empty(struct dx *x)
{
    if (stats_of(x).queued == 0)
        sockit_loop_stop(x->loop);
}

/* Unconnected unix: a receiver whose queue is full makes the send fail with EAGAIN although
 * the socket is writable. Its datagrams are dropped with -ENOBUFS, not waited for forever. */
DGRAM_LOOP_TEST(full_unix_receiver_drops_with_enobufs)
{
    struct dx x;
    int n = 0;
    char buf[16];

    dx_open(&x, UNIX_DGRAM, NULL);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(sockit_dgram_write(x.d, "x", 1, &x.peer_addr[0]), 0);
    x.after_error = stop_when_queue_empty;
    dx_run(&x, "the queue to empty");
    while (recv(x.peer[0], buf, sizeof(buf), 0) == 1)
        n++;
    struct sockit_dgram_stats st = stats_of(&x);
    cr_expect(n > 0 && n < 20, "the receiver holds %d", n);
    cr_expect_eq(st.sent, (uint64_t)n);
    cr_expect_eq(st.dropped, (uint64_t)(20 - n));
    cr_expect_eq(x.nerrors, 20 - n);
    for (int i = 0; i < x.nerrors; i++) {
        cr_expect_eq(x.errors[i].err, -ENOBUFS);
        cr_expect(same_addr(&x.errors[i].peer, &x.peer_addr[0]));
    }
    dx_close(&x);
}

/* ---------------------------------------------------------------- close */

static void close_now(struct dx *x)
{
    sockit_dgram_close(x->d);
    sockit_dgram_close(x->d); /* idempotent */
    cr_expect_eq(sockit_dgram_write(x->d, "late", 4, &x->peer_addr[0]), -EPIPE);
}

static void close_in_msg(struct dx *x, const struct sockit_dgram_msg *m)
{
    (void)m;
    close_now(x);
}

/* Closed from on_recv: the rest of the batch is still in hand, no further callback comes,
 * and on_close follows once, outside the callback. */
DGRAM_TEST(close_from_on_recv)
{
    struct dx x;

    dx_open(&x, tr, NULL);
    for (int i = 0; i < 3; i++)
        peer_send(x.peer[0], "c", 1, &x.addr);
    x.on_msg = close_in_msg;
    run_briefly(&x, 30);
    cr_expect_eq(x.batches, 1);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0);
    cr_expect(!x.close_in_callback, "on_close ran inside on_recv");
    cr_expect(fcntl(x.fd, F_GETFD) < 0 && errno == EBADF, "the dgram closed its fd");
    dx_close(&x);
}

DGRAM_TEST(close_from_on_error)
{
    struct sockit_addr dead;
    struct dx x;

    dx_open(&x, tr, NULL);
    dead_address(tr, &dead);
    cr_assert_eq(sockit_dgram_write(x.d, "a", 1, &dead), 0);
    cr_assert_eq(sockit_dgram_write(x.d, "b", 1, &dead), 0);
    x.after_error = close_now;
    run_briefly(&x, 30);
    cr_expect_eq(x.nerrors, 1, "no callback after close: %d errors", x.nerrors);
    cr_expect_eq(x.close_calls, 1);
    cr_expect(!x.close_in_callback, "on_close ran inside on_error");
    dx_close(&x);
}

/* Closing sends what the socket takes at once; a dgram closed before the loop is freed gets
 * its on_close from sockit_loop_free, without another run. */
DGRAM_TEST(loop_free_finishes_a_closed_dgram)
{
    struct dx x;
    char buf[16];

    dx_open(&x, tr, NULL);
    cr_assert_eq(sockit_dgram_write(x.d, "one", 3, &x.peer_addr[0]), 0);
    cr_assert_eq(sockit_dgram_write(x.d, "two", 3, &x.peer_addr[0]), 0);
    sockit_dgram_close(x.d);
    cr_expect_eq(x.close_calls, 0, "on_close is deferred");
    sockit_timer_stop(x.loop, &x.deadline);
    sockit_loop_free(x.loop);
    cr_expect_eq(x.close_calls, 1, "sockit_loop_free ran on_close");
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), NULL), 3, "sent at close");
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), NULL), 3, "both");
    for (int i = 0; i < NPEERS; i++)
        close(x.peer[i]);
}

/* A dgram still open when the loop is freed is closed by it: what it had queued leaves, the
 * fd is closed, and on_close runs once with -ECANCELED. */
DGRAM_TEST(loop_free_closes_an_open_dgram)
{
    struct dx x;
    char buf[16];

    dx_open(&x, tr, NULL);
    cr_assert_eq(sockit_dgram_write(x.d, "bye", 3, &x.peer_addr[0]), 0);
    sockit_timer_stop(x.loop, &x.deadline);
    sockit_loop_free(x.loop);
    cr_expect_eq(x.close_calls, 1, "sockit_loop_free closed the dgram and ran on_close");
    cr_expect_eq(x.close_err, -ECANCELED);
    cr_expect_null(x.d);
    cr_expect(fcntl(x.fd, F_GETFD) < 0 && errno == EBADF, "the dgram's fd is closed");
    cr_expect_eq(peer_read(x.peer[0], buf, sizeof(buf), NULL), 3, "the queue was sent at close");
    for (int i = 0; i < NPEERS; i++)
        close(x.peer[i]);
}

/* ---------------------------------------------------------------- batches, holding, teardown
 * (what io_uring does its own way: multishot recvmsg, held datagrams, requests in flight) */

/* Datagrams that wait together reach on_recv in one call: one recvmmsg on epoll and poll, the
 * completions of one reap on io_uring (which then makes no recvmmsg at all). */
DGRAM_TEST(datagrams_waiting_together_arrive_in_one_batch)
{
    struct trace_count recvmmsgs = { "recvmmsg(", NULL, 0 };
    struct sockit_trace trace = { count_line, &recvmmsgs };
    struct sockit_dgram_opts o = { .trace = &trace };
    struct seen_msg got[8];
    struct dx x;
    char msg[16];

    dx_open(&x, tr, &o);
    for (int i = 0; i < 8; i++) {
        int len = snprintf(msg, sizeof(msg), "#%d", i);
        peer_send(x.peer[i % NPEERS], msg, (size_t)len, &x.addr);
    }
    x.test = got;
    x.on_msg = record;
    x.want = 8;
    dx_run(&x, "eight datagrams");
    cr_expect_eq(x.batches, 1, "8 datagrams that waited came in %zu calls", x.batches);
    for (int i = 0; i < 8; i++) {
        snprintf(msg, sizeof(msg), "#%d", i);
        cr_expect(got[i].len == strlen(msg) && memcmp(got[i].head, msg, got[i].len) == 0,
                  "datagram %d out of order", i);
        cr_expect(same_addr(&got[i].peer, &x.peer_addr[i % NPEERS]), "datagram %d's peer", i);
    }
    if (test_options.uring_datagrams == SOCKIT_URING_DATAGRAMS_NATIVE)
        cr_expect_eq(recvmmsgs.n, 0, "io_uring receives with multishot recvmsg, not recvmmsg");
    dx_close(&x);
}

/* A datagram of exactly max_size is whole; one byte more is truncated (io_uring: the buffer
 * holds max_size bytes of payload after the recvmsg header and the sender). */
DGRAM_TEST(truncation_starts_one_byte_past_max_size)
{
    struct sockit_dgram_opts o = { .max_size = 64 };
    unsigned char data[65];
    struct seen_msg got[3];
    struct dx x;

    dx_open(&x, tr, &o);
    h_fill(data, sizeof(data), 3);
    peer_send(x.peer[0], data, 64, &x.addr);
    peer_send(x.peer[0], data, 65, &x.addr);
    peer_send(x.peer[0], data, 63, &x.addr);
    x.test = got;
    x.on_msg = record;
    x.want = 3;
    dx_run(&x, "three datagrams");
    cr_expect(got[0].len == 64 && got[0].full == 64 && !got[0].trunc, "64 bytes fit");
    cr_expect(got[1].len == 64 && got[1].full == 65 && got[1].trunc, "65 bytes: truncated");
    cr_expect(got[2].len == 63 && got[2].full == 63 && !got[2].trunc);
    cr_expect_eq(memcmp(got[1].head, data, 64), 0);
    cr_expect_eq(stats_of(&x).truncated, 1);
    dx_close(&x);
}

/* An ICMP error ends io_uring's multishot receive; it is reported and receiving goes on, round
 * after round, with nothing lost between. */
UDP_TEST(icmp_errors_between_datagrams_lose_none)
{
    struct sockit_addr dead;
    struct dx x;

    dx_open(&x, tr, NULL);
    dead_address(tr, &dead);
    for (int round = 0; round < 3; round++) {
        x.after_error = stop_after_error;
        x.on_msg = NULL;
        cr_assert_eq(sockit_dgram_write(x.d, "gone?", 5, &dead), 0);
        dx_run(&x, "the error");
        cr_assert_eq(x.nerrors, round + 1, "round %d: %d errors", round, x.nerrors);
        expect_refused(&x, round, &dead);
        x.after_error = NULL;
        size_t before = x.received;
        for (int i = 0; i < 6; i++)
            peer_send(x.peer[i % NPEERS], "more", 4, &x.addr);
        x.test = (struct seen_msg[6]){ 0 };
        x.on_msg = record;
        x.nseen = 0;
        x.want = 6;
        dx_run(&x, "the datagrams after the error");
        cr_expect_eq(x.received - before, 6, "round %d", round);
    }
    cr_expect_eq(stats_of(&x).errors, 3);
    dx_close(&x);
}

/* on_msg: check that the datagrams are "#0", "#1", ... in order; stop at x->want. */
static void check_sequence(struct dx *x, const struct sockit_dgram_msg *m)
{
    char want[16];
    int len = snprintf(want, sizeof(want), "#%zu", x->nseen);

    cr_assert(m->len == (size_t)len && memcmp(m->data, want, m->len) == 0,
              "datagram %zu: '%.*s', not '%s'", x->nseen, (int)m->len, (const char *)m->data, want);
    if (++x->nseen == x->want)
        sockit_loop_stop(x->loop);
}

/* Paused from on_recv with more arriving (io_uring: completions of the receive before its
 * cancellation lands are held), nothing is delivered until resume; then everything comes, in
 * the order sent, what was held first. */
DGRAM_TEST(pause_holds_and_resume_delivers_in_order)
{
    struct sockit_dgram_opts o = { .batch = 1 };
    struct dx x;
    char msg[16];

    dx_open(&x, tr, &o);
    for (int i = 0; i < 5; i++) {
        int len = snprintf(msg, sizeof(msg), "#%d", i);
        peer_send(x.peer[0], msg, (size_t)len, &x.addr);
    }
    x.on_msg = check_sequence;
    x.want = 9;
    x.after_batch = pause_now;
    run_briefly(&x, 30);
    cr_expect_eq(x.received, 1, "paused after the first: %zu delivered", x.received);
    for (int i = 5; i < 9; i++) {
        int len = snprintf(msg, sizeof(msg), "#%d", i);
        peer_send(x.peer[0], msg, (size_t)len, &x.addr);
    }
    run_briefly(&x, 30);
    cr_expect_eq(x.received, 1, "still paused: %zu delivered", x.received);
    x.after_batch = NULL;
    sockit_dgram_resume(x.d);
    dx_run(&x, "the rest after resume");
    cr_expect_eq(x.received, 9);
    cr_expect_eq(stats_of(&x).received, 9);
    dx_close(&x);
}

static int plain_closes;

static void count_close(struct sockit_dgram *d, int err, void *ud)
{
    (void)d;
    (void)ud;
    cr_expect_eq(err, -ECANCELED);
    plain_closes++;
}

static void ignore_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *m, size_t n,
                        void *ud)
{
    (void)d;
    (void)m;
    (void)n;
    (void)ud;
}

/* The loop is freed while receives are in flight (io_uring: a multishot recvmsg in the kernel,
 * datagrams held by a paused dgram, a second dgram whose receive was never even submitted):
 * each dgram is closed once, with -ECANCELED, and nothing leaks (the ASan run checks). */
DGRAM_TEST(loop_free_with_receives_in_flight)
{
    static const struct sockit_dgram_ops plain = { ignore_recv, NULL, count_close };
    struct sockit_dgram *other = NULL;
    struct sockit_addr a;
    struct dx x;

    dx_open(&x, tr, NULL);
    for (int i = 0; i < 4; i++)
        peer_send(x.peer[0], "held", 4, &x.addr);
    x.after_batch = pause_now;
    run_briefly(&x, 20);
    cr_expect_eq(x.batches, 1);
    plain_closes = 0;
    cr_assert_eq(sockit_dgram_open(x.loop, bound(tr, &a), &plain, NULL, NULL, &other), 0);
    cr_assert_eq(sockit_dgram_write(other, "x", 1, &x.peer_addr[1]), 0);
    sockit_timer_stop(x.loop, &x.deadline);
    sockit_loop_free(x.loop);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, -ECANCELED);
    cr_expect_eq(plain_closes, 1, "the second dgram's on_close ran %d times", plain_closes);
    for (int i = 0; i < NPEERS; i++)
        close(x.peer[i]);
}

/* Two counts of trace lines from one hook. */
struct trace_counts {
    struct trace_count a, b;
};

static void count_lines(void *ctx, const char *text)
{
    struct trace_counts *c = ctx;
    count_line(&c->a, text);
    count_line(&c->b, text);
}

static void stop_on_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *m, size_t n,
                         void *ud)
{
    (void)m;
    (void)n;
    (void)ud;
    sockit_loop_stop(*(struct sockit_loop **)ud);
    (void)d;
}

/* io_uring: a kernel that refuses multishot recvmsg (before Linux 6.0: EINVAL) gets the
 * readiness path for receiving, for this dgram and the next ones on the loop; sending stays
 * io_uring requests. */
NATIVE_TEST(dgram_receives_through_watchers_when_multishot_recvmsg_is_refused)
{
    static const struct sockit_dgram_ops second_ops = { stop_on_recv, NULL, NULL };
    struct trace_counts c = { { "recvmmsg(", NULL, 0 }, { "io_uring sendmsg(", NULL, 0 } };
    struct trace_count second = { "recvmmsg(", NULL, 0 };
    struct sockit_trace trace = { count_lines, &c }, trace2 = { count_line, &second };
    struct sockit_dgram_opts o = { .trace = &trace }, o2 = { .trace = &trace2 };
    struct sockit_dgram *d2 = NULL;
    struct sockit_addr a2;
    struct seen_msg got[3];
    struct reader r[NPEERS];
    struct dx x;

    before_open = sockit__uring_dgram_refuse_next;
    dx_open(&x, UDP4, &o);
    before_open = NULL;
    x.test = got;
    x.on_msg = record;
    x.want = 3;
    for (int i = 0; i < 3; i++)
        peer_send(x.peer[i], "hi", 2, &x.addr);
    dx_run(&x, "the datagrams, through a watcher");
    cr_expect_eq(x.received, 3);
    cr_expect_gt(c.a.n, 0, "after the refusal, recvmmsg receives");
    cr_expect_eq(x.nerrors, 0, "the refusal is no error of the caller's");
    x.on_msg = NULL;
    watch_readers(&x, r, 1);
    cr_assert_eq(sockit_dgram_write(x.d, "out", 3, &x.peer_addr[0]), 0);
    dx_run(&x, "the datagram out");
    cr_expect_eq(c.b.n, 1, "sending is still io_uring requests");
    /* the loop remembers: a new dgram on it goes straight to watchers */
    cr_assert_eq(sockit_dgram_open(x.loop, bound(UDP4, &a2), &second_ops, &x.loop, &o2, &d2), 0);
    peer_send(x.peer[0], "two", 3, &a2);
    dx_run(&x, "the second dgram's datagram");
    cr_expect_gt(second.n, 0, "the second dgram receives with recvmmsg");
    sockit_dgram_close(d2);
    dx_close(&x);
}

/* ---------------------------------------------------------------- open */

DGRAM_LOOP_TEST(open_refuses_what_is_not_a_datagram_socket)
{
    struct sockit_loop *loop = new_loop();
    struct sockit_dgram_opts big = { .batch = 1025 };
    struct sockit_dgram_ops no_recv = { 0 };
    struct sockit_dgram *d = NULL;
    struct sockit_addr a;
    int sv[2];

    pair(sv);
    cr_expect_eq(sockit_dgram_open(loop, sv[0], &dx_ops, NULL, NULL, &d), -SOCKIT_ETYPE);
    cr_expect(fcntl(sv[0], F_GETFD) < 0 && errno == EBADF, "the fd is closed on failure");
    int fd = bound(UDP4, &a);
    cr_expect_eq(sockit_dgram_open(loop, fd, &dx_ops, NULL, &big, &d), -EINVAL);
    fd = bound(UDP4, &a);
    cr_expect_eq(sockit_dgram_open(loop, fd, &no_recv, NULL, NULL, &d), -EINVAL);
    cr_expect_null(d);
    close(sv[1]);
    sockit_loop_free(loop);
}
