/* The response-head parser of sockit/ws.h (a client reading the server's answer to its
 * upgrade request): the request parser's head scan and field lines (message.c) after a
 * status line, with the same limits and strictness. */
#include <string.h>

#include "message.h"
#include "sockit/error.h"
#include "sockit/ws.h"

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "HTTP/1.1 101 Switching Protocols\r\n" at D (EOL one past its LF): status-line = version
 * SP 3DIGIT SP reason (RFC 9112 section 4), the reason possibly empty but its SP not. */
static int status_line(const char *d, const char *eol, struct sockit_http_response *resp)
{
    const char *cr = eol - 2;
    int err;

    if (eol - d > SOCKIT_HTTP_MAX_LINE)
        return -SOCKIT_EHTTP_LINE;
    if (eol - d < 15)
        return -SOCKIT_EHTTP_STATUS;
    if ((err = sockit__http_version(d, &resp->minor)))
        return err;
    if (d[8] != ' ' || !digit(d[9]) || !digit(d[10]) || !digit(d[11]) || d[12] != ' ')
        return -SOCKIT_EHTTP_STATUS;
    resp->status = (d[9] - '0') * 100 + (d[10] - '0') * 10 + (d[11] - '0');
    if (resp->status < 100 || resp->status > 599) /* RFC 9110 section 15: invalid */
        return -SOCKIT_EHTTP_STATUS;
    for (const char *p = d + 13; p < cr; p++)
        if (!hc_is(*p, HC_VALUE))
            return -SOCKIT_EHTTP_STATUS;
    resp->reason = (struct sockit_http_str){ d + 13, (size_t)(cr - (d + 13)) };
    return 0;
}

long sockit_http_parse_response(const char *data, size_t len, size_t seen,
                                struct sockit_http_response *resp)
{
    const char *eol;
    size_t end;
    int rc;

    if ((rc = sockit__http_head_end(data, len, seen, &end)) <= 0)
        return rc;
    eol = (const char *)memchr(data, '\n', end) + 1;
    if ((rc = status_line(data, eol, resp)) ||
        (rc = sockit__http_fields(eol, data + end, resp->fields, &resp->nfields)))
        return rc;
    return (long)end;
}
