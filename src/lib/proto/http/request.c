/* The request-head parser of sockit/http.h. Two steps: find where the head ends, scanning
 * each byte once however the head arrives (SEEN) and refusing a bare LF or a limit at once;
 * then parse the complete head in one pass, pointing into the caller's bytes. */
#include <errno.h>
#include <string.h>

#include "message.h"
#include "sockit/error.h"

/* Leading empty lines (RFC 9112 section 2.2: a server skips them): their length, or the
 * offset of a lone CR that may yet become one. */
static size_t skip_empty_lines(const char *d, size_t len)
{
    size_t off = 0;

    while (off + 1 < len && d[off] == '\r' && d[off + 1] == '\n')
        off += 2;
    return off;
}

/* ---- the request line ------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t len;
    enum sockit_http_method method;
} methods[] = {
    { "GET", 3, SOCKIT_HTTP_GET },         { "HEAD", 4, SOCKIT_HTTP_HEAD },
    { "POST", 4, SOCKIT_HTTP_POST },       { "PUT", 3, SOCKIT_HTTP_PUT },
    { "DELETE", 6, SOCKIT_HTTP_DELETE },   { "CONNECT", 7, SOCKIT_HTTP_CONNECT },
    { "OPTIONS", 7, SOCKIT_HTTP_OPTIONS }, { "TRACE", 5, SOCKIT_HTTP_TRACE },
    { "PATCH", 5, SOCKIT_HTTP_PATCH },
};

/* Methods are case-sensitive: "get" is a method this parser does not name. */
static enum sockit_http_method method_of(struct sockit_http_str m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (m.len == methods[i].len && memcmp(m.p, methods[i].name, m.len) == 0)
            return methods[i].method;
    return SOCKIT_HTTP_OTHER;
}

/* A run of CLS characters from *P, ended by STOP; *P is left on STOP. 0 or CODE. */
static int take(const char **p, const char *end, unsigned cls, char stop, int code,
                struct sockit_http_str *out)
{
    const char *s = *p;

    while (*p < end && hc_is(**p, cls))
        (*p)++;
    if (*p == s || *p == end || **p != stop)
        return code;
    *out = (struct sockit_http_str){ s, (size_t)(*p - s) };
    return 0;
}

/* "%" must start "%HH" wherever it appears in a target. */
static int check_percent(struct sockit_http_str t)
{
    for (const char *p = memchr(t.p, '%', t.len); p;
         p = memchr(p + 1, '%', t.len - (size_t)(p + 1 - t.p)))
        if ((size_t)(p - t.p) + 2 >= t.len || !hc_is(p[1], HC_HEX) || !hc_is(p[2], HC_HEX))
            return -SOCKIT_EHTTP_TARGET;
    return 0;
}

/* "HTTP/1.1\r\n" at P: the minor version, or a code. */
static int version(const char *p, const char *end, int *minor)
{
    if (end - p != 10 || p[8] != '\r' || p[9] != '\n')
        return -SOCKIT_EHTTP_VERSION;
    return sockit__http_version(p, minor);
}

/* The request line D[0, EOL) (EOL one past its LF). */
static int request_line(const char *d, const char *eol, struct sockit_http_request *req)
{
    const char *p = d;
    int err;

    if (eol - d > SOCKIT_HTTP_MAX_LINE)
        return -SOCKIT_EHTTP_LINE;
    if ((err = take(&p, eol, HC_TOKEN, ' ', -SOCKIT_EHTTP_METHOD, &req->method_name)))
        return err;
    p++;
    if ((err = take(&p, eol, HC_TARGET, ' ', -SOCKIT_EHTTP_TARGET, &req->target)) ||
        (err = check_percent(req->target)))
        return err;
    req->method = method_of(req->method_name);
    return version(p + 1, eol, &req->minor);
}

/* ---- header fields ---------------------------------------------------------------------- */

/* The framing-related fields, found by name as the fields are read. */
struct framing {
    const struct sockit_http_str *cl, *te, *host;
    bool te_seen_twice;
    int hosts, cls;
};

static void note_framing(const struct sockit_http_field *f, struct framing *fr)
{
    switch (f->name.len) {
    case 4:
        if (sockit_http_str_eq(f->name, "host")) {
            fr->host = &f->value;
            fr->hosts++;
        }
        break;
    case 14:
        if (sockit_http_str_eq(f->name, "content-length")) {
            fr->cl = &f->value;
            fr->cls++;
        }
        break;
    case 17:
        if (sockit_http_str_eq(f->name, "transfer-encoding")) {
            fr->te_seen_twice = fr->te != NULL;
            fr->te = &f->value;
        }
        break;
    }
}

/* The fields from P to the head's end END (its final CRLF included). */
static int fields(const char *p, const char *end, struct sockit_http_request *req,
                  struct framing *fr)
{
    int err = sockit__http_fields(p, end, req->fields, &req->nfields);

    for (size_t i = 0; !err && i < req->nfields; i++)
        note_framing(&req->fields[i], fr);
    return err;
}

const struct sockit_http_str *sockit_http_field(const struct sockit_http_request *req,
                                                const char *name)
{
    return sockit__http_field_in(req->fields, req->nfields, name);
}

/* ---- what the fields mean ---------------------------------------------------------------- */

/* The Connection options that decide keep-alive; "close" wins wherever it stands. */
struct connection {
    bool close, keep_alive;
};

static int connection_option(struct sockit_http_str el, void *ctx)
{
    struct connection *c = ctx;

    c->close |= sockit_http_str_eq(el, "close");
    c->keep_alive |= sockit_http_str_eq(el, "keep-alive");
    return 0;
}

/* Transfer codings: chunked must come last and only once; others are not implemented. */
struct codings {
    int n;
    bool chunked_last, unknown;
};

static int coding(struct sockit_http_str el, void *ctx)
{
    struct codings *c = ctx;

    if (c->chunked_last)
        return -SOCKIT_EHTTP_TE; /* something after chunked, or chunked twice */
    c->n++;
    if (sockit_http_str_eq(el, "chunked"))
        c->chunked_last = true;
    else
        c->unknown = true;
    return 0;
}

static int content_length(struct sockit_http_str v, uint64_t *out)
{
    uint64_t n = 0;

    if (v.len == 0 || v.len > 18) /* 18 digits: far past any body, short of overflow */
        return -SOCKIT_EHTTP_CONTENT_LENGTH;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -SOCKIT_EHTTP_CONTENT_LENGTH;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return 0;
}

static int body_framing(struct sockit_http_request *req, const struct framing *fr)
{
    struct codings c = { 0 };
    int err;

    if (fr->cl && fr->te)
        return -SOCKIT_EHTTP_CL_TE;
    if (fr->cls > 1)
        return -SOCKIT_EHTTP_CONTENT_LENGTH;
    if (fr->cl) {
        req->body = SOCKIT_HTTP_BODY_LENGTH;
        return content_length(*fr->cl, &req->content_length);
    }
    if (!fr->te)
        return 0;
    if (req->minor == 0 || fr->te_seen_twice)
        return -SOCKIT_EHTTP_TE;
    err = sockit__http_each_element(req->fields, req->nfields, "transfer-encoding", coding, &c);
    if (err)
        return err;
    if (!c.chunked_last)
        return -SOCKIT_EHTTP_TE;
    req->body = SOCKIT_HTTP_BODY_CHUNKED;
    return c.unknown ? -SOCKIT_EHTTP_TE_UNKNOWN : 0;
}

/* uri-host [":" port]: reg-name or IP-literal characters, at most one bracketed literal. */
static bool host_ok(struct sockit_http_str h)
{
    for (size_t i = 0; i < h.len; i++)
        if (!hc_is(h.p[i], HC_HOST))
            return false;
    return h.len < 256;
}

/* The target's form (RFC 9112 section 3.2): origin, absolute, asterisk or authority. */
static int target_form(struct sockit_http_request *req)
{
    struct sockit_http_str t = req->target;
    const char *end = t.p + t.len, *p;

    if (t.p[0] == '/') {
        p = t.p;
    } else if (t.len == 1 && t.p[0] == '*' && req->method == SOCKIT_HTTP_OPTIONS) {
        req->path = t;
        return 0;
    } else if (req->method == SOCKIT_HTTP_CONNECT) {
        req->path = t; /* authority-form; CONNECT is not served here anyway */
        return host_ok(t) ? 0 : -SOCKIT_EHTTP_TARGET;
    } else if (t.len > 7 && (sockit__http_caseeq(t.p, "http://", 7) ||
                             (t.len > 8 && sockit__http_caseeq(t.p, "https://", 8)))) {
        const char *a = t.p + (t.p[4] == ':' ? 7 : 8);
        for (p = a; p < end && *p != '/' && *p != '?'; p++)
            ;
        struct sockit_http_str auth = { a, (size_t)(p - a) };
        if (!auth.len || !host_ok(auth))
            return -SOCKIT_EHTTP_TARGET;
        if (req->host.p &&
            !(req->host.len == auth.len && sockit__http_caseeq(req->host.p, auth.p, auth.len)))
            return -SOCKIT_EHTTP_HOST_MISMATCH;
        req->host = auth;
        if (p == end || *p == '?') { /* "http://h" or "http://h?q": the path is "/" */
            req->path = (struct sockit_http_str){ "/", 1 };
            req->query = p == end ? (struct sockit_http_str){ end, 0 }
                                  : (struct sockit_http_str){ p + 1, (size_t)(end - p - 1) };
            return 0;
        }
    } else {
        return -SOCKIT_EHTTP_TARGET;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    req->path = (struct sockit_http_str){ p, (size_t)((q ? q : end) - p) };
    req->query = q ? (struct sockit_http_str){ q + 1, (size_t)(end - q - 1) }
                   : (struct sockit_http_str){ end, 0 };
    return 0;
}

static int expectation(struct sockit_http_request *req)
{
    const struct sockit_http_str *e = sockit_http_field(req, "expect");

    if (!e)
        return 0;
    if (!sockit_http_str_eq(*e, "100-continue"))
        return -SOCKIT_EHTTP_EXPECT;
    req->expect_continue = req->minor == 1; /* an HTTP/1.0 client waits for nothing */
    return 0;
}

/* What the fields mean for this request: host, target form, connection, body, expectation. */
static int meaning(struct sockit_http_request *req, const struct framing *fr)
{
    int err;

    struct connection conn = { false, false };

    if (fr->hosts > 1 || (fr->hosts == 0 && req->minor == 1) ||
        (fr->host && fr->host->len && !host_ok(*fr->host)))
        return -SOCKIT_EHTTP_HOST;
    req->host = fr->host ? *fr->host : (struct sockit_http_str){ NULL, 0 };
    if ((err = target_form(req)))
        return err;
    if (!req->host.p)
        req->host = (struct sockit_http_str){ "", 0 };
    sockit__http_each_element(req->fields, req->nfields, "connection", connection_option, &conn);
    req->keep_alive = !conn.close && (req->minor == 1 || conn.keep_alive);
    if ((err = body_framing(req, fr)))
        return err;
    return expectation(req);
}

long sockit_http_parse_request(const char *data, size_t len, size_t seen,
                               struct sockit_http_request *req)
{
    size_t off = skip_empty_lines(data, len), end;
    const char *d = data + off, *eol;
    struct framing fr = { 0 };
    int rc;

    if (off >= SOCKIT_HTTP_MAX_LINE)
        return -SOCKIT_EHTTP_LINE;
    if ((rc = sockit__http_head_end(d, len - off, seen > off ? seen - off : 0, &end)) <= 0)
        return rc;
    eol = (const char *)memchr(d, '\n', end) + 1;
    req->body = SOCKIT_HTTP_BODY_NONE;
    req->content_length = 0;
    req->expect_continue = false;
    req->query = (struct sockit_http_str){ NULL, 0 };
    if ((rc = request_line(d, eol, req)) || (rc = fields(eol, d + end, req, &fr)) ||
        (rc = meaning(req, &fr)))
        return rc;
    return (long)(off + end);
}
