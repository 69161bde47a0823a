/* permessage-deflate's negotiation (RFC 7692 section 7.1) for sockit/ws.h: the
 * Sec-WebSocket-Extensions grammar (RFC 6455 section 9.1: comma-separated extensions, each a
 * token with ";"-separated parameters whose values are tokens or quoted strings), the
 * server's choice among a client's offers and its answer, the client's offer and its check of
 * that answer. A bad offer is skipped, never refused: the worst it gets is no compression. */
#include <stdio.h>
#include <string.h>

#include "../http/chars.h"
#include "../http/message.h"
#include "sockit/error.h"
#include "sockit/ws.h"
#include "ws_internal.h"

#define NAME "permessage-deflate"

/* One permessage-deflate element as parsed. */
struct offer {
    bool server_nct, client_nct;
    int server_bits; /* 0: absent; 8..15 */
    int client_bits; /* 0: absent; -1: present without a value; 8..15 */
};

/* ---- the grammar ---------------------------------------------------------------------------- */

struct cursor {
    const char *p, *end;
};

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static struct sockit_http_str token(struct cursor *c)
{
    const char *start = c->p;

    while (c->p < c->end && hc_is(*c->p, HC_TOKEN))
        c->p++;
    return (struct sockit_http_str){ start, (size_t)(c->p - start) };
}

static bool str_is(struct sockit_http_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* A parameter value at C: a token, or a quoted string unescaped (RFC 6455 section 9.1: it
 * must then read as a token too). Into BUF (CAP bytes); its length, or -1 if malformed or
 * longer than CAP. */
static int value(struct cursor *c, char *buf, size_t cap)
{
    size_t n = 0;

    if (c->p == c->end)
        return -1;
    if (*c->p != '"') {
        struct sockit_http_str t = token(c);
        if (!t.len || t.len > cap)
            return -1;
        memcpy(buf, t.p, t.len);
        return (int)t.len;
    }
    for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
        if (*c->p == '\\' && ++c->p == c->end)
            return -1;
        if (!hc_is(*c->p, HC_TOKEN) || n == cap)
            return -1;
        buf[n++] = *c->p;
    }
    if (c->p == c->end || n == 0)
        return -1;
    c->p++; /* the closing quote */
    return (int)n;
}

/* A window size: "8" to "15", no sign, no leading zero. 0 if not. */
static int window_bits(const char *v, int len)
{
    if (len == 1 && (v[0] == '8' || v[0] == '9'))
        return v[0] - '0';
    if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return 0;
}

/* Record the parameter NAME (with the value V of LEN bytes, LEN < 0: none) in O: false if it
 * is unknown, repeated or has a bad value. */
static bool param(struct offer *o, unsigned *seen, struct sockit_http_str name, const char *v,
                  int len)
{
    static const char *const names[] = { "server_no_context_takeover", "client_no_context_takeover",
                                         "server_max_window_bits", "client_max_window_bits" };
    unsigned i = 0;

    while (i < 4 && !str_is(name, names[i]))
        i++;
    if (i == 4 || (*seen & (1u << i)))
        return false;
    *seen |= 1u << i;
    int bits = len < 0 ? 0 : window_bits(v, len);
    switch (i) {
    case 0: o->server_nct = true; return len < 0;
    case 1: o->client_nct = true; return len < 0;
    case 2: o->server_bits = bits; return bits != 0;
    default: o->client_bits = len < 0 ? -1 : bits; return len < 0 || bits != 0;
    }
}

/* One element (an extension and its parameters) into *O: 1 if it is a valid permessage-deflate,
 * 0 if it names another extension, -1 if it is a malformed or invalid permessage-deflate. */
static int element(struct sockit_http_str el, struct offer *o)
{
    struct cursor c = { el.p, el.p + el.len };
    unsigned seen = 0;
    char v[8];

    *o = (struct offer){ 0 };
    if (!str_is(token(&c), NAME))
        return 0;
    for (;;) {
        skip_ows(&c);
        if (c.p == c.end)
            return 1;
        if (*c.p++ != ';')
            return -1;
        skip_ows(&c);
        struct sockit_http_str name = token(&c);
        int len = -1;
        skip_ows(&c);
        if (c.p < c.end && *c.p == '=') {
            c.p++;
            skip_ows(&c);
            if ((len = value(&c, v, sizeof(v))) < 0)
                return -1;
        }
        if (!name.len || !param(o, &seen, name, v, len))
            return -1;
    }
}

/* Where the element that starts at P ends: the first comma outside a quoted string, or END. */
static const char *element_end(const char *p, const char *end)
{
    bool quoted = false;

    for (; p < end; p++) {
        if (quoted && *p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

/* Call FN for each element of every Sec-WebSocket-Extensions field of FIELDS[0, N), trimmed,
 * empty ones skipped, until FN returns non-zero: that value, or 0. */
static int each_extension(const struct sockit_http_field *fields, size_t n,
                          int (*fn)(struct sockit_http_str el, void *ctx), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (!sockit_http_str_eq(fields[i].name, "sec-websocket-extensions"))
            continue;
        const char *p = fields[i].value.p, *end = p + fields[i].value.len;
        while (p < end) {
            const char *stop = element_end(p, end);
            struct cursor c = { p, stop };
            skip_ows(&c);
            while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
                c.end--;
            int rc =
                c.end > c.p ? fn((struct sockit_http_str){ c.p, (size_t)(c.end - c.p) }, ctx) : 0;
            if (rc)
                return rc;
            p = stop < end ? stop + 1 : end;
        }
    }
    return 0;
}

/* ---- the server's choice and answer ------------------------------------------------------ */

static int our_bits(const struct sockit_ws_deflate_options *o)
{
    return o && o->window_bits >= 8 && o->window_bits < 15 ? o->window_bits : 15;
}

static int min_bits(int a, int b)
{
    return a < b ? a : b;
}

struct choice {
    const struct sockit_ws_deflate_options *o;
    struct sockit_ws_deflate_params *agreed;
    char *value;
};

/* The answer to offer F (RFC 7692 section 7.1): what the client asked for, and what our
 * options ask of both sides where the client allows it. */
static void agree(const struct offer *f, const struct sockit_ws_deflate_options *o,
                  struct sockit_ws_deflate_params *a, char *value)
{
    int w = our_bits(o);
    bool nct = o && o->no_context_takeover;
    size_t n;

    a->server_no_context_takeover = f->server_nct || nct;
    a->client_no_context_takeover = f->client_nct || nct;
    a->server_max_window_bits = (uint8_t)(f->server_bits ? min_bits(f->server_bits, w) : w);
    a->client_max_window_bits = (uint8_t)(f->client_bits > 0   ? min_bits(f->client_bits, w)
                                          : f->client_bits < 0 ? w
                                                               : 15);
    n = (size_t)snprintf(value, SOCKIT_WS_DEFLATE_VALUE_MAX, "%s%s%s", NAME,
                         a->server_no_context_takeover ? "; server_no_context_takeover" : "",
                         a->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (f->server_bits || w < 15)
        n += (size_t)snprintf(value + n, SOCKIT_WS_DEFLATE_VALUE_MAX - n,
                              "; server_max_window_bits=%d", a->server_max_window_bits);
    if (f->client_bits > 0 || (f->client_bits < 0 && w < 15))
        snprintf(value + n, SOCKIT_WS_DEFLATE_VALUE_MAX - n, "; client_max_window_bits=%d",
                 a->client_max_window_bits);
}

static int offered(struct sockit_http_str el, void *ctx)
{
    struct choice *c = ctx;
    struct offer f;

    if (element(el, &f) != 1)
        return 0; /* another extension, or a bad offer: the next one may do */
    agree(&f, c->o, c->agreed, c->value);
    return 1;
}

int sockit_ws_deflate_negotiate(const struct sockit_http_request *req,
                                const struct sockit_ws_deflate_options *o,
                                struct sockit_ws_deflate_params *agreed,
                                char value[SOCKIT_WS_DEFLATE_VALUE_MAX])
{
    struct choice c = { o, agreed, value };

    value[0] = '\0';
    return each_extension(req->fields, req->nfields, offered, &c);
}

/* ---- the client's offer and its check of the answer ------------------------------------- */

size_t sockit_ws_deflate_offer(const struct sockit_ws_deflate_options *o,
                               char value[SOCKIT_WS_DEFLATE_VALUE_MAX])
{
    int w = our_bits(o);
    bool nct = o && o->no_context_takeover;
    int n = snprintf(value, SOCKIT_WS_DEFLATE_VALUE_MAX, "%s%s", NAME,
                     nct ? "; server_no_context_takeover; client_no_context_takeover" : "");

    if (w < 15)
        n += snprintf(value + n, SOCKIT_WS_DEFLATE_VALUE_MAX - (size_t)n,
                      "; server_max_window_bits=%d; client_max_window_bits=%d", w, w);
    else
        n += snprintf(value + n, SOCKIT_WS_DEFLATE_VALUE_MAX - (size_t)n,
                      "; client_max_window_bits");
    return (size_t)n;
}

struct answer {
    const struct sockit_ws_deflate_options *offer;
    struct sockit_ws_deflate_params *agreed;
    size_t n;
};

/* The server's answer to our offer: one permessage-deflate, each value within the offer; a
 * server_no_context_takeover we did not ask for is welcome (RFC 7692 section 7.1.1.1). */
static int answered(struct sockit_http_str el, void *ctx)
{
    struct answer *a = ctx;
    int w = our_bits(a->offer);
    bool nct = a->offer->no_context_takeover;
    struct offer f;

    if (a->n++ || element(el, &f) != 1 || f.client_bits < 0 || (nct && !f.server_nct) ||
        (w < 15 && !f.server_bits) || f.server_bits > w || f.client_bits > w)
        return -SOCKIT_EWS_HANDSHAKE;
    *a->agreed = (struct sockit_ws_deflate_params){
        .server_no_context_takeover = f.server_nct,
        .client_no_context_takeover = f.client_nct || nct,
        .server_max_window_bits = (uint8_t)(f.server_bits ? f.server_bits : 15),
        .client_max_window_bits = (uint8_t)(f.client_bits ? f.client_bits : w),
    };
    return 0;
}

int sockit__ws_deflate_answer(const struct sockit_http_field *fields, size_t n,
                              const struct sockit_ws_deflate_options *offer,
                              struct sockit_ws_deflate_params *agreed)
{
    struct answer a = { offer, agreed, 0 };
    int err = each_extension(fields, n, answered, &a);

    return err ? err : a.n > 0;
}
