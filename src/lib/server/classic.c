/* The classic models (sockit/classic.h): checking the call and filling in defaults, accepting
 * under the cap with the fd-exhaustion shed, the datagram worker every model runs, and the
 * iterative model, the article's server. Fork and thread are classic_fork.c and
 * classic_thread.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "classic_internal.h"

#define DEFAULT_MAX_CLIENTS 1024
#define DEFAULT_WORKERS     2
#define DEFAULT_DGRAM_BUF   (256 * 1024) /* over any UDP payload */
#define DEFAULT_STACK       (256 * 1024)

bool sockit__classic_accepting(const struct sockit__classic *cs)
{
    return !cs->o.max_served || cs->accepted < cs->o.max_served;
}

static void report(const struct sockit__classic *cs, int err, const struct sockit_addr *peer)
{
    if (cs->h->on_reject)
        cs->h->on_reject(err, peer, cs->ud);
}

int sockit__classic_accept(struct sockit__classic *cs, struct sockit_addr *peer)
{
    int fd = sockit_socket_accept(cs->fd, &cs->o.sockopts, peer);

    if (fd >= 0)
        return fd;
    if (fd == -EAGAIN) /* the client left between poll and accept */
        return -1;
    if ((fd == -EMFILE || fd == -ENFILE) &&
        sockit_socket_shed(cs->fd, &cs->spare, cs->o.sockopts.trace) == 0)
        cs->shed++;
    report(cs, fd, NULL);
    return -1;
}

void sockit__classic_reject(struct sockit__classic *cs, int fd, int err,
                            const struct sockit_addr *peer)
{
    if (fd >= 0)
        sockit_socket_close(fd, cs->o.sockopts.trace);
    cs->rejected++;
    report(cs, err, peer);
}

static bool served_enough(const struct sockit__classic *cs)
{
    return cs->o.max_served && atomic_load(&cs->shared->served) >= cs->o.max_served;
}

int sockit__classic_dgram_worker(struct sockit__classic *cs, int stop_fd)
{
    void *buf = malloc(cs->o.dgram_buf);
    int err = buf ? 0 : -ENOMEM;

    while (!err && !served_enough(cs)) {
        int w = sockit_wait(cs->fd, POLLIN, stop_fd, -1);
        if (w == -ECANCELED)
            break;
        int r = w < 0 ? w : cs->h->dgram(cs->fd, buf, cs->o.dgram_buf, cs->ud);
        if (r > 0)
            atomic_fetch_add(&cs->shared->served, (unsigned long)r);
        else if (r < 0 && r != -EAGAIN)
            err = r;
    }
    free(buf);
    if (err) {
        int none = 0;
        atomic_compare_exchange_strong(&cs->shared->err, &none, err); /* the first one */
    }
    return err;
}

/* One client at a time: wait for one (or the stop), serve it to its end, take the next. */
static int run_iterative(struct sockit__classic *cs)
{
    if (!cs->stream)
        return sockit__classic_dgram_worker(cs, cs->stop_fd);
    while (sockit__classic_accepting(cs)) {
        struct sockit_classic_client c = { .stop_fd = cs->stop_fd };
        int w = sockit_wait(cs->fd, POLLIN, cs->stop_fd, -1);
        if (w == -ECANCELED)
            break;
        if (w < 0)
            return w;
        c.fd = sockit__classic_accept(cs, &c.peer);
        if (c.fd < 0)
            continue;
        cs->accepted++;
        cs->h->session(&c, cs->ud);
    }
    return 0;
}

/* -EINVAL unless FD is a non-blocking socket and the model and the handler fit it; sets
 * *STREAM. */
static int check(int fd, const struct sockit_classic_options *o,
                 const struct sockit_classic_handler *h, bool *stream)
{
    int flags = fcntl(fd, F_GETFL), type;
    socklen_t len = sizeof(type);

    if (flags < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return errno == ENOTSOCK ? -EINVAL : -errno;
    *stream = type != SOCK_DGRAM;
    if (!(flags & O_NONBLOCK) || !o || !h || (unsigned)o->model > SOCKIT_CLASSIC_THREAD)
        return -EINVAL;
    return (*stream ? h->session != NULL : h->dgram != NULL) ? 0 : -EINVAL;
}

static struct sockit_classic_options with_defaults(const struct sockit_classic_options *o)
{
    struct sockit_classic_options d = *o;

    d.max_clients = d.max_clients ? d.max_clients : DEFAULT_MAX_CLIENTS;
    d.workers = d.workers ? d.workers : DEFAULT_WORKERS;
    d.dgram_buf = d.dgram_buf ? d.dgram_buf : DEFAULT_DGRAM_BUF;
    d.stack_size = d.stack_size ? d.stack_size : DEFAULT_STACK;
    return d;
}

static int run_model(struct sockit__classic *cs)
{
    switch (cs->o.model) {
    case SOCKIT_CLASSIC_ITERATIVE: return run_iterative(cs);
    case SOCKIT_CLASSIC_FORK: return sockit__classic_run_fork(cs);
    case SOCKIT_CLASSIC_THREAD: return sockit__classic_run_thread(cs);
    }
    return -EINVAL;
}

static void give_stats(const struct sockit__classic *cs, struct sockit_classic_stats *stats)
{
    if (!stats)
        return;
    *stats = (struct sockit_classic_stats){ .accepted = cs->accepted,
                                            .rejected = cs->rejected,
                                            .shed = cs->shed,
                                            .served = atomic_load(&cs->shared->served) };
}

int sockit_classic_run(int fd, int stop_fd, const struct sockit_classic_options *o,
                       const struct sockit_classic_handler *h, void *ud,
                       struct sockit_classic_stats *stats)
{
    struct sockit__classic cs = { .fd = fd, .stop_fd = stop_fd, .h = h, .ud = ud, .spare = -1 };
    int err = check(fd, o, h, &cs.stream);

    if (err)
        return err;
    cs.o = with_defaults(o);
    cs.shared =
        mmap(NULL, sizeof(*cs.shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (cs.shared == MAP_FAILED)
        return -errno;
    atomic_init(&cs.shared->served, 0);
    atomic_init(&cs.shared->err, 0);
    if (cs.stream)
        cs.spare = open("/dev/null", O_RDONLY | O_CLOEXEC); /* -1: no shedding, still served */
    err = run_model(&cs);
    if (err == 0)
        err = atomic_load(&cs.shared->err);
    give_stats(&cs, stats);
    if (cs.spare >= 0)
        close(cs.spare);
    munmap(cs.shared, sizeof(*cs.shared));
    return err;
}
