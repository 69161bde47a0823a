/* sockit/impair_proxy.h — a proxy that makes a bad network between its clients and one
 * upstream, with an impairment (sockit/impair.h) for each direction: what `sockit impair`
 * runs.
 *
 * UDP (listen on udp://): each client source address gets a session with its own socket
 * connected to the upstream, so the upstream sees one peer per client and its answers find the
 * way back; a session ends after SESSION_IDLE_MS without a datagram either way, and at most
 * MAX_SESSIONS live at once (a datagram from a new source beyond that is dropped and counted).
 * Every datagram goes through the direction's impairment: client to upstream is UP, upstream to
 * client is DOWN. The two directions are two links shared by all sessions (a bandwidth limit is
 * the link's); a session that ends takes its held packets with it. ICMP errors (an upstream
 * that is not there) are counted and logged, never fatal.
 *
 * The proxy lives on one loop, used from that loop's thread only; its release times come from
 * the loop's timers (nanoseconds). */
#ifndef SOCKIT_IMPAIR_PROXY_H
#define SOCKIT_IMPAIR_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/endpoint.h"
#include "sockit/impair.h"
#include "sockit/loop.h"
#include "sockit/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sockit_impair_dir {
    SOCKIT_IMPAIR_UP = 1,   /* client -> upstream */
    SOCKIT_IMPAIR_DOWN = 2, /* upstream -> client */
    SOCKIT_IMPAIR_BOTH = 3,
};

struct sockit_impair_proxy_options {
    struct sockit_endpoint listen;   /* udp:// */
    struct sockit_endpoint upstream; /* udp:// */
    struct sockit_impair_options up, down;
    uint64_t seed;                    /* the UP impairment's; DOWN's is derived from it */
    uint64_t session_idle_ms;         /* default 60000 */
    size_t max_sessions;              /* default 10000, at most 1000000 */
    const struct sockit_trace *trace; /* socket calls; borrowed, must outlive the proxy */
    /* Notices (a session refused, an upstream that answers with ICMP errors), at most one of
     * each kind a second. May be NULL. */
    void (*on_log)(const char *line, void *ud);
    void *ud;
};

struct sockit_impair_proxy_stats {
    size_t sessions;           /* open now */
    uint64_t sessions_opened;  /* since start */
    uint64_t sessions_expired; /* ended by the idle timeout */
    uint64_t sessions_refused; /* datagrams from new sources dropped at MAX_SESSIONS */
    uint64_t icmp_errors;      /* ICMP errors on the upstream or client side */
    uint64_t send_drops;       /* released datagrams the socket would not queue */
    struct sockit_impair_stats up, down;
};

struct sockit_impair_proxy;

/* Whether O fits a stream proxy: no reorder, duplicate, corrupt or mtu (a stream has no
 * datagrams). Returns 0, or -EINVAL with a static text in *WHY (if not NULL). */
int sockit_impair_stream_fit(const struct sockit_impair_options *o, const char **why);

/* Open the listening socket and resolve the upstream, on LOOP. Returns 0 and the proxy in
 * *OUT, -EINVAL for bad options (an impairment that does not check, a transport other than
 * udp://), or the error of the socket or resolution. */
int sockit_impair_proxy_new(struct sockit_impair_proxy **out, struct sockit_loop *loop,
                            const struct sockit_impair_proxy_options *o);

/* Close every socket and drop every held packet. The memory goes once the loop has run the
 * sockets' closes (the next round, or sockit_loop_free); no callback runs after this. NULL is
 * fine. */
void sockit_impair_proxy_free(struct sockit_impair_proxy *p);

/* The address the proxy listens on (port 0 resolved). */
void sockit_impair_proxy_local(const struct sockit_impair_proxy *p, struct sockit_addr *out);

/* Replace the impairment of direction(s) DIRS from now on. Returns 0 or -EINVAL. */
int sockit_impair_proxy_set(struct sockit_impair_proxy *p, unsigned dirs,
                            const struct sockit_impair_options *o);

/* The options in force for one direction (UP or DOWN). */
const struct sockit_impair_options *sockit_impair_proxy_options(const struct sockit_impair_proxy *p,
                                                                enum sockit_impair_dir dir);

/* The counters now. */
void sockit_impair_proxy_stats(const struct sockit_impair_proxy *p,
                               struct sockit_impair_proxy_stats *out);

/* The delay added to each datagram of direction DIR (UP or DOWN); borrowed. */
const struct sockit_hist *sockit_impair_proxy_delays(const struct sockit_impair_proxy *p,
                                                     enum sockit_impair_dir dir);

/* ---- the control channel ----------------------------------------------------------------- */

/* Listen for control connections on stream endpoint EP (unix:@name, unix:/path, tcp://):
 * each sends commands, one a line, and reads one answer a line (sockit_impair_proxy_command);
 * a line over SOCKIT_IMPAIR_CMD_MAX bytes closes that connection. A unix path is removed when
 * the proxy is freed. Returns 0, -EINVAL for a datagram endpoint, -EBUSY if already listening,
 * or the socket's error. */
int sockit_impair_proxy_control(struct sockit_impair_proxy *p, const struct sockit_endpoint *ep);

/* Run one command LINE of the control channel on P (sockit_impair_command; "stats" answers
 * with sockit_impair_proxy_stats_json), the answer in REPLY (CAP bytes). Returns 0, or -EINVAL
 * for an "error: ..." answer. */
int sockit_impair_proxy_command(struct sockit_impair_proxy *p, const char *line, char *reply,
                                size_t cap);

/* The counters of P as one JSON object into BUF. Returns the length or -ENOSPC. */
int sockit_impair_proxy_stats_json(const struct sockit_impair_proxy *p, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
