/* Unit tests for sockit/ws.h's permessage-deflate (RFC 7692) on bytes alone: the server's
 * choice among offers (each parameter, bad offers skipped, several offers and fields, the
 * 8-bit window), the client's offer and its check of the answer, and the compression
 * contexts: RFC 7692's own examples, round trips with and without context takeover, the
 * empty message, 1 MiB payloads inflated in pieces, the inflate limit, corrupt data, the
 * memory each context holds. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define RFC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static struct sockit_http_request req;
static struct sockit_http_response resp;

/* ---------------------------------------------------------------- the server's choice */

/* Negotiate on a request whose extra field lines are FIELDS ("Name: value\r\n"...). */
static int negotiate(const char *fields, const struct sockit_ws_deflate_options *o,
                     struct sockit_ws_deflate_params *a, char *value)
{
    static char text[2048];

    snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
    long rc = sockit_http_parse_request(text, strlen(text), 0, &req);
    cr_assert_eq(rc, (long)strlen(text), "the request parses: %s", text);
    return sockit_ws_deflate_negotiate(&req, o, a, value);
}

#define EXT(v) "Sec-WebSocket-Extensions: " v "\r\n"

/* The offer V gets the answer WANT (NULL: declined). */
static void expect_answer(const char *v, const struct sockit_ws_deflate_options *o,
                          const char *want)
{
    char fields[512], value[SOCKIT_WS_DEFLATE_VALUE_MAX];
    struct sockit_ws_deflate_params a;

    snprintf(fields, sizeof(fields), EXT("%s"), v);
    int rc = negotiate(fields, o, &a, value);
    if (!want) {
        cr_expect_eq(rc, 0, "[%s] is declined, got [%s]", v, value);
        return;
    }
    cr_expect_eq(rc, 1, "[%s] is accepted", v);
    cr_expect_str_eq(value, want, "[%s]", v);
}

Test(ws_deflate_offer, each_parameter)
{
    struct sockit_ws_deflate_params a;
    char value[SOCKIT_WS_DEFLATE_VALUE_MAX];

    cr_assert_eq(negotiate(EXT("permessage-deflate"), NULL, &a, value), 1);
    cr_expect_str_eq(value, "permessage-deflate");
    cr_expect(!a.server_no_context_takeover && !a.client_no_context_takeover);
    cr_expect(a.server_max_window_bits == 15 && a.client_max_window_bits == 15);

    expect_answer("permessage-deflate; client_max_window_bits", NULL, "permessage-deflate");
    expect_answer("permessage-deflate; server_no_context_takeover", NULL,
                  "permessage-deflate; server_no_context_takeover");
    expect_answer("permessage-deflate; client_no_context_takeover", NULL,
                  "permessage-deflate; client_no_context_takeover");
    expect_answer("permessage-deflate; server_max_window_bits=10", NULL,
                  "permessage-deflate; server_max_window_bits=10");
    expect_answer("permessage-deflate; client_max_window_bits=12", NULL,
                  "permessage-deflate; client_max_window_bits=12");
    expect_answer("permessage-deflate;server_max_window_bits=\"9\";client_max_window_bits = 11",
                  NULL, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11");
    expect_answer("permessage-deflate; client_max_window_bits=\"1\\3\"", NULL,
                  "permessage-deflate; client_max_window_bits=13");

    cr_assert_eq(negotiate(EXT("permessage-deflate; client_no_context_takeover; "
                               "server_no_context_takeover; client_max_window_bits=9; "
                               "server_max_window_bits=14"),
                           NULL, &a, value),
                 1);
    cr_expect(a.server_no_context_takeover && a.client_no_context_takeover);
    cr_expect(a.server_max_window_bits == 14 && a.client_max_window_bits == 9);
}

Test(ws_deflate_offer, bad_offers_are_declined_not_refused)
{
    static const char *const bad[] = {
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate;",
        "permessage-deflate; ;",
        "permessage-deflate x",
        "permessage-deflate; =9",
        "Permessage-Deflate",
        "permessage-deflatex",
        "x-webkit-deflate-frame",
        "foo; a=\"b, permessage-deflate\"",
        "foo; a=\"b\\\", permessage-deflate\"",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_answer(bad[i], NULL, NULL);

    char value[SOCKIT_WS_DEFLATE_VALUE_MAX] = "x";
    struct sockit_ws_deflate_params a;
    cr_expect_eq(negotiate("", NULL, &a, value), 0, "no field at all");
    cr_expect_str_eq(value, "");
}

Test(ws_deflate_offer, the_first_acceptable_of_several_offers_and_fields)
{
    struct sockit_ws_deflate_params a;
    char value[SOCKIT_WS_DEFLATE_VALUE_MAX];

    expect_answer("permessage-deflate; server_max_window_bits=7, permessage-deflate; "
                  "client_max_window_bits=9, permessage-deflate",
                  NULL, "permessage-deflate; client_max_window_bits=9");
    expect_answer("foo; bar=\"1,2\", permessage-deflate ; server_no_context_takeover , baz", NULL,
                  "permessage-deflate; server_no_context_takeover");
    cr_assert_eq(negotiate(EXT("x-other, permessage-deflate; bad") EXT("") "Other: 1\r\n" EXT(
                               "permessage-deflate; server_max_window_bits=11"),
                           NULL, &a, value),
                 1, "an offer in a later field");
    cr_expect_str_eq(value, "permessage-deflate; server_max_window_bits=11");
    cr_expect_eq(a.server_max_window_bits, 11);
}

Test(ws_deflate_offer, the_servers_options_within_what_the_client_allows)
{
    struct sockit_ws_deflate_options small = { .window_bits = 10 };
    struct sockit_ws_deflate_options nct = { .no_context_takeover = true };
    struct sockit_ws_deflate_params a;
    char value[SOCKIT_WS_DEFLATE_VALUE_MAX];

    expect_answer("permessage-deflate", &nct,
                  "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    expect_answer("permessage-deflate", &small, "permessage-deflate; server_max_window_bits=10");
    expect_answer("permessage-deflate; client_max_window_bits", &small,
                  "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10");
    expect_answer("permessage-deflate; server_max_window_bits=9; client_max_window_bits=12", &small,
                  "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10");
    cr_assert_eq(negotiate(EXT("permessage-deflate"), &small, &a, value), 1);
    cr_expect_eq(a.client_max_window_bits, 15, "a client that did not offer the parameter");
}

/* zlib compresses nothing with a 256-byte window: 8 is answered 8 and compressed with 9, which
 * reaches back 250 bytes at most, so an 8-bit inflater reads it. */
Test(ws_deflate_offer, an_8_bit_window_is_answered_and_kept)
{
    struct sockit_ws_deflate_params a;
    struct sockit_ws_deflate *d;
    struct sockit_buf out;
    char value[SOCKIT_WS_DEFLATE_VALUE_MAX];
    static uint8_t msg[1 << 16], back[1 << 16];

    cr_assert_eq(negotiate(EXT("permessage-deflate; server_max_window_bits=8; "
                               "client_max_window_bits=8"),
                           NULL, &a, value),
                 1);
    cr_expect_str_eq(value,
                     "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8");
    cr_assert_eq(sockit_ws_deflate_new(&d, &a, true), 0);
    for (size_t i = 0; i < sizeof(msg); i++) /* a phrase every 300 bytes: out of an 8-bit reach */
        msg[i] = i % 300 < 40 ? (uint8_t)("the same forty bytes, again and again..."[i % 300])
                              : (uint8_t)("abcd"[(i * 7919) % 4]);
    sockit_buf_init(&out, SIZE_MAX);
    cr_assert_eq(sockit_ws_deflate_message(d, msg, sizeof(msg), &out), 0);
    cr_expect_lt(sockit_buf_len(&out), sizeof(msg) / 2, "it compressed");

    z_stream z = { 0 };
    cr_assert_eq(inflateInit2(&z, -8), Z_OK, "zlib inflates with a 256-byte window");
    uint8_t tailbytes[4] = { 0, 0, 0xff, 0xff };
    cr_assert_eq(sockit_buf_append(&out, tailbytes, 4), 0);
    z.next_in = out.data + out.head;
    z.avail_in = (uInt)sockit_buf_len(&out);
    z.next_out = back;
    z.avail_out = sizeof(back);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    cr_expect(rc == Z_OK || rc == Z_BUF_ERROR, "inflate: %d %s", rc, z.msg ? z.msg : "");
    cr_expect_eq(z.avail_out, 0);
    cr_expect(memcmp(back, msg, sizeof(msg)) == 0);
    inflateEnd(&z);
    sockit_buf_free(&out);
    sockit_ws_deflate_free(d);
}

/* ---------------------------------------------------------------- the client's side */

#define RFC_RESPONSE                                                                               \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
    "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

/* Check the answer whose extra field lines are FIELDS against OFFER. */
static int answer(const char *fields, const struct sockit_ws_deflate_options *offer,
                  struct sockit_ws_deflate_params *a)
{
    static char text[1024];
    const char *chosen;

    snprintf(text, sizeof(text), RFC_RESPONSE "%s\r\n", fields);
    cr_assert_eq(sockit_http_parse_response(text, strlen(text), 0, &resp), (long)strlen(text));
    return sockit_ws_response_check_deflate(&resp, RFC_KEY, NULL, offer, &chosen, a);
}

Test(ws_deflate_client, offers)
{
    char v[SOCKIT_WS_DEFLATE_VALUE_MAX];

    sockit_ws_deflate_offer(NULL, v);
    cr_expect_str_eq(v, "permessage-deflate; client_max_window_bits");
    sockit_ws_deflate_offer(&(struct sockit_ws_deflate_options){ true, 10 }, v);
    cr_expect_str_eq(v, "permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover; server_max_window_bits=10; "
                        "client_max_window_bits=10");
}

Test(ws_deflate_client, accepts_answers_within_the_offer)
{
    struct sockit_ws_deflate_options dflt = { 0 }, small = { true, 10 };
    struct sockit_ws_deflate_params a;

    cr_expect_eq(answer("", &dflt, &a), 0, "declined: no compression");
    cr_expect_eq(answer(EXT(""), &dflt, &a), 0, "an empty list");
    cr_assert_eq(answer(EXT("permessage-deflate"), &dflt, &a), 1);
    cr_expect(a.server_max_window_bits == 15 && a.client_max_window_bits == 15);
    cr_assert_eq(answer(EXT("permessage-deflate; server_no_context_takeover; "
                            "client_no_context_takeover; client_max_window_bits=9; "
                            "server_max_window_bits=12"),
                        &dflt, &a),
                 1, "each parameter, and server_no_context_takeover unasked");
    cr_expect(a.server_no_context_takeover && a.client_no_context_takeover);
    cr_expect(a.server_max_window_bits == 12 && a.client_max_window_bits == 9);
    cr_assert_eq(answer(EXT("permessage-deflate; server_no_context_takeover; "
                            "server_max_window_bits=8"),
                        &small, &a),
                 1);
    cr_expect(a.client_no_context_takeover, "what we offered, we keep to");
    cr_expect(a.server_max_window_bits == 8 && a.client_max_window_bits == 10);
}

Test(ws_deflate_client, refuses_answers_outside_the_offer)
{
    static const char *const bad[] = {
        EXT("x-other"),
        EXT("permessage-deflate, permessage-deflate"),
        EXT("permessage-deflate") EXT("permessage-deflate"),
        EXT("permessage-deflate; foo"),
        EXT("permessage-deflate; client_max_window_bits"),
        EXT("permessage-deflate; server_max_window_bits=16"),
        EXT("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
        EXT("permessage-deflate, x-other"),
    };
    struct sockit_ws_deflate_options dflt = { 0 }, small = { true, 10 };
    struct sockit_ws_deflate_params a;
    const char *chosen;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(answer(bad[i], &dflt, &a), -SOCKIT_EWS_HANDSHAKE, "%s", bad[i]);
    cr_expect_eq(answer(EXT("permessage-deflate; server_no_context_takeover"), &small, &a),
                 -SOCKIT_EWS_HANDSHAKE, "no server_max_window_bits for the one offered");
    cr_expect_eq(answer(EXT("permessage-deflate; server_max_window_bits=10"), &small, &a),
                 -SOCKIT_EWS_HANDSHAKE, "no server_no_context_takeover, offered");
    cr_expect_eq(answer(EXT("permessage-deflate; server_no_context_takeover; "
                            "server_max_window_bits=11"),
                        &small, &a),
                 -SOCKIT_EWS_HANDSHAKE, "a larger window than offered");
    cr_expect_eq(answer(EXT("permessage-deflate; server_no_context_takeover; "
                            "server_max_window_bits=9; client_max_window_bits=12"),
                        &small, &a),
                 -SOCKIT_EWS_HANDSHAKE, "a larger client window than offered");
    answer(EXT("permessage-deflate"), &dflt, &a);
    cr_expect_eq(sockit_ws_response_check(&resp, RFC_KEY, NULL, &chosen), -SOCKIT_EWS_HANDSHAKE,
                 "an extension to a client that offered none");
}

/* The server answers the client's own offer; the client takes that answer; both agree. */
Test(ws_deflate_client, offer_negotiate_check_agree)
{
    static const struct sockit_ws_deflate_options opts[] = {
        { false, 0 }, { true, 0 }, { false, 8 }, { true, 9 }, { false, 12 }, { true, 15 },
    };
    for (size_t c = 0; c < 6; c++) {
        for (size_t s = 0; s < 6; s++) {
            char offer[SOCKIT_WS_DEFLATE_VALUE_MAX], value[SOCKIT_WS_DEFLATE_VALUE_MAX];
            char fields[256];
            struct sockit_ws_deflate_params sa, ca;
            sockit_ws_deflate_offer(&opts[c], offer);
            snprintf(fields, sizeof(fields), EXT("%s"), offer);
            cr_assert_eq(negotiate(fields, &opts[s], &sa, value), 1, "%s", offer);
            snprintf(fields, sizeof(fields), EXT("%s"), value);
            cr_assert_eq(answer(fields, &opts[c], &ca), 1, "%s -> %s", offer, value);
            cr_expect(memcmp(&sa, &ca, sizeof(sa)) == 0, "%s -> %s", offer, value);
        }
    }
}

/* ---------------------------------------------------------------- compressing and inflating */

static const struct sockit_ws_deflate_params takeover = { false, false, 15, 15 };
static const struct sockit_ws_deflate_params fresh = { true, true, 15, 15 };

static void expect_bytes(const struct sockit_buf *b, const uint8_t *want, size_t len,
                         const char *what)
{
    cr_expect_eq(sockit_buf_len(b), len, "%s: %zu bytes, expected %zu", what, sockit_buf_len(b),
                 len);
    cr_expect(sockit_buf_len(b) == len && memcmp(b->data + b->head, want, len) == 0, "%s", what);
}

/* RFC 7692 section 7.2.3.1 and 7.2.3.2: "Hello", then "Hello" again in the shared window. */
Test(ws_deflate, rfc_7692_hello_and_the_shared_window)
{
    static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    static const uint8_t again[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
    struct sockit_ws_deflate *s, *c, *n;
    struct sockit_buf out, in;

    cr_assert_eq(sockit_ws_deflate_new(&s, &takeover, true), 0);
    cr_assert_eq(sockit_ws_deflate_new(&c, &takeover, false), 0);
    cr_assert_eq(sockit_ws_deflate_new(&n, &fresh, true), 0);
    sockit_buf_init(&out, 1024);
    sockit_buf_init(&in, 1024);
    cr_assert_eq(sockit_ws_deflate_message(s, "Hello", 5, &out), 0);
    expect_bytes(&out, hello, sizeof(hello), "7.2.3.1");
    sockit_buf_consume(&out, sockit_buf_len(&out));
    cr_assert_eq(sockit_ws_deflate_message(s, "Hello", 5, &out), 0);
    expect_bytes(&out, again, sizeof(again), "7.2.3.2: the second in the shared window");
    sockit_buf_consume(&out, sockit_buf_len(&out));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sockit_ws_deflate_message(n, "Hello", 5, &out), 0);
        expect_bytes(&out, hello, sizeof(hello), "no context takeover: always the same");
        sockit_buf_consume(&out, sockit_buf_len(&out));
    }

    cr_assert_eq(sockit_ws_inflate(c, hello, 3, false, &in), 0, "7.2.3.3: in two pieces");
    cr_assert_eq(sockit_ws_inflate(c, hello + 3, sizeof(hello) - 3, true, &in), 0);
    expect_bytes(&in, (const uint8_t *)"Hello", 5, "inflated");
    sockit_buf_consume(&in, 5);
    cr_assert_eq(sockit_ws_inflate(c, again, sizeof(again), true, &in), 0);
    expect_bytes(&in, (const uint8_t *)"Hello", 5, "inflated in the shared window");
    sockit_buf_consume(&in, 5);
    cr_expect_eq(sockit_ws_inflate(n, again, sizeof(again), true, &in), -SOCKIT_EWS_DEFLATE,
                 "the shared-window form refers to nothing in a fresh context");
    sockit_buf_free(&out);
    sockit_buf_free(&in);
    sockit_ws_deflate_free(s);
    sockit_ws_deflate_free(c);
    sockit_ws_deflate_free(n);
}

/* RFC 7692 section 7.2.3.4-7.2.3.6: a final block, two blocks, the empty message. */
Test(ws_deflate, rfc_7692_other_forms)
{
    static const uint8_t final[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00 };
    static const uint8_t two[] = { 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                   0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00 };
    static const uint8_t empty[] = { 0x00 };
    struct sockit_ws_deflate *c;
    struct sockit_buf in, out;

    cr_assert_eq(sockit_ws_deflate_new(&c, &takeover, false), 0);
    sockit_buf_init(&in, 1024);
    sockit_buf_init(&out, 1024);
    cr_assert_eq(sockit_ws_inflate(c, final, sizeof(final), true, &in), 0);
    expect_bytes(&in, (const uint8_t *)"Hello", 5, "a final block (BFINAL 1)");
    sockit_buf_consume(&in, 5);
    cr_assert_eq(sockit_ws_inflate(c, two, sizeof(two), true, &in), 0);
    expect_bytes(&in, (const uint8_t *)"Hello", 5, "two blocks");
    sockit_buf_consume(&in, 5);
    cr_assert_eq(sockit_ws_inflate(c, empty, 1, true, &in), 0);
    cr_expect_eq(sockit_buf_len(&in), 0, "the empty message");
    cr_assert_eq(sockit_ws_inflate(c, NULL, 0, true, &in), 0);
    cr_expect_eq(sockit_buf_len(&in), 0, "no payload at all");
    cr_assert_eq(sockit_ws_deflate_message(c, "", 0, &out), 0);
    expect_bytes(&out, empty, 1, "an empty message compresses to one byte");
    sockit_buf_free(&in);
    sockit_buf_free(&out);
    sockit_ws_deflate_free(c);
}

/* Messages from a compressor of P (SERVER's side) through the other side's inflater, pieces
 * of at most PIECE bytes; returns the compressed total. */
static size_t round_trips(const struct sockit_ws_deflate_params *p, bool server,
                          const uint8_t *msgs[], const size_t lens[], size_t n, size_t piece)
{
    struct sockit_ws_deflate *tx, *rx;
    struct sockit_buf z, back;
    size_t total = 0;

    cr_assert_eq(sockit_ws_deflate_new(&tx, p, server), 0);
    cr_assert_eq(sockit_ws_deflate_new(&rx, p, !server), 0);
    cr_expect_eq(sockit_ws_deflate_memory(tx) + sockit_ws_deflate_memory(rx), 0, "lazily");
    sockit_buf_init(&z, SIZE_MAX);
    sockit_buf_init(&back, 4u << 20);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(sockit_ws_deflate_message(tx, msgs[i], lens[i], &z), 0);
        total += sockit_buf_len(&z);
        const uint8_t *q = z.data + z.head;
        size_t left = sockit_buf_len(&z);
        do {
            size_t k = left < piece ? left : piece;
            cr_assert_eq(sockit_ws_inflate(rx, q, k, k == left, &back), 0, "message %zu", i);
            q += k;
            left -= k;
        } while (left > 0);
        cr_assert_eq(sockit_buf_len(&back), lens[i], "message %zu", i);
        cr_assert(memcmp(back.data + back.head, msgs[i], lens[i]) == 0, "message %zu", i);
        sockit_buf_consume(&z, sockit_buf_len(&z));
        sockit_buf_consume(&back, sockit_buf_len(&back));
        bool alone = server ? p->server_no_context_takeover : p->client_no_context_takeover;
        cr_expect_eq(sockit_ws_deflate_memory(tx) == 0, alone, "compressor kept iff takeover");
        cr_expect_eq(sockit_ws_deflate_memory(rx) == 0, alone, "inflater kept iff takeover");
    }
    sockit_buf_free(&z);
    sockit_buf_free(&back);
    sockit_ws_deflate_free(tx);
    sockit_ws_deflate_free(rx);
    return total;
}

Test(ws_deflate, context_takeover_on_and_off_across_messages)
{
    const char *text = "{\"type\":\"chat\",\"room\":\"lobby\",\"text\":\"hello, everyone\"}";
    const uint8_t *msgs[8];
    size_t lens[8];

    for (int i = 0; i < 8; i++) {
        msgs[i] = (const uint8_t *)text;
        lens[i] = i == 3 ? 0 : strlen(text);
    }
    size_t shared = round_trips(&takeover, true, msgs, lens, 8, 7);
    size_t alone = round_trips(&fresh, true, msgs, lens, 8, 7);
    cr_expect_lt(shared, alone, "takeover compresses repeats better: %zu vs %zu", shared, alone);
    round_trips(&takeover, false, msgs, lens, 8, 1);
    round_trips(&fresh, false, msgs, lens, 8, 1000);
    static const struct sockit_ws_deflate_params mixed = { true, false, 9, 12 };
    round_trips(&mixed, true, msgs, lens, 8, 3);
    round_trips(&mixed, false, msgs, lens, 8, 3);
}

Test(ws_deflate, one_mib_random_and_compressible_in_pieces)
{
    static uint8_t random[1 << 20], text[1 << 20];
    const uint8_t *msgs[] = { random, text, random, text };
    size_t lens[] = { sizeof(random), sizeof(text), sizeof(random), sizeof(text) };
    unsigned seed = 7;

    for (size_t i = 0; i < sizeof(random); i++) {
        seed = seed * 1103515245 + 12345;
        random[i] = (uint8_t)(seed >> 16);
        text[i] = i % 100 ? (uint8_t) "lorem ipsum dolor sit amet "[i % 27] : '0' + seed % 10;
    }
    size_t z = round_trips(&takeover, true, msgs, lens, 4, 4093);
    cr_expect_gt(z, 2 * sizeof(random), "random bytes do not shrink");
    cr_expect_lt(z, 2 * sizeof(random) + sizeof(text) / 4, "text does: %zu", z);
    round_trips(&fresh, false, msgs, lens, 4, 65536);
    for (uint8_t bits = 8; bits <= 15; bits++) {
        struct sockit_ws_deflate_params p = { false, false, bits, bits };
        round_trips(&p, true, msgs + 1, lens + 1, 2, 16384);
    }
}

Test(ws_deflate, the_inflate_limit_is_too_big)
{
    static uint8_t zeros[16 << 20];
    struct sockit_ws_deflate *tx, *rx;
    struct sockit_buf z, back;

    cr_assert_eq(sockit_ws_deflate_new(&tx, &fresh, false), 0);
    cr_assert_eq(sockit_ws_deflate_new(&rx, &fresh, true), 0);
    sockit_buf_init(&z, SIZE_MAX);
    sockit_buf_init(&back, 1000);
    cr_assert_eq(sockit_ws_deflate_message(tx, zeros, 1000, &z), 0);
    cr_expect_eq(sockit_ws_inflate(rx, z.data + z.head, sockit_buf_len(&z), true, &back), 0,
                 "exactly the limit");
    cr_expect_eq(sockit_buf_len(&back), 1000);
    sockit_buf_consume(&z, sockit_buf_len(&z));
    sockit_buf_consume(&back, sockit_buf_len(&back));
    cr_assert_eq(sockit_ws_deflate_message(tx, zeros, 1001, &z), 0);
    cr_expect_eq(sockit_ws_inflate(rx, z.data + z.head, sockit_buf_len(&z), true, &back),
                 -SOCKIT_EWS_TOO_BIG, "one byte over");
    cr_expect_eq(sockit_ws_inflate(rx, z.data, 1, true, &back), -SOCKIT_EWS_TOO_BIG,
                 "and after that, always");
    sockit_ws_deflate_free(rx);

    /* 16 MiB of zeros in some 16 KiB: a 1 MiB limit stops it at 1 MiB */
    sockit_buf_consume(&z, sockit_buf_len(&z));
    cr_assert_eq(sockit_ws_deflate_message(tx, zeros, sizeof(zeros), &z), 0);
    cr_expect_lt(sockit_buf_len(&z), 20000);
    cr_assert_eq(sockit_ws_deflate_new(&rx, &fresh, true), 0);
    sockit_buf_free(&back);
    sockit_buf_init(&back, 1 << 20);
    cr_expect_eq(sockit_ws_inflate(rx, z.data + z.head, sockit_buf_len(&z), false, &back),
                 -SOCKIT_EWS_TOO_BIG);
    cr_expect_leq(back.cap, (size_t)1 << 20, "never more than the limit");
    sockit_buf_free(&z);
    sockit_buf_free(&back);
    sockit_ws_deflate_free(tx);
    sockit_ws_deflate_free(rx);
}

Test(ws_deflate, corrupt_data_is_deflate_error)
{
    static const uint8_t bad[][4] = {
        { 0xff, 0xff, 0xff, 0xff }, /* reserved block type 3 */
        { 0x00, 0x05, 0x00, 0x00 }, /* a stored block whose length check fails */
        { 0xf2, 0x00, 0x11, 0x00 }, /* a back reference before the start */
    };
    struct sockit_buf back;

    sockit_buf_init(&back, 1 << 16);
    for (size_t i = 0; i < 3; i++) {
        struct sockit_ws_deflate *rx;
        cr_assert_eq(sockit_ws_deflate_new(&rx, &takeover, true), 0);
        cr_expect_eq(sockit_ws_inflate(rx, bad[i], 4, true, &back), -SOCKIT_EWS_DEFLATE, "case %zu",
                     i);
        cr_expect_eq(sockit_ws_inflate(rx, (const uint8_t *)"\x00", 1, true, &back),
                     -SOCKIT_EWS_DEFLATE, "and every call after");
        sockit_ws_deflate_free(rx);
    }
    sockit_buf_free(&back);
}

Test(ws_deflate, memory_follows_the_window)
{
    static uint8_t text[1 << 16];
    struct sockit_buf z, back;

    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t) "a chat line, more or less "[i % 26];
    sockit_buf_init(&z, SIZE_MAX);
    sockit_buf_init(&back, SIZE_MAX);
    size_t mem[16] = { 0 };
    for (uint8_t bits = 8; bits <= 15; bits++) {
        struct sockit_ws_deflate_params p = { false, false, bits, bits };
        struct sockit_ws_deflate *tx, *rx;
        cr_assert_eq(sockit_ws_deflate_new(&tx, &p, true), 0);
        cr_assert_eq(sockit_ws_deflate_new(&rx, &p, false), 0);
        cr_assert_eq(sockit_ws_deflate_message(tx, text, sizeof(text), &z), 0);
        cr_assert_eq(sockit_ws_inflate(rx, z.data + z.head, sockit_buf_len(&z), true, &back), 0);
        cr_assert_eq(sockit_buf_len(&back), sizeof(text));
        sockit_buf_consume(&z, sockit_buf_len(&z));
        sockit_buf_consume(&back, sizeof(text));
        mem[bits] = sockit_ws_deflate_memory(tx);
        int w = bits < 9 ? 9 : bits;
        cr_expect_leq(mem[bits], ((size_t)1 << (w + 3)) + 6 * 1024, "%d bits: %zu", bits,
                      mem[bits]);
        cr_expect_leq(sockit_ws_deflate_memory(rx), ((size_t)1 << w) + 8 * 1024,
                      "%d bits, inflating: %zu", bits, sockit_ws_deflate_memory(rx));
        sockit_ws_deflate_free(tx);
        sockit_ws_deflate_free(rx);
    }
    cr_expect_gt(mem[15], 256 * 1024, "zlib's defaults: 256 KiB and its state");
    cr_expect_lt(mem[9], 12 * 1024);
    sockit_buf_free(&z);
    sockit_buf_free(&back);
}

Test(ws_deflate, bad_params_and_limits_on_the_way_out)
{
    struct sockit_ws_deflate *d;
    struct sockit_buf small;

    cr_expect_eq(sockit_ws_deflate_new(&d, &(struct sockit_ws_deflate_params){ 0, 0, 7, 15 }, 1),
                 -EINVAL);
    cr_expect_eq(sockit_ws_deflate_new(&d, &(struct sockit_ws_deflate_params){ 0, 0, 15, 16 }, 1),
                 -EINVAL);
    cr_assert_eq(sockit_ws_deflate_new(&d, &takeover, true), 0);
    sockit_buf_init(&small, 8);
    cr_expect_eq(sockit_ws_deflate_message(d, "not going to fit in 8 bytes", 27, &small), -ENOBUFS);
    cr_expect_eq(sockit_ws_deflate_message(d, "x", 1, &small), -ENOBUFS,
                 "the context is out of step with its peer: it stays failed");
    sockit_buf_free(&small);
    sockit_ws_deflate_free(d);
    sockit_ws_deflate_free(NULL);
}
