/* The dgram send queue: datagrams copied into records laid end to end in chunks, so that a
 * record never moves while it is queued (a send request in flight may point into it) and the
 * common case, a few small datagrams per round, costs one memcpy and no allocation. That case
 * is inline in dgram_internal.h; chunks come and go here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dgram_internal.h"

#define CHUNK_BYTES (64u * 1024) /* a chunk of small records; an idle queue keeps one */

void sockit__dgq_init(struct sockit__dgq *q, size_t max, size_t max_bytes)
{
    *q = (struct sockit__dgq){ .max = max, .max_bytes = max_bytes };
}

/* A chunk with SIZE bytes free at its end, or NULL. Appends a new chunk when the last has
 * no room: of CHUNK_BYTES, or just large enough for one big record. An empty chunk is only
 * ever the one an idle queue keeps (first and last). */
static struct sockit__qchunk *room(struct sockit__dgq *q, size_t size)
{
    struct sockit__qchunk *c = q->last;

    if (c && c->cap - c->used >= size)
        return c;
    if (c && c->live == 0) { /* the empty chunk an idle queue kept, too small: replace it */
        free(c);
        q->first = q->last = NULL;
    }
    size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
    if (!(c = malloc(sizeof(*c) + cap)))
        return NULL;
    *c = (struct sockit__qchunk){ .cap = cap };
    if (q->last)
        q->last->next = c;
    else
        q->first = c;
    q->last = c;
    return c;
}

/* Push when the last chunk has no room (or a bound is hit): a new chunk first. */
int sockit__dgq_push_slow(struct sockit__dgq *q, const void *data, size_t len,
                          const struct sockit_addr *peer)
{
    struct sockit__qchunk *c;

    if (q->n >= q->max || len > q->max_bytes - q->bytes)
        return -ENOBUFS;
    if (!(c = room(q, sockit__dgq_record_size(len))))
        return -ENOMEM;
    sockit__dgq_put(q, c, data, len, peer);
    return 0;
}

/* The first chunk holds no queued record any more: free it, or keep it for the next writes
 * when it is the only one and of the usual size. */
static void retire_first(struct sockit__dgq *q)
{
    struct sockit__qchunk *c = q->first;

    if (c == q->last && c->cap == CHUNK_BYTES) {
        c->used = 0;
        return;
    }
    q->first = c->next;
    if (q->last == c)
        q->last = NULL;
    free(c);
}

void sockit__dgq_pop(struct sockit__dgq *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sockit__qrec *r = q->head;
        q->head = r->next;
        q->n--;
        q->bytes -= r->len;
        if (--q->first->live == 0)
            retire_first(q);
    }
    if (!q->head)
        q->tail = NULL;
}

void sockit__dgq_free(struct sockit__dgq *q)
{
    while (q->first) {
        struct sockit__qchunk *c = q->first;
        q->first = c->next;
        free(c);
    }
    sockit__dgq_init(q, q->max, q->max_bytes);
}
