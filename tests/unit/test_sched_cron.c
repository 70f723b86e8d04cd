/*
 * test_sched_cron.c - cron expressions (core/sched/cron.c): next fire
 * times for many expressions (UTC), the day-of-month/day-of-week OR
 * rule, impossible dates, fire-time windows, bad expressions with the
 * column of the error, and the ISO time parser.
 */
#include <string.h>

#include "sched/cron.h"
#include "test.h"

/* Next fire of `expr` strictly after ISO time `after`, as ISO text. */
static const char *next_of(const char *expr, const char *after)
{
    static char buf[32];
    static struct orr_error e;
    struct orri_cron c;
    int64_t t = 0, n = 0;
    if (orri_cron_parse(&c, expr, NULL, &e))
        return e.msg;
    if (orri_iso_parse(after, &t, &e))
        return e.msg;
    if (orri_cron_next(&c, t, &n))
        return "none";
    return orri_iso_format(n, buf, sizeof buf);
}

static void test_next(void)
{
    /* 2026-11-29 is a Sunday. */
    const char *now = "2026-11-29T03:00:00Z";
    CHECK_STR(next_of("* * * * *", now), "2026-11-29T03:01:00Z");
    CHECK_STR(next_of("* * * * *", "2026-11-29T03:00:59Z"),
              "2026-11-29T03:01:00Z");
    CHECK_STR(next_of("0 3 * * *", now), "2026-11-30T03:00:00Z");
    CHECK_STR(next_of("0 3 * * *", "2026-11-29T02:59:59Z"),
              "2026-11-29T03:00:00Z");
    CHECK_STR(next_of("*/15 * * * *", "2026-11-29T03:07:30Z"),
              "2026-11-29T03:15:00Z");
    CHECK_STR(next_of("0 0 1 1 *", now), "2027-01-01T00:00:00Z");
    CHECK_STR(next_of("59 23 31 12 *", "2026-12-31T23:59:00Z"),
              "2027-12-31T23:59:00Z");
    CHECK_STR(next_of("30 4 * * MON-FRI", now), "2026-11-30T04:30:00Z");
    CHECK_STR(next_of("30 4 * * mon-fri", "2026-12-04T04:30:00Z"),
              "2026-12-07T04:30:00Z");
    CHECK_STR(next_of("0 12 * * 0", now), "2026-11-29T12:00:00Z");
    CHECK_STR(next_of("0 12 * * 7", now), "2026-11-29T12:00:00Z");
    CHECK_STR(next_of("0 12 * * SUN", "2026-11-29T12:00:00Z"),
              "2026-12-06T12:00:00Z");
    CHECK_STR(next_of("0 0 13 * *", now), "2026-12-13T00:00:00Z");
    CHECK_STR(next_of("0 0 31 * *", now), "2026-12-31T00:00:00Z");
    CHECK_STR(next_of("0 0 29 2 *", now), "2028-02-29T00:00:00Z");
    CHECK_STR(next_of("0 0 30 2 *", now), "none");
    CHECK_STR(next_of("5-10/2 * * * *", now), "2026-11-29T03:05:00Z");
    CHECK_STR(next_of("5-10/2 * * * *", "2026-11-29T03:05:00Z"),
              "2026-11-29T03:07:00Z");
    CHECK_STR(next_of("5-10/2 * * * *", "2026-11-29T03:09:00Z"),
              "2026-11-29T04:05:00Z");
    CHECK_STR(next_of("10/20 * * * *", now), "2026-11-29T03:10:00Z");
    CHECK_STR(next_of("10/20 * * * *", "2026-11-29T03:50:00Z"),
              "2026-11-29T04:10:00Z");
    CHECK_STR(next_of("0 9-17 * * 1-5", "2026-12-04T17:00:00Z"),
              "2026-12-07T09:00:00Z");
    CHECK_STR(next_of("0 0 * JAN,jul *", now), "2027-01-01T00:00:00Z");
    CHECK_STR(next_of("0 0 * 7 *", now), "2027-07-01T00:00:00Z");
    CHECK_STR(next_of("15 14 1 * *", now), "2026-12-01T14:15:00Z");
    CHECK_STR(next_of("0,30 8,20 * * *", now), "2026-11-29T08:00:00Z");
    CHECK_STR(next_of("0,30 8,20 * * *", "2026-11-29T20:30:00Z"),
              "2026-11-30T08:00:00Z");
    CHECK_STR(next_of("  0   3  *  *  *  ", now), "2026-11-30T03:00:00Z");
    /* 0,2,4,6: Sunday has passed, Tuesday is next. */
    CHECK_STR(next_of("0 0 * * */2", now), "2026-12-01T00:00:00Z");
}

static void test_dom_dow_or(void)
{
    /* Both restricted: the 13th OR any Friday (Dec 4 comes first). */
    CHECK_STR(next_of("0 0 13 * FRI", "2026-11-29T00:00:00Z"),
              "2026-12-04T00:00:00Z");
    CHECK_STR(next_of("0 0 13 * FRI", "2026-12-11T00:00:00Z"),
              "2026-12-13T00:00:00Z");
    /* One is '*': both must match, i.e. the restricted one decides. */
    CHECK_STR(next_of("0 0 * * FRI", "2026-11-29T00:00:00Z"),
              "2026-12-04T00:00:00Z");
    /* '*' with a step still counts as unrestricted (Vixie cron). */
    CHECK_STR(next_of("0 0 */1 * FRI", "2026-11-29T00:00:00Z"),
              "2026-12-04T00:00:00Z");
    /* Feb 30 never exists but Mondays do. */
    CHECK_STR(next_of("0 0 30 2 MON", "2026-11-29T00:00:00Z"),
              "2027-02-01T00:00:00Z");
}

static void check_bad(const char *expr, int want_col, const char *want)
{
    struct orri_cron c;
    struct orr_error e = {0};
    int col = -1;
    CHECK_INT(orri_cron_parse(&c, expr, &col, &e), ORR_EINVAL);
    CHECK_INT(col, want_col);
    CHECK_CONTAINS(e.msg, want);
}

static void test_bad(void)
{
    check_bad("0 25 * * *", 3, "cron: column 3: hour value 25 is out of "
              "range (0-23)");
    check_bad("60 * * * *", 1, "minute value 60 is out of range (0-59)");
    check_bad("* * 0 * *", 5, "day-of-month value 0 is out of range");
    check_bad("* * * 13 *", 7, "month value 13 is out of range (1-12)");
    check_bad("* * * * 8", 9, "day-of-week value 8 is out of range (0-7)");
    check_bad("* * * *", 8, "expected 5 fields");
    check_bad("", 1, "got 0");
    check_bad("* * * * * *", 11, "a sixth starts here");
    check_bad("*/0 * * * *", 3, "minute step 0 is out of range");
    check_bad("*/ * * * *", 3, "minute step: expected a number");
    check_bad("5-1 * * * *", 1, "minute range 5-1 is backwards");
    check_bad("* * * FOO *", 7, "unknown month name");
    check_bad("* * * * MONDAY", 9, "unknown day-of-week name");
    check_bad("MON * * * *", 1, "unexpected character in minute field");
    check_bad("* * * * MON-", 13, "day-of-week field ends early");
    check_bad("1,,2 * * * *", 3, "unexpected character in minute field");
    check_bad("1;2 * * * *", 2, "unexpected character in minute field");
    check_bad("* 1-2-3 * * *", 6, "unexpected character in hour field");
}

static void test_window(void)
{
    struct orri_cron c;
    struct orr_error e = {0};
    int64_t a = 0, b = 0, n = 0, last = 0;
    char buf[32];
    CHECK_INT(orri_cron_parse(&c, "0 3 * * *", NULL, &e), ORR_OK);
    CHECK_INT(orri_iso_parse("2026-11-26T02:00:00Z", &a, &e), ORR_OK);
    CHECK_INT(orri_iso_parse("2026-11-29T03:00:00Z", &b, &e), ORR_OK);
    orri_cron_window(&c, a, b, 1000, &n, &last);
    CHECK_INT(n, 4);
    CHECK_STR(orri_iso_format(last, buf, sizeof buf), "2026-11-29T03:00:00Z");
    orri_cron_window(&c, b, b, 1000, &n, &last);
    CHECK_INT(n, 0);
    CHECK_INT(last, 0);
    /* Past the cap the count stops but the latest time is still right. */
    CHECK_INT(orri_cron_parse(&c, "* * * * *", NULL, &e), ORR_OK);
    orri_cron_window(&c, a, b, 100, &n, &last);
    CHECK_INT(n, 100);
    CHECK_STR(orri_iso_format(last, buf, sizeof buf), "2026-11-29T03:00:00Z");
}

static void test_iso(void)
{
    struct orr_error e = {0};
    int64_t t = -1;
    char buf[32];
    CHECK_INT(orri_iso_parse("1970-01-01T00:00:00Z", &t, &e), ORR_OK);
    CHECK_INT(t, 0);
    CHECK_INT(orri_iso_parse("2026-11-29T03:00Z", &t, &e), ORR_OK);
    CHECK_INT(t, 1795921200);
    CHECK_STR(orri_iso_format(t, buf, sizeof buf), "2026-11-29T03:00:00Z");
    CHECK_INT(orri_iso_parse("2028-02-29T12:34:56", &t, &e), ORR_OK);
    CHECK_STR(orri_iso_format(t, buf, sizeof buf), "2028-02-29T12:34:56Z");
    CHECK_INT(orri_iso_parse("2026-02-30T00:00:00Z", &t, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not a UTC time");
    CHECK_INT(orri_iso_parse("2026-11-29 03:00:00", &t, &e), ORR_EINVAL);
    CHECK_INT(orri_iso_parse("2026-11-29T24:00:00Z", &t, &e), ORR_EINVAL);
    CHECK_INT(orri_iso_parse("2026-11-29T03:00:00+02", &t, &e), ORR_EINVAL);
    CHECK_INT(orri_iso_parse("tomorrow", &t, &e), ORR_EINVAL);
}

TEST_MAIN({"next", test_next}, {"dom_dow_or", test_dom_dow_or},
          {"bad", test_bad}, {"window", test_window}, {"iso", test_iso})
