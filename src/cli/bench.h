/* sockit bench: a load generator for echo servers. Worker threads each run their own loop
 * (sockit/loop.h) over a share of the connections; the main thread prints progress and the
 * summary. */
#ifndef SOCKIT_CLI_BENCH_H
#define SOCKIT_CLI_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sockit/endpoint.h"
#include "sockit/hist.h"
#include "sockit/loop.h"

enum bench_mode { BENCH_PINGPONG, BENCH_PIPELINE, BENCH_BULK, BENCH_CONNECT, BENCH_SEND };

struct bench_config {
    struct sockit_endpoint ep;
    const char *ep_text;
    struct sockit_addr addr; /* resolved once */
    enum bench_mode mode;
    unsigned long connections;
    unsigned long size;  /* message size (bulk: write size) */
    unsigned long depth; /* messages in flight per connection */
    unsigned long threads;
    double duration_s;           /* 0: until count */
    unsigned long long count;    /* total messages (bulk: bytes); 0: until duration */
    double rate;                 /* messages/s over all connections; 0: closed loop */
    unsigned long timeout_ms;    /* datagram reply timeout */
    enum sockit_backend backend; /* the loop's backend (AUTO: see bench_engine.c) */
    bool json, quiet;
};

/* Counters shared between workers and the reporter (relaxed atomics: statistics only). */
struct bench_live {
    _Atomic unsigned long long messages, bytes, errors;
};

/* What one worker measured. */
struct bench_result {
    unsigned long long messages, bytes; /* completed messages; bytes echoed back */
    unsigned long long connect_errors, io_errors, lost, closed_by_server;
    int first_error; /* first -errno seen, for the summary */
    const char *first_error_op;
    struct sockit_hist latency; /* nanoseconds */
};

struct bench_worker {
    const struct bench_config *cfg;
    struct bench_live *live;
    unsigned long first_conn, nconns;
    unsigned long long quota; /* messages (bulk: bytes) this worker sends; 0 = no limit */
    int64_t start_ns, end_ns; /* end_ns 0: no time limit */
    struct bench_result result;
};

/* Run one worker to completion on its own loop (thread entry point; ARG is a struct
 * bench_worker). */
void *bench_worker_run(void *arg);

#endif
