/* A WebSocket client over a raw blocking socket, for tests that must send what a real client
 * never would: any first byte, any length, frames split anywhere. Connect and upgrade, write
 * masked client frames, read the server's frames and its close. A broken expectation fails
 * the running Criterion test (cr_assert), so callers need no error paths. */
#ifndef SOCKIT_TEST_WS_CLIENT_H
#define SOCKIT_TEST_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 6455's sample key and the accept value it calls for. */
#define WSC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define WSC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define WSC_MAX_HEADER 14 /* a client frame's header: 2 + 8 (length) + 4 (mask) */

/* First bytes of frames: FIN and opcode. */
enum {
    WSC_CONT = 0x00,
    WSC_TEXT = 0x01,
    WSC_BINARY = 0x02,
    WSC_CLOSE = 0x08,
    WSC_PING = 0x09,
    WSC_PONG = 0x0A,
    WSC_FIN = 0x80,
};

struct proc;

/* Start "sockit echo ws://127.0.0.1:PORT/ EXTRA..." on a free port as a tracked child and wait
 * until it listens; its URL and its tcp:// endpoint go to URL and EP (64 bytes or more each).
 * EXTRA is NULL-terminated (may be NULL). */
struct proc *wsc_start_echo(char *url, char *ep, const char *const extra[]);

/* Stop SERVER (SIGTERM) if it still runs, then every tracked child: a suite's .fini. */
void wsc_stop_echo(struct proc *server);

/* Read an HTTP response head from FD a byte at a time, so that nothing after it is taken, into
 * HEAD (NUL-terminated). Returns its length; fails the test if no whole head comes in CAP - 1
 * bytes or 10 s. */
size_t wsc_read_head(int fd, char *head, size_t cap);

/* Send an upgrade request for PATH with WSC_KEY and the header lines EXTRA (each ending in
 * CRLF; may be NULL), then read the answer's head into HEAD (may be NULL). Returns the status. */
int wsc_request_upgrade(int fd, const char *path, const char *extra, char *head, size_t cap);

/* Connect to ENDPOINT (sockit syntax) and upgrade on "/": the 101 and its accept value are
 * checked and consumed. Returns the socket. */
int wsc_upgraded(const char *endpoint);

/* A client frame in OUT (room for LEN + WSC_MAX_HEADER bytes): first byte B0 (FIN, RSV bits,
 * opcode) as given, the length in its shortest form, the payload masked with a fixed key.
 * Returns the frame's length. */
size_t wsc_frame(uint8_t *out, uint8_t b0, const void *payload, size_t len);

/* Write one such frame to FD (fails the test if the write does). */
void wsc_send(int fd, uint8_t b0, const void *payload, size_t len);

/* A server frame. */
struct wsc_msg {
    uint8_t b0;    /* FIN, RSV bits, opcode */
    size_t len;    /* payload bytes */
    uint8_t *data; /* the payload, malloc'd with a NUL after it; wsc_msg_free */
};

/* Read one server frame from FD: 0, or -1 if the connection ended (or failed) first, or
 * -ETIMEDOUT when no byte of it came within MS. The rest of a frame once begun must come
 * within 10 s, unmasked (the test fails otherwise). */
int wsc_read(int fd, int ms, struct wsc_msg *m);
void wsc_msg_free(struct wsc_msg *m);

/* Skip frames until a close: its code (0 if it had no payload), or -1 if the connection
 * ended first. */
int wsc_close_code(int fd);

/* Whether the server ends the connection within MS: end of stream or a reset (the server may
 * close with bytes of ours unread). False if a byte or nothing comes. */
bool wsc_ended(int fd, int ms);

#endif
