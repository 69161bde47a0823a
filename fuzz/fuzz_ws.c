/* libFuzzer target for sockit/ws.h's frames. The first input byte picks the parser's options
 * (bit 0 server, bit 1 allow_rsv1, bit 2 a 300-byte message limit) and CAP (its high five
 * bits: SOCKIT_WS_MAX_CONTROL plus 37 each); the second seeds the sizes of the chunks the
 * rest is fed in (0: all at once). On any input:
 *
 *   - the parser never reads outside what it is given (ASan: exact-size copies) and never
 *     consumes more than that;
 *   - a DATA piece is at most CAP bytes, in OUT when masked (a server's) or inside the bytes
 *     it consumed when not; a control payload is in OUT and at most 125 bytes; a close's
 *     code is valid (or 1005) and its reason, inside the payload, valid UTF-8;
 *   - first and last bracket each message, with one opcode throughout; an uncompressed text
 *     message that ends is valid UTF-8 (by a second validator written differently);
 *   - after an error every call returns it again; after a close, -SOCKIT_EWS_AFTER_CLOSE;
 *   - fed in chunks, it means what it means fed all at once: the same messages and control
 *     frames and the same final result;
 *   - the UTF-8 validator fails at the byte the second validator names, whole or in two
 *     pieces; a close payload's reason is whole UTF-8 within 123 bytes; a written header
 *     reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define MAX_INPUT (256 * 1024)

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ws: %s\n", what);
    abort();
}

/* ---- a second UTF-8 validator, by ranges (RFC 3629 section 4) ---------------------------- */

/* The index of the first byte of S[0, N) that no valid UTF-8 continues, or -1; *OPEN whether
 * the text ends inside a sequence. */
static long ref_utf8(const uint8_t *s, size_t n, bool *open)
{
    size_t i = 0;

    *open = false;
    while (i < n) {
        uint8_t c = s[i];
        size_t need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : 3;
        uint8_t lo = 0x80, hi = 0xbf; /* the second byte's range */
        if (c >= 0x80 && (c < 0xc2 || c > 0xf4))
            return (long)i;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        else if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        for (size_t k = 1; k <= need; k++) {
            if (i + k == n) {
                *open = true;
                return -1;
            }
            if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xbf))
                return (long)(i + k);
        }
        i += need + 1;
    }
    return -1;
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
    bool open;

    return ref_utf8(s, n, &open) < 0 && !open;
}

static void utf8(const uint8_t *s, size_t n)
{
    bool open;
    long bad = ref_utf8(s, n, &open);
    uint32_t st = SOCKIT_WS_UTF8_ACCEPT;
    size_t half = n / 2;
    int rc = sockit_ws_utf8(&st, s, n);

    if ((rc != 0) != (bad >= 0) || (rc == 0 && (st != SOCKIT_WS_UTF8_ACCEPT) != open))
        fail("the UTF-8 validators disagree on a whole text");
    if (bad >= 0) {
        st = SOCKIT_WS_UTF8_ACCEPT;
        if (sockit_ws_utf8(&st, s, (size_t)bad) != 0 ||
            sockit_ws_utf8(&st, s + bad, 1) != -SOCKIT_EWS_UTF8)
            fail("the UTF-8 validator fails elsewhere than at the first bad byte");
    }
    st = SOCKIT_WS_UTF8_ACCEPT;
    rc = sockit_ws_utf8(&st, s, half);
    if (rc == 0)
        rc = sockit_ws_utf8(&st, s + half, n - half);
    if ((rc != 0) != (bad >= 0) || (rc == 0 && (st != SOCKIT_WS_UTF8_ACCEPT) != open))
        fail("the UTF-8 validator in two pieces differs from one");
}

static void close_payload(const uint8_t *s, size_t n)
{
    uint8_t out[SOCKIT_WS_MAX_CONTROL];
    size_t len = sockit_ws_close_payload(out, 1000, (const char *)s, n);

    if (len < 2 || len > SOCKIT_WS_MAX_CONTROL || len - 2 > n || !valid_utf8(out + 2, len - 2) ||
        (len > 2 && memcmp(out + 2, s, len - 2) != 0))
        fail("a close payload that is not a whole UTF-8 prefix within 125 bytes");
}

/* ---- the frame parser ---------------------------------------------------------------------- */

/* What a run meant: a hash over whole messages and control frames, and how it ended. */
struct run {
    uint64_t hash;
    long rc;
    bool msg_open, msg_text;
    int msg_opcode;
    uint8_t *msg;
    size_t msg_len;
};

static void mix(struct run *r, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 0x100000001b3u;
}

static void data_piece(struct run *r, const struct sockit_ws_event *ev)
{
    if (ev->first == r->msg_open)
        fail("first on a piece inside a message, or not on the one that starts it");
    if (ev->first) {
        r->msg_open = true;
        r->msg_opcode = ev->opcode;
        r->msg_text = ev->opcode == SOCKIT_WS_TEXT && !ev->compressed;
        r->msg_len = 0;
    }
    if ((int)ev->opcode != r->msg_opcode ||
        (ev->opcode != SOCKIT_WS_TEXT && ev->opcode != SOCKIT_WS_BINARY))
        fail("a message's opcode changed, or is not text or binary");
    memcpy(r->msg + r->msg_len, ev->payload, ev->len);
    r->msg_len += ev->len;
    if (!ev->last)
        return;
    if (r->msg_text && !valid_utf8(r->msg, r->msg_len))
        fail("a text message that is not UTF-8");
    mix(r, &ev->opcode, sizeof(ev->opcode));
    mix(r, r->msg, r->msg_len);
    mix(r, "|", 1);
    r->msg_open = false;
}

static void control(struct run *r, const struct sockit_ws_event *ev, const uint8_t *out)
{
    if (ev->payload != out || ev->len > SOCKIT_WS_MAX_CONTROL)
        fail("a control payload outside OUT or over 125 bytes");
    if (ev->kind == SOCKIT_WS_EV_CLOSE) {
        if (ev->close_code != SOCKIT_WS_CLOSE_NO_STATUS &&
            !sockit_ws_close_code_valid(ev->close_code))
            fail("a close with an invalid code");
        if (ev->reason < ev->payload || ev->reason + ev->reason_len > ev->payload + ev->len ||
            !valid_utf8(ev->reason, ev->reason_len))
            fail("a close reason outside its payload, or not UTF-8");
    }
    mix(r, &ev->kind, sizeof(ev->kind));
    mix(r, ev->payload, ev->len);
}

/* Check EV, from RC bytes consumed at D; add what it means to R. */
static void event(struct run *r, const struct sockit_ws_event *ev, const uint8_t *d, long rc,
                  const uint8_t *out, size_t cap, bool server)
{
    if (ev->kind == SOCKIT_WS_EV_NONE)
        return;
    if (ev->kind != SOCKIT_WS_EV_DATA) {
        control(r, ev, out);
        return;
    }
    if (ev->len > cap)
        fail("a piece over CAP");
    if (ev->len && server && ev->payload != out)
        fail("a masked piece not in OUT");
    if (ev->len && !server && (ev->payload < d || ev->payload + ev->len > d + rc))
        fail("an unmasked piece outside the bytes consumed");
    data_piece(r, ev);
}

static uint32_t next_size(uint32_t *seed)
{
    *seed ^= *seed << 13, *seed ^= *seed >> 17, *seed ^= *seed << 5;
    return 1 + *seed % 97;
}

/* Feed IN[0, N) in chunks seeded by SEED (0: all at once), as a reader appending to its
 * buffer would: more bytes whenever the parser asks for them. */
static void run(struct run *r, const struct sockit_ws_parser_options *o, const uint8_t *in,
                size_t n, uint32_t seed, size_t cap)
{
    static uint8_t out[SOCKIT_WS_MAX_CONTROL + 31 * 37];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    size_t off = 0, avail = seed ? 0 : n;
    long rc;

    sockit_ws_parser_init(&p, o);
    for (;;) {
        rc = sockit_ws_parse(&p, in + off, avail - off, out, cap, &ev);
        if (rc < 0 || (rc == 0 && avail == n))
            break;
        if (rc == 0) {
            size_t more = next_size(&seed);
            avail = n - avail < more ? n : avail + more;
            continue;
        }
        if ((size_t)rc > avail - off)
            fail("consumed more than was offered");
        event(r, &ev, in + off, rc, out, cap, o->server);
        off += (size_t)rc;
        if (ev.kind == SOCKIT_WS_EV_CLOSE &&
            sockit_ws_parse(&p, in + off, avail - off, out, cap, &ev) != -SOCKIT_EWS_AFTER_CLOSE)
            fail("a frame taken after the close");
    }
    if (rc < 0 && sockit_ws_parse(&p, in, n, out, cap, &ev) != rc)
        fail("a parser took more after an error");
    r->rc = rc;
}

static void frames(const uint8_t *data, size_t size)
{
    static uint8_t msgs[2][MAX_INPUT];
    struct sockit_ws_parser_options o = { .server = data[0] & 1,
                                          .allow_rsv1 = data[0] & 2,
                                          .max_message = data[0] & 4 ? 300 : 0 };
    size_t cap = SOCKIT_WS_MAX_CONTROL + (size_t)(data[0] >> 3) * 37, n = size - 2;
    struct run whole = { .hash = 0xcbf29ce484222325u, .msg = msgs[0] };
    struct run chunked = { .hash = 0xcbf29ce484222325u, .msg = msgs[1] };
    uint8_t *in = malloc(n ? n : 1); /* exactly N bytes: ASan sees any read past them */

    memcpy(in, data + 2, n);
    run(&whole, &o, in, n, 0, cap);
    run(&chunked, &o, in, n, data[1], cap);
    if (whole.rc != chunked.rc || (whole.rc >= 0 && whole.hash != chunked.hash))
        fail("fed in chunks, the stream means something else than at once");
    free(in);
}

/* A header written for a length and options from the input reads back. */
static void writer(const uint8_t *data, size_t size)
{
    uint8_t h[SOCKIT_WS_MAX_HEADER], out[SOCKIT_WS_MAX_CONTROL];
    uint64_t len = 0;
    const uint8_t key[4] = { 1, 2, 3, 4 };
    bool masked = data[0] & 1;
    struct sockit_ws_parser_options o = { .server = masked, .max_message = UINT64_MAX };
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;

    memcpy(&len, data + 2, size - 2 < 8 ? size - 2 : 8);
    len >>= data[1] & 63; /* all lengths: short ones too */
    len &= ~(1ull << 63);
    size_t n = sockit_ws_frame_header(h, SOCKIT_WS_BINARY, true, false, len, masked ? key : NULL);
    sockit_ws_parser_init(&p, &o);
    if (sockit_ws_parse(&p, h, n, out, sizeof(out), &ev) != (long)n || p.left != len ||
        (len == 0) != (ev.kind == SOCKIT_WS_EV_DATA))
        fail("a written header does not read back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > MAX_INPUT)
        return 0;
    frames(data, size);
    utf8(data + 2, size - 2);
    close_payload(data + 2, size - 2);
    writer(data, size);
    return 0;
}
