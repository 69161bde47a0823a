/* libFuzzer target for sockit/decode.h. The first input byte chooses the link type (its low
 * two bits) and how many bytes the packet had on the wire past those captured (the rest of
 * it, times 16); the other bytes are the frame. On any input:
 *
 *   - the decoder never reads outside the captured bytes (ASan: they are copied to a buffer
 *     of exactly that size) and returns 0;
 *   - .truncated is one layer bit or none, and the offsets it reports lie inside the frame;
 *   - the summary and the JSON return the length they need, which is strlen when it fits, and
 *     a small buffer holds the start of what a large one holds;
 *   - the JSON's brackets and quotes balance, with no empty member between two commas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/decode.h"

static const int links[4] = { SOCKIT_LINK_ETHERNET, SOCKIT_LINK_RAW, SOCKIT_LINK_LINUX_SLL,
                              SOCKIT_LINK_LINUX_SLL2 };

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_decode: %s: %s\n", what, text ? text : "");
    abort();
}

static void check_struct(const struct sockit_pkt *p)
{
    if (p->truncated & (p->truncated - 1))
        fail("more than one truncated layer", NULL);
    if (p->malformed && !p->truncated)
        fail("malformed but not stopped", NULL);
    if (p->net_off > p->caplen || p->l4_off + p->l4_caplen > p->caplen ||
        p->payload_off > p->wirelen || p->tcp.nopts > SOCKIT_PKT_MAX_TCPOPTS ||
        p->ip.nexts > SOCKIT_PKT_MAX_EXTS || p->nvlans > SOCKIT_PKT_MAX_VLANS)
        fail("an offset or a count out of bounds", NULL);
}

/* Brackets nest and close, strings end, and no member is empty. */
static void check_json(const char *j)
{
    char stack[64];
    int depth = 0;
    bool in_string = false;

    for (const char *s = j; *s; s++) {
        if (in_string) {
            in_string = *s != '"';
            continue;
        }
        if (*s == '"')
            in_string = true;
        else if (*s == '{' || *s == '[')
            stack[depth++ & 63] = *s == '{' ? '}' : ']';
        else if ((*s == '}' || *s == ']') && (depth == 0 || stack[--depth & 63] != *s))
            fail("unbalanced JSON", j);
        if (*s == ',' &&
            (s == j || s[1] == ',' || s[1] == '}' || s[1] == ']' || s[-1] == '{' || s[-1] == '['))
            fail("an empty JSON member", j);
    }
    if (in_string || depth)
        fail("unterminated JSON", j);
}

/* WRITE into a small and a large buffer: the same length, strlen when it fits, a prefix. */
static void check_writer(size_t (*write)(const struct sockit_pkt *, char *, size_t),
                         const struct sockit_pkt *p, const char *what)
{
    static char large[16384];
    char small[24];
    size_t n = write(p, large, sizeof(large)), m = write(p, small, sizeof(small));

    if (n >= sizeof(large) || n != strlen(large))
        fail(what, "the length returned is not what was written");
    if (m != n || strlen(small) != (n < sizeof(small) ? n : sizeof(small) - 1) ||
        strncmp(small, large, strlen(small)) != 0)
        fail(what, "a small buffer does not hold the start of the text");
    if (write(p, NULL, 0) != n)
        fail(what, "counting alone gives another length");
    if (write == sockit_pkt_json)
        check_json(large);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockit_pkt p;

    if (size == 0 || size > 65536)
        return 0;
    size_t caplen = size - 1, wirelen = caplen + (size_t)(data[0] >> 2) * 16;
    uint8_t *frame = malloc(caplen ? caplen : 1);
    memcpy(frame, data + 1, caplen);
    if (sockit_pkt_decode(&p, links[data[0] & 3], frame, caplen, wirelen) != 0)
        fail("a known link type refused", NULL);
    check_struct(&p);
    check_writer(sockit_pkt_summary, &p, "summary");
    check_writer(sockit_pkt_json, &p, "json");
    free(frame);
    return 0;
}
