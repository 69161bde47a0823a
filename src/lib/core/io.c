/* Socket I/O that handles EINTR, partial writes, SIGPIPE and datagram limits. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sockit/error.h"
#include "sockit/socket.h"
#include "trace.h"

static void trace_send(const struct sockit_trace *trace, int fd, size_t len, ssize_t result)
{
    char call[48];

    snprintf(call, sizeof(call), "send(%d, %zu)", fd, len);
    sockit__trace_result(trace, call, result);
}

/* The one stream send loop: send BUF[*SENT..LEN) over partial writes and EINTR, adding what
 * went to *SENT. Returns 0 when all went, -EAGAIN when the socket is full, or -errno. */
static int send_loop(int fd, const char *buf, size_t len, size_t *sent,
                     const struct sockit_trace *trace)
{
    while (*sent < len) {
        ssize_t n = send(fd, buf + *sent, len - *sent, MSG_NOSIGNAL);
        int err = n < 0 ? errno : 0; /* before the trace hook, which may change errno */
        if (trace)
            trace_send(trace, fd, len - *sent, n < 0 ? -err : n);
        if (n >= 0)
            *sent += (size_t)n;
        else if (err != EINTR)
            return (err == EAGAIN || err == EWOULDBLOCK) ? -EAGAIN : -err;
    }
    return 0;
}

ssize_t sockit_send_all(int fd, const void *buf, size_t len, const struct sockit_trace *trace)
{
    size_t sent = 0;
    int err = send_loop(fd, buf, len, &sent, trace);

    if (err == -EAGAIN && sent > 0)
        return (ssize_t)sent;
    return err ? err : (ssize_t)sent;
}

int sockit_send_all_wait(int fd, const void *buf, size_t len, int stop_fd, int timeout_ms,
                         size_t *sent, const struct sockit_trace *trace)
{
    size_t done = 0;
    int err;

    while ((err = send_loop(fd, buf, len, &done, trace)) == -EAGAIN) {
        int rc = sockit_wait(fd, POLLOUT, stop_fd, timeout_ms);
        if (rc <= 0) {
            err = rc == 0 ? -ETIMEDOUT : rc;
            break;
        }
    }
    if (sent)
        *sent = done;
    return err;
}

ssize_t sockit_recv(int fd, void *buf, size_t cap, const struct sockit_trace *trace)
{
    ssize_t n;
    char call[48];

    do
        n = recv(fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        n = -errno;
    if (trace && n != -EAGAIN) {
        snprintf(call, sizeof(call), "recv(%d, %zu)", fd, cap);
        sockit__trace_result(trace, call, n);
    }
    return n;
}

/* Fail early, with a clear code, for payloads the family can never carry. */
static int check_dgram_size(int fd, size_t len, const struct sockit_addr *to)
{
    struct sockit_addr peer;

    if (len <= SOCKIT_UDP4_MAX)
        return 0;
    if (!to) {
        peer.len = sizeof(peer.u);
        if (getpeername(fd, &peer.u.sa, &peer.len) < 0)
            return 0; /* not connected: let the kernel answer */
        to = &peer;
    }
    size_t max = sockit_addr_dgram_max(to);
    return (max && len > max) ? -SOCKIT_EDGRAMSIZE : 0;
}

static void trace_dgram(const struct sockit_trace *trace, const char *verb, int fd, size_t len,
                        const struct sockit_addr *addr, ssize_t result)
{
    char call[SOCKIT_ADDR_STRLEN + 48], peer[SOCKIT_ADDR_STRLEN] = "";

    if (!trace)
        return;
    if (addr && result >= 0)
        sockit_addr_format(addr, peer, sizeof(peer));
    snprintf(call, sizeof(call), "%s(%d, %zu%s%s)", verb, fd, len, peer[0] ? ", " : "", peer);
    sockit__trace_result(trace, call, result);
}

ssize_t sockit_dgram_send(int fd, const void *buf, size_t len, const struct sockit_addr *to,
                          const struct sockit_trace *trace)
{
    int err = check_dgram_size(fd, len, to);
    ssize_t n;

    if (err)
        return err;
    do
        n = sendto(fd, buf, len, MSG_NOSIGNAL, to ? &to->u.sa : NULL, to ? to->len : 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        n = -errno;
    trace_dgram(trace, to ? "sendto" : "send", fd, len, to, n);
    return n;
}

ssize_t sockit_dgram_recv(int fd, void *buf, size_t cap, struct sockit_addr *from, size_t *full_len,
                          const struct sockit_trace *trace)
{
    struct sockit_addr tmp;
    struct sockit_addr *f = from ? from : &tmp;
    ssize_t n;

    do {
        f->len = sizeof(f->u);
        /* MSG_TRUNC makes the kernel return the datagram's real length even when it did
         * not fit, which is how truncation becomes detectable. */
        n = recvfrom(fd, buf, cap, MSG_TRUNC, &f->u.sa, &f->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        n = -errno;
    if (n != -EAGAIN)
        trace_dgram(trace, "recvfrom", fd, cap, f, n);
    if (full_len)
        *full_len = n < 0 ? 0 : (size_t)n;
    if (n > (ssize_t)cap)
        return -SOCKIT_ETRUNC;
    return n;
}

int sockit_wait(int fd, short events, int stop_fd, int timeout_ms)
{
    struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = stop_fd, .events = POLLIN } };
    int rc;

    do
        rc = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms < 0 ? -1 : timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (stop_fd >= 0 && p[1].revents) /* readable, or broken: either way, stop */
        return -ECANCELED;
    return rc > 0 ? p[0].revents : 0;
}
