/* sockit/dgram.h — datagram sockets on the event loop: batched receive and send, the peer with
 * every datagram, truncation flagged, ICMP errors reported and never fatal.
 *
 * A dgram wraps a datagram socket the caller opened and bound (and maybe connected): UDP over
 * IPv4 or IPv6, or unix-dgram. It lives on one loop and is used only from that loop's thread.
 *
 * What is batched how. epoll and poll (the readiness path, through sockit_loop_watch):
 *   - receive: recvmmsg into one buffer the dgram owns (BATCH slots of MAX_SIZE bytes), up to
 *     BATCH datagrams per call and a few calls per readiness; each call's datagrams reach
 *     on_recv in one batch.
 *   - send: sockit_dgram_write(v) copies datagrams into a bounded queue; the queue is flushed
 *     at the end of the loop round, BATCH datagrams per sendmmsg, so the writes of a whole round
 *     leave in one system call. What a full socket does not take waits for it to drain.
 *   - errors: ICMP errors (IP_RECVERR / IPV6_RECVERR) are read from the socket's error queue,
 *     with the address they concern, and handed to on_error.
 * io_uring keeps this contract with requests instead of system calls:
 *   - receive: one multishot recvmsg into buffers of the dgram's own (at least BATCH of
 *     MAX_SIZE bytes plus a header); the datagrams one wait of the loop brings reach on_recv
 *     in batches of up to BATCH. A kernel that refuses multishot recvmsg (before Linux 6.0)
 *     gets the readiness path for receiving.
 *   - send: the queue leaves as a chain of linked send requests, up to BATCH, submitted with
 *     the loop's next wait; a datagram stays queued until its request has completed.
 *   - errors: an ICMP error ends the multishot receive; the error queue is read as above and
 *     receiving resumes.
 *
 * Note: sockit_dgram_send / sockit_dgram_recv in sockit/socket.h are one-shot calls on a plain
 * fd; this header's object queues instead, hence write/writev as for streams. */
#ifndef SOCKIT_DGRAM_H
#define SOCKIT_DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/loop.h"
#include "sockit/socket.h"

struct sockit_dgram;

/* One datagram. Received: DATA points into the dgram's buffer and PEER is the sender (PEER.len
 * <= sizeof(sa_family_t) for an unnamed unix socket, which cannot be answered). For
 * sockit_dgram_writev: DATA and PEER are the caller's, copied before the call returns. */
struct sockit_dgram_msg {
    const void *data;
    size_t len;              /* bytes at DATA */
    size_t full_len;         /* received: the datagram's real size (> LEN when truncated) */
    bool truncated;          /* received: longer than max_size; DATA holds the first LEN bytes */
    struct sockit_addr peer; /* PEER.len 0 on write: the connected peer */
};

struct sockit_dgram_ops {
    /* N >= 1 datagrams arrived, in the order the kernel queued them. MSGS and their data are
     * valid only during the call. The callback may write, pause and close (the rest of this
     * batch is still in MSGS; nothing more is delivered after pause or close). */
    void (*on_recv)(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                    void *ud);
    /* An error that concerns one datagram or one peer, never the dgram itself: ICMP
     * port/host/net unreachable (-ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH, ...), a datagram
     * the kernel refused to send (-EMSGSIZE, -EINVAL, ...; it is dropped), a unix receiver
     * whose queue is full (-ENOBUFS; dropped). PEER is the address concerned, or NULL when
     * the kernel did not say. The dgram keeps receiving and sending. May be NULL. */
    void (*on_error)(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud);
    /* The dgram is gone: ERR 0 after sockit_dgram_close, -ECANCELED when sockit_loop_free
     * closed it. Called once, from a deferred call; the pointer is dead after it returns. May
     * be NULL. */
    void (*on_close)(struct sockit_dgram *d, int err, void *ud);
};

/* All fields 0 mean the default. */
struct sockit_dgram_opts {
    size_t max_size;    /* bytes kept per received datagram; longer ones are truncated and
                           flagged. Default 65536: more than any UDP payload (65,527 B) */
    unsigned batch;     /* datagrams per recvmmsg / sendmmsg (io_uring: per send chain, and
                           receive buffers, 8 at least); default 32, at most 1024 */
    size_t queue_max;   /* datagrams waiting to be sent, at most; default 1024 */
    size_t queue_bytes; /* their bytes at most; default 4 MiB */
    const struct sockit_trace *trace; /* each recvmmsg / sendmmsg as one line (io_uring: each
                                         send chain, and each multishot receive as it ends);
                                         borrowed, must outlive the dgram; NULL: none */
};

/* Counters since open. */
struct sockit_dgram_stats {
    uint64_t received;  /* datagrams delivered to on_recv */
    uint64_t truncated; /* of them, truncated */
    uint64_t sent;      /* datagrams the kernel took */
    uint64_t dropped;   /* never sent: the queue was full, the kernel refused them, or the
                           dgram was closed before they left */
    uint64_t errors;    /* calls of on_error */
    size_t queued;      /* datagrams waiting to be sent now */
    size_t queued_bytes;
};

/* Drive datagram socket FD (SOCK_DGRAM; the dgram takes ownership, makes it non-blocking and
 * turns on IP_RECVERR / IPV6_RECVERR for inet sockets). Connect FD, if at all, before this.
 * OPTS may be NULL (defaults). Receiving starts at once. Returns 0 and the dgram in *OUT, or
 * -errno (-SOCKIT_ETYPE for a socket that is not SOCK_DGRAM, -EINVAL for bad OPTS); FD is
 * closed then.
 *
 * sockit_loop_free closes the dgrams still open, as sockit_dgram_close does, and runs every
 * dgram's on_close (-ECANCELED for those it closed), so callback data can be freed there. */
int sockit_dgram_open(struct sockit_loop *loop, int fd, const struct sockit_dgram_ops *ops,
                      void *ud, const struct sockit_dgram_opts *opts, struct sockit_dgram **out);

/* Queue one datagram of LEN bytes (0 is valid) for PEER (NULL on a connected socket); it is
 * copied, and sent at the end of this loop round with the others. Returns 0; -ENOBUFS when
 * the queue is full, or -ENOMEM (the datagram is dropped and counted); -SOCKIT_EDGRAMSIZE
 * over the family's largest payload (nothing is queued); -EPIPE once the dgram is closing. */
int sockit_dgram_write(struct sockit_dgram *d, const void *data, size_t len,
                       const struct sockit_addr *peer);

/* Queue N datagrams (data, len and peer of each; a peer of len 0 means the connected peer),
 * as sockit_dgram_write does, in order. Returns how many were queued: N, or fewer when the
 * queue filled (the rest are dropped and counted); -ENOBUFS (or -ENOMEM) when not even the
 * first fitted; -SOCKIT_EDGRAMSIZE or -EPIPE as for write (nothing is queued). */
int sockit_dgram_writev(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n);

/* Stop / restart receiving. Datagrams that arrive meanwhile wait in the socket's receive
 * buffer (the kernel drops what does not fit); queued output is still sent. ICMP errors wait
 * too, unless output is waiting for the socket. On io_uring the receive already in the kernel
 * is cancelled, and what it still brings before that lands (at most the dgram's buffers:
 * BATCH, and 8 or more) is held and delivered first on resume, as streams do. Idempotent. */
void sockit_dgram_pause(struct sockit_dgram *d);
void sockit_dgram_resume(struct sockit_dgram *d);

/* Close: send what the socket takes at once of the queue, drop the rest (counted), close the
 * fd. on_close follows from a deferred call; no other callback runs after this. Safe from any
 * of the dgram's callbacks. Idempotent. */
void sockit_dgram_close(struct sockit_dgram *d);

/* Copy D's counters and queue into *OUT (the caller's). Valid until on_close has run. */
void sockit_dgram_stats(const struct sockit_dgram *d, struct sockit_dgram_stats *out);

/* D's socket, still owned by D (for getsockname, socket options); -1 once closed. */
int sockit_dgram_fd(const struct sockit_dgram *d);

#ifdef __cplusplus
}
#endif

#endif
