/* Error texts for libsockit's codes: -errno from the C library, -SOCKIT_E* from our table. */
#include <limits.h>
#include <string.h>

#include "sockit/error.h"

static const char *const sockit_messages[SOCKIT_E_LAST - SOCKIT_E_FIRST] = {
    [SOCKIT_EEMPTY - SOCKIT_E_FIRST] = "empty endpoint",
    [SOCKIT_ETOOLONG - SOCKIT_E_FIRST] = "endpoint is too long",
    [SOCKIT_ECTRL - SOCKIT_E_FIRST] = "space or control character in endpoint",
    [SOCKIT_ESCHEME - SOCKIT_E_FIRST] =
        "unknown scheme (expected tcp://, udp://, unix: or unix-dgram:)",
    [SOCKIT_ENOPORT - SOCKIT_E_FIRST] = "missing port (expected HOST:PORT)",
    [SOCKIT_EPORT - SOCKIT_E_FIRST] = "port is not a number from 1 to 65535",
    [SOCKIT_EHOST - SOCKIT_E_FIRST] = "invalid host name",
    [SOCKIT_EIPV4 - SOCKIT_E_FIRST] = "invalid IPv4 address",
    [SOCKIT_EIPV6 - SOCKIT_E_FIRST] = "invalid IPv6 address",
    [SOCKIT_EBRACKET - SOCKIT_E_FIRST] =
        "unbalanced brackets (write IPv6 as [ADDRESS]:PORT, e.g. [::1]:8080)",
    [SOCKIT_EV6BRACKETS - SOCKIT_E_FIRST] =
        "IPv6 address must be in brackets (e.g. tcp://[::1]:8080)",
    [SOCKIT_EPATHEMPTY - SOCKIT_E_FIRST] = "empty unix socket path",
    [SOCKIT_EPATHLONG - SOCKIT_E_FIRST] = "unix socket path is longer than 107 bytes",
    [SOCKIT_ENONAME - SOCKIT_E_FIRST] = "host name does not resolve",
    [SOCKIT_ENOADDR - SOCKIT_E_FIRST] = "host has no address of a usable family",
    [SOCKIT_ERESOLVE - SOCKIT_E_FIRST] = "name resolution failed",
    [SOCKIT_EAGAIN_RESOLVE - SOCKIT_E_FIRST] = "temporary failure in name resolution",
    [SOCKIT_ETRUNC - SOCKIT_E_FIRST] = "datagram truncated: larger than the receive buffer",
    [SOCKIT_EDGRAMSIZE - SOCKIT_E_FIRST] =
        "datagram too large (UDP payload max is 65507 bytes over IPv4, 65527 over IPv6)",
    [SOCKIT_ETYPE - SOCKIT_E_FIRST] = "operation does not fit this endpoint type",
};

const char *sockit_strerror(int code)
{
    int e = code < 0 ? (code == INT_MIN ? INT_MAX : -code) : code;

    if (e >= SOCKIT_E_FIRST && e < SOCKIT_E_LAST)
        return sockit_messages[e - SOCKIT_E_FIRST];
    const char *text = strerrordesc_np(e);
    return text ? text : "unknown error";
}
