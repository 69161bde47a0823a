/* Unit tests for streams (sockit/loop.h, "streams"): data in both directions and in order,
 * half-close both ways, close, close after flush, errors, backpressure with the watermarks, and
 * pending() accounting. Each test runs over a socketpair (name_unix) and over loopback TCP
 * (name_tcp), on every backend (backends.h). The peer is the test's own non-blocking socket,
 * driven from the same loop by a watcher, so every run is single-threaded and deterministic;
 * a deadline timer turns a hang into a failure (struct sx and its peer: stream_peer.h). */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "backends.h"
#include "sockit/loop.h"
#include "stream_peer.h"

/* ---------------------------------------------------------------- data in, data out */

STREAM_TEST(stream_on_data_receives_what_the_peer_wrote)
{
    enum { N = 1 << 20 };
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    unsigned char *want = pattern(N, 1);
    x.on_eof = close_stream;
    peer_send(&x, want, N, true);
    sx_run(&x, "1 MiB from the peer, then its end of stream");
    expect_bytes(&x.in, want, N, "on_data");
    cr_expect_eq(x.eof_calls, 1, "on_data(len 0) %d times", x.eof_calls);
    cr_expect_not(x.data_after_eof, "on_data called after the end of stream");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    free(want);
    sx_close(&x);
}

/* Write sizes that cycle through small, odd and large, to mix direct and buffered sends. */
static const size_t write_sizes[] = { 1, 7, 100, 4096, 65539, 200000, 3, 30000 };

struct writer {
    const unsigned char *data;
    size_t len, off;
    int k;
    size_t refill_below; /* write more when pending falls below this */
};

static void write_some(struct sx *x, struct writer *w, size_t budget)
{
    size_t done = 0;
    while (x->s && w->off < w->len && done < budget) {
        size_t n = write_sizes[w->k++ % (sizeof write_sizes / sizeof write_sizes[0])];
        if (n > w->len - w->off)
            n = w->len - w->off;
        size_t before = sockit_stream_pending(x->s);
        int rc = sockit_stream_write(x->s, w->data + w->off, n);
        cr_assert_eq(rc, 0, "write %zu at %zu: %d (%s)", n, w->off, rc, sockit_strerror(rc));
        if (before > 0)
            cr_assert_eq(sockit_stream_pending(x->s), before + n,
                         "pending %zu after writing %zu behind %zu pending",
                         sockit_stream_pending(x->s), n, before);
        else
            cr_assert_leq(sockit_stream_pending(x->s), n);
        w->off += n;
        done += n;
    }
    if (x->s && w->off == w->len)
        sockit_stream_shutdown(x->s);
}

static void refill(struct sx *x)
{
    struct writer *w = x->test;
    if (x->s && sockit_stream_pending(x->s) < w->refill_below)
        write_some(x, w, 100000);
}

static void check_flushed_then_close(struct sx *x)
{
    cr_assert_not_null(x->s, "the stream closed before its peer read the end of stream");
    cr_expect_eq(sockit_stream_pending(x->s), 0, "the peer read EOF with %zu bytes pending",
                 sockit_stream_pending(x->s));
    sockit_stream_close(x->s);
}

STREAM_TEST(stream_writes_reach_the_peer_in_order)
{
    enum { N = 1 << 20 };
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    unsigned char *want = pattern(N, 2);
    struct writer w = { .data = want, .len = N, .refill_below = 64 * 1024 };
    x.test = &w;
    x.after_peer_read = refill;
    x.on_peer_eof = check_flushed_then_close;
    write_some(&x, &w, N / 2); /* half before run(), the rest as the peer reads */
    peer_read(&x);
    sx_run(&x, "1 MiB at the peer, then EOF");
    cr_expect_eq(w.off, (size_t)N, "the test wrote only %zu bytes", w.off);
    expect_bytes(&x.pin, want, N, "peer");
    cr_expect(x.peer_eof);
    cr_expect_eq(x.data_calls, 0, "the peer sent nothing but on_data got %zu bytes", x.in.n);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    free(want);
    sx_close(&x);
}

/* ---------------------------------------------------------------- half-close and close */

struct half {
    unsigned char *reply;
    size_t len;
};

static void reply_then_shutdown(struct sx *x)
{
    struct half *h = x->test;
    cr_assert_eq(x->in.n, 4, "EOF came after %zu bytes, not after \"ping\"", x->in.n);
    int rc = sockit_stream_write(x->s, h->reply, h->len);
    cr_assert_eq(rc, 0, "write after the peer's EOF: %d (%s)", rc, sockit_strerror(rc));
    sockit_stream_shutdown(x->s);
}

STREAM_TEST(stream_half_closed_by_the_peer_still_writes)
{
    enum { N = 300 * 1024 };
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    struct half h = { .reply = pattern(N, 3), .len = N };
    x.test = &h;
    x.on_eof = reply_then_shutdown;
    x.on_peer_eof = close_stream;
    peer_send(&x, "ping", 4, true); /* then shutdown(SHUT_WR) */
    peer_read(&x);
    sx_run(&x, "ping, EOF, then the reply at the peer");
    cr_expect_eq(x.in.n, 4);
    cr_expect(x.in.n == 4 && memcmp(x.in.p, "ping", 4) == 0);
    cr_expect_eq(x.eof_calls, 1, "on_data(len 0) %d times", x.eof_calls);
    cr_expect_not(x.data_after_eof);
    expect_bytes(&x.pin, h.reply, N, "reply written after the peer's EOF");
    cr_expect(x.peer_eof, "the stream's shutdown did not reach the peer");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0);
    free(h.reply);
    sx_close(&x);
}

static void peer_saw_eof_then_writes(struct sx *x)
{
    size_t *n = x->test;
    cr_assert_eq(x->pin.n, *n, "the peer read EOF after %zu of %zu bytes", x->pin.n, *n);
    cr_assert_eq(send(x->fd[1], "late", 4, MSG_NOSIGNAL), 4);
    cr_assert_eq(shutdown(x->fd[1], SHUT_WR), 0);
}

STREAM_TEST(stream_shutdown_sends_eof_after_the_pending_output)
{
    enum { N = 512 * 1024 };
    struct sx x;
    sx_open(&x, tr, 32 * 1024, NULL);
    unsigned char *want = pattern(N, 4);
    size_t n = N;
    x.test = &n;
    cr_assert_eq(sockit_stream_write(x.s, want, N), 0);
    size_t pending = sockit_stream_pending(x.s);
    cr_assert_gt(pending, 0, "small socket buffers took all %d bytes", N);
    sockit_stream_shutdown(x.s);
    cr_expect_eq(sockit_stream_write(x.s, "x", 1), -EPIPE, "write after shutdown");
    cr_expect_eq(sockit_stream_pending(x.s), pending, "a refused write changed pending");
    x.on_peer_eof = peer_saw_eof_then_writes;
    x.on_eof = close_stream; /* the stream still reads: "late", then the peer's EOF */
    peer_read(&x);
    sx_run(&x, "the pending output, EOF at the peer, then \"late\" back");
    expect_bytes(&x.pin, want, N, "peer");
    cr_expect(x.peer_eof);
    cr_expect(x.in.n == 4 && memcmp(x.in.p, "late", 4) == 0,
              "after its own shutdown the stream read %zu bytes, not \"late\"", x.in.n);
    cr_expect_eq(x.eof_calls, 1);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0);
    free(want);
    sx_close(&x);
}

STREAM_TEST(stream_close_after_flush_delivers_everything)
{
    enum { N = 1 << 20 };
    struct sx x;
    sx_open(&x, tr, 32 * 1024, NULL);
    unsigned char *want = pattern(N, 5);
    cr_assert_eq(sockit_stream_write(x.s, want, N / 2), 0);
    cr_assert_eq(sockit_stream_write(x.s, want + N / 2, N - N / 2), 0);
    cr_assert_gt(sockit_stream_pending(x.s), 0);
    sockit_stream_close_after_flush(x.s);
    cr_expect_eq(sockit_stream_write(x.s, "x", 1), -EPIPE, "write after close_after_flush");
    cr_expect_eq(x.close_calls, 0, "on_close before the output was sent");
    peer_read(&x);
    sx_run(&x, "1 MiB at the peer, then EOF");
    expect_bytes(&x.pin, want, N, "peer");
    cr_expect(x.peer_eof);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    free(want);
    sx_close(&x);
}

/* Wait up to 1 s for FD (non-blocking) to read end of stream; returns the bytes read before
 * it, or -errno (-ETIMEDOUT if it never came). */
static ssize_t read_to_eof(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    long long deadline = h_now_ms() + 1000;
    for (;;) {
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n == 0)
            return (ssize_t)got;
        if (n > 0) {
            got += (size_t)n;
            if (got == cap)
                return -ENOBUFS;
            continue;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        long long left = deadline - h_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            return -ETIMEDOUT;
    }
}

STREAM_TEST(stream_close_calls_on_close_once_with_zero)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    struct sockit_stream *s = x.s;
    sockit_stream_close(s);
    sockit_stream_close(s); /* idempotent */
    cr_expect_eq(x.close_calls, 0, "on_close ran inside sockit_stream_close, not deferred");
    cr_expect_eq(sockit_stream_write(s, "x", 1), -EPIPE, "write to a closing stream");
    sockit_stream_close_after_flush(s); /* no effect on a closing stream */
    sockit_timer_stop(x.loop, &x.deadline);
    run_ok(x.loop); /* the deferred on_close runs, then nothing is left */
    cr_expect_eq(x.close_calls, 1, "on_close ran %d times", x.close_calls);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    char buf[16];
    ssize_t r = read_to_eof(x.fd[1], buf, sizeof buf);
    cr_expect_eq(r, 0, "the peer of a closed stream read %zd (%s)", r,
                 r < 0 ? strerror((int)-r) : "bytes");
    sx_close(&x);
}

STREAM_TEST(stream_close_after_flush_of_a_short_write)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    cr_assert_eq(sockit_stream_write(x.s, "bye", 3), 0);
    sockit_stream_close_after_flush(x.s);
    peer_read(&x);
    sx_run(&x, "bye, then EOF");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0);
    cr_expect(x.pin.n == 3 && memcmp(x.pin.p, "bye", 3) == 0, "peer got %zu bytes", x.pin.n);
    cr_expect(x.peer_eof);
    sx_close(&x);
}

static void close_on_first_data(struct sx *x)
{
    cr_assert_eq(x->data_calls, 1, "on_data after the stream was closed in on_data");
    sockit_stream_close(x->s);
}

STREAM_TEST(stream_closed_from_on_data_gets_no_more_data)
{
    enum { N = 256 * 1024 };
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    unsigned char *data = pattern(N, 6);
    x.after_data = close_on_first_data;
    peer_send(&x, data, N, true);
    sx_run(&x, "the stream's close");
    cr_expect_eq(x.data_calls, 1);
    cr_expect_eq(x.eof_calls, 0);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0);
    free(data);
    sx_close(&x);
}

STREAM_TEST(stream_reset_by_the_peer_closes_with_a_negative_errno)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    if (tr == TCP_LOOPBACK) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        cr_assert_eq(setsockopt(x.fd[1], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    } else {
        /* AF_UNIX has no RST: closing with unread data in the receive queue resets the peer
         * (ECONNRESET). */
        cr_assert_eq(sockit_stream_write(x.s, "unread", 6), 0);
        run_briefly(&x, 10); /* the stream sends, if the write did not */
        cr_assert_eq(inq(x.fd[1]), 6, "the unread bytes did not reach the peer");
    }
    close(x.fd[1]);
    x.fd[1] = -1;
    sx_run(&x, "on_close after the reset");
    cr_expect_eq(x.close_calls, 1, "on_close ran %d times", x.close_calls);
    cr_expect_lt(x.close_err, 0, "a reset gave on_close err %d", x.close_err);
    cr_expect_eq(x.close_err, -ECONNRESET, "on_close err %d (%s)", x.close_err,
                 sockit_strerror(x.close_err));
    cr_expect_eq(x.eof_calls, 0, "a reset is an error, not an end of stream");
    sx_close(&x);
}

/* ---------------------------------------------------------------- backpressure, pending */

/* Phase 1: the peer sends 1 KiB every 2 ms and never reads. Once 4 KiB have arrived, the
 * stream writes 1 MiB from on_data: far above the high watermark, so reading pauses. For
 * 80 ms on_data must not run although the peer keeps sending. Phase 2: the peer stops sending,
 * shuts down, and reads everything: on_drain fires once, at or below the low watermark,
 * before any more on_data; then the stream reads all the peer sent, and closes after the
 * flush. */
struct bp {
    unsigned char *down; /* 1 MiB from the stream to the peer */
    unsigned char *up;   /* what the peer sends */
    size_t up_len, up_sent, up_sent_at_pause, up_sent_at_check;
    bool paused;
    int data_calls_at_pause, data_calls_at_check;
    size_t pending_at_pause, pending_at_check, peer_inq_at_check, outq_at_check;
    bool checked, full_at_check, full_at_drain;
    bool shut_at_drain; /* the peer ends its side at on_drain, not at phase 2 */
    struct sockit_timer sender, phase;
};

enum { BP_DOWN = 1 << 20, BP_UP = 256 * 1024 };
static const struct sockit_stream_limits bp_limits = { .low_water = 16 * 1024,
                                                       .high_water = 64 * 1024 };

static void bp_send_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    struct bp *b = x->test;
    (void)loop;
    (void)t;
    size_t n = b->up_len - b->up_sent < 1024 ? b->up_len - b->up_sent : 1024;
    ssize_t r = send(x->fd[1], b->up + b->up_sent, n, MSG_NOSIGNAL);
    if (r > 0)
        b->up_sent += (size_t)r;
}

static void bp_after_data(struct sx *x)
{
    struct bp *b = x->test;
    if (b->paused || x->in.n < 4096)
        return;
    size_t p1 = 0;
    for (int i = 0; i < 4; i++) {
        size_t before = sockit_stream_pending(x->s);
        cr_assert_eq(sockit_stream_write(x->s, b->down + i * (BP_DOWN / 4), BP_DOWN / 4), 0);
        if (i == 0) {
            p1 = sockit_stream_pending(x->s);
            cr_assert_gt(p1, 0, "the kernel took all of %d bytes", BP_DOWN / 4);
        } else {
            cr_assert_eq(sockit_stream_pending(x->s), before + BP_DOWN / 4,
                         "pending %zu after writing %d behind %zu", sockit_stream_pending(x->s),
                         BP_DOWN / 4, before);
        }
    }
    cr_assert_gt(sockit_stream_pending(x->s), bp_limits.high_water);
    b->paused = true;
    b->data_calls_at_pause = x->data_calls;
    b->pending_at_pause = sockit_stream_pending(x->s);
    b->up_sent_at_pause = b->up_sent;
    cr_assert_eq(sockit_timer_start(x->loop, &b->phase, 80 * MS, 0), 0);
}

static void bp_phase2(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    struct bp *b = x->test;
    (void)t;
    b->checked = true;
    b->data_calls_at_check = x->data_calls;
    b->up_sent_at_check = b->up_sent;
    b->pending_at_check = sockit_stream_pending(x->s);
    b->full_at_check = sockit_stream_full(x->s);
    b->peer_inq_at_check = inq(x->fd[1]);
    b->outq_at_check = x->tr == TCP_LOOPBACK ? outq(x->fd[0]) : 0;
    sockit_timer_stop(loop, &b->sender);
    if (!b->shut_at_drain)
        cr_assert_eq(shutdown(x->fd[1], SHUT_WR), 0);
    peer_read(x);
}

static void bp_drained(struct sx *x)
{
    struct bp *b = x->test;

    b->full_at_drain = sockit_stream_full(x->s);
    if (b->shut_at_drain) /* a stream that closes after its flush has no on_drain */
        cr_assert_eq(shutdown(x->fd[1], SHUT_WR), 0);
}

/* Both phases, with the stream's own backpressure on or off. */
static void bp_run(struct sx *x, struct bp *b, enum transport tr, bool backpressure)
{
    sx_open(x, tr, 32 * 1024, &bp_limits);
    *b = (struct bp){ .down = pattern(BP_DOWN, 7), .up = pattern(BP_UP, 8), .up_len = BP_UP };
    b->shut_at_drain = !backpressure;
    sockit_stream_set_backpressure(x->s, backpressure);
    x->test = b;
    x->after_data = bp_after_data;
    x->on_eof = close_stream_after_flush;
    x->on_drain_hook = bp_drained;
    sockit_timer_init(&b->sender, bp_send_tick, x);
    sockit_timer_init(&b->phase, bp_phase2, x);
    cr_assert_eq(sockit_timer_start(x->loop, &b->sender, 0, 2 * MS), 0);
    sx_run(x, "pause, drain, resume and the close after flush");
    cr_assert(b->paused, "the stream never received 4 KiB to answer");
    cr_assert(b->checked, "phase 2 never started");
    cr_expect_gt(b->up_sent_at_check, b->up_sent_at_pause,
                 "the peer did not keep sending while the output was full");
    cr_expect(b->full_at_check, "sockit_stream_full must be true above the high watermark");
    cr_expect(!b->full_at_drain, "sockit_stream_full must be false again at on_drain");
}

STREAM_TEST(stream_backpressure_pauses_reading_until_the_output_drains)
{
    struct sx x;
    struct bp b;

    bp_run(&x, &b, tr, true);
    cr_expect_eq(b.data_calls_at_check, b.data_calls_at_pause,
                 "on_data ran %d times while the output was above the high watermark (%zu "
                 "pending)",
                 b.data_calls_at_check - b.data_calls_at_pause, b.pending_at_check);
    cr_expect_gt(b.pending_at_check, bp_limits.high_water,
                 "pending %zu: the peer never read, yet output drained", b.pending_at_check);
    /* Accounting: every byte written is pending, in the kernel, or read (nothing yet). */
    if (tr == UNIX_PAIR) {
        cr_expect_eq(b.pending_at_check + b.peer_inq_at_check, (size_t)BP_DOWN,
                     "pending %zu + in the peer's queue %zu != %d written", b.pending_at_check,
                     b.peer_inq_at_check, BP_DOWN);
    } else {
        cr_expect_leq(b.pending_at_check + b.peer_inq_at_check, (size_t)BP_DOWN,
                      "pending %zu + peer inq %zu > %d written", b.pending_at_check,
                      b.peer_inq_at_check, BP_DOWN);
        cr_expect_geq(b.pending_at_check + b.peer_inq_at_check + b.outq_at_check, (size_t)BP_DOWN,
                      "pending %zu + peer inq %zu + outq %zu < %d written", b.pending_at_check,
                      b.peer_inq_at_check, b.outq_at_check, BP_DOWN);
    }
    cr_expect_eq(x.drain_calls, 1, "on_drain ran %d times", x.drain_calls);
    cr_expect_leq(x.pending_at_drain, bp_limits.low_water, "on_drain with %zu pending",
                  x.pending_at_drain);
    cr_expect_eq(x.data_calls_at_drain, b.data_calls_at_pause,
                 "reading resumed before on_drain (%d data calls at drain, %d at pause)",
                 x.data_calls_at_drain, b.data_calls_at_pause);
    expect_bytes(&x.in, b.up, b.up_sent, "on_data (everything the peer sent)");
    cr_expect_eq(x.eof_calls, 1);
    expect_bytes(&x.pin, b.down, BP_DOWN, "peer");
    cr_expect(x.peer_eof);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    free(b.down);
    free(b.up);
    sx_close(&x);
}

/* With its own backpressure off (a relay holds the other side back instead), a full stream
 * keeps reading, while sockit_stream_full and on_drain still tell when it is full and when it
 * has drained. */
STREAM_TEST(stream_without_backpressure_keeps_reading_while_full)
{
    struct sx x;
    struct bp b;

    bp_run(&x, &b, tr, false);
    cr_expect_gt(b.data_calls_at_check, b.data_calls_at_pause,
                 "on_data stopped while full, with backpressure off");
    cr_expect_eq(x.drain_calls, 1, "on_drain ran %d times", x.drain_calls);
    cr_expect_leq(x.pending_at_drain, bp_limits.low_water, "on_drain with %zu pending",
                  x.pending_at_drain);
    expect_bytes(&x.in, b.up, b.up_sent, "on_data (everything the peer sent)");
    expect_bytes(&x.pin, b.down, BP_DOWN, "peer");
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    free(b.down);
    free(b.up);
    sx_close(&x);
}

STREAM_TEST(stream_pending_counts_what_the_kernel_has_not_taken)
{
    struct sx x;
    sx_open(&x, tr, 32 * 1024, NULL);
    enum { A = 100 * 1024, B = 7, C = 50 * 1024 };
    unsigned char *want = pattern(A + B + C, 9);
    cr_assert_eq(sockit_stream_write(x.s, want, A), 0);
    size_t p1 = sockit_stream_pending(x.s);
    cr_assert_gt(p1, 0, "small socket buffers took %d bytes at once", A);
    cr_assert_leq(p1, A);
    cr_assert_eq(sockit_stream_write(x.s, want + A, B), 0);
    cr_expect_eq(sockit_stream_pending(x.s), p1 + B, "behind pending output, a write adds to it");
    cr_assert_eq(sockit_stream_write(x.s, want + A + B, C), 0);
    cr_expect_eq(sockit_stream_pending(x.s), p1 + B + C);
    cr_expect_eq(sockit_stream_write(x.s, "", 0), 0, "an empty write");
    cr_expect_eq(sockit_stream_pending(x.s), p1 + B + C);
    /* Rounds with the peer not reading: the stream sends what the kernel takes, no more. */
    run_briefly(&x, 20);
    size_t p2 = sockit_stream_pending(x.s);
    size_t kernel = inq(x.fd[1]);
    if (tr == UNIX_PAIR)
        cr_expect_eq(p2 + kernel, (size_t)(A + B + C),
                     "pending %zu + in the peer's queue %zu != %d written", p2, kernel, A + B + C);
    else
        cr_expect_leq(p2 + kernel, (size_t)(A + B + C));
    cr_expect_leq(p2, p1 + B + C);
    /* The peer reads everything: pending reaches 0, and the peer has it all. */
    sockit_stream_close_after_flush(x.s);
    peer_read(&x);
    sx_run(&x, "the flush to the peer");
    expect_bytes(&x.pin, want, A + B + C, "peer");
    cr_expect_eq(x.close_calls, 1);
    free(want);
    sx_close(&x);
}

/* ---------------------------------------------------------------- loop teardown, errors */

/* "Streams still open are closed and their on_close runs (err -ECANCELED)"; a close already
 * under way completes with its own err. */
STREAM_TEST(loop_free_closes_open_streams_with_ecanceled)
{
    struct sx x, y;
    sx_open(&x, tr, 0, NULL);
    sockit_timer_stop(x.loop, &x.deadline);
    /* A second stream on the same loop, whose close is under way when the loop is freed. */
    y = (struct sx){ .tr = tr, .loop = x.loop };
    connect_pair(tr, y.fd, 0);
    cr_assert_eq(sockit_stream_open(x.loop, y.fd[0], &sx_ops, &y, NULL, &y.s), 0);
    sockit_timer_init(&y.deadline, on_deadline, &y);
    sockit_stream_close(y.s);
    sockit_loop_free(x.loop);
    cr_expect_eq(x.close_calls, 1, "on_close of an open stream ran %d times at loop_free",
                 x.close_calls);
    cr_expect_eq(x.close_err, -ECANCELED, "on_close err %d (%s) at loop_free", x.close_err,
                 sockit_strerror(x.close_err));
    cr_expect_eq(y.close_calls, 1, "a close under way: on_close ran %d times", y.close_calls);
    cr_expect_eq(y.close_err, 0, "a close under way: err %d", y.close_err);
    char buf[16];
    cr_expect_eq(read_to_eof(x.fd[1], buf, sizeof buf), 0, "the stream's fd was not closed");
    cr_expect_eq(read_to_eof(y.fd[1], buf, sizeof buf), 0);
    close(x.fd[1]);
    close(y.fd[1]);
}

LOOP_TEST(stream_open_of_a_closed_fd_fails)
{
    struct sockit_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    close(sv[0]);
    struct sx x = { .loop = loop };
    struct sockit_stream *s = NULL;
    int rc = sockit_stream_open(loop, sv[0], &sx_ops, &x, NULL, &s);
    cr_expect_lt(rc, 0, "sockit_stream_open of a closed fd: %d", rc);
    cr_expect_null(s);
    cr_expect_eq(sockit_loop_run(loop), 0, "nothing was left registered");
    sockit_loop_free(loop);
    close(sv[1]);
}

/* ---------------------------------------------------------------- many streams at once */

/* Many streams in one loop receive at the same time. io_uring hands their data out of
 * shared receive buffers (several streams' messages packed into one buffer when the kernel
 * consumes buffers incrementally): each stream must still get exactly its own bytes. */
#define MANY 64

struct many {
    struct sockit_stream *s[MANY];
    int peer[MANY];
    size_t len[MANY]; /* this round's message of each peer */
    int closes;
};

static void many_on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (len > 0)
        cr_assert_eq(sockit_stream_write(s, data, len), 0);
}

static void many_on_close(struct sockit_stream *s, int err, void *ud)
{
    struct many *m = ud;
    (void)s;
    cr_expect_eq(err, -ECANCELED, "stream closed early: %s", sockit_strerror(err));
    m->closes++;
}

static const struct sockit_stream_ops many_ops = { .on_data = many_on_data,
                                                   .on_close = many_on_close };

/* Every millisecond: stop once every peer has its echo waiting. */
static void many_check(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct many *m = data;
    (void)t;
    for (int i = 0; i < MANY; i++)
        if (inq(m->peer[i]) < m->len[i])
            return;
    sockit_loop_stop(loop);
}

/* Round R's message from peer I: its length and seed differ per peer and per round. */
static size_t many_len(int r, int i)
{
    return (size_t)((r * 7 + i * 13) % 700 + 1);
}

STREAM_TEST(many_streams_each_get_their_own_bytes)
{
    struct sockit_loop *loop = new_loop();
    struct many m = { 0 };
    struct sockit_timer check, deadline;
    struct sx dummy = { .loop = loop };
    int rounds = 250; /* about 5.6 MB in all: more than an io_uring pool, so buffers are reused */

    for (int i = 0; i < MANY; i++) {
        int fd[2];
        connect_pair(tr, fd, 0);
        m.peer[i] = fd[1];
        cr_assert_eq(sockit_stream_open(loop, fd[0], &many_ops, &m, NULL, &m.s[i]), 0);
    }
    sockit_timer_init(&check, many_check, &m);
    sockit_timer_init(&deadline, on_deadline, &dummy);
    for (int r = 0; r < rounds; r++) {
        /* each peer sends a message whose length and bytes are its own, all at once */
        unsigned char *sent[MANY];
        size_t *len = m.len;
        for (int i = 0; i < MANY; i++) {
            len[i] = many_len(r, i);
            sent[i] = pattern(len[i], (unsigned)(r * MANY + i));
            cr_assert_eq(send(m.peer[i], sent[i], len[i], 0), (ssize_t)len[i]);
        }
        /* run until every peer has its full echo waiting */
        cr_assert_eq(sockit_timer_start(loop, &check, MS, MS), 0);
        cr_assert_eq(sockit_timer_start(loop, &deadline, 3000 * MS, 0), 0);
        run_ok(loop);
        for (int i = 0; i < MANY; i++) {
            unsigned char got[800];
            cr_assert_eq(inq(m.peer[i]), len[i],
                         "round %d, stream %d: %zu bytes back of %zu sent%s", r, i, inq(m.peer[i]),
                         len[i], dummy.timed_out ? " (timed out)" : "");
            cr_assert_eq(recv(m.peer[i], got, sizeof got, 0), (ssize_t)len[i]);
            cr_assert_arr_eq(got, sent[i], len[i], "round %d, stream %d: other bytes came back", r,
                             i);
            free(sent[i]);
        }
    }
    sockit_timer_stop(loop, &check);
    sockit_timer_stop(loop, &deadline);
    sockit_loop_free(loop);
    cr_expect_eq(m.closes, MANY, "on_close ran for %d of %d streams", m.closes, MANY);
    for (int i = 0; i < MANY; i++)
        close(m.peer[i]);
}

/* Many streams echo 512 KiB each at the same time: together more than an io_uring loop's
 * receive pool (4 MiB), so buffers run out and come back (-ENOBUFS: a debug print counted
 * 20 in one run, in both buffer layouts) while backpressure pauses and resumes the streams.
 * Every peer must get its own bytes back, complete and in order. */
#define BULK_STREAMS 16
#define BULK_BYTES   (512 * 1024)

struct bulk_member {
    struct sx x; /* first: the hooks get &x */
    size_t echoed;
    int *peers_done;
};

static void bulk_echo_more(struct sx *x)
{
    struct bulk_member *m = (struct bulk_member *)x;
    cr_assert_eq(sockit_stream_write(x->s, x->in.p + m->echoed, x->in.n - m->echoed), 0);
    m->echoed = x->in.n;
}

static void bulk_close_after_echo(struct sx *x)
{
    sockit_stream_close_after_flush(x->s);
}

static void bulk_peer_done(struct sx *x)
{
    struct bulk_member *m = (struct bulk_member *)x;
    if (++*m->peers_done == BULK_STREAMS)
        sockit_loop_stop(x->loop);
}

STREAM_TEST(many_streams_echo_bulk_at_once)
{
    struct sockit_loop *loop = new_loop();
    struct bulk_member m[BULK_STREAMS];
    struct sx dummy = { .loop = loop };
    struct sockit_timer deadline;
    int peers_done = 0;
    unsigned char *sent[BULK_STREAMS];

    for (int i = 0; i < BULK_STREAMS; i++) {
        struct sx *x = &m[i].x;
        m[i] = (struct bulk_member){ .x = { .tr = tr, .loop = loop }, .peers_done = &peers_done };
        connect_pair(tr, x->fd, 0);
        cr_assert_eq(sockit_stream_open(loop, x->fd[0], &sx_ops, x, NULL, &x->s), 0);
        x->after_data = bulk_echo_more;
        x->on_eof = bulk_close_after_echo;
        x->on_peer_eof = bulk_peer_done;
        sent[i] = pattern(BULK_BYTES, (unsigned)i + 1000);
        peer_send(x, sent[i], BULK_BYTES, true);
        peer_read(x);
    }
    sockit_timer_init(&deadline, on_deadline, &dummy);
    cr_assert_eq(sockit_timer_start(loop, &deadline, 8000 * MS, 0), 0);
    run_ok(loop);
    cr_assert_not(dummy.timed_out, "timed out with %d of %d peers done", peers_done, BULK_STREAMS);
    for (int i = 0; i < BULK_STREAMS; i++) {
        struct sx *x = &m[i].x;
        cr_expect_eq(x->peer_err, 0, "stream %d: peer error %d", i, x->peer_err);
        expect_bytes(&x->pin, sent[i], BULK_BYTES, "echo of a bulk stream");
        cr_expect_eq(x->close_calls, 1, "stream %d closed %d times", i, x->close_calls);
        cr_expect_eq(x->close_err, 0, "stream %d: %s", i, sockit_strerror(x->close_err));
    }
    sockit_timer_stop(loop, &deadline);
    sockit_loop_free(loop);
    for (int i = 0; i < BULK_STREAMS; i++) {
        close(m[i].x.fd[1]);
        free(m[i].x.in.p);
        free(m[i].x.pin.p);
        free(sent[i]);
    }
}
