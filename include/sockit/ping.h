/* sockit/ping.h — ICMP and ICMPv6 echo: what `ping` sends and reads, and a session doing it.
 *
 * Two layers, as elsewhere in libsockit:
 *
 *  - The messages, sans-I/O (src/lib/icmp/echo.c): build an echo request, read an echo reply
 *    out of the bytes a socket gave, the Internet checksum, a record of which sequence numbers
 *    came back (duplicates, out of order) and the words for an ICMP error. No system call, no
 *    allocation, no state but what the caller passes: bytes in, a verdict out.
 *
 *  - A session (src/lib/icmp/ping.c, socket.c): one socket to one address that sends a request
 *    each interval, reads the replies and the ICMP errors about its requests, and keeps the
 *    statistics iputils ping prints, with ping's rules for when to stop. Every socket call is
 *    reported to the caller's trace hook: "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = 3".
 *
 * The socket: a raw one (SOCK_RAW, IPPROTO_ICMP or IPPROTO_ICMPV6) when the process may open
 * one (CAP_NET_RAW), else the kernel's ICMP datagram socket (SOCK_DGRAM, same protocol), which
 * Linux opens for the groups in the sysctl net.ipv4.ping_group_range (it covers IPv6 too).
 * On the datagram socket the kernel picks the echo identifier (read back with getsockname),
 * fills in the checksum and hands the socket only the replies carrying its identifier. A raw
 * IPv4 socket reads whole IP packets, header first, and sees every echo reply reaching the
 * host (an ICMP_FILTER keeps out all other types); the session keeps those with its
 * identifier. ICMPv6 checksums are always the kernel's: RFC 3542 has the kernel compute them
 * on raw ICMPv6 sockets, and Linux refuses IPV6_CHECKSUM there; an ICMP6_FILTER lets only echo
 * replies through. ICMP errors about our requests (unreachable, time exceeded) come through
 * the error queue (IP_RECVERR / IPV6_RECVERR) on both kinds of socket.
 *
 * Round-trip times are measured as ping measures them: the request carries its send time in
 * its first 16 payload bytes (so payloads shorter than that are not timed), and the kernel
 * stamps the reply's arrival (SO_TIMESTAMPNS). Both are on sockit_clock_ns()'s monotonic clock:
 * the kernel's stamp, a wall-clock time, is turned into "this long before now".
 *
 * Threads: a session is used by one thread at a time; the sans-I/O functions are reentrant. */
#ifndef SOCKIT_PING_H
#define SOCKIT_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/endpoint.h"
#include "sockit/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_PING_HEADER       8     /* type, code, checksum, identifier, sequence number */
#define SOCKIT_PING_STAMP        16    /* the send time, in payloads at least this long */
#define SOCKIT_PING_DEFAULT_SIZE 56    /* ping's payload: 64 bytes with the header */
#define SOCKIT_PING4_MAX_SIZE    65507 /* 65535 - 20 (IPv4 header) - 8 */
#define SOCKIT_PING6_MAX_SIZE    65527 /* 65535 (IPv6 payload length) - 8 */

/* ---- The messages (sans-I/O) --------------------------------------------------------------- */

/* The fields of one echo message. */
struct sockit_ping_echo {
    uint16_t id;      /* identifier: ours on a raw socket, the kernel's on a datagram one */
    uint16_t seq;     /* sequence number: 1, 2, ... (after 65535 comes 0) */
    size_t size;      /* payload bytes after the 8-byte header */
    uint64_t sent_ns; /* the send time (sockit_clock_ns), when HAS_STAMP */
    bool has_stamp;   /* SIZE >= SOCKIT_PING_STAMP: the payload starts with the send time */
};

/* The Internet checksum (RFC 1071) of LEN bytes: the one's complement of their one's
 * complement sum in 16-bit big-endian words, as a number. Stored big-endian in a message's
 * checksum field, it makes the checksum of the whole message 0. */
uint16_t sockit_ping_checksum(const void *data, size_t len);

/* Write an echo request for FAMILY (AF_INET: ICMP type 8; AF_INET6: ICMPv6 type 128) with E's
 * fields into BUF: the 8-byte header, then E->size payload bytes: the send time in host byte
 * order (seconds and nanoseconds of E->sent_ns, 8 bytes each) when E->has_stamp, then byte i
 * of the payload = i & 0xff (the whole payload when there is no stamp), as ping fills it. The
 * ICMP checksum is computed; the ICMPv6 one is left 0 for the kernel. Returns the length
 * (8 + size), -ENOSPC if CAP is short, -EMSGSIZE past the family's maximum size, -EINVAL
 * for a stamp in a payload under 16 bytes, or -EAFNOSUPPORT. */
int sockit_ping_build(void *buf, size_t cap, int family, const struct sockit_ping_echo *e);

/* What an echo reply holds, from sockit_ping_parse. */
struct sockit_ping_reply {
    struct sockit_ping_echo echo; /* SIZE: the payload bytes that came */
    size_t len;                   /* ICMP bytes: header and payload ("64 bytes from ...") */
    int ttl;                      /* from the IPv4 header when there was one; else -1 */
    bool bad_checksum;            /* ICMP (IPv4): the checksum does not add up */
    long bad_byte;                /* the first payload byte (after the stamp) not as built: its
                                     offset, or -1 when all are; a reply built with SIZE bytes
                                     should hold byte i = i & 0xff */
    uint8_t bad_value;            /* what that byte was */
};

/* Read LEN bytes that a socket of FAMILY gave as an echo reply with identifier ID into *OUT.
 * IP_HEADER: the bytes start with an IPv4 header (a raw AF_INET socket); it is checked and
 * its TTL taken. The checksum of an ICMP (IPv4) message is checked too: a bad one is still a
 * reply, flagged (ping prints it, and counts it as corrupted). Returns:
 *   0         an echo reply for ID; *OUT filled, its pointers none (nothing borrowed)
 *   -EBADMSG  malformed: shorter than an IPv4 header or its IHL says, a version other than 4,
 *             IHL under 5, a total length under the header's or over LEN (cut short), or an
 *             ICMP part under 8 bytes
 *   -ENOMSG   well-formed, but not ours: not ICMP, another type or code, another identifier
 * *OUT is untouched on error. Never reads past LEN. */
int sockit_ping_parse(const void *buf, size_t len, int family, bool ip_header, uint16_t id,
                      struct sockit_ping_reply *out);

/* Which sequence numbers came back: one bit per number (8 KiB). Zero it to start. */
struct sockit_ping_seen {
    uint64_t bits[65536 / 64];
    unsigned long sent; /* requests counted so far; the newest has sequence number (uint16_t)sent */
    uint16_t newest;    /* the newest sequence number answered, once ANY */
    bool any;
    unsigned pipe; /* most requests in flight at once, counted as ping counts it */
};

/* Count one more request as sent and return its sequence number (1, 2, ...), forgetting any
 * answer to the request that had that number 65536 requests ago. */
uint16_t sockit_ping_seen_send(struct sockit_ping_seen *s);

enum {
    SOCKIT_PING_DUP = 1u << 0,  /* that number was answered already */
    SOCKIT_PING_LATE = 1u << 1, /* a newer number was answered first: out of order */
};

/* A reply to SEQ came: returns SOCKIT_PING_DUP and/or SOCKIT_PING_LATE, or 0. */
unsigned sockit_ping_seen_reply(struct sockit_ping_seen *s, uint16_t seq);

/* An ICMP error about SEQ came: it ends that request's flight (for PIPE) as a reply does. */
void sockit_ping_seen_error(struct sockit_ping_seen *s, uint16_t seq);

/* The words ping prints for ICMP (FAMILY AF_INET) or ICMPv6 (AF_INET6) error TYPE and CODE,
 * with INFO (an MTU or a pointer) where they name it: "Destination Host Unreachable",
 * "Time to live exceeded", "Destination unreachable: Address unreachable",
 * "Packet too big: mtu=1280". Written into BUF (SIZE bytes, cut to fit); returns BUF. */
const char *sockit_ping_describe(int family, uint8_t type, uint8_t code, uint32_t info, char *buf,
                                 size_t size);

/* ---- A session --------------------------------------------------------------------------- */

enum sockit_ping_socket {
    SOCKIT_PING_ANY = 0, /* raw when permitted, else the datagram socket */
    SOCKIT_PING_RAW,     /* raw only */
    SOCKIT_PING_DGRAM,   /* the ICMP datagram socket only */
};

struct sockit_ping_options {
    size_t size;          /* payload bytes: 0 to the family's SOCKIT_PING*_MAX_SIZE */
    unsigned long count;  /* requests to send; 0: no limit. With DEADLINE_MS: replies to wait
                             for, requests going on meanwhile (ping -c with -w) */
    uint32_t interval_ms; /* between requests; 0: 1000 */
    uint32_t linger_ms;   /* after the last of COUNT requests, when nothing has answered yet:
                             how long to wait (ping -W); 0: 10000. Once replies came, twice
                             the longest RTT, and at least INTERVAL_MS */
    uint32_t deadline_ms; /* end this long after the first request, whatever else (ping -w);
                             0: no deadline. With one, an ICMP error ends the session too */
    enum sockit_ping_socket socket;
    const struct sockit_trace *trace; /* may be NULL; borrowed for the session's life */
};

enum sockit_ping_kind {
    SOCKIT_PING_REPLY = 1,   /* an echo reply to one of our requests */
    SOCKIT_PING_ICMP_ERROR,  /* an ICMP error about one of our requests (unreachable...) */
    SOCKIT_PING_LOCAL_ERROR, /* our own kernel could not send a request (message too long) */
    SOCKIT_PING_SEND_ERROR,  /* sendto() failed; the request counts as sent, as ping has it */
};

/* What happened, from sockit_ping_next / _send / _recv. */
struct sockit_ping_event {
    enum sockit_ping_kind kind;
    int seq;                 /* the request's sequence number; -1 when unknown (LOCAL_ERROR) */
    struct sockit_addr from; /* REPLY: who answered; ICMP_ERROR: who sent the error (a router,
                                or this host when it found no neighbour); else family 0 */
    size_t len;              /* REPLY: ICMP bytes that came (header and payload) */
    int ttl;                 /* REPLY: the TTL / hop limit it came with; -1 unknown */
    int64_t rtt_ns;          /* REPLY: round-trip time; -1 when untimed (payload under 16) */
    bool dup;                /* REPLY: that request was answered already */
    bool late;               /* REPLY: a newer request was answered first */
    bool truncated;          /* REPLY: shorter than the request */
    bool bad_checksum;       /* REPLY: ICMP checksum wrong (counted corrupted, not received) */
    long bad_byte;           /* REPLY: first payload byte not as sent, or -1 */
    uint8_t bad_value;       /* REPLY: what that byte was */
    uint8_t type, code;      /* ICMP_ERROR: the error's ICMP (or ICMPv6) type and code */
    uint32_t info;           /* ICMP_ERROR: MTU or pointer, as sockit_ping_describe takes it;
                                LOCAL_ERROR: the MTU when ERR is -EMSGSIZE */
    int err;                 /* the errors: -errno (ICMP_ERROR: the kernel's reading of it) */
};

/* What the session has counted, as ping's statistics lines say it. */
struct sockit_ping_stats {
    unsigned long transmitted; /* requests sent (and failed sends, as ping counts them) */
    unsigned long received;    /* distinct replies with a good checksum */
    unsigned long duplicates;  /* replies to a request already answered */
    unsigned long corrupted;   /* replies with a bad checksum */
    unsigned long errors;      /* ICMP and local errors about our requests */
    unsigned long late;        /* replies that came after a newer one (out of order) */
    double loss_percent;       /* (transmitted - received) * 100 / transmitted; 0 if none sent */
    uint64_t time_ns;          /* from the first request to the latest one */
    unsigned pipe;             /* most requests in flight at once */
    bool timed;                /* some reply carried a send time: the RTTs below mean something */
    int64_t rtt_min_ns, rtt_avg_ns, rtt_max_ns; /* over every timed reply, duplicates too */
    int64_t rtt_mdev_ns;                        /* standard deviation, as ping's "mdev" */
    bool success; /* ping's exit status 0: a reply came and, with a deadline and a count, COUNT */
};

/* About the socket a session got. */
struct sockit_ping_info {
    int family;   /* AF_INET or AF_INET6 */
    int socktype; /* SOCK_RAW or SOCK_DGRAM */
    uint16_t id;  /* the echo identifier */
    int fd;       /* the socket, for a caller's own poll: owned by the session */
};

struct sockit_ping;

/* Open a session towards TO (AF_INET or AF_INET6; the port is ignored): the socket O->socket
 * asks for, with its filter, the error queue, arrival stamps and hop limits, its identifier
 * known, and connected to TO (the kernel finds the route now: -ENETUNREACH at once for an
 * address with none, as ping has it). Nothing is sent yet. *OUT is the caller's, freed by
 * sockit_ping_close. Returns 0, or: -EPERM/-EACCES when neither socket is permitted
 * (SOCKIT_PING_ANY returns the datagram socket's error: the raw one's is always the lack of
 * CAP_NET_RAW), -EMSGSIZE when O->size is over the family's maximum, -EAFNOSUPPORT for TO of
 * another family, -ENETUNREACH and the like from connect, -ENOMEM, or another
 * -errno. */
int sockit_ping_open(struct sockit_ping **out, const struct sockit_addr *to,
                     const struct sockit_ping_options *o);

/* Send the next request now, whatever the schedule. Returns 0 when it went, 1 with *EV a
 * SEND_ERROR when sendto failed (counted as sent, as ping does), or a negative code. */
int sockit_ping_send(struct sockit_ping *p, struct sockit_ping_event *ev);

/* Read one message waiting on the socket, the error queue first, without blocking. Returns 1
 * with *EV (a reply, an ICMP or a local error about our requests), 0 when what was read was
 * not for us (another ping's reply, a malformed packet: said on the trace hook), -EAGAIN when
 * nothing waits, or another negative code. */
int sockit_ping_recv(struct sockit_ping *p, struct sockit_ping_event *ev);

/* Run the schedule until something happens: send each request when it is due, wait for and
 * read what comes. Returns 1 with *EV, 0 when the session is over by ping's rules (COUNT
 * answered or errored; the deadline; the wait after the last request), -ECANCELED as soon as
 * STOP_FD (if >= 0, e.g. a signalfd) is readable, or another negative code. Call it again
 * after each event; it never waits past the next thing due. */
int sockit_ping_next(struct sockit_ping *p, int stop_fd, struct sockit_ping_event *ev);

/* The counts so far into *OUT. */
void sockit_ping_stats(const struct sockit_ping *p, struct sockit_ping_stats *out);

/* The session's socket into *OUT. */
void sockit_ping_info(const struct sockit_ping *p, struct sockit_ping_info *out);

/* Close the socket and free the session. NULL is a no-op. */
void sockit_ping_close(struct sockit_ping *p);

/* Resolve HOST, a name or an address (IPv6 without brackets, a zone allowed: fe80::1%eth0),
 * to its first address of FAMILY (AF_INET, AF_INET6, or AF_UNSPEC for either) into *OUT.
 * Returns 0, -SOCKIT_ENONAME when the name does not resolve, -SOCKIT_ENOADDR when it has no
 * address of FAMILY, -SOCKIT_EHOST, -SOCKIT_EIPV4 (and the like) for a host that is not valid,
 * or another code from sockit_endpoint_resolve. */
int sockit_ping_resolve(const char *host, int family, struct sockit_addr *out);

#ifdef __cplusplus
}
#endif

#endif
