/* sockit/impair.h — a bad network, decided without I/O: packets and the time in, packets and
 * the times they may leave out. What `sockit impair` runs for each direction of its link, and
 * what its tests run without sockets.
 *
 * One struct sockit_impair is one direction of one link, in the manner of Linux's netem qdisc:
 *   - loss: each packet with probability LOSS, or by a Gilbert-Elliott model (two states, good
 *     and bad, each with its own loss probability: losses come in bursts);
 *   - an MTU: larger packets dropped, or truncated to it;
 *   - delay: a fixed DELAY plus JITTER, uniform in [-JITTER, +JITTER] or normal with JITTER as
 *     its standard deviation (never below zero); jitter reorders packets unless KEEP_ORDER;
 *   - reordering as netem does it: with probability REORDER a packet skips the delay (so it
 *     overtakes those delayed before it);
 *   - duplication: a second copy, with its own delay; corruption: one bit of the payload flipped;
 *   - a bandwidth limit: packets leave the delay one after another at RATE, each taking its
 *     size in time; the packets held at once are bounded by LIMIT (tail drop).
 * Every decision comes from the impairment's own generator, seeded at creation: the same seed,
 * options and input (packets, sizes and times, in the same order) give the same output.
 *
 * Owns the packets it holds (copies); a popped packet is the caller's, to free. Not
 * thread-safe: one impairment per loop thread. */
#ifndef SOCKIT_IMPAIR_H
#define SOCKIT_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sockit_impair_dist {
    SOCKIT_IMPAIR_UNIFORM, /* jitter uniform in [-jitter, +jitter] */
    SOCKIT_IMPAIR_NORMAL,  /* jitter normal, jitter = one standard deviation */
};

#define SOCKIT_IMPAIR_LIMIT_DEFAULT 1000 /* packets held at once, as netem's default */

/* Probabilities are fractions (0..1), times nanoseconds, RATE bits per second. All zero: a
 * perfect link (every packet passes at once, unchanged). */
struct sockit_impair_options {
    double loss; /* used when ge_p is 0 */
    /* Gilbert-Elliott, when GE_P > 0: P(good -> bad) and P(bad -> good) per packet, and the
     * loss probability in each state (tc-netem's "loss gemodel p r 1-h 1-k"). */
    double ge_p, ge_r, ge_loss_bad, ge_loss_good;
    uint64_t delay_ns, jitter_ns;
    enum sockit_impair_dist dist;
    bool keep_order; /* no packet leaves before one pushed before it (jitter, reorder and
                        a retransmission delay hold back what follows instead) */
    double reorder;  /* P(a packet skips the delay) */
    double duplicate, corrupt;
    uint64_t rate_bps; /* 0: unlimited */
    size_t limit;      /* packets held at once; 0: SOCKIT_IMPAIR_LIMIT_DEFAULT */
    size_t mtu;        /* 0: none */
    bool mtu_truncate; /* larger packets truncated to MTU instead of dropped */
    /* Loss on a stream, which retransmits: a packet the loss model picks is not dropped but
     * held this much longer (still counted as lost); with KEEP_ORDER what follows waits behind
     * it, as behind a TCP retransmission. 0: lost packets are dropped. */
    uint64_t loss_delay_ns;
};

/* Check O: probabilities in 0..1, Gilbert-Elliott's R > 0 when P > 0, times and sizes sane.
 * Returns 0, or -EINVAL with a static text naming the field in *WHY (if WHY is not NULL). */
int sockit_impair_options_check(const struct sockit_impair_options *o, const char **why);

/* Whether O changes anything at all. */
bool sockit_impair_options_active(const struct sockit_impair_options *o);

/* A packet held, and then the caller's. */
struct sockit_impair_packet {
    uint64_t release_ns; /* when it may leave */
    uint64_t arrival_ns; /* when it was pushed */
    uint64_t seq;        /* the order it was pushed in (a duplicate shares its original's) */
    uint64_t tag;        /* the caller's, from sockit_impair_push */
    size_t len;
    bool duplicate; /* the second copy */
    bool corrupted;
    bool truncated;
    uint8_t data[]; /* LEN bytes */
};

/* Counters since creation. */
struct sockit_impair_stats {
    uint64_t in;             /* packets pushed */
    uint64_t out;            /* packets popped (duplicates included) */
    uint64_t lost;           /* dropped by the loss model */
    uint64_t queue_drops;    /* dropped: LIMIT packets already held */
    uint64_t mtu_drops;      /* dropped: over the MTU */
    uint64_t truncated;      /* cut to the MTU */
    uint64_t duplicated;     /* second copies made */
    uint64_t corrupted;      /* packets with a flipped bit */
    uint64_t reordered;      /* released ahead of a packet pushed before them */
    uint64_t forgotten;      /* dropped by sockit_impair_forget */
    size_t held, held_bytes; /* packets waiting now */
};

struct sockit_impair;

/* A new impairment with options O (checked as sockit_impair_options_check does) and SEED.
 * Returns 0 and it in *OUT, -EINVAL for bad options, or -ENOMEM. */
int sockit_impair_new(struct sockit_impair **out, const struct sockit_impair_options *o,
                      uint64_t seed);

/* sockit_impair_new, recording the delays into DELAYS (the caller's, shared by several
 * impairments, e.g. one per connection; it must outlive IM) instead of a histogram of its
 * own: an impairment is then a few hundred bytes, not 60 KiB. */
int sockit_impair_new_sharing(struct sockit_impair **out, const struct sockit_impair_options *o,
                              uint64_t seed, struct sockit_hist *delays);

/* Free IM and every packet it holds. NULL is fine. */
void sockit_impair_free(struct sockit_impair *im);

/* Change the options from now on (checked; -EINVAL leaves the old ones). Packets already held
 * keep the release times they were given. */
int sockit_impair_set(struct sockit_impair *im, const struct sockit_impair_options *o);

/* The options in force. */
const struct sockit_impair_options *sockit_impair_options(const struct sockit_impair *im);

/* What became of a pushed packet. */
enum sockit_impair_verdict {
    SOCKIT_IMPAIR_PASS,   /* nothing to do: send the caller's bytes as they are, now;
                             nothing is held (only while nothing else is held either) */
    SOCKIT_IMPAIR_HELD,   /* held (one copy, or two if duplicated): pop it when due */
    SOCKIT_IMPAIR_DROPPED /* lost, over the MTU, or the queue full */
};

/* Push the LEN bytes at DATA arriving at NOW, with the caller's TAG (e.g. which session).
 * Returns a verdict, or -ENOMEM (the packet is dropped). */
int sockit_impair_push(struct sockit_impair *im, uint64_t now, const void *data, size_t len,
                       uint64_t tag);

/* A stall: nothing is released before UNTIL, neither what is held nor what comes meanwhile
 * (which then leaves in order, each after its own delay counted from UNTIL). */
void sockit_impair_stall(struct sockit_impair *im, uint64_t until);

/* The earliest packet due at NOW (release_ns <= NOW), taken out: the caller's, to free with
 * free(). NULL when none is due. Packets due at the same time leave in the order pushed. */
struct sockit_impair_packet *sockit_impair_pop(struct sockit_impair *im, uint64_t now);

/* When the next held packet is due; UINT64_MAX when none is held. */
uint64_t sockit_impair_next(const struct sockit_impair *im);

/* Drop every held packet with TAG (a session that ended). Returns how many. */
size_t sockit_impair_forget(struct sockit_impair *im, uint64_t tag);

/* Copy the counters into *OUT. */
void sockit_impair_stats(const struct sockit_impair *im, struct sockit_impair_stats *out);

/* The delay each popped packet was held (release minus arrival), nanoseconds; borrowed (the
 * shared one for an impairment made by sockit_impair_new_sharing). */
const struct sockit_hist *sockit_impair_delays(const struct sockit_impair *im);

/* ---- parsing the values people write (tc-netem's units) ---------------------------------- */

/* "10%", "0.5%": a percentage, as a fraction in *OUT. 0..100 %. Returns 0 or -EINVAL. */
int sockit_impair_parse_percent(const char *text, double *out);

/* "20ms", "1.5s", "250us", "100ns": a time with its unit, in nanoseconds, at most an hour.
 * A bare number is refused (which unit would it be?). Returns 0 or -EINVAL. */
int sockit_impair_parse_time(const char *text, uint64_t *out_ns);

/* A rate as tc writes it: "10mbit", "512kbit", "1gbit", "9600bit" (bits per second, SI
 * prefixes) or "1mbps", "100kbps", "5bps" (bytes per second, as tc reads "bps"); also the
 * binary prefixes "kibit", "mibit", "gibit", "kibps", "mibps", "gibps". In bits per second,
 * at least 8 and at most 10 Tbit/s. A bare number is refused. Returns 0 or -EINVAL. */
int sockit_impair_parse_rate(const char *text, uint64_t *out_bps);

/* Set option NAME of *O from VALUE, as written on the command line without the dashes:
 * "loss 10%", "ge 1%,25%[,BAD%[,GOOD%]]" (Gilbert-Elliott p, r, loss in the bad state (default
 * 100 %) and in the good one (default 0 %)), "delay 20ms", "jitter 5ms", "distribution
 * uniform|normal", "keep-order on|off", "reorder 25%", "duplicate 1%", "corrupt 0.1%", "rate
 * 10mbit", "limit 1000" (packets), "mtu 1400", "mtu-truncate on|off", "loss-delay 200ms" (a
 * lost packet held that much longer instead of dropped). VALUE "off" turns any of
 * them off; a flag with VALUE NULL is "on"; loss and ge each turn the other off. O is checked
 * as a whole after the change. Returns
 * 0, or -EINVAL with *WHY (if WHY is not NULL) a static text saying what was expected; *O is
 * unchanged then. */
int sockit_impair_setting(struct sockit_impair_options *o, const char *name, const char *value,
                          const char **why);

/* The name of setting I (0, 1, ...), in the order of the help; NULL past the last. */
const char *sockit_impair_setting_name(size_t i);

/* Whether NAME is a flag (takes no value on the command line). */
bool sockit_impair_setting_is_flag(const char *name);

/* O as the settings that give it, space-separated ("loss 10% delay 20ms"; "none" for a
 * perfect link), into BUF. Returns the length, or -ENOSPC. */
int sockit_impair_format(const struct sockit_impair_options *o, char *buf, size_t size);

/* ---- the control commands ------------------------------------------------------------------ */

#define SOCKIT_IMPAIR_CMD_MAX   512 /* longest command line */
#define SOCKIT_IMPAIR_CMD_STATS 1

/* Run one control command LINE (no newline) on OPTS[0] (client to upstream, "up") and OPTS[1]
 * ("down"), answering in REPLY (CAP bytes, one line without newline):
 *   set [up|down] NAME VALUE   a setting as sockit_impair_setting reads it (flags: VALUE
 *                              on/off)                                       -> "ok"
 *   clear [up|down]            a perfect link                                -> "ok"
 *   show                       "up: SETTINGS; down: SETTINGS"
 *   help                       the commands
 *   stats                      returns SOCKIT_IMPAIR_CMD_STATS: the caller answers
 * Without up/down, both directions. *CHANGED gets the directions changed (bit 0 up, bit 1
 * down). Returns 0, SOCKIT_IMPAIR_CMD_STATS, or -EINVAL with "error: WHY" in REPLY (and the
 * options unchanged). */
int sockit_impair_command(struct sockit_impair_options opts[2], const char *line, char *reply,
                          size_t cap, unsigned *changed);

/* One generator step over *STATE: sockit_rand_next (sockit/rand.h), as the proxy draws. */
uint64_t sockit_impair_rand(uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif
