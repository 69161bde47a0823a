/* The opening handshake of sockit/ws.h (RFC 6455 section 4) on the HTTP parser's heads: the
 * server checks an upgrade request and answers 101, the client checks that answer. The accept
 * value is SHA-1 and base64 from libcrypto. */
#include <string.h>

#include <openssl/evp.h>

#include "../http/message.h"
#include "sockit/error.h"
#include "sockit/ws.h"
#include "ws_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void sockit_ws_accept(struct sockit_http_str key, char out[SOCKIT_WS_ACCEPT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key.p, key.len) &&
        EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) && EVP_DigestFinal_ex(ctx, digest, &n);

    EVP_MD_CTX_free(ctx);
    out[0] = '\0'; /* out of memory: an empty value, which no peer's accept equals */
    if (ok && n == 20)
        EVP_EncodeBlock((unsigned char *)out, digest, 20);
}

void sockit_ws_client_key(const uint8_t nonce[16], char out[SOCKIT_WS_KEY_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)out, nonce, 16);
}

int sockit_ws_error_status(int code)
{
    switch (-code) {
    case SOCKIT_EWS_VERSION: return 426;
    case SOCKIT_EWS_ORIGIN: return 403;
    }
    return 400;
}

/* ---- the server's side ---------------------------------------------------------------------- */

bool sockit_ws_is_upgrade(const struct sockit_http_request *req)
{
    return sockit__http_lists(req->fields, req->nfields, "upgrade", "websocket");
}

static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* One Sec-WebSocket-Key, base64 of 16 bytes: 22 characters of the alphabet and "==". */
static int client_key(const struct sockit_http_request *req, const struct sockit_http_str **key)
{
    const char *name = "sec-websocket-key";
    const struct sockit_http_str *k = sockit__http_field_in(req->fields, req->nfields, name);

    if (!k || sockit__http_field_count(req->fields, req->nfields, name) != 1 ||
        k->len != SOCKIT_WS_KEY_LEN || k->p[22] != '=' || k->p[23] != '=')
        return -SOCKIT_EWS_KEY;
    for (size_t i = 0; i < 22; i++)
        if (!base64_char(k->p[i]))
            return -SOCKIT_EWS_KEY;
    *key = k;
    return 0;
}

static int client_version(const struct sockit_http_request *req)
{
    const char *name = "sec-websocket-version";
    const struct sockit_http_str *v = sockit__http_field_in(req->fields, req->nfields, name);

    if (!v || sockit__http_field_count(req->fields, req->nfields, name) != 1 ||
        !sockit_http_str_eq(*v, "13"))
        return -SOCKIT_EWS_VERSION;
    return 0;
}

/* A subprotocol name: a token of at most SOCKIT_WS_MAX_PROTOCOL characters. */
static bool protocol_ok(struct sockit_http_str el)
{
    if (el.len > SOCKIT_WS_MAX_PROTOCOL)
        return false;
    for (size_t i = 0; i < el.len; i++)
        if (!hc_is(el.p[i], HC_TOKEN))
            return false;
    return true;
}

/* The name in LIST (NULL-terminated, or NULL) equal to EL, case-sensitively, or NULL. */
static const char *find_protocol(const char *const *list, struct sockit_http_str el)
{
    for (; list && *list; list++)
        if (strlen(*list) == el.len && memcmp(*list, el.p, el.len) == 0)
            return *list;
    return NULL;
}

struct choice {
    const char *const *server; /* the server's list */
    const char *chosen;        /* the first of the client's the server speaks */
};

static int offered_protocol(struct sockit_http_str el, void *ctx)
{
    struct choice *c = ctx;

    if (!protocol_ok(el))
        return -SOCKIT_EWS_UPGRADE;
    if (!c->chosen)
        c->chosen = find_protocol(c->server, el);
    return 0;
}

static struct sockit_http_str field_or_empty(const struct sockit_http_request *req,
                                             const char *name)
{
    const struct sockit_http_str *v = sockit__http_field_in(req->fields, req->nfields, name);

    return v ? *v : (struct sockit_http_str){ "", 0 };
}

int sockit_ws_handshake_check(const struct sockit_http_request *req, const char *const *protocols,
                              struct sockit_ws_handshake *hs)
{
    const struct sockit_http_str *key = NULL;
    struct choice c = { protocols, NULL };
    int err;

    if (req->method != SOCKIT_HTTP_GET || req->minor < 1 || !sockit_ws_is_upgrade(req) ||
        !sockit__http_lists(req->fields, req->nfields, "connection", "upgrade"))
        return -SOCKIT_EWS_UPGRADE;
    if ((err = client_version(req)) || (err = client_key(req, &key)))
        return err;
    err = sockit__http_each_element(req->fields, req->nfields, "sec-websocket-protocol",
                                    offered_protocol, &c);
    if (err)
        return err;
    sockit_ws_accept(*key, hs->accept);
    hs->protocol = c.chosen;
    hs->origin = field_or_empty(req, "origin");
    hs->extensions = field_or_empty(req, "sec-websocket-extensions");
    return 0;
}

static void field_str(struct sockit_http_head *h, const char *name, const char *value)
{
    sockit_http_head_field(h, name, (struct sockit_http_str){ value, strlen(value) });
}

void sockit_ws_handshake_response(struct sockit_http_head *h, const struct sockit_ws_handshake *hs)
{
    sockit_http_head_status(h, 1, 101);
    field_str(h, "Upgrade", "websocket");
    field_str(h, "Connection", "Upgrade");
    field_str(h, "Sec-WebSocket-Accept", hs->accept);
    if (hs->protocol)
        field_str(h, "Sec-WebSocket-Protocol", hs->protocol);
}

/* ---- the client's side ---------------------------------------------------------------------- */

/* The server's subprotocol: none, or one element the client offered. */
struct answer {
    const char *const *offered;
    const char *chosen;
    size_t n;
};

static int answered_protocol(struct sockit_http_str el, void *ctx)
{
    struct answer *a = ctx;

    a->chosen = find_protocol(a->offered, el);
    return ++a->n > 1 || !a->chosen ? -SOCKIT_EWS_HANDSHAKE : 0;
}

static int any_element(struct sockit_http_str el, void *ctx)
{
    (void)el;
    (void)ctx;
    return -SOCKIT_EWS_HANDSHAKE;
}

/* Sec-WebSocket-Accept, once, equal to what KEY calls for. */
static int accept_ok(const struct sockit_http_response *resp, const char *key)
{
    const char *name = "sec-websocket-accept";
    const struct sockit_http_str *v = sockit__http_field_in(resp->fields, resp->nfields, name);
    char want[SOCKIT_WS_ACCEPT_LEN + 1];

    sockit_ws_accept((struct sockit_http_str){ key, strlen(key) }, want);
    if (!v || sockit__http_field_count(resp->fields, resp->nfields, name) != 1 ||
        v->len != SOCKIT_WS_ACCEPT_LEN || memcmp(v->p, want, SOCKIT_WS_ACCEPT_LEN) != 0)
        return -SOCKIT_EWS_ACCEPT;
    return 0;
}

/* The extensions: none if none was offered, else permessage-deflate within OFFER or none. */
static int extensions_ok(const struct sockit_http_response *resp,
                         const struct sockit_ws_deflate_options *offer,
                         struct sockit_ws_deflate_params *agreed)
{
    if (offer)
        return sockit__ws_deflate_answer(resp->fields, resp->nfields, offer, agreed);
    return sockit__http_each_element(resp->fields, resp->nfields, "sec-websocket-extensions",
                                     any_element, NULL);
}

/* In RFC 6455 section 4.1's order: status, Upgrade, Connection, accept, extensions,
 * subprotocol. */
int sockit_ws_response_check_deflate(const struct sockit_http_response *resp, const char *key,
                                     const char *const *protocols,
                                     const struct sockit_ws_deflate_options *offer,
                                     const char **chosen, struct sockit_ws_deflate_params *agreed)
{
    const struct sockit_http_field *f = resp->fields;
    size_t n = resp->nfields;
    struct answer a = { protocols, NULL, 0 };
    int err, deflate;

    *chosen = NULL;
    if (resp->status != 101 || resp->minor < 1 ||
        !sockit__http_lists(f, n, "upgrade", "websocket") ||
        !sockit__http_lists(f, n, "connection", "upgrade"))
        return -SOCKIT_EWS_HANDSHAKE;
    if ((err = accept_ok(resp, key)) || (deflate = extensions_ok(resp, offer, agreed)) < 0)
        return err ? err : deflate;
    err = sockit__http_each_element(f, n, "sec-websocket-protocol", answered_protocol, &a);
    if (err)
        return err;
    *chosen = a.chosen;
    return deflate;
}

int sockit_ws_response_check(const struct sockit_http_response *resp, const char *key,
                             const char *const *protocols, const char **chosen)
{
    return sockit_ws_response_check_deflate(resp, key, protocols, NULL, chosen, NULL);
}
