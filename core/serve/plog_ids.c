/*
 * serve/plog_ids.c - the request ids a prediction log wrote: a ring of
 * their keys, indexed on lookup.
 */
#include "serve/plog_ids.h"

#include <stdlib.h>
#include <string.h>

uint64_t orri_plog_id_key(const char *model, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = model ? model : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
    for (const char *s = id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;               /* spread the low bits used as a slot     */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static int gen_has(const struct orri_idgen *g, uint64_t k)
{
    if (!g->n)
        return 0;
    for (size_t i = k & (g->cap - 1); g->slot[i]; i = (i + 1) & (g->cap - 1))
        if (g->slot[i] == k)
            return 1;
    return 0;
}

static void gen_clear(struct orri_idgen *g)
{
    free(g->slot);
    memset(g, 0, sizeof *g);
}

static int gen_add(struct orri_idgen *g, uint64_t k)
{
    if ((g->n + 1) * 2 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < g->cap; i++) {
            if (!g->slot[i])
                continue;
            size_t j = g->slot[i] & (cap - 1);
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = g->slot[i];
        }
        free(g->slot);
        g->slot = s;
        g->cap = cap;
    }
    size_t i = k & (g->cap - 1);
    while (g->slot[i] && g->slot[i] != k)
        i = (i + 1) & (g->cap - 1);
    if (!g->slot[i])
        g->n++;
    g->slot[i] = k;
    return 0;
}

void orri_plog_ids_init(struct orri_plog_ids *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max;
    pthread_mutex_init(&s->lock, NULL);
}

void orri_plog_ids_free(struct orri_plog_ids *s)
{
    gen_clear(&s->gen[0]);
    gen_clear(&s->gen[1]);
    free(s->ring);
    pthread_mutex_destroy(&s->lock);
}

/* Append one key (lock held). */
static void add_one(struct orri_plog_ids *s, uint64_t k)
{
    if (s->seq == s->cap && s->cap < s->max) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        if (cap > s->max)
            cap = s->max;
        uint64_t *p = realloc(s->ring, cap * sizeof *p);
        if (!p)
            return;
        s->ring = p;
        s->cap = cap;
    }
    if (!s->cap)
        return;
    s->ring[s->seq % s->cap] = k;
    s->seq++;
}

void orri_plog_ids_add(struct orri_plog_ids *s, const uint64_t *keys,
                       size_t n)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        add_one(s, keys[i]);
    pthread_mutex_unlock(&s->lock);
}

/* Index what was appended since the last lookup (lock held). */
static void index_new(struct orri_plog_ids *s)
{
    uint64_t first = s->seq > s->cap ? s->seq - s->cap : 0;
    if (s->indexed < first)
        s->indexed = first;
    for (; s->indexed < s->seq; s->indexed++) {
        uint64_t no = s->indexed / (s->max / 2);
        if (no != s->gen_no) {
            gen_clear(&s->gen[1]);
            if (no == s->gen_no + 1)
                s->gen[1] = s->gen[0];
            else
                gen_clear(&s->gen[0]);
            memset(&s->gen[0], 0, sizeof s->gen[0]);
            s->gen_no = no;
        }
        if (gen_add(&s->gen[0], s->ring[s->indexed % s->cap]))
            return;             /* no memory: indexed again next time */
    }
}

int orri_plog_ids_has(struct orri_plog_ids *s, const char *model,
                      const char *id)
{
    uint64_t k = orri_plog_id_key(model, id);
    pthread_mutex_lock(&s->lock);
    index_new(s);
    int has = gen_has(&s->gen[0], k) || gen_has(&s->gen[1], k);
    pthread_mutex_unlock(&s->lock);
    return has;
}
