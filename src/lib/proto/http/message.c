/* The parts of a message head shared by the request and the response parsers (message.h):
 * where the head ends, scanning each byte once however it arrives, and its field lines. */
#include <string.h>

#include "message.h"
#include "sockit/error.h"

int sockit__http_head_end(const char *d, size_t n, size_t from, size_t *end)
{
    const char *p = d + from, *stop = d + n;

    if (from < SOCKIT_HTTP_MAX_LINE && n >= SOCKIT_HTTP_MAX_LINE &&
        !memchr(d, '\n', SOCKIT_HTTP_MAX_LINE))
        return -SOCKIT_EHTTP_LINE;
    while ((p = memchr(p, '\n', (size_t)(stop - p)))) {
        size_t i = (size_t)(p - d);
        if (i == 0 || d[i - 1] != '\r')
            return -SOCKIT_EHTTP_BARE_LF;
        if (i >= 3 && d[i - 2] == '\n') { /* "\r\n\r\n": d[i - 3] is '\r', checked before */
            *end = i + 1;
            return 1;
        }
        p++;
    }
    if (n > SOCKIT_HTTP_MAX_FIELDS_BYTES) { /* rare: then finding the first line is cheap */
        const char *lf = memchr(d, '\n', SOCKIT_HTTP_MAX_LINE);
        if (n - (size_t)(lf + 1 - d) > SOCKIT_HTTP_MAX_FIELDS_BYTES)
            return -SOCKIT_EHTTP_HEAD;
    }
    return 0;
}

int sockit__http_version(const char *p, int *minor)
{
    if (memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
        p[7] > '9')
        return -SOCKIT_EHTTP_VERSION;
    if (p[5] != '1')
        return -SOCKIT_EHTTP_VERSION_UNSUPPORTED;
    *minor = p[7] == '0' ? 0 : 1;
    return 0;
}

static void trim(struct sockit_http_str *v)
{
    while (v->len && (v->p[v->len - 1] == ' ' || v->p[v->len - 1] == '\t'))
        v->len--;
}

/* One field line at *P (not the final empty line), up to and past its CRLF. */
static int field_line(const char **p, const char *end, struct sockit_http_field *f)
{
    const char *s = *p;

    if (*s == ' ' || *s == '\t')
        return -SOCKIT_EHTTP_OBS_FOLD;
    while (*p < end && hc_is(**p, HC_TOKEN))
        (*p)++;
    if (*p == s || **p != ':')
        return **p == ' ' || **p == '\t' ? -SOCKIT_EHTTP_SPACE_COLON : -SOCKIT_EHTTP_FIELD_NAME;
    f->name = (struct sockit_http_str){ s, (size_t)(*p - s) };
    for ((*p)++; **p == ' ' || **p == '\t'; (*p)++)
        ;
    s = *p;
    while (hc_is(**p, HC_VALUE))
        (*p)++;
    if (**p != '\r')
        return -SOCKIT_EHTTP_FIELD_VALUE;
    if ((*p)[1] != '\n')
        return -SOCKIT_EHTTP_BARE_CR;
    f->value = (struct sockit_http_str){ s, (size_t)(*p - s) };
    trim(&f->value);
    *p += 2;
    return 0;
}

int sockit__http_fields(const char *p, const char *end, struct sockit_http_field *fields,
                        size_t *nfields)
{
    const char *start = p;
    int err;

    *nfields = 0;
    while (!(p[0] == '\r' && p[1] == '\n')) {
        if (*nfields == SOCKIT_HTTP_MAX_FIELDS)
            return -SOCKIT_EHTTP_FIELDS;
        if ((err = field_line(&p, end, &fields[*nfields])))
            return err;
        (*nfields)++;
    }
    return end - start > SOCKIT_HTTP_MAX_FIELDS_BYTES ? -SOCKIT_EHTTP_HEAD : 0;
}

const struct sockit_http_str *sockit__http_field_in(const struct sockit_http_field *fields,
                                                    size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (sockit_http_str_eq(fields[i].name, name))
            return &fields[i].value;
    return NULL;
}

size_t sockit__http_field_count(const struct sockit_http_field *fields, size_t n, const char *name)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        count += sockit_http_str_eq(fields[i].name, name);
    return count;
}

/* Call FN for each element of the list V; FN's first non-zero answer, or 0. */
static int each_in_value(struct sockit_http_str v, int (*fn)(struct sockit_http_str el, void *ctx),
                         void *ctx)
{
    const char *p = v.p, *end = v.p + v.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct sockit_http_str el = { p, (size_t)((comma ? comma : end) - p) };
        while (el.len && (el.p[0] == ' ' || el.p[0] == '\t'))
            el.p++, el.len--;
        trim(&el);
        int rc = el.len ? fn(el, ctx) : 0;
        if (rc)
            return rc;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

int sockit__http_each_element(const struct sockit_http_field *fields, size_t n, const char *name,
                              int (*fn)(struct sockit_http_str el, void *ctx), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (!sockit_http_str_eq(fields[i].name, name))
            continue;
        int rc = each_in_value(fields[i].value, fn, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int is_token(struct sockit_http_str el, void *ctx)
{
    return sockit_http_str_eq(el, ctx);
}

bool sockit__http_lists(const struct sockit_http_field *fields, size_t n, const char *name,
                        const char *token)
{
    return sockit__http_each_element(fields, n, name, is_token, (void *)token) != 0;
}
