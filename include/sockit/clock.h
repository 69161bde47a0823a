/* sockit/clock.h — the one clock of libsockit and its program: CLOCK_MONOTONIC in nanoseconds.
 *
 * Every duration sockit measures (loop timers, latencies, timeouts, report timings) is a
 * difference of two readings of this clock, so they all agree. It never jumps with the wall
 * clock; its zero is arbitrary (boot). No state; any thread may call it. */
#ifndef SOCKIT_CLOCK_H
#define SOCKIT_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Now, in nanoseconds since an arbitrary fixed point. Never decreases. */
uint64_t sockit_clock_ns(void);

#ifdef __cplusplus
}
#endif

#endif
