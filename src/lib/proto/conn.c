/* The adapter between a protocol engine and a loop stream (sockit/engine.h): input straight
 * from the stream's read when the engine takes it all, a bounded buffer for what it leaves,
 * and the engine's output and flow control mapped onto the stream. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "sockit/buf.h"
#include "sockit/engine.h"

#define DEFAULT_MAX_INPUT (64 * 1024)

struct sockit_conn {
    struct sockit_loop *loop;
    struct sockit_stream *s;
    const struct sockit_engine_ops *ops;
    void *eng;
    struct sockit_io io;
    struct sockit_buf in; /* input the engine has not consumed yet */
    size_t max_input;
    size_t seen;    /* the head of IN the engine already answered "need more" for */
    int paused;     /* the engine paused input */
    int err;        /* why the conn closed itself, for ops->closed */
    bool dead;      /* closed while the deferred call was queued: that call frees it */
    bool started;   /* ops->start has run */
    bool finishing; /* io->finish: lingering close, input dropped */
    bool resuming;  /* the deferred call offers the kept input */
    /* One deferred call (start, then resume) and one timer (the engine's io->deadline, then
     * the end of a lingering close, which ends the engine's deadlines): an idle conn is small. */
    struct sockit_defer later;
    struct sockit_timer timer;
};

static void fail(struct sockit_conn *c, int err)
{
    if (!c->err)
        c->err = err;
    sockit_stream_close(c->s);
}

static void on_later(struct sockit_loop *loop, void *data);

static int io_writev(void *ctx, const struct iovec *iov, int n)
{
    return sockit_stream_writev(((struct sockit_conn *)ctx)->s, iov, n);
}

static int io_write_shared(void *ctx, struct sockit_shared *sh, size_t off, size_t len)
{
    return sockit_stream_write_shared(((struct sockit_conn *)ctx)->s, sh, off, len);
}

static int io_send_file(void *ctx, struct sockit_shared *file, uint64_t off, uint64_t len)
{
    return sockit_stream_send_file(((struct sockit_conn *)ctx)->s, file, off, len);
}

static void io_read_pause(void *ctx, int pause)
{
    struct sockit_conn *c = ctx;

    if (c->finishing)
        return; /* a lingering close reads (and drops) to the end */
    c->paused = pause;
    if (pause) {
        sockit_stream_read_stop(c->s);
        return;
    }
    if (sockit_buf_len(&c->in) > 0) { /* kept input comes first */
        c->resuming = true;
        sockit_loop_defer(c->loop, &c->later, on_later, c);
    } else
        sockit_stream_read_start(c->s);
}

/* Lingering close: FIN once the output is out, then read and drop until the peer's FIN or
 * the linger time; the engine hears no more input. */
static void io_finish(void *ctx)
{
    struct sockit_conn *c = ctx;

    if (c->finishing)
        return;
    c->finishing = true; /* feed() drops the rest of what it is offering */
    c->paused = 0;
    sockit_stream_shutdown(c->s);
    sockit_stream_read_start(c->s);
    if (sockit_timer_start(c->loop, &c->timer, SOCKIT_CONN_LINGER_MS * 1000000ull, 0) < 0)
        sockit_stream_close_after_flush(c->s);
}

static void io_deadline(void *ctx, uint64_t when)
{
    struct sockit_conn *c = ctx;
    uint64_t now = sockit_loop_now(c->loop);

    if (c->finishing)
        return; /* the timer is the linger's now */
    if (!when)
        sockit_timer_stop(c->loop, &c->timer);
    else if (sockit_timer_start(c->loop, &c->timer, when > now ? when - now : 0, 0) < 0)
        fail(c, -ENOMEM); /* a deadline that cannot be kept must not leave the conn open */
}

/* The engine's deadline, or the end of a lingering close. */
static void on_timer(struct sockit_loop *loop, struct sockit_timer *timer, void *data)
{
    struct sockit_conn *c = data;
    int rc;

    (void)timer;
    if (c->finishing)
        sockit_stream_close(c->s);
    else if (c->ops->timeout && (rc = c->ops->timeout(c->eng, sockit_loop_now(loop), &c->io)) < 0)
        fail(c, rc);
}

/* Offer DATA to the engine until it has consumed all, wants more, pauses or fails; its first
 * SEEN bytes were offered before and answered "need more". Returns the bytes consumed, or < 0
 * (the conn is closing); c->seen becomes what the engine has seen of the bytes left. */
static void start(struct sockit_conn *c);

static long feed(struct sockit_conn *c, const uint8_t *data, size_t len, size_t seen)
{
    size_t done = 0;
    uint64_t now = sockit_loop_now(c->loop);

    if (!c->started)
        start(c);
    if (c->err)
        return -1;
    c->seen = 0;
    while (done < len && !c->paused && !c->finishing) {
        long n = c->ops->input(c->eng, data + done, len - done, seen, now, &c->io);
        if (n < 0 || (size_t)n > len - done) {
            fail(c, n < 0 ? (int)n : -EINVAL);
            return -1;
        }
        if (n == 0) {
            c->seen = len - done;
            break;
        }
        done += (size_t)n;
        seen = 0;
    }
    return c->finishing ? (long)len : (long)done; /* finishing: the rest is dropped */
}

/* N bytes of the kept input were consumed. An emptied buffer is freed: an idle conn holds
 * none, however long the head it once had to keep (up to max_input and one read). */
static void consume_kept(struct sockit_conn *c, size_t n)
{
    sockit_buf_consume(&c->in, n);
    if (sockit_buf_len(&c->in) == 0)
        sockit_buf_free(&c->in);
}

/* Unconsumed input waiting for more may not pass max_input; input left while paused is at
 * most one read (the stream stops) and is kept whole. */
static void check_kept(struct sockit_conn *c)
{
    if (!c->paused && sockit_buf_len(&c->in) > c->max_input)
        fail(c, -EMSGSIZE);
}

/* Offer the kept input, then read again unless the engine paused. */
static void offer_kept(struct sockit_conn *c)
{
    long n;

    if (c->paused || c->err)
        return;
    if ((n = feed(c, c->in.data + c->in.head, sockit_buf_len(&c->in), c->seen)) < 0)
        return;
    consume_kept(c, (size_t)n);
    check_kept(c);
    if (!c->paused && !c->err)
        sockit_stream_read_start(c->s);
}

/* The peer ended its side. No input_end: close once what the engine wrote is sent; an error
 * from it closes now, with that error, as one from input does. */
static void end_of_input(struct sockit_conn *c)
{
    int rc;

    if (!c->ops->input_end) {
        sockit_stream_close_after_flush(c->s);
        return;
    }
    if ((rc = c->ops->input_end(c->eng, sockit_loop_now(c->loop), &c->io)) < 0)
        fail(c, rc);
}

static void on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct sockit_conn *c = ud;
    long n;

    (void)s;
    if (c->finishing) { /* lingering: drop what comes, close at the peer's end */
        if (len == 0)
            sockit_stream_close_after_flush(c->s);
        return;
    }
    if (len == 0) {
        end_of_input(c);
        return;
    }
    if (sockit_buf_len(&c->in) == 0) { /* the common case: straight from the read */
        if ((n = feed(c, data, len, 0)) < 0)
            return;
        data = (const uint8_t *)data + n;
        len -= (size_t)n;
    }
    if (len && sockit_buf_append(&c->in, data, len) < 0) {
        fail(c, -ENOMEM);
        return;
    }
    if (len && sockit_buf_len(&c->in) > len && !c->paused) { /* old and new together */
        if ((n = feed(c, c->in.data + c->in.head, sockit_buf_len(&c->in), c->seen)) < 0)
            return;
        consume_kept(c, (size_t)n);
    }
    check_kept(c);
}

static void on_close(struct sockit_stream *s, int err, void *ud)
{
    struct sockit_conn *c = ud;

    (void)s;
    sockit_timer_stop(c->loop, &c->timer);
    c->ops->closed(c->eng, c->err ? c->err : err);
    sockit_buf_free(&c->in);
    if (c->later.queued)
        c->dead = true; /* the deferred call frees it */
    else
        free(c);
}

static void start(struct sockit_conn *c)
{
    int rc;

    c->started = true;
    if (c->ops->start && (rc = c->ops->start(c->eng, sockit_loop_now(c->loop), &c->io)) < 0)
        fail(c, rc);
}

/* The deferred call: the start (the engine's state is in place by now), then the kept input
 * if a resume asked for it. */
static void on_later(struct sockit_loop *loop, void *data)
{
    struct sockit_conn *c = data;

    (void)loop;
    if (c->dead) {
        free(c);
        return;
    }
    if (!c->started && !c->err)
        start(c);
    if (c->resuming) {
        c->resuming = false;
        offer_kept(c);
    }
}

static const struct sockit_stream_ops conn_ops = { .on_data = on_data, .on_close = on_close };

int sockit_conn_open(struct sockit_loop *loop, int fd, const struct sockit_engine_ops *ops,
                     void *eng, const struct sockit_conn_limits *limits, struct sockit_conn **out)
{
    struct sockit_conn *c = calloc(1, sizeof(*c));
    int err;

    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    *c = (struct sockit_conn){ .loop = loop, .ops = ops, .eng = eng };
    c->io = (struct sockit_io){ .writev = io_writev,
                                .write_shared = io_write_shared,
                                .send_file = io_send_file,
                                .read_pause = io_read_pause,
                                .finish = io_finish,
                                .deadline = io_deadline,
                                .ctx = c };
    sockit_timer_init(&c->timer, on_timer, c);
    c->max_input = limits && limits->max_input ? limits->max_input : DEFAULT_MAX_INPUT;
    sockit_buf_init(&c->in, SIZE_MAX);
    err = sockit_stream_open(loop, fd, &conn_ops, c, limits ? &limits->stream : NULL, &c->s);
    if (err) {
        free(c);
        return err;
    }
    if (ops->start)
        sockit_loop_defer(loop, &c->later, on_later, c);
    else
        c->started = true;
    *out = c;
    return 0;
}

struct sockit_stream *sockit_conn_stream(struct sockit_conn *c)
{
    return c->s;
}

void sockit_conn_close(struct sockit_conn *c)
{
    sockit_stream_close(c->s);
}
