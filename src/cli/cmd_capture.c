/* sockit capture: frames off an AF_PACKET ring (or out of a pcap file), printed like tcpdump,
 * as JSON, or written to a pcap file. The ring, the filter, the decoder and the file writer
 * are the library's (sockit/capture.h, sockit/pcap.h, sockit/decode.h); this file parses
 * options and prints. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/capture.h"
#include "sockit/clock.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

static const char capture_help[] =
    "Usage: sockit capture [OPTIONS] [FILTER...]\n"
    "\n"
    "Capture the frames of a network interface with an AF_PACKET socket and a TPACKET_V3\n"
    "ring, and print one line per frame like tcpdump (time, interface, direction, then the\n"
    "decoded layers: Ethernet, 802.1Q, ARP, IPv4, IPv6, ICMP, ICMPv6, TCP, UDP), or write\n"
    "them to a pcap file. FILTER is tcpdump's filter language ('udp port 53', 'host\n"
    "10.0.0.1 and tcp'), compiled by libpcap and run in the kernel, so frames it rejects\n"
    "never reach this program. Needs CAP_NET_RAW (root) to capture; -r does not.\n"
    "\n"
    "Options:\n"
    "  -i, --interface IFACE   the interface (or packet:IFACE); 'any' (the default) captures\n"
    "                          every interface, cooked\n"
    "      --cooked            frames without their link-layer header (SOCK_DGRAM), with a\n"
    "                          Linux cooked header (LINUX_SLL2) instead\n"
    "      --promisc           promiscuous mode (PACKET_ADD_MEMBERSHIP): also frames for\n"
    "                          other hosts; left when the capture ends, however it ends\n"
    "  -c, --count N           stop after N frames\n"
    "  -d, --duration SEC      stop after SEC seconds\n"
    "  -s, --snaplen N         keep the first N bytes of each frame (default 262144)\n"
    "  -w, --write FILE        write the frames to FILE as pcap with nanosecond times ('-':\n"
    "                          stdout) instead of printing them\n"
    "  -r, --read FILE         read frames from a pcap or pcapng file instead of an\n"
    "                          interface ('-': stdin); FILTER, -c, -w, -x and --json apply\n"
    "  -x, --hex               after each line, the whole frame in hex and ASCII\n"
    "      --json              one JSON object per frame on stdout, and a summary object\n"
    "      --block-size KIB    ring block size in KiB, a power of two (default 1024)\n"
    "      --blocks N          ring blocks (default 64)\n"
    "  -q, --quiet             no live statistics and no summary on stderr\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n"
    "\n"
    "A line reads: time of day (nanoseconds), interface, direction (In, Out, B broadcast,\n"
    "M multicast, P for another host), then the layers. TCP sequence numbers are absolute\n"
    "(tcpdump -S). On a terminal a line on stderr tells each second the frames and bytes\n"
    "captured, their rate and the kernel's drops; at the end a summary says how many frames\n"
    "the filter passed and how many the kernel dropped because the ring was full.\n"
    "JSON: "
    "{\"ts\":\"SEC.NSEC\",\"ifname\":...,\"dir\":...,\"len\":...,\"caplen\":...,\"eth\":{...},\n"
    "\"ip\":{...},\"tcp\"|\"udp\"|\"icmp\":{...}}; last "
    "{\"summary\":{\"packets\":...,\"bytes\":...,\n"
    "\"kernel_packets\":...,\"kernel_drops\":...}}.\n"
    "Stops on SIGINT or SIGTERM (exit 0). Exit 1 if the interface does not exist, the\n"
    "capture is not permitted or a file cannot be read or written; 2 for a usage error,\n"
    "an invalid filter among them.\n"
    "\n"
    "Examples:\n"
    "  sockit capture -i eth0 tcp port 80\n"
    "  sockit capture -i any -c 10 --json icmp or icmp6\n"
    "  sockit capture -i veth0 -w out.pcap -d 10 && tshark -r out.pcap\n"
    "  sockit capture -r out.pcap 'udp and len > 100'\n";

enum {
    OPT_COOKED = 256,
    OPT_PROMISC,
    OPT_JSON,
    OPT_BLOCK_SIZE,
    OPT_BLOCKS,
    OPT_TRACE,
};

static const struct option capture_options[] = {
    { "interface", required_argument, NULL, 'i' },
    { "cooked", no_argument, NULL, OPT_COOKED },
    { "promisc", no_argument, NULL, OPT_PROMISC },
    { "count", required_argument, NULL, 'c' },
    { "duration", required_argument, NULL, 'd' },
    { "snaplen", required_argument, NULL, 's' },
    { "write", required_argument, NULL, 'w' },
    { "read", required_argument, NULL, 'r' },
    { "hex", no_argument, NULL, 'x' },
    { "json", no_argument, NULL, OPT_JSON },
    { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
    { "blocks", required_argument, NULL, OPT_BLOCKS },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct cap_config {
    const char *ifname, *write_path, *read_path;
    char *filter; /* the operands joined with spaces; NULL: none */
    unsigned long count, duration_s, snaplen, block_kib, blocks;
    bool cooked, promisc, hex, json, quiet, trace;
    struct cli_tracer tracer;
};

/* What one run counted, and where its output goes. */
struct cap_run {
    const struct cap_config *cfg;
    int linktype;
    struct sockit_pcap_writer *w; /* -w */
    FILE *out;                    /* printed lines */
    uint64_t packets, bytes, kernel_packets, kernel_drops;
    uint64_t last_packets, last_bytes, last_tick; /* the live line's previous second */
    time_t tod_sec;                               /* the cached time of day below */
    char tod[16];                                 /* "HH:MM:SS" of tod_sec */
    bool live;                                    /* the live line is on */
    const struct sock_fprog *user_filter; /* a filter the kernel cannot run: ours to apply */
};

static int parse_option(int c, void *ctx)
{
    struct cap_config *cfg = ctx;

    switch (c) {
    case 'i': cfg->ifname = optarg; return 0;
    case OPT_COOKED: cfg->cooked = true; return 0;
    case OPT_PROMISC: cfg->promisc = true; return 0;
    case 'c': return cli_number("capture", "--count", optarg, 1, ~0ul, &cfg->count);
    case 'd': return cli_number("capture", "--duration", optarg, 1, 31 * 86400, &cfg->duration_s);
    case 's': return cli_number("capture", "--snaplen", optarg, 1, 262144, &cfg->snaplen);
    case 'w': cfg->write_path = optarg; return 0;
    case 'r': cfg->read_path = optarg; return 0;
    case 'x': cfg->hex = true; return 0;
    case OPT_JSON: cfg->json = true; return 0;
    case OPT_BLOCK_SIZE:
        return cli_number("capture", "--block-size", optarg, 4, 1u << 20, &cfg->block_kib);
    case OPT_BLOCKS: return cli_number("capture", "--blocks", optarg, 1, 65536, &cfg->blocks);
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->trace = true; return 0;
    }
    return cli_usage("capture", "unknown option");
}

/* The operands as one filter expression, as tcpdump joins them. */
static int join_filter(struct cap_config *cfg, int argc, char **argv)
{
    size_t len = 1;

    for (int i = optind; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (optind >= argc)
        return 0;
    if (!(cfg->filter = calloc(1, len)))
        return cli_fail("capture", "filter", -ENOMEM);
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            strcat(cfg->filter, " ");
        strcat(cfg->filter, argv[i]);
    }
    return 0;
}

static int check_args(struct cap_config *cfg)
{
    struct sockit_endpoint ep;
    int err;

    if (cfg->block_kib && (cfg->block_kib & (cfg->block_kib - 1)))
        return cli_usage("capture", "--block-size must be a power of two (KiB)");
    if (cfg->json && (cfg->write_path || cfg->hex))
        return cli_usage("capture", "--json prints frames as JSON: not with -w or -x");
    if (cfg->read_path && (cfg->ifname || cfg->promisc || cfg->cooked))
        return cli_usage("capture", "-r reads a file: -i, --promisc and --cooked do not apply");
    if (cfg->ifname && strncmp(cfg->ifname, "packet:", 7) == 0) {
        if ((err = sockit_endpoint_parse(cfg->ifname, &ep)) < 0)
            return cli_usage("capture", "invalid interface '%s': %s", cfg->ifname,
                             sockit_strerror(err));
        cfg->ifname += 7;
    }
    if (cfg->promisc && (!cfg->ifname || strcmp(cfg->ifname, "any") == 0))
        return cli_usage("capture", "--promisc needs one interface (-i IFACE), not 'any'");
    return 0;
}

static int parse_args(int argc, char **argv, struct cap_config *cfg)
{
    int err = cli_parse_options("capture", argc, argv, ":i:c:d:s:w:r:xqh", capture_options,
                                capture_help, NULL, parse_option, cfg);

    if (err)
        return err;
    if ((err = check_args(cfg)) != 0)
        return err;
    return join_filter(cfg, argc, argv);
}

/* ---- printing --------------------------------------------------------------------------- */

static const char *dir_name(uint8_t pkttype)
{
    switch (pkttype) {
    case PACKET_HOST: return "In";
    case PACKET_BROADCAST: return "B";
    case PACKET_MULTICAST: return "M";
    case PACKET_OTHERHOST: return "P";
    case PACKET_OUTGOING: return "Out";
    default: return "?";
    }
}

static void print_hex(FILE *out, const uint8_t *data, uint32_t len)
{
    for (uint32_t off = 0; off < len; off += 16) {
        uint32_t n = len - off < 16 ? len - off : 16;
        fprintf(out, "\t0x%04x: ", off);
        for (uint32_t i = 0; i < 16; i++) {
            if (i < n)
                fprintf(out, "%s%02x", i % 2 ? "" : " ", data[off + i]);
            else
                fputs(i % 2 ? "  " : "   ", out);
        }
        fputs("  ", out);
        for (uint32_t i = 0; i < n; i++)
            fputc(data[off + i] >= 0x20 && data[off + i] < 0x7f ? data[off + i] : '.', out);
        fputc('\n', out);
    }
}

/* "HH:MM:SS" of SEC, local time, formatted once per second. */
static const char *time_of_day(struct cap_run *r, time_t sec)
{
    struct tm tm;

    if (sec != r->tod_sec) {
        localtime_r(&sec, &tm);
        strftime(r->tod, sizeof(r->tod), "%H:%M:%S", &tm);
        r->tod_sec = sec;
    }
    return r->tod;
}

/* The interface and direction of a frame: from the ring (live), or from a cooked header
 * (a file); NULL IFNAME when neither says. */
struct frame_where {
    const char *ifname;
    const char *dir;
};

static void where_of(const struct sockit_pkt *p, int ifindex, uint8_t pkttype, bool live,
                     struct frame_where *w, char name[IF_NAMESIZE])
{
    *w = (struct frame_where){ NULL, NULL };
    if (!live && (p->linktype == SOCKIT_LINK_LINUX_SLL || p->linktype == SOCKIT_LINK_LINUX_SLL2)) {
        pkttype = p->sll_pkttype;
        ifindex = p->sll_ifindex;
        live = true;
        if (!ifindex) { /* SLL v1 carries no interface */
            w->dir = dir_name(pkttype);
            return;
        }
    }
    if (!live)
        return;
    w->ifname = sockit_capture_ifname(ifindex, name);
    w->dir = dir_name(pkttype);
}

static void print_frame(struct cap_run *r, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                        uint32_t wirelen, int ifindex, uint8_t pkttype, bool live)
{
    char text[1024], name[IF_NAMESIZE];
    struct sockit_pkt p;
    struct frame_where w;
    time_t sec = (time_t)(ts_ns / 1000000000u);
    unsigned nsec = (unsigned)(ts_ns % 1000000000u);

    sockit_pkt_decode(&p, r->linktype, data, caplen, wirelen);
    where_of(&p, ifindex, pkttype, live, &w, name);
    if (r->cfg->json) {
        sockit_pkt_json(&p, text, sizeof(text));
        fprintf(r->out, "{\"ts\":\"%lld.%09u\"", (long long)sec, nsec);
        if (w.ifname) {
            fputs(",\"ifname\":", r->out);
            cli_json_string(r->out, w.ifname, strlen(w.ifname));
        }
        if (w.dir)
            fprintf(r->out, ",\"dir\":\"%s\"", w.dir);
        fprintf(r->out, ",%s}\n", text);
    } else {
        sockit_pkt_summary(&p, text, sizeof(text));
        fprintf(r->out, "%s.%09u ", time_of_day(r, sec), nsec);
        if (w.ifname)
            fprintf(r->out, "%s ", w.ifname);
        if (w.dir)
            fprintf(r->out, "%-3s ", w.dir);
        fprintf(r->out, "%s\n", text);
    }
    if (r->cfg->hex)
        print_hex(r->out, data, caplen);
}

/* One frame, live or from a file: written, or printed. Returns 0 or -errno (a write error). */
static int take_frame(struct cap_run *r, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, int ifindex, uint8_t pkttype, bool live)
{
    r->packets++;
    r->bytes += wirelen;
    if (r->w)
        return sockit_pcap_write(r->w, ts_ns, data, caplen, wirelen);
    print_frame(r, ts_ns, data, caplen, wirelen, ifindex, pkttype, live);
    return 0;
}

static void live_line(struct cap_run *r, uint64_t now)
{
    double secs = (double)(now - r->last_tick) / 1e9;

    if (!r->live)
        return;
    fprintf(stderr, "\r\033[Ksockit capture: %llu frames, %.1f MB, %.0f frames/s, %.1f MB/s",
            (unsigned long long)r->packets, (double)r->bytes / 1e6,
            (double)(r->packets - r->last_packets) / secs,
            (double)(r->bytes - r->last_bytes) / 1e6 / secs);
    if (r->kernel_drops)
        fprintf(stderr, ", %llu dropped by the kernel", (unsigned long long)r->kernel_drops);
    r->last_packets = r->packets;
    r->last_bytes = r->bytes;
    r->last_tick = now;
}

static void summary(struct cap_run *r, bool live)
{
    if (r->live)
        fputs("\r\033[K", stderr);
    if (r->cfg->json)
        fprintf(r->out,
                "{\"summary\":{\"packets\":%llu,\"bytes\":%llu,\"kernel_packets\":%llu,"
                "\"kernel_drops\":%llu}}\n",
                (unsigned long long)r->packets, (unsigned long long)r->bytes,
                (unsigned long long)r->kernel_packets, (unsigned long long)r->kernel_drops);
    if (r->cfg->quiet)
        return;
    fprintf(stderr, "sockit capture: %llu frame%s, %llu bytes", (unsigned long long)r->packets,
            r->packets == 1 ? "" : "s", (unsigned long long)r->bytes);
    if (live)
        fprintf(stderr, "; kernel: %llu passed the filter, %llu dropped (ring full)",
                (unsigned long long)r->kernel_packets, (unsigned long long)r->kernel_drops);
    fputc('\n', stderr);
}

/* ---- live capture ------------------------------------------------------------------------ */

static void add_stats(struct cap_run *r, struct sockit_capture *c)
{
    struct sockit_capture_stats st;

    if (sockit_capture_stats(c, &st) == 0) {
        r->kernel_packets += st.packets;
        r->kernel_drops += st.drops;
    }
}

/* Frames of the current block; true when the count is reached. ERR gets a write error. */
static bool drain_block(struct cap_run *r, struct sockit_capture *c, int *err)
{
    struct sockit_capture_packet p;

    while (sockit_capture_next(c, &p)) {
        if (r->user_filter && !sockit_bpf_match(r->user_filter, p.data, p.caplen, p.wirelen))
            continue;
        if ((*err = take_frame(r, p.ts_ns, p.data, p.caplen, p.wirelen, p.ifindex, p.pkttype,
                               true)) < 0)
            return true;
        if (r->cfg->count && r->packets >= r->cfg->count)
            return true;
    }
    return false;
}

/* A stop signal came. */
static bool stop_asked(int sigfd)
{
    struct signalfd_siginfo si;

    return read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

/* At a stop, frames may sit in a block the kernel is still filling: it hands that block over
 * once its timeout passes (10 ms by default), so wait a little for it and take what is there.
 * Returns 0 or a write error. */
static int drain_rest(struct cap_run *r, struct sockit_capture *c)
{
    uint64_t until = sockit_clock_ns() + 50000000u;
    int err = 0;

    while (sockit_clock_ns() < until && sockit_capture_wait(c, 20) > 0) {
        if (drain_block(r, c, &err))
            break;
    }
    return err;
}

static int capture_loop(struct cap_run *r, struct sockit_capture *c, int sigfd)
{
    uint64_t start = sockit_clock_ns(), now = start;
    uint64_t end = r->cfg->duration_s ? start + r->cfg->duration_s * 1000000000ull : 0;
    struct pollfd pfd[2] = { { sockit_capture_fd(c), POLLIN, 0 }, { sigfd, POLLIN, 0 } };
    int err = 0;

    r->last_tick = start;
    for (;;) {
        int n = sockit_capture_wait(c, 0);
        if (n < 0 && n != -EINTR)
            return n;
        if (n > 0 && drain_block(r, c, &err))
            goto done; /* the count is reached, or a write failed */
        if (n <= 0) {
            int ms = end ? (int)((end - now) / 1000000u) + 1 : 1000;
            poll(pfd, 2, ms < 1000 ? ms : 1000);
        }
        now = sockit_clock_ns();
        if (stop_asked(sigfd) || (end && now >= end))
            break;
        if (now - r->last_tick >= 1000000000u) {
            add_stats(r, c);
            live_line(r, now);
        }
    }
    err = drain_rest(r, c);
done:
    sockit_capture_release(c);
    add_stats(r, c);
    return err;
}

/* The filter compiled for LINKTYPE, adjusted for a cooked socket; *IN_KERNEL false when it
 * cannot run there (it reads the cooked header's addresses, or the length), so that we apply
 * it to each frame instead. 0, or an exit code. */
static int compile_filter(const struct cap_config *cfg, int linktype, struct sock_fprog *prog,
                          bool *in_kernel)
{
    char why[256] = "";
    int err = sockit_bpf_compile(prog, cfg->filter, linktype,
                                 cfg->snaplen ? (uint32_t)cfg->snaplen : 262144, why, sizeof(why));

    if (err == -SOCKIT_ECAP_FILTER)
        return cli_usage("capture", "invalid filter '%s': %s", cfg->filter, why);
    if (err < 0)
        return cli_fail("compile filter", cfg->filter, err);
    *in_kernel = true;
    if (linktype == SOCKIT_LINK_LINUX_SLL2 && (err = sockit_bpf_fix_cooked(prog, linktype)) < 0)
        *in_kernel = false; /* PROG is unchanged: it runs on the frames with our header */
    return 0;
}

static int open_capture(const struct cap_config *cfg, struct sockit_capture **c,
                        struct sock_fprog *prog, const struct sock_fprog **user_filter)
{
    bool in_kernel = true;
    const char *name = cfg->ifname ? cfg->ifname : "any";
    int linktype = sockit_capture_probe_linktype(name, cfg->cooked), rc;
    struct sockit_capture_options o = {
        .ifname = name,
        .cooked = cfg->cooked,
        .promisc = cfg->promisc,
        .snaplen = (uint32_t)cfg->snaplen,
        .block_size = (uint32_t)cfg->block_kib * 1024,
        .block_count = (uint32_t)cfg->blocks,
        .trace = cfg->trace ? &cfg->tracer.hook : NULL,
    };

    if (linktype < 0)
        return cli_fail("capture", name, linktype);
    if (cfg->filter && (rc = compile_filter(cfg, linktype, prog, &in_kernel)) != 0)
        return rc;
    o.filter = cfg->filter && in_kernel ? prog : NULL;
    *user_filter = cfg->filter && !in_kernel ? prog : NULL;
    if ((rc = sockit_capture_open(c, &o)) < 0)
        return cli_fail("capture", name, rc);
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static int open_writer(struct cap_run *r, int linktype, uint32_t snaplen)
{
    const char *path = r->cfg->write_path;
    int fd, err;

    if (!path)
        return 0;
    fd = strcmp(path, "-") == 0 ? dup(STDOUT_FILENO)
                                : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cli_fail("write", path, -errno);
    if ((err = sockit_pcap_writer_open(&r->w, fd, linktype, snaplen)) < 0)
        return cli_fail("write", path, err);
    return 0;
}

static int close_writer(struct cap_run *r)
{
    int err = sockit_pcap_writer_close(r->w);

    r->w = NULL;
    return err < 0 ? cli_fail("write", r->cfg->write_path, err) : 0;
}

static int run_live(const struct cap_config *cfg)
{
    struct cap_run r = { .cfg = cfg, .out = stdout };
    struct sock_fprog prog = { 0 };
    struct sockit_capture *c = NULL;
    int sigfd = cli_stop_signals(), rc, err; /* SIGINT, SIGTERM: polled beside the ring */

    if (sigfd < 0)
        return cli_fail("signalfd", NULL, sigfd);
    if ((rc = open_capture(cfg, &c, &prog, &r.user_filter)) != 0)
        goto out;
    r.linktype = sockit_capture_linktype(c);
    if ((rc = open_writer(&r, r.linktype, cfg->snaplen ? (uint32_t)cfg->snaplen : 262144)) != 0)
        goto out;
    r.live = !cfg->quiet && isatty(STDERR_FILENO);
    if (!cfg->quiet)
        fprintf(stderr, "sockit capture: listening on %s, link type %d, snaplen %lu\n",
                cfg->ifname ? cfg->ifname : "any", r.linktype,
                cfg->snaplen ? cfg->snaplen : 262144ul);
    err = capture_loop(&r, c, sigfd);
    fflush(stdout);
    rc = close_writer(&r);
    if (err < 0 && !rc)
        rc = cli_fail("capture", cfg->ifname ? cfg->ifname : "any", err);
    summary(&r, true);
out:
    sockit_capture_close(c);
    sockit_bpf_free(&prog);
    sockit_pcap_writer_close(r.w);
    if (sigfd >= 0)
        close(sigfd);
    return rc;
}

/* ---- reading a file ------------------------------------------------------------------------ */

static bool known_linktype(int linktype)
{
    return linktype == SOCKIT_LINK_ETHERNET || linktype == SOCKIT_LINK_RAW ||
           linktype == SOCKIT_LINK_LINUX_SLL || linktype == SOCKIT_LINK_LINUX_SLL2;
}

static int run_file(const struct cap_config *cfg)
{
    struct cap_run r = { .cfg = cfg, .out = stdout };
    struct sockit_pcap_reader *rd;
    struct sockit_pcap_record rec;
    char why[256] = "";
    int err, rc = 0;

    if ((err = sockit_pcap_reader_open(&rd, cfg->read_path, why, sizeof(why))) < 0) {
        if (err == -SOCKIT_ECAP_FILE && why[0])
            fprintf(stderr, "sockit: read %s: %s (%s)\n", cfg->read_path, sockit_strerror(err),
                    why);
        else
            cli_fail("read", cfg->read_path, err);
        return CLI_FAIL;
    }
    r.linktype = sockit_pcap_reader_linktype(rd);
    if (!known_linktype(r.linktype)) {
        fprintf(stderr,
                "sockit: read %s: %s (%d; known: 1 Ethernet, 101 raw IP, 113 and 276 "
                "Linux cooked)\n",
                cfg->read_path, sockit_strerror(-SOCKIT_ECAP_LINKTYPE), r.linktype);
        sockit_pcap_reader_close(rd);
        return CLI_FAIL;
    }
    if (cfg->filter && (err = sockit_pcap_reader_filter(rd, cfg->filter, why, sizeof(why))) < 0) {
        sockit_pcap_reader_close(rd);
        return cli_usage("capture", "invalid filter '%s': %s", cfg->filter, why);
    }
    if ((rc = open_writer(&r, r.linktype, sockit_pcap_reader_snaplen(rd))) != 0)
        goto out;
    while ((!cfg->count || r.packets < cfg->count) &&
           (err = sockit_pcap_read(rd, &rec, why, sizeof(why))) > 0) {
        if ((err = take_frame(&r, rec.ts_ns, rec.data, rec.caplen, rec.wirelen, 0, 0, false)) < 0)
            break;
    }
    fflush(stdout);
    rc = close_writer(&r);
    if (err < 0 && !rc) {
        fprintf(stderr, "sockit: read %s: %s%s%s%s\n", cfg->read_path, sockit_strerror(err),
                why[0] ? " (" : "", why, why[0] ? ")" : "");
        rc = CLI_FAIL;
    }
    summary(&r, false);
out:
    sockit_pcap_writer_close(r.w);
    sockit_pcap_reader_close(rd);
    return rc;
}

int cmd_capture(int argc, char **argv)
{
    struct cap_config cfg = { 0 };
    int rc;

    cli_tracer_init(&cfg.tracer, false);
    if ((rc = parse_args(argc, argv, &cfg)) != 0)
        return rc < 0 ? CLI_OK : rc;
    rc = cfg.read_path ? run_file(&cfg) : run_live(&cfg);
    free(cfg.filter);
    return rc;
}
