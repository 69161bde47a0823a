/* Endpoint text <-> struct <-> socket addresses. Parsing is strict and never touches the
 * network; resolution is a separate, explicit step. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sockit/endpoint.h"
#include "sockit/error.h"

#define IFNAME_MAX (IF_NAMESIZE - 1)

struct scheme {
    const char *prefix;
    enum sockit_transport transport;
};

/* The one table of scheme names, for parsing and formatting alike. Longest prefixes first,
 * so "unix-dgram:" wins over "unix:". */
static const struct scheme schemes[] = {
    { "tcp://", SOCKIT_TCP }, { "udp://", SOCKIT_UDP },     { "unix-dgram:", SOCKIT_UNIX_DGRAM },
    { "unix:", SOCKIT_UNIX }, { "packet:", SOCKIT_PACKET },
};

#define NSCHEMES (sizeof(schemes) / sizeof(schemes[0]))

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;

    if (*s == '\0')
        return -SOCKIT_ENOPORT;
    if (strcmp(s, "0") == 0) { /* any free port (bind): the kernel picks one */
        *port = 0;
        return 0;
    }
    if (s[0] == '0')
        return -SOCKIT_EPORT; /* no leading zeros: one spelling per port */
    for (i = 0; s[i] != '\0'; i++) {
        if (!is_digit(s[i]) || i >= 5)
            return -SOCKIT_EPORT;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -SOCKIT_EPORT;
    *port = (uint16_t)v;
    return 0;
}

/* "addr" or "addr%zone" as inside brackets. */
static int check_ipv6(const char *host)
{
    char addr[INET6_ADDRSTRLEN];
    struct in6_addr bin;
    const char *pct = strchr(host, '%');
    size_t alen = pct ? (size_t)(pct - host) : strlen(host);

    if (alen == 0 || alen >= sizeof(addr))
        return -SOCKIT_EIPV6;
    memcpy(addr, host, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET6, addr, &bin) != 1)
        return -SOCKIT_EIPV6;
    if (!pct)
        return 0;
    if (!IN6_IS_ADDR_LINKLOCAL(&bin) && !IN6_IS_ADDR_MC_LINKLOCAL(&bin))
        return -SOCKIT_EIPV6; /* a zone only means something on link-local addresses */
    size_t zlen = strlen(pct + 1);
    if (zlen == 0 || zlen > IFNAME_MAX)
        return -SOCKIT_EIPV6;
    for (const char *z = pct + 1; *z; z++) {
        if (!is_alnum(*z) && *z != '.' && *z != '-' && *z != '_')
            return -SOCKIT_EIPV6;
    }
    return 0;
}

static int check_label(const char *label, size_t len)
{
    if (len == 0 || len > 63 || label[0] == '-' || label[len - 1] == '-')
        return -SOCKIT_EHOST;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(label[i]) && label[i] != '-' && label[i] != '_')
            return -SOCKIT_EHOST;
    }
    return 0;
}

/* A host whose last label is all digits or starts with "0x" (no top-level domain does, RFC
 * 3696 section 2) is meant as an IPv4 address: getaddrinfo would take "0x7f.1" or "127.1" as
 * one in inet_aton's loose forms. Only the dotted-decimal form is accepted. */
static bool looks_numeric(const char *host, size_t len)
{
    const char *dot = memrchr(host, '.', len);
    const char *last = dot ? dot + 1 : host;
    size_t n = len - (size_t)(last - host);

    if (n == 0)
        return false; /* a trailing dot: a fully qualified name */
    if (n > 1 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
        return true;
    return strspn(last, "0123456789") == n;
}

/* A dotted-decimal IPv4 literal, or an RFC 1123 host name (underscores tolerated). */
static int check_host(const char *host)
{
    size_t len = strlen(host);
    struct in_addr bin;

    if (strspn(host, "0123456789.") == len || looks_numeric(host, len))
        return inet_pton(AF_INET, host, &bin) == 1 ? 0 : -SOCKIT_EIPV4;
    if (host[len - 1] == '.') /* one trailing dot: fully qualified */
        len--;
    if (len > SOCKIT_HOST_MAX)
        return -SOCKIT_EHOST;
    for (size_t start = 0; start <= len;) {
        const char *dot = memchr(host + start, '.', len - start);
        size_t end = dot ? (size_t)(dot - host) : len;
        int err = check_label(host + start, end - start);
        if (err)
            return err;
        start = end + 1;
    }
    return 0;
}

static int copy_host(struct sockit_endpoint *ep, const char *host, size_t len)
{
    if (len > SOCKIT_HOST_MAX)
        return -SOCKIT_EHOST;
    memcpy(ep->host, host, len);
    ep->host[len] = '\0';
    return 0;
}

/* "[v6]:port" */
static int parse_bracketed(const char *s, struct sockit_endpoint *ep)
{
    const char *close = strchr(s, ']');

    if (!close || strchr(s + 1, '[') || strchr(close + 1, ']'))
        return -SOCKIT_EBRACKET;
    if (close[1] == '\0')
        return -SOCKIT_ENOPORT;
    if (close[1] != ':')
        return -SOCKIT_EBRACKET;
    size_t len = (size_t)(close - s - 1);
    if (len > INET6_ADDRSTRLEN + IFNAME_MAX)
        return -SOCKIT_EIPV6;
    int err = copy_host(ep, s + 1, len);
    if (!err)
        err = check_ipv6(ep->host);
    if (!err)
        err = parse_port(close + 2, &ep->port);
    return err;
}

/* "host:port", ":port" or "[v6]:port" */
static int parse_hostport(const char *s, struct sockit_endpoint *ep)
{
    if (s[0] == '[')
        return parse_bracketed(s, ep);
    if (strpbrk(s, "[]"))
        return -SOCKIT_EBRACKET;

    const char *colon = strrchr(s, ':');
    if (!colon)
        return -SOCKIT_ENOPORT;
    if (memchr(s, ':', (size_t)(colon - s)))
        return -SOCKIT_EV6BRACKETS;
    int err = copy_host(ep, s, (size_t)(colon - s));
    if (!err && ep->host[0] != '\0')
        err = check_host(ep->host);
    if (!err)
        err = parse_port(colon + 1, &ep->port);
    return err;
}

static int parse_path(const char *s, struct sockit_endpoint *ep)
{
    const char *name = s[0] == '@' ? s + 1 : s;
    size_t len = strlen(name);

    if (len == 0)
        return -SOCKIT_EPATHEMPTY;
    if (len > SOCKIT_UNIX_PATH_MAX)
        return -SOCKIT_EPATHLONG;
    memcpy(ep->path, s, strlen(s) + 1);
    return 0;
}

/* An interface name as the kernel takes it (dev_valid_name): 1 to 15 bytes, not "." or
 * "..", no '/', ':' or whitespace (whitespace is refused for every endpoint already). */
static int parse_ifname(const char *s, struct sockit_endpoint *ep)
{
    size_t len = strlen(s);

    if (len == 0 || len > SOCKIT_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strpbrk(s, "/:"))
        return -SOCKIT_EIFNAME;
    memcpy(ep->ifname, s, len + 1);
    return 0;
}

static int check_text(const char *text)
{
    size_t len = strnlen(text, SOCKIT_ENDPOINT_MAX + 1);

    if (len == 0)
        return -SOCKIT_EEMPTY;
    if (len > SOCKIT_ENDPOINT_MAX)
        return -SOCKIT_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f)
            return -SOCKIT_ECTRL;
    }
    return 0;
}

int sockit_endpoint_parse(const char *text, struct sockit_endpoint *ep)
{
    int err = check_text(text);

    memset(ep, 0, sizeof(*ep));
    if (err)
        return err;
    for (size_t i = 0; i < NSCHEMES; i++) {
        size_t plen = strlen(schemes[i].prefix);
        if (strncmp(text, schemes[i].prefix, plen) != 0)
            continue;
        ep->transport = schemes[i].transport;
        if (sockit_endpoint_is_unix(ep))
            return parse_path(text + plen, ep);
        if (ep->transport == SOCKIT_PACKET)
            return parse_ifname(text + plen, ep);
        return parse_hostport(text + plen, ep);
    }
    /* No known scheme: "x://..." is a scheme we do not know, anything else is HOST:PORT. */
    if (strstr(text, "://"))
        return -SOCKIT_ESCHEME;
    const char *colon = strrchr(text, ':');
    if (colon && (colon[1] == '/' || colon[1] == '@'))
        return -SOCKIT_ESCHEME; /* "sctp:/path", "unixx:@name" */
    ep->transport = SOCKIT_TCP;
    return parse_hostport(text, ep);
}

const char *sockit_endpoint_scheme(enum sockit_transport t)
{
    for (size_t i = 0; i < NSCHEMES; i++) {
        if (schemes[i].transport == t)
            return schemes[i].prefix;
    }
    return "?:";
}

int sockit_endpoint_format(const struct sockit_endpoint *ep, char *buf, size_t size)
{
    const char *scheme = sockit_endpoint_scheme(ep->transport);
    int n;

    if (sockit_endpoint_is_unix(ep))
        n = snprintf(buf, size, "%s%s", scheme, ep->path);
    else if (ep->transport == SOCKIT_PACKET)
        n = snprintf(buf, size, "%s%s", scheme, ep->ifname);
    else if (strchr(ep->host, ':'))
        n = snprintf(buf, size, "%s[%s]:%u", scheme, ep->host, ep->port);
    else
        n = snprintf(buf, size, "%s%s:%u", scheme, ep->host, ep->port);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}

bool sockit_endpoint_is_stream(const struct sockit_endpoint *ep)
{
    return ep->transport == SOCKIT_TCP || ep->transport == SOCKIT_UNIX;
}

bool sockit_endpoint_is_unix(const struct sockit_endpoint *ep)
{
    return ep->transport == SOCKIT_UNIX || ep->transport == SOCKIT_UNIX_DGRAM;
}

int sockit_endpoint_socktype(const struct sockit_endpoint *ep)
{
    if (ep->transport == SOCKIT_PACKET)
        return SOCK_RAW;
    return sockit_endpoint_is_stream(ep) ? SOCK_STREAM : SOCK_DGRAM;
}

static int resolve_unix(const struct sockit_endpoint *ep, struct sockit_addr *out)
{
    size_t base = offsetof(struct sockaddr_un, sun_path);
    size_t len = strlen(ep->path);

    memset(out, 0, sizeof(*out));
    out->u.un.sun_family = AF_UNIX;
    if (ep->path[0] == '@') {
        /* Abstract namespace: a leading NUL, then the name; no terminator, no file. */
        memcpy(out->u.un.sun_path + 1, ep->path + 1, len - 1);
        out->len = (socklen_t)(base + len);
    } else {
        memcpy(out->u.un.sun_path, ep->path, len + 1);
        out->len = (socklen_t)(base + len + 1);
    }
    return 1;
}

static void set_inet(struct sockit_addr *a, int family, const void *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET6) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        memcpy(&a->u.in6.sin6_addr, ip, sizeof(struct in6_addr));
        a->len = sizeof(struct sockaddr_in6);
    } else {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = htons(port);
        memcpy(&a->u.in.sin_addr, ip, sizeof(struct in_addr));
        a->len = sizeof(struct sockaddr_in);
    }
}

/* Empty host: the wildcard for bind ([::] first: dual-stack takes IPv4 too), loopback for
 * connect (127.0.0.1 first: most servers listen on IPv4 at least). */
static int resolve_unspecified(const struct sockit_endpoint *ep, int flags, struct sockit_addr *out,
                               size_t max)
{
    struct in_addr v4 = { htonl((flags & SOCKIT_RESOLVE_PASSIVE) ? INADDR_ANY : INADDR_LOOPBACK) };
    const struct in6_addr *v6 = (flags & SOCKIT_RESOLVE_PASSIVE) ? &in6addr_any : &in6addr_loopback;
    size_t n = 0;

    if (flags & SOCKIT_RESOLVE_PASSIVE) {
        set_inet(&out[n++], AF_INET6, v6, ep->port);
        if (n < max)
            set_inet(&out[n++], AF_INET, &v4, ep->port);
    } else {
        set_inet(&out[n++], AF_INET, &v4, ep->port);
        if (n < max)
            set_inet(&out[n++], AF_INET6, v6, ep->port);
    }
    return (int)n;
}

static int map_gai_error(int rc)
{
    switch (rc) {
    case EAI_NONAME: return -SOCKIT_ENONAME;
    case EAI_AGAIN: return -SOCKIT_EAGAIN_RESOLVE;
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
    case EAI_FAMILY: return -SOCKIT_ENOADDR;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return errno ? -errno : -SOCKIT_ERESOLVE;
    }
    return -SOCKIT_ERESOLVE;
}

static int copy_results(const struct addrinfo *res, struct sockit_addr *out, size_t max)
{
    size_t n = 0;

    for (const struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ai->ai_addrlen > sizeof(out[n].u))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n].u, ai->ai_addr, ai->ai_addrlen);
        out[n].len = ai->ai_addrlen;
        n++;
    }
    return n ? (int)n : -SOCKIT_ENOADDR;
}

/* "fe80::1%eth0": the zone must name an interface (or be an index) for the address to mean
 * anything; getaddrinfo would only say the name does not resolve. */
static bool zone_exists(const char *host)
{
    const char *zone = strchr(host, '%');

    if (!zone || strspn(zone + 1, "0123456789") == strlen(zone + 1))
        return true;
    return if_nametoindex(zone + 1) != 0;
}

static int resolve_inet(const struct sockit_endpoint *ep, int flags, struct sockit_addr *out,
                        size_t max)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char port[8];

    if (ep->host[0] == '\0')
        return resolve_unspecified(ep, flags, out, max);
    if (!zone_exists(ep->host))
        return -SOCKIT_EZONE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = sockit_endpoint_socktype(ep);
    hints.ai_flags = AI_NUMERICSERV | ((flags & SOCKIT_RESOLVE_PASSIVE) ? AI_PASSIVE : 0);
    snprintf(port, sizeof(port), "%u", ep->port);
    errno = 0;
    int rc = getaddrinfo(ep->host, port, &hints, &res);
    if (rc != 0)
        return map_gai_error(rc);
    int n = copy_results(res, out, max);
    freeaddrinfo(res);
    return n;
}

/* Keep only the N addresses in OUT of the family FLAGS asks for (all if it asks none). */
static int keep_family(int flags, struct sockit_addr *out, int n)
{
    int want = (flags & SOCKIT_RESOLVE_IPV4)   ? AF_INET
               : (flags & SOCKIT_RESOLVE_IPV6) ? AF_INET6
                                               : 0;
    int kept = 0;

    if (n < 0 || want == 0)
        return n;
    for (int i = 0; i < n; i++) {
        if (out[i].u.sa.sa_family == want)
            out[kept++] = out[i];
    }
    return kept ? kept : -SOCKIT_ENOADDR;
}

int sockit_endpoint_resolve(const struct sockit_endpoint *ep, int flags, struct sockit_addr *out,
                            size_t max)
{
    if (max == 0)
        return -EINVAL;
    if (ep->transport == SOCKIT_PACKET)
        return -SOCKIT_ETYPE;
    if (sockit_endpoint_is_unix(ep))
        return resolve_unix(ep, out);
    return keep_family(flags, out, resolve_inet(ep, flags, out, max));
}

static int format_unix(const struct sockaddr_un *un, socklen_t len, char *buf, size_t size)
{
    size_t base = offsetof(struct sockaddr_un, sun_path);
    size_t plen = len > base ? len - base : 0;

    if (plen > sizeof(un->sun_path))
        plen = sizeof(un->sun_path);

    if (plen == 0)
        return snprintf(buf, size, "unix:(unnamed)");
    if (un->sun_path[0] == '\0')
        return snprintf(buf, size, "unix:@%.*s", (int)(plen - 1), un->sun_path + 1);
    return snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
}

static int format_in6(const struct sockaddr_in6 *in6, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 1] = "";
    char ifname[IF_NAMESIZE];

    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof(ip));
        return snprintf(buf, size, "%s:%u", ip, ntohs(in6->sin6_port));
    }
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    if (in6->sin6_scope_id != 0) {
        if (if_indextoname(in6->sin6_scope_id, ifname))
            snprintf(zone, sizeof(zone), "%%%s", ifname);
        else
            snprintf(zone, sizeof(zone), "%%%u", in6->sin6_scope_id);
    }
    return snprintf(buf, size, "[%s%s]:%u", ip, zone, ntohs(in6->sin6_port));
}

bool sockit_addr_equal(const struct sockit_addr *a, const struct sockit_addr *b)
{
    return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}

int sockit_addr_format(const struct sockit_addr *a, char *buf, size_t size)
{
    char ip[INET_ADDRSTRLEN];
    int n;

    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof(ip));
        n = snprintf(buf, size, "%s:%u", ip, ntohs(a->u.in.sin_port));
        break;
    case AF_INET6: n = format_in6(&a->u.in6, buf, size); break;
    case AF_UNIX: n = format_unix(&a->u.un, a->len, buf, size); break;
    default: n = snprintf(buf, size, "(family %d)", a->u.sa.sa_family); break;
    }
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}

size_t sockit_addr_dgram_max(const struct sockit_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return SOCKIT_UDP4_MAX;
    if (a->u.sa.sa_family == AF_INET6)
        return IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr) ? SOCKIT_UDP4_MAX : SOCKIT_UDP6_MAX;
    return 0;
}
