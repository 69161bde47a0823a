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
    uint64_t release_at; /* when RELEASE is armed for; 0: not armed */
    struct sockit_listener *control;
    struct sockit_endpoint control_ep; /* a unix path to remove at the end */
    struct control_client *controllers;
    size_t open; /* dgrams and control conns whose close is still to come */
    bool closing;
    uint64_t logged_ns[2]; /* when each kind of notice was last logged */
    uint64_t sessions_opened, sessions_expired, sessions_refused, icmp_errors, send_drops;
};

/* A dgram or control conn of P has closed: the last one of a closing proxy frees it. */
void sockit__impair_proxy_gone(struct sockit_impair_proxy *p);

/* Close the control channel: its listener and connections. */
void sockit__impair_control_close(struct sockit_impair_proxy *p);

#endif
