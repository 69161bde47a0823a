/* Internal to the io_uring backend: what backend_uring.c (the ring, streams, polls) shares
 * with uring_dgram.c (datagrams). Loop thread only. */
#ifndef SOCKIT_URING_INTERNAL_H
#define SOCKIT_URING_INTERNAL_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop_internal.h"

/* The request tag of every datagram request: a struct ur_dreq pointer with this in its three
 * low bits (backend_uring.c's tags take the other values). */
#define SOCKIT__URING_TAG_DGRAM 6

struct ur_dgram;

/* uring_dgram.c's state per loop, kept in the backend's. */
struct sockit__uring_dgrams {
    struct ur_dgram *attention; /* completions came: look at these once the reap is over */
    unsigned next_bgid;         /* provided-buffer group of the next dgram */
    bool refused;               /* the kernel refused multishot recvmsg: watchers from now on */
    bool refuse_next;           /* tests: have the kernel refuse the next multishot recvmsg */
};

/* backend_uring.c */
struct io_uring *sockit__uring_ring(struct sockit_loop *loop);
struct sockit__uring_dgrams *sockit__uring_dgrams(struct sockit_loop *loop);
struct io_uring_sqe *sockit__uring_sqe(struct sockit_loop *loop); /* submits when full */
void sockit__uring_cancel(struct sockit_loop *loop, uint64_t tag);

/* uring_dgram.c: the sockit__backend.dgram_* ops, */
int sockit__uring_dgram_start(struct sockit_loop *loop, struct sockit_dgram *d);
void sockit__uring_dgram_read(struct sockit_loop *loop, struct sockit_dgram *d, bool on);
void sockit__uring_dgram_send(struct sockit_loop *loop, struct sockit_dgram *d);
void sockit__uring_dgram_close(struct sockit_loop *loop, struct sockit_dgram *d);
/* a completion tagged SOCKIT__URING_TAG_DGRAM, */
void sockit__uring_dgram_complete(struct sockit_loop *loop, uint64_t tag,
                                  const struct io_uring_cqe *cqe);
/* the end of a reap: batches to on_recv, receives re-armed, */
void sockit__uring_dgram_reaped(struct sockit_loop *loop);
/* and at teardown: does any dgram have a request in flight? */
bool sockit__uring_dgram_busy(const struct sockit_loop *loop);

/* Tests: the next multishot recvmsg on LOOP is refused as an old kernel would (EINVAL). */
void sockit__uring_dgram_refuse_next(struct sockit_loop *loop);

#endif
