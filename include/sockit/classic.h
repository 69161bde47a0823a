/* sockit/classic.h — the classic blocking server models: the textbook's iterative server, a
 * process per client (fork) and a thread per client (thread).
 *
 * The caller opens the socket (a listening stream socket, or a bound datagram socket) and a
 * stop fd, and writes what one client gets as plain blocking-style code: a session callback.
 * The library runs the model around it: the accept loop, the cap on clients at once (a
 * client over it is accepted and closed at once, so it reads end of stream instead of
 * waiting unseen in the backlog), shedding a waiting client when out of fds, the count of
 * clients served, stopping when the stop fd becomes readable, and reaping the processes or
 * threads. Datagram endpoints have no connection to hand to a process or thread: there the
 * fork and thread models run WORKERS processes or threads on the one socket, and the
 * iterative model one, on the calling thread.
 *
 *   sockit_classic_run   serve on the calling thread until stopped; returns once every
 *                        process or thread it started has ended
 *
 * The event-loop server is sockit/server.h; this module uses no loop, and keeps no state
 * between calls.
 *
 * Stopping: the stop fd (a signalfd for SIGINT/SIGTERM, an eventfd...) is only polled, never
 * read: once readable it must stay so. A session is given a stop fd to watch beside its
 * client (sockit_wait, sockit_send_all_wait): in the iterative and fork models the caller's
 * (a forked child shares the open file; a signalfd there reports the child's own signals), in
 * the thread model one of the library's, set when the server stops. When it stops, the fork
 * model sends SIGTERM to each child still running (children also get it if the parent dies:
 * PR_SET_PDEATHSIG) and waits for them; the thread model waits for its threads.
 *
 * Processes: the fork model learns of a child's end from a pidfd per child (no SIGCHLD
 * handling, no signal mask change) and waits only for its own children. It flushes stdio
 * (fflush(NULL)) before each fork, so that nothing buffered is written twice; a child ends
 * with fflush(NULL) and _exit(0) when its session or worker returns (no atexit handlers).
 *
 * Ownership: the socket and the stop fd stay the caller's (never closed). A session owns its
 * client fd and closes it. The handler, the trace hook and UD are borrowed for the call. */
#ifndef SOCKIT_CLASSIC_H
#define SOCKIT_CLASSIC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/socket.h"

enum sockit_classic_model {
    SOCKIT_CLASSIC_ITERATIVE, /* one client at a time on the calling thread; others wait in
                                 the listen backlog */
    SOCKIT_CLASSIC_FORK,      /* a process per client; datagrams: WORKERS processes */
    SOCKIT_CLASSIC_THREAD,    /* a thread per client; datagrams: WORKERS threads */
};

/* A stream client, as its session gets it. Valid during the session. */
struct sockit_classic_client {
    int fd;                  /* the connected socket: the session's, to close */
    struct sockit_addr peer; /* who connected */
    int stop_fd;             /* readable once the server stops: watch it, never read it */
};

/* The caller's side. Stream sockets need SESSION, datagram sockets DGRAM. */
struct sockit_classic_handler {
    /* Serve client C to its end and close C->fd. Iterative: on the calling thread; thread: on
     * a thread of its own; fork: in a child process, which ends when it returns. */
    void (*session)(const struct sockit_classic_client *c, void *ud);
    /* Datagram sockets: FD was reported readable; receive and answer what waits (BUF is the
     * worker's own scratch space of BUF_SIZE bytes). Returns how many datagrams were served
     * (counted toward max_served), -EAGAIN if another worker took them first, or another
     * negative code, which ends the server with that code. Runs in every worker. */
    int (*dgram)(int fd, void *buf, size_t buf_size, void *ud);
    /* A client turned away: -SOCKIT_EFULL over max_clients, or the -errno with which its
     * process or thread could not be made (it was accepted and closed), with its address in
     * PEER; or accepting failed: -EMFILE / -ENFILE (out of fds: the waiting client was
     * accepted and closed) or another -errno from accept, PEER NULL. Runs on the calling
     * thread. May be NULL. */
    void (*on_reject)(int err, const struct sockit_addr *peer, void *ud);
};

/* Settings. Zero means the default given. */
struct sockit_classic_options {
    enum sockit_classic_model model;
    unsigned long max_clients; /* fork, thread on streams: clients at once; 1024 */
    unsigned long max_served;  /* stop after so many stream clients (once they are done) or
                                  datagrams served; 0: never */
    unsigned workers;          /* fork, thread on datagrams: workers sharing the socket; 2 */
    size_t dgram_buf;          /* bytes of each datagram worker's scratch buffer; 256 KiB */
    size_t stack_size;         /* thread model: each thread's stack; 256 KiB */
    /* For the sockets accepted (SOCKIT_NONBLOCK, SOCKIT_NODELAY) and the trace hook that
     * the library's own calls report to (accept, close, shed). Backlog and timeout unused. */
    struct sockit_sockopts sockopts;
};

/* What a run did, over all its processes and threads. */
struct sockit_classic_stats {
    unsigned long accepted; /* stream clients given a session */
    unsigned long rejected; /* turned away over max_clients, or no process or thread for them */
    unsigned long shed;     /* waiting clients closed when out of fds */
    unsigned long served;   /* datagrams served (the DGRAM callback's counts) */
};

/* Serve on FD, a non-blocking listening stream socket or bound datagram socket (the caller's:
 * not closed), with model O->model, until STOP_FD is readable, max_served is reached (and
 * those clients are done), or a datagram worker fails or ends. Blocks the calling thread.
 * *STATS (may be NULL) gets the counts. Returns 0; -EINVAL for a blocking FD, a handler or
 * model that does not fit; a DGRAM callback's error; or -errno from poll, or from setting up
 * (eventfd, mmap, and the first datagram worker's fork or pthread_create). */
int sockit_classic_run(int fd, int stop_fd, const struct sockit_classic_options *o,
                       const struct sockit_classic_handler *h, void *ud,
                       struct sockit_classic_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
