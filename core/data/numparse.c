/*
 * data/numparse.c - decimal text to double, exactly as strtod (see
 * numparse.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/numparse.h"

static const double P10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

int orri_parse_number(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int digits = 0, frac = 0, any = 0, big = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (m || *p != '0')
            digits++;
        if (digits <= 19)
            m = m * 10 + (uint64_t)(*p - '0');
        else
            big = 1;
        p++;
        any = 1;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (m || *p != '0')
                digits++;
            if (digits <= 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                frac++;
            } else {
                big = 1;
            }
            p++;
            any = 1;
        }
    }
    if (!any)
        return 0;
    long ex = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, edig = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        while (p < end && *p >= '0' && *p <= '9') {
            if (ex < 100000)
                ex = ex * 10 + (*p - '0');
            p++;
            edig = 1;
        }
        if (!edig)
            return 0;
        if (eneg)
            ex = -ex;
    }
    if (p != end)
        return 0;
    long e10 = ex - frac;
    if (!big && m < ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / P10[-e10] : d * P10[e10];
        *out = neg ? -d : d;
        return 1;
    }
    errno = 0;
    *out = strtod(s, NULL);
    return 1;
}
