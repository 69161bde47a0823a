/* Unit tests for sockit/ws.h's opening handshake on bytes alone: RFC 6455's own key and
 * request, header-token lists, the subprotocol choice, every refusal with the status it is
 * answered with, the response parser and the client's check of the server's answer, and a
 * whole handshake from the client's key to the client's check. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define RFC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 section 1.3 */

static struct sockit_http_request req;
static struct sockit_http_response resp;
static struct sockit_ws_handshake hs;

/* Parse TEXT as a request head, then check it as an upgrade. */
static int check(const char *text, const char *const *protocols)
{
    long rc = sockit_http_parse_request(text, strlen(text), 0, &req);

    cr_assert_eq(rc, (long)strlen(text), "the request head parses: %ld (%s)", rc,
                 sockit_strerror((int)rc));
    return sockit_ws_handshake_check(&req, protocols, &hs);
}

static bool str_is(struct sockit_http_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---------------------------------------------------------------- keys */

Test(ws_handshake, rfc_key_and_accept)
{
    char out[SOCKIT_WS_ACCEPT_LEN + 1], key[SOCKIT_WS_KEY_LEN + 1];

    sockit_ws_accept((struct sockit_http_str){ RFC_KEY, strlen(RFC_KEY) }, out);
    cr_expect_str_eq(out, RFC_ACCEPT);
    sockit_ws_client_key((const uint8_t *)"the sample nonce", key);
    cr_expect_str_eq(key, RFC_KEY, "RFC 6455 section 4.1's nonce");
}

/* ---------------------------------------------------------------- the server's check */

#define RFC_REQUEST                                                                                \
    "GET /chat HTTP/1.1\r\n"                                                                       \
    "Host: server.example.com\r\n"                                                                 \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: " RFC_KEY "\r\n"                                                           \
    "Origin: http://example.com\r\n"                                                               \
    "Sec-WebSocket-Protocol: chat, superchat\r\n"                                                  \
    "Sec-WebSocket-Version: 13\r\n"

Test(ws_handshake, rfc_request_and_its_101)
{
    static const char *const protocols[] = { "superchat", "chat", NULL };
    char buf[512];
    struct sockit_http_head h;

    cr_assert(sockit_ws_is_upgrade(&req) == false);
    cr_assert_eq(check(RFC_REQUEST "\r\n", protocols), 0);
    cr_expect(sockit_ws_is_upgrade(&req));
    cr_expect_str_eq(hs.accept, RFC_ACCEPT);
    cr_expect_eq(hs.protocol, protocols[1], "the client's first that the server speaks");
    cr_expect(str_is(hs.origin, "http://example.com"));
    cr_expect_eq(hs.extensions.len, 0);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_ws_handshake_response(&h, &hs);
    long n = sockit_http_head_end(&h);
    const char *want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n\r\n";
    cr_assert_eq(n, (long)strlen(want));
    cr_expect(memcmp(buf, want, (size_t)n) == 0, "%.*s", (int)n, buf);
}

#define BASE                                                                                       \
    "GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"

Test(ws_handshake, token_lists_are_case_insensitive_and_may_repeat)
{
    cr_expect_eq(check(BASE "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", NULL),
                 0);
    cr_expect_eq(check(BASE "upgrade: h2c ,\t websocket\r\nconnection: UPGRADE\r\n\r\n", NULL), 0);
    cr_expect_eq(check(BASE "Upgrade: websocket\r\nConnection: keep-alive\r\n"
                            "Connection: ,upgrade,\r\n\r\n",
                       NULL),
                 0);
    cr_expect_eq(check(BASE "Upgrade: foo\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                            "Sec-WebSocket-Extensions: x-other\r\n\r\n",
                       NULL),
                 0);
    cr_expect(str_is(hs.extensions, "permessage-deflate"), "the first field, as sent");
    cr_expect_eq(hs.protocol, NULL);
    cr_expect_eq(hs.origin.len, 0);
}

#define UPGRADE BASE "Upgrade: websocket\r\nConnection: Upgrade\r\n"

Test(ws_handshake, the_first_subprotocol_the_client_lists_that_the_server_speaks)
{
    static const char *const server[] = { "a", "chat", "b.v2", NULL };

    cr_expect_eq(check(UPGRADE "Sec-WebSocket-Protocol: x, b.v2\r\n"
                               "Sec-WebSocket-Protocol: chat\r\n\r\n",
                       server),
                 0);
    cr_expect_str_eq(hs.protocol, "b.v2");
    cr_expect_eq(check(UPGRADE "Sec-WebSocket-Protocol: Chat, x\r\n\r\n", server), 0);
    cr_expect_null(hs.protocol, "names are case-sensitive");
    cr_expect_eq(check(UPGRADE "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL), 0);
    cr_expect_null(hs.protocol, "a server without subprotocols chooses none");
    char text[512], name[SOCKIT_WS_MAX_PROTOCOL + 2];
    memset(name, 'p', sizeof(name) - 2);
    name[SOCKIT_WS_MAX_PROTOCOL] = '\0';
    snprintf(text, sizeof(text), UPGRADE "Sec-WebSocket-Protocol: %s\r\n\r\n", name);
    cr_expect_eq(check(text, server), 0, "a name of SOCKIT_WS_MAX_PROTOCOL characters");
}

static const struct refusal {
    const char *text;
    int code, status;
} refusals[] = {
    { "POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " RFC_KEY "\r\nContent-Length: 0\r\n\r\n",
      SOCKIT_EWS_UPGRADE, 400 },
    { "get / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
      SOCKIT_EWS_UPGRADE, 400 },
    { "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
      SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Connection: Upgrade\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Upgrade: websocket/13\r\nConnection: Upgrade\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Upgrade: websocket\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Upgrade: websocket\r\nConnection: keep-alive\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { BASE "Upgrade: websocket\r\nConnection: upgrades\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { UPGRADE "Sec-WebSocket-Protocol: a b\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { UPGRADE "Sec-WebSocket-Protocol: chat, \"q\"\r\n\r\n", SOCKIT_EWS_UPGRADE, 400 },
    { UPGRADE "Sec-WebSocket-Protocol: "
              "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp\r\n\r\n",
      SOCKIT_EWS_UPGRADE, 400 }, /* 65 characters */
    { "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
      SOCKIT_EWS_VERSION, 426 },
    { "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
      SOCKIT_EWS_VERSION, 426 },
    { "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13, 8\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
      SOCKIT_EWS_VERSION, 426 },
    { UPGRADE "Sec-WebSocket-Version: 13\r\n\r\n", SOCKIT_EWS_VERSION, 426 }, /* twice */
    { "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      SOCKIT_EWS_KEY, 400 },
    { UPGRADE "Sec-WebSocket-Key: " RFC_KEY "\r\n\r\n", SOCKIT_EWS_KEY, 400 }, /* twice */
};

/* A request with KEY as its Sec-WebSocket-Key, checked. */
static int check_key(const char *key)
{
    char text[512];

    snprintf(text, sizeof(text),
             "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
             key);
    return check(text, NULL);
}

Test(ws_handshake, refusals_and_their_status)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        int rc = check(refusals[i].text, NULL);
        cr_expect_eq(rc, -refusals[i].code, "case %zu: %d (%s), expected %s", i, rc,
                     sockit_strerror(rc), sockit_strerror(-refusals[i].code));
        cr_expect_eq(sockit_ws_error_status(rc), refusals[i].status, "case %zu", i);
    }
    cr_expect_eq(sockit_ws_error_status(-SOCKIT_EWS_ORIGIN), 403);
    cr_expect_eq(sockit_ws_error_status(-EINVAL), 400);
}

Test(ws_handshake, a_key_is_base64_of_exactly_16_bytes)
{
    cr_expect_eq(check_key("AAAAAAAAAAAAAAAAAAAAAA=="), 0);
    cr_expect_eq(check_key("+/+/+/+/+/09azAZ+/+/+w=="), 0);
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25jZQ="), -SOCKIT_EWS_KEY, "23 characters");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25jZQ==="), -SOCKIT_EWS_KEY, "25 characters");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25jZQ=A"), -SOCKIT_EWS_KEY, "one '='");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25jZQAA"), -SOCKIT_EWS_KEY, "18 bytes, no padding");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub2=jZQ=="), -SOCKIT_EWS_KEY, "'=' inside");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25jZ-=="), -SOCKIT_EWS_KEY, "base64url's '-'");
    cr_expect_eq(check_key("dGhlIHNhbXBsZSBub25j.Q=="), -SOCKIT_EWS_KEY);
    cr_expect_eq(check_key(""), -SOCKIT_EWS_KEY);
}

/* ---------------------------------------------------------------- the client's side */

static long parse_response(const char *text)
{
    return sockit_http_parse_response(text, strlen(text), 0, &resp);
}

#define RFC_RESPONSE                                                                               \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
    "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

Test(ws_response, parses_a_101_and_stops_at_its_end)
{
    const char *text = RFC_RESPONSE "Sec-WebSocket-Protocol: chat\r\n\r\n\x81\x05Hello";
    size_t head = strlen(text) - 7;

    cr_assert_eq(parse_response(text), (long)head, "the frame after the head is not consumed");
    cr_expect_eq(resp.status, 101);
    cr_expect_eq(resp.minor, 1);
    cr_expect(str_is(resp.reason, "Switching Protocols"));
    cr_expect_eq(resp.nfields, 4);
    cr_expect(str_is(resp.fields[3].name, "Sec-WebSocket-Protocol"));
    cr_expect(str_is(resp.fields[3].value, "chat"));
    cr_expect_eq(parse_response("HTTP/1.0 200 \r\n\r\n"), 17, "an empty reason");
    cr_expect_eq(resp.minor, 0);
    cr_expect_eq(resp.reason.len, 0);
    cr_expect_eq(parse_response("HTTP/1.1 101 Switching"), 0, "incomplete");
}

Test(ws_response, byte_by_byte_with_seen_equals_at_once)
{
    const char *text = RFC_RESPONSE "X: y\r\n\r\n";
    size_t len = strlen(text);
    long rc = 0;
    size_t n;

    for (n = 1; n <= len && rc == 0; n++)
        rc = sockit_http_parse_response(text, n, n - 1, &resp);
    cr_expect_eq(rc, (long)len);
    cr_expect_eq(n - 1, len, "complete at the last byte");
}

static const struct {
    const char *text;
    int code;
} bad_responses[] = {
    { "HTTP/1.1 101\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 101\r\nUpgrade: websocket\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1  101 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 1O1 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 1010 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 099 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 600 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 101 X\x01Y\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "HTTP/1.1 101 X\rY\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "\r\nHTTP/1.1 101 X\r\n\r\n", SOCKIT_EHTTP_STATUS },
    { "http/1.1 101 X\r\n\r\n", SOCKIT_EHTTP_VERSION },
    { "HTTP/1.x 101 Switching\r\n\r\n", SOCKIT_EHTTP_VERSION },
    { "HTTP/2.0 101 Switching\r\n\r\n", SOCKIT_EHTTP_VERSION_UNSUPPORTED },
    { "HTTP/1.1 101 X\nUpgrade: websocket\r\n\r\n", SOCKIT_EHTTP_BARE_LF },
    { "HTTP/1.1 101 X\r\nUpgrade : websocket\r\n\r\n", SOCKIT_EHTTP_SPACE_COLON },
    { "HTTP/1.1 101 X\r\nUpgrade: websocket\r\n  x\r\n\r\n", SOCKIT_EHTTP_OBS_FOLD },
    { "HTTP/1.1 101 X\r\nUp(grade: websocket\r\n\r\n", SOCKIT_EHTTP_FIELD_NAME },
    { "HTTP/1.1 101 X\r\nUpgrade: web\x7fsocket\r\n\r\n", SOCKIT_EHTTP_FIELD_VALUE },
};

Test(ws_response, refuses_what_the_request_parser_refuses)
{
    for (size_t i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++) {
        long rc = parse_response(bad_responses[i].text);
        cr_expect_eq(rc, -bad_responses[i].code, "case %zu: %ld (%s), expected %s", i, rc,
                     sockit_strerror((int)rc), sockit_strerror(-bad_responses[i].code));
    }
}

Test(ws_response, limits_of_the_request_parser)
{
    static char text[SOCKIT_HTTP_MAX_LINE + 64], fields[4096];

    memset(text, 'r', sizeof(text) - 1);
    memcpy(text, "HTTP/1.1 101 ", 13);
    cr_expect_eq(parse_response(text), -SOCKIT_EHTTP_LINE, "a status line over 8 KiB");
    strcpy(fields, "HTTP/1.1 101 X\r\n");
    for (int i = 0; i < 101; i++)
        snprintf(fields + strlen(fields), sizeof(fields) - strlen(fields), "X-%d: v\r\n", i);
    strcat(fields, "\r\n");
    cr_expect_eq(parse_response(fields), -SOCKIT_EHTTP_FIELDS);
}

/* Parse TEXT as the answer to RFC_KEY and check it against PROTOCOLS. */
static int answer(const char *text, const char *const *protocols, const char **chosen)
{
    long rc = parse_response(text);

    cr_assert_eq(rc, (long)strlen(text), "the response parses: %ld (%s)", rc,
                 sockit_strerror((int)rc));
    return sockit_ws_response_check(&resp, RFC_KEY, protocols, chosen);
}

Test(ws_response, accepts_the_right_answer)
{
    static const char *const offer[] = { "chat", "superchat", NULL };
    const char *chosen = "x";

    cr_expect_eq(answer(RFC_RESPONSE "\r\n", offer, &chosen), 0);
    cr_expect_null(chosen);
    cr_expect_eq(answer(RFC_RESPONSE "Sec-WebSocket-Protocol: superchat\r\n\r\n", offer, &chosen),
                 0);
    cr_expect_eq(chosen, offer[1]);
    cr_expect_eq(
        answer("HTTP/1.1 101 x\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
               "sec-websocket-accept: " RFC_ACCEPT "\r\n"
               "Sec-WebSocket-Extensions: \r\n\r\n",
               NULL, &chosen),
        0, "names and tokens in any case; an empty extension list");
}

static const struct {
    const char *text;
    int code;
} bad_answers[] = {
    { "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
      SOCKIT_EWS_HANDSHAKE },
    { "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
      SOCKIT_EWS_HANDSHAKE },
    { "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
      SOCKIT_EWS_HANDSHAKE },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
      SOCKIT_EWS_HANDSHAKE },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      SOCKIT_EWS_ACCEPT },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n",
      SOCKIT_EWS_ACCEPT },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
      SOCKIT_EWS_ACCEPT },
    { RFC_RESPONSE "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", SOCKIT_EWS_ACCEPT },
    { RFC_RESPONSE "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", SOCKIT_EWS_HANDSHAKE },
    { RFC_RESPONSE "Sec-WebSocket-Protocol: other\r\n\r\n", SOCKIT_EWS_HANDSHAKE },
    { RFC_RESPONSE "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n", SOCKIT_EWS_HANDSHAKE },
    { RFC_RESPONSE "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
      SOCKIT_EWS_HANDSHAKE },
    { RFC_RESPONSE "Sec-WebSocket-Protocol: Chat\r\n\r\n", SOCKIT_EWS_HANDSHAKE },
};

Test(ws_response, refuses_a_wrong_answer)
{
    static const char *const offer[] = { "chat", "superchat", NULL };
    const char *chosen;

    for (size_t i = 0; i < sizeof(bad_answers) / sizeof(bad_answers[0]); i++) {
        int rc = answer(bad_answers[i].text, offer, &chosen);
        cr_expect_eq(rc, -bad_answers[i].code, "case %zu: %d (%s), expected %s", i, rc,
                     sockit_strerror(rc), sockit_strerror(-bad_answers[i].code));
    }
    cr_expect_eq(answer(RFC_RESPONSE "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL, &chosen),
                 -SOCKIT_EWS_HANDSHAKE, "a subprotocol when none was offered");
}

Test(ws_response, a_whole_handshake_from_key_to_check)
{
    static const char *const client[] = { "v2.chat", "v1.chat", NULL };
    static const char *const server[] = { "v1.chat", NULL };
    const uint8_t nonce[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    char key[SOCKIT_WS_KEY_LEN + 1], buf[1024];
    struct sockit_http_head h;
    const char *chosen = NULL;

    sockit_ws_client_key(nonce, key);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_request(&h, "GET", (struct sockit_http_str){ "/chat", 5 }, 1);
    sockit_http_head_field(&h, "Host", (struct sockit_http_str){ "h:1", 3 });
    sockit_http_head_field(&h, "Upgrade", (struct sockit_http_str){ "websocket", 9 });
    sockit_http_head_field(&h, "Connection", (struct sockit_http_str){ "Upgrade", 7 });
    sockit_http_head_field(&h, "Sec-WebSocket-Key", (struct sockit_http_str){ key, 24 });
    sockit_http_head_field(&h, "Sec-WebSocket-Version", (struct sockit_http_str){ "13", 2 });
    sockit_http_head_field(&h, "Sec-WebSocket-Protocol",
                           (struct sockit_http_str){ "v2.chat, v1.chat", 16 });
    long n = sockit_http_head_end(&h);
    cr_assert_gt(n, 0);
    cr_assert_eq(sockit_http_parse_request(buf, (size_t)n, 0, &req), n);
    cr_assert_eq(sockit_ws_handshake_check(&req, server, &hs), 0);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_ws_handshake_response(&h, &hs);
    n = sockit_http_head_end(&h);
    cr_assert_gt(n, 0);
    cr_assert_eq(sockit_http_parse_response(buf, (size_t)n, 0, &resp), n);
    cr_expect_eq(sockit_ws_response_check(&resp, key, client, &chosen), 0);
    cr_expect_eq(chosen, client[1]);
    cr_expect_eq(sockit_ws_response_check(&resp, RFC_KEY, client, &chosen), -SOCKIT_EWS_ACCEPT,
                 "another key");
}
