/* A directory's answer when it has no index.html (cache.c looks for one): unless no_listing, a
 * sorted HTML listing of its entries, names HTML-escaped in the text and percent-encoded in the
 * links; hidden names are left out unless they are served. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/buf.h"

#define MAX_ENTRIES 10000

struct entry {
    char *name;
    bool dir;
    off_t size;
    time_t mtime;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* The entries of DIRFD (which this takes), sorted; *N of them. NULL on failure. */
static struct entry *read_entries(int dirfd, bool hidden, size_t *n)
{
    DIR *d = fdopendir(dirfd);
    struct entry *e = NULL;
    struct dirent *de;
    size_t cap = 0;

    *n = 0;
    if (!d) {
        close(dirfd);
        return NULL;
    }
    while ((de = readdir(d)) && *n < MAX_ENTRIES) {
        struct stat st;
        if (de->d_name[0] == '.' &&
            (!hidden || !de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (*n == cap) {
            struct entry *more = realloc(e, (cap = cap ? cap * 2 : 64) * sizeof(*e));
            if (!more)
                break;
            e = more;
        }
        e[*n] = (struct entry){ strdup(de->d_name), S_ISDIR(st.st_mode), st.st_size, st.st_mtime };
        if (e[*n].name)
            (*n)++;
    }
    closedir(d);
    if (e)
        qsort(e, *n, sizeof(*e), by_name);
    return e;
}

/* The page being written, and the first failure (the page is then not sent). */
struct page {
    struct sockit_buf b;
    int err;
};

static void put(struct page *b, const char *s, size_t n)
{
    if (!b->err)
        b->err = sockit_buf_append(&b->b, s, n);
}

static void put_s(struct page *b, const char *s)
{
    put(b, s, strlen(s));
}

/* NAME with & < > " ' escaped for HTML text and attribute values. */
static void put_html(struct page *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': put_s(b, "&amp;"); break;
        case '<': put_s(b, "&lt;"); break;
        case '>': put_s(b, "&gt;"); break;
        case '"': put_s(b, "&quot;"); break;
        case '\'': put_s(b, "&#39;"); break;
        default: put(b, s + i, 1);
        }
    }
}

/* NAME percent-encoded for a path segment in a link. */
static void put_url(struct page *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~!$()*,;=:@", c)) {
            put(b, s, 1);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            put(b, esc, 3);
        }
    }
}

static void put_entry(struct page *b, const struct entry *e)
{
    char date[SOCKIT_HTTP_DATE_LEN + 1], size[32];

    sockit_http_date_format(e->mtime, date);
    snprintf(size, sizeof(size), "%lld", (long long)e->size);
    put_s(b, "<tr><td><a href=\"");
    put_url(b, e->name);
    put_s(b, e->dir ? "/\">" : "\">");
    put_html(b, e->name, strlen(e->name));
    put_s(b, e->dir ? "/</a></td><td>-</td><td>" : "</a></td><td>");
    if (!e->dir)
        put_s(b, size);
    put_s(b, e->dir ? "" : "</td><td>");
    put_s(b, date);
    put_s(b, "</td></tr>\n");
}

static void page(struct page *b, const struct sockit_http_str path, const struct entry *e, size_t n)
{
    put_s(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    put_html(b, path.p, path.len);
    put_s(b, "</title></head>\n<body><h1>Index of ");
    put_html(b, path.p, path.len);
    put_s(b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n");
    if (path.len > 1)
        put_s(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++)
        put_entry(b, &e[i]);
    put_s(b, "</table>\n</body></html>\n");
}

void sockit__respond_listing(struct sockit__hreq *q, struct sockit__target *t)
{
    struct page b = { .err = 0 };
    struct entry *e;
    size_t n;

    if (q->c->f->o.no_listing) {
        close(t->fd);
        sockit__respond_status(q, 403, NULL);
        return;
    }
    int dirfd = openat(t->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(t->fd);
    if (dirfd < 0 || !(e = read_entries(dirfd, q->c->f->o.hidden, &n))) {
        sockit__respond_status(q, dirfd < 0 ? 403 : 500, NULL);
        return;
    }
    sockit_buf_init(&b.b, 64u << 20);
    page(&b, q->r->path, e, n);
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
    if (b.err)
        sockit__respond_status(q, 500, NULL);
    else
        sockit__respond_buffer(q, 200, "text/html; charset=utf-8",
                               (const char *)b.b.data + b.b.head, sockit_buf_len(&b.b));
    sockit_buf_free(&b.b);
}
