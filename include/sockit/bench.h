/* sockit/bench.h — a load generator for echo servers (and for sinks): connections, message
 * size, depth, rate, duration; messages/s, bytes/s, latency histograms and errors.
 *
 * Worker threads each run their own loop (sockit/loop.h) over a share of the connections and
 * keep their own counts; sockit_bench_live reads the running totals from any thread while
 * they run, and once every worker is done the results are merged into one
 * sockit_bench_result (latency in nanoseconds, in a sockit_hist).
 *
 *   sockit_bench_new     checks the settings and allocates everything (nothing runs yet)
 *   sockit_bench_start   starts the worker threads and returns
 *   sockit_bench_wait    waits (up to a timeout) for the run to end
 *   sockit_bench_run     ... or: start and wait in one call
 *   sockit_bench_stop    ends the run early, from any thread
 *   sockit_bench_live    the counters so far, from any thread
 *   sockit_bench_result  the merged results, once the run has ended
 *   sockit_bench_free
 *
 * Threads: sockit_bench_live and sockit_bench_stop may be called from any thread at any time;
 * the other functions from one thread (the one that created the bench). The workers send with
 * MSG_NOSIGNAL (no SIGPIPE) and handle no signals.
 *
 * Ownership: sockit_bench_new copies the settings (the endpoint and address too); the bench
 * owns its threads, loops, sockets and buffers, and the result it hands out (valid until
 * sockit_bench_free). */
#ifndef SOCKIT_BENCH_H
#define SOCKIT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/hist.h"
#include "sockit/loop.h"

struct sockit_bench;

enum sockit_bench_mode {
    SOCKIT_BENCH_PINGPONG, /* each connection sends a message and waits for its echo */
    SOCKIT_BENCH_PIPELINE, /* each connection keeps DEPTH messages in flight */
    SOCKIT_BENCH_BULK,     /* each connection streams SIZE writes and reads the echo back */
    SOCKIT_BENCH_CONNECT,  /* a new connection per message: connect, send, read, close */
    SOCKIT_BENCH_SEND,     /* one-way: streams SIZE writes; whatever comes back is dropped */
};

#define SOCKIT_BENCH_MAX_SIZE                                                                      \
    (64ul << 20) /* largest message (bulk, send: write) size, and                                  \
                    pipeline's largest DEPTH x SIZE in flight */

/* What to run. Zero means the default given. */
struct sockit_bench_config {
    struct sockit_endpoint endpoint; /* the server: tcp, unix (streams), udp, unix-dgram */
    struct sockit_addr addr;         /* where to connect (sockit_endpoint_resolve); len 0:
                                        sockit_bench_new resolves ENDPOINT, first address */
    enum sockit_bench_mode mode;     /* PINGPONG */
    unsigned long connections;       /* concurrent connections: 50 */
    size_t size;                     /* message size: 64; bulk and send: write size, 65536 */
    unsigned long depth;             /* messages in flight per connection: pipeline 16; the
                                        other modes 1 (more is refused) */
    unsigned long threads;           /* worker threads: 1 (never more than connections) */
    double duration_s;               /* run for so long; 0 with COUNT 0: 10 s; 0: until COUNT */
    uint64_t count;                  /* stop after so many messages (bulk, send: bytes) */
    double rate;                     /* pingpong, pipeline: messages/s over all connections
                                        (open loop); 0: closed loop. Latency then counts from
                                        each message's intended send time, so a stalled server
                                        cannot hide */
    unsigned long timeout_ms;        /* 2000 (wrk's). A connect, and a reply, may take so long:
                                        a later datagram reply is lost; a stream whose oldest
                                        message waited longer (bulk, send: no byte moved for so
                                        long) is closed as timed out. Connects also end at the
                                        end of the run */
    enum sockit_backend backend;     /* the workers' loops; AUTO: io_uring where the kernel has
                                        it, but epoll for bulk and send (measured faster) */
    bool reverse;                    /* bulk only: send nothing, count what the server sends
                                        (iperf3 -R); the server's end of stream ends a
                                        connection normally, COUNT counts bytes received */
};

/* Counters of a running bench, summed over the workers. */
struct sockit_bench_live {
    uint64_t messages; /* messages answered (bulk: SIZE bytes echoed; send: SIZE bytes sent) */
    uint64_t bytes;    /* bytes echoed back (send: bytes the kernel took) */
    uint64_t errors;   /* connections failed, timed out or closed by the server, datagrams
                          lost */
};

/* The merged results of a finished run. */
struct sockit_bench_result {
    uint64_t messages, bytes;   /* as in sockit_bench_live */
    uint64_t connect_errors;    /* connections that could not be made */
    uint64_t closed_by_server;  /* connections the server ended or reset */
    uint64_t io_errors;         /* connections closed on another send or receive error */
    uint64_t lost;              /* datagrams with no reply within timeout_ms */
    uint64_t timeouts;          /* streams closed: no reply within timeout_ms */
    uint64_t unanswered;        /* messages sent and never answered (in flight at the end, or
                                   on a connection that failed); each is in LATENCY with the
                                   time it waited, as wrk2 counts them */
    int first_error;            /* the first -errno (or -SOCKIT_E*) met, 0 if none... */
    const char *first_error_op; /* ... and what failed: "connect", "send", "recv"... */
    double seconds;             /* from start to the end of the last worker */
    struct sockit_hist latency; /* nanoseconds, send (or intended send) to reply */
};

/* The settings of CFG with every default filled in (a zero field gets its default), in
 * *OUT. */
void sockit_bench_defaults(const struct sockit_bench_config *cfg, struct sockit_bench_config *out);

/* The largest message SIZE that CFG's endpoint carries: SOCKIT_BENCH_MAX_SIZE on streams;
 * 65,507 bytes for UDP over IPv4, 65,527 over IPv6 (ADDR decides; unresolved: the larger); for
 * unix datagrams the kernel's limit for a socket's send buffer grown as far as
 * net.core.wmem_max lets it (its SO_SNDBUF less 32), which the bench then sets. */
size_t sockit_bench_max_size(const struct sockit_bench_config *cfg);

/* Why CFG (defaults filled in or not) cannot run, as a sentence naming the setting ("bulk
 * mode needs a stream endpoint (tcp:// or unix:)"), or NULL when it can. Static text. */
const char *sockit_bench_check(const struct sockit_bench_config *cfg);

/* Check CFG and allocate a bench for it in *OUT (resolving ENDPOINT when ADDR is unset). Returns
 * 0, -EINVAL for a setting sockit_bench_check refuses, the resolver's -SOCKIT_E* code,
 * -SOCKIT_EDGRAMSIZE for a datagram SIZE over sockit_bench_max_size of the address, -ENOMEM, or
 * the -errno of a loop that cannot be made on the backend asked for. */
int sockit_bench_new(const struct sockit_bench_config *cfg, struct sockit_bench **out);

/* Start the workers; the clock of the run starts here. Returns 0 or -errno (a thread that
 * could not be created: the workers already started are stopped and joined). Once only. */
int sockit_bench_start(struct sockit_bench *b);

/* Wait up to TIMEOUT_MS (-1: without limit) for every worker to end. Returns 0 once the run
 * is over (the result is ready), -ETIMEDOUT if it is still running. */
int sockit_bench_wait(struct sockit_bench *b, int timeout_ms);

/* End the run now, as if its time were up: what was measured so far is the result. Any
 * thread, any time after sockit_bench_new (before sockit_bench_start: the run will end at
 * once). */
void sockit_bench_stop(struct sockit_bench *b);

/* sockit_bench_start, then sockit_bench_wait without limit. */
int sockit_bench_run(struct sockit_bench *b);

/* The counters so far, into *OUT. Any thread, any time after sockit_bench_new. */
void sockit_bench_live(const struct sockit_bench *b, struct sockit_bench_live *out);

/* The merged results once sockit_bench_wait has returned 0; NULL before. Owned by B. */
const struct sockit_bench_result *sockit_bench_result(const struct sockit_bench *b);

/* The settings B runs with (defaults filled in). Owned by B. */
const struct sockit_bench_config *sockit_bench_config(const struct sockit_bench *b);

/* Free B; a run still going is waited for first. NULL is ignored. */
void sockit_bench_free(struct sockit_bench *b);

#ifdef __cplusplus
}
#endif

#endif
