/*
 * data/numparse.h - the CSV loader's number reader.
 *
 * orri_parse_number accepts a plain decimal number
 * ([+-]digits[.digits][(e|E)[+-]digits], at least one digit) and nothing
 * else (no spaces, hex, inf or nan spellings).  Its value is always the
 * one strtod gives, bit for bit: mantissas of up to 2^53 with a decimal
 * exponent within +-22 are converted by Clinger's fast path (both
 * operands of the one multiplication or division are exact doubles, so
 * the result is the correctly rounded value), other mantissas of up to 19
 * digits with a decimal exponent within +-64 by Lemire's algorithm (a
 * 64 x 128-bit product with a power of 5; it gives up on the rare
 * products it cannot round, on subnormals and on overflow), anything
 * else by strtod.
 *
 * orri_scan_number is the same grammar and the same values for the CSV
 * loader's quote-free fast path, which parses fields in place (no copy,
 * no strlen): it returns where the number stops, so the caller checks
 * that a delimiter follows.  Its first try is the shape CSV writers use
 * most ("%.6f": up to 8 digits, a point, 1 to 7 digits): the fraction's
 * digits are read 8 bytes at a time (SWAR), so it reads up to 8 bytes
 * past a point, which must be readable (the loader's buffers keep 16
 * bytes of padding past the text).
 *
 * tests/data/test_numparse.c checks both on millions of random values and
 * the edge cases.
 */
#ifndef ORR_DATA_NUMPARSE_H
#define ORR_DATA_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Parse s[0..len) (s[len] must be readable and NUL, as strtod may run
 * past len otherwise).  Returns 1 and sets *out for a number, 0 if the
 * text is not a plain decimal number. */
int orri_parse_number(const char *s, size_t len, double *out);

/* The cases of orri_scan_number beyond Clinger's (a mantissa above 2^53
 * or an exponent beyond +-22): m * 10^e10 (m exact when nd <= 19) by
 * Lemire's algorithm, else by strtod from s, which must stop exactly at
 * `end` (else *ok is set to 0).  The value is returned, not stored, so
 * the fast path's keeps to registers. */
double orri_scan_number_slow(const char *s, const char *end, uint64_t m,
                             size_t nd, long e10, int *ok);

/* The SWAR path reads digits as a little-endian word (and counts them
 * with a GCC builtin); elsewhere the plain loop reads them. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ORRI_NUM_SWAR 1
#else
#define ORRI_NUM_SWAR 0
#endif

extern const double orri_p10[23];
/* 10^k, and its negation: a quotient's sign is the divisor's, exactly
 * (rounding to nearest is symmetric, and 0 / -10^k is -0). */
extern const double orri_sp10[2][8];

/* Digits from p into *m (exact while *nd, the count of digits read into
 * it, stays at most 19; beyond, *m wraps and is not used); returns the
 * first non-digit.  A plain loop: its branches are predicted on the
 * regular widths CSV writers produce, so the end of the number is known
 * early.  (Eight digits per 64-bit load, SWAR, measured slower here:
 * 10.4 against 7.0 ns per number on "%.6f" values, as its digit-run
 * count sits on that critical path.) */
static inline const char *orri_scan_digits(const char *p, uint64_t *m,
                                           size_t *nd)
{
    uint64_t v = *m;
    const char *b = p;
    unsigned c;
    while ((c = (unsigned)(unsigned char)*p - '0') < 10) {
        v = v * 10 + c;
        p++;
    }
    *m = v;
    *nd += (size_t)(p - b);
    return p;
}

/* The value of 8 digits in a little-endian word (the first digit in the
 * low byte), each byte already less '0': pairs, then fours, then all. */
static inline uint64_t orri_swar8(uint64_t x)
{
    x = x * 10 + (x >> 8);
    return (((x & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((x >> 16) & 0x000000FF000000FFull) *
             (1 + (10000ull << 32)))) >> 32;
}

/* A number ending in k fraction digits at f: m (the digits before the
 * point) extended by them, its value, and its end; NULL if an exponent
 * follows (the general path reads those).  x holds the 8 bytes at f
 * less '0'; shifting out all but the first k leaves them at the top,
 * where orri_swar8 reads the last as the units. */
static inline const char *orri_frac_k(const char *f, uint64_t m, uint64_t x,
                                      unsigned k, int neg, double *out)
{
    static const uint64_t p10[8] = {1, 10, 100, 1000, 10000, 100000,
                                    1000000, 10000000};
    if ((f[k] | 0x20) == 'e')
        return NULL;
    m = m * p10[k] + orri_swar8(x << (8 * (8 - k)));
    /* m < 10^15 < 2^53 and k <= 7: Clinger's exact case */
    *out = (double)m / orri_sp10[neg][k];
    return f + k;
}

/* After 1 to 8 digits (their value m) and the point at p, the fraction
 * by SWAR: its end, or NULL for the general path (no digit, 8 or more,
 * an exponent).  The fraction's length picks a case, each ending the
 * number at a constant offset: predicted, that branch lets the next
 * field's parse start before this one's digits are counted (a computed
 * end would chain each field to the last; measured: 6.9 against 8.9 ns
 * a "%.6f" value, plain loop). */
static inline const char *orri_scan_frac(const char *p, uint64_t m, int neg,
                                         double *out)
{
#if ORRI_NUM_SWAR
    uint64_t w, x;
    memcpy(&w, p + 1, sizeof w);
    x = w - 0x3030303030303030ull;
    /* bit 7 of the first byte that is not a digit, none below it */
    uint64_t bad = ((w + 0x4646464646464646ull) | x) & 0x8080808080808080ull;
    switch (bad ? __builtin_ctzll(bad) >> 3 : 8) {
    case 1: return orri_frac_k(p + 1, m, x, 1, neg, out);
    case 2: return orri_frac_k(p + 1, m, x, 2, neg, out);
    case 3: return orri_frac_k(p + 1, m, x, 3, neg, out);
    case 4: return orri_frac_k(p + 1, m, x, 4, neg, out);
    case 5: return orri_frac_k(p + 1, m, x, 5, neg, out);
    case 6: return orri_frac_k(p + 1, m, x, 6, neg, out);
    case 7: return orri_frac_k(p + 1, m, x, 7, neg, out);
    default: return NULL;       /* no digit, or 8 and more */
    }
#else
    (void)p;
    (void)m;
    (void)neg;
    (void)out;
    return NULL;
#endif
}

/* Read a number at s (the grammar of orri_parse_number) and return the
 * byte after it, or NULL if s does not start with one; a number followed
 * by 'e' without exponent digits is not one.  The text must end with a
 * byte that is not part of a number (a delimiter, a line break, a NUL). */
static inline const char *orri_scan_number(const char *s, double *out)
{
    const char *p = s;
    /* branch-free: the signs of real data are a coin toss */
    int neg = *p == '-';
    p += neg | (*p == '+');
    uint64_t m = 0;
    size_t nd = 0;
    p = orri_scan_digits(p, &m, &nd);
    if (*p == '.' && nd - 1 < 8) {
        const char *q = orri_scan_frac(p, m, neg, out);
        if (q)
            return q;
    }
    size_t ni = nd;
    if (*p == '.')
        p = orri_scan_digits(p + 1, &m, &nd);
    if (!nd)
        return NULL;
    long e10 = -(long)(nd - ni);
    if ((*p | 0x20) == 'e') {
        const char *q = p + 1;
        int eneg = 0;
        if (*q == '+' || *q == '-')
            eneg = *q++ == '-';
        if (*q < '0' || *q > '9')
            return NULL;
        long ex = 0;
        while (*q >= '0' && *q <= '9') {
            if (ex < 100000)
                ex = ex * 10 + (*q - '0');
            q++;
        }
        e10 += eneg ? -ex : ex;
        p = q;
    }
    if (nd <= 19 && m < ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / orri_p10[-e10] : d * orri_p10[e10];
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        bits |= (uint64_t)neg << 63;
        memcpy(out, &bits, sizeof bits);
        return p;
    }
    int ok = 1;
    *out = orri_scan_number_slow(s, p, m, nd, e10, &ok);
    return ok ? p : NULL;
}

#endif /* ORR_DATA_NUMPARSE_H */
