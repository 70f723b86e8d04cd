/*
 * data/csv.c - streaming CSV loading into a dataset (see data/table.h).
 *
 * The file is read in 1 MiB chunks (a regular file: mapped, parsed in
 * place, see stream_map), and each field goes straight into its column:
 * the text is never held whole, and the columns' pages are faulted in a
 * chunk's rows at a time, just ahead (prefault_rows).  Quoted text goes
 * through libcsv; quote-free text through a fast path that is libcsv's
 * grammar for such text (commas between fields, a CR or LF after a
 * record, blanks around fields dropped, blank lines skipped) split in
 * place, feeding the same field and record callbacks - so the column
 * logic and the errors are one code, whichever path the bytes took
 * (tests/data/test_csv_fast.c checks that every result is libcsv's).
 * Once every column's kind is decided, plain rows take a tight loop
 * (decided_rows).  Column types are decided on the fly: a column stays
 * numeric while every present value parses as a number.  A column that
 * meets a label after numbers is marked categorical and the file is
 * read once more (only then), because turning parsed doubles back into
 * their original text would not be faithful ("1.50" is not "1.5").
 *
 * Rows of numeric columns only take an AVX-512 loop where the CPU has
 * it (chosen at run time; csv_avx512.c): 8 fields converted at a
 * time, the same values and the same stops as the scalar loop.
 *
 * Large regular files are parsed by two threads, each with its own
 * parser state (libcsv's and the text carried over) and its own columns:
 * the first from the start, the second from the record boundary after
 * the middle of the file.  That boundary is a guess (a line break may sit
 * inside a quoted field), checked afterwards by the first part itself:
 * when it has consumed exactly up to the boundary, nothing may be carried
 * over and libcsv's state must be "no record begun" (a line break inside
 * quotes leaves it inside a field).  If so, the second part's columns
 * are appended (its numbers mostly in place already: see struct lend;
 * its labels re-coded into the first part's dictionaries in order of
 * first appearance, its errors renumbered after the first part's
 * records); if not, its work is dropped and the first part reads on
 * alone.  Either way the result, errors included, is the one-thread
 * parse's.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

#include "data/colmem.h"
#include "data/csv_internal.h"
#include "data/csv_loader.h"
#include "data/numparse.h"
#include "data/table.h"
#include "util/error.h"

#define MAX_COLS   ((size_t)1 << 20)
#define LABEL_MAX  ((size_t)1 << 16)


/* Files at least this large are parsed by two threads (when the machine
 * has two CPUs); the tests lower it to exercise the split on small files. */
static size_t parallel_min = (size_t)16 << 20;

/* Whether this thread's last load took a second part's rows, and how
 * many bytes its last pass parsed by the fast path (tests). */
static _Thread_local int last_split;
static _Thread_local size_t last_fast;
static _Thread_local int last_unlent;
static _Thread_local size_t last_simd;

/* Bytes read at a time, whether quote-free text takes the fast path,
 * and whether regular files are mapped (all settable by the tests). */
static size_t chunk = (size_t)1 << 20;
static int fast_path = 1;
static int use_map = 1;

/* The row loop for numeric rows: -1 not chosen yet, 0 the scalar one,
 * 1 AVX-512 (csv_avx512.c). */
static int simd_level = -1;
static int simd_cpu(void);

int orri_csv_set_simd(int level)
{
    simd_level = level && simd_cpu() ? 1 : 0;
    return simd_level;
}

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

/* The default at the first load: the fastest loop this CPU has. */
static void simd_default(void)
{
    if (simd_level < 0)
        orri_csv_set_simd(1);
}

void orri_csv_set_map(int on)
{
    use_map = on;
}

void orri_csv_set_parallel_min(size_t bytes)
{
    parallel_min = bytes;
}

void orri_csv_set_chunk(size_t bytes)
{
    chunk = bytes ? bytes : (size_t)1 << 20;
}

void orri_csv_set_fast_path(int on)
{
    fast_path = on;
}

int orri_csv_last_split(void)
{
    return last_split;
}

size_t orri_csv_last_fast_bytes(void)
{
    return last_fast;
}

int orri_csv_last_unlent(void)
{
    return last_unlent;
}

size_t orri_csv_last_simd_rows(void)
{
    return last_simd;
}

static int is_missing(const char *s, size_t len)
{
    switch (len) {
    case 0: return 1;
    case 2: return !memcmp(s, "NA", 2);
    case 3: return !memcmp(s, "NaN", 3) || !memcmp(s, "N/A", 3);
    case 4: return !memcmp(s, "null", 4);
    default: return 0;
    }
}

static int in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && !strcmp(list[i], name))
            return 1;
    return 0;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int fail_at(struct orri_csv_loader *ld, int code, const char *col,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Format the stored error into ld->e, its record `base` records on. */
static void emit(struct orri_csv_loader *ld, size_t base)
{
    if (!ld->err_record)
        orr_fail(ld->e, ld->err, "%s", ld->err_what);
    else if (ld->err_col[0])
        orr_fail(ld->e, ld->err, "%s:%zu: column '%s': %s", ld->display,
                 ld->err_record + base, ld->err_col, ld->err_what);
    else
        orr_fail(ld->e, ld->err, "%s:%zu: %s", ld->display,
                 ld->err_record + base, ld->err_what);
}

static int fail_at(struct orri_csv_loader *ld, int code, const char *col,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err_what, sizeof ld->err_what, fmt, ap);
    va_end(ap);
    snprintf(ld->err_col, sizeof ld->err_col, "%s", col ? col : "");
    ld->err_record = ld->record;
    ld->err = code;
    emit(ld, 0);
    return code;
}

static int oom(struct orri_csv_loader *ld)
{
    snprintf(ld->err_what, sizeof ld->err_what, "%s: out of memory",
             ld->display);
    ld->err_record = 0;
    ld->err = ORR_ENOMEM;
    emit(ld, 0);
    return ORR_ENOMEM;
}

/* Code of `label` in column c, adding it if new; -1 on ENOMEM.  A label
 * is the text before any NUL byte (the dictionary holds C strings; and
 * so a comparison never reads past a shorter label). */
static int32_t intern(struct orri_csv_col *c, const char *s, size_t len)
{
    len = strnlen(s, len);
    if (c->n_labels * 2 >= c->n_slots) {
        size_t n = c->n_slots ? c->n_slots * 2 : 64;
        uint32_t *slots = calloc(n, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < c->n_labels; i++) {
            size_t k = fnv1a(c->labels[i], strlen(c->labels[i])) & (n - 1);
            while (slots[k])
                k = (k + 1) & (n - 1);
            slots[k] = (uint32_t)i + 1;
        }
        free(c->slots);
        c->slots = slots;
        c->n_slots = n;
    }
    size_t k = fnv1a(s, len) & (c->n_slots - 1);
    while (c->slots[k]) {
        const char *l = c->labels[c->slots[k] - 1];
        if (!strncmp(l, s, len) && l[len] == '\0')
            return (int32_t)(c->slots[k] - 1);
        k = (k + 1) & (c->n_slots - 1);
    }
    if (c->n_labels >= INT32_MAX - 1)
        return -1;
    if (c->n_labels == c->cap_labels) {
        size_t cap = c->cap_labels ? c->cap_labels * 2 : 16;
        char **p = realloc(c->labels, cap * sizeof *p);
        if (!p)
            return -1;
        c->labels = p;
        c->cap_labels = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    c->labels[c->n_labels] = copy;
    c->slots[k] = (uint32_t)c->n_labels + 1;
    return (int32_t)c->n_labels++;
}

/* Free a column's numbers unless they lie in a shared array. */
static void drop_num(struct orri_csv_col *c)
{
    if (!c->lent)
        free(c->num);
    c->num = NULL;
    c->lent = 0;
}

/* Numbers of a column in a lent array move to an array of their own of
 * `cap` rows (the lent room is full; the lender's array stays). */
static int unlend(struct orri_csv_col *c, size_t used, size_t cap)
{
    double *p = orri_col_alloc(cap * sizeof *p);
    if (!p)
        return ORR_ENOMEM;
    memcpy(p, c->num, used * sizeof *p);
    c->num = p;
    c->lent = 0;
    return ORR_OK;
}

/* The missing mask of column c, if any, from `old` rows to `cap`. */
static int miss_resize(struct orri_csv_col *c, size_t old, size_t cap)
{
    if (!c->miss)
        return ORR_OK;
    uint8_t *p = realloc(c->miss, cap ? cap : 1);
    if (!p)
        return ORR_ENOMEM;
    c->miss = p;
    memset(p + old, 0, cap - old);
    return ORR_OK;
}

/* Room for `cap` rows (cap >= ld->cap) in column c. */
static int col_resize(const struct orri_csv_loader *ld, struct orri_csv_col *c, size_t cap)
{
    void *p;
    if (c->lent) {
        if (unlend(c, ld->cap, cap))
            return ORR_ENOMEM;
    } else if (c->kind == K_CAT) {
        if (!(p = orri_col_realloc(c->codes, ld->cap * sizeof *c->codes,
                                   cap * sizeof *c->codes)))
            return ORR_ENOMEM;
        c->codes = p;
    } else {
        if (!(p = orri_col_realloc(c->num, ld->cap * sizeof *c->num,
                                   cap * sizeof *c->num)))
            return ORR_ENOMEM;
        c->num = p;
    }
    return miss_resize(c, ld->cap, cap);
}

/* Room for `cap` rows in every column (cap > ld->cap); when `quiet`, a
 * failure is no error (the columns keep at least their room). */
static int resize(struct orri_csv_loader *ld, size_t cap, int quiet)
{
    for (size_t i = 0; i < ld->n_cols; i++) {
        ld->unlent |= ld->cols[i].lent;
        if (col_resize(ld, &ld->cols[i], cap))
            return quiet ? ORR_ENOMEM : oom(ld);
    }
    ld->cap = cap;
    ld->ready = 0;
    return ORR_OK;
}

static int reserve(struct orri_csv_loader *ld, size_t cap)
{
    return resize(ld, cap, 0);
}

static int grow(struct orri_csv_loader *ld)
{
    return reserve(ld, ld->cap ? ld->cap * 2 : 1024);
}

static int mark_missing(struct orri_csv_loader *ld, struct orri_csv_col *c, size_t row)
{
    if (!c->miss && !(c->miss = calloc(ld->cap, 1)))
        return oom(ld);
    c->miss[row] = 1;
    return ORR_OK;
}

/* A column of only missing values so far becomes categorical. */
static int to_category(struct orri_csv_loader *ld, struct orri_csv_col *c, size_t row)
{
    int32_t *codes = orri_col_alloc(ld->cap * sizeof *codes);
    if (!codes)
        return oom(ld);
    for (size_t i = 0; i < row; i++)
        codes[i] = -1;
    drop_num(c);
    c->codes = codes;
    c->kind = K_CAT;
    return ORR_OK;
}

static int header_field(struct orri_csv_loader *ld, const char *s, size_t len)
{
    if (ld->n_hdr >= MAX_COLS)
        return fail_at(ld, ORR_EINVAL, NULL, "more than %zu columns",
                       MAX_COLS);
    if (ld->n_hdr == ld->cap_hdr) {
        size_t cap = ld->cap_hdr ? ld->cap_hdr * 2 : 32;
        char **p = realloc(ld->hdr, cap * sizeof *p);
        if (!p)
            return oom(ld);
        ld->hdr = p;
        ld->cap_hdr = cap;
    }
    char *name = malloc(len + 1);
    if (!name)
        return oom(ld);
    memcpy(name, s, len);
    name[len] = '\0';
    ld->hdr[ld->n_hdr++] = name;
    return ORR_OK;
}

static int finish_header(struct orri_csv_loader *ld)
{
    const struct orr_csv_options *o = ld->opt;
    ld->cols = calloc(ld->n_hdr ? ld->n_hdr : 1, sizeof *ld->cols);
    if (!ld->cols)
        return oom(ld);
    ld->n_cols = ld->n_hdr;
    for (size_t i = 0; i < ld->n_hdr; i++) {
        if (!ld->hdr[i][0])
            return fail_at(ld, ORR_EINVAL, NULL, "column %zu has no name",
                           i + 1);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(ld->cols[k].name, ld->hdr[i]))
                return fail_at(ld, ORR_EINVAL, NULL,
                               "duplicate column name '%s'", ld->hdr[i]);
        struct orri_csv_col *c = &ld->cols[i];
        c->name = ld->hdr[i];
        ld->hdr[i] = NULL;
        c->force_cat = in_list(c->name, o->categorical, o->n_categorical) ||
                       in_list(c->name, (const char *const *)ld->forced,
                               ld->n_forced);
        c->declared_num = in_list(c->name, o->numeric, o->n_numeric);
        if (c->force_cat)
            c->kind = K_CAT;
    }
    /* Declared columns must exist: fail now, not after reading 1 GB. */
    const char *want[2] = {o->target, NULL};
    for (size_t k = 0; k < o->n_categorical + o->n_numeric + 1; k++) {
        const char *w = k == 0 ? want[0] :
                        k <= o->n_categorical ? o->categorical[k - 1] :
                        o->numeric[k - 1 - o->n_categorical];
        if (!w)
            continue;
        size_t i;
        for (i = 0; i < ld->n_cols && strcmp(ld->cols[i].name, w); i++)
            ;
        if (i == ld->n_cols) {
            snprintf(ld->err_what, sizeof ld->err_what, "%s: no column "
                     "'%s'%s", ld->display, w, k == 0 ? " (the target)" : "");
            ld->err_record = 0;
            ld->err = ORR_EINVAL;
            emit(ld, 0);
            return ORR_EINVAL;
        }
    }
    ld->header_done = 1;
    return ORR_OK;
}

static int data_field(struct orri_csv_loader *ld, const char *s, size_t len)
{
    size_t f = ld->field;
    if (f >= ld->n_cols)
        return ORR_OK;              /* counted; reported at end of row */
    if (ld->rows == ld->cap && grow(ld))
        return ld->err;
    struct orri_csv_col *c = &ld->cols[f];
    size_t r = ld->rows;
    if (is_missing(s, len)) {
        if (c->kind == K_CAT)
            c->codes[r] = -1;
        else
            c->num[r] = NAN;
        return mark_missing(ld, c, r);
    }
    if (c->kind != K_CAT) {
        double d;
        if (orri_parse_number(s, len, &d)) {
            if (isinf(d) && c->declared_num)
                return fail_at(ld, ORR_EINVAL, c->name,
                               "number out of range: '%s'", s);
            c->kind = K_NUM;
            c->num[r] = d;
            return ORR_OK;
        }
        if (c->declared_num)
            return fail_at(ld, ORR_EINVAL, c->name, "not a number: '%s'", s);
        if (c->kind == K_NUM) {
            c->force_cat = 1;
            c->mixed = 1;
            ld->restart = 1;
            c->num[r] = NAN;
            return ORR_OK;
        }
        if (to_category(ld, c, r))
            return ld->err;
    }
    if (len >= LABEL_MAX)
        return fail_at(ld, ORR_EINVAL, c->name, "a label longer than %zu "
                       "bytes", LABEL_MAX - 1);
    int32_t code = intern(c, s, len);
    if (code < 0)
        return oom(ld);
    c->codes[r] = code;
    return ORR_OK;
}

static void cb_field(void *s, size_t len, void *data)
{
    struct orri_csv_loader *ld = data;
    if (ld->err)
        return;
    const char *str = s ? s : "";
    if (!ld->header_done)
        header_field(ld, str, len);
    else
        data_field(ld, str, len);
    ld->field++;
}

static void cb_row(int term, void *data)
{
    (void)term;
    struct orri_csv_loader *ld = data;
    if (ld->err)
        return;
    if (!ld->header_done) {
        finish_header(ld);
    } else if (ld->field != ld->n_cols) {
        fail_at(ld, ORR_EINVAL, NULL, "expected %zu fields (as in the "
                "header), found %zu", ld->n_cols, ld->field);
        return;
    } else {
        ld->rows++;
    }
    ld->field = 0;
    ld->record++;
}

static void bcol_free(struct orri_csv_col *c)
{
    free(c->name);
    drop_num(c);
    free(c->codes);
    free(c->miss);
    for (size_t i = 0; i < c->n_labels; i++)
        free(c->labels[i]);
    free(c->labels);
    free(c->slots);
}

static void loader_reset(struct orri_csv_loader *ld)
{
    for (size_t i = 0; i < ld->n_hdr; i++)
        free(ld->hdr[i]);
    free(ld->hdr);
    for (size_t i = 0; i < ld->n_cols; i++)
        bcol_free(&ld->cols[i]);
    free(ld->cols);
    ld->hdr = NULL;
    ld->n_hdr = ld->cap_hdr = 0;
    ld->cols = NULL;
    ld->n_cols = 0;
    ld->rows = ld->cap = 0;
    ld->record = 1;
    ld->field = 0;
    ld->header_done = 0;
    ld->restart = 0;
}

#define CSV_OPTIONS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* Feed buf[0..n) to the parser; a malformed byte is an error. */
static int feed(struct orri_csv_loader *ld, struct csv_parser *p, const char *buf,
                size_t n)
{
    if (n && csv_parse(p, buf, n, cb_field, cb_row, ld) != n && !ld->err)
        fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                csv_strerror(csv_error(p)));
    return ld->err;
}

static int finish(struct orri_csv_loader *ld, struct csv_parser *p)
{
    if (!ld->err && csv_fini(p, cb_field, cb_row, ld) && !ld->err)
        fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                csv_strerror(csv_error(p)));
    return ld->err;
}

/* libcsv stands between records (no field begun, not inside quotes). */
static int between(const struct csv_parser *p)
{
    return p->pstate == 0 && !p->quoted && p->entry_pos == 0;
}

/*
 * The text of one part of the file on its way to the columns.  Each read
 * appends to buf; the complete records (up to the last line break) are
 * parsed and the partial record left is moved to the front for the next
 * read.  Records take the fast path below up to the first with a '"';
 * from there the block goes to libcsv, which then keeps the text until
 * it stands between records again (a quoted field may hold line breaks).
 * (The fast path finds that record itself: a first pass over each block
 * looking for quotes cost 0.1 s of CPU a GB, reading the text from
 * memory before the parser read it again.)
 */
struct stream {
    struct csv_parser p;
    char   *buf;             /* the text held: in own, or in map         */
    size_t  len, cap;        /* text held; room in own (PAD more)        */
    char   *own;             /* the buffer reads go to                   */
    char   *map;             /* the part of the file mapped, or NULL     */
    size_t  map_len;
    size_t  map_done;        /* bytes at map's start released already    */
    size_t  map_ready;       /* bytes at map's start prefaulted          */
    off_t   map_end;         /* where text parsed in place must end      */
    int     positioned;      /* read with pread (the mapping moved *pos) */
    int     in_lib;          /* libcsv is inside a record                */
    size_t  used;            /* bytes parsed, for the row estimate       */
    int     estimated;
    off_t   limit;           /* where the part ends, 0 if unknown        */
};

static int stream_init(struct stream *st)
{
    memset(st, 0, sizeof *st);
    st->cap = 2 * chunk;
    if (csv_init(&st->p, CSV_OPTIONS))
        return ORR_ENOMEM;
    if (!(st->own = st->buf = malloc(st->cap + PAD))) {
        csv_free(&st->p);
        return ORR_ENOMEM;
    }
    return ORR_OK;
}

/*
 * Parse [from, size) of a regular file in place, in a private writable
 * mapping (gen_record writes its NULs into the text: those pages alone
 * are copied), rather than read() into the buffer: the kernel's copy of
 * each page cost more than the parser's reading the page cache itself
 * (measured, half the 1 GB file on one thread: 0.36 s against 0.41-0.53
 * s).  In-place text must end PAD bytes before the mapping does, as the
 * number reader may look 8 bytes past a point; the last bytes of the
 * file go through the buffer (to_buffer).  No mapping (a failure, a
 * tiny range) is no error: the stream reads as it would anyway.
 */
static void stream_map(struct stream *st, int fd, off_t from, off_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    if (!use_map || page <= 0 || size - from <= (off_t)(2 * PAD) ||
        (uintmax_t)size > SIZE_MAX)
        return;
    off_t base = from - from % page;
    void *m = mmap(NULL, (size_t)(size - base), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE, fd, base);
    if (m == MAP_FAILED)
        return;
    st->map = m;
    st->map_len = (size_t)(size - base);
    st->map_end = size - (off_t)PAD;
    st->buf = st->map + (from - base);
    st->positioned = 1;
}

/* Past `n` more bytes of mapped text.  Pages parsed are released every
 * RELEASE bytes: else the whole file, mapped, would count in the
 * process's resident memory (page cache, but it looks like the loader's
 * own), and the unmapping at the end would be one long stall.  Released
 * with MADV_DONTNEED, the mapping itself kept to the end: munmap of each
 * window also split the mapping and freed its page tables, and loads
 * took 1-2% longer (docs/BENCHMARKS.md, session 7).  The text there is
 * never read again. */
#define RELEASE ((size_t)8 << 20)

static void release(struct stream *st, size_t n)
{
    st->buf += n;
    size_t at = (size_t)(st->buf - st->map);
    if (at - st->map_done < RELEASE)
        return;
    at -= at % RELEASE;             /* a multiple of any page size */
    (void)madvise(st->map + st->map_done, at - st->map_done, MADV_DONTNEED);
    st->map_done = at;
}

/* Map the text about to be parsed RELEASE bytes at a time, ahead of the
 * parser, in one call (MADV_POPULATE_READ), rather than fault every 16
 * pages.  A hint: without it (kernels before 5.14) the pages fault in. */
static void prefault(struct stream *st)
{
#ifdef MADV_POPULATE_READ
    size_t need = (size_t)(st->buf + st->len - st->map);
    if (need <= st->map_ready)
        return;
    size_t to = st->map_ready + RELEASE;
    if (to < need)
        to = need + RELEASE - need % RELEASE;
    if (to > st->map_len)
        to = st->map_len;
    (void)madvise(st->map + st->map_ready, to - st->map_ready,
                  MADV_POPULATE_READ);
    st->map_ready = to;
#else
    (void)st;
#endif
}

/* Columns at least this long are faulted in ahead of the parser, at
 * least this many rows at a time (4 pages of doubles: with 2 a call, on
 * 100 columns, loads were no faster), at most this many bytes of them
 * ahead in all. */
#define PREFAULT_ROWS      ((size_t)1 << 16)
#define PREFAULT_MIN_ROWS  ((size_t)2048)
#define PREFAULT_BYTES     ((size_t)1 << 20)

/*
 * Fault in the column arrays for the rows the text held will make, just
 * before it is parsed: one MADV_POPULATE_WRITE a column (its next few
 * pages) instead of a page fault every 4 KiB.  A 1 GB file's table is
 * 200,000 pages; the trap per page cost more than the call (loads of the
 * 954 MB file about 5% faster, docs/BENCHMARKS.md session 7).  Only that far
 * ahead, and at most PREFAULT_BYTES: the pages are zeroed as they come
 * in and should still be in the cache when the rows are written (32 KiB
 * a column ahead, 1.6 MB in all, measured from no gain at all to a
 * little better than 16 KiB, 64 KiB slower than no prefault, and so was
 * the whole table before parsing in session 5).
 * Tables too wide for PREFAULT_MIN_ROWS rows within PREFAULT_BYTES (more
 * than 64 columns) fault as before.  The rows come from the bytes per
 * record so far, as in estimate(); a count short of the real one leaves
 * the last rows to ordinary faults.
 */
static void prefault_rows(struct orri_csv_loader *ld, const struct stream *st)
{
    if (ld->cap < PREFAULT_ROWS || !st->used || ld->record < 2 ||
        !ld->n_cols)
        return;
    size_t per = st->used / ld->record + 1;
    size_t want = st->len / per + 1;
    if (want < PREFAULT_MIN_ROWS)
        want = PREFAULT_MIN_ROWS;
    size_t most = PREFAULT_BYTES / (ld->n_cols * sizeof(double));
    if (want > most)
        want = most;
    if (want < PREFAULT_MIN_ROWS)
        return;
    size_t to = ld->rows + want;
    if (ld->ready < ld->rows)
        ld->ready = ld->rows;
    if (to > ld->cap)
        to = ld->cap;
    if (to <= ld->ready)
        return;
    for (size_t i = 0; i < ld->n_cols; i++) {
        struct orri_csv_col *c = &ld->cols[i];
        if (c->kind == K_CAT && c->codes)
            orri_col_populate(c->codes + ld->ready, c->codes + to);
        else if (c->kind != K_CAT && c->num)
            orri_col_populate(c->num + ld->ready, c->num + to);
    }
    ld->ready = to;
}

/* Leave the mapping: the text held moves to the buffer. */
static int to_buffer(struct orri_csv_loader *ld, struct stream *st)
{
    if (st->cap < st->len + chunk) {
        char *b = realloc(st->own, st->len + chunk + PAD);
        if (!b)
            return oom(ld);
        st->own = b;
        st->cap = st->len + chunk;
    }
    memcpy(st->own, st->buf, st->len);
    munmap(st->map, st->map_len);
    st->map = NULL;
    st->buf = st->own;
    return ORR_OK;
}

static void stream_free(struct stream *st)
{
    if (!st->own)
        return;
    csv_free(&st->p);
    if (st->map)
        munmap(st->map, st->map_len);
    free(st->own);
    st->own = st->buf = st->map = NULL;
}

/*
 * One record of quote-free text at p, parsed as libcsv parses it (the
 * same callbacks, so the same column logic and errors): spaces and tabs
 * around a field are dropped, a CR or an LF ends the record, and a line
 * of nothing but blanks is no record.  The field's end is overwritten
 * with its NUL (the text is ours and already scanned).  Returns the
 * start of the next record; e is past a line break, or the end of the
 * file, where a last record may lack one.  NULL if the record holds a
 * quote: it is libcsv's then, and no callback has seen it.
 */
static char *gen_record(struct orri_csv_loader *ld, char *p, char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p == e)
        return p;
    if (*p == '\r' || *p == '\n')
        return p + 1;
    const char *end = p;
    while (end < e && *end != '\r' && *end != '\n')
        end++;
    if (memchr(p, '"', (size_t)(end - p)))
        return NULL;
    for (;;) {
        char *f = p;
        while (p < e && *p != ',' && *p != '\r' && *p != '\n')
            p++;
        char *fe = p;
        while (fe > f && (fe[-1] == ' ' || fe[-1] == '\t'))
            fe--;
        char t = p < e ? *p : '\0';
        *fe = '\0';
        cb_field(f, (size_t)(fe - f), ld);
        if (t != ',') {
            cb_row(t, ld);
            return t ? p + 1 : p;
        }
        p++;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
    }
}

/* Every column's kind decided: the rows can take the tight loop below. */
static int all_decided(const struct orri_csv_loader *ld)
{
    if (!ld->header_done || !ld->n_cols)
        return 0;
    for (size_t i = 0; i < ld->n_cols; i++)
        if (ld->cols[i].kind == K_UNDECIDED)
            return 0;
    return 1;
}

/*
 * Rows straight into their columns, while each row is exactly n fields
 * separated by commas and ended by a line break, each a number in a
 * numeric column or a label in a categorical one, with room in the
 * columns.  Such a row is what gen_record + data_field would make of it
 * (a number is never a missing spelling; no blank surrounds either), so
 * anything else - a blank, a missing value, a label in a numeric column,
 * a short or long row, an overflow in a declared numeric column, an
 * overlong label, a quote, the end of the text - stops the loop at that row's
 * start, and gen_record takes it.  Values written for a row that then
 * stops are written again by gen_record, and the labels it interned are
 * the ones gen_record interns first, in the same order.
 */
static char *decided_rows(struct orri_csv_loader *ld, char *p, char *e, size_t most)
{
    size_t n = ld->n_cols, r = ld->rows, cap = ld->cap, done = 0;
    struct orri_csv_col *cols = ld->cols;
    while (p < e && r < cap && done < most) {
        const char *q = p;
        size_t c;
        char t = 0;
        for (c = 0; c < n; c++) {
            struct orri_csv_col *col = &cols[c];
            const char *g;
            if (col->kind == K_NUM) {
                double d;
                if (!(g = orri_scan_number(q, &d)) ||
                    (col->declared_num && isinf(d)))
                    break;          /* (the latter: data_field's error) */
                col->num[r] = d;
            } else {
                for (g = q; g < e && *g != ',' && *g != '\n' &&
                            *g != '\r' && *g != '"'; g++)
                    ;
                size_t len = (size_t)(g - q);
                if (g == e || !len || *q == ' ' || *q == '\t' ||
                    g[-1] == ' ' || g[-1] == '\t' || is_missing(q, len) ||
                    len >= LABEL_MAX)
                    break;
                int32_t code = intern(col, q, len);
                if (code < 0)
                    break;
                col->codes[r] = code;
            }
            t = *g;
            if (c + 1 < n ? t != ',' : t != '\n' && t != '\r')
                break;
            q = g + 1;
        }
        if (c < n)
            break;
        if (t == '\r' && q < e && *q == '\n')
            q++;                    /* CRLF: libcsv skips the LF as blank */
        p = (char *)q;
        r++;
        done++;
    }
    ld->rows = r;
    ld->record += done;
    return p;
}

/* The AVX-512 row loop lives in csv_avx512.c. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(ORR_NO_SIMD)
#define CSV_VBMI 1
#else
#define CSV_VBMI 0
#endif

static int simd_cpu(void)
{
#if CSV_VBMI
    return orri_csv_avx512_cpu();
#else
    return 0;
#endif
}

#if CSV_VBMI
/* Every column numeric: the rows can take the AVX-512 loop. */
static int all_numeric(const struct orri_csv_loader *ld)
{
    for (size_t i = 0; i < ld->n_cols; i++)
        if (ld->cols[i].kind != K_NUM)
            return 0;
    return ld->n_cols > 0;
}
#endif

/* Rows by the fastest loop this CPU has: AVX-512 where it applies, the
 * scalar loop for each row that one leaves (the last of the text, or one
 * it stops at), else the scalar loop alone. */
static char *fast_rows(struct orri_csv_loader *ld, char *p, char *e)
{
#if CSV_VBMI
    if (simd_level > 0 && all_numeric(ld)) {
        for (;;) {
            char *q = orri_csv_rows_avx512(ld, p, e);
            char *s = decided_rows(ld, q, e, 1);
            if (s == q)
                return q;
            p = s;
        }
    }
#endif
    return decided_rows(ld, p, e, SIZE_MAX);
}

/* Parse the records in [p, e) up to the first with a quote; returns
 * its start (e if none, or where an error stopped). */
static char *parse_text(struct orri_csv_loader *ld, char *p, char *e)
{
    int decided = all_decided(ld);
    while (p < e && !ld->err) {
        if (decided) {
            if (ld->rows == ld->cap && grow(ld))
                return p;
            char *q = fast_rows(ld, p, e);
            if (q != p) {
                p = q;
                continue;
            }
        }
        char *next = gen_record(ld, p, e);
        if (!next)
            return p;
        p = next;
        decided = all_decided(ld);
    }
    return p;
}

/* The last CR or LF in b[from..n) (a few hundred bytes back, usually),
 * or NULL. */
static const char *last_break(const char *b, size_t from, size_t n)
{
    while (n-- > from)
        if (b[n] == '\n' || b[n] == '\r')
            return b + n;
    return NULL;
}

/* Parse what the stream holds: the complete records, or all of it at
 * the end of the part (`last`).  The rest stays for the next read.  The
 * text held before this read (b[0..fresh_from)) has no line break: it is
 * what was left after the last one. */
static void process(struct orri_csv_loader *ld, struct stream *st, size_t fresh_from,
                    int last)
{
    char *b = st->buf;
    size_t n = st->len, end = n;
    if (!last && fast_path) {
        const char *nl = last_break(b, fresh_from, n);
        end = nl ? (size_t)(nl - b) + 1 : 0;
    }
    if (fast_path && !st->in_lib) {
        if (end == n && !st->map)
            b[end] = '\0';          /* within PAD: a last field's NUL */
        size_t at = (size_t)(parse_text(ld, b, b + end) - b);
        ld->fast_bytes += at;
        if (at < end && !ld->err) {   /* a quote: libcsv from there */
            feed(ld, &st->p, b + at, end - at);
            if (!between(&st->p)) {
                feed(ld, &st->p, b + end, n - end);
                end = n;
            }
            st->in_lib = !between(&st->p);
        }
    } else {
        feed(ld, &st->p, b, end);
        if (!between(&st->p)) {     /* inside a record: all to libcsv */
            feed(ld, &st->p, b + end, n - end);
            end = n;
        }
        st->in_lib = !between(&st->p);
    }
    st->used += end;
    if (st->map)
        release(st, end);
    else
        memmove(b, b + end, n - end);
    st->len = n - end;
}

/* Once the first records are in, size the columns for the rest of the
 * range from the bytes per record so far: one allocation instead of a
 * doubling series (untouched room costs address space, not memory). */
static void estimate(struct orri_csv_loader *ld, struct stream *st, off_t pos)
{
    off_t limit = st->limit;
    if (st->estimated || !ld->header_done || ld->rows < 64 || !limit ||
        ld->err)
        return;
    st->estimated = 1;
    size_t per = st->used / ld->record + 1;
    size_t left = (limit > pos ? (size_t)(limit - pos) : 0) + st->len;
    size_t want = ld->rows + left / per + left / per / 32 + 64;
    if (want > ld->cap)
        (void)resize(ld, want, 1);  /* else the columns double as needed */
}

/* Read fd from *pos up to `to` (or EOF when to is -1) through the stream,
 * with pread when `positioned` (the second part shares the descriptor). */
static int read_range(struct orri_csv_loader *ld, struct stream *st, int fd,
                      off_t *pos, off_t to, int positioned)
{
    positioned |= st->positioned;
    while (!ld->err && (to < 0 || *pos < to)) {
        if (st->map) {
            /* the next chunk of the mapping, as if read */
            off_t lim = to >= 0 && to < st->map_end ? to : st->map_end;
            if (*pos >= lim) {
                if (to_buffer(ld, st))
                    break;
                continue;
            }
            size_t held = st->len, want = chunk;
            if ((off_t)want > lim - *pos)
                want = (size_t)(lim - *pos);
            st->len += want;
            *pos += (off_t)want;
            prefault(st);
            prefault_rows(ld, st);
            process(ld, st, held, 0);
            estimate(ld, st, *pos);
            continue;
        }
        if (st->cap - st->len < chunk) {
            /* a record longer than a chunk: keep it whole */
            size_t cap = st->len + chunk > 2 * st->cap ?
                         st->len + chunk : 2 * st->cap;
            char *b = realloc(st->own, cap + PAD);
            if (!b)
                return oom(ld);
            st->own = st->buf = b;
            st->cap = cap;
        }
        size_t want = chunk;
        if (to >= 0 && (off_t)want > to - *pos)
            want = (size_t)(to - *pos);
        char *at = st->buf + st->len;
        ssize_t n = positioned ? pread(fd, at, want, *pos) :
                                 read(fd, at, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(ld->err_what, sizeof ld->err_what, "read %s: %s",
                     ld->display, strerror(errno));
            ld->err_record = 0;
            ld->err = ORR_EIO;
            emit(ld, 0);
            break;
        }
        if (n == 0)
            break;
        *pos += n;
        size_t held = st->len;
        st->len += (size_t)n;
        memset(st->buf + st->len, 0, PAD);
        prefault_rows(ld, st);
        process(ld, st, held, 0);
        estimate(ld, st, *pos);
    }
    return ld->err;
}

/* The end of the part: its last record, then libcsv's own end. */
static int stream_finish(struct orri_csv_loader *ld, struct stream *st)
{
    if (!ld->err && st->len && (!st->map || !to_buffer(ld, st)))
        process(ld, st, 0, 1);
    return finish(ld, &st->p);
}

/* The second part: a loader with the first part's header, its own
 * stream, its own error slot. */
struct part {
    struct orri_csv_loader     ld;
    struct orr_error  e;
    int               fd;
    off_t             from, to;
    struct stream     st;
};

static void *part_main(void *arg)
{
    struct part *pt = arg;
    off_t pos = pt->from;
    if (!read_range(&pt->ld, &pt->st, pt->fd, &pos, pt->to, 1))
        stream_finish(&pt->ld, &pt->st);
    return NULL;
}

static int clone_header(struct orri_csv_loader *b, const struct orri_csv_loader *a)
{
    b->cols = calloc(a->n_cols ? a->n_cols : 1, sizeof *b->cols);
    if (!b->cols)
        return oom(b);
    b->n_cols = a->n_cols;
    for (size_t i = 0; i < a->n_cols; i++) {
        struct orri_csv_col *c = &b->cols[i];
        if (!(c->name = strdup(a->cols[i].name)))
            return oom(b);
        c->force_cat = a->cols[i].force_cat;
        c->declared_num = a->cols[i].declared_num;
        c->kind = c->force_cat ? K_CAT : K_UNDECIDED;
    }
    b->header_done = 1;
    return ORR_OK;
}
/*
 * Lending.  Appending the second part's rows used to mean copying them
 * into fresh memory behind the first part's (a 1 GB file: 400 MB written
 * and faulted in once more).  Instead, before the second part starts, the
 * first part's number columns move to arrays with room for the whole
 * file, and the second part writes its numbers into those same arrays
 * from row `at`: an estimate, with a margin, of where the first part
 * ends.  The merge then moves them down by the rows the margin left over.
 * The first part never writes at or past `at` meanwhile: that is its
 * capacity, and a part whose room runs out (an estimate too low) moves
 * its numbers to arrays of its own first (unlend), leaving the shared
 * ones in place for the other.  The arrays belong to the split until the
 * join, when the first part takes back those it still writes (adopt).
 */
struct lend {
    double **shared;            /* per column: the array, or NULL        */
    size_t   at;                /* the second part's first row in it     */
    size_t   cap;               /* rows in each array                    */
    double **old;               /* the first part's arrays, until copied */
    size_t   keep;              /* rows of them to copy                  */
};

/* Where the first part will end and the size of the table, from the
 * bytes per record so far, each with a 1/32 margin.  The second part
 * starts on a multiple of 8 rows: on a cache line of the (aligned)
 * arrays, neither part writes to a line of the other's. */
static void lend_plan(const struct orri_csv_loader *a, const struct stream *st,
                      size_t a_bytes, size_t b_bytes, struct lend *l)
{
    size_t per = st->used / a->record + 1;
    l->at = a->rows + a_bytes / per + a_bytes / per / 32 + 64;
    if (l->at < a->cap)
        l->at = a->cap;
    l->at += -l->at & 7;
    l->cap = l->at + b_bytes / per + b_bytes / per / 32 + 64;
}

/* The first part takes (back) the shared arrays it still writes. */
static void adopt_arrays(struct orri_csv_loader *a, struct lend *l)
{
    for (size_t i = 0; i < a->n_cols; i++) {
        struct orri_csv_col *c = &a->cols[i];
        if (l->shared[i] && c->lent && c->num == l->shared[i]) {
            c->lent = 0;
            l->shared[i] = NULL;
        }
    }
}

/* After the join: the first part owns its arrays again, with room for
 * l->cap rows in every column (the second part's rows still in them). */
static int adopt(struct orri_csv_loader *a, struct lend *l)
{
    int rc = ORR_OK;
    if (a->cap < l->cap) {          /* else it unlent and grew past it */
        for (size_t i = 0; !rc && i < a->n_cols; i++) {
            struct orri_csv_col *c = &a->cols[i];
            /* a lent array has the room already, not its mask */
            rc = c->lent ? miss_resize(c, a->cap, l->cap) :
                           col_resize(a, c, l->cap);
        }
        if (!rc)
            a->cap = l->cap;
    }
    adopt_arrays(a, l);
    return rc ? oom(a) : ORR_OK;
}

/* The first part's rows so far into the shared arrays.  Done once the
 * second part runs: the copy faults in the arrays' first pages, which
 * would otherwise delay its start. */
static void lend_settle(struct lend *l, size_t n)
{
    for (size_t i = 0; l->old && i < n; i++) {
        if (l->old[i])
            memcpy(l->shared[i], l->old[i], l->keep * sizeof **l->old);
        free(l->old[i]);
    }
    free(l->old);
    l->old = NULL;
}

/* Lend: the first part's number columns move to shared arrays of l->cap
 * rows (its others get room for l->at rows, its capacity while the
 * second part runs).  Runs before the second part starts. */
static int lend_out(struct orri_csv_loader *a, struct lend *l)
{
    size_t n = a->n_cols ? a->n_cols : 1;
    if (!(l->shared = calloc(n, sizeof *l->shared)) ||
        !(l->old = calloc(n, sizeof *l->old)))
        return oom(a);
    /* the rows so far, and a record begun (libcsv may be inside one) */
    l->keep = a->rows < a->cap ? a->rows + 1 : a->cap;
    for (size_t i = 0; i < a->n_cols; i++) {
        struct orri_csv_col *c = &a->cols[i];
        if (c->kind == K_CAT) {
            if (col_resize(a, c, l->at))
                goto fail;
            continue;
        }
        double *p = orri_col_alloc(l->cap * sizeof *p);
        if (!p || miss_resize(c, a->cap, l->at)) {
            free(p);
            goto fail;
        }
        l->old[i] = c->num;
        c->num = l->shared[i] = p;
        c->lent = 1;
    }
    a->cap = l->at;
    a->ready = 0;
    return ORR_OK;
fail:
    lend_settle(l, a->n_cols);
    adopt_arrays(a, l);
    return oom(a);
}

/* The second part's columns: the shared arrays from row l->at, arrays of
 * its own for the rest. */
static int lend_in(struct orri_csv_loader *b, const struct lend *l)
{
    for (size_t i = 0; i < b->n_cols; i++) {
        struct orri_csv_col *c = &b->cols[i];
        if (l->shared[i] && c->kind != K_CAT) {   /* (else a mixed one) */
            c->num = l->shared[i] + l->at;
            c->lent = 1;
        } else if (col_resize(b, c, l->cap - l->at)) {
            return oom(b);
        }
    }
    b->cap = l->cap - l->at;
    return ORR_OK;
}

/* The shared arrays nobody adopted. */
static void lend_free(struct lend *l, size_t n)
{
    lend_settle(l, n);
    for (size_t i = 0; l->shared && i < n; i++)
        free(l->shared[i]);
    free(l->shared);
    l->shared = NULL;
}

/* The second part's numbers moved behind the first part's, every other
 * column from `first`: two threads share them.  Numbers the second part
 * wrote into the first's own (lent) array move down by the rows the
 * estimate left over, if any; memmove, as the ranges overlap then. */
struct copy_job {
    struct orri_csv_loader *a, *b;
    size_t         first;
};

static void *copy_columns(void *arg)
{
    struct copy_job *j = arg;
    for (size_t i = j->first; i < j->a->n_cols; i += 2) {
        struct orri_csv_col *ca = &j->a->cols[i], *cb = &j->b->cols[i];
        if (ca->kind == K_CAT || cb->kind == K_CAT || !cb->num)
            continue;
        if (ca->num + j->a->rows != cb->num) {
            /* the rows the estimate left over, when both parts' rows
             * lie in this array: never written, faulted in at once */
            uintptr_t to = (uintptr_t)cb->num,
                      gap = (uintptr_t)(ca->num + j->a->rows);
            if (cb->lent && to > gap &&
                to < (uintptr_t)(ca->num + j->a->cap))
                orri_col_populate(ca->num + j->a->rows, cb->num);
            memmove(ca->num + j->a->rows, cb->num,
                    j->b->rows * sizeof *cb->num);
        }
        drop_num(cb);
    }
    return NULL;
}

/* Append the second part's rows to the first's (see the file comment).
 * A column that is numbers in one part and labels in the other is mixed:
 * the file is read again with it categorical, like a one-part mix. */
static int merge(struct orri_csv_loader *a, struct orri_csv_loader *b)
{
    for (size_t i = 0; i < a->n_cols; i++) {
        struct orri_csv_col *ca = &a->cols[i], *cb = &b->cols[i];
        if (cb->mixed || (ca->kind == K_NUM && cb->kind == K_CAT) ||
            (ca->kind == K_CAT && cb->kind == K_NUM)) {
            ca->mixed = ca->force_cat = 1;
            a->restart = 1;
        }
    }
    if (a->restart || !b->rows)
        return ORR_OK;
    size_t total = a->rows + b->rows;
    if (total > a->cap && reserve(a, total))
        return a->err;
    struct copy_job even = {a, b, 0}, odd = {a, b, 1};
    pthread_t th;
    int helper = !pthread_create(&th, NULL, copy_columns, &odd);
    copy_columns(&even);
    if (helper)
        pthread_join(th, NULL);
    else
        copy_columns(&odd);
    for (size_t i = 0; i < a->n_cols; i++) {
        struct orri_csv_col *ca = &a->cols[i], *cb = &b->cols[i];
        if (cb->kind == K_CAT && ca->kind != K_CAT &&
            to_category(a, ca, a->rows))
            return a->err;
        if (ca->kind == K_CAT) {
            int32_t *map = malloc((cb->n_labels ? cb->n_labels : 1) *
                                  sizeof *map);
            if (!map)
                return oom(a);
            for (size_t l = 0; l < cb->n_labels; l++)
                if ((map[l] = intern(ca, cb->labels[l],
                                     strlen(cb->labels[l]))) < 0) {
                    free(map);
                    return oom(a);
                }
            for (size_t r = 0; r < b->rows; r++)
                ca->codes[a->rows + r] = cb->kind != K_CAT ||
                    cb->codes[r] < 0 ? -1 : map[cb->codes[r]];
            free(map);
        } else {
            if (cb->num && ca->num + a->rows != cb->num)
                memmove(ca->num + a->rows, cb->num,   /* else done above */
                        b->rows * sizeof *cb->num);
            if (ca->kind == K_UNDECIDED)
                ca->kind = cb->kind;
        }
        if (cb->miss) {
            if (!ca->miss && !(ca->miss = calloc(a->cap, 1)))
                return oom(a);
            memcpy(ca->miss + a->rows, cb->miss, b->rows);
        }
        /* Give each column back as soon as it is copied: the peak stays
         * near the final table instead of table + second part. */
        drop_num(cb);
        free(cb->codes);
        free(cb->miss);
        cb->codes = NULL;
        cb->miss = NULL;
    }
    a->rows = total;
    a->record += b->record - 1;
    return ORR_OK;
}

/* Offset just past the first line break at or after `from`, or -1. */
static off_t line_after(int fd, off_t from, off_t size)
{
    char buf[4096];
    while (from < size) {
        size_t want = size - from < (off_t)sizeof buf ?
                      (size_t)(size - from) : sizeof buf;
        ssize_t n = pread(fd, buf, want, from);
        if (n <= 0)
            return -1;
        const char *nl = memchr(buf, '\n', (size_t)n);
        if (nl)
            return from + (nl - buf) + 1;
        from += n;
    }
    return -1;
}

/* Parse [pos, size) of a regular file with the second part from the line
 * after the middle.  *done is set when the second part's rows were taken
 * (the file is then fully read). */
static int parse_split(struct orri_csv_loader *ld, struct stream *st, int fd,
                       off_t *pos, off_t size, int *done)
{
    *done = 0;
    off_t mid = *pos > size / 2 ? *pos : size / 2;
    off_t split = line_after(fd, mid, size);
    if (split <= *pos || split >= size)
        return ORR_OK;
    struct part pt = {.ld = {.display = ld->display, .opt = ld->opt,
                             .record = 1},
                      .fd = fd, .from = split, .to = size};
    pt.ld.e = &pt.e;
    pthread_t th;
    if (stream_init(&pt.st)) {
        loader_reset(&pt.ld);
        return ORR_OK;                  /* one thread then */
    }
    pt.st.limit = size;
    stream_map(&pt.st, fd, split, size);
    struct lend l = {0};
    lend_plan(ld, st, (size_t)(split - *pos) + st->len,
              (size_t)(size - split), &l);
    if (lend_out(ld, &l))
        goto out;
    /* Both sized for their ranges already: no estimate()'s resize. */
    st->estimated = pt.st.estimated = 1;
    if (clone_header(&pt.ld, ld) || lend_in(&pt.ld, &l) ||
        pthread_create(&th, NULL, part_main, &pt)) {
        lend_settle(&l, ld->n_cols);
        adopt(ld, &l);                  /* and one thread */
        goto out;
    }
    lend_settle(&l, ld->n_cols);
    st->limit = split;
    read_range(ld, st, fd, pos, split, 0);
    pthread_join(th, NULL);
    last_unlent = ld->unlent | pt.ld.unlent << 1;
    st->limit = size;
    adopt(ld, &l);
    /* The guess holds iff our parser stands between records there. */
    if (!ld->err && !st->len && between(&st->p)) {
        if (pt.ld.err) {
            ld->err = pt.ld.err;
            ld->err_record = pt.ld.err_record;
            if (ld->err_record)
                ld->err_record += ld->record - 1;
            memcpy(ld->err_col, pt.ld.err_col, sizeof ld->err_col);
            memcpy(ld->err_what, pt.ld.err_what, sizeof ld->err_what);
            emit(ld, 0);
        } else {
            merge(ld, &pt.ld);
            ld->fast_bytes += pt.ld.fast_bytes;
            ld->simd_rows += pt.ld.simd_rows;
        }
        *done = 1;
    }
out:
    stream_free(&pt.st);
    loader_reset(&pt.ld);
    lend_free(&l, ld->n_cols);
    return ld->err;
}

static int parse_file(struct orri_csv_loader *ld, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return orr_fail(ld->e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "cannot open %s: %s", path, strerror(errno));
    struct stream st;
    if (stream_init(&st)) {
        close(fd);
        return orr_fail(ld->e, ORR_ENOMEM, "out of memory");
    }
    struct stat sb;
    off_t pos = 0;
    int done = 0, regular = !fstat(fd, &sb) && S_ISREG(sb.st_mode);
    last_split = last_unlent = 0;
    ld->unlent = 0;
    ld->fast_bytes = 0;
    ld->simd_rows = 0;
    if (regular)
        stream_map(&st, fd, 0, sb.st_size);
    if (regular && (size_t)sb.st_size >= parallel_min &&
        sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        /* The header first (the second part needs the columns), in
         * pieces small enough to leave a second part in small files. */
        off_t before = -1, piece = sb.st_size / 8 + 1;
        if (piece > (off_t)chunk)
            piece = (off_t)chunk;
        while (!ld->err && !ld->header_done && pos < sb.st_size &&
               pos != before) {
            before = pos;
            read_range(ld, &st, fd, &pos, pos + piece, 0);
        }
        if (!ld->err && ld->header_done)
            parse_split(ld, &st, fd, &pos, sb.st_size, &done);
    }
    if (regular)
        st.limit = sb.st_size;
    last_split = done;
    if (!done)
        read_range(ld, &st, fd, &pos, -1, 0);
    stream_finish(ld, &st);
    last_fast = ld->fast_bytes;
    last_simd = ld->simd_rows;
    stream_free(&st);
    close(fd);
    if (ld->err)
        return ld->err;
    if (!ld->header_done)
        return orr_fail(ld->e, ORR_EINVAL, "%s: empty file (no header line)",
                        ld->display);
    if (ld->rows == 0)
        return orr_fail(ld->e, ORR_EINVAL, "%s: no data rows after the "
                        "header", ld->display);
    return ORR_OK;
}

/* Move the loader's columns into a dataset. */
static int build(struct orri_csv_loader *ld, struct orr_dataset **out,
                 struct orr_error *e)
{
    size_t nc = ld->n_cols, rows = ld->rows;
    struct orr_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    ds->cols = calloc(nc, sizeof *ds->cols);
    ds->f64 = calloc(nc, sizeof *ds->f64);
    ds->codes = calloc(nc, sizeof *ds->codes);
    ds->missing = calloc(nc, sizeof *ds->missing);
    ds->dict = calloc(nc, sizeof *ds->dict);
    ds->names = calloc(nc, sizeof *ds->names);
    if (!ds->cols || !ds->f64 || !ds->codes || !ds->missing || !ds->dict ||
        !ds->names) {
        orr_dataset_free(ds);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    ds->view.size = sizeof ds->view;
    ds->view.rows = rows;
    ds->view.cols = nc;
    ds->view.columns = ds->cols;
    ds->view.target = ORR_NO_TARGET;
    for (size_t i = 0; rows && rows < ld->cap && i < nc; i++) {
        /* Give back the room of the estimate or the last doubling. */
        struct orri_csv_col *c = &ld->cols[i];
        void *p;
        if (c->num && (p = realloc(c->num, rows * sizeof *c->num)))
            c->num = p;
        if (c->codes && (p = realloc(c->codes, rows * sizeof *c->codes)))
            c->codes = p;
        if (c->miss && (p = realloc(c->miss, rows)))
            c->miss = p;
    }
    for (size_t i = 0; i < nc; i++) {
        struct orri_csv_col *c = &ld->cols[i];
        struct orr_column *v = &ds->cols[i];
        v->size = sizeof *v;
        ds->names[i] = c->name;
        c->name = NULL;
        v->name = ds->names[i];
        ds->missing[i] = c->miss;
        c->miss = NULL;
        v->missing = ds->missing[i];
        if (c->kind == K_CAT) {
            ds->codes[i] = c->codes;
            c->codes = NULL;
            v->type = ORR_COL_CATEGORY;
            v->data = ds->codes[i];
            ds->dict[i] = c->labels;
            v->dict = (const char *const *)c->labels;
            v->dict_len = c->n_labels;
            c->labels = NULL;
            c->n_labels = 0;
        } else {
            ds->f64[i] = c->num;
            c->num = NULL;
            v->type = ORR_COL_F64;
            v->data = ds->f64[i];
        }
    }
    ds->view.cols = nc;
    *out = ds;
    return ORR_OK;
}

ORR_API int orr_dataset_load_csv(const char *path,
                                 const struct orr_csv_options *opt,
                                 struct orr_dataset **out,
                                 struct orr_error *e)
{
    static const struct orr_csv_options none = {0};
    *out = NULL;
    if (!opt)
        opt = &none;
    const char *slash = strrchr(path, '/');
    struct orri_csv_loader ld = {
        .display = opt->display ? opt->display : slash ? slash + 1 : path,
        .opt = opt,
        .e = e,
        .record = 1,
    };
    pthread_once(&simd_once, simd_default);
    int rc = parse_file(&ld, path);
    if (!rc && ld.restart) {
        /* Second (and last) pass with the mixed columns categorical. */
        size_t n = 0;
        ld.forced = calloc(ld.n_cols, sizeof *ld.forced);
        if (!ld.forced)
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < ld.n_cols; i++)
            if (ld.cols[i].mixed) {
                ld.forced[n++] = ld.cols[i].name;
                ld.cols[i].name = NULL;
            }
        ld.n_forced = n;
        if (!rc) {
            loader_reset(&ld);
            rc = parse_file(&ld, path);
        }
    }
    struct orr_dataset *ds = NULL;
    if (!rc)
        rc = build(&ld, &ds, e);
    if (!rc && opt->target)
        rc = orr_dataset_set_target(ds, opt->target, e);
    if (!rc && !(ds->source = strdup(ld.display)))
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ld.n_forced; i++)
        free(ld.forced[i]);
    free(ld.forced);
    loader_reset(&ld);
    if (rc) {
        orr_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return ORR_OK;
}
