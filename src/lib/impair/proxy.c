/* The UDP impairment proxy (sockit/impair_proxy.h): sessions by client address, one impairment
 * per direction, one loop timer for the next release. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy_internal.h"
#include "sockit/dgram.h"
#include "sockit/socket.h"

#define DEFAULT_IDLE_MS      60000
#define DEFAULT_MAX_SESSIONS 10000
#define MAX_SESSIONS         1000000
#define NS_PER_MS            1000000ull

void sockit__impair_log(struct sockit_impair_proxy *p, enum sockit__impair_notice kind,
                        const char *fmt, ...)
{
    uint64_t now = sockit_loop_now(p->loop);
    char line[256];
    va_list ap;

    if (!p->o.on_log || (p->logged_ns[kind] && now - p->logged_ns[kind] < 1000 * NS_PER_MS))
        return;
    p->logged_ns[kind] = now;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    p->o.on_log(line, p->o.ud);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static size_t addr_hash(const struct sockit_addr *a, size_t nbuckets)
{
    const unsigned char *b = (const unsigned char *)&a->u;
    uint64_t h = 1469598103934665603ull;

    for (socklen_t i = 0; i < a->len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (nbuckets - 1);
}

static struct session *find(struct sockit_impair_proxy *p, const struct sockit_addr *a)
{
    for (struct session *s = p->buckets[addr_hash(a, p->nbuckets)]; s; s = s->chain)
        if (sockit_addr_equal(&s->client, a))
            return s;
    return NULL;
}

static void unlink_age(struct sockit_impair_proxy *p, struct session *s)
{
    *(s->older ? &s->older->newer : &p->oldest) = s->newer;
    *(s->newer ? &s->newer->older : &p->newest) = s->older;
    s->older = s->newer = NULL;
}

/* A datagram either way: S is the newest session. */
static void touch(struct sockit_impair_proxy *p, struct session *s)
{
    s->last_ns = sockit_loop_now(p->loop);
    if (p->newest == s)
        return;
    if (s->older || s->newer || p->oldest == s) /* a new session is in no list yet */
        unlink_age(p, s);
    s->older = p->newest;
    *(p->newest ? &p->newest->newer : &p->oldest) = s;
    p->newest = s;
}

/* End S: its held packets dropped, its socket closed (freed in on_close). */
static void end_session(struct sockit_impair_proxy *p, struct session *s)
{
    struct session **link = &p->buckets[addr_hash(&s->client, p->nbuckets)];

    while (*link != s)
        link = &(*link)->chain;
    *link = s->chain;
    unlink_age(p, s);
    p->nsessions--;
    for (int d = 0; d < 2; d++)
        sockit_impair_forget(p->im[d], (uint64_t)(uintptr_t)s);
    sockit_dgram_close(s->up);
}

/* A session's socket, towards the upstream (defined with the datagrams below). */
static void up_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                    void *ud);
static void upstream_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer,
                           void *ud);
static void session_close(struct sockit_dgram *d, int err, void *ud);

static const struct sockit_dgram_ops upstream_ops = {
    .on_recv = up_recv,
    .on_error = upstream_error,
    .on_close = session_close,
};

static struct session *open_session(struct sockit_impair_proxy *p, const struct sockit_addr *client)
{
    struct sockit_sockopts so = { .trace = p->o.trace };
    struct sockit_dgram_opts dopts = { .trace = p->o.trace };
    struct session *s;
    int fd, err = 0;

    if (p->nsessions >= p->o.max_sessions) {
        p->sessions_refused++;
        sockit__impair_log(p, SOCKIT__NOTICE_REFUSED,
                           "a new client refused: %zu sessions already (--max-sessions)",
                           p->nsessions);
        return NULL;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return NULL;
    if ((fd = err = sockit_socket_connect_addr(&p->upstream, SOCK_DGRAM, &so)) < 0 ||
        (err = sockit_dgram_open(p->loop, fd, &upstream_ops, s, &dopts, &s->up)) < 0) {
        free(s);
        sockit__impair_log(p, SOCKIT__NOTICE_REFUSED,
                           "a new client refused: no socket to the upstream: %s", strerror(-err));
        p->sessions_refused++;
        return NULL;
    }
    p->open++;
    s->p = p;
    s->client = *client;
    size_t b = addr_hash(client, p->nbuckets);
    s->chain = p->buckets[b];
    p->buckets[b] = s;
    p->nsessions++;
    p->sessions_opened++;
    touch(p, s);
    return s;
}

/* Sessions silent for the idle time end; the timer comes back for the next one due. */
static void on_expire(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sockit_impair_proxy *p = data;
    uint64_t idle = p->o.session_idle_ms * NS_PER_MS, now = sockit_loop_now(loop);

    (void)t;
    while (p->oldest && p->oldest->last_ns + idle <= now) {
        p->sessions_expired++;
        end_session(p, p->oldest);
    }
    uint64_t next = p->oldest ? p->oldest->last_ns + idle - now : idle;
    sockit_timer_start(loop, &p->expire, next < NS_PER_MS ? NS_PER_MS : next, 0);
}

/* ---- datagrams ------------------------------------------------------------------------------ */

static void send_up(struct sockit_impair_proxy *p, struct session *s, const void *data, size_t len)
{
    if (sockit_dgram_write(s->up, data, len, NULL) < 0)
        p->send_drops++;
}

static void send_down(struct sockit_impair_proxy *p, struct session *s, const void *data,
                      size_t len)
{
    if (sockit_dgram_write(p->listener, data, len, &s->client) < 0)
        p->send_drops++;
}

/* Send what is due in both directions; arm the timer for what is next. */
static void release(struct sockit_impair_proxy *p)
{
    uint64_t now = sockit_loop_now(p->loop);
    struct sockit_impair_packet *pkt;

    uint64_t next = UINT64_MAX;

    for (int d = 0; d < 2; d++) {
        while ((pkt = sockit_impair_pop(p->im[d], now))) {
            struct session *s = (struct session *)(uintptr_t)pkt->tag;
            (d == 0 ? send_up : send_down)(p, s, pkt->data, pkt->len);
            free(pkt);
        }
        uint64_t n = sockit_impair_next(p->im[d]);
        next = n < next ? n : next;
    }
    if (next == UINT64_MAX) {
        sockit_timer_stop(p->loop, &p->release);
        p->release_at = 0;
    } else if (next != p->release_at) {
        sockit_timer_start(p->loop, &p->release, next > now ? next - now : 0, 0);
        p->release_at = next;
    }
}

static void on_release(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop;
    (void)t;
    ((struct sockit_impair_proxy *)data)->release_at = 0;
    release(data);
}

/* One datagram into direction D's impairment; sent at once when it passes untouched. */
static void impair(struct sockit_impair_proxy *p, int d, struct session *s, const void *data,
                   size_t len)
{
    int v =
        sockit_impair_push(p->im[d], sockit_loop_now(p->loop), data, len, (uint64_t)(uintptr_t)s);

    if (v == SOCKIT_IMPAIR_PASS)
        (d == 0 ? send_up : send_down)(p, s, data, len);
}

/* From clients: each to its session (opened on its first datagram), then up. */
static void client_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n,
                        void *ud)
{
    struct sockit_impair_proxy *p = ud;

    (void)d;
    for (size_t i = 0; i < n; i++) {
        struct session *s = find(p, &msgs[i].peer);
        if (!s && !(s = open_session(p, &msgs[i].peer)))
            continue;
        touch(p, s);
        impair(p, 0, s, msgs[i].data, msgs[i].len);
    }
    release(p);
}

/* From the upstream, on a session's socket: down to its client. */
static void up_recv(struct sockit_dgram *d, const struct sockit_dgram_msg *msgs, size_t n, void *ud)
{
    struct session *s = ud;
    struct sockit_impair_proxy *p = s->p;

    (void)d;
    touch(p, s);
    for (size_t i = 0; i < n; i++)
        impair(p, 1, s, msgs[i].data, msgs[i].len);
    release(p);
}

/* An ICMP error (or a datagram the kernel refused): counted, logged, never fatal. */
static void icmp_error(struct sockit_impair_proxy *p, const char *side, int err,
                       const struct sockit_addr *peer)
{
    char where[128] = "?";

    p->icmp_errors++;
    if (peer)
        sockit_addr_format(peer, where, sizeof(where));
    sockit__impair_log(p, SOCKIT__NOTICE_ICMP, "%s %s: %s", side, where, strerror(-err));
}

static void client_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer, void *ud)
{
    (void)d;
    icmp_error(ud, "client", err, peer);
}

static void upstream_error(struct sockit_dgram *d, int err, const struct sockit_addr *peer,
                           void *ud)
{
    struct session *s = ud;

    (void)d;
    icmp_error(s->p, "upstream", err, peer ? peer : &s->p->upstream);
}

void sockit__impair_proxy_gone(struct sockit_impair_proxy *p)
{
    if (--p->open == 0 && p->closing) {
        for (int d = 0; d < 2; d++) {
            sockit_impair_free(p->im[d]);
            free(p->tcp_delays[d]);
        }
        free(p->buckets);
        free(p);
    }
}

static void session_close(struct sockit_dgram *d, int err, void *ud)
{
    struct session *s = ud;
    struct sockit_impair_proxy *p = s->p;

    (void)d;
    (void)err;
    free(s);
    sockit__impair_proxy_gone(p);
}

static void listener_close(struct sockit_dgram *d, int err, void *ud)
{
    (void)d;
    (void)err;
    sockit__impair_proxy_gone(ud);
}

static const struct sockit_dgram_ops listener_ops = {
    .on_recv = client_recv,
    .on_error = client_error,
    .on_close = listener_close,
};

/* ---- the proxy ------------------------------------------------------------------------------ */

int sockit_impair_stream_fit(const struct sockit_impair_options *o, const char **why)
{
    const char *w = NULL;

    if (o->reorder > 0)
        w = "reorder: a stream has no datagrams to reorder";
    else if (o->duplicate > 0)
        w = "duplicate: a stream has no datagrams to duplicate";
    else if (o->corrupt > 0)
        w = "corrupt: TCP's checksum would drop the segment; corrupt datagrams instead";
    else if (o->mtu)
        w = "mtu: a stream has no datagrams to cut";
    if (why)
        *why = w;
    return w ? -EINVAL : 0;
}

static int check(const struct sockit_impair_proxy_options *o)
{
    bool udp = o->listen.transport == SOCKIT_UDP && o->upstream.transport == SOCKIT_UDP;
    bool stream = sockit_endpoint_is_stream(&o->listen) && sockit_endpoint_is_stream(&o->upstream);

    if ((!udp && !stream) || o->max_sessions > MAX_SESSIONS)
        return -EINVAL;
    if (sockit_impair_options_check(&o->up, NULL) < 0 ||
        sockit_impair_options_check(&o->down, NULL) < 0)
        return -EINVAL;
    if (stream && (sockit_impair_stream_fit(&o->up, NULL) < 0 ||
                   sockit_impair_stream_fit(&o->down, NULL) < 0))
        return -EINVAL;
    return 0;
}

static int open_sockets(struct sockit_impair_proxy *p)
{
    struct sockit_sockopts so = { .trace = p->o.trace };
    struct sockit_dgram_opts dopts = { .trace = p->o.trace };
    int n = sockit_endpoint_resolve(&p->o.upstream, 0, &p->upstream, 1);
    int fd;

    if (n < 0)
        return n;
    if (p->stream)
        return sockit__impair_tcp_open(p);
    if ((fd = sockit_socket_listen(&p->o.listen, &so, &p->local)) < 0)
        return fd;
    int err = sockit_dgram_open(p->loop, fd, &listener_ops, p, &dopts, &p->listener);
    if (err == 0)
        p->open++;
    return err;
}

int sockit_impair_proxy_new(struct sockit_impair_proxy **out, struct sockit_loop *loop,
                            const struct sockit_impair_proxy_options *o)
{
    struct sockit_impair_proxy *p;
    uint64_t seed = o->seed;
    int err;

    if ((err = check(o)) < 0)
        return err;
    if (!(p = calloc(1, sizeof(*p))))
        return -ENOMEM;
    p->loop = loop;
    p->o = *o;
    p->stream = sockit_endpoint_is_stream(&o->listen);
    if (!p->o.session_idle_ms)
        p->o.session_idle_ms = DEFAULT_IDLE_MS;
    if (!p->o.max_sessions)
        p->o.max_sessions = DEFAULT_MAX_SESSIONS;
    for (p->nbuckets = 64; p->nbuckets < 2 * p->o.max_sessions; p->nbuckets *= 2)
        ;
    sockit_timer_init(&p->release, on_release, p);
    sockit_timer_init(&p->expire, on_expire, p);
    if (!(p->buckets = calloc(p->nbuckets, sizeof(*p->buckets))) ||
        (err = sockit_impair_new(&p->im[0], &o->up, seed)) < 0 ||
        (err = sockit_impair_new(&p->im[1], &o->down, sockit_impair_rand(&seed))) < 0 ||
        (err = open_sockets(p)) < 0) {
        sockit_impair_free(p->im[0]);
        sockit_impair_free(p->im[1]);
        free(p->tcp_delays[0]);
        free(p->tcp_delays[1]);
        free(p->buckets);
        free(p);
        return err ? err : -ENOMEM;
    }
    sockit_timer_start(loop, &p->expire, p->o.session_idle_ms * NS_PER_MS, 0);
    *out = p;
    return 0;
}

void sockit_impair_proxy_free(struct sockit_impair_proxy *p)
{
    if (!p)
        return;
    sockit_timer_stop(p->loop, &p->release);
    sockit_timer_stop(p->loop, &p->expire);
    while (p->oldest)
        end_session(p, p->oldest);
    sockit__impair_control_close(p);
    p->closing = true;
    if (p->stream) {
        sockit__impair_tcp_close_all(p, false);
        p->open++; /* the listener's share, closed at once */
        sockit__impair_proxy_gone(p);
        return;
    }
    sockit_dgram_close(p->listener); /* the last on_close frees P */
}

void sockit_impair_proxy_local(const struct sockit_impair_proxy *p, struct sockit_addr *out)
{
    *out = p->local;
}

int sockit_impair_proxy_set(struct sockit_impair_proxy *p, unsigned dirs,
                            const struct sockit_impair_options *o)
{
    if (sockit_impair_options_check(o, NULL) < 0 ||
        (p->stream && sockit_impair_stream_fit(o, NULL) < 0))
        return -EINVAL;
    for (int d = 0; d < 2; d++)
        if (dirs & (1u << d))
            sockit_impair_set(p->im[d], o);
    if (p->stream)
        sockit__impair_tcp_set(p);
    return 0;
}

const struct sockit_impair_options *sockit_impair_proxy_options(const struct sockit_impair_proxy *p,
                                                                enum sockit_impair_dir dir)
{
    return sockit_impair_options(p->im[dir == SOCKIT_IMPAIR_DOWN]);
}

void sockit_impair_proxy_stats(const struct sockit_impair_proxy *p,
                               struct sockit_impair_proxy_stats *out)
{
    *out = (struct sockit_impair_proxy_stats){
        .sessions = p->nsessions,
        .sessions_opened = p->sessions_opened,
        .sessions_expired = p->sessions_expired,
        .sessions_refused = p->sessions_refused,
        .icmp_errors = p->icmp_errors,
        .send_drops = p->send_drops,
    };
    if (p->stream) {
        struct sockit_impair_stats st[2];
        sockit__impair_tcp_stats(p, st);
        out->up = st[0];
        out->down = st[1];
        return;
    }
    sockit_impair_stats(p->im[0], &out->up);
    sockit_impair_stats(p->im[1], &out->down);
}

const struct sockit_hist *sockit_impair_proxy_delays(const struct sockit_impair_proxy *p,
                                                     enum sockit_impair_dir dir)
{
    int d = dir == SOCKIT_IMPAIR_DOWN;

    return p->stream ? p->tcp_delays[d] : sockit_impair_delays(p->im[d]);
}

/* ---- the control channel -------------------------------------------------------------------- */

static void dir_json(char *buf, size_t size, size_t *len, const char *name,
                     const struct sockit_impair_stats *s, const struct sockit_hist *h)
{
    int n = snprintf(buf + *len, *len < size ? size - *len : 0,
                     "\"%s\":{\"in\":%llu,\"out\":%llu,\"lost\":%llu,\"queue_drops\":%llu,"
                     "\"mtu_drops\":%llu,\"truncated\":%llu,\"duplicated\":%llu,"
                     "\"corrupted\":%llu,\"reordered\":%llu,\"held\":%zu,\"held_bytes\":%zu,"
                     "\"delay_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}",
                     name, (unsigned long long)s->in, (unsigned long long)s->out,
                     (unsigned long long)s->lost, (unsigned long long)s->queue_drops,
                     (unsigned long long)s->mtu_drops, (unsigned long long)s->truncated,
                     (unsigned long long)s->duplicated, (unsigned long long)s->corrupted,
                     (unsigned long long)s->reordered, s->held, s->held_bytes,
                     (double)sockit_hist_percentile(h, 50) / 1e3,
                     (double)sockit_hist_percentile(h, 99) / 1e3, (double)h->max / 1e3);
    *len += n > 0 ? (size_t)n : 0;
}

int sockit_impair_proxy_stats_json(const struct sockit_impair_proxy *p, char *buf, size_t size)
{
    struct sockit_impair_proxy_stats st;
    size_t len = 0;
    int n;

    sockit_impair_proxy_stats(p, &st);
    n = snprintf(buf, size,
                 "{\"sessions\":%zu,\"sessions_opened\":%llu,\"sessions_expired\":%llu,"
                 "\"sessions_refused\":%llu,\"icmp_errors\":%llu,\"send_drops\":%llu,",
                 st.sessions, (unsigned long long)st.sessions_opened,
                 (unsigned long long)st.sessions_expired, (unsigned long long)st.sessions_refused,
                 (unsigned long long)st.icmp_errors, (unsigned long long)st.send_drops);
    len = n > 0 ? (size_t)n : 0;
    dir_json(buf, size, &len, "up", &st.up, sockit_impair_proxy_delays(p, SOCKIT_IMPAIR_UP));
    n = snprintf(buf + len, len < size ? size - len : 0, ",");
    len += n > 0 ? (size_t)n : 0;
    dir_json(buf, size, &len, "down", &st.down, sockit_impair_proxy_delays(p, SOCKIT_IMPAIR_DOWN));
    n = snprintf(buf + len, len < size ? size - len : 0, "}");
    len += n > 0 ? (size_t)n : 0;
    return len < size ? (int)len : -ENOSPC;
}

/* "stall [up|down] TIME": nothing leaves that direction for TIME; what comes meanwhile waits
 * in order. */
static int stall(struct sockit_impair_proxy *p, const char *args, char *reply, size_t cap)
{
    char dir[8] = "", time[32] = "";
    unsigned dirs = 3;
    uint64_t ns;
    int n = sscanf(args, " %7s %31s", dir, time);

    if (n == 2 && strcmp(dir, "up") == 0)
        dirs = 1;
    else if (n == 2 && strcmp(dir, "down") == 0)
        dirs = 2;
    else if (n == 1)
        memcpy(time, dir, sizeof(dir));
    else
        n = 0;
    if (n == 0 || sockit_impair_parse_time(time, &ns) < 0) {
        snprintf(reply, cap, "error: usage: stall [up|down] TIME (e.g. stall 2s)");
        return -EINVAL;
    }
    uint64_t until = sockit_loop_now(p->loop) + ns;
    for (int d = 0; d < 2; d++)
        if (dirs & (1u << d)) {
            p->stall_until[d] = until; /* for the connections still to come */
            sockit_impair_stall(p->im[d], until);
        }
    if (p->stream)
        sockit__impair_tcp_set(p);
    else
        release(p);
    snprintf(reply, cap, "ok");
    return 0;
}

/* "reset": every connection (streams) reset, every session (datagrams) ended. */
static int reset(struct sockit_impair_proxy *p, char *reply, size_t cap)
{
    size_t n = 0;

    if (p->stream) {
        n = sockit__impair_tcp_close_all(p, true);
    } else {
        for (; p->oldest; n++)
            end_session(p, p->oldest);
    }
    snprintf(reply, cap, "ok: %zu %s", n, p->stream ? "connections reset" : "sessions ended");
    return 0;
}

/* Whether LINE is command WORD (blanks around it); what follows it in *ARGS. */
static bool command_is(const char *line, const char *word, const char **args)
{
    size_t n = strlen(word);

    line += strspn(line, " \t");
    if (strncmp(line, word, n) != 0 || !strchr(" \t\r", line[n]))
        return false;
    *args = line + n;
    return true;
}

static bool no_args(const char *args)
{
    return args[strspn(args, " \t\r")] == '\0';
}

int sockit_impair_proxy_command(struct sockit_impair_proxy *p, const char *line, char *reply,
                                size_t cap)
{
    struct sockit_impair_options opts[2] = { *sockit_impair_options(p->im[0]),
                                             *sockit_impair_options(p->im[1]) };
    const char *why = NULL, *args;
    unsigned changed;

    if (command_is(line, "stall", &args))
        return stall(p, args, reply, cap);
    if (command_is(line, "reset", &args) && no_args(args))
        return reset(p, reply, cap);
    if (command_is(line, "help", &args) && no_args(args)) {
        snprintf(reply, cap,
                 "commands: set [up|down] NAME VALUE; clear [up|down]; stall "
                 "[up|down] TIME; reset; show; stats; help");
        return 0;
    }
    int rc = sockit_impair_command(opts, line, reply, cap, &changed);
    if (rc == SOCKIT_IMPAIR_CMD_STATS) {
        if (sockit_impair_proxy_stats_json(p, reply, cap) < 0)
            snprintf(reply, cap, "error: the answer does not fit");
        return 0;
    }
    for (int d = 0; d < 2; d++)
        if (p->stream && (changed & (1u << d)) && sockit_impair_stream_fit(&opts[d], &why) < 0) {
            snprintf(reply, cap, "error: %s", why);
            return -EINVAL;
        }
    for (int d = 0; d < 2; d++)
        if (changed & (1u << d))
            sockit_impair_set(p->im[d], &opts[d]);
    if (changed && p->stream)
        sockit__impair_tcp_set(p);
    return rc;
}
