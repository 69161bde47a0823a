/* chat_load: the load client of bench/chat.sh. Many WebSocket chat clients on one epoll thread
 * speak docs/chat-protocol.md to any chat server (sockit chat, bench/anchors/chat_node.js,
 * bench/anchors/chat_lws.c), using sockit's sans-I/O WebSocket pieces (sockit/ws.h).
 *
 * Load mode: N clients connect and join one room, then K of them say 64-byte texts at a fixed
 * aggregate rate, each text starting with its send time; every client reads everything. For
 * each step (one rate, or a sweep of rising rates until a backlog forms) it prints one JSON
 * line: deliveries/s, end-to-end latency p50/p99/max, what was sent and delivered, whether
 * deliveries lagged the sends (a backlog), and with --server-pid the server's CPU time per
 * delivery over the measured window.
 * Idle mode (--idle M): M clients connect and join rooms of --room-size members, and the line
 * tells handshakes/s (connect, upgrade, join, welcome) and, with --server-pid, the server's
 * resident memory per connection.
 *
 * Usage: chat_load [OPTIONS] ws://127.0.0.1:PORT   (see --help) */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "sockit/ws.h"

#define NS         1000000000ull
#define RBUF_SIZE  (256u << 10) /* one read, for every connection in turn */
#define CARRY_MAX  256          /* an incomplete frame header or control frame */
#define MAX_TEXT   4096
#define MAX_EVENTS 256

static const char usage_text[] =
    "usage: chat_load [OPTIONS] ws://HOST:PORT [ws://HOST:PORT...]\n"
    "  (several servers sharing rooms, e.g. sockit chat --redis: clients spread round-robin)\n"
    "  -n, --clients N          clients in the room (default 100)\n"
    "  -k, --senders K          clients that send (default 10)\n"
    "  -r, --rate D             target deliveries/s (messages/s = D / N; default 50000)\n"
    "      --sweep FACTOR       after each backlog-free step, multiply the rate by FACTOR\n"
    "      --max-rate D         last rate of a sweep (default 2000000)\n"
    "      --patience P         end a sweep after P backlogged steps in a row (default 1)\n"
    "  -s, --size BYTES         text of each message (default 64, at least 16)\n"
    "  -w, --warmup SEC         sending before the measured window (default 1)\n"
    "  -d, --duration SEC       the measured window (default 3)\n"
    "      --drain SEC          longest wait for deliveries after sending (default 10)\n"
    "      --backlog-pct X      deliveries lagging sends by more than X%% at the end of the\n"
    "                           window is a backlog (default 2)\n"
    "      --idle M             open M clients, report handshakes/s and memory, exit\n"
    "      --room-size S        clients per room in --idle mode (default 100)\n"
    "      --hold SEC           in --idle mode, hold the clients this long after measuring\n"
    "  -c, --concurrency C      handshakes in flight at once (default 64)\n"
    "      --server-pid PID     measure this server's CPU time and memory (repeat: one per\n"
    "                           server; CPU is summed, and each server's listed)\n"
    "      --redis-pid PID      measure this Redis' CPU time per message sent\n"
    "      --timeout SEC        longest wait for connects, joins and notices (default 60)\n";

/* ---- options and state ------------------------------------------------------------------- */

#define MAX_NODES 8 /* chat servers the clients are spread over */

struct options {
    struct sockaddr_in addr[MAX_NODES];
    char host[MAX_NODES][64];
    unsigned nodes;
    unsigned clients, senders, size, concurrency, room_size, idle, patience;
    double rate, sweep, max_rate, warmup, duration, drain, backlog_pct, hold, timeout;
    int server_pid[MAX_NODES];
    unsigned npids;
    int redis_pid;
};

enum conn_state { C_CONNECTING, C_UPGRADING, C_JOINING, C_JOINED, C_CLOSED };

struct conn {
    int fd;
    uint32_t idx, room;
    enum conn_state state;
    bool pollout;
    struct sockit_ws_parser ws;
    char key[SOCKIT_WS_KEY_LEN + 1];
    uint8_t carry[CARRY_MAX];
    size_t carry_len;
    uint8_t *msg; /* the HTTP response head while upgrading, then a message in pieces */
    size_t msg_len, msg_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
};

/* Latency histogram: exact below 64 ns, then 32 buckets per power of two (3 % wide). */
#define HIST_BUCKETS (64 + 40 * 32)
struct hist {
    uint64_t n, max, b[HIST_BUCKETS];
};

struct counters {
    uint64_t sent, delivered, notices, leaves, errors, other;
};

struct load {
    struct options o;
    int ep;
    struct conn *conns;
    unsigned nconns, started, in_flight, joined, closed;
    uint64_t expected_notices;
    struct counters total;
    uint64_t t_first_connect, t_last_welcome;
    /* the current step's window */
    uint64_t win_start, win_end;
    uint64_t win_delivered;
    struct hist lat;
    uint64_t rng;
    uint8_t *rbuf, *scratch;
    char room_prefix[32];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "chat_load: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die("%s", "out of memory");
    return p;
}

static uint64_t xorshift(struct load *L)
{
    L->rng ^= L->rng << 13;
    L->rng ^= L->rng >> 7;
    L->rng ^= L->rng << 17;
    return L->rng;
}

/* ---- the latency histogram --------------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    if (v < 64)
        return (unsigned)v;
    unsigned e = 63 - (unsigned)__builtin_clzll(v);
    unsigned idx = 64 + (e - 6) * 32 + (unsigned)((v >> (e - 5)) & 31);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of bucket IDX. */
static uint64_t hist_value(unsigned idx)
{
    if (idx < 64)
        return idx;
    unsigned e = (idx - 64) / 32 + 6, sub = (idx - 64) % 32;
    uint64_t lo = (uint64_t)(32 + sub) << (e - 5);
    return lo + ((1ull << (e - 5)) >> 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* The value under which a fraction Q of the samples lie. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t want = (uint64_t)((double)h->n * q), seen = 0;

    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want)
            return hist_value(i) < h->max ? hist_value(i) : h->max;
    }
    return h->max;
}

/* ---- the server, seen from /proc --------------------------------------------------------- */

/* Nanoseconds on CPU of every thread of PID (schedstat), or 0 if it cannot be read. */
static uint64_t server_cpu_ns(int pid)
{
    char path[64];
    uint64_t sum = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    if (pid <= 0 || !(d = opendir(path)))
        return 0;
    while ((e = readdir(d)) != NULL) {
        char p[320];
        unsigned long long ns;
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
        if ((f = fopen(p, "r")) != NULL) {
            if (fscanf(f, "%llu", &ns) == 1)
                sum += ns;
            fclose(f);
        }
    }
    closedir(d);
    return sum;
}

/* CPU of every server given (--server-pid), each into EACH (may be NULL); the sum. */
static uint64_t servers_cpu_ns(const struct options *o, uint64_t *each)
{
    uint64_t sum = 0;

    for (unsigned i = 0; i < o->npids; i++) {
        uint64_t ns = server_cpu_ns(o->server_pid[i]);
        if (each)
            each[i] = ns;
        sum += ns;
    }
    return sum;
}

/* VmRSS of PID in KiB, or 0. */
static uint64_t server_rss_kib(int pid)
{
    char path[64], line[256];
    unsigned long long kib = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (pid <= 0 || !(f = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %llu", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- output to a connection -------------------------------------------------------------- */

static void set_pollout(struct load *L, struct conn *c, bool on)
{
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.u32 = c->idx };

    if (c->pollout == on)
        return;
    c->pollout = on;
    epoll_ctl(L->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static uint8_t *out_reserve(struct conn *c, size_t n)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    return c->out + c->out_len;
}

static void conn_close(struct load *L, struct conn *c, const char *why);

/* Write what is queued; what the socket does not take waits for EPOLLOUT. */
static void flush(struct load *L, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            set_pollout(L, c, true);
            return;
        }
        if (n < 0) {
            conn_close(L, c, strerror(errno));
            return;
        }
        c->out_off += (size_t)n;
    }
    set_pollout(L, c, false);
}

/* Queue one masked frame from client C. */
static void send_frame(struct load *L, struct conn *c, enum sockit_ws_opcode op, const void *p,
                       size_t len)
{
    uint64_t r = xorshift(L);
    uint8_t mask[4] = { (uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24) };
    uint8_t *o = out_reserve(c, SOCKIT_WS_MAX_HEADER + len);
    size_t h = sockit_ws_frame_header(o, op, true, false, len, mask);

    memcpy(o + h, p, len);
    sockit_ws_mask(o + h, len, mask, 0);
    c->out_len += h + len;
    if (!c->pollout)
        flush(L, c);
}

/* {"type":"say","text":TEXT}, TEXT the send time in 16 hex digits padded to --size. */
static void say(struct load *L, struct conn *c)
{
    char m[MAX_TEXT + 64];
    int n = snprintf(m, sizeof(m), "{\"type\":\"say\",\"text\":\"%016" PRIx64, now_ns());

    memset(m + n, 'x', L->o.size - 16);
    n += (int)L->o.size - 16;
    memcpy(m + n, "\"}", 2);
    send_frame(L, c, SOCKIT_WS_TEXT, m, (size_t)n + 2);
    L->total.sent++;
}

/* ---- connecting and joining -------------------------------------------------------------- */

static void conn_close(struct load *L, struct conn *c, const char *why)
{
    if (c->state == C_CLOSED)
        return;
    if (c->state != C_JOINED)
        L->in_flight--;
    if (L->closed++ < 3)
        fprintf(stderr, "chat_load: client %u: %s\n", c->idx, why);
    epoll_ctl(L->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = C_CLOSED;
}

static void conn_start(struct load *L, struct conn *c)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = c->idx };
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const struct sockaddr_in *to = &L->o.addr[c->idx % L->o.nodes]; /* spread round-robin */
    if (connect(c->fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->state = C_CONNECTING;
    c->pollout = true;
    epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev);
    L->in_flight++;
    if (!L->t_first_connect)
        L->t_first_connect = now_ns();
}

/* Connect more clients while fewer than --concurrency handshakes are in flight. */
static void start_more(struct load *L)
{
    while (L->started < L->nconns && L->in_flight < L->o.concurrency)
        conn_start(L, &L->conns[L->started++]);
}

/* The socket connected: send the upgrade request for the client's room. */
static void send_upgrade(struct load *L, struct conn *c)
{
    uint8_t nonce[16];
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        conn_close(L, c, err ? strerror(err) : "connect failed");
        return;
    }
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)xorshift(L);
    sockit_ws_client_key(nonce, c->key);
    char *o = (char *)out_reserve(c, 512);
    int n = snprintf(o, 512,
                     "GET /%s%u HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     L->room_prefix, c->room, L->o.host[c->idx % L->o.nodes], c->key);
    c->out_len += (size_t)n;
    c->state = C_UPGRADING;
    flush(L, c);
}

/* {"type":"join","nick":"uIDX"} */
static void send_join(struct load *L, struct conn *c)
{
    char m[64];
    int n = snprintf(m, sizeof(m), "{\"type\":\"join\",\"nick\":\"u%u\"}", c->idx);

    c->state = C_JOINING;
    send_frame(L, c, SOCKIT_WS_TEXT, m, (size_t)n);
}

/* Bytes of the server's answer to the upgrade: returns what the head took (the rest are
 * frames), 0 if incomplete, -1 after closing the client. */
static long on_response(struct load *L, struct conn *c, const uint8_t *p, size_t len)
{
    struct sockit_http_response resp;
    const char *chosen;

    if (c->msg_len + len > c->msg_cap) {
        c->msg_cap = (c->msg_len + len) * 2;
        c->msg = xrealloc(c->msg, c->msg_cap);
    }
    memcpy(c->msg + c->msg_len, p, len);
    size_t before = c->msg_len;
    c->msg_len += len;
    long n = sockit_http_parse_response((const char *)c->msg, c->msg_len, 0, &resp);
    if (n == 0)
        return 0;
    if (n < 0 || sockit_ws_response_check(&resp, c->key, NULL, &chosen) < 0) {
        conn_close(L, c, "upgrade refused");
        return -1;
    }
    c->msg_len = 0;
    send_join(L, c);
    return n - (long)before;
}

/* ---- messages from the server ------------------------------------------------------------ */

static bool has_type(const uint8_t *p, size_t len, const char *type)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "\"type\":\"%s\"", type);

    return memmem(p, len < 40 ? len : 40, want, (size_t)n) != NULL;
}

static void on_welcome(struct load *L, struct conn *c, const uint8_t *p, size_t len)
{
    if (!has_type(p, len, "welcome")) {
        conn_close(L, c, "the answer to join was not a welcome");
        return;
    }
    c->state = C_JOINED;
    L->in_flight--;
    L->joined++;
    L->t_last_welcome = now_ns();
}

/* A "message": its text starts with the send time. */
static void on_delivery(struct load *L, const uint8_t *p, size_t len)
{
    const uint8_t *t = memmem(p, len, "\"text\":\"", 8);
    uint64_t sent = 0, now = now_ns();

    L->total.delivered++;
    if (!t || now < L->win_start || now >= L->win_end)
        return;
    L->win_delivered++;
    t += 8;
    for (int i = 0; i < 16 && t + i < p + len; i++) {
        unsigned d = t[i];
        d = d <= '9' ? d - '0' : d - 'a' + 10;
        sent = sent << 4 | (d & 15);
    }
    hist_add(&L->lat, now > sent ? now - sent : 0);
}

static void on_message(struct load *L, struct conn *c, const uint8_t *p, size_t len)
{
    if (c->state == C_JOINING)
        on_welcome(L, c, p, len);
    else if (has_type(p, len, "message"))
        on_delivery(L, p, len);
    else if (has_type(p, len, "join"))
        L->total.notices++;
    else if (has_type(p, len, "leave"))
        L->total.leaves++;
    else if (has_type(p, len, "error") && L->total.errors++ < 3)
        fprintf(stderr, "chat_load: client %u: %.*s\n", c->idx, (int)len, (const char *)p);
    else
        L->total.other++;
}

static void on_data(struct load *L, struct conn *c, const struct sockit_ws_event *ev)
{
    if (ev->first && ev->last) {
        on_message(L, c, ev->payload, ev->len);
        return;
    }
    if (c->msg_len + ev->len > c->msg_cap) {
        c->msg_cap = (c->msg_len + ev->len) * 2;
        c->msg = xrealloc(c->msg, c->msg_cap);
    }
    memcpy(c->msg + c->msg_len, ev->payload, ev->len);
    c->msg_len += ev->len;
    if (ev->last) {
        on_message(L, c, c->msg, c->msg_len);
        c->msg_len = 0;
    }
}

/* Parse frames from P[0, LEN); keep an incomplete header or control frame for the next read. */
static void on_frames(struct load *L, struct conn *c, const uint8_t *p, size_t len)
{
    struct sockit_ws_event ev;
    size_t off = 0;

    while (off < len && c->state != C_CLOSED) {
        long n = sockit_ws_parse(&c->ws, p + off, len - off, L->scratch, RBUF_SIZE, &ev);
        if (n == 0)
            break;
        if (n < 0) {
            conn_close(L, c, "bad frame from the server");
            return;
        }
        off += (size_t)n;
        if (ev.kind == SOCKIT_WS_EV_DATA)
            on_data(L, c, &ev);
        else if (ev.kind == SOCKIT_WS_EV_PING)
            send_frame(L, c, SOCKIT_WS_PONG, ev.payload, ev.len);
        else if (ev.kind == SOCKIT_WS_EV_CLOSE)
            conn_close(L, c, "closed by the server");
    }
    if (c->state != C_CLOSED && len - off > CARRY_MAX)
        conn_close(L, c, "frame header too long");
    else if (c->state != C_CLOSED)
        memcpy(c->carry, p + off, (c->carry_len = len - off));
}

static void on_readable(struct load *L, struct conn *c)
{
    uint8_t *b = L->rbuf;
    size_t len = c->carry_len;
    ssize_t n;

    memcpy(b, c->carry, len);
    c->carry_len = 0;
    do
        n = recv(c->fd, b + len, RBUF_SIZE - len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        memcpy(c->carry, b, (c->carry_len = len));
        return;
    }
    if (n <= 0) {
        conn_close(L, c, n == 0 ? "connection closed by the server" : strerror(errno));
        return;
    }
    len += (size_t)n;
    if (c->state == C_UPGRADING) {
        long head = on_response(L, c, b, len);
        if (head <= 0)
            return;
        b += head;
        len -= (size_t)head;
    }
    on_frames(L, c, b, len);
}

/* One epoll_wait of at most TIMEOUT_MS, and what it reports. */
static void pump(struct load *L, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(L->ep, evs, MAX_EVENTS, timeout_ms);

    for (int i = 0; i < n; i++) {
        struct conn *c = &L->conns[evs[i].data.u32];
        if (c->state == C_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            send_upgrade(L, c);
        else if (evs[i].events & EPOLLOUT)
            flush(L, c);
        if (c->state != C_CLOSED && c->state != C_CONNECTING &&
            (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(L, c);
    }
    start_more(L);
}

/* ---- phases ------------------------------------------------------------------------------ */

static void set_up(struct load *L, unsigned nconns, unsigned room_size)
{
    struct rlimit rl;

    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < nconns + 16)
        fprintf(stderr, "chat_load: RLIMIT_NOFILE %llu is too low for %u clients\n",
                (unsigned long long)rl.rlim_cur, nconns);
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    L->rbuf = xrealloc(NULL, RBUF_SIZE);
    L->scratch = xrealloc(NULL, RBUF_SIZE);
    L->conns = calloc(nconns, sizeof(*L->conns));
    if (!L->conns)
        die("%s", "out of memory");
    L->nconns = nconns;
    for (unsigned i = 0; i < nconns; i++) {
        L->conns[i].idx = i;
        L->conns[i].room = i / room_size;
        L->conns[i].fd = -1;
        sockit_ws_parser_init(&L->conns[i].ws, &(struct sockit_ws_parser_options){ 0 });
    }
    /* Every member gets the join notice of itself and of everyone after it. */
    for (unsigned first = 0; first < nconns; first += room_size) {
        uint64_t s = nconns - first < room_size ? nconns - first : room_size;
        L->expected_notices += s * (s + 1) / 2;
    }
}

/* Connect and join every client, then wait for every join notice. Returns 0, or -1 (said why). */
static int connect_all(struct load *L)
{
    uint64_t deadline = now_ns() + (uint64_t)(L->o.timeout * NS);

    start_more(L);
    while (L->joined + L->closed < L->nconns && !interrupted && now_ns() < deadline)
        pump(L, 100);
    if (L->joined < L->nconns) {
        fprintf(stderr, "chat_load: %u of %u clients joined\n", L->joined, L->nconns);
        return -1;
    }
    while (L->total.notices < L->expected_notices && !interrupted && now_ns() < deadline &&
           !L->closed)
        pump(L, 100);
    if (L->total.notices < L->expected_notices) {
        fprintf(stderr, "chat_load: %" PRIu64 " of %" PRIu64 " join notices arrived\n",
                L->total.notices, L->expected_notices);
        return -1;
    }
    return 0;
}

static double handshakes_per_s(const struct load *L)
{
    double s = (double)(L->t_last_welcome - L->t_first_connect) / NS;
    return s > 0 ? L->nconns / s : 0;
}

static int run_idle(struct load *L)
{
    uint64_t rss0 = server_rss_kib(L->o.server_pid[0]), cpu0 = server_cpu_ns(L->o.server_pid[0]);

    set_up(L, L->o.idle, L->o.room_size);
    if (connect_all(L) < 0)
        return 1;
    uint64_t cpu = server_cpu_ns(L->o.server_pid[0]) - cpu0;
    uint64_t settle = now_ns() + NS / 2; /* let the server finish with the notices */
    while (now_ns() < settle && !interrupted)
        pump(L, 50);
    uint64_t rss1 = server_rss_kib(L->o.server_pid[0]);
    printf("{\"mode\":\"idle\",\"connections\":%u,\"room_size\":%u,\"handshakes_per_s\":%.0f,"
           "\"cpu_us_per_handshake\":%.2f,\"rss_before_kib\":%" PRIu64 ",\"rss_after_kib\":%" PRIu64
           ",\"bytes_per_conn\":%.0f,\"closed\":%u}\n",
           L->nconns, L->o.room_size, handshakes_per_s(L), (double)cpu / 1e3 / L->nconns, rss0,
           rss1, rss1 > rss0 ? (double)(rss1 - rss0) * 1024 / L->nconns : 0.0, L->closed);
    fflush(stdout);
    uint64_t end = now_ns() + (uint64_t)(L->o.hold * NS);
    while (now_ns() < end && !interrupted)
        pump(L, 100);
    return L->closed ? 1 : 0;
}

/* Send what is due at RATE messages/s since T0, round robin over the senders. */
static void send_due(struct load *L, uint64_t t0, double rate, uint64_t *sent)
{
    uint64_t due = (uint64_t)((double)(now_ns() - t0) / NS * rate);

    for (unsigned burst = 0; *sent < due && burst < 10000; burst++) {
        struct conn *c = &L->conns[*sent % L->o.senders];
        (*sent)++;
        if (c->state == C_JOINED)
            say(L, c);
    }
}

struct step {
    double rate; /* deliveries/s asked */
    uint64_t sent, expected, delivered, drain_ns, cpu_ns;
    uint64_t cpu_each[MAX_NODES];    /* each server's share of cpu_ns */
    uint64_t redis_cpu_ns, win_sent; /* --redis-pid's CPU over the window; messages sent then */
    double lag_pct;
};

/* Wait until every message sent so far reached every client, at most --drain seconds. */
static uint64_t drain(struct load *L)
{
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(L->o.drain * NS);

    while (L->total.delivered < L->total.sent * L->joined && now_ns() < deadline && !interrupted)
        pump(L, 10);
    return now_ns() - t0;
}

static void run_step(struct load *L, struct step *s)
{
    double msg_rate = s->rate / L->joined;
    uint64_t sent = 0, base_sent = L->total.sent, base_deliv = L->total.delivered;
    uint64_t t0 = now_ns();

    memset(&L->lat, 0, sizeof(L->lat));
    L->win_delivered = 0;
    L->win_start = t0 + (uint64_t)(L->o.warmup * NS);
    L->win_end = L->win_start + (uint64_t)(L->o.duration * NS);
    uint64_t cpu0 = 0, each0[MAX_NODES] = { 0 }, redis0 = 0, sent0 = 0;
    bool in_window = false;
    while (now_ns() < L->win_end && !interrupted) {
        if (!in_window && now_ns() >= L->win_start) {
            in_window = true;
            cpu0 = servers_cpu_ns(&L->o, each0);
            redis0 = server_cpu_ns(L->o.redis_pid);
            sent0 = L->total.sent;
        }
        send_due(L, t0, msg_rate, &sent);
        pump(L, 1);
    }
    s->cpu_ns = servers_cpu_ns(&L->o, s->cpu_each) - cpu0;
    for (unsigned i = 0; i < L->o.npids; i++)
        s->cpu_each[i] -= each0[i];
    s->redis_cpu_ns = server_cpu_ns(L->o.redis_pid) - redis0;
    s->win_sent = L->total.sent - sent0;
    s->sent = L->total.sent - base_sent;
    s->expected = s->sent * L->joined;
    s->delivered = L->total.delivered - base_deliv;
    s->lag_pct = s->expected
                     ? 100.0 * ((double)s->expected - (double)s->delivered) / (double)s->expected
                     : 0;
    s->drain_ns = drain(L);
}

static void print_step(const struct load *L, const struct step *s)
{
    double secs = L->o.duration;
    uint64_t lost = L->total.sent * L->joined - L->total.delivered;

    printf("{\"mode\":\"load\",\"clients\":%u,\"senders\":%u,\"size\":%u,\"rate\":%.0f,"
           "\"handshakes_per_s\":%.0f,\"sent\":%" PRIu64 ",\"msgs_per_s\":%.0f,"
           "\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.0f,\"lag_pct\":%.2f,"
           "\"backlog\":%s,\"drain_ms\":%.1f,\"lost\":%" PRIu64 ",\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"max_us\":%.1f,\"server_cpu_s\":%.3f,\"cpu_us_per_delivery\":%.3f,"
           "\"sent_total\":%" PRIu64 ",\"delivered_total\":%" PRIu64 ",\"notices\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"closed\":%u,\"nodes\":%u,\"redis_cpu_s\":%.3f,"
           "\"redis_us_per_message\":%.3f,\"server_cpu_s_each\":[",
           L->joined, L->o.senders, L->o.size, s->rate, handshakes_per_s(L), s->sent,
           (double)s->sent / (L->o.warmup + secs), s->delivered, (double)L->win_delivered / secs,
           s->lag_pct, s->lag_pct > L->o.backlog_pct ? "true" : "false", (double)s->drain_ns / 1e6,
           lost, (double)hist_quantile(&L->lat, 0.50) / 1e3,
           (double)hist_quantile(&L->lat, 0.99) / 1e3, (double)L->lat.max / 1e3,
           (double)s->cpu_ns / NS,
           L->win_delivered ? (double)s->cpu_ns / 1e3 / (double)L->win_delivered : 0.0,
           L->total.sent, L->total.delivered, L->total.notices, L->total.errors, L->closed,
           L->o.nodes, (double)s->redis_cpu_ns / NS,
           s->win_sent ? (double)s->redis_cpu_ns / 1e3 / (double)s->win_sent : 0.0);
    for (unsigned i = 0; i < L->o.npids; i++)
        printf("%s%.3f", i ? "," : "", (double)s->cpu_each[i] / NS);
    printf("]}\n");
    fflush(stdout);
}

/* Close every client with a reset: no TIME_WAIT left behind to use up the ports of the next
 * run. */
static void close_all(struct load *L)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    for (unsigned i = 0; i < L->nconns; i++) {
        struct conn *c = &L->conns[i];
        if (c->fd < 0 || c->state == C_CLOSED)
            continue;
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c->fd);
    }
}

static int run_load(struct load *L)
{
    struct step s = { .rate = L->o.rate };
    unsigned backlogged = 0;

    set_up(L, L->o.clients, L->o.clients);
    if (connect_all(L) < 0)
        return 1;
    for (;;) {
        run_step(L, &s);
        print_step(L, &s);
        bool lost = L->total.delivered < L->total.sent * L->joined;
        backlogged = s.lag_pct > L->o.backlog_pct ? backlogged + 1 : 0;
        if (interrupted || L->closed || lost || backlogged >= L->o.patience || !L->o.sweep)
            break;
        s.rate *= L->o.sweep;
        if (s.rate > L->o.max_rate)
            break;
    }
    return L->closed || L->total.delivered < L->total.sent * L->joined ? 1 : 0;
}

/* ---- options ----------------------------------------------------------------------------- */

static double number(const char *name, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "chat_load: %s: '%s' is not a number in [%g, %g]\n", name, s, lo, hi);
        exit(2);
    }
    return v;
}

/* ws://A.B.C.D:PORT (an IPv4 address; the path is chat_load's). */
static void parse_url(struct options *o, const char *url, unsigned i)
{
    unsigned port;
    char tail, *host = o->host[i];
    struct sockaddr_in *a = &o->addr[i];

    if (sscanf(url, "ws://%47[0-9.]:%u%c", host, &port, &tail) < 2 || port == 0 || port > 65535)
        die("'%s' is not ws://IPV4:PORT", url);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        die("'%s' is not ws://IPV4:PORT", url);
    snprintf(host + strlen(host), 64 - strlen(host), ":%u", port);
}

enum {
    O_SWEEP = 256,
    O_MAX_RATE,
    O_PATIENCE,
    O_DRAIN,
    O_BACKLOG,
    O_IDLE,
    O_ROOM,
    O_HOLD,
    O_PID,
    O_REDIS_PID,
    O_TIMEOUT
};

static const struct option long_options[] = {
    { "clients", required_argument, NULL, 'n' },
    { "senders", required_argument, NULL, 'k' },
    { "rate", required_argument, NULL, 'r' },
    { "sweep", required_argument, NULL, O_SWEEP },
    { "max-rate", required_argument, NULL, O_MAX_RATE },
    { "patience", required_argument, NULL, O_PATIENCE },
    { "size", required_argument, NULL, 's' },
    { "warmup", required_argument, NULL, 'w' },
    { "duration", required_argument, NULL, 'd' },
    { "drain", required_argument, NULL, O_DRAIN },
    { "backlog-pct", required_argument, NULL, O_BACKLOG },
    { "idle", required_argument, NULL, O_IDLE },
    { "room-size", required_argument, NULL, O_ROOM },
    { "hold", required_argument, NULL, O_HOLD },
    { "concurrency", required_argument, NULL, 'c' },
    { "server-pid", required_argument, NULL, O_PID },
    { "redis-pid", required_argument, NULL, O_REDIS_PID },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void parse_option(struct options *o, int c, const char *a)
{
    switch (c) {
    case 'n': o->clients = (unsigned)number("--clients", a, 1, 1e6); break;
    case 'k': o->senders = (unsigned)number("--senders", a, 1, 1e6); break;
    case 'r': o->rate = number("--rate", a, 1, 1e9); break;
    case O_SWEEP: o->sweep = number("--sweep", a, 1.01, 10); break;
    case O_MAX_RATE: o->max_rate = number("--max-rate", a, 1, 1e9); break;
    case O_PATIENCE: o->patience = (unsigned)number("--patience", a, 1, 100); break;
    case 's': o->size = (unsigned)number("--size", a, 16, MAX_TEXT); break;
    case 'w': o->warmup = number("--warmup", a, 0, 3600); break;
    case 'd': o->duration = number("--duration", a, 0.1, 3600); break;
    case O_DRAIN: o->drain = number("--drain", a, 0, 3600); break;
    case O_BACKLOG: o->backlog_pct = number("--backlog-pct", a, 0, 100); break;
    case O_IDLE: o->idle = (unsigned)number("--idle", a, 1, 1e6); break;
    case O_ROOM: o->room_size = (unsigned)number("--room-size", a, 1, 1e6); break;
    case O_HOLD: o->hold = number("--hold", a, 0, 86400); break;
    case 'c': o->concurrency = (unsigned)number("--concurrency", a, 1, 1e6); break;
    case O_PID:
        if (o->npids == MAX_NODES)
            die("--server-pid: at most %s", "8");
        o->server_pid[o->npids++] = (int)number("--server-pid", a, 1, 1e9);
        break;
    case O_REDIS_PID: o->redis_pid = (int)number("--redis-pid", a, 1, 1e9); break;
    case O_TIMEOUT: o->timeout = number("--timeout", a, 1, 3600); break;
    case 'h': fputs(usage_text, stdout); exit(0);
    default: fputs(usage_text, stderr); exit(2);
    }
}

static void parse_args(struct options *o, int argc, char **argv)
{
    int c;

    *o = (struct options){ .clients = 100,
                           .senders = 10,
                           .size = 64,
                           .concurrency = 64,
                           .room_size = 100,
                           .patience = 1,
                           .rate = 50000,
                           .max_rate = 2e6,
                           .warmup = 1,
                           .duration = 3,
                           .drain = 10,
                           .backlog_pct = 2,
                           .timeout = 60 };
    while ((c = getopt_long(argc, argv, "n:k:r:s:w:d:c:h", long_options, NULL)) != -1)
        parse_option(o, c, optarg);
    if (optind == argc || argc - optind > MAX_NODES) {
        fputs(usage_text, stderr);
        exit(2);
    }
    for (int i = optind; i < argc; i++)
        parse_url(o, argv[i], o->nodes++);
    if (o->senders > o->clients)
        o->senders = o->clients;
}

int main(int argc, char **argv)
{
    struct load L = { .rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() };

    parse_args(&L.o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    snprintf(L.room_prefix, sizeof(L.room_prefix), "%s%d-", L.o.idle ? "idle" : "load",
             (int)getpid());
    int rc = L.o.idle ? run_idle(&L) : run_load(&L);
    close_all(&L);
    return rc;
}
