/* libFuzzer target for sockit/game.h's packet reader, bit reader and ack window. On any input:
 *
 *   - the reader never reads outside the input, and what it points at lies inside;
 *   - a packet it accepts, written again by the writer, reads back the same (for CONNECT and
 *     RESPONSE, padded to the same length); a request it accepts is at least
 *     SOCKIT_GAME_REQUEST_MIN long;
 *   - the bit reader never reads past the end, and flags it when asked to;
 *   - the ack window takes any acks in any order without breaking its books;
 *   - a snapshot body the decoder accepts (full, or against a fixed baseline) encodes again
 *     to one that decodes to the same view, with the same state hash;
 *   - a server and a connected client take the input as a datagram (as is, and with their
 *     session's token written in, so it passes the token check) and keep going: the server
 *     never answers with more bytes than it got, and its next tick still reaches the client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/endpoint.h"
#include "sockit/game.h"
#include <arpa/inet.h>

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_game: %s\n", what);
    abort();
}

static void same_packet(const struct sockit_game_packet *a, const struct sockit_game_packet *b)
{
    if (a->type != b->type || a->salt != b->salt || a->time != b->time || a->token != b->token ||
        a->client_index != b->client_index || a->entity != b->entity ||
        a->tick_rate != b->tick_rate || a->deny_reason != b->deny_reason ||
        a->acks.seq != b->acks.seq || a->acks.ack != b->acks.ack ||
        a->acks.ack_bits != b->acks.ack_bits || a->tick != b->tick || a->ninputs != b->ninputs ||
        a->baseline != b->baseline || a->hash != b->hash || a->body_len != b->body_len ||
        memcmp(a->inputs, b->inputs, sizeof(a->inputs)) != 0 ||
        (a->body_len && memcmp(a->body, b->body, a->body_len) != 0) || (!a->cookie != !b->cookie) ||
        (a->cookie && memcmp(a->cookie, b->cookie, SOCKIT_GAME_COOKIE_LEN) != 0))
        fail("a packet written again reads back different");
}

static void packet(const uint8_t *data, size_t size)
{
    static uint8_t copy[SOCKIT_GAME_MAX_PACKET + 64], again[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_packet p, q;
    size_t len = size < sizeof(copy) ? size : sizeof(copy);

    memcpy(copy, data, len);
    int rc = sockit_game_read(copy, len, &p);
    if (rc < 0)
        return;
    if (p.cookie && (p.cookie < copy || p.cookie + SOCKIT_GAME_COOKIE_LEN > copy + len))
        fail("the cookie points outside the packet");
    if (p.body_len && (p.body < copy || p.body + p.body_len > copy + len))
        fail("the body points outside the packet");
    if ((rc == SOCKIT_GAME_CONNECT || rc == SOCKIT_GAME_RESPONSE) && len < SOCKIT_GAME_REQUEST_MIN)
        fail("an unpadded request accepted");
    int n = sockit_game_write(&p, again, sizeof(again));
    if (n < 0)
        fail("an accepted packet cannot be written again");
    if ((rc == SOCKIT_GAME_CONNECT || rc == SOCKIT_GAME_RESPONSE) ? n > (int)len : n != (int)len)
        fail("written again, a packet changes length");
    if (sockit_game_read(again, (size_t)n, &q) != rc)
        fail("written again, a packet is refused");
    same_packet(&p, &q);
}

static void bits(const uint8_t *data, size_t size)
{
    struct sockit_bitr r;

    sockit_bitr_init(&r, data, size / 2);
    for (size_t i = size / 2; i < size && !r.overflow; i++) {
        unsigned n = data[i] % 32 + 1;
        (void)sockit_bitr_get_signed(&r, n);
        if (r.bits > r.len * 8)
            fail("the bit reader went past the end");
    }
}

static void window(const uint8_t *data, size_t size)
{
    static struct sockit_game_window w;
    struct sockit_game_acks a, out;

    sockit_game_window_init(&w);
    for (size_t i = 0; i + 8 <= size; i += 8) {
        a.seq = (uint16_t)(data[i] | data[i + 1] << 8);
        a.ack = (uint16_t)(data[i + 2] | data[i + 3] << 8);
        a.ack_bits = (uint32_t)data[i + 4] | (uint32_t)data[i + 5] << 8 |
                     (uint32_t)data[i + 6] << 16 | (uint32_t)data[i + 7] << 24;
        sockit_game_window_send(&w, (uint64_t)i + 1, &out);
        sockit_game_window_recv(&w, (uint64_t)i + 2, &a, NULL, NULL);
        if (w.loss < 0 || w.loss > 1 || w.rtt_ms < 0)
            fail("the window's estimates left their range");
    }
}

static void snapshot(const uint8_t *data, size_t size)
{
    static struct sockit_game_view base, got, again;
    static uint8_t buf[SOCKIT_GAME_MAX_PACKET * 2];
    struct sockit_bitw w;

    base.tick = 1;
    base.n = 40;
    for (uint16_t i = 0; i < base.n; i++)
        base.e[i] = (struct sockit_game_entity){ (uint16_t)(i * 3),  (uint16_t)(i * 1000),
                                                 (uint16_t)(i * 77), (int16_t)i,
                                                 (int16_t)-i,        100,
                                                 (uint8_t)i };
    for (int with_base = 0; with_base < 2; with_base++) {
        const struct sockit_game_view *b = with_base ? &base : NULL;
        if (sockit_game_snapshot_read(data, size, 2, b, &got) != 0)
            continue;
        sockit_bitw_init(&w, buf, sizeof(buf));
        if (sockit_game_snapshot_write(&w, &got, b) != 0)
            fail("an accepted snapshot cannot be encoded again");
        if (sockit_game_snapshot_read(buf, sockit_bitw_bytes(&w), 2, b, &again) != 0 ||
            again.n != got.n || memcmp(again.e, got.e, got.n * sizeof(got.e[0])) != 0 ||
            sockit_game_view_hash(&again) != sockit_game_view_hash(&got))
            fail("a snapshot encoded again decodes differently");
    }
}

/* ---- a server and a client taking the input as a datagram ---------------------------------- */

struct pair {
    struct sockit_game_server *s;
    struct sockit_game_client *c;
    struct sockit_addr addr;
    uint64_t now;
};

static void to_client(const struct sockit_addr *to, const uint8_t *pkt, size_t len, void *ud)
{
    (void)to;
    sockit_game_client_receive(((struct pair *)ud)->c, ((struct pair *)ud)->now, pkt, len);
}

/* Client to server (the server's answer back to the client) until it is connected. */
static void connect_pair(struct pair *p)
{
    uint8_t buf[SOCKIT_GAME_MAX_PACKET], reply[SOCKIT_GAME_MAX_PACKET];
    struct sockit_game_input in = { 1, 2, 3 };

    for (int i = 0; i < 4; i++, p->now += 200000000ull) {
        size_t n = sockit_game_client_update(p->c, p->now, &in, buf, sizeof(buf));
        size_t r =
            n ? sockit_game_server_receive(p->s, p->now, &p->addr, buf, n, reply, sizeof(reply))
              : 0;
        if (r)
            sockit_game_client_receive(p->c, p->now, reply, r);
    }
    if (sockit_game_client_state(p->c) != SOCKIT_GAME_CLIENT_CONNECTED)
        fail("the client did not connect");
    sockit_game_server_tick(p->s, p->now, to_client, p);
}

static void feed(struct pair *p, const uint8_t *data, size_t size)
{
    uint8_t reply[SOCKIT_GAME_MAX_PACKET];
    size_t r = sockit_game_server_receive(p->s, p->now, &p->addr, data, size, reply, sizeof(reply));

    if (r > size)
        fail("the server answered with more bytes than it got");
    sockit_game_client_receive(p->c, p->now, data, size);
    p->now += 33000000ull;
    sockit_game_server_tick(p->s, p->now, to_client, p);
}

static void endpoints(const uint8_t *data, size_t size)
{
    static const uint8_t secret[SOCKIT_GAME_SECRET_LEN] = { 9 };
    struct sockit_game_server_options so = {
        .max_clients = 2, .view = 8, .npcs = 6, .seed = 1, .secret = secret
    };
    struct sockit_game_client_options co = { .seed = 5 };
    struct pair p = { .now = 1000000000000ull };
    uint8_t copy[SOCKIT_GAME_MAX_PACKET];

    p.addr.len = sizeof(struct sockaddr_in);
    p.addr.u.in.sin_family = AF_INET;
    p.addr.u.in.sin_port = htons(4000);
    p.addr.u.in.sin_addr.s_addr = htonl(0x7f000001);
    if (sockit_game_server_new(&p.s, &so) < 0 || sockit_game_client_new(&p.c, &co) < 0)
        fail("no memory");
    connect_pair(&p);
    feed(&p, data, size);
    if (size >= 10 && size <= sizeof(copy)) { /* the session's token at its place */
        const struct sockit_game_slot *slot = sockit_game_server_slot(p.s, 0);
        memcpy(copy, data, size);
        if (slot) {
            uint32_t t = htonl(slot->token);
            memcpy(copy + SOCKIT_GAME_HEADER, &t, 4);
        }
        feed(&p, copy, size);
    }
    sockit_game_server_free(p.s);
    sockit_game_client_free(p.c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snapshot(data, size);
    packet(data, size);
    bits(data, size);
    window(data, size);
    endpoints(data, size);
    return 0;
}
