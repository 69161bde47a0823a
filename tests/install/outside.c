/* A program from outside the tree, built against an installed libsockit with pkg-config alone
 * (tests/install/check.sh): a one-thread echo server from the server layer on the loop (so
 * the link needs liburing), on a port the kernel picks, and a plain-socket client that sends
 * a line and reads it back; then a folder served over HTTP with sockit/http_files.h and one
 * page fetched. Prints "outside: ok" and exits 0, or names what failed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <stdlib.h>

#include <sockit/engine.h>
#include <sockit/error.h>
#include <sockit/http_files.h>
#include <sockit/server.h>

static long echo_input(void *eng, const uint8_t *data, size_t len, size_t seen, uint64_t now,
                       const struct sockit_io *io)
{
    struct iovec iov = { (void *)data, len };

    (void)eng;
    (void)seen;
    (void)now;
    return io->writev(io->ctx, &iov, 1) == 0 ? (long)len : -1;
}

static void echo_closed(void *eng, int err)
{
    (void)eng;
    (void)err;
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "outside: %s: %s\n", what, sockit_strerror(err));
    return 1;
}

/* Connect to LOCAL, send MSG, read until WANT has come (or the peer closes). */
static int exchange(const struct sockit_addr *local, const char *msg, const char *want)
{
    char got[1024] = { 0 };
    size_t len = strlen(msg), have = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || connect(fd, &local->u.sa, local->len) < 0)
        return fail("connect", -1);
    if (write(fd, msg, len) != (ssize_t)len)
        return fail("write", -1);
    while (!strstr(got, want) && have < sizeof(got) - 1) {
        ssize_t n = read(fd, got + have, sizeof(got) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    if (!strstr(got, want)) {
        fprintf(stderr, "outside: sent \"%s\", got \"%s\"\n", msg, got);
        return 1;
    }
    return 0;
}

/* Serve a folder holding index.html and fetch it. */
static int serve_folder(void)
{
    char dir[] = "/tmp/sockit-outside.XXXXXX", path[64];
    struct sockit_http_files *files = NULL;
    struct sockit_server_options o = { 0 };
    struct sockit_server_handler h;
    struct sockit_server_info info;
    struct sockit_server *srv;
    int rc;

    if (!mkdtemp(dir))
        return fail("mkdtemp", -1);
    snprintf(path, sizeof(path), "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("index.html", -1);
    fputs("<h1>served</h1>\n", f);
    fclose(f);
    sockit_endpoint_parse("tcp://127.0.0.1:1", &o.endpoint);
    o.endpoint.port = 0;
    if ((rc = sockit_http_files_new(&files, &(struct sockit_http_files_options){ .root = dir })))
        return fail("http files", rc);
    sockit_http_files_handler(files, &h);
    if ((rc = sockit_server_new(&srv, &o, &h, files)) < 0 || (rc = sockit_server_start(srv)) < 0)
        return fail("http server", rc);
    sockit_server_info(srv, &info);
    rc = exchange(&info.local, "GET / HTTP/1.0\r\n\r\n", "<h1>served</h1>");
    sockit_server_free(srv);
    sockit_http_files_free(files);
    unlink(path);
    rmdir(dir);
    return rc;
}

int main(void)
{
    static const struct sockit_engine_ops echo = { .input = echo_input, .closed = echo_closed };
    struct sockit_server_handler h = { .engine = &echo };
    struct sockit_server_options o = { 0 };
    struct sockit_server_info info;
    struct sockit_server *srv;
    int rc;

    if ((rc = sockit_endpoint_parse("tcp://127.0.0.1:1", &o.endpoint)) < 0)
        return fail("endpoint", rc);
    o.endpoint.port = 0; /* the kernel picks a free one */
    if ((rc = sockit_server_new(&srv, &o, &h, NULL)) < 0)
        return fail("server", rc);
    if ((rc = sockit_server_start(srv)) < 0)
        return fail("start", rc);
    sockit_server_info(srv, &info);
    rc = exchange(&info.local, "hello from outside\n", "hello from outside\n");
    sockit_server_free(srv);
    if (rc == 0)
        rc = serve_folder();
    if (rc == 0)
        printf("outside: ok (echo on the %s backend, a folder over HTTP)\n", info.backend);
    return rc;
}
