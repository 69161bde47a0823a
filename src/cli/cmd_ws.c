/* sockit ws: a WebSocket client for scripts and tests. Connect, upgrade, then stdin lines
 * become text (or binary) messages and the server's messages go to stdout; pings are
 * answered; end of input sends close 1000 and waits for the server's close. Blocking I/O
 * and poll(): one connection, so the clearest shape is the best one. The protocol is the
 * library's sans-I/O sockit/ws.h. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/error.h"
#include "sockit/socket.h"
#include "sockit/ws_server.h"

static const char ws_help[] =
    "Usage: sockit ws [OPTIONS] ws://HOST[:PORT][/PATH]\n"
    "A WebSocket (RFC 6455) client: connect, upgrade, then send each line of standard input\n"
    "as a text message (without its newline) and print each message the server sends on a\n"
    "line of its own. Pings are answered. At the end of input (with --count: once N\n"
    "messages came, too) it sends close 1000 and waits for the server's close; a close from\n"
    "the server ends it at once.\n\n"
    "Options:\n"
    "      --binary            send each line as a binary message\n"
    "      --json              print one JSON object per message: {\"type\":\"text\",\n"
    "                          \"data\":\"...\"}, or \"binary\" with \"hex\"; and the close as\n"
    "                          {\"type\":\"close\",\"code\":N,\"reason\":\"...\"}\n"
    "  -p, --protocol NAME     offer subprotocol NAME (repeat for several, in preference order)\n"
    "  -o, --origin ORIGIN     send an Origin field (as a browser would)\n"
    "      --deflate           offer permessage-deflate (RFC 7692): if the server agrees,\n"
    "                          messages travel compressed both ways (the status line says\n"
    "                          so); if it declines, uncompressed\n"
    "  -n, --count N           exit after N messages from the server\n"
    "  -t, --timeout SEC       give up on connecting and upgrading after SEC seconds\n"
    "                          (default 10); and on the server's close after ours\n"
    "      --max-message N     refuse a message over N bytes with close 1009 (default 16 MiB)\n"
    "  -q, --quiet             no status lines on stderr\n"
    "      --trace             print each socket call on stderr as it happens\n"
    "  -h, --help              show this help\n\n"
    "Exit status: 0 after a clean close (1000, 1001 or none); 1 if the connection, the\n"
    "upgrade or the protocol failed, or the server closed with another code; 2 for a usage\n"
    "error. wss:// (TLS) is not supported.\n\n"
    "Examples:\n"
    "  echo hello | sockit ws ws://127.0.0.1:9001/\n"
    "  sockit ws --json -n 1 ws://localhost:8080/room1 < /dev/null\n";

#define MAX_PROTOCOLS  8
#define LINE_MAX_BYTES (1u << 20)

enum { OPT_BINARY = 256, OPT_JSON, OPT_MAX_MESSAGE, OPT_TRACE, OPT_DEFLATE };

static const struct option ws_options[] = {
    { "binary", no_argument, NULL, OPT_BINARY },
    { "json", no_argument, NULL, OPT_JSON },
    { "protocol", required_argument, NULL, 'p' },
    { "origin", required_argument, NULL, 'o' },
    { "deflate", no_argument, NULL, OPT_DEFLATE },
    { "count", required_argument, NULL, 'n' },
    { "timeout", required_argument, NULL, 't' },
    { "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct ws_config {
    const char *url;
    struct sockit_endpoint ep;
    char path[SOCKIT_WS_PATH_MAX + 1];
    const char *protocols[MAX_PROTOCOLS + 1];
    size_t nprotocols;
    const char *origin;
    unsigned long count, timeout_s, max_message;
    bool binary, json, quiet, deflate;
    struct sockit_sockopts opts;
    struct cli_tracer tracer;
};

/* One connection's state after the upgrade. */
struct ws_client {
    const struct ws_config *cfg;
    int fd, stop_fd;
    uint64_t rng; /* masks: xorshift64*, seeded from getrandom */
    struct sockit_ws_parser parser;
    uint8_t *in; /* received, not yet parsed */
    size_t in_len, in_cap;
    struct sockit_buf msg; /* the message being reassembled (inflated) */
    enum sockit_ws_opcode msg_op;
    struct sockit_ws_deflate *deflate; /* permessage-deflate agreed, else NULL */
    struct sockit_buf zout;            /* a message compressed on its way out */
    char *line;                        /* the stdin line being read */
    size_t line_len, line_cap;
    unsigned long received;
    bool close_sent, input_done;
    int close_code; /* the server's, once its close came; -1 before */
};

static int parse_option(int c, void *ctx)
{
    struct ws_config *cfg = ctx;

    switch (c) {
    case OPT_BINARY: cfg->binary = true; return 0;
    case OPT_JSON: cfg->json = true; return 0;
    case 'p':
        if (cfg->nprotocols == MAX_PROTOCOLS)
            return cli_usage("ws", "--protocol: at most %d", MAX_PROTOCOLS);
        cfg->protocols[cfg->nprotocols++] = optarg;
        return 0;
    case 'o': cfg->origin = optarg; return 0;
    case OPT_DEFLATE: cfg->deflate = true; return 0;
    case 'n': return cli_number("ws", "--count", optarg, 1, 1ul << 40, &cfg->count);
    case 't': return cli_number("ws", "--timeout", optarg, 1, 86400, &cfg->timeout_s);
    case OPT_MAX_MESSAGE:
        return cli_number("ws", "--max-message", optarg, 1, 1ul << 30, &cfg->max_message);
    case 'q': cfg->quiet = true; return 0;
    case OPT_TRACE: cfg->opts.trace = &cfg->tracer.hook; return 0;
    }
    return cli_usage("ws", "unknown option");
}

/* ---- output ------------------------------------------------------------------------------- */

/* TEXT (valid UTF-8) as a JSON string: UTF-8 passes through, controls are escaped. */
static void json_text(const uint8_t *p, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_message(const struct ws_client *c, enum sockit_ws_opcode op, const uint8_t *p,
                          size_t len)
{
    if (!c->cfg->json) {
        fwrite(p, 1, len, stdout);
        putchar('\n');
    } else if (op == SOCKIT_WS_TEXT) {
        printf("{\"type\":\"text\",\"data\":");
        json_text(p, len);
        printf("}\n");
    } else {
        printf("{\"type\":\"binary\",\"hex\":\"");
        for (size_t i = 0; i < len; i++)
            printf("%02x", p[i]);
        printf("\"}\n");
    }
    fflush(stdout);
}

/* ---- sending ------------------------------------------------------------------------------ */

static uint32_t next_mask(struct ws_client *c)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (uint32_t)((c->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Send one frame, masked with a fresh key: header and payload in one send. RSV1: a
 * compressed message. */
static int send_frame(struct ws_client *c, enum sockit_ws_opcode op, const void *data, size_t len,
                      bool rsv1)
{
    uint8_t key[4];
    uint32_t m = next_mask(c);
    uint8_t *frame = malloc(SOCKIT_WS_MAX_HEADER + len);

    if (!frame)
        return -ENOMEM;
    memcpy(key, &m, 4);
    size_t hl = sockit_ws_frame_header(frame, op, true, rsv1, len, key);
    if (len) {
        memcpy(frame + hl, data, len);
        sockit_ws_mask(frame + hl, len, key, 0);
    }
    ssize_t rc = sockit_send_all(c->fd, frame, hl + len, c->cfg->opts.trace);
    free(frame);
    return rc < 0 ? (int)rc : 0;
}

static int send_close(struct ws_client *c, uint16_t code, const char *reason)
{
    uint8_t payload[SOCKIT_WS_MAX_CONTROL];
    size_t len = sockit_ws_close_payload(payload, code, reason, strlen(reason));

    c->close_sent = true;
    return send_frame(c, SOCKIT_WS_CLOSE, payload, len, false);
}

/* Send one data message: compressed if permessage-deflate was agreed. */
static int send_message(struct ws_client *c, enum sockit_ws_opcode op, const void *data, size_t len)
{
    if (!c->deflate)
        return send_frame(c, op, data, len, false);
    int rc = sockit_ws_deflate_message(c->deflate, data, len, &c->zout);
    if (rc == 0)
        rc = send_frame(c, op, c->zout.data + c->zout.head, sockit_buf_len(&c->zout), true);
    sockit_buf_consume(&c->zout, sockit_buf_len(&c->zout));
    return rc;
}

/* ---- the opening handshake ---------------------------------------------------------------- */

static int handshake_request(const struct ws_config *cfg, const char *key, char *buf, size_t cap)
{
    struct sockit_http_head h;
    char host[SOCKIT_HOST_MAX + 16], protos[MAX_PROTOCOLS * (SOCKIT_WS_MAX_PROTOCOL + 2)] = "";
    char offer[SOCKIT_WS_DEFLATE_VALUE_MAX];

    if (cfg->ep.port == 80)
        snprintf(host, sizeof(host), strchr(cfg->ep.host, ':') ? "[%s]" : "%s",
                 cfg->ep.host[0] ? cfg->ep.host : "localhost");
    else
        snprintf(host, sizeof(host), strchr(cfg->ep.host, ':') ? "[%s]:%u" : "%s:%u",
                 cfg->ep.host[0] ? cfg->ep.host : "localhost", cfg->ep.port);
    for (size_t i = 0; i < cfg->nprotocols; i++) {
        strcat(protos, i ? ", " : "");
        strncat(protos, cfg->protocols[i], SOCKIT_WS_MAX_PROTOCOL);
    }
    sockit_http_head_init(&h, buf, cap);
    sockit_http_head_request(&h, "GET", (struct sockit_http_str){ cfg->path, strlen(cfg->path) },
                             1);
#define FIELD(name, value)                                                                         \
    sockit_http_head_field(&h, name, (struct sockit_http_str){ value, strlen(value) })
    FIELD("Host", host);
    FIELD("Upgrade", "websocket");
    FIELD("Connection", "Upgrade");
    FIELD("Sec-WebSocket-Key", key);
    FIELD("Sec-WebSocket-Version", "13");
    if (cfg->nprotocols)
        FIELD("Sec-WebSocket-Protocol", protos);
    if (cfg->origin)
        FIELD("Origin", cfg->origin);
    if (cfg->deflate && sockit_ws_deflate_offer(NULL, offer))
        FIELD("Sec-WebSocket-Extensions", offer);
#undef FIELD
    long n = sockit_http_head_end(&h);
    return (int)n;
}

/* Make room for at least 4 KiB more input in C->in. */
static int in_room(struct ws_client *c)
{
    if (c->in_cap - c->in_len >= 4096)
        return 0;
    uint8_t *p = realloc(c->in, c->in_cap + 65536);
    if (!p)
        return -ENOMEM;
    c->in = p;
    c->in_cap += 65536;
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The server's answer RESP to our request with KEY: checked, permessage-deflate's contexts
 * made if it agreed, the frame parser set for what was agreed, the status line printed. */
static int switched(struct ws_client *c, const struct sockit_http_response *resp, const char *key)
{
    const struct ws_config *cfg = c->cfg;
    const struct sockit_ws_deflate_options offer = { 0 };
    struct sockit_ws_deflate_params p;
    const char *chosen;
    int rc = sockit_ws_response_check_deflate(resp, key, cfg->nprotocols ? cfg->protocols : NULL,
                                              cfg->deflate ? &offer : NULL, &chosen, &p);

    if (rc == 1 && (rc = sockit_ws_deflate_new(&c->deflate, &p, false)) == 0)
        rc = 1;
    if (rc < 0 && resp->status != 101) /* say what the server said instead */
        fprintf(stderr, "sockit ws: %s answered %d %.*s\n", cfg->url, resp->status,
                (int)resp->reason.len, resp->reason.p);
    if (rc < 0)
        return rc;
    sockit_ws_parser_init(&c->parser,
                          &(struct sockit_ws_parser_options){ .server = false,
                                                              .allow_rsv1 = c->deflate != NULL,
                                                              .max_message = cfg->max_message });
    if (!cfg->quiet)
        fprintf(stderr, "sockit ws: connected to %s%s%s%s\n", cfg->url,
                chosen ? ", subprotocol " : "", chosen ? chosen : "",
                c->deflate     ? ", permessage-deflate"
                : cfg->deflate ? ", uncompressed"
                               : "");
    return 0;
}

/* Send the upgrade request and read the answer; bytes after the 101 stay in C->in. */
static int upgrade(struct ws_client *c)
{
    const struct ws_config *cfg = c->cfg;
    uint8_t nonce[16];
    char key[SOCKIT_WS_KEY_LEN + 1], req[4096];

    if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
        return -errno;
    sockit_ws_client_key(nonce, key);
    int n = handshake_request(cfg, key, req, sizeof(req));
    if (n < 0)
        return n;
    ssize_t sent = sockit_send_all(c->fd, req, (size_t)n, cfg->opts.trace);
    if (sent < 0)
        return (int)sent;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t seen = 0;
    for (;;) {
        long left = (long)cfg->timeout_s * 1000 - ms_since(&t0);
        int rc = sockit_wait(c->fd, POLLIN, c->stop_fd, left > 0 ? (int)left : 0);
        if (rc == 0)
            return -ETIMEDOUT;
        if (rc < 0)
            return rc;
        if ((rc = in_room(c)) < 0)
            return rc;
        ssize_t got = sockit_recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, cfg->opts.trace);
        if (got <= 0)
            return got < 0 ? (int)got : -SOCKIT_EWS_HANDSHAKE;
        c->in_len += (size_t)got;
        struct sockit_http_response resp;
        long hl = sockit_http_parse_response((const char *)c->in, c->in_len, seen, &resp);
        if (hl < 0)
            return (int)hl;
        if (hl == 0) {
            seen = c->in_len;
            continue;
        }
        if ((rc = switched(c, &resp, key)) < 0)
            return rc;
        memmove(c->in, c->in + hl, c->in_len - (size_t)hl);
        c->in_len -= (size_t)hl;
        return 0;
    }
}

/* ---- after the upgrade -------------------------------------------------------------------- */

/* The server's close (code CODE, REASON): printed, answered unless we sent ours first. */
static void on_close_frame(struct ws_client *c, const struct sockit_ws_event *ev)
{
    c->close_code = ev->close_code;
    if (c->cfg->json) {
        printf("{\"type\":\"close\",\"code\":%u,\"reason\":", ev->close_code);
        json_text(ev->reason, ev->reason_len);
        printf("}\n");
        fflush(stdout);
    } else if (!c->cfg->quiet) {
        fprintf(stderr, "sockit ws: the server closed with %u%s%.*s\n", ev->close_code,
                ev->reason_len ? ": " : "", (int)ev->reason_len, (const char *)ev->reason);
    }
    if (!c->close_sent) {
        uint8_t payload[2] = { (uint8_t)(ev->close_code >> 8), (uint8_t)ev->close_code };
        c->close_sent = true;
        send_frame(c, SOCKIT_WS_CLOSE, payload, ev->close_code == SOCKIT_WS_CLOSE_NO_STATUS ? 0 : 2,
                   false);
    }
}

/* A compressed piece, inflated onto the message; a whole inflated text must be UTF-8. */
static int inflate_piece(struct ws_client *c, const struct sockit_ws_event *ev)
{
    int rc = sockit_ws_inflate(c->deflate, ev->payload, ev->len, ev->last, &c->msg);
    uint32_t state = SOCKIT_WS_UTF8_ACCEPT;

    if (rc < 0 || !ev->last || c->msg_op != SOCKIT_WS_TEXT)
        return rc;
    if (sockit_ws_utf8(&state, c->msg.data + c->msg.head, sockit_buf_len(&c->msg)) < 0 ||
        state != SOCKIT_WS_UTF8_ACCEPT)
        return -SOCKIT_EWS_UTF8;
    return 0;
}

static int on_event(struct ws_client *c, const struct sockit_ws_event *ev)
{
    switch (ev->kind) {
    case SOCKIT_WS_EV_NONE:
    case SOCKIT_WS_EV_PONG: return 0;
    case SOCKIT_WS_EV_PING:
        return c->close_sent ? 0 : send_frame(c, SOCKIT_WS_PONG, ev->payload, ev->len, false);
    case SOCKIT_WS_EV_CLOSE: on_close_frame(c, ev); return 0;
    case SOCKIT_WS_EV_DATA: break;
    }
    if (ev->first) {
        c->msg_op = ev->opcode;
        sockit_buf_consume(&c->msg, sockit_buf_len(&c->msg));
    }
    int rc =
        ev->compressed ? inflate_piece(c, ev) : sockit_buf_append(&c->msg, ev->payload, ev->len);
    if (rc < 0)
        return rc == -ENOBUFS ? -SOCKIT_EWS_TOO_BIG : rc;
    if (ev->last) {
        print_message(c, c->msg_op, c->msg.data + c->msg.head, sockit_buf_len(&c->msg));
        c->received++;
        if (c->cfg->count && c->received >= c->cfg->count && !c->close_sent)
            return send_close(c, SOCKIT_WS_CLOSE_NORMAL, "");
    }
    return 0;
}

/* Parse what is in C->in. A protocol error is answered with its close code and returned. */
static int parse_input(struct ws_client *c)
{
    uint8_t out[16384];
    size_t off = 0;
    int rc = 0;

    while (off < c->in_len && c->close_code < 0 && rc == 0) {
        struct sockit_ws_event ev;
        long n = sockit_ws_parse(&c->parser, c->in + off, c->in_len - off, out, sizeof(out), &ev);
        if (n == 0)
            break;
        if (n < 0) {
            rc = (int)n;
            break;
        }
        off += (size_t)n;
        rc = on_event(c, &ev);
    }
    if (-rc >= SOCKIT_E_WS && -rc < SOCKIT_E_WS_END && !c->close_sent) /* frames, inflating */
        send_close(c, (uint16_t)sockit_ws_error_close_code(rc), "");
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return rc;
}

/* Read what stdin has; each whole line is a message. At end of input (a last line without a
 * newline is sent too) the close handshake starts. */
static int read_stdin(struct ws_client *c)
{
    char buf[65536];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (n == 0) {
        c->input_done = true;
        int rc = c->line_len ? send_message(c, c->cfg->binary ? SOCKIT_WS_BINARY : SOCKIT_WS_TEXT,
                                            c->line, c->line_len)
                             : 0;
        if (rc < 0 || c->close_sent || (c->cfg->count && c->received < c->cfg->count))
            return rc; /* with --count, the close goes once the messages came */
        return send_close(c, SOCKIT_WS_CLOSE_NORMAL, "");
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            uint32_t state = SOCKIT_WS_UTF8_ACCEPT;
            enum sockit_ws_opcode op = c->cfg->binary ? SOCKIT_WS_BINARY : SOCKIT_WS_TEXT;
            if (op == SOCKIT_WS_TEXT &&
                (sockit_ws_utf8(&state, (const uint8_t *)c->line, c->line_len) < 0 ||
                 state != SOCKIT_WS_UTF8_ACCEPT))
                return -SOCKIT_EWS_UTF8; /* a text message must be UTF-8: --binary sends bytes */
            int rc = send_message(c, op, c->line, c->line_len);
            if (rc < 0)
                return rc;
            c->line_len = 0;
            continue;
        }
        if (c->line_len == c->line_cap) {
            if (c->line_cap >= LINE_MAX_BYTES)
                return -EMSGSIZE;
            size_t cap = c->line_cap ? c->line_cap * 2 : 4096;
            char *p = realloc(c->line, cap);
            if (!p)
                return -ENOMEM;
            c->line = p;
            c->line_cap = cap;
        }
        c->line[c->line_len++] = buf[i];
    }
    return 0;
}

/* Until the server's close (or ours is unanswered for the timeout), the end of the
 * connection, or a signal. Returns 0 or a negative code. */
static int run_session(struct ws_client *c)
{
    struct timespec closed_at = { 0, 0 };

    for (;;) {
        int rc = parse_input(c);
        if (rc < 0)
            return rc;
        if (c->close_code >= 0)
            return 0;
        if (c->close_sent && !closed_at.tv_sec)
            clock_gettime(CLOCK_MONOTONIC, &closed_at);
        long wait = -1;
        if (closed_at.tv_sec) {
            wait = (long)c->cfg->timeout_s * 1000 - ms_since(&closed_at);
            if (wait <= 0)
                return -ETIMEDOUT;
        }
        struct pollfd p[3] = { { c->fd, POLLIN, 0 },
                               { c->stop_fd, POLLIN, 0 },
                               { c->input_done || c->close_sent ? -1 : STDIN_FILENO, POLLIN, 0 } };
        if (poll(p, 3, (int)wait) < 0 && errno != EINTR)
            return -errno;
        if (p[1].revents)
            return -ECANCELED;
        if (p[2].revents && (rc = read_stdin(c)) < 0)
            return rc;
        if (!p[0].revents)
            continue;
        if ((rc = in_room(c)) < 0)
            return rc;
        ssize_t got =
            sockit_recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, c->cfg->opts.trace);
        if (got < 0)
            return (int)got;
        if (got == 0)
            return -ECONNRESET; /* gone without a close frame */
        c->in_len += (size_t)got;
    }
}

static int parse_args(int argc, char **argv, struct ws_config *cfg)
{
    int err = cli_parse_options("ws", argc, argv, ":p:o:n:t:qh", ws_options, ws_help, NULL,
                                parse_option, cfg);

    if (err)
        return err;
    if (optind != argc - 1)
        return cli_usage("ws", optind >= argc ? "missing URL" : "too many arguments");
    cfg->url = argv[optind];
    return cli_ws_url("ws", cfg->url, &cfg->ep, cfg->path, sizeof(cfg->path));
}

/* The exit status for how the session ended: a clean close is 0. */
static int verdict(const struct ws_client *c, int err)
{
    if (err == -ECANCELED)
        return CLI_OK;
    if (err)
        return cli_fail("ws", c->cfg->url, err);
    if (c->close_code == SOCKIT_WS_CLOSE_NORMAL || c->close_code == SOCKIT_WS_CLOSE_GOING_AWAY ||
        c->close_code == SOCKIT_WS_CLOSE_NO_STATUS)
        return CLI_OK;
    return CLI_FAIL;
}

int cmd_ws(int argc, char **argv)
{
    struct ws_config cfg = { .timeout_s = 10, .max_message = SOCKIT_WS_MAX_MESSAGE };
    int rc = parse_args(argc, argv, &cfg);

    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    cli_tracer_init(&cfg.tracer, false);
    signal(SIGPIPE, SIG_IGN);
    struct ws_client c = { .cfg = &cfg, .close_code = -1 };
    if (getrandom(&c.rng, sizeof(c.rng), 0) != sizeof(c.rng) || !c.rng)
        c.rng = 0x9E3779B97F4A7C15ull;
    c.stop_fd = cli_stop_signals();
    if (c.stop_fd < 0)
        return cli_fail("signalfd", NULL, c.stop_fd);
    c.fd = sockit_socket_connect(&cfg.ep, &cfg.opts, NULL);
    if (c.fd < 0) {
        close(c.stop_fd);
        return cli_fail("connect", cfg.url, c.fd);
    }
    sockit_buf_init(&c.msg, cfg.max_message);
    sockit_buf_init(&c.zout, SIZE_MAX);
    int err = upgrade(&c);
    if (err < 0 && err != -ECANCELED)
        rc = cli_fail("upgrade", cfg.url, err);
    else
        rc = err < 0 ? CLI_OK : verdict(&c, run_session(&c));
    close(c.fd);
    close(c.stop_fd);
    free(c.in);
    sockit_buf_free(&c.msg);
    sockit_buf_free(&c.zout);
    sockit_ws_deflate_free(c.deflate);
    free(c.line);
    return rc;
}
