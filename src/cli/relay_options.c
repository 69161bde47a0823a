/* sockit connect / sockit listen: help texts and options, checked against the endpoint so
 * that an option that would do nothing there is a usage error, never silently ignored. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay_cli.h"

static const char connect_help[] =
    "Usage: sockit connect [OPTIONS] ENDPOINT\n"
    "Connect to ENDPOINT and relay: stdin goes to the socket, the socket to stdout.\n"
    "When stdin ends, a stream socket is half-closed (shutdown SHUT_WR) and the reply is\n"
    "read until the peer closes; when the peer half-closes first, stdin keeps flowing to it.\n"
    "The relay ends when both directions have ended (stdin on a terminal: when the peer\n"
    "ends). A peer that closed (rather than half-closed) and refuses what stdin still sends\n"
    "ends the relay with exit 0, as in ncat, and connect says on stderr how many bytes of\n"
    "stdin were not sent. Datagram endpoints send each chunk of stdin as one datagram and\n"
    "wait --wait seconds for replies after stdin ends.\n\n"
    "Options:\n"
    "  -t, --timeout SEC   stream endpoints: give up connecting after SEC seconds\n"
    "                      (default 10)\n"
    "  -w, --wait SEC      datagram endpoints: after stdin ends, wait SEC seconds for more\n"
    "                      replies (default 1); stream endpoints: the same as --timeout,\n"
    "                      as in ncat (0: as long as the kernel tries)\n"
    "  -s, --source ADDR   inet endpoints: send from local address ADDR (an IP address or\n"
    "                      a name; IPv6 with or without brackets)\n"
    "  -p, --source-port PORT\n"
    "                      inet endpoints: send from local port PORT\n"
    "  -r, --rate RATE     datagram endpoints: send at most RATE, in bits of payload per\n"
    "                      second (NUMBERbit, kbit, mbit or gbit, as tc and iperf count:\n"
    "                      10mbit = 10,000,000 bits/s) or datagrams per second (NUMBERpps,\n"
    "                      kpps); stdin is read no faster, so none is dropped for it\n"
    "                      (default: as fast as the socket takes them)\n"
    "  -e, --exec CMD      relay the connection to a program, /bin/sh -c CMD, instead of\n"
    "                      stdin/stdout (like ncat -c, socat SYSTEM:; see below)\n"
    "  -i, --idle-timeout SEC\n"
    "                      close the connection when no data has moved either way for SEC\n"
    "                      seconds, and exit 1, as ncat -i does (default: never)\n";

static const char listen_help[] =
    "Usage: sockit listen [OPTIONS] ENDPOINT\n"
    "Listen on ENDPOINT, take one client and relay: stdin goes to the client, the client to\n"
    "stdout. Each direction ends on its own (stdin's end half-closes the socket); the relay\n"
    "ends when both have (stdin on a terminal: when the client ends). On datagram\n"
    "endpoints the first sender becomes the peer. SIGINT or SIGTERM stops it (exit 0) and\n"
    "removes its unix socket file, if that is still the one it made.\n\n"
    "With -k (stream endpoints) listen keeps listening and serves every client at once, as\n"
    "ncat -k does: stdin goes to all the clients connected (broadcast), and what each client\n"
    "sends goes to stdout, a read at a time (one client's read is never split by another's).\n"
    "A client that ends its side is closed; the end of stdin half-closes every client, and\n"
    "those that come later at once. stdin is read only while a client is connected (what\n"
    "it holds waits for the first), a client that does not read holds stdin back for all\n"
    "(memory stays bounded), and a full stdout holds back every client.\n\n"
    "Port 0 (tcp://127.0.0.1:0, udp://:0) listens on a free port that the kernel picks, and\n"
    "listen then always prints the address it got, as the -v line does, on stderr:\n"
    "  sockit listen: listening on tcp://127.0.0.1:41234\n"
    "A script reads the port after the last ':' of that line.\n\n"
    "Options:\n"
    "  -k, --keep-open     stream endpoints: serve every client at once, stdin broadcast\n"
    "                      to all, each one's data to stdout, until stopped\n"
    "  -w, --wait SEC      datagram endpoints: after stdin ends, wait SEC seconds for more\n"
    "                      replies (default 1)\n"
    "      --v6only        an IPv6 or wildcard address takes IPv6 clients only (default:\n"
    "                      tcp://:PORT takes IPv4 too)\n"
    "  -e, --exec CMD      relay each client to a program, /bin/sh -c CMD, instead of\n"
    "                      stdin/stdout; with -k one program per client, at once (like\n"
    "                      ncat -k -c, socat SYSTEM:; see below)\n"
    "  -i, --idle-timeout SEC\n"
    "                      close a client when no data has moved either way for SEC\n"
    "                      seconds; without -k listen then exits 1, as ncat -i does\n"
    "                      (default: never)\n";

static const char relay_options_help[] =
    "  -4, -6              resolve ENDPOINT to IPv4 / IPv6 addresses only (listen -6 on a\n"
    "                      wildcard listens on [::], which takes IPv4 too unless --v6only)\n"
    "      --nodelay       tcp:// endpoints: set TCP_NODELAY (small writes leave at once)\n"
    "  -v, --verbose       report listening, connections and ends on stderr, and at the end\n"
    "                      the bytes (datagrams: and datagrams) sent and received\n"
    "      --trace         print each socket call on stderr as it happens\n"
    "  -h, --help          show this help\n\n"
    "--exec: the program's stdin is what the peer sends, its stdout goes to the peer, its\n"
    "stderr is sockit's. Its exit ends nothing but its connection; a program still running\n"
    "when its connection is over gets SIGTERM.\n\n"
    "An option that would do nothing with the command and endpoint given (listen -t,\n"
    "--nodelay on a unix endpoint, --v6only with an IPv4 address...) is a usage error.\n\n"
    "Exit status: 0 the relay ended normally (or the peer closed and refused the rest of\n"
    "stdin), or listen was stopped by SIGINT/SIGTERM; 1 connect/listen or I/O failed, or\n"
    "--idle-timeout passed; 2 usage.\n\n"
    "Examples:\n"
    "  sockit listen tcp://:9000 > received.bin\n"
    "  sockit connect 127.0.0.1:9000 < file\n"
    "  echo hi | sockit connect unix:/tmp/echo.sock\n"
    "  sockit listen -k unix:@chat\n"
    "  sockit connect udp://[::1]:5353\n"
    "  sockit listen tcp://127.0.0.1:0                 (prints the port the kernel chose)\n"
    "  sockit connect -v --rate 100mbit udp://127.0.0.1:9000 < big.bin\n"
    "  sockit listen -k --exec 'tr a-z A-Z' tcp://:9000\n";

enum { OPT_TRACE = 256, OPT_NODELAY, OPT_V6ONLY };

/* "10mbit", "1.5gbit", "500pps": a positive number and a unit, into bits or datagrams per
 * second. Returns 0 or CLI_USAGE with a message. */
static int parse_rate(struct relay_config *cfg, const char *text)
{
    static const struct {
        const char *unit;
        double scale;
        bool pps;
    } units[] = {
        { "bit", 1, false },    { "kbit", 1e3, false }, { "mbit", 1e6, false },
        { "gbit", 1e9, false }, { "pps", 1, true },     { "kpps", 1e3, true },
    };
    char *end;
    double v = (text[0] >= '0' && text[0] <= '9') ? strtod(text, &end) : -1;

    for (size_t i = 0; v >= 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        double r = v * units[i].scale;
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        if (r < 1 || r > 1e12)
            return cli_usage(cfg->cmd, "--rate: %s is out of range (1bit or 1pps to 1000gbit)",
                             text);
        *(units[i].pps ? &cfg->rate_pps : &cfg->rate_bps) = (uint64_t)r;
        return 0;
    }
    return cli_usage(cfg->cmd,
                     "--rate: '%s' is not a rate: a number and a unit (bit, kbit, mbit, gbit, "
                     "pps, kpps), such as 10mbit or 500pps",
                     text);
}

static const struct option relay_options[] = {
    { "keep-open", no_argument, NULL, 'k' },
    { "timeout", required_argument, NULL, 't' },
    { "wait", required_argument, NULL, 'w' },
    { "rate", required_argument, NULL, 'r' },
    { "verbose", no_argument, NULL, 'v' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "exec", required_argument, NULL, 'e' },
    { "idle-timeout", required_argument, NULL, 'i' },
    { "source", required_argument, NULL, 's' },
    { "source-port", required_argument, NULL, 'p' },
    { "nodelay", no_argument, NULL, OPT_NODELAY },
    { "v6only", no_argument, NULL, OPT_V6ONLY },
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
        cfg->timeout_given = true;
        return err;
    case 'w':
        err = cli_number(cfg->cmd, "--wait", optarg, 0, 86400, &v);
        cfg->wait_ms = (int)v * 1000;
        cfg->wait_given = true;
        return err;
    case 'e': cfg->exec = optarg; return 0;
    case 'i':
        err = cli_number(cfg->cmd, "--idle-timeout", optarg, 1, 86400, &v);
        cfg->idle_ms = (unsigned)v * 1000;
        return err;
    case '4': cfg->opts.resolve = SOCKIT_RESOLVE_IPV4; return 0;
    case '6': cfg->opts.resolve = SOCKIT_RESOLVE_IPV6; return 0;
    case 's': cfg->source_host = optarg; return 0;
    case 'p': return cli_number(cfg->cmd, "--source-port", optarg, 1, 65535, &cfg->source_port);
    case OPT_NODELAY: cfg->opts.flags |= SOCKIT_NODELAY; return 0;
    case OPT_V6ONLY: cfg->opts.flags |= SOCKIT_V6ONLY; return 0;
    case 'r': return parse_rate(cfg, optarg);
    case 'v': cfg->verbose = true; return 0;
    case OPT_TRACE: cfg->opts.trace = &tracer->hook; return 0;
    }
    return cli_usage(cfg->cmd, "unknown option '%s'", optarg ? optarg : "?");
}

/* -t and -w: on a stream endpoint connect's -w is the connect timeout (ncat's meaning);
 * listen has no connect timeout and waits for no replies on a stream endpoint. */
static int check_timeouts(struct relay_config *cfg, bool listen, bool stream)
{
    const char *cmd = cfg->cmd;

    if (cfg->timeout_given && listen)
        return cli_usage(cmd, "--timeout is how long connect tries to connect: listen waits "
                              "for clients as long as it runs");
    if (cfg->timeout_given && !stream)
        return cli_usage(cmd, "--timeout is the connect timeout of stream endpoints: a "
                              "datagram connect does not wait (see --wait)");
    if (cfg->wait_given && listen && stream)
        return cli_usage(cmd, "--wait is how long a datagram relay waits for replies after "
                              "stdin ends: a stream relay ends when the client does");
    if (cfg->wait_given && cfg->timeout_given)
        return cli_usage(cmd, "--wait and --timeout are both the connect timeout on a stream "
                              "endpoint: give one");
    if (cfg->wait_given && stream)
        cfg->opts.timeout_ms = cfg->wait_ms;
    return 0;
}

/* -s and -p into CFG->source (an endpoint of ENDPOINT's transport), for connect to bind. */
static int check_source(struct relay_config *cfg, bool listen)
{
    const char *host = cfg->source_host ? cfg->source_host : "";
    bool v6 = strchr(host, ':') && host[0] != '[';
    char text[SOCKIT_HOST_MAX + 32];

    if (!cfg->source_host && !cfg->source_port)
        return 0;
    if (listen)
        return cli_usage(cfg->cmd, "--source and --source-port are where connect sends from: "
                                   "listen binds ENDPOINT");
    if (sockit_endpoint_is_unix(&cfg->ep))
        return cli_usage(cfg->cmd, "--source and --source-port need a tcp:// or udp:// "
                                   "endpoint");
    snprintf(text, sizeof(text), "%s%s%s%s:%lu", sockit_endpoint_scheme(cfg->ep.transport),
             v6 ? "[" : "", host, v6 ? "]" : "", cfg->source_port);
    if (sockit_endpoint_parse(text, &cfg->source) != 0)
        return cli_usage(cfg->cmd, "--source: '%s' is not an address or host name", host);
    cfg->opts.source = &cfg->source;
    return 0;
}

/* -4/-6 against an address written out in the other family. */
static int check_family(const struct relay_config *cfg)
{
    bool v6_literal = strchr(cfg->ep.host, ':') != NULL;
    int want = cfg->opts.resolve;

    if (want && sockit_endpoint_is_unix(&cfg->ep))
        return cli_usage(cfg->cmd, "-4 and -6 choose an IP family: a unix endpoint has none");
    if (want == SOCKIT_RESOLVE_IPV4 && (v6_literal || (cfg->opts.flags & SOCKIT_V6ONLY)))
        return cli_usage(cfg->cmd, "-4 asks for IPv4 only, and %s",
                         v6_literal ? "the endpoint's address is IPv6" : "--v6only for IPv6");
    if (want == SOCKIT_RESOLVE_IPV6 && inet_pton(AF_INET, cfg->ep.host, &(struct in_addr){ 0 }))
        return cli_usage(cfg->cmd, "-6 asks for IPv6 only, and %s is IPv4", cfg->ep.host);
    return 0;
}

/* Options that would do nothing with this command and endpoint are usage errors. */
static int check_args(struct relay_config *cfg)
{
    bool listen = strcmp(cfg->cmd, "listen") == 0, stream = sockit_endpoint_is_stream(&cfg->ep);
    int err = check_timeouts(cfg, listen, stream);

    if (err)
        return err;
    if (cfg->keep && (!listen || !stream))
        return cli_usage(cfg->cmd, "--keep-open needs 'listen' on a stream endpoint");
    if ((cfg->rate_bps | cfg->rate_pps) && (listen || stream))
        return cli_usage(cfg->cmd, "--rate paces datagrams: it needs 'connect' on a udp:// or "
                                   "unix-dgram: endpoint");
    if ((cfg->opts.flags & SOCKIT_V6ONLY) && !listen)
        return cli_usage(cfg->cmd, "--v6only is for listening sockets: connect to an IPv6 "
                                   "address instead");
    if ((err = check_source(cfg, listen)) != 0 || (err = check_family(cfg)) != 0)
        return err;
    return cli_sockopts_fit(cfg->cmd, &cfg->ep, cfg->opts.flags);
}

int relay_parse_args(int argc, char **argv, struct relay_config *cfg, struct cli_tracer *tracer)
{
    struct relay_args args = { cfg, tracer };
    int err = cli_parse_options(cfg->cmd, argc, argv, ":kt:w:r:vh46s:p:i:e:", relay_options,
                                strcmp(cfg->cmd, "listen") == 0 ? listen_help : connect_help,
                                relay_options_help, parse_option, &args);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage(cfg->cmd, optind >= argc ? "missing ENDPOINT" : "too many arguments");
    cfg->ep_text = argv[optind];
    err = strcmp(cfg->cmd, "listen") == 0 ? cli_listen_endpoint(cfg->cmd, cfg->ep_text, &cfg->ep)
                                          : cli_endpoint(cfg->cmd, cfg->ep_text, &cfg->ep);
    if (err)
        return err;
    return check_args(cfg);
}
