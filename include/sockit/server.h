/* sockit/server.h — a multi-thread server in a few calls: N event-loop threads on one
 * endpoint, one cap on clients over all threads, idle timeouts, a stop on signals, counters.
 *
 * Each thread runs its own loop (sockit/loop.h) with its own listening socket on the same port
 * (SO_REUSEPORT: the kernel spreads the clients over the threads); unix sockets have one
 * socket, which every thread accepts from. A client is a loop stream with the caller's
 * callbacks, or a protocol engine joined to the stream by a sockit_conn (sockit/engine.h), so
 * an HTTP or WebSocket server is an engine plus options. Datagram endpoints (udp, unix-dgram)
 * get one sockit_dgram per thread (sockit/dgram.h), on its own socket (UDP) or on the shared
 * one (unix).
 *
 *   sockit_server_new    options and callbacks; creates the loops (a refused backend fails here)
 *   sockit_server_start  opens the sockets, starts the threads, returns once listening
 *   sockit_server_run    ... or: opens the sockets and serves on the calling thread (thread 0)
 *                        until the server stops; a one-thread server then creates no thread
 *   sockit_server_stop   from any thread; or SIGINT/SIGTERM with handle_signals
 *   sockit_server_wait   joins the threads: the port is free and the unix socket file removed
 *   sockit_server_free
 *
 * Threads: every callback of a client runs on that client's loop thread, one at a time; the
 * callbacks of different clients (and the dgrams of different threads) run at the same time
 * on different threads, so what they share must be thread-safe. sockit_server_stop and
 * sockit_server_stats may be called from any thread, callbacks included; the other functions
 * from the thread that created the server (never from a callback).
 *
 * Ownership: the server copies the options and the handler; the ops tables the handler points
 * to, the trace hook and UD are borrowed and must outlive the server. The server owns its
 * sockets, loops and threads; sockit_server_free releases them. */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/dgram.h"
#include "sockit/endpoint.h"
#include "sockit/engine.h"
#include "sockit/loop.h"
#include "sockit/socket.h"

struct sockit_server;

#define SOCKIT_SERVER_MAX_THREADS 1024

/* Settings of a server. Zero means the default given. */
struct sockit_server_options {
    /* Where to serve: tcp or unix (streams), udp or unix-dgram (datagrams). Port 0: the
     * kernel picks one, which sockit_server_info reports. */
    struct sockit_endpoint endpoint;
    /* Socket flags (SOCKIT_REUSEADDR, _NODELAY, _V6ONLY...), backlog and trace hook.
     * SOCKIT_NONBLOCK is always added, and SOCKIT_REUSEPORT with more than one thread on
     * tcp and udp. */
    struct sockit_sockopts sockopts;
    unsigned threads;                /* loop threads: 1 (at most SOCKIT_SERVER_MAX_THREADS) */
    struct sockit_loop_options loop; /* every thread's loop */
    /* Per client: output watermarks and bound, and an engine's unconsumed input. All zero:
     * the defaults of sockit_stream_open and sockit_conn_open. */
    struct sockit_conn_limits limits;
    /* The next three are for stream endpoints (datagram servers ignore them). */
    unsigned long max_clients; /* connected at once, over all threads; 0: no cap. Past it, a
                                  new client is accepted and closed at once (and counted) */
    /* Sent to a client turned away at max_clients before it is closed (one non-blocking send,
     * after reading what it sent already, so the close does not reset the answer away): an
     * HTTP server's 503. NULL: closed without a word. Borrowed: must outlive the server. */
    const void *full_reply;
    size_t full_reply_len;
    uint64_t idle_ms;         /* close a client that has sent nothing for so long; 0: never */
    unsigned long max_served; /* stop once so many clients have come and gone; 0: never */
    /* On stop, stop accepting and let each client finish what it was sent (it is closed once
     * its output is out: an HTTP response in flight completes, an idle keep-alive connection
     * closes at once) for up to drain_ms; the clients left then are closed (-ECANCELED).
     * 0: every client is closed at once. */
    uint64_t drain_ms;
    /* SIGINT and SIGTERM stop the server, through sockit_loop_signal on the first thread's
     * loop: sockit_server_start blocks them in the calling thread, and the threads it creates
     * (and any created later from it) inherit the mask. Block them before starting other
     * threads, or such a thread takes the signal's default action. */
    bool handle_signals;
    struct sockit_dgram_opts dgram; /* datagram endpoints: each thread's dgram */
};

/* What on_open is told about a new client. Valid during the call. */
struct sockit_server_client {
    struct sockit_server *server;
    struct sockit_loop *loop;     /* the client's loop; its callbacks run on this loop's thread */
    unsigned thread;              /* that thread's number, 0 .. threads - 1 */
    struct sockit_stream *stream; /* the client's stream (in engine mode, the conn's) */
    struct sockit_conn *conn;     /* engine mode: the conn; else NULL */
    const struct sockit_addr *peer;
};

/* The caller's side of a server. For stream endpoints exactly one of STREAM and ENGINE is set;
 * for datagram endpoints, DGRAM. */
struct sockit_server_handler {
    /* A client was accepted and its stream (or conn) is open. Return its data: the UD that
     * STREAM's callbacks get, or the ENG that ENGINE's get. May write, close... NULL: every
     * client's data is the server's UD. */
    void *(*on_open)(const struct sockit_server_client *c, void *ud);
    /* Stream mode: the client's callbacks (on_data and on_close required; on_drain may be
     * NULL; on_connect is not used). on_close gets ERR -SOCKIT_EIDLE when idle_ms closed the
     * client, -ECANCELED when the server stopped with the client connected, else as for any
     * stream. */
    const struct sockit_stream_ops *stream;
    /* Engine mode: a protocol engine per client, joined to its stream by a sockit_conn;
     * closed() gets the same ERR as on_close above. */
    const struct sockit_engine_ops *engine;
    /* A client was turned away: ERR -SOCKIT_EFULL at max_clients (it was accepted and closed
     * at once) or the -errno with which its stream could not be made (-ENOMEM; it was
     * closed), with its address in PEER; or accepting failed: -EMFILE / -ENFILE (out of fds:
     * the waiting client was accepted and closed) or another -errno from accept, PEER NULL.
     * Runs on the thread that turned it away. May be NULL. */
    void (*on_reject)(struct sockit_server *srv, int err, const struct sockit_addr *peer, void *ud);
    /* Datagram mode: each thread's dgram gets these callbacks, with the server's UD (so all
     * threads share it). on_recv required. */
    const struct sockit_dgram_ops *dgram;
    /* sockit_server_run: the sockets are open (sockit_server_info tells where), the serving
     * is about to start. Runs on the calling thread. May be NULL. */
    void (*on_listening)(struct sockit_server *srv, void *ud);
    /* Each loop thread, on that thread: before its loop first runs (THREAD 0..threads-1), and
     * after it has stopped (and drained), before the loop is freed: for what the caller keeps
     * on a thread's loop besides clients (a connection to a database, a timer). May be NULL. */
    void (*on_thread_start)(struct sockit_server *srv, unsigned thread, struct sockit_loop *loop,
                            void *ud);
    void (*on_thread_stop)(struct sockit_server *srv, unsigned thread, struct sockit_loop *loop,
                           void *ud);
};

/* Create a server: check the options, create one loop per thread. Nothing is listening yet.
 * Returns 0 and the server in *OUT; -EINVAL for options or a handler that do not fit the
 * endpoint; or the error of sockit_loop_new (an explicit backend the kernel refuses). */
int sockit_server_new(struct sockit_server **out, const struct sockit_server_options *opts,
                      const struct sockit_server_handler *h, void *ud);

/* Open the sockets (bind, listen), hand them to the loops, start the threads. Returns 0 once
 * every thread's socket is listening (so the caller may announce it), or a negative code:
 * sockit_socket_listen's (-EADDRINUSE, -EACCES, a resolution error...), -EALREADY when
 * called twice, or -errno from setting up a thread. After a failure nothing is left open:
 * only sockit_server_free remains to call. */
int sockit_server_start(struct sockit_server *srv);

/* Open the sockets and serve on the calling thread, which becomes thread 0, until the
 * server stops; threads 1 .. threads - 1 are started as by sockit_server_start. What a
 * program whose main job is the server calls: with one thread the process stays
 * single-threaded, and glibc's system call wrappers skip the cancellation bookkeeping they do
 * in a multi-threaded process (measured: 124 user-space instructions per echoed message on
 * epoll). Calls HANDLER->on_listening once the sockets are open. Returns 0 once stopped and
 * joined (as sockit_server_wait, which must not be called after it), -EALREADY if the server
 * was started, or -errno (nothing left open). */
int sockit_server_run(struct sockit_server *srv);

/* Ask every thread to stop after its current round; sockit_server_wait returns once they
 * have. Any thread, callbacks included; idempotent; not async-signal-safe (use
 * handle_signals instead of a signal handler). */
void sockit_server_stop(struct sockit_server *srv);

/* Wait until the server has stopped (sockit_server_stop, a signal with handle_signals,
 * max_served, or a thread's loop failing, which stops the others). Each thread closes its
 * clients (their on_close: -ECANCELED) and its socket on the way out, so on return the port
 * is free for a new bind, and a unix socket file is removed if it is still the one the server
 * created (a file put there by someone else meanwhile stays). Returns 0, or the first -errno
 * a loop failed with. Call once, after a successful start. */
int sockit_server_wait(struct sockit_server *srv);

/* Stop and wait if still running, then free everything. NULL is a no-op. */
void sockit_server_free(struct sockit_server *srv);

/* Counters since start, over all threads (stream endpoints). Any thread. */
struct sockit_server_stats {
    uint64_t accepted;  /* clients served: accepted and opened */
    uint64_t live;      /* of them, connected now */
    uint64_t rejected;  /* turned away at max_clients (accepted and closed at once) */
    uint64_t shed;      /* turned away for lack of fds (EMFILE / ENFILE) */
    uint64_t idled_out; /* closed by idle_ms */
};

void sockit_server_stats(const struct sockit_server *srv, struct sockit_server_stats *out);

/* What the server runs on, for a notice. The strings are static. */
struct sockit_server_info {
    struct sockit_addr local; /* the bound address (after start; len 0 before) */
    const char *backend;      /* the loops' backend: "uring", "epoll" or "poll" */
    const char *refused;      /* backend AUTO fell back: the backend the kernel refused; or NULL */
    int refused_err;          /* ... and why (-EPERM, -ENOSYS...); 0 without fallback */
    unsigned threads;
};

void sockit_server_info(const struct sockit_server *srv, struct sockit_server_info *out);

#ifdef __cplusplus
}
#endif

#endif
