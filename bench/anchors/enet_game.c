/* Anchor: the UDP game of issue 21 on ENet 1.3.17 (Debian's libenet-dev), written the way an
 * ENet game usually is: one ENetHost for the server, a fixed tick, the world state sent to each
 * client as a reliable ordered message on channel 0 and each client's input back the same way. It
 * carries the same world as `sockit game-server` (sockit/game.h, from the static library): players
 * and wandering NPCs stepped in integers, each client told the VIEW entities nearest to it.
 * A state message is the tick (4 bytes, big-endian), the view's state hash (4) and the
 * snapshot body of docs/game-protocol.md delta-encoded against the previous view sent to that
 * client (reliable ordered delivery guarantees the client holds it, so this is the best
 * encoding ENet allows: the same information as our snapshots). An input is 3 bytes (move_x,
 * move_y as int8, buttons). A client leaving cleanly says so in enet_peer_disconnect's data
 * (BYE); any other disconnect is a timeout. ENet's default timeouts are kept; its socket
 * buffers (256 KiB) are raised to --sockbuf (default 4 MiB, what `sockit game-server` asks
 * for): a thousand clients' inputs of one tick overflow 256 KiB, a datagram costing the kernel
 * about 1 KiB however short (--sockbuf 0 keeps ENet's).
 *
 *   enet_game server --port P [--host 127.0.0.1] [--tick 30] [--max-clients 64] [--view 8]
 *                    [--npcs 32] [--seed 1] [--sockbuf BYTES] [--json]
 *       until SIGINT/SIGTERM; then with --json one line: ticks, clients_peak, messages (state
 *       messages sent + inputs received), CPU time and per message, timeouts. As for sockit
 *       game-server, --max-clients is 1..1000 and NPCs + max-clients at most 1024.
 *   enet_game client --port P [--host 127.0.0.1] [--bots 1] [--duration 10] [--tick 30]
 *                    [--sockbuf BYTES] [--one-host] [--json]
 *       BOTS bots play for DURATION seconds, checking every state hash; prints the fields of
 *       `sockit game-client --json`. Exit 1 when a bot did not connect (in 5 s) or was dropped.
 *       Each bot has its own ENetHost, so its own UDP socket and port, as separate real game
 *       clients would, and as `sockit game-client` gives each bot its own socket: on loopback
 *       the server's sends pay (in its softirq) for waking the socket each lands on, so bots
 *       sharing one socket would make the server look cheaper than real clients make it. Every
 *       tick each bot sends its input and services its host; between ticks the bots wait in
 *       epoll on all their sockets and a host is serviced when its socket is readable. With
 *       --one-host the BOTS are peers of one ENetHost instead (one socket, the old way), to
 *       measure the difference.
 *   enet_game forge --port P [--count 64] [--host 127.0.0.1]
 *       COUNT connection requests from COUNT sources, never followed up (as from spoofed
 *       addresses); the replies they draw for 1 s; then whether a real client still gets in
 *       (3 s). One line of JSON. */
#include <enet/enet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
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

#include "sockit/game.h"
#include "sockit/hist.h"

#define NS           1000000000ull
#define MS           1000000ull
#define BYE          0x627965u /* enet_peer_disconnect's data of a clean leave */
#define STATE_HEADER 8         /* tick, hash */
#define INPUT_LEN    3
#define MAX_BODY     4096 /* a full view of 128 entities takes about 1.5 KB */

static const char usage_text[] =
    "usage: enet_game server --port P [--host H] [--tick 30] [--max-clients 64] [--view 8]\n"
    "                        [--npcs 32] [--seed 1] [--sockbuf 4194304] [--json]\n"
    "       enet_game client --port P [--host H] [--bots 1] [--duration 10] [--tick 30]\n"
    "                        [--sockbuf 4194304] [--one-host] [--json]\n"
    "       enet_game forge  --port P [--host H] [--count 64]\n";

struct options {
    const char *host;
    unsigned port, tick, max_clients, view, npcs, bots, count, sockbuf;
    unsigned long long seed;
    double duration;
    bool json, one_host;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Milliseconds from NOW until AT, rounded up (ENet waits in whole milliseconds). */
static enet_uint32 ms_until(uint64_t at, uint64_t now)
{
    return at > now ? (enet_uint32)((at - now + MS - 1) / MS) : 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int address(const struct options *o, ENetAddress *a)
{
    if (enet_address_set_host(a, o->host) != 0) {
        fprintf(stderr, "enet_game: cannot resolve %s\n", o->host);
        return -1;
    }
    a->port = (enet_uint16)o->port;
    return 0;
}

/* The socket buffers of HOST: --sockbuf bytes each way (0: ENet's own). */
static void socket_buffers(const struct options *o, ENetHost *host)
{
    if (o->sockbuf) {
        enet_socket_set_option(host->socket, ENET_SOCKOPT_RCVBUF, (int)o->sockbuf);
        enet_socket_set_option(host->socket, ENET_SOCKOPT_SNDBUF, (int)o->sockbuf);
    }
}

static void copy_view(struct sockit_game_view *to, const struct sockit_game_view *from)
{
    to->tick = from->tick;
    to->n = from->n;
    memcpy(to->e, from->e, sizeof(from->e[0]) * from->n);
}

/* ---- server ---------------------------------------------------------------------------------- */

struct player {
    uint16_t id;
    bool sent_any;
    struct sockit_game_view last; /* the view last sent: the next message's baseline */
};

struct server {
    const struct options *o;
    ENetHost *host;
    struct sockit_game_world world;
    struct sockit_game_view cur;
    unsigned clients, clients_peak;
    unsigned long long ticks, states, inputs, timeouts;
};

static void server_event(struct server *s, const ENetEvent *ev)
{
    struct player *p = ev->peer->data;

    switch (ev->type) {
    case ENET_EVENT_TYPE_CONNECT: {
        int id = sockit_game_world_add_player(&s->world);
        if (id < 0 || !(p = calloc(1, sizeof(*p)))) {
            if (id >= 0)
                sockit_game_world_remove(&s->world, (uint16_t)id);
            fprintf(stderr, "enet_game: refused a client (the world is full)\n");
            enet_peer_disconnect(ev->peer, 0);
            break;
        }
        p->id = (uint16_t)id;
        ev->peer->data = p;
        if (++s->clients > s->clients_peak)
            s->clients_peak = s->clients;
        break;
    }
    case ENET_EVENT_TYPE_RECEIVE:
        if (p && ev->channelID == 0 && ev->packet->dataLength == INPUT_LEN) {
            const uint8_t *d = ev->packet->data;
            struct sockit_game_input in = { .move_x = (int8_t)d[0],
                                            .move_y = (int8_t)d[1],
                                            .buttons = d[2] };
            if (in.move_x == -128)
                in.move_x = -127;
            if (in.move_y == -128)
                in.move_y = -127;
            sockit_game_world_input(&s->world, p->id, &in);
            s->inputs++;
        }
        enet_packet_destroy(ev->packet);
        break;
    case ENET_EVENT_TYPE_DISCONNECT:
        if (!p)
            break;
        sockit_game_world_remove(&s->world, p->id);
        if (ev->data == BYE) {
            fprintf(stderr, "enet_game: client %u disconnected\n", p->id);
        } else {
            fprintf(stderr, "enet_game: client %u timed out\n", p->id);
            s->timeouts++;
        }
        fflush(stderr);
        free(p);
        ev->peer->data = NULL;
        s->clients--;
        break;
    case ENET_EVENT_TYPE_NONE: break;
    }
}

/* One tick: step the world, send each client its view against the one sent before. */
static void server_tick(struct server *s)
{
    uint8_t msg[STATE_HEADER + MAX_BODY];

    sockit_game_world_step(&s->world);
    s->ticks++;
    for (size_t i = 0; i < s->host->peerCount; i++) {
        ENetPeer *peer = &s->host->peers[i];
        struct player *p = peer->data;
        struct sockit_bitw w;

        if (!p || peer->state != ENET_PEER_STATE_CONNECTED)
            continue;
        sockit_game_world_view(&s->world, p->id, (uint16_t)s->o->view, &s->cur);
        sockit_bitw_init(&w, msg + STATE_HEADER, MAX_BODY);
        if (sockit_game_snapshot_write(&w, &s->cur, p->sent_any ? &p->last : NULL) != 0)
            continue; /* cannot happen: MAX_BODY holds any view */
        put32(msg, s->cur.tick);
        put32(msg + 4, sockit_game_view_hash(&s->cur));
        ENetPacket *pkt = enet_packet_create(msg, STATE_HEADER + sockit_bitw_bytes(&w),
                                             ENET_PACKET_FLAG_RELIABLE);
        if (!pkt)
            continue;
        if (enet_peer_send(peer, 0, pkt) != 0) {
            enet_packet_destroy(pkt);
            continue;
        }
        copy_view(&p->last, &s->cur);
        p->sent_any = true;
        s->states++;
    }
    enet_host_flush(s->host);
}

static int run_server(const struct options *o)
{
    static struct server s; /* the world is large */
    ENetAddress addr;

    if (o->max_clients < 1 || o->max_clients > 1000 || o->view < 1 ||
        o->view > SOCKIT_GAME_MAX_VIEW || o->npcs + o->max_clients > SOCKIT_GAME_MAX_ENTITY + 1 ||
        o->tick < 1 || o->tick > 1000) {
        fprintf(stderr,
                "enet_game: --max-clients 1..1000, --view 1..%d, --tick 1..1000, "
                "--npcs + --max-clients at most %d\n",
                SOCKIT_GAME_MAX_VIEW, SOCKIT_GAME_MAX_ENTITY + 1);
        return 2;
    }
    if (address(o, &addr) != 0)
        return 2;
    s.o = o;
    s.host = enet_host_create(&addr, o->max_clients, 2, 0, 0);
    if (!s.host) {
        fprintf(stderr, "enet_game: cannot bind %s:%u\n", o->host, o->port);
        return 1;
    }
    socket_buffers(o, s.host);
    sockit_game_world_init(&s.world, (uint16_t)o->npcs, o->seed);
    fprintf(stderr, "enet_game: server on %s:%u, %u ticks/s, %u clients at most\n", o->host,
            o->port, o->tick, o->max_clients);

    uint64_t period = NS / o->tick, start = now_ns(), next = start + period;
    while (!stop) {
        uint64_t now = now_ns();
        if (now >= next) {
            server_tick(&s);
            next += period;
        }
        ENetEvent ev;
        int r = enet_host_service(s.host, &ev, ms_until(next, now_ns()));
        while (r > 0) {
            server_event(&s, &ev);
            if (now_ns() >= next)
                break; /* the tick is due: the rest waits in ENet's queue */
            r = enet_host_service(s.host, &ev, 0);
        }
        if (r < 0 && !stop) {
            fprintf(stderr, "enet_game: enet_host_service failed\n");
            break;
        }
    }
    for (size_t i = 0; i < s.host->peerCount; i++) {
        ENetPeer *peer = &s.host->peers[i];
        if (peer->state == ENET_PEER_STATE_CONNECTED)
            enet_peer_disconnect_now(peer, BYE);
        free(peer->data);
        peer->data = NULL;
    }
    enet_host_flush(s.host);

    double cpu = cpu_seconds();
    unsigned long long messages = s.states + s.inputs;
    if (o->json)
        printf("{\"ticks\":%llu,\"tick_rate\":%u,\"clients_peak\":%u,\"messages\":%llu,"
               "\"cpu_s\":%.3f,\"cpu_us_per_message\":%.3f,\"timeouts\":%llu}\n",
               s.ticks, o->tick, s.clients_peak, messages, cpu,
               messages ? cpu * 1e6 / (double)messages : 0.0, s.timeouts);
    else
        fprintf(stderr, "enet_game: %llu ticks, %u clients at most, %llu messages, %.3f s CPU\n",
                s.ticks, s.clients_peak, messages, cpu);
    fflush(stdout);
    enet_host_destroy(s.host);
    return 0;
}

/* ---- client ---------------------------------------------------------------------------------- */

struct bot {
    unsigned index;
    ENetHost *host; /* its own, or with --one-host the one all bots share */
    ENetPeer *peer;
    bool connected, ever, lost;
    bool has_view;
    struct sockit_game_view *view, *scratch; /* the newest received; the next decoded */
    struct sockit_game_lag lag;
};

struct client {
    const struct options *o;
    ENetHost **hosts; /* one a bot; with --one-host just one */
    unsigned nhosts;
    int ep; /* epoll over the hosts' sockets (-1 with --one-host) */
    struct epoll_event *ready;
    struct bot *bots;
    unsigned connected, ever, lost;
    bool leaving; /* disconnects are ours now */
    unsigned long long updates, mismatches;
};

/* Bot B's input at TICK: a direction held for 16 ticks, then another. */
static void bot_input(const struct bot *b, uint64_t tick, uint8_t out[INPUT_LEN])
{
    uint64_t h =
        ((uint64_t)b->index + 1) * 0x9e3779b97f4a7c15ull ^ (tick / 16) * 0xc2b2ae3d27d4eb4full;

    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    out[0] = (uint8_t)(int8_t)((int)(h % 255) - 127);
    out[1] = (uint8_t)(int8_t)((int)((h >> 16) % 255) - 127);
    out[2] = (uint8_t)((h >> 40) & 3);
}

static void client_state(struct client *c, struct bot *b, const uint8_t *d, size_t len)
{
    if (len < STATE_HEADER)
        return;
    uint32_t tick = get32(d), hash = get32(d + 4);
    int err = sockit_game_snapshot_read(d + STATE_HEADER, len - STATE_HEADER, tick,
                                        b->has_view ? b->view : NULL, b->scratch);
    c->updates++;
    if (err || sockit_game_view_hash(b->scratch) != hash)
        c->mismatches++;
    if (!err) {
        struct sockit_game_view *t = b->view;
        b->view = b->scratch;
        b->scratch = t;
        b->has_view = true;
    }
    sockit_game_lag_arrived(&b->lag, tick, now_ns());
}

static void client_event(struct client *c, const ENetEvent *ev)
{
    struct bot *b = ev->peer->data;

    if (!b) {
        if (ev->type == ENET_EVENT_TYPE_RECEIVE)
            enet_packet_destroy(ev->packet);
        return;
    }
    switch (ev->type) {
    case ENET_EVENT_TYPE_CONNECT:
        b->connected = b->ever = true;
        c->connected++;
        c->ever++;
        break;
    case ENET_EVENT_TYPE_RECEIVE:
        if (ev->channelID == 0)
            client_state(c, b, ev->packet->data, ev->packet->dataLength);
        enet_packet_destroy(ev->packet);
        break;
    case ENET_EVENT_TYPE_DISCONNECT:
        if (b->connected) {
            c->connected--;
            if (!c->leaving) {
                b->lost = true;
                c->lost++;
            }
        }
        b->connected = false;
        b->peer = NULL;
        ev->peer->data = NULL;
        break;
    case ENET_EVENT_TYPE_NONE: break;
    }
}

/* Service HOST without waiting until it has nothing more: events handled as they come, what
 * is queued (inputs, acknowledgements) sent. */
static int client_drain(struct client *c, ENetHost *host)
{
    ENetEvent ev;
    int r;

    while ((r = enet_host_service(host, &ev, 0)) > 0)
        client_event(c, &ev);
    return r < 0 ? -1 : 0;
}

/* Service C's hosts until AT: events handled as they come. With one host, ENet waits on its
 * socket; with a host a bot, epoll waits on all of them and each readable host is drained. */
static int client_service(struct client *c, uint64_t at)
{
    if (c->ep < 0) {
        ENetEvent ev;
        int r = enet_host_service(c->hosts[0], &ev, ms_until(at, now_ns()));

        while (r > 0) {
            client_event(c, &ev);
            if (now_ns() >= at)
                break;
            r = enet_host_service(c->hosts[0], &ev, 0);
        }
        return r < 0 ? -1 : 0;
    }
    int n = epoll_wait(c->ep, c->ready, (int)c->nhosts, (int)ms_until(at, now_ns()));
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++)
        if (client_drain(c, c->hosts[c->ready[i].data.u32]) != 0)
            return -1;
    return 0;
}

/* Service every host once (a host a bot): what ENet keeps time for (retransmissions, pings,
 * timeouts) and what is queued goes out. */
static int client_service_all(struct client *c)
{
    for (unsigned i = 0; i < c->nhosts; i++)
        if (client_drain(c, c->hosts[i]) != 0)
            return -1;
    return 0;
}

/* Room for a socket a bot (and a few more): the soft limit raised to the hard one when short. */
static int fd_room(unsigned bots)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)bots + 16;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0; /* try anyway */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
            (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)) {
            fprintf(stderr, "enet_game: %u bots need %llu file descriptors, the limit is %llu\n",
                    bots, (unsigned long long)need, (unsigned long long)rl.rlim_max);
            return -1;
        }
    }
    return 0;
}

static int run_client(const struct options *o)
{
    static struct client c;
    static struct sockit_hist hist;
    ENetAddress addr;

    if (o->bots < 1 || o->bots > 4095 || o->tick < 1 || o->tick > 1000 || !(o->duration > 0)) {
        fprintf(stderr, "enet_game: --bots 1..4095, --tick 1..1000, --duration > 0\n");
        return 2;
    }
    if (address(o, &addr) != 0)
        return 2;
    if (!o->one_host && fd_room(o->bots) != 0)
        return 1;
    c.o = o;
    c.ep = -1;
    c.nhosts = o->one_host ? 1 : o->bots;
    c.hosts = calloc(c.nhosts, sizeof(*c.hosts));
    c.bots = calloc(o->bots, sizeof(*c.bots));
    if (!c.hosts || !c.bots) {
        fprintf(stderr, "enet_game: out of memory\n");
        return 1;
    }
    if (!o->one_host) {
        c.ep = epoll_create1(EPOLL_CLOEXEC);
        c.ready = calloc(c.nhosts, sizeof(*c.ready));
        if (c.ep < 0 || !c.ready) {
            fprintf(stderr, "enet_game: cannot create the epoll set\n");
            return 1;
        }
    }
    for (unsigned i = 0; i < c.nhosts; i++) {
        c.hosts[i] = enet_host_create(NULL, o->one_host ? o->bots : 1, 2, 0, 0);
        if (!c.hosts[i]) {
            fprintf(stderr, "enet_game: cannot create client host %u\n", i);
            return 1;
        }
        socket_buffers(o, c.hosts[i]);
        if (c.ep >= 0) {
            struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };
            if (epoll_ctl(c.ep, EPOLL_CTL_ADD, c.hosts[i]->socket, &e) != 0) {
                perror("enet_game: epoll_ctl");
                return 1;
            }
        }
    }
    size_t max_samples = (size_t)((o->duration + 2) * o->tick) + 64;
    for (unsigned i = 0; i < o->bots; i++) {
        struct bot *b = &c.bots[i];
        b->index = i;
        b->host = c.hosts[o->one_host ? 0 : i];
        b->view = malloc(sizeof(*b->view));
        b->scratch = malloc(sizeof(*b->scratch));
        if (!b->view || !b->scratch) {
            fprintf(stderr, "enet_game: out of memory\n");
            return 1;
        }
        sockit_game_lag_init(&b->lag, (uint16_t)o->tick, max_samples);
        b->peer = enet_host_connect(b->host, &addr, 2, 0);
        if (b->peer)
            b->peer->data = b;
    }

    uint64_t period = NS / o->tick, start = now_ns(), next = start + period;
    uint64_t connect_by = start + 5 * NS, end = start + (uint64_t)(o->duration * (double)NS);
    bool connect_closed = false;
    uint64_t k = 0;
    int failed = 0;
    if (c.ep >= 0 && client_service_all(&c) != 0) { /* the connects leave now, as with one host */
        fprintf(stderr, "enet_game: enet_host_service failed\n");
        failed = 1;
        stop = 1;
    }
    while (!stop) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        if (!connect_closed && now >= connect_by) {
            for (unsigned i = 0; i < o->bots; i++) { /* not in within 5 s: not connected */
                struct bot *b = &c.bots[i];
                if (b->peer && !b->connected) {
                    b->peer->data = NULL;
                    enet_peer_reset(b->peer);
                    b->peer = NULL;
                }
            }
            connect_closed = true;
        }
        if (now >= next) {
            uint8_t in[INPUT_LEN];
            for (unsigned i = 0; i < o->bots; i++) {
                struct bot *b = &c.bots[i];
                if (b->connected) {
                    bot_input(b, k, in);
                    ENetPacket *pkt = enet_packet_create(in, sizeof(in), ENET_PACKET_FLAG_RELIABLE);
                    if (pkt && enet_peer_send(b->peer, 0, pkt) != 0)
                        enet_packet_destroy(pkt);
                }
                if (c.ep >= 0 && client_drain(&c, b->host) != 0) {
                    failed = 1;
                    break;
                }
            }
            if (failed) {
                fprintf(stderr, "enet_game: enet_host_service failed\n");
                break;
            }
            if (c.ep < 0)
                enet_host_flush(c.hosts[0]);
            k++;
            next += period;
        }
        uint64_t at = next < end ? next : end;
        if (!connect_closed && connect_by < at)
            at = connect_by;
        if (client_service(&c, at) != 0 && !stop) {
            fprintf(stderr, "enet_game: enet_host_service failed\n");
            failed = 1;
            break;
        }
    }

    /* The run's numbers, before the goodbyes. */
    double duration = (double)(now_ns() - start) / 1e9;
    unsigned long long packets_out = 0, packets_in = 0, bytes_out = 0, bytes_in = 0;
    for (unsigned i = 0; i < c.nhosts; i++) {
        packets_out += c.hosts[i]->totalSentPackets;
        packets_in += c.hosts[i]->totalReceivedPackets;
        bytes_out += c.hosts[i]->totalSentData;
        bytes_in += c.hosts[i]->totalReceivedData;
    }
    unsigned survived = c.connected;
    double rtt = 0, loss = 0;
    sockit_hist_reset(&hist);
    for (unsigned i = 0; i < o->bots; i++) {
        struct bot *b = &c.bots[i];
        if (b->connected) {
            rtt += b->peer->roundTripTime;
            loss += b->peer->packetLoss / (double)ENET_PEER_PACKET_LOSS_SCALE;
        }
        sockit_game_lag_add_to(&b->lag, &hist);
    }
    if (survived) {
        rtt /= survived;
        loss /= survived;
    }

    /* Leave cleanly: up to 1 s for the acknowledgements, every host serviced. */
    c.leaving = true;
    for (unsigned i = 0; i < o->bots; i++) {
        struct bot *b = &c.bots[i];
        if (b->connected)
            enet_peer_disconnect(b->peer, BYE);
        else if (b->peer) {
            b->peer->data = NULL;
            enet_peer_reset(b->peer);
            b->peer = NULL;
        }
    }
    uint64_t bye_by = now_ns() + NS;
    while (c.connected && now_ns() < bye_by) {
        if (c.ep >= 0) { /* the goodbyes out (and again) from every host, then wait a little */
            if (client_service_all(&c) != 0 || !c.connected)
                break;
            uint64_t at = now_ns() + 10 * MS;
            if (client_service(&c, at < bye_by ? at : bye_by) != 0)
                break;
        } else if (client_service(&c, bye_by) != 0)
            break;
    }

    double upd = c.updates ? (double)c.updates : 1.0;
    double ip_bytes = (double)(bytes_in + bytes_out + 28 * (packets_in + packets_out));
    if (o->json) {
        printf("{\"bots\":%u,\"connected\":%u,\"survived\":%u,\"lost\":%u,\"duration_s\":%.3f,"
               "\"updates\":%llu,\"mismatches\":%llu,\"packets_out\":%llu,\"packets_in\":%llu,"
               "\"bytes_out\":%llu,\"bytes_in\":%llu,\"ip_bytes_per_update\":%.2f,"
               "\"packets_per_update\":%.4f,\"rtt_ms\":%.3f,\"loss\":%.5f,"
               "\"update_latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
               o->bots, c.ever, survived, c.lost, duration, c.updates, c.mismatches, packets_out,
               packets_in, bytes_out, bytes_in, c.updates ? ip_bytes / upd : 0.0,
               c.updates ? (double)(packets_in + packets_out) / upd : 0.0, rtt, loss,
               (double)sockit_hist_percentile(&hist, 50) / 1e3,
               (double)sockit_hist_percentile(&hist, 99) / 1e3, (double)hist.max / 1e3);
    } else {
        printf("enet_game: %u/%u bots connected, %u survived, %u lost, %.1f s\n", c.ever, o->bots,
               survived, c.lost, duration);
        printf("  %llu updates, %llu mismatches, %.1f IP bytes and %.2f datagrams an update\n",
               c.updates, c.mismatches, c.updates ? ip_bytes / upd : 0.0,
               c.updates ? (double)(packets_in + packets_out) / upd : 0.0);
        printf("  rtt %.1f ms, loss %.4f, update latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               rtt, loss, (double)sockit_hist_percentile(&hist, 50) / 1e3,
               (double)sockit_hist_percentile(&hist, 99) / 1e3, (double)hist.max / 1e3);
    }
    fflush(stdout);
    for (unsigned i = 0; i < o->bots; i++) {
        sockit_game_lag_free(&c.bots[i].lag);
        free(c.bots[i].view);
        free(c.bots[i].scratch);
    }
    for (unsigned i = 0; i < c.nhosts; i++)
        enet_host_destroy(c.hosts[i]);
    if (c.ep >= 0)
        close(c.ep);
    free(c.ready);
    free(c.hosts);
    free(c.bots);
    if (failed)
        return 1;
    return c.lost == 0 && c.ever == o->bots ? 0 : 1;
}

/* ---- forge ----------------------------------------------------------------------------------- */

static int run_forge(const struct options *o)
{
    ENetAddress addr;

    if (o->count < 1 || o->count > 4096) {
        fprintf(stderr, "enet_game: --count 1..4096\n");
        return 2;
    }
    if (address(o, &addr) != 0)
        return 2;
    ENetHost **hosts = calloc(o->count, sizeof(*hosts));
    struct pollfd *fds = calloc(o->count, sizeof(*fds));
    if (!hosts || !fds) {
        fprintf(stderr, "enet_game: out of memory\n");
        return 1;
    }

    /* One source each: its CONNECT leaves once, and the host is never serviced again. */
    unsigned long long bytes_sent = 0, sent = 0, bytes_replied = 0, replied = 0;
    for (unsigned i = 0; i < o->count; i++) {
        hosts[i] = enet_host_create(NULL, 1, 2, 0, 0);
        if (!hosts[i] || !enet_host_connect(hosts[i], &addr, 2, 0)) {
            fprintf(stderr, "enet_game: cannot create forged source %u\n", i);
            return 1;
        }
        enet_host_flush(hosts[i]);
        bytes_sent += hosts[i]->totalSentData;
        sent += hosts[i]->totalSentPackets;
        fds[i] = (struct pollfd){ .fd = hosts[i]->socket, .events = POLLIN };
    }

    /* What comes back in 1 s, read past ENet (which would answer it). */
    uint64_t until = now_ns() + NS;
    for (uint64_t now = now_ns(); now < until; now = now_ns()) {
        int n = poll(fds, o->count, (int)ms_until(until, now));
        if (n < 0 && errno != EINTR) {
            perror("enet_game: poll");
            return 1;
        }
        for (unsigned i = 0; n > 0 && i < o->count; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            uint8_t buf[2048];
            for (int j = 0; j < 1000; j++) {
                ssize_t r = recvfrom(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL);
                if (r < 0)
                    break;
                bytes_replied += (unsigned long long)r;
                replied++;
            }
        }
    }

    /* A real client now. */
    bool in = false;
    ENetHost *real = enet_host_create(NULL, 1, 2, 0, 0);
    ENetPeer *peer = real ? enet_host_connect(real, &addr, 2, 0) : NULL;
    if (peer) {
        ENetEvent ev;
        uint64_t by = now_ns() + 3 * NS;
        while (!in && now_ns() < by) {
            int r = enet_host_service(real, &ev, ms_until(by, now_ns()));
            if (r < 0)
                break;
            if (r > 0 && ev.type == ENET_EVENT_TYPE_CONNECT)
                in = true;
            else if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(ev.packet);
            else if (r > 0 && ev.type == ENET_EVENT_TYPE_DISCONNECT)
                break;
        }
        if (in) {
            enet_peer_disconnect(peer, BYE);
            by = now_ns() + NS;
            while (now_ns() < by) {
                int r = enet_host_service(real, &ev, ms_until(by, now_ns()));
                if (r < 0 || (r > 0 && ev.type == ENET_EVENT_TYPE_DISCONNECT))
                    break;
                if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE)
                    enet_packet_destroy(ev.packet);
            }
        } else {
            enet_peer_reset(peer);
        }
    }
    if (real)
        enet_host_destroy(real);

    fprintf(stderr, "enet_game: forge: %llu datagrams sent, %llu replied\n", sent, replied);
    printf("{\"forged\":%u,\"bytes_sent\":%llu,\"bytes_replied\":%llu,\"amplification\":%.3f,"
           "\"real_client_connected\":%s}\n",
           o->count, bytes_sent, bytes_replied,
           bytes_sent ? (double)bytes_replied / (double)bytes_sent : 0.0, in ? "true" : "false");
    fflush(stdout);
    for (unsigned i = 0; i < o->count; i++)
        enet_host_destroy(hosts[i]); /* resets the peers: nothing more is sent */
    free(hosts);
    free(fds);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static bool number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "port", required_argument, NULL, 'p' },
        { "host", required_argument, NULL, 'H' },
        { "tick", required_argument, NULL, 't' },
        { "max-clients", required_argument, NULL, 'm' },
        { "view", required_argument, NULL, 'v' },
        { "npcs", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' },
        { "bots", required_argument, NULL, 'b' },
        { "duration", required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'c' },
        { "sockbuf", required_argument, NULL, 'B' },
        { "one-host", no_argument, NULL, 'o' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct options o = { .host = "127.0.0.1",
                         .tick = 30,
                         .max_clients = 64,
                         .view = 8,
                         .npcs = 32,
                         .seed = 1,
                         .bots = 1,
                         .duration = 10,
                         .count = 64,
                         .sockbuf = 4u << 20 };
    int c, at = 0;
    double v;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *mode = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", long_options, &at)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p': ok = number(optarg, 1, 65535, &v), o.port = (unsigned)v; break;
        case 'H': o.host = optarg; break;
        case 't': ok = number(optarg, 1, 1000, &v), o.tick = (unsigned)v; break;
        case 'm': ok = number(optarg, 1, 4095, &v), o.max_clients = (unsigned)v; break;
        case 'v': ok = number(optarg, 1, SOCKIT_GAME_MAX_VIEW, &v), o.view = (unsigned)v; break;
        case 'n': ok = number(optarg, 0, 1024, &v), o.npcs = (unsigned)v; break;
        case 's': {
            char *end;
            errno = 0;
            o.seed = strtoull(optarg, &end, 0);
            ok = !errno && end != optarg && !*end;
            break;
        }
        case 'b': ok = number(optarg, 1, 4095, &v), o.bots = (unsigned)v; break;
        case 'd': ok = number(optarg, 0.001, 86400, &v), o.duration = v; break;
        case 'c': ok = number(optarg, 1, 4096, &v), o.count = (unsigned)v; break;
        case 'B': ok = number(optarg, 0, 1 << 30, &v), o.sockbuf = (unsigned)v; break;
        case 'o': o.one_host = true; break;
        case 'j': o.json = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "enet_game: bad value for --%s: %s\n", long_options[at].name, optarg);
            return 2;
        }
    }
    if (optind != argc || !o.port) {
        fputs(usage_text, stderr);
        return 2;
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (enet_initialize() != 0) {
        fprintf(stderr, "enet_game: enet_initialize failed\n");
        return 1;
    }
    atexit(enet_deinitialize);

    if (!strcmp(mode, "server"))
        return run_server(&o);
    if (!strcmp(mode, "client"))
        return run_client(&o);
    if (!strcmp(mode, "forge"))
        return run_forge(&o);
    fputs(usage_text, stderr);
    return 2;
}
