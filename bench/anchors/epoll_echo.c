/* Anchor: the textbook hand-written echo server: one thread, epoll (level-triggered),
 * non-blocking sockets, read into a stack buffer and write it straight back; what a write
 * does not take waits in a per-connection buffer while reading from that client pauses.
 * With --udp, the textbook UDP echo: on each wake-up, recvfrom and sendto one datagram at a
 * time until the socket is empty (no recvmmsg/sendmmsg batching); a reply the socket does
 * not take is dropped, as UDP allows.
 * Usage: epoll_echo [--udp] PORT   (on 127.0.0.1) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char *pending;
    size_t len, off;
};

static int listen_on(int port, int type)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0), one = 1;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
        fprintf(stderr, "epoll_echo: listen 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void drop(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

static void set_events(int ep, struct conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns -1 if the connection must go. */
static int flush(int ep, struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
    }
    c->len = c->off = 0;
    set_events(ep, c, EPOLLIN);
    return 0;
}

static int echo(int ep, struct conn *c)
{
    char buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

    if (n == 0 || (n < 0 && errno != EAGAIN))
        return -1;
    if (n < 0)
        return 0;
    ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN)
        return -1;
    if (w < 0)
        w = 0;
    if (w < n) {
        c->pending = realloc(c->pending, (size_t)(n - w));
        memcpy(c->pending, buf + w, (size_t)(n - w));
        c->len = (size_t)(n - w);
        c->off = 0;
        set_events(ep, c, EPOLLOUT);
    }
    return 0;
}

static void accept_all(int ep, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct conn *c = calloc(1, sizeof(*c));
        c->fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Answer every datagram waiting on FD, one recvfrom and one sendto each. */
static void echo_datagrams(int fd)
{
    char buf[65536];
    struct sockaddr_storage from;

    for (;;) {
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (n < 0)
            return;
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
}

static _Noreturn void serve_udp(int port)
{
    int fd = listen_on(port, SOCK_DGRAM), ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN };

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    for (;;)
        if (epoll_wait(ep, &ev, 1, -1) == 1)
            echo_datagrams(fd);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--udp") == 0)
        serve_udp(argc > 2 ? atoi(argv[2]) : 7000);
    int lfd = listen_on(argc > 1 ? atoi(argv[1]) : 7000, SOCK_STREAM);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];

    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all(ep, lfd);
                continue;
            }
            int rc = (evs[i].events & EPOLLOUT) ? flush(ep, c) : echo(ep, c);
            if (rc < 0)
                drop(ep, c);
        }
    }
}
