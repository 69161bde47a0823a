/* io_uring datagrams. Receiving is one multishot recvmsg per dgram that draws from the dgram's
 * own provided-buffer ring (each buffer: the recvmsg header, the sender, max_size bytes), and
 * what one reap brings reaches on_recv as one batch. Sending is a chain of linked sendmsg
 * requests, one per queued datagram, submitted together and completed with one CQE;
 * MSG_DONTWAIT makes a full socket fail the request and cancel the rest of the chain, as a
 * short sendmmsg would, and a datagram leaves the queue only after its request has completed.
 * Paused, the dgram keeps what the receive still brings before its cancellation lands (at most its
 * buffers), and hands it over first when resumed. The backend state of a dgram is freed after its
 * last completion.
 *
 * Ownership: struct ur_dgram is this file's, hung on sockit_dgram.be_data while the dgram is
 * native; the buffers and the ring are the kernel's while handed out, then the dgram's. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../core/trace.h"
#include "dgram_internal.h"
#include "uring_internal.h"

#define MIN_BUFFERS 8     /* per dgram, whatever its batch */
#define BGID_FIRST  2     /* group 1 is the streams' pool (backend_uring.c) */
#define BGID_LAST   65535 /* buffer group ids are 16 bits */
#define BGID_TRIES  64    /* ids tried when the kernel has some in use already */
#define TAG_BITS    7u

enum dreq_op { OP_RECV, OP_SEND, OP_WPOLL, NOPS };

/* What a request's tag points at: the dgram, the operation, and for a send its place in the
 * chain. */
struct ur_dreq {
    struct sockit_dgram *d;
    unsigned op;
    unsigned idx;
};

/* A received buffer not yet handed to on_recv: its id and the bytes the kernel wrote. */
struct held {
    unsigned bid;
    int res;
};

struct ur_dgram {
    struct ur_dreq req[NOPS];
    struct ur_dreq *sreq;           /* one per send of a chain (BATCH) */
    struct sockit__uring_dgrams *g; /* the loop's, for the attention list */
    struct io_uring_buf_ring *br;
    char *bufs;
    size_t stride;      /* bytes from one buffer to the next */
    unsigned size;      /* bytes of a buffer, as the kernel sees it */
    unsigned count;     /* buffers, a power of two */
    unsigned bgid;      /* their group */
    struct msghdr tmpl; /* what the multishot recvmsg wants of each buffer */
    struct held *held;  /* arrived, in order, not yet delivered (COUNT at most) */
    unsigned nheld;     /* how many */
    unsigned got;       /* datagrams of the receive in flight (for the trace) */
    size_t chain;       /* send requests in flight, all of one chain */
    size_t chain_ok;    /* of them, sent */
    int chain_err;      /* the error of the first that failed (those after it are cancelled) */
    bool recv_armed;    /* the multishot recvmsg is in flight */
    bool wpoll_armed;   /* waiting for room in the socket */
    bool on_list;       /* in the loop's attention list */
    bool busy;          /* in a callback: not to be freed under the caller */
    struct ur_dgram *next_attention;
};

static struct ur_dgram *udgram(const struct sockit_dgram *d)
{
    return d->be_data;
}

static uint64_t tag_of(struct ur_dgram *u, enum dreq_op op)
{
    return (uint64_t)(uintptr_t)&u->req[op] | SOCKIT__URING_TAG_DGRAM;
}

/* ---- the dgram's buffers ---------------------------------------------------------------- */

static size_t ring_bytes(unsigned count)
{
    return count * sizeof(struct io_uring_buf);
}

/* What io_uring_setup_buf_ring does from liburing 2.4 on (2.3 lacks it): a ring of COUNT
 * entries, page-aligned as the kernel wants, registered for group BGID. */
static struct io_uring_buf_ring *setup_buf_ring(struct io_uring *ring, unsigned count,
                                                unsigned bgid, int *err)
{
    void *mem =
        mmap(NULL, ring_bytes(count), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)mem,
                                    .ring_entries = count,
                                    .bgid = (uint16_t)bgid };
    *err = io_uring_register_buf_ring(ring, &reg, 0);
    if (*err) {
        munmap(mem, ring_bytes(count));
        return NULL;
    }
    io_uring_buf_ring_init(mem);
    return mem;
}

/* A group id the kernel does not use yet. */
static int register_group(struct sockit_loop *loop, struct ur_dgram *u)
{
    struct sockit__uring_dgrams *g = sockit__uring_dgrams(loop);
    int err = -EEXIST;

    for (int i = 0; i < BGID_TRIES && err == -EEXIST; i++) {
        if (g->next_bgid < BGID_FIRST || g->next_bgid > BGID_LAST)
            g->next_bgid = BGID_FIRST;
        u->bgid = g->next_bgid++;
        u->br = setup_buf_ring(sockit__uring_ring(loop), u->count, u->bgid, &err);
    }
    return err;
}

/* Put buffer BID in the ring's slot OFFSET past the tail; the kernel sees it after
 * io_uring_buf_ring_advance. */
static void give_back(struct ur_dgram *u, unsigned bid, unsigned offset)
{
    io_uring_buf_ring_add(u->br, u->bufs + bid * u->stride, u->size, (unsigned short)bid,
                          io_uring_buf_ring_mask(u->count), (int)offset);
}

/* BATCH buffers at least (a power of two), each one cache line longer than a multiple of 64
 * as the readiness path's slots are. */
static int setup_buffers(struct sockit_loop *loop, const struct sockit_dgram *d, struct ur_dgram *u)
{
    unsigned want = d->batch > MIN_BUFFERS ? d->batch : MIN_BUFFERS;
    int err;

    for (u->count = 1; u->count < want; u->count *= 2)
        ;
    u->tmpl.msg_namelen = sizeof(d->rx.msgs[0].peer.u);
    u->size = (unsigned)(sizeof(struct io_uring_recvmsg_out) + u->tmpl.msg_namelen + d->max_size);
    u->stride = (u->size + 63) / 64 * 64 + 64;
    u->bufs = malloc(u->count * u->stride);
    u->held = calloc(u->count, sizeof(*u->held));
    if (!u->bufs || !u->held)
        return -ENOMEM;
    if ((err = register_group(loop, u)) < 0)
        return err;
    for (unsigned i = 0; i < u->count; i++)
        give_back(u, i, i);
    io_uring_buf_ring_advance(u->br, (int)u->count);
    return 0;
}

static void free_state(struct sockit_loop *loop, struct ur_dgram *u)
{
    if (u->br) {
        io_uring_unregister_buf_ring(sockit__uring_ring(loop), (int)u->bgid);
        munmap(u->br, ring_bytes(u->count));
    }
    free(u->bufs);
    free(u->held);
    free(u->sreq);
    free(u);
}

/* ---- receiving -------------------------------------------------------------------------- */

static void arm_recv(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u)
{
    struct sockit__uring_dgrams *g = sockit__uring_dgrams(loop);
    struct io_uring_sqe *sqe = sockit__uring_sqe(loop);

    /* MSG_TRUNC: payloadlen is the datagram's real size, however much of it the buffer holds */
    io_uring_prep_recvmsg_multishot(sqe, d->fd, &u->tmpl, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = (uint16_t)u->bgid;
    if (g->refuse_next) { /* a flag no kernel knows: EINVAL, as before Linux 6.0 */
        g->refuse_next = false;
        sqe->ioprio |= 1u << 15;
    }
    io_uring_sqe_set_data64(sqe, tag_of(u, OP_RECV));
    u->recv_armed = true;
    u->got = 0;
}

static bool wants_recv(const struct sockit_dgram *d, const struct ur_dgram *u)
{
    return d->rx_native && !d->paused && !d->closing && !u->recv_armed && u->nheld < u->count;
}

/* What the kernel wrote in buffer H: the header, the sender, the payload. */
static void parse(const struct ur_dgram *u, const struct held *h, struct sockit_dgram_msg *m)
{
    struct msghdr *tmpl = (struct msghdr *)&u->tmpl; /* liburing's helpers take it non-const */
    char *buf = u->bufs + h->bid * u->stride;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, h->res, tmpl);

    if (!o) { /* shorter than its header: the kernel never does that */
        *m = (struct sockit_dgram_msg){ .data = buf };
        return;
    }
    m->data = io_uring_recvmsg_payload(o, tmpl);
    m->len = io_uring_recvmsg_payload_length(o, h->res, tmpl);
    m->truncated = (o->flags & MSG_TRUNC) != 0;
    m->full_len = m->truncated ? o->payloadlen : m->len;
    sockit__addr_copy(&m->peer, io_uring_recvmsg_name(o), o->namelen); /* room for a whole one */
}

/* Hand HELD[FROM, FROM + N) to on_recv, then their buffers back to the kernel. */
static void deliver_batch(struct sockit_dgram *d, struct ur_dgram *u, unsigned from, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        parse(u, &u->held[from + i], &d->rx.msgs[i]);
    sockit__dgram_deliver(d, n);
    for (unsigned i = 0; i < n; i++)
        give_back(u, u->held[from + i].bid, i);
    io_uring_buf_ring_advance(u->br, (int)n);
}

/* Deliver what is held, BATCH at a time, while the dgram takes it. */
static void deliver_held(struct sockit_dgram *d, struct ur_dgram *u)
{
    unsigned done = 0;

    u->busy = true;
    while (done < u->nheld && !d->paused && !d->closing) {
        unsigned n = u->nheld - done < d->batch ? u->nheld - done : d->batch;
        deliver_batch(d, u, done, n);
        done += n;
    }
    u->busy = false;
    u->nheld -= done;
    memmove(u->held, u->held + done, u->nheld * sizeof(*u->held));
}

static void trace_recv_end(const struct sockit_dgram *d, const struct ur_dgram *u, int res)
{
    char call[64];

    snprintf(call, sizeof(call), "io_uring recvmsg(%d, multishot)", d->fd);
    sockit__trace_result(d->trace, call, res < 0 ? res : (int)u->got);
}

/* The kernel refused multishot recvmsg: this dgram and the next ones receive through watchers
 * (sending stays here). */
static void refused(struct sockit_loop *loop, struct sockit_dgram *d)
{
    sockit__uring_dgrams(loop)->refused = true;
    sockit__dgram_use_watch(d);
}

static void on_recv(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u,
                    const struct io_uring_cqe *cqe)
{
    int res = cqe->res;

    if (!(cqe->flags & IORING_CQE_F_MORE)) { /* ended: re-armed once the reap is over */
        u->recv_armed = false;
        if (d->trace)
            trace_recv_end(d, u, res);
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        if (!d->closing && u->nheld < u->count) {
            u->held[u->nheld++] = (struct held){ cqe->flags >> IORING_CQE_BUFFER_SHIFT, res };
            u->got++;
        }
    } else if (res == -EINVAL && d->rx_native) {
        refused(loop, d);
    } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED && !d->closing) {
        /* an ICMP error ends the receive: what came before it first, then the error */
        deliver_held(d, u);
        u->busy = true;
        sockit__dgram_recv_error(d, res);
        u->busy = false;
    }
}

/* ---- sending ---------------------------------------------------------------------------- */

/* One linked chain of sendmsg requests for the first datagrams of the queue (at most BATCH);
 * it must not straddle two submissions, or it would be cut in two. It posts one completion:
 * the last request's, or that of the first to fail (IOSQE_CQE_SKIP_SUCCESS on the others: the
 * kernel then posts none for those the failure cancels). */
static void submit_chain(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u)
{
    struct io_uring *ring = sockit__uring_ring(loop);
    size_t n = sockit__dgram_gather(d);

    if (n == 0)
        return;
    if (io_uring_sq_space_left(ring) < n)
        io_uring_submit(ring);
    for (size_t i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring); /* there is room: checked above */
        io_uring_prep_sendmsg(sqe, d->fd, &d->tx_hdr[i].msg_hdr, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (i + 1 < n)
            sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)&u->sreq[i] | SOCKIT__URING_TAG_DGRAM);
    }
    u->chain = n;
}

/* Wait for room in the socket (a send met EAGAIN). */
static void arm_wpoll(struct sockit_loop *loop, struct ur_dgram *u, int fd)
{
    struct io_uring_sqe *sqe = sockit__uring_sqe(loop);

    io_uring_prep_poll_add(sqe, fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, tag_of(u, OP_WPOLL));
    u->wpoll_armed = true;
}

static void trace_chain(const struct sockit_dgram *d, const struct ur_dgram *u)
{
    char call[64];

    snprintf(call, sizeof(call), "io_uring sendmsg(%d, %zu linked)", d->fd, u->chain);
    sockit__trace_result(d->trace, call, u->chain_ok ? (long)u->chain_ok : u->chain_err);
}

/* Every request of the chain has completed: pop what left, and go on as a sendmmsg loop
 * would (closing: only while the socket takes it). */
static void chain_ended(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u)
{
    bool again;

    if (d->trace)
        trace_chain(d, u);
    u->busy = true; /* and the chain still counts: a close from a callback sends nothing yet */
    again = sockit__dgram_sent(d, u->chain_ok, u->chain_err);
    u->busy = false;
    u->chain = 0;
    if (d->blocked && !d->closing)
        arm_wpoll(loop, u, d->fd);
    else if (again)
        submit_chain(loop, d, u);
}

/* The one completion of the chain: of its last request, or of request IDX, which failed. */
static void on_send(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u,
                    unsigned idx, int res)
{
    if (!u->chain)
        return; /* none in flight: not ours to count */
    u->chain_ok = res < 0 ? idx : u->chain;
    u->chain_err = res < 0 ? res : 0;
    chain_ended(loop, d, u);
}

static void on_wpoll(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u, int res)
{
    u->wpoll_armed = false;
    if (d->closing)
        return;
    if (res > 0 && (res & POLLERR)) { /* an ICMP error waits: read it, or this would spin */
        u->busy = true;
        sockit__dgram_drain_errors(d);
        u->busy = false;
        if (d->closing) /* closed from on_error */
            return;
    }
    d->blocked = false;
    sockit__dgram_flush_begin(d, true);
    submit_chain(loop, d, u);
}

/* ---- completions and their aftermath ---------------------------------------------------- */

static void attention(struct ur_dgram *u)
{
    if (u->on_list)
        return;
    u->on_list = true;
    u->next_attention = u->g->attention;
    u->g->attention = u;
}

/* A closing dgram of which the kernel holds nothing any more: free the backend state and let
 * dgram.c finish it. */
static void maybe_finish(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u)
{
    if (!d->closing || u->recv_armed || u->chain || u->wpoll_armed || u->on_list || u->busy)
        return;
    free_state(loop, u);
    d->be_data = NULL;
    sockit__dgram_closed(d);
}

/* After completions, or a resume: deliver what waits, re-arm the receive, finish a closing
 * dgram. */
static void settle(struct sockit_loop *loop, struct sockit_dgram *d, struct ur_dgram *u)
{
    deliver_held(d, u);
    if (wants_recv(d, u))
        arm_recv(loop, d, u);
    maybe_finish(loop, d, u);
}

void sockit__uring_dgram_complete(struct sockit_loop *loop, uint64_t tag,
                                  const struct io_uring_cqe *cqe)
{
    const struct ur_dreq *r = (const struct ur_dreq *)(uintptr_t)(tag & ~(uint64_t)TAG_BITS);
    struct sockit_dgram *d = r->d;
    struct ur_dgram *u = udgram(d);

    attention(u); /* first: a callback below may close D, and U must stay until then */
    switch (r->op) {
    case OP_RECV: on_recv(loop, d, u, cqe); break;
    case OP_SEND: on_send(loop, d, u, r->idx, cqe->res); break;
    case OP_WPOLL: on_wpoll(loop, d, u, cqe->res); break;
    default: break;
    }
}

void sockit__uring_dgram_reaped(struct sockit_loop *loop)
{
    struct sockit__uring_dgrams *g = sockit__uring_dgrams(loop);
    struct ur_dgram *u;

    while ((u = g->attention)) {
        g->attention = u->next_attention;
        u->on_list = false;
        settle(loop, u->req[OP_RECV].d, u);
    }
}

bool sockit__uring_dgram_busy(const struct sockit_loop *loop)
{
    for (const struct sockit_dgram *d = loop->dgrams; d; d = d->next)
        if (d->be_data)
            return true;
    return false;
}

/* ---- the backend's dgram ops ------------------------------------------------------------ */

int sockit__uring_dgram_start(struct sockit_loop *loop, struct sockit_dgram *d)
{
    struct ur_dgram *u;
    int err;

    if (loop->opts.uring_datagrams != SOCKIT_URING_DATAGRAMS_NATIVE ||
        sockit__uring_dgrams(loop)->refused)
        return -EOPNOTSUPP; /* the readiness path (dgram.c) moves them */
    if (!(u = calloc(1, sizeof(*u))))
        return -ENOMEM;
    u->g = sockit__uring_dgrams(loop);
    for (unsigned op = 0; op < NOPS; op++)
        u->req[op] = (struct ur_dreq){ d, op, 0 };
    if ((u->sreq = calloc(d->batch, sizeof(*u->sreq))))
        for (unsigned i = 0; i < d->batch; i++)
            u->sreq[i] = (struct ur_dreq){ d, OP_SEND, i };
    err = u->sreq ? setup_buffers(loop, d, u) : -ENOMEM;
    if (err < 0) {
        free_state(loop, u);
        return err;
    }
    d->be_data = u;
    arm_recv(loop, d, u);
    return 0;
}

static void resume_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_dgram *d = data;
    struct ur_dgram *u = udgram(d);

    if (u && !d->closing && d->rx_native && !u->on_list)
        settle(loop, d, u);
}

/* Off: cancel the receive (what it still brings is held). On: from a deferred call, deliver
 * what was held, then receive again. */
void sockit__uring_dgram_read(struct sockit_loop *loop, struct sockit_dgram *d, bool on)
{
    struct ur_dgram *u = udgram(d);

    if (on)
        sockit_loop_defer(loop, &d->rx_defer, resume_deferred, d);
    else if (u->recv_armed)
        sockit__uring_cancel(loop, tag_of(u, OP_RECV));
}

void sockit__uring_dgram_send(struct sockit_loop *loop, struct sockit_dgram *d)
{
    struct ur_dgram *u = udgram(d);

    if (u->chain || u->wpoll_armed || d->blocked || d->closing)
        return;
    sockit__dgram_flush_begin(d, false);
    submit_chain(loop, d, u);
}

/* Cancel the receive and the wait for room; send what the socket takes at once (a chain in
 * flight goes first); finish once nothing is in flight. */
void sockit__uring_dgram_close(struct sockit_loop *loop, struct sockit_dgram *d)
{
    struct ur_dgram *u = udgram(d);

    if (u->recv_armed)
        sockit__uring_cancel(loop, tag_of(u, OP_RECV));
    if (u->wpoll_armed)
        sockit__uring_cancel(loop, tag_of(u, OP_WPOLL));
    if (!u->chain) {
        sockit__dgram_flush_begin(d, false);
        submit_chain(loop, d, u);
    }
    maybe_finish(loop, d, u);
}

void sockit__uring_dgram_refuse_next(struct sockit_loop *loop)
{
    if (loop->be == &sockit__backend_uring)
        sockit__uring_dgrams(loop)->refuse_next = true;
}
