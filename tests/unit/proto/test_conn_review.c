/* Review tests for the engine adapter (sockit/engine.h) on every backend: how the peer's end
 * of stream (input_end) closes a conn: with the engine's own error, and without losing the
 * output the engine already wrote. */
#include <criterion/criterion.h>

#include <errno.h>
#include <malloc.h>
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
static long bulk_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                       const struct sockit_io *io)
{
    const uint8_t *nl = memchr(data, '\n', len);

    (void)eng;
    (void)now;
    (void)seen;
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
    static const struct sockit_engine_ops ops = { .input = bulk_input, .closed = bulk_closed };
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
    static const struct sockit_engine_ops ops = { .input = bulk_input,
                                                  .input_end = bulk_end,
                                                  .closed = bulk_closed };
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
    static const struct sockit_engine_ops ops = { .input = bulk_input,
                                                  .input_end = bulk_end,
                                                  .closed = bulk_closed };
    struct bulk b = { .end_result = 0, .stays_open = true };

    run_bulk(&b, &ops);
    cr_expect_eq(b.got, (size_t)BIG, "the peer got %zu of the %d bytes written", b.got, BIG);
    cr_expect_not(b.got_wrong);
    cr_expect_eq(b.closed_calls, 1, "closed by sockit_loop_free");
    cr_expect_eq(b.closed_err, -ECANCELED);
}

/* ---------------------------------------------------------------- idle memory */

/* Bytes the allocator has handed out and not had back. */
#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* ASan's, as malloc is */
static size_t heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}
#endif

struct liner {
    struct sockit_loop *loop;
    int peer, answered, closed_calls;
    size_t offered; /* the most bytes input was offered at once */
    struct sockit_timer tick;
    int want_answers, ticks;
};

/* Answers each line with "ok". */
static long liner_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                        const struct sockit_io *io)
{
    struct liner *l = eng;
    const uint8_t *nl = memchr(data, '\n', len);

    (void)now;
    (void)seen;
    l->offered = len > l->offered ? len : l->offered;
    if (!nl)
        return 0;
    cr_assert_eq(io->writev(io->ctx, &(struct iovec){ "ok", 2 }, 1), 0);
    l->answered++;
    return nl - data + 1;
}

static void liner_closed(void *eng, int err)
{
    (void)err;
    ((struct liner *)eng)->closed_calls++;
}

static void liner_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct liner *l = data;

    (void)t;
    if (l->answered >= l->want_answers || ++l->ticks > 2000)
        sockit_loop_stop(loop);
}

/* Run until the engine has answered N lines (2 s at most). */
static void run_until_answered(struct liner *l, int n)
{
    l->want_answers = n;
    l->ticks = 0;
    cr_assert_eq(sockit_timer_start(l->loop, &l->tick, MS, MS), 0);
    run_ok(l->loop);
    sockit_timer_stop(l->loop, &l->tick);
    cr_assert_geq(l->answered, n, "%d lines answered, %d expected", l->answered, n);
}

/* A peer sends a long line in two parts (the first kept, unconsumed, by the conn), then goes
 * idle: the conn must not keep the input buffer it needed for that line. With 10,000 idle
 * keep-alive connections, each that ever sent a long head would hold up to max_input plus one
 * read, for as long as it stays open. */
LOOP_TEST(conn_idle_after_a_long_line_holds_no_input_buffer)
{
    static const struct sockit_engine_ops ops = { .input = liner_input, .closed = liner_closed };
    static char part[60000];
    struct liner l = { .loop = new_loop() };
    struct sockit_conn *c;
    int sv[2];

    pair(sv);
    l.peer = sv[1];
    sockit_timer_init(&l.tick, liner_tick, &l);
    cr_assert_eq(sockit_conn_open(l.loop, sv[0], &ops, &l, NULL, &c), 0);
    cr_assert_eq(write(l.peer, "warm up\n", 8), 8);
    run_until_answered(&l, 1);
    size_t before = heap_in_use();
    memset(part, 'x', sizeof part);
    cr_assert_eq(write(l.peer, part, sizeof part), (ssize_t)sizeof part);
    for (int i = 0; i < 200 && l.offered < sizeof part; i++) {
        cr_assert_eq(sockit_timer_start(l.loop, &l.tick, MS, 0), 0);
        run_ok(l.loop); /* the tick stops the loop after a millisecond */
    }
    cr_assert_geq(l.offered, sizeof part, "the first part never reached the engine");
    cr_assert_eq(write(l.peer, "\n", 1), 1);
    run_until_answered(&l, 2);
    size_t after = heap_in_use();
    cr_expect_lt(after - before, (size_t)16 * 1024,
                 "an idle conn holds %zu KiB more than before the long line",
                 (after - before) / 1024);
    cr_expect_eq(l.closed_calls, 0);
    sockit_loop_free(l.loop);
    close(l.peer);
}
