/* Streams: connected sockets the loop reads and writes. Writes go straight to the socket when
 * it takes them; the rest waits in the stream's output queue (stream_out.c). Above the high
 * watermark the stream stops reading (backpressure) until the output drains to the low
 * watermark; the caller can stop reading too. On readiness backends the stream reads until
 * EAGAIN (or a short read) so edge-triggered registration works; completion backends drive
 * the same state through sockit__stream_data / _sent / _fail, and what they receive while
 * the stream is not reading is held and delivered when it reads again. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_internal.h"

#define READS_PER_ROUND 8 /* then yield to other streams; resumed from a deferred call */

#define IOV_BATCH 64 /* pieces per sendmsg */

#define PIECE_COST 64 /* bytes of max_output a queued piece stands for (sockit_stream_limits) */
#define MIN_PIECES 64 /* pieces a stream may queue, however small its max_output */

static const struct sockit_stream_limits default_limits = { 16 * 1024, 64 * 1024, 8u << 20 };

static void pump(struct sockit_stream *s);

/* Output not yet confirmed sent: queued here, or in flight in a completion backend. */
static size_t pending(const struct sockit_stream *s)
{
    return s->out.bytes;
}

/* Bytes may be handed to on_data now. */
static inline bool can_deliver(const struct sockit_stream *s)
{
    return !(s->stopped | s->paused | s->closing | s->connecting);
}

static inline bool wants_read(const struct sockit_stream *s)
{
    return can_deliver(s) & !s->read_eof;
}

/* Input received while not reading waits in s->held (completion backends). */
static inline bool has_held(const struct sockit_stream *s)
{
    return s->held_eof | (s->held.tail != s->held.head);
}

/* Writes are refused: the stream closes, or its end is already asked for. */
static inline bool writes_refused(const struct sockit_stream *s)
{
    return s->closing | s->shut_pending | s->close_after_flush;
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
    if (wants_read(s))
        mask |= SOCKIT_EV_READ;
    if (pending(s) > 0 || s->connecting)
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
    sockit__out_free(&s->out);
    sockit_buf_free(&s->held);
    free(s);
}

static void finish_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_stream *s = data;

    if (s->pump_defer.queued || s->held_defer.queued) { /* let those (no-ops now) run first */
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
    sockit_timer_stop(loop, &s->connect_timer);
    if (loop->be->complete) {
        loop->be->stream_close(loop, s); /* calls sockit__stream_closed when nothing is left */
        return;
    }
    sockit__slot_release(loop, s->fd);
    sockit__stream_closed(s);
}

void sockit__stream_closed(struct sockit_stream *s)
{
    SOCKIT__TRACE(s->loop, "close(%d)", s->fd);
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

static void deliver_held(struct sockit_loop *loop, void *data);

/* sockit_stream_shutdown asked for the write side's end: send it once the output is gone. */
static void shut_if_flushed(struct sockit_stream *s)
{
    if (!s->shut_pending || s->shut_done || pending(s) > 0 || s->connecting)
        return;
    s->shut_done = true;
    int rc = shutdown(s->fd, SHUT_WR);
    SOCKIT__TRACE_CALL(s->loop, rc, "shutdown(%d, SHUT_WR)", s->fd);
}

/* Reading was stopped or resumed (by the caller or the watermarks): tell the backend, and
 * hand over first what was held meanwhile. */
static void reading_changed(struct sockit_stream *s)
{
    struct sockit_loop *loop = s->loop;

    if (s->closing)
        return;
    if (can_deliver(s) && has_held(s)) {
        sockit_loop_defer(loop, &s->held_defer, deliver_held, s);
        return;
    }
    if (loop->be->complete)
        loop->be->stream_read(loop, s, wants_read(s));
    else if (wants_read(s))
        sockit_loop_defer(loop, &s->pump_defer, pump_deferred, s);
    else
        update_interest(s);
}

/* Completion backends: bytes that arrived while the stream was not reading, in one call. */
static void deliver_held(struct sockit_loop *loop, void *data)
{
    struct sockit_stream *s = data;
    struct sockit_buf held = s->held;
    bool eof = s->held_eof;

    (void)loop;
    if (!can_deliver(s))
        return; /* stopped again before this ran: keep holding */
    sockit_buf_init(&s->held, SIZE_MAX);
    s->held_eof = false;
    if (sockit_buf_len(&held) > 0)
        s->ops->on_data(s, held.data + held.head, sockit_buf_len(&held), s->ud);
    sockit_buf_free(&held);
    if (eof && can_deliver(s))
        s->ops->on_data(s, NULL, 0, s->ud);
    else if (eof && !s->closing)
        s->held_eof = true; /* on_data stopped reading: the end waits for read_start */
    reading_changed(s);
}

/* Hand bytes to on_data, or hold them: the stream is not reading, or older bytes wait. */
static inline void deliver(struct sockit_stream *s, const void *data, size_t len)
{
    if (len == 0)
        s->read_eof = true;
    if (__builtin_expect(!can_deliver(s) || has_held(s), 0)) {
        if (len == 0)
            s->held_eof = true;
        else if (sockit_buf_append(&s->held, data, len) < 0)
            close_with(s, -ENOMEM);
        return;
    }
    s->ops->on_data(s, data, len, s->ud);
}

void sockit__stream_data(struct sockit_stream *s, const void *data, size_t len)
{
    deliver(s, data, len);
}

/* What follows a change of pending output: half-close or close when it is empty, resume
 * reading once it is under the low watermark. */
static void after_output(struct sockit_stream *s)
{
    size_t left = pending(s);

    if (left == 0) {
        /* An idle stream holds no buffer: it goes back to the loop's pool, where the next
         * write (of any stream) takes it without a malloc. */
        if (s->out.head && s->out.head->cap)
            sockit__out_trim(&s->out);
        shut_if_flushed(s);
        if (s->close_after_flush) {
            close_with(s, 0);
            return;
        }
    }
    if (s->full && left <= s->low) {
        s->full = false;
        if (s->paused) {
            s->paused = false;
            reading_changed(s);
        }
        if (s->ops->on_drain)
            s->ops->on_drain(s, s->ud);
    }
}

/* One send of the queue's head: sendfile for a file piece, else one sendmsg of up to
 * IOV_BATCH pieces. Returns bytes sent, or -errno. */
static ssize_t send_head(struct sockit_stream *s)
{
    struct iovec iov[IOV_BATCH];
    size_t bytes;
    ssize_t n;

    if (s->out.head->kind == SEG_FILE)
        return sockit__out_sendfile(s->loop, &s->out, s->fd);
    struct msghdr msg = { .msg_iov = iov };
    msg.msg_iovlen = (size_t)sockit__out_gather(&s->out, iov, IOV_BATCH, &bytes);
    do {
        n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        SOCKIT__TRACE_CALL(s->loop, n, "sendmsg(%d, %zu iov, %zu B)", s->fd, msg.msg_iovlen, bytes);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    sockit__out_consume(&s->out, (size_t)n);
    if ((size_t)n < bytes)
        s->can_write = false; /* the socket is full */
    return n;
}

/* Readiness backends: send queued output until it is gone or the socket is full. */
static void flush(struct sockit_stream *s)
{
    while (s->can_write && pending(s) > 0) {
        ssize_t n = send_head(s);
        if (n == -EAGAIN) {
            s->can_write = false;
        } else if (n < 0) {
            close_with(s, (int)n);
            return;
        }
    }
    after_output(s);
}

void sockit__stream_sent(struct sockit_stream *s)
{
    after_output(s);
}

static void read_some(struct sockit_stream *s)
{
    struct sockit_loop *loop = s->loop;
    size_t chunk = loop->opts.read_chunk;

    for (int i = 0; i < READS_PER_ROUND; i++) {
        ssize_t n = recv(s->fd, loop->rbuf, chunk, 0);
        SOCKIT__TRACE_CALL(loop, n, "recv(%d, %zu)", s->fd, chunk);
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
        if (n > 0 && (size_t)n < chunk && !s->peer_shut)
            s->can_read = false; /* drained: a stream socket returns short only when empty */
        deliver(s, loop->rbuf, (size_t)n);
        if (n == 0 || !s->can_read || !wants_read(s))
            return;
    }
    sockit_loop_defer(loop, &s->pump_defer, pump_deferred, s); /* let others run */
}

static void pump(struct sockit_stream *s)
{
    if (s->closing || s->connecting)
        return;
    if (s->can_write && pending(s) > 0)
        flush(s);
    if (!s->closing && s->can_read && wants_read(s))
        read_some(s);
    if (!s->closing)
        update_interest(s);
}

/* Readiness backends: the connect ended; SO_ERROR says how. Not after a connect() that failed
 * at once (close_err set): the unconnected socket polls writable and hung up with no SO_ERROR,
 * and connect_failed reports the real error. */
static void finish_connect(struct sockit_stream *s)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (s->close_err)
        return;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    sockit__stream_connected(s, -err);
}

void sockit__stream_ready(struct sockit_stream *s, unsigned events)
{
    if (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR))
        s->can_read = true;
    if (events & (SOCKIT__EV_RDHUP | SOCKIT_EV_ERROR))
        s->peer_shut = true;
    if (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR))
        s->can_write = true;
    if (__builtin_expect(!s->connecting, 1))
        pump(s);
    else if (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR))
        finish_connect(s); /* pumps once connected */
}

/* New output is queued: send it (completion backends), and pause reading above the high
 * watermark. */
static void queued(struct sockit_stream *s)
{
    struct sockit_loop *loop = s->loop;

    if (loop->be->complete && !s->connecting)
        loop->be->stream_send(loop, s);
    if (!s->full && pending(s) > s->high) {
        s->full = true;
        if (!s->keep_reading) {
            s->paused = true;
            reading_changed(s);
        }
    }
    update_interest(s);
}

/* The most pieces a stream may queue: each costs about PIECE_COST bytes of bookkeeping
 * besides its bytes, so max_output bounds them too (sockit_stream_limits). */
static size_t most_pieces(const struct sockit_stream *s)
{
    size_t n = s->max_out / PIECE_COST;
    return n > MIN_PIECES ? n : MIN_PIECES;
}

/* May LEN more bytes of memory be queued? 0, -EPIPE or -ENOBUFS. */
static int check_write(const struct sockit_stream *s, size_t mem)
{
    if (writes_refused(s))
        return -EPIPE;
    if (mem > s->max_out || s->out.mem > s->max_out - mem || s->out.nsegs >= most_pieces(s))
        return -ENOBUFS;
    return 0;
}

/* The bytes in IOV; SIZE_MAX when they do not fit in a size_t (a write past any limit). */
static size_t iov_bytes(const struct iovec *iov, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > SIZE_MAX - total)
            return SIZE_MAX;
        total += iov[i].iov_len;
    }
    return total;
}

/* Readiness backends with nothing queued: offer IOV (TOTAL bytes) to the socket at once.
 * Returns the bytes it took, or -errno (the stream is closed then). */
static ssize_t send_now(struct sockit_stream *s, const struct iovec *iov, int n, size_t total)
{
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
    ssize_t sent;

    if (s->loop->be->complete || s->connecting || pending(s) > 0 || !s->can_write)
        return 0;
    do {
        sent = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        SOCKIT__TRACE_CALL(s->loop, sent, "sendmsg(%d, %d iov, %zu B)", s->fd, n, total);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno == EAGAIN)
        sent = 0;
    if (sent >= 0 && (size_t)sent < total)
        s->can_write = false; /* the socket is full */
    if (sent < 0) {
        int err = -errno;
        close_with(s, err);
        return err;
    }
    return sent;
}

int sockit_stream_writev(struct sockit_stream *s, const struct iovec *iov, int n)
{
    size_t total;
    int err;

    if (n < 0 || n > 1024)
        return -EINVAL;
    total = iov_bytes(iov, n);
    if ((err = check_write(s, total)) < 0)
        return err;
    if (total == 0)
        return 0;
    ssize_t sent = send_now(s, iov, n, total);
    if (sent < 0)
        return (int)sent;
    if ((size_t)sent == total)
        return 0; /* the kernel took it all: nothing copied, nothing queued */
    if ((err = sockit__out_copy(&s->out, iov, n, (size_t)sent, total)) < 0) {
        close_with(s, err);
        return err;
    }
    queued(s);
    return 0;
}

/* The per-message path (an echo, a reply): one send() when nothing is queued, else a copy
 * into the queue; no iovec is built unless bytes are left over. */
int sockit_stream_write(struct sockit_stream *s, const void *data, size_t len)
{
    struct sockit_loop *loop = s->loop;
    ssize_t sent = 0;
    int err;

    /* With nothing queued, the only limit a write can pass is max_output itself. */
    if (!loop->be->complete && s->can_write && pending(s) == 0 && !s->connecting &&
        !writes_refused(s) && len <= s->max_out) {
        if (len == 0)
            return 0;
        do {
            sent = send(s->fd, data, len, MSG_NOSIGNAL);
            SOCKIT__TRACE_CALL(loop, sent, "send(%d, %zu)", s->fd, len);
        } while (sent < 0 && errno == EINTR);
        if ((size_t)sent == len)
            return 0;
        if (sent < 0 && errno != EAGAIN) {
            err = -errno;
            close_with(s, err);
            return err;
        }
        sent = sent < 0 ? 0 : sent;
        s->can_write = false; /* the socket is full */
    } else if ((err = check_write(s, len)) < 0 || len == 0) {
        return err;
    }
    if ((err = sockit__out_append(&s->out, (const char *)data + sent, len - (size_t)sent)) < 0) {
        close_with(s, err);
        return err;
    }
    queued(s);
    return 0;
}

int sockit_stream_write_shared(struct sockit_stream *s, struct sockit_shared *sh, size_t off,
                               size_t len)
{
    char *base = sockit_shared_data(sh);
    int err;

    if (!base || off > sockit_shared_len(sh) || len > sockit_shared_len(sh) - off)
        return -EINVAL;
    if ((err = check_write(s, len)) < 0 || len == 0)
        return err;
    struct iovec iov = { base + off, len };
    ssize_t sent = send_now(s, &iov, 1, len);
    if (sent < 0)
        return (int)sent;
    if ((size_t)sent == len)
        return 0;
    if ((err = sockit__out_ref(&s->out, SEG_SHARED, sh, off + (size_t)sent, len - (size_t)sent))) {
        close_with(s, err);
        return err;
    }
    queued(s);
    return 0;
}

int sockit_stream_send_file(struct sockit_stream *s, struct sockit_shared *file, uint64_t off,
                            uint64_t len)
{
    int err;

    if (sockit_shared_fd(file) < 0 || len > SIZE_MAX || off > sockit_shared_len(file) ||
        len > sockit_shared_len(file) - off)
        return -EINVAL;
    if ((err = check_write(s, 0)) < 0 || len == 0)
        return err;
    if ((err = sockit__out_ref(&s->out, SEG_FILE, file, off, (size_t)len))) {
        close_with(s, err);
        return err;
    }
    if (!s->loop->be->complete && s->can_write && !s->connecting)
        flush(s);
    if (!s->closing)
        queued(s);
    return 0;
}

void sockit_stream_read_stop(struct sockit_stream *s)
{
    if (s->stopped || s->closing)
        return;
    s->stopped = true;
    reading_changed(s);
}

void sockit_stream_read_start(struct sockit_stream *s)
{
    if (!s->stopped || s->closing)
        return;
    s->stopped = false;
    reading_changed(s);
}

size_t sockit_stream_pending(const struct sockit_stream *s)
{
    return pending(s);
}

bool sockit_stream_full(const struct sockit_stream *s)
{
    return s->full;
}

void sockit_stream_set_backpressure(struct sockit_stream *s, bool pause_reading)
{
    s->keep_reading = !pause_reading;
    if (s->keep_reading && s->paused) {
        s->paused = false;
        reading_changed(s);
    } else if (!s->keep_reading && s->full && !s->paused) {
        s->paused = true;
        reading_changed(s);
    }
}

void sockit_stream_set_ops(struct sockit_stream *s, const struct sockit_stream_ops *ops, void *ud)
{
    s->ops = ops;
    s->ud = ud;
}

void sockit_stream_shutdown(struct sockit_stream *s)
{
    if (s->closing || s->shut_pending)
        return;
    s->shut_pending = true;
    shut_if_flushed(s);
}

void sockit_stream_close_after_flush(struct sockit_stream *s)
{
    if (s->closing)
        return;
    if (pending(s) == 0 && !s->connecting)
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
    if (loop->be->edge)
        slot->mask = SOCKIT_EV_READ | SOCKIT_EV_WRITE; /* once, for everything */
    else
        slot->mask = s->connecting ? SOCKIT_EV_WRITE : SOCKIT_EV_READ;
    err = loop->be->update(loop, s->fd, slot, true);
    if (err)
        sockit__slot_release(loop, s->fd);
    return err;
}

/* A stream object for FD, not yet known to the backend. */
static int new_stream(struct sockit_loop *loop, int fd, const struct sockit_stream_ops *ops,
                      void *ud, const struct sockit_stream_limits *limits,
                      struct sockit_stream **out)
{
    struct sockit_stream_limits lim = limits ? *limits : default_limits;
    struct sockit_stream *s;

    if (lim.high_water == 0) { /* zero is the default, as for every other setting */
        lim.high_water = default_limits.high_water;
        lim.low_water = lim.low_water ? lim.low_water : default_limits.low_water;
    }
    if (lim.max_output == 0)
        lim.max_output = default_limits.max_output;
    if (lim.low_water > lim.high_water)
        return -EINVAL;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    *s = (struct sockit_stream){ .loop = loop,
                                 .fd = fd,
                                 .ops = ops,
                                 .ud = ud,
                                 .low = lim.low_water,
                                 .high = lim.high_water,
                                 .max_out = lim.max_output,
                                 .can_write = true,
                                 .out = { .pool = &loop->outbufs } };
    sockit_buf_init(&s->held, SIZE_MAX);
    *out = s;
    return 0;
}

/* Start S on the backend (as a connecting stream if S->connecting) and link it in. */
static int start_stream(struct sockit_loop *loop, struct sockit_stream *s)
{
    int err = loop->be->complete ? loop->be->stream_start(loop, s) : register_readiness(loop, s);

    if (err)
        return err;
    s->next = loop->streams;
    if (loop->streams)
        loop->streams->prev = s;
    loop->streams = s;
    loop->refs++; /* an open stream keeps the loop running */
    return 0;
}

int sockit_stream_open(struct sockit_loop *loop, int fd, const struct sockit_stream_ops *ops,
                       void *ud, const struct sockit_stream_limits *limits,
                       struct sockit_stream **out)
{
    struct sockit_stream *s = NULL;
    int err = new_stream(loop, fd, ops, ud, limits, &s);

    if (!err && (err = start_stream(loop, s)) < 0)
        free(s);
    if (err) {
        close(fd);
        return err;
    }
    *out = s;
    return 0;
}

/* ---- outbound connections -------------------------------------------------------------- */

static void on_connect_timeout(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop;
    (void)t;
    close_with(data, -ETIMEDOUT);
}

void sockit__stream_connected(struct sockit_stream *s, int err)
{
    if (!s->connecting || s->closing)
        return;
    sockit_timer_stop(s->loop, &s->connect_timer);
    if (err) {
        close_with(s, err);
        return;
    }
    s->connecting = false;
    s->can_write = true;
    if (s->ops->on_connect)
        s->ops->on_connect(s, s->ud);
    if (s->closing)
        return;
    shut_if_flushed(s);
    if (s->loop->be->complete) {
        s->loop->be->stream_send(s->loop, s); /* may fail at once (a file that shrank) */
        if (!s->closing)
            s->loop->be->stream_read(s->loop, s, wants_read(s));
    } else {
        update_interest(s);
        pump(s);
    }
    if (s->close_after_flush && pending(s) == 0)
        close_with(s, 0);
}

static void connect_failed(struct sockit_loop *loop, void *data)
{
    struct sockit_stream *s = data;

    (void)loop;
    sockit__stream_connected(s, s->close_err);
}

/* Readiness backends: a non-blocking connect(); its end shows as writability. A connect that
 * fails at once (a unix socket with no listener, or a full backlog: EAGAIN) is reported from
 * a deferred call, so on_close never runs inside sockit_stream_connect. */
static void connect_now(struct sockit_stream *s, const struct sockit_addr *to)
{
    int rc = connect(s->fd, &to->u.sa, to->len);
    int err = rc < 0 ? errno : 0; /* before formatting the address, which may set errno */

    if (__builtin_expect(s->loop->opts.trace != NULL, 0)) {
        char addr[SOCKIT_ADDR_STRLEN];
        sockit_addr_format(to, addr, sizeof(addr));
        errno = err;
        SOCKIT__TRACE_CALL(s->loop, rc, "connect(%d, %s)", s->fd, addr);
    }
    if (rc == 0 || err == EINPROGRESS)
        return;
    s->close_err = -err;
    sockit_loop_defer(s->loop, &s->pump_defer, connect_failed, s);
}

int sockit_stream_connect(struct sockit_loop *loop, const struct sockit_addr *to,
                          unsigned timeout_ms, const struct sockit_stream_ops *ops, void *ud,
                          const struct sockit_stream_limits *limits, struct sockit_stream **out)
{
    int fd = socket(to->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockit_stream *s = NULL;
    int err = fd < 0 ? -errno : new_stream(loop, fd, ops, ud, limits, &s);

    if (err) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    s->connecting = true;
    sockit_timer_init(&s->connect_timer, on_connect_timeout, s);
    if ((err = start_stream(loop, s)) < 0) {
        close(fd);
        free(s);
        return err;
    }
    *out = s;
    if (timeout_ms && sockit_timer_start(loop, &s->connect_timer, timeout_ms * 1000000ull, 0))
        close_with(s, -ENOMEM);
    if (s->closing)
        return 0;
    if (loop->be->complete)
        loop->be->stream_connect(loop, s, to);
    else
        connect_now(s, to);
    return 0;
}

/* Loop teardown: close every stream that is still open; their on_close runs (-ECANCELED)
 * once the backend has nothing in flight for them. */
void sockit__stream_close_all(struct sockit_loop *loop)
{
    for (struct sockit_stream *s = loop->streams; s; s = s->next)
        close_with(s, -ECANCELED);
}
