/* The character table of chars.h, built from the grammar's own sets. */
#include <string.h>

#include "chars.h"

#define R2(c, v)   [c] = v, [c + 1] = v
#define R4(c, v)   R2(c, v), R2(c + 2, v)
#define R8(c, v)   R4(c, v), R4(c + 4, v)
#define R16(c, v)  R8(c, v), R8(c + 8, v)
#define R32(c, v)  R16(c, v), R16(c + 16, v)
#define R64(c, v)  R32(c, v), R32(c + 32, v)
#define R128(c, v) R64(c, v), R64(c + 64, v)

#define V  HC_VALUE
#define VT (HC_VALUE | HC_TARGET)
#define TK (HC_VALUE | HC_TARGET | HC_TOKEN)
#define TH (TK | HC_HOST)
#define XH (TH | HC_HEX)

/* Visible ASCII is a value character and a target character; tchars add HC_TOKEN; letters,
 * digits and the reg-name punctuation add HC_HOST; obs-text (0x80-0xff) is a value character
 * only. '#' ends a URI before the fragment, so no request target holds one. */
const uint8_t sockit__http_chars[256] = {
    ['\t'] = V,
    [' '] = V,
    ['!'] = TH,
    ['"'] = VT,
    ['#'] = V,
    ['$'] = TH,
    ['%'] = TH,
    ['&'] = TH,
    ['\''] = TH,
    ['('] = VT | HC_HOST,
    [')'] = VT | HC_HOST,
    ['*'] = TH,
    ['+'] = TH,
    [','] = VT | HC_HOST,
    ['-'] = TH,
    ['.'] = TH,
    ['/'] = VT,
    R8('0', XH),
    R2('8', XH),
    [':'] = VT | HC_HOST,
    [';'] = VT | HC_HOST,
    ['<'] = VT,
    ['='] = VT | HC_HOST,
    ['>'] = VT,
    ['?'] = VT,
    ['@'] = VT,
    R4('A', XH),
    R2('E', XH),
    R16('G', TH),
    R4('W', TH),
    ['['] = VT | HC_HOST,
    ['\\'] = VT,
    [']'] = VT | HC_HOST,
    ['^'] = TK,
    ['_'] = TH,
    ['`'] = TK,
    R4('a', XH),
    R2('e', XH),
    R16('g', TH),
    R4('w', TH),
    ['{'] = VT,
    ['|'] = TK,
    ['}'] = VT,
    ['~'] = TH,
    R128(0x80, V),
};

bool sockit__http_caseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hc_lower(a[i]) != hc_lower(b[i]))
            return false;
    return true;
}

bool sockit_http_str_eq(struct sockit_http_str s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len == n && sockit__http_caseeq(s.p, lit, n);
}
