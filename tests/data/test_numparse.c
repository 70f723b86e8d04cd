/* orri_parse_number and orri_scan_number (the fast path's in-place
 * reader) against strtod: bit-identical values on
 * millions of random numbers in the spellings CSV writers use (%.17g,
 * %.9g, %.6e, fixed, integers, random digit strings with random points
 * and exponents), on the range of Lemire's algorithm (16-19 digits,
 * exponents within +-70, exact ties) and on the edge cases (2^53 +- 1,
 * 1e22/1e23, subnormals, overflow, underflow, -0); and refusal of
 * everything that is not a plain decimal number.  The scanner's SWAR
 * path (up to 8 digits, a point, 1-7 digits) on every shape around it
 * (0-10 digits each side, signs, exponents after it), against the
 * general parser and strtod, in buffers that end exactly where its
 * contract lets it read (8 bytes past the point), so that AddressSanitizer
 * sees any read beyond. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/numparse.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* orri_scan_number on s as a CSV field: s then `stop`, then bytes that
 * look like more digits (which it must not take); returns where it
 * stopped relative to s (-1 for NULL). */
static long scan(const char *s, char stop, double *out)
{
    char buf[160];
    size_t n = strlen(s);
    if (n + 32 > sizeof buf)
        return -2;
    memcpy(buf, s, n);
    buf[n] = stop;
    memset(buf + n + 1, '7', 16);
    buf[n + 17] = '\0';
    const char *q = orri_scan_number(buf, out);
    return q ? (long)(q - buf) : -1;
}

static int same(const char *s)
{
    double a = 0, b = strtod(s, NULL), c = 0;
    if (!orri_parse_number(s, strlen(s), &a)) {
        fprintf(stderr, "refused: '%s'\n", s);
        return 0;
    }
    if (memcmp(&a, &b, sizeof a)) {
        fprintf(stderr, "'%s': %.17g, strtod %.17g\n", s, a, b);
        return 0;
    }
    static const char stops[] = {',', '\n', '\r', '\0'};
    for (size_t i = 0; i < sizeof stops; i++) {
        long at = scan(s, stops[i], &c);
        if (at != (long)strlen(s) || memcmp(&c, &b, sizeof c)) {
            fprintf(stderr, "scan '%s': stopped at %ld, %.17g, strtod "
                    "%.17g\n", s, at, c, b);
            return 0;
        }
    }
    return 1;
}

static void test_edges(void)
{
    static const char *const ok[] = {
        "0", "-0", "+0", "0.0", "-0.0", "00012", "1", "-1", ".5", "5.",
        "-.5e-3", "9007199254740991", "9007199254740992",
        "9007199254740993", "18014398509481985", "1e22", "1e23", "1e-22",
        "1e-23", "123456789012345678901234567890", "0.1", "0.3",
        "2.2250738585072014e-308", "2.2250738585072011e-308",
        "4.9e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "1e309",
        "-1e309", "1e-400", "1E5", "1e+5", "1e-5", "3.14159265358979323846",
        "0.000000000000000000000000000001", "12345678901234567890",
        "1234567890123456789", "99999999999999999999e-20",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "7.2057594037927933e16", "1e100000", "1e-100000",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        CHECK(same(ok[i]));
    static const char *const bad[] = {
        "", "+", "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "inf",
        "-inf", "nan", "NaN", " 1", "1 ", "1,5", "--1", "+-1", "1e5.0",
        "1d5", "\xd9\xa1",
    };
    double v;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int r = orri_parse_number(bad[i], strlen(bad[i]), &v);
        if (r)
            fprintf(stderr, "accepted: '%s'\n", bad[i]);
        CHECK(!r);
        /* the scanner never takes the whole field either */
        long at = scan(bad[i], ',', &v);
        if (at == (long)strlen(bad[i]))
            fprintf(stderr, "scan accepted: '%s'\n", bad[i]);
        CHECK(at != (long)strlen(bad[i]));
    }
    /* len bounds the text: "12" of "123" */
    CHECK(orri_parse_number("123", 2, &v) == 1 && v == 12);
    /* the scanner stops at the first byte past the number */
    CHECK(orri_scan_number("12345678901,x       ", &v) != NULL && v ==
          12345678901.0);
    CHECK(scan("1e5", 'x', &v) == 3 && v == 1e5);
    CHECK(scan("1e", ',', &v) == -1);
    CHECK(scan("-", ',', &v) == -1);
}

/* orri_scan_number on s then `stop` in a heap block that ends where the
 * reader may stop reading: after the stop, or 8 bytes past the point
 * (filled with digits it must not take). */
static long scan_tight(const char *s, char stop, double *out)
{
    size_t n = strlen(s), need = n + 1;
    const char *dot = strchr(s, '.');
    if (dot && (size_t)(dot - s) + 9 > need)
        need = (size_t)(dot - s) + 9;
    char *buf = malloc(need);
    if (!buf)
        return -2;
    memset(buf, '9', need);
    memcpy(buf, s, n);
    buf[n] = stop;
    const char *q = orri_scan_number(buf, out);
    long at = q ? (long)(q - buf) : -1;
    free(buf);
    return at;
}

static void test_swar(void)
{
    static const char *const signs[] = {"", "-", "+"};
    static const char *const exps[] = {"", "e5", "E-3", "e+0", "e-300"};
    static const char stops[] = {',', '\n', '\r', '\0', 'x'};
    char buf[64];
    long bad = 0, n = 0;
    for (int i = 0; i <= 10; i++)
        for (int k = -1; k <= 10; k++)          /* -1: no point */
            for (int sg = 0; sg < 3; sg++)
                for (int ex = 0; ex < 5; ex++)
                    for (int t = 0; t < 20; t++) {
                        int o = snprintf(buf, sizeof buf, "%s", signs[sg]);
                        for (int d = 0; d < i; d++)
                            buf[o++] = (char)('0' + next() % 10);
                        if (k >= 0)
                            buf[o++] = '.';
                        for (int d = 0; d < k; d++)
                            buf[o++] = (char)('0' + next() % 10);
                        snprintf(buf + o, sizeof buf - (size_t)o, "%s",
                                 exps[ex]);
                        if (!i && k <= 0)
                            continue;           /* no digit: not a number */
                        n++;
                        if (!same(buf)) {
                            bad++;
                            continue;
                        }
                        double want = strtod(buf, NULL), got = 0;
                        for (size_t s = 0; s < sizeof stops; s++) {
                            long at = scan_tight(buf, stops[s], &got);
                            if (at != (long)strlen(buf) ||
                                memcmp(&got, &want, sizeof got)) {
                                fprintf(stderr, "tight '%s' + %d: %ld\n",
                                        buf, stops[s], at);
                                bad++;
                                break;
                            }
                        }
                    }
    /* an exponent without digits after each fraction length */
    for (int k = 1; k <= 8; k++) {
        snprintf(buf, sizeof buf, "1.%.*se", k, "12345678");
        double v;
        n++;
        bad += scan_tight(buf, ',', &v) != -1;
    }
    printf("  %ld shapes, %ld wrong\n", n, bad);
    CHECK(bad == 0);
}

static void test_random(void)
{
    char buf[64];
    long bad = 0, n = 0;
    for (int i = 0; i < 1000000; i++) {
        /* a random finite double: random bits, or a random magnitude */
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d) || (i & 1))
            d = (double)(int64_t)next() / (double)(1ull << (next() & 63));
        switch (i % 8) {
        case 0: snprintf(buf, sizeof buf, "%.17g", d); break;
        case 1: snprintf(buf, sizeof buf, "%.9g", d); break;
        case 2: snprintf(buf, sizeof buf, "%.15g", d); break;
        case 3: snprintf(buf, sizeof buf, "%.6e", d); break;
        case 4: snprintf(buf, sizeof buf, "%.3f", d); break;
        case 5: snprintf(buf, sizeof buf, "%.12f", d); break;
        case 6: snprintf(buf, sizeof buf, "%.0f", d); break;
        default: snprintf(buf, sizeof buf, "%g", d); break;
        }
        bad += !same(buf);
        n++;
    }
    for (int i = 0; i < 1000000; i++) {
        /* random digit strings: 1-25 digits, a point, an exponent */
        int nd = 1 + (int)(next() % 25), o = 0;
        uint64_t r = next();
        if (r & 1)
            buf[o++] = '-';
        int point = (r >> 1) & 1 ? (int)(next() % (unsigned)(nd + 1)) : -1;
        for (int k = 0; k < nd; k++) {
            if (k == point)
                buf[o++] = '.';
            buf[o++] = (char)('0' + next() % 10);
        }
        if ((r >> 2) & 1)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "e%d",
                          (int)(next() % 700) - 350);
        buf[o] = '\0';
        bad += !same(buf);
        n++;
    }
    printf("  %ld random numbers, %ld differ from strtod\n", n, bad);
    CHECK(bad == 0);
}

/* The range of Lemire's algorithm: 16 to 19 significant digits with
 * exponents within +-70 (its table's +-64 and just beyond), and integers
 * exactly halfway between two doubles (ties to even). */
static void test_lemire(void)
{
    char buf[64];
    long bad = 0, n = 0;
    for (int i = 0; i < 1000000; i++) {
        uint64_t r = next();
        int digits = 16 + (int)(r % 4);
        uint64_t m = next() % 10000000000000000000ull;
        int ex = (int)((r >> 8) % 141) - 70;
        switch ((r >> 16) % 3) {
        case 0:
            snprintf(buf, sizeof buf, "%.*llue%d", digits,
                     (unsigned long long)m, ex);
            break;
        case 1: {
            double d = (double)m * pow(10, ex - 19);
            snprintf(buf, sizeof buf, "%.*g", digits, d);
            break;
        }
        default: {
            /* a tie: halfway between two doubles in [2^53, 2^63) */
            int e2 = 53 + (int)(r % 10);
            uint64_t base = ((uint64_t)1 << e2) | (next() &
                            (((uint64_t)1 << e2) - 1));
            uint64_t ulp = (uint64_t)1 << (e2 - 52);
            base &= ~(ulp - 1);
            snprintf(buf, sizeof buf, "%llu",
                     (unsigned long long)(base + ulp / 2));
            break;
        }
        }
        bad += !same(buf);
        n++;
    }
    printf("  %ld values of 16-19 digits, %ld differ from strtod\n", n, bad);
    CHECK(bad == 0);
}

/* The CSV loader's AVX-512 row loop divides without the divider: for a
 * mantissa m < 10^8 (8 digits) and k <= 7 fraction digits, q = m *
 * RN(10^-k), then q + (m - q * 10^k) * RN(10^-k) with both steps fused
 * (FMA), must be m / 10^k correctly rounded.  Checked here on every m
 * below 2,000,000 and a million random m below 10^8 for each k (and
 * exhaustively, all 7 x 10^8 cases, when the loop was written: no
 * difference).  The loop's lanes themselves are checked against libcsv
 * on numeric files of every shape (test_csv_fast). */
static void test_reciprocal(void)
{
    static const double p10[8] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
    static const double inv[8] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6,
                                  1e-7};
    long bad = 0, n = 0;
    for (int k = 1; k < 8; k++)
        for (long i = 0; i < 3000000; i++) {
            uint64_t m = i < 2000000 ? (uint64_t)i : next() % 100000000u;
            double a = (double)m;
            volatile double q = a * inv[k];         /* rounded, not fused */
            double r = fma(-q, p10[k], a);
            double got = fma(r, inv[k], q), want = a / p10[k];
            bad += memcmp(&got, &want, sizeof got) != 0;
            n++;
        }
    printf("  %ld quotients, %ld differ from the division\n", n, bad);
    CHECK(bad == 0);
}

TEST_MAIN({"edges", test_edges}, {"swar", test_swar},
          {"random", test_random},
          {"lemire", test_lemire}, {"reciprocal", test_reciprocal})
