/* sockit echo: parse the command line, open the socket, run the chosen server model. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "echo.h"

static const char echo_help[] =
    "Usage: sockit echo [OPTIONS] ENDPOINT\n"
    "Run an echo server on ENDPOINT: every byte (or datagram) a client sends comes back.\n"
    "Works on tcp://, udp://, unix: and unix-dgram: endpoints, IPv4 and IPv6.\n"
    "On ws://HOST:PORT[/PATH] it is a WebSocket (RFC 6455) echo on the loop model: each\n"
    "message comes back whole with its opcode (fragments reassembled), pings are answered,\n"
    "a close is answered with the same code, and every framing error is refused with its\n"
    "close code (1002, 1007, 1009). Only PATH is upgraded (any path if PATH is / or left\n"
    "out); a plain HTTP request gets 426. With --deflate it agrees to permessage-deflate\n"
    "(RFC 7692) when a client offers it. TCP_NODELAY is on, as in browsers and node's ws.\n\n"
    "Models (how clients are served):\n"
    "  iterative  one client at a time, backlog 3: the classic textbook server (default)\n"
    "  fork       a process per client (datagrams: --workers processes share the socket)\n"
    "  thread     a thread per client (datagrams: --workers threads share the socket)\n"
    "  loop       event loop (io_uring, epoll or poll), non-blocking sockets; --threads N\n"
    "             runs N loops on the same port (SO_REUSEPORT)\n\n"
    "Options:\n"
    "  -m, --model MODEL       iterative, fork, thread or loop\n"
    "  -b, --backlog N         listen() backlog (default: 3 for iterative, else SOMAXCONN)\n"
    "  -n, --clients N         exit after serving N clients (datagram endpoints: N datagrams)\n"
    "      --max-clients N     serve at most N clients at once (fork, thread, loop on\n"
    "                          stream endpoints; default 1024; the loop model counts\n"
    "                          them over all its threads). A client over the cap is\n"
    "                          closed at once: it reads end of stream, and the log says so\n"
    "  -w, --workers N         fork and thread models on datagram endpoints: workers\n"
    "                          sharing the socket (default 2)\n"
    "  -B, --backend NAME      loop model: uring, epoll, poll or auto (default: the best the\n"
    "                          kernel allows, with one notice when it falls back)\n"
    "      --uring-buffers L   loop model on io_uring: receive buffers laid out as\n"
    "                          'incremental' (64 KiB buffers shared by many reads, Linux\n"
    "                          6.12+), 'classic' (4 KiB, one per read) or 'auto' (default:\n"
    "                          incremental where the kernel has it; the environment\n"
    "                          variable SOCKIT_URING_BUFFERS sets the default)\n"
    "  -T, --threads N         loop model: event-loop threads (default 1)\n"
    "  -i, --idle-timeout SEC  close a client that sends nothing, or reads nothing, for SEC\n"
    "                          seconds (default 0: never; stream endpoints)\n"
    "  -r, --reply TEXT        answer each message with TEXT instead of echoing it\n"
    "  -s, --show              print what clients send on stdout (if stdout goes away,\n"
    "                          the server says so once and keeps serving)\n"
    "  -q, --quiet             no per-client log lines on stderr\n"
    "      --reuseport         set SO_REUSEPORT (several servers share the port)\n"
    "      --v6only            an IPv6 wildcard takes IPv6 only (default: IPv4 too;\n"
    "                          IPv6 endpoints only)\n"
    "      --nodelay           set TCP_NODELAY on client sockets (TCP only)\n"
    "      --deflate           ws:// only: agree to permessage-deflate (RFC 7692), so that\n"
    "                          messages travel compressed both ways; each connection\n"
    "                          holds up to ~300 KiB of zlib state while it lasts\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n\n"
    "Stops cleanly on SIGINT or SIGTERM (exit 0). Exit 1 if the socket cannot be opened\n"
    "(e.g. address in use), 2 for a usage error: an option that the model or the endpoint\n"
    "would ignore (--workers on a stream endpoint, --max-clients with the iterative model or\n"
    "on datagrams, --idle-timeout on datagrams, --v6only with an IPv4 address, --nodelay off\n"
    "TCP, --deflate off ws://) is one too.\n\n"
    "Examples:\n"
    "  sockit echo tcp://:8080                       the article's iterative server\n"
    "  sockit echo tcp://:8080 --reply 'Hello from server' --show\n"
    "  sockit echo tcp://[::1]:7000 --model loop\n"
    "  sockit echo udp://127.0.0.1:9000 --model thread --workers 4\n"
    "  sockit echo unix:/tmp/echo.sock --model fork --trace\n"
    "  sockit echo ws://127.0.0.1:9001/echo           WebSocket echo (test: sockit ws)\n"
    "  sockit echo ws://127.0.0.1:9001/ --deflate     ... messages compressed (RFC 7692)\n";

enum {
    OPT_MAX_CLIENTS = 256,
    OPT_REUSEPORT,
    OPT_V6ONLY,
    OPT_NODELAY,
    OPT_TRACE,
    OPT_URING_BUFFERS,
    OPT_DEFLATE
};

static int parse_uring_buffers(const char *text, enum sockit_uring_buffers *out)
{
    if (sockit_uring_buffers_parse(text, out) < 0)
        return cli_usage(
            "echo", "unknown io_uring buffer layout '%s' (auto, incremental or classic)", text);
    return 0;
}

static const struct option echo_options[] = {
    { "model", required_argument, NULL, 'm' },
    { "backlog", required_argument, NULL, 'b' },
    { "clients", required_argument, NULL, 'n' },
    { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
    { "workers", required_argument, NULL, 'w' },
    { "backend", required_argument, NULL, 'B' },
    { "threads", required_argument, NULL, 'T' },
    { "uring-buffers", required_argument, NULL, OPT_URING_BUFFERS },
    { "idle-timeout", required_argument, NULL, 'i' },
    { "reply", required_argument, NULL, 'r' },
    { "show", no_argument, NULL, 's' },
    { "quiet", no_argument, NULL, 'q' },
    { "reuseport", no_argument, NULL, OPT_REUSEPORT },
    { "v6only", no_argument, NULL, OPT_V6ONLY },
    { "nodelay", no_argument, NULL, OPT_NODELAY },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "deflate", no_argument, NULL, OPT_DEFLATE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int parse_model(const char *text, enum echo_model *model)
{
    if (echo_model_parse(text, model) < 0)
        return cli_usage("echo", "unknown model '%s' (iterative, fork, thread or loop)", text);
    return 0;
}

/* Options whose default cannot tell whether they were given. */
enum {
    GIVEN_WORKERS = 1u << 0,
    GIVEN_MAX_CLIENTS = 1u << 1,
    GIVEN_IDLE = 1u << 2,
    GIVEN_MODEL = 1u << 3
};

struct echo_args {
    struct echo_config *cfg;
    struct cli_tracer *tracer;
    unsigned given; /* GIVEN_* */
};

static int parse_option(int c, void *ctx)
{
    struct echo_config *cfg = ((struct echo_args *)ctx)->cfg;
    struct cli_tracer *tracer = ((struct echo_args *)ctx)->tracer;
    unsigned *given = &((struct echo_args *)ctx)->given;
    unsigned long v;
    int err = 0;

    switch (c) {
    case 'm': *given |= GIVEN_MODEL; return parse_model(optarg, &cfg->model);
    case 'b':
        err = cli_number("echo", "--backlog", optarg, 1, 65535, &v);
        cfg->opts.backlog = (int)v;
        return err;
    case 'n': return cli_number("echo", "--clients", optarg, 1, 1ul << 40, &cfg->clients);
    case OPT_MAX_CLIENTS:
        *given |= GIVEN_MAX_CLIENTS;
        return cli_number("echo", "--max-clients", optarg, 1, 1000000, &cfg->max_clients);
    case 'w':
        *given |= GIVEN_WORKERS;
        return cli_number("echo", "--workers", optarg, 1, 256, &cfg->workers);
    case 'B': return cli_backend("echo", optarg, &cfg->loop.backend);
    case OPT_URING_BUFFERS: return parse_uring_buffers(optarg, &cfg->loop.uring_buffers);
    case 'T': return cli_number("echo", "--threads", optarg, 1, 256, &cfg->threads);
    case 'i':
        *given |= GIVEN_IDLE;
        err = cli_number("echo", "--idle-timeout", optarg, 0, 86400, &v);
        cfg->idle_ms = v * 1000;
        return err;
    case 'r':
        cfg->reply = optarg;
        cfg->reply_len = strlen(optarg);
        return 0;
    case 's': cfg->show = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_REUSEPORT: cfg->opts.flags |= SOCKIT_REUSEPORT; return 0;
    case OPT_V6ONLY: cfg->opts.flags |= SOCKIT_V6ONLY; return 0;
    case OPT_NODELAY: cfg->opts.flags |= SOCKIT_NODELAY; return 0;
    case OPT_DEFLATE: cfg->deflate = true; return 0;
    case OPT_TRACE:
        cfg->opts.trace = &tracer->hook;
        cfg->loop.trace = &tracer->hook; /* the loop model: accept, recv, send, io_uring */
        return 0;
    }
    return cli_usage("echo", "unknown option");
}

/* The model's part of an option that a model or an endpoint would ignore: a usage error
 * naming it and why, instead of a server that runs without it. */
static int check_workers(const struct echo_config *cfg, bool stream)
{
    if (stream)
        return cli_usage("echo", "--workers: for datagram endpoints; a stream endpoint gets a "
                                 "process or thread per client");
    if (cfg->model == ECHO_ITERATIVE)
        return cli_usage("echo", "--workers: for the fork and thread models; the iterative "
                                 "model is one worker");
    if (cfg->model == ECHO_LOOP)
        return cli_usage("echo", "--workers: for the fork and thread models; the loop model "
                                 "takes --threads");
    return 0;
}

static int check_fit(const struct echo_config *cfg, unsigned given)
{
    bool stream = sockit_endpoint_is_stream(&cfg->ep);
    int err = (given & GIVEN_WORKERS) ? check_workers(cfg, stream) : 0;

    if (err)
        return err;
    if ((given & GIVEN_MAX_CLIENTS) && cfg->model == ECHO_ITERATIVE)
        return cli_usage("echo", "--max-clients: the iterative model serves one client at a time");
    if ((given & GIVEN_MAX_CLIENTS) && !stream)
        return cli_usage("echo", "--max-clients: datagram endpoints have no clients to count");
    if ((given & GIVEN_IDLE) && !stream)
        return cli_usage("echo", "--idle-timeout: datagram endpoints have no connection to "
                                 "time out");
    return cli_sockopts_fit("echo", &cfg->ep, cfg->opts.flags);
}

/* A ws:// endpoint: its TCP address, and the path alone (the query is not matched). */
static int parse_ws(struct echo_config *cfg)
{
    int err = cli_ws_url("echo", cfg->ep_text, &cfg->ep, cfg->ws_path, sizeof(cfg->ws_path));

    if (err)
        return err;
    cfg->ws_path[strcspn(cfg->ws_path, "?")] = '\0';
    cfg->opts.flags |= SOCKIT_NODELAY; /* messages, not a byte stream: as node's ws does */
    return 0;
}

static int parse_args(int argc, char **argv, struct echo_config *cfg, struct cli_tracer *tracer)
{
    struct echo_args args = { cfg, tracer, 0 };
    const char *env = getenv("SOCKIT_URING_BUFFERS");
    int err = env ? parse_uring_buffers(env, &cfg->loop.uring_buffers) : 0;

    if (err)
        return err;
    err = cli_parse_options("echo", argc, argv, ":m:b:n:w:B:T:i:r:sqh", echo_options, echo_help,
                            NULL, parse_option, &args);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage("echo", optind >= argc ? "missing ENDPOINT" : "too many arguments");
    cfg->ep_text = argv[optind];
    if (strncmp(cfg->ep_text, "ws://", 5) == 0 || strncmp(cfg->ep_text, "wss://", 6) == 0) {
        if ((args.given & GIVEN_MODEL) && cfg->model != ECHO_LOOP)
            return cli_usage("echo", "ws:// runs on the loop model");
        cfg->model = ECHO_LOOP;
        cfg->ws = true;
    }
    if (cfg->deflate && !cfg->ws)
        return cli_usage("echo", "--deflate: WebSocket compression, for ws:// endpoints");
    if (cfg->model != ECHO_LOOP && (cfg->threads != 1 || cfg->loop.backend != SOCKIT_BACKEND_AUTO))
        return cli_usage("echo", "--threads and --backend belong to the loop model");
    err = cfg->ws ? parse_ws(cfg) : cli_endpoint("echo", cfg->ep_text, &cfg->ep);
    return err ? err : check_fit(cfg, args.given);
}

/* The chosen model on CFG's endpoint. */
static int run(const struct echo_config *cfg)
{
    struct echo_server srv;
    int rc;

    if (cfg->ws)
        return echo_run_ws(cfg);
    if (cfg->model == ECHO_LOOP)
        return echo_run_loop(cfg); /* the server opens its sockets, one per thread */
    rc = echo_open(&srv, cfg);
    if (rc != 0)
        return rc;
    rc = echo_run_classic(&srv);
    echo_close(&srv);
    return rc;
}

/* --show's "stdout failed" flag, in a page that the fork model's children share with the
 * parent, so that the failure is reported once per server. */
static int run_with_show(struct echo_config *cfg)
{
    _Atomic bool *lost =
        mmap(NULL, sizeof(*lost), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int rc;

    if (lost == MAP_FAILED)
        return cli_fail("mmap", NULL, -errno);
    atomic_init(lost, false);
    cfg->show_lost = lost;
    rc = run(cfg);
    munmap((void *)lost, sizeof(*lost));
    return rc;
}

int cmd_echo(int argc, char **argv)
{
    struct cli_tracer tracer;
    struct echo_config cfg = {
        .model = ECHO_ITERATIVE,
        .opts = { .flags = SOCKIT_REUSEADDR },
        .max_clients = 1024,
        .workers = 2,
        .threads = 1,
    };
    int rc = parse_args(argc, argv, &cfg, &tracer);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    cli_tracer_init(&tracer, cfg.model == ECHO_FORK);
    if (cfg.opts.backlog == 0 && cfg.model == ECHO_ITERATIVE)
        cfg.opts.backlog = 3; /* the article's listen(fd, 3) */
    /* Every model waits in poll() (on the socket and the stop signals), so the socket is
     * non-blocking: a client that vanishes between poll and accept cannot hang us. */
    cfg.opts.flags |= SOCKIT_NONBLOCK;
    /* A stdout or stderr whose reader went away must not kill a server: writes to it fail
     * with EPIPE instead (--show checks them). Sockets never raise it (MSG_NOSIGNAL). */
    signal(SIGPIPE, SIG_IGN);
    return cfg.show ? run_with_show(&cfg) : run(&cfg);
}
