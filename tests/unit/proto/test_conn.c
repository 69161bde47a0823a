/* Unit tests for the engine adapter (sockit/engine.h) on every backend: a toy line engine
 * (answers each "\n"-terminated line with its length) behind sockit_conn, the peer the test's
 * own end of a socketpair. Lines split across reads, many in one read, a line over the input
 * limit, an engine error, pausing and resuming input, output after the peer's end, and the
 * engine's deadline (io->deadline, ops->timeout). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../loop/backends.h"
#include "sockit/clock.h"
#include "sockit/engine.h"

struct lines {
    struct sockit_loop *loop;
    struct sockit_conn *conn;
    const struct sockit_io *io;
    int peer;
    int answered, closed_calls, closed_err;
    size_t scanned;  /* bytes the engine looked at for a newline, over all calls */
    int pause_after; /* pause input after this many lines (0: never) */
    bool fail_on_bang;
    uint64_t deadline_ns;       /* each partial line sets the deadline this far on (0: none) */
    int timeout_rc;             /* what the timeout returns */
    int timeouts;               /* how often it was called */
    bool keep_open;             /* the peer does not end its side after the text */
    bool finish_first;          /* finish (lingering close) after answering the first line */
    uint64_t start_deadline_ns; /* ops->start sets a deadline this far on */
    int starts, inputs_after_finish;
    struct sockit_timer resume;
    struct sockit_timer feeder;
    const char *text; /* what the peer sends, STEP bytes at a time */
    size_t text_len, text_off, step;
    char got[4096]; /* what the peer received */
    size_t got_len;
};

static long lines_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                        const struct sockit_io *io)
{
    struct lines *l = eng;
    const uint8_t *nl;
    char reply[32];

    cr_assert_leq(seen, len);
    nl = memchr(data + seen, '\n', len - seen); /* what was offered before had none */
    l->scanned += len - seen;
    if (l->fail_on_bang && data[0] == '!')
        return -EPROTO;
    if (!nl) {
        if (l->deadline_ns) /* a new deadline replaces the one before */
            io->deadline(io->ctx, now + l->deadline_ns);
        return 0;
    }
    if (l->deadline_ns)
        io->deadline(io->ctx, 0);
    int n = snprintf(reply, sizeof(reply), "%zu;", (size_t)(nl - data));
    struct iovec iov[2] = { { reply, (size_t)n - 1 }, { ";", 1 } }; /* a gather write */
    cr_assert_eq(io->writev(io->ctx, iov, 2), 0);
    l->io = io;
    if (l->finish_first && l->answered > 0)
        l->inputs_after_finish++; /* a finishing conn must offer nothing more */
    if (l->finish_first && l->answered == 0)
        io->finish(io->ctx);
    if (++l->answered == l->pause_after) {
        io->read_pause(io->ctx, 1);
        sockit_timer_start(l->loop, &l->resume, 50 * MS, 0);
    }
    return nl - data + 1;
}

static int lines_end(void *eng, uint64_t now, const struct sockit_io *io)
{
    (void)eng;
    (void)now;
    cr_assert_eq(io->writev(io->ctx, &(struct iovec){ "end", 3 }, 1), 0);
    io->finish(io->ctx);
    return 0;
}

static void lines_closed(void *eng, int err)
{
    struct lines *l = eng;

    l->closed_calls++;
    l->closed_err = err;
}

/* The deadline of a partial line came: say so, then close as the test asks. */
static int lines_timeout(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct lines *l = eng;

    (void)now;
    l->timeouts++;
    cr_assert_eq(io->writev(io->ctx, &(struct iovec){ "late", 4 }, 1), 0);
    if (l->timeout_rc < 0)
        return l->timeout_rc;
    io->finish(io->ctx);
    return 0;
}

static int lines_start(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct lines *l = eng;

    l->starts++;
    cr_expect_eq(l->answered, 0, "start comes before any input");
    if (l->start_deadline_ns)
        io->deadline(io->ctx, now + l->start_deadline_ns);
    return 0;
}

static const struct sockit_engine_ops lines_ops = {
    .input = lines_input,
    .input_end = lines_end,
    .closed = lines_closed,
    .timeout = lines_timeout,
    .start = lines_start,
};

static void on_resume(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct lines *l = data;

    (void)loop;
    (void)t;
    l->io->read_pause(l->io->ctx, 0);
}

static void peer_read(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct lines *l = data;
    ssize_t n = read(fd, l->got + l->got_len, sizeof(l->got) - 1 - l->got_len);

    (void)events;
    if (n > 0) {
        l->got_len += (size_t)n;
        return;
    }
    sockit_loop_unwatch(loop, fd); /* end of stream (or error): done */
}

static void setup(struct lines *l, size_t max_input)
{
    int sv[2];
    struct sockit_conn_limits lim = { .max_input = max_input };

    memset(l, 0, sizeof(*l));
    l->loop = new_loop();
    pair(sv);
    l->peer = sv[1];
    sockit_timer_init(&l->resume, on_resume, l);
    cr_assert_eq(sockit_conn_open(l->loop, sv[0], &lines_ops, l, &lim, &l->conn), 0);
    cr_assert_eq(sockit_loop_watch(l->loop, l->peer, SOCKIT_EV_READ, peer_read, l), 0);
}

static void feed_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct lines *l = data;
    size_t n = l->text_len - l->text_off < l->step ? l->text_len - l->text_off : l->step;

    cr_assert_eq(write(l->peer, l->text + l->text_off, n), (ssize_t)n);
    l->text_off += n;
    if (l->text_off == l->text_len) {
        if (!l->keep_open)
            shutdown(l->peer, SHUT_WR);
        sockit_timer_stop(loop, t);
    }
}

/* Send TEXT in pieces of STEP bytes, one per millisecond (so each is its own read), then end
 * our side. */
static void peer_send_all(struct lines *l, const char *text, size_t step)
{
    l->text = text;
    l->text_len = strlen(text);
    l->step = step;
    sockit_timer_init(&l->feeder, feed_tick, l);
    cr_assert_eq(sockit_timer_start(l->loop, &l->feeder, 0, MS), 0);
}

static void finish(struct lines *l)
{
    run_ok(l->loop);
    l->got[l->got_len] = '\0';
    sockit_loop_free(l->loop);
    close(l->peer);
}

LOOP_TEST(conn_answers_lines_split_and_batched)
{
    struct lines l;

    setup(&l, 0);
    peer_send_all(&l, "a\nbb\nccc\n", 1);
    finish(&l);
    cr_expect_str_eq(l.got, "1;2;3;end");
    cr_expect_eq(l.closed_calls, 1);
    cr_expect_eq(l.closed_err, 0);
}

/* A line that trickles in a byte per read: each byte is offered with the ones kept before it,
 * and SEEN tells the engine where its last scan stopped, so it looks at every byte once
 * (without it: 1 + 2 + ... + 301 = 45,451 bytes scanned). */
LOOP_TEST(conn_engine_scans_a_trickled_line_once)
{
    struct lines l;
    char line[302];

    setup(&l, 0);
    memset(line, 'x', 300);
    memcpy(line + 300, "\n", 2);
    peer_send_all(&l, line, 1);
    finish(&l);
    cr_expect_str_eq(l.got, "300;end");
    cr_expect_eq(l.scanned, 301, "scanned %zu bytes for a 301-byte line", l.scanned);
}

LOOP_TEST(conn_closes_on_input_over_the_limit)
{
    struct lines l;
    char big[300];

    setup(&l, 100);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0'; /* no newline: the engine keeps asking for more */
    peer_send_all(&l, big, sizeof(big));
    finish(&l);
    cr_expect_eq(l.closed_calls, 1);
    cr_expect_eq(l.closed_err, -EMSGSIZE, "closed with %d", l.closed_err);
}

LOOP_TEST(conn_closes_with_the_engine_error)
{
    struct lines l;

    setup(&l, 0);
    l.fail_on_bang = true;
    peer_send_all(&l, "ok\n!bad\nnever\n", 64);
    finish(&l);
    cr_expect_str_eq(l.got, "2;");
    cr_expect_eq(l.closed_err, -EPROTO, "closed with %d", l.closed_err);
}

LOOP_TEST(conn_paused_engine_gets_the_rest_in_order_after_resume)
{
    struct lines l;

    setup(&l, 0);
    l.pause_after = 1;
    peer_send_all(&l, "a\nbb\nccc\ndddd\n", 64); /* one read: the rest is kept while paused */
    finish(&l);
    cr_expect_str_eq(l.got, "1;2;3;4;end");
    cr_expect_eq(l.closed_err, 0);
}

/* A partial line and then silence: the deadline fires with no input, the engine answers and
 * finishes, and the conn closes cleanly once that answer is out. */
LOOP_TEST(conn_deadline_fires_when_the_peer_goes_quiet)
{
    struct lines l;

    setup(&l, 0);
    l.deadline_ns = 30 * MS;
    l.keep_open = true;
    uint64_t t0 = sockit_clock_ns();
    peer_send_all(&l, "no newline", 64);
    finish(&l);
    cr_expect_str_eq(l.got, "late");
    cr_expect_eq(l.timeouts, 1);
    cr_expect_eq(l.closed_err, 0, "closed with %d", l.closed_err);
    cr_expect_geq(sockit_clock_ns() - t0, 30 * MS, "the deadline fired early");
}

/* An error from the timeout closes the conn with it. */
LOOP_TEST(conn_timeout_error_closes_with_it)
{
    struct lines l;

    setup(&l, 0);
    l.deadline_ns = 10 * MS;
    l.timeout_rc = -ETIMEDOUT;
    l.keep_open = true;
    peer_send_all(&l, "x", 64);
    finish(&l);
    cr_expect_eq(l.timeouts, 1);
    cr_expect_eq(l.closed_err, -ETIMEDOUT, "closed with %d", l.closed_err);
}

/* A line trickling in a byte a millisecond for 40 ms, each byte moving a 10 ms deadline on:
 * the first deadline is long gone when the line ends, yet no timeout fires (a new deadline
 * replaces the old), and the line's end cancels the last one. */
LOOP_TEST(conn_new_deadline_replaces_the_old_and_zero_cancels)
{
    struct lines l;
    char line[42];

    setup(&l, 0);
    l.deadline_ns = 10 * MS;
    memset(line, 'x', 40);
    memcpy(line + 40, "\n", 2);
    peer_send_all(&l, line, 1);
    finish(&l);
    cr_expect_str_eq(l.got, "40;end");
    cr_expect_eq(l.timeouts, 0, "%d timeouts", l.timeouts);
}

/* ops->start runs once, before any input, and may set a deadline: a peer that connects and
 * never sends is timed out all the same. */
LOOP_TEST(conn_start_runs_once_and_times_a_silent_peer)
{
    struct lines l;

    setup(&l, 0);
    l.start_deadline_ns = 20 * MS;
    l.timeout_rc = -ETIMEDOUT;
    finish(&l);
    cr_expect_eq(l.starts, 1);
    cr_expect_eq(l.timeouts, 1);
    cr_expect_eq(l.closed_err, -ETIMEDOUT, "closed with %d", l.closed_err);
}

/* A lingering close: the engine answers the first line and finishes while the peer goes on
 * sending; what follows is read and dropped (never offered), the answer arrives whole, then
 * the end of stream, and the conn closes cleanly at the peer's end. */
LOOP_TEST(conn_finish_lingers_and_drops_what_follows)
{
    struct lines l;
    static char text[4096];

    setup(&l, 0);
    l.finish_first = true;
    for (size_t i = 0; i + 6 < sizeof(text); i += 6)
        memcpy(text + i, "line\n", 6);
    peer_send_all(&l, text, 600);
    finish(&l);
    cr_expect_str_eq(l.got, "4;");
    cr_expect_eq(l.inputs_after_finish, 0);
    cr_expect_eq(l.closed_err, 0, "closed with %d", l.closed_err);
}

/* A peer that never ends its side cannot hold a finishing conn: it closes after the linger. */
LOOP_TEST(conn_finish_gives_up_after_the_linger_time)
{
    struct lines l;

    setup(&l, 0);
    l.finish_first = true;
    l.keep_open = true;
    uint64_t t0 = sockit_clock_ns();
    peer_send_all(&l, "a\nb\n", 64);
    finish(&l);
    uint64_t took = sockit_clock_ns() - t0;
    cr_expect_str_eq(l.got, "1;");
    cr_expect(took >= SOCKIT_CONN_LINGER_MS * MS - 5 * MS && took < 4000 * MS, "%llu ms",
              (unsigned long long)(took / MS));
}
