/* The open-file cache (nginx's open_file_cache, h2o's file cache): per loop thread, so no
 * lock; direct-mapped by a hash of the request's normalized path, so a lookup is one probe and
 * a collision simply replaces. An entry keeps the file open, its validators and the end of
 * its 200 head formatted, and a small file's bytes, so a hit costs no system call but the
 * answer's own. At most once per second an entry is checked (open and fstat beneath the
 * root); a file changed or gone is dropped and looked up afresh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/shared.h"

#define SLOTS 1024 /* entries per loop thread; small bodies make at most 16 MiB of them */

struct sockit__fcache {
    struct sockit__file *slot[SLOTS];
};

static void file_free(struct sockit__file *e)
{
    if (!e)
        return;
    sockit_shared_unref(e->file);
    free(e->key);
    free(e->name);
    free(e->tail);
    free(e->body);
    free(e);
}

void sockit__cache_free(struct sockit__fcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        file_free(c->slot[i]);
    free(c);
}

static size_t hash(const char *s)
{
    size_t h = 14695981039346656037u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h % SLOTS;
}

static const char *type_of(struct sockit_http_files *f, const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    const char *type = dot && (!slash || dot > slash) ? sockit__mime_type(&f->mime, dot + 1) : NULL;

    return type ? type : "application/octet-stream";
}

/* The end of the 200 head: validators, type and length. */
static int make_tail(struct sockit__file *e)
{
    char date[SOCKIT_HTTP_DATE_LEN + 1], buf[512];
    int n;

    sockit_http_date_format(e->st.st_mtim.tv_sec, date);
    n = snprintf(buf, sizeof(buf),
                 "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes\r\nContent-Type: %s\r\n"
                 "Content-Length: %llu\r\n\r\n",
                 date, e->etag, e->type, (unsigned long long)e->st.st_size);
    if (n < 0 || n >= (int)sizeof(buf) || !(e->tail = malloc((size_t)n)))
        return -ENOMEM;
    memcpy(e->tail, buf, (size_t)n);
    e->tail_len = (size_t)n;
    return 0;
}

/* A small file's bytes, read whole; -EIO if it changed size under us. */
static int read_body(struct sockit__file *e, int fd)
{
    size_t size = (size_t)e->st.st_size, got = 0;
    ssize_t n = 1;

    if (!(e->body = malloc(size ? size : 1)))
        return -ENOMEM;
    while (got < size && (n = pread(fd, e->body + got, size - got, (off_t)got)) > 0)
        got += (size_t)n;
    return got == size ? 0 : -EIO;
}

/* An entry for the regular file T (takes T->fd), asked for as KEY. */
static struct sockit__file *file_new(struct sockit_http_files *f, struct sockit__target *t,
                                     const char *key, time_t now)
{
    struct sockit__file *e = calloc(1, sizeof(*e));
    int fd = t->fd;

    if (!e || !(e->key = strdup(key)) || !(e->name = strdup(t->name))) {
        close(fd);
        file_free(e);
        return NULL;
    }
    e->st = t->st;
    e->checked = now;
    e->type = type_of(f, t->name);
    snprintf(e->etag, sizeof(e->etag), "\"%llx-%llx-%llx\"", (unsigned long long)e->st.st_ino,
             (unsigned long long)e->st.st_size,
             (unsigned long long)e->st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)e->st.st_mtim.tv_nsec);
    if ((size_t)e->st.st_size <= f->o.small_file && read_body(e, fd) < 0) {
        close(fd);
        file_free(e);
        return NULL;
    }
    if (sockit_shared_file(fd, &e->file) < 0 || make_tail(e) < 0) { /* the fd is taken */
        file_free(e);
        return NULL;
    }
    return e;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Whether E still is what its name opens (checked at most once a second). */
static bool still_fresh(struct sockit_http_files *f, struct sockit__file *e, time_t now)
{
    struct sockit__target t;
    bool same;

    if (e->checked == now)
        return true;
    snprintf(t.name, sizeof(t.name), "%s", e->name);
    if (sockit__files_open(f, &t, false) != 0)
        return false;
    same = S_ISREG(t.st.st_mode) && same_file(&t.st, &e->st);
    close(t.fd);
    if (same)
        e->checked = now;
    return same;
}

/* A directory asked for with its '/': its index.html as T, if it has one (T->fd taken). */
static bool open_index(struct sockit_http_files *f, struct sockit__target *t)
{
    struct sockit__target idx;
    int n = snprintf(idx.name, sizeof(idx.name), "%s%sindex.html", t->name, t->name[0] ? "/" : "");

    if (n >= (int)sizeof(idx.name) || sockit__files_open(f, &idx, false) != 0)
        return false;
    close(t->fd);
    *t = idx;
    return true;
}

/* A miss: open what KEY names (T->name) and cache it if it is a file. */
static int miss(struct sockit__hreq *q, struct sockit__fcache *c, const char *key, bool slash,
                time_t now, struct sockit__file **e, struct sockit__target *t)
{
    struct sockit_http_files *f = q->c->f;
    int status = sockit__files_open(f, t, slash);

    if (status)
        return status;
    if (S_ISDIR(t->st.st_mode) && !open_index(f, t))
        return 0; /* a listing: not cached, *E stays NULL */
    if (!(*e = file_new(f, t, key, now)))
        return 503;
    size_t h = hash(key);
    file_free(c->slot[h]);
    c->slot[h] = *e;
    return 0;
}

int sockit__files_lookup(struct sockit__hreq *q, struct sockit__file **e,
                         struct sockit__target *dir)
{
    struct sockit_http_files *f = q->c->f;
    struct sockit__fcache **cp = &f->caches[q->c->thread % SOCKIT_SERVER_MAX_THREADS];
    const struct sockit_http_str path = q->r->path;
    bool slash = path.p[path.len - 1] == '/';
    long n = sockit_http_path_normalize(path, dir->name, sizeof(dir->name) - 1, f->o.hidden);
    time_t now = time(NULL);

    *e = NULL;
    if (n < 0)
        return n == -ENAMETOOLONG ? 414 : sockit_http_error_status((int)n);
    if (!*cp && !(*cp = calloc(1, sizeof(**cp))))
        return 503;
    char key[sizeof(dir->name) + 1];
    memcpy(key, dir->name, (size_t)n);
    key[n] = '/'; /* a folder asked for with its '/' is its own key */
    key[n + (slash && n)] = '\0';
    struct sockit__file **slot = &(*cp)->slot[hash(key)];
    if (*slot && strcmp((*slot)->key, key) == 0) {
        if (still_fresh(f, *slot, now)) {
            *e = *slot;
            return 0;
        }
        file_free(*slot); /* changed or gone: look again */
        *slot = NULL;
    }
    return miss(q, *cp, key, slash, now, e, dir);
}
