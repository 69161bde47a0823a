/* The event loop's core: backend choice and fallback, the fd table, the run loop, deferred
 * calls, signals and cross-thread stop. Waiting itself is the backend's (backend_*.c). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop_internal.h"
#include "sockit/clock.h"

/* The backends' name for the one clock (sockit/clock.h). */
uint64_t sockit__clock_ns(void)
{
    return sockit_clock_ns();
}

/* ---- fd table ------------------------------------------------------------------------- */

static int grow_slots(struct sockit_loop *loop, int fd)
{
    size_t n = loop->nslots ? loop->nslots : 64;
    struct sockit__fdslot *s;

    while (n <= (size_t)fd)
        n *= 2;
    s = realloc(loop->slots, n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s + loop->nslots, 0, (n - loop->nslots) * sizeof(*s));
    loop->slots = s;
    loop->nslots = n;
    return 0;
}

int sockit__slot_claim(struct sockit_loop *loop, int fd, enum sockit__fd_kind kind, void *data,
                       sockit_loop_fn *fn)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= loop->nslots && grow_slots(loop, fd) < 0)
        return -ENOMEM;
    struct sockit__fdslot *slot = &loop->slots[fd];
    if (slot->kind != FD_FREE)
        return -EEXIST;
    if (++loop->next_gen == 0) /* 0 never names a registration */
        loop->next_gen = 1;
    *slot = (struct sockit__fdslot){ .kind = kind, .gen = loop->next_gen, .fn = fn, .data = data };
    if (kind == FD_WATCHER || kind == FD_LISTENER) /* streams count themselves (stream.c) */
        loop->refs++;
    return 0;
}

void sockit__slot_release(struct sockit_loop *loop, int fd)
{
    struct sockit__fdslot *slot = sockit__slot(loop, fd);

    if (!slot || slot->kind == FD_FREE)
        return;
    if (slot->registered) {
        slot->mask = 0;
        loop->be->update(loop, fd, slot, slot->kind == FD_STREAM);
    }
    if (slot->kind == FD_WATCHER || slot->kind == FD_LISTENER)
        loop->refs--;
    memset(slot, 0, sizeof(*slot));
}

void sockit__dispatch(struct sockit_loop *loop, int fd, uint32_t gen, unsigned events)
{
    struct sockit__fdslot *slot = sockit__slot(loop, fd);

    if (!slot || slot->gen != gen || slot->kind == FD_FREE)
        return; /* released (and maybe reused) earlier in this round */
    switch (slot->kind) {
    case FD_STREAM: sockit__stream_ready(slot->data, events); break;
    case FD_LISTENER: sockit__listener_ready(slot->data, events); break;
    case FD_WATCHER:
    case FD_INTERNAL:
        if (slot->mask == 0)
            return; /* silenced: not even errors */
        if (events & SOCKIT_EV_ERROR)
            events |= slot->mask & SOCKIT_EV_READ; /* a reader must see the hang-up */
        slot->fn(loop, fd, events & (slot->mask | SOCKIT_EV_ERROR) & ~SOCKIT__EV_RDHUP, slot->data);
        break;
    case FD_FREE: break;
    }
}

/* ---- watchers --------------------------------------------------------------------------- */

/* The same answer from every backend: a closed fd is -EBADF, and a regular file or directory
 * (always "ready", so a watcher would spin) is -EPERM, as epoll says. */
static int check_pollable(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    return (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ? -EPERM : 0;
}

int sockit_loop_watch(struct sockit_loop *loop, int fd, unsigned events, sockit_loop_fn *fn,
                      void *data)
{
    struct sockit__fdslot *slot = sockit__slot(loop, fd);
    int err = 0;

    if (!fn || fd < 0)
        return -EINVAL;
    if ((!slot || slot->kind == FD_FREE) && (err = check_pollable(fd)) < 0)
        return err;
    if (slot && slot->kind != FD_FREE && slot->kind != FD_WATCHER)
        return -EEXIST;
    if (!slot || slot->kind == FD_FREE) {
        if ((err = sockit__slot_claim(loop, fd, FD_WATCHER, data, fn)) < 0)
            return err;
        slot = sockit__slot(loop, fd);
    }
    slot->fn = fn;
    slot->data = data;
    events &= SOCKIT_EV_READ | SOCKIT_EV_WRITE;
    if (events == slot->mask && slot->registered == (events != 0))
        return 0;
    slot->mask = events;
    err = loop->be->update(loop, fd, slot, false);
    if (err < 0 && !slot->registered)
        sockit__slot_release(loop, fd);
    return err;
}

int sockit_loop_unwatch(struct sockit_loop *loop, int fd)
{
    struct sockit__fdslot *slot = sockit__slot(loop, fd);

    if (!slot || slot->kind != FD_WATCHER)
        return -ENOENT;
    sockit__slot_release(loop, fd);
    return 0;
}

/* ---- deferred calls --------------------------------------------------------------------- */

void sockit_loop_defer(struct sockit_loop *loop, struct sockit_defer *d, sockit_defer_fn *fn,
                       void *data)
{
    if (d->queued)
        return;
    d->fn = fn;
    d->data = data;
    d->next = NULL;
    d->queued = true;
    if (loop->defer_tail)
        loop->defer_tail->next = d;
    else
        loop->defer_head = d;
    loop->defer_tail = d;
}

/* Run the calls queued so far; calls they queue wait for the next round. */
static void run_deferred(struct sockit_loop *loop)
{
    struct sockit_defer *d = loop->defer_head, *last = loop->defer_tail;

    if (!d)
        return;
    loop->defer_head = loop->defer_tail = NULL;
    for (;;) {
        struct sockit_defer *next = d->next;
        bool was_last = d == last;
        d->queued = false;
        d->fn(loop, d->data); /* may free d */
        if (was_last)
            break;
        d = next;
    }
}

/* ---- signals and stop ------------------------------------------------------------------- */

static void on_signalfd(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct signalfd_siginfo si;

    (void)events;
    (void)data;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        unsigned signo = si.ssi_signo;
        if (signo < 65 && loop->sig[signo].fn)
            loop->sig[signo].fn(loop, (int)signo, loop->sig[signo].data);
    }
}

int sockit_loop_signal(struct sockit_loop *loop, int signo, sockit_signal_fn *fn, void *data)
{
    sigset_t one;

    if (signo <= 0 || signo >= 65)
        return -EINVAL;
    loop->sig[signo].fn = fn;
    loop->sig[signo].data = data;
    if (!fn)
        return 0;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigaddset(&loop->sigmask, signo);
    if (pthread_sigmask(SIG_BLOCK, &one, NULL) != 0)
        return -EINVAL;
    int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (loop->sigfd < 0) {
        loop->sigfd = fd;
        int err = sockit__slot_claim(loop, fd, FD_INTERNAL, NULL, on_signalfd);
        struct sockit__fdslot *slot = sockit__slot(loop, fd);
        if (!err) {
            slot->mask = SOCKIT_EV_READ;
            err = loop->be->update(loop, fd, slot, false);
        }
        return err;
    }
    return 0;
}

static void on_wake(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    uint64_t n;

    (void)loop;
    (void)events;
    (void)data;
    while (read(fd, &n, sizeof(n)) > 0)
        ;
}

void sockit_loop_stop(struct sockit_loop *loop)
{
    uint64_t one = 1;

    atomic_store(&loop->stop, true);
    if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

uint64_t sockit_loop_now(const struct sockit_loop *loop)
{
    return loop->now;
}

const uint64_t *sockit_loop_clock(const struct sockit_loop *loop)
{
    return &loop->now;
}

/* ---- create, run, free ------------------------------------------------------------------ */

static const struct sockit__backend *backend_of(enum sockit_backend b)
{
    switch (b) {
    case SOCKIT_BACKEND_URING: return &sockit__backend_uring;
    case SOCKIT_BACKEND_EPOLL: return &sockit__backend_epoll;
    case SOCKIT_BACKEND_POLL: return &sockit__backend_poll;
    case SOCKIT_BACKEND_AUTO: break;
    }
    return NULL;
}

static const char *const backend_names[] = { "auto", "uring", "epoll", "poll" };

const char *sockit_backend_name(enum sockit_backend b)
{
    return (unsigned)b < 4 ? backend_names[b] : "?";
}

int sockit_backend_parse(const char *name, enum sockit_backend *out)
{
    const char *const *names = backend_names;

    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum sockit_backend)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* Start a backend; AUTO walks uring -> epoll -> poll and remembers the first refusal. */
static int start_backend(struct sockit_loop *loop, enum sockit_backend want)
{
    enum sockit_backend order[] = { SOCKIT_BACKEND_URING, SOCKIT_BACKEND_EPOLL,
                                    SOCKIT_BACKEND_POLL };
    int err = -EINVAL;

    for (size_t i = 0; i < 3; i++) {
        if (want != SOCKIT_BACKEND_AUTO && order[i] != want)
            continue;
        loop->be = backend_of(order[i]);
        err = loop->be->init(loop);
        if (err == 0)
            return 0;
        if (want == SOCKIT_BACKEND_AUTO && !loop->fallback_err) {
            loop->fallback_err = err;
            loop->fallback_name = loop->be->name;
        }
    }
    loop->be = NULL;
    return err;
}

static int setup_wake(struct sockit_loop *loop)
{
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_fd < 0)
        return -errno;
    int err = sockit__slot_claim(loop, loop->wake_fd, FD_INTERNAL, NULL, on_wake);
    if (err)
        return err;
    struct sockit__fdslot *slot = sockit__slot(loop, loop->wake_fd);
    slot->mask = SOCKIT_EV_READ;
    return loop->be->update(loop, loop->wake_fd, slot, false);
}

/* The index of NAME in NAMES[0, N), or -EINVAL. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -EINVAL;
}

int sockit_uring_buffers_parse(const char *name, enum sockit_uring_buffers *out)
{
    static const char *const names[] = { "auto", "incremental", "classic" };
    int i = name_index(names, 3, name);

    if (i >= 0)
        *out = (enum sockit_uring_buffers)i;
    return i < 0 ? i : 0;
}

int sockit_uring_datagrams_parse(const char *name, enum sockit_uring_datagrams *out)
{
    static const char *const names[] = { "auto", "batched", "native" };
    int i = name_index(names, 3, name);

    if (i >= 0)
        *out = (enum sockit_uring_datagrams)i;
    return i < 0 ? i : 0;
}

/* OPTS with the defaults filled in, or -EINVAL for a value out of range. */
static int resolve_options(const struct sockit_loop_options *opts, struct sockit_loop_options *o)
{
    *o = opts ? *opts : (struct sockit_loop_options){ 0 };
    if (!o->uring_pool)
        o->uring_pool = SOCKIT__URING_POOL;
    if (!o->read_chunk)
        o->read_chunk = SOCKIT__READ_CHUNK;
    if ((unsigned)o->backend > SOCKIT_BACKEND_POLL ||
        (unsigned)o->uring_buffers > SOCKIT_URING_BUFFERS_CLASSIC ||
        (unsigned)o->uring_datagrams > SOCKIT_URING_DATAGRAMS_NATIVE ||
        o->uring_pool < (64u << 10) || o->uring_pool > (1u << 30) || o->read_chunk < (4u << 10) ||
        o->read_chunk > (16u << 20))
        return -EINVAL;
    return 0;
}

int sockit_loop_new(struct sockit_loop **out, const struct sockit_loop_options *opts)
{
    struct sockit_loop *loop = calloc(1, sizeof(*loop));
    int err;

    if (!loop)
        return -ENOMEM;
    loop->sigfd = -1;
    loop->wake_fd = -1;
    sigemptyset(&loop->sigmask);
    loop->now = sockit__clock_ns();
    err = resolve_options(opts, &loop->opts);
    if (!err)
        loop->rbuf = malloc(loop->opts.read_chunk);
    if (!err && !loop->rbuf)
        err = -ENOMEM;
    if (!err)
        err = start_backend(loop, loop->opts.backend);
    if (!err)
        err = setup_wake(loop);
    if (err) {
        sockit_loop_free(loop);
        return err;
    }
    *out = loop;
    return 0;
}

const char *sockit_loop_backend_name(const struct sockit_loop *loop)
{
    return loop->be->name;
}

int sockit_loop_fallback(const struct sockit_loop *loop, const char **refused)
{
    if (refused)
        *refused = loop->fallback_name;
    return loop->fallback_err;
}

void sockit_loop_free(struct sockit_loop *loop)
{
    if (!loop)
        return;
    if (loop->be) {
        sockit__stream_close_all(loop);
        sockit__dgram_close_all(loop);
        if (loop->be->drain)
            loop->be->drain(loop); /* completion backends: wait out what is in flight */
    }
    while (loop->defer_head)
        run_deferred(loop); /* the streams' and dgrams' on_close run here */
    if (loop->be) {
        sockit__listener_free_all(loop);
        if (loop->sigfd >= 0)
            sockit__slot_release(loop, loop->sigfd);
        if (loop->wake_fd >= 0)
            sockit__slot_release(loop, loop->wake_fd);
        loop->be->fini(loop);
    }
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    sockit__timers_free(loop);
    sockit__bufpool_free(&loop->outbufs);
    free(loop->slots);
    free(loop->rbuf);
    free(loop);
}

static bool alive(const struct sockit_loop *loop)
{
    return loop->refs > 0 || loop->nheap > 0 || loop->defer_head;
}

int sockit_loop_run(struct sockit_loop *loop)
{
    int err = 0;

    while (!atomic_load_explicit(&loop->stop, memory_order_relaxed)) {
        loop->now = sockit__clock_ns();
        sockit__timers_run(loop);
        run_deferred(loop);
        if (!alive(loop) || atomic_load_explicit(&loop->stop, memory_order_relaxed))
            break;
        int64_t timeout = loop->defer_head ? 0 : sockit__timers_timeout(loop);
        err = loop->be->wait(loop, timeout);
        if (__builtin_expect(loop->failed != 0, 0))
            err = loop->failed;
        if (err && err != -EINTR)
            break;
        err = 0;
    }
    run_deferred(loop); /* closes requested during the last round complete */
    atomic_store(&loop->stop, false);
    return err;
}
