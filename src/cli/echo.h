/* sockit echo: configuration and the pieces the four server models share. The models
 * themselves are the library's: sockit/classic.h (iterative, fork, thread) and sockit/server.h
 * (loop); the files here say what a client gets and what the log shows. */
#ifndef SOCKIT_CLI_ECHO_H
#define SOCKIT_CLI_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "sockit/dgram.h"
#include "sockit/endpoint.h"
#include "sockit/loop.h"
#include "sockit/server.h"
#include "sockit/socket.h"
#include "sockit/ws_server.h"

#define ECHO_CHUNK (64 * 1024) /* bytes read per recv; also the loop's per-client buffer */

enum echo_model { ECHO_ITERATIVE, ECHO_FORK, ECHO_THREAD, ECHO_LOOP };

/* "iterative", "fork", "thread", "loop": the names --model takes and the log prints. */
const char *echo_model_name(enum echo_model model);

/* The model named TEXT into *MODEL: 0, or -EINVAL for an unknown name. */
int echo_model_parse(const char *text, enum echo_model *model);

struct echo_config {
    struct sockit_endpoint ep;
    const char *ep_text;
    enum echo_model model;
    struct sockit_sockopts opts;
    unsigned long clients;     /* exit after this many clients (datagrams); 0 = never */
    unsigned long max_clients; /* concurrent clients at most (fork, thread, loop) */
    unsigned long workers;     /* datagram endpoints: processes/threads sharing the socket */
    unsigned long idle_ms;     /* close a client idle this long; 0 = never */
    const char *reply;         /* answer with this instead of echoing; NULL = echo */
    size_t reply_len;
    struct sockit_loop_options loop; /* loop model: backend, io_uring buffers */
    unsigned long threads;           /* loop model: event-loop threads */
    bool show;                       /* copy what clients send to stdout */
    _Atomic bool *show_lost; /* --show: set once stdout failed (a page shared by every process) */
    bool quiet;              /* no per-client log lines */
    bool ws;                 /* ws:// endpoint: a WebSocket echo on the loop model */
    char ws_path[SOCKIT_WS_PATH_MAX + 1]; /* ws://: the only path upgraded ("/": any) */
    bool deflate;                         /* ws://: agree to permessage-deflate */
};

/* What a running server holds; set up by echo_open, released by echo_close. */
struct echo_server {
    const struct echo_config *cfg;
    int lfd;   /* listening (stream) or bound (datagram) socket */
    int sigfd; /* signalfd for SIGINT, SIGTERM: the stop fd, polled and never read */
    struct sockit_addr local;
    struct sockit_socket_file file; /* the unix socket file this server made, removed at close */
};

/* Open the socket, block the stop signals into a signalfd, log "listening on ...".
 * Returns 0 or CLI_FAIL (message printed). */
int echo_open(struct echo_server *srv, const struct echo_config *cfg);

/* Log "listening on ENDPOINT (model M)" for the bound address LOCAL. */
void echo_log_listening(const struct echo_config *cfg, const struct sockit_addr *local);

/* The WebSocket echo (ws:// endpoints): each message back with its opcode, on the library's
 * server layer. Returns a CLI exit code. */
int echo_run_ws(const struct echo_config *cfg);

/* Close everything echo_open opened and remove the unix socket file if it is still the one
 * echo_open made (another server may have replaced it since). */
void echo_close(struct echo_server *srv);

enum echo_wait_result { WAIT_TIMEOUT = 0, WAIT_READY = 1, WAIT_STOP = 2 };

/* Wait until FD has EVENTS (WAIT_READY), STOP_FD is readable (WAIT_STOP) or TIMEOUT_MS passes
 * (WAIT_TIMEOUT; -1 waits forever). STOP_FD may be -1. Returns -errno if poll fails. */
int echo_wait(int fd, short events, int stop_fd, int timeout_ms);

/* Serve one connected stream client until it closes, fails, idles out or STOP_FD becomes
 * readable. Logs and closes FD. */
void echo_session(const struct echo_config *cfg, int fd, const struct sockit_addr *peer,
                  int stop_fd);

/* Copy N received bytes to stdout (--show); a failed stdout is reported once, then left.
 * Out of line: echo_answer inlines only the test. */
void echo_show(const struct echo_config *cfg, const void *buf, size_t n);

/* The bytes to send back for N received bytes in BUF (the echo, or --reply), after copying
 * the input to stdout when --show is set. */
static inline void echo_answer(const struct echo_config *cfg, const void *buf, size_t n,
                               const void **out, size_t *out_len)
{
    if (cfg->show && n > 0)
        echo_show(cfg, buf, n);
    *out = cfg->reply ? cfg->reply : buf;
    *out_len = cfg->reply ? cfg->reply_len : n;
}

#define ECHO_DGRAM_BUF (256 * 1024) /* over any UDP payload; unix datagrams may be larger */

/* Receive one datagram on FD (into BUF of ECHO_DGRAM_BUF bytes) and answer its sender,
 * logging truncation and errors. Returns 1 if answered, 0 if dropped, -EAGAIN if none was
 * waiting, or another -errno that should stop the server. */
int echo_dgram_one(const struct echo_config *cfg, int fd, void *buf);

/* Sends LEN bytes to TO for echo_dgram_reply: 0 or a negative code. */
typedef int echo_send_fn(void *ctx, const void *buf, size_t len, const struct sockit_addr *to);

/* Answer datagram M (received into a buffer of ECHO_DGRAM_BUF bytes) through SENDER(CTX, ...):
 * one that was truncated or came from an unnamed unix socket is logged and dropped. Returns
 * 1 if answered, 0 if dropped, or the SENDER error that should stop the server. */
int echo_dgram_reply(const struct echo_config *cfg, const struct sockit_dgram_msg *m,
                     echo_send_fn *sender, void *ctx);

/* Log a client turned away (ERR -SOCKIT_EFULL: over --max-clients, or the -errno it could
 * not be served with; PEER set, per client, so not with --quiet) or a failed accept (PEER
 * NULL: -EMFILE and -ENFILE mean a waiting client was closed). */
void echo_log_reject(const struct echo_config *cfg, int err, const struct sockit_addr *peer);

/* Log lines (suppressed by --quiet where they are per-client). */
void echo_log(const struct echo_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void echo_log_client(const struct echo_config *cfg, const struct sockit_addr *peer, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

/* The iterative, fork and thread models on the socket echo_open opened, run by the library
 * (sockit/classic.h): returns CLI_OK or CLI_FAIL (printed). */
int echo_run_classic(struct echo_server *srv);
/* The loop model runs on the library's server, which opens its own sockets (no echo_open):
 * returns CLI_OK or CLI_FAIL (printed). */
int echo_run_loop(const struct echo_config *cfg);

/* The server layer's options for CFG (endpoint, threads, backend, limits, signals). */
struct sockit_server_options echo_server_options(const struct echo_config *cfg);

/* Log where the server listens and on which backend (its on_listening). */
void echo_say_started(const struct echo_config *cfg, struct sockit_server *srv);

#endif
