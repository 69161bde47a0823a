/* Streams: connected sockets the loop reads and writes. Writes go straight to the socket when
 * it takes them; the rest waits in a per-stream buffer that exists only while output is
 * pending. Above the high watermark the stream stops reading (backpressure) until the
 * output drains to the low watermark. On readiness backends the stream reads until EAGAIN
 * (or a short read) so edge-triggered registration works; completion backends drive the same
 * state through sockit__stream_data / _sent / _fail. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_internal.h"

#define READS_PER_ROUND 8 /* then yield to other streams; resumed from a deferred call */

static const struct sockit_stream_limits default_limits = { 16 * 1024, 64 * 1024 };

static void pump(struct sockit_stream *s);

/* Output not yet confirmed sent: buffered here, or in flight in a completion backend. */
static size_t pending(const struct sockit_stream *s)
{
    return sockit_buf_len(&s->out) + s->in_flight;
}

static void pump_deferred(struct sockit_loop *loop, void *data)
{
    (void)loop;
    pump(data);
}

/* Readiness backends: ask only for what the stream can use now (edge backends keep the
 * registration they made at open). */
static void update_interest(struct sockit_stream *s)
{
    struct sockit_loop *loop = s->loop;
    struct sockit__fdslot *slot;
    unsigned mask = 0;

    if (loop->be->complete || loop->be->edge || !(slot = sockit__slot(loop, s->fd)))
        return;
    if (!s->paused && !s->read_eof)
        mask |= SOCKIT_EV_READ;
    if (pending(s) > 0)
        mask |= SOCKIT_EV_WRITE;
    if (mask != slot->mask) {
        slot->mask = mask;
        loop->be->update(loop, s->fd, slot, false);
    }
}

static void unlink_stream(struct sockit_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->loop->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

static void destroy(struct sockit_stream *s)
{
    s->loop->refs--;
    unlink_stream(s);
    sockit_buf_free(&s->out);
    free(s);
}

static void finish_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_stream *s = data;

    if (s->pump_defer.queued) { /* let the queued pump (a no-op now) run first */
        sockit_loop_defer(loop, &s->close_defer, finish_deferred, s);
        return;
    }
    if (s->ops->on_close)
        s->ops->on_close(s, s->close_err, s->ud);
    destroy(s);
}

static void close_with(struct sockit_stream *s, int err)
{
    struct sockit_loop *loop = s->loop;

    if (s->closing)
        return;
    s->closing = true;
    s->close_err = err;
    if (loop->be->complete) {
        loop->be->stream_close(loop, s); /* calls sockit__stream_closed when nothing is left */
        return;
    }
    sockit__slot_release(loop, s->fd);
    sockit__stream_closed(s);
}

void sockit__stream_closed(struct sockit_stream *s)
{
    close(s->fd);
    s->fd = -1;
    sockit_loop_defer(s->loop, &s->close_defer, finish_deferred, s);
}

void sockit__stream_fail(struct sockit_stream *s, int err)
{
    close_with(s, err);
}

void sockit_stream_close(struct sockit_stream *s)
{
    close_with(s, 0);
}

/* What follows a change of pending output: release the buffer, half-close or close when it
 * is empty, resume reading once it is under the low watermark. */
static void after_output(struct sockit_stream *s)
{
    size_t left = pending(s);

    if (left == 0) {
        /* An idle stream holds no buffer; a completion backend keeps one small buffer per
         * stream instead of a malloc and free per message. */
        if (!s->loop->be->complete || s->out.cap > SOCKIT__KEEP_BUF)
            sockit_buf_free(&s->out);
        if (s->shut_pending && !s->shut_done) {
            s->shut_done = true;
            shutdown(s->fd, SHUT_WR);
        }
        if (s->close_after_flush) {
            close_with(s, 0);
            return;
        }
    }
    if (s->paused && left <= s->low) {
        s->paused = false;
        if (s->loop->be->complete)
            s->loop->be->stream_read(s->loop, s, true);
        else
            sockit_loop_defer(s->loop, &s->pump_defer, pump_deferred, s);
        if (s->ops->on_drain)
            s->ops->on_drain(s, s->ud);
    }
}

/* Send from DATA while the socket takes it, advancing *DATA and *LEN; what is left stays
 * the caller's (the socket is full: can_write is cleared). Returns 0 or -errno. */
static int send_some(struct sockit_stream *s, const char **data, size_t *len)
{
    while (*len > 0 && s->can_write) {
        ssize_t n = send(s->fd, *data, *len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            s->can_write = false;
            break;
        }
        if (n < 0)
            return -errno;
        *data += n;
        *len -= (size_t)n;
        if (*len > 0)
            s->can_write = false;
    }
    return 0;
}

/* Send buffered output until it is gone or the socket is full. */
static void flush(struct sockit_stream *s)
{
    const char *p = (const char *)s->out.data + s->out.head;
    size_t len = sockit_buf_len(&s->out), left = len;
    int err = send_some(s, &p, &left);

    if (err) {
        close_with(s, err);
        return;
    }
    sockit_buf_consume(&s->out, len - left);
    after_output(s);
}

void sockit__stream_data(struct sockit_stream *s, const void *data, size_t len)
{
    if (len == 0)
        s->read_eof = true;
    s->ops->on_data(s, data, len, s->ud);
}

void sockit__stream_sent(struct sockit_stream *s)
{
    after_output(s);
}

static void read_some(struct sockit_stream *s)
{
    for (int i = 0; i < READS_PER_ROUND; i++) {
        ssize_t n = recv(s->fd, s->loop->rbuf, s->loop->opts.read_chunk, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            s->can_read = false;
            return;
        }
        if (n < 0) {
            close_with(s, -errno);
            return;
        }
        if (n > 0 && (size_t)n < s->loop->opts.read_chunk && !s->peer_shut)
            s->can_read = false; /* drained: a stream socket returns short only when empty */
        sockit__stream_data(s, s->loop->rbuf, (size_t)n);
        if (n == 0 || !s->can_read || s->closing || s->paused)
            return;
    }
    sockit_loop_defer(s->loop, &s->pump_defer, pump_deferred, s); /* let others run */
}

static void pump(struct sockit_stream *s)
{
    if (s->closing)
        return;
    if (s->can_write && sockit_buf_len(&s->out) > 0)
        flush(s);
    if (!s->closing && s->can_read && !s->paused && !s->read_eof)
        read_some(s);
    if (!s->closing)
        update_interest(s);
}

void sockit__stream_ready(struct sockit_stream *s, unsigned events)
{
    if (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR))
        s->can_read = true;
    if (events & (SOCKIT__EV_RDHUP | SOCKIT_EV_ERROR))
        s->peer_shut = true;
    if (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR))
        s->can_write = true;
    pump(s);
}

int sockit_stream_write(struct sockit_stream *s, const void *data, size_t len)
{
    const char *p = data;
    struct sockit_loop *loop = s->loop;
    int err = 0;

    if (s->closing || s->shut_pending || s->close_after_flush)
        return -EPIPE;
    /* Try the socket first: when it takes everything, nothing is copied or buffered. */
    if (!loop->be->complete && sockit_buf_len(&s->out) == 0)
        err = send_some(s, &p, &len);
    if (!err && len > 0)
        err = sockit_buf_append(&s->out, p, len);
    if (err) {
        close_with(s, err);
        return err;
    }
    if (len == 0)
        return 0;
    if (loop->be->complete)
        loop->be->stream_send(loop, s);
    if (!s->paused && pending(s) > s->high) {
        s->paused = true;
        if (loop->be->complete)
            loop->be->stream_read(loop, s, false);
    }
    update_interest(s);
    return 0;
}

size_t sockit_stream_pending(const struct sockit_stream *s)
{
    return pending(s);
}

void sockit_stream_shutdown(struct sockit_stream *s)
{
    if (s->closing || s->shut_pending)
        return;
    s->shut_pending = true;
    if (pending(s) == 0) {
        s->shut_done = true;
        shutdown(s->fd, SHUT_WR);
    }
}

void sockit_stream_close_after_flush(struct sockit_stream *s)
{
    if (s->closing)
        return;
    if (pending(s) == 0)
        close_with(s, 0);
    else
        s->close_after_flush = true;
}

int sockit_stream_fd(const struct sockit_stream *s)
{
    return s->fd;
}

static int register_readiness(struct sockit_loop *loop, struct sockit_stream *s)
{
    int err = sockit__slot_claim(loop, s->fd, FD_STREAM, s, NULL);

    if (err)
        return err;
    struct sockit__fdslot *slot = sockit__slot(loop, s->fd);
    slot->mask = SOCKIT_EV_READ | (loop->be->edge ? SOCKIT_EV_WRITE : 0);
    err = loop->be->update(loop, s->fd, slot, true);
    if (err)
        sockit__slot_release(loop, s->fd);
    return err;
}

int sockit_stream_open(struct sockit_loop *loop, int fd, const struct sockit_stream_ops *ops,
                       void *ud, const struct sockit_stream_limits *limits,
                       struct sockit_stream **out)
{
    struct sockit_stream *s = calloc(1, sizeof(*s));
    int err = s ? 0 : -ENOMEM;

    if (!err && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        err = -errno;
    if (err) {
        free(s);
        close(fd);
        return err;
    }
    limits = limits ? limits : &default_limits;
    *s = (struct sockit_stream){ .loop = loop,
                                 .fd = fd,
                                 .ops = ops,
                                 .ud = ud,
                                 .low = limits->low_water,
                                 .high = limits->high_water,
                                 .can_write = true,
                                 .next = loop->streams };
    sockit_buf_init(&s->out, SIZE_MAX);
    err = loop->be->complete ? loop->be->stream_start(loop, s) : register_readiness(loop, s);
    if (err) {
        close(fd);
        free(s);
        return err;
    }
    if (loop->streams)
        loop->streams->prev = s;
    loop->streams = s;
    loop->refs++; /* an open stream keeps the loop running */
    *out = s;
    return 0;
}

/* Loop teardown: close every stream that is still open; their on_close runs (-ECANCELED)
 * once the backend has nothing in flight for them. */
void sockit__stream_close_all(struct sockit_loop *loop)
{
    for (struct sockit_stream *s = loop->streams; s; s = s->next)
        close_with(s, -ECANCELED);
}
