/* Unit tests for core/util/clock.c. */
#include <time.h>

#include "test.h"

#include "util/clock.h"

static void test_wall_ms(void)
{
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = orri_now_ms();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    CHECK(now >= before && now < after);
}

TEST_MAIN({"wall_ms", test_wall_ms})
