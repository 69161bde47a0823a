/* Unit tests for the classic models (sockit/classic.h), driven through the library API with
 * a trivial session and datagram callback: clients served and the run ending by itself at
 * max_served, a client over max_clients closed at once, the stop fd ending the run and its
 * sessions, a waiting client shed when out of fds, datagram workers sharing one socket and
 * counting together, a worker's error ending the run, and the calls refused. Every model on
 * loopback; the run is in a child process of the test (a forked session would otherwise hold
 * the test's client sockets open too), and the test plays the clients. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "sockit/classic.h"
#include "sockit/error.h"

/* ---------------------------------------------------------------- helpers */

/* A run of a model in a child process of the test, in a page shared with it: the results
 * and what on_reject saw. */
struct run {
    pid_t pid;
    int fd, stop;
    struct sockit_classic_options o;
    struct sockit_classic_handler h;
    struct sockit_classic_stats stats;
    int port;
    int dgram_rc; /* what the datagram callback returns after answering (1: one served) */
    int fd_room;  /* > 0: the server process may open only so many more fds */
    _Atomic int rc, done, full, other_reject;
};

/* The session: echo until end of stream, the stop fd or 5 s of silence (bounded rounds). */
static void echo_session(const struct sockit_classic_client *c, void *ud)
{
    char buf[4096];

    (void)ud;
    for (int round = 0; round < 10000; round++) {
        if (sockit_wait(c->fd, POLLIN, c->stop_fd, 5000) <= 0)
            break;
        ssize_t n = sockit_recv(c->fd, buf, sizeof(buf), NULL);
        if (n == -EAGAIN)
            continue;
        if (n <= 0 || sockit_send_all_wait(c->fd, buf, (size_t)n, c->stop_fd, 5000, NULL, NULL))
            break;
    }
    close(c->fd);
}

/* The datagram callback: answer one datagram with itself. */
static int echo_dgram(int fd, void *buf, size_t size, void *ud)
{
    struct run *r = ud;
    struct sockit_addr from;
    ssize_t n = sockit_dgram_recv(fd, buf, size, &from, NULL, NULL);

    if (n < 0)
        return (int)n;
    sockit_dgram_send(fd, buf, (size_t)n, &from, NULL);
    return r->dgram_rc;
}

static void count_reject(int err, const struct sockit_addr *peer, void *ud)
{
    struct run *r = ud;

    atomic_fetch_add(err == -SOCKIT_EFULL && peer ? &r->full : &r->other_reject, 1);
}

/* A struct run shared with the server process, with OPTS. Unmapped at the end of the test's
 * process. */
static struct run *new_run(struct sockit_classic_options opts, int dgram_rc)
{
    struct run *r =
        mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(r, MAP_FAILED);
    memset(r, 0, sizeof(*r));
    r->o = opts;
    r->dgram_rc = dgram_rc ? dgram_rc : 1;
    return r;
}

/* Let this process open only ROOM more fds: RLIMIT_NOFILE just past the ROOM lowest free fd
 * numbers (a limit bounds fd numbers, and new fds take the lowest free ones). */
static void limit_fds(int room)
{
    int fds[8], top = 0;

    for (int i = 0; i < room && i < 8; i++) {
        fds[i] = fcntl(0, F_DUPFD_CLOEXEC, 0);
        top = fds[i] > top ? fds[i] : top;
    }
    for (int i = 0; i < room && i < 8; i++)
        close(fds[i]);
    struct rlimit rl = { .rlim_cur = (rlim_t)top + 1, .rlim_max = (rlim_t)top + 1 };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        _exit(125);
}

static void run_in_child(struct run *r)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (r->fd_room > 0)
        limit_fds(r->fd_room);
    atomic_store(&r->rc, sockit_classic_run(r->fd, r->stop, &r->o, &r->h, r, &r->stats));
    atomic_store(&r->done, 1);
    _exit(0);
}

static int local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* Open ENDPOINT's socket (port 0: the kernel's pick) and start MODEL on it. */
static void start(struct run *r, enum sockit_classic_model model, const char *endpoint)
{
    struct sockit_endpoint ep;
    struct sockit_sockopts so = { .flags = SOCKIT_NONBLOCK | SOCKIT_REUSEADDR };

    cr_assert_eq(sockit_endpoint_parse(endpoint, &ep), 0);
    ep.port = 0;
    r->fd = sockit_socket_listen(&ep, &so, NULL);
    cr_assert_geq(r->fd, 0, "listen %s: %s", endpoint, sockit_strerror(r->fd));
    r->port = local_port(r->fd);
    r->stop = eventfd(0, EFD_CLOEXEC);
    cr_assert_geq(r->stop, 0);
    r->o.model = model;
    r->o.sockopts.flags = SOCKIT_NONBLOCK;
    r->h = (struct sockit_classic_handler){ .session = echo_session,
                                            .dgram = echo_dgram,
                                            .on_reject = count_reject };
    /* R is shared with the child: only the parent may write the pid there, or the child's 0
     * can land between the parent's store and its test, and both run the server (a hang) */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        run_in_child(r);
    r->pid = pid;
    close(r->fd);
}

/* Wait up to MS for the run to end by itself; true if it did (else the server process is
 * killed). The process is collected either way (waitpid fails with ECHILD if the test runner
 * ignores SIGCHLD: then it is gone already). */
static bool ended_within(struct run *r, int ms)
{
    for (long long end = h_now_ms() + ms; !atomic_load(&r->done) && h_now_ms() < end;)
        h_sleep_ms(5);
    bool done = atomic_load(&r->done);
    if (!done)
        kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    close(r->stop);
    return done;
}

/* Make the stop fd readable: the run must end within 3 s. */
static void stop(struct run *r)
{
    uint64_t one = 1;

    cr_assert_eq(write(r->stop, &one, sizeof(one)), (ssize_t)sizeof(one));
    cr_assert(ended_within(r, 3000), "the run did not end within 3 s of the stop fd");
}

static int client(int port, int type)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    return fd;
}

/* A run that hangs fails the suite instead of the whole test run. */
TestSuite(classic, .timeout = 60);

static const enum sockit_classic_model models[] = { SOCKIT_CLASSIC_ITERATIVE, SOCKIT_CLASSIC_FORK,
                                                    SOCKIT_CLASSIC_THREAD };
static const char *const names[] = { "iterative", "fork", "thread" };

/* ---------------------------------------------------------------- streams */

/* max_served 3: three clients one after another are echoed, then the run ends by itself. */
static void serves_until_max_served(enum sockit_classic_model model)
{
    struct run *r = new_run((struct sockit_classic_options){ .max_served = 3 }, 0);

    start(r, model, "tcp://127.0.0.1:1");
    for (int i = 0; i < 3; i++) {
        int fd = client(r->port, SOCK_STREAM);
        cr_expect_eq(h_ping(fd), 4, "%s: client %d echoed", names[model], i);
        close(fd);
    }
    cr_assert(ended_within(r, 3000), "%s: the run should end after 3 clients", names[model]);
    cr_expect_eq(atomic_load(&r->rc), 0);
    cr_expect_eq(r->stats.accepted, 3, "%s: accepted %lu", names[model], r->stats.accepted);
    cr_expect_eq(r->stats.rejected, 0);
}

Test(classic, iterative_serves_until_max_served)
{
    serves_until_max_served(SOCKIT_CLASSIC_ITERATIVE);
}

Test(classic, fork_serves_until_max_served)
{
    serves_until_max_served(SOCKIT_CLASSIC_FORK);
}

Test(classic, thread_serves_until_max_served)
{
    serves_until_max_served(SOCKIT_CLASSIC_THREAD);
}

/* max_clients 1: with one client held, the next is closed at once (end of stream) and
 * reported as -SOCKIT_EFULL; the first is still served, and once it leaves a new one is. */
static void over_the_cap_is_closed_at_once(enum sockit_classic_model model)
{
    struct run *r = new_run((struct sockit_classic_options){ .max_clients = 1 }, 0);

    start(r, model, "tcp://127.0.0.1:1");
    int held = client(r->port, SOCK_STREAM);
    cr_assert_eq(h_ping(held), 4, "the first client");
    int over = client(r->port, SOCK_STREAM);
    char c;
    ssize_t n = h_read_within(over, 2000, &c, 1);
    cr_expect(n == 0 || n == -ECONNRESET, "the client over the cap: %zd, expected end of stream",
              n);
    cr_expect_eq(h_ping(held), 4, "the first client after the second was turned away");
    close(over);
    close(held);
    ssize_t again = -1;
    for (int i = 0; i < 40 && again != 4; i++) { /* the first's end reaches the books soon */
        int next = client(r->port, SOCK_STREAM);
        again = h_ping(next);
        close(next);
        if (again != 4)
            h_sleep_ms(50);
    }
    cr_expect_eq(again, 4, "a client once the first left");
    stop(r);
    cr_expect_eq(atomic_load(&r->full), (int)r->stats.rejected, "each rejection reported");
    cr_expect_geq(r->stats.rejected, 1);
    cr_expect_eq(atomic_load(&r->other_reject), 0);
}

Test(classic, fork_closes_a_client_over_the_cap_at_once)
{
    over_the_cap_is_closed_at_once(SOCKIT_CLASSIC_FORK);
}

Test(classic, thread_closes_a_client_over_the_cap_at_once)
{
    over_the_cap_is_closed_at_once(SOCKIT_CLASSIC_THREAD);
}

/* A client held open: the stop fd ends the run promptly, and the client's session with it
 * (its connection is closed). */
Test(classic, stop_fd_ends_the_run_and_its_sessions)
{
    for (size_t m = 0; m < 3; m++) {
        struct run *r = new_run((struct sockit_classic_options){ 0 }, 0);
        char c;

        start(r, models[m], "tcp://127.0.0.1:1");
        int fd = client(r->port, SOCK_STREAM);
        cr_assert_eq(h_ping(fd), 4, "%s: echoed", names[m]);
        stop(r);
        cr_expect_eq(atomic_load(&r->rc), 0, "%s: rc", names[m]);
        ssize_t n = h_read_within(fd, 2000, &c, 1);
        cr_expect(n == 0 || n == -ECONNRESET, "%s: the session should have ended: %zd", names[m],
                  n);
        close(fd);
    }
}

/* Out of fds (the thread model's room: its reserve fd and two eventfds, nothing for a
 * client): a waiting client is shed, so it reads end of stream at once instead of hanging, the
 * accept loop does not spin, and -EMFILE is reported without a peer. */
Test(classic, out_of_fds_a_waiting_client_is_shed_and_reported)
{
    struct run *r = new_run((struct sockit_classic_options){ 0 }, 0);
    char c;

    r->fd_room = 3;
    start(r, SOCKIT_CLASSIC_THREAD, "tcp://127.0.0.1:1");
    int fd = client(r->port, SOCK_STREAM);
    ssize_t n = h_read_within(fd, 2000, &c, 1);
    cr_expect(n == 0 || n == -ECONNRESET, "the shed client: %zd, expected end of stream", n);
    close(fd);
    stop(r);
    cr_expect_geq(r->stats.shed, 1, "shed %lu", r->stats.shed);
    cr_expect_geq(atomic_load(&r->other_reject), 1, "-EMFILE reported");
    cr_expect_eq(r->stats.accepted, 0);
}

/* ---------------------------------------------------------------- datagrams */

/* Two workers (one in the iterative model) on one UDP socket: five datagrams answered, then
 * the run ends by itself, having counted them across workers (and processes). */
Test(classic, datagram_workers_count_together_to_max_served)
{
    for (size_t m = 0; m < 3; m++) {
        struct run *r =
            new_run((struct sockit_classic_options){ .max_served = 5, .workers = 2 }, 0);

        start(r, models[m], "udp://127.0.0.1:1");
        int fd = client(r->port, SOCK_DGRAM);
        for (int i = 0; i < 5; i++)
            cr_expect_eq(h_ping(fd), 4, "%s: datagram %d answered", names[m], i);
        close(fd);
        cr_assert(ended_within(r, 3000), "%s: the run should end after 5 datagrams", names[m]);
        cr_expect_eq(atomic_load(&r->rc), 0);
        cr_expect_geq(r->stats.served, 5, "%s: served %lu", names[m], r->stats.served);
    }
}

/* A worker whose callback fails ends the run with that error, in every model. */
Test(classic, a_failing_datagram_callback_ends_the_run_with_its_error)
{
    for (size_t m = 0; m < 3; m++) {
        struct run *r = new_run((struct sockit_classic_options){ 0 }, -EPROTO);

        start(r, models[m], "udp://127.0.0.1:1");
        int fd = client(r->port, SOCK_DGRAM);
        cr_expect_eq(h_ping(fd), 4, "%s: answered before failing", names[m]);
        close(fd);
        cr_assert(ended_within(r, 3000), "%s: the run should end", names[m]);
        cr_expect_eq(atomic_load(&r->rc), -EPROTO, "%s: rc %d", names[m], atomic_load(&r->rc));
    }
}

/* ---------------------------------------------------------------- refused calls */

Test(classic, refuses_a_blocking_socket_a_non_socket_and_a_handler_that_does_not_fit)
{
    struct sockit_endpoint ep;
    struct sockit_sockopts blocking = { 0 }, nonblocking = { .flags = SOCKIT_NONBLOCK };
    struct sockit_classic_options o = { 0 };
    struct sockit_classic_handler session_only = { .session = echo_session };
    struct sockit_classic_handler dgram_only = { .dgram = echo_dgram };

    cr_assert_eq(sockit_endpoint_parse("tcp://127.0.0.1:1", &ep), 0);
    ep.port = 0;
    int fd = sockit_socket_listen(&ep, &blocking, NULL);
    cr_assert_geq(fd, 0);
    cr_expect_eq(sockit_classic_run(fd, -1, &o, &session_only, NULL, NULL), -EINVAL, "blocking");
    close(fd);
    fd = sockit_socket_listen(&ep, &nonblocking, NULL);
    cr_assert_geq(fd, 0);
    cr_expect_eq(sockit_classic_run(fd, -1, &o, &dgram_only, NULL, NULL), -EINVAL,
                 "a stream socket with a datagram callback only");
    o.model = (enum sockit_classic_model)7;
    cr_expect_eq(sockit_classic_run(fd, -1, &o, &session_only, NULL, NULL), -EINVAL, "model 7");
    close(fd);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    o.model = SOCKIT_CLASSIC_THREAD;
    cr_expect_eq(sockit_classic_run(efd, -1, &o, &session_only, NULL, NULL), -EINVAL,
                 "not a socket");
    close(efd);
}
