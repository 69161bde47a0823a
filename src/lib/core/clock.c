/* The monotonic clock every part of sockit reads, so that all durations share one source. */
#include <time.h>

#include "sockit/clock.h"

uint64_t sockit_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
