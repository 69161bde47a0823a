/* sockit connect / sockit listen: netcat-style relays between stdin/stdout and one socket.
 * Both directions flow at once through non-blocking buffers and end separately: stdin's end
 * becomes a half-close (shutdown SHUT_WR) on stream sockets, the peer's end of stream ends
 * the output, and the relay is over when both are (on a terminal, when the peer ends). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/buf.h"
#include "sockit/error.h"

#define RELAY_CHUNK 65536

struct relay_config {
    const char *cmd; /* "connect" or "listen" */
    struct sockit_endpoint ep;
    const char *ep_text;
    struct sockit_sockopts opts;
    int wait_ms;  /* datagrams: after stdin ends, wait this long for replies */
    bool keep;    /* listen -k: accept the next client after one ends */
    bool verbose; /* -v: say what happens on stderr */
};

struct relay {
    const struct relay_config *cfg;
    int sock;
    bool stream;
    bool in_eof;   /* stdin ended */
    bool sock_eof; /* peer ended */
    struct sockit_buf to_sock, to_out;
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
    "endpoints the first sender becomes the peer.\n\n";
static const char relay_options_help[] =
    "Options:\n"
    "  -k, --keep-open     listen: after a client ends, accept the next (stream endpoints)\n"
    "  -t, --timeout SEC   connect: give up connecting after SEC seconds (default 10)\n"
    "  -w, --wait SEC      datagram endpoints: after stdin ends, wait SEC seconds for more\n"
    "                      replies (default 1)\n"
    "  -v, --verbose       report listening, connections and ends on stderr\n"
    "      --trace         print each socket call on stderr as it happens\n"
    "  -h, --help          show this help\n\n"
    "Exit status: 0 the relay ended normally; 1 connect/listen or I/O failed; 2 usage.\n\n"
    "Examples:\n"
    "  sockit listen tcp://:9000 > received.bin        sockit connect 127.0.0.1:9000 < file\n"
    "  echo hi | sockit connect unix:/tmp/echo.sock\n"
    "  sockit listen -k unix:@chat                     sockit connect udp://[::1]:5353\n";

enum { OPT_TRACE = 256 };

static const struct option relay_options[] = {
    { "keep-open", no_argument, NULL, 'k' },
    { "timeout", required_argument, NULL, 't' },
    { "wait", required_argument, NULL, 'w' },
    { "verbose", no_argument, NULL, 'v' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
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
    case 'v': cfg->verbose = true; return 0;
    case OPT_TRACE: cfg->opts.trace = &tracer->hook; return 0;
    }
    return cli_usage(cfg->cmd, "unknown option '%s'", optarg ? optarg : "?");
}

static int parse_args(int argc, char **argv, struct relay_config *cfg, struct cli_tracer *tracer)
{
    struct relay_args args = { cfg, tracer };
    int err = cli_parse_options(cfg->cmd, argc, argv, ":kt:w:vh", relay_options,
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

/* stdin -> socket buffer. */
static int pull_stdin(struct relay *r)
{
    size_t chunk = r->stream ? RELAY_CHUNK : SOCKIT_UDP4_MAX;
    ssize_t n;

    if (sockit_buf_reserve(&r->to_sock, chunk) < 0)
        return -ENOMEM;
    do
        n = read(STDIN_FILENO, r->to_sock.data + r->to_sock.tail, chunk);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0) {
        r->in_eof = true;
        return r->stream ? sockit_socket_shutdown_write(r->sock, r->cfg->opts.trace) : 0;
    }
    r->to_sock.tail += (size_t)n;
    return 0;
}

/* socket buffer -> socket: a datagram socket sends the whole chunk as one datagram. */
static int push_sock(struct relay *r)
{
    ssize_t n;

    if (r->stream) {
        n = sockit_buf_send(&r->to_sock, r->sock, r->cfg->opts.trace);
        return (n < 0 && n != -EAGAIN) ? (int)n : 0;
    }
    n = sockit_dgram_send(r->sock, r->to_sock.data + r->to_sock.head, sockit_buf_len(&r->to_sock),
                          NULL, r->cfg->opts.trace);
    if (n == -EAGAIN)
        return 0;
    sockit_buf_consume(&r->to_sock, sockit_buf_len(&r->to_sock));
    return n < 0 ? (int)n : 0;
}

/* socket -> stdout (blocking writes: stdout is local and we must not lose data). */
static int pull_sock(struct relay *r)
{
    char buf[RELAY_CHUNK];
    size_t full;
    ssize_t n = r->stream
                    ? sockit_recv(r->sock, buf, sizeof(buf), r->cfg->opts.trace)
                    : sockit_dgram_recv(r->sock, buf, sizeof(buf), NULL, &full, r->cfg->opts.trace);

    if (n == -EAGAIN)
        return 0;
    if (n == -SOCKIT_ETRUNC)
        n = sizeof(buf); /* keep what fits; the error is the datagram's size */
    if (n < 0)
        return (int)n;
    if (n == 0 && r->stream) {
        r->sock_eof = true;
        return 0;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
        if (w < 0 && errno != EINTR)
            return -errno;
        off += w > 0 ? w : 0;
    }
    return 0;
}

/* Both directions are done. Two cases end with the peer alone: a terminal on stdin (a person
 * at the keyboard is done when the peer is), and listen -k, whose stdin is shared by all the
 * clients in turn and so cannot be waited for by one of them. */
static bool relay_over(const struct relay *r)
{
    if (!r->sock_eof)
        return false;
    if (r->in_eof && sockit_buf_len(&r->to_sock) == 0)
        return true;
    return r->cfg->keep || isatty(STDIN_FILENO);
}

/* One poll round. Returns 1 to go on, 0 when the relay is over, or a negative code. */
static int relay_round(struct relay *r, const char **op)
{
    bool pending = sockit_buf_len(&r->to_sock) > 0;
    struct pollfd p[2] = {
        { .fd = (r->in_eof || pending) ? -1 : STDIN_FILENO, .events = POLLIN },
        /* after the peer's end only pending output needs the socket (POLLHUP would spin) */
        { .fd = (r->sock_eof && !pending) ? -1 : r->sock,
          .events = (short)((r->sock_eof ? 0 : POLLIN) | (pending ? POLLOUT : 0)) },
    };
    int timeout = (r->in_eof && !r->stream && !pending) ? r->cfg->wait_ms : -1;
    int rc = poll(p, 2, timeout), err = 0;

    if (rc < 0)
        return errno == EINTR ? 1 : -errno;
    if (rc == 0)
        return 0; /* datagram wait after stdin's end is over */
    if (p[0].revents) {
        *op = "read stdin";
        err = pull_stdin(r);
    }
    if (!err && (p[1].revents & POLLOUT)) {
        *op = "send";
        err = push_sock(r);
    }
    if (!err && !r->sock_eof && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        *op = "recv";
        err = pull_sock(r);
    }
    if (err)
        return err;
    return relay_over(r) ? 0 : 1;
}

static int relay_run(const struct relay_config *cfg, int sock)
{
    struct relay r = { .cfg = cfg, .sock = sock, .stream = sockit_endpoint_is_stream(&cfg->ep) };
    const char *op = "relay";
    int rc;

    sockit_buf_init(&r.to_sock, RELAY_CHUNK + SOCKIT_UDP6_MAX);
    while ((rc = relay_round(&r, &op)) == 1)
        ;
    sockit_buf_free(&r.to_sock);
    return rc < 0 ? cli_fail(op, cfg->ep_text, rc) : CLI_OK;
}

static int connect_main(const struct relay_config *cfg)
{
    struct sockit_addr peer;
    int fd = sockit_socket_connect(&cfg->ep, &cfg->opts, &peer);
    int rc;

    if (fd < 0)
        return cli_fail("connect", cfg->ep_text, fd);
    note(cfg, "connected to", &peer);
    rc = relay_run(cfg, fd);
    sockit_socket_close(fd, cfg->opts.trace);
    return rc;
}

/* Datagram listen: the first sender becomes the peer; its datagram is the first output. */
static int adopt_first_sender(const struct relay_config *cfg, int fd)
{
    char buf[RELAY_CHUNK];
    struct sockit_addr from;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ssize_t n;

    do {
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
        n = sockit_dgram_recv(fd, buf, sizeof(buf), &from, NULL, cfg->opts.trace);
    } while (n == -EAGAIN);
    if (n < 0 && n != -SOCKIT_ETRUNC)
        return (int)n;
    note(cfg, "peer", &from);
    if (connect(fd, &from.u.sa, from.len) < 0)
        return -errno;
    n = n < 0 ? (ssize_t)sizeof(buf) : n;
    return write(STDOUT_FILENO, buf, (size_t)n) == n ? 0 : -EIO;
}

static int serve_clients(const struct relay_config *cfg, int lfd)
{
    int rc = CLI_OK;

    do {
        struct sockit_addr peer;
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return cli_fail("poll", cfg->ep_text, -errno);
        int fd = sockit_socket_accept(lfd, &cfg->opts, &peer);
        if (fd == -EAGAIN)
            continue;
        if (fd < 0)
            return cli_fail("accept", cfg->ep_text, fd);
        note(cfg, "connection from", &peer);
        rc = relay_run(cfg, fd);
        sockit_socket_close(fd, cfg->opts.trace);
        note(cfg, "closed", &peer);
    } while (cfg->keep);
    return rc;
}

static int listen_main(const struct relay_config *cfg)
{
    struct sockit_addr local;
    int fd = sockit_socket_listen(&cfg->ep, &cfg->opts, &local);
    int rc;

    if (fd < 0)
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "listen" : "bind", cfg->ep_text, fd);
    note(cfg, "listening on", &local);
    if (sockit_endpoint_is_stream(&cfg->ep)) {
        rc = serve_clients(cfg, fd);
    } else {
        int err = adopt_first_sender(cfg, fd);
        rc = err ? cli_fail("recvfrom", cfg->ep_text, err) : relay_run(cfg, fd);
    }
    sockit_socket_close(fd, cfg->opts.trace);
    sockit_socket_unlink(&cfg->ep, cfg->opts.trace);
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
