/* Unit tests for core/util/path.c. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/path.h"

static void test_join(void)
{
    char out[64];
    struct orr_error e = {0};
    CHECK_INT(orri_path_join(out, sizeof out, "a", "b", &e), ORR_OK);
    CHECK_STR(out, "a/b");
    CHECK_INT(orri_path_join(out, sizeof out, "a/", "b", &e), ORR_OK);
    CHECK_STR(out, "a/b");
    CHECK_INT(orri_path_join(out, sizeof out, "a", "/abs", &e), ORR_OK);
    CHECK_STR(out, "/abs");
    CHECK_INT(orri_path_join(out, sizeof out, NULL, "b", &e), ORR_OK);
    CHECK_STR(out, "b");
    /* Never truncates silently. */
    char small[4];
    CHECK_INT(orri_path_join(small, sizeof small, "abc", "def", &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "path too long");
}

static void test_dirname(void)
{
    char out[64];
    CHECK_INT(orri_path_dirname(out, sizeof out, "a/b/c.lua", NULL), 0);
    CHECK_STR(out, "a/b");
    CHECK_INT(orri_path_dirname(out, sizeof out, "c.lua", NULL), 0);
    CHECK_STR(out, ".");
    CHECK_INT(orri_path_dirname(out, sizeof out, "/c.lua", NULL), 0);
    CHECK_STR(out, "/");
    CHECK_INT(orri_path_dirname(out, sizeof out, "a//b", NULL), 0);
    CHECK_STR(out, "a");
}

static void test_absolute(void)
{
    char out[4096];
    CHECK_INT(orri_path_absolute(out, sizeof out, "/a/./b/../c//d/", NULL),
              0);
    CHECK_STR(out, "/a/c/d");
    CHECK_INT(orri_path_absolute(out, sizeof out, "/../..", NULL), 0);
    CHECK_STR(out, "/");
    char cwd[4096], want[4200];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(want, sizeof want, "%s/x", strcmp(cwd, "/") ? cwd : "");
    CHECK_INT(orri_path_absolute(out, sizeof out, "./x/y/..", NULL), 0);
    CHECK_STR(out, want);
}

static void test_safe_relative(void)
{
    CHECK(orri_path_is_safe_relative("a"));
    CHECK(orri_path_is_safe_relative("a/b.c"));
    CHECK(orri_path_is_safe_relative("a..b/c"));
    CHECK(!orri_path_is_safe_relative(""));
    CHECK(!orri_path_is_safe_relative(NULL));
    CHECK(!orri_path_is_safe_relative("/etc/passwd"));
    CHECK(!orri_path_is_safe_relative(".."));
    CHECK(!orri_path_is_safe_relative("a/../../b"));
    CHECK(!orri_path_is_safe_relative("a/.."));
    CHECK(!orri_path_is_safe_relative("./a"));
    CHECK(!orri_path_is_safe_relative("a//b"));
    CHECK(!orri_path_is_safe_relative("a/"));
    CHECK(!orri_path_is_safe_relative("a\nb"));
}

static void test_mkdir_p(void)
{
    char tmpl[] = "/tmp/orr-path-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char deep[256], file[256];
    snprintf(deep, sizeof deep, "%s/x/y/z", tmpl);
    struct orr_error e = {0};
    CHECK_INT(orri_mkdir_p(deep, &e), ORR_OK);
    CHECK_INT(orri_mkdir_p(deep, &e), ORR_OK);      /* idempotent */
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    /* A file in the way is an error that names it. */
    snprintf(file, sizeof file, "%s/f", tmpl);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(orri_path_is_file(file));
    CHECK(!orri_path_is_file(deep));
    char under[300];
    snprintf(under, sizeof under, "%s/g", file);
    CHECK(orri_mkdir_p(under, &e) != ORR_OK);
    CHECK_CONTAINS(e.msg, file);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    CHECK(system(cmd) == 0);
}

TEST_MAIN({"join", test_join}, {"dirname", test_dirname},
          {"absolute", test_absolute}, {"safe_relative", test_safe_relative},
          {"mkdir_p", test_mkdir_p})
