/* sockit http: serve a folder over HTTP/1.1 with the library's file server
 * (sockit/http_files.h) on the server layer. This file parses options, writes the access log
 * and the summary. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/error.h"
#include "sockit/http_files.h"
#include "sockit/server.h"

static const char http_help[] =
    "Usage: sockit http [OPTIONS] [DIR]\n"
    "Serve the files under DIR (default: the current directory) over HTTP/1.1: GET and\n"
    "HEAD, index.html or a sorted listing for a folder, ETag and Last-Modified with\n"
    "conditional requests (304), keep-alive and pipelining, large files with sendfile.\n"
    "Strict on requests: a malformed or ambiguous head (bare LF, folded or duplicate\n"
    "framing fields, Content-Length with Transfer-Encoding...) is answered with its status\n"
    "(400, 414, 431, 501, 505) and the connection closed. Nothing outside DIR is served:\n"
    "no '..', no encoded slash or NUL, no symlink leading out (see --follow-symlinks), no\n"
    "name starting with '.' (see --hidden); only regular files and folders.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ENDPOINT   where to listen (default tcp://:8080; tcp:// or unix:)\n"
    "  -T, --threads N         event-loop threads on the same port (default 1)\n"
    "      --max-clients N     connections at once over all threads (default 1024); one\n"
    "                          more is answered 503 and closed at once\n"
    "  -i, --idle-timeout SEC  close a connection that sends nothing for SEC seconds\n"
    "                          (default 60; 0: never)\n"
    "      --header-timeout SEC  a request head not whole SEC seconds after its first byte\n"
    "                          is answered 408 and the connection closed (default 10):\n"
    "                          slow clients cannot hold connections (slowloris)\n"
    "      --body-timeout SEC  a request body (read and discarded) still arriving SEC\n"
    "                          seconds after its head, at under 1 KiB/s, closes the\n"
    "                          connection (default 10)\n"
    "      --hidden            serve names starting with '.' (default: 404)\n"
    "      --follow-symlinks   follow symlinks that lead out of DIR (default: 404)\n"
    "      --no-listing        a folder without index.html is 403, not a listing\n"
    "      --access-log FILE   one line per request in the combined log format ('-':\n"
    "                          stdout)\n"
    "  -B, --backend NAME      uring, epoll, poll or auto (default: the best the kernel allows)\n"
    "      --json              at exit, print the counts as one JSON object on stdout\n"
    "  -q, --quiet             no start, stop and live statistics lines on stderr\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n"
    "\n"
    "On a terminal, a line on stderr tells each second the connections, requests and bytes\n"
    "per second and the answers by class.\n"
    "Stops on SIGINT or SIGTERM (exit 0): no new connection is taken, answers in flight are\n"
    "finished (for up to 10 s), idle connections closed. Exit 1 if DIR cannot be opened or\n"
    "the socket cannot be, 2 for a usage error.\n"
    "\n"
    "Examples:\n"
    "  sockit http                                  the current folder on port 8080\n"
    "  sockit http ~/site -l tcp://127.0.0.1:8000 --access-log -\n"
    "  sockit http /srv/www -T 2 --max-clients 10000\n";

enum {
    OPT_MAX_CLIENTS = 256,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_HIDDEN,
    OPT_FOLLOW,
    OPT_NO_LISTING,
    OPT_ACCESS_LOG,
    OPT_JSON,
    OPT_TRACE,
};

static const struct option http_options[] = {
    { "listen", required_argument, NULL, 'l' },
    { "threads", required_argument, NULL, 'T' },
    { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
    { "idle-timeout", required_argument, NULL, 'i' },
    { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
    { "body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT },
    { "hidden", no_argument, NULL, OPT_HIDDEN },
    { "follow-symlinks", no_argument, NULL, OPT_FOLLOW },
    { "no-listing", no_argument, NULL, OPT_NO_LISTING },
    { "access-log", required_argument, NULL, OPT_ACCESS_LOG },
    { "backend", required_argument, NULL, 'B' },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct http_config {
    const char *ep_text, *dir, *log_path;
    struct sockit_server *srv;        /* while serving */
    struct sockit_http_files *served; /* while serving */
    pthread_t stats;                  /* the live line's thread, when stderr is a terminal */
    bool stats_running;
    _Atomic bool stopping;
    struct sockit_server_options server;
    struct sockit_http_files_options files;
    struct cli_tracer tracer;
    FILE *log;
    bool json, quiet;
};

static int parse_option(int c, void *ctx)
{
    struct http_config *cfg = ctx;
    unsigned long n;
    int err = 0;

    switch (c) {
    case 'l': cfg->ep_text = optarg; return 0;
    case 'T':
        if (!(err = cli_number("http", "--threads", optarg, 1, SOCKIT_SERVER_MAX_THREADS, &n)))
            cfg->server.threads = (unsigned)n;
        return err;
    case OPT_MAX_CLIENTS:
        if (!(err = cli_number("http", "--max-clients", optarg, 1, 1000000, &n)))
            cfg->server.max_clients = n;
        return err;
    case 'i':
        if (!(err = cli_number("http", "--idle-timeout", optarg, 0, 86400, &n)))
            cfg->server.idle_ms = n * 1000;
        return err;
    case OPT_HEADER_TIMEOUT:
        if (!(err = cli_number("http", "--header-timeout", optarg, 1, 3600, &n)))
            cfg->files.header_timeout_ms = n * 1000;
        return err;
    case OPT_BODY_TIMEOUT:
        if (!(err = cli_number("http", "--body-timeout", optarg, 1, 3600, &n)))
            cfg->files.body_timeout_ms = n * 1000;
        return err;
    case OPT_HIDDEN: cfg->files.hidden = true; return 0;
    case OPT_FOLLOW: cfg->files.follow_symlinks = true; return 0;
    case OPT_NO_LISTING: cfg->files.no_listing = true; return 0;
    case OPT_ACCESS_LOG: cfg->log_path = optarg; return 0;
    case 'B': return cli_backend("http", optarg, &cfg->server.loop.backend);
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE:
        cfg->server.sockopts.trace = &cfg->tracer.hook;
        cfg->server.loop.trace = &cfg->tracer.hook;
        return 0;
    }
    return cli_usage("http", "unknown option");
}

static int parse_args(int argc, char **argv, struct http_config *cfg)
{
    int err = cli_parse_options("http", argc, argv, ":l:T:i:B:qh", http_options, http_help, NULL,
                                parse_option, cfg);

    if (err)
        return err;
    if (argc - optind > 1)
        return cli_usage("http", "too many arguments: one DIR is served");
    if (argc - optind == 1)
        cfg->dir = argv[optind];
    if ((err = cli_endpoint("http", cfg->ep_text, &cfg->server.endpoint)) != 0)
        return err;
    if (!sockit_endpoint_is_stream(&cfg->server.endpoint))
        return cli_usage("http", "'%s' is not a stream endpoint (tcp:// or unix:)", cfg->ep_text);
    return 0;
}

/* ---- the access log --------------------------------------------------------------------- */

/* S in a log field: '"', '\\' and bytes outside printable ASCII as \xHH (as nginx does), so
 * no client can forge a line. */
static void log_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            fprintf(f, "\\x%02X", c);
        else
            fputc(c, f);
    }
}

/* The client's address without its port (combined log's %h); "unix" for a unix peer. */
static void peer_host(const struct sockit_addr *a, char *out, size_t size)
{
    if (a->u.sa.sa_family != AF_INET && a->u.sa.sa_family != AF_INET6)
        snprintf(out, size, "unix");
    else if (getnameinfo(&a->u.sa, a->len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST))
        snprintf(out, size, "-");
}

/* The request line, or "-" for a head that could not be read. */
static void log_request(FILE *f, const struct sockit_http_access *a)
{
    if (strcmp(a->method, "-") == 0) {
        fputc('-', f);
        return;
    }
    log_escaped(f, a->method);
    fputc(' ', f);
    log_escaped(f, a->target);
    fprintf(f, " %s", a->version);
}

static void on_access(const struct sockit_http_access *a, void *ud)
{
    struct http_config *cfg = ud;
    char peer[NI_MAXHOST], when[64];
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
    peer_host(a->peer, peer, sizeof(peer));
    flockfile(cfg->log); /* one line at a time from several loop threads */
    fprintf(cfg->log, "%s - - [%s] \"", peer, when);
    log_request(cfg->log, a);
    fprintf(cfg->log, "\" %d ", a->status);
    if (a->bytes)
        fprintf(cfg->log, "%llu \"", (unsigned long long)a->bytes);
    else
        fputs("- \"", cfg->log);
    log_escaped(cfg->log, a->referer);
    fputs("\" \"", cfg->log);
    log_escaped(cfg->log, a->agent);
    fputs("\"\n", cfg->log);
    fflush(cfg->log);
    funlockfile(cfg->log);
}

/* ---- live statistics on a terminal -------------------------------------------------------- */

/* Once a second, on stderr: connections now, requests and bytes per second, answers by class. */
static void *stats_main(void *arg)
{
    struct http_config *cfg = arg;
    struct sockit_http_files_stats prev = { 0 }, now;
    struct sockit_server_stats srv;

    while (!cfg->stopping) {
        sleep(1);
        sockit_http_files_stats(cfg->served, &now);
        sockit_server_stats(cfg->srv, &srv);
        fprintf(stderr,
                "\r\033[Ksockit http: %llu connections, %llu req/s, %.2f MB/s, "
                "2xx %llu 3xx %llu 4xx %llu 5xx %llu",
                (unsigned long long)srv.live, (unsigned long long)(now.requests - prev.requests),
                (double)(now.bytes - prev.bytes) / 1e6, (unsigned long long)now.status[2],
                (unsigned long long)now.status[3], (unsigned long long)now.status[4],
                (unsigned long long)now.status[5]);
        prev = now;
    }
    fputs("\r\033[K", stderr);
    return NULL;
}

/* The live line runs in a thread of its own, started once the server listens (the stop
 * signals are blocked by then, so they still reach the server), and only on a terminal: a
 * second thread makes glibc's system calls dearer for the whole process. */
static void stats_start(struct http_config *cfg)
{
    if (cfg->quiet || cfg->log == stdout || !isatty(STDERR_FILENO))
        return;
    cfg->stats_running = pthread_create(&cfg->stats, NULL, stats_main, cfg) == 0;
}

static void stats_stop(struct http_config *cfg)
{
    if (!cfg->stats_running)
        return;
    cfg->stopping = true;
    pthread_join(cfg->stats, NULL);
}

/* ---- running ---------------------------------------------------------------------------- */

static void on_listening(struct sockit_server *srv, void *ud)
{
    struct http_config *cfg = sockit_http_files_user_data(ud);
    struct sockit_server_info info;
    char where[256];

    if (cfg->quiet)
        return;
    sockit_server_info(srv, &info);
    cli_format_addr(cfg->server.endpoint.transport, &info.local, where, sizeof(where));
    fprintf(stderr, "sockit http: serving %s on %s (%s backend, %u thread%s)\n", cfg->dir, where,
            info.backend, info.threads, info.threads == 1 ? "" : "s");
    cfg->srv = srv;
    stats_start(cfg);
}

static void summary(const struct http_config *cfg, const struct sockit_http_files *files)
{
    struct sockit_http_files_stats st;

    sockit_http_files_stats(files, &st);
    if (cfg->json) {
        printf("{\"requests\":%llu,\"bytes\":%llu,\"status\":{\"1xx\":%llu,\"2xx\":%llu,"
               "\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu}}\n",
               (unsigned long long)st.requests, (unsigned long long)st.bytes,
               (unsigned long long)st.status[1], (unsigned long long)st.status[2],
               (unsigned long long)st.status[3], (unsigned long long)st.status[4],
               (unsigned long long)st.status[5]);
    }
    if (!cfg->quiet)
        fprintf(stderr,
                "sockit http: stopped: %llu requests (2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu), "
                "%llu body bytes\n",
                (unsigned long long)st.requests, (unsigned long long)st.status[2],
                (unsigned long long)st.status[3], (unsigned long long)st.status[4],
                (unsigned long long)st.status[5], (unsigned long long)st.bytes);
}

static int serve(struct http_config *cfg, struct sockit_http_files *files)
{
    struct sockit_server_handler h;
    struct sockit_server *srv;
    int err;

    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nServer: sockit\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n"
        "Retry-After: 1\r\nConnection: close\r\n\r\n503 Service Unavailable\n";

    sockit_http_files_handler(files, &h);
    h.on_listening = on_listening;
    cfg->server.full_reply = busy;
    cfg->server.full_reply_len = sizeof(busy) - 1;
    cfg->served = files;
    if ((err = sockit_server_new(&srv, &cfg->server, &h, files)) < 0)
        return cli_fail("start event loop", NULL, err);
    err = sockit_server_run(srv);
    stats_stop(cfg);
    sockit_server_free(srv);
    if (err)
        return cli_fail("listen", cfg->ep_text, err);
    summary(cfg, files);
    return CLI_OK;
}

static int open_log(struct http_config *cfg)
{
    if (!cfg->log_path)
        return CLI_OK;
    cfg->log = strcmp(cfg->log_path, "-") == 0 ? stdout : fopen(cfg->log_path, "ae");
    if (!cfg->log)
        return cli_fail("open access log", cfg->log_path, -errno);
    cfg->files.on_access = on_access;
    return CLI_OK;
}

int cmd_http(int argc, char **argv)
{
    struct http_config cfg = {
        .ep_text = "tcp://:8080",
        .dir = ".",
        .server = { .threads = 1,
                    .max_clients = 1024,
                    .idle_ms = 60000,
                    .drain_ms = 10000,
                    .handle_signals = true,
                    .sockopts = { .flags = SOCKIT_REUSEADDR } },
    };
    struct sockit_http_files *files = NULL;
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    cfg.files.ud = &cfg;
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    cfg.files.root = cfg.dir;
    if ((rc = open_log(&cfg)) != CLI_OK)
        return rc;
    if ((err = sockit_http_files_new(&files, &cfg.files)) < 0)
        rc = cli_fail("serve", cfg.dir, err);
    else
        rc = serve(&cfg, files);
    sockit_http_files_free(files);
    if (cfg.log && cfg.log != stdout)
        fclose(cfg.log);
    return rc;
}
