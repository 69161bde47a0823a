/* sockit/socket.h — sockets: create, bind, listen, accept, connect, send, receive, close.
 *
 * Thin, honest wrappers over the BSD socket calls that handle what every caller otherwise gets
 * wrong: EINTR, partial writes, SIGPIPE (MSG_NOSIGNAL), datagram truncation and size limits,
 * stale unix socket files, fd exhaustion on accept. Each call can report itself to a trace
 * hook (sockit/trace.h), strace-style ("bind(3, 0.0.0.0:8080) = 0"), so a learner can watch
 * the calls happen.
 *
 * File descriptors returned are owned by the caller, who closes them (sockit_socket_close).
 * All functions are safe to call from any thread on distinct fds. */
#ifndef SOCKIT_SOCKET_H
#define SOCKIT_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/trace.h"

enum sockit_sockopt_flag {
    SOCKIT_REUSEADDR = 1u << 0, /* SO_REUSEADDR on listeners (set by default in sockit's CLI) */
    SOCKIT_REUSEPORT = 1u << 1, /* SO_REUSEPORT: several sockets share one port */
    SOCKIT_NODELAY = 1u << 2,   /* TCP_NODELAY: no Nagle delay for small writes */
    SOCKIT_V6ONLY = 1u << 3,    /* IPV6_V6ONLY: an IPv6 wildcard does not take IPv4 too */
    SOCKIT_NONBLOCK = 1u << 4,  /* O_NONBLOCK on the new socket (and on accepted sockets) */
};

struct sockit_sockopts {
    unsigned flags;                   /* SOCKIT_* flags above; close-on-exec is always set */
    int backlog;                      /* listen() backlog; <= 0 means SOMAXCONN */
    int timeout_ms;                   /* connect timeout; <= 0 waits as long as the kernel does */
    const struct sockit_trace *trace; /* may be NULL; borrowed for the duration of the call */
    int resolve;                      /* SOCKIT_RESOLVE_IPV4 or _IPV6: that family only; 0: any */
    /* Connect (inet endpoints): bind to this address first, resolved in the family of the
     * address being tried (host "": any address; port 0: any port; a port sets SO_REUSEADDR).
     * NULL: the kernel picks. Borrowed for the duration of the call. */
    const struct sockit_endpoint *source;
};

/* Resolve EP passively and open a socket on it: socket, options, bind, and listen for stream
 * endpoints. A unix path left behind by a dead server (bind EADDRINUSE, connect refused) is
 * removed and bound again. Returns the fd, or a negative code; *LOCAL (may be NULL) receives
 * the bound address. */
int sockit_socket_listen(const struct sockit_endpoint *ep, const struct sockit_sockopts *o,
                         struct sockit_addr *local);

/* Resolve EP and connect to each address in turn until one answers. Datagram sockets are
 * connected too (default peer), and a unix-dgram client is auto-bound to an abstract name so
 * the server can reply. Returns the fd or the error of the last attempt; *PEER may be NULL. */
int sockit_socket_connect(const struct sockit_endpoint *ep, const struct sockit_sockopts *o,
                          struct sockit_addr *peer);

/* Connect to one already-resolved address A with socket type TYPE (SOCK_STREAM/SOCK_DGRAM),
 * as sockit_socket_connect does for each address it tries. For callers that connect many
 * times to the same place (load generators) and resolve once. Returns the fd or -errno. */
int sockit_socket_connect_addr(const struct sockit_addr *a, int type,
                               const struct sockit_sockopts *o);

/* Accept one connection on listener LFD (retrying EINTR and ECONNABORTED). The new socket gets
 * close-on-exec, and O_NONBLOCK / TCP_NODELAY when O->flags asks. Returns the fd or -errno:
 * -EAGAIN on a non-blocking listener with nothing pending, -EMFILE/-ENFILE when out of fds
 * (see sockit_socket_shed). *PEER may be NULL. */
int sockit_socket_accept(int lfd, const struct sockit_sockopts *o, struct sockit_addr *peer);

/* Recover from fd exhaustion on accept: release the reserve fd *SPARE, accept and close the
 * connection that waits at the head of the backlog (the client sees a prompt close instead of
 * hanging), then take the reserve again. Without this, a level-triggered accept loop spins at
 * 100% CPU. *SPARE is an fd the caller opened beforehand (open("/dev/null")) and owns. Returns
 * 0 if a connection was shed, or a negative code. */
int sockit_socket_shed(int lfd, int *spare, const struct sockit_trace *trace);

/* Send all LEN bytes (MSG_NOSIGNAL: a closed peer gives -EPIPE, never SIGPIPE), looping over
 * partial writes and EINTR. On a non-blocking socket it stops at EAGAIN and returns the bytes
 * sent so far (or -EAGAIN if none). Returns LEN, a short count (non-blocking), or -errno. */
ssize_t sockit_send_all(int fd, const void *buf, size_t len, const struct sockit_trace *trace);

/* Send all LEN bytes as sockit_send_all does, but where the socket is full wait for room
 * (sockit_wait on POLLOUT) and go on: for a non-blocking socket that one thread serves at a
 * time. Each wait lasts at most TIMEOUT_MS (negative: no limit), and STOP_FD (if >= 0) ends
 * it as soon as it is readable. *SENT (may be NULL) gets the bytes sent, on failure too.
 * Returns 0 when all went, -ETIMEDOUT when the socket took nothing for TIMEOUT_MS (or the
 * kernel timed the connection out), -ECANCELED when STOP_FD ended the wait, or -errno. */
int sockit_send_all_wait(int fd, const void *buf, size_t len, int stop_fd, int timeout_ms,
                         size_t *sent, const struct sockit_trace *trace);

/* Receive up to CAP bytes (retrying EINTR). Returns the count, 0 at end of stream, or -errno. */
ssize_t sockit_recv(int fd, void *buf, size_t cap, const struct sockit_trace *trace);

/* Wait until FD has one of EVENTS (POLLIN, POLLOUT), for at most TIMEOUT_MS (negative: no
 * limit), retrying EINTR. STOP_FD, if >= 0, ends the wait as soon as it is readable (e.g. a
 * signalfd) or reports an error or hang-up, and wins over FD. Returns FD's revents (> 0), 0 on
 * timeout, -ECANCELED when STOP_FD became readable, or -errno. */
int sockit_wait(int fd, short events, int stop_fd, int timeout_ms);

/* Send one datagram to TO (NULL on a connected socket). A payload over the family's maximum
 * fails with -SOCKIT_EDGRAMSIZE before any system call. Zero-length datagrams are valid.
 * Returns LEN or a negative code. */
ssize_t sockit_dgram_send(int fd, const void *buf, size_t len, const struct sockit_addr *to,
                          const struct sockit_trace *trace);

/* Receive one datagram into BUF (retrying EINTR); *FROM (may be NULL) gets the sender. If the
 * datagram was larger than CAP, the first CAP bytes are in BUF, *FULL_LEN (may be NULL) holds
 * its real size and the result is -SOCKIT_ETRUNC. Returns the length (0 for an empty datagram)
 * or a negative code. */
ssize_t sockit_dgram_recv(int fd, void *buf, size_t cap, struct sockit_addr *from, size_t *full_len,
                          const struct sockit_trace *trace);

/* Half-close: shutdown(SHUT_WR), so the peer reads end-of-stream while we still read. */
int sockit_socket_shutdown_write(int fd, const struct sockit_trace *trace);

/* Close FD (never retried on EINTR: on Linux the fd is gone either way). */
int sockit_socket_close(int fd, const struct sockit_trace *trace);

/* Remove the file of a unix-path endpoint a listener was bound to; no-op for other endpoints
 * and abstract names. Call after closing the listener. */
int sockit_socket_unlink(const struct sockit_endpoint *ep, const struct sockit_trace *trace);

/* The identity of a unix-path endpoint's socket file, taken right after binding it, so that
 * the file is removed at the end only if it is still this one: a server started since may
 * have replaced it with its own. VALID is false for endpoints without a file. */
struct sockit_socket_file {
    dev_t dev;
    ino_t ino;
    bool valid;
};

/* Take the identity of EP's socket file into *OUT (VALID false, and 0, for an endpoint without
 * a file). Returns 0 or -errno from stat. */
int sockit_socket_file_id(const struct sockit_endpoint *ep, struct sockit_socket_file *out);

/* sockit_socket_unlink, only if EP's file is still ID (same st_dev and st_ino): another
 * process's file is left alone. Returns 0 (removed, or not ours or gone), or -errno. */
int sockit_socket_unlink_same(const struct sockit_endpoint *ep, const struct sockit_socket_file *id,
                              const struct sockit_trace *trace);

#ifdef __cplusplus
}
#endif

#endif
