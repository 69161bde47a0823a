/* Internal to src/lib/loop: the dgram object (dgram.c), its send queue (dgram_queue.c), and
 * what a completion backend that moves datagrams itself (uring_dgram.c) calls back. The public
 * API is include/sockit/dgram.h. Everything here runs on the loop's thread. */
#ifndef SOCKIT_DGRAM_INTERNAL_H
#define SOCKIT_DGRAM_INTERNAL_H

#include <netinet/in.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "loop_internal.h"
#include "sockit/dgram.h"

/* One queued datagram. It sits in a chunk of the queue and never moves until it is popped,
 * so a send request may point at it (and at PEER) while it is in flight. */
struct sockit__qrec {
    struct sockit__qrec *next;
    size_t len;
    struct sockit_addr peer; /* len 0: the connected peer */
    char data[];
};

/* A chunk of the queue: records laid end to end in MEM. */
struct sockit__qchunk {
    struct sockit__qchunk *next;
    size_t used, cap; /* bytes of MEM */
    size_t live;      /* records in it still queued */
    alignas(max_align_t) char mem[];
};

/* Copy address SRC (LEN bytes of its union, at most the union) into DST. The common sizes, up
 * to an IPv6 address, are copied as a fixed 28 bytes, which compiles to a few moves; SRC must
 * have that many readable bytes, as a whole struct sockit_addr does. */
static inline void sockit__addr_copy(struct sockit_addr *dst, const void *src, socklen_t len)
{
    size_t n = len < sizeof(dst->u) ? len : sizeof(dst->u);

    dst->len = (socklen_t)n;
    if (n <= sizeof(struct sockaddr_in6))
        memcpy(&dst->u, src, sizeof(struct sockaddr_in6));
    else
        memcpy(&dst->u, src, n);
}

/* Datagrams waiting to be sent, oldest first, at most MAX of them and MAX_BYTES bytes of
 * payload. The queue owns its chunks; records are popped from the head only. */
struct sockit__dgq {
    struct sockit__qrec *head, *tail;
    struct sockit__qchunk *first, *last;
    size_t n, bytes;
    size_t max, max_bytes;
};

void sockit__dgq_init(struct sockit__dgq *q, size_t max, size_t max_bytes);
/* Forget the first N records (sent or dropped); N <= q->n. */
void sockit__dgq_pop(struct sockit__dgq *q, size_t n);
void sockit__dgq_free(struct sockit__dgq *q);
int sockit__dgq_push_slow(struct sockit__dgq *q, const void *data, size_t len,
                          const struct sockit_addr *peer);

/* Bytes a record of LEN payload bytes takes in a chunk. */
static inline size_t sockit__dgq_record_size(size_t len)
{
    size_t a = alignof(max_align_t);

    return (sizeof(struct sockit__qrec) + len + a - 1) / a * a;
}

/* Copy a datagram into chunk C, which has room for it, and queue it. */
static inline void sockit__dgq_put(struct sockit__dgq *q, struct sockit__qchunk *c,
                                   const void *data, size_t len, const struct sockit_addr *peer)
{
    struct sockit__qrec *r = (struct sockit__qrec *)(c->mem + c->used);

    c->used += sockit__dgq_record_size(len);
    c->live++;
    r->next = NULL;
    r->len = len;
    r->peer.len = 0;
    if (peer && peer->len)
        sockit__addr_copy(&r->peer, &peer->u, peer->len);
    if (len)
        memcpy(r->data, data, len);
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
    q->bytes += len;
}

/* Copy a datagram in. Returns 0, -ENOBUFS over a bound, or -ENOMEM. Inline: the common case,
 * room in the last chunk, is a few stores and the copy; the rest is in dgram_queue.c. */
static inline int sockit__dgq_push(struct sockit__dgq *q, const void *data, size_t len,
                                   const struct sockit_addr *peer)
{
    struct sockit__qchunk *c = q->last;

    if (!c || c->cap - c->used < sockit__dgq_record_size(len) || q->n >= q->max ||
        len > q->max_bytes - q->bytes)
        return sockit__dgq_push_slow(q, data, len, peer);
    sockit__dgq_put(q, c, data, len, peer);
    return 0;
}

/* Received datagrams as the caller sees them (BATCH of them), and for the readiness path one
 * recvmmsg's worth of slots of STRIDE bytes. */
struct sockit__dgram_rx {
    struct sockit_dgram_msg *msgs;
    char *buf; /* readiness path only: NULL while the backend receives */
    size_t stride;
    struct mmsghdr *hdr;
    struct iovec *iov;
};

struct sockit_dgram {
    struct sockit_loop *loop;
    int fd;
    const struct sockit_dgram_ops *ops;
    void *ud;
    const struct sockit_trace *trace;
    unsigned batch;
    size_t max_size;
    struct sockit_addr connected; /* len 0: not connected */
    bool inet;                    /* has an error queue (IP_RECVERR) */
    bool unix_unconnected;        /* EAGAIN may mean one receiver's queue is full */
    bool rx_native, tx_native;    /* the backend receives / sends itself (no watcher) */
    bool paused, closing;
    bool blocked; /* the socket refused the queue (EAGAIN): send when it is writable */
    /* the flush under way: it started when the loop said the socket is writable, and
     * something left since; pending ICMP errors read so far */
    bool flush_writable, flush_progress;
    int retries;
    int close_err; /* for on_close: 0, or -ECANCELED when the loop closed it */
    unsigned mask; /* events asked of the loop (readiness path) */
    struct sockit__dgram_rx rx;
    struct sockit__dgq q;
    struct mmsghdr *tx_hdr; /* one send's worth (BATCH), built by sockit__dgram_gather */
    struct iovec *tx_iov;
    struct sockit_dgram_stats st;
    struct sockit_defer flush_defer, close_defer;
    struct sockit_defer rx_defer;     /* the backend's, for held datagrams after a resume */
    struct sockit_dgram *prev, *next; /* the loop's dgrams */
    void *be_data;                    /* the backend's, while rx_native or tx_native */
};

/* For a backend that moves datagrams itself (sockit__backend.dgram_*): */

/* MSGS[0..N) of d->rx are filled in: count them and hand them to on_recv. */
void sockit__dgram_deliver(struct sockit_dgram *d, size_t n);
/* Receiving stopped with ERR (an ICMP error, most often): report what the error queue holds,
 * or ERR itself. */
void sockit__dgram_recv_error(struct sockit_dgram *d, int err);
/* Report what the socket's error queue holds (reading it also clears the socket's pending
 * error). Returns how many messages were read. */
int sockit__dgram_drain_errors(struct sockit_dgram *d);
/* Receive through a watcher from now on (the kernel refused the backend's way). */
void sockit__dgram_use_watch(struct sockit_dgram *d);
/* Fill d->tx_hdr / d->tx_iov for the first datagrams of the queue (at most BATCH). They point
 * into the queue's records, which do not move until popped. Returns how many. */
size_t sockit__dgram_gather(struct sockit_dgram *d);
/* A send took the first N queued datagrams, and then ERR (0: none) stopped it. Pops them;
 * returns true when the queue should be sent again now (d->blocked: when writable). */
bool sockit__dgram_sent(struct sockit_dgram *d, size_t n, int err);
/* A new flush begins; WRITABLE: the loop has just said the socket is. */
void sockit__dgram_flush_begin(struct sockit_dgram *d, bool writable);
/* The backend holds nothing of the closing D any more: drop the rest, close the fd. */
void sockit__dgram_closed(struct sockit_dgram *d);

#endif
