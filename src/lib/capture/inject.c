/* Sending frames (sockit/inject.h): a SOCK_RAW packet socket bound to one interface, frames
 * copied into a batch arena and sent with sendmmsg. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/trace.h"
#include "sockit/error.h"
#include "sockit/inject.h"

struct sockit_inject {
    int fd;
    size_t max_frame;
    uint8_t *arena; /* SOCKIT_INJECT_BATCH frames of max_frame bytes */
    struct mmsghdr msgs[SOCKIT_INJECT_BATCH];
    struct iovec iov[SOCKIT_INJECT_BATCH];
    int queued;
    struct sockit_inject_stats st;
    const struct sockit_trace *trace;
};

static int interface_mtu(const char *ifname)
{
    struct ifreq ifr = { 0 };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

    if (fd < 0)
        return -errno;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    rc = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
    close(fd);
    return rc;
}

static int open_socket(struct sockit_inject *s, const struct sockit_inject_options *o, int ifindex)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };
    int one = 1, rc;

    s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: it receives nothing */
    sockit__trace_syscall(s->trace, s->fd, "socket(AF_PACKET, SOCK_RAW, 0)");
    if (s->fd < 0)
        return -errno;
    if (o->qdisc_bypass) {
        rc = setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
        sockit__trace_syscall(s->trace, rc, "setsockopt(%d, PACKET_QDISC_BYPASS, 1)", s->fd);
        if (rc < 0)
            return -errno;
    }
    rc = bind(s->fd, (struct sockaddr *)&sll, sizeof(sll));
    sockit__trace_syscall(s->trace, rc, "bind(%d, {protocol 0, ifindex %d (%s)})", s->fd, ifindex,
                          o->ifname);
    return rc < 0 ? -errno : 0;
}

int sockit_inject_open(struct sockit_inject **out, const struct sockit_inject_options *o)
{
    struct sockit_inject *s;
    unsigned ifindex;
    int mtu, err;

    if (!o->ifname || strlen(o->ifname) >= IF_NAMESIZE || strcmp(o->ifname, "any") == 0 ||
        !(ifindex = if_nametoindex(o->ifname)))
        return -SOCKIT_ECAP_IFACE;
    if ((mtu = interface_mtu(o->ifname)) < 0)
        return mtu;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->fd = -1;
    s->trace = o->trace;
    s->max_frame = (size_t)mtu + ETH_HLEN + 4; /* room for one 802.1Q tag */
    if (!(s->arena = malloc(s->max_frame * SOCKIT_INJECT_BATCH))) {
        err = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < SOCKIT_INJECT_BATCH; i++) {
        s->iov[i].iov_base = s->arena + (size_t)i * s->max_frame;
        s->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &s->iov[i], .msg_iovlen = 1 };
    }
    if ((err = open_socket(s, o, (int)ifindex)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    sockit_inject_close(s);
    return err;
}

size_t sockit_inject_max_frame(const struct sockit_inject *s)
{
    return s->max_frame;
}

#define FULL_FOR_MS 1000 /* a device queue full for this long is an error, not a wait */

/* The device's queue is full (-ENOBUFS, -EAGAIN): wait for room, a millisecond at a time,
 * up to FULL_FOR_MS in all. Returns 0 to try again, or -ENOBUFS. */
static int wait_for_room(struct sockit_inject *s, int *waited_ms)
{
    struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

    if (++*waited_ms > FULL_FOR_MS)
        return -ENOBUFS;
    poll(&pfd, 1, 1); /* a packet socket is always "writable": this is a 1 ms pause */
    return 0;
}

int sockit_inject_flush(struct sockit_inject *s)
{
    int done = 0, waited = 0;

    while (done < s->queued) {
        int n = sendmmsg(s->fd, s->msgs + done, (unsigned)(s->queued - done), 0);
        s->st.calls++;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == ENOBUFS || errno == EAGAIN) && wait_for_room(s, &waited) == 0)
            continue;
        if (n < 0) {
            int err = -errno;
            sockit__trace_call(s->trace, err, "sendmmsg(%d, %d frames)", s->fd, s->queued - done);
            s->queued = 0; /* the rest of the batch is dropped, and said so */
            return err;
        }
        sockit__trace_call(s->trace, n, "sendmmsg(%d, %d frames)", s->fd, s->queued - done);
        for (int i = done; i < done + n; i++)
            s->st.bytes += s->iov[i].iov_len;
        s->st.frames += (uint64_t)n;
        done += n;
    }
    s->queued = 0;
    return 0;
}

int sockit_inject_queue(struct sockit_inject *s, const void *frame, size_t len)
{
    if (len < ETH_HLEN || len > s->max_frame)
        return -EMSGSIZE;
    memcpy(s->iov[s->queued].iov_base, frame, len);
    s->iov[s->queued].iov_len = len;
    if (++s->queued == SOCKIT_INJECT_BATCH)
        return sockit_inject_flush(s);
    return 0;
}

void sockit_inject_stats(const struct sockit_inject *s, struct sockit_inject_stats *st)
{
    *st = s->st;
}

int sockit_inject_close(struct sockit_inject *s)
{
    int err = 0;

    if (!s)
        return 0;
    if (s->fd >= 0) {
        err = s->queued ? sockit_inject_flush(s) : 0;
        int rc = close(s->fd);
        sockit__trace_syscall(s->trace, rc, "close(%d)", s->fd);
    }
    free(s->arena);
    free(s);
    return err;
}
