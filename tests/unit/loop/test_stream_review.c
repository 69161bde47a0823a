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
#include <sanitizer/allocator_interface.h>
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
