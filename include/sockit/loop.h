/* sockit/loop.h — the event loop: fds, timers, signals, deferred calls, and streams.
 *
 * One loop per thread. A loop and everything on it are used only from the thread that runs
 * it; the one exception is sockit_loop_stop, which any thread may call. Backends sit behind
 * one function table and are chosen at run time: io_uring (completion-based), epoll
 * (edge-triggered for streams) or poll (the portable baseline). The same API and the same
 * tests cover all of them.
 *
 * Ownership: a watched fd stays the caller's (the loop never closes it; unwatch it before
 * closing). A stream or listener takes its fd and closes it itself. Timers, defer records
 * and callback data are the caller's memory and must outlive their registration. */
#ifndef SOCKIT_LOOP_H
#define SOCKIT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"
#include "sockit/trace.h"

struct sockit_loop;

enum sockit_backend {
    SOCKIT_BACKEND_AUTO = 0, /* the best the kernel allows: uring, else epoll, else poll */
    SOCKIT_BACKEND_URING,
    SOCKIT_BACKEND_EPOLL,
    SOCKIT_BACKEND_POLL,
};

/* How io_uring lays out its pool of receive buffers (the kernel picks a free one per read). */
enum sockit_uring_buffers {
    SOCKIT_URING_BUFFERS_AUTO = 0, /* incremental where the kernel has it (6.12+), else classic */
    SOCKIT_URING_BUFFERS_INCREMENTAL, /* 64 KiB buffers shared by many reads; -EINVAL if absent */
    SOCKIT_URING_BUFFERS_CLASSIC,     /* 4 KiB buffers, one per read (what older kernels do) */
};

/* How datagrams (sockit/dgram.h) move on io_uring. Measured on this project's UDP echo
 * (docs/benchmarks.md, 2026-12-07): the native requests make 3-5x fewer system calls but cost
 * 10-15 % more CPU per datagram than recvmmsg/sendmmsg batches driven by an io_uring poll. */
enum sockit_uring_datagrams {
    SOCKIT_URING_DATAGRAMS_AUTO = 0, /* BATCHED, the cheaper in CPU */
    SOCKIT_URING_DATAGRAMS_BATCHED,  /* recvmmsg / sendmmsg when the socket is ready */
    SOCKIT_URING_DATAGRAMS_NATIVE,   /* multishot recvmsg into provided buffers, send requests */
};

/* Settings of one loop. Zero (or NULL for the whole struct) means the default given. */
struct sockit_loop_options {
    enum sockit_backend backend;                 /* AUTO: uring, else epoll, else poll */
    enum sockit_uring_buffers uring_buffers;     /* AUTO */
    enum sockit_uring_datagrams uring_datagrams; /* AUTO */
    size_t uring_pool; /* bytes of io_uring receive buffers per loop: 4 MiB (64 KiB to 1 GiB) */
    /* Most bytes one read may take before the stream's flow control is asked again: one recv
     * on epoll/poll, one multishot receive on io_uring. 256 KiB (4 KiB to 16 MiB). It is also
     * what a stream that stops reading may still hold unread (docs/design.md). */
    size_t read_chunk;
    /* Report each system call and io_uring request the loop makes for streams and listeners
     * (sockit/trace.h): "accept4(3) = 5", "recv(5, 262144) = 64", "io_uring: recv multishot
     * fd 5 -> 64 B". Borrowed: it must outlive the loop. NULL: no tracing, at the cost of one
     * predictable branch per call. */
    const struct sockit_trace *trace;
};

/* Create a loop with OPTS (NULL: all defaults). AUTO falls back down the chain when the
 * kernel refuses a backend (see sockit_loop_fallback); an explicit backend that cannot start
 * is an error. Returns 0, -EINVAL for an option out of range, or -errno; free the loop with
 * sockit_loop_free. */
int sockit_loop_new(struct sockit_loop **out, const struct sockit_loop_options *opts);

/* Parse "auto", "incremental" or "classic". Returns 0 or -EINVAL. */
int sockit_uring_buffers_parse(const char *name, enum sockit_uring_buffers *out);

/* Parse "auto", "batched" or "native". Returns 0 or -EINVAL. */
int sockit_uring_datagrams_parse(const char *name, enum sockit_uring_datagrams *out);

/* Free the loop. Streams and dgrams still open are closed and their on_close runs (err
 * -ECANCELED), so their callback data can be freed there; listeners are closed; watched fds, timers
 * and data stay the caller's. NULL is a no-op. */
void sockit_loop_free(struct sockit_loop *loop);

/* "uring", "epoll" or "poll". */
const char *sockit_loop_backend_name(const struct sockit_loop *loop);

/* When AUTO fell back, the -errno with which the better backend was refused (e.g. -EPERM when
 * io_uring is disabled), and its name in *REFUSED; else 0. For a one-line notice. */
int sockit_loop_fallback(const struct sockit_loop *loop, const char **refused);

/* Parse "uring", "epoll", "poll" or "auto". Returns 0 or -EINVAL. */
int sockit_backend_parse(const char *name, enum sockit_backend *out);

/* The name sockit_backend_parse accepts for B. */
const char *sockit_backend_name(enum sockit_backend b);

/* Run until sockit_loop_stop, or until nothing is left to wait for (no fd, stream, listener,
 * timer or deferred call). Returns 0, or -errno if waiting failed. */
int sockit_loop_run(struct sockit_loop *loop);

/* Make sockit_loop_run return after the current round. Safe from any thread. */
void sockit_loop_stop(struct sockit_loop *loop);

/* The loop's clock: CLOCK_MONOTONIC in nanoseconds, read once per round. */
uint64_t sockit_loop_now(const struct sockit_loop *loop);

/* Where the loop keeps that clock, for a per-message path that reads it without a call
 * (valid as long as the loop; read it only on the loop's thread). */
const uint64_t *sockit_loop_clock(const struct sockit_loop *loop);

/* ---- fd readiness ---------------------------------------------------------------------- */

enum sockit_loop_event {
    SOCKIT_EV_READ = 1u << 0,  /* readable, or a listener has a connection pending */
    SOCKIT_EV_WRITE = 1u << 1, /* writable */
    SOCKIT_EV_ERROR = 1u << 2, /* error or hang-up (reported without being asked for, unless
                                  the fd is silenced with events 0) */
};

/* Called, level-triggered, with the events ready on FD and the DATA given to watch. The
 * callback may watch, unwatch (even its own fd) and stop the loop. */
typedef void sockit_loop_fn(struct sockit_loop *loop, int fd, unsigned events, void *data);

/* Start watching FD for EVENTS (SOCKIT_EV_READ | SOCKIT_EV_WRITE), or change the events and
 * callback of an fd already watched. EVENTS 0 keeps the fd registered but silent: no callback
 * at all, not even SOCKIT_EV_ERROR, until it is watched for events again. Returns 0 or
 * -errno: -EBADF for a closed fd, -EPERM for a regular file or directory (always ready) on
 * every backend, and whatever else the backend refuses (epoll also refuses some devices). */
int sockit_loop_watch(struct sockit_loop *loop, int fd, unsigned events, sockit_loop_fn *fn,
                      void *data);

/* Stop watching FD. Pending events for it in the current round are dropped. Returns 0 or
 * -errno (-ENOENT if FD was not watched). */
int sockit_loop_unwatch(struct sockit_loop *loop, int fd);

/* ---- timers ------------------------------------------------------------------------------ */

struct sockit_timer;
typedef void sockit_timer_fn(struct sockit_loop *loop, struct sockit_timer *timer, void *data);

/* A timer is caller memory; its fields are private; sockit_timer_init before use. Many thousands
 * are cheap (a binary heap: O(log n) start/stop). Timers due at the same time fire in the order
 * they were started. */
struct sockit_timer {
    sockit_timer_fn *fn;
    void *data;
    uint64_t due;    /* loop clock, ns */
    uint64_t repeat; /* ns; 0 = one-shot */
    uint64_t seq;    /* start order, for ties */
    size_t slot;     /* heap index + 1; 0 = not running */
};

void sockit_timer_init(struct sockit_timer *t, sockit_timer_fn *fn, void *data);

/* (Re)start T to fire AFTER_NS from now, then every REPEAT_NS (0: once). Returns 0 or
 * -ENOMEM. Starting a running timer moves it. */
int sockit_timer_start(struct sockit_loop *loop, struct sockit_timer *t, uint64_t after_ns,
                       uint64_t repeat_ns);

/* Stop T if it runs (a no-op otherwise). Safe from T's own callback. */
void sockit_timer_stop(struct sockit_loop *loop, struct sockit_timer *t);

bool sockit_timer_active(const struct sockit_timer *t);

/* ---- signals ----------------------------------------------------------------------------- */

typedef void sockit_signal_fn(struct sockit_loop *loop, int signo, void *data);

/* Deliver SIGNO as an event: the signal is blocked for the calling thread (threads created
 * afterwards inherit the mask) and read from a signalfd, so nothing runs in a signal handler.
 * One handler per signal per loop; FN NULL removes it. Returns 0 or -errno. */
int sockit_loop_signal(struct sockit_loop *loop, int signo, sockit_signal_fn *fn, void *data);

/* ---- deferred calls ---------------------------------------------------------------------- */

struct sockit_defer;
typedef void sockit_defer_fn(struct sockit_loop *loop, void *data);

/* Caller memory; fields private. Zero it before its first use (= { 0 }); after that the loop
 * keeps it consistent. */
struct sockit_defer {
    sockit_defer_fn *fn;
    void *data;
    struct sockit_defer *next;
    bool queued;
};

/* Call FN(DATA) once, after the callbacks of the current round (e.g. to free an object that
 * callbacks further down this round may still name). Queuing a queued record is a no-op. */
void sockit_loop_defer(struct sockit_loop *loop, struct sockit_defer *d, sockit_defer_fn *fn,
                       void *data);

/* ---- streams ----------------------------------------------------------------------------- */

/* A connected stream socket driven by the loop: the loop reads and hands over the bytes, the
 * caller writes and the loop sends, queueing what the socket does not take. Output above the
 * high watermark pauses reading (backpressure) until it falls to the low watermark; the caller
 * may also stop and restart reading itself (sockit_stream_read_stop). Output is queued as a
 * list of pieces: copied bytes, references to shared buffers and ranges of shared files
 * (sockit/shared.h), sent in order, many pieces per system call or io_uring request. */
struct sockit_stream;
struct sockit_shared;
struct iovec;

struct sockit_stream_ops {
    /* Bytes arrived. DATA is valid only during the call. LEN 0: the peer ended its side
     * (half-close); the stream stays open for writing. Not called while reading is stopped
     * or paused: bytes the kernel had already handed over wait in the stream (at most one
     * read's worth, sockit_loop_options.read_chunk) and come first when reading resumes. */
    void (*on_data)(struct sockit_stream *s, const void *data, size_t len, void *ud);
    /* Output fell to the low watermark after passing the high one (sockit_stream_full is
     * false again). Not called when the stream closes once flushed instead
     * (sockit_stream_close_after_flush). May be NULL. */
    void (*on_drain)(struct sockit_stream *s, void *ud);
    /* The stream is gone: closed by sockit_stream_close (ERR 0) or by an error (-errno; for
     * sockit_stream_connect also a failed or timed-out connect). Called once, from a deferred
     * call; the stream pointer is dead after it returns. */
    void (*on_close)(struct sockit_stream *s, int err, void *ud);
    /* sockit_stream_connect only: the connection is up. May be NULL. */
    void (*on_connect)(struct sockit_stream *s, void *ud);
};

struct sockit_stream_limits {
    size_t low_water;  /* resume reading at or below this much pending output */
    size_t high_water; /* pause reading above this much pending output; 0: the defaults,
                          16 KiB / 64 KiB (low_water 0 then also means 16 KiB) */
    /* Hard bound on output held in memory (copied bytes and shared-buffer bytes; file ranges
     * take no memory and do not count): a write that would pass it fails with -ENOBUFS and
     * queues nothing, so one peer that never reads cannot take the server's memory. Each
     * queued piece (a write, a shared or a file range) also costs bookkeeping, so at most one
     * piece per 64 bytes of the bound (at least 64 pieces) waits; a write past that fails the
     * same way. 0: the default, 8 MiB. */
    size_t max_output;
};

/* Drive connected socket FD (the stream takes ownership and makes it non-blocking). LIMITS
 * may be NULL (defaults 16 KiB / 64 KiB / 8 MiB). Returns 0 and the stream in *OUT, -EINVAL
 * for limits out of order, or -errno (FD is closed then). */
int sockit_stream_open(struct sockit_loop *loop, int fd, const struct sockit_stream_ops *ops,
                       void *ud, const struct sockit_stream_limits *limits,
                       struct sockit_stream **out);

/* Connect to TO (a stream address: TCP or unix) without blocking the loop: a connect request on
 * io_uring, a non-blocking connect() and a wait for writability elsewhere. The stream exists
 * at once and may be written to (output waits for the connection); OPS->on_connect runs when
 * the connection is up, OPS->on_close with -errno when it fails (-ECONNREFUSED, ...) or when
 * TIMEOUT_MS passes first (-ETIMEDOUT; 0: no limit). Returns 0 and the stream in *OUT, or
 * -errno when no socket could be made (no callback then). */
int sockit_stream_connect(struct sockit_loop *loop, const struct sockit_addr *to,
                          unsigned timeout_ms, const struct sockit_stream_ops *ops, void *ud,
                          const struct sockit_stream_limits *limits, struct sockit_stream **out);

/* Queue LEN bytes for sending (sent at once when the socket takes them). Returns 0, -EPIPE
 * when the stream is closing, -ENOBUFS past max_output (nothing queued; the stream stays
 * open). Never blocks; DATA is the caller's again on return (what the kernel did not take at
 * once is copied). */
int sockit_stream_write(struct sockit_stream *s, const void *data, size_t len);

/* Queue the N buffers of IOV in order, as one write: on epoll and poll one sendmsg() when
 * nothing is queued before them, and nothing is copied when the kernel takes it all; only the
 * remainder is copied. On io_uring the bytes are gathered into one send request (a copy: the
 * caller's memory is free again on return; shared buffers are the zero-copy way there).
 * N at most 1024. Errors as sockit_stream_write, plus -EINVAL for N. */
int sockit_stream_writev(struct sockit_stream *s, const struct iovec *iov, int n);

/* Queue bytes [OFF, OFF+LEN) of shared buffer SH without copying them: the stream takes its
 * own reference and drops it once they are sent (or the stream closes). Errors as
 * sockit_stream_write, plus -EINVAL for a range outside SH or a file. */
int sockit_stream_write_shared(struct sockit_stream *s, struct sockit_shared *sh, size_t off,
                               size_t len);

/* Queue bytes [OFF, OFF+LEN) of shared file FILE (sockit_shared_file): sent with sendfile()
 * from the page cache, never read into user space, in order with the other output. The
 * stream holds a reference until the range is sent. If the file shrinks under it, the stream
 * fails with -EIO rather than send short. Errors as sockit_stream_write_shared. */
int sockit_stream_send_file(struct sockit_stream *s, struct sockit_shared *file, uint64_t off,
                            uint64_t len);

/* Stop reading: no on_data until sockit_stream_read_start (a protocol that must not read
 * ahead, or a proxy whose other side is slow). Idempotent; watermark pauses are separate and
 * both must be lifted for reading to go on. */
void sockit_stream_read_stop(struct sockit_stream *s);

/* Read again after sockit_stream_read_stop; bytes held meanwhile are delivered first, from
 * a deferred call. Idempotent. */
void sockit_stream_read_start(struct sockit_stream *s);

/* Bytes queued (copied, shared or file ranges) and not yet taken by the kernel. */
size_t sockit_stream_pending(const struct sockit_stream *s);

/* True from the write that took pending output above the high watermark until it falls to
 * the low one, when on_drain runs: a producer feeding S (another stream's reads, a file)
 * holds back while it is true and goes on at on_drain. */
bool sockit_stream_full(const struct sockit_stream *s);

/* Whether a full stream stops reading its own input (true, the default: an echo must not read
 * what it cannot answer). A caller that holds back another producer instead turns it off (a
 * relay: the other side stops being read; this side's own input keeps flowing the other way,
 * so neither direction can wait on the other); sockit_stream_full and on_drain work either
 * way. Loop thread; any time before on_close. */
void sockit_stream_set_backpressure(struct sockit_stream *s, bool pause_reading);

/* Hand S to new callbacks: every later event goes to OPS with UD (a stream opened, connected
 * or accepted by one part of a program and then given to another, such as a relay). OPS must
 * outlive S. Loop thread; any time before on_close. */
void sockit_stream_set_ops(struct sockit_stream *s, const struct sockit_stream_ops *ops, void *ud);

/* Half-close (shutdown SHUT_WR) once the pending output is sent. */
void sockit_stream_shutdown(struct sockit_stream *s);

/* Close now; unsent output is dropped. on_close follows from a deferred call. Idempotent. */
void sockit_stream_close(struct sockit_stream *s);

/* Close once the pending output is sent (or fails). */
void sockit_stream_close_after_flush(struct sockit_stream *s);

int sockit_stream_fd(const struct sockit_stream *s);

/* ---- listeners --------------------------------------------------------------------------- */

struct sockit_listener;

/* A new connection: FD (non-blocking, close-on-exec) is the callee's. */
typedef void sockit_accept_fn(struct sockit_listener *l, int fd, const struct sockit_addr *peer,
                              void *ud);

/* Accept connections on listening socket LFD (the listener takes ownership). Out of fds
 * (EMFILE), it closes the waiting client at once rather than spin, and reports -EMFILE
 * through ON_ERROR (may be NULL). Returns 0 or -errno. */
int sockit_listener_open(struct sockit_loop *loop, int lfd, sockit_accept_fn *on_accept,
                         void (*on_error)(struct sockit_listener *l, int err, void *ud), void *ud,
                         struct sockit_listener **out);

/* Stop / restart accepting (e.g. at a connection limit); pending clients wait in the backlog. */
void sockit_listener_pause(struct sockit_listener *l);
void sockit_listener_resume(struct sockit_listener *l);

/* Close the listening socket and free the listener. */
void sockit_listener_close(struct sockit_listener *l);

#ifdef __cplusplus
}
#endif

#endif
