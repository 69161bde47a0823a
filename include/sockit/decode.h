/* sockit/decode.h — a packet decoder, sans-I/O: bytes of one frame in, a struct of its layers
 * out, and tcpdump-like text or JSON from that struct. It never reads past CAPLEN and never
 * trusts a length field: a header cut short by the snap length or a lying length marks the
 * packet truncated at that layer (tcpdump's "[|tcp]") and keeps what was decoded before.
 *
 * Layers: Ethernet (with up to two 802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw IP;
 * ARP; IPv4 (options, fragments) and IPv6 (extension headers: hop-by-hop, routing,
 * fragment, destination options, AH); ICMP, ICMPv6, TCP (flags, seq/ack, options), UDP.
 * Application protocols are not decoded (tcpdump's ": HTTP" after a TCP line is not printed).
 * Plain values, no allocation, no state: any thread may call any function on its own struct.
 * The struct points into nothing (addresses and TCP option bytes are copied), so it outlives
 * the frame. */
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

#define SOCKIT_PKT_MAX_TCPOPTS 40 /* the most a 60-byte TCP header holds (all NOPs) */

struct sockit_pkt {
    int linktype;       /* enum sockit_linktype */
    unsigned layers;    /* enum sockit_layer bits present (whole or in part) */
    unsigned truncated; /* the layer bit where the bytes ran out or a length lied; 0: none */
    bool malformed;     /* not the snap length: a field lies (a length, a version), or the
                           packet on the wire is shorter than the header .truncated names */
    uint32_t caplen, wirelen;

    /* Link: Ethernet addresses; cooked headers carry a source address only (in src_mac). */
    uint8_t src_mac[6], dst_mac[6];
    bool has_macs;                       /* Ethernet; cooked: the source is a 6-byte address */
    uint8_t sll_pkttype;                 /* cooked: PACKET_HOST, PACKET_OUTGOING, ...; else 0 */
    int sll_ifindex;                     /* cooked v2 only; else 0 */
    uint16_t vlan[SOCKIT_PKT_MAX_VLANS]; /* VLAN ids (12 bits) outermost first */
    uint8_t vlan_pcp[SOCKIT_PKT_MAX_VLANS];
    bool vlan_dei[SOCKIT_PKT_MAX_VLANS];
    uint16_t vlan_tpid[SOCKIT_PKT_MAX_VLANS]; /* 0x8100, 0x88a8 or 0x9100 */
    int nvlans;
    uint16_t ethertype; /* the one after the tags: 0x0800, 0x86dd, 0x0806, ...; <= 1500: an
                           802.3 length; raw IP: 0x0800 or 0x86dd by the version, else 0 */
    uint32_t net_off;   /* where the ARP or IP header starts in the frame */

    /* ARP (Ethernet/IPv4 only decoded in full: the addresses are zero otherwise). */
    struct {
        uint16_t op; /* 1 request, 2 reply */
        uint16_t htype, ptype;
        uint8_t hlen, plen; /* 6 and 4 for Ethernet/IPv4 */
        uint8_t sha[6], tha[6];
        struct in_addr spa, tpa;
    } arp;

    /* IPv4 or IPv6. For IPv4 the addresses are stored IPv4-mapped in src/dst. */
    struct {
        int version; /* the header's version once its fixed part is captured; 0: not */
        struct in6_addr src, dst;
        uint8_t ttl;       /* IPv6: hop limit */
        uint8_t tos;       /* IPv6: traffic class */
        uint8_t proto;     /* after IPv6 extension headers: the upper layer's number (or, when
                              the walk stopped in one, that extension header's number) */
        uint16_t id;       /* IPv4 id, IPv6 fragment id low 16 bits */
        uint32_t flow;     /* IPv6 flow label */
        uint32_t tot_len;  /* IPv4 total length / IPv6 40 + payload length */
        uint8_t hdr_len;   /* IPv4 IHL * 4 (so options are hdr_len - 20 bytes) */
        bool df, mf;       /* IPv4 DF, MF; IPv6: mf from a fragment header */
        uint32_t frag_off; /* in bytes; nonzero: not the first fragment (no L4 decoded) */
        bool fragment;     /* IPv4 MF or offset, or an IPv6 fragment header */
        uint32_t frag_len; /* IPv6: the bytes after the fragment header (tcpdump's "frag (0|N)") */
        uint8_t exts[SOCKIT_PKT_MAX_EXTS]; /* IPv6 extension header numbers, in order */
        int nexts;
    } ip;

    /* The upper layer (TCP, UDP, ICMP, ICMPv6 or any other protocol IP carries). */
    uint32_t l4_off;    /* where it starts in the frame */
    uint32_t l4_len;    /* its length by the IP header (its header and its payload) */
    uint32_t l4_caplen; /* how much of it was captured */

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
        /* Every option in the order sent, for printing them as they came: opt[i] starts at
         * opt_bytes[opt_at[i]] (its kind, then its length and data unless EOL or NOP). */
        uint8_t opt_bytes[SOCKIT_PKT_MAX_TCPOPTS]; /* the option bytes captured */
        uint8_t opt_at[SOCKIT_PKT_MAX_TCPOPTS];
        int nopts;
        bool opt_bad; /* a malformed option (length < 2, past the header, or wrong for its kind)
                         stopped the walk after nopts options */
    } tcp;
    struct {
        uint16_t sport, dport, len;
    } udp;
    struct {
        uint8_t type, code;
        uint16_t id, seq;       /* echo request/reply only */
        struct in6_addr target; /* ICMPv6 neighbor solicitation/advertisement only */
        /* ICMP destination unreachable: the quoted datagram's destination, protocol and
         * (the first 4 bytes after its header) destination port, when captured. */
        bool has_orig;
        struct in_addr orig_dst;
        uint8_t orig_proto;
        uint16_t orig_dport;
    } icmp; /* ICMP and ICMPv6 */

    uint32_t payload_off; /* where the upper layer's payload starts in the frame */
    uint32_t payload_len; /* its length by the headers' own lengths, whether captured or not */
};

/* Decode the frame DATA[0, CAPLEN) that was WIRELEN bytes on the wire, of LINKTYPE, into *P
 * (which the call fills from scratch; DATA is not kept). Returns 0, even for a truncated or
 * malformed packet (see .truncated and .malformed); -EINVAL only for a link type it does not
 * know or CAPLEN > WIRELEN (then *P is zeroed). */
int sockit_pkt_decode(struct sockit_pkt *p, int linktype, const uint8_t *data, size_t caplen,
                      size_t wirelen);

/* The packet as `tcpdump -nn -S` writes it after the time and interface, e.g.
 *   IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 18
 *   IP6 fe80::1 > ff02::1: ICMP6, echo request, id 7, seq 1, length 64
 *   IP 10.0.0.1.80 > 10.0.0.2.5555: Flags [S.], seq 1, ack 2, win 65160, options [mss
 *   1460,sackOK,TS val 1 ecr 2,nop,wscale 7], length 0
 *   ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
 * Sequence numbers are absolute, as with tcpdump -S (tcpdump's default is relative to the
 * first packet of a connection, which needs state across packets). Where tcpdump differs:
 *   - VLAN tags (tcpdump shows them only with -e) come first, one "vlan ID, p PCP[, DEI], "
 *     for each tag, outermost first: "vlan 100, p 0, IP 10.0.0.1 > ...";
 *   - a cut is marked " [|tcp]" after what the struct holds: a cut inside the TCP options
 *     lists the whole options before it, where tcpdump also prints half of the cut one;
 *   - a known TCP option with the wrong length is "[bad opt]" (tcpdump: "mss 1280[len 5]");
 *   - IPv6 routing and AH headers are "RT6 " and "AH " without their fields; ICMP and ICMPv6
 *     messages other than echo, time exceeded, IPv4 destination unreachable (but "need to
 *     frag") and neighbor discovery are named without their details ("ICMP redirect, code 1",
 *     "ICMP6, destination unreachable"); an unknown ethertype has no hex dump
 *     ("ethertype 0x88b5, length 60");
 *   - payloads are not decoded (no ": HTTP" or DNS after the UDP/TCP part).
 * Written into BUF (always terminated when SIZE > 0); returns the length it needed, like
 * snprintf. */
size_t sockit_pkt_summary(const struct sockit_pkt *p, char *buf, size_t size);

/* The layers as JSON members, without the braces, so the caller adds its own (time,
 * interface). Members appear for the layers present, in this order (numbers are JSON
 * numbers, addresses strings):
 *   "len":60,"caplen":60,
 *   "eth":{"src":"02:00:00:00:00:01","dst":"02:00:00:00:00:02","type":"0x0800"},  Ethernet
 *   "sll":{"pkttype":0,"ifindex":1,"src":"02:..","type":"0x0800"},  cooked (ifindex: SLL2)
 *   "vlan":[{"id":100,"pcp":0,"dei":false,"tpid":"0x8100"}, ...],
 *   "arp":{"op":1,"sha":"..","spa":"10.0.0.1","tha":"..","tpa":"10.0.0.2"},
 *   "ip":{"version":4,"src":"10.0.0.1","dst":"10.0.0.2","proto":17,"ttl":64,"tos":0,
 *         "len":46,"hdr_len":20,"id":1,"df":true,"mf":false,"frag_off":0},
 *   "ip":{"version":6,"src":"fd00::1","dst":"fd00::2","proto":17,"ttl":64,"tos":0,
 *         "flow":0,"len":66,"exts":[0,44],"id":4660,"mf":false,"frag_off":0},  (IPv6: "id",
 *         "mf" and "frag_off" with a fragment header only; "ttl" is the hop limit)
 *   "tcp":{"sport":80,"dport":5555,"seq":1,"ack":2,"flags":"S.","win":65160,"urg":0,
 *          "hdr_len":40,"options":{"mss":1460,"wscale":7,"sack_ok":true,
 *          "ts":{"val":1,"ecr":2},"sack":[[100,200]],"bad":true}},  (each option if present;
 *          "flags" in tcpdump's letters, "" for none)
 *   "udp":{"sport":5000,"dport":6000,"len":26},
 *   "icmp":{"type":8,"code":0,"id":7,"seq":1},  ("icmp6" for ICMPv6; "id" and "seq" for
 *          echoes, "target" for neighbor solicitations and advertisements)
 *   "payload":{"off":42,"len":18},  (the upper layer's payload, when its header was whole)
 *   "truncated":"tcp","malformed":true  (the layer where decoding stopped, by tcpdump's
 *          name for it: ether, sll, sll2, vlan, arp, ip, ip6, hbhopt, rt6, frag6, dstopt,
 *          ah, icmp, icmp6, tcp, udp; "malformed" only when a field lied)
 * Returns like snprintf: the length needed; BUF is always terminated when SIZE > 0. */
size_t sockit_pkt_json(const struct sockit_pkt *p, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
