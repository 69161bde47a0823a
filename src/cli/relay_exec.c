/* sockit connect / listen --exec: the program a connection is relayed to, spawned with
 * /bin/sh -c on one end of a socketpair, and its children reaped as they exit. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay_cli.h"

extern char **environ;

/* The child starts with no signal blocked (the loop blocks SIGINT, SIGTERM and SIGCHLD for
 * its signalfd, and a mask survives exec), SIGPIPE at its default (sockit may ignore it), and
 * in a process group of its own. */
static int spawn_attrs(posix_spawnattr_t *a)
{
    sigset_t none, pipe;
    int err = posix_spawnattr_init(a);

    sigemptyset(&none);
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (!err)
        err = posix_spawnattr_setsigmask(a, &none);
    if (!err)
        err = posix_spawnattr_setsigdefault(a, &pipe);
    if (!err) /* a process group of its own: the SIGTERM at the end reaches what it started */
        err = posix_spawnattr_setpgroup(a, 0);
    if (!err)
        err = posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                              POSIX_SPAWN_SETPGROUP);
    return -err;
}

int relay_spawn(const char *cmd, pid_t *pid)
{
    char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attrs;
    int sv[2], err;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    if ((err = spawn_attrs(&attrs)) == 0 && (err = -posix_spawn_file_actions_init(&fa)) == 0) {
        /* dup2 clears close-on-exec on 0 and 1; sv[1] itself closes at exec */
        err = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
        if (!err)
            err = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
        if (!err)
            err = -posix_spawn(pid, "/bin/sh", &fa, &attrs, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    posix_spawnattr_destroy(&attrs);
    close(sv[1]);
    if (err) {
        close(sv[0]);
        return err;
    }
    return sv[0];
}

int relay_kids_add(struct relay_kids *k, pid_t pid)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 8;
        pid_t *p = realloc(k->pids, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        k->pids = p;
        k->cap = cap;
    }
    k->pids[k->n++] = pid;
    return 0;
}

/* PID exited with STATUS: forget it, and say so with -v. */
static void reaped(struct relay_kids *k, const struct relay_config *cfg, pid_t pid, int status)
{
    for (size_t i = 0; i < k->n; i++) {
        if (k->pids[i] == pid)
            k->pids[i] = k->pids[--k->n];
    }
    if (!cfg->verbose)
        return;
    if (WIFEXITED(status))
        fprintf(stderr, "sockit %s: program %d exited with %d\n", cfg->cmd, (int)pid,
                WEXITSTATUS(status));
    else
        fprintf(stderr, "sockit %s: program %d killed by signal %d\n", cfg->cmd, (int)pid,
                WTERMSIG(status));
}

void relay_kids_reap(struct relay_kids *k, const struct relay_config *cfg)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reaped(k, cfg, pid, status);
}

void relay_kids_end(struct relay_kids *k, const struct relay_config *cfg)
{
    int status;

    relay_kids_reap(k, cfg);
    while (k->n > 0) {
        pid_t pid = k->pids[0];
        kill(-pid, SIGTERM); /* its connection is over: no one can hear it any more */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        reaped(k, cfg, pid, status);
    }
    free(k->pids);
    *k = (struct relay_kids){ 0 };
}
