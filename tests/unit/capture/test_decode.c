/* Unit tests for sockit/decode.h on crafted frames: every layer's fields, every prefix of a
 * set of frames (ASan fails any read past the captured bytes), lengths that lie, the JSON's
 * validity, and the summary line beside tcpdump's own for the same bytes (tcpdump -nn -S
 * reading a pcap file written here). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockit/decode.h"

/* ---------------------------------------------------------------- building frames */

struct frame {
    uint8_t b[512];
    size_t n;
    int link;
};

static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 1 }, mac2[6] = { 2, 0, 0, 0, 0, 2 };

static size_t put(struct frame *f, const void *p, size_t n)
{
    size_t at = f->n;

    cr_assert_leq(f->n + n, sizeof(f->b), "a test frame outgrew its buffer");
    memcpy(f->b + f->n, p, n);
    f->n += n;
    return at;
}

static void set16(struct frame *f, size_t at, size_t v)
{
    f->b[at] = (uint8_t)(v >> 8);
    f->b[at + 1] = (uint8_t)v;
}

static void put16(struct frame *f, size_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
    put16(f, v >> 16);
    put16(f, v & 0xffff);
}

static void fill(struct frame *f, size_t n)
{
    while (n--)
        put(f, "x", 1);
}

static void eth(struct frame *f, uint16_t type)
{
    f->link = SOCKIT_LINK_ETHERNET;
    put(f, mac2, 6);
    put(f, mac1, 6);
    put16(f, type);
}

/* An IPv4 header from 10.0.0.1 to 10.0.0.2 (FLAGS_OFF: the flags and offset word); its total
 * length is set by ip4_end once the payload is in. */
static size_t ip4(struct frame *f, uint8_t proto, uint16_t flags_off)
{
    uint8_t h[20] = { 0x45,
                      0,
                      0,
                      0,
                      0x12,
                      0x34,
                      (uint8_t)(flags_off >> 8),
                      (uint8_t)flags_off,
                      64,
                      proto,
                      0,
                      0,
                      10,
                      0,
                      0,
                      1,
                      10,
                      0,
                      0,
                      2 };
    return put(f, h, sizeof(h));
}

static void ip4_end(struct frame *f, size_t at)
{
    set16(f, at + 2, f->n - at);
}

/* An IPv6 header from fd00::1 to fd00::2; ip6_end sets the payload length. */
static size_t ip6(struct frame *f, uint8_t nh)
{
    uint8_t h[40] = { 0x60, 0, 0, 0, 0, 0, nh, 64, 0xfd };

    h[23] = 1;
    h[24] = 0xfd;
    h[39] = 2;
    return put(f, h, sizeof(h));
}

static void ip6_end(struct frame *f, size_t at)
{
    set16(f, at + 4, f->n - at - 40);
}

/* An 8-byte hop-by-hop or destination options header (a PadN option). */
static void ip6_opts(struct frame *f, uint8_t nh)
{
    uint8_t h[8] = { nh, 0, 1, 4, 0, 0, 0, 0 };
    put(f, h, sizeof(h));
}

static void ip6_frag(struct frame *f, uint8_t nh, uint16_t off, bool mf, uint32_t id)
{
    uint8_t h[2] = { nh, 0 };
    put(f, h, 2);
    put16(f, off | mf);
    put32(f, id);
}

static void udp(struct frame *f, uint16_t sport, uint16_t dport, size_t data)
{
    put16(f, sport);
    put16(f, dport);
    put16(f, 8 + data);
    put16(f, 0);
    fill(f, data);
}

static void tcp(struct frame *f, uint8_t flags, uint32_t seq, uint32_t ack, const void *opts,
                size_t optlen, size_t data)
{
    uint8_t h[4] = { (uint8_t)((20 + optlen) / 4 << 4), flags };

    put16(f, 40000);
    put16(f, 5555);
    put32(f, seq);
    put32(f, ack);
    put(f, h, 2);
    put16(f, 65160);
    put16(f, 0);
    put16(f, 0);
    if (optlen)
        put(f, opts, optlen);
    fill(f, data);
}

static void icmp_echo(struct frame *f, uint8_t type, size_t data)
{
    uint8_t h[4] = { type };
    put(f, h, 4);
    put16(f, 7);
    put16(f, 1);
    fill(f, data);
}

static void arp(struct frame *f, uint16_t op)
{
    uint8_t h[6] = { 8, 0, 6, 4 };
    uint8_t spa[4] = { 10, 0, 0, 1 }, tpa[4] = { 10, 0, 0, 2 }, zero[6] = { 0 };

    put16(f, 1);
    put(f, h, 4);
    put16(f, op);
    put(f, op == 1 ? mac1 : mac2, 6);
    put(f, op == 1 ? spa : tpa, 4);
    put(f, op == 1 ? zero : mac1, 6);
    put(f, op == 1 ? tpa : spa, 4);
}

/* The SYN's options: mss 1460, sackOK, TS val 1 ecr 2, nop, wscale 7. */
static const uint8_t syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                      0, 1, 0,    0,    0, 2, 1, 3,  3, 7 };
static const uint8_t ts_opts[12] = { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };

static struct frame udp4(void)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 17, 0x4000);
    udp(&f, 5000, 6000, 18);
    ip4_end(&f, ip);
    return f;
}

static struct frame udp6(void)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 17);
    udp(&f, 5000, 6000, 18);
    ip6_end(&f, ip);
    return f;
}

static struct frame tcp4(uint8_t flags, const void *opts, size_t optlen, size_t data)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 6, 0x4000);
    tcp(&f, flags, 1000, flags & 0x10 ? 2000 : 0, opts, optlen, data);
    ip4_end(&f, ip);
    return f;
}

static struct frame icmp4(uint8_t type)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 1, 0);
    icmp_echo(&f, type, 56);
    ip4_end(&f, ip);
    return f;
}

static struct frame icmp6(uint8_t type)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 58);
    icmp_echo(&f, type, 56);
    ip6_end(&f, ip);
    return f;
}

/* Destination unreachable (CODE) from 10.0.0.2, quoting the UDP datagram of udp4(). */
static struct frame icmp_unreach(uint8_t code)
{
    struct frame f = { .n = 0 }, quoted = udp4();
    uint8_t h[8] = { 3, code };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 1, 0);
    f.b[ip + 15] = 2;
    f.b[ip + 19] = 1;
    put(&f, h, 8);
    put(&f, quoted.b + 14, 28 + 8);
    ip4_end(&f, ip);
    return f;
}

static struct frame arp_frame(uint16_t op)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0806);
    arp(&f, op);
    return f;
}

/* A UDP datagram of 1480 bytes cut in two IPv4 fragments: the first (MF, offset 0) holds
 * the UDP header, the second (offset 1480) only data. */
static struct frame frag4(bool first)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 17, first ? 0x2000 : 1480 / 8);
    if (first) {
        put16(&f, 5000);
        put16(&f, 6000);
        put16(&f, 1508);
        put16(&f, 0);
        fill(&f, 32);
    } else {
        fill(&f, 40);
    }
    ip4_end(&f, ip);
    return f;
}

/* IPv6 with a hop-by-hop and a fragment header, then UDP (first) or data (offset 1232). */
static struct frame frag6(bool first)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 0);
    ip6_opts(&f, 44);
    ip6_frag(&f, 17, first ? 0 : 1232, first, 0x1234);
    if (first)
        udp(&f, 5000, 6000, 8);
    else
        fill(&f, 16);
    ip6_end(&f, ip);
    return f;
}

static struct frame vlan_udp4(int tags)
{
    struct frame f = { .n = 0 };

    eth(&f, tags == 2 ? 0x88a8 : 0x8100);
    put16(&f, 100);
    if (tags == 2) {
        put16(&f, 0x8100);
        put16(&f, 0x2000 | 0x1000 | 200); /* PCP 1, DEI */
    }
    put16(&f, 0x0800);
    size_t ip = ip4(&f, 17, 0x4000);
    udp(&f, 5000, 6000, 18);
    ip4_end(&f, ip);
    return f;
}

/* The IPv4 UDP packet of udp4() behind a cooked header instead of Ethernet. */
static struct frame cooked(int link)
{
    struct frame f = { .link = link };
    struct frame e = udp4();

    if (link == SOCKIT_LINK_LINUX_SLL) {
        put16(&f, 4); /* PACKET_OUTGOING */
        put16(&f, 1); /* ARPHRD_ETHER */
        put16(&f, 6);
        put(&f, mac1, 6);
        put16(&f, 0);
        put16(&f, 0x0800);
    } else if (link == SOCKIT_LINK_LINUX_SLL2) {
        put16(&f, 0x0800);
        put16(&f, 0);
        put32(&f, 3);
        put16(&f, 1);
        uint8_t t[2] = { 0, 6 };
        put(&f, t, 2);
        put(&f, mac1, 6);
        put16(&f, 0);
    }
    put(&f, e.b + 14, e.n - 14);
    return f;
}

static struct sockit_pkt pkt;

static int decode(const struct frame *f)
{
    return sockit_pkt_decode(&pkt, f->link, f->b, f->n, f->n);
}

static char text[2048], json[4096];

static const char *summary(void)
{
    size_t n = sockit_pkt_summary(&pkt, text, sizeof(text));

    cr_assert_eq(n, strlen(text), "the summary's length is what it wrote");
    return text;
}

#define expect_summary(want) cr_expect_str_eq(summary(), want)

/* ---------------------------------------------------------------- a small JSON checker */

static const char *json_value(const char *s);

static const char *json_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

static const char *json_string(const char *s)
{
    if (*s != '"')
        return NULL;
    for (s++; *s && *s != '"'; s++) {
        if ((unsigned char)*s < 0x20)
            return NULL;
        if (*s == '\\' && !*++s)
            return NULL;
    }
    return *s == '"' ? s + 1 : NULL;
}

static const char *json_number(const char *s)
{
    char *end;

    if (*s != '-' && (*s < '0' || *s > '9'))
        return NULL;
    if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
        return NULL; /* no leading zeros */
    strtod(s, &end);
    return end > s ? end : NULL;
}

/* The members of an object (NAMED) or the elements of an array, up to CLOSE. */
static const char *json_list(const char *s, char close, bool named)
{
    s = json_ws(s);
    if (*s == close)
        return s + 1;
    for (;;) {
        if (named) {
            s = json_string(json_ws(s));
            if (!s || *(s = json_ws(s)) != ':')
                return NULL;
            s++;
        }
        if (!(s = json_value(s)))
            return NULL;
        s = json_ws(s);
        if (*s != ',')
            return *s == close ? s + 1 : NULL;
        s++;
    }
}

static const char *json_value(const char *s)
{
    s = json_ws(s);
    switch (*s) {
    case '{': return json_list(s + 1, '}', true);
    case '[': return json_list(s + 1, ']', false);
    case '"': return json_string(s);
    case 't': return strncmp(s, "true", 4) ? NULL : s + 4;
    case 'f': return strncmp(s, "false", 5) ? NULL : s + 5;
    case 'n': return strncmp(s, "null", 4) ? NULL : s + 4;
    default: return json_number(s);
    }
}

/* The packet's JSON members, checked to make a valid object with braces around them. */
static const char *json_of(void)
{
    char obj[sizeof(json) + 2];
    size_t n = sockit_pkt_json(&pkt, json, sizeof(json));

    cr_assert_eq(n, strlen(json), "the JSON's length is what it wrote");
    snprintf(obj, sizeof(obj), "{%s}", json);
    const char *end = json_value(obj);
    cr_assert(end && *json_ws(end) == '\0', "invalid JSON: {%s}", json);
    return json;
}

/* ---------------------------------------------------------------- link layers */

Test(decode_link, ethernet_addresses_and_type)
{
    struct frame f = udp4();

    cr_assert_eq(decode(&f), 0);
    cr_expect_eq(pkt.linktype, SOCKIT_LINK_ETHERNET);
    cr_expect(pkt.has_macs);
    cr_expect_arr_eq(pkt.src_mac, mac1, 6);
    cr_expect_arr_eq(pkt.dst_mac, mac2, 6);
    cr_expect_eq(pkt.ethertype, 0x0800);
    cr_expect_eq(pkt.net_off, 14);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_IPV4 | SOCKIT_L_UDP);
    cr_expect_eq(pkt.truncated, 0);
    cr_expect_eq(pkt.caplen, 60);
    cr_expect_eq(pkt.wirelen, 60);
}

Test(decode_link, one_and_two_vlan_tags)
{
    struct frame f = vlan_udp4(1);

    decode(&f);
    cr_expect_eq(pkt.nvlans, 1);
    cr_expect_eq(pkt.vlan[0], 100);
    cr_expect_eq(pkt.vlan_tpid[0], 0x8100);
    cr_expect_eq(pkt.ethertype, 0x0800);
    cr_expect_eq(pkt.net_off, 18);
    cr_expect(pkt.layers & SOCKIT_L_VLAN && pkt.layers & SOCKIT_L_UDP);
    expect_summary("vlan 100, p 0, IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 18");
    f = vlan_udp4(2);
    decode(&f);
    cr_expect_eq(pkt.nvlans, 2);
    cr_expect_eq(pkt.vlan_tpid[0], 0x88a8);
    cr_expect_eq(pkt.vlan[1], 200);
    cr_expect_eq(pkt.vlan_pcp[1], 1);
    cr_expect(pkt.vlan_dei[1] && !pkt.vlan_dei[0]);
    cr_expect_eq(pkt.net_off, 22);
    cr_expect_eq(pkt.udp.dport, 6000);
    expect_summary("vlan 100, p 0, vlan 200, p 1, DEI, IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, "
                   "length 18");
}

Test(decode_link, a_third_vlan_tag_is_left_undecoded)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x88a8);
    put16(&f, 1);
    put16(&f, 0x8100);
    put16(&f, 2);
    put16(&f, 0x8100);
    put16(&f, 3);
    put16(&f, 0x0800);
    fill(&f, 40);
    decode(&f);
    cr_expect_eq(pkt.nvlans, 2);
    cr_expect_eq(pkt.ethertype, 0x8100);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_VLAN);
    cr_expect_eq(pkt.truncated, 0);
}

Test(decode_link, unknown_ethertype_and_802_3_length)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x88b5);
    fill(&f, 46);
    decode(&f);
    cr_expect_eq(pkt.ethertype, 0x88b5);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK);
    cr_expect_eq(pkt.truncated, 0);
    /* tcpdump: "... ethertype Unknown (0x88b5), length 60: " and a hex dump on the next lines */
    expect_summary("02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 0x88b5, length 60");
    cr_expect(strstr(json_of(), "\"eth\":{\"src\":\"02:00:00:00:00:01\",\"dst\":"
                                "\"02:00:00:00:00:02\",\"type\":\"0x88b5\"}"));
    set16(&f, 12, 46);
    decode(&f);
    expect_summary("02:00:00:00:00:01 > 02:00:00:00:00:02, 802.3, length 60");
}

Test(decode_link, linux_cooked_v1_and_v2)
{
    struct frame f = cooked(SOCKIT_LINK_LINUX_SLL);

    cr_assert_eq(decode(&f), 0);
    cr_expect_eq(pkt.sll_pkttype, 4);
    cr_expect(pkt.has_macs);
    cr_expect_arr_eq(pkt.src_mac, mac1, 6);
    cr_expect_eq(pkt.net_off, 16);
    cr_expect_eq(pkt.udp.sport, 5000);
    expect_summary("IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 18");
    f = cooked(SOCKIT_LINK_LINUX_SLL2);
    cr_assert_eq(decode(&f), 0);
    cr_expect_eq(pkt.sll_ifindex, 3);
    cr_expect_eq(pkt.sll_pkttype, 0);
    cr_expect_eq(pkt.net_off, 20);
    cr_expect_eq(pkt.udp.dport, 6000);
    /* tcpdump puts the interface and direction first ("lo    In  IP ..."): that is the
     * interface part the caller writes, not the summary's */
    expect_summary("IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 18");
    cr_expect(strstr(json_of(), "\"sll\":{\"pkttype\":0,\"ifindex\":3,\"src\":"
                                "\"02:00:00:00:00:01\",\"type\":\"0x0800\"}"));
}

Test(decode_link, raw_ip_by_its_version)
{
    struct frame e = udp6(), f = { .link = SOCKIT_LINK_RAW };

    put(&f, e.b + 14, e.n - 14);
    decode(&f);
    cr_expect_eq(pkt.ethertype, 0x86dd);
    cr_expect_eq(pkt.ip.version, 6);
    expect_summary("IP6 fd00::1.5000 > fd00::2.6000: UDP, length 18");
    f.b[0] = 0x50;
    decode(&f);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV4);
    cr_expect(pkt.malformed);
    expect_summary("unknown ip 5");
    f.n = 0;
    decode(&f);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV4);
    expect_summary(" [|ip]");
}

Test(decode_link, refuses_unknown_link_types_and_caplen_over_wirelen)
{
    struct frame f = udp4();

    cr_expect_eq(sockit_pkt_decode(&pkt, 147, f.b, f.n, f.n), -EINVAL);
    cr_expect_eq(sockit_pkt_decode(&pkt, SOCKIT_LINK_ETHERNET, f.b, f.n, f.n - 1), -EINVAL);
    cr_expect_eq(pkt.layers, 0);
    cr_expect_eq(sockit_pkt_summary(&pkt, text, sizeof(text)), 0);
}

/* ---------------------------------------------------------------- ARP */

Test(decode_arp, request_and_reply)
{
    struct frame f = arp_frame(1);

    decode(&f);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_ARP);
    cr_expect_eq(pkt.arp.op, 1);
    cr_expect_arr_eq(pkt.arp.sha, mac1, 6);
    cr_expect_eq(pkt.arp.tpa.s_addr, htonl(0x0a000002));
    expect_summary("ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28");
    f = arp_frame(2);
    decode(&f);
    cr_expect_eq(pkt.arp.op, 2);
    cr_expect_arr_eq(pkt.arp.tha, mac1, 6);
    expect_summary("ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28");
    cr_expect(strstr(json_of(), "\"arp\":{\"op\":2,\"htype\":1,\"ptype\":\"0x0800\",\"sha\":"
                                "\"02:00:00:00:00:02\",\"spa\":\"10.0.0.2\",\"tha\":"
                                "\"02:00:00:00:00:01\",\"tpa\":\"10.0.0.1\"}"));
}

Test(decode_arp, other_hardware_is_named_not_decoded)
{
    struct frame f = arp_frame(1);

    f.b[14 + 1] = 6; /* IEEE 802 */
    decode(&f);
    cr_expect_eq(pkt.arp.htype, 6);
    cr_expect_eq(pkt.arp.spa.s_addr, 0);
    cr_expect_eq(pkt.truncated, 0);
    expect_summary("ARP, hardware 6 (len 6), protocol 0x0800 (len 4), Request, length 28");
}

/* ---------------------------------------------------------------- IPv4 */

Test(decode_ipv4, header_fields)
{
    struct frame f = udp4();

    decode(&f);
    cr_expect_eq(pkt.ip.version, 4);
    cr_expect_eq(pkt.ip.hdr_len, 20);
    cr_expect_eq(pkt.ip.tot_len, 46);
    cr_expect_eq(pkt.ip.id, 0x1234);
    cr_expect_eq(pkt.ip.ttl, 64);
    cr_expect_eq(pkt.ip.proto, 17);
    cr_expect(pkt.ip.df && !pkt.ip.mf && !pkt.ip.fragment);
    cr_expect_eq(pkt.ip.src.s6_addr[10], 0xff, "IPv4 is stored IPv4-mapped");
    cr_expect_eq(pkt.ip.src.s6_addr[15], 1);
    cr_expect_eq(pkt.ip.dst.s6_addr[15], 2);
    cr_expect_eq(pkt.l4_off, 34);
    cr_expect_eq(pkt.l4_len, 26);
    cr_expect_eq(pkt.payload_off, 42);
    cr_expect_eq(pkt.payload_len, 18);
}

Test(decode_ipv4, options_move_the_upper_layer)
{
    struct frame f = { .n = 0 };
    uint8_t nops[4] = { 1, 1, 1, 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 17, 0);
    put(&f, nops, 4);
    f.b[ip] = 0x46;
    udp(&f, 5000, 6000, 10);
    ip4_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.ip.hdr_len, 24);
    cr_expect_eq(pkt.l4_off, 38);
    cr_expect_eq(pkt.udp.sport, 5000);
    cr_expect_eq(pkt.payload_len, 10);
}

Test(decode_ipv4, ethernet_padding_is_not_payload)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 17, 0);
    udp(&f, 5000, 6000, 2);
    ip4_end(&f, ip);
    fill(&f, 60 - f.n);
    decode(&f);
    cr_expect_eq(pkt.truncated, 0);
    cr_expect_eq(pkt.l4_len, 10);
    cr_expect_eq(pkt.payload_len, 2);
    expect_summary("IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 2");
}

Test(decode_ipv4, first_fragment_has_its_upper_layer_and_the_next_none)
{
    struct frame f = frag4(true);

    decode(&f);
    cr_expect(pkt.ip.mf && pkt.ip.fragment);
    cr_expect_eq(pkt.ip.frag_off, 0);
    cr_expect(pkt.layers & SOCKIT_L_UDP, "the first fragment holds the UDP header");
    cr_expect_eq(pkt.udp.len, 1508, "longer than the fragment, and no lie");
    cr_expect_eq(pkt.truncated, 0);
    f = frag4(false);
    decode(&f);
    cr_expect_eq(pkt.ip.frag_off, 1480);
    cr_expect(pkt.ip.fragment && !pkt.ip.mf);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_IPV4, "no UDP in a later fragment");
    cr_expect_eq(pkt.udp.sport, 0);
    cr_expect_eq(pkt.payload_off, 34);
    cr_expect_eq(pkt.payload_len, 40);
}

Test(decode_ipv4, lying_lengths_are_malformed)
{
    struct frame f = udp4();

    set16(&f, 16, 200); /* total length past the wire */
    decode(&f);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV4);
    cr_expect(pkt.malformed);
    cr_expect_eq(pkt.layers & SOCKIT_L_UDP, 0);
    expect_summary("IP truncated-ip - 154 bytes missing! 10.0.0.1 > 10.0.0.2: [|ip]");
    set16(&f, 16, 10); /* shorter than the header */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_IPV4);
    expect_summary("IP bad-len 10");
    f = udp4();
    f.b[14] = 0x44; /* IHL 4 */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_IPV4);
    expect_summary("IP bad-hlen 16");
    f = udp4();
    f.b[14] = 0x4f; /* IHL 15: 60 bytes, more than the 46 of the packet */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_IPV4);
    f = udp4();
    f.b[14] = 0x65; /* version 6 behind ethertype IPv4 */
    decode(&f);
    cr_expect(pkt.malformed);
    expect_summary("IP6, wrong link-layer encapsulation (invalid)");
    json_of();
}

Test(decode_ipv4, snap_length_inside_the_options_is_a_cut)
{
    struct frame f = udp4();

    f.b[14] = 0x46;
    sockit_pkt_decode(&pkt, f.link, f.b, 36, f.n);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV4);
    cr_expect(!pkt.malformed);
    expect_summary("IP  [|ip]");
}

Test(decode_ipv4, other_protocols_carry_their_length)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x0800);
    size_t ip = ip4(&f, 99, 0);
    fill(&f, 20);
    ip4_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_IPV4);
    cr_expect_eq(pkt.payload_len, 20);
    expect_summary("IP 10.0.0.1 > 10.0.0.2:  ip-proto-99 20");
}

/* ---------------------------------------------------------------- IPv6 */

Test(decode_ipv6, header_fields)
{
    struct frame f = udp6();

    f.b[15] = 0xab; /* traffic class 0x0a, flow label 0xb.... */
    f.b[16] = 0xcd;
    decode(&f);
    cr_expect_eq(pkt.ip.version, 6);
    cr_expect_eq(pkt.ip.tos, 0x0a);
    cr_expect_eq(pkt.ip.flow, 0xbcd00);
    cr_expect_eq(pkt.ip.tot_len, 66);
    cr_expect_eq(pkt.ip.ttl, 64);
    cr_expect_eq(pkt.ip.nexts, 0);
    cr_expect_eq(pkt.l4_off, 54);
    cr_expect_eq(pkt.udp.len, 26);
}

Test(decode_ipv6, extension_headers_are_walked_and_recorded)
{
    struct frame f = frag6(true);

    decode(&f);
    cr_expect_eq(pkt.ip.nexts, 2);
    cr_expect_eq(pkt.ip.exts[0], 0);
    cr_expect_eq(pkt.ip.exts[1], 44);
    cr_expect_eq(pkt.ip.proto, 17);
    cr_expect(pkt.ip.fragment && pkt.ip.mf);
    cr_expect_eq(pkt.ip.id, 0x1234);
    cr_expect_eq(pkt.ip.frag_len, 16);
    cr_expect_eq(pkt.udp.dport, 6000);
    f = frag6(false);
    decode(&f);
    cr_expect_eq(pkt.ip.frag_off, 1232);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_IPV6);
    cr_expect_eq(pkt.payload_len, 16);
}

Test(decode_ipv6, routing_destination_and_ah_headers)
{
    struct frame f = { .n = 0 };
    uint8_t rt[8] = { 60, 0, 0, 0 }, ah[12] = { 17, 1 }; /* AH: (1 + 2) * 4 = 12 bytes */

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 43);
    put(&f, rt, 8);
    ip6_opts(&f, 51);
    put(&f, ah, 12);
    udp(&f, 5000, 6000, 4);
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.ip.nexts, 3);
    cr_expect_eq(pkt.ip.exts[2], 51);
    cr_expect_eq(pkt.l4_off, 14 + 40 + 28);
    cr_expect_eq(pkt.udp.len, 12);
    /* tcpdump: "RT6 (len=0, type=0 [Deprecated], segleft=0) DSTOPT AH(spi=0x00000000,seq=0x0,
     * icv=0x): 5000 > 6000: ..." with the fields the struct does not keep */
    expect_summary("IP6 fd00::1 > fd00::2: RT6 DSTOPT AH 5000 > 6000: UDP, length 4");
}

Test(decode_ipv6, more_headers_than_recorded_are_still_walked)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 60);
    for (int i = 0; i < SOCKIT_PKT_MAX_EXTS + 3; i++)
        ip6_opts(&f, i < SOCKIT_PKT_MAX_EXTS + 2 ? 60 : 17);
    udp(&f, 5000, 6000, 0);
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.ip.nexts, SOCKIT_PKT_MAX_EXTS);
    cr_expect_eq(pkt.truncated, 0);
    cr_expect_eq(pkt.udp.sport, 5000);
}

Test(decode_ipv6, a_chain_without_end_is_refused)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 60);
    for (int i = 0; i < 40; i++)
        ip6_opts(&f, 60);
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV6);
    cr_expect(pkt.malformed);
}

Test(decode_ipv6, lying_lengths_are_malformed)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 0);
    uint8_t hbh[8] = { 17, 200 }; /* (200 + 1) * 8 bytes: far past the packet */
    put(&f, hbh, 8);
    udp(&f, 5000, 6000, 8);
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.truncated, SOCKIT_L_IPV6);
    cr_expect(pkt.malformed);
    cr_expect_eq(pkt.ip.proto, 0, "the walk stopped in the hop-by-hop header");
    expect_summary("IP6 fd00::1 > fd00::2:  [|hbhopt]");
    cr_expect(strstr(json_of(), "\"truncated\":\"hbhopt\",\"malformed\":true"));
    f = udp6();
    set16(&f, 18, 100); /* payload length past the wire */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_IPV6);
    /* tcpdump goes on to the UDP header (and forgets a space: "missing!fd00::1.5000") */
    expect_summary("IP6 truncated-ip6 - 74 bytes missing! fd00::1 > fd00::2: [|ip6]");
    set16(&f, 18, 10); /* shorter than the UDP length says */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_UDP);
    expect_summary("IP6 fd00::1.5000 > fd00::2.6000: UDP, bad length 18 > 2");
}

Test(decode_ipv6, no_next_header)
{
    struct frame f = { .n = 0 };

    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 59);
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.truncated, 0);
    expect_summary("IP6 fd00::1 > fd00::2: no next header");
}

/* ---------------------------------------------------------------- TCP */

Test(decode_tcp, header_fields_and_options)
{
    struct frame f = tcp4(0x12, syn_opts, sizeof(syn_opts), 0);

    decode(&f);
    cr_expect_eq(pkt.tcp.sport, 40000);
    cr_expect_eq(pkt.tcp.dport, 5555);
    cr_expect_eq(pkt.tcp.seq, 1000);
    cr_expect_eq(pkt.tcp.ack, 2000);
    cr_expect_eq(pkt.tcp.flags, SOCKIT_TCP_SYN | SOCKIT_TCP_ACK);
    cr_expect_eq(pkt.tcp.win, 65160);
    cr_expect_eq(pkt.tcp.hdr_len, 40);
    cr_expect_eq(pkt.tcp.mss, 1460);
    cr_expect(pkt.tcp.sack_ok);
    cr_expect(pkt.tcp.has_ts);
    cr_expect_eq(pkt.tcp.ts_val, 1);
    cr_expect_eq(pkt.tcp.ts_ecr, 2);
    cr_expect(pkt.tcp.has_wscale);
    cr_expect_eq(pkt.tcp.wscale, 7);
    cr_expect_eq(pkt.tcp.nopts, 5);
    cr_expect(!pkt.tcp.opt_bad);
    cr_expect_eq(pkt.payload_off, 74);
    cr_expect_eq(pkt.payload_len, 0);
}

Test(decode_tcp, sack_blocks_eol_and_unknown_options)
{
    uint8_t opts[28] = { 1, 1, 5, 18, 0, 0, 0,  100, 0,    0,    0, 200, 0, 0,
                         1, 0, 0, 0,  2, 0, 99, 4,   0xab, 0xcd, 0, 7,   7, 7 };
    struct frame f = tcp4(0x10, opts, sizeof(opts), 0);

    decode(&f);
    cr_expect_eq(pkt.tcp.nsacks, 2);
    cr_expect_eq(pkt.tcp.sack[0][0], 100);
    cr_expect_eq(pkt.tcp.sack[1][1], 512);
    cr_expect_eq(pkt.tcp.nopts, 5, "the walk ends at EOL");
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [.], ack 2000, win 65160, options "
                   "[nop,nop,sack 2 {100:200}{256:512},unknown-99 0xabcd,eol], length 0");
    cr_expect(strstr(json_of(), "\"options\":{\"sack\":[[100,200],[256,512]]}"));
}

Test(decode_tcp, malformed_option_lengths_stop_the_walk)
{
    static const uint8_t cases[][8] = {
        { 2, 0, 0, 0, 0, 0, 0, 0 },  /* length 0 */
        { 1, 2, 1, 0, 0, 0, 0, 0 },  /* length 1 */
        { 1, 1, 99, 9, 0, 0, 0, 0 }, /* past the header */
        { 2, 5, 5, 0, 0, 0, 0, 0 },  /* MSS of 5 bytes */
        { 1, 1, 1, 1, 1, 1, 1, 8 },  /* a kind, and no length byte before the end */
        { 1, 5, 6, 0, 0, 0, 0, 0 },  /* SACK not a whole number of blocks */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct frame f = tcp4(0x10, cases[i], 8, 0);
        decode(&f);
        cr_expect(pkt.tcp.opt_bad, "case %zu", i);
        cr_expect_eq(pkt.truncated, 0, "a bad option is not a cut (case %zu)", i);
        cr_expect(strstr(summary(), "[bad opt]"), "case %zu: %s", i, text);
        cr_expect(strstr(json_of(), "\"bad\":true"), "case %zu", i);
    }
}

Test(decode_tcp, data_offset_that_lies)
{
    struct frame f = tcp4(0x10, NULL, 0, 0);

    f.b[46] = 4 << 4; /* 16 bytes: shorter than the fixed header */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_TCP);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555:  tcp 4 [bad hdr length 16 - too short, "
                   "< 20]");
    f.b[46] = 15 << 4; /* 60 bytes: past the segment */
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_TCP);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [.] [bad hdr length 60 - too long, "
                   "> 20]");
    json_of();
}

Test(decode_tcp, data_offset_past_the_snap_length_is_a_cut)
{
    struct frame f = tcp4(0x02, syn_opts, sizeof(syn_opts), 0);

    sockit_pkt_decode(&pkt, f.link, f.b, 60, f.n); /* 6 of the 20 option bytes */
    cr_expect_eq(pkt.truncated, SOCKIT_L_TCP);
    cr_expect(!pkt.malformed);
    cr_expect_eq(pkt.tcp.mss, 1460);
    cr_expect_eq(pkt.tcp.nopts, 2);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [S], seq 1000, win 65160, options "
                   "[mss 1460,sackOK, [|tcp]");
}

Test(decode_tcp, ns_flag_is_kept_but_not_printed)
{
    struct frame f = tcp4(0x10, NULL, 0, 0);

    f.b[46] |= 1;
    decode(&f);
    cr_expect_eq(pkt.tcp.flags, 0x110);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [.], ack 2000, win 65160, length 0");
    f.b[46] &= 0xf0;
    f.b[47] = 0;
    decode(&f);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [none], win 65160, length 0");
}

/* ---------------------------------------------------------------- UDP, ICMP */

Test(decode_udp, lengths_that_lie)
{
    struct frame f = udp4();

    set16(&f, 38, 4);
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_UDP);
    expect_summary("IP 10.0.0.1.5000 > 10.0.0.2.6000: truncated-udplength 4");
    set16(&f, 38, 100);
    decode(&f);
    cr_expect(pkt.malformed && pkt.truncated == SOCKIT_L_UDP);
    expect_summary("IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, bad length 92 > 18");
    set16(&f, 38, 20); /* shorter than IP says: the rest is not UDP's */
    decode(&f);
    cr_expect_eq(pkt.truncated, 0);
    cr_expect_eq(pkt.payload_len, 12);
    json_of();
}

Test(decode_icmp, echo_and_neighbor_discovery)
{
    struct frame f = icmp4(8);

    decode(&f);
    cr_expect_eq(pkt.layers, SOCKIT_L_LINK | SOCKIT_L_IPV4 | SOCKIT_L_ICMP);
    cr_expect_eq(pkt.icmp.type, 8);
    cr_expect_eq(pkt.icmp.id, 7);
    cr_expect_eq(pkt.icmp.seq, 1);
    cr_expect_eq(pkt.payload_len, 56);
    cr_expect(strstr(json_of(), "\"icmp\":{\"type\":8,\"code\":0,\"id\":7,\"seq\":1}"));
    f = (struct frame){ .n = 0 };
    eth(&f, 0x86dd);
    size_t ip = ip6(&f, 58);
    uint8_t ns[8] = { 135 };
    put(&f, ns, 8);
    put(&f, f.b + 14 + 24, 16); /* target: the destination address, fd00::2 */
    ip6_end(&f, ip);
    decode(&f);
    cr_expect_eq(pkt.layers & SOCKIT_L_ICMPV6, SOCKIT_L_ICMPV6);
    cr_expect_eq(pkt.icmp.target.s6_addr[15], 2);
    expect_summary("IP6 fd00::1 > fd00::2: ICMP6, neighbor solicitation, who has fd00::2, length "
                   "24");
    cr_expect(strstr(json_of(), "\"icmp6\":{\"type\":135,\"code\":0,\"target\":\"fd00::2\"}"));
}

Test(decode_icmp, unreachable_reads_the_quoted_datagram)
{
    struct frame f = icmp_unreach(3);

    decode(&f);
    cr_expect(pkt.icmp.has_orig);
    cr_expect_eq(pkt.icmp.orig_proto, 17);
    cr_expect_eq(pkt.icmp.orig_dport, 6000);
    cr_expect_eq(pkt.icmp.orig_dst.s_addr, htonl(0x0a000002));
    expect_summary("IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 6000 unreachable, length 44");
    sockit_pkt_decode(&pkt, f.link, f.b, 14 + 20 + 8 + 20, f.n); /* no port captured */
    cr_expect(!pkt.icmp.has_orig);
    cr_expect_eq(pkt.truncated, 0);
    expect_summary("IP 10.0.0.2 > 10.0.0.1: ICMP destination unreachable, code 3, length 44");
}

Test(decode_icmp, messages_named_without_their_details)
{
    struct frame f = icmp_unreach(4);

    decode(&f);
    /* tcpdump: "ICMP 10.0.0.2 unreachable - need to frag (mtu 0)": the MTU is not kept */
    expect_summary("IP 10.0.0.2 > 10.0.0.1: ICMP destination unreachable, code 4, length 44");
    f = icmp4(99);
    decode(&f);
    expect_summary("IP 10.0.0.1 > 10.0.0.2: ICMP type-#99, length 64");
    f = icmp6(2);
    decode(&f);
    /* tcpdump: "ICMP6, packet too big, mtu 458753, length 64" (the MTU is not kept) */
    expect_summary("IP6 fd00::1 > fd00::2: ICMP6, packet too big, length 64");
}

/* ---------------------------------------------------------------- every prefix */

static struct frame sample(int i)
{
    switch (i) {
    case 0: return udp4();
    case 1: return udp6();
    case 2: return tcp4(0x02, syn_opts, sizeof(syn_opts), 0);
    case 3: return tcp4(0x18, ts_opts, sizeof(ts_opts), 10);
    case 4: return icmp4(8);
    case 5: return icmp6(128);
    case 6: return arp_frame(1);
    case 7: return frag4(true);
    case 8: return frag4(false);
    case 9: return frag6(true);
    case 10: return frag6(false);
    case 11: return vlan_udp4(2);
    case 12: return cooked(SOCKIT_LINK_LINUX_SLL);
    default: return cooked(SOCKIT_LINK_LINUX_SLL2);
    }
}

#define NSAMPLES 14

/* Where the last header of a whole decode ends: any shorter capture must be a cut. */
static size_t headers_end(const struct sockit_pkt *full)
{
    return full->payload_off ? full->payload_off : full->net_off + 28 /* ARP */;
}

Test(decode_prefix, every_prefix_is_cut_where_its_headers_are, .timeout = 60)
{
    for (int i = 0; i < NSAMPLES; i++) {
        struct frame f = sample(i);
        struct sockit_pkt full;
        cr_assert_eq(sockit_pkt_decode(&full, f.link, f.b, f.n, f.n), 0);
        cr_assert_eq(full.truncated, 0, "sample %d decodes whole", i);
        for (size_t n = 0; n <= f.n; n++) {
            uint8_t *exact = malloc(n ? n : 1); /* exactly N bytes: ASan sees a read past */
            memcpy(exact, f.b, n);
            cr_assert_eq(sockit_pkt_decode(&pkt, f.link, exact, n, f.n), 0);
            cr_expect(!pkt.malformed, "sample %d, %zu bytes: a cut is not a lie", i, n);
            if (n < headers_end(&full))
                cr_expect_neq(pkt.truncated, 0, "sample %d cut at %zu bytes", i, n);
            else
                cr_expect(pkt.truncated == 0 && pkt.layers == full.layers &&
                              pkt.payload_off == full.payload_off,
                          "sample %d with its headers whole at %zu bytes", i, n);
            summary();
            json_of();
            free(exact);
        }
    }
}

Test(decode_prefix, every_prefix_as_the_whole_packet_is_malformed_or_fine, .timeout = 60)
{
    for (int i = 0; i < NSAMPLES; i++) {
        struct frame f = sample(i);
        for (size_t n = 0; n <= f.n; n++) {
            uint8_t *exact = malloc(n ? n : 1);
            memcpy(exact, f.b, n);
            sockit_pkt_decode(&pkt, f.link, exact, n, n); /* the lengths inside now lie */
            summary();
            json_of();
            free(exact);
        }
    }
}

Test(decode_prefix, every_cut_marks_the_layer_it_is_in)
{
    struct frame f = tcp4(0x02, syn_opts, sizeof(syn_opts), 0);
    static const struct {
        size_t n;
        unsigned layer;
        const char *text;
    } cuts[] = {
        { 5, SOCKIT_L_LINK, " [|ether]" },
        { 14, SOCKIT_L_IPV4, " [|ip]" },
        { 20, SOCKIT_L_IPV4, "IP  [|ip]" },
        { 36, SOCKIT_L_TCP, "IP 10.0.0.1 > 10.0.0.2: [|tcp]" },
        { 40, SOCKIT_L_TCP, "IP 10.0.0.1.40000 > 10.0.0.2.5555:  [|tcp]" },
        { 54, SOCKIT_L_TCP,
          "IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [S], seq 1000, win 65160, options [ [|tcp]" },
    };

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        sockit_pkt_decode(&pkt, f.link, f.b, cuts[i].n, f.n);
        cr_expect_eq(pkt.truncated, cuts[i].layer, "cut at %zu", cuts[i].n);
        cr_expect_str_eq(summary(), cuts[i].text);
    }
    cr_expect(strstr(json_of(), "\"truncated\":\"tcp\""));
}

/* ---------------------------------------------------------------- text and JSON */

Test(decode_text, returns_the_length_it_needs_like_snprintf)
{
    struct frame f = tcp4(0x12, syn_opts, sizeof(syn_opts), 0);
    char small[16];

    decode(&f);
    size_t whole = sockit_pkt_summary(&pkt, text, sizeof(text));
    cr_expect_eq(sockit_pkt_summary(&pkt, small, sizeof(small)), whole);
    cr_expect_eq(strlen(small), sizeof(small) - 1);
    cr_expect_eq(strncmp(small, text, sizeof(small) - 1), 0);
    cr_expect_eq(sockit_pkt_summary(&pkt, NULL, 0), whole);
    size_t j = sockit_pkt_json(&pkt, json, sizeof(json));
    cr_expect_eq(sockit_pkt_json(&pkt, small, sizeof(small)), j);
    cr_expect_eq(small[sizeof(small) - 1], '\0');
    cr_expect_eq(sockit_pkt_json(&pkt, NULL, 0), j);
}

Test(decode_json, a_udp_packet_in_full)
{
    struct frame f = udp4();

    decode(&f);
    cr_expect_str_eq(json_of(),
                     "\"len\":60,\"caplen\":60,\"eth\":{\"src\":\"02:00:00:00:00:01\","
                     "\"dst\":\"02:00:00:00:00:02\",\"type\":\"0x0800\"},\"ip\":{\"version\":4,"
                     "\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"proto\":17,\"ttl\":64,"
                     "\"tos\":0,\"len\":46,\"hdr_len\":20,\"id\":4660,\"df\":true,\"mf\":false,"
                     "\"frag_off\":0},\"udp\":{\"sport\":5000,\"dport\":6000,\"len\":26},"
                     "\"payload\":{\"off\":42,\"len\":18}");
}

Test(decode_json, tcp_options_vlan_and_ipv6_fragments)
{
    struct frame f = tcp4(0x12, syn_opts, sizeof(syn_opts), 0);

    decode(&f);
    cr_expect(strstr(json_of(), "\"tcp\":{\"sport\":40000,\"dport\":5555,\"seq\":1000,"
                                "\"ack\":2000,\"flags\":\"S.\",\"win\":65160,\"urg\":0,"
                                "\"hdr_len\":40,\"options\":{\"mss\":1460,\"wscale\":7,"
                                "\"sack_ok\":true,\"ts\":{\"val\":1,\"ecr\":2}}}"),
              "%s", json);
    f = vlan_udp4(2);
    decode(&f);
    cr_expect(strstr(json_of(), "\"vlan\":[{\"id\":100,\"pcp\":0,\"dei\":false,\"tpid\":"
                                "\"0x88a8\"},{\"id\":200,\"pcp\":1,\"dei\":true,\"tpid\":"
                                "\"0x8100\"}]"),
              "%s", json);
    f = frag6(false);
    decode(&f);
    cr_expect(strstr(json_of(), "\"exts\":[0,44],\"id\":4660,\"mf\":false,\"frag_off\":1232}"),
              "%s", json);
}

/* ---------------------------------------------------------------- beside tcpdump */

/* Write FRAME (its first CAPLEN bytes) as the only record of a pcap file and return the line
 * `tcpdump -nn -S` prints for it, without the time; "" if it printed none. */
static const char *tcpdump_line(const struct frame *f, size_t caplen)
{
    static char line[2048];
    char path[] = "/tmp/sockit-decode-XXXXXX", cmd[128];
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t zone;
        uint32_t sigfigs, snaplen, linktype;
        uint32_t sec, usec, caplen, wirelen; /* the record's header */
    } hdr = { 0xa1b2c3d4,    2, 4, 0, 0, 65535, (uint32_t)f->link, 0, 0, (uint32_t)caplen,
              (uint32_t)f->n };
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, &hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    cr_assert_eq(write(fd, f->b, caplen), (ssize_t)caplen);
    close(fd);
    snprintf(cmd, sizeof(cmd), "tcpdump -nn -S -r %s 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    if (!fgets(line, sizeof(line), p))
        line[0] = '\0';
    pclose(p);
    unlink(path);
    line[strcspn(line, "\n")] = '\0';
    char *sp = strchr(line, ' ');
    return sp ? sp + 1 : line;
}

/* Our summary for F cut to CAPLEN is PREFIX (our VLAN tags, which tcpdump shows only with
 * -e) followed by tcpdump's own line. */
static void like_tcpdump(const char *name, struct frame f, size_t caplen, const char *prefix)
{
    cr_assert_eq(sockit_pkt_decode(&pkt, f.link, f.b, caplen, f.n), 0);
    const char *ours = summary(), *theirs = tcpdump_line(&f, caplen);
    size_t plen = strlen(prefix);

    cr_expect_eq(strncmp(ours, prefix, plen), 0, "%s: \"%s\" starts with \"%s\"", name, ours,
                 prefix);
    cr_expect_str_eq(ours + plen, theirs, "%s: ours \"%s\", tcpdump's \"%s\"", name, ours + plen,
                     theirs);
}

static bool have_tcpdump(void)
{
    return system("tcpdump --version >/dev/null 2>&1") == 0;
}

Test(decode_tcpdump, the_same_line_as_tcpdump, .timeout = 60)
{
    static const uint8_t sack_opts[12] = { 1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200 };

    if (!have_tcpdump())
        cr_skip_test("tcpdump is not installed");
    struct frame syn = tcp4(0x02, syn_opts, sizeof(syn_opts), 0);
    like_tcpdump("udp4", udp4(), 60, "");
    like_tcpdump("udp6", udp6(), 80, "");
    like_tcpdump("syn", syn, syn.n, "");
    like_tcpdump("syn-ack", tcp4(0x12, syn_opts, sizeof(syn_opts), 0), syn.n, "");
    like_tcpdump("psh data", tcp4(0x18, ts_opts, sizeof(ts_opts), 10), 76, "");
    like_tcpdump("fin", tcp4(0x11, ts_opts, sizeof(ts_opts), 0), 66, "");
    like_tcpdump("rst", tcp4(0x04, NULL, 0, 0), 54, "");
    like_tcpdump("sack", tcp4(0x10, sack_opts, sizeof(sack_opts), 0), 66, "");
    like_tcpdump("icmp echo request", icmp4(8), 98, "");
    like_tcpdump("icmp echo reply", icmp4(0), 98, "");
    like_tcpdump("icmp6 echo request", icmp6(128), 118, "");
    like_tcpdump("icmp6 echo reply", icmp6(129), 118, "");
    for (uint8_t code = 0; code < 16; code++)
        if (code != 4)
            like_tcpdump("icmp unreachable", icmp_unreach(code), 78, "");
    like_tcpdump("arp request", arp_frame(1), 42, "");
    like_tcpdump("arp reply", arp_frame(2), 42, "");
    like_tcpdump("first ipv4 fragment", frag4(true), frag4(true).n, "");
    like_tcpdump("later ipv4 fragment", frag4(false), frag4(false).n, "");
    like_tcpdump("ipv6 hbh + first fragment", frag6(true), frag6(true).n, "");
    like_tcpdump("ipv6 hbh + later fragment", frag6(false), frag6(false).n, "");
    like_tcpdump("vlan", vlan_udp4(1), vlan_udp4(1).n, "vlan 100, p 0, ");
    like_tcpdump("qinq", vlan_udp4(2), vlan_udp4(2).n, "vlan 100, p 0, vlan 200, p 1, DEI, ");
    like_tcpdump("linux cooked", cooked(SOCKIT_LINK_LINUX_SLL), 62, "");
    like_tcpdump("ports only", syn, 40, "");
    like_tcpdump("cut between options", syn, 60, "");
    like_tcpdump("bad option", tcp4(0x10, (uint8_t[4]){ 2, 9, 0, 0 }, 4, 0), 58, "");
    like_tcpdump("short ethernet", syn, 10, "");
}

/* Where tcpdump says more than the struct keeps, or says it oddly: our exact text, and why. */
Test(decode_tcpdump, where_we_differ_and_why)
{
    struct frame syn = tcp4(0x02, syn_opts, sizeof(syn_opts), 0);

    /* a cut inside an option: tcpdump prints its name ("options [mss 1460,sackOK,TS [|tcp]>",
     * with a stray '>'); we list the whole options only */
    sockit_pkt_decode(&pkt, syn.link, syn.b, 62, syn.n);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [S], seq 1000, win 65160, options "
                   "[mss 1460,sackOK, [|tcp]");
    /* a known option with the wrong length: tcpdump "mss 1280[len 5],eol" goes on reading the
     * option's last byte as the next option; we stop there */
    struct frame f = tcp4(0x10, (uint8_t[8]){ 2, 5, 5, 0, 0, 0, 0, 0 }, 8, 0);
    decode(&f);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.5555: Flags [.], ack 2000, win 65160, options "
                   "[[bad opt]");
    /* payloads: tcpdump decodes by port (": HTTP" after a segment to port 80); we do not */
    f = tcp4(0x18, NULL, 0, 5);
    set16(&f, 36, 80);
    decode(&f);
    expect_summary("IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1000:1005, ack 2000, win "
                   "65160, length 5");
    /* a length that lies: tcpdump warns and decodes UDP from the bytes there are; we stop */
    f = udp4();
    set16(&f, 16, 200);
    decode(&f);
    expect_summary("IP truncated-ip - 154 bytes missing! 10.0.0.1 > 10.0.0.2: [|ip]");
}
