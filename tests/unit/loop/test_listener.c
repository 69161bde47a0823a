/* Unit tests for listeners (sockit/loop.h, "listeners"): accepting with the peer's address,
 * pause and resume, closing from inside on_accept, and running out of fds (EMFILE) without
 * spinning or leaving the client hanging. Loopback TCP; every test runs once per backend
 * (backends.h). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "backends.h"
#include "sockit/loop.h"

/* ---------------------------------------------------------------- helpers */

/* A listening TCP socket on 127.0.0.1 and a free port; its address in *ADDR. */
static int tcp_listener(struct sockaddr_in *addr)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)h_free_port()) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        a.sin_port = 0; /* the free port was taken meanwhile: any port */
        cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    }
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *addr = a;
    return fd;
}

/* A client connected to ADDR (blocking connect: loopback completes it through the backlog,
 * whether or not anyone accepts); its own address in *LOCAL (may be NULL). */
static int client(const struct sockaddr_in *addr, struct sockaddr_in *local)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (const struct sockaddr *)addr, sizeof *addr), 0, "connect: %s",
                 strerror(errno));
    if (local) {
        socklen_t len = sizeof *local;
        cr_assert_eq(getsockname(fd, (struct sockaddr *)local, &len), 0);
    }
    return fd;
}

struct lx {
    struct sockit_loop *loop;
    struct sockit_listener *l;
    int accepts, errors, last_err;
    int fds[16];
    struct sockit_addr peers[16];
    int close_after;   /* close the listener after this many accepts (0: never) */
    int pause_at;      /* pause the listener at this accept (0: never) */
    bool close_inside; /* close the listener from inside the first on_accept */
    struct sockit_timer timer, deadline;
    int phase;
    int accepts_at_check[4];
};

static void on_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer, void *ud)
{
    struct lx *x = ud;
    cr_assert_eq(l, x->l, "on_accept for another listener");
    cr_assert_geq(fd, 0);
    cr_assert_not_null(peer);
    if (x->accepts < 16) {
        x->fds[x->accepts] = fd;
        x->peers[x->accepts] = *peer;
    } else {
        close(fd);
    }
    x->accepts++;
    if (x->close_inside || (x->close_after && x->accepts == x->close_after)) {
        sockit_listener_close(l);
        x->l = NULL;
        sockit_timer_stop(x->loop, &x->deadline);
        return;
    }
    if (x->pause_at && x->accepts == x->pause_at)
        sockit_listener_pause(l);
}

static void on_error(struct sockit_listener *l, int err, void *ud)
{
    struct lx *x = ud;
    cr_assert_eq(l, x->l);
    x->errors++;
    x->last_err = err;
}

static void stop_loop(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)t;
    (void)data;
    sockit_loop_stop(loop);
}

/* Open a listener on LFD with ACCEPT (NULL: on_accept), and start a 3 s deadline that
 * on_accept stops when it closes the listener. */
static void open_listener(struct lx *x, int lfd, sockit_accept_fn *accept)
{
    int rc = sockit_listener_open(x->loop, lfd, accept ? accept : on_accept, on_error, x, &x->l);
    cr_assert_eq(rc, 0, "sockit_listener_open: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_not_null(x->l);
    sockit_timer_init(&x->deadline, stop_loop, NULL);
    cr_assert_eq(sockit_timer_start(x->loop, &x->deadline, 3000 * MS, 0), 0);
}

static void close_accepted(struct lx *x)
{
    for (int i = 0; i < x->accepts && i < 16; i++)
        close(x->fds[i]);
}

/* ---------------------------------------------------------------- accepting */

LOOP_TEST(listener_accepts_and_reports_the_peer_address)
{
    enum { N = 3 };
    struct lx x = { .loop = new_loop(), .close_after = N };
    struct sockaddr_in addr, local[N];
    int lfd = tcp_listener(&addr);
    open_listener(&x, lfd, NULL);
    int c[N];
    for (int i = 0; i < N; i++)
        c[i] = client(&addr, &local[i]);
    run_ok(x.loop); /* the listener closes itself after N: then nothing is left */
    cr_assert_eq(x.accepts, N, "%d accepts for %d clients", x.accepts, N);
    cr_expect_null(x.l);

    for (int i = 0; i < N; i++) {
        const struct sockit_addr *p = &x.peers[i];
        cr_expect_eq(p->len, sizeof(struct sockaddr_in), "peer %d: address length %u", i,
                     (unsigned)p->len);
        cr_expect_eq(p->u.in.sin_family, AF_INET);
        /* Loopback accepts in connection order; match any, to be safe. */
        int match = -1;
        for (int j = 0; j < N; j++)
            if (p->u.in.sin_addr.s_addr == local[j].sin_addr.s_addr &&
                p->u.in.sin_port == local[j].sin_port)
                match = j;
        cr_expect_geq(match, 0, "peer %d: %s:%u is none of the clients", i,
                      inet_ntoa(p->u.in.sin_addr), ntohs(p->u.in.sin_port));
        cr_expect(fcntl(x.fds[i], F_GETFL) & O_NONBLOCK, "accepted fd %d is blocking", x.fds[i]);
        cr_expect(fcntl(x.fds[i], F_GETFD) & FD_CLOEXEC, "accepted fd %d lacks close-on-exec",
                  x.fds[i]);
        /* The fd is the connection to that client. */
        if (match >= 0) {
            char b[8];
            cr_expect_eq(send(x.fds[i], "hi", 2, MSG_NOSIGNAL), 2);
            cr_expect_eq(h_read_within(c[match], 1000, b, sizeof b), 2);
        }
    }
    sockit_loop_free(x.loop);
    close_accepted(&x);
    for (int i = 0; i < N; i++)
        close(c[i]);
}

/* Paused from the start: clients wait in the backlog (their connect succeeded) until the
 * resume at 40 ms; paused again from the first on_accept: the others wait until the next
 * resume. */
static void pause_check(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct lx *x = data;
    (void)loop;
    (void)t;
    x->accepts_at_check[x->phase++] = x->accepts;
    if (x->l) /* else everything was accepted already, pause or not */
        sockit_listener_resume(x->l);
}

static void pause_then_check(struct sockit_listener *l, int fd, const struct sockit_addr *peer,
                             void *ud)
{
    struct lx *x = ud;
    on_accept(l, fd, peer, ud);
    if (x->accepts == 1) /* on_accept paused it (pause_at 1): check again in 40 ms */
        cr_assert_eq(sockit_timer_start(x->loop, &x->timer, 40 * MS, 0), 0);
}

LOOP_TEST(listener_pause_leaves_clients_in_the_backlog_until_resume)
{
    enum { N = 3 };
    struct lx x = { .loop = new_loop(), .close_after = N, .pause_at = 1 };
    struct sockaddr_in addr;
    int lfd = tcp_listener(&addr);
    open_listener(&x, lfd, pause_then_check);
    sockit_listener_pause(x.l);
    sockit_listener_pause(x.l); /* twice: a no-op */
    int c[N];
    for (int i = 0; i < N; i++)
        c[i] = client(&addr, NULL);
    sockit_timer_init(&x.timer, pause_check, &x);
    cr_assert_eq(sockit_timer_start(x.loop, &x.timer, 40 * MS, 0), 0);
    run_ok(x.loop);

    cr_assert_eq(x.phase, 2, "%d checks ran (accepts %d)", x.phase, x.accepts);
    cr_expect_eq(x.accepts_at_check[0], 0, "%d accepted while paused from the start",
                 x.accepts_at_check[0]);
    cr_expect_eq(x.accepts_at_check[1], 1, "%d accepted while paused from on_accept",
                 x.accepts_at_check[1]);
    cr_expect_eq(x.accepts, N, "after resume: %d of %d accepted", x.accepts, N);
    sockit_loop_free(x.loop);
    close_accepted(&x);
    for (int i = 0; i < N; i++)
        close(c[i]);
}

LOOP_TEST(listener_closed_inside_on_accept_is_safe)
{
    enum { N = 3 };
    struct lx x = { .loop = new_loop(), .close_inside = true };
    struct sockaddr_in addr, local[N];
    int lfd = tcp_listener(&addr);
    open_listener(&x, lfd, NULL);
    int c[N];
    for (int i = 0; i < N; i++)
        c[i] = client(&addr, &local[i]);
    long long t0 = h_now_ms();
    run_ok(x.loop); /* the closed listener was all there was */
    cr_expect_lt(h_now_ms() - t0, 1000, "run() did not return after the listener closed");
    cr_assert_eq(x.accepts, 1, "%d accepts after closing in the first", x.accepts);
    cr_expect_eq(x.errors, 0);
    /* The clients still in the backlog are refused (reset or EOF), not left hanging. */
    for (int i = 0; i < N; i++) {
        if (x.peers[0].u.in.sin_port == local[i].sin_port)
            continue; /* the accepted one: its fd is open */
        char b[8];
        ssize_t r = h_read_within(c[i], 1000, b, sizeof b);
        cr_expect(r == 0 || r == -ECONNRESET,
                  "client %d, left in the backlog of a closed listener, read %zd (%s)", i, r,
                  r < 0 ? strerror((int)-r) : "bytes");
    }
    sockit_loop_free(x.loop);
    close_accepted(&x);
    for (int i = 0; i < N; i++)
        close(c[i]);
}

/* ---------------------------------------------------------------- out of fds */

static int fillers[4096], nfillers = -1;
static struct rlimit saved_nofile;

static void restore_fds(void)
{
    for (int i = 0; i < nfillers; i++)
        close(fillers[i]);
    nfillers = -1;
    setrlimit(RLIMIT_NOFILE, &saved_nofile);
}

/* Lower RLIMIT_NOFILE to just above the highest open fd and fill every free number under it:
 * the next accept fails with EMFILE. Undone by restore_fds (also from the test's .fini). */
static void exhaust_fds(void)
{
    int highest = 0;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (fd > highest && fd != dirfd(d))
            highest = fd;
    }
    closedir(d);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    nfillers = 0;
    test_cleanup = restore_fds;
    struct rlimit low = { .rlim_cur = (rlim_t)highest + 1, .rlim_max = saved_nofile.rlim_max };
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0, "setrlimit: %s", strerror(errno));
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cr_assert_eq(errno, EMFILE, "open: %s", strerror(errno));
            break;
        }
        cr_assert_lt(nfillers, 4096);
        fillers[nfillers++] = fd;
    }
}

struct emfile {
    int client, closed_with; /* what the client's read gave: 0 EOF, -errno */
    bool client_done;
    long long closed_at_ms;
};

static void on_client(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct emfile *e = data;
    char b[8];
    (void)events;
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN)
        return;
    e->closed_with = n < 0 ? -errno : (int)n;
    e->client_done = true;
    e->closed_at_ms = h_now_ms();
    sockit_loop_unwatch(loop, fd);
}

LOOP_TEST(listener_out_of_fds_reports_emfile_sheds_the_client_and_does_not_spin)
{
    struct lx x = { .loop = new_loop() };
    struct sockaddr_in addr;
    int lfd = tcp_listener(&addr);
    open_listener(&x, lfd, NULL);
    sockit_timer_stop(x.loop, &x.deadline);
    struct emfile e = { .client = client(&addr, NULL), .closed_with = 1 };
    cr_assert_eq(sockit_loop_watch(x.loop, e.client, SOCKIT_EV_READ, on_client, &e), 0);
    sockit_timer_init(&x.timer, stop_loop, NULL);
    cr_assert_eq(sockit_timer_start(x.loop, &x.timer, 300 * MS, 0), 0);

    exhaust_fds();
    long long t0 = h_now_ms();
    uint64_t cpu0 = thread_cpu_ns();
    int rc = sockit_loop_run(x.loop); /* 300 ms, then the timer stops it */
    uint64_t cpu = thread_cpu_ns() - cpu0;
    long long wall = h_now_ms() - t0;
    restore_fds();
    test_cleanup = NULL;

    cr_assert_eq(rc, 0, "run: %d (%s)", rc, sockit_strerror(rc));
    cr_expect_eq(x.accepts, 0, "accepted %d with no fd to spare", x.accepts);
    cr_expect_geq(x.errors, 1, "on_error never called");
    cr_expect_eq(x.last_err, -EMFILE, "on_error err %d (%s)", x.last_err,
                 sockit_strerror(x.last_err));
    cr_expect_eq(x.errors, 1, "one waiting client, %d errors: the listener retried", x.errors);
    cr_expect(e.client_done, "the waiting client was left hanging");
    cr_expect(e.closed_with == 0 || e.closed_with == -ECONNRESET,
              "the client's read gave %d, not end of stream or reset", e.closed_with);
    if (e.client_done)
        cr_expect_lt(e.closed_at_ms - t0, 100, "the client was closed only after %lld ms",
                     e.closed_at_ms - t0);
    cr_expect_lt(cpu, 50 * MS, "the loop used %.1f ms of CPU in %lld ms: it spun", (double)cpu / MS,
                 wall);

    /* With fds again, the same listener accepts normally. */
    if (!e.client_done)
        sockit_loop_unwatch(x.loop, e.client);
    int c2 = client(&addr, NULL);
    x.close_after = 1;
    cr_assert_eq(sockit_timer_start(x.loop, &x.deadline, 3000 * MS, 0), 0);
    run_ok(x.loop);
    cr_expect_eq(x.accepts, 1, "after the fds came back: %d accepts", x.accepts);
    sockit_loop_free(x.loop);
    close_accepted(&x);
    close(e.client);
    close(c2);
}

LOOP_TEST(loop_free_closes_open_listeners)
{
    struct lx x = { .loop = new_loop() };
    struct sockaddr_in addr;
    int lfd = tcp_listener(&addr);
    open_listener(&x, lfd, NULL);
    sockit_listener_pause(x.l); /* paused or not, it is closed */
    sockit_loop_free(x.loop);
    cr_expect_eq(fcntl(lfd, F_GETFD), -1, "the listening fd %d is still open", lfd);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_expect_neq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0,
                  "connect to the freed loop's listener succeeded");
    cr_expect_eq(errno, ECONNREFUSED, "connect: %s", strerror(errno));
    close(fd);
}

/* A loop that has run its listener (so a backend request may hold the socket) releases the
 * port when it is freed, at once: a new server binds the same port right after, on every
 * backend. On io_uring the poll request kept the socket alive until the ring's teardown, which
 * the kernel finishes later in a worker (EADDRINUSE for 5-11 ms after a clean exit). */
LOOP_TEST(loop_free_releases_the_port_at_once)
{
    for (int round = 0; round < 20; round++) {
        struct lx x = { .loop = new_loop(), .close_after = 0 };
        struct sockaddr_in addr;
        int lfd = tcp_listener(&addr);
        open_listener(&x, lfd, NULL);
        sockit_timer_stop(x.loop, &x.deadline);
        cr_assert_eq(sockit_timer_start(x.loop, &x.deadline, 50 * MS, 0), 0);
        int c = client(&addr, NULL);
        run_ok(x.loop); /* accepts the client, re-arms, stops at the deadline */
        cr_assert_eq(x.accepts, 1, "round %d: %d accepts", round, x.accepts);
        sockit_loop_free(x.loop);
        close_accepted(&x);
        close(c);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        cr_assert_geq(fd, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_expect_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0,
                     "round %d: bind to the freed loop's port %d: %s", round, ntohs(addr.sin_port),
                     strerror(errno));
        cr_expect_eq(listen(fd, 1), 0, "round %d: listen: %s", round, strerror(errno));
        close(fd);
    }
}
