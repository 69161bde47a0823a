/* sockit/hist.h — a log-linear latency histogram (HdrHistogram-style).
 *
 * Values (e.g. nanoseconds) land in buckets whose width grows with the value, so the relative
 * error of any reported percentile is bounded by 2^-SOCKIT_HIST_SUB_BITS (< 0.8 %), recording
 * is a few instructions with no allocation, and two histograms merge by adding counts. The
 * struct is plain memory owned by the caller (about 60 KiB); not thread-safe: give each
 * thread its own and merge them. */
#ifndef SOCKIT_HIST_H
#define SOCKIT_HIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_HIST_SUB_BITS 7 /* 128 linear sub-buckets per power of two */
#define SOCKIT_HIST_BUCKETS  ((64 - SOCKIT_HIST_SUB_BITS + 1) << SOCKIT_HIST_SUB_BITS)

struct sockit_hist {
    uint64_t count;
    uint64_t sum; /* saturates instead of wrapping */
    uint64_t min, max;
    uint64_t buckets[SOCKIT_HIST_BUCKETS];
};

/* Empty the histogram. */
void sockit_hist_reset(struct sockit_hist *h);

/* Record one value. */
void sockit_hist_add(struct sockit_hist *h, uint64_t value);

/* Add every value recorded in FROM to INTO. */
void sockit_hist_merge(struct sockit_hist *into, const struct sockit_hist *from);

/* The value at percentile P (0..100): a value v such that at least P % of the recorded values
 * are <= v, reported as the upper bound of its bucket (never above max). 0 if empty. */
uint64_t sockit_hist_percentile(const struct sockit_hist *h, double p);

/* Mean of the recorded values; 0 if empty. */
double sockit_hist_mean(const struct sockit_hist *h);

#ifdef __cplusplus
}
#endif

#endif
