/* Character classes of HTTP's grammar (RFC 9110 section 5.6.2, RFC 3986), one table lookup
 * each, shared by the parser and the head writer. */
#ifndef SOCKIT_HTTP_CHARS_H
#define SOCKIT_HTTP_CHARS_H

#include <stdbool.h>
#include <stdint.h>

#include "sockit/http.h"

enum {
    HC_TOKEN = 1,  /* tchar: what a method, a header name or a coding is made of */
    HC_VALUE = 2,  /* field-vchar, SP, HTAB, obs-text: what a header value may hold */
    HC_TARGET = 4, /* visible ASCII but '#': what a request target may hold */
    HC_HEX = 8,
    HC_HOST = 16, /* reg-name, IP literal and port characters of a Host */
};

extern const uint8_t sockit__http_chars[256];

static inline bool hc_is(char c, unsigned cls)
{
    return (sockit__http_chars[(uint8_t)c] & cls) != 0;
}

static inline int hc_hex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline char hc_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

/* Whether A[0, N) and B[0, N) are equal ignoring ASCII case. */
bool sockit__http_caseeq(const char *a, const char *b, size_t n);

#endif
