/* Timers: a binary min-heap of caller-owned records, ordered by (due time, start order), so
 * thousands of timers cost O(log n) each and equal deadlines fire in the order started. */
#include <errno.h>
#include <stdlib.h>

#include "loop_internal.h"

void sockit_timer_init(struct sockit_timer *t, sockit_timer_fn *fn, void *data)
{
    *t = (struct sockit_timer){ .fn = fn, .data = data };
}

bool sockit_timer_active(const struct sockit_timer *t)
{
    return t->slot != 0;
}

static bool before(const struct sockit_timer *a, const struct sockit_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct sockit_loop *loop, size_t i, struct sockit_timer *t)
{
    loop->heap[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct sockit_loop *loop, size_t i)
{
    struct sockit_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, loop->heap[parent]))
            break;
        place(loop, i, loop->heap[parent]);
        i = parent;
    }
    place(loop, i, t);
}

static void sift_down(struct sockit_loop *loop, size_t i)
{
    struct sockit_timer *t = loop->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap && before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!before(loop->heap[child], t))
            break;
        place(loop, i, loop->heap[child]);
        i = child;
    }
    place(loop, i, t);
}

static void heap_remove(struct sockit_loop *loop, struct sockit_timer *t)
{
    size_t i = t->slot - 1;
    struct sockit_timer *last = loop->heap[--loop->nheap];

    t->slot = 0;
    if (last == t)
        return;
    place(loop, i, last);
    if (i > 0 && before(last, loop->heap[(i - 1) / 2]))
        sift_up(loop, i);
    else
        sift_down(loop, i);
}

static int heap_push(struct sockit_loop *loop, struct sockit_timer *t)
{
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 64;
        struct sockit_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    place(loop, loop->nheap++, t);
    sift_up(loop, loop->nheap - 1);
    return 0;
}

int sockit_timer_start(struct sockit_loop *loop, struct sockit_timer *t, uint64_t after_ns,
                       uint64_t repeat_ns)
{
    if (t->slot)
        heap_remove(loop, t);
    t->due = sockit__clock_ns() + after_ns;
    t->repeat = repeat_ns;
    t->seq = loop->timer_seq++;
    return heap_push(loop, t);
}

void sockit_timer_stop(struct sockit_loop *loop, struct sockit_timer *t)
{
    if (t->slot)
        heap_remove(loop, t);
}

int64_t sockit__timers_timeout(const struct sockit_loop *loop)
{
    if (loop->nheap == 0)
        return -1;
    uint64_t due = loop->heap[0]->due;
    return due <= loop->now ? 0 : (int64_t)(due - loop->now);
}

/* Fire what is due. A repeating timer is re-armed from its previous deadline (no drift) but
 * never into the past, so a late loop does not fire it in a burst. */
void sockit__timers_run(struct sockit_loop *loop)
{
    while (loop->nheap > 0 && loop->heap[0]->due <= loop->now) {
        struct sockit_timer *t = loop->heap[0];
        heap_remove(loop, t);
        if (t->repeat) {
            t->due += t->repeat;
            if (t->due <= loop->now)
                t->due = loop->now + t->repeat;
            t->seq = loop->timer_seq++;
            heap_push(loop, t); /* cannot fail: it just left the heap */
        }
        t->fn(loop, t, t->data);
    }
}

void sockit__timers_free(struct sockit_loop *loop)
{
    for (size_t i = 0; i < loop->nheap; i++)
        loop->heap[i]->slot = 0;
    free(loop->heap);
    loop->heap = NULL;
    loop->nheap = loop->capheap = 0;
}
