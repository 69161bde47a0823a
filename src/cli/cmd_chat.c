/* sockit chat: a WebSocket chat with its own web page, the library's chat (sockit/chat.h) on
 * the server layer. This file parses options, prints the log, the live line and the summary. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_page.h"
#include "cli.h"
#include "sockit/chat.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/ws_server.h"

static const char chat_help[] =
    "Usage: sockit chat [OPTIONS]\n"
    "A chat over WebSocket (RFC 6455) with its own web page: open http://HOST:PORT/ROOM in a\n"
    "browser, pick a nickname, and talk with everyone in ROOM (any path of letters, digits\n"
    "and . _ - /). A newcomer gets who is there and the last messages; joins and leaves are\n"
    "announced. Each message is built once and shared by every member's queue. Strict with\n"
    "clients: a nickname is unique in its room, a message has a size limit and a rate limit\n"
    "(over them: an error message, nothing else), and a client that does not read what the\n"
    "room sends is closed (1008) instead of slowing the room. The protocol (JSON text\n"
    "messages) is in docs/chat-protocol.md; `sockit ws ws://HOST:PORT/ROOM` speaks it too.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ENDPOINT   where to listen (default tcp://:8080)\n"
    "      --history N         messages a newcomer gets (default 50, at most 1000)\n"
    "      --max-text BYTES    longest message text (default 4096)\n"
    "      --rate N            messages per second a client may send (default 10, bursts\n"
    "                          of twice that)\n"
    "      --max-queue KIB     unsent output a client may hold before it is closed with\n"
    "                          1008 (default 256)\n"
    "      --ping SEC          ping a client silent this long (default 30)\n"
    "  -i, --idle-timeout SEC  close a client silent this long, with 1001 (default 120)\n"
    "      --allow-origin ORIGIN\n"
    "                          accept WebSocket upgrades only from pages of ORIGIN (e.g.\n"
    "                          http://localhost:8080; repeat for several); others get 403.\n"
    "                          Default: any origin\n"
    "      --max-clients N     connections at once (default 10000)\n"
    "      --redis URL         share the rooms with every other sockit chat using this Redis\n"
    "                          (redis://HOST[:PORT][/DB] or unix:/PATH[?db=N]): each\n"
    "                          message is published once and reaches the members of every\n"
    "                          node once. The password, if any, comes from the environment\n"
    "                          variable SOCKIT_REDIS_PASSWORD, never the command line. Redis\n"
    "                          unreachable at start: exit 1; lost later: this node serves\n"
    "                          its members, reconnects with back-off, and a message said\n"
    "                          meanwhile gets the error not-relayed\n"
    "  -B, --backend NAME      uring, epoll, poll or auto (default: the best the kernel allows)\n"
    "      --json              at exit, print the counts as one JSON object on stdout\n"
    "  -q, --quiet             no log, live line or summary on stderr\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n"
    "\n"
    "On a terminal, a line on stderr tells each second the clients, rooms, messages and\n"
    "deliveries per second. Stops on SIGINT or SIGTERM (exit 0). Exit 1 if the socket cannot\n"
    "be opened, 2 for a usage error.\n"
    "\n"
    "Examples:\n"
    "  sockit chat                                   then open http://localhost:8080/lobby\n"
    "  sockit chat -l tcp://127.0.0.1:9000 --allow-origin http://127.0.0.1:9000\n"
    "  echo '{\"type\":\"join\",\"nick\":\"bot\"}' | sockit ws ws://localhost:8080/lobby\n";

#define MAX_ORIGINS 16

enum {
    OPT_HISTORY = 256,
    OPT_MAX_TEXT,
    OPT_RATE,
    OPT_MAX_QUEUE,
    OPT_PING,
    OPT_ORIGIN,
    OPT_MAX_CLIENTS,
    OPT_REDIS,
    OPT_JSON,
    OPT_TRACE,
};

static const struct option chat_options[] = {
    { "listen", required_argument, NULL, 'l' },
    { "history", required_argument, NULL, OPT_HISTORY },
    { "max-text", required_argument, NULL, OPT_MAX_TEXT },
    { "rate", required_argument, NULL, OPT_RATE },
    { "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
    { "ping", required_argument, NULL, OPT_PING },
    { "idle-timeout", required_argument, NULL, 'i' },
    { "allow-origin", required_argument, NULL, OPT_ORIGIN },
    { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
    { "redis", required_argument, NULL, OPT_REDIS },
    { "backend", required_argument, NULL, 'B' },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct chat_config {
    const char *ep_text;
    struct sockit_server_options server;
    struct sockit_chat_options chat;
    const char *origins[MAX_ORIGINS + 1];
    size_t norigins;
    struct cli_tracer tracer;
    struct sockit_server *srv;  /* while serving */
    struct sockit_chat *served; /* while serving */
    pthread_t stats;
    bool stats_running;
    _Atomic bool stopping;
    bool json, quiet, tty; /* tty: stderr is a terminal (the live line) */
    const char *redis_text;
    struct sockit_chat_redis redis; /* when redis_text */
};

static int parse_option(int c, void *ctx)
{
    struct chat_config *cfg = ctx;
    struct sockit_chat_options *o = &cfg->chat;
    unsigned long n;
    int err;

    switch (c) {
    case 'l': cfg->ep_text = optarg; return 0;
    case OPT_HISTORY:
        if (!(err = cli_number("chat", "--history", optarg, 1, 1000, &n)))
            o->history = n;
        return err;
    case OPT_MAX_TEXT:
        if (!(err = cli_number("chat", "--max-text", optarg, 1, 1u << 20, &n)))
            o->max_text = n;
        return err;
    case OPT_RATE:
        if (!(err = cli_number("chat", "--rate", optarg, 1, 100000, &n)))
            o->rate = (unsigned)n;
        return err;
    case OPT_MAX_QUEUE:
        if (!(err = cli_number("chat", "--max-queue", optarg, 16, 1u << 20, &n)))
            o->max_queue = n * 1024;
        return err;
    case OPT_PING:
        if (!(err = cli_number("chat", "--ping", optarg, 1, 86400, &n)))
            o->ping_ms = n * 1000;
        return err;
    case 'i':
        if (!(err = cli_number("chat", "--idle-timeout", optarg, 1, 86400, &n)))
            o->idle_ms = n * 1000;
        return err;
    case OPT_ORIGIN:
        if (cfg->norigins == MAX_ORIGINS)
            return cli_usage("chat", "--allow-origin: at most %d", MAX_ORIGINS);
        cfg->origins[cfg->norigins++] = optarg;
        o->origins = cfg->origins;
        return 0;
    case OPT_MAX_CLIENTS:
        if (!(err = cli_number("chat", "--max-clients", optarg, 1, 1000000, &n)))
            cfg->server.max_clients = n;
        return err;
    case OPT_REDIS: {
        const char *why;
        cfg->redis_text = optarg;
        if (sockit_chat_redis_parse(optarg, &cfg->redis, &why) < 0)
            return cli_usage("chat", "--redis '%s': %s", optarg, why);
        return 0;
    }
    case 'B': return cli_backend("chat", optarg, &cfg->server.loop.backend);
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE:
        cfg->server.sockopts.trace = &cfg->tracer.hook;
        cfg->server.loop.trace = &cfg->tracer.hook;
        return 0;
    }
    return cli_usage("chat", "unknown option");
}

static int parse_args(int argc, char **argv, struct chat_config *cfg)
{
    int err = cli_parse_options("chat", argc, argv, ":l:i:B:qh", chat_options, chat_help, NULL,
                                parse_option, cfg);

    if (err)
        return err;
    if (optind != argc)
        return cli_usage("chat", "unexpected argument '%s'", argv[optind]);
    if ((err = cli_endpoint("chat", cfg->ep_text, &cfg->server.endpoint)) != 0)
        return err;
    if (!sockit_endpoint_is_stream(&cfg->server.endpoint))
        return cli_usage("chat", "'%s' is not a stream endpoint (tcp:// or unix:)", cfg->ep_text);
    return 0;
}

/* ---- output ----------------------------------------------------------------------------- */

static void on_log(const char *line, void *ud)
{
    struct chat_config *cfg = ud;

    if (!cfg->quiet)
        fprintf(stderr, "%ssockit chat: %s\n", cfg->tty ? "\r\033[K" : "", line);
}

/* Once a second, on stderr: clients, rooms, messages and deliveries per second, drops. */
static void *stats_main(void *arg)
{
    struct chat_config *cfg = arg;
    struct sockit_chat_stats prev = { 0 }, now;

    while (!cfg->stopping) {
        sleep(1);
        sockit_chat_stats(cfg->served, &now);
        fprintf(stderr,
                "\r\033[Ksockit chat: %llu clients in %llu rooms, %llu msg/s, %llu deliveries/s,"
                " %llu refused, %llu dropped (slow)",
                (unsigned long long)now.clients, (unsigned long long)now.rooms,
                (unsigned long long)(now.messages - prev.messages),
                (unsigned long long)(now.deliveries - prev.deliveries),
                (unsigned long long)now.refused, (unsigned long long)now.dropped_slow);
        prev = now;
    }
    fputs("\r\033[K", stderr);
    return NULL;
}

static void on_listening(struct sockit_server *srv, void *ud)
{
    struct chat_config *cfg = sockit_chat_user_data(sockit_chat_of(ud));
    struct sockit_server_info info;
    char where[256];

    cfg->srv = srv;
    if (cfg->quiet)
        return;
    sockit_server_info(srv, &info);
    cli_format_addr(cfg->server.endpoint.transport, &info.local, where, sizeof(where));
    fprintf(stderr,
            "sockit chat: listening on %s (%s backend); the page of a room is at "
            "http://HOST:PORT/ROOM\n",
            where, info.backend);
    if (cfg->tty)
        cfg->stats_running = pthread_create(&cfg->stats, NULL, stats_main, cfg) == 0;
}

/* The chat's one loop thread starts: its rooms go through Redis from now on. */
static void on_thread_start(struct sockit_server *srv, unsigned thread, struct sockit_loop *loop,
                            void *ud)
{
    struct sockit_chat *chat = sockit_chat_of(ud);
    struct chat_config *cfg = sockit_chat_user_data(chat);

    (void)srv, (void)thread;
    if (cfg->redis_text && sockit_chat_redis_attach(chat, loop, &cfg->redis) < 0)
        on_log("redis: out of memory: serving this node's members only", cfg);
}

static void on_thread_stop(struct sockit_server *srv, unsigned thread, struct sockit_loop *loop,
                           void *ud)
{
    (void)srv, (void)thread, (void)loop;
    sockit_chat_redis_detach(sockit_chat_of(ud));
}

static void summary(const struct chat_config *cfg, const struct sockit_chat *chat)
{
    struct sockit_chat_stats st;

    sockit_chat_stats(chat, &st);
    if (cfg->json)
        printf("{\"joined\":%llu,\"messages\":%llu,\"deliveries\":%llu,\"refused\":%llu,"
               "\"dropped_slow\":%llu,\"relayed_out\":%llu,\"relayed_in\":%llu,"
               "\"not_relayed\":%llu}\n",
               (unsigned long long)st.joined, (unsigned long long)st.messages,
               (unsigned long long)st.deliveries, (unsigned long long)st.refused,
               (unsigned long long)st.dropped_slow, (unsigned long long)st.relayed_out,
               (unsigned long long)st.relayed_in, (unsigned long long)st.not_relayed);
    if (!cfg->quiet)
        fprintf(stderr,
                "sockit chat: stopped: %llu joined, %llu messages, %llu deliveries, %llu refused, "
                "%llu dropped (slow)\n",
                (unsigned long long)st.joined, (unsigned long long)st.messages,
                (unsigned long long)st.deliveries, (unsigned long long)st.refused,
                (unsigned long long)st.dropped_slow);
}

/* ---- running ---------------------------------------------------------------------------- */

static int serve(struct chat_config *cfg, struct sockit_chat *chat)
{
    struct sockit_server_handler h;
    struct sockit_server *srv;
    void *ud = sockit_chat_handler(chat, &h);
    int err;

    h.on_listening = on_listening;
    h.on_thread_start = on_thread_start;
    h.on_thread_stop = on_thread_stop;
    cfg->server.full_reply = sockit_ws_busy_reply; /* a client over --max-clients reads why */
    cfg->server.full_reply_len = strlen(sockit_ws_busy_reply);
    cfg->served = chat;
    if ((err = sockit_server_new(&srv, &cfg->server, &h, ud)) < 0)
        return cli_fail("start event loop", NULL, err);
    err = sockit_server_run(srv);
    if (cfg->stats_running) {
        cfg->stopping = true;
        pthread_join(cfg->stats, NULL);
    }
    sockit_server_free(srv);
    if (err)
        return cli_fail("listen", cfg->ep_text, err);
    summary(cfg, chat);
    return CLI_OK;
}

int cmd_chat(int argc, char **argv)
{
    struct chat_config cfg = {
        .ep_text = "tcp://:8080",
        .server = { .threads = 1,
                    .max_clients = 10000,
                    .handle_signals = true,
                    .sockopts = { .flags = SOCKIT_REUSEADDR | SOCKIT_NODELAY } },
    };
    struct sockit_chat *chat;
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    cfg.tty = isatty(STDERR_FILENO);
    cfg.chat.page = chat_page;
    cfg.chat.page_len = chat_page_len;
    cfg.chat.on_log = on_log;
    cfg.chat.ud = &cfg;
    if (cfg.redis_text) { /* unreachable at start: one clear error, before serving anyone */
        char why[256];
        cfg.redis.password = getenv("SOCKIT_REDIS_PASSWORD");
        if (sockit_chat_redis_check(&cfg.redis, 3000, why, sizeof(why)) < 0) {
            fprintf(stderr, "sockit: connect %s: %s\n", cfg.redis_text, why);
            return CLI_FAIL;
        }
    }
    if ((err = sockit_chat_new(&chat, &cfg.chat)) < 0)
        return cli_fail("start chat", NULL, err);
    rc = serve(&cfg, chat);
    sockit_chat_free(chat);
    return rc;
}
