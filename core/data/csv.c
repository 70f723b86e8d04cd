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
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

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
};

static const double P10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* Parse a plain decimal number ([+-]digits[.digits][(e|E)[+-]digits]).
 * Short mantissas with small exponents are converted exactly (Clinger's
 * fast path: both operands are exact doubles, so one rounding); anything
 * else goes through strtod.  `s` is NUL-terminated. */
static int parse_number(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int digits = 0, frac = 0, any = 0, big = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (m || *p != '0')
            digits++;
        if (digits <= 19)
            m = m * 10 + (uint64_t)(*p - '0');
        else
            big = 1;
        p++;
        any = 1;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (m || *p != '0')
                digits++;
            if (digits <= 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                frac++;
            } else {
                big = 1;
            }
            p++;
            any = 1;
        }
    }
    if (!any)
        return 0;
    long ex = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, edig = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        while (p < end && *p >= '0' && *p <= '9') {
            if (ex < 100000)
                ex = ex * 10 + (*p - '0');
            p++;
            edig = 1;
        }
        if (!edig)
            return 0;
        if (eneg)
            ex = -ex;
    }
    if (p != end)
        return 0;
    long e10 = ex - frac;
    if (!big && m < ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / P10[-e10] : d * P10[e10];
        *out = neg ? -d : d;
        return 1;
    }
    errno = 0;
    *out = strtod(s, NULL);
    return 1;
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

static int fail_at(struct loader *ld, int code, const char *col,
                   const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (col)
        orr_fail(ld->e, code, "%s:%zu: column '%s': %s", ld->display,
                 ld->record, col, what);
    else
        orr_fail(ld->e, code, "%s:%zu: %s", ld->display, ld->record, what);
    ld->err = code;
    return code;
}

static int oom(struct loader *ld)
{
    orr_fail(ld->e, ORR_ENOMEM, "%s: out of memory", ld->display);
    ld->err = ORR_ENOMEM;
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

static int grow(struct loader *ld)
{
    size_t cap = ld->cap ? ld->cap * 2 : 1024;
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
            orr_fail(ld->e, ORR_EINVAL, "%s: no column '%s'%s", ld->display,
                     w, k == 0 ? " (the target)" : "");
            ld->err = ORR_EINVAL;
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
        if (parse_number(s, len, &d)) {
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

static int parse_file(struct loader *ld, const char *path, char *buf)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return orr_fail(ld->e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "cannot open %s: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) {
        fclose(f);
        return orr_fail(ld->e, ORR_ENOMEM, "out of memory");
    }
    int rc = ORR_OK;
    size_t n;
    while (!ld->err && (n = fread(buf, 1, CHUNK, f)) > 0) {
        if (csv_parse(&p, buf, n, cb_field, cb_row, ld) != n && !ld->err) {
            rc = fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                         csv_strerror(csv_error(&p)));
            break;
        }
    }
    if (!ld->err && !rc && ferror(f))
        rc = orr_fail(ld->e, ORR_EIO, "read %s: %s", path, strerror(errno));
    if (!ld->err && !rc && csv_fini(&p, cb_field, cb_row, ld) && !ld->err)
        rc = fail_at(ld, ORR_EINVAL, NULL, "malformed CSV: %s",
                     csv_strerror(csv_error(&p)));
    csv_free(&p);
    fclose(f);
    if (ld->err)
        return ld->err;
    if (rc)
        return rc;
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
            if (ld.cols[i].force_cat && ld.cols[i].kind != K_CAT) {
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
