/* permessage-deflate (RFC 7692) end to end: sockit echo ws:// --deflate against node's ws
 * client (context takeover, none, 8-bit windows; bytes on the socket prove the compression),
 * headless Chromium's own offer, RFC 7692's own bytes over a raw socket, the refusals of bad
 * compressed data with their close codes, offers declined; sockit ws --deflate against our
 * echo (with and without --deflate) and against node's ws server. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/ws_client.h"
#include "sockit/ws.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static struct proc *server;
static char url[64], ep[64];

static void start_echo(void)
{
    const char *extra[] = { "--deflate", NULL };

    server = wsc_start_echo(url, ep, extra);
}

static void stop_echo(void)
{
    wsc_stop_echo(server);
    server = NULL;
}

TestSuite(ws_deflate_echo, .init = start_echo, .fini = stop_echo, .timeout = 60);

static void expect_node_deflate(const char *mode, const char *negotiated)
{
    int rc;
    char *out = h_node(&rc, "ws_client.js %s deflate %s", url, mode);

    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, negotiated) != NULL, "%s", out);
    cr_expect(strstr(out, "ok compressed on the wire") != NULL, "%s", out);
    cr_expect(strstr(out, "ok fragmented") != NULL, "%s", out);
    cr_expect(strstr(out, "FAIL") == NULL, "%s", out);
    free(out);
}

Test(ws_deflate_echo, node_ws_client_messages_travel_compressed)
{
    expect_node_deflate("takeover", "ok negotiated permessage-deflate {}");
    H_CHECK(h_wait_stderr(server, "WebSocket open, path /, permessage-deflate\n", 1000),
            "the log names the extension");
}

/* Chromium offers permessage-deflate on every connection: agreed, and every kind of message
 * comes back unchanged through its inflater and ours. */
Test(ws_deflate_echo, chromium_messages_travel_compressed, .timeout = 120)
{
    int rc;
    char *out = h_node(&rc, "ws_browser.js %s permessage-deflate", url);

    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "ok negotiated \"permessage-deflate\"") != NULL, "%s", out);
    cr_expect(strstr(out, "ok random binary came back unchanged") != NULL, "%s", out);
    cr_expect(strstr(out, "FAIL") == NULL, "%s", out);
    free(out);
    H_CHECK(h_wait_stderr(server, "WebSocket open, path /, permessage-deflate\n", 1000),
            "the log names the extension");
}

Test(ws_deflate_echo, node_ws_client_without_context_takeover)
{
    expect_node_deflate("nct", "ok negotiated permessage-deflate "
                               "{\"server_no_context_takeover\":true,"
                               "\"client_no_context_takeover\":true}");
}

Test(ws_deflate_echo, node_ws_client_with_8_bit_windows)
{
    expect_node_deflate("8", "ok negotiated permessage-deflate "
                             "{\"server_max_window_bits\":8,\"client_max_window_bits\":8}");
}

/* ---- raw bytes ---------------------------------------------------------------------------- */

/* Connect and upgrade offering EXT (NULL: no field); the 101's head in HEAD. */
static int upgraded(const char *ext, char *head, size_t cap)
{
    char req[512];
    int fd = h_connect(ep);
    size_t got = 0;

    snprintf(req, sizeof(req),
             "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
             ext ? "Sec-WebSocket-Extensions: " : "", ext ? ext : "", ext ? "\r\n" : "");
    cr_assert_eq(h_write_all(fd, req, strlen(req)), 0);
    while (got < cap - 1) { /* up to the end of the head, byte by byte */
        cr_assert_eq(h_read_exact(fd, head + got, 1), 0, "%.*s", (int)got, head);
        got++;
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[got] = '\0';
    cr_assert(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    return fd;
}

/* A masked client frame: B0 (FIN, RSV1, opcode), PAYLOAD; into OUT, its length. */
static size_t frame(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = sockit_ws_frame_header(out, (enum sockit_ws_opcode)(b0 & 0x0f), b0 & 0x80, b0 & 0x40,
                                      len, key);

    memcpy(out + h, payload, len);
    sockit_ws_mask(out + h, len, key, 0);
    return h + len;
}

static void expect_frame(int fd, const uint8_t *want, size_t len, const char *what)
{
    uint8_t got[64];

    cr_assert_leq(len, sizeof(got));
    cr_assert_eq(h_read_exact(fd, got, len), 0, "%s: no frame", what);
    cr_expect(memcmp(got, want, len) == 0, "%s: %02x %02x %02x %02x ...", what, got[0], got[1],
              got[2], got[3]);
}

/* RFC 7692 section 7.2.3.1 and 7.2.3.2 on the wire: "Hello" compressed comes back as the
 * RFC's bytes, and again as the shared-window form. */
Test(ws_deflate_echo, rfc_7692_hello_on_the_wire)
{
    static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    static const uint8_t first[] = { 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    static const uint8_t again[] = { 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00 };
    char head[1024];
    uint8_t f[64];
    int fd = upgraded("permessage-deflate; client_max_window_bits", head, sizeof(head));

    cr_expect(strstr(head, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"), "%s", head);
    size_t n = frame(f, 0xc1, hello, sizeof(hello));
    cr_assert_eq(h_write_all(fd, f, n), 0);
    expect_frame(fd, first, sizeof(first), "7.2.3.1");
    cr_assert_eq(h_write_all(fd, f, n), 0); /* our compressor started afresh: the same bytes */
    expect_frame(fd, again, sizeof(again), "7.2.3.2, the server keeping its context");
    close(fd);

    fd = upgraded("permessage-deflate; server_no_context_takeover", head, sizeof(head));
    cr_expect(strstr(head, "Extensions: permessage-deflate; server_no_context_takeover\r\n"), "%s",
              head);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(h_write_all(fd, f, n), 0);
        expect_frame(fd, first, sizeof(first), "no context takeover: always the first form");
    }
    n = frame(f, 0x41, hello, 3); /* 7.2.3.3: one message in two frames, RSV1 on the first */
    n += frame(f + n, 0x80, hello + 3, sizeof(hello) - 3);
    cr_assert_eq(h_write_all(fd, f, n), 0);
    expect_frame(fd, first, sizeof(first), "fragmented");
    close(fd);
}

/* Read frames until a close; its code (0 if none), or -1 if the connection ended. */
static int close_code(int fd)
{
    for (;;) {
        uint8_t h[2], p[65536];
        if (h_read_exact(fd, h, 2) != 0)
            return -1;
        size_t len = h[1] & 0x7f;
        if (len == 126) {
            uint8_t x[2];
            cr_assert_eq(h_read_exact(fd, x, 2), 0);
            len = (size_t)x[0] << 8 | x[1];
        }
        cr_assert(len <= sizeof(p), "a small server frame");
        if (len)
            cr_assert_eq(h_read_exact(fd, p, len), 0);
        if ((h[0] & 0x0f) == 0x8)
            return len >= 2 ? p[0] << 8 | p[1] : 0;
    }
}

/* After an upgrade offering EXT, send BYTES and expect close CODE, then the end. */
static void expect_close(const char *ext, const void *bytes, size_t len, int code, const char *what)
{
    char head[1024], c;
    int fd = upgraded(ext, head, sizeof(head));

    cr_assert_eq(h_write_all(fd, bytes, len), 0);
    cr_expect_eq(close_code(fd), code, "%s", what);
    cr_expect_eq(h_read_within(fd, 3000, &c, 1), 0, "%s: the server closes after its close", what);
    close(fd);
}

/* A compressed message of LEN bytes of BYTE, as a client compresses it. */
static size_t compressed(uint8_t *out, size_t cap, uint8_t byte, size_t len, uint8_t b0)
{
    static const struct sockit_ws_deflate_params p = { false, false, 15, 15 };
    struct sockit_ws_deflate *d;
    struct sockit_buf z;
    uint8_t *msg = malloc(len);

    memset(msg, byte, len);
    sockit_buf_init(&z, SIZE_MAX);
    cr_assert_eq(sockit_ws_deflate_new(&d, &p, false), 0);
    cr_assert_eq(sockit_ws_deflate_message(d, msg, len, &z), 0);
    cr_assert_lt(sockit_buf_len(&z) + SOCKIT_WS_MAX_HEADER, cap);
    size_t n = frame(out, b0, z.data + z.head, sockit_buf_len(&z));
    sockit_buf_free(&z);
    sockit_ws_deflate_free(d);
    free(msg);
    return n;
}

Test(ws_deflate_echo, bad_compressed_messages_get_their_close_codes)
{
    static uint8_t f[1 << 16];
    const char *pmd = "permessage-deflate";
    size_t n;

    static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff };
    n = frame(f, 0xc2, garbage, sizeof(garbage));
    expect_close(pmd, f, n, 1007, "data that does not inflate");
    n = compressed(f, sizeof(f), 0xc0, 10, 0xc1);
    expect_close(pmd, f, n, 1007, "a text that inflates to invalid UTF-8");
    n = compressed(f, sizeof(f), 'z', (16u << 20) + 1, 0xc2);
    cr_expect_lt(n, 20000, "16 MiB in %zu bytes", n);
    expect_close(pmd, f, n, 1009, "a message that inflates past 16 MiB");
    static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    n = frame(f, 0x41, hello, 3);
    n += frame(f + n, 0xc0, hello + 3, sizeof(hello) - 3);
    expect_close(pmd, f, n, 1002, "RSV1 on a continuation frame");
    n = frame(f, 0xc9, "x", 1);
    expect_close(pmd, f, n, 1002, "RSV1 on a ping");
    n = frame(f, 0xc1, hello, sizeof(hello));
    expect_close("permessage-deflate; server_max_window_bits=16", f, n, 1002,
                 "RSV1 after a bad offer was declined");
}

Test(ws_deflate_echo, bad_offers_are_declined_and_the_upgrade_goes_on)
{
    static const char *const offers[] = {
        "permessage-deflate; foo",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "x-webkit-deflate-frame",
    };
    char head[1024];
    uint8_t f[16], back[7];

    for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
        int fd = upgraded(offers[i], head, sizeof(head));
        cr_expect(strstr(head, "Sec-WebSocket-Extensions") == NULL, "%s ->\n%s", offers[i], head);
        size_t n = frame(f, 0x81, "plain", 5);
        cr_assert_eq(h_write_all(fd, f, n), 0);
        cr_assert_eq(h_read_exact(fd, back, 7), 0);
        cr_expect(back[0] == 0x81 && back[1] == 5 && memcmp(back + 2, "plain", 5) == 0,
                  "uncompressed: %02x", back[0]);
        close(fd);
    }
}

/* ---- sockit ws --deflate ------------------------------------------------------------------ */

/* Every send and recv in TRACE (sockit --trace lines) moved fewer than MAX bytes. */
static void expect_small_io(const char *trace, long max)
{
    for (const char *p = trace; (p = strstr(p, ") = ")) != NULL; p += 4) {
        const char *call = p;
        while (call > trace && call[-1] != '\n')
            call--;
        if (strncmp(call, "send(", 5) == 0 || strncmp(call, "recv(", 5) == 0)
            cr_expect_lt(atol(p + 4), max, "%.*s", (int)(strchr(p, '\n') - call), call);
    }
}

Test(ws_deflate_echo, sockit_ws_client_against_our_echo)
{
    static char input[300000];
    const char *argv[] = { h_sockit(), "ws", "--deflate", "--trace", url, NULL };

    strcpy(input, "hello\ngrüße 🎉\n\n");
    memset(input + strlen(input), 'a', 200000);
    strcat(input, "\nlast line without newline");
    struct proc *c = h_start_tracked("sockit ws --deflate", argv, input, strlen(input), NULL);
    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    strcat(input, "\n");
    char *out = h_stdout(c, NULL);
    cr_expect(strcmp(out, input) == 0, "the lines come back");
    free(out);
    const char *err = h_text_of(c, true, NULL);
    cr_expect(strstr(err, "connected to ") && strstr(err, ", permessage-deflate\n"), "%s", err);
    expect_small_io(err, 4096); /* 200 KB each way in a few hundred bytes */

    /* and an echo without --deflate declines: the client goes on uncompressed */
    int port = h_free_port();
    char u[64];
    snprintf(u, sizeof(u), "ws://127.0.0.1:%d/", port);
    const char *plain[] = { h_sockit(), "echo", u, NULL };
    struct proc *s = h_start_tracked("sockit echo ws://", plain, "", 0, NULL);
    H_CHECK(h_wait_stderr(s, "listening on", 5000), "the plain echo did not start");
    const char *a2[] = { h_sockit(), "ws", "--deflate", u, NULL };
    c = h_start_tracked("sockit ws --deflate", a2, "one\ntwo\n", 8, NULL);
    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    cr_expect_str_eq(h_text_of(c, false, NULL), "one\ntwo\n");
    cr_expect(strstr(h_text_of(c, true, NULL), ", uncompressed\n"), "%s", h_text_of(c, true, NULL));
}

/* Against node's server: each mode's parameters agreed, and a 100 KB line reaches it small. */
static void against_node(const char *mode, const char *params)
{
    int port = h_free_port();
    char p[16], u[64], want[512];
    static char input[120000];

    snprintf(p, sizeof(p), "%d", port);
    snprintf(u, sizeof(u), "ws://127.0.0.1:%d/", port);
    const char *srv[] = { "node", "tests/node/ws_server.js", p, mode, NULL };
    struct proc *s = h_start_tracked("node ws server", srv, NULL, 0, NULL);
    cr_assert(h_wait_stdout(s, "listening\n", 5000), "%s", h_text_of(s, true, NULL));

    memset(input, 'b', 100000);
    input[100000] = '\0';
    strcat(input, "\nextensions\nread\n");
    const char *argv[] = { h_sockit(), "ws", "--deflate", "-n", "3", u, NULL };
    struct proc *c = h_start_tracked("sockit ws --deflate", argv, input, strlen(input), NULL);
    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    char *out = h_stdout(c, NULL);
    cr_expect(strncmp(out, input, 100001) == 0, "the 100 KB line comes back");
    snprintf(want, sizeof(want), "\n%s\nread ", params);
    const char *at = strstr(out, want);
    cr_expect(at && atol(at + strlen(want)) < 2000, "what node read: %s", out + 100000);
    free(out);
    h_stop(s, SIGTERM, 3000);
}

Test(ws_deflate_echo, sockit_ws_client_against_node_ws_server)
{
    against_node("deflate", "{}");
    against_node("deflate-nct",
                 "{\"server_no_context_takeover\":true,\"client_no_context_takeover\":true}");
}
