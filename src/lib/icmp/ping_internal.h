/* Internal: the ping session (ping.c) and its socket (ping_socket.c). */
#ifndef SOCKIT_ICMP_PING_INTERNAL_H
#define SOCKIT_ICMP_PING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/ping.h"

struct sockit_ping {
    int fd, family, socktype;
    uint16_t id;
    struct sockit_addr to;
    struct sockit_ping_options o;
    struct sockit_ping_seen seen;
    unsigned long received, duplicates, corrupted, errors, late;
    unsigned long timed;        /* replies with an RTT, duplicates too */
    double rtt_sum, rtt_sum2;   /* in ns and ns squared, for the mean and mdev */
    int64_t rtt_min, rtt_max;   /* in ns */
    uint64_t start_ns, last_ns; /* first and latest request (sockit_clock_ns); 0: none yet */
    uint64_t next_ns;           /* the next request is due */
    uint64_t exit_ns;           /* the wait after the last request ends; 0: not yet set */
    uint8_t *out, *in;          /* the request, and room for one packet in */
    size_t out_len, in_cap;
};

/* One packet read from the normal queue. */
struct sockit__ping_packet {
    size_t len;              /* bytes in p->in */
    bool cut;                /* the packet was larger than p->in: not one of ours */
    struct sockit_addr from; /* sender */
    int ttl;                 /* from ancillary data (datagram sockets, IPv6); -1 */
    uint64_t arrived_ns;     /* on sockit_clock_ns's clock, from the kernel's stamp */
};

/* Open P->fd for P->family as P->o.socket asks, set it up and learn P->id. 0 or -errno. */
int sockit__ping_socket_open(struct sockit_ping *p);

/* Send the P->out_len bytes of P->out to P->to: the length, or -errno. Traced. */
long sockit__ping_socket_send(struct sockit_ping *p, uint16_t seq);

/* Read one packet from the normal queue into P->in without waiting: 1, or -errno (-EAGAIN:
 * none). A failure is traced; a packet is not (the caller says what it was). */
int sockit__ping_socket_read(struct sockit_ping *p, struct sockit__ping_packet *pkt);

/* Read one message from the error queue without waiting: 1 with *EV (ICMP_ERROR or
 * LOCAL_ERROR) about one of our requests, 0 for an error about something else, or -errno
 * (-EAGAIN: the queue is empty). Traced. */
int sockit__ping_socket_read_error(struct sockit_ping *p, struct sockit_ping_event *ev);

/* A's address alone ("10.0.0.2", "fd00::2", "fe80::1%eth0") into BUF. */
void sockit__ping_addr_text(const struct sockit_addr *a, char *buf, size_t size);

#endif
