/*
 * tests/monitor/test_psegment.c - the prediction log's segment files
 * (schema migration 8, meta/psegment.h): chunks written through
 * orri_predictions_write to a file-backed store keep their payload in
 * `predictions/` beside it and read back bit for bit; chunks of schema 7
 * (inline) still read after the migration; a damaged, truncated or
 * missing segment skips its chunk with one warning (the others still
 * read); names with '/' or ".." are refused; two writers on one store
 * use distinct files; a writer rolls over past the size limit; a store
 * without a file, or a directory that cannot be made, stays inline;
 * retention deletes old rows and the files nothing names any more.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "meta/meta.h"
#include "meta/meta_internal.h"
#include "meta/predictions.h"
#include "meta/psegment.h"
#include "monitor/internal.h"
#include "test.h"

#define NC  30
#define NR  64
#define NP  20              /* predictions a batch                       */

static char dir[1024], db_path[1100], seg_dir[1100];

/* The values of prediction p of batch b: distinct, with a NaN of odd
 * bits, a negative zero and a subnormal in the first one. */
static void fill(double *in, double *out, int b, int p)
{
    for (int r = 0; r < NR; r++) {
        for (int c = 0; c < NC; c++)
            in[r * NC + c] = b * 1e6 + p * 1e4 + r * 100 + c + 0.125;
        out[r] = b + p * 0.001 + r * 1e-6;
    }
    if (p == 0) {
        uint64_t nanbits = 0x7ff8000000001234ull;
        memcpy(&in[0], &nanbits, 8);
        in[1] = -0.0;
        in[2] = 5e-324;
    }
}

static double g_in[NP][NR * NC], g_out[NP][NR];
static char g_ids[NP][32];
static int bnp[16];             /* predictions of batch b (0: NP)         */

/* Write batch `b` of `np` predictions of `model` through `sc`. */
static int write_batch_n(struct orr_meta *m, struct orri_pred_scratch **sc,
                         const char *model, int b, int np)
{
    struct orri_prediction_row rows[NP];
    bnp[b] = np;
    for (int p = 0; p < np; p++) {
        fill(g_in[p], g_out[p], b, p);
        snprintf(g_ids[p], sizeof g_ids[p], "%s-%d-%d", model, b, p);
        rows[p] = (struct orri_prediction_row){
            .request_id = g_ids[p], .model = model, .version = "1",
            .ts_ms = 1000 * b + p, .latency_us = 7, .in = g_in[p],
            .in_rows = NR, .in_cols = NC, .out = g_out[p], .out_rows = NR,
            .out_cols = 1};
    }
    struct orr_error e = {0};
    int rc = orri_predictions_write(m, rows, (size_t)np, sc, &e);
    if (rc)
        fprintf(stderr, "write: %s\n", e.msg);
    return rc;
}

static int write_batch(struct orr_meta *m, struct orri_pred_scratch **sc,
                       const char *model, int b)
{
    return write_batch_n(m, sc, model, b, NP);
}

/* 1 when the window (newest first) holds batches b_hi down to b_lo,
 * bit for bit, skipping batch `gap` (-1: none). */
static int window_matches(const struct orri_mon_rows *w, int b_hi, int b_lo,
                          int gap)
{
    size_t row = 0;
    double in[NR * NC], out[NR];
    for (int b = b_hi; b >= b_lo; b--) {
        if (b == gap)
            continue;
        for (int p = (bnp[b] ? bnp[b] : NP) - 1; p >= 0; p--) {
            fill(in, out, b, p);
            for (int r = 0; r < NR; r++, row++) {
                if (row >= w->rows)
                    return 0;
                for (int c = 0; c < NC; c++)
                    if (memcmp(&w->x[(size_t)c * w->stride + row],
                               &in[r * NC + c], 8))
                        return 0;
                if (memcmp(&w->y[row], &out[r], 8))
                    return 0;
            }
        }
    }
    return row == w->rows;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static void q_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, err);
    sqlite3_free(err);
}

static int count_files(const char *d)
{
    DIR *dh = opendir(d);
    int n = 0;
    struct dirent *de;
    while (dh && (de = readdir(dh)))
        n += de->d_name[0] != '.';
    if (dh)
        closedir(dh);
    return n;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Load a window of `model` with stderr captured into `log` (the warning
 * of skipped chunks). */
static int load_logged(sqlite3 *db, const char *model, int64_t count,
                       struct orri_mon_rows *w, char *log, size_t cap)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    struct orr_error e = {0};
    int rc = orri_mon_window_load(db, model, NULL, 0, count, 0, 0, w, &e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(log, 1, cap - 1, f);
        log[n] = '\0';
        fclose(f);
    }
    if (rc)
        fprintf(stderr, "window: %s\n", e.msg);
    return rc;
}

static void test_setup(void)
{
    snprintf(dir, sizeof dir, "%s/orrery-pseg-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db_path, sizeof db_path, "%s/store/orrery.db", dir);
    snprintf(seg_dir, sizeof seg_dir, "%s/store/predictions", dir);
}

static void test_check_and_names(void)
{
    unsigned char b[1000];
    for (int i = 0; i < 1000; i++)
        b[i] = (unsigned char)(i * 7);
    uint64_t h = orri_pseg_check(b, sizeof b);
    CHECK(h == orri_pseg_check(b, sizeof b));
    CHECK(h != orri_pseg_check(b, sizeof b - 1));
    /* Every single bit flipped changes it, at each length class. */
    int same = 0;
    for (size_t len = 1; len < 80; len += 13)
        for (size_t i = 0; i < len * 8; i++) {
            uint64_t a = orri_pseg_check(b, len);
            b[i / 8] ^= (unsigned char)(1u << (i % 8));
            same += a == orri_pseg_check(b, len);
            b[i / 8] ^= (unsigned char)(1u << (i % 8));
        }
    CHECK_INT(same, 0);
    /* In pieces (a chunk's rows) as at once, whatever the cuts. */
    int differ = 0;
    for (size_t cut = 1; cut < 100; cut += 7) {
        struct orri_pseg_hash st;
        orri_pseg_hash_init(&st);
        for (size_t o = 0; o < sizeof b; o += cut)
            orri_pseg_hash_update(&st, b + o,
                                  sizeof b - o < cut ? sizeof b - o : cut);
        differ += orri_pseg_hash_final(&st) != h;
    }
    CHECK_INT(differ, 0);
    /* Hashing while copying (the O_DIRECT stage) gives the same hash and
     * the same bytes, whatever the cuts. */
    unsigned char copy[1000];
    differ = 0;
    for (size_t cut = 1; cut < 100; cut += 5) {
        struct orri_pseg_hash st;
        orri_pseg_hash_init(&st);
        memset(copy, 0, sizeof copy);
        for (size_t o = 0; o < sizeof b; o += cut)
            orri_pseg_hash_copy(&st, copy + o, b + o,
                                sizeof b - o < cut ? sizeof b - o : cut);
        differ += orri_pseg_hash_final(&st) != h ||
                  memcmp(copy, b, sizeof b) != 0;
    }
    CHECK_INT(differ, 0);
    /* XXH64 of "" and of "abc" (seed 0), the construction it follows. */
    CHECK(orri_pseg_check("", 0) == 0xEF46DB3751D8E999ull);
    CHECK(orri_pseg_check("abc", 3) == 0x44BC2CF5AD770999ull);
    CHECK(orri_pseg_name_ok("1700000000000-123-0.plog"));
    CHECK(!orri_pseg_name_ok("../x.plog"));
    CHECK(!orri_pseg_name_ok("a/b.plog"));
    CHECK(!orri_pseg_name_ok("/etc/passwd"));
    CHECK(!orri_pseg_name_ok("x..plog"));
    CHECK(!orri_pseg_name_ok(".hidden"));
    CHECK(!orri_pseg_name_ok(""));
    CHECK(!orri_pseg_name_ok(NULL));
}

static void test_round_trip(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    /* Through the page cache: batches one after the other, no padding
     * (test_direct has the O_DIRECT layout). */
    orri_pseg_test_direct_min = -1;
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    for (int b = 0; b < 3; b++)
        CHECK_INT(write_batch(m, &sc, "rt", b), ORR_OK);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);

    struct stat sb;
    CHECK(stat(seg_dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
          (sb.st_mode & 0777) == 0700);
    CHECK_INT(count_files(seg_dir), 1);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "PRAGMA user_version"), 8);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment LIKE '%-%-%.plog' AND length(inputs) = 0"
                    " AND outputs IS NULL AND seg_bytes = 20 * 64 * 31 * 8"
                    " AND model = 'rt'"), 3);
    CHECK_INT(q_int(db, "SELECT count(DISTINCT segment) FROM"
                    " prediction_chunks"), 1);
    /* One batch after the other in the file, no gap. */
    CHECK_INT(q_int(db, "SELECT group_concat(seg_offset) = '0,'"
                    " || (20 * 64 * 31 * 8) || ',' || (2 * 20 * 64 * 31 * 8)"
                    " FROM (SELECT seg_offset FROM prediction_chunks"
                    " ORDER BY id)"), 1);
    char path[8192];
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT segment FROM prediction_chunks", -1, &st,
                       NULL);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(path, sizeof path, "%s/%s", seg_dir,
                 (const char *)sqlite3_column_text(st, 0));
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 &&
              sb.st_size == 3 * 20 * 64 * 31 * 8);
    }
    sqlite3_finalize(st);

    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "rt", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 3 * NP);
    CHECK_INT(w.rows, 3 * NP * NR);
    CHECK_INT(w.cols, NC);
    CHECK_INT(w.out_cols, 1);
    CHECK(window_matches(&w, 2, 0, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);
    /* A count window stops inside the newest chunk. */
    CHECK_INT(orri_mon_window_load(db, "rt", NULL, 0, 5, 0, 0, &w, &e),
              ORR_OK);
    CHECK_INT(w.n_requests, 5);
    CHECK_INT(w.rows, 5 * NR);
    orri_mon_rows_free(&w);
    /* A time window of batch 1 only. */
    CHECK_INT(orri_mon_window_load(db, "rt", NULL, 0, 0, 999, 1999, &w,
                                   &e), ORR_OK);
    CHECK_INT(w.n_requests, NP);
    CHECK(window_matches(&w, 1, 1, -1));
    orri_mon_rows_free(&w);
    /* Labels match through the inline ids: no file read. */
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    CHECK_INT(orri_predictions_label(m, "rt", "rt-1-3", "1", &e), ORR_OK);
    orr_meta_close(m);
    sqlite3_close(db);
    orri_pseg_test_direct_min = 0;
}

static void test_direct(void)
{
    /* Batches of 256 KiB or more go O_DIRECT: aligned to 4 KiB, their
     * last block padded; the small ones between them through the page
     * cache, into that padding.  All read back bit for bit. */
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    /* The layout below is for a threshold of 256 KiB. */
    orri_pseg_test_direct_min = 256 << 10;
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    CHECK_INT(write_batch_n(m, &sc, "dio", 0, NP), ORR_OK);
    CHECK_INT(write_batch_n(m, &sc, "dio", 1, 2), ORR_OK);
    CHECK_INT(write_batch_n(m, &sc, "dio", 2, NP), ORR_OK);
    CHECK_INT(write_batch_n(m, &sc, "dio", 3, 3), ORR_OK);
    CHECK(orri_pred_scratch_seg_error(sc) == NULL);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    /* 0 (317,440 bytes, padded to 319,488), 317,440 (31,744 bytes),
     * 352,256 (aligned), 669,696. */
    sqlite3_stmt *st = NULL;
    char got[256] = "";
    sqlite3_prepare_v2(db, "SELECT group_concat(seg_offset) FROM (SELECT"
                       " seg_offset FROM prediction_chunks WHERE model ="
                       " 'dio' ORDER BY id)", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(got, sizeof got, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    /* A file system refusing O_DIRECT (tmpfs before Linux 6.6) gets
     * buffered writes: the batches one after the other. */
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/probe", seg_dir);
    int pfd = open(probe, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    if (pfd >= 0) {
        close(pfd);
        CHECK_STR(got, "0,317440,352256,669696");
    } else {
        CHECK_STR(got, "0,317440,349184,666624");
    }
    unlink(probe);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "dio", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 2 * NP + 5);
    CHECK(window_matches(&w, 3, 0, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);
    q_exec(db, "DELETE FROM prediction_chunks WHERE model = 'dio'");
    sqlite3_close(db);
    orri_pseg_test_direct_min = 0;
}

static void test_damage(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    for (int b = 0; b < 4; b++)
        CHECK_INT(write_batch(m, &sc, "dm", b), ORR_OK);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    char seg[128] = "", path[8192], log[4096];
    int64_t off1 = 0;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT segment, seg_offset FROM"
                       " prediction_chunks WHERE model = 'dm' AND"
                       " ts_min = 1000", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(seg, sizeof seg, "%s", sqlite3_column_text(st, 0));
        off1 = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    CHECK(seg[0] != '\0');
    snprintf(path, sizeof path, "%s/%s", seg_dir, seg);

    /* One byte of batch 1 changed: that chunk is skipped, named. */
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;
    CHECK(pread(fd, &byte, 1, off1 + 777) == 1);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, off1 + 777) == 1);
    struct orri_mon_rows w;
    CHECK_INT(load_logged(db, "dm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 3 * NP);
    CHECK(window_matches(&w, 3, 0, 1));
    CHECK_CONTAINS(log, "1 chunk(s) of 20 predictions skipped");
    CHECK_CONTAINS(log, seg);
    char at[64];
    snprintf(at, sizeof at, "at offset %lld", (long long)off1);
    CHECK_CONTAINS(log, at);
    CHECK_CONTAINS(log, "checksum mismatch");
    /* One warning a window, not one a chunk. */
    CHECK_INT(count_str(log, "skipped"), 1);
    orri_mon_rows_free(&w);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, off1 + 777) == 1);

    /* Truncated inside batch 3 (the newest): 3 and nothing else lost. */
    int64_t off3 = q_int(db, "SELECT seg_offset FROM prediction_chunks"
                         " WHERE model = 'dm' AND ts_min = 3000");
    CHECK(ftruncate(fd, off3 + 100) == 0);
    close(fd);
    CHECK_INT(load_logged(db, "dm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 3 * NP);
    CHECK(window_matches(&w, 2, 0, -1));
    CHECK_CONTAINS(log, "truncated");
    orri_mon_rows_free(&w);

    /* The file gone: every chunk in it skipped, the window empty but
     * read (the monitor then says "no data"). */
    CHECK_INT(unlink(path), 0);
    CHECK_INT(load_logged(db, "dm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 0);
    CHECK_INT(w.rows, 0);
    CHECK_CONTAINS(log, "4 chunk(s) of 80 predictions skipped");
    CHECK_CONTAINS(log, "No such file");
    orri_mon_rows_free(&w);

    /* A chunk whose inline columns disagree with its segment size is a
     * damaged store: an error, as for inline chunks. */
    q_exec(db, "UPDATE prediction_chunks SET seg_bytes = seg_bytes - 8"
           " WHERE model = 'dm' AND ts_min = 0");
    CHECK_INT(orri_mon_window_load(db, "dm", NULL, 0, 1000, 0, 0, &w, &e),
              ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "damaged");
    q_exec(db, "DELETE FROM prediction_chunks WHERE model = 'dm'");
    sqlite3_close(db);
}

static void test_refused_names(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    CHECK_INT(write_batch(m, &sc, "nm", 0), ORR_OK);
    CHECK_INT(write_batch(m, &sc, "nm", 1), ORR_OK);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    /* A good copy of the segment outside the directory, and one in a
     * subdirectory: valid bytes, refused names all the same. */
    char seg[128] = "", cmd[8192], log[4096];
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT segment FROM prediction_chunks WHERE"
                       " model = 'nm'", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(seg, sizeof seg, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    snprintf(cmd, sizeof cmd, "cp '%s/%s' '%s/store/outside.plog' && "
             "mkdir -p '%s/sub' && cp '%s/%s' '%s/sub/in.plog'", seg_dir,
             seg, dir, seg_dir, seg_dir, seg, seg_dir);
    CHECK_INT(system(cmd), 0);
    q_exec(db, "UPDATE prediction_chunks SET segment = '../outside.plog'"
           " WHERE model = 'nm' AND ts_min = 0");
    struct orri_mon_rows w;
    CHECK_INT(load_logged(db, "nm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, NP);
    CHECK(window_matches(&w, 1, 1, -1));
    CHECK_CONTAINS(log, "'../outside.plog' refused");
    orri_mon_rows_free(&w);
    q_exec(db, "UPDATE prediction_chunks SET segment = 'sub/in.plog'"
           " WHERE model = 'nm' AND ts_min = 0");
    CHECK_INT(load_logged(db, "nm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, NP);
    CHECK_CONTAINS(log, "'sub/in.plog' refused");
    orri_mon_rows_free(&w);
    /* A symbolic link in the directory is not followed either. */
    snprintf(cmd, sizeof cmd, "ln -s '%s/store/outside.plog' '%s/link.plog'",
             dir, seg_dir);
    CHECK_INT(system(cmd), 0);
    q_exec(db, "UPDATE prediction_chunks SET segment = 'link.plog'"
           " WHERE model = 'nm' AND ts_min = 0");
    CHECK_INT(load_logged(db, "nm", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, NP);
    CHECK_CONTAINS(log, "link.plog");
    orri_mon_rows_free(&w);
    snprintf(cmd, sizeof cmd, "rm -rf '%s/sub' '%s/link.plog' "
             "'%s/store/outside.plog'", seg_dir, seg_dir, dir);
    CHECK_INT(system(cmd), 0);
    q_exec(db, "DELETE FROM prediction_chunks WHERE model = 'nm'");
    sqlite3_close(db);
}

static void test_two_writers(void)
{
    /* Two handles on one store, as two serving processes have. */
    struct orr_meta *m1 = NULL, *m2 = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *s1 = NULL, *s2 = NULL;
    orri_pseg_test_direct_min = -1;
    CHECK_INT(orr_meta_open(&m1, db_path, &e), ORR_OK);
    CHECK_INT(orr_meta_open(&m2, db_path, &e), ORR_OK);
    for (int b = 0; b < 4; b++)
        CHECK_INT(write_batch(b % 2 ? m2 : m1, b % 2 ? &s2 : &s1, "tw", b),
                  ORR_OK);
    orri_pseg_test_direct_min = 0;
    orri_pred_scratch_free(s1);
    orri_pred_scratch_free(s2);
    orr_meta_close(m1);
    orr_meta_close(m2);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "SELECT count(DISTINCT segment) FROM"
                    " prediction_chunks WHERE model = 'tw'"), 2);
    /* Each writer's file holds its own batches, from offset 0. */
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks a JOIN"
                    " prediction_chunks b ON a.segment = b.segment AND"
                    " a.id < b.id WHERE a.model = 'tw' AND b.model = 'tw'"
                    " AND a.ts_min % 2000 = b.ts_min % 2000 AND"
                    " a.seg_offset = 0 AND b.seg_offset = a.seg_bytes"), 2);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "tw", 1000, &w, log, sizeof log), ORR_OK);
    CHECK(window_matches(&w, 3, 0, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);
    sqlite3_close(db);
}

static void test_rollover(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    int before = count_files(seg_dir);
    /* A batch is 317,440 bytes: two fit in 700,000, the third rolls. */
    orri_pseg_test_limit = 700000;
    orri_pseg_test_direct_min = -1;
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    for (int b = 0; b < 5; b++)
        CHECK_INT(write_batch(m, &sc, "ro", b), ORR_OK);
    orri_pseg_test_limit = 0;
    orri_pseg_test_direct_min = 0;
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    CHECK_INT(count_files(seg_dir) - before, 3);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "SELECT count(DISTINCT segment) FROM"
                    " prediction_chunks WHERE model = 'ro'"), 3);
    CHECK_INT(q_int(db, "SELECT max(seg_offset + seg_bytes) FROM"
                    " prediction_chunks WHERE model = 'ro'"), 2 * 317440);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "ro", 1000, &w, log, sizeof log), ORR_OK);
    CHECK(window_matches(&w, 4, 0, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);
    sqlite3_close(db);
}

static void test_legacy_inline(void)
{
    /* A store of schema 7 with an inline chunk, then opened by this
     * version (migrated to 8): the old chunk reads, new ones go to
     * segments, one window holds both. */
    char path[4300];
    snprintf(path, sizeof path, "%s/old/orrery.db", dir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    orri_meta_test_schema_limit = 7;
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    orri_meta_test_schema_limit = 0;
    orr_meta_close(m);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "PRAGMA user_version"), 7);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db,
        "INSERT INTO prediction_chunks (model, version, n, ts_min, ts_max,"
        " input_cols, output_cols, request_ids, ts_ms, latency_us, rows,"
        " inputs, outputs) VALUES ('lg', '1', ?1, 0, ?1 - 1, 30, 1, ?2,"
        " ?3, ?3, ?4, ?5, ?6)", -1, &st, NULL) == SQLITE_OK);
    static unsigned char ids[NP * 16], ts[NP * 8], rw[NP * 8];
    static double in[NP * NR * NC], out[NP * NR];
    size_t il = 0;
    for (int p = 0; p < NP; p++) {
        fill(&in[p * NR * NC], &out[p * NR], 0, p);
        il += (size_t)snprintf((char *)ids + il, 16, "lg-%d", p) + 1;
        for (int k = 0; k < 8; k++) {
            ts[8 * p + k] = (unsigned char)((uint64_t)p >> (8 * k));
            rw[8 * p + k] = (unsigned char)((uint64_t)NR >> (8 * k));
        }
    }
    sqlite3_bind_int(st, 1, NP);
    sqlite3_bind_blob(st, 2, ids, (int)il, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, ts, sizeof ts, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, rw, sizeof rw, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, in, sizeof in, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, out, sizeof out, SQLITE_STATIC);
    CHECK_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);

    struct orri_pred_scratch *sc = NULL;
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    CHECK_INT(write_batch(m, &sc, "lg", 1), ORR_OK);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "PRAGMA user_version"), 8);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment IS NULL AND length(inputs) = 20 * 64 * 30 * 8"),
              1);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "lg", 1000, &w, log, sizeof log), ORR_OK);
    CHECK_INT(w.n_requests, 2 * NP);
    CHECK(window_matches(&w, 1, 0, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);
    sqlite3_close(db);
}

static void test_inline_stores(void)
{
    /* A store without a file keeps chunks inline. */
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    CHECK_INT(orr_meta_open(&m, ":memory:", &e), ORR_OK);
    CHECK_INT(write_batch(m, &sc, "mem", 0), ORR_OK);
    CHECK_INT(q_int(m->db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment IS NULL AND length(inputs) = 20 * 64 * 30 * 8"
                    " AND length(outputs) = 20 * 64 * 8"), 1);
    struct orri_mon_rows w;
    CHECK_INT(orri_mon_window_load(m->db, "mem", NULL, 0, 100, 0, 0, &w,
                                   &e), ORR_OK);
    CHECK(window_matches(&w, 0, 0, -1));
    orri_mon_rows_free(&w);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);

    /* A directory that cannot be made (a file has its name): inline
     * too, nothing lost. */
    char path[4300], pd[4400];
    snprintf(path, sizeof path, "%s/nodir/orrery.db", dir);
    snprintf(pd, sizeof pd, "%s/nodir/predictions", dir);
    sc = NULL;
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    FILE *f = fopen(pd, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_INT(write_batch(m, &sc, "nd", 0), ORR_OK);
    CHECK_INT(q_int(m->db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment IS NULL"), 1);
    /* Said once (the server's writer logs it), not every batch. */
    const char *why = orri_pred_scratch_seg_error(sc);
    CHECK(why != NULL);
    if (why)
        CHECK_CONTAINS(why, "predictions");
    CHECK(orri_pred_scratch_seg_error(sc) == NULL);
    CHECK_INT(write_batch(m, &sc, "nd", 1), ORR_OK);
    CHECK(orri_pred_scratch_seg_error(sc) == NULL);
    /* The way cleared, the next batch goes to a segment. */
    CHECK_INT(unlink(pd), 0);
    CHECK_INT(write_batch(m, &sc, "nd", 2), ORR_OK);
    CHECK(orri_pred_scratch_seg_error(sc) == NULL);
    CHECK_INT(q_int(m->db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment IS NOT NULL"), 1);
    CHECK_INT(orri_mon_window_load(m->db, "nd", NULL, 0, 100, 0, 0, &w,
                                   &e), ORR_OK);
    CHECK(window_matches(&w, 2, 0, -1));
    orri_mon_rows_free(&w);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
}

/* Retention (meta/pprune.c): rows before the cutoff go, then the files
 * no chunk names, except a live writer's and recent ones; a symbolic
 * link and other files are left alone; a dry run changes nothing. */
static int prune(struct orr_meta *m, int64_t before, const char *model,
                 int64_t grace, int dry, struct orri_prune_report *r)
{
    struct orr_error e = {0};
    int rc = orri_predictions_prune(m, before, model, grace, dry, r, &e);
    if (rc)
        fprintf(stderr, "prune: %s\n", e.msg);
    return rc;
}

static void test_prune(void)
{
    char pdir[1100], pdb[1200], psegs[1200], path[1400];
    snprintf(pdir, sizeof pdir, "%s/prune", dir);
    CHECK_INT(mkdir(pdir, 0700), 0);
    snprintf(pdb, sizeof pdb, "%s/orrery.db", pdir);
    snprintf(psegs, sizeof psegs, "%s/predictions", pdir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *old = NULL, *live = NULL;
    CHECK_INT(orr_meta_open(&m, pdb, &e), ORR_OK);
    /* One batch a file; times are batch * 1000 + prediction (ms). */
    orri_pseg_test_limit = 317440;
    orri_pseg_test_direct_min = -1;
    for (int b = 0; b < 4; b++)
        CHECK_INT(write_batch(m, &old, "pa", b), ORR_OK);
    for (int b = 4; b < 6; b++)
        CHECK_INT(write_batch(m, &live, "pb", b), ORR_OK);
    orri_pred_scratch_free(old);
    old = NULL;
    CHECK_INT(count_files(psegs), 6);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(pdb, &db) == SQLITE_OK);
    q_exec(db, "INSERT INTO labels (request_id, model, label, ts_ms)"
               " VALUES ('pa-0-1', 'pa', '1', 100),"
               " ('pb-5-1', 'pb', '0', 9000000000000)");
    /* Not segments: a note, and a link to a file outside. */
    snprintf(path, sizeof path, "%s/NOTES", psegs);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    char outside[1200];
    snprintf(outside, sizeof outside, "%s/outside.plog", pdir);
    CHECK((f = fopen(outside, "w")) != NULL);
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/evil.plog", psegs);
    CHECK_INT(symlink(outside, path), 0);

    struct orri_prune_report r;
    CHECK_INT(prune(m, 3500, NULL, 0, 1, &r), ORR_OK);
    CHECK_INT(r.chunks, 4);
    CHECK_INT(r.predictions, 4 * NP);
    CHECK_INT(r.labels, 1);
    CHECK_INT(r.files, 4);
    CHECK(r.file_bytes == 4 * 317440);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks"), 6);
    CHECK_INT(q_int(db, "SELECT count(*) FROM labels"), 2);
    CHECK_INT(count_files(psegs), 8);
    /* Another model's cutoff leaves pa's files: its chunks name them. */
    CHECK_INT(prune(m, 3500, "pb", 0, 0, &r), ORR_OK);
    CHECK_INT(r.chunks + r.labels + r.files, 0);
    orri_pprune_test_slice = 3;         /* 4 chunks: two transactions */
    CHECK_INT(prune(m, 3500, NULL, 0, 0, &r), ORR_OK);
    orri_pprune_test_slice = 0;
    CHECK_INT(r.chunks, 4);
    CHECK_INT(r.labels, 1);
    CHECK_INT(r.files, 4);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks"
                    " WHERE model = 'pa'"), 0);
    CHECK_INT(q_int(db, "SELECT count(*) FROM labels"), 1);
    CHECK_INT(count_files(psegs), 4);   /* pb's 2, NOTES, the link */
    CHECK(access(outside, F_OK) == 0);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "pb", 1000, &w, log, sizeof log), ORR_OK);
    CHECK(window_matches(&w, 5, 4, -1));
    CHECK_STR(log, "");
    orri_mon_rows_free(&w);

    /* The live writer's file: its only chunk is old, but it is held. */
    CHECK_INT(write_batch(m, &live, "pb", 1), ORR_OK);
    CHECK_INT(prune(m, 3500, "pb", 0, 0, &r), ORR_OK);
    CHECK_INT(r.chunks, 1);
    CHECK_INT(r.files, 0);
    CHECK_INT(r.files_kept, 1);
    orri_pred_scratch_free(live);
    CHECK_INT(prune(m, 3500, "pb", 0, 0, &r), ORR_OK);
    CHECK_INT(r.chunks, 0);
    CHECK_INT(r.files, 1);
    /* A file written to within the grace period stays. */
    CHECK_INT(write_batch(m, &old, "pc", 2), ORR_OK);
    orri_pred_scratch_free(old);
    CHECK_INT(prune(m, 3500, NULL, 3600 * 1000, 0, &r), ORR_OK);
    CHECK_INT(r.chunks, 1);
    CHECK_INT(r.files, 0);
    CHECK_INT(r.files_kept, 1);
    CHECK_INT(prune(m, 3500, NULL, 0, 0, &r), ORR_OK);
    CHECK_INT(r.files, 1);
    CHECK_INT(count_files(psegs), 4);
    orri_pseg_test_limit = 0;
    orri_pseg_test_direct_min = 0;
    sqlite3_close(db);
    orr_meta_close(m);
}

static void test_cleanup(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

TEST_MAIN({"setup", test_setup}, {"check_and_names", test_check_and_names},
          {"round_trip", test_round_trip}, {"direct", test_direct},
          {"damage", test_damage},
          {"refused_names", test_refused_names},
          {"two_writers", test_two_writers}, {"rollover", test_rollover},
          {"legacy_inline", test_legacy_inline},
          {"inline_stores", test_inline_stores}, {"prune", test_prune},
          {"cleanup", test_cleanup})
