/* sockit/error.h — the one error convention of libsockit.
 *
 * Every function returns >= 0 on success and a negative code on failure: -errno for a
 * failed system call, or -SOCKIT_E* (below) for errors that have no errno. The library
 * never prints and never exits; callers turn a code into text with sockit_strerror(). */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

/* sockit's own codes start far above any errno value, so -code never collides. */
enum sockit_errcode {
    SOCKIT_E_FIRST = 10000,
    SOCKIT_EEMPTY = SOCKIT_E_FIRST, /* endpoint text is empty */
    SOCKIT_ETOOLONG,                /* endpoint text longer than SOCKIT_ENDPOINT_MAX */
    SOCKIT_ECTRL,                   /* control character or space inside an endpoint */
    SOCKIT_ESCHEME,                 /* unknown scheme before "://" or ":" */
    SOCKIT_ENOPORT,                 /* HOST without ":PORT" */
    SOCKIT_EPORT,                   /* port not a decimal number 1..65535 */
    SOCKIT_EHOST,                   /* host is neither an IP literal nor a valid host name */
    SOCKIT_EIPV4,                   /* dotted-decimal that is not a valid IPv4 address */
    SOCKIT_EIPV6,                   /* bracketed text that is not a valid IPv6 address */
    SOCKIT_EBRACKET,                /* unbalanced or misplaced '[' / ']' */
    SOCKIT_EV6BRACKETS,             /* IPv6 literal written without brackets */
    SOCKIT_EPATHEMPTY,              /* unix endpoint with an empty path */
    SOCKIT_EPATHLONG,               /* unix path longer than SOCKIT_UNIX_PATH_MAX bytes */
    SOCKIT_ENONAME,                 /* host name does not resolve */
    SOCKIT_ENOADDR,                 /* host resolves, but to no usable address */
    SOCKIT_ERESOLVE,                /* name resolution failed for another reason */
    SOCKIT_EAGAIN_RESOLVE,          /* temporary failure in name resolution */
    SOCKIT_ETRUNC,                  /* datagram larger than the receive buffer: truncated */
    SOCKIT_EDGRAMSIZE,              /* datagram larger than the family's maximum payload */
    SOCKIT_ETYPE,                   /* operation does not fit the endpoint's socket type */
    SOCKIT_E_LAST
};

/* Text for a code returned by any libsockit function (negative), e.g. "Connection refused"
 * or "port is not a number from 1 to 65535". Always a static string; thread-safe. */
const char *sockit_strerror(int code);

#endif
