/* ws:// URLs (RFC 6455 section 3): the authority is a tcp:// endpoint's (one syntax
 * everywhere, sockit/endpoint.h), port 80 when left out; the rest is the request target. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/ws_server.h"

#define SCHEME "ws://"

/* Whether the target's bytes are visible ASCII with no fragment. */
static bool target_ok(const char *t)
{
    for (; *t; t++) {
        if (*t <= ' ' || *t >= 0x7f || *t == '#')
            return false;
    }
    return true;
}

int sockit_ws_url_parse(const char *text, struct sockit_endpoint *ep, char *path, size_t path_cap)
{
    if (strncmp(text, SCHEME, strlen(SCHEME)) != 0)
        return -SOCKIT_ESCHEME;
    const char *auth = text + strlen(SCHEME);
    const char *slash = strchr(auth, '/');
    const char *query = strchr(auth, '?');
    const char *end = slash && (!query || slash < query) ? slash : query;
    size_t alen = end ? (size_t)(end - auth) : strlen(auth);
    const char *target = end ? end : "/";
    char tcp[SOCKIT_ENDPOINT_MAX + 16];

    if (alen > SOCKIT_ENDPOINT_MAX)
        return -SOCKIT_ETOOLONG;
    /* "host" alone (or "[v6]") takes port 80; "host:port" and ":port" keep theirs. */
    const char *close = memchr(auth, ']', alen);
    const char *colon =
        memchr(close ? close : auth, ':', alen - (size_t)((close ? close : auth) - auth));
    snprintf(tcp, sizeof(tcp), "tcp://%.*s%s", (int)alen, auth, colon ? "" : ":80");
    int rc = sockit_endpoint_parse(tcp, ep);
    if (rc < 0)
        return rc;
    if (!target_ok(target))
        return -SOCKIT_EWS_URL;
    size_t tlen = strlen(target);
    if (*target == '?') { /* "ws://host?q": the path is "/" */
        if (tlen + 2 > path_cap)
            return -ENAMETOOLONG;
        snprintf(path, path_cap, "/%s", target);
        return 0;
    }
    if (tlen + 1 > path_cap || tlen > SOCKIT_WS_PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(path, target, tlen + 1);
    return 0;
}
