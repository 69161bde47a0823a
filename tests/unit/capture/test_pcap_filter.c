/* Unit tests for sockit/pcap.h, filters: libpcap's compile errors, the accept-all program,
 * sockit_pcap_reader_filter selecting exactly the records tcpdump selects for the same
 * expression, and programs for a cooked socket rewritten as libpcap rewrites them, then run
 * by the kernel on a real SOCK_DGRAM packet socket. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pcap_frames.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

TestSuite(pcap_filter, .init = tmp_open, .fini = tmp_close, .timeout = 60);
TestSuite(pcap_cooked, .timeout = 30);

/* ---------------------------------------------------------------- compiling */

static void expect_refused(const char *expr, int linktype, const char *reason)
{
    struct sock_fprog prog = { 1, (void *)1 };
    char err[256] = "";

    cr_expect_eq(sockit_bpf_compile(&prog, expr, linktype, 0, err, sizeof(err)),
                 -SOCKIT_ECAP_FILTER, "'%s'", expr);
    cr_expect(strstr(err, reason), "'%s': libpcap says \"%s\", expected \"%s\"", expr, err, reason);
    cr_expect(prog.len == 0 && prog.filter == NULL, "'%s': an empty program", expr);
    sockit_bpf_free(&prog);
}

Test(pcap_filter, a_bad_expression_is_refused_with_libpcaps_reason)
{
    expect_refused("tcp port", SOCKIT_LINK_ETHERNET, "syntax error");
    expect_refused("udp and", SOCKIT_LINK_ETHERNET, "syntax error");
    expect_refused("port 99999", SOCKIT_LINK_ETHERNET, "illegal port number 99999");
    expect_refused("proto foo", SOCKIT_LINK_ETHERNET, "unknown ip proto 'foo'");
    expect_refused("ether host 02:00:00:00:00:01", SOCKIT_LINK_LINUX_SLL2, "ethernet addresses");
    expect_refused("udp", 12345, "unknown data link type");
}

Test(pcap_filter, no_expression_is_one_instruction_that_accepts_the_snap_length)
{
    struct sock_fprog prog;
    struct frame f[MAX_FRAMES];

    frames_build(f);
    cr_assert_eq(sockit_bpf_compile(&prog, NULL, SOCKIT_LINK_ETHERNET, 0, NULL, 0), 0);
    cr_assert_eq(prog.len, 1);
    cr_expect_eq(prog.filter[0].code, BPF_RET | BPF_K);
    cr_expect_eq(prog.filter[0].k, 262144);
    cr_expect(sockit_bpf_match(&prog, f[0].bytes, f[0].caplen, f[0].wirelen));
    sockit_bpf_free(&prog);
    cr_assert_eq(sockit_bpf_compile(&prog, "", SOCKIT_LINK_LINUX_SLL, 96, NULL, 0), 0);
    cr_assert_eq(prog.len, 1);
    cr_expect_eq(prog.filter[0].k, 96, "ret #snaplen, as pcap_compile would");
    sockit_bpf_free(&prog);
    sockit_bpf_free(&prog);
    sockit_bpf_free(NULL);
}

Test(pcap_filter, a_program_returns_the_snap_length_and_matches_frames_in_user_space)
{
    struct sock_fprog prog;
    struct frame f[MAX_FRAMES];
    int n = frames_build(f), matched = 0;

    cr_assert_eq(sockit_bpf_compile(&prog, "arp", SOCKIT_LINK_ETHERNET, 128, NULL, 0), 0);
    cr_expect_eq(prog.filter[prog.len - 2].k, 128);
    for (int i = 0; i < n; i++)
        matched += sockit_bpf_match(&prog, f[i].bytes, f[i].caplen, f[i].wirelen);
    cr_expect_eq(matched, 1, "one ARP frame");
    cr_expect(!sockit_bpf_match(&prog, f[10].bytes, 13, 42), "an ethertype past CAPLEN drops");
    sockit_bpf_free(&prog);
}

Test(pcap_filter, a_bad_reader_filter_keeps_the_one_before)
{
    struct frame f[MAX_FRAMES];
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    char err[256];
    int n = 0;

    frames_write(tmp_path("f.pcap"), f, frames_build(f), SOCKIT_LINK_ETHERNET);
    cr_assert_eq(sockit_pcap_reader_open(&r, tmp_path("f.pcap"), NULL, 0), 0);
    cr_assert_eq(sockit_pcap_reader_filter(r, "arp", err, sizeof(err)), 0);
    cr_expect_eq(sockit_pcap_reader_filter(r, "arp or", err, sizeof(err)), -SOCKIT_ECAP_FILTER);
    cr_expect(strstr(err, "syntax error"), "%s", err);
    while (sockit_pcap_read(r, &rec, NULL, 0) == 1)
        n++;
    cr_expect_eq(n, 1, "still arp");
    sockit_pcap_reader_close(r);
}

/* ---------------------------------------------------------------- the same as tcpdump */

#define MAXLINES (MAX_FRAMES + 1)

static int our_times(const char *path, const char *expr, char (*times)[TOOL_LINE])
{
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    char err[256];
    int n = 0, rc;

    cr_assert_eq(sockit_pcap_reader_open(&r, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sockit_pcap_reader_filter(r, expr, err, sizeof(err)), 0, "'%s': %s", expr, err);
    while ((rc = sockit_pcap_read(r, &rec, NULL, 0)) == 1 && n < MAXLINES)
        ts_text(rec.ts_ns, times[n++], TOOL_LINE);
    cr_expect_eq(rc, 0);
    sockit_pcap_reader_close(r);
    return n;
}

static int tcpdump_times(const char *path, const char *expr, char (*times)[TOOL_LINE])
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "tcpdump -nn -tt --time-stamp-precision=nano -r %s '%s' 2>/dev/null "
             "| grep -v '^[[:space:]]' | cut -d' ' -f1",
             path, expr);
    return tool_lines(cmd, times, MAXLINES);
}

Test(pcap_filter, selects_the_records_tcpdump_selects)
{
    static const char *const exprs[] = {
        "udp",
        "tcp port 80",
        "host 10.0.0.1",
        "icmp or icmp6",
        "ip6",
        "arp",
        "vlan",
        "udp and len > 100",
        "ip",
        "tcp[tcpflags] & tcp-syn != 0",
        "not tcp",
        "net 10.0.0.0/30 and tcp",
    };
    char ours[MAXLINES][TOOL_LINE], theirs[MAXLINES][TOOL_LINE];
    struct frame f[MAX_FRAMES];
    int total = frames_build(f);
    const char *path = tmp_path("f.pcap");

    frames_write(path, f, total, SOCKIT_LINK_ETHERNET);
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        int n = our_times(path, exprs[e], ours), m = tcpdump_times(path, exprs[e], theirs);
        cr_expect_eq(n, m, "'%s': we select %d records, tcpdump %d", exprs[e], n, m);
        cr_expect(n > 0 && n < total, "'%s' selects %d of %d: a test that tells", exprs[e], n,
                  total);
        for (int i = 0; i < n && i < m; i++)
            cr_expect_str_eq(ours[i], theirs[i], "'%s': record %d", exprs[e], i);
    }
}

/* ---------------------------------------------------------------- cooked sockets */

#define AD(x) ((uint32_t)SKF_AD_OFF + (x))

static struct sock_fprog compile(const char *expr, int linktype)
{
    struct sock_fprog prog;
    char err[256];

    cr_assert_eq(sockit_bpf_compile(&prog, expr, linktype, 0, err, sizeof(err)), 0, "%s", err);
    return prog;
}

static bool is_packet_load(uint16_t code)
{
    int mode = BPF_MODE(code);

    return (BPF_CLASS(code) == BPF_LD || BPF_CLASS(code) == BPF_LDX) &&
           (mode == BPF_ABS || mode == BPF_IND || mode == BPF_MSH);
}

/* EXPR for LINKTYPE, fixed: every instruction is the same but packet loads; those past the
 * header HDRLEN move back by it; the ones inside it become the ancillary loads in FIELDS
 * (offset, ancillary pairs, ending at offset NO_FIELD; SKF_AD_PROTOCOL is 0). Returns how
 * many loads moved. */
#define NO_FIELD UINT32_MAX

struct field {
    uint32_t offset, ancillary;
};

static int expect_fixed(const char *expr, int linktype, uint32_t hdrlen, const struct field *fields)
{
    struct sock_fprog prog = compile(expr, linktype), orig = compile(expr, linktype);
    int moved = 0;

    cr_assert_eq(sockit_bpf_fix_cooked(&prog, linktype), 0, "'%s'", expr);
    cr_assert_eq(prog.len, orig.len);
    for (unsigned i = 0; i < prog.len; i++) {
        const struct sock_filter *a = &orig.filter[i], *b = &prog.filter[i];
        uint32_t want = a->k;
        cr_expect(a->code == b->code && a->jt == b->jt && a->jf == b->jf, "'%s' %u", expr, i);
        if (is_packet_load(a->code) && a->k >= hdrlen) {
            want = a->k - hdrlen;
            moved++;
        } else if (is_packet_load(a->code)) {
            want = NO_FIELD; /* a header byte the kernel lacks: refused, not fixed */
            for (const struct field *f = fields; f->offset != NO_FIELD; f++)
                if (f->offset == a->k)
                    want = AD(f->ancillary);
        }
        cr_expect_eq(b->k, want, "'%s' insn %u: k %#x from %#x, want %#x", expr, i, b->k, a->k,
                     want);
    }
    sockit_bpf_free(&prog);
    sockit_bpf_free(&orig);
    return moved;
}

static const struct field sll_fields[] = { { 0, SKF_AD_PKTTYPE },
                                           { 14, SKF_AD_PROTOCOL },
                                           { NO_FIELD, 0 } };
static const struct field sll2_fields[] = {
    { 0, SKF_AD_PROTOCOL }, { 4, SKF_AD_IFINDEX }, { 10, SKF_AD_PKTTYPE }, { NO_FIELD, 0 }
};

Test(pcap_cooked, sll_ip_loads_the_protocol_from_ancillary_data)
{
    struct sock_fprog prog = compile("ip", SOCKIT_LINK_LINUX_SLL);

    /* (000) ldh [14]  (001) jeq #0x800 jt 2 jf 3  (002) ret #262144  (003) ret #0 */
    cr_assert_eq(prog.len, 4);
    cr_assert_eq(sockit_bpf_fix_cooked(&prog, SOCKIT_LINK_LINUX_SLL), 0);
    cr_expect_eq(prog.filter[0].code, BPF_LD | BPF_H | BPF_ABS);
    cr_expect_eq(prog.filter[0].k, AD(SKF_AD_PROTOCOL));
    cr_expect_eq(prog.filter[1].k, 0x800);
    cr_expect_eq(prog.filter[2].k, 262144);
    sockit_bpf_free(&prog);
}

Test(pcap_cooked, sll_loads_past_the_header_move_back_16_bytes)
{
    cr_expect_gt(
        expect_fixed("udp dst port 5000 and inbound", SOCKIT_LINK_LINUX_SLL, 16, sll_fields), 4,
        "ldb [25], ldh [22], ldxb 4*([16]&0xf), ldh [x + 18]...");
    cr_expect_gt(
        expect_fixed("tcp[tcpflags] & tcp-syn != 0", SOCKIT_LINK_LINUX_SLL, 16, sll_fields), 2);
    cr_expect_gt(expect_fixed("icmp or icmp6 or arp", SOCKIT_LINK_LINUX_SLL, 16, sll_fields), 1);
    expect_fixed("inbound", SOCKIT_LINK_LINUX_SLL, 16, sll_fields);
}

Test(pcap_cooked, sll2_maps_protocol_ifindex_and_packet_type)
{
    struct sock_fprog prog = compile("ifindex 3 and inbound and ip", SOCKIT_LINK_LINUX_SLL2);
    uint32_t loads[3] = { 0 };
    int nloads = 0;

    cr_assert_eq(sockit_bpf_fix_cooked(&prog, SOCKIT_LINK_LINUX_SLL2), 0);
    for (unsigned i = 0; i < prog.len && nloads < 3; i++)
        if (is_packet_load(prog.filter[i].code))
            loads[nloads++] = prog.filter[i].k;
    cr_expect_eq(loads[0], AD(SKF_AD_IFINDEX), "ld [4]");
    cr_expect_eq(loads[1], AD(SKF_AD_PKTTYPE), "ldb [10]");
    cr_expect_eq(loads[2], AD(SKF_AD_PROTOCOL), "ldh [0]");
    sockit_bpf_free(&prog);
    cr_expect_gt(expect_fixed("tcp port 80 or icmp6", SOCKIT_LINK_LINUX_SLL2, 20, sll2_fields), 4);
}

static void expect_unfixable(const char *expr, int linktype, int code)
{
    struct sock_fprog prog = compile(expr, linktype), orig = compile(expr, linktype);

    cr_expect_eq(sockit_bpf_fix_cooked(&prog, linktype), code, "'%s'", expr);
    cr_expect_eq(memcmp(prog.filter, orig.filter, prog.len * sizeof(*prog.filter)), 0,
                 "'%s': the program is as it was", expr);
    sockit_bpf_free(&prog);
    sockit_bpf_free(&orig);
}

Test(pcap_cooked, other_header_bytes_the_length_and_other_link_types_are_refused)
{
    expect_unfixable("link[6] = 1", SOCKIT_LINK_LINUX_SLL, -SOCKIT_ECAP_FILTER);
    expect_unfixable("udp and link[2:2] = 772", SOCKIT_LINK_LINUX_SLL, -SOCKIT_ECAP_FILTER);
    expect_unfixable("link[12] = 6", SOCKIT_LINK_LINUX_SLL2, -SOCKIT_ECAP_FILTER);
    expect_unfixable("udp and len > 100", SOCKIT_LINK_LINUX_SLL, -SOCKIT_ECAP_FILTER);
    expect_unfixable("greater 200", SOCKIT_LINK_LINUX_SLL2, -SOCKIT_ECAP_FILTER);
    expect_unfixable("udp", SOCKIT_LINK_ETHERNET, -SOCKIT_ECAP_LINKTYPE);
}

/* The kernel runs the fixed program on a cooked socket on lo: of two datagrams, each seen
 * twice there (leaving and arriving), it keeps the arriving one to the port asked for. */
static int udp_socket(uint16_t *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void send_to(int fd, uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    cr_assert_eq(sendto(fd, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)), 4);
}

static int cooked_socket(const struct sock_fprog *prog)
{
    struct sockaddr_ll ll = { .sll_family = AF_PACKET,
                              .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = (int)if_nametoindex("lo") };
    int fd = socket(AF_PACKET, SOCK_DGRAM, 0); /* protocol 0: nothing arrives before bind */

    if (fd < 0 && (errno == EPERM || errno == EACCES))
        cr_skip_test("AF_PACKET needs CAP_NET_RAW");
    cr_assert_geq(fd, 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, sizeof(*prog)), 0,
                 "the kernel takes the program: %s", strerror(errno));
    cr_assert_eq(bind(fd, (struct sockaddr *)&ll, sizeof(ll)), 0);
    return fd;
}

Test(pcap_cooked, the_kernel_runs_the_fixed_program_on_a_cooked_socket)
{
    uint16_t port, other;
    int a = udp_socket(&port), b = udp_socket(&other), pkt, n;
    char expr[64];
    uint8_t buf[256];
    struct sockaddr_ll from;
    socklen_t len = sizeof(from);
    struct sock_fprog prog;

    snprintf(expr, sizeof(expr), "udp dst port %u and inbound", port);
    prog = compile(expr, SOCKIT_LINK_LINUX_SLL);
    cr_assert_eq(sockit_bpf_fix_cooked(&prog, SOCKIT_LINK_LINUX_SLL), 0);
    pkt = cooked_socket(&prog);
    send_to(b, port);
    send_to(a, other);
    cr_assert_eq(poll(&(struct pollfd){ .fd = pkt, .events = POLLIN }, 1, 2000), 1);
    n = (int)recvfrom(pkt, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
    cr_assert_eq(n, 20 + 8 + 4, "the IPv4 packet, no link header");
    cr_expect_eq(buf[0], 0x45);
    cr_expect_eq(buf[22] << 8 | buf[23], port, "to the port asked for");
    cr_expect_eq(from.sll_pkttype, PACKET_HOST, "the arriving copy");
    cr_expect_eq(poll(&(struct pollfd){ .fd = pkt, .events = POLLIN }, 1, 300), 0,
                 "the leaving copy and the other port were dropped");
    sockit_bpf_free(&prog);
    close(pkt);
    close(a);
    close(b);
}
