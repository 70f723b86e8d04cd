/*
 * test_storage_suite.c - the storage conformance suite has teeth.
 *
 * A small in-memory backend, correct by default, passes every check; each
 * deliberately broken variant (no verification on read, unchecked keys,
 * duplicates, partial blobs after a failed read, ...) must make the check
 * that guards that rule fail, and say so in the report.
 */
#define _GNU_SOURCE     /* open_memstream on older libcs */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orrery/conformance/storage.h>
#include <orrery/conformance/test_host.h>

#include "test.h"

enum broken {
    OK_BACKEND = 0,
    NO_VERIFY = 1 << 0,         /* get does not check the digest          */
    ANY_KEY = 1 << 1,           /* keys are not validated                  */
    LIST_ALL = 1 << 2,          /* list ignores the prefix                 */
    DUPLICATES = 1 << 3,        /* the same bytes stored twice             */
    PARTIAL = 1 << 4,           /* a failed read still stores a blob       */
    NO_STOP = 1 << 5,           /* list ignores the callback's stop        */
    SWALLOW = 1 << 6,           /* get ignores the writer's failure        */
    SHORT_IS_EOF = 1 << 7,      /* put stops at the first short read       */
};

static unsigned broken;

struct blob {
    char           d[ORR_DIGEST_HEX_LEN + 1];
    unsigned char *p;
    size_t         len;
};

static struct {
    pthread_mutex_t mu;
    struct blob    *b;
    size_t          n, cap;
} store = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static const struct orr_host *H;

static void store_clear(void)
{
    for (size_t i = 0; i < store.n; i++)
        free(store.b[i].p);
    free(store.b);
    store.b = NULL;
    store.n = store.cap = 0;
}

static int valid(const char *s, size_t max, int exact)
{
    size_t n = 0;
    if (!s)
        return 0;
    while (n <= max && ((s[n] >= '0' && s[n] <= '9') ||
                        (s[n] >= 'a' && s[n] <= 'f')))
        n++;
    return s[n] == '\0' && (exact ? n == max : n <= max);
}

static int check_key(const char *d, struct orr_error *e)
{
    if (broken & ANY_KEY)
        return ORR_OK;
    if (!valid(d, ORR_DIGEST_HEX_LEN, 1))
        return H->fail(e, ORR_EINVAL, "invalid digest '%s'", d ? d : "");
    return ORR_OK;
}

static long find(const char *d)
{
    for (size_t i = 0; i < store.n; i++)
        if (!strcmp(store.b[i].d, d))
            return (long)i;
    return -1;
}

static int m_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    (void)self, (void)e;
    return H->cfg_bool(cfg, "fail_open", 0)
               ? H->fail(e, ORR_ECONFIG, "told to fail")
               : ORR_OK;
}

static void m_close(void *self)
{
    (void)self;
}

static int m_put(void *self, orr_read_fn read, void *ctx, int64_t hint,
                 char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e)
{
    (void)self, (void)hint;
    unsigned char *p = NULL, chunk[65536];
    size_t len = 0;
    int rc = ORR_OK;
    for (;;) {
        int64_t n = read(ctx, chunk, sizeof chunk, e);
        if (n < 0) {
            rc = e->code;
            if (!(broken & PARTIAL)) {
                free(p);
                return rc;
            }
            break;
        }
        if (n == 0)
            break;
        unsigned char *q = realloc(p, len + (size_t)n);
        if (!q) {
            free(p);
            return H->fail(e, ORR_ENOMEM, "oom");
        }
        p = q;
        memcpy(p + len, chunk, (size_t)n);
        len += (size_t)n;
        if ((broken & SHORT_IS_EOF) && (size_t)n < sizeof chunk)
            break;
    }
    orr_conformance_sha256_hex(p ? (void *)p : (void *)"", len, digest);
    pthread_mutex_lock(&store.mu);
    if (find(digest) >= 0 && !(broken & DUPLICATES)) {
        free(p);
    } else {
        if (store.n == store.cap) {
            size_t cap = store.cap ? 2 * store.cap : 16;
            struct blob *b = realloc(store.b, cap * sizeof *b);
            if (!b) {
                pthread_mutex_unlock(&store.mu);
                free(p);
                return H->fail(e, ORR_ENOMEM, "oom");
            }
            store.b = b;
            store.cap = cap;
        }
        memcpy(store.b[store.n].d, digest, sizeof store.b[0].d);
        store.b[store.n].p = p;
        store.b[store.n++].len = len;
    }
    pthread_mutex_unlock(&store.mu);
    return rc;
}

static int m_get(void *self, const char *d, orr_write_fn write, void *ctx,
                 struct orr_error *e)
{
    (void)self;
    int rc = check_key(d, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&store.mu);
    long i = find(d);
    if (i < 0) {
        pthread_mutex_unlock(&store.mu);
        return H->fail(e, ORR_ENOTFOUND, "blob %s not found", d);
    }
    size_t len = store.b[i].len;
    unsigned char *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, store.b[i].p, len);
    pthread_mutex_unlock(&store.mu);
    if (!copy)
        return H->fail(e, ORR_ENOMEM, "oom");
    for (size_t off = 0; off < len; off += 100000) {
        size_t n = len - off < 100000 ? len - off : 100000;
        rc = write(ctx, copy + off, n, e);
        if (rc && !(broken & SWALLOW))
            break;
        rc = ORR_OK;
    }
    if (!rc && !(broken & NO_VERIFY)) {
        char h[ORR_DIGEST_HEX_LEN + 1];
        orr_conformance_sha256_hex(copy, len, h);
        if (strcmp(h, d))
            rc = H->fail(e, ORR_ECORRUPT, "blob %s is corrupt", d);
    }
    free(copy);
    return rc;
}

static int m_stat(void *self, const char *d, struct orr_blob_info *info,
                  struct orr_error *e)
{
    (void)self;
    int rc = check_key(d, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&store.mu);
    long i = find(d);
    if (i >= 0) {
        memcpy(info->digest, d, ORR_DIGEST_HEX_LEN + 1);
        info->size = store.b[i].len;
        info->mtime = 0;
    }
    pthread_mutex_unlock(&store.mu);
    return i < 0 ? H->fail(e, ORR_ENOTFOUND, "blob %s not found", d) : 0;
}

static int m_list(void *self, const char *prefix, orr_blob_fn fn, void *ctx,
                  struct orr_error *e)
{
    (void)self;
    if (!(broken & ANY_KEY) && !valid(prefix, ORR_DIGEST_HEX_LEN, 0))
        return H->fail(e, ORR_EINVAL, "invalid prefix '%s'", prefix);
    /* Snapshot, so the callback may call back into the store. */
    pthread_mutex_lock(&store.mu);
    size_t n = store.n;
    struct orr_blob_info *all = calloc(n ? n : 1, sizeof *all);
    for (size_t i = 0; all && i < n; i++) {
        memcpy(all[i].digest, store.b[i].d, ORR_DIGEST_HEX_LEN + 1);
        all[i].size = store.b[i].len;
    }
    pthread_mutex_unlock(&store.mu);
    if (!all)
        return H->fail(e, ORR_ENOMEM, "oom");
    int rc = ORR_OK;
    for (size_t i = 0; i < n; i++) {
        if (!(broken & LIST_ALL) &&
            strncmp(all[i].digest, prefix, strlen(prefix)))
            continue;
        rc = fn(ctx, &all[i]);
        if (rc && !(broken & NO_STOP))
            break;
        rc = ORR_OK;
    }
    free(all);
    return rc;
}

static int m_remove(void *self, const char *d, struct orr_error *e)
{
    (void)self;
    int rc = check_key(d, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&store.mu);
    long i = find(d);
    if (i >= 0) {
        free(store.b[i].p);
        store.b[i] = store.b[--store.n];
    }
    pthread_mutex_unlock(&store.mu);
    return i < 0 ? H->fail(e, ORR_ENOTFOUND, "blob %s not found", d) : 0;
}

static const struct orr_storage_ops mem_ops = {
    ORR_STORAGE_OPS_V1, "mem", "in-memory test backend", 8,
    m_open, m_close, m_put, m_get, m_stat, m_list, m_remove, NULL, NULL};

static int corrupt_mem(void *ctx, const char *digest)
{
    (void)ctx;
    pthread_mutex_lock(&store.mu);
    long i = find(digest);
    if (i >= 0 && store.b[i].len)
        store.b[i].p[store.b[i].len / 2] ^= 1;
    pthread_mutex_unlock(&store.mu);
    return i >= 0 ? 0 : -1;
}

/* Run the suite (or the checks matching `only`) and capture the report. */
static int run(const struct orr_storage_ops *ops, const struct orr_cfg *cfg,
               const char *only, char **report)
{
    size_t size;
    FILE *f = open_memstream(report, &size);
    struct orr_conformance_storage_opts opt = {0};
    opt.corrupt = corrupt_mem;
    opt.only = only;
    int failures = orr_conformance_storage_ex(H, ops, cfg, &opt, f);
    fclose(f);
    return failures;
}

static void test_correct_backend_passes(void)
{
    H = orr_test_host();
    char *report = NULL;
    struct orr_cfg *cfg = orr_test_cfg_new();
    broken = OK_BACKEND;
    CHECK_INT(run(&mem_ops, cfg, NULL, &report), 0);
    CHECK_CONTAINS(report, "ok   storage.corrupt");
    CHECK_CONTAINS(report, "skip storage.put_file: no put_file");
    CHECK_CONTAINS(report, "0 failed, 2 skipped");
    free(report);
    orr_test_cfg_free(cfg);
    store_clear();
}

static void test_broken_backends_fail(void)
{
    static const struct {
        unsigned    flaw;
        const char *check;
        const char *says;
    } cases[] = {
        {NO_VERIFY, "corrupt", "expected 9 (data corrupt)"},
        {ANY_KEY, "invalid_keys", "expected ORR_EINVAL"},
        {LIST_ALL, "list", "without that prefix"},
        {DUPLICATES, "dedup", "expected exactly 1"},
        {PARTIAL, "read_failure", "were stored"},
        {NO_STOP, "list", "went on after the callback stopped it"},
        {SWALLOW, "write_failure", "expected the writer's"},
        {SHORT_IS_EOF, "vectors", "digest"},
    };
    H = orr_test_host();
    struct orr_cfg *cfg = orr_test_cfg_new();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *report = NULL, line[64];
        broken = cases[i].flaw;
        int failures = run(&mem_ops, cfg, cases[i].check, &report);
        CHECK(failures >= 1);
        snprintf(line, sizeof line, "FAIL storage.%s", cases[i].check);
        CHECK_CONTAINS(report, line);
        CHECK_CONTAINS(report, cases[i].says);
        free(report);
        store_clear();
    }
    broken = OK_BACKEND;
    orr_test_cfg_free(cfg);
}

static void test_incomplete_ops_and_failed_open(void)
{
    H = orr_test_host();
    struct orr_cfg *cfg = orr_test_cfg_new();
    char *report = NULL;
    struct orr_storage_ops no_list = mem_ops;
    no_list.list = NULL;
    CHECK_INT(run(&no_list, cfg, NULL, &report), 1);
    CHECK_CONTAINS(report, "FAIL storage.ops: a mandatory member is NULL");
    free(report);
    orr_test_cfg_set(cfg, "fail_open", "true");
    CHECK_INT(run(&mem_ops, cfg, NULL, &report), 1);
    CHECK_CONTAINS(report, "FAIL storage.open");
    CHECK_CONTAINS(report, "told to fail");
    free(report);
    orr_test_cfg_free(cfg);
    store_clear();
}

static void test_sha256_vectors(void)
{
    char h[ORR_DIGEST_HEX_LEN + 1];
    orr_conformance_sha256_hex("abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
                 "1f20015ad");
    /* 64 bytes: padding spills into a second block. */
    orr_conformance_sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaa", 64, h);
    CHECK_STR(h, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337d"
                 "f154668eb");
}

TEST_MAIN({"correct_backend_passes", test_correct_backend_passes},
          {"broken_backends_fail", test_broken_backends_fail},
          {"incomplete_ops_and_failed_open",
           test_incomplete_ops_and_failed_open},
          {"sha256_vectors", test_sha256_vectors})
