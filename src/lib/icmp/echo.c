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

enum { ANY = -1 };
enum arg { NO_ARG, TYPE_ARG, CODE_ARG, INFO_ARG, CODE_INFO_ARGS };

/* The first row matching (family, type, code) gives the words; its format takes ARG. */
static const struct words {
    int family, type, code;
    const char *format;
    enum arg arg;
} words[] = {
    { AF_INET, ICMP_DEST_UNREACH, ICMP_NET_UNREACH, "Destination Net Unreachable", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, "Destination Host Unreachable", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, "Destination Protocol Unreachable", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, "Destination Port Unreachable", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, "Frag needed and DF set (mtu = %u)", INFO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_SR_FAILED, "Source Route Failed", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_NET_UNKNOWN, "Destination Net Unknown", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_HOST_UNKNOWN, "Destination Host Unknown", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_HOST_ISOLATED, "Source Host Isolated", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_NET_ANO, "Destination Net Prohibited", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_HOST_ANO, "Destination Host Prohibited", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_NET_UNR_TOS,
      "Destination Net Unreachable for Type of Service", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_HOST_UNR_TOS,
      "Destination Host Unreachable for Type of Service", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, "Packet filtered", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_PREC_VIOLATION, "Precedence Violation", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ICMP_PREC_CUTOFF, "Precedence Cutoff", NO_ARG },
    { AF_INET, ICMP_DEST_UNREACH, ANY, "Dest Unreachable, Bad Code: %u", CODE_ARG },
    { AF_INET, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, "Time to live exceeded", NO_ARG },
    { AF_INET, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, "Frag reassembly time exceeded", NO_ARG },
    { AF_INET, ICMP_TIME_EXCEEDED, ANY, "Time exceeded, Bad Code: %u", CODE_ARG },
    { AF_INET, ICMP_PARAMETERPROB, ANY, "Parameter problem: pointer = %u", INFO_ARG },
    { AF_INET, ICMP_SOURCE_QUENCH, ANY, "Source Quench", NO_ARG },
    { AF_INET, ANY, ANY, "Bad ICMP type: %u", TYPE_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, "Destination unreachable: No route",
      NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADMIN,
      "Destination unreachable: Administratively prohibited", NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE,
      "Destination unreachable: Beyond scope of source address", NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR,
      "Destination unreachable: Address unreachable", NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT,
      "Destination unreachable: Port unreachable", NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, 5, /* RFC 4443 */
      "Destination unreachable: Source address failed ingress/egress policy", NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, 6, "Destination unreachable: Reject route to destination",
      NO_ARG },
    { AF_INET6, ICMP6_DST_UNREACH, ANY, "Destination unreachable: Unknown code %u", CODE_ARG },
    { AF_INET6, ICMP6_PACKET_TOO_BIG, ANY, "Packet too big: mtu=%u", INFO_ARG },
    { AF_INET6, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT, "Time exceeded: Hop limit",
      NO_ARG },
    { AF_INET6, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY,
      "Time exceeded: Defragmentation failure", NO_ARG },
    { AF_INET6, ICMP6_TIME_EXCEEDED, ANY, "Time exceeded: code %u", CODE_ARG },
    { AF_INET6, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER,
      "Parameter problem: Wrong header field at %u", INFO_ARG },
    { AF_INET6, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER,
      "Parameter problem: Unknown header at %u", INFO_ARG },
    { AF_INET6, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, "Parameter problem: Unknown option at %u",
      INFO_ARG },
    { AF_INET6, ICMP6_PARAM_PROB, ANY, "Parameter problem: code %u at %u", CODE_INFO_ARGS },
    { AF_INET6, ANY, ANY, "unknown icmp type: %u", TYPE_ARG },
};

static bool matches(const struct words *w, int family, uint8_t type, uint8_t code)
{
    return w->family == family && (w->type == ANY || w->type == type) &&
           (w->code == ANY || w->code == code);
}

const char *sockit_ping_describe(int family, uint8_t type, uint8_t code, uint32_t info, char *buf,
                                 size_t size)
{
    const struct words *w = NULL;

    if (size == 0)
        return buf;
    family = family == AF_INET ? AF_INET : AF_INET6;
    for (size_t i = 0; !w && i < sizeof(words) / sizeof(words[0]); i++)
        w = matches(&words[i], family, type, code) ? &words[i] : NULL;
    switch (w->arg) {
    case NO_ARG: snprintf(buf, size, "%s", w->format); break;
    case TYPE_ARG: snprintf(buf, size, w->format, (unsigned)type); break;
    case CODE_ARG: snprintf(buf, size, w->format, (unsigned)code); break;
    case INFO_ARG: snprintf(buf, size, w->format, info); break;
    case CODE_INFO_ARGS: snprintf(buf, size, w->format, (unsigned)code, info); break;
    }
    return buf;
}
