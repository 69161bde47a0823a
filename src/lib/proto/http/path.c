/* From a request path to a name under the served root (sockit/http.h): decode once, then
 * walk the segments, so no spelling of ".." (plain, %2e%2e, mixed) climbs out. */
#include <errno.h>
#include <string.h>

#include "chars.h"
#include "sockit/error.h"

/* Percent-decode P[0, N) into OUT (at least N bytes): the decoded length, or a code for an
 * escape that must not be: %00, %2F (a slash the client did not mean as one), control bytes. */
static long decode(const char *p, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            if (i + 2 >= n || !hc_is(p[i + 1], HC_HEX) || !hc_is(p[i + 2], HC_HEX))
                return -SOCKIT_EHTTP_PATH;
            c = (char)(hc_hex(p[i + 1]) * 16 + hc_hex(p[i + 2]));
            if (c == '/')
                return -SOCKIT_EHTTP_PATH;
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return -SOCKIT_EHTTP_PATH;
        out[o++] = c;
    }
    return (long)o;
}

/* Append segment S[0, N) to OUT[0, *LEN): ".", "..", hidden names and room handled. */
static int segment(const char *s, size_t n, char *out, size_t cap, size_t *len, bool hidden)
{
    if (n == 0 || (n == 1 && s[0] == '.'))
        return 0;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (*len == 0)
            return -SOCKIT_EHTTP_PATH; /* above the root */
        while (*len > 0 && out[*len - 1] != '/')
            (*len)--;
        if (*len > 0)
            (*len)--; /* the '/' before the dropped segment */
        return 0;
    }
    if (s[0] == '.' && !hidden)
        return -SOCKIT_EHTTP_HIDDEN;
    if (*len + (*len > 0) + n + 1 > cap)
        return -ENAMETOOLONG;
    if (*len > 0)
        out[(*len)++] = '/';
    memcpy(out + *len, s, n);
    *len += n;
    return 0;
}

long sockit_http_path_normalize(struct sockit_http_str path, char *out, size_t cap, bool hidden)
{
    char dec[4096];
    long n;
    size_t len = 0;
    int err;

    if (cap == 0)
        return -ENAMETOOLONG;
    if (path.len > sizeof(dec))
        return -ENAMETOOLONG;
    if ((n = decode(path.p, path.len, dec)) < 0)
        return n;
    for (const char *s = dec, *end = dec + n; s < end;) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *e = slash ? slash : end;
        if ((err = segment(s, (size_t)(e - s), out, cap, &len, hidden)))
            return err;
        s = e + 1;
    }
    out[len] = '\0';
    return (long)len;
}
