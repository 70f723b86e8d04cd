/*
 * data/csv_avx512.c - the CSV loader's row loop for rows of numeric
 * columns on x86-64 with AVX-512 (F, BW, DQ, CD, VBMI, VBMI2), chosen at
 * run time by csv.c (orri_csv_set_simd); the scalar loop there reads
 * every row this one leaves, and the tests compare the two.
 */
#include "data/csv_loader.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "data/numparse.h"

/* The AVX-512 row loop: x86-64 with GCC or Clang (ORR_NO_SIMD leaves
 * it out, to build and test what other machines run). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(ORR_NO_SIMD)
#define CSV_VBMI 1
#include <immintrin.h>

#define VBMI __attribute__((target("avx512f,avx512bw,avx512dq,avx512cd," \
                                   "avx512vbmi,avx512vbmi2,popcnt,fma," \
                                   "bmi2")))

int orri_csv_avx512_cpu(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512vbmi") &&
           __builtin_cpu_supports("avx512vbmi2") &&
           __builtin_cpu_supports("popcnt") &&
           __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2");
}

/* A lane (qword) per byte of m's 8 groups: set where the group is not
 * zero. */
VBMI static inline __mmask8 vbmi_lanes(__mmask64 m)
{
    __m512i v = _mm512_movm_epi8(m);
    return _mm512_test_epi64_mask(v, v);
}

/*
 * Up to 8 fields at once.  The text is a 128-byte window (lo, then hi);
 * field j (a lane) is [start_j, end_j) of it, each index in a qword of
 * `start` and `end` (start_j may be negative: the field began before the
 * window, and is none of this reader's).  A lane is converted when its
 * field is [+-] then 1 to 8 bytes of digits with at most one point, not
 * first or last: its value, m / 10^k with m < 10^8 and k <= 6, is
 * Clinger's exact case, strtod's value bit for bit.  Returns the lanes
 * converted (their values in *out); the others are the scalar reader's.
 */
VBMI static inline __mmask8 vbmi_numbers(__m512i lo, __m512i hi,
                                         __m512i start, __m512i end,
                                         __mmask8 lanes, __m512d *out)
{
    /* byte 8j + b of a lane index vector: qword j's byte 0 */
    const __m512i spread = _mm512_set_epi64(
        0x3838383838383838ll, 0x3030303030303030ll, 0x2828282828282828ll,
        0x2020202020202020ll, 0x1818181818181818ll, 0x1010101010101010ll,
        0x0808080808080808ll, 0);
    const __m512i ones = _mm512_set1_epi64(-1);
    const __m512i byte = _mm512_set1_epi64(0xFF);
    lanes &= _mm512_cmpge_epi64_mask(start, _mm512_setzero_si512());
    /* the 8 bytes before each end, and the byte at each start */
    __m512i idx = _mm512_add_epi8(_mm512_permutexvar_epi8(spread, end),
                                  _mm512_set1_epi64(0xFFFEFDFCFBFAF9F8ll));
    __m512i w = _mm512_permutex2var_epi8(lo, idx, hi);
    __m512i first = _mm512_and_si512(_mm512_permutex2var_epi8(
        lo, _mm512_permutexvar_epi8(spread, start), hi), byte);
    __mmask8 neg = _mm512_cmpeq_epi64_mask(first, _mm512_set1_epi64('-'));
    __mmask8 sign = neg | _mm512_cmpeq_epi64_mask(first,
                                                  _mm512_set1_epi64('+'));
    __m512i len = _mm512_mask_sub_epi64(_mm512_sub_epi64(end, start), sign,
                                        _mm512_sub_epi64(end, start),
                                        _mm512_set1_epi64(1));
    /* 1 to 8 digits and points */
    lanes &= _mm512_cmplt_epu64_mask(_mm512_sub_epi64(len,
                                                      _mm512_set1_epi64(1)),
                                     _mm512_set1_epi64(8));
    /* the field's bytes: the last len of the lane */
    __m512i in = _mm512_sllv_epi64(ones, _mm512_sub_epi64(
        _mm512_set1_epi64(64), _mm512_slli_epi64(len, 3)));
    __mmask64 inm = _mm512_movepi8_mask(in);
    __m512i d = _mm512_sub_epi8(w, _mm512_set1_epi8('0'));
    __mmask64 dig = _mm512_cmplt_epu8_mask(d, _mm512_set1_epi8(10));
    __mmask64 pt = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8('.')) & inm;
    lanes &= (__mmask8)~vbmi_lanes(inm & ~(dig | pt));
    /* at most one point (its byte is its lowest set bit * 255), not the
     * field's first byte nor its last */
    __m512i ptv = _mm512_movm_epi8(pt);
    __m512i low = _mm512_and_si512(ptv, _mm512_sub_epi64(
        _mm512_setzero_si512(), ptv));
    __m512i low8 = _mm512_slli_epi64(low, 8);
    __mmask8 has = _mm512_test_epi64_mask(ptv, ptv);
    lanes &= _mm512_cmpeq_epi64_mask(ptv, _mm512_sub_epi64(low8, low));
    lanes &= ~_mm512_mask_cmpeq_epi64_mask(
        has, low, _mm512_set1_epi64((long long)1 << 56));
    lanes &= ~_mm512_mask_cmpeq_epi64_mask(
        has, low, _mm512_sllv_epi64(_mm512_set1_epi64(1), _mm512_sub_epi64(
            _mm512_set1_epi64(64), _mm512_slli_epi64(len, 3))));
    if (!lanes) {
        *out = _mm512_setzero_pd();
        return 0;
    }
    /* the digits alone, the point dropped (those before it move up a
     * byte): 8 digits, the first the most significant */
    d = _mm512_andnot_si512(ptv, _mm512_and_si512(d, in));
    __m512i moved = _mm512_or_si512(
        _mm512_andnot_si512(_mm512_sub_epi64(low8, _mm512_set1_epi64(1)),
                            d),
        _mm512_slli_epi64(_mm512_and_si512(d, _mm512_sub_epi64(
            low, _mm512_set1_epi64(1))), 8));
    d = _mm512_mask_blend_epi64(has, d, moved);
    __m512i t = _mm512_maddubs_epi16(d, _mm512_set1_epi16(0x010A));
    t = _mm512_madd_epi16(t, _mm512_set1_epi32(0x00010064));
    __m512i m = _mm512_add_epi64(_mm512_mul_epu32(t,
                                                  _mm512_set1_epi64(10000)),
                                 _mm512_srli_epi64(t, 32));
    /* digits after the point: 7 - its byte index */
    __m512i k = _mm512_maskz_srli_epi64(has, _mm512_sub_epi64(
        _mm512_lzcnt_epi64(low), _mm512_set1_epi64(7)), 3);
    /* m / 10^k without the divider (one a block would bound the loop):
     * q = m * RN(10^-k), corrected once by the exact remainder m - q *
     * 10^k (an FMA); the result is m / 10^k correctly rounded for every
     * m < 10^8 and k <= 7 (Markstein's sequence; checked exhaustively,
     * see tests/data/test_numparse.c) */
    __m512d p = _mm512_permutexvar_pd(k, _mm512_set_pd(
        1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1e0));
    __m512d y = _mm512_permutexvar_pd(k, _mm512_set_pd(
        1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0));
    __m512d a = _mm512_cvtepi64_pd(m);
    __m512d q = _mm512_mul_pd(a, y);
    q = _mm512_fmadd_pd(_mm512_fnmadd_pd(q, p, a), y, q);
    /* the sign bit: -0.0 for "-0.0" too, as strtod */
    *out = _mm512_mask_xor_pd(q, neg, q, _mm512_set1_pd(-0.0));
    return lanes;
}

/* Rows staged before they go to the columns, and the widest rows
 * staged: written a row at a time, 51 columns cost 3.3 ns a value here
 * (each row's stores to all the columns' lines, which sit at the same
 * page offset, evict each other from L1), 8 rows of a column at a time
 * 1.2 ns (whole lines, one after another). */
#define STAGE_ROWS ((size_t)8)
#define STAGE_COLS ((size_t)256)

/* Rows [r0, r0 + k) from the stage (row-major, n values a row) to the
 * columns, a value at a time: a partial group of rows. */
static void unstage(struct orri_csv_col *cols, size_t n, const double *stage,
                    size_t r0, size_t k)
{
    for (size_t c = 0; c < n && k; c++) {
        double *to = cols[c].num + r0;
        for (size_t i = 0; i < k; i++)
            to[i] = stage[i * n + c];
    }
}

/* STAGE_ROWS rows from the stage to the columns, 8 columns at a time:
 * an 8 x 8 transpose, then one 64-byte store a column (a whole line
 * when r0 is a multiple of 8: the arrays are 64-byte aligned, see
 * data/colmem.h), rather than 8 scalar loads and stores a column. */
VBMI static void unstage8(struct orri_csv_col *cols, size_t n,
                          const double *stage, size_t r0)
{
    const __m512i lo2 = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi2 = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (size_t c0 = 0; c0 < n; c0 += 8) {
        size_t w = n - c0 < 8 ? n - c0 : 8;
        __mmask8 m = (__mmask8)((1u << w) - 1);
        const double *s = stage + c0;
        __m512d x[8], t[8], u[8];
        for (int i = 0; i < 8; i++)
            x[i] = _mm512_maskz_loadu_pd(m, s + (size_t)i * n);
        /* t: pairs of rows interleaved; u: quads; then halves */
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm512_unpacklo_pd(x[i], x[i + 1]);
            t[i + 1] = _mm512_unpackhi_pd(x[i], x[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm512_permutex2var_pd(t[i], lo2, t[i + 2]);
            u[i + 1] = _mm512_permutex2var_pd(t[i], hi2, t[i + 2]);
            u[i + 2] = _mm512_permutex2var_pd(t[i + 1], lo2, t[i + 3]);
            u[i + 3] = _mm512_permutex2var_pd(t[i + 1], hi2, t[i + 3]);
        }
        /* column j of the group: u[k] holds columns {0,4}, {2,6},
         * {1,5}, {3,7} for k = 0..3 (rows 0-3), k + 4 (rows 4-7) */
        static const int from[8] = {0, 2, 1, 3, 0, 2, 1, 3};
        for (size_t j = 0; j < w; j++) {
            int k = from[j];
            __m512d v = j < 4 ?
                _mm512_shuffle_f64x2(u[k], u[k + 4], 0x44) :
                _mm512_shuffle_f64x2(u[k], u[k + 4], 0xEE);
            _mm512_storeu_pd(cols[c0 + j].num + r0, v);
        }
    }
}

/* The field ends in b[0..64) as bits, none at or past e: every byte up
 * to ',' but '+' - comma, CR, LF, the quote that sends a record to
 * libcsv, and blanks, NUL... that no number holds.  Two compares
 * instead of one a character: a stop other than a separator ends the
 * loop at its row, which the scalar loop then reads. */
VBMI static inline uint64_t vbmi_stops(__m512i v, const char *b,
                                       const char *e)
{
    uint64_t m = _mm512_mask_cmpneq_epi8_mask(
        _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(',')), v,
        _mm512_set1_epi8('+'));
    if (e - b < 64)
        m &= ((uint64_t)1 << (e - b)) - 1;
    return m;
}

/*
 * decided_rows for rows of numeric columns only, on AVX-512: the same
 * rows, values and stops (the scalar loop takes a row this one leaves).
 * The text is read 64 bytes at a time: the field ends from one compare,
 * and up to 8 fields converted by vbmi_numbers at once; a field it does
 * not convert goes to the scalar reader, which must end exactly there.
 * Each row is checked as the scalar loop checks it (n fields, commas
 * between, a line break after; a CRLF's LF, a stop too, is skipped as
 * the scalar loop skips it); a block whose fields were all converted,
 * with commas between them and at most one row's end, an LF, is checked
 * at once, without a loop over its fields.  The numbers are staged 8
 * rows at a time (see STAGE_ROWS), the converted lanes stored there
 * directly, so that the loop over the fields (if any) does not wait for
 * them.  Blocks are read up to PAD bytes past e (the loader keeps them
 * readable), prefetched 2 KiB ahead: without, this loop waited on memory
 * (measured apart: 3.7 against 1.1 ns a field).
 */
VBMI char *orri_csv_rows_avx512(struct orri_csv_loader *ld, char *p,
                                 char *e)
{
    size_t n = ld->n_cols, r = ld->rows, cap = ld->cap, done = 0, c = 0;
    struct orri_csv_col *cols = ld->cols;
    const char *b = p, *q = p;      /* the block; the field's start */
    /* q at the block's start, from the stops alone: the next block's
     * numbers need not wait for this one's (the loop over the fields
     * waits for the numbers) */
    const char *fs = p;
    __m512i lo = _mm512_setzero_si512();
    const __m512i at = _mm512_set_epi8(
        127, 126, 125, 124, 123, 122, 121, 120, 119, 118, 117, 116, 115,
        114, 113, 112, 111, 110, 109, 108, 107, 106, 105, 104, 103, 102,
        101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86,
        85, 84, 83, 82, 81, 80, 79, 78, 77, 76, 75, 74, 73, 72, 71, 70,
        69, 68, 67, 66, 65, 64);
    /* room for the rows staged, a row begun and a block's fields */
    double stage[(STAGE_ROWS + 1) * STAGE_COLS + 128];
    size_t r0 = r, slot = 0;        /* the stage's first row; next slot */
    int lf = 0;                     /* a CR ended the last row */
    if (r >= cap || n > STAGE_COLS)
        return p;
    for (; b < e && b + 64 <= e + PAD; b += 64) {
        _mm_prefetch(b + 2048, _MM_HINT_T0);
        __m512i hi = _mm512_loadu_si512((const void *)b);
        uint64_t stops = vbmi_stops(hi, b, e);
        unsigned cnt = (unsigned)__builtin_popcountll(stops);
        const char *next = stops ? b + 64 - __builtin_clzll(stops) : fs;
        __mmask8 ok = 0;
        size_t lag = 0;                 /* LFs of CRLFs in the block */
        unsigned slow = cnt;            /* stops for the loop below */
        if (cnt && cnt <= 8) {
            /* ends as window indices (hi is 64..127); starts: the one
             * before each, + 1, the first the field's start */
            __m512i end = _mm512_cvtepu8_epi64(_mm512_castsi512_si128(
                _mm512_maskz_compress_epi8(stops, at)));
            __m512i first = _mm512_set1_epi64((long long)(fs - b) + 63);
            __m512i start = _mm512_add_epi64(
                _mm512_alignr_epi64(end, first, 7), _mm512_set1_epi64(1));
            __m512d v;
            __mmask8 all = (__mmask8)((1u << cnt) - 1);
            ok = vbmi_numbers(lo, hi, start, end, all, &v);
            /* fields go to consecutive slots: the loop below need not
             * wait for the numbers, only fix the lanes not converted */
            _mm512_mask_storeu_pd(stage + slot, all, v);
            /* The usual block needs no loop over its fields: all
             * converted, commas between them and an LF after the row's
             * last field (stop number n - 1 - c), if it is among them,
             * and no second row (its end would be taken for a comma). */
            uint64_t seps = (uint64_t)_mm_cvtsi128_si64(
                _mm512_castsi512_si128(_mm512_maskz_compress_epi8(stops,
                                                                  hi)));
            size_t last = n - 1 - c;
            uint64_t want = 0x2C2C2C2C2C2C2C2Cull;
            if (last < 8)
                want ^= (uint64_t)(',' ^ '\n') << (8 * last);
            uint64_t used = cnt == 8 ? ~(uint64_t)0 :
                                       ((uint64_t)1 << (8 * cnt)) - 1;
            if (ok == all && !lf && !((seps ^ want) & used) &&
                last + n >= cnt) {
                slow = 0;
                slot += cnt;
                c += cnt;
                q = next;
                if (c >= n) {
                    c -= n;
                    p = (char *)b + __builtin_ctzll(
                        _pdep_u64((uint64_t)1 << last, stops)) + 1;
                    r++;
                    done++;
                    if (r == cap)
                        goto out;
                }
            }
        }
        for (unsigned j = 0; j < slow; j++) {
            const char *g = b + __builtin_ctzll(stops);
            char t = *g;
            stops &= stops - 1;
            if (lf) {
                lf = 0;
                if (t == '\n' && g == q) {
                    /* its lane took a slot: the next lanes' numbers lie
                     * one slot further on than their fields' slots */
                    p = (char *)(q = g + 1);
                    lag++;
                    continue;
                }
            }
            if (c + 1 < n ? t != ',' : t != '\n' && t != '\r')
                goto out;
            if (!(ok >> j & 1)) {
                double d;
                if (orri_scan_number(q, &d) != g ||
                    (cols[c].declared_num && isinf(d)))
                    goto out;
                stage[slot] = d;
            } else if (lag) {
                stage[slot] = stage[slot + lag];
            }
            slot++;
            q = g + 1;
            if (++c < n)
                continue;
            c = 0;
            p = (char *)q;
            r++;
            done++;
            if (r == cap)
                goto out;
            /* CRLF: the LF is the next stop, and no field's end */
            lf = t == '\r' && q < e && *q == '\n';
        }
        lo = hi;
        fs = next;
        if (r > (r0 | (STAGE_ROWS - 1))) {
            /* the rows done out, up to a multiple of STAGE_ROWS (whole
             * lines of the columns from then on); a row begun moves to
             * the front */
            size_t k = r - r0, kept = slot - k * n;
            if (k == STAGE_ROWS)
                unstage8(cols, n, stage, r0);
            else
                unstage(cols, n, stage, r0, k);
            memmove(stage, stage + k * n, kept * sizeof *stage);
            r0 = r;
            slot = kept;
        }
    }
out:
    unstage(cols, n, stage, r0, r - r0);
    ld->rows = r;
    ld->record += done;
    ld->simd_rows += done;
    return p;
}
#endif
