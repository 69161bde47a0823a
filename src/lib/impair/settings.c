/* Named settings of an impairment ("loss 10%", "delay 20ms"): read for the command line and
 * the control socket, and written back for `show`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/impair.h"

typedef int setter_fn(struct sockit_impair_options *o, const char *value);

struct setting {
    const char *name;
    setter_fn *set;
    const char *expects; /* for the error */
    bool flag;
};

/* loss and ge are two models of one thing: setting one turns the other off. */
static int set_loss(struct sockit_impair_options *o, const char *v)
{
    if (sockit_impair_parse_percent(v, &o->loss) < 0)
        return -EINVAL;
    o->ge_p = o->ge_r = o->ge_loss_bad = o->ge_loss_good = 0;
    return 0;
}

/* "P%,R%[,BAD%[,GOOD%]]" */
static int set_ge(struct sockit_impair_options *o, const char *v)
{
    char buf[128], *parts[5], *save = NULL;
    double val[4] = { 0, 0, 1.0, 0 };
    int n = 0;

    if (strlen(v) >= sizeof(buf) || v[0] == ',' || strstr(v, ",,") || v[strlen(v) - 1] == ',')
        return -EINVAL;
    strcpy(buf, v);
    for (char *t = strtok_r(buf, ",", &save); t && n < 5; t = strtok_r(NULL, ",", &save))
        parts[n++] = t;
    if (n < 2 || n > 4)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (sockit_impair_parse_percent(parts[i], &val[i]) < 0)
            return -EINVAL;
    if (val[0] > 0 && val[1] <= 0)
        return -EINVAL;
    o->ge_p = val[0];
    o->ge_r = val[1];
    o->ge_loss_bad = val[2];
    o->ge_loss_good = val[3];
    o->loss = 0;
    return 0;
}

static int set_delay(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_time(v, &o->delay_ns);
}

static int set_jitter(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_time(v, &o->jitter_ns);
}

static int set_distribution(struct sockit_impair_options *o, const char *v)
{
    if (strcmp(v, "uniform") == 0)
        o->dist = SOCKIT_IMPAIR_UNIFORM;
    else if (strcmp(v, "normal") == 0)
        o->dist = SOCKIT_IMPAIR_NORMAL;
    else
        return -EINVAL;
    return 0;
}

static int on_off(const char *v, bool *out)
{
    if (!v || strcmp(v, "on") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int set_keep_order(struct sockit_impair_options *o, const char *v)
{
    return on_off(v, &o->keep_order);
}

static int set_reorder(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_percent(v, &o->reorder);
}

static int set_duplicate(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_percent(v, &o->duplicate);
}

static int set_corrupt(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_percent(v, &o->corrupt);
}

static int set_rate(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_rate(v, &o->rate_bps);
}

/* A whole decimal number in [MIN, MAX]. */
static int whole(const char *v, unsigned long min, unsigned long max, size_t *out)
{
    char *end;

    if (!v || v[0] < '0' || v[0] > '9')
        return -EINVAL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -EINVAL;
    *out = n;
    return 0;
}

static int set_limit(struct sockit_impair_options *o, const char *v)
{
    return whole(v, 1, 10000000, &o->limit);
}

static int set_mtu(struct sockit_impair_options *o, const char *v)
{
    return whole(v, 1, 65535, &o->mtu);
}

static int set_loss_delay(struct sockit_impair_options *o, const char *v)
{
    return sockit_impair_parse_time(v, &o->loss_delay_ns);
}

static int set_mtu_truncate(struct sockit_impair_options *o, const char *v)
{
    return on_off(v, &o->mtu_truncate);
}

static const struct setting settings[] = {
    { "loss", set_loss, "a percentage like 10% (0..100 %)", false },
    { "ge", set_ge, "P%,R%[,BAD%[,GOOD%]] (Gilbert-Elliott; R > 0 when P > 0)", false },
    { "delay", set_delay, "a time with its unit, like 20ms (at most 3600s)", false },
    { "jitter", set_jitter, "a time with its unit, like 5ms (at most 3600s)", false },
    { "distribution", set_distribution, "uniform or normal", false },
    { "keep-order", set_keep_order, "on or off", true },
    { "reorder", set_reorder, "a percentage like 25%", false },
    { "duplicate", set_duplicate, "a percentage like 1%", false },
    { "corrupt", set_corrupt, "a percentage like 0.1%", false },
    { "rate", set_rate, "a rate as tc writes it, like 10mbit or 1mbps (8bit .. 10tbit)", false },
    { "limit", set_limit, "a number of packets, 1 to 10000000", false },
    { "mtu", set_mtu, "a size in bytes, 1 to 65535", false },
    { "mtu-truncate", set_mtu_truncate, "on or off", true },
    { "loss-delay", set_loss_delay, "a time with its unit, like 200ms (at most 3600s)", false },
};

static const struct setting *find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

const char *sockit_impair_setting_name(size_t i)
{
    return i < sizeof(settings) / sizeof(settings[0]) ? settings[i].name : NULL;
}

bool sockit_impair_setting_is_flag(const char *name)
{
    const struct setting *s = find(name);

    return s && s->flag;
}

/* NAME turned off: its field back to the perfect link's value. */
static void turn_off(struct sockit_impair_options *o, const char *name)
{
    struct sockit_impair_options zero = { 0 };

    if (strcmp(name, "loss") == 0)
        o->loss = 0;
    else if (strcmp(name, "ge") == 0)
        o->ge_p = o->ge_r = o->ge_loss_bad = o->ge_loss_good = 0;
    else if (strcmp(name, "delay") == 0)
        o->delay_ns = 0;
    else if (strcmp(name, "jitter") == 0)
        o->jitter_ns = 0;
    else if (strcmp(name, "distribution") == 0)
        o->dist = zero.dist;
    else if (strcmp(name, "reorder") == 0)
        o->reorder = 0;
    else if (strcmp(name, "duplicate") == 0)
        o->duplicate = 0;
    else if (strcmp(name, "corrupt") == 0)
        o->corrupt = 0;
    else if (strcmp(name, "rate") == 0)
        o->rate_bps = 0;
    else if (strcmp(name, "limit") == 0)
        o->limit = 0;
    else if (strcmp(name, "mtu") == 0)
        o->mtu = 0;
    else if (strcmp(name, "loss-delay") == 0)
        o->loss_delay_ns = 0;
}

int sockit_impair_setting(struct sockit_impair_options *o, const char *name, const char *value,
                          const char **why)
{
    const struct setting *s = find(name);
    struct sockit_impair_options next = *o;
    const char *w = NULL;

    if (!s)
        w = "no such setting (loss, ge, delay, jitter, distribution, keep-order, reorder, "
            "duplicate, corrupt, rate, limit, mtu, mtu-truncate, loss-delay)";
    else if (value && strcmp(value, "off") == 0 && !s->flag)
        turn_off(&next, name);
    else if ((!value && !s->flag) || s->set(&next, value) < 0)
        w = s->expects;
    if (!w && sockit_impair_options_check(&next, &w) == 0) {
        *o = next;
        return 0;
    }
    if (why)
        *why = w;
    return -EINVAL;
}

/* ---- writing them back ---------------------------------------------------------------------- */

struct out {
    char *p;
    size_t size, len;
    bool full;
};

static void put(struct out *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->len < b->size ? b->size - b->len : 0;

    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        b->full = true;
    else
        b->len += (size_t)n;
}

static void put_time(struct out *b, const char *name, uint64_t ns)
{
    if (ns % 1000000000 == 0)
        put(b, "%s%s %llus", b->len ? " " : "", name, (unsigned long long)(ns / 1000000000));
    else if (ns % 1000000 == 0)
        put(b, "%s%s %llums", b->len ? " " : "", name, (unsigned long long)(ns / 1000000));
    else if (ns % 1000 == 0)
        put(b, "%s%s %lluus", b->len ? " " : "", name, (unsigned long long)(ns / 1000));
    else
        put(b, "%s%s %lluns", b->len ? " " : "", name, (unsigned long long)ns);
}

static void put_pct(struct out *b, const char *name, double p)
{
    put(b, "%s%s %.12g%%", b->len ? " " : "", name, p * 100);
}

static void put_rate(struct out *b, uint64_t bps)
{
    static const struct {
        uint64_t div;
        const char *unit;
    } units[] = { { 1000000000000ull, "tbit" },
                  { 1000000000, "gbit" },
                  { 1000000, "mbit" },
                  { 1000, "kbit" },
                  { 1, "bit" } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (bps % units[i].div == 0) {
            put(b, "%srate %llu%s", b->len ? " " : "", (unsigned long long)(bps / units[i].div),
                units[i].unit);
            return;
        }
}

int sockit_impair_format(const struct sockit_impair_options *o, char *buf, size_t size)
{
    struct out b = { buf, size, 0, false };

    if (size)
        buf[0] = '\0';
    if (o->ge_p > 0)
        put(&b, "ge %.12g%%,%.12g%%,%.12g%%,%.12g%%", o->ge_p * 100, o->ge_r * 100,
            o->ge_loss_bad * 100, o->ge_loss_good * 100);
    else if (o->loss > 0)
        put_pct(&b, "loss", o->loss);
    if (o->delay_ns)
        put_time(&b, "delay", o->delay_ns);
    if (o->jitter_ns) {
        put_time(&b, "jitter", o->jitter_ns);
        if (o->dist == SOCKIT_IMPAIR_NORMAL)
            put(&b, " distribution normal");
    }
    if (o->keep_order)
        put(&b, "%skeep-order on", b.len ? " " : "");
    if (o->reorder > 0)
        put_pct(&b, "reorder", o->reorder);
    if (o->duplicate > 0)
        put_pct(&b, "duplicate", o->duplicate);
    if (o->corrupt > 0)
        put_pct(&b, "corrupt", o->corrupt);
    if (o->rate_bps)
        put_rate(&b, o->rate_bps);
    if (o->limit)
        put(&b, "%slimit %zu", b.len ? " " : "", o->limit);
    if (o->mtu)
        put(&b, "%smtu %zu%s", b.len ? " " : "", o->mtu, o->mtu_truncate ? " mtu-truncate on" : "");
    if (o->loss_delay_ns)
        put_time(&b, "loss-delay", o->loss_delay_ns);
    if (!b.len)
        put(&b, "none");
    return b.full ? -ENOSPC : (int)b.len;
}
