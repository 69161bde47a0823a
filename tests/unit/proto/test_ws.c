/* Unit tests for sockit/ws.h's frames on bytes alone: RFC 6455's own examples, every framing
 * rule with the code it is refused with, payload pieces (the cap, the mask's phase across
 * pieces, first/last), byte-at-a-time feeding equal to whole-buffer feeding over random
 * valid streams, the writer read back at every length boundary, UTF-8 (fail-fast positions
 * as Autobahn's section 6 checks them) and close payloads. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define CAP 4096

static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d }; /* RFC 6455 section 5.7's */

/* A frame into OUT: header (masked with KEY when MASKED) and PAYLOAD; its length. */
static size_t frame(uint8_t *out, int op, bool fin, bool rsv1, const void *payload, size_t len,
                    bool masked)
{
    size_t n = sockit_ws_frame_header(out, op, fin, rsv1, len, masked ? key : NULL);

    if (len)
        memcpy(out + n, payload, len);
    if (masked)
        sockit_ws_mask(out + n, len, key, 0);
    return n + len;
}

/* ---------------------------------------------------------------- a stream, fed in steps */

/* What a stream of frames meant, in a comparable form: each whole message and control
 * frame as a line ("text:Hello", "binary:3:abc", "ping:x", "close:1000:bye"), then the
 * result ("ok", "more" or the error's text). */
struct run {
    char log[1 << 17];
    size_t log_len;
    uint8_t msg[1 << 17];
    size_t msg_len;
    long rc;
    int events, data_events;
};

static struct run runs[2];

static void note(struct run *r, const char *fmt, const void *bytes, size_t len)
{
    int n = snprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, fmt, (int)len);

    r->log_len += (size_t)n;
    if (len && r->log_len + len + 2 < sizeof(r->log)) {
        memcpy(r->log + r->log_len, bytes, len);
        r->log_len += len;
    }
    r->log[r->log_len++] = '\n';
    r->log[r->log_len] = '\0';
}

/* Check EV (a DATA piece) against the message so far and add it. */
static void take_data(struct run *r, const struct sockit_ws_event *ev, size_t cap)
{
    cr_expect_eq(ev->first, r->msg_len == 0 && r->data_events == 0, "first on the first piece");
    cr_expect_leq(ev->len, cap);
    r->data_events++;
    memcpy(r->msg + r->msg_len, ev->payload, ev->len);
    r->msg_len += ev->len;
    if (ev->last) {
        note(r, ev->opcode == SOCKIT_WS_TEXT ? "text:%d:" : "binary:%d:", r->msg, r->msg_len);
        r->msg_len = 0;
        r->data_events = 0;
    }
}

static void take(struct run *r, const struct sockit_ws_event *ev, size_t cap)
{
    char tag[32];

    r->events++;
    switch (ev->kind) {
    case SOCKIT_WS_EV_NONE: break;
    case SOCKIT_WS_EV_DATA: take_data(r, ev, cap); break;
    case SOCKIT_WS_EV_PING: note(r, "ping:%d:", ev->payload, ev->len); break;
    case SOCKIT_WS_EV_PONG: note(r, "pong:%d:", ev->payload, ev->len); break;
    case SOCKIT_WS_EV_CLOSE:
        snprintf(tag, sizeof(tag), "close:%u:%%d:", ev->close_code);
        note(r, tag, ev->reason, ev->reason_len);
        break;
    }
}

/* Feed IN[0, N) to a parser with O, STEP more bytes at a time whenever it asks for more (as
 * a reader appending to a buffer would), CAP bytes of OUT; the run's result in R. */
static void feed(struct run *r, const struct sockit_ws_parser_options *o, const uint8_t *in,
                 size_t n, size_t step, size_t cap)
{
    static uint8_t out[1 << 17];
    struct sockit_ws_parser p;
    size_t off = 0, avail = step < n ? step : n;

    memset(r, 0, sizeof(*r));
    sockit_ws_parser_init(&p, o);
    for (;;) {
        struct sockit_ws_event ev;
        long rc = sockit_ws_parse(&p, in + off, avail - off, out, cap, &ev);
        if (rc < 0) {
            r->rc = rc;
            note(r, "error:%d:", sockit_strerror((int)rc), strlen(sockit_strerror((int)rc)));
            return;
        }
        if (rc == 0 && avail == n) {
            note(r, off == n && p.left == 0 ? "ok%.0d" : "more%.0d", "", 0);
            return;
        }
        if (rc == 0) {
            avail = n - avail < step ? n : avail + step;
            continue;
        }
        cr_assert_leq((size_t)rc, avail - off, "consumed more than offered");
        off += (size_t)rc;
        take(r, &ev, cap);
        if (ev.kind == SOCKIT_WS_EV_CLOSE && off == n) {
            note(r, "ok%.0d", "", 0);
            return;
        }
    }
}

static const struct sockit_ws_parser_options server = { .server = true };
static const struct sockit_ws_parser_options client = { .server = false };

/* IN parsed whole, then a byte at a time: both logs equal WANT. */
static void expect_stream(const struct sockit_ws_parser_options *o, const uint8_t *in, size_t n,
                          const char *want)
{
    feed(&runs[0], o, in, n, n, CAP);
    cr_expect_str_eq(runs[0].log, want, "whole");
    feed(&runs[1], o, in, n, 1, SOCKIT_WS_MAX_CONTROL);
    cr_expect_str_eq(runs[1].log, want, "a byte at a time");
}

/* The code IN is refused with, whole and a byte at a time. */
static long refusal(const struct sockit_ws_parser_options *o, const uint8_t *in, size_t n)
{
    feed(&runs[0], o, in, n, n, CAP);
    feed(&runs[1], o, in, n, 1, SOCKIT_WS_MAX_CONTROL);
    cr_expect_eq(runs[0].rc, runs[1].rc, "whole %ld, a byte at a time %ld", runs[0].rc, runs[1].rc);
    return runs[0].rc;
}

#define expect_refused(o, in, n, code)                                                             \
    do {                                                                                           \
        long rc_ = refusal(o, in, n);                                                              \
        cr_expect_eq(rc_, -(code), "%s: got %ld (%s)", #code, rc_, sockit_strerror((int)rc_));     \
    } while (0)

/* ---------------------------------------------------------------- RFC 6455 section 5.7 */

Test(ws_frame, rfc_single_frame_unmasked_text)
{
    static const uint8_t in[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };

    expect_stream(&client, in, sizeof(in), "text:5:Hello\nok\n");
}

Test(ws_frame, rfc_single_frame_masked_text)
{
    static const uint8_t in[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };

    expect_stream(&server, in, sizeof(in), "text:5:Hello\nok\n");
}

Test(ws_frame, rfc_fragmented_unmasked_text)
{
    static const uint8_t in[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f };

    expect_stream(&client, in, sizeof(in), "text:5:Hello\nok\n");
}

Test(ws_frame, rfc_ping_and_masked_pong)
{
    static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    static const uint8_t pong[] = {
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };

    expect_stream(&client, ping, sizeof(ping), "ping:5:Hello\nok\n");
    expect_stream(&server, pong, sizeof(pong), "pong:5:Hello\nok\n");
}

Test(ws_frame, rfc_256_bytes_and_64_kib_binary_headers)
{
    static uint8_t in[10 + 65536];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    static uint8_t out[CAP];
    const struct sockit_ws_parser_options o = { .server = false };

    memcpy(in, (const uint8_t[]){ 0x82, 0x7E, 0x01, 0x00 }, 4);
    sockit_ws_parser_init(&p, &o);
    cr_assert_eq(sockit_ws_parse(&p, in, 4 + 256, out, CAP, &ev), 4, "the header alone");
    cr_expect_eq(ev.kind, SOCKIT_WS_EV_NONE);
    cr_assert_eq(sockit_ws_parse(&p, in + 4, 256, out, CAP, &ev), 256);
    cr_expect(ev.kind == SOCKIT_WS_EV_DATA && ev.first && ev.last && ev.len == 256);
    cr_expect_eq(ev.payload, in + 4, "unmasked: the payload points into DATA");
    cr_expect_eq(ev.opcode, SOCKIT_WS_BINARY);

    memcpy(in, (const uint8_t[]){ 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0 }, 10);
    sockit_ws_parser_init(&p, &o);
    cr_assert_eq(sockit_ws_parse(&p, in, sizeof(in), out, CAP, &ev), 10);
    size_t got = 0;
    while (got < 65536) {
        long rc = sockit_ws_parse(&p, in + 10 + got, 65536 - got, out, CAP, &ev);
        cr_assert_eq(rc, CAP, "pieces of CAP bytes");
        cr_expect_eq(ev.first, got == 0);
        got += (size_t)rc;
        cr_expect_eq(ev.last, got == 65536);
    }
}

/* ---------------------------------------------------------------- framing rules */

Test(ws_frame, reserved_bits_without_an_extension)
{
    const struct sockit_ws_parser_options deflate = { .server = false, .allow_rsv1 = true };
    uint8_t in[64];

    in[0] = 0x81 | 0x20, in[1] = 0; /* RSV2 */
    expect_refused(&deflate, in, 2, SOCKIT_EWS_RSV);
    in[0] = 0x81 | 0x10; /* RSV3 */
    expect_refused(&deflate, in, 2, SOCKIT_EWS_RSV);
    in[0] = 0x81 | 0x40; /* RSV1, not negotiated */
    expect_refused(&client, in, 2, SOCKIT_EWS_RSV);
    in[0] = 0x89 | 0x40; /* RSV1 on a ping, negotiated */
    expect_refused(&deflate, in, 2, SOCKIT_EWS_RSV);
    size_t n = frame(in, SOCKIT_WS_TEXT, false, true, "ab", 2, false);
    n += frame(in + n, SOCKIT_WS_CONT, true, true, "cd", 2, false); /* RSV1 on a continuation */
    expect_refused(&deflate, in, n, SOCKIT_EWS_RSV);
}

Test(ws_frame, rsv1_marks_a_compressed_message_unchecked_as_utf8)
{
    const struct sockit_ws_parser_options deflate = { .server = false, .allow_rsv1 = true };
    uint8_t in[64], out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    size_t n = frame(in, SOCKIT_WS_TEXT, false, true, "\xff\xfe", 2, false);

    n += frame(in + n, SOCKIT_WS_CONT, true, false, "\xc0", 1, false);
    sockit_ws_parser_init(&p, &deflate);
    cr_assert_eq(sockit_ws_parse(&p, in, n, out, CAP, &ev), 2);
    cr_assert_eq(sockit_ws_parse(&p, in + 2, n - 2, out, CAP, &ev), 2);
    cr_expect(ev.kind == SOCKIT_WS_EV_DATA && ev.compressed && ev.first && !ev.last);
    cr_assert_eq(sockit_ws_parse(&p, in + 4, n - 4, out, CAP, &ev), 2);
    cr_assert_eq(sockit_ws_parse(&p, in + 6, n - 6, out, CAP, &ev), 1);
    cr_expect(ev.compressed && !ev.first && ev.last, "deflated bytes are the caller's to check");
}

Test(ws_frame, reserved_opcodes)
{
    uint8_t in[2] = { 0, 0 };

    for (unsigned op = 3; op <= 0xf; op++) {
        if (op >= 8 && op <= 0xa)
            continue;
        in[0] = (uint8_t)(0x80 | op);
        expect_refused(&client, in, 2, SOCKIT_EWS_OPCODE);
    }
}

Test(ws_frame, a_server_wants_masked_frames_and_a_client_unmasked_ones)
{
    uint8_t in[16];
    size_t n = frame(in, SOCKIT_WS_TEXT, true, false, "hi", 2, false);

    expect_refused(&server, in, n, SOCKIT_EWS_MASK);
    n = frame(in, SOCKIT_WS_TEXT, true, false, "hi", 2, true);
    expect_refused(&client, in, n, SOCKIT_EWS_MASK);
    n = frame(in, SOCKIT_WS_PING, true, false, "", 0, false);
    expect_refused(&server, in, n, SOCKIT_EWS_MASK);
}

Test(ws_frame, control_frames_are_short_and_whole)
{
    static uint8_t in[256], big[126];
    size_t n = sockit_ws_frame_header(in, SOCKIT_WS_PING, true, false, 126, NULL);

    expect_refused(&client, in, n, SOCKIT_EWS_CONTROL);
    n = frame(in, SOCKIT_WS_PING, false, false, "x", 1, false);
    expect_refused(&client, in, n, SOCKIT_EWS_CONTROL);
    n = frame(in, SOCKIT_WS_CLOSE, false, false, "", 0, false);
    expect_refused(&client, in, n, SOCKIT_EWS_CONTROL);
    memset(big, 'p', sizeof(big));
    n = frame(in, SOCKIT_WS_PONG, true, false, big, 125, true);
    feed(&runs[0], &server, in, n, 1, SOCKIT_WS_MAX_CONTROL);
    cr_expect_eq(runs[0].rc, 0, "125 bytes is a control frame's most");
    cr_expect_eq(runs[0].events, 1, "taken whole: one event, no piece before it");
}

Test(ws_frame, fragments_in_order)
{
    uint8_t in[64];
    size_t n = frame(in, SOCKIT_WS_CONT, true, false, "x", 1, false);

    expect_refused(&client, in, n, SOCKIT_EWS_CONTINUATION);
    n = frame(in, SOCKIT_WS_TEXT, false, false, "a", 1, false);
    n += frame(in + n, SOCKIT_WS_TEXT, true, false, "b", 1, false);
    expect_refused(&client, in, n, SOCKIT_EWS_CONTINUATION);
    n = frame(in, SOCKIT_WS_BINARY, false, false, "a", 1, false);
    n += frame(in + n, SOCKIT_WS_BINARY, true, false, "b", 1, false);
    expect_refused(&client, in, n, SOCKIT_EWS_CONTINUATION);
    n = frame(in, SOCKIT_WS_TEXT, true, false, "a", 1, false);
    n += frame(in + n, SOCKIT_WS_CONT, true, false, "b", 1, false);
    expect_refused(&client, in, n, SOCKIT_EWS_CONTINUATION);
}

Test(ws_frame, control_frames_between_fragments)
{
    uint8_t in[128];
    size_t n = frame(in, SOCKIT_WS_TEXT, false, false, "He", 2, true);

    n += frame(in + n, SOCKIT_WS_PING, true, false, "p", 1, true);
    n += frame(in + n, SOCKIT_WS_CONT, false, false, "", 0, true);
    n += frame(in + n, SOCKIT_WS_PONG, true, false, "", 0, true);
    n += frame(in + n, SOCKIT_WS_CONT, true, false, "llo", 3, true);
    expect_stream(&server, in, n, "ping:1:p\npong:0:\ntext:5:Hello\nok\n");
}

Test(ws_frame, lengths_in_their_shortest_form)
{
    static const uint8_t short16[] = { 0x82, 126, 0, 125 };
    static const uint8_t short64[] = { 0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t top_bit[] = { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t ok16[] = { 0x82, 126, 0, 126 };
    static const uint8_t ok64[] = { 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 };

    expect_refused(&client, short16, sizeof(short16), SOCKIT_EWS_LENGTH);
    expect_refused(&client, short64, sizeof(short64), SOCKIT_EWS_LENGTH);
    expect_refused(&client, top_bit, sizeof(top_bit), SOCKIT_EWS_LENGTH);
    feed(&runs[0], &client, ok16, sizeof(ok16), 1, CAP);
    cr_expect_str_eq(runs[0].log, "more\n");
    feed(&runs[0], &client, ok64, sizeof(ok64), 1, CAP);
    cr_expect_str_eq(runs[0].log, "more\n");
}

Test(ws_frame, a_message_over_the_limit_is_refused_at_its_header)
{
    const struct sockit_ws_parser_options small = { .server = false, .max_message = 10 };
    static const uint8_t ten[10] = "0123456789";
    uint8_t in[64];
    size_t n = sockit_ws_frame_header(in, SOCKIT_WS_BINARY, true, false, 11, NULL);

    expect_refused(&small, in, n, SOCKIT_EWS_TOO_BIG); /* no payload byte needed */
    n = frame(in, SOCKIT_WS_TEXT, false, false, ten, 6, false);
    n += sockit_ws_frame_header(in + n, SOCKIT_WS_CONT, true, false, 5, NULL);
    expect_refused(&small, in, n, SOCKIT_EWS_TOO_BIG);
    n = frame(in, SOCKIT_WS_TEXT, false, false, ten, 6, false);
    n += frame(in + n, SOCKIT_WS_CONT, true, false, ten, 4, false);
    n += frame(in + n, SOCKIT_WS_BINARY, true, false, ten, 10, false);
    expect_stream(&small, in, n, "text:10:0123450123\nbinary:10:0123456789\nok\n");
    n = sockit_ws_frame_header(in, SOCKIT_WS_BINARY, true, false, SOCKIT_WS_MAX_MESSAGE + 1, NULL);
    expect_refused(&client, in, n, SOCKIT_EWS_TOO_BIG); /* max_message 0: the default */
    n = sockit_ws_frame_header(in, SOCKIT_WS_PING, true, false, 11, NULL);
    memset(in + n, 'p', 11);
    expect_stream(&small, in, n + 11, "ping:11:ppppppppppp\nok\n"); /* not a message */
}

Test(ws_frame, text_is_refused_at_its_first_invalid_byte)
{
    static const uint8_t bad[] = "ab\xf4\x90xyz"; /* above U+10FFFF from the 0x90 */
    uint8_t in[64], out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    size_t n = frame(in, SOCKIT_WS_TEXT, true, false, bad, 7, true);

    expect_refused(&server, in, n, SOCKIT_EWS_UTF8);
    sockit_ws_parser_init(&p, &server);
    cr_assert_eq(sockit_ws_parse(&p, in, n, out, CAP, &ev), 6);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(sockit_ws_parse(&p, in + 6 + i, 1, out, CAP, &ev), 1, "byte %zu", i);
        cr_expect_eq(ev.kind, SOCKIT_WS_EV_DATA);
    }
    cr_expect_eq(sockit_ws_parse(&p, in + 9, 1, out, CAP, &ev), -SOCKIT_EWS_UTF8, "at the 0x90");
    cr_expect_eq(sockit_ws_parse(&p, in + 10, 1, out, CAP, &ev), -SOCKIT_EWS_UTF8, "and after");
}

Test(ws_frame, text_may_split_a_character_between_frames_but_not_end_inside_one)
{
    uint8_t in[64];
    size_t n = frame(in, SOCKIT_WS_TEXT, false, false, "\xe2\x82", 2, false);

    n += frame(in + n, SOCKIT_WS_PING, true, false, "", 0, false);
    n += frame(in + n, SOCKIT_WS_CONT, true, false, "\xac", 1, false);
    expect_stream(&client, in, n, "ping:0:\ntext:3:\xe2\x82\xac\nok\n");
    n = frame(in, SOCKIT_WS_TEXT, true, false, "ok\xe2\x82", 4, false);
    expect_refused(&client, in, n, SOCKIT_EWS_UTF8);
    n = frame(in, SOCKIT_WS_TEXT, false, false, "ok\xe2\x82", 4, false);
    n += frame(in + n, SOCKIT_WS_CONT, true, false, "", 0, false);
    expect_refused(&client, in, n, SOCKIT_EWS_UTF8);
    n = frame(in, SOCKIT_WS_BINARY, true, false, "\xe2\x82", 2, false);
    expect_stream(&client, in, n, "binary:2:\xe2\x82\nok\n");
}

Test(ws_frame, close_frames_and_what_comes_after)
{
    uint8_t in[256], pl[SOCKIT_WS_MAX_CONTROL];
    size_t n = frame(in, SOCKIT_WS_CLOSE, true, false, "", 0, true);

    expect_stream(&server, in, n, "close:1005:0:\nok\n");
    n = frame(in, SOCKIT_WS_CLOSE, true, false, pl, sockit_ws_close_payload(pl, 1000, "bye", 3),
              true);
    n += frame(in + n, SOCKIT_WS_TEXT, true, false, "late", 4, true);
    feed(&runs[0], &server, in, n, n, CAP);
    cr_expect_str_eq(runs[0].log, "close:1000:3:bye\nerror:37:WebSocket frame after the close "
                                  "frame\n");
    expect_refused(&server, in, n, SOCKIT_EWS_AFTER_CLOSE);
    n = frame(in, SOCKIT_WS_CLOSE, true, false, "\x03", 1, true);
    expect_refused(&server, in, n, SOCKIT_EWS_CLOSE_CODE);
    static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = frame(in, SOCKIT_WS_CLOSE, true, false, pl,
                  sockit_ws_close_payload(pl, (uint16_t)bad[i], "", 0), true);
        expect_refused(&server, in, n, SOCKIT_EWS_CLOSE_CODE);
    }
    n = frame(in, SOCKIT_WS_CLOSE, true, false, "\x03\xe8\xce\xba\xff", 5, true);
    expect_refused(&server, in, n, SOCKIT_EWS_UTF8);
    n = frame(in, SOCKIT_WS_CLOSE, true, false, "\x03\xe8\xce", 3, true);
    expect_refused(&server, in, n, SOCKIT_EWS_UTF8);
    n = frame(in, SOCKIT_WS_CLOSE, true, false, "\x0f\xa0\xce\xba", 4, true); /* 4000 */
    expect_stream(&server, in, n, "close:4000:2:\xce\xba\nok\n");
}

Test(ws_frame, a_data_header_is_taken_alone_and_an_empty_frame_is_an_empty_piece)
{
    uint8_t in[64], out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    size_t n = frame(in, SOCKIT_WS_TEXT, false, false, "", 0, true);

    n += frame(in + n, SOCKIT_WS_CONT, true, false, "abc", 3, true);
    sockit_ws_parser_init(&p, &server);
    cr_assert_eq(sockit_ws_parse(&p, in, n, out, CAP, &ev), 6);
    cr_expect(ev.kind == SOCKIT_WS_EV_DATA && ev.len == 0 && ev.first && !ev.last);
    cr_expect_eq(ev.opcode, SOCKIT_WS_TEXT);
    cr_assert_eq(sockit_ws_parse(&p, in + 6, 6, out, CAP, &ev), 6, "a header, whole, alone");
    cr_expect_eq(ev.kind, SOCKIT_WS_EV_NONE);
    cr_expect_eq(sockit_ws_parse(&p, in + 12, 0, out, CAP, &ev), 0, "no byte: more needed");
    cr_assert_eq(sockit_ws_parse(&p, in + 12, 3, out, CAP, &ev), 3);
    cr_expect(ev.kind == SOCKIT_WS_EV_DATA && !ev.first && ev.last && ev.payload == out);
    cr_expect(memcmp(out, "abc", 3) == 0);
    cr_expect_eq(sockit_ws_parse(&p, in, 1, out, CAP, &ev), 0, "half a header: more needed");
}

Test(ws_frame, a_control_frame_waits_for_its_whole_payload)
{
    uint8_t in[64], out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;
    size_t n = frame(in, SOCKIT_WS_PING, true, false, "hello", 5, false);

    sockit_ws_parser_init(&p, &client);
    for (size_t k = 0; k < n; k++)
        cr_expect_eq(sockit_ws_parse(&p, in, k, out, CAP, &ev), 0, "%zu of %zu bytes", k, n);
    cr_assert_eq(sockit_ws_parse(&p, in, n, out, CAP, &ev), (long)n);
    cr_expect(ev.kind == SOCKIT_WS_EV_PING && ev.len == 5 && ev.payload == out, "copied to OUT");
}

Test(ws_frame, pieces_are_capped_and_unmasked_in_the_key_s_phase)
{
    static uint8_t plain[1000], in[1100], out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;

    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 7 + 3);
    size_t n = frame(in, SOCKIT_WS_BINARY, true, false, plain, sizeof(plain), true), off = 0;
    size_t got = 0, sizes[] = { 1, 3, 2, 7, 130, 500, 1000 }, k = 0;
    sockit_ws_parser_init(&p, &server);
    while (off < n) {
        size_t step = sizes[k++ % 7], avail = n - off < step ? n - off : step;
        long rc = sockit_ws_parse(&p, in + off, avail, out, 200, &ev);
        cr_assert_geq(rc, 0);
        if (rc == 0)
            avail = n - off, rc = sockit_ws_parse(&p, in + off, avail, out, 200, &ev);
        cr_assert_gt(rc, 0);
        off += (size_t)rc;
        if (ev.kind != SOCKIT_WS_EV_DATA)
            continue;
        cr_assert_leq(ev.len, 200, "a piece is at most CAP bytes");
        cr_assert(memcmp(ev.payload, plain + got, ev.len) == 0, "piece at %zu unmasked", got);
        got += ev.len;
    }
    cr_expect_eq(got, sizeof(plain));
}

Test(ws_frame, an_error_stops_the_parser_and_a_small_cap_is_invalid)
{
    uint8_t in[16] = { 0x83, 0x00 }, out[CAP];
    struct sockit_ws_parser p;
    struct sockit_ws_event ev;

    sockit_ws_parser_init(&p, &client);
    cr_expect_eq(sockit_ws_parse(&p, in, 2, out, SOCKIT_WS_MAX_CONTROL - 1, &ev), -EINVAL);
    cr_expect_eq(sockit_ws_parse(&p, in, 2, out, CAP, &ev), -SOCKIT_EWS_OPCODE);
    size_t n = frame(in, SOCKIT_WS_TEXT, true, false, "ok", 2, false);
    cr_expect_eq(sockit_ws_parse(&p, in, n, out, CAP, &ev), -SOCKIT_EWS_OPCODE, "still stopped");
}

Test(ws_frame, error_codes_map_to_close_codes)
{
    static const struct {
        int code, close;
    } map[] = {
        { SOCKIT_EWS_RSV, 1002 },          { SOCKIT_EWS_OPCODE, 1002 },
        { SOCKIT_EWS_MASK, 1002 },         { SOCKIT_EWS_CONTROL, 1002 },
        { SOCKIT_EWS_CONTINUATION, 1002 }, { SOCKIT_EWS_LENGTH, 1002 },
        { SOCKIT_EWS_CLOSE_CODE, 1002 },   { SOCKIT_EWS_AFTER_CLOSE, 1002 },
        { SOCKIT_EWS_UTF8, 1007 },         { SOCKIT_EWS_DEFLATE, 1007 },
        { SOCKIT_EWS_TOO_BIG, 1009 },      { ENOMEM, 1011 },
        { SOCKIT_EWS_KEY, 1011 },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        cr_expect_eq(sockit_ws_error_close_code(-map[i].code), map[i].close, "%s",
                     sockit_strerror(-map[i].code));
}

/* ---------------------------------------------------------------- the writer, read back */

Test(ws_frame, the_writer_at_every_length_boundary_reads_back)
{
    static const struct {
        uint64_t len;
        size_t header;
    } cases[] = { { 0, 2 }, { 125, 2 }, { 126, 4 }, { 65535, 4 }, { 65536, 10 }, { 70000, 10 } };
    static uint8_t plain[70000], in[70000 + SOCKIT_WS_MAX_HEADER], out[CAP];
    const struct sockit_ws_parser_options o = { .server = true, .allow_rsv1 = true };

    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i % 251);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int masked = 0; masked < 2; masked++) {
            struct sockit_ws_parser p;
            struct sockit_ws_event ev;
            size_t len = (size_t)cases[c].len,
                   n = frame(in, SOCKIT_WS_BINARY, true, true, plain, len, masked);
            cr_expect_eq(n - len, cases[c].header + (masked ? 4 : 0), "length %zu", len);
            struct sockit_ws_parser_options po = o;
            po.server = masked;
            sockit_ws_parser_init(&p, &po);
            long rc = sockit_ws_parse(&p, in, n, out, CAP, &ev);
            cr_assert_eq(rc, (long)(n - len), "length %zu: the header", len);
            size_t off = (size_t)rc, got = 0;
            while (got < len || (len == 0 && ev.kind != SOCKIT_WS_EV_DATA)) {
                rc = sockit_ws_parse(&p, in + off, n - off, out, CAP, &ev);
                cr_assert_gt(rc, 0);
                cr_assert(memcmp(ev.payload, plain + got, ev.len) == 0);
                off += (size_t)rc, got += ev.len;
            }
            cr_expect(ev.kind == SOCKIT_WS_EV_DATA && ev.last && ev.compressed, "length %zu", len);
            cr_expect_eq(got, len);
        }
    }
}

/* ---------------------------------------------------------------- random streams */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Random valid text of at most CAP bytes: ASCII, two-, three- and four-byte characters. */
static size_t random_text(uint8_t *t, size_t cap)
{
    static const char *const chars[] = { "a",
                                         "Z",
                                         " ",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xed\x9f\xbf",
                                         "\xf0\x9f\x98\x80",
                                         "\xf4\x8f\xbf\xbf" };
    size_t n = 0;

    for (;;) {
        const char *c = chars[rnd(8)];
        if (n + strlen(c) > cap)
            return n;
        memcpy(t + n, c, strlen(c));
        n += strlen(c);
    }
}

static size_t random_bytes(uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)rnd(256);
    return len;
}

/* A log line as note() writes it. */
static void want_line(char *want, size_t *w, const char *tag, const void *bytes, size_t len)
{
    *w += (size_t)sprintf(want + *w, "%s%zu:", tag, len);
    memcpy(want + *w, bytes, len);
    *w += len;
    want[(*w)++] = '\n';
}

/* A ping or a pong with a random payload. */
static size_t random_control(uint8_t *in, bool masked, char *want, size_t *w)
{
    uint8_t pl[SOCKIT_WS_MAX_CONTROL];
    bool ping = rnd(2);
    size_t len = random_bytes(pl, rnd(SOCKIT_WS_MAX_CONTROL + 1));

    want_line(want, w, ping ? "ping:" : "pong:", pl, len);
    return frame(in, ping ? SOCKIT_WS_PING : SOCKIT_WS_PONG, true, false, pl, len, masked);
}

/* One message in random fragments, pings and pongs between them. */
static size_t random_message(uint8_t *in, bool masked, char *want, size_t *w)
{
    static uint8_t msg[1024];
    bool text = rnd(2), fin = false;
    size_t len = text ? random_text(msg, rnd(700)) : random_bytes(msg, rnd(700)), done = 0, n = 0;

    while (!fin) {
        size_t piece = rnd((uint32_t)(len - done + 1));
        int op = done || n ? SOCKIT_WS_CONT : text ? SOCKIT_WS_TEXT : SOCKIT_WS_BINARY;
        fin = done + piece == len && rnd(3) != 0;
        n += frame(in + n, op, fin, false, msg + done, piece, masked);
        done += piece;
        if (!fin && rnd(3) == 0)
            n += random_control(in + n, masked, want, w);
    }
    want_line(want, w, text ? "text:" : "binary:", msg, len);
    return n;
}

/* A random valid stream: messages and control frames, maybe a close at the end; what it
 * means, as the run's log, in WANT. */
static size_t random_stream(uint8_t *in, bool masked, char *want, size_t *w)
{
    static const uint16_t codes[] = { 1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999 };
    size_t n = 0;

    *w = 0;
    for (uint32_t m = rnd(6); m > 0; m--)
        n += rnd(4) ? random_message(in + n, masked, want, w)
                    : random_control(in + n, masked, want, w);
    if (rnd(2)) {
        uint8_t reason[SOCKIT_WS_MAX_CONTROL], pl[SOCKIT_WS_MAX_CONTROL];
        uint16_t code = codes[rnd(8)];
        size_t len = random_text(reason, SOCKIT_WS_MAX_CONTROL - 2);
        char tag[16];
        snprintf(tag, sizeof(tag), "close:%u:", code);
        want_line(want, w, tag, reason, len);
        len = sockit_ws_close_payload(pl, code, (const char *)reason, len);
        n += frame(in + n, SOCKIT_WS_CLOSE, true, false, pl, len, masked);
    }
    memcpy(want + *w, "ok\n", 4);
    *w += 3;
    return n;
}

Test(ws_frame, a_byte_at_a_time_equals_the_whole_over_random_streams)
{
    static uint8_t in[1 << 16];
    static char want[1 << 17];

    for (int i = 0; i < 400; i++) {
        bool masked = rnd(2);
        size_t w, n = random_stream(in, masked, want, &w);
        size_t step = 1 + rnd(40), cap = SOCKIT_WS_MAX_CONTROL + rnd(500);
        const struct sockit_ws_parser_options *o = masked ? &server : &client;
        size_t steps[] = { n ? n : 1, 1, step }, caps[] = { CAP, SOCKIT_WS_MAX_CONTROL, cap };
        for (int k = 0; k < 3; k++) {
            feed(&runs[0], o, in, n, steps[k], caps[k]);
            cr_assert(runs[0].log_len == w && memcmp(runs[0].log, want, w) == 0,
                      "stream %d, step %zu, cap %zu:\n%.*s\nwanted\n%.*s", i, steps[k], caps[k],
                      (int)runs[0].log_len, runs[0].log, (int)w, want);
        }
    }
}

/* ---------------------------------------------------------------- UTF-8 */

static const struct {
    const char *text;
    size_t len;
    long fails_at; /* the byte refused, or -1: valid; -2: valid so far but left open */
} utf8_cases[] = {
#define U(s, at)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1, at                                                                       \
    }
    U("", -1),
    U("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", -1),
    U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", -1), /* kosme, Autobahn 6.2 */
    U("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", -1),
    U("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", -1),
    U("\xc0\x80", 0),                 /* overlong NUL */
    U("\xc1\xbf", 0),                 /* overlong two-byte */
    U("\xe0\x80\x80", 1),             /* overlong three-byte */
    U("\xe0\x9f\xbf", 1),             /* overlong U+07FF */
    U("\xf0\x80\x80\x80", 1),         /* overlong four-byte */
    U("\xf0\x8f\xbf\xbf", 1),         /* overlong U+FFFF */
    U("\xed\xa0\x80", 1),             /* U+D800 */
    U("\xed\xbf\xbf", 1),             /* U+DFFF */
    U("\xed\xa0\x80\xed\xb0\x80", 1), /* a surrogate pair */
    U("\xf4\x90\x80\x80", 1),         /* U+110000 */
    U("\xf5\x80\x80\x80", 0),         /* no such lead byte */
    U("\xf8\x88\x80\x80\x80", 0),     /* five bytes */
    U("\xfe", 0),                     /* */
    U("\xff", 0),                     /* */
    U("\x80", 0),                     /* a lone continuation */
    U("a\xbf", 1),                    /* */
    U("\xc2\x41", 1),                 /* a lead without its continuation */
    U("\xe2\x82\x41", 2),             /* */
    U("\xf0\x9f\x98\xc3\xa9", 3),     /* a new lead inside a sequence */
    U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
      12), /* Autobahn 6.4.x: kosme, F4 90 at 11-12 */
    U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12),
    U("0123456789012345678901234567890123456\x80", 37), /* after ASCII words */
    U("\xe2\x82", -2),                                  /* open */
    U("\xf0\x9f\x98", -2),                              /* */
    U("0123456789abcdef\xc3", -2),                      /* */
#undef U
};

Test(ws_utf8, a_table_whole_and_a_byte_at_a_time)
{
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        const uint8_t *t = (const uint8_t *)utf8_cases[i].text;
        size_t len = utf8_cases[i].len;
        long at = utf8_cases[i].fails_at, failed = -1;
        uint32_t whole = SOCKIT_WS_UTF8_ACCEPT, step = SOCKIT_WS_UTF8_ACCEPT;
        int rc = sockit_ws_utf8(&whole, t, len);

        cr_expect_eq(rc, at >= 0 ? -SOCKIT_EWS_UTF8 : 0, "case %zu whole", i);
        for (size_t k = 0; k < len && failed < 0; k++)
            if (sockit_ws_utf8(&step, t + k, 1))
                failed = (long)k;
        cr_expect_eq(failed, at >= 0 ? at : -1, "case %zu fails at byte %ld, not %ld", i, failed,
                     at);
        if (at < 0)
            cr_expect_eq(whole == SOCKIT_WS_UTF8_ACCEPT, at == -1, "case %zu state", i);
        if (at >= 0)
            cr_expect_eq(sockit_ws_utf8(&whole, (const uint8_t *)"a", 1), -SOCKIT_EWS_UTF8,
                         "case %zu: refused stays refused", i);
    }
}

Test(ws_utf8, every_code_point_encoded_is_valid_and_every_surrogate_not)
{
    for (uint32_t c = 0; c <= 0x10ffff; c++) {
        uint8_t b[4];
        size_t n;
        uint32_t s = SOCKIT_WS_UTF8_ACCEPT;
        if (c < 0x80)
            b[0] = (uint8_t)c, n = 1;
        else if (c < 0x800)
            b[0] = (uint8_t)(0xc0 | c >> 6), b[1] = (uint8_t)(0x80 | (c & 0x3f)), n = 2;
        else if (c < 0x10000)
            b[0] = (uint8_t)(0xe0 | c >> 12), b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f)),
            b[2] = (uint8_t)(0x80 | (c & 0x3f)), n = 3;
        else
            b[0] = (uint8_t)(0xf0 | c >> 18), b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f)),
            b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f)), b[3] = (uint8_t)(0x80 | (c & 0x3f)), n = 4;
        bool surrogate = c >= 0xd800 && c <= 0xdfff;
        int rc = sockit_ws_utf8(&s, b, n);
        if ((rc == 0 && s == SOCKIT_WS_UTF8_ACCEPT) == surrogate)
            cr_assert_fail("U+%04X: %s", c, surrogate ? "accepted" : "refused");
    }
}

/* ---------------------------------------------------------------- close payloads */

Test(ws_close, valid_codes)
{
    for (unsigned c = 0; c < 70000; c++) {
        bool want =
            (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        if (sockit_ws_close_code_valid(c) != want)
            cr_assert_fail("code %u", c);
    }
}

Test(ws_close, the_reason_is_cut_at_a_utf8_boundary)
{
    uint8_t out[SOCKIT_WS_MAX_CONTROL];
    char reason[300];

    cr_expect_eq(sockit_ws_close_payload(out, 1000, NULL, 0), 2);
    cr_expect(out[0] == 0x03 && out[1] == 0xe8, "the code, big-endian");
    cr_expect_eq(sockit_ws_close_payload(out, 4000, "bye", 3), 5);
    cr_expect(out[0] == 0x0f && out[1] == 0xa0 && memcmp(out + 2, "bye", 3) == 0);
    memset(reason, 'a', sizeof(reason));
    cr_expect_eq(sockit_ws_close_payload(out, 1001, reason, sizeof(reason)), 125);
    memcpy(reason + 121, "\xc3\xa9", 2); /* é ends at byte 123: fits */
    cr_expect_eq(sockit_ws_close_payload(out, 1001, reason, 123), 125);
    memcpy(reason + 121, "a\xc3\xa9", 3); /* é would end at byte 124: cut before it */
    cr_expect_eq(sockit_ws_close_payload(out, 1001, reason, 124), 124);
    memcpy(reason + 120, "\xf0\x9f\x98\x80", 4); /* a four-byte character across 123 */
    cr_expect_eq(sockit_ws_close_payload(out, 1001, reason, 200), 122);
    cr_expect_eq(sockit_ws_close_payload(out, 1001, "ok\xff!", 4), 4, "cut before bad bytes");
    cr_expect_eq(sockit_ws_close_payload(out, 1001, "ok\xe2\x82", 4), 4, "and an open one");
}

Test(ws_mask, is_its_own_inverse_from_any_offset)
{
    uint8_t data[100], copy[100];
    const uint8_t k[4] = { 1, 2, 4, 8 };

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = copy[i] = (uint8_t)i;
    for (uint64_t off = 0; off < 9; off++) {
        sockit_ws_mask(data + 3, 90, k, off);
        for (size_t i = 0; i < 90; i++)
            cr_assert_eq(data[3 + i], copy[3 + i] ^ k[(off + i) % 4], "offset %lu byte %zu",
                         (unsigned long)off, i);
        sockit_ws_mask(data + 3, 90, k, off);
        cr_assert(memcmp(data, copy, sizeof(data)) == 0);
    }
}
