/* The proxy's control channel: a stream listener (unix: or tcp://) whose connections send one
 * command a line and get one answer a line, an engine on the conn layer (sockit/engine.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proxy_internal.h"
#include "sockit/socket.h"

#define REPLY_MAX 2048

static void unlink_client(struct control_client *c)
{
    struct sockit_impair_proxy *p = c->p;

    *(c->prev ? &c->prev->next : &p->controllers) = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Each whole line is a command; its answer goes back with a newline. A line longer than
 * SOCKIT_IMPAIR_CMD_MAX never ends within max_input: the conn closes with -EMSGSIZE. */
static long control_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                          const struct sockit_io *io)
{
    struct control_client *c = eng;
    const uint8_t *nl = memchr(data + seen, '\n', len - seen);
    char line[SOCKIT_IMPAIR_CMD_MAX + 1], reply[REPLY_MAX];

    (void)now;
    if (!nl)
        return 0;
    size_t n = (size_t)(nl - data);
    if (n > SOCKIT_IMPAIR_CMD_MAX || memchr(data, '\0', n)) {
        static const char err[] = "error: a command is one line of text, at most 512 bytes\n";
        struct iovec iov = { (void *)err, sizeof(err) - 1 };
        io->writev(io->ctx, &iov, 1);
        return (long)(n + 1);
    }
    memcpy(line, data, n);
    line[n] = '\0';
    sockit_impair_proxy_command(c->p, line, reply, sizeof(reply) - 1);
    size_t rlen = strlen(reply);
    reply[rlen++] = '\n';
    struct iovec iov = { reply, rlen };
    if (io->writev(io->ctx, &iov, 1) < 0)
        return -EPIPE;
    return (long)(n + 1);
}

static void control_closed(void *eng, int err)
{
    struct control_client *c = eng;
    struct sockit_impair_proxy *p = c->p;

    (void)err;
    if (c->conn) /* still listed: the proxy is not closing it */
        unlink_client(c);
    free(c);
    sockit__impair_proxy_gone(p);
}

static const struct sockit_engine_ops control_engine = {
    .input = control_input,
    .closed = control_closed,
};

static void on_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer, void *ud)
{
    struct sockit_impair_proxy *p = ud;
    struct control_client *c = calloc(1, sizeof(*c));
    struct sockit_conn_limits limits = { .max_input = SOCKIT_IMPAIR_CMD_MAX + 1 };

    (void)l;
    (void)peer;
    if (!c) {
        close(fd);
        return;
    }
    c->p = p;
    if (sockit_conn_open(p->loop, fd, &control_engine, c, &limits, &c->conn) < 0) {
        free(c);
        return;
    }
    p->open++;
    c->next = p->controllers;
    if (c->next)
        c->next->prev = c;
    p->controllers = c;
}

int sockit_impair_proxy_control(struct sockit_impair_proxy *p, const struct sockit_endpoint *ep)
{
    struct sockit_sockopts so = { .flags = SOCKIT_REUSEADDR, .trace = p->o.trace };
    int fd, err;

    if (!sockit_endpoint_is_stream(ep))
        return -EINVAL;
    if (p->control)
        return -EBUSY;
    if ((fd = sockit_socket_listen(ep, &so, NULL)) < 0)
        return fd;
    if ((err = sockit_listener_open(p->loop, fd, on_accept, NULL, p, &p->control)) < 0)
        return err;
    p->control_ep = *ep;
    return 0;
}

void sockit__impair_control_close(struct sockit_impair_proxy *p)
{
    if (p->control) {
        sockit_listener_close(p->control);
        if (sockit_endpoint_is_unix(&p->control_ep))
            sockit_socket_unlink(&p->control_ep, p->o.trace);
    }
    p->control = NULL;
    while (p->controllers) {
        struct control_client *c = p->controllers;
        struct sockit_conn *conn = c->conn;
        unlink_client(c);
        c->conn = NULL; /* closed() frees it */
        sockit_conn_close(conn);
    }
}
