/* Internal to src/lib/bench: the bench's state, shared by bench.c (the public calls: settings,
 * threads, merging) and worker.c (one worker's loop and connections). The public API is in
 * include/sockit/bench.h. */
#ifndef SOCKIT_BENCH_INTERNAL_H
#define SOCKIT_BENCH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sockit/bench.h"
#include "sockit/shared.h"

/* Counters shared between the workers and sockit_bench_live (relaxed atomics: statistics). */
struct sockit__bench_counters {
    _Atomic uint64_t messages, bytes, errors;
};

struct sockit__bench_engine; /* worker.c */

/* One worker: a thread, a loop and a share of the connections and of the count. */
struct sockit__bench_worker {
    const struct sockit_bench_config *cfg;
    struct sockit__bench_counters *live;
    pthread_mutex_t *lock;       /* the bench's: ENGINE's loop against a stop from another thread */
    const char *msg;             /* DEPTH messages of payload, shared by every worker */
    struct sockit_shared *chunk; /* bulk, send: one write, queued by reference, shared too */
    unsigned long first_conn, nconns;
    uint64_t quota;           /* messages (bulk: bytes) this worker sends; 0 = no limit */
    int64_t start_ns, end_ns; /* end_ns 0: no time limit */
    struct sockit_bench_result result;
    struct sockit__bench_engine *engine;
    pthread_t tid;
    bool running; /* TID is a thread to join */
};

struct sockit_bench {
    struct sockit_bench_config cfg; /* defaults filled in */
    struct sockit__bench_counters live;
    struct sockit__bench_worker *workers;
    pthread_mutex_t lock; /* each worker's loop, against a stop while the worker frees it */
    char *msg;
    struct sockit_shared *chunk;
    int64_t start_ns;
    bool started, done;
    struct sockit_bench_result result; /* merged once done */
};

/* Raise unix datagram socket FD's send buffer so that SIZE fits, as far as the kernel lets it
 * grow; returns the largest datagram FD can send then. */
size_t sockit__bench_fit_sndbuf(int fd, size_t size);

/* Make W's loop and connection slots (on the caller's thread). Returns 0, -ENOMEM or the
 * loop's -errno. */
int sockit__bench_worker_init(struct sockit__bench_worker *w);

/* Run W to completion on its loop (thread entry point; ARG is W); the loop is freed at the
 * end. */
void *sockit__bench_worker_run(void *arg);

/* End W's run now (any thread): its loop stops, or, before it runs, does not start. */
void sockit__bench_worker_stop(struct sockit__bench_worker *w);

/* Free what sockit__bench_worker_init made and the run did not (a worker never run). */
void sockit__bench_worker_free(struct sockit__bench_worker *w);

#endif
