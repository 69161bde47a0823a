/* libFuzzer target for the endpoint parser: whatever parses must round-trip.
 *
 *   parse(x) == 0  =>  format(parse(x)) succeeds,
 *                      parse(format(parse(x))) succeeds and equals parse(x) field by field,
 *                      format(parse(format(parse(x)))) == format(parse(x)).
 *
 * Never resolves (no network). Input bytes after an embedded NUL are ignored. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/endpoint.h"
#include "sockit/error.h"

/* Longer inputs only exercise the SOCKIT_ETOOLONG check; keep a little beyond the limit. */
#define FUZZ_INPUT_MAX (4 * SOCKIT_ENDPOINT_MAX)

static void fail(const char *what, const char *text, const char *formatted)
{
    fprintf(stderr, "fuzz_endpoint: %s\n  input:     \"%s\"\n  formatted: \"%s\"\n", what, text,
            formatted ? formatted : "(none)");
    abort();
}

static int transport_is_inet(enum sockit_transport t)
{
    return t == SOCKIT_TCP || t == SOCKIT_UDP;
}

static int transport_is_unix(enum sockit_transport t)
{
    return t == SOCKIT_UNIX || t == SOCKIT_UNIX_DGRAM;
}

/* Equality of the fields meaningful for the transport; strings must be NUL-terminated
 * inside their arrays. */
static int same_endpoint(const struct sockit_endpoint *a, const struct sockit_endpoint *b)
{
    if (a->transport != b->transport)
        return 0;
    if (transport_is_inet(a->transport)) {
        if (memchr(a->host, '\0', sizeof a->host) == NULL ||
            memchr(b->host, '\0', sizeof b->host) == NULL)
            return 0;
        return a->port == b->port && strcmp(a->host, b->host) == 0;
    }
    if (a->transport == SOCKIT_PACKET) {
        if (memchr(a->ifname, '\0', sizeof a->ifname) == NULL ||
            memchr(b->ifname, '\0', sizeof b->ifname) == NULL)
            return 0;
        return strcmp(a->ifname, b->ifname) == 0;
    }
    if (memchr(a->path, '\0', sizeof a->path) == NULL ||
        memchr(b->path, '\0', sizeof b->path) == NULL)
        return 0;
    return strcmp(a->path, b->path) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[FUZZ_INPUT_MAX + 1];
    if (size > FUZZ_INPUT_MAX)
        size = FUZZ_INPUT_MAX;
    memcpy(text, data, size);
    text[size] = '\0';

    struct sockit_endpoint ep1, ep2;
    memset(&ep1, 0xA5, sizeof ep1);
    int rc = sockit_endpoint_parse(text, &ep1);
    if (rc != 0) {
        if (rc > 0)
            fail("parse returned a positive value", text, NULL);
        const char *msg = sockit_strerror(rc);
        if (msg == NULL || msg[0] == '\0')
            fail("sockit_strerror gave no text for a parse error", text, NULL);
        return 0;
    }

    if (!transport_is_inet(ep1.transport) && !transport_is_unix(ep1.transport) &&
        ep1.transport != SOCKIT_PACKET)
        fail("parse succeeded with an unknown transport", text, NULL);
    /* Port 0 (any port, for a bind) has one spelling: ":0" at the end, no leading zeros. */
    size_t tlen = strlen(text);
    if (transport_is_inet(ep1.transport) && ep1.port == 0 &&
        (tlen < 2 || strcmp(text + tlen - 2, ":0") != 0))
        fail("parse gave port 0 for a text not ending in ':0'", text, NULL);

    char buf1[SOCKIT_ENDPOINT_MAX + 1], buf2[SOCKIT_ENDPOINT_MAX + 1];
    int n1 = sockit_endpoint_format(&ep1, buf1, sizeof buf1);
    if (n1 < 0)
        fail("format of a parsed endpoint failed", text, NULL);
    if ((size_t)n1 != strnlen(buf1, sizeof buf1))
        fail("format returned a length different from what it wrote", text, buf1);

    /* A buffer one byte short must give -ENOSPC, never a truncated success. */
    char shortbuf[SOCKIT_ENDPOINT_MAX + 1];
    if (sockit_endpoint_format(&ep1, shortbuf, (size_t)n1) >= 0)
        fail("format into a buffer one byte short succeeded", text, buf1);

    memset(&ep2, 0x5A, sizeof ep2);
    rc = sockit_endpoint_parse(buf1, &ep2);
    if (rc != 0)
        fail("formatted text does not parse", text, buf1);
    if (!same_endpoint(&ep1, &ep2))
        fail("parse(format(parse(x))) differs from parse(x)", text, buf1);

    int n2 = sockit_endpoint_format(&ep2, buf2, sizeof buf2);
    if (n2 != n1 || strcmp(buf1, buf2) != 0)
        fail("formatting twice gives different text", text, buf1);

    if (sockit_endpoint_is_unix(&ep1) != (transport_is_unix(ep1.transport) != 0))
        fail("is_unix disagrees with the transport", text, buf1);
    return 0;
}
