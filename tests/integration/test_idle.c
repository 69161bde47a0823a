/* --idle-timeout: every model closes a client that sends nothing for the given time, and
 * leaves a client that keeps talking alone. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/harness.h"

static void idle_client_is_closed(const char *model)
{
    struct proc srv;
    char ep[64], buf[16];
    static const char *const extra[] = { "--idle-timeout", "1", NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, model, ep, extra);
    int quiet = h_connect(ep), busy = h_connect(ep);
    cr_assert_geq(quiet, 0);
    cr_assert_geq(busy, 0);
    long long t0 = h_now_ms();
    /* The busy client talks every 300 ms for 1.8 s: never idle for a whole second. */
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(h_write_all(busy, "ping", 4), 0, "busy client write %d", i);
        cr_assert_eq(h_read_exact(busy, buf, 4), 0, "busy client echo %d", i);
        h_sleep_ms(300);
    }
    /* The quiet one has been closed by now: end of stream, after about a second. */
    ssize_t n = recv(quiet, buf, sizeof(buf), MSG_DONTWAIT);
    long long waited = h_now_ms() - t0;
    cr_expect_eq(n, 0, "the quiet client should see end of stream after %lld ms (recv %zd)", waited,
                 n);
    cr_expect_eq(h_write_all(busy, "pong", 4), 0);
    cr_expect_eq(h_read_exact(busy, buf, 4), 0, "the busy client is still served");
    close(quiet);
    close(busy);
    cr_expect_eq(h_stop(&srv, SIGTERM, 5000), 0);
    char *err = h_stderr(&srv, NULL);
    cr_expect(strstr(err, "idle for 1000 ms: closed") != NULL, "the server logs why: %s", err);
    free(err);
    h_cleanup(&srv);
}

Test(idle_timeout, closes_a_quiet_client_iterative, .timeout = 20)
{
    /* one client at a time: only the quiet one is served, so test it alone */
    struct proc srv;
    char ep[64], buf[4];
    static const char *const extra[] = { "--idle-timeout", "1", NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "iterative", ep, extra);
    int quiet = h_connect(ep);
    cr_assert_geq(quiet, 0);
    long long t0 = h_now_ms();
    ssize_t n = -1;
    while (h_now_ms() - t0 < 3000 && (n = recv(quiet, buf, sizeof(buf), MSG_DONTWAIT)) < 0)
        h_sleep_ms(20);
    long long waited = h_now_ms() - t0;
    cr_expect_eq(n, 0, "end of stream expected");
    cr_expect(waited >= 900 && waited <= 2500, "closed after %lld ms, expected about 1000", waited);
    close(quiet);
    cr_expect_eq(h_stop(&srv, SIGTERM, 5000), 0);
    h_cleanup(&srv);
}

Test(idle_timeout, closes_a_quiet_client_fork, .timeout = 20)
{
    idle_client_is_closed("fork");
}

Test(idle_timeout, closes_a_quiet_client_thread, .timeout = 20)
{
    idle_client_is_closed("thread");
}

Test(idle_timeout, closes_a_quiet_client_loop, .timeout = 20)
{
    idle_client_is_closed("loop");
}
