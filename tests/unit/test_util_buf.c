/* Unit tests for core/util/buf.c. */
#include <stdlib.h>

#include "test.h"
#include <orrery/status.h>

#include "util/buf.h"

static void test_append_printf(void)
{
    struct orr_buf b = ORR_BUF_INIT;
    CHECK_INT(orri_buf_puts(&b, "abc"), ORR_OK);
    CHECK_INT(orri_buf_printf(&b, "-%d-%s", 42, "x"), ORR_OK);
    CHECK_STR(b.data, "abc-42-x");
    CHECK_INT(b.len, 8);
    orri_buf_reset(&b);
    CHECK_STR(b.data, "");
    /* Growth across many reallocations keeps every byte. */
    for (int i = 0; i < 10000; i++)
        CHECK_INT(orri_buf_printf(&b, "%d,", i % 10), ORR_OK);
    CHECK_INT(b.len, 20000);
    CHECK(b.data[19998] == '9' && b.data[20000] == '\0');
    orri_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

static void test_binary_and_take(void)
{
    struct orr_buf b = ORR_BUF_INIT;
    char *empty = orri_buf_take(&b);
    CHECK_STR(empty, "");
    free(empty);
    CHECK_INT(orri_buf_append(&b, "a\0b", 3), ORR_OK);
    CHECK_INT(b.len, 3);
    CHECK(b.data[1] == '\0' && b.data[2] == 'b');
    char *s = orri_buf_take(&b);
    CHECK(s != NULL && b.data == NULL && b.len == 0);
    free(s);
}

TEST_MAIN({"append_printf", test_append_printf},
          {"binary_and_take", test_binary_and_take})
