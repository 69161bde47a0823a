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
    "  bulk       each connection streams --size writes and reads the echo back (throughput);\n"
    "             with -R it only reads what the server sends\n"
    "  connect    a new connection per message: connect, send, read the echo, close\n"
    "  send       one-way: each connection streams --size writes; replies are dropped\n"
    "             (throughput into any sink, e.g. sockit listen ... > /dev/null)\n\n"
    "Options:\n"
    "  -m, --mode MODE         pingpong, pipeline, bulk, connect or send\n"
    "  -c, --connections N     concurrent connections (default 50)\n"
    "  -s, --size BYTES        message size (default 64; bulk, send: write size, 65536)\n"
    "  -D, --depth N           pipeline only: messages in flight per connection (default\n"
    "                          16); depth x size is at most 64M per connection\n"
    "  -d, --duration SEC      run for SEC seconds, at least 0.001 (default 10, or until\n"
    "                          --count)\n"
    "  -n, --count N           stop after N messages (bulk: N bytes), e.g. 1000000 or 1G\n"
    "  -r, --rate N            pingpong, pipeline: open loop, N messages/s in total; latency\n"
    "                          counts from each message's intended send time (no coordinated\n"
    "                          omission); a rate missed by over 10 % is a warning\n"
    "  -t, --threads N         client threads (default 1)\n"
    "      --timeout MS        a connect or a reply may take MS ms (default 2000): a later\n"
    "                          datagram reply is lost, a stream whose reply (bulk, send: any\n"
    "                          progress) is later is closed as timed out. Connects also end\n"
    "                          with the run\n"
    "  -R, --reverse           bulk only: send nothing and count what the server sends, as\n"
    "                          iperf3 -R (a server that streams: sockit listen ENDPOINT <\n"
    "                          FILE); the server's end of stream ends a connection normally,\n"
    "                          --count counts bytes received. An echo server sends nothing\n"
    "                          back: the run times out\n"
    "      --backend NAME      the client's event loop: uring, epoll, poll or auto (default:\n"
    "                          uring where the kernel has it; epoll for bulk and send)\n"
    "      --interval SEC      every SEC seconds (at least 0.01) print that interval's\n"
    "                          messages, bytes and errors on stdout: a line of text, or with\n"
    "                          --json one JSON object per line ({\"interval\":{...}}) before\n"
    "                          the summary's (iperf3 -J -i); replaces the progress line\n"
    "      --server-pid PID    report the CPU time (user + system, /proc/PID/stat) that\n"
    "                          process PID used during the run, and per message: the server\n"
    "                          cost the load client cannot show\n"
    "      --json              print the result as one JSON object on stdout (after the\n"
    "                          intervals' with --interval)\n"
    "  -q, --quiet             no live progress line\n"
    "  -h, --help              show this help\n\n"
    "A progress line is printed every second when stderr is a terminal. Messages still\n"
    "unanswered at the end (or when their connection failed) count in the latency with the\n"
    "time they waited, as wrk2 counts them, so a server that stops answering shows.\n\n"
    "Exit status: 0 replies came and nothing failed; 1 connections failed, timed out or were\n"
    "closed by the server, replies were lost, or no reply came at all (stderr names the\n"
    "cause; --json has it in \"error\"); 2 usage error.\n\n"
    "Examples:\n"
    "  sockit bench tcp://127.0.0.1:7000 -c 50 -d 10\n"
    "  sockit bench tcp://127.0.0.1:7000 -m pipeline -D 32 --json\n"
    "  sockit bench tcp://127.0.0.1:7000 -m bulk -c 1 -n 1G\n"
    "  sockit bench udp://[::1]:9000 -r 50000 -d 5\n"
    "  sockit bench tcp://127.0.0.1:7000 --server-pid 4242 --json --interval 1\n"
    "  sockit listen tcp://:9000 < /dev/zero &   # a server that streams, then:\n"
    "  sockit bench tcp://127.0.0.1:9000 -m bulk -R -c 1 -d 5\n";

enum { OPT_TIMEOUT = 256, OPT_JSON, OPT_BACKEND, OPT_INTERVAL, OPT_SERVER_PID };

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
    { "reverse", no_argument, NULL, 'R' },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "server-pid", required_argument, NULL, OPT_SERVER_PID },
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
    bool depth_given;
    double interval_s;        /* --interval; 0: none */
    unsigned long server_pid; /* --server-pid; 0: none */
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

/* A number in (0, 1e7] for OPT, at least MIN, which UNIT names ("seconds"). */
static int parse_positive(const char *opt, const char *text, const char *unit, double min,
                          double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end || !(v > 0) || v > 1e7)
        return cli_usage("bench", "%s: '%s' is not a positive number of %s", opt, text, unit);
    if (v < min)
        return cli_usage("bench", "%s: '%s' is below %g %s", opt, text, min, unit);
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
    case 'D':
        o->depth_given = true;
        return cli_number("bench", "--depth", optarg, 1, 4096, &cfg->depth);
    case 'd': return parse_positive("--duration", optarg, "seconds", 0.001, &cfg->duration_s);
    case 'n':
        err = parse_amount("--count", optarg, &v);
        cfg->count = v;
        return err;
    case 'r': return parse_positive("--rate", optarg, "messages per second", 0, &cfg->rate);
    case 't': return cli_number("bench", "--threads", optarg, 1, 256, &cfg->threads);
    case OPT_TIMEOUT: return cli_number("bench", "--timeout", optarg, 1, 3600000, &cfg->timeout_ms);
    case OPT_JSON: o->json = true; return 0;
    case OPT_BACKEND: return cli_backend("bench", optarg, &cfg->backend);

    case 'q': o->quiet = true; return 0;
    case 'R': cfg->reverse = true; return 0;
    case OPT_INTERVAL: return parse_positive("--interval", optarg, "seconds", 0.01, &o->interval_s);
    case OPT_SERVER_PID:
        return cli_number("bench", "--server-pid", optarg, 1, 4194304, &o->server_pid);
    }
    return cli_usage("bench", "unknown option");
}

/* What the options cannot do together, as usage errors naming the option. */
static int check_options(const struct bench_opts *o)
{
    const struct sockit_bench_config *cfg = &o->cfg;
    const char *why;

    if (o->depth_given && cfg->mode != SOCKIT_BENCH_PIPELINE)
        return cli_usage("bench",
                         "--depth applies to -m pipeline only (%s keeps one message in "
                         "flight per connection)",
                         mode_names[cfg->mode]);
    if (cfg->size > sockit_bench_max_size(cfg))
        return cli_usage("bench", "--size: %s carries at most %zu bytes a message", o->ep_text,
                         sockit_bench_max_size(cfg));
    unsigned long depth = cfg->depth ? cfg->depth : 16;
    size_t size = cfg->size ? cfg->size : 64;
    if (cfg->mode == SOCKIT_BENCH_PIPELINE && depth * size > SOCKIT_BENCH_MAX_SIZE)
        return cli_usage("bench",
                         "--depth x --size: %lu x %zu bytes is over 64M in flight per connection",
                         depth, size);
    if (cfg->rate > 0 && cfg->mode != SOCKIT_BENCH_PINGPONG && cfg->mode != SOCKIT_BENCH_PIPELINE)
        return cli_usage("bench",
                         "--rate paces -m pingpong and pipeline only (%s runs as fast "
                         "as the server goes)",
                         mode_names[cfg->mode]);
    if (cfg->reverse && cfg->mode != SOCKIT_BENCH_BULK)
        return cli_usage("bench", "--reverse applies to -m bulk only");
    if ((why = sockit_bench_check(cfg)) != NULL)
        return cli_usage("bench", "%s", why);
    return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    struct sockit_bench_config *cfg = &o->cfg;
    int err = cli_parse_options("bench", argc, argv, ":m:c:s:D:d:n:r:t:qRh", bench_options,
                                bench_help, NULL, parse_option, o);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage("bench", optind >= argc ? "missing ENDPOINT" : "too many arguments");
    o->ep_text = argv[optind];
    if ((err = cli_endpoint("bench", o->ep_text, &cfg->endpoint)) != 0)
        return err;
    return check_options(o);
}

/* Resolve the endpoint; a datagram size is checked against the family found (IPv4's 65,507
 * is less than IPv6's 65,527). Returns 0, CLI_FAIL or CLI_USAGE, with the message. */
static int resolve(struct bench_opts *o)
{
    struct sockit_bench_config *cfg = &o->cfg;
    int rc = sockit_endpoint_resolve(&cfg->endpoint, 0, &cfg->addr, 1);

    if (rc < 0)
        return cli_fail("resolve", o->ep_text, rc);
    if (cfg->size > sockit_bench_max_size(cfg))
        return cli_usage("bench", "--size: %s carries at most %zu bytes a message", o->ep_text,
                         sockit_bench_max_size(cfg));
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

/* One --interval report: what the counters did from FROM to TO seconds after the start. */
static void interval_line(const struct bench_opts *o, const struct sockit_bench_live *now,
                          struct sockit_bench_live *last, double from, double to)
{
    double secs = to - from, msgs = (double)(now->messages - last->messages);
    double bytes = (double)(now->bytes - last->bytes);
    unsigned long long errors = (unsigned long long)(now->errors - last->errors);

    if (o->json)
        printf("{\"interval\":{\"start\":%.3f,\"end\":%.3f,\"seconds\":%.3f,\"messages\":%.0f,"
               "\"msgs_per_s\":%.1f,\"bytes\":%.0f,\"mb_per_s\":%.3f,\"errors\":%llu}}\n",
               from, to, secs, msgs, msgs / secs, bytes, bytes / secs / 1e6, errors);
    else
        printf("  [%7.2f-%7.2f s] %10.0f msg/s %10.2f MB/s  errors %llu\n", from, to, msgs / secs,
               bytes / secs / 1e6, errors);
    fflush(stdout);
    *last = *now;
}

/* What watch() keeps between wake-ups. */
struct watcher {
    int64_t start, next_progress, next_interval; /* clock ns; next_interval 0: no intervals */
    struct sockit_bench_live progress, interval; /* the counters at the last line of each */
    double interval_from;                        /* seconds: where the current one began */
};

/* Print what is due at NOW: the progress line (SHOW), the intervals that ended. */
static void watch_step(const struct bench_opts *o, struct sockit_bench *b, struct watcher *w,
                       bool show, int64_t now)
{
    struct sockit_bench_live live;

    sockit_bench_live(b, &live);
    if (show && now >= w->next_progress) {
        progress_line(&live, (double)(now - w->start) / 1e9, &w->progress);
        w->next_progress += 1000000000;
    }
    if (w->next_interval && now >= w->next_interval) {
        double to = (double)(w->next_interval - w->start) / 1e9;
        interval_line(o, &live, &w->interval, w->interval_from, to);
        w->interval_from = to;
        w->next_interval += (int64_t)(o->interval_s * 1e9);
    }
}

/* Wait in the main thread until the run is over, printing progress each second (a terminal,
 * no --interval) or each --interval; the last, shorter interval when the run ends. */
static void watch(const struct bench_opts *o, struct sockit_bench *b)
{
    bool show = !o->quiet && !o->interval_s && isatty(STDERR_FILENO);
    int64_t start = (int64_t)sockit_clock_ns();
    struct watcher w = { .start = start,
                         .next_progress = start + 1000000000,
                         .next_interval =
                             o->interval_s ? start + (int64_t)(o->interval_s * 1e9) : 0 };
    int wait_ms = o->interval_s && o->interval_s < 0.1 ? (int)(o->interval_s * 1000) : 100;

    while (sockit_bench_wait(b, wait_ms) == -ETIMEDOUT)
        watch_step(o, b, &w, show, (int64_t)sockit_clock_ns());
    if (show && w.next_progress > start + 1000000000)
        fputs("\n", stderr);
    double end = sockit_bench_result(b)->seconds;
    if (w.next_interval && end - w.interval_from > 0.001) {
        struct sockit_bench_live live;
        sockit_bench_live(b, &live);
        interval_line(o, &live, &w.interval, w.interval_from, end);
    }
}

/* --server-pid: the CPU time process PID has used so far (utime + stime, /proc/PID/stat, in
 * clock ticks), in seconds into *USER and *SYS. Returns 0 or -errno. */
static int server_cpu(unsigned long pid, double *user, double *sys)
{
    char path[64], line[1024];
    unsigned long long ut, st;
    double tick = (double)sysconf(_SC_CLK_TCK);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%lu/stat", pid);
    if (!(f = fopen(path, "re")))
        return -errno;
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    char *after = got ? strrchr(line, ')') : NULL; /* the name may hold spaces and ')' */
    /* After the name: state, then fields 4..13, then utime (14) and stime (15). */
    if (!after ||
        sscanf(after + 1, " %*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
        return -EINVAL;
    *user = (double)ut / tick;
    *sys = (double)st / tick;
    return 0;
}

/* The server's CPU over the run: the figures at the start, then the difference at the end. */
struct cpu_use {
    bool known; /* both readings worked */
    double user, sys;
};

static double pct_us(const struct sockit_hist *h, double p)
{
    return (double)sockit_hist_percentile(h, p) / 1000.0;
}

/* The rate reached, and whether it fell short of the one asked for by more than 10 %. */
static double rate_reached(const struct sockit_bench_result *r, bool *missed, double asked)
{
    double reached = r->seconds > 0 ? (double)r->messages / r->seconds : 0;

    *missed = asked > 0 && reached < 0.9 * asked;
    return reached;
}

/* "echoed", or what else the byte count is. */
static const char *bytes_are(const struct sockit_bench_config *cfg)
{
    return cfg->mode == SOCKIT_BENCH_SEND ? "sent" : cfg->reverse ? "received" : "echoed";
}

static void print_text_cpu(const struct sockit_bench_result *r, const struct cpu_use *cpu)
{
    if (!cpu->known)
        return;
    printf("  server cpu  %.2f s (user %.2f, system %.2f)", cpu->user + cpu->sys, cpu->user,
           cpu->sys);
    if (r->messages)
        printf(" = %.2f us per message", (cpu->user + cpu->sys) * 1e6 / (double)r->messages);
    printf("\n");
}

static void print_text(const struct bench_opts *o, const struct sockit_bench_result *r,
                       const struct cpu_use *cpu)
{
    const struct sockit_bench_config *cfg = &o->cfg;
    const struct sockit_hist *h = &r->latency;

    printf("sockit bench %s: %s%s, %lu connections, %zu B, %lu thread%s\n", o->ep_text,
           mode_names[cfg->mode], cfg->reverse ? " (reverse)" : "", cfg->connections, cfg->size,
           cfg->threads, cfg->threads == 1 ? "" : "s");
    printf("  messages    %llu in %.2f s = %.0f msg/s\n", (unsigned long long)r->messages,
           r->seconds, (double)r->messages / r->seconds);
    printf("  throughput  %.2f MB/s %s\n", (double)r->bytes / r->seconds / 1e6, bytes_are(cfg));
    if (h->count)
        printf("  latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
               pct_us(h, 50), pct_us(h, 90), pct_us(h, 99), pct_us(h, 99.9),
               (double)h->max / 1000.0);
    if (r->unanswered)
        printf("  unanswered  %llu (in the latency with the time they waited)\n",
               (unsigned long long)r->unanswered);
    printf("  errors      %llu (connect %llu, closed by server %llu, timeout %llu, i/o %llu, "
           "lost %llu)\n",
           (unsigned long long)(r->connect_errors + r->io_errors + r->lost + r->closed_by_server +
                                r->timeouts),
           (unsigned long long)r->connect_errors, (unsigned long long)r->closed_by_server,
           (unsigned long long)r->timeouts, (unsigned long long)r->io_errors,
           (unsigned long long)r->lost);
    print_text_cpu(r, cpu);
}

static void print_json_cpu(const struct bench_opts *o, const struct sockit_bench_result *r,
                           const struct cpu_use *cpu)
{
    if (!o->server_pid)
        return;
    if (!cpu->known) {
        printf("\"server_cpu\":null,");
        return;
    }
    printf("\"server_cpu\":{\"pid\":%lu,\"user_s\":%.3f,\"system_s\":%.3f,\"us_per_msg\":",
           o->server_pid, cpu->user, cpu->sys);
    if (r->messages)
        printf("%.3f},", (cpu->user + cpu->sys) * 1e6 / (double)r->messages);
    else
        printf("null},");
}

static void print_json_latency(const struct sockit_hist *h)
{
    if (!h->count) {
        printf("\"latency_us\":null,");
        return;
    }
    printf("\"latency_us\":{\"count\":%llu,\"mean\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
           "\"p999\":%.2f,\"max\":%.2f},",
           (unsigned long long)h->count, sockit_hist_mean(h) / 1000.0, pct_us(h, 50), pct_us(h, 90),
           pct_us(h, 99), pct_us(h, 99.9), (double)h->max / 1000.0);
}

/* WHY: the failure's text, or "" (JSON null). */
static void print_json(const struct bench_opts *o, const struct sockit_bench_result *r,
                       const struct cpu_use *cpu, const char *why)
{
    const struct sockit_bench_config *cfg = &o->cfg;
    bool missed;
    double reached = rate_reached(r, &missed, cfg->rate);

    printf("{\"endpoint\":");
    cli_json_string(stdout, o->ep_text, strlen(o->ep_text));
    printf(",\"mode\":\"%s\",\"reverse\":%s,\"connections\":%lu,\"size\":%zu,\"depth\":%lu,"
           "\"threads\":%lu,"
           "\"rate\":%.0f,\"rate_reached\":%.1f,\"rate_missed\":%s,\"seconds\":%.3f,"
           "\"messages\":%llu,\"msgs_per_s\":%.1f,\"bytes\":%llu,\"mb_per_s\":%.3f,"
           "\"unanswered\":%llu,",
           mode_names[cfg->mode], cfg->reverse ? "true" : "false", cfg->connections, cfg->size,
           cfg->depth, cfg->threads, cfg->rate, reached, missed ? "true" : "false", r->seconds,
           (unsigned long long)r->messages, (double)r->messages / r->seconds,
           (unsigned long long)r->bytes, (double)r->bytes / r->seconds / 1e6,
           (unsigned long long)r->unanswered);
    print_json_latency(&r->latency);
    print_json_cpu(o, r, cpu);
    printf("\"errors\":{\"connect\":%llu,\"closed_by_server\":%llu,\"timeout\":%llu,\"io\":%llu,"
           "\"lost\":%llu},\"error\":",
           (unsigned long long)r->connect_errors, (unsigned long long)r->closed_by_server,
           (unsigned long long)r->timeouts, (unsigned long long)r->io_errors,
           (unsigned long long)r->lost);
    if (*why)
        cli_json_string(stdout, why, strlen(why));
    else
        fputs("null", stdout);
    fputs("}\n", stdout);
}

/* What went wrong, as "OP TARGET: TEXT" into WHY (SIZE bytes), or "" if nothing did. */
static void failure_text(const struct bench_opts *o, const struct sockit_bench_result *r, char *why,
                         size_t size)
{
    const char *op = r->first_error_op ? r->first_error_op : "bench";

    why[0] = '\0';
    if (r->closed_by_server)
        snprintf(why, size, "bench %s: the server closed %llu connection%s", o->ep_text,
                 (unsigned long long)r->closed_by_server, r->closed_by_server == 1 ? "" : "s");
    else if (r->timeouts)
        snprintf(why, size,
                 "bench %s: %llu connection%s timed out: no %s within %lu ms (--timeout)",
                 o->ep_text, (unsigned long long)r->timeouts, r->timeouts == 1 ? "" : "s",
                 o->cfg.mode == SOCKIT_BENCH_BULK || o->cfg.mode == SOCKIT_BENCH_SEND ? "progress"
                                                                                      : "reply",
                 o->cfg.timeout_ms);
    else if (r->lost)
        snprintf(why, size, "bench %s: %llu datagram%s got no reply within %lu ms (--timeout)",
                 o->ep_text, (unsigned long long)r->lost, r->lost == 1 ? "" : "s",
                 o->cfg.timeout_ms);
    else if (r->first_error)
        snprintf(why, size, "%s %s: %s", op, o->ep_text, sockit_strerror(r->first_error));
    else if (r->messages == 0)
        snprintf(why, size, "bench %s: no reply from the server in %.3f s", o->ep_text, r->seconds);
}

static int report(const struct bench_opts *o, const struct sockit_bench_result *r,
                  const struct cpu_use *cpu)
{
    char why[256];
    bool missed;
    double reached = rate_reached(r, &missed, o->cfg.rate);

    failure_text(o, r, why, sizeof(why));
    if (o->json)
        print_json(o, r, cpu, why);
    else
        print_text(o, r, cpu);
    fflush(stdout);
    if (o->server_pid && !cpu->known)
        fprintf(stderr,
                "sockit: bench: warning: no CPU figures for --server-pid %lu: it ended "
                "during the run\n",
                o->server_pid);
    if (missed)
        fprintf(stderr,
                "sockit: bench %s: warning: reached %.0f msg/s of the %.0f asked (--rate): the "
                "client or the server could not keep up\n",
                o->ep_text, reached, o->cfg.rate);
    if (!*why)
        return CLI_OK;
    fprintf(stderr, "sockit: %s\n", why);
    return CLI_FAIL;
}

int cmd_bench(int argc, char **argv)
{
    struct bench_opts o = { .cfg = { .mode = SOCKIT_BENCH_PINGPONG } };
    struct sockit_bench *b;
    struct cpu_use cpu = { 0 }, end = { 0 };
    int rc = parse_args(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = resolve(&o)) != 0)
        return rc;
    if ((rc = sockit_bench_new(&o.cfg, &b)) < 0)
        return cli_fail("bench", o.ep_text, rc);
    if (o.server_pid && (rc = server_cpu(o.server_pid, &cpu.user, &cpu.sys)) < 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%lu/stat", o.server_pid);
        sockit_bench_free(b);
        return cli_fail("--server-pid", path, rc);
    }
    if ((rc = sockit_bench_start(b)) < 0) {
        sockit_bench_free(b);
        return cli_fail("pthread_create", NULL, rc);
    }
    watch(&o, b);
    if (o.server_pid && server_cpu(o.server_pid, &end.user, &end.sys) == 0)
        cpu = (struct cpu_use){ true, end.user - cpu.user, end.sys - cpu.sys };
    rc = report(&o, sockit_bench_result(b), &cpu);
    sockit_bench_free(b);
    return rc;
}
