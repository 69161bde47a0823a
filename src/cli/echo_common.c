/* What every echo model shares: opening the socket, stop signals, serving one blocking
 * client, answering datagrams, and the log lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo.h"
#include "sockit/error.h"

/* The one table of model names, indexed by enum echo_model. */
static const char *const model_names[] = {
    [ECHO_ITERATIVE] = "iterative",
    [ECHO_FORK] = "fork",
    [ECHO_THREAD] = "thread",
    [ECHO_LOOP] = "loop",
};

#define NMODELS (sizeof(model_names) / sizeof(model_names[0]))

const char *echo_model_name(enum echo_model model)
{
    return (size_t)model < NMODELS ? model_names[model] : "?";
}

int echo_model_parse(const char *text, enum echo_model *model)
{
    for (size_t i = 0; i < NMODELS; i++) {
        if (strcmp(text, model_names[i]) == 0) {
            *model = (enum echo_model)i;
            return 0;
        }
    }
    return -EINVAL;
}

void echo_log(const struct echo_config *cfg, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    (void)cfg;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sockit echo: %s\n", line); /* one call: lines stay whole across threads */
}

void echo_log_client(const struct echo_config *cfg, const struct sockit_addr *peer, const char *fmt,
                     ...)
{
    char who[SOCKIT_ADDR_STRLEN], line[400];
    va_list ap;

    if (cfg->quiet)
        return;
    sockit_addr_format(peer, who, sizeof(who));
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    echo_log(cfg, "%s %s", who, line);
}

void echo_log_listening(const struct echo_config *cfg, const struct sockit_addr *local)
{
    char where[SOCKIT_ADDR_STRLEN + 16];

    cli_format_addr(cfg->ep.transport, local, where, sizeof(where));
    echo_log(cfg, "listening on %s (model %s)", where, echo_model_name(cfg->model));
}

int echo_open(struct echo_server *srv, const struct echo_config *cfg)
{
    srv->cfg = cfg;
    srv->sigfd = cli_stop_signals();
    if (srv->sigfd < 0)
        return cli_fail("signalfd", NULL, srv->sigfd);
    srv->lfd = sockit_socket_listen(&cfg->ep, &cfg->opts, &srv->local);
    if (srv->lfd < 0) {
        close(srv->sigfd);
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "listen" : "bind", cfg->ep_text,
                        srv->lfd);
    }
    /* Taken at once: a server started on this path after ours was removed must keep its file. */
    sockit_socket_file_id(&cfg->ep, &srv->file);
    echo_log_listening(cfg, &srv->local);
    return 0;
}

void echo_close(struct echo_server *srv)
{
    sockit_socket_close(srv->lfd, srv->cfg->opts.trace);
    sockit_socket_unlink_same(&srv->cfg->ep, &srv->file, srv->cfg->opts.trace);
    close(srv->sigfd);
}

int echo_wait(int fd, short events, int stop_fd, int timeout_ms)
{
    int rc = sockit_wait(fd, events, stop_fd, timeout_ms);

    if (rc == -ECANCELED)
        return WAIT_STOP;
    if (rc < 0)
        return rc;
    return rc > 0 ? WAIT_READY : WAIT_TIMEOUT;
}

void echo_log_reject(const struct echo_config *cfg, int err, const struct sockit_addr *peer)
{
    if (err == -SOCKIT_EFULL)
        echo_log_client(cfg, peer, "over --max-clients %lu: closed", cfg->max_clients);
    else if (peer)
        echo_log_client(cfg, peer, "%s: closed", sockit_strerror(err));
    else if (err == -EMFILE || err == -ENFILE)
        echo_log(cfg, "accept: %s: closing a waiting client", sockit_strerror(err));
    else
        echo_log(cfg, "accept: %s", sockit_strerror(err));
}

/* Copy BUF to stdout, one message a line (--show is for reading). Returns 0 or -errno. The
 * caller holds stdout's lock, so that a message and its newline stay together. */
static int show_locked(const void *buf, size_t n)
{
    bool add_newline = ((const char *)buf)[n - 1] != '\n';

    errno = 0;
    if (fwrite(buf, 1, n, stdout) == n && (!add_newline || fputc('\n', stdout) != EOF) &&
        fflush(stdout) == 0)
        return 0;
    __fpurge(stdout); /* what stdio still holds would only fail again at exit */
    return errno ? -errno : -EIO;
}

/* --show. A stdout that fails (its reader gone: EPIPE, SIGPIPE being ignored) is reported
 * once, by whichever process or thread meets it first, and not written again: the server
 * goes on serving. */
void echo_show(const struct echo_config *cfg, const void *buf, size_t n)
{
    int err = 0;

    flockfile(stdout);
    if (!atomic_load(cfg->show_lost))
        err = show_locked(buf, n);
    funlockfile(stdout);
    if (err && !atomic_exchange(cfg->show_lost, true))
        echo_log(cfg, "--show: stdout: %s: output stopped, still serving", sockit_strerror(err));
}
