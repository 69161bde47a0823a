/* sockit/relay.h — a relay: two sides joined full-duplex on one loop, what netcat, socat and
 * a TCP proxy do. Each side is a loop stream, a socket (stream or datagram), or a pair of
 * plain fds such as stdin/stdout. Bytes read from one side are written to the other; a side
 * whose output is full stops the other side from being read (flow control), so a relay holds
 * a bounded amount of memory whatever its peers do; the end of one side's input is passed on
 * as a half-close (shutdown SHUT_WR) once what came before it has been sent.
 *
 * A relay lives on one loop and is used only from that loop's thread. It owns the streams and
 * sockets it is given from sockit_relay_open on (it closes them); plain fds stay the caller's
 * (never closed, only watched). Close every relay before freeing its loop. */
#ifndef SOCKIT_RELAY_H
#define SOCKIT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/loop.h"

struct sockit_relay;

enum { SOCKIT_RELAY_A = 0, SOCKIT_RELAY_B = 1 }; /* the two sides, as indexes */

enum sockit_relay_kind {
    /* An open loop stream (sockit_stream_open, sockit_stream_connect, a server's client),
     * connected or still connecting. The relay takes it over: its callbacks and backpressure
     * (sockit_stream_set_ops, sockit_stream_set_backpressure) and its close. Its limits stay:
     * its high watermark bounds what waits for its peer. */
    SOCKIT_RELAY_STREAM,
    /* A connected socket FD, which the relay opens as a loop stream (SOCK_STREAM, default
     * limits) or as a datagram socket (SOCK_DGRAM): each chunk of the other side's input leaves
     * as one datagram (at most SOCKIT_UDP4_MAX bytes), each datagram received is written to the
     * other side whole. A datagram socket not yet connected takes the first sender as its peer
     * (connects to it) and holds the other side's input until then. Taken over and closed. */
    SOCKIT_RELAY_SOCKET,
    /* Plain fds: IN is read and OUT written (they may be the same fd), the caller's. Pipes,
     * terminals, sockets and character devices are watched by the loop and never block it
     * where the kernel allows (RWF_NOWAIT; not on a terminal, whose writes may block the loop
     * while it is full). Regular files, which the loop cannot watch, are read and written
     * directly. OUT is never shut down or closed, as it may be shared (a stdout that a
     * service manager reads): the other side's end shows as the relay's end. The fds' flags
     * are left alone. Writing to a pipe whose reader is gone raises SIGPIPE as any write
     * does: ignore it (SIG_IGN) to see -EPIPE instead. */
    SOCKIT_RELAY_FDS,
};

struct sockit_relay_side {
    enum sockit_relay_kind kind;
    struct sockit_stream *stream; /* STREAM */
    int fd;                       /* SOCKET */
    int in_fd, out_fd;            /* FDS; -1: no input (ended from the start) / no output */
    /* The end of this side's input ends the relay once what was read has been sent, without
     * waiting for the other direction (a person at a terminal is done when the peer is). */
    bool eof_ends;
    /* SOCKET (datagram): datagrams have no end of stream, so once the other side's input has
     * ended the relay ends when none has arrived for this long (0: at once). */
    unsigned linger_ms;
    /* SOCKET (datagram): pace what leaves this side to at most RATE_BPS bits of payload and
     * RATE_PPS datagrams per second (0: no limit). The other side is read no faster, so
     * nothing is dropped for it: a datagram leaves when its turn comes, and the ones after it
     * wait (one datagram may leave at once; no credit is saved up while idle). */
    uint64_t rate_bps, rate_pps;
};

/* Counters since open. */
struct sockit_relay_stats {
    uint64_t a_to_b; /* bytes read from side A and handed to side B */
    uint64_t b_to_a;
    size_t buffered; /* bytes read and not yet taken by the kernel on the other side: streams'
                        pending output, FDS output and datagram queues */
    /* Datagram sides (0 for the others), indexed by side: datagrams received, datagrams the
     * kernel took, and datagrams never sent (refused by the kernel, or still queued when the
     * side closed). Bytes are in a_to_b and b_to_a. */
    uint64_t dgrams_received[2], dgrams_sent[2], dgrams_dropped[2];
};

/* Why a relay ended. */
struct sockit_relay_end {
    /* 0: both directions ended and their output was sent (or an eof_ends side ended, or a
     * datagram side's linger passed); -ECANCELED: sockit_relay_close; -SOCKIT_EIDLE: nothing
     * moved for opts.idle_ms (both sides closed at once, SIDE -1); else the -errno that
     * failed SIDE (a reset, a refused connect, a failed read or write), after which the other
     * side was closed at once. */
    int err;
    int side; /* SOCKIT_RELAY_A or _B for a failure, else -1 */
    /* What failed: "read" or "write" (fds, datagrams), "stream" (a stream's own error: a
     * reset, a refused connect), "connect" (a datagram side could not take its first
     * sender); "" when ERR is 0 or -ECANCELED. */
    const char *op;
    /* A stream side whose peer had ended its output and then refused more (EPIPE, a reset:
     * the peer closed rather than half-closed) ends the relay with ERR 0, as netcat does:
     * PEER_GONE is that side (else -1), and UNDELIVERED the bytes handed to it after the
     * peer's end, which a peer that closed did not read. */
    int peer_gone;
    uint64_t undelivered;
    bool input_ended[2]; /* each side's input had ended (its peer's end, or end of file) */
    struct sockit_relay_stats stats;
};

struct sockit_relay_ops {
    /* The relay is over; END says why (valid during the call). Called once, from a deferred
     * call, after both sides have let go; the relay pointer is dead after it returns. */
    void (*on_close)(struct sockit_relay *r, const struct sockit_relay_end *end, void *ud);
    /* A datagram side that had no peer took PEER, the first sender (borrowed for the call).
     * May be NULL. */
    void (*on_peer)(struct sockit_relay *r, int side, const struct sockit_addr *peer, void *ud);
};

/* All fields 0 mean the default. */
struct sockit_relay_opts {
    /* Output the relay buffers itself (FDS output, datagram queues): above HIGH_WATER the
     * other side stops being read, at or below LOW_WATER it is read again. Stream sides use
     * their own watermarks. Default 16 KiB / 64 KiB. Per direction, a relay holds at most
     * the high watermark plus one read (the loop's read_chunk; 64 KiB from an fd). */
    size_t low_water, high_water;
    /* End the relay (err -SOCKIT_EIDLE) when no byte has moved either way for this long;
     * 0: never. */
    unsigned idle_ms;
};

/* Join sides A and B (described by the caller, copied) on LOOP, with OPS (which must outlive
 * the relay) and UD. OPTS may be NULL. Reading starts at once. Returns 0 and the relay in
 * *OUT, -EINVAL for an invalid side or options, or -errno. The streams and sockets are the
 * relay's from this call on, even when it fails: then they are closed (a stream's own
 * on_close runs, with its old callbacks) and no relay callback follows. */
int sockit_relay_open(struct sockit_loop *loop, const struct sockit_relay_side *a,
                      const struct sockit_relay_side *b, const struct sockit_relay_ops *ops,
                      void *ud, const struct sockit_relay_opts *opts, struct sockit_relay **out);

/* Close now: pending output is dropped, streams and sockets closed, fds unwatched. on_close
 * follows (err -ECANCELED) from a deferred call. Safe from the relay's callbacks.
 * Idempotent. */
void sockit_relay_close(struct sockit_relay *r);

/* Copy R's counters into *OUT (the caller's). */
void sockit_relay_stats(const struct sockit_relay *r, struct sockit_relay_stats *out);

/* ---- hubs: one stream joined to many ------------------------------------------------- */

/* A hub joins one connected stream socket, the centre, to any number of member stream sockets
 * on one loop, as ncat -k does with stdin/stdout and its clients: what the centre sends goes
 * to every member (broadcast), and what any member sends goes to the centre, one read at a
 * time (bytes of one read of one member are never split by another's). The centre is read
 * only while there is a member: what it sends meanwhile waits for one. The slowest member
 * holds the centre back, and a full centre holds every member back, so a hub holds a bounded
 * amount of memory: per member at most its high watermark and one read. The end of the
 * centre's input is passed on to every member, and to those that join later, as a half-close;
 * a member's end of input closes that member once its output is sent (it is done, as ncat's
 * clients are). A hub owns the sockets it is given (it closes them) and is used only from its
 * loop's thread. Close every hub before freeing its loop. */
struct sockit_hub;

struct sockit_hub_ops {
    /* Member MEMBER_UD (as given to sockit_hub_add) is gone: ERR 0 after its end, -ECANCELED
     * when the hub closed it, -SOCKIT_EIDLE after opts.idle_ms of silence, or the -errno that
     * failed it. May be NULL. */
    void (*on_leave)(struct sockit_hub *h, void *member_ud, int err, void *ud);
    /* The hub is over, its members gone: ERR 0 when the centre closed after its end,
     * -ECANCELED after sockit_hub_close, or the centre's -errno. Called once, from a deferred
     * call; the hub pointer is dead after it returns. */
    void (*on_close)(struct sockit_hub *h, int err, void *ud);
};

/* All fields 0 mean the default. */
struct sockit_hub_opts {
    /* Close a member (on_leave -SOCKIT_EIDLE) when no byte has moved to or from it for this
     * long; 0: never. */
    unsigned idle_ms;
};

/* Make a hub on LOOP around connected stream socket CENTRE_FD (taken over, closed on failure
 * too), with OPS (must outlive the hub; on_close required), UD and OPTS (may be NULL).
 * Returns 0 and the hub in *OUT, -EINVAL, or -errno. */
int sockit_hub_open(struct sockit_loop *loop, int centre_fd, const struct sockit_hub_ops *ops,
                    void *ud, const struct sockit_hub_opts *opts, struct sockit_hub **out);

/* Join connected stream socket FD (taken over, closed on failure too) as a member;
 * MEMBER_UD comes back in on_leave. Returns 0, -ECANCELED once the hub is closing, or -errno. */
int sockit_hub_add(struct sockit_hub *h, int fd, void *member_ud);

/* How many members the hub has now. */
size_t sockit_hub_members(const struct sockit_hub *h);

/* Close the centre and every member now (pending output dropped); on_leave follows for each
 * member (-ECANCELED) and then on_close (-ECANCELED). Safe from the hub's callbacks.
 * Idempotent. */
void sockit_hub_close(struct sockit_hub *h);

#ifdef __cplusplus
}
#endif

#endif
