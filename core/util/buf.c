/*
 * util/buf.c - growable byte buffer.
 */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orrery/status.h>

int orri_buf_reserve(struct orr_buf *b, size_t extra)
{
    if (extra > (size_t)-1 / 2 - b->len)
        return ORR_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return ORR_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return ORR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return ORR_OK;
}

int orri_buf_append(struct orr_buf *b, const void *data, size_t len)
{
    if (orri_buf_reserve(b, len))
        return ORR_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return ORR_OK;
}

int orri_buf_puts(struct orr_buf *b, const char *s)
{
    return orri_buf_append(b, s, strlen(s));
}

int orri_buf_vprintf(struct orr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || orri_buf_reserve(b, (size_t)n))
        return ORR_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ORR_OK;
}

int orri_buf_printf(struct orr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = orri_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *orri_buf_take(struct orr_buf *b)
{
    if (!b->data) {
        if (orri_buf_reserve(b, 0))
            return NULL;
        b->data[0] = '\0';
    }
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void orri_buf_reset(struct orr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void orri_buf_free(struct orr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
