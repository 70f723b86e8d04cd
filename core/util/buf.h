/*
 * util/buf.h - a growable byte buffer, always NUL-terminated.
 *
 *     struct orr_buf b = ORR_BUF_INIT;
 *     orr_buf_printf(&b, "%d steps", n);
 *     ... b.data ...
 *     orr_buf_free(&b);
 *
 * Append functions return ORR_OK or ORR_ENOMEM; after a failure the buffer
 * keeps its previous contents.
 */
#ifndef ORRI_UTIL_BUF_H
#define ORRI_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct orr_buf {
    char  *data;    /* NULL until the first append                          */
    size_t len;     /* bytes used, terminator excluded                      */
    size_t cap;
};

#define ORR_BUF_INIT {NULL, 0, 0}

int  orri_buf_reserve(struct orr_buf *b, size_t extra);
int  orri_buf_append(struct orr_buf *b, const void *data, size_t len);
int  orri_buf_puts(struct orr_buf *b, const char *s);
int  orri_buf_printf(struct orr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int  orri_buf_vprintf(struct orr_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hand the string to the caller (free() it); the buffer is left empty.
 * Returns "" duplicated when nothing was appended, NULL on ENOMEM. */
char *orri_buf_take(struct orr_buf *b);
void orri_buf_reset(struct orr_buf *b);    /* len = 0, keeps memory        */
void orri_buf_free(struct orr_buf *b);

#endif
