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

#define REPLY_JSON_MAX (16u << 20) /* --json keeps at most this much of the reply */
#define MESSAGE_MAX    (1u << 30)

static const char send_help[] =
    "Usage: sockit send [OPTIONS] ENDPOINT [MESSAGE]\n"
    "Connect to ENDPOINT, send MESSAGE and print the reply on stdout.\n\n"
    "Stream endpoints (tcp://, unix:): sending and receiving overlap, so messages of any size\n"
    "work; after the last byte the client half-closes (shutdown SHUT_WR) and prints\n"
    "everything the server sends until it closes. Datagram endpoints (udp://, unix-dgram:):\n"
    "one datagram out, the first datagram back is the reply.\n\n"
    "Options:\n"
    "  -f, --file FILE      send the contents of FILE ('-' for stdin) instead of MESSAGE\n"
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
    struct sockit_buf msg;
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

static int read_file(struct sockit_buf *b, const char *path)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    int err = 0;

    if (fd < 0)
        return cli_fail("open", path, -errno);
    for (;;) {
        if ((err = sockit_buf_reserve(b, 65536)) < 0)
            break;
        ssize_t n = read(fd, b->data + b->tail, b->cap - b->tail);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? -errno : 0;
            break;
        }
        b->tail += (size_t)n;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return err ? cli_fail("read", path, err == -ENOBUFS ? -EFBIG : err) : 0;
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
    case 'f': args->file = optarg; return 0;
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
    if ((err = cli_endpoint("send", job->ep_text, &job->ep)) != 0)
        return err;
    if (args.file)
        return read_file(&job->msg, args.file);
    return sockit_buf_append(&job->msg, argv[optind + 1], strlen(argv[optind + 1]));
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

/* Stream: send and receive at once (a large echo would deadlock otherwise), half-close after
 * the last byte, read until the server closes. */
static int exchange_stream(struct send_job *job, int fd, const char **op)
{
    char buf[65536];
    bool shut = false;

    for (;;) {
        bool sending = job->sent < sockit_buf_len(&job->msg);
        short rev = 0;
        if (!sending && !shut) {
            *op = "shutdown";
            int err = sockit_socket_shutdown_write(fd, job->opts.trace);
            if (err)
                return err;
            shut = true;
        }
        *op = "recv";
        int err = wait_fd(fd, POLLIN | (sending ? POLLOUT : 0), job->timeout_ms, &rev);
        if (err)
            return err;
        if (rev & POLLOUT) {
            *op = "send";
            ssize_t n = sockit_send_all(fd, job->msg.data + job->sent,
                                        sockit_buf_len(&job->msg) - job->sent, job->opts.trace);
            if (n < 0 && n != -EAGAIN)
                return (int)n;
            job->sent += n > 0 ? (size_t)n : 0;
        }
        if (!(rev & (POLLIN | POLLHUP | POLLERR)))
            continue;
        *op = "recv";
        ssize_t n = sockit_recv(fd, buf, sizeof(buf), job->opts.trace);
        if (n == 0)
            return 0;
        if (n < 0 && n != -EAGAIN)
            return (int)n;
        if (n > 0 && (err = take_reply(job, buf, (size_t)n)) < 0)
            return err;
    }
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
    struct send_job job = { .timeout_ms = 10000, .opts = { .flags = SOCKIT_NONBLOCK } };
    int rc;

    cli_tracer_init(&tracer, false);
    sockit_buf_init(&job.msg, MESSAGE_MAX);
    sockit_buf_init(&job.reply, REPLY_JSON_MAX);
    job.opts.timeout_ms = job.timeout_ms;
    rc = parse_args(argc, argv, &job, &tracer);
    if (rc == 0) {
        job.opts.timeout_ms = job.timeout_ms;
        rc = run(&job);
    }
    sockit_buf_free(&job.msg);
    sockit_buf_free(&job.reply);
    return rc < 0 ? CLI_OK : rc;
}
