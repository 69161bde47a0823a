/* sockit connect / sockit listen: netcat-style relays between stdin/stdout and one socket,
 * on the library's relay (sockit/relay.h): this file parses options, opens the socket, hands
 * it and stdin/stdout to a relay on a loop, and prints what happened. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/relay.h"

struct relay_config {
    const char *cmd; /* "connect" or "listen" */
    struct sockit_endpoint ep;
    const char *ep_text;
    struct sockit_sockopts opts;
    int wait_ms;                 /* datagrams: after stdin ends, wait this long for replies */
    uint64_t rate_bps, rate_pps; /* connect --rate on datagram endpoints; 0: no limit */
    bool keep;                   /* listen -k: accept the next client after one ends */
    bool verbose;                /* -v: say what happens on stderr */
};

/* One run of connect or listen: the loop, the listening socket, the relay of the moment. */
struct relay_run {
    const struct relay_config *cfg;
    struct sockit_loop *loop;
    int lfd; /* listen on a stream endpoint: watched for clients; -1 otherwise */
    struct sockit_socket_file file; /* listen: the unix socket file it made, to remove */
    struct sockit_relay *relay;
    struct sockit_addr peer;
    bool stopping; /* SIGINT/SIGTERM */
    int rc;
};

static const char connect_help[] =
    "Usage: sockit connect [OPTIONS] ENDPOINT\n"
    "Connect to ENDPOINT and relay: stdin goes to the socket, the socket to stdout.\n"
    "When stdin ends, a stream socket is half-closed (shutdown SHUT_WR) and the reply is\n"
    "read until the peer closes; when the peer half-closes first, stdin keeps flowing to it.\n"
    "The relay ends when both directions have ended (stdin on a terminal: when the peer\n"
    "ends). Datagram endpoints send each chunk of stdin as one datagram and wait --wait\n"
    "seconds for replies after stdin ends.\n\n";
static const char listen_help[] =
    "Usage: sockit listen [OPTIONS] ENDPOINT\n"
    "Listen on ENDPOINT, take one client and relay: stdin goes to the client, the client to\n"
    "stdout. Each direction ends on its own (stdin's end half-closes the socket); the relay\n"
    "ends when both have (stdin on a terminal, or -k: when the client ends). On datagram\n"
    "endpoints the first sender becomes the peer. SIGINT or SIGTERM stops it (exit 0) and\n"
    "removes its unix socket file, if that is still the one it made.\n\n";
static const char relay_options_help[] =
    "Options:\n"
    "  -k, --keep-open     listen: after a client ends, accept the next (stream endpoints)\n"
    "  -t, --timeout SEC   connect: give up connecting after SEC seconds (default 10)\n"
    "  -w, --wait SEC      datagram endpoints: after stdin ends, wait SEC seconds for more\n"
    "                      replies (default 1)\n"
    "  -r, --rate RATE     connect on datagram endpoints: send at most RATE, in bits of\n"
    "                      payload per second (NUMBERbit, kbit, mbit or gbit, as tc and\n"
    "                      iperf count: 10mbit = 10,000,000 bits/s) or datagrams per second\n"
    "                      (NUMBERpps, kpps); stdin is read no faster, so none is dropped\n"
    "                      for it (default: as fast as the socket takes them)\n"
    "  -v, --verbose       report listening, connections and ends on stderr, and at the end\n"
    "                      the bytes (datagrams: and datagrams) sent and received\n"
    "      --trace         print each socket call on stderr as it happens\n"
    "  -h, --help          show this help\n\n"
    "Exit status: 0 the relay ended normally; 1 connect/listen or I/O failed; 2 usage.\n\n"
    "Examples:\n"
    "  sockit listen tcp://:9000 > received.bin        sockit connect 127.0.0.1:9000 < file\n"
    "  echo hi | sockit connect unix:/tmp/echo.sock\n"
    "  sockit listen -k unix:@chat                     sockit connect udp://[::1]:5353\n";

enum { OPT_TRACE = 256 };

/* "10mbit", "1.5gbit", "500pps": a positive number and a unit, into bits or datagrams per
 * second. Returns 0 or CLI_USAGE with a message. */
static int parse_rate(struct relay_config *cfg, const char *text)
{
    static const struct {
        const char *unit;
        double scale;
        bool pps;
    } units[] = {
        { "bit", 1, false },    { "kbit", 1e3, false }, { "mbit", 1e6, false },
        { "gbit", 1e9, false }, { "pps", 1, true },     { "kpps", 1e3, true },
    };
    char *end;
    double v = (text[0] >= '0' && text[0] <= '9') ? strtod(text, &end) : -1;

    for (size_t i = 0; v >= 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        double r = v * units[i].scale;
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        if (r < 1 || r > 1e12)
            return cli_usage(cfg->cmd, "--rate: %s is out of range (1bit or 1pps to 1000gbit)",
                             text);
        *(units[i].pps ? &cfg->rate_pps : &cfg->rate_bps) = (uint64_t)r;
        return 0;
    }
    return cli_usage(cfg->cmd,
                     "--rate: '%s' is not a rate: a number and a unit (bit, kbit, mbit, gbit, "
                     "pps, kpps), such as 10mbit or 500pps",
                     text);
}

static const struct option relay_options[] = {
    { "keep-open", no_argument, NULL, 'k' },  { "timeout", required_argument, NULL, 't' },
    { "wait", required_argument, NULL, 'w' }, { "rate", required_argument, NULL, 'r' },
    { "verbose", no_argument, NULL, 'v' },    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
};

struct relay_args {
    struct relay_config *cfg;
    struct cli_tracer *tracer;
};

static int parse_option(int c, void *ctx)
{
    struct relay_config *cfg = ((struct relay_args *)ctx)->cfg;
    struct cli_tracer *tracer = ((struct relay_args *)ctx)->tracer;
    unsigned long v;
    int err;

    switch (c) {
    case 'k': cfg->keep = true; return 0;
    case 't':
        err = cli_number(cfg->cmd, "--timeout", optarg, 1, 86400, &v);
        cfg->opts.timeout_ms = (int)v * 1000;
        return err;
    case 'w':
        err = cli_number(cfg->cmd, "--wait", optarg, 0, 86400, &v);
        cfg->wait_ms = (int)v * 1000;
        return err;
    case 'r': return parse_rate(cfg, optarg);
    case 'v': cfg->verbose = true; return 0;
    case OPT_TRACE: cfg->opts.trace = &tracer->hook; return 0;
    }
    return cli_usage(cfg->cmd, "unknown option '%s'", optarg ? optarg : "?");
}

static int parse_args(int argc, char **argv, struct relay_config *cfg, struct cli_tracer *tracer)
{
    struct relay_args args = { cfg, tracer };
    int err = cli_parse_options(cfg->cmd, argc, argv, ":kt:w:r:vh", relay_options,
                                strcmp(cfg->cmd, "listen") == 0 ? listen_help : connect_help,
                                relay_options_help, parse_option, &args);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage(cfg->cmd, optind >= argc ? "missing ENDPOINT" : "too many arguments");
    cfg->ep_text = argv[optind];
    if ((err = cli_endpoint(cfg->cmd, cfg->ep_text, &cfg->ep)) != 0)
        return err;
    if (cfg->keep && (strcmp(cfg->cmd, "listen") != 0 || !sockit_endpoint_is_stream(&cfg->ep)))
        return cli_usage(cfg->cmd, "--keep-open needs 'listen' on a stream endpoint");
    if ((cfg->rate_bps | cfg->rate_pps) &&
        (strcmp(cfg->cmd, "connect") != 0 || sockit_endpoint_is_stream(&cfg->ep)))
        return cli_usage(cfg->cmd, "--rate paces datagrams: it needs 'connect' on a udp:// or "
                                   "unix-dgram: endpoint");
    return 0;
}

static void note(const struct relay_config *cfg, const char *what, const struct sockit_addr *a)
{
    char where[SOCKIT_ADDR_STRLEN + 16];

    if (!cfg->verbose)
        return;
    cli_format_addr(cfg->ep.transport, a, where, sizeof(where));
    fprintf(stderr, "sockit %s: %s %s\n", cfg->cmd, what, where);
}

/* What failed, in the words of the old relay: the socket side's reads and writes are recv
 * and send, stdin's and stdout's are named. */
static const char *failed_op(const struct sockit_relay_end *end)
{
    bool sock = end->side == SOCKIT_RELAY_A;

    if (strcmp(end->op, "read") == 0)
        return sock ? "recv" : "read stdin";
    if (strcmp(end->op, "write") == 0)
        return sock ? "send" : "write stdout";
    return strcmp(end->op, "stream") == 0 ? "relay" : end->op;
}

/* Remove the socket file while the socket still holds it (so that its inode number cannot
 * have gone to a file made since), and only if it is still the one listen made. */
static void remove_file(struct relay_run *run)
{
    sockit_socket_unlink_same(&run->cfg->ep, &run->file, run->cfg->opts.trace);
    run->file.valid = false;
}

static void stop_listening(struct relay_run *run)
{
    if (run->lfd < 0)
        return;
    remove_file(run);
    sockit_loop_unwatch(run->loop, run->lfd);
    sockit_socket_close(run->lfd, run->cfg->opts.trace);
    run->lfd = -1;
}

static void on_client(struct sockit_loop *loop, int lfd, unsigned events, void *data);

/* Accept clients, or (ON false) let them wait in the backlog while one is served. */
static void listen_for_client(struct relay_run *run, bool on)
{
    int err = sockit_loop_watch(run->loop, run->lfd, on ? SOCKIT_EV_READ : 0, on_client, run);

    if (err) {
        run->rc = cli_fail("listen", run->cfg->ep_text, err);
        stop_listening(run);
    }
}

/* With -v, what went each way; datagrams never sent, always: they are lost without a word
 * otherwise. The socket is side A, stdin/stdout side B. */
static void report_counts(const struct relay_config *cfg, const struct sockit_relay_stats *st)
{
    const char *cmd = cfg->cmd;

    if (cfg->verbose && sockit_endpoint_is_stream(&cfg->ep))
        fprintf(stderr, "sockit %s: sent %llu bytes, received %llu bytes\n", cmd,
                (unsigned long long)st->b_to_a, (unsigned long long)st->a_to_b);
    else if (cfg->verbose)
        fprintf(stderr,
                "sockit %s: sent %llu datagrams (%llu bytes), received %llu datagrams (%llu "
                "bytes)\n",
                cmd, (unsigned long long)st->dgrams_sent[SOCKIT_RELAY_A],
                (unsigned long long)st->b_to_a,
                (unsigned long long)st->dgrams_received[SOCKIT_RELAY_A],
                (unsigned long long)st->a_to_b);
    if (st->dgrams_dropped[SOCKIT_RELAY_A])
        fprintf(stderr,
                "sockit %s: %llu datagrams were not sent (refused by the kernel, or "
                "still queued at the end)\n",
                cmd, (unsigned long long)st->dgrams_dropped[SOCKIT_RELAY_A]);
}

static void on_relay_close(struct sockit_relay *r, const struct sockit_relay_end *end, void *ud)
{
    struct relay_run *run = ud;

    (void)r;
    run->relay = NULL;
    report_counts(run->cfg, &end->stats);
    if (end->err && end->err != -ECANCELED)
        run->rc = cli_fail(failed_op(end), run->cfg->ep_text, end->err);
    if (run->lfd >= 0)
        note(run->cfg, "closed", &run->peer);
    if (run->lfd >= 0 && run->cfg->keep && !run->stopping) {
        listen_for_client(run, true); /* the next one */
        return;
    }
    stop_listening(run);
    remove_file(run); /* datagrams: the relay had the socket (and closed it just now) */
}

static void on_relay_peer(struct sockit_relay *r, int side, const struct sockit_addr *peer,
                          void *ud)
{
    (void)r;
    (void)side;
    note(((struct relay_run *)ud)->cfg, "peer", peer);
}

static const struct sockit_relay_ops relay_ops = { .on_close = on_relay_close,
                                                   .on_peer = on_relay_peer };

/* Relay between socket FD (taken over) and stdin/stdout. The socket side's end ends it all
 * in two cases: a terminal on stdin (a person at the keyboard is done when the peer is), and
 * listen -k, whose stdin is shared by all the clients in turn and so cannot be waited for by
 * one of them. */
static int start_relay(struct relay_run *run, int fd)
{
    struct sockit_relay_side sock = { .kind = SOCKIT_RELAY_SOCKET,
                                      .fd = fd,
                                      .eof_ends = run->cfg->keep || isatty(STDIN_FILENO),
                                      .linger_ms = (unsigned)run->cfg->wait_ms,
                                      .rate_bps = run->cfg->rate_bps,
                                      .rate_pps = run->cfg->rate_pps };
    struct sockit_relay_side stdio = { .kind = SOCKIT_RELAY_FDS,
                                       .in_fd = STDIN_FILENO,
                                       .out_fd = STDOUT_FILENO };
    int err = sockit_relay_open(run->loop, &sock, &stdio, &relay_ops, run, NULL, &run->relay);

    return err ? cli_fail("relay", run->cfg->ep_text, err) : CLI_OK;
}

/* One client at a time: accept it (traced), then wait for the relay to end. */
static void on_client(struct sockit_loop *loop, int lfd, unsigned events, void *data)
{
    struct relay_run *run = data;
    int fd;

    (void)loop;
    (void)events;
    fd = sockit_socket_accept(lfd, &run->cfg->opts, &run->peer);
    if (fd == -EAGAIN)
        return;
    if (fd < 0) {
        run->rc = cli_fail("accept", run->cfg->ep_text, fd);
        stop_listening(run);
        return;
    }
    note(run->cfg, "connection from", &run->peer);
    listen_for_client(run, false);
    if (run->lfd < 0)
        sockit_socket_close(fd, run->cfg->opts.trace);
    else if ((run->rc = start_relay(run, fd)) != CLI_OK)
        stop_listening(run);
}

/* SIGINT/SIGTERM: close the relay and the listener; the loop ends when they are gone. */
static void on_stop(struct sockit_loop *loop, int signo, void *data)
{
    struct relay_run *run = data;

    (void)loop;
    (void)signo;
    run->stopping = true;
    remove_file(run);
    if (run->relay)
        sockit_relay_close(run->relay);
    stop_listening(run);
}

static int new_loop(struct relay_run *run)
{
    /* --trace: the loop reports its calls too (recv, send, shutdown, close, io_uring) */
    struct sockit_loop_options o = { .trace = run->cfg->opts.trace };
    int err = sockit_loop_new(&run->loop, &o);

    return err ? cli_fail("loop", NULL, err) : CLI_OK;
}

static int connect_main(const struct relay_config *cfg)
{
    struct relay_run run = { .cfg = cfg, .lfd = -1 };
    int fd = sockit_socket_connect(&cfg->ep, &cfg->opts, &run.peer);

    if (fd < 0)
        return cli_fail("connect", cfg->ep_text, fd);
    note(cfg, "connected to", &run.peer);
    if ((run.rc = new_loop(&run)) != CLI_OK) {
        sockit_socket_close(fd, cfg->opts.trace);
        return run.rc;
    }
    if ((run.rc = start_relay(&run, fd)) == CLI_OK)
        sockit_loop_run(run.loop);
    sockit_loop_free(run.loop);
    return run.rc;
}

/* Listen, and serve clients (stream endpoints) or the first sender (datagram endpoints)
 * until done or stopped by a signal. */
static int serve(struct relay_run *run)
{
    const struct relay_config *cfg = run->cfg;
    struct sockit_addr local;
    int fd = sockit_socket_listen(&cfg->ep, &cfg->opts, &local);

    if (fd < 0)
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "listen" : "bind", cfg->ep_text, fd);
    sockit_socket_file_id(&cfg->ep, &run->file);
    note(cfg, "listening on", &local);
    if (sockit_endpoint_is_stream(&cfg->ep)) {
        run->lfd = fd;
        listen_for_client(run, true);
    } else {
        run->rc = start_relay(run, fd);
    }
    if (run->rc == CLI_OK)
        sockit_loop_run(run->loop);
    return run->rc;
}

/* The signals are taken before the socket exists: a SIGTERM right after "listening on" must
 * find them handled. */
static int listen_main(const struct relay_config *cfg)
{
    struct relay_run run = { .cfg = cfg, .lfd = -1 };
    int err, rc = new_loop(&run);

    if (rc != CLI_OK)
        return rc;
    if ((err = sockit_loop_signal(run.loop, SIGINT, on_stop, &run)) == 0)
        err = sockit_loop_signal(run.loop, SIGTERM, on_stop, &run);
    rc = err ? cli_fail("signalfd", NULL, err) : serve(&run);
    stop_listening(&run);
    remove_file(&run);
    sockit_loop_free(run.loop);
    return rc;
}

static int relay_command(const char *cmd, int argc, char **argv)
{
    struct cli_tracer tracer;
    struct relay_config cfg = {
        .cmd = cmd,
        .opts = { .flags = SOCKIT_REUSEADDR | SOCKIT_NONBLOCK, .timeout_ms = 10000 },
        .wait_ms = 1000,
    };
    int rc;

    cli_tracer_init(&tracer, false);
    rc = parse_args(argc, argv, &cfg, &tracer);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (strcmp(cmd, "listen") == 0)
        return listen_main(&cfg);
    return connect_main(&cfg);
}

int cmd_connect(int argc, char **argv)
{
    return relay_command("connect", argc, argv);
}

int cmd_listen(int argc, char **argv)
{
    return relay_command("listen", argc, argv);
}
