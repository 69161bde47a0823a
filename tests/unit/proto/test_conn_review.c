/* Review tests for the engine adapter (sockit/engine.h) on every backend: how the peer's end
 * of stream (input_end) closes a conn: with the engine's own error, and without losing the
 * output the engine already wrote. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../loop/backends.h"
#include "sockit/engine.h"

enum { BIG = 256 * 1024 };

struct bulk {
    struct sockit_loop *loop;
    int peer;
    int end_result;  /* what input_end returns */
    bool stays_open; /* stop the loop once the peer has everything */
    size_t got;      /* bytes the peer read */
    bool peer_eof, got_wrong;
    int closed_calls, closed_err;
    struct sockit_timer start_reading, deadline;
};

static unsigned char big[BIG];

/* Answers a line with BIG bytes. */
static long bulk_input(void *eng, const uint8_t *data, size_t len, uint64_t now,
                       const struct sockit_io *io)
{
    const uint8_t *nl = memchr(data, '\n', len);

    (void)eng;
    (void)now;
    if (!nl)
        return 0;
    cr_assert_eq(io->writev(io->ctx, &(struct iovec){ big, BIG }, 1), 0);
    return nl - data + 1;
}

static int bulk_end(void *eng, uint64_t now, const struct sockit_io *io)
{
    (void)now;
    (void)io;
    return ((struct bulk *)eng)->end_result;
}

static void bulk_closed(void *eng, int err)
{
    struct bulk *b = eng;

    b->closed_calls++;
    b->closed_err = err;
}

static void peer_io(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct bulk *b = data;
    unsigned char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);

    (void)events;
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            b->got_wrong |= buf[i] != big[(b->got + (size_t)i) % BIG];
        b->got += (size_t)n;
        if (b->got == BIG && b->stays_open)
            sockit_loop_stop(loop); /* an open conn would keep the loop running */
        return;
    }
    if (n < 0 && errno == EAGAIN)
        return;
    b->peer_eof = n == 0;
    sockit_loop_unwatch(loop, fd);
    sockit_timer_stop(loop, &b->deadline);
}

static void on_start_reading(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct bulk *b = data;

    (void)t;
    cr_assert_eq(sockit_loop_watch(loop, b->peer, SOCKIT_EV_READ, peer_io, b), 0);
}

static void on_deadline(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)t;
    (void)data;
    sockit_loop_stop(loop);
}

/* A conn whose peer sends one line and ends its side at once, and reads nothing for 50 ms:
 * the engine's answer (BIG bytes) is mostly queued when the end of stream arrives. */
static void run_bulk(struct bulk *b, const struct sockit_engine_ops *ops)
{
    const struct sockit_conn_limits lim = { .stream = { 16 * 1024, 64 * 1024, 0 } };
    struct sockit_conn *c;
    int sv[2];

    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    b->loop = new_loop();
    pair(sv);
    b->peer = sv[1];
    cr_assert_eq(sockit_conn_open(b->loop, sv[0], ops, b, &lim, &c), 0);
    cr_assert_eq(write(b->peer, "go\n", 3), 3);
    cr_assert_eq(shutdown(b->peer, SHUT_WR), 0);
    sockit_timer_init(&b->start_reading, on_start_reading, b);
    sockit_timer_init(&b->deadline, on_deadline, b);
    cr_assert_eq(sockit_timer_start(b->loop, &b->start_reading, 50 * MS, 0), 0);
    cr_assert_eq(sockit_timer_start(b->loop, &b->deadline, 3000 * MS, 0), 0);
    run_ok(b->loop);
    sockit_loop_free(b->loop);
    close(b->peer);
}

/* input_end NULL means "close": the answer already written still reaches the peer, then the
 * end of stream, as when the engine calls finish. */
LOOP_TEST(conn_without_input_end_sends_what_was_written_before_closing)
{
    static const struct sockit_engine_ops ops = { bulk_input, NULL, bulk_closed };
    struct bulk b = { 0 };

    run_bulk(&b, &ops);
    cr_expect_eq(b.got, (size_t)BIG, "the peer got %zu of the %d bytes written", b.got, BIG);
    cr_expect_not(b.got_wrong);
    cr_expect(b.peer_eof);
    cr_expect_eq(b.closed_calls, 1);
    cr_expect_eq(b.closed_err, 0, "closed with %d (%s)", b.closed_err,
                 sockit_strerror(b.closed_err));
}

/* input_end returning an error closes the conn with that error, which closed() reports
 * (design.md: "with its own error if it ended the connection"), as for input(). */
LOOP_TEST(conn_input_end_error_reaches_closed)
{
    static const struct sockit_engine_ops ops = { bulk_input, bulk_end, bulk_closed };
    struct bulk b = { .end_result = -EPROTO };

    run_bulk(&b, &ops);
    cr_expect_eq(b.closed_calls, 1);
    cr_expect_eq(b.closed_err, -EPROTO, "closed with %d (%s)", b.closed_err,
                 sockit_strerror(b.closed_err));
}

/* input_end returning 0 keeps the conn open for output: the peer gets all of it, and the
 * conn stays until closed (here by the loop's end). */
LOOP_TEST(conn_input_end_zero_stays_open_for_output)
{
    static const struct sockit_engine_ops ops = { bulk_input, bulk_end, bulk_closed };
    struct bulk b = { .end_result = 0, .stays_open = true };

    run_bulk(&b, &ops);
    cr_expect_eq(b.got, (size_t)BIG, "the peer got %zu of the %d bytes written", b.got, BIG);
    cr_expect_not(b.got_wrong);
    cr_expect_eq(b.closed_calls, 1, "closed by sockit_loop_free");
    cr_expect_eq(b.closed_err, -ECANCELED);
}
