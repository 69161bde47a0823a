/* libFuzzer target for sockit/http.h. On any input:
 *
 *   - the request parser never reads outside the input, and whatever it points at lies inside;
 *   - parsing in two steps (the first K bytes, then all with SEEN = K) gives what one step
 *     gives (K from the first input byte);
 *   - a head it accepts, written again by the head writer, parses to the same request
 *     (what the writer emits, the parser accepts, and means the same);
 *   - the chunked decoder, fed in two pieces, consumes the same bytes and payload as in one;
 *   - the date parser never crashes, and a date it reads formats and reads back the same;
 *   - a normalized path has no "." or ".." segment, no empty one, no leading '/', no control
 *     byte and (without HIDDEN) no segment starting with '.';
 *   - ranges lie inside the size, first <= last, none overlapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/http.h"

#define MAX_INPUT (96 * 1024)

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

static void inside(struct sockit_http_str s, const char *buf, size_t len)
{
    if (s.len && (s.p < buf || s.p + s.len > buf + len))
        fail("a parsed string points outside the input");
}

static bool same(struct sockit_http_str a, struct sockit_http_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_bounds(const struct sockit_http_request *r, const char *buf, size_t len)
{
    inside(r->method_name, buf, len);
    inside(r->target, buf, len);
    if (!(r->path.len == 1 && r->path.p[0] == '/')) /* may be the parser's own "/" */
        inside(r->path, buf, len);
    inside(r->query, buf, len);
    for (size_t i = 0; i < r->nfields; i++) {
        inside(r->fields[i].name, buf, len);
        inside(r->fields[i].value, buf, len);
    }
}

/* Write R's head again and parse it: the same request must come back. */
static void round_trip(const struct sockit_http_request *r)
{
    static char method[SOCKIT_HTTP_MAX_LINE + 1], out[MAX_INPUT + 4096];
    static struct sockit_http_request again;
    struct sockit_http_head h;

    memcpy(method, r->method_name.p, r->method_name.len);
    method[r->method_name.len] = '\0';
    sockit_http_head_init(&h, out, sizeof(out));
    sockit_http_head_request(&h, method, r->target, r->minor);
    for (size_t i = 0; i < r->nfields; i++) {
        static char name[SOCKIT_HTTP_MAX_FIELDS_BYTES + 1];
        memcpy(name, r->fields[i].name.p, r->fields[i].name.len);
        name[r->fields[i].name.len] = '\0';
        sockit_http_head_field(&h, name, r->fields[i].value);
    }
    long n = sockit_http_head_end(&h);
    if (n < 0)
        fail("the writer refused what the parser accepted");
    if (sockit_http_parse_request(out, (size_t)n, 0, &again) != n)
        fail("the parser refused what the writer emitted");
    if (again.method != r->method || !same(again.target, r->target) || again.minor != r->minor ||
        again.nfields != r->nfields || again.body != r->body ||
        again.content_length != r->content_length || again.keep_alive != r->keep_alive ||
        !same(again.host, r->host) || !same(again.path, r->path))
        fail("the written head means something else");
    for (size_t i = 0; i < r->nfields; i++)
        if (!same(again.fields[i].name, r->fields[i].name) ||
            !same(again.fields[i].value, r->fields[i].value))
            fail("a field changed on the way round");
}

static void request(const char *buf, size_t len)
{
    static struct sockit_http_request whole, part;
    long rc = sockit_http_parse_request(buf, len, 0, &whole);
    size_t k = len ? (unsigned char)buf[0] % (len + 1) : 0;

    if (rc > (long)len)
        fail("consumed more than the input");
    long first = sockit_http_parse_request(buf, k, 0, &part);
    if (first == 0 && sockit_http_parse_request(buf, len, k, &part) != rc)
        fail("two steps with SEEN differ from one");
    if (rc <= 0)
        return;
    check_bounds(&whole, buf, len);
    round_trip(&whole);
}

/* Decode BUF from the start in pieces split at K: the bytes consumed and payload joined. */
static long chunked(const char *buf, size_t len, size_t k, size_t *payload)
{
    struct sockit_http_chunked c;
    size_t off = 0;

    sockit_http_chunked_init(&c);
    *payload = 0;
    while (off < len && !c.done) {
        size_t end = off < k ? k : len;
        struct sockit_http_str pl;
        long rc = sockit_http_chunked_decode(&c, buf + off, end - off, &pl);
        if (rc < 0)
            return rc;
        if (pl.len && (pl.p < buf + off || pl.p + pl.len > buf + off + (size_t)rc))
            fail("a payload run outside what was consumed");
        *payload += pl.len;
        off += (size_t)rc;
        if (rc == 0)
            break;
    }
    return (long)off;
}

static void body(const char *buf, size_t len)
{
    size_t p1, p2, k = len ? (unsigned char)buf[len - 1] % (len + 1) : 0;
    long a = chunked(buf, len, 0, &p1), b = chunked(buf, len, k, &p2);

    if (a != b || (a >= 0 && p1 != p2))
        fail("a chunked body split in two decodes differently");
}

static void date(const char *buf, size_t len)
{
    char out[SOCKIT_HTTP_DATE_LEN + 1];
    time_t t, t2;

    if (sockit_http_date_parse((struct sockit_http_str){ buf, len }, &t) != 0 || t < 0 ||
        t > 253402300799) /* year 9999 */
        return;
    sockit_http_date_format(t, out);
    if (sockit_http_date_parse((struct sockit_http_str){ out, SOCKIT_HTTP_DATE_LEN }, &t2) != 0 ||
        t2 != t)
        fail("a date does not read back as written");
}

static void path(const char *buf, size_t len)
{
    static char out[8192];
    long n =
        sockit_http_path_normalize((struct sockit_http_str){ buf, len }, out, sizeof(out), false);

    if (n < 0)
        return;
    if ((size_t)n != strlen(out) || (n > 0 && (out[0] == '/' || out[n - 1] == '/')))
        fail("a normalized path with a bad shape");
    for (const char *s = out; n > 0 && s <= out + n;) {
        const char *e = strchr(s, '/');
        size_t seg = e ? (size_t)(e - s) : strlen(s);
        if (seg == 0 || s[0] == '.')
            fail("an empty, dot or hidden segment survived");
        for (size_t i = 0; i < seg; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                fail("a control byte survived");
        s += seg + 1;
    }
}

/* Ranges against a size taken from the input: each inside it, in order, none overlapping. */
static void ranges(const char *buf, size_t len)
{
    struct sockit_http_range r[SOCKIT_HTTP_MAX_RANGES];
    uint64_t size = len ? (uint64_t)(unsigned char)buf[0] * 37 : 0;
    int n = sockit_http_ranges_parse((struct sockit_http_str){ buf, len }, size, r);

    if (n > SOCKIT_HTTP_MAX_RANGES || n < -1)
        fail("a range count out of bounds");
    for (int i = 0; i < n; i++) {
        if (r[i].first > r[i].last || r[i].last >= size)
            fail("a range outside the representation");
        for (int j = 0; j < i; j++)
            if (r[i].first <= r[j].last && r[j].first <= r[i].last)
                fail("overlapping ranges accepted");
    }
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
    body(buf, size);
    date(buf, size);
    path(buf, size);
    ranges(buf, size);
    free(buf);
    return 0;
}
