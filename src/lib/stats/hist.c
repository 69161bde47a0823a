/* Log-linear histogram: values below 2^SUB_BITS are counted exactly; above, each power of two
 * [2^k, 2^(k+1)) is split into 2^SUB_BITS equal sub-buckets. */
#include <string.h>

#include "sockit/hist.h"

#define SUB (1u << SOCKIT_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SOCKIT_HIST_SUB_BITS;
    /* Power-of-two group (shift + 1), then the sub-bucket within it. */
    return ((shift + 1) << SOCKIT_HIST_SUB_BITS) + (unsigned)((v >> shift) - SUB);
}

/* The largest value that falls into bucket B. */
static uint64_t bucket_top(unsigned b)
{
    if (b < SUB)
        return b;
    unsigned shift = (b >> SOCKIT_HIST_SUB_BITS) - 1;
    uint64_t base = (uint64_t)(SUB + (b & (SUB - 1))) << shift;
    return base + ((1ull << shift) - 1);
}

void sockit_hist_reset(struct sockit_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void sockit_hist_add(struct sockit_hist *h, uint64_t value)
{
    h->buckets[bucket_of(value)]++;
    h->count++;
    h->sum = (h->sum + value < h->sum) ? UINT64_MAX : h->sum + value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void sockit_hist_merge(struct sockit_hist *into, const struct sockit_hist *from)
{
    if (from->count == 0)
        return;
    for (unsigned b = 0; b < SOCKIT_HIST_BUCKETS; b++)
        into->buckets[b] += from->buckets[b];
    into->count += from->count;
    into->sum = (into->sum + from->sum < into->sum) ? UINT64_MAX : into->sum + from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t sockit_hist_percentile(const struct sockit_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    double want = p >= 100 ? (double)h->count : (double)h->count * p / 100.0;
    uint64_t rank = (uint64_t)want + ((double)(uint64_t)want < want ? 1 : 0);
    uint64_t seen = 0;

    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < SOCKIT_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top > h->max ? h->max : top;
        }
    }
    return h->max;
}

double sockit_hist_mean(const struct sockit_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
