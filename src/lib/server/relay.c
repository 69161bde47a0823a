/* Relays (sockit/relay.h): two sides joined full-duplex on one loop. This file moves bytes
 * between the sides, holds a side back while the other is full, passes each end of input on
 * as a half-close and ends the relay; the sides themselves are streams and datagram sockets
 * (here) or plain fds (relay_fds.c). */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay_internal.h"
#include "sockit/error.h"

#define DEFAULT_LOW  (16 * 1024)
#define DEFAULT_HIGH (64 * 1024)
#define RECHECK_NS   1000000ull /* a held datagram queue is looked at again every ms */

static void fail(struct relay_side *x, int err, const char *op);

/* ---- holding back ------------------------------------------------------------------------ */

static bool paced(const struct relay_side *x)
{
    return x->dgram && (x->rate_bps | x->rate_pps);
}

/* A paced datagram side TO whose next datagram's turn has not come yet. */
static bool waits_its_turn(const struct relay_side *to)
{
    return paced(to) && to->pace_next > sockit_loop_now(to->r->loop);
}

/* Is TO too full to take more of FROM's input? Hysteresis: a held source waits for the low
 * watermark, a flowing one stops above the high one. A stream keeps its own watermarks. */
static bool blocked(const struct relay_side *from, const struct relay_side *to)
{
    size_t limit = from->held ? from->r->low : from->r->high;
    struct sockit_dgram_stats st;

    if (to->stream)
        return sockit_stream_full(to->stream);
    if (to->dgram) {
        sockit_dgram_stats(to->dgram, &st);
        return !to->has_peer || st.queued_bytes > limit || waits_its_turn(to);
    }
    return to->kind == SOCKIT_RELAY_FDS && sockit_buf_len(&to->out) > limit;
}

/* Start or stop reading X's input to match wants_input. */
void sockit__relay_apply(struct relay_side *x)
{
    bool on = sockit__relay_wants_input(x);

    if (x->stream && on)
        sockit_stream_read_start(x->stream);
    else if (x->stream)
        sockit_stream_read_stop(x->stream);
    else if (x->dgram && on)
        sockit_dgram_resume(x->dgram);
    else if (x->dgram)
        sockit_dgram_pause(x->dgram);
    else if (x->kind == SOCKIT_RELAY_FDS)
        sockit__relay_fds_update(x);
}

static void recheck(struct sockit_loop *loop, struct sockit_timer *t, void *data);

/* How long until a held source should look at its datagram destination TO again. */
static uint64_t next_look(const struct relay_side *to)
{
    uint64_t now = sockit_loop_now(to->r->loop);

    return waits_its_turn(to) ? to->pace_next - now : RECHECK_NS;
}

/* FROM's destination took bytes or drained: hold FROM back or let it go on. */
void sockit__relay_reconsider(struct relay_side *from)
{
    struct relay_side *to = sockit__relay_other(from);
    bool held = blocked(from, to);

    if (held != from->held) {
        from->held = held;
        sockit__relay_apply(from);
    }
    /* A datagram queue tells no one when it drains: look again until it has (a paced side:
     * when its next turn comes). */
    if (held && to->dgram && to->has_peer && !sockit_timer_active(&from->recheck))
        sockit_timer_start(from->r->loop, &from->recheck, next_look(to), RECHECK_NS);
    else if (!held)
        sockit_timer_stop(from->r->loop, &from->recheck);
}

static void recheck(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop;
    (void)t;
    sockit__relay_reconsider(data);
}

static void check_deferred(struct sockit_loop *loop, void *data)
{
    struct relay_side *from = data;

    (void)loop;
    if (!from->r->aborting)
        sockit__relay_reconsider(from);
}

/* ---- moving bytes ------------------------------------------------------------------------ */

/* A paced side sends a datagram of LEN bytes: the next one's turn comes after the longer of
 * its two costs (bits, datagrams). Time not used is not saved up: no bursts after a pause. */
static void take_turn(struct relay_side *to, size_t len)
{
    uint64_t now = sockit_loop_now(to->r->loop), cost = 0;

    if (to->rate_bps)
        cost = (uint64_t)len * 8 * 1000000000ull / to->rate_bps;
    if (to->rate_pps && 1000000000ull / to->rate_pps > cost)
        cost = 1000000000ull / to->rate_pps;
    to->pace_next = (to->pace_next > now ? to->pace_next : now) + cost;
}

/* Queue LEN bytes on datagram side TO, at most SOCKIT_UDP4_MAX per datagram. The queue is
 * sent at the end of the round, so how full it is is known only then: a deferred call looks. */
static int dgram_put(struct relay_side *to, const char *data, size_t len)
{
    struct relay_side *from = sockit__relay_other(to);

    for (size_t off = 0; off < len;) {
        size_t n = len - off < SOCKIT_UDP4_MAX ? len - off : SOCKIT_UDP4_MAX;
        int err = sockit_dgram_write(to->dgram, data + off, n, NULL);
        if (err < 0)
            return err;
        if (paced(to))
            take_turn(to, n);
        off += n;
    }
    sockit_loop_defer(to->r->loop, &from->check_defer, check_deferred, from);
    return 0;
}

void sockit__relay_forward(struct relay_side *from, const void *data, size_t len)
{
    struct sockit_relay *r = from->r;
    struct relay_side *to = sockit__relay_other(from);
    int err = 0;

    if (r->aborting || r->finishing || to->done)
        return;
    r->moved[from->idx] += len;
    r->last_move = sockit_loop_now(r->loop);
    if (to->in_eof)
        to->late += len;
    if (to->stream) {
        err = sockit_stream_write(to->stream, data, len);
        if (err && err != -ENOBUFS)
            return; /* the stream is closed or closing: its on_close tells why */
    } else if (to->dgram)
        err = dgram_put(to, data, len);
    else
        err = sockit__relay_fds_put(to, data, len);
    if (err) {
        fail(to, err, "write");
        return;
    }
    if (!to->dgram || paced(to)) /* a paced side: hold FROM before its next read */
        sockit__relay_reconsider(from);
}

/* ---- ending ------------------------------------------------------------------------------ */

static void discard(struct sockit_relay *r);

static void end_deferred(struct sockit_loop *loop, void *data)
{
    struct sockit_relay *r = data;

    for (int i = 0; i < 2; i++) {
        if (r->side[i].check_defer.queued || r->side[i].in_defer.queued) {
            sockit_loop_defer(loop, &r->end_defer, end_deferred, r); /* no-ops now: after them */
            return;
        }
    }
    sockit_relay_stats(r, &r->end.stats);
    for (int i = 0; i < 2; i++)
        r->end.input_ended[i] = r->side[i].in_eof;
    if (!r->silent)
        r->ops->on_close(r, &r->end, r->ud);
    discard(r);
}

/* X has let go (closed, or an fd side finished): the relay ends when both have. */
void sockit__relay_side_done(struct relay_side *x)
{
    struct sockit_relay *r = x->r;

    if (x->done)
        return;
    x->done = true;
    sockit_timer_stop(r->loop, &x->recheck);
    sockit_timer_stop(r->loop, &x->linger);
    if (r->side[0].done && r->side[1].done)
        sockit_loop_defer(r->loop, &r->end_defer, end_deferred, r);
}

/* Let go of X at once: close a stream or socket (done follows from its on_close). */
static void drop_side(struct relay_side *x)
{
    if (x->done)
        return;
    if (x->stream)
        sockit_stream_close(x->stream);
    else if (x->dgram)
        sockit_dgram_close(x->dgram);
    else
        sockit__relay_fds_release(x);
}

static void abort_relay(struct sockit_relay *r, int err, int side, const char *op)
{
    if (r->aborting)
        return;
    r->aborting = true;
    sockit_timer_stop(r->loop, &r->idle);
    r->end.err = err;
    r->end.side = err && err != -ECANCELED ? side : -1;
    r->end.op = r->end.side >= 0 ? op : "";
    drop_side(&r->side[0]);
    drop_side(&r->side[1]);
}

static void fail(struct relay_side *x, int err, const char *op)
{
    abort_relay(x->r, err, x->idx, op);
}

void sockit__relay_fail(struct relay_side *x, int err, const char *op)
{
    fail(x, err, op);
}

static bool peer_gone(const struct relay_side *x, int err);

/* X was handed bytes after its peer's end, and all seemed to go: a reset since (the peer had
 * closed, not half-closed) says they were not read. Reads, and so clears, the socket's
 * pending error: the relay is ending anyway. A reset still on its way is not seen. */
static void check_late(struct relay_side *x)
{
    struct sockit_relay *r = x->r;
    int err = 0;

    if (!x->stream || x->late == 0 || r->end.peer_gone >= 0)
        return;
    if (getsockopt(sockit_stream_fd(x->stream), SOL_SOCKET, SO_ERROR, &err,
                   &(socklen_t){ sizeof(err) }) < 0 ||
        !peer_gone(x, -err))
        return;
    r->end.peer_gone = x->idx;
    r->end.undelivered = x->late;
}

/* Both directions are over: send what is queued, then close (stream: after the flush). */
static void finish(struct sockit_relay *r)
{
    if (r->finishing || r->aborting)
        return;
    r->finishing = true;
    sockit_timer_stop(r->loop, &r->idle);
    for (int i = 0; i < 2; i++) {
        struct relay_side *x = &r->side[i];
        check_late(x);
        sockit__relay_apply(x);
        if (x->stream)
            sockit_stream_close_after_flush(x->stream);
        else if (x->dgram)
            sockit_dgram_close(x->dgram);
        else if (!x->done)
            sockit__relay_fds_flushed(x);
    }
}

/* Nothing may have moved for idle_ms: end the relay, or look again when it could have. The
 * timer is re-armed here rather than on every byte. */
static void idle_check(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sockit_relay *r = data;
    uint64_t quiet = sockit_loop_now(loop) - r->last_move, limit = r->idle_ms * 1000000ull;

    if (quiet >= limit)
        abort_relay(r, -SOCKIT_EIDLE, -1, "");
    else
        sockit_timer_start(loop, t, limit - quiet, 0);
}

static void linger_over(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop;
    (void)t;
    finish(data);
}

/* X's input ended: pass the end on, and end the relay when both directions have ended. */
void sockit__relay_input_ended(struct relay_side *x)
{
    struct sockit_relay *r = x->r;
    struct relay_side *to = sockit__relay_other(x);

    if (x->in_eof)
        return;
    x->in_eof = true;
    sockit__relay_apply(x);
    if (to->stream)
        sockit_stream_shutdown(to->stream);
    else if (to->dgram) /* no end to pass on: wait a while for more datagrams */
        sockit_timer_start(r->loop, &to->linger, to->linger_ms * 1000000ull, 0);
    if (x->eof_ends || to->in_eof)
        finish(r);
}

/* ---- stream sides ------------------------------------------------------------------------ */

static void stream_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    (void)s;
    if (len == 0)
        sockit__relay_input_ended(ud);
    else
        sockit__relay_forward(ud, data, len);
}

static void stream_drain(struct sockit_stream *s, void *ud)
{
    (void)s;
    sockit__relay_reconsider(sockit__relay_other(ud));
}

/* X's peer ended its output and now refuses what X sends: it closed, as netcat's peers do
 * when they are done, rather than half-closed. Not a failure of the relay. */
static bool peer_gone(const struct relay_side *x, int err)
{
    return x->in_eof && (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN);
}

static void stream_close(struct sockit_stream *s, int err, void *ud)
{
    struct relay_side *x = ud;

    (void)s;
    x->stream = NULL;
    if (err && peer_gone(x, err) && !x->r->aborting) {
        x->r->end.peer_gone = x->idx;
        x->r->end.undelivered = x->late;
        abort_relay(x->r, 0, -1, "");
    } else if (err || !x->r->finishing) { /* a failure, or closed by someone else */
        fail(x, err, "stream");
    }
    sockit__relay_side_done(x);
}

static const struct sockit_stream_ops relay_stream_ops = {
    .on_data = stream_data,
    .on_drain = stream_drain,
    .on_close = stream_close,
};

static void take_stream(struct relay_side *x, struct sockit_stream *s)
{
    x->stream = s;
    sockit_stream_set_ops(s, &relay_stream_ops, x);
    sockit_stream_set_backpressure(s, false); /* the other side is held back instead */
}

/* ---- datagram sides ---------------------------------------------------------------------- */

/* The first sender becomes the peer of an unconnected datagram side. */
static int adopt(struct relay_side *x, const struct sockit_addr *peer)
{
    struct sockit_relay *r = x->r;

    if (connect(sockit_dgram_fd(x->dgram), &peer->u.sa, peer->len) < 0)
        return -errno;
    x->has_peer = true;
    if (r->ops->on_peer)
        r->ops->on_peer(r, x->idx, peer, r->ud);
    sockit__relay_reconsider(sockit__relay_other(x));
    return 0;
}

static void dgram_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                       void *ud)
{
    struct relay_side *x = ud;
    int err;

    (void)d;
    for (size_t i = 0; i < n && !x->r->aborting; i++) {
        if (!x->has_peer && (err = adopt(x, &msgs[i].peer)) < 0) {
            fail(x, err, "connect");
            return;
        }
        sockit__relay_forward(x, msgs[i].data, msgs[i].len);
    }
    if (sockit_timer_active(&x->linger)) /* still talking: wait again */
        sockit_timer_start(x->r->loop, &x->linger, x->linger_ms * 1000000ull, 0);
}

/* ICMP errors and refused datagrams: with one peer, the relay cannot go on without them. */
static void dgram_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud)
{
    struct relay_side *x = ud;

    (void)d;
    (void)peer;
    if (x->has_peer)
        fail(x, err, "read");
}

static void dgram_close(struct sockit_dgram *d, int err, void *ud)
{
    struct relay_side *x = ud;

    (void)err;
    sockit_dgram_stats(d, &x->dg); /* the counters outlive the dgram */
    x->dgram = NULL;
    sockit__relay_side_done(x);
}

static const struct sockit_dgram_ops relay_dgram_ops = {
    .on_recv = dgram_recv,
    .on_error = dgram_error,
    .on_close = dgram_close,
};

/* A socket side: a stream, or a datagram socket (connected, or waiting for its first peer). */
static int open_socket(struct relay_side *x, int fd)
{
    struct sockit_stream *s;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0, err;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &(socklen_t){ sizeof(type) }) < 0)
        type = -errno;
    if (type == SOCK_DGRAM) {
        x->has_peer = getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
        return sockit_dgram_open(x->r->loop, fd, &relay_dgram_ops, x, NULL, &x->dgram);
    }
    if (type != SOCK_STREAM) {
        close(fd);
        return type < 0 ? type : -SOCKIT_ETYPE;
    }
    if ((err = sockit_stream_open(x->r->loop, fd, &relay_stream_ops, NULL, NULL, &s)) < 0)
        return err;
    take_stream(x, s);
    return 0;
}

/* ---- opening ----------------------------------------------------------------------------- */

static bool valid_side(const struct sockit_relay_side *d)
{
    switch (d->kind) {
    case SOCKIT_RELAY_STREAM: return d->stream != NULL;
    case SOCKIT_RELAY_SOCKET: return d->fd >= 0;
    case SOCKIT_RELAY_FDS: return d->in_fd >= -1 && d->out_fd >= -1;
    }
    return false;
}

/* Close what the caller handed over to a relay that could not be made. */
static void close_given(const struct sockit_relay_side *d)
{
    if (d->kind == SOCKIT_RELAY_STREAM && d->stream)
        sockit_stream_close(d->stream);
    else if (d->kind == SOCKIT_RELAY_SOCKET && d->fd >= 0)
        close(d->fd);
}

static void init_side(struct sockit_relay *r, int idx, const struct sockit_relay_side *d)
{
    struct relay_side *x = &r->side[idx];

    *x = (struct relay_side){ .r = r, .idx = idx, .kind = d->kind, .in_fd = -1, .out_fd = -1 };
    x->eof_ends = d->eof_ends;
    x->linger_ms = d->linger_ms;
    x->rate_bps = d->rate_bps;
    x->rate_pps = d->rate_pps;
    sockit_buf_init(&x->out, SIZE_MAX);
    sockit_timer_init(&x->recheck, recheck, x);
    sockit_timer_init(&x->linger, linger_over, r);
}

/* Put side D to work. Returns 0 or -errno (D's socket is closed then). */
static int start_side(struct relay_side *x, const struct sockit_relay_side *d)
{
    switch (d->kind) {
    case SOCKIT_RELAY_STREAM: take_stream(x, d->stream); return 0;
    case SOCKIT_RELAY_SOCKET: return open_socket(x, d->fd);
    case SOCKIT_RELAY_FDS: return sockit__relay_fds_open(x, d->in_fd, d->out_fd);
    }
    return -EINVAL;
}

static struct sockit_relay *new_relay(struct sockit_loop *loop, const struct sockit_relay_ops *ops,
                                      void *ud, const struct sockit_relay_opts *opts)
{
    struct sockit_relay *r = calloc(1, sizeof(*r));

    if (!r || !(r->chunk = malloc(SOCKIT__RELAY_CHUNK))) {
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->ops = ops;
    r->ud = ud;
    r->low = opts && opts->low_water ? opts->low_water : DEFAULT_LOW;
    r->high = opts && opts->high_water ? opts->high_water : DEFAULT_HIGH;
    r->end.side = -1;
    r->end.op = "";
    r->end.peer_gone = -1;
    r->idle_ms = opts ? opts->idle_ms : 0;
    r->last_move = sockit_loop_now(loop);
    sockit_timer_init(&r->idle, idle_check, r);
    return r;
}

static bool valid_args(const struct sockit_relay_side *a, const struct sockit_relay_side *b,
                       const struct sockit_relay_ops *ops, const struct sockit_relay_opts *o)
{
    size_t low = o && o->low_water ? o->low_water : DEFAULT_LOW;
    size_t high = o && o->high_water ? o->high_water : DEFAULT_HIGH;

    return a && b && ops && ops->on_close && valid_side(a) && valid_side(b) && low <= high;
}

static void discard(struct sockit_relay *r)
{
    sockit_timer_stop(r->loop, &r->idle);
    for (int i = 0; i < 2; i++)
        sockit_buf_free(&r->side[i].out);
    free(r->chunk);
    free(r);
}

/* Start both sides, a stream last (taking a stream over cannot fail, so a stream that the
 * relay never took is still the caller's to be closed with its own callbacks). On failure
 * the relay is gone: freed at once, or, when one side already runs, closed without a word. */
static int start_sides(struct sockit_relay *r, const struct sockit_relay_side *d[2])
{
    int first = d[0]->kind == SOCKIT_RELAY_STREAM ? 1 : 0, second = 1 - first;
    int err = start_side(&r->side[first], d[first]);

    if (err) {
        close_given(d[second]);
        discard(r);
        return err;
    }
    if ((err = start_side(&r->side[second], d[second])) < 0) {
        r->silent = true;
        r->side[second].done = true;
        abort_relay(r, err, second, "open");
    }
    return err;
}

/* Both sides run: read what may be read, and end an input that is absent from the start. */
static void begin(struct sockit_relay *r)
{
    for (int i = 0; i < 2; i++) {
        sockit__relay_reconsider(&r->side[i]);
        sockit__relay_apply(&r->side[i]);
    }
    for (int i = 0; i < 2; i++) {
        if (r->side[i].kind == SOCKIT_RELAY_FDS && r->side[i].in_fd < 0)
            sockit__relay_input_ended(&r->side[i]);
    }
}

int sockit_relay_open(struct sockit_loop *loop, const struct sockit_relay_side *a,
                      const struct sockit_relay_side *b, const struct sockit_relay_ops *ops,
                      void *ud, const struct sockit_relay_opts *opts, struct sockit_relay **out)
{
    const struct sockit_relay_side *d[2] = { a, b };
    struct sockit_relay *r = NULL;
    int err = valid_args(a, b, ops, opts) ? 0 : -EINVAL;

    if (!err && !(r = new_relay(loop, ops, ud, opts)))
        err = -ENOMEM;
    if (err) {
        for (int i = 0; i < 2; i++)
            if (d[i])
                close_given(d[i]);
        return err;
    }
    for (int i = 0; i < 2; i++)
        init_side(r, i, d[i]);
    if ((err = start_sides(r, d)) < 0)
        return err;
    begin(r);
    if (r->idle_ms)
        sockit_timer_start(loop, &r->idle, r->idle_ms * 1000000ull, 0);
    *out = r;
    return 0;
}

void sockit_relay_close(struct sockit_relay *r)
{
    abort_relay(r, -ECANCELED, -1, "");
}

void sockit_relay_stats(const struct sockit_relay *r, struct sockit_relay_stats *out)
{
    struct sockit_dgram_stats st;

    *out = (struct sockit_relay_stats){ .a_to_b = r->moved[0], .b_to_a = r->moved[1] };
    for (int i = 0; i < 2; i++) {
        const struct relay_side *x = &r->side[i];
        out->buffered += sockit_buf_len(&x->out);
        if (x->stream)
            out->buffered += sockit_stream_pending(x->stream);
        st = x->dg;
        if (x->dgram) {
            sockit_dgram_stats(x->dgram, &st);
            out->buffered += st.queued_bytes;
        }
        out->dgrams_received[i] = st.received;
        out->dgrams_sent[i] = st.sent;
        out->dgrams_dropped[i] = st.dropped;
    }
}
