/* sockit bench: options, live progress and the summary (text or JSON) around the library's
 * load generator (sockit/bench.h). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/bench.h"
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

/* The command line: the library's settings and what only the program does with them. */
struct bench_opts {
    struct sockit_bench_config cfg;
    const char *ep_text;
    bool json, quiet;
};

static int parse_mode(const char *text, enum sockit_bench_mode *mode)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(text, mode_names[i]) == 0) {
            *mode = (enum sockit_bench_mode)i;
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

static int parse_option(int c, void *ctx)
{
    struct bench_opts *o = ctx;
    struct sockit_bench_config *cfg = &o->cfg;
    unsigned long long v;
    int err = 0;

    switch (c) {
    case 'm': return parse_mode(optarg, &cfg->mode);
    case 'c': return cli_number("bench", "--connections", optarg, 1, 100000, &cfg->connections);
    case 's':
        err = parse_amount("--size", optarg, &v);
        if (!err && v > SOCKIT_BENCH_MAX_SIZE)
            return cli_usage("bench", "--size: at most 64M");
        cfg->size = (size_t)v;
        return err;
    case 'D': return cli_number("bench", "--depth", optarg, 1, 4096, &cfg->depth);
    case 'd': return parse_seconds("--duration", optarg, &cfg->duration_s);
    case 'n':
        err = parse_amount("--count", optarg, &v);
        cfg->count = v;
        return err;
    case 'r': return parse_seconds("--rate", optarg, &cfg->rate);
    case 't': return cli_number("bench", "--threads", optarg, 1, 256, &cfg->threads);
    case OPT_TIMEOUT: return cli_number("bench", "--timeout", optarg, 1, 3600000, &cfg->timeout_ms);
    case OPT_JSON: o->json = true; return 0;
    case OPT_BACKEND:
        if (sockit_backend_parse(optarg, &cfg->backend) < 0)
            return cli_usage("bench", "--backend: '%s' is not uring, epoll, poll or auto", optarg);
        return 0;

    case 'q': o->quiet = true; return 0;
    }
    return cli_usage("bench", "unknown option");
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    struct sockit_bench_config *cfg = &o->cfg;
    int err = cli_parse_options("bench", argc, argv, ":m:c:s:D:d:n:r:t:qh", bench_options,
                                bench_help, NULL, parse_option, o);
    const char *why;

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage("bench", optind >= argc ? "missing ENDPOINT" : "too many arguments");
    o->ep_text = argv[optind];
    if ((err = cli_endpoint("bench", o->ep_text, &cfg->endpoint)) != 0)
        return err;
    if ((why = sockit_bench_check(cfg)) != NULL)
        return cli_usage("bench", "%s", why);
    sockit_bench_defaults(cfg, cfg);
    return 0;
}

static void progress_line(const struct sockit_bench_live *live, double elapsed,
                          struct sockit_bench_live *last)
{
    fprintf(stderr, "\r[%5.0fs] %10.0f msg/s %9.2f MB/s  errors %llu   ", elapsed,
            (double)(live->messages - last->messages), (double)(live->bytes - last->bytes) / 1e6,
            (unsigned long long)live->errors);
    fflush(stderr);
    *last = *live;
}

/* Wait in the main thread until the run is over, printing progress each second. */
static void watch(const struct bench_opts *o, struct sockit_bench *b)
{
    bool show = !o->quiet && isatty(STDERR_FILENO);
    struct sockit_bench_live last = { 0 }, live;
    int64_t start = (int64_t)sockit_clock_ns(), next = start + 1000000000;

    while (sockit_bench_wait(b, 100) == -ETIMEDOUT) {
        int64_t now = (int64_t)sockit_clock_ns();
        if (show && now >= next) {
            sockit_bench_live(b, &live);
            progress_line(&live, (double)(now - start) / 1e9, &last);
            next += 1000000000;
        }
    }
    if (show && next > start + 1000000000)
        fputs("\n", stderr);
}

static double pct_us(const struct sockit_hist *h, double p)
{
    return (double)sockit_hist_percentile(h, p) / 1000.0;
}

static void print_text(const struct bench_opts *o, const struct sockit_bench_result *r)
{
    const struct sockit_bench_config *cfg = &o->cfg;
    const struct sockit_hist *h = &r->latency;

    printf("sockit bench %s: %s, %lu connections, %zu B, %lu thread%s\n", o->ep_text,
           mode_names[cfg->mode], cfg->connections, cfg->size, cfg->threads,
           cfg->threads == 1 ? "" : "s");
    printf("  messages    %llu in %.2f s = %.0f msg/s\n", (unsigned long long)r->messages,
           r->seconds, (double)r->messages / r->seconds);
    printf("  throughput  %.2f MB/s %s\n", (double)r->bytes / r->seconds / 1e6,
           cfg->mode == SOCKIT_BENCH_SEND ? "sent" : "echoed");
    if (h->count)
        printf("  latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
               pct_us(h, 50), pct_us(h, 90), pct_us(h, 99), pct_us(h, 99.9),
               (double)h->max / 1000.0);
    printf("  errors      %llu (connect %llu, closed by server %llu, i/o %llu, lost %llu)\n",
           (unsigned long long)(r->connect_errors + r->io_errors + r->lost + r->closed_by_server),
           (unsigned long long)r->connect_errors, (unsigned long long)r->closed_by_server,
           (unsigned long long)r->io_errors, (unsigned long long)r->lost);
}

static void print_json(const struct bench_opts *o, const struct sockit_bench_result *r)
{
    const struct sockit_bench_config *cfg = &o->cfg;
    const struct sockit_hist *h = &r->latency;

    printf("{\"endpoint\":");
    cli_json_string(stdout, o->ep_text, strlen(o->ep_text));
    printf(",\"mode\":\"%s\",\"connections\":%lu,\"size\":%zu,\"depth\":%lu,\"threads\":%lu,"
           "\"rate\":%.0f,\"seconds\":%.3f,\"messages\":%llu,\"msgs_per_s\":%.1f,\"bytes\":%llu,"
           "\"mb_per_s\":%.3f,",
           mode_names[cfg->mode], cfg->connections, cfg->size,
           cfg->mode == SOCKIT_BENCH_PIPELINE ? cfg->depth : 1, cfg->threads, cfg->rate, r->seconds,
           (unsigned long long)r->messages, (double)r->messages / r->seconds,
           (unsigned long long)r->bytes, (double)r->bytes / r->seconds / 1e6);
    printf("\"latency_us\":{\"count\":%llu,\"mean\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
           "\"p999\":%.2f,\"max\":%.2f},",
           (unsigned long long)h->count, sockit_hist_mean(h) / 1000.0, pct_us(h, 50), pct_us(h, 90),
           pct_us(h, 99), pct_us(h, 99.9), (double)h->max / 1000.0);
    printf("\"errors\":{\"connect\":%llu,\"closed_by_server\":%llu,\"io\":%llu,\"lost\":%llu}}\n",
           (unsigned long long)r->connect_errors, (unsigned long long)r->closed_by_server,
           (unsigned long long)r->io_errors, (unsigned long long)r->lost);
}

static int report(const struct bench_opts *o, const struct sockit_bench_result *r)
{
    uint64_t failures = r->connect_errors + r->io_errors + r->closed_by_server + r->lost;

    if (o->json)
        print_json(o, r);
    else
        print_text(o, r);
    if (r->connect_errors == o->cfg.connections && r->messages == 0)
        return cli_fail(r->first_error_op ? r->first_error_op : "connect", o->ep_text,
                        r->first_error);
    if (r->closed_by_server)
        fprintf(stderr, "sockit: bench %s: the server closed %llu connection%s\n", o->ep_text,
                (unsigned long long)r->closed_by_server, r->closed_by_server == 1 ? "" : "s");
    else if (failures && r->first_error)
        cli_fail(r->first_error_op ? r->first_error_op : "bench", o->ep_text, r->first_error);
    return failures || r->messages == 0 ? CLI_FAIL : CLI_OK;
}

int cmd_bench(int argc, char **argv)
{
    struct bench_opts o = { .cfg = { .mode = SOCKIT_BENCH_PINGPONG } };
    struct sockit_bench *b;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    rc = sockit_endpoint_resolve(&o.cfg.endpoint, 0, &o.cfg.addr, 1);
    if (rc < 0)
        return cli_fail("resolve", o.ep_text, rc);
    if ((rc = sockit_bench_new(&o.cfg, &b)) < 0)
        return cli_fail("bench", o.ep_text, rc);
    if ((rc = sockit_bench_start(b)) < 0) {
        sockit_bench_free(b);
        return cli_fail("pthread_create", NULL, rc);
    }
    watch(&o, b);
    rc = report(&o, sockit_bench_result(b));
    sockit_bench_free(b);
    return rc;
}
