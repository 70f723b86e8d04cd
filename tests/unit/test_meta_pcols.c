/*
 * test_meta_pcols.c - core/meta/pcols.c: compact small columns of a
 * prediction chunk expand to exactly the plain ones, are small for a
 * server's ids, and malformed bytes are refused, never over-read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/pcols.h"
#include "meta/predictions.h"
#include "test.h"

#define N 500

static char ids[N * 40];
static size_t ids_len;
static unsigned char ts[8 * N], lat[8 * N], rows[8 * N];

/* n ids in the server's form "<16 hex>-<sequence>", with a few client
 * ids (and one empty) between; times mostly rising, a step back, the
 * extremes of int64. */
static void fill(size_t n)
{
    ids_len = 0;
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int len = i % 97 == 5 ? snprintf(ids + ids_len, 40, "client-%llu",
                                         (unsigned long long)(r % 1000))
                : i == 7      ? 0
                              : snprintf(ids + ids_len, 40,
                                         "5f0e2a9c41d7b3e8-%zu", 1000 + i);
        ids_len += (size_t)len + 1;
        ids[ids_len - 1] = '\0';
        int64_t t = i == 3 ? INT64_MIN : i == 4 ? INT64_MAX
                  : 1700000000000LL + (int64_t)(i * 3) - (i == 9 ? 50 : 0);
        orri_i64_to_le(ts + 8 * i, t);
        orri_i64_to_le(lat + 8 * i, i == 11 ? -5 : (int64_t)(r % 5000));
        orri_i64_to_le(rows + 8 * i, i == 12 ? INT64_MAX : 1 + (int64_t)(i % 3));
    }
}

static void test_round_trip(void)
{
    fill(N);
    struct orri_pcols c = {ORR_BUF_INIT, {0}, {0}};
    CHECK_INT(orri_pcols_encode(N, ids, ts, lat, rows, &c), ORR_OK);
    const unsigned char *b = (const unsigned char *)c.buf.data;
    struct orr_buf out = ORR_BUF_INIT;
    CHECK_INT(orri_pcols_expand_ids(b + c.off[0], c.len[0], N, &out),
              ORR_OK);
    CHECK_INT((int)out.len, (int)ids_len);
    CHECK(memcmp(out.data, ids, ids_len) == 0);
    const unsigned char *plain[3] = {ts, lat, rows};
    for (int k = 0; k < 3; k++) {
        CHECK_INT(orri_pcols_expand_i64(b + c.off[k + 1], c.len[k + 1], N,
                                        k == 0, &out), ORR_OK);
        CHECK_INT((int)out.len, 8 * N);
        CHECK(memcmp(out.data, plain[k], 8 * N) == 0);
    }
    /* Compact: a server's ids cost a few bytes each, times a byte. */
    CHECK(c.len[0] < ids_len / 4);
    CHECK(c.len[1] < 2 * N);
    /* Re-encoding into the same buffer starts afresh. */
    fill(1);
    CHECK_INT(orri_pcols_encode(1, ids, ts, lat, rows, &c), ORR_OK);
    CHECK_INT((int)c.len[0], (int)strlen(ids) + 2);
    CHECK_INT(orri_pcols_expand_ids(c.buf.data, c.len[0], 1, &out), ORR_OK);
    CHECK_STR(out.data, ids);
    orri_buf_free(&out);
    orri_pcols_free(&c);
}

static int ids_ok(const char *bytes, size_t len, size_t n)
{
    struct orr_buf out = ORR_BUF_INIT;
    int rc = orri_pcols_expand_ids(bytes, len, n, &out);
    orri_buf_free(&out);
    return rc;
}

static int i64_ok(const char *bytes, size_t len, size_t n)
{
    struct orr_buf out = ORR_BUF_INIT;
    int rc = orri_pcols_expand_i64(bytes, len, n, 1, &out);
    orri_buf_free(&out);
    return rc;
}

static void test_malformed(void)
{
    /* "ab", then "abc" sharing 2. */
    CHECK_INT(ids_ok("\0ab\0\2c", 7, 2), ORR_OK);
    CHECK_INT(ids_ok("\0ab\0\3c", 7, 2), ORR_EINVAL);   /* prefix > 2   */
    CHECK_INT(ids_ok("\0ab\0\2c", 6, 2), ORR_EINVAL);   /* no NUL       */
    CHECK_INT(ids_ok("\0ab\0\2c", 7, 3), ORR_EINVAL);   /* too few      */
    CHECK_INT(ids_ok("\0ab\0\2c", 7, 1), ORR_EINVAL);   /* bytes left   */
    CHECK_INT(ids_ok("\x80", 1, 1), ORR_EINVAL);        /* cut varint   */
    CHECK_INT(ids_ok("", 0, 0), ORR_EINVAL);            /* no ids       */
    CHECK_INT(i64_ok("\x02\x04", 2, 2), ORR_OK);
    CHECK_INT(i64_ok("\x02\x04", 2, 3), ORR_EINVAL);
    CHECK_INT(i64_ok("\x02\x04", 2, 1), ORR_EINVAL);
    CHECK_INT(i64_ok("\x82", 1, 1), ORR_EINVAL);
    /* Ten bytes is the most; the tenth holds one bit. */
    CHECK_INT(i64_ok("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, 1),
              ORR_OK);
    CHECK_INT(i64_ok("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, 1),
              ORR_EINVAL);
    CHECK_INT(i64_ok("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 11, 1),
              ORR_EINVAL);
}

TEST_MAIN({"round_trip", test_round_trip}, {"malformed", test_malformed})
