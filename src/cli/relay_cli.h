/* sockit connect / sockit listen: the configuration their options make (relay_options.c),
 * which the run (cmd_relay.c) reads. */
#ifndef SOCKIT_CLI_RELAY_H
#define SOCKIT_CLI_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "sockit/endpoint.h"
#include "sockit/relay.h"
#include "sockit/socket.h"

struct relay_config {
    const char *cmd; /* "connect" or "listen" */
    struct sockit_endpoint ep;
    const char *ep_text;
    struct sockit_sockopts opts;
    int wait_ms;                    /* datagrams: after stdin ends, wait this long for replies */
    bool timeout_given, wait_given; /* -t, -w given: what they mean depends on the endpoint */
    uint64_t rate_bps, rate_pps;    /* connect --rate on datagram endpoints; 0: no limit */
    const char *source_host;        /* connect -s: bind to this address first; NULL: any */
    unsigned long source_port;      /* connect -p: bind to this port first; 0: any */
    struct sockit_endpoint source;  /* -s and -p as an endpoint, for opts.source */
    bool keep;                      /* listen -k: serve every client at once */
    unsigned idle_ms; /* --idle-timeout: close after this long with no data either way */
    const char *exec; /* --exec: relay each connection to this program (/bin/sh -c) */
    bool verbose;     /* -v: say what happens on stderr */
};

/* relay_report.c: what connect and listen say on stderr. */

/* With -v: "sockit CMD: WHAT ADDRESS" (A formatted as an endpoint of CFG's transport). */
void relay_note(const struct relay_config *cfg, const char *what, const struct sockit_addr *a);

/* "listening on ADDRESS": with -v, and always when the kernel picked the port (port 0). */
void relay_announce(const struct relay_config *cfg, const struct sockit_addr *local);

/* The operation that failed, as netcat users know it: recv, send, read stdin... */
const char *relay_failed_op(const struct relay_config *cfg, const struct sockit_relay_end *end);

/* At the end: with -v the bytes (and datagrams) each way; datagrams never sent, always. */
void relay_report_counts(const struct relay_config *cfg, const struct sockit_relay_stats *st);

/* The peer closed and refused the rest: how much of stdin (or the program's output) did not
 * reach it, always when some did not, else with -v. */
void relay_report_peer_gone(const struct relay_config *cfg, const struct sockit_relay_end *end);

/* --exec: the programs spawned and not yet reaped. */
struct relay_kids {
    pid_t *pids;
    size_t n, cap;
};

/* Spawn "/bin/sh -c CMD" with its stdin and stdout on one end of a new socketpair (its stderr
 * is sockit's); returns the other end (the caller's, close-on-exec) and the child in *PID, or
 * -errno. */
int relay_spawn(const char *cmd, pid_t *pid);

/* Note child PID in K. Returns 0 or -ENOMEM. */
int relay_kids_add(struct relay_kids *k, pid_t pid);

/* Reap the children of K that have exited (SIGCHLD), saying so with CFG's -v. */
void relay_kids_reap(struct relay_kids *k, const struct relay_config *cfg);

/* At the end: SIGTERM to the children still running (their connections are over), reap them
 * all and free K. */
void relay_kids_end(struct relay_kids *k, const struct relay_config *cfg);

/* Parse connect's or listen's (CFG->cmd) ARGV into *CFG, which holds the defaults; --trace
 * points CFG->opts.trace at TRACER's hook. Returns 0, -1 after --help, or CLI_USAGE with a
 * message. */
int relay_parse_args(int argc, char **argv, struct relay_config *cfg, struct cli_tracer *tracer);

#endif
