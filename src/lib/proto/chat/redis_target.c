/* Where the chat's rooms are shared (sockit/chat.h): the Redis URL, and a blocking check of the
 * server before a chat depends on it. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "sockit/chat.h"
#include "sockit/error.h"

/* A whole decimal number of at most MAX into *OUT. */
static bool number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return v <= max;
}

static int parse_unix(const char *path, struct sockit_chat_redis *out, const char **why)
{
    const char *q = strchr(path, '?');
    size_t len = q ? (size_t)(q - path) : strlen(path);
    unsigned long db = 0;

    if (len == 0 || path[0] != '/' || len >= sizeof(out->ep.path)) {
        *why = "unix:/PATH: an absolute path of at most 107 bytes";
        return -EINVAL;
    }
    if (q && (strncmp(q, "?db=", 4) != 0 || !number(q + 4, strlen(q + 4), 65535, &db))) {
        *why = "after the path, only ?db=N (0 to 65535)";
        return -EINVAL;
    }
    out->ep.transport = SOCKIT_UNIX;
    memcpy(out->ep.path, path, len);
    out->ep.path[len] = '\0';
    out->db = (unsigned)db;
    return 0;
}

static int parse_tcp(const char *rest, struct sockit_chat_redis *out, const char **why)
{
    const char *slash = strchr(rest, '/');
    size_t hostport = slash ? (size_t)(slash - rest) : strlen(rest);
    char text[300];
    unsigned long db = 0;

    if (slash && !number(slash + 1, strlen(slash + 1), 65535, &db)) {
        *why = "the database after / is a number, 0 to 65535";
        return -EINVAL;
    }
    if (hostport == 0 || hostport + 7 >= sizeof(text)) {
        *why = "redis://HOST[:PORT][/DB]";
        return -EINVAL;
    }
    /* HOST[:PORT] as a tcp:// endpoint, with Redis' port when none is given */
    const char *end = rest + hostport, *colon = memchr(rest, ':', hostport);
    bool has_port;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', hostport);
        has_port = close && close + 1 < end && close[1] == ':';
    } else {
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
            *why = "an IPv6 address goes in brackets: redis://[::1]:6379";
            return -EINVAL;
        }
        has_port = colon != NULL;
    }
    snprintf(text, sizeof(text), "tcp://%.*s%s", (int)hostport, rest, has_port ? "" : ":6379");
    if (sockit_endpoint_parse(text, &out->ep) < 0 || !out->ep.host[0] || !out->ep.port) {
        *why = "redis://HOST[:PORT][/DB]: a host name or address, and a port 1 to 65535";
        return -EINVAL;
    }
    out->db = (unsigned)db;
    return 0;
}

int sockit_chat_redis_parse(const char *url, struct sockit_chat_redis *out, const char **why)
{
    *out = (struct sockit_chat_redis){ 0 };
    *why = NULL;
    if (strncmp(url, "redis://", 8) == 0)
        return parse_tcp(url + 8, out, why);
    if (strncmp(url, "unix:", 5) == 0)
        return parse_unix(url + 5, out, why);
    *why = "redis://HOST[:PORT][/DB] or unix:/PATH[?db=N]";
    return -EINVAL;
}

/* One command on C: OK when its reply is not an error (WHY gets the error otherwise). */
static int ask(redisContext *c, char *why, size_t cap, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = 0;

    if (!r) {
        snprintf(why, cap, "%s", c->errstr[0] ? c->errstr : "no reply");
        return -EIO;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "%s: %s", argv[0], r->str);
        rc = -EACCES;
    }
    freeReplyObject(r);
    return rc;
}

int sockit_chat_redis_check(const struct sockit_chat_redis *r, int timeout_ms, char *why,
                            size_t cap)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = r->ep.transport == SOCKIT_UNIX
                          ? redisConnectUnixWithTimeout(r->ep.path, tv)
                          : redisConnectWithTimeout(r->ep.host, r->ep.port, tv);
    char db[16];
    int rc;

    if (!c) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    if (c->err) {
        snprintf(why, cap, "%s", c->errstr);
        redisFree(c);
        return -ECONNREFUSED;
    }
    redisSetTimeout(c, tv);
    snprintf(db, sizeof(db), "%u", r->db);
    const char *auth[] = { "AUTH", r->password }, *select[] = { "SELECT", db },
               *ping[] = { "PING" };
    rc = r->password ? ask(c, why, cap, 2, auth) : 0;
    if (!rc)
        rc = ask(c, why, cap, 2, select);
    if (!rc)
        rc = ask(c, why, cap, 1, ping);
    redisFree(c);
    return rc;
}
