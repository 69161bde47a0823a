/* Datagram sockets on the loop. The readiness path (epoll, poll, and io_uring where the
 * kernel refuses its own way): one recvmmsg fills a batch of slots the dgram owns and the
 * batch goes to the caller in one call; writes are copied into a bounded queue
 * (dgram_queue.c) that one sendmmsg per round empties. A backend that moves datagrams itself
 * (sockit__backend.dgram_*, io_uring) feeds the same steps: sockit__dgram_deliver for what
 * arrived, sockit__dgram_gather / _sent for the queue, _recv_error for ICMP errors. */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/trace.h"
#include "dgram_internal.h"
#include "sockit/error.h"

#define DEFAULT_MAX_SIZE     65536
#define DEFAULT_BATCH        32
#define MAX_BATCH            1024 /* UIO_MAXIOV: the kernel's cap on a recvmmsg/sendmmsg */
#define DEFAULT_QUEUE_MAX    1024
#define DEFAULT_QUEUE_BYTES  (4u << 20)
#define MAX_SLOT             (64u << 20) /* largest max_size accepted */
#define RECV_CALLS_PER_ROUND 4 /* then let the other fds run; the watch is level-triggered */
#define ERRORS_PER_ROUND     64
#define SEND_RETRIES         8 /* sends retried after reading a pending ICMP error, per flush */

static size_t queue_len(const struct sockit_dgram *d)
{
    return d->q.n;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void report(struct sockit_dgram *d, int err, const struct sockit_addr *peer)
{
    if (d->closing)
        return;
    d->st.errors++;
    if (d->ops->on_error)
        d->ops->on_error(d, err, peer, d->ud);
}

/* The errno of an IP_RECVERR / IPV6_RECVERR message, or 0. */
static int extended_errno(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        struct sock_extended_err ee;
        if (!(c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) &&
            !(c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
            continue;
        memcpy(&ee, CMSG_DATA(c), sizeof(ee));
        return (int)ee.ee_errno;
    }
    return 0;
}

/* Read one message of the socket's error queue and report it with the address it concerns.
 * Returns 1, 0 when the queue is empty, or -errno. */
static int read_error(struct sockit_dgram *d)
{
    struct sockit_addr peer = { .len = sizeof(peer.u) };
    union {
        char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = { .msg_name = &peer.u,
                         .msg_namelen = peer.len,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf) };
    ssize_t r;

    do
        r = recvmsg(d->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == EAGAIN ? 0 : -errno;
    peer.len = mh.msg_namelen;
    int err = extended_errno(&mh);
    if (err)
        report(d, -err, peer.len ? &peer : NULL);
    return 1;
}

int sockit__dgram_drain_errors(struct sockit_dgram *d)
{
    int n = 0;

    while (d->inet && !d->closing && n < ERRORS_PER_ROUND && read_error(d) > 0)
        n++;
    return n;
}

/* ---- receiving -------------------------------------------------------------------------- */

void sockit__dgram_recv_error(struct sockit_dgram *d, int err)
{
    if (sockit__dgram_drain_errors(d) == 0)
        report(d, err, d->connected.len ? &d->connected : NULL);
}

void sockit__dgram_deliver(struct sockit_dgram *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d->st.truncated += d->rx.msgs[i].truncated;
    d->st.received += n;
    d->ops->on_recv(d, d->rx.msgs, n, d->ud);
}

static int recv_batch(struct sockit_dgram *d)
{
    struct sockit__dgram_rx *rx = &d->rx;
    int n;

    for (unsigned i = 0; i < d->batch; i++)
        rx->hdr[i].msg_hdr.msg_namelen = sizeof(rx->msgs[i].peer.u);
    /* MSG_TRUNC: each msg_len is the datagram's real size, even when the slot was smaller. */
    do
        n = recvmmsg(d->fd, rx->hdr, d->batch, MSG_TRUNC, NULL);
    while (n < 0 && errno == EINTR);
    n = n < 0 ? -errno : n;
    if (d->trace && n != -EAGAIN) {
        char call[48];
        snprintf(call, sizeof(call), "recvmmsg(%d, %u)", d->fd, d->batch);
        sockit__trace_result(d->trace, call, n);
    }
    return n;
}

/* Hand the first N slots to the caller. */
static void deliver_slots(struct sockit_dgram *d, size_t n)
{
    struct sockit__dgram_rx *rx = &d->rx;

    for (size_t i = 0; i < n; i++) {
        struct sockit_dgram_msg *m = &rx->msgs[i];
        m->full_len = rx->hdr[i].msg_len;
        m->truncated = (rx->hdr[i].msg_hdr.msg_flags & MSG_TRUNC) || m->full_len > d->max_size;
        m->len = m->truncated ? d->max_size : m->full_len;
        m->peer.len = rx->hdr[i].msg_hdr.msg_namelen;
    }
    sockit__dgram_deliver(d, n);
}

static void receive(struct sockit_dgram *d)
{
    for (int i = 0; i < RECV_CALLS_PER_ROUND && !d->paused && !d->closing; i++) {
        int n = recv_batch(d);
        if (n == -EAGAIN)
            return;
        if (n < 0) { /* the pending error of an earlier datagram: report it, read on */
            sockit__dgram_recv_error(d, n);
            continue;
        }
        deliver_slots(d, (size_t)n);
        if ((unsigned)n < d->batch)
            return; /* drained */
    }
}

/* ---- sending ---------------------------------------------------------------------------- */

size_t sockit__dgram_gather(struct sockit_dgram *d)
{
    size_t n = 0;

    for (struct sockit__qrec *r = d->q.head; r && n < d->batch; r = r->next, n++) {
        d->tx_iov[n] = (struct iovec){ r->data, r->len };
        d->tx_hdr[n].msg_hdr = (struct msghdr){ .msg_name = r->peer.len ? &r->peer.u : NULL,
                                                .msg_namelen = r->peer.len,
                                                .msg_iov = &d->tx_iov[n],
                                                .msg_iovlen = 1 };
    }
    return n;
}

/* One sendmmsg of the first datagrams of the queue. Returns how many the kernel took, or
 * -errno (for the first of them). */
static int send_batch(struct sockit_dgram *d)
{
    size_t n = sockit__dgram_gather(d);
    int sent;

    do
        sent = sendmmsg(d->fd, d->tx_hdr, (unsigned)n, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    sent = sent < 0 ? -errno : sent;
    if (d->trace) {
        char call[48];
        snprintf(call, sizeof(call), "sendmmsg(%d, %zu)", d->fd, n);
        sockit__trace_result(d->trace, call, sent);
    }
    return sent;
}

/* The first queued datagram will not leave: drop it and say why. */
static void drop_head(struct sockit_dgram *d, int err)
{
    struct sockit_addr peer = d->q.head->peer;

    sockit__dgq_pop(&d->q, 1);
    d->st.dropped++;
    if (!peer.len)
        peer = d->connected;
    report(d, err, peer.len ? &peer : NULL);
}

/* The first queued datagram failed with ERR. Returns true to try the queue again. */
static bool send_failed(struct sockit_dgram *d, int err)
{
    /* the loop has just said the socket is writable and nothing went out since */
    bool stuck = d->flush_writable && !d->flush_progress && d->unix_unconnected;

    if (err == -EAGAIN && !stuck) {
        d->blocked = true; /* the socket buffer is full: wait until it drains */
        return false;
    }
    /* An ICMP error that arrived earlier fails the next send whatever its peer: when the error
     * queue held one, the datagram was not at fault, and is tried again. */
    if (err != -EAGAIN && d->retries < SEND_RETRIES && sockit__dgram_drain_errors(d) > 0) {
        d->retries++;
        return true;
    }
    /* EAGAIN although writable: an unconnected unix socket whose receiver's queue is full. */
    drop_head(d, err == -EAGAIN ? -ENOBUFS : err);
    return true;
}

void sockit__dgram_flush_begin(struct sockit_dgram *d, bool writable)
{
    d->flush_writable = writable;
    d->flush_progress = false;
    d->retries = 0;
}

bool sockit__dgram_sent(struct sockit_dgram *d, size_t n, int err)
{
    if (n > 0) {
        sockit__dgq_pop(&d->q, n);
        d->st.sent += n;
        d->flush_progress = true;
    }
    if (!err)
        return queue_len(d) > 0;
    if (d->closing)
        return false; /* closing sends only what the socket takes at once */
    return send_failed(d, err);
}

/* Send the queue until it is empty or the socket is full. WRITABLE: the loop said so. */
static void flush(struct sockit_dgram *d, bool writable)
{
    sockit__dgram_flush_begin(d, writable);
    while (!d->closing && queue_len(d) > 0) {
        int n = send_batch(d);
        if (!sockit__dgram_sent(d, n > 0 ? (size_t)n : 0, n > 0 ? 0 : n < 0 ? n : -EAGAIN))
            break;
    }
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void on_ready(struct sockit_loop *loop, int fd, unsigned events, void *data);

/* Ask the loop for what the dgram's readiness path can use: reading unless paused,
 * writability while the socket is full; nothing of what the backend does itself. Events 0
 * keeps the fd registered but silent. Returns 0 or -errno (only a first registration fails). */
static int set_interest(struct sockit_dgram *d)
{
    unsigned mask = (d->paused || d->rx_native ? 0u : SOCKIT_EV_READ) |
                    (d->blocked && !d->tx_native ? SOCKIT_EV_WRITE : 0u);

    if (d->closing || mask == d->mask)
        return 0;
    d->mask = mask;
    return sockit_loop_watch(d->loop, d->fd, mask, on_ready, d);
}

static void on_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct sockit_dgram *d = data;

    (void)loop;
    (void)fd;
    if (events & SOCKIT_EV_ERROR)
        sockit__dgram_drain_errors(d);
    if (!d->closing && d->blocked && !d->tx_native &&
        (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR))) {
        d->blocked = false;
        flush(d, true);
    }
    if (!d->closing && (events & SOCKIT_EV_READ))
        receive(d);
    set_interest(d);
}

static void flush_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_dgram *d = data;

    if (d->closing || d->blocked)
        return;
    if (d->tx_native) {
        loop->be->dgram_send(loop, d);
        return;
    }
    flush(d, false);
    set_interest(d);
}

/* Queue one datagram and make sure a flush follows this round. */
static int enqueue(struct sockit_dgram *d, const void *data, size_t len,
                   const struct sockit_addr *peer)
{
    int err = sockit__dgq_push(&d->q, data, len, peer);

    if (err)
        return err;
    if (!d->blocked)
        sockit_loop_defer(d->loop, &d->flush_defer, flush_deferred, d);
    return 0;
}

/* -SOCKIT_EDGRAMSIZE when LEN is over the largest payload towards PEER (or the connected
 * peer); unix sockets are left to the kernel. */
static int check_size(const struct sockit_dgram *d, size_t len, const struct sockit_addr *peer)
{
    const struct sockit_addr *to = peer && peer->len ? peer : &d->connected;
    size_t max = to->len ? sockit_addr_dgram_max(to) : 0;

    return max && len > max ? -SOCKIT_EDGRAMSIZE : 0;
}

int sockit_dgram_write(struct sockit_dgram *d, const void *data, size_t len,
                       const struct sockit_addr *peer)
{
    int err = d->closing ? -EPIPE : check_size(d, len, peer);

    if (err)
        return err;
    err = enqueue(d, data, len, peer);
    if (err)
        d->st.dropped++;
    return err;
}

int sockit_dgram_writev(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n)
{
    size_t i;
    int err = d->closing ? -EPIPE : 0;

    for (i = 0; i < n && !err; i++)
        err = check_size(d, msgs[i].len, &msgs[i].peer);
    if (err)
        return err;
    for (i = 0; i < n; i++)
        if ((err = enqueue(d, msgs[i].data, msgs[i].len, &msgs[i].peer)) < 0)
            break;
    d->st.dropped += n - i;
    return i > 0 || n == 0 ? (int)i : err;
}

static void reading_changed(struct sockit_dgram *d)
{
    if (d->closing)
        return;
    if (d->rx_native)
        d->loop->be->dgram_read(d->loop, d, !d->paused);
    else
        set_interest(d);
}

void sockit_dgram_pause(struct sockit_dgram *d)
{
    d->paused = true;
    reading_changed(d);
}

void sockit_dgram_resume(struct sockit_dgram *d)
{
    d->paused = false;
    reading_changed(d);
}

void sockit_dgram_stats(const struct sockit_dgram *d, struct sockit_dgram_stats *out)
{
    *out = d->st;
    out->queued = queue_len(d);
    out->queued_bytes = d->q.bytes;
}

int sockit_dgram_fd(const struct sockit_dgram *d)
{
    return d->closing ? -1 : d->fd;
}

/* ---- open and close --------------------------------------------------------------------- */

static void free_slots(struct sockit__dgram_rx *rx)
{
    free(rx->buf);
    free(rx->hdr);
    free(rx->iov);
    rx->buf = NULL;
    rx->hdr = NULL;
    rx->iov = NULL;
}

static void free_dgram(struct sockit_dgram *d)
{
    if (!d)
        return;
    free_slots(&d->rx);
    free(d->rx.msgs);
    free(d->tx_hdr);
    free(d->tx_iov);
    sockit__dgq_free(&d->q);
    free(d);
}

static void link_dgram(struct sockit_dgram *d)
{
    d->next = d->loop->dgrams;
    if (d->next)
        d->next->prev = d;
    d->loop->dgrams = d;
    d->loop->refs++; /* an open dgram keeps the loop running */
}

static void unlink_dgram(struct sockit_dgram *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        d->loop->dgrams = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->loop->refs--;
}

/* Writes end at close and the backend queues nothing after sockit__dgram_closed, so what is
 * still queued here is a no-op to run first. */
static void finish_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_dgram *d = data;

    if (d->flush_defer.queued || d->rx_defer.queued) {
        sockit_loop_defer(loop, &d->close_defer, finish_deferred, d);
        return;
    }
    if (d->ops->on_close)
        d->ops->on_close(d, d->close_err, d->ud);
    unlink_dgram(d);
    free_dgram(d);
}

void sockit__dgram_closed(struct sockit_dgram *d)
{
    d->st.dropped += queue_len(d);
    sockit__dgq_pop(&d->q, queue_len(d));
    close(d->fd);
    d->fd = -1;
    sockit_loop_defer(d->loop, &d->close_defer, finish_deferred, d);
}

static void close_with(struct sockit_dgram *d, int err)
{
    struct sockit_loop *loop = d->loop;

    if (d->closing)
        return;
    d->closing = true; /* from here on, no callback but on_close */
    d->close_err = err;
    if (!d->rx_native)
        sockit_loop_unwatch(loop, d->fd);
    if (d->rx_native || d->tx_native) {
        loop->be->dgram_close(loop, d); /* sockit__dgram_closed follows, maybe at once */
        return;
    }
    /* send what the socket takes at once */
    while (queue_len(d) > 0) {
        int n = send_batch(d);
        if (!sockit__dgram_sent(d, n > 0 ? (size_t)n : 0, n > 0 ? 0 : -EAGAIN))
            break;
    }
    sockit__dgram_closed(d);
}

void sockit_dgram_close(struct sockit_dgram *d)
{
    close_with(d, 0);
}

/* Loop teardown: close every dgram still open; their on_close (-ECANCELED) follows from the
 * deferred calls the loop runs before it goes. Closed ones stay listed until then. */
void sockit__dgram_close_all(struct sockit_loop *loop)
{
    for (struct sockit_dgram *d = loop->dgrams; d; d = d->next)
        close_with(d, -ECANCELED);
}

/* Defaults for zero fields; -EINVAL for values out of range. */
static int settle_opts(const struct sockit_dgram_opts *in, struct sockit_dgram_opts *o)
{
    *o = in ? *in : (struct sockit_dgram_opts){ 0 };
    o->max_size = o->max_size ? o->max_size : DEFAULT_MAX_SIZE;
    o->batch = o->batch ? o->batch : DEFAULT_BATCH;
    o->queue_max = o->queue_max ? o->queue_max : DEFAULT_QUEUE_MAX;
    o->queue_bytes = o->queue_bytes ? o->queue_bytes : DEFAULT_QUEUE_BYTES;
    return o->batch > MAX_BATCH || o->max_size > MAX_SLOT ? -EINVAL : 0;
}

/* The readiness path's receive slots, each one cache line longer than a multiple of 64: the
 * first bytes of successive slots then fall in different cache sets instead of all in one. */
static int alloc_slots(struct sockit__dgram_rx *rx, unsigned batch, size_t max_size)
{
    rx->stride = (max_size + 63) / 64 * 64 + 64;
    rx->buf = malloc(batch * rx->stride);
    rx->hdr = calloc(batch, sizeof(*rx->hdr));
    rx->iov = calloc(batch, sizeof(*rx->iov));
    if (!rx->buf || !rx->hdr || !rx->iov)
        return -ENOMEM;
    for (unsigned i = 0; i < batch; i++) {
        rx->iov[i] = (struct iovec){ rx->buf + i * rx->stride, max_size };
        rx->msgs[i].data = rx->iov[i].iov_base;
        rx->hdr[i].msg_hdr = (struct msghdr){ .msg_name = &rx->msgs[i].peer.u,
                                              .msg_iov = &rx->iov[i],
                                              .msg_iovlen = 1 };
    }
    return 0;
}

static int alloc_buffers(struct sockit_dgram *d, const struct sockit_dgram_opts *o)
{
    sockit__dgq_init(&d->q, o->queue_max, o->queue_bytes);
    d->tx_hdr = calloc(o->batch, sizeof(*d->tx_hdr));
    d->tx_iov = calloc(o->batch, sizeof(*d->tx_iov));
    d->rx.msgs = calloc(o->batch, sizeof(*d->rx.msgs));
    return d->tx_hdr && d->tx_iov && d->rx.msgs ? 0 : -ENOMEM;
}

/* Receive through the loop's readiness watch: slots for recvmmsg, and the watch. */
static int watch_reading(struct sockit_dgram *d)
{
    int err = d->rx.buf ? 0 : alloc_slots(&d->rx, d->batch, d->max_size);

    d->rx_native = false;
    return err ? err : set_interest(d);
}

void sockit__dgram_use_watch(struct sockit_dgram *d)
{
    int err = watch_reading(d);

    if (err) /* receiving has stopped; sending goes on */
        report(d, err, NULL);
}

/* The backend moves the datagrams itself where it can; else the readiness path does. */
static int start(struct sockit_dgram *d)
{
    const struct sockit__backend *be = d->loop->be;
    int err = -EOPNOTSUPP;

    d->rx_native = d->tx_native = true;
    if (be->dgram_start)
        err = be->dgram_start(d->loop, d);
    if (err != -EOPNOTSUPP)
        return err;
    d->tx_native = false;
    return watch_reading(d);
}

/* ICMP errors to the error queue, with the address they concern (without this, Linux drops
 * them on an unconnected socket). A dual-stack IPv6 socket also carries IPv4. */
static int errors_on(int fd, int family)
{
    int one = 1;

    if (family == AF_INET)
        return setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) < 0 ? -errno : 0;
    if (setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0)
        return -errno;
    (void)setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one)); /* IPv6-only: may refuse */
    return 0;
}

static int setup_socket(struct sockit_dgram *d)
{
    struct sockit_addr local = { .len = sizeof(local.u) };
    int type = 0;
    socklen_t len = sizeof(type);

    if (getsockopt(d->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    if (type != SOCK_DGRAM)
        return -SOCKIT_ETYPE;
    if (fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) | O_NONBLOCK) < 0 ||
        getsockname(d->fd, &local.u.sa, &local.len) < 0)
        return -errno;
    d->connected.len = sizeof(d->connected.u);
    if (getpeername(d->fd, &d->connected.u.sa, &d->connected.len) < 0)
        d->connected.len = 0;
    d->inet = local.u.sa.sa_family == AF_INET || local.u.sa.sa_family == AF_INET6;
    d->unix_unconnected = !d->inet && d->connected.len == 0;
    return d->inet ? errors_on(d->fd, local.u.sa.sa_family) : 0;
}

int sockit_dgram_open(struct sockit_loop *loop, int fd, const struct sockit_dgram_ops *ops,
                      void *ud, const struct sockit_dgram_opts *opts, struct sockit_dgram **out)
{
    struct sockit_dgram_opts o;
    struct sockit_dgram *d = NULL;
    int err = settle_opts(opts, &o);

    if (!err && (!ops || !ops->on_recv))
        err = -EINVAL;
    if (!err && !(d = calloc(1, sizeof(*d))))
        err = -ENOMEM;
    if (!err) {
        *d = (struct sockit_dgram){ .loop = loop,
                                    .fd = fd,
                                    .ops = ops,
                                    .ud = ud,
                                    .trace = o.trace,
                                    .batch = o.batch,
                                    .max_size = o.max_size };
        err = setup_socket(d);
    }
    if (!err)
        err = alloc_buffers(d, &o);
    if (!err)
        err = start(d);
    if (err) {
        close(fd);
        free_dgram(d);
        return err;
    }
    link_dgram(d);
    *out = d;
    return 0;
}
