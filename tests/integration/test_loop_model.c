/* The loop model on every backend: echo on each, --threads with SO_REUSEPORT, a clean stop
 * on SIGINT, 10,000 idle connections that cost no CPU and little memory, and the fallback
 * with one notice when the kernel refuses io_uring (made to refuse here with seccomp, as
 * kernel.io_uring_disabled would). */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../support/harness.h"

/* In the child before exec: io_uring_setup fails with EPERM, as when an administrator sets
 * kernel.io_uring_disabled=2. */
static void refuse_io_uring(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

    h_die_with_parent();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        _exit(125);
}

static void start_loop_server(struct proc *p, const char *endpoint, const char *const extra[],
                              void (*pre_exec)(void))
{
    const char *args[20] = { "--quiet" };
    size_t n = 1;

    for (size_t i = 0; extra && extra[i] && n < 19; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    h_start_echo_pre(p, "loop", endpoint, args, pre_exec);
}

static void echo_on_backend(const char *backend)
{
    char tcp[64], udp[64], unix_ep[96], path[64];
    int port = h_free_port();
    const char *const extra[] = { "--backend", backend, NULL };
    struct proc a, b, c;

    snprintf(tcp, sizeof(tcp), "tcp://[::1]:%d", port);
    snprintf(udp, sizeof(udp), "udp://127.0.0.1:%d", port);
    h_tmp_path(path, sizeof(path), "loop.sock");
    snprintf(unix_ep, sizeof(unix_ep), "unix:%s", path);
    start_loop_server(&a, tcp, extra, NULL);
    start_loop_server(&b, udp, extra, NULL);
    start_loop_server(&c, unix_ep, extra, NULL);
    char *err = h_stderr(&a, NULL);
    char want[64];
    snprintf(want, sizeof(want), "event loop: %s backend", backend);
    cr_expect(strstr(err, want) != NULL, "the server names its backend: %s", err);
    free(err);
    h_expect_send_echo(tcp, "over tcp", 5000);
    h_expect_send_echo(udp, "over udp", 5000);
    h_expect_send_echo(unix_ep, "over unix", 5000);
    /* SIGINT, like ^C: every backend stops cleanly (exit 0; under ASan, nothing leaked). */
    cr_expect_eq(h_stop(&a, SIGINT, 5000), 0);
    cr_expect_eq(h_stop(&b, SIGINT, 5000), 0);
    cr_expect_eq(h_stop(&c, SIGINT, 5000), 0);
    h_cleanup(&a);
    h_cleanup(&b);
    h_cleanup(&c);
}

Test(loop_model, echo_and_clean_stop_on_uring, .timeout = 30)
{
    echo_on_backend("uring");
}

Test(loop_model, echo_and_clean_stop_on_epoll, .timeout = 30)
{
    echo_on_backend("epoll");
}

Test(loop_model, echo_and_clean_stop_on_poll, .timeout = 30)
{
    echo_on_backend("poll");
}

Test(loop_model, refused_io_uring_falls_back_with_one_notice, .timeout = 30)
{
    struct proc p;
    char ep[64];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    start_loop_server(&p, ep, NULL, refuse_io_uring);
    h_expect_send_echo(ep, "still served", 5000);
    cr_expect_eq(h_stop(&p, SIGTERM, 5000), 0);
    char *err = h_stderr(&p, NULL);
    const char *notice = "uring unavailable (Operation not permitted): using epoll";
    const char *first = strstr(err, notice);
    cr_expect(first != NULL, "one notice names the refusal and the fallback:\n%s", err);
    cr_expect(first == NULL || strstr(first + 1, notice) == NULL, "only one notice:\n%s", err);
    free(err);
    h_cleanup(&p);
}

Test(loop_model, explicit_backend_the_kernel_refuses_is_an_error, .timeout = 30)
{
    struct proc p;
    char ep[64];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *argv[] = { h_sockit(), "echo", ep, "--model", "loop", "--backend", "uring", NULL };
    h_start(&p, argv, NULL, 0, refuse_io_uring);
    cr_expect_eq(h_wait(&p, 5000), 1);
    char *err = h_stderr(&p, NULL);
    cr_expect(strstr(err, "sockit: start event loop uring: Operation not permitted") != NULL,
              "stderr: %s", err);
    free(err);
    h_cleanup(&p);
}

Test(loop_model, two_threads_share_the_port_and_serve_100_clients, .timeout = 60)
{
    struct proc p;
    char ep[64];
    int fds[100];
    const char *const extra[] = { "--threads", "2", NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    start_loop_server(&p, ep, extra, NULL);
    for (int i = 0; i < 100; i++) {
        fds[i] = h_connect(ep);
        cr_assert_geq(fds[i], 0, "client %d", i);
        cr_assert_eq(h_write_all(fds[i], "ping", 4), 0);
    }
    for (int i = 0; i < 100; i++) {
        char got[4];
        cr_expect_eq(h_read_exact(fds[i], got, 4), 0, "client %d got no echo", i);
        cr_expect_eq(memcmp(got, "ping", 4), 0);
        close(fds[i]);
    }
    char *err = h_stderr(&p, NULL);
    cr_expect(strstr(err, "2 threads") != NULL, "%s", err);
    free(err);
    cr_expect_eq(h_stop(&p, SIGTERM, 5000), 0);
    h_cleanup(&p);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

#define IDLE 10000

static void raise_fd_limit(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < IDLE + 500 && rl.rlim_max >= IDLE + 500) {
        rl.rlim_cur = IDLE + 500;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* 10,000 connected clients that send nothing: the server uses no CPU while they idle, and a
 * bounded, small amount of memory each (we print the figure; docs/benchmarks.md records it). */
static void idle_connections(const char *backend)
{
    struct rlimit rl;
    struct proc p;
    char ep[64], max[16];
    int *fds = calloc(IDLE, sizeof(int));

    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < IDLE + 500)
        cr_skip_test("the hard fd limit (%lu) is below %d", (unsigned long)rl.rlim_max, IDLE + 500);
    raise_fd_limit();
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    snprintf(max, sizeof(max), "%d", IDLE + 100);
    const char *const extra[] = { "--backend", backend, "--max-clients", max, NULL };
    start_loop_server(&p, ep, extra, NULL); /* inherits the raised limit */
    h_expect_send_echo(ep, "warm-up", 5000);
    long rss_before = rss_kb(p.pid);
    for (int i = 0; i < IDLE; i++) {
        fds[i] = h_connect(ep);
        cr_assert_geq(fds[i], 0, "client %d: %s", i, strerror(-fds[i]));
    }
    h_expect_send_echo(ep, "all connected", 5000); /* every accept has been handled */
    long rss_after = rss_kb(p.pid);
    long cpu_before = h_cpu_ms(p.pid);
    h_sleep_ms(1000);
    long cpu_idle = h_cpu_ms(p.pid) - cpu_before;
    double per_conn = (double)(rss_after - rss_before) * 1024.0 / IDLE;
    cr_log_info("%s: %d idle connections: %.0f bytes of server memory each, %ld ms CPU in 1 s",
                backend, IDLE, per_conn, cpu_idle);
    printf("loop %s: %d idle connections: %.0f bytes of server RSS each, %ld ms CPU in 1 s idle\n",
           backend, IDLE, per_conn, cpu_idle);
    cr_expect_leq(cpu_idle, 20, "idle connections cost %ld ms of CPU in 1 s", cpu_idle);
    long limit = getenv("SOCKIT_SANITIZED") ? 8192 : 2048; /* ASan redzones cost more */
    cr_expect_leq(per_conn, (double)limit, "%.0f bytes per idle connection", per_conn);
    h_expect_send_echo(ep, "still served", 5000);
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
    free(fds);
    cr_expect_eq(h_stop(&p, SIGTERM, 10000), 0, "stop with 10,000 clients connected");
    h_cleanup(&p);
}

Test(loop_model, ten_thousand_idle_connections_on_uring, .timeout = 120)
{
    idle_connections("uring");
}

Test(loop_model, ten_thousand_idle_connections_on_epoll, .timeout = 120)
{
    idle_connections("epoll");
}

/* Send into every client socket until none takes more (the server has stopped reading all of
 * them), or until DEADLINE_MS passes. */
static void flood_until_stalled(const int *fds, int n, int deadline_ms)
{
    static char chunk[64 * 1024];
    long long end = h_now_ms() + deadline_ms;
    int quiet_rounds = 0;

    while (h_now_ms() < end && quiet_rounds < 5) {
        ssize_t moved = 0;
        for (int i = 0; i < n; i++) {
            ssize_t k = send(fds[i], chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
            moved += k > 0 ? k : 0;
        }
        quiet_rounds = moved ? 0 : quiet_rounds + 1;
        if (!moved)
            h_sleep_ms(50);
    }
}

/* Clients that send and never read cost the server a bounded amount each, on every backend:
 * its pending echo (high watermark, 64 KiB) plus at most one read's worth (256 KiB) that was
 * already received when reading paused. Before the io_uring receive limit, an io_uring server
 * held 2-2.8 MB per such client. The warm-up first fills the io_uring buffer pool, which is
 * per loop, not per client. */
static void never_reading_clients(const char *backend, const char *layout)
{
    enum { N = 40 };
    struct proc p;
    char ep[64];
    int fds[N];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *const extra[] = { "--backend", backend, "--uring-buffers", layout, NULL };
    /* Under ASan freed memory waits in a quarantine (256 MiB by default) and counts as RSS:
     * an io_uring server copies every echo it sends (several MiB per client before the
     * client's window closes) and frees it, which measured 7 MiB per client. Keep it small,
     * as test_faults.c does, so RSS measures what the server holds. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=1", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    start_loop_server(&p, ep, extra, NULL);
    int warm = h_connect(ep);
    cr_assert_geq(warm, 0, "warm-up client: %s", strerror(-warm));
    static char block[1 << 20], back[1 << 20];
    for (int i = 0; i < 8; i++) { /* 8 MiB through the server: every pool buffer is touched */
        cr_assert_eq(h_write_all(warm, block, sizeof(block)), 0);
        cr_assert_eq(h_read_exact(warm, back, sizeof(back)), 0);
    }
    close(warm);
    h_sleep_ms(100);
    long before = rss_kb(p.pid);
    for (int i = 0; i < N; i++) {
        fds[i] = h_connect(ep);
        cr_assert_geq(fds[i], 0, "client %d: %s", i, strerror(-fds[i]));
    }
    flood_until_stalled(fds, N, 8000);
    long per_client = (rss_kb(p.pid) - before) / N;
    printf("loop %s (%s buffers): %ld KiB of server RSS per client that never reads\n", backend,
           layout, per_client);
    long limit = getenv("SOCKIT_SANITIZED") ? 1024 : 448; /* 64 + 256 KiB, plus slack */
    cr_expect_leq(per_client, limit, "%s: %ld KiB per never-reading client", backend, per_client);
    h_expect_send_echo(ep, "others still served", 5000);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    cr_expect_eq(h_stop(&p, SIGTERM, 10000), 0, "stop");
    h_cleanup(&p);
}

Test(loop_model, never_reading_clients_cost_one_read_each_on_epoll, .timeout = 60)
{
    never_reading_clients("epoll", "auto");
}

Test(loop_model, never_reading_clients_cost_one_read_each_on_poll, .timeout = 60)
{
    never_reading_clients("poll", "auto");
}

Test(loop_model, never_reading_clients_cost_one_read_each_on_uring, .timeout = 60)
{
    never_reading_clients("uring", "incremental");
}

Test(loop_model, never_reading_clients_cost_one_read_each_on_uring_classic, .timeout = 60)
{
    never_reading_clients("uring", "classic");
}

/* --trace on the loop model shows the article's calls as the backend makes them: the accept,
 * then recv and send (epoll, poll) or the io_uring requests and completions. */
static void trace_shows_the_loop(const char *backend, const char *const want[])
{
    struct proc p;
    char ep[64];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *const extra[] = { "--backend", backend, "--trace", NULL };
    start_loop_server(&p, ep, extra, NULL);
    h_expect_send_echo(ep, "traced", 5000);
    for (int i = 0; want[i]; i++)
        cr_expect(h_wait_stderr(&p, want[i], 3000), "%s: no '%s' in --trace output:\n%s", backend,
                  want[i], h_text_of(&p, true, NULL));
    cr_expect_eq(h_stop(&p, SIGTERM, 5000), 0);
    h_cleanup(&p);
}

Test(loop_model, trace_shows_accept_recv_send_on_epoll, .timeout = 30)
{
    const char *const want[] = { "accept(", "epoll_pwait2(", "recv(", "send(", "close(", NULL };
    trace_shows_the_loop("epoll", want);
}

Test(loop_model, trace_shows_accept_recv_send_on_poll, .timeout = 30)
{
    const char *const want[] = { "accept(", "ppoll(", "recv(", "send(", NULL };
    trace_shows_the_loop("poll", want);
}

Test(loop_model, trace_shows_io_uring_requests, .timeout = 30)
{
    const char *const want[] = { "accept(",
                                 "io_uring: + recv multishot fd",
                                 "io_uring: recv multishot fd",
                                 "io_uring: + send fd",
                                 "io_uring_enter(submit",
                                 NULL };
    trace_shows_the_loop("uring", want);
}
