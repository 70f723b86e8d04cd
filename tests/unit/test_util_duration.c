/* Unit tests for core/util/duration.c. */
#include "test.h"

#include "util/duration.h"

static void test_units(void)
{
    CHECK(orri_duration_ms("0") == 0);
    CHECK(orri_duration_ms("90") == 90000);
    CHECK(orri_duration_ms("90s") == 90000);
    CHECK(orri_duration_ms("30m") == 1800000);
    CHECK(orri_duration_ms("12h") == 43200000);
    CHECK(orri_duration_ms("7d") == 604800000);
    CHECK(orri_duration_ms("36500d") == 36500LL * 86400000);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        NULL, "", "d", "-1s", "+5m", "1x", "1hh", "1.5h", " 1h", "1h ",
        "36501d", "99999999999999999999", "h1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(orri_duration_ms(bad[i]) == -1);
}

TEST_MAIN({"units", test_units}, {"malformed", test_malformed})
