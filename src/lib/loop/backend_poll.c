/* poll backend: the portable baseline. A pollfd array with an fd -> index map; every wait
 * hands the whole array to the kernel, which is why it falls behind with many fds. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop_internal.h"

struct ready {
    int fd;
    uint32_t gen;
    short revents;
};

struct poll_state {
    struct pollfd *fds;
    uint32_t *gens;
    struct ready *ready;
    size_t n, cap;
    int *index; /* fd -> position in fds, or -1 */
    size_t nindex;
};

static int pl_init(struct sockit_loop *loop)
{
    struct poll_state *st = calloc(1, sizeof(*st));

    if (!st)
        return -ENOMEM;
    loop->be_state = st;
    return 0;
}

static void pl_fini(struct sockit_loop *loop)
{
    struct poll_state *st = loop->be_state;

    free(st->fds);
    free(st->gens);
    free(st->ready);
    free(st->index);
    free(st);
    loop->be_state = NULL;
}

static int grow(struct poll_state *st, int fd)
{
    if ((size_t)fd >= st->nindex) {
        size_t n = st->nindex ? st->nindex : 64;
        while (n <= (size_t)fd)
            n *= 2;
        int *idx = realloc(st->index, n * sizeof(*idx));
        if (!idx)
            return -ENOMEM;
        memset(idx + st->nindex, 0xff, (n - st->nindex) * sizeof(*idx)); /* -1 */
        st->index = idx;
        st->nindex = n;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct pollfd *f = realloc(st->fds, cap * sizeof(*f));
        uint32_t *g = f ? realloc(st->gens, cap * sizeof(*g)) : NULL;
        struct ready *r = g ? realloc(st->ready, cap * sizeof(*r)) : NULL;
        if (f)
            st->fds = f;
        if (g)
            st->gens = g;
        if (!r)
            return -ENOMEM;
        st->ready = r;
        st->cap = cap;
    }
    return 0;
}

static void remove_at(struct poll_state *st, int fd)
{
    int i = st->index[fd];
    size_t last = --st->n;

    st->index[fd] = -1;
    if ((size_t)i != last) {
        st->fds[i] = st->fds[last];
        st->gens[i] = st->gens[last];
        st->index[st->fds[i].fd] = i;
    }
}

static int pl_update(struct sockit_loop *loop, int fd, struct sockit__fdslot *slot, bool edge)
{
    struct poll_state *st = loop->be_state;
    short events = (short)(((slot->mask & SOCKIT_EV_READ) ? POLLIN : 0) |
                           ((slot->mask & SOCKIT_EV_WRITE) ? POLLOUT : 0));

    (void)edge; /* poll is level-triggered only; streams ask for exactly what they need */
    if (slot->mask == 0) {
        if (slot->registered)
            remove_at(st, fd);
        slot->registered = false;
        return 0;
    }
    if (!slot->registered) {
        int err = grow(st, fd);
        if (err)
            return err;
        st->index[fd] = (int)st->n;
        st->fds[st->n] = (struct pollfd){ .fd = fd };
        st->gens[st->n++] = slot->gen;
        slot->registered = true;
    }
    st->fds[st->index[fd]].events = events;
    st->gens[st->index[fd]] = slot->gen;
    return 0;
}

static int pl_wait(struct sockit_loop *loop, int64_t timeout_ns)
{
    struct poll_state *st = loop->be_state;
    struct timespec ts = { (time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000) };
    int n = ppoll(st->fds, st->n, timeout_ns < 0 ? NULL : &ts, NULL);

    SOCKIT__TRACE_CALL(loop, n, "ppoll(%zu fds, timeout %lld us)", (size_t)st->n,
                       timeout_ns < 0 ? -1 : (long long)(timeout_ns / 1000));
    size_t nready = 0;

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    loop->now = sockit__clock_ns();
    /* Callbacks change the array: take the ready entries out first. */
    for (size_t i = 0; i < st->n && nready < (size_t)n; i++) {
        if (st->fds[i].revents)
            st->ready[nready++] = (struct ready){ st->fds[i].fd, st->gens[i], st->fds[i].revents };
    }
    for (size_t i = 0; i < nready; i++) {
        short r = st->ready[i].revents;
        unsigned ev = ((r & POLLIN) ? SOCKIT_EV_READ : 0u) |
                      ((r & POLLOUT) ? SOCKIT_EV_WRITE : 0u) |
                      ((r & (POLLERR | POLLHUP | POLLNVAL)) ? SOCKIT_EV_ERROR : 0u);
        sockit__dispatch(loop, st->ready[i].fd, st->ready[i].gen, ev);
    }
    return 0;
}

const struct sockit__backend sockit__backend_poll = {
    .name = "poll",
    .init = pl_init,
    .fini = pl_fini,
    .update = pl_update,
    .wait = pl_wait,
};
