/*
 * sbuf.c - growable text buffer.
 */
#include "sbuf.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct sbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sbuf_put(b, tmp, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sbuf_json_str(struct sbuf *b, const char *s)
{
    sbuf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sbuf_put(b, esc, 2);
        } else if (*p < 0x20) {
            sbuf_printf(b, "\\u%04x", *p);
        } else {
            sbuf_put(b, (const char *)p, 1);
        }
    }
    sbuf_put(b, "\"", 1);
}

void sbuf_uint(struct sbuf *b, unsigned long long v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sbuf_put(b, tmp + k, sizeof tmp - k);
}

/* ------------------------------------------------------------------ */
/* Numbers: what the %.15g..%.17g loop below prints, without printf for
 * the usual range.  v = m * 2^-sh exactly; Q = floor(v * 10^s) with 17
 * digits is computed in 128-bit integers with its remainder, so each
 * precision's rounding is decided exactly; an exact tie (printf's
 * rounding rule would decide) or a value outside 1e-6..1e15 takes the
 * printf loop. */

static const uint64_t p10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
    100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull,
};

/* Doubles 1e0..1e22 are exact: D * or / one of them rounds once, to
 * what strtod returns for the decimal (Clinger). */
static const double p10d[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The %g text of digits d (exactly p of them) times 10^(x - p + 1). */
static size_t g_text(char *out, int neg, uint64_t d, int p, int x)
{
    char dig[20];
    size_t k = 0;
    for (int i = p - 1; i >= 0; i--) {
        dig[i] = (char)('0' + d % 10);
        d /= 10;
    }
    int nd = p;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (neg)
        out[k++] = '-';
    if (x < -4 || x >= p) {
        out[k++] = dig[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++)
                out[k++] = dig[i];
        }
        out[k++] = 'e';
        out[k++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            out[k++] = (char)('0' + ax / 100);
        out[k++] = (char)('0' + ax / 10 % 10);
        out[k++] = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            out[k++] = i < nd ? dig[i] : '0';
        if (nd > x + 1) {
            out[k++] = '.';
            for (int i = x + 1; i < nd; i++)
                out[k++] = dig[i];
        }
    } else {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = -1; i > x; i--)
            out[k++] = '0';
        for (int i = 0; i < nd; i++)
            out[k++] = dig[i];
    }
    out[k] = '\0';
    return k;
}

/* Round q (17 digits, r/2^sh of a unit beyond them) to 17 - cut digits:
 * -1 on an exact tie. */
static int round_cut(uint64_t q, unsigned __int128 r, unsigned sh, int cut,
                     uint64_t *d)
{
    uint64_t div = p10[cut], low = q % div, half = div / 2;
    unsigned __int128 h = (unsigned __int128)1 << (sh - 1);
    *d = q / div;
    if (cut == 0) {
        if (r == h)
            return -1;
        *d += r > h;
        return 0;
    }
    if (low == half && r == 0)
        return -1;
    *d += low > half || (low == half && r > 0);
    return 0;
}

/* Shortest of %.15g..%.17g reading back to v: the text's length, or 0
 * when the printf loop must decide. */
static size_t num_fast(double v, char *out)
{
    if (FLT_EVAL_METHOD != 0)
        return 0;
    int neg = v < 0;
    double a = neg ? -v : v;
    if (!(a >= 1e-6 && a < 1e15))
        return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int e2 = (int)((bits >> 52) & 0x7ff) - 1075;    /* a = m * 2^e2 */
    unsigned sh = (unsigned)-e2;                    /* 3..73 here */
    int x = 0;              /* about log10(a): corrected below */
    if (a >= 1.0) {
        while (x < 14 && a >= p10d[x + 1])
            x++;
    } else {
        x = -1;
        while (x > -6 && a * p10d[-x] < 1.0)
            x--;
    }
    uint64_t q = 0;
    unsigned __int128 r = 0;
    for (int tries = 0; tries < 3; tries++) {
        int s = 16 - x;                             /* 2..22 */
        if (s < 0 || s > 22)
            return 0;
        unsigned __int128 n = (unsigned __int128)m *
                              (s > 19 ? p10[19] : p10[s]);
        if (s > 19)
            n *= p10[s - 19];
        unsigned __int128 qq = n >> sh;
        r = n & (((unsigned __int128)1 << sh) - 1);
        if (qq >= p10[17])
            x++;
        else if (qq < p10[16])
            x--;
        else {
            q = (uint64_t)qq;
            break;
        }
    }
    if (!q)
        return 0;
    for (int p = 15; p <= 17; p++) {
        uint64_t d;
        int xp = x;
        if (round_cut(q, r, sh, 17 - p, &d))
            return 0;
        if (d == p10[p]) {                          /* 9.99.. rounded up */
            d = p10[p - 1];
            xp++;
        }
        if (p < 17) {
            /* Does the text read back to v?  d * 10^k by Clinger when d
             * fits 53 bits, else strtod. */
            int k = xp - p + 1;
            double back;
            if (d <= (1ull << 53) && k >= -22 && k <= 22) {
                back = k < 0 ? (double)d / p10d[-k] : (double)d * p10d[k];
            } else {
                g_text(out, 0, d, p, xp);
                back = strtod(out, NULL);
            }
            if (back != a)
                continue;
        }
        return g_text(out, neg, d, p, xp);
    }
    return 0;
}

void sbuf_json_num(struct sbuf *b, double v)
{
    if (!isfinite(v)) {
        sbuf_put(b, "null", 4);
        return;
    }
    if (v == 0.0) {                 /* what %.15g prints; reads back */
        sbuf_puts(b, signbit(v) ? "-0" : "0");
        return;
    }
    char tmp[32];
    size_t n = num_fast(v, tmp);
    if (n) {
        sbuf_put(b, tmp, n);
        return;
    }
    /* The shortest of %.15g..%.17g that reads back to the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    sbuf_puts(b, tmp);
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
