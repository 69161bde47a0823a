/* ICMP and ICMPv6 echo messages, sans-I/O: build a request, read a reply, the Internet
 * checksum, the record of sequence numbers answered, and ping's words for ICMP errors. */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>

#include "sockit/ping.h"

#define IPV4_MIN_HEADER 20
#define NS_PER_SEC      1000000000ull

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint16_t sockit_ping_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t sum = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (i < len)
        sum += (uint32_t)p[i] << 8; /* an odd byte is padded with a zero after it */
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t max_size(int family)
{
    return family == AF_INET ? SOCKIT_PING4_MAX_SIZE : SOCKIT_PING6_MAX_SIZE;
}

/* The stamp: seconds and nanoseconds, 8 bytes each in host order (only its sender reads it). */
static void put_stamp(uint8_t *p, uint64_t ns)
{
    uint64_t parts[2] = { ns / NS_PER_SEC, ns % NS_PER_SEC };

    memcpy(p, parts, sizeof(parts));
}

static uint64_t get_stamp(const uint8_t *p)
{
    uint64_t parts[2];

    memcpy(parts, p, sizeof(parts));
    return parts[0] * NS_PER_SEC + parts[1];
}

int sockit_ping_build(void *buf, size_t cap, int family, const struct sockit_ping_echo *e)
{
    uint8_t *p = buf;
    size_t len = SOCKIT_PING_HEADER + e->size;
    size_t from = e->has_stamp ? SOCKIT_PING_STAMP : 0;

    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (e->has_stamp && e->size < SOCKIT_PING_STAMP)
        return -EINVAL;
    if (e->size > max_size(family))
        return -EMSGSIZE;
    if (cap < len)
        return -ENOSPC;
    p[0] = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    p[1] = 0;
    put16(p + 2, 0);
    put16(p + 4, e->id);
    put16(p + 6, e->seq);
    if (e->has_stamp)
        put_stamp(p + SOCKIT_PING_HEADER, e->sent_ns);
    for (size_t i = from; i < e->size; i++)
        p[SOCKIT_PING_HEADER + i] = (uint8_t)i;
    if (family == AF_INET)
        put16(p + 2, sockit_ping_checksum(p, len));
    return (int)len;
}

/* The ICMP message inside an IPv4 packet: *MSG and *LEN narrowed past the header, *TTL taken.
 * 0, -EBADMSG or -ENOMSG as sockit_ping_parse says. */
static int strip_ipv4(const uint8_t **msg, size_t *len, int *ttl)
{
    const uint8_t *ip = *msg;
    size_t ihl, total;

    if (*len < IPV4_MIN_HEADER || ip[0] >> 4 != 4)
        return -EBADMSG;
    ihl = (size_t)(ip[0] & 0x0f) * 4;
    total = get16(ip + 2);
    if (ihl < IPV4_MIN_HEADER || ihl > *len || total < ihl || total > *len)
        return -EBADMSG;
    if (ip[9] != IPPROTO_ICMP)
        return -ENOMSG;
    *ttl = ip[8];
    *msg = ip + ihl;
    *len = total - ihl; /* anything after the packet's own length is not the packet's */
    return 0;
}

/* The payload check: the first byte past the stamp that is not i & 0xff, or -1. */
static long first_bad_byte(const uint8_t *payload, size_t size, bool stamped)
{
    for (size_t i = stamped ? SOCKIT_PING_STAMP : 0; i < size; i++) {
        if (payload[i] != (uint8_t)i)
            return (long)i;
    }
    return -1;
}

static void read_reply(const uint8_t *msg, size_t len, int family, struct sockit_ping_reply *r)
{
    const uint8_t *payload = msg + SOCKIT_PING_HEADER;

    r->len = len;
    r->echo.id = get16(msg + 4);
    r->echo.seq = get16(msg + 6);
    r->echo.size = len - SOCKIT_PING_HEADER;
    r->echo.has_stamp = r->echo.size >= SOCKIT_PING_STAMP;
    r->echo.sent_ns = r->echo.has_stamp ? get_stamp(payload) : 0;
    r->bad_checksum = family == AF_INET && sockit_ping_checksum(msg, len) != 0;
    r->bad_byte = first_bad_byte(payload, r->echo.size, r->echo.has_stamp);
    r->bad_value = r->bad_byte >= 0 ? payload[r->bad_byte] : 0;
}

int sockit_ping_parse(const void *buf, size_t len, int family, bool ip_header, uint16_t id,
                      struct sockit_ping_reply *out)
{
    const uint8_t *msg = buf;
    uint8_t want = family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
    int ttl = -1;
    int err = ip_header ? strip_ipv4(&msg, &len, &ttl) : 0;

    if (err)
        return err;
    if (len < SOCKIT_PING_HEADER)
        return -EBADMSG;
    if (msg[0] != want || msg[1] != 0 || get16(msg + 4) != id)
        return -ENOMSG;
    read_reply(msg, len, family, out);
    out->ttl = ttl;
    return 0;
}

/* ---- which sequence numbers came back ---------------------------------------------------- */

static bool seen_test(const struct sockit_ping_seen *s, uint16_t seq)
{
    return (s->bits[seq / 64] >> (seq % 64)) & 1;
}

uint16_t sockit_ping_seen_send(struct sockit_ping_seen *s)
{
    uint16_t seq = (uint16_t)++s->sent;

    s->bits[seq / 64] &= ~(1ull << (seq % 64));
    return seq;
}

/* Requests in flight when SEQ's answer came, as ping counts its "pipe": SEQ and those after. */
void sockit_ping_seen_error(struct sockit_ping_seen *s, uint16_t seq)
{
    uint16_t behind = (uint16_t)((uint16_t)s->sent - seq);

    if (behind <= 0x7fff && behind + 1u > s->pipe)
        s->pipe = behind + 1u;
}

unsigned sockit_ping_seen_reply(struct sockit_ping_seen *s, uint16_t seq)
{
    unsigned flags = 0;

    sockit_ping_seen_error(s, seq);
    if (seen_test(s, seq))
        return SOCKIT_PING_DUP;
    s->bits[seq / 64] |= 1ull << (seq % 64);
    if (s->any && (int16_t)(seq - s->newest) < 0)
        flags |= SOCKIT_PING_LATE;
    else
        s->newest = seq;
    s->any = true;
    return flags;
}

/* ---- ping's words for ICMP errors --------------------------------------------------------- */

static const char *const unreach4[] = {
    [ICMP_NET_UNREACH] = "Destination Net Unreachable",
    [ICMP_HOST_UNREACH] = "Destination Host Unreachable",
    [ICMP_PROT_UNREACH] = "Destination Protocol Unreachable",
    [ICMP_PORT_UNREACH] = "Destination Port Unreachable",
    [ICMP_FRAG_NEEDED] = NULL, /* says the MTU: below */
    [ICMP_SR_FAILED] = "Source Route Failed",
    [ICMP_NET_UNKNOWN] = "Destination Net Unknown",
    [ICMP_HOST_UNKNOWN] = "Destination Host Unknown",
    [ICMP_HOST_ISOLATED] = "Source Host Isolated",
    [ICMP_NET_ANO] = "Destination Net Prohibited",
    [ICMP_HOST_ANO] = "Destination Host Prohibited",
    [ICMP_NET_UNR_TOS] = "Destination Net Unreachable for Type of Service",
    [ICMP_HOST_UNR_TOS] = "Destination Host Unreachable for Type of Service",
    [ICMP_PKT_FILTERED] = "Packet filtered",
    [ICMP_PREC_VIOLATION] = "Precedence Violation",
    [ICMP_PREC_CUTOFF] = "Precedence Cutoff",
};

static const char *const unreach6[] = {
    [ICMP6_DST_UNREACH_NOROUTE] = "No route",
    [ICMP6_DST_UNREACH_ADMIN] = "Administratively prohibited",
    [ICMP6_DST_UNREACH_BEYONDSCOPE] = "Beyond scope of source address",
    [ICMP6_DST_UNREACH_ADDR] = "Address unreachable",
    [ICMP6_DST_UNREACH_NOPORT] = "Port unreachable",
    [5] = "Source address failed ingress/egress policy", /* RFC 4443 */
    [6] = "Reject route to destination",
};

#define TABLE_TEXT(table, i) ((i) < sizeof(table) / sizeof((table)[0]) ? (table)[i] : NULL)

static void describe4(uint8_t type, uint8_t code, uint32_t info, char *buf, size_t size)
{
    const char *text = TABLE_TEXT(unreach4, code);

    if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED)
        snprintf(buf, size, "Frag needed and DF set (mtu = %u)", info);
    else if (type == ICMP_DEST_UNREACH && text)
        snprintf(buf, size, "%s", text);
    else if (type == ICMP_DEST_UNREACH)
        snprintf(buf, size, "Dest Unreachable, Bad Code: %d", code);
    else if (type == ICMP_TIME_EXCEEDED && code <= ICMP_EXC_FRAGTIME)
        snprintf(buf, size, "%s",
                 code == ICMP_EXC_TTL ? "Time to live exceeded" : "Frag reassembly time exceeded");
    else if (type == ICMP_TIME_EXCEEDED)
        snprintf(buf, size, "Time exceeded, Bad Code: %d", code);
    else if (type == ICMP_PARAMETERPROB)
        snprintf(buf, size, "Parameter problem: pointer = %u", info);
    else if (type == ICMP_SOURCE_QUENCH)
        snprintf(buf, size, "Source Quench");
    else
        snprintf(buf, size, "Bad ICMP type: %d", type);
}

static void describe6(uint8_t type, uint8_t code, uint32_t info, char *buf, size_t size)
{
    static const char *const problem[] = { "Wrong header field", "Unknown header",
                                           "Unknown option" };
    const char *text = TABLE_TEXT(unreach6, code);

    if (type == ICMP6_DST_UNREACH && text)
        snprintf(buf, size, "Destination unreachable: %s", text);
    else if (type == ICMP6_DST_UNREACH)
        snprintf(buf, size, "Destination unreachable: Unknown code %d", code);
    else if (type == ICMP6_PACKET_TOO_BIG)
        snprintf(buf, size, "Packet too big: mtu=%u", info);
    else if (type == ICMP6_TIME_EXCEEDED && code <= ICMP6_TIME_EXCEED_REASSEMBLY)
        snprintf(buf, size, "Time exceeded: %s",
                 code == ICMP6_TIME_EXCEED_TRANSIT ? "Hop limit" : "Defragmentation failure");
    else if (type == ICMP6_TIME_EXCEEDED)
        snprintf(buf, size, "Time exceeded: code %d", code);
    else if (type == ICMP6_PARAM_PROB && (text = TABLE_TEXT(problem, code)))
        snprintf(buf, size, "Parameter problem: %s at %u", text, info);
    else if (type == ICMP6_PARAM_PROB)
        snprintf(buf, size, "Parameter problem: code %d at %u", code, info);
    else
        snprintf(buf, size, "unknown icmp type: %u", type);
}

const char *sockit_ping_describe(int family, uint8_t type, uint8_t code, uint32_t info, char *buf,
                                 size_t size)
{
    if (size == 0)
        return buf;
    if (family == AF_INET)
        describe4(type, code, info, buf, size);
    else
        describe6(type, code, info, buf, size);
    return buf;
}
