/* The impairment engine (sockit/impair.h): per packet, the MTU, loss, duplication and
 * corruption decisions, then a release time from delay, jitter, reordering and the bandwidth
 * limit; held packets wait in a min-heap ordered by (release time, push order). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/impair.h"
#include "sockit/rand.h"

#define NS_PER_S 1000000000ull

struct sockit_impair {
    struct sockit_impair_options o;
    uint64_t rng;
    bool ge_bad;            /* Gilbert-Elliott: in the bad state */
    uint64_t last_release;  /* KEEP_ORDER: the latest release given so far */
    uint64_t link_free;     /* RATE: when the link has sent everything before */
    uint64_t seq, order;    /* packets pushed; copies held (the heap's tie-break) */
    uint64_t max_release;   /* the latest release time given so far */
    uint64_t stall_until;   /* nothing leaves before this */
    struct heap_item *heap; /* min-heap of held packets */
    size_t n, cap;
    struct sockit_impair_stats st;
    struct sockit_hist *delays; /* OWN_DELAYS below, or the caller's */
    struct sockit_hist own_delays;
};

struct heap_item {
    uint64_t release, order;
    struct sockit_impair_packet *p;
};

/* ---- the generator -------------------------------------------------------------------------- */

uint64_t sockit_impair_rand(uint64_t *state)
{
    return sockit_rand_next(state);
}

/* Uniform in [0, 1). */
static double uniform(struct sockit_impair *im)
{
    return (double)(sockit_impair_rand(&im->rng) >> 11) * 0x1.0p-53;
}

/* True with probability P; draws nothing when P is 0 or 1, so options that are off cost
 * nothing and do not shift the other decisions. */
static bool chance(struct sockit_impair *im, double p)
{
    if (p <= 0)
        return false;
    if (p >= 1)
        return true;
    return uniform(im) < p;
}

/* A standard normal value (Box-Muller). */
static double normal(struct sockit_impair *im)
{
    double u1 = 1.0 - uniform(im); /* (0, 1]: log is finite */
    double u2 = uniform(im);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- options -------------------------------------------------------------------------------- */

static bool is_probability(double p)
{
    return p >= 0 && p <= 1; /* also false for NaN */
}

int sockit_impair_options_check(const struct sockit_impair_options *o, const char **why)
{
    const char *w = NULL;

    if (!is_probability(o->loss))
        w = "loss is not a probability (0..100 %)";
    else if (!is_probability(o->ge_p) || !is_probability(o->ge_r) ||
             !is_probability(o->ge_loss_bad) || !is_probability(o->ge_loss_good))
        w = "a Gilbert-Elliott value is not a probability (0..100 %)";
    else if (o->ge_p > 0 && o->ge_r <= 0)
        w = "Gilbert-Elliott: with p > 0, r must be > 0 (or the bad state never ends)";
    else if (!is_probability(o->reorder) || !is_probability(o->duplicate) ||
             !is_probability(o->corrupt))
        w = "reorder, duplicate and corrupt are probabilities (0..100 %)";
    else if (o->delay_ns > 3600 * NS_PER_S || o->jitter_ns > 3600 * NS_PER_S ||
             o->loss_delay_ns > 3600 * NS_PER_S)
        w = "delay, jitter and the retransmission delay are at most an hour";
    else if (o->dist != SOCKIT_IMPAIR_UNIFORM && o->dist != SOCKIT_IMPAIR_NORMAL)
        w = "unknown jitter distribution";
    else if (o->rate_bps && (o->rate_bps < 8 || o->rate_bps > 10000000000000ull))
        w = "rate is 8 bit/s to 10 Tbit/s";
    else if (o->limit > 10000000)
        w = "limit is at most 10,000,000 packets";
    else if (o->mtu && (o->mtu < 1 || o->mtu > 65535))
        w = "mtu is 1 to 65535 bytes";
    if (why)
        *why = w;
    return w ? -EINVAL : 0;
}

bool sockit_impair_options_active(const struct sockit_impair_options *o)
{
    return o->loss > 0 || o->ge_p > 0 || o->delay_ns || o->jitter_ns || o->reorder > 0 ||
           o->duplicate > 0 || o->corrupt > 0 || o->rate_bps || o->mtu;
}

/* Without DELAYS: with a histogram of its own (allocated with it). */
static int make(struct sockit_impair **out, const struct sockit_impair_options *o, uint64_t seed,
                struct sockit_hist *delays)
{
    size_t size =
        delays ? offsetof(struct sockit_impair, own_delays) : sizeof(struct sockit_impair);
    struct sockit_impair *im;

    if (sockit_impair_options_check(o, NULL) < 0)
        return -EINVAL;
    if (!(im = calloc(1, size)))
        return -ENOMEM;
    im->o = *o;
    im->rng = seed;
    im->delays = delays ? delays : &im->own_delays;
    if (!delays)
        sockit_hist_reset(im->delays);
    *out = im;
    return 0;
}

int sockit_impair_new(struct sockit_impair **out, const struct sockit_impair_options *o,
                      uint64_t seed)
{
    return make(out, o, seed, NULL);
}

int sockit_impair_new_sharing(struct sockit_impair **out, const struct sockit_impair_options *o,
                              uint64_t seed, struct sockit_hist *delays)
{
    return make(out, o, seed, delays);
}

void sockit_impair_free(struct sockit_impair *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n; i++)
        free(im->heap[i].p);
    free(im->heap);
    free(im);
}

int sockit_impair_set(struct sockit_impair *im, const struct sockit_impair_options *o)
{
    if (sockit_impair_options_check(o, NULL) < 0)
        return -EINVAL;
    if (o->ge_p <= 0)
        im->ge_bad = false;
    im->o = *o;
    return 0;
}

const struct sockit_impair_options *sockit_impair_options(const struct sockit_impair *im)
{
    return &im->o;
}

/* ---- the heap ------------------------------------------------------------------------------- */

static bool before(const struct heap_item *a, const struct heap_item *b)
{
    return a->release < b->release || (a->release == b->release && a->order < b->order);
}

static void swap(struct heap_item *a, struct heap_item *b)
{
    struct heap_item t = *a;

    *a = *b;
    *b = t;
}

static void sift_up(struct heap_item *h, size_t i)
{
    while (i > 0 && before(&h[i], &h[(i - 1) / 2])) {
        swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct heap_item *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m]))
            m = l;
        if (r < n && before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        swap(&h[i], &h[m]);
        i = m;
    }
}

static int heap_push(struct sockit_impair *im, struct sockit_impair_packet *p)
{
    if (im->n == im->cap) {
        size_t cap = im->cap ? 2 * im->cap : 64;
        struct heap_item *h = realloc(im->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        im->heap = h;
        im->cap = cap;
    }
    im->heap[im->n] = (struct heap_item){ p->release_ns, im->order++, p };
    sift_up(im->heap, im->n++);
    im->st.held++;
    im->st.held_bytes += p->len;
    return 0;
}

/* Take out the item at I. */
static struct sockit_impair_packet *heap_take(struct sockit_impair *im, size_t i)
{
    struct sockit_impair_packet *p = im->heap[i].p;

    im->heap[i] = im->heap[--im->n];
    if (i < im->n) {
        sift_down(im->heap, im->n, i);
        sift_up(im->heap, i);
    }
    im->st.held--;
    im->st.held_bytes -= p->len;
    return p;
}

/* ---- decisions ------------------------------------------------------------------------------ */

static bool lost(struct sockit_impair *im)
{
    const struct sockit_impair_options *o = &im->o;

    if (o->ge_p <= 0)
        return chance(im, o->loss);
    im->ge_bad = im->ge_bad ? !chance(im, o->ge_r) : chance(im, o->ge_p);
    return chance(im, im->ge_bad ? o->ge_loss_bad : o->ge_loss_good);
}

/* When a copy of LEN bytes arriving at NOW may leave. */
static uint64_t release_time(struct sockit_impair *im, uint64_t now, size_t len)
{
    const struct sockit_impair_options *o = &im->o;
    uint64_t t = now;

    if ((o->delay_ns || o->jitter_ns) && !chance(im, o->reorder)) {
        double d = (double)o->delay_ns;
        if (o->jitter_ns && o->dist == SOCKIT_IMPAIR_NORMAL)
            d += (double)o->jitter_ns * normal(im);
        else if (o->jitter_ns)
            d += (double)o->jitter_ns * (2.0 * uniform(im) - 1.0);
        t = now + (d > 0 ? (uint64_t)llround(d) : 0);
    }
    if (o->keep_order) { /* never before one pushed earlier (behind a retransmission, too) */
        if (t < im->last_release)
            t = im->last_release;
        im->last_release = t;
    }
    if (o->rate_bps) { /* on the wire after what is ahead of it, for its own length */
        uint64_t start = t > im->link_free ? t : im->link_free;
        uint64_t bits = (uint64_t)len * 8;
        im->link_free = start + (bits * NS_PER_S + o->rate_bps - 1) / o->rate_bps;
        t = im->link_free;
    }
    return t;
}

static struct sockit_impair_packet *copy_of(const void *data, size_t len, uint64_t now,
                                            uint64_t seq, uint64_t tag)
{
    struct sockit_impair_packet *p = malloc(sizeof(*p) + len);

    if (!p)
        return NULL;
    *p = (struct sockit_impair_packet){ .arrival_ns = now, .seq = seq, .tag = tag, .len = len };
    if (len)
        memcpy(p->data, data, len);
    return p;
}

/* Flip one bit of P's payload, chosen by the generator. */
static void corrupt(struct sockit_impair *im, struct sockit_impair_packet *p)
{
    uint64_t r = sockit_impair_rand(&im->rng);

    if (p->len)
        p->data[(r >> 3) % p->len] ^= (uint8_t)(1u << (r & 7));
    p->corrupted = true;
}

int sockit_impair_push(struct sockit_impair *im, uint64_t now, const void *data, size_t len,
                       uint64_t tag)
{
    const struct sockit_impair_options *o = &im->o;
    size_t limit = o->limit ? o->limit : SOCKIT_IMPAIR_LIMIT_DEFAULT;
    uint64_t seq = im->seq++;
    bool truncated = false;

    im->st.in++;
    if (o->mtu && len > o->mtu) {
        if (!o->mtu_truncate) {
            im->st.mtu_drops++;
            return SOCKIT_IMPAIR_DROPPED;
        }
        len = o->mtu;
        truncated = true;
        im->st.truncated++;
    }
    /* when the packet starts its way: after a stall, later after a retransmission */
    uint64_t base = now < im->stall_until ? im->stall_until : now;
    if (lost(im)) {
        im->st.lost++;
        if (!o->loss_delay_ns)
            return SOCKIT_IMPAIR_DROPPED;
        base += o->loss_delay_ns;
    }
    int copies = chance(im, o->duplicate) ? 2 : 1;
    bool bad = chance(im, o->corrupt);
    if (im->n + (size_t)copies > limit) {
        im->st.queue_drops++;
        return SOCKIT_IMPAIR_DROPPED;
    }
    uint64_t t = release_time(im, base, len);
    if (t == now && copies == 1 && !bad && !truncated && im->n == 0) {
        im->st.out++;
        im->max_release = now;
        sockit_hist_add(im->delays, 0);
        return SOCKIT_IMPAIR_PASS;
    }
    for (int c = 0; c < copies; c++) { /* a duplicate that finds no memory is no loss */
        struct sockit_impair_packet *p = copy_of(data, len, now, seq, tag);
        if (!p)
            return c == 0 ? -ENOMEM : SOCKIT_IMPAIR_HELD;
        p->release_ns = c == 0 ? t : release_time(im, base, len);
        if (p->release_ns < im->max_release) /* it will overtake one pushed before it */
            im->st.reordered++;
        else
            im->max_release = p->release_ns;
        p->truncated = truncated;
        p->duplicate = c == 1;
        if (c == 0 && bad)
            corrupt(im, p);
        if (heap_push(im, p) < 0) {
            free(p);
            return c == 0 ? -ENOMEM : SOCKIT_IMPAIR_HELD;
        }
        im->st.corrupted += p->corrupted;
        im->st.duplicated += p->duplicate;
    }
    return SOCKIT_IMPAIR_HELD;
}

void sockit_impair_stall(struct sockit_impair *im, uint64_t until)
{
    im->stall_until = until;
}

struct sockit_impair_packet *sockit_impair_pop(struct sockit_impair *im, uint64_t now)
{
    if (im->n == 0 || im->heap[0].release > now || now < im->stall_until)
        return NULL;
    struct sockit_impair_packet *p = heap_take(im, 0);
    im->st.out++;
    sockit_hist_add(im->delays, p->release_ns - p->arrival_ns);
    return p;
}

uint64_t sockit_impair_next(const struct sockit_impair *im)
{
    if (!im->n)
        return UINT64_MAX;
    return im->heap[0].release > im->stall_until ? im->heap[0].release : im->stall_until;
}

size_t sockit_impair_forget(struct sockit_impair *im, uint64_t tag)
{
    size_t kept = 0, dropped;

    for (size_t i = 0; i < im->n; i++) {
        struct sockit_impair_packet *p = im->heap[i].p;
        if (p->tag != tag) {
            im->heap[kept++] = im->heap[i];
            continue;
        }
        im->st.held--;
        im->st.held_bytes -= p->len;
        free(p);
    }
    dropped = im->n - kept;
    im->n = kept;
    for (size_t i = kept / 2; i-- > 0;) /* heapify what is left */
        sift_down(im->heap, im->n, i);
    im->st.forgotten += dropped;
    return dropped;
}

void sockit_impair_stats(const struct sockit_impair *im, struct sockit_impair_stats *out)
{
    *out = im->st;
}

const struct sockit_hist *sockit_impair_delays(const struct sockit_impair *im)
{
    return im->delays;
}
