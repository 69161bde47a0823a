/* Test support for the stream unit tests (test_stream.c, test_stream_out.c):
 *  - the two transports and STREAM_TEST, which runs a body over each on every backend;
 *  - connected pairs (a socketpair, or loopback TCP through tcp_listener), socket buffer
 *    sizes and queue lengths (inq, outq), pattern bytes, and struct bytes, a growing record
 *    of what arrived, with expect_bytes to compare it;
 *  - struct sx: a stream under test and its peer. The stream's callbacks (sx_ops) count and
 *    record what they see and call the test's hooks; the peer is the test's own non-blocking
 *    socket, driven by a watcher on the same loop (peer_send, peer_read), so every run is
 *    single-threaded and deterministic; a 3 s deadline timer turns a hang into a failure.
 * backends.h keeps the backend under test in statics of each test file, so what makes a loop
 * (sx_open) is inline here; the rest is in stream_peer.c. */
#ifndef SOCKIT_TEST_STREAM_PEER_H
#define SOCKIT_TEST_STREAM_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends.h"
#include "sockit/endpoint.h"
#include "sockit/loop.h"

/* ---------------------------------------------------------------- transports */

enum transport { UNIX_PAIR, TCP_LOOPBACK };

/* STREAM_TEST(name) { ... TR ... }: the body runs as name_unix and name_tcp, per backend. */
#define STREAM_TEST(name)                                                                          \
    static void name##_impl(enum transport tr);                                                    \
    LOOP_TEST(name##_unix)                                                                         \
    {                                                                                              \
        name##_impl(UNIX_PAIR);                                                                    \
    }                                                                                              \
    LOOP_TEST(name##_tcp)                                                                          \
    {                                                                                              \
        name##_impl(TCP_LOOPBACK);                                                                 \
    }                                                                                              \
    static void name##_impl(enum transport tr)

/* SO_SNDBUF and SO_RCVBUF of FD to SIZE (nothing if SIZE <= 0). */
void set_bufs(int fd, int size);

void set_nonblock(int fd);

/* A TCP listener on 127.0.0.1 (or ::1 if V6), listening with BACKLOG unless it is < 0 (bound
 * only); its address in *A. */
int tcp_listener(bool v6, int backlog, struct sockit_addr *a);

/* A connected pair: fd[0] for the stream, fd[1] the peer (non-blocking). BUFS > 0 sets
 * SO_SNDBUF and SO_RCVBUF on both ends, so that little fits in the kernel. */
void connect_pair(enum transport tr, int fd[2], int bufs);

/* Bytes waiting in FD's receive queue. */
size_t inq(int fd);

/* TCP: bytes in FD's send queue, not yet acknowledged. */
size_t outq(int fd);

/* LEN reproducible bytes from SEED (h_fill), malloc'd. */
unsigned char *pattern(size_t len, unsigned seed);

/* ---------------------------------------------------------------- byte accounting */

struct bytes {
    unsigned char *p;
    size_t n, cap;
};

void bytes_add(struct bytes *b, const void *data, size_t len);

/* GOT holds exactly the LEN bytes of WANT; WHAT names it in the failure. */
void expect_bytes(const struct bytes *got, const unsigned char *want, size_t len, const char *what);

/* ---------------------------------------------------------------- the test context */

struct sx;
typedef void sx_hook(struct sx *x);

struct sx {
    struct sockit_loop *loop;
    struct sockit_stream *s; /* NULL once on_close ran */
    enum transport tr;
    int fd[2]; /* fd[0] became the stream's; fd[1] is the peer (-1: none yet) */
    /* what the stream's callbacks saw */
    struct bytes in;
    int data_calls, eof_calls, drain_calls, close_calls, close_err, connect_calls;
    bool data_after_eof;
    int data_before_connect;
    size_t pending_at_drain; /* at the last on_drain */
    int data_calls_at_drain;
    uint64_t closed_at; /* loop clock at on_close */
    /* the test's own record of read_stop: on_data must not run while it is set */
    bool stopped;
    int data_while_stopped, eof_while_stopped;
    /* the peer: writes OUT from OUT_OFF (then shuts down if PEER_SHUT_AFTER), reads into PIN
     * while PEER_READING */
    const unsigned char *out;
    size_t nout, out_off;
    bool peer_shut_after, peer_reading, peer_watched, peer_eof;
    int peer_err;
    struct bytes pin;
    /* a way out */
    struct sockit_timer deadline;
    bool timed_out;
    /* what the test does at these points (may be NULL) */
    sx_hook *on_eof, *after_data, *on_drain_hook, *after_peer_read, *on_peer_eof, *on_connect_hook;
    void *test; /* test-specific state */
};

/* The stream callbacks on a struct sx (the user data); on_close on its own, for tests that
 * wrap it. */
extern const struct sockit_stream_ops sx_ops;
void sx_on_close(struct sockit_stream *s, int err, void *ud);

/* The deadline's callback: sets timed_out and stops the loop (DATA is the struct sx). */
void on_deadline(struct sockit_loop *loop, struct sockit_timer *t, void *data);

/* A connected pair and a stream on fd[0] with LIMITS (NULL: defaults), on LOOP; the deadline
 * runs. */
void sx_open_on(struct sx *x, struct sockit_loop *loop, enum transport tr, int bufs,
                const struct sockit_stream_limits *limits);

/* The same on a new loop of the variant under test. */
static inline void sx_open(struct sx *x, enum transport tr, int bufs,
                           const struct sockit_stream_limits *limits)
{
    sx_open_on(x, new_loop(), tr, bufs, limits);
}

/* Run the loop until it stops (the deadline started if it is not running): the test fails if
 * the deadline stopped it; WAITING_FOR says what for. */
void sx_run(struct sx *x, const char *waiting_for);

/* Run the loop for about MS milliseconds (the deadline stays out of it). */
void run_briefly(struct sx *x, int ms);

/* What a context holds besides its loop: the peer's fd and the byte records. */
void sx_free(struct sx *x);

/* The loop (which closes the stream if the test left it open), then sx_free. */
void sx_close(struct sx *x);

/* ---------------------------------------------------------------- the peer */

/* The peer sends LEN bytes of DATA (then shuts down its side if SHUT). */
void peer_send(struct sx *x, const void *data, size_t len, bool shut);

/* The peer reads everything into X->pin from now on, to the end of stream. */
void peer_read(struct sx *x);

/* Read what FD has now into X->pin; returns whether anything came. */
bool peer_drain(struct sx *x, int fd);

/* ---------------------------------------------------------------- hooks shared by tests */

void close_stream(struct sx *x);
void close_stream_after_flush(struct sx *x);

#endif
