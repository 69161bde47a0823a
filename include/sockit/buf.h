/* sockit/buf.h — a byte buffer with a read side and a write side, for socket I/O.
 *
 * Bytes are appended at the tail (recv into it) and consumed at the head (send from it).
 * The buffer grows on demand up to a hard LIMIT fixed at init: that limit is what bounds a
 * server's memory per connection (backpressure). The struct is the caller's; sockit_buf_free
 * releases the storage. Not thread-safe. */
#ifndef SOCKIT_BUF_H
#define SOCKIT_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/trace.h"

struct sockit_buf {
    uint8_t *data;
    size_t head;  /* first unread byte */
    size_t tail;  /* one past the last byte */
    size_t cap;   /* allocated bytes */
    size_t limit; /* cap never grows past this */
};

/* Initialise an empty buffer that will never hold more than LIMIT bytes. Allocates nothing. */
void sockit_buf_init(struct sockit_buf *b, size_t limit);

/* Release the storage; the buffer is empty and may be reused. */
void sockit_buf_free(struct sockit_buf *b);

/* Bytes waiting to be consumed. Inline: the loop asks on every message. */
static inline size_t sockit_buf_len(const struct sockit_buf *b)
{
    return b->tail - b->head;
}

/* Make room for at least N more bytes at the tail (compacting, then growing). Returns 0, or
 * -ENOBUFS if that would exceed the limit, or -ENOMEM. */
int sockit_buf_reserve(struct sockit_buf *b, size_t n);

/* Append LEN bytes. Returns 0, -ENOBUFS or -ENOMEM. */
int sockit_buf_append(struct sockit_buf *b, const void *src, size_t len);

/* Drop N bytes from the head (N <= sockit_buf_len). */
void sockit_buf_consume(struct sockit_buf *b, size_t n);

/* recv() into the tail, at most the room left under the limit. Returns bytes read, 0 at end
 * of stream, -ENOBUFS when the buffer is full, or -errno (-EAGAIN when nothing is ready). */
ssize_t sockit_buf_recv(struct sockit_buf *b, int fd, const struct sockit_trace *trace);

/* send() from the head and consume what was sent. Returns bytes sent or -errno. */
ssize_t sockit_buf_send(struct sockit_buf *b, int fd, const struct sockit_trace *trace);

#ifdef __cplusplus
}
#endif

#endif
