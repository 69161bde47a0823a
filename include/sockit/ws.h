/* sockit/ws.h — WebSocket (RFC 6455) as parts of a sans-I/O engine: the opening handshake on
 * the HTTP parser (sockit/http.h), a streaming frame parser that enforces every framing rule,
 * a frame writer, close payloads, an incremental UTF-8 validator and permessage-deflate
 * (RFC 7692). No sockets, no clock, and no allocation but zlib's for a compression context:
 * everything works on the caller's bytes, so it is unit-tested and fuzzed on bytes alone
 * (fuzz/fuzz_ws.c, fuzz/fuzz_ws_handshake.c, fuzz/fuzz_ws_deflate.c). The engines that join
 * it to a stream (the echo server, the chat) are sockit/ws_server.h's.
 *
 * Every refusal is a -SOCKIT_EWS_* code (sockit/error.h): a handshake refusal maps to the HTTP
 * status to answer with (sockit_ws_error_status), a frame refusal to the close code to send
 * before closing (sockit_ws_error_close_code). */
#ifndef SOCKIT_WS_H
#define SOCKIT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/buf.h"
#include "sockit/http.h"

#define SOCKIT_WS_MAX_HEADER   14          /* 2 + 8 (64-bit length) + 4 (mask) */
#define SOCKIT_WS_MAX_CONTROL  125         /* a control frame's payload, at most */
#define SOCKIT_WS_KEY_LEN      24          /* Sec-WebSocket-Key: base64 of 16 bytes */
#define SOCKIT_WS_ACCEPT_LEN   28          /* Sec-WebSocket-Accept: base64 of a SHA-1 */
#define SOCKIT_WS_MAX_MESSAGE  (16u << 20) /* default message-size limit (close 1009) */
#define SOCKIT_WS_MAX_PROTOCOL 64          /* a subprotocol name, at most */

enum sockit_ws_opcode {
    SOCKIT_WS_CONT = 0x0,
    SOCKIT_WS_TEXT = 0x1,
    SOCKIT_WS_BINARY = 0x2,
    SOCKIT_WS_CLOSE = 0x8,
    SOCKIT_WS_PING = 0x9,
    SOCKIT_WS_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1, and the IANA registry). */
enum sockit_ws_close_code {
    SOCKIT_WS_CLOSE_NORMAL = 1000,
    SOCKIT_WS_CLOSE_GOING_AWAY = 1001,
    SOCKIT_WS_CLOSE_PROTOCOL = 1002,
    SOCKIT_WS_CLOSE_UNSUPPORTED = 1003,
    SOCKIT_WS_CLOSE_NO_STATUS = 1005, /* never sent: a close frame without a code */
    SOCKIT_WS_CLOSE_ABNORMAL = 1006,  /* never sent: the connection dropped without a close */
    SOCKIT_WS_CLOSE_INVALID_DATA = 1007,
    SOCKIT_WS_CLOSE_POLICY = 1008,
    SOCKIT_WS_CLOSE_TOO_BIG = 1009,
    SOCKIT_WS_CLOSE_EXTENSION = 1010,
    SOCKIT_WS_CLOSE_INTERNAL = 1011,
    SOCKIT_WS_CLOSE_TRY_AGAIN = 1013,
};

/* ---- the opening handshake (RFC 6455 section 4) ------------------------------------------ */

/* What a server learned from an upgrade request, and answers with. */
struct sockit_ws_handshake {
    char accept[SOCKIT_WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept, NUL-terminated */
    const char *protocol;                  /* the subprotocol chosen (one of the server's
                                              list), or NULL */
    struct sockit_http_str origin;         /* the Origin field; len 0 if absent */
    struct sockit_http_str extensions;     /* Sec-WebSocket-Extensions as sent (all fields
                                              joined is the caller's business: the first) */
};

/* Whether REQ asks to switch to WebSocket: an Upgrade field that lists the "websocket"
 * token. A request that does not is plain HTTP on the same port. */
bool sockit_ws_is_upgrade(const struct sockit_http_request *req);

/* Check an upgrade request (RFC 6455 section 4.2.1): GET, HTTP/1.1 or later, Connection
 * listing "upgrade", Upgrade listing "websocket", Sec-WebSocket-Version 13, and one
 * Sec-WebSocket-Key that is base64 of exactly 16 bytes. PROTOCOLS is the server's
 * NULL-terminated list of subprotocols (NULL: none); the first the client lists that the
 * server speaks is chosen (names compared case-sensitively; one that is not a token of at
 * most SOCKIT_WS_MAX_PROTOCOL characters is -SOCKIT_EWS_UPGRADE). Fills *HS and returns 0,
 * or -SOCKIT_EWS_* (HS is then undefined): answer with sockit_ws_error_status (426 carries
 * "Sec-WebSocket-Version: 13"). The Origin is not judged here: HS->origin is the caller's to
 * check. */
int sockit_ws_handshake_check(const struct sockit_http_request *req, const char *const *protocols,
                              struct sockit_ws_handshake *hs);

/* Start the 101 Switching Protocols head for HS in H: the status line, Upgrade, Connection,
 * Sec-WebSocket-Accept and, if one was chosen, Sec-WebSocket-Protocol. The caller may add
 * fields (a negotiated Sec-WebSocket-Extensions) and ends it with sockit_http_head_end. */
void sockit_ws_handshake_response(struct sockit_http_head *h, const struct sockit_ws_handshake *hs);

/* Sec-WebSocket-Accept for KEY (base64 of SHA-1(KEY "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")),
 * NUL-terminated in OUT. */
void sockit_ws_accept(struct sockit_http_str key, char out[SOCKIT_WS_ACCEPT_LEN + 1]);

/* A client's Sec-WebSocket-Key: base64 of the 16 bytes NONCE (random, the caller's),
 * NUL-terminated in OUT. */
void sockit_ws_client_key(const uint8_t nonce[16], char out[SOCKIT_WS_KEY_LEN + 1]);

/* The HTTP status to refuse a handshake error CODE with: 426 for -SOCKIT_EWS_VERSION, 403 for
 * -SOCKIT_EWS_ORIGIN, 400 for the others (and for any other code). */
int sockit_ws_error_status(int code);

/* ---- a client reading the server's answer ------------------------------------------------- */

/* A parsed response head (the client side of the handshake). Strings point into the
 * parsed buffer. */
struct sockit_http_response {
    int minor;
    int status;
    struct sockit_http_str reason;
    size_t nfields;
    struct sockit_http_field fields[SOCKIT_HTTP_MAX_FIELDS];
};

/* Parse a response head at the start of DATA[0, LEN), with the request parser's rules and
 * limits (CRLF only, no obs-fold, token names; no empty line skipped before the status line,
 * which is "HTTP/1.x NNN reason", status 100-599, -SOCKIT_EHTTP_STATUS if malformed). Returns
 * the bytes the head takes, 0 if it is not complete yet, or -SOCKIT_EHTTP_*. SEEN as for
 * sockit_http_parse_request. */
long sockit_http_parse_response(const char *data, size_t len, size_t seen,
                                struct sockit_http_response *resp);

/* Check a server's answer to a client's upgrade request sent with KEY: status 101, Upgrade
 * websocket, Connection upgrade, the right Sec-WebSocket-Accept, no extension and no
 * subprotocol the client did not offer (PROTOCOLS: the client's offer, NULL-terminated, or
 * NULL). Returns 0 and the chosen subprotocol (one of PROTOCOLS, or NULL) in *CHOSEN, or
 * -SOCKIT_EWS_HANDSHAKE / -SOCKIT_EWS_ACCEPT (*CHOSEN then NULL). */
int sockit_ws_response_check(const struct sockit_http_response *resp, const char *key,
                             const char *const *protocols, const char **chosen);

struct sockit_ws_deflate_options;
struct sockit_ws_deflate_params;

/* sockit_ws_response_check for a client that offered permessage-deflate with OFFER (written by
 * sockit_ws_deflate_offer; NULL: offered no extension, as sockit_ws_response_check). The
 * server may answer with one permessage-deflate within that offer (sockit_ws_deflate_params
 * says what "within" means) or with none. Returns 1 with *AGREED filled when it agreed, 0
 * when it declined (a client then sends and expects uncompressed messages), or
 * -SOCKIT_EWS_HANDSHAKE (another extension, a bad or repeated parameter, a value outside the
 * offer) / -SOCKIT_EWS_ACCEPT; *CHOSEN as for sockit_ws_response_check. */
int sockit_ws_response_check_deflate(const struct sockit_http_response *resp, const char *key,
                                     const char *const *protocols,
                                     const struct sockit_ws_deflate_options *offer,
                                     const char **chosen, struct sockit_ws_deflate_params *agreed);

/* ---- frames (RFC 6455 section 5) ----------------------------------------------------------- */

/* Options of a frame parser. */
struct sockit_ws_parser_options {
    bool server;          /* true: frames must be masked (a client's); false: must not be */
    bool allow_rsv1;      /* permessage-deflate negotiated: RSV1 may mark a message's first
                             frame as compressed (then the caller inflates and validates) */
    uint64_t max_message; /* payload bytes of a message (all its frames), at most;
                             0: SOCKIT_WS_MAX_MESSAGE. A larger one is -SOCKIT_EWS_TOO_BIG as
                             soon as a frame header announces it. */
};

/* Parser state: sockit_ws_parser_init before the first byte. */
struct sockit_ws_parser {
    struct sockit_ws_parser_options o;
    int state;
    /* the current frame */
    uint8_t opcode, fin, rsv1, masked;
    uint8_t mask[4];
    uint64_t left;      /* payload bytes of the current data frame not yet delivered */
    uint64_t delivered; /* payload bytes of the current frame delivered (the mask offset) */
    /* the current message (between its first frame and the frame with FIN) */
    uint8_t msg_opcode; /* TEXT or BINARY; 0 outside a message */
    uint8_t msg_compressed;
    uint64_t msg_len;
    uint32_t utf8; /* sockit_ws_utf8 state over the message's text */
    bool closed;   /* a close frame was parsed: nothing more is accepted */
};

void sockit_ws_parser_init(struct sockit_ws_parser *p, const struct sockit_ws_parser_options *o);

enum sockit_ws_event_kind {
    SOCKIT_WS_EV_NONE = 0, /* bytes consumed (a frame header), nothing to act on yet */
    SOCKIT_WS_EV_DATA,     /* a piece of a text or binary message */
    SOCKIT_WS_EV_PING,     /* a whole ping: answer with a pong of the same payload */
    SOCKIT_WS_EV_PONG,     /* a whole pong */
    SOCKIT_WS_EV_CLOSE,    /* a whole, valid close frame: answer it and close */
};

struct sockit_ws_event {
    enum sockit_ws_event_kind kind;
    /* DATA: the message's opcode (TEXT or BINARY), whether this piece starts and ends the
     * message, and whether the message is compressed (permessage-deflate: payload is
     * deflated bytes, not yet validated as UTF-8). */
    enum sockit_ws_opcode opcode;
    bool first, last, compressed;
    /* The payload, unmasked: in the caller's OUT when the input was masked (and always for a
     * control frame), else pointing into DATA. A DATA piece may be empty (an empty message or
     * final frame). */
    const uint8_t *payload;
    size_t len;
    /* CLOSE: the code (SOCKIT_WS_CLOSE_NO_STATUS if the frame had none) and the reason
     * (valid UTF-8, inside payload). */
    uint16_t close_code;
    const uint8_t *reason;
    size_t reason_len;
};

/* Consume frames from DATA[0, LEN). Returns the bytes consumed (> 0) with *EV describing
 * what they held (kind NONE when only a header was consumed), 0 when more bytes are needed
 * (a header, or a control frame, is only taken whole: keep the bytes and call again with
 * more), or -SOCKIT_EWS_* at the first rule broken (see sockit_ws_error_close_code). A data
 * frame's payload is delivered in pieces as it arrives, each piece at most CAP bytes and
 * unmasked into OUT (CAP >= SOCKIT_WS_MAX_CONTROL, else -EINVAL; a control frame's payload is
 * copied to OUT, masked or not, so that it outlives DATA). The UTF-8 of an uncompressed text
 * message is checked as it comes and refused at its first invalid byte (and at the end if a
 * sequence is left open). After an error every further call returns that error; after a
 * CLOSE event, -SOCKIT_EWS_AFTER_CLOSE. */
long sockit_ws_parse(struct sockit_ws_parser *p, const uint8_t *data, size_t len, uint8_t *out,
                     size_t cap, struct sockit_ws_event *ev);

/* The close code to send before closing for a frame error CODE (1002 framing, 1007 UTF-8,
 * 1009 too big, 1011 for any other code). */
int sockit_ws_error_close_code(int code);

/* Write the header of a frame with LEN payload bytes into OUT; FIN and RSV1 as given; MASK
 * non-NULL (a client) sets the mask bit and appends the 4-byte key (the caller masks the
 * payload with sockit_ws_mask). Returns the header's length (2 to 14). */
size_t sockit_ws_frame_header(uint8_t out[SOCKIT_WS_MAX_HEADER], enum sockit_ws_opcode op, bool fin,
                              bool rsv1, uint64_t len, const uint8_t *mask);

/* XOR DATA[0, LEN) with KEY, starting at byte OFFSET of the key's cycle (the bytes of the
 * frame's payload before DATA). In place; its own inverse. */
void sockit_ws_mask(uint8_t *data, size_t len, const uint8_t key[4], uint64_t offset);

/* Whether CODE may be sent in a close frame: 1000-1003, 1007-1014, 3000-4999. */
bool sockit_ws_close_code_valid(unsigned code);

/* Write a close payload into OUT: CODE (big-endian) and REASON cut to the longest whole
 * UTF-8 prefix that fits in 123 bytes. Returns its length (2 to 125). */
size_t sockit_ws_close_payload(uint8_t out[SOCKIT_WS_MAX_CONTROL], uint16_t code,
                               const char *reason, size_t reason_len);

/* ---- permessage-deflate (RFC 7692) -------------------------------------------------------- */

#define SOCKIT_WS_DEFLATE_VALUE_MAX 160 /* a Sec-WebSocket-Extensions value we write, with NUL */

/* What one side is willing to use; zero is the default (context takeover, 15-bit windows). */
struct sockit_ws_deflate_options {
    bool no_context_takeover; /* server: answer server_ and client_no_context_takeover, so that
                                 no compression state outlives a message (less memory between
                                 messages, a worse ratio); client: offer both */
    uint8_t window_bits;      /* 0 (15) or 8..15: the largest LZ77 window (2^N bytes) either
                                 side may use, where the peer lets us say so (a server cannot
                                 limit a client that did not offer client_max_window_bits) */
};

/* What both sides agreed (RFC 7692 section 7.1). Each side compresses with its own window and
 * context rule and inflates with the peer's. */
struct sockit_ws_deflate_params {
    bool server_no_context_takeover; /* the server's compressor starts afresh each message */
    bool client_no_context_takeover; /* the client's does */
    uint8_t server_max_window_bits;  /* 8..15: the server's back references reach 2^N bytes */
    uint8_t client_max_window_bits;  /* 8..15: the client's do */
};

/* The server's choice among the permessage-deflate offers of REQ (every
 * Sec-WebSocket-Extensions field, each a comma-separated list): the first offer whose
 * parameters are all known, unrepeated and valid is agreed within O (NULL: the defaults);
 * other extensions and bad offers are skipped, never refused. Returns 1 with *AGREED and the
 * response's Sec-WebSocket-Extensions value in VALUE (NUL-terminated), or 0 when no offer was
 * acceptable (answer without the field: no compression). */
int sockit_ws_deflate_negotiate(const struct sockit_http_request *req,
                                const struct sockit_ws_deflate_options *o,
                                struct sockit_ws_deflate_params *agreed,
                                char value[SOCKIT_WS_DEFLATE_VALUE_MAX]);

/* A client's Sec-WebSocket-Extensions value offering permessage-deflate with O (NULL: the
 * defaults), NUL-terminated in VALUE; its length. Check the answer with
 * sockit_ws_response_check_deflate and the same O. */
size_t sockit_ws_deflate_offer(const struct sockit_ws_deflate_options *o,
                               char value[SOCKIT_WS_DEFLATE_VALUE_MAX]);

/* One connection's compressor and decompressor (zlib), for one side: SERVER true compresses
 * with the server_* parameters and inflates with the client_* ones, false the reverse. zlib's
 * states are allocated at the first message each way and kept while context takeover needs
 * them: at 15 bits, about 262 KiB to compress and 39 KiB to inflate (window_bits N: about
 * 2^(N+3) + 6 KiB and 2^N + 7 KiB); with no_context_takeover that direction is freed after
 * every message. zlib cannot compress with a 256-byte window: 8 bits compresses with 9, whose
 * back references reach at most 250 bytes (zlib keeps 262 bytes of lookahead), so the stream
 * is valid for an 8-bit peer; and inflates with 9 (more than enough). One thread at a time. */
struct sockit_ws_deflate;

/* Make a context for P on SERVER's side. Allocates the small struct only. Returns 0 and *OUT,
 * -EINVAL (a window outside 8..15) or -ENOMEM. */
int sockit_ws_deflate_new(struct sockit_ws_deflate **out, const struct sockit_ws_deflate_params *p,
                          bool server);

/* Free D and zlib's states. NULL is a no-op. */
void sockit_ws_deflate_free(struct sockit_ws_deflate *d);

/* Compress the whole message DATA[0, LEN) and append its payload (raw DEFLATE, flushed, the
 * final 00 00 ff ff removed: RFC 7692 section 7.2.1) to OUT, which grows within its limit.
 * The frame carrying it has RSV1 set. Returns 0, or -ENOBUFS (OUT's limit) / -ENOMEM: D's
 * context then no longer matches the peer's, and every further call fails the same way. */
int sockit_ws_deflate_message(struct sockit_ws_deflate *d, const void *data, size_t len,
                              struct sockit_buf *out);

/* Inflate the next piece IN[0, LEN) of a compressed message, as sockit_ws_parse delivers it
 * (LAST: the message's final piece; the 00 00 ff ff tail is added then), appending to OUT.
 * The inflated bytes may fill OUT up to its limit: one more is -SOCKIT_EWS_TOO_BIG, so that
 * a small payload cannot expand without bound. Bad data is -SOCKIT_EWS_DEFLATE; -ENOMEM.
 * After an error every call fails. Inflated text is not checked: run sockit_ws_utf8 over it. */
int sockit_ws_inflate(struct sockit_ws_deflate *d, const uint8_t *in, size_t len, bool last,
                      struct sockit_buf *out);

/* Bytes zlib holds for D now (both directions). */
size_t sockit_ws_deflate_memory(const struct sockit_ws_deflate *d);

/* ---- UTF-8 (RFC 3629), incrementally ------------------------------------------------------ */

#define SOCKIT_WS_UTF8_ACCEPT 0 /* the state between whole code points */

/* Advance validator state *STATE (start at SOCKIT_WS_UTF8_ACCEPT) over DATA[0, LEN): returns
 * 0 if every byte so far can begin or continue valid UTF-8 (a sequence may be left open
 * across calls), or -SOCKIT_EWS_UTF8 at the first byte that cannot (overlong forms,
 * surrogates and code points above U+10FFFF included). The text is whole and valid when
 * this returned 0 and *STATE == SOCKIT_WS_UTF8_ACCEPT. */
int sockit_ws_utf8(uint32_t *state, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
