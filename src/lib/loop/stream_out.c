/* A stream's pending output: pieces in the order they were written (copied bytes, shared
 * buffers, file ranges), gathered into one iovec per send and consumed as the kernel takes
 * them. Completion backends hand the first pieces to the kernel (flight_segs); those are not
 * appended to or moved until their send completes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>

#include "loop_internal.h"

#define SEAL_SLACK 64 /* unused bytes a sealed copy piece may keep */

static void push(struct sockit__outq *q, struct sockit__seg *g)
{
    g->next = NULL;
    if (q->tail)
        q->tail->next = g;
    else
        q->head = g;
    q->tail = g;
    q->nsegs++;
    q->bytes += g->len;
    if (g->kind != SEG_FILE)
        q->mem += g->len;
}

/* A SOCKIT__KEEP_BUF buffer: one from the loop's pool, or a new one. */
static char *buf_get(struct sockit__outq *q)
{
    struct sockit__bufpool *p = q->pool;
    char *b;

    if (!p || !p->top)
        return malloc(SOCKIT__KEEP_BUF);
    b = p->top;
    memcpy(&p->top, b, sizeof(p->top));
    p->n--;
    return b;
}

/* Give back the storage of a COPY piece: a pool-sized buffer to the pool while it has room. */
static void buf_put(struct sockit__outq *q, struct sockit__seg *g)
{
    struct sockit__bufpool *p = q->pool;

    if (g->base && g->cap == SOCKIT__KEEP_BUF && p && p->n < SOCKIT__POOL_MAX) {
        memcpy(g->base, &p->top, sizeof(p->top));
        p->top = g->base;
        p->n++;
    } else {
        free(g->base);
    }
    g->base = NULL;
    g->cap = g->head = g->len = 0;
}

void sockit__bufpool_free(struct sockit__bufpool *p)
{
    while (p->top) {
        void *b = p->top;
        memcpy(&p->top, b, sizeof(p->top));
        free(b);
    }
    p->n = 0;
}

/* Storage for at least N more bytes at the end of a COPY piece that is not in flight. */
static int grow(struct sockit__outq *q, struct sockit__seg *g, size_t n)
{
    size_t need = g->len + n, cap = g->cap ? g->cap : SOCKIT__KEEP_BUF;

    if (g->head + need <= g->cap)
        return 0;
    if (g->cap == 0 && need <= SOCKIT__KEEP_BUF) { /* a fresh piece: a pool buffer */
        if (!(g->base = buf_get(q)))
            return -ENOMEM;
        g->cap = SOCKIT__KEEP_BUF;
        g->head = 0;
        return 0;
    }
    if (g->head > 0 && need <= g->cap) { /* room at the front: slide down */
        memmove(g->base, g->base + g->head, g->len);
        g->head = 0;
        return 0;
    }
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    char *p = realloc(g->base, cap);
    if (!p)
        return -ENOMEM;
    memmove(p, p + g->head, g->len);
    g->base = p;
    g->head = 0;
    g->cap = cap;
    return 0;
}

/* The COPY piece new bytes go into: the tail if it may still grow, else a new one (the
 * spare, if there is one). */
static struct sockit__seg *copy_tail(struct sockit__outq *q)
{
    struct sockit__seg *g = q->tail;

    if (g && g->kind == SEG_COPY && q->flight_segs < q->nsegs)
        return g;
    g = q->spare ? q->spare : calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    q->spare = NULL;
    g->kind = SEG_COPY;
    g->head = g->len = 0;
    push(q, g);
    return g;
}

int sockit__out_copy(struct sockit__outq *q, const struct iovec *iov, int n, size_t skip,
                     size_t total)
{
    size_t add = total - skip;
    struct sockit__seg *g = add ? copy_tail(q) : NULL;

    if (!add)
        return 0;
    if (!g || grow(q, g, add) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        size_t from = skip < iov[i].iov_len ? skip : iov[i].iov_len;
        size_t take = iov[i].iov_len - from;
        if (take) /* an empty iovec may have no base at all */
            memcpy(g->base + g->head + g->len, (const char *)iov[i].iov_base + from, take);
        g->len += take;
        skip -= from;
    }
    q->bytes += add;
    q->mem += add;
    return 0;
}

int sockit__out_append_slow(struct sockit__outq *q, const void *data, size_t len)
{
    struct iovec one = { (void *)data, len };

    return sockit__out_copy(q, &one, 1, 0, len);
}

static void pop(struct sockit__outq *q);

/* A copy piece that a shared or file piece follows takes no more bytes: give back the storage
 * it does not use (a new piece starts with SOCKIT__KEEP_BUF), or a slow reader sent a copied
 * header and a shared body per message would hold 4 KiB per message. Not the head (the piece
 * a busy stream reuses), nor a piece in flight. */
static void seal_tail(struct sockit__outq *q)
{
    struct sockit__seg *g = q->tail;

    if (!g || g == q->head || g->kind != SEG_COPY || q->flight_segs == q->nsegs || g->len == 0 ||
        g->cap - g->len <= SEAL_SLACK)
        return;
    memmove(g->base, g->base + g->head, g->len);
    g->head = 0;
    char *p = realloc(g->base, g->len);
    if (p) {
        g->base = p;
        g->cap = g->len;
    }
}

int sockit__out_ref(struct sockit__outq *q, enum sockit__seg_kind kind, struct sockit_shared *sh,
                    uint64_t off, size_t len)
{
    struct sockit__seg *g = calloc(1, sizeof(*g));

    if (!g)
        return -ENOMEM;
    /* The emptied piece a drained queue keeps in place (sockit__out_consume) takes no bytes
     * from this piece: retire it, or io_uring would send it alone, zero bytes, forever, ahead
     * of a file range. */
    if (q->head && q->head->len == 0 && q->flight_segs == 0)
        pop(q);
    seal_tail(q);
    g->kind = kind;
    g->sh = sockit_shared_ref(sh);
    g->len = len;
    if (kind == SEG_FILE)
        g->foff = off;
    else {
        g->base = sockit_shared_data(sh);
        g->head = (size_t)off;
    }
    push(q, g);
    return 0;
}

/* Drop a piece that is sent (or abandoned): its storage goes back to the loop's pool, and one
 * empty COPY piece is kept for the next write. */
static void drop(struct sockit__outq *q, struct sockit__seg *g)
{
    if (g->kind != SEG_COPY) {
        sockit_shared_unref(g->sh);
        free(g);
        return;
    }
    buf_put(q, g);
    if (!q->spare)
        q->spare = g;
    else
        free(g);
}

static void pop(struct sockit__outq *q)
{
    struct sockit__seg *g = q->head;

    q->head = g->next;
    if (!q->head)
        q->tail = NULL;
    q->nsegs--;
    if (q->flight_segs)
        q->flight_segs--;
    drop(q, g);
}

void sockit__out_consume_slow(struct sockit__outq *q, size_t n)
{
    q->bytes -= n;
    q->flight -= n < q->flight ? n : q->flight;
    while (n > 0) {
        struct sockit__seg *g = q->head;
        size_t take = n < g->len ? n : g->len;
        g->len -= take;
        g->head += take;
        g->foff += take;
        if (g->kind != SEG_FILE)
            q->mem -= take;
        n -= take;
        if (g->len == 0)
            pop(q);
    }
    while (q->head && q->head->len == 0 && q->flight_segs == 0)
        pop(q); /* empty pieces (a zero-length write) */
}

int sockit__out_gather(const struct sockit__outq *q, struct iovec *iov, int max, size_t *bytes)
{
    int n = 0;

    *bytes = 0;
    for (const struct sockit__seg *g = q->head; g && n < max && g->kind != SEG_FILE; g = g->next) {
        iov[n].iov_base = g->base + g->head;
        iov[n].iov_len = g->len;
        *bytes += g->len;
        n++;
    }
    return n;
}

ssize_t sockit__out_sendfile(struct sockit_loop *loop, struct sockit__outq *q, int fd)
{
    struct sockit__seg *g = q->head;
    off_t off = (off_t)g->foff;
    size_t want = g->len < (1u << 30) ? g->len : (1u << 30);
    ssize_t n;

    do {
        n = sendfile(fd, sockit_shared_fd(g->sh), &off, want);
        SOCKIT__TRACE_CALL(loop, n, "sendfile(%d, %d, %llu, %zu)", fd, sockit_shared_fd(g->sh),
                           (unsigned long long)g->foff, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EIO; /* the file ended before the range: it shrank under us */
    sockit__out_consume(q, (size_t)n);
    return n;
}

void sockit__out_trim(struct sockit__outq *q)
{
    struct sockit__seg *g = q->head;

    if (!g || q->bytes || q->flight_segs || g->next || g->kind != SEG_COPY)
        return;
    q->head = q->tail = NULL;
    q->nsegs = 0;
    drop(q, g);
}

void sockit__out_free(struct sockit__outq *q)
{
    q->flight_segs = 0;
    while (q->head)
        pop(q);
    if (q->spare) {
        buf_put(q, q->spare);
        free(q->spare);
    }
    *q = (struct sockit__outq){ .pool = q->pool };
}
