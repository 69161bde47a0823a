/* The file server's engine (sockit/http_files.h): per connection, read a request head, answer
 * it, discard its body exactly (so the next pipelined head starts where it should), repeat;
 * a head that breaks a rule is answered with its status and the connection closed once that
 * answer is sent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/error.h"

enum { HC_HEAD, HC_BODY, HC_CHUNKED, HC_CLOSING };

/* ---- one request ------------------------------------------------------------------------ */

static bool has_body(const struct sockit_http_request *r)
{
    return r->body == SOCKIT_HTTP_BODY_CHUNKED ||
           (r->body == SOCKIT_HTTP_BODY_LENGTH && r->content_length > 0);
}

static void serve(struct sockit__hreq *q)
{
    struct sockit__target dir;
    struct sockit__file *e;
    int status = sockit__files_lookup(q, &e, &dir);

    if (status == 301) {
        char loc[4200];
        snprintf(loc, sizeof(loc), "%.*s/%s%.*s", (int)q->r->path.len, q->r->path.p,
                 q->r->query.len ? "?" : "", (int)q->r->query.len, q->r->query.p);
        sockit__respond_status(q, 301, loc);
    } else if (status) {
        sockit__respond_status(q, status, NULL);
    } else if (e) {
        sockit__respond_file(q, e);
    } else {
        sockit__respond_listing(q, &dir);
    }
}

/* Answer the parsed request R, then set up discarding its body. */
static void handle(struct sockit__hconn *c, const struct sockit_http_request *r,
                   const struct sockit_io *io)
{
    struct sockit__hreq q = { c, r, io, r->keep_alive };

    /* A body the client waits to send (100-continue) for a request that wants none: answer
     * and close rather than wait for it. */
    if (has_body(r) && r->expect_continue)
        q.keep_alive = false;
    if (r->method == SOCKIT_HTTP_GET || r->method == SOCKIT_HTTP_HEAD)
        serve(&q);
    else
        sockit__respond_status(&q, r->method == SOCKIT_HTTP_OTHER ? 501 : 405, NULL);
    c->state = HC_HEAD;
    if (r->body == SOCKIT_HTTP_BODY_LENGTH && r->content_length) {
        c->state = HC_BODY;
        c->body_left = r->content_length;
    } else if (r->body == SOCKIT_HTTP_BODY_CHUNKED) {
        c->state = HC_CHUNKED;
        sockit_http_chunked_init(&c->chunked);
    }
    if (!q.keep_alive)
        c->state = HC_CLOSING;
}

/* A head that cannot be served (unreadable, or too slow): answer STATUS, then close. */
static void refuse(struct sockit__hconn *c, int status, const struct sockit_io *io)
{
    struct sockit_http_request none = { .minor = 1 };
    struct sockit__hreq q = { c, &none, io, false };

    sockit__respond_status(&q, status, NULL);
    c->state = HC_CLOSING;
}

/* ---- the engine ------------------------------------------------------------------------- */

#define MS 1000000ull

/* A head still incomplete header_timeout after its first byte: 408, close (slowloris). The
 * deadline set with the first byte checks again when the client sends nothing more. */
static bool head_too_slow(struct sockit__hconn *c, uint64_t now, const struct sockit_io *io)
{
    uint64_t limit = c->f->o.header_timeout_ms * MS;

    if (!c->since) {
        c->since = now;
        io->deadline(io->ctx, now + limit);
        return false;
    }
    if (now - c->since < limit)
        return false;
    refuse(c, 408, io);
    return true;
}

static long input_head(struct sockit__hconn *c, const uint8_t *data, size_t len, size_t seen,
                       uint64_t now, const struct sockit_io *io)
{
    struct sockit_http_request r;
    long n = sockit_http_parse_request((const char *)data, len, seen, &r);

    if (n < 0) {
        refuse(c, sockit_http_error_status((int)n), io);
        return (long)len;
    }
    if (n == 0)
        return head_too_slow(c, now, io) ? (long)len : 0;
    if (c->since) { /* the head came in pieces: its deadline is over */
        c->since = 0;
        io->deadline(io->ctx, 0);
    }
    handle(c, &r, io);
    if (c->state == HC_BODY || c->state == HC_CHUNKED) {
        c->since = now;
        c->body_got = 0;
        io->deadline(io->ctx, now + c->f->o.body_timeout_ms * MS);
    }
    return n;
}

/* A body still arriving body_timeout after it began, slower than min_body_rate: close. */
static bool body_too_slow(struct sockit__hconn *c, uint64_t now, size_t n)
{
    uint64_t ms = (now - c->since) / MS;

    c->body_got += n;
    return ms > c->f->o.body_timeout_ms && c->body_got * 1000 / ms < c->f->o.min_body_rate;
}

/* The body was read or discarded whole: back to heads, without the body's deadline. */
static void body_done(struct sockit__hconn *c, const struct sockit_io *io)
{
    c->state = HC_HEAD;
    c->since = 0;
    io->deadline(io->ctx, 0);
}

static long input_body(struct sockit__hconn *c, size_t len, uint64_t now,
                       const struct sockit_io *io)
{
    size_t n = len < c->body_left ? len : (size_t)c->body_left;

    c->body_left -= n;
    if (c->body_left == 0) {
        body_done(c, io);
    } else if (body_too_slow(c, now, n)) {
        c->state = HC_CLOSING;
    }
    return (long)n;
}

static long input_chunked(struct sockit__hconn *c, const uint8_t *data, size_t len, uint64_t now,
                          const struct sockit_io *io)
{
    struct sockit_http_str payload;
    long n = sockit_http_chunked_decode(&c->chunked, (const char *)data, len, &payload);

    if (n < 0) { /* the answer is out already: close once it is sent */
        c->state = HC_CLOSING;
        io->finish(io->ctx);
        return (long)len;
    }
    if (c->chunked.done) {
        body_done(c, io);
    } else if (body_too_slow(c, now, (size_t)n)) {
        c->state = HC_CLOSING;
    }
    return n;
}

/* The last answer is written: no more input, close once it is sent. */
static void closing(const struct sockit_io *io)
{
    io->deadline(io->ctx, 0);
    io->read_pause(io->ctx, 1);
    io->finish(io->ctx);
}

static long engine_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                         const struct sockit_io *io)
{
    struct sockit__hconn *c = eng;
    long n = 0;

    switch (c->state) {
    case HC_HEAD: n = input_head(c, data, len, seen, now, io); break;
    case HC_BODY: n = input_body(c, len, now, io); break;
    case HC_CHUNKED: n = input_chunked(c, data, len, now, io); break;
    case HC_CLOSING: n = (long)len; break; /* after the last answer: ignored */
    }
    if (c->state == HC_CLOSING)
        closing(io);
    return n;
}

/* The deadline of a head or body under way came with no input: a head is answered 408; a
 * body slower than min_body_rate is closed, a faster one is checked again in a second. */
static int engine_timeout(void *eng, uint64_t now, const struct sockit_io *io)
{
    struct sockit__hconn *c = eng;

    if (!c->since)
        return 0;
    if (c->state == HC_HEAD) {
        if (head_too_slow(c, now, io))
            closing(io);
        else
            io->deadline(io->ctx, c->since + c->f->o.header_timeout_ms * MS);
    } else if (c->state == HC_BODY || c->state == HC_CHUNKED) {
        if (body_too_slow(c, now, 0)) {
            c->state = HC_CLOSING;
            closing(io);
        } else {
            io->deadline(io->ctx, now + 1000 * MS);
        }
    }
    return 0;
}

/* The client ended its side: answer nothing more, close once the answers are sent. */
static int engine_input_end(void *eng, uint64_t now, const struct sockit_io *io)
{
    (void)eng;
    (void)now;
    io->finish(io->ctx);
    return 0;
}

static void engine_closed(void *eng, int err)
{
    struct sockit__hconn *c = eng;

    (void)err;
    if (c != &c->f->dead)
        free(c);
}

static const struct sockit_engine_ops files_engine = {
    .input = engine_input,
    .input_end = engine_input_end,
    .closed = engine_closed,
    .timeout = engine_timeout,
};

static void *on_open(const struct sockit_server_client *client, void *ud)
{
    struct sockit_http_files *f = ud;
    struct sockit__hconn *c = calloc(1, sizeof(*c));

    if (!c) { /* closed at once, with the shared engine that ignores everything */
        sockit_conn_close(client->conn);
        return &f->dead;
    }
    c->f = f;
    c->peer = *client->peer;
    c->thread = client->thread;
    return c;
}

/* ---- the server ------------------------------------------------------------------------- */

void sockit_http_files_handler(struct sockit_http_files *files, struct sockit_server_handler *h)
{
    (void)files;
    *h = (struct sockit_server_handler){ .on_open = on_open, .engine = &files_engine };
}

int sockit_http_files_new(struct sockit_http_files **out, const struct sockit_http_files_options *o)
{
    struct sockit_http_files *f;
    struct stat st;
    int err;

    if (!o || !o->root)
        return -EINVAL;
    if (!(f = calloc(1, sizeof(*f))))
        return -ENOMEM;
    f->o = *o;
    if (!f->o.small_file)
        f->o.small_file = 16 * 1024;
    if (f->o.small_file > 64 * 1024) /* cached per thread: 1024 entries bound the memory */
        f->o.small_file = 64 * 1024;
    if (!f->o.header_timeout_ms)
        f->o.header_timeout_ms = 10000;
    if (!f->o.body_timeout_ms)
        f->o.body_timeout_ms = 10000;
    if (!f->o.min_body_rate)
        f->o.min_body_rate = 1024;
    f->root = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (f->root < 0 || fstat(f->root, &st) < 0) {
        err = -errno;
        goto fail;
    }
    if ((err = sockit__mime_load(&f->mime, o->mime_types)) < 0)
        goto fail;
    f->dead = (struct sockit__hconn){ .f = f, .state = HC_CLOSING };
    *out = f;
    return 0;
fail:
    if (f->root >= 0)
        close(f->root);
    free(f);
    return err;
}

void *sockit_http_files_user_data(const struct sockit_http_files *files)
{
    return files->o.ud;
}

void sockit_http_files_stats(const struct sockit_http_files *files,
                             struct sockit_http_files_stats *out)
{
    out->requests = atomic_load(&files->requests);
    out->bytes = atomic_load(&files->bytes);
    for (int i = 0; i < 6; i++)
        out->status[i] = atomic_load(&files->status[i]);
}

void sockit_http_files_free(struct sockit_http_files *files)
{
    if (!files)
        return;
    close(files->root);
    for (size_t i = 0; i < SOCKIT_SERVER_MAX_THREADS; i++)
        sockit__cache_free(files->caches[i]);
    sockit__mime_free(&files->mime);
    free(files);
}
