/* The chunked-body decoder of sockit/http.h: a byte-at-a-time state machine for the framing
 * (sizes, extensions, CRLFs, trailers), so framing split anywhere across reads costs nothing
 * to resume, and payload handed back in runs without a copy. */
#include "chars.h"
#include "sockit/error.h"

#define MAX_SIZE_DIGITS 15         /* sizes up to 2^60 */
#define MAX_LINE        4096       /* a size line's extensions, or one trailer line */
#define MAX_TRAILERS    (8 * 1024) /* the whole trailer section */

enum {
    S_SIZE,    /* hex digits of a chunk size */
    S_EXT,     /* after the size: extensions up to CR */
    S_SIZE_LF, /* the LF ending a size line */
    S_DATA,    /* payload */
    S_DATA_CR, /* the CRLF after a chunk's payload */
    S_DATA_LF,
    S_TRAILER_START, /* the start of a trailer line, or of the final empty line */
    S_TRAILER,       /* a trailer line up to CR */
    S_TRAILER_LF,
    S_END_LF, /* the LF of the final empty line */
    S_DONE,
};

void sockit_http_chunked_init(struct sockit_http_chunked *c)
{
    *c = (struct sockit_http_chunked){ .state = S_SIZE };
}

static int size_digit(struct sockit_http_chunked *c, char ch)
{
    if (hc_is(ch, HC_HEX)) {
        if (++c->digits > MAX_SIZE_DIGITS)
            return -SOCKIT_EHTTP_CHUNK;
        c->left = c->left * 16 + (uint64_t)hc_hex(ch);
        return 0;
    }
    if (c->digits == 0)
        return -SOCKIT_EHTTP_CHUNK;
    if (ch == '\r')
        c->state = S_SIZE_LF;
    else if (ch == ';' || ch == ' ' || ch == '\t')
        c->state = S_EXT;
    else
        return -SOCKIT_EHTTP_CHUNK;
    return 0;
}

/* A character of an extension or trailer line (no CTL but HTAB); CR ends the line. */
static int line_char(struct sockit_http_chunked *c, char ch, int next)
{
    if (ch == '\r') {
        c->state = next;
        return 0;
    }
    if (!hc_is(ch, HC_VALUE) || ++c->line > MAX_LINE)
        return -SOCKIT_EHTTP_CHUNK;
    return 0;
}

static int expect(struct sockit_http_chunked *c, char ch, char want, int next)
{
    if (ch != want)
        return -SOCKIT_EHTTP_CHUNK;
    c->state = next;
    return 0;
}

/* The size line is over: a chunk's payload follows, or for size 0 the trailer section. */
static void size_done(struct sockit_http_chunked *c)
{
    c->state = c->left ? S_DATA : S_TRAILER_START;
    c->line = 0;
}

static int trailer_start(struct sockit_http_chunked *c, char ch)
{
    if (ch == '\r') {
        c->state = S_END_LF;
        return 0;
    }
    if (ch == ' ' || ch == '\t') /* obs-fold */
        return -SOCKIT_EHTTP_CHUNK;
    c->line = 0;
    c->state = S_TRAILER;
    if (++c->trailers > MAX_TRAILERS)
        return -SOCKIT_EHTTP_CHUNK;
    return line_char(c, ch, S_TRAILER_LF);
}

/* One framing byte. */
static int framing(struct sockit_http_chunked *c, char ch)
{
    switch (c->state) {
    case S_SIZE: return size_digit(c, ch);
    case S_EXT: return line_char(c, ch, S_SIZE_LF);
    case S_SIZE_LF:
        if (ch != '\n')
            return -SOCKIT_EHTTP_CHUNK;
        size_done(c);
        return 0;
    case S_DATA_CR: return expect(c, ch, '\r', S_DATA_LF);
    case S_DATA_LF: c->digits = 0; return expect(c, ch, '\n', S_SIZE);
    case S_TRAILER_START: return trailer_start(c, ch);
    case S_TRAILER:
        if (++c->trailers > MAX_TRAILERS)
            return -SOCKIT_EHTTP_CHUNK;
        return line_char(c, ch, S_TRAILER_LF);
    case S_TRAILER_LF: return expect(c, ch, '\n', S_TRAILER_START);
    case S_END_LF: return expect(c, ch, '\n', S_DONE);
    }
    return -SOCKIT_EHTTP_CHUNK;
}

long sockit_http_chunked_decode(struct sockit_http_chunked *c, const char *data, size_t len,
                                struct sockit_http_str *payload)
{
    size_t i = 0;
    int err;

    *payload = (struct sockit_http_str){ data, 0 };
    while (i < len && c->state != S_DONE) {
        if (c->state == S_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            *payload = (struct sockit_http_str){ data + i, n };
            c->left -= n;
            if (c->left == 0)
                c->state = S_DATA_CR;
            return (long)(i + n);
        }
        if ((err = framing(c, data[i++])))
            return err;
    }
    c->done = c->state == S_DONE;
    return (long)i;
}
