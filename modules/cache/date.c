/*
 * HTTP-date parsing (RFC 9110 5.6.7), strict: the three forms a recipient must accept, each to the
 * character (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT",
 * asctime "Sun Nov  6 08:49:37 1994"); anything else, such as a two-digit year in the first form,
 * doubled spaces or a one-digit hour, is invalid (-1), which for Expires means already expired.
 * Pure; any thread.
 */
#include <string.h>
#include <time.h>
#include "modules/cache/policy.h"

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_day_names[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* n decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i != n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int month_at(const char *s)
{
    for (int i = 0; i != 12; ++i)
        if (memcmp(months + 3 * i, s, 3) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS" at s into tm; -1 if malformed. */
static int time_of_day(const char *s, struct tm *tm)
{
    if (s[2] != ':' || s[5] != ':')
        return -1;
    tm->tm_hour = digits(s, 2);
    tm->tm_min = digits(s + 3, 2);
    tm->tm_sec = digits(s + 6, 2);
    return tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 60 ? -1 : 0;
}

/* Returns the length of the day name that starts s (short or long form), or 0. */
static size_t day_name(const char *s, size_t len, int long_form)
{
    for (int i = 0; i != 7; ++i) {
        const char *name = long_form ? long_day_names[i] : day_names[i];
        size_t n = strlen(name);
        if (len > n && memcmp(s, name, n) == 0)
            return n;
    }
    return 0;
}

static int imf_fixdate(const char *s, size_t len, struct tm *tm)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (len != 29 || day_name(s, len, 0) != 3 || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    tm->tm_mday = digits(s + 5, 2);
    tm->tm_mon = month_at(s + 8);
    tm->tm_year = digits(s + 12, 4);
    return time_of_day(s + 17, tm);
}

static int rfc850_date(const char *s, size_t len, struct tm *tm)
{
    /* "Sunday, 06-Nov-94 08:49:37 GMT" */
    size_t n = day_name(s, len, 1);
    if (n == 0 || len != n + 24 || memcmp(s + n, ", ", 2) != 0)
        return -1;
    s += n + 2;
    if (s[2] != '-' || s[6] != '-' || s[9] != ' ' || memcmp(s + 18, " GMT", 4) != 0)
        return -1;
    tm->tm_mday = digits(s, 2);
    tm->tm_mon = month_at(s + 3);
    int year = digits(s + 7, 2);
    tm->tm_year = year < 0 ? -1 : year + (year < 70 ? 2000 : 1900); /* RFC 9110: a year 50 years on or more is in the past */
    return time_of_day(s + 10, tm);
}

static int asctime_date(const char *s, size_t len, struct tm *tm)
{
    /* "Sun Nov  6 08:49:37 1994" */
    if (len != 24 || day_name(s, len, 0) != 3 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
        return -1;
    tm->tm_mon = month_at(s + 4);
    tm->tm_mday = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    tm->tm_year = digits(s + 20, 4);
    return time_of_day(s + 11, tm);
}

time_t ae_http_date_parse(const char *s, size_t len)
{
    struct tm tm = {0};
    if (imf_fixdate(s, len, &tm) != 0 && rfc850_date(s, len, &tm) != 0 && asctime_date(s, len, &tm) != 0)
        return -1;
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_year < 0)
        return -1;
    tm.tm_year -= 1900;
    return timegm(&tm);
}
