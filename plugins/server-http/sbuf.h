/*
 * sbuf.h - a growable text buffer for response bodies (malloc'ed, so the
 * finished text can be handed to libmicrohttpd, which frees it).
 */
#ifndef ORR_SERVER_HTTP_SBUF_H
#define ORR_SERVER_HTTP_SBUF_H

#include <stddef.h>

struct sbuf {
    char  *p;
    size_t len, cap;
    int    oom;         /* an append failed: the text is incomplete        */
};

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
/* `v` in decimal (what %llu prints). */
void sbuf_uint(struct sbuf *b, unsigned long long v);
/* `s` as a JSON string literal, quotes included. */
void sbuf_json_str(struct sbuf *b, const char *s);
/* A double as JSON: the shortest of %.15g, %.16g, %.17g that reads back
 * exactly (printf-free for most values, the same bytes); null when not
 * finite (JSON has no NaN). */
void sbuf_json_num(struct sbuf *b, double v);
void sbuf_free(struct sbuf *b);

#endif
