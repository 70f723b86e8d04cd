/*
 * meta/pseg_record.c - the checksum of one prediction record of a layout-1
 * chunk (meta/psegment.h): eight 64-bit lanes, each 64-byte stripe
 * accumulated as XXH3 does (the word xor a key, its low half times its
 * high half, plus the word), so a compiler turns a stripe into a few
 * vector instructions.  The serving thread takes it for every record it
 * logs, in the request's path: XXH64's two dependent multiplies per word
 * ran at about half that speed.  Built twice where the compiler can
 * (AVX2 and the baseline, chosen at load time); both compute the same
 * value, and the tests pin it.
 */
#include "meta/psegment.h"

#include <string.h>

#define K1 0x9E3779B185EBCA87ull
#define K2 0xC2B2AE3D27D4EB4Full

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(ORR_NO_SIMD)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

typedef uint64_t lanes4 __attribute__((vector_size(32)));

static const uint64_t keys[8] = {
    0x9E3779B185EBCA87ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
    0x85EBCA77C2B2AE63ull, 0x27D4EB2F165667C5ull, 0x94D049BB133111EBull,
    0xBF58476D1CE4E5B9ull, 0xD6E8FEB86659FD93ull};

/* `n` stripes of 64 bytes into acc.  Little-endian words: on a
 * big-endian host the memcpy'd lanes would differ, hence the scalar
 * path there. */
CLONES static void stripes(uint64_t acc[8], const unsigned char *p,
                           size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (; n; n--, p += 64)
        for (int i = 0; i < 8; i++) {
            uint64_t w = 0;
            for (int b = 0; b < 8; b++)
                w |= (uint64_t)p[8 * i + b] << (8 * b);
            uint64_t y = w ^ keys[i];
            acc[i] += (y & 0xffffffffu) * (y >> 32) + w;
        }
#else
    lanes4 a0, a1, k0, k1;
    const lanes4 lo = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    memcpy(&a0, acc, 32);
    memcpy(&a1, acc + 4, 32);
    memcpy(&k0, keys, 32);
    memcpy(&k1, keys + 4, 32);
    for (; n; n--, p += 64) {
        lanes4 x0, x1;
        memcpy(&x0, p, 32);
        memcpy(&x1, p + 32, 32);
        lanes4 y0 = x0 ^ k0, y1 = x1 ^ k1;
        a0 += (y0 & lo) * (y0 >> 32) + x0;
        a1 += (y1 & lo) * (y1 >> 32) + x1;
    }
    memcpy(acc, &a0, 32);
    memcpy(acc + 4, &a1, 32);
#endif
}

void orri_pseg_rhash_init(struct orri_pseg_rhash *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 8; i++)
        h->acc[i] = keys[7 - i];
}

void orri_pseg_rhash_update(struct orri_pseg_rhash *h, const void *data,
                            size_t len)
{
    const unsigned char *p = data;
    h->total += len;
    if (h->held) {
        size_t k = 64 - h->held < len ? 64 - h->held : len;
        memcpy(h->buf + h->held, p, k);
        h->held += k;
        p += k;
        len -= k;
        if (h->held < 64)
            return;
        stripes(h->acc, h->buf, 1);
        h->held = 0;
    }
    stripes(h->acc, p, len / 64);
    p += len / 64 * 64;
    memcpy(h->buf, p, len % 64);
    h->held = len % 64;
}

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t orri_pseg_rhash_final(const struct orri_pseg_rhash *h)
{
    uint64_t x = h->total * K1;
    for (int i = 0; i < 8; i++) {
        x ^= h->acc[i];
        x = rotl(x * K2, 31) * K1;
    }
    /* The last partial stripe: words, then bytes. */
    const unsigned char *p = h->buf, *end = p + h->held;
    for (; p + 8 <= end; p += 8) {
        uint64_t w = 0;
        for (int b = 0; b < 8; b++)
            w |= (uint64_t)p[b] << (8 * b);
        x ^= rotl(w * K2, 31) * K1;
        x = rotl(x, 27) * K1 + K2;
    }
    for (; p < end; p++) {
        x ^= *p * K2;
        x = rotl(x, 11) * K1;
    }
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t orri_pseg_record_check(const void *data, size_t len)
{
    struct orri_pseg_rhash h;
    orri_pseg_rhash_init(&h);
    orri_pseg_rhash_update(&h, data, len);
    return orri_pseg_rhash_final(&h);
}
