/* echo_client.c - a TCP client for echo_server.c, using the plain BSD socket API.
 *
 * Build: gcc -std=c17 -D_GNU_SOURCE -Wall -Wextra -O2 echo_client.c -o echo_client
 * Run:   ./echo_client [ipv4-address [port]]     (default 127.0.0.1 8080)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8080
#define BUF_SIZE     1024

static const char message[] = "Hello from client";

/* Print "echo_client: <call> <target>: <strerror(errno)>" and exit(1). */
static void die(const char *call, const char *target)
{
    fprintf(stderr, "echo_client: %s %s: %s\n", call, target, strerror(errno));
    exit(1);
}

/* Parse a decimal TCP port (1-65535); exit with a message on anything else. */
static unsigned short parse_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) {
        fprintf(stderr, "echo_client: invalid port '%s' (want 1-65535)\n", s);
        exit(1);
    }
    return (unsigned short)v;
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

/* Read until the server closes the connection (recv returns 0) or buf is full.
 * TCP is a byte stream, so the reply may arrive in several pieces. Returns the
 * byte count, always leaving buf NUL-terminated, or -1 on error. */
static ssize_t recv_reply(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size - 1) { /* keep one byte for the NUL */
        ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue; /* interrupted by a signal before any data: retry */
        if (n < 0)
            return -1;
        if (n == 0)
            break; /* orderly shutdown: the server closed its end */
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : DEFAULT_HOST;
    unsigned short port = argc > 2 ? parse_port(argv[2]) : DEFAULT_PORT;
    /* inet_pton(): text "127.0.0.1" -> 4-byte binary address, already in network
     * byte order (big-endian). htons() converts the port from host order, which
     * is little-endian on x86, to the network order the kernel expects. */
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_client: inet_pton %s: not an IPv4 address\n", host);
        return 1;
    }
    char target[INET_ADDRSTRLEN + 8]; /* "a.b.c.d:port", used in messages */
    snprintf(target, sizeof target, "%s:%u", host, (unsigned)port);

    /* socket(): the kernel allocates an unconnected TCP endpoint. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket", "AF_INET/SOCK_STREAM");

    /* connect(): the kernel picks a free local port (an implicit bind) and runs
     * the TCP three-way handshake. With no listener on that port the peer
     * answers with a reset and we get ECONNREFUSED. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect", target);

    /* send(): copies our bytes into the kernel's send buffer; the kernel
     * transmits them (and retransmits if needed) on its own. */
    if (send_all(fd, message, strlen(message)) < 0)
        die("send", target);

    char buf[BUF_SIZE];
    if (recv_reply(fd, buf, sizeof buf) < 0)
        die("recv", target);
    printf("Server: %s\n", buf);

    /* close(): releases the descriptor; the kernel finishes the TCP close. */
    close(fd);
    return 0;
}
