/* The incremental UTF-8 validator of sockit/ws.h (RFC 3629): a DFA over byte classes whose
 * states say what the open sequence still needs, so that a byte is refused the moment no
 * valid UTF-8 can continue with it (0xF4 0x90 fails at the 0x90: above U+10FFFF), and ASCII
 * between sequences is skipped eight bytes at a time. */
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws.h"
#include "ws_internal.h"

/* Byte classes: where a byte may stand. */
enum {
    C_ASCII,   /* 00-7F */
    C_CONT_LO, /* 80-8F */
    C_CONT_MI, /* 90-9F */
    C_CONT_HI, /* A0-BF */
    C_BAD,     /* C0-C1 (overlong two-byte forms), F5-FF (above U+10FFFF) */
    C_LEAD2,   /* C2-DF */
    C_E0,      /* E0: a second byte under A0 would be overlong */
    C_LEAD3,   /* E1-EC, EE-EF */
    C_ED,      /* ED: a second byte from A0 would be a surrogate (U+D800-DFFF) */
    C_F0,      /* F0: a second byte under 90 would be overlong */
    C_LEAD4,   /* F1-F3 */
    C_F4,      /* F4: a second byte from 90 would be above U+10FFFF */
    C_COUNT,
};

/* States: what the open sequence needs next. */
enum {
    S_ACCEPT = SOCKIT_WS_UTF8_ACCEPT,
    S_CONT1,  /* one continuation byte (80-BF) */
    S_CONT2,  /* two */
    S_CONT3,  /* three */
    S_E0,     /* A0-BF, then one */
    S_ED,     /* 80-9F, then one */
    S_F0,     /* 90-BF, then two */
    S_F4,     /* 80-8F, then two */
    S_REJECT, /* no valid UTF-8 continues: stays so */
    S_COUNT,
};

#define R2(c, v)  [c] = v, [c + 1] = v
#define R4(c, v)  R2(c, v), R2(c + 2, v)
#define R8(c, v)  R4(c, v), R4(c + 4, v)
#define R16(c, v) R8(c, v), R8(c + 8, v)
#define R32(c, v) R16(c, v), R16(c + 16, v)

static const uint8_t byte_class[256] = {
    /* 00-7F are C_ASCII (0) */
    R16(0x80, C_CONT_LO), R16(0x90, C_CONT_MI), R32(0xA0, C_CONT_HI), R2(0xC0, C_BAD),
    R2(0xC2, C_LEAD2),    R4(0xC4, C_LEAD2),    R8(0xC8, C_LEAD2),    R16(0xD0, C_LEAD2),
    [0xE0] = C_E0,        [0xE1] = C_LEAD3,     R2(0xE2, C_LEAD3),    R8(0xE4, C_LEAD3),
    [0xEC] = C_LEAD3,     [0xED] = C_ED,        R2(0xEE, C_LEAD3),    [0xF0] = C_F0,
    [0xF1] = C_LEAD4,     R2(0xF2, C_LEAD4),    [0xF4] = C_F4,        [0xF5] = C_BAD,
    R2(0xF6, C_BAD),      R8(0xF8, C_BAD),
};

/* Rows are states, columns byte classes in enum order (ASCII, CONT_LO, CONT_MI, CONT_HI, BAD,
 * LEAD2, E0, LEAD3, ED, F0, LEAD4, F4); X is S_REJECT. */
#define X S_REJECT

static const uint8_t next_state[S_COUNT][C_COUNT] = {
    [S_ACCEPT] = { S_ACCEPT, X, X, X, X, S_CONT1, S_E0, S_CONT2, S_ED, S_F0, S_CONT3, S_F4 },
    [S_CONT1] = { X, S_ACCEPT, S_ACCEPT, S_ACCEPT, X, X, X, X, X, X, X, X },
    [S_CONT2] = { X, S_CONT1, S_CONT1, S_CONT1, X, X, X, X, X, X, X, X },
    [S_CONT3] = { X, S_CONT2, S_CONT2, S_CONT2, X, X, X, X, X, X, X, X },
    [S_E0] = { X, X, X, S_CONT1, X, X, X, X, X, X, X, X },
    [S_ED] = { X, S_CONT1, S_CONT1, X, X, X, X, X, X, X, X, X },
    [S_F0] = { X, X, S_CONT2, S_CONT2, X, X, X, X, X, X, X, X },
    [S_F4] = { X, S_CONT2, X, X, X, X, X, X, X, X, X, X },
    [S_REJECT] = { X, X, X, X, X, X, X, X, X, X, X, X },
};

#undef X

static inline uint32_t step(uint32_t s, uint8_t byte)
{
    return next_state[s][byte_class[byte]];
}

/* How many bytes from D[0, LEN) are ASCII, in words of eight while it lasts. */
static size_t ascii_run(const uint8_t *d, size_t len)
{
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        if (w & 0x8080808080808080u)
            break;
    }
    while (i < len && d[i] < 0x80)
        i++;
    return i;
}

int sockit_ws_utf8(uint32_t *state, const uint8_t *data, size_t len)
{
    uint32_t s = *state < S_REJECT ? *state : S_REJECT;
    size_t i = 0;

    while (i < len && s != S_REJECT) {
        if (s == S_ACCEPT && (i += ascii_run(data + i, len - i)) == len)
            break;
        s = step(s, data[i++]);
    }
    *state = s;
    return s == S_REJECT ? -SOCKIT_EWS_UTF8 : 0;
}

size_t sockit__ws_utf8_prefix(const uint8_t *data, size_t len)
{
    uint32_t s = S_ACCEPT;
    size_t whole = 0;

    for (size_t i = 0; i < len && s != S_REJECT; i++)
        if ((s = step(s, data[i])) == S_ACCEPT)
            whole = i + 1;
    return whole;
}
