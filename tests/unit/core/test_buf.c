/* Unit tests for the bounded byte buffer (sockit/buf.h). The header comments are the contract
 * tested here: bytes in at the tail, out at the head, growth on demand, never past LIMIT. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../support/harness.h"
#include "sockit/buf.h"
#include "sockit/error.h"

TestSuite(buf, .timeout = 10);

/* ---------------------------------------------------------------- helpers */

/* The invariants every operation keeps: head <= tail <= cap <= limit. */
static void check_invariants(const struct sockit_buf *b, const char *after)
{
    cr_assert_leq(b->head, b->tail, "after %s: head %zu > tail %zu", after, b->head, b->tail);
    cr_assert_leq(b->tail, b->cap, "after %s: tail %zu > cap %zu", after, b->tail, b->cap);
    cr_assert_leq(b->cap, b->limit, "after %s: cap %zu > limit %zu", after, b->cap, b->limit);
    cr_assert_eq(sockit_buf_len(b), b->tail - b->head, "after %s: len disagrees with head/tail",
                 after);
    cr_assert(b->cap == 0 || b->data != NULL, "after %s: cap %zu without storage", after, b->cap);
}

/* Assert that the unread bytes of B are LEN bytes of the h_fill(SEED) stream from OFFSET. */
static void expect_contents(const struct sockit_buf *b, size_t len, unsigned seed, size_t offset,
                            const char *what)
{
    cr_assert_eq(sockit_buf_len(b), len, "%s: len %zu, expected %zu", what, sockit_buf_len(b), len);
    unsigned char *want = malloc(offset + len + 1);
    cr_assert_not_null(want);
    h_fill(want, offset + len, seed);
    size_t i = 0;
    while (i < len && b->data[b->head + i] == want[offset + i])
        i++;
    free(want);
    cr_expect_eq(i, len, "%s: first wrong byte at %zu of %zu", what, i, len);
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    h_fill(p, len, seed);
    return p;
}

static void append_ok(struct sockit_buf *b, const void *src, size_t len)
{
    int rc = sockit_buf_append(b, src, len);
    cr_assert_eq(rc, 0, "append of %zu bytes (len %zu, cap %zu, limit %zu) returned %d (%s)", len,
                 sockit_buf_len(b), b->cap, b->limit, rc, sockit_strerror(rc));
    check_invariants(b, "append");
}

static void stream_pair(int sv[2], int nonblock)
{
    cr_assert_eq(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, sv), 0,
        "socketpair: %s", strerror(errno));
}

/* ---------------------------------------------------------------- basics */

Test(buf, init_gives_an_empty_buffer_that_allocates_nothing)
{
    struct sockit_buf b;
    memset(&b, 0xA5, sizeof b);
    sockit_buf_init(&b, 12345);
    cr_expect_eq(sockit_buf_len(&b), 0);
    cr_expect_null(b.data, "init allocated storage");
    cr_expect_eq(b.cap, 0);
    cr_expect_eq(b.head, 0);
    cr_expect_eq(b.tail, 0);
    cr_expect_eq(b.limit, 12345);
    sockit_buf_free(&b);
}

Test(buf, append_then_consume_gives_bytes_back_in_order)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 1 << 20);
    append_ok(&b, "hello ", 6);
    append_ok(&b, "world", 5);
    cr_expect_eq(sockit_buf_len(&b), 11);
    cr_expect(memcmp(b.data + b.head, "hello world", 11) == 0, "contents \"%.11s\"",
              (const char *)b.data + b.head);

    sockit_buf_consume(&b, 6);
    check_invariants(&b, "consume");
    cr_expect_eq(sockit_buf_len(&b), 5);
    cr_expect(memcmp(b.data + b.head, "world", 5) == 0, "after consuming 6: \"%.5s\"",
              (const char *)b.data + b.head);

    sockit_buf_consume(&b, 0);
    cr_expect_eq(sockit_buf_len(&b), 5, "consuming 0 bytes changes nothing");
    sockit_buf_consume(&b, 5);
    check_invariants(&b, "consume all");
    cr_expect_eq(sockit_buf_len(&b), 0);
    sockit_buf_free(&b);
}

Test(buf, consuming_everything_rewinds_to_the_start)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 8192);
    append_ok(&b, "abcdef", 6);
    sockit_buf_consume(&b, 6);
    cr_expect_eq(b.head, 0, "an emptied buffer starts over at 0");
    cr_expect_eq(b.tail, 0);
    size_t cap = b.cap;
    append_ok(&b, "xyz", 3);
    cr_expect_eq(b.cap, cap, "reusing emptied space does not grow");
    cr_expect(memcmp(b.data, "xyz", 3) == 0);
    sockit_buf_free(&b);
}

Test(buf, appending_zero_bytes_to_a_fresh_buffer_succeeds)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 100);
    cr_expect_eq(sockit_buf_append(&b, "", 0), 0);
    cr_expect_eq(sockit_buf_len(&b), 0);
    check_invariants(&b, "empty append");
    sockit_buf_free(&b);
}

Test(buf, appending_zero_bytes_succeeds_and_changes_nothing)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 100);
    append_ok(&b, "x", 1);
    append_ok(&b, "", 0);
    cr_expect_eq(sockit_buf_len(&b), 1);
    sockit_buf_free(&b);
}

/* ---------------------------------------------------------------- growth and the limit */

Test(buf, grows_on_demand_and_keeps_contents)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 1 << 20);
    unsigned char *p = pattern(300000, 1);
    size_t total = 0, last_cap = 0;
    /* Odd-sized appends cross every growth step. */
    while (total < 300000) {
        size_t n = 300000 - total < 7777 ? 300000 - total : 7777;
        append_ok(&b, p + total, n);
        total += n;
        cr_assert_geq(b.cap, total, "cap %zu below len %zu", b.cap, total);
        cr_assert_geq(b.cap, last_cap, "cap shrank from %zu to %zu", last_cap, b.cap);
        last_cap = b.cap;
    }
    expect_contents(&b, 300000, 1, 0, "after growth");
    cr_expect_lt(b.cap, 2 * 300000 + 4096, "cap %zu is far more than needed", b.cap);
    free(p);
    sockit_buf_free(&b);
}

Test(buf, filling_exactly_to_the_limit_succeeds)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 10000);
    unsigned char *p = pattern(10000, 2);
    append_ok(&b, p, 6000);
    append_ok(&b, p + 6000, 4000);
    expect_contents(&b, 10000, 2, 0, "full buffer");
    cr_expect_eq(b.cap, 10000, "a buffer filled to its limit has cap == limit");
    free(p);
    sockit_buf_free(&b);
}

Test(buf, append_past_the_limit_is_enobufs_and_changes_nothing)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 10000);
    unsigned char *p = pattern(20000, 3);
    append_ok(&b, p, 9000);
    size_t cap = b.cap, head = b.head, tail = b.tail;

    int rc = sockit_buf_append(&b, p + 9000, 1001);
    cr_expect_eq(rc, -ENOBUFS, "9000 + 1001 bytes under a 10000 limit: %d (%s)", rc,
                 sockit_strerror(rc));
    check_invariants(&b, "failed append");
    cr_expect_eq(b.head, head, "a failed append moved head");
    cr_expect_eq(b.tail, tail, "a failed append moved tail");
    cr_expect_eq(b.cap, cap, "a failed append changed cap");
    expect_contents(&b, 9000, 3, 0, "after the failed append");

    append_ok(&b, p + 9000, 1000);
    rc = sockit_buf_append(&b, "x", 1);
    cr_expect_eq(rc, -ENOBUFS, "one byte into a full buffer: %d", rc);
    expect_contents(&b, 10000, 3, 0, "full buffer after refused byte");
    free(p);
    sockit_buf_free(&b);
}

Test(buf, one_append_larger_than_the_limit_is_enobufs_and_allocates_nothing)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 5000);
    unsigned char *p = pattern(5001, 4);
    int rc = sockit_buf_append(&b, p, 5001);
    cr_expect_eq(rc, -ENOBUFS, "5001 bytes under a 5000 limit: %d (%s)", rc, sockit_strerror(rc));
    cr_expect_eq(b.cap, 0, "a refused append allocated %zu bytes", b.cap);
    cr_expect_eq(sockit_buf_len(&b), 0);
    free(p);
    sockit_buf_free(&b);
}

Test(buf, capacity_never_exceeds_a_limit_that_is_not_a_power_of_two)
{
    static const size_t limits[] = { 1, 100, 4095, 4097, 10000, 65537, 100000 };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        size_t limit = limits[i];
        struct sockit_buf b;
        sockit_buf_init(&b, limit);
        unsigned char chunk[333];
        memset(chunk, (int)i, sizeof chunk);
        size_t total = 0;
        for (;;) {
            size_t n = limit - total < sizeof chunk ? limit - total : sizeof chunk;
            if (n == 0)
                break;
            int rc = sockit_buf_append(&b, chunk, n);
            cr_assert_eq(rc, 0, "limit %zu: append at %zu returned %d", limit, total, rc);
            total += n;
            cr_assert_leq(b.cap, limit, "limit %zu: cap grew to %zu", limit, b.cap);
        }
        cr_expect_eq(sockit_buf_len(&b), limit);
        cr_expect_eq(sockit_buf_append(&b, chunk, 1), -ENOBUFS, "limit %zu: one byte more", limit);
        cr_expect_leq(b.cap, limit, "limit %zu: cap %zu", limit, b.cap);
        sockit_buf_free(&b);
    }
}

Test(buf, reserve_makes_room_or_fails_with_enobufs)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 10000);
    cr_expect_eq(sockit_buf_reserve(&b, 0), 0);
    cr_expect_eq(sockit_buf_reserve(&b, 10000), 0, "reserving the whole limit");
    cr_expect_geq(b.cap - b.tail, 10000);
    cr_expect_eq(b.cap, 10000);
    cr_expect_eq(sockit_buf_reserve(&b, 10001), -ENOBUFS);
    append_ok(&b, "abc", 3);
    cr_expect_eq(sockit_buf_reserve(&b, 9997), 0);
    cr_expect_eq(sockit_buf_reserve(&b, 9998), -ENOBUFS, "len 3 + 9998 > 10000");
    check_invariants(&b, "reserve");
    cr_expect_eq(sockit_buf_len(&b), 3, "reserve does not change the contents");
    cr_expect(memcmp(b.data + b.head, "abc", 3) == 0);
    sockit_buf_free(&b);
}

/* A copy of B's fields and unread bytes, to check that a failed call changed nothing. */
struct snapshot {
    struct sockit_buf b;
    unsigned char bytes[4096];
};

static void take_snapshot(const struct sockit_buf *b, struct snapshot *s)
{
    cr_assert_leq(sockit_buf_len(b), sizeof s->bytes);
    s->b = *b;
    if (sockit_buf_len(b))
        memcpy(s->bytes, b->data + b->head, sockit_buf_len(b));
}

static void expect_unchanged(const struct sockit_buf *b, const struct snapshot *s, const char *what)
{
    cr_expect_eq(b->data, s->b.data, "%s: storage moved", what);
    cr_expect_eq(b->head, s->b.head, "%s: head %zu, was %zu", what, b->head, s->b.head);
    cr_expect_eq(b->tail, s->b.tail, "%s: tail %zu, was %zu", what, b->tail, s->b.tail);
    cr_expect_eq(b->cap, s->b.cap, "%s: cap %zu, was %zu", what, b->cap, s->b.cap);
    cr_expect_eq(b->limit, s->b.limit, "%s: limit %zu, was %zu", what, b->limit, s->b.limit);
    if (b->data == s->b.data && b->head == s->b.head && b->tail == s->b.tail)
        cr_expect(memcmp(b->data + b->head, s->bytes, sockit_buf_len(b)) == 0,
                  "%s: contents changed", what);
}

Test(buf, reserve_of_a_size_that_overflows_len_plus_n_is_enobufs_and_changes_nothing)
{
    /* len + n wraps around to a small number for n > SIZE_MAX - len: that must not pass for
     * "fits under the limit". Each case: bytes held, bytes already consumed before them. */
    const struct {
        size_t held, consumed;
    } cases[] = { { 1, 0 }, { 1, 10 }, { 100, 50 }, { 4096, 0 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t held = cases[c].held, consumed = cases[c].consumed;
        struct sockit_buf b;
        sockit_buf_init(&b, 4096);
        unsigned char *p = pattern(held + consumed, 12);
        append_ok(&b, p, held + consumed);
        sockit_buf_consume(&b, consumed);
        free(p);
        const size_t sizes[] = {
            SIZE_MAX,            /* the brief's case: len + n wraps to len - 1 */
            SIZE_MAX - held + 1, /* the smallest n that wraps: len + n == 0 */
            SIZE_MAX - held,     /* the largest that does not: len + n == SIZE_MAX */
            SIZE_MAX / 2 + 1,
            4096 - held + 1,
        };
        struct snapshot snap;
        take_snapshot(&b, &snap);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char what[96];
            snprintf(what, sizeof what, "len %zu (head %zu), reserve(%zu)", held, consumed,
                     sizes[i]);
            int rc = sockit_buf_reserve(&b, sizes[i]);
            cr_expect_eq(rc, -ENOBUFS, "%s with limit 4096 returned %d (%s)", what, rc,
                         sockit_strerror(rc));
            expect_unchanged(&b, &snap, what);
            check_invariants(&b, what);
        }
        sockit_buf_free(&b);
    }
}

Test(buf, reserve_past_half_the_address_space_under_no_real_limit_fails_without_looping)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("ASan aborts on an allocation this size instead of returning NULL");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    cr_skip_test("ASan aborts on an allocation this size instead of returning NULL");
#endif
#endif
    /* With LIMIT SIZE_MAX the capacity doubles towards NEED; past 2^63 it must not wrap to 0
     * (and double forever). No allocation this large can succeed: -ENOMEM, nothing changed. */
    struct sockit_buf b;
    sockit_buf_init(&b, SIZE_MAX);
    append_ok(&b, "x", 1);
    struct snapshot snap;
    take_snapshot(&b, &snap);
    int rc = sockit_buf_reserve(&b, SIZE_MAX / 2 + 2);
    cr_expect_eq(rc, -ENOMEM, "reserve(SIZE_MAX / 2 + 2) with no limit returned %d (%s)", rc,
                 sockit_strerror(rc));
    expect_unchanged(&b, &snap, "failed huge reserve");
    sockit_buf_free(&b);
}

Test(buf, zero_limit_refuses_every_byte)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 0);
    cr_expect_eq(sockit_buf_append(&b, "x", 1), -ENOBUFS);
    cr_expect_eq(b.cap, 0);
    int sv[2];
    stream_pair(sv, 1);
    cr_expect_eq(send(sv[1], "x", 1, 0), 1);
    cr_expect_eq(sockit_buf_recv(&b, sv[0], NULL), -ENOBUFS, "recv into a 0-byte buffer");
    close(sv[0]);
    close(sv[1]);
    sockit_buf_free(&b);
}

/* ---------------------------------------------------------------- compaction */

Test(buf, consumed_space_is_reused_by_compaction_without_passing_the_limit)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 8192);
    unsigned char *p = pattern(16000, 5);
    append_ok(&b, p, 8000);
    sockit_buf_consume(&b, 7000);
    check_invariants(&b, "consume");
    /* 1000 unread + 7000 new = 8000 <= 8192: fits only if the unread bytes move to the front. */
    append_ok(&b, p + 8000, 7000);
    cr_expect_leq(b.cap, 8192);
    cr_expect_eq(sockit_buf_len(&b), 8000);
    expect_contents(&b, 8000, 5, 7000, "after compaction");
    free(p);
    sockit_buf_free(&b);
}

Test(buf, many_small_rounds_of_append_and_consume_stay_bounded)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 4096);
    unsigned char *p = pattern(200000, 6);
    size_t in = 0, out = 0;
    while (out < 200000) {
        size_t room = 4096 - sockit_buf_len(&b);
        size_t n = 200000 - in < 1500 ? 200000 - in : 1500;
        if (n > room)
            n = room;
        if (n)
            append_ok(&b, p + in, n);
        in += n;
        size_t take = sockit_buf_len(&b) < 1100 ? sockit_buf_len(&b) : 1100;
        cr_assert(memcmp(b.data + b.head, p + out, take) == 0, "bytes %zu..%zu came out wrong", out,
                  out + take);
        sockit_buf_consume(&b, take);
        out += take;
        check_invariants(&b, "a round");
    }
    cr_expect_eq(b.cap, 4096, "a 4096-byte limit is honoured across compactions");
    free(p);
    sockit_buf_free(&b);
}

/* ---------------------------------------------------------------- free and reuse */

Test(buf, free_empties_the_buffer_and_it_can_be_reused)
{
    struct sockit_buf b;
    sockit_buf_init(&b, 50000);
    unsigned char *p = pattern(40000, 7);
    append_ok(&b, p, 40000);
    sockit_buf_free(&b);
    cr_expect_eq(sockit_buf_len(&b), 0, "free leaves an empty buffer");
    cr_expect_null(b.data, "free leaves no dangling storage pointer");
    cr_expect_eq(b.cap, 0);
    cr_expect_eq(b.limit, 50000, "free keeps the limit");

    append_ok(&b, p, 30000);
    expect_contents(&b, 30000, 7, 0, "reused buffer");
    cr_expect_eq(sockit_buf_append(&b, p, 20001), -ENOBUFS, "the limit still applies");
    sockit_buf_free(&b);
    sockit_buf_free(&b); /* twice is harmless */
    cr_expect_eq(sockit_buf_len(&b), 0);
    free(p);
}

/* ---------------------------------------------------------------- socket I/O */

Test(buf, recv_appends_what_the_peer_sent)
{
    int sv[2];
    stream_pair(sv, 1);
    struct sockit_buf b;
    sockit_buf_init(&b, 1 << 20);
    append_ok(&b, "old:", 4);
    cr_assert_eq(send(sv[1], "hello", 5, 0), 5);
    ssize_t n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, 5, "buf_recv returned %zd (%s)", n, sockit_strerror((int)n));
    check_invariants(&b, "recv");
    cr_expect_eq(sockit_buf_len(&b), 9);
    cr_expect(memcmp(b.data + b.head, "old:hello", 9) == 0, "contents \"%.9s\"",
              (const char *)b.data + b.head);

    n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, -EAGAIN, "nothing ready on a non-blocking socket: %zd (%s)", n,
                 sockit_strerror((int)n));
    cr_expect_eq(sockit_buf_len(&b), 9, "a failed recv changes nothing");

    close(sv[1]);
    n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, 0, "end of stream: %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(sockit_buf_len(&b), 9);
    close(sv[0]);
    sockit_buf_free(&b);
}

Test(buf, recv_stops_at_the_limit_then_reports_enobufs)
{
    int sv[2];
    stream_pair(sv, 1);
    struct sockit_buf b;
    sockit_buf_init(&b, 10);
    unsigned char *p = pattern(100, 8);
    cr_assert_eq(send(sv[1], p, 100, 0), 100);

    ssize_t n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, 10, "recv into a 10-byte buffer with 100 waiting: %zd", n);
    check_invariants(&b, "recv");
    cr_expect_leq(b.cap, 10);
    n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, -ENOBUFS, "recv into a full buffer: %zd (%s)", n, sockit_strerror((int)n));
    expect_contents(&b, 10, 8, 0, "full buffer");

    sockit_buf_consume(&b, 4);
    n = sockit_buf_recv(&b, sv[0], NULL);
    cr_expect_eq(n, 4, "after consuming 4 there is room for 4: %zd", n);
    check_invariants(&b, "recv after consume");
    expect_contents(&b, 10, 8, 4, "after refill");
    free(p);
    close(sv[0]);
    close(sv[1]);
    sockit_buf_free(&b);
}

Test(buf, recv_of_a_large_stream_never_exceeds_the_limit)
{
    int sv[2];
    stream_pair(sv, 1);
    struct sockit_buf b;
    sockit_buf_init(&b, 100000);
    size_t len = 100000;
    unsigned char *p = pattern(len, 9);
    size_t sent = 0;
    ssize_t n;
    while (sockit_buf_len(&b) < len) {
        if (sent < len) {
            n = send(sv[1], p + sent, len - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        n = sockit_buf_recv(&b, sv[0], NULL);
        cr_assert(n > 0 || n == -EAGAIN, "buf_recv returned %zd (%s) at %zu bytes", n,
                  sockit_strerror((int)n), sockit_buf_len(&b));
        check_invariants(&b, "recv");
    }
    expect_contents(&b, len, 9, 0, "received stream");
    cr_expect_eq(sockit_buf_recv(&b, sv[0], NULL), -ENOBUFS);
    free(p);
    close(sv[0]);
    close(sv[1]);
    sockit_buf_free(&b);
}

Test(buf, send_writes_the_head_and_consumes_it)
{
    int sv[2];
    stream_pair(sv, 0);
    struct sockit_buf b;
    sockit_buf_init(&b, 4096);
    append_ok(&b, "skip-payload", 12);
    sockit_buf_consume(&b, 5);
    ssize_t n = sockit_buf_send(&b, sv[0], NULL);
    cr_expect_eq(n, 7, "buf_send returned %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(sockit_buf_len(&b), 0, "sent bytes are consumed");
    char got[16] = "";
    cr_expect_eq(recv(sv[1], got, sizeof got, MSG_DONTWAIT), 7);
    cr_expect_str_eq(got, "payload");
    close(sv[0]);
    close(sv[1]);
    sockit_buf_free(&b);
}

Test(buf, partial_send_keeps_the_unsent_rest_at_the_head)
{
    int sv[2];
    stream_pair(sv, 1);
    int small = 4096;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    struct sockit_buf b;
    size_t len = 1 << 20;
    sockit_buf_init(&b, len);
    unsigned char *p = pattern(len, 10), *got = malloc(len);
    cr_assert_not_null(got);
    append_ok(&b, p, len);

    ssize_t n = sockit_buf_send(&b, sv[0], NULL);
    cr_assert(n > 0 && (size_t)n < len, "1 MiB into a tiny non-blocking socket: %zd (%s)", n,
              sockit_strerror((int)n));
    cr_expect_eq(sockit_buf_len(&b), len - (size_t)n, "exactly the sent bytes are consumed");
    expect_contents(&b, len - (size_t)n, 10, (size_t)n, "unsent rest");

    /* Drain and send the rest in rounds: the peer gets the whole stream in order. */
    size_t total = 0;
    int rounds = 0;
    while (total < len && rounds++ < 100000) {
        ssize_t r = recv(sv[1], got + total, len - total, MSG_DONTWAIT);
        if (r > 0)
            total += (size_t)r;
        if (sockit_buf_len(&b) > 0) {
            n = sockit_buf_send(&b, sv[0], NULL);
            cr_assert(n > 0 || n == -EAGAIN, "buf_send returned %zd (%s)", n,
                      sockit_strerror((int)n));
        }
    }
    cr_expect_eq(total, len, "the peer received %zu of %zu bytes", total, len);
    cr_expect(memcmp(got, p, len) == 0, "the peer received the stream out of order");
    free(p);
    free(got);
    close(sv[0]);
    close(sv[1]);
    sockit_buf_free(&b);
}

Test(buf, send_to_a_closed_peer_is_epipe_and_keeps_the_data)
{
    int sv[2];
    stream_pair(sv, 0);
    close(sv[1]);
    struct sockit_buf b;
    sockit_buf_init(&b, 100);
    append_ok(&b, "data", 4);
    ssize_t n = sockit_buf_send(&b, sv[0], NULL);
    cr_expect_eq(n, -EPIPE, "buf_send to a closed peer: %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(sockit_buf_len(&b), 4, "nothing was sent, nothing is consumed");
    close(sv[0]);
    sockit_buf_free(&b);
}

static void count_line(void *ctx, const char *text)
{
    (void)text;
    (*(int *)ctx)++;
}

Test(buf, send_of_a_never_used_empty_buffer_returns_zero_and_touches_nothing)
{
    /* data is NULL: computing data + head (NULL + 0) is undefined behaviour in C, which
     * clang's -fsanitize=undefined reports. An empty send must not get that far. */
    struct sockit_buf b;
    sockit_buf_init(&b, 4096);
    cr_assert_null(b.data);
    int lines = 0;
    struct sockit_trace trace = { count_line, &lines };
    int sv[2];
    stream_pair(sv, 1);
    close(sv[1]); /* any send() on sv[0] would now fail with EPIPE */

    ssize_t n = sockit_buf_send(&b, sv[0], &trace);
    cr_expect_eq(n, 0, "buf_send of a never-used buffer: %zd (%s)", n, sockit_strerror((int)n));
    n = sockit_buf_send(&b, -1, &trace);
    cr_expect_eq(n, 0, "buf_send of a never-used buffer to fd -1: %zd (%s)", n,
                 sockit_strerror((int)n));
    cr_expect_eq(lines, 0, "an empty send made %d traced calls", lines);
    cr_expect_null(b.data, "an empty send allocated storage");
    cr_expect_eq(b.cap, 0);
    cr_expect_eq(sockit_buf_len(&b), 0);

    /* Emptied after use (storage kept): the same. */
    append_ok(&b, "abc", 3);
    sockit_buf_consume(&b, 3);
    n = sockit_buf_send(&b, sv[0], &trace);
    cr_expect_eq(n, 0, "buf_send of an emptied buffer: %zd (%s)", n, sockit_strerror((int)n));
    cr_expect_eq(lines, 0, "an empty send made %d traced calls", lines);
    close(sv[0]);
    sockit_buf_free(&b);
}

Test(buf, recv_and_send_relay_a_stream_through_a_small_buffer)
{
    int in[2], out[2];
    stream_pair(in, 1);
    stream_pair(out, 1);
    struct sockit_buf b;
    sockit_buf_init(&b, 1000);
    size_t len = 50000;
    unsigned char *p = pattern(len, 11), *got = malloc(len);
    cr_assert_not_null(got);
    size_t sent = 0, total = 0;
    for (int i = 0; total < len && i < 100000; i++) {
        if (sent < len) {
            ssize_t w = send(in[1], p + sent, len - sent, MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
        }
        ssize_t r = sockit_buf_recv(&b, in[0], NULL);
        cr_assert(r > 0 || r == -EAGAIN || r == -ENOBUFS, "buf_recv: %zd", r);
        if (sockit_buf_len(&b)) {
            r = sockit_buf_send(&b, out[0], NULL);
            cr_assert(r > 0 || r == -EAGAIN, "buf_send: %zd", r);
        }
        check_invariants(&b, "relay round");
        r = recv(out[1], got + total, len - total, MSG_DONTWAIT);
        if (r > 0)
            total += (size_t)r;
    }
    cr_expect_eq(total, len, "relayed %zu of %zu bytes", total, len);
    cr_expect(memcmp(got, p, len) == 0, "the relayed stream differs");
    free(p);
    free(got);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    sockit_buf_free(&b);
}
