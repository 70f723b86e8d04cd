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
 * Stream mode and chunks of layout 1 (schema 9): a ring mirrored over
 * many wraps and roll-overs, direct and buffered, reads back as the
 * stream, partial blocks rewritten; chunks committed by
 * orri_predictions_commit read in a window with layout-0 chunks and
 * legacy rows; a damaged one is skipped; bad chunks are refused whole;
 * a stream writer's live file survives a prune.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
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

/* The record checksum of layout 1, written out plainly, word by word:
 * the library's (vectorised, and built for AVX2 where it can) must give
 * the same value for every length and cut. */
static uint64_t ref_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t ref_record_check(const unsigned char *p, size_t len)
{
    static const uint64_t key[8] = {
        0x9E3779B185EBCA87ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
        0x85EBCA77C2B2AE63ull, 0x27D4EB2F165667C5ull, 0x94D049BB133111EBull,
        0xBF58476D1CE4E5B9ull, 0xD6E8FEB86659FD93ull};
    const uint64_t k1 = 0x9E3779B185EBCA87ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t acc[8];
    for (int i = 0; i < 8; i++)
        acc[i] = key[7 - i];
    size_t n = len / 64;
    for (size_t s = 0; s < n; s++)
        for (int i = 0; i < 8; i++) {
            uint64_t w = 0;
            for (int b = 0; b < 8; b++)
                w |= (uint64_t)p[64 * s + 8 * (size_t)i + (size_t)b]
                     << (8 * b);
            uint64_t y = w ^ key[i];
            acc[i] += (y & 0xffffffffu) * (y >> 32) + w;
        }
    uint64_t x = (uint64_t)len * k1;
    for (int i = 0; i < 8; i++) {
        x ^= acc[i];
        x = ref_rotl(x * k2, 31) * k1;
    }
    const unsigned char *t = p + 64 * n, *end = p + len;
    for (; t + 8 <= end; t += 8) {
        uint64_t w = 0;
        for (int b = 0; b < 8; b++)
            w |= (uint64_t)t[b] << (8 * b);
        x ^= ref_rotl(w * k2, 31) * k1;
        x = ref_rotl(x, 27) * k1 + k2;
    }
    for (; t < end; t++) {
        x ^= *t * k2;
        x = ref_rotl(x, 11) * k1;
    }
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void test_record_check(void)
{
    static unsigned char b[17000];
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < sizeof b; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        b[i] = (unsigned char)r;
    }
    int differ = 0, pieces = 0;
    for (size_t len = 0; len < 300; len++)
        differ += orri_pseg_record_check(b, len) != ref_record_check(b, len);
    differ += orri_pseg_record_check(b, 16896) != ref_record_check(b, 16896);
    differ += orri_pseg_record_check(b + 3, 16893) !=
              ref_record_check(b + 3, 16893);
    CHECK_INT(differ, 0);
    /* In pieces (a record's inputs, then its outputs) as at once. */
    for (size_t cut = 1; cut < 200; cut += 9) {
        struct orri_pseg_rhash h;
        orri_pseg_rhash_init(&h);
        for (size_t o = 0; o < 5000; o += cut)
            orri_pseg_rhash_update(&h, b + o, 5000 - o < cut ? 5000 - o : cut);
        pieces += orri_pseg_rhash_final(&h) != ref_record_check(b, 5000);
    }
    CHECK_INT(pieces, 0);
    /* Every single bit flipped changes it. */
    int same = 0;
    for (size_t len = 1; len < 200; len += 37)
        for (size_t i = 0; i < len * 8; i++) {
            uint64_t a = orri_pseg_record_check(b, len);
            b[i / 8] ^= (unsigned char)(1u << (i % 8));
            same += a == orri_pseg_record_check(b, len);
            b[i / 8] ^= (unsigned char)(1u << (i % 8));
        }
    CHECK_INT(same, 0);
    /* Pinned: stored checksums must keep their meaning. */
    unsigned char seq[256];
    for (int i = 0; i < 256; i++)
        seq[i] = (unsigned char)i;
    CHECK(orri_pseg_record_check("", 0) == 0x3bda4bea0b7a1bbeull);
    CHECK(orri_pseg_record_check(seq, 256) == 0x90490027d10a4028ull);
    CHECK(orri_pseg_record_check(seq, 77) == 0xda49c971a074b4dcull);
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
    CHECK_INT(q_int(db, "PRAGMA user_version"),
              orri_meta_schema_version());
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
    CHECK_INT(q_int(db, "PRAGMA user_version"),
              orri_meta_schema_version());
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

static void test_migration_9(void)
{
    /* A store of schema 8 with a segment chunk, opened by this version
     * (migrated to 9): its seg_layout is NULL, and it reads as layout
     * 0, bit for bit. */
    char path[4300];
    snprintf(path, sizeof path, "%s/v8/orrery.db", dir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    orri_meta_test_schema_limit = 8;
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    CHECK_INT(write_batch(m, &sc, "v8", 0), ORR_OK);
    orri_meta_test_schema_limit = 0;
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "PRAGMA user_version"), 8);
    sqlite3_close(db);
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    orr_meta_close(m);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "PRAGMA user_version"),
              orri_meta_schema_version());
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " segment IS NOT NULL AND seg_layout IS NULL"), 1);
    struct orri_mon_rows w;
    char log[4096];
    CHECK_INT(load_logged(db, "v8", 1000, &w, log, sizeof log), ORR_OK);
    CHECK(window_matches(&w, 0, 0, -1));
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

/* ---- stream mode and layout 1 (schema migration 9) ---------------------- */

/* 1 when O_DIRECT works in directory `d` (tmpfs before Linux 6.6 refuses
 * it: the writer then goes through the page cache). */
static int direct_works(const char *d)
{
    char probe[1400];
    snprintf(probe, sizeof probe, "%s/probe", d);
    int fd = open(probe, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    if (fd >= 0)
        close(fd);
    unlink(probe);
    return fd >= 0;
}

/* The byte at stream position p: no period a ring or file could hide. */
static unsigned char sbyte(uint64_t p)
{
    uint64_t x = (p + 1) * 0x9E3779B97F4A7C15ull;
    return (unsigned char)(x >> 56 ^ x >> 17);
}

#define SRING ((size_t)64 << 10)
#define A     ((uint64_t)ORRI_PSEG_ALIGN)

struct scall {
    char     name[ORRI_PSEG_NAME_MAX + 1];
    int64_t  off;
    uint64_t from, to;
};

/* 1 when file `name` of `sd` holds the stream [from, to) at offset
 * from - base and is `size` bytes long (-1: any). */
static int file_holds(const char *sd, const char *name, uint64_t base,
                      uint64_t from, uint64_t to, int64_t size)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", sd, name);
    struct stat sb;
    if (stat(path, &sb) || (size >= 0 && sb.st_size != size)) {
        fprintf(stderr, "%s: %lld bytes, expected %lld\n", path,
                (long long)sb.st_size, (long long)size);
        return 0;
    }
    unsigned char *b = malloc(to - from + 1);
    int fd = open(path, O_RDONLY);
    ssize_t k = b && fd >= 0 ? pread(fd, b, to - from, (off_t)(from - base))
                             : -1;
    int ok = k == (ssize_t)(to - from);
    for (uint64_t p = from; ok && p < to; p++)
        if (b[p - from] != sbyte(p)) {
            fprintf(stderr, "%s: stream byte %llu differs\n", path,
                    (unsigned long long)p);
            ok = 0;
        }
    if (fd >= 0)
        close(fd);
    free(b);
    return ok;
}

/* Mirror `total` bytes of a stream through a 64 KiB ring, in ranges of
 * tiny to ring-filling lengths whose ends fall anywhere in a block,
 * files rolled past `limit`; each file must hold the stream from its
 * first range to its last, bit for bit (the partial blocks rewritten
 * whole by O_DIRECT included).  Returns the files made. */
static int stream_run(const char *sd, int direct, int64_t limit,
                      uint64_t total)
{
    struct orr_error e = {0};
    unsigned char *ring = NULL;
    CHECK(posix_memalign((void **)&ring, ORRI_PSEG_ALIGN, SRING) == 0);
    memset(ring, 0xEE, SRING);
    orri_pseg_test_direct_min = direct ? 0 : -1;
    orri_pseg_test_limit = limit;
    struct orri_pseg_writer *w = NULL;
    CHECK_INT(orri_pseg_writer_new(sd, &w, &e), ORR_OK);
    size_t cap = 4096, n = 0;
    struct scall *calls = calloc(cap, sizeof *calls);
    uint32_t lcg = 12345;
    int bad = 0;
    for (uint64_t from = 0; from < total && n < cap;) {
        lcg = lcg * 1103515245u + 12345u;
        uint64_t len = (lcg >> 8) % 3 == 0 ? (lcg >> 12) % 64 + 1
                     : (lcg >> 8) % 3 == 1 ? (lcg >> 12) % 9000 + 1
                                           : (lcg >> 12) % SRING + 1;
        uint64_t room = SRING - from % A;
        len = len < room ? len : room;
        len = len < total - from ? len : total - from;
        uint64_t to = from + len;
        for (uint64_t p = from; p < to; p++)
            ring[p % SRING] = sbyte(p);
        /* Past `to` to its block's end: what a serving thread may be
         * writing meanwhile, not the stream. */
        for (uint64_t p = to; p % A && p < from / A * A + SRING; p++)
            ring[p % SRING] = (unsigned char)~sbyte(p);
        const char *name = NULL;
        struct scall *c = &calls[n];
        if (orri_pseg_stream_write(w, ring, SRING, from, to, &name,
                                   &c->off, &e)) {
            fprintf(stderr, "stream_write: %s\n", e.msg);
            bad++;
            break;
        }
        snprintf(c->name, sizeof c->name, "%s", name);
        c->from = from;
        c->to = to;
        if (n && !strcmp(c->name, calls[n - 1].name)) {
            /* Same file: the stream goes on where it was. */
            bad += c->off != calls[n - 1].off + (int64_t)(from -
                                                         calls[n - 1].from);
            bad += limit && (int64_t)(to - (from - (uint64_t)c->off)) >
                            limit;
        } else {
            /* A new file: its base is `from` rounded down. */
            bad += c->off != (int64_t)(from % A);
        }
        n++;
        from = to;
    }
    CHECK_INT(bad, 0);
    orri_pseg_writer_free(w);
    int files = 0;
    int dio = direct && direct_works(sd);
    for (size_t i = 0; i < n; files++) {
        size_t j = i;
        while (j + 1 < n && !strcmp(calls[j + 1].name, calls[i].name))
            j++;
        uint64_t base = calls[i].from - (uint64_t)calls[i].off;
        uint64_t end = dio ? (calls[j].to + A - 1) / A * A : calls[j].to;
        CHECK(file_holds(sd, calls[i].name, base, calls[i].from,
                         calls[j].to, (int64_t)(end - base)));
        i = j + 1;
    }
    CHECK(n < cap && calls[n - 1].to == total);
    free(calls);
    free(ring);
    orri_pseg_test_direct_min = 0;
    orri_pseg_test_limit = 0;
    return files;
}

static void test_stream_round_trip(void)
{
    char sd[1200];
    /* 2.5 MiB through 64 KiB: 40 wraps; 300,000 bytes a file. */
    uint64_t total = (uint64_t)5 << 19;
    snprintf(sd, sizeof sd, "%s/stream-direct", dir);
    int files = stream_run(sd, 1, 300000, total);
    CHECK(files >= (int)(total / 300000) && files <= 2 * (int)(total /
                                                               300000));
    CHECK_INT(count_files(sd), files);
    snprintf(sd, sizeof sd, "%s/stream-buffered", dir);
    files = stream_run(sd, 0, 300000, total);
    CHECK(files >= (int)(total / 300000));
    CHECK_INT(count_files(sd), files);
    /* One file when the limit is not reached. */
    snprintf(sd, sizeof sd, "%s/stream-one", dir);
    CHECK_INT(stream_run(sd, 1, 0, 1 << 20), 1);
}

static void test_stream_partial_blocks(void)
{
    /* Ends inside one block, call after call, then across the ring's
     * end: each call rewrites its first block whole (O_DIRECT) and the
     * file still reads as the stream. */
    static const uint64_t ends[] = {1, 100, 101, 4095, 4096, 4097, 5000,
                                    8191, 12000, 16384, 16385, 20000,
                                    30000, 32768, 40000};
    char sd[1200];
    snprintf(sd, sizeof sd, "%s/stream-partial", dir);
    for (int direct = 1; direct >= 0; direct--) {
        struct orr_error e = {0};
        unsigned char *ring = NULL;
        CHECK(posix_memalign((void **)&ring, A, 16384) == 0);
        orri_pseg_test_direct_min = direct ? 0 : -1;
        struct orri_pseg_writer *w = NULL;
        CHECK_INT(orri_pseg_writer_new(sd, &w, &e), ORR_OK);
        char name[ORRI_PSEG_NAME_MAX + 1] = "";
        uint64_t from = 0;
        for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
            for (uint64_t p = from; p < ends[i]; p++)
                ring[p % 16384] = sbyte(p);
            for (uint64_t p = ends[i]; p % A; p++)
                ring[p % 16384] = 0x5A;
            const char *nm = NULL;
            int64_t off = -1;
            CHECK_INT(orri_pseg_stream_write(w, ring, 16384, from, ends[i],
                                             &nm, &off, &e), ORR_OK);
            CHECK_INT(off, (int64_t)from);
            if (i == 0 && nm)
                snprintf(name, sizeof name, "%s", nm);
            CHECK(nm && !strcmp(nm, name));
            from = ends[i];
        }
        orri_pseg_writer_free(w);
        int dio = direct && direct_works(sd);
        CHECK(file_holds(sd, name, 0, 0, 40000, dio ? 40960 : 40000));
        free(ring);
    }
    orri_pseg_test_direct_min = 0;
}

static void test_stream_errors(void)
{
    char sd[1200];
    snprintf(sd, sizeof sd, "%s/stream-errors", dir);
    struct orr_error e = {0};
    unsigned char *ring = NULL;
    CHECK(posix_memalign((void **)&ring, A, 16384) == 0);
    memset(ring, 1, 16384);
    struct orri_pseg_writer *w = NULL;
    const char *nm = NULL;
    int64_t off = 0;
    CHECK_INT(orri_pseg_writer_new(sd, &w, &e), ORR_OK);
    /* Misaligned or odd-sized ring, reversed or too long range: refused
     * before any file is made. */
    CHECK_INT(orri_pseg_stream_write(w, ring + 8, 4096, 0, 10, &nm, &off,
                                     &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "ring of 4096 bytes");
    CHECK_INT(orri_pseg_stream_write(w, ring, 6000, 0, 10, &nm, &off, &e),
              ORR_EINVAL);
    CHECK_INT(orri_pseg_stream_write(w, ring, 8192, 10, 5, &nm, &off, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "[10, 5)");
    /* 4096 + 4097 bytes from the block start: more than the ring. */
    CHECK_INT(orri_pseg_stream_write(w, ring, 8192, 4096 + 4095,
                                     4096 + 8193, &nm, &off, &e),
              ORR_EINVAL);
    CHECK(nm == NULL);
    CHECK_INT(count_files(sd), 0);
    /* Ranges go forward only. */
    CHECK_INT(orri_pseg_stream_write(w, ring, 8192, 0, 100, &nm, &off, &e),
              ORR_OK);
    CHECK_INT(orri_pseg_stream_write(w, ring, 8192, 50, 150, &nm, &off,
                                     &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "goes back before 100");
    /* A stream writer appends no batches, a batch writer mirrors no
     * stream. */
    CHECK_INT(orri_pseg_append(w, "abc", 3, &nm, &off, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "stream writer cannot append batches");
    struct orri_pseg_writer *bw = NULL;
    CHECK_INT(orri_pseg_writer_new(sd, &bw, &e), ORR_OK);
    CHECK_INT(orri_pseg_append(bw, "abc", 3, &nm, &off, &e), ORR_OK);
    CHECK_INT(orri_pseg_stream_write(bw, ring, 8192, 0, 10, &nm, &off, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "batch writer cannot mirror a stream");
    orri_pseg_writer_free(bw);

    /* A write that fails (the file size limit: EFBIG) abandons the
     * file, named; the next range opens a new one. */
    char first[ORRI_PSEG_NAME_MAX + 1] = "";
    CHECK_INT(orri_pseg_stream_write(w, ring, 8192, 100, 4000, &nm, &off,
                                     &e), ORR_OK);
    if (nm)
        snprintf(first, sizeof first, "%s", nm);
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit lim = {8192, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = orri_pseg_stream_write(w, ring, 16384, 4000, 12000, &nm, &off,
                                    &e);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    CHECK_INT(rc, ORR_EIO);
    CHECK_CONTAINS(e.msg, first);
    CHECK_CONTAINS(e.msg, "File too large");
    /* A new file whose first write fails is removed, not left empty
     * (a full disk made one a batch). */
    int files = count_files(sd);
    lim.rlim_cur = 0;
    prev = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    for (int k = 0; k < 3; k++)
        CHECK_INT(orri_pseg_stream_write(w, ring, 16384, 12000, 12100, &nm,
                                         &off, &e), ORR_EIO);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    CHECK_INT(count_files(sd), files);
    CHECK_INT(orri_pseg_stream_write(w, ring, 16384, 12000, 12100, &nm,
                                     &off, &e), ORR_OK);
    CHECK(nm && strcmp(nm, first));
    CHECK_INT(off, 12000 % 4096);
    CHECK_INT(count_files(sd), files + 1);
    orri_pseg_writer_free(w);
    free(ring);
}

/* Predictions of layout-1 batches: prediction p of batch b has
 * 1 + p % 3 rows of NC inputs and one output. */
static int l1_rows(int p)
{
    return 1 + p % 3;
}

static double l1_in(int b, int p, int r, int c)
{
    return b * 1e6 + p * 1e4 + r * 100 + c + 0.25;
}

static double l1_out(int b, int p, int r)
{
    return -(b + p * 0.001 + r * 1e-6);
}

/* A serving thread's lane: the ring the records are appended to. */
#define LRING ((size_t)16 << 10)
struct lane {
    unsigned char *ring;
    uint64_t       pos;
};

static void lane_put(struct lane *l, const void *src, size_t len)
{
    const unsigned char *s = src;
    while (len) {
        size_t at = (size_t)(l->pos % LRING);
        size_t k = LRING - at < len ? LRING - at : len;
        memcpy(l->ring + at, s, k);
        s += k;
        len -= k;
        l->pos += k;
    }
}

static void le64(unsigned char *d, int64_t v)
{
    for (int k = 0; k < 8; k++)
        d[k] = (unsigned char)((uint64_t)v >> (8 * k));
}

/* Where the chunks of layout 1 went. */
struct l1_chunk {
    char    seg[ORRI_PSEG_NAME_MAX + 1];
    int64_t off, bytes;
    int     b, p0, n;
};
static struct l1_chunk l1c[64];
static int n_l1c;

/* Batch `b` of `np` predictions of `model` appended to the lane, each
 * record checksummed as it is made, mirrored to `w` in one range,
 * committed as chunks of `per` predictions with the `n_rows` legacy
 * `rows`. */
static int l1_batch(struct orr_meta *m, struct orri_pred_scratch **sc,
                    struct orri_pseg_writer *w, struct lane *l,
                    const char *model, int b, int np, int per,
                    const struct orri_prediction_row *rows, size_t n_rows,
                    struct orr_error *e)
{
    static unsigned char ids[8][NP * 32], ts[8][NP * 8], lat[8][NP * 8],
                         rw[8][NP * 8];
    struct orri_chunk_row ch[8];
    uint64_t start[8], from = l->pos;
    int nch = 0;
    for (int p0 = 0; p0 < np && nch < 8; p0 += per, nch++) {
        int n = np - p0 < per ? np - p0 : per;
        struct orri_pseg_hash h;
        orri_pseg_hash_init(&h);
        size_t il = 0;
        start[nch] = l->pos;
        for (int k = 0; k < n; k++) {
            int p = p0 + k, nr = l1_rows(p);
            double rec[3 * (NC + 1)];
            unsigned char le[sizeof rec];
            for (int r = 0; r < nr; r++) {
                for (int c = 0; c < NC; c++)
                    rec[r * NC + c] = l1_in(b, p, r, c);
                rec[nr * NC + r] = l1_out(b, p, r);
            }
            size_t len = (size_t)nr * (NC + 1) * 8;
            orri_f64_to_le(le, rec, (size_t)nr * (NC + 1));
            orri_pseg_fold(&h, orri_pseg_record_check(le, len));
            lane_put(l, le, len);
            il += (size_t)snprintf((char *)ids[nch] + il, 32, "%s-%d-%d",
                                   model, b, p) + 1;
            le64(ts[nch] + 8 * k, 1000 * b + p);
            le64(lat[nch] + 8 * k, 5);
            le64(rw[nch] + 8 * k, nr);
        }
        ch[nch] = (struct orri_chunk_row){
            .model = model, .version = "1", .n = (size_t)n,
            .ts_min = 1000 * b + p0, .ts_max = 1000 * b + p0 + n - 1,
            .in_cols = NC, .out_cols = 1, .ids = ids[nch], .ids_len = il,
            .ts = ts[nch], .latency = lat[nch], .rows = rw[nch],
            .seg_bytes = (int64_t)(l->pos - start[nch]),
            .seg_check = orri_pseg_hash_final(&h), .seg_layout = 1};
    }
    const char *name = NULL;
    int64_t off = 0;
    int rc = orri_pseg_stream_write(w, l->ring, LRING, from, l->pos, &name,
                                    &off, e);
    if (rc)
        return rc;
    for (int c = 0; c < nch; c++) {
        ch[c].segment = name;
        ch[c].seg_offset = off + (int64_t)(start[c] - from);
    }
    rc = orri_predictions_commit(m, ch, (size_t)nch, rows, n_rows, sc, e);
    for (int c = 0; !rc && c < nch && n_l1c < 64; c++, n_l1c++) {
        snprintf(l1c[n_l1c].seg, sizeof l1c[n_l1c].seg, "%s", name);
        l1c[n_l1c].off = ch[c].seg_offset;
        l1c[n_l1c].bytes = ch[c].seg_bytes;
        l1c[n_l1c].b = b;
        l1c[n_l1c].p0 = c * per;
        l1c[n_l1c].n = (int)ch[c].n;
    }
    return rc;
}

/* 1 when the window's rows from *row on, newest first, are batches b_hi
 * down to b_lo of the mixed model (batch 0 of layout 0, written by
 * write_batch; the others of layout 1), without predictions
 * [skip_p0, skip_p0 + skip_n) of batch skip_b; *row moves past them. */
static int l1_matches(const struct orri_mon_rows *w, size_t *row, int b_hi,
                      int b_lo, int skip_b, int skip_p0, int skip_n)
{
    double in[NR * NC], out[NR];
    for (int b = b_hi; b >= b_lo; b--) {
        for (int p = NP - 1; p >= 0; p--) {
            if (b == skip_b && p >= skip_p0 && p < skip_p0 + skip_n)
                continue;
            int nr = b ? l1_rows(p) : NR;
            if (!b)
                fill(in, out, 0, p);
            for (int r = 0; r < nr; r++, (*row)++) {
                if (*row >= w->rows)
                    return 0;
                for (int c = 0; c < NC; c++) {
                    double v = b ? l1_in(b, p, r, c) : in[r * NC + c];
                    if (memcmp(&w->x[(size_t)c * w->stride + *row], &v, 8))
                        return 0;
                }
                double y = b ? l1_out(b, p, r) : out[r];
                if (memcmp(&w->y[*row], &y, 8))
                    return 0;
            }
        }
    }
    return 1;
}

static void test_layout1(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL, *sc1 = NULL;
    struct orri_pseg_writer *w = NULL;
    struct lane l = {NULL, 5};          /* a lane that began mid-block */
    CHECK(posix_memalign((void **)&l.ring, A, LRING) == 0);
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    /* Batch 0 as before (layout 0), then three through a lane. */
    CHECK_INT(write_batch(m, &sc, "l1", 0), ORR_OK);
    CHECK_INT(orri_pseg_writer_new(seg_dir, &w, &e), ORR_OK);
    /* Legacy rows with batch 1, in its transaction: one binary, one
     * JSON (outputs of another row count than the inputs). */
    double lin[NC], lout[2] = {7.5, 8.5};
    char json[1024];
    size_t jl = (size_t)snprintf(json, sizeof json, "[[");
    for (int c = 0; c < NC; c++) {
        lin[c] = -1000 - c;
        jl += (size_t)snprintf(json + jl, sizeof json - jl, "%s%d",
                               c ? "," : "", -2000 - c);
    }
    snprintf(json + jl, sizeof json - jl, "]]");
    struct orri_prediction_row legacy[2] = {
        {.request_id = "l1-legacy-bin", .model = "l1", .version = "1",
         .ts_ms = 500, .latency_us = 3, .in = lin, .in_rows = 1,
         .in_cols = NC, .out = lout, .out_rows = 1, .out_cols = 1},
        {.request_id = "l1-legacy-json", .model = "l1", .version = "1",
         .ts_ms = 501, .latency_us = 3, .inputs = json,
         .outputs = "[[1], [2]]"}};
    n_l1c = 0;
    int rc = l1_batch(m, &sc1, w, &l, "l1", 1, NP, 12, legacy, 2, &e);
    CHECK_INT(rc, ORR_OK);
    for (int b = 2; b <= 3 && !rc; b++) {
        rc = l1_batch(m, &sc1, w, &l, "l1", b, NP, 12, NULL, 0, &e);
        CHECK_INT(rc, ORR_OK);
    }
    if (rc)
        fprintf(stderr, "layout 1: %s\n", e.msg);
    /* The lane wrapped its 16 KiB ring. */
    CHECK(l.pos > LRING);
    CHECK_INT(n_l1c, 6);
    /* Labels match through the chunks' inline ids. */
    struct orri_label_row labs[3] = {{"l1-2-6", "l1", "1"},
                                     {"l1-0-3", "l1", "0"},
                                     {"l1-9-9", "l1", "1"}};
    int64_t matched = -1;
    CHECK_INT(orri_labels_put(m, labs, 3, &matched, &e), ORR_OK);
    CHECK_INT(matched, 2);

    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " model = 'l1' AND seg_layout = 1 AND length(inputs) = 0"
                    " AND outputs IS NULL"), 6);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " model = 'l1' AND seg_layout IS NULL"), 1);
    CHECK_INT(q_int(db, "SELECT count(*) FROM predictions WHERE"
                    " model = 'l1'"), 2);
    struct orri_mon_rows win;
    char log[4096];
    CHECK_INT(load_logged(db, "l1", 1000, &win, log, sizeof log), ORR_OK);
    CHECK_STR(log, "");
    CHECK_INT(win.n_requests, 4 * NP + 2);
    CHECK_INT(win.cols, NC);
    CHECK_INT(win.out_cols, 1);
    size_t row = 0;
    CHECK(l1_matches(&win, &row, 3, 0, -1, 0, 0));
    /* Then the legacy rows, older than every chunk, newest first: the
     * JSON one's first output row (of 2 for 1 input row) is kept. */
    CHECK_INT(win.rows, row + 2);
    if (win.rows == row + 2) {
        CHECK(win.x[row] == -2000 && win.y[row] == 1);
        CHECK(win.x[row + 1] == -1000 && win.y[row + 1] == 7.5);
        CHECK(win.x[(size_t)(NC - 1) * win.stride + row + 1] ==
              -1000 - (NC - 1));
    }
    /* The labels joined by id: to the rows those ids' payloads are. */
    CHECK_INT(win.n_labelled, 2);
    int ones = 0, zeros = 0;
    double in[NR * NC], out[NR];
    fill(in, out, 0, 3);
    for (size_t i = 0; i < win.rows; i++) {
        if (win.label[i] == 1.0) {
            ones++;
            CHECK(win.x[i] == l1_in(2, 6, 0, 0));
        } else if (win.label[i] == 0.0) {
            zeros++;
            CHECK(!memcmp(&win.x[i], &in[0], 8));
        }
    }
    CHECK_INT(ones, 1);
    CHECK_INT(zeros, 1);
    CHECK_INT(win.end_ms, 3019);
    orri_mon_rows_free(&win);
    /* Times: a window of batch 2 only. */
    CHECK_INT(orri_mon_window_load(db, "l1", NULL, 0, 0, 999, 2999, &win,
                                   &e), ORR_OK);
    CHECK_INT(win.n_requests, NP);
    row = 0;
    CHECK(l1_matches(&win, &row, 2, 2, -1, 0, 0) && row == win.rows);
    CHECK_INT(win.start_ms, 2000);
    CHECK_INT(win.end_ms, 2019);
    orri_mon_rows_free(&win);
    /* A count window stops inside a layout-1 chunk. */
    CHECK_INT(orri_mon_window_load(db, "l1", NULL, 0, 3, 0, 0, &win, &e),
              ORR_OK);
    CHECK_INT(win.n_requests, 3);
    CHECK_INT(win.rows, l1_rows(19) + l1_rows(18) + l1_rows(17));
    orri_mon_rows_free(&win);

    /* One byte of batch 2's second chunk changed: that chunk (8
     * predictions) is skipped with the warning, the rest reads. */
    struct l1_chunk *dc = &l1c[3];
    CHECK(dc->b == 2 && dc->p0 == 12 && dc->n == 8);
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", seg_dir, dc->seg);
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;
    CHECK(pread(fd, &byte, 1, dc->off + 300) == 1);
    byte ^= 0x01;
    CHECK(pwrite(fd, &byte, 1, dc->off + 300) == 1);
    CHECK_INT(load_logged(db, "l1", 1000, &win, log, sizeof log), ORR_OK);
    CHECK_INT(win.n_requests, 4 * NP + 2 - 8);
    row = 0;
    CHECK(l1_matches(&win, &row, 3, 0, 2, 12, 8));
    CHECK_CONTAINS(log, "1 chunk(s) of 8 predictions skipped");
    CHECK_CONTAINS(log, dc->seg);
    CHECK_CONTAINS(log, "checksum mismatch");
    CHECK_CONTAINS(log, "8 records");
    orri_mon_rows_free(&win);
    byte ^= 0x01;
    CHECK(pwrite(fd, &byte, 1, dc->off + 300) == 1);
    close(fd);
    /* Records that do not make the chunk: read directly. */
    struct orri_pseg_reader *rd = NULL;
    const unsigned char *data = NULL;
    size_t lens[2] = {100, 200};
    CHECK_INT(orri_pseg_reader_new(seg_dir, &rd, &e), ORR_OK);
    CHECK_INT(orri_pseg_read_records(rd, dc->seg, dc->off, 299, 0, lens, 2,
                                     &data, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "2 records do not make 299 bytes");
    CHECK_INT(orri_pseg_read_records(rd, "../x", 0, 300, 0, lens, 2,
                                     &data, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "refused");
    orri_pseg_reader_free(rd);
    /* A layout this version does not know: skipped, said. */
    q_exec(db, "UPDATE prediction_chunks SET seg_layout = 7 WHERE"
           " model = 'l1' AND ts_min = 3000");
    CHECK_INT(load_logged(db, "l1", 1000, &win, log, sizeof log), ORR_OK);
    CHECK_INT(win.n_requests, 4 * NP + 2 - 12);
    CHECK_CONTAINS(log, "payload layout 7 unknown");
    orri_mon_rows_free(&win);
    q_exec(db, "UPDATE prediction_chunks SET seg_layout = 1 WHERE"
           " model = 'l1' AND ts_min = 3000");

    /* Bad chunks are refused, nothing of the call written (its legacy
     * rows neither). */
    int64_t chunks0 = q_int(db, "SELECT count(*) FROM prediction_chunks");
    int64_t rows0 = q_int(db, "SELECT count(*) FROM predictions");
    unsigned char ids[] = "a\0b", ts2[16], rw2[16];
    le64(ts2, 10);
    le64(ts2 + 8, 11);
    le64(rw2, 1);
    le64(rw2 + 8, 2);
    struct orri_chunk_row good = {
        .model = "bad", .version = "1", .n = 2, .ts_min = 10, .ts_max = 11,
        .in_cols = 3, .out_cols = 1, .ids = ids, .ids_len = 4, .ts = ts2,
        .latency = ts2, .rows = rw2, .segment = "x-1-2.plog",
        .seg_offset = 0, .seg_bytes = 3 * 4 * 8, .seg_check = 1,
        .seg_layout = 1};
    struct {
        struct orri_chunk_row c;
        const char           *want;
    } bad[8];
    for (int i = 0; i < 8; i++)
        bad[i].c = good;
    bad[0].c.segment = "../etc/x.plog";
    bad[0].want = "segment name '../etc/x.plog' refused";
    bad[1].c.seg_bytes += 8;
    bad[1].want = "seg_bytes 104, not the 96 bytes of its 3 rows of 3 + 1";
    bad[2].c.n = 0;
    bad[2].want = "0 predictions";
    bad[3].c.in_cols = 0;
    bad[3].c.seg_bytes = 3 * 1 * 8;
    bad[3].want = "at least one input column";
    bad[4].c.ids_len = 2;
    bad[4].want = "1 request ids for 2 predictions";
    bad[5].c.ts_max = 10;
    bad[5].want = "prediction 1 at 11, outside [ts_min 10, ts_max 10]";
    bad[6].c.segment = NULL;
    bad[6].want = "segment name '(none)' refused";
    bad[7].c.seg_layout = 2;
    bad[7].want = "segment layout 2 unknown";
    for (int i = 0; i < 8; i++) {
        struct orri_chunk_row two[2] = {good, bad[i].c};
        e.msg[0] = '\0';
        CHECK_INT(orri_predictions_commit(m, two, 2, legacy, 2, &sc1, &e),
                  ORR_EINVAL);
        CHECK_CONTAINS(e.msg, bad[i].want);
        CHECK_CONTAINS(e.msg, "chunk 1 (model 'bad')");
    }
    /* A prediction of no rows. */
    le64(rw2 + 8, 0);
    CHECK_INT(orri_predictions_commit(m, &good, 1, NULL, 0, &sc1, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "prediction 1 of 0 rows");
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks"), chunks0);
    CHECK_INT(q_int(db, "SELECT count(*) FROM predictions"), rows0);
    /* Legacy rows alone, without a scratch; nothing at all is fine. */
    CHECK_INT(orri_predictions_commit(m, NULL, 0, legacy, 2, NULL, &e),
              ORR_OK);
    CHECK_INT(orri_predictions_commit(m, NULL, 0, NULL, 0, NULL, &e),
              ORR_OK);
    CHECK_INT(q_int(db, "SELECT count(*) FROM predictions"), rows0 + 2);
    CHECK_INT(q_int(db, "SELECT count(*) FROM predictions WHERE"
                    " request_id = 'l1-legacy-json' AND typeof(inputs) ="
                    " 'text'"), 2);
    /* A layout-0 chunk through orri_predictions_commit: stored as NULL,
     * read as orri_predictions_write's. */
    le64(rw2 + 8, 2);
    CHECK_INT(orri_predictions_commit(m, &good, 1, NULL, 0, &sc1, &e),
              ORR_OK);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " model = 'bad' AND seg_layout IS NULL"), 0);
    good.seg_layout = 0;
    good.model = "bad0";
    CHECK_INT(orri_predictions_commit(m, &good, 1, NULL, 0, &sc1, &e),
              ORR_OK);
    CHECK_INT(q_int(db, "SELECT count(*) FROM prediction_chunks WHERE"
                    " model = 'bad0' AND seg_layout IS NULL"), 1);
    q_exec(db, "DELETE FROM prediction_chunks WHERE model IN ('bad',"
           " 'bad0', 'l1'); DELETE FROM predictions WHERE model = 'l1';"
           " DELETE FROM labels WHERE model = 'l1'");
    sqlite3_close(db);
    orri_pseg_writer_free(w);
    orri_pred_scratch_free(sc);
    orri_pred_scratch_free(sc1);
    orr_meta_close(m);
    free(l.ring);
}

static void test_prune_stream(void)
{
    /* A stream writer's live file is held (flock): its chunks pruned,
     * the file kept until the writer lets it go. */
    char pdir[1100], pdb[1200], psegs[1200];
    snprintf(pdir, sizeof pdir, "%s/prune-stream", dir);
    CHECK_INT(mkdir(pdir, 0700), 0);
    snprintf(pdb, sizeof pdb, "%s/orrery.db", pdir);
    snprintf(psegs, sizeof psegs, "%s/predictions", pdir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    struct orri_pred_scratch *sc = NULL;
    struct orri_pseg_writer *w = NULL;
    struct lane l = {NULL, 0};
    CHECK(posix_memalign((void **)&l.ring, A, LRING) == 0);
    CHECK_INT(orr_meta_open(&m, pdb, &e), ORR_OK);
    CHECK_INT(orri_pseg_writer_new(psegs, &w, &e), ORR_OK);
    n_l1c = 0;
    CHECK_INT(l1_batch(m, &sc, w, &l, "ps", 1, NP, NP, NULL, 0, &e),
              ORR_OK);
    CHECK_INT(count_files(psegs), 1);
    struct orri_prune_report r;
    CHECK_INT(prune(m, 3500, NULL, 0, 0, &r), ORR_OK);
    CHECK_INT(r.chunks, 1);
    CHECK_INT(r.files, 0);
    CHECK_INT(r.files_kept, 1);
    CHECK_INT(count_files(psegs), 1);
    orri_pseg_writer_free(w);
    CHECK_INT(prune(m, 3500, NULL, 0, 0, &r), ORR_OK);
    CHECK_INT(r.files, 1);
    CHECK_INT(count_files(psegs), 0);
    orri_pred_scratch_free(sc);
    orr_meta_close(m);
    free(l.ring);
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
          {"migration_9", test_migration_9},
          {"inline_stores", test_inline_stores}, {"prune", test_prune},
          {"stream_round_trip", test_stream_round_trip},
          {"stream_partial_blocks", test_stream_partial_blocks},
          {"stream_errors", test_stream_errors},
          {"layout1", test_layout1}, {"prune_stream", test_prune_stream},
          {"record_check", test_record_check},
          {"cleanup", test_cleanup})
