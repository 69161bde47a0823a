/* sockit http against clients we did not write (curl) and raw requests over a socket: what is
 * served and what is refused under the root, conditional requests, keep-alive reuse,
 * pipelining, HTTP/1.0, and every smuggling rule answered with its exact status and the
 * connection closed after it. Each test serves its own folder on a free loopback port. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/harness.h"

static char root[256], base[64];
static struct proc *server;

static void write_file(const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A folder with an index, a subfolder, a 1 MiB file, a hidden file, a symlink out of the
 * root, one inside it and a FIFO; sockit http serving it. */
static void start(void)
{
    static char big[1 << 20];
    char path[512], port[8], ep[64];

    h_tmp_path(root, sizeof(root), "http-root");
    cr_assert_eq(mkdir(root, 0755), 0);
    h_track_path(root);
    snprintf(path, sizeof(path), "%s/sub", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/.hidden", root);
    mkdir(path, 0755);
    write_file("index.html", "<h1>hello</h1>\n", 15);
    write_file("sub/a b&c.txt", "sub file\n", 9);
    write_file(".hidden/secret", "secret\n", 7);
    h_fill(big, sizeof(big), 7);
    write_file("big.bin", big, sizeof(big));
    snprintf(path, sizeof(path), "%s/out", root);
    cr_assert_eq(symlink("/etc", path), 0);
    snprintf(path, sizeof(path), "%s/in.html", root);
    cr_assert_eq(symlink("index.html", path), 0);
    snprintf(path, sizeof(path), "%s/fifo", root);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(port, sizeof(port), "%d", h_free_port());
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%s", port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%s", port);
    const char *argv[] = { h_sockit(), "http", root, "-l", ep, NULL };
    server = h_start_tracked("sockit http", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(server, "serving", 5000), "sockit http did not start");
}

static void stop(void)
{
    if (server)
        H_CHECK(h_stop(server, SIGTERM, 5000) == 0, "sockit http did not stop cleanly");
    server = NULL;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
    h_cleanup_tracked();
}

TestSuite(http, .init = start, .fini = stop, .timeout = 60);

/* Run CMD (a shell command); its stdout in a static buffer. */
static const char *curl_like(const char *cmd)
{
    static char out[65536];
    FILE *f = popen(cmd, "r");

    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);
    return out;
}

/* Run curl with ARGS (a shell fragment); its stdout in a static buffer. */
static const char *curl(const char *args)
{
    char cmd[1400];

    snprintf(cmd, sizeof(cmd), "curl -s --max-time 10 %s 2>&1", args);
    return curl_like(cmd);
}

/* The status curl got for PATH (taken as is: no normalisation by curl). */
static int status_of(const char *path)
{
    char args[512];

    snprintf(args, sizeof(args), "--path-as-is -o /dev/null -w '%%{http_code}' '%s%s'", base, path);
    return atoi(curl(args));
}

Test(http, serves_what_is_under_the_root_and_nothing_else)
{
    static const struct {
        const char *path;
        int status;
    } cases[] = {
        { "/", 200 },
        { "/index.html", 200 },
        { "/in.html", 200 }, /* a symlink inside the root */
        { "/sub", 301 },     /* a folder without its '/' */
        { "/sub/", 200 },    /* its listing */
        { "/sub/a%20b%26c.txt", 200 },
        { "/nope", 404 },
        { "/out/passwd", 404 }, /* a symlink out of the root */
        { "/.hidden/secret", 404 },
        { "/fifo", 403 }, /* not a regular file: never opened for reading */
        { "/../etc/passwd", 400 },
        { "/%2e%2e/etc/passwd", 400 },
        { "/sub/..%2f..%2fetc/passwd", 400 },
        { "/index.html%00.txt", 400 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = status_of(cases[i].path);
        H_CHECK(got == cases[i].status, "%s: %d, expected %d", cases[i].path, got, cases[i].status);
    }
}

Test(http, a_large_file_arrives_whole_and_a_listing_is_escaped)
{
    char args[1200], path[512];

    snprintf(path, sizeof(path), "%s/big.bin", root);
    snprintf(args, sizeof(args), "'%s/big.bin' | cmp - '%s' && echo same", base, path);
    cr_expect_str_eq(curl(args), "same\n");
    snprintf(args, sizeof(args), "'%s/sub/'", base);
    const char *page = curl(args);
    cr_expect(strstr(page, "href=\"a%20b%26c.txt\">a b&amp;c.txt</a>") != NULL, "%s", page);
}

Test(http, conditional_requests_answer_304)
{
    char args[512], etag[128] = "";
    const char *head;

    snprintf(args, sizeof(args), "-I '%s/index.html'", base);
    head = curl(args);
    const char *e = strstr(head, "ETag: ");
    cr_assert_not_null(e, "%s", head);
    sscanf(e + 6, "%127[^\r\n]", etag);
    snprintf(args, sizeof(args),
             "-o /dev/null -w '%%{http_code}' -H 'If-None-Match: %s' '%s/index.html'", etag, base);
    cr_expect_str_eq(curl(args), "304");
    snprintf(args, sizeof(args),
             "-o /dev/null -w '%%{http_code}' -H 'If-None-Match: \"other\"' '%s/index.html'", base);
    cr_expect_str_eq(curl(args), "200");
    snprintf(
        args, sizeof(args),
        "-o /dev/null -w '%%{http_code}' -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT' "
        "'%s/index.html'",
        base);
    cr_expect_str_eq(curl(args), "304");
}

Test(http, keep_alive_is_reused_and_http_1_0_closes)
{
    char args[512];
    const char *out;

    snprintf(args, sizeof(args), "-v -o /dev/null '%s/index.html' -o /dev/null '%s/sub/'", base,
             base);
    out = curl(args);
    cr_expect(strstr(out, "Re-using existing connection") != NULL, "%s", out);
    snprintf(args, sizeof(args), "-0 -i '%s/index.html'", base);
    out = curl(args);
    cr_expect(strstr(out, "Connection: close") != NULL, "%s", out);
    cr_expect(strstr(out, "<h1>hello</h1>") != NULL, "%s", out);
}

/* ---------------------------------------------------------------- raw requests */

static int port_of_base(void)
{
    return atoi(strrchr(base, ':') + 1);
}

/* Send REQ on a new connection and read until the server closes it (5 s at most). */
static const char *exchange(const char *req, size_t len, bool *closed)
{
    static char buf[65536];
    char ep[64];
    size_t got = 0;
    ssize_t n;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    int fd = h_connect(ep);
    cr_assert_eq(h_write_all(fd, req, len), 0);
    while (got < sizeof(buf) - 1 &&
           (n = h_read_within(fd, 5000, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    *closed = n == 0;
    buf[got] = '\0';
    close(fd);
    return buf;
}

Test(http, smuggling_attempts_get_their_status_and_the_connection_closed)
{
    static const struct {
        const char *req;
        const char *status;
    } cases[] = {
        { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
          "400" },
        { "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "400" },
        { "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", "400" },
        { "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n", "400" },
        { "GET / HTTP/1.1\nHost: h\n\n", "400" },
        { "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501" },
        { "GET / HTTP/1.1\r\n\r\n", "400" },
        { "GET http://elsewhere/ HTTP/1.1\r\nHost: h\r\n\r\n", "400" },
        { "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "505" },
        { "BREW / HTTP/1.1\r\nHost: h\r\n\r\n", "501" },
    };
    bool closed;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* A second, valid request follows on the same connection: it must not be answered. */
        char req[1024];
        int n = snprintf(req, sizeof(req), "%sGET /index.html HTTP/1.1\r\nHost: h\r\n\r\n",
                         cases[i].req);
        const char *out = exchange(req, (size_t)n, &closed);
        char want[32];
        snprintf(want, sizeof(want), "HTTP/1.1 %s ", cases[i].status);
        cr_expect(strncmp(out, want, strlen(want)) == 0, "case %zu: %.80s", i, out);
        if (strcmp(cases[i].status, "501") != 0 || strstr(cases[i].req, "gzip"))
            cr_expect(closed && !strstr(out, "<h1>hello"), "case %zu: not closed after: %s", i,
                      out);
    }
}

Test(http, a_request_line_over_8_kib_is_414_and_101_fields_are_431)
{
    static char req[80 * 1024];
    bool closed;
    int n = snprintf(req, sizeof(req), "GET /");

    memset(req + n, 'a', 8200);
    n += 8200;
    n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_expect(strncmp(exchange(req, (size_t)n, &closed), "HTTP/1.1 414 ", 13) == 0);
    cr_expect(closed);
    n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 100; i++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "X-%d: v\r\n", i);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    cr_expect(strncmp(exchange(req, (size_t)n, &closed), "HTTP/1.1 431 ", 13) == 0);
    cr_expect(closed);
}

Test(http, pipelined_requests_are_answered_in_order_with_bodies_skipped)
{
    const char *req = "GET /sub/a%20b%26c.txt HTTP/1.1\r\nHost: h\r\n\r\n"
                      "POST /index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                      "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n"
                      "HEAD /index.html HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /index.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    bool closed;
    const char *out = exchange(req, strlen(req), &closed);
    const char *a = strstr(out, "sub file"), *b = strstr(out, "405 Method Not Allowed");
    const char *c = b ? strstr(b + 1, "405 Method Not Allowed") : NULL;
    const char *d = c ? strstr(c, "HTTP/1.1 200 OK") : NULL;
    const char *e = d ? strstr(d + 1, "HTTP/1.1 200 OK") : NULL;

    cr_expect(a && b && c && d && e && a < b, "answers out of order or missing:\n%s", out);
    cr_expect(e && strstr(e, "<h1>hello</h1>") != NULL, "the last GET's body:\n%s", out);
    cr_expect(closed, "Connection: close closes");
}

Test(http, ranges_single_multiple_unsatisfiable_and_if_range)
{
    char args[1200], path[512];
    const char *out;

    snprintf(path, sizeof(path), "%s/big.bin", root);
    snprintf(args, sizeof(args),
             "-r 1000-1999 -w '%%{http_code}' -o /tmp/sockit-range.$$ '%s/big.bin' && "
             "tail -c +1001 '%s' | head -c 1000 | cmp - /tmp/sockit-range.$$ && echo ' same'; "
             "rm -f /tmp/sockit-range.$$",
             base, path);
    cr_expect_str_eq(curl(args), "206 same\n");
    snprintf(args, sizeof(args), "-i -r 0-4,10-14 '%s/index.html'", base);
    out = curl(args);
    cr_expect(strstr(out, "HTTP/1.1 206") && strstr(out, "multipart/byteranges; boundary=") &&
                  strstr(out, "Content-Range: bytes 0-4/15\r\n\r\n<h1>h") &&
                  strstr(out, "Content-Range: bytes 10-14/15\r\n\r\n/h1>"),
              "%s", out);
    snprintf(args, sizeof(args), "-i -r 100- '%s/index.html'", base);
    out = curl(args);
    cr_expect(strstr(out, "HTTP/1.1 416") && strstr(out, "Content-Range: bytes */15"), "%s", out);
    snprintf(args, sizeof(args),
             "-o /dev/null -w '%%{http_code} %%{size_download}' -r 0-4 -H 'If-Range: \"stale\"' "
             "'%s/index.html'",
             base);
    cr_expect_str_eq(curl(args), "200 15", "a stale If-Range gets the whole");
}

/* ---------------------------------------------------------------- slow clients */

/* Serve the same folder on the same port again, with OPT and VALUE added. */
static void restart_with(const char *opt, const char *value)
{
    char ep[64];

    H_CHECK(h_stop(server, SIGTERM, 5000) == 0, "the first server did not stop");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    const char *argv[] = { h_sockit(), "http", root, "-l", ep, opt, value, NULL };
    server = h_start_tracked("sockit http (restarted)", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(server, "serving", 5000), "sockit http did not start again");
}

/* Over --max-clients, a client is answered 503 at once instead of waiting unseen. */
Test(http, a_client_over_max_clients_gets_503)
{
    char ep[64], buf[512];
    const char *req = "GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n";

    restart_with("--max-clients", "1");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    int first = h_connect(ep);
    cr_assert_eq(h_write_all(first, req, strlen(req)), 0);
    cr_assert_gt(h_read_within(first, 2000, buf, sizeof(buf)), 0, "the first client is served");
    int second = h_connect(ep);
    cr_assert_eq(h_write_all(second, req, strlen(req)), 0);
    ssize_t n = h_read_within(second, 2000, buf, sizeof(buf) - 1);
    cr_assert_gt(n, 0, "the second client got nothing");
    buf[n] = '\0';
    cr_expect(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
    close(second);
    close(first);
}

/* 1000 connections send a head a byte at a time, never finishing it (slowloris), while a
 * normal client asks for a page 20 times: each answer comes within 100 ms, and the slow
 * connections are answered 408 and closed once --header-timeout (2 s) has passed, though
 * they send nothing more: the server's own deadline, not their next byte, ends them. */
Test(http, slowloris_connections_neither_delay_others_nor_stay)
{
    enum { SLOW = 1000 };
    static int fds[SLOW];
    const char *partial = "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ";
    char ep[64], args[256];
    struct rlimit rl = { 4096, 4096 };

    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    restart_with("--header-timeout", "2");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    for (int i = 0; i < SLOW; i++) {
        fds[i] = h_connect(ep);
        cr_assert_eq(h_write_all(fds[i], partial, strlen(partial)), 0);
    }
    long long start_ms = h_now_ms();
    snprintf(args, sizeof(args), "-o /dev/null -w '%%{http_code}' '%s/index.html'", base);
    H_CHECK(strcmp(curl(args), "200") == 0, "curl beside %d slow clients: no 200", SLOW);
    int normal = h_connect(ep); /* the timed client: a raw keep-alive connection, no process
                                   start in the measured time */
    for (int round = 0; round < 20; round++) {
        const char *get = "GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n";
        char answer[512];
        for (int i = round * 50; i < round * 50 + 50; i++) /* keep them trickling */
            h_write_all(fds[i], "x", 1);
        long long t0 = h_now_ms();
        cr_assert_eq(h_write_all(normal, get, strlen(get)), 0);
        ssize_t got = 0, n;
        while ((answer[got] = '\0', !strstr(answer, "<h1>hello</h1>")) &&
               (n = h_read_within(normal, 1000, answer + got, sizeof(answer) - 1 - (size_t)got)) >
                   0)
            got += n;
        long long took = h_now_ms() - t0;
        H_CHECK(strncmp(answer, "HTTP/1.1 200 ", 13) == 0, "round %d: %s", round, answer);
        H_CHECK(took < 100, "round %d: the answer took %lld ms beside %d slow clients", round, took,
                SLOW);
    }
    close(normal);
    while (h_now_ms() - start_ms < 2500)
        usleep(50000);
    int answered = 0, closed = 0;
    for (int i = 0; i < SLOW; i++) {
        char buf[256];
        ssize_t n = h_read_within(fds[i], 2000, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            answered += strncmp(buf, "HTTP/1.1 408 ", 13) == 0;
            closed += h_read_within(fds[i], 2000, buf, sizeof(buf)) == 0;
        }
        close(fds[i]);
    }
    cr_expect_eq(answered, SLOW, "%d of %d slow connections got 408", answered, SLOW);
    cr_expect_eq(closed, SLOW, "%d of %d were closed after it", closed, SLOW);
}

/* A request whose body stops after 10 of its 100,000 bytes: the answer comes at once, and the
 * connection is closed once --body-timeout (1 s) has passed with the body under 1 KiB/s,
 * though the client sends nothing more (before, it stayed for the 60 s idle timeout). */
Test(http, a_body_that_stops_is_closed_at_the_body_timeout)
{
    const char *req = "GET /index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n"
                      "0123456789";
    char ep[64], buf[1024];

    restart_with("--body-timeout", "1");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    int fd = h_connect(ep);
    cr_assert_eq(h_write_all(fd, req, strlen(req)), 0);
    ssize_t n = h_read_within(fd, 2000, buf, sizeof(buf) - 1);
    cr_assert_gt(n, 0, "no answer");
    buf[n] = '\0';
    cr_expect(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    long long t0 = h_now_ms();
    while ((n = h_read_within(fd, 4000, buf, sizeof(buf))) > 0)
        ; /* the rest of the answer, then the end */
    long long took = h_now_ms() - t0;
    cr_expect_eq(n, 0, "the stalled connection was not closed within 4 s");
    cr_expect_lt(took, 3000, "closed after %lld ms", took);
    close(fd);
}

/* The open-file cache keeps a file open and a small one's bytes, and looks again at most once
 * a second: a file rewritten, replaced by rename or removed is seen within that second. */
Test(http, a_changed_file_is_served_anew_within_a_second)
{
    char args[512], path[512], tmp[520];

    snprintf(args, sizeof(args), "'%s/sub/a%%20b%%26c.txt'", base);
    cr_assert_str_eq(curl(args), "sub file\n");
    write_file("sub/a b&c.txt", "rewritten\n", 10);
    usleep(1100 * 1000);
    cr_expect_str_eq(curl(args), "rewritten\n");
    snprintf(path, sizeof(path), "%s/sub/a b&c.txt", root);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs("renamed in\n", f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
    usleep(1100 * 1000);
    cr_expect_str_eq(curl(args), "renamed in\n");
    cr_assert_eq(unlink(path), 0);
    usleep(1100 * 1000);
    snprintf(args, sizeof(args), "-o /dev/null -w '%%{http_code}' '%s/sub/a%%20b%%26c.txt'", base);
    cr_expect_str_eq(curl(args), "404");
}

/* ---------------------------------------------------------------- other clients */

Test(http, wrk_and_ab_get_only_2xx)
{
    const char *out;
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "wrk -t1 -c20 -d1s '%s/index.html' 2>&1", base);
    FILE *f = popen(cmd, "r");
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    pclose(f);
    cr_expect(strstr(buf, "requests in") != NULL, "%s", buf);
    cr_expect(strstr(buf, "Non-2xx") == NULL && strstr(buf, "Socket errors") == NULL, "%s", buf);
    snprintf(cmd, sizeof(cmd), "ab -q -k -n 2000 -c 10 '%s/big.bin' 2>&1", base);
    f = popen(cmd, "r");
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    pclose(f);
    out = buf;
    cr_expect(strstr(out, "Complete requests:      2000") != NULL, "%s", out);
    cr_expect(strstr(out, "Failed requests:        0") != NULL, "%s", out);
    cr_expect(strstr(out, "Non-2xx") == NULL, "%s", out);
    cr_expect(strstr(out, "Keep-Alive requests:    2000") != NULL, "%s", out);
}

Test(http, python_http_client_reads_keep_alive_answers)
{
    char cmd[1200];
    static char buf[4096];

    snprintf(cmd, sizeof(cmd),
             "python3 -c \"\nimport http.client\n"
             "c = http.client.HTTPConnection('127.0.0.1', %d, timeout=5)\n"
             "for path in ['/index.html', '/sub/', '/nope', '/index.html']:\n"
             "    c.request('GET', path)\n"
             "    r = c.getresponse()\n"
             "    body = r.read()\n"
             "    size = 'listing' if b'a%%20b%%26c.txt' in body else len(body)\n"
             "    print(r.status, size, r.getheader('Content-Type'))\n"
             "c.request('HEAD', '/big.bin')\n"
             "r = c.getresponse(); r.read()\n"
             "print(r.status, r.getheader('Content-Length'))\n\" 2>&1",
             port_of_base());
    FILE *f = popen(cmd, "r");
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    pclose(f);
    cr_expect_str_eq(buf, "200 15 text/html\n200 listing text/html; charset=utf-8\n"
                          "404 14 text/plain; charset=utf-8\n200 15 text/html\n200 1048576\n");
}

/* SIGTERM: no new connection, the answer in flight finished, idle connections closed, exit 0. */
Test(http, sigterm_finishes_the_answer_in_flight)
{
    char ep[64], path[512], buf[65536];
    const char *req = "GET /huge HTTP/1.1\r\nHost: h\r\n\r\n";
    long long total = 0, want = 64ll << 20;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/huge", root);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, want), 0); /* sparse: 64 MiB of zeros */
    close(fd);
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    int idle = h_connect(ep); /* a keep-alive connection with nothing asked */
    int c = h_connect(ep);
    cr_assert_eq(h_write_all(c, req, strlen(req)), 0);
    cr_assert_gt(n = h_read_within(c, 2000, buf, sizeof(buf)), 0);
    char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body);
    total = n - (body + 4 - buf);
    kill(server->pid, SIGTERM);
    usleep(200 * 1000);
    cr_expect_eq(h_read_within(idle, 2000, buf, sizeof(buf)), 0, "the idle one is closed");
    while (total < want && (n = h_read_within(c, 5000, buf, sizeof(buf))) > 0)
        total += n;
    cr_expect_eq(total, want, "%lld of %lld body bytes after SIGTERM", total, want);
    cr_expect_eq(h_read_within(c, 5000, buf, sizeof(buf)), 0, "closed after the answer");
    H_CHECK(h_wait(server, 5000) == 0, "sockit http did not exit 0 after draining");
    server = NULL;
    close(c);
    close(idle);
}

/* On a terminal (here script(1)'s), a live line each second: requests and answers by class. */
Test(http, a_terminal_gets_a_live_line)
{
    char ep[64], cmd[1024], out[256], args[512];

    H_CHECK(h_stop(server, SIGTERM, 5000) == 0, "the first server did not stop");
    server = NULL;
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    h_tmp_path(out, sizeof(out), "http-tty");
    h_track_path(out);
    snprintf(cmd, sizeof(cmd), "%s http '%s' -l %s", h_sockit(), root, ep);
    const char *argv[] = { "timeout", "-s", "TERM", "4", "script", "-qfc", cmd, out, NULL };
    struct proc *tty = h_start_tracked("script sockit http", argv, "", 0, NULL);
    usleep(1000 * 1000);
    snprintf(args, sizeof(args), "-o /dev/null '%s/index.html'", base);
    for (int i = 0; i < 10; i++)
        curl(args);
    h_wait(tty, 10000);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    static char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_expect(strstr(text, "req/s") != NULL && strstr(text, "2xx 10 ") != NULL, "%s", text);
}

/* ---------------------------------------------------------------- a browser */

/* Headless Chromium fetches a page and a listing: the DOM it built holds what was served, and
 * its screenshot (read by tests/support/png_stats.py) shows text, and blue links on the
 * listing. */
Test(http, chromium_renders_a_page_and_a_listing, .timeout = 120)
{
    char cmd[1024], shot[256];
    int w, h, dark, blue;
    FILE *f;

    if (system("command -v chromium >/dev/null") != 0)
        cr_assert_fail("chromium is missing: make deps installs it");
    snprintf(cmd, sizeof(cmd),
             "timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom '%s/sub/' "
             "2>/dev/null",
             base);
    cr_expect(strstr(curl_like(cmd), "<h1>Index of /sub/</h1>") != NULL, "the DOM of the listing");
    h_tmp_path(shot, sizeof(shot), "http-shot.png");
    h_track_path(shot);
    snprintf(cmd, sizeof(cmd),
             "timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
             "--window-size=800,600 --screenshot='%s' '%s/sub/' >/dev/null 2>&1 && "
             "python3 tests/support/png_stats.py '%s'",
             shot, base, shot);
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%d %d %d %d", &w, &h, &dark, &blue), 4, "no screenshot read");
    pclose(f);
    cr_expect(w == 800 && h == 600, "%dx%d", w, h);
    cr_expect_gt(dark, 1000, "%d dark pixels: the title and the table", dark);
    cr_expect_gt(blue, 50, "%d blue pixels: the links", blue);
    snprintf(cmd, sizeof(cmd),
             "timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom '%s/' "
             "2>/dev/null",
             base);
    cr_expect(strstr(curl_like(cmd), "<h1>hello</h1>") != NULL, "index.html in the DOM");
}

/* --threads 2 serves from two loops on one port; --trace shows each request's socket calls. */
Test(http, two_threads_and_trace)
{
    char ep[64], args[512];

    H_CHECK(h_stop(server, SIGTERM, 5000) == 0, "the first server did not stop");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    const char *argv[] = { h_sockit(), "http", root, "-l", ep, "-T", "2", "--trace", NULL };
    server = h_start_tracked("sockit http -T 2 --trace", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(server, "2 threads", 5000), "sockit http -T 2 did not start");
    snprintf(args, sizeof(args), "-o /dev/null -w '%%{http_code}' '%s/index.html'", base);
    for (int i = 0; i < 20; i++)
        H_CHECK(strcmp(curl(args), "200") == 0, "request %d", i);
    H_CHECK(h_wait_stderr(server, "accept4(", 2000) || h_wait_stderr(server, "accept(", 100),
            "--trace shows no accept");
    H_CHECK(h_wait_stderr(server, "send", 2000), "--trace shows no send");
}

/* Expect: 100-continue on a GET with a body: the final answer comes at once (no 100, no
 * waiting for the body), and the connection closes after it rather than wait for the body. */
Test(http, expect_continue_gets_the_answer_and_a_close)
{
    const char *req = "GET /index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n"
                      "Expect: 100-continue\r\n\r\n";
    bool closed;
    const char *out = exchange(req, strlen(req), &closed);

    cr_expect(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    cr_expect(strstr(out, "Connection: close") != NULL && closed, "%s", out);
}

/* curl --next: several requests, one connection, each answered in order. */
Test(http, curl_next_requests_share_one_connection)
{
    char args[1024];
    const char *out;

    snprintf(args, sizeof(args),
             "--http1.1 -v '%s/index.html' --next --http1.1 -I '%s/big.bin' --next --http1.1 "
             "'%s/sub/a%%20b%%26c.txt'",
             base, base, base);
    out = curl(args);
    cr_expect(strstr(out, "<h1>hello</h1>") != NULL, "%s", out);
    cr_expect(strstr(out, "Content-Length: 1048576") != NULL, "%s", out);
    cr_expect(strstr(out, "sub file") != NULL, "%s", out);
    cr_expect(strstr(out, "Re-using existing connection") != NULL, "%s", out);
}

/* --access-log: one line per request in the combined format, the client without its port. */
Test(http, access_log_lines_are_combined_format)
{
    char ep[64], log[256], args[512];
    static char text[4096];

    H_CHECK(h_stop(server, SIGTERM, 5000) == 0, "the first server did not stop");
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port_of_base());
    h_tmp_path(log, sizeof(log), "http-access");
    h_track_path(log);
    const char *argv[] = { h_sockit(), "http", root, "-l", ep, "--access-log", log, NULL };
    server = h_start_tracked("sockit http --access-log", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(server, "serving", 5000), "sockit http did not start");
    snprintf(args, sizeof(args), "-o /dev/null -A 'agent \"x\"' '%s/index.html'", base);
    curl(args);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_expect(strncmp(text, "127.0.0.1 - - [", 15) == 0, "%s", text);
    cr_expect(strstr(text, "] \"GET /index.html HTTP/1.1\" 200 15 \"-\" \"agent \\x22x\\x22\"\n") !=
                  NULL,
              "%s", text);
}
