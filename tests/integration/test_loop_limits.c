/* The loop model's limits as a user meets them through the binary: --max-clients is one cap
 * over all --threads (it used to be split between them: --max-clients 10 --threads 4 served
 * 8, --max-clients 1 --threads 4 served 4), a client over the cap is closed at once instead
 * of waiting unseen in the backlog, and a server that exits leaves its port free for the next
 * bind at once, on every backend (on io_uring it used to stay taken for 5-11 ms). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/harness.h"

static void start_loop(struct proc *p, const char *ep, const char *backend, const char *threads,
                       const char *max_clients)
{
    const char *const extra[] = {
        "--backend", backend, "--threads", threads, "--max-clients", max_clients, NULL,
    };
    h_start_echo(p, "loop", ep, extra);
}

/* Connect N clients, then let each send a line: how many are served (echoed) and how many
 * are closed without an answer. */
static void serve_n(const char *ep, int n, int *fds, int *served, int *closed)
{
    *served = *closed = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = h_connect(ep);
        cr_assert_geq(fds[i], 0, "client %d: %s", i, strerror(-fds[i]));
    }
    for (int i = 0; i < n; i++) {
        char buf[8];
        ssize_t got = send(fds[i], "ping", 4, MSG_NOSIGNAL) == 4
                          ? h_read_within(fds[i], 3000, buf, 4)
                          : -errno;
        if (got == 4)
            (*served)++;
        else if (got == 0 || got == -ECONNRESET || got == -EPIPE)
            (*closed)++;
    }
}

static void cap_over_threads(const char *max_clients, int want)
{
    enum { N = 16 };
    struct proc p;
    char ep[64];
    int fds[N], served, closed;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    start_loop(&p, ep, "auto", "4", max_clients);
    serve_n(ep, N, fds, &served, &closed);
    cr_expect_eq(served, want, "--max-clients %s --threads 4: %d clients served", max_clients,
                 served);
    cr_expect_eq(closed, N - want, "%d clients closed over the cap", closed);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    cr_expect_eq(h_stop(&p, SIGTERM, 5000), 0);
    const char *err = h_text_of(&p, true, NULL);
    char line[64];
    snprintf(line, sizeof(line), "over --max-clients %s: closed", max_clients);
    cr_expect(strstr(err, line) != NULL, "the server logs each client it turns away:\n%s", err);
    h_cleanup(&p);
}

Test(loop_limits, max_clients_10_over_4_threads_serves_10, .timeout = 30)
{
    cap_over_threads("10", 10);
}

Test(loop_limits, max_clients_1_over_4_threads_serves_1, .timeout = 30)
{
    cap_over_threads("1", 1);
}

Test(loop_limits, client_over_max_clients_is_closed_at_once, .timeout = 30)
{
    struct proc p;
    char ep[64], buf[8];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    start_loop(&p, ep, "auto", "2", "1");
    int first = h_connect(ep), second;
    cr_assert_geq(first, 0);
    cr_assert_eq(h_write_all(first, "ping", 4), 0);
    cr_assert_eq(h_read_exact(first, buf, 4), 0, "the first client is served");
    long long t0 = h_now_ms();
    second = h_connect(ep);
    cr_assert_geq(second, 0);
    ssize_t got = h_read_within(second, 3000, buf, sizeof(buf)); /* it sends nothing */
    long long waited = h_now_ms() - t0;
    cr_expect(got == 0 || got == -ECONNRESET, "the second client: read %zd", got);
    cr_expect_lt(waited, 1000, "it was told after %lld ms", waited);
    cr_expect_eq(h_write_all(first, "pong", 4), 0);
    cr_expect_eq(h_read_exact(first, buf, 4), 0, "the first client is still served");
    close(first);
    close(second);
    cr_expect_eq(h_stop(&p, SIGTERM, 5000), 0);
    h_cleanup(&p);
}

/* Start, serve one client, stop with SIGTERM, and bind the port again as soon as the process
 * has exited, as a restarted server would (SO_REUSEADDR, as sockit sets): 20 times. */
static void port_free_after_exit(const char *backend)
{
    for (int round = 0; round < 20; round++) {
        struct proc p;
        char ep[64];
        int port = h_free_port(), one = 1;

        snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
        start_loop(&p, ep, backend, "1", "1024");
        h_expect_send_echo(ep, "before the stop", 5000);
        cr_assert_eq(h_stop(&p, SIGTERM, 5000), 0, "round %d: exit", round);
        h_cleanup(&p);
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        int bind_errno = errno;
        close(fd);
        cr_assert_eq(rc, 0, "%s, round %d: bind port %d right after the exit: %s", backend, round,
                     port, strerror(bind_errno));
    }
}

Test(loop_limits, port_is_free_right_after_exit_on_uring, .timeout = 60)
{
    port_free_after_exit("uring");
}

Test(loop_limits, port_is_free_right_after_exit_on_epoll, .timeout = 60)
{
    port_free_after_exit("epoll");
}

Test(loop_limits, port_is_free_right_after_exit_on_poll, .timeout = 60)
{
    port_free_after_exit("poll");
}
