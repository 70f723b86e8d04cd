/*
 * test_storage_fs.c - the storage-fs plugin, loaded from the build's
 * plugins/ directory by the SDK's stand-alone test host: the storage
 * conformance suite, then what only a file-system store can show - the
 * on-disk layout, corruption and truncation caught on read, temporary
 * files, keys that try to leave the root, blobs invisible until complete,
 * crash leftovers swept - and the core's wrappers (storage/artifacts.h)
 * over the real plugin, fast paths and streamed fallbacks alike.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <orrery/conformance/storage.h>
#include <orrery/conformance/test_host.h>

#include "storage/artifacts.h"
#include "test.h"

/* snprintf into an array, checking nothing was cut. */
#define FMT(buf, ...) \
    CHECK(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static struct orr_test_plugin *plugin;
static const struct orr_storage_ops *ops;
static char base[PATH_MAX];     /* fresh temporary directory per test    */
static char root[PATH_MAX];     /* base/store                            */
static struct orr_cfg *cfg;
static void *self;

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char sub[PATH_MAX];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            FMT(sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
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

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void blob_file(const char *digest, char *out, size_t cap)
{
    CHECK(snprintf(out, cap, "%s/sha256/%.2s/%s", root, digest, digest) <
          (int)cap);
}

static void sub_path(char *out, size_t cap, const char *dir, const char *name)
{
    CHECK(snprintf(out, cap, "%s/%s", dir, name) < (int)cap);
}

/* Load the plugin once; every test gets a fresh store and instance. */
static int setup(void)
{
    struct orr_error e = {0};
    if (!plugin) {
        orr_test_host_set_log(stderr, ORR_LOG_WARN);
        if (orr_test_plugin_load(ORR_TEST_PLUGIN_DIR "/storage-fs.so",
                                 &plugin, &e)) {
            fprintf(stderr, "cannot load storage-fs.so: %s\n", e.msg);
            return -1;
        }
        ops = orr_test_plugin_storage(plugin, "fs");
        if (!ops)
            return -1;
    }
    FMT(base, "/tmp/orr-fs-test-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    FMT(root, "%s/store", base);
    cfg = orr_test_cfg_new();
    orr_test_cfg_set(cfg, "root", root);
    if (orr_test_storage_open(orr_test_host(), ops, cfg, &self, &e)) {
        fprintf(stderr, "open: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static void teardown(void)
{
    orr_test_storage_close(orr_test_host(), ops, self);
    self = NULL;
    orr_test_cfg_free(cfg);
    cfg = NULL;
    rm_rf(base);
}

struct mem {
    const char *p;
    size_t      len, pos;
};

static int64_t mem_read(void *ctx, void *buf, size_t cap, struct orr_error *e)
{
    (void)e;
    struct mem *m = ctx;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

static int put_str(const char *s, char d[ORR_DIGEST_HEX_LEN + 1],
                   struct orr_error *e)
{
    struct mem m = {s, strlen(s), 0};
    return ops->put(self, mem_read, &m, (int64_t)m.len, d, e);
}

static int sink(void *ctx, const void *buf, size_t len, struct orr_error *e)
{
    (void)e;
    *(size_t *)ctx += len;
    (void)buf;
    return ORR_OK;
}

static void flip_byte(const char *path, off_t at)
{
    unsigned char b;
    chmod(path, 0644);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pread(fd, &b, 1, at) == 1);
    b ^= 0x20;
    CHECK(pwrite(fd, &b, 1, at) == 1);
    close(fd);
}

static int corrupt_cb(void *ctx, const char *digest)
{
    (void)ctx;
    char path[PATH_MAX];
    struct stat st;
    blob_file(digest, path, sizeof path);
    if (stat(path, &st) != 0 || st.st_size == 0)
        return -1;
    flip_byte(path, st.st_size / 2);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_descriptor(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    const struct orr_plugin_desc *d = orr_test_plugin_desc(plugin);
    CHECK_STR(d->name, "storage-fs");
    CHECK_INT(d->abi_major, ORR_ABI_MAJOR);
    CHECK_STR(ops->name, "fs");
    CHECK(ops->put_file != NULL && ops->get_file != NULL);
    CHECK_INT(ops->version, ORR_STORAGE_OPS_V1);
    teardown();
}

static void test_conformance(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_conformance_storage_opts opt = {0};
    opt.corrupt = corrupt_cb;
    opt.scratch_dir = base;
    CHECK_INT(orr_conformance_storage_ex(orr_test_host(), ops, cfg, &opt,
                                         stdout), 0);
    /* The suite cleaned up after itself: no blob, no temporary. */
    char tmp[PATH_MAX];
    sub_path(tmp, sizeof tmp, root, "tmp");
    CHECK_INT(entries(tmp), 0);
    teardown();
}

static void test_conformance_no_fsync(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    orr_test_cfg_set(cfg, "fsync", "false");
    struct orr_conformance_storage_opts opt = {0};
    opt.scratch_dir = base;
    opt.only = "_";         /* a sample: multi_chunk, get_file, ... */
    CHECK_INT(orr_conformance_storage_ex(orr_test_host(), ops, cfg, &opt,
                                         stdout), 0);
    teardown();
}

static void test_layout(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[PATH_MAX];
    struct stat st;
    CHECK_INT(put_str("abc", d, &e), ORR_OK);
    CHECK_STR(d, ABC);
    blob_file(d, path, sizeof path);
    CHECK(stat(path, &st) == 0);
    CHECK_INT(st.st_size, 3);
    CHECK_INT(st.st_mode & 0222, 0);        /* blobs are read-only */
    sub_path(path, sizeof path, root, "tmp");
    CHECK_INT(entries(path), 0);
    /* Dedup keeps the stored file itself (same inode). */
    ino_t ino = st.st_ino;
    blob_file(d, path, sizeof path);
    CHECK_INT(put_str("abc", d, &e), ORR_OK);
    CHECK(stat(path, &st) == 0 && st.st_ino == ino);
    sub_path(path, sizeof path, root, "tmp");
    CHECK_INT(entries(path), 0);
    teardown();
}

static void test_corruption(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[PATH_MAX], out[PATH_MAX],
        bad[ORR_DIGEST_HEX_LEN + 1], msg[256];
    CHECK_INT(put_str("hello, corruptible world", d, &e), ORR_OK);
    blob_file(d, path, sizeof path);
    flip_byte(path, 0);
    orr_conformance_sha256_hex("Hello, corruptible world", 24, bad);
    FMT(msg, "blob %s is corrupt: content hashes to %s", d,
             bad);
    size_t got = 0;
    CHECK_INT(ops->get(self, d, sink, &got, &e), ORR_ECORRUPT);
    CHECK_STR(e.msg, msg);
    /* get_file: nothing at the destination, no temporary beside it. */
    sub_path(out, sizeof out, base, "out.txt");
    CHECK_INT(ops->get_file(self, d, out, &e), ORR_ECORRUPT);
    CHECK_STR(e.msg, msg);
    CHECK(!exists(out));
    CHECK_INT(entries(base), 1);            /* just store/ */

    /* Truncated: caught as well, and a put of the good bytes repairs it
     * (a same-digest file of another size is not taken as a duplicate). */
    CHECK(truncate(path, 5) == 0);
    CHECK_INT(ops->get(self, d, sink, &got, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, d);
    CHECK_INT(put_str("hello, corruptible world", d, &e), ORR_OK);
    got = 0;
    CHECK_INT(ops->get(self, d, sink, &got, &e), ORR_OK);
    CHECK_INT(got, 24);
    teardown();
}

struct failing {
    size_t left;
};

static int64_t fail_read(void *ctx, void *buf, size_t cap,
                         struct orr_error *e)
{
    struct failing *f = ctx;
    if (!f->left) {
        orr_test_host()->fail(e, ORR_EIO, "disk on fire");
        return -1;
    }
    size_t n = cap < f->left ? cap : f->left;
    memset(buf, 'x', n);
    f->left -= n;
    return (int64_t)n;
}

static void test_failed_put_leaves_nothing(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], tmp[PATH_MAX], blobs[PATH_MAX];
    struct failing f = {(3u << 20) + 17};
    CHECK_INT(ops->put(self, fail_read, &f, -1, d, &e), ORR_EIO);
    CHECK_STR(e.msg, "disk on fire");
    sub_path(tmp, sizeof tmp, root, "tmp");
    CHECK_INT(entries(tmp), 0);
    sub_path(blobs, sizeof blobs, root, "sha256");
    CHECK_INT(entries(blobs), 0);
    teardown();
}

static int64_t overfill_read(void *ctx, void *buf, size_t cap,
                             struct orr_error *e)
{
    (void)ctx, (void)buf, (void)e;
    return (int64_t)cap + 1;
}

static void test_overfilling_reader(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], tmp[PATH_MAX];
    CHECK_INT(ops->put(self, overfill_read, NULL, -1, d, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "read callback returned");
    sub_path(tmp, sizeof tmp, root, "tmp");
    CHECK_INT(entries(tmp), 0);
    teardown();
}

static void test_key_escapes(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    struct orr_blob_info info;
    char victim[PATH_MAX], out[PATH_MAX];
    /* A file right beside the root, and one a key might reach at /. */
    sub_path(victim, sizeof victim, base, "victim");
    FILE *f = fopen(victim, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    const char *keys[] = {"../victim", "../../victim", "../../../victim",
                          "sha256/../../victim", "/etc/passwd",
                          "..%2f..%2fvictim", "./", "."};
    sub_path(out, sizeof out, base, "out");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        CHECK_INT(ops->remove(self, keys[i], &e), ORR_EINVAL);
        CHECK_CONTAINS(e.msg, keys[i]);
        CHECK_INT(ops->stat(self, keys[i], &info, &e), ORR_EINVAL);
        size_t got = 0;
        CHECK_INT(ops->get(self, keys[i], sink, &got, &e), ORR_EINVAL);
        CHECK_INT(ops->get_file(self, keys[i], out, &e), ORR_EINVAL);
        CHECK_INT(ops->list(self, keys[i], NULL, NULL, &e), ORR_EINVAL);
    }
    CHECK(exists(victim));
    CHECK(!exists(out));
    teardown();
}

/* A reader that, half-way through, looks for the blob being written. */
struct peeking {
    const char *data;
    size_t      len, pos;
    const char *final_digest;
    int         peeked, visible, tmp_files;
    size_t      listed;
};

static int count_blob(void *ctx, const struct orr_blob_info *info)
{
    struct peeking *p = ctx;
    if (!strcmp(info->digest, p->final_digest))
        p->listed++;
    return 0;
}

static int64_t peek_read(void *ctx, void *buf, size_t cap,
                         struct orr_error *e)
{
    struct peeking *p = ctx;
    if (p->pos >= p->len / 2 && !p->peeked) {
        struct orr_blob_info info;
        char path[PATH_MAX], tmp[PATH_MAX];
        struct orr_error pe = {0};
        p->peeked = 1;
        p->visible = ops->stat(self, p->final_digest, &info, &pe) !=
                     ORR_ENOTFOUND;
        ops->list(self, "", count_blob, p, &pe);
        blob_file(p->final_digest, path, sizeof path);
        p->visible |= exists(path);
        sub_path(tmp, sizeof tmp, root, "tmp");
        p->tmp_files = (int)entries(tmp);
    }
    size_t n = p->len - p->pos < cap ? p->len - p->pos : cap;
    if (n > 65536)
        n = 65536;
    (void)e;
    memcpy(buf, p->data + p->pos, n);
    p->pos += n;
    return (int64_t)n;
}

static void test_invisible_until_complete(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    size_t n = (4u << 20) + 9;
    char *data = malloc(n), want[ORR_DIGEST_HEX_LEN + 1],
         d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 4093);
    orr_conformance_sha256_hex(data, n, want);
    struct peeking p = {data, n, 0, want, 0, 0, 0, 0};
    CHECK_INT(ops->put(self, peek_read, &p, (int64_t)n, d, &e), ORR_OK);
    CHECK_STR(d, want);
    CHECK(p.peeked);
    CHECK(!p.visible);
    CHECK_INT(p.listed, 0);
    CHECK_INT(p.tmp_files, 1);     /* it is being written, in tmp/ */
    struct orr_blob_info info;
    CHECK_INT(ops->stat(self, want, &info, &e), ORR_OK);
    CHECK_INT(info.size, n);
    free(data);
    teardown();
}

static void test_stale_temps_swept(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    char stale[PATH_MAX], fresh[PATH_MAX], other[PATH_MAX], tmp[PATH_MAX];
    sub_path(tmp, sizeof tmp, root, "tmp");
    sub_path(stale, sizeof stale, tmp, "put-1-1-1");
    sub_path(fresh, sizeof fresh, tmp, "put-2-2-2");
    sub_path(other, sizeof other, tmp, "not-ours");
    const char *files[] = {stale, fresh, other};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(files[i], "w");
        CHECK(f != NULL);
        if (f)
            fclose(f);
    }
    /* Two days old: a leftover of a crash.  (Timestamps are set, not
     * waited for.) */
    struct timespec old[2] = {{time(NULL) - 2 * 86400, 0},
                              {time(NULL) - 2 * 86400, 0}};
    CHECK(utimensat(AT_FDCWD, stale, old, 0) == 0);
    CHECK(utimensat(AT_FDCWD, other, old, 0) == 0);
    void *again = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_test_storage_open(orr_test_host(), ops, cfg, &again, &e),
              ORR_OK);
    orr_test_storage_close(orr_test_host(), ops, again);
    CHECK(!exists(stale));
    CHECK(exists(fresh));
    CHECK(exists(other));
    teardown();
}

static void test_list_ignores_strays(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], path[PATH_MAX];
    CHECK_INT(put_str("abc", d, &e), ORR_OK);
    FMT(path, "%s/sha256/ba/notes.txt", root);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    /* A digest-named file in the wrong fan-out directory. */
    FMT(path, "%s/sha256/zz", root);
    CHECK(mkdir(path, 0755) == 0);
    FMT(path, "%s/sha256/00", root);
    CHECK(mkdir(path, 0755) == 0);
    FMT(path, "%s/sha256/00/%s", root, ABC);
    f = fopen(path, "w");
    if (f)
        fclose(f);
    struct peeking p = {0};
    p.final_digest = ABC;
    CHECK_INT(ops->list(self, "", count_blob, &p, &e), ORR_OK);
    CHECK_INT(p.listed, 1);
    teardown();
}

static void test_relative_root_and_bad_root(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    char cwd[PATH_MAX], path[PATH_MAX];
    struct orr_error e = {0};
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(base) == 0);
    struct orr_cfg *rel = orr_test_cfg_new();
    orr_test_cfg_set(rel, "root", "rel/blobs/");
    void *inst = NULL;
    CHECK_INT(orr_test_storage_open(orr_test_host(), ops, rel, &inst, &e),
              ORR_OK);
    CHECK(chdir(cwd) == 0);
    /* Resolved at open: still there after the directory changed. */
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct mem m = {"abc", 3, 0};
    CHECK_INT(ops->put(inst, mem_read, &m, 3, d, &e), ORR_OK);
    FMT(path, "%s/rel/blobs/sha256/ba/%s", base, ABC);
    CHECK(exists(path));
    orr_test_storage_close(orr_test_host(), ops, inst);
    orr_test_cfg_free(rel);

    /* get_file to a bare file name: the temporary goes in ".". */
    CHECK_INT(put_str("abc", d, &e), ORR_OK);
    CHECK(chdir(base) == 0);
    CHECK_INT(ops->get_file(self, d, "bare.txt", &e), ORR_OK);
    CHECK(exists("bare.txt"));
    CHECK(chdir(cwd) == 0);

    /* A root that is a file: refused, naming it. */
    struct orr_cfg *bad = orr_test_cfg_new();
    sub_path(path, sizeof path, base, "bare.txt");
    orr_test_cfg_set(bad, "root", path);
    CHECK(orr_test_storage_open(orr_test_host(), ops, bad, &inst, &e) != 0);
    CHECK(inst == NULL);
    CHECK_CONTAINS(e.msg, path);
    orr_test_cfg_set(bad, "root", "");
    CHECK_INT(orr_test_storage_open(orr_test_host(), ops, bad, &inst, &e),
              ORR_ECONFIG);
    orr_test_cfg_free(bad);
    teardown();
}

/* The core's wrappers over the real plugin. */
static void test_core_wrappers(void)
{
    if (setup()) {
        CHECK(!"setup");
        return;
    }
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1], in[PATH_MAX], out[PATH_MAX],
        want[ORR_DIGEST_HEX_LEN + 1];
    size_t n = (3u << 20) + 1;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i ^ (i >> 11));
    orr_conformance_sha256_hex(data, n, want);
    sub_path(in, sizeof in, base, "in.bin");
    FILE *f = fopen(in, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f)
        fclose(f);
    for (int fast = 1; fast >= 0; fast--) {
        struct orr_backend b = {0};
        b.kind = ORR_KIND_STORAGE;
        b.name = "fs";
        b.ops.storage = *ops;
        if (!fast) {
            b.ops.storage.put_file = NULL;
            b.ops.storage.get_file = NULL;
        }
        struct orr_instance inst = {&b, self};
        CHECK_INT(orr_storage_put_file(&inst, in, d, &e), ORR_OK);
        CHECK_STR(d, want);
        sub_path(out, sizeof out, base, "out.bin");
        CHECK_INT(orr_storage_get_file(&inst, d, out, &e), ORR_OK);
        void *back = NULL;
        size_t len = 0;
        CHECK_INT(orr_storage_get_buf(&inst, d, n, &back, &len, &e), ORR_OK);
        CHECK(len == n && back && !memcmp(back, data, n));
        free(back);
        CHECK_INT(orr_storage_get_buf(&inst, d, n - 1, &back, &len, &e),
                  ORR_EINVAL);
        unlink(out);
        /* Corrupt: the streamed fallback must not publish either. */
        CHECK_INT(corrupt_cb(NULL, d), 0);
        CHECK_INT(orr_storage_get_file(&inst, d, out, &e), ORR_ECORRUPT);
        CHECK(!exists(out));
        CHECK_INT(entries(base), 2);        /* store/ and in.bin */
        CHECK_INT(orr_storage_remove(&inst, d, &e), ORR_OK);
    }
    free(data);
    teardown();
}

static void test_unload(void)
{
    orr_test_plugin_unload(plugin);
    plugin = NULL;
    CHECK(1);
}

TEST_MAIN({"descriptor", test_descriptor},
          {"conformance", test_conformance},
          {"conformance_no_fsync", test_conformance_no_fsync},
          {"layout", test_layout},
          {"corruption", test_corruption},
          {"failed_put_leaves_nothing", test_failed_put_leaves_nothing},
          {"overfilling_reader", test_overfilling_reader},
          {"key_escapes", test_key_escapes},
          {"invisible_until_complete", test_invisible_until_complete},
          {"stale_temps_swept", test_stale_temps_swept},
          {"list_ignores_strays", test_list_ignores_strays},
          {"relative_root_and_bad_root", test_relative_root_and_bad_root},
          {"core_wrappers", test_core_wrappers},
          {"unload", test_unload})
