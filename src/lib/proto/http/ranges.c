/* Range requests (RFC 9110 section 14): "bytes=0-99, 200-, -50" against a size. Anything
 * doubtful is ignored rather than refused, as the RFC allows: the client then gets the whole. */
#include <string.h>

#include "chars.h"

/* A decimal at *P (at most 18 digits): 1 and the number, or 0. */
static int number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t n = 0;

    while (*p < end && **p >= '0' && **p <= '9' && *p - s < 18)
        n = n * 10 + (uint64_t)(*(*p)++ - '0');
    *out = n;
    return *p > s && !(*p < end && **p >= '0' && **p <= '9');
}

/* One range-spec in [P, END): 1 satisfiable (in *R), 0 unsatisfiable, -1 malformed. */
static int spec(const char *p, const char *end, uint64_t size, struct sockit_http_range *r)
{
    uint64_t a, b;

    if (p < end && *p == '-') { /* suffix: the last B bytes */
        p++;
        if (!number(&p, end, &b) || p != end)
            return -1;
        if (b == 0 || size == 0)
            return 0;
        *r = (struct sockit_http_range){ b >= size ? 0 : size - b, size - 1 };
        return 1;
    }
    if (!number(&p, end, &a) || p == end || *p++ != '-')
        return -1;
    if (p == end)
        b = UINT64_MAX; /* "first-": to the end */
    else if (!number(&p, end, &b) || p != end || b < a)
        return -1;
    if (a >= size)
        return 0;
    *r = (struct sockit_http_range){ a, b >= size ? size - 1 : b };
    return 1;
}

static bool overlap(const struct sockit_http_range *r, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (r[i].first <= r[j].last && r[j].first <= r[i].last)
                return true;
    return false;
}

int sockit_http_ranges_parse(struct sockit_http_str value, uint64_t size,
                             struct sockit_http_range out[SOCKIT_HTTP_MAX_RANGES])
{
    const char *p = value.p + 6, *end = value.p + value.len, *comma;
    int n = 0, asked = 0;

    if (value.len < 6 || !sockit__http_caseeq(value.p, "bytes=", 6))
        return 0;
    do {
        comma = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *e = comma ? comma : end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s < e) { /* empty elements of the list are allowed */
            if (asked++ == SOCKIT_HTTP_MAX_RANGES)
                return 0;
            int rc = spec(s, e, size, &out[n]);
            if (rc < 0)
                return 0;
            n += rc;
        }
        if (comma)
            p = comma + 1;
    } while (comma);
    if (asked == 0)
        return 0;
    if (n == 0)
        return -1;
    return overlap(out, n) ? 0 : n;
}
