/* The fork model: a process per stream client, or WORKERS processes sharing a datagram
 * socket. The parent accepts and forks; it learns of each child's end from a pidfd polled
 * beside the listener, so it needs no SIGCHLD handling and waits for its own children only. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "classic_internal.h"
#include "sockit/error.h"

struct child {
    pid_t pid;
    int pidfd; /* readable once the child has ended */
};

struct children {
    struct child *v;
    size_t n, cap;
    struct pollfd *pfds; /* room for a round's poll: cap + 2 */
};

static int grow(struct children *c)
{
    size_t cap = c->cap ? c->cap * 2 : 16;
    struct child *v = realloc(c->v, cap * sizeof(*v));

    if (!v)
        return -ENOMEM;
    c->v = v;
    struct pollfd *p = realloc(c->pfds, (cap + 2) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    c->pfds = p;
    c->cap = cap;
    return 0;
}

static int add_child(struct children *c, pid_t pid)
{
    int err = c->n == c->cap ? grow(c) : 0;

    if (err)
        return err;
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0)
        return -errno;
    c->v[c->n++] = (struct child){ .pid = pid, .pidfd = pidfd };
    return 0;
}

/* Child I has ended: collect it (its pidfd said so: waitpid returns at once) and forget it. */
static void forget(struct children *c, size_t i)
{
    waitpid(c->v[i].pid, NULL, 0);
    close(c->v[i].pidfd);
    c->v[i] = c->v[--c->n];
}

/* Poll the NHEAD fds of HEAD (their revents set on return) and every child's pidfd for at
 * most TIMEOUT ms, and forget the children that ended. Returns poll's count (0 for EINTR)
 * or -errno. */
static int poll_children(struct children *c, struct pollfd *head, size_t nhead, int timeout)
{
    size_t n = c->n;

    if (!c->pfds && grow(c) < 0)
        return -ENOMEM;
    if (nhead) /* HEAD may be NULL: memcpy's arguments may not */
        memcpy(c->pfds, head, nhead * sizeof(*head));
    for (size_t i = 0; i < n; i++)
        c->pfds[nhead + i] = (struct pollfd){ .fd = c->v[i].pidfd, .events = POLLIN };
    int rc = poll(c->pfds, nhead + n, timeout);
    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    if (nhead)
        memcpy(head, c->pfds, nhead * sizeof(*head));
    for (size_t i = n; i-- > 0;) /* from the end: forget() moves the last child into I */
        if (c->pfds[nhead + i].revents)
            forget(c, i);
    return rc;
}

static void stop_children(struct children *c)
{
    for (size_t i = 0; i < c->n; i++)
        kill(c->v[i].pid, SIGTERM);
    while (c->n > 0)
        forget(c, c->n - 1);
    free(c->v);
    free(c->pfds);
}

/* In a new child: die with the parent, even one killed without a chance to clean up; let go
 * of what is the parent's business (the other children's pidfds, the reserve fd). */
static void child_setup(struct sockit__classic *cs, const struct children *c, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(0);
    for (size_t i = 0; i < c->n; i++)
        close(c->v[i].pidfd);
    if (cs->spare >= 0)
        close(cs->spare);
}

static _Noreturn void child_end(void)
{
    fflush(NULL);
    _exit(0);
}

/* Fork a child that runs the session of client CL; the parent keeps only its pidfd. */
static void fork_client(struct sockit__classic *cs, struct children *c,
                        struct sockit_classic_client *cl)
{
    pid_t parent = getpid();

    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid == 0) {
        child_setup(cs, c, parent);
        sockit_socket_close(cs->fd, NULL);
        cs->h->session(cl, cs->ud);
        child_end();
    }
    if (pid < 0) {
        sockit__classic_reject(cs, cl->fd, -errno, &cl->peer);
        return;
    }
    sockit_socket_close(cl->fd, NULL); /* the child's now */
    int err = add_child(c, pid);
    if (err) { /* a child we could not watch: ended at once, as a fork that failed */
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        sockit__classic_reject(cs, -1, err, &cl->peer);
        return;
    }
    cs->accepted++;
}

/* Accept a client and fork for it, or close it at once if max_clients are being served. */
static void admit(struct sockit__classic *cs, struct children *c)
{
    struct sockit_classic_client cl = { .stop_fd = cs->stop_fd };

    cl.fd = sockit__classic_accept(cs, &cl.peer);
    if (cl.fd < 0)
        return;
    if (c->n >= cs->o.max_clients)
        poll_children(c, NULL, 0, 0); /* a child may have ended since the poll */
    if (c->n >= cs->o.max_clients)
        sockit__classic_reject(cs, cl.fd, -SOCKIT_EFULL, &cl.peer);
    else
        fork_client(cs, c, &cl);
}

static int serve_streams(struct sockit__classic *cs, struct children *c)
{
    while (sockit__classic_accepting(cs) || c->n > 0) {
        struct pollfd p[2] = {
            { .fd = cs->stop_fd, .events = POLLIN },
            { .fd = sockit__classic_accepting(cs) ? cs->fd : -1, .events = POLLIN },
        };
        int rc = poll_children(c, p, 2, -1);
        if (rc < 0)
            return rc;
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN)
            admit(cs, c);
    }
    return 0;
}

/* WORKERS processes on the socket, until the stop fd or until the first one ends (at
 * max_served, or failing). Fails only if not even one could be started. */
static int serve_dgrams(struct sockit__classic *cs, struct children *c)
{
    pid_t parent = getpid();

    fflush(NULL);
    for (unsigned i = 0; i < cs->o.workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            child_setup(cs, c, parent);
            sockit__classic_dgram_worker(cs, cs->stop_fd);
            child_end();
        }
        int err = pid < 0 ? -errno : add_child(c, pid);
        if (err && pid > 0) {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
        if (err && c->n == 0)
            return err;
        if (err)
            break; /* serve with those that started */
    }
    for (size_t started = c->n; c->n == started;) {
        struct pollfd stop = { .fd = cs->stop_fd, .events = POLLIN };
        int rc = poll_children(c, &stop, 1, -1);
        if (rc < 0 || stop.revents)
            return rc < 0 ? rc : 0;
    }
    return 0;
}

int sockit__classic_run_fork(struct sockit__classic *cs)
{
    struct children c = { 0 };
    int rc = cs->stream ? serve_streams(cs, &c) : serve_dgrams(cs, &c);

    stop_children(&c);
    return rc;
}
