/* The latency histogram: exact for small values, bounded relative error above, mergeable. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "sockit/hist.h"

static struct sockit_hist *new_hist(void)
{
    struct sockit_hist *h = malloc(sizeof(*h));
    cr_assert_not_null(h);
    sockit_hist_reset(h);
    return h;
}

Test(hist, empty_histogram_reports_zero)
{
    struct sockit_hist *h = new_hist();
    cr_expect_eq(sockit_hist_percentile(h, 50), 0);
    cr_expect_eq(sockit_hist_mean(h), 0.0);
    free(h);
}

Test(hist, small_values_are_exact)
{
    struct sockit_hist *h = new_hist();
    for (uint64_t v = 1; v <= 100; v++)
        sockit_hist_add(h, v);
    cr_expect_eq(sockit_hist_percentile(h, 50), 50);
    cr_expect_eq(sockit_hist_percentile(h, 99), 99);
    cr_expect_eq(sockit_hist_percentile(h, 100), 100);
    cr_expect_eq(sockit_hist_percentile(h, 0), 1);
    cr_expect_float_eq(sockit_hist_mean(h), 50.5, 1e-9);
    free(h);
}

Test(hist, relative_error_is_bounded_over_the_whole_range)
{
    struct sockit_hist *h = new_hist();
    for (uint64_t v = 1000; v < (1ull << 62); v = v * 3 + 7) {
        sockit_hist_reset(h);
        sockit_hist_add(h, v);
        sockit_hist_add(h, v); /* max stays v: check the bucket bound, not the clamp */
        sockit_hist_add(h, v * 2);
        uint64_t got = sockit_hist_percentile(h, 50);
        cr_assert_geq(got, v, "p50 %llu below the value %llu", (unsigned long long)got,
                      (unsigned long long)v);
        cr_assert_leq((double)(got - v) / (double)v, 1.0 / 128, "p50 %llu too far above %llu",
                      (unsigned long long)got, (unsigned long long)v);
    }
    free(h);
}

Test(hist, percentiles_of_a_uniform_spread)
{
    struct sockit_hist *h = new_hist();
    for (uint64_t v = 1; v <= 1000000; v++)
        sockit_hist_add(h, v * 1000);
    uint64_t p99 = sockit_hist_percentile(h, 99);
    cr_expect(p99 >= 990000000ull && p99 <= 990000000ull * 129 / 128, "p99 %llu",
              (unsigned long long)p99);
    cr_expect_eq(sockit_hist_percentile(h, 100), 1000000000ull, "max is exact");
    free(h);
}

Test(hist, merge_adds_counts_and_extremes)
{
    struct sockit_hist *a = new_hist(), *b = new_hist();
    sockit_hist_add(a, 10);
    sockit_hist_add(b, 5000);
    sockit_hist_add(b, 3);
    sockit_hist_merge(a, b);
    cr_expect_eq(a->count, 3);
    cr_expect_eq(a->min, 3);
    cr_expect_eq(a->max, 5000);
    cr_expect_eq(sockit_hist_percentile(a, 34), 10);
    free(a);
    free(b);
}

Test(hist, huge_values_do_not_overflow)
{
    struct sockit_hist *h = new_hist();
    sockit_hist_add(h, UINT64_MAX);
    sockit_hist_add(h, UINT64_MAX - 1);
    cr_expect_eq(sockit_hist_percentile(h, 100), UINT64_MAX);
    cr_expect_eq(h->sum, UINT64_MAX, "the sum saturates");
    free(h);
}
