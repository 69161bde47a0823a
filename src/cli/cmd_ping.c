/* sockit ping: ICMP and ICMPv6 echo with the library's ping session (sockit/ping.h). This file
 * parses options and prints, in iputils ping's words and exit status, or as JSON lines. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/error.h"
#include "sockit/ping.h"

static const char ping_help[] =
    "Usage: sockit ping [OPTIONS] HOST\n"
    "Send ICMP echo requests (IPv4) or ICMPv6 echo requests (IPv6) to HOST, a name or an\n"
    "address, one each interval; print each reply with its round-trip time and each ICMP\n"
    "error about a request (unreachable, time exceeded), then the statistics: in the words\n"
    "and with the exit status of iputils ping. The socket is a raw one when the process may\n"
    "open one (root, CAP_NET_RAW), else the kernel's ICMP datagram socket, which Linux opens\n"
    "for the groups in the sysctl net.ipv4.ping_group_range; -v says which, --trace shows\n"
    "the socket() call.\n"
    "\n"
    "Options:\n"
    "  -4, -6                IPv4 or IPv6 only (default: HOST's first address)\n"
    "  -c, --count N         stop after N requests (default: at SIGINT or -w); with -w,\n"
    "                        after N replies\n"
    "  -i, --interval SEC    seconds between requests (default 1; under 0.2 only as root)\n"
    "  -s, --size BYTES      payload bytes (default 56): 0 to 65507 over IPv4, 65527 over\n"
    "                        IPv6; round-trip times need 16, the send time travels in them\n"
    "  -W, --timeout SEC     after the last request, how long to wait when no reply came\n"
    "                        yet (default 10); once replies came, twice the longest RTT\n"
    "  -w, --deadline SEC    stop SEC seconds after the first request, whatever happens\n"
    "  -q, --quiet           only the first line and the statistics\n"
    "  -v, --verbose         say which socket was opened, and the echo identifier\n"
    "      --json            JSON lines on stdout instead of the text (below)\n"
    "      --trace           print each socket call on stderr as it happens\n"
    "  -h, --help            show this help\n"
    "\n"
    "Output, as iputils ping's (addresses as numbers, as ping -n):\n"
    "  PING HOST (ADDRESS) 56(84) bytes of data.           (IPv6: 56 data bytes)\n"
    "  64 bytes from ADDRESS: icmp_seq=1 ttl=64 time=0.045 ms\n"
    "  From ROUTER icmp_seq=3 Destination Host Unreachable\n"
    "  --- HOST ping statistics ---\n"
    "  5 packets transmitted, 4 received, +1 errors, 20% packet loss, time 4005ms\n"
    "  rtt min/avg/max/mdev = 0.040/0.050/0.061/0.008 ms\n"
    "A reply is marked (DUP!) when its request was answered already, (out of order) when a\n"
    "newer one was, (BAD CHECKSUM!) when its ICMP checksum is wrong (counted as corrupted);\n"
    "\"pipe N\" says that up to N requests were in flight at once.\n"
    "\n"
    "--json: one object per line on stdout, each with a \"type\":\n"
    "  start    host, address, size, socket (\"raw\" or \"dgram\"), id\n"
    "  reply    seq, from, bytes, ttl, time_ms (null under 16 bytes), dup, out_of_order,\n"
    "           truncated, bad_checksum\n"
    "  error    seq (null if unknown), from (null for a local error), error (its words)\n"
    "  summary  host, address, transmitted, received, duplicates, corrupted, errors,\n"
    "           out_of_order, loss_percent, time_ms, pipe, rtt_ms (null, or min, avg,\n"
    "           max, mdev), exit\n"
    "\n"
    "Stops after -c requests are answered or waited for, at -w, or at SIGINT or SIGTERM, and\n"
    "prints the statistics then. Exit status, as iputils ping's: 0 if a reply came (with -w\n"
    "and -c: N replies), 1 if none did (fewer than N), 2 for any other error: a usage error,\n"
    "a name that does not resolve, no socket (neither CAP_NET_RAW nor a group in\n"
    "net.ipv4.ping_group_range), an interval under 0.2 s without root.\n"
    "\n"
    "Examples:\n"
    "  sockit ping -c 3 127.0.0.1\n"
    "  sockit ping -6 -c 5 -i 0.2 ::1\n"
    "  sockit ping -c 10 -w 5 --json localhost\n";

enum {
    PING_NO_REPLY = 1, /* iputils' 1: no reply (or fewer than -c with -w) */
    PING_ERROR = 2,    /* iputils' 2: any other error, usage errors too */
    MIN_USER_INTERVAL_MS = 200,
    MAX_SECONDS = 2147483, /* INT_MAX milliseconds, as ping */
};

enum { OPT_JSON = 256, OPT_TRACE };

static const struct option ping_options[] = {
    { "count", required_argument, NULL, 'c' },
    { "interval", required_argument, NULL, 'i' },
    { "size", required_argument, NULL, 's' },
    { "timeout", required_argument, NULL, 'W' },
    { "deadline", required_argument, NULL, 'w' },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "json", no_argument, NULL, OPT_JSON },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct ping_config {
    const char *host;
    char address[NI_MAXHOST];
    int family; /* AF_UNSPEC unless -4 or -6 */
    struct sockit_ping_options o;
    struct cli_tracer tracer;
    bool quiet, verbose, json;
};

/* ---- options ------------------------------------------------------------------------------- */

/* SEC seconds ("2", "0.2", ".5") as milliseconds in [1, MAX_SECONDS s]; digits past the third
 * decimal are dropped, as ping drops them. */
static int parse_seconds(const char *opt, const char *text, uint32_t *ms)
{
    size_t whole = strspn(text, "0123456789");
    const char *frac = text[whole] == '.' ? text + whole + 1 : text + whole;
    size_t decimals = strspn(frac, "0123456789");
    unsigned long long v = 0;

    if (frac[decimals] != '\0' || whole + decimals == 0 || whole > 7)
        return cli_usage("ping", "%s: '%s' is not a number of seconds", opt, text);
    for (size_t i = 0; i < whole; i++)
        v = v * 10 + (unsigned)(text[i] - '0');
    for (size_t i = 0; i < 3; i++)
        v = v * 10 + (i < decimals ? (unsigned)(frac[i] - '0') : 0);
    if (v < 1 || v > MAX_SECONDS * 1000ull)
        return cli_usage("ping", "%s: %s is out of range (0.001 to %d seconds)", opt, text,
                         MAX_SECONDS);
    *ms = (uint32_t)v;
    return 0;
}

static int set_family(struct ping_config *cfg, int family)
{
    if (cfg->family != AF_UNSPEC && cfg->family != family)
        return cli_usage("ping", "only one of -4 and -6");
    cfg->family = family;
    return 0;
}

static int parse_option(int c, void *ctx)
{
    struct ping_config *cfg = ctx;
    unsigned long n;
    int err;

    switch (c) {
    case '4': return set_family(cfg, AF_INET);
    case '6': return set_family(cfg, AF_INET6);
    case 'c':
        if (!(err = cli_number("ping", "--count", optarg, 1, (unsigned long)LONG_MAX, &n)))
            cfg->o.count = n;
        return err;
    case 's':
        if (!(err = cli_number("ping", "--size", optarg, 0, SOCKIT_PING6_MAX_SIZE, &n)))
            cfg->o.size = n;
        return err;
    case 'i': return parse_seconds("--interval", optarg, &cfg->o.interval_ms);
    case 'W': return parse_seconds("--timeout", optarg, &cfg->o.linger_ms);
    case 'w': return parse_seconds("--deadline", optarg, &cfg->o.deadline_ms);
    case 'q': cfg->quiet = true; return 0;
    case 'v': cfg->verbose = true; return 0;
    case OPT_JSON: cfg->json = true; return 0;
    case OPT_TRACE: cfg->o.trace = &cfg->tracer.hook; return 0;
    }
    return cli_usage("ping", "unknown option");
}

static int parse_args(int argc, char **argv, struct ping_config *cfg)
{
    int err = cli_parse_options("ping", argc, argv, ":46c:i:s:W:w:qvh", ping_options, ping_help,
                                NULL, parse_option, cfg);

    if (err)
        return err;
    if (argc - optind != 1)
        return cli_usage("ping", argc == optind ? "which HOST?" : "one HOST at a time");
    cfg->host = argv[optind];
    if (cfg->o.interval_ms < MIN_USER_INTERVAL_MS && geteuid() != 0)
        return cli_usage("ping", "--interval: under 0.2 seconds only as root (as ping: a flood is "
                                 "for root)");
    return 0;
}

/* The size fits the family HOST resolved to: IPv4 packets carry 20 bytes more of header. */
static int check_size(const struct ping_config *cfg, int family)
{
    if (family == AF_INET && cfg->o.size > SOCKIT_PING4_MAX_SIZE)
        return cli_usage("ping",
                         "--size: %zu is over IPv4's %d bytes (65535, less 20 for the IPv4 "
                         "header and 8 for ICMP's)",
                         cfg->o.size, SOCKIT_PING4_MAX_SIZE);
    return 0;
}

/* ---- printing ------------------------------------------------------------------------------ */

static const char *address_text(const struct sockit_addr *a, char *buf, size_t size)
{
    if (a->u.sa.sa_family == 0 ||
        getnameinfo(&a->u.sa, a->len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, size, "?");
    return buf;
}

/* An RTT as ping prints it: three significant decimals or so, from microseconds. */
static void print_time(int64_t ns)
{
    long us = (long)(ns / 1000);

    if (us >= 100000 - 50)
        printf(" time=%ld ms", (us + 500) / 1000);
    else if (us >= 10000 - 5)
        printf(" time=%ld.%01ld ms", (us + 50) / 1000, ((us + 50) % 1000) / 100);
    else if (us >= 1000)
        printf(" time=%ld.%02ld ms", (us + 5) / 1000, ((us + 5) % 1000) / 10);
    else
        printf(" time=%ld.%03ld ms", us / 1000, us % 1000);
}

static void print_reply(const struct sockit_ping_event *ev)
{
    char from[NI_MAXHOST];

    printf("%zu bytes from %s: icmp_seq=%d", ev->len, address_text(&ev->from, from, sizeof(from)),
           ev->seq);
    if (ev->ttl >= 0)
        printf(" ttl=%d", ev->ttl);
    if (ev->truncated) {
        printf(" (truncated)\n");
        return;
    }
    if (ev->rtt_ns >= 0)
        print_time(ev->rtt_ns);
    printf("%s%s%s\n", ev->dup ? " (DUP!)" : "", ev->bad_checksum ? " (BAD CHECKSUM!)" : "",
           ev->late ? " (out of order)" : "");
    if (ev->bad_byte >= 0)
        printf("wrong data byte #%ld should be 0x%x but was 0x%x\n", ev->bad_byte,
               (unsigned)(ev->bad_byte & 0xff), ev->bad_value);
}

/* The words for an error event: ping's for an ICMP error, strerror for the others. */
static const char *error_text(const struct ping_config *cfg, const struct sockit_ping_event *ev,
                              char *buf, size_t size)
{
    int family = cfg->family;

    if (ev->kind == SOCKIT_PING_ICMP_ERROR)
        return sockit_ping_describe(family, ev->type, ev->code, ev->info, buf, size);
    if (ev->kind == SOCKIT_PING_LOCAL_ERROR && ev->err == -EMSGSIZE)
        snprintf(buf, size, "local error: message too long, mtu=%u", ev->info);
    else if (ev->kind == SOCKIT_PING_LOCAL_ERROR)
        snprintf(buf, size, "local error: %s", sockit_strerror(ev->err));
    else
        snprintf(buf, size, "sendto: %s", sockit_strerror(ev->err));
    return buf;
}

static void print_error(const struct ping_config *cfg, const struct sockit_ping_event *ev)
{
    char from[NI_MAXHOST], text[160];

    error_text(cfg, ev, text, sizeof(text));
    if (ev->kind == SOCKIT_PING_ICMP_ERROR) {
        printf("From %s icmp_seq=%d %s\n", address_text(&ev->from, from, sizeof(from)), ev->seq,
               text);
        return;
    }
    fflush(stdout);
    fprintf(stderr, "sockit: ping %s: %s\n", cfg->host, text);
}

static void json_reply(const struct sockit_ping_event *ev)
{
    char from[NI_MAXHOST];

    printf("{\"type\":\"reply\",\"seq\":%d,\"from\":\"%s\",\"bytes\":%zu,\"ttl\":", ev->seq,
           address_text(&ev->from, from, sizeof(from)), ev->len);
    printf(ev->ttl >= 0 ? "%d" : "null", ev->ttl);
    if (ev->rtt_ns >= 0)
        printf(",\"time_ms\":%.3f", (double)ev->rtt_ns / 1e6);
    else
        printf(",\"time_ms\":null");
    printf(",\"dup\":%s,\"out_of_order\":%s,\"truncated\":%s,\"bad_checksum\":%s}\n",
           ev->dup ? "true" : "false", ev->late ? "true" : "false",
           ev->truncated ? "true" : "false", ev->bad_checksum ? "true" : "false");
}

static void json_error(const struct ping_config *cfg, const struct sockit_ping_event *ev)
{
    char from[NI_MAXHOST], text[160];

    printf("{\"type\":\"error\",\"seq\":");
    printf(ev->seq >= 0 ? "%d" : "null", ev->seq);
    if (ev->kind == SOCKIT_PING_ICMP_ERROR)
        printf(",\"from\":\"%s\",\"error\":", address_text(&ev->from, from, sizeof(from)));
    else
        printf(",\"from\":null,\"error\":");
    error_text(cfg, ev, text, sizeof(text));
    cli_json_string(stdout, text, strlen(text));
    printf("}\n");
}

static void print_event(const struct ping_config *cfg, const struct sockit_ping_event *ev)
{
    bool reply = ev->kind == SOCKIT_PING_REPLY;

    if (cfg->quiet)
        return;
    if (cfg->json && reply)
        json_reply(ev);
    else if (cfg->json)
        json_error(cfg, ev);
    else if (reply)
        print_reply(ev);
    else
        print_error(cfg, ev);
    fflush(stdout);
}

static void print_start(const struct ping_config *cfg, const struct sockit_ping_info *info)
{
    if (cfg->verbose)
        fprintf(stderr, "sockit ping: %s, echo identifier %u%s\n",
                info->socktype == SOCK_RAW
                    ? "raw socket (CAP_NET_RAW)"
                    : "ICMP datagram socket (no CAP_NET_RAW; net.ipv4.ping_group_range allows it)",
                info->id, info->socktype == SOCK_RAW ? "" : " (the kernel's)");
    if (cfg->json) {
        printf("{\"type\":\"start\",\"host\":");
        cli_json_string(stdout, cfg->host, strlen(cfg->host));
        printf(",\"address\":\"%s\",\"size\":%zu,\"socket\":\"%s\",\"id\":%u}\n", cfg->address,
               cfg->o.size, info->socktype == SOCK_RAW ? "raw" : "dgram", info->id);
    } else if (info->family == AF_INET) {
        printf("PING %s (%s) %zu(%zu) bytes of data.\n", cfg->host, cfg->address, cfg->o.size,
               cfg->o.size + 28);
    } else {
        printf("PING %s (%s) %zu data bytes\n", cfg->host, cfg->address, cfg->o.size);
    }
    fflush(stdout);
}

/* Nanoseconds as ping's milliseconds: truncated to the microsecond, three decimals. */
static const char *ms_text(int64_t ns, char *buf, size_t size)
{
    long long us = ns / 1000;

    snprintf(buf, size, "%lld.%03lld", us / 1000, us % 1000);
    return buf;
}

static void text_summary(const struct ping_config *cfg, const struct sockit_ping_stats *st)
{
    char a[32], b[32], c[32], d[32];

    printf("\n--- %s ping statistics ---\n%lu packets transmitted, %lu received", cfg->host,
           st->transmitted, st->received);
    if (st->duplicates)
        printf(", +%lu duplicates", st->duplicates);
    if (st->corrupted)
        printf(", +%lu corrupted", st->corrupted);
    if (st->errors)
        printf(", +%lu errors", st->errors);
    if (st->transmitted)
        printf(", %g%% packet loss, time %llums", (float)st->loss_percent,
               (unsigned long long)((st->time_ns + 500000) / 1000000));
    printf("\n");
    if (st->timed)
        printf("rtt min/avg/max/mdev = %s/%s/%s/%s ms", ms_text(st->rtt_min_ns, a, sizeof(a)),
               ms_text(st->rtt_avg_ns, b, sizeof(b)), ms_text(st->rtt_max_ns, c, sizeof(c)),
               ms_text(st->rtt_mdev_ns, d, sizeof(d)));
    if (st->pipe > 1)
        printf("%spipe %u", st->timed ? ", " : "", st->pipe);
    printf("\n");
}

static void json_summary(const struct ping_config *cfg, const struct sockit_ping_stats *st,
                         int status)
{
    printf("{\"type\":\"summary\",\"host\":");
    cli_json_string(stdout, cfg->host, strlen(cfg->host));
    printf(",\"address\":\"%s\",\"transmitted\":%lu,\"received\":%lu,\"duplicates\":%lu,"
           "\"corrupted\":%lu,\"errors\":%lu,\"out_of_order\":%lu,\"loss_percent\":%g,"
           "\"time_ms\":%llu,\"pipe\":%u,\"rtt_ms\":",
           cfg->address, st->transmitted, st->received, st->duplicates, st->corrupted, st->errors,
           st->late, (float)st->loss_percent,
           (unsigned long long)((st->time_ns + 500000) / 1000000), st->pipe);
    if (st->timed)
        printf("{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f,\"mdev\":%.3f}",
               (double)st->rtt_min_ns / 1e6, (double)st->rtt_avg_ns / 1e6,
               (double)st->rtt_max_ns / 1e6, (double)st->rtt_mdev_ns / 1e6);
    else
        printf("null");
    printf(",\"exit\":%d}\n", status);
}

/* ---- running ------------------------------------------------------------------------------- */

/* Neither socket: say why in one line, with the sysctl's range as it stands. */
static int no_socket(const struct ping_config *cfg)
{
    char range[64] = "?";
    FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");

    if (f) {
        if (fgets(range, sizeof(range), f))
            range[strcspn(range, "\n")] = '\0';
        for (char *t = strchr(range, '\t'); t; t = strchr(t, '\t'))
            *t = ' ';
        fclose(f);
    }
    fprintf(stderr,
            "sockit: ping %s: no ICMP socket: a raw one needs CAP_NET_RAW (root), a datagram "
            "one a group (now %d) in net.ipv4.ping_group_range (now \"%s\")\n",
            cfg->host, (int)getegid(), range);
    return PING_ERROR;
}

static int run(const struct ping_config *cfg, struct sockit_ping *p, int stop_fd)
{
    struct sockit_ping_event ev;
    struct sockit_ping_stats st;
    int rc, status;

    while ((rc = sockit_ping_next(p, stop_fd, &ev)) == 1)
        print_event(cfg, &ev);
    if (rc < 0 && rc != -ECANCELED)
        fprintf(stderr, "sockit: ping %s: %s\n", cfg->host, sockit_strerror(rc));
    sockit_ping_stats(p, &st);
    status = rc < 0 && rc != -ECANCELED ? PING_ERROR : st.success ? CLI_OK : PING_NO_REPLY;
    if (cfg->json)
        json_summary(cfg, &st, status);
    else
        text_summary(cfg, &st);
    return status;
}

static int open_and_run(struct ping_config *cfg, const struct sockit_addr *to)
{
    struct sockit_ping *p;
    struct sockit_ping_info info;
    int err, rc, stop_fd;

    if ((err = sockit_ping_open(&p, to, &cfg->o)) < 0) {
        if (err == -EPERM || err == -EACCES)
            return no_socket(cfg);
        cli_fail("ping", cfg->host, err);
        return PING_ERROR;
    }
    if ((stop_fd = cli_stop_signals()) < 0) {
        sockit_ping_close(p);
        cli_fail("signalfd", NULL, stop_fd);
        return PING_ERROR;
    }
    sockit_ping_info(p, &info);
    cfg->family = info.family;
    print_start(cfg, &info);
    rc = run(cfg, p, stop_fd);
    sockit_ping_close(p);
    close(stop_fd);
    return rc;
}

int cmd_ping(int argc, char **argv)
{
    struct ping_config cfg = {
        .family = AF_UNSPEC,
        .o = { .size = SOCKIT_PING_DEFAULT_SIZE, .interval_ms = 1000, .linger_ms = 10000 },
    };
    struct sockit_addr to;
    int rc, err;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : PING_ERROR;
    if ((err = sockit_ping_resolve(cfg.host, cfg.family, &to)) < 0) {
        char shown[CLI_QUOTE_SIZE];
        cli_fail("ping", cli_quote(cfg.host, shown, sizeof(shown)), err);
        return PING_ERROR;
    }
    if ((rc = check_size(&cfg, to.u.sa.sa_family)) != 0)
        return PING_ERROR;
    address_text(&to, cfg.address, sizeof(cfg.address));
    return open_and_run(&cfg, &to);
}
