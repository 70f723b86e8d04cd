/*
 * tests/unit/test_serve_plog.c - the prediction log (core/serve/plog.c,
 * plog_lane.c, plog_ids.c) against a real store in a temporary
 * directory: every record logged is stored once, bytes intact, through
 * lanes whose rings wrap many times; a full lane drops and counts
 * without blocking; threads that exit give their lanes back; stopping
 * while threads log loses nothing that was queued; labels find the
 * predictions the log wrote.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sqlite3.h>

#include <orrery/server.h>
#include <orrery/table.h>

#include "meta/meta.h"
#include "meta/meta_internal.h"
#include "meta/pcols.h"
#include "meta/predictions.h"
#include "meta/psegment.h"
#include "serve/plog.h"
#include "serve/plog_lane.h"
#include "test.h"

static char dir[4096], db_path[4200];

/* The record number i of thread t: its shape and values.  With `big`,
 * every record is BIG_ROWS rows (16 KiB of inputs). */
#define BIG_ROWS 512
static int big;
static size_t in_rows(size_t i) { return big ? BIG_ROWS : 1 + i % 5; }
static size_t in_cols(size_t i) { return big ? 4 : 3 + i % 2; }
static size_t out_cols(size_t i)
{
    return big ? 1 : i % 7 == 0 ? 0 : 1 + (i % 3 == 0);
}
/* Every 11th has one output row more than inputs: a legacy row. */
static size_t out_rows(size_t i)
{
    return big ? BIG_ROWS : out_cols(i) ? in_rows(i) + (i % 11 == 0) : 0;
}
static double in_val(size_t t, size_t i, size_t k)
{
    return (double)t * 1e6 + (double)i * 100.0 + (double)k + 0.25;
}
static double out_val(size_t t, size_t i, size_t k)
{
    return -((double)t * 1e6 + (double)i) - (double)k * 0.5;
}

static int log_one(size_t t, size_t i, struct orr_error *e)
{
    double x[BIG_ROWS * 4], y[BIG_ROWS * 2];
    size_t nr = in_rows(i), nc = in_cols(i), onr = out_rows(i),
           onc = out_cols(i);
    for (size_t k = 0; k < nr * nc; k++)
        x[k] = in_val(t, i, k);
    for (size_t k = 0; k < onr * onc; k++)
        y[k] = out_val(t, i, k);
    struct orr_matrix xm = {nr, nc, x, nr * nc};
    struct orr_matrix ym = {onr, onc, y, onr * onc};
    char id[64];
    snprintf(id, sizeof id, "t%zu-%zu", t, i);
    struct orr_prediction p = {
        .size = sizeof p, .request_id = id, .model = "m",
        .version = !big && i % 13 == 0 ? "2" : "1",
        .ts_ms = 1000 + (int64_t)i,
        .latency_us = (int64_t)i, .inputs = &xm,
        .outputs = onc ? &ym : NULL};
    return orri_serve_log_prediction(&p, e);
}

/* Seen marks of thread t's records. */
#define MAX_T 8
#define MAX_I 20000
static unsigned char seen[MAX_T][MAX_I];
static int bad_values;

static void check_record(const char *id, const unsigned char *in,
                         size_t nr, size_t nc, const unsigned char *out,
                         size_t onr, size_t onc)
{
    size_t t, i;
    if (sscanf(id, "t%zu-%zu", &t, &i) != 2 || t >= MAX_T || i >= MAX_I) {
        bad_values++;
        return;
    }
    seen[t][i]++;
    if (nr != in_rows(i) || nc != in_cols(i) || onc != out_cols(i) ||
        onr != out_rows(i)) {
        bad_values++;
        return;
    }
    for (size_t k = 0; k < nr * nc; k++) {
        double v;
        orri_f64_from_le(&v, in + 8 * k, 1);
        bad_values += v != in_val(t, i, k);
    }
    for (size_t k = 0; k < onr * onc; k++) {
        double v;
        orri_f64_from_le(&v, out + 8 * k, 1);
        bad_values += v != out_val(t, i, k);
    }
}

/* Read everything back: chunks (layout 1 from segments, others through
 * their payload) and legacy rows; marks `seen`.  Returns the number of
 * layout-1 chunks. */
static int read_back(struct orr_meta *m)
{
    memset(seen, 0, sizeof seen);
    bad_values = 0;
    char sdir[4096];
    CHECK(orri_pseg_dir(m->db, sdir, sizeof sdir));
    struct orri_pseg_reader *rd = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_pseg_reader_new(sdir, &rd, &e), ORR_OK);
    sqlite3_stmt *st = NULL;
    int layout1 = 0;
    CHECK_INT(sqlite3_prepare_v2(m->db,
        "SELECT n, input_cols, output_cols, request_ids, rows, segment,"
        " seg_offset, seg_bytes, seg_check, seg_layout, cols_layout,"
        " length(request_ids), length(rows)"
        " FROM prediction_chunks ORDER BY id", -1, &st, NULL), SQLITE_OK);
    struct orr_buf pids = ORR_BUF_INIT, prows = ORR_BUF_INIT;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(st, 0);
        size_t ic = (size_t)sqlite3_column_int64(st, 1);
        size_t oc = (size_t)sqlite3_column_int64(st, 2);
        const char *ids = sqlite3_column_blob(st, 3);
        const unsigned char *rows = sqlite3_column_blob(st, 4);
        const char *seg = (const char *)sqlite3_column_text(st, 5);
        int64_t off = sqlite3_column_int64(st, 6);
        size_t bytes = (size_t)sqlite3_column_int64(st, 7);
        uint64_t check = (uint64_t)sqlite3_column_int64(st, 8);
        int layout = sqlite3_column_int(st, 9);
        /* The log writes compact small columns (schema 10). */
        CHECK_INT(sqlite3_column_int(st, 10), ORRI_PCOLS_COMPACT);
        CHECK_INT(orri_pcols_expand_ids(ids, (size_t)sqlite3_column_int64(
                      st, 11), n, &pids), ORR_OK);
        CHECK_INT(orri_pcols_expand_i64(rows, (size_t)sqlite3_column_int64(
                      st, 12), n, 0, &prows), ORR_OK);
        ids = pids.data;
        rows = (const unsigned char *)prows.data;
        CHECK(seg != NULL);
        CHECK_INT(layout, 1);
        if (!seg || layout != 1)
            continue;
        layout1++;
        size_t *len = calloc(n, sizeof *len);
        for (size_t k = 0; k < n; k++)
            len[k] = (size_t)orri_i64_from_le(rows + 8 * k) * (ic + oc) * 8;
        const unsigned char *pay = NULL;
        CHECK_INT(orri_pseg_read_records(rd, seg, off, bytes, check, len, n,
                                         &pay, &e), ORR_OK);
        const char *id = ids;
        for (size_t k = 0; pay && k < n; k++) {
            size_t nr = (size_t)orri_i64_from_le(rows + 8 * k);
            check_record(id, pay, nr, ic, oc ? pay + nr * ic * 8 : NULL,
                         oc ? nr : 0, oc);
            pay += len[k];
            id += strlen(id) + 1;
        }
        free(len);
    }
    orri_buf_free(&pids);
    orri_buf_free(&prows);
    sqlite3_finalize(st);
    CHECK_INT(sqlite3_prepare_v2(m->db,
        "SELECT request_id, inputs, input_cols, outputs, output_cols"
        " FROM predictions", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        size_t ic = (size_t)sqlite3_column_int64(st, 2);
        size_t oc = (size_t)sqlite3_column_int64(st, 4);
        size_t ib = (size_t)sqlite3_column_bytes(st, 1);
        size_t ob = (size_t)sqlite3_column_bytes(st, 3);
        check_record(id, sqlite3_column_blob(st, 1), ic ? ib / 8 / ic : 0,
                     ic, sqlite3_column_blob(st, 3),
                     oc ? ob / 8 / oc : 0, oc);
    }
    sqlite3_finalize(st);
    orri_pseg_reader_free(rd);
    return layout1;
}

static void cleanup(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static struct orr_meta *open_store(const char *name)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/orr-plog-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(cleanup);
    }
    snprintf(db_path, sizeof db_path, "%s/%s/orrery.db", dir, name);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    return m;
}

static void test_single_thread(void)
{
    struct orr_meta *m = open_store("single");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    orri_plog_test_lane_bytes = 64 << 10;   /* wraps every ~200 records */
    CHECK_INT(orri_plog_start(m, 64, &l, &e), ORR_OK);
    size_t n = 3000, queued = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = log_one(0, i, &e);
        if (rc == ORR_EBUSY) {      /* full: let the writer catch up */
            CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
            rc = log_one(0, i, &e);
        }
        CHECK_INT(rc, ORR_OK);
        queued += rc == ORR_OK;
    }
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.written, queued);
    CHECK_INT(s.failed, 0);
    orri_plog_stop(l);
    orri_plog_test_lane_bytes = 0;
    CHECK(read_back(m) > 0);
    CHECK_INT(bad_values, 0);
    size_t once = 0;
    for (size_t i = 0; i < n; i++)
        once += seen[0][i] == 1;
    CHECK_INT(once, n);
    orr_meta_close(m);
}

/* Threads logging at once, lanes small enough to fill: every record is
 * either stored once or dropped and counted. */
struct worker {
    size_t t, n;
    size_t ok, dropped, other;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct orr_error e = {0};
    for (size_t i = 0; i < w->n; i++) {
        int rc = log_one(w->t, i, &e);
        if (rc == ORR_OK)
            w->ok++;
        else if (rc == ORR_EBUSY)
            w->dropped++;
        else
            w->other++;
    }
    return NULL;
}

static void test_threads(void)
{
    struct orr_meta *m = open_store("threads");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    orri_plog_test_lane_bytes = 64 << 10;
    CHECK_INT(orri_plog_start(m, 128, &l, &e), ORR_OK);
    pthread_t th[4];
    struct worker w[4];
    for (size_t t = 0; t < 4; t++) {
        w[t] = (struct worker){.t = t + 1, .n = 5000};
        CHECK_INT(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    size_t ok = 0, dropped = 0;
    for (size_t t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(w[t].other, 0);
        ok += w[t].ok;
        dropped += w[t].dropped;
    }
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.queued, ok);
    CHECK_INT(s.dropped, dropped);
    CHECK_INT(s.written, ok);
    orri_plog_stop(l);
    orri_plog_test_lane_bytes = 0;
    read_back(m);
    CHECK_INT(bad_values, 0);
    size_t stored = 0, twice = 0;
    for (size_t t = 1; t <= 4; t++)
        for (size_t i = 0; i < 5000; i++) {
            stored += seen[t][i] >= 1;
            twice += seen[t][i] > 1;
        }
    CHECK_INT(stored, ok);
    CHECK_INT(twice, 0);
    orr_meta_close(m);
}

/* With the store held, the writer cannot give room back: a lane of 8
 * records takes at most 16 (8 in the writer's hands), then drops and
 * counts, and the caller never waits. */
static void test_full_drops(void)
{
    struct orr_meta *m = open_store("full");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_plog_start(m, 8, &l, &e), ORR_OK);
    pthread_mutex_lock(&m->lock);
    size_t ok = 0, busy = 0;
    for (size_t i = 0; i < 40; i++) {
        int rc = log_one(0, i, &e);
        ok += rc == ORR_OK;
        busy += rc == ORR_EBUSY;
    }
    CHECK_CONTAINS(e.msg, "full");
    CHECK_INT(ok + busy, 40);
    CHECK(busy >= 24);
    CHECK(ok >= 8 && ok <= 16);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.dropped, busy);
    pthread_mutex_unlock(&m->lock);
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    orri_plog_stats(l, &s);
    CHECK_INT(s.written, ok);
    orri_plog_stop(l);
    read_back(m);
    size_t stored = 0;
    for (size_t i = 0; i < 40; i++)
        stored += seen[0][i];
    CHECK_INT(stored, ok);
    CHECK_INT(bad_values, 0);
    orr_meta_close(m);
}

/* More payload waiting than a batch takes (4 MiB): the writer cuts its
 * batch inside a lane's range, and every record still arrives once. */
static void test_batch_bytes(void)
{
    struct orr_meta *m = open_store("bytes");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    big = 1;
    CHECK_INT(orri_plog_start(m, 0, &l, &e), ORR_OK);
    pthread_mutex_lock(&m->lock);       /* the writer waits: a backlog */
    size_t n = 400;                     /* 400 x 20 KiB: 8 MB */
    for (size_t i = 0; i < n; i++)
        CHECK_INT(log_one(0, i, &e), ORR_OK);
    pthread_mutex_unlock(&m->lock);
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.written, n);
    orri_plog_stop(l);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(m->db, "SELECT count(*), max(seg_bytes)"
                                 " FROM prediction_chunks", -1, &st, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK(sqlite3_column_int64(st, 0) >= 2);
    CHECK(sqlite3_column_int64(st, 1) <= (4 << 20) + 20 * 1024);
    sqlite3_finalize(st);
    read_back(m);
    big = 0;
    size_t once = 0;
    for (size_t i = 0; i < n; i++)
        once += seen[0][i] == 1;
    CHECK_INT(once, n);
    CHECK_INT(bad_values, 0);
    orr_meta_close(m);
}

/* A lane's slots (3 of them: not a whole page) are mapped up to their
 * last page and no further: the huge-page alignment's spare tail is
 * unmapped, and so is all of it at the lane's end. */
static void test_lane_mapping(void)
{
    long page = sysconf(_SC_PAGESIZE);
    struct orri_plog_lane *ln = orri_plog_lane_new(64 << 10, 3);
    CHECK(ln != NULL);
    if (!ln || page <= 0)
        return;
    size_t span = (3 * sizeof *ln->slots + (size_t)page - 1) /
                  (size_t)page * (size_t)page;
    char *slots = (char *)ln->slots;
    unsigned char v;
    CHECK_INT(mincore(slots, (size_t)page, &v), 0);
    errno = 0;
    CHECK(mincore(slots + span, (size_t)page, &v) == -1 && errno == ENOMEM);
    orri_plog_lane_free(ln);
    errno = 0;
    CHECK(mincore(slots, (size_t)page, &v) == -1 && errno == ENOMEM);
}

static void *log_nth(void *arg)
{
    size_t *i = arg;
    struct orr_error e = {0};
    *i = log_one(1, *i, &e) == ORR_OK;
    return NULL;
}

/* 100 threads one after the other, more than the 64 lanes: each exiting
 * thread gives its lane back. */
static void test_lanes_reused(void)
{
    struct orr_meta *m = open_store("reuse");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_plog_start(m, 0, &l, &e), ORR_OK);
    size_t ok = 0;
    for (size_t t = 0; t < 100; t++) {
        size_t arg = t;
        pthread_t th;
        CHECK_INT(pthread_create(&th, NULL, log_nth, &arg), 0);
        pthread_join(th, NULL);
        ok += arg;
    }
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.dropped, 0);
    CHECK_INT(s.queued, 100);
    CHECK_INT(ok, 100);
    orri_plog_stop(l);
    read_back(m);
    size_t stored = 0;
    for (size_t i = 0; i < 100; i++)
        stored += seen[1][i];
    CHECK_INT(stored, 100);
    orr_meta_close(m);
}

/* Stopping while threads log: what was queued is written, later calls
 * answer ORR_EUNSUPPORTED, nobody crashes. */
static atomic_int keep_going;

static void *log_until(void *arg)
{
    struct worker *w = arg;
    struct orr_error e = {0};
    for (size_t i = 0; i < MAX_I && atomic_load(&keep_going); i++) {
        int rc = log_one(w->t, i, &e);
        w->ok += rc == ORR_OK;
        w->dropped += rc == ORR_EBUSY;
        w->other += rc != ORR_OK && rc != ORR_EBUSY &&
                    rc != ORR_EUNSUPPORTED;
        w->n += rc == ORR_EUNSUPPORTED;
    }
    return NULL;
}

static void test_stop_while_logging(void)
{
    struct orr_meta *m = open_store("stop");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_plog_start(m, 256, &l, &e), ORR_OK);
    atomic_store(&keep_going, 1);
    pthread_t th[2];
    struct worker w[2] = {{.t = 1}, {.t = 2}};
    for (int t = 0; t < 2; t++)
        CHECK_INT(pthread_create(&th[t], NULL, log_until, &w[t]), 0);
    /* Until the threads have logged a few hundred records. */
    for (;;) {
        struct orri_plog_stats s;
        orri_plog_stats(l, &s);
        if (s.queued + s.dropped >= 300)
            break;
        sched_yield();
    }
    orri_plog_stop(l);
    atomic_store(&keep_going, 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(w[t].other, 0);
    }
    read_back(m);
    CHECK_INT(bad_values, 0);
    size_t stored = 0;
    for (size_t t = 1; t <= 2; t++)
        for (size_t i = 0; i < MAX_I; i++)
            stored += seen[t][i];
    CHECK_INT(stored, w[0].ok + w[1].ok);
    orr_meta_close(m);
}

/* Segment files that cannot be written (a plain file where the
 * directory `predictions/` goes): the records go into the store inline,
 * slower but all of them, with their bytes. */
static void test_no_segments(void)
{
    struct orr_meta *m = open_store("noseg");
    char path[4400];
    snprintf(path, sizeof path, "%s/noseg/predictions", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_plog_start(m, 0, &l, &e), ORR_OK);
    for (size_t i = 0; i < 300; i++)
        CHECK_INT(log_one(0, i, &e), ORR_OK);
    CHECK_INT(orri_plog_flush(l, 10000, &e), ORR_OK);
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    CHECK_INT(s.written, 300);
    CHECK_INT(s.failed, 0);
    orri_plog_stop(l);
    memset(seen, 0, sizeof seen);
    bad_values = 0;
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(m->db,
        "SELECT n, input_cols, output_cols, request_ids, rows, inputs,"
        " outputs, segment FROM prediction_chunks", -1, &st, NULL),
        SQLITE_OK);
    int in_file = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(st, 0);
        size_t ic = (size_t)sqlite3_column_int64(st, 1);
        size_t oc = (size_t)sqlite3_column_int64(st, 2);
        const char *id = sqlite3_column_blob(st, 3);
        const unsigned char *rows = sqlite3_column_blob(st, 4);
        const unsigned char *in = sqlite3_column_blob(st, 5);
        const unsigned char *out = sqlite3_column_blob(st, 6);
        in_file += sqlite3_column_type(st, 7) != SQLITE_NULL;
        /* Inline: the inputs of all, then the outputs of all. */
        for (size_t k = 0; k < n; k++) {
            size_t nr = (size_t)orri_i64_from_le(rows + 8 * k);
            check_record(id, in, nr, ic, out, oc ? nr : 0, oc);
            in += nr * ic * 8;
            out = oc ? out + nr * oc * 8 : NULL;
            id += strlen(id) + 1;
        }
    }
    sqlite3_finalize(st);
    CHECK_INT(in_file, 0);
    CHECK_INT(sqlite3_prepare_v2(m->db,
        "SELECT request_id, inputs, input_cols, outputs, output_cols"
        " FROM predictions", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t ic = (size_t)sqlite3_column_int64(st, 2);
        size_t oc = (size_t)sqlite3_column_int64(st, 4);
        size_t ib = (size_t)sqlite3_column_bytes(st, 1);
        size_t ob = (size_t)sqlite3_column_bytes(st, 3);
        check_record((const char *)sqlite3_column_text(st, 0),
                     sqlite3_column_blob(st, 1), ic ? ib / 8 / ic : 0, ic,
                     sqlite3_column_blob(st, 3), oc ? ob / 8 / oc : 0, oc);
    }
    sqlite3_finalize(st);
    CHECK_INT(bad_values, 0);
    size_t once = 0;
    for (size_t i = 0; i < 300; i++)
        once += seen[0][i] == 1;
    CHECK_INT(once, 300);
    orr_meta_close(m);
}

static void test_label(void)
{
    struct orr_meta *m = open_store("label");
    struct orri_plog *l = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_plog_start(m, 0, &l, &e), ORR_OK);
    /* One log at a time. */
    struct orri_plog *l2 = NULL;
    CHECK_INT(orri_plog_start(m, 0, &l2, &e), ORR_EBUSY);
    CHECK(l2 == NULL);
    CHECK_CONTAINS(e.msg, "already");
    CHECK_INT(log_one(0, 1, &e), ORR_OK);
    struct orr_prediction p = {.size = sizeof p, .request_id = "t0-1",
                               .model = "m", .label = "1"};
    CHECK_INT(orri_serve_log_prediction(&p, &e), ORR_OK);
    p.request_id = "t0-999";
    CHECK_INT(orri_serve_log_prediction(&p, &e), ORR_ENOTFOUND);
    orri_plog_stop(l);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(m->db, "SELECT count(*) FROM labels", -1,
                                 &st, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    /* No log: refused, nothing kept. */
    CHECK_INT(log_one(0, 2, &e), ORR_EUNSUPPORTED);
    orr_meta_close(m);
}

TEST_MAIN({"single_thread", test_single_thread},
          {"threads", test_threads},
          {"full_drops", test_full_drops},
          {"batch_bytes", test_batch_bytes},
          {"lane_mapping", test_lane_mapping},
          {"lanes_reused", test_lanes_reused},
          {"stop_while_logging", test_stop_while_logging},
          {"no_segments", test_no_segments},
          {"label", test_label})
