/* The load generator's public calls (sockit/bench.h): settings and their defaults, the split
 * of connections and count over the workers, their threads, live counters and the merge of
 * their results. Each worker's loop and connections are in worker.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_internal.h"
#include "sockit/clock.h"
#include "sockit/error.h"

void sockit_bench_defaults(const struct sockit_bench_config *cfg, struct sockit_bench_config *out)
{
    bool streaming = cfg->mode == SOCKIT_BENCH_BULK || cfg->mode == SOCKIT_BENCH_SEND;

    *out = *cfg;
    if (!out->connections)
        out->connections = 50;
    if (!out->size)
        out->size = streaming ? 65536 : 64;
    if (!out->depth)
        out->depth = cfg->mode == SOCKIT_BENCH_PIPELINE ? 16 : 1;
    if (!out->threads)
        out->threads = 1;
    if (out->threads > out->connections)
        out->threads = out->connections;
    if (out->duration_s == 0 && out->count == 0)
        out->duration_s = 10;
    if (!out->timeout_ms)
        out->timeout_ms = 2000;
}

/* A unix datagram fits in the sender's SO_SNDBUF less 32 bytes (the kernel's check in
 * unix_dgram_sendmsg). Raise FD's send buffer so that SIZE fits, as far as net.core.wmem_max
 * allows; returns the largest datagram FD can then send. */
size_t sockit__bench_fit_sndbuf(int fd, size_t size)
{
    int want = size > (1u << 30) ? 1 << 30 : (int)size + 64, have = 0;
    socklen_t len = sizeof(have);

    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &len) == 0 && have - 32 < (int)size)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)); /* the kernel doubles it */
    len = sizeof(have);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &len) < 0 || have < 32)
        return 0;
    return (size_t)have - 32;
}

size_t sockit_bench_max_size(const struct sockit_bench_config *cfg)
{
    size_t max = 0;
    int fd;

    if (sockit_endpoint_is_stream(&cfg->endpoint))
        return SOCKIT_BENCH_MAX_SIZE;
    if (cfg->endpoint.transport == SOCKIT_UDP)
        return cfg->addr.len ? sockit_addr_dgram_max(&cfg->addr) : SOCKIT_UDP6_MAX;
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
        max = sockit__bench_fit_sndbuf(fd, SOCKIT_BENCH_MAX_SIZE);
        close(fd);
    }
    return max < SOCKIT_BENCH_MAX_SIZE ? max : SOCKIT_BENCH_MAX_SIZE;
}

const char *sockit_bench_check(const struct sockit_bench_config *cfg)
{
    bool stream = sockit_endpoint_is_stream(&cfg->endpoint);
    enum sockit_bench_mode m = cfg->mode;
    size_t size = cfg->size ? cfg->size : 64;

    if ((unsigned)m > SOCKIT_BENCH_SEND)
        return "unknown mode";
    if (!stream && (m == SOCKIT_BENCH_BULK || m == SOCKIT_BENCH_SEND))
        return "bulk and send modes need a stream endpoint (tcp:// or unix:)";
    if (!stream && m == SOCKIT_BENCH_CONNECT)
        return "connect mode needs a stream endpoint (tcp:// or unix:)";
    if (cfg->depth > 1 && m != SOCKIT_BENCH_PIPELINE)
        return "the depth (messages in flight per connection) applies to pipeline mode only";
    if (cfg->rate > 0 && m != SOCKIT_BENCH_PINGPONG && m != SOCKIT_BENCH_PIPELINE)
        return "a rate paces pingpong and pipeline messages; bulk, send and connect modes run as "
               "fast as the server goes";
    if (cfg->reverse && m != SOCKIT_BENCH_BULK)
        return "reverse applies to bulk mode only";
    if (cfg->size > sockit_bench_max_size(cfg))
        return "the message size is over what the endpoint carries (sockit_bench_max_size)";
    if (m == SOCKIT_BENCH_PIPELINE && (cfg->depth ? cfg->depth : 16) * size > SOCKIT_BENCH_MAX_SIZE)
        return "depth x size is over 64 MiB in flight per connection";
    if (!(cfg->duration_s >= 0) || !(cfg->rate >= 0))
        return "duration and rate cannot be negative";
    return NULL;
}

/* The payload every worker sends: DEPTH messages (the stream modes write them in one call),
 * and the bulk write as a shared buffer. Read-only once made, so the workers share them. */
static int make_payload(struct sockit_bench *b)
{
    size_t size = b->cfg.size ? b->cfg.size : 1;
    size_t depth = b->cfg.mode == SOCKIT_BENCH_PIPELINE ? b->cfg.depth : 1;

    if (!(b->msg = malloc(depth * size)))
        return -ENOMEM;
    memset(b->msg, 'x', depth * size);
    if (sockit_shared_new(size, &b->chunk) < 0)
        return -ENOMEM;
    memset(sockit_shared_data(b->chunk), 'x', size);
    return 0;
}

/* Split the connections and the count over the workers and make each one's loop. */
static int make_workers(struct sockit_bench *b)
{
    const struct sockit_bench_config *cfg = &b->cfg;
    unsigned long n = cfg->threads;
    int err = 0;

    if (!(b->workers = calloc(n, sizeof(*b->workers))))
        return -ENOMEM;
    for (unsigned long i = 0, first = 0; i < n && !err; i++) {
        struct sockit__bench_worker *w = &b->workers[i];
        w->cfg = cfg;
        w->live = &b->live;
        w->lock = &b->lock;
        w->msg = b->msg;
        w->chunk = b->chunk;
        w->first_conn = first;
        w->nconns = cfg->connections / n + (i < cfg->connections % n);
        w->quota = cfg->count ? cfg->count / n + (i < cfg->count % n) : 0;
        first += w->nconns;
        sockit_hist_reset(&w->result.latency);
        err = sockit__bench_worker_init(w);
    }
    return err;
}

/* The address to connect to: the caller's, or ENDPOINT's first. Returns 0, the resolver's
 * error, or -SOCKIT_EDGRAMSIZE for a datagram SIZE the address's family cannot carry. */
static int resolve_if_unset(struct sockit_bench_config *cfg)
{
    int n = cfg->addr.len ? 0 : sockit_endpoint_resolve(&cfg->endpoint, 0, &cfg->addr, 1);

    if (n < 0)
        return n;
    return cfg->size > sockit_bench_max_size(cfg) ? -SOCKIT_EDGRAMSIZE : 0; /* IPv4's is less */
}

int sockit_bench_new(const struct sockit_bench_config *cfg, struct sockit_bench **out)
{
    struct sockit_bench *b;
    int err;

    *out = NULL;
    if (sockit_bench_check(cfg))
        return -EINVAL;
    if (!(b = calloc(1, sizeof(*b)))) /* holds histograms: too big for some stacks */
        return -ENOMEM;
    sockit_bench_defaults(cfg, &b->cfg);
    pthread_mutex_init(&b->lock, NULL);
    if ((err = resolve_if_unset(&b->cfg)) < 0 || (err = make_payload(b)) < 0 ||
        (err = make_workers(b)) < 0) {
        sockit_bench_free(b);
        return err;
    }
    *out = b;
    return 0;
}

int sockit_bench_start(struct sockit_bench *b)
{
    const struct sockit_bench_config *cfg = &b->cfg;

    if (b->started)
        return -EALREADY;
    b->started = true;
    b->start_ns = (int64_t)sockit_clock_ns();
    for (unsigned long i = 0; i < cfg->threads; i++) {
        struct sockit__bench_worker *w = &b->workers[i];
        w->start_ns = b->start_ns;
        w->end_ns = cfg->duration_s > 0 ? b->start_ns + (int64_t)(cfg->duration_s * 1e9) : 0;
        int err = -pthread_create(&w->tid, NULL, sockit__bench_worker_run, w);
        if (err) {
            sockit_bench_stop(b);
            sockit_bench_wait(b, -1);
            return err;
        }
        w->running = true;
    }
    return 0;
}

void sockit_bench_stop(struct sockit_bench *b)
{
    for (unsigned long i = 0; i < b->cfg.threads; i++)
        sockit__bench_worker_stop(&b->workers[i]);
}

static void merge(struct sockit_bench *b)
{
    struct sockit_bench_result *t = &b->result;

    sockit_hist_reset(&t->latency);
    for (unsigned long i = 0; i < b->cfg.threads; i++) {
        const struct sockit_bench_result *r = &b->workers[i].result;
        t->messages += r->messages;
        t->bytes += r->bytes;
        t->connect_errors += r->connect_errors;
        t->io_errors += r->io_errors;
        t->lost += r->lost;
        t->closed_by_server += r->closed_by_server;
        t->timeouts += r->timeouts;
        t->unanswered += r->unanswered;
        if (!t->first_error && r->first_error) {
            t->first_error = r->first_error;
            t->first_error_op = r->first_error_op;
        }
        sockit_hist_merge(&t->latency, &r->latency);
    }
}

/* Join W, waiting until DEADLINE (CLOCK_REALTIME, as pthread_timedjoin_np takes; NULL: no
 * limit). Returns 0 or -ETIMEDOUT. */
static int join(struct sockit__bench_worker *w, const struct timespec *deadline)
{
    int err = deadline ? pthread_timedjoin_np(w->tid, NULL, deadline) : pthread_join(w->tid, NULL);

    if (err)
        return -ETIMEDOUT;
    w->running = false;
    return 0;
}

int sockit_bench_wait(struct sockit_bench *b, int timeout_ms)
{
    struct timespec ts;

    if (!b->started)
        return -EINVAL;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    for (unsigned long i = 0; i < b->cfg.threads; i++) {
        if (b->workers[i].running && join(&b->workers[i], timeout_ms < 0 ? NULL : &ts) < 0)
            return -ETIMEDOUT;
    }
    if (!b->done) {
        b->result.seconds = (double)((int64_t)sockit_clock_ns() - b->start_ns) / 1e9;
        merge(b);
        b->done = true;
    }
    return 0;
}

int sockit_bench_run(struct sockit_bench *b)
{
    int err = sockit_bench_start(b);

    return err ? err : sockit_bench_wait(b, -1);
}

void sockit_bench_live(const struct sockit_bench *b, struct sockit_bench_live *out)
{
    out->messages = atomic_load_explicit(&b->live.messages, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&b->live.bytes, memory_order_relaxed);
    out->errors = atomic_load_explicit(&b->live.errors, memory_order_relaxed);
}

const struct sockit_bench_result *sockit_bench_result(const struct sockit_bench *b)
{
    return b->done ? &b->result : NULL;
}

const struct sockit_bench_config *sockit_bench_config(const struct sockit_bench *b)
{
    return &b->cfg;
}

void sockit_bench_free(struct sockit_bench *b)
{
    if (!b)
        return;
    if (b->started)
        sockit_bench_wait(b, -1);
    for (unsigned long i = 0; b->workers && i < b->cfg.threads; i++)
        sockit__bench_worker_free(&b->workers[i]);
    free(b->workers);
    sockit_shared_unref(b->chunk);
    free(b->msg);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
