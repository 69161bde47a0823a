/* sockit game-client: bots that play on a sockit game-server (sockit/game.h), many per process
 * on one loop, each with its own UDP socket and client engine. This file parses options, runs
 * the bots' ticks, draws the --view, prints the live line and the summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "game_cli.h"
#include "sockit/clock.h"
#include "sockit/dgram.h"
#include "sockit/game.h"
#include "sockit/hist.h"
#include "sockit/rand.h"

static const char game_client_help[] =
    "Usage: sockit game-client udp://HOST:PORT [OPTIONS]\n"
    "Bots that play on a sockit game-server: each connects through the cookie handshake,\n"
    "sends its input every tick (repeating what the server has not acknowledged), and\n"
    "rebuilds its view of the world from delta snapshots, checking each against the\n"
    "server's state hash. Many bots share one process and loop, each with its own socket.\n"
    "\n"
    "Options:\n"
    "  -n, --bots N             simulated players (default 1, at most 5000)\n"
    "  -d, --duration SEC       play SEC seconds, then disconnect cleanly and report (default:\n"
    "                           until SIGINT/SIGTERM)\n"
    "      --view               draw the first bot's surroundings on stdout, 10 times a second\n"
    "                           (@ the bot, o other entities)\n"
    "      --timeout TIME       the server silent this long ends a bot's session (default 2s)\n"
    "      --seed N             the bots' salts and wandering (default: from the clock)\n"
    "  -B, --backend NAME       uring, epoll, poll or auto (default: the best the kernel allows)\n"
    "      --json               at exit, print the results as one JSON object on stdout\n"
    "  -q, --quiet              no live line or summary on stderr\n"
    "      --trace              print each socket call on stderr as it happens\n"
    "  -h, --help               show this help\n"
    "\n"
    "On a terminal, a line on stderr each second: bots connected, updates/s, bytes/s each\n"
    "way, mean RTT and input loss, hash mismatches. At the end a summary, or with --json the\n"
    "bots connected, survived and lost, state-hash mismatches, updates, datagrams and bytes\n"
    "each way, IP bytes and datagrams per update (UDP payload + 28 bytes of IPv4 and UDP\n"
    "headers), RTT, loss, and the update latency (p50, p99, max: how much later than the\n"
    "best case each tick's state arrived, a lost one counting with the next).\n"
    "\n"
    "Exit status: 0 when every bot connected and kept its session to the end; 1 when a bot\n"
    "could not connect or lost its session (the server fell silent, said DISCONNECT, or was\n"
    "full), or a socket failed; 2 for a usage error.\n"
    "\n"
    "Examples:\n"
    "  sockit game-client udp://127.0.0.1:7777 --view\n"
    "  sockit game-client udp://127.0.0.1:7777 --bots 500 --duration 60 --json\n"
    "  sockit impair -l udp://127.0.0.1:9000 -t udp://127.0.0.1:7777 --loss 20% --delay 20ms \\\n"
    "      --jitter 5ms &\n"
    "  sockit game-client udp://127.0.0.1:9000 --bots 10 --duration 60\n";

enum { OPT_VIEW = 256, OPT_TIMEOUT, OPT_SEED, OPT_JSON, OPT_TRACE };

#define MAX_BOTS      5000
#define LAG_SAMPLES   (1u << 20) /* per bot, at most */
#define VIEW_W        64
#define VIEW_H        20
#define VIEW_SPAN     (256 * 16) /* world units (1/16) across the drawing */
#define CONNECT_TICKS 30         /* the ticks a second before the server says its rate */

struct gc_config {
    const char *addr_text;
    struct sockit_endpoint ep;
    unsigned bots, duration_s;
    uint32_t timeout_ms;
    uint64_t seed;
    bool seeded, view, json, quiet, tty;
    enum sockit_backend backend;
    struct cli_tracer tracer;
    const struct sockit_trace *trace;
};

struct gc_run;

struct bot {
    struct gc_run *run;
    unsigned index;
    struct sockit_dgram *d;
    struct sockit_game_client *c;
    struct sockit_game_lag lag;
    struct sockit_game_input in;
    uint64_t rng;
    bool connected, lost;
    enum sockit_game_client_state end; /* how it ended, when lost */
};

struct gc_run {
    struct gc_config *cfg;
    struct sockit_loop *loop;
    struct bot *bots;
    struct sockit_timer tick, live, end, draw;
    uint64_t started, stopped;
    uint16_t tick_rate;
    struct game_cli_io io, prev;
    uint64_t updates, prev_updates, send_drops;
    unsigned connected, lost;
    bool stopping;
};

static int parse_option(int c, void *ctx)
{
    struct gc_config *cfg = ctx;
    unsigned long n;
    int err = 0;

    switch (c) {
    case 'n':
        if (!(err = cli_number("game-client", "--bots", optarg, 1, MAX_BOTS, &n)))
            cfg->bots = (unsigned)n;
        return err;
    case 'd':
        if (!(err = cli_number("game-client", "--duration", optarg, 1, 86400 * 365, &n)))
            cfg->duration_s = (unsigned)n;
        return err;
    case OPT_VIEW: cfg->view = true; return 0;
    case OPT_TIMEOUT: return game_cli_timeout("game-client", optarg, &cfg->timeout_ms);
    case OPT_SEED:
        if (!(err = cli_number("game-client", "--seed", optarg, 1, ULONG_MAX, &n))) {
            cfg->seed = n;
            cfg->seeded = true;
        }
        return err;
    case 'B': return cli_backend("game-client", optarg, &cfg->backend);
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->trace = &cfg->tracer.hook; return 0;
    }
    return cli_usage("game-client", "unknown option");
}

static int parse_args(int argc, char **argv, struct gc_config *cfg)
{
    static const struct option longopts[] = {
        { "bots", required_argument, NULL, 'n' },
        { "duration", required_argument, NULL, 'd' },
        { "view", no_argument, NULL, OPT_VIEW },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "seed", required_argument, NULL, OPT_SEED },
        { "backend", required_argument, NULL, 'B' },
        { "json", no_argument, NULL, OPT_JSON },
        { "quiet", no_argument, NULL, 'q' },
        { "trace", no_argument, NULL, OPT_TRACE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int err = cli_parse_options("game-client", argc, argv, ":n:d:B:qh", longopts, game_client_help,
                                NULL, parse_option, cfg);

    if (err)
        return err;
    if (optind >= argc)
        return cli_usage("game-client", "the server's address is required: udp://HOST:PORT");
    cfg->addr_text = argv[optind++];
    if (optind != argc)
        return cli_usage("game-client", "unexpected argument '%s'", argv[optind]);
    if ((err = cli_endpoint("game-client", cfg->addr_text, &cfg->ep)))
        return err;
    if (cfg->ep.transport != SOCKIT_UDP)
        return cli_usage("game-client", "'%s': a udp:// endpoint", cfg->addr_text);
    return 0;
}

/* ---- the bots ------------------------------------------------------------------------------ */

static uint32_t bot_rand(struct bot *b)
{
    return (uint32_t)(sockit_rand_next(&b->rng) >> 32);
}

/* A bot wanders: a new direction now and then (about every 1.5 s at 30 ticks a second). */
static void wander(struct bot *b)
{
    if (bot_rand(b) % 48)
        return;
    b->in.move_x = (int8_t)((int)(bot_rand(b) % 255) - 127);
    b->in.move_y = (int8_t)((int)(bot_rand(b) % 255) - 127);
    b->in.buttons = (uint8_t)(bot_rand(b) & 1);
}

static void bot_send(struct bot *b, const uint8_t *pkt, size_t len)
{
    if (!len)
        return;
    if (sockit_dgram_write(b->d, pkt, len, NULL) == 0) {
        b->run->io.packets_out++;
        b->run->io.bytes_out += len;
    } else {
        b->run->send_drops++;
    }
}

static const char *ended_why(enum sockit_game_client_state st, uint8_t deny)
{
    switch (st) {
    case SOCKIT_GAME_CLIENT_DENIED:
        return deny == SOCKIT_GAME_DENY_FULL ? "the server is full" : "another protocol version";
    case SOCKIT_GAME_CLIENT_TIMED_OUT: return "timed out: the server fell silent";
    case SOCKIT_GAME_CLIENT_DISCONNECTED: return "the server said DISCONNECT";
    default: return "ended";
    }
}

/* A bot's session ended without our asking: say so once. */
static void bot_check(struct bot *b)
{
    enum sockit_game_client_state st = sockit_game_client_state(b->c);

    if (b->lost || st < SOCKIT_GAME_CLIENT_DENIED || st == SOCKIT_GAME_CLIENT_CLOSED)
        return;
    b->lost = true;
    b->end = st;
    b->run->lost++;
    if (!b->run->cfg->quiet) {
        struct sockit_game_client_stats cs;
        sockit_game_client_stats(b->c, &cs);
        fprintf(stderr, "%ssockit game-client: bot %u: %s%s\n", b->run->cfg->tty ? "\r\033[K" : "",
                b->index, b->connected ? "" : "could not connect: ", ended_why(st, cs.deny_reason));
    }
}

static void on_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n, void *ud)
{
    struct bot *b = ud;
    struct gc_run *run = b->run;
    uint64_t now = sockit_clock_ns();

    (void)d;
    for (size_t i = 0; i < n; i++) {
        run->io.packets_in++;
        run->io.bytes_in += msgs[i].len;
        switch (sockit_game_client_receive(b->c, now, msgs[i].data, msgs[i].len)) {
        case SOCKIT_GAME_EV_ACCEPTED:
            b->connected = true;
            run->connected++;
            if (!run->tick_rate) { /* the bots tick at the server's rate from now on */
                uint64_t period = 1000000000ull / sockit_game_client_tick_rate(b->c);
                run->tick_rate = sockit_game_client_tick_rate(b->c);
                sockit_timer_start(run->loop, &run->tick, period, period);
            }
            sockit_game_lag_init(&b->lag, sockit_game_client_tick_rate(b->c), LAG_SAMPLES);
            break;
        case SOCKIT_GAME_EV_SNAPSHOT:
            run->updates++;
            sockit_game_lag_arrived(&b->lag, sockit_game_client_view(b->c)->tick, now);
            break;
        default: break;
        }
    }
    bot_check(b);
}

static void on_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud)
{
    (void)d, (void)err, (void)peer, (void)ud; /* no server there (ICMP): the timeout says so */
}

static int open_bot(struct gc_run *run, struct bot *b, const struct sockit_addr *server)
{
    struct sockit_sockopts so = { .trace = run->cfg->trace };
    static const struct sockit_dgram_ops ops = { .on_recv = on_recv, .on_error = on_error };
    struct sockit_dgram_opts dopts = { .max_size = SOCKIT_GAME_MAX_PACKET + 1,
                                       .batch = 8,
                                       .queue_max = 64,
                                       .trace = run->cfg->trace };
    struct sockit_game_client_options co = { .timeout_ms = run->cfg->timeout_ms,
                                             .seed = run->cfg->seed + b->index * 7919 + 1 };
    int fd, err;

    b->run = run;
    b->rng = co.seed;
    if ((err = sockit_game_client_new(&b->c, &co)) < 0)
        return err;
    if ((fd = sockit_socket_connect_addr(server, SOCK_DGRAM, &so)) < 0)
        return fd;
    return sockit_dgram_open(run->loop, fd, &ops, b, &dopts, &b->d);
}

/* ---- the ticks ----------------------------------------------------------------------------- */

static void stop(struct gc_run *run);

static void on_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct gc_run *run = data;
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    uint64_t now = sockit_clock_ns();
    unsigned active = 0;

    (void)loop, (void)t;
    for (unsigned i = 0; i < run->cfg->bots; i++) {
        struct bot *b = &run->bots[i];
        if (b->lost)
            continue;
        wander(b);
        bot_send(b, buf, sockit_game_client_update(b->c, now, &b->in, buf, sizeof(buf)));
        bot_check(b);
        active += !b->lost;
    }
    if (!active) /* every bot has ended: nothing more to wait for */
        stop(run);
}

/* The first bot's surroundings: its view drawn around it on stdout. */
static void on_draw(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct gc_run *run = data;
    const struct sockit_game_view *v = sockit_game_client_view(run->bots[0].c);
    uint16_t self = sockit_game_client_entity(run->bots[0].c), me = 0;
    char grid[VIEW_H][VIEW_W + 1];

    (void)loop, (void)t;
    for (uint16_t i = 0; i < v->n; i++)
        if (v->e[i].id == self)
            me = i;
    memset(grid, '.', sizeof(grid));
    for (int y = 0; y < VIEW_H; y++)
        grid[y][VIEW_W] = 0;
    long cx = v->n ? v->e[me].x : 0, cy = v->n ? v->e[me].y : 0, span = VIEW_SPAN;
    for (uint16_t i = 0; i < v->n; i++) { /* zoom out until the whole view fits */
        long dx = labs(v->e[i].x - cx), dy = labs(v->e[i].y - cy);
        span = 2 * dx + 1 > span ? 2 * dx + 1 : span;
        span = 2 * dy + 1 > span ? 2 * dy + 1 : span;
    }
    for (uint16_t i = 0; i < v->n; i++) {
        long gx = (v->e[i].x - cx) * VIEW_W / span + VIEW_W / 2;
        long gy = (v->e[i].y - cy) * VIEW_H / span + VIEW_H / 2;
        if (gx >= 0 && gx < VIEW_W && gy >= 0 && gy < VIEW_H)
            grid[gy][gx] = i == me ? '@' : 'o';
    }
    printf("\033[H\033[2Jsockit game-client: bot 0, tick %u, %u entities in view, %ld units "
           "across, rtt %.1f ms\n",
           v->tick, v->n, span / 16, sockit_game_client_window(run->bots[0].c)->rtt_ms);
    for (int y = 0; y < VIEW_H; y++)
        printf("%s\n", grid[y]);
    fflush(stdout);
}

static void bots_mean(const struct gc_run *run, double *rtt, double *loss)
{
    double r = 0, l = 0;
    unsigned n = 0;

    for (unsigned i = 0; i < run->cfg->bots; i++)
        if (run->bots[i].connected && !run->bots[i].lost) {
            const struct sockit_game_window *w = sockit_game_client_window(run->bots[i].c);
            r += w->rtt_ms;
            l += w->loss;
            n++;
        }
    *rtt = n ? r / n : 0;
    *loss = n ? l / n : 0;
}

static uint64_t mismatches(const struct gc_run *run)
{
    uint64_t m = 0;
    struct sockit_game_client_stats cs;

    for (unsigned i = 0; i < run->cfg->bots; i++) {
        sockit_game_client_stats(run->bots[i].c, &cs);
        m += cs.mismatches;
    }
    return m;
}

static void on_live(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct gc_run *run = data;
    double rtt, loss;

    (void)loop, (void)t;
    bots_mean(run, &rtt, &loss);
    fprintf(stderr,
            "\r\033[Ksockit game-client: %u/%u bots | %llu updates/s | in %.1f kB/s | out %.1f "
            "kB/s | rtt %.1f ms, loss %.1f%% | %llu mismatches",
            run->connected - run->lost, run->cfg->bots,
            (unsigned long long)(run->updates - run->prev_updates),
            (double)(run->io.bytes_in - run->prev.bytes_in) / 1e3,
            (double)(run->io.bytes_out - run->prev.bytes_out) / 1e3, rtt, loss * 100,
            (unsigned long long)mismatches(run));
    run->prev_updates = run->updates;
    run->prev = run->io;
}

/* Every connected bot says DISCONNECT (three times: any may be lost), then the loop ends. */
static void stop(struct gc_run *run)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];

    if (run->stopping)
        return;
    run->stopping = true;
    run->stopped = sockit_clock_ns();
    for (unsigned i = 0; i < run->cfg->bots; i++) {
        struct bot *b = &run->bots[i];
        size_t n = sockit_game_client_disconnect(b->c, buf, sizeof(buf));
        for (int k = 0; k < 3 && n; k++)
            bot_send(b, buf, n);
    }
    sockit_timer_stop(run->loop, &run->tick);
    sockit_timer_stop(run->loop, &run->live);
    sockit_timer_stop(run->loop, &run->draw);
    sockit_loop_stop(run->loop);
}

static void on_stop(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    (void)loop, (void)fd, (void)events;
    stop(data);
}

static void on_end(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop, (void)t;
    stop(data);
}

/* ---- the summary --------------------------------------------------------------------------- */

struct gc_totals {
    uint64_t mismatches, stale, no_baseline, input_ticks, inputs_sent;
    unsigned survived;
    double rtt, loss;
    struct sockit_hist lag; /* µs */
};

static void totals(const struct gc_run *run, struct gc_totals *t)
{
    struct sockit_game_client_stats cs;

    memset(t, 0, sizeof(*t));
    sockit_hist_reset(&t->lag);
    for (unsigned i = 0; i < run->cfg->bots; i++) {
        const struct bot *b = &run->bots[i];
        sockit_game_client_stats(b->c, &cs);
        t->mismatches += cs.mismatches;
        t->stale += cs.stale;
        t->no_baseline += cs.no_baseline;
        t->input_ticks += cs.input_ticks;
        t->inputs_sent += cs.inputs_sent;
        t->survived += b->connected && !b->lost;
        if (b->connected)
            sockit_game_lag_add_to(&b->lag, &t->lag);
    }
    bots_mean(run, &t->rtt, &t->loss);
}

static double per_update(const struct gc_run *run, uint64_t v)
{
    return run->updates ? (double)v / (double)run->updates : 0;
}

static void summary(const struct gc_run *run)
{
    static struct gc_totals t;
    const struct game_cli_io *io = &run->io;
    double secs = (double)(run->stopped - run->started) / 1e9;
    uint64_t packets = io->packets_in + io->packets_out;
    double ip_bytes = per_update(run, io->bytes_in + io->bytes_out + 28 * packets);

    totals(run, &t);
    double p50 = (double)sockit_hist_percentile(&t.lag, 50) / 1e3;
    double p99 = (double)sockit_hist_percentile(&t.lag, 99) / 1e3,
           max = t.lag.count ? (double)t.lag.max / 1e3 : 0;
    if (!run->cfg->quiet)
        fprintf(stderr,
                "%ssockit game-client: %u bots, %u connected, %u survived, %u lost; %.1f s, %llu "
                "updates, %llu hash mismatches; %.0f IP bytes and %.2f datagrams an update; rtt "
                "%.1f ms, loss %.1f%%; update latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                run->cfg->tty ? "\r\033[K" : "", run->cfg->bots, run->connected, t.survived,
                run->lost, secs, (unsigned long long)run->updates, (unsigned long long)t.mismatches,
                ip_bytes, per_update(run, packets), t.rtt, t.loss * 100, p50, p99, max);
    if (!run->cfg->json)
        return;
    printf("{\"server\":");
    cli_json_string(stdout, run->cfg->addr_text, strlen(run->cfg->addr_text));
    printf(",\"bots\":%u,\"connected\":%u,\"survived\":%u,\"lost\":%u,\"duration_s\":%.3f,"
           "\"tick_rate\":%u,\"updates\":%llu,\"mismatches\":%llu,\"stale\":%llu,"
           "\"no_baseline\":%llu,\"packets_out\":%llu,\"packets_in\":%llu,\"bytes_out\":%llu,"
           "\"bytes_in\":%llu,\"send_drops\":%llu,\"ip_bytes_per_update\":%.2f,"
           "\"packets_per_update\":%.4f,\"inputs_per_packet\":%.2f,\"rtt_ms\":%.2f,"
           "\"loss\":%.4f,\"update_latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}}\n",
           run->cfg->bots, run->connected, t.survived, run->lost, secs, run->tick_rate,
           (unsigned long long)run->updates, (unsigned long long)t.mismatches,
           (unsigned long long)t.stale, (unsigned long long)t.no_baseline,
           (unsigned long long)io->packets_out, (unsigned long long)io->packets_in,
           (unsigned long long)io->bytes_out, (unsigned long long)io->bytes_in,
           (unsigned long long)run->send_drops, ip_bytes, per_update(run, packets),
           t.inputs_sent ? (double)t.input_ticks / (double)t.inputs_sent : 0, t.rtt, t.loss, p50,
           p99, max);
    fflush(stdout);
}

/* ---- running ------------------------------------------------------------------------------- */

static int start_bots(struct gc_run *run)
{
    struct sockit_sockopts so = { .trace = run->cfg->trace };
    struct sockit_addr server;
    int fd, err;

    /* resolve once: one connect, whose address every bot's socket then uses */
    if ((fd = sockit_socket_connect(&run->cfg->ep, &so, &server)) < 0)
        return cli_fail("connect", run->cfg->addr_text, fd);
    close(fd);
    if ((err = game_cli_room_for_files(run->cfg->bots + 64)) < 0)
        return cli_fail("open sockets for", "the bots", err);
    for (unsigned i = 0; i < run->cfg->bots; i++) {
        run->bots[i].index = i;
        if ((err = open_bot(run, &run->bots[i], &server)) < 0)
            return cli_fail("connect", run->cfg->addr_text, err);
    }
    return 0;
}

static int play(struct gc_run *run)
{
    struct gc_config *cfg = run->cfg;
    int stop_fd, err, rc;

    if ((rc = start_bots(run)) != 0)
        return rc;
    if ((stop_fd = game_cli_watch_stop(run->loop, on_stop, run)) < 0)
        return CLI_FAIL;
    run->started = sockit_clock_ns();
    sockit_timer_init(&run->tick, on_tick, run);
    sockit_timer_init(&run->live, on_live, run);
    sockit_timer_init(&run->end, on_end, run);
    sockit_timer_init(&run->draw, on_draw, run);
    sockit_timer_start(run->loop, &run->tick, 0, 1000000000ull / CONNECT_TICKS);
    if (cfg->tty && !cfg->quiet)
        sockit_timer_start(run->loop, &run->live, 1000000000ull, 1000000000ull);
    if (cfg->view)
        sockit_timer_start(run->loop, &run->draw, 100000000ull, 100000000ull);
    if (cfg->duration_s)
        sockit_timer_start(run->loop, &run->end, cfg->duration_s * 1000000000ull, 0);
    err = sockit_loop_run(run->loop);
    stop(run);
    sockit_timer_stop(run->loop, &run->end);
    for (unsigned i = 0; i < cfg->bots; i++)
        sockit_dgram_close(run->bots[i].d); /* the DISCONNECTs leave now */
    game_cli_unwatch_stop(run->loop, stop_fd);
    summary(run);
    if (err < 0)
        return cli_fail("event loop", NULL, err);
    return run->connected == cfg->bots && !run->lost ? CLI_OK : CLI_FAIL;
}

int cmd_game_client(int argc, char **argv)
{
    struct gc_config cfg = { .bots = 1, .timeout_ms = 2000, .backend = SOCKIT_BACKEND_AUTO };
    struct gc_run run = { .cfg = &cfg };
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    if (!cfg.seeded)
        cfg.seed = sockit_clock_ns() ^ ((uint64_t)getpid() << 32);
    cfg.tty = isatty(STDERR_FILENO);
    if (!(run.bots = calloc(cfg.bots, sizeof(*run.bots))))
        return cli_fail("start", "the bots", -ENOMEM);
    struct sockit_loop_options lo = { .backend = cfg.backend, .trace = cfg.trace };
    if ((err = sockit_loop_new(&run.loop, &lo)) < 0) {
        free(run.bots);
        return cli_fail("start event loop", NULL, err);
    }
    rc = play(&run);
    sockit_loop_free(run.loop);
    for (unsigned i = 0; i < cfg.bots; i++) {
        sockit_game_client_free(run.bots[i].c);
        sockit_game_lag_free(&run.bots[i].lag);
    }
    free(run.bots);
    return rc;
}
