/* sockit/rand.h — the one seeded generator of libsockit: splitmix64. Not cryptographic (the
 * game's cookie secret comes from getrandom); for what must repeat from a seed: impairment
 * decisions, a game world, session tokens under a seed, bots' wandering. No state of its own:
 * the caller keeps the 64-bit state. */
#ifndef SOCKIT_RAND_H
#define SOCKIT_RAND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One step over *STATE: the next 64 random bits. */
uint64_t sockit_rand_next(uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif
