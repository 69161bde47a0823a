/* What the decoder's files share: bounded big-endian reads, the layer decoders each file
 * provides, and an snprintf-like appender for the text and JSON writers. */
#ifndef SOCKIT_DECODE_INTERNAL_H
#define SOCKIT_DECODE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/decode.h"

/* The frame being decoded: CAP bytes at D of a WIRE-byte packet. */
struct sockit__frame {
    const uint8_t *d;
    uint32_t cap, wire;
};

/* Captured bytes from OFF on (0 past the end): every read is checked against this. */
static inline uint32_t sockit__avail(const struct sockit__frame *f, uint32_t off)
{
    return off < f->cap ? f->cap - off : 0;
}

static inline uint16_t sockit__be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sockit__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Stop at LAYER: a cut (the bytes ran out) or, with MALFORMED, a field that lies. */
static inline void sockit__cut(struct sockit_pkt *p, unsigned layer, bool malformed)
{
    p->truncated = layer;
    p->malformed = malformed;
}

/* Start LAYER at OFF: mark it present if any byte of it was captured, and unless NEED bytes
 * were, cut it there (malformed if the packet itself is shorter). Returns whether they were. */
static inline bool sockit__enter(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off,
                                 uint32_t need, unsigned layer)
{
    uint32_t avail = sockit__avail(f, off);

    if (avail)
        p->layers |= layer;
    if (avail >= need)
        return true;
    sockit__cut(p, layer, f->wire - off < need);
    return false;
}

/* decode_ip.c */
void sockit__decode_ipv4(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off);
void sockit__decode_ipv6(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off);

/* decode_l4.c: the upper layer PROTO at OFF, LEN bytes long by the IP header (within the
 * wire length, so only the capture can cut it). */
void sockit__decode_l4(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off,
                       uint32_t len, uint8_t proto);

/* decode_out.c: text written into a caller's buffer, counted past its end like snprintf. */
struct sockit__out {
    char *buf;
    size_t size, len;
};

void sockit__out_init(struct sockit__out *o, char *buf, size_t size);
__attribute__((format(printf, 2, 3))) void sockit__out_printf(struct sockit__out *o,
                                                              const char *fmt, ...);
void sockit__out_mac(struct sockit__out *o, const uint8_t mac[6]);
void sockit__out_ipv4(struct sockit__out *o, const void *a); /* 4 bytes, network order */
/* The packet's IPv4 or IPv6 address A (IPv4 stored IPv4-mapped) as tcpdump writes it. */
void sockit__out_addr(struct sockit__out *o, const struct sockit_pkt *p, const struct in6_addr *a);
void sockit__out_tcp_flags(struct sockit__out *o, uint16_t flags);
/* tcpdump's name for the layer a decode stopped at: "tcp", "ip6", "frag6", ... */
const char *sockit__layer_name(const struct sockit_pkt *p);

#endif
