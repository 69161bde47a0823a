/* Socket creation, options, listen/connect/accept. I/O helpers live in io.c. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/socket.h"
#include "trace.h"

#define MAX_ADDRS 8

static int open_socket(int family, int type, const struct sockit_sockopts *o)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? -errno : fd;
    char call[64];

    snprintf(call, sizeof(call), "socket(%s, %s, 0)", sockit__family_name(family),
             sockit__socktype_name(type));
    sockit__trace_result(o->trace, call, err);
    return err;
}

int sockit__setsockopt_int(int fd, int level, int name, const char *label, int value,
                           const struct sockit_trace *trace)
{
    int err = setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
    char call[64];

    snprintf(call, sizeof(call), "setsockopt(%d, %s, %d)", fd, label, value);
    sockit__trace_result(trace, call, err);
    return err;
}

static int set_nonblocking(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static int is_inet(int family)
{
    return family == AF_INET || family == AF_INET6;
}

static int apply_listen_options(int fd, const struct sockit_addr *a, int type,
                                const struct sockit_sockopts *o)
{
    int family = a->u.sa.sa_family;
    int err = 0;

    /* Stream only: on UDP, SO_REUSEADDR lets a second server bind the same port silently. */
    if (is_inet(family) && type == SOCK_STREAM && (o->flags & SOCKIT_REUSEADDR))
        err = sockit__setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1, o->trace);
    if (!err && (o->flags & SOCKIT_REUSEPORT))
        err = sockit__setsockopt_int(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 1, o->trace);
    /* Set V6ONLY explicitly both ways: the default comes from a sysctl we do not control. */
    if (!err && family == AF_INET6)
        err = sockit__setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY",
                                     (o->flags & SOCKIT_V6ONLY) ? 1 : 0, o->trace);
    if (!err && is_inet(family) && type == SOCK_STREAM && (o->flags & SOCKIT_NODELAY))
        err = sockit__setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1, o->trace);
    if (!err && (o->flags & SOCKIT_NONBLOCK))
        err = set_nonblocking(fd, 1);
    return err;
}

static int traced_bind(int fd, const struct sockit_addr *a, const struct sockit_trace *trace)
{
    char call[SOCKIT_ADDR_STRLEN + 32], addr[SOCKIT_ADDR_STRLEN];
    int err = bind(fd, &a->u.sa, a->len) < 0 ? -errno : 0;

    sockit_addr_format(a, addr, sizeof(addr));
    snprintf(call, sizeof(call), "bind(%d, %s)", fd, addr);
    sockit__trace_result(trace, call, err);
    return err;
}

/* A unix socket file is stale when nobody accepts on it any more. Only socket files qualify
 * (never delete a user's regular file), and the probe is non-blocking: a live server with a
 * full backlog answers EAGAIN, which must not hang us nor count as stale. */
static int unix_path_is_stale(const struct sockit_addr *a, int type)
{
    struct stat st;
    int fd, stale;

    if (lstat(a->u.un.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    stale = connect(fd, &a->u.sa, a->len) < 0 && errno == ECONNREFUSED;
    close(fd);
    return stale;
}

static bool is_socket_file(const char *path)
{
    struct stat st;

    return lstat(path, &st) < 0 || S_ISSOCK(st.st_mode); /* gone meanwhile: not our call */
}

static int bind_with_stale_check(int fd, const struct sockit_addr *a, int type,
                                 const struct sockit_sockopts *o)
{
    int err = traced_bind(fd, a, o->trace);
    int is_path = a->u.sa.sa_family == AF_UNIX && a->u.un.sun_path[0] != '\0';

    if (err != -EADDRINUSE || !is_path)
        return err;
    if (!is_socket_file(a->u.un.sun_path))
        return -SOCKIT_ENOTSOCK_PATH; /* a regular file, a directory...: never removed */
    if (!unix_path_is_stale(a, type))
        return err;
    sockit__trace(o->trace, "unlink(\"%s\") = %d  (stale socket file)", a->u.un.sun_path,
                  unlink(a->u.un.sun_path) < 0 ? -1 : 0);
    return traced_bind(fd, a, o->trace);
}

static int listen_on(const struct sockit_addr *a, int type, const struct sockit_sockopts *o)
{
    int fd = open_socket(a->u.sa.sa_family, type, o);
    int err;

    if (fd < 0)
        return fd;
    err = apply_listen_options(fd, a, type, o);
    if (!err)
        err = bind_with_stale_check(fd, a, type, o);
    if (!err && type == SOCK_STREAM) {
        int backlog = o->backlog > 0 ? o->backlog : SOMAXCONN;
        char call[48];
        err = listen(fd, backlog) < 0 ? -errno : 0;
        snprintf(call, sizeof(call), "listen(%d, %d)", fd, backlog);
        sockit__trace_result(o->trace, call, err);
    }
    if (err) {
        sockit_socket_close(fd, o->trace);
        return err;
    }
    return fd;
}

static int local_address(int fd, struct sockit_addr *local)
{
    if (!local)
        return 0;
    memset(local, 0, sizeof(*local));
    local->len = sizeof(local->u);
    return getsockname(fd, &local->u.sa, &local->len) < 0 ? -errno : 0;
}

/* Keep the most telling error: "address family not supported" only if nothing else failed. */
static int pick_error(int kept, int err)
{
    return (kept == 0 || kept == -EAFNOSUPPORT) ? err : kept;
}

int sockit_socket_listen(const struct sockit_endpoint *ep, const struct sockit_sockopts *o,
                         struct sockit_addr *local)
{
    struct sockit_addr addrs[MAX_ADDRS];
    int type = sockit_endpoint_socktype(ep);
    int n = sockit_endpoint_resolve(ep, SOCKIT_RESOLVE_PASSIVE | o->resolve, addrs, MAX_ADDRS);
    int err = 0;

    for (int i = 0; i < n; i++) {
        int fd = listen_on(&addrs[i], type, o);
        if (fd >= 0) {
            local_address(fd, local);
            return fd;
        }
        err = pick_error(err, fd);
    }
    return n < 0 ? n : err;
}

static int wait_connected(int fd, int timeout_ms)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    int rc = sockit_wait(fd, POLLOUT, -1, timeout_ms > 0 ? timeout_ms : -1);

    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -errno;
    return -soerr;
}

/* A unix stream connect to a full backlog fails with EAGAIN when non-blocking, and there is
 * nothing to poll for; a blocking connect waits for room, bounded by SO_SNDTIMEO. */
static int connect_unix(int fd, const struct sockit_addr *a, int timeout_ms)
{
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    struct timeval none = { 0 };
    int err;

    if (timeout_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    do
        err = connect(fd, &a->u.sa, a->len) < 0 ? -errno : 0;
    while (err == -EINTR);
    if (timeout_ms > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    return err == -EAGAIN ? -ETIMEDOUT : err;
}

/* connect() that always completes, within TIMEOUT_MS when > 0. */
static int connect_with_timeout(int fd, const struct sockit_addr *a, int timeout_ms)
{
    if (a->u.sa.sa_family == AF_UNIX)
        return connect_unix(fd, a, timeout_ms);
    int err = set_nonblocking(fd, 1);

    if (err)
        return err;
    if (connect(fd, &a->u.sa, a->len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
        return -errno;
    return wait_connected(fd, timeout_ms);
}

/* A unix datagram client needs a name of its own, or the server cannot answer. Binding to
 * just the family asks Linux for a unique abstract name ("autobind"). */
static int autobind_unix(int fd, const struct sockit_trace *trace)
{
    struct sockit_addr self = { .len = sizeof(sa_family_t) };
    self.u.un.sun_family = AF_UNIX;
    return traced_bind(fd, &self, trace);
}

/* Bind FD, about to connect to A, to the caller's source address in A's family. */
static int bind_source(int fd, const struct sockit_addr *a, const struct sockit_sockopts *o)
{
    struct sockit_addr src;
    int flags = SOCKIT_RESOLVE_PASSIVE |
                (a->u.sa.sa_family == AF_INET ? SOCKIT_RESOLVE_IPV4 : SOCKIT_RESOLVE_IPV6);
    int err = 0;

    if (!is_inet(a->u.sa.sa_family) || sockit_endpoint_is_unix(o->source))
        return -SOCKIT_ETYPE;
    if (sockit_endpoint_resolve(o->source, flags, &src, 1) < 1)
        return -SOCKIT_ENOADDR; /* no source address in this family: try the next target */
    if (o->source->port)
        err = sockit__setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1, o->trace);
    return err ? err : traced_bind(fd, &src, o->trace);
}

int sockit_socket_connect_addr(const struct sockit_addr *a, int type,
                               const struct sockit_sockopts *o)
{
    char call[SOCKIT_ADDR_STRLEN + 32], addr[SOCKIT_ADDR_STRLEN];
    int fd = open_socket(a->u.sa.sa_family, type, o);
    int err = 0;

    if (fd < 0)
        return fd;
    if (o->source)
        err = bind_source(fd, a, o);
    else if (a->u.sa.sa_family == AF_UNIX && type == SOCK_DGRAM)
        err = autobind_unix(fd, o->trace);
    if (!err && is_inet(a->u.sa.sa_family) && type == SOCK_STREAM && (o->flags & SOCKIT_NODELAY))
        err = sockit__setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1, o->trace);
    if (!err) {
        err = connect_with_timeout(fd, a, o->timeout_ms);
        sockit_addr_format(a, addr, sizeof(addr));
        snprintf(call, sizeof(call), "connect(%d, %s)", fd, addr);
        sockit__trace_result(o->trace, call, err);
    }
    if (!err)
        err = set_nonblocking(fd, (o->flags & SOCKIT_NONBLOCK) != 0);
    if (err) {
        sockit_socket_close(fd, o->trace);
        return err;
    }
    return fd;
}

int sockit_socket_connect(const struct sockit_endpoint *ep, const struct sockit_sockopts *o,
                          struct sockit_addr *peer)
{
    struct sockit_addr addrs[MAX_ADDRS];
    int type = sockit_endpoint_socktype(ep);
    int n = sockit_endpoint_resolve(ep, o->resolve, addrs, MAX_ADDRS);
    int err = 0;

    for (int i = 0; i < n; i++) {
        int fd = sockit_socket_connect_addr(&addrs[i], type, o);
        if (fd >= 0) {
            if (peer)
                *peer = addrs[i];
            return fd;
        }
        err = pick_error(err, fd);
    }
    return n < 0 ? n : err;
}

static void trace_accept(const struct sockit_trace *trace, int lfd, int fd,
                         const struct sockit_addr *peer)
{
    char call[32], addr[SOCKIT_ADDR_STRLEN];

    snprintf(call, sizeof(call), "accept(%d)", lfd);
    if (fd < 0 || !trace) {
        sockit__trace_result(trace, call, fd);
        return;
    }
    sockit_addr_format(peer, addr, sizeof(addr));
    sockit__trace(trace, "%s = %d from %s", call, fd, addr);
}

int sockit_socket_accept(int lfd, const struct sockit_sockopts *o, struct sockit_addr *peer)
{
    struct sockit_addr tmp;
    struct sockit_addr *p = peer ? peer : &tmp;
    int flags = SOCK_CLOEXEC | ((o->flags & SOCKIT_NONBLOCK) ? SOCK_NONBLOCK : 0);
    int fd;

    do {
        memset(p, 0, sizeof(*p));
        p->len = sizeof(p->u);
        fd = accept4(lfd, &p->u.sa, &p->len, flags);
        /* ECONNABORTED: the client gave up while queued; just take the next one. */
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0) {
        fd = -errno;
        if (fd != -EAGAIN)
            trace_accept(o->trace, lfd, fd, p);
        return fd;
    }
    trace_accept(o->trace, lfd, fd, p);
    if (is_inet(p->u.sa.sa_family) && (o->flags & SOCKIT_NODELAY))
        sockit__setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1, o->trace);
    return fd;
}

int sockit_socket_shed(int lfd, int *spare, const struct sockit_trace *trace)
{
    int fd, err;

    if (*spare >= 0)
        close(*spare);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    err = fd < 0 ? -errno : 0; /* before the trace and open() can change errno */
    if (fd >= 0)
        close(fd);
    sockit__trace(trace, "accept(%d) = %d, closed at once: out of file descriptors", lfd, fd);
    *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (err)
        return err;
    return *spare < 0 ? -errno : 0;
}

int sockit_socket_shutdown_write(int fd, const struct sockit_trace *trace)
{
    int err = shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
    char call[40];

    snprintf(call, sizeof(call), "shutdown(%d, SHUT_WR)", fd);
    sockit__trace_result(trace, call, err);
    return err;
}

int sockit_socket_close(int fd, const struct sockit_trace *trace)
{
    int err = close(fd) < 0 ? -errno : 0;
    char call[24];

    /* EINTR still means closed on Linux; retrying could close someone else's new fd. */
    if (err == -EINTR)
        err = 0;
    snprintf(call, sizeof(call), "close(%d)", fd);
    sockit__trace_result(trace, call, err);
    return err;
}

/* A unix endpoint with a file: not abstract, not another transport. */
static bool has_file(const struct sockit_endpoint *ep)
{
    return sockit_endpoint_is_unix(ep) && ep->path[0] != '@';
}

int sockit_socket_unlink(const struct sockit_endpoint *ep, const struct sockit_trace *trace)
{
    char call[SOCKIT_UNIX_PATH_MAX + 16];
    int err;

    if (!has_file(ep))
        return 0;
    err = unlink(ep->path) < 0 ? -errno : 0;
    snprintf(call, sizeof(call), "unlink(\"%s\")", ep->path);
    sockit__trace_result(trace, call, err);
    return err;
}

int sockit_socket_file_id(const struct sockit_endpoint *ep, struct sockit_socket_file *out)
{
    struct stat st;

    *out = (struct sockit_socket_file){ 0 };
    if (!has_file(ep))
        return 0;
    if (stat(ep->path, &st) < 0)
        return -errno;
    *out = (struct sockit_socket_file){ .dev = st.st_dev, .ino = st.st_ino, .valid = true };
    return 0;
}

int sockit_socket_unlink_same(const struct sockit_endpoint *ep, const struct sockit_socket_file *id,
                              const struct sockit_trace *trace)
{
    struct stat st;

    if (!id->valid || !has_file(ep) || stat(ep->path, &st) < 0)
        return 0;
    if (st.st_dev != id->dev || st.st_ino != id->ino)
        return 0; /* replaced by another server since: not ours to remove */
    return sockit_socket_unlink(ep, trace);
}
