/* sockit/endpoint.h — one endpoint syntax everywhere: parse, format, resolve.
 *
 *   tcp://HOST:PORT   udp://HOST:PORT   HOST:PORT (= tcp)   tcp://:PORT (any address)
 *   tcp://[::1]:8080  tcp://[fe80::1%eth0]:80   unix:/run/x.sock   unix:@abstract
 *   unix-dgram:/tmp/d.sock   unix-dgram:@name
 *   packet:eth0   packet:any   (AF_PACKET: every frame of one interface, or of all)
 *
 * The parser is strict (ports 0-65535, 0 meaning any free port for a bind; IPv6 only in
 * brackets; unix paths <= 107 bytes) and
 * touches no network; resolution is a separate step. All structs are plain values owned by
 * the caller; no function keeps a pointer to its arguments. */
#ifndef SOCKIT_ENDPOINT_H
#define SOCKIT_ENDPOINT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_ENDPOINT_MAX  512   /* longest endpoint text accepted, in bytes */
#define SOCKIT_HOST_MAX      253   /* longest host name (RFC 1035) */
#define SOCKIT_UNIX_PATH_MAX 107   /* sizeof(sun_path) - 1 */
#define SOCKIT_IFNAME_MAX    15    /* IFNAMSIZ - 1 */
#define SOCKIT_ADDR_STRLEN   128   /* enough for any sockit_addr_format() output */
#define SOCKIT_UDP4_MAX      65507 /* largest UDP payload over IPv4 (65535 - 20 - 8) */
#define SOCKIT_UDP6_MAX      65527 /* largest UDP payload over IPv6 (65535 - 8) */

enum sockit_transport {
    SOCKIT_TCP = 1,    /* tcp://  stream over IPv4/IPv6 */
    SOCKIT_UDP,        /* udp://  datagrams over IPv4/IPv6 */
    SOCKIT_UNIX,       /* unix:   AF_UNIX stream */
    SOCKIT_UNIX_DGRAM, /* unix-dgram: AF_UNIX datagrams */
    SOCKIT_PACKET,     /* packet: AF_PACKET frames of an interface (capture, inject) */
};

struct sockit_endpoint {
    enum sockit_transport transport;
    uint16_t port;                       /* inet only; host byte order; 0: any (bind) */
    char host[SOCKIT_HOST_MAX + 1];      /* inet only; "" = any/unspecified; IPv6 unbracketed */
    char path[SOCKIT_UNIX_PATH_MAX + 2]; /* unix only; "@name" = abstract namespace */
    char ifname[SOCKIT_IFNAME_MAX + 1];  /* packet only; "any" = every interface */
};

/* A resolved socket address, ready for bind/connect. */
struct sockit_addr {
    socklen_t len;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
};

/* Parse TEXT into *EP. Returns 0, or -SOCKIT_E* naming what is wrong; *EP is undefined then. */
int sockit_endpoint_parse(const char *text, struct sockit_endpoint *ep);

/* Write the canonical form of EP into BUF (always with a scheme, IPv6 in brackets), so that
 * parsing it gives back an equal endpoint. Returns the length, or -ENOSPC if SIZE is short. */
int sockit_endpoint_format(const struct sockit_endpoint *ep, char *buf, size_t size);

/* The scheme that starts the text of a T endpoint: "tcp://", "udp://", "unix:",
 * "unix-dgram:" or "packet:"; "?:" for a value outside the enum. A static string. */
const char *sockit_endpoint_scheme(enum sockit_transport t);

/* True for tcp:// and unix: (connection-oriented), false for udp:// and unix-dgram:. */
bool sockit_endpoint_is_stream(const struct sockit_endpoint *ep);

/* True for unix: and unix-dgram:. */
bool sockit_endpoint_is_unix(const struct sockit_endpoint *ep);

/* The socket type for EP: SOCK_STREAM, SOCK_DGRAM, or SOCK_RAW for packet:. */
int sockit_endpoint_socktype(const struct sockit_endpoint *ep);

enum {
    SOCKIT_RESOLVE_PASSIVE = 1, /* for bind: empty host means the wildcard ([::] then 0.0.0.0);
                                   without it, empty host means loopback */
    SOCKIT_RESOLVE_IPV4 = 2,    /* IPv4 addresses only (-SOCKIT_ENOADDR if there are none) */
    SOCKIT_RESOLVE_IPV6 = 4,    /* IPv6 addresses only (-SOCKIT_ENOADDR if there are none) */
};

/* Resolve EP into at most MAX addresses in OUT, in the order to try them. Literal hosts never
 * touch DNS. Returns the number of addresses (>= 1), or a negative code (-SOCKIT_ETYPE for
 * packet:, which names an interface, not an address: see sockit/capture.h). */
int sockit_endpoint_resolve(const struct sockit_endpoint *ep, int flags, struct sockit_addr *out,
                            size_t max);

/* Whether A and B are the same address, byte for byte over their length (a datagram peer
 * and a session's, say). */
bool sockit_addr_equal(const struct sockit_addr *a, const struct sockit_addr *b);

/* Format A as "127.0.0.1:8080", "[::1]:8080", "unix:/path", "unix:@name" or "unix:(unnamed)".
 * IPv4-mapped IPv6 addresses print as plain IPv4. Returns the length, or -ENOSPC. */
int sockit_addr_format(const struct sockit_addr *a, char *buf, size_t size);

/* Largest datagram payload towards A: SOCKIT_UDP4_MAX for IPv4 (and IPv4-mapped IPv6, which
 * travels as IPv4), SOCKIT_UDP6_MAX for IPv6, or 0 when the kernel decides (AF_UNIX: limited
 * by the socket's send buffer). */
size_t sockit_addr_dgram_max(const struct sockit_addr *a);

#ifdef __cplusplus
}
#endif

#endif
