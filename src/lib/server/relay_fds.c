/* Plain-fd sides of a relay (SOCKIT_RELAY_FDS in sockit/relay.h): IN is read when the loop
 * says it is readable and OUT written when it is writable, with RWF_NOWAIT so that neither
 * call blocks where the kernel allows it; a terminal refuses the flag and gets one plain call
 * per readiness. Regular files, which the loop cannot watch, are read one chunk per round from
 * a deferred call and written at once. The fds stay the caller's. */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "relay_internal.h"

#define FD_READS 4 /* reads per readiness, when each can end with EAGAIN */

/* One read or write of FD that does not block where the kernel allows it. *PLAIN: the fd
 * refused RWF_NOWAIT (a terminal) or never needs it (a regular file). Returns bytes, or
 * -errno (-EAGAIN: not ready). */
static ssize_t fd_io(int fd, void *buf, size_t len, bool out, bool *plain)
{
    struct iovec v = { buf, len };
    ssize_t n;

    do {
        if (*plain)
            n = out ? write(fd, buf, len) : read(fd, buf, len);
        else
            n = out ? pwritev2(fd, &v, 1, -1, RWF_NOWAIT) : preadv2(fd, &v, 1, -1, RWF_NOWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EOPNOTSUPP && !*plain) {
        *plain = true;
        return fd_io(fd, buf, len, out, plain);
    }
    return n < 0 ? -errno : n;
}

/* Read up to one chunk per call: a datagram's worth when the other side sends datagrams. */
static size_t chunk_for(struct relay_side *x)
{
    return sockit__relay_other(x)->dgram ? SOCKIT_UDP4_MAX : SOCKIT__RELAY_CHUNK;
}

/* Read X's input and forward it, up to READS times or until it would block. */
static void read_some(struct relay_side *x, int reads)
{
    for (int i = 0; i < reads && sockit__relay_wants_input(x); i++) {
        ssize_t n = fd_io(x->in_fd, x->r->chunk, chunk_for(x), false, &x->in_plain);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            sockit__relay_fail(x, (int)n, "read");
            return;
        }
        if (n == 0) {
            sockit__relay_input_ended(x);
            return;
        }
        sockit__relay_forward(x, x->r->chunk, (size_t)n);
        if (x->in_plain)
            return; /* a second plain read could block */
    }
}

/* A regular file: one chunk per round, so that the loop's other work goes on. */
static void direct_read(struct sockit_loop *loop, void *data)
{
    struct relay_side *x = data;

    read_some(x, 1);
    if (sockit__relay_wants_input(x))
        sockit_loop_defer(loop, &x->in_defer, direct_read, x);
}

/* Write from P until all LEN bytes went or OUT is full. Returns bytes written or -errno. */
static ssize_t write_some(struct relay_side *x, const char *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = fd_io(x->out_fd, (char *)p + done, len - done, true, &x->out_plain);
        if (n == -EAGAIN)
            break;
        if (n < 0)
            return n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void on_ready(struct sockit_loop *loop, int fd, unsigned events, void *data);

static void set_events(struct relay_side *x, int fd, bool watched, unsigned events)
{
    int err;

    if (fd < 0 || !watched)
        return;
    if ((err = sockit_loop_watch(x->r->loop, fd, events, on_ready, x)) < 0)
        sockit__relay_fail(x, err, events & SOCKIT_EV_WRITE ? "write" : "read");
}

void sockit__relay_fds_update(struct relay_side *x)
{
    bool in = sockit__relay_wants_input(x);
    unsigned rd = in && !x->in_direct ? SOCKIT_EV_READ : 0;
    unsigned wr = sockit_buf_len(&x->out) > 0 && !x->out_direct ? SOCKIT_EV_WRITE : 0;

    if (x->done)
        return;
    if (in && x->in_direct && x->in_fd >= 0)
        sockit_loop_defer(x->r->loop, &x->in_defer, direct_read, x);
    if (x->in_fd == x->out_fd) {
        set_events(x, x->in_fd, x->in_watched, rd | wr);
        return;
    }
    set_events(x, x->in_fd, x->in_watched, rd);
    set_events(x, x->out_fd, x->out_watched, wr);
}

/* Output waiting for OUT changed: drop the buffer once empty (an idle relay holds none),
 * let a finishing side go, and let the other side read again below the low watermark. */
static void output_changed(struct relay_side *x)
{
    if (sockit_buf_len(&x->out) == 0) {
        sockit_buf_free(&x->out);
        if (x->r->finishing) {
            sockit__relay_fds_release(x);
            return;
        }
    }
    sockit__relay_fds_update(x);
    sockit__relay_reconsider(sockit__relay_other(x));
}

static void flush(struct relay_side *x)
{
    ssize_t n = write_some(x, (const char *)x->out.data + x->out.head, sockit_buf_len(&x->out));

    if (n < 0) {
        sockit__relay_fail(x, (int)n, "write");
        return;
    }
    sockit_buf_consume(&x->out, (size_t)n);
    output_changed(x);
}

static void on_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct relay_side *x = data;

    (void)loop;
    if (fd == x->in_fd && (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR)))
        read_some(x, FD_READS);
    if (fd == x->out_fd && !x->done && !x->r->aborting && sockit_buf_len(&x->out) > 0 &&
        (events & (SOCKIT_EV_WRITE | SOCKIT_EV_ERROR)))
        flush(x);
}

int sockit__relay_fds_put(struct relay_side *to, const void *data, size_t len)
{
    ssize_t n = 0;
    int err;

    if (to->out_fd < 0)
        return 0; /* no output: counted and dropped */
    if (sockit_buf_len(&to->out) == 0 && (n = write_some(to, data, len)) < 0)
        return (int)n;
    if ((size_t)n == len)
        return 0;
    if ((err = sockit_buf_append(&to->out, (const char *)data + n, len - (size_t)n)) < 0)
        return err;
    sockit__relay_fds_update(to);
    return 0;
}

/* The relay is finishing: X is done once its output is written. */
void sockit__relay_fds_flushed(struct relay_side *x)
{
    if (sockit_buf_len(&x->out) == 0 || x->out_fd < 0)
        sockit__relay_fds_release(x);
    else
        sockit__relay_fds_update(x);
}

static void unwatch(struct relay_side *x)
{
    if (x->in_watched)
        sockit_loop_unwatch(x->r->loop, x->in_fd);
    if (x->out_watched && x->out_fd != x->in_fd)
        sockit_loop_unwatch(x->r->loop, x->out_fd);
    x->in_watched = x->out_watched = false;
}

void sockit__relay_fds_release(struct relay_side *x)
{
    if (x->done)
        return;
    unwatch(x);
    sockit__relay_side_done(x);
}

/* Can the loop watch FD? A regular file (-EPERM) is used directly instead. Registered
 * silent; sockit__relay_fds_update asks for what is needed. */
static int probe(struct relay_side *x, int fd, unsigned events, bool *direct, bool *watched)
{
    int err = sockit_loop_watch(x->r->loop, fd, events, on_ready, x);

    if (err == -EPERM) {
        *direct = true;
        return 0;
    }
    if (err < 0)
        return err;
    *watched = true;
    return sockit_loop_watch(x->r->loop, fd, 0, on_ready, x);
}

int sockit__relay_fds_open(struct relay_side *x, int in_fd, int out_fd)
{
    int err = 0;

    x->in_fd = in_fd;
    x->out_fd = out_fd;
    if (in_fd >= 0 && in_fd == out_fd)
        err = probe(x, in_fd, SOCKIT_EV_READ | SOCKIT_EV_WRITE, &x->in_direct, &x->in_watched);
    else if (in_fd >= 0)
        err = probe(x, in_fd, SOCKIT_EV_READ, &x->in_direct, &x->in_watched);
    if (!err && out_fd >= 0 && out_fd != in_fd)
        err = probe(x, out_fd, SOCKIT_EV_WRITE, &x->out_direct, &x->out_watched);
    if (in_fd >= 0 && in_fd == out_fd) {
        x->out_direct = x->in_direct;
        x->out_watched = x->in_watched;
    }
    x->in_plain = x->in_direct;
    x->out_plain = x->out_direct;
    if (err)
        unwatch(x);
    return err;
}
