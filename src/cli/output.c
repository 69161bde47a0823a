/* Error lines, usage errors, traces and JSON strings: everything sockit prints goes here. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/ws_server.h"

int cli_fail(const char *op, const char *target, int err)
{
    if (target && *target)
        fprintf(stderr, "sockit: %s %s: %s\n", op, target, sockit_strerror(err));
    else
        fprintf(stderr, "sockit: %s: %s\n", op, sockit_strerror(err));
    return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sockit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'sockit %s --help' for more information.\n", cmd);
    return CLI_USAGE;
}

int cli_parse_options(const char *cmd, int argc, char **argv, const char *shortopts,
                      const struct option *longopts, const char *help, const char *help2,
                      cli_option_fn *fn, void *ctx)
{
    int c, err;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            if (help2)
                fputs(help2, stdout);
            return -1;
        }
        if (c == '?')
            return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        if ((err = fn(c, ctx)) != 0)
            return err;
    }
    return 0;
}

const char *cli_quote(const char *text, char *buf, size_t size)
{
    enum { SHOWN = 64 };
    size_t len = strlen(text), o = 0;

    for (size_t i = 0; i < len && i < SHOWN && o + 5 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    if (len > SHOWN)
        snprintf(buf + o, size - o, "... (%zu bytes)", len);
    return buf;
}

int cli_listen_endpoint(const char *cmd, const char *text, struct sockit_endpoint *ep)
{
    int err = sockit_endpoint_parse(text, ep);
    char shown[CLI_QUOTE_SIZE];

    if (err)
        return cli_usage(cmd, "invalid endpoint '%s': %s", cli_quote(text, shown, sizeof(shown)),
                         sockit_strerror(err));
    return 0;
}

int cli_ws_url(const char *cmd, const char *text, struct sockit_endpoint *ep, char *path,
               size_t cap)
{
    int err = strncmp(text, "wss://", 6) == 0 ? 1 : sockit_ws_url_parse(text, ep, path, cap);
    char shown[CLI_QUOTE_SIZE];

    if (err == 1)
        return cli_usage(cmd, "'%s': wss:// needs TLS, which sockit does not speak; use ws://",
                         cli_quote(text, shown, sizeof(shown)));
    if (err)
        return cli_usage(cmd, "invalid URL '%s': %s", cli_quote(text, shown, sizeof(shown)),
                         sockit_strerror(err));
    return 0;
}

int cli_endpoint(const char *cmd, const char *text, struct sockit_endpoint *ep)
{
    int err = cli_listen_endpoint(cmd, text, ep);
    char shown[CLI_QUOTE_SIZE];

    if (err || sockit_endpoint_is_unix(ep) || ep->port != 0)
        return err;
    return cli_usage(cmd,
                     "invalid endpoint '%s': port 0 (any free port) is only for listening "
                     "('sockit listen')",
                     cli_quote(text, shown, sizeof(shown)));
}

int cli_sockopts_fit(const char *cmd, const struct sockit_endpoint *ep, unsigned flags)
{
    struct in_addr v4;
    const char *kind = sockit_endpoint_scheme(ep->transport);

    if ((flags & SOCKIT_NODELAY) && ep->transport != SOCKIT_TCP)
        return cli_usage(cmd, "--nodelay: TCP only, not a %s endpoint", kind);
    if ((flags & SOCKIT_V6ONLY) && sockit_endpoint_is_unix(ep))
        return cli_usage(cmd, "--v6only: IPv6 only, not a %s endpoint", kind);
    if ((flags & SOCKIT_V6ONLY) && inet_pton(AF_INET, ep->host, &v4) == 1)
        return cli_usage(cmd, "--v6only: IPv6 only, and %s is an IPv4 address", ep->host);
    return 0;
}

int cli_number(const char *cmd, const char *opt, const char *text, unsigned long min,
               unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (text[0] < '0' || text[0] > '9')
        return cli_usage(cmd, "%s: '%s' is not a number", opt, text);
    errno = 0;
    v = strtoul(text, &end, 10);
    if (*end != '\0')
        return cli_usage(cmd, "%s: '%s' is not a number", opt, text);
    if (errno || v < min || v > max)
        return cli_usage(cmd, "%s: %s is out of range (%lu to %lu)", opt, text, min, max);
    *out = v;
    return 0;
}

static void print_trace(void *ctx, const char *text)
{
    const struct cli_tracer *t = ctx;

    if (t->per_process)
        fprintf(stderr, "[pid %d] %s\n", (int)getpid(), text);
    else
        fprintf(stderr, "%s\n", text);
}

void cli_tracer_init(struct cli_tracer *t, bool per_process)
{
    t->hook.line = print_trace;
    t->hook.ctx = t;
    t->per_process = per_process;
}

void cli_format_addr(enum sockit_transport transport, const struct sockit_addr *a, char *buf,
                     size_t size)
{
    char addr[SOCKIT_ADDR_STRLEN];
    const char *rest = addr;

    /* sockit_addr_format writes unix addresses as "unix:...": the transport's scheme replaces
     * that prefix (unix-dgram:), as it prefixes an inet address. */
    sockit_addr_format(a, addr, sizeof(addr));
    if (strncmp(addr, "unix:", 5) == 0)
        rest = addr + 5;
    snprintf(buf, size, "%s%s", sockit_endpoint_scheme(transport), rest);
}

void cli_json_string(FILE *f, const void *data, size_t len)
{
    const unsigned char *p = data;

    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int cli_backend(const char *cmd, const char *text, enum sockit_backend *out)
{
    if (sockit_backend_parse(text, out) < 0)
        return cli_usage(cmd, "--backend: '%s' is not uring, epoll, poll or auto", text);
    return 0;
}

int cli_stop_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Blocked signals are delivered through the fd instead: no work in signal handlers, and
     * threads created later inherit the mask. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -EINVAL;
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}
