/* Unit tests for the stream output queue and input control (sockit/loop.h, "streams"):
 * sockit_stream_writev, write_shared, send_file, the hard output limit (max_output),
 * read_stop / read_start, and sockit_stream_connect. Every test runs on every backend variant
 * (backends.h); those on a connected pair run over a socketpair (name_unix) and over loopback
 * TCP (name_tcp). As in test_stream.c, the peer is the test's own non-blocking socket driven
 * by a watcher on the same loop, and a deadline timer turns a hang into a failure (struct sx
 * and its peer: stream_peer.h). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "backends.h"
#include "sockit/endpoint.h"
#include "sockit/loop.h"
#include "sockit/shared.h"
#include "stream_peer.h"

/* Whether the backend sends at once from a write (epoll, poll), or only once the loop runs
 * (io_uring). */
static bool readiness(void)
{
    return test_backend != SOCKIT_BACKEND_URING;
}

/* The expected byte stream, built as the test writes. */
static void want_add(struct bytes *want, const void *data, size_t len)
{
    if (len)
        bytes_add(want, data, len);
}

/* The stream flushes everything and closes; the peer reads it all, then the end of stream. */
static void flush_and_check(struct sx *x, const struct bytes *want, const char *what)
{
    sockit_stream_close_after_flush(x->s);
    peer_read(x);
    sx_run(x, what);
    expect_bytes(&x->pin, want->p, want->n, what);
    cr_expect(x->peer_eof, "%s: no end of stream at the peer", what);
    cr_expect_eq(x->close_calls, 1);
    cr_expect_eq(x->close_err, 0, "%s: on_close err %d (%s)", what, x->close_err,
                 sockit_strerror(x->close_err));
}

/* Fill the stream's socket from its own fd (not through the stream) until the kernel takes no
 * more; returns the bytes sent, which are WANT's first bytes. */
static size_t fill_socket(int fd, struct bytes *want, unsigned seed)
{
    unsigned char chunk[4096];
    size_t total = 0;
    for (unsigned i = 0;; i++) {
        h_fill(chunk, sizeof chunk, seed + i);
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
            break;
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        want_add(want, chunk, (size_t)n);
        total += (size_t)n;
    }
    return total;
}

/* The peer reads exactly N more bytes, outside the loop (1 s at most). */
static void peer_read_exactly(struct sx *x, size_t n)
{
    static char buf[65536];
    long long deadline = h_now_ms() + 1000;
    while (n > 0 && h_now_ms() < deadline) {
        ssize_t r = recv(x->fd[1], buf, n < sizeof buf ? n : sizeof buf, 0);
        if (r > 0) {
            bytes_add(&x->pin, buf, (size_t)r);
            n -= (size_t)r;
            continue;
        }
        cr_assert(r < 0 && (errno == EAGAIN || errno == EINTR), "peer recv: %zd (%s)", r,
                  r < 0 ? strerror(errno) : "end of stream");
        struct pollfd p = { .fd = x->fd[1], .events = POLLIN };
        poll(&p, 1, 10);
    }
    cr_assert_eq(n, 0, "the peer missed %zu bytes", n);
}

/* Read everything the kernel still carries towards the peer, outside the loop: for TCP, wait
 * until the stream's send queue is empty too. */
static void peer_read_kernel(struct sx *x)
{
    long long deadline = h_now_ms() + 1000;
    for (;;) {
        peer_drain(x, x->fd[1]);
        bool empty = inq(x->fd[1]) == 0 && (x->tr == UNIX_PAIR || outq(x->fd[0]) == 0);
        if (empty || h_now_ms() > deadline)
            break;
        h_sleep_ms(1);
    }
    cr_assert_eq(inq(x->fd[1]), 0, "the peer's queue did not empty");
}

/* ---------------------------------------------------------------- writev */

STREAM_TEST(writev_sends_a_head_and_a_body_in_order)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 8000\r\n\r\n";
    enum { BODY = 8000 };
    unsigned char *body = pattern(BODY, 11);
    struct bytes want = { 0 };
    want_add(&want, head, sizeof head - 1);
    want_add(&want, body, BODY);
    struct iovec iov[2] = { { (void *)head, sizeof head - 1 }, { body, BODY } };
    cr_assert_eq(sockit_stream_writev(x.s, iov, 2), 0);
    if (readiness())
        cr_expect_eq(sockit_stream_pending(x.s), 0,
                     "%zu of %zu bytes pending: the empty socket did not take a small writev at "
                     "once",
                     sockit_stream_pending(x.s), want.n);
    else
        cr_expect_leq(sockit_stream_pending(x.s), want.n);
    memset(body, 0, BODY); /* the caller's memory is its own again on return */
    /* then 100 small entries, some empty, in one call: taken at once too */
    static struct iovec many[100];
    unsigned char *small = pattern(100 * 160, 15);
    size_t total = 0;
    for (int i = 0; i < 100; i++) {
        many[i] = (struct iovec){ small + total, (size_t)(i * 37 % 100) };
        total += many[i].iov_len;
    }
    cr_assert_eq(sockit_stream_writev(x.s, many, 100), 0);
    want_add(&want, small, total);
    if (readiness())
        cr_expect_eq(sockit_stream_pending(x.s), 0, "%zu bytes of 100 small entries pending",
                     sockit_stream_pending(x.s));
    flush_and_check(&x, &want, "head and body, then small entries");
    free(small);
    free(body);
    free(want.p);
    sx_close(&x);
}

/* Sizes that cycle through empty, tiny and page-sized iovec entries. */
static const size_t iov_sizes[] = { 0, 1, 7, 0, 100, 3, 1000, 0, 0, 4096, 13, 65, 2 };

/* N iovecs over consecutive bytes of SRC (sizes from iov_sizes, starting at K); returns the
 * bytes they cover. */
static size_t make_iov(struct iovec *iov, int n, const unsigned char *src, int k)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t len = iov_sizes[(size_t)(k + i) % (sizeof iov_sizes / sizeof iov_sizes[0])];
        iov[i] = (struct iovec){ (void *)(src + off), len };
        off += len;
    }
    return off;
}

/* 1024 entries, then 100 more behind pending output (more than the 64 pieces of one sendmsg
 * on epoll and poll), then only empty ones: everything arrives in order, and a writev behind
 * pending output adds exactly its bytes to pending. */
STREAM_TEST(writev_of_many_small_and_empty_iovecs_arrives_in_order)
{
    struct sx x;
    sx_open(&x, tr, 32 * 1024, NULL);
    static struct iovec iov[1024];
    unsigned char *src = pattern(2 << 20, 12);
    struct bytes want = { 0 };

    size_t a = make_iov(iov, 1024, src, 0);
    cr_assert_eq(sockit_stream_writev(x.s, iov, 1024), 0);
    want_add(&want, src, a);
    size_t p1 = sockit_stream_pending(x.s);
    cr_assert_gt(p1, 0, "small socket buffers took all of %zu bytes at once", a);
    cr_assert_leq(p1, a);

    size_t b = make_iov(iov, 100, src + a, 5);
    cr_assert_eq(sockit_stream_writev(x.s, iov, 100), 0);
    want_add(&want, src + a, b);
    cr_expect_eq(sockit_stream_pending(x.s), p1 + b, "pending %zu after writev of %zu behind %zu",
                 sockit_stream_pending(x.s), b, p1);

    for (int i = 0; i < 70; i++)
        iov[i] = (struct iovec){ src, 0 };
    cr_assert_eq(sockit_stream_writev(x.s, iov, 70), 0, "a writev of empty entries only");
    cr_assert_eq(sockit_stream_writev(x.s, NULL, 0), 0, "a writev of no entries");
    cr_expect_eq(sockit_stream_pending(x.s), p1 + b);

    flush_and_check(&x, &want, "1124 iovecs");
    free(src);
    free(want.p);
    sx_close(&x);
}

/* The socket has some room, not enough: what the kernel took at once is exactly what the peer
 * can read, and pending is the rest (epoll, poll). io_uring sends nothing before the loop
 * runs: pending is all of it. Either way pending + taken = written. */
STREAM_TEST(writev_into_a_nearly_full_socket_queues_only_the_remainder)
{
    struct sx x;
    sx_open(&x, tr, 64 * 1024, NULL);
    struct bytes want = { 0 };
    size_t filled = fill_socket(x.fd[0], &want, 100);
    peer_read_exactly(&x, filled / 2); /* room for some, not for all that follows */
    /* unix: the skbs read are freed, so the kernel takes more at once; TCP: once the peer's
     * window update has freed send buffer space */
    bool room = tr == UNIX_PAIR;
    if (!room) {
        struct pollfd p = { .fd = x.fd[0], .events = POLLOUT };
        room = poll(&p, 1, 500) == 1;
    }

    static const size_t sizes[] = { 0, 1, 1000, 4096, 7, 0, 20000, 3 };
    static struct iovec iov[300];
    unsigned char *src = pattern(4 << 20, 13);
    size_t total = 0;
    for (int i = 0; i < 300; i++) {
        iov[i] = (struct iovec){ src + total, sizes[i % 8] };
        total += sizes[i % 8];
    }
    cr_assert_gt(total, 2 * filled, "the writev must not fit: %zu bytes, %zu filled", total,
                 filled);
    cr_assert_eq(sockit_stream_writev(x.s, iov, 300), 0);
    want_add(&want, src, total);
    size_t pend = sockit_stream_pending(x.s);

    peer_read_kernel(&x); /* the loop does not run: only what the kernel took arrives */
    cr_assert_geq(x.pin.n, filled, "the peer read %zu bytes, %zu were filled", x.pin.n, filled);
    size_t taken = x.pin.n - filled;
    cr_expect_eq(pend + taken, total, "pending %zu + taken by the kernel %zu != %zu written (%s)",
                 pend, taken, total, backend_str(test_backend));
    if (readiness() && room)
        cr_expect_gt(taken, 0, "a socket with room took none of the writev");
    cr_expect_gt(pend, 0, "%zu bytes fit in a socket that held %zu", total, filled);
    flush_and_check(&x, &want, "fill, then a writev into the rest of the room");
    free(src);
    free(want.p);
    sx_close(&x);
}

LOOP_TEST(writev_rejects_a_count_below_0_or_above_1024)
{
    struct sx x;
    sx_open(&x, UNIX_PAIR, 0, NULL);
    static struct iovec iov[1025];
    unsigned char *src = pattern(1025, 14);
    for (int i = 0; i < 1025; i++)
        iov[i] = (struct iovec){ src + i, 1 };
    cr_expect_eq(sockit_stream_writev(x.s, iov, -1), -EINVAL);
    cr_expect_eq(sockit_stream_writev(x.s, iov, 1025), -EINVAL);
    cr_expect_eq(sockit_stream_writev(x.s, iov, 1 << 30), -EINVAL);
    cr_expect_eq(sockit_stream_pending(x.s), 0, "a refused writev queued something");
    cr_expect_eq(x.close_calls, 0);
    cr_expect_eq(sockit_stream_writev(x.s, iov, 1024), 0, "1024 is allowed");
    struct bytes want = { 0 };
    want_add(&want, src, 1024);
    flush_and_check(&x, &want, "1024 one-byte iovecs after refused ones");
    free(src);
    free(want.p);
    sx_close(&x);
}

/* ---------------------------------------------------------------- shared buffers */

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* A temp file (unlinked at once): its fd. */
static int temp_fd(void)
{
    char path[] = "/tmp/sockit-test-stream-out-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    return fd;
}

/* A shared file object on a temp file of LEN zero bytes; the fd in *FD, to see whether the
 * object still holds it open. */
static struct sockit_shared *shared_zero_file(size_t len, int *fd)
{
    *fd = temp_fd();
    cr_assert_eq(ftruncate(*fd, (off_t)len), 0);
    struct sockit_shared *file = NULL;
    cr_assert_eq(sockit_shared_file(*fd, &file), 0);
    return file;
}

static struct sockit_shared *shared_pattern(size_t len, unsigned seed)
{
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_new(len, &sh), 0);
    h_fill(sockit_shared_data(sh), len, seed);
    return sh;
}

static void write_ok(struct sx *x, struct bytes *want, const void *data, size_t len)
{
    int rc = sockit_stream_write(x->s, data, len);
    cr_assert_eq(rc, 0, "write %zu: %d (%s)", len, rc, sockit_strerror(rc));
    want_add(want, data, len);
}

static void write_shared_ok(struct sx *x, struct bytes *want, struct sockit_shared *sh, size_t off,
                            size_t len)
{
    size_t before = sockit_stream_pending(x->s);
    int rc = sockit_stream_write_shared(x->s, sh, off, len);
    cr_assert_eq(rc, 0, "write_shared [%zu, +%zu): %d (%s)", off, len, rc, sockit_strerror(rc));
    if (before > 0)
        cr_assert_eq(sockit_stream_pending(x->s), before + len,
                     "pending %zu after write_shared of %zu behind %zu",
                     sockit_stream_pending(x->s), len, before);
    want_add(want, (const char *)sockit_shared_data(sh) + off, len);
}

/* One buffer queued on 8 streams at once, on each several times (whole, slices, the last
 * byte, then 150 small slices: more pieces than one sendmsg or io_uring request takes) mixed
 * with plain writes. The creator drops its reference as soon as it has queued it: the streams'
 * references keep it alive until the last byte is sent (ASan would see a use after free). */
#define SHARED_STREAMS 8

STREAM_TEST(write_shared_one_buffer_on_many_streams_arrives_intact)
{
    struct sockit_loop *loop = new_loop();
    struct sx x[SHARED_STREAMS];
    struct bytes want[SHARED_STREAMS] = { 0 };
    enum { LEN = 300 * 1024 };
    struct sockit_shared *sh = shared_pattern(LEN, 20);

    for (int i = 0; i < SHARED_STREAMS; i++) {
        char head[32];
        int n = snprintf(head, sizeof head, "stream %d\n", i);
        sx_open_on(&x[i], loop, tr, 32 * 1024, NULL);
        write_ok(&x[i], &want[i], head, (size_t)n);
        write_shared_ok(&x[i], &want[i], sh, 0, LEN);
        write_ok(&x[i], &want[i], "mid", 3);
        write_shared_ok(&x[i], &want[i], sh, 1000 * (size_t)i + 1, 5000);
        write_shared_ok(&x[i], &want[i], sh, LEN - 1, 1);
        for (size_t j = 0; j < 150; j++)
            write_shared_ok(&x[i], &want[i], sh, (j * 997 + (size_t)i) % (LEN - 100), 37 + j % 50);
        write_ok(&x[i], &want[i], "end", 3);
        cr_assert_gt(sockit_stream_pending(x[i].s), 0);
    }
    sockit_shared_unref(sh); /* the streams hold their own references now */
    for (int i = 0; i < SHARED_STREAMS; i++) {
        sockit_stream_close_after_flush(x[i].s);
        peer_read(&x[i]);
    }
    run_ok(loop);
    for (int i = 0; i < SHARED_STREAMS; i++) {
        cr_assert_not(x[i].timed_out, "stream %d: timed out, the peer read %zu of %zu bytes", i,
                      x[i].pin.n, want[i].n);
        expect_bytes(&x[i].pin, want[i].p, want[i].n, "a stream's copy of the shared buffer");
        cr_expect(x[i].peer_eof);
        cr_expect_eq(x[i].close_calls, 1);
        cr_expect_eq(x[i].close_err, 0, "stream %d: %s", i, sockit_strerror(x[i].close_err));
    }
    sockit_loop_free(loop);
    for (int i = 0; i < SHARED_STREAMS; i++) {
        sx_free(&x[i]);
        free(want[i].p);
    }
}

/* A stream that closes with shared pieces queued drops exactly its own references: the
 * creator's buffer stays valid (ASan: no use after free), a file queued and left by its creator
 * is closed with the stream. */
STREAM_TEST(close_releases_queued_shared_buffers_and_files)
{
    struct sx x;
    sx_open(&x, tr, 32 * 1024, NULL);
    struct sockit_shared *sh = shared_pattern(100 * 1024, 21);
    unsigned char *copy = pattern(100 * 1024, 21);
    int fd;
    struct sockit_shared *file = shared_zero_file(1 << 20, &fd);

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sockit_stream_write_shared(x.s, sh, 0, 100 * 1024), 0);
        cr_assert_eq(sockit_stream_send_file(x.s, file, 0, 1 << 20), 0);
    }
    cr_assert_gt(sockit_stream_pending(x.s), 0);
    sockit_shared_unref(file); /* the stream's references keep the file open */
    cr_expect(fd_open(fd), "the file was closed while a stream still had it queued");
    sockit_stream_close(x.s);
    sockit_timer_stop(x.loop, &x.deadline);
    run_ok(x.loop);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_not(fd_open(fd), "the closed stream kept its references to the file");
    cr_expect_arr_eq(sockit_shared_data(sh), copy, 100 * 1024, "the creator's buffer changed");
    sockit_shared_unref(sh);
    free(copy);
    sx_close(&x);
}

LOOP_TEST(write_shared_rejects_ranges_outside_the_buffer_and_files)
{
    struct sx x;
    sx_open(&x, UNIX_PAIR, 0, NULL);
    struct sockit_shared *sh = shared_pattern(100, 22);
    int fd;
    struct sockit_shared *file = shared_zero_file(100, &fd);
    static const struct {
        size_t off, len;
    } bad[] = { { 101, 0 },       { 100, 1 },      { 0, 101 },     { 99, 2 },
                { 50, SIZE_MAX }, { SIZE_MAX, 1 }, { SIZE_MAX, 0 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(sockit_stream_write_shared(x.s, sh, bad[i].off, bad[i].len), -EINVAL,
                     "range [%zu, +%zu) of a 100-byte buffer", bad[i].off, bad[i].len);
    cr_expect_eq(sockit_stream_write_shared(x.s, file, 0, 10), -EINVAL, "a file");
    cr_expect_eq(sockit_stream_pending(x.s), 0, "a refused write_shared queued something");
    cr_expect_eq(x.close_calls, 0);
    sockit_shared_unref(file);
    cr_expect_not(fd_open(fd), "a refused write_shared kept a reference");
    struct bytes want = { 0 };
    write_shared_ok(&x, &want, sh, 100, 0); /* empty, at the end: inside */
    write_shared_ok(&x, &want, sh, 0, 100);
    write_shared_ok(&x, &want, sh, 99, 1);
    sockit_shared_unref(sh);
    flush_and_check(&x, &want, "the valid ranges after refused ones");
    free(want.p);
    sx_close(&x);
}

/* ---------------------------------------------------------------- files */

struct tfile {
    int fd;
    unsigned char *data; /* what the file holds */
    size_t len;
    struct sockit_shared *sh;
};

/* A temp file of LEN pattern bytes (unlinked at once), wrapped in a shared object. */
static void tfile_make(struct tfile *f, size_t len, unsigned seed)
{
    f->fd = temp_fd();
    f->data = pattern(len, seed);
    f->len = len;
    cr_assert_eq(h_write_all(f->fd, f->data, len), 0, "writing the temp file");
    cr_assert_eq(sockit_shared_file(f->fd, &f->sh), 0);
    cr_assert_eq(sockit_shared_len(f->sh), len);
}

static void send_file_ok(struct sx *x, struct bytes *want, const struct tfile *f, size_t off,
                         size_t len)
{
    size_t before = sockit_stream_pending(x->s);
    int rc = sockit_stream_send_file(x->s, f->sh, off, len);
    cr_assert_eq(rc, 0, "send_file [%zu, +%zu): %d (%s)", off, len, rc, sockit_strerror(rc));
    if (before > 0)
        cr_assert_eq(sockit_stream_pending(x->s), before + len,
                     "pending %zu after send_file of %zu behind %zu", sockit_stream_pending(x->s),
                     len, before);
    want_add(want, f->data + off, len);
}

/* Ranges of a 4 MiB file between plain writes and writev, some at odd offsets, the file's
 * first and last bytes, an empty range. The creator drops its reference at once; the file is
 * closed once the last range is sent. BUFS > 0: small socket buffers, so that sendfile meets a
 * full socket (EAGAIN) many times and resumes when there is room (io_uring: a POLLOUT poll). */
static void send_file_between_writes(enum transport tr, int bufs)
{
    struct sx x;
    sx_open(&x, tr, bufs, NULL);
    struct tfile f;
    tfile_make(&f, 4 << 20, 30);
    struct bytes want = { 0 };
    write_ok(&x, &want, "head", 4);
    send_file_ok(&x, &want, &f, 12345, (3 << 20) + 7);
    unsigned char *mid = pattern(1000, 31);
    write_ok(&x, &want, mid, 1000);
    send_file_ok(&x, &want, &f, 0, 100);
    send_file_ok(&x, &want, &f, f.len - 5, 5);
    struct iovec iov[2] = { { "ab", 2 }, { mid, 10 } };
    cr_assert_eq(sockit_stream_writev(x.s, iov, 2), 0);
    want_add(&want, "ab", 2);
    want_add(&want, mid, 10);
    send_file_ok(&x, &want, &f, f.len, 0);
    send_file_ok(&x, &want, &f, 4096, 4096);
    write_ok(&x, &want, "tail", 4);
    sockit_shared_unref(f.sh);
    if (bufs > 0) /* else the kernel may well have taken every range at once */
        cr_expect(fd_open(f.fd), "the file was closed with ranges queued");
    flush_and_check(&x, &want, "file ranges between writes");
    cr_expect_not(fd_open(f.fd), "the file stayed open after its ranges were sent");
    free(mid);
    free(f.data);
    free(want.p);
    sx_close(&x);
}

STREAM_TEST(send_file_ranges_between_writes_arrive_exactly)
{
    send_file_between_writes(tr, 0);
}

STREAM_TEST(send_file_resumes_after_a_full_socket)
{
    send_file_between_writes(tr, 16 * 1024);
}

/* A file range waits for room in the socket (sendfile met EAGAIN; io_uring: a POLLOUT poll
 * is armed) when the stream is closed: on_close(0), and the stream's reference goes, so the
 * file its creator left is closed. */
STREAM_TEST(close_while_a_file_range_waits_for_room_releases_the_file)
{
    struct sx x;
    sx_open(&x, tr, 16 * 1024, NULL);
    struct tfile f;
    tfile_make(&f, 2 << 20, 37);
    cr_assert_eq(sockit_stream_send_file(x.s, f.sh, 0, f.len), 0);
    sockit_shared_unref(f.sh);
    run_briefly(&x, 20);
    size_t pend = sockit_stream_pending(x.s);
    cr_assert_gt(pend, 0, "2 MiB went into 16 KiB socket buffers");
    cr_assert_lt(pend, f.len, "the loop sent nothing of the file in 20 ms");
    cr_expect(fd_open(f.fd), "the file was closed while its range was queued");
    sockit_stream_close(x.s);
    sx_run(&x, "on_close");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    cr_expect_not(fd_open(f.fd), "the closed stream kept its reference to the file");
    free(f.data);
    sx_close(&x);
}

LOOP_TEST(send_file_rejects_a_range_past_the_end_and_buffers)
{
    struct sx x;
    sx_open(&x, UNIX_PAIR, 0, NULL);
    struct tfile f;
    tfile_make(&f, 1000, 32);
    static const struct {
        uint64_t off, len;
    } bad[] = { { 1001, 0 },       { 1000, 1 },       { 0, 1001 },       { 999, 2 },
                { 1, UINT64_MAX }, { UINT64_MAX, 1 }, { UINT64_MAX, 0 }, { 1ull << 40, 1 << 20 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(sockit_stream_send_file(x.s, f.sh, bad[i].off, bad[i].len), -EINVAL,
                     "range [%llu, +%llu) of a 1000-byte file", (unsigned long long)bad[i].off,
                     (unsigned long long)bad[i].len);
    struct sockit_shared *buf = shared_pattern(100, 33);
    cr_expect_eq(sockit_stream_send_file(x.s, buf, 0, 10), -EINVAL, "a buffer");
    sockit_shared_unref(buf);
    cr_expect_eq(sockit_stream_pending(x.s), 0, "a refused send_file queued something");
    cr_expect_eq(x.close_calls, 0);
    struct bytes want = { 0 };
    send_file_ok(&x, &want, &f, 0, 1000);
    sockit_shared_unref(f.sh);
    flush_and_check(&x, &want, "the whole file after refused ranges");
    free(f.data);
    free(want.p);
    sx_close(&x);
}

/* An empty range queues nothing and takes no reference: with the creator's gone, the file is
 * closed at once. */
LOOP_TEST(send_file_of_zero_length_is_a_no_op)
{
    struct sx x;
    sx_open(&x, UNIX_PAIR, 0, NULL);
    struct tfile f;
    tfile_make(&f, 1000, 34);
    cr_expect_eq(sockit_stream_send_file(x.s, f.sh, 0, 0), 0);
    cr_expect_eq(sockit_stream_send_file(x.s, f.sh, 1000, 0), 0);
    cr_expect_eq(sockit_stream_pending(x.s), 0);
    sockit_shared_unref(f.sh);
    cr_expect_not(fd_open(f.fd), "an empty send_file kept a reference to the file");
    struct bytes want = { 0 };
    write_ok(&x, &want, "after", 5);
    flush_and_check(&x, &want, "a write after empty file ranges");
    free(f.data);
    free(want.p);
    sx_close(&x);
}

/* The file shrinks after its range was queued: the stream sends what the file still has, then
 * fails with -EIO; it neither sends short and carries on, nor sends what was queued after. */
STREAM_TEST(send_file_of_a_file_truncated_after_queueing_fails_with_eio)
{
    struct sx x;
    sx_open(&x, tr, 16 * 1024, NULL);
    struct tfile f;
    tfile_make(&f, 4 << 20, 35);
    struct bytes want = { 0 };
    unsigned char *head = pattern(100, 36);
    write_ok(&x, &want, head, 100);
    cr_assert_eq(sockit_stream_send_file(x.s, f.sh, 4096, 3 << 20), 0);
    cr_assert_eq(sockit_stream_write(x.s, "TRAILER", 7), 0);
    cr_assert_gt(sockit_stream_pending(x.s), (size_t)(2 << 20), "most of the range is queued");
    enum { CUT = 1 << 20 }; /* a page boundary: no page the socket may hold is touched */
    cr_assert_eq(ftruncate(f.fd, CUT), 0);
    want_add(&want, f.data + 4096, CUT - 4096);
    sockit_shared_unref(f.sh);
    peer_read(&x);
    sx_run(&x, "the failure and the end of stream at the peer");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, -EIO, "on_close err %d (%s)", x.close_err,
                 sockit_strerror(x.close_err));
    cr_expect(x.peer_eof);
    expect_bytes(&x.pin, want.p, want.n, "the head and the file up to its new end, no more");
    free(head);
    free(f.data);
    free(want.p);
    sx_close(&x);
}

/* ---------------------------------------------------------------- the hard output limit */

enum { MAX_OUT = 256 * 1024, TAIL = 100 * 1024 };
static const struct sockit_stream_limits max_limits = { .low_water = 16 * 1024,
                                                        .high_water = 64 * 1024,
                                                        .max_output = MAX_OUT };

struct limit_test {
    struct bytes *want;
    unsigned char *tail;
    bool tail_written;
};

/* Once the peer has read enough for the tail to fit again, write it and close after flush. */
static void write_tail_when_room(struct sx *x)
{
    struct limit_test *t = x->test;
    if (t->tail_written || !x->s || sockit_stream_pending(x->s) > MAX_OUT - TAIL)
        return;
    int rc = sockit_stream_write(x->s, t->tail, TAIL);
    cr_assert_eq(rc, 0, "a write after the output drained: %d (%s)", rc, sockit_strerror(rc));
    want_add(t->want, t->tail, TAIL);
    t->tail_written = true;
    sockit_stream_close_after_flush(x->s);
}

/* Refused writes of every kind: each -ENOBUFS, none queues anything, the stream stays open. */
static void expect_refused(struct sx *x, struct sockit_shared *sh, const char *when)
{
    size_t pend = sockit_stream_pending(x->s);
    struct iovec iov[2] = { { "x", 1 }, { "", 0 } };
    cr_expect_eq(sockit_stream_write(x->s, "x", 1), -ENOBUFS, "%s: write", when);
    cr_expect_eq(sockit_stream_writev(x->s, iov, 2), -ENOBUFS, "%s: writev", when);
    cr_expect_eq(sockit_stream_write_shared(x->s, sh, 0, 1), -ENOBUFS, "%s: write_shared", when);
    cr_expect_eq(sockit_stream_pending(x->s), pend, "%s: a refused write changed pending", when);
    cr_expect_eq(x->close_calls, 0, "%s: the stream closed", when);
}

/* The peer does not read. Writes succeed until the output held reaches max_output; one that
 * would pass it is refused and queues nothing; a file range is not held in memory and is
 * accepted anyway. The stream stays open, and once the peer reads, the output drains and new
 * writes are accepted; the peer gets exactly what was accepted. */
STREAM_TEST(max_output_refuses_a_write_that_would_pass_it)
{
    struct sx x;
    sx_open(&x, tr, 32 * 1024, &max_limits);
    enum { CHUNK = 4096 };
    struct bytes want = { 0 };
    unsigned char *src = pattern(2 * MAX_OUT + CHUNK, 40);
    size_t off = 0;
    int rc = 0;
    while (off < 2 * MAX_OUT && (rc = sockit_stream_write(x.s, src + off, CHUNK)) == 0) {
        want_add(&want, src + off, CHUNK);
        off += CHUNK;
    }
    cr_assert_eq(rc, -ENOBUFS, "after %zu bytes accepted the write gave %d", off, rc);
    size_t pend = sockit_stream_pending(x.s);
    cr_expect_leq(pend, (size_t)MAX_OUT, "%zu bytes held, the limit is %d", pend, MAX_OUT);
    cr_expect_gt(pend + CHUNK, (size_t)MAX_OUT,
                 "refused %d bytes with %zu held: the limit %d was not reached", CHUNK, pend,
                 MAX_OUT);
    if (pend < MAX_OUT) { /* exactly up to the limit is allowed */
        cr_assert_eq(sockit_stream_write(x.s, src + off, MAX_OUT - pend), 0);
        want_add(&want, src + off, MAX_OUT - pend);
    }
    cr_expect_eq(sockit_stream_pending(x.s), (size_t)MAX_OUT);
    struct sockit_shared *sh = shared_pattern(10, 41);
    expect_refused(&x, sh, "at the limit");

    struct tfile f;
    tfile_make(&f, 1 << 20, 42);
    send_file_ok(&x, &want, &f, 0, f.len); /* not held in memory: not counted */
    sockit_shared_unref(f.sh);
    cr_expect_eq(sockit_stream_pending(x.s), (size_t)MAX_OUT + f.len);
    expect_refused(&x, sh, "at the limit with a file range queued");
    run_briefly(&x, 30);
    cr_expect_eq(x.close_calls, 0, "the stream closed while its peer did not read");
    /* io_uring sends only now: what the kernel took is no longer held, and as much may be
     * written again (the file range waits behind the copies, whole) */
    size_t held = sockit_stream_pending(x.s) - f.len;
    if (held < MAX_OUT) {
        cr_assert_eq(sockit_stream_write(x.s, src + off, MAX_OUT - held), 0,
                     "a write up to the limit after the kernel took %zu bytes", MAX_OUT - held);
        want_add(&want, src + off, MAX_OUT - held);
    }
    expect_refused(&x, sh, "after the loop ran");

    struct limit_test t = { .want = &want, .tail = pattern(TAIL, 43) };
    x.test = &t;
    x.after_peer_read = write_tail_when_room;
    peer_read(&x);
    sx_run(&x, "the drain, the tail, then the end of stream");
    cr_expect(t.tail_written, "the output never drained enough for the tail");
    expect_bytes(&x.pin, want.p, want.n, "everything accepted");
    cr_expect(x.peer_eof);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    sockit_shared_unref(sh);
    free(t.tail);
    free(src);
    free(f.data);
    free(want.p);
    sx_close(&x);
}

/* max_output 0 (and no limits at all) means 8 MiB. */
LOOP_TEST(max_output_of_zero_is_8_mib)
{
    struct sx x;
    sx_open(&x, UNIX_PAIR, 0, NULL);
    enum { MIB = 1 << 20, DEFAULT = 8 << 20 };
    unsigned char *src = pattern(MIB, 44);
    int rc = 0, n = 0;
    while (n < 12 && (rc = sockit_stream_write(x.s, src, MIB)) == 0)
        n++;
    cr_assert_eq(rc, -ENOBUFS, "%d MiB accepted, then %d", n, rc);
    size_t pend = sockit_stream_pending(x.s);
    cr_expect_leq(pend, (size_t)DEFAULT);
    cr_expect_gt(pend + MIB, (size_t)DEFAULT, "refused with %zu held", pend);
    if (pend < DEFAULT)
        cr_expect_eq(sockit_stream_write(x.s, src, DEFAULT - pend), 0);
    cr_expect_eq(sockit_stream_write(x.s, src, 1), -ENOBUFS);
    cr_expect_eq(sockit_stream_pending(x.s), (size_t)DEFAULT);
    free(src);
    sx_close(&x);
}

/* ---------------------------------------------------------------- read_stop, read_start */

static void stop_reading(struct sx *x)
{
    sockit_stream_read_stop(x->s);
    x->stopped = true;
}

static void start_reading(struct sx *x)
{
    x->stopped = false; /* first: on_data may follow from a deferred call */
    if (x->s)           /* else it closed early: the test's checks say why */
        sockit_stream_read_start(x->s);
}

/* The peer sends a slice every 2 ms from a timer, then shuts down. */
struct ticker {
    const unsigned char *data;
    size_t len, sent, slice;
    struct sockit_timer timer;
};

static void tick_send(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    struct ticker *k = x->test;
    (void)loop;
    (void)t;
    size_t n = k->len - k->sent < k->slice ? k->len - k->sent : k->slice;
    ssize_t r = n ? send(x->fd[1], k->data + k->sent, n, MSG_NOSIGNAL) : 0;
    if (r > 0)
        k->sent += (size_t)r;
    if (k->sent == k->len) {
        sockit_timer_stop(x->loop, &k->timer);
        shutdown(x->fd[1], SHUT_WR);
    }
}

/* Stopped from the start: for 100 ms of a running loop the peer keeps sending and on_data is
 * not called at all; after read_start every byte arrives, in order, then the end of stream. */
STREAM_TEST(read_stop_delivers_nothing_until_read_start)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    enum { N = 64 * 1024 };
    unsigned char *up = pattern(N, 50);
    struct ticker k = { .data = up, .len = N, .slice = 1024 };
    x.test = &k;
    x.on_eof = close_stream;
    stop_reading(&x);
    sockit_timer_init(&k.timer, tick_send, &x);
    cr_assert_eq(sockit_timer_start(x.loop, &k.timer, 0, 2 * MS), 0);
    run_briefly(&x, 100);
    cr_expect_eq(x.data_calls + x.eof_calls, 0, "on_data ran %d times while reading was stopped",
                 x.data_calls + x.eof_calls);
    cr_expect_geq(k.sent, 10 * 1024, "the peer sent only %zu bytes in 100 ms", k.sent);
    start_reading(&x);
    sx_run(&x, "everything the peer sent, then its end of stream");
    expect_bytes(&x.in, up, N, "on_data after read_start");
    cr_expect_eq(x.eof_calls, 1);
    cr_expect_not(x.data_after_eof);
    cr_expect_eq(x.data_while_stopped + x.eof_while_stopped, 0);
    cr_expect_eq(x.close_calls, 1);
    free(up);
    sx_close(&x);
}

/* read_stop from inside on_data, each time; a timer starts reading again 2 ms later. No
 * on_data while stopped, not even the end of stream, and nothing lost or reordered. */
static void restart_tick(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    (void)loop;
    (void)t;
    start_reading(data);
}

struct restarter {
    struct sockit_timer timer;
    int stops;
};

static void stop_in_on_data(struct sx *x)
{
    struct restarter *r = x->test;
    stop_reading(x);
    r->stops++;
    cr_assert_eq(sockit_timer_start(x->loop, &r->timer, 2 * MS, 0), 0);
}

STREAM_TEST(read_stop_from_on_data_holds_the_rest_until_read_start)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    enum { N = 1 << 20 };
    unsigned char *up = pattern(N, 51);
    struct restarter r = { 0 };
    sockit_timer_init(&r.timer, restart_tick, &x);
    x.test = &r;
    x.after_data = stop_in_on_data;
    x.on_eof = close_stream;
    peer_send(&x, up, N, true);
    sx_run(&x, "1 MiB with a stop in every on_data, then the end of stream");
    expect_bytes(&x.in, up, N, "on_data");
    cr_expect_eq(x.data_while_stopped, 0, "on_data ran %d times while reading was stopped",
                 x.data_while_stopped);
    cr_expect_eq(x.eof_while_stopped, 0, "the end of stream came while reading was stopped");
    cr_expect_eq(x.eof_calls, 1);
    cr_expect_not(x.data_after_eof);
    cr_expect_eq(r.stops, x.data_calls);
    free(up);
    sx_close(&x);
}

/* The end of stream arrives while reading is stopped, behind bytes held by the stream: it
 * comes after read_start, after those bytes; and if on_data stops reading again, not before
 * the next read_start. */
struct eof_test {
    struct sockit_timer timer;
    int starts;
    uint64_t last_start;
};

static void eof_restart(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    struct eof_test *e = x->test;
    (void)t;
    e->starts++;
    e->last_start = sockit_loop_now(loop);
    start_reading(x);
}

static void stop_twice(struct sx *x)
{
    struct eof_test *e = x->test;
    if (e->starts >= 2 || x->stopped)
        return;
    stop_reading(x);
    cr_assert_eq(sockit_timer_start(x->loop, &e->timer, 50 * MS, 0), 0);
}

STREAM_TEST(eof_while_stopped_comes_after_read_start_and_the_held_bytes)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    enum { N = 200 * 1024 };
    unsigned char *up = pattern(N, 52);
    struct eof_test e = { 0 };
    sockit_timer_init(&e.timer, eof_restart, &x);
    x.test = &e;
    x.after_data = stop_twice;
    x.on_eof = close_stream;
    cr_assert_eq(send(x.fd[1], up, N, 0), N, "the peer's socket takes 200 KiB");
    cr_assert_eq(shutdown(x.fd[1], SHUT_WR), 0);
    sx_run(&x, "200 KiB with two stops, then the end of stream");
    expect_bytes(&x.in, up, N, "on_data");
    cr_expect_eq(x.eof_calls, 1);
    cr_expect_not(x.data_after_eof);
    cr_expect_eq(x.data_while_stopped, 0);
    cr_expect_eq(x.eof_while_stopped, 0, "the end of stream came while reading was stopped");
    cr_expect_geq(x.closed_at, e.last_start, "the stream closed before the last read_start");
    free(up);
    sx_close(&x);
}

/* Stop and start many times, twice each (idempotent), from a timer every millisecond, while
 * the peer sends 1 MiB: nothing is lost, nothing is delivered while stopped. */
static void toggle(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    (void)loop;
    (void)t;
    if (!x->s)
        return;
    if (x->stopped) {
        start_reading(x);
        sockit_stream_read_start(x->s);
    } else {
        stop_reading(x);
        sockit_stream_read_stop(x->s);
    }
}

static void stop_toggling(struct sx *x)
{
    sockit_timer_stop(x->loop, x->test);
    close_stream(x);
}

STREAM_TEST(read_stop_and_start_repeatedly_lose_nothing)
{
    struct sx x;
    sx_open(&x, tr, 0, NULL);
    enum { N = 1 << 20 };
    unsigned char *up = pattern(N, 53);
    struct sockit_timer t;
    sockit_timer_init(&t, toggle, &x);
    x.test = &t;
    x.on_eof = stop_toggling;
    cr_assert_eq(sockit_timer_start(x.loop, &t, MS, MS), 0);
    peer_send(&x, up, N, true);
    sx_run(&x, "1 MiB while reading stops and starts");
    expect_bytes(&x.in, up, N, "on_data");
    cr_expect_eq(x.data_while_stopped + x.eof_while_stopped, 0,
                 "on_data ran %d times while reading was stopped",
                 x.data_while_stopped + x.eof_while_stopped);
    cr_expect_eq(x.eof_calls, 1);
    free(up);
    sx_close(&x);
}

/* read_stop and the watermark pause are separate: reading goes on only when both are lifted.
 * 1. Output above the high watermark and read_stop: the peer's bytes wait.
 * 2. read_start while still above the high watermark: they still wait.
 * 3. read_stop, and the peer reads all: the output drains (on_drain), they still wait.
 * 4. read_start: they arrive. */
STREAM_TEST(read_stop_and_the_watermark_pause_are_both_needed_to_read)
{
    struct sx x;
    static const struct sockit_stream_limits wm = { .low_water = 16 * 1024,
                                                    .high_water = 64 * 1024 };
    sx_open(&x, tr, 32 * 1024, &wm);
    enum { DOWN = 1 << 20, UP = 32 * 1024 };
    unsigned char *down = pattern(DOWN, 54), *up = pattern(UP, 55);
    cr_assert_eq(sockit_stream_write(x.s, down, DOWN), 0);
    cr_assert_gt(sockit_stream_pending(x.s), wm.high_water);
    stop_reading(&x);
    peer_send(&x, up, UP, false);
    run_briefly(&x, 30);
    cr_expect_eq(x.data_calls, 0, "1. stopped and paused: on_data ran");

    start_reading(&x);
    run_briefly(&x, 30);
    cr_expect_eq(x.data_calls, 0, "2. started but above the high watermark: on_data ran");
    cr_expect_eq(x.drain_calls, 0);

    stop_reading(&x);
    peer_read(&x);
    for (int i = 0; i < 100 && x.pin.n < DOWN; i++)
        run_briefly(&x, 10);
    cr_assert_eq(x.pin.n, DOWN, "the peer read %zu of %d bytes", x.pin.n, DOWN);
    cr_expect_eq(x.drain_calls, 1, "3. the output drained, yet on_drain ran %d times",
                 x.drain_calls);
    run_briefly(&x, 30);
    cr_expect_eq(x.data_calls, 0, "3. drained but stopped: on_data ran");

    start_reading(&x);
    for (int i = 0; i < 100 && x.in.n < UP; i++)
        run_briefly(&x, 10);
    expect_bytes(&x.in, up, UP, "4. on_data after both were lifted");
    cr_expect_eq(x.data_while_stopped, 0);
    cr_expect_eq(x.close_calls, 0);
    free(down);
    free(up);
    sx_close(&x);
}

/* ---------------------------------------------------------------- connect */

/* A context for sockit_stream_connect: a loop, no stream and no peer yet. */
static void sx_init_connect(struct sx *x)
{
    *x = (struct sx){ .loop = new_loop(), .fd = { -1, -1 } };
    sockit_timer_init(&x->deadline, on_deadline, x);
}

static void connect_ok(struct sx *x, const struct sockit_addr *to, unsigned timeout_ms)
{
    int rc = sockit_stream_connect(x->loop, to, timeout_ms, &sx_ops, x, NULL, &x->s);
    cr_assert_eq(rc, 0, "sockit_stream_connect: %d (%s)", rc, sockit_strerror(rc));
    cr_assert_not_null(x->s);
    cr_assert_eq(x->connect_calls + x->close_calls, 0,
                 "a callback ran inside sockit_stream_connect");
    x->fd[0] = sockit_stream_fd(x->s);
}

/* A unix stream socket bound to a fresh path (listening if LISTEN), its address in *A. */
static int unix_listener(bool listen_too, struct sockit_addr *a)
{
    static int seq;
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(l, 0);
    *a = (struct sockit_addr){ .len = sizeof(struct sockaddr_un) };
    a->u.un.sun_family = AF_UNIX;
    snprintf(a->u.un.sun_path, sizeof a->u.un.sun_path, "/tmp/sockit-test-so-%d-%d.sock",
             (int)getpid(), seq++);
    unlink(a->u.un.sun_path);
    cr_assert_eq(bind(l, &a->u.sa, a->len), 0, "bind %s: %s", a->u.un.sun_path, strerror(errno));
    if (listen_too)
        cr_assert_eq(listen(l, 8), 0);
    return l;
}

/* A TCP listener whose accept queue is full (backlog 0 and one connection never accepted):
 * the kernel drops every new SYN, so a connect to it hangs (the client would retry after 1 s,
 * 3 s, ...). *FILLER is the connection in the queue. */
static int hanging_listener(struct sockit_addr *a, int *filler)
{
    int l = tcp_listener(false, 0, a);
    *filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(*filler, 0);
    cr_assert_eq(connect(*filler, &a->u.sa, a->len), 0, "connect: %s", strerror(errno));
    return l;
}

/* The server side of a connect test: the loop accepts one connection, which becomes the peer;
 * it sends HELLO, shuts down, and reads to the end. The stream writes AFTER from on_connect. */
struct conn {
    int lfd;
    const unsigned char *hello, *after;
    size_t hello_len, after_len;
    struct bytes *want;
};

static void accept_peer(struct sockit_loop *loop, int lfd, unsigned events, void *data)
{
    struct sx *x = data;
    struct conn *c = x->test;
    (void)events;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && errno == EAGAIN)
        return;
    cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
    cr_assert_lt(x->fd[1], 0, "a second connection");
    x->fd[1] = fd;
    sockit_loop_unwatch(loop, c->lfd);
    peer_send(x, c->hello, c->hello_len, true);
    peer_read(x);
}

static void write_after_connect(struct sx *x)
{
    struct conn *c = x->test;
    cr_assert_eq(sockit_stream_pending(x->s), c->want->n,
                 "at on_connect, %zu bytes pending; %zu were written before",
                 sockit_stream_pending(x->s), c->want->n);
    write_ok(x, c->want, c->after, c->after_len);
}

/* Connect to listening socket LFD at TO: on_connect once, before any on_data; what was written
 * before the connection was up (plain, writev, a shared buffer, a file range) goes first; data
 * flows both ways; both ends see the end. */
static void connect_exchange(int lfd, const struct sockit_addr *to)
{
    struct sx x;
    sx_init_connect(&x);
    struct bytes want = { 0 };
    unsigned char *early = pattern(5000, 60);
    struct conn c = { .lfd = lfd,
                      .hello = pattern(100 * 1024, 61),
                      .hello_len = 100 * 1024,
                      .after = pattern(300 * 1024, 62),
                      .after_len = 300 * 1024,
                      .want = &want };
    x.test = &c;
    x.on_connect_hook = write_after_connect;
    x.on_eof = close_stream_after_flush;
    set_nonblock(lfd);
    cr_assert_eq(sockit_loop_watch(x.loop, lfd, SOCKIT_EV_READ, accept_peer, &x), 0);
    connect_ok(&x, to, 2000);
    write_ok(&x, &want, early, 5000);
    struct iovec iov[2] = { { early, 10 }, { early + 10, 20 } };
    cr_assert_eq(sockit_stream_writev(x.s, iov, 2), 0);
    want_add(&want, early, 30);
    struct sockit_shared *sh = shared_pattern(1000, 63);
    write_shared_ok(&x, &want, sh, 10, 900);
    sockit_shared_unref(sh);
    struct tfile f;
    tfile_make(&f, 256 * 1024, 64);
    send_file_ok(&x, &want, &f, 1, f.len - 1);
    sockit_shared_unref(f.sh);
    cr_expect_eq(sockit_stream_pending(x.s), want.n,
                 "written before the connection is up: %zu pending of %zu",
                 sockit_stream_pending(x.s), want.n);
    sx_run(&x, "the connection, data both ways, the end of both");
    cr_expect_eq(x.connect_calls, 1, "on_connect ran %d times", x.connect_calls);
    cr_expect_eq(x.data_before_connect, 0, "on_data before on_connect");
    expect_bytes(&x.in, c.hello, c.hello_len, "the server's bytes at the stream");
    cr_expect_eq(x.eof_calls, 1);
    expect_bytes(&x.pin, want.p, want.n, "the stream's bytes at the server");
    cr_expect(x.peer_eof);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    sockit_loop_free(x.loop);
    close(lfd);
    sx_free(&x);
    free(early);
    free(f.data);
    free((void *)c.hello);
    free((void *)c.after);
    free(want.p);
}

LOOP_TEST(connect_to_127_0_0_1_exchanges_data_both_ways)
{
    struct sockit_addr a;
    int l = tcp_listener(false, 8, &a);
    connect_exchange(l, &a);
}

/* The address as a caller gets it: sockit_endpoint_parse and sockit_endpoint_resolve. */
LOOP_TEST(connect_to_ipv6_loopback_exchanges_data_both_ways)
{
    struct sockit_addr a, to;
    int l = tcp_listener(true, 8, &a);
    char text[64];
    snprintf(text, sizeof text, "tcp://[::1]:%u", (unsigned)ntohs(a.u.in6.sin6_port));
    struct sockit_endpoint ep;
    cr_assert_eq(sockit_endpoint_parse(text, &ep), 0);
    cr_assert_eq(sockit_endpoint_resolve(&ep, 0, &to, 1), 1);
    cr_assert_eq(to.u.sa.sa_family, AF_INET6);
    connect_exchange(l, &to);
}

LOOP_TEST(connect_to_a_unix_listener_exchanges_data_both_ways)
{
    struct sockit_addr a;
    int l = unix_listener(true, &a);
    connect_exchange(l, &a);
    unlink(a.u.un.sun_path);
}

/* A connect that fails: on_close with ERR once, never on_connect; bytes written meanwhile are
 * dropped without complaint. */
static void expect_connect_fails(const struct sockit_addr *to, int err)
{
    struct sx x;
    sx_init_connect(&x);
    connect_ok(&x, to, 2000);
    cr_assert_eq(sockit_stream_write(x.s, "lost", 4), 0);
    sx_run(&x, "the failed connect");
    cr_expect_eq(x.connect_calls, 0, "on_connect for a failed connect");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, err, "on_close err %d (%s), expected %d (%s)", x.close_err,
                 sockit_strerror(x.close_err), err, sockit_strerror(err));
    cr_expect_eq(x.data_calls + x.eof_calls, 0);
    sx_close(&x);
}

LOOP_TEST(connect_to_a_closed_tcp_port_fails_with_econnrefused)
{
    struct sockit_addr a;
    int bound = tcp_listener(false, -1, &a); /* bound, not listening: the port answers RST */
    expect_connect_fails(&a, -ECONNREFUSED);
    close(bound);
}

LOOP_TEST(connect_to_a_unix_path_that_does_not_exist_fails_with_enoent)
{
    struct sockit_addr a = { .len = sizeof(struct sockaddr_un) };
    a.u.un.sun_family = AF_UNIX;
    snprintf(a.u.un.sun_path, sizeof a.u.un.sun_path, "/tmp/sockit-test-so-%d-none.sock",
             (int)getpid());
    unlink(a.u.un.sun_path);
    expect_connect_fails(&a, -ENOENT);
}

LOOP_TEST(connect_to_a_unix_socket_not_listening_fails_with_econnrefused)
{
    struct sockit_addr a;
    int bound = unix_listener(false, &a);
    expect_connect_fails(&a, -ECONNREFUSED);
    close(bound);
    expect_connect_fails(&a, -ECONNREFUSED); /* the path left by a closed listener */
    unlink(a.u.un.sun_path);
}

/* With SYNs dropped, a connect without a limit is still waiting after 300 ms; with
 * timeout_ms 200 it ends in on_close(-ETIMEDOUT) about 200 ms after it started. */
LOOP_TEST(connect_times_out_with_etimedout)
{
    struct sockit_addr a;
    int filler, l = hanging_listener(&a, &filler);

    struct sx x;
    sx_init_connect(&x);
    connect_ok(&x, &a, 0);
    run_briefly(&x, 300);
    cr_assert_eq(x.connect_calls + x.close_calls, 0,
                 "the connect did not hang: %d on_connect, on_close err %d (%s)", x.connect_calls,
                 x.close_err, sockit_strerror(x.close_err));
    sockit_stream_close(x.s);
    sockit_loop_free(x.loop);

    sx_init_connect(&x);
    uint64_t t0 = mono_ns();
    connect_ok(&x, &a, 200);
    sx_run(&x, "the connect timeout");
    uint64_t took = x.closed_at - t0;
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, -ETIMEDOUT, "on_close err %d (%s)", x.close_err,
                 sockit_strerror(x.close_err));
    cr_expect_eq(x.connect_calls, 0);
    cr_expect_geq(took, 195 * MS, "timed out after %llu ms", (unsigned long long)(took / MS));
    cr_expect_lt(took, 1000 * MS, "timed out after %llu ms", (unsigned long long)(took / MS));
    sx_close(&x);
    close(filler);
    close(l);
}

static void close_from_timer(struct sockit_loop *loop, struct sockit_timer *t, void *data)
{
    struct sx *x = data;
    (void)loop;
    (void)t;
    sockit_stream_close(x->s);
}

/* sockit_stream_close while connecting: on_close(0), no on_connect; right after the call (the
 * connect to a unix listener may even be complete in the kernel) or while the kernel waits. */
LOOP_TEST(connect_closed_while_connecting_ends_with_on_close_0)
{
    struct sockit_addr ua;
    int ul = unix_listener(true, &ua);
    struct sx x;
    sx_init_connect(&x);
    connect_ok(&x, &ua, 0);
    sockit_stream_close(x.s);
    sx_run(&x, "on_close");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    cr_expect_eq(x.connect_calls, 0, "on_connect after sockit_stream_close");
    sx_close(&x);
    close(ul);
    unlink(ua.u.un.sun_path);

    struct sockit_addr a;
    int filler, l = hanging_listener(&a, &filler);
    sx_init_connect(&x);
    connect_ok(&x, &a, 2000);
    struct sockit_timer t;
    sockit_timer_init(&t, close_from_timer, &x);
    cr_assert_eq(sockit_timer_start(x.loop, &t, 20 * MS, 0), 0);
    sx_run(&x, "on_close");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    cr_expect_eq(x.connect_calls, 0);
    sx_close(&x);
    close(filler);
    close(l);
}

/* sockit_loop_free while connecting: on_close(-ECANCELED), no on_connect; before the loop ever
 * ran, and while the kernel waits. */
LOOP_TEST(loop_free_while_connecting_ends_with_ecanceled)
{
    struct sockit_addr a;
    int filler, l = hanging_listener(&a, &filler);
    for (int ran = 0; ran < 2; ran++) {
        struct sx x;
        sx_init_connect(&x);
        connect_ok(&x, &a, 2000);
        if (ran)
            run_briefly(&x, 20);
        sockit_loop_free(x.loop);
        cr_expect_eq(x.close_calls, 1, "%s: on_close ran %d times", ran ? "ran" : "new",
                     x.close_calls);
        cr_expect_eq(x.close_err, -ECANCELED, "on_close err %d (%s)", x.close_err,
                     sockit_strerror(x.close_err));
        cr_expect_eq(x.connect_calls, 0);
        sx_free(&x);
    }
    close(filler);
    close(l);
}

/* Reconnecting from on_close is the usual pattern; on_close runs from a deferred call. A
 * connect started there to a unix path with no socket still fails with -ENOENT and never
 * reports a connection. */
struct reconnect {
    struct sx *next;
    struct sockit_addr to;
};

static void reconnect_on_close(struct sockit_stream *s, int err, void *ud)
{
    struct sx *x = ud;
    struct reconnect *r = x->test;
    sx_on_close(s, err, ud);
    connect_ok(r->next, &r->to, 2000);
}

LOOP_TEST(connect_started_from_on_close_reports_its_failure)
{
    struct sx x, y;
    sx_init_connect(&y);
    x = (struct sx){ .loop = y.loop, .tr = UNIX_PAIR };
    sockit_timer_init(&x.deadline, on_deadline, &x);
    struct reconnect r = { .next = &y, .to = { .len = sizeof(struct sockaddr_un) } };
    r.to.u.un.sun_family = AF_UNIX;
    snprintf(r.to.u.un.sun_path, sizeof r.to.u.un.sun_path, "/tmp/sockit-test-so-%d-none.sock",
             (int)getpid());
    unlink(r.to.u.un.sun_path);
    x.test = &r;
    static struct sockit_stream_ops ops;
    ops = sx_ops;
    ops.on_close = reconnect_on_close;
    connect_pair(UNIX_PAIR, x.fd, 0);
    cr_assert_eq(sockit_stream_open(x.loop, x.fd[0], &ops, &x, NULL, &x.s), 0);
    sockit_stream_close(x.s);
    sx_run(&y, "the reconnect's failure");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(y.connect_calls, 0, "on_connect for a connect to a path with no socket");
    cr_expect_eq(y.close_calls, 1);
    cr_expect_eq(y.close_err, -ENOENT, "on_close err %d (%s)", y.close_err,
                 sockit_strerror(y.close_err));
    sockit_loop_free(x.loop);
    sx_free(&y);
    sx_free(&x);
}

/* Output queued while connecting, then close_after_flush (or shutdown), both before the
 * connection is up: once it is, the output is sent, then the end of stream. */
static void connect_then_end_early(int lfd, const struct sockit_addr *to, bool shut)
{
    struct sx x;
    sx_init_connect(&x);
    struct bytes want = { 0 };
    struct conn c = { .lfd = lfd, .want = &want };
    x.test = &c;
    x.on_peer_eof = close_stream; /* after a shutdown: the stream is still open */
    set_nonblock(lfd);
    cr_assert_eq(sockit_loop_watch(x.loop, lfd, SOCKIT_EV_READ, accept_peer, &x), 0);
    connect_ok(&x, to, 2000);
    unsigned char *data = pattern(500 * 1024, 65);
    write_ok(&x, &want, data, 500 * 1024);
    if (shut)
        sockit_stream_shutdown(x.s);
    else
        sockit_stream_close_after_flush(x.s);
    cr_expect_eq(sockit_stream_write(x.s, "x", 1), -EPIPE, "a write after the end was asked");
    sx_run(&x, "the connection, the output, then the end of stream");
    cr_expect_eq(x.connect_calls, 1, "on_connect ran %d times", x.connect_calls);
    expect_bytes(&x.pin, want.p, want.n, "the output queued while connecting");
    cr_expect(x.peer_eof, "no end of stream at the peer");
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, 0, "on_close err %d (%s)", x.close_err, sockit_strerror(x.close_err));
    sockit_loop_free(x.loop);
    close(lfd);
    sx_free(&x);
    free(data);
    free(want.p);
}

LOOP_TEST(connect_then_close_after_flush_at_once_sends_the_output_first)
{
    struct sockit_addr a;
    connect_then_end_early(tcp_listener(false, 8, &a), &a, false);
    connect_then_end_early(unix_listener(true, &a), &a, false);
    unlink(a.u.un.sun_path);
}

LOOP_TEST(connect_then_shutdown_at_once_sends_the_output_first)
{
    struct sockit_addr a;
    connect_then_end_early(tcp_listener(false, 8, &a), &a, true);
    connect_then_end_early(unix_listener(true, &a), &a, true);
    unlink(a.u.un.sun_path);
}

/* A file range queued while connecting, and the file shrinks before the connection is up:
 * once connected, the stream fails with -EIO (after on_connect), as it would connected. */
LOOP_TEST(connect_with_a_file_range_truncated_before_the_connection_fails_with_eio)
{
    struct sockit_addr a;
    int lfd = tcp_listener(false, 8, &a);
    struct sx x;
    sx_init_connect(&x);
    struct bytes want = { 0 };
    struct conn c = { .lfd = lfd, .want = &want };
    x.test = &c;
    set_nonblock(lfd);
    cr_assert_eq(sockit_loop_watch(x.loop, lfd, SOCKIT_EV_READ, accept_peer, &x), 0);
    connect_ok(&x, &a, 2000);
    struct tfile f;
    tfile_make(&f, 64 * 1024, 66);
    cr_assert_eq(sockit_stream_send_file(x.s, f.sh, 0, f.len), 0);
    sockit_shared_unref(f.sh);
    cr_assert_eq(ftruncate(f.fd, 0), 0);
    sx_run(&x, "the connection, then the failure");
    cr_expect_eq(x.connect_calls, 1);
    cr_expect_eq(x.close_calls, 1);
    cr_expect_eq(x.close_err, -EIO, "on_close err %d (%s)", x.close_err,
                 sockit_strerror(x.close_err));
    cr_expect_eq(x.pin.n, 0, "the peer got %zu bytes of an empty file", x.pin.n);
    sockit_loop_free(x.loop);
    close(lfd);
    sx_free(&x);
    free(f.data);
}
