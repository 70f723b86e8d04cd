/*
 * tests/test.h - a minimal test harness for the C tests.
 *
 *     static void test_join(void) { CHECK_STR(out, "a/b"); }
 *     TEST_MAIN({"join", test_join}, {"dirname", test_dirname})
 *
 * Each CHECK that fails prints file:line and the values, marks the test
 * failed and continues.  The program prints one line per test and a final
 * "N passed, N failed" line, and exits non-zero if anything failed.
 * `prog NAME` runs only the test NAME.
 */
#ifndef ORR_TESTS_TEST_H
#define ORR_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

#define CHECK_INT(a, b)                                                      \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                      \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",      \
                    __FILE__, __LINE__, #a, a_, #b, b_);                     \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                  \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",        \
                    __FILE__, __LINE__, #a, a_ ? a_ : "(null)",              \
                    b_ ? b_ : "(null)");                                     \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

/* `hay` contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                          \
    do {                                                                     \
        const char *h_ = (hay), *n_ = (needle);                              \
        if (!h_ || !strstr(h_, n_)) {                                        \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",       \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_);             \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double a_ = (a), b_ = (b);                                           \
        if (!(fabs(a_ - b_) <= (tol))) {                                     \
            fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g\n",          \
                    __FILE__, __LINE__, #a, a_, b_);                         \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

struct test_case_ {
    const char *name;
    void (*fn)(void);
};

#define TEST_MAIN(...)                                                       \
    int main(int argc, char **argv)                                          \
    {                                                                        \
        static const struct test_case_ tests_[] = {__VA_ARGS__};             \
        int passed = 0, failed = 0;                                          \
        for (size_t i = 0; i < sizeof tests_ / sizeof *tests_; i++) {        \
            if (argc > 1 && strcmp(argv[1], tests_[i].name))                \
                continue;                                                    \
            test_failed_ = 0;                                                \
            tests_[i].fn();                                                  \
            printf("%s %s\n", test_failed_ ? "FAIL" : "ok  ",                \
                   tests_[i].name);                                          \
            if (test_failed_)                                                \
                failed++;                                                    \
            else                                                             \
                passed++;                                                    \
        }                                                                    \
        printf("%d passed, %d failed\n", passed, failed);                    \
        return failed || !passed ? 1 : 0;                                    \
    }

#endif
