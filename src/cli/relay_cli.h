/* sockit connect / sockit listen: the configuration their options make (relay_options.c),
 * which the run (cmd_relay.c) reads. */
#ifndef SOCKIT_CLI_RELAY_H
#define SOCKIT_CLI_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "sockit/endpoint.h"
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
