/* The ping session: ping's schedule (when to send, when to stop), replies and errors counted
 * as ping counts them, and the statistics. The socket itself is ping_socket.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/trace.h"
#include "ping_internal.h"
#include "sockit/clock.h"
#include "sockit/error.h"
#include "sockit/socket.h"

#define MS_NS               1000000ull
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_LINGER_MS   10000
#define IN_SLACK            (60 + 64) /* an IPv4 header with options, and a reply a little larger */

/* ---- open and close ---------------------------------------------------------------------- */

static int check_options(int family, const struct sockit_ping_options *o)
{
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (o->size > (family == AF_INET ? SOCKIT_PING4_MAX_SIZE : SOCKIT_PING6_MAX_SIZE))
        return -EMSGSIZE;
    return 0;
}

/* The target, its port cleared: a raw IPv6 socket refuses a port other than its protocol. */
static void set_target(struct sockit_ping *p, const struct sockit_addr *to)
{
    p->to = *to;
    if (p->family == AF_INET)
        p->to.u.in.sin_port = 0;
    else
        p->to.u.in6.sin6_port = 0;
}

int sockit_ping_open(struct sockit_ping **out, const struct sockit_addr *to,
                     const struct sockit_ping_options *o)
{
    struct sockit_ping *p;
    int err = check_options(to->u.sa.sa_family, o);

    *out = NULL;
    if (err)
        return err;
    if (!(p = calloc(1, sizeof(*p))))
        return -ENOMEM;
    p->fd = -1;
    p->family = to->u.sa.sa_family;
    set_target(p, to);
    p->o = *o;
    p->o.interval_ms = o->interval_ms ? o->interval_ms : DEFAULT_INTERVAL_MS;
    p->o.linger_ms = o->linger_ms ? o->linger_ms : DEFAULT_LINGER_MS;
    p->out_len = SOCKIT_PING_HEADER + o->size;
    p->in_cap = p->out_len + IN_SLACK;
    p->out = malloc(p->out_len);
    p->in = malloc(p->in_cap);
    err = p->out && p->in ? sockit__ping_socket_open(p) : -ENOMEM;
    if (err) {
        sockit_ping_close(p);
        return err;
    }
    *out = p;
    return 0;
}

void sockit_ping_close(struct sockit_ping *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        sockit_socket_close(p->fd, p->o.trace);
    free(p->out);
    free(p->in);
    free(p);
}

void sockit_ping_info(const struct sockit_ping *p, struct sockit_ping_info *out)
{
    *out = (struct sockit_ping_info){
        .family = p->family, .socktype = p->socktype, .id = p->id, .fd = p->fd
    };
}

void sockit__ping_addr_text(const struct sockit_addr *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?", zone[IF_NAMESIZE + 1] = "";

    if (a->u.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof(ip));
    if (a->u.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof(ip));
        if (a->u.in6.sin6_scope_id && if_indextoname(a->u.in6.sin6_scope_id, zone + 1))
            zone[0] = '%';
    }
    snprintf(buf, size, "%s%s", ip, zone);
}

/* ---- sending ----------------------------------------------------------------------------- */

static void blank_event(struct sockit_ping_event *ev, enum sockit_ping_kind kind, int seq)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->seq = seq;
    ev->ttl = -1;
    ev->rtt_ns = -1;
    ev->bad_byte = -1;
}

int sockit_ping_send(struct sockit_ping *p, struct sockit_ping_event *ev)
{
    uint64_t now = sockit_clock_ns();
    struct sockit_ping_echo e = { .id = p->id, .size = p->o.size, .sent_ns = now };
    long sent;

    e.has_stamp = e.size >= SOCKIT_PING_STAMP;
    e.seq = sockit_ping_seen_send(&p->seen);
    int n = sockit_ping_build(p->out, p->out_len, p->family, &e);
    if (n < 0)
        return n;
    if (!p->start_ns)
        p->start_ns = now;
    p->last_ns = now;
    if ((sent = sockit__ping_socket_send(p, e.seq)) >= 0)
        return 0;
    blank_event(ev, SOCKIT_PING_SEND_ERROR, e.seq);
    ev->err = (int)sent;
    return 1;
}

/* ---- receiving ----------------------------------------------------------------------------- */

static void add_rtt(struct sockit_ping *p, int64_t rtt)
{
    if (!p->timed || rtt < p->rtt_min)
        p->rtt_min = rtt;
    if (!p->timed || rtt > p->rtt_max)
        p->rtt_max = rtt;
    p->timed++;
    p->rtt_sum += (double)rtt;
    p->rtt_sum2 += (double)rtt * (double)rtt;
}

/* As ping counts a reply: a bad checksum is corrupted (not received, not timed); a duplicate
 * is timed but not received again. */
static void count_reply(struct sockit_ping *p, struct sockit_ping_event *ev)
{
    unsigned flags;

    if (ev->bad_checksum) {
        p->corrupted++;
        return;
    }
    flags = sockit_ping_seen_reply(&p->seen, (uint16_t)ev->seq);
    ev->dup = flags & SOCKIT_PING_DUP;
    ev->late = flags & SOCKIT_PING_LATE;
    if (ev->dup)
        p->duplicates++;
    else
        p->received++;
    if (ev->late)
        p->late++;
    if (ev->rtt_ns >= 0)
        add_rtt(p, ev->rtt_ns);
}

static void reply_event(const struct sockit_ping *p, const struct sockit__ping_packet *pkt,
                        const struct sockit_ping_reply *r, struct sockit_ping_event *ev)
{
    blank_event(ev, SOCKIT_PING_REPLY, r->echo.seq);
    ev->from = pkt->from;
    ev->len = r->len;
    ev->ttl = r->ttl >= 0 ? r->ttl : pkt->ttl;
    if (r->echo.has_stamp) /* a send time later than the arrival is a damaged one: 0 */
        ev->rtt_ns =
            pkt->arrived_ns > r->echo.sent_ns ? (int64_t)(pkt->arrived_ns - r->echo.sent_ns) : 0;
    ev->truncated = r->echo.size < p->o.size;
    ev->bad_checksum = r->bad_checksum;
    ev->bad_byte = r->bad_byte;
    ev->bad_value = r->bad_value;
}

static const char *verdict(int err, const struct sockit_ping_reply *r)
{
    if (err == -EMSGSIZE)
        return "not ours: larger than our requests";
    if (err == -EBADMSG)
        return "malformed";
    if (err == -ENOMSG)
        return "not ours: another type or identifier";
    return r->bad_checksum ? "echo reply, bad checksum" : "echo reply";
}

static void trace_packet(const struct sockit_ping *p, const struct sockit__ping_packet *pkt,
                         int err, const struct sockit_ping_reply *r)
{
    char from[SOCKIT_ADDR_STRLEN];

    sockit__ping_addr_text(&pkt->from, from, sizeof(from));
    if (err)
        sockit__trace(p->o.trace, "recvmsg(%d) = %zu from %s [%s]", p->fd, pkt->len, from,
                      verdict(err, r));
    else
        sockit__trace(p->o.trace, "recvmsg(%d) = %zu from %s [%s id=%u seq=%u]", p->fd, pkt->len,
                      from, verdict(0, r), r->echo.id, r->echo.seq);
}

/* One packet from the normal queue: 1 with a reply in *EV, or 0 for a packet not ours. */
static int take_packet(struct sockit_ping *p, const struct sockit__ping_packet *pkt,
                       struct sockit_ping_event *ev)
{
    bool ip_header = p->family == AF_INET && p->socktype == SOCK_RAW;
    struct sockit_ping_reply r = { 0 };
    int err =
        pkt->cut ? -EMSGSIZE : sockit_ping_parse(p->in, pkt->len, p->family, ip_header, p->id, &r);

    if (p->o.trace)
        trace_packet(p, pkt, err, &r);
    if (err)
        return 0;
    reply_event(p, pkt, &r, ev);
    count_reply(p, ev);
    return 1;
}

static void count_error(struct sockit_ping *p, const struct sockit_ping_event *ev)
{
    p->errors++;
    if (ev->seq >= 0)
        sockit_ping_seen_error(&p->seen, (uint16_t)ev->seq);
}

/* A failure of the normal queue that a bad socket or bad memory causes, not the network: the
 * others are the pending error of an ICMP message, already read from the error queue. */
static bool is_fatal(int err)
{
    return err == -EBADF || err == -ENOTSOCK || err == -EFAULT || err == -EINVAL || err == -ENOMEM;
}

int sockit_ping_recv(struct sockit_ping *p, struct sockit_ping_event *ev)
{
    struct sockit__ping_packet pkt;
    int rc = sockit__ping_socket_read_error(p, ev);

    if (rc == 1)
        count_error(p, ev);
    if (rc != -EAGAIN)
        return rc;
    rc = sockit__ping_socket_read(p, &pkt);
    if (rc < 0)
        return rc == -EAGAIN || is_fatal(rc) ? rc : 0;
    return take_packet(p, &pkt, ev);
}

/* ---- the schedule -------------------------------------------------------------------------- */

/* All COUNT requests are out (with a deadline, requests go on until COUNT replies came). */
static bool sending_done(const struct sockit_ping *p)
{
    return p->o.count && p->seen.sent >= p->o.count && !p->o.deadline_ms;
}

static uint64_t deadline_at(const struct sockit_ping *p)
{
    return p->o.deadline_ms && p->start_ns ? p->start_ns + p->o.deadline_ms * MS_NS : 0;
}

/* Ping's rules: COUNT answered (replies and errors), an error with a deadline, the deadline,
 * or the end of the wait after the last request. */
static bool is_over(const struct sockit_ping *p, uint64_t now)
{
    uint64_t deadline = deadline_at(p);

    if (p->o.count && p->received + p->errors >= p->o.count)
        return true;
    if (deadline && (p->errors || now >= deadline))
        return true;
    return p->exit_ns && now >= p->exit_ns;
}

/* After the last request: wait LINGER_MS if nothing has answered, else twice the longest RTT
 * and at least an interval; set once, as ping does. */
static void plan_exit(struct sockit_ping *p)
{
    uint64_t wait = p->o.linger_ms * MS_NS;

    if (p->exit_ns || !sending_done(p))
        return;
    if (p->received) {
        wait = 2 * (uint64_t)p->rtt_max;
        if (wait < p->o.interval_ms * MS_NS)
            wait = p->o.interval_ms * MS_NS;
    }
    p->exit_ns = p->last_ns + wait;
}

/* The next request an interval after the one due, or after now when that is more than an
 * interval late: no burst to catch up. */
static void plan_next(struct sockit_ping *p, uint64_t now)
{
    uint64_t interval = p->o.interval_ms * MS_NS;

    if (p->next_ns && now - p->next_ns < interval)
        p->next_ns += interval;
    else
        p->next_ns = now + interval;
}

/* Milliseconds until the next thing due (rounded up, so as not to wake before it). */
static int wait_ms(const struct sockit_ping *p, uint64_t now)
{
    uint64_t until = sending_done(p) ? UINT64_MAX : p->next_ns;
    uint64_t deadline = deadline_at(p);

    if (p->exit_ns && p->exit_ns < until)
        until = p->exit_ns;
    if (deadline && deadline < until)
        until = deadline;
    if (until == UINT64_MAX)
        return -1;
    if (until <= now)
        return 0;
    uint64_t ms = (until - now + MS_NS - 1) / MS_NS;
    return ms > 1000000 ? 1000000 : (int)ms;
}

int sockit_ping_next(struct sockit_ping *p, int stop_fd, struct sockit_ping_event *ev)
{
    for (;;) {
        uint64_t now = sockit_clock_ns();
        int rc;

        if (is_over(p, now))
            return 0;
        if (!sending_done(p) && now >= p->next_ns) {
            rc = sockit_ping_send(p, ev);
            plan_next(p, now);
            plan_exit(p);
            if (rc != 0)
                return rc;
            continue;
        }
        rc = sockit_ping_recv(p, ev);
        if (rc == 1 || (rc < 0 && rc != -EAGAIN))
            return rc;
        if (rc == -EAGAIN && (rc = sockit_wait(p->fd, POLLIN, stop_fd, wait_ms(p, now))) < 0)
            return rc;
    }
}

/* ---- statistics ------------------------------------------------------------------------------ */

/* Newton's square root: the library does not link libm for one call. */
static double square_root(double v)
{
    double x = v, prev = 0;

    if (v <= 0)
        return 0;
    for (int i = 0; i < 200 && x != prev; i++) {
        prev = x;
        x = (x + v / x) / 2;
    }
    return x;
}

static void rtt_stats(const struct sockit_ping *p, struct sockit_ping_stats *st)
{
    double n = (double)p->timed, mean = p->rtt_sum / n;

    st->timed = true;
    st->rtt_min_ns = p->rtt_min;
    st->rtt_max_ns = p->rtt_max;
    st->rtt_avg_ns = (int64_t)mean;
    st->rtt_mdev_ns = (int64_t)square_root(p->rtt_sum2 / n - mean * mean);
}

void sockit_ping_stats(const struct sockit_ping *p, struct sockit_ping_stats *st)
{
    unsigned long sent = p->seen.sent;

    *st = (struct sockit_ping_stats){
        .transmitted = sent,
        .received = p->received,
        .duplicates = p->duplicates,
        .corrupted = p->corrupted,
        .errors = p->errors,
        .late = p->late,
        .loss_percent = sent ? ((double)sent - (double)p->received) * 100.0 / (double)sent : 0,
        .time_ns = p->start_ns ? p->last_ns - p->start_ns : 0,
        .pipe = p->seen.pipe,
    };
    if (p->timed)
        rtt_stats(p, st);
    st->success = p->received > 0 && !(p->o.deadline_ms && p->o.count && p->received < p->o.count);
}

/* ---- resolving ----------------------------------------------------------------------------- */

/* Endpoint parse errors that say something of a host; the others are about endpoint syntax
 * that a bare host does not have. */
static int host_error(int err)
{
    return err == -SOCKIT_EIPV4 || err == -SOCKIT_EIPV6 || err == -SOCKIT_EZONE ? err
                                                                                : -SOCKIT_EHOST;
}

int sockit_ping_resolve(const char *host, int family, struct sockit_addr *out)
{
    struct sockit_endpoint ep;
    char text[SOCKIT_ENDPOINT_MAX + 1];
    int flags = family == AF_INET    ? SOCKIT_RESOLVE_IPV4
                : family == AF_INET6 ? SOCKIT_RESOLVE_IPV6
                                     : 0;
    int n, err;

    if (!host[0] || strpbrk(host, "[]/"))
        return -SOCKIT_EHOST;
    n = snprintf(text, sizeof(text), strchr(host, ':') ? "udp://[%s]:1" : "udp://%s:1", host);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -SOCKIT_EHOST;
    if ((err = sockit_endpoint_parse(text, &ep)) < 0)
        return host_error(err);
    n = sockit_endpoint_resolve(&ep, flags, out, 1);
    return n < 0 ? n : 0;
}
