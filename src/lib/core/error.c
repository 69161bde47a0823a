/* Error texts for libsockit's codes: -errno from the C library, -SOCKIT_E* from our table. */
#include <limits.h>
#include <string.h>

#include "sockit/error.h"

static const char *const core_texts[SOCKIT_E_CORE_END - SOCKIT_E_CORE] = {
    [SOCKIT_EEMPTY - SOCKIT_E_CORE] = "empty endpoint",
    [SOCKIT_ETOOLONG - SOCKIT_E_CORE] = "endpoint is too long",
    [SOCKIT_ECTRL - SOCKIT_E_CORE] = "space or control character in endpoint",
    [SOCKIT_ESCHEME - SOCKIT_E_CORE] =
        "unknown scheme (expected tcp://, udp://, unix: or unix-dgram:)",
    [SOCKIT_ENOPORT - SOCKIT_E_CORE] = "missing port (expected HOST:PORT)",
    [SOCKIT_EPORT - SOCKIT_E_CORE] = "port is not a number from 1 to 65535",
    [SOCKIT_EHOST - SOCKIT_E_CORE] = "invalid host name",
    [SOCKIT_EIPV4 - SOCKIT_E_CORE] = "invalid IPv4 address",
    [SOCKIT_EIPV6 - SOCKIT_E_CORE] = "invalid IPv6 address",
    [SOCKIT_EBRACKET - SOCKIT_E_CORE] =
        "unbalanced brackets (write IPv6 as [ADDRESS]:PORT, e.g. [::1]:8080)",
    [SOCKIT_EV6BRACKETS - SOCKIT_E_CORE] =
        "IPv6 address must be in brackets (e.g. tcp://[::1]:8080)",
    [SOCKIT_EPATHEMPTY - SOCKIT_E_CORE] = "empty unix socket path",
    [SOCKIT_EPATHLONG - SOCKIT_E_CORE] = "unix socket path is longer than 107 bytes",
    [SOCKIT_ENONAME - SOCKIT_E_CORE] = "host name does not resolve",
    [SOCKIT_ENOADDR - SOCKIT_E_CORE] = "host has no address of a usable family",
    [SOCKIT_ERESOLVE - SOCKIT_E_CORE] = "name resolution failed",
    [SOCKIT_EAGAIN_RESOLVE - SOCKIT_E_CORE] = "temporary failure in name resolution",
    [SOCKIT_ETRUNC - SOCKIT_E_CORE] = "datagram truncated: larger than the receive buffer",
    [SOCKIT_EDGRAMSIZE - SOCKIT_E_CORE] =
        "datagram too large (UDP payload max is 65507 bytes over IPv4, 65527 over IPv6)",
    [SOCKIT_ETYPE - SOCKIT_E_CORE] = "operation does not fit this endpoint type",
    [SOCKIT_EZONE - SOCKIT_E_CORE] = "no such network interface (the IPv6 zone after '%')",
    [SOCKIT_ENOTSOCK_PATH - SOCKIT_E_CORE] =
        "the path exists and is not a socket (remove it or choose another)",
};

static const char *const server_texts[SOCKIT_E_SERVER_END - SOCKIT_E_SERVER] = {
    [SOCKIT_EFULL - SOCKIT_E_SERVER] = "server at its client limit",
    [SOCKIT_EIDLE - SOCKIT_E_SERVER] = "client idle for too long",
};

/* One row per module that has codes; error.h reserves the range of every module. */
static const struct {
    int base, end;
    const char *const *texts; /* indexed by code - base */
} modules[] = {
    { SOCKIT_E_CORE, SOCKIT_E_CORE_END, core_texts },
    { SOCKIT_E_SERVER, SOCKIT_E_SERVER_END, server_texts },
};

_Static_assert(SOCKIT_E_CORE_END <= SOCKIT_E_LOOP, "core's codes overflow into the loop's range");
_Static_assert(SOCKIT_E_SERVER_END <= SOCKIT_E_HTTP, "server's codes overflow into http's range");

static const char *module_text(int e)
{
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
        if (e >= modules[i].base && e < modules[i].end)
            return modules[i].texts[e - modules[i].base];
    }
    return NULL; /* reserved, but not (yet) a code */
}

const char *sockit_strerror(int code)
{
    int e = code < 0 ? (code == INT_MIN ? INT_MAX : -code) : code;
    const char *text =
        e >= SOCKIT_E_FIRST && e < SOCKIT_E_END ? module_text(e) : strerrordesc_np(e);

    return text ? text : "unknown error";
}
