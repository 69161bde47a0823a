/* The writing half the decoder's text and JSON share: an appender that counts like snprintf
 * past the end of the caller's buffer, and the addresses, flags and layer names both print. */
#include <arpa/inet.h>
#include <stdio.h>

#include "decode_internal.h"

void sockit__out_init(struct sockit__out *o, char *buf, size_t size)
{
    o->buf = buf;
    o->size = size;
    o->len = 0;
    if (size)
        buf[0] = '\0';
}

void sockit__out_printf(struct sockit__out *o, const char *fmt, ...)
{
    size_t room = o->len < o->size ? o->size - o->len : 0;
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

void sockit__out_mac(struct sockit__out *o, const uint8_t mac[6])
{
    sockit__out_printf(o, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                       mac[5]);
}

void sockit__out_ipv4(struct sockit__out *o, const void *a)
{
    char text[INET_ADDRSTRLEN];

    sockit__out_printf(o, "%s", inet_ntop(AF_INET, a, text, sizeof(text)));
}

void sockit__out_addr(struct sockit__out *o, const struct sockit_pkt *p, const struct in6_addr *a)
{
    char text[INET6_ADDRSTRLEN];

    if (p->ip.version == 4)
        sockit__out_ipv4(o, &a->s6_addr[12]);
    else
        sockit__out_printf(o, "%s", inet_ntop(AF_INET6, a, text, sizeof(text)));
}

/* tcpdump's letters, in its order; NS (bit 8) has none in tcpdump 4.99. */
void sockit__out_tcp_flags(struct sockit__out *o, uint16_t flags)
{
    static const char letters[] = "FSRP.UEW";

    for (int i = 0; i < 8; i++)
        if (flags & (1u << i))
            sockit__out_printf(o, "%c", letters[i]);
}

static const char *ipv6_ext_name(uint8_t nh)
{
    switch (nh) {
    case IPPROTO_HOPOPTS: return "hbhopt";
    case IPPROTO_ROUTING: return "rt6";
    case IPPROTO_FRAGMENT: return "frag6";
    case IPPROTO_DSTOPTS: return "dstopt";
    case IPPROTO_AH: return "ah";
    default: return "ip6";
    }
}

const char *sockit__layer_name(const struct sockit_pkt *p)
{
    switch (p->truncated) {
    case SOCKIT_L_LINK:
        return p->linktype == SOCKIT_LINK_LINUX_SLL    ? "sll"
               : p->linktype == SOCKIT_LINK_LINUX_SLL2 ? "sll2"
                                                       : "ether";
    case SOCKIT_L_VLAN: return "vlan";
    case SOCKIT_L_ARP: return "arp";
    case SOCKIT_L_IPV4: return "ip";
    case SOCKIT_L_IPV6: /* the walk stopped in an extension header, or before any */
        return p->ip.version == 6 && p->ip.tot_len <= p->wirelen - p->net_off
                   ? ipv6_ext_name(p->ip.proto)
                   : "ip6";
    case SOCKIT_L_ICMP: return "icmp";
    case SOCKIT_L_ICMPV6: return "icmp6";
    case SOCKIT_L_TCP: return "tcp";
    case SOCKIT_L_UDP: return "udp";
    default: return "";
    }
}
