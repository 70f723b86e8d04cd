/*
 * storage-fs - the default storage backend: content-addressed blobs in a
 * local directory tree.
 *
 * Layout under `root` (site key storage.root, default ".orrery/blobs",
 * resolved against the current directory when the instance opens):
 *
 *     root/sha256/ab/ab12...ef   one read-only file per blob, named by its
 *                                full digest, fanned out by its first two
 *                                hex digits (256 directories at most)
 *     root/tmp/                  puts in flight; never read by get or list
 *
 * Crash safety: a put writes into root/tmp, fsyncs the file, renames it
 * into its fan-out directory (atomic on POSIX file systems) and fsyncs that
 * directory.  A crash before the rename leaves at worst a stray file in
 * root/tmp (removed by a later open once it is a day old); a crash after it
 * leaves a complete blob.  get_file publishes the same way beside its
 * destination.  Keys are checked to be lower-case hex before any path is
 * built, so no key can name a file outside the root.
 *
 * Speed: data moves in 1 MiB chunks, hashed by OpenSSL (SHA-NI / AVX2);
 * writeback is started every few MiB (sync_file_range) so the final fsync
 * has little left to wait for and disk writes overlap hashing.
 */
#define _GNU_SOURCE     /* sync_file_range, GNU strerror_r */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <orrery/plugin.h>

#define FS_NAME "storage-fs"
#define CHUNK ((size_t)1 << 20)
/* Start writeback each time this much new data is dirty. */
#define WRITEBACK_WINDOW ((uint64_t)8 << 20)
/* Temporary files older than this are leftovers of a crash. */
#define STALE_TMP_SECONDS (24 * 3600)
#define DEFAULT_ROOT ".orrery/blobs"

static const struct orr_host *H;

struct fs_store {
    char *root;         /* absolute                                         */
    char *blobs;        /* root/sha256                                      */
    char *tmp;          /* root/tmp                                         */
    int   durable;      /* fsync files and directories (cfg "fsync")       */
};

/* ---- errors ------------------------------------------------------------ */

static int status_of_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return ORR_ENOTFOUND;
    case ENOMEM:
        return ORR_ENOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return ORR_EPERM;
    case EEXIST:
        return ORR_EEXIST;
    case EISDIR:
    case ENAMETOOLONG:
        return ORR_EINVAL;
    default:
        return ORR_EIO;
    }
}

/* Fail with the status matching `err` and "<what>: <strerror(err)>". */
static int sys_fail(struct orr_error *e, int err, const char *fmt, ...)
    ORR_PRINTF(3, 4);
static int sys_fail(struct orr_error *e, int err, const char *fmt, ...)
{
    char what[ORR_ERROR_MSG_SIZE], sbuf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = strerror_r(err, sbuf, sizeof sbuf);
    return H->fail(e, status_of_errno(err), "%s: %s", what, msg);
}

/* A key as it may appear in a message: printable, bounded. */
static void quote_key(char *out, size_t cap, const char *key)
{
    size_t i = 0;
    if (!key) {
        snprintf(out, cap, "(null)");
        return;
    }
    for (; key[i] && i + 4 < cap && i < 80; i++) {
        unsigned char c = (unsigned char)key[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (key[i] && i + 4 <= cap) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* ---- keys -------------------------------------------------------------- */

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Length of the lower-case hex run at `s`, scanning at most max + 1. */
static size_t hex_span(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] && is_lower_hex(s[n]))
        n++;
    return n;
}

static int check_digest(const char *op, const char *d, struct orr_error *e)
{
    if (d && hex_span(d, ORR_DIGEST_HEX_LEN) == ORR_DIGEST_HEX_LEN &&
        d[ORR_DIGEST_HEX_LEN] == '\0')
        return ORR_OK;
    char q[96];
    quote_key(q, sizeof q, d);
    return H->fail(e, ORR_EINVAL,
                   "%s: invalid digest '%s' (expected 64 lower-case hex "
                   "digits)", op, q);
}

static int check_prefix(const char *p, struct orr_error *e)
{
    if (p) {
        size_t n = hex_span(p, ORR_DIGEST_HEX_LEN);
        if (n <= ORR_DIGEST_HEX_LEN && p[n] == '\0')
            return ORR_OK;
    }
    char q[96];
    quote_key(q, sizeof q, p);
    return H->fail(e, ORR_EINVAL,
                   "list: invalid prefix '%s' (expected at most 64 lower-case "
                   "hex digits)", q);
}

static int is_digest_name(const char *s)
{
    return hex_span(s, ORR_DIGEST_HEX_LEN) == ORR_DIGEST_HEX_LEN &&
           s[ORR_DIGEST_HEX_LEN] == '\0';
}

static void to_hex(const unsigned char *md, char out[ORR_DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < ORR_DIGEST_HEX_LEN / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[ORR_DIGEST_HEX_LEN] = '\0';
}

/* ---- paths and files -------------------------------------------------- */

static int fmt_path(char *out, size_t cap, struct orr_error *e,
                    const char *fmt, ...) ORR_PRINTF(4, 5);
static int fmt_path(char *out, size_t cap, struct orr_error *e,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return H->fail(e, ORR_EINVAL, "path too long under %.*s...", 64,
                       out);
    return ORR_OK;
}

static int blob_path(const struct fs_store *s, const char *digest,
                     char *out, size_t cap, struct orr_error *e)
{
    return fmt_path(out, cap, e, "%s/%.2s/%s", s->blobs, digest, digest);
}

static int mkdir_p(char *path, struct orr_error *e)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            int rc = sys_fail(e, err, "create directory %s", path);
            *p = saved;
            return rc;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            int rc = H->fail(e, ORR_EIO, "%s is not a directory", path);
            *p = saved;
            return rc;
        }
        *p = saved;
        if (!saved)
            return ORR_OK;
    }
}

/* Make a rename or a new entry in `dir` durable. */
static int fsync_dir(const char *dir, struct orr_error *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sys_fail(e, errno, "open directory %s", dir);
    int rc = ORR_OK;
    /* EINVAL: the file system cannot sync directories (nothing to do). */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = sys_fail(e, errno, "fsync directory %s", dir);
    close(fd);
    return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t read_some(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

static atomic_ulong tmp_counter;

/* Create a new file `dir`/`stem`<unique> exclusively; its name goes to
 * `out`. */
static int make_temp(const char *dir, const char *stem, mode_t mode,
                     char *out, size_t cap, int *fd, struct orr_error *e)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long n = atomic_fetch_add(&tmp_counter, 1);
        int rc = fmt_path(out, cap, e, "%s/%s%ld-%lu-%lx", dir, stem,
                          (long)getpid(), n, (unsigned long)ts.tv_nsec);
        if (rc)
            return rc;
        *fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (*fd >= 0)
            return ORR_OK;
        if (errno != EEXIST)
            return sys_fail(e, errno, "create temporary file in %s", dir);
    }
    return H->fail(e, ORR_EIO, "create temporary file in %s: no free name",
                   dir);
}

/* Dirty pages of the file being written; writeback starts per window. */
struct writer {
    int      fd;
    int      durable;
    uint64_t written;
    uint64_t kicked;
};

static int writer_put(struct writer *w, const unsigned char *p, size_t n)
{
    if (write_all(w->fd, p, n) != 0)
        return -1;
    w->written += n;
    if (w->durable && w->written - w->kicked >= WRITEBACK_WINDOW) {
        /* Advisory: errors surface at fsync. */
        (void)sync_file_range(w->fd, (off_t)w->kicked,
                              (off_t)(w->written - w->kicked),
                              SYNC_FILE_RANGE_WRITE);
        w->kicked = w->written;
    }
    return 0;
}

/* ---- hashing ----------------------------------------------------------- */

static int hash_begin(EVP_MD_CTX **md, struct orr_error *e)
{
    *md = EVP_MD_CTX_new();
    if (!*md)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if (EVP_DigestInit_ex(*md, EVP_sha256(), NULL) != 1)
        return H->fail(e, ORR_EBACKEND, "libcrypto has no SHA-256");
    return ORR_OK;
}

static int hash_end(EVP_MD_CTX *md, char out[ORR_DIGEST_HEX_LEN + 1],
                    struct orr_error *e)
{
    unsigned char bin[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, bin, &len) != 1 ||
        len != ORR_DIGEST_HEX_LEN / 2)
        return H->fail(e, ORR_EBACKEND, "SHA-256 failed in libcrypto");
    to_hex(bin, out);
    return ORR_OK;
}

/* ---- open / close ------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = H->alloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Leftovers of crashed puts: old enough that no live put owns them
 * (a live put keeps touching its file). */
static void sweep_stale_temps(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (strncmp(de->d_name, "put-", 4) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && now - st.st_mtime > STALE_TMP_SECONDS) {
            H->log(ORR_LOG_DEBUG, FS_NAME, "removing stale %s/%s", tmp,
                   de->d_name);
            (void)unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

static int fs_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    struct fs_store *s = self;
    char path[PATH_MAX], cwd[PATH_MAX];
    const char *root = H->cfg_str(cfg, "root", DEFAULT_ROOT);
    s->durable = H->cfg_bool(cfg, "fsync", 1);
    if (!root || !*root)
        return H->fail(e, ORR_ECONFIG, "storage.root is empty");
    int rc;
    if (root[0] == '/') {
        rc = fmt_path(path, sizeof path, e, "%s", root);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            return sys_fail(e, errno, "current directory");
        rc = fmt_path(path, sizeof path, e, "%s/%s", cwd, root);
    }
    if (rc)
        return rc;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    if (!(s->root = dup_str(path)))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if ((rc = fmt_path(path, sizeof path, e, "%s/sha256", s->root)))
        return rc;
    if (!(s->blobs = dup_str(path)))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if ((rc = fmt_path(path, sizeof path, e, "%s/tmp", s->root)))
        return rc;
    if (!(s->tmp = dup_str(path)))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if ((rc = mkdir_p(path, e)))
        return rc;
    memcpy(path, s->blobs, strlen(s->blobs) + 1);
    if ((rc = mkdir_p(path, e)))
        return rc;
    if (access(s->tmp, W_OK) != 0)
        return sys_fail(e, errno, "storage root %s", s->root);
    sweep_stale_temps(s->tmp);
    H->log(ORR_LOG_DEBUG, FS_NAME, "blobs in %s%s", s->root,
           s->durable ? "" : " (fsync off)");
    return ORR_OK;
}

static void fs_close(void *self)
{
    struct fs_store *s = self;
    if (!s)
        return;
    H->free(s->root);
    H->free(s->blobs);
    H->free(s->tmp);
    s->root = s->blobs = s->tmp = NULL;
}

/* ---- put --------------------------------------------------------------- */

/* Where put's bytes come from: a caller's callback or a file. */
struct source {
    orr_read_fn fn;
    void       *ctx;
    int         fd;         /* used when fn is NULL                         */
    const char *path;
};

/* Fill `buf` as far as the source allows; *got = bytes, *eof set at end. */
static int source_fill(struct source *src, unsigned char *buf, size_t *got,
                       int *eof, struct orr_error *e)
{
    size_t fill = 0;
    while (fill < CHUNK) {
        int64_t n;
        if (src->fn) {
            n = src->fn(src->ctx, buf + fill, CHUNK - fill, e);
            if (n < 0) {
                if (e && e->code != ORR_OK)
                    return e->code;
                return H->fail(e, ORR_EIO, "put: read callback failed");
            }
            if ((uint64_t)n > CHUNK - fill)
                return H->fail(e, ORR_EINVAL,
                               "put: read callback returned %lld bytes for "
                               "a buffer of %zu", (long long)n, CHUNK - fill);
        } else {
            ssize_t r = read_some(src->fd, buf + fill, CHUNK - fill);
            if (r < 0)
                return sys_fail(e, errno, "read %s", src->path);
            n = r;
        }
        if (n == 0) {
            *eof = 1;
            break;
        }
        fill += (size_t)n;
    }
    *got = fill;
    return ORR_OK;
}

/* Move the finished temporary file into place (*renamed = 1), or leave it
 * to be dropped if the blob is there already. */
static int publish(const struct fs_store *s, const char *tmp, int fd,
                   uint64_t size, const char *digest, int *renamed,
                   struct orr_error *e)
{
    char dir[PATH_MAX], final[PATH_MAX];
    struct stat st;
    int rc = fmt_path(dir, sizeof dir, e, "%s/%.2s", s->blobs, digest);
    if (rc || (rc = blob_path(s, digest, final, sizeof final, e)))
        return rc;
    /* Dedup before fsync: the dropped copy's dirty pages never hit the
     * disk.  A same-digest blob of another size is damaged: replace it. */
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == size)
        return ORR_OK;
    if (s->durable && fsync(fd) != 0)
        return sys_fail(e, errno, "put %s: fsync", digest);
    if (mkdir(dir, 0777) == 0) {
        if (s->durable && (rc = fsync_dir(s->blobs, e)))
            return rc;
    } else if (errno != EEXIST) {
        return sys_fail(e, errno, "put %s: create %s", digest, dir);
    }
    if (rename(tmp, final) != 0)
        return sys_fail(e, errno, "put %s: rename into %s", digest, dir);
    *renamed = 1;
    if (s->durable)
        return fsync_dir(dir, e);
    return ORR_OK;
}

static int store(struct fs_store *s, struct source *src,
                 char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e)
{
    char tmp[PATH_MAX], hex[ORR_DIGEST_HEX_LEN + 1];
    unsigned char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    struct writer w = {-1, s->durable, 0, 0};
    int rc, have_tmp = 0, eof = 0;

    if (!(buf = H->alloc(CHUNK))) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = hash_begin(&md, e)))
        goto fail;
    rc = make_temp(s->tmp, "put-", 0444, tmp, sizeof tmp, &w.fd, e);
    if (rc)
        goto fail;
    have_tmp = 1;
    while (!eof) {
        size_t got = 0;
        if ((rc = source_fill(src, buf, &got, &eof, e)))
            goto fail;
        if (got == 0)
            break;
        if (EVP_DigestUpdate(md, buf, got) != 1) {
            rc = H->fail(e, ORR_EBACKEND, "SHA-256 failed in libcrypto");
            goto fail;
        }
        if (writer_put(&w, buf, got) != 0) {
            rc = sys_fail(e, errno, "put: write %s", tmp);
            goto fail;
        }
    }
    if ((rc = hash_end(md, hex, e)))
        goto fail;
    int renamed = 0;
    rc = publish(s, tmp, w.fd, w.written, hex, &renamed, e);
    if (renamed)
        have_tmp = 0;
    if (rc)
        goto fail;
    int fd = w.fd;
    w.fd = -1;
    if (close(fd) != 0) {
        rc = sys_fail(e, errno, "put %s: close", hex);
        goto fail;
    }
    if (have_tmp)           /* dedup: the blob was there already */
        (void)unlink(tmp);
    have_tmp = 0;
    memcpy(digest, hex, sizeof hex);
    H->free(buf);
    EVP_MD_CTX_free(md);
    return ORR_OK;
fail:
    if (w.fd >= 0)
        close(w.fd);
    if (have_tmp)
        (void)unlink(tmp);
    EVP_MD_CTX_free(md);
    H->free(buf);
    return rc;
}

static int fs_put(void *self, orr_read_fn read, void *read_ctx,
                  int64_t size_hint, char digest[ORR_DIGEST_HEX_LEN + 1],
                  struct orr_error *e)
{
    (void)size_hint;
    if (!read)
        return H->fail(e, ORR_EINVAL, "put: no read callback");
    struct source src = {read, read_ctx, -1, NULL};
    return store(self, &src, digest, e);
}

static int fs_put_file(void *self, const char *path,
                       char digest[ORR_DIGEST_HEX_LEN + 1],
                       struct orr_error *e)
{
    if (!path || !*path)
        return H->fail(e, ORR_EINVAL, "put_file: empty path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sys_fail(e, errno, "put_file %s", path);
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0) {
        rc = sys_fail(e, errno, "put_file %s", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = H->fail(e, ORR_EINVAL, "put_file %s: not a regular file", path);
    } else {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        struct source src = {NULL, NULL, fd, path};
        rc = store(self, &src, digest, e);
    }
    close(fd);
    return rc;
}

/* ---- get --------------------------------------------------------------- */

static int open_blob(const struct fs_store *s, const char *op,
                     const char *digest, int *fd, struct orr_error *e)
{
    char path[PATH_MAX];
    int rc = check_digest(op, digest, e);
    if (rc || (rc = blob_path(s, digest, path, sizeof path, e)))
        return rc;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        if (errno == ENOENT)
            return H->fail(e, ORR_ENOTFOUND, "blob %s not found", digest);
        return sys_fail(e, errno, "%s %s", op, digest);
    }
    (void)posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return ORR_OK;
}

/* Where get's bytes go: a caller's callback or a file. */
struct sink {
    orr_write_fn   fn;
    void          *ctx;
    struct writer *w;       /* used when fn is NULL                         */
    const char    *path;
};

/* Stream the open blob `fd` to `out`, then check it hashes to `digest`. */
static int stream_blob(int fd, const char *digest, struct sink *out,
                       struct orr_error *e)
{
    char hex[ORR_DIGEST_HEX_LEN + 1];
    EVP_MD_CTX *md = NULL;
    unsigned char *buf = H->alloc(CHUNK);
    int rc;
    if (!buf) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = hash_begin(&md, e)))
        goto done;
    for (;;) {
        ssize_t n = read_some(fd, buf, CHUNK);
        if (n < 0) {
            rc = sys_fail(e, errno, "get %s: read", digest);
            goto done;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            rc = H->fail(e, ORR_EBACKEND, "SHA-256 failed in libcrypto");
            goto done;
        }
        if (out->fn) {
            if (e)
                e->code = ORR_OK;
            rc = out->fn(out->ctx, buf, (size_t)n, e);
            if (rc) {
                if (!e || e->code != rc)
                    rc = H->fail(e, rc, "get %s: write callback failed: %s",
                                 digest, H->strerror(rc));
                goto done;
            }
        } else if (writer_put(out->w, buf, (size_t)n) != 0) {
            rc = sys_fail(e, errno, "get %s: write %s", digest, out->path);
            goto done;
        }
    }
    if ((rc = hash_end(md, hex, e)))
        goto done;
    if (memcmp(hex, digest, ORR_DIGEST_HEX_LEN) != 0)
        rc = H->fail(e, ORR_ECORRUPT,
                     "blob %s is corrupt: content hashes to %s", digest, hex);
done:
    EVP_MD_CTX_free(md);
    H->free(buf);
    return rc;
}

static int fs_get(void *self, const char *digest, orr_write_fn write,
                  void *write_ctx, struct orr_error *e)
{
    int fd = -1;
    if (!write)
        return H->fail(e, ORR_EINVAL, "get: no write callback");
    int rc = open_blob(self, "get", digest, &fd, e);
    if (rc)
        return rc;
    struct sink out = {write, write_ctx, NULL, NULL};
    rc = stream_blob(fd, digest, &out, e);
    close(fd);
    return rc;
}

static int fs_get_file(void *self, const char *digest, const char *path,
                       struct orr_error *e)
{
    const struct fs_store *s = self;
    char dir[PATH_MAX], tmp[PATH_MAX];
    struct writer w = {-1, s->durable, 0, 0};
    int src = -1, have_tmp = 0, rc;

    if (!path || !*path)
        return H->fail(e, ORR_EINVAL, "get_file: empty path");
    if ((rc = open_blob(s, "get_file", digest, &src, e)))
        return rc;
    const char *slash = strrchr(path, '/');
    if (!slash)
        rc = fmt_path(dir, sizeof dir, e, ".");
    else if (slash == path)
        rc = fmt_path(dir, sizeof dir, e, "/");
    else
        rc = fmt_path(dir, sizeof dir, e, "%.*s", (int)(slash - path), path);
    if (rc)
        goto fail;
    rc = make_temp(dir, ".orrery-get-", 0666, tmp, sizeof tmp, &w.fd, e);
    if (rc)
        goto fail;
    have_tmp = 1;
    struct sink out = {NULL, NULL, &w, path};
    if ((rc = stream_blob(src, digest, &out, e)))
        goto fail;
    if (s->durable && fsync(w.fd) != 0) {
        rc = sys_fail(e, errno, "get_file %s: fsync", path);
        goto fail;
    }
    int fd = w.fd;
    w.fd = -1;
    if (close(fd) != 0) {
        rc = sys_fail(e, errno, "get_file %s: close", path);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = sys_fail(e, errno, "get_file %s", path);
        goto fail;
    }
    have_tmp = 0;
    close(src);
    return s->durable ? fsync_dir(dir, e) : ORR_OK;
fail:
    if (w.fd >= 0)
        close(w.fd);
    if (have_tmp)
        (void)unlink(tmp);
    close(src);
    return rc;
}

/* ---- stat / list / remove ---------------------------------------------- */

static int fs_stat(void *self, const char *digest, struct orr_blob_info *info,
                   struct orr_error *e)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = check_digest("stat", digest, e);
    if (rc || (rc = blob_path(self, digest, path, sizeof path, e)))
        return rc;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return H->fail(e, ORR_ENOTFOUND, "blob %s not found", digest);
        return sys_fail(e, errno, "stat %s", digest);
    }
    memcpy(info->digest, digest, ORR_DIGEST_HEX_LEN + 1);
    info->size = (uint64_t)st.st_size;
    info->mtime = (int64_t)st.st_mtime;
    return ORR_OK;
}

/* List one fan-out directory `sub` (two hex digits). */
static int list_dir(const struct fs_store *s, const char *sub,
                    const char *prefix, size_t plen, orr_blob_fn fn,
                    void *ctx, struct orr_error *e)
{
    char path[PATH_MAX];
    int rc = fmt_path(path, sizeof path, e, "%s/%s", s->blobs, sub);
    if (rc)
        return rc;
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return ORR_OK;
        return sys_fail(e, errno, "list %s", path);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        struct stat st;
        if (!is_digest_name(name) || memcmp(name, sub, 2) != 0 ||
            strncmp(name, prefix, plen) != 0)
            continue;
        /* ENOENT: removed meanwhile, which is not an error. */
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        struct orr_blob_info info;
        memcpy(info.digest, name, ORR_DIGEST_HEX_LEN + 1);
        info.size = (uint64_t)st.st_size;
        info.mtime = (int64_t)st.st_mtime;
        if ((rc = fn(ctx, &info)))
            break;
    }
    closedir(d);
    return rc;
}

static int fs_list(void *self, const char *prefix, orr_blob_fn fn, void *ctx,
                   struct orr_error *e)
{
    const struct fs_store *s = self;
    int rc = check_prefix(prefix, e);
    if (rc)
        return rc;
    if (!fn)
        return H->fail(e, ORR_EINVAL, "list: no callback");
    size_t plen = strlen(prefix);
    if (plen >= 2) {
        char sub[3] = {prefix[0], prefix[1], '\0'};
        return list_dir(s, sub, prefix, plen, fn, ctx, e);
    }
    DIR *d = opendir(s->blobs);
    if (!d)
        return sys_fail(e, errno, "list %s", s->blobs);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (!is_lower_hex(n[0]) || !is_lower_hex(n[1]) || n[2] ||
            (plen == 1 && n[0] != prefix[0]))
            continue;
        if ((rc = list_dir(s, n, prefix, plen, fn, ctx, e)))
            break;
    }
    closedir(d);
    return rc;
}

static int fs_remove(void *self, const char *digest, struct orr_error *e)
{
    char path[PATH_MAX];
    int rc = check_digest("remove", digest, e);
    if (rc || (rc = blob_path(self, digest, path, sizeof path, e)))
        return rc;
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return H->fail(e, ORR_ENOTFOUND, "blob %s not found", digest);
        return sys_fail(e, errno, "remove %s", digest);
    }
    return ORR_OK;
}

/* ---- registration ------------------------------------------------------ */

static const struct orr_storage_ops fs_ops = {
    .version = ORR_STORAGE_OPS_V1,
    .name = "fs",
    .summary = "content-addressed blobs in a local directory (SHA-256)",
    .self_size = sizeof(struct fs_store),
    .open = fs_open,
    .close = fs_close,
    .put = fs_put,
    .get = fs_get,
    .stat = fs_stat,
    .list = fs_list,
    .remove = fs_remove,
    .put_file = fs_put_file,
    .get_file = fs_get_file,
};

static int fs_init(const struct orr_host *h, struct orr_registry *r,
                   struct orr_error *e)
{
    H = h;
    return h->add_storage(r, &fs_ops, e);
}

ORR_PLUGIN("storage-fs", "0.1.0", "Apache-2.0",
           "local file-system blob store (content-addressed, SHA-256)",
           fs_init, NULL)
