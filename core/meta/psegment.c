/*
 * meta/psegment.c - segment files of the prediction log: the writer's
 * files (created exclusively, appended, rolled over), the reader's
 * checked reads, and the chunk checksum.
 */
#define _GNU_SOURCE             /* O_DIRECT */
#include "meta/psegment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

int64_t orri_pseg_test_limit;

int orri_pseg_dir(sqlite3 *db, char *out, size_t cap)
{
    const char *f = db ? sqlite3_db_filename(db, "main") : NULL;
    if (!f || !*f)
        return 0;
    const char *slash = strrchr(f, '/');
    int n = slash ? snprintf(out, cap, "%.*s/%s", (int)(slash - f), f,
                             ORRI_PSEG_DIR)
                  : snprintf(out, cap, "%s", ORRI_PSEG_DIR);
    return n > 0 && (size_t)n < cap;
}

/* ---- checksum: XXH64's construction (seed 0) ---------------------------- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8 * k);
#else
    uint64_t v;
    memcpy(&v, p, 8);           /* one load: the loop was not merged */
#endif
    return v;
}

static uint64_t mix(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    return rotl(acc, 31) * P1;
}

static uint64_t merge(uint64_t h, uint64_t v)
{
    h ^= mix(0, v);
    return h * P1 + P4;
}

static void stripe(uint64_t v[4], const unsigned char *p)
{
    v[0] = mix(v[0], rd64(p));
    v[1] = mix(v[1], rd64(p + 8));
    v[2] = mix(v[2], rd64(p + 16));
    v[3] = mix(v[3], rd64(p + 24));
}

void orri_pseg_hash_init(struct orri_pseg_hash *h)
{
    memset(h, 0, sizeof *h);
    h->v[0] = P1 + P2;
    h->v[1] = P2;
    h->v[2] = 0;
    h->v[3] = 0 - P1;
}

void orri_pseg_hash_update(struct orri_pseg_hash *h, const void *data,
                           size_t len)
{
    const unsigned char *p = data, *end = p + len;
    h->total += len;
    if (h->held) {
        size_t k = 32 - h->held < len ? 32 - h->held : len;
        memcpy(h->buf + h->held, p, k);
        h->held += k;
        p += k;
        if (h->held < 32)
            return;
        stripe(h->v, h->buf);
        h->held = 0;
    }
    /* Four independent lanes: ~15 GB/s from cache. */
    uint64_t v[4] = {h->v[0], h->v[1], h->v[2], h->v[3]};
    for (; end - p >= 32; p += 32)
        stripe(v, p);
    memcpy(h->v, v, sizeof v);
    memcpy(h->buf, p, (size_t)(end - p));
    h->held = (size_t)(end - p);
}

void orri_pseg_hash_copy(struct orri_pseg_hash *h, void *dst,
                         const void *src, size_t len)
{
    const unsigned char *p = src, *end = p + len;
    unsigned char *d = dst;
    if (h->held) {
        size_t k = 32 - h->held < len ? 32 - h->held : len;
        orri_pseg_hash_update(h, p, k);
        memcpy(d, p, k);
        p += k;
        d += k;
    }
    if (h->held)
        return;                 /* all of it went into the held stripe */
    h->total += (size_t)(end - p);
    uint64_t v[4] = {h->v[0], h->v[1], h->v[2], h->v[3]};
    for (; end - p >= 32; p += 32, d += 32) {
        unsigned char s[32];
        memcpy(s, p, 32);       /* one load of the stripe, two uses */
        stripe(v, s);
        memcpy(d, s, 32);
    }
    memcpy(h->v, v, sizeof v);
    memcpy(d, p, (size_t)(end - p));
    memcpy(h->buf, p, (size_t)(end - p));
    h->held = (size_t)(end - p);
}

uint64_t orri_pseg_hash_final(const struct orri_pseg_hash *h)
{
    const unsigned char *p = h->buf, *end = p + h->held;
    uint64_t x;
    if (h->total >= 32) {
        const uint64_t *v = h->v;
        x = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
        x = merge(merge(merge(merge(x, v[0]), v[1]), v[2]), v[3]);
    } else {
        x = P5;
    }
    x += h->total;
    for (; p + 8 <= end; p += 8) {
        x ^= mix(0, rd64(p));
        x = rotl(x, 27) * P1 + P4;
    }
    for (; p < end; p++) {
        x ^= *p * P5;
        x = rotl(x, 11) * P1;
    }
    x ^= x >> 33;
    x *= P2;
    x ^= x >> 29;
    x *= P3;
    x ^= x >> 32;
    return x;
}

uint64_t orri_pseg_check(const void *data, size_t len)
{
    struct orri_pseg_hash h;
    orri_pseg_hash_init(&h);
    orri_pseg_hash_update(&h, data, len);
    return orri_pseg_hash_final(&h);
}

int orri_pseg_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n > ORRI_PSEG_NAME_MAX || strstr(name, "..") ||
        name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int orri_pseg_remove(const char *dir, const char *name, int64_t now_ms,
                     int64_t grace_ms, int dry_run, int64_t *bytes)
{
    *bytes = 0;
    if (!orri_pseg_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    char path[4096 + ORRI_PSEG_NAME_MAX + 2];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)                 /* gone, or a symbolic link: not ours */
        return errno == ENOENT || errno == ELOOP ? 2 : -1;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st)) {
        r = -1;
    } else if (!S_ISREG(st.st_mode)) {
        r = 2;
    } else if ((int64_t)st.st_mtim.tv_sec * 1000 +
                       st.st_mtim.tv_nsec / 1000000 <= now_ms - grace_ms &&
               !flock(fd, LOCK_EX | LOCK_NB)) {
        /* Old, and no writer holds it: unlinked under the lock. */
        *bytes = (int64_t)st.st_size;
        r = dry_run || !unlink(path) ? 1 : -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

/* ---- writer ------------------------------------------------------------- */

/* Batches of DIRECT_MIN bytes or more are written with O_DIRECT (on a
 * second descriptor of the file), from an aligned staging buffer the
 * pieces are copied into while still in cache: written through the page
 * cache, each byte cost a copy into a freshly allocated page (~2 us per
 * KiB on a VM whose memory the host had not backed yet, 0.45 when
 * recycled), direct it costs the copy into the staging buffer (~0.2).
 * Such a batch starts at an offset aligned to DIRECT_ALIGN and its last
 * block is padded with zeros (bytes no chunk refers to); smaller batches
 * go through the page cache as they are.  16 KiB: the writer's batches
 * are small (plog.c's BATCH_MAX, 128 records: 32 KB of 1-row
 * predictions) and went through the page cache at 256 KiB, the padding
 * wastes at most 4 KiB in 16, and the tiny batches of a quiet server
 * waste nothing.  A file system that refuses O_DIRECT gets buffered
 * writes only. */
#define DIRECT_MIN   ((size_t)16 << 10)
#define DIRECT_ALIGN 4096
#define STAGE        ((size_t)1 << 20)

int64_t orri_pseg_test_direct_min;

struct orri_pseg_writer {
    char          *dir;
    int            fd;          /* -1: none open                          */
    int            dfd;         /* the same file, O_DIRECT; -1: none      */
    int64_t        off;         /* logical end: bytes of the batches      */
    char           name[ORRI_PSEG_NAME_MAX + 1];
    int            direct;      /* 0: O_DIRECT refused here               */
    int            in_direct;   /* the batch being written goes direct    */
    unsigned char *stage;       /* STAGE bytes, DIRECT_ALIGN-aligned      */
    size_t         staged;
    int64_t        pos;         /* file offset of stage[0]                */
    int            mode;        /* MODE_*: fixed by the first call        */
    uint64_t       base;        /* stream mode: the stream position at
                                 * offset 0 of the file open             */
};

/* A writer appends batches (reserve/writev/put/end) or mirrors a
 * stream (orri_pseg_stream_write), never both: their offsets mean
 * different things. */
#define MODE_NONE   0
#define MODE_BATCH  1
#define MODE_STREAM 2

/* Sequence numbers of the files of this process: two writers of one
 * process in the same millisecond still get distinct names. */
static atomic_uint seg_seq;

int orri_pseg_writer_new(const char *dir, struct orri_pseg_writer **out,
                         struct orr_error *e)
{
    *out = NULL;
    struct orri_pseg_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    w->fd = w->dfd = -1;
    w->direct = orri_pseg_test_direct_min >= 0;
    *out = w;
    return ORR_OK;
}

static void close_file(struct orri_pseg_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->dfd >= 0)
        close(w->dfd);
    w->fd = w->dfd = -1;
    w->in_direct = 0;
}

void orri_pseg_writer_free(struct orri_pseg_writer *w)
{
    if (!w)
        return;
    close_file(w);
    free(w->stage);
    free(w->dir);
    free(w);
}

static int open_new(struct orri_pseg_writer *w, struct orr_error *e)
{
    if (mkdir(w->dir, 0700) != 0 && errno != EEXIST)
        return orr_fail(e, ORR_EIO, "creating %s: %s", w->dir,
                        strerror(errno));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char path[4096 + ORRI_PSEG_NAME_MAX + 2];
    for (int tries = 0; tries < 100; tries++) {
        unsigned seq = atomic_fetch_add(&seg_seq, 1u);
        snprintf(w->name, sizeof w->name, "%lld-%ld-%u.plog", ms,
                 (long)getpid(), seq);
        int n = snprintf(path, sizeof path, "%s/%s", w->dir, w->name);
        if (n < 0 || (size_t)n >= sizeof path)
            return orr_fail(e, ORR_EINVAL, "%s: path too long", w->dir);
        w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0) {
            w->off = 0;
            /* Held while the file is open: a prune leaves it alone
             * (orri_pseg_remove).  Best effort: without flock the grace
             * period still protects a file being written. */
            (void)flock(w->fd, LOCK_SH | LOCK_NB);
#ifdef O_DIRECT
            if (w->direct) {
                w->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
                w->direct = w->dfd >= 0;
            }
#else
            w->direct = 0;
#endif
            return ORR_OK;
        }
        if (errno != EEXIST)
            break;
    }
    w->name[0] = '\0';
    return orr_fail(e, ORR_EIO, "creating a prediction segment in %s: %s",
                    w->dir, strerror(errno));
}

/* Close a file after a failed write.  A file that nothing was written
 * to before is removed: a full disk made a new empty file per batch, as
 * each batch tries a new one (hundreds in seconds). */
static void abandon(struct orri_pseg_writer *w)
{
    if (w->fd >= 0 && w->off == 0 && w->name[0]) {
        char path[4096 + ORRI_PSEG_NAME_MAX + 2];
        int n = snprintf(path, sizeof path, "%s/%s", w->dir, w->name);
        if (n > 0 && (size_t)n < sizeof path)
            (void)unlink(path);
    }
    close_file(w);
}

static int write_fail(struct orri_pseg_writer *w, int err,
                      struct orr_error *e)
{
    /* What was written stays, unreferenced; the next batch starts a new
     * file.  A file system refusing O_DIRECT writes gets buffered ones. */
    if (w->in_direct && err == EINVAL)
        w->direct = 0;
    abandon(w);
    return orr_fail(e, ORR_EIO, "writing %s/%s: %s", w->dir, w->name,
                    strerror(err));
}

int orri_pseg_reserve(struct orri_pseg_writer *w, size_t len,
                      const char **name, int64_t *offset,
                      struct orr_error *e)
{
    int64_t limit = orri_pseg_test_limit > 0 ? orri_pseg_test_limit
                                             : ORRI_PSEG_LIMIT;
    size_t dmin = orri_pseg_test_direct_min > 0
                ? (size_t)orri_pseg_test_direct_min : DIRECT_MIN;
    if (w->mode == MODE_STREAM)
        return orr_fail(e, ORR_EINVAL, "prediction segment writer of %s: "
                        "a stream writer cannot append batches", w->dir);
    w->mode = MODE_BATCH;
    w->in_direct = 0;
    if (w->fd >= 0 && w->off > 0 && (uint64_t)w->off + len >
                                    (uint64_t)limit)
        close_file(w);
    if (w->fd < 0) {
        int rc = open_new(w, e);
        if (rc)
            return rc;
    }
    if (w->direct && w->dfd >= 0 && len >= dmin && !w->stage) {
        void *p = NULL;
        if (posix_memalign(&p, DIRECT_ALIGN, STAGE) == 0)
            w->stage = p;
    }
    if (w->direct && w->dfd >= 0 && len >= dmin && w->stage) {
        w->in_direct = 1;
        w->off = (w->off + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
        w->pos = w->off;
        w->staged = 0;
    }
    *name = w->name;
    *offset = w->off;
    return ORR_OK;
}

/* Write `len` staged bytes (a multiple of DIRECT_ALIGN) at w->pos. */
static int stage_out(struct orri_pseg_writer *w, size_t len,
                     struct orr_error *e)
{
    size_t done = 0;
    while (done < len) {
        ssize_t k = pwrite(w->dfd, w->stage + done, len - done,
                           (off_t)(w->pos + (int64_t)done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (size_t)k % DIRECT_ALIGN)
            return write_fail(w, k < 0 ? errno : EIO, e);
        done += (size_t)k;
    }
    w->pos += (int64_t)len;
    w->staged = 0;
    return ORR_OK;
}

int orri_pseg_writev(struct orri_pseg_writer *w, struct iovec *iov, int n,
                     struct orr_error *e)
{
    if (w->fd < 0)
        return orr_fail(e, ORR_EIO, "prediction segment: no file open");
    for (int i = 0; w->in_direct && i < n; i++) {
        int rc = orri_pseg_put(w, NULL, iov[i].iov_base, iov[i].iov_len, e);
        if (rc)
            return rc;
    }
    while (!w->in_direct && n > 0) {
        ssize_t k = pwritev(w->fd, iov, n, (off_t)w->off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return write_fail(w, k < 0 ? errno : EIO, e);
        w->off += (int64_t)k;
        /* A short write: go on from where it stopped. */
        size_t left = (size_t)k;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return ORR_OK;
}

int orri_pseg_staged(const struct orri_pseg_writer *w)
{
    return w->fd >= 0 && w->in_direct;
}

int orri_pseg_put(struct orri_pseg_writer *w, struct orri_pseg_hash *h,
                  const void *data, size_t len, struct orr_error *e)
{
    if (!orri_pseg_staged(w))
        return orr_fail(e, ORR_EIO, "prediction segment: no staged batch");
    const unsigned char *p = data;
    while (len) {
        size_t k = STAGE - w->staged < len ? STAGE - w->staged : len;
        if (h)
            orri_pseg_hash_copy(h, w->stage + w->staged, p, k);
        else
            memcpy(w->stage + w->staged, p, k);
        w->staged += k;
        w->off += (int64_t)k;
        p += k;
        len -= k;
        if (w->staged == STAGE) {
            int rc = stage_out(w, STAGE, e);
            if (rc)
                return rc;
        }
    }
    return ORR_OK;
}

int orri_pseg_end(struct orri_pseg_writer *w, struct orr_error *e)
{
    if (w->fd < 0)
        return orr_fail(e, ORR_EIO, "prediction segment: no file open");
    int rc = ORR_OK;
    if (w->in_direct && w->staged) {
        size_t len = (w->staged + DIRECT_ALIGN - 1) / DIRECT_ALIGN *
                     DIRECT_ALIGN;
        memset(w->stage + w->staged, 0, len - w->staged);
        rc = stage_out(w, len, e);
    }
    w->in_direct = 0;
    return rc;
}

int orri_pseg_append(struct orri_pseg_writer *w, const void *data,
                     size_t len, const char **name, int64_t *offset,
                     struct orr_error *e)
{
    int rc = orri_pseg_reserve(w, len, name, offset, e);
    struct iovec iov = {(void *)(uintptr_t)data, len};
    if (!rc)
        rc = orri_pseg_writev(w, &iov, 1, e);
    return rc ? rc : orri_pseg_end(w, e);
}

/* ---- stream mode (chunks of layout 1) ----------------------------------- */

/* The ring's bytes of stream range [a, b) (b - a <= size) to file offset
 * a - w->base through `fd`: one pwritev() of one piece, or two where the
 * ring wraps, again from where a short write stopped (with O_DIRECT a
 * short write must end on a block: the rest would be misaligned).
 * -1 with *err set on failure. */
static int ring_write(const struct orri_pseg_writer *w, int fd, int direct,
                      const unsigned char *ring, size_t size, uint64_t a,
                      uint64_t b, int *err)
{
    while (a < b) {
        size_t at = (size_t)(a % size), len = (size_t)(b - a);
        size_t first = size - at < len ? size - at : len;
        struct iovec iov[2] = {
            {(void *)(uintptr_t)(ring + at), first},
            {(void *)(uintptr_t)ring, len - first}};
        ssize_t k = pwritev(fd, iov, len > first ? 2 : 1,
                            (off_t)(a - w->base));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (direct && (size_t)k % ORRI_PSEG_ALIGN)) {
            *err = k < 0 ? errno : EIO;
            return -1;
        }
        a += (uint64_t)k;
    }
    return 0;
}

int orri_pseg_stream_write(struct orri_pseg_writer *w,
                           const unsigned char *ring, size_t size,
                           uint64_t from, uint64_t to, const char **name,
                           int64_t *offset, struct orr_error *e)
{
    *name = NULL;
    *offset = 0;
    if (w->mode == MODE_BATCH)
        return orr_fail(e, ORR_EINVAL, "prediction segment writer of %s: "
                        "a batch writer cannot mirror a stream", w->dir);
    uint64_t a = from / ORRI_PSEG_ALIGN * ORRI_PSEG_ALIGN;
    if (!ring || !size || size % ORRI_PSEG_ALIGN ||
        (uintptr_t)ring % ORRI_PSEG_ALIGN || from > to || to - a > size)
        return orr_fail(e, ORR_EINVAL, "prediction segment stream: range "
                        "[%" PRIu64 ", %" PRIu64 ") of a ring of %zu bytes"
                        " (the ring %d-aligned and a multiple of it, the "
                        "range from its block's start within the ring)",
                        from, to, size, ORRI_PSEG_ALIGN);
    if (w->fd >= 0 && from < w->base + (uint64_t)w->off)
        return orr_fail(e, ORR_EINVAL, "prediction segment stream: range "
                        "[%" PRIu64 ", %" PRIu64 ") goes back before %"
                        PRIu64 ", already written to %s/%s", from, to,
                        w->base + (uint64_t)w->off, w->dir, w->name);
    w->mode = MODE_STREAM;
    int64_t limit = orri_pseg_test_limit > 0 ? orri_pseg_test_limit
                                             : ORRI_PSEG_LIMIT;
    if (w->fd >= 0 && w->off > 0 && to - w->base > (uint64_t)limit)
        close_file(w);
    if (w->fd < 0) {
        int rc = open_new(w, e);
        if (rc)
            return rc;
        w->base = a;
    }
    int err = 0;
    if (w->direct && w->dfd >= 0) {
        uint64_t b = (to + ORRI_PSEG_ALIGN - 1) / ORRI_PSEG_ALIGN *
                     ORRI_PSEG_ALIGN;
        if (!ring_write(w, w->dfd, 1, ring, size, a, b, &err))
            goto done;
        if (err != EINVAL)
            goto fail;
        /* The file system refuses O_DIRECT (alignment is ours): this
         * range and the next ones through the page cache, same file. */
        w->direct = 0;
        close(w->dfd);
        w->dfd = -1;
    }
    if (ring_write(w, w->fd, 0, ring, size, from, to, &err))
        goto fail;
done:
    w->off = (int64_t)(to - w->base);
    *name = w->name;
    *offset = (int64_t)(from - w->base);
    return ORR_OK;
fail:
    /* What was written stays, unreferenced; the next call opens a new
     * file. */
    abandon(w);
    return orr_fail(e, ORR_EIO, "writing prediction segment %s/%s at "
                    "offset %" PRIu64 ": %s", w->dir, w->name,
                    from - w->base, strerror(err));
}

void orri_pseg_fold(struct orri_pseg_hash *h, uint64_t record_check)
{
    unsigned char le[8];
    for (int k = 0; k < 8; k++)
        le[k] = (unsigned char)(record_check >> (8 * k));
    orri_pseg_hash_update(h, le, 8);
}

/* ---- reader ------------------------------------------------------------- */

struct orri_pseg_reader {
    char          *dir;
    int            dfd;         /* -1: not open (yet)                     */
    int            fd;          /* of `name`, -1: none                    */
    char           name[ORRI_PSEG_NAME_MAX + 1];
    unsigned char *buf;
    size_t         cap;
};

int orri_pseg_reader_new(const char *dir, struct orri_pseg_reader **out,
                         struct orr_error *e)
{
    *out = NULL;
    struct orri_pseg_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    r->dfd = r->fd = -1;
    *out = r;
    return ORR_OK;
}

void orri_pseg_reader_free(struct orri_pseg_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->dfd >= 0)
        close(r->dfd);
    free(r->buf);
    free(r->dir);
    free(r);
}

/* Make `name` the open file; ORR_ECORRUPT when it cannot be opened. */
static int open_seg(struct orri_pseg_reader *r, const char *name,
                    struct orr_error *e)
{
    if (r->fd >= 0 && !strcmp(r->name, name))
        return ORR_OK;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->name[0] = '\0';
    if (r->dfd < 0)
        r->dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* O_NOFOLLOW: a link placed there does not lead out of the
     * directory either. */
    int fd = r->dfd < 0 ? -1
           : openat(r->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return orr_fail(e, ORR_ECORRUPT, "%s/%s: %s", r->dir, name,
                        strerror(errno));
    r->fd = fd;
    snprintf(r->name, sizeof r->name, "%s", name);
    return ORR_OK;
}

/* Read `len` bytes of `name` at `offset` into r->buf. */
static int read_bytes(struct orri_pseg_reader *r, const char *name,
                      int64_t offset, size_t len, struct orr_error *e)
{
    if (!orri_pseg_name_ok(name))
        return orr_fail(e, ORR_ECORRUPT, "segment name '%.80s' refused "
                        "(not a plain file name of %s)", name ? name : "",
                        r->dir);
    if (offset < 0)
        return orr_fail(e, ORR_ECORRUPT, "%s/%s: negative offset", r->dir,
                        name);
    int rc = open_seg(r, name, e);
    if (rc)
        return rc;
    if (len > r->cap) {
        size_t c = r->cap ? r->cap : 65536;
        while (c < len)
            c *= 2;
        unsigned char *b = malloc(c);
        if (!b)
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        free(r->buf);
        r->buf = b;
        r->cap = c;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t k = pread(r->fd, r->buf + done, len - done,
                          (off_t)offset + (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return orr_fail(e, ORR_ECORRUPT, "%s/%s at offset %" PRId64
                            ": %s", r->dir, name, offset, strerror(errno));
        if (k == 0)
            return orr_fail(e, ORR_ECORRUPT, "%s/%s at offset %" PRId64
                            ": truncated (%zu of %zu bytes)", r->dir, name,
                            offset, done, len);
        done += (size_t)k;
    }
    return ORR_OK;
}

int orri_pseg_read(struct orri_pseg_reader *r, const char *name,
                   int64_t offset, size_t len, uint64_t check,
                   const unsigned char **data, struct orr_error *e)
{
    *data = NULL;
    int rc = read_bytes(r, name, offset, len, e);
    if (rc)
        return rc;
    if (orri_pseg_check(r->buf, len) != check)
        return orr_fail(e, ORR_ECORRUPT, "%s/%s at offset %" PRId64
                        ": checksum mismatch (%zu bytes)", r->dir, name,
                        offset, len);
    *data = r->buf ? r->buf : (const unsigned char *)"";
    return ORR_OK;
}

int orri_pseg_read_records(struct orri_pseg_reader *r, const char *name,
                           int64_t offset, size_t len, uint64_t check,
                           const size_t *rec_len, size_t n,
                           const unsigned char **data, struct orr_error *e)
{
    *data = NULL;
    size_t sum = 0;
    for (size_t i = 0; i < n && sum <= len; i++)
        sum = rec_len[i] <= len - sum ? sum + rec_len[i] : len + 1;
    if (sum != len)
        return orr_fail(e, ORR_ECORRUPT, "%s/%.80s at offset %" PRId64
                        ": %zu records do not make %zu bytes", r->dir,
                        name ? name : "", offset, n, len);
    int rc = read_bytes(r, name, offset, len, e);
    if (rc)
        return rc;
    struct orri_pseg_hash h;
    orri_pseg_hash_init(&h);
    const unsigned char *p = r->buf ? r->buf : (const unsigned char *)"";
    for (size_t i = 0; i < n; p += rec_len[i], i++)
        orri_pseg_fold(&h, orri_pseg_record_check(p, rec_len[i]));
    if (orri_pseg_hash_final(&h) != check)
        return orr_fail(e, ORR_ECORRUPT, "%s/%s at offset %" PRId64
                        ": checksum mismatch (%zu bytes, %zu records)",
                        r->dir, name, offset, len, n);
    *data = r->buf ? r->buf : (const unsigned char *)"";
    return ORR_OK;
}
