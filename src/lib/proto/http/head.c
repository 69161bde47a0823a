/* Writing message heads (sockit/http.h), and the status lines and reasons they carry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chars.h"
#include "sockit/error.h"

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    { 100, "Continue" },
    { 101, "Switching Protocols" },
    { 200, "OK" },
    { 204, "No Content" },
    { 206, "Partial Content" },
    { 301, "Moved Permanently" },
    { 302, "Found" },
    { 304, "Not Modified" },
    { 307, "Temporary Redirect" },
    { 308, "Permanent Redirect" },
    { 400, "Bad Request" },
    { 403, "Forbidden" },
    { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 408, "Request Timeout" },
    { 411, "Length Required" },
    { 412, "Precondition Failed" },
    { 413, "Content Too Large" },
    { 414, "URI Too Long" },
    { 416, "Range Not Satisfiable" },
    { 417, "Expectation Failed" },
    { 426, "Upgrade Required" },
    { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" },
    { 501, "Not Implemented" },
    { 503, "Service Unavailable" },
    { 505, "HTTP Version Not Supported" },
};

const char *sockit_http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "";
}

int sockit_http_error_status(int code)
{
    switch (-code) {
    case SOCKIT_EHTTP_LINE: return 414;
    case SOCKIT_EHTTP_HEAD:
    case SOCKIT_EHTTP_FIELDS: return 431;
    case SOCKIT_EHTTP_VERSION_UNSUPPORTED: return 505;
    case SOCKIT_EHTTP_TE_UNKNOWN: return 501;
    case SOCKIT_EHTTP_EXPECT: return 417;
    case SOCKIT_EHTTP_HIDDEN: return 404;
    }
    return 400;
}

void sockit_http_head_init(struct sockit_http_head *h, char *buf, size_t cap)
{
    *h = (struct sockit_http_head){ .buf = buf, .cap = cap };
}

static void fail(struct sockit_http_head *h, int err)
{
    if (!h->err)
        h->err = err;
}

static void put(struct sockit_http_head *h, const char *s, size_t n)
{
    if (h->err)
        return;
    if (h->cap - h->len < n) {
        fail(h, -ENOSPC);
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

static void puts_(struct sockit_http_head *h, const char *s)
{
    put(h, s, strlen(s));
}

/* Whether S[0, N) is non-empty and every byte of it of class CLS. */
static bool all_of(const char *s, size_t n, unsigned cls)
{
    for (size_t i = 0; i < n; i++)
        if (!hc_is(s[i], cls))
            return false;
    return n > 0;
}

void sockit_http_head_status(struct sockit_http_head *h, int minor, int status)
{
    char line[24];

    if (status < 100 || status > 999 || minor < 0 || minor > 1) {
        fail(h, -EINVAL);
        return;
    }
    snprintf(line, sizeof(line), "HTTP/1.%d %d ", minor, status);
    puts_(h, line);
    puts_(h, sockit_http_reason(status));
    put(h, "\r\n", 2);
}

void sockit_http_head_request(struct sockit_http_head *h, const char *method,
                              struct sockit_http_str target, int minor)
{
    if (!all_of(method, strlen(method), HC_TOKEN) || !all_of(target.p, target.len, HC_TARGET) ||
        minor < 0 || minor > 1) {
        fail(h, -EINVAL);
        return;
    }
    puts_(h, method);
    put(h, " ", 1);
    put(h, target.p, target.len);
    puts_(h, minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
}

void sockit_http_head_field(struct sockit_http_head *h, const char *name,
                            struct sockit_http_str value)
{
    size_t n = strlen(name);

    /* A value may not start or end with whitespace: the parser would trim it. */
    if (!all_of(name, n, HC_TOKEN) || (value.len && !all_of(value.p, value.len, HC_VALUE)) ||
        (value.len && (value.p[0] == ' ' || value.p[0] == '\t' || value.p[value.len - 1] == ' ' ||
                       value.p[value.len - 1] == '\t'))) {
        fail(h, -EINVAL);
        return;
    }
    put(h, name, n);
    put(h, ": ", 2);
    put(h, value.p, value.len);
    put(h, "\r\n", 2);
}

void sockit_http_head_field_u64(struct sockit_http_head *h, const char *name, uint64_t n)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);

    sockit_http_head_field(h, name, (struct sockit_http_str){ digits, (size_t)len });
}

long sockit_http_head_end(struct sockit_http_head *h)
{
    put(h, "\r\n", 2);
    return h->err ? h->err : (long)h->len;
}
