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

struct sockit_http_files {
    struct sockit_http_files_options o;
    int root; /* O_PATH descriptor of the served folder */
    struct sockit__mime mime;
    struct sockit__date_cache dates[SOCKIT_SERVER_MAX_THREADS];
    _Atomic uint64_t requests, bytes, status[6]; /* status[N]: Nxx answers */
    struct sockit__hconn dead; /* the engine of a connection whose own could not be made */
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

/* Resolve the request's path and open it beneath the root. Returns 0, or the HTTP status to
 * answer with (301 when a directory was asked for without its '/'). */
int sockit__files_open(struct sockit_http_files *f, const struct sockit_http_request *r,
                       struct sockit__target *t);

/* Open NAME (relative to the root) beneath it, read-only: fd or -errno. */
int sockit__files_openat(struct sockit_http_files *f, const char *name);

/* ---- responding (respond.c, listing.c) ---- */

/* Answer with STATUS and a short text body (errors, redirects add LOCATION if not NULL). */
void sockit__respond_status(struct sockit__hreq *q, int status, const char *location);
/* Answer with file T (takes T->fd). */
void sockit__respond_file(struct sockit__hreq *q, struct sockit__target *t);
/* Answer with the listing of directory T (takes T->fd). */
void sockit__respond_listing(struct sockit__hreq *q, struct sockit__target *t);
/* Send a head and a body held in memory, counting and logging. */
void sockit__respond_buffer(struct sockit__hreq *q, int status, const char *type, const char *body,
                            size_t len);

/* The Date header's text for now, on the connection's thread. */
const char *sockit__files_date(struct sockit__hconn *c);

#endif
