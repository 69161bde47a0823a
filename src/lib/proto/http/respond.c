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

#define HEAD_MAX 2048

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
static bool not_modified(const struct sockit_http_request *r, const struct sockit__file *e)
{
    const struct sockit_http_str *inm = sockit_http_field(r, "if-none-match");
    const struct sockit_http_str *ims;
    time_t since;

    if (inm)
        return etag_listed(*inm, e->etag);
    ims = sockit_http_field(r, "if-modified-since");
    return ims && sockit_http_date_parse(*ims, &since) == 0 && e->st.st_mtim.tv_sec <= since;
}

/* Last-Modified and ETag: the validators of every answer about a file. */
static void validators(struct sockit_http_head *h, const struct sockit__file *e)
{
    char date[SOCKIT_HTTP_DATE_LEN + 1];

    sockit_http_date_format(e->st.st_mtim.tv_sec, date);
    sockit_http_head_field(h, "Last-Modified", str(date));
    sockit_http_head_field(h, "ETag", str(e->etag));
}

static void send_not_modified(struct sockit__hreq *q, const struct sockit__file *e)
{
    char buf[HEAD_MAX];
    struct sockit_http_head h;

    head_start(q, &h, buf, 304);
    validators(&h, e);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    account(q, 304, 0);
}

/* The 200 head from pieces made before: status and Server, Date, Connection, then the
 * entry's own tail; no formatting per request. Its length in BUF, or 0 if it does not fit. */
static size_t head_200(struct sockit__hreq *q, const struct sockit__file *e, char *buf)
{
    static const char start[] = "HTTP/1.1 200 OK\r\nServer: sockit\r\nDate: ";
    const char *conn = !q->keep_alive     ? "\r\nConnection: close\r\n"
                       : q->r->minor == 0 ? "\r\nConnection: keep-alive\r\n"
                                          : "\r\n";
    size_t n = sizeof(start) - 1, c = strlen(conn);

    if (n + SOCKIT_HTTP_DATE_LEN + c + e->tail_len > HEAD_MAX)
        return 0;
    memcpy(buf, start, n);
    memcpy(buf + n, sockit__files_date(q->c), SOCKIT_HTTP_DATE_LEN);
    n += SOCKIT_HTTP_DATE_LEN;
    memcpy(buf + n, conn, c);
    memcpy(buf + n + c, e->tail, e->tail_len);
    return n + c + e->tail_len;
}

/* 200: the head and a small file's bytes in one write, or the head and then the file from
 * the page cache (sendfile). */
static void send_whole(struct sockit__hreq *q, struct sockit__file *e)
{
    char buf[HEAD_MAX];
    uint64_t size = (uint64_t)e->st.st_size;
    bool head = q->r->method == SOCKIT_HTTP_HEAD;
    struct iovec iov[2] = { { buf, head_200(q, e, buf) }, { e->body, e->body ? size : 0 } };

    if (!iov[0].iov_len) { /* a tail that long is a bug, not the client's */
        sockit__respond_status(q, 500, NULL);
        return;
    }
    if (q->io->writev(q->io->ctx, iov, head || !e->body ? 1 : 2) < 0)
        q->keep_alive = false;
    else if (!head && !e->body && q->io->send_file(q->io->ctx, e->file, 0, size) < 0)
        q->keep_alive = false; /* the head is out: only close */
    account(q, 200, head ? 0 : size);
}

/* ---- ranges ----------------------------------------------------------------------------- */

/* If-Range (RFC 9110 section 13.1.5): the ranges count only while the client's copy is this
 * one: the same strong ETag, or exactly the Last-Modified date. No If-Range: they count. */
static bool if_range_holds(const struct sockit_http_request *r, const struct sockit__file *e)
{
    const struct sockit_http_str *v = sockit_http_field(r, "if-range");
    time_t t;

    if (!v)
        return true;
    if (v->len && v->p[0] == '"')
        return v->len == strlen(e->etag) && memcmp(v->p, e->etag, v->len) == 0;
    return sockit_http_date_parse(*v, &t) == 0 && t == e->st.st_mtim.tv_sec;
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

/* Queue the file range R after what was written: the small file's bytes, or sendfile. */
static bool send_range(struct sockit__hreq *q, struct sockit__file *e,
                       const struct sockit_http_range *r)
{
    uint64_t len = r->last - r->first + 1;
    struct iovec iov = { e->body ? e->body + r->first : NULL, (size_t)len };

    if (e->body)
        return q->io->writev(q->io->ctx, &iov, 1) == 0;
    return q->io->send_file(q->io->ctx, e->file, r->first, len) == 0;
}

static void send_one_range(struct sockit__hreq *q, struct sockit__file *e,
                           const struct sockit_http_range *r)
{
    char buf[HEAD_MAX];
    struct sockit_http_head h;
    uint64_t len = r->last - r->first + 1;
    bool head = q->r->method == SOCKIT_HTTP_HEAD;

    head_start(q, &h, buf, 206);
    validators(&h, e);
    sockit_http_head_field(&h, "Content-Type", str(e->type));
    content_range(&h, r, (uint64_t)e->st.st_size);
    sockit_http_head_field_u64(&h, "Content-Length", len);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    if (!head && !send_range(q, e, r))
        q->keep_alive = false;
    account(q, 206, head ? 0 : len);
}

/* The head of one part of a multipart/byteranges body, into OUT: its length. */
static int part_head(char *out, size_t size, const char *boundary, const char *type,
                     const struct sockit_http_range *r, uint64_t total)
{
    return snprintf(out, size,
                    "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                    boundary, type, (unsigned long long)r->first, (unsigned long long)r->last,
                    (unsigned long long)total);
}

/* Several ranges: 206 multipart/byteranges, each part a head and a file range. */
static void send_multipart(struct sockit__hreq *q, struct sockit__file *e,
                           const struct sockit_http_range *r, int n)
{
    char buf[HEAD_MAX], boundary[40], ctype[96], part[512];
    uint64_t size = (uint64_t)e->st.st_size, body = 0;
    struct sockit_http_head h;
    bool ok = true, head = q->r->method == SOCKIT_HTTP_HEAD;

    snprintf(boundary, sizeof(boundary), "sockit-%.24s", e->etag + 1);
    boundary[strcspn(boundary, "\"")] = '\0';
    for (int i = 0; i < n; i++)
        body += (uint64_t)part_head(part, sizeof(part), boundary, e->type, &r[i], size) +
                r[i].last - r[i].first + 1;
    body += strlen(boundary) + 8; /* "\r\n--" boundary "--\r\n" */
    snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
    head_start(q, &h, buf, 206);
    sockit_http_head_field(&h, "ETag", str(e->etag));
    sockit_http_head_field(&h, "Content-Type", str(ctype));
    sockit_http_head_field_u64(&h, "Content-Length", body);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    for (int i = 0; !head && ok && i < n; i++) {
        struct iovec iov = { part, (size_t)part_head(part, sizeof(part), boundary, e->type, &r[i],
                                                     size) };
        ok = q->io->writev(q->io->ctx, &iov, 1) == 0 && send_range(q, e, &r[i]);
    }
    int end = snprintf(part, sizeof(part), "\r\n--%s--\r\n", boundary);
    struct iovec iov = { part, (size_t)end };
    if (!head && (!ok || q->io->writev(q->io->ctx, &iov, 1) != 0))
        q->keep_alive = false;
    account(q, 206, head ? 0 : body);
}

static void send_unsatisfiable(struct sockit__hreq *q, const struct sockit__file *e)
{
    char buf[HEAD_MAX];
    struct sockit_http_head h;

    head_start(q, &h, buf, 416);
    content_range(&h, NULL, (uint64_t)e->st.st_size);
    sockit_http_head_field_u64(&h, "Content-Length", 0);
    sockit_http_head_end(&h);
    send_head_and(q, &h, NULL, 0);
    account(q, 416, 0);
}

/* Answer the Range field if it applies: true when it did (206 or 416). */
static bool respond_ranges(struct sockit__hreq *q, struct sockit__file *e)
{
    const struct sockit_http_str *v = sockit_http_field(q->r, "range");
    struct sockit_http_range r[SOCKIT_HTTP_MAX_RANGES];
    int n;

    if (!v || !if_range_holds(q->r, e))
        return false;
    n = sockit_http_ranges_parse(*v, (uint64_t)e->st.st_size, r);
    if (n == 0)
        return false;
    if (n < 0)
        send_unsatisfiable(q, e);
    else if (n == 1)
        send_one_range(q, e, r);
    else
        send_multipart(q, e, r, n);
    return true;
}

void sockit__respond_file(struct sockit__hreq *q, struct sockit__file *e)
{
    if (not_modified(q->r, e))
        send_not_modified(q, e);
    else if (!respond_ranges(q, e))
        send_whole(q, e);
}
