/* sockit impair: a bad network between clients and an upstream, the library's impairment proxy
 * (sockit/impair_proxy.h) on one loop. This file parses options, prints the live line and the
 * summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/clock.h"
#include "sockit/impair_proxy.h"

static const char impair_help[] =
    "Usage: sockit impair --listen udp://ADDR:PORT --to udp://HOST:PORT [IMPAIRMENTS] [OPTIONS]\n"
    "       sockit impair --listen tcp://ADDR:PORT --to tcp://HOST:PORT [IMPAIRMENTS] [OPTIONS]\n"
    "A proxy that makes a bad network, reproducibly, where the kernel has no netem: every\n"
    "datagram from a client goes to the upstream (--to) and every answer back through a loss,\n"
    "delay, reordering, duplication, corruption, bandwidth and MTU model of your choosing.\n"
    "Each client source address gets a session with its own socket to the upstream (so\n"
    "answers find their way back); sessions end after --session-idle without traffic.\n"
    "\n"
    "With tcp:// (or unix:) endpoints each client connection gets its own upstream connection\n"
    "and is its own link (as toxiproxy's are): bytes keep their order, delay, jitter and\n"
    "--rate apply per connection, loss becomes a retransmission delay (--loss-delay, default\n"
    "200ms, Linux's smallest RTO) behind which what follows waits, and the end of one side is\n"
    "passed on as a half-close. --reorder, --duplicate, --corrupt and --mtu need datagrams.\n"
    "\n"
    "Impairments, as tc-netem writes them. Each applies to both directions, or with an up-\n"
    "prefix (client -> upstream) or down- prefix (upstream -> client) to one: --up-loss 5%\n"
    "      --loss PCT           drop each datagram with probability PCT (e.g. 10%)\n"
    "      --ge P,R[,BAD[,GOOD]]\n"
    "                           Gilbert-Elliott burst loss instead: P(good->bad) and\n"
    "                           P(bad->good) per datagram, loss in the bad state (default\n"
    "                           100%) and in the good one (default 0%); e.g. 1%,25%: bursts\n"
    "                           of 4 on average, 3.8% lost\n"
    "      --delay TIME         hold each datagram TIME (e.g. 20ms, 250us, 1.5s)\n"
    "      --jitter TIME        plus or minus up to TIME (uniform), or TIME as the standard\n"
    "                           deviation (--distribution normal); jitter reorders\n"
    "      --distribution uniform|normal\n"
    "      --keep-order         jitter without reordering: no datagram overtakes another\n"
    "      --reorder PCT        send PCT of the datagrams at once, without the delay, so they\n"
    "                           overtake the delayed ones (needs --delay)\n"
    "      --duplicate PCT      send PCT of the datagrams twice (each copy its own delay)\n"
    "      --corrupt PCT        flip one random bit in PCT of the datagrams\n"
    "      --rate RATE          bandwidth: 10mbit, 512kbit, 1gbit (bits/s) or 1mbps (bytes/s,\n"
    "                           as tc reads it); datagrams queue behind each other\n"
    "      --limit N            datagrams held at once, at most (default 1000, as netem);\n"
    "                           more are dropped (tail drop)\n"
    "      --mtu BYTES          drop datagrams larger than BYTES ...\n"
    "      --mtu-truncate       ... or cut them to BYTES\n"
    "      --loss-delay TIME    hold a lost datagram TIME longer instead of dropping it (a\n"
    "                           link that retransmits; default on tcp:// 200ms)\n"
    "Every value needs its unit: --loss 10 or --delay 20 is a usage error.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ENDPOINT    where clients send or connect (udp:// or tcp://ADDR:PORT; port\n"
    "                           0: any free one)\n"
    "  -t, --to ENDPOINT        the upstream (udp:// or tcp://HOST:PORT, as --listen)\n"
    "      --seed N             seed of every random decision (default: from the clock, and\n"
    "                           printed): the same seed and the same traffic in the same order\n"
    "                           give the same decisions\n"
    "      --session-idle TIME  end a session silent this long either way (default 60s)\n"
    "      --max-sessions N     sessions (tcp://: connections) at once (default 10000);\n"
    "                           datagrams from further new sources are dropped, connections\n"
    "                           beyond it closed, and counted\n"
    "      --control ENDPOINT   take commands on ENDPOINT (unix:@name, unix:/path or\n"
    "                           tcp://127.0.0.1:PORT), one a line, each answered with one line:\n"
    "                             set [up|down] NAME VALUE   e.g. set loss 20%, set up delay "
    "50ms,\n"
    "                                                        set keep-order on, set rate off\n"
    "                             clear [up|down]            a perfect link\n"
    "                             stall [up|down] TIME       nothing passes for TIME\n"
    "                             reset                      reset every connection (tcp://)\n"
    "                                                        or end every session (udp://)\n"
    "                             show                       the settings in force\n"
    "                             stats                      the counters, one JSON object\n"
    "  -B, --backend NAME       uring, epoll, poll or auto (default: the best the kernel allows)\n"
    "      --json               at exit, print the counters as one JSON object on stdout\n"
    "  -q, --quiet              no start line, live line or summary on stderr\n"
    "      --trace              print each socket call on stderr as it happens\n"
    "  -h, --help               show this help\n"
    "\n"
    "On a terminal, a line on stderr tells each second the sessions and, per direction, the\n"
    "datagrams in and out, lost, duplicated, reordered, held and the delay added. Stops on\n"
    "SIGINT or SIGTERM (exit 0) with a summary. Exit 1 if a socket cannot be opened, 2 for a\n"
    "usage error (including a value out of range, such as --loss 150%).\n"
    "\n"
    "Examples:\n"
    "  sockit echo udp://127.0.0.1:7000 &\n"
    "  sockit impair -l udp://127.0.0.1:9000 -t udp://127.0.0.1:7000 --loss 5% --delay 20ms \\\n"
    "      --jitter 5ms --seed 1\n"
    "  sockit bench -m pingpong udp://127.0.0.1:9000\n"
    "  sockit impair -l udp://:9000 -t udp://10.0.0.2:7777 --ge 1%,25% --down-rate 2mbit \\\n"
    "      --control unix:@impair\n"
    "  echo 'set loss 20%' | socat - ABSTRACT-CONNECT:impair\n";

enum {
    OPT_SEED = 256,
    OPT_IDLE,
    OPT_MAX_SESSIONS,
    OPT_CONTROL,
    OPT_JSON,
    OPT_TRACE,
    OPT_SETTING = 512, /* + direction * 64 + setting index */
};

#define MAX_SETTINGS 32
#define N_FIXED      12

struct impair_config {
    struct sockit_impair_proxy_options o;
    const char *listen_text, *to_text, *control_text;
    struct sockit_endpoint control;
    enum sockit_backend backend;
    struct cli_tracer tracer;
    bool seeded, json, quiet, tty;
    struct sockit_loop *loop;
    struct sockit_impair_proxy *proxy;
    struct sockit_timer live;
    struct sockit_impair_proxy_stats prev;
};

/* The fixed options, then --NAME, --up-NAME and --down-NAME for every setting. */
struct option_table {
    struct option opts[N_FIXED + 3 * MAX_SETTINGS + 1];
    char names[3 * MAX_SETTINGS][40];
};

static const char *const prefixes[] = { "", "up-", "down-" };

static void build_options(struct option_table *t)
{
    static const struct option fixed[N_FIXED] = {
        { "listen", required_argument, NULL, 'l' },
        { "to", required_argument, NULL, 't' },
        { "seed", required_argument, NULL, OPT_SEED },
        { "session-idle", required_argument, NULL, OPT_IDLE },
        { "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "backend", required_argument, NULL, 'B' },
        { "json", no_argument, NULL, OPT_JSON },
        { "quiet", no_argument, NULL, 'q' },
        { "trace", no_argument, NULL, OPT_TRACE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    size_t n = N_FIXED - 1, k = 0;
    const char *name;

    memcpy(t->opts, fixed, sizeof(fixed));
    for (size_t i = 0; i < MAX_SETTINGS && (name = sockit_impair_setting_name(i)); i++)
        for (int d = 0; d < 3; d++, k++, n++) {
            snprintf(t->names[k], sizeof(t->names[k]), "%s%s", prefixes[d], name);
            t->opts[n] = (struct option){ t->names[k],
                                          sockit_impair_setting_is_flag(name) ? no_argument
                                                                              : required_argument,
                                          NULL, OPT_SETTING + d * 64 + (int)i };
        }
    t->opts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* --[up-|down-]NAME VALUE into the options of its direction(s). */
static int parse_setting(struct impair_config *cfg, int code, const char *value)
{
    int d = (code - OPT_SETTING) / 64;
    const char *name = sockit_impair_setting_name((size_t)((code - OPT_SETTING) % 64));
    const char *why = NULL;

    if ((d != 2 && sockit_impair_setting(&cfg->o.up, name, value, &why) < 0) ||
        (d != 1 && sockit_impair_setting(&cfg->o.down, name, value, &why) < 0))
        return cli_usage("impair", "--%s%s%s%s: %s", prefixes[d], name, value ? " " : "",
                         value ? value : "", why);
    return 0;
}

static int parse_option(int c, void *ctx)
{
    struct impair_config *cfg = ctx;
    unsigned long n;
    uint64_t ns;
    int err;

    if (c >= OPT_SETTING)
        return parse_setting(cfg, c, optarg);
    switch (c) {
    case 'l': cfg->listen_text = optarg; return 0;
    case 't': cfg->to_text = optarg; return 0;
    case OPT_SEED:
        if (!(err = cli_number("impair", "--seed", optarg, 0, ULONG_MAX, &n))) {
            cfg->o.seed = n;
            cfg->seeded = true;
        }
        return err;
    case OPT_IDLE:
        if (sockit_impair_parse_time(optarg, &ns) < 0 || ns < 1000000)
            return cli_usage("impair", "--session-idle %s: a time with its unit, 1ms to 3600s",
                             optarg);
        cfg->o.session_idle_ms = ns / 1000000;
        return 0;
    case OPT_MAX_SESSIONS:
        if (!(err = cli_number("impair", "--max-sessions", optarg, 1, 1000000, &n)))
            cfg->o.max_sessions = n;
        return err;
    case OPT_CONTROL: cfg->control_text = optarg; return 0;
    case 'B': return cli_backend("impair", optarg, &cfg->backend);
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->o.trace = &cfg->tracer.hook; return 0;
    }
    return cli_usage("impair", "unknown option");
}

static int parse_endpoint(const char *opt, const char *text, bool listen,
                          struct sockit_endpoint *ep)
{
    int err;

    if (!text)
        return cli_usage("impair", "%s is required", opt);
    err = listen ? cli_listen_endpoint("impair", text, ep) : cli_endpoint("impair", text, ep);
    if (err)
        return err;
    if (ep->transport != SOCKIT_UDP && !sockit_endpoint_is_stream(ep))
        return cli_usage("impair", "%s '%s': udp://, tcp:// or unix: endpoints", opt, text);
    return 0;
}

/* Both ends datagrams or both streams; a stream proxy refuses datagram-only impairments. */
static int check_kinds(const struct impair_config *cfg)
{
    const char *why = NULL;
    bool stream = sockit_endpoint_is_stream(&cfg->o.listen);

    if (stream != sockit_endpoint_is_stream(&cfg->o.upstream))
        return cli_usage("impair", "--listen %s and --to %s: both datagrams or both streams",
                         cfg->listen_text, cfg->to_text);
    if (stream && (sockit_impair_stream_fit(&cfg->o.up, &why) < 0 ||
                   sockit_impair_stream_fit(&cfg->o.down, &why) < 0))
        return cli_usage("impair", "--%s (on %s)", why, cfg->listen_text);
    return 0;
}

static int parse_args(int argc, char **argv, struct impair_config *cfg)
{
    struct option_table t;
    int err;

    build_options(&t);
    err = cli_parse_options("impair", argc, argv, ":l:t:B:qh", t.opts, impair_help, NULL,
                            parse_option, cfg);
    if (err)
        return err;
    if (optind != argc)
        return cli_usage("impair", "unexpected argument '%s'", argv[optind]);
    if ((err = parse_endpoint("--listen", cfg->listen_text, true, &cfg->o.listen)) ||
        (err = parse_endpoint("--to", cfg->to_text, false, &cfg->o.upstream)) ||
        (err = check_kinds(cfg)))
        return err;
    if (cfg->control_text) {
        if ((err = cli_listen_endpoint("impair", cfg->control_text, &cfg->control)))
            return err;
        if (!sockit_endpoint_is_stream(&cfg->control))
            return cli_usage("impair", "--control '%s': a stream endpoint (unix: or tcp://)",
                             cfg->control_text);
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------------------- */

static void on_log(const char *line, void *ud)
{
    struct impair_config *cfg = ud;

    if (!cfg->quiet)
        fprintf(stderr, "%ssockit impair: %s\n", cfg->tty ? "\r\033[K" : "", line);
}

static void print_start(const struct impair_config *cfg)
{
    char where[256], up[256], down[256];
    struct sockit_addr local;

    if (cfg->quiet)
        return;
    sockit_impair_proxy_local(cfg->proxy, &local);
    cli_format_addr(cfg->o.listen.transport, &local, where, sizeof(where));
    sockit_impair_format(&cfg->o.up, up, sizeof(up));
    sockit_impair_format(&cfg->o.down, down, sizeof(down));
    fprintf(stderr, "sockit impair: %s -> %s (%s backend), seed %llu\n", where, cfg->to_text,
            sockit_loop_backend_name(cfg->loop), (unsigned long long)cfg->o.seed);
    fprintf(stderr, "sockit impair: up: %s; down: %s\n", up, down);
}

static double ms_at(const struct sockit_hist *h, double pct)
{
    return (double)sockit_hist_percentile(h, pct) / 1e6;
}

/* The live line: sessions, and per direction in/out/lost/dup/reordered/held and delay added. */
static void on_live(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct impair_config *cfg = data;
    struct sockit_impair_proxy_stats st;
    const struct sockit_impair_stats *d[2] = { &st.up, &st.down };
    const struct sockit_impair_stats *was[2] = { &cfg->prev.up, &cfg->prev.down };

    (void)loop;
    (void)t;
    sockit_impair_proxy_stats(cfg->proxy, &st);
    fprintf(stderr, "\r\033[Ksockit impair: %zu %s", st.sessions,
            sockit_endpoint_is_stream(&cfg->o.listen) ? "connections" : "sessions");
    for (int i = 0; i < 2; i++)
        fprintf(
            stderr,
            " | %s %llu/s in, %llu out, %llu lost, %llu dup, %llu reord, %zu held, +%.1f ms p50",
            i ? "down" : "up", (unsigned long long)(d[i]->in - was[i]->in),
            (unsigned long long)(d[i]->out - was[i]->out),
            (unsigned long long)(d[i]->lost + d[i]->queue_drops + d[i]->mtu_drops),
            (unsigned long long)d[i]->duplicated, (unsigned long long)d[i]->reordered, d[i]->held,
            ms_at(sockit_impair_proxy_delays(cfg->proxy, i + 1), 50));
    cfg->prev = st;
}

static void summary(const struct impair_config *cfg)
{
    struct sockit_impair_proxy_stats st;
    char json[4096];

    sockit_impair_proxy_stats(cfg->proxy, &st);
    if (cfg->json && sockit_impair_proxy_stats_json(cfg->proxy, json, sizeof(json)) > 0) {
        char up[256], down[256];
        sockit_impair_format(sockit_impair_proxy_options(cfg->proxy, SOCKIT_IMPAIR_UP), up,
                             sizeof(up));
        sockit_impair_format(sockit_impair_proxy_options(cfg->proxy, SOCKIT_IMPAIR_DOWN), down,
                             sizeof(down));
        /* the run's seed and the settings in force at the end, then the counters */
        printf("{\"seed\":%llu,\"settings\":{\"up\":", (unsigned long long)cfg->o.seed);
        cli_json_string(stdout, up, strlen(up));
        printf(",\"down\":");
        cli_json_string(stdout, down, strlen(down));
        printf("},%s\n", json + 1);
    }
    if (cfg->quiet)
        return;
    if (cfg->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr,
            "sockit impair: stopped: %llu %s (%llu expired, %llu refused), %llu ICMP "
            "errors, %llu send drops\n",
            (unsigned long long)st.sessions_opened,
            sockit_endpoint_is_stream(&cfg->o.listen) ? "connections" : "sessions",
            (unsigned long long)st.sessions_expired, (unsigned long long)st.sessions_refused,
            (unsigned long long)st.icmp_errors, (unsigned long long)st.send_drops);
    for (int i = 0; i < 2; i++) {
        const struct sockit_impair_stats *d = i ? &st.down : &st.up;
        const struct sockit_hist *h = sockit_impair_proxy_delays(cfg->proxy, i + 1);
        fprintf(stderr,
                "sockit impair: %-4s %llu in, %llu out: %llu lost, %llu queue drops, %llu MTU "
                "drops, %llu truncated, %llu duplicated, %llu corrupted, %llu reordered; added "
                "p50 %.3f ms, p99 %.3f ms\n",
                i ? "down" : "up", (unsigned long long)d->in, (unsigned long long)d->out,
                (unsigned long long)d->lost, (unsigned long long)d->queue_drops,
                (unsigned long long)d->mtu_drops, (unsigned long long)d->truncated,
                (unsigned long long)d->duplicated, (unsigned long long)d->corrupted,
                (unsigned long long)d->reordered, ms_at(h, 50), ms_at(h, 99));
    }
}

/* ---- running ------------------------------------------------------------------------------ */

static void on_stop(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    (void)fd;
    (void)events;
    (void)data;
    sockit_loop_stop(loop);
}

static int serve(struct impair_config *cfg)
{
    int stop_fd, err;

    if ((err = sockit_impair_proxy_new(&cfg->proxy, cfg->loop, &cfg->o)) < 0)
        return cli_fail("listen", cfg->listen_text, err);
    if (cfg->control_text && (err = sockit_impair_proxy_control(cfg->proxy, &cfg->control)) < 0) {
        sockit_impair_proxy_free(cfg->proxy);
        return cli_fail("control", cfg->control_text, err);
    }
    if ((stop_fd = cli_stop_signals()) < 0 ||
        (err = sockit_loop_watch(cfg->loop, stop_fd, SOCKIT_EV_READ, on_stop, cfg)) < 0) {
        sockit_impair_proxy_free(cfg->proxy);
        if (stop_fd >= 0)
            close(stop_fd);
        return cli_fail("signalfd", NULL, stop_fd < 0 ? stop_fd : err);
    }
    print_start(cfg);
    sockit_timer_init(&cfg->live, on_live, cfg);
    if (cfg->tty && !cfg->quiet)
        sockit_timer_start(cfg->loop, &cfg->live, 1000000000ull, 1000000000ull);
    err = sockit_loop_run(cfg->loop);
    sockit_timer_stop(cfg->loop, &cfg->live);
    sockit_loop_unwatch(cfg->loop, stop_fd);
    close(stop_fd);
    summary(cfg);
    sockit_impair_proxy_free(cfg->proxy);
    return err < 0 ? cli_fail("event loop", NULL, err) : CLI_OK;
}

int cmd_impair(int argc, char **argv)
{
    struct impair_config cfg = { .backend = SOCKIT_BACKEND_AUTO };
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    cfg.o.on_log = on_log;
    cfg.o.ud = &cfg;
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    if (!cfg.seeded)
        cfg.o.seed = sockit_clock_ns() ^ ((uint64_t)getpid() << 32);
    cfg.tty = isatty(STDERR_FILENO);
    struct sockit_loop_options lo = { .backend = cfg.backend, .trace = cfg.o.trace };
    if ((err = sockit_loop_new(&cfg.loop, &lo)) < 0)
        return cli_fail("start event loop", NULL, err);
    rc = serve(&cfg);
    sockit_loop_free(cfg.loop);
    return rc;
}
