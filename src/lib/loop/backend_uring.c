/* io_uring backend (liburing). Streams are completion-based: one multishot receive per
 * stream fills buffers the kernel picks from a ring shared by the loop (provided buffers), and
 * sends are queued as requests, so a round of traffic on any number of streams costs one
 * io_uring_enter. Watchers and listeners use one-shot poll requests, re-armed after each
 * callback, which gives them level-triggered behaviour like the other backends.
 *
 * Each request carries a 64-bit tag: a stream pointer with the operation in the low bits, or
 * (fd, generation) for polls, so a completion for a closed and reused fd is recognised and
 * dropped. A stream is freed only after the final completion of each of its requests.
 * Datagrams have requests and buffer rings of their own: uring_dgram.c, through
 * uring_internal.h. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loop_internal.h"
#include "uring_internal.h"

#define RING_ENTRIES 1024
#define BUF_GROUP    1
/* Incremental consumption (Linux 6.12): a receive takes only the bytes it needs from the
 * current buffer, so a few large buffers serve small messages and bulk streams alike
 * (64 KiB completions: bulk echo 1.3x faster than with 4 KiB). Older kernels consume a
 * whole buffer per completion: there, many small ones go further. */
#define INC_BUF_SIZE     (64u * 1024)
#define CLASSIC_BUF_SIZE (4u * 1024)
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2 /* liburing before 2.8 lacks these two names */
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1u << 4)
#endif
#ifdef IO_URING_VERSION_MAJOR
#define BUF_REG_FLAGS flags /* liburing 2.4 and later */
#else
#define BUF_REG_FLAGS pad /* liburing 2.3 (Debian 12) still calls the flags field "pad" */
#endif

enum { TAG_POLL = 1, TAG_RECV, TAG_SEND, TAG_WPOLL, TAG_CONNECT, TAG_MASK = 7 };
_Static_assert(SOCKIT__URING_TAG_DGRAM > TAG_CONNECT && SOCKIT__URING_TAG_DGRAM < TAG_MASK,
               "datagram requests have a tag of their own (uring_dgram.c)");

struct ur_state {
    struct io_uring ring;
    unsigned polls; /* poll requests in flight: each holds its file (drain_polls) */
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned buf_size, buf_count; /* buf_count is a power of two */
    uint32_t *used;               /* incremental: bytes of each buffer already handed out */
    bool incremental;
    bool no_recv_limit; /* the kernel refused a byte limit on multishot receives */
    unsigned returned;  /* buffers given back since the last advance */
    int sq_err;         /* the kernel refused a submission to make room: the loop has failed */
    struct io_uring_sqe scratch; /* handed out, never submitted, once sq_err is set */
    /* uring_dgram.c's state */
    struct sockit__uring_dgrams dgrams;
};

static struct ur_state *state(struct sockit_loop *loop)
{
    return loop->be_state;
}

/* The queue is full: submit what is there to make room. Should the kernel refuse that
 * submission (-EAGAIN or -ENOMEM under memory pressure; a few tries), the loop has failed:
 * the request goes into a scratch slot that is never submitted, every later update fails,
 * and the next wait returns the error, so sockit_loop_run ends with it instead of writing
 * through a NULL slot. Out of line and cold: the common path is get_sqe's first line (kept
 * inline, it measured 8 fewer instructions per echoed message than one function for both). */
__attribute__((noinline, cold)) static struct io_uring_sqe *get_sqe_full(struct sockit_loop *loop)
{
    struct ur_state *st = state(loop);
    struct io_uring_sqe *sqe = NULL;
    int err = 0;

    for (int tries = 0; !sqe && !st->sq_err && tries < 3; tries++) {
        err = io_uring_submit(&st->ring);
        sqe = io_uring_get_sqe(&st->ring);
    }
    if (sqe)
        return sqe;
    if (!st->sq_err)
        st->sq_err = err < 0 && err != -EINTR ? err : -EBUSY;
    loop->failed = st->sq_err; /* sockit_loop_run ends with it after this round */
    return &st->scratch;
}

/* A submission slot. */
static inline struct io_uring_sqe *get_sqe(struct sockit_loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&state(loop)->ring);

    return __builtin_expect(sqe != NULL, 1) ? sqe : get_sqe_full(loop);
}

static size_t ring_bytes(const struct ur_state *st)
{
    return st->buf_count * sizeof(struct io_uring_buf);
}

/* How many buffers of the pool's size fit: a power of two (the ring's size), at most what one
 * ring holds. */
static unsigned buffer_count(size_t pool, unsigned size)
{
    unsigned n = 1;

    while ((size_t)n * 2 * size <= pool && n < 32768)
        n *= 2;
    return n;
}

/* Register the provided-buffer ring in the layout the options ask for; AUTO tries incremental
 * first and falls back to classic where the kernel lacks it. */
static int register_buffers(struct ur_state *st, const struct sockit_loop_options *o)
{
    int first = o->uring_buffers == SOCKIT_URING_BUFFERS_CLASSIC;
    int last = o->uring_buffers == SOCKIT_URING_BUFFERS_INCREMENTAL ? 0 : 1;

    for (int attempt = first; attempt <= last; attempt++) {
        st->incremental = attempt == 0;
        st->buf_size = st->incremental ? INC_BUF_SIZE : CLASSIC_BUF_SIZE;
        st->buf_count = buffer_count(o->uring_pool, st->buf_size);
        void *mem =
            mmap(NULL, ring_bytes(st), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            return -errno;
        struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)mem,
                                        .ring_entries = st->buf_count,
                                        .bgid = BUF_GROUP,
                                        .BUF_REG_FLAGS = st->incremental ? IOU_PBUF_RING_INC : 0 };
        int err = io_uring_register_buf_ring(&st->ring, &reg, 0);
        if (!err) {
            st->br = mem;
            return 0;
        }
        munmap(mem, ring_bytes(st));
        if (err != -EINVAL || !st->incremental)
            return err; /* kernels before 5.19: no provided-buffer rings */
    }
    return -EINVAL;
}

static char *buffer(const struct ur_state *st, unsigned bid)
{
    return st->bufs + (size_t)bid * st->buf_size;
}

/* Put buffer BID, whole, in the ring's slot OFFSET past the tail; the kernel sees it after
 * io_uring_buf_ring_advance. */
static void add_buffer(struct ur_state *st, unsigned bid, unsigned offset)
{
    io_uring_buf_ring_add(st->br, buffer(st, bid), st->buf_size, (unsigned short)bid,
                          io_uring_buf_ring_mask(st->buf_count), (int)offset);
}

static int setup_buffers(struct ur_state *st, const struct sockit_loop_options *o)
{
    int err = register_buffers(st, o);

    if (err)
        return err;
    st->bufs = malloc((size_t)st->buf_count * st->buf_size);
    st->used = calloc(st->buf_count, sizeof(*st->used));
    if (!st->bufs || !st->used)
        return -ENOMEM;
    io_uring_buf_ring_init(st->br);
    for (unsigned i = 0; i < st->buf_count; i++)
        add_buffer(st, i, i);
    io_uring_buf_ring_advance(st->br, (int)st->buf_count);
    return 0;
}

static void free_state(struct ur_state *st, bool ring_up)
{
    if (ring_up)
        io_uring_queue_exit(&st->ring);
    if (st->br)
        munmap(st->br, ring_bytes(st));
    free(st->bufs);
    free(st->used);
    free(st);
}

static int ur_init(struct sockit_loop *loop)
{
    struct ur_state *st = calloc(1, sizeof(*st));
    /* No SINGLE_ISSUER: a loop may be created in one thread and run in another. */
    struct io_uring_params p = { .flags = IORING_SETUP_COOP_TASKRUN };
    int err;

    if (!st)
        return -ENOMEM;
    err = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
    if (err == -EINVAL) { /* kernels before 5.19 lack this flag */
        memset(&p, 0, sizeof(p));
        err = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
    }
    if (err) { /* -ENOSYS: no io_uring; -EPERM: disabled (kernel.io_uring_disabled) */
        free_state(st, false);
        return err;
    }
    err = setup_buffers(st, &loop->opts);
    if (err) {
        free_state(st, true);
        return err;
    }
    loop->be_state = st;
    return 0;
}

static void drain_polls(struct sockit_loop *loop);

static void ur_fini(struct sockit_loop *loop)
{
    drain_polls(loop);
    free_state(state(loop), true);
    loop->be_state = NULL;
}

/* ---- tracing (only when a hook is set) ------------------------------------------------------ */

static const char *poll_name(unsigned ev)
{
    return (ev & POLLIN) && (ev & POLLOUT) ? "IN|OUT" : (ev & POLLIN) ? "IN" : "OUT";
}

static const char *const op_names[] = { "?", "poll", "recv multishot", "send", "poll", "connect" };

/* The fd a request's tag names: in the tag itself for polls, else the stream's. */
static int tag_fd(uint64_t tag)
{
    unsigned op = tag & TAG_MASK;

    if (op == TAG_POLL)
        return (int)((tag & 0xffffffffu) >> 3);
    return ((struct sockit_stream *)(uintptr_t)(tag & ~(uint64_t)TAG_MASK))->fd;
}

static void trace_cancel(struct sockit_loop *loop, uint64_t tag)
{
    unsigned op = tag & TAG_MASK;

    if (op >= 1 && op <= TAG_CONNECT)
        sockit__trace(loop->opts.trace, "io_uring: + cancel %s fd %d", op_names[op], tag_fd(tag));
}

static void trace_completion(struct sockit_loop *loop, uint64_t tag, const struct io_uring_cqe *cqe)
{
    unsigned op = tag & TAG_MASK;

    if (op < 1 || op > TAG_CONNECT)
        return; /* a cancellation's own completion */
    sockit__trace_call(loop->opts.trace, cqe->res, "io_uring: %s fd %d%s", op_names[op],
                       tag_fd(tag), (cqe->flags & IORING_CQE_F_MORE) ? " (more)" : "");
}

/* ---- polls: watchers, listeners, internal fds ------------------------------------------- */

/* (generation, arm number, fd): a completion of a poll that was cancelled or replaced, or
 * of an fd that changed hands, matches none of the slot's current values. */
static uint64_t poll_tag(int fd, const struct sockit__fdslot *slot)
{
    uint32_t who = (slot->gen << 8) | (slot->arm_seq & 0xffu);
    return ((uint64_t)who << 32) | ((uint64_t)(uint32_t)fd << 3) | TAG_POLL;
}

static void arm_poll(struct sockit_loop *loop, int fd, struct sockit__fdslot *slot)
{
    struct io_uring_sqe *sqe = get_sqe(loop);
    unsigned ev = ((slot->mask & SOCKIT_EV_READ) ? POLLIN : 0u) |
                  ((slot->mask & SOCKIT_EV_WRITE) ? POLLOUT : 0u);

    slot->arm_seq++;
    SOCKIT__TRACE(loop, "io_uring: + poll fd %d %s", fd, poll_name(ev));
    io_uring_prep_poll_add(sqe, fd, ev);
    io_uring_sqe_set_data64(sqe, poll_tag(fd, slot));
    slot->registered = true;
    slot->armed = slot->mask;
    state(loop)->polls++;
}

static void cancel(struct sockit_loop *loop, uint64_t tag)
{
    struct io_uring_sqe *sqe = get_sqe(loop);

    if (__builtin_expect(loop->opts.trace != NULL, 0))
        trace_cancel(loop, tag);
    io_uring_prep_cancel64(sqe, tag, 0);
    io_uring_sqe_set_data64(sqe, 0); /* its own completion is not interesting */
}

static int ur_update(struct sockit_loop *loop, int fd, struct sockit__fdslot *slot, bool edge)
{
    (void)edge;
    if (state(loop)->sq_err)
        return state(loop)->sq_err;
    if (slot->registered && slot->armed == slot->mask)
        return 0;
    if (!slot->registered && slot->mask && fcntl(fd, F_GETFD) < 0)
        return -errno; /* a poll request would only fail later, asynchronously */
    if (slot->registered) {
        cancel(loop, poll_tag(fd, slot));
        slot->registered = false;
    }
    if (slot->mask)
        arm_poll(loop, fd, slot);
    return 0;
}

static void on_poll(struct sockit_loop *loop, uint64_t tag, int res)
{
    int fd = (int)((tag & 0xffffffffu) >> 3);
    struct sockit__fdslot *slot = sockit__slot(loop, fd);

    state(loop)->polls--; /* one-shot: this is its only completion */
    if (res < 0 || !slot || !slot->registered || poll_tag(fd, slot) != tag)
        return; /* cancelled or replaced, or the fd changed hands */
    uint32_t gen = slot->gen;
    slot->registered = false; /* one-shot: it fired */
    unsigned ev = ((res & POLLIN) ? SOCKIT_EV_READ : 0u) |
                  ((res & POLLOUT) ? SOCKIT_EV_WRITE : 0u) |
                  ((res & (POLLERR | POLLHUP)) ? SOCKIT_EV_ERROR : 0u);
    sockit__dispatch(loop, fd, gen, ev);
    slot = sockit__slot(loop, fd); /* the table may have moved */
    if (slot && slot->gen == gen && slot->mask && !slot->registered)
        arm_poll(loop, fd, slot); /* still wanted: level-triggered */
}

/* ---- streams ------------------------------------------------------------------------------ */

#define UR_IOV 4 /* pieces per send request; more wait for the next one */

struct ur_stream {
    struct iovec iov[UR_IOV]; /* the kernel's while send_armed */
    struct msghdr msg;
    struct sockit_addr *peer; /* while connect_armed */
    bool recv_armed, send_armed, wpoll_armed, connect_armed, closed;
};

static struct ur_stream *ustream(struct sockit_stream *s)
{
    return s->be_data;
}

/* A multishot receive. Where the kernel allows (sqe->optlen, the slot of file_index; recent
 * kernels), it ends after read_chunk bytes and is re-armed, so a stream that stops reading never
 * has more than that in flight: the bound epoll and poll get from one recv(). */
static void arm_recv(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct io_uring_sqe *sqe = get_sqe(loop);

    SOCKIT__TRACE(loop, "io_uring: + recv multishot fd %d (limit %zu B)", s->fd,
                  state(loop)->no_recv_limit ? (size_t)0 : loop->opts.read_chunk);
    io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    if (!state(loop)->no_recv_limit)
        sqe->file_index = (uint32_t)loop->opts.read_chunk;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | TAG_RECV);
    ustream(s)->recv_armed = true;
}

/* Hand the first pieces of the output queue to the kernel: one send (or sendmsg for several
 * pieces) covering the pieces in flight. */
static void submit_send(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct ur_stream *u = ustream(s);
    struct io_uring_sqe *sqe = get_sqe(loop);
    struct sockit__seg *g = s->out.head;
    int max = s->out.flight_segs ? (int)s->out.flight_segs : UR_IOV;
    size_t bytes;
    int n;

    if (!g->next || max == 1) { /* one piece: a plain send */
        s->out.flight_segs = 1;
        s->out.flight = g->len;
        io_uring_prep_send(sqe, s->fd, g->base + g->head, g->len, MSG_NOSIGNAL);
    } else {
        n = sockit__out_gather(&s->out, u->iov, max, &bytes);
        s->out.flight_segs = (unsigned)n;
        s->out.flight = bytes;
        u->msg = (struct msghdr){ .msg_iov = u->iov, .msg_iovlen = (size_t)n };
        io_uring_prep_sendmsg(sqe, s->fd, &u->msg, MSG_NOSIGNAL);
    }
    SOCKIT__TRACE(loop, "io_uring: + send fd %d, %u piece%s, %zu B", s->fd, s->out.flight_segs,
                  s->out.flight_segs == 1 ? "" : "s", s->out.flight);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | TAG_SEND);
    u->send_armed = true;
}

/* Wait for room in the socket (a file piece met EAGAIN). */
static void arm_wpoll(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct io_uring_sqe *sqe = get_sqe(loop);

    SOCKIT__TRACE(loop, "io_uring: + poll fd %d OUT (file range)", s->fd);
    io_uring_prep_poll_add(sqe, s->fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | TAG_WPOLL);
    ustream(s)->wpoll_armed = true;
}

static int ur_stream_start(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct ur_stream *u = calloc(1, sizeof(*u));

    if (!u)
        return -ENOMEM;
    s->be_data = u;
    if (!s->connecting)
        arm_recv(loop, s);
    return 0;
}

static void ur_stream_read(struct sockit_loop *loop, struct sockit_stream *s, bool on)
{
    struct ur_stream *u = ustream(s);

    if (on && !u->recv_armed && !s->read_eof && !s->closing && !s->connecting)
        arm_recv(loop, s);
    else if (!on && u->recv_armed)
        cancel(loop, (uint64_t)(uintptr_t)s | TAG_RECV);
}

/* File pieces at the head go out with sendfile() from the loop thread (page cache to socket,
 * no copy to user space); returns true when the socket is full or the stream failed. */
static bool send_files(struct sockit_loop *loop, struct sockit_stream *s)
{
    while (s->out.head && s->out.head->kind == SEG_FILE) {
        ssize_t n = sockit__out_sendfile(loop, &s->out, s->fd);
        if (n == -EAGAIN) {
            arm_wpoll(loop, s);
            return true;
        }
        if (n < 0) {
            sockit__stream_fail(s, (int)n);
            return true;
        }
    }
    return false;
}

/* Hand queued output to the kernel, unless a send is in flight already: the pieces it
 * covers are the kernel's until it completes, and new output queues behind them. */
static void ur_stream_send(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct ur_stream *u = ustream(s);

    if (u->send_armed || u->wpoll_armed || s->closing || s->connecting || s->out.bytes == 0)
        return;
    if (s->out.head->kind == SEG_FILE) {
        if (send_files(loop, s))
            return;
        if (s->out.bytes == 0) {
            sockit__stream_sent(s); /* the files were all there was */
            return;
        }
    }
    submit_send(loop, s);
}

static void ur_stream_connect(struct sockit_loop *loop, struct sockit_stream *s,
                              const struct sockit_addr *to)
{
    struct ur_stream *u = ustream(s);
    struct io_uring_sqe *sqe;

    if (!(u->peer = malloc(sizeof(*to)))) {
        sockit__stream_fail(s, -ENOMEM);
        return;
    }
    *u->peer = *to;
    sqe = get_sqe(loop);
    SOCKIT__TRACE(loop, "io_uring: + connect fd %d", s->fd);
    io_uring_prep_connect(sqe, s->fd, &u->peer->u.sa, u->peer->len);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | TAG_CONNECT);
    u->connect_armed = true;
}

/* The stream is closing and the kernel holds nothing of it any more. */
static inline void maybe_finish(struct sockit_stream *s)
{
    struct ur_stream *u = ustream(s);

    if (!s->closing || !u || u->recv_armed || u->send_armed || u->wpoll_armed || u->connect_armed ||
        u->closed)
        return;
    u->closed = true;
    free(u->peer);
    free(u);
    s->be_data = NULL;
    sockit__stream_closed(s);
}

static void ur_stream_close(struct sockit_loop *loop, struct sockit_stream *s)
{
    struct ur_stream *u = ustream(s);
    uint64_t base = (uint64_t)(uintptr_t)s;

    if (u->recv_armed)
        cancel(loop, base | TAG_RECV);
    if (u->send_armed)
        cancel(loop, base | TAG_SEND);
    if (u->wpoll_armed)
        cancel(loop, base | TAG_WPOLL);
    if (u->connect_armed)
        cancel(loop, base | TAG_CONNECT);
    maybe_finish(s);
}

/* Where the data of a receive completion is. In incremental mode the kernel keeps filling
 * the same buffer, each completion after the last (IORING_CQE_F_BUF_MORE), and is done
 * with it when that flag is absent; a classic completion always starts a buffer. */
static char *received(struct ur_state *st, unsigned bid, const struct io_uring_cqe *cqe)
{
    char *p = buffer(st, bid);

    if (!st->incremental)
        return p;
    p += st->used[bid];
    st->used[bid] = (cqe->flags & IORING_CQE_F_BUF_MORE) ? st->used[bid] + (uint32_t)cqe->res : 0;
    return p;
}

/* Hand the buffer back to the kernel unless it is still filling it. */
static void give_back(struct ur_state *st, unsigned bid, const struct io_uring_cqe *cqe)
{
    if (st->incremental && (cqe->flags & IORING_CQE_F_BUF_MORE))
        return;
    add_buffer(st, bid, st->returned++);
}

static void on_recv(struct sockit_loop *loop, struct sockit_stream *s,
                    const struct io_uring_cqe *cqe)
{
    struct ur_stream *u = ustream(s);
    int res = cqe->res;

    if (!(cqe->flags & IORING_CQE_F_MORE))
        u->recv_armed = false;
    if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *data = received(state(loop), bid, cqe);
        if (!s->closing)
            sockit__stream_data(s, data, (size_t)res); /* held if the stream is not reading */
        give_back(state(loop), bid, cqe);
    } else if (res == 0 && !s->closing) {
        sockit__stream_data(s, NULL, 0); /* end of stream */
    } else if (res == -EINVAL && !state(loop)->no_recv_limit) {
        state(loop)->no_recv_limit = true; /* a kernel before the receive limit: arm without */
    } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED && !s->closing) {
        sockit__stream_fail(s, res);
    }
    u = ustream(s); /* a callback above may have closed the stream and finished it */
    if (!u)
        return;
    /* Re-arm when the multishot ended on its own (its limit, out of buffers, or the kernel's
     * choice) and the stream still reads. */
    if (!u->recv_armed && !s->closing && !s->paused && !s->stopped && !s->read_eof)
        arm_recv(loop, s);
    maybe_finish(s);
}

static void on_send(struct sockit_loop *loop, struct sockit_stream *s, int res)
{
    struct ur_stream *u = ustream(s);

    u->send_armed = false;
    if (res == -EAGAIN && !s->closing) {
        /* No room after all: a send the kernel retried from its workers on a non-blocking
         * socket ends so. The pieces in flight are still queued: wait for room, send again. */
        arm_wpoll(loop, s);
        return;
    }
    if (res < 0) {
        if (res != -ECANCELED && !s->closing)
            sockit__stream_fail(s, res);
        maybe_finish(s);
        return;
    }
    sockit__out_consume(&s->out, (size_t)res);
    if (s->closing) {
        maybe_finish(s);
        return;
    }
    if (s->out.flight > 0) { /* a short send: the rest of those pieces goes next */
        submit_send(loop, s);
        return;
    }
    s->out.flight_segs = 0;
    sockit__stream_sent(s); /* watermarks, shutdown or close after flush */
    if (!ustream(s))
        return;
    if (!s->closing)
        ur_stream_send(loop, s);
    maybe_finish(s);
}

static void on_wpoll(struct sockit_loop *loop, struct sockit_stream *s, int res)
{
    ustream(s)->wpoll_armed = false;
    if (res < 0 && res != -ECANCELED && !s->closing)
        sockit__stream_fail(s, res);
    else if (!s->closing)
        ur_stream_send(loop, s);
    if (ustream(s))
        maybe_finish(s);
}

static void on_connect(struct sockit_loop *loop, struct sockit_stream *s, int res)
{
    struct ur_stream *u = ustream(s);

    (void)loop;
    u->connect_armed = false;
    free(u->peer);
    u->peer = NULL;
    if (!s->closing)
        sockit__stream_connected(s, res == -ECANCELED ? -ETIMEDOUT : res);
    if (ustream(s))
        maybe_finish(s);
}

/* ---- waiting ------------------------------------------------------------------------------ */

static void handle(struct sockit_loop *loop, const struct io_uring_cqe *cqe)
{
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    struct sockit_stream *s = (struct sockit_stream *)(uintptr_t)(tag & ~(uint64_t)TAG_MASK);

    if (__builtin_expect(loop->opts.trace != NULL, 0))
        trace_completion(loop, tag, cqe);
    switch (tag & TAG_MASK) {
    case TAG_POLL: on_poll(loop, tag, cqe->res); break;
    case TAG_RECV: on_recv(loop, s, cqe); break;
    case TAG_SEND: on_send(loop, s, cqe->res); break;
    case TAG_WPOLL: on_wpoll(loop, s, cqe->res); break;
    case TAG_CONNECT: on_connect(loop, s, cqe->res); break;
    case SOCKIT__URING_TAG_DGRAM: sockit__uring_dgram_complete(loop, tag, cqe); break;
    default: break; /* cancellations */
    }
}

static int reap(struct sockit_loop *loop)
{
    struct ur_state *st = state(loop);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&st->ring, head, cqe)
    {
        handle(loop, cqe);
        n++;
    }
    io_uring_cq_advance(&st->ring, n);
    if (st->returned) {
        io_uring_buf_ring_advance(st->br, (int)st->returned);
        st->returned = 0;
    }
    sockit__uring_dgram_reaped(loop); /* the datagrams of this reap, as batches */
    return (int)n;
}

static int ur_wait(struct sockit_loop *loop, int64_t timeout_ns)
{
    struct ur_state *st = state(loop);
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
                                    .tv_nsec = timeout_ns % 1000000000 };
    struct io_uring_cqe *cqe;
    unsigned ready = io_uring_sq_ready(&st->ring);
    int err =
        io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts, NULL);

    if (err < 0)
        errno = -err;
    SOCKIT__TRACE_CALL(loop, err < 0 ? -1 : err,
                       "io_uring_enter(submit %u, wait 1, timeout %lld us)", ready,
                       timeout_ns < 0 ? -1 : (long long)(timeout_ns / 1000));

    if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
        return err;
    loop->now = sockit__clock_ns();
    reap(loop);
    return 0;
}

/* Loop teardown: keep completing until no stream or dgram has a request in flight. */
static void ur_drain(struct sockit_loop *loop)
{
    for (int rounds = 0; (loop->streams || loop->dgrams) && rounds < 1000; rounds++) {
        bool busy = sockit__uring_dgram_busy(loop);
        for (struct sockit_stream *s = loop->streams; s; s = s->next)
            busy |= s->be_data != NULL;
        if (!busy)
            return;
        ur_wait(loop, 10000000);
    }
}

/* Loop teardown, after the streams: cancel the polls still armed and reap every poll's
 * completion before the ring goes. A poll request holds a reference to its file, and the
 * ring's own teardown cancels requests later, in a kernel worker: a listening socket closed
 * with its poll still armed kept its port for milliseconds after the loop was freed (a new
 * bind failed with EADDRINUSE). Reaping the completion drops the reference in this thread. */
static void drain_polls(struct sockit_loop *loop)
{
    for (size_t fd = 0; fd < loop->nslots; fd++) {
        struct sockit__fdslot *slot = &loop->slots[fd];
        if (slot->registered) { /* a watcher the caller left: the loop is going anyway */
            cancel(loop, poll_tag((int)fd, slot));
            slot->registered = false;
        }
    }
    for (int rounds = 0; state(loop)->polls > 0 && rounds < 100; rounds++)
        ur_wait(loop, 10000000);
}

const struct sockit__backend sockit__backend_uring = {
    .name = "uring",
    .complete = true,
    .init = ur_init,
    .fini = ur_fini,
    .update = ur_update,
    .wait = ur_wait,
    .stream_start = ur_stream_start,
    .stream_read = ur_stream_read,
    .stream_send = ur_stream_send,
    .stream_close = ur_stream_close,
    .stream_connect = ur_stream_connect,
    .drain = ur_drain,
    .dgram_start = sockit__uring_dgram_start,
    .dgram_read = sockit__uring_dgram_read,
    .dgram_send = sockit__uring_dgram_send,
    .dgram_close = sockit__uring_dgram_close,
};

/* ---- for uring_dgram.c (uring_internal.h) ------------------------------------------------ */

struct io_uring *sockit__uring_ring(struct sockit_loop *loop)
{
    return &state(loop)->ring;
}

struct sockit__uring_dgrams *sockit__uring_dgrams(struct sockit_loop *loop)
{
    return &state(loop)->dgrams;
}

struct io_uring_sqe *sockit__uring_sqe(struct sockit_loop *loop)
{
    return get_sqe(loop);
}

void sockit__uring_cancel(struct sockit_loop *loop, uint64_t tag)
{
    cancel(loop, tag);
}
