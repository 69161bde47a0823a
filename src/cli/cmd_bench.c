/* sockit bench: options, worker threads, live progress and the summary (text or JSON). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "sockit/clock.h"
#include "sockit/error.h"

static const char bench_help[] =
    "Usage: sockit bench [OPTIONS] ENDPOINT\n"
    "Load an echo server on ENDPOINT (tcp://, udp://, unix:, unix-dgram:) and report\n"
    "messages/s, MB/s, latency percentiles and errors.\n\n"
    "Modes:\n"
    "  pingpong   each connection sends a message and waits for its echo (default)\n"
    "  pipeline   each connection keeps --depth messages in flight\n"
    "  bulk       each connection streams --size writes and reads the echo back (throughput)\n"
    "  connect    a new connection per message: connect, send, read the echo, close\n"
    "  send       one-way: each connection streams --size writes; replies are dropped\n"
    "             (throughput into any sink, e.g. sockit listen ... > /dev/null)\n\n"
    "Options:\n"
    "  -m, --mode MODE         pingpong, pipeline, bulk, connect or send\n"
    "  -c, --connections N     concurrent connections (default 50)\n"
    "  -s, --size BYTES        message size (default 64; bulk, send: write size, 65536)\n"
    "  -D, --depth N           pipeline: messages in flight per connection (default 16)\n"
    "  -d, --duration SEC      run for SEC seconds (default 10, or until --count)\n"
    "  -n, --count N           stop after N messages (bulk: N bytes), e.g. 1000000 or 1G\n"
    "  -r, --rate N            open loop: N messages/s in total; latency counts from each\n"
    "                          message's intended send time (no coordinated omission)\n"
    "  -t, --threads N         client threads (default 1)\n"
    "      --timeout MS        datagrams: count a reply as lost after MS ms (default 1000)\n"
    "      --backend NAME      the client's event loop: uring, epoll, poll or auto (default:\n"
    "                          uring where the kernel has it; epoll for bulk and send)\n"

    "      --json              print the result as one JSON object on stdout\n"
    "  -q, --quiet             no live progress line\n"
    "  -h, --help              show this help\n\n"
    "A progress line is printed every second when stderr is a terminal. Exit status: 0 all\n"
    "messages answered; 1 connections failed, were closed by the server or replies were lost;\n"
    "2 usage error.\n\n"
    "Examples:\n"
    "  sockit bench tcp://127.0.0.1:7000 -c 50 -d 10\n"
    "  sockit bench tcp://127.0.0.1:7000 -m pipeline -D 32 --json\n"
    "  sockit bench tcp://127.0.0.1:7000 -m bulk -c 1 -n 1G\n"
    "  sockit bench udp://[::1]:9000 -r 50000 -d 5\n";

enum { OPT_TIMEOUT = 256, OPT_JSON, OPT_BACKEND };

static const struct option bench_options[] = {
    { "mode", required_argument, NULL, 'm' },
    { "connections", required_argument, NULL, 'c' },
    { "size", required_argument, NULL, 's' },
    { "depth", required_argument, NULL, 'D' },
    { "duration", required_argument, NULL, 'd' },
    { "count", required_argument, NULL, 'n' },
    { "rate", required_argument, NULL, 'r' },
    { "threads", required_argument, NULL, 't' },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "json", no_argument, NULL, OPT_JSON },
    { "backend", required_argument, NULL, OPT_BACKEND },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const char *const mode_names[] = { "pingpong", "pipeline", "bulk", "connect", "send" };

static int parse_mode(const char *text, enum bench_mode *mode)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(text, mode_names[i]) == 0) {
            *mode = (enum bench_mode)i;
            return 0;
        }
    }
    return cli_usage("bench", "unknown mode '%s' (pingpong, pipeline, bulk, connect or send)",
                     text);
}

/* "1000", "64k", "1M", "1G" (binary multiples). */
static int parse_amount(const char *opt, const char *text, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    int shift = 0;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (end != text && *end && !end[1]) {
        const char *units = "kKmMgG";
        const char *u = strchr(units, *end);
        shift = u ? 10 * (int)((u - units) / 2 + 1) : -1;
        end += u ? 1 : 0;
    }
    if (text[0] < '0' || text[0] > '9' || *end || errno || shift < 0 || v == 0 ||
        v > (~0ull >> shift))
        return cli_usage("bench", "%s: '%s' is not a positive amount (like 1000, 64k, 1G)", opt,
                         text);
    *out = v << shift;
    return 0;
}

static int parse_seconds(const char *opt, const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end || !(v > 0) || v > 1e7)
        return cli_usage("bench", "%s: '%s' is not a positive number of seconds", opt, text);
    *out = v;
    return 0;
}

struct bench_args {
    struct bench_config *cfg;
    bool size_given;
};

static int parse_option(int c, void *ctx)
{
    struct bench_config *cfg = ((struct bench_args *)ctx)->cfg;
    bool *size_given = &((struct bench_args *)ctx)->size_given;
    unsigned long long v;
    int err = 0;

    switch (c) {
    case 'm': return parse_mode(optarg, &cfg->mode);
    case 'c': return cli_number("bench", "--connections", optarg, 1, 100000, &cfg->connections);
    case 's':
        err = parse_amount("--size", optarg, &v);
        if (!err && v > (64u << 20))
            return cli_usage("bench", "--size: at most 64M");
        cfg->size = (unsigned long)v;
        *size_given = true;
        return err;
    case 'D': return cli_number("bench", "--depth", optarg, 1, 4096, &cfg->depth);
    case 'd': return parse_seconds("--duration", optarg, &cfg->duration_s);
    case 'n': return parse_amount("--count", optarg, &cfg->count);
    case 'r': return parse_seconds("--rate", optarg, &cfg->rate);
    case 't': return cli_number("bench", "--threads", optarg, 1, 256, &cfg->threads);
    case OPT_TIMEOUT: return cli_number("bench", "--timeout", optarg, 1, 3600000, &cfg->timeout_ms);
    case OPT_JSON: cfg->json = true; return 0;
    case OPT_BACKEND:
        if (sockit_backend_parse(optarg, &cfg->backend) < 0)
            return cli_usage("bench", "--backend: '%s' is not uring, epoll, poll or auto", optarg);
        return 0;

    case 'q': cfg->quiet = true; return 0;
    }
    return cli_usage("bench", "unknown option");
}

static int parse_args(int argc, char **argv, struct bench_config *cfg)
{
    struct bench_args args = { cfg, false };
    int err = cli_parse_options("bench", argc, argv, ":m:c:s:D:d:n:r:t:qh", bench_options,
                                bench_help, NULL, parse_option, &args);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage("bench", optind >= argc ? "missing ENDPOINT" : "too many arguments");
    cfg->ep_text = argv[optind];
    if ((err = cli_endpoint("bench", cfg->ep_text, &cfg->ep)) != 0)
        return err;
    bool streaming = cfg->mode == BENCH_BULK || cfg->mode == BENCH_SEND;
    if (!args.size_given && streaming)
        cfg->size = 65536;
    if (streaming && !sockit_endpoint_is_stream(&cfg->ep))
        return cli_usage("bench", "%s mode needs a stream endpoint (tcp:// or unix:)",
                         mode_names[cfg->mode]);
    if (cfg->mode == BENCH_CONNECT && !sockit_endpoint_is_stream(&cfg->ep))
        return cli_usage("bench", "connect mode needs a stream endpoint (tcp:// or unix:)");
    if (!sockit_endpoint_is_stream(&cfg->ep) && cfg->size > SOCKIT_UDP4_MAX)
        return cli_usage("bench", "--size: a datagram carries at most %d bytes", SOCKIT_UDP4_MAX);
    if (cfg->threads > cfg->connections)
        cfg->threads = cfg->connections;
    if (cfg->count == 0 && cfg->duration_s == 0)
        cfg->duration_s = 10;
    return 0;
}

static void progress_line(const struct bench_config *cfg, const struct bench_live *live,
                          double elapsed, unsigned long long *last_msgs,
                          unsigned long long *last_bytes)
{
    unsigned long long m = atomic_load(&live->messages), b = atomic_load(&live->bytes);

    fprintf(stderr, "\r[%5.0fs] %10.0f msg/s %9.2f MB/s  errors %llu   ", elapsed,
            (double)(m - *last_msgs), (double)(b - *last_bytes) / 1e6,
            (unsigned long long)atomic_load(&live->errors));
    fflush(stderr);
    *last_msgs = m;
    *last_bytes = b;
    (void)cfg;
}

/* Sleep in the main thread until every worker is done, printing progress each second. */
static void watch(const struct bench_config *cfg, struct bench_live *live, int64_t start,
                  pthread_t *tids, unsigned long n)
{
    bool show = !cfg->quiet && isatty(STDERR_FILENO);
    unsigned long long msgs = 0, bytes = 0;
    int64_t next = start + 1000000000;

    for (unsigned long i = 0; i < n; i++) {
        for (;;) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_timedjoin_np(tids[i], NULL, &ts) == 0)
                break;
            int64_t now = (int64_t)sockit_clock_ns();
            if (show && now >= next) {
                progress_line(cfg, live, (double)(now - start) / 1e9, &msgs, &bytes);
                next += 1000000000;
            }
        }
    }
    if (show && next > start + 1000000000)
        fputs("\n", stderr);
}

struct totals {
    struct bench_result r;
    double seconds;
};

static void merge(struct totals *t, const struct bench_worker *w, unsigned long n)
{
    sockit_hist_reset(&t->r.latency);
    for (unsigned long i = 0; i < n; i++) {
        const struct bench_result *r = &w[i].result;
        t->r.messages += r->messages;
        t->r.bytes += r->bytes;
        t->r.connect_errors += r->connect_errors;
        t->r.io_errors += r->io_errors;
        t->r.lost += r->lost;
        t->r.closed_by_server += r->closed_by_server;
        if (!t->r.first_error && r->first_error) {
            t->r.first_error = r->first_error;
            t->r.first_error_op = r->first_error_op;
        }
        sockit_hist_merge(&t->r.latency, &r->latency);
    }
}

static double pct_us(const struct sockit_hist *h, double p)
{
    return (double)sockit_hist_percentile(h, p) / 1000.0;
}

static void print_text(const struct bench_config *cfg, const struct totals *t)
{
    const struct bench_result *r = &t->r;
    const struct sockit_hist *h = &r->latency;

    printf("sockit bench %s: %s, %lu connections, %lu B, %lu thread%s\n", cfg->ep_text,
           mode_names[cfg->mode], cfg->connections, cfg->size, cfg->threads,
           cfg->threads == 1 ? "" : "s");
    printf("  messages    %llu in %.2f s = %.0f msg/s\n", r->messages, t->seconds,
           (double)r->messages / t->seconds);
    printf("  throughput  %.2f MB/s %s\n", (double)r->bytes / t->seconds / 1e6,
           cfg->mode == BENCH_SEND ? "sent" : "echoed");
    if (h->count)
        printf("  latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
               pct_us(h, 50), pct_us(h, 90), pct_us(h, 99), pct_us(h, 99.9),
               (double)h->max / 1000.0);
    printf("  errors      %llu (connect %llu, closed by server %llu, i/o %llu, lost %llu)\n",
           r->connect_errors + r->io_errors + r->lost + r->closed_by_server, r->connect_errors,
           r->closed_by_server, r->io_errors, r->lost);
}

static void print_json(const struct bench_config *cfg, const struct totals *t)
{
    const struct bench_result *r = &t->r;
    const struct sockit_hist *h = &r->latency;

    printf("{\"endpoint\":");
    cli_json_string(stdout, cfg->ep_text, strlen(cfg->ep_text));
    printf(",\"mode\":\"%s\",\"connections\":%lu,\"size\":%lu,\"depth\":%lu,\"threads\":%lu,"
           "\"rate\":%.0f,\"seconds\":%.3f,\"messages\":%llu,\"msgs_per_s\":%.1f,\"bytes\":%llu,"
           "\"mb_per_s\":%.3f,",
           mode_names[cfg->mode], cfg->connections, cfg->size,
           cfg->mode == BENCH_PIPELINE ? cfg->depth : 1, cfg->threads, cfg->rate, t->seconds,
           r->messages, (double)r->messages / t->seconds, r->bytes,
           (double)r->bytes / t->seconds / 1e6);
    printf("\"latency_us\":{\"count\":%llu,\"mean\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
           "\"p999\":%.2f,\"max\":%.2f},",
           (unsigned long long)h->count, sockit_hist_mean(h) / 1000.0, pct_us(h, 50), pct_us(h, 90),
           pct_us(h, 99), pct_us(h, 99.9), (double)h->max / 1000.0);
    printf("\"errors\":{\"connect\":%llu,\"closed_by_server\":%llu,\"io\":%llu,\"lost\":%llu}}\n",
           r->connect_errors, r->closed_by_server, r->io_errors, r->lost);
}

/* Split connections and the count across workers, start them, wait, merge. */
static int run(struct bench_config *cfg, struct totals *t)
{
    struct bench_live live = { 0 };
    struct bench_worker *w = calloc(cfg->threads, sizeof(*w));
    pthread_t *tids = calloc(cfg->threads, sizeof(*tids));
    unsigned long started = 0;
    int64_t start = (int64_t)sockit_clock_ns();

    if (!w || !tids) {
        free(w);
        free(tids);
        return -ENOMEM;
    }
    for (unsigned long i = 0, first = 0; i < cfg->threads; i++) {
        w[i].cfg = cfg;
        w[i].live = &live;
        w[i].first_conn = first;
        w[i].nconns = cfg->connections / cfg->threads + (i < cfg->connections % cfg->threads);
        w[i].quota = cfg->count ? cfg->count / cfg->threads + (i < cfg->count % cfg->threads) : 0;
        w[i].start_ns = start;
        w[i].end_ns = cfg->duration_s > 0 ? start + (int64_t)(cfg->duration_s * 1e9) : 0;
        first += w[i].nconns;
        sockit_hist_reset(&w[i].result.latency);
        if (pthread_create(&tids[i], NULL, bench_worker_run, &w[i]) != 0)
            break;
        started++;
    }
    watch(cfg, &live, start, tids, started);
    t->seconds = (double)((int64_t)sockit_clock_ns() - start) / 1e9;
    merge(t, w, started);
    free(w);
    free(tids);
    return started == cfg->threads ? 0 : -EAGAIN;
}

static int report(const struct bench_config *cfg, const struct totals *t)
{
    const struct bench_result *r = &t->r;
    unsigned long long failures = r->connect_errors + r->io_errors + r->closed_by_server + r->lost;

    if (cfg->json)
        print_json(cfg, t);
    else
        print_text(cfg, t);
    if (r->connect_errors == cfg->connections && r->messages == 0)
        return cli_fail(r->first_error_op ? r->first_error_op : "connect", cfg->ep_text,
                        r->first_error);
    if (r->closed_by_server)
        fprintf(stderr, "sockit: bench %s: the server closed %llu connection%s\n", cfg->ep_text,
                r->closed_by_server, r->closed_by_server == 1 ? "" : "s");
    else if (failures && r->first_error)
        cli_fail(r->first_error_op ? r->first_error_op : "bench", cfg->ep_text, r->first_error);
    return failures || r->messages == 0 ? CLI_FAIL : CLI_OK;
}

int cmd_bench(int argc, char **argv)
{
    struct bench_config cfg = { .mode = BENCH_PINGPONG,
                                .connections = 50,
                                .size = 64,
                                .depth = 16,
                                .threads = 1,
                                .timeout_ms = 1000 };
    struct totals *t;
    int rc = parse_args(argc, argv, &cfg);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    rc = sockit_endpoint_resolve(&cfg.ep, 0, &cfg.addr, 1);
    if (rc < 0)
        return cli_fail("resolve", cfg.ep_text, rc);
    t = calloc(1, sizeof(*t)); /* holds a histogram: too big for the stack of some systems */
    if (!t)
        return cli_fail("bench", NULL, -ENOMEM);
    rc = run(&cfg, t);
    rc = rc < 0 ? cli_fail("pthread_create", NULL, rc) : report(&cfg, t);
    free(t);
    return rc;
}
