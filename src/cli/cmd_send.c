/* sockit send: the article's client. Connect, send one message, print the reply. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/buf.h"
#include "sockit/clock.h"
#include "sockit/error.h"

#define REPLY_JSON_MAX (16u << 20)  /* --json keeps at most this much of the reply */
#define WINDOW         (256u << 10) /* -f on a stream: bytes read ahead of the socket */
#define DGRAM_FILE_MAX (256u << 10) /* -f on datagrams: the whole file is one datagram */

static const char send_help[] =
    "Usage: sockit send [OPTIONS] ENDPOINT [MESSAGE]\n"
    "Connect to ENDPOINT, send MESSAGE and print the reply on stdout.\n\n"
    "Stream endpoints (tcp://, unix:): sending and receiving overlap, so messages of any size\n"
    "work; after the last byte the client half-closes (shutdown SHUT_WR) and prints\n"
    "everything the server sends until it closes. Datagram endpoints (udp://, unix-dgram:):\n"
    "one datagram out, the first datagram back is the reply.\n\n"
    "Options:\n"
    "  -f, --file FILE      send the contents of FILE ('-' for stdin) instead of MESSAGE;\n"
    "                       streamed on stream endpoints (any size, 256 KiB in memory),\n"
    "                       one datagram on datagram endpoints\n"
    "  -t, --timeout SEC    give up after SEC seconds without progress (default 10)\n"
    "      --nodelay        set TCP_NODELAY\n"
    "      --json           print one JSON object: sizes, timings and the reply\n"
    "      --trace          print each socket call on stderr as it happens\n"
    "  -h, --help           show this help\n\n"
    "Exit status: 0 reply received; 1 connect, send or receive failed or timed out;\n"
    "2 usage error.\n\n"
    "Examples:\n"
    "  sockit send tcp://127.0.0.1:8080 'Hello from client'\n"
    "  sockit send udp://[::1]:9000 ping --json\n"
    "  sockit send unix:/tmp/echo.sock -f big.bin > copy.bin\n";

struct send_job {
    struct sockit_endpoint ep;
    const char *ep_text;
    struct sockit_sockopts opts;
    struct sockit_buf msg; /* the message, or the window of FILE not yet sent */
    int src_fd;            /* -f: the file (or stdin) still to read; -1: none */
    const char *src_name;
    int timeout_ms;
    bool json;
    /* results */
    struct sockit_buf reply; /* kept for --json */
    size_t sent, received;
    char last; /* last reply byte, to end a terminal line */
    uint64_t t_start, t_connected, t_reply_first, t_end; /* sockit_clock_ns() */
};

enum { OPT_JSON = 256, OPT_TRACE, OPT_NODELAY };

static const struct option send_options[] = {
    { "file", required_argument, NULL, 'f' },
    { "timeout", required_argument, NULL, 't' },
    { "nodelay", no_argument, NULL, OPT_NODELAY },
    { "json", no_argument, NULL, OPT_JSON },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Read what fits into the window from the -f source. Returns bytes read (0 at its end, and
 * the source is closed then) or -errno. */
static ssize_t refill(struct send_job *job)
{
    struct sockit_buf *b = &job->msg;
    ssize_t n;

    if (sockit_buf_reserve(b, 1) < 0)
        return 0; /* the window is full: send first */
    do
        n = read(job->src_fd, b->data + b->tail, b->cap - b->tail);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    b->tail += (size_t)n;
    if (n == 0) {
        if (job->src_fd != STDIN_FILENO)
            close(job->src_fd);
        job->src_fd = -1;
    }
    return n;
}

static int open_source(struct send_job *job, const char *path)
{
    job->src_name = path;
    job->src_fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    return job->src_fd < 0 ? cli_fail("open", path, -errno) : 0;
}

/* Datagram endpoints: the whole source is one datagram, so it must fit. */
static int read_whole_source(struct send_job *job)
{
    ssize_t n;

    while ((n = refill(job)) > 0)
        ;
    if (n < 0)
        return cli_fail("read", job->src_name, (int)n);
    if (job->src_fd >= 0) /* still open: the window filled before the end */
        return cli_fail("read", job->src_name, -SOCKIT_EDGRAMSIZE);
    return 0;
}

struct send_args {
    struct send_job *job;
    struct cli_tracer *tracer;
    const char *file; /* -f FILE, or NULL: the message is an argument */
};

static int parse_option(int c, void *ctx)
{
    struct send_args *args = ctx;
    struct send_job *job = args->job;
    unsigned long secs;
    int err;

    switch (c) {
    case 'f':
        if (args->file)
            return cli_usage("send", "-f given twice ('%s', then '%s'): one file is sent",
                             args->file, optarg);
        args->file = optarg;
        return 0;
    case 't':
        if ((err = cli_number("send", "--timeout", optarg, 1, 86400, &secs)) == 0)
            job->timeout_ms = (int)secs * 1000;
        return err;
    case OPT_NODELAY: job->opts.flags |= SOCKIT_NODELAY; return 0;
    case OPT_JSON: job->json = true; return 0;
    case OPT_TRACE: job->opts.trace = &args->tracer->hook; return 0;
    }
    return cli_usage("send", "unknown option");
}

static int parse_args(int argc, char **argv, struct send_job *job, struct cli_tracer *tracer)
{
    struct send_args args = { job, tracer, NULL };
    int err = cli_parse_options("send", argc, argv, ":f:t:h", send_options, send_help, NULL,
                                parse_option, &args);

    if (err)
        return err;
    int want = args.file ? 1 : 2;
    if (argc - optind != want)
        return cli_usage("send", argc - optind < want ? "missing %s" : "too many arguments%s",
                         argc - optind < want ? (optind >= argc ? "ENDPOINT" : "MESSAGE") : "");
    job->ep_text = argv[optind];
    if ((err = cli_endpoint("send", job->ep_text, &job->ep)) != 0 ||
        (err = cli_sockopts_fit("send", &job->ep, job->opts.flags)) != 0)
        return err;
    if (!args.file)
        return sockit_buf_append(&job->msg, argv[optind + 1], strlen(argv[optind + 1]));
    sockit_buf_init(&job->msg, sockit_endpoint_is_stream(&job->ep) ? WINDOW : DGRAM_FILE_MAX + 1);
    if ((err = open_source(job, args.file)) != 0)
        return err;
    return sockit_endpoint_is_stream(&job->ep) ? 0 : read_whole_source(job);
}

/* Keep the reply for --json, or write it straight to stdout. */
static int take_reply(struct send_job *job, const char *data, size_t n)
{
    if (job->received == 0)
        job->t_reply_first = sockit_clock_ns();
    job->received += n;
    if (n > 0)
        job->last = data[n - 1];
    if (job->json) {
        size_t room = REPLY_JSON_MAX - sockit_buf_len(&job->reply);
        return sockit_buf_append(&job->reply, data, n < room ? n : room) == -ENOMEM ? -ENOMEM : 0;
    }
    return fwrite(data, 1, n, stdout) == n ? 0 : -EIO;
}

static int wait_fd(int fd, short events, int timeout_ms, short *revents)
{
    int rc = sockit_wait(fd, events, -1, timeout_ms);

    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ETIMEDOUT;
    *revents = (short)rc;
    return 0;
}

/* Wait for the socket (readable; writable while there is something to send) and, while the
 * window is empty, for more of the -f source. */
static int wait_stream(struct send_job *job, int fd, bool sending, short *sock_ev, bool *src_ready)
{
    struct pollfd p[2] = { { .fd = fd, .events = POLLIN | (sending ? POLLOUT : 0) },
                           { .fd = job->src_fd, .events = POLLIN } };
    nfds_t n = (!sending && job->src_fd >= 0) ? 2 : 1;
    int rc;

    do
        rc = poll(p, n, job->timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return -ETIMEDOUT;
    *sock_ev = p[0].revents;
    *src_ready = n == 2 && p[1].revents != 0;
    return 0;
}

/* Send what the socket takes from the window. */
static int send_window(struct send_job *job, int fd)
{
    ssize_t n = sockit_send_all(fd, job->msg.data + job->msg.head, sockit_buf_len(&job->msg),
                                job->opts.trace);

    if (n < 0 && n != -EAGAIN)
        return (int)n;
    if (n > 0) {
        sockit_buf_consume(&job->msg, (size_t)n);
        job->sent += (size_t)n;
    }
    return 0;
}

static int recv_reply(struct send_job *job, int fd, bool *done)
{
    char buf[65536];
    ssize_t n = sockit_recv(fd, buf, sizeof(buf), job->opts.trace);

    *done = n == 0;
    if (n < 0 && n != -EAGAIN)
        return (int)n;
    return n > 0 ? take_reply(job, buf, (size_t)n) : 0;
}

/* Stream: send and receive at once (a large echo would deadlock otherwise), reading the -f
 * source a window at a time; half-close after the last byte, read until the server closes. */
static int exchange_stream(struct send_job *job, int fd, const char **op)
{
    bool shut = false, done = false, src_ready = false;

    while (!done) {
        bool sending = sockit_buf_len(&job->msg) > 0;
        short rev = 0;
        int err = 0;
        if (!sending && job->src_fd < 0 && !shut) {
            *op = "shutdown";
            if ((err = sockit_socket_shutdown_write(fd, job->opts.trace)) != 0)
                return err;
            shut = true;
        }
        *op = "recv";
        if ((err = wait_stream(job, fd, sending, &rev, &src_ready)) != 0)
            return err;
        ssize_t got = src_ready ? refill(job) : 0;
        if (got < 0) {
            *op = "read";
            return (int)got;
        }
        *op = "send";
        if ((rev & POLLOUT) && (err = send_window(job, fd)) != 0)
            return err;
        *op = "recv";
        if ((rev & (POLLIN | POLLHUP | POLLERR)) && (err = recv_reply(job, fd, &done)) != 0)
            return err;
    }
    return 0;
}

static int exchange_dgram(struct send_job *job, int fd, const char **op)
{
    char *buf = malloc(256 * 1024);
    size_t full = 0;
    short rev;
    ssize_t n;
    int err;

    if (!buf)
        return -ENOMEM;
    *op = "send";
    n = sockit_dgram_send(fd, job->msg.data, sockit_buf_len(&job->msg), NULL, job->opts.trace);
    if (n >= 0) {
        job->sent = (size_t)n;
        *op = "recv";
        err = wait_fd(fd, POLLIN, job->timeout_ms, &rev);
        n = err ? err : sockit_dgram_recv(fd, buf, 256 * 1024, NULL, &full, job->opts.trace);
    }
    if (n >= 0)
        n = take_reply(job, buf, (size_t)n);
    free(buf);
    return (int)n;
}

static long long micros(uint64_t from_ns, uint64_t to_ns)
{
    return (long long)((to_ns - from_ns) / 1000);
}

static void print_json(const struct send_job *job, const struct sockit_addr *peer)
{
    char where[SOCKIT_ADDR_STRLEN];

    sockit_addr_format(peer, where, sizeof(where));
    printf("{\"endpoint\":");
    cli_json_string(stdout, job->ep_text, strlen(job->ep_text));
    printf(",\"peer\":");
    cli_json_string(stdout, where, strlen(where));
    printf(",\"sent\":%zu,\"received\":%zu,\"connect_us\":%lld,\"first_reply_us\":%lld,"
           "\"total_us\":%lld,\"reply_truncated\":%s,\"reply\":",
           job->sent, job->received, micros(job->t_start, job->t_connected),
           job->received ? micros(job->t_connected, job->t_reply_first) : -1,
           micros(job->t_start, job->t_end),
           job->received > sockit_buf_len(&job->reply) ? "true" : "false");
    cli_json_string(stdout, job->reply.data, sockit_buf_len(&job->reply));
    printf("}\n");
}

static int run(struct send_job *job)
{
    struct sockit_addr peer;
    const char *op = "connect";
    int fd, err;

    job->t_start = sockit_clock_ns();
    fd = sockit_socket_connect(&job->ep, &job->opts, &peer);
    if (fd < 0)
        return cli_fail("connect", job->ep_text, fd);
    job->t_connected = sockit_clock_ns();
    if (sockit_endpoint_is_stream(&job->ep))
        err = exchange_stream(job, fd, &op);
    else
        err = exchange_dgram(job, fd, &op);
    job->t_end = sockit_clock_ns();
    sockit_socket_close(fd, job->opts.trace);
    if (err)
        return cli_fail(op, job->ep_text, err);
    if (job->json)
        print_json(job, &peer);
    else if (isatty(STDOUT_FILENO) && job->received > 0 && job->last != '\n')
        putchar('\n');
    return fflush(stdout) == 0 ? CLI_OK : cli_fail("write", "stdout", -errno);
}

int cmd_send(int argc, char **argv)
{
    struct cli_tracer tracer;
    struct send_job job = { .timeout_ms = 10000,
                            .src_fd = -1,
                            .opts = { .flags = SOCKIT_NONBLOCK } };
    int rc;

    cli_tracer_init(&tracer, false);
    sockit_buf_init(&job.msg, 1u << 20); /* an argument: at most 128 KiB on Linux */
    sockit_buf_init(&job.reply, REPLY_JSON_MAX);
    job.opts.timeout_ms = job.timeout_ms;
    rc = parse_args(argc, argv, &job, &tracer);
    if (rc == 0) {
        job.opts.timeout_ms = job.timeout_ms;
        rc = run(&job);
    }
    sockit_buf_free(&job.msg);
    sockit_buf_free(&job.reply);
    if (job.src_fd > STDIN_FILENO)
        close(job.src_fd);
    return rc < 0 ? CLI_OK : rc;
}
