/* Every echo model on every endpoint type, with our client (sockit send) and one we did not
 * write (socat) as peers; the concurrent models also serve 100 clients at once. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "sockit/socket.h"

#define CONCURRENT 100

enum kind { TCP4, TCP6, UDP4, UDP6, UNIX_PATH, UNIX_ABSTRACT, UNIX_DGRAM };

struct target {
    enum kind kind;
    char endpoint[128]; /* sockit syntax */
    char socat[128];    /* socat address of the server */
    char path[64];      /* unix file to remove, or "" */
};

static bool is_dgram(enum kind k)
{
    return k == UDP4 || k == UDP6 || k == UNIX_DGRAM;
}

static void make_target(struct target *t, enum kind kind)
{
    int port = h_free_port();

    memset(t, 0, sizeof(*t));
    t->kind = kind;
    switch (kind) {
    case TCP4:
        snprintf(t->endpoint, sizeof(t->endpoint), "tcp://127.0.0.1:%d", port);
        snprintf(t->socat, sizeof(t->socat), "TCP:127.0.0.1:%d", port);
        break;
    case TCP6:
        snprintf(t->endpoint, sizeof(t->endpoint), "tcp://[::1]:%d", port);
        snprintf(t->socat, sizeof(t->socat), "TCP6:[::1]:%d", port);
        break;
    case UDP4:
        snprintf(t->endpoint, sizeof(t->endpoint), "udp://127.0.0.1:%d", port);
        snprintf(t->socat, sizeof(t->socat), "UDP:127.0.0.1:%d", port);
        break;
    case UDP6:
        snprintf(t->endpoint, sizeof(t->endpoint), "udp://[::1]:%d", port);
        snprintf(t->socat, sizeof(t->socat), "UDP6:[::1]:%d", port);
        break;
    case UNIX_PATH:
        h_tmp_path(t->path, sizeof(t->path), "echo.sock");
        snprintf(t->endpoint, sizeof(t->endpoint), "unix:%s", t->path);
        snprintf(t->socat, sizeof(t->socat), "UNIX-CONNECT:%s", t->path);
        break;
    case UNIX_ABSTRACT:
        snprintf(t->endpoint, sizeof(t->endpoint), "unix:@sockit-test-%d-%d", (int)getpid(), port);
        snprintf(t->socat, sizeof(t->socat), "ABSTRACT-CONNECT:sockit-test-%d-%d", (int)getpid(),
                 port);
        break;
    case UNIX_DGRAM:
        h_tmp_path(t->path, sizeof(t->path), "echo.dgram");
        snprintf(t->endpoint, sizeof(t->endpoint), "unix-dgram:%s", t->path);
        snprintf(t->socat, sizeof(t->socat), "UNIX-SENDTO:%s", t->path);
        break;
    }
}

static void start_server(struct proc *srv, const char *model, const struct target *t)
{
    static const char *const extra[] = { "--quiet", NULL };
    h_start_echo(srv, model, t->endpoint, extra);
}

/* SIGTERM must stop every model cleanly: exit 0 (under ASan: no leak) and no file left. */
static void stop_server(struct proc *srv, const struct target *t)
{
    int rc = h_stop(srv, SIGTERM, 5000);
    char *err = h_stderr(srv, NULL);

    cr_expect_eq(rc, 0, "server exit code %d after SIGTERM; stderr:\n%s", rc, err);
    if (t->path[0])
        cr_expect_neq(access(t->path, F_OK), 0, "%s still exists after the server stopped",
                      t->path);
    free(err);
    h_cleanup(srv);
}

static void check_sockit_send(const char *model, enum kind kind)
{
    struct target t;
    struct proc srv;
    char msg[64];

    make_target(&t, kind);
    start_server(&srv, model, &t);
    snprintf(msg, sizeof(msg), "Hello from client (%s)", model);
    h_expect_send_echo(t.endpoint, msg, 10000);
    stop_server(&srv, &t);
}

/* socat needs a bound address of its own to get unix datagram replies. */
static void socat_address(const struct target *t, int i, char *buf, size_t size, char *bind_path,
                          size_t bind_size)
{
    bind_path[0] = '\0';
    if (t->kind != UNIX_DGRAM) {
        snprintf(buf, size, "%s", t->socat);
        return;
    }
    char tag[32];
    snprintf(tag, sizeof(tag), "socat%d", i);
    h_tmp_path(bind_path, bind_size, tag);
    snprintf(buf, size, "%s,bind=%s", t->socat, bind_path);
}

/* Start N socat clients that all hold their connection open, then let each send a line and
 * check every echo: with N = 100 this needs a server that serves clients concurrently. */
static void check_socat(const char *model, enum kind kind, int n)
{
    struct target t;
    struct proc srv, *cli = calloc((size_t)n, sizeof(*cli));
    char(*binds)[64] = calloc((size_t)n, sizeof(*binds));

    make_target(&t, kind);
    start_server(&srv, model, &t);
    for (int i = 0; i < n; i++) {
        char addr[256];
        socat_address(&t, i, addr, sizeof(addr), binds[i], sizeof(binds[i]));
        const char *argv[] = { "socat", "-t", is_dgram(kind) ? "1" : "10", "-", addr, NULL };
        h_start(&cli[i], argv, NULL, 0, NULL);
    }
    for (int i = 0; i < n; i++) {
        char line[64];
        int len = snprintf(line, sizeof(line), "socat client %d via %s\n", i, model);
        cr_assert_eq(h_write_all(cli[i].stdin_fd, line, (size_t)len), 0);
        close(cli[i].stdin_fd); /* end of input: all clients finish in parallel */
        cli[i].stdin_fd = -1;
    }
    for (int i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof(line), "socat client %d via %s\n", i, model);
        int rc = h_wait(&cli[i], 15000);
        char *out = h_stdout(&cli[i], NULL), *err = h_stderr(&cli[i], NULL);
        cr_expect_eq(rc, 0, "socat %d exit %d: %s", i, rc, err);
        cr_expect_str_eq(out, line, "socat client %d over %s", i, t.endpoint);
        free(out);
        free(err);
        h_cleanup(&cli[i]);
        if (binds[i][0])
            unlink(binds[i]);
    }
    free(cli);
    free(binds);
    stop_server(&srv, &t);
}

/* Our own 100 clients: all connect (or bind) first, then all send, then all read. */
static void check_concurrent(const char *model, enum kind kind)
{
    struct target t;
    struct proc srv;
    int fds[CONCURRENT];

    make_target(&t, kind);
    start_server(&srv, model, &t);
    for (int i = 0; i < CONCURRENT; i++) {
        fds[i] = h_connect(t.endpoint);
        cr_assert_geq(fds[i], 0, "client %d: connect %s: %s", i, t.endpoint, strerror(-fds[i]));
    }
    for (int i = 0; i < CONCURRENT; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "client %03d", i);
        cr_assert_eq(h_write_all(fds[i], msg, (size_t)len), 0, "client %d send", i);
    }
    for (int i = 0; i < CONCURRENT; i++) {
        char want[32], got[32] = "";
        int len = snprintf(want, sizeof(want), "client %03d", i);
        cr_expect_eq(h_read_exact(fds[i], got, (size_t)len), 0,
                     "client %d: no echo within 10 s over %s", i, t.endpoint);
        cr_expect_eq(memcmp(got, want, (size_t)len), 0, "client %d got '%.*s'", i, len, got);
        close(fds[i]);
    }
    stop_server(&srv, &t);
}

#define MATRIX_ROW(model, kind, name)                                                              \
    Test(echo_##model, name##_sockit_send, .timeout = 30)                                          \
    {                                                                                              \
        check_sockit_send(#model, kind);                                                           \
    }                                                                                              \
    Test(echo_##model, name##_socat, .timeout = 30)                                                \
    {                                                                                              \
        check_socat(#model, kind, 1);                                                              \
    }

#define CONCURRENT_ROW(model, kind, name)                                                          \
    Test(echo_##model, name##_100_clients, .timeout = 60)                                          \
    {                                                                                              \
        check_concurrent(#model, kind);                                                            \
    }                                                                                              \
    Test(echo_##model, name##_100_socat_clients, .timeout = 60)                                    \
    {                                                                                              \
        check_socat(#model, kind, CONCURRENT);                                                     \
    }

#define ALL_KINDS(ROW, model)                                                                      \
    ROW(model, TCP4, tcp_ipv4)                                                                     \
    ROW(model, TCP6, tcp_ipv6)                                                                     \
    ROW(model, UDP4, udp_ipv4)                                                                     \
    ROW(model, UDP6, udp_ipv6)                                                                     \
    ROW(model, UNIX_PATH, unix_path)                                                               \
    ROW(model, UNIX_ABSTRACT, unix_abstract)                                                       \
    ROW(model, UNIX_DGRAM, unix_dgram)

ALL_KINDS(MATRIX_ROW, iterative)
ALL_KINDS(MATRIX_ROW, fork)
ALL_KINDS(MATRIX_ROW, thread)
ALL_KINDS(MATRIX_ROW, loop)
ALL_KINDS(CONCURRENT_ROW, fork)
ALL_KINDS(CONCURRENT_ROW, thread)
ALL_KINDS(CONCURRENT_ROW, loop)
