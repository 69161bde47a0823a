/* sockit_pkt_json: the decoded layers as JSON members (the schema is in sockit/decode.h).
 * Every string written is an address, a hex number or a fixed name: nothing needs escaping. */
#include "decode_internal.h"

static void quoted_mac(struct sockit__out *o, const uint8_t mac[6])
{
    sockit__out_printf(o, "\"");
    sockit__out_mac(o, mac);
    sockit__out_printf(o, "\"");
}

static void quoted_addr(struct sockit__out *o, const struct sockit_pkt *p, const struct in6_addr *a)
{
    sockit__out_printf(o, "\"");
    sockit__out_addr(o, p, a);
    sockit__out_printf(o, "\"");
}

static void quoted_ipv4(struct sockit__out *o, const struct in_addr *a)
{
    sockit__out_printf(o, "\"");
    sockit__out_ipv4(o, a);
    sockit__out_printf(o, "\"");
}

static const char *boolean(bool b)
{
    return b ? "true" : "false";
}

static void link_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (!(p->layers & SOCKIT_L_LINK) || p->truncated == SOCKIT_L_LINK)
        return;
    if (p->linktype == SOCKIT_LINK_ETHERNET) {
        sockit__out_printf(o, ",\"eth\":{\"src\":");
        quoted_mac(o, p->src_mac);
        sockit__out_printf(o, ",\"dst\":");
        quoted_mac(o, p->dst_mac);
    } else {
        sockit__out_printf(o, ",\"sll\":{\"pkttype\":%u", p->sll_pkttype);
        if (p->linktype == SOCKIT_LINK_LINUX_SLL2)
            sockit__out_printf(o, ",\"ifindex\":%d", p->sll_ifindex);
        if (p->has_macs) {
            sockit__out_printf(o, ",\"src\":");
            quoted_mac(o, p->src_mac);
        }
    }
    sockit__out_printf(o, ",\"type\":\"0x%04x\"}", p->ethertype);
}

static void vlan_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (!p->nvlans)
        return;
    sockit__out_printf(o, ",\"vlan\":[");
    for (int i = 0; i < p->nvlans; i++)
        sockit__out_printf(o, "%s{\"id\":%u,\"pcp\":%u,\"dei\":%s,\"tpid\":\"0x%04x\"}",
                           i ? "," : "", p->vlan[i], p->vlan_pcp[i], boolean(p->vlan_dei[i]),
                           p->vlan_tpid[i]);
    sockit__out_printf(o, "]");
}

static void arp_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (!(p->layers & SOCKIT_L_ARP) || p->truncated == SOCKIT_L_ARP)
        return;
    sockit__out_printf(o,
                       ",\"arp\":{\"op\":%u,\"htype\":%u,\"ptype\":\"0x%04x\",\"sha\":", p->arp.op,
                       p->arp.htype, p->arp.ptype);
    quoted_mac(o, p->arp.sha);
    sockit__out_printf(o, ",\"spa\":");
    quoted_ipv4(o, &p->arp.spa);
    sockit__out_printf(o, ",\"tha\":");
    quoted_mac(o, p->arp.tha);
    sockit__out_printf(o, ",\"tpa\":");
    quoted_ipv4(o, &p->arp.tpa);
    sockit__out_printf(o, "}");
}

static void ipv6_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    sockit__out_printf(o, ",\"flow\":%u,\"len\":%u,\"exts\":[", p->ip.flow, p->ip.tot_len);
    for (int i = 0; i < p->ip.nexts; i++)
        sockit__out_printf(o, "%s%u", i ? "," : "", p->ip.exts[i]);
    sockit__out_printf(o, "]");
    if (p->ip.fragment)
        sockit__out_printf(o, ",\"id\":%u,\"mf\":%s,\"frag_off\":%u", p->ip.id, boolean(p->ip.mf),
                           p->ip.frag_off);
}

static void ip_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (!(p->layers & (SOCKIT_L_IPV4 | SOCKIT_L_IPV6)) || p->ip.version == 0)
        return;
    sockit__out_printf(o, ",\"ip\":{\"version\":%d,\"src\":", p->ip.version);
    quoted_addr(o, p, &p->ip.src);
    sockit__out_printf(o, ",\"dst\":");
    quoted_addr(o, p, &p->ip.dst);
    sockit__out_printf(o, ",\"proto\":%u,\"ttl\":%u,\"tos\":%u", p->ip.proto, p->ip.ttl, p->ip.tos);
    if (p->layers & SOCKIT_L_IPV6)
        ipv6_json(o, p);
    else
        sockit__out_printf(o,
                           ",\"len\":%u,\"hdr_len\":%u,\"id\":%u,\"df\":%s,\"mf\":%s,"
                           "\"frag_off\":%u",
                           p->ip.tot_len, p->ip.hdr_len, p->ip.id, boolean(p->ip.df),
                           boolean(p->ip.mf), p->ip.frag_off);
    sockit__out_printf(o, "}");
}

static void tcp_options_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    const char *sep = "";

    sockit__out_printf(o, ",\"options\":{");
    if (p->tcp.mss) {
        sockit__out_printf(o, "\"mss\":%u", p->tcp.mss);
        sep = ",";
    }
    if (p->tcp.has_wscale) {
        sockit__out_printf(o, "%s\"wscale\":%u", sep, p->tcp.wscale);
        sep = ",";
    }
    if (p->tcp.sack_ok) {
        sockit__out_printf(o, "%s\"sack_ok\":true", sep);
        sep = ",";
    }
    if (p->tcp.has_ts) {
        sockit__out_printf(o, "%s\"ts\":{\"val\":%u,\"ecr\":%u}", sep, p->tcp.ts_val,
                           p->tcp.ts_ecr);
        sep = ",";
    }
    if (p->tcp.nsacks) {
        sockit__out_printf(o, "%s\"sack\":[", sep);
        for (int i = 0; i < p->tcp.nsacks; i++)
            sockit__out_printf(o, "%s[%u,%u]", i ? "," : "", p->tcp.sack[i][0], p->tcp.sack[i][1]);
        sockit__out_printf(o, "]");
        sep = ",";
    }
    if (p->tcp.opt_bad)
        sockit__out_printf(o, "%s\"bad\":true", sep);
    sockit__out_printf(o, "}");
}

static void tcp_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    sockit__out_printf(o, ",\"tcp\":{\"sport\":%u,\"dport\":%u", p->tcp.sport, p->tcp.dport);
    if (p->l4_caplen >= 20 && p->l4_len >= 20) {
        sockit__out_printf(o, ",\"seq\":%u,\"ack\":%u,\"flags\":\"", p->tcp.seq, p->tcp.ack);
        sockit__out_tcp_flags(o, p->tcp.flags);
        sockit__out_printf(o, "\",\"win\":%u,\"urg\":%u,\"hdr_len\":%u", p->tcp.win, p->tcp.urg,
                           p->tcp.hdr_len);
        if (p->tcp.nopts || p->tcp.opt_bad)
            tcp_options_json(o, p);
    }
    sockit__out_printf(o, "}");
}

static void icmp_json(struct sockit__out *o, const struct sockit_pkt *p, bool v6)
{
    uint8_t t = p->icmp.type;

    sockit__out_printf(o, ",\"icmp%s\":{\"type\":%u,\"code\":%u", v6 ? "6" : "", t, p->icmp.code);
    if (p->l4_caplen >= 8 && (v6 ? t == 128 || t == 129 : t == 0 || t == 8))
        sockit__out_printf(o, ",\"id\":%u,\"seq\":%u", p->icmp.id, p->icmp.seq);
    if (v6 && (t == 135 || t == 136) && p->truncated != SOCKIT_L_ICMPV6) {
        sockit__out_printf(o, ",\"target\":");
        quoted_addr(o, p, &p->icmp.target);
    }
    sockit__out_printf(o, "}");
}

/* The upper layer, once its ports (TCP, UDP) or its type and code (ICMP) were captured. */
static void l4_json(struct sockit__out *o, const struct sockit_pkt *p)
{
    if (p->layers & SOCKIT_L_TCP && p->l4_caplen >= 4)
        tcp_json(o, p);
    else if (p->layers & SOCKIT_L_UDP && p->l4_caplen >= 4) {
        sockit__out_printf(o, ",\"udp\":{\"sport\":%u,\"dport\":%u", p->udp.sport, p->udp.dport);
        if (p->l4_caplen >= 8)
            sockit__out_printf(o, ",\"len\":%u", p->udp.len);
        sockit__out_printf(o, "}");
    } else if (p->layers & (SOCKIT_L_ICMP | SOCKIT_L_ICMPV6) && p->l4_caplen >= 2)
        icmp_json(o, p, p->layers & SOCKIT_L_ICMPV6);
}

size_t sockit_pkt_json(const struct sockit_pkt *p, char *buf, size_t size)
{
    struct sockit__out o;

    sockit__out_init(&o, buf, size);
    sockit__out_printf(&o, "\"len\":%u,\"caplen\":%u", p->wirelen, p->caplen);
    link_json(&o, p);
    vlan_json(&o, p);
    arp_json(&o, p);
    ip_json(&o, p);
    l4_json(&o, p);
    if (p->payload_off)
        sockit__out_printf(&o, ",\"payload\":{\"off\":%u,\"len\":%u}", p->payload_off,
                           p->payload_len);
    if (p->truncated)
        sockit__out_printf(&o, ",\"truncated\":\"%s\"", sockit__layer_name(p));
    if (p->malformed)
        sockit__out_printf(&o, ",\"malformed\":true");
    return o.len;
}
