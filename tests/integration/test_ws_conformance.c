/* RFC 6455 conformance of sockit echo ws://, case group by case group after the server section
 * of the Autobahn|Testsuite (our own cases, not its code): 1 framing, 2 pings and pongs,
 * 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 the close handshake, 9 limits.
 * Every case asserts the exact echo or the exact close code, and that the server then ends the
 * TCP connection; a failure names its group and case. Frames go over a raw socket
 * (../support/ws_client.h), in one write, a frame per write or a byte per write. */
#include <criterion/criterion.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/ws_client.h"

#define MIB           (1u << 20)
#define MAX_MESSAGE   (16 * MIB) /* the echo's limit: the library's default */
#define KOSME         "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" /* "κόσμε" (Kuhn's 1) */
#define NO_CLOSE      (-1) /* a case after which the connection stays open */
#define EMPTY_CLOSE   0    /* a close frame without payload */
#define CLOSE_PAYLOAD 125
#define D10           "0123456789"
#define D120          D10 D10 D10 D10 D10 D10 D10 D10 D10 D10 D10 D10

static struct proc *server;
static char url[64], ep[64];

static void start_echo(void)
{
    server = wsc_start_echo(url, ep, NULL);
}

static void stop_echo(void)
{
    wsc_stop_echo(server);
    server = NULL;
}

TestSuite(ws_conformance, .init = start_echo, .fini = stop_echo, .timeout = 60);

/* ---- what a case is --------------------------------------------------------------------- */

/* One frame: its first byte (FIN, RSV bits, opcode) and payload. DATA NULL ends a list. */
struct frame {
    uint8_t b0;
    const char *data;
    size_t len;
};

#define F(b0, s)                                                                                   \
    {                                                                                              \
        (b0), (s), sizeof(s) - 1                                                                   \
    } /* sizeof: a payload may hold NUL bytes */

enum {
    TEXT = WSC_FIN | WSC_TEXT,
    BINARY = WSC_FIN | WSC_BINARY,
    PING = WSC_FIN | WSC_PING,
    PONG = WSC_FIN | WSC_PONG,
    CLOSE = WSC_FIN | WSC_CLOSE,
    TEXT_MORE = WSC_TEXT, /* the first frame of a fragmented text message */
    BINARY_MORE = WSC_BINARY,
    CONT_MORE = WSC_CONT,
    CONT_LAST = WSC_FIN | WSC_CONT,
};

/* A case: frames sent; frames expected back, in order; then the close code expected
 * (EMPTY_CLOSE for one without payload), or NO_CLOSE: the connection stays open and the test
 * closes it with 1000. */
struct ws_case {
    const char *name;
    struct frame send[10];
    struct frame expect[6];
    int close;
};

/* How a case's bytes are written. */
enum mode { ONE_WRITE, FRAME_PER_WRITE, BYTE_PER_WRITE };

static const char *const mode_name[] = { "in one write", "a frame per write", "a byte per write" };

/* ---- helpers ---------------------------------------------------------------------------- */

static void nodelay(int fd)
{
    int one = 1;
    cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
}

/* Write LEN bytes in pieces of CHUNK, each its own send (TCP_NODELAY is on), pausing PAUSE_US
 * after each. Stops at the first failed write (the server may have closed: the case's
 * expectations judge that); returns whether all went. */
static bool write_in_pieces(int fd, const uint8_t *b, size_t len, size_t chunk, int pause_us)
{
    for (size_t at = 0; at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;
        if (h_write_all(fd, b + at, n) != 0)
            return false;
        if (pause_us)
            usleep((useconds_t)pause_us);
    }
    return true;
}

/* The next server frame must be one with first byte B0 and payload DATA[0, LEN). */
static void expect_frame(int fd, uint8_t b0, const void *data, size_t len, const char *what)
{
    struct wsc_msg m;
    int rc = wsc_read(fd, 5000, &m);

    cr_assert_eq(rc, 0, "%s: no frame 0x%02x of %zu bytes came (%d)", what, b0, len, rc);
    uint8_t got = m.b0;
    size_t n = m.len;
    bool same = n == len && (len == 0 || memcmp(m.data, data, len) == 0);
    wsc_msg_free(&m);
    cr_assert_eq(got, b0, "%s: frame 0x%02x (%zu bytes) where 0x%02x was due", what, got, n, b0);
    cr_assert(same, "%s: a payload of %zu bytes where %zu other bytes were due", what, n, len);
}

/* The next server frame must be a close with CODE (EMPTY_CLOSE: no payload), after which the
 * server ends the connection. Closes FD. */
static void expect_close(int fd, int code, const char *what)
{
    struct wsc_msg m;
    int rc = wsc_read(fd, 5000, &m);

    cr_assert_eq(rc, 0, "%s: no close %d came (%d)", what, code, rc);
    uint8_t b0 = m.b0;
    size_t n = m.len;
    int got = n >= 2 ? m.data[0] << 8 | m.data[1] : n == 0 ? EMPTY_CLOSE : -1;
    wsc_msg_free(&m);
    cr_assert_eq(b0, CLOSE, "%s: frame 0x%02x (%zu bytes) where close %d was due", what, b0, n,
                 code);
    cr_assert(n <= CLOSE_PAYLOAD, "%s: a close payload of %zu bytes", what, n);
    cr_assert_eq(got, code, "%s: close code %d where %d was due", what, got, code);
    cr_assert(wsc_ended(fd, 3000), "%s: the server did not end the connection after its close",
              what);
    close(fd);
}

/* A close payload: CODE (big-endian) and REASON. */
static size_t close_payload(uint8_t *out, unsigned code, const void *reason, size_t len)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    memcpy(out + 2, reason, len);
    return 2 + len;
}

/* Close normally: a close 1000 answered with 1000, then the end. */
static void close_normally(int fd, const char *what)
{
    uint8_t p[2];

    wsc_send(fd, CLOSE, p, close_payload(p, 1000, "", 0));
    expect_close(fd, 1000, what);
}

/* Run case C on a new connection, its bytes written as MODE says. */
static void run_case(const char *group, const struct ws_case *c, enum mode mode)
{
    static uint8_t buf[16384];
    size_t len = 0, ends[10], n = 0;
    char what[256];

    snprintf(what, sizeof(what), "%s '%s' (%s)", group, c->name, mode_name[mode]);
    for (const struct frame *f = c->send; f->data; f++) {
        cr_assert(len + f->len + WSC_MAX_HEADER <= sizeof(buf), "%s: too big for the test", what);
        len += wsc_frame(buf + len, f->b0, f->data, f->len);
        ends[n++] = len;
    }
    int fd = wsc_upgraded(ep);
    nodelay(fd);
    if (mode == ONE_WRITE)
        write_in_pieces(fd, buf, len, len, 0);
    else if (mode == BYTE_PER_WRITE)
        write_in_pieces(fd, buf, len, 1, 0);
    else /* each frame in its own write, 2 ms apart */
        for (size_t i = 0; i < n; i++)
            if (!write_in_pieces(fd, buf + (i ? ends[i - 1] : 0), ends[i] - (i ? ends[i - 1] : 0),
                                 len, 2000))
                break;
    for (const struct frame *f = c->expect; f->data; f++)
        expect_frame(fd, f->b0, f->data, f->len, what);
    if (c->close == NO_CLOSE)
        close_normally(fd, what);
    else
        expect_close(fd, c->close, what);
}

static void run_cases(const char *group, const struct ws_case *cases, size_t n, bool all_modes)
{
    for (size_t i = 0; i < n; i++)
        for (int m = ONE_WRITE; m <= (all_modes ? BYTE_PER_WRITE : ONE_WRITE); m++)
            run_case(group, &cases[i], (enum mode)m);
}

#define RUN_CASES(group, cases, all_modes)                                                         \
    run_cases(group, cases, sizeof(cases) / sizeof(cases[0]), all_modes)

/* LEN bytes of text (ASCII, varied) or of binary (any byte) for a message. */
static uint8_t *payload(size_t len, bool text, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);

    cr_assert_not_null(p);
    h_fill(p, len, seed);
    for (size_t i = 0; text && i < len; i++)
        p[i] = (uint8_t)(' ' + p[i] % 95);
    return p;
}

/* ---- 1 framing ---------------------------------------------------------------------------- */

static const size_t lengths[] = { 0, 125, 126, 127, 128, 65535, 65536 };

Test(ws_conformance, g1_text_and_binary_at_every_length_boundary)
{
    for (int text = 1; text >= 0; text--) {
        int fd = wsc_upgraded(ep);
        char what[96];
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
            uint8_t *p = payload(lengths[i], text, (unsigned)i);
            snprintf(what, sizeof(what), "1: %s of %zu bytes", text ? "text" : "binary",
                     lengths[i]);
            wsc_send(fd, text ? TEXT : BINARY, p, lengths[i]);
            expect_frame(fd, text ? TEXT : BINARY, p, lengths[i], what);
            free(p);
        }
        close_normally(fd, what);
    }
}

/* 64 KiB in 7-byte writes, then a byte per write: the header and the payload split anywhere. */
Test(ws_conformance, g1_64_kib_in_small_chunks_and_a_byte_at_a_time)
{
    static const size_t chunks[] = { 7, 1 };
    size_t len = 65536;
    uint8_t *p = payload(len, false, 7), *f = malloc(len + WSC_MAX_HEADER);

    cr_assert_not_null(f);
    size_t n = wsc_frame(f, BINARY, p, len);
    for (size_t i = 0; i < 2; i++) {
        char what[64];
        snprintf(what, sizeof(what), "1: 64 KiB in writes of %zu bytes", chunks[i]);
        int fd = wsc_upgraded(ep);
        nodelay(fd);
        cr_assert(write_in_pieces(fd, f, n, chunks[i], 0), "%s: a write failed", what);
        expect_frame(fd, BINARY, p, len, what);
        close_normally(fd, what);
    }
    free(f);
    free(p);
}

/* Each header byte its own segment, 1 ms apart: 7-bit, 16-bit and 64-bit lengths. */
Test(ws_conformance, g1_headers_arriving_a_byte_at_a_time)
{
    int fd = wsc_upgraded(ep);
    char what[64];

    nodelay(fd);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        uint8_t *p = payload(lengths[i], true, 100 + (unsigned)i);
        uint8_t *f = malloc(lengths[i] + WSC_MAX_HEADER);
        cr_assert_not_null(f);
        size_t n = wsc_frame(f, TEXT, p, lengths[i]), head = n - lengths[i];
        snprintf(what, sizeof(what), "1: a %zu-byte header, a byte a time", head);
        cr_assert(write_in_pieces(fd, f, head, 1, 1000), "%s", what);
        cr_assert(write_in_pieces(fd, f + head, n - head, n, 0), "%s", what);
        expect_frame(fd, TEXT, p, lengths[i], what);
        free(f);
        free(p);
    }
    close_normally(fd, what);
}

/* A client may send its first frame right behind its upgrade request. */
Test(ws_conformance, g1_a_frame_in_the_same_write_as_the_upgrade)
{
    char req[512];
    uint8_t f[64];
    int fd = h_connect(ep);
    int n = snprintf(req, sizeof(req),
                     "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WSC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    size_t fl = wsc_frame(f, TEXT, "right behind", 12);

    cr_assert_geq(fd, 0);
    memcpy(req + n, f, fl);
    cr_assert_eq(h_write_all(fd, req, (size_t)n + fl), 0);
    char head[1024];
    wsc_read_head(fd, head, sizeof(head));
    cr_assert(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    expect_frame(fd, TEXT, "right behind", 12, "1: a frame behind the upgrade");
    close_normally(fd, "1: a frame behind the upgrade");
}

/* Lengths must be in their shortest form; the top bit of a 64-bit length must be clear. */
Test(ws_conformance, g1_lengths_not_in_their_shortest_form_are_1002)
{
    static const struct {
        const char *name;
        uint8_t head[10];
        size_t len;
    } cases[] = {
        { "5 in a 16-bit length", { 0x82, 0xFE, 0, 5 }, 4 },
        { "125 in a 16-bit length", { 0x82, 0xFE, 0, 125 }, 4 },
        { "5 in a 64-bit length", { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5 }, 10 },
        { "65535 in a 64-bit length", { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF }, 10 },
        { "2^63 in a 64-bit length", { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 10 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t f[32] = { 0 };
        memcpy(f, cases[i].head, cases[i].len);
        f[1] |= 0x80; /* masked, key 0, then 5 payload bytes */
        int fd = wsc_upgraded(ep);
        cr_assert_eq(h_write_all(fd, f, cases[i].len + 4 + 5), 0);
        char what[96];
        snprintf(what, sizeof(what), "1: %s", cases[i].name);
        expect_close(fd, 1002, what);
    }
}

Test(ws_conformance, g1_an_unmasked_frame_is_1002)
{
    static const uint8_t unmasked[] = { 0x81, 0x05, 'h', 'e', 'l', 'l', 'o' };
    int fd = wsc_upgraded(ep);

    cr_assert_eq(h_write_all(fd, unmasked, sizeof(unmasked)), 0);
    expect_close(fd, 1002, "1: an unmasked text frame");
}

/* ---- 2 pings and pongs -------------------------------------------------------------------- */

Test(ws_conformance, g2_pings_get_pongs_with_their_payload)
{
    static const char bin[] = "\x00\xff\xfe\xfd\xfc\xfb\x00\xff";
    uint8_t p125[125];
    int fd = wsc_upgraded(ep);

    h_fill(p125, sizeof(p125), 125);
    const struct frame pings[] = {
        F(PING, ""),
        F(PING, "Hello, world!"),
        { PING, bin, sizeof(bin) - 1 },
        { PING, (const char *)p125, sizeof(p125) },
    };
    for (size_t i = 0; i < sizeof(pings) / sizeof(pings[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "2: a ping of %zu bytes", pings[i].len);
        wsc_send(fd, PING, pings[i].data, pings[i].len);
        expect_frame(fd, PONG, pings[i].data, pings[i].len, what);
    }
    close_normally(fd, "2: pings");
}

Test(ws_conformance, g2_ten_pings_in_a_row_are_answered_in_order)
{
    uint8_t all[10 * 32];
    size_t n = 0;
    int fd = wsc_upgraded(ep);

    for (int i = 0; i < 10; i++) {
        char p[16];
        n += wsc_frame(all + n, PING, p, (size_t)snprintf(p, sizeof(p), "ping %d", i));
    }
    cr_assert_eq(h_write_all(fd, all, n), 0);
    for (int i = 0; i < 10; i++) {
        char p[16], what[32];
        snprintf(what, sizeof(what), "2: pong %d of 10", i);
        expect_frame(fd, PONG, p, (size_t)snprintf(p, sizeof(p), "ping %d", i), what);
    }
    close_normally(fd, "2: ten pings");
}

/* The ping's bytes one per segment, 2 ms apart: the server waits for the whole frame. */
Test(ws_conformance, g2_a_ping_split_across_tcp_writes)
{
    uint8_t f[64];
    size_t n = wsc_frame(f, PING, "split ping payload", 18);
    int fd = wsc_upgraded(ep);

    nodelay(fd);
    cr_assert(write_in_pieces(fd, f, n, 1, 2000));
    expect_frame(fd, PONG, "split ping payload", 18, "2: a ping a byte per write");
    close_normally(fd, "2: a ping a byte per write");
}

static const struct ws_case ping_cases[] = {
    { "an unsolicited pong is ignored",
      { F(PONG, "unsolicited"), F(PONG, ""), F(TEXT, "after the pongs") },
      { F(TEXT, "after the pongs") },
      NO_CLOSE },
    { "a ping between messages",
      { F(TEXT, "one"), F(PING, "p"), F(BINARY, "two") },
      { F(TEXT, "one"), F(PONG, "p"), F(BINARY, "two") },
      NO_CLOSE },
    { "a ping of 126 bytes (16-bit length)", { F(PING, D120 "012345") }, { { 0 } }, 1002 },
    { "a 126-byte ping after a message",
      { F(TEXT, "first"), F(PING, D120 "012345") },
      { F(TEXT, "first") },
      1002 },
};

Test(ws_conformance, g2_pong_and_ping_cases)
{
    RUN_CASES("2", ping_cases, true);
}

/* ---- 3 reserved bits ---------------------------------------------------------------------- */

/* A valid message, then the frame with reserved bits, then frames the server must not answer:
 * the first is echoed, then close 1002. */
#define AROUND(name, bad)                                                                          \
    {                                                                                              \
        name, { F(TEXT, "before"), bad, F(TEXT, "after"), F(PING, "unanswered") },                 \
            { F(TEXT, "before") }, 1002                                                            \
    }

static const struct ws_case rsv_cases[] = {
    AROUND("RSV1 on text", F(TEXT | 0x40, "x")),
    AROUND("RSV2 on text", F(TEXT | 0x20, "x")),
    AROUND("RSV3 on text", F(TEXT | 0x10, "x")),
    AROUND("RSV1+3 on binary", F(BINARY | 0x50, "\x00\xff")),
    AROUND("RSV1 on binary", F(BINARY | 0x40, "\x00\xff")),
    AROUND("RSV2 on binary", F(BINARY | 0x20, "\x00\xff")),
    AROUND("RSV3 on binary", F(BINARY | 0x10, "\x00\xff")),
    AROUND("RSV1 on ping", F(PING | 0x40, "p")),
    AROUND("RSV2 on ping", F(PING | 0x20, "p")),
    AROUND("RSV3 on ping", F(PING | 0x10, "p")),
    AROUND("RSV2+3 on ping", F(PING | 0x30, "p")),
    AROUND("RSV1+2+3 on close", F(CLOSE | 0x70, "\x03\xe8")),
    AROUND("RSV1 on a pong", F(PONG | 0x40, "")),
    AROUND("RSV2 on an empty text", F(TEXT | 0x20, "")),
    { "RSV1 on a continuation",
      { F(TEXT_MORE, "frag"), F(CONT_LAST | 0x40, "ment"), F(TEXT, "after") },
      { { 0 } },
      1002 },
};

Test(ws_conformance, g3_reserved_bits_are_1002_after_the_valid_message_before_them)
{
    RUN_CASES("3", rsv_cases, true);
}

/* ---- 4 opcodes ---------------------------------------------------------------------------- */

Test(ws_conformance, g4_reserved_opcodes_are_1002_after_the_valid_message_before_them)
{
    static const uint8_t ops[] = { 3, 4, 5, 6, 7, 11, 12, 13, 14, 15 };

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        for (int with_payload = 0; with_payload < 2; with_payload++) {
            char name[64];
            snprintf(name, sizeof(name), "opcode %u, %s", ops[i],
                     with_payload ? "with payload" : "empty");
            struct ws_case c = AROUND(name, F(WSC_FIN | ops[i], "reserved"));
            if (!with_payload)
                c.send[1].len = 0;
            run_case("4", &c, with_payload ? FRAME_PER_WRITE : ONE_WRITE);
        }
    }
}

/* ---- 5 fragmentation ---------------------------------------------------------------------- */

static const struct ws_case fragment_cases[] = {
    { "text in two fragments",
      { F(TEXT_MORE, "fragment1"), F(CONT_LAST, "fragment2") },
      { F(TEXT, "fragment1fragment2") },
      NO_CLOSE },
    { "text in five fragments",
      { F(TEXT_MORE, "a"), F(CONT_MORE, "bc"), F(CONT_MORE, "def"), F(CONT_MORE, "ghij"),
        F(CONT_LAST, "klmno") },
      { F(TEXT, "abcdefghijklmno") },
      NO_CLOSE },
    { "binary in two fragments",
      { F(BINARY_MORE, "\x00\x01\x02"), F(CONT_LAST, "\xfd\xfe\xff") },
      { F(BINARY, "\x00\x01\x02\xfd\xfe\xff") },
      NO_CLOSE },
    { "empty fragments around one",
      { F(TEXT_MORE, ""), F(CONT_MORE, "middle"), F(CONT_LAST, "") },
      { F(TEXT, "middle") },
      NO_CLOSE },
    { "only empty fragments",
      { F(TEXT_MORE, ""), F(CONT_MORE, ""), F(CONT_LAST, "") },
      { F(TEXT, "") },
      NO_CLOSE },
    { "fragments of one byte",
      { F(TEXT_MORE, "o"), F(CONT_MORE, "n"), F(CONT_MORE, "e"), F(CONT_MORE, " "),
        F(CONT_MORE, "b"), F(CONT_MORE, "y"), F(CONT_MORE, "t"), F(CONT_LAST, "e") },
      { F(TEXT, "one byte") },
      NO_CLOSE },
    { "a ping between fragments is answered before the echo",
      { F(TEXT_MORE, "frag"), F(PING, "in between"), F(CONT_LAST, "ment") },
      { F(PONG, "in between"), F(TEXT, "fragment") },
      NO_CLOSE },
    { "pings and pongs between every fragment",
      { F(BINARY_MORE, "1"), F(PING, "a"), F(CONT_MORE, "2"), F(PONG, "b"), F(PING, "c"),
        F(CONT_MORE, "3"), F(PING, ""), F(CONT_LAST, "4") },
      { F(PONG, "a"), F(PONG, "c"), F(PONG, ""), F(BINARY, "1234") },
      NO_CLOSE },
    { "messages after a fragmented one",
      { F(TEXT_MORE, "first"), F(CONT_LAST, " message"), F(TEXT, "second"), F(BINARY, "third") },
      { F(TEXT, "first message"), F(TEXT, "second"), F(BINARY, "third") },
      NO_CLOSE },
    /* protocol errors */
    { "a final continuation with no message",
      { F(TEXT, "before"), F(CONT_LAST, "orphan"), F(TEXT, "after") },
      { F(TEXT, "before") },
      1002 },
    { "a continuation with no message, more to come",
      { F(TEXT, "before"), F(CONT_MORE, "orphan"), F(CONT_LAST, "s"), F(TEXT, "after") },
      { F(TEXT, "before") },
      1002 },
    { "a continuation after a finished fragmented message",
      { F(TEXT_MORE, "a"), F(CONT_LAST, "b"), F(CONT_LAST, "c") },
      { F(TEXT, "ab") },
      1002 },
    { "a text frame inside a fragmented message",
      { F(TEXT_MORE, "frag"), F(TEXT, "intruder"), F(CONT_LAST, "ment") },
      { { 0 } },
      1002 },
    { "a first fragment inside a fragmented message",
      { F(BINARY_MORE, "frag"), F(TEXT_MORE, "intruder"), F(CONT_LAST, "ment") },
      { { 0 } },
      1002 },
    { "a fragmented ping",
      { F(TEXT, "before"), F(WSC_PING, "frag"), F(CONT_LAST, "ment") },
      { F(TEXT, "before") },
      1002 },
    { "a fragmented pong",
      { F(TEXT, "before"), F(WSC_PONG, "frag"), F(CONT_LAST, "ment") },
      { F(TEXT, "before") },
      1002 },
    { "a fragmented close",
      { F(TEXT, "before"), F(WSC_CLOSE, "\x03\xe8"), F(CONT_LAST, "") },
      { F(TEXT, "before") },
      1002 },
};

Test(ws_conformance, g5_fragmentation)
{
    RUN_CASES("5", fragment_cases, true);
}

/* ---- 6 UTF-8 ------------------------------------------------------------------------------ */

struct text {
    const char *name;
    const char *bytes;
    size_t len;
};

#define T(name, s)                                                                                 \
    {                                                                                              \
        name, s, sizeof(s) - 1                                                                     \
    }

static const struct text valid_texts[] = {
    T("Kuhn 1: kosme", KOSME),
    T("Latin, German, French", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1"
                               "-UTF-8!!"),
    T("an emoji", "party \xf0\x9f\x8e\x89 time"),
    T("Kuhn 2.1: first of each length", "\x00"
                                        "|\xc2\x80|\xe0\xa0\x80|\xf0\x90\x80\x80"),
    T("Kuhn 2.2: last of each length", "\x7f|\xdf\xbf|\xef\xbf\xbf|\xf4\x8f\xbf\xbf"),
    T("Kuhn 2.3: other boundaries", "\xed\x9f\xbf|\xee\x80\x80|\xef\xbf\xbd|\xf4\x8f\xbf\xbf"),
    T("Kuhn 5.3: noncharacters U+FFFE, U+FFFF", "\xef\xbf\xbe\xef\xbf\xbf"),
};

/* Valid text echoed whole: in one frame, a byte per fragment, and split in two fragments at
 * every byte (a character split between fragments). */
Test(ws_conformance, g6_valid_utf8_is_echoed_however_it_is_fragmented)
{
    int fd = wsc_upgraded(ep);
    char what[128];

    nodelay(fd);
    for (size_t i = 0; i < sizeof(valid_texts) / sizeof(valid_texts[0]); i++) {
        const struct text *t = &valid_texts[i];
        snprintf(what, sizeof(what), "6: '%s' in one frame", t->name);
        wsc_send(fd, TEXT, t->bytes, t->len);
        expect_frame(fd, TEXT, t->bytes, t->len, what);
        for (size_t k = 0; k < t->len; k++)
            wsc_send(fd, (k ? WSC_CONT : WSC_TEXT) | (k + 1 == t->len ? WSC_FIN : 0), t->bytes + k,
                     1);
        snprintf(what, sizeof(what), "6: '%s' a byte per fragment", t->name);
        expect_frame(fd, TEXT, t->bytes, t->len, what);
        for (size_t cut = 0; cut <= t->len; cut++) {
            wsc_send(fd, TEXT_MORE, t->bytes, cut);
            wsc_send(fd, CONT_LAST, t->bytes + cut, t->len - cut);
            snprintf(what, sizeof(what), "6: '%s' split at byte %zu", t->name, cut);
            expect_frame(fd, TEXT, t->bytes, t->len, what);
        }
    }
    close_normally(fd, what);
}

static const struct text invalid_texts[] = {
    T("3.1 a lone first continuation byte", "\x80"),
    T("3.1 a lone last continuation byte", "\xbf"),
    T("3.1 two continuation bytes", "\x80\xbf"),
    T("3.1 seven continuation bytes", "\x80\xbf\x80\xbf\x80\xbf\x80"),
    T("3.2 a lonely 2-byte start, then a space", "\xc0 "),
    T("3.2 a lonely 2-byte start C2, then a space", "\xc2 "),
    T("3.2 a lonely 3-byte start, then a space", "\xe0 "),
    T("3.2 a lonely 4-byte start, then a space", "\xf0 "),
    T("3.2 a lonely 5-byte start, then a space", "\xf8 "),
    T("3.2 a lonely 6-byte start, then a space", "\xfc "),
    T("3.3 a 2-byte sequence cut at the end", "\xc2"),
    T("3.3 a 3-byte sequence cut at the end", "\xe0\xa0"),
    T("3.3 a 4-byte sequence cut at the end", "\xf0\x90\x80"),
    T("3.3 U+07FF cut at the end", "\xdf"),
    T("3.3 U+FFFF cut at the end", "\xef\xbf"),
    T("3.3 U+10FFFF cut at the end", "\xf4\x8f\xbf"),
    T("3.4 cut sequences one after another", "\xc2\xe0\xa0\xf0\x90\x80"),
    T("3.5 the impossible byte FE", "\xfe"),
    T("3.5 the impossible byte FF", "\xff"),
    T("3.5 FE FE FF FF", "\xfe\xfe\xff\xff"),
    T("4.1 an overlong '/' in 2 bytes", "\xc0\xaf"),
    T("4.1 an overlong '/' in 3 bytes", "\xe0\x80\xaf"),
    T("4.1 an overlong '/' in 4 bytes", "\xf0\x80\x80\xaf"),
    T("4.1 an overlong '/' in 5 bytes", "\xf8\x80\x80\x80\xaf"),
    T("4.1 an overlong '/' in 6 bytes", "\xfc\x80\x80\x80\x80\xaf"),
    T("4.2 the largest overlong in 2 bytes", "\xc1\xbf"),
    T("4.2 the largest overlong in 3 bytes", "\xe0\x9f\xbf"),
    T("4.2 the largest overlong in 4 bytes", "\xf0\x8f\xbf\xbf"),
    T("4.3 an overlong NUL in 2 bytes", "\xc0\x80"),
    T("4.3 an overlong NUL in 3 bytes", "\xe0\x80\x80"),
    T("4.3 an overlong NUL in 4 bytes", "\xf0\x80\x80\x80"),
    T("5.1 the surrogate U+D800", "\xed\xa0\x80"),
    T("5.1 the surrogate U+DB7F", "\xed\xad\xbf"),
    T("5.1 the surrogate U+DB80", "\xed\xae\x80"),
    T("5.1 the surrogate U+DBFF", "\xed\xaf\xbf"),
    T("5.1 the surrogate U+DC00", "\xed\xb0\x80"),
    T("5.1 the surrogate U+DF80", "\xed\xbe\x80"),
    T("5.1 the surrogate U+DFFF", "\xed\xbf\xbf"),
    T("5.2 the pair U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80"),
    T("5.2 the pair U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf"),
    T("U+110000", "\xf4\x90\x80\x80"),
    T("U+13FFFF", "\xf4\xbf\xbf\xbf"),
    T("U+140000 (lead F5)", "\xf5\x80\x80\x80"),
    T("U+1FFFFF", "\xf7\xbf\xbf\xbf"),
    T("U+200000 in 5 bytes", "\xf8\x88\x80\x80\x80"),
    T("U+7FFFFFFF in 6 bytes", "\xfd\xbf\xbf\xbf\xbf\xbf"),
    T("a surrogate inside valid text", KOSME "\xed\xa0\x80"
                                             "edited"),
};

/* Each invalid sequence after valid text: in one frame, then a byte per fragment; 1007. */
Test(ws_conformance, g6_invalid_utf8_is_1007)
{
    for (size_t i = 0; i < sizeof(invalid_texts) / sizeof(invalid_texts[0]); i++) {
        const struct text *t = &invalid_texts[i];
        char msg[128], what[160];
        size_t len = sizeof(KOSME) - 1 + t->len;
        memcpy(msg, KOSME, sizeof(KOSME) - 1);
        memcpy(msg + sizeof(KOSME) - 1, t->bytes, t->len);

        int fd = wsc_upgraded(ep);
        snprintf(what, sizeof(what), "6: Kuhn %s, in one frame", t->name);
        wsc_send(fd, TEXT, msg, len);
        expect_close(fd, 1007, what);

        fd = wsc_upgraded(ep);
        nodelay(fd);
        snprintf(what, sizeof(what), "6: Kuhn %s, a byte per fragment", t->name);
        bool sent = true;
        for (size_t k = 0; k < len && sent; k++) {
            uint8_t f[16];
            size_t n =
                wsc_frame(f, (k ? WSC_CONT : WSC_TEXT) | (k + 1 == len ? WSC_FIN : 0), msg + k, 1);
            sent = h_write_all(fd, f, n) == 0;
        }
        expect_close(fd, 1007, what);
    }
}

Test(ws_conformance, g6_binary_messages_are_not_utf8_checked)
{
    int fd = wsc_upgraded(ep);

    wsc_send(fd, BINARY, "\xc0\xaf\xed\xa0\x80\xff", 6);
    expect_frame(fd, BINARY, "\xc0\xaf\xed\xa0\x80\xff", 6, "6: invalid UTF-8 as binary");
    close_normally(fd, "6: invalid UTF-8 as binary");
}

/* Fail fast: the close comes while the client still holds the rest of the message, which it
 * only tries to send afterwards (Autobahn 6.4.1-6.4.4). */
static void fail_fast(const char *what, const uint8_t *first, size_t first_len, const uint8_t *rest,
                      size_t rest_len)
{
    int fd = wsc_upgraded(ep);
    struct wsc_msg m;

    nodelay(fd);
    cr_assert_eq(h_write_all(fd, first, first_len), 0, "%s", what);
    int rc = wsc_read(fd, 2000, &m);
    cr_assert_eq(rc, 0, "%s: no frame while the rest is held (%d)", what, rc);
    int code = m.len >= 2 ? m.data[0] << 8 | m.data[1] : 0;
    uint8_t b0 = m.b0;
    wsc_msg_free(&m);
    cr_expect_eq(b0, CLOSE, "%s: frame 0x%02x, not a close", what, b0);
    cr_expect_eq(code, 1007, "%s: close code %d", what, code);
    write_in_pieces(fd, rest, rest_len, rest_len, 0); /* may fail: the server has closed */
    cr_expect(wsc_ended(fd, 3000), "%s: the server did not end the connection", what);
    close(fd);
}

Test(ws_conformance, g6_invalid_utf8_fails_fast)
{
    static const char part1[] = KOSME "\xf4\x90", part2[] = "\x80\x80", part3[] = "edited";
    uint8_t a[64], b[64];
    size_t an, bn;

    /* the invalid byte in the first fragment: the close before the next is sent */
    an = wsc_frame(a, TEXT_MORE, part1, sizeof(part1) - 1);
    bn = wsc_frame(b, CONT_MORE, part2, sizeof(part2) - 1);
    bn += wsc_frame(b + bn, CONT_LAST, part3, sizeof(part3) - 1);
    fail_fast("6: U+110000 begun in the first fragment", a, an, b, bn);

    /* the first fragment valid but open (F4), the second makes it invalid (90) */
    an = wsc_frame(a, TEXT_MORE, KOSME "\xf4", sizeof(KOSME));
    an += wsc_frame(a + an, CONT_MORE, "\x90", 1);
    bn = wsc_frame(b, CONT_LAST,
                   "\x80\x80"
                   "edited",
                   8);
    fail_fast("6: U+110000 across two fragments", a, an, b, bn);

    /* one frame: only the bytes up to the invalid one have come */
    static const char whole[] = KOSME "\xf4\x90\x80\x80"
                                      "edited";
    uint8_t f[64];
    size_t n = wsc_frame(f, TEXT, whole, sizeof(whole) - 1);
    size_t cut = n - (sizeof(whole) - 1) + sizeof(KOSME) - 1 + 2; /* header, kosme, F4 90 */
    fail_fast("6: U+110000 inside one frame not yet whole", f, cut, f + cut, n - cut);
}

/* ---- 7 close handling --------------------------------------------------------------------- */

static const struct ws_case close_cases[] = {
    { "close 1000 with a reason",
      { F(CLOSE, "\x03\xe8"
                 "bye bye") },
      { { 0 } },
      1000 },
    { "close without payload", { F(CLOSE, "") }, { { 0 } }, EMPTY_CLOSE },
    { "close with a 1-byte payload", { F(CLOSE, "\x03") }, { { 0 } }, 1002 },
    { "close with a reason of invalid UTF-8",
      { F(CLOSE, "\x03\xe8"
                 "bad \xed\xa0\x80") },
      { { 0 } },
      1007 },
    { "close with a reason cut inside a character",
      { F(CLOSE, "\x03\xe8" KOSME "\xce") },
      { { 0 } },
      1007 },
    { "close with a 123-byte reason", { F(CLOSE, "\x03\xe8" D120 "012") }, { { 0 } }, 1000 },
    { "close with a 124-byte reason (a 126-byte control frame)",
      { F(CLOSE, "\x03\xe8" D120 "0123") },
      { { 0 } },
      1002 },
    { "messages after the close are ignored",
      { F(TEXT, "before"), F(CLOSE, "\x03\xe8"), F(TEXT, "after"), F(PING, "after"),
        F(CLOSE, "\x03\xe8") },
      { F(TEXT, "before") },
      1000 },
    { "a close between fragments",
      { F(TEXT_MORE, "frag"), F(CLOSE, "\x0f\xa0") },
      { { 0 } },
      4000 },
    { "a close that is not final", { F(WSC_CLOSE, "\x03\xe8") }, { { 0 } }, 1002 },
};

Test(ws_conformance, g7_close_frames)
{
    RUN_CASES("7", close_cases, true);
}

/* Every code that may be sent is answered with itself (1012-1014 are IANA's: valid here). */
Test(ws_conformance, g7_valid_close_codes_are_echoed)
{
    static const unsigned codes[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                      1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        uint8_t p[16];
        char what[64];
        snprintf(what, sizeof(what), "7: close code %u", codes[i]);
        int fd = wsc_upgraded(ep);
        wsc_send(fd, CLOSE, p, close_payload(p, codes[i], "reason", 6));
        expect_close(fd, (int)codes[i], what);
    }
}

Test(ws_conformance, g7_invalid_close_codes_are_1002)
{
    static const unsigned codes[] = { 0,    999,  1004, 1005, 1006,  1015, 1016,
                                      1100, 2000, 2999, 5000, 65535, 1 };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        uint8_t p[16];
        char what[64];
        snprintf(what, sizeof(what), "7: close code %u", codes[i]);
        int fd = wsc_upgraded(ep);
        wsc_send(fd, CLOSE, p, close_payload(p, codes[i], "", 0));
        expect_close(fd, 1002, what);
    }
}

/* ---- 9 limits ----------------------------------------------------------------------------- */

/* A message of exactly the limit, in one write (and in two fragments), echoed byte for byte. */
Test(ws_conformance, g9_a_16_mib_message_is_echoed)
{
    uint8_t *p = payload(MAX_MESSAGE, false, 9), *f = malloc(MAX_MESSAGE + 2 * WSC_MAX_HEADER);
    struct wsc_msg m;

    cr_assert_not_null(f);
    for (int fragments = 1; fragments <= 2; fragments++) {
        size_t half = MAX_MESSAGE / 2, n;
        if (fragments == 1) {
            n = wsc_frame(f, BINARY, p, MAX_MESSAGE);
        } else {
            n = wsc_frame(f, BINARY_MORE, p, half);
            n += wsc_frame(f + n, CONT_LAST, p + half, MAX_MESSAGE - half);
        }
        int fd = wsc_upgraded(ep);
        cr_assert_eq(h_write_all(fd, f, n), 0, "9: writing 16 MiB in %d frames", fragments);
        int rc = wsc_read(fd, 10000, &m);
        cr_assert_eq(rc, 0, "9: no echo of 16 MiB in %d frames (%d)", fragments, rc);
        bool same = m.b0 == BINARY && m.len == MAX_MESSAGE && memcmp(m.data, p, m.len) == 0;
        size_t len = m.len;
        uint8_t b0 = m.b0;
        wsc_msg_free(&m);
        cr_assert(same, "9: 16 MiB in %d frames came back as frame 0x%02x of %zu bytes", fragments,
                  b0, len);
        close_normally(fd, "9: after 16 MiB");
    }
    free(f);
    free(p);
}

/* One byte over the limit: refused at the header that announces it, before its payload. */
Test(ws_conformance, g9_one_byte_over_16_mib_is_1009)
{
    size_t len = MAX_MESSAGE + 1;
    uint8_t *p = calloc(1, len), *f = malloc(len + 2 * WSC_MAX_HEADER);

    cr_assert(p && f);
    for (int fragments = 1; fragments <= 2; fragments++) {
        size_t n = 0;
        if (fragments == 2)
            n = wsc_frame(f, BINARY_MORE, "x", 1);
        size_t head = n;
        n += wsc_frame(f + n, fragments == 1 ? BINARY : CONT_LAST, p, len - (fragments - 1));
        int fd = wsc_upgraded(ep);
        h_write_all(fd, f, head + WSC_MAX_HEADER + 1024); /* the server may close meanwhile */
        char what[64];
        snprintf(what, sizeof(what), "9: 16 MiB + 1 in %d frames", fragments);
        expect_close(fd, 1009, what);
    }
    free(f);
    free(p);
}

Test(ws_conformance, g9_ten_thousand_one_byte_messages)
{
    enum { N = 10000 };
    static uint8_t all[N * 7];
    size_t n = 0;
    int fd = wsc_upgraded(ep);

    for (int i = 0; i < N; i++) {
        char c = (char)('a' + i % 26);
        n += wsc_frame(all + n, i % 2 ? BINARY : TEXT, &c, 1);
    }
    cr_assert_eq(h_write_all(fd, all, n), 0);
    for (int i = 0; i < N; i++) {
        char c = (char)('a' + i % 26), what[48];
        snprintf(what, sizeof(what), "9: message %d of %d", i, N);
        expect_frame(fd, i % 2 ? BINARY : TEXT, &c, 1, what);
    }
    close_normally(fd, "9: after 10,000 messages");
}
