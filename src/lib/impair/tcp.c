/* The proxy for streams: each accepted client gets its own connection to the upstream, and
 * the pair is its own link, as toxiproxy's are: an impairment per direction made from the
 * proxy's options, kept in order, loss as a retransmission delay (a stream has no holes), and
 * a timer for the next release. What either side sends goes through in pieces; the end of one
 * side's input is passed on as a half-close once what came before it has been released. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_internal.h"
#include "sockit/error.h"
#include "sockit/socket.h"

#define PIECE        16384        /* bytes per held piece without a rate limit */
#define RATE_PIECE   1448         /* with one: an Ethernet MSS, so the rate is smooth */
#define HOLD_HIGH    (1u << 20)   /* held bytes a direction may have before its source pauses */
#define HOLD_LOW     (256u << 10) /* ... and resumes below */
#define RETRANSMIT   200000000ull /* Linux's smallest retransmission timeout, 200 ms */
#define CONNECT_MS   10000
#define STREAM_LIMIT 10000000 /* pieces held: flow control bounds a stream long before */

struct tcp_pair {
    struct sockit_impair_proxy *p;
    struct sockit_stream *s[2];  /* [0] the client, [1] the upstream; NULL once closed */
    struct sockit_impair *im[2]; /* [d]: what side d sends */
    struct sockit_timer timer;   /* the next release of either */
    uint64_t timer_at;           /* 0: not armed */
    size_t held[2];              /* bytes from side d held in im[d] */
    bool eof_in[2];              /* side d ended its input */
    bool shut[2];                /* side d's output was half-closed (the other's end passed on) */
    bool finished[2];            /* side d closes once its output is out: a clean end */
    bool paused[2];              /* side d is not read: its direction holds too much */
    struct tcp_pair *prev, *next;
};

struct sockit_impair_options sockit__impair_stream_options(const struct sockit_impair_proxy *p,
                                                           const struct sockit_impair_options *o)
{
    struct sockit_impair_options s = *o;

    (void)p;
    s.keep_order = true;
    s.limit = STREAM_LIMIT;
    if (!s.loss_delay_ns)
        s.loss_delay_ns = RETRANSMIT;
    return s;
}

/* ---- flow --------------------------------------------------------------------------------- */

/* Side D is read again once its direction has room and its destination is not full. */
static void maybe_resume(struct tcp_pair *t, int d)
{
    struct sockit_stream *dest = t->s[!d];

    if (!t->paused[d] || !t->s[d] || t->held[d] > HOLD_LOW || (dest && sockit_stream_full(dest)))
        return;
    t->paused[d] = false;
    sockit_stream_read_start(t->s[d]);
}

static void maybe_pause(struct tcp_pair *t, int d)
{
    struct sockit_stream *dest = t->s[!d];

    if (t->paused[d] || !t->s[d] || !(t->held[d] > HOLD_HIGH || (dest && sockit_stream_full(dest))))
        return;
    t->paused[d] = true;
    sockit_stream_read_stop(t->s[d]);
}

/* Both ways ended on side D: it closes once its output is out. */
static void maybe_finish(struct tcp_pair *t)
{
    for (int d = 0; d < 2; d++)
        if (t->s[d] && t->eof_in[d] && t->shut[d] && !t->finished[d]) {
            t->finished[d] = true;
            sockit_stream_close_after_flush(t->s[d]);
        }
}

/* Write LEN bytes (0: the end of input) from side D to the other side. */
static void deliver(struct tcp_pair *t, int d, const void *data, size_t len)
{
    struct sockit_stream *dest = t->s[!d];

    if (!dest)
        return;
    if (len == 0) {
        t->shut[!d] = true;
        sockit_stream_shutdown(dest);
        maybe_finish(t);
        return;
    }
    if (sockit_stream_write(dest, data, len) < 0) { /* past its bound: it cannot keep up */
        t->p->send_drops++;
        sockit_stream_close(dest);
    }
}

/* ---- release ------------------------------------------------------------------------------ */

static void arm(struct tcp_pair *t, uint64_t now)
{
    struct sockit_impair_proxy *p = t->p;
    uint64_t next = UINT64_MAX;

    for (int d = 0; d < 2; d++) {
        uint64_t n = sockit_impair_next(t->im[d]);
        next = n < next ? n : next;
    }
    if (next == UINT64_MAX) {
        sockit_timer_stop(p->loop, &t->timer);
        t->timer_at = 0;
    } else if (next != t->timer_at) {
        sockit_timer_start(p->loop, &t->timer, next > now ? next - now : 0, 0);
        t->timer_at = next;
    }
}

static void release(struct tcp_pair *t)
{
    uint64_t now = sockit_loop_now(t->p->loop);
    struct sockit_impair_packet *pkt;

    for (int d = 0; d < 2; d++) {
        while ((pkt = sockit_impair_pop(t->im[d], now))) {
            t->held[d] -= pkt->len;
            deliver(t, d, pkt->data, pkt->len);
            free(pkt);
        }
        maybe_resume(t, d);
    }
    arm(t, now);
}

static void on_timer(struct sockit_loop *loop, struct sockit_timer *timer, void *data)
{
    struct tcp_pair *t = data;

    (void)loop;
    (void)timer;
    t->timer_at = 0;
    release(t);
}

/* Push LEN bytes from side D (0: its end) through im[D], in pieces. */
static void push(struct tcp_pair *t, int d, const uint8_t *data, size_t len)
{
    struct sockit_impair_proxy *p = t->p;
    size_t piece = sockit_impair_options(t->im[d])->rate_bps ? RATE_PIECE : PIECE;
    uint64_t now = sockit_loop_now(p->loop);

    do {
        size_t n = len < piece ? len : piece;
        int v = sockit_impair_push(t->im[d], now, data, n, 0);
        if (v == SOCKIT_IMPAIR_PASS)
            deliver(t, d, data, n);
        else if (v == SOCKIT_IMPAIR_HELD)
            t->held[d] += n;
        else /* no memory (nothing else drops on a stream): it cannot have a hole, so it ends */
            sockit_stream_close(t->s[d]);
        data += n;
        len -= n;
    } while (len > 0 && t->s[d]);
}

/* ---- the two streams ---------------------------------------------------------------------- */

static int side_of(const struct tcp_pair *t, const struct sockit_stream *s)
{
    return s == t->s[1];
}

static void on_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct tcp_pair *t = ud;
    int d = side_of(t, s);

    if (len == 0)
        t->eof_in[d] = true;
    push(t, d, data, len);
    release(t);
    maybe_pause(t, d);
    maybe_finish(t);
}

/* A side drained: what feeds it may go on. */
static void on_drain(struct sockit_stream *s, void *ud)
{
    struct tcp_pair *t = ud;

    maybe_resume(t, !side_of(t, s));
}

static void unlink_pair(struct sockit_impair_proxy *p, struct tcp_pair *t)
{
    *(t->prev ? &t->prev->next : &p->pairs) = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static bool listed(const struct sockit_impair_proxy *p, const struct tcp_pair *t)
{
    return t->prev || t->next || p->pairs == t;
}

static void add_stats(struct sockit_impair_stats *into, const struct sockit_impair_stats *s)
{
    into->in += s->in;
    into->out += s->out;
    into->lost += s->lost;
    into->queue_drops += s->queue_drops;
    into->mtu_drops += s->mtu_drops;
    into->truncated += s->truncated;
    into->duplicated += s->duplicated;
    into->corrupted += s->corrupted;
    into->reordered += s->reordered;
    into->forgotten += s->forgotten;
    into->held += s->held;
    into->held_bytes += s->held_bytes;
}

static void free_pair(struct tcp_pair *t)
{
    struct sockit_impair_proxy *p = t->p;
    struct sockit_impair_stats st;

    sockit_timer_stop(p->loop, &t->timer);
    for (int d = 0; d < 2; d++) {
        sockit_impair_forget(t->im[d], 0); /* what the closed side never got */
        sockit_impair_stats(t->im[d], &st);
        st.held = st.held_bytes = 0;
        add_stats(&p->tcp_done[d], &st);
        sockit_impair_free(t->im[d]);
    }
    if (listed(p, t))
        unlink_pair(p, t);
    p->nsessions--;
    free(t);
}

/* Side D is gone. An error (a reset, a refused upstream) or a close of ours that was not a
 * clean end closes the other side at once; after a clean end the other side finishes by
 * itself. The last side frees the pair. */
static void on_close(struct sockit_stream *s, int err, void *ud)
{
    struct tcp_pair *t = ud;
    struct sockit_impair_proxy *p = t->p;
    int d = side_of(t, s);

    t->s[d] = NULL;
    if (d == 1 && err && !t->shut[0] && !t->eof_in[1])
        sockit__impair_log(p, SOCKIT__NOTICE_UPSTREAM, "upstream connection: %s",
                           sockit_strerror(err));
    if (t->s[!d] && (err || !t->finished[d]))
        sockit_stream_close(t->s[!d]);
    if (!t->s[!d])
        free_pair(t);
    sockit__impair_proxy_gone(p);
}

static const struct sockit_stream_ops pair_ops = {
    .on_data = on_data,
    .on_drain = on_drain,
    .on_close = on_close,
};

static int new_impairments(struct sockit_impair_proxy *p, struct tcp_pair *t)
{
    uint64_t seed = p->o.seed + ++p->pairs_made;

    for (int d = 0; d < 2; d++) {
        struct sockit_impair_options o =
            sockit__impair_stream_options(p, sockit_impair_options(p->im[d]));
        int err =
            sockit_impair_new_sharing(&t->im[d], &o, sockit_impair_rand(&seed), p->tcp_delays[d]);
        if (err < 0)
            return err;
        sockit_impair_stall(t->im[d], p->stall_until[d]);
    }
    return 0;
}

static void on_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer, void *ud)
{
    struct sockit_impair_proxy *p = ud;
    struct tcp_pair *t = NULL;

    (void)l;
    (void)peer;
    if (p->nsessions >= p->o.max_sessions || !(t = calloc(1, sizeof(*t))) ||
        new_impairments(p, t) < 0) {
        p->sessions_refused++;
        sockit__impair_log(p, SOCKIT__NOTICE_REFUSED,
                           "a new client refused: %zu connections already (--max-sessions)",
                           p->nsessions);
        if (t) {
            sockit_impair_free(t->im[0]);
            sockit_impair_free(t->im[1]);
        }
        free(t);
        close(fd);
        return;
    }
    t->p = p;
    sockit_timer_init(&t->timer, on_timer, t);
    p->nsessions++;
    if (sockit_stream_open(p->loop, fd, &pair_ops, t, NULL, &t->s[0]) < 0) {
        free_pair(t);
        return;
    }
    p->open++;
    p->sessions_opened++;
    t->next = p->pairs;
    if (t->next)
        t->next->prev = t;
    p->pairs = t;
    if (sockit_stream_connect(p->loop, &p->upstream, CONNECT_MS, &pair_ops, t, NULL, &t->s[1]) <
        0) {
        t->s[1] = NULL; /* no socket: the client's side closes and frees the pair */
        sockit__impair_log(p, SOCKIT__NOTICE_UPSTREAM, "no socket for the upstream");
        sockit_stream_close(t->s[0]);
        return;
    }
    p->open++;
    for (int d = 0; d < 2; d++)
        sockit_stream_set_backpressure(t->s[d], false); /* the other side is held back instead */
}

int sockit__impair_tcp_open(struct sockit_impair_proxy *p)
{
    struct sockit_sockopts so = { .flags = SOCKIT_REUSEADDR, .trace = p->o.trace };
    int fd;

    for (int d = 0; d < 2; d++)
        if (!(p->tcp_delays[d] = malloc(sizeof(*p->tcp_delays[d]))))
            return -ENOMEM;
        else
            sockit_hist_reset(p->tcp_delays[d]);
    if ((fd = sockit_socket_listen(&p->o.listen, &so, &p->local)) < 0)
        return fd;
    return sockit_listener_open(p->loop, fd, on_accept, NULL, p, &p->tcp_listener);
}

/* Abort a stream with a reset (SO_LINGER 0), not a FIN. */
static void reset_stream(struct sockit_stream *s)
{
    struct linger lg = { 1, 0 };
    int fd = sockit_stream_fd(s);

    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sockit_stream_close(s);
}

size_t sockit__impair_tcp_close_all(struct sockit_impair_proxy *p, bool reset)
{
    size_t n = 0;

    if (p->tcp_listener && !reset) {
        sockit_listener_close(p->tcp_listener);
        p->tcp_listener = NULL;
    }
    while (p->pairs) {
        struct tcp_pair *t = p->pairs;
        unlink_pair(p, t); /* closing: the last on_close frees it */
        for (int d = 0; d < 2; d++)
            if (t->s[d])
                reset ? reset_stream(t->s[d]) : sockit_stream_close(t->s[d]);
        n++;
    }
    return n;
}

void sockit__impair_tcp_set(struct sockit_impair_proxy *p)
{
    for (struct tcp_pair *t = p->pairs; t; t = t->next) {
        for (int d = 0; d < 2; d++) {
            struct sockit_impair_options o =
                sockit__impair_stream_options(p, sockit_impair_options(p->im[d]));
            sockit_impair_set(t->im[d], &o);
            sockit_impair_stall(t->im[d], p->stall_until[d]);
        }
        arm(t, sockit_loop_now(p->loop)); /* a stall may have changed */
    }
}

void sockit__impair_tcp_stats(const struct sockit_impair_proxy *p,
                              struct sockit_impair_stats out[2])
{
    struct sockit_impair_stats st;

    for (int d = 0; d < 2; d++) {
        out[d] = p->tcp_done[d];
        for (const struct tcp_pair *t = p->pairs; t; t = t->next) {
            sockit_impair_stats(t->im[d], &st);
            add_stats(&out[d], &st);
        }
    }
}
