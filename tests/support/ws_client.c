/* The raw-socket WebSocket client of the tests (ws_client.h). */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ws_client.h"

size_t wsc_read_head(int fd, char *head, size_t cap)
{
    size_t got = 0;

    while (got < cap - 1) {
        cr_assert_eq(h_read_exact(fd, head + got, 1), 0, "no whole response head: %.*s", (int)got,
                     head);
        got++;
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) {
            head[got] = '\0';
            return got;
        }
    }
    cr_assert_fail("a response head over %zu bytes: %.*s", cap - 1, (int)got, head);
    return 0;
}

int wsc_request_upgrade(int fd, const char *path, const char *extra, char *head, size_t cap)
{
    char req[1024], buf[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WSC_KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra ? extra : "");
    int status = 0;

    cr_assert(n > 0 && (size_t)n < sizeof(req), "an upgrade request too long for the test");
    cr_assert_eq(h_write_all(fd, req, (size_t)n), 0, "writing the upgrade request");
    if (!head) {
        head = buf;
        cap = sizeof(buf);
    }
    wsc_read_head(fd, head, cap);
    cr_assert_eq(sscanf(head, "HTTP/1.1 %d ", &status), 1, "not a status line: %s", head);
    return status;
}

int wsc_upgraded(const char *endpoint)
{
    char head[1024];
    int fd = h_connect(endpoint);

    cr_assert_geq(fd, 0, "connect %s: %s", endpoint, strerror(-fd));
    cr_assert_eq(wsc_request_upgrade(fd, "/", NULL, head, sizeof(head)), 101, "%s", head);
    cr_assert(strstr(head, "\r\nSec-WebSocket-Accept: " WSC_ACCEPT "\r\n"), "%s", head);
    return fd;
}

size_t wsc_frame(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = 0;

    out[h++] = b0;
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[h++] = (uint8_t)((uint64_t)len >> shift);
    }
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        out[h + i] = ((const uint8_t *)payload)[i] ^ key[i % 4];
    return h + len;
}

void wsc_send(int fd, uint8_t b0, const void *payload, size_t len)
{
    uint8_t *f = malloc(len + WSC_MAX_HEADER);

    cr_assert_not_null(f);
    size_t n = wsc_frame(f, b0, payload, len);
    int rc = h_write_all(fd, f, n);
    free(f);
    cr_assert_eq(rc, 0, "writing a frame of %zu bytes (first byte 0x%02x)", len, b0);
}

/* The payload length after the first two bytes H, reading an extended length from FD. */
static int read_length(int fd, const uint8_t h[2], uint64_t *len)
{
    uint8_t x[8];
    size_t ext = (h[1] & 0x7f) == 126 ? 2 : (h[1] & 0x7f) == 127 ? 8 : 0;

    *len = h[1] & 0x7f;
    if (!ext)
        return 0;
    if (h_read_exact(fd, x, ext) != 0)
        return -1;
    *len = 0;
    for (size_t i = 0; i < ext; i++)
        *len = *len << 8 | x[i];
    return 0;
}

int wsc_read(int fd, int ms, struct wsc_msg *m)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    uint8_t h[2];
    uint64_t len;

    *m = (struct wsc_msg){ 0 };
    if (poll(&p, 1, ms) != 1)
        return -ETIMEDOUT;
    if (h_read_exact(fd, h, 2) != 0 || read_length(fd, h, &len) != 0)
        return -1;
    cr_assert(!(h[1] & 0x80), "a server frame is not masked (first bytes 0x%02x 0x%02x)", h[0],
              h[1]);
    cr_assert(len < (1ull << 31), "a server frame of %llu bytes", (unsigned long long)len);
    m->b0 = h[0];
    m->len = (size_t)len;
    m->data = malloc(m->len + 1);
    cr_assert_not_null(m->data);
    m->data[m->len] = 0;
    if (m->len && h_read_exact(fd, m->data, m->len) != 0) {
        wsc_msg_free(m);
        return -1;
    }
    return 0;
}

void wsc_msg_free(struct wsc_msg *m)
{
    free(m->data);
    m->data = NULL;
}

int wsc_close_code(int fd)
{
    for (;;) {
        struct wsc_msg m;
        if (wsc_read(fd, 10000, &m) != 0)
            return -1;
        int code = m.len >= 2 ? m.data[0] << 8 | m.data[1] : 0;
        bool close = (m.b0 & 0x0f) == WSC_CLOSE;
        wsc_msg_free(&m);
        if (close)
            return code;
    }
}

bool wsc_ended(int fd, int ms)
{
    char c;
    ssize_t n = h_read_within(fd, ms, &c, 1);

    return n == 0 || n == -ECONNRESET;
}

struct proc *wsc_start_echo(char *url, char *ep, const char *const extra[])
{
    const char *argv[16] = { h_sockit(), "echo", url };
    size_t n = 3;
    int port = h_free_port();

    snprintf(url, 64, "ws://127.0.0.1:%d/", port);
    snprintf(ep, 64, "tcp://127.0.0.1:%d", port);
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    struct proc *server = h_start_tracked("sockit echo ws://", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(server, "listening on", 5000), "the ws echo did not start");
    return server;
}

void wsc_stop_echo(struct proc *server)
{
    if (server && !h_exited(server))
        h_stop(server, SIGTERM, 5000);
    h_cleanup_tracked();
}
