/* Internals of the impairment proxy (sockit/impair_proxy.h), shared by its files. */
#ifndef SOCKIT_IMPAIR_PROXY_INTERNAL_H
#define SOCKIT_IMPAIR_PROXY_INTERNAL_H

#include "sockit/engine.h"
#include "sockit/impair_proxy.h"

struct session {
    struct sockit_impair_proxy *p;
    struct sockit_dgram *up; /* connected to the upstream */
    struct sockit_addr client;
    uint64_t last_ns;              /* a datagram either way */
    struct session *chain;         /* the hash bucket's next */
    struct session *older, *newer; /* by last activity */
};

enum sockit__impair_notice {
    SOCKIT__NOTICE_REFUSED,  /* a client refused: the session cap, no socket */
    SOCKIT__NOTICE_ICMP,     /* ICMP errors */
    SOCKIT__NOTICE_UPSTREAM, /* a stream upstream that refused or failed */
    SOCKIT__NOTICES
};

struct tcp_pair;

/* One connection of the control channel. */
struct control_client {
    struct sockit_impair_proxy *p;
    struct sockit_conn *conn;
    struct control_client *prev, *next;
};

struct sockit_impair_proxy {
    struct sockit_loop *loop;
    struct sockit_impair_proxy_options o;
    struct sockit_addr upstream, local;
    struct sockit_dgram *listener;
    struct sockit_impair *im[2]; /* [0] up, [1] down */
    struct session **buckets;
    size_t nbuckets, nsessions;
    struct session *oldest, *newest;
    struct sockit_timer release, expire;
    uint64_t release_at;     /* when RELEASE is armed for; 0: not armed */
    uint64_t stall_until[2]; /* a direction releases nothing before this (stall) */
    /* Streams (tcp://, unix:): each connection is its own link, with its own impairments made
     * from IM's options (kept in order, loss as a retransmission delay). */
    bool stream;
    struct sockit_listener *tcp_listener;
    struct tcp_pair *pairs;
    uint64_t pairs_made;                    /* seeds each pair's impairments */
    struct sockit_impair_stats tcp_done[2]; /* the counters of pairs that ended */
    struct sockit_hist *tcp_delays[2];      /* every pair's delays, per direction */
    struct sockit_listener *control;
    struct sockit_endpoint control_ep; /* a unix path to remove at the end */
    struct control_client *controllers;
    size_t open; /* dgrams and control conns whose close is still to come */
    bool closing;
    uint64_t logged_ns[SOCKIT__NOTICES]; /* when each kind of notice was last logged */
    uint64_t sessions_opened, sessions_expired, sessions_refused, icmp_errors, send_drops;
};

/* A notice through the caller's on_log, at most one of each KIND a second. */
void sockit__impair_log(struct sockit_impair_proxy *p, enum sockit__impair_notice kind,
                        const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A dgram, stream or control conn of P has closed: the last one of a closing proxy frees it. */
void sockit__impair_proxy_gone(struct sockit_impair_proxy *p);

/* Streams (tcp.c): listen; close (or RESET) every connection, returning how many; pass the
 * options of IM to every open connection; add up the counters of the ended and open ones. */
int sockit__impair_tcp_open(struct sockit_impair_proxy *p);
size_t sockit__impair_tcp_close_all(struct sockit_impair_proxy *p, bool reset);
void sockit__impair_tcp_set(struct sockit_impair_proxy *p);
void sockit__impair_tcp_stats(const struct sockit_impair_proxy *p,
                              struct sockit_impair_stats out[2]);

/* The options a connection's impairment gets from the user's O: in order, loss as a
 * retransmission delay (the proxy's retransmit_ns), no queue limit (a stream is held back
 * by flow control instead). */
struct sockit_impair_options sockit__impair_stream_options(const struct sockit_impair_proxy *p,
                                                           const struct sockit_impair_options *o);

/* Close the control channel: its listener and connections. */
void sockit__impair_control_close(struct sockit_impair_proxy *p);

#endif
