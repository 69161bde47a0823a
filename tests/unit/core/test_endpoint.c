/* Unit tests for the endpoint parser, formatter and resolver (sockit/endpoint.h) and for
 * sockit_strerror (sockit/error.h). The header comments are the contract tested here. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sockit/endpoint.h"
#include "sockit/error.h"

/* ---------------------------------------------------------------- helpers */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Printable copy of TEXT for failure messages (control bytes as \xNN, long text cut). */
static const char *show(const char *text)
{
    static char out[4][160];
    static int slot;
    char *o = out[slot++ % 4];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < 140; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            n += (size_t)snprintf(o + n, 160 - n, "\\x%02x", *p);
        else
            o[n++] = (char)*p;
    }
    if (strlen(text) > 60 && n >= 140)
        n += (size_t)snprintf(o + n, 160 - n, "...(%zu bytes)", strlen(text));
    o[n] = '\0';
    return o;
}

/* Parse TEXT, asserting success. The struct is pre-filled with garbage so that a parser
 * that forgets to set a field is caught. */
static struct sockit_endpoint parse_ok(const char *text)
{
    struct sockit_endpoint ep;
    memset(&ep, 0xA5, sizeof ep);
    int rc = sockit_endpoint_parse(text, &ep);
    cr_assert_eq(rc, 0, "parse(\"%s\") returned %d (%s), expected success", show(text), rc,
                 sockit_strerror(rc));
    return ep;
}

static const char *code_name(int code)
{
    static const char *const names[] = {
        "SOCKIT_EEMPTY",         "SOCKIT_ETOOLONG",      "SOCKIT_ECTRL",       "SOCKIT_ESCHEME",
        "SOCKIT_ENOPORT",        "SOCKIT_EPORT",         "SOCKIT_EHOST",       "SOCKIT_EIPV4",
        "SOCKIT_EIPV6",          "SOCKIT_EBRACKET",      "SOCKIT_EV6BRACKETS", "SOCKIT_EPATHEMPTY",
        "SOCKIT_EPATHLONG",      "SOCKIT_ENONAME",       "SOCKIT_ENOADDR",     "SOCKIT_ERESOLVE",
        "SOCKIT_EAGAIN_RESOLVE", "SOCKIT_ETRUNC",        "SOCKIT_EDGRAMSIZE",  "SOCKIT_ETYPE",
        "SOCKIT_EZONE",          "SOCKIT_ENOTSOCK_PATH",
    };
    int c = -code;
    if (c >= SOCKIT_E_FIRST && c < SOCKIT_E_LAST && (size_t)(c - SOCKIT_E_FIRST) < NELEM(names))
        return names[c - SOCKIT_E_FIRST];
    if (code == 0)
        return "success";
    return "(other)";
}

/* Expect parse(TEXT) to fail with exactly -CODE (non-fatal, so one test lists every miss). */
static void expect_reject(const char *text, int code)
{
    struct sockit_endpoint ep;
    memset(&ep, 0xA5, sizeof ep);
    int rc = sockit_endpoint_parse(text, &ep);
    cr_expect_eq(rc, -code, "parse(\"%s\") returned %d [%s] (%s), expected -%s", show(text), rc,
                 code_name(rc), sockit_strerror(rc), code_name(-code));
}

/* Expect parse(TEXT) to fail with one of two codes (where the contract allows either). */
static void expect_reject_either(const char *text, int code1, int code2)
{
    struct sockit_endpoint ep;
    int rc = sockit_endpoint_parse(text, &ep);
    cr_expect(rc == -code1 || rc == -code2,
              "parse(\"%s\") returned %d [%s] (%s), expected -%s or -%s", show(text), rc,
              code_name(rc), sockit_strerror(rc), code_name(-code1), code_name(-code2));
}

static bool is_inet(enum sockit_transport t)
{
    return t == SOCKIT_TCP || t == SOCKIT_UDP;
}

/* Field-by-field equality of the fields that the transport gives a meaning to. */
static void expect_same_endpoint(const struct sockit_endpoint *a, const struct sockit_endpoint *b,
                                 const char *text)
{
    cr_expect_eq(a->transport, b->transport, "\"%s\": transport %d != %d", show(text), a->transport,
                 b->transport);
    if (is_inet(a->transport)) {
        cr_expect_eq(a->port, b->port, "\"%s\": port %u != %u", show(text), a->port, b->port);
        cr_expect_str_eq(a->host, b->host, "\"%s\": host \"%s\" != \"%s\"", show(text), a->host,
                         b->host);
    } else {
        cr_expect_str_eq(a->path, b->path, "\"%s\": path \"%s\" != \"%s\"", show(text), a->path,
                         b->path);
    }
}

static void expect_inet(const char *text, enum sockit_transport t, const char *host, uint16_t port)
{
    struct sockit_endpoint ep = parse_ok(text);
    cr_expect_eq(ep.transport, t, "parse(\"%s\"): transport %d, expected %d", show(text),
                 ep.transport, t);
    cr_expect_str_eq(ep.host, host, "parse(\"%s\"): host \"%s\", expected \"%s\"", show(text),
                     ep.host, host);
    cr_expect_eq(ep.port, port, "parse(\"%s\"): port %u, expected %u", show(text), ep.port, port);
}

static void expect_unix(const char *text, enum sockit_transport t, const char *path)
{
    struct sockit_endpoint ep = parse_ok(text);
    cr_expect_eq(ep.transport, t, "parse(\"%s\"): transport %d, expected %d", show(text),
                 ep.transport, t);
    cr_expect_str_eq(ep.path, path, "parse(\"%s\"): path \"%s\", expected \"%s\"", show(text),
                     ep.path, path);
}

/* Build "PREFIX" + N copies of C + "SUFFIX" into BUF. */
static char *build(char *buf, size_t size, const char *prefix, char c, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    cr_assert_lt(lp + n + ls, size, "test buffer too small");
    memcpy(buf, prefix, lp);
    memset(buf + lp, c, n);
    memcpy(buf + lp + n, suffix, ls + 1);
    return buf;
}

/* Resolve TEXT with FLAGS, asserting success; returns the count. */
static int resolve_ok(const char *text, int flags, struct sockit_addr *out, size_t max)
{
    struct sockit_endpoint ep = parse_ok(text);
    memset(out, 0xA5, max * sizeof *out);
    int n = sockit_endpoint_resolve(&ep, flags, out, max);
    cr_assert_geq(n, 1, "resolve(\"%s\", flags %d) returned %d (%s), expected >= 1", show(text),
                  flags, n, sockit_strerror(n));
    cr_assert_leq((size_t)n, max, "resolve(\"%s\") returned %d addresses, max was %zu", show(text),
                  n, max);
    return n;
}

static void expect_addr_text(const struct sockit_addr *a, const char *want)
{
    char buf[SOCKIT_ADDR_STRLEN];
    memset(buf, 'X', sizeof buf);
    int rc = sockit_addr_format(a, buf, sizeof buf);
    cr_expect_eq(rc, (int)strlen(want), "addr_format returned %d (%s), expected %zu for \"%s\"", rc,
                 sockit_strerror(rc), strlen(want), want);
    if (rc >= 0)
        cr_expect_str_eq(buf, want, "addr_format gave \"%s\", expected \"%s\"", buf, want);
}

static bool is_loopback(const struct sockit_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (a->u.sa.sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
    return false;
}

static uint16_t addr_port(const struct sockit_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return 0;
}

/* ---------------------------------------------------------------- accepted forms */

Test(endpoint, tcp_scheme_with_ipv4_literal_gives_tcp_host_and_port)
{
    expect_inet("tcp://127.0.0.1:80", SOCKIT_TCP, "127.0.0.1", 80);
    expect_inet("tcp://10.1.2.3:8080", SOCKIT_TCP, "10.1.2.3", 8080);
    expect_inet("tcp://0.0.0.0:1", SOCKIT_TCP, "0.0.0.0", 1);
    expect_inet("tcp://255.255.255.255:65535", SOCKIT_TCP, "255.255.255.255", 65535);
}

Test(endpoint, udp_scheme_gives_udp_transport)
{
    expect_inet("udp://127.0.0.1:53", SOCKIT_UDP, "127.0.0.1", 53);
    expect_inet("udp://[::1]:5353", SOCKIT_UDP, "::1", 5353);
    expect_inet("udp://example.com:9", SOCKIT_UDP, "example.com", 9);
    expect_inet("udp://:514", SOCKIT_UDP, "", 514);
}

Test(endpoint, bare_host_port_means_tcp)
{
    expect_inet("127.0.0.1:80", SOCKIT_TCP, "127.0.0.1", 80);
    expect_inet("localhost:8080", SOCKIT_TCP, "localhost", 8080);
    expect_inet("example.com:443", SOCKIT_TCP, "example.com", 443);
    expect_inet("[::1]:80", SOCKIT_TCP, "::1", 80);
}

Test(endpoint, empty_host_after_scheme_means_any_address)
{
    expect_inet("tcp://:8080", SOCKIT_TCP, "", 8080);
    expect_inet("tcp://:1", SOCKIT_TCP, "", 1);
}

Test(endpoint, bracketed_ipv6_is_stored_without_brackets)
{
    expect_inet("tcp://[::1]:8080", SOCKIT_TCP, "::1", 8080);
    expect_inet("tcp://[::]:80", SOCKIT_TCP, "::", 80);
    expect_inet("tcp://[2001:db8::1]:443", SOCKIT_TCP, "2001:db8::1", 443);
    expect_inet("tcp://[2001:db8:0:1:2:3:4:5]:443", SOCKIT_TCP, "2001:db8:0:1:2:3:4:5", 443);
    expect_inet("tcp://[::ffff:192.0.2.1]:80", SOCKIT_TCP, "::ffff:192.0.2.1", 80);
}

Test(endpoint, bracketed_ipv6_keeps_zone_id)
{
    expect_inet("tcp://[fe80::1%lo]:80", SOCKIT_TCP, "fe80::1%lo", 80);
    expect_inet("udp://[fe80::1%lo]:5353", SOCKIT_UDP, "fe80::1%lo", 5353);
}

Test(endpoint, host_names_are_accepted)
{
    expect_inet("tcp://localhost:80", SOCKIT_TCP, "localhost", 80);
    expect_inet("tcp://example.com:80", SOCKIT_TCP, "example.com", 80);
    expect_inet("tcp://a-b.c-d.example:80", SOCKIT_TCP, "a-b.c-d.example", 80);
    expect_inet("tcp://xn--bcher-kva.example:80", SOCKIT_TCP, "xn--bcher-kva.example", 80);
    expect_inet("tcp://1a.example:80", SOCKIT_TCP, "1a.example", 80);
    expect_inet("tcp://a:80", SOCKIT_TCP, "a", 80);
}

Test(endpoint, host_label_of_63_chars_is_accepted)
{
    char text[128], host[80];
    build(host, sizeof host, "", 'a', 63, ".example");
    snprintf(text, sizeof text, "tcp://%s:80", host);
    expect_inet(text, SOCKIT_TCP, host, 80);
}

Test(endpoint, host_name_of_253_chars_is_accepted)
{
    char host[300], text[320];
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
    memset(host, 'a', 253);
    host[63] = host[127] = host[191] = '.';
    host[253] = '\0';
    cr_assert_eq(strlen(host), 253);
    snprintf(text, sizeof text, "tcp://%s:80", host);
    expect_inet(text, SOCKIT_TCP, host, 80);
}

Test(endpoint, ports_1_and_65535_are_accepted)
{
    expect_inet("tcp://a:1", SOCKIT_TCP, "a", 1);
    expect_inet("tcp://a:65535", SOCKIT_TCP, "a", 65535);
}

Test(endpoint, unix_path_and_abstract_forms)
{
    expect_unix("unix:/run/x.sock", SOCKIT_UNIX, "/run/x.sock");
    expect_unix("unix:/tmp/x", SOCKIT_UNIX, "/tmp/x");
    expect_unix("unix:@abstract", SOCKIT_UNIX, "@abstract");
    expect_unix("unix:@x", SOCKIT_UNIX, "@x");
}

Test(endpoint, unix_dgram_path_and_abstract_forms)
{
    expect_unix("unix-dgram:/tmp/d.sock", SOCKIT_UNIX_DGRAM, "/tmp/d.sock");
    expect_unix("unix-dgram:@name", SOCKIT_UNIX_DGRAM, "@name");
}

Test(endpoint, unix_path_of_107_bytes_is_accepted)
{
    char path[200], text[220];
    build(path, sizeof path, "/", 'p', SOCKIT_UNIX_PATH_MAX - 1, "");
    cr_assert_eq(strlen(path), 107);
    snprintf(text, sizeof text, "unix:%s", path);
    expect_unix(text, SOCKIT_UNIX, path);
    snprintf(text, sizeof text, "unix-dgram:%s", path);
    expect_unix(text, SOCKIT_UNIX_DGRAM, path);
}

Test(endpoint, abstract_name_of_107_bytes_is_accepted)
{
    char path[200], text[220];
    build(path, sizeof path, "@", 'n', SOCKIT_UNIX_PATH_MAX, "");
    cr_assert_eq(strlen(path), 108); /* '@' + 107-byte name */
    snprintf(text, sizeof text, "unix:%s", path);
    expect_unix(text, SOCKIT_UNIX, path);
}

Test(endpoint, text_of_exactly_endpoint_max_is_not_too_long)
{
    char text[SOCKIT_ENDPOINT_MAX + 1];
    /* 512 bytes; rejected (host far too long) but not for being too long */
    build(text, sizeof text, "tcp://", 'a', SOCKIT_ENDPOINT_MAX - 9, ":80");
    cr_assert_eq(strlen(text), SOCKIT_ENDPOINT_MAX);
    struct sockit_endpoint ep;
    int rc = sockit_endpoint_parse(text, &ep);
    cr_expect_lt(rc, 0, "512-byte text with a 503-byte host was accepted");
    cr_expect_neq(rc, -SOCKIT_ETOOLONG, "512-byte text rejected as too long (limit is 512)");
}

Test(endpoint, transport_predicates_and_socket_type)
{
    struct sockit_endpoint t = parse_ok("tcp://a:1"), u = parse_ok("udp://a:1"),
                           s = parse_ok("unix:/x"), d = parse_ok("unix-dgram:/x");
    cr_expect(sockit_endpoint_is_stream(&t), "tcp is a stream");
    cr_expect(!sockit_endpoint_is_stream(&u), "udp is not a stream");
    cr_expect(sockit_endpoint_is_stream(&s), "unix is a stream");
    cr_expect(!sockit_endpoint_is_stream(&d), "unix-dgram is not a stream");
    cr_expect(!sockit_endpoint_is_unix(&t), "tcp is not unix");
    cr_expect(!sockit_endpoint_is_unix(&u), "udp is not unix");
    cr_expect(sockit_endpoint_is_unix(&s), "unix is unix");
    cr_expect(sockit_endpoint_is_unix(&d), "unix-dgram is unix");
    cr_expect_eq(sockit_endpoint_socktype(&t), SOCK_STREAM, "tcp socktype");
    cr_expect_eq(sockit_endpoint_socktype(&u), SOCK_DGRAM, "udp socktype");
    cr_expect_eq(sockit_endpoint_socktype(&s), SOCK_STREAM, "unix socktype");
    cr_expect_eq(sockit_endpoint_socktype(&d), SOCK_DGRAM, "unix-dgram socktype");
}

Test(endpoint, scheme_names_each_transport_and_parses_back_to_it)
{
    static const struct {
        enum sockit_transport t;
        const char *scheme, *rest;
    } cases[] = {
        { SOCKIT_TCP, "tcp://", "a:1" },      { SOCKIT_UDP, "udp://", "a:1" },
        { SOCKIT_UNIX, "unix:", "/x" },       { SOCKIT_UNIX_DGRAM, "unix-dgram:", "@x" },
        { SOCKIT_PACKET, "packet:", "eth0" },
    };
    char text[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *scheme = sockit_endpoint_scheme(cases[i].t);
        cr_expect_str_eq(scheme, cases[i].scheme, "scheme of transport %d", (int)cases[i].t);
        snprintf(text, sizeof(text), "%s%s", scheme, cases[i].rest);
        struct sockit_endpoint ep = parse_ok(text);
        cr_expect_eq(ep.transport, cases[i].t, "\"%s\" parses to transport %d", text,
                     (int)ep.transport);
    }
    cr_expect_str_eq(sockit_endpoint_scheme((enum sockit_transport)99), "?:");
}

/* packet: names an interface (the kernel's rules for a name), or every one with "any"; it
 * formats back to the same text, is a SOCK_RAW endpoint, and has no address to resolve. */
Test(endpoint, packet_names_an_interface)
{
    static const char *const good[] = { "packet:eth0", "packet:any", "packet:veth-a.100",
                                        "packet:lo", "packet:abcdefghijklmno" };
    static const char *const bad[] = { "packet:",    "packet:abcdefghijklmnop",
                                       "packet:a/b", "packet:eth0:1",
                                       "packet:.",   "packet:.." };
    char text[64];
    struct sockit_addr a;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sockit_endpoint ep = parse_ok(good[i]);
        cr_expect_eq(ep.transport, SOCKIT_PACKET, "%s", good[i]);
        cr_expect_str_eq(ep.ifname, good[i] + strlen("packet:"));
        cr_expect_eq(sockit_endpoint_format(&ep, text, sizeof(text)), (int)strlen(good[i]));
        cr_expect_str_eq(text, good[i]);
        cr_expect_eq(sockit_endpoint_socktype(&ep), SOCK_RAW);
        cr_expect_not(sockit_endpoint_is_stream(&ep));
        cr_expect_not(sockit_endpoint_is_unix(&ep));
        cr_expect_eq(sockit_endpoint_resolve(&ep, 0, &a, 1), -SOCKIT_ETYPE);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_reject(bad[i], SOCKIT_EIFNAME);
}

/* ---------------------------------------------------------------- rejections */

Test(endpoint, empty_text_is_eempty)
{
    expect_reject("", SOCKIT_EEMPTY);
}

Test(endpoint, text_longer_than_endpoint_max_is_etoolong)
{
    static char text[4096];
    build(text, sizeof text, "unix:/", 'a', SOCKIT_ENDPOINT_MAX + 1 - 6, "");
    cr_assert_eq(strlen(text), SOCKIT_ENDPOINT_MAX + 1);
    expect_reject(text, SOCKIT_ETOOLONG);
    build(text, sizeof text, "tcp://", 'a', SOCKIT_ENDPOINT_MAX + 1 - 9, ":80");
    cr_assert_eq(strlen(text), SOCKIT_ENDPOINT_MAX + 1);
    expect_reject(text, SOCKIT_ETOOLONG);
    build(text, sizeof text, "tcp://", 'a', sizeof text - 20, ":80");
    expect_reject(text, SOCKIT_ETOOLONG);
}

/* Port 0 asks the kernel for any free port when binding (socat's TCP-LISTEN:0); one spelling. */
Test(endpoint, port_zero_parses_as_any_port)
{
    cr_expect_eq(parse_ok("tcp://127.0.0.1:0").port, 0);
    cr_expect_eq(parse_ok("udp://[::1]:0").port, 0);
    expect_reject("tcp://a:00", SOCKIT_EPORT);
    expect_reject("tcp://a:000080", SOCKIT_EPORT);
}

Test(endpoint, port_above_65535_is_eport)
{
    expect_reject("tcp://a:65536", SOCKIT_EPORT);
    expect_reject("tcp://a:99999", SOCKIT_EPORT);
    expect_reject("tcp://a:4294967376", SOCKIT_EPORT); /* 2^32 + 80: must not wrap to 80 */
    expect_reject("tcp://a:18446744073709551696", SOCKIT_EPORT); /* 2^64 + 80 */
    expect_reject("tcp://a:99999999999999999999999999999", SOCKIT_EPORT);
    expect_reject("127.0.0.1:65536", SOCKIT_EPORT);
}

Test(endpoint, port_with_sign_or_letters_is_eport)
{
    expect_reject("tcp://a:+80", SOCKIT_EPORT);
    expect_reject("tcp://a:-80", SOCKIT_EPORT);
    expect_reject("tcp://a:-0", SOCKIT_EPORT);
    expect_reject("tcp://a:8o", SOCKIT_EPORT);
    expect_reject("tcp://a:http", SOCKIT_EPORT);
    expect_reject("tcp://a:0x50", SOCKIT_EPORT);
    expect_reject("tcp://a:80a", SOCKIT_EPORT);
    expect_reject("tcp://a:1e3", SOCKIT_EPORT);
    expect_reject("tcp://[::1]:+80", SOCKIT_EPORT);
    expect_reject("a:+1", SOCKIT_EPORT);
}

Test(endpoint, port_with_space_is_ectrl)
{
    /* error.h: SOCKIT_ECTRL = "control character or space inside an endpoint" */
    expect_reject("tcp://a: 80", SOCKIT_ECTRL);
    expect_reject("tcp://a:8 0", SOCKIT_ECTRL);
    expect_reject("tcp://a:80 ", SOCKIT_ECTRL);
}

Test(endpoint, empty_port_after_colon_is_rejected)
{
    expect_reject_either("tcp://a:", SOCKIT_EPORT, SOCKIT_ENOPORT);
    expect_reject_either("tcp://[::1]:", SOCKIT_EPORT, SOCKIT_ENOPORT);
    expect_reject_either("a:", SOCKIT_EPORT, SOCKIT_ENOPORT);
}

Test(endpoint, missing_port_is_enoport)
{
    expect_reject("tcp://localhost", SOCKIT_ENOPORT);
    expect_reject("tcp://127.0.0.1", SOCKIT_ENOPORT);
    expect_reject("tcp://[::1]", SOCKIT_ENOPORT);
    expect_reject("udp://example.com", SOCKIT_ENOPORT);
    expect_reject("localhost", SOCKIT_ENOPORT);
    expect_reject("tcp://", SOCKIT_ENOPORT);
}

Test(endpoint, unknown_scheme_is_escheme)
{
    expect_reject("http://x:1", SOCKIT_ESCHEME);
    expect_reject("sctp://x:1", SOCKIT_ESCHEME);
    expect_reject("tcp6://x:1", SOCKIT_ESCHEME);
    expect_reject("://x:1", SOCKIT_ESCHEME);
}

Test(endpoint, unbracketed_ipv6_is_ev6brackets)
{
    expect_reject("::1:80", SOCKIT_EV6BRACKETS);
    expect_reject("tcp://::1:80", SOCKIT_EV6BRACKETS);
    expect_reject("tcp://fe80::1:80", SOCKIT_EV6BRACKETS);
    expect_reject("udp://2001:db8::1:53", SOCKIT_EV6BRACKETS);
}

Test(endpoint, unbalanced_or_misplaced_brackets_are_ebracket)
{
    expect_reject("[::1:80", SOCKIT_EBRACKET);
    expect_reject("tcp://[::1:80", SOCKIT_EBRACKET);
    expect_reject("[::1]80", SOCKIT_EBRACKET);
    expect_reject("tcp://[::1]80", SOCKIT_EBRACKET);
    expect_reject("tcp://[::1]]:80", SOCKIT_EBRACKET);
    expect_reject_either("tcp://[[::1]:80", SOCKIT_EBRACKET, SOCKIT_EIPV6);
    expect_reject("tcp://a[b]:80", SOCKIT_EBRACKET);
}

Test(endpoint, invalid_ipv6_in_brackets_is_eipv6)
{
    expect_reject("[::g]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[::g]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[1:2:3:4:5:6:7:8:9]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[1::2::3]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[12345::1]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[1.2.3.4]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[localhost]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[]:80", SOCKIT_EIPV6);
    expect_reject("tcp://[fe80::1%]:80", SOCKIT_EIPV6);
}

Test(endpoint, bad_dotted_ipv4_is_eipv4)
{
    expect_reject("1.2.3:80", SOCKIT_EIPV4);
    expect_reject("256.1.1.1:80", SOCKIT_EIPV4);
    expect_reject("tcp://1.2.3:80", SOCKIT_EIPV4);
    expect_reject("tcp://256.1.1.1:80", SOCKIT_EIPV4);
    expect_reject("tcp://1.2.3.256:80", SOCKIT_EIPV4);
    expect_reject("tcp://1.2.3.4.5:80", SOCKIT_EIPV4);
    expect_reject("tcp://1.2.3.99999999999:80", SOCKIT_EIPV4);
}

Test(endpoint, bad_host_names_are_ehost)
{
    expect_reject("-a:80", SOCKIT_EHOST);
    expect_reject("a-:80", SOCKIT_EHOST);
    expect_reject("a..b:80", SOCKIT_EHOST);
    expect_reject(".a:80", SOCKIT_EHOST);
    expect_reject("tcp://-a:80", SOCKIT_EHOST);
    expect_reject("tcp://a..b:80", SOCKIT_EHOST);
    expect_reject("tcp://a.-b.c:80", SOCKIT_EHOST);
    expect_reject("tcp://a!b:80", SOCKIT_EHOST);
    expect_reject("tcp://a/b:80", SOCKIT_EHOST);
    expect_reject("tcp://a%b:80", SOCKIT_EHOST);
    expect_reject("tcp://b\xc3\xbc"
                  "cher.example:80",
                  SOCKIT_EHOST);
}

Test(endpoint, host_label_longer_than_63_is_ehost)
{
    char text[128];
    build(text, sizeof text, "tcp://", 'a', 64, ".example:80");
    expect_reject(text, SOCKIT_EHOST);
    build(text, sizeof text, "tcp://x.", 'a', 64, ":80");
    expect_reject(text, SOCKIT_EHOST);
}

Test(endpoint, host_name_longer_than_253_is_ehost)
{
    char host[300], text[320];
    /* labels of 63 + 63 + 63 + 62 with dots: 254 chars, every label valid */
    memset(host, 'a', 254);
    host[63] = host[127] = host[191] = '.';
    host[254] = '\0';
    cr_assert_eq(strlen(host), 254);
    snprintf(text, sizeof text, "tcp://%s:80", host);
    expect_reject(text, SOCKIT_EHOST);
    /* four full labels: 255 chars */
    memset(host, 'b', 255);
    host[63] = host[127] = host[191] = '.';
    host[255] = '\0';
    snprintf(text, sizeof text, "%s:80", host);
    expect_reject(text, SOCKIT_EHOST);
}

Test(endpoint, control_characters_and_space_are_ectrl)
{
    expect_reject("tcp://a b:80", SOCKIT_ECTRL);
    expect_reject(" tcp://a:80", SOCKIT_ECTRL);
    expect_reject("tcp://a:80\n", SOCKIT_ECTRL);
    expect_reject("tcp://a\tb:80", SOCKIT_ECTRL);
    expect_reject("tcp://a\r:80", SOCKIT_ECTRL);
    expect_reject("\x01", SOCKIT_ECTRL);
    expect_reject("tcp://a\x1f:80", SOCKIT_ECTRL);
    expect_reject("tcp://a\x7f:80", SOCKIT_ECTRL);
    expect_reject("tcp://[::1 ]:80", SOCKIT_ECTRL);
    expect_reject("unix:/tmp/a b", SOCKIT_ECTRL);
    expect_reject("unix:/tmp/a\nb", SOCKIT_ECTRL);
    expect_reject("unix:@a\tb", SOCKIT_ECTRL);
}

Test(endpoint, empty_unix_path_is_epathempty)
{
    expect_reject("unix:", SOCKIT_EPATHEMPTY);
    expect_reject("unix-dgram:", SOCKIT_EPATHEMPTY);
    expect_reject("unix:@", SOCKIT_EPATHEMPTY);
    expect_reject("unix-dgram:@", SOCKIT_EPATHEMPTY);
}

Test(endpoint, unix_path_of_108_bytes_is_epathlong)
{
    char text[300];
    build(text, sizeof text, "unix:/", 'p', SOCKIT_UNIX_PATH_MAX, ""); /* 108-byte path */
    cr_assert_eq(strlen(text) - 5, 108);
    expect_reject(text, SOCKIT_EPATHLONG);
    build(text, sizeof text, "unix-dgram:/", 'p', SOCKIT_UNIX_PATH_MAX, "");
    expect_reject(text, SOCKIT_EPATHLONG);
    build(text, sizeof text, "unix:/", 'p', 200, "");
    expect_reject(text, SOCKIT_EPATHLONG);
}

Test(endpoint, abstract_name_of_108_bytes_is_epathlong)
{
    char text[300];
    build(text, sizeof text, "unix:@", 'n', SOCKIT_UNIX_PATH_MAX + 1, "");
    expect_reject(text, SOCKIT_EPATHLONG);
    build(text, sizeof text, "unix-dgram:@", 'n', SOCKIT_UNIX_PATH_MAX + 1, "");
    expect_reject(text, SOCKIT_EPATHLONG);
}

/* ---------------------------------------------------------------- format / round trip */

static const struct {
    const char *in, *canonical;
} canonical_table[] = {
    { "127.0.0.1:80", "tcp://127.0.0.1:80" },
    { "tcp://127.0.0.1:80", "tcp://127.0.0.1:80" },
    { "udp://127.0.0.1:53", "udp://127.0.0.1:53" },
    { "localhost:80", "tcp://localhost:80" },
    { "tcp://example.com:443", "tcp://example.com:443" },
    { "udp://example.com:9", "udp://example.com:9" },
    { "[::1]:80", "tcp://[::1]:80" },
    { "tcp://[::1]:8080", "tcp://[::1]:8080" },
    { "udp://[::1]:53", "udp://[::1]:53" },
    { "tcp://[::]:1", "tcp://[::]:1" },
    { "tcp://[2001:db8::1]:443", "tcp://[2001:db8::1]:443" },
    { "tcp://[fe80::1%lo]:80", "tcp://[fe80::1%lo]:80" },
    { "tcp://:8080", "tcp://:8080" },
    { "udp://:5353", "udp://:5353" },
    { "tcp://0.0.0.0:1", "tcp://0.0.0.0:1" },
    { "tcp://255.255.255.255:65535", "tcp://255.255.255.255:65535" },
    { "unix:/run/x.sock", "unix:/run/x.sock" },
    { "unix:@abstract", "unix:@abstract" },
    { "unix-dgram:/tmp/d.sock", "unix-dgram:/tmp/d.sock" },
    { "unix-dgram:@name", "unix-dgram:@name" },
};

/* Valid inputs whose canonical text the contract does not pin down (IPv6 spelling, case). */
static const char *const idempotent_table[] = {
    "tcp://[0:0:0:0:0:0:0:1]:80",
    "tcp://[FE80::1%lo]:80",
    "tcp://[::ffff:127.0.0.1]:80",
    "tcp://[2001:DB8:0:0:1:0:0:1]:443",
    "tcp://Example.COM:80",
    "udp://[::]:9",
    "unix:/",
};

static void expect_round_trip(const char *text)
{
    struct sockit_endpoint ep1 = parse_ok(text);
    char buf1[SOCKIT_ENDPOINT_MAX + 1], buf2[SOCKIT_ENDPOINT_MAX + 1];
    int n1 = sockit_endpoint_format(&ep1, buf1, sizeof buf1);
    cr_assert_geq(n1, 0, "format(parse(\"%s\")) returned %d (%s)", show(text), n1,
                  sockit_strerror(n1));
    cr_expect_eq((size_t)n1, strlen(buf1), "format(parse(\"%s\")) returned %d but wrote %zu bytes",
                 show(text), n1, strlen(buf1));
    struct sockit_endpoint ep2;
    memset(&ep2, 0x5A, sizeof ep2);
    int rc = sockit_endpoint_parse(buf1, &ep2);
    cr_assert_eq(rc, 0, "parse(format(parse(\"%s\"))) = parse(\"%s\") returned %d (%s)", show(text),
                 show(buf1), rc, sockit_strerror(rc));
    expect_same_endpoint(&ep1, &ep2, text);
    int n2 = sockit_endpoint_format(&ep2, buf2, sizeof buf2);
    cr_expect_eq(n2, n1, "second format of \"%s\" returned %d, first %d", show(text), n2, n1);
    if (n2 >= 0)
        cr_expect_str_eq(buf2, buf1, "format is not stable for \"%s\": \"%s\" then \"%s\"",
                         show(text), buf1, buf2);
}

Test(endpoint, format_gives_canonical_text)
{
    for (size_t i = 0; i < NELEM(canonical_table); i++) {
        const char *in = canonical_table[i].in, *want = canonical_table[i].canonical;
        struct sockit_endpoint ep = parse_ok(in);
        char buf[SOCKIT_ENDPOINT_MAX + 1];
        int n = sockit_endpoint_format(&ep, buf, sizeof buf);
        cr_expect_eq(n, (int)strlen(want), "format(parse(\"%s\")) returned %d (%s), expected %zu",
                     in, n, sockit_strerror(n), strlen(want));
        if (n >= 0)
            cr_expect_str_eq(buf, want, "format(parse(\"%s\")) = \"%s\", expected \"%s\"", in, buf,
                             want);
    }
}

Test(endpoint, parse_of_formatted_text_gives_equal_endpoint)
{
    for (size_t i = 0; i < NELEM(canonical_table); i++)
        expect_round_trip(canonical_table[i].in);
}

Test(endpoint, round_trip_is_stable_for_non_canonical_spellings)
{
    for (size_t i = 0; i < NELEM(idempotent_table); i++)
        expect_round_trip(idempotent_table[i]);
}

Test(endpoint, round_trip_of_longest_host_path_and_abstract_name)
{
    char text[400];
    memset(text, 0, sizeof text);
    strcpy(text, "udp://");
    memset(text + 6, 'h', 253);
    text[6 + 63] = text[6 + 127] = text[6 + 191] = '.';
    strcpy(text + 6 + 253, ":65535");
    expect_round_trip(text);
    build(text, sizeof text, "unix:/", 'p', SOCKIT_UNIX_PATH_MAX - 1, "");
    expect_round_trip(text);
    build(text, sizeof text, "unix-dgram:@", 'n', SOCKIT_UNIX_PATH_MAX, "");
    expect_round_trip(text);
}

Test(endpoint, format_with_short_buffer_is_enospc_and_stays_in_bounds)
{
    struct sockit_endpoint ep = parse_ok("tcp://127.0.0.1:80");
    const char *want = "tcp://127.0.0.1:80";
    size_t len = strlen(want);
    char buf[64];

    for (size_t size = 0; size <= len; size++) {
        memset(buf, 'X', sizeof buf);
        int n = sockit_endpoint_format(&ep, buf, size);
        cr_expect_eq(n, -ENOSPC, "format into %zu bytes (needs %zu) returned %d", size, len + 1, n);
        for (size_t i = size; i < sizeof buf; i++)
            cr_assert_eq(buf[i], 'X', "format into %zu bytes wrote byte %zu", size, i);
    }
    memset(buf, 'X', sizeof buf);
    int n = sockit_endpoint_format(&ep, buf, len + 1);
    cr_expect_eq(n, (int)len, "format into exactly %zu bytes returned %d", len + 1, n);
    cr_expect_str_eq(buf, want);

    struct sockit_endpoint u = parse_ok("unix:@abstract");
    n = sockit_endpoint_format(&u, buf, 5);
    cr_expect_eq(n, -ENOSPC, "format of unix:@abstract into 5 bytes returned %d", n);
}

/* ---------------------------------------------------------------- strerror */

Test(endpoint, strerror_gives_distinct_text_for_every_sockit_code)
{
    for (int c = SOCKIT_E_FIRST; c < SOCKIT_E_LAST; c++) {
        const char *s = sockit_strerror(-c);
        cr_assert_not_null(s, "sockit_strerror(-%s) is NULL", code_name(-c));
        cr_expect_gt(strlen(s), 0, "sockit_strerror(-%s) is empty", code_name(-c));
        for (int d = SOCKIT_E_FIRST; d < c; d++) {
            const char *t = sockit_strerror(-d);
            if (t)
                cr_expect_str_neq(s, t, "-%s and -%s share the text \"%s\"", code_name(-c),
                                  code_name(-d), s);
        }
    }
}

Test(endpoint, strerror_gives_system_text_for_errno_codes)
{
    cr_expect_str_eq(sockit_strerror(-ECONNREFUSED), "Connection refused");
    const char *s = sockit_strerror(-ENOSPC);
    cr_assert_not_null(s);
    cr_expect_gt(strlen(s), 0);
    cr_expect_not_null(sockit_strerror(-SOCKIT_E_LAST), "unknown code gives NULL");
}

/* ---------------------------------------------------------------- resolve */

Test(endpoint, resolve_ipv4_literal_gives_one_inet_address)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://127.0.0.1:80", 0, out, NELEM(out));
    cr_expect_eq(n, 1, "expected exactly one address, got %d", n);
    cr_assert_eq(out[0].u.sa.sa_family, AF_INET);
    cr_expect_eq(out[0].len, sizeof(struct sockaddr_in));
    cr_expect_eq(ntohs(out[0].u.in.sin_port), 80, "port in network byte order");
    cr_expect_eq(out[0].u.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    expect_addr_text(&out[0], "127.0.0.1:80");
    cr_expect_eq(sockit_addr_dgram_max(&out[0]), SOCKIT_UDP4_MAX);
    cr_expect_eq(sockit_addr_dgram_max(&out[0]), 65507);
}

Test(endpoint, resolve_ipv4_literal_with_passive_flag_is_the_same)
{
    struct sockit_addr out[8];
    int n = resolve_ok("udp://10.1.2.3:5353", SOCKIT_RESOLVE_PASSIVE, out, NELEM(out));
    cr_expect_eq(n, 1);
    cr_assert_eq(out[0].u.sa.sa_family, AF_INET);
    cr_expect_eq(ntohs(out[0].u.in.sin_port), 5353);
    expect_addr_text(&out[0], "10.1.2.3:5353");
}

Test(endpoint, resolve_ipv6_literal_gives_one_inet6_address)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://[::1]:80", 0, out, NELEM(out));
    cr_expect_eq(n, 1, "expected exactly one address, got %d", n);
    cr_assert_eq(out[0].u.sa.sa_family, AF_INET6);
    cr_expect_eq(out[0].len, sizeof(struct sockaddr_in6));
    cr_expect_eq(ntohs(out[0].u.in6.sin6_port), 80, "port in network byte order");
    cr_expect(IN6_IS_ADDR_LOOPBACK(&out[0].u.in6.sin6_addr), "address is ::1");
    expect_addr_text(&out[0], "[::1]:80");
    cr_expect_eq(sockit_addr_dgram_max(&out[0]), SOCKIT_UDP6_MAX);
    cr_expect_eq(sockit_addr_dgram_max(&out[0]), 65527);
}

Test(endpoint, resolve_ipv6_zone_id_sets_scope_id)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://[fe80::1%lo]:80", 0, out, NELEM(out));
    cr_expect_eq(n, 1);
    cr_assert_eq(out[0].u.sa.sa_family, AF_INET6);
    cr_expect_eq(out[0].u.in6.sin6_scope_id, if_nametoindex("lo"), "scope id is lo's index");
    cr_expect_eq(ntohs(out[0].u.in6.sin6_port), 80);
}

Test(endpoint, resolve_passive_empty_host_gives_ipv6_then_ipv4_wildcard)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://:80", SOCKIT_RESOLVE_PASSIVE, out, NELEM(out));
    cr_assert_eq(n, 2, "expected [::] and 0.0.0.0, got %d addresses", n);
    cr_assert_eq(out[0].u.sa.sa_family, AF_INET6, "first wildcard is IPv6");
    cr_expect(IN6_IS_ADDR_UNSPECIFIED(&out[0].u.in6.sin6_addr), "first address is [::]");
    cr_expect_eq(ntohs(out[0].u.in6.sin6_port), 80);
    cr_assert_eq(out[1].u.sa.sa_family, AF_INET, "second wildcard is IPv4");
    cr_expect_eq(out[1].u.in.sin_addr.s_addr, htonl(INADDR_ANY), "second address is 0.0.0.0");
    cr_expect_eq(ntohs(out[1].u.in.sin_port), 80);
    expect_addr_text(&out[0], "[::]:80");
    expect_addr_text(&out[1], "0.0.0.0:80");
}

Test(endpoint, resolve_respects_max)
{
    struct sockit_addr out[2];
    memset(out, 0xA5, sizeof out);
    struct sockit_endpoint ep = parse_ok("udp://:9");
    int n = sockit_endpoint_resolve(&ep, SOCKIT_RESOLVE_PASSIVE, out, 1);
    cr_expect_eq(n, 1, "resolve with max 1 returned %d", n);
    cr_expect_eq(out[0].u.sa.sa_family, AF_INET6, "first wildcard is IPv6");
    unsigned char guard[sizeof out[1]];
    memset(guard, 0xA5, sizeof guard);
    cr_expect(memcmp(&out[1], guard, sizeof guard) == 0, "resolve wrote past max");
}

Test(endpoint, resolve_non_passive_empty_host_gives_loopback)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://:80", 0, out, NELEM(out));
    for (int i = 0; i < n; i++) {
        char buf[SOCKIT_ADDR_STRLEN] = "";
        sockit_addr_format(&out[i], buf, sizeof buf);
        cr_expect(is_loopback(&out[i]), "address %d (%s) is not loopback", i, buf);
        cr_expect_eq(addr_port(&out[i]), 80, "address %d (%s) has the wrong port", i, buf);
    }
}

Test(endpoint, resolve_localhost_gives_loopback)
{
    struct sockit_addr out[8];
    int n = resolve_ok("tcp://localhost:8080", 0, out, NELEM(out));
    for (int i = 0; i < n; i++) {
        char buf[SOCKIT_ADDR_STRLEN] = "";
        sockit_addr_format(&out[i], buf, sizeof buf);
        cr_expect(is_loopback(&out[i]), "localhost address %d (%s) is not loopback", i, buf);
        cr_expect_eq(addr_port(&out[i]), 8080, "address %d (%s) has the wrong port", i, buf);
    }
}

Test(endpoint, resolve_unix_path_gives_sockaddr_un)
{
    struct sockit_addr out[4];
    int n = resolve_ok("unix:/tmp/x", 0, out, NELEM(out));
    cr_expect_eq(n, 1);
    cr_assert_eq(out[0].u.sa.sa_family, AF_UNIX);
    cr_expect_str_eq(out[0].u.un.sun_path, "/tmp/x");
    cr_expect_geq(out[0].len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x"));
    cr_expect_leq(out[0].len, sizeof(struct sockaddr_un));
    expect_addr_text(&out[0], "unix:/tmp/x");
    cr_expect_eq(sockit_addr_dgram_max(&out[0]), 0, "AF_UNIX has no fixed datagram maximum");
}

Test(endpoint, resolve_abstract_name_gives_exact_length_and_leading_nul)
{
    struct sockit_addr out[4];
    int n = resolve_ok("unix:@x", 0, out, NELEM(out));
    cr_expect_eq(n, 1);
    cr_assert_eq(out[0].u.sa.sa_family, AF_UNIX);
    cr_expect_eq(out[0].len, offsetof(struct sockaddr_un, sun_path) + 1 + 1,
                 "abstract address length %u, expected %zu", (unsigned)out[0].len,
                 offsetof(struct sockaddr_un, sun_path) + 2);
    cr_expect_eq(out[0].u.un.sun_path[0], '\0', "abstract name starts with NUL");
    cr_expect_eq(out[0].u.un.sun_path[1], 'x');
    expect_addr_text(&out[0], "unix:@x");
}

Test(endpoint, resolve_unix_dgram_abstract_name)
{
    struct sockit_addr out[4];
    int n = resolve_ok("unix-dgram:@name", 0, out, NELEM(out));
    cr_expect_eq(n, 1);
    cr_assert_eq(out[0].u.sa.sa_family, AF_UNIX);
    cr_expect_eq(out[0].len, offsetof(struct sockaddr_un, sun_path) + 1 + 4);
    cr_expect_eq(out[0].u.un.sun_path[0], '\0');
    cr_expect(memcmp(out[0].u.un.sun_path + 1, "name", 4) == 0);
    expect_addr_text(&out[0], "unix:@name");
}

Test(endpoint, resolve_longest_unix_path_and_abstract_name)
{
    char text[200], want[200];
    struct sockit_addr out[2];

    build(text, sizeof text, "unix:/", 'p', SOCKIT_UNIX_PATH_MAX - 1, "");
    resolve_ok(text, 0, out, NELEM(out));
    cr_expect_eq(strnlen(out[0].u.un.sun_path, sizeof out[0].u.un.sun_path), 107);
    expect_addr_text(&out[0], text);

    build(text, sizeof text, "unix:@", 'n', SOCKIT_UNIX_PATH_MAX, "");
    resolve_ok(text, 0, out, NELEM(out));
    cr_expect_eq(out[0].len, sizeof(struct sockaddr_un), "107-byte abstract name fills sun_path");
    cr_expect_eq(out[0].u.un.sun_path[0], '\0');
    build(want, sizeof want, "unix:@", 'n', SOCKIT_UNIX_PATH_MAX, "");
    expect_addr_text(&out[0], want);
}

Test(endpoint, resolve_unresolvable_name_fails, .timeout = 60)
{
    struct sockit_endpoint ep = parse_ok("tcp://no-such-host.invalid:80");
    struct sockit_addr out[8];
    int n = sockit_endpoint_resolve(&ep, 0, out, NELEM(out));
    cr_expect(n == -SOCKIT_ENONAME || n == -SOCKIT_EAGAIN_RESOLVE || n == -SOCKIT_ERESOLVE,
              "resolve(no-such-host.invalid) returned %d [%s] (%s), expected -SOCKIT_ENONAME "
              "(or -SOCKIT_EAGAIN_RESOLVE / -SOCKIT_ERESOLVE without DNS)",
              n, code_name(n), sockit_strerror(n));
}

/* ---------------------------------------------------------------- addr_format */

Test(endpoint, addr_format_prints_ipv4_mapped_ipv6_as_ipv4)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof(struct sockaddr_in6);
    a.u.in6.sin6_family = AF_INET6;
    a.u.in6.sin6_port = htons(80);
    cr_assert_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.u.in6.sin6_addr), 1);
    expect_addr_text(&a, "127.0.0.1:80");
}

Test(endpoint, addr_format_prints_unnamed_unix_socket)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof(sa_family_t);
    a.u.un.sun_family = AF_UNIX;
    expect_addr_text(&a, "unix:(unnamed)");
}

Test(endpoint, addr_format_prints_ipv6_in_brackets)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof(struct sockaddr_in6);
    a.u.in6.sin6_family = AF_INET6;
    a.u.in6.sin6_port = htons(65535);
    cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &a.u.in6.sin6_addr), 1);
    expect_addr_text(&a, "[2001:db8::1]:65535");
}

Test(endpoint, addr_format_with_short_buffer_is_enospc)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.len = sizeof(struct sockaddr_in);
    a.u.in.sin_family = AF_INET;
    a.u.in.sin_port = htons(80);
    a.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[64];
    for (size_t size = 0; size <= strlen("127.0.0.1:80"); size++) {
        memset(buf, 'X', sizeof buf);
        int n = sockit_addr_format(&a, buf, size);
        cr_expect_eq(n, -ENOSPC, "addr_format into %zu bytes returned %d", size, n);
        for (size_t i = size; i < sizeof buf; i++)
            cr_assert_eq(buf[i], 'X', "addr_format into %zu bytes wrote byte %zu", size, i);
    }
    int n = sockit_addr_format(&a, buf, 13);
    cr_expect_eq(n, 12);
    cr_expect_str_eq(buf, "127.0.0.1:80");
}

Test(endpoint, dgram_max_follows_address_family)
{
    struct sockit_addr a;
    memset(&a, 0, sizeof a);
    a.u.sa.sa_family = AF_INET;
    a.len = sizeof(struct sockaddr_in);
    cr_expect_eq(sockit_addr_dgram_max(&a), 65507);
    a.u.sa.sa_family = AF_INET6;
    a.len = sizeof(struct sockaddr_in6);
    cr_expect_eq(sockit_addr_dgram_max(&a), 65527);
    a.u.sa.sa_family = AF_UNIX;
    a.len = sizeof(struct sockaddr_un);
    cr_expect_eq(sockit_addr_dgram_max(&a), 0);
}

/* ---------------------------------------------------------------- strict IPv4, zones (issue 16) */

Test(endpoint, loose_ipv4_forms_are_eipv4_not_host_names)
{
    /* getaddrinfo takes these as IPv4 in inet_aton's loose forms; only dotted decimal is. */
    expect_reject("tcp://0x7f.1:80", SOCKIT_EIPV4);
    expect_reject("tcp://0x7f000001:80", SOCKIT_EIPV4);
    expect_reject("tcp://127.1:80", SOCKIT_EIPV4);
    expect_reject("tcp://example.0x1:80", SOCKIT_EIPV4);
    expect_reject("tcp://1.2.3:80", SOCKIT_EIPV4);
}

Test(endpoint, names_with_digits_stay_host_names)
{
    expect_inet("tcp://3com.com:80", SOCKIT_TCP, "3com.com", 80);
    expect_inet("tcp://123abc:80", SOCKIT_TCP, "123abc", 80);
    expect_inet("tcp://host1.example.:80", SOCKIT_TCP, "host1.example.", 80);
}

Test(endpoint, resolve_of_an_unknown_ipv6_zone_is_ezone)
{
    struct sockit_endpoint ep = parse_ok("tcp://[fe80::1%nosuchif9]:80");
    struct sockit_addr out[2];
    int n = sockit_endpoint_resolve(&ep, 0, out, NELEM(out));

    cr_expect_eq(n, -SOCKIT_EZONE, "resolve gave %d (%s)", n, sockit_strerror(n));
    cr_expect(strstr(sockit_strerror(-SOCKIT_EZONE), "interface") != NULL);
}

Test(endpoint, resolve_of_a_known_or_numeric_ipv6_zone_works)
{
    struct sockit_addr out[2];

    resolve_ok("tcp://[fe80::1%lo]:80", 0, out, NELEM(out));
    resolve_ok("tcp://[fe80::1%1]:80", 0, out, NELEM(out));
}

/* SOCKIT_RESOLVE_IPV4 / _IPV6 keep that family only; none left is -SOCKIT_ENOADDR. */
Test(endpoint, resolve_family_flags_keep_that_family_only)
{
    struct sockit_addr out[4];
    struct sockit_endpoint ep = parse_ok("tcp://:80");

    cr_assert_eq(resolve_ok("tcp://:80", SOCKIT_RESOLVE_PASSIVE | SOCKIT_RESOLVE_IPV4, out, 4), 1);
    expect_addr_text(&out[0], "0.0.0.0:80");
    cr_assert_eq(resolve_ok("tcp://:80", SOCKIT_RESOLVE_IPV6, out, 4), 1);
    expect_addr_text(&out[0], "[::1]:80");
    ep = parse_ok("tcp://127.0.0.1:80");
    cr_assert_eq(sockit_endpoint_resolve(&ep, SOCKIT_RESOLVE_IPV6, out, 4), -SOCKIT_ENOADDR);
}
