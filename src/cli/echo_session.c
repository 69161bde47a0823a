/* Serving clients in the blocking models (iterative, fork, thread): one stream client at a
 * time per thread of control, or a socket full of datagrams. Sockets are non-blocking and
 * every wait is a poll() that also watches the stop fd, so SIGINT/SIGTERM and --idle-timeout
 * end even a session whose client never reads. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "echo.h"
#include "sockit/error.h"

struct session {
    const struct echo_config *cfg;
    int fd;
    int stop_fd;
    unsigned long long in, out;
    const char *failed_op; /* "recv" or "send" when err is set */
    int err;
};

static int idle_timeout(const struct echo_config *cfg)
{
    return cfg->idle_ms ? (int)cfg->idle_ms : -1;
}

/* Returns WAIT_READY when all was sent, else WAIT_STOP, WAIT_TIMEOUT or -errno. */
static int send_or_stop(struct session *s, const char *p, size_t len)
{
    size_t sent = 0;
    int err = sockit_send_all_wait(s->fd, p, len, s->stop_fd, idle_timeout(s->cfg), &sent,
                                   s->cfg->opts.trace);

    s->out += sent;
    if (err == -ECANCELED)
        return WAIT_STOP;
    if (err == -ETIMEDOUT && s->cfg->idle_ms)
        return WAIT_TIMEOUT;
    return err ? err : WAIT_READY;
}

#define ROUND_EOF 3 /* beside the echo_wait_result values */

/* One round: wait, read, answer. Returns WAIT_READY to go on, ROUND_EOF at end of stream,
 * WAIT_STOP, WAIT_TIMEOUT, or -1 with s->err set. */
static int session_round(struct session *s, char *buf)
{
    const void *out;
    size_t out_len;
    int w = echo_wait(s->fd, POLLIN, s->stop_fd, idle_timeout(s->cfg));

    if (w != WAIT_READY)
        return w < 0 ? (s->err = w, s->failed_op = "poll", -1) : w;
    ssize_t n = sockit_recv(s->fd, buf, ECHO_CHUNK, s->cfg->opts.trace);
    if (n == -EAGAIN)
        return WAIT_READY;
    if (n <= 0) {
        s->err = (int)n;
        s->failed_op = "recv";
        return n == 0 ? ROUND_EOF : -1;
    }
    s->in += (unsigned long long)n;
    echo_answer(s->cfg, buf, (size_t)n, &out, &out_len);
    w = send_or_stop(s, out, out_len);
    if (w < 0) {
        s->err = w;
        s->failed_op = "send";
        return -1;
    }
    return w;
}

static void log_end(const struct session *s, const struct sockit_addr *peer, int how)
{
    const struct echo_config *cfg = s->cfg;

    if (how == -1)
        echo_log_client(cfg, peer, "%s: %s (%llu bytes in, %llu out)", s->failed_op,
                        sockit_strerror(s->err), s->in, s->out);
    else if (how == WAIT_TIMEOUT)
        echo_log_client(cfg, peer, "idle for %lu ms: closed (%llu bytes in, %llu out)",
                        cfg->idle_ms, s->in, s->out);
    else if (how == WAIT_STOP)
        echo_log_client(cfg, peer, "closed: server stopping (%llu bytes in, %llu out)", s->in,
                        s->out);
    else
        echo_log_client(cfg, peer, "closed (%llu bytes in, %llu out)", s->in, s->out);
}

void echo_session(const struct echo_config *cfg, int fd, const struct sockit_addr *peer,
                  int stop_fd)
{
    struct session s = { .cfg = cfg, .fd = fd, .stop_fd = stop_fd };
    char *buf = malloc(ECHO_CHUNK);
    int how = -1;

    echo_log_client(cfg, peer, "connected");
    if (!buf || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        s.err = -ENOMEM;
        s.failed_op = "setup";
    } else {
        while ((how = session_round(&s, buf)) == WAIT_READY)
            ;
    }
    log_end(&s, peer, how);
    free(buf);
    sockit_socket_close(fd, cfg->opts.trace);
}

static bool is_fatal(int err)
{
    return err == -EBADF || err == -ENOTSOCK || err == -EFAULT || err == -EINVAL;
}

int echo_dgram_reply(const struct echo_config *cfg, const struct sockit_dgram_msg *m,
                     echo_send_fn *sender, void *ctx)
{
    const void *out;
    size_t out_len;

    if (m->truncated) {
        echo_log_client(cfg, &m->peer, "datagram of %zu bytes is over %d: dropped", m->full_len,
                        ECHO_DGRAM_BUF);
        return 0;
    }
    if (m->peer.len <= sizeof(sa_family_t)) {
        echo_log(cfg, "datagram from an unnamed unix socket: cannot reply, dropped");
        return 0;
    }
    echo_answer(cfg, m->data, m->len, &out, &out_len);
    int err = sender(ctx, out, out_len, &m->peer);
    if (err < 0) {
        echo_log_client(cfg, &m->peer, "sendto: %s", sockit_strerror(err));
        return is_fatal(err) ? err : 0;
    }
    echo_log_client(cfg, &m->peer, "%zu bytes", m->len);
    return 1;
}

struct fd_sender {
    const struct echo_config *cfg;
    int fd;
};

static int send_on_fd(void *ctx, const void *buf, size_t len, const struct sockit_addr *to)
{
    const struct fd_sender *s = ctx;
    ssize_t n = sockit_dgram_send(s->fd, buf, len, to, s->cfg->opts.trace);

    return n < 0 ? (int)n : 0;
}

int echo_dgram_one(const struct echo_config *cfg, int fd, void *buf)
{
    struct sockit_dgram_msg m = { .data = buf };
    struct fd_sender s = { cfg, fd };
    ssize_t n = sockit_dgram_recv(fd, buf, ECHO_DGRAM_BUF, &m.peer, &m.full_len, cfg->opts.trace);

    if (n == -EAGAIN || is_fatal((int)n))
        return (int)n;
    if (n < 0 && n != -SOCKIT_ETRUNC) {
        echo_log(cfg, "recvfrom: %s", sockit_strerror((int)n));
        return 0;
    }
    m.truncated = n == -SOCKIT_ETRUNC;
    m.len = m.truncated ? ECHO_DGRAM_BUF : (size_t)n;
    return echo_dgram_reply(cfg, &m, send_on_fd, &s);
}
