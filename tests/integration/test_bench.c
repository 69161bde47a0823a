/* sockit bench against a real echo server: every mode completes with sane numbers, the JSON
 * is complete, an absent server is one clear error, a server that dies is reported. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static char *run_bench(const char *const args[], int *rc)
{
    const char *argv[24] = { h_sockit(), "bench" };
    size_t n = 2;
    struct proc p;

    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    h_start(&p, argv, "", 0, NULL);
    *rc = h_wait(&p, 30000);
    char *out = h_stdout(&p, NULL), *err = h_stderr(&p, NULL);
    if (*rc != 0)
        cr_log_info("bench stderr:\n%s", err);
    free(err);
    h_cleanup(&p);
    return out;
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
