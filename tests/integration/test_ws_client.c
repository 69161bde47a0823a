/* sockit ws, the client, on its options: --binary, --json (text and hex), --protocol offered
 * to a server that speaks none, --origin, and its exit status when the server is not a
 * WebSocket server. Against sockit echo ws:// and sockit http on free loopback ports. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../support/harness.h"
#include "../support/ws_client.h"

static char url[64];

static void start_echo(void)
{
    char ep[64];

    wsc_start_echo(url, ep, NULL);
}

TestSuite(ws_client, .init = start_echo, .fini = h_cleanup_tracked, .timeout = 30);

static const char *run(const char *const *args, const char *in, int want_rc)
{
    const char *argv[16] = { h_sockit(), "ws" };
    size_t n = 2;

    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    struct proc *c = h_start_tracked("sockit ws", argv, in, strlen(in), NULL);
    cr_assert_eq(h_wait(c, 10000), want_rc, "%s", h_text_of(c, true, NULL));
    return h_text_of(c, false, NULL);
}

Test(ws_client, binary_lines_come_back_as_binary_in_hex)
{
    const char *args[] = { "-q", "--binary", "--json", url, NULL };

    cr_expect_str_eq(run(args, "AB\n\xff\n", 0),
                     "{\"type\":\"binary\",\"hex\":\"4142\"}\n"
                     "{\"type\":\"binary\",\"hex\":\"ff\"}\n"
                     "{\"type\":\"close\",\"code\":1000,\"reason\":\"\"}\n");
}

Test(ws_client, text_must_be_utf8)
{
    const char *args[] = { "-q", url, NULL };

    run(args, "ok\n\xff\n", 1);
}

Test(ws_client, json_escapes_text)
{
    const char *args[] = { "-q", "--json", "-n", "1", url, NULL };

    cr_expect_str_eq(run(args, "say \"hi\" \\ \t<b>\n", 0),
                     "{\"type\":\"text\",\"data\":\"say \\\"hi\\\" \\\\ \\u0009<b>\"}\n"
                     "{\"type\":\"close\",\"code\":1000,\"reason\":\"\"}\n");
}

/* The echo speaks no subprotocol: an offer is declined (no Sec-WebSocket-Protocol back),
 * which the client accepts; an Origin is sent and allowed. */
Test(ws_client, protocol_offer_declined_and_origin_sent)
{
    const char *args[] = { "-q", "-p", "chat.v1", "-o", "http://example.test", url, NULL };

    cr_expect_str_eq(run(args, "x\n", 0), "x\n");
}

Test(ws_client, a_plain_http_server_is_refused)
{
    int port = h_free_port();
    char ep[64], u[64];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
    snprintf(u, sizeof(u), "ws://127.0.0.1:%d/", port);
    const char *http[] = { h_sockit(), "http", "-q", "-l", ep, "/tmp", NULL };
    struct proc *s = h_start_tracked("sockit http", http, "", 0, NULL);
    h_sleep_ms(300);
    const char *args[] = { u, NULL };
    run(args, "", 1);
    cr_expect(strstr(h_text_of(h_tracked(h_tracked_count() - 1, NULL), true, NULL),
                     "sockit: upgrade ws://127.0.0.1:") != NULL);
    h_stop(s, SIGTERM, 5000);
}

/* A server at --max-clients answers 503: the client says so and exits 1. */
Test(ws_client, a_full_server_answers_503)
{
    int port = h_free_port();
    char u[64];

    snprintf(u, sizeof(u), "ws://127.0.0.1:%d/", port);
    const char *srv[] = { h_sockit(), "echo", u, "--max-clients", "1", NULL };
    struct proc *s = h_start_tracked("sockit echo ws:// --max-clients 1", srv, "", 0, NULL);
    cr_assert(h_wait_stderr(s, "listening on", 5000));
    const char *first[] = { h_sockit(), "ws", "-q", u, NULL };
    struct proc *held = h_start_tracked("sockit ws (held open)", first, NULL, 0, NULL);
    cr_assert(h_wait_stderr(s, "WebSocket open", 5000), "%s", h_text_of(s, true, NULL));
    const char *args[] = { u, NULL };
    run(args, "", 1);
    cr_expect(strstr(h_text_of(h_tracked(h_tracked_count() - 1, NULL), true, NULL),
                     "answered 503 Service Unavailable") != NULL,
              "%s", h_text_of(h_tracked(h_tracked_count() - 1, NULL), true, NULL));
    h_stop(held, SIGTERM, 5000);
}
