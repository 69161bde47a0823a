/* Shared pieces of the sockit program: exit codes, the command table, error and trace output.
 * The CLI owns all printing and every exit code; the library only returns codes. */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sockit/endpoint.h"
#include "sockit/loop.h"
#include "sockit/socket.h"

enum cli_exit {
    CLI_OK = 0,    /* done, or stopped by SIGINT/SIGTERM */
    CLI_FAIL = 1,  /* failed at run time: connect refused, address in use, timeout... */
    CLI_USAGE = 2, /* bad command line: unknown option, invalid endpoint or number */
};

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

int cmd_echo(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_http(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_ws(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_impair(int argc, char **argv);

/* "sockit: OP TARGET: strerror(ERR)" on stderr; returns CLI_FAIL. */
int cli_fail(const char *op, const char *target, int err);

/* "sockit CMD: MESSAGE" and a hint to --help on stderr; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* TEXT for an error line: control and non-ASCII bytes as \xNN, at most 64 bytes of it, then
 * how long it really was. BUF holds CLI_QUOTE_SIZE bytes; returns BUF. */
#define CLI_QUOTE_SIZE (4 * 64 + 32)
const char *cli_quote(const char *text, char *buf, size_t size);

/* Parse an endpoint argument; on error prints "sockit CMD: invalid endpoint 'TEXT': why"
 * and returns CLI_USAGE, else 0. Port 0 (any free port) is refused: it is for listening. */
int cli_endpoint(const char *cmd, const char *text, struct sockit_endpoint *ep);

/* Parse ws://HOST[:PORT][/PATH] TEXT into a tcp endpoint EP and the request target PATH (CAP
 * bytes), or print a usage error naming it (wss:// included) and return CLI_USAGE. */
int cli_ws_url(const char *cmd, const char *text, struct sockit_endpoint *ep, char *path,
               size_t cap);

/* cli_endpoint for a command that binds EP and says the port it got: port 0 is accepted. */
int cli_listen_endpoint(const char *cmd, const char *text, struct sockit_endpoint *ep);

/* Socket options that EP cannot use are a usage error, not silently ignored: SOCKIT_NODELAY
 * off TCP, SOCKIT_V6ONLY on a unix endpoint or an IPv4 address. Returns 0, or CLI_USAGE with a
 * message naming the option and why. For every command that takes --nodelay or --v6only. */
int cli_sockopts_fit(const char *cmd, const struct sockit_endpoint *ep, unsigned flags);

/* Parse --backend TEXT (uring, epoll, poll or auto) into *OUT: 0, or CLI_USAGE with a message. */
int cli_backend(const char *cmd, const char *text, enum sockit_backend *out);

struct option;
typedef int cli_option_fn(int c, void *ctx);

/* The options of ARGV (getopt_long with SHORTOPTS, which must start with ':', and LONGOPTS):
 * FN(c, CTX) handles each and returns 0 or an exit code; -h/--help prints HELP then HELP2
 * (may be NULL). Returns 0 with optind at the first operand, -1 after --help, or CLI_USAGE
 * with a message for an unknown option or a missing value. */
int cli_parse_options(const char *cmd, int argc, char **argv, const char *shortopts,
                      const struct option *longopts, const char *help, const char *help2,
                      cli_option_fn *fn, void *ctx);

/* Parse a whole decimal number in [MIN, MAX] for option OPT; CLI_USAGE with a message if not. */
int cli_number(const char *cmd, const char *opt, const char *text, unsigned long min,
               unsigned long max, unsigned long *out);

/* A trace hook that prints each socket call on stderr, prefixed with the process id when
 * PER_PROCESS is set (fork model). */
struct cli_tracer {
    struct sockit_trace hook;
    bool per_process;
};
void cli_tracer_init(struct cli_tracer *t, bool per_process);

/* Format the local or peer address as an endpoint: "tcp://[::]:8080", "unix:/tmp/s". */
void cli_format_addr(enum sockit_transport transport, const struct sockit_addr *a, char *buf,
                     size_t size);

/* Block SIGINT and SIGTERM and return a signalfd that becomes readable when one comes: the
 * stop fd of a command, polled (never read). A negative code if it cannot be made. */
int cli_stop_signals(void);

/* Write DATA as a JSON string literal (quotes, escapes; bytes >= 0x80 as \u00XX). */
void cli_json_string(FILE *f, const void *data, size_t len);

#endif
