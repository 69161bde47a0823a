/* sockit/game.h — the game protocol's pieces, sans I/O (docs/game-protocol.md): a bit
 * packer, the packets with their strict reader, the stateless connect cookie, and the
 * acknowledgement window (a sequence number and 32 bits of history) with RTT and loss
 * estimates.
 *
 * Every packet is at most SOCKIT_GAME_MAX_PACKET bytes and starts with the protocol id, the
 * version and the type. A connect request and a challenge response are padded to at least
 * SOCKIT_GAME_REQUEST_MIN bytes and every server reply to them is shorter, so a forged source
 * address gets no amplification. The server answers a request with a cookie, an HMAC-SHA256
 * of the client's address, port, salt and a coarse time under the server's secret: it keeps
 * no state and takes no slot until a client echoes a valid cookie. */
#ifndef SOCKIT_GAME_H
#define SOCKIT_GAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/endpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_GAME_PROTOCOL_ID 0x534b4731u /* "SKG1" */
#define SOCKIT_GAME_VERSION     1
#define SOCKIT_GAME_MAX_PACKET  1200 /* bytes, at most, of any packet */
#define SOCKIT_GAME_REQUEST_MIN 200  /* a connect request or response is at least this long */
#define SOCKIT_GAME_HEADER      6    /* protocol id (4), version (1), type (1) */
#define SOCKIT_GAME_COOKIE_LEN  16
#define SOCKIT_GAME_SECRET_LEN  32
#define SOCKIT_GAME_MAX_INPUTS  32 /* inputs an input packet repeats, at most */

/* ---- bits ---------------------------------------------------------------------------------- */

/* Writes values of 1..32 bits, most significant first, into a byte buffer of CAP bytes. A
 * write past CAP sets OVERFLOW and writes nothing more. */
struct sockit_bitw {
    uint8_t *p;
    size_t cap;  /* bytes */
    size_t bits; /* written so far */
    bool overflow;
};

/* Reads what sockit_bitw wrote. A read past the end sets OVERFLOW and returns 0. */
struct sockit_bitr {
    const uint8_t *p;
    size_t len; /* bytes */
    size_t bits;
    bool overflow;
};

void sockit_bitw_init(struct sockit_bitw *w, uint8_t *buf, size_t cap);
void sockit_bitw_put(struct sockit_bitw *w, uint32_t value, unsigned nbits);
/* Bytes used so far (the last one zero-padded). */
size_t sockit_bitw_bytes(const struct sockit_bitw *w);

void sockit_bitr_init(struct sockit_bitr *r, const uint8_t *buf, size_t len);
uint32_t sockit_bitr_get(struct sockit_bitr *r, unsigned nbits);
/* A signed value of NBITS (two's complement) written by sockit_bitw_put. */
int32_t sockit_bitr_get_signed(struct sockit_bitr *r, unsigned nbits);

/* ---- packets -------------------------------------------------------------------------------- */

enum sockit_game_type {
    SOCKIT_GAME_CONNECT = 1,   /* client: salt; padded */
    SOCKIT_GAME_CHALLENGE = 2, /* server: salt, time, cookie */
    SOCKIT_GAME_RESPONSE = 3,  /* client: salt, time, cookie echoed; padded */
    SOCKIT_GAME_ACCEPT = 4,    /* server: salt, token, client index, tick rate */
    SOCKIT_GAME_DENY = 5,      /* server: salt, why (sockit_game_deny_reason) */
    SOCKIT_GAME_INPUT = 6,     /* client: token, acks, the inputs not yet acknowledged */
    SOCKIT_GAME_SNAPSHOT = 7,  /* server: token, acks, tick, baseline, hash, entities (bits) */
    SOCKIT_GAME_KEEPALIVE = 8, /* either: token, acks */
    SOCKIT_GAME_DISCONNECT = 9 /* either: token */
};

enum sockit_game_deny_reason {
    SOCKIT_GAME_DENY_FULL = 1,
    SOCKIT_GAME_DENY_VERSION = 2,
};

/* The acknowledgement fields of INPUT, SNAPSHOT and KEEPALIVE: this packet's sequence number,
 * the newest sequence number received from the peer, and which of the 32 before it were. */
struct sockit_game_acks {
    uint16_t seq;
    uint16_t ack;
    uint32_t ack_bits; /* bit i: ack - 1 - i was received */
};

/* One tick of a player's input. */
struct sockit_game_input {
    int8_t move_x, move_y; /* -127..127 */
    uint8_t buttons;
};

/* A packet read by sockit_game_read (pointers into the packet's bytes). */
struct sockit_game_packet {
    enum sockit_game_type type;
    uint64_t salt;         /* CONNECT .. DENY */
    uint32_t time;         /* CHALLENGE, RESPONSE: the server's coarse time the cookie is for */
    const uint8_t *cookie; /* CHALLENGE, RESPONSE: SOCKIT_GAME_COOKIE_LEN bytes */
    uint32_t token;        /* ACCEPT and after: the session's */
    uint16_t client_index, tick_rate; /* ACCEPT */
    uint8_t deny_reason;              /* DENY */
    struct sockit_game_acks acks;     /* INPUT, SNAPSHOT, KEEPALIVE */
    uint32_t tick;                    /* INPUT: the newest input's; SNAPSHOT: the world's */
    uint8_t ninputs;                  /* INPUT: 1..SOCKIT_GAME_MAX_INPUTS, newest first */
    struct sockit_game_input inputs[SOCKIT_GAME_MAX_INPUTS];
    uint32_t baseline;   /* SNAPSHOT: the tick it is a delta against; 0: none (full) */
    uint32_t hash;       /* SNAPSHOT: the state hash of the world it describes */
    const uint8_t *body; /* SNAPSHOT: the bit-packed entities */
    size_t body_len;
};

/* Read the LEN bytes at DATA strictly: the header, every field the type has, nothing left
 * over (padding of CONNECT and RESPONSE excepted, which must be zeros and make the packet at
 * least SOCKIT_GAME_REQUEST_MIN long). Returns the type, or -SOCKIT_EGAME_* naming what is
 * wrong (the packet is then dropped: never answered). */
int sockit_game_read(const uint8_t *data, size_t len, struct sockit_game_packet *out);

/* Write P (its TYPE and the fields that type has) into BUF (CAP bytes; SOCKIT_GAME_MAX_PACKET
 * is always enough): CONNECT and RESPONSE padded to SOCKIT_GAME_REQUEST_MIN. Returns the
 * length, or -SOCKIT_EGAME_RANGE (ninputs, body too long) or -ENOSPC. */
int sockit_game_write(const struct sockit_game_packet *p, uint8_t *buf, size_t cap);

/* ---- snapshots ------------------------------------------------------------------------------ */

#define SOCKIT_GAME_MAX_VIEW   128  /* entities a snapshot describes, at most */
#define SOCKIT_GAME_MAX_ENTITY 1023 /* entity ids are 0..1023 */

/* An entity as the wire carries it, quantised: position in 1/16 units over a 4096-unit world,
 * velocity in 1/16 units a tick, a few small fields. */
struct sockit_game_entity {
    uint16_t id;
    uint16_t x, y;
    int16_t vx, vy;
    uint8_t hp, flags;
};

/* What one client is told at one tick: up to SOCKIT_GAME_MAX_VIEW entities, ids increasing. */
struct sockit_game_view {
    uint32_t tick;
    uint16_t n;
    struct sockit_game_entity e[SOCKIT_GAME_MAX_VIEW];
};

/* The state hash of V (FNV-1a over the tick and every entity's quantised fields, in order):
 * the server sends it with each snapshot; a client whose reconstruction hashes differently
 * has diverged. */
uint32_t sockit_game_view_hash(const struct sockit_game_view *v);

/* Encode CUR against BASE (NULL: a full snapshot) into W: the entity ids (a bit for "the next
 * id", else 10 bits), and per entity either all fields (new to BASE) or a changed bit and the
 * fields that changed (positions as 7-bit deltas when small). Returns 0, -SOCKIT_EGAME_RANGE
 * for a view out of order or out of range, or -ENOSPC when it does not fit W (the caller
 * sends fewer entities). */
int sockit_game_snapshot_write(struct sockit_bitw *w, const struct sockit_game_view *cur,
                               const struct sockit_game_view *base);

/* Decode the snapshot body BODY (LEN bytes) against BASE (NULL for a full one) into *OUT
 * (tick set to TICK). Strict: ids increasing and in range, no more than
 * SOCKIT_GAME_MAX_VIEW, nothing but zero padding after the last entity. Returns 0 or
 * -SOCKIT_EGAME_SHORT / _LONG / _RANGE. */
int sockit_game_snapshot_read(const uint8_t *body, size_t len, uint32_t tick,
                              const struct sockit_game_view *base, struct sockit_game_view *out);

/* ---- the world ------------------------------------------------------------------------------ */

#define SOCKIT_GAME_WORLD_SIZE 65535 /* positions 0..65535, in 1/16 units: a 4096-unit square */

/* The server's world: entity slots by id (players and wandering NPCs), stepped in integers
 * so that the same inputs give the same world on any machine. Plain memory, the caller's. */
struct sockit_game_world {
    uint32_t tick;
    uint64_t rng;
    uint16_t count;                                             /* entities in use */
    bool used[SOCKIT_GAME_MAX_ENTITY + 1];                      /* by id */
    bool player[SOCKIT_GAME_MAX_ENTITY + 1];                    /* moved by input, not wandering */
    struct sockit_game_input input[SOCKIT_GAME_MAX_ENTITY + 1]; /* players' latest */
    struct sockit_game_entity e[SOCKIT_GAME_MAX_ENTITY + 1];
};

/* An empty world at tick 1 with NPCS wanderers (at most 1024) placed by SEED. */
void sockit_game_world_init(struct sockit_game_world *w, uint16_t npcs, uint64_t seed);

/* A new player (at a place chosen by the world's generator): its id, or -SOCKIT_EGAME_FULL. */
int sockit_game_world_add_player(struct sockit_game_world *w);

/* Remove entity ID (a player who left). */
void sockit_game_world_remove(struct sockit_game_world *w, uint16_t id);

/* Player ID's input for the next steps. */
void sockit_game_world_input(struct sockit_game_world *w, uint16_t id,
                             const struct sockit_game_input *in);

/* One tick: players move by their input (velocity = move / 8 units a tick), NPCs keep their
 * velocity and bounce off the walls; positions stay in the world. */
void sockit_game_world_step(struct sockit_game_world *w);

/* What entity ID sees: the MAX (at most SOCKIT_GAME_MAX_VIEW) entities nearest to it (itself
 * included), ids increasing, into *OUT with the world's tick. */
void sockit_game_world_view(const struct sockit_game_world *w, uint16_t id, uint16_t max,
                            struct sockit_game_view *out);

/* ---- the server's door ---------------------------------------------------------------------- */

#define SOCKIT_GAME_COOKIE_AGE 10 /* seconds a challenge's cookie stays good */

struct sockit_game_server_options {
    uint16_t max_clients; /* slots; default 64, at most 1000 */
    uint16_t tick_rate;   /* ticks a second; default 30 */
    uint32_t timeout_ms;  /* a client silent this long is dropped; default 2000 */
    uint64_t seed;        /* tokens (and the world, later) */
    /* SOCKIT_GAME_SECRET_LEN bytes for the cookies; NULL: random (getrandom). Copied. */
    const uint8_t *secret;
};

/* One client's slot, taken only by a valid challenge response. */
struct sockit_game_slot {
    bool used;
    struct sockit_addr addr;
    uint64_t salt;
    uint32_t token;
    uint64_t last_recv_ns;
};

struct sockit_game_server_stats {
    uint32_t clients;                       /* slots in use */
    uint64_t challenges, accepts;           /* replies sent */
    uint64_t denied_full, denied_version;   /* DENY sent */
    uint64_t bad_cookie;                    /* responses whose cookie was not theirs (no reply) */
    uint64_t malformed;                     /* datagrams sockit_game_read refused (no reply) */
    uint64_t unknown_source;                /* session packets from no slot's address/token */
    uint64_t timeouts, disconnects;         /* slots freed */
    uint64_t bytes_in, bytes_out_handshake; /* connect traffic, for the amplification check */
};

struct sockit_game_server;

/* A server with O (NULL: defaults). Returns 0, -EINVAL for options out of range, -ENOMEM, or
 * the error of getrandom. */
int sockit_game_server_new(struct sockit_game_server **out,
                           const struct sockit_game_server_options *o);
void sockit_game_server_free(struct sockit_game_server *s);

/* A datagram of LEN bytes from FROM at NOW (nanoseconds). At most one reply is written into
 * REPLY (CAP bytes): its length is returned, 0 when nothing is to be sent. Connect traffic is
 * answered statelessly and never with more bytes than came in; a valid response takes a slot
 * (or gets DENY full) and a repeated one gets the same ACCEPT; every refusal is counted, never
 * answered. Session packets (INPUT, KEEPALIVE, DISCONNECT) count only from the slot's address
 * with its token. */
size_t sockit_game_server_receive(struct sockit_game_server *s, uint64_t now,
                                  const struct sockit_addr *from, const uint8_t *data, size_t len,
                                  uint8_t *reply, size_t cap);

/* Free the slots of clients silent for the timeout at NOW; returns how many. */
size_t sockit_game_server_expire(struct sockit_game_server *s, uint64_t now);

/* The slot of index I (0..max_clients-1), or NULL. */
const struct sockit_game_slot *sockit_game_server_slot(const struct sockit_game_server *s,
                                                       uint16_t i);

void sockit_game_server_stats(const struct sockit_game_server *s,
                              struct sockit_game_server_stats *out);

/* ---- the connect cookie --------------------------------------------------------------------- */

/* The cookie for a client at ADDR with SALT at coarse time TIME: HMAC-SHA256 under SECRET
 * (SOCKIT_GAME_SECRET_LEN bytes), truncated to SOCKIT_GAME_COOKIE_LEN bytes, into OUT.
 * Returns 0, or -EINVAL for an address that is neither IPv4 nor IPv6. */
int sockit_game_cookie(const uint8_t *secret, const struct sockit_addr *addr, uint64_t salt,
                       uint32_t time, uint8_t *out);

/* Whether COOKIE is the one for ADDR, SALT and TIME, and TIME is NOW or at most MAX_AGE
 * before it (coarse units, e.g. seconds). Compares in constant time. */
bool sockit_game_cookie_valid(const uint8_t *secret, const struct sockit_addr *addr, uint64_t salt,
                              uint32_t time, const uint8_t *cookie, uint32_t now, uint32_t max_age);

/* ---- the acknowledgement window ------------------------------------------------------------- */

#define SOCKIT_GAME_WINDOW 256 /* packets remembered each way */

/* One side's books: what it sent (for acks, RTT and loss) and what it received (for its own
 * acks). Plain memory, the caller's. */
struct sockit_game_window {
    uint16_t next_seq;   /* of the next packet sent */
    uint16_t remote_seq; /* newest received */
    uint32_t recv_bits;  /* the 32 received before it */
    bool received_any;
    struct {
        uint64_t sent_ns; /* 0: no packet in this slot (or acked) */
        uint16_t seq;
        bool acked;
    } sent[SOCKIT_GAME_WINDOW];
    double rtt_ms; /* smoothed (RFC 6298-style, alpha 1/8); 0 until the first sample */
    double loss;   /* fraction of packets that left the window unacked, smoothed */
    uint64_t acked, lost;
};

void sockit_game_window_init(struct sockit_game_window *w);

/* A packet is going out at NOW: its acks (the next sequence number, and what was received)
 * into *OUT. */
void sockit_game_window_send(struct sockit_game_window *w, uint64_t now,
                             struct sockit_game_acks *out);

/* A packet with ACKS came in at NOW. Returns false for a duplicate or a packet too old to
 * matter (older than 32 behind the newest), which the caller drops; true otherwise. Acked
 * packets of ours update the RTT; CALLBACK (may be NULL) hears each newly acked sequence
 * number once (e.g. to move a snapshot baseline or drop acknowledged inputs). */
bool sockit_game_window_recv(struct sockit_game_window *w, uint64_t now,
                             const struct sockit_game_acks *acks,
                             void (*acked)(uint16_t seq, void *ud), void *ud);

/* Whether sequence number A is newer than B (wrapping). */
static inline bool sockit_game_seq_newer(uint16_t a, uint16_t b)
{
    return a != b && (uint16_t)(a - b) < 32768;
}

#ifdef __cplusplus
}
#endif

#endif
