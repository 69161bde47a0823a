/* The ping session's socket: raw when permitted, else the ICMP datagram socket; its filter,
 * error queue, arrival stamps and hop limits; one request out, one packet or error in. */
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h> /* after <time.h>: it uses struct timespec */

#include "../core/trace.h"
#include "ping_internal.h"
#include "sockit/clock.h"
#include "sockit/error.h"

#define CONTROL_SPACE 512 /* room for a stamp, a hop limit and an extended error with address */

static const char *protocol_name(int family)
{
    return family == AF_INET ? "IPPROTO_ICMP" : "IPPROTO_ICMPV6";
}

static int open_one(const struct sockit_ping *p, int type)
{
    int fd = socket(p->family, type | SOCK_CLOEXEC,
                    p->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);

    sockit__trace_syscall(p->o.trace, fd, "socket(%s, %s, %s)", sockit__family_name(p->family),
                          sockit__socktype_name(type), protocol_name(p->family));
    return fd < 0 ? -errno : fd;
}

/* Raw when permitted (EPERM: no CAP_NET_RAW), else the datagram socket; or the one asked. */
static int open_fd(struct sockit_ping *p)
{
    int fd = -EPERM;

    if (p->o.socket != SOCKIT_PING_DGRAM) {
        fd = open_one(p, SOCK_RAW);
        p->socktype = SOCK_RAW;
    }
    if (fd >= 0 || p->o.socket == SOCKIT_PING_RAW || (fd != -EPERM && fd != -EACCES))
        return fd;
    p->socktype = SOCK_DGRAM;
    return open_one(p, SOCK_DGRAM);
}

static int set_filter(const struct sockit_ping *p)
{
    struct icmp6_filter f6;
    struct icmp_filter f4 = { .data = ~(1u << ICMP_ECHOREPLY) }; /* a bit set: type dropped */
    bool v4 = p->family == AF_INET;
    int err;

    ICMP6_FILTER_SETBLOCKALL(&f6);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f6);
    if (v4)
        err = setsockopt(p->fd, SOL_RAW, ICMP_FILTER, &f4, sizeof(f4));
    else
        err = setsockopt(p->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6));
    sockit__trace_syscall(p->o.trace, err, "setsockopt(%d, %s, echo replies only)", p->fd,
                          v4 ? "ICMP_FILTER" : "ICMP6_FILTER");
    return err < 0 ? -errno : 0;
}

/* The error queue, arrival stamps, and the hop limit where no IP header comes with a packet. */
static int set_options(const struct sockit_ping *p)
{
    const struct sockit_trace *t = p->o.trace;
    bool v4 = p->family == AF_INET;
    int err = sockit__setsockopt_int(p->fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_RECVERR : IPV6_RECVERR,
                                     v4 ? "IP_RECVERR" : "IPV6_RECVERR", 1, t);

    if (!err)
        err = sockit__setsockopt_int(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, "SO_TIMESTAMPNS", 1, t);
    if (!err && !v4)
        err = sockit__setsockopt_int(p->fd, SOL_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", 1, t);
    if (!err && v4 && p->socktype == SOCK_DGRAM)
        err = sockit__setsockopt_int(p->fd, SOL_IP, IP_RECVTTL, "IP_RECVTTL", 1, t);
    return err;
}

/* A raw socket's identifier is ours to choose: a random one, so that two pings apart. */
static uint16_t random_id(void)
{
    uint16_t id;

    if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
        id = (uint16_t)getpid();
    return id;
}

/* A datagram socket's identifier is its local "port", which binding to any address picks. */
static int bind_for_id(struct sockit_ping *p)
{
    struct sockit_addr any = { .len = p->to.len };
    int err;

    any.u.sa.sa_family = (sa_family_t)p->family;
    err = bind(p->fd, &any.u.sa, any.len);
    sockit__trace_syscall(p->o.trace, err, "bind(%d, %s)", p->fd,
                          p->family == AF_INET ? "0.0.0.0" : "::");
    if (err < 0)
        return -errno;
    any.len = sizeof(any.u);
    err = getsockname(p->fd, &any.u.sa, &any.len);
    p->id = ntohs(p->family == AF_INET ? any.u.in.sin_port : any.u.in6.sin6_port);
    if (err < 0) {
        err = -errno;
        sockit__trace_call(p->o.trace, err, "getsockname(%d)", p->fd);
        return err;
    }
    sockit__trace(p->o.trace, "getsockname(%d) = 0 [identifier %u, the kernel's]", p->fd, p->id);
    return 0;
}

/* Connecting asks the kernel for a route now, so that an address with none fails at once as
 * with ping, and has a raw socket take only the target's packets (its errors still come). */
static int connect_to_target(const struct sockit_ping *p)
{
    char to[SOCKIT_ADDR_STRLEN];
    int err = connect(p->fd, &p->to.u.sa, p->to.len) < 0 ? -errno : 0;

    if (p->o.trace) {
        sockit__ping_addr_text(&p->to, to, sizeof(to));
        sockit__trace_call(p->o.trace, err, "connect(%d, %s)", p->fd, to);
    }
    return err;
}

int sockit__ping_socket_open(struct sockit_ping *p)
{
    int err;

    p->fd = open_fd(p);
    if (p->fd < 0)
        return p->fd;
    err = p->socktype == SOCK_RAW ? set_filter(p) : 0;
    if (!err)
        err = set_options(p);
    if (!err && p->socktype == SOCK_DGRAM)
        err = bind_for_id(p);
    if (!err && p->socktype == SOCK_RAW)
        p->id = random_id();
    return err ? err : connect_to_target(p);
}

long sockit__ping_socket_send(struct sockit_ping *p, uint16_t seq)
{
    char to[SOCKIT_ADDR_STRLEN];
    ssize_t n;

    do
        n = sendto(p->fd, p->out, p->out_len, MSG_DONTWAIT, &p->to.u.sa, p->to.len);
    while (n < 0 && errno == EINTR);
    long rc = n < 0 ? -errno : n;
    if (p->o.trace) {
        sockit__ping_addr_text(&p->to, to, sizeof(to));
        if (rc < 0)
            sockit__trace_call(p->o.trace, rc, "sendto(%d, %zu, %s)", p->fd, p->out_len, to);
        else
            sockit__trace(p->o.trace, "sendto(%d, %zu, %s) = %ld [echo request id=%u seq=%u]",
                          p->fd, p->out_len, to, rc, p->id, seq);
    }
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* When the packet arrived, on sockit_clock_ns's clock: the kernel stamped it with the wall
 * clock, so its age is taken on that clock and subtracted from now on ours. */
static uint64_t arrival(const struct timespec *stamp)
{
    uint64_t now = sockit_clock_ns();
    struct timespec wall;
    int64_t age;

    if (!stamp || clock_gettime(CLOCK_REALTIME, &wall) < 0)
        return now;
    age = (int64_t)(wall.tv_sec - stamp->tv_sec) * 1000000000 + (wall.tv_nsec - stamp->tv_nsec);
    return age > 0 && (uint64_t)age < now ? now - (uint64_t)age : now;
}

static bool is_hop_limit(const struct cmsghdr *c)
{
    return (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) ||
           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT);
}

/* The arrival stamp and the hop limit (CMSG_DATA need not be aligned: copied out). */
static void read_control(struct msghdr *mh, struct sockit__ping_packet *pkt)
{
    struct timespec stamp;
    bool stamped = false;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(stamp))) {
            memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
            stamped = true;
        } else if (is_hop_limit(c) && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            memcpy(&pkt->ttl, CMSG_DATA(c), sizeof(int));
        }
    }
    pkt->arrived_ns = arrival(stamped ? &stamp : NULL);
}

int sockit__ping_socket_read(struct sockit_ping *p, struct sockit__ping_packet *pkt)
{
    char control[CONTROL_SPACE];
    struct iovec iov = { .iov_base = p->in, .iov_len = p->in_cap };
    struct msghdr mh = { .msg_name = &pkt->from.u,
                         .msg_namelen = sizeof(pkt->from.u),
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control) };
    ssize_t n;

    memset(pkt, 0, sizeof(*pkt));
    pkt->ttl = -1;
    do
        n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = -errno;
        if (err != -EAGAIN)
            sockit__trace_call(p->o.trace, err, "recvmsg(%d)", p->fd);
        return err;
    }
    pkt->from.len = mh.msg_namelen;
    pkt->cut = (size_t)n > p->in_cap || (mh.msg_flags & MSG_TRUNC);
    pkt->len = pkt->cut ? p->in_cap : (size_t)n;
    read_control(&mh, pkt);
    return 1;
}

/* The extended error of an error-queue message, and the offender's address after it. */
static const struct sock_extended_err *extended_error(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
            return (const struct sock_extended_err *)CMSG_DATA(c);
    }
    return NULL;
}

static bool same_host(const struct sockit_addr *a, const struct sockaddr_storage *b)
{
    if (a->u.sa.sa_family != b->ss_family)
        return false;
    if (b->ss_family == AF_INET)
        return a->u.in.sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

/* The request an ICMP error quotes (its echo header, as the error queue gives it back): one of
 * ours when it went to our target with our identifier. Its sequence number, or -1. */
static int quoted_seq(const struct sockit_ping *p, const uint8_t *quote, size_t len,
                      const struct sockaddr_storage *dest)
{
    uint8_t request = p->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;

    if (len < SOCKIT_PING_HEADER || quote[0] != request || !same_host(&p->to, dest))
        return -1;
    if ((uint16_t)(quote[4] << 8 | quote[5]) != p->id)
        return -1;
    return quote[6] << 8 | quote[7];
}

static int error_event(const struct sockit_ping *p, const struct sock_extended_err *ee, int seq,
                       struct sockit_ping_event *ev)
{
    const struct sockaddr *offender = SO_EE_OFFENDER(ee);

    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->err = -(int)ee->ee_errno;
    ev->info = ee->ee_info;
    ev->ttl = ev->rtt_ns = ev->bad_byte = -1;
    if (ee->ee_origin == SO_EE_ORIGIN_LOCAL) {
        ev->kind = SOCKIT_PING_LOCAL_ERROR;
        return 1;
    }
    if (seq < 0)
        return 0; /* about a packet of someone else's */
    ev->kind = SOCKIT_PING_ICMP_ERROR;
    ev->type = ee->ee_type;
    ev->code = ee->ee_code;
    if (offender->sa_family == (sa_family_t)p->family) {
        ev->from.len = p->to.len;
        memcpy(&ev->from.u, offender, p->to.len);
    }
    return 1;
}

static void trace_error(const struct sockit_ping *p, ssize_t n, const struct sock_extended_err *ee,
                        int rc, const struct sockit_ping_event *ev)
{
    const char *what = rc == 0                               ? "another's"
                       : ev->kind == SOCKIT_PING_LOCAL_ERROR ? "local"
                                                             : "ICMP";

    sockit__trace(p->o.trace, "recvmsg(%d, MSG_ERRQUEUE) = %zd [%s error: %s, seq=%d]", p->fd, n,
                  what, sockit_strerror(-(int)ee->ee_errno), rc ? ev->seq : -1);
}

int sockit__ping_socket_read_error(struct sockit_ping *p, struct sockit_ping_event *ev)
{
    uint8_t quote[64];
    char control[CONTROL_SPACE];
    struct sockaddr_storage dest = { 0 };
    struct iovec iov = { .iov_base = quote, .iov_len = sizeof(quote) };
    struct msghdr mh = { .msg_name = &dest,
                         .msg_namelen = sizeof(dest),
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control) };
    ssize_t n = recvmsg(p->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    int err = n < 0 ? -errno : 0;
    const struct sock_extended_err *ee = n < 0 ? NULL : extended_error(&mh);

    if (err && err != -EAGAIN)
        sockit__trace_call(p->o.trace, err, "recvmsg(%d, MSG_ERRQUEUE)", p->fd);
    if (err || !ee)
        return err;
    size_t quoted = (size_t)n < sizeof(quote) ? (size_t)n : sizeof(quote);
    int rc = error_event(p, ee, quoted_seq(p, quote, quoted, &dest), ev);
    if (p->o.trace)
        trace_error(p, n, ee, rc, ev);
    return rc;
}
