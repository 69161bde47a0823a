/* The impairment engine without sockets: over 100,000 packets the loss, duplication,
 * reordering and corruption rates and the delay percentiles are those asked for, a
 * Gilbert-Elliott model gives its burst lengths, the bandwidth limit spaces packets by their
 * size and tail-drops at the limit, the MTU drops or truncates, one seed decides the same way
 * twice; and the values people write are read strictly. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/impair.h"

#define N      100000
#define GAP_NS 100000ull /* a packet every 100 us: 10,000 packets/s */
#define MS     1000000ull

struct run {
    uint64_t passed, held, dropped;
    uint64_t early; /* received ahead of one pushed before them (the receiver's count) */
    struct sockit_impair_stats st;
};

/* Push N packets of SIZE bytes (each carrying its number) GAP_NS apart, popping what is due as
 * time goes on, then everything; count what a receiver would see. */
static void run(struct sockit_impair *im, size_t size, struct run *r)
{
    uint32_t *order = calloc(2 * N, sizeof(*order));
    size_t got = 0;
    uint8_t pkt[2048] = { 0 };
    struct sockit_impair_packet *p;
    uint64_t now = 0;

    cr_assert_not_null(order);
    cr_assert(size >= 4 && size <= sizeof(pkt));
    memset(r, 0, sizeof(*r));
    for (uint32_t i = 0; i < N; i++, now += GAP_NS) {
        while ((p = sockit_impair_pop(im, now))) {
            memcpy(&order[got++], p->data, 4);
            free(p);
        }
        memcpy(pkt, &i, 4);
        int v = sockit_impair_push(im, now, pkt, size, 0);
        cr_assert_geq(v, 0);
        if (v == SOCKIT_IMPAIR_PASS)
            order[got++] = i;
        r->passed += v == SOCKIT_IMPAIR_PASS;
        r->held += v == SOCKIT_IMPAIR_HELD;
        r->dropped += v == SOCKIT_IMPAIR_DROPPED;
    }
    for (uint64_t t = sockit_impair_next(im); t != UINT64_MAX; t = sockit_impair_next(im))
        while ((p = sockit_impair_pop(im, t))) {
            memcpy(&order[got++], p->data, 4);
            free(p);
        }
    uint32_t min_after = UINT32_MAX; /* a packet is early if a lower number comes after it */
    for (size_t i = got; i-- > 0;) {
        if (order[i] > min_after)
            r->early++;
        if (order[i] < min_after)
            min_after = order[i];
    }
    sockit_impair_stats(im, &r->st);
    cr_expect_eq(r->st.out, got, "popped %llu, received %zu", (unsigned long long)r->st.out, got);
    free(order);
}

static struct sockit_impair *make(const struct sockit_impair_options *o, uint64_t seed)
{
    struct sockit_impair *im = NULL;

    cr_assert_eq(sockit_impair_new(&im, o, seed), 0);
    return im;
}

/* |measured - asked| within 0.5 percentage points (the bar is 1). */
#define expect_rate(count, total, asked)                                                           \
    do {                                                                                           \
        double m_ = (double)(count) / (double)(total);                                             \
        cr_expect(fabs(m_ - (asked)) <= 0.005, "measured %.4f, asked %.4f", m_, (double)(asked));  \
    } while (0)

Test(impair, a_perfect_link_passes_everything_at_once)
{
    struct sockit_impair_options o = { 0 };
    struct sockit_impair *im = make(&o, 1);
    struct run r;

    cr_expect_not(sockit_impair_options_active(&o));
    run(im, 100, &r);
    cr_expect_eq(r.passed, N);
    cr_expect_eq(r.st.out, N);
    cr_expect_eq(r.early, 0);
    cr_expect_eq(sockit_hist_percentile(sockit_impair_delays(im), 100), 0);
    sockit_impair_free(im);
}

Test(impair, loss_rate_is_the_one_asked)
{
    struct sockit_impair_options o = { .loss = 0.10 };
    struct sockit_impair *im = make(&o, 7);
    struct run r;

    run(im, 100, &r);
    expect_rate(r.st.lost, N, 0.10);
    cr_expect_eq(r.dropped, r.st.lost);
    cr_expect_eq(r.st.out, N - r.st.lost);
    sockit_impair_free(im);
}

Test(impair, duplication_rate_and_copies)
{
    struct sockit_impair_options o = { .duplicate = 0.05 };
    struct sockit_impair *im = make(&o, 8);
    struct run r;

    run(im, 100, &r);
    expect_rate(r.st.duplicated, N, 0.05);
    cr_expect_eq(r.st.out, N + r.st.duplicated);
    sockit_impair_free(im);
}

Test(impair, reorder_sends_that_share_ahead_of_the_delayed)
{
    struct sockit_impair_options o = { .delay_ns = 10 * MS, .reorder = 0.25 };
    struct sockit_impair *im = make(&o, 9);
    struct run r;

    run(im, 100, &r);
    expect_rate(r.early, N, 0.25);
    cr_expect_eq(r.st.reordered, r.early, "engine %llu, receiver %llu",
                 (unsigned long long)r.st.reordered, (unsigned long long)r.early);
    sockit_impair_free(im);
}

Test(impair, corruption_flips_exactly_one_bit)
{
    struct sockit_impair_options o = { .corrupt = 1.0 };
    struct sockit_impair *im = make(&o, 10);
    uint8_t pkt[64];

    memset(pkt, 0x5a, sizeof(pkt));
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(sockit_impair_push(im, 0, pkt, sizeof(pkt), 0), SOCKIT_IMPAIR_HELD);
        struct sockit_impair_packet *p = sockit_impair_pop(im, 0);
        cr_assert_not_null(p);
        int bits = 0;
        for (size_t k = 0; k < sizeof(pkt); k++)
            bits += __builtin_popcount(p->data[k] ^ pkt[k]);
        cr_expect_eq(bits, 1);
        cr_expect(p->corrupted);
        free(p);
    }
    sockit_impair_free(im);

    o.corrupt = 0.02;
    im = make(&o, 11);
    struct run r;
    run(im, 100, &r);
    expect_rate(r.st.corrupted, N, 0.02);
    sockit_impair_free(im);
}

/* The delays each packet was held, against the distribution's own quantiles. */
static void expect_delay_quantiles(const struct sockit_impair_options *o, const double *pct,
                                   const double *want_ms, int n)
{
    struct sockit_impair *im = make(o, 12);
    struct run r;

    run(im, 100, &r);
    for (int i = 0; i < n; i++) {
        double got = (double)sockit_hist_percentile(sockit_impair_delays(im), pct[i]) / 1e6;
        cr_expect(fabs(got - want_ms[i]) <= 1.0, "p%.2f: %.3f ms, asked %.3f ms", pct[i], got,
                  want_ms[i]);
    }
    sockit_impair_free(im);
}

Test(impair, uniform_jitter_gives_its_quantiles)
{
    struct sockit_impair_options o = { .delay_ns = 20 * MS, .jitter_ns = 5 * MS };
    const double pct[] = { 1, 25, 50, 75, 99 };
    const double want[] = { 15.1, 17.5, 20, 22.5, 24.9 };

    expect_delay_quantiles(&o, pct, want, 5);
}

Test(impair, normal_jitter_gives_its_quantiles)
{
    struct sockit_impair_options o = { .delay_ns = 20 * MS,
                                       .jitter_ns = 5 * MS,
                                       .dist = SOCKIT_IMPAIR_NORMAL };
    const double pct[] = { 2.275, 15.866, 50, 84.134, 97.725 };
    const double want[] = { 10, 15, 20, 25, 30 };

    expect_delay_quantiles(&o, pct, want, 5);
}

Test(impair, sub_millisecond_delay_holds)
{
    struct sockit_impair_options o = { .delay_ns = 250000, .jitter_ns = 50000 };
    struct sockit_impair *im = make(&o, 13);
    struct run r;

    run(im, 100, &r);
    const struct sockit_hist *h = sockit_impair_delays(im);
    cr_expect(sockit_hist_percentile(h, 0.01) >= 199000, "%llu",
              (unsigned long long)sockit_hist_percentile(h, 0.01));
    cr_expect(sockit_hist_percentile(h, 100) <= 302000, "%llu",
              (unsigned long long)sockit_hist_percentile(h, 100));
    sockit_impair_free(im);
}

Test(impair, jitter_reorders_unless_order_is_kept)
{
    struct sockit_impair_options o = { .delay_ns = 20 * MS, .jitter_ns = 5 * MS };
    struct sockit_impair *im = make(&o, 14);
    struct run r;

    run(im, 100, &r);
    cr_expect_gt(r.early, N / 2, "%llu", (unsigned long long)r.early);
    sockit_impair_free(im);

    o.keep_order = true;
    im = make(&o, 14);
    run(im, 100, &r);
    cr_expect_eq(r.early, 0);
    cr_expect_eq(r.st.reordered, 0);
    sockit_impair_free(im);
}

/* p = 1 %, r = 25 %, every packet lost in the bad state: loss p/(p+r) = 3.85 %, bursts of
 * 1/r = 4 packets on average (geometric). */
Test(impair, gilbert_elliott_gives_its_burst_lengths)
{
    struct sockit_impair_options o = { .ge_p = 0.01, .ge_r = 0.25, .ge_loss_bad = 1.0 };
    struct sockit_impair *im = make(&o, 15);
    uint64_t bursts = 0, lost = 0, run_len = 0, longest = 0;
    uint8_t pkt[8] = { 0 };

    for (int i = 0; i < N; i++) {
        int v = sockit_impair_push(im, 0, pkt, sizeof(pkt), 0);
        if (v == SOCKIT_IMPAIR_DROPPED) {
            lost++;
            run_len++;
            continue;
        }
        free(sockit_impair_pop(im, 0));
        if (run_len) {
            bursts++;
            longest = run_len > longest ? run_len : longest;
        }
        run_len = 0;
    }
    expect_rate(lost, N, 0.01 / 0.26);
    double mean = (double)lost / (double)bursts;
    cr_expect(fabs(mean - 4.0) <= 0.4, "mean burst %.2f packets, expected 4", mean);
    cr_expect_geq(longest, 15, "the longest burst was %llu", (unsigned long long)longest);
    sockit_impair_free(im);

    struct sockit_impair_options bern = { .loss = 0.01 / 0.26 };
    im = make(&bern, 15);
    bursts = lost = run_len = 0;
    for (int i = 0; i < N; i++) {
        if (sockit_impair_push(im, 0, pkt, sizeof(pkt), 0) == SOCKIT_IMPAIR_DROPPED) {
            lost++;
            run_len++;
            continue;
        }
        bursts += run_len > 0;
        run_len = 0;
    }
    mean = (double)lost / (double)bursts;
    cr_expect(mean < 1.1, "independent losses come alone: mean burst %.2f", mean);
    sockit_impair_free(im);
}

Test(impair, rate_spaces_packets_by_their_size_and_drops_at_the_limit)
{
    /* 10 Mbit/s: a 1250-byte packet takes 1 ms on the wire */
    struct sockit_impair_options o = { .rate_bps = 10000000, .limit = 50 };
    struct sockit_impair *im = make(&o, 16);
    uint8_t pkt[1250] = { 0 };
    int held = 0, dropped = 0;

    for (int i = 0; i < 100; i++) {
        int v = sockit_impair_push(im, 0, pkt, sizeof(pkt), 0);
        held += v == SOCKIT_IMPAIR_HELD;
        dropped += v == SOCKIT_IMPAIR_DROPPED;
    }
    cr_expect_eq(held, 50);
    cr_expect_eq(dropped, 50);
    for (int i = 0; i < 50; i++) {
        cr_expect_eq(sockit_impair_next(im), (uint64_t)(i + 1) * MS);
        cr_expect_null(sockit_impair_pop(im, (uint64_t)(i + 1) * MS - 1));
        struct sockit_impair_packet *p = sockit_impair_pop(im, (uint64_t)(i + 1) * MS);
        cr_assert_not_null(p);
        free(p);
    }
    struct sockit_impair_stats st;
    sockit_impair_stats(im, &st);
    cr_expect_eq(st.queue_drops, 50);
    cr_expect_eq(st.held, 0);
    sockit_impair_free(im);
}

Test(impair, mtu_drops_or_truncates)
{
    struct sockit_impair_options o = { .mtu = 1000 };
    struct sockit_impair *im = make(&o, 17);
    uint8_t pkt[1500] = { 0 };

    cr_expect_eq(sockit_impair_push(im, 0, pkt, 1000, 0), SOCKIT_IMPAIR_PASS);
    cr_expect_eq(sockit_impair_push(im, 0, pkt, 1001, 0), SOCKIT_IMPAIR_DROPPED);
    o.mtu_truncate = true;
    cr_assert_eq(sockit_impair_set(im, &o), 0);
    cr_expect_eq(sockit_impair_push(im, 0, pkt, 1500, 0), SOCKIT_IMPAIR_HELD);
    struct sockit_impair_packet *p = sockit_impair_pop(im, 0);
    cr_assert_not_null(p);
    cr_expect_eq(p->len, 1000);
    cr_expect(p->truncated);
    free(p);
    struct sockit_impair_stats st;
    sockit_impair_stats(im, &st);
    cr_expect_eq(st.mtu_drops, 1);
    cr_expect_eq(st.truncated, 1);
    sockit_impair_free(im);
}

/* Everything decided: verdicts, release times, bytes. */
static uint64_t fingerprint(uint64_t seed)
{
    struct sockit_impair_options o = { .loss = 0.05,
                                       .delay_ns = 5 * MS,
                                       .jitter_ns = 2 * MS,
                                       .dist = SOCKIT_IMPAIR_NORMAL,
                                       .reorder = 0.1,
                                       .duplicate = 0.02,
                                       .corrupt = 0.01,
                                       .rate_bps = 100000000 };
    struct sockit_impair *im = make(&o, seed);
    uint64_t h = 1469598103934665603ull, now = 0;
    uint8_t pkt[200];
    struct sockit_impair_packet *p;

    for (uint32_t i = 0; i < 20000; i++, now += GAP_NS) {
        memset(pkt, (int)i, sizeof(pkt));
        h = (h ^ (uint64_t)sockit_impair_push(im, now, pkt, 100 + i % 100, i)) * 1099511628211ull;
        while ((p = sockit_impair_pop(im, now))) {
            h = (h ^ p->release_ns ^ p->tag ^ p->len) * 1099511628211ull;
            for (size_t k = 0; k < p->len; k++)
                h = (h ^ p->data[k]) * 1099511628211ull;
            free(p);
        }
    }
    sockit_impair_free(im);
    return h;
}

Test(impair, one_seed_decides_the_same_way_twice)
{
    cr_expect_eq(fingerprint(42), fingerprint(42));
    cr_expect_neq(fingerprint(42), fingerprint(43));
}

Test(impair, forget_drops_one_tags_packets_only)
{
    struct sockit_impair_options o = { .delay_ns = MS, .jitter_ns = MS / 2 };
    struct sockit_impair *im = make(&o, 18);
    uint8_t pkt[10] = { 0 };
    struct sockit_impair_packet *p;
    uint64_t last = 0;

    for (int i = 0; i < 1000; i++)
        sockit_impair_push(im, (uint64_t)i * 1000, pkt, sizeof(pkt), (uint64_t)(i % 3));
    cr_expect_eq(sockit_impair_forget(im, 1), 333);
    int left = 0;
    while ((p = sockit_impair_pop(im, UINT64_MAX - 1))) {
        cr_expect_neq(p->tag, 1);
        cr_expect_geq(p->release_ns, last, "released out of time order after forget");
        last = p->release_ns;
        left++;
        free(p);
    }
    cr_expect_eq(left, 667);
    sockit_impair_free(im);
}

Test(impair, bad_options_are_refused_with_a_reason)
{
    const char *why = NULL;
    struct sockit_impair *im = NULL;
    struct sockit_impair_options o = { .loss = 1.5 };

    cr_expect_eq(sockit_impair_options_check(&o, &why), -EINVAL);
    cr_expect(why && strstr(why, "loss"), "%s", why ? why : "(none)");
    cr_expect_eq(sockit_impair_new(&im, &o, 1), -EINVAL);
    o = (struct sockit_impair_options){ .ge_p = 0.1 };
    cr_expect_eq(sockit_impair_options_check(&o, &why), -EINVAL);
    cr_expect(strstr(why, "r must be"), "%s", why);
    o = (struct sockit_impair_options){ .loss = NAN };
    cr_expect_eq(sockit_impair_options_check(&o, NULL), -EINVAL);
    o = (struct sockit_impair_options){ .rate_bps = 4 };
    cr_expect_eq(sockit_impair_options_check(&o, NULL), -EINVAL);
    o = (struct sockit_impair_options){ .mtu = 70000 };
    cr_expect_eq(sockit_impair_options_check(&o, NULL), -EINVAL);
}

Test(impair_units, percentages)
{
    double v;

    cr_expect_eq(sockit_impair_parse_percent("10%", &v), 0);
    cr_expect_float_eq(v, 0.10, 1e-12);
    cr_expect_eq(sockit_impair_parse_percent("0.5%", &v), 0);
    cr_expect_float_eq(v, 0.005, 1e-12);
    cr_expect_eq(sockit_impair_parse_percent("100%", &v), 0);
    cr_expect_eq(sockit_impair_parse_percent("0%", &v), 0);
    const char *bad[] = { "150%", "10",   "-1%",    "%",    "",     "1e1%", "0x1%",
                          "nan%", "inf%", "1.2.3%", "10 %", "10%%", " 10%", "10%x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sockit_impair_parse_percent(bad[i], &v), -EINVAL, "\"%s\"", bad[i]);
    cr_expect_eq(sockit_impair_parse_percent(NULL, &v), -EINVAL);
}

Test(impair_units, times)
{
    uint64_t ns;

    cr_expect_eq(sockit_impair_parse_time("20ms", &ns), 0);
    cr_expect_eq(ns, 20000000);
    cr_expect_eq(sockit_impair_parse_time("1.5s", &ns), 0);
    cr_expect_eq(ns, 1500000000);
    cr_expect_eq(sockit_impair_parse_time("250us", &ns), 0);
    cr_expect_eq(ns, 250000);
    cr_expect_eq(sockit_impair_parse_time("100ns", &ns), 0);
    cr_expect_eq(ns, 100);
    cr_expect_eq(sockit_impair_parse_time("5MSEC", &ns), 0);
    cr_expect_eq(ns, 5000000);
    const char *bad[] = { "20", "ms", "-5ms", "20 ms", "2h", "3601s", "1e3ms", "20msx", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sockit_impair_parse_time(bad[i], &ns), -EINVAL, "\"%s\"", bad[i]);
}

Test(impair_units, rates_as_tc_writes_them)
{
    uint64_t bps;

    cr_expect_eq(sockit_impair_parse_rate("10mbit", &bps), 0);
    cr_expect_eq(bps, 10000000);
    cr_expect_eq(sockit_impair_parse_rate("512kbit", &bps), 0);
    cr_expect_eq(bps, 512000);
    cr_expect_eq(sockit_impair_parse_rate("1mbps", &bps), 0); /* tc: bytes per second */
    cr_expect_eq(bps, 8000000);
    cr_expect_eq(sockit_impair_parse_rate("1mibit", &bps), 0);
    cr_expect_eq(bps, 1048576);
    cr_expect_eq(sockit_impair_parse_rate("1.5Gbit", &bps), 0);
    cr_expect_eq(bps, 1500000000);
    const char *bad[] = { "10", "10mb", "4bit", "11tbit", "mbit", "-1mbit", "10 mbit", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sockit_impair_parse_rate(bad[i], &bps), -EINVAL, "\"%s\"", bad[i]);
}

/* Loss on a retransmitting link: nothing dropped, each lost packet held LOSS_DELAY longer and,
 * in order, what follows waits behind it. */
Test(impair, loss_delay_holds_instead_of_dropping_and_keeps_order)
{
    struct sockit_impair_options o = {
        .loss = 0.10, .loss_delay_ns = 200 * MS, .keep_order = true, .limit = 100000
    };
    struct sockit_impair *im = make(&o, 19);
    struct run r;

    run(im, 100, &r);
    expect_rate(r.st.lost, N, 0.10);
    cr_expect_eq(r.dropped, 0);
    cr_expect_eq(r.st.out, N);
    cr_expect_eq(r.early, 0);
    cr_expect_geq(sockit_hist_percentile(sockit_impair_delays(im), 100), 200 * MS);
    sockit_impair_free(im);
}

Test(impair, a_stall_holds_what_is_held_and_what_comes)
{
    struct sockit_impair_options o = { .delay_ns = MS };
    struct sockit_impair *im = make(&o, 20);
    uint8_t pkt[10] = { 0 };
    struct sockit_impair_packet *p;

    cr_assert_eq(sockit_impair_push(im, 0, pkt, sizeof(pkt), 1), SOCKIT_IMPAIR_HELD);
    sockit_impair_stall(im, 50 * MS);
    cr_expect_eq(sockit_impair_next(im), 50 * MS);
    cr_expect_null(sockit_impair_pop(im, 10 * MS), "released during the stall");
    cr_assert_eq(sockit_impair_push(im, 20 * MS, pkt, sizeof(pkt), 2), SOCKIT_IMPAIR_HELD);
    p = sockit_impair_pop(im, 50 * MS);
    cr_assert_not_null(p);
    cr_expect_eq(p->tag, 1);
    free(p);
    cr_expect_null(sockit_impair_pop(im, 50 * MS), "what came in the stall keeps its own delay");
    cr_expect_eq(sockit_impair_next(im), 51 * MS);
    free(sockit_impair_pop(im, 51 * MS));
    /* a perfect link stalled holds too (nothing passes at once) */
    struct sockit_impair_options none = { 0 };
    sockit_impair_set(im, &none);
    sockit_impair_stall(im, 100 * MS);
    cr_expect_eq(sockit_impair_push(im, 60 * MS, pkt, sizeof(pkt), 3), SOCKIT_IMPAIR_HELD);
    cr_expect_eq(sockit_impair_next(im), 100 * MS);
    free(sockit_impair_pop(im, 100 * MS));
    sockit_impair_free(im);
}
