/* Unit tests for sockets and socket I/O (sockit/socket.h: socket.c and io.c), over real
 * loopback sockets only: 127.0.0.1, ::1, unix paths under /tmp and abstract names. The header
 * comments are the contract tested here. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "sockit/endpoint.h"
#include "sockit/error.h"
#include "sockit/socket.h"

/* A regression that blocks forever fails after 10 s instead of hanging the run. */
TestSuite(socket, .timeout = 10);

/* ---------------------------------------------------------------- helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse the endpoint text built from FMT, asserting success (rotating static results). */
__attribute__((format(printf, 1, 2))) static const struct sockit_endpoint *ep_of(const char *fmt,
                                                                                 ...)
{
    static struct sockit_endpoint ring[4];
    static int slot;
    struct sockit_endpoint *ep = &ring[slot++ % 4];
    char text[SOCKIT_ENDPOINT_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int rc = sockit_endpoint_parse(text, ep);
    cr_assert_eq(rc, 0, "parse(\"%s\") returned %d (%s)", text, rc, sockit_strerror(rc));
    return ep;
}

/* Text of A (rotating static buffers, so two may appear in one message). */
static const char *addr_text(const struct sockit_addr *a)
{
    static char out[4][SOCKIT_ADDR_STRLEN];
    static int slot;
    char *o = out[slot++ % 4];
    if (sockit_addr_format(a, o, SOCKIT_ADDR_STRLEN) < 0)
        snprintf(o, SOCKIT_ADDR_STRLEN, "(unformattable)");
    return o;
}

static int addr_port(const struct sockit_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return -1;
}

static struct sockit_addr local_of(int fd)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof a.u;
    cr_assert_eq(getsockname(fd, &a.u.sa, &a.len), 0, "getsockname(%d): %s", fd, strerror(errno));
    return a;
}

static int local_port(int fd)
{
    struct sockit_addr a = local_of(fd);
    return addr_port(&a);
}

static const char *local_text(int fd)
{
    struct sockit_addr a = local_of(fd);
    return addr_text(&a);
}

/* Listen on EP with FLAGS and BACKLOG, asserting success. */
static int listen_ok(const struct sockit_endpoint *ep, unsigned flags, int backlog,
                     struct sockit_addr *local)
{
    struct sockit_sockopts o = { .flags = flags, .backlog = backlog };
    int fd = sockit_socket_listen(ep, &o, local);
    char text[SOCKIT_ENDPOINT_MAX + 1] = "";
    sockit_endpoint_format(ep, text, sizeof text);
    cr_assert_geq(fd, 0, "listen(%s, flags %#x) returned %d (%s)", text, flags, fd,
                  sockit_strerror(fd));
    return fd;
}

/* Connect to EP with FLAGS and a 2 s timeout, asserting success. */
static int connect_ok(const struct sockit_endpoint *ep, unsigned flags, struct sockit_addr *peer)
{
    struct sockit_sockopts o = { .flags = flags, .timeout_ms = 2000 };
    int fd = sockit_socket_connect(ep, &o, peer);
    char text[SOCKIT_ENDPOINT_MAX + 1] = "";
    sockit_endpoint_format(ep, text, sizeof text);
    cr_assert_geq(fd, 0, "connect(%s, flags %#x) returned %d (%s)", text, flags, fd,
                  sockit_strerror(fd));
    return fd;
}

/* Accept on LFD, asserting success; waits up to 2 s for a connection. */
static int accept_ok(int lfd, unsigned flags, struct sockit_addr *peer)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 2000), 1, "no connection pending on listener %d within 2 s", lfd);
    struct sockit_sockopts o = { .flags = flags };
    int fd = sockit_socket_accept(lfd, &o, peer);
    cr_assert_geq(fd, 0, "accept(%d) returned %d (%s)", lfd, fd, sockit_strerror(fd));
    return fd;
}

static void wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, timeout_ms), 1, "fd %d not readable within %d ms", fd, timeout_ms);
}

static void close_ok(int fd)
{
    int rc = sockit_socket_close(fd, NULL);
    cr_assert_eq(rc, 0, "close(%d) returned %d (%s)", fd, rc, sockit_strerror(rc));
}

static bool is_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    cr_assert_geq(fl, 0, "F_GETFL on %d: %s", fd, strerror(errno));
    return (fl & O_NONBLOCK) != 0;
}

static bool is_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    cr_assert_geq(fl, 0, "F_GETFD on %d: %s", fd, strerror(errno));
    return (fl & FD_CLOEXEC) != 0;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* Lowest free fd right now (what the next socket() would get). */
static int next_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open(/dev/null): %s", strerror(errno));
    close(fd);
    return fd;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool path_is_socket(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Bind a raw AF_UNIX socket of TYPE to PATH and close it: a socket file left by a dead server. */
static void leave_stale_socket_file(const char *path, int type)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind(%s): %s", path,
                 strerror(errno));
    if (type == SOCK_STREAM)
        cr_assert_eq(listen(fd, 1), 0);
    close(fd);
    cr_assert(path_is_socket(path), "%s should be left behind as a socket file", path);
}

/* Trace hook that keeps every line. */
#define MAX_LINES 64
struct lines {
    int n;
    char text[MAX_LINES][256];
};

static void collect(void *ctx, const char *text)
{
    struct lines *l = ctx;
    if (l->n < MAX_LINES)
        snprintf(l->text[l->n++], sizeof l->text[0], "%s", text);
}

/* All lines, one per line, for failure messages. */
static const char *dump(const struct lines *l)
{
    static char out[MAX_LINES * 260];
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < l->n && n < sizeof out; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "  %s\n", l->text[i]);
    return l->n ? out : "  (no lines)\n";
}

static bool has_line(const struct lines *l, const char *want)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->text[i], want) == 0)
            return true;
    return false;
}

__attribute__((format(printf, 2, 3))) static void expect_line(const struct lines *l,
                                                              const char *fmt, ...)
{
    char want[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    cr_expect(has_line(l, want), "trace has no line \"%s\"; it has:\n%s", want, dump(l));
}

static void expect_payload(const unsigned char *got, size_t len, unsigned seed, const char *what)
{
    unsigned char *want = malloc(len ? len : 1);
    cr_assert_not_null(want);
    h_fill(want, len, seed);
    size_t i = 0;
    while (i < len && got[i] == want[i])
        i++;
    free(want);
    cr_expect_eq(i, len, "%s: %zu bytes, first difference at byte %zu", what, len, i);
}

/* A connected TCP pair over 127.0.0.1: *CLIENT from sockit_socket_connect, *SERVER accepted. */
static void tcp_pair(int *client, int *server, unsigned client_flags)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    *client = connect_ok(&ep, client_flags, NULL);
    *server = accept_ok(lfd, 0, NULL);
    close_ok(lfd);
}

static void unix_pair(int type, int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

/* ---------------------------------------------------------------- listen / connect / accept */

Test(socket, tcp_ipv4_connect_and_accept_report_formatted_addresses)
{
    int port = h_free_port();
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", port);
    struct sockit_addr local, peer, accepted_from;
    char want[64];

    int lfd = listen_ok(&ep, 0, 0, &local);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    cr_expect_str_eq(addr_text(&local), want, "listener's local address");

    int c = connect_ok(&ep, 0, &peer);
    cr_expect_str_eq(addr_text(&peer), want, "connect's peer address");

    int s = accept_ok(lfd, 0, &accepted_from);
    struct sockit_addr client_local = local_of(c);
    cr_assert_eq(accepted_from.u.sa.sa_family, AF_INET);
    cr_expect_eq(accepted_from.len, sizeof(struct sockaddr_in));
    snprintf(want, sizeof want, "127.0.0.1:%d", addr_port(&client_local));
    cr_expect_str_eq(addr_text(&accepted_from), want,
                     "accept's peer is the client's own address %s", addr_text(&client_local));

    cr_expect_eq(sockit_send_all(c, "ping", 4, NULL), 4);
    char buf[8] = "";
    cr_expect_eq(sockit_recv(s, buf, sizeof buf, NULL), 4);
    cr_expect(memcmp(buf, "ping", 4) == 0, "server received \"%.4s\"", buf);
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, tcp_ipv6_loopback_addresses_format_in_brackets)
{
    int port = h_free_port();
    struct sockit_endpoint ep = *ep_of("tcp://[::1]:%d", port);
    struct sockit_addr local, peer, from;
    char want[64];

    int lfd = listen_ok(&ep, 0, 0, &local);
    snprintf(want, sizeof want, "[::1]:%d", port);
    cr_expect_str_eq(addr_text(&local), want);
    int c = connect_ok(&ep, 0, &peer);
    cr_expect_str_eq(addr_text(&peer), want);
    int s = accept_ok(lfd, 0, &from);
    cr_assert_eq(from.u.sa.sa_family, AF_INET6);
    snprintf(want, sizeof want, "[::1]:%d", local_port(c));
    cr_expect_str_eq(addr_text(&from), want);
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, ipv6_wildcard_listener_accepts_ipv4_client)
{
    int port = h_free_port();
    struct sockit_endpoint ep = *ep_of("tcp://[::]:%d", port);
    struct sockit_addr local, from;
    char want[64];

    int lfd = listen_ok(&ep, 0, 0, &local);
    cr_assert_eq(local.u.sa.sa_family, AF_INET6, "[::] listener is an IPv6 socket");
    int c = connect_ok(ep_of("tcp://127.0.0.1:%d", port), 0, NULL);
    int s = accept_ok(lfd, 0, &from);
    snprintf(want, sizeof want, "127.0.0.1:%d", local_port(c));
    cr_expect_eq(from.u.sa.sa_family, AF_INET6, "an IPv4 client on [::] is IPv4-mapped");
    cr_expect_str_eq(addr_text(&from), want, "IPv4-mapped peer prints as plain IPv4");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, ipv6_wildcard_listener_with_v6only_refuses_ipv4_client)
{
    int port = h_free_port();
    int lfd = listen_ok(ep_of("tcp://[::]:%d", port), SOCKIT_V6ONLY, 0, NULL);
    int v6only = 0;
    socklen_t len = sizeof v6only;
    cr_assert_eq(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
    cr_expect_eq(v6only, 1, "SOCKIT_V6ONLY sets IPV6_V6ONLY");

    struct sockit_sockopts o = { .timeout_ms = 1000 };
    int c4 = sockit_socket_connect(ep_of("tcp://127.0.0.1:%d", port), &o, NULL);
    cr_expect_eq(c4, -ECONNREFUSED, "IPv4 client of a V6ONLY listener: %d (%s)", c4,
                 sockit_strerror(c4));
    if (c4 >= 0)
        close(c4);
    int c6 = connect_ok(ep_of("tcp://[::1]:%d", port), 0, NULL);
    close_ok(c6);
    close_ok(lfd);
}

Test(socket, empty_host_listens_on_dual_stack_wildcard)
{
    int port = h_free_port();
    struct sockit_addr local;
    int lfd = listen_ok(ep_of("tcp://:%d", port), 0, 0, &local);
    char want[64];
    snprintf(want, sizeof want, "[::]:%d", port);
    cr_expect_str_eq(addr_text(&local), want, "tcp://:PORT binds [::] first");
    int c4 = connect_ok(ep_of("tcp://127.0.0.1:%d", port), 0, NULL);
    int c6 = connect_ok(ep_of("tcp://[::1]:%d", port), 0, NULL);
    int s1 = accept_ok(lfd, 0, NULL), s2 = accept_ok(lfd, 0, NULL);
    close_ok(s1);
    close_ok(s2);
    close_ok(c4);
    close_ok(c6);
    close_ok(lfd);
}

Test(socket, second_listener_on_taken_port_is_eaddrinuse)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    int before = next_fd();

    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "second listener without REUSEPORT: %d (%s)", rc,
                 sockit_strerror(rc));
    cr_expect_eq(next_fd(), before, "failed listen leaked its socket");

    o.flags = SOCKIT_REUSEADDR;
    rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "SO_REUSEADDR does not share a port between listeners: %d", rc);
    o.flags = SOCKIT_REUSEPORT;
    rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "REUSEPORT on the second listener only: %d (%s)", rc,
                 sockit_strerror(rc));
    close_ok(lfd);
}

Test(socket, reuseport_on_both_listeners_shares_the_port)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int l1 = listen_ok(&ep, SOCKIT_REUSEPORT, 0, NULL);
    int l2 = listen_ok(&ep, SOCKIT_REUSEPORT, 0, NULL);
    int on = 0;
    socklen_t len = sizeof on;
    cr_assert_eq(getsockopt(l2, SOL_SOCKET, SO_REUSEPORT, &on, &len), 0);
    cr_expect_neq(on, 0, "SO_REUSEPORT is set");

    int c = connect_ok(&ep, 0, NULL);
    struct pollfd p[2] = { { .fd = l1, .events = POLLIN }, { .fd = l2, .events = POLLIN } };
    cr_assert_eq(poll(p, 2, 2000), 1, "exactly one of the two listeners gets the connection");
    int s = accept_ok(p[0].revents ? l1 : l2, 0, NULL);
    close_ok(s);
    close_ok(c);
    close_ok(l1);
    close_ok(l2);
}

Test(socket, reuseaddr_allows_listening_again_while_time_wait_holds_the_port)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, SOCKIT_REUSEADDR, 0, NULL);
    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, 0, NULL);
    close_ok(s); /* the server closes first, so its side ends in TIME_WAIT */
    char b;
    wait_readable(c, 2000);
    cr_assert_eq(sockit_recv(c, &b, 1, NULL), 0, "client sees the server's FIN");
    close_ok(c);
    close_ok(lfd);
    usleep(20 * 1000);

    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "without SO_REUSEADDR, TIME_WAIT blocks the port: %d (%s)", rc,
                 sockit_strerror(rc));
    if (rc >= 0)
        close(rc);
    o.flags = SOCKIT_REUSEADDR;
    rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_geq(rc, 0, "with SO_REUSEADDR the port can be bound again: %d (%s)", rc,
                  sockit_strerror(rc));
    if (rc >= 0)
        close_ok(rc);
}

Test(socket, connect_to_closed_port_returns_econnrefused_quickly)
{
    int port = h_free_port();
    struct sockit_sockopts o = { 0 }; /* no timeout: only the kernel decides */
    struct sockit_addr peer;
    int before = next_fd();
    long long t0 = now_ms();
    int rc = sockit_socket_connect(ep_of("tcp://127.0.0.1:%d", port), &o, &peer);
    long long took = now_ms() - t0;
    cr_expect_eq(rc, -ECONNREFUSED, "connect to a closed port: %d (%s)", rc, sockit_strerror(rc));
    cr_expect_lt(took, 1000, "refused connect took %lld ms", took);
    cr_expect_eq(next_fd(), before, "failed connect leaked its socket");

    rc = sockit_socket_connect(ep_of("tcp://[::1]:%d", port), &o, NULL);
    cr_expect_eq(rc, -ECONNREFUSED, "IPv6 connect to a closed port: %d (%s)", rc,
                 sockit_strerror(rc));
}

Test(socket, connect_timeout_is_honoured_when_the_backlog_is_full)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 1, NULL);
    struct sockit_sockopts o = { .timeout_ms = 150 };
    int clients[16], n = 0, rc = 0;
    long long took = 0;

    /* Nobody accepts: once the accept queue is full the kernel drops SYNs, and a connect
     * would wait for SYN retransmits (seconds) but for the timeout. */
    while (n < 16) {
        long long t0 = now_ms();
        rc = sockit_socket_connect(&ep, &o, NULL);
        took = now_ms() - t0;
        if (rc < 0)
            break;
        clients[n++] = rc;
    }
    cr_expect_eq(rc, -ETIMEDOUT, "after %d queued connections, connect returned %d (%s)", n, rc,
                 sockit_strerror(rc));
    cr_expect_geq(took, 100, "timed out after %lld ms, before the 150 ms timeout", took);
    cr_expect_lt(took, 1000, "a 150 ms timeout took %lld ms", took);
    for (int i = 0; i < n; i++)
        close_ok(clients[i]);
    close_ok(lfd);
}

Test(socket, unix_connect_to_a_full_backlog_honours_the_timeout)
{
    char path[96];
    h_tmp_path(path, sizeof path, "full.sock");
    const struct sockit_endpoint *ep = ep_of("unix:%s", path);
    int lfd = listen_ok(ep, 0, 1, NULL);
    struct sockit_sockopts o = { .timeout_ms = 150 };
    int clients[16], n = 0, rc = 0;
    long long took = 0;
    while (n < 16) {
        long long t0 = now_ms();
        rc = sockit_socket_connect(ep, &o, NULL);
        took = now_ms() - t0;
        if (rc < 0)
            break;
        clients[n++] = rc;
    }
    cr_expect_eq(rc, -ETIMEDOUT, "after %d queued connections, connect returned %d (%s)", n, rc,
                 sockit_strerror(rc));
    cr_expect_geq(took, 100, "timed out after %lld ms, before the 150 ms timeout", took);
    cr_expect_lt(took, 1000, "a 150 ms timeout took %lld ms", took);
    /* Once the server accepts, there is room again. */
    int s = accept_ok(lfd, 0, NULL);
    int c = connect_ok(ep, 0, NULL);
    cr_expect_not(is_nonblocking(c), "unix client is blocking");
    close_ok(c);
    close_ok(s);
    for (int i = 0; i < n; i++)
        close_ok(clients[i]);
    close_ok(lfd);
    unlink(path);
}

Test(socket, connect_leaves_socket_blocking_unless_nonblock_is_asked)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    int c1 = connect_ok(&ep, 0, NULL);
    cr_expect_not(is_nonblocking(c1), "connect without SOCKIT_NONBLOCK gave a non-blocking fd");
    cr_expect(is_cloexec(c1), "connected socket is close-on-exec");
    int c2 = connect_ok(&ep, SOCKIT_NONBLOCK, NULL);
    cr_expect(is_nonblocking(c2), "connect with SOCKIT_NONBLOCK gave a blocking fd");
    cr_expect(is_cloexec(lfd), "listener is close-on-exec");
    cr_expect_not(is_nonblocking(lfd), "listener without SOCKIT_NONBLOCK is blocking");
    int s = accept_ok(lfd, 0, NULL);
    cr_expect(is_cloexec(s), "accepted socket is close-on-exec");
    cr_expect_not(is_nonblocking(s), "accepted socket without SOCKIT_NONBLOCK is blocking");
    close_ok(s);
    close_ok(c1);
    close_ok(c2);
    close_ok(lfd);
}

Test(socket, nodelay_sets_tcp_nodelay_on_connected_and_accepted_sockets)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    int c = connect_ok(&ep, SOCKIT_NODELAY, NULL);
    int s = accept_ok(lfd, SOCKIT_NODELAY, NULL);
    int c0 = connect_ok(&ep, 0, NULL);
    int s0 = accept_ok(lfd, 0, NULL);
    int v = 0;
    socklen_t len = sizeof v;
    cr_assert_eq(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    cr_expect_neq(v, 0, "client with SOCKIT_NODELAY");
    cr_assert_eq(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    cr_expect_neq(v, 0, "accepted with SOCKIT_NODELAY");
    cr_assert_eq(getsockopt(c0, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    cr_expect_eq(v, 0, "client without SOCKIT_NODELAY");
    cr_assert_eq(getsockopt(s0, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    cr_expect_eq(v, 0, "accepted without SOCKIT_NODELAY");
    close_ok(s);
    close_ok(c);
    close_ok(s0);
    close_ok(c0);
    close_ok(lfd);
}

Test(socket, nonblocking_accept_on_empty_listener_returns_eagain)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, SOCKIT_NONBLOCK, 0, NULL);
    cr_expect(is_nonblocking(lfd), "SOCKIT_NONBLOCK listener is non-blocking");
    struct sockit_sockopts o = { .flags = SOCKIT_NONBLOCK };
    long long t0 = now_ms();
    int rc = sockit_socket_accept(lfd, &o, NULL);
    cr_expect_eq(rc, -EAGAIN, "accept on an empty non-blocking listener: %d (%s)", rc,
                 sockit_strerror(rc));
    cr_expect_lt(now_ms() - t0, 500, "non-blocking accept waited");

    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, SOCKIT_NONBLOCK, NULL);
    cr_expect(is_nonblocking(s), "accepted socket gets O_NONBLOCK from SOCKIT_NONBLOCK");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, accept_on_a_non_listening_socket_fails)
{
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_accept(sv[0], &o, NULL);
    cr_expect_eq(rc, -EINVAL, "accept on a socketpair end: %d (%s)", rc, sockit_strerror(rc));
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- unix sockets */

Test(socket, unix_path_listener_accepts_and_peer_is_unnamed)
{
    char path[96];
    h_tmp_path(path, sizeof path, "listen.sock");
    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    struct sockit_addr local, peer, from;
    int lfd = listen_ok(&ep, 0, 0, &local);
    char want[128];
    snprintf(want, sizeof want, "unix:%s", path);
    cr_expect_str_eq(addr_text(&local), want);
    cr_expect(path_is_socket(path), "listening creates the socket file %s", path);
    int c = connect_ok(&ep, 0, &peer);
    cr_expect_str_eq(addr_text(&peer), want);
    int s = accept_ok(lfd, 0, &from);
    cr_expect_str_eq(addr_text(&from), "unix:(unnamed)");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
    cr_expect_eq(sockit_socket_unlink(&ep, NULL), 0);
}

Test(socket, stale_unix_socket_file_is_removed_and_bound_again)
{
    char path[96];
    h_tmp_path(path, sizeof path, "stale.sock");
    leave_stale_socket_file(path, SOCK_STREAM);

    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    int lfd = sockit_socket_listen(&ep, &o, NULL);
    cr_assert_geq(lfd, 0, "listen over a stale socket file: %d (%s); trace:\n%s", lfd,
                  sockit_strerror(lfd), dump(&tr));
    expect_line(&tr, "unlink(\"%s\") = 0  (stale socket file)", path);
    cr_expect(path_is_socket(path), "the path is a socket file again");

    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, 0, NULL);
    cr_expect_eq(sockit_send_all(c, "x", 1, NULL), 1);
    char b = 0;
    cr_expect_eq(sockit_recv(s, &b, 1, NULL), 1, "the new listener really owns the path");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
    unlink(path);
}

Test(socket, stale_unix_dgram_socket_file_is_removed_and_bound_again)
{
    char path[96];
    h_tmp_path(path, sizeof path, "stale-dgram.sock");
    leave_stale_socket_file(path, SOCK_DGRAM);
    struct sockit_endpoint ep = *ep_of("unix-dgram:%s", path);
    int fd = listen_ok(&ep, 0, 0, NULL);
    int c = connect_ok(&ep, 0, NULL);
    cr_expect_eq(sockit_dgram_send(c, "d", 1, NULL, NULL), 1);
    char b = 0;
    wait_readable(fd, 2000);
    cr_expect_eq(sockit_dgram_recv(fd, &b, 1, NULL, NULL, NULL), 1);
    cr_expect_eq(b, 'd');
    close_ok(c);
    close_ok(fd);
    unlink(path);
}

Test(socket, live_unix_listener_path_gives_eaddrinuse_and_keeps_working)
{
    char path[96];
    h_tmp_path(path, sizeof path, "live.sock");
    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    int lfd = listen_ok(&ep, 0, 0, NULL);
    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "second listener on a live unix path: %d (%s)", rc,
                 sockit_strerror(rc));
    if (rc >= 0)
        close(rc);
    cr_expect(path_is_socket(path), "the live listener's file must not be removed");
    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, 0, NULL);
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
    unlink(path);
}

Test(socket, live_unix_dgram_path_gives_eaddrinuse)
{
    char path[96];
    h_tmp_path(path, sizeof path, "live-dgram.sock");
    struct sockit_endpoint ep = *ep_of("unix-dgram:%s", path);
    int fd = listen_ok(&ep, 0, 0, NULL);
    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "second unix-dgram server on a live path: %d (%s)", rc,
                 sockit_strerror(rc));
    if (rc >= 0)
        close(rc);
    cr_expect(path_is_socket(path));
    close_ok(fd);
    unlink(path);
}

Test(socket, listen_on_a_regular_file_fails_and_leaves_the_file_alone)
{
    /* bind() says EADDRINUSE for any existing path, and connect() to a file that is not a
     * socket says ECONNREFUSED, just like a stale socket file: only the file type tells them
     * apart. A user's file must never be deleted to make room for a listener. */
    const char *const schemes[] = { "unix", "unix-dgram" };
    const char content[] = "precious user data, not a socket\n";
    for (int i = 0; i < 2; i++) {
        char path[96];
        h_tmp_path(path, sizeof path, "regular-file");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
        cr_assert_eq(write(fd, content, sizeof content - 1), (ssize_t)(sizeof content - 1));
        close(fd);
        struct stat before, after;
        cr_assert_eq(lstat(path, &before), 0);

        struct lines tr = { 0 };
        struct sockit_trace trace = { collect, &tr };
        struct sockit_sockopts o = { .trace = &trace };
        int rc = sockit_socket_listen(ep_of("%s:%s", schemes[i], path), &o, NULL);
        cr_expect_eq(rc, -SOCKIT_ENOTSOCK_PATH, "%s: listen on a regular file: %d (%s); trace:\n%s",
                     schemes[i], rc, sockit_strerror(rc), dump(&tr));
        if (rc >= 0)
            close(rc);
        for (int j = 0; j < tr.n; j++)
            cr_expect(strncmp(tr.text[j], "unlink(", 7) != 0, "%s: the file was unlinked: %s",
                      schemes[i], tr.text[j]);

        cr_assert_eq(lstat(path, &after), 0, "%s: %s was removed", schemes[i], path);
        cr_expect(S_ISREG(after.st_mode), "%s: %s is no longer a regular file", schemes[i], path);
        cr_expect_eq(after.st_ino, before.st_ino, "%s: %s was replaced", schemes[i], path);
        cr_expect_eq(after.st_size, before.st_size, "%s: %s changed size", schemes[i], path);
        char got[sizeof content] = "";
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
        cr_expect_eq(read(fd, got, sizeof got), (ssize_t)(sizeof content - 1));
        close(fd);
        cr_expect_str_eq(got, content, "%s: the file's contents changed", schemes[i]);
        unlink(path);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
}

Test(socket, listen_on_a_live_unix_path_with_a_full_backlog_is_eaddrinuse_at_once)
{
    /* A raw server that never accepts, its backlog filled: a blocking connect() to it would wait
     * for room forever, and the stale-file probe must not be such a connect. */
    char path[96];
    h_tmp_path(path, sizeof path, "full-live.sock");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(srv, 0, "socket: %s", strerror(errno));
    cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof a), 0, "bind(%s): %s", path,
                 strerror(errno));
    cr_assert_eq(listen(srv, 0), 0, "listen: %s", strerror(errno));

    int clients[64], n = 0, err = 0;
    while (n < 64) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        cr_assert_geq(c, 0, "socket: %s", strerror(errno));
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
            err = errno;
            close(c);
            break;
        }
        clients[n++] = c;
    }
    cr_assert_eq(err, EAGAIN, "after %d queued connections, connect failed with %s", n,
                 strerror(err));

    /* Should the probe block, SIGALRM (no SA_RESTART) interrupts it, so that the time check
     * below fails instead of the whole test hanging. */
    struct sigaction sa = { .sa_handler = on_alarm }, old;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGALRM, &sa, &old), 0);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    alarm(3);
    long long t0 = now_ms();
    int rc = sockit_socket_listen(ep_of("unix:%s", path), &o, NULL);
    long long took = now_ms() - t0;
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "listen on a live path with a full backlog: %d (%s); trace:\n%s",
                 rc, sockit_strerror(rc), dump(&tr));
    if (rc >= 0)
        close(rc);
    cr_expect_lt(took, 1000, "listen took %lld ms: the probe waited for backlog room", took);
    cr_expect(path_is_socket(path), "the live server's socket file must not be removed");

    /* The raw server still owns the path: it accepts a queued client, and then a new one. */
    int s = accept_ok(srv, 0, NULL);
    close_ok(s);
    int c = connect_ok(ep_of("unix:%s", path), 0, NULL);
    s = accept_ok(srv, 0, NULL);
    close_ok(s);
    close_ok(c);
    for (int i = 0; i < n; i++)
        close_ok(clients[i]);
    close_ok(srv);
    unlink(path);
}

Test(socket, connect_to_missing_unix_path_is_enoent_and_to_stale_file_is_refused)
{
    char path[96];
    h_tmp_path(path, sizeof path, "missing.sock");
    struct sockit_sockopts o = { .timeout_ms = 1000 };
    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    int rc = sockit_socket_connect(&ep, &o, NULL);
    cr_expect_eq(rc, -ENOENT, "connect to a missing path: %d (%s)", rc, sockit_strerror(rc));
    leave_stale_socket_file(path, SOCK_STREAM);
    rc = sockit_socket_connect(&ep, &o, NULL);
    cr_expect_eq(rc, -ECONNREFUSED, "connect to a stale socket file: %d (%s)", rc,
                 sockit_strerror(rc));
    cr_expect(path_is_socket(path), "connect never removes files");
    unlink(path);
}

Test(socket, unlink_removes_the_socket_file_once)
{
    char path[96];
    h_tmp_path(path, sizeof path, "unlink.sock");
    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    int lfd = listen_ok(&ep, 0, 0, NULL);
    close_ok(lfd);
    cr_assert(path_is_socket(path), "closing a listener leaves its file");
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    int rc = sockit_socket_unlink(&ep, &trace);
    cr_expect_eq(rc, 0, "unlink: %d (%s)", rc, sockit_strerror(rc));
    cr_expect_not(path_exists(path), "%s still exists after unlink", path);
    expect_line(&tr, "unlink(\"%s\") = 0", path);
    rc = sockit_socket_unlink(&ep, NULL);
    cr_expect_eq(rc, -ENOENT, "second unlink: %d (%s)", rc, sockit_strerror(rc));
    unlink(path);
}

/* The file identity taken after bind: the file is removed while it is still the one bound,
 * and left alone once another server has replaced it. */
Test(socket, unlink_same_removes_only_the_file_it_was_given)
{
    char path[96];
    struct sockit_socket_file mine, none;
    h_tmp_path(path, sizeof path, "same.sock");
    struct sockit_endpoint ep = *ep_of("unix:%s", path);
    int first = listen_ok(&ep, 0, 0, NULL); /* open: its file's inode cannot be reused */
    cr_assert_eq(sockit_socket_file_id(&ep, &mine), 0);
    cr_assert(mine.valid);
    cr_assert_eq(unlink(path), 0);
    close_ok(listen_ok(&ep, 0, 0, NULL)); /* another server's file now */
    cr_expect_eq(sockit_socket_unlink_same(&ep, &mine, NULL), 0);
    cr_expect(path_is_socket(path), "a replaced file must be left alone");
    close_ok(first);
    cr_assert_eq(sockit_socket_file_id(&ep, &mine), 0);
    cr_expect_eq(sockit_socket_unlink_same(&ep, &mine, NULL), 0);
    cr_expect_not(path_exists(path), "its own file must be removed");
    cr_expect_eq(sockit_socket_file_id(ep_of("tcp://127.0.0.1:%d", 9), &none), 0);
    cr_expect(!none.valid, "an inet endpoint has no file");
    cr_expect_eq(sockit_socket_unlink_same(ep_of("tcp://127.0.0.1:%d", 9), &none, NULL), 0);
}

Test(socket, unlink_is_a_noop_for_abstract_names_and_inet_endpoints)
{
    char name[96];
    snprintf(name, sizeof name, "@sockit-test-%d-noop", (int)getpid());
    /* A file named like the abstract name (minus '@') must survive. */
    char decoy[96];
    snprintf(decoy, sizeof decoy, "%s", name + 1);
    int dfd = open(decoy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(dfd, 0, "create %s: %s", decoy, strerror(errno));
    close(dfd);

    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_endpoint ep = *ep_of("unix:%s", name);
    int lfd = listen_ok(&ep, 0, 0, NULL);
    cr_expect_eq(sockit_socket_unlink(&ep, &trace), 0);
    cr_expect_eq(sockit_socket_unlink(ep_of("unix-dgram:%s", name), &trace), 0);
    cr_expect_eq(sockit_socket_unlink(ep_of("tcp://127.0.0.1:%d", 9), &trace), 0);
    cr_expect_eq(sockit_socket_unlink(ep_of("udp://[::1]:%d", 9), &trace), 0);
    cr_expect_eq(tr.n, 0, "a no-op unlink makes no system call; trace:\n%s", dump(&tr));
    cr_expect(path_exists(decoy), "unlink of an abstract name removed a file");
    /* The abstract listener still answers. */
    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, 0, NULL);
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
    unlink(decoy);
}

Test(socket, abstract_listener_accepts_and_leaves_no_file)
{
    char name[96];
    snprintf(name, sizeof name, "@sockit-test-%d-abstract", (int)getpid());
    struct sockit_endpoint ep = *ep_of("unix:%s", name);
    struct sockit_addr local;
    int lfd = listen_ok(&ep, 0, 0, &local);
    char want[128];
    snprintf(want, sizeof want, "unix:%s", name);
    cr_expect_str_eq(addr_text(&local), want);
    cr_expect_not(path_exists(name + 1), "abstract listener created a file");
    struct sockit_sockopts o = { 0 };
    int rc = sockit_socket_listen(&ep, &o, NULL);
    cr_expect_eq(rc, -EADDRINUSE, "second listener on a live abstract name: %d", rc);
    int c = connect_ok(&ep, 0, NULL);
    int s = accept_ok(lfd, 0, NULL);
    cr_expect_eq(sockit_send_all(s, "abc", 3, NULL), 3);
    char buf[4] = "";
    cr_expect_eq(sockit_recv(c, buf, sizeof buf, NULL), 3);
    cr_expect_str_eq(buf, "abc");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, unix_dgram_connect_autobinds_so_the_server_can_reply)
{
    char name[96];
    snprintf(name, sizeof name, "@sockit-test-%d-dgram", (int)getpid());
    struct sockit_endpoint ep = *ep_of("unix-dgram:%s", name);
    int srv = listen_ok(&ep, 0, 0, NULL);
    int cli = connect_ok(&ep, 0, NULL);

    struct sockit_addr self = local_of(cli);
    cr_expect_gt(self.len, sizeof(sa_family_t), "client has a name of its own (autobind)");

    cr_expect_eq(sockit_dgram_send(cli, "ping", 4, NULL, NULL), 4);
    struct sockit_addr from;
    char buf[16] = "";
    wait_readable(srv, 2000);
    ssize_t n = sockit_dgram_recv(srv, buf, sizeof buf, &from, NULL, NULL);
    cr_assert_eq(n, 4, "server received %zd (%s)", n, sockit_strerror((int)n));
    cr_expect(memcmp(buf, "ping", 4) == 0);
    cr_assert_gt(from.len, sizeof(sa_family_t), "sender address is %s, not a name to reply to",
                 addr_text(&from));
    cr_expect_str_eq(addr_text(&from), addr_text(&self), "from is the client's autobound name");

    n = sockit_dgram_send(srv, "pong", 4, &from, NULL);
    cr_expect_eq(n, 4, "reply to the client: %zd (%s)", n, sockit_strerror((int)n));
    memset(buf, 0, sizeof buf);
    wait_readable(cli, 2000);
    cr_expect_eq(sockit_dgram_recv(cli, buf, sizeof buf, NULL, NULL, NULL), 4);
    cr_expect_str_eq(buf, "pong");
    close_ok(cli);
    close_ok(srv);
}

Test(socket, unix_dgram_listen_on_a_path_does_not_call_listen)
{
    char path[96];
    h_tmp_path(path, sizeof path, "dgram.sock");
    struct sockit_endpoint ep = *ep_of("unix-dgram:%s", path);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    int fd = sockit_socket_listen(&ep, &o, NULL);
    cr_assert_geq(fd, 0, "listen(%s): %d (%s)", path, fd, sockit_strerror(fd));
    int type = 0;
    socklen_t len = sizeof type;
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
    cr_expect_eq(type, SOCK_DGRAM);
    expect_line(&tr, "socket(AF_UNIX, SOCK_DGRAM, 0) = %d", fd);
    expect_line(&tr, "bind(%d, unix:%s) = 0", fd, path);
    for (int i = 0; i < tr.n; i++)
        cr_expect(strncmp(tr.text[i], "listen(", 7) != 0, "datagram socket was listen()ed: %s",
                  tr.text[i]);
    close_ok(fd);
    cr_expect_eq(sockit_socket_unlink(&ep, NULL), 0);
}

/* ---------------------------------------------------------------- stream I/O */

Test(socket, send_all_to_closed_peer_returns_epipe_without_sigpipe)
{
    /* Default SIGPIPE disposition, unblocked: a send() without MSG_NOSIGNAL kills us. */
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    cr_assert_eq(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);

    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    close(sv[1]);
    ssize_t n = sockit_send_all(sv[0], "hello", 5, NULL);
    cr_expect_eq(n, -EPIPE, "send_all to a closed unix peer: %zd (%s)", n, sockit_strerror((int)n));
    close(sv[0]);

    int c, s;
    tcp_pair(&c, &s, 0);
    close_ok(s);
    wait_readable(c, 2000);
    /* The first write may still be accepted (the peer answers with RST); a later one fails. */
    for (int i = 0; i < 50; i++) {
        n = sockit_send_all(c, "hello", 5, NULL);
        if (n < 0)
            break;
        usleep(2000);
    }
    cr_expect_eq(n, -EPIPE, "send_all to a closed TCP peer: %zd (%s)", n, sockit_strerror((int)n));
    close_ok(c);
}

Test(socket, send_all_on_nonblocking_socket_with_full_buffer_returns_short_count)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    size_t len = 1 << 20;
    unsigned char *data = malloc(len), *got = malloc(len);
    cr_assert(data && got);
    h_fill(data, len, 7);

    long long t0 = now_ms();
    ssize_t n = sockit_send_all(sv[0], data, len, NULL);
    cr_expect_lt(now_ms() - t0, 1000, "non-blocking send_all blocked");
    cr_assert_gt(n, 0, "send_all returned %zd (%s)", n, sockit_strerror((int)n));
    cr_assert_lt((size_t)n, len, "a 1 MiB send into a tiny buffer cannot complete");

    /* The count is exactly what the peer can read, in order. */
    size_t total = 0;
    for (;;) {
        ssize_t r = recv(sv[1], got + total, len - total, MSG_DONTWAIT);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    cr_expect_eq(total, (size_t)n, "send_all reported %zd bytes, the peer read %zu", n, total);
    expect_payload(got, total, 7, "bytes read by the peer");
    free(data);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, send_all_on_nonblocking_socket_returns_eagain_when_nothing_fits)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    static unsigned char chunk[65536];
    ssize_t n;
    int i = 0;
    while ((n = sockit_send_all(sv[0], chunk, sizeof chunk, NULL)) == (ssize_t)sizeof chunk &&
           i < 1000)
        i++;
    /* Now the buffer is full: one more send gets nothing in. */
    n = sockit_send_all(sv[0], chunk, sizeof chunk, NULL);
    cr_expect_eq(n, -EAGAIN, "send_all into a full non-blocking socket: %zd (%s)", n,
                 sockit_strerror((int)n));
    close(sv[0]);
    close(sv[1]);
}

Test(socket, send_all_on_nonblocking_tcp_socket_returns_short_count)
{
    int c, s;
    tcp_pair(&c, &s, SOCKIT_NONBLOCK);
    int small = 4096;
    cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    cr_assert_eq(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    size_t len = 8 << 20;
    unsigned char *data = calloc(1, len);
    cr_assert_not_null(data);
    long long t0 = now_ms();
    ssize_t n = sockit_send_all(c, data, len, NULL);
    cr_expect_lt(now_ms() - t0, 1000, "non-blocking send_all blocked");
    cr_expect(n > 0 && (size_t)n < len, "send_all of 8 MiB returned %zd (%s)", n,
              sockit_strerror((int)n));
    free(data);
    close_ok(c);
    close_ok(s);
}

struct reader {
    int fd;
    size_t len;
    unsigned seed;
    int result;
};

static void *read_and_check(void *arg)
{
    struct reader *r = arg;
    unsigned char *got = malloc(r->len), *want = malloc(r->len);
    r->result = -1;
    if (got && want && h_read_exact(r->fd, got, r->len) == 0) {
        h_fill(want, r->len, r->seed);
        r->result = memcmp(got, want, r->len) == 0 ? 0 : 1;
    }
    free(got);
    free(want);
    return NULL;
}

/* 1 MiB for a TCP client with a tiny send buffer, read and checked by a thread on the server
 * side: the client's sends must wait for the reader many times over. */
struct slow_reader {
    int c, s;
    size_t len;
    unsigned char *data;
    struct reader r;
    pthread_t t;
};

static void slow_reader_start(struct slow_reader *x, unsigned client_flags, unsigned seed)
{
    int small = 4096;

    tcp_pair(&x->c, &x->s, client_flags);
    cr_assert_eq(setsockopt(x->c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    x->len = 1 << 20;
    x->data = malloc(x->len);
    cr_assert_not_null(x->data);
    h_fill(x->data, x->len, seed);
    x->r = (struct reader){ .fd = x->s, .len = x->len, .seed = seed };
    cr_assert_eq(pthread_create(&x->t, NULL, read_and_check, &x->r), 0);
}

static void slow_reader_finish(struct slow_reader *x)
{
    pthread_join(x->t, NULL);
    cr_expect_eq(x->r.result, 0, "the peer got %s",
                 x->r.result < 0 ? "too few bytes" : "wrong bytes");
    free(x->data);
    close_ok(x->c);
    close_ok(x->s);
}

Test(socket, send_all_on_blocking_socket_delivers_every_byte)
{
    struct slow_reader x;
    slow_reader_start(&x, 0, 42);
    ssize_t n = sockit_send_all(x.c, x.data, x.len, NULL);
    cr_expect_eq(n, (ssize_t)x.len, "blocking send_all returned %zd (%s)", n,
                 sockit_strerror((int)n));
    slow_reader_finish(&x);
}

Test(socket, send_all_wait_delivers_every_byte_through_a_full_nonblocking_socket)
{
    struct slow_reader x;
    size_t sent = 0;
    slow_reader_start(&x, SOCKIT_NONBLOCK, 43);
    int rc = sockit_send_all_wait(x.c, x.data, x.len, -1, 5000, &sent, NULL);
    cr_expect_eq(rc, 0, "send_all_wait returned %d (%s)", rc, sockit_strerror(rc));
    cr_expect_eq(sent, x.len, "sent %zu of %zu bytes", sent, x.len);
    slow_reader_finish(&x);
}

/* Nobody reads SV[1]: what send_all_wait reports as sent is exactly what the peer can read. */
static void expect_sent_is_readable(int sv[2], size_t sent, size_t len)
{
    unsigned char *got = malloc(len);
    size_t total = 0;
    ssize_t r;

    cr_assert_not_null(got);
    while ((r = recv(sv[1], got + total, len - total, MSG_DONTWAIT)) > 0)
        total += (size_t)r;
    cr_expect(sent > 0 && sent < len, "sent %zu of %zu into a peer that never reads", sent, len);
    cr_expect_eq(total, sent, "send_all_wait reported %zu bytes, the peer read %zu", sent, total);
    free(got);
}

Test(socket, send_all_wait_times_out_when_the_peer_takes_nothing)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    size_t len = 4 << 20, sent = 0;
    unsigned char *data = calloc(1, len);
    cr_assert_not_null(data);

    long long t0 = now_ms();
    int rc = sockit_send_all_wait(sv[0], data, len, -1, 100, &sent, NULL);
    long long took = now_ms() - t0;
    cr_expect_eq(rc, -ETIMEDOUT, "send_all_wait to a stalled peer: %d (%s)", rc,
                 sockit_strerror(rc));
    cr_expect(took >= 90 && took < 2000, "a 100 ms timeout took %lld ms", took);
    expect_sent_is_readable(sv, sent, len);
    free(data);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, send_all_wait_stops_when_the_stop_fd_is_readable)
{
    int sv[2], stop[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(pipe(stop), 0);
    cr_assert_eq(write(stop[1], "s", 1), 1);
    size_t len = 4 << 20, sent = 0;
    unsigned char *data = calloc(1, len);
    cr_assert_not_null(data);

    int rc = sockit_send_all_wait(sv[0], data, len, stop[0], -1, &sent, NULL);
    cr_expect_eq(rc, -ECANCELED, "send_all_wait with the stop fd readable: %d (%s)", rc,
                 sockit_strerror(rc));
    expect_sent_is_readable(sv, sent, len);
    free(data);
    close(sv[0]);
    close(sv[1]);
    close(stop[0]);
    close(stop[1]);
}

Test(socket, send_all_of_zero_bytes_returns_zero)
{
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    cr_expect_eq(sockit_send_all(sv[0], "", 0, NULL), 0);
    close(sv[0]);
    close(sv[1]);
}

/* Trace hook that keeps every line and then changes errno, as a hook that writes its lines
 * somewhere may well do: write(-1, ...) sets EBADF. */
static void collect_and_clobber_errno(void *ctx, const char *text)
{
    collect(ctx, text);
    (void)!write(-1, "", 0);
}

static void check_hook_clobbers_errno(void)
{
    struct lines scratch = { 0 };
    errno = 0;
    collect_and_clobber_errno(&scratch, "probe");
    cr_assert_eq(errno, EBADF, "the hook should leave errno at EBADF, not %d", errno);
}

Test(socket, send_all_to_closed_peer_is_epipe_even_if_the_trace_hook_changes_errno)
{
    check_hook_clobbers_errno();
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect_and_clobber_errno, &tr };
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    close(sv[1]);
    ssize_t n = sockit_send_all(sv[0], "hello", 5, &trace);
    cr_expect_eq(n, -EPIPE, "send_all to a closed peer with an errno-changing hook: %zd (%s)", n,
                 sockit_strerror((int)n));
    expect_line(&tr, "send(%d, 5) = -1 EPIPE (%s)", sv[0], sockit_strerror(-EPIPE));
    close(sv[0]);
}

Test(socket, send_all_short_count_survives_a_trace_hook_that_changes_errno)
{
    check_hook_clobbers_errno();
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect_and_clobber_errno, &tr };
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    size_t len = 1 << 20;
    unsigned char *data = malloc(len);
    cr_assert_not_null(data);
    h_fill(data, len, 8);

    ssize_t n = sockit_send_all(sv[0], data, len, &trace);
    cr_expect(n > 0 && (size_t)n < len,
              "1 MiB into a full non-blocking socket with an errno-changing hook: %zd (%s); "
              "trace:\n%s",
              n, sockit_strerror((int)n), dump(&tr));
    if (n > 0)
        expect_line(&tr, "send(%d, %zu) = -1 EAGAIN (%s)", sv[0], len - (size_t)n,
                    sockit_strerror(-EAGAIN));

    /* Nothing was read: the next send gets nothing in, and says so. */
    tr.n = 0;
    n = sockit_send_all(sv[0], data, len, &trace);
    cr_expect_eq(n, -EAGAIN, "send_all into a full socket with an errno-changing hook: %zd (%s)", n,
                 sockit_strerror((int)n));
    free(data);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, recv_returns_zero_at_end_of_stream_after_peer_shutdown_write)
{
    int c, s;
    tcp_pair(&c, &s, 0);
    char buf[64];

    cr_expect_eq(sockit_send_all(c, "request", 7, NULL), 7);
    cr_assert_eq(sockit_socket_shutdown_write(c, NULL), 0);

    size_t got = 0;
    ssize_t n;
    while ((n = sockit_recv(s, buf + got, sizeof buf - got, NULL)) > 0)
        got += (size_t)n;
    cr_expect_eq(n, 0, "end of stream after the peer's shutdown: %zd (%s)", n,
                 sockit_strerror((int)n));
    cr_expect_eq(got, 7);
    cr_expect(memcmp(buf, "request", 7) == 0);
    cr_expect_eq(sockit_recv(s, buf, sizeof buf, NULL), 0, "end of stream stays end of stream");

    /* Half-close: the side that shut down writing still receives. */
    cr_expect_eq(sockit_send_all(s, "response", 8, NULL), 8, "the other direction still works");
    close_ok(s);
    got = 0;
    while ((n = sockit_recv(c, buf + got, sizeof buf - got, NULL)) > 0)
        got += (size_t)n;
    cr_expect_eq(n, 0);
    cr_expect_eq(got, 8, "half-closed client received %zu bytes", got);
    cr_expect(memcmp(buf, "response", 8) == 0);
    close_ok(c);
}

Test(socket, send_after_own_shutdown_write_is_epipe)
{
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    cr_assert_eq(sockit_socket_shutdown_write(sv[0], NULL), 0);
    ssize_t n = sockit_send_all(sv[0], "x", 1, NULL);
    cr_expect_eq(n, -EPIPE, "send after shutdown(SHUT_WR): %zd (%s)", n, sockit_strerror((int)n));
    char b;
    cr_expect_eq(sockit_recv(sv[1], &b, 1, NULL), 0, "peer sees end of stream");
    cr_expect_eq(sockit_send_all(sv[1], "y", 1, NULL), 1);
    cr_expect_eq(sockit_recv(sv[0], &b, 1, NULL), 1, "shut-down side still reads");
    cr_expect_eq(b, 'y');
    close(sv[0]);
    close(sv[1]);
}

Test(socket, recv_on_nonblocking_empty_socket_returns_eagain)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    char b;
    ssize_t n = sockit_recv(sv[0], &b, 1, NULL);
    cr_expect_eq(n, -EAGAIN, "recv with nothing ready: %zd (%s)", n, sockit_strerror((int)n));
    close(sv[0]);
    close(sv[1]);
}

Test(socket, io_on_closed_fd_returns_ebadf)
{
    int fd = next_fd(); /* not open */
    char b = 0;
    cr_expect_eq(sockit_recv(fd, &b, 1, NULL), -EBADF);
    cr_expect_eq(sockit_send_all(fd, &b, 1, NULL), -EBADF);
    cr_expect_eq(sockit_dgram_send(fd, &b, 1, NULL, NULL), -EBADF);
    cr_expect_eq(sockit_dgram_recv(fd, &b, 1, NULL, NULL, NULL), -EBADF);
    cr_expect_eq(sockit_socket_shutdown_write(fd, NULL), -EBADF);
    cr_expect_eq(sockit_socket_close(fd, NULL), -EBADF);
}

Test(socket, wait_reports_readiness_then_times_out)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_expect_eq(sockit_wait(sv[0], POLLIN, -1, 20), 0, "nothing to read: a timeout (0)");
    int rc = sockit_wait(sv[0], POLLOUT, -1, 20);
    cr_expect(rc > 0 && (rc & POLLOUT), "an empty socket is writable: %d", rc);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    rc = sockit_wait(sv[0], POLLIN, -1, -1);
    cr_expect(rc > 0 && (rc & POLLIN), "a byte waits: %d", rc);
    close(sv[1]);
    rc = sockit_wait(sv[0], POLLIN, -1, 20);
    cr_expect(rc & POLLIN, "a closed peer reads as ready (end of stream): %d", rc);
    close(sv[0]);
}

Test(socket, wait_ends_when_the_stop_fd_is_readable_and_stop_wins)
{
    int sv[2], stop[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(pipe(stop), 0);
    cr_assert_eq(write(stop[1], "s", 1), 1);
    cr_expect_eq(sockit_wait(sv[0], POLLIN, stop[0], -1), -ECANCELED, "stop while waiting");
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_expect_eq(sockit_wait(sv[0], POLLIN, stop[0], -1), -ECANCELED, "stop wins over a ready fd");
    char b;
    cr_assert_eq(read(stop[0], &b, 1), 1);
    int rc = sockit_wait(sv[0], POLLIN, stop[0], -1);
    cr_expect(rc > 0 && (rc & POLLIN), "with the stop drained the fd is reported: %d", rc);
    close(sv[0]);
    close(sv[1]);
    close(stop[0]);
    close(stop[1]);
}

Test(socket, wait_ends_when_the_stop_fd_hangs_up)
{
    int sv[2], stop[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(pipe(stop), 0);
    close(stop[1]); /* the read end now reports POLLHUP, never POLLIN data */
    cr_expect_eq(sockit_wait(sv[0], POLLIN, stop[0], -1), -ECANCELED,
                 "a stop fd that hung up must end the wait, not look like a timeout");
    close(sv[0]);
    close(sv[1]);
    close(stop[0]);
}

Test(socket, wait_on_a_closed_fd_reports_pollnval)
{
    int fd = next_fd(); /* not open */
    int rc = sockit_wait(fd, POLLIN, -1, 20);
    cr_expect(rc > 0 && (rc & POLLNVAL), "poll reports an fd that is not open: %d", rc);
}

Test(socket, close_releases_the_fd)
{
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    cr_expect_eq(sockit_socket_close(sv[0], NULL), 0);
    cr_expect_not(fd_is_open(sv[0]), "fd %d still open after close", sv[0]);
    char b;
    cr_expect_eq(sockit_recv(sv[1], &b, 1, NULL), 0, "peer sees end of stream");
    close(sv[1]);
}

/* ---------------------------------------------------------------- EINTR */

static volatile sig_atomic_t interrupts;

static void on_sigusr1(int sig)
{
    (void)sig;
    interrupts++;
}

/* SIGUSR1 without SA_RESTART: a blocking call it interrupts fails with EINTR. */
static void catch_sigusr1(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    interrupts = 0;
}

/* From another thread: interrupt TARGET while it blocks, then do ACTION to unblock it. */
struct kicker {
    pthread_t target;
    enum { KICK_WRITE, KICK_CONNECT, KICK_DRAIN } action;
    int fd;
    const struct sockit_endpoint *ep;
    size_t len;
    int result;
};

static void *kick(void *arg)
{
    struct kicker *k = arg;
    usleep(30 * 1000);
    pthread_kill(k->target, SIGUSR1);
    usleep(30 * 1000);
    if (k->action == KICK_WRITE) {
        k->result = (int)send(k->fd, "late", 4, MSG_NOSIGNAL);
    } else if (k->action == KICK_CONNECT) {
        struct sockit_sockopts o = { .timeout_ms = 2000 };
        k->result = sockit_socket_connect(k->ep, &o, NULL);
    } else {
        unsigned char *buf = malloc(k->len);
        k->result = buf && h_read_exact(k->fd, buf, k->len) == 0 ? 0 : -1;
        free(buf);
    }
    return NULL;
}

static pthread_t start_kicker(struct kicker *k)
{
    pthread_t t;
    k->target = pthread_self();
    cr_assert_eq(pthread_create(&t, NULL, kick, k), 0);
    return t;
}

Test(socket, recv_retries_when_a_signal_interrupts_it)
{
    catch_sigusr1();
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    struct kicker k = { .action = KICK_WRITE, .fd = sv[1] };
    pthread_t t = start_kicker(&k);
    char buf[8] = "";
    ssize_t n = sockit_recv(sv[0], buf, sizeof buf, NULL);
    pthread_join(t, NULL);
    cr_expect_eq(interrupts, 1, "the signal was delivered");
    cr_expect_eq(n, 4, "recv across a signal returned %zd (%s)", n, sockit_strerror((int)n));
    cr_expect(memcmp(buf, "late", 4) == 0);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, dgram_recv_retries_when_a_signal_interrupts_it)
{
    catch_sigusr1();
    int sv[2];
    unix_pair(SOCK_DGRAM, sv);
    struct kicker k = { .action = KICK_WRITE, .fd = sv[1] };
    pthread_t t = start_kicker(&k);
    char buf[8] = "";
    ssize_t n = sockit_dgram_recv(sv[0], buf, sizeof buf, NULL, NULL, NULL);
    pthread_join(t, NULL);
    cr_expect_eq(interrupts, 1, "the signal was delivered");
    cr_expect_eq(n, 4, "dgram_recv across a signal returned %zd (%s)", n, sockit_strerror((int)n));
    close(sv[0]);
    close(sv[1]);
}

Test(socket, accept_retries_when_a_signal_interrupts_it)
{
    catch_sigusr1();
    const struct sockit_endpoint *ep = ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(ep, 0, 0, NULL);
    struct kicker k = { .action = KICK_CONNECT, .ep = ep };
    pthread_t t = start_kicker(&k);
    struct sockit_sockopts o = { 0 };
    int s = sockit_socket_accept(lfd, &o, NULL);
    pthread_join(t, NULL);
    cr_expect_eq(interrupts, 1, "the signal was delivered");
    cr_expect_geq(s, 0, "accept across a signal returned %d (%s)", s, sockit_strerror(s));
    cr_expect_geq(k.result, 0, "the client's connect: %d", k.result);
    if (s >= 0)
        close_ok(s);
    if (k.result >= 0)
        close_ok(k.result);
    close_ok(lfd);
}

Test(socket, send_all_completes_across_signal_interruptions)
{
    catch_sigusr1();
    int sv[2];
    unix_pair(SOCK_STREAM, sv);
    /* Fill the socket first, so that send_all blocks before sending anything: the signal
     * then makes send() itself fail with EINTR rather than return a short count. */
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    static unsigned char chunk[4096];
    size_t queued = 0;
    ssize_t w;
    while ((w = send(sv[0], chunk, sizeof chunk, 0)) > 0)
        queued += (size_t)w;
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(fcntl(sv[0], F_SETFL, 0), 0);
    size_t len = 1 << 20;
    unsigned char *data = calloc(1, len);
    cr_assert_not_null(data);
    struct kicker k = { .action = KICK_DRAIN, .fd = sv[1], .len = queued + len };
    pthread_t t = start_kicker(&k);
    ssize_t n = sockit_send_all(sv[0], data, len, NULL);
    if (n != (ssize_t)len)
        shutdown(sv[0], SHUT_WR); /* the reader stops waiting for bytes that never come */
    pthread_join(t, NULL);
    cr_expect_eq(interrupts, 1, "the signal was delivered");
    cr_expect_eq(n, (ssize_t)len, "send_all across a signal returned %zd (%s)", n,
                 sockit_strerror((int)n));
    cr_expect_eq(k.result, 0, "the reader got every byte");
    free(data);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- datagrams */

/* A bound UDP server and a client connected to it, on HOST ("127.0.0.1" or "[::1]"). */
static void udp_pair(const char *host, int *client, int *server, struct sockit_addr *server_addr)
{
    struct sockit_endpoint ep = *ep_of("udp://%s:%d", host, h_free_port());
    *server = listen_ok(&ep, 0, 0, server_addr);
    *client = connect_ok(&ep, 0, NULL);
}

Test(socket, zero_length_udp_datagram_is_sent_and_received_as_length_zero)
{
    int c, s;
    udp_pair("127.0.0.1", &c, &s, NULL);
    cr_expect_eq(sockit_dgram_send(c, "", 0, NULL, NULL), 0);
    cr_expect_eq(sockit_dgram_send(c, "x", 1, NULL, NULL), 1);

    char buf[16] = "?";
    struct sockit_addr from;
    size_t full = 99;
    wait_readable(s, 2000);
    ssize_t n = sockit_dgram_recv(s, buf, sizeof buf, &from, &full, NULL);
    cr_expect_eq(n, 0, "empty datagram received as %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(full, 0, "full length of an empty datagram");
    cr_expect_str_eq(addr_text(&from), local_text(c), "sender of the empty datagram");
    wait_readable(s, 2000);
    n = sockit_dgram_recv(s, buf, sizeof buf, NULL, NULL, NULL);
    cr_expect_eq(n, 1, "the empty datagram was a message of its own, then \"x\": %zd", n);
    cr_expect_eq(buf[0], 'x');
    close_ok(c);
    close_ok(s);
}

Test(socket, oversized_unix_datagram_returns_etrunc_with_full_length)
{
    int sv[2];
    unix_pair(SOCK_DGRAM, sv);
    unsigned char data[1000], buf[100 + 16];
    h_fill(data, sizeof data, 3);
    memset(buf, 0xEE, sizeof buf);
    cr_expect_eq(sockit_dgram_send(sv[0], data, sizeof data, NULL, NULL), (ssize_t)sizeof data);
    cr_expect_eq(sockit_dgram_send(sv[0], "next", 4, NULL, NULL), 4);
    size_t full = 0;
    ssize_t n = sockit_dgram_recv(sv[1], buf, 100, NULL, &full, NULL);
    cr_expect_eq(n, -SOCKIT_ETRUNC, "1000 bytes into 100: %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(full, 1000, "full_len is the datagram's real size");
    expect_payload(buf, 100, 3, "truncated datagram's first bytes");
    cr_expect_eq(buf[100], 0xEE, "recv wrote past cap");
    /* The truncated rest is gone; the next datagram is intact. */
    full = 0;
    n = sockit_dgram_recv(sv[1], buf, 100, NULL, &full, NULL);
    cr_expect_eq(n, 4);
    cr_expect_eq(full, 4);
    cr_expect(memcmp(buf, "next", 4) == 0);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, oversized_udp_datagram_returns_etrunc_with_full_length)
{
    int c, s;
    udp_pair("127.0.0.1", &c, &s, NULL);
    unsigned char data[3000], buf[64];
    h_fill(data, sizeof data, 9);
    cr_expect_eq(sockit_dgram_send(c, data, sizeof data, NULL, NULL), 3000);
    size_t full = 0;
    struct sockit_addr from;
    wait_readable(s, 2000);
    ssize_t n = sockit_dgram_recv(s, buf, sizeof buf, &from, &full, NULL);
    cr_expect_eq(n, -SOCKIT_ETRUNC, "3000 bytes into 64: %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(full, 3000);
    expect_payload(buf, sizeof buf, 9, "truncated UDP datagram");
    cr_expect_eq(from.u.sa.sa_family, AF_INET, "sender is still reported on truncation");

    /* Exactly the buffer size is not truncation. */
    cr_expect_eq(sockit_dgram_send(c, data, sizeof buf, NULL, NULL), (ssize_t)sizeof buf);
    wait_readable(s, 2000);
    n = sockit_dgram_recv(s, buf, sizeof buf, NULL, &full, NULL);
    cr_expect_eq(n, (ssize_t)sizeof buf, "a datagram that just fits: %zd", n);
    cr_expect_eq(full, sizeof buf);
    close_ok(c);
    close_ok(s);
}

/* Send LIMIT+1 (refused before any system call) then LIMIT bytes (received whole). */
static void check_udp_limit(int c, int s, const struct sockit_addr *to, size_t limit)
{
    size_t cap = limit + 100;
    unsigned char *data = malloc(cap), *buf = malloc(cap);
    cr_assert(data && buf);
    h_fill(data, limit + 1, 11);

    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    ssize_t n = sockit_dgram_send(c, data, limit + 1, to, &trace);
    cr_expect_eq(n, -SOCKIT_EDGRAMSIZE, "%zu bytes (limit %zu)%s: %zd (%s)", limit + 1, limit,
                 to ? " with explicit address" : "", n, sockit_strerror((int)n));
    cr_expect_eq(tr.n, 0, "an oversized datagram reached a system call:\n%s", dump(&tr));
    n = sockit_dgram_send(c, data, 100000, to, NULL);
    cr_expect_eq(n, -SOCKIT_EDGRAMSIZE, "100000 bytes: %zd (%s)", n, sockit_strerror((int)n));

    n = sockit_dgram_send(c, data, limit, to, NULL);
    cr_expect_eq(n, (ssize_t)limit, "%zu bytes (the limit)%s: %zd (%s)", limit,
                 to ? " with explicit address" : "", n, sockit_strerror((int)n));
    wait_readable(s, 2000);
    size_t full = 0;
    n = sockit_dgram_recv(s, buf, cap, NULL, &full, NULL);
    cr_expect_eq(n, (ssize_t)limit, "received %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(full, limit);
    if (n > 0)
        expect_payload(buf, (size_t)n, 11, "largest datagram");
    free(data);
    free(buf);
}

Test(socket, udp_ipv4_payload_limit_is_65507)
{
    int c, s;
    udp_pair("127.0.0.1", &c, &s, NULL);
    check_udp_limit(c, s, NULL, 65507);
    close_ok(c);
    close_ok(s);
}

Test(socket, udp_ipv6_payload_limit_is_65527)
{
    int c, s;
    udp_pair("[::1]", &c, &s, NULL);
    check_udp_limit(c, s, NULL, 65527);
    close_ok(c);
    close_ok(s);
}

Test(socket, udp_payload_limit_applies_to_an_explicit_destination)
{
    struct sockit_addr srv_addr;
    int s = listen_ok(ep_of("udp://127.0.0.1:%d", h_free_port()), 0, 0, &srv_addr);
    int c = listen_ok(ep_of("udp://127.0.0.1:%d", h_free_port()), 0, 0, NULL); /* unconnected */
    check_udp_limit(c, s, &srv_addr, 65507);
    close_ok(c);
    close_ok(s);

    s = listen_ok(ep_of("udp://[::1]:%d", h_free_port()), 0, 0, &srv_addr);
    c = listen_ok(ep_of("udp://[::1]:%d", h_free_port()), 0, 0, NULL);
    check_udp_limit(c, s, &srv_addr, 65527);
    close_ok(c);
    close_ok(s);
}

Test(socket, unix_datagrams_have_no_fixed_payload_limit)
{
    int sv[2];
    unix_pair(SOCK_DGRAM, sv);
    size_t len = 100000;
    unsigned char *data = malloc(len), *buf = malloc(len);
    cr_assert(data && buf);
    h_fill(data, len, 5);
    ssize_t n = sockit_dgram_send(sv[0], data, len, NULL, NULL);
    cr_expect_eq(n, (ssize_t)len, "100000-byte unix datagram: %zd (%s)", n,
                 sockit_strerror((int)n));
    n = sockit_dgram_recv(sv[1], buf, len, NULL, NULL, NULL);
    cr_expect_eq(n, (ssize_t)len);
    if (n > 0)
        expect_payload(buf, (size_t)n, 5, "large unix datagram");
    free(data);
    free(buf);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, connected_udp_socket_reports_refused_port)
{
    int port = h_free_port(); /* nobody listens here */
    int c = connect_ok(ep_of("udp://127.0.0.1:%d", port), 0, NULL);
    cr_expect_eq(sockit_dgram_send(c, "x", 1, NULL, NULL), 1);
    struct pollfd p = { .fd = c, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 2000), 1, "no ICMP port unreachable within 2 s");
    char b;
    ssize_t n = sockit_dgram_recv(c, &b, 1, NULL, NULL, NULL);
    cr_expect_eq(n, -ECONNREFUSED, "recv after ICMP port unreachable: %zd (%s)", n,
                 sockit_strerror((int)n));
    close_ok(c);
}

/* ---------------------------------------------------------------- fd exhaustion */

Test(socket, shed_under_fd_exhaustion_closes_the_waiting_connection)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, SOCKIT_NONBLOCK, 0, NULL);
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(spare, 0);
    int c = connect_ok(&ep, 0, NULL);
    wait_readable(lfd, 2000);

    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 128;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0, "setrlimit: %s", strerror(errno));
    static int fill[256];
    int nfill = 0, fd;
    while (nfill < 256 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fill[nfill++] = fd;
    cr_assert_eq(errno, EMFILE, "filling the fd table stopped with %s", strerror(errno));

    struct sockit_sockopts o = { .flags = SOCKIT_NONBLOCK };
    int rc = sockit_socket_accept(lfd, &o, NULL);
    cr_expect_eq(rc, -EMFILE, "accept with no fd left: %d (%s)", rc, sockit_strerror(rc));

    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    int old_spare = spare;
    rc = sockit_socket_shed(lfd, &spare, &trace);
    cr_expect_eq(rc, 0, "shed: %d (%s)", rc, sockit_strerror(rc));
    cr_expect_geq(spare, 0, "the spare fd is taken again");
    cr_expect_eq(spare, old_spare, "the spare takes back the only free fd");
    if (spare >= 0)
        cr_expect(fd_is_open(spare), "spare fd %d is open", spare);
    cr_expect_eq(tr.n, 1, "shed reports itself in one trace line:\n%s", dump(&tr));
    rc = sockit_socket_accept(lfd, &o, NULL);
    cr_expect_eq(rc, -EMFILE, "still out of fds after shed: %d (%s)", rc, sockit_strerror(rc));

    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

    /* The waiting client sees a prompt close, not a hang. */
    wait_readable(c, 1000);
    char b;
    ssize_t n = sockit_recv(c, &b, 1, NULL);
    cr_expect(n == 0 || n == -ECONNRESET, "the shed client's recv: %zd (%s)", n,
              sockit_strerror((int)n));
    rc = sockit_socket_accept(lfd, &o, NULL);
    cr_expect_eq(rc, -EAGAIN, "the shed connection left the backlog: %d (%s)", rc,
                 sockit_strerror(rc));
    close_ok(c);
    close(spare);
    close_ok(lfd);
}

Test(socket, shed_with_nothing_pending_fails_and_keeps_the_spare)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, SOCKIT_NONBLOCK, 0, NULL);
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(spare, 0);
    int rc = sockit_socket_shed(lfd, &spare, NULL);
    cr_expect_eq(rc, -EAGAIN, "shed on an empty non-blocking listener: %d (%s)", rc,
                 sockit_strerror(rc));
    cr_expect_geq(spare, 0, "the spare fd is re-opened");
    if (spare >= 0) {
        cr_expect(fd_is_open(spare));
        close(spare);
    }
    close_ok(lfd);
}

/* ---------------------------------------------------------------- trace */

Test(socket, trace_reports_socket_bind_and_listen)
{
    int port = h_free_port();
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .backlog = 3, .trace = &trace };
    int lfd = sockit_socket_listen(ep_of("tcp://127.0.0.1:%d", port), &o, NULL);
    cr_assert_geq(lfd, 0);
    cr_expect_eq(tr.n, 3, "three calls, three lines:\n%s", dump(&tr));
    char want[3][64];
    snprintf(want[0], sizeof want[0], "socket(AF_INET, SOCK_STREAM, 0) = %d", lfd);
    snprintf(want[1], sizeof want[1], "bind(%d, 127.0.0.1:%d) = 0", lfd, port);
    snprintf(want[2], sizeof want[2], "listen(%d, 3) = 0", lfd);
    for (int i = 0; i < 3 && i < tr.n; i++)
        cr_expect_str_eq(tr.text[i], want[i], "trace line %d", i + 1);
    close_ok(lfd);

    /* Options show up as setsockopt lines, IPv6 as AF_INET6, the default backlog as
     * SOMAXCONN. */
    tr.n = 0;
    o = (struct sockit_sockopts){ .flags = SOCKIT_REUSEADDR, .trace = &trace };
    lfd = sockit_socket_listen(ep_of("tcp://[::1]:%d", port), &o, NULL);
    cr_assert_geq(lfd, 0);
    expect_line(&tr, "socket(AF_INET6, SOCK_STREAM, 0) = %d", lfd);
    expect_line(&tr, "setsockopt(%d, SO_REUSEADDR, 1) = 0", lfd);
    expect_line(&tr, "setsockopt(%d, IPV6_V6ONLY, 0) = 0", lfd);
    expect_line(&tr, "bind(%d, [::1]:%d) = 0", lfd, port);
    expect_line(&tr, "listen(%d, %d) = 0", lfd, SOMAXCONN);
    close_ok(lfd);
}

Test(socket, trace_reports_refused_connect_with_errno_name_and_text)
{
    int port = h_free_port();
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    int fd = next_fd();
    int rc = sockit_socket_connect(ep_of("tcp://127.0.0.1:%d", port), &o, NULL);
    cr_assert_eq(rc, -ECONNREFUSED);
    expect_line(&tr, "socket(AF_INET, SOCK_STREAM, 0) = %d", fd);
    expect_line(&tr, "connect(%d, 127.0.0.1:%d) = -1 ECONNREFUSED (Connection refused)", fd, port);
    expect_line(&tr, "close(%d) = 0", fd);
}

Test(socket, trace_reports_bind_failure_and_closes_the_socket)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    int fd = next_fd();
    cr_assert_eq(sockit_socket_listen(&ep, &o, NULL), -EADDRINUSE);
    expect_line(&tr, "bind(%d, 127.0.0.1:%d) = -1 EADDRINUSE (Address already in use)", fd,
                ep.port);
    expect_line(&tr, "close(%d) = 0", fd);
    close_ok(lfd);
}

Test(socket, trace_reports_accept_io_shutdown_and_close)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int lfd = listen_ok(&ep, 0, 0, NULL);
    int c = connect_ok(&ep, 0, NULL);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    struct sockit_sockopts o = { .trace = &trace };
    wait_readable(lfd, 2000);
    int s = sockit_socket_accept(lfd, &o, NULL);
    cr_assert_geq(s, 0);
    expect_line(&tr, "accept(%d) = %d from 127.0.0.1:%d", lfd, s, local_port(c));
    cr_expect_eq(sockit_send_all(s, "hello", 5, &trace), 5);
    expect_line(&tr, "send(%d, 5) = 5", s);
    char buf[64];
    wait_readable(c, 2000);
    cr_expect_eq(sockit_recv(c, buf, sizeof buf, &trace), 5);
    expect_line(&tr, "recv(%d, 64) = 5", c);
    cr_expect_eq(sockit_socket_shutdown_write(s, &trace), 0);
    expect_line(&tr, "shutdown(%d, SHUT_WR) = 0", s);
    cr_expect_eq(sockit_recv(c, buf, sizeof buf, &trace), 0);
    expect_line(&tr, "recv(%d, 64) = 0", c);
    cr_expect_eq(sockit_socket_close(s, &trace), 0);
    expect_line(&tr, "close(%d) = 0", s);
    close_ok(c);
    close_ok(lfd);
}

Test(socket, trace_reports_datagram_addresses)
{
    struct sockit_addr srv_addr;
    int s = listen_ok(ep_of("udp://127.0.0.1:%d", h_free_port()), 0, 0, &srv_addr);
    int c = listen_ok(ep_of("udp://127.0.0.1:%d", h_free_port()), 0, 0, NULL);
    struct lines tr = { 0 };
    struct sockit_trace trace = { collect, &tr };
    cr_expect_eq(sockit_dgram_send(c, "abc", 3, &srv_addr, &trace), 3);
    expect_line(&tr, "sendto(%d, 3, %s) = 3", c, addr_text(&srv_addr));
    char buf[32];
    wait_readable(s, 2000);
    cr_expect_eq(sockit_dgram_recv(s, buf, sizeof buf, NULL, NULL, &trace), 3);
    expect_line(&tr, "recvfrom(%d, 32, %s) = 3", s, local_text(c));
    close_ok(c);
    close_ok(s);
}

Test(socket, null_trace_and_null_out_pointers_are_accepted)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    struct sockit_sockopts o = { .trace = NULL };
    int lfd = sockit_socket_listen(&ep, &o, NULL);
    cr_assert_geq(lfd, 0);
    int c = sockit_socket_connect(&ep, &o, NULL);
    cr_assert_geq(c, 0);
    wait_readable(lfd, 2000);
    int s = sockit_socket_accept(lfd, &o, NULL);
    cr_assert_geq(s, 0);
    struct sockit_trace no_hook = { NULL, NULL };
    cr_expect_eq(sockit_send_all(c, "z", 1, &no_hook), 1, "a trace without a hook is silent");
    close_ok(s);
    close_ok(c);
    close_ok(lfd);
}

/* sockopts.source: connect binds there first (an address and a port of the target's family). */
Test(socket, connect_binds_the_source_address_and_port)
{
    struct sockit_endpoint ep = *ep_of("tcp://127.0.0.1:%d", h_free_port());
    int port = h_free_port();
    struct sockit_endpoint src = *ep_of("tcp://127.0.0.3:%d", port);
    struct sockit_sockopts o = { .timeout_ms = 2000, .source = &src };
    char want[32];
    int lfd = listen_ok(&ep, SOCKIT_REUSEADDR, 4, NULL);
    int fd = sockit_socket_connect(&ep, &o, NULL);

    cr_assert_geq(fd, 0, "connect from a source: %s", sockit_strerror(fd));
    struct sockit_addr local = local_of(fd);
    snprintf(want, sizeof(want), "127.0.0.3:%d", port);
    cr_expect_str_eq(addr_text(&local), want);
    close_ok(fd);
    src = *ep_of("tcp://[::1]:0");
    fd = sockit_socket_connect(&ep, &o, NULL);
    cr_expect_eq(fd, -SOCKIT_ENOADDR, "an IPv6 source for an IPv4 target: %d", fd);
    close_ok(lfd);
}
