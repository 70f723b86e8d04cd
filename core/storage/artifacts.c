/*
 * storage/artifacts.c - files and buffers over a storage backend's
 * callbacks.
 *
 * Keys are checked here before any backend sees them, so every backend
 * gets only well-formed digests even if its own checks are weak.  Files
 * stream in ORR_STREAM_CHUNK pieces; a download goes to a temporary file
 * beside its destination and is renamed into place only after the backend
 * has verified every byte, so the destination never holds a partial or
 * corrupt file.
 */
#include "storage/artifacts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

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
    case EISDIR:
    case ENAMETOOLONG:
        return ORR_EINVAL;
    default:
        return ORR_EIO;
    }
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

ORR_API int orr_digest_is_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < ORR_DIGEST_HEX_LEN; i++)
        if (!is_lower_hex(s[i]))
            return 0;
    return s[ORR_DIGEST_HEX_LEN] == '\0';
}

static int prefix_is_valid(const char *s)
{
    if (!s)
        return 0;
    size_t i = 0;
    while (i <= ORR_DIGEST_HEX_LEN && is_lower_hex(s[i]))
        i++;
    return i <= ORR_DIGEST_HEX_LEN && s[i] == '\0';
}

/* The key, printable and bounded, for messages. */
static const char *shown(const char *key, char *buf, size_t cap)
{
    size_t i = 0;
    if (!key)
        return "(null)";
    for (; key[i] && i + 4 < cap && i < 80; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (key[i] && i + 4 <= cap) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static int bad_digest(struct orr_error *e, const char *op, const char *d)
{
    char q[96];
    return orr_fail(e, ORR_EINVAL,
                    "%s: invalid digest '%s' (expected 64 lower-case hex "
                    "digits)", op, shown(d, q, sizeof q));
}

static int storage_ops(struct orr_instance *st,
                       const struct orr_storage_ops **ops,
                       struct orr_error *e)
{
    if (!st || !st->backend || st->backend->kind != ORR_KIND_STORAGE)
        return orr_fail(e, ORR_EINVAL, "not an open storage instance");
    *ops = &st->backend->ops.storage;
    return ORR_OK;
}

/* A backend's digest is checked like a caller's: it names files later. */
static int check_result(const struct orr_instance *st, int rc,
                        const char *digest, struct orr_error *e)
{
    if (rc == ORR_OK && !orr_digest_is_valid(digest))
        return orr_fail(e, ORR_EBACKEND,
                        "storage backend '%s' returned a malformed digest",
                        st->backend->name);
    return rc;
}

/* ---- put ---------------------------------------------------------------- */

struct fd_src {
    int         fd;
    const char *path;
};

static int64_t read_fd(void *ctx, void *buf, size_t cap, struct orr_error *e)
{
    struct fd_src *s = ctx;
    for (;;) {
        ssize_t n = read(s->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno != EINTR) {
            int err = errno;
            orr_fail(e, status_of_errno(err), "read %s: %s", s->path,
                     strerror(err));
            return -1;
        }
    }
}

ORR_API int orr_storage_put_file(struct orr_instance *st, const char *path,
                                 char digest[ORR_DIGEST_HEX_LEN + 1],
                                 struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!path || !*path)
        return orr_fail(e, ORR_EINVAL, "put: empty path");
    if (ops->put_file) {
        rc = ops->put_file(st->self, path, digest, e);
        return check_result(st, rc, digest, e);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return orr_fail(e, status_of_errno(err), "put %s: %s", path,
                        strerror(err));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        rc = orr_fail(e, status_of_errno(err), "put %s: %s", path,
                      strerror(err));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = orr_fail(e, ORR_EINVAL, "put %s: not a regular file", path);
    } else {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        struct fd_src src = {fd, path};
        rc = ops->put(st->self, read_fd, &src, (int64_t)sb.st_size, digest,
                      e);
        rc = check_result(st, rc, digest, e);
    }
    close(fd);
    return rc;
}

struct mem_src {
    const unsigned char *p;
    size_t               len;
    size_t               pos;
};

static int64_t read_mem(void *ctx, void *buf, size_t cap, struct orr_error *e)
{
    (void)e;
    struct mem_src *m = ctx;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (n)
        memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

ORR_API int orr_storage_put_buf(struct orr_instance *st, const void *data,
                                size_t len,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!data && len)
        return orr_fail(e, ORR_EINVAL, "put: no data");
    struct mem_src src = {data, len, 0};
    rc = ops->put(st->self, read_mem, &src, (int64_t)len, digest, e);
    return check_result(st, rc, digest, e);
}

/* ---- get ---------------------------------------------------------------- */

struct fd_dst {
    int         fd;
    const char *path;
};

static int write_fd(void *ctx, const void *buf, size_t len,
                    struct orr_error *e)
{
    struct fd_dst *d = ctx;
    const unsigned char *p = buf;
    while (len) {
        ssize_t n = write(d->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            return orr_fail(e, status_of_errno(err), "write %s: %s", d->path,
                            strerror(err));
        }
        p += n;
        len -= (size_t)n;
    }
    return ORR_OK;
}

static atomic_ulong tmp_counter;

/* Create a fresh file beside `path` (same directory, so rename is
 * atomic), mode 0666 less the umask like any new file. */
static int temp_beside(const char *path, char *tmp, size_t cap, char *dir,
                       size_t dcap, int *fd, struct orr_error *e)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (!slash)
        n = snprintf(dir, dcap, ".");
    else if (slash == path)
        n = snprintf(dir, dcap, "/");
    else
        n = snprintf(dir, dcap, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= dcap)
        return orr_fail(e, ORR_EINVAL, "get %s: path too long", path);
    for (int attempt = 0; attempt < 64; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long k = atomic_fetch_add(&tmp_counter, 1);
        n = snprintf(tmp, cap, "%s/.orrery-get-%ld-%lu-%lx", dir,
                     (long)getpid(), k, (unsigned long)ts.tv_nsec);
        if (n < 0 || (size_t)n >= cap)
            return orr_fail(e, ORR_EINVAL, "get %s: path too long", path);
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0)
            return ORR_OK;
        if (errno != EEXIST) {
            int err = errno;
            return orr_fail(e, status_of_errno(err), "get %s: %s", path,
                            strerror(err));
        }
    }
    return orr_fail(e, ORR_EIO, "get %s: no free temporary name", path);
}

static int sync_dir(const char *dir, struct orr_error *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return orr_fail(e, status_of_errno(err), "open %s: %s", dir,
                        strerror(err));
    }
    int rc = ORR_OK;
    if (fsync(fd) != 0 && errno != EINVAL) {
        int err = errno;
        rc = orr_fail(e, status_of_errno(err), "fsync %s: %s", dir,
                      strerror(err));
    }
    close(fd);
    return rc;
}

ORR_API int orr_storage_get_file(struct orr_instance *st, const char *digest,
                                 const char *path, struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    char tmp[4096], dir[4096];
    int fd = -1, have_tmp = 0;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!orr_digest_is_valid(digest))
        return bad_digest(e, "get", digest);
    if (!path || !*path)
        return orr_fail(e, ORR_EINVAL, "get %s: empty path", digest);
    if (ops->get_file)
        return ops->get_file(st->self, digest, path, e);

    if ((rc = temp_beside(path, tmp, sizeof tmp, dir, sizeof dir, &fd, e)))
        return rc;
    have_tmp = 1;
    struct fd_dst dst = {fd, path};
    if ((rc = ops->get(st->self, digest, write_fd, &dst, e)))
        goto fail;
    if (fsync(fd) != 0) {
        int err = errno;
        rc = orr_fail(e, status_of_errno(err), "get %s: fsync: %s", path,
                      strerror(err));
        goto fail;
    }
    int closing = fd;
    fd = -1;
    if (close(closing) != 0) {
        int err = errno;
        rc = orr_fail(e, status_of_errno(err), "get %s: close: %s", path,
                      strerror(err));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        rc = orr_fail(e, status_of_errno(err), "get %s: %s", path,
                      strerror(err));
        goto fail;
    }
    return sync_dir(dir, e);
fail:
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        (void)unlink(tmp);
    return rc;
}

struct buf_dst {
    unsigned char *p;
    size_t         len, cap, max;
    const char    *digest;
};

static int write_buf(void *ctx, const void *buf, size_t len,
                     struct orr_error *e)
{
    struct buf_dst *b = ctx;
    if (len > b->max - b->len)
        return orr_fail(e, ORR_EINVAL, "blob %s is larger than %zu bytes",
                        b->digest, b->max);
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + len + 1 : cap * 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return ORR_OK;
}

ORR_API int orr_storage_get_buf(struct orr_instance *st, const char *digest,
                                size_t max, void **data, size_t *len,
                                struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    *data = NULL;
    *len = 0;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!orr_digest_is_valid(digest))
        return bad_digest(e, "get", digest);
    if (max == SIZE_MAX)
        max--;
    struct buf_dst b = {NULL, 0, 0, max, digest};
    /* Size up front: refuse early and allocate once. */
    struct orr_blob_info info;
    if ((rc = ops->stat(st->self, digest, &info, e)))
        return rc;
    if (info.size > max)
        return orr_fail(e, ORR_EINVAL,
                        "blob %s is %llu bytes, larger than %zu", digest,
                        (unsigned long long)info.size, max);
    if (!(b.p = malloc((size_t)info.size + 1)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    b.cap = (size_t)info.size + 1;
    if ((rc = ops->get(st->self, digest, write_buf, &b, e))) {
        free(b.p);
        return rc;
    }
    b.p[b.len] = '\0';
    *data = b.p;
    *len = b.len;
    return ORR_OK;
}

/* ---- stat / list / remove --------------------------------------------------- */

ORR_API int orr_storage_stat(struct orr_instance *st, const char *digest,
                             struct orr_blob_info *info, struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!orr_digest_is_valid(digest))
        return bad_digest(e, "stat", digest);
    return ops->stat(st->self, digest, info, e);
}

ORR_API int orr_storage_list(struct orr_instance *st, const char *prefix,
                             orr_blob_fn fn, void *ctx, struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!prefix)
        prefix = "";
    if (!prefix_is_valid(prefix)) {
        char q[96];
        return orr_fail(e, ORR_EINVAL,
                        "list: invalid prefix '%s' (expected at most 64 "
                        "lower-case hex digits)", shown(prefix, q, sizeof q));
    }
    if (!fn)
        return orr_fail(e, ORR_EINVAL, "list: no callback");
    return ops->list(st->self, prefix, fn, ctx, e);
}

ORR_API int orr_storage_remove(struct orr_instance *st, const char *digest,
                               struct orr_error *e)
{
    const struct orr_storage_ops *ops = NULL;
    int rc = storage_ops(st, &ops, e);
    if (rc)
        return rc;
    if (!orr_digest_is_valid(digest))
        return bad_digest(e, "remove", digest);
    return ops->remove(st->self, digest, e);
}
