/*
 * tests/serve/sbuf_num.c - the server's number and integer formatting
 * (plugins/server-http/sbuf.c) against printf: sbuf_json_num must print
 * exactly what the shortest of %.15g..%.17g that reads back prints, for
 * random bit patterns, decimals, integers, powers and halfway values;
 * sbuf_uint exactly what %llu prints.
 */
#include <float.h>
#include <stdint.h>

#include "sbuf.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

/* The reference: the server's formatting before it avoided printf. */
static void ref_num(double v, char *tmp, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(tmp, cap, "null");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, cap, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
}

static long n_checked, n_bad;

static void one(double v)
{
    char want[64];
    struct sbuf b = {0};
    ref_num(v, want, sizeof want);
    sbuf_json_num(&b, v);
    n_checked++;
    if (!b.p || strcmp(b.p, want)) {
        if (n_bad++ < 20)
            fprintf(stderr, "%a: got '%s', printf '%s'\n", v,
                    b.p ? b.p : "(null)", want);
        test_failed_ = 1;
    }
    sbuf_free(&b);
}

static void test_random_bits(void)
{
    for (int i = 0; i < 400000; i++) {
        uint64_t u = rnd64();
        double v;
        /* Exponents around the printf-free range (1e-6..1e15) and some
         * anywhere. */
        if (i % 4) {
            uint64_t e = 1023 - 24 + rnd64() % 78;
            u = (u & 0x800fffffffffffffull) | (e << 52);
        }
        memcpy(&v, &u, sizeof v);
        one(v);
    }
}

static void test_decimals(void)
{
    for (int i = 0; i < 300000; i++) {
        uint64_t d = rnd64() % 10000000000000000ull;
        int k = (int)(rnd64() % 40) - 25;
        double v = (double)d * pow(10.0, k);
        one(v);
        one(-v);
        one((double)(d % 100000) / 1000.0);
        one(1.0 / (double)(d % 1000 + 1));
    }
}

static void test_edges(void)
{
    static const double some[] = {
        0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1e-6, 1e-7, 9.999999e-7,
        1e15, 999999999999999.4, 999999999999999.5, 999999999999999.9,
        1e14, 123456789012345.5, 12345678901234.25, 0.000123, 1e-5,
        2.5, 0.125, 9007199254740993.0, 9007199254740991.0, 1e22, 1e23,
        5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 100.0,
        99999.99999999999, 0.9999999999999999, 0.99999999999999994,
        4.35, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, 1e-4, 9.9999999999999991e-5,
    };
    for (size_t i = 0; i < sizeof some / sizeof *some; i++) {
        one(some[i]);
        one(-some[i]);
        one(nextafter(some[i], 0.0));
        one(nextafter(some[i], 1e300));
    }
    for (int e = -30; e <= 30; e++) {
        double p = pow(10.0, e);
        for (int j = -3; j <= 3; j++) {
            double v = p;
            for (int s = 0; s < (j < 0 ? -j : j); s++)
                v = nextafter(v, j < 0 ? 0.0 : 1e300);
            one(v);
        }
        for (int k = 1; k < 20; k++)
            one(ldexp(1.0, e * 2) * k + 0.5);
    }
    /* x.5 and x.25 with 15-17 significant digits: exact ties. */
    for (int i = 0; i < 20000; i++) {
        double base = (double)(rnd64() % 1000000000000000ull);
        one(base + 0.5);
        one(base / 16.0 + 0.25);
        one(base / 1024.0);
    }
    one(NAN);
    one(INFINITY);
    printf("%ld values formatted\n", n_checked);
}

static void test_uint(void)
{
    unsigned long long v[] = {0, 1, 9, 10, 99, 100, 4294967295ull,
                              18446744073709551615ull, 1234567890123ull};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char want[32];
        struct sbuf b = {0};
        snprintf(want, sizeof want, "%llu", v[i]);
        sbuf_uint(&b, v[i]);
        CHECK_STR(b.p, want);
        sbuf_free(&b);
    }
}

TEST_MAIN({"random_bits", test_random_bits}, {"decimals", test_decimals},
          {"edges", test_edges}, {"uint", test_uint})
