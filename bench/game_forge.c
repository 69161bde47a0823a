/* game_forge: the forged-request attack of bench/anchors/enet_game.c's forge mode, against a
 * server of sockit's game protocol (`sockit game-server`, docs/game-protocol.md). From COUNT
 * sources (a UDP socket each, on its own ephemeral port) it sends what a spoofed address can:
 * a CONNECT (a random salt, padded to 200 bytes) and a RESPONSE with a random cookie and time
 * (padded too), and never answers a challenge. It counts the replies those sources draw in
 * 1 s, then tries one real client (the full handshake, sockit_game_client_*, within 3 s).
 *
 * Usage: game_forge --port P [--count 64] [--host 127.0.0.1] [--json]
 * Prints {"forged","bytes_sent","bytes_replied","amplification","real_client_connected"} with
 * --json, else a short summary. Exits 0 unless a socket fails. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockit/game.h"

#define NS 1000000000ull
#define MS 1000000ull

static const char usage_text[] =
    "usage: game_forge --port P [--count 64] [--host 127.0.0.1] [--json]\n"
    "  COUNT sources each send a forged CONNECT and RESPONSE to a sockit game server and\n"
    "  never answer; their replies are counted for 1 s; then a real client tries (3 s).\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int ms_until(uint64_t at, uint64_t now)
{
    return at > now ? (int)((at - now + MS - 1) / MS) : 0;
}

static void random_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("game_forge: getrandom");
            exit(1);
        }
        b += r;
        n -= (size_t)r;
    }
}

/* A datagram socket for AI, non-blocking; -1 on failure (reported). */
static int udp_socket(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        perror("game_forge: socket");
    return fd;
}

/* A send that a server not (yet) listening may refuse: only other errors count. */
static int send_to(int fd, const uint8_t *p, size_t len, const struct addrinfo *ai)
{
    ssize_t r = sendto(fd, p, len, 0, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR) {
        perror("game_forge: sendto");
        return -1;
    }
    return 0;
}

/* One real client: CONNECT, CHALLENGE, RESPONSE, ACCEPT within 3 s. Returns 1 when it got
 * in, 0 when not, -1 on a socket error. */
static int real_client(const struct addrinfo *ai)
{
    struct sockit_game_client_options co = { .timeout_ms = 3000, .retry_ms = 100 };
    struct sockit_game_client *c;
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    int fd = udp_socket(ai), in = 0;

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 || sockit_game_client_new(&c, &co) != 0) {
        perror("game_forge: client");
        close(fd);
        return -1;
    }
    uint64_t by = now_ns() + 3 * NS;
    for (uint64_t now = now_ns(); now < by && !in; now = now_ns()) {
        size_t len = sockit_game_client_update(c, now, NULL, buf, sizeof(buf));
        if (len && send(fd, buf, len, 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN) {
            perror("game_forge: send");
            in = -1;
            break;
        }
        enum sockit_game_client_state st = sockit_game_client_state(c);
        if (st >= SOCKIT_GAME_CLIENT_DENIED)
            break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int wait = ms_until(by, now_ns());
        if (poll(&p, 1, wait < 10 ? wait : 10) < 0 && errno != EINTR) {
            perror("game_forge: poll");
            in = -1;
            break;
        }
        for (int i = 0; i < 64; i++) {
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r < 0)
                break; /* EAGAIN, or ECONNREFUSED: nobody there yet */
            sockit_game_client_receive(c, now_ns(), buf, (size_t)r);
            if (sockit_game_client_state(c) == SOCKIT_GAME_CLIENT_CONNECTED)
                in = 1;
        }
    }
    if (in == 1) { /* leave: free the slot at once (three times: any may be lost) */
        size_t len = sockit_game_client_disconnect(c, buf, sizeof(buf));
        for (int i = 0; i < 3 && len; i++)
            if (send(fd, buf, len, 0) < 0)
                break;
    }
    sockit_game_client_free(c);
    close(fd);
    return in;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "port", required_argument, NULL, 'p' }, { "count", required_argument, NULL, 'c' },
        { "host", required_argument, NULL, 'H' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    const char *host = "127.0.0.1", *port = NULL;
    unsigned long count = 64;
    bool json = false;
    int c;

    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p': port = optarg; break;
        case 'H': host = optarg; break;
        case 'c':
            errno = 0;
            count = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || count < 1 || count > 4096) {
                fprintf(stderr, "game_forge: --count 1..4096\n");
                return 2;
            }
            break;
        case 'j': json = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (!port || optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *ai;
    int err = getaddrinfo(host, port, &hints, &ai);
    if (err) {
        fprintf(stderr, "game_forge: %s:%s: %s\n", host, port, gai_strerror(err));
        return 2;
    }

    struct pollfd *fds = calloc(count, sizeof(*fds));
    if (!fds) {
        fprintf(stderr, "game_forge: out of memory\n");
        return 1;
    }
    /* Each source: a CONNECT and a forged RESPONSE, never followed up. */
    unsigned long long bytes_sent = 0, sent = 0, bytes_replied = 0, replied = 0;
    for (unsigned long i = 0; i < count; i++) {
        uint8_t pkt[SOCKIT_GAME_MAX_PACKET], cookie[SOCKIT_GAME_COOKIE_LEN];
        struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT };
        int fd = udp_socket(ai);
        if (fd < 0)
            return 1;
        fds[i] = (struct pollfd){ .fd = fd, .events = POLLIN };

        random_bytes(&p.salt, sizeof(p.salt));
        int n = sockit_game_write(&p, pkt, sizeof(pkt));
        if (n <= 0 || send_to(fd, pkt, (size_t)n, ai) != 0)
            return 1;
        bytes_sent += (unsigned)n;
        sent++;

        p.type = SOCKIT_GAME_RESPONSE;
        random_bytes(&p.salt, sizeof(p.salt));
        random_bytes(&p.time, sizeof(p.time));
        random_bytes(cookie, sizeof(cookie));
        p.cookie = cookie;
        n = sockit_game_write(&p, pkt, sizeof(pkt));
        if (n <= 0 || send_to(fd, pkt, (size_t)n, ai) != 0)
            return 1;
        bytes_sent += (unsigned)n;
        sent++;
    }

    /* What they draw in 1 s. */
    uint64_t until = now_ns() + NS;
    for (uint64_t now = now_ns(); now < until; now = now_ns()) {
        int n = poll(fds, count, ms_until(until, now));
        if (n < 0 && errno != EINTR) {
            perror("game_forge: poll");
            return 1;
        }
        for (unsigned long i = 0; n > 0 && i < count; i++) {
            if (!(fds[i].revents & (POLLIN | POLLERR)))
                continue;
            uint8_t buf[2048];
            for (int j = 0; j < 1000; j++) {
                ssize_t r = recvfrom(fds[i].fd, buf, sizeof(buf), 0, NULL, NULL);
                if (r < 0)
                    break; /* EAGAIN; ECONNREFUSED (nobody listening) clears the error */
                bytes_replied += (unsigned long long)r;
                replied++;
            }
        }
    }

    int in = real_client(ai);
    for (unsigned long i = 0; i < count; i++)
        close(fds[i].fd);
    free(fds);
    freeaddrinfo(ai);
    if (in < 0)
        return 1;

    double amp = bytes_sent ? (double)bytes_replied / (double)bytes_sent : 0.0;
    if (json)
        printf("{\"forged\":%lu,\"bytes_sent\":%llu,\"bytes_replied\":%llu,\"amplification\":%.3f,"
               "\"real_client_connected\":%s}\n",
               count, bytes_sent, bytes_replied, amp, in ? "true" : "false");
    else
        printf("game_forge: %lu sources sent %llu datagrams (%llu bytes), drew %llu (%llu bytes): "
               "amplification %.3f; a real client %s\n",
               count, sent, bytes_sent, replied, bytes_replied, amp,
               in ? "got in" : "did not get in");
    return 0;
}
