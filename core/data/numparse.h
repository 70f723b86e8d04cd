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
 * that a delimiter follows.
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

extern const double orri_p10[23];

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
