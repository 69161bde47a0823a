/* libFuzzer target for sockit/ws.h's permessage-deflate. The first input byte picks the
 * options and parameters (window bits 8 + its low three bits; bit 3 no_context_takeover as an
 * option; bits 4 and 5 server_ and client_no_context_takeover as parameters), the second the
 * size of the pieces the rest is inflated in (0: all at once). The rest is read three ways.
 *
 *   - As Sec-WebSocket-Extensions values, one field per line: the server's choice never fails
 *     the handshake; an agreed offer has windows of 8 to 15 bits, a context can be made for
 *     it, and its answer, read back by a client that offered the defaults, means the same
 *     parameters to the client as to the server. The client's check of those lines as the
 *     server's answer to an offer made with the options agrees only within that offer.
 *   - As compressed bytes: inflating them with a 4 KiB limit gives 0, -SOCKIT_EWS_DEFLATE or
 *     -SOCKIT_EWS_TOO_BIG, never more than the limit, and the same in pieces as at once.
 *   - As messages: compressed on one side (in up to three messages) and inflated on the other,
 *     in pieces, they come back as they were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define MAX_INPUT (64 * 1024)
#define LIMIT     4096

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ws_deflate: %s\n", what);
    abort();
}

/* ---- negotiation ---------------------------------------------------------------------------- */

/* A head: LINE0, then one Sec-WebSocket-Extensions field per line of D (control bytes made
 * spaces, so that most lines parse), into BUF. Its length, or 0 if it does not fit. */
static size_t head(char *buf, size_t cap, const char *line0, const uint8_t *d, size_t n)
{
    static const char name[] = "Sec-WebSocket-Extensions: ";
    size_t len = (size_t)snprintf(buf, cap, "%s", line0), i = 0;

    do {
        if (len + sizeof(name) + 4 > cap)
            return 0;
        memcpy(buf + len, name, sizeof(name) - 1);
        len += sizeof(name) - 1;
        for (; i < n && d[i] != '\n' && len + 4 < cap; i++)
            buf[len++] = (char)(d[i] < 0x20 || d[i] == 0x7f ? ' ' : d[i]);
        memcpy(buf + len, "\r\n", 2);
        len += 2;
    } while (i++ < n);
    if (len + 2 > cap)
        return 0;
    memcpy(buf + len, "\r\n", 2);
    return len + 2;
}

static bool bits_ok(int b)
{
    return b >= 8 && b <= 15;
}

/* The server's 101 with VALUE, as a client that offered the defaults reads it. */
static void read_back(const char *value, const struct sockit_ws_deflate_params *want)
{
    static char buf[512];
    static struct sockit_http_response resp;
    struct sockit_ws_deflate_params got;
    char key[] = "dGhlIHNhbXBsZSBub25jZQ==", accept[SOCKIT_WS_ACCEPT_LEN + 1];
    const char *chosen;

    sockit_ws_accept((struct sockit_http_str){ key, strlen(key) }, accept);
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Extensions: %s\r\n\r\n",
                     accept, value);
    const struct sockit_ws_deflate_options dflt = { 0 };
    if (sockit_http_parse_response(buf, (size_t)n, 0, &resp) != n ||
        sockit_ws_response_check_deflate(&resp, key, NULL, &dflt, &chosen, &got) != 1)
        fail("a client refuses the server's answer to an offer");
    if (memcmp(&got, want, sizeof(got)) != 0)
        fail("the answer means other parameters to the client than to the server");
}

static void offers(const uint8_t *d, size_t n, const struct sockit_ws_deflate_options *o)
{
    static char buf[MAX_INPUT + 8192];
    static struct sockit_http_request req;
    struct sockit_ws_deflate_params p;
    struct sockit_ws_deflate *ctx;
    char value[SOCKIT_WS_DEFLATE_VALUE_MAX];
    size_t len = head(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n", d, n);

    if (!len || sockit_http_parse_request(buf, len, 0, &req) <= 0)
        return;
    int rc = sockit_ws_deflate_negotiate(&req, o, &p, value);
    if (rc != 0 && rc != 1)
        fail("the server's choice is neither yes nor no");
    if (rc == 0)
        return;
    if (!bits_ok(p.server_max_window_bits) || !bits_ok(p.client_max_window_bits))
        fail("an agreed window outside 8..15");
    if (sockit_ws_deflate_new(&ctx, &p, true) != 0)
        fail("no context for agreed parameters");
    sockit_ws_deflate_free(ctx);
    read_back(value, &p);
}

static void answers(const uint8_t *d, size_t n, const struct sockit_ws_deflate_options *o)
{
    static char buf[MAX_INPUT + 8192];
    static struct sockit_http_response resp;
    struct sockit_ws_deflate_params p;
    char key[] = "dGhlIHNhbXBsZSBub25jZQ==", line0[256], accept[SOCKIT_WS_ACCEPT_LEN + 1];
    const char *chosen;
    int w = o->window_bits;

    sockit_ws_accept((struct sockit_http_str){ key, strlen(key) }, accept);
    snprintf(line0, sizeof(line0),
             "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n",
             accept);
    size_t len = head(buf, sizeof(buf), line0, d, n);
    if (!len || sockit_http_parse_response(buf, len, 0, &resp) <= 0)
        return;
    int rc = sockit_ws_response_check_deflate(&resp, key, NULL, o, &chosen, &p);
    if (rc != 0 && rc != 1 && rc != -SOCKIT_EWS_HANDSHAKE)
        fail("the client's check answers with another code");
    if (rc == 1 && (!bits_ok(p.server_max_window_bits) || p.server_max_window_bits > w ||
                    !bits_ok(p.client_max_window_bits) || p.client_max_window_bits > w ||
                    (o->no_context_takeover &&
                     (!p.server_no_context_takeover || !p.client_no_context_takeover))))
        fail("an answer accepted outside the offer");
}

/* ---- compressed bytes ------------------------------------------------------------------------ */

/* Inflate D[0, N) into OUT with CTX as one message, in pieces of PIECE bytes (0: at once). */
static int inflate_message(struct sockit_ws_deflate *ctx, const uint8_t *d, size_t n, size_t piece,
                           struct sockit_buf *out)
{
    size_t off = 0;
    int rc;

    if (piece == 0)
        piece = n ? n : 1;
    do {
        size_t k = n - off < piece ? n - off : piece;
        rc = sockit_ws_inflate(ctx, d + off, k, off + k == n, out);
        off += k;
    } while (rc == 0 && off < n);
    return rc;
}

/* inflate_message with a fresh context for P. */
static int inflate_pieces(const struct sockit_ws_deflate_params *p, const uint8_t *d, size_t n,
                          size_t piece, struct sockit_buf *out)
{
    struct sockit_ws_deflate *ctx;

    if (sockit_ws_deflate_new(&ctx, p, true) != 0)
        fail("no context");
    int rc = inflate_message(ctx, d, n, piece, out);
    sockit_ws_deflate_free(ctx);
    return rc;
}

static void inflate_bytes(const uint8_t *d, size_t n, const struct sockit_ws_deflate_params *p,
                          size_t piece)
{
    struct sockit_buf whole, pieces;

    sockit_buf_init(&whole, LIMIT);
    sockit_buf_init(&pieces, LIMIT);
    int a = inflate_pieces(p, d, n, 0, &whole);
    int b = inflate_pieces(p, d, n, piece, &pieces);
    if (a != 0 && a != -SOCKIT_EWS_DEFLATE && a != -SOCKIT_EWS_TOO_BIG)
        fail("inflate answers with another code");
    if (sockit_buf_len(&whole) > LIMIT || whole.cap > LIMIT)
        fail("inflated past the limit");
    if (a != b || (a == 0 && (sockit_buf_len(&whole) != sockit_buf_len(&pieces) ||
                              memcmp(whole.data, pieces.data, sockit_buf_len(&whole)) != 0)))
        fail("inflated in pieces, it differs from at once");
    sockit_buf_free(&whole);
    sockit_buf_free(&pieces);
}

/* ---- messages, there and back ---------------------------------------------------------------- */

static void round_trip(const uint8_t *d, size_t n, const struct sockit_ws_deflate_params *p,
                       size_t piece)
{
    struct sockit_ws_deflate *tx, *rx;
    struct sockit_buf z, back;
    size_t cut[4] = { 0, n / 3, n / 2 + n / 7, n };

    if (sockit_ws_deflate_new(&tx, p, true) || sockit_ws_deflate_new(&rx, p, false))
        fail("no context");
    sockit_buf_init(&z, SIZE_MAX);
    sockit_buf_init(&back, n);
    for (int m = 0; m < 3; m++) {
        size_t len = cut[m + 1] - cut[m];
        if (sockit_ws_deflate_message(tx, d + cut[m], len, &z) != 0)
            fail("a message does not compress");
        if (inflate_message(rx, z.data + z.head, sockit_buf_len(&z), piece, &back) != 0)
            fail("our own compressed message does not inflate");
        if (sockit_buf_len(&back) != len || (len && memcmp(back.data + back.head, d + cut[m], len)))
            fail("a message comes back changed");
        sockit_buf_consume(&z, sockit_buf_len(&z));
        sockit_buf_consume(&back, sockit_buf_len(&back));
    }
    sockit_buf_free(&z);
    sockit_buf_free(&back);
    sockit_ws_deflate_free(tx);
    sockit_ws_deflate_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > MAX_INPUT)
        return 0;
    uint8_t b0 = data[0];
    size_t n = size - 2, piece = data[1] ? 1 + (size_t)data[1] * 7 % 500 : 0;
    uint8_t *d = malloc(n ? n : 1); /* exactly N bytes: ASan sees any read past them */
    struct sockit_ws_deflate_options o = { (b0 & 8) != 0, (uint8_t)(8 + (b0 & 7)) };
    struct sockit_ws_deflate_params p = { (b0 & 16) != 0, (b0 & 32) != 0, (uint8_t)(8 + (b0 & 7)),
                                          (uint8_t)(15 - (b0 & 7)) };

    if (n)
        memcpy(d, data + 2, n);
    offers(d, n, &o);
    answers(d, n, &o);
    inflate_bytes(d, n, &p, piece);
    round_trip(d, n, &p, piece);
    free(d);
    return 0;
}
