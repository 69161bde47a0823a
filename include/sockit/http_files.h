/* sockit/http_files.h — a static file server: the HTTP engine (sockit/http.h) joined to the
 * server layer (sockit/server.h), so a program serves a folder with a few calls:
 *
 *     struct sockit_http_files *files;
 *     struct sockit_server_handler h;
 *     sockit_http_files_new(&files, &(struct sockit_http_files_options){ .root = "." });
 *     sockit_http_files_handler(files, &h);
 *     sockit_server_new(&srv, &server_options, &h, files);   (UD must be FILES)
 *     sockit_server_run(srv);
 *
 * GET and HEAD of regular files and directories beneath the root (openat2 RESOLVE_BENEATH:
 * no "..", no symlink leading out, unless follow_symlinks), index.html or a sorted listing
 * for a directory, strong ETags and Last-Modified with If-None-Match / If-Modified-Since
 * (304), keep-alive and pipelining, small files with their head in one write and large ones
 * with sendfile. Bad requests are answered with their status and the connection closed.
 * Any number of loop threads share one sockit_http_files. */
#ifndef SOCKIT_HTTP_FILES_H
#define SOCKIT_HTTP_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sockit/endpoint.h"

struct sockit_server_handler;
struct sockit_http_files;

/* One answered request, for an access log. Strings are valid during the call only. */
struct sockit_http_access {
    const struct sockit_addr *peer;
    const char *method;  /* "GET"; "-" when the request line could not be read */
    const char *target;  /* as sent; "-" likewise */
    const char *version; /* "HTTP/1.1" */
    const char *referer; /* "-" when absent */
    const char *agent;   /* "-" when absent */
    int status;
    uint64_t bytes; /* body bytes sent */
};

struct sockit_http_files_options {
    const char *root;       /* the folder served (required) */
    bool hidden;            /* serve names starting with '.' (default: 404) */
    bool follow_symlinks;   /* follow symlinks that lead out of the root (default: 404) */
    bool no_listing;        /* a directory without index.html is 403, not a listing */
    const char *mime_types; /* NULL: /etc/mime.types if present, and a built-in table */
    size_t small_file;      /* up to this size a body is read and sent with its head in
                               one write; larger ones with sendfile. 0: 16 KiB; at most
                               64 KiB (kept in each thread's cache of 1024 open files) */
    /* A request head must be whole this long after its first byte arrived, or the
     * connection is answered 408 and closed (slowloris), whether more bytes come or none.
     * 0: 10 s. Silence between requests is the server layer's idle_ms. */
    uint64_t header_timeout_ms;
    /* A request body (discarded) slower than min_body_rate bytes/s once this long has passed
     * since its head closes the connection; checked on input and each second after, so a
     * body that stops altogether is closed too. 0: 10 s and 1024 B/s. */
    uint64_t body_timeout_ms;
    uint64_t min_body_rate;
    /* Called once per answered request, on the connection's loop thread (so from several
     * threads at once with several loops). May be NULL. */
    void (*on_access)(const struct sockit_http_access *a, void *ud);
    void *ud;
};

/* Open the root (it must be a directory) and load the media types. Returns 0 and the server
 * in *OUT, or -errno (-ENOTDIR, -ENOENT, -EACCES...). */
int sockit_http_files_new(struct sockit_http_files **out,
                          const struct sockit_http_files_options *o);

/* Fill H to serve FILES in the server layer's engine mode; the server's UD must be FILES. */
void sockit_http_files_handler(struct sockit_http_files *files, struct sockit_server_handler *h);

/* The UD of the options FILES was made with (for the server's hooks, whose UD is FILES). */
void *sockit_http_files_user_data(const struct sockit_http_files *files);

/* Counters since new, over all threads. Any thread. */
struct sockit_http_files_stats {
    uint64_t requests;
    uint64_t bytes;     /* body bytes sent */
    uint64_t status[6]; /* status[N]: answers with status Nxx (1..5) */
};

void sockit_http_files_stats(const struct sockit_http_files *files,
                             struct sockit_http_files_stats *out);

/* Free FILES once no server uses it. NULL is a no-op. */
void sockit_http_files_free(struct sockit_http_files *files);

#ifdef __cplusplus
}
#endif

#endif
