/*
 * sched/cron.c - cron expression parser and next-fire computation (UTC).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sched/cron.h"
#include "util/error.h"

struct field {
    const char *what;
    int lo, hi;
    const char *const *names;   /* names[i] stands for lo + i, or NULL */
};

static const char *const month_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, dow_names},
};

struct parser {
    const char *expr;
    const char *p;
    int *col;
    struct orr_error *e;
};

static int perr(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct parser *ps, const char *at, const char *fmt, ...)
{
    char msg[160];
    int column = (int)(at - ps->expr) + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->col)
        *ps->col = column;
    return orr_fail(ps->e, ORR_EINVAL, "cron: column %d: %s", column, msg);
}

/* A number or (where the field allows) a three-letter name. */
static int value(struct parser *ps, const struct field *f, int *out)
{
    const char *start = ps->p;
    if (isdigit((unsigned char)*ps->p)) {
        long v = 0;
        while (isdigit((unsigned char)*ps->p)) {
            if (v < 1000)
                v = v * 10 + (*ps->p - '0');
            ps->p++;
        }
        if (v < f->lo || v > f->hi) {
            return perr(ps, start, "%s value %ld is out of range (%d-%d)",
                        f->what, v, f->lo, f->hi);
        }
        *out = (int)v;
        return ORR_OK;
    }
    if (f->names && isalpha((unsigned char)*ps->p)) {
        for (int i = 0; f->names[i]; i++)
            if (!strncasecmp(ps->p, f->names[i], 3) &&
                !isalpha((unsigned char)ps->p[3])) {
                ps->p += 3;
                *out = f->lo + i;
                return ORR_OK;
            }
        return perr(ps, start, "unknown %s name", f->what);
    }
    if (!*ps->p || *ps->p == ' ' || *ps->p == '\t')
        return perr(ps, start, "%s field ends early: expected a "
                    "value", f->what);
    return perr(ps, start, "unexpected character in %s field",
                f->what);
}

/* One field: comma list of items.  Sets bits lo..hi in *bits. */
static int field(struct parser *ps, const struct field *f, uint64_t *bits,
                 int *star)
{
    *bits = 0;
    *star = *ps->p == '*';
    for (;;) {
        int a, b, step = 1;
        int rc;
        const char *item = ps->p;
        if (*ps->p == '*') {
            ps->p++;
            a = f->lo;
            b = f->hi;
        } else {
            if ((rc = value(ps, f, &a)))
                return rc;
            b = a;
            if (*ps->p == '-') {
                ps->p++;
                if ((rc = value(ps, f, &b)))
                    return rc;
                if (b < a)
                    return perr(ps, item, "%s range %d-%d is backwards",
                                f->what, a, b);
            }
        }
        if (*ps->p == '/') {
            const char *s = ++ps->p;
            long v = 0;
            if (!isdigit((unsigned char)*s))
                return perr(ps, s, "%s step: expected a number",
                            f->what);
            while (isdigit((unsigned char)*ps->p)) {
                if (v < 1000)
                    v = v * 10 + (*ps->p - '0');
                ps->p++;
            }
            if (v < 1 || v > f->hi)
                return perr(ps, s, "%s step %ld is out of range",
                            f->what, v);
            step = (int)v;
            if (item[0] != '*' && b == a)
                b = f->hi;      /* N/STEP: N to the maximum */
        }
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (*ps->p != ',')
            break;
        ps->p++;
    }
    if (*ps->p && *ps->p != ' ' && *ps->p != '\t')
        return perr(ps, ps->p, "unexpected character in %s field",
                    f->what);
    return ORR_OK;
}

int orri_cron_parse(struct orri_cron *c, const char *expr, int *col,
                    struct orr_error *e)
{
    struct parser ps = {expr, expr, col, e};
    uint64_t bits[5];
    int stars[5];
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 5; i++) {
        while (*ps.p == ' ' || *ps.p == '\t')
            ps.p++;
        if (!*ps.p)
            return perr(&ps, ps.p, "expected 5 fields (minute hour "
                        "day-of-month month day-of-week), got %d", i);
        int rc = field(&ps, &fields[i], &bits[i], &stars[i]);
        if (rc)
            return rc;
    }
    while (*ps.p == ' ' || *ps.p == '\t')
        ps.p++;
    if (*ps.p)
        return perr(&ps, ps.p, "expected 5 fields, a sixth starts "
                    "here");
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint32_t)bits[3];
    c->dow = (uint32_t)(bits[4] & 0x7f);
    if (bits[4] & 0x80)
        c->dow |= 1;            /* 7 is Sunday too */
    c->dom_star = stars[2];
    c->dow_star = stars[4];
    return ORR_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (H. Hinnant's algorithms; timegm() is not in C17 or POSIX). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int day_matches(const struct orri_cron *c, int d, int wd)
{
    int dm = (c->dom >> d) & 1, wm = (c->dow >> wd) & 1;
    if (!c->dom_star && !c->dow_star)
        return dm || wm;
    return dm && wm;
}

int orri_cron_next(const struct orri_cron *c, int64_t after, int64_t *next)
{
    int64_t t = (floor_div(after, 60) + 1) * 60;
    int64_t y0 = 0;
    int m, d;
    civil_from_days(floor_div(t, 86400), &y0, &m, &d);
    for (;;) {
        int64_t days = floor_div(t, 86400), y;
        int64_t sod = t - days * 86400;
        civil_from_days(days, &y, &m, &d);
        if (y > y0 + 8)
            return ORR_ENOTFOUND;
        int wd = (int)((days % 7 + 11) % 7);    /* 1970-01-01: Thursday */
        int h = (int)(sod / 3600), mi = (int)(sod % 3600 / 60);
        if (!((c->month >> m) & 1)) {
            if (m == 12)
                t = days_from_civil(y + 1, 1, 1) * 86400;
            else
                t = days_from_civil(y, m + 1, 1) * 86400;
        } else if (!day_matches(c, d, wd)) {
            t = (days + 1) * 86400;
        } else if (!((c->hour >> h) & 1)) {
            t = days * 86400 + (h + 1) * 3600;
        } else if (!((c->minute >> mi) & 1)) {
            t += 60;
        } else {
            *next = t;
            return ORR_OK;
        }
    }
}

void orri_cron_window(const struct orri_cron *c, int64_t after,
                      int64_t until, int64_t cap, int64_t *count,
                      int64_t *last)
{
    *count = 0;
    *last = 0;
    /* Past the cap only counting stops: the latest fire time is what the
     * scheduler records, so walk on (a few million steps at worst). */
    int64_t t = after, n;
    while (!orri_cron_next(c, t, &n) && n <= until) {
        if (*count < cap)
            ++*count;
        *last = t = n;
    }
}

int orri_iso_parse(const char *s, int64_t *out, struct orr_error *e)
{
    int y, mo, d, h, mi, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) != 5 ||
        n != 16)
        goto bad;
    if (s[n] == ':') {
        int n2 = 0;
        if (sscanf(s + n + 1, "%2d%n", &sec, &n2) != 1 || n2 != 2)
            goto bad;
        n += 3;
    }
    if (s[n] == 'Z')
        n++;
    if (s[n] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59 || y < 1970 || h < 0 || mi < 0 || sec < 0)
        goto bad;
    int64_t days = days_from_civil(y, mo, d);
    int64_t cy;
    int cm, cd;
    civil_from_days(days, &cy, &cm, &cd);
    if (cm != mo || cd != d)
        goto bad;               /* 2026-02-30 */
    *out = days * 86400 + h * 3600 + mi * 60 + sec;
    return ORR_OK;
bad:
    return orr_fail(e, ORR_EINVAL, "'%s' is not a UTC time "
                    "YYYY-MM-DDTHH:MM[:SS]Z", s);
}

const char *orri_iso_format(int64_t t, char *buf, size_t cap)
{
    int64_t days = floor_div(t, 86400), y;
    int64_t sod = t - days * 86400;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m,
             d, (int)(sod / 3600), (int)(sod % 3600 / 60), (int)(sod % 60));
    return buf;
}
