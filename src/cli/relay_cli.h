/* sockit connect / sockit listen: the configuration their options make (relay_options.c),
 * which the run (cmd_relay.c) reads. */
#ifndef SOCKIT_CLI_RELAY_H
#define SOCKIT_CLI_RELAY_H

#include <stdbool.h>
#include <stdint.h>

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
    bool verbose;     /* -v: say what happens on stderr */
};

/* Parse connect's or listen's (CFG->cmd) ARGV into *CFG, which holds the defaults; --trace
 * points CFG->opts.trace at TRACER's hook. Returns 0, -1 after --help, or CLI_USAGE with a
 * message. */
int relay_parse_args(int argc, char **argv, struct relay_config *cfg, struct cli_tracer *tracer);

#endif
