/* Unit tests for the loop's trace hook (sockit_loop_options.trace) on every backend: a client
 * connects to a listener, sends a line and reads the echo, and the trace shows what the
 * backend really did: the accept, then recv/send on epoll and poll, or the io_uring requests
 * and their completions. */
#include <criterion/criterion.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "backends.h"
#include "sockit/endpoint.h"
#include "sockit/socket.h"

struct run {
    struct sockit_loop *loop;
    struct sockit_listener *listener;
    char trace[64 * 1024];
    size_t trace_len;
    char got[16];
    size_t got_len;
};

static void collect(void *ctx, const char *line)
{
    struct run *r = ctx;
    int n = snprintf(r->trace + r->trace_len, sizeof(r->trace) - r->trace_len, "%s\n", line);

    if (n > 0 && (size_t)n < sizeof(r->trace) - r->trace_len)
        r->trace_len += (size_t)n;
}

static void server_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (len == 0)
        sockit_stream_close_after_flush(s);
    else
        sockit_stream_write(s, data, len);
}

static void client_data(struct sockit_stream *s, const void *data, size_t len, void *ud)
{
    struct run *r = ud;

    if (len == 0) {
        sockit_stream_close(s);
        sockit_listener_close(r->listener);
        return;
    }
    memcpy(r->got + r->got_len, data, len < sizeof(r->got) - r->got_len ? len : 0);
    r->got_len += len;
    if (r->got_len >= 5)
        sockit_stream_shutdown(s);
}

static void quiet_close(struct sockit_stream *s, int err, void *ud)
{
    (void)s;
    (void)ud;
    cr_expect_eq(err, 0, "a stream closed with %d", err);
}

static const struct sockit_stream_ops server_ops = { .on_data = server_data,
                                                     .on_close = quiet_close };
static const struct sockit_stream_ops client_ops = { .on_data = client_data,
                                                     .on_close = quiet_close };

static void on_accept(struct sockit_listener *l, int fd, const struct sockit_addr *peer, void *ud)
{
    struct run *r = ud;
    struct sockit_stream *s;

    (void)l;
    (void)peer;
    cr_assert_eq(sockit_stream_open(r->loop, fd, &server_ops, r, NULL, &s), 0);
}

/* Echo "hello" over loopback TCP on a loop traced into R->trace. */
static void traced_echo(struct run *r)
{
    struct sockit_trace hook = { collect, r };
    struct sockit_loop_options o = *opts_for(test_backend);
    struct sockit_endpoint ep;
    struct sockit_addr bound;
    struct sockit_stream *c;

    o.trace = &hook;
    cr_assert_eq(sockit_loop_new(&r->loop, &o), 0);
    char text[64];
    snprintf(text, sizeof(text), "tcp://127.0.0.1:%d", h_free_port());
    cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
    int lfd =
        sockit_socket_listen(&ep, &(struct sockit_sockopts){ .flags = SOCKIT_NONBLOCK }, &bound);
    cr_assert_geq(lfd, 0, "listen: %d", lfd);
    cr_assert_eq(sockit_listener_open(r->loop, lfd, on_accept, NULL, r, &r->listener), 0);
    cr_assert_eq(sockit_stream_connect(r->loop, &bound, 5000, &client_ops, r, NULL, &c), 0);
    cr_assert_eq(sockit_stream_write(c, "hello", 5), 0);
    run_ok(r->loop);
    sockit_loop_free(r->loop);
    r->trace[r->trace_len] = '\0';
    cr_assert_eq(r->got_len, 5);
    cr_assert_eq(memcmp(r->got, "hello", 5), 0);
}

static void expect_line(const struct run *r, const char *needle)
{
    cr_expect(strstr(r->trace, needle) != NULL, "no '%s' in the trace:\n%s", needle, r->trace);
}

LOOP_TEST(trace_shows_what_the_backend_does)
{
    static struct run r;

    memset(&r, 0, sizeof(r));
    traced_echo(&r);
    expect_line(&r, "accept(");
    if (backend == SOCKIT_BACKEND_URING) {
        expect_line(&r, "io_uring: + recv multishot fd ");
        expect_line(&r, "io_uring: recv multishot fd ");
        expect_line(&r, "io_uring: + send fd ");
        expect_line(&r, "io_uring: send fd ");
        expect_line(&r, "io_uring: + connect fd ");
        expect_line(&r, "io_uring_enter(submit ");
    } else {
        expect_line(&r, "connect(");
        expect_line(&r, backend == SOCKIT_BACKEND_EPOLL ? "epoll_pwait2(" : "ppoll(");
        expect_line(&r, ", 262144) = 5\n"); /* recv of the 5 bytes, both ends */
        expect_line(&r, "send(");
        expect_line(&r, "shutdown(");
    }
    expect_line(&r, "close(");
}

LOOP_TEST(trace_off_reports_nothing_and_changes_nothing)
{
    static struct run r;
    struct sockit_loop *loop = new_loop(); /* options without a hook */

    memset(&r, 0, sizeof(r));
    sockit_loop_free(loop);
    traced_echo(&r); /* the same exchange works traced */
    cr_expect_gt(r.trace_len, 0);
}
