/* sockit chat processes sharing rooms through a real redis-server (started by each test on a
 * free loopback port or a unix socket, stopped at its end), with node's ws clients: two and
 * three nodes deliver every message to every member once and in order per sender; Redis
 * stopped mid-run leaves each node serving its own members (the sender hears "not-relayed"),
 * and once Redis is back the nodes subscribe again and deliver across nodes; AUTH comes from
 * the environment; an unreachable Redis at start is one clear error (exit 1); a bad URL is a
 * usage error. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"

TestSuite(chat_redis, .fini = h_cleanup_tracked, .timeout = 120);

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Wait until P's stderr (ERR) or stdout holds NEEDLE N times. */
static bool wait_count(const struct proc *p, bool err, const char *needle, int n, int ms)
{
    for (long long end = h_now_ms() + ms; h_now_ms() < end; h_sleep_ms(20))
        if (count_of(h_text_of(p, err, NULL), needle) >= n)
            return true;
    return count_of(h_text_of(p, err, NULL), needle) >= n;
}

static int redis_port;
static char redis_url[160];

/* redis-server on REDIS_PORT (a free one when 0), with EXTRA arguments; waits until ready. */
static struct proc *start_redis(const char *const extra[])
{
    static char port[16];
    const char *argv[16] = { "redis-server", "--port", port,           "--bind", "127.0.0.1",
                             "--save",       "",       "--appendonly", "no" };
    size_t n = 9;

    if (!redis_port)
        redis_port = h_free_port();
    snprintf(port, sizeof(port), "%d", redis_port);
    snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d", redis_port);
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    struct proc *p = h_start_tracked("redis-server", argv, "", 0, NULL);
    H_CHECK(wait_count(p, false, "Ready to accept connections", 1, 10000),
            "redis-server did not start: %s", h_text_of(p, false, NULL));
    return p;
}

/* sockit chat on a free port with --redis URL; BASE (64 bytes) gets its ws:// base. */
static struct proc *start_node(const char *url, char *base)
{
    static char eps[8][64];
    static int k;
    char *ep = eps[k++ % 8];
    int port = h_free_port();

    snprintf(ep, 64, "tcp://127.0.0.1:%d", port);
    snprintf(base, 64, "ws://127.0.0.1:%d", port);
    const char *argv[] = { h_sockit(), "chat", "--json",  "--rate", "1000",
                           "-l",       ep,     "--redis", url,      NULL };
    struct proc *p = h_start_tracked("sockit chat", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(p, "subscribe link up", 5000), "the node did not reach Redis: %s",
            h_text_of(p, true, NULL));
    return p;
}

static void expect_nodes(const char *scenario, const char *room, const char *bases)
{
    int rc;
    char *out = h_node(&rc, "chat_nodes.js %s %s %s", scenario, room, bases);

    cr_expect_eq(rc, 0, "%s:\n%s", scenario, out);
    cr_expect(strstr(out, "all ok") != NULL, "%s:\n%s", scenario, out);
    free(out);
}

Test(chat_redis, two_nodes_deliver_every_message_once_in_order)
{
    char a[64], b[64], bases[160];

    start_redis(NULL);
    start_node(redis_url, a);
    start_node(redis_url, b);
    snprintf(bases, sizeof(bases), "%s %s", a, b);
    expect_nodes("fanout", "/lobby", bases);
}

Test(chat_redis, three_nodes_deliver_every_message_once_in_order)
{
    char a[64], b[64], c[64], bases[220];

    start_redis(NULL);
    start_node(redis_url, a);
    start_node(redis_url, b);
    start_node(redis_url, c);
    snprintf(bases, sizeof(bases), "%s %s %s", a, b, c);
    expect_nodes("fanout", "/three/rooms", bases);
}

Test(chat_redis, history_and_members_agree_across_nodes_and_a_killed_node_leaves_no_ghost)
{
    char a[64], b[64], bases[160];

    start_redis(NULL);
    struct proc *n1 = start_node(redis_url, a);
    start_node(redis_url, b);
    snprintf(bases, sizeof(bases), "%s %s", a, b);
    expect_nodes("presence", "/hall", bases);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "tests/node/chat_nodes.js");
    const char *hold[] = { "node", cmd, "hold", "/hall", a, NULL };
    struct proc *holder = h_start_tracked("node hold", hold, "", 0, NULL);
    cr_assert(wait_count(holder, false, "holding", 1, 10000), "%s", h_text_of(holder, false, NULL));
    long long killed = h_now_ms();
    h_stop(n1, SIGKILL, 2000);
    expect_nodes("absent", "/hall", b);
    cr_expect_lt(h_now_ms() - killed, 20000);
}

Test(chat_redis, a_node_serves_its_own_while_redis_is_down_and_resumes_after)
{
    char a[64], b[64], bases[160];
    struct proc *redis = start_redis(NULL);
    struct proc *n1 = start_node(redis_url, a), *n2 = start_node(redis_url, b);

    snprintf(bases, sizeof(bases), "%s %s", a, b);
    expect_nodes("fanout", "/lobby", bases);
    cr_assert_eq(h_stop(redis, SIGTERM, 5000), 0);
    cr_assert(wait_count(n1, true, "publish link lost", 1, 5000), "%s", h_text_of(n1, true, NULL));
    cr_assert(wait_count(n2, true, "subscribe link lost", 1, 5000), "%s",
              h_text_of(n2, true, NULL));
    expect_nodes("alone", "/lobby", a);
    start_redis(NULL); /* the same port */
    cr_assert(wait_count(n1, true, "subscribe link up", 2, 10000), "%s", h_text_of(n1, true, NULL));
    cr_assert(wait_count(n2, true, "subscribe link up", 2, 10000), "%s", h_text_of(n2, true, NULL));
    cr_assert(wait_count(n1, true, "publish link up", 2, 10000), "%s", h_text_of(n1, true, NULL));
    expect_nodes("fanout", "/lobby", bases);
    cr_assert_eq(h_stop(n1, SIGTERM, 5000), 0);
    const char *json = h_text_of(n1, false, NULL);
    cr_expect(strstr(json, "\"not_relayed\":1"), "%s", json);
    cr_expect(!strstr(json, "\"relayed_in\":0,"), "%s", json);
}

Test(chat_redis, auth_comes_from_the_environment_and_a_unix_socket_works)
{
    char sock[108], url[160], base[64];
    const char *extra[] = { "--requirepass", "s3cret", "--unixsocket", sock, NULL };

    h_tmp_path(sock, sizeof(sock), "redis.sock");
    start_redis(extra);
    snprintf(url, sizeof(url), "unix:%s", sock);
    const char *argv[] = { h_sockit(), "chat", "-l", "tcp://127.0.0.1:1", "--redis", url, NULL };
    struct proc p;
    unsetenv("SOCKIT_REDIS_PASSWORD");
    h_start(&p, argv, "", 0, NULL);
    cr_expect_eq(h_wait(&p, 10000), 1);
    cr_expect(strstr(h_text_of(&p, true, NULL), "NOAUTH"), "%s", h_text_of(&p, true, NULL));
    h_cleanup(&p);
    setenv("SOCKIT_REDIS_PASSWORD", "wrong", 1);
    h_start(&p, argv, "", 0, NULL);
    cr_expect_eq(h_wait(&p, 10000), 1);
    cr_expect(strstr(h_text_of(&p, true, NULL), "AUTH: "), "%s", h_text_of(&p, true, NULL));
    h_cleanup(&p);
    setenv("SOCKIT_REDIS_PASSWORD", "s3cret", 1);
    struct proc *node = start_node(url, base);
    cr_expect(!strstr(h_text_of(node, true, NULL), "s3cret"), "the password was printed");
    unsetenv("SOCKIT_REDIS_PASSWORD");
}

Test(chat_redis, redis_unreachable_at_start_is_one_clear_error)
{
    char url[64], want[128];
    int port = h_free_port();

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    snprintf(want, sizeof(want), "sockit: connect %s: Connection refused", url);
    const char *argv[] = { h_sockit(), "chat", "-l", "tcp://127.0.0.1:1", "--redis", url, NULL };
    struct proc p;
    h_start(&p, argv, "", 0, NULL);
    cr_expect_eq(h_wait(&p, 10000), 1);
    cr_expect(strstr(h_text_of(&p, true, NULL), want), "%s", h_text_of(&p, true, NULL));
    h_cleanup(&p);
    static const char *const bad[] = { "http://127.0.0.1:6379", "redis://",         "redis://h:0",
                                       "redis://h:6379/x",      "redis://::1:6379", "unix:relative",
                                       "unix:/tmp/s?db=x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *a2[] = { h_sockit(), "chat", "--redis", bad[i], NULL };
        h_start(&p, a2, "", 0, NULL);
        cr_expect_eq(h_wait(&p, 5000), 2, "%s: %s", bad[i], h_text_of(&p, true, NULL));
        cr_expect(strstr(h_text_of(&p, true, NULL), "--redis"), "%s", h_text_of(&p, true, NULL));
        h_cleanup(&p);
    }
}

Test(chat_redis, a_foreign_publication_is_dropped_not_delivered)
{
    char a[64], cmd[512];

    start_redis(NULL);
    struct proc *n1 = start_node(redis_url, a);
    const char *hold[] = { "node", "tests/node/chat_nodes.js", "hold", "/junk", a, NULL };
    struct proc *holder = h_start_tracked("node hold", hold, "", 0, NULL);
    cr_assert(wait_count(holder, false, "holding", 1, 10000), "%s", h_text_of(holder, false, NULL));
    static const char *const junk[] = {
        "not-a-node-id-xxm{\\\"type\\\":\\\"message\\\"}",
        "0123456789abcdefm<script>alert(1)</script>",
        "0123456789abcdefx{\\\"type\\\":\\\"message\\\"}",
        "0123456789abcdefm{\\\"no\\\":\\\"type\\\"}",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        snprintf(cmd, sizeof(cmd), "redis-cli -p %d PUBLISH sockit:chat:/junk \"%s\" >/dev/null",
                 redis_port, junk[i]);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
    }
    cr_expect(wait_count(n1, true, "not ours, dropped", 4, 5000), "%s", h_text_of(n1, true, NULL));
}

Test(chat_redis, junk_in_the_history_never_reaches_a_newcomer)
{
    char a[64], cmd[512];

    start_redis(NULL);
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %d RPUSH sockit:chat:/h:history "
             "'{\"type\":\"message\",\"nick\":\"x\",\"text\":\"old\",\"time\":1}' "
             "'<b>junk</b>' '{\"no\":\"type\"}' '[1,2]' >/dev/null",
             redis_port);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    start_node(redis_url, a);
    expect_nodes("oldonly", "/h", a);
}
