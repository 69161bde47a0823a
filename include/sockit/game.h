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
    SOCKIT_GAME_ACCEPT = 4,    /* server: salt, token, client index, entity, tick rate */
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
    uint16_t client_index, entity, tick_rate; /* ACCEPT (entity: the player's, 0..1023) */
    uint8_t deny_reason;                      /* DENY */
    struct sockit_game_acks acks;             /* INPUT, SNAPSHOT, KEEPALIVE */
    uint32_t tick;                            /* INPUT: the newest input's; SNAPSHOT: the world's */
    uint8_t ninputs;                          /* INPUT: 1..SOCKIT_GAME_MAX_INPUTS, newest first */
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
#define SOCKIT_GAME_GRID       16    /* cells a side of the world's index (4096 / 16 units) */

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
    /* An index of who is where, rebuilt by every change: the ids in each of GRID × GRID
     * cells, so a view searches the cells near a player instead of the whole world. */
    uint16_t cell_start[SOCKIT_GAME_GRID * SOCKIT_GAME_GRID + 1];
    uint16_t cell_ids[SOCKIT_GAME_MAX_ENTITY + 1];
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

/* ---- the server ------------------------------------------------------------------------------ */

#define SOCKIT_GAME_COOKIE_AGE 10 /* seconds a challenge's cookie stays good */

/* What happened to a slot, for a server's log. */
enum sockit_game_event_type {
    SOCKIT_GAME_JOINED,    /* a valid response took the slot */
    SOCKIT_GAME_TIMED_OUT, /* silent for the timeout: freed */
    SOCKIT_GAME_LEFT,      /* DISCONNECT (or a new attempt from its address): freed */
};

struct sockit_game_event {
    enum sockit_game_event_type type;
    uint16_t index;                 /* the slot */
    uint16_t entity;                /* its player in the world */
    const struct sockit_addr *addr; /* the client's */
    uint64_t silent_ns;             /* TIMED_OUT: how long it was silent */
};

struct sockit_game_server_options {
    uint16_t max_clients; /* slots; default 64, at most 1000 */
    uint16_t tick_rate;   /* ticks a second; default 30 */
    uint32_t timeout_ms;  /* a client silent this long is dropped; default 2000 */
    uint64_t seed;        /* tokens and the world's NPCs */
    uint16_t view;        /* entities each snapshot describes, at most; default 32, at most 128 */
    uint16_t npcs;        /* wandering NPCs in the world; default 0; players + NPCs <= 1024 */
    /* SOCKIT_GAME_SECRET_LEN bytes for the cookies; NULL: random (getrandom). Copied. */
    const uint8_t *secret;
    /* Told of each slot taken and freed (may be NULL), with UD. */
    void (*on_event)(const struct sockit_game_event *ev, void *ud);
    void *ud;
};

/* One client's slot, taken only by a valid challenge response. */
struct sockit_game_slot {
    bool used;
    struct sockit_addr addr;
    uint64_t salt;
    uint32_t token;
    uint64_t last_recv_ns;
    uint16_t entity;                  /* the player's entity in the world */
    struct sockit_game_window window; /* acks both ways, RTT and loss of the snapshots */
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
    uint64_t ticks;                         /* sockit_game_server_tick calls */
    uint64_t snapshots, full_snapshots;     /* written; of them, without a baseline */
    uint64_t snapshot_bytes;                /* their bytes */
    uint64_t inputs, inputs_late;           /* input packets taken; repeats of applied ticks */
    uint64_t inputs_applied;                /* ticks of input moved into the world */
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

/* Where the server's packets go: LEN bytes at PKT for TO (both valid during the call). */
typedef void sockit_game_send_fn(const struct sockit_addr *to, const uint8_t *pkt, size_t len,
                                 void *ud);

/* One tick at NOW (call it tick_rate times a second, on a fixed schedule): free the slots of
 * silent clients, move one tick of each player's queued input into the world, step it, and
 * SEND each client its snapshot: its view (the nearest, at most the view option), delta
 * encoded against the newest snapshot it acknowledged, in one packet of at most
 * SOCKIT_GAME_MAX_PACKET bytes (fewer entities when a full one does not fit). Returns the
 * snapshots sent. */
size_t sockit_game_server_tick(struct sockit_game_server *s, uint64_t now,
                               sockit_game_send_fn *send, void *ud);

/* The server is going away: SEND each client a DISCONNECT (three times: any may be lost) and
 * free every slot. */
void sockit_game_server_shutdown(struct sockit_game_server *s, sockit_game_send_fn *send, void *ud);

/* The world the server steps (read only: for a view of it, or a test's own hash). */
const struct sockit_game_world *sockit_game_server_world(const struct sockit_game_server *s);

/* ---- the client ----------------------------------------------------------------------------- */

enum sockit_game_client_state {
    SOCKIT_GAME_CLIENT_CONNECTING, /* sending CONNECT until a CHALLENGE comes */
    SOCKIT_GAME_CLIENT_RESPONDING, /* sending RESPONSE until ACCEPT or DENY comes */
    SOCKIT_GAME_CLIENT_CONNECTED,
    SOCKIT_GAME_CLIENT_DENIED,       /* ended: DENY (deny_reason says why) */
    SOCKIT_GAME_CLIENT_TIMED_OUT,    /* ended: no answer, or the server fell silent */
    SOCKIT_GAME_CLIENT_DISCONNECTED, /* ended: the server said DISCONNECT */
    SOCKIT_GAME_CLIENT_CLOSED,       /* ended: sockit_game_client_disconnect */
};

/* What a datagram to the client did. */
enum sockit_game_client_event {
    SOCKIT_GAME_EV_NONE = 0,     /* nothing new (a repeat, an old packet, not ours) */
    SOCKIT_GAME_EV_CHALLENGED,   /* the next update sends the response */
    SOCKIT_GAME_EV_ACCEPTED,     /* connected: index and tick rate known */
    SOCKIT_GAME_EV_DENIED,       /* DENY: the client has ended */
    SOCKIT_GAME_EV_SNAPSHOT,     /* a newer view of the world: sockit_game_client_view */
    SOCKIT_GAME_EV_DISCONNECTED, /* the server said DISCONNECT */
};

struct sockit_game_client_options {
    uint32_t timeout_ms; /* the server silent this long (or no answer to connect): ended;
                            default 2000 */
    uint32_t retry_ms;   /* CONNECT / RESPONSE sent again after this; default 100 */
    uint64_t seed;       /* the connect salt; 0: random (getrandom) */
};

struct sockit_game_client_stats {
    uint64_t snapshots;   /* decoded with the right hash */
    uint64_t mismatches;  /* decoded, but hashing differently from the server's world */
    uint64_t no_baseline; /* a delta against a tick this client no longer holds */
    uint64_t stale;       /* decoded, but older than the view already held (reordered) */
    uint64_t dropped;     /* malformed, another session's, duplicates */
    uint64_t inputs_sent; /* INPUT packets, and the ticks of input they carried */
    uint64_t input_ticks;
    uint8_t deny_reason; /* when DENIED */
};

struct sockit_game_client;

/* A client with O (NULL: defaults), not yet connecting: its first update sends CONNECT.
 * Returns 0, -ENOMEM, or getrandom's error. */
int sockit_game_client_new(struct sockit_game_client **out,
                           const struct sockit_game_client_options *o);
void sockit_game_client_free(struct sockit_game_client *c);

/* What to send at NOW, into BUF (CAP bytes; SOCKIT_GAME_MAX_PACKET is enough): CONNECT or
 * RESPONSE (again each retry_ms until answered), then, once connected, an INPUT carrying IN
 * as the next tick's input together with every earlier one the server has not acknowledged
 * (IN NULL: a KEEPALIVE). Call it once a tick. Returns the length, or 0 for nothing (ended; or
 * waiting to retry). Ends the client as TIMED_OUT when the server was silent for timeout_ms. */
size_t sockit_game_client_update(struct sockit_game_client *c, uint64_t now,
                                 const struct sockit_game_input *in, uint8_t *buf, size_t cap);

/* A datagram from the server at NOW. A snapshot is decoded against the baseline it names and
 * its hash checked: only a snapshot that decoded to the server's hash is acknowledged (so the
 * server never builds on a view the client does not hold). Returns what happened. */
enum sockit_game_client_event sockit_game_client_receive(struct sockit_game_client *c, uint64_t now,
                                                         const uint8_t *data, size_t len);

/* End the session: writes a DISCONNECT into BUF (send it a few times) and returns its length
 * (0 when not connected). The client is CLOSED after. */
size_t sockit_game_client_disconnect(struct sockit_game_client *c, uint8_t *buf, size_t cap);

enum sockit_game_client_state sockit_game_client_state(const struct sockit_game_client *c);

/* The newest view received (n 0 and tick 0 before the first snapshot). */
const struct sockit_game_view *sockit_game_client_view(const struct sockit_game_client *c);

/* The acks both ways, RTT and loss (of the client's input packets). */
const struct sockit_game_window *sockit_game_client_window(const struct sockit_game_client *c);

/* The session: client index, the player's entity id and tick rate from ACCEPT (0 before). */
uint16_t sockit_game_client_index(const struct sockit_game_client *c);
uint16_t sockit_game_client_entity(const struct sockit_game_client *c);
uint16_t sockit_game_client_tick_rate(const struct sockit_game_client *c);

void sockit_game_client_stats(const struct sockit_game_client *c,
                              struct sockit_game_client_stats *out);

/* ---- update latency ------------------------------------------------------------------------- */

/* How late each tick's state reached a client: tick T is due at a fixed offset from T ×
 * period (the server ticks on a fixed schedule), so the arrival of T minus T × period, less
 * the smallest such offset seen, is how much later than the best case T arrived. A tick never
 * delivered by itself (its snapshot lost) counts as arriving with the next newer one. Plain
 * memory; the samples are the caller's until sockit_game_lag_free. */
struct sockit_game_lag {
    uint64_t period_ns;
    uint32_t newest; /* newest tick arrived; 0: none yet */
    int64_t *offsets;
    size_t n, cap, max; /* samples kept, at most MAX */
};

/* TICK_RATE ticks a second; keep at most MAX samples (later ones are not kept). */
void sockit_game_lag_init(struct sockit_game_lag *l, uint16_t tick_rate, size_t max);
void sockit_game_lag_free(struct sockit_game_lag *l);

/* The state of TICK arrived at NOW (ns; one clock for all): a sample for it and for each tick
 * since the newest before it. Older ticks than the newest add nothing. -ENOMEM or 0. */
int sockit_game_lag_arrived(struct sockit_game_lag *l, uint32_t tick, uint64_t now);

/* Add each sample, less the smallest, in microseconds, to H (a sockit_hist). */
struct sockit_hist;
void sockit_game_lag_add_to(const struct sockit_game_lag *l, struct sockit_hist *h);

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

#ifdef __cplusplus
}
#endif

#endif
