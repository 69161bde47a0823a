/* A Redis connection on a sockit loop (redis_link.h): our adapter between hiredis' async API
 * and sockit_loop_watch, the AUTH and SELECT a link makes before it is up, and reconnection
 * with back-off. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "redis_link.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* ---- the adapter: hiredis asks for read/write interest, the loop calls back ---------------- */

static void on_ready(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    struct redis_link *l = data;

    (void)loop, (void)fd;
    /* a read that ends the connection frees the context (cleanup sets l->ac to NULL) */
    if (l->ac && (events & (SOCKIT_EV_READ | SOCKIT_EV_ERROR)))
        redisAsyncHandleRead(l->ac);
    if (l->ac && (events & SOCKIT_EV_WRITE))
        redisAsyncHandleWrite(l->ac);
}

static void want(struct redis_link *l, unsigned add, unsigned del)
{
    unsigned events = (l->events | add) & ~del;

    if (events == l->events || l->fd < 0)
        return;
    l->events = events;
    sockit_loop_watch(l->loop, l->fd, events, on_ready, l);
}

static void add_read(void *p)
{
    want(p, SOCKIT_EV_READ, 0);
}

static void del_read(void *p)
{
    want(p, 0, SOCKIT_EV_READ);
}

static void add_write(void *p)
{
    want(p, SOCKIT_EV_WRITE, 0);
}

static void del_write(void *p)
{
    want(p, 0, SOCKIT_EV_WRITE);
}

/* hiredis is freeing the context: forget its fd. */
static void cleanup(void *p)
{
    struct redis_link *l = p;

    if (l->fd >= 0)
        sockit_loop_unwatch(l->loop, l->fd);
    l->fd = -1;
    l->events = 0;
    l->ac = NULL;
}

/* ---- connecting, and again ----------------------------------------------------------------- */

static void connect_now(struct redis_link *l);

static void on_retry(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop, (void)t;
    connect_now(data);
}

static void retry_later(struct redis_link *l)
{
    if (l->stopping)
        return;
    sockit_timer_start(l->loop, &l->retry, l->backoff_ms * 1000000ull, 0);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* The link went down (or never came up): say so once, then try again later. */
static void lost(struct redis_link *l, const char *why)
{
    bool was_up = l->up;

    l->up = false;
    if (was_up && l->on_down)
        l->on_down(l, why, l->ud);
    retry_later(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;

    (void)status;
    lost(l, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* A reply of AUTH or SELECT: OK, or the link is of no use. */
static bool reply_ok(const void *r)
{
    const redisReply *reply = r;

    return reply && reply->type == REDIS_REPLY_STATUS;
}

static void on_selected(redisAsyncContext *ac, void *r, void *privdata)
{
    struct redis_link *l = privdata;

    if (!reply_ok(r)) {
        redisAsyncDisconnect(ac); /* on_disconnect retries */
        return;
    }
    l->up = true;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l->on_up)
        l->on_up(l, l->ud);
}

static void select_db(struct redis_link *l)
{
    char db[16];

    snprintf(db, sizeof(db), "%u", l->where->db);
    const char *argv[] = { "SELECT", db };
    redisAsyncCommandArgv(l->ac, on_selected, l, 2, argv, NULL);
}

static void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    if (!reply_ok(r)) {
        redisAsyncDisconnect(ac);
        return;
    }
    select_db(privdata);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct redis_link *l = cac->data;
    redisAsyncContext *ac = l->ac;

    if (status != REDIS_OK) { /* hiredis frees the context after this */
        lost(l, cac->errstr[0] ? cac->errstr : "connect failed");
        return;
    }
    if (l->where->password) {
        const char *argv[] = { "AUTH", l->where->password };
        redisAsyncCommandArgv(ac, on_auth, l, 2, argv, NULL);
    } else {
        select_db(l);
    }
}

static void connect_now(struct redis_link *l)
{
    const struct sockit_endpoint *ep = &l->where->ep;
    redisAsyncContext *ac = ep->transport == SOCKIT_UNIX ? redisAsyncConnectUnix(ep->path)
                                                         : redisAsyncConnect(ep->host, ep->port);

    if (!ac) {
        retry_later(l);
        return;
    }
    if (ac->err) {
        redisAsyncFree(ac);
        retry_later(l);
        return;
    }
    l->ac = ac;
    l->fd = ac->c.fd;
    l->events = 0;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    add_write(l); /* the connect completes as the socket turns writable */
}

int redis_link_start(struct redis_link *l)
{
    l->ac = NULL;
    l->fd = -1;
    l->up = l->stopping = false;
    l->backoff_ms = BACKOFF_MIN_MS;
    sockit_timer_init(&l->retry, on_retry, l);
    connect_now(l);
    return 0;
}

int redis_link_command(struct redis_link *l, redisCallbackFn *fn, void *privdata, int argc,
                       const char **argv, const size_t *argvlen)
{
    if (!l->up || !l->ac)
        return -ENOTCONN;
    return redisAsyncCommandArgv(l->ac, fn, privdata, argc, argv, argvlen) == REDIS_OK ? 0
                                                                                       : -ENOTCONN;
}

void redis_link_stop(struct redis_link *l)
{
    l->stopping = true;
    l->up = false;
    sockit_timer_stop(l->loop, &l->retry);
    if (l->ac) {
        redisAsyncContext *ac = l->ac;
        l->on_down = NULL;
        redisAsyncFree(ac); /* calls cleanup; pending callbacks get NULL replies */
    }
}
