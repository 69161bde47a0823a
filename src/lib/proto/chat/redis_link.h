/* A Redis connection on a sockit loop: hiredis' async API driven by sockit_loop_watch (the
 * adapter is ours: hiredis ships none for this loop), authenticated and on its database
 * before it is called up, and connected again with back-off (100 ms doubling to 5 s) when it
 * is lost. Loop thread only. */
#ifndef SOCKIT_CHAT_REDIS_LINK_H
#define SOCKIT_CHAT_REDIS_LINK_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stdint.h>

#include "sockit/chat.h"
#include "sockit/loop.h"

struct redis_link {
    struct sockit_loop *loop;
    const struct sockit_chat_redis *where; /* borrowed: the chat's */
    const char *name;                      /* for the log: "publish", "subscribe" */
    redisAsyncContext *ac;                 /* NULL while down */
    int fd;
    unsigned events; /* SOCKIT_EV_* asked by hiredis */
    bool up;         /* connected, authenticated, on its database */
    bool stopping;
    uint64_t backoff_ms;
    struct sockit_timer retry;
    /* Called once up (again after each reconnect), and once when an up link is lost (WHY:
     * hiredis' reason). Either may send commands. */
    void (*on_up)(struct redis_link *l, void *ud);
    void (*on_down)(struct redis_link *l, const char *why, void *ud);
    void *ud;
};

/* Start connecting L (its loop, where, name and callbacks set by the caller). 0 or -ENOMEM. */
int redis_link_start(struct redis_link *l);

/* Send a command (argv form) on an up link; FN (may be NULL) gets the reply. 0, or -ENOTCONN
 * while the link is down. */
int redis_link_command(struct redis_link *l, redisCallbackFn *fn, void *privdata, int argc,
                       const char **argv, const size_t *argvlen);

/* Disconnect and stop retrying; pending callbacks get a NULL reply. */
void redis_link_stop(struct redis_link *l);

#endif
