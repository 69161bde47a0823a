/* echo_server.c - an iterative TCP server using the plain BSD socket API.
 *
 * Build: gcc -std=c17 -D_GNU_SOURCE -Wall -Wextra -O2 echo_server.c -o echo_server
 * Run:   ./echo_server [port]     (default port 8080)
 *
 * "Iterative" means one client at a time: accept, talk, close, accept the next.
 * Other clients wait meanwhile in the kernel's accept queue (see listen()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define BACKLOG      3
#define BUF_SIZE     1024

static const char reply[] = "Hello from server";

/* Print "echo_server: <call> <target>: <strerror(errno)>" and exit(1). */
static void die(const char *call, const char *target)
{
    fprintf(stderr, "echo_server: %s %s: %s\n", call, target, strerror(errno));
    exit(1);
}

/* Parse a decimal TCP port (1-65535); exit with a message on anything else. */
static unsigned short parse_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) {
        fprintf(stderr, "echo_server: invalid port '%s' (want 1-65535)\n", s);
        exit(1);
    }
    return (unsigned short)v;
}

/* Create a TCP socket, bind it to 0.0.0.0:port and make it a listening socket.
 * target is the "0.0.0.0:port" text used in messages. */
static int make_listener(unsigned short port, const char *target)
{
    /* socket(): the kernel allocates a TCP endpoint and gives us a file
     * descriptor for it. It has no address yet and cannot accept anything. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket", "AF_INET/SOCK_STREAM");

    /* SO_REUSEADDR: after a restart, the old connections' sockets may linger in
     * TIME_WAIT for a minute; without this option bind() would fail with
     * "Address already in use" until they expire. */
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("setsockopt SO_REUSEADDR", target);

    /* Byte order: the network uses big-endian ("network byte order"), while
     * x86 and most ARM CPUs are little-endian. htons()/htonl() convert
     * "host to network" for 16/32-bit values; ntohs()/ntohl() convert back.
     * INADDR_ANY (0.0.0.0) means "every local interface". */
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(port);

    /* bind(): the kernel reserves this address:port for our socket, failing
     * if another socket already owns it. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind", target);

    /* listen(): turns the socket passive. From now on the kernel completes
     * TCP handshakes by itself and queues finished connections (up to about
     * BACKLOG of them) until we accept() them. */
    if (listen(fd, BACKLOG) < 0)
        die("listen", target);

    printf("Listening on %s\n", target);
    return fd;
}

/* Send all len bytes: send() may accept only part of the data. MSG_NOSIGNAL
 * makes a vanished peer yield EPIPE instead of killing us with SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue; /* interrupted by a signal before sending: retry */
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Talk to one client: read its message, print it, answer. A failure here only
 * affects this client, so we report it and let the server keep running. */
static void serve_client(int fd, const char *peer)
{
    char buf[BUF_SIZE];
    ssize_t n;

    /* recv(): block until data arrives. TCP is a byte stream: one recv may
     * return less than the peer sent; a real protocol needs message framing.
     * Read at most BUF_SIZE - 1 bytes to leave room for the terminating NUL. */
    do {
        n = recv(fd, buf, sizeof buf - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        fprintf(stderr, "echo_server: recv %s: %s\n", peer, strerror(errno));
        return;
    }
    buf[n] = '\0'; /* n == 0 means the client closed without sending anything */
    printf("Client: %s\n", buf);

    if (send_all(fd, reply, strlen(reply)) < 0)
        fprintf(stderr, "echo_server: send %s: %s\n", peer, strerror(errno));
}

int main(int argc, char **argv)
{
    unsigned short port = argc > 1 ? parse_port(argv[1]) : DEFAULT_PORT;
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line at once, even in a pipe */
    char target[32];
    snprintf(target, sizeof target, "0.0.0.0:%u", (unsigned)port);
    int lfd = make_listener(port, target);

    for (;;) {
        struct sockaddr_in cli;
        socklen_t clen = sizeof cli;

        /* accept(): take the oldest finished connection off the queue (or
         * sleep until there is one). It returns a NEW descriptor for that one
         * connection; lfd stays untouched and keeps listening. */
        int cfd = accept(lfd, (struct sockaddr *)&cli, &clen);
        if (cfd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue; /* signal, or client gave up while queued: just retry */
        if (cfd < 0)
            die("accept", target);

        /* inet_ntop(): binary address -> text; ntohs(): port back to host order. */
        char ip[INET_ADDRSTRLEN], peer[INET_ADDRSTRLEN + 8];
        inet_ntop(AF_INET, &cli.sin_addr, ip, sizeof ip);
        snprintf(peer, sizeof peer, "%s:%u", ip, (unsigned)ntohs(cli.sin_port));
        printf("Connection from %s\n", peer);

        serve_client(cfd, peer);
        close(cfd); /* ends this connection (sends FIN); lfd is unaffected */
    }
}
