/* A bounded byte buffer for socket I/O: the bound is the per-connection memory budget. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/socket.h"

#define BUF_MIN_CAP 4096

void sockit_buf_init(struct sockit_buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void sockit_buf_free(struct sockit_buf *b)
{
    free(b->data);
    sockit_buf_init(b, b->limit);
}

static void compact(struct sockit_buf *b)
{
    size_t len = sockit_buf_len(b);

    if (b->head == 0)
        return;
    memmove(b->data, b->data + b->head, len);
    b->head = 0;
    b->tail = len;
}

int sockit_buf_reserve(struct sockit_buf *b, size_t n)
{
    size_t len = sockit_buf_len(b);
    size_t need, cap;
    uint8_t *p;

    if (b->cap - b->tail >= n)
        return 0;
    if (len > b->limit || n > b->limit - len) /* written so that it cannot overflow */
        return -ENOBUFS;
    need = len + n;
    compact(b);
    if (b->cap >= need)
        return 0;
    cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap > b->limit)
        cap = b->limit;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sockit_buf_append(struct sockit_buf *b, const void *src, size_t len)
{
    int err = len ? sockit_buf_reserve(b, len) : 0;

    if (err || len == 0)
        return err;
    memcpy(b->data + b->tail, src, len);
    b->tail += len;
    return 0;
}

void sockit_buf_consume(struct sockit_buf *b, size_t n)
{
    b->head += n;
    if (b->head == b->tail)
        b->head = b->tail = 0;
}

ssize_t sockit_buf_recv(struct sockit_buf *b, int fd, const struct sockit_trace *trace)
{
    size_t room = b->limit - sockit_buf_len(b);
    ssize_t n;

    if (room == 0)
        return -ENOBUFS;
    if (room > BUF_MIN_CAP * 16)
        room = BUF_MIN_CAP * 16; /* read in chunks; grow only as data really arrives */
    if (sockit_buf_reserve(b, room) < 0 && sockit_buf_reserve(b, 1) < 0)
        return -ENOMEM;
    n = sockit_recv(fd, b->data + b->tail, b->cap - b->tail, trace);
    if (n > 0)
        b->tail += (size_t)n;
    return n;
}

ssize_t sockit_buf_send(struct sockit_buf *b, int fd, const struct sockit_trace *trace)
{
    if (sockit_buf_len(b) == 0)
        return 0;
    ssize_t n = sockit_send_all(fd, b->data + b->head, sockit_buf_len(b), trace);

    if (n > 0)
        sockit_buf_consume(b, (size_t)n);
    return n;
}
