/*
 * data/csv.c - streaming CSV loading into a dataset (see data/table.h).
 *
 * The file is read in 1 MiB chunks through libcsv, and each field goes
 * straight into its column: the text is never held whole.  Column types
 * are decided on the fly: a column stays numeric while every present
 * value parses as a number.  A column that meets a label after numbers is
 * marked categorical and the file is read once more (only then), because
 * turning parsed doubles back into their original text would not be
 * faithful ("1.50" is not "1.5").
 *
 * Large regular files are parsed by two threads, each with its own libcsv
 * parser and its own columns: the first from the start, the second from
 * the record boundary after the middle of the file.  That boundary is a
 * guess (a line break may sit inside a quoted field), checked afterwards
 * by the first parser itself: when it has consumed exactly up to the
 * boundary, its state must be "no record begun" (a line break inside
 * quotes leaves it inside a field).  If so, the second part's columns are
 * appended (its labels re-coded into the first part's dictionaries in
 * order of first appearance, its errors renumbered after the first
 * part's records); if not, its work is dropped and the first parser reads
 * on alone.  Either way the result, errors included, is the one-thread
 * parse's.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

#include "data/csv_internal.h"
#include "data/numparse.h"
#include "data/table.h"
#include "util/error.h"

#define CHUNK      ((size_t)1 << 20)
#define MAX_COLS   ((size_t)1 << 20)
#define LABEL_MAX  ((size_t)1 << 16)

enum kind { K_UNDECIDED = 0, K_NUM, K_CAT };

struct bcol {
    char     *name;
    enum kind kind;
    int       force_cat;     /* declared, or found in the previous pass   */
    int       declared_num;
    int       mixed;         /* numbers then a label: read again as labels */
    double   *num;
    int32_t  *codes;
    uint8_t  *miss;
    char    **labels;
    size_t    n_labels, cap_labels;
    uint32_t *slots;         /* label hash index: code + 1, 0 = empty     */
    size_t    n_slots;
};

struct loader {
    const char            *display;
    const struct orr_csv_options *opt;
    struct orr_error      *e;
    int                    err;
    int                    restart;     /* a numeric column met a label    */
    size_t                 record;      /* 1-based record being parsed     */
    size_t                 field;       /* field index in the record       */
    int                    header_done;
    char                 **hdr;
    size_t                 n_hdr, cap_hdr;
    struct bcol           *cols;
    size_t                 n_cols;
    size_t                 rows, cap;
    char                 **forced;      /* names forced categorical (pass 2) */
    size_t                 n_forced;
    /* The first error, kept in parts so a second part's record number
     * can be renumbered once the first part's record count is known. */
    size_t                 err_record;  /* 0: the message has no record    */
    char                   err_col[256];
    char                   err_what[512];
};

/* Files at least this large are parsed by two threads (when the machine
 * has two CPUs); the tests lower it to exercise the split on small files. */
static size_t parallel_min = (size_t)16 << 20;

/* Whether this thread's last load took a second part's rows (tests). */
static _Thread_local int last_split;

void orri_csv_set_parallel_min(size_t bytes)
{
    parallel_min = bytes;
}

int orri_csv_last_split(void)
{
    return last_split;
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

static int fail_at(struct loader *ld, int code, const char *col,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Format the stored error into ld->e, its record `base` records on. */
static void emit(struct loader *ld, size_t base)
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

static int fail_at(struct loader *ld, int code, const char *col,
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

static int oom(struct loader *ld)
{
    snprintf(ld->err_what, sizeof ld->err_what, "%s: out of memory",
             ld->display);
    ld->err_record = 0;
    ld->err = ORR_ENOMEM;
    emit(ld, 0);
    return ORR_ENOMEM;
}

/* Code of `label` in column c, adding it if new; -1 on ENOMEM. */
static int32_t intern(struct bcol *c, const char *s, size_t len)
{
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

/* Room for `cap` rows in every column (cap > ld->cap). */
static int reserve(struct loader *ld, size_t cap)
{
    for (size_t i = 0; i < ld->n_cols; i++) {
        struct bcol *c = &ld->cols[i];
        if (c->kind == K_CAT) {
            int32_t *p = realloc(c->codes, cap * sizeof *p);
            if (!p)
                return oom(ld);
            c->codes = p;
        } else {
            double *p = realloc(c->num, cap * sizeof *p);
            if (!p)
                return oom(ld);
            c->num = p;
        }
        if (c->miss) {
            uint8_t *p = realloc(c->miss, cap);
            if (!p)
                return oom(ld);
            memset(p + ld->cap, 0, cap - ld->cap);
            c->miss = p;
        }
    }
    ld->cap = cap;
    return ORR_OK;
}

static int grow(struct loader *ld)
{
    return reserve(ld, ld->cap ? ld->cap * 2 : 1024);
}

static int mark_missing(struct loader *ld, struct bcol *c, size_t row)
{
    if (!c->miss && !(c->miss = calloc(ld->cap, 1)))
        return oom(ld);
    c->miss[row] = 1;
    return ORR_OK;
}

/* A column of only missing values so far becomes categorical. */
static int to_category(struct loader *ld, struct bcol *c, size_t row)
{
    int32_t *codes = malloc(ld->cap * sizeof *codes);
    if (!codes)
        return oom(ld);
    for (size_t i = 0; i < row; i++)
        codes[i] = -1;
    free(c->num);
    c->num = NULL;
    c->codes = codes;
    c->kind = K_CAT;
    return ORR_OK;
}

static int header_field(struct loader *ld, const char *s, size_t len)
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

static int finish_header(struct loader *ld)
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
        struct bcol *c = &ld->cols[i];
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

static int data_field(struct loader *ld, const char *s, size_t len)
{
    size_t f = ld->field;
    if (f >= ld->n_cols)
        return ORR_OK;              /* counted; reported at end of row */
    if (ld->rows == ld->cap && grow(ld))
        return ld->err;
    struct bcol *c = &ld->cols[f];
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
    struct loader *ld = data;
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
    struct loader *ld = data;
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

static void bcol_free(struct bcol *c)
{
    free(c->name);
    free(c->num);
    free(c->codes);
    free(c->miss);
    for (size_t i = 0; i < c->n_labels; i++)
        free(c->labels[i]);
    free(c->labels);
    free(c->slots);
}

static void loader_reset(struct loader *ld)
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
static int feed(struct loader *ld, struct csv_parser *p, const char *buf,
                size_t n)
{
    if (csv_parse(p, buf, n, cb_field, cb_row, ld) != n && !ld->err)
        fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                csv_strerror(csv_error(p)));
    return ld->err;
}

static int finish(struct loader *ld, struct csv_parser *p)
{
    if (!ld->err && csv_fini(p, cb_field, cb_row, ld) && !ld->err)
        fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                csv_strerror(csv_error(p)));
    return ld->err;
}

/* Read fd from *pos up to `to` (or EOF when to is -1) through the parser,
 * with pread when `positioned` (the second part shares the descriptor). */
static int read_range(struct loader *ld, struct csv_parser *p, int fd,
                      off_t *pos, off_t to, int positioned, char *buf)
{
    while (!ld->err && (to < 0 || *pos < to)) {
        size_t want = CHUNK;
        if (to >= 0 && (off_t)want > to - *pos)
            want = (size_t)(to - *pos);
        ssize_t n = positioned ? pread(fd, buf, want, *pos) :
                                 read(fd, buf, want);
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
        feed(ld, p, buf, (size_t)n);
    }
    return ld->err;
}

/* The second part: a loader with the first part's header, its own
 * parser, its own error slot. */
struct part {
    struct loader     ld;
    struct orr_error  e;
    int               fd;
    off_t             from, to;
    char             *buf;
};

static void *part_main(void *arg)
{
    struct part *pt = arg;
    struct csv_parser p;
    if (csv_init(&p, CSV_OPTIONS)) {
        oom(&pt->ld);
        return NULL;
    }
    off_t pos = pt->from;
    if (!read_range(&pt->ld, &p, pt->fd, &pos, pt->to, 1, pt->buf))
        finish(&pt->ld, &p);
    csv_free(&p);
    return NULL;
}

static int clone_header(struct loader *b, const struct loader *a)
{
    b->cols = calloc(a->n_cols ? a->n_cols : 1, sizeof *b->cols);
    if (!b->cols)
        return oom(b);
    b->n_cols = a->n_cols;
    for (size_t i = 0; i < a->n_cols; i++) {
        struct bcol *c = &b->cols[i];
        if (!(c->name = strdup(a->cols[i].name)))
            return oom(b);
        c->force_cat = a->cols[i].force_cat;
        c->declared_num = a->cols[i].declared_num;
        c->kind = c->force_cat ? K_CAT : K_UNDECIDED;
    }
    b->header_done = 1;
    return ORR_OK;
}

/* Append the second part's rows to the first's (see the file comment).
 * A column that is numbers in one part and labels in the other is mixed:
 * the file is read again with it categorical, like a one-part mix. */
static int merge(struct loader *a, struct loader *b)
{
    for (size_t i = 0; i < a->n_cols; i++) {
        struct bcol *ca = &a->cols[i], *cb = &b->cols[i];
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
    for (size_t i = 0; i < a->n_cols; i++) {
        struct bcol *ca = &a->cols[i], *cb = &b->cols[i];
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
            memcpy(ca->num + a->rows, cb->num, b->rows * sizeof *cb->num);
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
        free(cb->num);
        free(cb->codes);
        free(cb->miss);
        cb->num = NULL;
        cb->codes = NULL;
        cb->miss = NULL;
    }
    a->rows = total;
    a->record += b->record - 1;
    return ORR_OK;
}

/* Offset just past the first line break at or after `from`, or -1. */
static off_t line_after(int fd, off_t from, off_t size, char *buf)
{
    while (from < size) {
        size_t want = size - from < 65536 ? (size_t)(size - from) : 65536;
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
static int parse_split(struct loader *ld, struct csv_parser *p, int fd,
                       off_t *pos, off_t size, char *buf, int *done)
{
    *done = 0;
    off_t mid = *pos > size / 2 ? *pos : size / 2;
    off_t split = line_after(fd, mid, size, buf);
    if (split <= *pos || split >= size)
        return ORR_OK;
    struct part pt = {.ld = {.display = ld->display, .opt = ld->opt,
                             .record = 1},
                      .fd = fd, .from = split, .to = size};
    pt.ld.e = &pt.e;
    pt.buf = malloc(CHUNK);
    pthread_t th;
    if (!pt.buf || clone_header(&pt.ld, ld) ||
        pthread_create(&th, NULL, part_main, &pt)) {
        free(pt.buf);
        loader_reset(&pt.ld);
        return ORR_OK;                  /* one thread then */
    }
    read_range(ld, p, fd, pos, split, 0, buf);
    pthread_join(th, NULL);
    free(pt.buf);
    /* The guess holds iff our parser stands between records there. */
    if (!ld->err && p->pstate == 0 && !p->quoted && p->entry_pos == 0) {
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
        }
        *done = 1;
    }
    loader_reset(&pt.ld);
    return ld->err;
}

static int parse_file(struct loader *ld, const char *path, char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return orr_fail(ld->e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "cannot open %s: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_OPTIONS)) {
        close(fd);
        return orr_fail(ld->e, ORR_ENOMEM, "out of memory");
    }
    struct stat st;
    off_t pos = 0;
    int done = 0;
    last_split = 0;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
        (size_t)st.st_size >= parallel_min &&
        sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        /* The header first (the second part needs the columns), in
         * pieces small enough to leave a second part in small files. */
        off_t before = -1, piece = st.st_size / 8 + 1;
        if (piece > (off_t)CHUNK)
            piece = (off_t)CHUNK;
        while (!ld->err && !ld->header_done && pos < st.st_size &&
               pos != before) {
            before = pos;
            read_range(ld, &p, fd, &pos, pos + piece, 0, buf);
        }
        if (!ld->err && ld->header_done)
            parse_split(ld, &p, fd, &pos, st.st_size, buf, &done);
    }
    last_split = done;
    if (!done)
        read_range(ld, &p, fd, &pos, -1, 0, buf);
    finish(ld, &p);
    csv_free(&p);
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
static int build(struct loader *ld, struct orr_dataset **out,
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
    for (size_t i = 0; i < nc; i++) {
        struct bcol *c = &ld->cols[i];
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
    struct loader ld = {
        .display = opt->display ? opt->display : slash ? slash + 1 : path,
        .opt = opt,
        .e = e,
        .record = 1,
    };
    char *buf = malloc(CHUNK);
    if (!buf)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    int rc = parse_file(&ld, path, buf);
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
            rc = parse_file(&ld, path, buf);
        }
    }
    free(buf);
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
