/* Unit tests for the server layer (sockit/server.h): clients served on several threads, one
 * max_clients cap over all of them with the client over it closed at once, idle timeouts,
 * stopping from another thread, by a signal and after max_served, the port free right after
 * the server stops, the unix socket file removed only while it is still the server's, a
 * protocol engine per client, and datagrams. Loopback sockets; every LOOP_TEST runs once per
 * backend variant (../loop/backends.h). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "../loop/backends.h"
#include "sockit/server.h"

/* ---------------------------------------------------------------- helpers */

#define MAX_THREADS 4

/* What the callbacks saw; they run on the server's threads, so only atomics, checked by the
 * test's thread. */
struct seen {
    struct sockit_server *srv;
    _Atomic int opened, by_thread[MAX_THREADS], bad_open;
    _Atomic int closed_ok, closed_idle, closed_cancel, closed_other;
    _Atomic int full, other_reject, bad_reject;
    _Atomic pid_t tid0; /* the first thread's id, from on_open */
};

static void *t_open(const struct sockit_server_client *c, void *ud)
{
    struct seen *x = ud;

    if (c->server != x->srv || !c->loop || !c->stream || !c->peer || c->thread >= MAX_THREADS)
        atomic_fetch_add(&x->bad_open, 1);
    else
        atomic_fetch_add(&x->by_thread[c->thread], 1);
    if (c->thread == 0)
        atomic_store(&x->tid0, (pid_t)syscall(SYS_gettid));
    atomic_fetch_add(&x->opened, 1);
    return x;
}

static void count_close(struct seen *x, int err)
{
    if (err == 0)
        atomic_fetch_add(&x->closed_ok, 1);
    else if (err == -SOCKIT_EIDLE)
        atomic_fetch_add(&x->closed_idle, 1);
    else if (err == -ECANCELED)
        atomic_fetch_add(&x->closed_cancel, 1);
    else
        atomic_fetch_add(&x->closed_other, 1);
}

static void t_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (len == 0)
        sockit_stream_close_after_flush(s);
    else
        sockit_stream_write(s, data, len);
}

static void t_close(struct sockit_stream *s, int err, void *ud)
{
    (void)s;
    count_close(ud, err);
}

static void t_reject(struct sockit_server *srv, int err, const struct sockit_addr *peer, void *ud)
{
    struct seen *x = ud;

    if (srv != x->srv)
        atomic_fetch_add(&x->bad_reject, 1);
    if (err == -SOCKIT_EFULL && peer)
        atomic_fetch_add(&x->full, 1);
    else
        atomic_fetch_add(&x->other_reject, 1);
}

static const struct sockit_stream_ops echo_ops = { .on_data = t_data, .on_close = t_close };
static const struct sockit_server_handler echo_handler = { .on_open = t_open,
                                                           .stream = &echo_ops,
                                                           .on_reject = t_reject };

/* Options for ENDPOINT (sockit syntax; PORT0 replaces the port with 0: the kernel picks one)
 * on the backend variant under test. */
static struct sockit_server_options options(const char *endpoint, bool port0, unsigned threads)
{
    struct sockit_server_options o = { .threads = threads,
                                       .sockopts = { .flags = SOCKIT_REUSEADDR } };
    cr_assert_eq(sockit_endpoint_parse(endpoint, &o.endpoint), 0, "endpoint %s", endpoint);
    if (port0)
        o.endpoint.port = 0;
    o.loop = test_options;
    return o;
}

/* Options for 127.0.0.1 on a port the kernel picks. */
static struct sockit_server_options tcp_options(unsigned threads)
{
    return options("tcp://127.0.0.1:1", true, threads);
}

static struct sockit_server *start(struct seen *x, const struct sockit_server_options *o,
                                   const struct sockit_server_handler *h)
{
    int rc = sockit_server_new(&x->srv, o, h, x);
    cr_assert_eq(rc, 0, "sockit_server_new: %d (%s)", rc, sockit_strerror(rc));
    rc = sockit_server_start(x->srv);
    cr_assert_eq(rc, 0, "sockit_server_start: %d (%s)", rc, sockit_strerror(rc));
    return x->srv;
}

static int port_of(struct sockit_server *srv)
{
    struct sockit_server_info info;
    sockit_server_info(srv, &info);
    cr_assert_eq(info.local.u.sa.sa_family, AF_INET);
    return ntohs(info.local.u.in.sin_port);
}

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)port) };
}

static int tcp_client(int port)
{
    struct sockaddr_in a = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect to port %d: %s", port,
                 strerror(errno));
    return fd;
}

static struct sockit_server_stats stats(struct sockit_server *srv)
{
    struct sockit_server_stats st;
    sockit_server_stats(srv, &st);
    return st;
}

/* Poll COND (an expression) every 5 ms for up to MS; true if it held. */
#define WITHIN(ms, cond)                                                                           \
    ({                                                                                             \
        uint64_t end_ = mono_ns() + MS * (ms);                                                     \
        while (!(cond) && mono_ns() < end_)                                                        \
            usleep(5000);                                                                          \
        (bool)(cond);                                                                              \
    })

static void stop_and_wait(struct sockit_server *srv)
{
    sockit_server_stop(srv);
    int rc = sockit_server_wait(srv);
    cr_expect_eq(rc, 0, "sockit_server_wait: %d (%s)", rc, sockit_strerror(rc));
}

static void stop_and_free(struct sockit_server *srv)
{
    stop_and_wait(srv);
    sockit_server_free(srv);
}

/* ---------------------------------------------------------------- serving */

LOOP_TEST(server_serves_clients_on_every_thread)
{
    enum { N = 30, THREADS = 3 };
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(THREADS);
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv), fds[N];

    for (int i = 0; i < N; i++)
        fds[i] = tcp_client(port);
    for (int i = 0; i < N; i++)
        cr_expect_eq(h_ping(fds[i]), 4, "client %d was not served", i);
    struct sockit_server_stats st = stats(srv);
    cr_expect_eq(st.accepted, N);
    cr_expect_eq(st.live, N);
    for (int t = 0; t < THREADS; t++)
        cr_expect_gt(atomic_load(&x.by_thread[t]), 0, "thread %d served no client of %d", t, N);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    cr_expect(WITHIN(3000, stats(srv).live == 0), "%lu clients still live",
              (unsigned long)stats(srv).live);
    stop_and_wait(srv);
    cr_expect_eq(atomic_load(&x.closed_ok), N, "on_close(0) once per client");
    cr_expect_eq(atomic_load(&x.bad_open), 0, "on_open got what it should");
    sockit_server_free(srv);
}

/* ---------------------------------------------------------------- max_clients */

LOOP_TEST(max_clients_is_one_cap_over_all_threads)
{
    enum { N = 10, CAP = 3 };
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(4);
    o.max_clients = CAP;
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv), fds[N], served = 0, turned_away = 0, kept = -1;

    for (int i = 0; i < N; i++)
        fds[i] = tcp_client(port);
    cr_assert(WITHIN(3000, stats(srv).accepted + stats(srv).rejected == N), "not all handled");
    for (int i = 0; i < N; i++) {
        ssize_t n = h_ping(fds[i]);
        if (n == 4)
            served++, kept = i;
        else if (n == 0 || n == -ECONNRESET || n == -EPIPE)
            turned_away++;
    }
    cr_expect_eq(served, CAP, "served %d clients with max_clients %d over 4 threads", served, CAP);
    cr_expect_eq(turned_away, N - CAP, "%d were turned away", turned_away);
    struct sockit_server_stats st = stats(srv);
    cr_expect_eq(st.rejected, N - CAP);
    cr_expect_eq(st.live, CAP);
    cr_expect_eq(atomic_load(&x.full), N - CAP, "on_reject(-SOCKIT_EFULL, peer) per rejection");
    cr_expect_eq(atomic_load(&x.bad_reject) + atomic_load(&x.other_reject), 0);
    /* A place that frees up goes to the next client. */
    cr_assert_geq(kept, 0);
    close(fds[kept]);
    cr_expect(WITHIN(3000, stats(srv).live == CAP - 1));
    int next = tcp_client(port);
    cr_expect_eq(h_ping(next), 4, "a client after one left is served");
    close(next);
    for (int i = 0; i < N; i++)
        if (i != kept)
            close(fds[i]);
    stop_and_free(srv);
}

LOOP_TEST(client_over_the_cap_is_closed_at_once)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(2);
    o.max_clients = 1;
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv), a = tcp_client(port);
    char buf[4];

    cr_assert_eq(h_ping(a), 4);
    uint64_t t0 = mono_ns();
    int b = tcp_client(port); /* sends nothing: it is told all the same */
    ssize_t n = h_read_within(b, 3000, buf, sizeof(buf));
    uint64_t ms = (mono_ns() - t0) / MS;
    cr_expect(n == 0 || n == -ECONNRESET, "the client over the cap: read %zd", n);
    cr_expect_lt(ms, 1000, "closed after %lu ms", (unsigned long)ms);
    cr_expect_eq(stats(srv).rejected, 1);
    cr_expect_eq(h_ping(a), 4, "the client under the cap is still served");
    close(a);
    close(b);
    stop_and_free(srv);
}

/* ---------------------------------------------------------------- idle timeout */

LOOP_TEST(idle_timeout_closes_a_quiet_client_and_spares_a_busy_one)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(2);
    o.idle_ms = 200;
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv), quiet = tcp_client(port), busy = tcp_client(port);
    uint64_t t0 = mono_ns();
    char buf[4];

    for (int i = 0; i < 10; i++) { /* never quiet for 200 ms */
        cr_assert_eq(h_ping(busy), 4, "busy client, round %d", i);
        usleep(50000);
    }
    ssize_t n = h_read_within(quiet, 2000, buf, sizeof(buf));
    uint64_t ms = (mono_ns() - t0) / MS;
    cr_expect_eq(n, 0, "the quiet client sees the end of the stream (read %zd)", n);
    cr_expect(ms >= 190 && ms < 2000, "closed after %lu ms, idle_ms 200", (unsigned long)ms);
    cr_expect_eq(h_ping(busy), 4, "the busy client is still served");
    cr_expect(WITHIN(1000, atomic_load(&x.closed_idle) == 1), "on_close(-SOCKIT_EIDLE)");
    cr_expect_eq(stats(srv).idled_out, 1);
    close(quiet);
    close(busy);
    stop_and_free(srv);
}

/* ---------------------------------------------------------------- stopping */

static void *stop_later(void *arg)
{
    usleep(100000);
    sockit_server_stop(arg);
    return NULL;
}

LOOP_TEST(stop_from_another_thread_closes_the_clients)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(2);
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv), fd = tcp_client(port);
    pthread_t tid;
    char buf[4];

    cr_assert_eq(h_ping(fd), 4);
    cr_assert_eq(pthread_create(&tid, NULL, stop_later, srv), 0);
    cr_expect_eq(sockit_server_wait(srv), 0);
    pthread_join(tid, NULL);
    cr_expect_eq(atomic_load(&x.closed_cancel), 1, "on_close(-ECANCELED) for the client");
    cr_expect_eq(h_read_within(fd, 1000, buf, sizeof(buf)), 0, "the client sees the end");
    cr_expect_eq(stats(srv).live, 0);
    close(fd);
    sockit_server_free(srv);
}

LOOP_TEST(sigterm_stops_a_server_that_handles_signals)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(1);
    o.handle_signals = true;
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int fd = tcp_client(port_of(srv));

    cr_assert_eq(h_ping(fd), 4); /* on_open told us the loop thread */
    /* To that thread: the test runner has a thread of its own that does not block SIGTERM,
     * so a signal to the whole process could end up there and kill the test. */
    cr_assert_eq(syscall(SYS_tgkill, getpid(), atomic_load(&x.tid0), SIGTERM), 0);
    cr_expect_eq(sockit_server_wait(srv), 0);
    cr_expect_eq(atomic_load(&x.closed_cancel), 1);
    close(fd);
    sockit_server_free(srv);
}

LOOP_TEST(server_stops_by_itself_after_max_served_clients)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(2);
    o.max_served = 3;
    struct sockit_server *srv = start(&x, &o, &echo_handler);
    int port = port_of(srv);

    for (int i = 0; i < 3; i++) {
        int fd = tcp_client(port);
        cr_expect_eq(h_ping(fd), 4, "client %d", i);
        close(fd);
    }
    cr_expect_eq(sockit_server_wait(srv), 0); /* no stop: the third client's close ends it */
    cr_expect_eq(atomic_load(&x.closed_ok), 3);
    cr_expect_eq(stats(srv).accepted, 3);
    sockit_server_free(srv);
}

/* The port is free for a new bind as soon as sockit_server_wait returns, every time, on every
 * backend: on io_uring the listening socket used to outlive the server by milliseconds. */
LOOP_TEST(port_is_free_right_after_the_server_stops)
{
    for (int round = 0; round < 20; round++) {
        struct seen x = { 0 };
        struct sockit_server_options o = tcp_options(2);
        struct sockit_server *srv = start(&x, &o, &echo_handler);
        int port = port_of(srv), fd = tcp_client(port), one = 1;

        cr_assert_eq(h_ping(fd), 4);
        close(fd);
        stop_and_wait(srv);
        struct sockaddr_in a = loopback(port);
        int again = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        cr_expect_eq(bind(again, (struct sockaddr *)&a, sizeof(a)), 0,
                     "round %d: bind port %d right after the server stopped: %s", round, port,
                     strerror(errno));
        cr_expect_eq(listen(again, 1), 0, "round %d: listen: %s", round, strerror(errno));
        close(again);
        sockit_server_free(srv);
    }
}

/* ---------------------------------------------------------------- unix socket files */

static struct sockit_server *start_unix(struct seen *x, const char *path)
{
    char ep[128];
    snprintf(ep, sizeof(ep), "unix:%s", path);
    struct sockit_server_options o = options(ep, false, 2);
    return start(x, &o, &echo_handler);
}

LOOP_TEST(unix_socket_file_is_removed_at_stop_only_while_it_is_the_servers)
{
    struct seen x = { 0 }, y = { 0 };
    char path[96];
    struct stat st;

    h_tmp_path(path, sizeof(path), "server.sock");
    struct sockit_server *srv = start_unix(&x, path);
    cr_assert_eq(stat(path, &st), 0, "the server's socket file %s", path);
    stop_and_wait(srv);
    cr_expect(stat(path, &st) < 0 && errno == ENOENT, "the server's own file is removed");
    sockit_server_free(srv);

    /* Someone removes the file while the server runs and binds another socket there. */
    srv = start_unix(&y, path);
    cr_assert_eq(unlink(path), 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(bind(other, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    stop_and_wait(srv);
    cr_expect_eq(stat(path, &st), 0, "the other socket's file must stay");
    close(other);
    unlink(path);
    sockit_server_free(srv);
}

/* ---------------------------------------------------------------- engines, datagrams */

static long e_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                    const struct sockit_io *io)
{
    struct iovec iov = { (void *)data, len };
    (void)eng;
    (void)now;
    (void)seen;
    return io->writev(io->ctx, &iov, 1) == 0 ? (long)len : -EIO;
}

static void e_closed(void *eng, int err)
{
    struct seen *x = eng;
    count_close(x, err);
}

LOOP_TEST(engine_per_client)
{
    static const struct sockit_engine_ops echo_engine = { .input = e_input, .closed = e_closed };
    const struct sockit_server_handler h = { .on_open = t_open, .engine = &echo_engine };
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(2);
    o.idle_ms = 5000;
    struct sockit_server *srv = start(&x, &o, &h);
    int port = port_of(srv), fds[5];

    for (int i = 0; i < 5; i++)
        fds[i] = tcp_client(port);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(h_ping(fds[i]), 4, "client %d through the engine", i);
    for (int i = 0; i < 5; i++)
        close(fds[i]); /* no input_end: the conn closes */
    cr_expect(WITHIN(3000, atomic_load(&x.closed_ok) == 5), "closed() once per client: %d",
              atomic_load(&x.closed_ok));
    cr_expect_eq(atomic_load(&x.opened), 5);
    stop_and_free(srv);
}

static void d_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n, void *ud)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        sockit_dgram_write(d, msgs[i].data, msgs[i].len, &msgs[i].peer);
}

LOOP_TEST(datagrams_are_served_by_a_dgram_per_thread)
{
    static const struct sockit_dgram_ops echo_dgram = { .on_recv = d_recv };
    const struct sockit_server_handler h = { .dgram = &echo_dgram };
    struct seen x = { 0 };
    struct sockit_server_options o = options("udp://127.0.0.1:1", true, 2);
    struct sockit_server *srv = start(&x, &o, &h);
    struct sockaddr_in a = loopback(port_of(srv));

    for (int i = 0; i < 8; i++) { /* each its own source port: both threads get some */
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        char buf[16];
        cr_assert_eq(sendto(fd, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a)), 8);
        cr_expect_eq(h_read_within(fd, 3000, buf, sizeof(buf)), 8, "datagram %d answered", i);
        close(fd);
    }
    stop_and_free(srv);
}

/* ---------------------------------------------------------------- options */

Test(server, new_refuses_a_handler_that_does_not_fit_the_endpoint)
{
    static const struct sockit_engine_ops eng = { .input = e_input, .closed = e_closed };
    static const struct sockit_dgram_ops dg = { .on_recv = d_recv };
    const struct sockit_server_handler both = { .stream = &echo_ops, .engine = &eng };
    const struct sockit_server_handler none = { .on_open = t_open };
    const struct sockit_server_handler dgram = { .dgram = &dg };
    struct sockit_server_options tcp = { 0 }, udp = { 0 };
    struct sockit_server *srv = NULL;

    cr_assert_eq(sockit_endpoint_parse("tcp://127.0.0.1:9", &tcp.endpoint), 0);
    cr_assert_eq(sockit_endpoint_parse("udp://127.0.0.1:9", &udp.endpoint), 0);
    cr_expect_eq(sockit_server_new(&srv, &tcp, &both, NULL), -EINVAL, "stream and engine");
    cr_expect_eq(sockit_server_new(&srv, &tcp, &none, NULL), -EINVAL, "no client mode");
    cr_expect_eq(sockit_server_new(&srv, &tcp, &dgram, NULL), -EINVAL, "dgram on tcp");
    cr_expect_eq(sockit_server_new(&srv, &udp, &echo_handler, NULL), -EINVAL, "stream on udp");
    tcp.threads = SOCKIT_SERVER_MAX_THREADS + 1;
    cr_expect_eq(sockit_server_new(&srv, &tcp, &echo_handler, NULL), -EINVAL, "threads");
    cr_expect_null(srv);
}

Test(server, start_twice_is_refused_and_wait_needs_a_start)
{
    struct seen x = { 0 };
    struct sockit_server_options o = tcp_options(1);

    cr_assert_eq(sockit_server_new(&x.srv, &o, &echo_handler, &x), 0);
    cr_expect_eq(sockit_server_wait(x.srv), -EINVAL, "wait before start");
    cr_assert_eq(sockit_server_start(x.srv), 0);
    cr_expect_eq(sockit_server_start(x.srv), -EALREADY);
    sockit_server_free(x.srv); /* stops and waits */
}

Test(server, start_reports_an_address_in_use_and_leaves_nothing_open)
{
    struct seen x = { 0 }, y = { 0 };
    struct sockit_server_options o = tcp_options(1);

    start(&x, &o, &echo_handler);
    o.endpoint.port = (uint16_t)port_of(x.srv);
    o.sockopts.flags = 0;
    cr_assert_eq(sockit_server_new(&y.srv, &o, &echo_handler, &y), 0);
    cr_expect_eq(sockit_server_start(y.srv), -EADDRINUSE);
    cr_expect_eq(sockit_server_wait(y.srv), -EINVAL, "nothing to wait for after a failed start");
    sockit_server_free(y.srv);
    stop_and_wait(x.srv);
    sockit_server_free(x.srv);
}
