/* sockit game-server: the authoritative server of the game protocol (sockit/game.h,
 * docs/game-protocol.md) on one loop: a UDP socket whose datagrams go to the server's door,
 * and a timer that ticks the world on a fixed schedule. This file parses options, logs the
 * clients that come and go, prints the live line and the summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "game_cli.h"
#include "sockit/clock.h"
#include "sockit/dgram.h"
#include "sockit/game.h"
#include "sockit/hist.h"

static const char game_server_help[] =
    "Usage: sockit game-server [--listen] udp://ADDR:PORT [OPTIONS]\n"
    "The authoritative server of sockit's game protocol (docs/game-protocol.md): a world of\n"
    "players and wandering NPCs stepped on a fixed tick, each client sent its view of the\n"
    "world every tick as a delta against the last snapshot it acknowledged, in one datagram\n"
    "of at most 1200 bytes. Clients connect through a stateless cookie handshake: a forged or\n"
    "spoofed request takes no slot and never gets a reply larger than itself. A client silent\n"
    "for --timeout loses its slot. Clients: sockit game-client.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ENDPOINT    where clients send (udp://ADDR:PORT; port 0: any free one)\n"
    "      --tick N             ticks a second (default 30, 1..1000)\n"
    "      --max-clients N      slots (default 64, 1..1000); a client beyond them is told the\n"
    "                           server is full\n"
    "      --view N             entities each snapshot describes, the nearest (default 32,\n"
    "                           1..128; fewer when a full snapshot would not fit 1200 bytes)\n"
    "      --npcs N             wandering NPCs in the world (default 32; NPCs + max-clients\n"
    "                           at most 1024)\n"
    "      --timeout TIME       a client silent this long loses its slot (default 2s)\n"
    "      --seed N             the world's and the tokens' seed (default 1)\n"
    "      --duration SEC       stop after SEC seconds (default: run until SIGINT/SIGTERM)\n"
    "  -B, --backend NAME       uring, epoll, poll or auto (default: the best the kernel allows)\n"
    "      --json               at exit, print the counters as one JSON object on stdout\n"
    "  -q, --quiet              no start line, client log, live line or summary on stderr\n"
    "      --trace              print each socket call on stderr as it happens\n"
    "  -h, --help               show this help\n"
    "\n"
    "On stderr: a line for each client that joins, leaves or times out; on a terminal, a line\n"
    "each second with the clients, ticks/s, datagrams and bytes/s each way, the clients' mean\n"
    "RTT and input loss, and the tick's p99 time. On SIGINT, SIGTERM or the end of --duration\n"
    "every client is sent DISCONNECT and a summary follows. Exit 0 then; 1 if the socket\n"
    "cannot be opened; 2 for a usage error.\n"
    "\n"
    "Examples:\n"
    "  sockit game-server -l udp://127.0.0.1:7777 --tick 30 --max-clients 100\n"
    "  sockit game-client udp://127.0.0.1:7777 --bots 50 --duration 30 --json\n"
    "  sockit game-server -l udp://:7777 --view 64 --npcs 200 --timeout 5s --json\n";

enum {
    OPT_TICK = 256,
    OPT_MAX,
    OPT_VIEW,
    OPT_NPCS,
    OPT_TIMEOUT,
    OPT_SEED,
    OPT_DURATION,
    OPT_JSON,
    OPT_TRACE
};

struct gs_config {
    struct sockit_game_server_options o;
    const char *listen_text;
    struct sockit_endpoint ep;
    unsigned duration_s;
    enum sockit_backend backend;
    struct cli_tracer tracer;
    const struct sockit_trace *trace;
    bool json, quiet, tty;
};

struct gs_run {
    struct gs_config *cfg;
    struct sockit_loop *loop;
    struct sockit_dgram *d;
    struct sockit_game_server *s;
    struct sockit_timer tick, live, end;
    uint64_t period, next, started, stopped;
    uint64_t late_ticks, packets_in, packets_out, bytes_in, bytes_out, send_drops;
    uint32_t clients_peak;
    uint64_t joined;
    struct sockit_hist tick_ns;
    struct game_cli_io prev; /* the live line's last second */
    uint64_t prev_ticks;
};

static int parse_option(int c, void *ctx)
{
    struct gs_config *cfg = ctx;
    unsigned long n;
    int err = 0;

    switch (c) {
    case 'l': cfg->listen_text = optarg; return 0;
    case OPT_TICK:
        if (!(err = cli_number("game-server", "--tick", optarg, 1, 1000, &n)))
            cfg->o.tick_rate = (uint16_t)n;
        return err;
    case OPT_MAX:
        if (!(err = cli_number("game-server", "--max-clients", optarg, 1, 1000, &n)))
            cfg->o.max_clients = (uint16_t)n;
        return err;
    case OPT_VIEW:
        if (!(err = cli_number("game-server", "--view", optarg, 1, SOCKIT_GAME_MAX_VIEW, &n)))
            cfg->o.view = (uint16_t)n;
        return err;
    case OPT_NPCS:
        if (!(err = cli_number("game-server", "--npcs", optarg, 0, SOCKIT_GAME_MAX_ENTITY, &n)))
            cfg->o.npcs = (uint16_t)n;
        return err;
    case OPT_TIMEOUT: return game_cli_timeout("game-server", optarg, &cfg->o.timeout_ms);
    case OPT_SEED:
        if (!(err = cli_number("game-server", "--seed", optarg, 0, ULONG_MAX, &n)))
            cfg->o.seed = n;
        return err;
    case OPT_DURATION:
        if (!(err = cli_number("game-server", "--duration", optarg, 1, 86400 * 365, &n)))
            cfg->duration_s = (unsigned)n;
        return err;
    case 'B': return cli_backend("game-server", optarg, &cfg->backend);
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->trace = &cfg->tracer.hook; return 0;
    }
    return cli_usage("game-server", "unknown option");
}

static int parse_args(int argc, char **argv, struct gs_config *cfg)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "tick", required_argument, NULL, OPT_TICK },
        { "max-clients", required_argument, NULL, OPT_MAX },
        { "view", required_argument, NULL, OPT_VIEW },
        { "npcs", required_argument, NULL, OPT_NPCS },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "seed", required_argument, NULL, OPT_SEED },
        { "duration", required_argument, NULL, OPT_DURATION },
        { "backend", required_argument, NULL, 'B' },
        { "json", no_argument, NULL, OPT_JSON },
        { "quiet", no_argument, NULL, 'q' },
        { "trace", no_argument, NULL, OPT_TRACE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int err = cli_parse_options("game-server", argc, argv, ":l:B:qh", longopts, game_server_help,
                                NULL, parse_option, cfg);

    if (err)
        return err;
    if (!cfg->listen_text && optind < argc)
        cfg->listen_text = argv[optind++];
    if (optind != argc)
        return cli_usage("game-server", "unexpected argument '%s'", argv[optind]);
    if (!cfg->listen_text)
        return cli_usage("game-server", "where to listen is required: --listen udp://ADDR:PORT");
    if ((err = cli_listen_endpoint("game-server", cfg->listen_text, &cfg->ep)))
        return err;
    if (cfg->ep.transport != SOCKIT_UDP)
        return cli_usage("game-server", "--listen '%s': a udp:// endpoint", cfg->listen_text);
    if (cfg->o.npcs + (cfg->o.max_clients ? cfg->o.max_clients : 64) > SOCKIT_GAME_MAX_ENTITY + 1)
        return cli_usage("game-server", "--npcs %u with --max-clients %u: at most 1024 together",
                         cfg->o.npcs, cfg->o.max_clients ? cfg->o.max_clients : 64);
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void send_to(const struct sockit_addr *to, const uint8_t *pkt, size_t len, void *ud)
{
    struct gs_run *run = ud;

    if (sockit_dgram_write(run->d, pkt, len, to) == 0) {
        run->packets_out++;
        run->bytes_out += len;
    } else {
        run->send_drops++;
    }
}

static void on_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n, void *ud)
{
    struct gs_run *run = ud;
    uint8_t reply[SOCKIT_GAME_MAX_PACKET];
    uint64_t now = sockit_clock_ns();

    (void)d;
    for (size_t i = 0; i < n; i++) {
        run->packets_in++;
        run->bytes_in += msgs[i].len;
        if (msgs[i].truncated)
            continue; /* over 64 KiB: not ours */
        size_t r = sockit_game_server_receive(run->s, now, &msgs[i].peer, msgs[i].data, msgs[i].len,
                                              reply, sizeof(reply));
        if (r)
            send_to(&msgs[i].peer, reply, r, run);
    }
}

static void on_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud)
{
    (void)d, (void)err, (void)peer, (void)ud; /* a client gone (ICMP): its timeout frees it */
}

static void on_event(const struct sockit_game_event *ev, void *ud)
{
    struct gs_run *run = ud;
    char who[128];

    run->joined += ev->type == SOCKIT_GAME_JOINED;
    if (run->cfg->quiet)
        return;
    cli_format_addr(SOCKIT_UDP, ev->addr, who, sizeof(who));
    fprintf(stderr, "%ssockit game-server: client %u (%s) ", run->cfg->tty ? "\r\033[K" : "",
            ev->index, who);
    switch (ev->type) {
    case SOCKIT_GAME_JOINED: fprintf(stderr, "joined as entity %u\n", ev->entity); break;
    case SOCKIT_GAME_TIMED_OUT:
        fprintf(stderr, "timed out: silent for %.2f s\n", (double)ev->silent_ns / 1e9);
        break;
    case SOCKIT_GAME_LEFT: fprintf(stderr, "left\n"); break;
    }
}

/* Tick on the fixed schedule: start + k × period. A loop that fell behind by more than a few
 * ticks skips them (counted late) rather than stepping the world in a burst. */
static void on_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct gs_run *run = data;
    uint64_t now = sockit_clock_ns();
    struct sockit_game_server_stats st;

    if (now > run->next + 4 * run->period) {
        uint64_t behind = (now - run->next) / run->period;
        run->late_ticks += behind;
        run->next += behind * run->period;
    }
    sockit_game_server_tick(run->s, now, send_to, run);
    uint64_t took = sockit_clock_ns() - now;
    sockit_hist_add(&run->tick_ns, took);
    sockit_game_server_stats(run->s, &st);
    if (st.clients > run->clients_peak)
        run->clients_peak = st.clients;
    run->next += run->period;
    now = sockit_clock_ns();
    sockit_timer_start(loop, t, run->next > now ? run->next - now : 0, 0);
}

static void clients_mean(const struct gs_run *run, double *rtt, double *loss)
{
    double r = 0, l = 0;
    unsigned n = 0;
    const struct sockit_game_slot *slot;

    for (uint16_t i = 0; i < run->cfg->o.max_clients; i++)
        if ((slot = sockit_game_server_slot(run->s, i))) {
            r += slot->window.rtt_ms;
            l += slot->window.loss;
            n++;
        }
    *rtt = n ? r / n : 0;
    *loss = n ? l / n : 0;
}

static void on_live(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct gs_run *run = data;
    struct sockit_game_server_stats st;
    double rtt, loss;

    (void)loop, (void)t;
    sockit_game_server_stats(run->s, &st);
    clients_mean(run, &rtt, &loss);
    fprintf(stderr,
            "\r\033[Ksockit game-server: %u clients | %llu ticks/s | in %llu/s %.1f kB/s | out "
            "%llu/s %.1f kB/s | rtt %.1f ms, loss %.1f%% | tick p99 %.0f us",
            st.clients, (unsigned long long)(st.ticks - run->prev_ticks),
            (unsigned long long)(run->packets_in - run->prev.packets_in),
            (double)(run->bytes_in - run->prev.bytes_in) / 1e3,
            (unsigned long long)(run->packets_out - run->prev.packets_out),
            (double)(run->bytes_out - run->prev.bytes_out) / 1e3, rtt, loss * 100,
            (double)sockit_hist_percentile(&run->tick_ns, 99) / 1e3);
    run->prev_ticks = st.ticks;
    run->prev =
        (struct game_cli_io){ run->packets_in, run->packets_out, run->bytes_in, run->bytes_out };
}

static void stop(struct gs_run *run)
{
    if (run->stopped)
        return;
    run->stopped = sockit_clock_ns();
    sockit_game_server_shutdown(run->s, send_to, run);
    sockit_timer_stop(run->loop, &run->tick);
    sockit_timer_stop(run->loop, &run->live);
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

static void summary(const struct gs_run *run, const char *where)
{
    struct sockit_game_server_stats st;
    double secs = (double)(run->stopped - run->started) / 1e9, cpu = game_cli_cpu_seconds();
    uint64_t messages;

    sockit_game_server_stats(run->s, &st);
    messages = st.snapshots + st.inputs;
    if (!run->cfg->quiet)
        fprintf(stderr,
                "%ssockit game-server: %.1f s, %llu ticks (%.1f/s, %llu late), tick p50 %.0f us "
                "p99 %.0f us; %llu clients joined, %llu left, %llu timed out; %llu snapshots "
                "(%.0f B each), %llu inputs; %.2f us CPU a message\n",
                run->cfg->tty ? "\r\033[K" : "", secs, (unsigned long long)st.ticks,
                secs > 0 ? (double)st.ticks / secs : 0, (unsigned long long)run->late_ticks,
                (double)sockit_hist_percentile(&run->tick_ns, 50) / 1e3,
                (double)sockit_hist_percentile(&run->tick_ns, 99) / 1e3,
                (unsigned long long)run->joined, (unsigned long long)st.disconnects,
                (unsigned long long)st.timeouts, (unsigned long long)st.snapshots,
                st.snapshots ? (double)st.snapshot_bytes / (double)st.snapshots : 0,
                (unsigned long long)st.inputs, messages ? cpu * 1e6 / (double)messages : 0);
    if (!run->cfg->json)
        return;
    printf("{\"listen\":");
    cli_json_string(stdout, where, strlen(where));
    printf(
        ",\"tick_rate\":%u,\"seconds\":%.3f,\"ticks\":%llu,\"ticks_per_s\":%.2f,"
        "\"late_ticks\":%llu,\"tick_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
        "\"clients\":%u,\"clients_peak\":%u,\"joined\":%llu,\"timeouts\":%llu,\"disconnects\":%llu,"
        "\"challenges\":%llu,\"accepts\":%llu,\"denied_full\":%llu,\"denied_version\":%llu,"
        "\"bad_cookie\":%llu,\"malformed\":%llu,\"unknown_source\":%llu,"
        "\"handshake_bytes_in\":%llu,\"handshake_bytes_out\":%llu,"
        "\"snapshots\":%llu,\"full_snapshots\":%llu,\"snapshot_bytes\":%llu,"
        "\"inputs\":%llu,\"inputs_applied\":%llu,\"packets_in\":%llu,\"packets_out\":%llu,"
        "\"bytes_in\":%llu,\"bytes_out\":%llu,\"send_drops\":%llu,\"messages\":%llu,"
        "\"cpu_s\":%.3f,\"cpu_us_per_message\":%.3f}\n",
        run->cfg->o.tick_rate ? run->cfg->o.tick_rate : 30, secs, (unsigned long long)st.ticks,
        secs > 0 ? (double)st.ticks / secs : 0, (unsigned long long)run->late_ticks,
        (double)sockit_hist_percentile(&run->tick_ns, 50) / 1e3,
        (double)sockit_hist_percentile(&run->tick_ns, 99) / 1e3, (double)run->tick_ns.max / 1e3,
        st.clients, run->clients_peak, (unsigned long long)run->joined,
        (unsigned long long)st.timeouts, (unsigned long long)st.disconnects,
        (unsigned long long)st.challenges, (unsigned long long)st.accepts,
        (unsigned long long)st.denied_full, (unsigned long long)st.denied_version,
        (unsigned long long)st.bad_cookie, (unsigned long long)st.malformed,
        (unsigned long long)st.unknown_source, (unsigned long long)st.bytes_in,
        (unsigned long long)st.bytes_out_handshake, (unsigned long long)st.snapshots,
        (unsigned long long)st.full_snapshots, (unsigned long long)st.snapshot_bytes,
        (unsigned long long)st.inputs, (unsigned long long)st.inputs_applied,
        (unsigned long long)run->packets_in, (unsigned long long)run->packets_out,
        (unsigned long long)run->bytes_in, (unsigned long long)run->bytes_out,
        (unsigned long long)run->send_drops, (unsigned long long)messages, cpu,
        messages ? cpu * 1e6 / (double)messages : 0);
    fflush(stdout);
}

/* ---- running ------------------------------------------------------------------------------- */

static int open_socket(struct gs_run *run, char *where, size_t size)
{
    struct sockit_sockopts so = { .trace = run->cfg->trace };
    static const struct sockit_dgram_ops ops = { .on_recv = on_recv, .on_error = on_error };
    struct sockit_dgram_opts dopts = { .max_size = SOCKIT_GAME_MAX_PACKET + 1,
                                       .queue_max = 4096,
                                       .trace = run->cfg->trace };
    struct sockit_addr local;
    int fd = sockit_socket_listen(&run->cfg->ep, &so, &local), err;

    if (fd < 0)
        return cli_fail("listen", run->cfg->listen_text, fd);
    /* Every client's input of a tick comes at once: room for a thousand of them (a datagram
     * costs the buffer ~1 KiB however short). Past net.core.rmem_max only root may go. */
    for (int opt = 0; opt < 2; opt++) {
        int bytes = 4 << 20, force = opt ? SO_SNDBUFFORCE : SO_RCVBUFFORCE;
        if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) < 0)
            setsockopt(fd, SOL_SOCKET, opt ? SO_SNDBUF : SO_RCVBUF, &bytes, sizeof(bytes));
    }
    if ((err = sockit_dgram_open(run->loop, fd, &ops, run, &dopts, &run->d)) < 0)
        return cli_fail("listen", run->cfg->listen_text, err);
    cli_format_addr(SOCKIT_UDP, &local, where, size);
    return 0;
}

static int serve(struct gs_run *run)
{
    struct gs_config *cfg = run->cfg;
    char where[128];
    int stop_fd, err, rc;

    if ((err = sockit_game_server_new(&run->s, &cfg->o)) < 0)
        return cli_fail("start game server", NULL, err);
    if ((rc = open_socket(run, where, sizeof(where))) != 0)
        return rc;
    if ((stop_fd = game_cli_watch_stop(run->loop, on_stop, run)) < 0)
        return CLI_FAIL;
    if (!cfg->quiet)
        fprintf(stderr,
                "sockit game-server: %s (%s backend), %u ticks/s, %u slots, view %u, %u NPCs, "
                "timeout %u ms\n",
                where, sockit_loop_backend_name(run->loop), cfg->o.tick_rate, cfg->o.max_clients,
                cfg->o.view, cfg->o.npcs, cfg->o.timeout_ms);
    run->period = 1000000000ull / cfg->o.tick_rate;
    run->started = sockit_clock_ns();
    run->next = run->started + run->period;
    sockit_timer_init(&run->tick, on_tick, run);
    sockit_timer_init(&run->live, on_live, run);
    sockit_timer_init(&run->end, on_end, run);
    sockit_timer_start(run->loop, &run->tick, run->period, 0);
    if (cfg->tty && !cfg->quiet)
        sockit_timer_start(run->loop, &run->live, 1000000000ull, 1000000000ull);
    if (cfg->duration_s)
        sockit_timer_start(run->loop, &run->end, cfg->duration_s * 1000000000ull, 0);
    err = sockit_loop_run(run->loop);
    stop(run);
    sockit_timer_stop(run->loop, &run->end);
    sockit_dgram_close(run->d); /* the DISCONNECTs leave now */
    game_cli_unwatch_stop(run->loop, stop_fd);
    summary(run, where);
    return err < 0 ? cli_fail("event loop", NULL, err) : CLI_OK;
}

int cmd_game_server(int argc, char **argv)
{
    static struct gs_run run; /* a world and a histogram: too big for the stack */
    struct gs_config cfg = { .backend = SOCKIT_BACKEND_AUTO,
                             .o = { .tick_rate = 30,
                                    .max_clients = 64,
                                    .view = 32,
                                    .npcs = 32,
                                    .timeout_ms = 2000,
                                    .seed = 1 } };
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    cfg.tty = isatty(STDERR_FILENO);
    memset(&run, 0, sizeof(run));
    run.cfg = &cfg;
    cfg.o.on_event = on_event;
    cfg.o.ud = &run;
    sockit_hist_reset(&run.tick_ns);
    struct sockit_loop_options lo = { .backend = cfg.backend, .trace = cfg.trace };
    if ((err = sockit_loop_new(&run.loop, &lo)) < 0)
        return cli_fail("start event loop", NULL, err);
    rc = serve(&run);
    sockit_loop_free(run.loop);
    sockit_game_server_free(run.s);
    return rc;
}
