/* Crafted frames, a scratch folder and other programs' output for the pcap tests. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcap_frames.h"
#include "sockit/pcap.h"

/* ---------------------------------------------------------------- building frames */

enum l4 { UDP = 17, TCP = 6, ICMP = 1, ICMP6 = 58, ARP = 0 };

struct spec {
    int af; /* AF_INET, AF_INET6, or 0 for ARP */
    uint16_t vlan;
    const char *src, *dst;
    enum l4 l4;
    uint16_t sport, dport;
    uint8_t tcp_flags;
    uint16_t payload;
    uint32_t caplen; /* 0: the whole frame */
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_PSH = 0x08, TH_ACK = 0x10 };

static const struct spec specs[] = {
    { AF_INET, 0, "10.0.0.1", "10.0.0.2", UDP, 5000, 53, 0, 30, 0 },
    { AF_INET, 0, "10.0.0.3", "10.0.0.4", UDP, 6000, 6001, 0, 200, 0 },
    { AF_INET, 0, "10.0.0.1", "10.0.0.2", TCP, 40000, 80, TH_SYN, 0, 0 },
    { AF_INET, 0, "10.0.0.2", "10.0.0.1", TCP, 80, 40000, TH_SYN | TH_ACK, 0, 0 },
    { AF_INET, 0, "10.0.0.1", "10.0.0.2", TCP, 40000, 80, TH_ACK | TH_PSH, 120, 0 },
    { AF_INET, 0, "10.0.0.5", "10.0.0.6", TCP, 1234, 443, TH_SYN, 0, 0 },
    { AF_INET, 0, "10.0.0.9", "10.0.0.1", ICMP, 0, 0, 0, 56, 0 },
    { AF_INET6, 0, "2001:db8::1", "2001:db8::2", UDP, 5353, 5353, 0, 150, 0 },
    { AF_INET6, 0, "2001:db8::1", "2001:db8::2", ICMP6, 0, 0, 0, 16, 0 },
    { AF_INET6, 0, "2001:db8::2", "2001:db8::1", TCP, 80, 50000, TH_FIN | TH_ACK, 0, 0 },
    { 0, 0, "10.0.0.1", "10.0.0.2", ARP, 0, 0, 0, 0, 0 },
    { AF_INET, 100, "10.0.0.1", "10.0.0.7", UDP, 7000, 7001, 0, 20, 0 },
    { AF_INET, 0, "10.0.0.7", "10.0.0.8", TCP, 2000, 80, TH_SYN, 0,
      40 },                                                              /* cut in the TCP header */
    { AF_INET, 0, "10.0.0.7", "10.0.0.8", UDP, 2000, 2001, 0, 180, 60 }, /* cut in the payload */
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t ethernet(uint8_t *p, const struct spec *s, uint16_t type)
{
    static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    uint32_t n = 12;

    memcpy(p, s->l4 == ARP ? (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } : dst, 6);
    memcpy(p + 6, src, 6);
    if (s->vlan) {
        put16(p + n, 0x8100);
        put16(p + n + 2, s->vlan);
        n += 4;
    }
    put16(p + n, type);
    return n + 2;
}

static uint32_t arp(uint8_t *p, const struct spec *s)
{
    put16(p, 1);          /* Ethernet */
    put16(p + 2, 0x0800); /* IPv4 */
    p[4] = 6;
    p[5] = 4;
    put16(p + 6, 1); /* request */
    memcpy(p + 8, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x01 }, 6);
    inet_pton(AF_INET, s->src, p + 14);
    inet_pton(AF_INET, s->dst, p + 24);
    return 28;
}

static uint32_t ip_header(uint8_t *p, const struct spec *s, uint32_t l4len)
{
    if (s->af == AF_INET6) {
        p[0] = 0x60;
        put16(p + 4, (uint16_t)l4len);
        p[6] = (uint8_t)s->l4;
        p[7] = 64;
        inet_pton(AF_INET6, s->src, p + 8);
        inet_pton(AF_INET6, s->dst, p + 24);
        return 40;
    }
    p[0] = 0x45;
    put16(p + 2, (uint16_t)(20 + l4len));
    p[8] = 64;
    p[9] = (uint8_t)s->l4;
    inet_pton(AF_INET, s->src, p + 12);
    inet_pton(AF_INET, s->dst, p + 16);
    return 20;
}

static uint32_t l4_header(uint8_t *p, const struct spec *s)
{
    switch (s->l4) {
    case UDP:
        put16(p, s->sport);
        put16(p + 2, s->dport);
        put16(p + 4, (uint16_t)(8 + s->payload));
        return 8;
    case TCP:
        put16(p, s->sport);
        put16(p + 2, s->dport);
        p[12] = 5 << 4; /* 20-byte header */
        p[13] = s->tcp_flags;
        put16(p + 14, 65535);
        return 20;
    default:
        p[0] = s->l4 == ICMP ? 8 : 128; /* echo request */
        return 8;
    }
}

static void build(struct frame *f, const struct spec *s)
{
    uint8_t *p = f->bytes;
    uint32_t n;

    memset(f->bytes, 0, sizeof(f->bytes));
    if (s->l4 == ARP) {
        n = ethernet(p, s, 0x0806);
        n += arp(p + n, s);
    } else {
        uint8_t l4[20] = { 0 };
        uint32_t l4len = l4_header(l4, s);
        n = ethernet(p, s, s->af == AF_INET6 ? 0x86dd : 0x0800);
        n += ip_header(p + n, s, l4len + s->payload);
        memcpy(p + n, l4, l4len);
        n += l4len;
        for (uint32_t i = 0; i < s->payload; i++)
            p[n + i] = (uint8_t)('a' + i % 26);
        n += s->payload;
    }
    cr_assert_leq(n, sizeof(f->bytes));
    f->wirelen = n;
    f->caplen = s->caplen ? s->caplen : n;
}

int frames_build(struct frame *f)
{
    int n = (int)(sizeof(specs) / sizeof(specs[0]));

    cr_assert_leq(n, MAX_FRAMES);
    for (int i = 0; i < n; i++) {
        build(&f[i], &specs[i]);
        f[i].ts_ns = 1700000000000000000ull + (uint64_t)i * 250000001u + 7;
    }
    return n;
}

/* ---------------------------------------------------------------- files and programs */

static char dir[64];

void tmp_open(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sockit-pcap.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

void tmp_close(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

const char *tmp_path(const char *name)
{
    static char paths[4][128];
    static int next;
    char *p = paths[next++ % 4];

    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    return p;
}

void frames_write(const char *path, const struct frame *f, int n, int linktype)
{
    struct sockit_pcap_writer *w;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(sockit_pcap_writer_open(&w, fd, linktype, 0), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(sockit_pcap_write(w, f[i].ts_ns, f[i].bytes, f[i].caplen, f[i].wirelen), 0);
    cr_assert_eq(sockit_pcap_writer_close(w), 0);
}

int tool_lines(const char *cmd, char (*lines)[TOOL_LINE], int max)
{
    char line[4096];
    int n = 0;
    FILE *p = popen(cmd, "r");

    cr_assert_not_null(p, "popen %s", cmd);
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        if (n < max)
            snprintf(lines[n], TOOL_LINE, "%.*s", TOOL_LINE - 1, line);
        n++;
    }
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    return n;
}

void ts_text(uint64_t ts_ns, char *out, size_t size)
{
    snprintf(out, size, "%llu.%09llu", (unsigned long long)(ts_ns / 1000000000u),
             (unsigned long long)(ts_ns % 1000000000u));
}
