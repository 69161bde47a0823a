/* sockit capture and sockit inject on a real link: two network namespaces joined by a veth
 * pair (tests/support/netns.h). Frames sent with `sockit inject` from A are captured in B,
 * exactly (count, bytes); the files we write are read by tshark and tcpdump (real peers) with
 * the same counts; our filters select what tcpdump's select; promiscuous mode sees frames for
 * another MAC and the default does not; and every failure is one clear line with its exit
 * status. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/netns.h"
#include "sockit/decode.h"
#include "sockit/pcap.h"

static struct h_netpair net;
static char dir[64]; /* this test's scratch folder */

static void setup(void)
{
    if (!h_netns_available())
        cr_skip_test("network namespaces need root");
    h_netpair_create(&net);
    h_tmp_path(dir, sizeof(dir), "capture");
    cr_assert_eq(mkdir(dir, 0755), 0);
}

static void teardown(void)
{
    char cmd[128];

    h_cleanup_tracked();
    h_netpair_destroy(&net);
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        cr_expect_eq(system(cmd), 0);
    }
}

TestSuite(capture, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ----------------------------------------------------------------------------- */

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void mac_bytes(const char *text, uint8_t mac[6])
{
    unsigned v[6];

    cr_assert_eq(sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6,
                 "MAC '%s'", text);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* An Ethernet + IPv4 + UDP frame from A to DST_MAC (B's unless told), PAYLOAD bytes of
 * payload to DPORT, into F; its length. */
static size_t udp_frame(uint8_t *f, const uint8_t dst_mac[6], uint16_t dport, size_t payload,
                        unsigned seed)
{
    uint8_t src[6];
    struct in_addr a, b;
    size_t ip_len = 20 + 8 + payload;

    mac_bytes(net.mac_a, src);
    inet_pton(AF_INET, net.ip_a, &a);
    inet_pton(AF_INET, net.ip_b, &b);
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45, ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len;
    ip[6] = 0x40, ip[8] = 64, ip[9] = 17;
    memcpy(ip + 12, &a, 4);
    memcpy(ip + 16, &b, 4);
    uint16_t sum = ip_checksum(ip, 20);
    ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
    uint8_t *udp = ip + 20;
    udp[0] = 0x30, udp[1] = 0x39; /* 12345 */
    udp[2] = (uint8_t)(dport >> 8), udp[3] = (uint8_t)dport;
    udp[4] = (uint8_t)((8 + payload) >> 8), udp[5] = (uint8_t)(8 + payload);
    udp[6] = udp[7] = 0; /* no checksum: allowed over IPv4 */
    h_fill(udp + 8, payload, seed);
    return 14 + ip_len;
}

/* Write N UDP frames of varying sizes (to DST_MAC, port DPORT) as a pcap file at PATH;
 * the total of their lengths. */
static uint64_t write_frames(const char *path, int n, const uint8_t dst_mac[6], uint16_t dport)
{
    static uint8_t frame[1514];
    struct sockit_pcap_writer *w;
    uint64_t total = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert_geq(fd, 0);
    cr_assert_eq(sockit_pcap_writer_open(&w, fd, SOCKIT_LINK_ETHERNET, 65535), 0);
    for (int i = 0; i < n; i++) {
        size_t len = udp_frame(frame, dst_mac, dport, (size_t)(18 + (i * 37) % 1450), (unsigned)i);
        cr_assert_eq(sockit_pcap_write(w, 1000000000ull * 1700000000 + (uint64_t)i * 1000, frame,
                                       (uint32_t)len, (uint32_t)len),
                     0);
        total += len;
    }
    cr_assert_eq(sockit_pcap_writer_close(w), 0);
    return total;
}

/* Start `sockit capture ARGS...` inside namespace NS and wait until it listens. */
static struct proc *start_capture(const char *ns, const char *const args[])
{
    const char *argv[32] = { "ip", "netns", "exec", ns, h_sockit(), "capture" };
    int n = 6;

    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct proc *p = h_start_tracked("sockit capture", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(p, "listening on", 5000), "sockit capture did not start");
    return p;
}

/* Run a shell command; its standard output (malloc'd, NUL-terminated). */
static char *run_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run_out(const char *fmt, ...)
{
    char cmd[2048];
    size_t cap = 1 << 20, len = 0, n;
    char *out = malloc(cap);
    va_list ap;
    FILE *f;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_not_null(out);
    cr_assert_not_null(f = popen(cmd, "r"), "%s", cmd);
    while (len < cap - 1 && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    out[len] = '\0';
    pclose(f);
    return out;
}

/* A shell command's output read as a number (a count from wc -l). */
static long run_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long run_count(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    char *out;
    long n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    out = run_out("%s", cmd);
    n = strtol(out, NULL, 10);
    free(out);
    return n;
}

/* ---- exact capture ----------------------------------------------------------------------- */

/* 1000 frames of 60 to 1492 bytes injected from A: B's capture writes exactly those 1000,
 * byte for byte in length, and tshark and tcpdump both read 1000 frames of the same total. */
Test(capture, captures_exactly_the_frames_injected)
{
    char frames[128], out[128];
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    path_of(frames, sizeof(frames), "frames.pcap");
    path_of(out, sizeof(out), "out.pcap");
    uint64_t total = write_frames(frames, 1000, mac_b, 9999);
    const char *args[] = { "-i", net.if_b,        "-w", out, "-c", "1000", "-d",
                           "20", "udp port 9999", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    cr_assert_eq(
        h_netns_sh(net.ns_a, "%s inject -i %s -r %s --fast -q", h_sockit(), net.if_a, frames), 0);
    cr_assert_eq(h_wait(cap, 20000), 0, "capture: %s", h_text_of(cap, true, NULL));
    cr_expect(strstr(h_text_of(cap, true, NULL), "1000 frames") != NULL, "%s",
              h_text_of(cap, true, NULL));
    cr_expect_eq(run_count("tshark -r %s 2>/dev/null | wc -l", out), 1000);
    cr_expect_eq(run_count("tcpdump -r %s 2>/dev/null | wc -l", out), 1000);
    char *sum = run_out("tshark -r %s -T fields -e frame.len 2>/dev/null | "
                        "awk '{s+=$1} END {print s}'",
                        out);
    cr_expect_eq(strtoull(sum, NULL, 10), total, "tshark's total %s, sent %llu", sum,
                 (unsigned long long)total);
    free(sum);
}

/* The frames of our file and tshark's reading of it agree field by field: our --json against
 * `tshark -T fields`, for traffic of every kind the decoder knows (ARP, ICMP, ICMPv6 with
 * neighbour discovery, TCP with options, UDP), made by real tools in the namespaces. */
Test(capture, json_fields_match_tshark)
{
    char out[128], cmd[512];

    path_of(out, sizeof(out), "mixed.pcap");
    const char *args[] = { "-i", net.if_b, "-w", out, "-d", "4", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    cr_assert_eq(h_netns_sh(net.ns_a, "ping -c 2 -i 0.2 %s >/dev/null", net.ip_b), 0);
    cr_assert_eq(h_netns_sh(net.ns_a, "ping -6 -c 2 -i 0.2 %s >/dev/null", net.ip6_b), 0);
    snprintf(cmd, sizeof(cmd),
             "(timeout 3 socat -u TCP-LISTEN:7777,reuseaddr - >/dev/null &"
             " timeout 3 socat -u UDP-RECV:7778 - >/dev/null & sleep 0.3; wait) ");
    h_netns_sh(net.ns_b, "%s &", cmd);
    h_sleep_ms(400);
    cr_assert_eq(h_netns_sh(net.ns_a, "echo hello | socat -u - TCP:%s:7777", net.ip_b), 0);
    cr_assert_eq(h_netns_sh(net.ns_a, "echo hi | socat -u - UDP:%s:7778", net.ip_b), 0);
    cr_assert_eq(h_wait(cap, 10000), 0, "capture: %s", h_text_of(cap, true, NULL));
    snprintf(cmd, sizeof(cmd), "python3 tests/support/compare_tshark.py %s %s", h_sockit(), out);
    char *report = run_out("%s 2>&1; echo rc=$?", cmd);
    cr_expect(strstr(report, "rc=0") != NULL, "%s", report);
    free(report);
}

/* For each expression, our filter on a file selects as many frames as tcpdump's does. */
Test(capture, filters_select_what_tcpdump_selects)
{
    static const char *const exprs[] = { "udp",
                                         "tcp",
                                         "icmp",
                                         "icmp6",
                                         "arp",
                                         "ip6",
                                         "host %s",
                                         "tcp port 7777",
                                         "udp and len > 100",
                                         "tcp[tcpflags] & tcp-syn != 0",
                                         "not ip",
                                         "ether broadcast" };
    char out[128], expr[128];

    path_of(out, sizeof(out), "mixed2.pcap");
    const char *args[] = { "-i", net.if_b, "-w", out, "-d", "3", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    h_netns_sh(net.ns_b, "timeout 2 socat -u TCP-LISTEN:7777,reuseaddr - >/dev/null &");
    cr_assert_eq(h_netns_sh(net.ns_a, "ping -c 2 -i 0.2 %s >/dev/null", net.ip_b), 0);
    cr_assert_eq(h_netns_sh(net.ns_a, "ping -6 -c 1 %s >/dev/null", net.ip6_b), 0);
    h_sleep_ms(300);
    h_netns_sh(net.ns_a, "echo x | socat -u - TCP:%s:7777", net.ip_b);
    h_netns_sh(net.ns_a, "head -c 300 /dev/zero | socat -u - UDP:%s:7778", net.ip_b);
    cr_assert_eq(h_wait(cap, 10000), 0);
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        snprintf(expr, sizeof(expr), exprs[i], net.ip_a);
        long ours = run_count("%s capture -q -r %s '%s' | wc -l", h_sockit(), out, expr);
        long theirs = run_count("tcpdump -r %s '%s' 2>/dev/null | wc -l", out, expr);
        cr_expect_eq(ours, theirs, "'%s': we select %ld frames, tcpdump %ld", expr, ours, theirs);
        cr_expect_gt(theirs, 0, "'%s' selects nothing: the traffic lacks a kind", expr);
    }
}

/* On "any" the socket is cooked (SOCK_DGRAM) and the filter, compiled for LINUX_SLL2, is
 * rewritten for a socket that sees no link header: it still selects only our frames, and the
 * file is LINUX_SLL2 that tshark reads with the interface index. */
Test(capture, any_interface_is_cooked_and_filtered_in_the_kernel)
{
    char frames[128], out[128];
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    path_of(frames, sizeof(frames), "f.pcap");
    path_of(out, sizeof(out), "any.pcap");
    write_frames(frames, 50, mac_b, 9997);
    const char *args[] = { "-i", "any", "-w", out, "-c", "50", "-d", "10", "udp port 9997", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    cr_assert_eq(
        h_netns_sh(net.ns_a, "%s inject -i %s -r %s --fast -q", h_sockit(), net.if_a, frames), 0);
    cr_assert_eq(h_wait(cap, 15000), 0, "capture: %s", h_text_of(cap, true, NULL));
    char *types = run_out("tshark -r %s -T fields -e frame.encap_type -e udp.dstport 2>/dev/null"
                          " | sort | uniq -c",
                          out);
    cr_expect(strstr(types, "50 ") != NULL && strstr(types, "9997") != NULL, "%s", types);
    free(types);
    cr_expect_eq(run_count("tcpdump -r %s 2>/dev/null | wc -l", out), 50);
}

/* Frames for another MAC reach B's veth: only --promisc shows them, and the interface is
 * promiscuous exactly while that capture runs. */
Test(capture, promiscuous_mode_sees_other_hosts_frames_and_only_then)
{
    static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
    char frames[128], cmd[256];

    path_of(frames, sizeof(frames), "other.pcap");
    write_frames(frames, 20, other, 9996);
    snprintf(cmd, sizeof(cmd), "%s inject -i %s -r %s --fast -q", h_sockit(), net.if_a, frames);
    for (int promisc = 0; promisc < 2; promisc++) {
        const char *args[] = {
            "-i", net.if_b, "-d", "2", "--json", "udp port 9996", promisc ? "--promisc" : NULL, NULL
        };
        struct proc *cap = start_capture(net.ns_b, args);
        char *link = run_out("ip -n %s -d link show %s", net.ns_b, net.if_b);
        cr_expect(strstr(link, promisc ? "promiscuity 1" : "promiscuity 0") != NULL, "%s", link);
        free(link);
        cr_assert_eq(h_netns_sh(net.ns_a, "%s", cmd), 0);
        cr_assert_eq(h_wait(cap, 10000), 0);
        const char *json = h_text_of(cap, false, NULL);
        cr_expect(strstr(json, promisc ? "\"packets\":20" : "\"packets\":0") != NULL,
                  "promisc %d: %s", promisc, json);
    }
    char *link = run_out("ip -n %s -d link show %s", net.ns_b, net.if_b);
    cr_expect(strstr(link, "promiscuity 0") != NULL, "left promiscuous: %s", link);
    free(link);
}

/* Killed with SIGKILL (no cleanup code runs), the capture still leaves promiscuous mode: the
 * membership belongs to the socket, and the kernel drops it with the socket. */
Test(capture, promiscuous_mode_ends_with_the_process_even_on_sigkill)
{
    const char *args[] = { "-i", net.if_b, "--promisc", "-w", "/dev/null", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    char *link = run_out("ip -n %s -d link show %s", net.ns_b, net.if_b);

    cr_expect(strstr(link, "promiscuity 1") != NULL, "%s", link);
    free(link);
    h_stop(cap, SIGKILL, 5000);
    link = run_out("ip -n %s -d link show %s", net.ns_b, net.if_b);
    cr_expect(strstr(link, "promiscuity 0") != NULL, "%s", link);
    free(link);
}

/* SIGINT ends a capture with exit 0 and its summary; --trace shows the setup call by call. */
Test(capture, sigint_stops_with_a_summary_and_trace_shows_the_setup)
{
    const char *args[] = { "-i", net.if_b, "--trace", "-w", "/dev/null", NULL };
    struct proc *cap = start_capture(net.ns_b, args);

    int rc = h_stop(cap, SIGINT, 5000);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, h_text_of(cap, true, NULL));
    const char *err = h_text_of(cap, true, NULL);
    static const char *const want[] = { "socket(AF_PACKET, SOCK_RAW, 0) = ",
                                        "PACKET_VERSION, TPACKET_V3) = 0", "SO_ATTACH_FILTER",
                                        "PACKET_RX_RING", "mmap(", "bind(", "htons(ETH_P_ALL)",
                                        /* the summary (a new veth may send an IPv6 router
                                         * solicitation of its own: not always 0 frames) */
                                        " bytes; kernel: " };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect(strstr(err, want[i]) != NULL, "no '%s' in:\n%s", want[i], err);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void drop_to_nobody(void)
{
    if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(99);
}

/* Run `sockit ARGS...` (in namespace NS unless NULL), expect exit status WANT and NEEDLE in
 * its stderr, on one line. */
static void expect_refusal(const char *ns, const char *const args[], int want, const char *needle,
                           void (*pre_exec)(void))
{
    const char *argv[32];
    int n = 0;

    if (ns) {
        argv[n++] = "ip", argv[n++] = "netns", argv[n++] = "exec", argv[n++] = ns;
    }
    argv[n++] = h_sockit();
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct proc p;
    h_start(&p, argv, "", 0, pre_exec);
    int rc = h_wait(&p, 10000);
    size_t len;
    const char *err = h_text_of(&p, true, &len);
    cr_expect_eq(rc, want, "%s: exit %d, want %d; stderr: %s", args[1], rc, want, err);
    cr_expect(strstr(err, needle) != NULL, "no '%s' in: %s", needle, err);
    /* One line; a usage error adds the hint to --help on a second. */
    const char *nl = len ? memchr(err, '\n', len) : NULL;
    cr_expect(nl && (nl == err + len - 1 || (want == 2 && strstr(nl, "--help"))),
              "more than one line: %s", err);
    h_cleanup(&p);
}

Test(capture, a_missing_interface_is_one_line_exit_1)
{
    const char *args[] = { "capture", "-i", "nosuch0", NULL };
    expect_refusal(net.ns_b, args, 1, "sockit: capture nosuch0: no such network interface", NULL);
}

Test(capture, no_permission_is_one_line_exit_1)
{
    const char *args[] = { "capture", "-i", "lo", "-q", NULL };
    expect_refusal(NULL, args, 1, "sockit: capture lo: Operation not permitted", drop_to_nobody);
}

Test(capture, an_invalid_filter_is_a_usage_error)
{
    const char *args[] = { "capture", "-i", "lo", "udp", "port", "banana", NULL };
    expect_refusal(NULL, args, 2, "invalid filter 'udp port banana'", NULL);
}

Test(capture, a_file_of_an_unknown_link_type_is_refused)
{
    char path[128];
    /* A pcap header for link type 105 (802.11) and no records. */
    static const uint8_t head[24] = { 0x4d, 0x3c, 0xb2, 0xa1, 2,    0,    4, 0, 0,   0, 0, 0,
                                      0,    0,    0,    0,    0xff, 0xff, 0, 0, 105, 0, 0, 0 };
    path_of(path, sizeof(path), "wifi.pcap");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(head, 1, sizeof(head), f), sizeof(head));
    fclose(f);
    const char *args[] = { "capture", "-r", path, NULL };
    expect_refusal(NULL, args, 1, "link type not supported (105", NULL);
}

Test(capture, a_damaged_file_is_refused_with_the_reason)
{
    char path[128];

    path_of(path, sizeof(path), "junk.pcap");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("this is not a capture file at all", f);
    fclose(f);
    const char *args[] = { "capture", "-r", path, NULL };
    expect_refusal(NULL, args, 1, "not a pcap or pcapng file", NULL);
}

Test(capture, inject_refuses_bad_hex_and_an_oversized_frame)
{
    const char *bad[] = { "inject", "-i", "lo", "ffffzz", NULL };
    expect_refusal(NULL, bad, 2, "not hex at offset 4", NULL);
}

/* ---- inject ------------------------------------------------------------------------------ */

/* A frame given in hex arrives byte for byte: B's capture file holds exactly those bytes. */
Test(capture, inject_sends_a_hex_frame_byte_for_byte)
{
    static uint8_t frame[128];
    char hex[300], out[128], *p = hex;
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    size_t len = udp_frame(frame, mac_b, 9995, 50, 7);
    for (size_t i = 0; i < len; i++)
        p += sprintf(p, i % 4 == 3 && i + 1 < len ? "%02x:" : "%02x", frame[i]);
    path_of(out, sizeof(out), "hex.pcap");
    const char *args[] = {
        "-i", net.if_b, "-w", out, "-c", "1", "-d", "10", "udp port 9995", NULL
    };
    struct proc *cap = start_capture(net.ns_b, args);
    cr_assert_eq(h_netns_sh(net.ns_a, "%s inject -i packet:%s -q %s", h_sockit(), net.if_a, hex),
                 0);
    cr_assert_eq(h_wait(cap, 15000), 0);
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    cr_assert_eq(sockit_pcap_reader_open(&r, out, NULL, 0), 0);
    cr_assert_eq(sockit_pcap_read(r, &rec, NULL, 0), 1);
    cr_expect_eq(rec.caplen, len);
    cr_expect(rec.caplen == len && memcmp(rec.data, frame, len) == 0, "the bytes differ");
    sockit_pcap_reader_close(r);
}

/* --rate paces: 20 frames at 100 per second take about 190 ms (the first goes at once); the
 * recorded timing of a file with 50 ms between its 5 frames takes about 200 ms. */
Test(capture, inject_paces_to_rate_and_to_the_recorded_timing)
{
    char frames[128];
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    path_of(frames, sizeof(frames), "paced.pcap");
    struct sockit_pcap_writer *w;
    static uint8_t frame[200];
    int fd = open(frames, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_eq(sockit_pcap_writer_open(&w, fd, SOCKIT_LINK_ETHERNET, 0), 0);
    for (int i = 0; i < 5; i++) {
        size_t len = udp_frame(frame, mac_b, 9994, 60, (unsigned)i);
        cr_assert_eq(sockit_pcap_write(w, 1700000000000000000ull + (uint64_t)i * 50000000u, frame,
                                       (uint32_t)len, (uint32_t)len),
                     0);
    }
    cr_assert_eq(sockit_pcap_writer_close(w), 0);
    long long t0 = h_now_ms();
    cr_assert_eq(h_netns_sh(net.ns_a, "%s inject -i %s -r %s -c 20 --rate 100 -q", h_sockit(),
                            net.if_a, frames),
                 0);
    long long took = h_now_ms() - t0;
    cr_expect(took >= 185 && took < 2000, "20 frames at 100/s took %lld ms", took);
    t0 = h_now_ms();
    cr_assert_eq(h_netns_sh(net.ns_a, "%s inject -i %s -r %s -q", h_sockit(), net.if_a, frames), 0);
    took = h_now_ms() - t0;
    cr_expect(took >= 195 && took < 2000, "5 frames 50 ms apart took %lld ms", took);
}

Test(capture, inject_refuses_a_frame_over_the_mtu)
{
    char big[2 * 1600 + 1];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *args[] = { "inject", "-i", net.if_a, "-q", big, NULL };
    expect_refusal(net.ns_a, args, 1, "Message too long", NULL);
}

/* ---- options ----------------------------------------------------------------------------- */

/* Capture once into a file (-s 100 cuts each frame), then read that file back through every
 * output: -x's hex dump, and the same frames from a pcapng copy (editcap) as from the pcap. */
Test(capture, snaplen_cuts_and_hex_and_pcapng_read_back)
{
    char frames[128], out[128], ng[128];
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    path_of(frames, sizeof(frames), "s.pcap");
    path_of(out, sizeof(out), "cut.pcap");
    path_of(ng, sizeof(ng), "cut.pcapng");
    write_frames(frames, 10, mac_b, 9993);
    const char *args[] = { "-i", net.if_b, "-s", "100",           "-w", out, "-c",
                           "10", "-d",     "10", "udp port 9993", NULL };
    struct proc *cap = start_capture(net.ns_b, args);
    cr_assert_eq(
        h_netns_sh(net.ns_a, "%s inject -i %s -r %s --fast -q", h_sockit(), net.if_a, frames), 0);
    cr_assert_eq(h_wait(cap, 15000), 0);
    /* the frames are 60, 97, 134, 171 ... bytes: each is kept up to 100 */
    char *caps = run_out("tshark -r %s -T fields -e frame.len -e frame.cap_len 2>/dev/null | "
                         "awk '$2 != ($1 < 100 ? $1 : 100) {print \"bad\", $0} END {print NR}'",
                         out);
    cr_expect_str_eq(caps, "10\n", "wire and captured lengths: %s", caps);
    free(caps);
    /* frames of 60, 97 and 134 (cut to 100) bytes: the last two end on the 0x0060 line */
    char *hex = run_out("%s capture -q -r %s -x -c 3", h_sockit(), out);
    const char *second = strstr(hex, "\t0x0060: ");
    cr_expect(second && strstr(second + 1, "\t0x0060: ") && !strstr(hex, "0x0070"),
              "frames of 60, 97 and 100 of 134 bytes in hex, 16 bytes a line:\n%s", hex);
    free(hex);
    char conv[300];
    snprintf(conv, sizeof(conv), "editcap -F pcapng %s %s", out, ng);
    cr_assert_eq(system(conv), 0, "%s", conv);
    char *a = run_out("%s capture -q -r %s", h_sockit(), out);
    char *b = run_out("%s capture -q -r %s", h_sockit(), ng);
    cr_expect_str_eq(a, b, "pcap and pcapng read differently");
    cr_expect(strstr(a, "10.") != NULL, "%s", a);
    free(a);
    free(b);
}

/* On a terminal (script(1)'s), a live line each second counts the frames. */
Test(capture, a_terminal_gets_a_live_line)
{
    char cmd[512], out[128], frames[128];
    uint8_t mac_b[6];

    mac_bytes(net.mac_b, mac_b);
    path_of(frames, sizeof(frames), "live.pcap");
    path_of(out, sizeof(out), "tty.txt");
    write_frames(frames, 200, mac_b, 9992);
    snprintf(cmd, sizeof(cmd), "ip netns exec %s %s capture -i %s -w /dev/null -d 3 udp port 9992",
             net.ns_b, h_sockit(), net.if_b);
    const char *argv[] = { "script", "-qfc", cmd, out, NULL };
    struct proc *tty = h_start_tracked("script sockit capture", argv, "", 0, NULL);
    h_sleep_ms(800);
    cr_assert_eq(
        h_netns_sh(net.ns_a, "%s inject -i %s -r %s --fast -q", h_sockit(), net.if_a, frames), 0);
    cr_assert_eq(h_wait(tty, 10000), 0);
    char *text = run_out("cat %s", out);
    cr_expect(strstr(text, "frames/s") && strstr(text, "200 frames"), "%s", text);
    free(text);
}
