/* Unit tests for the WebSocket server layer as a library (sockit/ws_server.h): a sockit_server
 * with sockit_ws_server_handler on a loopback port, on its own thread, driven by blocking
 * client sockets (../../support/ws_client.h). The options (path, origins, protocols, the
 * timeouts, max_queue), plain HTTP beside the upgrades, on_open and on_close with their codes
 * and errors, broadcast frames shared by many clients, and the counters. Every test runs on
 * each loop backend (ws_server_epoll, _poll, _uring). Callbacks run on the server's thread:
 * what they record is atomic, or written before an atomic the test waits for. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "../../support/ws_client.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/shared.h"
#include "sockit/ws_server.h"

/* ---- the server under test ---------------------------------------------------------------- */

#define MAX_CONNS 64

/* What the callbacks saw. CONNS is the server thread's alone (a one-thread server). */
struct seen {
    _Atomic int opened, closed, messages, http;
    _Atomic int close_code, close_err;    /* the last on_close's */
    _Atomic int sent_ok[MAX_CONNS];       /* broadcast frames queued to connection I */
    _Atomic int last_rc[MAX_CONNS];       /* the last sockit_ws_send_frame's to it */
    char path[64], query[64], origin[64]; /* the last on_open's info, then OPENED counts it */
    const char *protocol;
    struct sockit_ws *conns[MAX_CONNS]; /* by order of opening; NULL once closed */
    size_t broadcast_len;
};

static struct {
    enum sockit_backend backend;
    struct sockit_ws_server *ws;
    struct sockit_server *srv;
    int port;
    char ep[64];
    struct seen seen;
} fx;

static void copy_str(char *dst, size_t cap, struct sockit_http_str s)
{
    snprintf(dst, cap, "%.*s", (int)s.len, s.p);
}

static void *t_open(struct sockit_ws *ws, const struct sockit_ws_open_info *info, void *ud)
{
    struct seen *x = ud;
    int i = atomic_load(&x->opened);

    copy_str(x->path, sizeof(x->path), info->path);
    copy_str(x->query, sizeof(x->query), info->query);
    copy_str(x->origin, sizeof(x->origin), info->origin);
    x->protocol = info->protocol;
    if (i < MAX_CONNS)
        x->conns[i] = ws;
    atomic_fetch_add(&x->opened, 1);
    return (void *)(intptr_t)i;
}

/* The same LEN bytes for every broadcast (malloc'd; NULL if out of memory). */
static uint8_t *broadcast_payload(size_t len)
{
    uint8_t *p = malloc(len);
    if (p)
        h_fill(p, len, 42);
    return p;
}

/* One frame built once and queued to every open connection. On the server's thread: no
 * assertion here (the test sees what it sent). */
static void broadcast(struct seen *x)
{
    struct sockit_shared *frame;
    uint8_t *p = broadcast_payload(x->broadcast_len);
    int rc = p ? sockit_ws_frame_new(SOCKIT_WS_BINARY, p, x->broadcast_len, &frame) : -ENOMEM;

    free(p);
    if (rc < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!x->conns[i])
            continue;
        rc = sockit_ws_send_frame(x->conns[i], frame);
        atomic_store(&x->last_rc[i], rc);
        if (rc == 0)
            atomic_fetch_add(&x->sent_ok[i], 1);
    }
    sockit_shared_unref(frame);
}

/* Echo, except for the text commands "close" (sockit_ws_close 4001 "bye") and "broadcast". */
static void t_message(struct sockit_ws *ws, enum sockit_ws_opcode op, const uint8_t *data,
                      size_t len, void *cud)
{
    struct seen *x = &fx.seen;

    (void)cud;
    atomic_fetch_add(&x->messages, 1);
    if (op == SOCKIT_WS_TEXT && len == 5 && memcmp(data, "close", 5) == 0)
        sockit_ws_close(ws, 4001, "bye");
    else if (op == SOCKIT_WS_TEXT && len == 9 && memcmp(data, "broadcast", 9) == 0)
        broadcast(x);
    else
        sockit_ws_send(ws, op, data, len);
}

static void t_close(struct sockit_ws *ws, int code, int err, void *cud)
{
    struct seen *x = &fx.seen;
    intptr_t i = (intptr_t)cud;

    (void)ws;
    if (i >= 0 && i < MAX_CONNS)
        x->conns[i] = NULL;
    atomic_store(&x->close_code, code);
    atomic_store(&x->close_err, err);
    atomic_fetch_add(&x->closed, 1);
}

/* on_http: 200 with "page PATH"; HEAD gets the head only. */
static void t_http(struct sockit_ws_http *http, void *ud)
{
    struct seen *x = ud;
    char body[128];
    int n = snprintf(body, sizeof(body), "page %.*s", (int)http->req->path.len, http->req->path.p);

    atomic_fetch_add(&x->http, 1);
    sockit_ws_http_respond(http, 200, "text/plain", body, (size_t)n);
}

/* Start a one-thread server with O (callbacks left NULL get the ones above, on_http aside) on
 * the backend under test, on a port the kernel picks. */
static void serve(struct sockit_ws_server_options o)
{
    struct sockit_server_options so = { .threads = 1,
                                        .sockopts = { .flags = SOCKIT_REUSEADDR | SOCKIT_NODELAY },
                                        .loop = { .backend = fx.backend } };
    struct sockit_server_handler h;
    struct sockit_server_info info;

    o.on_open = o.on_open ? o.on_open : t_open;
    o.on_message = o.on_message ? o.on_message : t_message;
    o.on_close = o.on_close ? o.on_close : t_close;
    o.ud = &fx.seen;
    int rc = sockit_ws_server_new(&fx.ws, &o);
    cr_assert_eq(rc, 0, "sockit_ws_server_new: %s", sockit_strerror(rc));
    sockit_ws_server_handler(fx.ws, &h);
    cr_assert_eq(sockit_endpoint_parse("tcp://127.0.0.1:1", &so.endpoint), 0);
    so.endpoint.port = 0;
    rc = sockit_server_new(&fx.srv, &so, &h, fx.ws);
    cr_assert_eq(rc, 0, "sockit_server_new: %s", sockit_strerror(rc));
    rc = sockit_server_start(fx.srv);
    cr_assert_eq(rc, 0, "sockit_server_start: %s", sockit_strerror(rc));
    sockit_server_info(fx.srv, &info);
    fx.port = ntohs(info.local.u.in.sin_port);
    snprintf(fx.ep, sizeof(fx.ep), "tcp://127.0.0.1:%d", fx.port);
}

static void teardown(void)
{
    sockit_server_free(fx.srv); /* stops and joins: no callback runs after this */
    sockit_ws_server_free(fx.ws);
    fx.srv = NULL;
    fx.ws = NULL;
}

static struct sockit_ws_server_stats stats(void)
{
    struct sockit_ws_server_stats st;
    sockit_ws_server_stats(fx.ws, &st);
    return st;
}

/* Poll COND every 2 ms for up to MS; true if it held. */
#define WITHIN(ms, cond)                                                                           \
    ({                                                                                             \
        long long end_ = h_now_ms() + (ms);                                                        \
        while (!(cond) && h_now_ms() < end_)                                                       \
            usleep(2000);                                                                          \
        (bool)(cond);                                                                              \
    })

/* Each test once per backend: Test(ws_server_<backend>, name). */
#define WS_BACKENDS(X, name)                                                                       \
    X(epoll, SOCKIT_BACKEND_EPOLL, name)                                                           \
    X(poll, SOCKIT_BACKEND_POLL, name)                                                             \
    X(uring, SOCKIT_BACKEND_URING, name)

#define WS_TEST_ONE_(be, value, name)                                                              \
    Test(ws_server_##be, name, .fini = teardown, .timeout = 20)                                    \
    {                                                                                              \
        fx.backend = value;                                                                        \
        name##_body();                                                                             \
    }

#define WS_TEST(name)                                                                              \
    static void name##_body(void);                                                                 \
    WS_BACKENDS(WS_TEST_ONE_, name)                                                                \
    static void name##_body(void)

/* ---- the client's side -------------------------------------------------------------------- */

static int client(void)
{
    int fd = h_connect(fx.ep);
    cr_assert_geq(fd, 0, "connect %s: %s", fx.ep, strerror(-fd));
    return fd;
}

/* A client whose receive buffer is BYTES (set before connecting: the window follows it). */
static int client_rcvbuf(int bytes)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)fx.port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    return fd;
}

/* An upgraded client whose on_open has run (the 101 is written before it is called). */
static int open_client(void)
{
    int before = atomic_load(&fx.seen.opened);
    int fd = wsc_upgraded(fx.ep);

    cr_assert(WITHIN(2000, atomic_load(&fx.seen.opened) > before), "on_open did not run");
    return fd;
}

/* Read the body of the response whose head is HEAD (its Content-Length). */
static void skip_body(int fd, const char *head)
{
    char body[256];
    const char *cl = strstr(head, "\r\nContent-Length: ");
    size_t len = cl ? strtoul(cl + 18, NULL, 10) : 0;

    cr_assert_lt(len, sizeof(body), "a body of %zu bytes", len);
    cr_assert_eq(h_read_exact(fd, body, len), 0, "the body of %zu bytes after %s", len, head);
}

/* Write the request REQ and read the response: its status, head in HEAD and body (by its
 * Content-Length, none for a HEAD request) in BODY, both NUL-terminated. */
static int http(int fd, const char *req, char *head, size_t hcap, char *body, size_t bcap)
{
    int status = 0;
    size_t len = 0;

    cr_assert_eq(h_write_all(fd, req, strlen(req)), 0, "writing %s", req);
    wsc_read_head(fd, head, hcap);
    cr_assert_eq(sscanf(head, "HTTP/1.1 %d ", &status), 1, "%s", head);
    const char *cl = strstr(head, "\r\nContent-Length: ");
    if (cl)
        len = strtoul(cl + 18, NULL, 10);
    if (strncmp(req, "HEAD ", 5) == 0)
        len = 0;
    cr_assert_lt(len, bcap, "a body of %zu bytes", len);
    cr_assert_eq(h_read_exact(fd, body, len), 0, "the body of %zu bytes after %s", len, head);
    body[len] = '\0';
    return status;
}

/* The next frame from the server must be B0 with payload DATA[0, LEN). */
static void expect_frame(int fd, uint8_t b0, const void *data, size_t len, const char *what)
{
    struct wsc_msg m;
    int rc = wsc_read(fd, 5000, &m);

    cr_assert_eq(rc, 0, "%s: no frame (%d)", what, rc);
    bool same = m.b0 == b0 && m.len == len && (len == 0 || memcmp(m.data, data, len) == 0);
    uint8_t got = m.b0;
    size_t n = m.len;
    wsc_msg_free(&m);
    cr_assert(same, "%s: frame 0x%02x of %zu bytes, not 0x%02x of %zu", what, got, n, b0, len);
}

/* The next frame must be a close with CODE and REASON; returns its arrival time (ms). */
static long long expect_close(int fd, int code, const char *reason, const char *what)
{
    uint8_t want[128] = { (uint8_t)(code >> 8), (uint8_t)code };

    memcpy(want + 2, reason, strlen(reason));
    expect_frame(fd, 0x88, want, 2 + strlen(reason), what);
    return h_now_ms();
}

static void send_close(int fd, int code, const char *reason)
{
    uint8_t p[128] = { (uint8_t)(code >> 8), (uint8_t)code };

    memcpy(p + 2, reason, strlen(reason));
    wsc_send(fd, 0x88, p, 2 + strlen(reason));
}

/* on_close ran once more than BEFORE, with CODE and ERR. */
static void expect_on_close(int before, int code, int err, const char *what)
{
    cr_assert(WITHIN(3000, atomic_load(&fx.seen.closed) > before), "%s: no on_close", what);
    cr_expect_eq(atomic_load(&fx.seen.close_code), code, "%s: on_close code %d, want %d", what,
                 atomic_load(&fx.seen.close_code), code);
    cr_expect_eq(atomic_load(&fx.seen.close_err), err, "%s: on_close err %d (%s), want %d (%s)",
                 what, atomic_load(&fx.seen.close_err),
                 sockit_strerror(atomic_load(&fx.seen.close_err)), err, sockit_strerror(err));
}

/* ---- the upgrade: path, origins, protocols ------------------------------------------------- */

WS_TEST(path_other_paths_get_404_and_the_right_one_upgrades)
{
    static const char *const wrong[] = { "/", "/other", "/chat/", "/chatroom", "/Chat" };
    char head[1024];

    serve((struct sockit_ws_server_options){ .path = "/chat" });
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        int fd = client();
        int status = wsc_request_upgrade(fd, wrong[i], NULL, head, sizeof(head));
        cr_expect_eq(status, 404, "path %s: %s", wrong[i], head);
        close(fd);
    }
    int fd = client();
    cr_assert_eq(wsc_request_upgrade(fd, "/chat?room=1", NULL, head, sizeof(head)), 101, "%s",
                 head);
    cr_assert(WITHIN(2000, atomic_load(&fx.seen.opened) == 1));
    cr_expect_str_eq(fx.seen.path, "/chat");
    cr_expect_str_eq(fx.seen.query, "room=1");
    wsc_send(fd, 0x81, "on /chat", 8);
    expect_frame(fd, 0x81, "on /chat", 8, "an echo on the right path");
    struct sockit_ws_server_stats st = stats();
    cr_expect_eq(st.refused, 5, "404s are refusals: %llu", (unsigned long long)st.refused);
    cr_expect_eq(st.handshakes, 1);
    close(fd);
}

/* A 404 leaves the connection open: an upgrade on the right path may follow on it. */
WS_TEST(path_a_404_keeps_the_connection_for_the_next_request)
{
    char head[1024];
    int fd;

    serve((struct sockit_ws_server_options){ .path = "/chat" });
    fd = client();
    cr_expect_eq(wsc_request_upgrade(fd, "/nope", NULL, head, sizeof(head)), 404, "%s", head);
    char body[64];
    cr_assert_eq(h_read_exact(fd, body, 13), 0, "the 404's body");
    cr_expect(memcmp(body, "no such path\n", 13) == 0);
    cr_expect_eq(wsc_request_upgrade(fd, "/chat", NULL, head, sizeof(head)), 101, "%s", head);
    close(fd);
}

WS_TEST(origins_a_foreign_one_gets_403_an_allowed_one_or_none_passes)
{
    static const char *const origins[] = { "https://good.example", "http://other.example", NULL };
    static const struct {
        const char *field;
        int status;
        const char *seen;
    } cases[] = {
        { "Origin: https://evil.example\r\n", 403, NULL },
        { "Origin: https://good.example.evil\r\n", 403, NULL },
        { "Origin: http://good.example\r\n", 403, NULL },
        { "Origin: https://good.example\r\n", 101, "https://good.example" },
        { "Origin: HTTPS://GOOD.Example\r\n", 101, "HTTPS://GOOD.Example" },
        { "Origin: http://other.example\r\n", 101, "http://other.example" },
        { NULL, 101, "" },
    };
    char head[1024];

    serve((struct sockit_ws_server_options){ .origins = origins });
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int opened = atomic_load(&fx.seen.opened);
        int fd = client();
        int status = wsc_request_upgrade(fd, "/", cases[i].field, head, sizeof(head));
        cr_expect_eq(status, cases[i].status, "%s-> %s", cases[i].field, head);
        if (cases[i].seen) {
            cr_assert(WITHIN(2000, atomic_load(&fx.seen.opened) == opened + 1));
            cr_expect_str_eq(fx.seen.origin, cases[i].seen);
        } else {
            skip_body(fd, head);
            cr_expect(wsc_ended(fd, 3000), "%s: the refusal closes", cases[i].field);
        }
        close(fd);
    }
    struct sockit_ws_server_stats st = stats();
    cr_expect_eq(st.refused, 3);
    cr_expect_eq(st.handshakes, 4);
    cr_expect_eq(atomic_load(&fx.seen.opened), 4);
}

WS_TEST(protocols_the_clients_first_supported_choice_is_answered_and_told)
{
    static const char *const protocols[] = { "chat", "superchat", NULL };
    static const struct {
        const char *field;
        const char *chosen; /* NULL: none */
    } cases[] = {
        { "Sec-WebSocket-Protocol: v1.x, superchat, chat\r\n", "superchat" },
        { "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n", "chat" },
        { "Sec-WebSocket-Protocol: Chat, other\r\n", NULL },
        { NULL, NULL },
    };
    char head[1024], want[128];

    serve((struct sockit_ws_server_options){ .protocols = protocols });
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int opened = atomic_load(&fx.seen.opened);
        int fd = client();
        int status = wsc_request_upgrade(fd, "/", cases[i].field, head, sizeof(head));
        cr_assert_eq(status, 101, "%s-> %s", cases[i].field, head);
        cr_assert(WITHIN(2000, atomic_load(&fx.seen.opened) == opened + 1));
        if (cases[i].chosen) {
            snprintf(want, sizeof(want), "\r\nSec-WebSocket-Protocol: %s\r\n", cases[i].chosen);
            cr_expect(strstr(head, want), "%s-> %s", cases[i].field, head);
            cr_expect(fx.seen.protocol && strcmp(fx.seen.protocol, cases[i].chosen) == 0,
                      "on_open's protocol %s, want %s", fx.seen.protocol, cases[i].chosen);
        } else {
            cr_expect(!strstr(head, "Sec-WebSocket-Protocol"), "%s-> %s", cases[i].field, head);
            cr_expect_null(fx.seen.protocol, "on_open's protocol %s", fx.seen.protocol);
        }
        close(fd);
    }
}

/* ---- plain HTTP on the upgrade port ------------------------------------------------------- */

WS_TEST(on_http_answers_get_and_head_on_one_keep_alive_connection)
{
    char head[1024], body[256];

    serve((struct sockit_ws_server_options){ .on_http = t_http });
    int fd = client();
    int status =
        http(fd, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 200, "%s", head);
    cr_expect_str_eq(body, "page /page");
    cr_expect(strstr(head, "\r\nContent-Type: text/plain\r\n"), "%s", head);
    cr_expect(!strstr(head, "Connection: close"), "%s", head);

    /* the same connection: HEAD has the GET's length and no body, then a second GET */
    status =
        http(fd, "HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 200, "%s", head);
    cr_expect(strstr(head, "\r\nContent-Length: 10\r\n"), "%s", head);
    status =
        http(fd, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 200, "after HEAD, the next bytes are the next answer: %s", head);
    cr_expect_str_eq(body, "page /again");
    cr_expect_eq(atomic_load(&fx.seen.http), 3);

    /* Connection: close is honoured */
    status = http(fd, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", head,
                  sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 200, "%s", head);
    cr_expect(strstr(head, "\r\nConnection: close\r\n"), "%s", head);
    cr_expect(wsc_ended(fd, 3000), "the server closes after Connection: close");
    close(fd);
}

WS_TEST(without_on_http_a_get_is_426_and_a_post_405)
{
    char head[1024], body[256];

    serve((struct sockit_ws_server_options){ 0 });
    int fd = client();
    int status =
        http(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 426, "%s", head);
    cr_expect(strstr(head, "\r\nUpgrade: websocket\r\n"), "%s", head);
    status = http(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", head, sizeof(head),
                  body, sizeof(body));
    cr_expect_eq(status, 405, "%s", head);
    cr_expect(strstr(head, "\r\nAllow: GET, HEAD\r\n"), "%s", head);
    /* a body is not read: the answer closes the connection */
    status = http(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", head,
                  sizeof(head), body, sizeof(body));
    cr_expect_eq(status, 405, "%s", head);
    cr_expect(strstr(head, "\r\nConnection: close\r\n"), "%s", head);
    cr_expect(wsc_ended(fd, 3000), "the server closes after a request with a body");
    close(fd);
    cr_expect_eq(atomic_load(&fx.seen.opened), 0);
}

/* ---- the timeouts ------------------------------------------------------------------------- */

WS_TEST(handshake_timeout_a_stalled_request_head_gets_408_and_a_close)
{
    char head[1024];

    serve((struct sockit_ws_server_options){ .handshake_timeout_ms = 200 });
    int fd = client();
    long long t0 = h_now_ms();
    cr_assert_eq(h_write_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n", 25), 0);
    wsc_read_head(fd, head, sizeof(head));
    long long ms = h_now_ms() - t0;
    cr_expect(strncmp(head, "HTTP/1.1 408 ", 13) == 0, "%s", head);
    cr_expect(ms >= 190 && ms < 2000, "408 after %lld ms, want 200", ms);
    char body[64];
    cr_expect_eq(h_read_exact(fd, body, 16), 0, "the 408's body");
    cr_expect(wsc_ended(fd, 3000), "the server closes after the 408");
    close(fd);
    cr_expect_eq(atomic_load(&fx.seen.opened), 0);
}

WS_TEST(ping_ms_a_silent_client_is_pinged_once_per_silence)
{
    serve((struct sockit_ws_server_options){ .ping_ms = 150 });
    int fd = open_client();
    long long t0 = h_now_ms();
    expect_frame(fd, 0x89, "", 0, "the first ping");
    long long ms = h_now_ms() - t0;
    cr_expect(ms >= 100 && ms < 2000, "a ping after %lld ms, want 150", ms);
    struct wsc_msg m;
    cr_expect_eq(wsc_read(fd, 400, &m), -ETIMEDOUT, "one ping per silence");
    wsc_send(fd, 0x8A, "", 0); /* the pong: input, so the silence starts again */
    expect_frame(fd, 0x89, "", 0, "a ping after the pong");
    wsc_send(fd, 0x81, "alive", 5);
    expect_frame(fd, 0x81, "alive", 5, "still open");
    cr_expect_eq(atomic_load(&fx.seen.closed), 0);
    close(fd);
}

WS_TEST(idle_ms_a_silent_client_gets_1001_and_on_close_eidle)
{
    serve((struct sockit_ws_server_options){ .idle_ms = 200 });
    int fd = open_client();
    long long t0 = h_now_ms();
    long long at = expect_close(fd, 1001, "idle", "the idle close");
    cr_expect(at - t0 >= 150 && at - t0 < 2000, "closed after %lld ms, want 200", at - t0);
    cr_expect_eq(atomic_load(&fx.seen.closed), 0, "on_close waits for the close handshake");
    send_close(fd, 1001, "");
    cr_expect(wsc_ended(fd, 3000), "the server closes after the handshake");
    expect_on_close(0, 1001, -SOCKIT_EIDLE, "idle");
    close(fd);
}

/* The server closes (sockit_ws_close in on_message); a client that never answers is closed
 * after close_timeout_ms, and what it sends meanwhile is not delivered. */
WS_TEST(close_timeout_a_client_that_never_answers_is_closed_with_etimedout)
{
    serve((struct sockit_ws_server_options){ .close_timeout_ms = 250 });
    int fd = open_client();
    wsc_send(fd, 0x81, "close", 5);
    long long t0 = expect_close(fd, 4001, "bye", "the server's close");
    wsc_send(fd, 0x81, "not delivered", 13);
    wsc_send(fd, 0x89, "unanswered", 10);
    cr_expect(wsc_ended(fd, 3000), "closed after the close timeout");
    long long ms = h_now_ms() - t0;
    cr_expect(ms >= 200 && ms < 2000, "closed %lld ms after the close frame, want 250", ms);
    expect_on_close(0, 4001, -ETIMEDOUT, "close timeout");
    cr_expect_eq(atomic_load(&fx.seen.messages), 1, "messages after the close are not delivered");
    close(fd);
}

/* ---- on_close's code and error ------------------------------------------------------------ */

WS_TEST(a_client_close_gives_on_close_its_code_and_no_error)
{
    serve((struct sockit_ws_server_options){ 0 });
    int fd = open_client();
    send_close(fd, 4002, "done");
    expect_close(fd, 4002, "done", "the answer to the client's close");
    cr_expect(wsc_ended(fd, 3000));
    expect_on_close(0, 4002, 0, "a client close");
    close(fd);

    fd = open_client();
    wsc_send(fd, 0x88, "", 0);
    expect_frame(fd, 0x88, "", 0, "the answer to a close without a code");
    expect_on_close(1, SOCKIT_WS_CLOSE_NO_STATUS, 0, "a close without a code");
    close(fd);
}

WS_TEST(the_server_close_answered_gives_on_close_no_error)
{
    serve((struct sockit_ws_server_options){ 0 });
    int fd = open_client();
    wsc_send(fd, 0x81, "close", 5);
    expect_close(fd, 4001, "bye", "the server's close");
    send_close(fd, 4001, "");
    cr_expect(wsc_ended(fd, 3000));
    expect_on_close(0, 4001, 0, "the server's close, answered");
    close(fd);
}

/* A peer that drops the connection instead of answering the server's close did not complete
 * the close handshake: on_close keeps the code sent and gets an error. */
WS_TEST(the_server_close_dropped_unanswered_gives_on_close_an_error)
{
    serve((struct sockit_ws_server_options){ 0 });
    int fd = open_client();
    wsc_send(fd, 0x81, "close", 5);
    expect_close(fd, 4001, "bye", "the server's close");
    close(fd);
    expect_on_close(0, 4001, -ECONNRESET, "the server's close, dropped unanswered");
}

/* After its close frame the server sends nothing more, not even a close for a bad frame. */
WS_TEST(a_protocol_error_after_the_servers_close_sends_no_second_close)
{
    serve((struct sockit_ws_server_options){ 0 });
    int fd = open_client();
    wsc_send(fd, 0x81, "close", 5);
    expect_close(fd, 4001, "bye", "the server's close");
    wsc_send(fd, 0xC1, "rsv1", 4); /* RSV1 without an extension: 1002 if it were open */
    struct wsc_msg m;
    int rc = wsc_read(fd, 3000, &m);
    uint8_t b0 = rc == 0 ? m.b0 : 0;
    if (rc == 0)
        wsc_msg_free(&m);
    cr_expect_eq(rc, -1, "after its close the server sent frame 0x%02x (rc %d)", b0, rc);
    expect_on_close(0, 4001, -SOCKIT_EWS_RSV, "a bad frame after the server's close");
    close(fd);
}

WS_TEST(a_dropped_connection_gives_on_close_1006_and_an_error)
{
    serve((struct sockit_ws_server_options){ 0 });

    /* a FIN without a close frame */
    int fd = open_client();
    close(fd);
    expect_on_close(0, SOCKIT_WS_CLOSE_ABNORMAL, -ECONNRESET, "a FIN without a close");

    /* a reset */
    fd = open_client();
    struct linger lg = { 1, 0 };
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
    cr_assert(WITHIN(3000, atomic_load(&fx.seen.closed) == 2), "a reset: no on_close");
    cr_expect_eq(atomic_load(&fx.seen.close_code), SOCKIT_WS_CLOSE_ABNORMAL);
    cr_expect_neq(atomic_load(&fx.seen.close_err), 0, "a reset: on_close without an error");
}

/* ---- broadcast and the output bound ------------------------------------------------------- */

/* One frame made once, queued to 50 clients: each reads the same bytes. */
WS_TEST(broadcast_one_frame_to_fifty_clients)
{
    enum { N = 50, LEN = 1000 };
    int fds[N];

    fx.seen.broadcast_len = LEN;
    serve((struct sockit_ws_server_options){ 0 });
    for (int i = 0; i < N; i++)
        fds[i] = open_client();
    wsc_send(fds[7], 0x81, "broadcast", 9);
    uint8_t *want = broadcast_payload(LEN);
    cr_assert_not_null(want);
    for (int i = 0; i < N; i++) {
        char what[32];
        snprintf(what, sizeof(what), "client %d", i);
        expect_frame(fds[i], 0x82, want, LEN, what);
    }
    free(want);
    /* the counters follow each write: a client may read its frame before they move */
    cr_expect(WITHIN(2000, stats().messages_out == N), "messages_out %llu",
              (unsigned long long)stats().messages_out);
    for (int i = 0; i < N; i++)
        cr_expect_eq(atomic_load(&fx.seen.sent_ok[i]), 1, "client %d", i);
    struct sockit_ws_server_stats st = stats();
    cr_expect_eq(st.handshakes, N);
    cr_expect_eq(st.messages_in, 1);
    cr_expect_eq(st.messages_out, N, "messages_out %llu", (unsigned long long)st.messages_out);
    cr_expect_eq(st.bytes_out, N * LEN, "bytes_out %llu", (unsigned long long)st.bytes_out);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* A client that does not read while 64 KiB frames are broadcast passes max_queue: it is
 * closed with 1008, its close frame queued behind what it was sent, while a client that reads
 * keeps receiving. */
WS_TEST(max_queue_closes_a_client_that_does_not_read_with_1008)
{
    enum { LEN = 64 * 1024, MAX_ROUNDS = 2000 };

    fx.seen.broadcast_len = LEN;
    serve((struct sockit_ws_server_options){ .max_queue = 256 * 1024 });
    int slow = client_rcvbuf(4096); /* conns[0]: never read until the end */
    char head[1024];
    cr_assert_eq(wsc_request_upgrade(slow, "/", NULL, head, sizeof(head)), 101, "%s", head);
    cr_assert(WITHIN(2000, atomic_load(&fx.seen.opened) == 1));
    int fast = open_client(); /* conns[1] */
    uint8_t *want = broadcast_payload(LEN);
    cr_assert_not_null(want);
    int rounds = 0;
    for (; rounds < MAX_ROUNDS && stats().dropped_slow == 0; rounds++) {
        wsc_send(fast, 0x81, "broadcast", 9);
        expect_frame(fast, 0x82, want, LEN, "the reading client");
    }
    cr_assert_eq(stats().dropped_slow, 1, "not dropped after %d rounds of 64 KiB", rounds);
    cr_expect_eq(atomic_load(&fx.seen.last_rc[0]), -ENOBUFS, "the send that passed max_queue");
    for (int i = 0; i < 5; i++) {
        wsc_send(fast, 0x81, "broadcast", 9);
        expect_frame(fast, 0x82, want, LEN, "the reading client, after the drop");
    }
    cr_expect_eq(atomic_load(&fx.seen.last_rc[0]), -EPIPE, "sends after the drop");

    /* now the slow client reads what it was sent, then the close 1008 */
    int queued = atomic_load(&fx.seen.sent_ok[0]);
    cr_expect_eq(queued, rounds - 1, "%d frames queued in %d rounds, the last refused", queued,
                 rounds);
    for (int i = 0; i < queued; i++)
        expect_frame(slow, 0x82, want, LEN, "the slow client, after the fact");
    free(want);
    expect_close(slow, 1008, "too slow: output queue full", "the slow client's close");
    cr_expect(wsc_ended(slow, 3000), "the slow client is closed");
    expect_on_close(0, 1008, -ENOBUFS, "the slow client");
    cr_expect(WITHIN(2000, stats().messages_out == (uint64_t)(queued + rounds + 5)));
    struct sockit_ws_server_stats st = stats();
    cr_expect_eq(st.dropped_slow, 1);
    cr_expect_eq(st.messages_out, (uint64_t)(queued + rounds + 5),
                 "messages_out %llu: the frames queued to both",
                 (unsigned long long)st.messages_out);
    close(slow);
    close(fast);
}

/* ---- the counters ------------------------------------------------------------------------- */

WS_TEST(stats_count_handshakes_refusals_messages_and_bytes)
{
    char head[1024];

    serve((struct sockit_ws_server_options){ 0 });
    int bad = client();
    cr_expect_eq(wsc_request_upgrade(bad, "/", "Sec-WebSocket-Key: two\r\n", head, sizeof(head)),
                 400, "%s", head);
    close(bad);
    int fd = open_client();
    wsc_send(fd, 0x81, "hello", 5);
    expect_frame(fd, 0x81, "hello", 5, "text");
    wsc_send(fd, 0x02, "bin", 3);
    wsc_send(fd, 0x89, "ping", 4); /* between fragments: not a message */
    wsc_send(fd, 0x80, "ary", 3);
    expect_frame(fd, 0x8A, "ping", 4, "pong");
    expect_frame(fd, 0x82, "binary", 6, "binary");
    cr_expect(WITHIN(2000, stats().messages_out == 2), "messages_out follows the write");
    struct sockit_ws_server_stats st = stats();
    cr_expect_eq(st.handshakes, 1);
    cr_expect_eq(st.refused, 1);
    cr_expect_eq(st.messages_in, 2);
    cr_expect_eq(st.messages_out, 2);
    cr_expect_eq(st.bytes_in, 11);
    cr_expect_eq(st.bytes_out, 11);
    cr_expect_eq(st.dropped_slow, 0);
    close(fd);
}
