/*
 * data/numparse.c - decimal text to double, exactly as strtod (see
 * numparse.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/numparse.h"

const double orri_p10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

const double orri_sp10[2][8] = {
    {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7},
    {-1e0, -1e1, -1e2, -1e3, -1e4, -1e5, -1e6, -1e7}
};

#ifdef __SIZEOF_INT128__
/* 5^q for q in [-64, 64], normalised to 128 bits (the table of Lemire's
 * algorithm, made with Python's integers as fast_float's script makes
 * it): for q >= 0, 5^q shifted into [2^127, 2^128), truncated; for q < 0,
 * with z the bit length of 5^-q, 2^b // 5^-q + 1 with b = z + 127 when
 * q >= -27, else b = 2z + 128 and the result halved until below 2^128. */
static const uint64_t pow5_128[129][2] = {
    {0xa87fea27a539e9a5ull, 0x3f2398d747b36224ull},
    {0xd29fe4b18e88640eull, 0x8eec7f0d19a03aadull},
    {0x83a3eeeef9153e89ull, 0x1953cf68300424acull},
    {0xa48ceaaab75a8e2bull, 0x5fa8c3423c052dd7ull},
    {0xcdb02555653131b6ull, 0x3792f412cb06794dull},
    {0x808e17555f3ebf11ull, 0xe2bbd88bbee40bd0ull},
    {0xa0b19d2ab70e6ed6ull, 0x5b6aceaeae9d0ec4ull},
    {0xc8de047564d20a8bull, 0xf245825a5a445275ull},
    {0xfb158592be068d2eull, 0xeed6e2f0f0d56712ull},
    {0x9ced737bb6c4183dull, 0x55464dd69685606bull},
    {0xc428d05aa4751e4cull, 0xaa97e14c3c26b886ull},
    {0xf53304714d9265dfull, 0xd53dd99f4b3066a8ull},
    {0x993fe2c6d07b7fabull, 0xe546a8038efe4029ull},
    {0xbf8fdb78849a5f96ull, 0xde98520472bdd033ull},
    {0xef73d256a5c0f77cull, 0x963e66858f6d4440ull},
    {0x95a8637627989aadull, 0xdde7001379a44aa8ull},
    {0xbb127c53b17ec159ull, 0x5560c018580d5d52ull},
    {0xe9d71b689dde71afull, 0xaab8f01e6e10b4a6ull},
    {0x9226712162ab070dull, 0xcab3961304ca70e8ull},
    {0xb6b00d69bb55c8d1ull, 0x3d607b97c5fd0d22ull},
    {0xe45c10c42a2b3b05ull, 0x8cb89a7db77c506aull},
    {0x8eb98a7a9a5b04e3ull, 0x77f3608e92adb242ull},
    {0xb267ed1940f1c61cull, 0x55f038b237591ed3ull},
    {0xdf01e85f912e37a3ull, 0x6b6c46dec52f6688ull},
    {0x8b61313bbabce2c6ull, 0x2323ac4b3b3da015ull},
    {0xae397d8aa96c1b77ull, 0xabec975e0a0d081aull},
    {0xd9c7dced53c72255ull, 0x96e7bd358c904a21ull},
    {0x881cea14545c7575ull, 0x7e50d64177da2e54ull},
    {0xaa242499697392d2ull, 0xdde50bd1d5d0b9e9ull},
    {0xd4ad2dbfc3d07787ull, 0x955e4ec64b44e864ull},
    {0x84ec3c97da624ab4ull, 0xbd5af13bef0b113eull},
    {0xa6274bbdd0fadd61ull, 0xecb1ad8aeacdd58eull},
    {0xcfb11ead453994baull, 0x67de18eda5814af2ull},
    {0x81ceb32c4b43fcf4ull, 0x80eacf948770ced7ull},
    {0xa2425ff75e14fc31ull, 0xa1258379a94d028dull},
    {0xcad2f7f5359a3b3eull, 0x096ee45813a04330ull},
    {0xfd87b5f28300ca0dull, 0x8bca9d6e188853fcull},
    {0x9e74d1b791e07e48ull, 0x775ea264cf55347eull},
    {0xc612062576589ddaull, 0x95364afe032a819eull},
    {0xf79687aed3eec551ull, 0x3a83ddbd83f52205ull},
    {0x9abe14cd44753b52ull, 0xc4926a9672793543ull},
    {0xc16d9a0095928a27ull, 0x75b7053c0f178294ull},
    {0xf1c90080baf72cb1ull, 0x5324c68b12dd6339ull},
    {0x971da05074da7beeull, 0xd3f6fc16ebca5e04ull},
    {0xbce5086492111aeaull, 0x88f4bb1ca6bcf585ull},
    {0xec1e4a7db69561a5ull, 0x2b31e9e3d06c32e6ull},
    {0x9392ee8e921d5d07ull, 0x3aff322e62439fd0ull},
    {0xb877aa3236a4b449ull, 0x09befeb9fad487c3ull},
    {0xe69594bec44de15bull, 0x4c2ebe687989a9b4ull},
    {0x901d7cf73ab0acd9ull, 0x0f9d37014bf60a11ull},
    {0xb424dc35095cd80full, 0x538484c19ef38c95ull},
    {0xe12e13424bb40e13ull, 0x2865a5f206b06fbaull},
    {0x8cbccc096f5088cbull, 0xf93f87b7442e45d4ull},
    {0xafebff0bcb24aafeull, 0xf78f69a51539d749ull},
    {0xdbe6fecebdedd5beull, 0xb573440e5a884d1cull},
    {0x89705f4136b4a597ull, 0x31680a88f8953031ull},
    {0xabcc77118461cefcull, 0xfdc20d2b36ba7c3eull},
    {0xd6bf94d5e57a42bcull, 0x3d32907604691b4dull},
    {0x8637bd05af6c69b5ull, 0xa63f9a49c2c1b110ull},
    {0xa7c5ac471b478423ull, 0x0fcf80dc33721d54ull},
    {0xd1b71758e219652bull, 0xd3c36113404ea4a9ull},
    {0x83126e978d4fdf3bull, 0x645a1cac083126eaull},
    {0xa3d70a3d70a3d70aull, 0x3d70a3d70a3d70a4ull},
    {0xccccccccccccccccull, 0xcccccccccccccccdull},
    {0x8000000000000000ull, 0x0000000000000000ull},
    {0xa000000000000000ull, 0x0000000000000000ull},
    {0xc800000000000000ull, 0x0000000000000000ull},
    {0xfa00000000000000ull, 0x0000000000000000ull},
    {0x9c40000000000000ull, 0x0000000000000000ull},
    {0xc350000000000000ull, 0x0000000000000000ull},
    {0xf424000000000000ull, 0x0000000000000000ull},
    {0x9896800000000000ull, 0x0000000000000000ull},
    {0xbebc200000000000ull, 0x0000000000000000ull},
    {0xee6b280000000000ull, 0x0000000000000000ull},
    {0x9502f90000000000ull, 0x0000000000000000ull},
    {0xba43b74000000000ull, 0x0000000000000000ull},
    {0xe8d4a51000000000ull, 0x0000000000000000ull},
    {0x9184e72a00000000ull, 0x0000000000000000ull},
    {0xb5e620f480000000ull, 0x0000000000000000ull},
    {0xe35fa931a0000000ull, 0x0000000000000000ull},
    {0x8e1bc9bf04000000ull, 0x0000000000000000ull},
    {0xb1a2bc2ec5000000ull, 0x0000000000000000ull},
    {0xde0b6b3a76400000ull, 0x0000000000000000ull},
    {0x8ac7230489e80000ull, 0x0000000000000000ull},
    {0xad78ebc5ac620000ull, 0x0000000000000000ull},
    {0xd8d726b7177a8000ull, 0x0000000000000000ull},
    {0x878678326eac9000ull, 0x0000000000000000ull},
    {0xa968163f0a57b400ull, 0x0000000000000000ull},
    {0xd3c21bcecceda100ull, 0x0000000000000000ull},
    {0x84595161401484a0ull, 0x0000000000000000ull},
    {0xa56fa5b99019a5c8ull, 0x0000000000000000ull},
    {0xcecb8f27f4200f3aull, 0x0000000000000000ull},
    {0x813f3978f8940984ull, 0x4000000000000000ull},
    {0xa18f07d736b90be5ull, 0x5000000000000000ull},
    {0xc9f2c9cd04674edeull, 0xa400000000000000ull},
    {0xfc6f7c4045812296ull, 0x4d00000000000000ull},
    {0x9dc5ada82b70b59dull, 0xf020000000000000ull},
    {0xc5371912364ce305ull, 0x6c28000000000000ull},
    {0xf684df56c3e01bc6ull, 0xc732000000000000ull},
    {0x9a130b963a6c115cull, 0x3c7f400000000000ull},
    {0xc097ce7bc90715b3ull, 0x4b9f100000000000ull},
    {0xf0bdc21abb48db20ull, 0x1e86d40000000000ull},
    {0x96769950b50d88f4ull, 0x1314448000000000ull},
    {0xbc143fa4e250eb31ull, 0x17d955a000000000ull},
    {0xeb194f8e1ae525fdull, 0x5dcfab0800000000ull},
    {0x92efd1b8d0cf37beull, 0x5aa1cae500000000ull},
    {0xb7abc627050305adull, 0xf14a3d9e40000000ull},
    {0xe596b7b0c643c719ull, 0x6d9ccd05d0000000ull},
    {0x8f7e32ce7bea5c6full, 0xe4820023a2000000ull},
    {0xb35dbf821ae4f38bull, 0xdda2802c8a800000ull},
    {0xe0352f62a19e306eull, 0xd50b2037ad200000ull},
    {0x8c213d9da502de45ull, 0x4526f422cc340000ull},
    {0xaf298d050e4395d6ull, 0x9670b12b7f410000ull},
    {0xdaf3f04651d47b4cull, 0x3c0cdd765f114000ull},
    {0x88d8762bf324cd0full, 0xa5880a69fb6ac800ull},
    {0xab0e93b6efee0053ull, 0x8eea0d047a457a00ull},
    {0xd5d238a4abe98068ull, 0x72a4904598d6d880ull},
    {0x85a36366eb71f041ull, 0x47a6da2b7f864750ull},
    {0xa70c3c40a64e6c51ull, 0x999090b65f67d924ull},
    {0xd0cf4b50cfe20765ull, 0xfff4b4e3f741cf6dull},
    {0x82818f1281ed449full, 0xbff8f10e7a8921a4ull},
    {0xa321f2d7226895c7ull, 0xaff72d52192b6a0dull},
    {0xcbea6f8ceb02bb39ull, 0x9bf4f8a69f764490ull},
    {0xfee50b7025c36a08ull, 0x02f236d04753d5b4ull},
    {0x9f4f2726179a2245ull, 0x01d762422c946590ull},
    {0xc722f0ef9d80aad6ull, 0x424d3ad2b7b97ef5ull},
    {0xf8ebad2b84e0d58bull, 0xd2e0898765a7deb2ull},
    {0x9b934c3b330c8577ull, 0x63cc55f49f88eb2full},
    {0xc2781f49ffcfa6d5ull, 0x3cbf6b71c76b25fbull},
};
#endif

/*
 * Lemire's algorithm (D. Lemire, "Number parsing at a gigabyte per
 * second", 2021; the fast_float library): w * 10^q as the correctly
 * rounded double, from the 64 x 128-bit product of w (normalised) and
 * 5^q.  Returns 0 - and strtod decides - outside the table, for
 * subnormals and overflow, and where the truncated product cannot tell
 * (the paper's rare case).  Exact otherwise: tests/data/test_numparse.c
 * compares it with strtod on millions of 16-17 digit values.
 */
static int lemire(uint64_t w, long q, int neg, double *out)
{
#ifndef __SIZEOF_INT128__
    (void)w;
    (void)q;
    (void)neg;
    (void)out;
    return 0;                       /* strtod then */
#else
    if (q < -64 || q > 64)
        return 0;
    if (!w) {
        *out = neg ? -0.0 : 0.0;
        return 1;
    }
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *t = pow5_128[q + 64];
    unsigned __int128 p = (unsigned __int128)w * t[0];
    uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p;
    if ((hi & 0x1FF) == 0x1FF) {
        uint64_t hi2 = (uint64_t)(((unsigned __int128)w * t[1]) >> 64);
        lo += hi2;
        if (hi2 > lo)
            hi++;
    }
    if (lo == UINT64_MAX)
        return 0;
    int upper = (int)(hi >> 63), shift = upper + 9;
    uint64_t mant = hi >> shift;
    long t2 = 217706L * q;          /* floor(q * log2(10)) + 63, below */
    long power2 = (t2 >= 0 ? t2 >> 16 : -((-t2 + 65535) >> 16)) + 63 +
                  upper - lz + 1023;
    if (power2 <= 0)
        return 0;
    /* a tie between two doubles rounds to even */
    if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 &&
        (mant << shift) == hi)
        mant &= ~(uint64_t)1;
    mant += mant & 1;
    mant >>= 1;
    if (mant >= (uint64_t)2 << 52) {
        mant = (uint64_t)1 << 52;
        power2++;
    }
    mant &= ~((uint64_t)1 << 52);
    if (power2 >= 0x7FF)
        return 0;
    uint64_t bits = mant | (uint64_t)power2 << 52 | (uint64_t)neg << 63;
    memcpy(out, &bits, sizeof bits);
    return 1;
#endif
}

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
        d = e10 < 0 ? d / orri_p10[-e10] : d * orri_p10[e10];
        *out = neg ? -d : d;
        return 1;
    }
    if (!big && lemire(m, e10, neg, out))
        return 1;
    errno = 0;
    *out = strtod(s, NULL);
    return 1;
}

double orri_scan_number_slow(const char *s, const char *end, uint64_t m,
                             size_t nd, long e10, int *ok)
{
    double d;
    if (nd <= 19 && lemire(m, e10, *s == '-', &d))
        return d;
    char *stop;
    errno = 0;
    d = strtod(s, &stop);
    if (stop != end)
        *ok = 0;
    return d;
}
