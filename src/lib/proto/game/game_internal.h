/* The game server's insides, shared by its door (server.c) and its tick (tick.c). */
#ifndef SOCKIT_GAME_INTERNAL_H
#define SOCKIT_GAME_INTERNAL_H

#include "sockit/game.h"

#define GAME_SNAP_RING   32 /* snapshots remembered per client, by sequence number */
#define GAME_INPUT_QUEUE 8  /* ticks of input waiting per client, at most */

/* A snapshot sent to one client, kept as a possible baseline until acknowledged or overwritten. */
struct game_sent {
    bool live;
    uint16_t seq;
    uint32_t tick;
    uint16_t n;
    struct sockit_game_entity *e; /* the client's share of the server's pool: view entities */
};

/* What the server keeps per slot besides the public sockit_game_slot. */
struct game_client {
    struct game_sent sent[GAME_SNAP_RING];
    int base;            /* index in SENT of the newest acknowledged snapshot; -1: none */
    uint32_t input_tick; /* the newest input tick received */
    struct sockit_game_input queue[GAME_INPUT_QUEUE]; /* received, not yet applied; oldest first */
    uint8_t queued;
};

struct sockit_game_server {
    struct sockit_game_server_options o;
    uint8_t secret[SOCKIT_GAME_SECRET_LEN];
    uint64_t rng;
    struct sockit_game_slot *slots;
    struct game_client *clients; /* parallel to SLOTS */
    uint16_t *by_addr;           /* open addressing: slot index + 1 by client address; 0: free */
    size_t by_addr_size;         /* a power of two, at least twice max_clients */
    struct sockit_game_entity *pool; /* max_clients × GAME_SNAP_RING × view */
    struct sockit_game_world world;
    struct sockit_game_view cur, base; /* scratch of a tick */
    struct sockit_game_server_stats st;
};

/* Slot I is taken by a client: its entity joins the world, its books start empty. */
int game_client_join(struct sockit_game_server *s, uint16_t i);

/* Slot I is freed (timeout, disconnect, replaced): its entity leaves the world. */
void game_client_leave(struct sockit_game_server *s, uint16_t i);

/* A session packet IN from slot I at NOW (its address and token already checked). */
void game_client_packet(struct sockit_game_server *s, uint16_t i, uint64_t now,
                        const struct sockit_game_packet *in);

#endif
