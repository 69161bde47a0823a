/* libFuzzer target for sockit/ws.h's opening handshake. The input is read as a request head
 * and as a response head. On any input:
 *
 *   - neither parser reads outside the input (ASan: an exact-size copy), and what they point
 *     at lies inside it; parsing in two steps with SEEN gives what one step gives;
 *   - a request the handshake check accepts is an upgrade, with a 28-character accept, a
 *     subprotocol from the server's list (or none), and its 101 head, written, parses as a
 *     response that the client's check accepts for the request's key, with the same
 *     subprotocol; a refusal is a -SOCKIT_EWS_* code answered with 400, 403 or 426;
 *   - a response the client's check accepts is a 101 upgrade, its subprotocol one offered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define MAX_INPUT (96 * 1024)

static const char *const protocols[] = { "chat", "superchat", "v2.echo", NULL };

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ws_handshake: %s\n", what);
    abort();
}

static void inside(struct sockit_http_str s, const char *buf, size_t len)
{
    if (s.len && (s.p < buf || s.p + s.len > buf + len))
        fail("a parsed string points outside the input");
}

static bool listed(const char *p)
{
    for (const char *const *l = protocols; *l; l++)
        if (p == *l)
            return true;
    return false;
}

/* The server's 101 for HS, read back by the client with the request's KEY. */
static void answer(const struct sockit_http_request *req, const struct sockit_ws_handshake *hs)
{
    static struct sockit_http_response resp;
    const struct sockit_http_str *k = sockit_http_field(req, "sec-websocket-key");
    char buf[1024], key[SOCKIT_WS_KEY_LEN + 1];
    struct sockit_http_head h;
    const char *chosen;

    if (!k || k->len != SOCKIT_WS_KEY_LEN)
        fail("an accepted request without a 24-character key");
    memcpy(key, k->p, SOCKIT_WS_KEY_LEN);
    key[SOCKIT_WS_KEY_LEN] = '\0';
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_ws_handshake_response(&h, hs);
    long n = sockit_http_head_end(&h);
    if (n <= 0 || sockit_http_parse_response(buf, (size_t)n, 0, &resp) != n)
        fail("the 101 head is not written, or does not parse");
    if (sockit_ws_response_check(&resp, key, protocols, &chosen) != 0 || chosen != hs->protocol)
        fail("the client refuses the server's own answer");
}

static void request(const char *buf, size_t len)
{
    static struct sockit_http_request req, part;
    struct sockit_ws_handshake hs;
    size_t k = len ? (unsigned char)buf[0] % (len + 1) : 0;
    long rc = sockit_http_parse_request(buf, len, 0, &req);

    if (sockit_http_parse_request(buf, k, 0, &part) == 0 &&
        sockit_http_parse_request(buf, len, k, &part) != rc)
        fail("two steps with SEEN differ from one (request)");
    if (rc <= 0)
        return;
    int err = sockit_ws_handshake_check(&req, protocols, &hs);
    if (err < 0) {
        int status = sockit_ws_error_status(err);
        if (-err < SOCKIT_E_WS || -err >= SOCKIT_E_WS_END ||
            (status != 400 && status != 403 && status != 426))
            fail("a refusal outside the ws codes, or with an odd status");
        return;
    }
    if (err != 0 || !sockit_ws_is_upgrade(&req) || strlen(hs.accept) != SOCKIT_WS_ACCEPT_LEN ||
        (hs.protocol && !listed(hs.protocol)))
        fail("an accepted handshake that is not one");
    inside(hs.origin, buf, len);
    inside(hs.extensions, buf, len);
    if (sockit_ws_handshake_check(&req, NULL, &hs) != 0 || hs.protocol)
        fail("a server without subprotocols refuses or chooses one");
    sockit_ws_handshake_check(&req, protocols, &hs);
    answer(&req, &hs);
}

static void response(const char *buf, size_t len)
{
    static struct sockit_http_response resp, part;
    size_t k = len ? (unsigned char)buf[len - 1] % (len + 1) : 0;
    long rc = sockit_http_parse_response(buf, len, 0, &resp);
    const char *chosen;

    if (rc > (long)len)
        fail("consumed more than the input");
    if (sockit_http_parse_response(buf, k, 0, &part) == 0 &&
        sockit_http_parse_response(buf, len, k, &part) != rc)
        fail("two steps with SEEN differ from one (response)");
    if (rc <= 0)
        return;
    if (resp.status < 100 || resp.status > 599 || resp.nfields > SOCKIT_HTTP_MAX_FIELDS)
        fail("a status or a field count out of bounds");
    inside(resp.reason, buf, len);
    for (size_t i = 0; i < resp.nfields; i++) {
        inside(resp.fields[i].name, buf, len);
        inside(resp.fields[i].value, buf, len);
    }
    int err = sockit_ws_response_check(&resp, "dGhlIHNhbXBsZSBub25jZQ==", protocols, &chosen);
    if (err == 0 && (resp.status != 101 || (chosen && !listed(chosen))))
        fail("an accepted answer that is not a 101 or chose what was not offered");
    if (err != 0 && (err != -SOCKIT_EWS_HANDSHAKE && err != -SOCKIT_EWS_ACCEPT))
        fail("a refused answer with another code");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;

    if (size > MAX_INPUT)
        return 0;
    buf = malloc(size ? size : 1); /* exactly SIZE bytes: ASan sees any read past them */
    if (size)
        memcpy(buf, data, size);
    request(buf, size);
    response(buf, size);
    free(buf);
    return 0;
}
