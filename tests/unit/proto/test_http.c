/* Unit tests for sockit/http.h on bytes alone: valid heads and what they mean, every refusal
 * (with the status it is answered with), heads split at every byte with SEEN, limits, chunked
 * bodies split at every byte, the head writer's output read back by the parser, dates. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/http.h"

static struct sockit_http_request req;

static long parse(const char *text)
{
    return sockit_http_parse_request(text, strlen(text), 0, &req);
}

static bool str_is(struct sockit_http_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

#define expect_str(s, want)                                                                        \
    cr_expect(str_is(s, want), "%s is \"%.*s\", expected \"%s\"", #s, (int)(s).len,                \
              (s).p ? (s).p : "", want)

/* ---------------------------------------------------------------- valid heads */

Test(http_parse, a_simple_get)
{
    const char *t = "GET /index.html?a=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";

    cr_assert_eq(parse(t), (long)strlen(t));
    cr_expect_eq(req.method, SOCKIT_HTTP_GET);
    expect_str(req.method_name, "GET");
    expect_str(req.target, "/index.html?a=1");
    expect_str(req.path, "/index.html");
    expect_str(req.query, "a=1");
    expect_str(req.host, "example.com");
    cr_expect_eq(req.minor, 1);
    cr_expect(req.keep_alive);
    cr_expect_eq(req.body, SOCKIT_HTTP_BODY_NONE);
    cr_expect_eq(req.nfields, 2);
    expect_str(req.fields[1].name, "Accept");
    expect_str(req.fields[1].value, "*/*");
}

Test(http_parse, stops_at_the_end_of_the_head)
{
    const char *t = "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\n";

    cr_expect_eq(parse(t), 28, "the pipelined request after the head is not consumed");
    cr_expect_eq(req.method, SOCKIT_HTTP_HEAD);
}

Test(http_parse, skips_empty_lines_before_the_request_line)
{
    const char *t = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";

    cr_expect_eq(parse(t), (long)strlen(t));
    expect_str(req.path, "/");
}

Test(http_parse, values_lose_surrounding_whitespace_and_names_keep_their_case)
{
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost:h\r\nX-Thing: \t a  b \t\r\nEmpty:\r\n\r\n"), 0);
    expect_str(req.fields[1].name, "X-Thing");
    expect_str(req.fields[1].value, "a  b");
    expect_str(req.fields[2].value, "");
    cr_expect_not_null(sockit_http_field(&req, "x-thing"));
    cr_expect_null(sockit_http_field(&req, "x-other"));
}

Test(http_parse, keep_alive_by_version_and_connection)
{
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
    cr_expect(!req.keep_alive, "1.0 closes by default");
    cr_expect_eq(req.minor, 0);
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    cr_expect(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: te, close\r\n\r\n"), 0);
    cr_expect(!req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"), 0);
    cr_expect(!req.keep_alive, "close wins wherever it stands");
    cr_assert_gt(parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 0);
    cr_expect_eq(req.minor, 1, "a later 1.x reads as 1.1");
}

Test(http_parse, bodies_by_length_or_chunked)
{
    cr_assert_gt(parse("POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0042\r\n\r\n"), 0);
    cr_expect_eq(req.body, SOCKIT_HTTP_BODY_LENGTH);
    cr_expect_eq(req.content_length, 42);
    cr_assert_gt(parse("POST /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    cr_expect_eq(req.body, SOCKIT_HTTP_BODY_CHUNKED);
}

Test(http_parse, absolute_form_takes_its_host_from_the_target)
{
    cr_assert_gt(
        parse("GET http://Example.com:8080/a/b?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), 0);
    expect_str(req.host, "Example.com:8080");
    expect_str(req.path, "/a/b");
    expect_str(req.query, "q");
    cr_assert_gt(parse("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    expect_str(req.path, "/");
    cr_assert_gt(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    expect_str(req.path, "*");
}

Test(http_parse, methods_are_case_sensitive_tokens)
{
    cr_assert_gt(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    cr_expect_eq(req.method, SOCKIT_HTTP_OTHER, "'get' is not GET (501, not 400)");
    cr_assert_gt(parse("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    cr_expect_eq(req.method, SOCKIT_HTTP_OTHER);
}

Test(http_parse, expect_100_continue)
{
    cr_assert_gt(
        parse("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n"),
        0);
    cr_expect(req.expect_continue);
}

/* ---------------------------------------------------------------- refusals */

static const struct bad {
    const char *text;
    int code;
    int status;
} bad[] = {
    { "GET / HTTP/1.1\nHost: h\r\n\r\n", SOCKIT_EHTTP_BARE_LF, 400 },
    { "GET / HTTP/1.1\r\nHost: h\n\r\n", SOCKIT_EHTTP_BARE_LF, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\n\n", SOCKIT_EHTTP_BARE_LF, 400 },
    { "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_BARE_LF, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", SOCKIT_EHTTP_BARE_CR, 400 },
    { "GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION, 400 },
    { "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_METHOD, 400 },
    { " GET / HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_METHOD, 400 },
    { "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET * HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION, 400 },
    { "GET / http/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION, 400 },
    { "GET / HTTP/11\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION, 400 },
    { "GET /\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET / HTTP/2.0\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION_UNSUPPORTED, 505 },
    { "GET / HTTP/0.9\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_VERSION_UNSUPPORTED, 505 },
    { "GET / HTTP/1.1\r\nHost : h\r\n\r\n", SOCKIT_EHTTP_SPACE_COLON, 400 },
    { "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", SOCKIT_EHTTP_SPACE_COLON, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", SOCKIT_EHTTP_OBS_FOLD, 400 },
    { "GET / HTTP/1.1\r\n Host: h\r\n\r\n", SOCKIT_EHTTP_OBS_FOLD, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", SOCKIT_EHTTP_FIELD_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", SOCKIT_EHTTP_FIELD_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", SOCKIT_EHTTP_SPACE_COLON, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", SOCKIT_EHTTP_FIELD_VALUE, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", SOCKIT_EHTTP_FIELD_VALUE, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
      SOCKIT_EHTTP_CONTENT_LENGTH, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", SOCKIT_EHTTP_CONTENT_LENGTH,
      400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", SOCKIT_EHTTP_CONTENT_LENGTH, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", SOCKIT_EHTTP_CONTENT_LENGTH, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456789\r\n\r\n",
      SOCKIT_EHTTP_CONTENT_LENGTH, 400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      SOCKIT_EHTTP_CL_TE, 400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", SOCKIT_EHTTP_TE,
      400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", SOCKIT_EHTTP_TE,
      400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
      SOCKIT_EHTTP_TE, 400 },
    { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", SOCKIT_EHTTP_TE, 400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", SOCKIT_EHTTP_TE, 400 },
    { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      SOCKIT_EHTTP_TE_UNKNOWN, 501 },
    { "GET / HTTP/1.1\r\n\r\n", SOCKIT_EHTTP_HOST, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", SOCKIT_EHTTP_HOST, 400 },
    { "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", SOCKIT_EHTTP_HOST, 400 },
    { "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", SOCKIT_EHTTP_HOST, 400 },
    { "GET http://evil/ HTTP/1.1\r\nHost: good\r\n\r\n", SOCKIT_EHTTP_HOST_MISMATCH, 400 },
    { "GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n", SOCKIT_EHTTP_TARGET, 400 },
    { "GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", SOCKIT_EHTTP_EXPECT, 417 },
};

Test(http_parse, refuses_what_leads_to_smuggling_with_its_status)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long rc = parse(bad[i].text);
        cr_expect_eq(rc, -bad[i].code, "case %zu: %s -> %ld (%s), expected %s", i, bad[i].text, rc,
                     sockit_strerror((int)rc), sockit_strerror(-bad[i].code));
        cr_expect_eq(sockit_http_error_status(-bad[i].code), bad[i].status, "case %zu", i);
    }
}

Test(http_parse, a_bare_lf_is_refused_before_the_head_ends)
{
    cr_expect_eq(parse("GET / HTTP/1.1\n"), -SOCKIT_EHTTP_BARE_LF);
    cr_expect_eq(parse("GET / HTTP/1.1\r\nHo"), 0, "incomplete, nothing wrong yet");
}

/* ---------------------------------------------------------------- limits */

/* TEXT is "GET /" + PATH_LEN x 'a' + " HTTP/1.1\r\n" + FIELDS + "\r\n". */
static char *request_with(size_t path_len, const char *fields)
{
    size_t n = 5 + path_len + 11 + strlen(fields) + 3;
    char *t = malloc(n);

    memcpy(t, "GET /", 5);
    memset(t + 5, 'a', path_len);
    snprintf(t + 5 + path_len, n - 5 - path_len, " HTTP/1.1\r\n%s\r\n", fields);
    return t;
}

Test(http_limits, a_request_line_of_8_kib_is_served_and_one_byte_more_is_414)
{
    size_t fit = SOCKIT_HTTP_MAX_LINE - strlen("GET / HTTP/1.1\r\n");
    char *ok = request_with(fit, "Host: h\r\n"), *over = request_with(fit + 1, "Host: h\r\n");

    cr_expect_gt(parse(ok), 0);
    cr_expect_eq(parse(over), -SOCKIT_EHTTP_LINE);
    cr_expect_eq(sockit_http_error_status(-SOCKIT_EHTTP_LINE), 414);
    over[SOCKIT_HTTP_MAX_LINE + 10] = '\0'; /* no LF yet, past the limit: refused already */
    cr_expect_eq(parse(over), -SOCKIT_EHTTP_LINE);
    free(ok);
    free(over);
}

Test(http_limits, one_hundred_fields_are_served_and_101_are_431)
{
    char fields[4096] = "Host: h\r\n";

    for (int i = 1; i < 100; i++)
        snprintf(fields + strlen(fields), sizeof(fields) - strlen(fields), "X-%d: v\r\n", i);
    char *ok = request_with(1, fields);
    strcat(fields, "X-100: v\r\n");
    char *over = request_with(1, fields);
    cr_expect_gt(parse(ok), 0);
    cr_expect_eq(req.nfields, 100);
    cr_expect_eq(parse(over), -SOCKIT_EHTTP_FIELDS);
    cr_expect_eq(sockit_http_error_status(-SOCKIT_EHTTP_FIELDS), 431);
    free(ok);
    free(over);
}

Test(http_limits, a_header_section_over_64_kib_is_431)
{
    static char fields[70 * 1024];
    char *t;

    strcpy(fields, "Host: h\r\nBig: ");
    memset(fields + strlen(fields), 'v', 65 * 1024);
    strcat(fields, "\r\n");
    t = request_with(1, fields);
    cr_expect_eq(parse(t), -SOCKIT_EHTTP_HEAD);
    t[strlen(t) - 4] = '\0'; /* without its end, still over the limit: refused, not waited for */
    cr_expect_eq(sockit_http_parse_request(t, strlen(t), 0, &req), -SOCKIT_EHTTP_HEAD);
    free(t);
}

/* ---------------------------------------------------------------- incremental */

/* Offer TEXT a byte at a time, as the engine adapter would (SEEN: what was offered before);
 * the result must be the one-shot parse's, at the last byte and not before. */
static void byte_by_byte(const char *text)
{
    size_t len = strlen(text);
    struct sockit_http_request whole;
    long want = sockit_http_parse_request(text, len, 0, &whole);
    long rc = 0;
    size_t n;

    for (n = 1; n <= len; n++) {
        rc = sockit_http_parse_request(text, n, n - 1, &req);
        if (rc != 0)
            break;
    }
    cr_expect_eq(rc, want, "%s: %ld byte by byte, %ld at once", text, rc, want);
    if (want > 0) {
        cr_expect_eq(n, (size_t)want, "complete at byte %zu, not %ld", n, want);
        cr_expect_eq(req.nfields, whole.nfields);
    }
}

Test(http_parse, byte_by_byte_equals_at_once)
{
    byte_by_byte("GET /a?b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n");
    byte_by_byte("\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        byte_by_byte(bad[i].text);
}

/* ---------------------------------------------------------------- chunked */

/* Decode BODY in pieces of STEP bytes; the payload joined and the bytes consumed. */
static long decode(const char *body, size_t len, size_t step, char *out, size_t *out_len)
{
    struct sockit_http_chunked c;
    size_t off = 0;

    sockit_http_chunked_init(&c);
    *out_len = 0;
    while (off < len && !c.done) {
        size_t n = len - off < step ? len - off : step, used = 0;
        while (used < n && !c.done) {
            struct sockit_http_str pl;
            long rc = sockit_http_chunked_decode(&c, body + off + used, n - used, &pl);
            if (rc < 0)
                return rc;
            memcpy(out + *out_len, pl.p, pl.len);
            *out_len += pl.len;
            used += (size_t)rc;
            if (rc == 0)
                break;
        }
        off += used;
    }
    return c.done ? (long)off : 0;
}

Test(http_chunked, decodes_split_at_every_byte)
{
    const char *body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n"
                       "\r\nGET /next";
    size_t body_len = strlen(body) - strlen("GET /next");
    char out[64];
    size_t n;

    for (size_t step = 1; step <= strlen(body); step++) {
        long rc = decode(body, strlen(body), step, out, &n);
        cr_assert_eq(rc, (long)body_len, "step %zu: %ld", step, rc);
        cr_assert_eq(n, 31, "step %zu: %zu payload bytes", step, n);
        cr_assert(memcmp(out, "helloabcdefghijklmnopqrstuvwxyz", 31) == 0);
    }
}

Test(http_chunked, refuses_malformed_framing)
{
    static const char *const cases[] = {
        "x\r\n",
        "\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\n",
        "0\r\n\rX",
        "10000000000000000\r\n",
        "0\r\n Folded: x\r\n\r\n",
        "5;\x01\r\n",
        "0\r\nT: v\n\r\n",
    };
    char out[64];
    size_t n;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(decode(cases[i], strlen(cases[i]), 64, out, &n), -SOCKIT_EHTTP_CHUNK,
                     "case %zu", i);
}

Test(http_chunked, long_extensions_and_trailers_are_bounded)
{
    static char body[16 * 1024];
    char out[16];
    size_t n;

    strcpy(body, "1;");
    memset(body + 2, 'e', 5000);
    strcpy(body + 5002, "\r\nx\r\n0\r\n\r\n");
    cr_expect_eq(decode(body, strlen(body), 4096, out, &n), -SOCKIT_EHTTP_CHUNK);
    strcpy(body, "0\r\n");
    for (int i = 0; i < 300; i++)
        strcat(body, "T: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n");
    strcat(body, "\r\n");
    cr_expect_eq(decode(body, strlen(body), 4096, out, &n), -SOCKIT_EHTTP_CHUNK);
}

/* ---------------------------------------------------------------- writing heads */

Test(http_head, a_response_head)
{
    char buf[256];
    struct sockit_http_head h;

    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_status(&h, 1, 404);
    sockit_http_head_field(&h, "Content-Type", (struct sockit_http_str){ "text/plain", 10 });
    sockit_http_head_field_u64(&h, "Content-Length", 12);
    long n = sockit_http_head_end(&h);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 12\r\n\r\n";
    cr_assert_eq(n, (long)strlen(want));
    cr_expect(memcmp(buf, want, (size_t)n) == 0, "%.*s", (int)n, buf);
}

Test(http_head, refuses_what_the_parser_would_refuse_or_read_otherwise)
{
    char buf[256];
    struct sockit_http_head h;

    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_status(&h, 1, 200);
    sockit_http_head_field(&h, "X", (struct sockit_http_str){ "a\r\nInjected: 1", 14 });
    cr_expect_eq(sockit_http_head_end(&h), -EINVAL);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_field(&h, "Bad Name", (struct sockit_http_str){ "v", 1 });
    cr_expect_eq(sockit_http_head_end(&h), -EINVAL);
    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_field(&h, "X", (struct sockit_http_str){ " v", 2 });
    cr_expect_eq(sockit_http_head_end(&h), -EINVAL);
    sockit_http_head_init(&h, buf, 20);
    sockit_http_head_status(&h, 1, 200);
    sockit_http_head_field(&h, "Server", (struct sockit_http_str){ "sockit", 6 });
    cr_expect_eq(sockit_http_head_end(&h), -ENOSPC);
}

Test(http_head, what_the_writer_emits_the_parser_reads_back)
{
    char buf[512];
    struct sockit_http_head h;
    const char *target = "/a%20b?x=1&y=\"2\"";

    sockit_http_head_init(&h, buf, sizeof(buf));
    sockit_http_head_request(&h, "GET", (struct sockit_http_str){ target, strlen(target) }, 1);
    sockit_http_head_field(&h, "Host", (struct sockit_http_str){ "[::1]:8080", 10 });
    sockit_http_head_field(&h, "X-Obs", (struct sockit_http_str){ "caf\xc3\xa9 \t ok", 10 });
    long n = sockit_http_head_end(&h);
    cr_assert_gt(n, 0);
    cr_assert_eq(sockit_http_parse_request(buf, (size_t)n, 0, &req), n);
    expect_str(req.target, target);
    expect_str(req.host, "[::1]:8080");
    expect_str(req.fields[1].value, "caf\xc3\xa9 \t ok");
}

/* ---------------------------------------------------------------- dates */

Test(http_date, formats_imf_fixdate)
{
    char out[SOCKIT_HTTP_DATE_LEN + 1];

    sockit_http_date_format(784111777, out);
    cr_expect_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
}

Test(http_date, reads_all_three_forms_and_refuses_others)
{
    static const char *const same[] = { "Sun, 06 Nov 1994 08:49:37 GMT",
                                        "Sunday, 06-Nov-94 08:49:37 GMT",
                                        "Sun Nov  6 08:49:37 1994" };
    static const char *const bad_dates[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 25:49:37 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT", "yesterday"
    };
    time_t t;

    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(
            sockit_http_date_parse((struct sockit_http_str){ same[i], strlen(same[i]) }, &t), 0,
            "%s", same[i]);
        cr_expect_eq(t, 784111777, "%s -> %lld", same[i], (long long)t);
    }
    for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++)
        cr_expect_eq(sockit_http_date_parse(
                         (struct sockit_http_str){ bad_dates[i], strlen(bad_dates[i]) }, &t),
                     -EINVAL, "%s", bad_dates[i]);
}

/* ---------------------------------------------------------------- paths */

static long norm(const char *path, bool hidden, char *out)
{
    return sockit_http_path_normalize((struct sockit_http_str){ path, strlen(path) }, out, 256,
                                      hidden);
}

Test(http_path, decodes_once_and_walks_segments)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        { "/", "" },
        { "/index.html", "index.html" },
        { "//a///b/", "a/b" },
        { "/a/./b/.", "a/b" },
        { "/a/b/../c", "a/c" },
        { "/a/..", "" },
        { "/caf%C3%A9%20menu.txt", "caf\xc3\xa9 menu.txt" },
        { "/%2541", "%41" }, /* decoded once: %25 is '%', and "41" stays */
        { "/a/%2e%2e/b", "b" },
    };
    char out[256];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long n = norm(ok[i].in, false, out);
        cr_expect_eq(n, (long)strlen(ok[i].out), "%s -> %ld", ok[i].in, n);
        cr_expect_str_eq(out, ok[i].out, "%s", ok[i].in);
    }
}

Test(http_path, refuses_escapes_encoded_slashes_nul_and_hidden_names)
{
    static const struct {
        const char *in;
        int code;
    } bad_paths[] = {
        { "/..", SOCKIT_EHTTP_PATH },
        { "/a/../..", SOCKIT_EHTTP_PATH },
        { "/%2e%2e/etc/passwd", SOCKIT_EHTTP_PATH },
        { "/.%2e/x", SOCKIT_EHTTP_PATH },
        { "/a%2f..%2f..%2fetc", SOCKIT_EHTTP_PATH },
        { "/a%2Fb", SOCKIT_EHTTP_PATH },
        { "/a%00.html", SOCKIT_EHTTP_PATH },
        { "/a%0d%0aX", SOCKIT_EHTTP_PATH },
        { "/a%7f", SOCKIT_EHTTP_PATH },
        { "/a%4", SOCKIT_EHTTP_PATH },
        { "/a%g0", SOCKIT_EHTTP_PATH },
        { "/.git/config", SOCKIT_EHTTP_HIDDEN },
        { "/a/.env", SOCKIT_EHTTP_HIDDEN },
        { "/a/%2eenv", SOCKIT_EHTTP_HIDDEN },
    };
    char out[256];

    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
        cr_expect_eq(norm(bad_paths[i].in, false, out), -bad_paths[i].code, "%s", bad_paths[i].in);
    cr_expect_eq(norm("/.well-known/x", true, out), (long)strlen(".well-known/x"), "with hidden");
    cr_expect_eq(sockit_http_error_status(-SOCKIT_EHTTP_HIDDEN), 404);
}

Test(http_path, a_name_longer_than_the_buffer_is_refused)
{
    char out[8];

    cr_expect_eq(sockit_http_path_normalize((struct sockit_http_str){ "/abcdefgh", 9 }, out,
                                            sizeof(out), false),
                 -ENAMETOOLONG);
}

/* ---------------------------------------------------------------- ranges */

static int ranges(const char *v, uint64_t size, struct sockit_http_range *r)
{
    return sockit_http_ranges_parse((struct sockit_http_str){ v, strlen(v) }, size, r);
}

Test(http_ranges, single_suffix_open_and_several)
{
    struct sockit_http_range r[SOCKIT_HTTP_MAX_RANGES];

    cr_assert_eq(ranges("bytes=0-99", 1000, r), 1);
    cr_expect(r[0].first == 0 && r[0].last == 99);
    cr_assert_eq(ranges("bytes=900-", 1000, r), 1);
    cr_expect(r[0].first == 900 && r[0].last == 999);
    cr_assert_eq(ranges("bytes=-50", 1000, r), 1);
    cr_expect(r[0].first == 950 && r[0].last == 999);
    cr_assert_eq(ranges("bytes=-5000", 1000, r), 1, "a suffix longer than the whole: all of it");
    cr_expect(r[0].first == 0 && r[0].last == 999);
    cr_assert_eq(ranges("bytes=990-2000", 1000, r), 1, "clipped to the end");
    cr_expect(r[0].last == 999);
    cr_assert_eq(ranges("Bytes= 0-0 , ,500-599,-1", 1000, r), 3);
    cr_expect(r[1].first == 500 && r[2].first == 999);
    cr_assert_eq(ranges("bytes=0-9,5000-6000", 1000, r), 1, "the unsatisfiable one is dropped");
}

Test(http_ranges, unsatisfiable_ignored_or_refused)
{
    struct sockit_http_range r[SOCKIT_HTTP_MAX_RANGES];
    char many[256] = "bytes=";

    cr_expect_eq(ranges("bytes=1000-", 1000, r), -1, "past the end: 416");
    cr_expect_eq(ranges("bytes=-0", 1000, r), -1);
    cr_expect_eq(ranges("bytes=0-", 0, r), -1, "nothing of an empty file");
    cr_expect_eq(ranges("items=0-1", 1000, r), 0, "another unit: the whole");
    cr_expect_eq(ranges("bytes=5-1", 1000, r), 0, "last before first: ignored");
    cr_expect_eq(ranges("bytes=a-b", 1000, r), 0);
    cr_expect_eq(ranges("bytes=", 1000, r), 0);
    cr_expect_eq(ranges("bytes=0-99,50-149", 1000, r), 0, "overlap: the whole, no byte twice");
    cr_expect_eq(ranges("bytes=1234567890123456789-", 1000, r), 0, "19 digits: ignored");
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d-%d", i ? "," : "", i * 10,
                 i * 10 + 1);
    cr_expect_eq(ranges(many, 1000, r), 0, "17 ranges: more than the limit");
}
