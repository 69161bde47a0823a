/* The file server's internals (sockit/http_files.h): its shared state, the per-connection
 * engine, and the parts in files.c, open.c, respond.c, listing.c and mime.c. */
#ifndef SOCKIT_HTTP_FILES_INTERNAL_H
#define SOCKIT_HTTP_FILES_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "sockit/engine.h"
#include "sockit/http.h"
#include "sockit/http_files.h"
#include "sockit/server.h"

/* ---- media types (mime.c) ---- */

struct sockit__mime_entry {
    const char *ext, *type;
    unsigned order; /* where it was read: the first of an extension wins */
};

struct sockit__mime {
    struct sockit__mime_entry *entries; /* sorted by ext */
    size_t n, cap;
    char *text; /* the file's text, which the entries point into */
};

/* Load PATH (NULL: /etc/mime.types, which may be missing) and the built-in table. */
int sockit__mime_load(struct sockit__mime *m, const char *path);
/* The type of extension EXT (any case), or NULL. */
const char *sockit__mime_type(const struct sockit__mime *m, const char *ext);
void sockit__mime_free(struct sockit__mime *m);

/* One connection: the engine's state. */
struct sockit__hconn {
    struct sockit_http_files *f;
    struct sockit_addr peer;
    unsigned thread;
    int state;          /* HC_HEAD, HC_BODY, HC_CHUNKED, HC_CLOSING */
    uint64_t body_left; /* HC_BODY: request body bytes still to discard */
    uint64_t since;     /* loop clock when the head or body under way began; 0: none */
    uint64_t body_got;  /* body bytes discarded since SINCE */
    struct sockit_http_chunked chunked;
};

/* ---- the server's shared state ---- */

/* The Date header, formatted once per second per loop thread. */
struct sockit__date_cache {
    time_t sec;
    char text[SOCKIT_HTTP_DATE_LEN + 1];
};

struct sockit__fcache;

struct sockit_http_files {
    struct sockit_http_files_options o;
    int root; /* O_PATH descriptor of the served folder */
    struct sockit__mime mime;
    struct sockit__date_cache dates[SOCKIT_SERVER_MAX_THREADS];
    _Atomic uint64_t requests, bytes, status[6]; /* status[N]: Nxx answers */
    struct sockit__hconn dead; /* the engine of a connection whose own could not be made */
    struct sockit__fcache *caches[SOCKIT_SERVER_MAX_THREADS]; /* each loop thread's own */
};

/* What the response to one request needs to know of it. */
struct sockit__hreq {
    struct sockit__hconn *c;
    const struct sockit_http_request *r;
    const struct sockit_io *io;
    bool keep_alive;
};

/* ---- opening (open.c) ---- */

/* An opened target: the fd (regular file or directory) and its stat. */
struct sockit__target {
    int fd;
    struct stat st;
    char name[4096]; /* relative to the root; "" is the root */
};

/* Open T->name beneath the root into T (fd, stat). Returns 0 for a regular file or, when
 * SLASH (the request named it with a trailing '/'), a directory; else the HTTP status to
 * answer with (404, 403, 301 for a directory without its '/'...), nothing left open. */
int sockit__files_open(struct sockit_http_files *f, struct sockit__target *t, bool slash);

/* Open NAME (relative to the root) beneath it, read-only: fd or -errno. */
int sockit__files_openat(struct sockit_http_files *f, const char *name);

/* ---- the open-file cache (cache.c) ---- */

/* A regular file ready to answer with: open (FILE owns the fd), its validators and the end
 * of its 200 head made once, and for a small file its bytes. One loop thread's own. */
struct sockit__file {
    char *key;  /* the request's normalized path, '/' kept at the end: the cache's key */
    char *name; /* what was opened (KEY, or KEY's index.html) */
    struct sockit_shared *file;
    struct stat st;
    time_t checked; /* the second it was last found unchanged */
    char etag[64];
    const char *type;
    char *tail; /* "Last-Modified: ...\r\nETag ... Content-Length: N\r\n\r\n" */
    size_t tail_len;
    char *body; /* small files: the whole content; else NULL (sent with sendfile) */
};

/* The file (Q's request) names: 0 and *E, or 0, *E NULL and DIR opened (a directory to list),
 * or the HTTP status to answer with. Cached per loop thread; an entry is looked at again (one
 * open and fstat) at most once per second, and replaced when it changed. */
int sockit__files_lookup(struct sockit__hreq *q, struct sockit__file **e,
                         struct sockit__target *dir);

/* Free a thread's cache. */
void sockit__cache_free(struct sockit__fcache *c);

/* ---- responding (respond.c, listing.c) ---- */

/* Answer with STATUS and a short text body (errors, redirects add LOCATION if not NULL). */
void sockit__respond_status(struct sockit__hreq *q, int status, const char *location);
/* Answer with the cached file E. */
void sockit__respond_file(struct sockit__hreq *q, struct sockit__file *e);
/* Answer with the listing of directory T (takes T->fd; it has no index.html). */
void sockit__respond_listing(struct sockit__hreq *q, struct sockit__target *t);
/* Send a head and a body held in memory, counting and logging. */
void sockit__respond_buffer(struct sockit__hreq *q, int status, const char *type, const char *body,
                            size_t len);

/* The Date header's text for now, on the connection's thread. */
const char *sockit__files_date(struct sockit__hconn *c);

#endif
