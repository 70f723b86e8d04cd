/*
 * config/cfg.c - the configuration tree.
 */
#include "config/cfg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal-integer keys (array items) come first, in numeric order, so
 * {"1","2","10"} keeps sequence order; other keys follow, bytewise.
 * (Comparing numerically only when both keys are numbers is not a total
 * order: "2" < "10" < "1x" < "2" broke the binary search.) */
static int key_cmp(const char *a, const char *b)
{
    size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
    int an = la && !a[la], bn = lb && !b[lb];
    if (an != bn)
        return an ? -1 : 1;
    if (an && la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* Index of `key` in t->items, or the insertion point (negative - 1). */
static long find(const struct orr_cfg *t, const char *key, size_t len)
{
    size_t lo = 0, hi = t->n_items;
    char tmp[256];
    if (len >= sizeof tmp)
        return -1 - (long)t->n_items;   /* no key that long can exist   */
    memcpy(tmp, key, len);
    tmp[len] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(t->items[mid]->key, tmp);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - (long)lo;
}

ORR_API struct orr_cfg *orr_cfg_new_table(void)
{
    struct orr_cfg *c = calloc(1, sizeof *c);
    if (c)
        c->type = ORR_CFG_TABLE;
    return c;
}

static void free_value(struct orr_cfg *c)
{
    if (c->type == ORR_CFG_STRING) {
        free(c->v.str);
        c->v.str = NULL;
    }
    if (c->type == ORR_CFG_TABLE) {
        for (size_t i = 0; i < c->n_items; i++)
            orr_cfg_free(c->items[i]);
        free(c->items);
        c->items = NULL;
        c->n_items = c->cap_items = 0;
    }
}

ORR_API void orr_cfg_free(struct orr_cfg *c)
{
    if (!c)
        return;
    free_value(c);
    free(c->key);
    free(c->origin);
    free(c);
}

static int is_index_key(const char *k)
{
    size_t n = strspn(k, "0123456789");
    return n > 0 && !k[n] && k[0] != '0';
}

static void update_is_array(struct orr_cfg *t)
{
    /* A sequence: keys exactly "1".."n" (sorted numerically). */
    t->is_array = t->n_items > 0;
    for (size_t i = 0; i < t->n_items && t->is_array; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu", i + 1);
        t->is_array = is_index_key(t->items[i]->key) &&
                      !strcmp(t->items[i]->key, want);
    }
}

/* Find or create the child `key` of `t`, with its old value released. */
static struct orr_cfg *slot(struct orr_cfg *t, const char *key,
                            const char *origin, int keep_table)
{
    if (!t || t->type != ORR_CFG_TABLE || !key)
        return NULL;
    /* Copy the origin first: after the old value is released nothing may
     * fail, or the node would be left half-replaced. */
    char *o = origin ? strdup(origin) : NULL;
    if (origin && !o)
        return NULL;
    long at = find(t, key, strlen(key));
    struct orr_cfg *c;
    if (at >= 0) {
        c = t->items[at];
        if (!(keep_table && c->type == ORR_CFG_TABLE)) {
            free_value(c);
            c->secret = 0;      /* a new value: its setter decides      */
        }
    } else {
        if (strlen(key) >= 256)
            goto fail;
        if (t->n_items == t->cap_items) {
            size_t cap = t->cap_items ? t->cap_items * 2 : 8;
            struct orr_cfg **items = realloc(t->items, cap * sizeof *items);
            if (!items)
                goto fail;
            t->items = items;
            t->cap_items = cap;
        }
        c = calloc(1, sizeof *c);
        if (!c || !(c->key = strdup(key))) {
            free(c);
            goto fail;
        }
        size_t pos = (size_t)(-1 - at);
        memmove(t->items + pos + 1, t->items + pos,
                (t->n_items - pos) * sizeof *t->items);
        t->items[pos] = c;
        t->n_items++;
        update_is_array(t);
    }
    /* A value set without an origin has none: never keep a stale one. */
    free(c->origin);
    c->origin = o;
    return c;
fail:
    free(o);
    return NULL;
}

ORR_API struct orr_cfg *orr_cfg_set_str(struct orr_cfg *t, const char *key,
                                        const char *value, const char *origin)
{
    char *copy = strdup(value ? value : "");
    if (!copy)
        return NULL;
    struct orr_cfg *c = slot(t, key, origin, 0);
    if (!c) {
        free(copy);
        return NULL;
    }
    c->type = ORR_CFG_STRING;
    c->v.str = copy;
    return c;
}

ORR_API struct orr_cfg *orr_cfg_set_num(struct orr_cfg *t, const char *key,
                                        double value, const char *origin)
{
    struct orr_cfg *c = slot(t, key, origin, 0);
    if (c) {
        c->type = ORR_CFG_NUMBER;
        c->v.num = value;
    }
    return c;
}

ORR_API struct orr_cfg *orr_cfg_set_int(struct orr_cfg *t, const char *key,
                                        int64_t value, const char *origin)
{
    struct orr_cfg *c = slot(t, key, origin, 0);
    if (c) {
        c->type = ORR_CFG_INTEGER;
        c->v.integer = value;
    }
    return c;
}

ORR_API struct orr_cfg *orr_cfg_set_bool(struct orr_cfg *t, const char *key,
                                         int value, const char *origin)
{
    struct orr_cfg *c = slot(t, key, origin, 0);
    if (c) {
        c->type = ORR_CFG_BOOLEAN;
        c->v.boolean = value != 0;
    }
    return c;
}

ORR_API struct orr_cfg *orr_cfg_set_table(struct orr_cfg *t, const char *key,
                                          const char *origin)
{
    struct orr_cfg *c = slot(t, key, origin, 1);
    if (c && c->type != ORR_CFG_TABLE) {
        c->type = ORR_CFG_TABLE;
        c->items = NULL;
        c->n_items = c->cap_items = 0;
        c->is_array = 0;
    }
    return c;
}

ORR_API int orr_cfg_merge(struct orr_cfg *dst, const struct orr_cfg *src)
{
    if (!dst || dst->type != ORR_CFG_TABLE || !src ||
        src->type != ORR_CFG_TABLE)
        return ORR_EINVAL;
    for (size_t i = 0; i < src->n_items; i++) {
        const struct orr_cfg *s = src->items[i];
        struct orr_cfg *d = NULL;
        switch (s->type) {
        case ORR_CFG_STRING:
            d = orr_cfg_set_str(dst, s->key, s->v.str, s->origin);
            break;
        case ORR_CFG_NUMBER:
            d = orr_cfg_set_num(dst, s->key, s->v.num, s->origin);
            break;
        case ORR_CFG_INTEGER:
            d = orr_cfg_set_int(dst, s->key, s->v.integer, s->origin);
            break;
        case ORR_CFG_BOOLEAN:
            d = orr_cfg_set_bool(dst, s->key, s->v.boolean, s->origin);
            break;
        case ORR_CFG_TABLE:
            d = orr_cfg_set_table(dst, s->key, s->origin);
            /* An array replaces an array wholesale; tables merge. */
            if (d && s->is_array)
                free_value(d);  /* keeps type TABLE, drops children */
            if (d && orr_cfg_merge(d, s))
                return ORR_ENOMEM;
            break;
        }
        if (!d)
            return ORR_ENOMEM;
        d->secret = s->secret;
    }
    return ORR_OK;
}

ORR_API const struct orr_cfg *orr_cfg_get(const struct orr_cfg *t,
                                          const char *path)
{
    if (!path)
        return NULL;
    while (t && t->type == ORR_CFG_TABLE) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        long at = find(t, path, len);
        if (at < 0)
            return NULL;
        t = t->items[at];
        if (!dot)
            return t;
        path = dot + 1;
    }
    return NULL;
}

ORR_API const char *orr_cfg_str(const struct orr_cfg *t, const char *path,
                                const char *def)
{
    const struct orr_cfg *c = orr_cfg_get(t, path);
    return c && c->type == ORR_CFG_STRING ? c->v.str : def;
}

ORR_API double orr_cfg_num(const struct orr_cfg *t, const char *path,
                           double def)
{
    const struct orr_cfg *c = orr_cfg_get(t, path);
    if (c && c->type == ORR_CFG_NUMBER)
        return c->v.num;
    if (c && c->type == ORR_CFG_INTEGER)
        return (double)c->v.integer;
    return def;
}

ORR_API int64_t orr_cfg_int(const struct orr_cfg *t, const char *path,
                            int64_t def)
{
    const struct orr_cfg *c = orr_cfg_get(t, path);
    if (c && c->type == ORR_CFG_INTEGER)
        return c->v.integer;
    /* A double that is an exact integer in range counts as one. */
    if (c && c->type == ORR_CFG_NUMBER && c->v.num == floor(c->v.num) &&
        fabs(c->v.num) < 9.2e18)
        return (int64_t)c->v.num;
    return def;
}

ORR_API int orr_cfg_bool(const struct orr_cfg *t, const char *path, int def)
{
    const struct orr_cfg *c = orr_cfg_get(t, path);
    return c && c->type == ORR_CFG_BOOLEAN ? c->v.boolean : def;
}

ORR_API const struct orr_cfg *orr_cfg_child(const struct orr_cfg *t,
                                            const char *path)
{
    const struct orr_cfg *c = orr_cfg_get(t, path);
    return c && c->type == ORR_CFG_TABLE ? c : NULL;
}

ORR_API const char *orr_cfg_scalar_text(const struct orr_cfg *c, char *out,
                                        size_t cap)
{
    if (!c || !cap)
        return NULL;
    switch (c->type) {
    case ORR_CFG_STRING:
        return c->v.str;
    case ORR_CFG_INTEGER:
        snprintf(out, cap, "%lld", (long long)c->v.integer);
        return out;
    case ORR_CFG_BOOLEAN:
        snprintf(out, cap, "%s", c->v.boolean ? "true" : "false");
        return out;
    case ORR_CFG_NUMBER:
        /* Shortest precision that reads back as the same double. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, c->v.num);
            if (strtod(out, NULL) == c->v.num)
                break;
        }
        return out;
    case ORR_CFG_TABLE:
        break;
    }
    return NULL;
}

ORR_API int orr_cfg_each(const struct orr_cfg *t, orr_cfg_fn fn, void *ctx)
{
    if (!t || t->type != ORR_CFG_TABLE)
        return ORR_OK;
    for (size_t i = 0; i < t->n_items; i++) {
        char text[64];
        const char *v = orr_cfg_scalar_text(t->items[i], text, sizeof text);
        int rc = fn(ctx, t->items[i]->key, v);
        if (rc)
            return rc;
    }
    return ORR_OK;
}
