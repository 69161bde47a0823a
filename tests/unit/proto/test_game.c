/* The game protocol's pieces without sockets: the bit packer round-trips and bounds itself;
 * every packet type round-trips and every malformed one is refused with its reason; requests
 * are padded and replies shorter (no amplification); the cookie binds address, port, salt and
 * time; the ack window acks each received packet once, across wraparound, with RTT and loss
 * estimates. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/game.h"
#include "sockit/hist.h"

static uint64_t rnd_state = 12345;

static uint32_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rnd_state >> 32);
}

Test(game_bits, values_of_every_width_round_trip)
{
    static uint8_t buf[4096];
    uint32_t vals[1000];
    unsigned widths[1000];
    struct sockit_bitw w;
    struct sockit_bitr r;

    sockit_bitw_init(&w, buf, sizeof(buf));
    for (int i = 0; i < 1000; i++) {
        widths[i] = 1 + rnd() % 32;
        vals[i] = widths[i] == 32 ? rnd() : rnd() & ((1u << widths[i]) - 1);
        sockit_bitw_put(&w, vals[i], widths[i]);
    }
    cr_assert_not(w.overflow);
    sockit_bitr_init(&r, buf, sockit_bitw_bytes(&w));
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(sockit_bitr_get(&r, widths[i]), vals[i], "value %d (%u bits)", i, widths[i]);
    cr_expect_not(r.overflow);
}

Test(game_bits, signed_values_and_both_bounds)
{
    uint8_t buf[4];
    struct sockit_bitw w;
    struct sockit_bitr r;

    sockit_bitw_init(&w, buf, sizeof(buf));
    sockit_bitw_put(&w, (uint32_t)-5 & 0x7f, 7);
    sockit_bitw_put(&w, 63, 7);
    sockit_bitw_put(&w, 0x3ffff, 18);
    cr_expect_not(w.overflow);
    sockit_bitw_put(&w, 1, 1); /* the 33rd bit of a 4-byte buffer */
    cr_expect(w.overflow);
    sockit_bitr_init(&r, buf, sizeof(buf));
    cr_expect_eq(sockit_bitr_get_signed(&r, 7), -5);
    cr_expect_eq(sockit_bitr_get_signed(&r, 7), 63);
    cr_expect_eq(sockit_bitr_get(&r, 18), 0x3ffffu);
    cr_expect_eq(sockit_bitr_get(&r, 1), 0);
    cr_expect(r.overflow, "a read past the end is flagged");
}

static const uint8_t cookie16[SOCKIT_GAME_COOKIE_LEN] = { 1, 2,  3,  4,  5,  6,  7,  8,
                                                          9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t body[] = { 0xde, 0xad, 0xbe, 0xef, 0x42 };

/* One packet of each type, fields set. */
static int sample(int type, struct sockit_game_packet *p)
{
    memset(p, 0, sizeof(*p));
    p->type = (enum sockit_game_type)type;
    p->salt = 0x0102030405060708ull;
    p->time = 777;
    p->cookie = cookie16;
    p->token = 0xabcdef01;
    p->client_index = 7;
    p->entity = 300;
    p->tick_rate = 30;
    p->deny_reason = SOCKIT_GAME_DENY_FULL;
    p->acks = (struct sockit_game_acks){ 100, 99, 0x80000001u };
    p->tick = 1000;
    p->ninputs = 3;
    for (int i = 0; i < 3; i++)
        p->inputs[i] = (struct sockit_game_input){ (int8_t)(i - 1), (int8_t)(127 - i), (uint8_t)i };
    p->baseline = 990;
    p->hash = 0x12345678;
    p->body = body;
    p->body_len = sizeof(body);
    return type;
}

Test(game_packets, every_type_round_trips)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_packet p, q;

    for (int t = SOCKIT_GAME_CONNECT; t <= SOCKIT_GAME_DISCONNECT; t++) {
        sample(t, &p);
        int n = sockit_game_write(&p, buf, sizeof(buf));
        cr_assert_gt(n, 0, "type %d: %d", t, n);
        cr_assert_eq(sockit_game_read(buf, (size_t)n, &q), t, "type %d", t);
        if (t <= SOCKIT_GAME_DENY)
            cr_expect_eq(q.salt, p.salt);
        if (t == SOCKIT_GAME_CHALLENGE || t == SOCKIT_GAME_RESPONSE) {
            cr_expect_eq(q.time, 777);
            cr_expect(memcmp(q.cookie, cookie16, sizeof(cookie16)) == 0);
        }
        if (t >= SOCKIT_GAME_ACCEPT && t != SOCKIT_GAME_DENY)
            cr_expect_eq(q.token, p.token);
        if (t == SOCKIT_GAME_INPUT || t == SOCKIT_GAME_SNAPSHOT || t == SOCKIT_GAME_KEEPALIVE)
            cr_expect(q.acks.seq == 100 && q.acks.ack == 99 && q.acks.ack_bits == 0x80000001u);
        if (t == SOCKIT_GAME_INPUT) {
            cr_expect_eq(q.ninputs, 3);
            cr_expect(memcmp(q.inputs, p.inputs, 3 * sizeof(p.inputs[0])) == 0);
        }
        if (t == SOCKIT_GAME_SNAPSHOT) {
            cr_expect(q.tick == 1000 && q.baseline == 990 && q.hash == 0x12345678);
            cr_expect(q.body_len == sizeof(body) && memcmp(q.body, body, sizeof(body)) == 0);
        }
    }
}

/* No reply is larger than the request that caused it, and requests are padded. */
Test(game_packets, requests_are_padded_and_replies_shorter)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_packet p;
    int req = sockit_game_write((sample(SOCKIT_GAME_CONNECT, &p), &p), buf, sizeof(buf));
    int resp = sockit_game_write((sample(SOCKIT_GAME_RESPONSE, &p), &p), buf, sizeof(buf));

    cr_expect_eq(req, SOCKIT_GAME_REQUEST_MIN);
    cr_expect_eq(resp, SOCKIT_GAME_REQUEST_MIN);
    const int replies[] = { SOCKIT_GAME_CHALLENGE, SOCKIT_GAME_ACCEPT, SOCKIT_GAME_DENY };
    for (size_t i = 0; i < 3; i++) {
        int n = sockit_game_write((sample(replies[i], &p), &p), buf, sizeof(buf));
        cr_expect_lt(n, SOCKIT_GAME_REQUEST_MIN / 4, "reply type %d is %d bytes", replies[i], n);
    }
}

Test(game_packets, every_prefix_and_every_extra_byte_is_refused)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET + 1];
    struct sockit_game_packet p, q;

    for (int t = SOCKIT_GAME_CONNECT; t <= SOCKIT_GAME_DISCONNECT; t++) {
        int n = sockit_game_write((sample(t, &p), &p), buf, sizeof(buf) - 1);
        for (int k = 0; k < n; k++) {
            if (t == SOCKIT_GAME_SNAPSHOT && k >= n - (int)sizeof(body))
                continue; /* a shorter body is still a snapshot */
            int rc = sockit_game_read(buf, (size_t)k, &q);
            cr_expect_lt(rc, 0, "type %d cut to %d of %d bytes: %d", t, k, n, rc);
        }
        if (t == SOCKIT_GAME_SNAPSHOT)
            continue; /* its body runs to the end */
        buf[n] = 0x55;
        int rc = sockit_game_read(buf, (size_t)n + 1, &q);
        cr_expect_eq(rc, -SOCKIT_EGAME_LONG, "type %d with a byte more: %d", t, rc);
    }
}

Test(game_packets, bad_headers_and_fields_get_their_reasons)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET + 8];
    struct sockit_game_packet p, q;
    int n = sockit_game_write((sample(SOCKIT_GAME_KEEPALIVE, &p), &p), buf, sizeof(buf));

    buf[0] ^= 1;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_PROTOCOL);
    buf[0] ^= 1;
    buf[4] = SOCKIT_GAME_VERSION + 1;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_VERSION);
    buf[4] = SOCKIT_GAME_VERSION;
    buf[5] = 0;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_TYPE);
    buf[5] = 200;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_TYPE);
    cr_expect_eq(sockit_game_read(buf, SOCKIT_GAME_MAX_PACKET + 1, &q), -SOCKIT_EGAME_LONG);

    /* a request not padded, or padded with something */
    n = sockit_game_write((sample(SOCKIT_GAME_CONNECT, &p), &p), buf, sizeof(buf));
    cr_expect_eq(sockit_game_read(buf, 14, &q), -SOCKIT_EGAME_SHORT);
    buf[n - 1] = 1;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_LONG);

    /* inputs: none, too many, -128 */
    sample(SOCKIT_GAME_INPUT, &p);
    p.ninputs = 0;
    cr_expect_eq(sockit_game_write(&p, buf, sizeof(buf)), -SOCKIT_EGAME_RANGE);
    p.ninputs = 3;
    n = sockit_game_write(&p, buf, sizeof(buf));
    buf[SOCKIT_GAME_HEADER + 4 + 8 + 4] = 0;
    cr_expect_eq(sockit_game_read(buf, (size_t)n - 9, &q), -SOCKIT_EGAME_RANGE);
    buf[SOCKIT_GAME_HEADER + 4 + 8 + 4] = SOCKIT_GAME_MAX_INPUTS + 1;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_RANGE);
    buf[SOCKIT_GAME_HEADER + 4 + 8 + 4] = 3;
    buf[SOCKIT_GAME_HEADER + 4 + 8 + 4 + 1] = 0x80;
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_RANGE);

    /* a snapshot whose baseline is not before it, too far back, or before tick 1; an accept
     * with no tick rate */
    sample(SOCKIT_GAME_SNAPSHOT, &p);
    p.baseline = p.tick;
    cr_expect_eq(sockit_game_write(&p, buf, sizeof(buf)), -SOCKIT_EGAME_RANGE);
    p.baseline = p.tick - 256;
    cr_expect_eq(sockit_game_write(&p, buf, sizeof(buf)), -SOCKIT_EGAME_RANGE);
    p.tick = 5;
    p.baseline = 4;
    n = sockit_game_write(&p, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), SOCKIT_GAME_SNAPSHOT);
    cr_expect_eq(q.baseline, 4);
    buf[SOCKIT_GAME_HEADER + 4 + 8 + 4] = 5; /* back to tick 0 */
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_RANGE);
    sample(SOCKIT_GAME_ACCEPT, &p);
    p.tick_rate = 0;
    n = sockit_game_write(&p, buf, sizeof(buf));
    cr_expect_eq(sockit_game_read(buf, (size_t)n, &q), -SOCKIT_EGAME_RANGE);
    cr_expect_str_eq(sockit_strerror(-SOCKIT_EGAME_COOKIE),
                     "game connect cookie invalid or expired");
}

static struct sockit_addr addr4(const char *ip, uint16_t port)
{
    struct sockit_addr a = { .len = sizeof(struct sockaddr_in) };

    a.u.in.sin_family = AF_INET;
    a.u.in.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.u.in.sin_addr);
    return a;
}

Test(game_cookie, binds_address_port_salt_and_time)
{
    uint8_t secret[SOCKIT_GAME_SECRET_LEN] = { 9 }, other[SOCKIT_GAME_SECRET_LEN] = { 8 };
    uint8_t c[SOCKIT_GAME_COOKIE_LEN];
    struct sockit_addr a = addr4("10.0.0.1", 5000);

    cr_assert_eq(sockit_game_cookie(secret, &a, 42, 100, c), 0);
    cr_expect(sockit_game_cookie_valid(secret, &a, 42, 100, c, 100, 10));
    cr_expect(sockit_game_cookie_valid(secret, &a, 42, 100, c, 110, 10), "10 s old: still good");
    cr_expect_not(sockit_game_cookie_valid(secret, &a, 42, 100, c, 111, 10), "expired");
    cr_expect_not(sockit_game_cookie_valid(secret, &a, 42, 100, c, 99, 10), "from the future");
    cr_expect_not(sockit_game_cookie_valid(secret, &a, 43, 100, c, 100, 10), "another salt");
    cr_expect_not(sockit_game_cookie_valid(other, &a, 42, 100, c, 100, 10), "another secret");
    struct sockit_addr b = addr4("10.0.0.1", 5001), d = addr4("10.0.0.2", 5000);
    cr_expect_not(sockit_game_cookie_valid(secret, &b, 42, 100, c, 100, 10), "another port");
    cr_expect_not(sockit_game_cookie_valid(secret, &d, 42, 100, c, 100, 10), "another address");
    for (int i = 0; i < SOCKIT_GAME_COOKIE_LEN * 8; i++) {
        c[i / 8] ^= (uint8_t)(1u << (i % 8));
        cr_expect_not(sockit_game_cookie_valid(secret, &a, 42, 100, c, 100, 10), "bit %d", i);
        c[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    struct sockit_addr u = { .len = sizeof(sa_family_t) };
    u.u.sa.sa_family = AF_UNIX;
    cr_expect_eq(sockit_game_cookie(secret, &u, 42, 100, c), -EINVAL);
}

struct acked_log {
    uint8_t seen[65536];
    int count;
};

static void on_acked(uint16_t seq, void *ud)
{
    struct acked_log *l = ud;

    l->seen[seq]++;
    l->count++;
}

/* A sends 3000 packets to B over a link losing 20 %, B answers each it gets; A's acks arrive
 * one round trip (10 ms) later. Every packet B received is acked to A exactly once (unless
 * every answer that could carry its ack was lost), across the 65535 -> 0 wrap. */
Test(game_window, acks_each_received_packet_once_with_rtt_and_loss)
{
    static struct sockit_game_window a, b;
    static struct acked_log log;
    static uint8_t got_by_b[65536];
    struct sockit_game_acks out, back;
    uint64_t now = 1000000000ull;

    sockit_game_window_init(&a);
    sockit_game_window_init(&b);
    a.next_seq = 65000; /* wraps during the run */
    for (int i = 0; i < 3000; i++, now += 1000000) {
        sockit_game_window_send(&a, now, &out);
        if (rnd() % 5 == 0)
            continue; /* lost on the way to B */
        cr_assert(sockit_game_window_recv(&b, now + 5000000, &out, NULL, NULL));
        cr_expect_not(sockit_game_window_recv(&b, now + 5000000, &out, NULL, NULL),
                      "a duplicate is refused");
        got_by_b[out.seq] = 1;
        sockit_game_window_send(&b, now + 5000000, &back);
        if (rnd() % 5 == 0)
            continue; /* the answer is lost */
        sockit_game_window_recv(&a, now + 10000000, &back, on_acked, &log);
    }
    int wrong = 0;
    for (int s = 0; s < 65536; s++)
        wrong += log.seen[s] > 1 || (log.seen[s] && !got_by_b[s]);
    cr_expect_eq(wrong, 0, "acked twice, or acked without being received");
    cr_expect_gt(log.count, 2300, "%d acked", log.count);
    cr_expect(fabs(a.rtt_ms - 10.0) < 0.01, "rtt %.3f ms", a.rtt_ms);
    cr_expect(a.loss > 0.10 && a.loss < 0.32, "loss estimate %.3f (20 %% dropped)", a.loss);
}

Test(game_window, old_and_duplicate_packets_are_refused)
{
    struct sockit_game_window w;
    struct sockit_game_acks a = { 0 };

    sockit_game_window_init(&w);
    a.seq = 100;
    cr_expect(sockit_game_window_recv(&w, 1, &a, NULL, NULL));
    a.seq = 140;
    cr_expect(sockit_game_window_recv(&w, 2, &a, NULL, NULL));
    cr_expect_eq(w.recv_bits, 0, "100 is 40 behind: out of the window");
    a.seq = 100;
    cr_expect_not(sockit_game_window_recv(&w, 3, &a, NULL, NULL), "too old");
    a.seq = 108;
    cr_expect(sockit_game_window_recv(&w, 4, &a, NULL, NULL), "32 behind, new: taken");
    cr_expect_eq(w.recv_bits, 1u << 31);
    cr_expect_not(sockit_game_window_recv(&w, 5, &a, NULL, NULL), "and only once");
    a.seq = 139;
    cr_expect(sockit_game_window_recv(&w, 6, &a, NULL, NULL));
    cr_expect_eq(w.recv_bits, (1u << 31) | 1u);
    cr_expect_eq(w.remote_seq, 140);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* A view of N entities with ids from a random increasing walk. */
static void random_view(struct sockit_game_view *v, uint16_t n, uint32_t tick)
{
    uint16_t id = (uint16_t)(rnd() % 4);

    v->tick = tick;
    v->n = n;
    for (uint16_t i = 0; i < n; i++) {
        v->e[i] = (struct sockit_game_entity){ id,
                                               (uint16_t)rnd(),
                                               (uint16_t)rnd(),
                                               (int16_t)rnd(),
                                               (int16_t)rnd(),
                                               (uint8_t)rnd(),
                                               (uint8_t)rnd() };
        id = (uint16_t)(id + 1 + (rnd() % 3 == 0 ? rnd() % 5 : 0));
    }
}

/* CUR from BASE: most entities move a little, some jump, some change a field, a few leave and
 * a few arrive. */
static void next_view(const struct sockit_game_view *base, struct sockit_game_view *cur)
{
    *cur = *base;
    cur->tick = base->tick + 1;
    for (uint16_t i = 0; i < cur->n; i++) {
        struct sockit_game_entity *e = &cur->e[i];
        e->x = (uint16_t)(e->x + (int)(rnd() % 21) - 10);
        e->y = (uint16_t)(e->y + (int)(rnd() % 21) - 10);
        if (rnd() % 20 == 0)
            e->x = (uint16_t)rnd(); /* a jump: a full position */
        if (rnd() % 10 == 0)
            e->vx = (int16_t)rnd();
        if (rnd() % 30 == 0)
            e->hp--;
    }
    if (cur->n > 4) { /* one leaves, one arrives after the last */
        memmove(&cur->e[1], &cur->e[2], (size_t)(cur->n - 2) * sizeof(cur->e[0]));
        cur->e[cur->n - 1].id = (uint16_t)(cur->e[cur->n - 2].id + 7);
    }
}

Test(game_snapshot, full_and_delta_round_trip_with_the_same_hash)
{
    static struct sockit_game_view base, cur, got, got_base;
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    struct sockit_bitw w;

    for (int round = 0; round < 200; round++) {
        random_view(&base, (uint16_t)(rnd() % 60), 100);
        sockit_bitw_init(&w, buf, sizeof(buf));
        cr_assert_eq(sockit_game_snapshot_write(&w, &base, NULL), 0);
        cr_assert_eq(sockit_game_snapshot_read(buf, sockit_bitw_bytes(&w), 100, NULL, &got_base),
                     0);
        cr_assert_eq(sockit_game_view_hash(&got_base), sockit_game_view_hash(&base));
        next_view(&base, &cur);
        sockit_bitw_init(&w, buf, sizeof(buf));
        cr_assert_eq(sockit_game_snapshot_write(&w, &cur, &base), 0);
        cr_assert_eq(sockit_game_snapshot_read(buf, sockit_bitw_bytes(&w), 101, &got_base, &got), 0,
                     "round %d", round);
        cr_assert_eq(got.n, cur.n);
        cr_assert(memcmp(got.e, cur.e, cur.n * sizeof(cur.e[0])) == 0, "round %d", round);
        cr_assert_eq(sockit_game_view_hash(&got), sockit_game_view_hash(&cur));
    }
}

/* 128 entities moving a little: the delta is a fraction of the full snapshot and fits a
 * packet; the full one does not, and says so. */
Test(game_snapshot, deltas_are_small_and_a_view_too_big_is_refused)
{
    static struct sockit_game_view base, cur;
    uint8_t buf[SOCKIT_GAME_MAX_PACKET - 40];
    struct sockit_bitw w;

    random_view(&base, SOCKIT_GAME_MAX_VIEW, 1);
    for (uint16_t i = 0; i < base.n; i++)
        base.e[i].id = i;
    cur = base;
    cur.tick = 2;
    for (uint16_t i = 0; i < cur.n; i++) {
        cur.e[i].x = (uint16_t)(cur.e[i].x + 3);
        cur.e[i].y = (uint16_t)(cur.e[i].y - 2);
    }
    sockit_bitw_init(&w, buf, sizeof(buf));
    cr_assert_eq(sockit_game_snapshot_write(&w, &cur, &base), 0);
    size_t delta = sockit_bitw_bytes(&w);
    cr_expect_leq(delta, 128 * 4, "128 moving entities in %zu bytes", delta);
    sockit_bitw_init(&w, buf, sizeof(buf));
    cr_expect_eq(sockit_game_snapshot_write(&w, &cur, NULL), -ENOSPC, "a full view of 128");
    cur.e[5].id = cur.e[4].id; /* out of order */
    sockit_bitw_init(&w, buf, sizeof(buf));
    cr_expect_eq(sockit_game_snapshot_write(&w, &cur, &base), -SOCKIT_EGAME_RANGE);
}

Test(game_snapshot, malformed_bodies_are_refused)
{
    static struct sockit_game_view v, got;
    uint8_t buf[256];
    struct sockit_bitw w;

    random_view(&v, 3, 9);
    sockit_bitw_init(&w, buf, sizeof(buf));
    cr_assert_eq(sockit_game_snapshot_write(&w, &v, NULL), 0);
    size_t n = sockit_bitw_bytes(&w);
    cr_expect_eq(sockit_game_snapshot_read(buf, n - 1, 9, NULL, &got), -SOCKIT_EGAME_SHORT);
    buf[n] = 0;
    cr_expect_eq(sockit_game_snapshot_read(buf, n + 1, 9, NULL, &got), -SOCKIT_EGAME_LONG);
    if (w.bits % 8) { /* padding that is not zeros */
        buf[n - 1] |= 1;
        cr_expect_eq(sockit_game_snapshot_read(buf, n, 9, NULL, &got), -SOCKIT_EGAME_LONG);
    }
    /* a count over the view's size; ids going backwards */
    sockit_bitw_init(&w, buf, sizeof(buf));
    sockit_bitw_put(&w, SOCKIT_GAME_MAX_VIEW + 1, 8);
    cr_expect_eq(sockit_game_snapshot_read(buf, 1, 9, NULL, &got), -SOCKIT_EGAME_RANGE);
    sockit_bitw_init(&w, buf, sizeof(buf));
    sockit_bitw_put(&w, 2, 8);
    sockit_bitw_put(&w, 0, 1);
    sockit_bitw_put(&w, 500, 10);
    sockit_bitw_put(&w, 0, 1); /* unchanged: not in a NULL baseline, so all fields follow */
    for (int k = 0; k < 79; k++)
        sockit_bitw_put(&w, 0, 1);
    sockit_bitw_put(&w, 0, 1);
    sockit_bitw_put(&w, 499, 10);
    cr_expect_eq(sockit_game_snapshot_read(buf, sockit_bitw_bytes(&w), 9, NULL, &got),
                 -SOCKIT_EGAME_RANGE);
}

/* ---- the world ------------------------------------------------------------------------------ */

static uint32_t world_hash(const struct sockit_game_world *w)
{
    static struct sockit_game_view all;

    sockit_game_world_view(w, 0, SOCKIT_GAME_MAX_VIEW, &all);
    return sockit_game_view_hash(&all);
}

Test(game_world, the_same_inputs_give_the_same_world)
{
    static struct sockit_game_world a, b, c;

    sockit_game_world_init(&a, 100, 7);
    sockit_game_world_init(&b, 100, 7);
    sockit_game_world_init(&c, 100, 8);
    int pa = sockit_game_world_add_player(&a), pb = sockit_game_world_add_player(&b);
    cr_assert_eq(pa, pb);
    for (int t = 0; t < 1000; t++) {
        struct sockit_game_input in = { (int8_t)(t % 255 - 127), (int8_t)(127 - t % 200), 1 };
        sockit_game_world_input(&a, (uint16_t)pa, &in);
        sockit_game_world_input(&b, (uint16_t)pb, &in);
        sockit_game_world_step(&a);
        sockit_game_world_step(&b);
        sockit_game_world_step(&c);
    }
    cr_expect_eq(a.tick, 1001);
    cr_expect(memcmp(a.e, b.e, sizeof(a.e)) == 0, "the same seed and inputs: another world");
    cr_expect_eq(world_hash(&a), world_hash(&b));
    cr_expect_neq(world_hash(&a), world_hash(&c), "another seed: the same world");
}

Test(game_world, players_follow_their_input_and_npcs_stay_inside)
{
    static struct sockit_game_world w;

    sockit_game_world_init(&w, 50, 3);
    int p = sockit_game_world_add_player(&w);
    cr_assert_geq(p, 0);
    uint16_t x0 = w.e[p].x;
    struct sockit_game_input right = { 80, 0, 0 };
    sockit_game_world_input(&w, (uint16_t)p, &right);
    sockit_game_world_step(&w);
    cr_expect_eq(w.e[p].vx, 10);
    cr_expect(w.e[p].x == (uint16_t)(x0 + 10) || w.e[p].vx == -10, "moved by 10 (or bounced)");
    bool npc_moved = false;
    for (int t = 0; t < 5000; t++)
        sockit_game_world_step(&w);
    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++)
        if (w.used[id] && !w.player[id])
            npc_moved |= w.e[id].vx || w.e[id].vy;
    cr_expect(npc_moved, "NPCs wander");
    sockit_game_world_remove(&w, (uint16_t)p);
    cr_expect_eq(w.count, 50);
    cr_expect_eq(sockit_game_world_add_player(&w), p, "the freed id is used again");
}

Test(game_world, a_view_is_the_nearest_in_id_order_with_itself)
{
    static struct sockit_game_world w;
    static struct sockit_game_view v;

    sockit_game_world_init(&w, 300, 11);
    int p = sockit_game_world_add_player(&w);
    sockit_game_world_view(&w, (uint16_t)p, 40, &v);
    cr_assert_eq(v.n, 40);
    bool self = false;
    uint64_t farthest = 0;
    for (uint16_t i = 0; i < v.n; i++) {
        if (i)
            cr_expect_gt(v.e[i].id, v.e[i - 1].id, "ids increase");
        self |= v.e[i].id == p;
        int64_t dx = (int64_t)v.e[i].x - w.e[p].x, dy = (int64_t)v.e[i].y - w.e[p].y;
        uint64_t d2 = (uint64_t)(dx * dx + dy * dy);
        farthest = d2 > farthest ? d2 : farthest;
    }
    cr_expect(self, "a player sees itself");
    int closer_outside = 0;
    for (int id = 0; id <= SOCKIT_GAME_MAX_ENTITY; id++) {
        if (!w.used[id])
            continue;
        bool in = false;
        for (uint16_t i = 0; i < v.n; i++)
            in |= v.e[i].id == id;
        int64_t dx = (int64_t)w.e[id].x - w.e[p].x, dy = (int64_t)w.e[id].y - w.e[p].y;
        closer_outside += !in && (uint64_t)(dx * dx + dy * dy) < farthest;
    }
    cr_expect_eq(closer_outside, 0, "an entity nearer than one in the view is left out");
    struct sockit_game_world full;
    sockit_game_world_init(&full, 1024, 1);
    cr_expect_eq(full.count, 1024);
    cr_expect_eq(sockit_game_world_add_player(&full), -SOCKIT_EGAME_FULL);
}

/* The nearest MAX of W to ID by brute force, as a set of ids in BITS. */
static void brute_view(const struct sockit_game_world *w, uint16_t id, uint16_t max, bool *bits)
{
    uint64_t d[SOCKIT_GAME_MAX_ENTITY + 1];

    memset(bits, 0, SOCKIT_GAME_MAX_ENTITY + 1);
    for (int k = 0; k <= SOCKIT_GAME_MAX_ENTITY; k++) {
        int64_t dx = (int64_t)w->e[k].x - w->e[id].x, dy = (int64_t)w->e[k].y - w->e[id].y;
        d[k] = w->used[k] ? (k == id ? 0 : (uint64_t)(dx * dx + dy * dy) + 1) : UINT64_MAX;
    }
    for (uint16_t taken = 0; taken < max; taken++) {
        int best = -1;
        for (int k = 0; k <= SOCKIT_GAME_MAX_ENTITY; k++)
            if (d[k] != UINT64_MAX && !bits[k] && (best < 0 || d[k] < d[best]))
                best = k;
        if (best < 0)
            break;
        bits[best] = true;
    }
}

Test(game_world, the_grid_search_finds_what_a_search_of_everything_finds)
{
    static struct sockit_game_world w;
    static struct sockit_game_view v;
    bool want[SOCKIT_GAME_MAX_ENTITY + 1];

    for (int round = 0; round < 60; round++) {
        /* sparse and crowded worlds, some clustered in a corner by many steps to a wall */
        sockit_game_world_init(&w, (uint16_t)(1 + rnd() % 1000), rnd());
        int p = sockit_game_world_add_player(&w);
        if (p < 0)
            continue;
        for (int s = (int)(rnd() % 3) * 200; s > 0; s--)
            sockit_game_world_step(&w);
        uint16_t max = (uint16_t)(rnd() % 129);
        sockit_game_world_view(&w, (uint16_t)p, max, &v);
        brute_view(&w, (uint16_t)p, max, want);
        uint16_t expect_n = 0;
        for (int k = 0; k <= SOCKIT_GAME_MAX_ENTITY; k++)
            expect_n += want[k];
        cr_assert_eq(v.n, expect_n, "round %d: %u entities, %u wanted", round, v.n, expect_n);
        for (uint16_t i = 0; i < v.n; i++)
            cr_assert(want[v.e[i].id], "round %d: entity %u is not among the %u nearest", round,
                      v.e[i].id, max);
    }
}

/* ---- the server's door ---------------------------------------------------------------------- */

#define SEC 1000000000ull

static const uint8_t test_secret[SOCKIT_GAME_SECRET_LEN] = { 1, 2, 3 };

static struct sockit_game_server *door(uint16_t max_clients)
{
    struct sockit_game_server *s = NULL;
    struct sockit_game_server_options o = { .max_clients = max_clients,
                                            .seed = 5,
                                            .secret = test_secret };

    cr_assert_eq(sockit_game_server_new(&s, &o), 0);
    return s;
}

/* Send P from FROM at NOW; the reply read into *OUT; returns its type, 0 for none. */
static int send_to(struct sockit_game_server *s, uint64_t now, const struct sockit_addr *from,
                   const struct sockit_game_packet *p, struct sockit_game_packet *out)
{
    uint8_t in[SOCKIT_GAME_MAX_PACKET], reply[SOCKIT_GAME_MAX_PACKET];
    static uint8_t keep[SOCKIT_GAME_MAX_PACKET];
    int n = sockit_game_write(p, in, sizeof(in));

    cr_assert_gt(n, 0);
    size_t r = sockit_game_server_receive(s, now, from, in, (size_t)n, reply, sizeof(reply));
    if (r == 0)
        return 0;
    cr_expect_leq(r, (size_t)n, "a reply of %zu bytes to %d", r, n);
    memcpy(keep, reply, r);
    return sockit_game_read(keep, r, out);
}

/* The whole handshake for FROM with SALT: the ACCEPT or DENY type, *TOKEN set. */
static int handshake(struct sockit_game_server *s, uint64_t now, const struct sockit_addr *from,
                     uint64_t salt, uint32_t *token)
{
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT, .salt = salt }, r;
    uint8_t cookie[SOCKIT_GAME_COOKIE_LEN];

    cr_assert_eq(send_to(s, now, from, &p, &r), SOCKIT_GAME_CHALLENGE);
    cr_assert_eq(r.salt, salt);
    memcpy(cookie, r.cookie, sizeof(cookie));
    p = (struct sockit_game_packet){
        .type = SOCKIT_GAME_RESPONSE, .salt = salt, .time = r.time, .cookie = cookie
    };
    int t = send_to(s, now, from, &p, &r);
    if (token)
        *token = r.token;
    return t;
}

Test(game_door, a_client_gets_in_with_its_cookie_and_a_full_server_says_so)
{
    struct sockit_game_server *s = door(2);
    struct sockit_addr a = addr4("10.0.0.1", 1000), b = addr4("10.0.0.2", 1000),
                       c = addr4("10.0.0.3", 1000);
    uint32_t ta, tb, tc;
    struct sockit_game_server_stats st;

    cr_expect_eq(handshake(s, 100 * SEC, &a, 11, &ta), SOCKIT_GAME_ACCEPT);
    cr_expect_eq(handshake(s, 100 * SEC, &b, 12, &tb), SOCKIT_GAME_ACCEPT);
    cr_expect_neq(ta, tb);
    cr_expect_eq(handshake(s, 100 * SEC, &c, 13, &tc), SOCKIT_GAME_DENY);
    cr_expect_eq(handshake(s, 100 * SEC, &a, 11, &tc), SOCKIT_GAME_ACCEPT, "a repeated response");
    cr_expect_eq(tc, ta, "gets the same session");
    sockit_game_server_stats(s, &st);
    cr_expect(st.clients == 2 && st.denied_full == 1 && st.accepts == 3, "%u %llu %llu", st.clients,
              (unsigned long long)st.denied_full, (unsigned long long)st.accepts);
    sockit_game_server_free(s);
}

Test(game_door, forged_foreign_and_stale_cookies_take_nothing_and_get_nothing)
{
    struct sockit_game_server *s = door(4);
    struct sockit_addr a = addr4("10.0.0.1", 1000), spoof = addr4("10.0.0.9", 1000);
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT, .salt = 1 }, r;
    uint8_t cookie[SOCKIT_GAME_COOKIE_LEN];
    struct sockit_game_server_stats st;

    cr_assert_eq(send_to(s, 100 * SEC, &a, &p, &r), SOCKIT_GAME_CHALLENGE);
    memcpy(cookie, r.cookie, sizeof(cookie));
    struct sockit_game_packet resp = {
        .type = SOCKIT_GAME_RESPONSE, .salt = 1, .time = r.time, .cookie = cookie
    };
    cr_expect_eq(send_to(s, 100 * SEC, &spoof, &resp, &r), 0, "another source's cookie");
    cr_expect_eq(send_to(s, 111 * SEC, &a, &resp, &r), 0, "a cookie 11 s old");
    resp.salt = 2;
    cr_expect_eq(send_to(s, 100 * SEC, &a, &resp, &r), 0, "another salt");
    resp.salt = 1;
    cookie[3] ^= 0x10;
    cr_expect_eq(send_to(s, 100 * SEC, &a, &resp, &r), 0, "a forged cookie");
    for (int i = 0; i < 64; i++) { /* a flood of forged responses from many sources */
        struct sockit_addr f = addr4("192.0.2.1", (uint16_t)(2000 + i));
        cr_expect_eq(send_to(s, 100 * SEC, &f, &resp, &r), 0);
    }
    sockit_game_server_stats(s, &st);
    cr_expect_eq(st.clients, 0, "forged requests took slots");
    cr_expect_eq(st.bad_cookie, 68);
    cr_expect_leq(st.bytes_out_handshake * 5, st.bytes_in, "replies %llu bytes for %llu in",
                  (unsigned long long)st.bytes_out_handshake, (unsigned long long)st.bytes_in);
    cookie[3] ^= 0x10;
    cr_expect_eq(send_to(s, 105 * SEC, &a, &resp, &r), SOCKIT_GAME_ACCEPT, "the real one, 5 s on");
    sockit_game_server_free(s);
}

Test(game_door, other_versions_hear_why_and_junk_is_counted_silently)
{
    struct sockit_game_server *s = door(4);
    struct sockit_addr a = addr4("10.0.0.1", 1000);
    uint8_t buf[SOCKIT_GAME_MAX_PACKET], reply[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_packet p = { .type = SOCKIT_GAME_CONNECT, .salt = 1 }, r;
    struct sockit_game_server_stats st;
    int n = sockit_game_write(&p, buf, sizeof(buf));

    buf[4] = SOCKIT_GAME_VERSION + 1;
    size_t rl = sockit_game_server_receive(s, SEC, &a, buf, (size_t)n, reply, sizeof(reply));
    cr_assert_gt(rl, 0);
    cr_expect_eq(sockit_game_read(reply, rl, &r), SOCKIT_GAME_DENY);
    cr_expect_eq(r.deny_reason, SOCKIT_GAME_DENY_VERSION);
    buf[0] = 'X';
    cr_expect_eq(sockit_game_server_receive(s, SEC, &a, buf, (size_t)n, reply, sizeof(reply)), 0);
    cr_expect_eq(sockit_game_server_receive(s, SEC, &a, buf, 3, reply, sizeof(reply)), 0);
    sockit_game_server_stats(s, &st);
    cr_expect_eq(st.malformed, 2);
    sockit_game_server_free(s);
}

Test(game_door, sessions_need_their_token_and_silent_ones_expire)
{
    struct sockit_game_server *s = door(4);
    struct sockit_addr a = addr4("10.0.0.1", 1000), b = addr4("10.0.0.2", 1000);
    uint32_t ta, tb;
    struct sockit_game_packet r;
    struct sockit_game_server_stats st;

    cr_assert_eq(handshake(s, 10 * SEC, &a, 1, &ta), SOCKIT_GAME_ACCEPT);
    cr_assert_eq(handshake(s, 10 * SEC, &b, 2, &tb), SOCKIT_GAME_ACCEPT);
    struct sockit_game_packet ka = { .type = SOCKIT_GAME_KEEPALIVE, .token = ta };
    cr_expect_eq(send_to(s, 11 * SEC, &a, &ka, &r), 0);
    ka.token = ta + 1;
    send_to(s, 11 * SEC, &a, &ka, &r);
    struct sockit_addr stranger = addr4("10.0.0.3", 1000);
    ka.token = ta;
    send_to(s, 11 * SEC, &stranger, &ka, &r);
    sockit_game_server_stats(s, &st);
    cr_expect_eq(st.unknown_source, 2, "a wrong token, a stranger with a right one");
    cr_expect_eq(sockit_game_server_expire(s, 11 * SEC - 1), 0,
                 "a clock read just before a's last packet is not 584 years of silence");
    cr_expect_eq(sockit_game_server_expire(s, 12 * SEC + 1), 1, "b was silent for 2 s");
    cr_expect_not_null(sockit_game_server_slot(s, 0));
    struct sockit_game_packet bye = { .type = SOCKIT_GAME_DISCONNECT, .token = ta };
    send_to(s, 12 * SEC, &a, &bye, &r);
    sockit_game_server_stats(s, &st);
    cr_expect(st.clients == 0 && st.timeouts == 1 && st.disconnects == 1);
    sockit_game_server_free(s);
}

/* ---- the tick and the client, over a simulated network -------------------------------------- */

#define MS    1000000ull
#define NET_Q 4096

/* Datagrams in flight: each lost with LOSS_PCT %, else delivered after DELAY ± JITTER (so
 * jitter reorders them). */
struct net_pkt {
    uint64_t at;
    int to; /* -1: the server; else the client's index */
    int from;
    size_t len;
    uint8_t data[SOCKIT_GAME_MAX_PACKET];
};

struct net {
    unsigned loss_pct;
    uint64_t delay, jitter;
    struct net_pkt q[NET_Q];
    size_t n;
    uint64_t now;
};

static void net_put(struct net *net, int from, int to, const uint8_t *data, size_t len)
{
    if (rnd() % 100 < net->loss_pct || net->n == NET_Q)
        return;
    struct net_pkt *p = &net->q[net->n++];
    p->at = net->now + net->delay + (net->jitter ? rnd() % (2 * net->jitter) : 0) - net->jitter;
    p->to = to;
    p->from = from;
    p->len = len;
    memcpy(p->data, data, len);
}

struct sim {
    struct net net;
    struct sockit_game_server *s;
    struct sockit_game_client *c[16];
    int nc;
    bool silent[16]; /* a client that stopped sending */
    uint64_t sent_snapshots;
};

static struct sockit_addr sim_addr(int i)
{
    return addr4("10.1.0.1", (uint16_t)(5000 + i));
}

static void sim_send(const struct sockit_addr *to, const uint8_t *pkt, size_t len, void *ud)
{
    struct sim *sim = ud;
    sim->sent_snapshots++;
    net_put(&sim->net, -1, ntohs(to->u.in.sin_port) - 5000, pkt, len);
}

/* Deliver what is due at net.now. */
static void sim_deliver(struct sim *sim)
{
    uint8_t reply[SOCKIT_GAME_MAX_PACKET];

    for (size_t i = 0; i < sim->net.n;) {
        struct net_pkt p = sim->net.q[i];
        if (p.at > sim->net.now) {
            i++;
            continue;
        }
        sim->net.q[i] = sim->net.q[--sim->net.n];
        if (p.to < 0) {
            struct sockit_addr from = sim_addr(p.from);
            size_t r = sockit_game_server_receive(sim->s, sim->net.now, &from, p.data, p.len, reply,
                                                  sizeof(reply));
            if (r)
                net_put(&sim->net, -1, p.from, reply, r);
        } else {
            sockit_game_client_receive(sim->c[p.to], sim->net.now, p.data, p.len);
        }
    }
}

/* Client I's input at its tick T: a slow circle, deterministic. */
static struct sockit_game_input sim_input(int i, uint32_t t)
{
    return (struct sockit_game_input){ .move_x =
                                           (int8_t)((int)((t / 16 + (uint32_t)i) % 9) * 30 - 120),
                                       .move_y = (int8_t)((int)((t / 20) % 7) * 40 - 120),
                                       .buttons = (uint8_t)(t & 3) };
}

static void sim_start(struct sim *sim, int nc, const struct sockit_game_server_options *o)
{
    memset(sim, 0, sizeof(*sim));
    cr_assert_eq(sockit_game_server_new(&sim->s, o), 0);
    sim->nc = nc;
    for (int i = 0; i < nc; i++) {
        struct sockit_game_client_options co = { .seed = 1000u + (unsigned)i };
        cr_assert_eq(sockit_game_client_new(&sim->c[i], &co), 0);
    }
    sim->net.now = 100 * SEC;
}

/* Run TICKS server ticks at 30 Hz, clients updating each tick and the network in 1-ms steps. */
static void sim_run(struct sim *sim, int ticks)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    uint64_t period = SEC / 30;

    for (int t = 0; t < ticks; t++) {
        for (int i = 0; i < sim->nc; i++) {
            if (sim->silent[i])
                continue;
            struct sockit_game_input in = sim_input(i, (uint32_t)t);
            size_t n = sockit_game_client_update(sim->c[i], sim->net.now, &in, buf, sizeof(buf));
            if (n)
                net_put(&sim->net, i, -1, buf, n);
        }
        sockit_game_server_tick(sim->s, sim->net.now, sim_send, sim);
        for (uint64_t end = sim->net.now + period; sim->net.now < end; sim->net.now += MS)
            sim_deliver(sim);
    }
}

static void sim_free(struct sim *sim)
{
    for (int i = 0; i < sim->nc; i++)
        sockit_game_client_free(sim->c[i]);
    sockit_game_server_free(sim->s);
}

/* Loss, jitter and reordering: every client connects, decodes only views that hash as the
 * server's, and stays close behind the server's tick. */
static void converge(unsigned loss_pct)
{
    static struct sim sim;
    struct sockit_game_server_options o = { .seed = 3, .npcs = 40, .secret = test_secret };

    sim_start(&sim, 8, &o);
    sim.net = (struct net){
        .loss_pct = loss_pct, .delay = 20 * MS, .jitter = 10 * MS, .now = sim.net.now
    };
    sim_run(&sim, 900); /* 30 s */
    struct sockit_game_server_stats ss;
    sockit_game_server_stats(sim.s, &ss);
    cr_expect_eq(ss.clients, 8);
    uint32_t tick = sockit_game_server_world(sim.s)->tick;
    for (int i = 0; i < sim.nc; i++) {
        struct sockit_game_client_stats cs;
        sockit_game_client_stats(sim.c[i], &cs);
        cr_expect_eq(sockit_game_client_state(sim.c[i]), SOCKIT_GAME_CLIENT_CONNECTED);
        cr_expect_eq(cs.mismatches, 0, "client %d: %llu hash mismatches", i,
                     (unsigned long long)cs.mismatches);
        cr_expect_geq(cs.snapshots, 900 * (100 - loss_pct) / 100 - 60, "client %d: %llu snapshots",
                      i, (unsigned long long)cs.snapshots);
        cr_expect_leq(cs.no_baseline, 2);
        const struct sockit_game_view *v = sockit_game_client_view(sim.c[i]);
        cr_expect_leq(tick - v->tick, 10, "client %d's view is of tick %u, the server's %u", i,
                      v->tick, tick);
        cr_expect_gt(v->n, 8);
        const struct sockit_game_window *w = sockit_game_client_window(sim.c[i]);
        cr_expect(w->rtt_ms > 30 && w->rtt_ms < 90, "client %d: rtt %.1f ms", i, w->rtt_ms);
        /* the inputs' loss: their acks ride on every snapshot 33 times, so only one way counts */
        cr_expect(fabs(w->loss - loss_pct / 100.0) < 0.08, "client %d: loss %.3f at %u %%", i,
                  w->loss, loss_pct);
    }
    /* every tick of input reached the world once, lost packets or not (a few still in flight) */
    uint64_t sent_ticks = 0;
    for (int i = 0; i < sim.nc; i++) {
        struct sockit_game_client_stats cs;
        sockit_game_client_stats(sim.c[i], &cs);
        sent_ticks += cs.inputs_sent;
    }
    cr_expect_geq(ss.inputs_applied, sent_ticks - 8 * 4, "applied %llu of %llu",
                  (unsigned long long)ss.inputs_applied, (unsigned long long)sent_ticks);
    cr_expect_leq(ss.inputs_applied, sent_ticks);
    sim_free(&sim);
}

Test(game_play, views_converge_with_no_loss)
{
    converge(0);
}

Test(game_play, views_converge_at_5_percent_loss_with_jitter)
{
    converge(5);
}

Test(game_play, views_converge_at_20_percent_loss_with_jitter)
{
    converge(20);
}

Test(game_play, deltas_against_acked_snapshots_are_small)
{
    static struct sim sim;
    struct sockit_game_server_options o = {
        .seed = 4, .npcs = 100, .view = 32, .secret = test_secret
    };

    sim_start(&sim, 4, &o);
    sim.net.delay = 10 * MS;
    sim_run(&sim, 300);
    struct sockit_game_server_stats ss;
    sockit_game_server_stats(sim.s, &ss);
    cr_expect_leq(ss.full_snapshots, 4 * 2, "%llu full snapshots",
                  (unsigned long long)ss.full_snapshots);
    double per = (double)ss.snapshot_bytes / (double)ss.snapshots;
    /* 32 moving entities: a full one is ~370 B; a delta of small moves ~4 B each */
    cr_expect_lt(per, 200, "%.0f bytes a snapshot", per);
    sim_free(&sim);
}

Test(game_play, a_view_too_big_for_one_packet_is_cut_to_fit)
{
    static struct sim sim;
    struct sockit_game_server_options o = {
        .seed = 5, .npcs = 300, .view = 128, .secret = test_secret
    };

    sim_start(&sim, 1, &o);
    sim.net.delay = 5 * MS;
    sim_run(&sim, 10);
    struct sockit_game_client_stats cs;
    sockit_game_client_stats(sim.c[0], &cs);
    cr_expect_gt(cs.snapshots, 5);
    cr_expect_eq(cs.mismatches, 0);
    sim_run(&sim, 20);
    cr_expect_eq(sockit_game_client_view(sim.c[0])->n, 128, "a delta of 128 fits");
    struct sockit_game_server_stats ss;
    sockit_game_server_stats(sim.s, &ss);
    cr_expect_leq(ss.snapshot_bytes / ss.snapshots, SOCKIT_GAME_MAX_PACKET);
    sim_free(&sim);
}

Test(game_play, a_silent_client_is_dropped_and_leaves_the_world)
{
    static struct sim sim;
    struct sockit_game_server_options o = { .seed = 6, .npcs = 10, .secret = test_secret };

    sim_start(&sim, 3, &o);
    sim_run(&sim, 30);
    cr_assert_eq(sockit_game_server_world(sim.s)->count, 13);
    sim.silent[1] = true;
    sim_run(&sim, 55); /* 1.83 s */
    struct sockit_game_server_stats ss;
    sockit_game_server_stats(sim.s, &ss);
    cr_expect_eq(ss.timeouts, 0, "dropped before 2 s");
    sim_run(&sim, 10);
    sockit_game_server_stats(sim.s, &ss);
    cr_expect_eq(ss.timeouts, 1);
    cr_expect_eq(ss.clients, 2);
    cr_expect_eq(sockit_game_server_world(sim.s)->count, 12);
    sim_free(&sim);
}

Test(game_play, either_side_ends_the_session_and_a_silent_server_times_out)
{
    static struct sim sim;
    struct sockit_game_server_options o = { .seed = 7, .secret = test_secret };
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];

    sim_start(&sim, 3, &o);
    sim_run(&sim, 10);
    size_t n = sockit_game_client_disconnect(sim.c[0], buf, sizeof(buf));
    cr_assert_gt(n, 0);
    net_put(&sim.net, 0, -1, buf, n);
    cr_expect_eq(sockit_game_client_state(sim.c[0]), SOCKIT_GAME_CLIENT_CLOSED);
    sim_run(&sim, 2);
    struct sockit_game_server_stats ss;
    sockit_game_server_stats(sim.s, &ss);
    cr_expect(ss.clients == 2 && ss.disconnects == 1);
    sockit_game_server_shutdown(sim.s, sim_send, &sim);
    for (int k = 0; k < 20; k++, sim.net.now += MS)
        sim_deliver(&sim);
    cr_expect_eq(sockit_game_client_state(sim.c[1]), SOCKIT_GAME_CLIENT_DISCONNECTED);
    /* client 2 hears nothing more: it times out by itself after 2 s */
    struct sockit_game_input in = { 0 };
    cr_expect_eq(sockit_game_client_update(sim.c[2], sim.net.now + 3 * SEC, &in, buf, sizeof(buf)),
                 0);
    cr_expect_eq(sockit_game_client_state(sim.c[1]), SOCKIT_GAME_CLIENT_DISCONNECTED);
    sim_free(&sim);
}

Test(game_play, a_client_without_an_answer_times_out_and_a_denied_one_says_why)
{
    struct sockit_game_client *c;
    struct sockit_game_client_options co = { .seed = 9, .timeout_ms = 500 };
    uint8_t buf[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_packet p;

    cr_assert_eq(sockit_game_client_new(&c, &co), 0);
    size_t n = sockit_game_client_update(c, SEC, NULL, buf, sizeof(buf));
    cr_assert_eq(sockit_game_read(buf, n, &p), SOCKIT_GAME_CONNECT);
    cr_expect_eq(sockit_game_client_update(c, SEC + 50 * MS, NULL, buf, sizeof(buf)), 0,
                 "no retry before 100 ms");
    cr_expect_gt(sockit_game_client_update(c, SEC + 100 * MS, NULL, buf, sizeof(buf)), 0);
    cr_expect_eq(sockit_game_client_update(c, SEC + 501 * MS, NULL, buf, sizeof(buf)), 0);
    cr_expect_eq(sockit_game_client_state(c), SOCKIT_GAME_CLIENT_TIMED_OUT);
    sockit_game_client_free(c);

    cr_assert_eq(sockit_game_client_new(&c, &co), 0);
    sockit_game_client_update(c, SEC, NULL, buf, sizeof(buf));
    struct sockit_game_packet deny = { .type = SOCKIT_GAME_DENY,
                                       .salt = 8,
                                       .deny_reason = SOCKIT_GAME_DENY_FULL };
    n = (size_t)sockit_game_write(&deny, buf, sizeof(buf));
    cr_expect_eq(sockit_game_client_receive(c, SEC, buf, n), SOCKIT_GAME_EV_NONE, "another salt");
    deny.salt = 9;
    n = (size_t)sockit_game_write(&deny, buf, sizeof(buf));
    cr_expect_eq(sockit_game_client_receive(c, SEC, buf, n), SOCKIT_GAME_EV_DENIED);
    struct sockit_game_client_stats cs;
    sockit_game_client_stats(c, &cs);
    cr_expect_eq(cs.deny_reason, SOCKIT_GAME_DENY_FULL);
    sockit_game_client_free(c);
}

Test(game_play, update_latency_counts_a_lost_tick_with_the_next)
{
    struct sockit_game_lag l;
    static struct sockit_hist h;
    uint64_t period = SEC / 30, t0 = 50 * SEC;

    sockit_game_lag_init(&l, 30, 1000);
    cr_assert_eq(sockit_game_lag_arrived(&l, 10, t0 + 10 * period + 5 * MS), 0);
    sockit_game_lag_arrived(&l, 11, t0 + 11 * period + 5 * MS);
    sockit_game_lag_arrived(&l, 13, t0 + 13 * period + 5 * MS); /* 12 lost: one period late */
    sockit_game_lag_arrived(&l, 12, t0 + 13 * period + 6 * MS); /* older: nothing */
    cr_expect_eq(l.n, 4);
    sockit_hist_reset(&h);
    sockit_game_lag_add_to(&l, &h);
    cr_expect_eq(h.count, 4);
    cr_expect_eq(h.min, 0);
    cr_expect(h.max >= period / 1000 - 1 && h.max <= period / 1000 + 1, "%llu µs",
              (unsigned long long)h.max);
    sockit_game_lag_free(&l);
}

Test(game_door, sessions_are_found_by_address_through_many_joins_and_leaves)
{
    struct sockit_game_server *s = door(300);
    static uint32_t token[600];
    static bool in[600];
    struct sockit_game_packet r;
    struct sockit_game_server_stats st;
    uint64_t unknown = 0;

    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 600; i++) { /* join about half, leave about half of those in */
            struct sockit_addr a = addr4("10.2.0.1", (uint16_t)(1000 + i));
            if (!in[i] && rnd() % 2) {
                in[i] = handshake(s, 10 * SEC, &a, 1000u + (unsigned)i, &token[i]) ==
                        SOCKIT_GAME_ACCEPT;
            } else if (in[i] && rnd() % 2) {
                struct sockit_game_packet bye = { .type = SOCKIT_GAME_DISCONNECT,
                                                  .token = token[i] };
                send_to(s, 10 * SEC, &a, &bye, &r);
                in[i] = false;
            }
        }
        for (int i = 0; i < 600; i++) { /* everyone in is found; nobody else is */
            struct sockit_addr a = addr4("10.2.0.1", (uint16_t)(1000 + i));
            struct sockit_game_packet ka = { .type = SOCKIT_GAME_KEEPALIVE, .token = token[i] };
            send_to(s, 10 * SEC, &a, &ka, &r);
            unknown += !in[i];
            sockit_game_server_stats(s, &st);
            cr_assert_eq(st.unknown_source, unknown, "round %d: client %d (%s) %s", round, i,
                         in[i] ? "in" : "out", in[i] ? "was not found" : "was found");
        }
    }
    sockit_game_server_free(s);
}
