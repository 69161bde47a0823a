/* Unit tests for the load generator (sockit/bench.h), driven through its API against a tiny
 * echo server of the test's own on a loopback port: counts end exactly, the live counters
 * move while it runs and match the result, a stop ends the run early, settings that cannot
 * run are refused with a reason; a server that never answers times out, and the messages it
 * left waiting count in the latency with their wait. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "sockit/bench.h"
#include "sockit/error.h"

/* ---------------------------------------------------------------- a tiny echo server */

#define MAX_PEERS 64

struct echo {
    int lfd, port;
    bool silent;      /* accept, read, never answer (a server that hangs) */
    _Atomic bool end; /* the test is done with it */
    pthread_t tid;
};

/* One round of the echo: accept new clients, answer what the others sent. */
static void echo_round(struct echo *x, struct pollfd *p, nfds_t *n)
{
    char buf[65536];

    for (nfds_t i = *n; i-- > 0;) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (i == 0) {
            int fd = accept(x->lfd, NULL, NULL);
            if (fd >= 0 && *n < MAX_PEERS)
                p[(*n)++] = (struct pollfd){ .fd = fd, .events = POLLIN };
            else if (fd >= 0)
                close(fd);
            continue;
        }
        ssize_t r = read(p[i].fd, buf, sizeof(buf));
        if (r > 0 && !x->silent && h_write_all(p[i].fd, buf, (size_t)r) == 0)
            continue;
        if (r > 0 && x->silent)
            continue;
        close(p[i].fd);
        p[i] = p[--*n];
    }
}

static void *echo_main(void *arg)
{
    struct echo *x = arg;
    struct pollfd p[MAX_PEERS] = { { .fd = x->lfd, .events = POLLIN } };
    nfds_t n = 1;

    while (!atomic_load(&x->end)) {
        if (poll(p, n, 20) > 0)
            echo_round(x, p, &n);
    }
    for (nfds_t i = 1; i < n; i++)
        close(p[i].fd);
    return NULL;
}

static void echo_start(struct echo *x, bool silent)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);

    *x = (struct echo){ .silent = silent };
    x->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(x->lfd >= 0);
    cr_assert_eq(bind(x->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(x->lfd, 128), 0);
    cr_assert_eq(getsockname(x->lfd, (struct sockaddr *)&a, &len), 0);
    x->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&x->tid, NULL, echo_main, x), 0);
}

static void echo_stop(struct echo *x)
{
    atomic_store(&x->end, true);
    pthread_join(x->tid, NULL);
    close(x->lfd);
}

/* Settings aimed at X's port. */
static struct sockit_bench_config config_for(const struct echo *x)
{
    struct sockit_bench_config cfg = { 0 };
    char text[64];

    snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", x->port);
    cr_assert_eq(sockit_endpoint_parse(text, &cfg.endpoint), 0);
    cr_assert_eq(sockit_endpoint_resolve(&cfg.endpoint, 0, &cfg.addr, 1), 1);
    return cfg;
}

static struct sockit_bench *run_bench(const struct sockit_bench_config *cfg)
{
    struct sockit_bench *b;
    int rc = sockit_bench_new(cfg, &b);

    cr_assert_eq(rc, 0, "sockit_bench_new: %s", sockit_strerror(rc));
    rc = sockit_bench_run(b);
    cr_assert_eq(rc, 0, "sockit_bench_run: %s", sockit_strerror(rc));
    return b;
}

static uint64_t failures(const struct sockit_bench_result *r)
{
    return r->connect_errors + r->closed_by_server + r->io_errors + r->lost;
}

/* ---------------------------------------------------------------- runs */

Test(bench_lib, pingpong_count_ends_exactly_with_every_latency, .timeout = 30)
{
    struct echo x;
    echo_start(&x, false);
    struct sockit_bench_config cfg = config_for(&x);
    cfg.connections = 4;
    cfg.count = 2000;
    cfg.threads = 2;
    struct sockit_bench *b = run_bench(&cfg);
    const struct sockit_bench_result *r = sockit_bench_result(b);
    struct sockit_bench_live live;

    cr_assert_not_null(r);
    cr_expect_eq(r->messages, 2000);
    cr_expect_eq(r->bytes, 2000 * 64, "every echoed byte counted: %llu",
                 (unsigned long long)r->bytes);
    cr_expect_eq(r->latency.count, 2000, "one latency per message");
    cr_expect_gt(r->latency.min, 0);
    cr_expect_eq(failures(r), 0);
    sockit_bench_live(b, &live);
    cr_expect_eq(live.messages, r->messages, "the live counters end where the result does");
    cr_expect_eq(live.bytes, r->bytes);
    cr_expect_eq(sockit_bench_config(b)->size, 64, "the default size is filled in");
    sockit_bench_free(b);
    echo_stop(&x);
}

Test(bench_lib, pipeline_and_bulk_counts_end_exactly, .timeout = 30)
{
    struct echo x;
    echo_start(&x, false);
    struct sockit_bench_config cfg = config_for(&x);
    cfg.mode = SOCKIT_BENCH_PIPELINE;
    cfg.depth = 8;
    cfg.connections = 2;
    cfg.count = 4000;
    cfg.addr.len = 0; /* sockit_bench_new resolves the endpoint */
    struct sockit_bench *b = run_bench(&cfg);
    cr_expect_eq(sockit_bench_result(b)->messages, 4000);
    cr_expect_eq(sockit_bench_result(b)->latency.count, 4000);
    sockit_bench_free(b);

    cfg.mode = SOCKIT_BENCH_BULK;
    cfg.depth = 0;
    cfg.count = 4 << 20; /* bytes */
    b = run_bench(&cfg);
    cr_expect_eq(sockit_bench_result(b)->bytes, 4 << 20, "every byte echoed back");
    cr_expect_eq(failures(sockit_bench_result(b)), 0);
    sockit_bench_free(b);
    echo_stop(&x);
}

/* The counters can be read from another thread while the workers run, and a stop from that
 * thread ends a run that would otherwise last a minute. */
Test(bench_lib, live_counters_move_and_stop_ends_the_run, .timeout = 30)
{
    struct echo x;
    echo_start(&x, false);
    struct sockit_bench_config cfg = config_for(&x);
    struct sockit_bench *b;
    struct sockit_bench_live live = { 0 };

    cfg.connections = 2;
    cfg.duration_s = 60;
    cr_assert_eq(sockit_bench_new(&cfg, &b), 0);
    cr_assert_eq(sockit_bench_start(b), 0);
    for (int i = 0; i < 500 && live.messages < 100; i++) {
        cr_assert_eq(sockit_bench_wait(b, 10), -ETIMEDOUT, "the run ended by itself");
        sockit_bench_live(b, &live);
    }
    cr_expect_geq(live.messages, 100, "the live counters did not move");
    cr_expect_null(sockit_bench_result(b), "no result while running");
    long long t0 = h_now_ms();
    sockit_bench_stop(b);
    cr_expect_eq(sockit_bench_wait(b, 10000), 0);
    cr_expect_lt(h_now_ms() - t0, 5000, "the stop took too long");
    cr_expect_geq(sockit_bench_result(b)->messages, live.messages);
    sockit_bench_free(b);
    echo_stop(&x);
}

/* A server that reads and never answers: each stream times out once its message waited
 * TIMEOUT_MS, and the run ends then, not at its 30 s. */
Test(bench_lib, streams_time_out_on_a_server_that_never_answers, .timeout = 30)
{
    struct echo x;
    echo_start(&x, true);
    struct sockit_bench_config cfg = config_for(&x);
    cfg.connections = 3;
    cfg.duration_s = 30;
    cfg.timeout_ms = 200;
    long long t0 = h_now_ms();
    struct sockit_bench *b = run_bench(&cfg);
    const struct sockit_bench_result *r = sockit_bench_result(b);

    cr_expect_lt(h_now_ms() - t0, 10000, "the run did not end on the timeouts");
    cr_expect_eq(r->timeouts, 3, "every connection timed out");
    cr_expect_eq(r->first_error, -ETIMEDOUT);
    cr_expect_eq(r->messages, 0);
    cr_expect_eq(r->unanswered, 3);
    cr_expect_eq(r->latency.count, 3, "the unanswered messages are in the latency");
    cr_expect_geq(r->latency.min, 200000000ull, "each waited the timeout: %llu ns",
                  (unsigned long long)r->latency.min);
    sockit_bench_free(b);
    echo_stop(&x);
}

/* Messages in flight when the run ends count in the histogram up to the end (wrk2). */
Test(bench_lib, messages_in_flight_at_the_end_count_in_the_latency, .timeout = 30)
{
    struct echo x;
    echo_start(&x, true);
    struct sockit_bench_config cfg = config_for(&x);
    cfg.mode = SOCKIT_BENCH_PIPELINE;
    cfg.depth = 4;
    cfg.connections = 2;
    cfg.duration_s = 0.3;
    cfg.timeout_ms = 60000;
    struct sockit_bench *b = run_bench(&cfg);
    const struct sockit_bench_result *r = sockit_bench_result(b);

    cr_expect_eq(r->messages, 0);
    cr_expect_eq(r->timeouts, 0);
    cr_expect_eq(r->unanswered, 8, "depth 4 on 2 connections: %llu",
                 (unsigned long long)r->unanswered);
    cr_expect_eq(r->latency.count, 8);
    cr_expect_geq(r->latency.min, 250000000ull, "waited to the end: %llu ns",
                  (unsigned long long)r->latency.min);
    sockit_bench_free(b);
    echo_stop(&x);
}

Test(bench_lib, settings_that_cannot_run_are_refused_with_a_reason)
{
    struct sockit_bench_config cfg = { .mode = SOCKIT_BENCH_BULK };
    struct sockit_bench *b = (struct sockit_bench *)&cfg;

    cr_assert_eq(sockit_endpoint_parse("udp://127.0.0.1:9", &cfg.endpoint), 0);
    cr_expect_not_null(sockit_bench_check(&cfg));
    cr_expect_eq(sockit_bench_new(&cfg, &b), -EINVAL);
    cr_expect_null(b, "nothing is handed out on failure");
    cfg.mode = SOCKIT_BENCH_PINGPONG;
    cfg.size = 70000;
    cr_expect_not_null(sockit_bench_check(&cfg), "a UDP datagram over 65507 bytes");
    cfg.size = 64;
    cr_expect_null(sockit_bench_check(&cfg));
    cfg.depth = 4;
    cr_expect_not_null(sockit_bench_check(&cfg), "depth outside pipeline");
    cfg.depth = 0;
    cfg.rate = 100;
    cfg.mode = SOCKIT_BENCH_CONNECT;
    cr_assert_eq(sockit_endpoint_parse("tcp://127.0.0.1:9", &cfg.endpoint), 0);
    cr_expect_not_null(sockit_bench_check(&cfg), "a rate in connect mode");
    cfg.rate = 0;
    cfg.mode = SOCKIT_BENCH_PIPELINE;
    cfg.depth = 4096;
    cfg.size = 65536;
    cr_expect_not_null(sockit_bench_check(&cfg), "256 MiB in flight per connection");
}

Test(bench_lib, datagram_size_limit_is_the_family_s_or_the_socket_s)
{
    struct sockit_bench_config cfg = { 0 };

    cr_assert_eq(sockit_endpoint_parse("udp://[::1]:9", &cfg.endpoint), 0);
    cr_assert_eq(sockit_endpoint_resolve(&cfg.endpoint, 0, &cfg.addr, 1), 1);
    cr_expect_eq(sockit_bench_max_size(&cfg), 65527);
    cr_assert_eq(sockit_endpoint_parse("udp://127.0.0.1:9", &cfg.endpoint), 0);
    cr_assert_eq(sockit_endpoint_resolve(&cfg.endpoint, 0, &cfg.addr, 1), 1);
    cr_expect_eq(sockit_bench_max_size(&cfg), 65507);
    struct sockit_bench *b;
    cfg.size = 65520;
    cfg.addr.len = 0;
    cr_expect_null(sockit_bench_check(&cfg), "unresolved: IPv6's larger limit");
    cr_expect_eq(sockit_bench_new(&cfg, &b), -SOCKIT_EDGRAMSIZE, "resolved to IPv4 in new");
    cfg.size = 0;
    cr_assert_eq(sockit_endpoint_parse("unix-dgram:@x", &cfg.endpoint), 0);
    cr_expect_gt(sockit_bench_max_size(&cfg), 65527, "a unix datagram is not limited as UDP");
}
