/*
 * test_storage_artifacts.c - the core's storage wrappers over a mock
 * in-memory backend: streaming in chunks, key checks before the backend,
 * atomic downloads that leave nothing behind on failure, size limits, and
 * the choice between the backend's fast paths and the streamed fallback.
 * (The real storage-fs plugin under these wrappers: tests/plugins/.)
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/artifacts.h"
#include "test.h"
#include "util/error.h"

/* ---- the mock: one blob slot per digest, a fake (non-SHA) digest ------- */

#define MOCK_MAX 16

struct mock {
    char           digest[MOCK_MAX][ORR_DIGEST_HEX_LEN + 1];
    unsigned char *data[MOCK_MAX];
    size_t         len[MOCK_MAX];
    size_t         n;
    int            corrupt;       /* get delivers the bytes, then fails   */
    int            bad_digest;    /* put returns a malformed digest       */
    int            calls;         /* backend calls of any kind            */
    int            put_file_calls, get_file_calls;
};

static void fake_digest(const unsigned char *p, size_t n,
                        char out[ORR_DIGEST_HEX_LEN + 1])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    for (int i = 0; i < 4; i++)
        snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)(h + i));
}

static int find(struct mock *m, const char *d)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->digest[i], d))
            return (int)i;
    return -1;
}

static int m_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    (void)self, (void)cfg, (void)e;
    return ORR_OK;
}

static void m_close(void *self)
{
    (void)self;
}

static int m_put(void *self, orr_read_fn read, void *ctx, int64_t hint,
                 char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e)
{
    (void)hint;
    struct mock *m = self;
    /* More than a chunk per read: the wrapper must cope with any cap. */
    size_t cap = 3 * ORR_STREAM_CHUNK;
    unsigned char *buf = NULL, *chunk = malloc(cap);
    size_t len = 0;
    m->calls++;
    if (!chunk)
        return orr_fail(e, ORR_ENOMEM, "oom");
    for (;;) {
        int64_t n = read(ctx, chunk, cap, e);
        if (n < 0) {
            free(buf);
            free(chunk);
            return e->code;
        }
        if (n == 0)
            break;
        unsigned char *p = realloc(buf, len + (size_t)n);
        if (!p) {
            free(buf);
            free(chunk);
            return orr_fail(e, ORR_ENOMEM, "oom");
        }
        buf = p;
        memcpy(buf + len, chunk, (size_t)n);
        len += (size_t)n;
    }
    free(chunk);
    fake_digest(buf, len, digest);
    if (find(m, digest) < 0 && m->n < MOCK_MAX) {
        memcpy(m->digest[m->n], digest, ORR_DIGEST_HEX_LEN + 1);
        m->data[m->n] = buf;
        m->len[m->n++] = len;
    } else {
        free(buf);
    }
    if (m->bad_digest)
        memcpy(digest, "../etc/passwd", 14);
    return ORR_OK;
}

static int m_get(void *self, const char *d, orr_write_fn write, void *ctx,
                 struct orr_error *e)
{
    struct mock *m = self;
    m->calls++;
    int i = find(m, d);
    if (i < 0)
        return orr_fail(e, ORR_ENOTFOUND, "blob %s not found", d);
    size_t off = 0;
    while (off < m->len[i]) {
        size_t n = m->len[i] - off < 1000 ? m->len[i] - off : 1000;
        int rc = write(ctx, m->data[i] + off, n, e);
        if (rc)
            return rc;
        off += n;
    }
    if (m->corrupt)
        return orr_fail(e, ORR_ECORRUPT, "blob %s is corrupt", d);
    return ORR_OK;
}

static int m_stat(void *self, const char *d, struct orr_blob_info *info,
                  struct orr_error *e)
{
    struct mock *m = self;
    m->calls++;
    int i = find(m, d);
    if (i < 0)
        return orr_fail(e, ORR_ENOTFOUND, "blob %s not found", d);
    memcpy(info->digest, d, ORR_DIGEST_HEX_LEN + 1);
    info->size = m->len[i];
    info->mtime = 0;
    return ORR_OK;
}

static int m_list(void *self, const char *prefix, orr_blob_fn fn, void *ctx,
                  struct orr_error *e)
{
    (void)e;
    struct mock *m = self;
    m->calls++;
    for (size_t i = 0; i < m->n; i++) {
        if (strncmp(m->digest[i], prefix, strlen(prefix)))
            continue;
        struct orr_blob_info info = {{0}, m->len[i], 0};
        memcpy(info.digest, m->digest[i], ORR_DIGEST_HEX_LEN + 1);
        int rc = fn(ctx, &info);
        if (rc)
            return rc;
    }
    return ORR_OK;
}

static int m_remove(void *self, const char *d, struct orr_error *e)
{
    struct mock *m = self;
    m->calls++;
    int i = find(m, d);
    if (i < 0)
        return orr_fail(e, ORR_ENOTFOUND, "blob %s not found", d);
    free(m->data[i]);
    m->n--;
    memmove(m->digest + i, m->digest + i + 1,
            (m->n - (size_t)i) * sizeof m->digest[0]);
    memmove(m->data + i, m->data + i + 1,
            (m->n - (size_t)i) * sizeof m->data[0]);
    memmove(m->len + i, m->len + i + 1, (m->n - (size_t)i) * sizeof m->len[0]);
    return ORR_OK;
}

static int m_put_file(void *self, const char *path,
                      char digest[ORR_DIGEST_HEX_LEN + 1],
                      struct orr_error *e)
{
    (void)path, (void)e;
    struct mock *m = self;
    m->put_file_calls++;
    memset(digest, 'a', ORR_DIGEST_HEX_LEN);
    digest[ORR_DIGEST_HEX_LEN] = '\0';
    return ORR_OK;
}

static int m_get_file(void *self, const char *d, const char *path,
                      struct orr_error *e)
{
    (void)d, (void)path, (void)e;
    struct mock *m = self;
    m->get_file_calls++;
    return ORR_OK;
}

struct fixture {
    struct mock         m;
    struct orr_backend  b;
    struct orr_instance inst;
    char                dir[64];
};

static void setup(struct fixture *f, int fast_paths)
{
    memset(f, 0, sizeof *f);
    f->b.kind = ORR_KIND_STORAGE;
    f->b.name = "mock";
    f->b.ops.storage = (struct orr_storage_ops){
        ORR_STORAGE_OPS_V1, "mock", "", sizeof(struct mock), m_open, m_close,
        m_put, m_get, m_stat, m_list, m_remove,
        fast_paths ? m_put_file : NULL, fast_paths ? m_get_file : NULL};
    f->inst.backend = &f->b;
    f->inst.self = &f->m;
    snprintf(f->dir, sizeof f->dir, "/tmp/orr-artifacts-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
}

static size_t entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void teardown(struct fixture *f)
{
    for (size_t i = 0; i < f->m.n; i++)
        free(f->m.data[i]);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
    rmdir(f->dir);
}

static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (unsigned char)(i * 31 + (i >> 13));
    return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(p, 1, n, f) == n);
        fclose(f);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_digest_is_valid(void)
{
    const char *ok =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    CHECK(orr_digest_is_valid(ok));
    CHECK(!orr_digest_is_valid(NULL));
    CHECK(!orr_digest_is_valid(""));
    CHECK(!orr_digest_is_valid("abc"));
    CHECK(!orr_digest_is_valid("../etc/passwd"));
    char bad[80];
    snprintf(bad, sizeof bad, "%s0", ok);           /* 65 digits */
    CHECK(!orr_digest_is_valid(bad));
    snprintf(bad, sizeof bad, "%.63s", ok);          /* 63 digits */
    CHECK(!orr_digest_is_valid(bad));
    snprintf(bad, sizeof bad, "B%.63s", ok + 1);     /* upper case */
    CHECK(!orr_digest_is_valid(bad));
    snprintf(bad, sizeof bad, "%.2s/%.61s", ok, ok + 3);
    CHECK(!orr_digest_is_valid(bad));
}

static void test_buf_roundtrip(void)
{
    struct fixture f;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1];
    void *data;
    size_t len;
    setup(&f, 0);
    CHECK_INT(orr_storage_put_buf(&f.inst, "hello", 5, d, &e), ORR_OK);
    CHECK(orr_digest_is_valid(d));
    CHECK_INT(orr_storage_get_buf(&f.inst, d, 100, &data, &len, &e), ORR_OK);
    CHECK_INT(len, 5);
    CHECK_STR(data, "hello");           /* NUL-terminated */
    free(data);
    /* Larger than allowed: refused, naming the blob. */
    CHECK_INT(orr_storage_get_buf(&f.inst, d, 4, &data, &len, &e),
              ORR_EINVAL);
    CHECK(data == NULL);
    CHECK_CONTAINS(e.msg, d);
    CHECK_CONTAINS(e.msg, "larger than 4");
    /* Empty blob. */
    CHECK_INT(orr_storage_put_buf(&f.inst, NULL, 0, d, &e), ORR_OK);
    CHECK_INT(orr_storage_get_buf(&f.inst, d, 0, &data, &len, &e), ORR_OK);
    CHECK_INT(len, 0);
    CHECK_STR(data, "");
    free(data);
    teardown(&f);
}

static void test_put_file_streams(void)
{
    struct fixture f;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[128], want[ORR_DIGEST_HEX_LEN + 1];
    setup(&f, 0);
    size_t n = 3 * ORR_STREAM_CHUNK + 5;
    unsigned char *p = pattern(n);
    snprintf(path, sizeof path, "%s/in.bin", f.dir);
    write_file(path, p, n);
    CHECK_INT(orr_storage_put_file(&f.inst, path, d, &e), ORR_OK);
    fake_digest(p, n, want);
    CHECK_STR(d, want);
    CHECK_INT(f.m.n, 1);
    CHECK_INT(f.m.len[0], n);
    CHECK(f.m.len[0] == n && !memcmp(f.m.data[0], p, n));
    free(p);
    /* Missing and non-regular files: errors name the path. */
    snprintf(path, sizeof path, "%s/missing.bin", f.dir);
    CHECK_INT(orr_storage_put_file(&f.inst, path, d, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, path);
    CHECK_INT(orr_storage_put_file(&f.inst, f.dir, d, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, f.dir);
    CHECK_INT(orr_storage_put_file(&f.inst, "", d, &e), ORR_EINVAL);
    teardown(&f);
}

static void test_get_file_atomic(void)
{
    struct fixture f;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[128];
    setup(&f, 0);
    size_t n = 2 * ORR_STREAM_CHUNK + 77;
    unsigned char *p = pattern(n);
    CHECK_INT(orr_storage_put_buf(&f.inst, p, n, d, &e), ORR_OK);
    snprintf(path, sizeof path, "%s/out.bin", f.dir);
    CHECK_INT(orr_storage_get_file(&f.inst, d, path, &e), ORR_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size == n);
    CHECK_INT(entries(f.dir), 1);

    /* A corrupt blob: the backend delivered every byte, then failed.  The
     * existing destination stays as it was and no temporary is left. */
    write_file(path, "old", 3);
    f.m.corrupt = 1;
    CHECK_INT(orr_storage_get_file(&f.inst, d, path, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, d);
    CHECK(stat(path, &st) == 0 && st.st_size == 3);
    CHECK_INT(entries(f.dir), 1);
    char fresh[160];
    snprintf(fresh, sizeof fresh, "%s/fresh.bin", f.dir);
    CHECK_INT(orr_storage_get_file(&f.inst, d, fresh, &e), ORR_ECORRUPT);
    CHECK(stat(fresh, &st) != 0 && errno == ENOENT);
    CHECK_INT(entries(f.dir), 1);
    f.m.corrupt = 0;

    /* Absent blob; missing directory. */
    char absent[ORR_DIGEST_HEX_LEN + 1];
    memset(absent, 'f', ORR_DIGEST_HEX_LEN);
    absent[ORR_DIGEST_HEX_LEN] = '\0';
    CHECK_INT(orr_storage_get_file(&f.inst, absent, fresh, &e),
              ORR_ENOTFOUND);
    CHECK_INT(entries(f.dir), 1);
    snprintf(fresh, sizeof fresh, "%s/no/such/dir.bin", f.dir);
    CHECK_INT(orr_storage_get_file(&f.inst, d, fresh, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, fresh);
    free(p);
    teardown(&f);
}

static void test_keys_checked_first(void)
{
    struct fixture f;
    struct orr_error e = {0};
    struct orr_blob_info info;
    void *data;
    size_t len;
    char path[128];
    setup(&f, 1);
    snprintf(path, sizeof path, "%s/x", f.dir);
    const char *bad[] = {"", "../x", "/etc/passwd",
                         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB41"
                         "0FF61F20015AD"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INT(orr_storage_get_file(&f.inst, bad[i], path, &e),
                  ORR_EINVAL);
        CHECK_CONTAINS(e.msg, bad[i]);
        CHECK_INT(orr_storage_get_buf(&f.inst, bad[i], 10, &data, &len, &e),
                  ORR_EINVAL);
        CHECK_INT(orr_storage_stat(&f.inst, bad[i], &info, &e), ORR_EINVAL);
        CHECK_INT(orr_storage_remove(&f.inst, bad[i], &e), ORR_EINVAL);
        CHECK_CONTAINS(e.msg, bad[i]);
    }
    CHECK_INT(orr_storage_get_file(&f.inst, "ab\ncd", path, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "'ab?cd'");   /* control characters masked */
    CHECK_INT(orr_storage_list(&f.inst, "../", NULL, NULL, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "'../'");
    CHECK_INT(f.m.calls + f.m.get_file_calls, 0);  /* backend never asked */
    CHECK_INT(entries(f.dir), 0);
    teardown(&f);
}

static void test_fast_paths_preferred(void)
{
    struct fixture f;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[128];
    setup(&f, 1);
    snprintf(path, sizeof path, "%s/x", f.dir);
    write_file(path, "abc", 3);
    CHECK_INT(orr_storage_put_file(&f.inst, path, d, &e), ORR_OK);
    CHECK_INT(f.m.put_file_calls, 1);
    CHECK_INT(orr_storage_get_file(&f.inst, d, path, &e), ORR_OK);
    CHECK_INT(f.m.get_file_calls, 1);
    CHECK_INT(f.m.calls, 0);
    teardown(&f);
}

static int count_cb(void *ctx, const struct orr_blob_info *info)
{
    (void)info;
    ++*(int *)ctx;
    return 0;
}

static void test_stat_list_remove(void)
{
    struct fixture f;
    struct orr_error e = {0};
    struct orr_blob_info info;
    char d1[ORR_DIGEST_HEX_LEN + 1], d2[ORR_DIGEST_HEX_LEN + 1];
    int count = 0;
    setup(&f, 0);
    CHECK_INT(orr_storage_put_buf(&f.inst, "one", 3, d1, &e), ORR_OK);
    CHECK_INT(orr_storage_put_buf(&f.inst, "second", 6, d2, &e), ORR_OK);
    CHECK_INT(orr_storage_stat(&f.inst, d2, &info, &e), ORR_OK);
    CHECK_INT(info.size, 6);
    CHECK_INT(orr_storage_list(&f.inst, NULL, count_cb, &count, &e), ORR_OK);
    CHECK_INT(count, 2);
    count = 0;
    CHECK_INT(orr_storage_list(&f.inst, d1, count_cb, &count, &e), ORR_OK);
    CHECK_INT(count, 1);
    CHECK_INT(orr_storage_remove(&f.inst, d1, &e), ORR_OK);
    CHECK_INT(orr_storage_stat(&f.inst, d1, &info, &e), ORR_ENOTFOUND);
    CHECK_INT(orr_storage_remove(&f.inst, d1, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, d1);
    teardown(&f);
}

static void test_bad_instance_and_backend(void)
{
    struct fixture f;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1];
    CHECK_INT(orr_storage_put_buf(NULL, "x", 1, d, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "storage instance");
    setup(&f, 0);
    f.b.kind = ORR_KIND_TRAINER;
    CHECK_INT(orr_storage_put_buf(&f.inst, "x", 1, d, &e), ORR_EINVAL);
    f.b.kind = ORR_KIND_STORAGE;
    /* A backend handing back a key that could escape a root is caught. */
    f.m.bad_digest = 1;
    CHECK_INT(orr_storage_put_buf(&f.inst, "x", 1, d, &e), ORR_EBACKEND);
    CHECK_CONTAINS(e.msg, "'mock'");
    teardown(&f);
}

TEST_MAIN({"digest_is_valid", test_digest_is_valid},
          {"buf_roundtrip", test_buf_roundtrip},
          {"put_file_streams", test_put_file_streams},
          {"get_file_atomic", test_get_file_atomic},
          {"keys_checked_first", test_keys_checked_first},
          {"fast_paths_preferred", test_fast_paths_preferred},
          {"stat_list_remove", test_stat_list_remove},
          {"bad_instance_and_backend", test_bad_instance_and_backend})
