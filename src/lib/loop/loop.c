/* The event loop, epoll backend (level-triggered). Watchers live in a table indexed by fd;
 * each registration gets a generation number so a stale event for a closed-and-reused fd
 * number is never delivered to the new owner. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sockit/loop.h"

#define EVENTS_PER_ROUND 256

struct watcher {
    sockit_loop_fn *fn;
    void *data;
    unsigned events;
    uint32_t gen;   /* 0 = not watched */
    bool in_kernel; /* in the epoll set; a silent watcher (events 0) is not, so that even a
                       hang-up cannot wake it */
};

struct sockit_loop {
    int epfd;
    struct watcher *watchers; /* indexed by fd */
    size_t nwatchers;         /* table size */
    size_t active;            /* fds watched */
    uint32_t next_gen;
    bool stopping;
};

int sockit_loop_new(struct sockit_loop **out)
{
    struct sockit_loop *loop = calloc(1, sizeof(*loop));

    if (!loop)
        return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    *out = loop;
    return 0;
}

void sockit_loop_free(struct sockit_loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->watchers);
    free(loop);
}

static int grow_table(struct sockit_loop *loop, int fd)
{
    size_t n = loop->nwatchers ? loop->nwatchers : 64;
    struct watcher *w;

    while (n <= (size_t)fd)
        n *= 2;
    w = realloc(loop->watchers, n * sizeof(*w));
    if (!w)
        return -ENOMEM;
    memset(w + loop->nwatchers, 0, (n - loop->nwatchers) * sizeof(*w));
    loop->watchers = w;
    loop->nwatchers = n;
    return 0;
}

/* Never 0: 0 marks a free table entry. */
static uint32_t new_generation(struct sockit_loop *loop)
{
    if (++loop->next_gen == 0)
        loop->next_gen = 1;
    return loop->next_gen;
}

static uint32_t to_epoll(unsigned events)
{
    return ((events & SOCKIT_EV_READ) ? EPOLLIN : 0u) |
           ((events & SOCKIT_EV_WRITE) ? EPOLLOUT : 0u);
}

int sockit_loop_watch(struct sockit_loop *loop, int fd, unsigned events, sockit_loop_fn *fn,
                      void *data)
{
    struct epoll_event ev = { 0 };
    struct watcher *w;
    int op;

    if (fd < 0 || !fn)
        return -EINVAL;
    if ((size_t)fd >= loop->nwatchers && grow_table(loop, fd) < 0)
        return -ENOMEM;
    w = &loop->watchers[fd];
    bool is_new = w->gen == 0;
    uint32_t gen = is_new ? new_generation(loop) : w->gen;
    bool in_kernel = events != 0;
    ev.events = to_epoll(events);
    ev.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
    if (in_kernel != w->in_kernel || (in_kernel && w->events != events)) {
        op = !in_kernel ? EPOLL_CTL_DEL : w->in_kernel ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
            return -errno;
    }
    if (is_new)
        loop->active++;
    *w = (struct watcher){
        .fn = fn, .data = data, .events = events, .gen = gen, .in_kernel = in_kernel
    };
    return 0;
}

int sockit_loop_unwatch(struct sockit_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nwatchers || !loop->watchers[fd].gen)
        return -ENOENT;
    /* EPOLL_CTL_DEL may fail if the fd was already closed; the table entry goes anyway. */
    int err = 0;
    if (loop->watchers[fd].in_kernel)
        err = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
    memset(&loop->watchers[fd], 0, sizeof(loop->watchers[fd]));
    loop->active--;
    return err == -EBADF ? 0 : err;
}

static void dispatch(struct sockit_loop *loop, const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    unsigned events = 0;

    if ((size_t)fd >= loop->nwatchers || loop->watchers[fd].gen != gen)
        return; /* unwatched (and maybe reused) earlier in this round */
    struct watcher *w = &loop->watchers[fd];
    if (ev->events & EPOLLIN)
        events |= SOCKIT_EV_READ;
    if (ev->events & EPOLLOUT)
        events |= SOCKIT_EV_WRITE;
    if (ev->events & (EPOLLERR | EPOLLHUP))
        events |= SOCKIT_EV_ERROR | (w->events & SOCKIT_EV_READ);
    w->fn(loop, fd, events, w->data);
}

int sockit_loop_run(struct sockit_loop *loop)
{
    struct epoll_event events[EVENTS_PER_ROUND];

    loop->stopping = false;
    while (!loop->stopping && loop->active > 0) {
        int n = epoll_wait(loop->epfd, events, EVENTS_PER_ROUND, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (int i = 0; i < n && !loop->stopping; i++)
            dispatch(loop, &events[i]);
    }
    return 0;
}

void sockit_loop_stop(struct sockit_loop *loop)
{
    loop->stopping = true;
}
