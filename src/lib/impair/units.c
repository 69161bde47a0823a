/* The values tc-netem users write, read strictly: a number, then its unit, nothing else. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sockit/impair.h"

struct unit {
    const char *name;
    double factor;
};

/* A plain decimal number at the start of TEXT (digits with at most one '.': no sign, exponent,
 * hex, inf or nan), in *OUT, and where it ends in *END. */
static int number(const char *text, double *out, const char **end)
{
    const char *p = text;
    int digits = 0, dots = 0;
    char *e;

    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++)
        *p == '.' ? dots++ : digits++;
    if (!digits || dots > 1)
        return -EINVAL;
    errno = 0;
    double v = strtod(text, &e);
    if (errno || e != p || !isfinite(v))
        return -EINVAL;
    *out = v;
    *end = p;
    return 0;
}

/* TEXT as a number and one of UNITS (case-insensitive), as number x factor, in *OUT. */
static int with_unit(const char *text, const struct unit *units, double *out)
{
    const char *u;
    double v;

    if (!text || number(text, &v, &u) < 0 || !*u)
        return -EINVAL;
    for (; units->name; units++)
        if (strcasecmp(u, units->name) == 0) {
            *out = v * units->factor;
            return 0;
        }
    return -EINVAL;
}

int sockit_impair_parse_percent(const char *text, double *out)
{
    static const struct unit units[] = { { "%", 0.01 }, { NULL, 0 } };
    double v;

    if (with_unit(text, units, &v) < 0 || v > 1.0)
        return -EINVAL;
    *out = v;
    return 0;
}

int sockit_impair_parse_time(const char *text, uint64_t *out_ns)
{
    static const struct unit units[] = {
        { "s", 1e9 },     { "sec", 1e9 }, { "secs", 1e9 }, { "ms", 1e6 },    { "msec", 1e6 },
        { "msecs", 1e6 }, { "us", 1e3 },  { "usec", 1e3 }, { "usecs", 1e3 }, { "ns", 1 },
        { "nsec", 1 },    { "nsecs", 1 }, { NULL, 0 },
    };
    double v;

    if (with_unit(text, units, &v) < 0 || v > 3600e9)
        return -EINVAL;
    *out_ns = (uint64_t)llround(v);
    return 0;
}

int sockit_impair_parse_rate(const char *text, uint64_t *out_bps)
{
    static const struct unit units[] = {
        { "bit", 1 },
        { "kbit", 1e3 },
        { "mbit", 1e6 },
        { "gbit", 1e9 },
        { "tbit", 1e12 },
        { "kibit", 1024.0 },
        { "mibit", 1048576.0 },
        { "gibit", 1073741824.0 },
        { "tibit", 1099511627776.0 },
        { "bps", 8 },
        { "kbps", 8e3 },
        { "mbps", 8e6 },
        { "gbps", 8e9 },
        { "tbps", 8e12 },
        { "kibps", 8 * 1024.0 },
        { "mibps", 8 * 1048576.0 },
        { "gibps", 8 * 1073741824.0 },
        { "tibps", 8 * 1099511627776.0 },
        { NULL, 0 },
    };
    double v;

    if (with_unit(text, units, &v) < 0 || v < 8 || v > 10e12)
        return -EINVAL;
    *out_bps = (uint64_t)llround(v);
    return 0;
}
