/* sockit bench against a real echo server: every mode completes with sane numbers, the JSON
 * is complete, an absent server is one clear error, a server that dies is reported. A server
 * frozen (SIGSTOP) or one that never answers cannot pass for a good one, and every failure
 * names its cause. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../support/harness.h"

/* The number after "KEY": in a flat JSON text, or -1. */
static double json_number(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at ? strtod(at + strlen(pattern), NULL) : -1;
}

/* Run sockit bench ARGS; its exit code in *RC, its stderr in *ERR (malloc'd; ERR may be NULL).
 * Returns its stdout (malloc'd). */
static char *run_bench_err(const char *const args[], int *rc, char **err)
{
    const char *argv[24] = { h_sockit(), "bench" };
    size_t n = 2;
    struct proc p;

    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    h_start(&p, argv, "", 0, NULL);
    *rc = h_wait(&p, 30000);
    char *out = h_stdout(&p, NULL), *text = h_stderr(&p, NULL);
    if (*rc != 0)
        cr_log_info("bench stderr:\n%s", text);
    if (err)
        *err = text;
    else
        free(text);
    h_cleanup(&p);
    return out;
}

static char *run_bench(const char *const args[], int *rc)
{
    return run_bench_err(args, rc, NULL);
}

/* The number after "KEY": inside the object "OBJ": of a flat JSON text, or -1. */
static double json_inner(const char *json, const char *obj, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":{", obj);
    const char *at = strstr(json, pattern);
    return at ? json_number(at, key) : -1;
}

static void check_mode(const char *endpoint_fmt, const char *model, const char *const extra[],
                       double min_messages)
{
    struct proc srv;
    char ep[128];
    static const char *const quiet[] = { "--quiet", NULL };
    const char *args[20] = { NULL };
    size_t n = 0;
    int rc;

    snprintf(ep, sizeof(ep), endpoint_fmt, h_free_port());
    h_start_echo(&srv, model, ep, quiet);
    args[n++] = ep;
    args[n++] = "--json";
    for (size_t i = 0; extra[i]; i++)
        args[n++] = extra[i];
    char *json = run_bench(args, &rc);
    cr_expect_eq(rc, 0, "bench exit %d: %s", rc, json);
    cr_expect_geq(json_number(json, "messages"), min_messages, "%s", json);
    cr_expect_gt(json_number(json, "msgs_per_s"), 0, "%s", json);
    cr_expect_eq(json_number(json, "connect"), 0, "%s", json);
    cr_expect_eq(json_number(json, "lost"), 0, "%s", json);
    cr_expect(strstr(json, "\"error\":null}") != NULL, "no error: %s", json);
    free(json);
    cr_expect_eq(h_stop(&srv, SIGTERM, 5000), 0, "server did not stop cleanly");
    h_cleanup(&srv);
}

Test(bench, pingpong_count_is_exact_and_latency_reported, .timeout = 30)
{
    static const char *const extra[] = { "-c", "8", "-n", "20000", NULL };
    check_mode("tcp://127.0.0.1:%d", "loop", extra, 20000);
}

Test(bench, pipeline_over_ipv6, .timeout = 30)
{
    static const char *const extra[] = {
        "-m", "pipeline", "-D", "8", "-c", "4", "-n", "40000", NULL
    };
    check_mode("tcp://[::1]:%d", "thread", extra, 40000);
}

Test(bench, bulk_echoes_every_byte, .timeout = 30)
{
    static const char *const extra[] = { "-m", "bulk", "-c", "2", "-n", "64M", NULL };
    check_mode("tcp://127.0.0.1:%d", "loop", extra, 1024); /* 64 MiB / 64 KiB writes */
}

Test(bench, connect_rate_over_unix, .timeout = 30)
{
    static const char *const extra[] = { "-m", "connect", "-c", "4", "-n", "2000", NULL };
    check_mode("unix:@sockit-bench-%d", "loop", extra, 2000);
}

Test(bench, udp_pingpong_with_two_threads, .timeout = 30)
{
    static const char *const extra[] = { "-c", "8", "-t", "2", "-n", "10000", NULL };
    check_mode("udp://127.0.0.1:%d", "loop", extra, 10000);
}

/* The load side runs on every loop backend: ping-pong, bulk and datagram counts complete
 * exactly on each. */
Test(bench, runs_on_every_backend, .timeout = 60)
{
    static const char *const backends[] = { "uring", "epoll", "poll" };

    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const char *const pingpong[] = { "-c", "4", "-n", "5000", "--backend", backends[i], NULL };
        const char *const bulk[] = { "-m",  "bulk",      "-c",        "2", "-n",
                                     "16M", "--backend", backends[i], NULL };
        check_mode("tcp://127.0.0.1:%d", "loop", pingpong, 5000);
        check_mode("tcp://127.0.0.1:%d", "loop", bulk, 256); /* 16 MiB / 64 KiB writes */
        check_mode("udp://127.0.0.1:%d", "loop", pingpong, 5000);
    }
}

Test(bench, open_loop_rate_is_kept, .timeout = 30)
{
    struct proc srv;
    char ep[64];
    static const char *const quiet[] = { "--quiet", NULL };
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    const char *args[] = { ep, "--json", "-c", "10", "-r", "2000", "-d", "2", NULL };
    char *json = run_bench(args, &rc);
    double rate = json_number(json, "msgs_per_s");
    cr_expect_eq(rc, 0, "%s", json);
    cr_expect(rate > 1700 && rate < 2100, "asked 2000 msg/s, got %.0f: %s", rate, json);
    cr_expect(strstr(json, "\"rate_missed\":false") != NULL, "%s", json);
    free(json);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

Test(bench, absent_server_is_one_clear_error, .timeout = 30)
{
    struct proc p;
    char ep[64], want[128];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *argv[] = { h_sockit(), "bench", ep, "-c", "3", "-d", "1", NULL };
    h_start(&p, argv, "", 0, NULL);
    cr_expect_eq(h_wait(&p, 10000), 1);
    char *err = h_stderr(&p, NULL);
    snprintf(want, sizeof(want), "sockit: connect %s: Connection refused", ep);
    cr_expect(strstr(err, want) != NULL, "stderr: %s", err);
    free(err);
    h_cleanup(&p);
}

Test(bench, server_that_dies_is_reported, .timeout = 30)
{
    struct proc srv, p;
    char ep[64];
    static const char *const quiet[] = { "--quiet", NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    const char *argv[] = { h_sockit(), "bench", ep, "-c", "4", "-d", "10", NULL };
    h_start(&p, argv, "", 0, NULL);
    usleep(300000);
    h_stop(&srv, SIGKILL, 5000);
    cr_expect_eq(h_wait(&p, 10000), 1, "bench must fail when the server dies");
    char *out = h_stdout(&p, NULL), *err = h_stderr(&p, NULL);
    cr_expect(strstr(err, "the server closed 4 connections") != NULL, "stderr: %s", err);
    cr_expect(strstr(out, "messages") != NULL, "a summary is still printed: %s", out);
    free(out);
    free(err);
    h_cleanup(&p);
    h_cleanup(&srv);
}

Test(bench, invalid_arguments_are_usage_errors)
{
    const char *const bad[][4] = {
        { "tcp://127.0.0.1:1", "-m", "bogus", NULL },
        { "udp://127.0.0.1:1", "-m", "bulk", NULL },
        { "tcp://127.0.0.1:1", "-n", "12x", NULL },
        { "tcp://127.0.0.1:1", "-d", "-1", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        char *out = run_bench(bad[i], &rc);
        cr_expect_eq(rc, 2, "bench %s %s %s: exit %d", bad[i][0], bad[i][1], bad[i][2], rc);
        free(out);
    }
}

/* Send mode against a sink we can count: sockit listen writes what it receives to a file,
 * and that file must hold exactly the bytes the bench says it sent. */
Test(bench, send_mode_byte_count_matches_what_the_sink_received, .timeout = 30)
{
    struct proc sink;
    char ep[64];
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *sargv[] = { h_sockit(), "listen", "-v", ep, NULL };
    h_start(&sink, sargv, "", 0, NULL); /* empty stdin: it half-closes its side at once */
    cr_assert(h_wait_stderr(&sink, "listening on", 5000), "sink did not start");
    const char *args[] = { ep, "--json", "-m", "send", "-c", "1", "-n", "32M", NULL };
    char *json = run_bench(args, &rc);
    cr_expect_eq(rc, 0, "%s", json);
    cr_expect_eq(json_number(json, "bytes"), 32.0 * 1024 * 1024, "%s", json);
    cr_expect_eq(h_wait(&sink, 10000), 0, "the sink ends when the bench closes");
    size_t received;
    char *out = h_stdout(&sink, &received);
    cr_expect_eq(received, 32u << 20, "the sink received %zu bytes", received);
    free(out);
    free(json);
    h_cleanup(&sink);
}

/* ---- a benchmark must not be fooled (issue 16) ---------------------------------------------- */

/* An echo server on a fresh TCP port, for the test to freeze (SIGSTOP). */
static void start_frozen(struct proc *srv, char *ep, size_t size)
{
    static const char *const quiet[] = { "--quiet", NULL };

    snprintf(ep, size, "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(srv, "loop", ep, quiet);
}

static void thaw_and_stop(struct proc *srv)
{
    kill(srv->pid, SIGCONT);
    h_stop(srv, SIGTERM, 5000);
    h_cleanup(srv);
}

/* Frozen for the whole run, in closed and in open loop: exit 1 with the cause in "error", and
 * the unanswered messages in the latency with the whole run's wait, not a few ms. */
Test(bench, server_frozen_for_the_whole_run_is_a_failure, .timeout = 30)
{
    const char *const loops[][3] = { { "-c", "4", NULL }, { "-r", "1000", NULL } };

    for (size_t i = 0; i < 2; i++) {
        struct proc srv;
        char ep[64], *err;
        int rc;
        start_frozen(&srv, ep, sizeof(ep));
        kill(srv.pid, SIGSTOP);
        const char *args[] = { ep,      "--json",    "-d",        "1", "--timeout",
                               "10000", loops[i][0], loops[i][1], NULL };
        char *json = run_bench_err(args, &rc, &err);
        cr_expect_eq(rc, 1, "frozen server, %s %s: exit %d: %s", loops[i][0], loops[i][1], rc,
                     json);
        cr_expect(strstr(json, "\"error\":\"bench ") != NULL, "the cause in the JSON: %s", json);
        cr_expect(strstr(err, "no reply from the server") != NULL, "stderr: %s", err);
        cr_expect_geq(json_inner(json, "latency_us", "max"), 900000, "max latency: %s", json);
        cr_expect_geq(json_number(json, "unanswered"), 1, "%s", json);
        free(json);
        free(err);
        thaw_and_stop(&srv);
    }
}

/* Frozen part-way until the end (no timeout reached): the replies before the freeze make it
 * a run, but the messages left waiting show the freeze in the latency, up to the end. */
Test(bench, server_frozen_until_the_end_shows_in_the_latency, .timeout = 30)
{
    struct proc srv;
    struct proc p;
    char ep[64];

    start_frozen(&srv, ep, sizeof(ep));
    const char *argv[] = { h_sockit(), "bench", ep,          "--json", "-c", "4",
                           "-d",       "2",     "--timeout", "10000",  NULL };
    h_start(&p, argv, "", 0, NULL);
    h_sleep_ms(300);
    long long frozen_at = h_now_ms();
    kill(srv.pid, SIGSTOP);
    int rc = h_wait(&p, 20000);
    long long frozen_ms = h_now_ms() - frozen_at;
    char *json = h_stdout(&p, NULL);
    cr_expect_eq(rc, 0, "replies came before the freeze: %s", json);
    cr_expect_gt(json_number(json, "messages"), 0, "%s", json);
    cr_expect_geq(json_inner(json, "latency_us", "max"), (double)(frozen_ms - 300) * 1000,
                  "frozen %lld ms: %s", frozen_ms, json);
    cr_expect_eq(json_number(json, "unanswered"), 4, "%s", json);
    free(json);
    h_cleanup(&p);
    thaw_and_stop(&srv);
}

/* A listener that accepts (the kernel does, into the backlog) and never answers. */
static int silent_listener(int backlog, char *ep, size_t size)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(ep, size, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

/* Every stream mode times out on a server that never answers, and says so. */
Test(bench, server_that_never_answers_times_out_in_every_stream_mode, .timeout = 60)
{
    const char *const modes[] = { "pingpong", "pipeline", "bulk", "connect", "send" };
    char ep[64];
    int lfd = silent_listener(64, ep, sizeof(ep));

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char *err;
        int rc;
        const char *args[] = {
            ep, "-m", modes[i], "-c", "2", "-d", "20", "--timeout", "300", NULL
        };
        long long t0 = h_now_ms();
        char *out = run_bench_err(args, &rc, &err);
        cr_expect_eq(rc, 1, "%s: exit %d", modes[i], rc);
        cr_expect_lt(h_now_ms() - t0, 10000, "%s: the run went on", modes[i]);
        cr_expect(strstr(err, "timed out") != NULL, "%s: stderr: %s", modes[i], err);
        free(out);
        free(err);
    }
    close(lfd);
}

/* Connects to a full unix backlog (which block until there is room) end with the run (-d 1),
 * not after a fixed 5 s. */
Test(bench, connects_to_a_full_backlog_end_with_the_run, .timeout = 30)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    char ep[96], *err;
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "sockit-bench-full-%d", (int)getpid());
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, len), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    snprintf(ep, sizeof(ep), "unix:@%s", a.sun_path + 1);
    const char *args[] = { ep, "-c", "20", "-d", "1", "--timeout", "10000", NULL };
    long long t0 = h_now_ms();
    char *out = run_bench_err(args, &rc, &err);
    long long took = h_now_ms() - t0;

    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect_lt(took, 4000, "a 1 s run took %lld ms", took);
    cr_expect(strstr(err, "sockit: ") != NULL, "a cause on stderr: %s", err);
    free(out);
    free(err);
    close(lfd);
}

/* The usage errors name the option and why: a duration too short to measure, pipeline memory
 * past the bound, --rate where it cannot pace (and its text in its own unit), --depth outside
 * pipeline, datagram sizes by address family. */
Test(bench, impossible_settings_are_usage_errors_that_name_the_option)
{
    static const struct {
        const char *args[7];
        const char *names;
    } bad[] = {
        { { "tcp://127.0.0.1:1", "-d", "1e-9" }, "--duration" },
        { { "tcp://127.0.0.1:1", "-m", "pipeline", "-s", "64M" }, "--depth x --size" },
        { { "tcp://127.0.0.1:1", "-m", "pipeline", "-D", "4096", "-s", "64k" },
          "--depth x --size" },
        { { "tcp://127.0.0.1:1", "-m", "bulk", "-r", "100" }, "--rate" },
        { { "tcp://127.0.0.1:1", "-m", "send", "-r", "100" }, "--rate" },
        { { "tcp://127.0.0.1:1", "-D", "4" }, "--depth applies to -m pipeline" },
        { { "tcp://127.0.0.1:1", "-r", "1s" }, "'1s' is not a positive number of messages per" },
        { { "udp://127.0.0.1:1", "-s", "65508" }, "at most 65507" },
        { { "udp://[::1]:1", "-s", "65528" }, "at most 65527" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[8] = { NULL };
        char *err;
        int rc;
        for (size_t j = 0; j < 7 && bad[i].args[j]; j++)
            args[j] = bad[i].args[j];
        char *out = run_bench_err(args, &rc, &err);
        cr_expect_eq(rc, 2, "%s %s: exit %d", args[1], args[2], rc);
        cr_expect(strstr(err, bad[i].names) != NULL, "%s %s: stderr: %s", args[1], args[2], err);
        free(out);
        free(err);
    }
}

/* The largest datagram is the family's: 65,527 bytes over IPv6 runs; a unix datagram is
 * limited by the socket, not by UDP's number (refused connect: exit 1, not a usage error). */
Test(bench, datagram_sizes_follow_the_socket, .timeout = 30)
{
    static const char *const v6[] = { "-s", "65527", "-c", "1", "-n", "20", NULL };
    char path[64], ep[96], *err;
    int rc;

    check_mode("udp://[::1]:%d", "loop", v6, 20);
    h_tmp_path(path, sizeof(path), "bench-dgram");
    snprintf(ep, sizeof(ep), "unix-dgram:%s", path);
    const char *args[] = { ep, "-s", "100000", "-d", "1", NULL };
    char *out = run_bench_err(args, &rc, &err);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "--size") == NULL, "100000 B fits a unix datagram: %s", err);
    free(out);
    free(err);
}

/* Nothing measured: latency null, the cause in "error". */
Test(bench, json_says_null_and_why_when_nothing_was_measured, .timeout = 30)
{
    char ep[64], *err;
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *args[] = { ep, "--json", "-c", "2", "-d", "1", NULL };
    char *json = run_bench_err(args, &rc, &err);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(json, "\"latency_us\":null") != NULL, "%s", json);
    cr_expect(strstr(json, "\"error\":\"connect tcp://127.0.0.1:") != NULL, "%s", json);
    cr_expect(strstr(json, "Connection refused\"}") != NULL, "%s", json);
    free(json);
    free(err);
}

/* A rate no client reaches (10 million/s on two connections) is a warning, on stderr and in
 * the JSON, not a silent shortfall. */
Test(bench, missed_rate_is_a_warning, .timeout = 30)
{
    struct proc srv;
    char ep[64], *err;
    static const char *const quiet[] = { "--quiet", NULL };
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    const char *args[] = { ep, "--json", "-c", "2", "-r", "1e7", "-d", "0.5", NULL };
    char *json = run_bench_err(args, &rc, &err);
    cr_expect_eq(rc, 0, "a warning, not a failure: %s", err);
    cr_expect(strstr(json, "\"rate_missed\":true") != NULL, "%s", json);
    cr_expect(strstr(err, "warning: reached") != NULL, "stderr: %s", err);
    free(json);
    free(err);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

/* A message bigger than a stream's default output bound (8 MiB) is written whole and its
 * echo read while the rest is still going out. */
Test(bench, big_messages_are_sent_whole, .timeout = 30)
{
    static const char *const extra[] = { "-c", "1", "-s", "16M", "-n", "3", NULL };
    check_mode("tcp://127.0.0.1:%d", "loop", extra, 3);
}

/* ---- what iperf3 users reach for ------------------------------------------------------------ */

/* -R against a server that streams (sockit listen sending its stdin): every byte counted, and
 * the server's end of stream is the normal end of the run. */
Test(bench, reverse_bulk_counts_what_the_server_sends, .timeout = 30)
{
    enum { SIZE = 8 << 20 };
    struct proc srv, p;
    char ep[64];
    char *data = malloc(SIZE);

    cr_assert_not_null(data);
    h_fill(data, SIZE, 16);
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *sargv[] = { h_sockit(), "listen", "-v", ep, NULL };
    h_start(&srv, sargv, NULL, 0, NULL); /* stdin: a pipe the test writes */
    cr_assert(h_wait_stderr(&srv, "listening on", 5000), "the server did not start");
    const char *argv[] = { h_sockit(), "bench", ep, "-m", "bulk", "-R", "-c", "1", "--json", NULL };
    h_start(&p, argv, "", 0, NULL);
    cr_expect_eq(h_write_all(srv.stdin_fd, data, SIZE), 0, "the client did not read");
    close(srv.stdin_fd);
    int rc = h_wait(&p, 20000);
    char *json = h_stdout(&p, NULL);
    cr_expect_eq(rc, 0, "%s", json);
    cr_expect_eq(json_number(json, "bytes"), SIZE, "%s", json);
    cr_expect(strstr(json, "\"reverse\":true") != NULL, "%s", json);
    free(json);
    free(data);
    h_cleanup(&p);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

/* An echo server sends nothing unasked: -R against it is a timeout, not a quiet success. */
Test(bench, reverse_against_an_echo_times_out, .timeout = 30)
{
    struct proc srv;
    char ep[64], *err;
    static const char *const quiet[] = { "--quiet", NULL };
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    const char *args[] = { ep, "-m", "bulk", "-R", "-c", "1", "--timeout", "300", NULL };
    char *out = run_bench_err(args, &rc, &err);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(err, "timed out") != NULL, "stderr: %s", err);
    free(out);
    free(err);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

/* --interval with --json: one JSON object per line per interval, then the summary; the
 * intervals add up to the summary's messages. */
Test(bench, interval_json_lines_add_up_to_the_summary, .timeout = 30)
{
    struct proc srv;
    char ep[64];
    static const char *const quiet[] = { "--quiet", NULL };
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    const char *args[] = { ep, "--json", "-c", "2", "-d", "1", "--interval", "0.25", NULL };
    char *out = run_bench(args, &rc);
    double sum = 0;
    int intervals = 0;
    char *line = out, *last = NULL;

    cr_expect_eq(rc, 0, "%s", out);
    for (char *nl; line && (nl = strchr(line, '\n')) != NULL && intervals < 100; line = nl + 1) {
        *nl = '\0';
        if (strncmp(line, "{\"interval\":{", 13) == 0) {
            intervals++;
            sum += json_number(line, "messages");
        } else {
            last = line;
        }
    }
    cr_expect_geq(intervals, 4, "4 intervals of 0.25 s in 1 s: %d", intervals);
    cr_assert_not_null(last, "no summary");
    cr_expect(strncmp(last, "{\"endpoint\":", 12) == 0, "the summary comes last: %s", last);
    cr_expect_eq(sum, json_number(last, "messages"), "intervals %.0f, summary: %s", sum, last);
    free(out);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

/* --server-pid: the server's CPU over the run, as /proc tells it to another reader around the
 * run, and per message. */
Test(bench, server_cpu_is_the_server_s_over_the_run, .timeout = 60)
{
    struct proc srv;
    char ep[64], pid[16];
    static const char *const quiet[] = { "--quiet", NULL };
    int rc;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "loop", ep, quiet);
    snprintf(pid, sizeof(pid), "%d", (int)srv.pid);
    const char *args[] = { ep, "--json", "-c", "4", "-n", "50000", "--server-pid", pid, NULL };
    long before = h_cpu_ms(srv.pid);
    char *json = run_bench(args, &rc);
    long used = h_cpu_ms(srv.pid) - before;
    double cpu =
        json_inner(json, "server_cpu", "user_s") + json_inner(json, "server_cpu", "system_s");

    cr_expect_eq(rc, 0, "%s", json);
    cr_expect_geq(used, 20, "the server did work: %ld ms", used);
    cr_expect_leq(cpu * 1000, (double)used + 15, "bench %.3f s, /proc %ld ms: %s", cpu, used, json);
    cr_expect_geq(cpu * 1000, (double)used - 30, "bench %.3f s, /proc %ld ms: %s", cpu, used, json);
    double per = json_inner(json, "server_cpu", "us_per_msg");
    cr_expect(per > cpu * 1e6 / 50000 * 0.99 && per < cpu * 1e6 / 50000 * 1.01, "%s", json);
    free(json);
    h_stop(&srv, SIGTERM, 5000);
    h_cleanup(&srv);
}

Test(bench, reverse_is_for_bulk_only)
{
    const char *const bad[][5] = {
        { "tcp://127.0.0.1:1", "-R", NULL },               /* pingpong */
        { "tcp://127.0.0.1:1", "-m", "send", "-R", NULL }, /* send */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        char *out = run_bench(bad[i], &rc);
        cr_expect_eq(rc, 2, "%s %s: exit %d", bad[i][1], bad[i][2], rc);
        free(out);
    }
}

Test(bench, interval_and_server_pid_refuse_bad_values)
{
    const char *const bad[][4] = {
        { "tcp://127.0.0.1:1", "--interval", "0", NULL },     /* not positive */
        { "tcp://127.0.0.1:1", "--interval", "0.001", NULL }, /* under 0.01 s */
        { "tcp://127.0.0.1:1", "--server-pid", "x", NULL },   /* not a pid */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        char *out = run_bench(bad[i], &rc);
        cr_expect_eq(rc, 2, "%s %s: exit %d", bad[i][1], bad[i][2], rc);
        free(out);
    }
    char *err;
    int rc;
    const char *args[] = { "tcp://127.0.0.1:1", "--server-pid", "4194304", NULL };
    char *out = run_bench_err(args, &rc, &err);
    cr_expect_eq(rc, 1, "no such process: exit %d", rc);
    cr_expect(strstr(err, "/proc/4194304/stat") != NULL, "stderr: %s", err);
    free(out);
    free(err);
}

/* Connect mode over a run long enough for the timeout checks (a tick every 100 ms) to run
 * while connections are closing between their messages: no error may come of it. */
Test(bench, connect_mode_runs_clean_across_timeout_checks, .timeout = 30)
{
    static const char *const extra[] = { "-m", "connect", "-c", "4", "-d", "0.6", NULL };
    check_mode("unix:@sockit-bench-ticks-%d", "loop", extra, 1);
    check_mode("tcp://127.0.0.1:%d", "loop", extra, 1);
}
