/*
 * stats.c - sort and distributions for monitor-drift (see stats.h).
 *
 * The KS code follows SciPy 1.10's scipy/stats/_stats_py.py
 * (_compute_prob_outside_square, _attempt_exact_2kssamp),
 * _stats_pythran.py (_compute_outer_prob_inside_method) and _ksstats.py
 * (_kolmogn, _kolmogn_DMTW, _kolmogn_PelzGood) operation for operation, so
 * the exact p-values agree to the last bits or nearly.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define PI 3.14159265358979323846
#define SQRT2 1.41421356237309504880

/* --- radix sort ----------------------------------------------------------- */

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6          /* 6 x 11 >= 64                             */

static uint64_t key_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    /* Negatives: flip all bits (reverses their order); positives: flip
     * the sign bit (puts them above every negative). */
    return (u >> 63) ? ~u : (u | 0x8000000000000000ull);
}

static double value_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void drift_sort(double *a, size_t n, uint64_t *tmp)
{
    static const unsigned shift[RADIX_PASSES] = {0, 11, 22, 33, 44, 55};
    size_t (*count)[RADIX_SIZE];
    uint64_t *src = tmp, *dst = tmp + n;

    if (n < 2)
        return;
    count = calloc(RADIX_PASSES, sizeof *count);
    if (!count) {
        /* No memory for 96 KiB of counters: sort slowly rather than
         * fail the whole analysis. */
        for (size_t i = 0; i < n; i++)
            src[i] = key_of(a[i]);
        goto slow;
    }
    /* One pass builds every digit's histogram. */
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_of(a[i]);
        src[i] = k;
        for (unsigned p = 0; p < RADIX_PASSES; p++)
            count[p][(k >> shift[p]) & (RADIX_SIZE - 1)]++;
    }
    for (unsigned p = 0; p < RADIX_PASSES; p++) {
        size_t *c = count[p], sum = 0;
        uint64_t first = (src[0] >> shift[p]) & (RADIX_SIZE - 1);
        /* A digit all keys share (high exponent bits, usually) moves
         * nothing: skip the pass. */
        if (c[first] == n)
            continue;
        for (size_t b = 0; b < RADIX_SIZE; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t k = src[i];
            dst[c[(k >> shift[p]) & (RADIX_SIZE - 1)]++] = k;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    free(count);
    for (size_t i = 0; i < n; i++)
        a[i] = value_of(src[i]);
    return;
slow:
    /* Shell sort on the keys. */
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            uint64_t k = src[i];
            size_t j = i;
            for (; j >= gap && src[j - gap] > k; j -= gap)
                src[j] = src[j - gap];
            src[j] = k;
        }
    for (size_t i = 0; i < n; i++)
        a[i] = value_of(src[i]);
}

/* --- exact two-sample KS ------------------------------------------------- */

static long long gcd_ll(long long a, long long b)
{
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Pr(D_{n,n} >= h/n), _compute_prob_outside_square. */
static double prob_outside_square(long long n, long long h)
{
    double P = 0.0;
    long long k = (long long)floor((double)n / (double)h);
    while (k >= 0) {
        double p1 = 1.0;
        for (long long j = 0; j < h; j++)
            p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        P = p1 * (1.0 - P);
        k--;
    }
    return 2 * P;
}

/* 1 - Pr(paths stay strictly inside), _compute_outer_prob_inside_method. */
static double outer_prob_inside(long long m, long long n, long long g,
                                long long h)
{
    if (m < n) {
        long long t = m;
        m = n;
        n = t;
    }
    long long mg = m / g, ng = n / g;
    long long minj = 0;
    long long maxj = (long long)ceil((double)h / (double)mg);
    if (maxj > n + 1)
        maxj = n + 1;
    long long curlen = maxj - minj;
    long long lenA = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *A = malloc((size_t)lenA * sizeof *A);
    double r;
    if (!A)
        return NAN;
    for (long long j = 0; j < lenA; j++)
        A[j] = 1.0;
    for (long long j = minj; j < maxj; j++)
        A[j] = 0.0;
    for (long long i = 1; i <= m; i++) {
        long long lastminj = minj, lastlen = curlen;
        minj = (long long)floor((double)(ng * i - h) / (double)mg) + 1;
        if (minj < 0)
            minj = 0;
        if (minj > n)
            minj = n;
        maxj = (long long)ceil((double)(ng * i + h) / (double)mg);
        if (maxj > n + 1)
            maxj = n + 1;
        if (maxj <= minj) {
            free(A);
            return 1.0;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        for (long long jj = 0; jj < maxj - minj; jj++) {
            long long j = jj + minj;
            val = (A[jj + minj - lastminj] * (double)i + val * (double)j) /
                  (double)(i + j);
            A[jj] = val;
        }
        curlen = maxj - minj;
        if (lastlen > curlen)
            for (long long j = maxj - minj;
                 j < maxj - minj + (lastlen - curlen) && j < lenA; j++)
                A[j] = 1;
    }
    r = A[maxj - minj - 1];
    free(A);
    return r;
}

double drift_ks_pvalue(size_t n1, size_t n2, double *d, int *exact)
{
    double prob = NAN;
    *exact = 0;
    if (n1 == 0 || n2 == 0)
        return NAN;
    if ((n1 > n2 ? n1 : n2) <= 10000) {
        long long g = gcd_ll((long long)n1, (long long)n2);
        long long lcm = ((long long)n1 / g) * (long long)n2;
        long long h = (long long)nearbyint(*d * (double)lcm);
        double dd = (double)h * 1.0 / (double)lcm;
        if (h == 0) {
            *d = dd;
            *exact = 1;
            return 1.0;
        }
        if (n1 == n2)
            prob = prob_outside_square((long long)n1, h);
        else
            prob = outer_prob_inside((long long)n1, (long long)n2, g, h);
        if (prob >= 0 && prob <= 1) {
            *d = dd;
            *exact = 1;
            return prob;
        }
        /* SciPy: "Exact calculation unsuccessful", asymptotic with the
         * rounded statistic. */
        *d = dd;
    }
    double m = (double)(n1 > n2 ? n1 : n2), n = (double)(n1 > n2 ? n2 : n1);
    double en = m * n / (m + n);
    prob = drift_kstwo_sf(*d, nearbyint(en));
    if (prob < 0)
        prob = 0;
    if (prob > 1)
        prob = 1;
    return prob;
}

/* --- the one-sample Kolmogorov distribution ------------------------------ */

#define PI_SQUARED (PI * PI)
#define PI_FOUR (PI_SQUARED * PI_SQUARED)
#define PI_SIX (PI_FOUR * PI_SQUARED)
#define SQRT2PI 2.5066282746310002
#define LOG_2PI 1.8378770664093453

static double clip01(double p)
{
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

static double log_nfact_div_npow(double n)
{
    static const double c[] = {
        -2.955065359477124183e-2, 6.4102564102564102564e-3,
        -1.9175269175269175269e-3, 8.4175084175084175084e-4,
        -5.952380952380952381e-4, 7.9365079365079365079e-4,
        -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    double rn = 1.0 / n, x = rn / n, p = 0;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        p = p * x + c[i];
    return log(n) / 2 - n + LOG_2PI / 2 + rn * p;
}

/* Pr(D+_n >= x), Birnbaum & Tingey's sum, in logs so that large n does
 * not overflow.  SciPy's special.smirnov computes the same exact value. */
static double smirnov(double n, double x)
{
    if (!(n > 0 && x >= 0 && x <= 1))
        return NAN;
    if (x == 0)
        return 1.0;
    long long nn = (long long)floor(n * (1.0 - x));
    double p = 0, logc = 0;
    for (long long v = 0; v <= nn; v++) {
        double evn = x + (double)v / n, om = 1.0 - evn;
        if (om > 0 || v == (long long)n) {
            double t = logc + (double)(v - 1) * log(evn) +
                       (om > 0 ? (n - (double)v) * log(om) : 0);
            if (t > -745)
                p += exp(t);
        }
        logc += log((n - (double)v) / (double)(v + 1));
    }
    return p * x;
}

/* Pr(D_n <= d) by Durbin's matrix (Marsaglia, Tsang & Wang), in long
 * double with SciPy's 2^128 rescaling. */
static double kolmogn_dmtw(double n, double d)
{
    if (d >= 1.0)
        return 1.0;
    double nd = n * d;
    if (nd <= 0.5)
        return 0.0;
    long k = (long)ceil(nd);
    double h = (double)k - nd;
    long m = 2 * k - 1;
    size_t mm = (size_t)m * (size_t)m;
    long double *H = calloc(mm, sizeof *H), *P = calloc(mm, sizeof *P);
    long double *T = calloc(mm, sizeof *T);
    double *v = calloc((size_t)m, sizeof *v), *w = calloc((size_t)m,
                                                         sizeof *w);
    double res = NAN;
    const long double EP = ldexpl(1.0L, 128), EM = ldexpl(1.0L, -128);
    if (!H || !P || !T || !v || !w)
        goto out;
    double fac = 1.0;
    for (long j = 1; j <= m; j++) {
        v[j - 1] = 1.0 - pow(h, (double)j);
        w[j - 1] = fac;
        fac /= (double)j;
        v[j - 1] *= fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), (double)m) - 2 * pow(h, (double)m);
    v[m - 1] = (1.0 + tt) * fac;
    for (long i = 1; i < m; i++)
        for (long r = i - 1; r < m; r++)
            H[r * m + i] = w[r - (i - 1)];
    for (long r = 0; r < m; r++)
        H[r * m] = v[r];
    for (long c = 0; c < m; c++)
        H[(m - 1) * m + c] = v[m - 1 - c];
    for (long i = 0; i < m; i++)
        P[i * m + i] = 1;
    long long nn = (long long)n;
    long expnt = 0, hexpnt = 0;
    while (nn > 0) {
        if (nn % 2) {
            for (long i = 0; i < m; i++)
                for (long j = 0; j < m; j++) {
                    long double s = 0;
                    for (long l = 0; l < m; l++)
                        s += P[i * m + l] * H[l * m + j];
                    T[i * m + j] = s;
                }
            memcpy(P, T, mm * sizeof *P);
            expnt += hexpnt;
        }
        for (long i = 0; i < m; i++)
            for (long j = 0; j < m; j++) {
                long double s = 0;
                for (long l = 0; l < m; l++)
                    s += H[i * m + l] * H[l * m + j];
                T[i * m + j] = s;
            }
        memcpy(H, T, mm * sizeof *H);
        hexpnt *= 2;
        if (fabsl(H[(k - 1) * m + (k - 1)]) > EP) {
            for (size_t i = 0; i < mm; i++)
                H[i] /= EP;
            hexpnt += 128;
        }
        nn /= 2;
    }
    long double p = P[(k - 1) * m + (k - 1)];
    for (long long i = 1; i <= (long long)n; i++) {
        p = (long double)i * p / (long double)n;
        if (fabsl(p) < EM) {
            p *= EP;
            expnt -= 128;
        }
    }
    if (expnt != 0)
        p = ldexpl(p, (int)expnt);
    res = clip01((double)p);
out:
    free(H);
    free(P);
    free(T);
    free(v);
    free(w);
    return res;
}

/* Pelz-Good approximation of Pr(D_n <= x). */
static double kolmogn_pelzgood(double n, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double z = sqrt(n) * x;
    double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -PI_SQUARED / 8 / z2;
    if (qlog < -708)
        return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = PI_SQUARED / 4;
    double k2a = 6 * z6 + 2 * z4;
    double k2b = (2 * z4 - 5 * z2) * PI_SQUARED / 4;
    double k2c = PI_FOUR * (1 - 2 * z2) / 16;
    double k3d = PI_SIX * (5 - 30 * z2) / 64;
    double k3c = PI_FOUR * (-60 * z2 + 212 * z4) / 16;
    double k3b = PI_SQUARED * (135 * z4 - 96 * z6) / 4;
    double k3a = -30 * z6 - 90 * pow(z, 8);
    double K[4] = {0, 0, 0, 0};
    long maxk = (long)ceil(16 * z / PI);
    for (long k = maxk; k > 0; k--) {
        double m = 2.0 * (double)k - 1, m2 = m * m, m4 = m2 * m2,
               m6 = m4 * m2;
        double qp = pow(q, 8.0 * (double)k);
        double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                       k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++)
            K[i] = K[i] * qp + c[i];
    }
    double div[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        K[i] = K[i] * q * SQRT2PI / div[i];
    q = exp(-PI_SQUARED / 2 / z2);
    double sqrt3z = sqrt(3.0) * z, k2x = 0, k3x = 0;
    for (long k = maxk; k > 0; k--) {
        double kk = (double)k, ks = kk * kk, qp = pow(q, ks);
        double kspi = PI * kk;
        k2x += ks * qp;
        k3x += (sqrt3z + kspi) * (sqrt3z - kspi) * ks * qp;
    }
    K[2] += k2x * PI_SQUARED * SQRT2PI / (-36 * z3);
    K[3] += k3x * PI_SQUARED * SQRT2PI / (216 * z6);
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += K[i] / pow(n, (double)i / 2.0);
    return s;
}

double drift_kstwo_sf(double x, double n)
{
    if (isnan(x) || isnan(n) || n <= 0 || floor(n) != n)
        return NAN;
    if (x >= 1.0)
        return 0.0;
    if (x <= 0.0)
        return 1.0;
    double t = n * x;
    if (t <= 1.0) {
        double prob;
        if (t <= 0.5)
            return 1.0;
        if (n <= 140) {
            prob = 1.0;
            for (double i = 1; i <= n; i++)
                prob *= i * (1.0 / n) * (2 * t - 1);
        } else {
            prob = exp(log_nfact_div_npow(n) + n * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= n - 1)
        return clip01(2 * pow(1.0 - x, n));
    if (x >= 0.5)
        return clip01(2 * smirnov(n, x));
    double nx2 = t * x;
    if (n <= 140) {
        /* SciPy uses Pomeranz's recursion for 0.754693 < nx2 <= 4; the
         * Durbin matrix is exact too, so we use it for both. */
        if (nx2 <= 4)
            return clip01(1.0 - kolmogn_dmtw(n, x));
        return clip01(2 * smirnov(n, x));
    }
    if (nx2 >= 370.0)
        return 0.0;
    if (nx2 >= 2.2)
        return clip01(2 * smirnov(n, x));
    double cdf;
    if (n <= 100000 && n * pow(x, 1.5) <= 1.4)
        cdf = kolmogn_dmtw(n, x);
    else
        cdf = kolmogn_pelzgood(n, x);
    return clip01(1.0 - cdf);
}

/* --- chi-square and normal ------------------------------------------------ */

/* Regularised upper incomplete gamma Q(a, x) (Numerical Recipes' series
 * and Lentz continued fraction, as Cephes' igamc). */
static double igamc(double a, double x)
{
    if (x < 0 || a <= 0)
        return NAN;
    if (x == 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    double lpre = a * log(x) - x - lgamma(a);
    if (x < a + 1) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int i = 0; i < 100000; i++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * DBL_EPSILON)
                break;
        }
        return 1.0 - sum * exp(lpre);
    }
    double b = x + 1 - a, c = 1.0 / DBL_MIN, d = 1.0 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < DBL_MIN)
            d = DBL_MIN;
        c = b + an / c;
        if (fabs(c) < DBL_MIN)
            c = DBL_MIN;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < DBL_EPSILON)
            break;
    }
    return exp(lpre) * h;
}

double drift_chi2_sf(double x, double df)
{
    if (isnan(x) || !(df > 0))
        return NAN;
    if (x <= 0)
        return 1.0;
    return clip01(igamc(df / 2, x / 2));
}

double drift_norm_2sf(double z)
{
    if (isnan(z))
        return NAN;
    return erfc(fabs(z) / SQRT2);
}
