/* Internal to the relay (relay.c, relay_fds.c): the state of a relay and its two sides. The
 * public contract is in include/sockit/relay.h. */
#ifndef SOCKIT_RELAY_INTERNAL_H
#define SOCKIT_RELAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/buf.h"
#include "sockit/dgram.h"
#include "sockit/loop.h"
#include "sockit/relay.h"

#define SOCKIT__RELAY_CHUNK (64 * 1024) /* one read of a plain fd */

struct relay_side {
    struct sockit_relay *r;
    int idx; /* SOCKIT_RELAY_A or _B */
    enum sockit_relay_kind kind;
    struct sockit_stream *stream; /* a stream side, until its on_close */
    struct sockit_dgram *dgram;   /* a datagram side, until its on_close */
    bool has_peer;                /* datagram side: connected */
    /* plain fds */
    int in_fd, out_fd;
    bool in_direct, out_direct;     /* regular files: no readiness, read and written directly */
    bool in_plain, out_plain;       /* no RWF_NOWAIT (a terminal): one plain call per readiness */
    unsigned in_events, out_events; /* what the loop watches for now */
    bool in_watched, out_watched;
    struct sockit_buf out;        /* bytes waiting for OUT */
    struct sockit_defer in_defer; /* direct input: the next read, one per round */
    /* every kind */
    bool in_eof;   /* this side's input ended */
    uint64_t late; /* bytes handed to this side after its input ended */
    bool held;     /* its input is not read: the other side is full */
    bool done;     /* let go: closed, or its fds released */
    bool eof_ends; /* sockit_relay_side.eof_ends */
    unsigned linger_ms;
    uint64_t rate_bps, rate_pps;     /* datagram side: pacing (sockit_relay_side) */
    uint64_t pace_next;              /* ... the loop time at which the next datagram may leave */
    struct sockit_dgram_stats dg;    /* datagram side: its counters, kept when it closes */
    struct sockit_timer linger;      /* datagram side: quiet this long after the other's end */
    struct sockit_timer recheck;     /* held by a datagram queue: look again */
    struct sockit_defer check_defer; /* the destination's datagram queue, after its flush */
};

struct sockit_relay {
    struct sockit_loop *loop;
    const struct sockit_relay_ops *ops;
    void *ud;
    struct relay_side side[2];
    size_t low, high;
    uint64_t moved[2];  /* bytes read from side i and handed to the other */
    char *chunk;        /* plain-fd reads land here */
    bool finishing;     /* both directions are over: flush, then close */
    bool aborting;      /* an error or sockit_relay_close: close now */
    bool silent;        /* sockit_relay_open failed: no on_close */
    unsigned idle_ms;   /* sockit_relay_opts.idle_ms */
    uint64_t last_move; /* loop time of the last byte moved, for idle_ms */
    struct sockit_timer idle;
    struct sockit_relay_end end;
    struct sockit_defer end_defer;
};

static inline struct relay_side *sockit__relay_other(struct relay_side *x)
{
    return &x->r->side[1 - x->idx];
}

/* May X's input be read now? */
static inline bool sockit__relay_wants_input(const struct relay_side *x)
{
    return !(x->held | x->in_eof | x->done | x->r->finishing | x->r->aborting);
}

/* relay.c: what every side kind calls. */
void sockit__relay_forward(struct relay_side *from, const void *data, size_t len);
void sockit__relay_input_ended(struct relay_side *x);
void sockit__relay_reconsider(struct relay_side *from);
void sockit__relay_apply(struct relay_side *x);
void sockit__relay_fail(struct relay_side *x, int err, const char *op);
void sockit__relay_side_done(struct relay_side *x);

/* relay_fds.c: plain-fd sides. */
int sockit__relay_fds_open(struct relay_side *x, int in_fd, int out_fd);
void sockit__relay_fds_update(struct relay_side *x);
int sockit__relay_fds_put(struct relay_side *to, const void *data, size_t len);
void sockit__relay_fds_flushed(struct relay_side *x);
void sockit__relay_fds_release(struct relay_side *x);

#endif
