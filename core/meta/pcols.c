/*
 * meta/pcols.c - compact small columns of prediction chunks (pcols.h).
 */
#include "meta/pcols.h"

#include <string.h>

#include <orrery/status.h>

#include "meta/predictions.h"

#define VARINT_MAX 10

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t k = 0;
    while (v >= 0x80) {
        p[k++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[k++] = (unsigned char)v;
    return k;
}

/* Reads a varint at *p (before end); 0 when malformed or cut short. */
static int get_varint(const unsigned char **p, const unsigned char *end,
                      uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0, k = 0; k < VARINT_MAX && *p < end; k++, shift += 7) {
        unsigned char b = *(*p)++;
        /* The tenth byte holds the top bit only. */
        if (k == VARINT_MAX - 1 && b > 1)
            return 0;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int orri_pcols_encode(size_t n, const char *ids, const unsigned char *ts,
                      const unsigned char *latency,
                      const unsigned char *rows, struct orri_pcols *out)
{
    const char *end = ids;
    for (size_t i = 0; i < n; i++)
        end += strlen(end) + 1;
    size_t ids_len = (size_t)(end - ids);
    orri_buf_reset(&out->buf);
    if (n > (SIZE_MAX - ids_len) / (4 * VARINT_MAX) ||
        orri_buf_reserve(&out->buf, ids_len + 4 * VARINT_MAX * n))
        return ORR_ENOMEM;
    unsigned char *base = (unsigned char *)out->buf.data, *p = base;
    const char *prev = "", *id = ids;
    size_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(id), same = 0;
        while (same < len && same < prev_len && id[same] == prev[same])
            same++;
        p += put_varint(p, same);
        memcpy(p, id + same, len - same + 1);
        p += len - same + 1;
        prev = id;
        prev_len = len;
        id += len + 1;
    }
    out->off[0] = 0;
    out->len[0] = (size_t)(p - base);
    const unsigned char *col[3] = {ts, latency, rows};
    for (int c = 0; c < 3; c++) {
        out->off[c + 1] = (size_t)(p - base);
        int64_t before = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t v = orri_i64_from_le(col[c] + 8 * i);
            /* Wraps for times 2^63 apart only, and unwraps the same. */
            p += put_varint(p, zigzag(c == 0 ? (int64_t)((uint64_t)v -
                                                         (uint64_t)before)
                                             : v));
            before = v;
        }
        out->len[c + 1] = (size_t)(p - base) - out->off[c + 1];
    }
    out->buf.len = (size_t)(p - base);
    out->buf.data[out->buf.len] = '\0';
    return ORR_OK;
}

int orri_pcols_expand_ids(const void *src, size_t len, size_t n,
                          struct orr_buf *out)
{
    const unsigned char *p = src, *end = p + len;
    orri_buf_reset(out);
    size_t prev_at = 0, prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t same;
        if (!get_varint(&p, end, &same) || same > prev_len)
            return ORR_EINVAL;
        const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul)
            return ORR_EINVAL;
        size_t rest = (size_t)(nul - p);
        size_t at = out->len;
        /* The prefix is copied from the id before, which may move. */
        if (orri_buf_reserve(out, (size_t)same + rest + 1))
            return ORR_ENOMEM;
        memcpy(out->data + at, out->data + prev_at, (size_t)same);
        memcpy(out->data + at + same, p, rest + 1);
        out->len = at + (size_t)same + rest + 1;
        prev_at = at;
        prev_len = (size_t)same + rest;
        p = nul + 1;
    }
    if (out->data)
        out->data[out->len] = '\0';
    return p == end && n ? ORR_OK : ORR_EINVAL;
}

int orri_pcols_expand_i64(const void *src, size_t len, size_t n, int delta,
                          struct orr_buf *out)
{
    const unsigned char *p = src, *end = p + len;
    orri_buf_reset(out);
    if (n > SIZE_MAX / 8 || orri_buf_reserve(out, 8 * n))
        return ORR_ENOMEM;
    int64_t before = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        if (!get_varint(&p, end, &u))
            return ORR_EINVAL;
        int64_t v = unzigzag(u);
        if (delta)
            v = (int64_t)((uint64_t)before + (uint64_t)v);
        orri_i64_to_le(out->data + 8 * i, v);
        before = v;
    }
    out->len = 8 * n;
    out->data[out->len] = '\0';
    return p == end && n ? ORR_OK : ORR_EINVAL;
}

void orri_pcols_free(struct orri_pcols *c)
{
    if (c)
        orri_buf_free(&c->buf);
}
