/*
 * meta/metrics.c - metric points: the in-memory buffer, its batched
 * commits as chunk rows, and reading a series back.
 *
 * Logging a point costs two hash lookups and an append: the key is
 * interned per connection (its metric_keys row is resolved at the first
 * commit that needs it) and the point goes to its (run, key) series.  A
 * commit writes each buffered series as chunks of up to ORRI_CHUNK_POINTS
 * points (codec 1: int64 step, int64 time_ms, float64 value, little-endian;
 * the raw bits keep NaN, which a REAL column would turn into NULL) and
 * upserts the series' summary row.  docs/metadata.md has the reasons.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_internal.h"
#include "util/error.h"

/* Series entries kept between commits; beyond this they are dropped after
 * a commit so a process touching many runs does not grow forever. */
#define SERIES_KEEP     4096
/* A series' point array larger than this is freed after a commit. */
#define PTS_KEEP        16384

static uint64_t hash_bytes(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603u;      /* FNV-1a */
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (; p[n]; n++) {
        h ^= p[n];
        h *= 1099511628211u;
    }
    *len = n;
    return h;
}

static uint64_t hash_series(int64_t run, uint32_t key)
{
    uint64_t h = (uint64_t)run * 0x9E3779B97F4A7C15u ^ key;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    return h ^ (h >> 32);
}

/* Rebuild an index of `n_slots` (a power of 2) over `n` entries. */
static int reindex(uint32_t **slots, size_t *n_slots, size_t want,
                   size_t n, uint64_t (*hash_of)(const void *, size_t),
                   const void *entries)
{
    uint32_t *s = calloc(want, sizeof *s);
    if (!s)
        return ORR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t j = hash_of(entries, i) & (want - 1);
        while (s[j])
            j = (j + 1) & (want - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(*slots);
    *slots = s;
    *n_slots = want;
    return ORR_OK;
}

static uint64_t key_hash_of(const void *entries, size_t i)
{
    return ((const struct orri_key *)entries)[i].hash;
}

static uint64_t series_hash_of(const void *entries, size_t i)
{
    const struct orri_series *s = (const struct orri_series *)entries + i;
    return hash_series(s->run, s->key);
}

/* Grow an array of `size`-byte entries to hold one more. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return ORR_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * size);
    if (!p)
        return ORR_ENOMEM;
    *arr = p;
    *cap = nc;
    return ORR_OK;
}

static int key_intern(struct orr_meta *m, const char *name, size_t len,
                      uint64_t hash, uint32_t *out)
{
    if ((m->n_keys + 1) * 2 > m->n_key_slots) {
        size_t want = m->n_key_slots ? m->n_key_slots * 2 : 64;
        if (reindex(&m->key_slots, &m->n_key_slots, want, m->n_keys,
                    key_hash_of, m->keys))
            return ORR_ENOMEM;
    }
    size_t mask = m->n_key_slots - 1, j = hash & mask;
    for (; m->key_slots[j]; j = (j + 1) & mask) {
        const struct orri_key *k = &m->keys[m->key_slots[j] - 1];
        if (k->hash == hash && k->len == len && !memcmp(k->name, name, len)) {
            *out = m->key_slots[j] - 1;
            return ORR_OK;
        }
    }
    if (grow((void **)&m->keys, &m->cap_keys, m->n_keys, sizeof *m->keys))
        return ORR_ENOMEM;
    char *copy = malloc(len + 1);
    if (!copy)
        return ORR_ENOMEM;
    memcpy(copy, name, len + 1);
    m->keys[m->n_keys] = (struct orri_key){copy, len, hash, 0, 0};
    m->key_slots[j] = (uint32_t)++m->n_keys;
    *out = (uint32_t)(m->n_keys - 1);
    return ORR_OK;
}

static int series_get(struct orr_meta *m, int64_t run, uint32_t key,
                      struct orri_series **out)
{
    if ((m->n_series + 1) * 2 > m->n_series_slots) {
        size_t want = m->n_series_slots ? m->n_series_slots * 2 : 64;
        if (reindex(&m->series_slots, &m->n_series_slots, want, m->n_series,
                    series_hash_of, m->series))
            return ORR_ENOMEM;
    }
    size_t mask = m->n_series_slots - 1, j = hash_series(run, key) & mask;
    for (; m->series_slots[j]; j = (j + 1) & mask) {
        struct orri_series *s = &m->series[m->series_slots[j] - 1];
        if (s->run == run && s->key == key) {
            *out = s;
            return ORR_OK;
        }
    }
    if (grow((void **)&m->series, &m->cap_series, m->n_series,
             sizeof *m->series))
        return ORR_ENOMEM;
    m->series[m->n_series] = (struct orri_series){run, key, NULL, 0, 0};
    m->series_slots[j] = (uint32_t)++m->n_series;
    *out = &m->series[m->n_series - 1];
    return ORR_OK;
}

static void drop_series(struct orr_meta *m)
{
    for (size_t i = 0; i < m->n_series; i++)
        free(m->series[i].pts);
    free(m->series);
    free(m->series_slots);
    m->series = NULL;
    m->series_slots = NULL;
    m->n_series = m->cap_series = m->n_series_slots = 0;
}

void orri_meta_metrics_free(struct orr_meta *m)
{
    drop_series(m);
    for (size_t i = 0; i < m->n_keys; i++)
        free(m->keys[i].name);
    free(m->keys);
    free(m->key_slots);
    m->keys = NULL;
    m->key_slots = NULL;
    m->n_keys = m->cap_keys = m->n_key_slots = 0;
    m->pending = 0;
}

ORR_API int orr_meta_log_metric(struct orr_meta *m, const char *run_id,
                                const char *key, double value, int64_t step,
                                struct orr_error *e)
{
    size_t len = 0;
    uint64_t hash = key ? hash_bytes(key, &len) : 0;
    int rc = orri_meta_check_key(key, len, "metric", e);
    if (rc)
        return rc;
    int64_t run = 0;
    uint32_t k = 0;
    struct orri_series *s = NULL;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_run_rowid(m, run_id, &run, e);
    /* Commits keep failing: stop growing, report why. */
    if (!rc && m->pending >= ORRI_BUFFER_HARD_MAX)
        rc = orri_meta_flush_locked(m, e);
    if (rc)
        goto out;
    if (key_intern(m, key, len, hash, &k) || series_get(m, run, k, &s) ||
        grow((void **)&s->pts, &s->cap, s->n, sizeof *s->pts)) {
        rc = orr_fail(e, ORR_ENOMEM, "buffering metric '%s': out of memory",
                      key);
        goto out;
    }
    int64_t now = orri_now_ms();
    s->pts[s->n++] = (struct orri_point){step, now, value};
    m->pending++;
    /* now < last: the clock went back; commit rather than wait for it. */
    if (m->pending >= ORRI_FLUSH_POINTS ||
        now - m->last_commit_ms >= ORRI_FLUSH_MS || now < m->last_commit_ms)
        rc = orri_meta_flush_locked(m, e);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- commit ----------------------------------------------------------- */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int key_resolve(struct orr_meta *m, struct orri_key *k,
                       struct orr_error *e)
{
    sqlite3_stmt *st = m->st[ORRI_ST_KEY_INSERT];
    sqlite3_bind_text(st, 1, k->name, (int)k->len, SQLITE_STATIC);
    int rc = orri_meta_exec(m, ORRI_ST_KEY_INSERT, e, "recording a metric");
    if (rc)
        return rc;
    st = m->st[ORRI_ST_KEY_GET];
    sqlite3_bind_text(st, 1, k->name, (int)k->len, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        k->db_id = sqlite3_column_int64(st, 0);
        k->gen = m->gen;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (src != SQLITE_ROW)
        return orri_meta_sqlfail(m, src == SQLITE_DONE ? SQLITE_ERROR : src,
                                 e, "reading a metric key");
    return ORR_OK;
}

static int write_chunk(struct orr_meta *m, const struct orri_series *s,
                       int64_t key_id, const struct orri_point *p, size_t n,
                       struct orr_error *e)
{
    int64_t lo = p[0].step, hi = p[0].step;
    unsigned char *b = m->chunk;
    for (size_t i = 0; i < n; i++, b += ORRI_POINT_BYTES) {
        uint64_t bits;
        memcpy(&bits, &p[i].value, sizeof bits);
        put64(b, (uint64_t)p[i].step);
        put64(b + 8, (uint64_t)p[i].time_ms);
        put64(b + 16, bits);
        lo = p[i].step < lo ? p[i].step : lo;
        hi = p[i].step > hi ? p[i].step : hi;
    }
    sqlite3_stmt *st = m->st[ORRI_ST_CHUNK_INSERT];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_int64(st, 2, key_id);
    sqlite3_bind_int64(st, 3, (int64_t)n);
    sqlite3_bind_int64(st, 4, lo);
    sqlite3_bind_int64(st, 5, hi);
    sqlite3_bind_blob(st, 6, m->chunk, (int)(n * ORRI_POINT_BYTES),
                      SQLITE_STATIC);
    return orri_meta_exec(m, ORRI_ST_CHUNK_INSERT, e, "writing metrics");
}

/* Bind a double, or NULL when it is NaN (SQLite would store NULL anyway);
 * `have` = 0 binds NULL too. */
static void bind_real(sqlite3_stmt *st, int col, double v, int have)
{
    if (!have || isnan(v))
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_double(st, col, v);
}

static int write_series(struct orr_meta *m, struct orri_series *s,
                        struct orr_error *e)
{
    struct orri_key *k = &m->keys[s->key];
    int rc = k->db_id ? ORR_OK : key_resolve(m, k, e);
    for (size_t off = 0; !rc && off < s->n; off += ORRI_CHUNK_POINTS) {
        size_t n = s->n - off < ORRI_CHUNK_POINTS ? s->n - off
                                                  : ORRI_CHUNK_POINTS;
        rc = write_chunk(m, s, k->db_id, s->pts + off, n, e);
    }
    if (rc)
        return rc;
    /* Latest = highest step, the later logged on a tie. */
    const struct orri_point *last = &s->pts[0];
    double lo = 0, hi = 0;
    int finite = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct orri_point *p = &s->pts[i];
        if (p->step >= last->step)
            last = p;
        if (isnan(p->value))
            continue;
        if (!finite || p->value < lo)
            lo = p->value;
        if (!finite || p->value > hi)
            hi = p->value;
        finite = 1;
    }
    sqlite3_stmt *st = m->st[ORRI_ST_SERIES_UPSERT];
    sqlite3_bind_int64(st, 1, s->run);
    sqlite3_bind_int64(st, 2, k->db_id);
    sqlite3_bind_int64(st, 3, (int64_t)s->n);
    sqlite3_bind_int64(st, 4, last->step);
    sqlite3_bind_int64(st, 5, last->time_ms);
    bind_real(st, 6, last->value, 1);
    bind_real(st, 7, lo, finite);
    bind_real(st, 8, hi, finite);
    return orri_meta_exec(m, ORRI_ST_SERIES_UPSERT, e, "writing metrics");
}

int orri_meta_flush_locked(struct orr_meta *m, struct orr_error *e)
{
    if (m->pending == 0) {
        m->last_commit_ms = orri_now_ms();
        return ORR_OK;
    }
    int rc = orri_meta_begin(m, e);
    if (rc)
        return rc;
    m->gen++;
    for (size_t i = 0; !rc && i < m->n_series; i++)
        if (m->series[i].n)
            rc = write_series(m, &m->series[i], e);
    if (!rc)
        rc = orri_meta_commit(m, e);
    else
        orri_meta_rollback(m);
    if (rc) {
        /* The buffer is intact and will be retried; key rows inserted by
         * the rolled-back transaction do not exist. */
        for (size_t i = 0; i < m->n_keys; i++)
            if (m->keys[i].gen == m->gen)
                m->keys[i].db_id = 0;
        return rc;
    }
    for (size_t i = 0; i < m->n_series; i++) {
        struct orri_series *s = &m->series[i];
        s->n = 0;
        if (s->cap > PTS_KEEP) {
            free(s->pts);
            s->pts = NULL;
            s->cap = 0;
        }
    }
    if (m->n_series > SERIES_KEEP)
        drop_series(m);
    m->pending = 0;
    m->last_commit_ms = orri_now_ms();
    return ORR_OK;
}

/* ---- reading a series ------------------------------------------------- */

struct seq_point {
    struct orr_metric_point p;
    size_t                  seq;    /* read order: chunk order, then index */
};

static int cmp_step(const void *a, const void *b)
{
    const struct seq_point *x = a, *y = b;
    if (x->p.step != y->p.step)
        return x->p.step < y->p.step ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Decode every chunk of (run, key_id) into *out. */
static int read_chunks(struct orr_meta *m, int64_t run, int64_t key_id,
                       struct seq_point **out, size_t *n_out,
                       struct orr_error *e)
{
    struct seq_point *pts = NULL;
    size_t n = 0, cap = 0;
    int rc = ORR_OK, src;
    sqlite3_stmt *st = m->st[ORRI_ST_CHUNK_READ];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, key_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t cn = sqlite3_column_int64(st, 0);
        int codec = sqlite3_column_int(st, 1);
        const unsigned char *b = sqlite3_column_blob(st, 2);
        size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
        if (codec != ORRI_CODEC_RAW24LE) {
            rc = orr_fail(e, ORR_EUNSUPPORTED, "metric chunk codec %d in %s "
                          "is unknown to this orrery: upgrade orrery", codec,
                          m->path);
            break;
        }
        if (cn <= 0 || cn > ORRI_CHUNK_POINTS * 64 ||
            bytes != (size_t)cn * ORRI_POINT_BYTES) {
            rc = orr_fail(e, ORR_ECORRUPT, "%s: a metric chunk holds %zu "
                          "bytes for %lld points", m->path, bytes,
                          (long long)cn);
            break;
        }
        if (n + (size_t)cn > cap) {
            size_t nc = cap ? cap : 1024;
            while (nc < n + (size_t)cn)
                nc *= 2;
            struct seq_point *np = realloc(pts, nc * sizeof *np);
            if (!np) {
                rc = orr_fail(e, ORR_ENOMEM, "reading metrics: out of "
                              "memory");
                break;
            }
            pts = np;
            cap = nc;
        }
        for (int64_t i = 0; i < cn; i++, b += ORRI_POINT_BYTES, n++) {
            uint64_t bits = get64(b + 16);
            pts[n].p.step = (int64_t)get64(b);
            pts[n].p.time_ms = (int64_t)get64(b + 8);
            memcpy(&pts[n].p.value, &bits, sizeof bits);
            pts[n].seq = n;
        }
    }
    if (!rc && src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "reading metrics");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc) {
        free(pts);
        return rc;
    }
    *out = pts;
    *n_out = n;
    return ORR_OK;
}

ORR_API int orr_meta_metric_series(struct orr_meta *m, const char *run_id,
                                   const char *key,
                                   int (*fn)(void *ctx,
                                             const struct orr_metric_point *p),
                                   void *ctx, struct orr_error *e)
{
    size_t len = key ? strlen(key) : 0;
    int rc = orri_meta_check_key(key, len, "metric", e);
    if (rc)
        return rc;
    int64_t run = 0, key_id = 0;
    struct seq_point *pts = NULL;
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_run_rowid(m, run_id, &run, e);
    if (!rc)
        rc = orri_meta_flush_locked(m, e);
    if (!rc) {
        sqlite3_stmt *st = m->st[ORRI_ST_KEY_GET];
        sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            key_id = sqlite3_column_int64(st, 0);
        else if (src != SQLITE_DONE)
            rc = orri_meta_sqlfail(m, src, e, "reading a metric key");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (!rc && key_id)
        rc = read_chunks(m, run, key_id, &pts, &n, e);
    pthread_mutex_unlock(&m->lock);
    if (!rc && n == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "run %s has no metric '%s'", run_id,
                      key);
    if (!rc) {
        int sorted = 1;
        for (size_t i = 1; sorted && i < n; i++)
            sorted = pts[i - 1].p.step <= pts[i].p.step;
        if (!sorted)
            qsort(pts, n, sizeof *pts, cmp_step);
        for (size_t i = 0; !rc && i < n; i++)
            rc = fn(ctx, &pts[i].p);
    }
    free(pts);
    return rc;
}
