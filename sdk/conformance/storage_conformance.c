/*
 * storage_conformance.c - the storage conformance suite (see
 * orrery/conformance/storage.h).
 *
 * Self-contained (libc and pthreads) so a third party can compile it into
 * their tests from share/orrery/conformance/.  It carries its own SHA-256
 * so digests are checked independently of the backend under test.
 */
#include <orrery/conformance/storage.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
#define MAX_STORED 256
#define MAX_THREADS 64

/* ---- SHA-256 (FIPS 180-4), small and portable --------------------------- */

struct sha256 {
    uint32_t      h[8];
    uint64_t      len;
    unsigned char buf[64];
    size_t        fill;
};

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha_block(struct sha256 *s, const unsigned char *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha_k[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof *v);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->len = 0;
    s->fill = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->len += n;
    while (n) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->buf + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            sha_block(s, s->buf);
            s->fill = 0;
        }
    }
}

static void sha_final_hex(struct sha256 *s, char out[ORR_DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha_update(s, &pad, 1);
    while (s->fill != 56)
        sha_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, len, 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = hex[(s->h[i] >> (28 - 4 * j)) & 15];
    out[ORR_DIGEST_HEX_LEN] = '\0';
}

void orr_conformance_sha256_hex(const void *data, size_t len,
                                char out[ORR_DIGEST_HEX_LEN + 1])
{
    struct sha256 s;
    sha_init(&s);
    sha_update(&s, data, len);
    sha_final_hex(&s, out);
}

/* ---- the suite's state and reporting ------------------------------------ */

struct suite {
    const struct orr_host                *h;
    const struct orr_storage_ops         *ops;
    const struct orr_cfg                 *cfg;
    struct orr_conformance_storage_opts   opt;
    FILE                                 *report;
    void                                 *self;
    char                                  scratch[PATH_MAX];
    uint64_t                              nonce;
    int                                   passed, failed, skipped;
    const char                           *check;
    int                                   check_failures;
    const char                           *skip_reason;
    pthread_mutex_t                       lock;   /* report + stored      */
    char    stored[MAX_STORED][ORR_DIGEST_HEX_LEN + 1];
    size_t  n_stored;
};

static void expect_at(struct suite *s, int ok, int line, const char *fmt, ...)
    ORR_PRINTF(4, 5);
static void expect_at(struct suite *s, int ok, int line, const char *fmt, ...)
{
    if (ok)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->report) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fprintf(s->report, "%s storage.%s: %s (line %d)\n",
                s->check_failures ? "    " : "FAIL", s->check, msg, line);
    }
    s->check_failures++;
    pthread_mutex_unlock(&s->lock);
}

#define EXPECT(s, cond, ...) expect_at((s), !!(cond), __LINE__, __VA_ARGS__)

/* The call `what` returned `got` (error `e`); `want` was expected. */
#define EXPECT_RC(s, got, want, e, what)                                     \
    do {                                                                     \
        int got_ = (got), want_ = (want);                                    \
        EXPECT((s), got_ == want_, "%s: status %d (%s) \"%s\", expected %d " \
               "(%s)", (what), got_, (s)->h->strerror(got_),                 \
               got_ ? (e)->msg : "", want_, (s)->h->strerror(want_));        \
    } while (0)

static void skip(struct suite *s, const char *why)
{
    s->skip_reason = why;
}

/* Remember a blob the suite stored, to remove it at the end. */
static void remember(struct suite *s, const char *digest)
{
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->n_stored && strcmp(s->stored[i], digest))
        i++;
    if (i == s->n_stored && s->n_stored < MAX_STORED)
        memcpy(s->stored[s->n_stored++], digest, ORR_DIGEST_HEX_LEN + 1);
    pthread_mutex_unlock(&s->lock);
}

/* ---- data sources and sinks ---------------------------------------------- */

/* Bytes from memory, at most `step` per call (exercises short reads). */
struct mem_src {
    const unsigned char *p;
    size_t len, pos, step;
    size_t fail_at;         /* fail once pos reaches this (SIZE_MAX: never) */
    const struct orr_host *h;
};

static int64_t mem_read(void *ctx, void *buf, size_t cap,
                        struct orr_error *e)
{
    struct mem_src *m = ctx;
    if (m->pos >= m->fail_at) {
        m->h->fail(e, ORR_EIO, "synthetic read failure at byte %zu", m->pos);
        return -1;
    }
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (n > m->step)
        n = m->step;
    if (m->fail_at - m->pos < n)
        n = m->fail_at - m->pos;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

/* Bytes into a growing buffer. */
struct mem_dst {
    unsigned char *p;
    size_t len, cap, calls;
    int fail_with;          /* non-zero: fail the first call with this      */
    const struct orr_host *h;
};

static int mem_write(void *ctx, const void *buf, size_t len,
                     struct orr_error *e)
{
    struct mem_dst *m = ctx;
    m->calls++;
    if (m->fail_with)
        return m->h ? m->h->fail(e, m->fail_with, "synthetic write failure")
                    : m->fail_with;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        unsigned char *p = realloc(m->p, cap);
        if (!p)
            return m->h ? m->h->fail(e, ORR_ENOMEM, "out of memory")
                        : ORR_ENOMEM;
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return ORR_OK;
}

static int put_mem(struct suite *s, void *self, const void *p, size_t len,
                   size_t step, int64_t hint, char d[ORR_DIGEST_HEX_LEN + 1],
                   struct orr_error *e)
{
    struct mem_src src = {p, len, 0, step ? step : SIZE_MAX, SIZE_MAX, s->h};
    int rc = s->ops->put(self, mem_read, &src, hint, d, e);
    if (rc == ORR_OK)
        remember(s, d);
    return rc;
}

/* Get `d` and compare with the expected bytes. */
static void expect_content(struct suite *s, void *self, const char *d,
                           const void *want, size_t len, const char *what)
{
    struct orr_error e = {0};
    struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
    int rc = s->ops->get(self, d, mem_write, &dst, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, what);
    if (rc == ORR_OK) {
        EXPECT(s, dst.len == len, "%s: got %zu bytes, expected %zu", what,
               dst.len, len);
        EXPECT(s, dst.len != len || !len || !memcmp(dst.p, want, len),
               "%s: bytes differ from what was stored", what);
    }
    free(dst.p);
}

static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Bytes that no other run or check produces: seeded by the nonce. */
static unsigned char *unique_bytes(struct suite *s, unsigned tag, size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    uint64_t st = s->nonce ^ (0x9e3779b97f4a7c15ull * (tag + 1));
    if (!st)
        st = 1;
    for (size_t i = 0; p && i < n; i += 8) {
        uint64_t v = rng_next(&st);
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
    return p;
}

/* A valid digest of bytes never stored. */
static void absent_digest(struct suite *s, unsigned tag,
                          char out[ORR_DIGEST_HEX_LEN + 1])
{
    char text[96];
    snprintf(text, sizeof text, "orrery conformance absent %llu %u",
             (unsigned long long)s->nonce, tag);
    orr_conformance_sha256_hex(text, strlen(text), out);
}

struct counter {
    size_t      calls;
    int         stop_with;
    const char *prefix;
    const char *look_for[4];
    int         found[4];
    uint64_t    size_of[4];
    int         bad_digest;
};

static int count_blob(void *ctx, const struct orr_blob_info *info)
{
    struct counter *c = ctx;
    c->calls++;
    size_t plen = c->prefix ? strlen(c->prefix) : 0;
    if (strlen(info->digest) != ORR_DIGEST_HEX_LEN ||
        strncmp(info->digest, c->prefix ? c->prefix : "", plen))
        c->bad_digest = 1;
    for (int i = 0; i < 4; i++) {
        if (c->look_for[i] && !strcmp(c->look_for[i], info->digest)) {
            c->found[i]++;
            c->size_of[i] = info->size;
        }
    }
    return c->stop_with;
}

/* ---- scratch files --------------------------------------------------------- */

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return (fclose(f) != 0 || w != n) ? -1 : 0;
}

/* The whole file, or NULL (and *n = 0) if it cannot be read. */
static unsigned char *read_file(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct mem_dst d = {NULL, 0, 0, 0, 0, NULL};
    unsigned char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        if (mem_write(&d, buf, r, NULL) != ORR_OK)
            break;
    fclose(f);
    if (!d.p)
        d.p = malloc(1);
    *n = d.len;
    return d.p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
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

static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            (void)unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
}

static void scratch_path(struct suite *s, const char *name, char *out,
                         size_t cap)
{
    snprintf(out, cap, "%s/%s", s->scratch, name);
}

/* ---- the checks -------------------------------------------------------------- */

static const struct {
    const char *data;
    const char *hex;
} vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

static void check_vectors(struct suite *s)
{
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const char *data = vectors[i].data;
        size_t len = strlen(data);
        char d[ORR_DIGEST_HEX_LEN + 1], mine[ORR_DIGEST_HEX_LEN + 1];
        struct orr_error e = {0};
        orr_conformance_sha256_hex(data, len, mine);
        EXPECT(s, !strcmp(mine, vectors[i].hex),
               "suite self-test: SHA-256 of \"%.8s...\" is %s", data, mine);
        /* One byte per read: the backend must gather short reads. */
        int rc = put_mem(s, s->self, data, len, 1, (int64_t)len, d, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "put");
        if (rc)
            continue;
        EXPECT(s, !strcmp(d, vectors[i].hex), "put \"%.8s...\": digest %s, "
               "expected %s", data, d, vectors[i].hex);
        expect_content(s, s->self, d, data, len, "get");
        struct orr_blob_info info;
        rc = s->ops->stat(s->self, d, &info, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "stat");
        EXPECT(s, rc || info.size == len, "stat size %llu, expected %zu",
               (unsigned long long)info.size, len);
    }
}

static void check_empty(struct suite *s)
{
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    int rc = put_mem(s, s->self, "", 0, 0, 0, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put of no bytes");
    if (rc)
        return;
    EXPECT(s, !strcmp(d, vectors[0].hex), "empty blob digest %s", d);
    expect_content(s, s->self, d, "", 0, "get of the empty blob");
    rc = put_mem(s, s->self, "", 0, 0, -1, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put of no bytes, size unknown");
}

static void check_million_a(struct suite *s)
{
    size_t n = 1000000;
    unsigned char *p = malloc(n);
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    memset(p, 'a', n);
    int rc = put_mem(s, s->self, p, n, 1000, -1, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put of 10^6 'a' in 1000-byte reads");
    if (rc == ORR_OK) {
        EXPECT(s, !strcmp(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a4972"
                             "00e046d39ccc7112cd0"),
               "digest of 10^6 'a' is %s", d);
        expect_content(s, s->self, d, p, n, "get");
    }
    free(p);
}

static void check_multi_chunk(struct suite *s)
{
    size_t n = 5 * MIB + 3;
    unsigned char *p = unique_bytes(s, 1, n);
    char d[ORR_DIGEST_HEX_LEN + 1], d2[ORR_DIGEST_HEX_LEN + 1],
        want[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    orr_conformance_sha256_hex(p, n, want);
    int rc = put_mem(s, s->self, p, n, 333333, (int64_t)n, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put of 5 MiB + 3 in odd-sized reads");
    if (rc == ORR_OK) {
        EXPECT(s, !strcmp(d, want), "digest %s, expected %s", d, want);
        expect_content(s, s->self, d, p, n, "get of 5 MiB + 3");
        struct orr_blob_info info;
        rc = s->ops->stat(s->self, d, &info, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "stat");
        EXPECT(s, rc || info.size == n, "stat size %llu, expected %zu",
               (unsigned long long)info.size, n);
    }
    /* Other chunking, same bytes: same blob. */
    rc = put_mem(s, s->self, p, n, 0, -1, d2, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put in reads as large as allowed");
    EXPECT(s, rc || !strcmp(d2, want), "digest %s, expected %s", d2, want);
    free(p);
}

static void check_size_hint(struct suite *s)
{
    size_t n = 70001;
    unsigned char *p = unique_bytes(s, 2, n);
    char want[ORR_DIGEST_HEX_LEN + 1];
    const int64_t hints[] = {-1, 0, 1, (int64_t)n, (int64_t)1 << 40};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    orr_conformance_sha256_hex(p, n, want);
    for (size_t i = 0; i < sizeof hints / sizeof *hints; i++) {
        char d[ORR_DIGEST_HEX_LEN + 1];
        struct orr_error e = {0};
        int rc = put_mem(s, s->self, p, n, 4096, hints[i], d, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "put with a wrong size_hint");
        EXPECT(s, rc || !strcmp(d, want), "size_hint %lld: digest %s",
               (long long)hints[i], d);
    }
    expect_content(s, s->self, want, p, n, "get");
    free(p);
}

static void check_dedup(struct suite *s)
{
    size_t n = 100000;
    unsigned char *p = unique_bytes(s, 3, n);
    char d1[ORR_DIGEST_HEX_LEN + 1], d2[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    int rc1 = put_mem(s, s->self, p, n, 0, (int64_t)n, d1, &e);
    EXPECT_RC(s, rc1, ORR_OK, &e, "first put");
    int rc2 = put_mem(s, s->self, p, n, 0, (int64_t)n, d2, &e);
    EXPECT_RC(s, rc2, ORR_OK, &e, "second put of the same bytes");
    if (!rc1 && !rc2) {
        EXPECT(s, !strcmp(d1, d2), "same bytes, digests %s and %s", d1, d2);
        struct counter c = {0};
        c.prefix = d1;
        c.look_for[0] = d1;
        int rc = s->ops->list(s->self, d1, count_blob, &c, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "list by the full digest");
        EXPECT(s, c.calls == 1 && c.found[0] == 1,
               "list by the full digest: %zu blobs, expected exactly 1",
               c.calls);
        EXPECT(s, c.size_of[0] == n, "listed size %llu, expected %zu",
               (unsigned long long)c.size_of[0], n);
    }
    free(p);
}

static void check_stat(struct suite *s)
{
    size_t n = 12345;
    unsigned char *p = unique_bytes(s, 4, n);
    char d[ORR_DIGEST_HEX_LEN + 1], absent[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    struct orr_blob_info info;
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    int rc = put_mem(s, s->self, p, n, 0, (int64_t)n, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put");
    if (rc == ORR_OK) {
        memset(&info, 0x5a, sizeof info);
        rc = s->ops->stat(s->self, d, &info, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "stat");
        if (rc == ORR_OK) {
            EXPECT(s, !memcmp(info.digest, d, sizeof info.digest),
                   "stat digest field is not the digest");
            EXPECT(s, info.size == n, "stat size %llu, expected %zu",
                   (unsigned long long)info.size, n);
            int64_t now = (int64_t)time(NULL);
            EXPECT(s, info.mtime == 0 ||
                          (info.mtime > now - 86400 &&
                           info.mtime < now + 86400),
                   "stat mtime %lld is neither 0 nor about now",
                   (long long)info.mtime);
        }
    }
    absent_digest(s, 4, absent);
    rc = s->ops->stat(s->self, absent, &info, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "stat of an absent blob");
    EXPECT(s, rc != ORR_ENOTFOUND || strstr(e.msg, absent),
           "the error \"%s\" does not name the digest", e.msg);
    free(p);
}

static void check_list(struct suite *s)
{
    char d[3][ORR_DIGEST_HEX_LEN + 1];
    size_t sizes[3] = {10, 20000, 300};
    struct orr_error e = {0};
    for (int i = 0; i < 3; i++) {
        unsigned char *p = unique_bytes(s, 10 + (unsigned)i, sizes[i]);
        int rc = p ? put_mem(s, s->self, p, sizes[i], 0, -1, d[i], &e)
                   : ORR_ENOMEM;
        free(p);
        EXPECT_RC(s, rc, ORR_OK, &e, "put");
        if (rc)
            return;
    }
    /* Every prefix length, from none to the whole digest. */
    const size_t lens[] = {0, 1, 2, 3, 7, ORR_DIGEST_HEX_LEN};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        for (int i = 0; i < 3; i++) {
            char prefix[ORR_DIGEST_HEX_LEN + 1];
            memcpy(prefix, d[i], lens[l]);
            prefix[lens[l]] = '\0';
            struct counter c = {0};
            c.prefix = prefix;
            c.look_for[0] = d[i];
            int rc = s->ops->list(s->self, prefix, count_blob, &c, &e);
            EXPECT_RC(s, rc, ORR_OK, &e, "list");
            EXPECT(s, c.found[0] == 1, "list \"%s\": blob %s seen %d times",
                   prefix, d[i], c.found[0]);
            EXPECT(s, c.size_of[0] == sizes[i],
                   "list \"%s\": size %llu, expected %zu", prefix,
                   (unsigned long long)c.size_of[0], sizes[i]);
            EXPECT(s, !c.bad_digest,
                   "list \"%s\" reported a digest without that prefix",
                   prefix);
            if (lens[l] == ORR_DIGEST_HEX_LEN)
                EXPECT(s, c.calls == 1, "list by a full digest: %zu calls",
                       c.calls);
        }
    }
    char absent[ORR_DIGEST_HEX_LEN + 1];
    absent_digest(s, 10, absent);
    struct counter c = {0};
    c.prefix = absent;
    int rc = s->ops->list(s->self, absent, count_blob, &c, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "list of an absent digest");
    EXPECT(s, c.calls == 0, "list of an absent digest: %zu calls", c.calls);
    /* A non-zero return from the callback stops the listing. */
    struct counter stop = {0};
    stop.stop_with = 7;
    rc = s->ops->list(s->self, "", count_blob, &stop, &e);
    EXPECT(s, rc == 7, "list whose callback returns 7 returned %d", rc);
    EXPECT(s, stop.calls == 1, "list went on after the callback stopped it "
           "(%zu calls)", stop.calls);
}

static void check_remove(struct suite *s)
{
    size_t n = 4321;
    unsigned char *p = unique_bytes(s, 5, n);
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    struct orr_blob_info info;
    int rc = p ? put_mem(s, s->self, p, n, 0, -1, d, &e) : ORR_ENOMEM;
    free(p);
    EXPECT_RC(s, rc, ORR_OK, &e, "put");
    if (rc)
        return;
    rc = s->ops->remove(s->self, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "remove");
    struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
    rc = s->ops->get(s->self, d, mem_write, &dst, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "get after remove");
    EXPECT(s, dst.calls == 0, "get after remove wrote %zu bytes", dst.len);
    free(dst.p);
    rc = s->ops->stat(s->self, d, &info, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "stat after remove");
    rc = s->ops->remove(s->self, d, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "second remove");
    EXPECT(s, rc != ORR_ENOTFOUND || strstr(e.msg, d),
           "the error \"%s\" does not name the digest", e.msg);
    struct counter c = {0};
    c.prefix = d;
    rc = s->ops->list(s->self, d, count_blob, &c, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "list after remove");
    EXPECT(s, c.calls == 0, "list still shows a removed blob");
}

static void check_absent(struct suite *s)
{
    char absent[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    absent_digest(s, 6, absent);
    struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
    int rc = s->ops->get(s->self, absent, mem_write, &dst, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "get of an absent blob");
    EXPECT(s, rc != ORR_ENOTFOUND || strstr(e.msg, absent),
           "the error \"%s\" does not name the digest", e.msg);
    EXPECT(s, dst.calls == 0, "get of an absent blob called the writer");
    free(dst.p);
    rc = s->ops->remove(s->self, absent, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "remove of an absent blob");
}

static int printable(const char *k)
{
    for (; *k; k++)
        if ((unsigned char)*k < 0x20 || (unsigned char)*k >= 0x7f)
            return 0;
    return 1;
}

static void check_invalid_keys(struct suite *s)
{
    const char *h64 = vectors[1].hex;
    char upper[ORR_DIGEST_HEX_LEN + 1], short63[ORR_DIGEST_HEX_LEN],
        long65[ORR_DIGEST_HEX_LEN + 2], slash[ORR_DIGEST_HEX_LEN + 1],
        dots[ORR_DIGEST_HEX_LEN + 1], nl[ORR_DIGEST_HEX_LEN + 2],
        space[ORR_DIGEST_HEX_LEN + 1], nonhex[ORR_DIGEST_HEX_LEN + 1],
        nul[ORR_DIGEST_HEX_LEN + 2];
    for (int i = 0; i < ORR_DIGEST_HEX_LEN; i++)
        upper[i] = (h64[i] >= 'a' && h64[i] <= 'f') ? (char)(h64[i] - 32)
                                                   : h64[i];
    upper[ORR_DIGEST_HEX_LEN] = '\0';
    snprintf(short63, sizeof short63, "%.63s", h64);
    snprintf(long65, sizeof long65, "%s0", h64);
    snprintf(slash, sizeof slash, "%.2s/%.61s", h64, h64 + 2);
    snprintf(dots, sizeof dots, "../%.61s", h64 + 3);
    snprintf(nl, sizeof nl, "%.63s\n", h64);
    snprintf(space, sizeof space, " %.63s", h64 + 1);
    snprintf(nonhex, sizeof nonhex, "%.63sg", h64);
    /* An embedded NUL ends a C string: the key seen is 32 digits. */
    memcpy(nul, h64, ORR_DIGEST_HEX_LEN + 1);
    nul[32] = '\0';
    const char *keys[] = {"",      "abc",  "../x",  "/etc/passwd",
                          "../../../../../../../../etc/passwd",
                          upper,   short63, long65, slash, dots, nl, space,
                          nonhex,  nul};
    struct orr_error e = {0};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *k = keys[i];
        int named = printable(k);
        struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
        struct orr_blob_info info;
        int rc = s->ops->get(s->self, k, mem_write, &dst, &e);
        EXPECT(s, rc == ORR_EINVAL, "get \"%s\": status %d (%s), expected "
               "ORR_EINVAL", k, rc, s->h->strerror(rc));
        EXPECT(s, rc != ORR_EINVAL || !named || strstr(e.msg, k),
               "get: the error \"%s\" does not name the key \"%s\"", e.msg,
               k);
        EXPECT(s, dst.calls == 0, "get of an invalid key wrote bytes");
        free(dst.p);
        rc = s->ops->stat(s->self, k, &info, &e);
        EXPECT(s, rc == ORR_EINVAL, "stat \"%s\": status %d, expected "
               "ORR_EINVAL", k, rc);
        EXPECT(s, rc != ORR_EINVAL || !named || strstr(e.msg, k),
               "stat: the error \"%s\" does not name the key \"%s\"", e.msg,
               k);
        rc = s->ops->remove(s->self, k, &e);
        EXPECT(s, rc == ORR_EINVAL, "remove \"%s\": status %d, expected "
               "ORR_EINVAL", k, rc);
        if (s->ops->get_file && s->scratch[0]) {
            char out[PATH_MAX + 16];
            scratch_path(s, "invalid-key-out", out, sizeof out);
            rc = s->ops->get_file(s->self, k, out, &e);
            EXPECT(s, rc == ORR_EINVAL, "get_file \"%s\": status %d, "
                   "expected ORR_EINVAL", k, rc);
            EXPECT(s, !exists(out), "get_file of an invalid key created %s",
                   out);
        }
    }
    const char *prefixes[] = {"../", "/", "..", "AB", "g", "a/b", " ", "a\n",
                              "ab*", long65};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        struct counter c = {0};
        int rc = s->ops->list(s->self, prefixes[i], count_blob, &c, &e);
        EXPECT(s, rc == ORR_EINVAL, "list \"%s\": status %d, expected "
               "ORR_EINVAL", prefixes[i], rc);
        EXPECT(s, rc != ORR_EINVAL || !printable(prefixes[i]) ||
                      strstr(e.msg, prefixes[i]),
               "list: the error \"%s\" does not name the prefix \"%s\"",
               e.msg, prefixes[i]);
        EXPECT(s, c.calls == 0, "list of an invalid prefix called back");
    }
}

static void check_read_failure(struct suite *s)
{
    size_t n = 3 * MIB;
    unsigned char *p = unique_bytes(s, 7, n);
    const size_t fail_at[] = {0, 200 * 1024, 2 * MIB + 1};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < sizeof fail_at / sizeof *fail_at; i++) {
        char d[ORR_DIGEST_HEX_LEN + 1], part[ORR_DIGEST_HEX_LEN + 1];
        struct orr_error e = {0};
        struct orr_blob_info info;
        struct mem_src src = {p, n, 0, 64 * 1024, fail_at[i], s->h};
        int rc = s->ops->put(s->self, mem_read, &src, (int64_t)n, d, &e);
        EXPECT(s, rc == ORR_EIO, "put whose reader fails at byte %zu: "
               "status %d (%s), expected the reader's ORR_EIO", fail_at[i],
               rc, s->h->strerror(rc));
        EXPECT(s, rc == ORR_OK || strstr(e.msg, "synthetic read failure"),
               "put: the reader's message was lost: \"%s\"", e.msg);
        /* Nothing of the partial data may have become a blob. */
        orr_conformance_sha256_hex(p, fail_at[i], part);
        if (fail_at[i]) {
            rc = s->ops->stat(s->self, part, &info, &e);
            EXPECT(s, rc == ORR_ENOTFOUND, "the bytes read before the "
                   "failure were stored as %s", part);
        }
        orr_conformance_sha256_hex(p, n, part);
        rc = s->ops->stat(s->self, part, &info, &e);
        EXPECT(s, rc == ORR_ENOTFOUND, "a failed put stored the whole blob");
    }
    free(p);
}

static void check_write_failure(struct suite *s)
{
    size_t n = 3 * MIB;
    unsigned char *p = unique_bytes(s, 8, n);
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    int rc = p ? put_mem(s, s->self, p, n, 0, -1, d, &e) : ORR_ENOMEM;
    EXPECT_RC(s, rc, ORR_OK, &e, "put");
    if (rc == ORR_OK) {
        struct mem_dst dst = {NULL, 0, 0, 0, ORR_ECANCELED, s->h};
        rc = s->ops->get(s->self, d, mem_write, &dst, &e);
        EXPECT(s, rc == ORR_ECANCELED, "get whose writer fails: status %d "
               "(%s), expected the writer's ORR_ECANCELED", rc,
               s->h->strerror(rc));
        EXPECT(s, dst.calls == 1, "get went on writing after the writer "
               "failed (%zu calls)", dst.calls);
        free(dst.p);
        expect_content(s, s->self, d, p, n, "get after a failed get");
    }
    free(p);
}

static void check_put_file(struct suite *s)
{
    if (!s->ops->put_file) {
        skip(s, "no put_file (optional)");
        return;
    }
    if (!s->scratch[0]) {
        skip(s, "no scratch directory");
        return;
    }
    size_t n = 3 * MIB + 1;
    unsigned char *p = unique_bytes(s, 9, n);
    char path[PATH_MAX + 16], d[ORR_DIGEST_HEX_LEN + 1],
        want[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (!p) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    orr_conformance_sha256_hex(p, n, want);
    scratch_path(s, "put-file-src", path, sizeof path);
    EXPECT(s, write_file(path, p, n) == 0, "cannot write %s", path);
    int rc = s->ops->put_file(s->self, path, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put_file");
    if (rc == ORR_OK) {
        remember(s, d);
        EXPECT(s, !strcmp(d, want), "put_file digest %s, expected %s", d,
               want);
        expect_content(s, s->self, d, p, n, "get after put_file");
    }
    unlink(path);
    scratch_path(s, "no-such-file", path, sizeof path);
    rc = s->ops->put_file(s->self, path, d, &e);
    EXPECT(s, rc != ORR_OK, "put_file of a missing file succeeded");
    EXPECT(s, rc == ORR_OK || strstr(e.msg, path),
           "put_file: the error \"%s\" does not name the path", e.msg);
    rc = s->ops->put_file(s->self, s->scratch, d, &e);
    EXPECT(s, rc != ORR_OK, "put_file of a directory succeeded");
    free(p);
}

static void check_get_file(struct suite *s)
{
    if (!s->ops->get_file) {
        skip(s, "no get_file (optional)");
        return;
    }
    if (!s->scratch[0]) {
        skip(s, "no scratch directory");
        return;
    }
    size_t n = 2 * MIB + 7, got;
    unsigned char *p = unique_bytes(s, 11, n), *back;
    char out[PATH_MAX + 16], old[PATH_MAX + 16], d[ORR_DIGEST_HEX_LEN + 1],
        absent[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    int rc = p ? put_mem(s, s->self, p, n, 0, -1, d, &e) : ORR_ENOMEM;
    EXPECT_RC(s, rc, ORR_OK, &e, "put");
    if (rc) {
        free(p);
        return;
    }
    empty_dir(s->scratch);
    scratch_path(s, "get-file-new", out, sizeof out);
    rc = s->ops->get_file(s->self, d, out, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "get_file to a new path");
    back = read_file(out, &got);
    EXPECT(s, back && got == n && !memcmp(back, p, n),
           "get_file wrote %zu bytes, not the blob's %zu", got, n);
    free(back);
    /* An existing file is replaced whole. */
    scratch_path(s, "get-file-old", old, sizeof old);
    EXPECT(s, write_file(old, "old contents", 12) == 0, "cannot write %s",
           old);
    rc = s->ops->get_file(s->self, d, old, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "get_file over an existing file");
    back = read_file(old, &got);
    EXPECT(s, back && got == n && !memcmp(back, p, n),
           "get_file over an existing file left %zu bytes", got);
    free(back);
    /* A failure leaves the destination as it was. */
    EXPECT(s, write_file(old, "old contents", 12) == 0, "cannot write %s",
           old);
    absent_digest(s, 11, absent);
    rc = s->ops->get_file(s->self, absent, old, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "get_file of an absent blob");
    back = read_file(old, &got);
    EXPECT(s, back && got == 12 && !memcmp(back, "old contents", 12),
           "a failed get_file changed the existing destination");
    free(back);
    scratch_path(s, "get-file-absent", out, sizeof out);
    rc = s->ops->get_file(s->self, absent, out, &e);
    EXPECT_RC(s, rc, ORR_ENOTFOUND, &e, "get_file of an absent blob");
    EXPECT(s, !exists(out), "a failed get_file created %s", out);
    scratch_path(s, "no-such-dir/out", out, sizeof out);
    rc = s->ops->get_file(s->self, d, out, &e);
    EXPECT(s, rc != ORR_OK, "get_file into a missing directory succeeded");
    /* Exactly the two published files: no temporary left behind. */
    size_t entries = count_entries(s->scratch);
    EXPECT(s, entries == 2, "%zu entries in the destination directory, "
           "expected 2 (temporary files left behind?)", entries);
    empty_dir(s->scratch);
    free(p);
}

static void check_corrupt(struct suite *s)
{
    if (!s->opt.corrupt) {
        skip(s, "no corrupt callback given");
        return;
    }
    size_t n = MIB + 11;
    unsigned char *p = unique_bytes(s, 12, n);
    char d[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    int rc = p ? put_mem(s, s->self, p, n, 0, -1, d, &e) : ORR_ENOMEM;
    EXPECT_RC(s, rc, ORR_OK, &e, "put");
    if (rc) {
        free(p);
        return;
    }
    if (s->opt.corrupt(s->opt.corrupt_ctx, d) != 0) {
        EXPECT(s, 0, "the corrupt callback failed for %s", d);
        free(p);
        return;
    }
    struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
    rc = s->ops->get(s->self, d, mem_write, &dst, &e);
    free(dst.p);
    EXPECT_RC(s, rc, ORR_ECORRUPT, &e, "get of a corrupted blob");
    EXPECT(s, rc != ORR_ECORRUPT || strstr(e.msg, d),
           "the error \"%s\" does not name the digest", e.msg);
    if (s->ops->get_file && s->scratch[0]) {
        char out[PATH_MAX + 16], old[PATH_MAX + 16];
        size_t got;
        empty_dir(s->scratch);
        scratch_path(s, "corrupt-new", out, sizeof out);
        rc = s->ops->get_file(s->self, d, out, &e);
        EXPECT_RC(s, rc, ORR_ECORRUPT, &e, "get_file of a corrupted blob");
        EXPECT(s, !exists(out), "get_file of a corrupted blob left %s", out);
        scratch_path(s, "corrupt-old", old, sizeof old);
        EXPECT(s, write_file(old, "keep", 4) == 0, "cannot write %s", old);
        rc = s->ops->get_file(s->self, d, old, &e);
        EXPECT_RC(s, rc, ORR_ECORRUPT, &e, "get_file of a corrupted blob");
        unsigned char *back = read_file(old, &got);
        EXPECT(s, back && got == 4 && !memcmp(back, "keep", 4),
               "get_file of a corrupted blob changed the destination");
        free(back);
        EXPECT(s, count_entries(s->scratch) == 1,
               "get_file of a corrupted blob left temporary files");
        empty_dir(s->scratch);
    }
    /* Repair: remove, then store the good bytes again. */
    rc = s->ops->remove(s->self, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "remove of a corrupted blob");
    rc = put_mem(s, s->self, p, n, 0, -1, d, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "put after removing the corrupted blob");
    if (rc == ORR_OK)
        expect_content(s, s->self, d, p, n, "get of the repaired blob");
    free(p);
}

static void check_two_instances(struct suite *s)
{
    void *b = NULL;
    struct orr_error e = {0};
    struct orr_blob_info info;
    size_t n = 54321;
    unsigned char *p = unique_bytes(s, 13, n);
    char d[ORR_DIGEST_HEX_LEN + 1];
    int rc = ORR_ENOMEM;
    if (p && (b = s->h->calloc(1, s->ops->self_size ? s->ops->self_size
                                                    : 1))) {
        rc = s->ops->open(b, s->cfg, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "open of a second instance");
    }
    if (rc == ORR_OK) {
        rc = put_mem(s, s->self, p, n, 0, -1, d, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "put in the first instance");
    }
    if (rc == ORR_OK) {
        expect_content(s, b, d, p, n, "get from the second instance");
        rc = s->ops->remove(b, d, &e);
        EXPECT_RC(s, rc, ORR_OK, &e, "remove in the second instance");
        rc = s->ops->stat(s->self, d, &info, &e);
        EXPECT_RC(s, rc, ORR_ENOTFOUND, &e,
                  "stat in the first instance after the remove");
    }
    if (b) {
        s->ops->close(b);
        s->h->free(b);
    }
    free(p);
}

struct worker {
    struct suite        *s;
    unsigned             idx;
    const unsigned char *shared;
    size_t               shared_len;
    const char          *shared_digest;
    int                  failures;
    char                 first[ORR_ERROR_MSG_SIZE + 64];
};

static void worker_fail(struct worker *w, const char *what,
                        const struct orr_error *e)
{
    if (!w->failures++)
        snprintf(w->first, sizeof w->first, "thread %u: %s: %s", w->idx,
                 what, e ? e->msg : "");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct suite *s = w->s;
    struct orr_error e = {0};
    size_t n = 512 * 1024 + w->idx;
    unsigned char *own = unique_bytes(s, 100 + w->idx, n);
    void *self = s->h->calloc(1, s->ops->self_size ? s->ops->self_size : 1);
    char want[ORR_DIGEST_HEX_LEN + 1];
    if (!own || !self) {
        worker_fail(w, "out of memory", NULL);
        goto done;
    }
    if (s->ops->open(self, s->cfg, &e) != ORR_OK) {
        worker_fail(w, "open", &e);
        goto done;
    }
    orr_conformance_sha256_hex(own, n, want);
    for (int round = 0; round < 3; round++) {
        char d[ORR_DIGEST_HEX_LEN + 1];
        if (put_mem(s, self, w->shared, w->shared_len, 100000, -1, d, &e))
            worker_fail(w, "put of the shared blob", &e);
        else if (strcmp(d, w->shared_digest))
            worker_fail(w, "shared blob has a wrong digest", NULL);
        if (put_mem(s, self, own, n, 0, (int64_t)n, d, &e))
            worker_fail(w, "put of its own blob", &e);
        else if (strcmp(d, want))
            worker_fail(w, "own blob has a wrong digest", NULL);
        struct mem_dst dst = {NULL, 0, 0, 0, 0, s->h};
        if (s->ops->get(self, w->shared_digest, mem_write, &dst, &e))
            worker_fail(w, "get of the shared blob", &e);
        else if (dst.len != w->shared_len ||
                 memcmp(dst.p, w->shared, dst.len))
            worker_fail(w, "shared blob read back differs", NULL);
        free(dst.p);
    }
done:
    if (self) {
        s->ops->close(self);
        s->h->free(self);
    }
    free(own);
    return NULL;
}

static void check_concurrent(struct suite *s)
{
    unsigned nt = s->opt.threads ? s->opt.threads : 4;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    size_t n = 2 * MIB + 1;
    unsigned char *shared = unique_bytes(s, 14, n);
    char want[ORR_DIGEST_HEX_LEN + 1];
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    if (!shared) {
        EXPECT(s, 0, "out of memory");
        return;
    }
    orr_conformance_sha256_hex(shared, n, want);
    for (unsigned i = 0; i < nt; i++) {
        w[i] = (struct worker){s, i, shared, n, want, 0, ""};
        started[i] = !pthread_create(&tid[i], NULL, worker_main, &w[i]);
        EXPECT(s, started[i], "cannot start thread %u", i);
    }
    for (unsigned i = 0; i < nt; i++) {
        if (!started[i])
            continue;
        pthread_join(tid[i], NULL);
        EXPECT(s, !w[i].failures, "%s (%d failures)", w[i].first,
               w[i].failures);
    }
    struct orr_error e = {0};
    struct counter c = {0};
    c.prefix = want;
    int rc = s->ops->list(s->self, want, count_blob, &c, &e);
    EXPECT_RC(s, rc, ORR_OK, &e, "list");
    EXPECT(s, c.calls == 1, "the shared blob is listed %zu times", c.calls);
    expect_content(s, s->self, want, shared, n, "get of the shared blob");
    free(shared);
}

static const struct {
    const char *name;
    void (*fn)(struct suite *s);
} checks[] = {
    {"vectors", check_vectors},
    {"empty", check_empty},
    {"million_a", check_million_a},
    {"multi_chunk", check_multi_chunk},
    {"size_hint", check_size_hint},
    {"dedup", check_dedup},
    {"stat", check_stat},
    {"list", check_list},
    {"remove", check_remove},
    {"absent", check_absent},
    {"invalid_keys", check_invalid_keys},
    {"read_failure", check_read_failure},
    {"write_failure", check_write_failure},
    {"put_file", check_put_file},
    {"get_file", check_get_file},
    {"corrupt", check_corrupt},
    {"two_instances", check_two_instances},
    {"concurrent", check_concurrent},
};

/* ---- running ------------------------------------------------------------------ */

static void begin(struct suite *s, const char *name)
{
    s->check = name;
    s->check_failures = 0;
    s->skip_reason = NULL;
}

static void end(struct suite *s)
{
    if (s->check_failures) {
        s->failed++;
    } else if (s->skip_reason) {
        s->skipped++;
        if (s->report)
            fprintf(s->report, "skip storage.%s: %s\n", s->check,
                    s->skip_reason);
    } else {
        s->passed++;
        if (s->report)
            fprintf(s->report, "ok   storage.%s\n", s->check);
    }
}

static void check_ops(struct suite *s)
{
    const struct orr_storage_ops *o = s->ops;
    EXPECT(s, o->version >= ORR_STORAGE_OPS_V1, "version %u", o->version);
    EXPECT(s, o->name && *o->name, "empty name");
    EXPECT(s, o->summary, "summary is NULL");
    EXPECT(s, o->open && o->close && o->put && o->get && o->stat &&
                  o->list && o->remove,
           "a mandatory member is NULL");
}

static void make_scratch(struct suite *s)
{
    const char *base = s->opt.scratch_dir;
    if (!base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(s->scratch, sizeof s->scratch,
                     "%s/orrery-conformance-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof s->scratch || !mkdtemp(s->scratch))
        s->scratch[0] = '\0';
}

static void cleanup(struct suite *s)
{
    for (size_t i = 0; i < s->n_stored; i++) {
        struct orr_error e = {0};
        (void)s->ops->remove(s->self, s->stored[i], &e);
    }
    if (s->scratch[0]) {
        empty_dir(s->scratch);
        rmdir(s->scratch);
    }
}

int orr_conformance_storage_ex(const struct orr_host *host,
                               const struct orr_storage_ops *ops,
                               const struct orr_cfg *cfg,
                               const struct orr_conformance_storage_opts *opt,
                               FILE *report)
{
    static const struct orr_conformance_storage_opts none;
    struct suite *s = calloc(1, sizeof *s);
    if (!s) {
        if (report)
            fprintf(report, "FAIL storage: out of memory\n");
        return 1;
    }
    s->h = host;
    s->ops = ops;
    s->cfg = cfg;
    s->opt = opt ? *opt : none;
    s->report = report;
    pthread_mutex_init(&s->lock, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->nonce = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)s;

    begin(s, "ops");
    check_ops(s);
    end(s);
    if (s->failed)
        goto out;

    struct orr_error e = {0};
    begin(s, "open");
    s->self = host->calloc(1, ops->self_size ? ops->self_size : 1);
    int rc = s->self ? ops->open(s->self, cfg, &e)
                     : host->fail(&e, ORR_ENOMEM, "out of memory");
    EXPECT_RC(s, rc, ORR_OK, &e, "open");
    end(s);
    if (rc)
        goto out;
    make_scratch(s);

    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        if (s->opt.only && !strstr(checks[i].name, s->opt.only))
            continue;
        begin(s, checks[i].name);
        checks[i].fn(s);
        end(s);
    }
    cleanup(s);
out:
    if (s->self) {
        ops->close(s->self);
        host->free(s->self);
    }
    if (report)
        fprintf(report, "storage conformance (%s): %d passed, %d failed, "
                "%d skipped\n", ops->name ? ops->name : "?", s->passed,
                s->failed, s->skipped);
    int failed = s->failed;
    pthread_mutex_destroy(&s->lock);
    free(s);
    return failed;
}

int orr_conformance_storage(const struct orr_host *host,
                            const struct orr_storage_ops *ops,
                            const struct orr_cfg *cfg, FILE *report)
{
    return orr_conformance_storage_ex(host, ops, cfg, NULL, report);
}
