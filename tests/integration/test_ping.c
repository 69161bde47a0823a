/* sockit ping on a real link (two network namespaces joined by a veth pair, made by each test)
 * and beside iputils ping on the same path: the same replies, the same losses under an
 * nftables rule that drops echo requests (all, or every other one), the same errors when no
 * neighbour answers, the same exit status. Then what an unprivileged user gets: the ICMP
 * datagram socket where net.ipv4.ping_group_range allows it, one clear line where it does
 * not; usage errors, --json, --trace, and the statistics at SIGINT. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/netns.h"

#define IPUTILS "/usr/bin/ping"
#define NOBODY  65534

static struct h_netpair pair;
static char etc_netns[128]; /* /etc/netns/NS made for a test, removed after it */
static char enter_ns[32];   /* the namespace enter_as_nobody joins (for a child's pre_exec) */

static void cleanup(void)
{
    char cmd[200];

    h_cleanup_tracked();
    h_netpair_destroy(&pair);
    if (etc_netns[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", etc_netns);
        cr_expect_eq(system(cmd), 0);
        etc_netns[0] = '\0';
    }
}

TestSuite(ping, .fini = cleanup, .timeout = 90);

static void need_pair(void)
{
    if (!h_netns_available())
        cr_skip_test("network namespaces need root");
    if (access(IPUTILS, X_OK) != 0 || system("command -v nft >/dev/null") != 0)
        cr_skip_test("iputils ping and nft are needed (make deps)");
    h_netpair_create(&pair);
}

/* ---- running sockit and iputils ---------------------------------------------------------- */

struct run {
    int rc;
    char out[16384];
    char err[8192];
};

static void run_argv(const char *const argv[], void (*pre_exec)(void), struct run *r)
{
    struct proc p;

    h_start(&p, argv, "", 0, pre_exec);
    r->rc = h_wait(&p, 40000);
    snprintf(r->out, sizeof(r->out), "%s", h_text_of(&p, false, NULL));
    snprintf(r->err, sizeof(r->err), "%s", h_text_of(&p, true, NULL));
    h_cleanup(&p);
}

/* PROGRAM ARGS... in namespace NS (NULL: here). PROGRAM NULL: "sockit ping". */
static void run_in(const char *ns, const char *program, const char *const args[], struct run *r)
{
    const char *argv[32] = { 0 };
    int n = 0;

    if (ns) {
        argv[n++] = "ip", argv[n++] = "netns", argv[n++] = "exec", argv[n++] = ns;
    }
    argv[n++] = program ? program : h_sockit();
    if (!program)
        argv[n++] = "ping";
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    run_argv(argv, h_die_with_parent, r);
}

/* Join the namespace ENTER_NS, then become uid and gid 65534 with no other group. */
static void enter_as_nobody(void)
{
    char path[96];
    int fd;

    if (enter_ns[0]) {
        snprintf(path, sizeof(path), "/run/netns/%s", enter_ns);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(125);
    }
    if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
        _exit(125);
    h_die_with_parent(); /* after setuid, which clears the death signal */
}

/* "sockit ping ARGS..." in NS (NULL: here) as uid 65534. */
static void run_as_nobody(const char *ns, const char *const args[], struct run *r)
{
    const char *argv[32] = { h_sockit(), "ping" };
    int n = 2;

    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    snprintf(enter_ns, sizeof(enter_ns), "%s", ns ? ns : "");
    run_argv(argv, enter_as_nobody, r);
    if (r->rc == 126 || r->rc == 127)
        cr_skip_test("%s cannot be run by uid %d from here: %s", h_sockit(), NOBODY, r->err);
    cr_assert_neq(r->rc, 125, "could not enter %s as uid %d", ns, NOBODY);
}

/* ---- reading what ping printed ------------------------------------------------------------- */

struct summary {
    int rc; /* exit status */
    long transmitted, received, duplicates, errors;
    double loss;
    unsigned seqs; /* bit N: a reply line with icmp_seq=N (N < 32) */
};

static long count_after(const char *line, const char *end, const char *what)
{
    const char *at = strstr(line, what);
    long v = 0;

    if (at && at < end) {
        while (at > line && at[-1] != '+')
            at--;
        v = strtol(at, NULL, 10);
    }
    return v;
}

static struct summary summary_of(const struct run *r)
{
    struct summary s = { .transmitted = -1 };
    const char *line = strstr(r->out, "packets transmitted");

    for (const char *p = r->out; (p = strstr(p, "bytes from ")); p++) {
        const char *seq = strstr(p, "icmp_seq=");
        int n = seq ? atoi(seq + 9) : -1;
        if (n >= 0 && n < 32)
            s.seqs |= 1u << n;
    }
    cr_assert_not_null(line, "no statistics in:\n%s\nstderr:\n%s", r->out, r->err);
    while (line > r->out && line[-1] != '\n')
        line--;
    const char *end = strchr(line, '\n');
    end = end ? end : line + strlen(line);
    cr_assert_eq(sscanf(line, "%ld packets transmitted, %ld received", &s.transmitted, &s.received),
                 2, "%s", line);
    s.duplicates = count_after(line, end, " duplicates");
    s.errors = count_after(line, end, " errors");
    const char *loss = strstr(line, "% packet loss");
    while (loss && loss > line && loss[-1] != ' ')
        loss--;
    s.loss = loss ? strtod(loss, NULL) : -1;
    return s;
}

/* sockit and iputils, run with the same ARGS in NS, said the same. */
static struct summary same_as_iputils(const char *ns, const char *const args[])
{
    struct run mine, theirs;

    run_in(ns, NULL, args, &mine);
    run_in(ns, IPUTILS, args, &theirs);
    struct summary a = summary_of(&mine), b = summary_of(&theirs);
    cr_expect_eq(mine.rc, theirs.rc, "exit: sockit %d, iputils %d\nsockit:\n%s%s\niputils:\n%s",
                 mine.rc, theirs.rc, mine.out, mine.err, theirs.out);
    cr_expect_eq(a.transmitted, b.transmitted, "transmitted\nsockit:\n%s\niputils:\n%s", mine.out,
                 theirs.out);
    cr_expect_eq(a.received, b.received, "received\nsockit:\n%s\niputils:\n%s", mine.out,
                 theirs.out);
    cr_expect_eq(a.errors, b.errors, "errors\nsockit:\n%s\niputils:\n%s", mine.out, theirs.out);
    cr_expect_eq(a.duplicates, b.duplicates);
    cr_expect_eq(a.loss, b.loss, "loss %g%% against %g%%", a.loss, b.loss);
    cr_expect_eq(a.seqs, b.seqs, "answered: %#x against %#x\nsockit:\n%s\niputils:\n%s", a.seqs,
                 b.seqs, mine.out, theirs.out);
    a.rc = mine.rc;
    return a;
}

/* ---- against iputils ------------------------------------------------------------------------ */

Test(ping, three_replies_over_ipv4_and_ipv6_as_iputils_counts_them)
{
    need_pair();
    /* The first IPv6 packet over a new link may wait for neighbour discovery: warm it. */
    h_netns_sh(pair.ns_a, "ping -c 1 -W 2 %s >/dev/null", pair.ip6_b);
    for (int v6 = 0; v6 <= 1; v6++) {
        const char *to = v6 ? pair.ip6_b : pair.ip_b;
        struct run r;
        run_in(pair.ns_a, NULL, (const char *const[]){ "-c", "3", "-i", "0.2", to, NULL }, &r);
        struct summary s = summary_of(&r);
        cr_expect_eq(r.rc, 0, "%s%s", r.out, r.err);
        cr_expect_eq(s.transmitted, 3);
        cr_expect_eq(s.received, 3);
        cr_expect_eq(s.loss, 0);
        cr_expect_eq(s.seqs, 0xe, "icmp_seq=1, 2, 3:\n%s", r.out);
        cr_expect(strstr(r.out, "rtt min/avg/max/mdev = ") != NULL, "%s", r.out);
        s = same_as_iputils(pair.ns_a, (const char *const[]){ "-c", "3", "-i", "0.2", to, NULL });
        cr_expect_eq(s.rc, 0, "exit status");
    }
}

/* In B, drop echo requests (both families) matching MATCH (an nft expression, may be ""). */
static void drop_requests(const char *match)
{
    cr_assert_eq(h_netns_sh(pair.ns_b,
                            "nft add table inet t && "
                            "nft add chain inet t in \"{ type filter hook input priority 0; }\" && "
                            "nft add rule inet t in icmp type echo-request %s drop && "
                            "nft add rule inet t in icmpv6 type echo-request %s drop",
                            match, match),
                 0, "nft");
}

Test(ping, all_requests_dropped_is_full_loss_and_exit_1_as_iputils)
{
    need_pair();
    drop_requests("");
    for (int v6 = 0; v6 <= 1; v6++) {
        const char *const args[] = { "-c", "3", "-i", "0.2", "-W", "1", v6 ? pair.ip6_b : pair.ip_b,
                                     NULL };
        struct summary s = same_as_iputils(pair.ns_a, args);
        cr_expect_eq(s.rc, 1, "exit status 1: no reply");
        cr_expect_eq(s.received, 0);
        cr_expect_eq(s.loss, 100);
    }
}

Test(ping, every_other_request_dropped_is_half_loss_as_iputils)
{
    need_pair();
    /* numgen counts per rule; 4 requests a run leave it even for the next run. */
    drop_requests("numgen inc mod 2 == 0");
    for (int v6 = 0; v6 <= 1; v6++) {
        const char *const args[] = { "-c", "4", "-i", "0.2", "-W", "1", v6 ? pair.ip6_b : pair.ip_b,
                                     NULL };
        struct summary s = same_as_iputils(pair.ns_a, args);
        cr_expect_eq(s.rc, 0, "exit status 0: replies came");
        cr_expect_eq(s.received, 2);
        cr_expect_eq(s.loss, 50);
        cr_expect_eq(s.seqs, 0x14, "icmp_seq=2 and 4 answered, 1 and 3 dropped");
    }
    /* With -w, -c counts replies: requests go on until 2 came, 4 requests in all. */
    const char *const args[] = { "-c", "2", "-w", "5", "-i", "0.2", pair.ip_b, NULL };
    struct summary s = same_as_iputils(pair.ns_a, args);
    cr_expect_eq(s.rc, 0);
    cr_expect_eq(s.transmitted, 4);
    cr_expect_eq(s.received, 2);
}

Test(ping, duplicated_replies_are_marked_and_counted_as_iputils)
{
    struct run r;

    need_pair();
    /* B sends every echo reply twice. */
    cr_assert_eq(h_netns_sh(pair.ns_b,
                            "nft add table ip d && "
                            "nft add chain ip d out \"{ type filter hook output priority 0; }\" && "
                            "nft add rule ip d out icmp type echo-reply dup to %s device %s",
                            pair.ip_a, pair.if_b),
                 0, "nft dup");
    run_in(pair.ns_a, NULL, (const char *const[]){ "-c", "3", "-i", "0.2", pair.ip_b, NULL }, &r);
    cr_expect(strstr(r.out, "icmp_seq=1 ttl=64") && strstr(r.out, " ms (DUP!)\n"), "%s", r.out);
    /* The count is answered at the first reply to 3: its copy is not waited for. */
    struct summary s = same_as_iputils(
        pair.ns_a, (const char *const[]){ "-c", "3", "-i", "0.2", pair.ip_b, NULL });
    cr_expect_eq(s.rc, 0);
    cr_expect_eq(s.received, 3);
    cr_expect_eq(s.duplicates, 2);
}

Test(ping, an_address_no_neighbour_has_gives_unreachable_errors_as_iputils)
{
    char v4[32], v6[48];

    need_pair();
    const char *dot = strrchr(pair.ip_b, '.');
    snprintf(v4, sizeof(v4), "%.*s.99", (int)(dot - pair.ip_b), pair.ip_b);
    snprintf(v6, sizeof(v6), "%.*s99", (int)strlen(pair.ip6_b) - 1, pair.ip6_b);
    /* Neighbour resolution gives up after 3 probes 200 ms apart instead of 1 s apart. */
    cr_assert_eq(h_netns_sh(pair.ns_a,
                            "sysctl -qw net.ipv4.neigh.%s.retrans_time_ms=200 "
                            "net.ipv6.neigh.%s.retrans_time_ms=200",
                            pair.if_a, pair.if_a),
                 0);
    for (int i = 0; i <= 1; i++) {
        const char *to = i ? v6 : v4;
        struct run r;
        run_in(pair.ns_a, NULL,
               (const char *const[]){ "-c", "3", "-i", "0.2", "-W", "3", to, NULL }, &r);
        cr_expect(strstr(r.out, i ? "Destination unreachable: Address unreachable"
                                  : "Destination Host Unreachable") != NULL,
                  "%s", r.out);
        cr_expect(strstr(r.out, i ? pair.ip6_a : pair.ip_a) != NULL, "From this host:\n%s", r.out);
        struct summary s = same_as_iputils(
            pair.ns_a, (const char *const[]){ "-c", "3", "-i", "0.2", "-W", "3", to, NULL });
        cr_expect_eq(s.rc, 1, "exit status 1");
        cr_expect_eq(s.errors, 3, "+3 errors");
        cr_expect_eq(s.received, 0);
    }
}

Test(ping, an_address_with_no_route_is_exit_2_at_once_as_iputils)
{
    struct run mine, theirs;
    const char *const args[] = { "-c", "3", "-W", "5", "192.0.2.1", NULL }; /* TEST-NET-1 */

    need_pair(); /* A has no default route: the kernel refuses before any packet */
    long long start = h_now_ms();
    run_in(pair.ns_a, NULL, args, &mine);
    cr_expect_lt(h_now_ms() - start, 2000, "no wait for -W");
    run_in(pair.ns_a, IPUTILS, args, &theirs);
    cr_expect_eq(mine.rc, 2, "%s%s", mine.out, mine.err);
    cr_expect_eq(theirs.rc, 2, "iputils: %s", theirs.err);
    cr_expect_str_eq(mine.err, "sockit: ping 192.0.2.1: Network is unreachable\n");
}

/* ---- without privileges ---------------------------------------------------------------------- */

Test(ping, an_unprivileged_user_gets_the_datagram_socket_where_the_sysctl_allows_it)
{
    struct run r;

    need_pair();
    cr_assert_eq(h_netns_sh(pair.ns_a, "sysctl -qw net.ipv4.ping_group_range=\"0 2147483647\""), 0);
    for (int v6 = 0; v6 <= 1; v6++) {
        const char *to = v6 ? pair.ip6_b : pair.ip_b;
        run_as_nobody(pair.ns_a,
                      (const char *const[]){ "-c", "3", "-i", "0.2", "-v", "--trace", to, NULL },
                      &r);
        struct summary s = summary_of(&r);
        cr_expect_eq(r.rc, 0, "%s%s", r.out, r.err);
        cr_expect_eq(s.received, 3, "%s", r.out);
        cr_expect(strstr(r.err, v6 ? "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) = -1 EPERM"
                                   : "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM") != NULL,
                  "the raw socket is tried first:\n%s", r.err);
        cr_expect(strstr(r.err, v6 ? "socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6) = "
                                   : "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) = ") != NULL,
                  "then the datagram one:\n%s", r.err);
        cr_expect(strstr(r.err, "ICMP datagram socket") != NULL, "-v says so:\n%s", r.err);
    }
}

Test(ping, an_unprivileged_user_the_sysctl_refuses_gets_one_clear_line_and_exit_2)
{
    struct run r;

    need_pair();
    cr_assert_eq(h_netns_sh(pair.ns_a, "sysctl -qw net.ipv4.ping_group_range=\"1 0\""), 0);
    run_as_nobody(pair.ns_a, (const char *const[]){ "-c", "1", pair.ip_b, NULL }, &r);
    cr_expect_eq(r.rc, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "sockit: ping ") == r.err, "%s", r.err);
    cr_expect(strstr(r.err, "CAP_NET_RAW") && strstr(r.err, "ping_group_range"), "%s", r.err);
    cr_expect(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line:\n%s", r.err);
    cr_expect_str_eq(r.out, "", "nothing on stdout");
}

Test(ping, an_interval_under_a_fifth_of_a_second_needs_root)
{
    struct run r;

    run_as_nobody(NULL, (const char *const[]){ "-c", "1", "-i", "0.1", "127.0.0.1", NULL }, &r);
    cr_expect_eq(r.rc, 2);
    cr_expect(strstr(r.err, "--interval") && strstr(r.err, "root"), "%s", r.err);
}

/* ---- the command line ----------------------------------------------------------------------- */

Test(ping, bad_options_are_usage_errors_with_exit_2)
{
    static const struct {
        const char *args[6];
        const char *says;
    } cases[] = {
        { { "-c", "0", "127.0.0.1" }, "--count" },
        { { "-c", "x", "127.0.0.1" }, "not a number" },
        { { "-s", "65528", "::1" }, "out of range" },
        { { "-s", "65508", "127.0.0.1" }, "IPv4's 65507" },
        { { "-4", "-s", "65508", "127.0.0.1" }, "IPv4's 65507" },
        { { "-i", "abc", "127.0.0.1" }, "not a number of seconds" },
        { { "-W", "-1", "127.0.0.1" }, "not a number of seconds" },
        { { "-w", "0", "127.0.0.1" }, "out of range" },
        { { "-4", "-6", "127.0.0.1" }, "only one of -4 and -6" },
        { { "--bogus", "127.0.0.1" }, "unknown option" },
        { { "-c", "1" }, "which HOST" },
        { { "127.0.0.1", "127.0.0.2" }, "one HOST" },
        { { "-6", "127.0.0.1" }, "no address of a usable family" },
        { { "0x7f.1" }, "invalid IPv4 address" },
        { { "a\033[2Jb" }, "a\\x1b[2Jb" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;
        run_in(NULL, NULL, cases[i].args, &r);
        cr_expect_eq(r.rc, 2, "case %zu: exit %d: %s", i, r.rc, r.err);
        cr_expect(strstr(r.err, cases[i].says) != NULL, "case %zu: %s", i, r.err);
        cr_expect(strchr(r.err, '\033') == NULL, "case %zu: no raw escape", i);
    }
}

Test(ping, a_name_that_does_not_resolve_is_exit_2_as_iputils)
{
    char path[160];
    struct run mine, theirs;

    need_pair();
    /* No DNS query leaves the test: `ip netns exec` puts this file over /etc/nsswitch.conf. */
    snprintf(etc_netns, sizeof(etc_netns), "/etc/netns/%s", pair.ns_a);
    cr_assert_eq(mkdir("/etc/netns", 0755) == 0 || errno == EEXIST, 1);
    cr_assert_eq(mkdir(etc_netns, 0755), 0);
    snprintf(path, sizeof(path), "%s/nsswitch.conf", etc_netns);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("hosts: files\n", f);
    fclose(f);
    run_in(pair.ns_a, NULL, (const char *const[]){ "-c", "1", "no-such-host.invalid", NULL },
           &mine);
    run_in(pair.ns_a, IPUTILS, (const char *const[]){ "-c", "1", "no-such-host.invalid", NULL },
           &theirs);
    cr_expect_str_eq(mine.err, "sockit: ping no-such-host.invalid: host name does not resolve\n");
    cr_expect_eq(mine.rc, 2);
    cr_expect_eq(theirs.rc, 2, "iputils: %s", theirs.err);
}

Test(ping, json_lines_parse_and_say_what_the_text_says)
{
    struct run r;
    struct proc py;

    need_pair();
    run_in(pair.ns_a, NULL,
           (const char *const[]){ "-c", "2", "-i", "0.2", "--json", pair.ip_b, NULL }, &r);
    cr_expect_eq(r.rc, 0, "%s", r.err);
    const char *argv[] = {
        "python3", "-c",
        "import json,sys; l=[json.loads(x) for x in sys.stdin]; "
        "assert [o['type'] for o in l] == ['start','reply','reply','summary'], l; "
        "assert l[-1]['received'] == 2 and l[-1]['exit'] == 0, l[-1]; "
        "assert l[1]['seq'] == 1 and l[1]['time_ms'] >= 0, l[1]",
        NULL
    };
    h_start(&py, argv, r.out, strlen(r.out), h_die_with_parent);
    cr_expect_eq(h_wait(&py, 10000), 0, "%s\n%s", h_text_of(&py, true, NULL), r.out);
    h_cleanup(&py);
}

Test(ping, trace_shows_the_socket_call)
{
    struct run r;

    need_pair();
    run_in(pair.ns_a, NULL, (const char *const[]){ "-c", "1", "--trace", pair.ip_b, NULL }, &r);
    cr_expect_eq(r.rc, 0);
    cr_expect(strstr(r.err, "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = ") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "sendto(") && strstr(r.err, "[echo reply id="), "%s", r.err);
}

Test(ping, sigint_prints_the_statistics_and_the_status)
{
    need_pair();
    const char *argv[] = { "ip",   "netns", "exec", pair.ns_a, h_sockit(),
                           "ping", "-i",    "0.2",  pair.ip_b, NULL };
    struct proc *p = h_start_tracked("sockit ping", argv, "", 0, NULL);
    long long until = h_now_ms() + 10000;

    while (!strstr(h_text_of(p, false, NULL), "icmp_seq=2 ") && h_now_ms() < until && !h_exited(p))
        h_sleep_ms(50);
    cr_assert_eq(h_stop(p, SIGINT, 5000), 0, "exit 0 after replies");
    const char *out = h_text_of(p, false, NULL);
    cr_expect(strstr(out, "ping statistics ---") && strstr(out, "0% packet loss"), "%s", out);
}
