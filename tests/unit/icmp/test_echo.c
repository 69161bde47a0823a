/* The echo messages, sans-I/O (src/lib/icmp/echo.c): the checksum against known vectors, a
 * request built and read back as a reply, every malformed reply refused with a clear code
 * (short, bad IHL, cut short, wrong type, wrong identifier) and never read past its end, the
 * record of duplicates and order, and ping's words for ICMP errors. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/ping.h"

#define ID 0x1234

/* ---- checksum ---------------------------------------------------------------------------- */

Test(echo, checksum_matches_known_vectors)
{
    static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    static const uint8_t bare_echo[] = { 8, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t echo_abcd[] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd' };
    /* The IPv4 header of Wikipedia's checksum example, its checksum field zeroed. */
    static const uint8_t ipv4[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                    0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
    static const uint8_t odd[] = { 0x01 };

    cr_expect_eq(sockit_ping_checksum(rfc1071, sizeof(rfc1071)), 0x220d, "RFC 1071's example");
    cr_expect_eq(sockit_ping_checksum(bare_echo, sizeof(bare_echo)), 0xf7ff);
    cr_expect_eq(sockit_ping_checksum(echo_abcd, sizeof(echo_abcd)), 0x2104);
    cr_expect_eq(sockit_ping_checksum(ipv4, sizeof(ipv4)), 0xb861, "Wikipedia's IPv4 header");
    cr_expect_eq(sockit_ping_checksum(odd, 1), 0xfeff, "an odd byte is padded after");
    cr_expect_eq(sockit_ping_checksum(NULL, 0), 0xffff);
}

Test(echo, checksum_of_a_checksummed_message_is_zero)
{
    uint8_t msg[] = { 8, 0, 0x21, 0x04, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd' };

    cr_expect_eq(sockit_ping_checksum(msg, sizeof(msg)), 0);
    msg[9] ^= 1;
    cr_expect_neq(sockit_ping_checksum(msg, sizeof(msg)), 0, "one bit off is seen");
}

/* ---- build ----------------------------------------------------------------------------------- */

static struct sockit_ping_echo echo_of(uint16_t seq, size_t size)
{
    return (struct sockit_ping_echo){ .id = ID,
                                      .seq = seq,
                                      .size = size,
                                      .sent_ns = 1234567890123456789ull,
                                      .has_stamp = size >= SOCKIT_PING_STAMP };
}

Test(echo, an_ipv4_request_has_its_header_stamp_pattern_and_checksum)
{
    uint8_t buf[128];
    struct sockit_ping_echo e = echo_of(7, 56);
    int n = sockit_ping_build(buf, sizeof(buf), AF_INET, &e);

    cr_assert_eq(n, 64);
    cr_expect_eq(buf[0], 8, "type: echo request");
    cr_expect_eq(buf[1], 0);
    cr_expect_eq(buf[4] << 8 | buf[5], ID);
    cr_expect_eq(buf[6] << 8 | buf[7], 7);
    cr_expect_eq(sockit_ping_checksum(buf, (size_t)n), 0, "the checksum adds up");
    for (int i = SOCKIT_PING_STAMP; i < 56; i++)
        cr_expect_eq(buf[8 + i], i, "pattern byte %d", i);
}

Test(echo, an_ipv6_request_leaves_the_checksum_to_the_kernel)
{
    uint8_t buf[64];
    struct sockit_ping_echo e = echo_of(1, 8);
    int n = sockit_ping_build(buf, sizeof(buf), AF_INET6, &e);

    cr_assert_eq(n, 16);
    cr_expect_eq(buf[0], 128, "type: ICMPv6 echo request");
    cr_expect_eq(buf[2] | buf[3], 0, "checksum left 0");
    for (int i = 0; i < 8; i++)
        cr_expect_eq(buf[8 + i], i, "a payload under 16 bytes is all pattern");
}

Test(echo, build_refuses_what_cannot_be_sent)
{
    static uint8_t buf[SOCKIT_PING6_MAX_SIZE + 8];
    struct sockit_ping_echo e = echo_of(1, 56);

    cr_expect_eq(sockit_ping_build(buf, 63, AF_INET, &e), -ENOSPC);
    cr_expect_eq(sockit_ping_build(buf, sizeof(buf), AF_UNIX, &e), -EAFNOSUPPORT);
    e = echo_of(1, SOCKIT_PING4_MAX_SIZE + 1);
    cr_expect_eq(sockit_ping_build(buf, sizeof(buf), AF_INET, &e), -EMSGSIZE);
    cr_expect_eq(sockit_ping_build(buf, sizeof(buf), AF_INET6, &e), SOCKIT_PING4_MAX_SIZE + 9);
    e = echo_of(1, SOCKIT_PING6_MAX_SIZE + 1);
    cr_expect_eq(sockit_ping_build(buf, sizeof(buf) + 1, AF_INET6, &e), -EMSGSIZE);
    e = echo_of(1, 8);
    e.has_stamp = true;
    cr_expect_eq(sockit_ping_build(buf, sizeof(buf), AF_INET, &e), -EINVAL);
}

/* ---- replies --------------------------------------------------------------------------- */

/* The reply to a request of SIZE bytes, as a peer sends it back: type 0 (or 129), checksum
 * again; with an IPv4 header (TTL 61) in front when IP. Its length. */
static size_t reply_of(uint8_t *buf, int family, uint16_t seq, size_t size, bool ip)
{
    size_t off = ip ? 20 : 0;
    struct sockit_ping_echo e = echo_of(seq, size);
    int n = sockit_ping_build(buf + off, 2048, family, &e);

    cr_assert_gt(n, 0);
    buf[off] = family == AF_INET ? 0 : 129;
    buf[off + 2] = buf[off + 3] = 0;
    if (family == AF_INET) {
        uint16_t sum = sockit_ping_checksum(buf + off, (size_t)n);
        buf[off + 2] = (uint8_t)(sum >> 8);
        buf[off + 3] = (uint8_t)sum;
    }
    if (ip) {
        memset(buf, 0, 20);
        buf[0] = 0x45;
        buf[2] = (uint8_t)((n + 20) >> 8);
        buf[3] = (uint8_t)(n + 20);
        buf[8] = 61;
        buf[9] = IPPROTO_ICMP;
    }
    return off + (size_t)n;
}

Test(echo, an_ipv4_reply_after_its_ip_header_is_read_back)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET, 42, 56, true);

    cr_assert_eq(sockit_ping_parse(buf, len, AF_INET, true, ID, &r), 0);
    cr_expect_eq(r.echo.seq, 42);
    cr_expect_eq(r.echo.id, ID);
    cr_expect_eq(r.len, 64, "ICMP bytes, without the IP header");
    cr_expect_eq(r.echo.size, 56);
    cr_expect_eq(r.ttl, 61);
    cr_expect(r.echo.has_stamp);
    cr_expect_eq(r.echo.sent_ns, 1234567890123456789ull, "the stamp comes back");
    cr_expect_not(r.bad_checksum);
    cr_expect_eq(r.bad_byte, -1);
}

Test(echo, replies_without_an_ip_header_in_both_families)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET6, 3, 100, false);

    cr_assert_eq(sockit_ping_parse(buf, len, AF_INET6, false, ID, &r), 0);
    cr_expect_eq(r.len, 108);
    cr_expect_eq(r.ttl, -1, "the hop limit comes as ancillary data");
    len = reply_of(buf, AF_INET, 4, 0, false);
    cr_assert_eq(sockit_ping_parse(buf, len, AF_INET, false, ID, &r), 0);
    cr_expect_eq(r.echo.size, 0);
    cr_expect_not(r.echo.has_stamp, "no room for a send time");
}

Test(echo, bytes_after_the_ip_total_length_are_not_the_packet)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET, 1, 56, true);

    memset(buf + len, 0xee, 10); /* padding a link layer left */
    cr_assert_eq(sockit_ping_parse(buf, len + 10, AF_INET, true, ID, &r), 0);
    cr_expect_eq(r.len, 64);
}

Test(echo, malformed_ipv4_headers_are_refused)
{
    uint8_t buf[2048], copy[2048];
    struct sockit_ping_reply r = { .len = 99 };
    size_t len = reply_of(buf, AF_INET, 1, 56, true);

    cr_expect_eq(sockit_ping_parse(buf, 19, AF_INET, true, ID, &r), -EBADMSG, "short");
    memcpy(copy, buf, len);
    copy[0] = 0x44;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -EBADMSG, "IHL 4");
    copy[0] = 0x4f;
    cr_expect_eq(sockit_ping_parse(copy, 40, AF_INET, true, ID, &r), -EBADMSG, "IHL past data");
    copy[0] = 0x65;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -EBADMSG, "version 6");
    memcpy(copy, buf, len);
    copy[2] = 0;
    copy[3] = 10;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -EBADMSG,
                 "total length under the header");
    copy[3] = 24;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -EBADMSG,
                 "room for 4 ICMP bytes only");
    copy[9] = IPPROTO_UDP;
    copy[3] = (uint8_t)len;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -ENOMSG, "not ICMP");
    cr_expect_eq(r.len, 99, "*OUT untouched on error");
}

Test(echo, a_reply_cut_short_is_refused_at_every_length)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET, 1, 56, true);

    for (size_t n = 0; n < len; n++) {
        uint8_t *exact = malloc(n ? n : 1); /* so that ASan sees a read past N */
        memcpy(exact, buf, n);
        cr_expect_eq(sockit_ping_parse(exact, n, AF_INET, true, ID, &r), -EBADMSG,
                     "%zu of %zu bytes", n, len);
        free(exact);
    }
}

Test(echo, without_an_ip_header_under_eight_bytes_is_malformed_and_more_is_a_short_reply)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET6, 1, 56, false);

    for (size_t n = 0; n < 8; n++)
        cr_expect_eq(sockit_ping_parse(buf, n, AF_INET6, false, ID, &r), -EBADMSG, "%zu", n);
    cr_assert_eq(sockit_ping_parse(buf, 20, AF_INET6, false, ID, &r), 0);
    cr_expect_eq(r.echo.size, 12, "a truncated reply: its size says so");
    cr_expect_eq(sockit_ping_parse(buf, len, AF_INET6, false, ID, &r), 0);
}

Test(echo, other_types_codes_and_identifiers_are_not_ours)
{
    uint8_t buf[2048], copy[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET, 1, 56, true);

    cr_expect_eq(sockit_ping_parse(buf, len, AF_INET, true, ID + 1, &r), -ENOMSG, "another id");
    memcpy(copy, buf, len);
    copy[20] = 8;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -ENOMSG, "a request");
    copy[20] = 3;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -ENOMSG, "unreachable");
    copy[20] = 0;
    copy[21] = 1;
    cr_expect_eq(sockit_ping_parse(copy, len, AF_INET, true, ID, &r), -ENOMSG, "code 1");
    len = reply_of(buf, AF_INET6, 1, 56, false);
    cr_expect_eq(sockit_ping_parse(buf, len, AF_INET, false, ID, &r), -ENOMSG,
                 "an ICMPv6 reply (129) read as ICMP");
    buf[0] = 128;
    cr_expect_eq(sockit_ping_parse(buf, len, AF_INET6, false, ID, &r), -ENOMSG,
                 "an ICMPv6 request");
}

Test(echo, a_bad_checksum_and_a_wrong_byte_are_flagged_not_refused)
{
    uint8_t buf[2048];
    struct sockit_ping_reply r;
    size_t len = reply_of(buf, AF_INET, 1, 56, true);

    buf[20 + 8 + 30] ^= 0xff;
    cr_assert_eq(sockit_ping_parse(buf, len, AF_INET, true, ID, &r), 0);
    cr_expect(r.bad_checksum);
    cr_expect_eq(r.bad_byte, 30);
    cr_expect_eq(r.bad_value, 30 ^ 0xff);
    len = reply_of(buf, AF_INET6, 1, 56, false);
    buf[8 + 40] = 0;
    cr_assert_eq(sockit_ping_parse(buf, len, AF_INET6, false, ID, &r), 0);
    cr_expect_not(r.bad_checksum, "ICMPv6 checksums are the kernel's to check");
    cr_expect_eq(r.bad_byte, 40);
}

Test(echo, random_bytes_never_crash_the_parser)
{
    uint8_t buf[200];
    struct sockit_ping_reply r;
    unsigned seed = 7;

    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)rand_r(&seed) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand_r(&seed);
        if (round % 2)
            buf[0] = (uint8_t)(0x45 + round % 11); /* often a plausible IPv4 header */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        int rc =
            sockit_ping_parse(exact, len, round % 3 ? AF_INET : AF_INET6, round % 3 == 1, ID, &r);
        cr_assert(rc == 0 || rc == -EBADMSG || rc == -ENOMSG, "round %d: %d", round, rc);
        free(exact);
    }
}

/* ---- which sequence numbers came back ---------------------------------------------------- */

Test(echo, duplicates_and_out_of_order_replies_are_told_apart)
{
    static struct sockit_ping_seen s;

    memset(&s, 0, sizeof(s));
    for (int i = 1; i <= 4; i++)
        cr_assert_eq(sockit_ping_seen_send(&s), i);
    cr_expect_eq(sockit_ping_seen_reply(&s, 1), 0);
    cr_expect_eq(sockit_ping_seen_reply(&s, 3), 0, "a gap is not disorder");
    cr_expect_eq(sockit_ping_seen_reply(&s, 2), SOCKIT_PING_LATE);
    cr_expect_eq(sockit_ping_seen_reply(&s, 3), SOCKIT_PING_DUP);
    cr_expect_eq(sockit_ping_seen_reply(&s, 4), 0);
    cr_expect_eq(s.pipe, 4, "all four were in flight when 1 came back");
}

Test(echo, a_sequence_number_used_again_after_65536_requests_is_not_a_duplicate)
{
    static struct sockit_ping_seen s;

    memset(&s, 0, sizeof(s));
    for (unsigned long i = 0; i < 65536; i++) {
        uint16_t seq = sockit_ping_seen_send(&s);
        cr_assert_eq(sockit_ping_seen_reply(&s, seq), 0, "request %lu", i + 1);
    }
    cr_expect_eq(sockit_ping_seen_send(&s), 1, "the numbers wrap: 65535, 0, 1");
    cr_expect_eq(sockit_ping_seen_reply(&s, 1), 0, "a new request 1");
    cr_expect_eq(s.pipe, 1);
}

Test(echo, an_error_ends_a_flight_for_the_pipe)
{
    static struct sockit_ping_seen s;

    memset(&s, 0, sizeof(s));
    sockit_ping_seen_send(&s);
    sockit_ping_seen_send(&s);
    sockit_ping_seen_error(&s, 1);
    cr_expect_eq(s.pipe, 2);
    cr_expect_eq(sockit_ping_seen_reply(&s, 1), 0, "an error is not an answer");
}

/* ---- ping's words -------------------------------------------------------------------------- */

Test(echo, icmp_errors_are_described_in_pings_words)
{
    static const struct {
        int family, type, code;
        uint32_t info;
        const char *words;
    } cases[] = {
        { AF_INET, 3, 1, 0, "Destination Host Unreachable" },
        { AF_INET, 3, 4, 1400, "Frag needed and DF set (mtu = 1400)" },
        { AF_INET, 3, 77, 0, "Dest Unreachable, Bad Code: 77" },
        { AF_INET, 11, 0, 0, "Time to live exceeded" },
        { AF_INET, 12, 0, 20, "Parameter problem: pointer = 20" },
        { AF_INET, 99, 0, 0, "Bad ICMP type: 99" },
        { AF_INET6, 1, 3, 0, "Destination unreachable: Address unreachable" },
        { AF_INET6, 1, 9, 0, "Destination unreachable: Unknown code 9" },
        { AF_INET6, 2, 0, 1280, "Packet too big: mtu=1280" },
        { AF_INET6, 3, 0, 0, "Time exceeded: Hop limit" },
        { AF_INET6, 4, 1, 40, "Parameter problem: Unknown header at 40" },
        { AF_INET6, 4, 7, 40, "Parameter problem: code 7 at 40" },
        { AF_INET6, 200, 0, 0, "unknown icmp type: 200" },
    };
    char b[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_str_eq(sockit_ping_describe(cases[i].family, (uint8_t)cases[i].type,
                                              (uint8_t)cases[i].code, cases[i].info, b, sizeof(b)),
                         cases[i].words, "case %zu", i);
    cr_expect_str_eq(sockit_ping_describe(AF_INET, 3, 1, 0, b, 12), "Destination", "cut to fit");
}
