/* Integration tests: the real `sockit listen` and `sockit connect` ($SOCKIT_BIN) relaying
 * stdin/stdout over TCP (IPv4 and IPv6 loopback), unix path and abstract sockets, UDP and
 * unix datagrams, with each other and with socat as the peer. Every child is killed at the
 * end of its test, even a failing one (suite .fini). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../support/harness.h"

/* ---------------------------------------------------------------- bookkeeping */

/* Children and unix socket paths are tracked by the harness and released by the suite's .fini
 * (h_cleanup_tracked), which Criterion also runs after a failed assertion. */
static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* writing to a child that exited must fail, not kill the test */
}

TestSuite(relay, .init = setup, .fini = h_cleanup_tracked, .timeout = 30);

/* ---------------------------------------------------------------- children */

/* Start ARGV as a tracked child named LABEL; IN as in h_start (NULL: a pipe left open). */
static struct proc *start(const char *label, const char *const argv[], const char *in)
{
    return h_start_tracked(label, argv, in, in ? strlen(in) : 0, NULL);
}

/* Write TEXT on P's stdin (which must be an open pipe). */
static void feed(struct proc *p, const char *text)
{
    H_CHECK(p->stdin_fd >= 0, "stdin of pid %d is closed", (int)p->pid);
    H_CHECK(h_write_all(p->stdin_fd, text, strlen(text)) == 0,
            "writing \"%s\" on the stdin of pid %d: %s (exited: %s)", text, (int)p->pid,
            strerror(errno), h_exited(p) ? "yes" : "no");
}

/* End of file on P's stdin. */
static void end_stdin(struct proc *p)
{
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
}

/* "sockit listen -v [EXTRA] ENDPOINT" with its stdin left open, up once it says so. */
static struct proc *start_listen(const char *endpoint, const char *extra)
{
    const char *argv[] = { h_sockit(), "listen", "-v", endpoint, NULL, NULL };

    if (extra) {
        argv[3] = extra;
        argv[4] = endpoint;
    }
    struct proc *p = start("sockit listen", argv, NULL);
    H_CHECK(h_wait_stderr(p, "listening on", 5000), "sockit listen %s did not start", endpoint);
    return p;
}

static struct proc *start_connect(const char *endpoint, const char *extra, const char *in)
{
    const char *argv[] = { h_sockit(), "connect", endpoint, NULL, NULL };

    if (extra) {
        argv[2] = extra;
        argv[3] = endpoint;
    }
    return start("sockit connect", argv, in);
}

/* Both must exit with 0 within MS. */
static void expect_both_exit_0(struct proc *a, struct proc *b, int ms)
{
    long long deadline = h_now_ms() + ms;
    int ra = h_wait(a, ms);
    long long left = deadline - h_now_ms();
    int rb = h_wait(b, left > 0 ? (int)left : 1);

    H_CHECK(ra == 0 && rb == 0, "exit codes %d and %d, expected 0 and 0 (-1: still running)", ra,
            rb);
}

static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

static bool have_program(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];

    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
        snprintf(file, sizeof(file), "%s/%s", dir[0] ? dir : ".", name);
        if (access(file, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

enum transport { T_TCP, T_TCP6, T_UNIX, T_ABSTRACT, T_UDP, T_UNIX_DGRAM };

/* An endpoint of transport T that nobody uses; a unix path is removed at the end. */
static void endpoint(enum transport t, char *buf, size_t size)
{
    char path[108];

    switch (t) {
    case T_TCP: snprintf(buf, size, "tcp://127.0.0.1:%d", h_free_port()); break;
    case T_TCP6:
        if (!have_ipv6_loopback())
            cr_skip_test("no IPv6 loopback (::1) here");
        snprintf(buf, size, "tcp://[::1]:%d", h_free_port());
        break;
    case T_UDP: snprintf(buf, size, "udp://127.0.0.1:%d", h_free_port()); break;
    case T_UNIX:
    case T_UNIX_DGRAM:
        h_tmp_path(path, sizeof(path), "relay.sock");
        h_track_path(path);
        snprintf(buf, size, "%s%s", t == T_UNIX ? "unix:" : "unix-dgram:", path);
        break;
    case T_ABSTRACT:
        h_tmp_path(path, sizeof(path), "relay");
        snprintf(buf, size, "unix:@%s", path + strlen("/tmp/"));
        break;
    }
}

/* A listening TCP socket of the test's own on ENDPOINT's port of 127.0.0.1 (a peer we did
 * not write: no relay logic of ours behind it). */
static int listen_tcp_loopback(const char *endpoint)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_port = htons((uint16_t)atoi(strrchr(endpoint, ':') + 1));
    H_CHECK(fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) == 0 &&
                bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 8) == 0,
            "the test's listener on %s: %s", endpoint, strerror(errno));
    return fd;
}

/* ---------------------------------------------------------------- stream relays */

/* connect's stdin reaches listen's stdout and back; listen's stdin ends first: it half-closes,
 * connect sees the end but keeps its own direction open until its stdin ends; both exit 0. */
static void both_ways(enum transport t)
{
    char ep[160];

    endpoint(t, ep, sizeof(ep));
    struct proc *l = start_listen(ep, NULL);
    struct proc *c = start_connect(ep, NULL, NULL);
    H_CHECK(h_wait_stderr(l, "connection from", 5000), "listen saw no connection on %s", ep);

    feed(c, "hello from connect\n");
    H_CHECK(h_wait_stdout(l, "hello from connect\n", 3000),
            "listen's stdout should be what connect read on stdin");
    feed(l, "hello from listen\n");
    H_CHECK(h_wait_stdout(c, "hello from listen\n", 3000),
            "connect's stdout should be what listen read on stdin");

    end_stdin(l);
    H_CHECK(h_wait_stdout(c, "hello from listen\n", 0), "connect's output so far");
    h_sleep_ms(200); /* listen's end of stream reaches connect */
    H_CHECK(!h_exited(c), "connect exited at the peer's half-close while its stdin was open");
    feed(c, "more from connect\n");
    H_CHECK(h_wait_stdout(l, "hello from connect\nmore from connect\n", 3000),
            "connect's input after listen's half-close should still reach listen");
    end_stdin(c);
    expect_both_exit_0(l, c, 3000);
    H_CHECK(h_wait_stdout(l, "hello from connect\nmore from connect\n", 0) &&
                h_wait_stdout(c, "hello from listen\n", 0),
            "nothing more may arrive after the end");
}

/* connect's stdin ends first: listen sees the end of the stream, yet its reply, written after
 * that, still reaches connect's stdout (connect only half-closed); both exit 0. */
static void half_close(enum transport t)
{
    char ep[160];

    endpoint(t, ep, sizeof(ep));
    struct proc *l = start_listen(ep, NULL);
    struct proc *c = start_connect(ep, NULL, NULL);

    feed(c, "question\n");
    end_stdin(c);
    H_CHECK(h_wait_stdout(l, "question\n", 3000), "listen's stdout should be connect's stdin");
    h_sleep_ms(200); /* the end of connect's stream reaches listen */
    H_CHECK(!h_exited(l),
            "listen exited when connect half-closed: its reply can no longer be sent");
    feed(l, "answer after your end\n");
    end_stdin(l);
    H_CHECK(h_wait_stdout(c, "answer after your end\n", 3000),
            "listen's reply after connect's half-close should reach connect's stdout");
    expect_both_exit_0(l, c, 3000);
}

#define TRANSPORT_TEST(fn, name, t)                                                                \
    Test(relay, fn##_##name, .timeout = 30)                                                        \
    {                                                                                              \
        fn(t);                                                                                     \
    }

TRANSPORT_TEST(both_ways, tcp, T_TCP)
TRANSPORT_TEST(both_ways, tcp6, T_TCP6)
TRANSPORT_TEST(both_ways, unix, T_UNIX)
TRANSPORT_TEST(both_ways, unix_abstract, T_ABSTRACT)
TRANSPORT_TEST(half_close, tcp, T_TCP)
TRANSPORT_TEST(half_close, tcp6, T_TCP6)
TRANSPORT_TEST(half_close, unix, T_UNIX)
TRANSPORT_TEST(half_close, unix_abstract, T_ABSTRACT)

Test(relay, listen_keep_open_serves_two_clients, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, "-k");
    struct proc *c1 = start_connect(ep, NULL, "first client\n");
    int rc1 = h_wait(c1, 3000);
    H_CHECK(rc1 == 0, "the first client exited with %d", rc1);
    H_CHECK(h_wait_stdout(l, "first client\n", 3000),
            "listen should print the first client's data");
    struct proc *c2 = start_connect(ep, NULL, "second client\n");
    int rc2 = h_wait(c2, 3000);
    H_CHECK(rc2 == 0, "the second client exited with %d", rc2);
    H_CHECK(h_wait_stdout(l, "first client\nsecond client\n", 3000),
            "listen -k should print both clients' data, in order");
    H_CHECK(!h_exited(l), "listen -k should keep listening after two clients");
}

/* listen -k serves its clients at once, as ncat -k does: what each sends goes to stdout, and
 * stdin goes to all of them (broadcast); a client that ends is closed, the others stay; the
 * end of stdin half-closes every client. Before, the second client waited in the backlog
 * until the first had gone. */
Test(relay, listen_keep_open_serves_clients_at_once_and_broadcasts_stdin, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, "-k");
    struct proc *c1 = start_connect(ep, NULL, NULL);
    H_CHECK(h_wait_stderr(l, "connection from", 5000), "listen saw no first client");
    struct proc *c2 = start_connect(ep, NULL, NULL);

    feed(c2, "from two\n");
    H_CHECK(h_wait_stdout(l, "from two\n", 3000),
            "the second client should be served while the first is connected");
    feed(c1, "from one\n");
    H_CHECK(h_wait_stdout(l, "from two\nfrom one\n", 3000), "both clients reach stdout");
    feed(l, "to all\n");
    H_CHECK(h_wait_stdout(c1, "to all\n", 3000) && h_wait_stdout(c2, "to all\n", 3000),
            "listen's stdin should reach every client");

    end_stdin(c1); /* the first client is done: listen closes it, it exits */
    int rc = h_wait(c1, 3000);
    H_CHECK(rc == 0, "the first client exited with %d", rc);
    feed(l, "after one left\n");
    H_CHECK(h_wait_stdout(c2, "to all\nafter one left\n", 3000),
            "the second client should still get stdin");
    end_stdin(l); /* every client is half-closed; they may still send */
    h_sleep_ms(200);
    feed(c2, "after your end\n");
    H_CHECK(h_wait_stdout(l, "from two\nfrom one\nafter your end\n", 3000),
            "a half-closed client can still send");
    end_stdin(c2);
    rc = h_wait(c2, 3000);
    H_CHECK(rc == 0, "the second client exited with %d", rc);
    H_CHECK(!h_exited(l), "listen -k should keep listening");
    rc = h_stop(l, SIGTERM, 3000);
    H_CHECK(rc == 0, "listen -k stopped by SIGTERM exited with %d", rc);
}

/* listen -k reads stdin only while a client is connected: a file on its stdin goes to the
 * first client rather than to no one (before, it was read at once and dropped), then the end
 * of stdin half-closes that client. */
Test(relay, listen_keep_open_keeps_stdin_for_the_first_client, .timeout = 30)
{
    char ep[160];
    const char *argv[] = { h_sockit(), "listen", "-v", "-k", ep, NULL };

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *l = start("sockit listen -k", argv, "waited for you\n");
    H_CHECK(h_wait_stderr(l, "listening on", 5000), "listen did not start");
    h_sleep_ms(200); /* stdin has been read to its end by now, were it read at once */
    struct proc *c = start_connect(ep, NULL, NULL);
    H_CHECK(h_wait_stdout(c, "waited for you\n", 3000),
            "the first client should get what stdin held");
    end_stdin(c); /* it already saw listen's end: both directions are over */
    int rc = h_wait(c, 3000);
    H_CHECK(rc == 0, "the client exited with %d", rc);
    rc = h_stop(l, SIGTERM, 3000);
    H_CHECK(rc == 0, "listen -k exited with %d", rc);
}

/* ---------------------------------------------------------------- datagram relays */

static void one_datagram_each_way(enum transport t)
{
    char ep[160];
    struct stat st;

    endpoint(t, ep, sizeof(ep));
    struct proc *l = start_listen(ep, "-w1");
    struct proc *c = start_connect(ep, "-w1", NULL);

    feed(c, "ping\n");
    H_CHECK(h_wait_stdout(l, "ping\n", 3000), "listen should print connect's datagram");
    H_CHECK(h_wait_stderr(l, "peer", 1000), "listen -v should report its peer");
    feed(l, "pong\n");
    H_CHECK(h_wait_stdout(c, "pong\n", 3000), "connect should print listen's datagram");
    end_stdin(c);
    end_stdin(l);
    expect_both_exit_0(l, c, 4000); /* each waits -w 1 s for more after its stdin ends */
    if (t == T_UNIX_DGRAM)
        H_CHECK(stat(ep + strlen("unix-dgram:"), &st) < 0 && errno == ENOENT,
                "listen should remove its socket file %s", ep + strlen("unix-dgram:"));
}

TRANSPORT_TEST(one_datagram_each_way, udp, T_UDP)
TRANSPORT_TEST(one_datagram_each_way, unix_dgram, T_UNIX_DGRAM)

/* ---------------------------------------------------------------- datagram counts and pacing */

/* "sockit CMD ARGS... ENDPOINT" (ARGS NULL-terminated, at most 8) with LEN bytes of IN on its
 * stdin (IN NULL: a pipe left open). */
static struct proc *start_cmd(const char *cmd, const char *const args[], const char *endpoint,
                              const void *in, size_t len)
{
    const char *argv[12] = { h_sockit(), cmd };
    int n = 2;

    for (int i = 0; args && args[i] && n < 10; i++)
        argv[n++] = args[i];
    argv[n++] = endpoint;
    argv[n] = NULL;
    return h_start_tracked(cmd, argv, in, len, NULL);
}

/* UDP loses datagrams when the sender outruns the receiver; -v makes it visible: each side
 * says at the end how many datagrams and bytes it sent and received. */
Test(relay, udp_relays_report_datagram_counts, .timeout = 30)
{
    char ep[160];

    endpoint(T_UDP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, "-w1");
    const char *args[] = { "-v", "-w1", NULL };
    struct proc *c = start_cmd("connect", args, ep, NULL, 0);

    feed(c, "ping\n");
    H_CHECK(h_wait_stdout(l, "ping\n", 3000), "listen should print connect's datagram");
    feed(l, "pong!\n");
    H_CHECK(h_wait_stdout(c, "pong!\n", 3000), "connect should print listen's datagram");
    end_stdin(c);
    end_stdin(l);
    expect_both_exit_0(l, c, 4000);
    H_CHECK(strstr(h_text_of(c, true, NULL),
                   "sockit connect: sent 1 datagrams (5 bytes), received 1 datagrams (6 bytes)\n"),
            "connect -v should count what it sent and received");
    H_CHECK(strstr(h_text_of(l, true, NULL),
                   "sockit listen: sent 1 datagrams (6 bytes), received 1 datagrams (5 bytes)\n"),
            "listen -v should count what it sent and received");
}

/* --rate 2mbit: 360,000 bytes (2.88 Mbit) cannot leave in less than 1.44 s less the first
 * datagram (at most 65,507 bytes, 0.26 s), whatever the machine's load; all of it is sent. */
Test(relay, connect_rate_paces_datagrams, .timeout = 30)
{
    enum { LEN = 360000 };
    static char data[LEN];
    char ep[160];

    h_fill(data, LEN, 7);
    endpoint(T_UDP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, "-w1");
    const char *args[] = { "-v", "-w0", "--rate", "2mbit", NULL };
    long long t0 = h_now_ms();
    struct proc *c = start_cmd("connect", args, ep, data, LEN);
    int rc = h_wait(c, 10000);
    long long took = h_now_ms() - t0;

    H_CHECK(rc == 0, "connect --rate exited with %d", rc);
    H_CHECK(took >= 1100, "2.88 Mbit at 2 Mbit/s left in %lld ms: not paced", took);
    H_CHECK(strstr(h_text_of(c, true, NULL), " datagrams (360000 bytes), received 0 datagrams"),
            "connect -v should have sent all 360000 bytes");
    H_CHECK(!strstr(h_text_of(c, true, NULL), "not sent"), "no datagram may be dropped");
    h_stop(l, SIGTERM, 3000);
}

/* A rate needs a unit, and paces datagrams only: anything else is a usage error. */
Test(relay, rate_is_refused_without_a_unit_or_on_streams, .timeout = 30)
{
    static const struct {
        const char *cmd, *rate, *ep, *says;
    } cases[] = {
        { "connect", "10", "udp://127.0.0.1:9", "--rate: '10' is not a rate" },
        { "connect", "fast", "udp://127.0.0.1:9", "--rate: 'fast' is not a rate" },
        { "connect", "0mbit", "udp://127.0.0.1:9", "--rate: 0mbit is out of range" },
        { "connect", "1mbit", "tcp://127.0.0.1:9", "--rate paces datagrams" },
        { "listen", "1mbit", "udp://127.0.0.1:9", "--rate paces datagrams" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = { "--rate", cases[i].rate, NULL };
        struct proc *p = start_cmd(cases[i].cmd, args, cases[i].ep, "", 0);
        int rc = h_wait(p, 3000);
        H_CHECK(rc == 2, "%s --rate %s %s: exit %d, expected 2", cases[i].cmd, cases[i].rate,
                cases[i].ep, rc);
        H_CHECK(strstr(h_text_of(p, true, NULL), cases[i].says), "stderr should say \"%s\"",
                cases[i].says);
        h_forget_children();
    }
}

/* ---------------------------------------------------------------- options that would do nothing */

/* An option that would be ignored with this command and endpoint is a usage error naming it
 * and saying why, never accepted in silence. */
Test(relay, options_that_would_do_nothing_are_usage_errors, .timeout = 30)
{
    static const struct {
        const char *cmd, *opt, *arg, *ep, *says;
    } cases[] = {
        { "listen", "-t", "3", "tcp://127.0.0.1:9", "--timeout is how long connect tries" },
        { "listen", "-w", "3", "tcp://127.0.0.1:9", "--wait is how long a datagram relay" },
        { "connect", "-t", "3", "udp://127.0.0.1:9", "a datagram connect does not wait" },
        { "listen", "--v6only", NULL, "tcp://127.0.0.1:9", "127.0.0.1 is an IPv4 address" },
        { "listen", "--v6only", NULL, "unix:@x", "--v6only: IPv6 only, not a unix: endpoint" },
        { "connect", "--v6only", NULL, "tcp://[::1]:9", "--v6only is for listening sockets" },
        { "connect", "--nodelay", NULL, "unix:@x", "--nodelay: TCP only, not a unix: endpoint" },
        { "listen", "--nodelay", NULL, "udp://127.0.0.1:9",
          "--nodelay: TCP only, not a udp:// endpoint" },
        { "connect", "-k", NULL, "tcp://127.0.0.1:9", "--keep-open needs 'listen'" },
        { "connect", "-6", NULL, "tcp://127.0.0.1:9", "-6 asks for IPv6 only" },
        { "listen", "-4", NULL, "tcp://[::1]:9", "-4 asks for IPv4 only" },
        { "connect", "-4", NULL, "unix:@x", "a unix endpoint has none" },
        { "listen", "-s", "127.0.0.1", "tcp://127.0.0.1:9", "listen binds ENDPOINT" },
        { "connect", "-p", "4000", "unix-dgram:@x", "need a tcp:// or udp:// endpoint" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = { cases[i].opt, cases[i].arg, NULL };
        struct proc *p = start_cmd(cases[i].cmd, args, cases[i].ep, "", 0);
        int rc = h_wait(p, 3000);
        H_CHECK(rc == 2, "%s %s %s: exit %d, expected 2", cases[i].cmd, cases[i].opt, cases[i].ep,
                rc);
        H_CHECK(strstr(h_text_of(p, true, NULL), cases[i].says), "stderr should say \"%s\"",
                cases[i].says);
        h_forget_children();
    }
}

/* connect -w on a stream endpoint is the connect timeout, as ncat users expect: a listener
 * whose accept queue is full drops SYNs, and connect -w 1 gives up after a second (before,
 * -w was ignored there and connect waited its default 10 s). */
Test(relay, connect_w_is_the_connect_timeout_on_tcp, .timeout = 30)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), queued[16], n = 0;
    char ep[160];

    H_CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 0) == 0,
            "the test's listener: %s", strerror(errno));
    H_CHECK(getsockname(lfd, (struct sockaddr *)&a, &(socklen_t){ sizeof(a) }) == 0, "port");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    /* Fill the accept queue: connect until a connect does not complete within 300 ms. */
    for (bool full = false; !full && n < 16; n++) {
        queued[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        H_CHECK(queued[n] >= 0, "socket: %s", strerror(errno));
        if (connect(queued[n], (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EINPROGRESS)
            full = poll(&(struct pollfd){ .fd = queued[n], .events = POLLOUT }, 1, 300) == 0;
    }
    H_CHECK(n < 16, "the accept queue of a listener with backlog 0 never filled");
    const char *args[] = { "-w", "1", NULL };
    long long t0 = h_now_ms();
    struct proc *c = start_cmd("connect", args, ep, "", 0);
    int rc = h_wait(c, 6000);
    long long took = h_now_ms() - t0;

    H_CHECK(rc == 1, "connect -w 1 to a full backlog: exit %d after %lld ms, expected 1", rc, took);
    H_CHECK(strstr(h_text_of(c, true, NULL), "timed out"), "stderr should say it timed out");
    H_CHECK(took >= 900, "a 1 s connect timeout gave up after %lld ms", took);
    for (int i = 0; i < n; i++)
        close(queued[i]);
    close(lfd);
}

/* ---------------------------------------------------------------- families and sources */

/* connect -s ADDR -p PORT sends from there: the listener sees the client at 127.0.0.2:PORT. */
Test(relay, connect_sends_from_the_source_address_and_port, .timeout = 30)
{
    char ep[160], port[16], want[64];

    endpoint(T_TCP, ep, sizeof(ep));
    snprintf(port, sizeof(port), "%d", h_free_port());
    struct proc *l = start_listen(ep, NULL);
    const char *args[] = { "-s", "127.0.0.2", "-p", port, NULL };
    struct proc *c = start_cmd("connect", args, ep, "from a chosen place\n", 20);
    snprintf(want, sizeof(want), "connection from tcp://127.0.0.2:%s\n", port);
    H_CHECK(h_wait_stderr(l, want, 5000), "listen should see \"%s\"", want);
    H_CHECK(h_wait_stdout(l, "from a chosen place\n", 3000), "the data should go through");
    end_stdin(l);
    expect_both_exit_0(l, c, 3000);
}

/* -4 and -6 resolve to that family only: a wildcard listens on 0.0.0.0 or [::], and connect
 * to this host (tcp://:PORT: 127.0.0.1, then ::1) with -6 tries ::1 alone. */
Test(relay, minus_4_and_6_resolve_to_that_family_only, .timeout = 30)
{
    char ep[64], want[64];
    int port = h_free_port();

    if (!have_ipv6_loopback())
        cr_skip_test("no IPv6 loopback (::1) here");
    snprintf(ep, sizeof(ep), "tcp://:%d", port);
    struct proc *l = start_listen(ep, "-4");
    snprintf(want, sizeof(want), "listening on tcp://0.0.0.0:%d\n", port);
    H_CHECK(h_wait_stderr(l, want, 0), "listen -4 should say \"%s\"", want);
    struct proc *c6 = start_connect(ep, "-6", "");
    int rc = h_wait(c6, 5000);
    H_CHECK(rc == 1 && strstr(h_text_of(c6, true, NULL), "Connection refused"),
            "connect -6 to an IPv4 listener should be refused (::1 only), exit %d", rc);
    struct proc *c4 = start_connect(ep, "-4", "over IPv4\n");
    H_CHECK(h_wait_stdout(l, "over IPv4\n", 3000), "connect -4 should reach it");
    end_stdin(l);
    expect_both_exit_0(l, c4, 3000);
    h_forget_children();

    port = h_free_port();
    snprintf(ep, sizeof(ep), "tcp://:%d", port);
    l = start_listen(ep, "-6");
    snprintf(want, sizeof(want), "listening on tcp://[::]:%d\n", port);
    H_CHECK(h_wait_stderr(l, want, 0), "listen -6 should say \"%s\"", want);
    h_stop(l, SIGTERM, 3000);
}

/* ---------------------------------------------------------------- idle timeout */

/* connect --idle-timeout 1 to a peer that accepts and says nothing, stdin open and silent:
 * closed after a second, exit 1 as ncat -i, with a line that says why. */
Test(relay, connect_idle_timeout_closes_a_silent_relay, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    int lfd = listen_tcp_loopback(ep);
    long long t0 = h_now_ms();
    struct proc *c = start_connect(ep, "--idle-timeout=1", NULL);
    int rc = h_wait(c, 6000);
    long long took = h_now_ms() - t0;

    H_CHECK(rc == 1, "exit %d after %lld ms, expected 1", rc, took);
    H_CHECK(took >= 900, "a 1 s idle timeout closed after %lld ms", took);
    H_CHECK(strstr(h_text_of(c, true, NULL), "no data either way for 1 s (--idle-timeout)"),
            "stderr should say why");
    close(lfd);
}

/* listen -k --idle-timeout 2: a client that says nothing is closed, one that talks every
 * 200 ms stays, and listen goes on. */
Test(relay, listen_keep_open_idle_timeout_closes_only_the_silent_client, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    const char *largs[] = { "-v", "-k", "--idle-timeout", "2", NULL };
    struct proc *l = start_cmd("listen", largs, ep, NULL, 0);
    H_CHECK(h_wait_stderr(l, "listening on", 5000), "listen did not start");
    struct proc *quiet = start_connect(ep, NULL, NULL);
    struct proc *talker = start_connect(ep, NULL, NULL);
    for (int i = 0; i < 15; i++) { /* 3 s */
        feed(talker, "x");
        h_sleep_ms(200);
    }
    H_CHECK(h_wait_stdout(l, "xxxxxxxxxxxxxxx", 3000), "the talker's bytes should arrive");
    const char *err = h_text_of(l, true, NULL), *first = strstr(err, "closed (idle)");
    H_CHECK(first && !strstr(first + 1, "closed (idle)"),
            "exactly one client (the quiet one) should be closed as idle");
    end_stdin(quiet);
    int rc = h_wait(quiet, 3000);
    H_CHECK(rc == 0, "the quiet client, closed by listen, exited with %d", rc);
    H_CHECK(!h_exited(talker) && !h_exited(l), "the talker and listen should still run");
    end_stdin(talker);
    rc = h_wait(talker, 3000);
    H_CHECK(rc == 0, "the talker exited with %d", rc);
    h_stop(l, SIGTERM, 3000);
}

/* ---------------------------------------------------------------- --exec */

/* How many times NEEDLE occurs in TEXT. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* connect --exec: the connection goes to a program (/bin/sh -c), not stdin/stdout; the end of
 * the peer's data is the program's end of input, and the program's exit ends the relay. */
Test(relay, connect_exec_relays_the_connection_to_a_program, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, NULL);
    const char *args[] = { "-v", "--exec", "tr a-z A-Z; echo bye", NULL };
    struct proc *c = start_cmd("connect", args, ep, NULL, 0);
    feed(l, "shout\n");
    end_stdin(l);
    H_CHECK(h_wait_stdout(l, "SHOUT\nbye\n", 3000), "the program's output should reach listen");
    expect_both_exit_0(l, c, 3000);
    H_CHECK(strstr(h_text_of(c, true, NULL), " exited with 0\n"), "connect should reap it");
    size_t out_len;
    h_text_of(c, false, &out_len);
    H_CHECK(out_len == 0, "connect's own stdout is not used with --exec");
}

/* listen -k --exec: a program per client, at once (each client hears its own), a program's
 * exit ends only its client's connection, and listen goes on. */
Test(relay, listen_keep_open_exec_runs_a_program_per_client, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    /* a line at a time: tr alone would hold its output in a buffer until its input ends */
    const char *largs[] = { "-v", "-k", "--exec",
                            "while read -r l; do printf '%s\\n' \"$l\" | tr a-z A-Z; done", NULL };
    struct proc *l = start_cmd("listen", largs, ep, NULL, 0);
    H_CHECK(h_wait_stderr(l, "listening on", 5000), "listen did not start");
    struct proc *c1 = start_connect(ep, NULL, NULL);
    struct proc *c2 = start_connect(ep, NULL, NULL);
    feed(c1, "one\n");
    feed(c2, "two\n");
    H_CHECK(h_wait_stdout(c1, "ONE\n", 3000) && h_wait_stdout(c2, "TWO\n", 3000),
            "each client should hear its own program, at the same time");
    end_stdin(c1);
    end_stdin(c2);
    int rc1 = h_wait(c1, 3000), rc2 = h_wait(c2, 3000);
    H_CHECK(rc1 == 0 && rc2 == 0, "the clients exited with %d and %d", rc1, rc2);
    struct proc *c3 = start_connect(ep, NULL, "three\n");
    H_CHECK(h_wait_stdout(c3, "THREE\n", 3000), "a client after the programs exited");
    rc1 = h_wait(c3, 3000);
    H_CHECK(rc1 == 0, "the third client exited with %d", rc1);
    H_CHECK(!h_exited(l), "a program's exit must not end listen -k");
    long long deadline = h_now_ms() + 3000;
    while (count_of(h_text_of(l, true, NULL), "exited with 0") < 3 && h_now_ms() < deadline)
        h_sleep_ms(50);
    H_CHECK(count_of(h_text_of(l, true, NULL), "exited with 0") == 3,
            "listen should reap its three programs as they exit");
    int rc = h_stop(l, SIGTERM, 3000);
    H_CHECK(rc == 0, "listen -k --exec stopped by SIGTERM exited with %d", rc);
}

/* A program still running when listen stops (SIGTERM) is ended too, with what it started
 * (its process group), and reaped: listen exits 0 at once, not when the program would. */
Test(relay, listen_exec_stop_ends_a_program_still_running, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    const char *largs[] = { "-v", "--exec", "sleep 20; echo late", NULL };
    struct proc *l = start_cmd("listen", largs, ep, NULL, 0);
    H_CHECK(h_wait_stderr(l, "listening on", 5000), "listen did not start");
    struct proc *c = start_connect(ep, NULL, NULL);
    H_CHECK(h_wait_stderr(l, "started", 3000), "the program should start");
    long long t0 = h_now_ms();
    int rc = h_stop(l, SIGTERM, 5000);
    H_CHECK(rc == 0 && h_now_ms() - t0 < 4000, "listen exited with %d after %lld ms", rc,
            h_now_ms() - t0);
    H_CHECK(strstr(h_text_of(l, true, NULL), "killed by signal 15"),
            "the program should be ended and reaped");
    end_stdin(c);
    rc = h_wait(c, 3000);
    H_CHECK(rc == 0, "the client exited with %d", rc);
}

/* ---------------------------------------------------------------- port 0 */

/* listen on port 0 (socat's TCP-LISTEN:0) gets a free port from the kernel and, even without
 * -v, prints "sockit listen: listening on SCHEME://HOST:PORT" on stderr, for a script to read;
 * a client that connects to that port is relayed. */
static void port_0_is_printed_and_served(const char *scheme, const char *extra)
{
    char ep[64], *line, *end;
    const char *argv[] = { h_sockit(), "listen", extra, NULL, NULL };
    const char *prefix = "sockit listen: listening on ";

    snprintf(ep, sizeof(ep), "%s127.0.0.1:0", scheme);
    argv[extra ? 3 : 2] = ep;
    struct proc *l = start("sockit listen :0", argv, NULL);
    H_CHECK(h_wait_stderr(l, "\n", 5000), "listen on port 0 printed no line");
    line = strstr(h_text_of(l, true, NULL), prefix);
    H_CHECK(line && strncmp(line + strlen(prefix), scheme, strlen(scheme)) == 0,
            "stderr should start with \"%s%s\"", prefix, scheme);
    long port = strtol(strrchr(line, ':') + 1, &end, 10);
    H_CHECK(port > 0 && port < 65536 && *end == '\n', "no port at the end of the line");
    snprintf(ep, sizeof(ep), "%s127.0.0.1:%ld", scheme, port);
    struct proc *c = start_connect(ep, "-w1", NULL);
    feed(c, "to the port it printed\n");
    H_CHECK(h_wait_stdout(l, "to the port it printed\n", 3000), "listen should relay the client");
    end_stdin(c);
    end_stdin(l);
    expect_both_exit_0(l, c, 4000);
}

Test(relay, listen_on_port_0_prints_the_tcp_port_it_got, .timeout = 30)
{
    port_0_is_printed_and_served("tcp://", NULL);
}

Test(relay, listen_on_port_0_prints_the_udp_port_it_got, .timeout = 30)
{
    port_0_is_printed_and_served("udp://", "-w1");
}

/* Port 0 names no one to connect to: a usage error, not a refused connect. */
Test(relay, connect_to_port_0_is_a_usage_error, .timeout = 30)
{
    struct proc *c = start_connect("tcp://127.0.0.1:0", NULL, "");
    int rc = h_wait(c, 3000);

    H_CHECK(rc == 2, "exit %d, expected 2", rc);
    H_CHECK(strstr(h_text_of(c, true, NULL), "port 0 (any free port) is only for listening"),
            "stderr should say why");
}

/* ---------------------------------------------------------------- a peer that closes */

/* The peer (the test) accepts, closes without reading (a FIN: it is done, as netcat peers
 * are), and stdin goes on: the first late write draws a reset, the next fails. connect ends
 * as ncat does, with exit 0, and says how many bytes of stdin did not reach the peer (before:
 * exit 1 with a send or shutdown error, and nothing about the data). */
Test(relay, connect_exits_0_and_counts_stdin_lost_when_the_peer_closed, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    int lfd = listen_tcp_loopback(ep);
    struct proc *c = start_connect(ep, NULL, NULL);
    int fd = accept(lfd, NULL, NULL);
    H_CHECK(fd >= 0, "accept: %s", strerror(errno));
    close(fd);
    h_sleep_ms(200); /* connect sees the end of the stream */
    feed(c, "late 1\n");
    h_sleep_ms(200); /* the reset comes back */
    feed(c, "late 2\n");
    int rc = h_wait(c, 3000);
    H_CHECK(rc == 0, "connect exited with %d after its peer closed, expected 0 as ncat", rc);
    H_CHECK(strstr(h_text_of(c, true, NULL), "the peer closed; 14 bytes of stdin were not sent"),
            "connect should say that the 14 bytes written after the peer closed were not sent");
    close(lfd);
}

/* The same, but stdin ends after the one late write: no write fails, the reset waits in the
 * socket, and the bytes are still counted (before: exit 0 and not a word about them). */
Test(relay, connect_counts_stdin_lost_when_the_peer_closed_and_stdin_ended, .timeout = 30)
{
    char ep[160];

    endpoint(T_TCP, ep, sizeof(ep));
    int lfd = listen_tcp_loopback(ep);
    struct proc *c = start_connect(ep, NULL, NULL);
    int fd = accept(lfd, NULL, NULL);
    H_CHECK(fd >= 0, "accept: %s", strerror(errno));
    close(fd);
    h_sleep_ms(200); /* connect sees the end of the stream */
    feed(c, "late 1\n");
    h_sleep_ms(200); /* the reset comes back */
    end_stdin(c);
    int rc = h_wait(c, 3000);
    H_CHECK(rc == 0, "connect exited with %d after its peer closed, expected 0", rc);
    H_CHECK(strstr(h_text_of(c, true, NULL), "the peer closed; 7 bytes of stdin were not sent"),
            "connect should say that the 7 bytes written after the peer closed were not sent");
    close(lfd);
}

/* ---------------------------------------------------------------- errors and tracing */

Test(relay, connect_refused_is_one_line, .timeout = 30)
{
    char ep[160], want[200];

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *c = start_connect(ep, NULL, "never sent\n");
    int rc = h_wait(c, 5000);
    size_t out_len;

    snprintf(want, sizeof(want), "sockit: connect %s: Connection refused\n", ep);
    h_text_of(c, false, &out_len);
    H_CHECK(rc == 1, "exit %d, expected 1", rc);
    H_CHECK(strcmp(h_text_of(c, true, NULL), want) == 0, "stderr should be exactly \"%s\"", want);
    H_CHECK(out_len == 0, "nothing should be printed on stdout");
}

Test(relay, connect_trace_prints_socket_calls, .timeout = 30)
{
    char ep[160], call[200];

    endpoint(T_TCP, ep, sizeof(ep));
    struct proc *l = start_listen(ep, NULL);
    struct proc *c = start_connect(ep, "--trace", "traced\n");
    H_CHECK(h_wait_stdout(l, "traced\n", 3000), "the data should go through");
    end_stdin(l);
    expect_both_exit_0(c, l, 3000);
    const char *err = h_text_of(c, true, NULL);
    snprintf(call, sizeof(call), ", %s) = 0\n", ep + strlen("tcp://"));
    const char *first = "socket(AF_INET, SOCK_STREAM, 0) = ";
    H_CHECK(strncmp(err, first, strlen(first)) == 0, "the trace should start with \"%s\"", first);
    const char *conn = strstr(err, "\nconnect(");
    H_CHECK(conn && strstr(conn, call), "the trace should show \"connect(FD%s\"", call);
    H_CHECK(h_wait_stdout(l, "traced\n", 0), "the data should still go through");
}

/* ---------------------------------------------------------------- socat as the peer */

Test(relay, socat_client_with_sockit_listen, .timeout = 30)
{
    char ep[160], target[200];

    if (!have_program("socat"))
        cr_skip_test("socat is not installed");
    endpoint(T_TCP, ep, sizeof(ep));
    snprintf(target, sizeof(target), "TCP:%s", ep + strlen("tcp://"));
    struct proc *l = start_listen(ep, NULL);
    const char *argv[] = { "socat", "-", target, NULL };
    struct proc *s = start("socat - TCP:...", argv, NULL);
    H_CHECK(h_wait_stderr(l, "connection from", 5000), "socat did not connect to %s", ep);

    feed(s, "from socat\n");
    H_CHECK(h_wait_stdout(l, "from socat\n", 3000), "listen should print what socat sent");
    feed(l, "from sockit listen\n");
    H_CHECK(h_wait_stdout(s, "from sockit listen\n", 3000), "socat should print what listen sent");
    end_stdin(l); /* listen half-closes; socat ends that direction, then closes */
    expect_both_exit_0(l, s, 3000);
}

Test(relay, sockit_connect_with_socat_listener, .timeout = 30)
{
    char ep[160], spec[80];

    if (!have_program("socat"))
        cr_skip_test("socat is not installed");
    endpoint(T_TCP, ep, sizeof(ep));
    snprintf(spec, sizeof(spec), "TCP-LISTEN:%s,reuseaddr,bind=127.0.0.1", strrchr(ep, ':') + 1);
    const char *argv[] = { "socat", "-d", "-d", spec, "-", NULL };
    struct proc *s = start("socat TCP-LISTEN:...", argv, NULL);
    H_CHECK(h_wait_stderr(s, "listening on", 5000), "socat did not start listening");
    struct proc *c = start_connect(ep, NULL, NULL);
    H_CHECK(h_wait_stderr(s, "accepting connection", 5000), "sockit connect did not reach socat");

    feed(c, "from sockit connect\n");
    H_CHECK(h_wait_stdout(s, "from sockit connect\n", 3000),
            "socat should print what connect sent");
    feed(s, "from socat\n");
    H_CHECK(h_wait_stdout(c, "from socat\n", 3000), "connect should print what socat sent");
    end_stdin(c); /* connect half-closes; socat ends that direction, then closes */
    expect_both_exit_0(c, s, 3000);
}

/* ---------------------------------------------------------------- stopping by signal */

static bool file_exists(const char *path, struct stat *st)
{
    return stat(path, st) == 0;
}

/* SIG stops listen like the servers: exit 0, its unix socket file removed, and a client in
 * the middle of a relay sees the end of the stream. */
static void stop_while_relaying(int sig, enum transport t)
{
    char ep[160];
    struct stat st;
    const char *path;

    endpoint(t, ep, sizeof(ep));
    path = strchr(ep, ':') + 1;
    struct proc *l = start_listen(ep, NULL);
    H_CHECK(file_exists(path, &st), "listen should have made %s", path);
    struct proc *c = start_connect(ep, NULL, NULL);
    feed(c, "before the signal\n");
    H_CHECK(h_wait_stdout(l, "before the signal\n", 3000), "the relay should run first");
    int rc = h_stop(l, sig, 3000);
    H_CHECK(rc == 0, "listen stopped by signal %d exited with %d, expected 0", sig, rc);
    H_CHECK(!file_exists(path, &st), "listen should remove its socket file %s", path);
    end_stdin(c);
    rc = h_wait(c, 3000);
    H_CHECK(rc == 0, "the client should see the end and exit 0, not %d", rc);
}

Test(relay, listen_stops_on_sigterm_and_removes_its_socket_file, .timeout = 30)
{
    stop_while_relaying(SIGTERM, T_UNIX);
}

Test(relay, listen_stops_on_sigint_while_relaying, .timeout = 30)
{
    stop_while_relaying(SIGINT, T_UNIX);
}

/* A datagram listen waiting for its first sender stops too, and removes its file. */
Test(relay, datagram_listen_stops_on_sigterm, .timeout = 30)
{
    char ep[160];
    struct stat st;

    endpoint(T_UNIX_DGRAM, ep, sizeof(ep));
    struct proc *l = start_listen(ep, NULL);
    int rc = h_stop(l, SIGTERM, 3000);
    H_CHECK(rc == 0, "exit %d, expected 0", rc);
    H_CHECK(!file_exists(ep + strlen("unix-dgram:"), &st), "the socket file should be gone");
}

/* The socket file was replaced by another server's while listen waited: it is not listen's
 * to remove any more. */
Test(relay, listen_leaves_a_socket_file_that_is_no_longer_its_own, .timeout = 30)
{
    char ep[160];
    struct stat before, after;
    const char *path;

    endpoint(T_UNIX, ep, sizeof(ep));
    path = ep + strlen("unix:");
    struct proc *l = start_listen(ep, NULL);
    H_CHECK(unlink(path) == 0, "unlink %s: %s", path, strerror(errno));
    int other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path);
    H_CHECK(other >= 0 && bind(other, (struct sockaddr *)&a, sizeof(a)) == 0,
            "another server's bind %s: %s", path, strerror(errno));
    H_CHECK(stat(path, &before) == 0, "the other server's file");
    int rc = h_stop(l, SIGINT, 3000);
    H_CHECK(rc == 0, "exit %d, expected 0", rc);
    H_CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino,
            "listen removed a socket file that another server had made since");
    close(other);
}
