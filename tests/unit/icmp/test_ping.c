/* The ping session (src/lib/icmp/ping.c, ping_socket.c) over loopback: replies counted in both
 * families, the socket calls on the trace hook, a deadline, the stop fd, sizes refused before
 * any socket, and hosts resolved or refused. The raw socket needs root: skipped without it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sockit/clock.h"
#include "sockit/error.h"
#include "sockit/ping.h"

/* Trace lines kept in a buffer. */
struct lines {
    char text[8192];
    size_t len;
};

static void keep_line(void *ctx, const char *text)
{
    struct lines *l = ctx;
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", text);

    if (n > 0 && l->len + (size_t)n < sizeof(l->text))
        l->len += (size_t)n;
}

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("a raw ICMP socket needs root");
}

static struct sockit_addr resolved(const char *host)
{
    struct sockit_addr a;

    cr_assert_eq(sockit_ping_resolve(host, AF_UNSPEC, &a), 0, "%s", host);
    return a;
}

/* Run P to its end (at most 20 events); the replies it gave. */
static int run(struct sockit_ping *p, int stop_fd, int *rc)
{
    struct sockit_ping_event ev;
    int replies = 0;

    for (int i = 0; i < 20 && (*rc = sockit_ping_next(p, stop_fd, &ev)) == 1; i++) {
        cr_expect_eq(ev.kind, SOCKIT_PING_REPLY, "event %d: kind %d", i, ev.kind);
        cr_expect(ev.rtt_ns >= 0 || ev.len < SOCKIT_PING_HEADER + SOCKIT_PING_STAMP, "untimed");
        cr_expect_eq(ev.seq, replies + 1, "in order");
        replies++;
    }
    return replies;
}

static void pings_three_times(const char *host, int family)
{
    struct lines trace = { .len = 0 };
    struct sockit_trace hook = { keep_line, &trace };
    struct sockit_ping_options o = {
        .size = 56, .count = 3, .interval_ms = 20, .linger_ms = 2000, .trace = &hook
    };
    struct sockit_addr to = resolved(host);
    struct sockit_ping *p;
    struct sockit_ping_info info;
    struct sockit_ping_stats st;
    int rc;

    need_root();
    cr_assert_eq(sockit_ping_open(&p, &to, &o), 0);
    sockit_ping_info(p, &info);
    cr_expect_eq(info.family, family);
    cr_expect_eq(info.socktype, SOCK_RAW, "root gets the raw socket");
    cr_expect_eq(run(p, -1, &rc), 3);
    cr_expect_eq(rc, 0, "over when the count is answered");
    sockit_ping_stats(p, &st);
    cr_expect_eq(st.transmitted, 3);
    cr_expect_eq(st.received, 3);
    cr_expect_eq(st.loss_percent, 0);
    cr_expect(st.timed && st.success);
    cr_expect_leq(st.rtt_min_ns, st.rtt_avg_ns);
    cr_expect_leq(st.rtt_avg_ns, st.rtt_max_ns);
    sockit_ping_close(p);
    cr_expect(strstr(trace.text, family == AF_INET
                                     ? "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = "
                                     : "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) = ") != NULL,
              "%s", trace.text);
    cr_expect(strstr(trace.text, "[echo reply id=") != NULL, "%s", trace.text);
}

Test(ping_session, pings_ipv4_loopback, .timeout = 10)
{
    pings_three_times("127.0.0.1", AF_INET);
}

Test(ping_session, pings_ipv6_loopback, .timeout = 10)
{
    pings_three_times("::1", AF_INET6);
}

Test(ping_session, a_deadline_ends_a_session_without_a_count, .timeout = 10)
{
    struct sockit_ping_options o = { .size = 8, .interval_ms = 20, .deadline_ms = 150 };
    struct sockit_addr to = resolved("127.0.0.1");
    struct sockit_ping *p;
    struct sockit_ping_stats st;
    uint64_t start = sockit_clock_ns();
    int rc;

    need_root();
    cr_assert_eq(sockit_ping_open(&p, &to, &o), 0);
    int replies = run(p, -1, &rc);
    uint64_t took = sockit_clock_ns() - start;
    sockit_ping_stats(p, &st);
    sockit_ping_close(p);
    cr_expect_eq(rc, 0);
    cr_expect(took >= 150000000ull && took < 2000000000ull, "took %llu ns",
              (unsigned long long)took);
    cr_expect(st.transmitted >= 5 && st.transmitted <= 9, "%lu sent", st.transmitted);
    cr_expect_eq(st.received, (unsigned long)replies);
    cr_expect_not(st.timed, "8-byte payloads carry no send time");
}

Test(ping_session, the_stop_fd_ends_the_wait, .timeout = 10)
{
    struct sockit_ping_options o = { .size = 56, .interval_ms = 5000 };
    struct sockit_addr to = resolved("127.0.0.1");
    struct sockit_ping *p;
    struct sockit_ping_event ev;
    int fds[2];

    need_root();
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(sockit_ping_open(&p, &to, &o), 0);
    cr_expect_eq(sockit_ping_next(p, fds[0], &ev), 1, "the first reply");
    cr_assert_eq(write(fds[1], "x", 1), 1);
    cr_expect_eq(sockit_ping_next(p, fds[0], &ev), -ECANCELED, "then the stop, not a 5 s wait");
    sockit_ping_close(p);
    close(fds[0]);
    close(fds[1]);
}

Test(ping_session, sizes_past_the_family_maximum_are_refused_before_any_socket)
{
    struct sockit_ping_options o = { .size = SOCKIT_PING4_MAX_SIZE + 1 };
    struct sockit_addr v4 = resolved("127.0.0.1");
    struct sockit_ping *p = (struct sockit_ping *)&o;

    cr_expect_eq(sockit_ping_open(&p, &v4, &o), -EMSGSIZE);
    cr_expect_null(p);
    v4.u.sa.sa_family = AF_UNIX;
    cr_expect_eq(sockit_ping_open(&p, &v4, &o), -EAFNOSUPPORT);
}

Test(ping_session, hosts_are_resolved_or_refused_with_a_reason)
{
    struct sockit_addr a;

    cr_expect_eq(sockit_ping_resolve("127.0.0.1", AF_UNSPEC, &a), 0);
    cr_expect_eq(a.u.sa.sa_family, AF_INET);
    cr_expect_eq(sockit_ping_resolve("::1", AF_UNSPEC, &a), 0);
    cr_expect_eq(a.u.sa.sa_family, AF_INET6);
    cr_expect_eq(sockit_ping_resolve("::1", AF_INET, &a), -SOCKIT_ENOADDR);
    cr_expect_eq(sockit_ping_resolve("127.0.0.1", AF_INET6, &a), -SOCKIT_ENOADDR);
    cr_expect_eq(sockit_ping_resolve("", AF_UNSPEC, &a), -SOCKIT_EHOST, "empty");
    cr_expect_eq(sockit_ping_resolve("[::1]", AF_UNSPEC, &a), -SOCKIT_EHOST, "brackets");
    cr_expect_eq(sockit_ping_resolve("a b", AF_UNSPEC, &a), -SOCKIT_EHOST, "a space");
    cr_expect_eq(sockit_ping_resolve("0x7f.1", AF_UNSPEC, &a), -SOCKIT_EIPV4, "loose IPv4");
    cr_expect_eq(sockit_ping_resolve("1::2::3", AF_UNSPEC, &a), -SOCKIT_EIPV6);
}
