/* sockit/decode.h — a packet decoder, sans-I/O: bytes of one frame in, a struct of its layers
 * out, and tcpdump-like text or JSON from that struct. It never reads past CAPLEN and never
 * trusts a length field: a header cut short by the snap length or a lying length marks the
 * packet truncated at that layer (tcpdump's "[|tcp]") and keeps what was decoded before.
 *
 * Layers: Ethernet (with up to two 802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw IP;
 * ARP; IPv4 (options, fragments) and IPv6 (extension headers: hop-by-hop, routing,
 * fragment, destination options, AH); ICMP, ICMPv6, TCP (flags, seq/ack, options), UDP.
 * Plain values, no allocation; the struct points into nothing (addresses are copied). */
#ifndef SOCKIT_DECODE_H
#define SOCKIT_DECODE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Link types, by their pcap LINKTYPE_* numbers (what a pcap file header carries). */
enum sockit_linktype {
    SOCKIT_LINK_ETHERNET = 1,     /* LINKTYPE_ETHERNET: AF_PACKET SOCK_RAW on Ethernet/veth */
    SOCKIT_LINK_RAW = 101,        /* LINKTYPE_RAW: an IPv4 or IPv6 packet, nothing before */
    SOCKIT_LINK_LINUX_SLL = 113,  /* LINKTYPE_LINUX_SLL: cooked, 16-byte header */
    SOCKIT_LINK_LINUX_SLL2 = 276, /* LINKTYPE_LINUX_SLL2: cooked v2, 20-byte header */
};

/* How far decoding went; a packet truncated at a layer has that layer's bit in .truncated. */
enum sockit_layer {
    SOCKIT_L_LINK = 1 << 0,
    SOCKIT_L_VLAN = 1 << 1,
    SOCKIT_L_ARP = 1 << 2,
    SOCKIT_L_IPV4 = 1 << 3,
    SOCKIT_L_IPV6 = 1 << 4,
    SOCKIT_L_ICMP = 1 << 5,
    SOCKIT_L_ICMPV6 = 1 << 6,
    SOCKIT_L_TCP = 1 << 7,
    SOCKIT_L_UDP = 1 << 8,
};

#define SOCKIT_PKT_MAX_VLANS 2
#define SOCKIT_PKT_MAX_EXTS  8 /* IPv6 extension headers recorded (more are walked, not kept) */
#define SOCKIT_PKT_MAX_SACKS 4

/* TCP flag bits as in the header's 13th byte (plus NS from the 12th as bit 8). */
enum {
    SOCKIT_TCP_FIN = 0x01,
    SOCKIT_TCP_SYN = 0x02,
    SOCKIT_TCP_RST = 0x04,
    SOCKIT_TCP_PSH = 0x08,
    SOCKIT_TCP_ACK = 0x10,
    SOCKIT_TCP_URG = 0x20,
    SOCKIT_TCP_ECE = 0x40,
    SOCKIT_TCP_CWR = 0x80,
};

struct sockit_pkt {
    int linktype;       /* enum sockit_linktype */
    unsigned layers;    /* enum sockit_layer bits present (whole or in part) */
    unsigned truncated; /* the layer bit where the bytes ran out or a length lied; 0: none */
    uint32_t caplen, wirelen;

    /* Link: Ethernet addresses, or the cooked header's. */
    uint8_t src_mac[6], dst_mac[6];
    bool has_macs;
    uint8_t sll_pkttype;                 /* cooked: PACKET_HOST, PACKET_OUTGOING, ...; else 0 */
    int sll_ifindex;                     /* cooked v2 only; else 0 */
    uint16_t vlan[SOCKIT_PKT_MAX_VLANS]; /* VLAN ids (12 bits) outermost first */
    uint8_t vlan_pcp[SOCKIT_PKT_MAX_VLANS];
    int nvlans;
    uint16_t ethertype; /* the one after the tags: 0x0800, 0x86dd, 0x0806, ... */

    /* ARP (Ethernet/IPv4 only decoded in full). */
    struct {
        uint16_t op; /* 1 request, 2 reply */
        uint8_t sha[6], tha[6];
        struct in_addr spa, tpa;
    } arp;

    /* IPv4 or IPv6. For IPv4 the addresses are stored IPv4-mapped in src/dst. */
    struct {
        int version; /* 4 or 6; 0: no IP */
        struct in6_addr src, dst;
        uint8_t ttl;       /* IPv6: hop limit */
        uint8_t tos;       /* IPv6: traffic class */
        uint8_t proto;     /* after IPv6 extension headers: the upper layer's number */
        uint16_t id;       /* IPv4 id, IPv6 fragment id low 16 bits */
        uint32_t flow;     /* IPv6 flow label */
        uint32_t tot_len;  /* IPv4 total length / IPv6 40 + payload length */
        uint8_t hdr_len;   /* IPv4 IHL * 4 (so options are hdr_len - 20 bytes) */
        bool df, mf;       /* IPv4 DF, MF; IPv6: mf from a fragment header */
        uint32_t frag_off; /* in bytes; nonzero: not the first fragment (no L4 decoded) */
        bool fragment;     /* IPv4 MF or offset, or an IPv6 fragment header */
        uint8_t exts[SOCKIT_PKT_MAX_EXTS]; /* IPv6 extension header numbers, in order */
        int nexts;
    } ip;

    /* The upper layer: which one is in .layers. */
    struct {
        uint16_t sport, dport;
        uint32_t seq, ack;
        uint16_t flags; /* SOCKIT_TCP_* */
        uint16_t win, urg;
        uint8_t hdr_len; /* data offset * 4 */
        /* Options: 0 means absent (has_* for those where 0 is a value). */
        uint16_t mss;
        uint8_t wscale;
        bool has_wscale, sack_ok, has_ts;
        uint32_t ts_val, ts_ecr;
        uint32_t sack[SOCKIT_PKT_MAX_SACKS][2];
        int nsacks;
    } tcp;
    struct {
        uint16_t sport, dport, len;
    } udp;
    struct {
        uint8_t type, code;
        uint16_t id, seq; /* echo request/reply only */
    } icmp;               /* ICMP and ICMPv6 */

    uint32_t payload_off; /* where the upper layer's payload starts in the frame */
    uint32_t payload_len; /* its length by the headers' own lengths, whether captured or not */
};

/* Decode the frame DATA[0, CAPLEN) that was WIRELEN bytes on the wire, of LINKTYPE, into *P.
 * Returns 0, even for a truncated or malformed packet (see .truncated); -EINVAL only for a
 * link type it does not know or CAPLEN > WIRELEN. */
int sockit_pkt_decode(struct sockit_pkt *p, int linktype, const uint8_t *data, size_t caplen,
                      size_t wirelen);

/* The packet as tcpdump writes it after the time and interface, e.g.
 *   IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 18
 *   IP6 fe80::1 > ff02::1: ICMP6, echo request, id 7, seq 1, length 64
 *   IP 10.0.0.1.80 > 10.0.0.2.5555: Flags [S.], seq 1, ack 2, win 65160, options [mss
 *   1460,sackOK,TS val 1 ecr 2,nop,wscale 7], length 0
 * Written into BUF (always terminated when SIZE > 0); returns the length it needed, like
 * snprintf. */
size_t sockit_pkt_summary(const struct sockit_pkt *p, char *buf, size_t size);

/* The layers as JSON members, without the braces, so the caller adds its own (time,
 * interface): "len":60,"caplen":60,"eth":{...},"ip":{...},"udp":{...}. Returns like
 * snprintf. */
size_t sockit_pkt_json(const struct sockit_pkt *p, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
