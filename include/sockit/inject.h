/* sockit/inject.h — sending whole frames with an AF_PACKET socket.
 *
 * socket(AF_PACKET, SOCK_RAW, 0) bound to one interface sends each buffer as it is: the
 * Ethernet header included, no checksum or address filled in by the kernel. Frames are
 * gathered into batches and sent with one sendmmsg() per batch; with PACKET_QDISC_BYPASS they
 * skip the interface's queueing discipline (as pktgen and netsniff-ng's trafgen do), which
 * raises the rate and means no qdisc shapes or counts them. Needs CAP_NET_RAW. */
#ifndef SOCKIT_INJECT_H
#define SOCKIT_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockit_trace;

#define SOCKIT_INJECT_BATCH 64 /* frames per sendmmsg */

struct sockit_inject_options {
    const char *ifname;               /* the interface to send on (not "any") */
    bool qdisc_bypass;                /* PACKET_QDISC_BYPASS */
    const struct sockit_trace *trace; /* NULL: silent */
};

struct sockit_inject_stats {
    uint64_t frames, bytes; /* sent */
    uint64_t calls;         /* sendmmsg calls made */
};

struct sockit_inject;

/* Open a sender on O->ifname. Returns 0 and it in *OUT, or -errno (-EPERM without
 * CAP_NET_RAW), or -SOCKIT_ECAP_IFACE (no such interface). */
int sockit_inject_open(struct sockit_inject **out, const struct sockit_inject_options *o);

/* The largest frame the interface takes: its MTU plus the Ethernet header (and one VLAN tag). */
size_t sockit_inject_max_frame(const struct sockit_inject *s);

/* Copy FRAME (LEN bytes, link header first) into the current batch; the batch is sent when
 * it is full. Returns 0, or -EMSGSIZE for a frame over sockit_inject_max_frame (or shorter
 * than an Ethernet header), or the error of a send the batch made (see sockit_inject_flush). */
int sockit_inject_queue(struct sockit_inject *s, const void *frame, size_t len);

/* Send the batch now. Waits (poll) while the interface's queue is full, so no frame is lost
 * to -ENOBUFS/-EAGAIN. Returns 0 or -errno (-ENETDOWN: the interface is down); frames sent
 * before an error are counted. */
int sockit_inject_flush(struct sockit_inject *s);

void sockit_inject_stats(const struct sockit_inject *s, struct sockit_inject_stats *st);

/* Send what is queued, close, free (NULL: no-op). Returns the flush's result. */
int sockit_inject_close(struct sockit_inject *s);

#ifdef __cplusplus
}
#endif

#endif
