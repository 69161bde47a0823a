/* The streaming frame parser and the frame-header writer of sockit/ws.h (RFC 6455 section 5).
 * A header is refused at the first rule it breaks, as soon as the bytes that break it are in;
 * a data frame's payload then flows through in pieces, unmasked and (for text) validated on
 * the way; a control frame is only taken whole. */
#include <errno.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"
#include "ws_internal.h"

enum { ST_HEADER = 0, ST_PAYLOAD = 1 }; /* a negative state is the error that stopped it */

/* A frame header, read. */
struct header {
    uint8_t op, fin, rsv1, masked;
    uint8_t mask[4];
    uint64_t len;
    size_t size; /* the header's bytes */
};

void sockit_ws_parser_init(struct sockit_ws_parser *p, const struct sockit_ws_parser_options *o)
{
    *p = (struct sockit_ws_parser){ .o = *o };
    if (!p->o.max_message)
        p->o.max_message = SOCKIT_WS_MAX_MESSAGE;
}

static bool is_data_start(unsigned op)
{
    return op == SOCKIT_WS_TEXT || op == SOCKIT_WS_BINARY;
}

/* The rules the first two bytes can break, in the order they are checked. */
static int check_start(const struct sockit_ws_parser *p, uint8_t b0, uint8_t b1)
{
    unsigned op = b0 & 0x0f;

    if (b0 & 0x30)
        return -SOCKIT_EWS_RSV;
    if ((op > SOCKIT_WS_BINARY && op < SOCKIT_WS_CLOSE) || op > SOCKIT_WS_PONG)
        return -SOCKIT_EWS_OPCODE;
    if ((b0 & 0x40) && !(p->o.allow_rsv1 && is_data_start(op)))
        return -SOCKIT_EWS_RSV; /* RSV1 marks a compressed message at its first frame only */
    if (!(b1 & 0x80) != !p->o.server)
        return -SOCKIT_EWS_MASK;
    if ((op & 0x8) && (!(b0 & 0x80) || (b1 & 0x7f) > SOCKIT_WS_MAX_CONTROL))
        return -SOCKIT_EWS_CONTROL;
    if ((op == SOCKIT_WS_CONT && !p->msg_opcode) || (is_data_start(op) && p->msg_opcode))
        return -SOCKIT_EWS_CONTINUATION;
    return 0;
}

/* Whether a data frame of H->len bytes takes its message over the limit. */
static bool too_big(const struct sockit_ws_parser *p, const struct header *h)
{
    uint64_t before = h->op == SOCKIT_WS_CONT ? p->msg_len : 0;

    return h->len > p->o.max_message - before;
}

/* The extended length: 2 or 8 bytes, big-endian, in its shortest form, top bit clear. */
static int read_length(const uint8_t *d, size_t ext, struct header *h)
{
    h->len = 0;
    for (size_t i = 0; i < ext; i++)
        h->len = h->len << 8 | d[i];
    if ((ext == 2 && h->len < 126) || (ext == 8 && (h->len >> 63 || h->len <= 0xffff)))
        return -SOCKIT_EWS_LENGTH;
    return 0;
}

/* The header at D[0, N): its size (> 0) and *H; 0 if it is not whole yet; or a code. */
static long read_header(const struct sockit_ws_parser *p, const uint8_t *d, size_t n,
                        struct header *h)
{
    unsigned len7;
    size_t ext;
    int err;

    if (n < 2)
        return 0;
    if ((err = check_start(p, d[0], d[1])))
        return err;
    len7 = d[1] & 0x7f;
    ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (n < 2 + ext)
        return 0;
    h->op = d[0] & 0x0f;
    h->fin = d[0] >> 7;
    h->rsv1 = (d[0] >> 6) & 1;
    h->masked = d[1] >> 7;
    h->len = len7;
    if (ext && (err = read_length(d + 2, ext, h)))
        return err;
    if (!(h->op & 0x8) && too_big(p, h))
        return -SOCKIT_EWS_TOO_BIG;
    h->size = 2 + ext + (h->masked ? 4 : 0);
    if (n < h->size)
        return 0;
    if (h->masked)
        memcpy(h->mask, d + 2 + ext, 4);
    return (long)h->size;
}

/* ---- control frames ------------------------------------------------------------------------ */

/* A close frame's payload in EV: no code, or a valid code and a UTF-8 reason. */
static int close_frame(struct sockit_ws_parser *p, struct sockit_ws_event *ev)
{
    uint32_t utf8 = SOCKIT_WS_UTF8_ACCEPT;

    ev->close_code = SOCKIT_WS_CLOSE_NO_STATUS;
    ev->reason = ev->payload;
    if (ev->len == 1)
        return -SOCKIT_EWS_CLOSE_CODE;
    if (ev->len >= 2) {
        ev->close_code = (uint16_t)(ev->payload[0] << 8 | ev->payload[1]);
        if (!sockit_ws_close_code_valid(ev->close_code))
            return -SOCKIT_EWS_CLOSE_CODE;
        ev->reason = ev->payload + 2;
        ev->reason_len = ev->len - 2;
        if (sockit_ws_utf8(&utf8, ev->reason, ev->reason_len) || utf8 != SOCKIT_WS_UTF8_ACCEPT)
            return -SOCKIT_EWS_UTF8;
    }
    ev->kind = SOCKIT_WS_EV_CLOSE;
    p->closed = true;
    return 0;
}

/* A control frame, whole in D (H read from its start), its payload copied to OUT. */
static long control(struct sockit_ws_parser *p, const struct header *h, const uint8_t *d, size_t n,
                    uint8_t *out, struct sockit_ws_event *ev)
{
    int err = 0;

    if (n - h->size < h->len)
        return 0;
    if (h->masked)
        sockit__ws_unmask_copy(out, d + h->size, (size_t)h->len, h->mask, 0);
    else if (h->len)
        memcpy(out, d + h->size, (size_t)h->len);
    ev->opcode = h->op;
    ev->payload = out;
    ev->len = (size_t)h->len;
    if (h->op == SOCKIT_WS_PING)
        ev->kind = SOCKIT_WS_EV_PING;
    else if (h->op == SOCKIT_WS_PONG)
        ev->kind = SOCKIT_WS_EV_PONG;
    else
        err = close_frame(p, ev);
    return err ? err : (long)(h->size + h->len);
}

/* ---- data frames ----------------------------------------------------------------------------- */

/* Deliver N payload bytes of the current frame, unmasked at PL, as a DATA event. */
static int piece(struct sockit_ws_parser *p, const uint8_t *pl, size_t n,
                 struct sockit_ws_event *ev)
{
    bool text = p->msg_opcode == SOCKIT_WS_TEXT && !p->msg_compressed;
    bool first = p->opcode != SOCKIT_WS_CONT && p->delivered == 0, last;

    if (text && sockit_ws_utf8(&p->utf8, pl, n))
        return -SOCKIT_EWS_UTF8;
    p->left -= n;
    p->delivered += n;
    last = p->fin && p->left == 0;
    if (last && text && p->utf8 != SOCKIT_WS_UTF8_ACCEPT)
        return -SOCKIT_EWS_UTF8; /* the message ends inside a sequence */
    *ev = (struct sockit_ws_event){ .kind = SOCKIT_WS_EV_DATA,
                                    .opcode = p->msg_opcode,
                                    .first = first,
                                    .last = last,
                                    .compressed = p->msg_compressed,
                                    .payload = pl,
                                    .len = n };
    if (p->left == 0)
        p->state = ST_HEADER;
    if (last)
        p->msg_opcode = p->msg_compressed = 0;
    return 0;
}

/* A data frame's header H at D: the frame (and maybe a message) begins. An empty frame is
 * delivered at once, as an empty DATA piece. */
static long data_start(struct sockit_ws_parser *p, const struct header *h, const uint8_t *d,
                       uint8_t *out, struct sockit_ws_event *ev)
{
    int err;

    if (h->op != SOCKIT_WS_CONT) {
        p->msg_opcode = h->op;
        p->msg_compressed = h->rsv1;
        p->msg_len = 0;
        p->utf8 = SOCKIT_WS_UTF8_ACCEPT;
    }
    p->opcode = h->op;
    p->fin = h->fin;
    p->rsv1 = h->rsv1;
    p->masked = h->masked;
    memcpy(p->mask, h->mask, 4);
    p->msg_len += h->len;
    p->left = h->len;
    p->delivered = 0;
    p->state = ST_PAYLOAD;
    if (h->len == 0 && (err = piece(p, h->masked ? out : d + h->size, 0, ev)))
        return err;
    return (long)h->size;
}

/* The next piece of the current data frame's payload from D[0, N): at most CAP bytes. */
static long payload(struct sockit_ws_parser *p, const uint8_t *d, size_t n, uint8_t *out,
                    size_t cap, struct sockit_ws_event *ev)
{
    size_t k = p->left < n ? (size_t)p->left : n;
    const uint8_t *pl = d;
    int err;

    if (k > cap)
        k = cap;
    if (k == 0)
        return 0;
    if (p->masked) {
        sockit__ws_unmask_copy(out, d, k, p->mask, p->delivered);
        pl = out;
    }
    if ((err = piece(p, pl, k, ev)))
        return err;
    return (long)k;
}

long sockit_ws_parse(struct sockit_ws_parser *p, const uint8_t *data, size_t len, uint8_t *out,
                     size_t cap, struct sockit_ws_event *ev)
{
    struct header h = { 0 };
    long rc;

    *ev = (struct sockit_ws_event){ .kind = SOCKIT_WS_EV_NONE };
    if (cap < SOCKIT_WS_MAX_CONTROL)
        return -EINVAL;
    if (p->state < 0)
        return p->state;
    if (p->closed)
        return -SOCKIT_EWS_AFTER_CLOSE;
    if (p->state == ST_PAYLOAD)
        rc = payload(p, data, len, out, cap, ev);
    else if ((rc = read_header(p, data, len, &h)) > 0)
        rc = h.op & 0x8 ? control(p, &h, data, len, out, ev) : data_start(p, &h, data, out, ev);
    if (rc < 0)
        p->state = (int)rc;
    return rc;
}

int sockit_ws_error_close_code(int code)
{
    switch (-code) {
    case SOCKIT_EWS_RSV:
    case SOCKIT_EWS_OPCODE:
    case SOCKIT_EWS_MASK:
    case SOCKIT_EWS_CONTROL:
    case SOCKIT_EWS_CONTINUATION:
    case SOCKIT_EWS_LENGTH:
    case SOCKIT_EWS_CLOSE_CODE:
    case SOCKIT_EWS_AFTER_CLOSE: return SOCKIT_WS_CLOSE_PROTOCOL;
    case SOCKIT_EWS_UTF8:
    case SOCKIT_EWS_DEFLATE: return SOCKIT_WS_CLOSE_INVALID_DATA;
    case SOCKIT_EWS_TOO_BIG: return SOCKIT_WS_CLOSE_TOO_BIG;
    }
    return SOCKIT_WS_CLOSE_INTERNAL;
}

size_t sockit_ws_frame_header(uint8_t out[SOCKIT_WS_MAX_HEADER], enum sockit_ws_opcode op, bool fin,
                              bool rsv1, uint64_t len, const uint8_t *mask)
{
    size_t n = 2, ext = len < 126 ? 0 : len <= 0xffff ? 2 : 8;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (op & 0x0f));
    out[1] = (uint8_t)((mask ? 0x80 : 0) | (ext == 0 ? len : ext == 2 ? 126 : 127));
    for (size_t i = ext; i > 0; i--, len >>= 8)
        out[1 + i] = (uint8_t)len;
    n += ext;
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}
