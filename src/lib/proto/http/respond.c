/* Answers of the file server: the head every answer carries, conditional requests (RFC 9110
 * section 13), files (small ones read and sent with their head in one write, large ones with
 * sendfile from the page cache), and short status answers. Each answer is counted and
 * reported to the access log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/shared.h"

#define HEAD_MAX  2048
#define SMALL_MAX (64 * 1024)

const char *sockit__files_date(struct sockit__hconn *c)
{
    struct sockit__date_cache *d = &c->f->dates[c->thread % SOCKIT_SERVER_MAX_THREADS];
    time_t now = time(NULL);

    if (now != d->sec) {
        sockit_http_date_format(now, d->text);
        d->sec = now;
    }
    return d->text;
}

static struct sockit_http_str str(const char *s)
{
    return (struct sockit_http_str){ s, strlen(s) };
}

/* The status line and the fields every answer has: Server, Date, Connection. */
static void head_start(struct sockit__hreq *q, struct sockit_http_head *h, char *buf, int status)
{
    sockit_http_head_init(h, buf, HEAD_MAX);
    sockit_http_head_status(h, 1, status);
    sockit_http_head_field(h, "Server", str("sockit"));
    sockit_http_head_field(h, "Date", str(sockit__files_date(q->c)));
    if (!q->keep_alive)
        sockit_http_head_field(h, "Connection", str("close"));
    else if (q->r->minor == 0)
        sockit_http_head_field(h, "Connection", str("keep-alive"));
}

/* Count the answer and tell the access log. */
static void account(struct sockit__hreq *q, int status, uint64_t bytes)
{
    struct sockit_http_files *f = q->c->f;
    const struct sockit_http_request *r = q->r;
    char method[32], target[2048], referer[1024], agent[1024];

    atomic_fetch_add(&f->requests, 1);
    atomic_fetch_add(&f->bytes, bytes);
    atomic_fetch_add(&f->status[status / 100 % 6], 1);
    if (!f->o.on_access)
        return;
    const struct sockit_http_str *ref = sockit_http_field(r, "referer");
    const struct sockit_http_str *ua = sockit_http_field(r, "user-agent");
    snprintf(method, sizeof(method), "%.*s", r->method_name.len ? (int)r->method_name.len : 1,
             r->method_name.len ? r->method_name.p : "-");
    snprintf(target, sizeof(target), "%.*s", r->target.len ? (int)r->target.len : 1,
             r->target.len ? r->target.p : "-");
    snprintf(referer, sizeof(referer), "%.*s", ref ? (int)ref->len : 1, ref ? ref->p : "-");
    snprintf(agent, sizeof(agent), "%.*s", ua ? (int)ua->len : 1, ua ? ua->p : "-");
    struct sockit_http_access a = {
        .peer = &q->c->peer,
        .method = method,
        .target = target,
        .version = r->method_name.len ? (r->minor ? "HTTP/1.1" : "HTTP/1.0") : "-",
        .referer = referer,
        .agent = agent,
        .status = status,
        .bytes = bytes,
    };
    f->o.on_access(&a, f->o.ud);
}

/* Write the head (and BODY) in one call; on failure the connection is closing anyway. */
static void send_head_and(struct sockit__hreq *q, struct sockit_http_head *h, const char *body,
                          size_t len)
{
    struct iovec iov[2] = { { h->buf, h->len }, { (void *)body, len } };
    bool head_only = q->r->method == SOCKIT_HTTP_HEAD;

    if (h->err) { /* our own head did not fit: a bug, not the client's */
        q->keep_alive = false;
        return;
    }
    q->io->writev(q->io->ctx, iov, head_only || !len ? 1 : 2);
}

void sockit__respond_buffer(struct sockit__hreq *q, int status, const char *type, const char *body,
                            size_t len)
{
    char buf[HEAD_MAX];
    struct sockit_http_head h;

    head_start(q, &h, buf, status);
    sockit_http_head_field(&h, "Content-Type", str(type));
    sockit_http_head_field_u64(&h, "Content-Length", len);
    sockit_http_head_end(&h);
    send_head_and(q, &h, body, len);
    account(q, status, q->r->method == SOCKIT_HTTP_HEAD ? 0 : len);
}

void sockit__respond_status(struct sockit__hreq *q, int status, const char *location)
{
    char buf[HEAD_MAX], body[128];
    struct sockit_http_head h;
    int len = snprintf(body, sizeof(body), "%d %s\n", status, sockit_http_reason(status));

    head_start(q, &h, buf, status);
    sockit_http_head_field(&h, "Content-Type", str("text/plain; charset=utf-8"));
    sockit_http_head_field_u64(&h, "Content-Length", (uint64_t)len);
    if (status == 405)
        sockit_http_head_field(&h, "Allow", str("GET, HEAD"));
    if (location)
        sockit_http_head_field(&h, "Location", str(location));
    sockit_http_head_end(&h);
    send_head_and(q, &h, body, (size_t)len);
    account(q, status, q->r->method == SOCKIT_HTTP_HEAD ? 0 : (uint64_t)len);
}

/* ---- files ------------------------------------------------------------------------------ */

/* The strong validator: inode, size and modification time (to the nanosecond). */
static void etag_of(const struct stat *st, char *out, size_t size)
{
    snprintf(out, size, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st->st_mtim.tv_nsec);
}

/* Whether the list of entity tags V (If-None-Match: weak comparison) holds ETAG, or is "*". */
static bool etag_listed(struct sockit_http_str v, const char *etag)
{
    size_t n = strlen(etag);

    if (v.len == 1 && v.p[0] == '*')
        return true;
    for (size_t i = 0; i + n <= v.len; i++) {
        if (memcmp(v.p + i, etag, n) == 0 && (i == 0 || v.p[i - 1] == ' ' || v.p[i - 1] == ',' ||
                                              v.p[i - 1] == '/' || v.p[i - 1] == '\t'))
            return true;
    }
    return false;
}

/* RFC 9110 section 13.2.2, for GET and HEAD: 304 when the client's copy is current. */
static bool not_modified(const struct sockit_http_request *r, const struct stat *st,
                         const char *etag)
{
    const struct sockit_http_str *inm = sockit_http_field(r, "if-none-match");
    const struct sockit_http_str *ims;
    time_t since;

    if (inm)
        return etag_listed(*inm, etag);
    ims = sockit_http_field(r, "if-modified-since");
    return ims && sockit_http_date_parse(*ims, &since) == 0 && st->st_mtim.tv_sec <= since;
}

static const char *type_of(struct sockit_http_files *f, const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    const char *type = dot && (!slash || dot > slash) ? sockit__mime_type(&f->mime, dot + 1) : NULL;

    return type ? type : "application/octet-stream";
}

/* HEAD: the head was all; the file is closed and the answer counted. */
static bool head_only(struct sockit__hreq *q, struct sockit__target *t, int status)
{
    if (q->r->method != SOCKIT_HTTP_HEAD)
        return false;
    close(t->fd);
    account(q, status, 0);
    return true;
}

/* Last-Modified and ETag: the validators of every answer about a file. */
static void validators(struct sockit_http_head *h, const struct sockit__target *t, const char *etag)
{
    char date[SOCKIT_HTTP_DATE_LEN + 1];

    sockit_http_date_format(t->st.st_mtim.tv_sec, date);
    sockit_http_head_field(h, "Last-Modified", str(date));
    sockit_http_head_field(h, "ETag", str(etag));
}

/* The head of a file answer: validators, and for 200 the type and length. */
static void file_head(struct sockit__hreq *q, struct sockit_http_head *h, char *buf, int status,
                      const struct sockit__target *t, const char *etag)
{
    head_start(q, h, buf, status);
    validators(h, t, etag);
    sockit_http_head_field(h, "Accept-Ranges", str("bytes"));
    if (status == 304) {
        sockit_http_head_end(h);
        return;
    }
    sockit_http_head_field(h, "Content-Type", str(type_of(q->c->f, t->name)));
    sockit_http_head_field_u64(h, "Content-Length", (uint64_t)t->st.st_size);
    sockit_http_head_end(h);
}

/* A small file: read it and send it with its head in one write. */
static void send_small(struct sockit__hreq *q, struct sockit_http_head *h, struct sockit__target *t)
{
    char body[SMALL_MAX];
    size_t size = (size_t)t->st.st_size, got = 0;
    ssize_t n = 1;

    while (got < size && q->r->method != SOCKIT_HTTP_HEAD &&
           (n = pread(t->fd, body + got, size - got, (off_t)got)) > 0)
        got += (size_t)n;
    close(t->fd);
    if (got < size && q->r->method != SOCKIT_HTTP_HEAD) { /* shrank or failed under us */
        sockit__respond_status(q, 500, NULL);
        return;
    }
    send_head_and(q, h, body, size);
    account(q, 200, q->r->method == SOCKIT_HTTP_HEAD ? 0 : size);
}

/* A large file: the head, then the file from the page cache (sendfile). */
static void send_large(struct sockit__hreq *q, struct sockit_http_head *h, struct sockit__target *t)
{
    struct sockit_shared *file = NULL;
    uint64_t size = (uint64_t)t->st.st_size;

    send_head_and(q, h, NULL, 0);
    if (head_only(q, t, 200))
        return;
    if (sockit_shared_file(t->fd, &file) < 0 ||
        q->io->send_file(q->io->ctx, file, 0, size) < 0) /* the head is out: only close */
        q->keep_alive = false;
    sockit_shared_unref(file);
    account(q, 200, size);
}

/* ---- ranges ----------------------------------------------------------------------------- */

/* If-Range (RFC 9110 section 13.1.5): the ranges count only while the client's copy is this
 * one: the same strong ETag, or exactly the Last-Modified date. No If-Range: they count. */
static bool if_range_holds(const struct sockit_http_request *r, const struct stat *st,
                           const char *etag)
{
    const struct sockit_http_str *v = sockit_http_field(r, "if-range");
    time_t t;

    if (!v)
        return true;
    if (v->len && v->p[0] == '"')
        return v->len == strlen(etag) && memcmp(v->p, etag, v->len) == 0;
    return sockit_http_date_parse(*v, &t) == 0 && t == st->st_mtim.tv_sec;
}

static void content_range(struct sockit_http_head *h, const struct sockit_http_range *r,
                          uint64_t size)
{
    char v[80];

    if (r)
        snprintf(v, sizeof(v), "bytes %llu-%llu/%llu", (unsigned long long)r->first,
                 (unsigned long long)r->last, (unsigned long long)size);
    else
        snprintf(v, sizeof(v), "bytes */%llu", (unsigned long long)size);
    sockit_http_head_field(h, "Content-Range", str(v));
}

/* Queue the file range R after the head(s) already written. */
static bool send_range(struct sockit__hreq *q, struct sockit_shared *file,
                       const struct sockit_http_range *r)
{
    return q->io->send_file(q->io->ctx, file, r->first, r->last - r->first + 1) == 0;
}

static void send_one_range(struct sockit__hreq *q, struct sockit__target *t, const char *etag,
                           const struct sockit_http_range *r)
{
    char buf[HEAD_MAX];
    struct sockit_http_head h;
    struct sockit_shared *file = NULL;
    uint64_t len = r->last - r->first + 1;

    head_start(q, &h, buf, 206);
    validators(&h, t, etag);
    sockit_http_head_field(&h, "Content-Type", str(type_of(q->c->f, t->name)));
    content_range(&h, r, (uint64_t)t->st.st_size);
    sockit_http_head_field_u64(&h, "Content-Length", len);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    if (head_only(q, t, 206))
        return;
    if (sockit_shared_file(t->fd, &file) < 0 || !send_range(q, file, r))
        q->keep_alive = false;
    sockit_shared_unref(file);
    account(q, 206, len);
}

/* The head of part I of a multipart/byteranges body, into OUT: its length. */
static int part_head(char *out, size_t size, const char *boundary, const char *type,
                     const struct sockit_http_range *r, uint64_t total)
{
    return snprintf(out, size,
                    "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                    boundary, type, (unsigned long long)r->first, (unsigned long long)r->last,
                    (unsigned long long)total);
}

/* Several ranges: 206 multipart/byteranges, each part a head and a file range. */
static void send_multipart(struct sockit__hreq *q, struct sockit__target *t, const char *etag,
                           const struct sockit_http_range *r, int n)
{
    char buf[HEAD_MAX], boundary[40], ctype[96], part[512];
    const char *type = type_of(q->c->f, t->name);
    uint64_t size = (uint64_t)t->st.st_size, body = 0;
    struct sockit_http_head h;
    struct sockit_shared *file = NULL;
    bool ok = true;

    snprintf(boundary, sizeof(boundary), "sockit-%.24s", etag + 1);
    boundary[strcspn(boundary, "\"")] = '\0';
    for (int i = 0; i < n; i++)
        body += (uint64_t)part_head(part, sizeof(part), boundary, type, &r[i], size) + r[i].last -
                r[i].first + 1;
    body += strlen(boundary) + 8; /* "\r\n--" boundary "--\r\n" */
    snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
    head_start(q, &h, buf, 206);
    sockit_http_head_field(&h, "ETag", str(etag));
    sockit_http_head_field(&h, "Content-Type", str(ctype));
    sockit_http_head_field_u64(&h, "Content-Length", body);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    if (head_only(q, t, 206))
        return;
    ok = sockit_shared_file(t->fd, &file) == 0;
    for (int i = 0; ok && i < n; i++) {
        struct iovec iov = { part,
                             (size_t)part_head(part, sizeof(part), boundary, type, &r[i], size) };
        ok = q->io->writev(q->io->ctx, &iov, 1) == 0 && send_range(q, file, &r[i]);
    }
    int end = snprintf(part, sizeof(part), "\r\n--%s--\r\n", boundary);
    struct iovec iov = { part, (size_t)end };
    if (!ok || q->io->writev(q->io->ctx, &iov, 1) != 0)
        q->keep_alive = false;
    sockit_shared_unref(file);
    account(q, 206, body);
}

/* Answer the Range field if it applies: true when it did (206 or 416). */
static bool respond_ranges(struct sockit__hreq *q, struct sockit__target *t, const char *etag)
{
    const struct sockit_http_str *v = sockit_http_field(q->r, "range");
    struct sockit_http_range r[SOCKIT_HTTP_MAX_RANGES];
    int n;

    if (!v || !if_range_holds(q->r, &t->st, etag))
        return false;
    n = sockit_http_ranges_parse(*v, (uint64_t)t->st.st_size, r);
    if (n == 0)
        return false;
    if (n < 0) {
        char buf[HEAD_MAX];
        struct sockit_http_head h;
        close(t->fd);
        head_start(q, &h, buf, 416);
        content_range(&h, NULL, (uint64_t)t->st.st_size);
        sockit_http_head_field_u64(&h, "Content-Length", 0);
        sockit_http_head_end(&h);
        send_head_and(q, &h, NULL, 0);
        account(q, 416, 0);
    } else if (n == 1) {
        send_one_range(q, t, etag, r);
    } else {
        send_multipart(q, t, etag, r, n);
    }
    return true;
}

void sockit__respond_file(struct sockit__hreq *q, struct sockit__target *t)
{
    char buf[HEAD_MAX], etag[64];
    struct sockit_http_head h;
    size_t small = q->c->f->o.small_file < SMALL_MAX ? q->c->f->o.small_file : SMALL_MAX;

    etag_of(&t->st, etag, sizeof(etag));
    if (not_modified(q->r, &t->st, etag)) {
        close(t->fd);
        file_head(q, &h, buf, 304, t, etag);
        send_head_and(q, &h, NULL, 0);
        account(q, 304, 0);
        return;
    }
    if (respond_ranges(q, t, etag))
        return;
    file_head(q, &h, buf, 200, t, etag);
    if ((size_t)t->st.st_size <= small)
        send_small(q, &h, t);
    else
        send_large(q, &h, t);
}
