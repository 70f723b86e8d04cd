/* Unit tests for core/util/error.c and core/util/log.c. */
#include "test.h"
#include "util/error.h"
#include "util/log.h"

static void test_strerror_total(void)
{
    /* Every status has its own text; out-of-range values are handled. */
    for (int c = 0; c < ORR_STATUS_LAST; c++) {
        CHECK(orr_strerror(c) != NULL);
        CHECK(strcmp(orr_strerror(c), "unknown status") != 0);
        for (int d = 0; d < c; d++)
            CHECK(strcmp(orr_strerror(c), orr_strerror(d)) != 0);
    }
    CHECK_STR(orr_strerror(-1), "unknown status");
    CHECK_STR(orr_strerror(ORR_STATUS_LAST), "unknown status");
    CHECK_INT(ORR_OK, 0);
}

static void test_fail_and_prefix(void)
{
    struct orr_error e = {0};
    CHECK_INT(orr_fail(&e, ORR_EIO, "read %s: %s", "f", "boom"), ORR_EIO);
    CHECK_INT(e.code, ORR_EIO);
    CHECK_STR(e.msg, "read f: boom");
    /* The previous message may be an argument. */
    orr_fail(&e, ORR_EIO, "step x: %s", e.msg);
    CHECK_STR(e.msg, "step x: read f: boom");
    CHECK_INT(orr_error_prefix(&e, "run %d", 7), ORR_EIO);
    CHECK_STR(e.msg, "run 7: step x: read f: boom");
    CHECK_INT(orr_fail(NULL, ORR_EINVAL, "ignored"), ORR_EINVAL);
    orr_error_clear(&e);
    CHECK_INT(e.code, ORR_OK);
    CHECK_STR(e.msg, "");
}

static void test_truncation(void)
{
    struct orr_error e = {0};
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    orr_fail(&e, ORR_EINVAL, "%s", big);
    CHECK_INT(strlen(e.msg), ORR_ERROR_MSG_SIZE - 1);
    orr_error_prefix(&e, "%s", "head");
    CHECK_INT(strlen(e.msg), ORR_ERROR_MSG_SIZE - 1);
    CHECK(!strncmp(e.msg, "head: x", 7));
}

static void test_log_levels(void)
{
    CHECK_INT(orr_log_level_from_name("debug"), ORR_LOG_DEBUG);
    CHECK_INT(orr_log_level_from_name("error"), ORR_LOG_ERROR);
    CHECK_INT(orr_log_level_from_name("loud"), -1);
    CHECK_INT(orr_log_level_from_name(NULL), -1);
    orr_log_set_level(ORR_LOG_ERROR);
    CHECK_INT(orr_log_level(), ORR_LOG_ERROR);
    orr_log(ORR_LOG_ERROR, "test", "expected line %d", 1);
}

TEST_MAIN({"strerror_total", test_strerror_total},
          {"fail_and_prefix", test_fail_and_prefix},
          {"truncation", test_truncation}, {"log_levels", test_log_levels})
