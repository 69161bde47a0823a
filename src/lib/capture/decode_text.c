/* sockit_pkt_summary: one line in tcpdump's words (tcpdump -nn -S, without the time). Each
 * layer writes its part and says whether the next one follows; a cut ends the line with
 * tcpdump's " [|name]". */
#include <string.h>

#include "decode_internal.h"

#define TCP_MIN_HDR 20

static void marker(struct sockit__out *o, const struct sockit_pkt *p)
{
    sockit__out_printf(o, " [|%s]", sockit__layer_name(p));
}

/* "10.0.0.1 > 10.0.0.2" */
static void addresses(struct sockit__out *o, const struct sockit_pkt *p)
{
    sockit__out_addr(o, p, &p->ip.src);
    sockit__out_printf(o, " > ");
    sockit__out_addr(o, p, &p->ip.dst);
}

/* tcpdump writes the addresses once: with the ports for TCP and UDP right after the IP
 * header, before the extension headers (and then bare ports) otherwise. */
static void endpoints(struct sockit__out *o, const struct sockit_pkt *p, uint16_t sport,
                      uint16_t dport)
{
    if (p->ip.nexts) {
        sockit__out_printf(o, "%u > %u: ", sport, dport);
        return;
    }
    sockit__out_addr(o, p, &p->ip.src);
    sockit__out_printf(o, ".%u > ", sport);
    sockit__out_addr(o, p, &p->ip.dst);
    sockit__out_printf(o, ".%u: ", dport);
}

/* ---- TCP --------------------------------------------------------------------------------- */

static void tcp_sack(struct sockit__out *o, const uint8_t *opt)
{
    unsigned blocks = (opt[1] - 2u) / 8;

    sockit__out_printf(o, "sack %u ", blocks);
    for (unsigned i = 0; i < blocks; i++)
        sockit__out_printf(o, "{%u:%u}", sockit__be32(opt + 2 + 8 * i),
                           sockit__be32(opt + 6 + 8 * i));
}

/* One option, from its bytes (the decoder checked its length for its kind). */
static void tcp_option(struct sockit__out *o, const uint8_t *opt)
{
    switch (opt[0]) {
    case 0: sockit__out_printf(o, "eol"); break;
    case 1: sockit__out_printf(o, "nop"); break;
    case 2: sockit__out_printf(o, "mss %u", sockit__be16(opt + 2)); break;
    case 3: sockit__out_printf(o, "wscale %u", opt[2]); break;
    case 4: sockit__out_printf(o, "sackOK"); break;
    case 5: tcp_sack(o, opt); break;
    case 8:
        sockit__out_printf(o, "TS val %u ecr %u", sockit__be32(opt + 2), sockit__be32(opt + 6));
        break;
    default:
        sockit__out_printf(o, "unknown-%u", opt[0]);
        if (opt[1] > 2)
            sockit__out_printf(o, " 0x");
        for (int i = 2; i < opt[1]; i++)
            sockit__out_printf(o, "%02x", opt[i]);
    }
}

/* ", options [...]": false if the line ends with it (a bad option or a cut). */
static bool tcp_options(struct sockit__out *o, const struct sockit_pkt *p)
{
    bool cut = p->truncated == SOCKIT_L_TCP;

    if (p->tcp.hdr_len <= TCP_MIN_HDR)
        return true;
    sockit__out_printf(o, ", options [");
    for (int i = 0; i < p->tcp.nopts; i++) {
        sockit__out_printf(o, "%s", i ? "," : "");
        tcp_option(o, p->tcp.opt_bytes + p->tcp.opt_at[i]);
    }
    if (p->tcp.opt_bad || cut) {
        sockit__out_printf(o, "%s", p->tcp.nopts ? "," : "");
        if (cut)
            marker(o, p);
        else
            sockit__out_printf(o, "[bad opt]%s", p->tcp.nopts ? "]" : "");
        return false;
    }
    sockit__out_printf(o, "]");
    return true;
}

static void tcp_flags(struct sockit__out *o, uint16_t flags)
{
    sockit__out_printf(o, "Flags [");
    if (flags & 0xff)
        sockit__out_tcp_flags(o, flags);
    else
        sockit__out_printf(o, "none");
    sockit__out_printf(o, "]");
}

/* A header that lies about its length, in tcpdump's words. */
static bool tcp_bad_hdr_len(struct sockit__out *o, const struct sockit_pkt *p)
{
    const char *fmt = " tcp %u [bad hdr length %u - too short, < 20]";

    if (p->tcp.hdr_len < TCP_MIN_HDR) {
        sockit__out_printf(o, fmt, p->l4_len - p->tcp.hdr_len, p->tcp.hdr_len);
        return true;
    }
    if (p->tcp.hdr_len > p->l4_len) {
        tcp_flags(o, p->tcp.flags);
        sockit__out_printf(o, " [bad hdr length %u - too long, > %u]", p->tcp.hdr_len, p->l4_len);
        return true;
    }
    return false;
}

static void tcp_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    uint16_t fl = p->tcp.flags;

    if (p->l4_caplen < 4) { /* after extension headers, the addresses are already out */
        if (!p->ip.nexts) {
            addresses(o, p);
            sockit__out_printf(o, ":");
        }
        marker(o, p);
        return;
    }
    endpoints(o, p, p->tcp.sport, p->tcp.dport);
    if (p->l4_caplen < TCP_MIN_HDR || p->l4_len < TCP_MIN_HDR) {
        marker(o, p);
        return;
    }
    if (tcp_bad_hdr_len(o, p))
        return;
    tcp_flags(o, fl);
    if (p->payload_len || (fl & (SOCKIT_TCP_SYN | SOCKIT_TCP_FIN | SOCKIT_TCP_RST)))
        sockit__out_printf(o, ", seq %u", p->tcp.seq);
    if (p->payload_len)
        sockit__out_printf(o, ":%u", p->tcp.seq + p->payload_len);
    if (fl & SOCKIT_TCP_ACK)
        sockit__out_printf(o, ", ack %u", p->tcp.ack);
    sockit__out_printf(o, ", win %u", p->tcp.win);
    if (fl & SOCKIT_TCP_URG)
        sockit__out_printf(o, ", urg %u", p->tcp.urg);
    if (tcp_options(o, p))
        sockit__out_printf(o, ", length %u", p->payload_len);
}

/* ---- UDP, ICMP, ICMPv6 ------------------------------------------------------------------- */

static void udp_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->l4_caplen < 4) {
        if (!p->ip.nexts) {
            addresses(o, p);
            sockit__out_printf(o, ": ");
        }
        marker(o, p);
        return;
    }
    endpoints(o, p, p->udp.sport, p->udp.dport);
    if (p->l4_caplen < 8 || p->l4_len < 8)
        marker(o, p);
    else if (p->udp.len < 8)
        sockit__out_printf(o, "truncated-udplength %u", p->udp.len);
    else if (p->truncated == SOCKIT_L_UDP)
        sockit__out_printf(o, "UDP, bad length %u > %u", p->udp.len - 8u, p->l4_len - 8);
    else
        sockit__out_printf(o, "UDP, length %u", p->payload_len);
}

static const char *icmp_name(uint8_t type)
{
    switch (type) {
    case 0: return "echo reply";
    case 3: return "destination unreachable";
    case 4: return "source quench";
    case 5: return "redirect";
    case 8: return "echo request";
    case 9: return "router advertisement";
    case 10: return "router solicitation";
    case 11: return "time exceeded";
    case 12: return "parameter problem";
    case 13: return "time stamp query";
    case 14: return "time stamp reply";
    case 15: return "information request";
    case 16: return "information reply";
    case 17: return "address mask request";
    case 18: return "address mask reply";
    default: return NULL;
    }
}

/* tcpdump's words for an unreachable destination, around the quoted datagram's address
 * (codes 2, 3 and 4 are written apart). */
static const char *const unreach_words[16][2] = {
    [0] = { "net ", " unreachable" },
    [1] = { "host ", " unreachable" },
    [5] = { "", " unreachable - source route failed" },
    [6] = { "net ", " unreachable - unknown" },
    [7] = { "host ", " unreachable - unknown" },
    [8] = { "", " unreachable - source host isolated" },
    [9] = { "net ", " unreachable - admin prohibited" },
    [10] = { "host ", " unreachable - admin prohibited" },
    [11] = { "net ", " unreachable - tos prohibited" },
    [12] = { "host ", " unreachable - tos prohibited" },
    [13] = { "host ", " unreachable - admin prohibited filter" },
    [14] = { "host ", " unreachable - host precedence violation" },
    [15] = { "host ", " unreachable - precedence cutoff" },
};

/* "ICMP 10.0.0.2 udp port 6000 unreachable": false if it is not written this way. */
static bool icmp_unreach_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    uint8_t code = p->icmp.code, proto = p->icmp.orig_proto;

    if (!p->icmp.has_orig || code > 15 || (code != 2 && code != 3 && !unreach_words[code][0]))
        return false;
    sockit__out_printf(o, "ICMP %s", code < 2 || code > 4 ? unreach_words[code][0] : "");
    sockit__out_ipv4(o, &p->icmp.orig_dst);
    if (code == 2)
        sockit__out_printf(o, " protocol %u unreachable", proto);
    else if (code == 3 && (proto == IPPROTO_TCP || proto == IPPROTO_UDP))
        sockit__out_printf(o, " %s port %u unreachable", proto == IPPROTO_TCP ? "tcp" : "udp",
                           p->icmp.orig_dport);
    else if (code == 3)
        sockit__out_printf(o, " protocol %u port %u unreachable", proto, p->icmp.orig_dport);
    else
        sockit__out_printf(o, "%s", unreach_words[code][1]);
    return true;
}

/* The message, in tcpdump's words where the struct has what they need. */
static void icmp_message(struct sockit__out *o, const struct sockit_pkt *p)
{
    uint8_t type = p->icmp.type, code = p->icmp.code;
    const char *name = icmp_name(type);

    if (type == 0 || type == 8)
        sockit__out_printf(o, "ICMP %s, id %u, seq %u", name, p->icmp.id, p->icmp.seq);
    else if (type == 11 && code < 2)
        sockit__out_printf(o, "ICMP %s",
                           code ? "ip reassembly time exceeded" : "time exceeded in-transit");
    else if (type == 3 || type == 5 || type == 11 || type == 12)
        sockit__out_printf(o, "ICMP %s, code %u", name, code);
    else if (name)
        sockit__out_printf(o, "ICMP %s", name);
    else
        sockit__out_printf(o, "ICMP type-#%u", type);
}

static void icmp_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->truncated == SOCKIT_L_ICMP) {
        marker(o, p);
        return;
    }
    if (p->icmp.type != 3 || !icmp_unreach_text(o, p))
        icmp_message(o, p);
    sockit__out_printf(o, ", length %u", p->l4_len);
}

static const char *icmp6_name(uint8_t type)
{
    switch (type) {
    case 1: return "destination unreachable";
    case 2: return "packet too big";
    case 3: return "time exceeded in-transit";
    case 4: return "parameter problem";
    case 128: return "echo request";
    case 129: return "echo reply";
    case 130: return "multicast listener query";
    case 131: return "multicast listener report";
    case 132: return "multicast listener done";
    case 133: return "router solicitation";
    case 134: return "router advertisement";
    case 135: return "neighbor solicitation";
    case 136: return "neighbor advertisement";
    case 137: return "redirect";
    case 143: return "multicast listener report v2";
    default: return NULL;
    }
}

static void icmp6_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    const char *name = icmp6_name(p->icmp.type);

    if (p->l4_caplen)
        sockit__out_printf(o, "ICMP6, ");
    if (p->l4_caplen && name)
        sockit__out_printf(o, "%s", name);
    else if (p->l4_caplen)
        sockit__out_printf(o, "unknown icmp6 type (%u)", p->icmp.type);
    if (p->truncated == SOCKIT_L_ICMPV6) {
        marker(o, p);
        return;
    }
    if (p->icmp.type == 128 || p->icmp.type == 129)
        sockit__out_printf(o, ", id %u, seq %u", p->icmp.id, p->icmp.seq);
    if (p->icmp.type == 135 || p->icmp.type == 136) {
        sockit__out_printf(o, p->icmp.type == 135 ? ", who has " : ", tgt is ");
        sockit__out_addr(o, p, &p->icmp.target);
    }
    sockit__out_printf(o, ", length %u", p->l4_len);
}

/* After the IP header: the upper layer, or tcpdump's " ip-proto-N LEN" for another. */
static void l4_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->layers & SOCKIT_L_TCP || p->truncated == SOCKIT_L_TCP)
        tcp_text(o, p);
    else if (p->layers & SOCKIT_L_UDP || p->truncated == SOCKIT_L_UDP)
        udp_text(o, p);
    else if (p->layers & SOCKIT_L_ICMP || p->truncated == SOCKIT_L_ICMP)
        icmp_text(o, p);
    else if (p->layers & SOCKIT_L_ICMPV6 || p->truncated == SOCKIT_L_ICMPV6)
        icmp6_text(o, p);
    else
        sockit__out_printf(o, " ip-proto-%u %u", p->ip.proto, p->l4_len);
}

/* ---- IP ---------------------------------------------------------------------------------- */

static bool is_transport(uint8_t proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* An IPv4 header that lies, or is cut: tcpdump's words for each. */
static void ipv4_bad(struct sockit__out *o, const struct sockit_pkt *p)
{
    uint32_t room = p->wirelen - p->net_off;

    if (p->ip.version == 0)
        sockit__out_printf(o, "%s", p->layers & SOCKIT_L_IPV4 ? "IP " : "");
    else if (p->linktype == SOCKIT_LINK_RAW && p->ip.version != 4)
        sockit__out_printf(o, "unknown ip %d", p->ip.version);
    else if (p->ip.version == 6)
        sockit__out_printf(o, "IP6, wrong link-layer encapsulation (invalid)");
    else if (p->ip.version != 4)
        sockit__out_printf(o, "IP%d (invalid)", p->ip.version);
    else if (p->ip.hdr_len < 20)
        sockit__out_printf(o, "IP bad-hlen %u", p->ip.hdr_len);
    else if (p->ip.tot_len < p->ip.hdr_len)
        sockit__out_printf(o, "IP bad-len %u", p->ip.tot_len);
    else if (p->ip.tot_len > room) {
        sockit__out_printf(o, "IP truncated-ip - %u bytes missing! ", p->ip.tot_len - room);
        addresses(o, p);
        sockit__out_printf(o, ":");
    } else
        sockit__out_printf(o, "IP ");
    if (p->ip.version == 0 ||
        (p->ip.version == 4 && p->ip.hdr_len >= 20 && p->ip.tot_len >= p->ip.hdr_len))
        marker(o, p);
}

static void ipv4_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->truncated == SOCKIT_L_IPV4) {
        ipv4_bad(o, p);
        return;
    }
    sockit__out_printf(o, "IP ");
    if (p->ip.frag_off) {
        addresses(o, p);
        sockit__out_printf(o, ": ip-proto-%u", p->ip.proto);
        return;
    }
    if (!is_transport(p->ip.proto)) {
        addresses(o, p);
        sockit__out_printf(o, ": ");
    }
    l4_text(o, p);
}

/* The extension headers walked whole, then a non-first fragment's end or the upper layer. */
static void ipv6_exts_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    int whole = p->ip.nexts - (p->truncated == SOCKIT_L_IPV6);

    for (int i = 0; i < whole; i++) {
        switch (p->ip.exts[i]) {
        case IPPROTO_HOPOPTS: sockit__out_printf(o, "HBH "); break;
        case IPPROTO_DSTOPTS: sockit__out_printf(o, "DSTOPT "); break;
        case IPPROTO_ROUTING: sockit__out_printf(o, "RT6 "); break;
        case IPPROTO_AH: sockit__out_printf(o, "AH "); break;
        case IPPROTO_FRAGMENT:
            sockit__out_printf(o, "frag (%u|%u)%s", p->ip.frag_off, p->ip.frag_len,
                               p->ip.frag_off ? "" : " ");
            break;
        }
    }
}

static void ipv6_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    uint32_t room = p->wirelen - p->net_off;

    if (p->ip.version == 0) {
        marker(o, p);
        return;
    }
    if (p->ip.version != 6) {
        sockit__out_printf(o, "IP6, wrong version %d (invalid)", p->ip.version);
        return;
    }
    sockit__out_printf(o, "IP6 ");
    if (p->ip.tot_len > room) {
        sockit__out_printf(o, "truncated-ip6 - %u bytes missing! ", p->ip.tot_len - room);
        addresses(o, p);
        sockit__out_printf(o, ":");
        marker(o, p);
        return;
    }
    if (p->ip.nexts || !is_transport(p->ip.proto)) {
        addresses(o, p);
        sockit__out_printf(o, ": ");
    }
    ipv6_exts_text(o, p);
    if (p->truncated == SOCKIT_L_IPV6)
        marker(o, p);
    else if (p->ip.frag_off)
        return;
    else if (p->ip.proto == 59)
        sockit__out_printf(o, "no next header");
    else
        l4_text(o, p);
}

/* ---- ARP and the link layer -------------------------------------------------------------- */

static const char *arp_op_name(uint16_t op)
{
    switch (op) {
    case 1: return "Request";
    case 2: return "Reply";
    case 3: return "Reverse Request";
    case 4: return "Reverse Reply";
    case 8: return "Inverse Request";
    case 9: return "Inverse Reply";
    case 10: return "NACK Reply";
    default: return NULL;
    }
}

/* Ethernet/IPv4 requests and replies in full; anything else by its operation's name. */
static void arp_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    static const uint8_t zero[6];
    const char *op = arp_op_name(p->arp.op);
    bool eth4 = p->arp.htype == 1 && p->arp.ptype == 0x0800 && p->arp.hlen == 6 && p->arp.plen == 4;

    if (p->truncated == SOCKIT_L_ARP) {
        marker(o, p);
        return;
    }
    sockit__out_printf(o, "ARP, ");
    if (eth4 && p->arp.op == 1) {
        sockit__out_printf(o, "Request who-has ");
        sockit__out_ipv4(o, &p->arp.tpa);
        if (memcmp(p->arp.tha, zero, 6) != 0) {
            sockit__out_printf(o, " (");
            sockit__out_mac(o, p->arp.tha);
            sockit__out_printf(o, ")");
        }
        sockit__out_printf(o, " tell ");
        sockit__out_ipv4(o, &p->arp.spa);
    } else if (eth4 && p->arp.op == 2) {
        sockit__out_printf(o, "Reply ");
        sockit__out_ipv4(o, &p->arp.spa);
        sockit__out_printf(o, " is-at ");
        sockit__out_mac(o, p->arp.sha);
    } else {
        if (!eth4)
            sockit__out_printf(o, "hardware %u (len %u), protocol 0x%04x (len %u), ", p->arp.htype,
                               p->arp.hlen, p->arp.ptype, p->arp.plen);
        if (op)
            sockit__out_printf(o, "%s", op);
        else
            sockit__out_printf(o, "Unknown (%u)", p->arp.op);
    }
    sockit__out_printf(o, ", length %u", p->wirelen - p->net_off);
}

static const char *pkttype_name(uint8_t t)
{
    static const char *const names[] = { "In", "B", "M", "P", "Out" };

    return t < 5 ? names[t] : "?";
}

/* A frame whose protocol is not decoded: its link header, as tcpdump writes it before the
 * hex dump it adds (we do not). */
static void link_only(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->linktype == SOCKIT_LINK_ETHERNET) {
        sockit__out_mac(o, p->src_mac);
        sockit__out_printf(o, " > ");
        sockit__out_mac(o, p->dst_mac);
        sockit__out_printf(o, ", ");
    } else {
        sockit__out_printf(o, "%s ", pkttype_name(p->sll_pkttype));
        if (p->linktype == SOCKIT_LINK_LINUX_SLL2)
            sockit__out_printf(o, "ifindex %d ", p->sll_ifindex);
        if (p->has_macs) {
            sockit__out_mac(o, p->src_mac);
            sockit__out_printf(o, " ");
        }
    }
    if (p->linktype == SOCKIT_LINK_ETHERNET && p->ethertype <= 1500)
        sockit__out_printf(o, "802.3");
    else
        sockit__out_printf(o, "ethertype 0x%04x", p->ethertype);
    sockit__out_printf(o, ", length %u", p->wirelen);
}

static void vlans_text(struct sockit__out *o, const struct sockit_pkt *p)
{
    for (int i = 0; i < p->nvlans; i++)
        sockit__out_printf(o, "vlan %u, p %u%s, ", p->vlan[i], p->vlan_pcp[i],
                           p->vlan_dei[i] ? ", DEI" : "");
}

size_t sockit_pkt_summary(const struct sockit_pkt *p, char *buf, size_t size)
{
    struct sockit__out o;

    sockit__out_init(&o, buf, size);
    vlans_text(&o, p);
    if (p->truncated == SOCKIT_L_LINK || p->truncated == SOCKIT_L_VLAN)
        marker(&o, p);
    else if (p->layers & SOCKIT_L_IPV4 || p->truncated == SOCKIT_L_IPV4)
        ipv4_text(&o, p);
    else if (p->layers & SOCKIT_L_IPV6 || p->truncated == SOCKIT_L_IPV6)
        ipv6_text(&o, p);
    else if (p->layers & SOCKIT_L_ARP || p->truncated == SOCKIT_L_ARP)
        arp_text(&o, p);
    else if (p->linktype)
        link_only(&o, p);
    return o.len;
}
