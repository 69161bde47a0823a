/* Hubs (sockit/relay.h): one centre stream joined to many member streams. What the centre
 * sends is written to every member, what a member sends is written to the centre; the
 * slowest member holds the centre back and a full centre holds every member back. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/relay.h"

struct member {
    struct sockit_hub *h;
    struct sockit_stream *s;
    void *ud;
    bool cancelled; /* closed by sockit_hub_close */
    bool idled;     /* closed after idle_ms of silence */
    uint64_t last;  /* loop time of the last byte to or from it */
    struct sockit_timer idle;
    struct member *prev, *next;
};

struct sockit_hub {
    struct sockit_loop *loop;
    struct sockit_stream *centre; /* until its on_close */
    const struct sockit_hub_ops *ops;
    void *ud;
    struct member *members;
    size_t n;
    bool centre_eof;   /* the centre's input ended: members are half-closed */
    bool centre_held;  /* a member is full: the centre is not read */
    bool members_held; /* the centre is full: no member is read */
    bool closing;      /* sockit_hub_close, or the centre is gone */
    int err;           /* for on_close */
    unsigned idle_ms;  /* sockit_hub_opts.idle_ms */
};

/* ---- holding back ------------------------------------------------------------------------ */

static void set_reading(struct sockit_stream *s, bool on)
{
    if (on)
        sockit_stream_read_start(s);
    else
        sockit_stream_read_stop(s);
}

/* Read the centre only while there is a member and every member can take more: with none,
 * what the centre sends waits for the first to join. */
static void update_centre(struct sockit_hub *h)
{
    bool full = h->n == 0;

    for (struct member *m = h->members; m && !full; m = m->next)
        full = sockit_stream_full(m->s);
    if (h->centre && full != h->centre_held) {
        h->centre_held = full;
        set_reading(h->centre, !full);
    }
}

/* Read the members only while the centre can take more. */
static void update_members(struct sockit_hub *h)
{
    bool full = h->centre && sockit_stream_full(h->centre);

    if (full == h->members_held)
        return;
    h->members_held = full;
    for (struct member *m = h->members; m; m = m->next)
        set_reading(m->s, !full);
}

/* ---- ending ------------------------------------------------------------------------------ */

/* The hub is over once the centre and every member are gone. */
static void maybe_end(struct sockit_hub *h)
{
    if (h->centre || h->n > 0)
        return;
    h->ops->on_close(h, h->err, h->ud);
    free(h);
}

static void close_members(struct sockit_hub *h, bool cancel)
{
    for (struct member *m = h->members; m; m = m->next) {
        m->cancelled = cancel;
        sockit_stream_close(m->s);
    }
}

void sockit_hub_close(struct sockit_hub *h)
{
    if (h->closing)
        return;
    h->closing = true;
    h->err = -ECANCELED;
    close_members(h, true);
    if (h->centre)
        sockit_stream_close(h->centre);
}

/* ---- the centre -------------------------------------------------------------------------- */

static void centre_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct sockit_hub *h = ud;

    (void)s;
    if (len == 0) {
        h->centre_eof = true;
        for (struct member *m = h->members; m; m = m->next)
            sockit_stream_shutdown(m->s);
        return;
    }
    for (struct member *m = h->members; m; m = m->next) {
        m->last = sockit_loop_now(h->loop);
        sockit_stream_write(m->s, data, len); /* a failed member closes: its on_close says */
    }
    update_centre(h);
}

static void centre_drain(struct sockit_stream *s, void *ud)
{
    (void)s;
    update_members(ud);
}

static void centre_close(struct sockit_stream *s, int err, void *ud)
{
    struct sockit_hub *h = ud;

    (void)s;
    h->centre = NULL;
    if (!h->closing) {
        h->closing = true;
        h->err = err;
        close_members(h, true);
    }
    maybe_end(h);
}

static const struct sockit_stream_ops centre_ops = {
    .on_data = centre_data,
    .on_drain = centre_drain,
    .on_close = centre_close,
};

/* ---- members ----------------------------------------------------------------------------- */

static void member_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct member *m = ud;
    struct sockit_hub *h = m->h;

    if (len == 0) { /* the member is done: it leaves once what it was sent is out */
        sockit_stream_close_after_flush(s);
        return;
    }
    m->last = sockit_loop_now(h->loop);
    if (h->centre)
        sockit_stream_write(h->centre, data, len);
    update_members(h);
}

static void member_drain(struct sockit_stream *s, void *ud)
{
    (void)s;
    update_centre(((struct member *)ud)->h);
}

static void member_close(struct sockit_stream *s, int err, void *ud)
{
    struct member *m = ud;
    struct sockit_hub *h = m->h;

    (void)s;
    if (m->prev)
        m->prev->next = m->next;
    else
        h->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    h->n--;
    sockit_timer_stop(h->loop, &m->idle);
    if (err == 0 && (m->cancelled || m->idled))
        err = m->cancelled ? -ECANCELED : -SOCKIT_EIDLE;
    if (h->ops->on_leave)
        h->ops->on_leave(h, m->ud, err, h->ud);
    free(m);
    update_centre(h); /* it may have been the one holding the centre back */
    maybe_end(h);
}

static const struct sockit_stream_ops member_ops = {
    .on_data = member_data,
    .on_drain = member_drain,
    .on_close = member_close,
};

/* Nothing may have moved to or from M for idle_ms: close it, or look again when it could
 * have (re-armed here rather than on every byte). */
static void member_idle(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct member *m = data;
    uint64_t quiet = sockit_loop_now(loop) - m->last, limit = m->h->idle_ms * 1000000ull;

    if (quiet < limit) {
        sockit_timer_start(loop, t, limit - quiet, 0);
        return;
    }
    m->idled = true;
    sockit_stream_close(m->s);
}

/* ---- opening ----------------------------------------------------------------------------- */

int sockit_hub_add(struct sockit_hub *h, int fd, void *member_ud)
{
    struct member *m = calloc(1, sizeof(*m));
    int err = h->closing ? -ECANCELED : m ? 0 : -ENOMEM;

    if (!err)
        err = sockit_stream_open(h->loop, fd, &member_ops, m, NULL, &m->s);
    else if (fd >= 0)
        close(fd);
    if (err) {
        free(m);
        return err;
    }
    m->h = h;
    m->ud = member_ud;
    m->last = sockit_loop_now(h->loop);
    sockit_timer_init(&m->idle, member_idle, m);
    if (h->idle_ms)
        sockit_timer_start(h->loop, &m->idle, h->idle_ms * 1000000ull, 0);
    m->next = h->members;
    if (h->members)
        h->members->prev = m;
    h->members = m;
    h->n++;
    sockit_stream_set_backpressure(m->s, false); /* the centre is held back instead */
    if (h->members_held)
        sockit_stream_read_stop(m->s);
    if (h->centre_eof)
        sockit_stream_shutdown(m->s);
    update_centre(h); /* the first member lets the centre be read */
    return 0;
}

size_t sockit_hub_members(const struct sockit_hub *h)
{
    return h->n;
}

int sockit_hub_open(struct sockit_loop *loop, int centre_fd, const struct sockit_hub_ops *ops,
                    void *ud, const struct sockit_hub_opts *opts, struct sockit_hub **out)
{
    struct sockit_hub *h = NULL;
    int err = ops && ops->on_close ? 0 : -EINVAL;

    if (!err && !(h = calloc(1, sizeof(*h))))
        err = -ENOMEM;
    if (!err)
        err = sockit_stream_open(loop, centre_fd, &centre_ops, h, NULL, &h->centre);
    else if (centre_fd >= 0)
        close(centre_fd);
    if (err) {
        free(h);
        return err;
    }
    h->loop = loop;
    h->ops = ops;
    h->ud = ud;
    h->idle_ms = opts ? opts->idle_ms : 0;
    sockit_stream_set_backpressure(h->centre, false); /* the members are held back instead */
    update_centre(h);                                 /* no member yet: not read */
    *out = h;
    return 0;
}
