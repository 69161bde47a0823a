/* libFuzzer target for the echo reply parser (sockit/ping.h), in its three modes (IPv4 after
 * an IP header, IPv4 and IPv6 without one):
 *
 *   parse(x) is 0, -EBADMSG or -ENOMSG, reads nothing past x (ASan), and on 0 says what x
 *   holds: a length within x, a payload of length - 8, a bad byte inside the payload;
 *   a request built from x's first bytes, answered, parses back to the same fields. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/ping.h"

static void fail(const char *what, size_t size)
{
    fprintf(stderr, "fuzz_ping: %s (input of %zu bytes)\n", what, size);
    abort();
}

static void check_parse(const uint8_t *data, size_t size, int family, int ip_header)
{
    uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
    struct sockit_ping_reply r;
    int rc = sockit_ping_parse(data, size, family, ip_header, id, &r);

    if (rc != 0 && rc != -EBADMSG && rc != -ENOMSG)
        fail("parse returned another code", size);
    if (rc != 0)
        return;
    if (r.len < SOCKIT_PING_HEADER || r.len > size || r.echo.size != r.len - SOCKIT_PING_HEADER)
        fail("a reply's lengths do not fit the input", size);
    if (r.echo.id != id || r.bad_byte >= (long)r.echo.size || (ip_header && r.ttl < 0))
        fail("a reply's fields are inconsistent", size);
}

/* A request from the input's first bytes (size, seq), answered as a peer would: the same
 * fields come back. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    static uint8_t buf[SOCKIT_PING_HEADER + 1024];
    struct sockit_ping_echo e = { .id = 0x4242 };
    struct sockit_ping_reply r;

    if (size < 4)
        return;
    e.seq = (uint16_t)(data[0] << 8 | data[1]);
    e.size = (size_t)(data[2] << 8 | data[3]) % 1024;
    e.has_stamp = e.size >= SOCKIT_PING_STAMP;
    e.sent_ns = e.seq * 1000003ull;
    int n = sockit_ping_build(buf, sizeof(buf), AF_INET6, &e);
    if (n != (int)(SOCKIT_PING_HEADER + e.size))
        fail("build failed", size);
    buf[0] = 129; /* echo reply */
    if (sockit_ping_parse(buf, (size_t)n, AF_INET6, 0, e.id, &r) != 0)
        fail("an answered request does not parse", size);
    if (r.echo.seq != e.seq || r.echo.size != e.size || r.bad_byte != -1 ||
        (e.has_stamp && r.echo.sent_ns != e.sent_ns))
        fail("an answered request parses to other fields", size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *exact = malloc(size ? size : 1); /* a copy of exactly SIZE bytes: ASan sees past */

    if (!exact)
        return 0;
    memcpy(exact, data, size);
    check_parse(exact, size, AF_INET, 1);
    check_parse(exact, size, AF_INET, 0);
    check_parse(exact, size, AF_INET6, 0);
    check_round_trip(exact, size);
    free(exact);
    return 0;
}
