/* sockit game-server with real sockets: the handshake from raw UDP sockets of the test (forged,
 * replayed and foreign cookies, another version or protocol id, a full server, spoofed
 * sources: no slot and no reply larger than the request); sockit game-client bots converging
 * with zero hash mismatches through sockit impair at 5 % and 20 % loss with jitter that
 * reorders; a client killed with SIGKILL detected and its slot freed; the tick rate kept with
 * 1000 bots; the client's exit status; usage errors. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/harness.h"
#include "sockit/game.h"

TestSuite(game_net, .fini = h_cleanup_tracked, .timeout = 120);

/* sockit game-server on a free port with --json and ARGS; ENDPOINT (CAP bytes) gets where. */
static struct proc *start_server(char *endpoint, size_t cap, const char *const args[])
{
    const char *argv[32] = { h_sockit(), "game-server", "-l", endpoint, "--json" };
    size_t n = 5;

    snprintf(endpoint, cap, "udp://127.0.0.1:%d", h_free_port());
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct proc *p = h_start_tracked("sockit game-server", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(p, "ticks/s", 5000), "sockit game-server did not start");
    return p;
}

static json_t *json_of(const struct proc *p, bool err_ok)
{
    json_error_t e;
    json_t *j = json_loads(h_text_of(p, false, NULL), 0, &e);

    cr_assert(j || err_ok, "no JSON on stdout: %s (%s); stderr: %s", h_text_of(p, false, NULL),
              e.text, h_text_of(p, true, NULL));
    return j;
}

/* Stop the server with SIGTERM; its --json counters. */
static json_t *stop_server(struct proc *p)
{
    cr_assert_eq(h_stop(p, SIGTERM, 5000), 0, "%s", h_text_of(p, true, NULL));
    return json_of(p, false);
}

static double num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);

    cr_assert(json_is_number(v), "no %s in %s", key, json_dumps(j, 0));
    return json_number_value(v);
}

/* A UDP socket connected to ENDPOINT from source address 127.0.X.Y (I: distinct sources). */
static int udp_from(int i, const char *endpoint)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in src = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(i + 2)) };
    struct sockaddr_in dst = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t)atoi(strrchr(endpoint, ':') + 1)),
                               .sin_addr.s_addr = htonl(0x7f000001) };

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

/* Send P on FD; the reply within MS (its length, 0 for none) read into *OUT (buffer BUF). The
 * reply is never longer than the request. */
static size_t ask(int fd, const struct sockit_game_packet *p, int ms, uint8_t *buf,
                  struct sockit_game_packet *out)
{
    uint8_t req[SOCKIT_GAME_MAX_PACKET];
    int n = sockit_game_write(p, req, sizeof(req));

    cr_assert_gt(n, 0);
    cr_assert_eq(send(fd, req, (size_t)n, 0), n);
    ssize_t r = h_read_within(fd, ms, buf, SOCKIT_GAME_MAX_PACKET);
    if (r <= 0)
        return 0;
    cr_expect_leq(r, n, "a reply of %zd bytes to a request of %d", r, n);
    cr_assert_gt(sockit_game_read(buf, (size_t)r, out), 0, "the reply does not read");
    return (size_t)r;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(game_net, the_handshake_refuses_forgeries_and_spoofers_and_a_full_server_says_so)
{
    char ep[64];
    const char *args[] = { "--max-clients", "2", NULL };
    struct proc *srv = start_server(ep, sizeof(ep), args);
    int a = udp_from(1, ep), b = udp_from(2, ep), c = udp_from(3, ep), spoof = udp_from(4, ep);
    uint8_t buf[SOCKIT_GAME_MAX_PACKET], cookie_a[SOCKIT_GAME_COOKIE_LEN];
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT, .salt = 77 }, r;

    /* another protocol id, another version, a request not padded */
    uint8_t raw[SOCKIT_GAME_MAX_PACKET];
    int n = sockit_game_write(&p, raw, sizeof(raw));
    raw[0] ^= 0xff;
    send(a, raw, (size_t)n, 0);
    cr_expect_leq(h_read_within(a, 300, buf, sizeof(buf)), 0, "another protocol id is answered");
    raw[0] ^= 0xff;
    raw[4] = SOCKIT_GAME_VERSION + 1;
    send(a, raw, (size_t)n, 0);
    ssize_t got = h_read_within(a, 2000, buf, sizeof(buf));
    cr_assert_gt(got, 0, "another version hears nothing");
    cr_expect_leq(got, n);
    cr_expect_eq(sockit_game_read(buf, (size_t)got, &r), SOCKIT_GAME_DENY);
    cr_expect_eq(r.deny_reason, SOCKIT_GAME_DENY_VERSION);
    raw[4] = SOCKIT_GAME_VERSION;
    send(a, raw, 40, 0);
    cr_expect_leq(h_read_within(a, 300, buf, sizeof(buf)), 0, "an unpadded request is answered");

    /* a's challenge; its cookie from another source, forged, or with another salt: nothing */
    cr_assert_gt(ask(a, &p, 2000, buf, &r), 0);
    cr_assert_eq(r.type, SOCKIT_GAME_CHALLENGE);
    memcpy(cookie_a, r.cookie, sizeof(cookie_a));
    struct sockit_game_packet resp = {
        .type = SOCKIT_GAME_RESPONSE, .salt = 77, .time = r.time, .cookie = cookie_a
    };
    cr_expect_eq(ask(spoof, &resp, 300, buf, &r), 0, "a's cookie from another source");
    uint8_t forged[SOCKIT_GAME_COOKIE_LEN];
    memcpy(forged, cookie_a, sizeof(forged));
    forged[0] ^= 1;
    resp.cookie = forged;
    cr_expect_eq(ask(a, &resp, 300, buf, &r), 0, "a forged cookie");
    resp.cookie = cookie_a;
    resp.salt = 78;
    cr_expect_eq(ask(a, &resp, 300, buf, &r), 0, "another salt");
    for (int i = 0; i < 64; i++) { /* a flood of forged responses from 64 sources */
        int f = udp_from(10 + i, ep);
        resp.cookie = forged;
        cr_expect_eq(ask(f, &resp, i == 63 ? 300 : 0, buf, &r), 0);
        close(f);
    }

    /* the real one gets in; so does b; c finds the server full */
    resp.salt = 77;
    resp.cookie = cookie_a;
    cr_assert_gt(ask(a, &resp, 2000, buf, &r), 0);
    cr_expect_eq(r.type, SOCKIT_GAME_ACCEPT);
    for (int k = 0; k < 2; k++) {
        int fd = k ? c : b;
        struct sockit_game_packet q = { .type = SOCKIT_GAME_CONNECT, .salt = 90u + (unsigned)k };
        cr_assert_gt(ask(fd, &q, 2000, buf, &r), 0);
        uint8_t ck[SOCKIT_GAME_COOKIE_LEN];
        memcpy(ck, r.cookie, sizeof(ck));
        q = (struct sockit_game_packet){
            .type = SOCKIT_GAME_RESPONSE, .salt = 90u + (unsigned)k, .time = r.time, .cookie = ck
        };
        cr_assert_gt(ask(fd, &q, 2000, buf, &r), 0);
        cr_expect_eq(r.type, k ? SOCKIT_GAME_DENY : SOCKIT_GAME_ACCEPT);
        if (k)
            cr_expect_eq(r.deny_reason, SOCKIT_GAME_DENY_FULL);
    }
    /* a replayed response from a source that is not its own still takes nothing */
    resp.cookie = cookie_a;
    cr_expect_eq(ask(spoof, &resp, 300, buf, &r), 0);
    json_t *j = stop_server(srv);
    cr_expect_eq(num(j, "joined"), 2);
    cr_expect_eq(num(j, "denied_full"), 1);
    cr_expect_eq(num(j, "denied_version"), 1);
    cr_expect_eq(num(j, "bad_cookie"), 1 + 1 + 1 + 64 + 1);
    cr_expect_geq(num(j, "malformed"), 2);
    cr_expect_leq(num(j, "handshake_bytes_out") * 5, num(j, "handshake_bytes_in"),
                  "replies of %.0f bytes for %.0f in", num(j, "handshake_bytes_out"),
                  num(j, "handshake_bytes_in"));
    json_decref(j);
    close(a), close(b), close(c), close(spoof);
}

/* sockit impair between bots and the server with LOSS and jitter that reorders: every bot
 * connects and keeps its session, and no view ever hashes differently from the server's. */
static void converge(const char *loss)
{
    char ep[64], via[64], seconds[] = "5";
    const char *none[] = { NULL };
    struct proc *srv = start_server(ep, sizeof(ep), none);

    snprintf(via, sizeof(via), "udp://127.0.0.1:%d", h_free_port());
    const char *imp_argv[] = { h_sockit(), "impair", "-l",      via,    "-t",       ep,
                               "--loss",   loss,     "--delay", "20ms", "--jitter", "10ms",
                               "--seed",   "7",      "--json",  NULL };
    struct proc *imp = h_start_tracked("sockit impair", imp_argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(imp, "sockit impair: up:", 5000), "sockit impair did not start");
    const char *cl_argv[] = { h_sockit(), "game-client", via,      "--bots", "8", "--duration",
                              seconds,    "--json",      "--seed", "3",      NULL };
    struct proc *cl = h_start_tracked("sockit game-client", cl_argv, "", 0, NULL);
    int rc = h_wait(cl, 20000);
    cr_assert_eq(rc, 0, "game-client exit %d: %s", rc, h_text_of(cl, true, NULL));
    json_t *j = json_of(cl, false);
    cr_expect_eq(num(j, "connected"), 8);
    cr_expect_eq(num(j, "survived"), 8);
    cr_expect_eq(num(j, "mismatches"), 0, "views diverged from the server's");
    double keep = 1 - atof(loss) / 100;
    cr_expect_geq(num(j, "updates"), 8 * 5 * 30 * keep * 0.85, "%.0f updates", num(j, "updates"));
    cr_expect_leq(num(j, "ip_bytes_per_update"), 400);
    json_t *lat = json_object_get(j, "update_latency_ms");
    cr_expect_lt(num(lat, "p99"), 250, "p99 update latency %.1f ms at %s loss", num(lat, "p99"),
                 loss);
    cr_expect_lt(fabs(num(j, "loss") - (1 - keep)), 0.1, "input loss %.3f seen at %s asked",
                 num(j, "loss"), loss);
    json_decref(j);
    cr_assert_eq(h_stop(imp, SIGTERM, 5000), 0);
    json_t *ij = json_of(imp, false);
    json_t *up = json_object_get(ij, "up");
    cr_expect_gt(num(up, "lost"), 0);
    cr_expect_gt(num(up, "reordered"), 0, "the jitter reordered nothing");
    json_decref(ij);
    json_t *sj = stop_server(srv);
    cr_expect_eq(num(sj, "joined"), 8);
    cr_expect_eq(num(sj, "timeouts"), 0);
    cr_expect_eq(num(sj, "late_ticks"), 0);
    json_decref(sj);
}

Test(game_net, bots_converge_through_5_percent_loss_with_jitter_and_reordering)
{
    converge("5%");
}

Test(game_net, bots_converge_through_20_percent_loss_with_jitter_and_reordering)
{
    converge("20%");
}

Test(game_net, a_client_killed_is_detected_within_the_timeout_and_its_slot_freed)
{
    char ep[64];
    const char *args[] = { "--max-clients", "3", NULL };
    struct proc *srv = start_server(ep, sizeof(ep), args);
    const char *cl_argv[] = {
        h_sockit(), "game-client", ep, "--bots", "3", "--duration", "60", NULL
    };
    struct proc *cl = h_start_tracked("sockit game-client", cl_argv, "", 0, NULL);

    for (int i = 0; i < 100 && count_of(h_text_of(srv, true, NULL), "joined") < 3; i++)
        h_sleep_ms(50);
    cr_assert_eq(count_of(h_text_of(srv, true, NULL), "joined"), 3, "%s",
                 h_text_of(srv, true, NULL));
    h_sleep_ms(500);
    long long killed = h_now_ms();
    h_stop(cl, SIGKILL, 2000);
    while (count_of(h_text_of(srv, true, NULL), "timed out") < 3 && h_now_ms() - killed < 6000)
        h_sleep_ms(10);
    long long took = h_now_ms() - killed;
    cr_expect_eq(count_of(h_text_of(srv, true, NULL), "timed out"), 3, "%s",
                 h_text_of(srv, true, NULL));
    cr_expect(took >= 1900 && took <= 2600, "detected %lld ms after the kill (timeout 2 s)", took);
    /* the three slots are free again: three new bots get in */
    const char *again[] = { h_sockit(),   "game-client", ep,   "--bots", "3",
                            "--duration", "1",           "-q", NULL };
    struct proc *cl2 = h_start_tracked("sockit game-client", again, "", 0, NULL);
    cr_expect_eq(h_wait(cl2, 10000), 0, "%s", h_text_of(cl2, true, NULL));
    json_t *j = stop_server(srv);
    cr_expect_eq(num(j, "timeouts"), 3);
    cr_expect_eq(num(j, "joined"), 6);
    json_decref(j);
}

Test(game_net, the_server_keeps_its_tick_rate_with_1000_bots)
{
    char ep[64];
    const char *args[] = { "--max-clients", "1000", "--npcs", "24", "--view", "8", NULL };
    struct proc *srv = start_server(ep, sizeof(ep), args);
    const char *cl_argv[] = { h_sockit(),   "game-client", ep,       "--bots", "1000",
                              "--duration", "5",           "--json", "-q",     NULL };
    struct proc *cl = h_start_tracked("sockit game-client", cl_argv, "", 0, NULL);

    int rc = h_wait(cl, 30000);
    json_t *j = json_of(cl, false);
    cr_expect_eq(rc, 0, "%s", h_text_of(cl, true, NULL));
    cr_expect_eq(num(j, "survived"), 1000);
    cr_expect_eq(num(j, "mismatches"), 0);
    json_decref(j);
    j = stop_server(srv);
    cr_expect_eq(num(j, "clients_peak"), 1000);
    cr_expect_eq(num(j, "late_ticks"), 0);
    cr_expect_geq(num(j, "ticks_per_s"), 29.5, "%.2f ticks/s", num(j, "ticks_per_s"));
    cr_expect_eq(num(j, "timeouts"), 0);
    json_decref(j);
}

Test(game_net, the_client_exits_1_when_it_cannot_connect_or_the_server_is_full)
{
    char ep[64], nobody[64];
    const char *args[] = { "--max-clients", "1", NULL };
    struct proc *srv = start_server(ep, sizeof(ep), args);
    const char *two[] = { h_sockit(), "game-client", ep, "--bots", "2", "--duration", "2", NULL };
    struct proc *cl = h_start_tracked("sockit game-client", two, "", 0, NULL);

    cr_expect_eq(h_wait(cl, 10000), 1);
    cr_expect(strstr(h_text_of(cl, true, NULL), "could not connect: the server is full"), "%s",
              h_text_of(cl, true, NULL));
    snprintf(nobody, sizeof(nobody), "udp://127.0.0.1:%d", h_free_port());
    const char *none[] = { h_sockit(), "game-client", nobody, "--timeout", "500ms", NULL };
    cl = h_start_tracked("sockit game-client", none, "", 0, NULL);
    cr_expect_eq(h_wait(cl, 10000), 1);
    cr_expect(strstr(h_text_of(cl, true, NULL), "could not connect: timed out"), "%s",
              h_text_of(cl, true, NULL));
    /* the server going away ends a session: DISCONNECT, exit 1 */
    const char *one[] = { h_sockit(), "game-client", ep, "--duration", "30", NULL };
    cl = h_start_tracked("sockit game-client", one, "", 0, NULL);
    for (int i = 0; i < 100 && count_of(h_text_of(srv, true, NULL), "joined") < 2; i++)
        h_sleep_ms(50);
    json_decref(stop_server(srv));
    cr_expect_eq(h_wait(cl, 5000), 1);
    cr_expect(strstr(h_text_of(cl, true, NULL), "the server said DISCONNECT"), "%s",
              h_text_of(cl, true, NULL));
}

Test(game_net, bad_command_lines_are_usage_errors)
{
    static const char *const cases[][8] = {
        { "game-server", NULL },
        { "game-server", "-l", "tcp://127.0.0.1:7777", NULL },
        { "game-server", "-l", "udp://127.0.0.1:7777", "--tick", "0", NULL },
        { "game-server", "-l", "udp://127.0.0.1:7777", "--view", "129", NULL },
        { "game-server", "-l", "udp://127.0.0.1:7777", "--max-clients", "1001", NULL },
        { "game-server", "-l", "udp://127.0.0.1:7777", "--npcs", "100", "--max-clients", "1000",
          NULL },
        { "game-server", "-l", "udp://127.0.0.1:7777", "--timeout", "2", NULL },
        { "game-client", NULL },
        { "game-client", "tcp://127.0.0.1:7777", NULL },
        { "game-client", "udp://127.0.0.1:7777", "--bots", "0", NULL },
        { "game-client", "udp://127.0.0.1:7777", "--bots", "5001", NULL },
        { "game-client", "udp://127.0.0.1:7777", "--duration", "x", NULL },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[10] = { h_sockit() };
        size_t n = 1;
        for (size_t k = 0; cases[i][k]; k++)
            argv[n++] = cases[i][k];
        argv[n] = NULL;
        struct proc p;
        h_start(&p, argv, "", 0, NULL);
        cr_expect_eq(h_wait(&p, 5000), 2, "case %zu: %s", i, h_text_of(&p, true, NULL));
        cr_expect(strstr(h_text_of(&p, true, NULL), "sockit game-"), "case %zu: %s", i,
                  h_text_of(&p, true, NULL));
        h_cleanup(&p);
    }
}
