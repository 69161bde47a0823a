/* sockit/engine.h — the contract every protocol engine keeps (HTTP, WebSocket, game, impair),
 * and the one adapter that joins an engine to a loop stream.
 *
 * An engine is sans-I/O, in picohttpparser's manner: it is handed bytes and says how many it
 * consumed (> 0), that it needs more (0), or that the input is bad (< 0: -errno or a module's
 * -SOCKIT_E* code); it never reads a socket, never blocks and never looks at a clock: time is
 * passed in as NOW (loop clock, nanoseconds). Its output goes to a struct sockit_io, which the
 * adapter points at a stream and a unit test or fuzzer points at a buffer, so an engine is
 * tested and fuzzed without sockets.
 *
 * The adapter (struct sockit_conn) owns the input buffer: bytes go to the engine straight
 * from the stream's read (no copy) and only what the engine leaves unconsumed is kept, up to
 * a hard limit (a request head that never ends is an error, not a memory leak). All on the
 * loop's thread. */
#ifndef SOCKIT_ENGINE_H
#define SOCKIT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/loop.h"

struct sockit_shared;
struct iovec;

/* An engine's view of its connection: where output goes and how it holds input back. Every
 * function returns 0 or -errno (-ENOBUFS: the output limit; -EPIPE: closing). */
struct sockit_io {
    int (*writev)(void *ctx, const struct iovec *iov, int n);
    int (*write_shared)(void *ctx, struct sockit_shared *sh, size_t off, size_t len);
    int (*send_file)(void *ctx, struct sockit_shared *file, uint64_t off, uint64_t len);
    void (*read_pause)(void *ctx, int pause); /* 1: no input until called with 0 */
    /* Close once the output is sent: a lingering close. The write side is shut when the
     * output is out, and what the peer still sends is read and dropped until it closes or
     * SOCKIT_CONN_LINGER_MS pass (closing with unread input would reset the connection and
     * could destroy the last answer on its way). Input is no longer offered to the engine. */
    void (*finish)(void *ctx);
    /* Call the engine's timeout at loop time WHEN (ns, NOW's clock), even if no byte comes;
     * 0 cancels. One per connection: a new deadline replaces the old. */
    void (*deadline)(void *ctx, uint64_t when);
    void *ctx;
};

/* The engine's side. ENG is the engine's own state, given back in every call. */
struct sockit_engine_ops {
    /* Consume from DATA[0, LEN): return bytes consumed (> 0; called again with the rest while
     * bytes remain and input is not paused), 0 for "need more" (the bytes are kept and
     * offered again with what follows), or < 0 to close the connection with that error.
     * The first SEEN bytes are ones this call answered 0 for before (picohttpparser's
     * last_len): a scan for a terminator starts there, so input that trickles in a byte at a
     * time costs linear, not quadratic, work. */
    long (*input)(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                  const struct sockit_io *io);
    /* The peer ended its side (after every byte was offered). Return 0 to stay open for
     * output, < 0 to close now with that error (as from input). May be NULL: close once the
     * output already written is sent. */
    int (*input_end)(void *eng, uint64_t now, const struct sockit_io *io);
    /* The connection is gone (ERR 0, or -errno / -SOCKIT_E*): free ENG here. */
    void (*closed)(void *eng, int err);
    /* The connection is open and the engine's state is in place: called once, before any
     * input, from a deferred call right after the conn opens (so an engine whose state comes
     * after sockit_conn_open, as the server layer's on_open makes it, sees it). May write or
     * set a deadline (a request that never comes); < 0 closes with that error. May be NULL. */
    int (*start)(void *eng, uint64_t now, const struct sockit_io *io);
    /* The deadline the engine set with io->deadline has come (NOW >= it). Write, finish or
     * set a new deadline; return 0, or < 0 to close now with that error. May be NULL for an
     * engine that sets no deadline. */
    int (*timeout)(void *eng, uint64_t now, const struct sockit_io *io);
};

#define SOCKIT_CONN_LINGER_MS 2000 /* a finishing conn drains the peer's input this long */

struct sockit_conn_limits {
    size_t max_input;                   /* unconsumed input kept at most; 0: 64 KiB */
    struct sockit_stream_limits stream; /* output watermarks and bound, as for streams */
};

struct sockit_conn;

/* Join engine OPS/ENG to connected socket FD on LOOP (the conn takes FD; LIMITS may be NULL).
 * More unconsumed input than max_input closes the connection with -EMSGSIZE. Returns 0 and
 * the conn in *OUT, or -errno (FD is closed then, and OPS->closed is not called). */
int sockit_conn_open(struct sockit_loop *loop, int fd, const struct sockit_engine_ops *ops,
                     void *eng, const struct sockit_conn_limits *limits, struct sockit_conn **out);

/* The stream under CONN, for what the engine contract does not cover (fd, pending). */
struct sockit_stream *sockit_conn_stream(struct sockit_conn *c);

/* Close now (unsent output is dropped); OPS->closed follows from a deferred call. */
void sockit_conn_close(struct sockit_conn *c);

#ifdef __cplusplus
}
#endif

#endif
