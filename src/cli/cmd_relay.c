/* sockit connect / sockit listen: netcat-style relays between stdin/stdout (or --exec's
 * program) and a socket, on the library's relay and hub (sockit/relay.h): this file opens the
 * socket, hands it to a relay on a loop, serves listen -k's clients, and ends it all
 * (options: relay_options.c; what is said on stderr: relay_report.c; --exec: relay_exec.c). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "relay_cli.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/relay.h"

/* One run of connect or listen: the loop, the listening socket, the relay of the moment. */
struct relay_run {
    const struct relay_config *cfg;
    struct sockit_loop *loop;
    int lfd; /* listen on a stream endpoint: watched for clients; -1 otherwise */
    struct sockit_socket_file file; /* listen: the unix socket file it made, to remove */
    struct sockit_relay *relay;
    struct sockit_hub *hub;        /* listen -k: the clients, joined to the relay of stdin/stdout */
    struct exec_session *sessions; /* listen -k --exec: a relay and a program per client */
    struct relay_kids kids;        /* --exec: the programs not yet reaped */
    struct sockit_addr peer;
    bool stopping; /* SIGINT/SIGTERM */
    int rc;
};

/* Remove the socket file while the socket still holds it (so that its inode number cannot
 * have gone to a file made since), and only if it is still the one listen made. */
static void remove_file(struct relay_run *run)
{
    sockit_socket_unlink_same(&run->cfg->ep, &run->file, run->cfg->opts.trace);
    run->file.valid = false;
}

static void stop_listening(struct relay_run *run)
{
    if (run->lfd < 0)
        return;
    remove_file(run);
    sockit_loop_unwatch(run->loop, run->lfd);
    sockit_socket_close(run->lfd, run->cfg->opts.trace);
    run->lfd = -1;
}

static void on_client(struct sockit_loop *loop, int lfd, unsigned events, void *data);

/* Accept clients, or (ON false) let them wait in the backlog while one is served. */
static void listen_for_client(struct relay_run *run, bool on)
{
    int err = sockit_loop_watch(run->loop, run->lfd, on ? SOCKIT_EV_READ : 0, on_client, run);

    if (err) {
        run->rc = cli_fail("listen", run->cfg->ep_text, err);
        stop_listening(run);
    }
}

static void on_relay_close(struct sockit_relay *r, const struct sockit_relay_end *end, void *ud)
{
    struct relay_run *run = ud;

    (void)r;
    run->relay = NULL;
    relay_report_counts(run->cfg, &end->stats);
    if (end->peer_gone == SOCKIT_RELAY_A)
        relay_report_peer_gone(run->cfg, end);
    if (end->err == -SOCKIT_EIDLE) {
        fprintf(stderr, "sockit %s: no data either way for %u s (--idle-timeout): closed\n",
                run->cfg->cmd, run->cfg->idle_ms / 1000);
        run->rc = CLI_FAIL;
    } else if (end->err && end->err != -ECANCELED) {
        run->rc = cli_fail(relay_failed_op(run->cfg, end), run->cfg->ep_text, end->err);
    }
    if (run->hub) /* listen -k: stdin/stdout are done with, and so are the clients */
        sockit_hub_close(run->hub);
    else if (run->lfd >= 0)
        relay_note(run->cfg, "closed", &run->peer);
    stop_listening(run);
    remove_file(run); /* datagrams: the relay had the socket (and closed it just now) */
}

static void on_relay_peer(struct sockit_relay *r, int side, const struct sockit_addr *peer,
                          void *ud)
{
    (void)r;
    (void)side;
    relay_note(((struct relay_run *)ud)->cfg, "peer", peer);
}

static const struct sockit_relay_ops relay_ops = { .on_close = on_relay_close,
                                                   .on_peer = on_relay_peer };

/* The socket side of a relay, on FD (taken over). Its end ends it all in two cases: a
 * terminal on stdin (a person at the keyboard is done when the peer is), and listen -k, whose
 * socket side is the hub's socketpair (which ends only when the hub does). */
static struct sockit_relay_side socket_side(const struct relay_run *run, int fd)
{
    bool stdio = !run->cfg->exec;

    return (struct sockit_relay_side){ .kind = SOCKIT_RELAY_SOCKET,
                                       .fd = fd,
                                       .eof_ends = stdio && (run->hub || isatty(STDIN_FILENO)),
                                       .linger_ms = (unsigned)run->cfg->wait_ms,
                                       .rate_bps = run->cfg->rate_bps,
                                       .rate_pps = run->cfg->rate_pps };
}

/* The other side: stdin/stdout, or with --exec a program spawned for this connection (a
 * socket, so that its end is passed on as a half-close). Returns 0 or -errno. */
static int program_side(struct relay_run *run, struct sockit_relay_side *b)
{
    pid_t pid;
    int fd;

    *b = (struct sockit_relay_side){ .kind = SOCKIT_RELAY_FDS,
                                     .in_fd = STDIN_FILENO,
                                     .out_fd = STDOUT_FILENO };
    if (!run->cfg->exec)
        return 0;
    if ((fd = relay_spawn(run->cfg->exec, &pid)) < 0)
        return fd;
    relay_kids_add(&run->kids, pid); /* if not noted, it is still reaped (waitpid -1) */
    if (run->cfg->verbose)
        fprintf(stderr, "sockit %s: program %d started\n", run->cfg->cmd, (int)pid);
    *b = (struct sockit_relay_side){ .kind = SOCKIT_RELAY_SOCKET, .fd = fd };
    return 0;
}

/* Relay between socket FD (taken over) and stdin/stdout or the program, with OPS and UD. */
static int open_relay(struct relay_run *run, int fd, const struct sockit_relay_ops *ops, void *ud,
                      struct sockit_relay **out)
{
    struct sockit_relay_side sock = socket_side(run, fd), other;
    /* listen -k: the clients idle out one by one in the hub, never stdin/stdout */
    struct sockit_relay_opts o = { .idle_ms = run->hub ? 0 : run->cfg->idle_ms };
    int err = program_side(run, &other);

    if (err) {
        sockit_socket_close(fd, run->cfg->opts.trace);
        return cli_fail("exec", run->cfg->exec, err);
    }
    err = sockit_relay_open(run->loop, &sock, &other, ops, ud, &o, out);
    return err ? cli_fail("relay", run->cfg->ep_text, err) : CLI_OK;
}

static int start_relay(struct relay_run *run, int fd)
{
    return open_relay(run, fd, &relay_ops, run, &run->relay);
}

/* ---- listen -k --exec: a program per client, at once ---------------------------------------- */

struct exec_session {
    struct relay_run *run;
    struct sockit_relay *relay;
    struct sockit_addr peer;
    struct exec_session *prev, *next;
};

static void on_session_close(struct sockit_relay *r, const struct sockit_relay_end *end, void *ud)
{
    struct exec_session *x = ud;
    const struct relay_config *cfg = x->run->cfg;

    (void)r;
    if (end->err && end->err != -ECANCELED && end->err != -SOCKIT_EIDLE && cfg->verbose)
        cli_fail(relay_failed_op(cfg, end), cfg->ep_text, end->err); /* that client alone ends */
    relay_note(cfg, end->err == -SOCKIT_EIDLE ? "closed (idle)" : "closed", &x->peer);
    if (x->prev)
        x->prev->next = x->next;
    else
        x->run->sessions = x->next;
    if (x->next)
        x->next->prev = x->prev;
    free(x);
}

static const struct sockit_relay_ops session_ops = { .on_close = on_session_close };

static void start_session(struct relay_run *run, int fd)
{
    struct exec_session *x = calloc(1, sizeof(*x));

    if (!x) {
        sockit_socket_close(fd, run->cfg->opts.trace);
        cli_fail("relay", run->cfg->ep_text, -ENOMEM);
        return;
    }
    *x = (struct exec_session){ .run = run, .peer = run->peer, .next = run->sessions };
    if (open_relay(run, fd, &session_ops, x, &x->relay) != CLI_OK) {
        free(x); /* said; the server goes on */
        return;
    }
    if (run->sessions)
        run->sessions->prev = x;
    run->sessions = x;
}

static void close_sessions(struct relay_run *run)
{
    for (struct exec_session *x = run->sessions; x; x = x->next)
        sockit_relay_close(x->relay); /* on_close is deferred: the list stays whole */
}

static void on_child(struct sockit_loop *loop, int signo, void *data)
{
    struct relay_run *run = data;

    (void)loop;
    (void)signo;
    relay_kids_reap(&run->kids, run->cfg);
}

/* --exec: children are reaped as they exit (their exit ends only their connection). */
static int watch_children(struct relay_run *run)
{
    int err = run->cfg->exec ? sockit_loop_signal(run->loop, SIGCHLD, on_child, run) : 0;

    return err ? cli_fail("signalfd", NULL, err) : CLI_OK;
}

/* ---- listen -k: every client at once ---------------------------------------------------- */

/* A client of the hub, for the -v line when it leaves. */
struct hub_client {
    struct relay_run *run;
    struct sockit_addr peer;
};

static void on_client_leave(struct sockit_hub *h, void *member_ud, int err, void *ud)
{
    struct hub_client *c = member_ud;

    (void)h;
    (void)ud;
    if (err && err != -ECANCELED && err != -SOCKIT_EIDLE && c->run->cfg->verbose)
        cli_fail("relay", c->run->cfg->ep_text, err); /* one client's failure: it alone ends */
    relay_note(c->run->cfg, err == -SOCKIT_EIDLE ? "closed (idle)" : "closed", &c->peer);
    free(c);
}

static void on_hub_close(struct sockit_hub *h, int err, void *ud)
{
    struct relay_run *run = ud;

    (void)h;
    run->hub = NULL;
    if (err && err != -ECANCELED && run->rc == CLI_OK)
        run->rc = cli_fail("relay", run->cfg->ep_text, err);
    if (run->relay)
        sockit_relay_close(run->relay);
    stop_listening(run);
}

static const struct sockit_hub_ops hub_ops = { .on_leave = on_client_leave,
                                               .on_close = on_hub_close };

/* listen -k serves every client at once, as ncat -k does: stdin/stdout are relayed to one end
 * of a socketpair, whose other end is the centre of a hub with the clients as members. So
 * stdin goes to every client (broadcast) and what each client sends goes to stdout, a read
 * at a time. */
static int start_hub(struct relay_run *run)
{
    struct sockit_hub_opts o = { .idle_ms = run->cfg->idle_ms };
    int sv[2], err;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return cli_fail("socketpair", NULL, -errno);
    if ((err = sockit_hub_open(run->loop, sv[1], &hub_ops, run, &o, &run->hub)) < 0) {
        close(sv[0]);
        return cli_fail("relay", run->cfg->ep_text, err);
    }
    return start_relay(run, sv[0]);
}

static void join_hub(struct relay_run *run, int fd)
{
    struct hub_client *c = malloc(sizeof(*c));
    int err = c ? 0 : -ENOMEM;

    if (c)
        *c = (struct hub_client){ .run = run, .peer = run->peer };
    if (!err)
        err = sockit_hub_add(run->hub, fd, c);
    else
        sockit_socket_close(fd, run->cfg->opts.trace);
    if (err) {
        free(c);
        cli_fail("relay", run->cfg->ep_text, err); /* that client only */
    }
}

/* ---- accepting ----------------------------------------------------------------------------- */

/* Accept a client (traced): with -k it joins the others; else it is the one, and the
 * listener rests until its relay ends. */
static void on_client(struct sockit_loop *loop, int lfd, unsigned events, void *data)
{
    struct relay_run *run = data;
    int fd;

    (void)loop;
    (void)events;
    fd = sockit_socket_accept(lfd, &run->cfg->opts, &run->peer);
    if (fd == -EAGAIN)
        return;
    if (fd < 0) {
        run->rc = cli_fail("accept", run->cfg->ep_text, fd);
        stop_listening(run);
        return;
    }
    relay_note(run->cfg, "connection from", &run->peer);
    if (run->hub) {
        join_hub(run, fd);
        return;
    }
    if (run->cfg->keep) { /* and --exec */
        start_session(run, fd);
        return;
    }
    listen_for_client(run, false);
    if (run->lfd < 0)
        sockit_socket_close(fd, run->cfg->opts.trace);
    else if ((run->rc = start_relay(run, fd)) != CLI_OK)
        stop_listening(run);
}

/* SIGINT/SIGTERM: close the relay and the listener; the loop ends when they are gone. */
static void on_stop(struct sockit_loop *loop, int signo, void *data)
{
    struct relay_run *run = data;

    (void)loop;
    (void)signo;
    run->stopping = true;
    remove_file(run);
    if (run->relay)
        sockit_relay_close(run->relay);
    if (run->hub)
        sockit_hub_close(run->hub);
    close_sessions(run);
    stop_listening(run);
}

static int new_loop(struct relay_run *run)
{
    /* --trace: the loop reports its calls too (recv, send, shutdown, close, io_uring) */
    struct sockit_loop_options o = { .trace = run->cfg->opts.trace };
    int err = sockit_loop_new(&run->loop, &o);

    return err ? cli_fail("loop", NULL, err) : CLI_OK;
}

static int connect_main(const struct relay_config *cfg)
{
    struct relay_run run = { .cfg = cfg, .lfd = -1 };
    int fd = sockit_socket_connect(&cfg->ep, &cfg->opts, &run.peer);

    if (fd < 0)
        return cli_fail("connect", cfg->ep_text, fd);
    relay_note(cfg, "connected to", &run.peer);
    if ((run.rc = new_loop(&run)) != CLI_OK) {
        sockit_socket_close(fd, cfg->opts.trace);
        return run.rc;
    }
    if ((run.rc = watch_children(&run)) != CLI_OK)
        sockit_socket_close(fd, cfg->opts.trace);
    else if ((run.rc = start_relay(&run, fd)) == CLI_OK)
        sockit_loop_run(run.loop);
    sockit_loop_free(run.loop);
    relay_kids_end(&run.kids, cfg);
    return run.rc;
}

/* Listen, and serve clients (stream endpoints) or the first sender (datagram endpoints)
 * until done or stopped by a signal. */
static int serve(struct relay_run *run)
{
    const struct relay_config *cfg = run->cfg;
    struct sockit_addr local;
    int fd = sockit_socket_listen(&cfg->ep, &cfg->opts, &local);

    if (fd < 0)
        return cli_fail(sockit_endpoint_is_stream(&cfg->ep) ? "listen" : "bind", cfg->ep_text, fd);
    sockit_socket_file_id(&cfg->ep, &run->file);
    relay_announce(cfg, &local);
    if (sockit_endpoint_is_stream(&cfg->ep)) {
        run->lfd = fd;
        if (cfg->keep && !cfg->exec) /* -k --exec: a relay per client instead */
            run->rc = start_hub(run);
        if (run->rc == CLI_OK)
            listen_for_client(run, true);
    } else {
        run->rc = start_relay(run, fd);
    }
    if (run->rc == CLI_OK)
        sockit_loop_run(run->loop);
    return run->rc;
}

/* The signals are taken before the socket exists: a SIGTERM right after "listening on" must
 * find them handled. */
static int listen_main(const struct relay_config *cfg)
{
    struct relay_run run = { .cfg = cfg, .lfd = -1 };
    int err, rc = new_loop(&run);

    if (rc != CLI_OK)
        return rc;
    if ((err = sockit_loop_signal(run.loop, SIGINT, on_stop, &run)) == 0)
        err = sockit_loop_signal(run.loop, SIGTERM, on_stop, &run);
    rc = err ? cli_fail("signalfd", NULL, err) : watch_children(&run);
    if (rc == CLI_OK)
        rc = serve(&run);
    stop_listening(&run);
    remove_file(&run);
    sockit_loop_free(run.loop);
    relay_kids_end(&run.kids, cfg);
    return rc;
}

static int relay_command(const char *cmd, int argc, char **argv)
{
    struct cli_tracer tracer;
    struct relay_config cfg = {
        .cmd = cmd,
        .opts = { .flags = SOCKIT_REUSEADDR | SOCKIT_NONBLOCK, .timeout_ms = 10000 },
        .wait_ms = 1000,
    };
    int rc;

    cli_tracer_init(&tracer, false);
    rc = relay_parse_args(argc, argv, &cfg, &tracer);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (strcmp(cmd, "listen") == 0)
        return listen_main(&cfg);
    return connect_main(&cfg);
}

int cmd_connect(int argc, char **argv)
{
    return relay_command("connect", argc, argv);
}

int cmd_listen(int argc, char **argv)
{
    return relay_command("listen", argc, argv);
}
