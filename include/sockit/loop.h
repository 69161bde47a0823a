/* sockit/loop.h — the event loop: watch fds for readiness and call back.
 *
 * One loop per thread; a loop and everything registered on it are used only from the thread
 * that runs it. The loop borrows fds and callback data: it never closes an fd or frees data,
 * and the caller unwatches an fd before closing it. This first version is epoll,
 * level-triggered; io_uring/poll backends, timers and signals as events build on this API. */
#ifndef SOCKIT_LOOP_H
#define SOCKIT_LOOP_H

struct sockit_loop;

enum sockit_loop_event {
    SOCKIT_EV_READ = 1u << 0,  /* readable, or a listener has a connection pending */
    SOCKIT_EV_WRITE = 1u << 1, /* writable */
    SOCKIT_EV_ERROR = 1u << 2, /* error or hang-up (reported without being asked for, unless
                                  the fd is silenced with events 0) */
};

/* Called with the events that are ready on FD and the DATA given to sockit_loop_watch. The
 * callback may watch, unwatch (even its own fd) and stop the loop. */
typedef void sockit_loop_fn(struct sockit_loop *loop, int fd, unsigned events, void *data);

/* Create a loop into *OUT. Returns 0 or -errno. Free it with sockit_loop_free. */
int sockit_loop_new(struct sockit_loop **out);

/* Free the loop (not the fds or data still watched: those stay the caller's). NULL is a no-op. */
void sockit_loop_free(struct sockit_loop *loop);

/* Start watching FD for EVENTS (SOCKIT_EV_READ | SOCKIT_EV_WRITE), or change the events and
 * callback of an fd already watched. EVENTS 0 keeps the fd registered but silent: no callback
 * at all, not even SOCKIT_EV_ERROR, until it is watched for events again. Returns 0 or
 * -errno. */
int sockit_loop_watch(struct sockit_loop *loop, int fd, unsigned events, sockit_loop_fn *fn,
                      void *data);

/* Stop watching FD. Pending events for it in the current round are dropped. Returns 0 or
 * -errno (-ENOENT if FD was not watched). */
int sockit_loop_unwatch(struct sockit_loop *loop, int fd);

/* Run callbacks until sockit_loop_stop() is called or nothing is watched. Returns 0, or
 * -errno if waiting for events failed. */
int sockit_loop_run(struct sockit_loop *loop);

/* Make sockit_loop_run return after the current round of callbacks. */
void sockit_loop_stop(struct sockit_loop *loop);

#endif
