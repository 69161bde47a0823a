/* Review tests for streams (sockit/loop.h) on every backend variant: the output queue after a
 * write has drained (the piece kept in place), memory held by many small pieces against
 * max_output, zero-length iovecs with no base, errors reported by a connect with a trace hook,
 * and a unix connect that meets a full backlog. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* ASan's, as malloc is */
#endif

#include "backends.h"
#include "sockit/endpoint.h"
#include "sockit/loop.h"
#include "sockit/shared.h"
#include "sockit/trace.h"

/* ---------------------------------------------------------------- a stream and its peer */

struct rv {
    struct sockit_loop *loop;
    struct sockit_stream *s; /* NULL once on_close ran */
    int peer;
    int close_calls, close_err, connect_calls;
};

static void rv_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    (void)s;
    (void)data;
    (void)len;
    (void)ud;
}

static void rv_close(struct sockit_stream *s, int err, void *ud)
{
    struct rv *r = ud;

    (void)s;
    r->close_calls++;
    r->close_err = err;
    r->s = NULL;
}

static void rv_connect(struct sockit_stream *s, void *ud)
{
    (void)s;
    ((struct rv *)ud)->connect_calls++;
}

static const struct sockit_stream_ops rv_ops = { .on_data = rv_data,
                                                 .on_close = rv_close,
                                                 .on_connect = rv_connect };

/* A stream on one end of a unix socketpair (BUFS > 0: that SO_SNDBUF/SO_RCVBUF on both). */
static void rv_open(struct rv *r, int bufs, const struct sockit_stream_limits *limits)
{
    int sv[2];

    *r = (struct rv){ .loop = new_loop() };
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    for (int i = 0; i < 2 && bufs > 0; i++) {
        cr_assert_eq(setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufs, sizeof bufs), 0);
        cr_assert_eq(setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufs, sizeof bufs), 0);
    }
    cr_assert_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    r->peer = sv[1];
    int rc = sockit_stream_open(r->loop, sv[0], &rv_ops, r, limits, &r->s);
    cr_assert_eq(rc, 0, "sockit_stream_open: %d (%s)", rc, sockit_strerror(rc));
}

static void rv_free(struct rv *r)
{
    sockit_loop_free(r->loop);
    if (r->peer >= 0)
        close(r->peer);
}

/* Run the loop until DONE(R) holds, checked every millisecond, or MS pass; returns DONE(R). */
struct until {
    bool (*done)(struct rv *r);
    struct rv *r;
    uint64_t deadline;
};

static void until_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct until *u = data;

    (void)t;
    if (u->done(u->r) || sockit_loop_now(loop) > u->deadline)
        sockit_loop_stop(loop);
}

static bool run_until(struct rv *r, bool (*done)(struct rv *r), int ms)
{
    struct until u = { done, r, sockit_loop_now(r->loop) + (uint64_t)ms * MS };
    struct sockit_timer t;

    sockit_timer_init(&t, until_tick, &u);
    cr_assert_eq(sockit_timer_start(r->loop, &t, MS, MS), 0);
    run_ok(r->loop);
    sockit_timer_stop(r->loop, &t);
    return done(r);
}

static bool drained(struct rv *r)
{
    return !r->s || sockit_stream_pending(r->s) == 0;
}

/* Read exactly LEN bytes at the peer, outside the loop (1 s at most); returns the count. */
static size_t peer_read(struct rv *r, unsigned char *buf, size_t len)
{
    size_t got = 0;

    for (int i = 0; got < len && i < 1000; i++) {
        ssize_t n = recv(r->peer, buf + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        poll(&(struct pollfd){ .fd = r->peer, .events = POLLIN }, 1, 1);
    }
    return got;
}

/* A shared file of LEN bytes of a pattern (written to *DATA too). */
static struct sockit_shared *pattern_file(unsigned char *data, size_t len)
{
    char path[] = "/tmp/sockit-test-review-XXXXXX";
    int fd = mkstemp(path);
    struct sockit_shared *sh = NULL;

    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    cr_assert_eq(sockit_shared_file(fd, &sh), 0);
    return sh;
}

/* ---------------------------------------------------------------- a file after a drained write */

/* A write is sent and drained (io_uring keeps its emptied piece in place for the next write);
 * a file range queued afterwards must still go out, and the loop must go idle. */
LOOP_TEST(send_file_after_a_drained_write_is_sent)
{
    enum { FLEN = 10000 };
    static unsigned char file[FLEN], got[4 + FLEN];
    struct rv r;

    rv_open(&r, 0, NULL);
    cr_assert_eq(sockit_stream_write(r.s, "head", 4), 0);
    cr_assert(run_until(&r, drained, 1000), "the write was never sent");
    struct sockit_shared *sh = pattern_file(file, FLEN);
    cr_assert_eq(sockit_stream_send_file(r.s, sh, 0, FLEN), 0);
    sockit_shared_unref(sh);
    bool ok = run_until(&r, drained, 1000);
    cr_assert(ok, "the file range never left: %zu bytes pending after 1 s",
              sockit_stream_pending(r.s));
    cr_assert_eq(peer_read(&r, got, sizeof got), sizeof got);
    cr_expect_eq(memcmp(got, "head", 4), 0);
    cr_expect_eq(memcmp(got + 4, file, FLEN), 0, "the file's bytes");
    rv_free(&r);
}

/* The same with the file range behind a shared buffer and another write. */
LOOP_TEST(send_file_behind_a_shared_buffer_after_a_drained_write_is_sent)
{
    enum { FLEN = 3000 };
    static unsigned char file[FLEN], got[1 + 5 + FLEN + 1];
    struct rv r;
    struct sockit_shared *buf = NULL;

    rv_open(&r, 0, NULL);
    cr_assert_eq(sockit_stream_write(r.s, "a", 1), 0);
    cr_assert(run_until(&r, drained, 1000));
    cr_assert_eq(sockit_shared_copy("bcdef", 5, &buf), 0);
    struct sockit_shared *sh = pattern_file(file, FLEN);
    cr_assert_eq(sockit_stream_write_shared(r.s, buf, 0, 5), 0);
    cr_assert_eq(sockit_stream_send_file(r.s, sh, 0, FLEN), 0);
    cr_assert_eq(sockit_stream_write(r.s, "z", 1), 0);
    sockit_shared_unref(sh);
    sockit_shared_unref(buf);
    cr_assert(run_until(&r, drained, 1000), "%zu bytes pending after 1 s",
              sockit_stream_pending(r.s));
    cr_assert_eq(peer_read(&r, got, sizeof got), sizeof got);
    cr_expect_eq(memcmp(got, "abcdef", 6), 0);
    cr_expect_eq(memcmp(got + 6, file, FLEN), 0);
    cr_expect_eq(got[6 + FLEN], 'z');
    rv_free(&r);
}

/* ---------------------------------------------------------------- memory against max_output */

/* Bytes the allocator has handed out and not had back. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* A server sends a slow client many small messages, each a copied header and a shared body
 * (a WebSocket frame, a chat line): max_output bounds the bytes queued, and what the queue
 * costs in memory must stay in proportion to it, not grow to many times the limit. */
LOOP_TEST(many_small_pieces_cost_memory_in_proportion_to_max_output)
{
    enum { MAX_OUT = 64 * 1024 };
    const struct sockit_stream_limits lim = { 16 * 1024, 32 * 1024, MAX_OUT };
    struct sockit_shared *body = NULL;
    struct rv r;

    rv_open(&r, 4096, &lim);
    cr_assert_eq(sockit_shared_copy("twenty bytes of chat", 20, &body), 0);
    size_t before = heap_in_use();
    int rc = 0, n = 0;
    while (n < 1000000) {
        if ((rc = sockit_stream_write(r.s, "hd", 2)) < 0 ||
            (rc = sockit_stream_write_shared(r.s, body, 0, 20)) < 0)
            break;
        n++;
    }
    size_t used = heap_in_use() - before;
    cr_assert_eq(rc, -ENOBUFS, "after %d messages: %d (%s)", n, rc, sockit_strerror(rc));
    cr_expect_leq(used, (size_t)4 * MAX_OUT,
                  "%d messages of 22 B queued (%zu B pending) took %zu KiB of heap; "
                  "max_output is %d KiB",
                  n, sockit_stream_pending(r.s), used / 1024, MAX_OUT / 1024);
    cr_expect_eq(r.close_calls, 0);
    sockit_shared_unref(body);
    rv_free(&r);
}

/* ---------------------------------------------------------------- zero-length iovecs */

/* An empty iovec may have no base (POSIX allows it): when the socket is full and the bytes are
 * copied, it is skipped, not read. (UBSan's nonnull check catches a memcpy from NULL.) */
LOOP_TEST(writev_with_an_empty_iovec_without_a_base_into_a_full_socket)
{
    enum { FILL = 1 << 16 };
    static unsigned char fill[FILL], got[FILL + 4];
    struct rv r;
    size_t want = FILL + 4, have = 0;

    rv_open(&r, 4096, NULL);
    cr_assert_eq(sockit_stream_write(r.s, fill, FILL), 0);
    cr_assert_gt(sockit_stream_pending(r.s), 0, "the socket took 64 KiB at once");
    struct iovec iov[3] = { { "ab", 2 }, { NULL, 0 }, { "cd", 2 } };
    cr_assert_eq(sockit_stream_writev(r.s, iov, 3), 0);
    for (int i = 0; have < want && i < 2000; i++) {
        ssize_t n = recv(r.peer, got + have, want - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        run_until(&r, drained, 1);
    }
    cr_assert_eq(have, want);
    cr_expect_eq(memcmp(got + FILL, "abcd", 4), 0);
    cr_expect_eq(r.close_calls, 0);
    rv_free(&r);
}

/* ---------------------------------------------------------------- connects */

static bool closed(struct rv *r)
{
    return r->close_calls > 0;
}

static void drop_line(void *ctx, const char *text)
{
    (void)ctx;
    (void)text;
}

/* The error with which a connect to TO ends (0: it connected), on a loop traced or not. */
static int connect_result(const struct sockit_addr *to, bool traced)
{
    struct sockit_trace hook = { drop_line, NULL };
    struct sockit_loop_options o = test_options;
    struct rv r = { .peer = -1 };

    o.trace = traced ? &hook : NULL;
    cr_assert_eq(sockit_loop_new(&r.loop, &o), 0);
    int rc = sockit_stream_connect(r.loop, to, 1000, &rv_ops, &r, NULL, &r.s);
    cr_assert_eq(rc, 0, "sockit_stream_connect: %d (%s)", rc, sockit_strerror(rc));
    run_until(&r, closed, 2000);
    int err = r.connect_calls ? 0 : r.close_err;
    cr_assert(r.connect_calls || r.close_calls, "the connect neither succeeded nor failed");
    rv_free(&r);
    return err;
}

/* A connect that fails at once is reported with its own errno whether the loop traces or not:
 * formatting the trace line (an IPv6 scope is looked up by name) must not clobber errno. */
LOOP_TEST(connect_failing_at_once_reports_the_same_error_when_traced)
{
    struct sockit_addr to = { .len = sizeof(struct sockaddr_in6) };
    int probe = socket(AF_INET6, SOCK_STREAM, 0);

    if (probe < 0)
        cr_skip_test("no IPv6 here");
    close(probe);
    to.u.in6 = (struct sockaddr_in6){ .sin6_family = AF_INET6,
                                      .sin6_port = htons(9),
                                      .sin6_scope_id = 99999 }; /* no such interface */
    cr_assert_eq(inet_pton(AF_INET6, "fe80::1", &to.u.in6.sin6_addr), 1);
    int plain = connect_result(&to, false);
    int traced = connect_result(&to, true);
    cr_assert_lt(plain, 0, "the connect to fe80::1%%99999 did not fail");
    cr_expect_eq(traced, plain, "traced: %d (%s), untraced: %d (%s)", traced,
                 sockit_strerror(traced), plain, sockit_strerror(plain));
}

/* A unix listener whose backlog is full: design.md says the connect fails at once (EAGAIN),
 * reported from a deferred call, on every backend. */
LOOP_TEST(connect_to_a_unix_listener_with_a_full_backlog_fails_at_once)
{
    struct sockit_addr a = { .len = sizeof(struct sockaddr_un) };
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fillers[64], nfill = 0;

    a.u.un.sun_family = AF_UNIX;
    snprintf(a.u.un.sun_path, sizeof a.u.un.sun_path, "/tmp/sockit-review-backlog-%d",
             (int)getpid());
    unlink(a.u.un.sun_path);
    cr_assert_eq(bind(l, &a.u.sa, a.len), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(l, 0), 0);
    for (; nfill < 64; nfill++) {
        fillers[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(fillers[nfill], &a.u.sa, a.len) < 0) {
            cr_assert_eq(errno, EAGAIN, "filler connect: %s", strerror(errno));
            close(fillers[nfill]);
            break;
        }
    }
    struct rv r = { .peer = -1, .loop = new_loop() };
    cr_assert_eq(sockit_stream_connect(r.loop, &a, 500, &rv_ops, &r, NULL, &r.s), 0);
    cr_expect_eq(r.close_calls, 0, "on_close ran inside sockit_stream_connect");
    uint64_t t0 = mono_ns();
    run_until(&r, closed, 2000);
    uint64_t took = (mono_ns() - t0) / MS;
    cr_expect_eq(r.connect_calls, 0);
    cr_expect_eq(r.close_err, -EAGAIN, "on_close err %d (%s) after %llu ms", r.close_err,
                 sockit_strerror(r.close_err), (unsigned long long)took);
    cr_expect_lt(took, 200, "the failure took %llu ms", (unsigned long long)took);
    rv_free(&r);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(l);
    unlink(a.u.un.sun_path);
}
