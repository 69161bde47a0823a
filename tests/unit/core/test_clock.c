/* The shared monotonic clock (sockit/clock.h): it never goes back and it follows real time. */
#include <criterion/criterion.h>

#include <time.h>

#include "sockit/clock.h"

TestSuite(clock, .timeout = 10);

Test(clock, never_goes_back)
{
    uint64_t last = sockit_clock_ns();

    for (int i = 0; i < 100000; i++) {
        uint64_t now = sockit_clock_ns();
        cr_assert_geq(now, last, "reading %d went back: %lu after %lu", i, (unsigned long)now,
                      (unsigned long)last);
        last = now;
    }
}

Test(clock, counts_nanoseconds)
{
    struct timespec nap = { .tv_nsec = 20 * 1000000 };
    uint64_t start = sockit_clock_ns();

    nanosleep(&nap, NULL);
    uint64_t took = sockit_clock_ns() - start;
    cr_expect_geq(took, 20000000u, "a 20 ms sleep measured %lu ns", (unsigned long)took);
    cr_expect_lt(took, 5000000000u, "a 20 ms sleep measured %lu ns", (unsigned long)took);
}
