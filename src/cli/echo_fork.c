/* Fork model: a process per stream client, or --workers processes sharing a datagram socket.
 * The parent accepts, forks and reaps (SIGCHLD arrives through the signalfd). A child keeps
 * the inherited signalfd, which reports the child's own signals: SIGTERM from the parent
 * (or PR_SET_PDEATHSIG when the parent dies) ends its session cleanly. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo.h"
#include "sockit/error.h"

struct children {
    pid_t *pids;
    size_t n, cap;
};

static int add_child(struct children *c, pid_t pid)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        pid_t *p = realloc(c->pids, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        c->pids = p;
        c->cap = cap;
    }
    c->pids[c->n++] = pid;
    return 0;
}

static void forget_child(struct children *c, pid_t pid)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->pids[i] == pid) {
            c->pids[i] = c->pids[--c->n];
            return;
        }
    }
}

static void reap(struct children *c, bool block)
{
    pid_t pid;

    while (c->n > 0 && (pid = waitpid(-1, NULL, block ? 0 : WNOHANG)) > 0)
        forget_child(c, pid);
}

static void stop_children(struct children *c)
{
    for (size_t i = 0; i < c->n; i++)
        kill(c->pids[i], SIGTERM);
    reap(c, true);
    free(c->pids);
}

/* In the child: die with the parent, even if it is killed without a chance to clean up. */
static void child_setup(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        exit(0);
}

static void fork_client(struct echo_server *srv, struct children *c, int fd,
                        const struct sockit_addr *peer)
{
    pid_t parent = getpid();
    pid_t pid;

    fflush(NULL); /* nothing buffered may be written twice */
    pid = fork();
    if (pid == 0) {
        child_setup(parent);
        sockit_socket_close(srv->lfd, NULL);
        echo_session(srv->cfg, fd, peer, srv->sigfd);
        exit(0);
    }
    sockit_socket_close(fd, pid > 0 ? NULL : srv->cfg->opts.trace);
    if (pid < 0)
        echo_log_client(srv->cfg, peer, "fork: %s: closed", sockit_strerror(-errno));
    else if (add_child(c, pid) < 0)
        kill(pid, SIGTERM);
}

/* Drain the signalfd; true if SIGINT or SIGTERM was among the signals. */
static bool handle_signals(struct echo_server *srv, struct children *c)
{
    bool stop = false;
    int signo;

    do {
        stop |= echo_stop_signal(srv->sigfd, &signo);
    } while (signo != 0);
    reap(c, false);
    return stop;
}

static int serve_streams(struct echo_server *srv, struct children *c)
{
    const struct echo_config *cfg = srv->cfg;
    unsigned long accepted = 0;

    while (!cfg->clients || accepted < cfg->clients || c->n > 0) {
        bool accepting = !cfg->clients || accepted < cfg->clients;
        struct pollfd p[2] = { { .fd = srv->sigfd, .events = POLLIN },
                               { .fd = accepting ? srv->lfd : -1, .events = POLLIN } };
        struct sockit_addr peer;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return cli_fail("poll", NULL, -errno);
        if ((p[0].revents & POLLIN) && handle_signals(srv, c))
            break;
        if (!(p[1].revents & POLLIN))
            continue;
        int fd = echo_accept(srv, &peer);
        if (fd >= 0 && c->n >= cfg->max_clients)
            reap(c, false); /* a child may have ended since the poll */
        if (fd >= 0 && c->n >= cfg->max_clients) {
            echo_reject(srv, fd, &peer);
        } else if (fd >= 0) {
            accepted++;
            fork_client(srv, c, fd, &peer);
        }
    }
    return CLI_OK;
}

/* --workers processes on one datagram socket; the count of answered datagrams lives in a
 * shared page so --clients means the same as in the other models. */
static int serve_dgrams(struct echo_server *srv, struct children *c)
{
    _Atomic unsigned long *served =
        mmap(NULL, sizeof(*served), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t parent = getpid();

    if (served == MAP_FAILED)
        return cli_fail("mmap", NULL, -errno);
    *served = 0;
    fflush(NULL);
    for (unsigned long i = 0; i < srv->cfg->workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            child_setup(parent);
            exit(echo_dgram_serve(srv->cfg, srv->lfd, srv->sigfd, served));
        }
        if (pid < 0 || add_child(c, pid) < 0)
            break;
    }
    /* Run until a signal, or until the first worker ends (--clients reached, or failure). */
    size_t started = c->n;
    while (c->n == started) {
        struct pollfd p = { .fd = srv->sigfd, .events = POLLIN };
        if (poll(&p, 1, -1) > 0 && handle_signals(srv, c))
            break;
    }
    munmap((void *)served, sizeof(*served));
    return CLI_OK;
}

int echo_run_fork(struct echo_server *srv)
{
    struct children c = { 0 };
    int rc;

    if (sockit_endpoint_is_stream(&srv->cfg->ep))
        rc = serve_streams(srv, &c);
    else
        rc = serve_dgrams(srv, &c);
    stop_children(&c);
    return rc;
}
