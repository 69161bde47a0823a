/* The capture ring (sockit/capture.h): an AF_PACKET socket with a TPACKET_V3 receive ring.
 *
 * Setup, in the order libpcap does it and for the same reasons:
 *   socket(AF_PACKET, SOCK_RAW or SOCK_DGRAM, 0)   protocol 0: nothing arrives yet
 *   PACKET_VERSION TPACKET_V3, PACKET_RESERVE      (cooked: room for the SLL2 header we write)
 *   SO_ATTACH_FILTER                               the filter (or "accept, cut at snaplen")
 *   PACKET_RX_RING + mmap                          the shared blocks
 *   PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC        if asked
 *   bind(ifindex, htons(ETH_P_ALL))                only now do frames arrive, all filtered
 * The kernel fills a block, marks it TP_STATUS_USER and wakes poll(); we walk its frames in
 * place and hand it back by writing TP_STATUS_KERNEL. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/trace.h"
#include "sockit/capture.h"
#include "sockit/decode.h"
#include "sockit/error.h"

#define SLL2_LEN        20 /* the LINKTYPE_LINUX_SLL2 header */
#define DEFAULT_SNAPLEN 262144u
#define DEFAULT_BLOCK   (1u << 20)
#define DEFAULT_BLOCKS  64u
#define DEFAULT_TIMEOUT 10u
#define MAX_RING_BYTES  (1ull << 31) /* 2 GiB of ring is more than any capture needs */

struct sockit_capture {
    int fd;
    int ifindex; /* 0: every interface */
    int linktype;
    bool cooked;
    uint8_t *ring;
    size_t ring_size;
    uint32_t block_size, block_count;
    uint32_t block;    /* the current block's index */
    bool holding;      /* the current block is ours (TP_STATUS_USER) */
    uint32_t left;     /* frames of the current block not yet returned */
    uint8_t *next_pkt; /* the next of them */
    const struct sockit_trace *trace;
};

static struct tpacket_block_desc *block_at(const struct sockit_capture *c, uint32_t i)
{
    return (struct tpacket_block_desc *)(c->ring + (size_t)i * c->block_size);
}

static int traced_setsockopt(struct sockit_capture *c, int level, int name, const void *val,
                             socklen_t len, const char *what)
{
    int rc = setsockopt(c->fd, level, name, val, len);

    sockit__trace_syscall(c->trace, rc, "setsockopt(%d, %s)", c->fd, what);
    return rc < 0 ? -errno : 0;
}

/* The link type the frames of IFINDEX have on a SOCK_RAW socket, or 0 when only cooked makes
 * sense (a link type the decoder and file writer do not know). */
static int raw_linktype(int ifindex)
{
    struct ifreq ifr = { 0 };
    int fd, rc;

    if (!if_indextoname((unsigned)ifindex, ifr.ifr_name))
        return 0;
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) /* any socket: no privilege */
        return 0;
    rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    close(fd);
    if (rc < 0)
        return 0;
    switch (ifr.ifr_hwaddr.sa_family) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
        return SOCKIT_LINK_ETHERNET;          /* lo frames carry a zeroed Ethernet header */
    case ARPHRD_NONE: return SOCKIT_LINK_RAW; /* tun: the IP packet, nothing before */
    default: return 0;
    }
}

/* Resolve O's interface: 0 for all, the index, or -SOCKIT_ECAP_IFACE. */
static int find_ifindex(const char *name)
{
    unsigned idx;

    if (!name || !*name || strcmp(name, "any") == 0)
        return 0;
    if (strlen(name) >= IF_NAMESIZE || !(idx = if_nametoindex(name)))
        return -SOCKIT_ECAP_IFACE;
    return (int)idx;
}

/* Without a filter of the caller's: accept every frame, cut at SNAPLEN (the kernel keeps as
 * many bytes as the program returns). */
/* Not in promiscuous mode, frames the link delivered for another host are refused in the
 * kernel, before the caller's program: a NIC filters them in hardware, but a veth or bridge
 * port hands every frame up (marked PACKET_OTHERHOST), and without this a capture would "see"
 * other hosts' traffic whether --promisc was asked or not. */
static const struct sock_filter not_otherhost[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OTHERHOST, 0, 1), BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_LD | BPF_IMM, 0), /* A as a program expects it at its start */
};
#define NOT_OTHERHOST_LEN (sizeof(not_otherhost) / sizeof(not_otherhost[0]))

static int attach_filter(struct sockit_capture *c, const struct sock_fprog *filter,
                         uint32_t snaplen, bool promisc)
{
    struct sock_filter all = BPF_STMT(BPF_RET | BPF_K, snaplen);
    struct sock_fprog accept = { 1, &all }, p = filter ? *filter : accept;
    struct sock_filter *both = NULL;
    char what[96];
    int err;

    if (!promisc && c->ifindex) {
        if (p.len > BPF_MAXINSNS - NOT_OTHERHOST_LEN ||
            !(both = malloc((p.len + NOT_OTHERHOST_LEN) * sizeof(*both))))
            return -ENOMEM;
        memcpy(both, not_otherhost, sizeof(not_otherhost));
        memcpy(both + NOT_OTHERHOST_LEN, p.filter, p.len * sizeof(*both));
        p = (struct sock_fprog){ (unsigned short)(p.len + NOT_OTHERHOST_LEN), both };
    }
    snprintf(what, sizeof(what), "SO_ATTACH_FILTER, %u instructions%s", p.len,
             both ? ", other hosts' frames refused first" : "");
    err = traced_setsockopt(c, SOL_SOCKET, SO_ATTACH_FILTER, &p, sizeof(p), what);
    free(both);
    return err;
}

static int setup_ring(struct sockit_capture *c, const struct sockit_capture_options *o)
{
    uint32_t frame = TPACKET_ALIGN(TPACKET3_HDRLEN + 64); /* V3 frames are variable; the
                                                             kernel checks only this */
    struct tpacket_req3 req = {
        .tp_block_size = c->block_size,
        .tp_block_nr = c->block_count,
        .tp_frame_size = frame,
        .tp_frame_nr = (c->block_size / frame) * c->block_count,
        .tp_retire_blk_tov = o->block_timeout_ms ? o->block_timeout_ms : DEFAULT_TIMEOUT,
    };
    char what[128];
    int err;

    snprintf(what, sizeof(what), "PACKET_RX_RING, %u blocks of %u B, retire after %u ms",
             req.tp_block_nr, req.tp_block_size, req.tp_retire_blk_tov);
    if ((err = traced_setsockopt(c, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req), what)) < 0)
        return err;
    c->ring_size = (size_t)c->block_size * c->block_count;
    c->ring = mmap(NULL, c->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, c->fd, 0);
    sockit__trace_syscall(c->trace, c->ring == MAP_FAILED ? -1 : 0, "mmap(%d, %zu B ring)", c->fd,
                          c->ring_size);
    if (c->ring == MAP_FAILED) {
        c->ring = NULL;
        return -errno;
    }
    return 0;
}

static int join_promisc(struct sockit_capture *c)
{
    struct packet_mreq mr = { .mr_ifindex = c->ifindex, .mr_type = PACKET_MR_PROMISC };

    return traced_setsockopt(c, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr),
                             "PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC");
}

static int bind_iface(struct sockit_capture *c)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_protocol = htons(ETH_P_ALL),
                               .sll_ifindex = c->ifindex };
    char name[IF_NAMESIZE];
    int rc = bind(c->fd, (struct sockaddr *)&sll, sizeof(sll));

    sockit__trace_syscall(c->trace, rc, "bind(%d, {htons(ETH_P_ALL), ifindex %d (%s)})", c->fd,
                          c->ifindex, c->ifindex ? sockit_capture_ifname(c->ifindex, name) : "any");
    return rc < 0 ? -errno : 0;
}

static bool power_of_two(uint32_t v)
{
    return v && !(v & (v - 1));
}

/* Fill in defaults and check sizes; -EINVAL for a ring the kernel would refuse. */
static int size_ring(struct sockit_capture *c, const struct sockit_capture_options *o)
{
    long page = sysconf(_SC_PAGESIZE);

    c->block_size = o->block_size ? o->block_size : DEFAULT_BLOCK;
    c->block_count = o->block_count ? o->block_count : DEFAULT_BLOCKS;
    if (!power_of_two(c->block_size) || c->block_size < (uint32_t)page ||
        (uint64_t)c->block_size * c->block_count > MAX_RING_BYTES)
        return -EINVAL;
    return 0;
}

static int open_socket(struct sockit_capture *c, const struct sockit_capture_options *o)
{
    int type = c->cooked ? SOCK_DGRAM : SOCK_RAW;
    int version = TPACKET_V3, reserve = SLL2_LEN, err;
    uint32_t snaplen = o->snaplen ? o->snaplen : DEFAULT_SNAPLEN;

    c->fd = socket(AF_PACKET, type | SOCK_CLOEXEC, 0);
    sockit__trace_syscall(c->trace, c->fd, "socket(AF_PACKET, %s, 0)",
                          c->cooked ? "SOCK_DGRAM" : "SOCK_RAW");
    if (c->fd < 0)
        return -errno;
    if ((err = traced_setsockopt(c, SOL_PACKET, PACKET_VERSION, &version, sizeof(version),
                                 "PACKET_VERSION, TPACKET_V3")) < 0)
        return err;
    if (c->cooked && (err = traced_setsockopt(c, SOL_PACKET, PACKET_RESERVE, &reserve,
                                              sizeof(reserve), "PACKET_RESERVE, 20")) < 0)
        return err;
    return attach_filter(c, o->filter, snaplen, o->promisc);
}

int sockit_capture_open(struct sockit_capture **out, const struct sockit_capture_options *o)
{
    struct sockit_capture *c;
    int err;

    if (!(c = calloc(1, sizeof(*c))))
        return -ENOMEM;
    *c = (struct sockit_capture){ .fd = -1, .trace = o->trace, .cooked = o->cooked };
    if ((err = find_ifindex(o->ifname)) < 0)
        goto fail;
    c->ifindex = err;
    c->linktype = c->cooked || !c->ifindex ? 0 : raw_linktype(c->ifindex);
    if (!c->linktype) { /* "any", asked, or a link the decoder does not know: as libpcap does */
        c->cooked = true;
        c->linktype = SOCKIT_LINK_LINUX_SLL2;
    }
    if (o->promisc && c->ifindex == 0) {
        err = -EINVAL; /* promiscuous mode is per interface */
        goto fail;
    }
    if ((err = size_ring(c, o)) < 0 || (err = open_socket(c, o)) < 0 ||
        (err = setup_ring(c, o)) < 0 || (o->promisc && (err = join_promisc(c)) < 0) ||
        (err = bind_iface(c)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    sockit_capture_close(c);
    return err;
}

int sockit_capture_linktype(const struct sockit_capture *c)
{
    return c->linktype;
}

int sockit_capture_probe_linktype(const char *ifname, bool cooked)
{
    int ifindex = find_ifindex(ifname), link;

    if (ifindex < 0)
        return ifindex;
    link = cooked || !ifindex ? 0 : raw_linktype(ifindex);
    return link ? link : SOCKIT_LINK_LINUX_SLL2;
}

int sockit_capture_fd(const struct sockit_capture *c)
{
    return c->fd;
}

/* Take the current block if the kernel has handed it over. */
static bool take_block(struct sockit_capture *c)
{
    struct tpacket_block_desc *b = block_at(c, c->block);

    if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
        return false;
    c->holding = true;
    c->left = b->hdr.bh1.num_pkts;
    c->next_pkt = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
    return true;
}

int sockit_capture_wait(struct sockit_capture *c, int timeout_ms)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN | POLLERR };

    if (c->holding)
        sockit_capture_release(c);
    while (!take_block(c)) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n < 0)
            return -errno;
        if (n == 0)
            return take_block(c) ? (int)c->left : 0;
        if (pfd.revents & POLLERR) {
            int soerr = 0;
            socklen_t len = sizeof(soerr);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            if (soerr)
                return -soerr; /* e.g. ENETDOWN: the interface went away */
        }
    }
    return (int)c->left;
}

/* Write the LINKTYPE_LINUX_SLL2 header into the reserved room before a cooked frame. */
static void write_sll2(uint8_t *at, const struct sockaddr_ll *sll)
{
    uint16_t proto = sll->sll_protocol, hatype = htons(sll->sll_hatype);
    uint32_t ifindex = htonl((uint32_t)sll->sll_ifindex);

    memset(at, 0, SLL2_LEN);
    memcpy(at, &proto, 2); /* already in network order */
    memcpy(at + 4, &ifindex, 4);
    memcpy(at + 8, &hatype, 2);
    at[10] = sll->sll_pkttype;
    at[11] = sll->sll_halen > 8 ? 8 : sll->sll_halen;
    memcpy(at + 12, sll->sll_addr, at[11]);
}

bool sockit_capture_next(struct sockit_capture *c, struct sockit_capture_packet *p)
{
    struct tpacket3_hdr *h;
    const struct sockaddr_ll *sll;
    uint8_t *data;

    if (!c->holding || c->left == 0)
        return false;
    h = (struct tpacket3_hdr *)c->next_pkt;
    sll = (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
    data = (uint8_t *)h + h->tp_mac;
    *p = (struct sockit_capture_packet){ .data = data,
                                         .caplen = h->tp_snaplen,
                                         .wirelen = h->tp_len,
                                         .ts_ns = (uint64_t)h->tp_sec * 1000000000u + h->tp_nsec,
                                         .ifindex = sll->sll_ifindex,
                                         .pkttype = sll->sll_pkttype,
                                         .protocol = ntohs(sll->sll_protocol) };
    if (c->cooked) { /* PACKET_RESERVE left SLL2_LEN bytes before the data for this */
        p->data = data - SLL2_LEN;
        write_sll2((uint8_t *)p->data, sll);
        p->caplen += SLL2_LEN;
        p->wirelen += SLL2_LEN;
    }
    c->next_pkt += h->tp_next_offset;
    c->left--;
    return true;
}

void sockit_capture_release(struct sockit_capture *c)
{
    if (!c->holding)
        return;
    __atomic_store_n(&block_at(c, c->block)->hdr.bh1.block_status, TP_STATUS_KERNEL,
                     __ATOMIC_RELEASE);
    c->holding = false;
    c->left = 0;
    c->block = (c->block + 1) % c->block_count;
}

int sockit_capture_stats(struct sockit_capture *c, struct sockit_capture_stats *s)
{
    struct tpacket_stats_v3 st = { 0 };
    socklen_t len = sizeof(st);

    if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
        return -errno;
    *s = (struct sockit_capture_stats){ st.tp_packets, st.tp_drops, st.tp_freeze_q_cnt };
    return 0;
}

void sockit_capture_close(struct sockit_capture *c)
{
    if (!c)
        return;
    if (c->ring)
        munmap(c->ring, c->ring_size);
    if (c->fd >= 0) { /* the membership (promiscuous mode) goes with the socket */
        int rc = close(c->fd);
        sockit__trace_syscall(c->trace, rc, "close(%d)", c->fd);
    }
    free(c);
}

const char *sockit_capture_ifname(int ifindex, char *name)
{
    if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, name))
        strcpy(name, "?");
    return name;
}
