/* IPv4 and IPv6 for sockit_pkt_decode: the fixed headers, IPv4 fragments, the IPv6 extension
 * header chain (walked with a bound), then the upper layer within the length IP gives it. */
#include <string.h>

#include "decode_internal.h"

#define IPV4_MIN_HDR    20
#define IPV6_HDR        40
#define IPV6_MAX_EXTS   32 /* a longer chain is refused: no real packet carries one */
#define IPPROTO_NONE_V6 59

static void mapped(struct in6_addr *a, const uint8_t *v4)
{
    memset(a, 0, sizeof(*a));
    a->s6_addr[10] = a->s6_addr[11] = 0xff;
    memcpy(&a->s6_addr[12], v4, 4);
}

static void ipv4_fields(struct sockit_pkt *p, const uint8_t *h)
{
    uint16_t frag = sockit__be16(h + 6);

    p->ip.version = h[0] >> 4;
    p->ip.hdr_len = (uint8_t)((h[0] & 0x0f) * 4);
    p->ip.tos = h[1];
    p->ip.tot_len = sockit__be16(h + 2);
    p->ip.id = sockit__be16(h + 4);
    p->ip.df = frag & 0x4000;
    p->ip.mf = frag & 0x2000;
    p->ip.frag_off = (uint32_t)(frag & 0x1fff) * 8;
    p->ip.fragment = p->ip.mf || p->ip.frag_off;
    p->ip.ttl = h[8];
    p->ip.proto = h[9];
    mapped(&p->ip.src, h + 12);
    mapped(&p->ip.dst, h + 16);
}

void sockit__decode_ipv4(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off)
{
    if (!sockit__enter(p, f, off, IPV4_MIN_HDR, SOCKIT_L_IPV4))
        return;
    ipv4_fields(p, f->d + off);
    if (p->ip.version != 4 || p->ip.hdr_len < IPV4_MIN_HDR || p->ip.tot_len < p->ip.hdr_len ||
        p->ip.tot_len > f->wire - off) {
        sockit__cut(p, SOCKIT_L_IPV4, true);
        return;
    }
    if (!sockit__enter(p, f, off, p->ip.hdr_len, SOCKIT_L_IPV4))
        return;
    if (p->ip.frag_off) { /* the upper layer's header is in the first fragment */
        p->payload_off = off + p->ip.hdr_len;
        p->payload_len = p->ip.tot_len - p->ip.hdr_len;
        return;
    }
    sockit__decode_l4(p, f, off + p->ip.hdr_len, p->ip.tot_len - p->ip.hdr_len, p->ip.proto);
}

static bool is_ext(uint8_t nh)
{
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
           nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH;
}

/* The extension header NH at OFF (ROOM bytes left in the payload): its length, or 0 if it is
 * cut (*MALFORMED: by the payload length rather than the capture). */
static uint32_t ext_len(const struct sockit__frame *f, uint32_t off, uint8_t nh, uint32_t room,
                        bool *malformed)
{
    uint32_t avail = sockit__avail(f, off), len = 8;

    *malformed = room < 8;
    if (avail < 8 || room < 8)
        return 0;
    if (nh == IPPROTO_AH)
        len = ((uint32_t)f->d[off + 1] + 2) * 4;
    else if (nh != IPPROTO_FRAGMENT)
        len = ((uint32_t)f->d[off + 1] + 1) * 8;
    *malformed = len > room;
    return len > room || len > avail ? 0 : len;
}

static void fragment_header(struct sockit_pkt *p, const uint8_t *e, uint32_t after)
{
    uint16_t offlg = sockit__be16(e + 2);

    p->ip.fragment = true;
    p->ip.frag_off = offlg & 0xfff8;
    p->ip.mf = offlg & 1;
    p->ip.id = (uint16_t)sockit__be32(e + 4);
    p->ip.frag_len = after;
}

/* Walk the extension headers from *OFF to END; ip.proto is left on the first that is not
 * one. Returns 0, or -1 if the walk was cut (the packet is marked). */
static int ipv6_exts(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off,
                     uint32_t end)
{
    for (int n = 0; is_ext(p->ip.proto); n++) {
        bool malformed;
        if (n == IPV6_MAX_EXTS) {
            sockit__cut(p, SOCKIT_L_IPV6, true);
            return -1;
        }
        if (p->ip.nexts < SOCKIT_PKT_MAX_EXTS)
            p->ip.exts[p->ip.nexts++] = p->ip.proto;
        uint32_t len = ext_len(f, *off, p->ip.proto, end - *off, &malformed);
        if (len == 0) {
            sockit__cut(p, SOCKIT_L_IPV6, malformed);
            return -1;
        }
        if (p->ip.proto == IPPROTO_FRAGMENT)
            fragment_header(p, f->d + *off, end - *off - 8);
        p->ip.proto = f->d[*off];
        *off += len;
    }
    return 0;
}

static void ipv6_fields(struct sockit_pkt *p, const uint8_t *h)
{
    uint32_t vtf = sockit__be32(h);

    p->ip.version = (int)(vtf >> 28);
    p->ip.tos = (uint8_t)(vtf >> 20);
    p->ip.flow = vtf & 0xfffff;
    p->ip.tot_len = IPV6_HDR + (uint32_t)sockit__be16(h + 4);
    p->ip.proto = h[6];
    p->ip.ttl = h[7];
    memcpy(&p->ip.src, h + 8, 16);
    memcpy(&p->ip.dst, h + 24, 16);
}

void sockit__decode_ipv6(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off)
{
    uint32_t end;

    if (!sockit__enter(p, f, off, IPV6_HDR, SOCKIT_L_IPV6))
        return;
    ipv6_fields(p, f->d + off);
    if (p->ip.version != 6 || p->ip.tot_len > f->wire - off) {
        sockit__cut(p, SOCKIT_L_IPV6, true);
        return;
    }
    end = off + p->ip.tot_len;
    off += IPV6_HDR;
    if (ipv6_exts(p, f, &off, end) < 0)
        return;
    if (p->ip.frag_off || p->ip.proto == IPPROTO_NONE_V6) {
        p->payload_off = off;
        p->payload_len = end - off;
        return;
    }
    sockit__decode_l4(p, f, off, end - off, p->ip.proto);
}
