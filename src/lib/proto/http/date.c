/* HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in.
 * Written by hand, not with strftime/strptime, which follow the locale. */
#include <errno.h>
#include <string.h>

#include "chars.h"

static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const long_days[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void two(char *out, int n)
{
    out[0] = (char)('0' + n / 10 % 10);
    out[1] = (char)('0' + n % 10);
}

void sockit_http_date_format(time_t t, char out[SOCKIT_HTTP_DATE_LEN + 1])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    memcpy(out, "Sun, 00 Jan 0000 00:00:00 GMT", SOCKIT_HTTP_DATE_LEN + 1);
    memcpy(out, days[tm.tm_wday], 3);
    two(out + 5, tm.tm_mday);
    memcpy(out + 8, months[tm.tm_mon], 3);
    two(out + 12, (tm.tm_year + 1900) / 100);
    two(out + 14, (tm.tm_year + 1900) % 100);
    two(out + 17, tm.tm_hour);
    two(out + 20, tm.tm_min);
    two(out + 23, tm.tm_sec);
}

/* N decimal digits at P: the number, or -1. */
static int digits(const char *p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, months[i], 3) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS" at P into TM. */
static bool clock_of(const char *p, struct tm *tm)
{
    tm->tm_hour = digits(p, 2);
    tm->tm_min = digits(p + 3, 2);
    tm->tm_sec = digits(p + 6, 2);
    return p[2] == ':' && p[5] == ':' && tm->tm_hour >= 0 && tm->tm_hour < 24 && tm->tm_min >= 0 &&
           tm->tm_min < 60 && tm->tm_sec >= 0 && tm->tm_sec <= 60;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool imf_fixdate(const char *p, size_t n, struct tm *tm)
{
    if (n != 29 || memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
        memcmp(p + 25, " GMT", 4) != 0)
        return false;
    tm->tm_mday = digits(p + 5, 2);
    tm->tm_mon = month(p + 8);
    tm->tm_year = digits(p + 12, 4) - 1900;
    return tm->tm_year >= 0 && clock_of(p + 17, tm);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool rfc850(const char *p, size_t n, struct tm *tm)
{
    const char *comma = memchr(p, ',', n < 10 ? n : 10);
    size_t day = comma ? (size_t)(comma - p) : 0;
    bool named = false;

    for (int i = 0; i < 7 && comma; i++)
        named |= strlen(long_days[i]) == day && memcmp(p, long_days[i], day) == 0;
    if (!named || n != day + 24 || comma[1] != ' ' || comma[4] != '-' || comma[8] != '-' ||
        comma[11] != ' ' || memcmp(comma + 20, " GMT", 4) != 0)
        return false;
    tm->tm_mday = digits(comma + 2, 2);
    tm->tm_mon = month(comma + 5);
    int yy = digits(comma + 9, 2);
    tm->tm_year = yy < 0 ? -1 : yy < 70 ? 100 + yy : yy; /* RFC 9110: no date 50+ years ahead */
    return tm->tm_year >= 0 && clock_of(comma + 12, tm);
}

/* "Sun Nov  6 08:49:37 1994" */
static bool asctime_form(const char *p, size_t n, struct tm *tm)
{
    if (n != 24 || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[19] != ' ')
        return false;
    tm->tm_mon = month(p + 4);
    tm->tm_mday = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
    tm->tm_year = digits(p + 20, 4) - 1900;
    return tm->tm_year >= 0 && clock_of(p + 11, tm);
}

/* Whether P starts with a day's abbreviation. */
static bool short_day(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(p, days[i], 3) == 0)
            return true;
    return false;
}

int sockit_http_date_parse(struct sockit_http_str s, time_t *t)
{
    struct tm tm = { 0 };

    if (s.len < 24 || s.len > 40 || !short_day(s.p))
        return -EINVAL;
    if (!imf_fixdate(s.p, s.len, &tm) && !rfc850(s.p, s.len, &tm) && !asctime_form(s.p, s.len, &tm))
        return -EINVAL;
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return -EINVAL;
    *t = timegm(&tm);
    return 0;
}
