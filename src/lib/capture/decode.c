/* sockit_pkt_decode: the link layers (Ethernet with its VLAN tags, Linux cooked v1 and v2, raw
 * IP), ARP, and the hand-over to IP. Every read is checked against the captured length. */
#include <errno.h>
#include <string.h>

#include "decode_internal.h"

#define ETH_P_IPV4    0x0800
#define ETH_P_ARP     0x0806
#define ETH_P_IPV6    0x86dd
#define ETH_P_8021Q   0x8100
#define ETH_P_8021AD  0x88a8
#define ETH_P_QINQ1   0x9100 /* pre-standard QinQ, still met */
#define SLL_HDR_LEN   16
#define SLL2_HDR_LEN  20
#define ARP_FIXED_LEN 8
#define ARP_ETH4_LEN  28

static bool is_vlan_tpid(uint16_t type)
{
    return type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1;
}

/* The tags after the Ethernet addresses, from *OFF (the TPID at *OFF - 2 is *TYPE). */
static int vlan_tags(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off,
                     uint16_t *type)
{
    while (is_vlan_tpid(*type) && p->nvlans < SOCKIT_PKT_MAX_VLANS) {
        if (!sockit__enter(p, f, *off, 4, SOCKIT_L_VLAN))
            return -1;
        uint16_t tci = sockit__be16(f->d + *off);
        int i = p->nvlans++;
        p->vlan_tpid[i] = *type;
        p->vlan[i] = tci & 0x0fff;
        p->vlan_pcp[i] = (uint8_t)(tci >> 13);
        p->vlan_dei[i] = tci & 0x1000;
        *type = sockit__be16(f->d + *off + 2);
        *off += 4;
    }
    return 0;
}

static int link_ethernet(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off)
{
    uint16_t type;

    if (!sockit__enter(p, f, 0, 14, SOCKIT_L_LINK))
        return -1;
    memcpy(p->dst_mac, f->d, 6);
    memcpy(p->src_mac, f->d + 6, 6);
    p->has_macs = true;
    type = sockit__be16(f->d + 12);
    *off = 14;
    if (vlan_tags(p, f, off, &type) < 0)
        return -1;
    p->ethertype = type;
    return 0;
}

/* A cooked header's link-layer address: kept when it is a 6-byte one. */
static void sll_address(struct sockit_pkt *p, const uint8_t *len, const uint8_t *addr)
{
    if (*len == 6) {
        memcpy(p->src_mac, addr, 6);
        p->has_macs = true;
    }
}

/* LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol. */
static int link_sll(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off)
{
    if (!sockit__enter(p, f, 0, SLL_HDR_LEN, SOCKIT_L_LINK))
        return -1;
    p->sll_pkttype = (uint8_t)sockit__be16(f->d);
    sll_address(p, f->d + 5, f->d + 6);
    p->ethertype = sockit__be16(f->d + 14);
    *off = SLL_HDR_LEN;
    return 0;
}

/* LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD type, packet type, address
 * length, 8 address bytes. */
static int link_sll2(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off)
{
    if (!sockit__enter(p, f, 0, SLL2_HDR_LEN, SOCKIT_L_LINK))
        return -1;
    p->ethertype = sockit__be16(f->d);
    p->sll_ifindex = (int)sockit__be32(f->d + 4);
    p->sll_pkttype = f->d[10];
    sll_address(p, f->d + 11, f->d + 12);
    *off = SLL2_HDR_LEN;
    return 0;
}

/* LINKTYPE_RAW: the version nibble says which IP it is. */
static int link_raw(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t *off)
{
    *off = 0;
    if (f->cap == 0) {
        sockit__cut(p, SOCKIT_L_IPV4, false);
        return -1;
    }
    switch (f->d[0] >> 4) {
    case 4: p->ethertype = ETH_P_IPV4; break;
    case 6: p->ethertype = ETH_P_IPV6; break;
    default:
        p->layers |= SOCKIT_L_IPV4;
        p->ip.version = f->d[0] >> 4;
        sockit__cut(p, SOCKIT_L_IPV4, true);
        return -1;
    }
    return 0;
}

static void arp(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off)
{
    const uint8_t *a = f->d + off;

    if (!sockit__enter(p, f, off, ARP_FIXED_LEN, SOCKIT_L_ARP))
        return;
    p->arp.htype = sockit__be16(a);
    p->arp.ptype = sockit__be16(a + 2);
    p->arp.hlen = a[4];
    p->arp.plen = a[5];
    p->arp.op = sockit__be16(a + 6);
    if (p->arp.htype != 1 || p->arp.ptype != ETH_P_IPV4 || a[4] != 6 || a[5] != 4)
        return;
    if (!sockit__enter(p, f, off, ARP_ETH4_LEN, SOCKIT_L_ARP))
        return;
    memcpy(p->arp.sha, a + 8, 6);
    memcpy(&p->arp.spa, a + 14, 4);
    memcpy(p->arp.tha, a + 18, 6);
    memcpy(&p->arp.tpa, a + 24, 4);
}

static void network(struct sockit_pkt *p, const struct sockit__frame *f, uint32_t off)
{
    p->net_off = off;
    switch (p->ethertype) {
    case ETH_P_IPV4: sockit__decode_ipv4(p, f, off); break;
    case ETH_P_IPV6: sockit__decode_ipv6(p, f, off); break;
    case ETH_P_ARP: arp(p, f, off); break;
    default: break; /* another protocol, or a third VLAN tag: the link layer is all we know */
    }
}

int sockit_pkt_decode(struct sockit_pkt *p, int linktype, const uint8_t *data, size_t caplen,
                      size_t wirelen)
{
    struct sockit__frame f = { data, (uint32_t)caplen, (uint32_t)wirelen };
    uint32_t off = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    if (caplen > wirelen || wirelen > UINT32_MAX)
        return -EINVAL;
    switch (linktype) {
    case SOCKIT_LINK_ETHERNET: rc = link_ethernet(p, &f, &off); break;
    case SOCKIT_LINK_LINUX_SLL: rc = link_sll(p, &f, &off); break;
    case SOCKIT_LINK_LINUX_SLL2: rc = link_sll2(p, &f, &off); break;
    case SOCKIT_LINK_RAW: rc = link_raw(p, &f, &off); break;
    default: return -EINVAL;
    }
    p->linktype = linktype;
    p->caplen = f.cap;
    p->wirelen = f.wire;
    if (rc == 0)
        network(p, &f, off);
    return 0;
}
