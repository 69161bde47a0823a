/* epoll backend. Watchers and listeners are level-triggered; streams are registered once,
 * edge-triggered, for input and output together, so steady traffic costs no epoll_ctl calls
 * (the stream reads and writes until EAGAIN). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop_internal.h"

#define EVENTS_PER_WAIT 256

struct epoll_state {
    int epfd;
    struct epoll_event events[EVENTS_PER_WAIT];
};

static int ep_init(struct sockit_loop *loop)
{
    struct epoll_state *st = calloc(1, sizeof(*st));

    if (!st)
        return -ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int err = -errno;
        free(st);
        return err;
    }
    loop->be_state = st;
    return 0;
}

static void ep_fini(struct sockit_loop *loop)
{
    struct epoll_state *st = loop->be_state;

    close(st->epfd);
    free(st);
    loop->be_state = NULL;
}

static uint32_t level_events(unsigned mask)
{
    return ((mask & SOCKIT_EV_READ) ? EPOLLIN : 0u) | ((mask & SOCKIT_EV_WRITE) ? EPOLLOUT : 0u);
}

static int ep_update(struct sockit_loop *loop, int fd, struct sockit__fdslot *slot, bool edge)
{
    struct epoll_state *st = loop->be_state;
    struct epoll_event ev = { .data.u64 = ((uint64_t)slot->gen << 32) | (uint32_t)fd };

    if (slot->mask == 0) {
        if (!slot->registered)
            return 0;
        slot->registered = false;
        /* The fd may already be closed (EBADF) or gone from the set: nothing left to undo. */
        if (epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
            return -errno;
        return 0;
    }
    if (edge && slot->registered)
        return 0; /* registered for everything already */
    ev.events = edge ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : level_events(slot->mask);
    if (epoll_ctl(st->epfd, slot->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    slot->registered = true;
    return 0;
}

static unsigned to_loop_events(uint32_t e)
{
    return ((e & (EPOLLIN | EPOLLRDHUP)) ? SOCKIT_EV_READ : 0u) |
           ((e & EPOLLRDHUP) ? SOCKIT__EV_RDHUP : 0u) | ((e & EPOLLOUT) ? SOCKIT_EV_WRITE : 0u) |
           ((e & (EPOLLERR | EPOLLHUP)) ? SOCKIT_EV_ERROR : 0u);
}

static int ep_wait(struct sockit_loop *loop, int64_t timeout_ns)
{
    struct epoll_state *st = loop->be_state;
    struct timespec ts = { (time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000) };
    int n = epoll_pwait2(st->epfd, st->events, EVENTS_PER_WAIT, timeout_ns < 0 ? NULL : &ts, NULL);

    if (n < 0 && errno == ENOSYS) { /* kernels before 5.11: millisecond timeouts */
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(st->epfd, st->events, EVENTS_PER_WAIT, ms);
    }
    SOCKIT__TRACE_CALL(loop, n, "epoll_pwait2(%d, timeout %lld us)", st->epfd,
                       timeout_ns < 0 ? -1 : (long long)(timeout_ns / 1000));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    loop->now = sockit__clock_ns();
    for (int i = 0; i < n; i++) {
        uint64_t key = st->events[i].data.u64;
        sockit__dispatch(loop, (int)(uint32_t)key, (uint32_t)(key >> 32),
                         to_loop_events(st->events[i].events));
    }
    return 0;
}

const struct sockit__backend sockit__backend_epoll = {
    .name = "epoll",
    .edge = true,
    .init = ep_init,
    .fini = ep_fini,
    .update = ep_update,
    .wait = ep_wait,
};
