/* The upper layers for sockit_pkt_decode: TCP (and its options), UDP, ICMP and ICMPv6. Each
 * reads only what was captured of the length IP gives it. */
#include <string.h>

#include "decode_internal.h"

#define TCP_MIN_HDR  20
#define UDP_HDR      8
#define ICMP_HDR     8
#define ICMP6_ND_LEN 24 /* neighbor solicitation/advertisement: header, flags, target */

enum {
    TCPOPT_EOL = 0,
    TCPOPT_NOP = 1,
    TCPOPT_MSS = 2,
    TCPOPT_WSCALE = 3,
    TCPOPT_SACK_OK = 4,
    TCPOPT_SACK = 5,
    TCPOPT_TS = 8,
};

/* A known option's length must be its own; unknown ones are only kept inside the header. */
static bool option_len_ok(uint8_t kind, uint8_t len)
{
    switch (kind) {
    case TCPOPT_MSS: return len == 4;
    case TCPOPT_WSCALE: return len == 3;
    case TCPOPT_SACK_OK: return len == 2;
    case TCPOPT_TS: return len == 10;
    case TCPOPT_SACK: return len >= 10 && (len - 2) % 8 == 0;
    default: return len >= 2;
    }
}

static void option_value(struct sockit_pkt *p, const uint8_t *o, uint8_t len)
{
    switch (o[0]) {
    case TCPOPT_MSS: p->tcp.mss = sockit__be16(o + 2); break;
    case TCPOPT_WSCALE:
        p->tcp.wscale = o[2];
        p->tcp.has_wscale = true;
        break;
    case TCPOPT_SACK_OK: p->tcp.sack_ok = true; break;
    case TCPOPT_TS:
        p->tcp.ts_val = sockit__be32(o + 2);
        p->tcp.ts_ecr = sockit__be32(o + 6);
        p->tcp.has_ts = true;
        break;
    case TCPOPT_SACK:
        p->tcp.nsacks = 0;
        for (int i = 2; i + 8 <= len && p->tcp.nsacks < SOCKIT_PKT_MAX_SACKS; i += 8) {
            p->tcp.sack[p->tcp.nsacks][0] = sockit__be32(o + i);
            p->tcp.sack[p->tcp.nsacks++][1] = sockit__be32(o + i + 4);
        }
        break;
    }
}

/* The options: the N captured of the WHOLE bytes the data offset gives them, copied first.
 * The walk ends at EOL, at the end, at the capture's end, or at a malformed option. */
static void tcp_options(struct sockit_pkt *p, const uint8_t *o, uint32_t n, uint32_t whole)
{
    uint32_t i = 0;

    memcpy(p->tcp.opt_bytes, o, n);
    while (i < n) {
        uint8_t kind = o[i], len = 1;
        if (kind != TCPOPT_EOL && kind != TCPOPT_NOP) {
            if (i + 1 >= n) { /* the length byte: cut by the capture, or past the header */
                p->tcp.opt_bad = n == whole;
                return;
            }
            len = o[i + 1];
            if (!option_len_ok(kind, len) || i + len > whole) {
                p->tcp.opt_bad = true;
                return;
            }
            if (i + len > n)
                return;
            option_value(p, o + i, len);
        }
        p->tcp.opt_at[p->tcp.nopts++] = (uint8_t)i;
        i += len;
        if (kind == TCPOPT_EOL)
            return;
    }
}

/* The ports, then the rest of a header of HDR bytes: false if the capture or IP's length cut
 * it (F ends where IP's payload does). */
static bool ports(struct sockit_pkt *p, const struct sockit__frame *f, unsigned layer, uint32_t hdr,
                  uint16_t *sport, uint16_t *dport)
{
    if (!sockit__enter(p, f, p->l4_off, 4, layer))
        return false;
    *sport = sockit__be16(f->d + p->l4_off);
    *dport = sockit__be16(f->d + p->l4_off + 2);
    return sockit__enter(p, f, p->l4_off, hdr, layer);
}

static void tcp(struct sockit_pkt *p, const struct sockit__frame *f)
{
    const uint8_t *t = f->d + p->l4_off;

    if (!ports(p, f, SOCKIT_L_TCP, TCP_MIN_HDR, &p->tcp.sport, &p->tcp.dport))
        return;
    p->tcp.seq = sockit__be32(t + 4);
    p->tcp.ack = sockit__be32(t + 8);
    p->tcp.hdr_len = (uint8_t)((t[12] >> 4) * 4);
    p->tcp.flags = (uint16_t)(t[13] | (t[12] & 1) << 8);
    p->tcp.win = sockit__be16(t + 14);
    p->tcp.urg = sockit__be16(t + 18);
    if (p->tcp.hdr_len < TCP_MIN_HDR || p->tcp.hdr_len > p->l4_len) {
        sockit__cut(p, SOCKIT_L_TCP, true);
        return;
    }
    uint32_t opts = p->tcp.hdr_len - TCP_MIN_HDR, got = p->l4_caplen - TCP_MIN_HDR;
    tcp_options(p, t + TCP_MIN_HDR, got < opts ? got : opts, opts);
    if (got < opts) {
        sockit__cut(p, SOCKIT_L_TCP, false);
        return;
    }
    p->payload_off = p->l4_off + p->tcp.hdr_len;
    p->payload_len = p->l4_len - p->tcp.hdr_len;
}

static void udp(struct sockit_pkt *p, const struct sockit__frame *f)
{
    if (!ports(p, f, SOCKIT_L_UDP, UDP_HDR, &p->udp.sport, &p->udp.dport))
        return;
    p->udp.len = sockit__be16(f->d + p->l4_off + 4);
    /* Longer than IP's payload is a lie, but in a first fragment, which holds only part. */
    if (p->udp.len < UDP_HDR || (p->udp.len > p->l4_len && !p->ip.fragment)) {
        sockit__cut(p, SOCKIT_L_UDP, true);
        return;
    }
    p->payload_off = p->l4_off + UDP_HDR;
    p->payload_len = (uint32_t)p->udp.len - UDP_HDR;
}

/* The datagram an IPv4 destination unreachable quotes: its header and 4 bytes after. */
static void icmp_quoted(struct sockit_pkt *p, const uint8_t *m)
{
    const uint8_t *q = m + ICMP_HDR;
    uint32_t ihl = (q[0] & 0x0fu) * 4;

    if (ihl < 20 || p->l4_caplen < ICMP_HDR + ihl + 4)
        return;
    memcpy(&p->icmp.orig_dst, q + 16, 4);
    p->icmp.orig_proto = q[9];
    p->icmp.orig_dport = sockit__be16(q + ihl + 2);
    p->icmp.has_orig = true;
}

static void icmp(struct sockit_pkt *p, const struct sockit__frame *f, unsigned layer)
{
    const uint8_t *m = f->d + p->l4_off;

    if (p->l4_caplen) {
        p->icmp.type = m[0];
        p->icmp.code = p->l4_caplen > 1 ? m[1] : 0;
    }
    if (!sockit__enter(p, f, p->l4_off, ICMP_HDR, layer))
        return;
    bool echo = layer == SOCKIT_L_ICMP ? p->icmp.type == 0 || p->icmp.type == 8
                                       : p->icmp.type == 128 || p->icmp.type == 129;
    if (echo) {
        p->icmp.id = sockit__be16(m + 4);
        p->icmp.seq = sockit__be16(m + 6);
    }
    if (layer == SOCKIT_L_ICMP && p->icmp.type == 3 && p->l4_caplen > ICMP_HDR)
        icmp_quoted(p, m);
    if (layer == SOCKIT_L_ICMPV6 && (p->icmp.type == 135 || p->icmp.type == 136)) {
        if (!sockit__enter(p, f, p->l4_off, ICMP6_ND_LEN, layer))
            return;
        memcpy(&p->icmp.target, m + 8, 16);
    }
    p->payload_off = p->l4_off + ICMP_HDR;
    p->payload_len = p->l4_len - ICMP_HDR;
}

void sockit__decode_l4(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off,
                       uint32_t len, uint8_t proto)
{
    /* The frame as far as IP's payload goes: what lies past it is not this layer's. */
    struct sockit__frame l4 = { f->d, f->cap < off + len ? f->cap : off + len, off + len };

    p->l4_off = off;
    p->l4_len = len;
    p->l4_caplen = sockit__avail(&l4, off);
    if (proto == IPPROTO_TCP)
        tcp(p, &l4);
    else if (proto == IPPROTO_UDP)
        udp(p, &l4);
    else if (proto == IPPROTO_ICMP && p->ip.version == 4)
        icmp(p, &l4, SOCKIT_L_ICMP);
    else if (proto == IPPROTO_ICMPV6 && p->ip.version == 6)
        icmp(p, &l4, SOCKIT_L_ICMPV6);
    else {
        p->payload_off = off;
        p->payload_len = len;
    }
}
