/* Internal to src/lib/server/classic*.c: one run of a classic model, shared by classic.c (the
 * public call, accepting, the datagram worker, the iterative model), classic_fork.c and
 * classic_thread.c. The public API is in include/sockit/classic.h. */
#ifndef SOCKIT_CLASSIC_INTERNAL_H
#define SOCKIT_CLASSIC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sockit/classic.h"

/* What every worker of a run shares, in a MAP_SHARED page so that the fork model's processes
 * count into it too. */
struct sockit__classic_shared {
    _Atomic unsigned long served; /* datagrams served */
    _Atomic int err;              /* the first datagram worker's error, or 0 */
};

struct sockit__classic {
    int fd;      /* the caller's listening or datagram socket */
    int stop_fd; /* the caller's */
    bool stream;
    struct sockit_classic_options o; /* with the defaults filled in */
    const struct sockit_classic_handler *h;
    void *ud;
    int spare; /* reserve fd, released to shed a waiting client when out of fds; or -1 */
    struct sockit__classic_shared *shared;
    /* Stream clients, counted by the thread that accepts them (the caller's). */
    unsigned long accepted, rejected, shed;
};

/* True while fewer than max_served stream clients have been accepted. */
bool sockit__classic_accepting(const struct sockit__classic *cs);

/* Accept one client: its fd, or -1 when nothing usable came (shedding when out of fds, and
 * reporting accept's errors). */
int sockit__classic_accept(struct sockit__classic *cs, struct sockit_addr *peer);

/* Turn a client away: close FD (if >= 0), count it, report ERR with PEER. */
void sockit__classic_reject(struct sockit__classic *cs, int fd, int err,
                            const struct sockit_addr *peer);

/* Serve datagrams until STOP_FD is readable, max_served datagrams have been served (by all
 * workers together), or the handler fails (recorded as the run's error). Returns 0 or the
 * error. */
int sockit__classic_dgram_worker(struct sockit__classic *cs, int stop_fd);

/* classic_fork.c and classic_thread.c: run the model. 0 or -errno. */
int sockit__classic_run_fork(struct sockit__classic *cs);
int sockit__classic_run_thread(struct sockit__classic *cs);

#endif
