/* sockit echo ws:// and sockit ws against peers we did not write (node's ws client and
 * server, headless Chromium) and against hostile bytes over a raw socket: each refusal with
 * its exact HTTP status or close code, and the server serving the next client after each. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/ws_client.h"

static struct proc *server;
static char url[64], ep[64];

static void start_echo(void)
{
    server = wsc_start_echo(url, ep, NULL);
}

static void stop_echo(void)
{
    wsc_stop_echo(server);
    server = NULL;
}

TestSuite(ws, .init = start_echo, .fini = stop_echo, .timeout = 60);

/* ---- with peers we did not write ------------------------------------------------------- */

Test(ws, node_ws_client_echoes_every_kind_of_message)
{
    int rc;
    char *out = h_node(&rc, "ws_client.js %s echo", url);

    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "ok close 4000 echoed") != NULL, "%s", out);
    cr_expect(strstr(out, "FAIL") == NULL, "%s", out);
    free(out);
}

/* Chromium's offer of permessage-deflate declined by an echo without --deflate: the browser
 * goes on uncompressed and every message comes back. */
Test(ws, chromium_without_compression, .timeout = 120)
{
    int rc;
    char *out = h_node(&rc, "ws_browser.js %s ''", url);

    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "ok negotiated \"\"") != NULL, "%s", out);
    cr_expect(strstr(out, "ok long repetitive text came back unchanged") != NULL, "%s", out);
    cr_expect(strstr(out, "FAIL") == NULL, "%s", out);
    free(out);
}

Test(ws, two_hundred_node_clients_at_once)
{
    int rc;
    char *out = h_node(&rc, "ws_client.js %s many 200", url);

    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "ok 4000 echoes") != NULL, "%s", out);
    free(out);
}

/* sockit ws: lines in, messages out, close 1000 at the end of input, exit 0. */
Test(ws, sockit_ws_client_against_our_echo)
{
    const char input[] = "hello\ngrüße 🎉\n\nlast line without newline";
    const char *argv[] = { h_sockit(), "ws", "-q", url, NULL };
    struct proc *c = h_start_tracked("sockit ws", argv, input, sizeof(input) - 1, NULL);

    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    cr_expect_str_eq(h_text_of(c, false, NULL), "hello\ngrüße 🎉\n\nlast line without newline\n");
}

Test(ws, sockit_ws_client_against_node_ws_server)
{
    int port = h_free_port();
    char p[16], u[64];

    snprintf(p, sizeof(p), "%d", port);
    snprintf(u, sizeof(u), "ws://127.0.0.1:%d/x", port);
    const char *srv[] = { "node", "tests/node/ws_server.js", p, NULL };
    struct proc *s = h_start_tracked("node ws server", srv, NULL, 0, NULL);
    cr_assert(h_wait_stdout(s, "listening\n", 5000), "%s", h_text_of(s, true, NULL));

    const char in1[] = "one\nping\n";
    const char *a1[] = { h_sockit(), "ws", "-q", "--json", "-n", "2", u, NULL };
    struct proc *c = h_start_tracked("sockit ws", a1, in1, sizeof(in1) - 1, NULL);
    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    cr_expect_str_eq(h_text_of(c, false, NULL),
                     "{\"type\":\"text\",\"data\":\"one\"}\n"
                     "{\"type\":\"text\",\"data\":\"pong hi\"}\n"
                     "{\"type\":\"close\",\"code\":1000,\"reason\":\"\"}\n");

    /* The server closes with 4001: printed, and the exit status says it was not clean. */
    const char in2[] = "close 4001 go away\n";
    const char *a2[] = { h_sockit(), "ws", u, NULL };
    c = h_start_tracked("sockit ws", a2, in2, sizeof(in2) - 1, NULL);
    cr_expect_eq(h_wait(c, 10000), 1);
    cr_expect(strstr(h_text_of(c, true, NULL), "closed with 4001: go away") != NULL, "%s",
              h_text_of(c, true, NULL));
}

Test(ws, sockit_ws_refuses_wss_and_bad_urls)
{
    const char *a1[] = { h_sockit(), "ws", "wss://127.0.0.1:1/", NULL };
    struct proc *c = h_start_tracked("sockit ws", a1, "", 0, NULL);
    cr_expect_eq(h_wait(c, 5000), 2);
    cr_expect(strstr(h_text_of(c, true, NULL), "TLS") != NULL, "%s", h_text_of(c, true, NULL));

    const char *a2[] = { h_sockit(), "ws", "ws://127.0.0.1:1/a b", NULL };
    c = h_start_tracked("sockit ws", a2, "", 0, NULL);
    cr_expect_eq(h_wait(c, 5000), 2);

    const char *a3[] = { h_sockit(), "ws", "ws://127.0.0.1:1/", NULL };
    c = h_start_tracked("sockit ws", a3, "", 0, NULL);
    cr_expect_eq(h_wait(c, 5000), 1);
    cr_expect(strstr(h_text_of(c, true, NULL), "connect ws://127.0.0.1:1/: Connection refused"),
              "%s", h_text_of(c, true, NULL));
}

/* ---- hostile bytes over a raw socket ----------------------------------------------------- */

/* Send BYTES after the upgrade and expect a close frame with CODE, then the end. */
static void expect_close(const void *bytes, size_t len, int code, const char *what)
{
    int fd = wsc_upgraded(ep);
    char c;

    cr_assert_eq(h_write_all(fd, bytes, len), 0);
    cr_expect_eq(wsc_close_code(fd), code, "%s", what);
    cr_expect_eq(h_read_within(fd, 3000, &c, 1), 0, "%s: the server closes after its close", what);
    close(fd);
}

Test(ws, framing_errors_get_their_close_codes)
{
    uint8_t f[512];
    size_t n;

    const uint8_t unmasked[] = { 0x81, 0x02, 'h', 'i' };
    expect_close(unmasked, sizeof(unmasked), 1002, "an unmasked client frame");
    n = wsc_frame(f, 0x83, "x", 1);
    expect_close(f, n, 1002, "reserved opcode 3");
    n = wsc_frame(f, 0xC1, "x", 1);
    expect_close(f, n, 1002, "RSV1 without an extension");
    n = wsc_frame(f, 0x80, "x", 1);
    expect_close(f, n, 1002, "a continuation outside a message");
    n = wsc_frame(f, 0x09, "x", 1);
    expect_close(f, n, 1002, "a fragmented ping");
    const uint8_t bad_utf8[] = { 'a', 0xC0, 0xAF };
    n = wsc_frame(f, 0x81, bad_utf8, sizeof(bad_utf8));
    expect_close(f, n, 1007, "an overlong encoding");
    const uint8_t huge[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
    expect_close(huge, sizeof(huge), 1002, "a 2^63 length");
    const uint8_t big[] = { 0x82, 0xFF, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4 };
    expect_close(big, sizeof(big), 1009, "a 256 MiB message");
    const uint8_t one[] = { 0x03, 0xE8 };
    n = wsc_frame(f, 0x88, one, 1);
    expect_close(f, n, 1002, "a close with a 1-byte payload");
    const uint8_t code1005[] = { 0x03, 0xED };
    n = wsc_frame(f, 0x88, code1005, 2);
    expect_close(f, n, 1002, "close code 1005 on the wire");
    /* and the server is still there */
    int fd = wsc_upgraded(ep);
    n = wsc_frame(f, 0x81, "alive", 5);
    cr_assert_eq(h_write_all(fd, f, n), 0);
    uint8_t back[7];
    cr_assert_eq(h_read_exact(fd, back, 7), 0);
    cr_expect(back[0] == 0x81 && back[1] == 5 && memcmp(back + 2, "alive", 5) == 0);
    close(fd);
}

/* 10,000 one-byte fragments make one 10,000-byte message; the close is answered in kind. */
Test(ws, ten_thousand_fragments_make_one_message)
{
    static uint8_t all[10000 * 7 + 16];
    size_t n = 0;
    int fd = wsc_upgraded(ep);

    for (int i = 0; i < 10000; i++)
        n += wsc_frame(all + n, i == 0 ? 0x02 : i == 9999 ? 0x80 : 0x00, "z", 1);
    cr_assert_eq(h_write_all(fd, all, n), 0);
    uint8_t h[4];
    cr_assert_eq(h_read_exact(fd, h, 4), 0);
    cr_expect(h[0] == 0x82 && h[1] == 126 && (h[2] << 8 | h[3]) == 10000);
    static uint8_t body[10000];
    cr_assert_eq(h_read_exact(fd, body, sizeof(body)), 0);
    cr_expect(body[0] == 'z' && body[9999] == 'z');
    const uint8_t code[] = { 0x0F, 0xA0 }; /* 4000 */
    n = wsc_frame(all, 0x88, code, 2);
    cr_assert_eq(h_write_all(fd, all, n), 0);
    cr_expect_eq(wsc_close_code(fd), 4000);
    close(fd);
}

/* Handshakes refused with their status; a plain request gets 426. */
static void expect_status(const char *req, const char *status, const char *also)
{
    int fd = h_connect(ep);
    char resp[2048];

    cr_assert_eq(h_write_all(fd, req, strlen(req)), 0);
    ssize_t n = h_read_within(fd, 3000, resp, sizeof(resp) - 1);
    cr_assert_gt(n, 0, "no answer to %s", req);
    resp[n] = '\0';
    cr_expect(strncmp(resp, status, strlen(status)) == 0, "%s\n->\n%s", req, resp);
    if (also)
        cr_expect(strstr(resp, also) != NULL, "%s\n->\n%s", req, resp);
    close(fd);
}

Test(ws, handshake_refusals)
{
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n",
                  "HTTP/1.1 400 ", NULL);
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
                  "HTTP/1.1 400 ", NULL);
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: " WSC_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
                  "HTTP/1.1 426 ", "Sec-WebSocket-Version: 13\r\n");
    expect_status("POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: " WSC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                  "HTTP/1.1 400 ", NULL);
    expect_status("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426 ", "Upgrade: websocket\r\n");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "HTTP/1.1 400 ", NULL);
}
