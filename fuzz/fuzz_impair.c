/* libFuzzer target for sockit/impair.h's control commands and value parsers. The input is
 * read as lines, each run as a command on a pair of options. On any input:
 *
 *   - a command never leaves options that fail sockit_impair_options_check, and an error
 *     answer ("error: ...") leaves them as they were;
 *   - every answer is one line;
 *   - what `show` writes, read back setting by setting, gives the same options (the format
 *     and the parser agree);
 *   - an engine with the options takes a few packets, and releases what it holds, in time
 *     order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/impair.h"

#define MAX_INPUT 4096

static void fail(const char *what, const char *line)
{
    fprintf(stderr, "fuzz_impair: %s (line \"%s\")\n", what, line);
    abort();
}

/* Probabilities are written with 12 significant digits. */
static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-11;
}

static bool same(const struct sockit_impair_options *a, const struct sockit_impair_options *b)
{
    return near(a->loss, b->loss) && near(a->ge_p, b->ge_p) &&
           (a->ge_p == 0 || (near(a->ge_r, b->ge_r) && near(a->ge_loss_bad, b->ge_loss_bad) &&
                             near(a->ge_loss_good, b->ge_loss_good))) &&
           a->delay_ns == b->delay_ns && a->jitter_ns == b->jitter_ns &&
           (a->jitter_ns == 0 || a->dist == b->dist) && a->keep_order == b->keep_order &&
           near(a->reorder, b->reorder) && near(a->duplicate, b->duplicate) &&
           near(a->corrupt, b->corrupt) && a->rate_bps == b->rate_bps && a->limit == b->limit &&
           a->mtu == b->mtu && (a->mtu == 0 || a->mtu_truncate == b->mtu_truncate);
}

/* Read the text `show` wrote for O back, pair by pair, and compare. */
static void round_trip(const struct sockit_impair_options *o, const char *line)
{
    char text[512], *save = NULL;
    struct sockit_impair_options back = { 0 };

    if (sockit_impair_format(o, text, sizeof(text)) < 0)
        fail("options too long to show", line);
    if (strcmp(text, "none") == 0) {
        if (sockit_impair_options_active(o))
            fail("active options shown as none", line);
        return;
    }
    for (char *name = strtok_r(text, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        char *value = strtok_r(NULL, " ", &save);
        if (!value || sockit_impair_setting(&back, name, value, NULL) < 0)
            fail("show wrote what the parser refuses", line);
    }
    if (!same(o, &back))
        fail("show and the parser disagree", line);
}

static void exercise(const struct sockit_impair_options *o, const char *line)
{
    struct sockit_impair_options small = *o;
    struct sockit_impair *im;
    struct sockit_impair_packet *p;
    uint8_t pkt[64] = { 0 };
    uint64_t last = 0;

    small.limit = 16;
    if (sockit_impair_new(&im, &small, 1) != 0)
        fail("checked options refused by the engine", line);
    for (int i = 0; i < 8; i++)
        if (sockit_impair_push(im, (uint64_t)i * 1000, pkt, (size_t)i * 8, 0) < 0)
            fail("push failed", line);
    while ((p = sockit_impair_pop(im, UINT64_MAX - 1))) {
        if (p->release_ns < last)
            fail("released out of time order", line);
        last = p->release_ns;
        free(p);
    }
    sockit_impair_free(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_INPUT + 1];
    struct sockit_impair_options opts[2] = { { 0 }, { 0 } };
    char reply[1024], *save = NULL;

    if (size > MAX_INPUT)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct sockit_impair_options before[2] = { opts[0], opts[1] };
        unsigned changed;
        int rc = sockit_impair_command(opts, line, reply, sizeof(reply), &changed);
        for (int d = 0; d < 2; d++)
            if (sockit_impair_options_check(&opts[d], NULL) != 0)
                fail("a command left bad options", line);
        if (rc < 0 && (memcmp(before, opts, sizeof(opts)) != 0 || strncmp(reply, "error: ", 7)))
            fail("an error changed the options, or did not say error", line);
        if (rc != SOCKIT_IMPAIR_CMD_STATS)
            for (const char *c = reply; *c; c++)
                if (*c == '\n')
                    fail("an answer of more than one line", line);
        round_trip(&opts[0], line);
        round_trip(&opts[1], line);
        exercise(&opts[0], line);
    }
    return 0;
}
