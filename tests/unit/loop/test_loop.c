/* Unit tests for the event loop (sockit/loop.h), with socketpairs, pipes and timerfds as the
 * watched fds, plus deferred calls, signals, cross-thread stop and backend choice. The header
 * comments are the contract tested here. Every test runs once per backend (backends.h). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "backends.h"
#include "sockit/error.h"
#include "sockit/loop.h"

/* ---------------------------------------------------------------- helpers */

/* A socketpair whose sv[0] is readable (one byte waits). */
static void readable_pair(int sv[2])
{
    pair(sv);
    cr_assert_eq(write(sv[1], "r", 1), 1);
}

static void watch_ok(struct sockit_loop *loop, int fd, unsigned events, sockit_loop_fn *fn,
                     void *data)
{
    int rc = sockit_loop_watch(loop, fd, events, fn, data);
    cr_assert_eq(rc, 0, "watch(%d, %#x): %d (%s)", fd, events, rc, sockit_strerror(rc));
}

static void unwatch_ok(struct sockit_loop *loop, int fd)
{
    int rc = sockit_loop_unwatch(loop, fd);
    cr_assert_eq(rc, 0, "unwatch(%d): %d (%s)", fd, rc, sockit_strerror(rc));
}

/* A timerfd that fires once after MS milliseconds: a way out of a loop that would block. */
static int timer_after(int ms)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    cr_assert_geq(fd, 0, "timerfd_create: %s", strerror(errno));
    struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
                                            .tv_nsec = (ms % 1000) * 1000000L } };
    cr_assert_eq(timerfd_settime(fd, 0, &its, NULL), 0);
    return fd;
}

/* Records every call: fd, events and the data pointer it was given. */
struct calls {
    int n;
    int fd[64];
    unsigned events[64];
    void *data[64];
};

static void record(struct calls *c, int fd, unsigned events, void *data)
{
    if (c->n < 64) {
        c->fd[c->n] = fd;
        c->events[c->n] = events;
        c->data[c->n] = data;
    }
    c->n++;
}

/* Generic test context: a loop, a call log, and what the callback should do. */
struct ctx {
    struct calls calls;
    int stop_after; /* stop the loop after this many calls (0: never) */
    bool unwatch_self;
    bool drain; /* read what is readable */
};

static void on_event(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct ctx *x = data;
    record(&x->calls, fd, events, data);
    if (x->drain && (events & SOCKIT_EV_READ)) {
        char buf[256];
        while (read(fd, buf, sizeof buf) > 0)
            ;
    }
    if (x->unwatch_self)
        sockit_loop_unwatch(loop, fd);
    if (x->stop_after && x->calls.n >= x->stop_after)
        sockit_loop_stop(loop);
}

/* A callback that must never run. */
static void must_not_run(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    (void)data;
    sockit_loop_stop(loop);
    cr_assert_fail("callback for fd %d ran with events %#x though it should not", fd, events);
}

static void on_timer_stop(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    (void)events;
    uint64_t ticks;
    if (read(fd, &ticks, sizeof ticks) < 0) {
        /* spurious: nothing to do */
    }
    if (data)
        (*(int *)data)++;
    sockit_loop_stop(loop);
}

/* ---------------------------------------------------------------- lifecycle */

LOOP_TEST(new_and_free_and_free_of_null)
{
    struct sockit_loop *loop = new_loop();
    sockit_loop_free(loop);
    sockit_loop_free(NULL);
}

LOOP_TEST(run_returns_at_once_when_nothing_is_watched)
{
    struct sockit_loop *loop = new_loop();
    cr_expect_eq(sockit_loop_run(loop), 0);
    cr_expect_eq(sockit_loop_run(loop), 0, "and again");
    sockit_loop_free(loop);
}

LOOP_TEST(free_does_not_close_watched_fds)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    struct ctx x = { 0 };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    sockit_loop_free(loop);
    cr_expect_geq(fcntl(sv[0], F_GETFD), 0, "the loop closed a borrowed fd");
    cr_expect_eq(write(sv[1], "x", 1), 1);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- read / write / error */

LOOP_TEST(read_callback_fires_with_fd_events_and_data)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .unwatch_self = true, .drain = true };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1, "one readable fd, unwatched in its callback: %d calls", x.calls.n);
    cr_expect_eq(x.calls.fd[0], sv[0]);
    cr_expect_eq(x.calls.events[0], SOCKIT_EV_READ, "events %#x", x.calls.events[0]);
    cr_expect_eq(x.calls.data[0], &x, "the callback gets the data given to watch");
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(read_callback_waits_for_data_to_arrive)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    struct ctx x = { .stop_after = 1, .drain = true };
    int timer_calls = 0;
    int t = timer_after(20);
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    watch_ok(loop, t, SOCKIT_EV_READ, on_timer_stop, &timer_calls);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 0, "an empty socket was reported readable");
    cr_expect_eq(timer_calls, 1);

    cr_assert_eq(write(sv[1], "x", 1), 1);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 1, "data arrived but no read callback");
    sockit_loop_free(loop);
    close(t);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(level_triggered_read_fires_every_round_until_drained)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .stop_after = 3 };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 3, "undrained data fires again in each round");
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(write_callback_fires_for_a_writable_socket)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, sv[1], SOCKIT_EV_WRITE, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect_eq(x.calls.fd[0], sv[1]);
    cr_expect_eq(x.calls.events[0], SOCKIT_EV_WRITE, "events %#x", x.calls.events[0]);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(read_and_write_together_are_reported_in_one_call)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, sv[0], SOCKIT_EV_READ | SOCKIT_EV_WRITE, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect_eq(x.calls.events[0], SOCKIT_EV_READ | SOCKIT_EV_WRITE, "events %#x",
                 x.calls.events[0]);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(write_interest_is_silent_while_the_socket_is_full)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    static char chunk[65536];
    while (write(sv[0], chunk, sizeof chunk) > 0)
        ;
    cr_assert_eq(errno, EAGAIN);
    struct ctx x = { 0 };
    int timer_calls = 0;
    int t = timer_after(30);
    watch_ok(loop, sv[0], SOCKIT_EV_WRITE, on_event, &x);
    watch_ok(loop, t, SOCKIT_EV_READ, on_timer_stop, &timer_calls);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 0, "a full socket was reported writable");
    cr_expect_eq(timer_calls, 1);
    sockit_loop_free(loop);
    close(t);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(peer_hangup_is_reported_as_error_and_read)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    close(sv[1]);
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect(x.calls.events[0] & SOCKIT_EV_ERROR, "hang-up gives SOCKIT_EV_ERROR (events %#x)",
              x.calls.events[0]);
    cr_expect(x.calls.events[0] & SOCKIT_EV_READ,
              "a reader also gets SOCKIT_EV_READ, to read the end of stream (events %#x)",
              x.calls.events[0]);
    char b;
    cr_expect_eq(read(sv[0], &b, 1), 0);
    sockit_loop_free(loop);
    close(sv[0]);
}

LOOP_TEST(hangup_without_data_still_gives_read_to_a_reader)
{
    struct sockit_loop *loop = new_loop();
    /* A TCP socket that never connected polls as EPOLLHUP alone, without EPOLLIN. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, fd, SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect_eq(x.calls.events[0], SOCKIT_EV_ERROR | SOCKIT_EV_READ,
                 "a hang-up wakes a reader with ERROR|READ (events %#x)", x.calls.events[0]);
    sockit_loop_free(loop);
    close(fd);
}

LOOP_TEST(hangup_is_reported_to_a_writer_without_read)
{
    struct sockit_loop *loop = new_loop();
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    close(p[0]); /* the writer's peer is gone: EPOLLERR on the write end */
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, p[1], SOCKIT_EV_WRITE, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect(x.calls.events[0] & SOCKIT_EV_ERROR, "events %#x", x.calls.events[0]);
    cr_expect_not(x.calls.events[0] & SOCKIT_EV_READ, "READ reported though not asked (%#x)",
                  x.calls.events[0]);
    sockit_loop_free(loop);
    close(p[1]);
}

/* ---------------------------------------------------------------- watch / unwatch */

LOOP_TEST(watch_with_events_zero_silences_a_readable_fd)
{
    struct sockit_loop *loop = new_loop();
    int quiet[2], busy[2];
    readable_pair(quiet);
    readable_pair(busy);
    struct ctx q = { 0 }, b = { .stop_after = 3 };
    watch_ok(loop, quiet[0], SOCKIT_EV_READ, on_event, &q);
    watch_ok(loop, quiet[0], 0, on_event, &q); /* registered, but silent */
    watch_ok(loop, busy[0], SOCKIT_EV_READ, on_event, &b);
    run_ok(loop);
    cr_expect_eq(b.calls.n, 3);
    cr_expect_eq(q.calls.n, 0, "a silenced fd got %d callbacks", q.calls.n);

    /* Still registered: unwatch works, and asking for READ again brings the events back. */
    watch_ok(loop, quiet[0], SOCKIT_EV_READ, on_event, &q);
    unwatch_ok(loop, busy[0]);
    q.stop_after = 1;
    run_ok(loop);
    cr_expect_eq(q.calls.n, 1, "re-enabled READ fires");
    unwatch_ok(loop, quiet[0]);
    sockit_loop_free(loop);
    close(quiet[0]);
    close(quiet[1]);
    close(busy[0]);
    close(busy[1]);
}

/* Writes one byte to FD after DELAY_MS, from another thread: wakes a loop blocked in run(). */
struct late_write {
    int fd;
    int delay_ms;
};

static void *write_later(void *arg)
{
    struct late_write *w = arg;
    struct timespec ts = { .tv_sec = w->delay_ms / 1000,
                           .tv_nsec = (w->delay_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    (void)!write(w->fd, "w", 1);
    return NULL;
}

static long long ms_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

LOOP_TEST(silenced_fd_gets_no_callback_at_all_even_after_peer_hangup)
{
    /* Round 0: silenced from its first watch. Round 1: watched for READ|WRITE, then silenced. */
    for (int round = 0; round < 2; round++) {
        struct sockit_loop *loop = new_loop();
        int quiet[2], wake[2];
        pair(quiet);
        pair(wake);
        struct ctx q = { 0 }, w = { .stop_after = 1, .drain = true };
        if (round == 1)
            watch_ok(loop, quiet[0], SOCKIT_EV_READ | SOCKIT_EV_WRITE, on_event, &q);
        watch_ok(loop, quiet[0], 0, on_event, &q);
        close(quiet[1]); /* hang-up while silenced */
        watch_ok(loop, wake[0], SOCKIT_EV_READ, on_event, &w);

        /* run() has only the silenced fd to report until the late write: it must block, not
         * call back and not spin. */
        struct late_write lw = { .fd = wake[1], .delay_ms = 300 };
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, write_later, &lw), 0);
        long long wall0 = ms_of(CLOCK_MONOTONIC), cpu0 = ms_of(CLOCK_THREAD_CPUTIME_ID);
        run_ok(loop);
        long long wall = ms_of(CLOCK_MONOTONIC) - wall0;
        long long cpu = ms_of(CLOCK_THREAD_CPUTIME_ID) - cpu0;
        pthread_join(t, NULL);
        cr_expect_eq(w.calls.n, 1, "round %d: the late write woke the loop %d times", round,
                     w.calls.n);
        cr_expect_eq(q.calls.n, 0,
                     "round %d: the silenced fd got %d callbacks after its peer hung up (first "
                     "with events %#x)",
                     round, q.calls.n, q.calls.n ? q.calls.events[0] : 0u);
        cr_expect_geq(wall, 200, "round %d: run() returned after %lld ms, before the late write",
                      round, wall);
        cr_expect_lt(cpu, 50, "round %d: run() used %lld ms of CPU in %lld ms: it spun", round, cpu,
                     wall);

        /* Watched for READ again, it reports the hang-up it missed. */
        unwatch_ok(loop, wake[0]);
        q.stop_after = 1;
        watch_ok(loop, quiet[0], SOCKIT_EV_READ, on_event, &q);
        run_ok(loop);
        cr_assert_eq(q.calls.n, 1, "round %d: re-watched fd got %d callbacks", round, q.calls.n);
        cr_expect_eq(q.calls.events[0], SOCKIT_EV_READ | SOCKIT_EV_ERROR,
                     "round %d: re-watched hung-up fd got events %#x", round, q.calls.events[0]);
        char b;
        cr_expect_eq(read(quiet[0], &b, 1), 0, "round %d: end of stream", round);
        unwatch_ok(loop, quiet[0]);
        sockit_loop_free(loop);
        close(quiet[0]);
        close(wake[0]);
        close(wake[1]);
    }
}

LOOP_TEST(silent_fd_still_counts_as_watched)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    int t = timer_after(20);
    int timer_calls = 0;
    struct ctx x = { 0 };
    watch_ok(loop, sv[0], 0, on_event, &x);
    watch_ok(loop, t, SOCKIT_EV_READ, on_timer_stop, &timer_calls);
    run_ok(loop); /* returns via the timer's stop, not because nothing is watched */
    cr_expect_eq(timer_calls, 1);
    cr_expect_eq(sockit_loop_unwatch(loop, sv[0]), 0, "the silent fd is still registered");
    sockit_loop_free(loop);
    close(t);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(watch_again_replaces_events_callback_and_data)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx first = { 0 }, second = { .unwatch_self = true };
    watch_ok(loop, sv[0], SOCKIT_EV_WRITE, must_not_run, &first);
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &second);
    run_ok(loop);
    cr_assert_eq(second.calls.n, 1, "the new callback runs");
    cr_expect_eq(second.calls.data[0], &second, "with the new data");
    cr_expect_eq(second.calls.events[0], SOCKIT_EV_READ, "for the new events only (%#x)",
                 second.calls.events[0]);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(watch_again_with_same_events_changes_callback)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, must_not_run, NULL);
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 1);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(unwatch_of_an_unknown_fd_is_enoent)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    cr_expect_eq(sockit_loop_unwatch(loop, sv[0]), -ENOENT, "never watched, empty table");
    cr_expect_eq(sockit_loop_unwatch(loop, -1), -ENOENT, "negative fd");
    struct ctx x = { 0 };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    cr_expect_eq(sockit_loop_unwatch(loop, sv[1]), -ENOENT, "never watched, inside the table");
    cr_expect_eq(sockit_loop_unwatch(loop, 100000), -ENOENT, "far past the table");
    unwatch_ok(loop, sv[0]);
    cr_expect_eq(sockit_loop_unwatch(loop, sv[0]), -ENOENT, "unwatched twice");
    cr_expect_eq(sockit_loop_run(loop), 0, "nothing left watched: run returns");
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(watch_rejects_bad_arguments)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    struct ctx x = { 0 };
    cr_expect_eq(sockit_loop_watch(loop, -1, SOCKIT_EV_READ, on_event, &x), -EINVAL);
    cr_expect_eq(sockit_loop_watch(loop, sv[0], SOCKIT_EV_READ, NULL, &x), -EINVAL,
                 "NULL callback");
    FILE *file = tmpfile(); /* a regular file is always "ready": every backend refuses it */
    cr_assert_not_null(file);
    int fd = dup(fileno(file));
    fclose(file);
    cr_assert_geq(fd, 0);
    int rc = sockit_loop_watch(loop, fd, SOCKIT_EV_READ, on_event, &x);
    cr_expect_eq(rc, -EPERM, "a regular file cannot be watched: %d (%s)", rc, sockit_strerror(rc));
    if (rc == 0)
        sockit_loop_unwatch(loop, fd); /* else run() below would spin on it */
    close(fd);
    int closed = fd;
    rc = sockit_loop_watch(loop, closed, SOCKIT_EV_READ, on_event, &x);
    cr_expect_eq(rc, -EBADF, "a closed fd: %d (%s)", rc, sockit_strerror(rc));
    if (rc == 0)
        sockit_loop_unwatch(loop, closed);
    cr_expect_eq(sockit_loop_run(loop), 0, "failed watches leave nothing watched");
    cr_expect_eq(x.calls.n, 0);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

LOOP_TEST(fd_numbers_beyond_the_initial_table_work)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    int high = 900;
    cr_assert_eq(dup2(sv[0], high), high, "dup2: %s", strerror(errno));
    struct ctx x = { .unwatch_self = true };
    watch_ok(loop, high, SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 1);
    cr_expect_eq(x.calls.fd[0], high);
    sockit_loop_free(loop);
    close(high);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- changes from callbacks */

LOOP_TEST(unwatch_of_own_fd_in_callback_ends_run_when_nothing_is_left)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .unwatch_self = true }; /* data stays unread: level-triggered would repeat */
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 1, "no callbacks after the fd unwatched itself");
    cr_expect_eq(sockit_loop_unwatch(loop, sv[0]), -ENOENT);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

/* Two readable fds; whichever callback runs first unwatches the other. */
struct pairwise {
    int fd[2];
    int calls[2];
    bool close_and_reuse; /* also close the other fd and put a fresh socket on its number */
    int reused_fd, reused_peer, new_sock_calls, timer;
};

static void on_new_socket(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct pairwise *p = data;
    char b;
    p->new_sock_calls++;
    /* The new socket has no data: a READ here is the old fd's stale event. */
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    sockit_loop_unwatch(loop, fd);
    cr_assert_fail(
        "the fresh socket on reused fd %d got events %#x (recv: %zd): a stale event from "
        "the fd's previous owner was delivered",
        fd, events, n);
}

static void on_pairwise(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct pairwise *p = data;
    (void)events;
    int me = fd == p->fd[0] ? 0 : 1;
    p->calls[me]++;
    char buf[16];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    unwatch_ok(loop, fd);
    if (p->calls[0] + p->calls[1] > 1)
        return;
    int other = p->fd[1 - me];
    unwatch_ok(loop, other);
    if (!p->close_and_reuse)
        return;
    close(other);
    int sv[2];
    pair(sv);
    if (sv[0] != other) {
        cr_assert_eq(dup2(sv[0], other), other);
        close(sv[0]);
    }
    p->reused_fd = other;
    p->reused_peer = sv[1];
    watch_ok(loop, other, SOCKIT_EV_READ, on_new_socket, p);
    /* A way out: the new socket will never become readable. */
    p->timer = timer_after(30);
    watch_ok(loop, p->timer, SOCKIT_EV_READ, on_timer_stop, NULL);
}

LOOP_TEST(unwatching_another_fd_drops_its_pending_event)
{
    struct sockit_loop *loop = new_loop();
    int a[2], b[2];
    readable_pair(a);
    readable_pair(b);
    struct pairwise p = { .fd = { a[0], b[0] } };
    watch_ok(loop, a[0], SOCKIT_EV_READ, on_pairwise, &p);
    watch_ok(loop, b[0], SOCKIT_EV_READ, on_pairwise, &p);
    run_ok(loop);
    cr_expect_eq(p.calls[0] + p.calls[1], 1,
                 "both fds were ready in one round, but the first callback unwatched the "
                 "other: calls %d and %d",
                 p.calls[0], p.calls[1]);
    sockit_loop_free(loop);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

LOOP_TEST(stale_event_is_not_delivered_to_a_new_fd_with_the_same_number)
{
    struct sockit_loop *loop = new_loop();
    int a[2], b[2];
    readable_pair(a);
    readable_pair(b);
    struct pairwise p = { .fd = { a[0], b[0] }, .close_and_reuse = true, .timer = -1 };
    watch_ok(loop, a[0], SOCKIT_EV_READ, on_pairwise, &p);
    watch_ok(loop, b[0], SOCKIT_EV_READ, on_pairwise, &p);
    run_ok(loop);
    cr_expect_eq(p.calls[0] + p.calls[1], 1, "calls %d and %d", p.calls[0], p.calls[1]);
    cr_expect_eq(p.new_sock_calls, 0, "the new owner of fd %d got the old owner's event",
                 p.reused_fd);
    cr_assert_geq(p.timer, 0, "the first callback did not run");
    unwatch_ok(loop, p.reused_fd);
    sockit_loop_free(loop);
    int first = p.calls[0] ? 0 : 1;
    close(p.fd[first]);
    close(p.reused_fd);
    close(p.reused_peer);
    close(p.timer);
    close(a[1]);
    close(b[1]);
}

LOOP_TEST(stop_from_a_callback_makes_run_return)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .stop_after = 1 }; /* never drains: the fd stays ready */
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 1, "stop returns after the current round");

    /* The fd is still watched; run again resumes (stop does not stick). */
    x.stop_after = 2;
    run_ok(loop);
    cr_expect_eq(x.calls.n, 2, "a second run dispatches again");
    unwatch_ok(loop, sv[0]);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

/* Stop ends run after the current round: the round itself completes, because a backend
 * that reports edges (epoll streams) would otherwise lose the events it already handed out. */
LOOP_TEST(stop_lets_the_current_round_finish)
{
    struct sockit_loop *loop = new_loop();
    int a[2], b[2];
    readable_pair(a);
    readable_pair(b);
    struct ctx x = { .stop_after = 1 };
    watch_ok(loop, a[0], SOCKIT_EV_READ, on_event, &x);
    watch_ok(loop, b[0], SOCKIT_EV_READ, on_event, &x);
    run_ok(loop);
    cr_expect_eq(x.calls.n, 2, "the round that called stop still dispatched both fds, and no more");
    sockit_loop_free(loop);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

static void watch_peer_then_unwatch_self(struct sockit_loop *loop, int fd, unsigned events,
                                         void *data)
{
    struct ctx *x = data;
    (void)events;
    record(&x->calls, fd, events, data);
    unwatch_ok(loop, fd);
    if (x->calls.n == 1) {
        /* A watch made inside a callback: the peer of fd (stored in stop_after) is writable. */
        watch_ok(loop, x->stop_after, SOCKIT_EV_WRITE, watch_peer_then_unwatch_self, x);
    }
}

LOOP_TEST(watch_from_a_callback_takes_effect)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .stop_after = sv[1] };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, watch_peer_then_unwatch_self, &x);
    run_ok(loop);
    cr_assert_eq(x.calls.n, 2, "the fd watched from a callback was dispatched");
    cr_expect_eq(x.calls.fd[1], sv[1]);
    cr_expect_eq(x.calls.events[1], SOCKIT_EV_WRITE);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- many fds */

struct many {
    int n_calls;
    int seen[1024];
};

static void on_many(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct many *m = data;
    (void)events;
    m->n_calls++;
    if (fd >= 0 && fd < 1024)
        m->seen[fd]++;
    unwatch_ok(loop, fd);
}

LOOP_TEST(hundreds_of_ready_fds_are_each_dispatched_once)
{
    enum { N = 300 }; /* more than one epoll_wait round's worth */
    static int pairs[N][2];
    static struct many m;
    struct sockit_loop *loop = new_loop();
    for (int i = 0; i < N; i++) {
        readable_pair(pairs[i]);
        cr_assert_lt(pairs[i][0], 1024);
        watch_ok(loop, pairs[i][0], SOCKIT_EV_READ, on_many, &m);
    }
    run_ok(loop);
    cr_expect_eq(m.n_calls, N, "%d callbacks for %d ready fds", m.n_calls, N);
    for (int i = 0; i < N; i++)
        cr_expect_eq(m.seen[pairs[i][0]], 1, "fd %d dispatched %d times", pairs[i][0],
                     m.seen[pairs[i][0]]);
    sockit_loop_free(loop);
    for (int i = 0; i < N; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
}

LOOP_TEST(two_loops_are_independent)
{
    struct sockit_loop *l1 = new_loop(), *l2 = new_loop();
    int sv[2];
    readable_pair(sv);
    struct ctx x = { .unwatch_self = true };
    watch_ok(l1, sv[0], SOCKIT_EV_READ, on_event, &x);
    cr_expect_eq(sockit_loop_run(l2), 0, "the other loop has nothing watched");
    cr_expect_eq(x.calls.n, 0, "a fd of loop 1 was dispatched by loop 2");
    cr_expect_eq(sockit_loop_unwatch(l2, sv[0]), -ENOENT);
    run_ok(l1);
    cr_expect_eq(x.calls.n, 1);
    sockit_loop_free(l1);
    sockit_loop_free(l2);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- deferred calls */

/* A log of what ran, one character per call. */
struct dlog {
    char s[64];
    int n;
    int fds[2];
    struct sockit_defer d1, d2, d3, d4;
    int rounds_seen;
};

static void dlog_add(struct dlog *g, char c)
{
    if (g->n < 63)
        g->s[g->n++] = c;
}

static void defer_4(struct sockit_loop *loop, void *data)
{
    struct dlog *g = data;
    dlog_add(g, '4');
    unwatch_ok(loop, g->fds[0]);
    unwatch_ok(loop, g->fds[1]);
}

static void defer_1(struct sockit_loop *loop, void *data)
{
    (void)loop;
    dlog_add(data, '1');
}

static void defer_2(struct sockit_loop *loop, void *data)
{
    struct dlog *g = data;
    dlog_add(g, '2');
    sockit_loop_defer(loop, &g->d4, defer_4, g); /* from a deferred call: a later round */
}

static void defer_3(struct sockit_loop *loop, void *data)
{
    (void)loop;
    dlog_add(data, '3');
}

/* Both fds are readable and never drained: each round dispatches both (level-triggered). */
static void on_round(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct dlog *g = data;
    (void)events;
    dlog_add(g, fd == g->fds[0] ? 'A' : 'B');
    if (g->rounds_seen++ == 0) {
        /* The first callback of the first round queues 1 and 2 (and 1 again: a no-op)... */
        sockit_loop_defer(loop, &g->d1, defer_1, g);
        sockit_loop_defer(loop, &g->d2, defer_2, g);
        sockit_loop_defer(loop, &g->d1, defer_1, g);
    } else if (g->rounds_seen == 2) {
        /* ...and the second queues 3: all run after both callbacks, in order, once. */
        sockit_loop_defer(loop, &g->d3, defer_3, g);
    }
}

LOOP_TEST(deferred_calls_run_after_the_round_in_order_once)
{
    struct sockit_loop *loop = new_loop();
    int a[2], b[2];
    readable_pair(a);
    readable_pair(b);
    struct dlog g = { .fds = { a[0], b[0] } };
    watch_ok(loop, a[0], SOCKIT_EV_READ, on_round, &g);
    watch_ok(loop, b[0], SOCKIT_EV_READ, on_round, &g);
    run_ok(loop); /* defer_4 unwatches both: then nothing is left */
    g.s[g.n] = '\0';
    /* Round 1: both fds, then 1 2 3 (which queues 4); round 2: both fds; then 4. */
    cr_assert_eq(g.n, 8, "log \"%s\"", g.s);
    cr_expect(strchr("AB", g.s[0]) && strchr("AB", g.s[1]) && g.s[0] != g.s[1],
              "round 1 \"%.2s\" (log \"%s\")", g.s, g.s);
    cr_expect(strncmp(g.s + 2, "123", 3) == 0, "deferred calls ran as \"%.3s\" (log \"%s\")",
              g.s + 2, g.s);
    cr_expect(strchr("AB", g.s[5]) && strchr("AB", g.s[6]) && g.s[5] != g.s[6],
              "a defer queued by a deferred call ran before the next round (log \"%s\")", g.s);
    cr_expect_eq(g.s[7], '4', "log \"%s\"", g.s);
    cr_expect_not(g.d1.queued || g.d2.queued || g.d3.queued || g.d4.queued);
    sockit_loop_free(loop);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

static void count_defer(struct sockit_loop *loop, void *data)
{
    (void)loop;
    (*(int *)data)++;
}

LOOP_TEST(a_deferred_call_alone_keeps_run_going_until_it_ran)
{
    struct sockit_loop *loop = new_loop();
    struct sockit_defer d = { 0 }; /* no init function: a record starts zeroed */
    int calls = 0;
    sockit_loop_defer(loop, &d, count_defer, &calls);
    sockit_loop_defer(loop, &d, count_defer, &calls); /* queued already: a no-op */
    cr_expect_eq(calls, 0, "sockit_loop_defer called the function itself");
    run_ok(loop);
    cr_expect_eq(calls, 1, "a deferred call queued before run ran %d times", calls);
    run_ok(loop);
    cr_expect_eq(calls, 1, "and not again");
    sockit_loop_free(loop);
}

struct requeue {
    struct sockit_defer d;
    int calls, left;
};

static void requeue_self(struct sockit_loop *loop, void *data)
{
    struct requeue *r = data;
    r->calls++;
    if (r->left-- > 0)
        sockit_loop_defer(loop, &r->d, requeue_self, r);
}

LOOP_TEST(a_deferred_call_may_queue_itself_again)
{
    struct sockit_loop *loop = new_loop();
    struct requeue r = { .left = 5 };
    sockit_loop_defer(loop, &r.d, requeue_self, &r);
    run_ok(loop);
    cr_expect_eq(r.calls, 6, "queued once and requeued 5 times: %d calls", r.calls);
    sockit_loop_free(loop);
}

/* ---------------------------------------------------------------- signals */

struct sigx {
    int calls[2];
    int signo[2];
    void *data[2];
    struct sockit_timer guard;
    int want; /* stop the guard once this many signals arrived in all */
};

static void on_signal(struct sockit_loop *loop, int signo, void *data)
{
    struct sigx *x = data;
    int i = signo == SIGUSR1 ? 0 : 1;
    x->calls[i]++;
    x->signo[i] = signo;
    x->data[i] = data;
    if (x->calls[0] + x->calls[1] >= x->want)
        sockit_timer_stop(loop, &x->guard);
}

static void guard_stop(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)t;
    (void)data;
    sockit_loop_stop(loop);
}

/* The guard: a timer that keeps run() going (a signal handler alone does not) and ends it
 * after MS if the signals never come. */
static void start_guard(struct sockit_loop *loop, struct sigx *x, int ms)
{
    sockit_timer_init(&x->guard, guard_stop, NULL);
    cr_assert_eq(sockit_timer_start(loop, &x->guard, (uint64_t)ms * MS, 0), 0);
}

LOOP_TEST(signal_raised_is_delivered_as_an_event)
{
    struct sockit_loop *loop = new_loop();
    struct sigx x = { .want = 1 };
    int rc = sockit_loop_signal(loop, SIGUSR1, on_signal, &x);
    cr_assert_eq(rc, 0, "sockit_loop_signal: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_eq(raise(SIGUSR1), 0); /* blocked now: it waits for the loop to read it */
    start_guard(loop, &x, 2000);
    run_ok(loop);
    cr_expect_eq(x.calls[0], 1, "SIGUSR1 delivered %d times", x.calls[0]);
    cr_expect_eq(x.signo[0], SIGUSR1);
    cr_expect_eq(x.data[0], &x, "the callback gets the data given to sockit_loop_signal");
    cr_expect_not(sockit_timer_active(&x.guard), "timed out waiting for the signal");
    sockit_loop_free(loop);
}

struct kill_later {
    pthread_t target;
    int signo, delay_ms;
};

static void *signal_later(void *arg)
{
    struct kill_later *k = arg;
    h_sleep_ms(k->delay_ms);
    pthread_kill(k->target, k->signo);
    return NULL;
}

LOOP_TEST(signals_wake_a_waiting_loop_each_to_its_own_handler)
{
    struct sockit_loop *loop = new_loop();
    struct sigx x = { .want = 2 };
    cr_assert_eq(sockit_loop_signal(loop, SIGUSR1, on_signal, &x), 0);
    cr_assert_eq(sockit_loop_signal(loop, SIGUSR2, on_signal, &x), 0);
    start_guard(loop, &x, 2000);
    /* Sent to this thread while run() waits (threads made now inherit the blocked mask). */
    struct kill_later k1 = { pthread_self(), SIGUSR1, 20 }, k2 = { pthread_self(), SIGUSR2, 40 };
    pthread_t t1, t2;
    cr_assert_eq(pthread_create(&t1, NULL, signal_later, &k1), 0);
    cr_assert_eq(pthread_create(&t2, NULL, signal_later, &k2), 0);
    long long t0 = h_now_ms();
    run_ok(loop);
    long long wall = h_now_ms() - t0;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    cr_expect_eq(x.calls[0], 1, "SIGUSR1: %d calls", x.calls[0]);
    cr_expect_eq(x.calls[1], 1, "SIGUSR2: %d calls", x.calls[1]);
    cr_expect_eq(x.signo[1], SIGUSR2);
    cr_expect_lt(wall, 1000, "run() took %lld ms", wall);
    sockit_loop_free(loop);
}

LOOP_TEST(signal_handler_removed_with_null_is_not_called)
{
    struct sockit_loop *loop = new_loop();
    struct sigx x = { .want = 1 };
    cr_assert_eq(sockit_loop_signal(loop, SIGUSR1, on_signal, &x), 0);
    cr_assert_eq(sockit_loop_signal(loop, SIGUSR1, NULL, NULL), 0);
    cr_assert_eq(raise(SIGUSR1), 0); /* still blocked (the process must survive it) */
    start_guard(loop, &x, 50);
    run_ok(loop);
    cr_expect_eq(x.calls[0], 0, "a removed handler ran");
    cr_expect_eq(sockit_loop_signal(loop, 0, on_signal, &x), -EINVAL);
    cr_expect_eq(sockit_loop_signal(loop, -1, on_signal, &x), -EINVAL);
    cr_expect_eq(sockit_loop_signal(loop, 65, on_signal, &x), -EINVAL);
    sockit_loop_free(loop);
}

/* ---------------------------------------------------------------- stop from another thread */

struct stopper {
    struct sockit_loop *loop;
    int delay_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    h_sleep_ms(s->delay_ms);
    sockit_loop_stop(s->loop);
    return NULL;
}

LOOP_TEST(stop_from_another_thread_makes_run_return)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv); /* watched, never ready: run() would wait for ever */
    struct ctx x = { 0 };
    watch_ok(loop, sv[0], SOCKIT_EV_READ, on_event, &x);
    struct stopper s = { loop, 50 };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_later, &s), 0);
    long long t0 = h_now_ms();
    uint64_t cpu0 = thread_cpu_ns();
    run_ok(loop);
    long long wall = h_now_ms() - t0;
    uint64_t cpu = thread_cpu_ns() - cpu0;
    pthread_join(t, NULL);
    cr_expect_geq(wall, 40, "run() returned after %lld ms, before the stop", wall);
    cr_expect_lt(wall, 1000, "run() returned only after %lld ms", wall);
    cr_expect_lt(cpu, 20 * MS, "run() used %.1f ms of CPU waiting", (double)cpu / MS);
    cr_expect_eq(x.calls.n, 0);

    /* The stop does not stick: run again waits again (until the next stop). */
    struct stopper s2 = { loop, 30 };
    cr_assert_eq(pthread_create(&t, NULL, stop_later, &s2), 0);
    t0 = h_now_ms();
    run_ok(loop);
    wall = h_now_ms() - t0;
    pthread_join(t, NULL);
    cr_expect_geq(wall, 20, "the second run() returned after %lld ms", wall);
    unwatch_ok(loop, sv[0]);
    sockit_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- backends */

LOOP_TEST(backend_parse_accepts_the_four_names_and_rejects_others)
{
    static const struct {
        const char *name;
        enum sockit_backend b;
    } ok[] = { { "auto", SOCKIT_BACKEND_AUTO },
               { "uring", SOCKIT_BACKEND_URING },
               { "epoll", SOCKIT_BACKEND_EPOLL },
               { "poll", SOCKIT_BACKEND_POLL } };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        enum sockit_backend b = (enum sockit_backend) - 1;
        cr_expect_eq(sockit_backend_parse(ok[i].name, &b), 0, "\"%s\" refused", ok[i].name);
        cr_expect_eq(b, ok[i].b, "\"%s\" parsed as %d", ok[i].name, (int)b);
    }
    static const char *const bad[] = { "",      "io_uring", "select", "epol",    "epoll ",
                                       " poll", "pollx",    "autoo",  "uring\n", "kqueue" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum sockit_backend b = SOCKIT_BACKEND_POLL;
        cr_expect_eq(sockit_backend_parse(bad[i], &b), -EINVAL, "\"%s\" accepted", bad[i]);
    }
}

LOOP_TEST(explicit_backend_is_used_and_reports_its_name)
{
    struct sockit_loop *loop = NULL;
    int rc = sockit_loop_new(&loop, opts_for(backend));
    cr_assert_eq(rc, 0, "sockit_loop_new(%s): %d (%s)", backend_str(backend), rc,
                 sockit_strerror(rc));
    cr_expect_str_eq(sockit_loop_backend_name(loop), backend_str(backend));
    const char *refused = "untouched";
    cr_expect_eq(sockit_loop_fallback(loop, &refused), 0, "an explicit backend fell back");
    cr_expect_eq(sockit_loop_fallback(loop, NULL), 0);
    /* Its name parses back to itself. */
    enum sockit_backend b;
    cr_expect_eq(sockit_backend_parse(sockit_loop_backend_name(loop), &b), 0);
    cr_expect_eq(b, backend);
    sockit_loop_free(loop);
}

/* AUTO takes io_uring when the kernel (and the build) allow it, else falls back to epoll and
 * says why. Written to hold either way: today io_uring may refuse (-ENOSYS from a placeholder,
 * -EPERM when disabled...), tomorrow it may work. */
LOOP_TEST(auto_backend_falls_back_and_reports_the_refusal)
{
    struct sockit_loop *loop = NULL;
    int rc = sockit_loop_new(&loop, opts_for(SOCKIT_BACKEND_AUTO));
    cr_assert_eq(rc, 0, "sockit_loop_new(auto): %d (%s)", rc, sockit_strerror(rc));
    const char *name = sockit_loop_backend_name(loop);
    const char *refused = NULL;
    int fb = sockit_loop_fallback(loop, &refused);
    cr_expect_eq(sockit_loop_fallback(loop, NULL), fb);

    struct sockit_loop *uring = NULL;
    int urc = sockit_loop_new(&uring, opts_for(SOCKIT_BACKEND_URING));
    if (fb != 0) {
        cr_expect_lt(fb, 0, "fallback %d is not a -errno", fb);
        cr_expect_str_eq(refused ? refused : "(null)", "uring", "the refused backend");
        cr_expect_str_eq(name, "epoll", "after uring, AUTO takes epoll");
        cr_expect_eq(urc, fb, "explicit uring gave %d (%s), AUTO's refusal was %d (%s)", urc,
                     sockit_strerror(urc), fb, sockit_strerror(fb));
    } else {
        cr_expect_str_eq(name, "uring", "AUTO did not fall back, so it must have io_uring");
        cr_expect_eq(urc, 0, "AUTO runs io_uring but an explicit uring loop fails: %d (%s)", urc,
                     sockit_strerror(urc));
    }
    if (urc == 0) {
        cr_expect_str_eq(sockit_loop_backend_name(uring), "uring");
        sockit_loop_free(uring);
    }
    cr_log_info("AUTO chose %s (fallback %d%s%s)", name, fb, refused ? " from " : "",
                refused ? refused : "");
    sockit_loop_free(loop);
}
