/*
 * tests/unit/meta_test_util.h - helpers shared by the test_meta_*.c
 * programs: scratch directories, raw SQLite peeks and a series collector.
 */
#ifndef ORR_TESTS_META_TEST_UTIL_H
#define ORR_TESTS_META_TEST_UTIL_H


#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"

/* A fresh directory under $TMPDIR (or /tmp); removed by tmp_rm(). */
static inline void tmp_dir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/orr-meta-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline int rm_one(const char *p, const struct stat *st, int flag,
                         struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static inline void tmp_rm(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The first column of the first row of `q` as an integer (-1 on error). */
static inline long long sql_int(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static inline int sql_exec(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, q, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

struct collected {
    struct orr_metric_point *p;
    size_t n, cap;
};

static inline int collect(void *ctx, const struct orr_metric_point *p)
{
    struct collected *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->p = realloc(c->p, c->cap * sizeof *c->p);
        if (!c->p)
            return ORR_ENOMEM;
    }
    c->p[c->n++] = *p;
    return 0;
}

static inline struct orr_meta *open_ok(const char *path)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    if (orr_meta_open(&m, path, &e)) {
        fprintf(stderr, "open %s: %s\n", path, e.msg);
        exit(2);
    }
    return m;
}

static inline void new_run(struct orr_meta *m, char id[ORR_RUN_ID_SIZE])
{
    struct orr_run_spec spec = {.workflow = "wf",
                                .script_path = "/x/wf.lua"};
    struct orr_error e = {0};
    if (orr_meta_run_begin(m, &spec, id, &e)) {
        fprintf(stderr, "run_begin: %s\n", e.msg);
        exit(2);
    }
}

#endif
