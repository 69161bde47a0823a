/* sockit inject: send whole frames on an interface, from hex on the command line or from a
 * pcap file, at the recorded timing, at a fixed rate or as fast as possible. The sending is
 * the library's (sockit/inject.h); this file parses options, paces and prints. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sockit/clock.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/inject.h"
#include "sockit/pcap.h"

static const char inject_help[] =
    "Usage: sockit inject -i IFACE [OPTIONS] [HEX...]\n"
    "       sockit inject -i IFACE -r FILE [OPTIONS]\n"
    "\n"
    "Send whole frames, link-layer header included, on one interface with an AF_PACKET\n"
    "socket: each HEX operand is one frame (hex digits, ':' '.' '-' allowed between bytes),\n"
    "or the frames of a pcap or pcapng file with an Ethernet link type. The kernel adds\n"
    "nothing: addresses and checksums go out as given. Frames are sent in batches of 64 with\n"
    "one sendmmsg() each. Needs CAP_NET_RAW (root).\n"
    "\n"
    "Options:\n"
    "  -i, --interface IFACE   the interface to send on (or packet:IFACE)\n"
    "  -r, --read FILE         the frames of FILE ('-': stdin), at their recorded timing\n"
    "                          unless --rate or --fast\n"
    "  -c, --count N           send N frames in all, repeating the input as needed (default:\n"
    "                          each frame once)\n"
    "      --rate PPS          at most PPS frames per second\n"
    "      --fast              as fast as the interface takes them (the default for HEX)\n"
    "      --qdisc-bypass      skip the interface's queueing discipline\n"
    "                          (PACKET_QDISC_BYPASS): faster, but no qdisc sees the frames\n"
    "      --json              print the summary as one JSON object on stdout\n"
    "  -q, --quiet             no summary on stderr\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n"
    "\n"
    "At the end a summary tells the frames and bytes sent, the time, the rate and the\n"
    "sendmmsg calls. JSON: {\"frames\":...,\"bytes\":...,\"seconds\":...,\"calls\":...}.\n"
    "Stops on SIGINT or SIGTERM (exit 0, with the summary). Exit 1 if the interface does not\n"
    "exist, sending is not permitted, a frame is larger than the interface's MTU allows or\n"
    "the file cannot be read; 2 for a usage error (bad hex among them).\n"
    "\n"
    "Examples:\n"
    "  sockit inject -i veth0 ffffffffffff02000000000108060001080006040001...\n"
    "  sockit inject -i veth0 -r capture.pcap\n"
    "  sockit inject -i veth0 -r udp.pcap -c 1000000 --fast --qdisc-bypass\n";

enum {
    OPT_RATE = 256,
    OPT_FAST,
    OPT_BYPASS,
    OPT_JSON,
    OPT_TRACE,
};

static const struct option inject_options[] = {
    { "interface", required_argument, NULL, 'i' },
    { "read", required_argument, NULL, 'r' },
    { "count", required_argument, NULL, 'c' },
    { "rate", required_argument, NULL, OPT_RATE },
    { "fast", no_argument, NULL, OPT_FAST },
    { "qdisc-bypass", no_argument, NULL, OPT_BYPASS },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

#define MAX_HEX_FRAME 65535

struct frame {
    uint8_t *data;
    size_t len;
};

struct inject_config {
    const char *ifname, *read_path;
    unsigned long count, rate;
    bool fast, bypass, json, quiet, trace;
    struct frame *frames; /* the HEX operands */
    int nframes;
    struct cli_tracer tracer;
};

/* The pacing and the stop signals of one run. */
struct pacer {
    uint64_t start, gap_ns; /* --rate: one frame every GAP_NS */
    uint64_t sent;          /* frames queued so far */
    sigset_t stop;          /* SIGINT, SIGTERM: blocked, waited for while pacing */
    bool stopped;
};

static int parse_option(int c, void *ctx)
{
    struct inject_config *cfg = ctx;

    switch (c) {
    case 'i': cfg->ifname = optarg; return 0;
    case 'r': cfg->read_path = optarg; return 0;
    case 'c': return cli_number("inject", "--count", optarg, 1, ~0ul, &cfg->count);
    case OPT_RATE: return cli_number("inject", "--rate", optarg, 1, 100000000, &cfg->rate);
    case OPT_FAST: cfg->fast = true; return 0;
    case OPT_BYPASS: cfg->bypass = true; return 0;
    case OPT_JSON: cfg->json = true; return 0;
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->trace = true; return 0;
    }
    return cli_usage("inject", "unknown option");
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* TEXT as bytes into F: pairs of hex digits, with ':', '.' or '-' allowed between bytes.
 * Returns 0, or CLI_USAGE naming the first bad character. */
static int parse_hex(const char *text, struct frame *f)
{
    size_t cap = strlen(text) / 2 + 1;

    if (!(f->data = malloc(cap)))
        return cli_fail("inject", "frame", -ENOMEM);
    f->len = 0;
    for (const char *p = text; *p;) {
        if (f->len && (*p == ':' || *p == '.' || *p == '-') && p[1]) {
            p++;
            continue;
        }
        int hi = hex_value(p[0]), lo = hi < 0 ? -1 : hex_value(p[1]);
        if (hi < 0 || lo < 0)
            return cli_usage("inject", "frame '%.40s%s': not hex at offset %zu", text,
                             strlen(text) > 40 ? "..." : "", (size_t)(p - text) + (hi < 0 ? 0 : 1));
        if (f->len == MAX_HEX_FRAME)
            return cli_usage("inject", "frame '%.40s...': longer than %d bytes", text,
                             MAX_HEX_FRAME);
        f->data[f->len++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct inject_config *cfg)
{
    int err = cli_parse_options("inject", argc, argv, ":i:r:c:qh", inject_options, inject_help,
                                NULL, parse_option, cfg);
    struct sockit_endpoint ep;

    if (err)
        return err;
    if (!cfg->ifname)
        return cli_usage("inject", "which interface? (-i IFACE)");
    if (strncmp(cfg->ifname, "packet:", 7) == 0) {
        if ((err = sockit_endpoint_parse(cfg->ifname, &ep)) < 0)
            return cli_usage("inject", "invalid interface '%s': %s", cfg->ifname,
                             sockit_strerror(err));
        cfg->ifname += 7;
    }
    if (cfg->fast && cfg->rate)
        return cli_usage("inject", "--fast and --rate: choose one");
    if (cfg->read_path && optind < argc)
        return cli_usage("inject", "frames come from -r FILE or from HEX operands, not both");
    if (!cfg->read_path && optind == argc)
        return cli_usage("inject", "no frames: give HEX operands or -r FILE");
    cfg->nframes = argc - optind;
    if (cfg->nframes && !(cfg->frames = calloc((size_t)cfg->nframes, sizeof(*cfg->frames))))
        return cli_fail("inject", "frames", -ENOMEM);
    for (int i = 0; i < cfg->nframes; i++) {
        if ((err = parse_hex(argv[optind + i], &cfg->frames[i])) != 0)
            return err;
    }
    return 0;
}

/* ---- pacing ------------------------------------------------------------------------------ */

/* Sleep until loop time DUE, waking for SIGINT/SIGTERM (then P->stopped). */
static void sleep_until(struct pacer *p, uint64_t due)
{
    uint64_t now = sockit_clock_ns();

    while (!p->stopped && now < due) {
        struct timespec ts = { (time_t)((due - now) / 1000000000u),
                               (long)((due - now) % 1000000000u) };
        if (sigtimedwait(&p->stop, NULL, &ts) > 0)
            p->stopped = true;
        now = sockit_clock_ns();
    }
}

/* One frame, sent when its time comes: DUE (loop time, 0: now). Frames due now are batched;
 * before a wait the batch goes out, so a frame never waits in it past its time. */
static int send_frame(struct sockit_inject *s, struct pacer *p, const uint8_t *data, size_t len,
                      uint64_t due)
{
    int err;

    if (p->gap_ns)
        due = p->start + p->sent * p->gap_ns;
    if (due > sockit_clock_ns()) {
        if ((err = sockit_inject_flush(s)) < 0)
            return err;
        sleep_until(p, due);
        if (p->stopped)
            return 0;
    } else if ((p->sent & 63) == 0 &&
               sigtimedwait(&p->stop, NULL, &(struct timespec){ 0, 0 }) > 0) {
        p->stopped = true; /* a look at the stop signals once a batch */
        return 0;
    }
    p->sent++;
    return sockit_inject_queue(s, data, len);
}

/* ---- sources ----------------------------------------------------------------------------- */

static int send_hex(const struct inject_config *cfg, struct sockit_inject *s, struct pacer *p)
{
    uint64_t total = cfg->count ? cfg->count : (uint64_t)cfg->nframes;
    int err = 0;

    for (uint64_t i = 0; i < total && !p->stopped && !err; i++) {
        const struct frame *f = &cfg->frames[i % (uint64_t)cfg->nframes];
        err = send_frame(s, p, f->data, f->len, 0);
    }
    return err;
}

/* One pass over the file; *LEFT frames still to send (UINT64_MAX: all there are). Returns 0,
 * or < 0 with WHY. Recorded timing: each frame at its offset from the first, from BASE. */
static int send_file_once(const struct inject_config *cfg, struct sockit_inject *s, struct pacer *p,
                          uint64_t *left, uint64_t *base, char *why, size_t whysize)
{
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    uint64_t first = 0, last = 0;
    bool recorded = !cfg->fast && !cfg->rate;
    int err = 0, n = 0;

    if ((err = sockit_pcap_reader_open(&r, cfg->read_path, why, whysize)) < 0)
        return err;
    if (sockit_pcap_reader_linktype(r) != SOCKIT_LINK_ETHERNET) {
        snprintf(why, whysize, "link type %d: only Ethernet frames can be sent",
                 sockit_pcap_reader_linktype(r));
        sockit_pcap_reader_close(r);
        return -SOCKIT_ECAP_LINKTYPE;
    }
    while (*left && !p->stopped && (n = sockit_pcap_read(r, &rec, why, whysize)) > 0) {
        if (!first)
            first = rec.ts_ns;
        last = rec.ts_ns;
        if (rec.caplen < rec.wirelen) {
            snprintf(why, whysize, "a frame of %u bytes was captured cut to %u", rec.wirelen,
                     rec.caplen);
            err = -EMSGSIZE;
            break;
        }
        if ((err = send_frame(s, p, rec.data, rec.caplen,
                              recorded ? *base + (rec.ts_ns - first) : 0)) < 0)
            break;
        if (*left != UINT64_MAX)
            (*left)--;
    }
    if (!err && n < 0)
        err = n;
    *base += last - first;
    sockit_pcap_reader_close(r);
    return err;
}

static int send_file(const struct inject_config *cfg, struct sockit_inject *s, struct pacer *p,
                     char *why, size_t whysize)
{
    uint64_t left = cfg->count ? cfg->count : UINT64_MAX, base = p->start, before;
    int err;

    do {
        before = p->sent;
        err = send_file_once(cfg, s, p, &left, &base, why, whysize);
    } while (!err && cfg->count && left && !p->stopped && p->sent > before &&
             strcmp(cfg->read_path, "-") != 0);
    return err;
}

/* ---- running ----------------------------------------------------------------------------- */

static void summary(const struct inject_config *cfg, struct sockit_inject *s, uint64_t ns)
{
    struct sockit_inject_stats st;
    double secs = (double)ns / 1e9;

    sockit_inject_stats(s, &st);
    if (cfg->json)
        printf("{\"frames\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"calls\":%llu}\n",
               (unsigned long long)st.frames, (unsigned long long)st.bytes, secs,
               (unsigned long long)st.calls);
    if (!cfg->quiet)
        fprintf(stderr,
                "sockit inject: %llu frame%s, %llu bytes in %.3f s: %.0f frames/s, %.3f Gbit/s "
                "(%llu sendmmsg call%s)\n",
                (unsigned long long)st.frames, st.frames == 1 ? "" : "s",
                (unsigned long long)st.bytes, secs, secs > 0 ? (double)st.frames / secs : 0.0,
                secs > 0 ? (double)st.bytes * 8 / secs / 1e9 : 0.0, (unsigned long long)st.calls,
                st.calls == 1 ? "" : "s");
}

static int run(const struct inject_config *cfg)
{
    struct sockit_inject_options o = { .ifname = cfg->ifname,
                                       .qdisc_bypass = cfg->bypass,
                                       .trace = cfg->trace ? &cfg->tracer.hook : NULL };
    struct sockit_inject *s;
    struct pacer p = { .gap_ns = cfg->rate ? 1000000000u / cfg->rate : 0 };
    sigset_t old;
    char why[256] = "";
    int err, rc = CLI_OK;

    if ((err = sockit_inject_open(&s, &o)) < 0)
        return cli_fail("inject", cfg->ifname, err);
    sigemptyset(&p.stop);
    sigaddset(&p.stop, SIGINT);
    sigaddset(&p.stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &p.stop, &old);
    p.start = sockit_clock_ns();
    err = cfg->read_path ? send_file(cfg, s, &p, why, sizeof(why)) : send_hex(cfg, s, &p);
    if (!err)
        err = sockit_inject_flush(s);
    if (err < 0) {
        const char *target = cfg->read_path && why[0] ? cfg->read_path : cfg->ifname;
        fprintf(stderr, "sockit: inject %s: %s%s%s%s\n", target, sockit_strerror(err),
                why[0] ? " (" : "", why, why[0] ? ")" : "");
        rc = CLI_FAIL;
    }
    summary(cfg, s, sockit_clock_ns() - p.start);
    sockit_inject_close(s);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int cmd_inject(int argc, char **argv)
{
    struct inject_config cfg = { 0 };
    int rc;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) == 0)
        rc = run(&cfg);
    for (int i = 0; i < cfg.nframes; i++)
        free(cfg.frames[i].data);
    free(cfg.frames);
    return rc < 0 ? CLI_OK : rc;
}
