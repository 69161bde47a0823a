/* Listeners: accept connections on a listening socket and hand each to the caller. Out of
 * fds, the waiting client is accepted and closed at once (a reserve fd makes room), so a
 * level-triggered listener never spins and the client is not left hanging. Every backend
 * drives listeners by readiness (io_uring through a poll request): accepting is not the hot
 * path, and accept4 gives the peer address without a second call. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_internal.h"
#include "sockit/socket.h"

#define ACCEPTS_PER_ROUND 64

static void set_interest(struct sockit_listener *l, bool on)
{
    struct sockit_loop *loop = l->loop;
    struct sockit__fdslot *slot = sockit__slot(loop, l->fd);

    slot->mask = on ? SOCKIT_EV_READ : 0;
    loop->be->update(loop, l->fd, slot, false);
}

static void accept_failed(struct sockit_listener *l, int err)
{
    if (err == -EMFILE || err == -ENFILE)
        sockit_socket_shed(l->fd, &l->spare, l->loop->opts.trace);
    if (l->on_error)
        l->on_error(l, err, l->ud);
}

void sockit__listener_ready(struct sockit_listener *l, unsigned events)
{
    struct sockit_sockopts o = { .flags = SOCKIT_NONBLOCK, .trace = l->loop->opts.trace };

    (void)events;
    for (int i = 0; i < ACCEPTS_PER_ROUND && !l->paused; i++) {
        struct sockit_addr peer;
        int fd = sockit_socket_accept(l->fd, &o, &peer);
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            accept_failed(l, fd);
            return;
        }
        l->on_accept(l, fd, &peer, l->ud); /* may pause or close l */
        if (l->fd < 0)
            return;
    }
}

int sockit_listener_open(struct sockit_loop *loop, int lfd, sockit_accept_fn *on_accept,
                         void (*on_error)(struct sockit_listener *l, int err, void *ud), void *ud,
                         struct sockit_listener **out)
{
    struct sockit_listener *l = calloc(1, sizeof(*l));
    int err;

    if (!l)
        return -ENOMEM;
    *l = (struct sockit_listener){ .loop = loop,
                                   .fd = lfd,
                                   .on_accept = on_accept,
                                   .on_error = on_error,
                                   .ud = ud,
                                   .next = loop->listeners };
    l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    err = sockit__slot_claim(loop, lfd, FD_LISTENER, l, NULL);
    if (err) {
        close(l->spare);
        free(l);
        return err;
    }
    if (loop->listeners)
        loop->listeners->prev = l;
    loop->listeners = l;
    set_interest(l, true);
    *out = l;
    return 0;
}

void sockit_listener_pause(struct sockit_listener *l)
{
    if (l->paused)
        return;
    l->paused = true;
    set_interest(l, false);
}

void sockit_listener_resume(struct sockit_listener *l)
{
    if (!l->paused)
        return;
    l->paused = false;
    set_interest(l, true);
}

static void free_deferred(struct sockit_loop *loop, void *data)
{
    (void)loop;
    free(data);
}

/* Unregister and close now; the memory goes in a deferred call, so an accept callback may
 * close its own listener. */
static void shut(struct sockit_listener *l)
{
    struct sockit_loop *loop = l->loop;

    if (l->prev)
        l->prev->next = l->next;
    else
        loop->listeners = l->next;
    if (l->next)
        l->next->prev = l->prev;
    sockit__slot_release(loop, l->fd);
    close(l->fd);
    l->fd = -1;
    if (l->spare >= 0)
        close(l->spare);
}

void sockit_listener_close(struct sockit_listener *l)
{
    if (l->fd < 0)
        return;
    shut(l);
    sockit_loop_defer(l->loop, &l->free_defer, free_deferred, l);
}

void sockit__listener_free_all(struct sockit_loop *loop)
{
    while (loop->listeners) {
        struct sockit_listener *l = loop->listeners;
        shut(l);
        free(l);
    }
}
