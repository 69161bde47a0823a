/* Internal to src/lib/server: the server's state, shared by server.c (the public calls),
 * threads.c (sockets and one loop per thread) and clients.c (admission, the per-client
 * callbacks, idle timers). The public API is in include/sockit/server.h. */
#ifndef SOCKIT_SERVER_INTERNAL_H
#define SOCKIT_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "sockit/server.h"

struct sockit__server_thread {
    struct sockit_server *srv;
    unsigned index;
    struct sockit_loop *loop; /* NULL once freed (under srv->lock) */
    bool closing;             /* the thread is freeing its loop: stops pass it by (srv->lock) */
    struct sockit_listener *listener; /* stream endpoints */
    struct sockit_dgram *dgram;       /* datagram endpoints */
    int fd; /* the thread's socket until the listener or dgram owns it; else -1 */
    pthread_t tid;
    bool running;                   /* TID is a thread to join */
    int rc;                         /* what sockit_loop_run returned */
    struct sockit__client *clients; /* this thread's clients, a list (clients.c) */
    bool draining;                  /* finishing its clients after a stop (srv->lock) */
    struct sockit_timer drain_end;  /* draining: the end of drain_ms */
};

struct sockit_server {
    struct sockit_server_options o; /* with the defaults filled in */
    struct sockit_server_handler h;
    void *ud;
    struct sockit__server_thread *threads;
    unsigned nthreads;
    struct sockit_server_info info; /* local address (at start), backend and its fallback */
    struct sockit_socket_file file; /* the unix socket file the server created, if valid */
    bool started, joined;           /* start was called; the threads have been joined */
    pthread_mutex_t lock; /* threads[i].loop: a stop against a thread letting its loop go */
    /* Counters, over all threads. ACCEPTED also counts toward max_served and LIVE toward
     * max_clients; FINISHED counts the clients that have closed. */
    _Atomic uint64_t accepted, live, finished, rejected, shed, idled;
};

/* Stop every thread's loop. Any thread. */
void sockit__server_stop_all(struct sockit_server *srv);

/* threads.c: open every thread's socket and hand it to a listener or dgram; start the
 * threads; join them (and release what threads never started hold). Each returns 0 or a
 * negative code. */
int sockit__server_open_sockets(struct sockit_server *srv);
int sockit__server_start_threads(struct sockit_server *srv, unsigned first);
void sockit__server_run_here(struct sockit__server_thread *t); /* thread T on this thread */
int sockit__server_join_threads(struct sockit_server *srv);

/* clients.c: the listener callbacks of every thread (UD: the struct sockit__server_thread). */
void sockit__server_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer,
                           void *ud);
void sockit__server_accept_error(struct sockit_listener *l, int err, void *ud);

/* clients.c: after a stop with drain_ms, have T's clients close once their output is out,
 * stop accepting, and stop T's loop when the last is gone or drain_ms has passed. Returns
 * true if there is anything to wait for (then run the loop again). */
bool sockit__server_drain(struct sockit__server_thread *t);

#endif
