/* Internal to src/lib/loop: the loop's state, the fd table and the backend function table.
 * Backends (backend_*.c) see only this; the public API is in include/sockit/loop.h. */
#ifndef SOCKIT_LOOP_INTERNAL_H
#define SOCKIT_LOOP_INTERNAL_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../core/trace.h"
#include "sockit/buf.h"
#include "sockit/loop.h"
#include "sockit/shared.h"

/* Default bytes per read (sockit_loop_options.read_chunk). Bulk echo measured 1.33x faster
 * with 256 KiB than with 64 KiB (fewer calls and wake-ups per byte); 1 MiB was slower again,
 * as the buffer no longer stays in the CPU's cache (docs/benchmarks.md). */
#define SOCKIT__READ_CHUNK (256 * 1024)
#define SOCKIT__URING_POOL (4u << 20) /* default io_uring receive pool, bytes */
#define SOCKIT__KEEP_BUF   4096       /* the output buffer a copied write starts with */
#define SOCKIT__POOL_MAX   256        /* free output buffers a loop keeps for the next writes */

/* A loop's free output buffers of SOCKIT__KEEP_BUF bytes, linked through their first bytes:
 * a drained stream gives its buffer back here, so an idle stream holds none, and a busy loop
 * takes them back without a malloc per message. */
struct sockit__bufpool {
    void *top;
    unsigned n;
};

/* Internal event bit beside SOCKIT_EV_*: the peer shut down its side (EPOLLRDHUP). A short
 * read then no longer means "drained": the end of stream is still to be read. */
#define SOCKIT__EV_RDHUP (1u << 8)

struct sockit_dgram;

enum sockit__fd_kind { FD_FREE = 0, FD_WATCHER, FD_STREAM, FD_LISTENER, FD_INTERNAL };

/* One entry per fd number. GEN changes with every registration so that a stale event for a
 * closed-and-reused fd number is never delivered to its new owner. */
struct sockit__fdslot {
    enum sockit__fd_kind kind;
    uint32_t gen;
    unsigned mask;      /* SOCKIT_EV_READ|WRITE asked of the backend */
    unsigned armed;     /* io_uring: the mask of the poll request in flight */
    uint8_t arm_seq;    /* io_uring: which poll request is the current one */
    bool registered;    /* known to the backend */
    sockit_loop_fn *fn; /* watchers and internal fds */
    void *data;         /* watcher data, or the stream / listener */
};

struct sockit__backend {
    const char *name;
    bool edge;     /* streams stay registered for read+write, edge-triggered */
    bool complete; /* completion-based: streams and listeners run through the ops below */
    int (*init)(struct sockit_loop *loop);
    void (*fini)(struct sockit_loop *loop);
    /* Make the kernel's interest in FD match SLOT->mask (0: forget FD). EDGE: the fd is read
     * and written until EAGAIN, so it may be registered once for everything. */
    int (*update)(struct sockit_loop *loop, int fd, struct sockit__fdslot *slot, bool edge);
    /* Wait at most TIMEOUT_NS (< 0: no limit) and call sockit__dispatch for what is ready. */
    int (*wait)(struct sockit_loop *loop, int64_t timeout_ns);
    /* Completion backends only: start, pause/resume reading, send, close streams; drain
     * waits (at loop teardown) until no stream has an operation in flight. */
    int (*stream_start)(struct sockit_loop *loop, struct sockit_stream *s);
    void (*stream_read)(struct sockit_loop *loop, struct sockit_stream *s, bool on);
    void (*stream_send)(struct sockit_loop *loop, struct sockit_stream *s);
    void (*stream_close)(struct sockit_loop *loop, struct sockit_stream *s);
    /* Connect S->fd to TO; the result comes back through sockit__stream_connected. */
    void (*stream_connect)(struct sockit_loop *loop, struct sockit_stream *s,
                           const struct sockit_addr *to);
    void (*drain)(struct sockit_loop *loop);
    /* Backends that move datagrams themselves (dgram_internal.h); NULL: dgrams use watchers.
     * dgram_start returns -EOPNOTSUPP when the kernel cannot, and the dgram uses watchers;
     * dgram_read turns receiving on or off, dgram_send hands the queue to the kernel,
     * dgram_close ends it all and calls sockit__dgram_closed once nothing is in flight. */
    int (*dgram_start)(struct sockit_loop *loop, struct sockit_dgram *d);
    void (*dgram_read)(struct sockit_loop *loop, struct sockit_dgram *d, bool on);
    void (*dgram_send)(struct sockit_loop *loop, struct sockit_dgram *d);
    void (*dgram_close)(struct sockit_loop *loop, struct sockit_dgram *d);
};

extern const struct sockit__backend sockit__backend_epoll;
extern const struct sockit__backend sockit__backend_poll;
extern const struct sockit__backend sockit__backend_uring;

struct sockit_loop {
    const struct sockit__backend *be;
    struct sockit_loop_options opts; /* with every default filled in */
    void *be_state;
    struct sockit__fdslot *slots;
    size_t nslots;
    uint32_t next_gen;
    size_t refs; /* watchers, streams and listeners: what keeps run() going */
    uint64_t now;
    atomic_bool stop;
    int wake_fd; /* eventfd: sockit_loop_stop from another thread */
    /* timers: a binary min-heap ordered by (due, seq) */
    struct sockit_timer **heap;
    size_t nheap, capheap;
    uint64_t timer_seq;
    /* deferred calls, FIFO */
    struct sockit_defer *defer_head, *defer_tail;
    /* signals */
    int sigfd;
    sigset_t sigmask;
    struct {
        sockit_signal_fn *fn;
        void *data;
    } sig[65];
    /* streams, listeners and dgrams still open, to close them when the loop is freed (dgrams
     * stay listed until their on_close has run: dgram.c) */
    struct sockit_stream *streams;
    struct sockit_listener *listeners;
    struct sockit_dgram *dgrams;
    char *rbuf;                     /* shared read buffer of the readiness backends */
    struct sockit__bufpool outbufs; /* the streams' free output buffers */
    int fallback_err;
    int failed; /* a backend could not go on (io_uring: a refused submission): run ends */
    const char *fallback_name;
};

/* Pending output: a FIFO of pieces (stream_out.c). COPY owns its bytes; SHARED points into a
 * shared buffer and FILE names a range of a shared file, each holding one reference. */
enum sockit__seg_kind { SEG_COPY, SEG_SHARED, SEG_FILE };

struct sockit__seg {
    struct sockit__seg *next;
    enum sockit__seg_kind kind;
    char *base;    /* COPY: owned storage; SHARED: the buffer's bytes; FILE: NULL */
    size_t head;   /* COPY, SHARED: offset of the next byte to send */
    size_t len;    /* bytes left to send */
    size_t cap;    /* COPY: bytes of storage */
    uint64_t foff; /* FILE: file offset of the next byte */
    struct sockit_shared *sh;
};

struct sockit__outq {
    struct sockit__bufpool *pool; /* the loop's, where drained buffers go */
    struct sockit__seg *head, *tail;
    struct sockit__seg *spare; /* one small COPY piece kept for the next write */
    unsigned nsegs;
    unsigned flight_segs; /* completion backends: the first pieces, handed to the kernel */
    size_t bytes;         /* everything queued, in flight included */
    size_t mem;           /* COPY and SHARED bytes: what max_output bounds */
    size_t flight;        /* bytes of the pieces in flight not yet confirmed sent */
};

struct sockit_stream {
    struct sockit_loop *loop;
    int fd;
    const struct sockit_stream_ops *ops;
    void *ud;
    struct sockit__outq out; /* output not yet taken by the kernel */
    size_t low, high, max_out;
    bool can_read, can_write; /* readiness seen and not yet used up (EAGAIN) */
    bool paused;              /* output above the high watermark: not reading */
    bool full;                /* output passed the high watermark; on_drain at the low one */
    bool keep_reading;        /* sockit_stream_set_backpressure(false): full does not pause */
    bool stopped;             /* the caller stopped reading */
    bool read_eof;            /* the peer ended its side, and we read the end */
    bool held_eof;            /* ... while not reading: on_data(0) is still to come */
    bool peer_shut;           /* the peer's end is known to be coming (RDHUP) */
    bool connecting;          /* sockit_stream_connect: not connected yet */
    bool shut_pending, shut_done;
    bool closing, close_after_flush;
    int close_err;
    struct sockit_buf held; /* received while not reading (completion backends) */
    struct sockit_timer connect_timer;
    struct sockit_defer close_defer, pump_defer, held_defer;
    struct sockit_stream *prev, *next;
    void *be_data; /* completion backends */
};

struct sockit_listener {
    struct sockit_loop *loop;
    int fd;
    int spare; /* reserve fd released to shed a connection on EMFILE */
    bool paused;
    sockit_accept_fn *on_accept;
    void (*on_error)(struct sockit_listener *l, int err, void *ud);
    void *ud;
    struct sockit_defer free_defer;
    struct sockit_listener *prev, *next;
};

/* Trace lines (sockit_loop_options.trace): formatted only when a hook is set. */
#define SOCKIT__TRACE(loop, ...)                                                                   \
    do {                                                                                           \
        if (__builtin_expect((loop)->opts.trace != NULL, 0))                                       \
            sockit__trace((loop)->opts.trace, __VA_ARGS__);                                        \
    } while (0)
/* A system call's line: RET is what the call returned (-1: errno says why; kept intact). */
#define SOCKIT__TRACE_CALL(loop, ret, ...)                                                         \
    do {                                                                                           \
        if (__builtin_expect((loop)->opts.trace != NULL, 0))                                       \
            sockit__trace_syscall((loop)->opts.trace, (long)(ret), __VA_ARGS__);                   \
    } while (0)

/* fd table. The slot of FD, or NULL past the table's end. */
static inline struct sockit__fdslot *sockit__slot(struct sockit_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nslots)
        return NULL;
    return &loop->slots[fd];
}

int sockit__slot_claim(struct sockit_loop *loop, int fd, enum sockit__fd_kind kind, void *data,
                       sockit_loop_fn *fn);
void sockit__slot_release(struct sockit_loop *loop, int fd);

/* Called by readiness backends for each ready fd (GEN as registered). */
void sockit__dispatch(struct sockit_loop *loop, int fd, uint32_t gen, unsigned events);

/* Timers (timer.c). */
int64_t sockit__timers_timeout(const struct sockit_loop *loop); /* ns until the next, or -1 */
void sockit__timers_run(struct sockit_loop *loop);
void sockit__timers_free(struct sockit_loop *loop);

/* Streams and listeners on readiness backends (stream.c, listener.c). */
void sockit__stream_ready(struct sockit_stream *s, unsigned events);
void sockit__listener_ready(struct sockit_listener *l, unsigned events);
void sockit__stream_close_all(struct sockit_loop *loop);
void sockit__listener_free_all(struct sockit_loop *loop);
void sockit__dgram_close_all(struct sockit_loop *loop); /* dgram.c */

/* For completion backends: bytes arrived / a send finished / an error. */
void sockit__stream_data(struct sockit_stream *s, const void *data, size_t len);
void sockit__stream_sent(struct sockit_stream *s);   /* in_flight shrank: watermarks etc. */
void sockit__stream_closed(struct sockit_stream *s); /* no operation left: close, then free */
void sockit__stream_fail(struct sockit_stream *s, int err);
void sockit__stream_connected(struct sockit_stream *s, int err); /* 0 or -errno */

/* Output queue (stream_out.c). */
/* Copy the N buffers of IOV (TOTAL bytes) but their first SKIP bytes. */
int sockit__out_copy(struct sockit__outq *q, const struct iovec *iov, int n, size_t skip,
                     size_t total);
int sockit__out_append_slow(struct sockit__outq *q, const void *data, size_t len);
void sockit__out_consume_slow(struct sockit__outq *q, size_t n);
int sockit__out_ref(struct sockit__outq *q, enum sockit__seg_kind kind, struct sockit_shared *sh,
                    uint64_t off, size_t len);

int sockit__out_gather(const struct sockit__outq *q, struct iovec *iov, int max, size_t *bytes);
void sockit__out_free(struct sockit__outq *q);
/* Free the buffers left in a loop's pool (when the loop goes). */
void sockit__bufpool_free(struct sockit__bufpool *p);
/* With nothing queued, give the drained piece's storage back to the loop's pool. */
void sockit__out_trim(struct sockit__outq *q);
/* Send from the file piece at the head: > 0 bytes sent, or -errno (-EAGAIN: socket full). */
ssize_t sockit__out_sendfile(struct sockit_loop *loop, struct sockit__outq *q, int fd);

uint64_t sockit__clock_ns(void);

/* The per-message paths of the output queue, inline: a copy into the tail piece when it has
 * room, and the sending of (part of) the only piece. Everything else is in stream_out.c. */
static inline int sockit__out_append(struct sockit__outq *q, const void *data, size_t len)
{
    struct sockit__seg *g = q->tail;

    if (!g || g->kind != SEG_COPY || q->flight_segs == q->nsegs || g->head + g->len + len > g->cap)
        return sockit__out_append_slow(q, data, len);
    memcpy(g->base + g->head + g->len, data, len);
    g->len += len;
    q->bytes += len;
    q->mem += len;
    return 0;
}

static inline void sockit__out_consume(struct sockit__outq *q, size_t n)
{
    struct sockit__seg *g = q->head;

    if (g != q->tail || g->kind != SEG_COPY || n > g->len) {
        sockit__out_consume_slow(q, n);
        return;
    }
    q->bytes -= n;
    q->mem -= n;
    q->flight -= n < q->flight ? n : q->flight;
    g->len -= n;
    g->head += n;
    if (g->len == 0) { /* drained: stays in place for the next write */
        g->head = 0;
        q->flight_segs = 0;
    }
}

#endif
