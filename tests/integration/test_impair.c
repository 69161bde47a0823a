/* sockit impair between a UDP client of ours and sockit echo udp://: the loss asked is the loss
 * seen, and its own counters agree with what came back; one seed decides the same way twice;
 * delays at ms and sub-ms scale; the control channel changes the network mid-run; an upstream
 * that is not there, a session cap and 10,000 sessions opened and expired leave it serving
 * with no session or fd left over; bad options are usage errors. On tcp://: delay per
 * direction, bytes whole and in order through loss, jitter and a rate, curl fetching from
 * sockit http through it, a refused upstream, stall and reset from the control channel. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../support/harness.h"

static struct proc *echo;
static char echo_ep[64];

static void start_echo(void)
{
    snprintf(echo_ep, sizeof(echo_ep), "udp://127.0.0.1:%d", h_free_port());
    const char *argv[] = { h_sockit(), "echo", echo_ep, "--model", "loop", NULL };
    echo = h_start_tracked("sockit echo udp://", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(echo, "listening on", 5000), "the udp echo did not start");
}

static void stop_all(void)
{
    h_cleanup_tracked();
    echo = NULL;
}

TestSuite(impair_udp, .init = start_echo, .fini = stop_all, .timeout = 90);

/* sockit impair -l SCHEME://127.0.0.1:PORT -t UPSTREAM --json ARGS...; LISTEN (CAP bytes) gets
 * the endpoint; waits for its start line. */
static struct proc *start_proxy(const char *scheme, char *listen, size_t cap, const char *upstream,
                                const char *const args[])
{
    const char *argv[40] = { h_sockit(), "impair", "-l", listen, "-t", upstream, "--json" };
    size_t n = 7;

    snprintf(listen, cap, "%s://127.0.0.1:%d", scheme, h_free_port());
    for (size_t i = 0; args && args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct proc *p = h_start_tracked("sockit impair", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(p, "sockit impair: up:", 5000), "sockit impair did not start");
    return p;
}

static struct proc *start_impair(char *listen, size_t cap, const char *upstream,
                                 const char *const args[])
{
    return start_proxy("udp", listen, cap, upstream, args);
}

/* Stop P with SIGTERM; its --json counters (the caller frees them). */
static json_t *stop_impair(struct proc *p)
{
    json_error_t e;

    cr_assert_eq(h_stop(p, SIGTERM, 5000), 0, "%s", h_text_of(p, true, NULL));
    json_t *j = json_loads(h_text_of(p, false, NULL), 0, &e);
    cr_assert_not_null(j, "no JSON: %s (%s)", h_text_of(p, false, NULL), e.text);
    return j;
}

static long long jget(json_t *j, const char *dir, const char *key)
{
    json_t *o = dir ? json_object_get(j, dir) : j;
    json_t *v = o ? json_object_get(o, key) : NULL;

    cr_assert(json_is_integer(v), "no %s.%s", dir ? dir : "", key);
    return json_integer_value(v);
}

/* Connect UDP socket FD to ENDPOINT (udp://127.0.0.1:PORT); returns FD. */
static int connect_to(int fd, const char *endpoint)
{
    int port = atoi(strrchr(endpoint, ':') + 1);
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(0x7f000001) };

    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* A UDP socket connected to ENDPOINT, with room for a burst of echoes. */
static int udp_to(const char *endpoint)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 4 << 20;

    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    return connect_to(fd, endpoint);
}

/* A UDP socket from source address 127.1.X.Y (distinct for each I below 62,500, so no two
 * are one session however the kernel picks ports), connected to ENDPOINT. */
static int udp_from(int i, const char *endpoint)
{
    struct sockaddr_in src = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((i / 250) << 8) |
                                                        (uint32_t)(i % 250 + 1)) };
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0, "bind: %s", strerror(errno));
    return connect_to(fd, endpoint);
}

/* Read echoes until QUIET_MS pass without one; mark each number seen in GOT. */
static size_t drain(int fd, int quiet_ms, uint8_t *got, size_t n)
{
    uint32_t buf[64];
    size_t count = 0;
    ssize_t r;

    while ((r = h_read_within(fd, quiet_ms, buf, sizeof(buf))) >= 4) {
        if (buf[0] < n)
            got[buf[0]] = 1;
        count++;
    }
    return count;
}

/* Send N numbered 64-byte datagrams through FD in bursts of BURST, collecting echoes; returns
 * how many came back, and which in GOT (N bytes). */
static size_t exchange(int fd, size_t n, size_t burst, uint8_t *got)
{
    uint32_t msg[16] = { 0 };
    size_t back = 0;

    memset(got, 0, n);
    for (size_t i = 0; i < n; i += burst) {
        for (size_t k = i; k < i + burst && k < n; k++) {
            msg[0] = (uint32_t)k;
            cr_assert_eq(send(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
        }
        back += drain(fd, 15, got, n);
    }
    return back + drain(fd, 100, got, n);
}

Test(impair_udp, loss_seen_is_the_loss_asked_and_the_counters_agree)
{
    char listen[64];
    const char *args[] = { "--up-loss", "10%", "--seed", "1", NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    enum { N = 20000 };
    uint8_t *got = malloc(N);
    int fd = udp_to(listen);

    size_t back = exchange(fd, N, 200, got);
    close(fd);
    double loss = 1.0 - (double)back / N;
    cr_expect(loss > 0.09 && loss < 0.11, "%.4f lost, 0.10 asked", loss);
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, "up", "in"), N);
    cr_expect_eq(jget(j, "up", "lost"), N - (long long)back, "proxy %lld lost, client saw %zu",
                 jget(j, "up", "lost"), N - back);
    cr_expect_eq(jget(j, "down", "out"), (long long)back);
    cr_expect_eq(jget(j, "down", "lost"), 0);
    cr_expect_eq(jget(j, NULL, "sessions_opened"), 1);
    cr_expect_eq(jget(j, NULL, "seed"), 1, "the run's seed, to repeat it");
    json_t *settings = json_object_get(j, "settings");
    cr_expect_str_eq(json_string_value(json_object_get(settings, "up")), "loss 10%");
    cr_expect_str_eq(json_string_value(json_object_get(settings, "down")), "none");
    json_decref(j);
    free(got);
}

/* Which of 3000 datagrams a run with SEED let through (both ways at 20 %). */
static void lost_set(const char *seed, uint8_t *got)
{
    char listen[64];
    const char *args[] = { "--loss", "20%", "--seed", seed, NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    int fd = udp_to(listen);

    exchange(fd, 3000, 100, got);
    close(fd);
    json_decref(stop_impair(p));
}

Test(impair_udp, one_seed_decides_the_same_way_twice)
{
    static uint8_t a[3000], b[3000], c[3000];

    lost_set("7", a);
    lost_set("7", b);
    lost_set("8", c);
    cr_expect(memcmp(a, b, sizeof(a)) == 0, "seed 7 twice: different datagrams lost");
    cr_expect(memcmp(a, c, sizeof(a)) != 0, "seeds 7 and 8: the same datagrams lost");
}

/* Median round trip of COUNT pings of one datagram each, in ms. */
static double median_rtt_ms(const char *endpoint, int count)
{
    double rtt[200];
    int fd = udp_to(endpoint), n = 0;
    uint32_t msg[16] = { 0 }, buf[64];

    cr_assert_leq(count, 200);
    for (int i = 0; i < count; i++) {
        msg[0] = (uint32_t)i;
        long long t0 = h_now_ms();
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        (void)t0;
        cr_assert_eq(send(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
        if (h_read_within(fd, 1000, buf, sizeof(buf)) < 4)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &b);
        rtt[n++] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    close(fd);
    cr_assert_gt(n, count / 2, "only %d of %d pings came back", n, count);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen values */
        for (int k = i; k > 0 && rtt[k] < rtt[k - 1]; k--) {
            double t = rtt[k];
            rtt[k] = rtt[k - 1];
            rtt[k - 1] = t;
        }
    return rtt[n / 2];
}

Test(impair_udp, delay_holds_at_ms_and_sub_ms_scale)
{
    char listen[64];
    const char *ms[] = { "--delay", "20ms", NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, ms);
    double rtt = median_rtt_ms(listen, 30);

    cr_expect(rtt >= 40.0 && rtt < 41.5, "20 ms each way: median round trip %.3f ms", rtt);
    json_decref(stop_impair(p));

    const char *us[] = { "--up-delay", "500us", "--down-delay", "250us", NULL };
    p = start_impair(listen, sizeof(listen), echo_ep, us);
    rtt = median_rtt_ms(listen, 100);
    cr_expect(rtt >= 0.75 && rtt < 1.25, "500 + 250 us: median round trip %.3f ms", rtt);
    json_decref(stop_impair(p));
}

/* One command on the control socket at abstract NAME; the answer line (static). */
static const char *control(int fd, const char *cmd)
{
    static char buf[4096];
    size_t len = 0;

    cr_assert_eq(h_write_all(fd, cmd, strlen(cmd)), 0);
    while (len < sizeof(buf) - 1) {
        ssize_t r = h_read_within(fd, 2000, buf + len, 1);
        cr_assert_eq(r, 1, "no answer to %s", cmd);
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return buf;
}

static int control_connect(const char *name)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    a.sun_path[0] = '\0';
    memcpy(a.sun_path + 1, name, strlen(name));
    cr_assert_eq(connect(fd, (struct sockaddr *)&a,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))),
                 0, "connect to the control socket: %s", strerror(errno));
    return fd;
}

Test(impair_udp, the_control_channel_changes_the_network_mid_run)
{
    char listen[64], name[64], ctl[80];
    static uint8_t got[1000];

    snprintf(name, sizeof(name), "sockit-impair-test-%d", getpid());
    snprintf(ctl, sizeof(ctl), "unix:@%s", name);
    const char *args[] = { "--control", ctl, NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    int c = control_connect(name), fd = udp_to(listen);

    cr_expect_eq(exchange(fd, 500, 100, got), 500);
    cr_expect_str_eq(control(c, "set up loss 100%\n"), "ok");
    cr_expect_str_eq(control(c, "show\n"), "up: loss 100%; down: none");
    cr_expect_eq(exchange(fd, 500, 100, got), 0);
    cr_expect_str_eq(control(c, "clear\r\n"), "ok");
    cr_expect_eq(exchange(fd, 500, 100, got), 500);
    cr_expect_str_eq(control(c, "set delay 5ms\n"), "ok");
    cr_expect_str_eq(control(c, "set keep-order\n"), "ok");
    cr_expect_str_eq(control(c, "show\n"),
                     "up: delay 5ms keep-order on; down: delay 5ms keep-order on");
    cr_expect(strncmp(control(c, "stats\n"), "{\"sessions\":1,", 14) == 0, "%s",
              control(c, "stats\n"));
    cr_expect(strstr(control(c, "set loss 150%\n"), "error: loss: a percentage"), "%s",
              control(c, "set loss 150%\n"));
    cr_expect(strstr(control(c, "set delay 20\n"), "error: delay: a time with its unit"), "%s",
              control(c, "set delay 20\n"));
    cr_expect(strstr(control(c, "jump\n"), "error: unknown command 'jump'"), "%s",
              control(c, "jump\n"));
    cr_expect_str_eq(control(c, "show\n"),
                     "up: delay 5ms keep-order on; down: delay 5ms keep-order on");
    /* a line over 512 bytes closes that connection, and only that one */
    char longline[700];
    memset(longline, 'x', sizeof(longline));
    cr_assert_eq(h_write_all(c, longline, sizeof(longline)), 0);
    char b[64];
    cr_expect_eq(h_read_within(c, 2000, b, sizeof(b)), 0, "the long line's connection stays");
    close(c);
    c = control_connect(name);
    cr_expect_str_eq(control(c, "help\n"), "commands: set [up|down] NAME VALUE; clear [up|down]; "
                                           "stall [up|down] TIME; reset; show; stats; help");
    close(c);
    close(fd);
    json_decref(stop_impair(p));
}

Test(impair_udp, an_upstream_that_is_not_there_is_counted_not_fatal)
{
    char listen[64], nowhere[64];
    static uint8_t got[100];

    snprintf(nowhere, sizeof(nowhere), "udp://127.0.0.1:%d", h_free_port());
    struct proc *p = start_impair(listen, sizeof(listen), nowhere, NULL);
    int fd = udp_to(listen);

    cr_expect_eq(exchange(fd, 50, 10, got), 0);
    close(fd);
    H_CHECK(h_wait_stderr(p, "upstream 127.0.0.1:", 2000), "no notice of the ICMP errors");
    json_t *j = stop_impair(p);
    cr_expect_gt(jget(j, NULL, "icmp_errors"), 0);
    cr_expect_eq(jget(j, "up", "out"), 50);
    json_decref(j);
}

Test(impair_udp, sessions_beyond_the_cap_are_refused_and_counted)
{
    char listen[64];
    static uint8_t got[10];
    const char *args[] = { "--max-sessions", "2", NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    int fd[3];

    for (int i = 0; i < 3; i++)
        fd[i] = udp_to(listen);
    cr_expect_eq(exchange(fd[0], 5, 5, got), 5);
    cr_expect_eq(exchange(fd[1], 5, 5, got), 5);
    cr_expect_eq(exchange(fd[2], 5, 5, got), 0);
    H_CHECK(h_wait_stderr(p, "refused: 2 sessions already", 2000), "no notice of the refusal");
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, NULL, "sessions_refused"), 5);
    cr_expect_eq(jget(j, NULL, "sessions_opened"), 2);
    json_decref(j);
}

/* A burst into a slow link with a short queue: the tail is dropped and counted, the rest
 * paced out at the rate, and the proxy serves on. */
Test(impair_udp, a_full_queue_drops_the_tail_and_serves_on)
{
    char listen[64];
    static uint8_t got[500];
    const char *args[] = { "--up-rate", "1mbit", "--up-limit", "20", NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    int fd = udp_to(listen);

    /* 100 x 64 B as fast as we can send (few enough for the proxy's socket buffer to hold, so
     * the kernel drops none of them): the link takes one every 512 us, so while the burst is
     * sent a few leave and make room; the rest of it is dropped by the queue */
    size_t back = exchange(fd, 100, 100, got);
    cr_expect(back >= 20 && back <= 40, "%zu came back through a queue of 20", back);
    cr_expect_eq(exchange(fd, 5, 1, got), 5, "the proxy serves on after the burst");
    close(fd);
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, "up", "in"), 105);
    cr_expect_eq(jget(j, "up", "out"), (long long)back + 5, "everything released came back");
    cr_expect_eq(jget(j, "up", "queue_drops"), 100 - (long long)back);
    json_decref(j);
}

static int fd_count(pid_t pid)
{
    char path[64];
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

Test(impair_udp, ten_thousand_sessions_open_and_expire_leaving_nothing, .timeout = 120)
{
    char listen[64];
    const char *args[] = { "--session-idle", "100ms", "--max-sessions", "5000", NULL };
    struct proc *p = start_impair(listen, sizeof(listen), echo_ep, args);
    int before = fd_count(p->pid);
    uint32_t msg[4] = { 0 };

    uint32_t back[4];
    int echoed = 0;
    for (int i = 0; i < 10000; i++) { /* one round trip each: every session carries traffic */
        int fd = udp_from(i, listen);
        msg[0] = (uint32_t)i;
        cr_assert_eq(send(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
        echoed += h_read_within(fd, 2000, back, sizeof(back)) == (ssize_t)sizeof(msg);
        close(fd);
    }
    cr_expect_eq(echoed, 10000);
    h_sleep_ms(400);
    cr_expect_eq(fd_count(p->pid), before, "fds: %d before, %d after", before, fd_count(p->pid));
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, NULL, "sessions_opened"), 10000, "%lld opened",
                 jget(j, NULL, "sessions_opened"));
    cr_expect_eq(jget(j, NULL, "sessions_expired"), 10000, "%lld expired",
                 jget(j, NULL, "sessions_expired"));
    cr_expect_eq(jget(j, NULL, "sessions"), 0);
    cr_expect_eq(jget(j, NULL, "sessions_refused"), 0);
    json_decref(j);
}

/* Each command line: exit 2 and the message. */
Test(impair_udp, bad_options_are_usage_errors)
{
    const char *bad[][8] = {
        { "--loss", "150%", NULL },
        { "--loss", "10", NULL },
        { "--delay", "20", NULL },
        { "--up-jitter", "5parsecs", NULL },
        { "--rate", "10", NULL },
        { "--rate", "10mb", NULL },
        { "--ge", "5%", NULL },
        { "--ge", "5%,0%", NULL },
        { "--limit", "0", NULL },
        { "--mtu", "70000", NULL },
        { "--distribution", "poisson", NULL },
        { "--down-reorder", "-1%", NULL },
        { "--session-idle", "0ms", NULL },
        { "--max-sessions", "0", NULL },
        { "--up-nothing", "1", NULL },
        { "--duplicate", "1%", "-l", "tcp://127.0.0.1:0", "-t", "tcp://127.0.0.1:9", NULL },
    };
    const char *want[] = {
        "--loss 150%: a percentage",
        "--loss 10: a percentage",
        "--delay 20: a time with its unit",
        "--up-jitter 5parsecs: a time",
        "--rate 10: a rate",
        "--rate 10mb: a rate",
        "--ge 5%: P%,R%",
        "--ge 5%,0%: P%,R%",
        "--limit 0: a number of packets",
        "--mtu 70000: a size",
        "--distribution poisson: uniform or normal",
        "--down-reorder -1%: a percentage",
        "--session-idle 0ms",
        "--max-sessions",
        "up-nothing",
        "--duplicate: a stream has no datagrams",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[16] = { h_sockit(),          "impair", "-l",
                                 "udp://127.0.0.1:0", "-t",     "udp://127.0.0.1:9" };
        size_t n = 6;
        for (size_t k = 0; bad[i][k]; k++)
            argv[n++] = bad[i][k];
        struct proc p;
        h_start(&p, argv, "", 0, NULL);
        cr_expect_eq(h_wait(&p, 5000), 2, "%s %s: exit %d", bad[i][0], bad[i][1], p.status);
        cr_expect(strstr(h_text_of(&p, true, NULL), want[i]), "%s %s: %s", bad[i][0], bad[i][1],
                  h_text_of(&p, true, NULL));
        h_cleanup(&p);
    }
    const char *none[][10] = {
        { h_sockit(), "impair", "-l", "udp://127.0.0.1:0", NULL },
        { h_sockit(), "impair", "-l", "tcp://127.0.0.1:0", "-t", "udp://127.0.0.1:9", NULL },
        { h_sockit(), "impair", "-l", "udp://127.0.0.1:0", "-t", "udp://127.0.0.1:9", "--control",
          "udp://127.0.0.1:0" },
    };
    const char *why[] = { "--to is required", "both datagrams or both streams",
                          "a stream endpoint" };
    for (size_t i = 0; i < 3; i++) {
        struct proc p;
        h_start(&p, none[i], "", 0, NULL);
        cr_expect_eq(h_wait(&p, 5000), 2);
        cr_expect(strstr(h_text_of(&p, true, NULL), why[i]), "%s", h_text_of(&p, true, NULL));
        h_cleanup(&p);
    }
}

/* ---- streams (tcp://) ---------------------------------------------------------------------- */

static struct proc *tcp_echo;
static char tcp_echo_ep[64];

static void start_tcp_echo(void)
{
    snprintf(tcp_echo_ep, sizeof(tcp_echo_ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *argv[] = { h_sockit(), "echo", tcp_echo_ep, "--model", "loop", NULL };
    tcp_echo = h_start_tracked("sockit echo tcp://", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(tcp_echo, "listening on", 5000), "the tcp echo did not start");
}

TestSuite(impair_tcp, .init = start_tcp_echo, .fini = stop_all, .timeout = 90);

static struct proc *start_tcp_impair(char *listen, size_t cap, const char *upstream,
                                     const char *const args[])
{
    return start_proxy("tcp", listen, cap, upstream, args);
}

static double since_ms(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

Test(impair_tcp, delay_holds_each_way_per_connection)
{
    char listen[64], buf[64];
    const char *args[] = { "--up-delay", "15ms", "--down-delay", "5ms", NULL };
    struct proc *p = start_tcp_impair(listen, sizeof(listen), tcp_echo_ep, args);
    int fd = h_connect(listen);
    double best = 1e9;

    cr_assert_geq(fd, 0);
    for (int i = 0; i < 10; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_assert_eq(h_write_all(fd, "0123456789", 10), 0);
        cr_assert_eq(h_read_exact(fd, buf, 10), 0);
        double ms = since_ms(&t0);
        best = ms < best ? ms : best;
        cr_expect_lt(ms, 30.0, "round trip %d: %.2f ms", i, ms);
    }
    cr_expect_geq(best, 20.0, "15 + 5 ms: the fastest round trip took %.2f ms", best);
    close(fd);
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, NULL, "sessions_opened"), 1);
    json_decref(j);
}

/* 256 KiB of random bytes echoed through loss, jitter and a rate limit come back whole and in
 * order: loss on a stream is a retransmission delay, never a hole. */
Test(impair_tcp, bytes_come_back_whole_through_loss_jitter_and_rate)
{
    char listen[64];
    const char *args[] = { "--loss", "5%",     "--jitter", "2ms", "--delay", "3ms",
                           "--rate", "16mbit", "--seed",   "3",   NULL };
    struct proc *p = start_tcp_impair(listen, sizeof(listen), tcp_echo_ep, args);
    enum { SIZE = 256 << 10 };
    uint8_t *out = malloc(SIZE), *in = malloc(SIZE);
    int fd = h_connect(listen);
    struct timespec t0;

    cr_assert_geq(fd, 0);
    h_fill(out, SIZE, 42);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t off = 0; off < SIZE; off += 16384) { /* write and read in turns: no deadlock */
        cr_assert_eq(h_write_all(fd, out + off, 16384), 0);
        cr_assert_eq(h_read_exact(fd, in + off, 16384), 0, "at byte %zu", off);
    }
    double ms = since_ms(&t0);
    cr_expect(memcmp(in, out, SIZE) == 0, "the bytes came back changed");
    /* 16 Mbit/s each way: 256 KiB take 131 ms on the wire at least, plus a 200 ms
     * retransmission for each lost piece */
    cr_expect_geq(ms, 131.0, "256 KiB at 16 Mbit/s in %.1f ms", ms);
    close(fd);
    h_sleep_ms(500); /* the end of input goes through too (delayed, maybe retransmitted) */
    json_t *j = stop_impair(p);
    cr_expect_gt(jget(j, "up", "lost"), 0);
    cr_expect_eq(jget(j, "up", "in"), jget(j, "up", "out"));
    json_decref(j);
    free(in);
    free(out);
}

/* curl fetches a file from sockit http through the proxy: a client and a server we did not
 * pair by hand, over delay and loss. */
Test(impair_tcp, curl_gets_a_file_from_sockit_http_through_it)
{
    char dir[128], path[160], http_ep[64], listen[64], cmd[512];
    enum { SIZE = 300000 };
    static uint8_t data[SIZE];

    h_tmp_path(dir, sizeof(dir), "www");
    cr_assert_eq(mkdir(dir, 0700), 0);
    h_track_path(dir);
    snprintf(path, sizeof(path), "%s/f.bin", dir);
    h_track_path(path);
    h_fill(data, SIZE, 7);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, SIZE, f), SIZE);
    fclose(f);
    snprintf(http_ep, sizeof(http_ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *hargv[] = { h_sockit(), "http", "-l", http_ep, dir, NULL };
    struct proc *http = h_start_tracked("sockit http", hargv, "", 0, NULL);
    H_CHECK(h_wait_stderr(http, "serving ", 5000), "sockit http did not start");
    const char *args[] = { "--delay", "2ms", "--loss", "2%", "--seed", "5", NULL };
    struct proc *p = start_tcp_impair(listen, sizeof(listen), http_ep, args);

    snprintf(cmd, sizeof(cmd),
             "curl -sS --max-time 20 -o %s/got.bin -w '%%{http_code}' http://%s/f.bin", dir,
             strstr(listen, "//") + 2);
    char got_path[200];
    snprintf(got_path, sizeof(got_path), "%s/got.bin", dir);
    h_track_path(got_path);
    FILE *c = popen(cmd, "r");
    char code[16] = "";
    cr_assert_not_null(c);
    cr_expect_not_null(fgets(code, sizeof(code), c));
    cr_expect_eq(pclose(c), 0);
    cr_expect_str_eq(code, "200");
    f = fopen(got_path, "rb");
    cr_assert_not_null(f);
    static uint8_t got[SIZE + 1];
    size_t n = fread(got, 1, sizeof(got), f);
    fclose(f);
    cr_expect_eq(n, SIZE);
    cr_expect(memcmp(got, data, SIZE) == 0, "curl got different bytes");
    json_decref(stop_impair(p));
}

Test(impair_tcp, a_refused_upstream_closes_the_client_and_says_so)
{
    char listen[64], nowhere[64], buf[16];

    snprintf(nowhere, sizeof(nowhere), "tcp://127.0.0.1:%d", h_free_port());
    struct proc *p = start_tcp_impair(listen, sizeof(listen), nowhere, NULL);
    int fd = h_connect(listen);

    cr_assert_geq(fd, 0);
    ssize_t r = h_read_within(fd, 3000, buf, sizeof(buf));
    cr_expect_leq(r, 0, "the client's connection stays open");
    close(fd);
    H_CHECK(h_wait_stderr(p, "upstream connection: Connection refused", 2000),
            "no notice of the refused upstream");
    json_t *j = stop_impair(p);
    cr_expect_eq(jget(j, NULL, "sessions"), 0);
    json_decref(j);
}

Test(impair_tcp, stall_holds_and_reset_resets)
{
    char listen[64], name[64], ctl[80], buf[16];

    snprintf(name, sizeof(name), "sockit-impair-tcp-%d", getpid());
    snprintf(ctl, sizeof(ctl), "unix:@%s", name);
    const char *args[] = { "--control", ctl, NULL };
    struct proc *p = start_tcp_impair(listen, sizeof(listen), tcp_echo_ep, args);
    int c = control_connect(name), fd = h_connect(listen);
    struct timespec t0;

    cr_assert_geq(fd, 0);
    cr_assert_eq(h_write_all(fd, "ping", 4), 0);
    cr_assert_eq(h_read_exact(fd, buf, 4), 0);
    cr_expect_str_eq(control(c, "stall 300ms\n"), "ok");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(h_write_all(fd, "ping", 4), 0);
    cr_assert_eq(h_read_exact(fd, buf, 4), 0);
    double ms = since_ms(&t0);
    cr_expect(ms >= 290 && ms < 600, "a stall of 300 ms: the echo took %.1f ms", ms);
    cr_expect(strstr(control(c, "set reorder 5%\n"), "error: reorder: a stream has no datagrams"),
              "reorder accepted on a stream");
    cr_expect_str_eq(control(c, "reset\n"), "ok: 1 connections reset");
    errno = 0;
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    cr_expect(r < 0 && errno == ECONNRESET, "after reset: recv %zd, %s", r, strerror(errno));
    close(fd);
    close(c);
    json_decref(stop_impair(p));
}
