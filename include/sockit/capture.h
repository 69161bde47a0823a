/* sockit/capture.h — capturing frames with an AF_PACKET socket and a TPACKET_V3 ring.
 *
 * The article's third kind of socket: socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) sees whole
 * frames with their link-layer header (SOCK_DGRAM, "cooked", sees them without it, and the
 * ring then carries a Linux cooked header we build, as libpcap does). The kernel fills blocks
 * of a ring shared with user space (PACKET_RX_RING, TPACKET_V3): no copy and no system call
 * per packet; a block is handed back with sockit_capture_release. A filter (classic BPF, see
 * sockit/pcap.h) attached with SO_ATTACH_FILTER drops unwanted frames in the kernel.
 * Promiscuous mode is a PACKET_ADD_MEMBERSHIP on the socket: the kernel drops it with the
 * socket, so it ends with the process, however that ends. Needs CAP_NET_RAW.
 *
 * One capture is used from one thread. Every call that touches the socket reports to the
 * trace hook, so --trace shows the setup step by step. */
#ifndef SOCKIT_CAPTURE_H
#define SOCKIT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockit_trace;
struct sock_fprog;

struct sockit_capture_options {
    const char *ifname; /* an interface, or NULL / "any" for all (cooked then) */
    bool cooked;        /* SOCK_DGRAM: frames without their link header */
    /* PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC (one interface only). Without it, frames for
     * other hosts (PACKET_OTHERHOST) are refused in the kernel, as a NIC would, also on links
     * that hand every frame up (veth, bridge ports). */
    bool promisc;
    uint32_t snaplen;          /* bytes kept of each frame; 0: 262144 */
    uint32_t block_size;       /* ring block bytes, a power of two >= page size; 0: 1 MiB */
    uint32_t block_count;      /* ring blocks; 0: 64 */
    uint32_t block_timeout_ms; /* a block not full is handed over after this; 0: 10 ms */
    /* Attached before the first frame arrives; NULL: everything. Compiled for the link type
     * sockit_capture_probe_linktype gives (a cooked program adjusted with
     * sockit_bpf_fix_cooked, see sockit/pcap.h). It must return at most SNAPLEN. */
    const struct sock_fprog *filter;
    const struct sockit_trace *trace; /* NULL: silent */
};

struct sockit_capture_packet {
    const uint8_t *data;      /* the frame as the link type says, in the ring (or the cooked header
                                 buffer); valid until its block is released */
    uint32_t caplen, wirelen; /* bytes at DATA; bytes the frame had (cooked: + header) */
    uint64_t ts_ns;           /* nanoseconds since the epoch, the kernel's stamp */
    int ifindex;
    uint8_t pkttype;   /* PACKET_HOST, PACKET_OUTGOING, ... */
    uint16_t protocol; /* ethertype, host byte order */
};

/* Kernel counters since the last call (PACKET_STATISTICS resets them on read). */
struct sockit_capture_stats {
    uint64_t packets; /* frames that passed the filter */
    uint64_t drops;   /* of those, dropped because the ring was full */
    uint64_t freezes; /* times the ring was full (TPACKET_V3 queue freezes) */
};

struct sockit_capture;

/* Open a capture as O says. Returns 0 and the capture in *OUT, or -errno (-EPERM without
 * CAP_NET_RAW) or -SOCKIT_ECAP_IFACE (no such interface). */
int sockit_capture_open(struct sockit_capture **out, const struct sockit_capture_options *o);

/* The pcap link type the frames have (SOCKIT_LINK_ETHERNET, SOCKIT_LINK_LINUX_SLL2...). */
int sockit_capture_linktype(const struct sockit_capture *c);

/* The link type a capture opened with IFNAME (NULL / "any": all) and COOKED would have,
 * without opening one, so that a filter can be compiled for it first: an interface whose
 * frames the decoder does not know, and "any", are captured cooked (LINUX_SLL2), as libpcap
 * does. Needs no privilege. Returns the link type or -SOCKIT_ECAP_IFACE. */
int sockit_capture_probe_linktype(const char *ifname, bool cooked);

/* The socket, for poll() beside other descriptors (readable when a block is ready). */
int sockit_capture_fd(const struct sockit_capture *c);

/* Wait up to TIMEOUT_MS (-1: forever) for a block of frames. Returns the number of frames in
 * the block now current (> 0), 0 on timeout, or -errno (-EINTR when a signal came). */
int sockit_capture_wait(struct sockit_capture *c, int timeout_ms);

/* The next frame of the current block into *P: true, or false when the block is done. */
bool sockit_capture_next(struct sockit_capture *c, struct sockit_capture_packet *p);

/* Hand the current block back to the kernel (its frames are no longer valid). */
void sockit_capture_release(struct sockit_capture *c);

/* Read (and reset) the kernel's counters into *S. Returns 0 or -errno. */
int sockit_capture_stats(struct sockit_capture *c, struct sockit_capture_stats *s);

/* Leave promiscuous mode, unmap the ring, close the socket, free C (NULL: no-op). */
void sockit_capture_close(struct sockit_capture *c);

/* The interface name of IFINDEX into NAME (IF_NAMESIZE bytes), or "?" if gone. */
const char *sockit_capture_ifname(int ifindex, char *name);

#ifdef __cplusplus
}
#endif

#endif
